//! Connect a store: the merchant guide's fields (or BigCommerce's credentials `.txt`), checked
//! on submit by [`crate::connect::check`]; each required scope shown with pass/fail and the
//! fix in BigCommerce's words; saved by [`crate::connect::save_verified`] only once the check
//! passed — the same code as `cenports connect`.

use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use secrecy::SecretString;
use serde::Deserialize;

use super::{capitalise, layout, PageError, WebUser, CSRF_FIELD};
use crate::connect::{self, ConnectError, ConnectInput, RequiredScope};
use crate::service::stores::scope_for;
use crate::service::AppState;

/// The largest credentials file accepted (BigCommerce's is a few hundred bytes).
const MAX_CREDENTIALS_FILE: usize = 16 * 1024;

/// What the form shows again after a failed check (never the secrets).
#[derive(Default)]
struct Prefill {
    store_url: String,
    client_id: String,
}

/// The outcome of a failed check, shown above the form.
enum Failure {
    /// Some scopes are missing: every scope with pass/fail and the fix.
    Scopes {
        message: String,
        missing: Vec<RequiredScope>,
    },
    /// Anything else, with its message.
    Other(String),
}

#[derive(Deserialize)]
pub struct ConnectQuery {
    /// Reconnect: prefill from this store of the caller's.
    #[serde(default)]
    store: Option<String>,
}

/// `GET /connect` (`?store={id}` to reconnect: the form prefilled with its hash and Client ID).
pub async fn show_connect(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ConnectQuery>,
) -> Result<Response, PageError> {
    let mut prefill = Prefill::default();
    if let Some(store) = query.store.as_deref() {
        let id = super::path_id(store)?;
        let scope = scope_for(&state, user.access(), id).await?;
        let store = state.storage().get_store(&scope).await?;
        prefill.store_url = store.remote_id.clone();
        prefill.client_id = store.client_id.clone().unwrap_or_default();
    }
    Ok(page(&user, &prefill, None, StatusCode::OK))
}

fn page(
    user: &WebUser,
    prefill: &Prefill,
    failure: Option<&Failure>,
    status: StatusCode,
) -> Response {
    let body = html! {
        @if let Some(failure) = failure { (failure_markup(failure)) }
        p {
            "Fill in the API account's credentials as the merchant guide lists them, or upload "
            "the .txt BigCommerce downloaded when the account was created. The check runs when "
            "you submit; nothing is saved until it passes."
        }
        form.card method="post" action="/connect" enctype="multipart/form-data" {
            (user.csrf_input())
            label for="email" { "Cenports user email" }
            input id="email" type="email" value=(user.email()) readonly aria-describedby="email-hint";
            span.hint id="email-hint" { "The store is saved under the account you are signed in with." }
            label for="store_url" { "Store URL" }
            input id="store_url" name="store_url" value=(prefill.store_url)
                placeholder="https://store-XXXX.mybigcommerce.com" aria-describedby="url-hint";
            span.hint id="url-hint" { "The Permanent Address from Store Profile, the API PATH, or the store hash." }
            label for="client_id" { "Client ID" }
            input id="client_id" name="client_id" value=(prefill.client_id) autocomplete="off";
            label for="client_secret" { "Client Secret" }
            input id="client_secret" name="client_secret" type="password" autocomplete="off";
            label for="access_token" { "Access Token" }
            input id="access_token" name="access_token" type="password" autocomplete="off";
            label for="credentials_file" { "Or the credentials .txt" }
            input id="credentials_file" name="credentials_file" type="file" accept=".txt,text/plain";
            span.hint { "When a file is given, the fields above are not used." }
            button type="submit" { "Check and connect" }
        }
    };
    let mut response = layout("Connect a store", Some(user), body).into_response();
    *response.status_mut() = status;
    response
}

