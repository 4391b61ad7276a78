//! Who is calling: the [`Principal`] extractor, and signing in and out.
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
//! Signing in (`POST /login`) takes JSON `{"email","password"}` or a form
//! (`email`, `password`, `csrf_token`). A JSON body cannot be sent cross-site without CORS,
//! which the hub never grants; the form carries a double-submit token from `GET /login`
//! (cookie `cenports_login_csrf` = field `csrf_token`), against login CSRF. A failed form
//! sign-in gets the page again ([`crate::web::render_login`]) under the status a script gets.
//! Signing out with a form (the dashboard's button) sends the session's CSRF token as the
//! `csrf_token` field instead of the header ([`crate::web::logout_form`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, ErrorCode};
use crate::accounts::{self, tokens, Account, AuthError, LoginError, NewSession, StoreAccess};
use crate::service::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "cenports_session";
/// The login form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "cenports_login_csrf";
/// The header carrying the session's CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

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
        let (account, session) =
            accounts::authenticate_session(state.storage(), state.clock(), &token)
                .await
                .map_err(auth_error)?;
        if !is_safe(&parts.method) {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !tokens::same_token(given, &session.csrf_token) {
                return Err(ApiError::new(
                    ErrorCode::CsrfFailed,
                    "a change made with the session cookie needs the session's CSRF token in \
                     the X-CSRF-Token header (POST /login returns it)",
                ));
            }
        }
        Ok(Principal {
            account,
            method: AuthMethod::Session {
                token_hash: tokens::digest(&token),
            },
        })
    }
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

pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: i64,
    secure: bool,
    same_site: &str,
) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite={same_site}{}",
        max_age_secs.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// The client's address, as the server saw the connection (`"unknown"` when the server was not
/// started with connect info). Not taken from `X-Forwarded-For`, which any client can write.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string()),
        ))
    }
}

/// A sign-in. `Debug` prints `***` for the password.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The account's email (case-insensitive).
    pub email: String,
    /// The password.
    #[schema(format = Password)]
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &"***")
            .finish()
    }
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// A session was opened; the token itself is only in the `Set-Cookie` header.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Who signed in.
    pub user: UserView,
    /// Send it as `X-CSRF-Token` with every POST/PUT made with the session cookie.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
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

/// Sign in: opens a session and sets its cookie.
#[utoipa::path(
    post,
    path = "/login",
    tag = "auth",
    request_body(
        content((LoginRequest = "application/json"), (LoginRequest = "application/x-www-form-urlencoded")),
        description = "JSON, or the sign-in form (which also carries `csrf_token`, the value of the `cenports_login_csrf` cookie set by GET /login)"
    ),
    responses(
        (status = 200, description = "Signed in (JSON body). The session cookie is in Set-Cookie.", body = LoginResponse),
        (status = 303, description = "Signed in with the form: redirect to the dashboard."),
        // A failed *form* sign-in answers with the sign-in page again (text/html) under the same
        // status a JSON caller gets with the error envelope.
        (status = 400, description = "The body does not parse (a form: the sign-in page again)", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 401, description = "Wrong email or password (`invalid_credentials`; a form: the sign-in page again)", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 403, description = "Form without the login CSRF token (`csrf_failed`; the sign-in page again)", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 415, description = "Neither JSON nor a form", body = ErrorBody),
        (status = 422, description = "A field is missing (a form: the sign-in page again)", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 429, description = "Too many failed sign-ins (`too_many_attempts`; a form: the sign-in page again); see Retry-After", content((ErrorBody = "application/json"), (String = "text/html"))),
    ),
    security(())
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> Result<Response, ApiError> {
    let form = is_form(request.headers());
    match sign_in(&state, ip, request).await {
        // A person at the sign-in form sees the form again with what went wrong, under the
        // same status a script would get.
        Err(error) if form => Ok(login_page(&state, Some(&error), false)),
        other => other,
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

async fn sign_in(state: &AppState, ip: String, request: Request) -> Result<Response, ApiError> {
    let state = state.clone();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (email, password, form) = if content_type.starts_with("application/json") {
        let Json(body) = Json::<LoginRequest>::from_request(request, &state).await?;
        (body.email, body.password, false)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let expected = cookie(request.headers(), LOGIN_CSRF_COOKIE);
        let Form(body) = Form::<LoginForm>::from_request(request, &state)
            .await
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::ValidationFailed,
                    format!("the sign-in form is not complete: {}", e.body_text()),
                )
            })?;
        let matches =
            expected.is_some_and(|expected| tokens::same_token(&body.csrf_token, &expected));
        if !matches {
            return Err(ApiError::new(
                ErrorCode::CsrfFailed,
                "the sign-in form has expired or did not come from this site; reload /login",
            ));
        }
        (body.email, body.password, true)
    } else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the sign-in as application/json or as the /login form",
        ));
    };
    let session = accounts::login(
        state.storage(),
        state.clock(),
        state.auth_policy(),
        &email,
        SecretString::from(password),
        &ip,
    )
    .await
    .map_err(|error| match error {
        LoginError::InvalidCredentials => {
            ApiError::new(ErrorCode::InvalidCredentials, error.to_string())
        }
        LoginError::Throttled { retry_after } => {
            let secs = retry_after.num_seconds().max(1) as u64;
            ApiError::new(ErrorCode::TooManyAttempts, error.to_string()).retry_after(secs)
        }
        LoginError::Storage(e) => ApiError::from(e),
    })?;
    let mut response = if form {
        Redirect::to("/").into_response()
    } else {
        Json(LoginResponse {
            user: UserView::from(&session.account),
            csrf_token: session.csrf_token.clone(),
            expires_at: session.expires_at,
        })
        .into_response()
    };
    attach_session(&state, &session, &mut response);
    Ok(response)
}

