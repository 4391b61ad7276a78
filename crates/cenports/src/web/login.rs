//! Signing in and out: `GET /login` (the sign-in page), `POST /login`, `POST /logout`.
//!
//! Signing in (`POST /login`) takes JSON `{"email","password"}` or a form
//! (`email`, `password`, `csrf_token`). A JSON body cannot be sent cross-site without CORS,
//! which the hub never grants; the form carries a double-submit token from `GET /login`
//! (cookie `cenports_login_csrf` = field `csrf_token`), against login CSRF. A failed form
//! sign-in gets the page again ([`render_login`]) under the status a script gets. Signing out
//! with a form (the dashboard's button) sends the session's CSRF token as the `csrf_token`
//! field instead of the header ([`logout_form`]); scripts sign out with their key or with the
//! session cookie and `X-CSRF-Token` ([`crate::edge::auth`]).
//!
//! Scripts call these routes too, so they are in the API's OpenAPI document ([`routes`]
//! registers them with their documentation), answer scripts with the JSON error envelope
//! ([`crate::edge::error`]), and keep the API's answer to a wrong method ([`shape_responses`])
//! rather than the pages' headers.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{layout, PageError, WebUser, CONTENT_SECURITY_POLICY, CSRF_FIELD};
use crate::accounts::{self, tokens, LoginError, NewSession};
use crate::edge;
use crate::edge::auth::{cookie, AuthMethod, Principal, UserView, SESSION_COOKIE};
use crate::edge::error::{ApiError, ErrorBody, ErrorCode};
use crate::service::AppState;

/// The login form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "cenports_login_csrf";

/// The sign-in routes with their documentation (`utoipa-axum` adds a route and its
/// `#[utoipa::path]` in one call): [`super::router`] serves them, [`super::openapi`] documents
/// them.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_login, login))
        .routes(routes!(logout))
}

/// Sign-in answers as when the API's router served them: a wrong method is the JSON envelope
/// (scripts call these routes), `nosniff`, and the access log (at debug). The pages' headers
/// are not added: the sign-in page sets its own, and the JSON answers need none.
pub(super) async fn shape_responses(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let mut response = edge::method_not_allowed_as_json(next.run(request).await);
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    edge::log_access(&method, &route, response.status().as_u16(), started);
    response
}

/// A `Set-Cookie` value: the hub's cookies are all `HttpOnly` and for the whole site.
pub(super) fn set_cookie(
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
pub(super) fn attach_session(state: &AppState, session: &NewSession, response: &mut Response) {
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
    let page = render_login(&token, error.map(ApiError::message), first_run);
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
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
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
        return Ok(logout_form(state, request).await);
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

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf_token: Option<String>,
}

/// `POST /logout` from the dashboard's sign-out button: checks the form's CSRF token, ends
/// the session, clears its cookie and goes to `/login`.
async fn logout_form(state: AppState, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let user = match WebUser::from_request_parts(&mut parts, &state).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let form = Form::<CsrfOnly>::from_request(Request::from_parts(parts, body), &state).await;
    let given = form.ok().and_then(|Form(f)| f.csrf_token);
    if let Err(error) = user.check_csrf(given.as_deref()) {
        return error.into_response();
    }
    if let AuthMethod::Session { token_hash } = &user.principal.method {
        if let Err(e) = state.storage().delete_session(token_hash).await {
            return PageError::from(e).into_response();
        }
    }
    let mut response = Redirect::to("/login").into_response();
    let clear = set_cookie(SESSION_COOKIE, "", 0, state.secure_cookies(), "Lax");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The sign-in page, with the form's double-submit token and the last attempt's error.
/// `first_run`: no account can sign in yet, so the page says where the first one comes from.
fn render_login(csrf_token: &str, error: Option<&str>, first_run: bool) -> Markup {
    layout(
        "Sign in to Cenports",
        None,
        html! {
            @if first_run {
                p.notice role="status" {
                    "No account can sign in yet. Open the setup link that " code { "cenports serve" }
                    " printed when it started (" code { "/setup?token=…" } "), or create an operator "
                    "with " code { "cenports user add --email E --role operator" } "."
                }
            }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.card method="post" action="/login" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf_token);
                label for="email" { "Email" }
                input id="email" type="email" name="email" autocomplete="username" required;
                label for="password" { "Password" }
                input id="password" type="password" name="password"
                    autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
