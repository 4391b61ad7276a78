//! Webhooks v3 (`webhooks.v3.yml`): create, list, read, update and delete hooks.
//!
//! Hooks belong to the API account that created them: "Webhooks created with one token are not
//! visible when you retrieve webhooks using a different token". Listing shows only the caller's
//! hooks and another account's hook id answers `404`, as if it did not exist. Any valid token
//! may manage its hooks (the default scope).
//!
//! Validation follows the spec and the webhooks guide: `scope` must be a documented scope
//! ([`KNOWN_SCOPES`]), `destination` an `https` URL on port 443, `headers` an object of strings;
//! one hook per (client, scope, destination) and at most 10 per (client, scope), each refused
//! with `422`.
//!
//! Deviation: the sandbox also accepts `http://` destinations on a loopback host
//! (`127.0.0.1`, `localhost`, `[::1]`) on any port, because tests receive callbacks on a local
//! plain-HTTP server bound to port 0. BigCommerce would refuse them.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Map, Value};

use super::errors::v3_error;
use super::v3_catalog::{unprocessable, PageRequest, MAX_LIMIT};
use super::{json, AppState, Caller};
use crate::model::Hook;

/// Every scope the webhooks guide (`integrations__webhooks__events__index.mdx`) and the spec
/// list. Trailing slashes of the price-list scopes are dropped; they are matched without them.
pub const KNOWN_SCOPES: &[&str] = &[
    "store/app/uninstalled",
    "store/brand/metafield/*",
    "store/brand/metafield/created",
    "store/brand/metafield/updated",
    "store/brand/metafield/deleted",
    "store/cart/*",
    "store/cart/created",
    "store/cart/updated",
    "store/cart/deleted",
    "store/cart/couponApplied",
    "store/cart/abandoned",
    "store/cart/converted",
    "store/cart/lineItem/*",
    "store/cart/lineItem/created",
    "store/cart/lineItem/updated",
    "store/cart/lineItem/deleted",
    "store/cart/metafield/created",
    "store/cart/metafield/updated",
    "store/cart/metafield/deleted",
    "store/category/*",
    "store/category/created",
    "store/category/updated",
    "store/category/deleted",
    "store/category/metafield/created",
    "store/category/metafield/updated",
    "store/category/metafield/deleted",
    "store/channel/*",
    "store/channel/created",
    "store/channel/updated",
    "store/customer/*",
    "store/customer/created",
    "store/customer/updated",
    "store/customer/deleted",
    "store/customer/address/*",
    "store/customer/address/created",
    "store/customer/address/updated",
    "store/customer/address/deleted",
    "store/customer/payment/instrument/default/updated",
    "store/hook/deliveryException",
    "store/information/updated",
    "store/inventory/location/metafield/*",
    "store/inventory/location/metafield/created",
    "store/inventory/location/metafield/updated",
    "store/inventory/location/metafield/deleted",
    "store/metafield/*",
    "store/metafield/created",
    "store/metafield/updated",
    "store/metafield/deleted",
    "store/modifier/updated",
    "store/option/updated",
    "store/order/*",
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/statusUpdated",
    "store/order/message/created",
    "store/order/refund/created",
    "store/order/transaction/created",
    "store/order/transaction/updated",
    "store/order/metafield/created",
    "store/order/metafield/updated",
    "store/order/metafield/deleted",
    "store/priceList/created",
    "store/priceList/updated",
    "store/priceList/activated",
    "store/priceList/deactivated",
    "store/priceList/deleted",
    "store/priceLists/deleted",
    "store/priceList/record/created",
    "store/priceList/record/updated",
    "store/priceList/record/deleted",
    "store/priceList/records/*",
    "store/priceList/records/created",
    "store/priceList/records/updated",
    "store/priceList/records/deleted",
    "store/priceList/assignment/updated",
    "store/priceList/assignment/deleted",
    "store/product/*",
    "store/product/created",
    "store/product/updated",
    "store/product/deleted",
    "store/product/inventory/updated",
    "store/product/inventory/order/updated",
    "store/product/metafield/*",
    "store/product/metafield/created",
    "store/product/metafield/updated",
    "store/product/metafield/deleted",
    "store/product/variant/metafield/*",
    "store/product/variant/metafield/created",
    "store/product/variant/metafield/updated",
    "store/product/variant/metafield/deleted",
    "store/shipment/*",
    "store/shipment/created",
    "store/shipment/updated",
    "store/shipment/deleted",
    "store/sku/*",
    "store/sku/created",
    "store/sku/updated",
    "store/sku/deleted",
    "store/sku/inventory/updated",
    "store/sku/inventory/order/updated",
    "store/subscriber/*",
    "store/subscriber/created",
    "store/subscriber/updated",
    "store/subscriber/deleted",
];

