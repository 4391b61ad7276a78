//! Connecting a store: parse what the merchant has, check it on the spot, and name exactly
//! what is missing.
//!
//! The merchant guide (the knowledge-base article that has a merchant create the API account
//! with the three scopes below) ended with "email us your Client ID, Client Secret and Access
//! Token". [`check`] replaces that email: it takes a [`ConnectInput`] (or a parsed
//! credentials `.txt`, [`parse_credentials_txt`]), finds the store hash in the store URL
//! without any request ([`parse_store_url`]), then probes BigCommerce with requests that
//! cannot change data and reports each of the three scopes the guide asks for separately.
//! On success it returns a [`VerifiedStore`]: the store profile, the hash, the client id and
//! the secrets, ready to be encrypted ([`crate::secrets`]) and saved.
//!
//! The types at the edge ([`ConnectInput`], [`VerifiedStore`], [`StoreProfile`],
//! [`ConnectError`]) say nothing about HTTP; BigCommerce specifics (paths, scopes, status
//! codes) stay inside. How each probe works and why it is safe is in `docs/CONNECT.md`.
//!
//! **The API host is the operator's choice, never the merchant's.** Requests go only to
//! [`ConnectSettings::api_base_url`] (`https://api.bigcommerce.com` by default,
//! `CENPORTS_BIGCOMMERCE_API_URL` for a sandbox). A store URL or `API PATH` naming another
//! host is refused before anything is sent, so pasted credentials cannot make the hub send a
//! token somewhere else.

mod input;
mod probe;

use std::fmt;
use std::time::Duration;

use bigcommerce_client::{ClientConfig, DEFAULT_API_BASE_URL};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

pub use input::{
    parse_credentials_txt, parse_store_url, ConnectInput, Credentials, StoreHash,
    FIELD_ACCESS_TOKEN, FIELD_API_PATH, FIELD_CLIENT_ID, FIELD_CLIENT_SECRET,
};
pub use probe::check;

use input::join_words;

/// The environment variable that points the hub at another BigCommerce API host (a sandbox).
pub const API_URL_ENV: &str = "CENPORTS_BIGCOMMERCE_API_URL";

/// Where to find the permanent address, in the control panel's words.
const PERMANENT_ADDRESS_HELP: &str = "in the BigCommerce control panel open Store Profile \
     (Store Details on older control panels) and copy the Permanent Address, \
     https://store-XXXX.mybigcommerce.com, where XXXX is the store hash";

/// How connect checks reach BigCommerce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSettings {
    /// The API host every request goes to, without `/stores/{hash}`.
    pub api_base_url: Url,
    /// Time allowed for each probe request.
    pub timeout: Duration,
}

impl Default for ConnectSettings {
    fn default() -> Self {
        ConnectSettings {
            api_base_url: Url::parse(DEFAULT_API_BASE_URL).expect("the default URL is valid"),
            timeout: Duration::from_secs(30),
        }
    }
}

impl ConnectSettings {
    /// Settings for this API host with the default timeout.
    pub fn new(api_base_url: Url) -> ConnectSettings {
        ConnectSettings {
            api_base_url,
            ..ConnectSettings::default()
        }
    }

    /// A client configuration for one store on the configured host, pacing on. The same
    /// builder serves the connect probes and every client of the store afterwards
    /// ([`super::BigCommerce::client_config`]).
    pub fn client_config(
        &self,
        store_hash: &StoreHash,
        access_token: SecretString,
        client_id: &str,
        client_secret: Option<SecretString>,
    ) -> ClientConfig {
        let mut config = ClientConfig::new(store_hash.as_str(), access_token, client_id);
        config.api_base_url = self.api_base_url.clone();
        config.client_secret = client_secret;
        config.timeout = self.timeout;
        config.connect_timeout = self.timeout.min(config.connect_timeout);
        config.pacing = true;
        config
    }
}

/// A scope the merchant guide asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequiredScope {
    /// Orders: Modify (`store_v2_orders`): read orders, write shipments and statuses.
    OrdersModify,
    /// Products: Modify (`store_v2_products`): read the catalog, push stock levels.
    ProductsModify,
    /// Information & Settings: Read-only (`store_v2_information_read_only`): the store profile.
    InformationReadOnly,
}

