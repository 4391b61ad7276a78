//! Connecting a seller: the form (or `amazon-merchant.json`), the token exchange, and one
//! harmless probe per role the hub needs, each named with its fix when missing.
//!
//! A seller authorises an app (Seller Central's authorisation workflow or a self-authorisation
//! in Solution Provider Portal); what the hub needs from that is the app's LWA client id and
//! secret, the seller's refresh token, the seller id (merchant token) and the marketplace.
//! [`check`] exchanges the refresh token at Login with Amazon, then probes:
//!
//! | role | probe | allowed when |
//! |---|---|---|
//! | Inventory and Order Tracking (orders) | `getOrders` of one order updated since 2020 | 200 |
//! | Product Listing (listings) | `getListingsItem` of a SKU that cannot exist | 200 or 404 |
//! | Direct-to-Consumer Shipping (restricted data) | `createRestrictedDataToken` for the order search | 200 |
//!
//! A 403 marks the role missing. Nothing is changed at Amazon.
//!
//! **The hosts are the operator's choice, never the merchant's.** A credentials file whose
//! `endpoint` or `auth_endpoint` names another host than the configured
//! `CENPORTS_AMAZON_API_URL` / `CENPORTS_AMAZON_AUTH_URL` is refused before any request, so a
//! file cannot make the hub send a refresh token somewhere else.

use std::sync::Arc;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::client::{AmazonError, Auth, SpApi};
use super::limiter::{Operation, SellerLimiter};
use super::{store_key, Amazon, API_URL_ENV, AUTH_URL_ENV, CHANNEL};
use crate::channel::{
    ConnectField, ConnectFile, ConnectForm, ConnectRefused, ConnectSubmission, Credentials,
    PermissionCheck, VerifiedStore,
};
use crate::storage::StoreProfile;

/// The form's seller id field.
pub const FIELD_SELLER_ID: &str = "seller_id";
/// The form's marketplace id field.
pub const FIELD_MARKETPLACE_ID: &str = "marketplace_id";
/// The form's LWA client id field.
pub const FIELD_CLIENT_ID: &str = "client_id";
/// The form's LWA client secret field.
pub const FIELD_CLIENT_SECRET: &str = "client_secret";
/// The form's refresh token field.
pub const FIELD_REFRESH_TOKEN: &str = "refresh_token";
/// The file the sandbox (`cenports sandbox --channel amazon`) writes.
pub const CREDENTIALS_FILE: &str = "amazon-merchant.json";
/// The largest credentials file accepted.
pub const MAX_CREDENTIALS_FILE: usize = 64 * 1024;

/// A SKU no seller has: the listings probe's target.
const PROBE_SKU: &str = "CENPORTS-CONNECT-PROBE-0";

/// The form.
pub fn form() -> ConnectForm {
    ConnectForm {
        intro: "Fill in the app authorisation: the seller id (merchant token) and marketplace \
                from Seller Central, the app's LWA client id and secret, and the refresh token \
                the seller's authorisation gave. Or upload amazon-merchant.json. The check runs \
                when you submit; nothing is saved until it passes.",
        fields: vec![
            ConnectField {
                name: FIELD_SELLER_ID,
                label: "Seller ID (merchant token)",
                secret: false,
                placeholder: "A1B2C3D4E5F6G7",
                hint: "Seller Central › Settings › Account Info › Merchant Token.",
            },
            ConnectField {
                name: FIELD_MARKETPLACE_ID,
                label: "Marketplace ID",
                secret: false,
                placeholder: "A2EUQ1WTGCTBG2",
                hint: "Canada A2EUQ1WTGCTBG2, United States ATVPDKIKX0DER.",
            },
            ConnectField {
                name: FIELD_CLIENT_ID,
                label: "LWA client ID",
                secret: false,
                placeholder: "amzn1.application-oa2-client.…",
                hint: "",
            },
            ConnectField {
                name: FIELD_CLIENT_SECRET,
                label: "LWA client secret",
                secret: true,
                placeholder: "",
                hint: "",
            },
            ConnectField {
                name: FIELD_REFRESH_TOKEN,
                label: "Refresh token",
                secret: true,
                placeholder: "Atzr|…",
                hint: "Given when the seller authorised the app.",
            },
        ],
        file: Some(ConnectFile {
            name: "credentials_file",
            label: "Or amazon-merchant.json",
            hint: "When a file is given, the fields above are not used.",
            accept: ".json,application/json",
            max_bytes: MAX_CREDENTIALS_FILE,
        }),
        permissions_caption: "The roles the app authorisation needs",
    }
}

