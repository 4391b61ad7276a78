//! The sandbox's HTTP surface: BigCommerce's API under `/stores/{store_hash}/v2|v3` behind one
//! gate (quota, token, scope, faults, request log), and the control API under `/_sandbox`.

pub mod control;
pub mod errors;
pub mod render;
pub mod v2_orders;
pub mod v2_store;
pub mod v3_catalog;
pub mod v3_hooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;

use crate::faults::{FaultKind, FaultRule};
use crate::log::RequestRecord;
use crate::model::Scope;
use crate::ratelimit::RateStatus;
use crate::state::{SandboxState, StoreHandle};

pub use errors::ApiVersion;

/// Shared state as handlers see it.
pub type AppState = Arc<SandboxState>;

/// Header names BigCommerce uses.
pub mod headers {
    pub const AUTH_TOKEN: &str = "x-auth-token";
    pub const RATE_WINDOW: &str = "x-rate-limit-time-window-ms";
    pub const RATE_RESET: &str = "x-rate-limit-time-reset-ms";
    pub const RATE_QUOTA: &str = "x-rate-limit-requests-quota";
    pub const RATE_LEFT: &str = "x-rate-limit-requests-left";
}

/// Who is calling: the API account behind the token, put in the request's extensions by the
/// gate for handlers that need it (webhooks belong to the account that created them).
#[derive(Debug, Clone)]
pub struct Caller {
    pub profile: String,
    pub client_id: String,
}

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(v2_store::routes())
        .merge(v2_orders::routes())
        .merge(v3_catalog::routes())
        .merge(v3_hooks::routes())
        .fallback(unknown_path)
        // `layer`, not `route_layer`: unknown paths also need a valid token, as at BigCommerce.
        .layer(middleware::from_fn_with_state(state.clone(), gate));
    Router::new()
        .nest("/stores/{store_hash}", api)
        .nest("/_sandbox", control::routes())
        .fallback(unknown_path)
        .with_state(state)
}

async fn unknown_path(OriginalUri(uri): OriginalUri) -> Response {
    let version = ApiVersion::of_path(uri.path());
    errors::error(
        version,
        StatusCode::NOT_FOUND,
        "The requested resource was not found.",
    )
}

/// What a request needs beyond a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Required {
    /// Any valid token (webhooks use the default scope).
    Nothing,
    /// One of these scopes.
    AnyOf(&'static [Scope]),
}

/// The scope BigCommerce checks for a request: read-only scopes cover GET and HEAD only.
fn required_scope(api_path: &str, method: &Method) -> Required {
    let read = method == Method::GET || method == Method::HEAD;
    if api_path.starts_with("/v2/orders") || api_path.starts_with("/v2/order_statuses") {
        if read {
            Required::AnyOf(&[Scope::StoreV2Orders, Scope::StoreV2OrdersReadOnly])
        } else {
            Required::AnyOf(&[Scope::StoreV2Orders])
        }
    } else if api_path.starts_with("/v3/catalog") {
        if read {
            Required::AnyOf(&[Scope::StoreV2Products, Scope::StoreV2ProductsReadOnly])
        } else {
            Required::AnyOf(&[Scope::StoreV2Products])
        }
    } else if api_path.starts_with("/v2/store") || api_path.starts_with("/v2/time") {
        if read {
            Required::AnyOf(&[Scope::StoreV2Information, Scope::StoreV2InformationReadOnly])
        } else {
            Required::AnyOf(&[Scope::StoreV2Information])
        }
    } else {
        Required::Nothing
    }
}

