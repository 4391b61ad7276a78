//! The checks: a few requests that cannot change data, read as BigCommerce means them.
//!
//! BigCommerce checks the token and then the scope **before** the endpoint's handler runs: a
//! request the token may not make is answered `403` whatever its target, and one it may make
//! reaches the handler, which then answers `404` for a resource that does not exist or `422`
//! for a body it refuses. So a write aimed at something that cannot exist (order `0`, variant
//! `0`) tells whether the scope is there without touching any data. `docs/CONNECT.md` lists
//! each probe.

use bigcommerce_client::{
    Client, Error as ApiError, OrderQuery, ProductQuery, StoreInfo, UpdateOrder, VariantUpdate,
};
use futures::TryStreamExt;
use secrecy::{ExposeSecret, SecretString};

use super::input::{parse_store_url, trimmed_secret, StoreHash};
use super::{ConnectError, ConnectInput, ConnectSettings, Probe, RequiredScope, ScopeCheck};
use super::{StoreProfile, VerifiedStore};

/// Retries per probe: enough to ride out one dropped connection, few enough that a merchant
/// whose API URL is unreachable hears so in about a second.
const PROBE_RETRIES: u32 = 1;

const GET_STORE: &str = "GET /v2/store";
const GET_ORDERS: &str = "GET /v2/orders?limit=1";
const PUT_ORDER_0: &str = "PUT /v2/orders/0 {}";
const GET_PRODUCTS: &str = "GET /v3/catalog/products?limit=1";
const PUT_VARIANT_0: &str = r#"PUT /v3/catalog/variants [{"id": 0}]"#;

/// Checks a merchant's credentials against BigCommerce and returns the store to save.
///
/// Nothing is sent before the input is fully parsed: the store hash comes from the store URL
/// ([`parse_store_url`]), and an API path on a host other than
/// [`ConnectSettings::api_base_url`] is refused without a request. Then, with pacing on:
///
/// 1. `GET /v2/store`: the profile, and Information & Settings. A `401` is a bad token (or,
///    for a well-formed token, a wrong store hash); a `404` is a wrong store hash; both stop
///    the check. A `403` only marks the scope missing.
/// 2. Orders: `GET /v2/orders?limit=1`, then `PUT /v2/orders/0` with `{}`: `404` means the
///    write was allowed (order 0 never exists), `403` means Orders is not Modify.
/// 3. Products: `GET /v3/catalog/products?limit=1`, then `PUT /v3/catalog/variants` with
///    `[{"id": 0}]`: a `4xx` validation answer means the write was allowed (variant 0 never
///    exists), `403` means Products is not Modify.
///
/// Every missing scope is reported in one [`ConnectError::MissingScopes`].
pub async fn check(
    input: ConnectInput,
    settings: &ConnectSettings,
) -> Result<VerifiedStore, ConnectError> {
    let email = input.email.trim().to_owned();
    if email.is_empty() {
        return Err(ConnectError::MissingField {
            field: "Cenports user email",
        });
    }
    if !looks_like_email(&email) {
        return Err(ConnectError::InvalidEmail { email });
    }
    let client_id = input.client_id.trim().to_owned();
    if client_id.is_empty() {
        return Err(ConnectError::MissingField { field: "Client ID" });
    }
    let access_token = trimmed_secret(&input.access_token).ok_or(ConnectError::MissingField {
        field: "Access Token",
    })?;
    let client_secret = trimmed_secret(&input.client_secret).ok_or(ConnectError::MissingField {
        field: "Client Secret",
    })?;
    // A secret pasted into the store URL would otherwise be echoed in the error about it.
    let store_url = input.store_url.trim();
    if store_url == access_token.expose_secret() {
        return Err(ConnectError::SecretInStoreUrl {
            field: "Access Token",
        });
    }
    if store_url == client_secret.expose_secret() {
        return Err(ConnectError::SecretInStoreUrl {
            field: "Client Secret",
        });
    }
    let store_hash = parse_store_url(store_url, settings)?;

    let token_well_formed = looks_like_token(&access_token);
    let mut config = settings.client_config(
        &store_hash,
        access_token.clone(),
        &client_id,
        Some(client_secret.clone()),
    );
    config.max_retries = PROBE_RETRIES;
    let client = Client::new(config).map_err(|error| match error {
        ApiError::Config {
            field: "access_token",
            ..
        } => ConnectError::BadToken,
        ApiError::Config {
            field: "client_id", ..
        } => ConnectError::MissingField { field: "Client ID" },
        other => ConnectError::Api {
            source: Box::new(other),
        },
    })?;
    let probes = Probes {
        client: &client,
        settings,
        store_hash: &store_hash,
        token_well_formed,
    };

    let (info, information) = probes.information().await?;
    let (orders, products) = tokio::try_join!(probes.orders(), probes.products())?;
    let scopes = vec![orders, products, information];

    let missing: Vec<ScopeCheck> = scopes.iter().filter(|c| !c.granted).cloned().collect();
    if !missing.is_empty() {
        tracing::info!(
            store.hash = %store_hash,
            missing = ?missing.iter().map(|c| c.scope.parameter()).collect::<Vec<_>>(),
            "connect: scopes missing"
        );
        return Err(ConnectError::MissingScopes(missing));
    }
    let profile = info.map(profile_of).unwrap_or_default();
    tracing::info!(store.hash = %store_hash, store.name = ?profile.name, "connect: store verified");
    Ok(VerifiedStore {
        email,
        store_hash,
        api_base_url: settings.api_base_url.clone(),
        client_id,
        client_secret,
        access_token,
        profile,
        scopes,
    })
}

