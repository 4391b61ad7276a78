//! What the merchant hands over, parsed without a single request: the store URL in any of
//! its forms, and BigCommerce's downloaded credentials `.txt`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{ConnectError, ConnectSettings};

/// The host of a store's permanent address: `store-{hash}.mybigcommerce.com`.
const PERMANENT_HOST_PREFIX: &str = "store-";
const PERMANENT_HOST_SUFFIX: &str = ".mybigcommerce.com";

/// A BigCommerce store hash: lowercase ASCII letters and digits (`abc123xyz0`), parsed once at
/// the edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StoreHash(String);

impl StoreHash {
    /// Longest hash accepted; BigCommerce's are about ten characters.
    pub const MAX_LEN: usize = 32;

    /// Parses a bare hash. Upper case is folded (hosts are case-insensitive, and every
    /// BigCommerce hash is lower case).
    pub fn parse(text: &str) -> Option<StoreHash> {
        let text = text.trim();
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| StoreHash(text.to_ascii_lowercase()))
    }

    /// The hash as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store's permanent address, `https://store-{hash}.mybigcommerce.com`.
    pub fn permanent_address(&self) -> String {
        format!(
            "https://{PERMANENT_HOST_PREFIX}{}{PERMANENT_HOST_SUFFIX}",
            self.0
        )
    }
}

impl fmt::Display for StoreHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for StoreHash {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        StoreHash::parse(&value).ok_or_else(|| format!("{value:?} is not a store hash"))
    }
}

impl From<StoreHash> for String {
    fn from(hash: StoreHash) -> String {
        hash.0
    }
}

/// What the merchant guide asks for: the Cenports user's email, the store URL, and the API
/// account's Client ID, Client Secret and Access Token.
///
/// `Debug` prints `***` for the secrets.
#[derive(Clone)]
pub struct ConnectInput {
    /// The Cenports user's email.
    pub email: String,
    /// The permanent address, an API path, or a bare store hash.
    pub store_url: String,
    /// The API account's Client ID.
    pub client_id: String,
    /// The API account's Client Secret (it keys webhook signatures).
    pub client_secret: SecretString,
    /// The API account's Access Token.
    pub access_token: SecretString,
}

impl ConnectInput {
    /// The input for a parsed credentials file: its `API PATH` is the store URL.
    pub fn from_credentials(email: impl Into<String>, credentials: Credentials) -> ConnectInput {
        ConnectInput {
            email: email.into(),
            store_url: credentials.api_path,
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            access_token: credentials.access_token,
        }
    }

    /// Parses a credentials `.txt` ([`parse_credentials_txt`]) into an input.
    pub fn from_credentials_txt(
        email: impl Into<String>,
        text: &str,
    ) -> Result<ConnectInput, ConnectError> {
        Ok(Self::from_credentials(email, parse_credentials_txt(text)?))
    }
}

impl fmt::Debug for ConnectInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectInput")
            .field("email", &self.email)
            .field("store_url", &self.store_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("access_token", &"***")
            .finish()
    }
}

/// The credentials file BigCommerce downloads when an API account is created.
#[derive(Clone)]
pub struct Credentials {
    /// `ACCESS TOKEN:`
    pub access_token: SecretString,
    /// `CLIENT ID:`
    pub client_id: String,
    /// `CLIENT SECRET:`
    pub client_secret: SecretString,
    /// `CLIENT NAME:` (or `NAME:`), the API account's name; informational, so optional.
    pub client_name: Option<String>,
    /// `API PATH:`, e.g. `https://api.bigcommerce.com/stores/{hash}/v3/`.
    pub api_path: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_token", &"***")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("client_name", &self.client_name)
            .field("api_path", &self.api_path)
            .finish()
    }
}

/// The lines of the credentials file, as BigCommerce labels them.
pub const FIELD_ACCESS_TOKEN: &str = "ACCESS TOKEN";
/// See [`FIELD_ACCESS_TOKEN`].
pub const FIELD_CLIENT_ID: &str = "CLIENT ID";
/// See [`FIELD_ACCESS_TOKEN`].
pub const FIELD_CLIENT_SECRET: &str = "CLIENT SECRET";
/// See [`FIELD_ACCESS_TOKEN`].
pub const FIELD_API_PATH: &str = "API PATH";