/// Every API request passes here: quota, token, scope, faults, then the handler, then the log.
async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // Inside `nest` the URI is stripped of `/stores/{store_hash}`; the original has it.
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| request.uri().clone());
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let version = ApiVersion::of_path(&path);
    let hash = path.split('/').nth(2).unwrap_or("").to_string();
    let api_path = path
        .strip_prefix("/stores/")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("")
        .to_string();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| {
            m.as_str()
                .trim_start_matches("/stores/{store_hash}")
                .to_string()
        })
        .unwrap_or_else(|| api_path.clone());
    let endpoint = format!("{method} {endpoint}");

    let Some(store) = state.store(&hash) else {
        return errors::error(
            version,
            StatusCode::NOT_FOUND,
            "Store not found: no store has this store hash.",
        );
    };

    let rate = store.rate.lock().take(Instant::now());
    let token = request
        .headers()
        .get(headers::AUTH_TOKEN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let caller = {
        let data = store.data.read();
        data.account_by_token(token).map(|account| {
            let allowed = match required_scope(&api_path, &method) {
                Required::Nothing => true,
                Required::AnyOf(scopes) => scopes.iter().any(|s| account.scopes.contains(s)),
            };
            (
                Caller {
                    profile: account.profile.clone(),
                    client_id: account.client_id.clone(),
                },
                allowed,
            )
        })
    };

    // If the client gives up (a hang fault, a timeout), the request is still logged, as 499.
    let mut pending = PendingLog {
        store: store.clone(),
        record: Some(RequestRecord {
            seq: 0,
            at_ms: chrono::Utc::now().timestamp_millis(),
            method: method.to_string(),
            path,
            query,
            endpoint,
            status: 499,
            profile: caller.as_ref().map(|(c, _)| c.profile.clone()),
            fault: None,
            duration_us: 0,
        }),
        started,
    };
    let mut fault_name = None;
    let mut send_rate_headers = true;
    let response = if rate.limited {
        errors::error(
            version,
            StatusCode::TOO_MANY_REQUESTS,
            "You have exceeded your request quota for this window. Wait for the window to reset (X-Rate-Limit-Time-Reset-Ms).",
        )
    } else {
        match &caller {
            None => errors::error(
                version,
                StatusCode::UNAUTHORIZED,
                "No valid credentials were found in this request.",
            ),
            Some((_, false)) => errors::error(
                version,
                StatusCode::FORBIDDEN,
                "You don't have a required scope to access the endpoint",
            ),
            Some((caller, true)) => {
                request.extensions_mut().insert(caller.clone());
                let before = store.faults.lock().pick(method.as_str(), &api_path, false);
                match before {
                    Some(rule) if rule.kind == FaultKind::LateApply => {
                        fault_name = Some("LateApply".to_string());
                        pending.set_fault(&fault_name);
                        late_apply(&rule, version, request, next).await
                    }
                    Some(rule) if rule.kind != FaultKind::Latency => {
                        fault_name = Some(format!("{:?}", rule.kind));
                        pending.set_fault(&fault_name);
                        send_rate_headers = rule.kind != FaultKind::TooManyRequestsNoHeaders;
                        fault_response(&rule, version, None).await
                    }
                    latency => {
                        if let Some(rule) = latency {
                            fault_name = Some("Latency".to_string());
                            tokio::time::sleep(Duration::from_millis(
                                rule.latency_ms.unwrap_or(100),
                            ))
                            .await;
                        }
                        let response = rejection_as_api_error(next.run(request).await, version);
                        let after = store.faults.lock().pick(method.as_str(), &api_path, true);
                        match after {
                            Some(rule) => {
                                fault_name = Some(format!("{:?} after effect", rule.kind));
                                pending.set_fault(&fault_name);
                                send_rate_headers =
                                    rule.kind != FaultKind::TooManyRequestsNoHeaders;
                                fault_response(&rule, version, Some(response)).await
                            }
                            None => response,
                        }
                    }
                }
            }
        }
    };

    let mut response = response;
    if send_rate_headers {
        add_rate_headers(response.headers_mut(), &rate);
    }
    pending.finish(response.status().as_u16(), fault_name);
    response
}

/// Every handler answers JSON, so a client error in any other shape is one of axum's own: a
/// path segment that is not a number (`/v2/orders/abc`, `/v2/orders/1/products/count`) or a
/// method the route lacks. BigCommerce routes ids by pattern, so the first matches no endpoint
/// there: 404, as an unknown path is. Either way the body is BigCommerce's error JSON, which
/// clients parse, never axum's plain text.
fn rejection_as_api_error(response: Response, version: ApiVersion) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    if status == StatusCode::BAD_REQUEST {
        return errors::error(
            version,
            StatusCode::NOT_FOUND,
            "The requested resource was not found.",
        );
    }
    let (mut parts, _) = response.into_parts();
    let (error_parts, body) = errors::error(
        version,
        status,
        status.canonical_reason().unwrap_or("Client error"),
    )
    .into_parts();
    // Keep the rejection's own headers (`Allow` on a 405) beside the JSON content type.
    parts.headers.extend(error_parts.headers);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

