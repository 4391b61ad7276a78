//! Connect a store: the form of the store's channel (the fields of its API account as the
//! merchant guide lists them, or the file its control panel downloads), checked on submit by the
//! channel ([`crate::channel::Channel::check`]); each permission shown with pass/fail and the
//! fix in the channel's words; saved by [`crate::channel::credentials::save_verified`] only once
//! the check passed — the same code as `cenports connect`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use secrecy::SecretString;
use serde::Deserialize;

use super::{capitalise, layout, PageError, WebUser, CSRF_FIELD};
use crate::channel::{Channel, ConnectRefused, ConnectSubmission};
use crate::service::stores::scope_for;
use crate::service::AppState;

/// The form field naming the channel being connected.
const CHANNEL_FIELD: &str = "channel";
/// The longest value a connect field takes (characters); channels' ids and tokens are
/// tens of characters.
const MAX_FIELD_CHARS: usize = 4_096;

/// The fields shown again after a failed check: never a secret's.
type Prefill = BTreeMap<String, String>;

#[derive(Deserialize)]
pub struct ConnectQuery {
    /// Reconnect: prefill from this store of the caller's.
    #[serde(default)]
    store: Option<String>,
    /// Which channel's form (default: the first the hub knows).
    #[serde(default)]
    channel: Option<String>,
}

/// The channel named `name`, else the first registered.
fn channel_named(state: &AppState, name: Option<&str>) -> Result<Arc<dyn Channel>, PageError> {
    let channels = state.channels();
    let found = match name {
        Some(name) => channels.get(name),
        None => channels.all().first(),
    };
    found.cloned().ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "The hub does not know that channel. Go back to the connect page and pick one.",
        )
    })
}

/// `GET /connect` (`?store={id}` to reconnect: the form prefilled with what identifies the
/// store; `?channel={name}` for another channel's form).
pub async fn show_connect(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ConnectQuery>,
) -> Result<Response, PageError> {
    let mut prefill = Prefill::new();
    let mut channel_name = query.channel.clone();
    if let Some(store) = query.store.as_deref() {
        let id = super::path_id(store)?;
        let scope = scope_for(&state, user.access(), id).await?;
        let store = state.storage().get_store(&scope).await?;
        let channel = channel_named(&state, Some(&store.channel))?;
        for (field, value) in channel.reconnect_prefill(&store) {
            prefill.insert(field.to_owned(), value);
        }
        channel_name = Some(store.channel.clone());
    }
    let channel = channel_named(&state, channel_name.as_deref())?;
    Ok(page(
        &state,
        &user,
        channel.as_ref(),
        &prefill,
        None,
        StatusCode::OK,
    ))
}

fn page(
    state: &AppState,
    user: &WebUser,
    channel: &dyn Channel,
    prefill: &Prefill,
    failure: Option<&ConnectRefused>,
    status: StatusCode,
) -> Response {
    let form = channel.connect_form();
    let others: Vec<&Arc<dyn Channel>> = state
        .channels()
        .all()
        .iter()
        .filter(|c| c.name() != channel.name())
        .collect();
    let body = html! {
        @if let Some(failure) = failure { (failure_markup(form.permissions_caption, failure)) }
        @if !others.is_empty() {
            p {
                "Connecting a " (channel.display_name()) " store. Another channel: "
                @for (i, other) in others.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href={ "/connect?channel=" (other.name()) } { (other.display_name()) }
                }
            }
        }
        p { (form.intro) }
        form.card method="post" action="/connect" enctype="multipart/form-data" {
            (user.csrf_input())
            input type="hidden" name=(CHANNEL_FIELD) value=(channel.name());
            label for="email" { "Cenports user email" }
            input id="email" type="email" value=(user.email()) readonly aria-describedby="email-hint";
            span.hint id="email-hint" { "The store is saved under the account you are signed in with." }
            @for field in &form.fields {
                label for=(field.name) { (field.label) }
                @let hint_id = format!("{}-hint", field.name);
                @if field.secret {
                    input id=(field.name) name=(field.name) type="password" autocomplete="off";
                } @else if field.hint.is_empty() {
                    input id=(field.name) name=(field.name)
                        value=(prefill.get(field.name).map(String::as_str).unwrap_or_default())
                        placeholder=(field.placeholder) autocomplete="off";
                } @else {
                    input id=(field.name) name=(field.name)
                        value=(prefill.get(field.name).map(String::as_str).unwrap_or_default())
                        placeholder=(field.placeholder) aria-describedby=(hint_id);
                }
                @if !field.hint.is_empty() {
                    span.hint id=(hint_id) { (field.hint) }
                }
            }
            @if let Some(file) = &form.file {
                label for=(file.name) { (file.label) }
                input id=(file.name) name=(file.name) type="file" accept=(file.accept);
                span.hint { (file.hint) }
            }
            button type="submit" { "Check and connect" }
        }
    };
    let mut response = layout("Connect a store", Some(user), body).into_response();
    *response.status_mut() = status;
    response
}