/// At most this many hooks per (store, client id, scope), per the guide's platform limits.
pub const MAX_HOOKS_PER_SCOPE: usize = 10;

const TITLE_INVALID: &str = "JSON data is missing or invalid";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v3/hooks", get(list_hooks).post(create_hook))
        .route(
            "/v3/hooks/{webhook_id}",
            get(get_hook).put(update_hook).delete(delete_hook),
        )
}

/// Whether `scope` is a documented webhook scope (a trailing slash is tolerated).
pub fn is_known_scope(scope: &str) -> bool {
    KNOWN_SCOPES.contains(&scope.trim_end_matches('/'))
}

/// Why a destination is refused, if it is.
fn destination_problem(destination: &str) -> Option<String> {
    let Some((scheme, rest)) = destination.split_once("://") else {
        return Some("destination must be an absolute https URL.".to_string());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
        (format!("[{host}]"), after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Some("destination must name a host.".to_string());
    }
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    match scheme.to_ascii_lowercase().as_str() {
        // Sandbox deviation: plain HTTP to a local test receiver, on any port.
        "http" if loopback => None,
        "https" if loopback => None,
        "https" => match port {
            None | Some("443") => None,
            Some(_) => Some(
                "destination must be served on port 443; custom ports are not supported."
                    .to_string(),
            ),
        },
        _ => Some("destination must be an https URL.".to_string()),
    }
}

fn render(hook: &Hook, store_hash: &str) -> Value {
    json!({
        "id": hook.id,
        "client_id": hook.client_id,
        "store_hash": store_hash,
        "scope": hook.scope,
        "destination": hook.destination,
        "headers": hook.headers,
        "is_active": hook.is_active,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    })
}

fn hook_not_found(id: &str) -> Response {
    v3_error(
        StatusCode::NOT_FOUND,
        &format!("Webhook with id [{id}] not found"),
        Map::new(),
    )
}

fn store_not_found() -> Response {
    v3_error(
        StatusCode::NOT_FOUND,
        "The store was not found.",
        Map::new(),
    )
}

/// The fields of a create or update body, checked for type.
#[derive(Debug, Default)]
struct HookFields {
    scope: Option<String>,
    destination: Option<String>,
    is_active: Option<bool>,
    /// `Some(None)` clears the headers (`"headers": null`).
    headers: Option<Option<BTreeMap<String, String>>>,
}

fn parse_fields(body: &Bytes) -> Result<HookFields, Response> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| v3_error(StatusCode::BAD_REQUEST, "Input is invalid.", Map::new()))?;
    let Value::Object(object) = value else {
        return Err(unprocessable(
            TITLE_INVALID,
            "body",
            "The body must be a JSON object.",
        ));
    };
    let mut fields = HookFields::default();
    let mut errors = Map::new();
    match object.get("scope") {
        None => {}
        Some(Value::String(scope)) if is_known_scope(scope) => fields.scope = Some(scope.clone()),
        Some(Value::String(scope)) => {
            errors.insert(
                "scope".into(),
                json!(format!(
                    "'{scope}' is not a webhook scope; see the list of webhook events."
                )),
            );
        }
        Some(_) => {
            errors.insert("scope".into(), json!("scope must be a string."));
        }
    }
    match object.get("destination") {
        None => {}
        Some(Value::String(destination)) => match destination_problem(destination) {
            None => fields.destination = Some(destination.clone()),
            Some(problem) => {
                errors.insert("destination".into(), json!(problem));
            }
        },
        Some(_) => {
            errors.insert("destination".into(), json!("destination must be a string."));
        }
    }
    match object.get("is_active") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(active)) => fields.is_active = Some(*active),
        Some(_) => {
            errors.insert("is_active".into(), json!("is_active must be a boolean."));
        }
    }
    match object.get("headers") {
        None => {}
        Some(Value::Null) => fields.headers = Some(None),
        Some(Value::Object(map)) => {
            let mut headers = BTreeMap::new();
            for (name, value) in map {
                let valid_name = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                match value.as_str() {
                    Some(text) if valid_name => {
                        headers.insert(name.clone(), text.to_string());
                    }
                    _ => {
                        errors.insert(
                            format!("headers.{name}"),
                            json!("each header needs a token name and a string value."),
                        );
                    }
                }
            }
            fields.headers = Some(Some(headers));
        }
        Some(_) => {
            errors.insert(
                "headers".into(),
                json!("headers must be an object of strings."),
            );
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(v3_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            TITLE_INVALID,
            errors,
        ))
    }
}