impl RequiredScope {
    /// The three scopes, in the guide's order.
    pub const ALL: [RequiredScope; 3] = [
        RequiredScope::OrdersModify,
        RequiredScope::ProductsModify,
        RequiredScope::InformationReadOnly,
    ];

    /// BigCommerce's UI words, e.g. `Orders: Modify`.
    pub fn label(self) -> &'static str {
        match self {
            RequiredScope::OrdersModify => "Orders: Modify",
            RequiredScope::ProductsModify => "Products: Modify",
            RequiredScope::InformationReadOnly => "Information & Settings: Read-only",
        }
    }

    /// BigCommerce's parameter name, e.g. `store_v2_orders`.
    pub fn parameter(self) -> &'static str {
        match self {
            RequiredScope::OrdersModify => "store_v2_orders",
            RequiredScope::ProductsModify => "store_v2_products",
            RequiredScope::InformationReadOnly => "store_v2_information_read_only",
        }
    }

    /// The setting to change in the API account, e.g. `Orders to Modify`.
    pub fn setting(self) -> &'static str {
        match self {
            RequiredScope::OrdersModify => "Orders to Modify",
            RequiredScope::ProductsModify => "Products to Modify",
            RequiredScope::InformationReadOnly => "Information & Settings to Read-only",
        }
    }
}

impl fmt::Display for RequiredScope {
    /// `Orders: Modify (store_v2_orders)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label(), self.parameter())
    }
}

/// One request of a scope check and what it showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The request, e.g. `PUT /v2/orders/0 {}`.
    pub request: String,
    /// What the answer means, e.g. `404: allowed (order 0 never exists)`.
    pub outcome: String,
}

/// The verdict on one required scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeCheck {
    /// The scope.
    pub scope: RequiredScope,
    /// Whether the access token has it.
    pub granted: bool,
    /// The requests that decided it.
    pub probes: Vec<Probe>,
}

impl ScopeCheck {
    /// The fix in BigCommerce's words, e.g. `set Orders to Modify`.
    pub fn fix(&self) -> String {
        format!(
            "edit the API account in BigCommerce (Advanced Settings › API Accounts), set {}, and \
             reconnect",
            self.scope.setting()
        )
    }
}

/// The store's profile from `GET /v2/store`, as saved with the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreProfile {
    /// Store name.
    pub name: Option<String>,
    /// Primary (storefront) domain.
    pub domain: Option<String>,
    /// Storefront URL.
    pub secure_url: Option<String>,
    /// Control panel URL (the permanent address).
    pub control_panel_url: Option<String>,
    /// `live`, `prelaunch`...
    pub status: Option<String>,
    /// Default currency code, e.g. `USD`.
    pub currency: Option<String>,
    /// IANA time zone name, e.g. `America/Chicago`.
    pub timezone: Option<String>,
    /// Offset from UTC in seconds (outside daylight saving time).
    pub timezone_offset_seconds: Option<i64>,
    /// Weight unit, e.g. `Ounces`.
    pub weight_units: Option<String>,
    /// Dimension unit, e.g. `Inches`.
    pub dimension_units: Option<String>,
    /// Plan name (the API quota depends on it).
    pub plan_name: Option<String>,
    /// Plan level.
    pub plan_level: Option<String>,
    /// ISO country code.
    pub country_code: Option<String>,
}

/// A store whose credentials were checked: everything to save.
///
/// `Debug` prints `***` for the secrets.
#[derive(Clone)]
pub struct VerifiedStore {
    /// The Cenports user's email, trimmed.
    pub email: String,
    /// The store hash.
    pub store_hash: StoreHash,
    /// The API host the store was checked against.
    pub api_base_url: Url,
    /// The API account's Client ID.
    pub client_id: String,
    /// The API account's Client Secret.
    pub client_secret: SecretString,
    /// The API account's Access Token.
    pub access_token: SecretString,
    /// The store profile.
    pub profile: StoreProfile,
    /// Each required scope with the probes that showed it granted.
    pub scopes: Vec<ScopeCheck>,
}