/// A request record that is written when the request ends, however it ends.
struct PendingLog {
    store: Arc<StoreHandle>,
    record: Option<RequestRecord>,
    started: Instant,
}

impl PendingLog {
    fn set_fault(&mut self, fault: &Option<String>) {
        if let Some(record) = self.record.as_mut() {
            record.fault = fault.clone();
        }
    }

    fn finish(&mut self, status: u16, fault: Option<String>) {
        if let Some(record) = self.record.as_mut() {
            record.status = status;
            record.fault = fault;
        }
    }
}

impl Drop for PendingLog {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.duration_us = self.started.elapsed().as_micros() as u64;
            self.store.log.lock().push(record);
        }
    }
}

fn add_rate_headers(headers: &mut HeaderMap, rate: &RateStatus) {
    let pairs = [
        (headers::RATE_WINDOW, rate.window_ms),
        (headers::RATE_RESET, rate.reset_ms),
        (headers::RATE_QUOTA, rate.quota),
        (headers::RATE_LEFT, rate.left),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// A `late_apply` fault: the whole request is read first (so nothing that happens to the
/// connection afterwards can stop it), a task applies it `apply_after_ms` after the answer, and
/// the client gets `504 Gateway Timeout` after `latency_ms`.
async fn late_apply(
    rule: &FaultRule,
    version: ApiVersion,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        // The body never fully arrived: there is nothing to apply.
        return errors::error(version, StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout");
    };
    let request = Request::from_parts(parts, Body::from(body));
    let answer_after = Duration::from_millis(rule.latency_ms.unwrap_or(0));
    let apply_after = rule.apply_after();
    tokio::spawn(async move {
        tokio::time::sleep(answer_after + apply_after).await;
        let _applied = next.run(request).await;
    });
    tokio::time::sleep(answer_after).await;
    errors::error(version, StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
}

/// The answer a fault gives instead of (or in place of) the real one.
async fn fault_response(rule: &FaultRule, version: ApiVersion, real: Option<Response>) -> Response {
    match rule.kind {
        FaultKind::Error500 => errors::error(
            version,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
        ),
        FaultKind::Error502 => errors::error(version, StatusCode::BAD_GATEWAY, "Bad Gateway"),
        FaultKind::Error503 => errors::error(
            version,
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
        ),
        FaultKind::TooManyRequests | FaultKind::TooManyRequestsNoHeaders => errors::error(
            version,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests: the platform is under high load. Retry later.",
        ),
        FaultKind::Latency => {
            tokio::time::sleep(Duration::from_millis(rule.latency_ms.unwrap_or(100))).await;
            real.unwrap_or_else(|| StatusCode::NO_CONTENT.into_response())
        }
        FaultKind::LateApply => {
            errors::error(version, StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
        }
        FaultKind::Hang => {
            tokio::time::sleep(Duration::from_millis(rule.latency_ms.unwrap_or(60_000))).await;
            real.unwrap_or_else(|| {
                errors::error(version, StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
            })
        }
        FaultKind::Reset => {
            // A body that fails before its first byte makes the server drop the connection.
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
        FaultKind::Truncate => {
            let (parts, body) = match real {
                Some(real) => real.into_parts(),
                None => errors::error(version, StatusCode::OK, "").into_parts(),
            };
            let full = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = full.slice(..full.len() / 2);
            let full_len = full.len();
            let stream = futures::stream::iter(vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "sandbox fault: truncated body",
                )),
            ]);
            let mut response = Response::from_parts(parts, Body::from_stream(stream));
            response.headers_mut().insert(
                axum::http::header::CONTENT_LENGTH,
                HeaderValue::from(full_len),
            );
            response
        }
    }
}

/// A JSON response from pre-serialized bytes.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("static response")
}

/// A JSON response of a serializable value.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, body),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