fn failure_markup(caption: &str, failure: &ConnectRefused) -> Markup {
    html! {
        p.error role="alert" { (capitalise(&failure.message)) }
        @if !failure.permissions.is_empty() {
            div.table-wrap { table {
                caption { (caption) }
                thead { tr { th scope="col" { "Scope" } th scope="col" { "Check" } th scope="col" { "Fix" } } }
                tbody {
                    @for permission in &failure.permissions {
                        tr {
                            td { (permission.label) " " span.muted { "(" (permission.code) ")" } }
                            td { @if permission.granted { span.good { "granted" } } @else { span.bad { "missing" } } }
                            td {
                                @if permission.granted { "—" } @else { (capitalise(&permission.fix)) "." }
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// `POST /connect` (multipart: the channel's fields, or its file).
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
    let mut channel_name = None;
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| bad_form())? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|_| bad_form())?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            CSRF_FIELD => csrf = Some(text),
            CHANNEL_FIELD => channel_name = Some(text),
            _ => {
                values.insert(name, text);
            }
        }
    }
    // Nothing else is looked at before the token matches.
    user.check_csrf(csrf.as_deref())?;
    let channel = channel_named(&state, channel_name.as_deref())?;
    let form = channel.connect_form();
    let mut fields = BTreeMap::new();
    let mut prefill = Prefill::new();
    for field in &form.fields {
        let value = values.remove(field.name).unwrap_or_default();
        let length = value.chars().count();
        if length > MAX_FIELD_CHARS {
            return Err(PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "The {} is {length} characters long; at most {MAX_FIELD_CHARS} are taken. \
                     Copy it again from the API account (or give the credentials .txt).",
                    field.label
                ),
            ));
        }
        if !field.secret {
            prefill.insert(field.name.to_owned(), value.clone());
        }
        fields.insert(field.name.to_owned(), SecretString::from(value));
    }
    let mut file = None;
    if let Some(spec) = &form.file {
        if let Some(text) = values.remove(spec.name).filter(|t| !t.trim().is_empty()) {
            if text.len() > spec.max_bytes {
                return Err(PageError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "The file given as \"{}\" is {} bytes; at most {} are taken. Give \
                         the .txt the channel downloaded, as it is.",
                        spec.label,
                        text.len(),
                        spec.max_bytes
                    ),
                ));
            }
            file = Some(SecretString::from(text));
        }
    }
    let submission = ConnectSubmission {
        email: user.email().to_owned(),
        fields,
        file,
    };
    let secret_box = state.channels().secret_box().clone();
    let verified = match channel.check(submission).await {
        Ok(verified) => verified,
        Err(refused) => {
            return Ok(page(
                &state,
                &user,
                channel.as_ref(),
                &prefill,
                Some(&refused),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    };
    let store =
        crate::channel::credentials::save_verified(state.storage(), &secret_box, &verified).await?;
    if let Some(public_url) = &state.settings().public_url {
        // As `cenports connect`: a failure here is not fatal; serve's health check retries and
        // polling imports orders meanwhile.
        let registered = async {
            let client = state.channels().client(state.storage(), &store).await?;
            // A channel that calls nobody back (Amazon) is polled only.
            if client.hooks().is_none() {
                return Ok::<_, anyhow::Error>(None);
            }
            Ok(Some(
                crate::webhooks::registration::register_hooks(
                    state.storage(),
                    &secret_box,
                    &store,
                    client.as_ref(),
                    public_url,
                )
                .await?,
            ))
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