/// The guide's platform limits, checked among the caller's hooks other than `except`.
fn limit_problem(
    hooks: &BTreeMap<u64, Hook>,
    client_id: &str,
    scope: &str,
    destination: &str,
    except: Option<u64>,
) -> Option<(&'static str, String)> {
    let same_scope: Vec<&Hook> = hooks
        .values()
        .filter(|h| h.client_id == client_id && h.scope == scope && Some(h.id) != except)
        .collect();
    if same_scope.iter().any(|h| h.destination == destination) {
        return Some((
            "destination",
            "A webhook for this scope and destination already exists.".to_string(),
        ));
    }
    if same_scope.len() >= MAX_HOOKS_PER_SCOPE {
        return Some((
            "scope",
            format!("At most {MAX_HOOKS_PER_SCOPE} webhooks per scope are allowed."),
        ));
    }
    None
}

async fn list_hooks(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(store) = state.store(&hash) else {
        return store_not_found();
    };
    let is_active = match params.get("is_active").map(|v| v.trim()) {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => {
            return unprocessable(
                "The filter 'is_active' is not valid.",
                "is_active",
                "is_active must be true or false.",
            )
        }
    };
    let scope = params.get("scope");
    let destination = params.get("destination");
    let page = PageRequest::from_params(&params, MAX_LIMIT);
    let body = {
        let data = store.data.read();
        let hooks: Vec<&Hook> = data
            .hooks
            .values()
            .filter(|h| h.client_id == caller.client_id)
            .filter(|h| is_active.is_none_or(|active| h.is_active == active))
            .filter(|h| scope.is_none_or(|s| &h.scope == s))
            .filter(|h| destination.is_none_or(|d| &h.destination == d))
            .collect();
        let items: Vec<Value> = page
            .slice(&hooks)
            .iter()
            .map(|h| render(h, &data.hash))
            .collect();
        let meta = page.pagination(hooks.len(), items.len(), raw.as_deref());
        json!({"data": items, "meta": {"pagination": meta}})
    };
    json(StatusCode::OK, &body)
}

async fn create_hook(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let Some(store) = state.store(&hash) else {
        return store_not_found();
    };
    let fields = match parse_fields(&body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let mut missing = Map::new();
    for (name, present) in [
        ("scope", fields.scope.is_some()),
        ("destination", fields.destination.is_some()),
    ] {
        if !present {
            missing.insert(name.into(), json!("error.path.missing"));
        }
    }
    let (Some(scope), Some(destination)) = (fields.scope, fields.destination) else {
        return v3_error(StatusCode::UNPROCESSABLE_ENTITY, TITLE_INVALID, missing);
    };
    let mut data = store.data.write();
    if let Some((field, problem)) =
        limit_problem(&data.hooks, &caller.client_id, &scope, &destination, None)
    {
        return unprocessable(TITLE_INVALID, field, &problem);
    }
    let hook = data.create_hook(Hook {
        id: 0,
        client_id: caller.client_id.clone(),
        scope,
        destination,
        is_active: fields.is_active.unwrap_or(true),
        headers: fields.headers.flatten(),
        created_at: 0,
        updated_at: 0,
    });
    let body = json!({"data": render(&hook, &data.hash), "meta": {}});
    drop(data);
    json(StatusCode::OK, &body)
}

/// The caller's hook with this id; another account's hook is not found.
fn own_hook<'a>(hooks: &'a BTreeMap<u64, Hook>, caller: &Caller, id: &str) -> Option<&'a Hook> {
    id.parse::<u64>()
        .ok()
        .and_then(|id| hooks.get(&id))
        .filter(|h| h.client_id == caller.client_id)
}