struct Probes<'a> {
    client: &'a Client,
    settings: &'a ConnectSettings,
    store_hash: &'a StoreHash,
    token_well_formed: bool,
}

/// What one probe showed about its scope.
enum Verdict {
    Allowed(String),
    Refused,
}

impl Probes<'_> {
    /// `GET /v2/store`: the profile and Information & Settings; also where a bad token or a
    /// wrong hash shows first.
    async fn information(&self) -> Result<(Option<StoreInfo>, ScopeCheck), ConnectError> {
        let result = self.client.get_store().await;
        match result {
            Ok(info) => Ok((
                Some(info),
                self.scope_check(
                    RequiredScope::InformationReadOnly,
                    vec![(GET_STORE, Verdict::Allowed("200: allowed".into()))],
                ),
            )),
            Err(ApiError::NotFound { .. }) => Err(ConnectError::WrongStoreHash {
                store_hash: self.store_hash.clone(),
                token_rejected: false,
            }),
            Err(error) => {
                let verdict = self.verdict(error, false)?;
                Ok((
                    None,
                    self.scope_check(
                        RequiredScope::InformationReadOnly,
                        vec![(GET_STORE, verdict)],
                    ),
                ))
            }
        }
    }

    /// Orders: a one-order read, then an empty update of order 0, which never exists.
    async fn orders(&self) -> Result<ScopeCheck, ConnectError> {
        let query = OrderQuery {
            limit: Some(1),
            ..OrderQuery::default()
        };
        let read = self.outcome(self.client.list_orders(&query).await, false)?;
        let mut probes = vec![(GET_ORDERS, read)];
        if matches!(probes[0].1, Verdict::Allowed(_)) {
            let write = self.client.update_order(0, &UpdateOrder::default()).await;
            probes.push((PUT_ORDER_0, self.outcome(write, true)?));
        }
        Ok(self.scope_check(RequiredScope::OrdersModify, probes))
    }

    /// Products: a one-product read, then a batch update of variant 0, which never exists.
    /// (An empty batch would be refused by the client before reaching BigCommerce.)
    async fn products(&self) -> Result<ScopeCheck, ConnectError> {
        let query = ProductQuery {
            limit: Some(1),
            ..ProductQuery::default()
        };
        let first_page = {
            let pages = self.client.product_pages(&query);
            futures::pin_mut!(pages);
            pages.try_next().await
        };
        let read = self.outcome(first_page, false)?;
        let mut probes = vec![(GET_PRODUCTS, read)];
        if matches!(probes[0].1, Verdict::Allowed(_)) {
            let update = VariantUpdate {
                id: 0,
                ..VariantUpdate::default()
            };
            let write = self.client.update_variants(&[update]).await;
            probes.push((PUT_VARIANT_0, self.outcome(write, true)?));
        }
        Ok(self.scope_check(RequiredScope::ProductsModify, probes))
    }

    fn outcome<T>(
        &self,
        result: Result<T, ApiError>,
        write_to_nothing: bool,
    ) -> Result<Verdict, ConnectError> {
        match result {
            Ok(_) => Ok(Verdict::Allowed("2xx: allowed".into())),
            Err(error) => self.verdict(error, write_to_nothing),
        }
    }

    /// Reads a failed probe. For a write aimed at a resource that cannot exist, `404` and
    /// validation answers prove the request passed the scope check.
    fn verdict(&self, error: ApiError, write_to_nothing: bool) -> Result<Verdict, ConnectError> {
        match error {
            ApiError::MissingScope { .. } => Ok(Verdict::Refused),
            ApiError::NotFound { .. } if write_to_nothing => Ok(Verdict::Allowed(
                "404: allowed (the target never exists, nothing changed)".into(),
            )),
            ApiError::Validation { status, .. } if write_to_nothing => Ok(Verdict::Allowed(
                format!("{status}: allowed (the body was refused, nothing changed)"),
            )),
            ApiError::Unauthorized { .. } if self.token_well_formed => {
                Err(ConnectError::WrongStoreHash {
                    store_hash: self.store_hash.clone(),
                    token_rejected: true,
                })
            }
            ApiError::Unauthorized { .. } => Err(ConnectError::BadToken),
            error @ (ApiError::Transport { .. } | ApiError::Timeout { .. }) => {
                Err(ConnectError::Unreachable {
                    api_base_url: self.settings.api_base_url.to_string(),
                    source: Box::new(error),
                })
            }
            other => Err(ConnectError::Api {
                source: Box::new(other),
            }),
        }
    }

    fn scope_check(&self, scope: RequiredScope, probes: Vec<(&str, Verdict)>) -> ScopeCheck {
        let granted = probes
            .iter()
            .all(|(_, verdict)| matches!(verdict, Verdict::Allowed(_)));
        ScopeCheck {
            scope,
            granted,
            probes: probes
                .into_iter()
                .map(|(request, verdict)| Probe {
                    request: request.to_owned(),
                    outcome: match verdict {
                        Verdict::Allowed(what) => what,
                        Verdict::Refused => "403: the token lacks this scope".to_owned(),
                    },
                })
                .collect(),
        }
    }
}

fn profile_of(info: StoreInfo) -> StoreProfile {
    let (timezone, timezone_offset_seconds) = match info.timezone {
        Some(zone) => (zone.name, zone.raw_offset),
        None => (None, None),
    };
    StoreProfile {
        name: info.name,
        domain: info.domain,
        secure_url: info.secure_url,
        control_panel_url: info.control_panel_base_url,
        status: info.status,
        currency: info.currency,
        timezone,
        timezone_offset_seconds,
        weight_units: info.weight_units,
        dimension_units: info.dimension_units,
        plan_name: info.plan_name,
        plan_level: info.plan_level,
        country_code: info.country_code,
    }
}

/// BigCommerce access tokens are opaque strings of letters and digits (31 characters today).
/// A 401 for one that looks complete points at the store hash rather than the token.
fn looks_like_token(token: &SecretString) -> bool {
    let token = token.expose_secret();
    (20..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `local@domain.tld`, no spaces: enough to catch a pasted token or a missing `@`.
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