fn failure_markup(failure: &Failure) -> Markup {
    match failure {
        Failure::Other(message) => html! { p.error role="alert" { (capitalise(message)) } },
        Failure::Scopes { message, missing } => html! {
            p.error role="alert" { (capitalise(message)) }
            div.table-wrap { table {
                caption { "The scopes the merchant guide asks for" }
                thead { tr { th scope="col" { "Scope" } th scope="col" { "Check" } th scope="col" { "Fix" } } }
                tbody {
                    @for scope in RequiredScope::ALL {
                        @let lacking = missing.contains(&scope);
                        tr {
                            td { (scope.label()) " " span.muted { "(" (scope.parameter()) ")" } }
                            td { @if lacking { span.bad { "missing" } } @else { span.good { "granted" } } }
                            td {
                                @if lacking {
                                    "Edit the API account in BigCommerce (Advanced Settings › API Accounts), set "
                                    (scope.setting()) ", and reconnect."
                                } @else { "—" }
                            }
                        }
                    }
                }
            } }
        },
    }
}

/// `POST /connect` (multipart: the fields, or the credentials file).
pub async fn create_connection(
    State(state): State<AppState>,
    user: WebUser,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let bad_form = || {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "The form could not be read. Reload the connect page and submit it again.",
        )
    };
    let mut csrf = None;
    let (mut store_url, mut client_id) = (String::new(), String::new());
    let (mut client_secret, mut access_token) = (String::new(), String::new());
    let mut file: Option<String> = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| bad_form())? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|_| bad_form())?;
        if bytes.len() > MAX_CREDENTIALS_FILE {
            return Err(PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "That file is too large to be BigCommerce's credentials .txt.",
            ));
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            CSRF_FIELD => csrf = Some(text),
            "store_url" => store_url = text,
            "client_id" => client_id = text,
            "client_secret" => client_secret = text,
            "access_token" => access_token = text,
            "credentials_file" if !text.trim().is_empty() => file = Some(text),
            _ => {}
        }
    }
    // Nothing else is looked at before the token matches.
    user.check_csrf(csrf.as_deref())?;
    let prefill = Prefill {
        store_url: store_url.clone(),
        client_id: client_id.clone(),
    };
    let email = user.email().to_owned();
    let input = match file {
        Some(text) => match ConnectInput::from_credentials_txt(email, &text) {
            Ok(input) => input,
            Err(error) => return Ok(failed(&user, &prefill, &error)),
        },
        None => ConnectInput {
            email,
            store_url,
            client_id,
            client_secret: SecretString::from(client_secret),
            access_token: SecretString::from(access_token),
        },
    };
    let settings = state.settings();
    let secret_box = settings.secret_box().map_err(|e| PageError::internal(&e))?;
    let verified = match connect::check(input, &settings.connect_settings()).await {
        Ok(verified) => verified,
        Err(error) => return Ok(failed(&user, &prefill, &error)),
    };
    let store = connect::save_verified(state.storage(), &secret_box, &verified).await?;
    if let Some(public_url) = &settings.public_url {
        // As `cenports connect`: a failure here is not fatal; serve's health check retries and
        // polling imports orders meanwhile.
        let registered = async {
            let client =
                crate::sync::scheduler::store_client(settings, state.storage(), &store).await?;
            Ok::<_, anyhow::Error>(
                crate::webhooks::registration::register_hooks(
                    state.storage(),
                    &secret_box,
                    &store,
                    &client,
                    public_url,
                )
                .await?,
            )
        }
        .await;
        if let Err(error) = registered {
            tracing::warn!(store.id = store.id().get(), error = %format!("{error:#}"), "webhooks could not be registered on connect");
        }
    }
    // The first import starts now, not at the scheduler's next tick (up to `sync_interval`
    // away): the merchant watches their orders arrive.
    let id = store.id().get();
    if let Err(error) = crate::service::sync::trigger_sync(&state, user.access(), id).await {
        tracing::warn!(store.id = id, error = %error, "the first sync could not start on connect; the scheduler will run it");
    }
    Ok(Redirect::to(&format!("/stores/{id}?notice=connected")).into_response())
}

fn failed(user: &WebUser, prefill: &Prefill, error: &ConnectError) -> Response {
    let failure = match error {
        ConnectError::MissingScopes(missing) => Failure::Scopes {
            message: error.to_string(),
            missing: missing.iter().map(|c| c.scope).collect(),
        },
        other => Failure::Other(other.to_string()),
    };
    page(
        user,
        prefill,
        Some(&failure),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}
