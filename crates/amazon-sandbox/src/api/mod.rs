//! The sandbox's HTTP surface: Login with Amazon at `/auth/o2/token`; the SP-API operations
//! behind one gate (token, role, restricted data token scope, usage plan, faults, request
//! log); and the control API under `/_sandbox`.

pub mod control;
pub mod errors;
pub mod listings;
pub mod lwa;
pub mod orders_2026;
pub mod orders_v0;
pub mod render;
pub mod tokens;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;

use crate::auth::{Grant, RestrictedResource, TokenProblem};
use crate::faults::{FaultKind, FaultRule};
use crate::log::RequestRecord;
use crate::ratelimit::{header_value, Operation};
use crate::state::SandboxState;

/// Shared state as handlers see it.
pub type AppState = Arc<SandboxState>;

/// Header names.
pub mod headers {
    pub const ACCESS_TOKEN: &str = "x-amz-access-token";
    pub const RATE_LIMIT: &str = "x-amzn-ratelimit-limit";
    pub const REQUEST_ID: &str = "x-amzn-requestid";
}

/// Who is calling, put in the request's extensions by the gate.
#[derive(Debug, Clone)]
pub struct Caller {
    pub profile: String,
    pub client_id: String,
    /// The personal data the token opens for this request: `buyerInfo`, `shippingAddress`,
    /// `buyerTaxInformation` (empty for an LWA access token).
    pub data_elements: BTreeSet<String>,
    /// Whether the token is a restricted data token covering this request.
    pub restricted: bool,
}

impl Caller {
    pub fn may_read(&self, element: &str) -> bool {
        self.data_elements.contains(element)
    }
}

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let sp_api = Router::new()
        .route("/orders/v0/orders", get(orders_v0::get_orders))
        .route("/orders/v0/orders/{orderId}", get(orders_v0::get_order))
        .route(
            "/orders/v0/orders/{orderId}/orderItems",
            get(orders_v0::get_order_items),
        )
        .route(
            "/orders/v0/orders/{orderId}/address",
            get(orders_v0::get_order_address),
        )
        .route(
            "/orders/v0/orders/{orderId}/buyerInfo",
            get(orders_v0::get_order_buyer_info),
        )
        .route(
            "/orders/v0/orders/{orderId}/shipmentConfirmation",
            post(orders_v0::confirm_shipment),
        )
        .route("/orders/2026-01-01/orders", get(orders_2026::search_orders))
        .route(
            "/orders/2026-01-01/orders/{orderId}",
            get(orders_2026::get_order),
        )
        .route(
            "/tokens/2021-03-01/restrictedDataToken",
            post(tokens::create_restricted_data_token),
        )
        .route(
            "/listings/2021-08-01/items/{sellerId}/{sku}",
            get(listings::get_listings_item).patch(listings::patch_listings_item),
        )
        .fallback(unknown_path)
        // `layer`, not `route_layer`: unknown paths also need a valid token first.
        .layer(middleware::from_fn_with_state(state.clone(), gate));
    Router::new()
        .route("/auth/o2/token", post(lwa::create_token))
        .nest("/_sandbox", control::routes())
        .merge(sp_api)
        .layer(middleware::map_response_with_state(
            state.clone(),
            stamp_date,
        ))
        .with_state(state)
}