impl VerifiedStore {
    /// A client configuration for this store.
    pub fn client_config(&self, settings: &ConnectSettings) -> ClientConfig {
        settings.client_config(
            &self.store_hash,
            self.access_token.clone(),
            &self.client_id,
            Some(self.client_secret.clone()),
        )
    }
}

impl fmt::Debug for VerifiedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedStore")
            .field("email", &self.email)
            .field("store_hash", &self.store_hash)
            .field("api_base_url", &self.api_base_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("access_token", &"***")
            .field("profile", &self.profile)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Why a store could not be connected. Each message says what to change, in BigCommerce's
/// words; none contains a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A required input is empty.
    #[error("the {field} is missing: copy it from the API account's credentials and try again")]
    MissingField {
        /// Which input.
        field: &'static str,
    },

    /// The email is not an email address.
    #[error("{email:?} is not an email address: give the email you use to log into Cenports")]
    InvalidEmail {
        /// What was given.
        email: String,
    },

    /// A secret was pasted into the store URL field.
    #[error(
        "the store URL field holds the {field}: put the store's Permanent Address there \
         (https://store-XXXX.mybigcommerce.com) and the {field} in its own field"
    )]
    SecretInStoreUrl {
        /// Which secret.
        field: &'static str,
    },

    /// The credentials file lacks a line or is inconsistent.
    #[error("the credentials file {problem}")]
    CredentialsFile {
        /// What is wrong and how to fix it.
        problem: String,
    },

    /// The store URL is neither a permanent address, an API path nor a store hash.
    #[error(
        "{store_url:?} is not a store URL Cenports understands: {PERMANENT_ADDRESS_HELP}; the \
         API PATH line of the credentials file (https://api.bigcommerce.com/stores/XXXX/v3/) or \
         the bare store hash work too"
    )]
    InvalidStoreUrl {
        /// What was given.
        store_url: String,
    },

    /// The store URL is the storefront's own domain, which does not name the store hash.
    #[error(
        "{domain} is the storefront's own domain, which does not tell which BigCommerce store it \
         is: {PERMANENT_ADDRESS_HELP}"
    )]
    CustomDomain {
        /// The domain given.
        domain: String,
    },

    /// The API path names a host other than the configured one.
    #[error(
        "the API path points at {host}, but this hub sends BigCommerce requests only to \
         {configured}, the API URL its operator configured: credentials must never make the hub \
         call an address the operator did not choose. Use the store's Permanent Address \
         (https://store-XXXX.mybigcommerce.com) or an API path on that host; to use another API \
         host, the operator sets {API_URL_ENV} (or the API URL in the config file)"
    )]
    ForeignApiHost {
        /// The host the input named.
        host: String,
        /// The configured API base URL.
        configured: String,
    },

    /// 401 for a token that does not even look like one of BigCommerce's.
    #[error(
        "BigCommerce rejected the access token: copy it again from the API account, or create a \
         new API account (Advanced Settings › API Accounts)"
    )]
    BadToken,

    /// 404 "store not found", or 401 for a well-formed token: the store hash is wrong.
    #[error(
        "{}: the store hash is wrong. {}; the API PATH line of the credentials file \
         (https://api.bigcommerce.com/stores/XXXX/v3/) names it too{}",
        if *token_rejected {
            format!(
                "BigCommerce did not accept this access token for store {store_hash}, and the \
                 token looks complete (a token only works for the store it was created in)"
            )
        } else {
            format!("BigCommerce has no store with the store hash {store_hash}")
        },
        capitalized(PERMANENT_ADDRESS_HELP),
        if *token_rejected {
            ". If the store hash is right, the token was revoked or mistyped: copy it again, or \
             create a new API account (Advanced Settings › API Accounts)"
        } else {
            ""
        }
    )]
    WrongStoreHash {
        /// The hash tried.
        store_hash: StoreHash,
        /// `true` for a 401 (token refused), `false` for a 404 (no such store).
        token_rejected: bool,
    },

    /// The token lacks one or more of the guide's scopes. Holds only the missing ones.
    #[error("{}", missing_scopes_message(.0))]
    MissingScopes(Vec<ScopeCheck>),

    /// The API host could not be reached (DNS, connection refused, TLS, timeout).
    #[error(
        "the BigCommerce API at {api_base_url} could not be reached: check the network \
         connection, or the API URL setting ({API_URL_ENV}) if it points at a sandbox"
    )]
    Unreachable {
        /// The configured API base URL.
        api_base_url: String,
        /// The client's error (never contains the token); boxed to keep the enum small.
        #[source]
        source: Box<bigcommerce_client::Error>,
    },

    /// BigCommerce answered something the check does not expect (429 on every try, 5xx...).
    #[error("BigCommerce could not check the store: {source}")]
    Api {
        /// The client's error; its message says what to do.
        #[source]
        source: Box<bigcommerce_client::Error>,
    },
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn missing_scopes_message(missing: &[ScopeCheck]) -> String {
    let labels: Vec<String> = missing.iter().map(|c| c.scope.to_string()).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let settings: Vec<&str> = missing.iter().map(|c| c.scope.setting()).collect();
    format!(
        "the access token lacks {}; edit the API account in BigCommerce (Advanced Settings › API \
         Accounts), set {}, and reconnect",
        join_words(&labels, "and"),
        join_words(&settings, "and"),
    )
}