/// Puts a new session's cookie on a response (and clears the sign-in form's token): after a
/// sign-in, or after the first-run setup made the account.
pub(crate) fn attach_session(state: &AppState, session: &NewSession, response: &mut Response) {
    let max_age = (session.expires_at - state.clock().now()).num_seconds();
    let session_cookie = set_cookie(
        SESSION_COOKIE,
        session.token.expose_secret(),
        max_age,
        state.secure_cookies(),
        "Lax",
    );
    let clear_login_csrf = set_cookie(LOGIN_CSRF_COOKIE, "", 0, state.secure_cookies(), "Strict");
    let headers = response.headers_mut();
    for value in [session_cookie, clear_login_csrf] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The sign-in page: the dashboard's form.
#[utoipa::path(
    get,
    path = "/login",
    tag = "auth",
    responses((status = 200, description = "The sign-in form", content_type = "text/html", body = String)),
    security(())
)]
pub async fn get_login(State(state): State<AppState>) -> Response {
    // While nobody can sign in, say where the first account comes from.
    let first_run = state.setup_token().is_some()
        && matches!(state.storage().any_account_can_sign_in().await, Ok(false));
    login_page(&state, None, first_run)
}

/// The sign-in form (the dashboard's page) with a fresh double-submit token, and an error's
/// message and status when a form sign-in failed.
fn login_page(state: &AppState, error: Option<&ApiError>, first_run: bool) -> Response {
    let token = tokens::random_token();
    let page = crate::web::render_login(&token, error.map(ApiError::message), first_run);
    let status = error.map_or(StatusCode::OK, |e| e.code().status());
    let mut response = (status, Html(page.into_string())).into_response();
    if let Ok(value) = HeaderValue::from_str(&set_cookie(
        LOGIN_CSRF_COOKIE,
        &token,
        3600,
        state.secure_cookies(),
        "Strict",
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::web::CONTENT_SECURITY_POLICY),
    );
    response
}

/// Sign out: ends the session and clears its cookie.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Signed out (with an API key: nothing to end)"),
        (status = 303, description = "Signed out with the dashboard's form (`csrf_token` field): redirect to /login"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Session cookie without X-CSRF-Token (`csrf_failed`)", body = ErrorBody),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn logout(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if is_form(request.headers()) && !request.headers().contains_key(header::AUTHORIZATION) {
        // The dashboard's sign-out button: its CSRF token is a form field, not a header.
        return Ok(crate::web::logout_form(state, request).await);
    }
    let (mut parts, _body) = request.into_parts();
    let principal = Principal::from_request_parts(&mut parts, &state).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let AuthMethod::Session { token_hash } = &principal.method {
        state.storage().delete_session(token_hash).await?;
        if let Ok(value) = HeaderValue::from_str(&set_cookie(
            SESSION_COOKIE,
            "",
            0,
            state.secure_cookies(),
            "Lax",
        )) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_when_asked() {
        let c = set_cookie(SESSION_COOKIE, "v", 60, true, "Lax");
        assert_eq!(
            c,
            "cenports_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!set_cookie(SESSION_COOKIE, "v", 60, false, "Lax").contains("Secure"));
    }
}
