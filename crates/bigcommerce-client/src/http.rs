//! Request execution: pacing, retries, status mapping and decoding.
//!
//! # Retry policy
//! | outcome | GET / HEAD / PUT / DELETE | POST |
//! |---|---|---|
//! | connection refused (nothing sent) | retried with backoff | retried with backoff |
//! | timeout, reset, 500/502/503/504 | retried with backoff | [`Error::OutcomeUnknown`] |
//! | 429 | wait `X-Rate-Limit-Time-Reset-Ms` (or backoff), retry | same: a 429 was not applied |
//! | truncated or undecodable 2xx body | retried (at most twice) | [`Error::OutcomeUnknown`] |
//! | other 4xx | typed error, no retry | typed error, no retry |
//! | 404 on a retried DELETE | success: an earlier attempt deleted it | — |
//!
//! PUT is retried because every PUT this client sends sets absolute values (a status, a stock
//! level), so applying it twice equals applying it once. A POST (creating a shipment or a
//! webhook) is never sent twice by this layer: the caller reads back and decides.

use std::time::Duration;

use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{parse_error_body, required_scope, Error, Result};
use crate::limiter::RateLimitHeaders;

/// Decode failures of an idempotent request retried at most this many times.
const MAX_DECODE_RETRIES: u32 = 2;

/// One API call: method, endpoint path below `/stores/{hash}` and query.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// `/v2/orders/100` — also what errors and logs show.
    pub(crate) endpoint: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
}