/// A role of the app authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Inventory and Order Tracking: the Orders API and `confirmShipment`.
    Orders,
    /// Product Listing: the Listings Items API (stock).
    Listings,
    /// Direct-to-Consumer Shipping (restricted): restricted data tokens, for addresses.
    RestrictedData,
}

impl Role {
    /// Every role, in the order they are reported.
    pub const ALL: [Role; 3] = [Role::Orders, Role::Listings, Role::RestrictedData];

    /// Amazon's name of the role.
    pub fn label(self) -> &'static str {
        match self {
            Role::Orders => "Inventory and Order Tracking",
            Role::Listings => "Product Listing",
            Role::RestrictedData => "Direct-to-Consumer Shipping (restricted)",
        }
    }

    /// The hub's short name of what it is for.
    pub fn code(self) -> &'static str {
        match self {
            Role::Orders => "orders",
            Role::Listings => "listings",
            Role::RestrictedData => "restricted data",
        }
    }

    fn fix(self) -> String {
        format!(
            "add the {} role to the app (Solution Provider Portal › Develop Apps › Edit App), \
             have the seller authorise the app again, and reconnect with the new refresh token",
            self.label()
        )
    }
}

/// What `amazon-merchant.json` holds (the profiles are not read).
#[derive(Deserialize)]
struct MerchantFile {
    endpoint: String,
    auth_endpoint: String,
    seller_id: String,
    marketplace_id: String,
    client_id: String,
    client_secret: SecretString,
    refresh_token: SecretString,
}

/// What the merchant gave, parsed.
struct Input {
    email: String,
    seller_id: String,
    marketplace_id: String,
    client_id: String,
    client_secret: SecretString,
    refresh_token: SecretString,
}

fn refused(message: impl Into<String>) -> ConnectRefused {
    ConnectRefused::new(message)
}

/// Whether two URLs name the same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn parse_file(channel: &Amazon, email: String, text: &str) -> Result<Input, ConnectRefused> {
    let file: MerchantFile = serde_json::from_str(text).map_err(|error| {
        // Only where: serde's message may quote a value, and values here are secrets.
        refused(format!(
            "the credentials file is not an {CREDENTIALS_FILE} (unreadable or missing a field \
             at line {}, column {}); give the file the sandbox or your app's setup wrote, or \
             fill in the fields",
            error.line(),
            error.column()
        ))
    })?;
    for (name, given, configured, variable) in [
        ("endpoint", &file.endpoint, channel.api_url(), API_URL_ENV),
        (
            "auth_endpoint",
            &file.auth_endpoint,
            channel.auth_url(),
            AUTH_URL_ENV,
        ),
    ] {
        let url = Url::parse(given.trim()).map_err(|_| {
            refused(format!(
                "the credentials file's {name} {given:?} is not a URL"
            ))
        })?;
        if !same_origin(&url, configured) {
            return Err(refused(format!(
                "the credentials file's {name} points at {}, but this hub sends Amazon requests \
                 only to {}, the host its operator configured: credentials must never make the \
                 hub call an address the operator did not choose. To use another host, the \
                 operator sets {variable} (or the URL in the config file)",
                url.host_str().unwrap_or_default(),
                configured.host_str().unwrap_or_default(),
            )));
        }
    }
    Ok(Input {
        email,
        seller_id: file.seller_id,
        marketplace_id: file.marketplace_id,
        client_id: file.client_id,
        client_secret: file.client_secret,
        refresh_token: file.refresh_token,
    })
}