impl VerifiedStore {
    /// The store as the core saves it ([`crate::channel::credentials::save_verified`]).
    pub fn into_verified(self) -> crate::channel::VerifiedStore {
        let p = &self.profile;
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let permissions = self.scopes.iter().map(ScopeCheck::permission).collect();
        crate::channel::VerifiedStore {
            email: self.email.clone(),
            channel: super::CHANNEL,
            store_key: self.store_hash.as_str().to_owned(),
            api_base_url: self.api_base_url.to_string(),
            profile: crate::storage::StoreProfile {
                name: text(&p.name),
                domain: text(&p.domain),
                currency: text(&p.currency),
                timezone: text(&p.timezone),
                weight_units: text(&p.weight_units),
                dimension_units: text(&p.dimension_units),
                plan: text(&p.plan_name),
            },
            credentials: crate::channel::Credentials {
                client_id: self.client_id,
                client_secret: self.client_secret,
                access_token: self.access_token,
            },
            permissions,
        }
    }
}

impl ScopeCheck {
    /// The verdict in the seam's words.
    pub fn permission(&self) -> crate::channel::PermissionCheck {
        crate::channel::PermissionCheck {
            label: self.scope.label().to_owned(),
            code: self.scope.parameter().to_owned(),
            granted: self.granted,
            fix: self.fix(),
        }
    }
}

impl ConnectError {
    /// The refusal in the seam's words: the message, and every required scope with its verdict
    /// when the check reached the scopes.
    pub fn refused(&self) -> crate::channel::ConnectRefused {
        let permissions = match self {
            ConnectError::MissingScopes(missing) => RequiredScope::ALL
                .iter()
                .map(|scope| {
                    let check = ScopeCheck {
                        scope: *scope,
                        granted: !missing.iter().any(|m| m.scope == *scope),
                        probes: Vec::new(),
                    };
                    check.permission()
                })
                .collect(),
            _ => Vec::new(),
        };
        crate::channel::ConnectRefused {
            message: self.to_string(),
            permissions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(scope: RequiredScope) -> ScopeCheck {
        ScopeCheck {
            scope,
            granted: false,
            probes: Vec::new(),
        }
    }

    #[test]
    fn one_missing_scope_names_it_and_its_setting() {
        let error = ConnectError::MissingScopes(vec![missing(RequiredScope::OrdersModify)]);
        assert_eq!(
            error.to_string(),
            "the access token lacks Orders: Modify (store_v2_orders); edit the API account in \
             BigCommerce (Advanced Settings › API Accounts), set Orders to Modify, and reconnect"
        );
    }

    #[test]
    fn several_missing_scopes_are_listed_in_one_sentence() {
        let error = ConnectError::MissingScopes(vec![
            missing(RequiredScope::OrdersModify),
            missing(RequiredScope::ProductsModify),
        ]);
        let message = error.to_string();
        assert!(
            message.starts_with(
                "the access token lacks Orders: Modify (store_v2_orders) and Products: Modify \
                 (store_v2_products);"
            ),
            "{message}"
        );
        assert!(
            message.contains("set Orders to Modify and Products to Modify, and reconnect"),
            "{message}"
        );
    }
}
