//! Connect: the form a channel asks a merchant to fill, and what its check returns.
//!
//! The dashboard renders [`ConnectForm`] and hands what was typed to [`super::Channel::check`]
//! as a [`ConnectSubmission`]; the check answers a [`VerifiedStore`] to save
//! ([`super::credentials::save_verified`]) or a [`ConnectRefused`] naming what is missing and
//! how to fix it, permission by permission.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::SecretString;

use super::Credentials;
use crate::storage::StoreProfile;

/// One field of a channel's connect form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectField {
    /// The form field's name, as [`ConnectSubmission::fields`] keys it.
    pub name: &'static str,
    /// The label, in the channel's own words (`Client ID`).
    pub label: &'static str,
    /// A password-style input whose value is never shown again.
    pub secret: bool,
    /// The example shown in the empty field.
    pub placeholder: &'static str,
    /// A line of help under the field.
    pub hint: &'static str,
}

/// A file a channel's own tools download, which the form accepts instead of the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFile {
    /// The form field's name.
    pub name: &'static str,
    /// The label.
    pub label: &'static str,
    /// A line of help under the field.
    pub hint: &'static str,
    /// The file types offered by the browser's picker (`.txt,text/plain`).
    pub accept: &'static str,
    /// The largest file accepted, in bytes.
    pub max_bytes: usize,
}

/// What a merchant fills to connect a store to a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectForm {
    /// The paragraph above the form.
    pub intro: &'static str,
    /// The fields, in order.
    pub fields: Vec<ConnectField>,
    /// A file the channel's own tools download, accepted instead of the fields (its text goes
    /// to [`ConnectSubmission::file`]).
    pub file: Option<ConnectFile>,
    /// The caption of the table of permissions shown after a refused check.
    pub permissions_caption: &'static str,
}

/// What a merchant submitted. Every value is held as a secret (the form does not know which
/// of a channel's fields are).
pub struct ConnectSubmission {
    /// The hub user the store is saved under.
    pub email: String,
    /// The fields by name.
    pub fields: BTreeMap<String, SecretString>,
    /// The uploaded file's text, when one was given (it then wins over the fields).
    pub file: Option<SecretString>,
}

impl fmt::Debug for ConnectSubmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectSubmission")
            .field("email", &self.email)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("file", &self.file.as_ref().map(|_| "***"))
            .finish()
    }
}

/// One permission the hub needs, as a check found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionCheck {
    /// The channel's words for it (`Orders: Modify`).
    pub label: String,
    /// The channel's code for it (`store_v2_orders`).
    pub code: String,
    /// Whether the credentials have it.
    pub granted: bool,
    /// What to do when it is missing, in the channel's words.
    pub fix: String,
}

/// A store whose credentials were checked: everything to save. `Debug` prints `***` for the
/// secrets.
#[derive(Clone)]
pub struct VerifiedStore {
    /// The hub user's email, trimmed.
    pub email: String,
    /// The channel's name (`stores.channel`).
    pub channel: &'static str,
    /// The channel's identity of the store (e.g. a store hash).
    pub store_key: String,
    /// The API the store was checked against.
    pub api_base_url: String,
    /// The store profile.
    pub profile: StoreProfile,
    /// The credentials, in clear until saved.
    pub credentials: Credentials,
    /// Every permission the hub needs, each granted.
    pub permissions: Vec<PermissionCheck>,
}

impl fmt::Debug for VerifiedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedStore")
            .field("email", &self.email)
            .field("channel", &self.channel)
            .field("store_key", &self.store_key)
            .field("api_base_url", &self.api_base_url)
            .field("profile", &self.profile)
            .field("credentials", &self.credentials)
            .field("permissions", &self.permissions)
            .finish()
    }
}

/// Why a store could not be connected: a message that says what to change (never a secret)
/// and, when the check got that far, every permission with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectRefused {
    /// What happened and what to do.
    pub message: String,
    /// Every permission the hub needs with its verdict; empty when the check stopped before
    /// the permissions (wrong store, bad token, unreachable).
    pub permissions: Vec<PermissionCheck>,
}

impl ConnectRefused {
    /// A refusal with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectRefused {
            message: message.into(),
            permissions: Vec::new(),
        }
    }
}