fn parse_fields(submission: ConnectSubmission) -> Input {
    let ConnectSubmission {
        email, mut fields, ..
    } = submission;
    let mut take = |name: &str| {
        fields
            .remove(name)
            .unwrap_or_else(|| SecretString::from(String::new()))
    };
    Input {
        email,
        seller_id: take(FIELD_SELLER_ID).expose_secret().to_owned(),
        marketplace_id: take(FIELD_MARKETPLACE_ID).expose_secret().to_owned(),
        client_id: take(FIELD_CLIENT_ID).expose_secret().to_owned(),
        client_secret: take(FIELD_CLIENT_SECRET),
        refresh_token: take(FIELD_REFRESH_TOKEN),
    }
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

fn identifier(value: &str, label: &str) -> Result<String, ConnectRefused> {
    let value = value.trim();
    if value.is_empty() {
        return Err(refused(format!(
            "the {label} is missing: copy it from Seller Central and try again"
        )));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric()) || value.len() > 32 {
        return Err(refused(format!(
            "the {label} holds characters an Amazon id never has (letters and digits only): \
             copy it again from Seller Central"
        )));
    }
    Ok(value.to_owned())
}

fn secret(value: SecretString, label: &str) -> Result<SecretString, ConnectRefused> {
    let trimmed = value.expose_secret().trim();
    if trimmed.is_empty() {
        return Err(refused(format!(
            "the {label} is missing: copy it from the app's authorisation and try again"
        )));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// The marketplace's storefront and currency, for the store profile.
fn marketplace(marketplace_id: &str) -> (&'static str, &'static str) {
    match marketplace_id {
        "A2EUQ1WTGCTBG2" => ("Amazon.ca", "CAD"),
        "ATVPDKIKX0DER" => ("Amazon.com", "USD"),
        "A1AM78C64UM0Y8" => ("Amazon.com.mx", "MXN"),
        "A2Q3Y263D00KWC" => ("Amazon.com.br", "BRL"),
        _ => ("", ""),
    }
}

/// Checks what the merchant gave against Amazon and returns the seller to save.
pub async fn check(
    channel: &Amazon,
    submission: ConnectSubmission,
) -> Result<VerifiedStore, ConnectRefused> {
    let email = submission.email.trim().to_owned();
    if email.is_empty() {
        return Err(refused("the Cenports user email is missing"));
    }
    if !looks_like_email(&email) {
        return Err(refused(format!(
            "{email:?} is not an email address: give the email you use to log into Cenports"
        )));
    }
    let input = match &submission.file {
        Some(text) => parse_file(channel, email, text.expose_secret())?,
        None => parse_fields(submission),
    };
    let seller_id = identifier(&input.seller_id, "seller id")?;
    let marketplace_id = identifier(&input.marketplace_id, "marketplace id")?;
    let client_id = input.client_id.trim().to_owned();
    if client_id.is_empty() {
        return Err(refused(
            "the LWA client id is missing: copy it from the app's LWA credentials",
        ));
    }
    let credentials = Credentials {
        client_id,
        client_secret: secret(input.client_secret, "LWA client secret")?,
        access_token: secret(input.refresh_token, "refresh token")?,
    };
    let mut config = channel.client_config(&seller_id, &marketplace_id, &credentials);
    config.max_retries = 1;
    config.max_quota_retries = 2;
    let api = SpApi::new(config, Arc::new(SellerLimiter::default()))
        .map_err(|error| refused(error.to_string()))?;
    let unreachable = |error: AmazonError| match error {
        AmazonError::Transport { .. } => refused(format!(
            "{error}; check the network, or the Amazon URL settings ({API_URL_ENV}, \
             {AUTH_URL_ENV}) if they point at a sandbox"
        )),
        other => refused(other.to_string()),
    };
    api.login().await.map_err(unreachable)?;

    let mut permissions = Vec::new();
    for role in Role::ALL {
        let probe = match role {
            Role::Orders => {
                api.call(
                    Operation::GetOrders,
                    Method::GET,
                    "/orders/v0/orders",
                    &[
                        ("MarketplaceIds", marketplace_id.clone()),
                        ("LastUpdatedAfter", "2020-01-01T00:00:00Z".into()),
                        ("MaxResultsPerPage", "1".into()),
                    ],
                    None,
                    Auth::Access,
                )
                .await
            }
            Role::Listings => {
                let path = format!("/listings/2021-08-01/items/{seller_id}/{PROBE_SKU}");
                api.call(
                    Operation::GetListingsItem,
                    Method::GET,
                    &path,
                    &[("marketplaceIds", marketplace_id.clone())],
                    None,
                    Auth::Access,
                )
                .await
            }
            Role::RestrictedData => api.create_restricted_data_token().await,
        };
        let granted = match probe {
            Ok(_) => true,
            Err(AmazonError::NotFound { .. }) if role == Role::Listings => true,
            Err(AmazonError::Unauthorized { .. }) => false,
            Err(AmazonError::Invalid { message, .. }) if role == Role::Orders => {
                return Err(refused(format!(
                    "Amazon refused the marketplace {marketplace_id} for this seller \
                     ({message}): give the marketplace the seller sells in (Canada \
                     A2EUQ1WTGCTBG2, United States ATVPDKIKX0DER)"
                )));
            }
            Err(error) => return Err(unreachable(error)),
        };
        permissions.push(PermissionCheck {
            label: role.label().to_owned(),
            code: role.code().to_owned(),
            granted,
            fix: role.fix(),
        });
    }
    let missing: Vec<Role> = Role::ALL
        .iter()
        .zip(&permissions)
        .filter(|(_, p)| !p.granted)
        .map(|(role, _)| *role)
        .collect();
    if !missing.is_empty() {
        tracing::info!(
            amazon.seller = %seller_id,
            missing = ?missing.iter().map(|r| r.code()).collect::<Vec<_>>(),
            "connect: roles missing"
        );
        return Err(ConnectRefused {
            message: missing_roles_message(&missing),
            permissions,
        });
    }
    let (domain, currency) = marketplace(&marketplace_id);
    tracing::info!(amazon.seller = %seller_id, amazon.marketplace = %marketplace_id, "connect: seller verified");
    Ok(VerifiedStore {
        email: input.email,
        channel: CHANNEL,
        store_key: store_key(&seller_id, &marketplace_id),
        api_base_url: channel.api_url().to_string(),
        profile: StoreProfile {
            name: format!("Amazon seller {seller_id}"),
            domain: domain.to_owned(),
            currency: currency.to_owned(),
            timezone: String::new(),
            weight_units: String::new(),
            dimension_units: String::new(),
            plan: String::new(),
        },
        credentials,
        permissions,
    })
}

/// "the app authorisation lacks the Product Listing role (listings); add the Product Listing
/// role to the app …".
pub fn missing_roles_message(missing: &[Role]) -> String {
    let named: Vec<String> = missing
        .iter()
        .map(|r| format!("the {} role ({})", r.label(), r.code()))
        .collect();
    let labels: Vec<&str> = missing.iter().map(|r| r.label()).collect();
    format!(
        "the app authorisation lacks {}; add {} to the app (Solution Provider Portal › Develop \
         Apps › Edit App), have the seller authorise the app again, and reconnect with the new \
         refresh token",
        join(&named),
        if labels.len() == 1 {
            format!("the {} role", labels[0])
        } else {
            format!("the {} roles", join(&labels))
        }
    )
}

fn join<T: AsRef<str>>(items: &[T]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_role_is_named_with_its_fix() {
        assert_eq!(
            missing_roles_message(&[Role::Listings]),
            "the app authorisation lacks the Product Listing role (listings); add the Product \
             Listing role to the app (Solution Provider Portal › Develop Apps › Edit App), have \
             the seller authorise the app again, and reconnect with the new refresh token"
        );
        let two = missing_roles_message(&[Role::Orders, Role::RestrictedData]);
        assert!(
            two.starts_with(
                "the app authorisation lacks the Inventory and Order Tracking role (orders) and \
                 the Direct-to-Consumer Shipping (restricted) role (restricted data);"
            ),
            "{two}"
        );
    }

    #[test]
    fn a_file_naming_another_host_is_refused_before_any_request() {
        let channel = Amazon::new(
            Url::parse("http://127.0.0.1:9000").unwrap(),
            Url::parse("http://127.0.0.1:9000").unwrap(),
        );
        let file = serde_json::json!({
            "endpoint": "http://169.254.169.254", "auth_endpoint": "http://127.0.0.1:9000/auth/o2/token",
            "seller_id": "A1", "marketplace_id": "A2EUQ1WTGCTBG2", "client_id": "c",
            "client_secret": "s", "refresh_token": "Atzr|t"
        });
        let error = parse_file(&channel, "a@b.co".into(), &file.to_string())
            .err()
            .unwrap();
        assert!(
            error.message.contains("points at 169.254.169.254"),
            "{}",
            error.message
        );
        assert!(error.message.contains(API_URL_ENV));
        assert!(!error.message.contains("Atzr"));
    }
}
