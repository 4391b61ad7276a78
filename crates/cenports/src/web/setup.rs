//! First-run setup: the first operator account, made on a page instead of a shell.
//!
//! When `cenports serve` starts and no account can sign in (none has a password), it makes a
//! one-time token and prints `/setup?token=…` beside its address, never into the logs (the
//! same bootstrap as Jenkins' or Grafana's first admin). Whoever opens that link may create
//! the first operator, and is signed in at once. The door shuts for good when any account has
//! a password: the account is created by one statement that checks that, and both pages then
//! send people to `/login`.
//!
//! The token is the form's protection too: a cross-site form cannot know it, so the page needs
//! no separate CSRF token (there is no session yet to bind one to).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{capitalise, layout, PageError};
use crate::accounts::{self, password, tokens, AccountError};
use crate::service::AppState;

#[derive(Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// Whether the setup is still open: this process offers it and nobody can sign in yet.
async fn open(state: &AppState) -> Result<bool, PageError> {
    if state.setup_token().is_none() {
        return Ok(false);
    }
    let taken = state.storage().any_account_can_sign_in().await?;
    Ok(!taken)
}

fn token_matches(state: &AppState, given: Option<&str>) -> bool {
    match (state.setup_token(), given) {
        (Some(expected), Some(given)) => tokens::same_token(given, expected.expose_secret()),
        _ => false,
    }
}

fn wrong_token() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "This setup link is not valid. Open the link `cenports serve` printed when it started \
         (it ends with ?token=…), or create the operator with `cenports user add --email E \
         --role operator`.",
    )
}

/// `GET /setup?token=…`: the form, while the setup is open; `/login` once it is done.
pub async fn show_setup(
    State(state): State<AppState>,
    Query(query): Query<SetupQuery>,
) -> Result<Response, PageError> {
    if !open(&state).await? {
        return Ok(Redirect::to("/login").into_response());
    }
    if !token_matches(&state, query.token.as_deref()) {
        return Err(wrong_token());
    }
    Ok(page(
        query.token.as_deref().unwrap_or_default(),
        "",
        None,
        StatusCode::OK,
    ))
}

/// `POST /setup`: creates the first operator, signs them in and opens their stores.
pub async fn create_operator(
    State(state): State<AppState>,
    Form(form): Form<SetupForm>,
) -> Result<Response, PageError> {
    if !open(&state).await? {
        return Ok(Redirect::to("/login").into_response());
    }
    if !token_matches(&state, Some(&form.token)) {
        return Err(wrong_token());
    }
    let again = |message: String| {
        Ok(page(
            &form.token,
            &form.email,
            Some(&message),
            StatusCode::UNPROCESSABLE_ENTITY,
        ))
    };
    if let Err(AccountError::InvalidEmail(_)) = accounts::check_email(&form.email) {
        return again(format!(
            "{:?} is not an email address; give the one you will sign in with.",
            form.email.trim()
        ));
    }
    if form.password != form.password_again {
        return again("The two passwords differ; type the same password twice.".into());
    }
    let hash = match password::hash_password(SecretString::from(form.password.clone())).await {
        Ok(hash) => hash,
        Err(error) => return again(format!("{}.", capitalise(&error.to_string()))),
    };
    let created = state
        .storage()
        .create_first_operator(&form.email, &hash)
        .await?;
    let Some(account) = created else {
        // Someone finished the setup first: this page is closed now.
        return Ok(Redirect::to("/login").into_response());
    };
    tracing::info!(user = %account.user.id, "setup: the first operator account was created");
    let session =
        accounts::open_session(state.storage(), state.clock(), state.auth_policy(), account)
            .await?;
    let mut response = Redirect::to("/stores").into_response();
    super::login::attach_session(&state, &session, &mut response);
    Ok(response)
}

fn page(token: &str, email: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        @if let Some(error) = error { p.error role="alert" { (error) } }
        p {
            "Nobody can sign in to this hub yet. Create the operator account: operators see "
            "every store and add the merchants' accounts (" code { "cenports user add" } ")."
        }
        form.card method="post" action="/setup" {
            input type="hidden" name="token" value=(token);
            label for="email" { "Email" }
            input id="email" type="email" name="email" value=(email) autocomplete="username" required;
            label for="password" { "Password" }
            input id="password" type="password" name="password" autocomplete="new-password"
                minlength=(password::MIN_PASSWORD_CHARS) required aria-describedby="password-hint";
            span.hint id="password-hint" {
                "At least " (password::MIN_PASSWORD_CHARS) " characters."
            }
            label for="password_again" { "Password again" }
            input id="password_again" type="password" name="password_again"
                autocomplete="new-password" required;
            button type="submit" { "Create the operator account" }
        }
    };
    let mut response = layout("Set up Cenports", None, body).into_response();
    *response.status_mut() = status;
    response
}