async fn get_hook(
    State(state): State<AppState>,
    Path((hash, webhook_id)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let Some(store) = state.store(&hash) else {
        return store_not_found();
    };
    let data = store.data.read();
    match own_hook(&data.hooks, &caller, &webhook_id) {
        Some(hook) => json(
            StatusCode::OK,
            &json!({"data": render(hook, &data.hash), "meta": {}}),
        ),
        None => hook_not_found(&webhook_id),
    }
}

async fn update_hook(
    State(state): State<AppState>,
    Path((hash, webhook_id)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let Some(store) = state.store(&hash) else {
        return store_not_found();
    };
    let fields = match parse_fields(&body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if fields.scope.is_none()
        && fields.destination.is_none()
        && fields.is_active.is_none()
        && fields.headers.is_none()
    {
        return unprocessable(
            TITLE_INVALID,
            "body",
            "At least one field is required to update a webhook.",
        );
    }
    let mut data = store.data.write();
    let Some(current) = own_hook(&data.hooks, &caller, &webhook_id).cloned() else {
        return hook_not_found(&webhook_id);
    };
    let scope = fields.scope.unwrap_or(current.scope.clone());
    let destination = fields.destination.unwrap_or(current.destination.clone());
    if let Some((field, problem)) = limit_problem(
        &data.hooks,
        &caller.client_id,
        &scope,
        &destination,
        Some(current.id),
    ) {
        return unprocessable(TITLE_INVALID, field, &problem);
    }
    let store_hash = data.hash.clone();
    let hook = data.hooks.get_mut(&current.id).expect("found above");
    hook.scope = scope;
    hook.destination = destination;
    if let Some(active) = fields.is_active {
        hook.is_active = active;
    }
    if let Some(headers) = fields.headers {
        hook.headers = headers;
    }
    hook.updated_at = chrono::Utc::now().timestamp();
    let body = json!({"data": render(hook, &store_hash), "meta": {}});
    drop(data);
    json(StatusCode::OK, &body)
}

async fn delete_hook(
    State(state): State<AppState>,
    Path((hash, webhook_id)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let Some(store) = state.store(&hash) else {
        return store_not_found();
    };
    let mut data = store.data.write();
    let Some(id) = own_hook(&data.hooks, &caller, &webhook_id).map(|h| h.id) else {
        return hook_not_found(&webhook_id);
    };
    let hook = data.hooks.remove(&id).expect("found above");
    let body = json!({"data": render(&hook, &data.hash), "meta": {}});
    drop(data);
    json(StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_must_be_https_on_443_except_loopback() {
        assert_eq!(destination_problem("https://example.com/hooks"), None);
        assert_eq!(destination_problem("https://example.com:443/hooks"), None);
        assert!(destination_problem("https://example.com:8443/hooks").is_some());
        assert!(destination_problem("http://example.com/hooks").is_some());
        assert!(destination_problem("ftp://example.com").is_some());
        assert!(destination_problem("example.com").is_some());
        assert_eq!(destination_problem("http://127.0.0.1:4567/cb"), None);
        assert_eq!(destination_problem("http://localhost:80/cb"), None);
        assert_eq!(destination_problem("http://[::1]:9000/cb"), None);
    }

    #[test]
    fn documented_scopes_are_known_and_others_are_not() {
        assert!(is_known_scope("store/order/*"));
        assert!(is_known_scope("store/sku/inventory/order/updated"));
        assert!(is_known_scope("store/priceList/updated/"));
        assert!(!is_known_scope("store/order/shipped"));
        assert!(!is_known_scope("store/*"));
    }
}