/// Every answer carries the sandbox clock's time in `Date`, as Amazon's carry Amazon's: a
/// client that needs the channel's "now" (the two-minute rule is relative to it) reads it
/// there, and a test that advances the clock moves it too.
async fn stamp_date(State(state): State<AppState>, mut response: Response) -> Response {
    let date = state
        .clock
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(value) = HeaderValue::from_str(&date) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

async fn unknown_path() -> Response {
    errors::not_found("The requested resource was not found.")
}

/// Every SP-API request passes here: token, role, restricted scope, usage plan, faults, the
/// handler, then the log.
async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let operation = route
        .as_deref()
        .and_then(|route| Operation::of_route(&method, route));
    let now = state.clock.now();
    let token = request
        .headers()
        .get(headers::ACCESS_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let checked = state.tokens.lock().check(token.as_deref(), now).cloned();

    let mut logged = Logged {
        state: state.clone(),
        record: RequestRecord {
            seq: 0,
            at_ms: now.timestamp_millis(),
            method: method.clone(),
            path: path.clone(),
            query,
            operation: operation.map(|op| op.name().to_string()),
            status: CLIENT_GAVE_UP,
            profile: checked.as_ref().ok().map(|t| t.profile.clone()),
            fault: None,
        },
    };
    let mut rate_header = None;

    let response = 'answer: {
        let issued = match checked {
            Ok(issued) => issued,
            Err(TokenProblem::Missing) => break 'answer errors::unauthorized(""),
            Err(TokenProblem::Unknown) => {
                break 'answer errors::unauthorized(errors::TOKEN_INVALID)
            }
            Err(TokenProblem::Expired) => {
                break 'answer errors::unauthorized(errors::TOKEN_EXPIRED)
            }
        };
        let Some(operation) = operation else {
            // An unknown path (404) or a method the path lacks (405), in Amazon's error JSON.
            break 'answer json_rejection(next.run(request).await);
        };
        let Some(app) = state.app(&issued.profile) else {
            break 'answer errors::unauthorized(errors::TOKEN_INVALID);
        };
        if !app.roles.contains(&operation.role()) {
            break 'answer errors::unauthorized("");
        }
        let (restricted, data_elements) = match &issued.grant {
            Grant::Access => (false, BTreeSet::new()),
            Grant::Restricted(resources) => {
                let covering: Vec<&RestrictedResource> = resources
                    .iter()
                    .filter(|r| r.covers(&method, &path))
                    .collect();
                if covering.is_empty() {
                    break 'answer errors::unauthorized("");
                }
                let elements = covering
                    .iter()
                    .flat_map(|r| r.data_elements.iter().cloned())
                    .collect();
                (true, elements)
            }
        };
        if operation.restricted_only() && !restricted {
            break 'answer errors::unauthorized("");
        }
        let decision =
            state
                .limiter
                .lock()
                .take(&app.client_id, operation, state.clock.now_precise());
        rate_header = Some(header_value(decision.rate));
        if !decision.allowed {
            break 'answer errors::quota_exceeded();
        }
        request.extensions_mut().insert(Caller {
            profile: app.profile.clone(),
            client_id: app.client_id.clone(),
            data_elements,
            restricted,
        });
        let before = state.faults.lock().pick(&method, &path, false);
        if let Some(rule) = &before {
            logged.record.fault = Some(format!("{:?}", rule.kind));
            match rule.kind {
                FaultKind::Latency => {
                    tokio::time::sleep(Duration::from_millis(rule.latency_ms.unwrap_or(100))).await;
                }
                FaultKind::LateApply => {
                    // The answer now, the change later.
                    let delay = Duration::from_millis(rule.latency_ms.unwrap_or(800));
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = next.run(request).await;
                    });
                    break 'answer errors::service_unavailable();
                }
                _ => break 'answer fault_response(rule).await,
            }
        }
        let response = json_rejection(next.run(request).await);
        let after = state.faults.lock().pick(&method, &path, true);
        match after {
            Some(rule) => {
                logged.record.fault = Some(format!("{:?} after effect", rule.kind));
                if rule.kind == FaultKind::Latency {
                    tokio::time::sleep(Duration::from_millis(rule.latency_ms.unwrap_or(100))).await;
                    response
                } else {
                    fault_response(&rule).await
                }
            }
            None => response,
        }
    };

    let mut response = response;
    let headers = response.headers_mut();
    if let Some(rate) = rate_header {
        if let Ok(value) = HeaderValue::from_str(&rate) {
            headers.insert(headers::RATE_LIMIT, value);
        }
    }
    let request_id = format!("{:016x}", rand::random::<u64>());
    headers.insert(
        headers::REQUEST_ID,
        HeaderValue::from_str(&request_id).expect("hex"),
    );
    logged.record.status = response.status().as_u16();
    response
}