impl Request {
    pub(crate) fn new(method: Method, endpoint: impl Into<String>) -> Self {
        Self {
            method,
            endpoint: endpoint.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn get(endpoint: impl Into<String>) -> Self {
        Self::new(Method::GET, endpoint)
    }

    pub(crate) fn query(mut self, pairs: Vec<(String, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    pub(crate) fn param(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|err| Error::InvalidRequest {
            method: self.method.clone(),
            endpoint: self.endpoint.clone(),
            message: format!("could not encode the request body: {err}"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    fn is_idempotent(&self) -> bool {
        self.method != Method::POST && self.method != Method::PATCH
    }
}

/// What went wrong in one attempt, before deciding whether to retry.
enum Failure {
    /// Retry after the given delay (`None`: the limiter already blocks until the reset).
    Retry {
        delay: Option<Duration>,
        last: Error,
    },
    /// Give up with this error.
    Fatal(Error),
}

impl Client {
    /// Sends `request` with pacing and retries and decodes a JSON body.
    /// `Ok(None)` means the API answered without a body (204 No Content or empty).
    pub(crate) async fn send<T: DeserializeOwned>(&self, request: &Request) -> Result<Option<T>> {
        let max_attempts = self.inner.config.max_retries + 1;
        let mut decode_failures = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt::<T>(request, attempt).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            match failure {
                Failure::Fatal(error) => return Err(error),
                Failure::Retry { delay, last } => {
                    if matches!(last, Error::Decode { .. }) {
                        decode_failures += 1;
                        if decode_failures > MAX_DECODE_RETRIES {
                            return Err(last);
                        }
                    }
                    if attempt >= max_attempts {
                        return Err(last);
                    }
                    tracing::warn!(
                        bc.method = %request.method,
                        bc.endpoint = %request.endpoint,
                        attempt,
                        error = %last,
                        "bc.retry: retrying request"
                    );
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
    }

    /// Sends and expects a body: a missing one is a decode error.
    pub(crate) async fn send_expecting<T: DeserializeOwned>(&self, request: &Request) -> Result<T> {
        self.send(request).await?.ok_or_else(|| Error::Decode {
            method: request.method.clone(),
            endpoint: request.endpoint.clone(),
            message: "the response had no body".into(),
        })
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        request: &Request,
        attempt: u32,
    ) -> Result<Option<T>, Failure> {
        let inner = &self.inner;
        let method = &request.method;
        let endpoint = &request.endpoint;
        let idempotent = request.is_idempotent();

        let mut url = format!("{}{}", inner.store_root, endpoint);
        if !request.query.is_empty() {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(request.query.iter())
                .finish();
            url = format!("{url}?{encoded}");
        }
        let mut builder = inner.http.request(method.clone(), url);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }

        let permit = inner.limiter.acquire().await;
        let started = Instant::now();
        let response = match builder.send().await {
            Ok(response) => response,
            Err(err) => {
                drop(permit);
                tracing::debug!(bc.method = %method, bc.endpoint = %endpoint, error = %err, "bc.request failed");
                // A refused connection never reached BigCommerce, so even a POST is safe to resend.
                if !idempotent && !err.is_connect() {
                    return Err(Failure::Fatal(Error::OutcomeUnknown {
                        method: method.clone(),
                        endpoint: endpoint.clone(),
                        reason: describe_transport(&err),
                    }));
                }
                return Err(Failure::Retry {
                    delay: Some(self.backoff(attempt)),
                    last: self.transport_error(request, attempt, err),
                });
            }
        };

        let status = response.status();
        let limits = RateLimitHeaders::from_headers(response.headers());
        permit.observe(&limits);

        if status == StatusCode::TOO_MANY_REQUESTS {
            inner.limiter.record_rate_limited();
            let wait = match limits.time_reset_ms {
                Some(ms) => Duration::from_millis(ms) + jitter(Duration::from_millis(ms / 10 + 10)),
                None => self.backoff(attempt),
            }
            .min(inner.config.max_retry_delay);
            // Every task of this store waits, not only this one.
            inner.limiter.block_for(wait);
            tracing::info!(
                bc.method = %method,
                bc.endpoint = %endpoint,
                wait_ms = wait.as_millis() as u64,
                "bc.rate_limit: 429 received"
            );
            return Err(Failure::Retry {
                delay: None,
                last: Error::RateLimited {
                    method: method.clone(),
                    endpoint: endpoint.clone(),
                    attempts: attempt,
                    reset_after: limits.time_reset_ms.map(Duration::from_millis),
                },
            });
        }

        if status.is_server_error() {
            let retryable = matches!(status.as_u16(), 500 | 502 | 503 | 504);
            if retryable && !idempotent {
                return Err(Failure::Fatal(Error::OutcomeUnknown {
                    method: method.clone(),
                    endpoint: endpoint.clone(),
                    reason: format!("BigCommerce answered {}", status.as_u16()),
                }));
            }
            let error = Error::Server {
                method: method.clone(),
                endpoint: endpoint.clone(),
                status: status.as_u16(),
                attempts: attempt,
            };
            return Err(if retryable {
                Failure::Retry {
                    delay: Some(self.backoff(attempt)),
                    last: error,
                }
            } else {
                Failure::Fatal(error)
            });
        }

        let body = match response.bytes().await {
            Ok(body) => body,
            Err(err) => {
                if !idempotent {
                    return Err(Failure::Fatal(Error::OutcomeUnknown {
                        method: method.clone(),
                        endpoint: endpoint.clone(),
                        reason: format!(
                            "status {} but the body was cut off: {}",
                            status.as_u16(),
                            describe_transport(&err)
                        ),
                    }));
                }
                let last = if err.is_timeout() {
                    self.transport_error(request, attempt, err)
                } else {
                    Error::Decode {
                        method: method.clone(),
                        endpoint: endpoint.clone(),
                        message: format!("the body was cut off: {}", describe_transport(&err)),
                    }
                };
                return Err(Failure::Retry {
                    delay: Some(self.backoff(attempt)),
                    last,
                });
            }
        };
        tracing::debug!(
            bc.method = %method,
            bc.endpoint = %endpoint,
            status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "bc.request"
        );

        if status == StatusCode::NOT_FOUND && *method == Method::DELETE && attempt > 1 {
            // An earlier attempt of this DELETE may have been applied before its answer was
            // lost; the resource being gone is the outcome that was asked for.
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Failure::Fatal(status_error(request, status, &body)));
        }
        if status == StatusCode::NO_CONTENT || body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<T>(&body) {
            Ok(value) => Ok(Some(value)),
            Err(err) if !idempotent => Err(Failure::Fatal(Error::OutcomeUnknown {
                method: method.clone(),
                endpoint: endpoint.clone(),
                reason: format!(
                    "status {} but the body could not be decoded: {err}",
                    status.as_u16()
                ),
            })),
            Err(err) => Err(Failure::Retry {
                delay: Some(self.backoff(attempt)),
                last: Error::Decode {
                    method: method.clone(),
                    endpoint: endpoint.clone(),
                    message: err.to_string(),
                },
            }),
        }
    }

    /// Exponential backoff with jitter: `base * 2^(attempt-1)`, capped, then a random value in
    /// its upper half so that tasks retrying together spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let config = &self.inner.config;
        let exponent = attempt.saturating_sub(1).min(16);
        let full = config
            .retry_base_delay
            .saturating_mul(1 << exponent)
            .min(config.max_retry_delay);
        full / 2 + jitter(full / 2)
    }

    fn transport_error(&self, request: &Request, attempt: u32, err: reqwest::Error) -> Error {
        if err.is_timeout() {
            Error::Timeout {
                method: request.method.clone(),
                endpoint: request.endpoint.clone(),
                attempts: attempt,
                timeout: self.inner.config.timeout,
            }
        } else {
            Error::Transport {
                method: request.method.clone(),
                endpoint: request.endpoint.clone(),
                attempts: attempt,
                // The URL holds no secret (the token travels in a header), but drop it anyway
                // so errors show the endpoint only.
                source: err.without_url(),
            }
        }
    }
}

fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let millis = max.as_millis().min(u64::MAX as u128) as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
}

fn describe_transport(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "no answer before the timeout".into()
    } else if err.is_connect() {
        "the connection failed".into()
    } else {
        "the connection was interrupted".into()
    }
}

fn status_error(request: &Request, status: StatusCode, body: &[u8]) -> Error {
    let method = request.method.clone();
    let endpoint = request.endpoint.clone();
    let parsed = parse_error_body(body);
    match status.as_u16() {
        401 => Error::Unauthorized { method, endpoint },
        403 => Error::MissingScope {
            scope: required_scope(&method, &endpoint),
            method,
            endpoint,
        },
        404 => Error::NotFound {
            method,
            endpoint,
            message: parsed.summary(),
        },
        400 | 409 | 413 | 422 => Error::Validation {
            method,
            endpoint,
            status: status.as_u16(),
            title: parsed.title,
            errors: parsed.errors,
        },
        other => Error::UnexpectedStatus {
            method,
            endpoint,
            status: other,
            message: parsed.summary(),
        },
    }
}
