//! Tokens API: `POST /tokens/2021-03-01/restrictedDataToken`. The app (which must hold the
//! restricted role: the gate checks) names up to 50 restricted resources, each a method, a
//! path (a concrete order, or `{orderId}` for any) and, for `getOrders`, `getOrder` and
//! `getOrderItems`, the personal data wanted (`buyerInfo`, `shippingAddress`,
//! `buyerTaxInformation`). The token it gets back is used as `x-amz-access-token` on those
//! resources only, and opens their personal data.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{errors, json, AppState, Caller};
use crate::auth::RestrictedResource;

/// The restricted operations the sandbox serves: method, path pattern, whether data elements
/// are required.
const RESTRICTED: [(&str, &str, bool); 5] = [
    ("GET", "/orders/v0/orders", true),
    ("GET", "/orders/v0/orders/{orderId}", true),
    ("GET", "/orders/v0/orders/{orderId}/orderItems", true),
    ("GET", "/orders/v0/orders/{orderId}/address", false),
    ("GET", "/orders/v0/orders/{orderId}/buyerInfo", false),
];

/// The data elements Amazon knows.
const DATA_ELEMENTS: [&str; 3] = ["buyerInfo", "shippingAddress", "buyerTaxInformation"];

/// The 2026-01-01 Orders API paths a token may also name (their `buyer` and `recipient`).
const RESTRICTED_2026: [&str; 2] = [
    "/orders/2026-01-01/orders",
    "/orders/2026-01-01/orders/{orderId}",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRestrictedDataTokenRequest {
    /// Delegation to another app: accepted and ignored (the token is the caller's).
    #[serde(default)]
    pub target_application: Option<String>,
    pub restricted_resources: Option<Vec<Value>>,
}

fn invalid(details: &str) -> Response {
    errors::error(
        StatusCode::BAD_REQUEST,
        "InvalidInput",
        "Request is missing or has invalid parameters",
        details,
    )
}

/// Which restricted operation a resource names, by its path's shape.
fn restricted_kind(method: &str, path: &str) -> Option<bool> {
    let probe = RestrictedResource {
        method: method.to_string(),
        path: path.to_string(),
        data_elements: Vec::new(),
    };
    let same_shape = |pattern: &str| {
        // A resource matches an operation when each of the pattern's literal segments is
        // there; the resource may name a concrete order or keep `{orderId}`.
        let pattern_resource = RestrictedResource {
            method: "GET".to_string(),
            path: pattern.to_string(),
            data_elements: Vec::new(),
        };
        pattern_resource.covers(&probe.method, &probe.path)
    };
    RESTRICTED
        .iter()
        .find(|(m, pattern, _)| *m == method && same_shape(pattern))
        .map(|(_, _, needs_elements)| *needs_elements)
        .or_else(|| {
            RESTRICTED_2026
                .iter()
                .any(|pattern| method == "GET" && same_shape(pattern))
                .then_some(true)
        })
}

pub async fn create_restricted_data_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateRestrictedDataTokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return invalid("The request body is not a valid createRestrictedDataToken request.");
    };
    if caller.restricted {
        return errors::unauthorized("");
    }
    let Some(resources) = body.restricted_resources.filter(|r| !r.is_empty()) else {
        return invalid("Resource not provided.");
    };
    if resources.len() > 50 {
        return invalid("At most 50 restricted resources can be requested.");
    }
    let mut granted = Vec::new();
    for value in resources {
        let Ok(resource) = serde_json::from_value::<RestrictedResource>(value) else {
            return invalid("Each restricted resource needs a method and a path.");
        };
        if !["GET", "PUT", "POST", "DELETE"].contains(&resource.method.as_str()) {
            return invalid(&format!("Invalid method '{}'.", resource.method));
        }
        let Some(needs_elements) = restricted_kind(&resource.method, &resource.path) else {
            return invalid(&format!(
                "{} {} is not a restricted resource.",
                resource.method, resource.path
            ));
        };
        if let Some(unknown) = resource
            .data_elements
            .iter()
            .find(|e| !DATA_ELEMENTS.contains(&e.as_str()))
        {
            return invalid(&format!("Invalid dataElements value '{unknown}'."));
        }
        if needs_elements && resource.data_elements.is_empty() {
            return invalid(&format!(
                "dataElements is required for {} {}.",
                resource.method, resource.path
            ));
        }
        granted.push(resource);
    }
    let lifetime = state.config.restricted_token_lifetime_secs;
    let token = state.tokens.lock().issue_restricted(
        &caller.profile,
        granted,
        state.clock.now(),
        chrono::Duration::seconds(lifetime as i64),
    );
    json(
        StatusCode::OK,
        &json!({"restrictedDataToken": token, "expiresIn": lifetime}),
    )
}
