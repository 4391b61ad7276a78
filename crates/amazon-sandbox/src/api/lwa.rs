//! Login with Amazon's token endpoint, `POST /auth/o2/token`: the refresh-token grant an app
//! uses to get a one-hour access token for a seller's authorisation. The form body carries
//! `grant_type=refresh_token`, `refresh_token`, `client_id` and `client_secret`.
//!
//! Errors are OAuth 2's: a missing parameter → 400 `invalid_request`; another grant type →
//! 400 `unsupported_grant_type` (the sandbox emulates no grantless operation, so
//! `client_credentials` is not offered); an unknown client or a wrong secret → 401
//! `invalid_client`; a refresh token that is not this client's → 400 `invalid_grant`.

use axum::extract::{RawForm, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{errors, json, AppState};

pub async fn create_token(State(state): State<AppState>, RawForm(body): RawForm) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let Some(grant_type) = field("grant_type") else {
        return errors::lwa(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is missing a required parameter : grant_type",
        );
    };
    if grant_type != "refresh_token" {
        return errors::lwa(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    for name in ["refresh_token", "client_id", "client_secret"] {
        if field(name).is_none() {
            return errors::lwa(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("The request is missing a required parameter : {name}"),
            );
        }
    }
    let client_id = field("client_id").unwrap_or_default();
    let client_secret = field("client_secret").unwrap_or_default();
    let refresh_token = field("refresh_token").unwrap_or_default();
    let Some(app) = state
        .apps
        .iter()
        .find(|a| a.client_id == client_id && a.client_secret == client_secret)
    else {
        return errors::lwa(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    };
    if app.refresh_token != refresh_token {
        return errors::lwa(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    }
    let lifetime = state.config.access_token_lifetime_secs;
    let access_token = state.tokens.lock().issue_access(
        &app.profile,
        state.clock.now(),
        chrono::Duration::seconds(lifetime as i64),
    );
    json(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "refresh_token": app.refresh_token,
            "token_type": "bearer",
            "expires_in": lifetime,
        }),
    )
}