/// Parses BigCommerce's credentials `.txt`: `KEY: value` lines `ACCESS TOKEN`, `CLIENT ID`,
/// `CLIENT SECRET`, `CLIENT NAME` (or `NAME`) and `API PATH`, in any order.
///
/// Tolerant of what editors and mail clients do to a text file: a byte-order mark, CRLF or CR
/// line ends, blank lines, extra spaces and tabs, lower-case labels; unknown lines are ignored.
/// Every missing (or empty) required line is named in one error. A label given twice with two
/// different values is refused, since either could be the stale one.
pub fn parse_credentials_txt(text: &str) -> Result<Credentials, ConnectError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut access_token: Option<String> = None;
    let mut client_id: Option<String> = None;
    let mut client_secret: Option<String> = None;
    let mut client_name: Option<String> = None;
    let mut api_path: Option<String> = None;

    for line in text.split(['\n', '\r']) {
        let Some((label, value)) = line.split_once(':') else {
            continue;
        };
        let label = label
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_uppercase();
        let value = value.trim();
        let slot = match label.trim_start_matches('\u{feff}') {
            FIELD_ACCESS_TOKEN => (&mut access_token, FIELD_ACCESS_TOKEN),
            FIELD_CLIENT_ID => (&mut client_id, FIELD_CLIENT_ID),
            FIELD_CLIENT_SECRET => (&mut client_secret, FIELD_CLIENT_SECRET),
            "CLIENT NAME" | "NAME" => (&mut client_name, "CLIENT NAME"),
            FIELD_API_PATH => (&mut api_path, FIELD_API_PATH),
            _ => continue,
        };
        if value.is_empty() {
            continue;
        }
        match slot.0 {
            Some(previous) if previous != value => {
                return Err(ConnectError::CredentialsFile {
                    problem: format!(
                        "has two different {} lines; use the file exactly as BigCommerce \
                         downloaded it",
                        slot.1
                    ),
                })
            }
            _ => *slot.0 = Some(value.to_owned()),
        }
    }

    let mut missing = Vec::new();
    for (value, field) in [
        (&access_token, FIELD_ACCESS_TOKEN),
        (&client_id, FIELD_CLIENT_ID),
        (&client_secret, FIELD_CLIENT_SECRET),
        (&api_path, FIELD_API_PATH),
    ] {
        if value.is_none() {
            missing.push(field);
        }
    }
    if !missing.is_empty() {
        return Err(ConnectError::CredentialsFile {
            problem: format!(
                "has no {} line{}; use the .txt file BigCommerce downloaded when the API account \
                 was created (it holds ACCESS TOKEN, CLIENT ID, CLIENT SECRET and API PATH), or \
                 enter the values by hand",
                join_words(&missing, "or"),
                if missing.len() > 1 { "s" } else { "" },
            ),
        });
    }
    // Every `None` was reported above.
    let (Some(access_token), Some(client_id), Some(client_secret), Some(api_path)) =
        (access_token, client_id, client_secret, api_path)
    else {
        unreachable!("missing fields are reported above");
    };
    Ok(Credentials {
        access_token: SecretString::from(access_token),
        client_id,
        client_secret: SecretString::from(client_secret),
        client_name,
        api_path,
    })
}

/// Finds the store hash in a store URL, without any request.
///
/// Accepted: the permanent address `https://store-{hash}.mybigcommerce.com` (scheme, trailing
/// slash and path optional); an API path `https://api.bigcommerce.com/stores/{hash}/v3/` (or
/// `v2`, or any path under `/stores/{hash}`) **whose host is the configured API host**; a bare
/// hash. A storefront's own domain is refused with directions to the permanent address, and an
/// API path on any other host is refused: the hub only ever calls
/// [`ConnectSettings::api_base_url`], which the operator chose.
pub fn parse_store_url(
    store_url: &str,
    settings: &ConnectSettings,
) -> Result<StoreHash, ConnectError> {
    let text = store_url.trim();
    if text.is_empty() {
        return Err(ConnectError::MissingField { field: "store URL" });
    }
    if let Some(hash) = StoreHash::parse(text) {
        return Ok(hash);
    }
    let absolute = if text.contains("://") {
        text.to_owned()
    } else {
        format!("{}://{text}", settings.api_base_url.scheme())
    };
    let url = Url::parse(&absolute).map_err(|_| ConnectError::InvalidStoreUrl {
        store_url: text.to_owned(),
    })?;
    let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
        return Err(ConnectError::InvalidStoreUrl {
            store_url: text.to_owned(),
        });
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConnectError::InvalidStoreUrl {
            store_url: text.to_owned(),
        });
    }

    if let Some(hash) = host
        .strip_prefix(PERMANENT_HOST_PREFIX)
        .and_then(|rest| rest.strip_suffix(PERMANENT_HOST_SUFFIX))
    {
        return StoreHash::parse(hash).ok_or_else(|| ConnectError::InvalidStoreUrl {
            store_url: text.to_owned(),
        });
    }

    let segments: Vec<&str> = url
        .path_segments()
        .map(|segments| segments.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let stores_at = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("stores"));
    let is_configured_host = is_configured_api_host(&url, &host, &settings.api_base_url);

    if let Some(index) = stores_at {
        if !is_configured_host {
            return Err(ConnectError::ForeignApiHost {
                host: host_with_port(&url, &host),
                configured: settings.api_base_url.to_string(),
            });
        }
        return segments
            .get(index + 1)
            .and_then(|hash| StoreHash::parse(hash))
            .ok_or_else(|| ConnectError::InvalidStoreUrl {
                store_url: text.to_owned(),
            });
    }
    if is_configured_host {
        // The API host without `/stores/{hash}`: nothing names the store.
        return Err(ConnectError::InvalidStoreUrl {
            store_url: text.to_owned(),
        });
    }
    Err(ConnectError::CustomDomain { domain: host })
}

