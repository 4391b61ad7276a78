//! Who is calling either HTTP surface: the [`Principal`] extractor, the session cookie and the
//! CSRF check.
//!
//! A request proves who it is with **one** of:
//! - `Authorization: Bearer cpk_…`: an API key (scripts, warehouses). No CSRF check: a browser
//!   never attaches this header on its own.
//! - the `cenports_session` cookie set by `POST /login` (the dashboard). The cookie is
//!   `HttpOnly`, `SameSite=Lax`, `Secure` (unless the hub serves plain HTTP on loopback), with
//!   `Max-Age` = the session's remaining life. Because a browser attaches cookies by itself,
//!   every unsafe request (POST, PUT, PATCH, DELETE) authenticated by the cookie must carry the
//!   session's CSRF token in `X-CSRF-Token` (synchronizer token, compared in constant time).
//!
//! An `Authorization` header that is present but wrong is refused even if a cookie is there
//! too: a caller that meant to use a key should learn that the key is bad.
//!
//! The JSON API takes a [`Principal`]; the dashboard's pages take a session only
//! (`crate::web::WebUser`, through [`authenticate_session`]) and check the CSRF token of their
//! forms' `csrf_token` field with [`csrf_matches`]. Signing in and out (`/login`, `/logout`)
//! is the dashboard's (`crate::web`).

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorCode};
use crate::accounts::{self, tokens, Account, AuthError, StoreAccess};
use crate::service::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "cenports_session";
/// The header carrying the session's CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether cookies must be `Secure` for a server on `listen`: always, unless it serves plain
/// HTTP on a loopback address (development on one machine, where browsers and tools would
/// otherwise drop the cookie). Behind a TLS-terminating proxy the hub listens on a non-loopback
/// address or the proxy's loopback one with `tls = true` meaning "the public side is HTTPS".
pub fn cookies_must_be_secure(listen: SocketAddr, tls: bool) -> bool {
    tls || !listen.ip().is_loopback()
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// An API key.
    ApiKey,
    /// A session cookie.
    Session {
        /// The digest of the session token (to end it on sign-out).
        token_hash: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who.
    pub account: Account,
    /// How.
    pub method: AuthMethod,
}

impl Principal {
    /// The stores this caller reaches: its own (merchant) or all (operator).
    pub fn access(&self) -> StoreAccess {
        self.account.store_access()
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let key = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidApiKey,
                        "the Authorization header must be `Bearer cpk_…` with an API key; \
                         create one with `cenports api-key create --email you@example.com`",
                    )
                })?;
            let account = accounts::authenticate_api_key(state.storage(), state.clock(), key)
                .await
                .map_err(auth_error)?;
            return Ok(Principal {
                account,
                method: AuthMethod::ApiKey,
            });
        }
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ApiError::new(
                ErrorCode::AuthenticationRequired,
                "sign in: send `Authorization: Bearer cpk_…` with an API key, or the session \
                 cookie from POST /login",
            ));
        };
        let (principal, csrf_token) = authenticate_session(state, &token)
            .await
            .map_err(auth_error)?;
        if !is_safe(&parts.method) {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !csrf_matches(Some(given), &csrf_token) {
                return Err(ApiError::new(
                    ErrorCode::CsrfFailed,
                    "a change made with the session cookie needs the session's CSRF token in \
                     the X-CSRF-Token header (POST /login returns it)",
                ));
            }
        }
        Ok(principal)
    }
}

/// Who a session cookie's token names, and the session's CSRF token (which the API's writes
/// send as `X-CSRF-Token` and the dashboard's forms as a `csrf_token` field).
pub async fn authenticate_session(
    state: &AppState,
    token: &str,
) -> Result<(Principal, String), AuthError> {
    let (account, session) =
        accounts::authenticate_session(state.storage(), state.clock(), token).await?;
    let principal = Principal {
        account,
        method: AuthMethod::Session {
            token_hash: tokens::digest(token),
        },
    };
    Ok((principal, session.csrf_token))
}

/// Whether `given` is the session's CSRF token, compared in constant time (absent is not).
pub fn csrf_matches(given: Option<&str>, expected: &str) -> bool {
    given.is_some_and(|given| tokens::same_token(given, expected))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn auth_error(error: AuthError) -> ApiError {
    match error {
        AuthError::InvalidApiKey => ApiError::new(ErrorCode::InvalidApiKey, error.to_string()),
        AuthError::UnknownSession => ApiError::new(
            ErrorCode::SessionInvalid,
            "the session cookie is not valid; sign in again at /login",
        ),
        AuthError::SessionExpired => ApiError::new(
            ErrorCode::SessionExpired,
            "the session has expired; sign in again at /login",
        ),
        AuthError::Storage(e) => ApiError::from(e),
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    /// Our id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// `merchant` or `operator`.
    #[schema(example = "merchant")]
    pub role: RoleView,
}

/// A role.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Role)]
pub enum RoleView {
    /// Sees and acts on the stores they own.
    Merchant,
    /// Sees and acts on every store.
    Operator,
}

impl From<&Account> for UserView {
    fn from(account: &Account) -> Self {
        UserView {
            id: account.user.id.get(),
            email: account.user.email.clone(),
            role: match account.role {
                accounts::Role::Merchant => RoleView::Merchant,
                accounts::Role::Operator => RoleView::Operator,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; cenports_session=tok"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