/// The status logged for a request whose client went away before the answer (nginx's 499).
const CLIENT_GAVE_UP: u16 = 499;

/// A request's log entry, written when the request ends however it ends: a client that gives
/// up on a hung request drops the handler mid-way, and its entry is still kept (status 499).
struct Logged {
    state: AppState,
    record: RequestRecord,
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.state.log.lock().push(self.record.clone());
    }
}

/// Every handler answers JSON; a rejection of axum's own (a body that is not JSON, a path that
/// does not parse) becomes Amazon's 400 `InvalidInput` instead of plain text.
fn json_rejection(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => errors::error(
            status,
            "MethodNotAllowed",
            "The method is not allowed on this resource.",
            "",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => errors::error(
            status,
            "UnsupportedMediaType",
            "The request body must be application/json.",
            "",
        ),
        _ => errors::invalid_input("The request is malformed and cannot be parsed."),
    }
}

/// The answer a fault gives instead of the real one.
async fn fault_response(rule: &FaultRule) -> Response {
    match rule.kind {
        FaultKind::Error500 => errors::internal_failure(),
        FaultKind::Error503 | FaultKind::LateApply => errors::service_unavailable(),
        FaultKind::QuotaExceeded => errors::quota_exceeded(),
        FaultKind::Latency => StatusCode::NO_CONTENT.into_response(),
        FaultKind::Hang => {
            tokio::time::sleep(Duration::from_millis(rule.latency_ms.unwrap_or(60_000))).await;
            dropped_connection()
        }
        FaultKind::Reset => dropped_connection(),
    }
}

/// A body that fails before its first byte makes the server drop the connection.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection reset",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::from_stream(stream))
        .expect("static response")
}

/// A JSON response of a serializable value.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response::builder()
            .status(status)
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("static response"),
        Err(_) => errors::internal_failure(),
    }
}

/// The query string as Amazon reads it: `name=a,b` and `name=a&name=b` both give `[a, b]`
/// for list parameters.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// A single-valued parameter (the last one given; empty counts as absent).
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A list parameter.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Seals a pagination state into an opaque token: the state's JSON and a MAC, base64url.
pub fn seal<T: Serialize>(key: &[u8; 32], value: &T) -> String {
    let body = serde_json::to_vec(value).expect("token state serializes");
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(&body);
    let tag = mac.finalize().into_bytes();
    let mut all = tag[..16].to_vec();
    all.extend_from_slice(&body);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(all)
}

/// Opens a token [`seal`] made; `None` for anything else.
pub fn open<T: DeserializeOwned>(key: &[u8; 32], token: &str) -> Option<T> {
    let all = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()?;
    if all.len() < 16 {
        return None;
    }
    let (tag, body) = all.split_at(16);
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    mac.update(body);
    mac.verify_truncated_left(tag).ok()?;
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_and_resist_edits() {
        let key = [7u8; 32];
        let token = seal(&key, &("a", 3));
        assert_eq!(open::<(String, u32)>(&key, &token), Some(("a".into(), 3)));
        let mut edited = token.clone().into_bytes();
        let last = edited.len() - 2;
        edited[last] = if edited[last] == b'A' { b'B' } else { b'A' };
        assert!(open::<(String, u32)>(&key, &String::from_utf8(edited).unwrap()).is_none());
        assert!(open::<(String, u32)>(&[8u8; 32], &token).is_none());
        assert!(open::<(String, u32)>(&key, "garbage!").is_none());
    }

    #[test]
    fn list_parameters_take_commas_and_repeats() {
        let params = Params::parse(Some("M=a,b&M=c&X=&Y=1"));
        assert_eq!(params.list("M"), vec!["a", "b", "c"]);
        assert_eq!(params.one("X"), None);
        assert_eq!(params.one("Y"), Some("1"));
    }
}