/// Whether `url` names the configured API host. The port counts only when the input gives
/// one explicitly, so `https://` vs `http://` on default ports does not matter: the hub never
/// calls the given URL, only the configured one.
fn is_configured_api_host(url: &Url, host: &str, configured: &Url) -> bool {
    let same_host = configured
        .host_str()
        .is_some_and(|configured| configured.eq_ignore_ascii_case(host));
    let same_port = match url.port() {
        None => true,
        Some(port) => configured.port_or_known_default() == Some(port),
    };
    same_host && same_port
}

fn host_with_port(url: &Url, host: &str) -> String {
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn join_words(words: &[&str], last: &str) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

/// Trims a pasted secret; `None` when nothing is left.
pub(crate) fn trimmed_secret(secret: &SecretString) -> Option<SecretString> {
    let trimmed = secret.expose_secret().trim();
    (!trimmed.is_empty()).then(|| SecretString::from(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base: &str) -> ConnectSettings {
        ConnectSettings {
            api_base_url: Url::parse(base).unwrap(),
            ..ConnectSettings::default()
        }
    }

    #[test]
    fn every_store_url_form_yields_the_hash() {
        let public = settings("https://api.bigcommerce.com");
        for form in [
            "abc123",
            " ABC123 ",
            "https://store-abc123.mybigcommerce.com",
            "https://store-abc123.mybigcommerce.com/",
            "store-abc123.mybigcommerce.com",
            "http://store-abc123.mybigcommerce.com/manage/dashboard",
            "https://api.bigcommerce.com/stores/abc123/v3/",
            "https://api.bigcommerce.com/stores/abc123/v2",
            "api.bigcommerce.com/stores/abc123",
        ] {
            let hash = parse_store_url(form, &public).unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(hash.as_str(), "abc123", "{form}");
        }
        let sandbox = settings("http://127.0.0.1:4010");
        assert_eq!(
            parse_store_url("http://127.0.0.1:4010/stores/abc123/v3/", &sandbox)
                .unwrap()
                .as_str(),
            "abc123"
        );
    }

    #[test]
    fn an_api_path_on_another_host_or_port_is_refused() {
        let sandbox = settings("http://127.0.0.1:4010");
        for form in [
            "https://api.bigcommerce.com/stores/abc123/v3/",
            "http://127.0.0.1:4011/stores/abc123/v3/",
            "https://evil.example/stores/abc123/v3/",
        ] {
            let error = parse_store_url(form, &sandbox).unwrap_err();
            assert!(
                matches!(error, ConnectError::ForeignApiHost { .. }),
                "{form}: {error}"
            );
        }
    }

    #[test]
    fn a_storefront_domain_is_told_where_the_permanent_address_is() {
        let error = parse_store_url(
            "https://shop.example.com",
            &settings("https://api.bigcommerce.com"),
        )
        .unwrap_err();
        assert!(
            matches!(error, ConnectError::CustomDomain { .. }),
            "{error}"
        );
    }

    #[test]
    fn words_are_joined_as_in_a_sentence() {
        assert_eq!(join_words(&["a"], "and"), "a");
        assert_eq!(join_words(&["a", "b"], "and"), "a and b");
        assert_eq!(join_words(&["a", "b", "c"], "or"), "a, b or c");
    }
}
