//! Who may call what: the app authorisations of the seller account (one per *profile*, each
//! with its roles), Login with Amazon's refresh-token grant, access tokens with a lifetime, and
//! restricted data tokens that name the resources they open.
//!
//! Profiles mirror the BigCommerce sandbox's scope profiles: one authorisation with every role
//! the hub needs, and one lacking each role, so a connect flow can be tried against every
//! refusal it must explain.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A selling-partner role, as the app registration grants them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Inventory and Order Tracking: the Orders API (and confirming shipments).
    Orders,
    /// Product Listing: the Listings Items API.
    Listings,
    /// Direct-to-Consumer Shipping (restricted): the Tokens API and the personal data it opens.
    RestrictedData,
}

/// The profile with every role.
pub const FULL: &str = "full";

/// The profiles: name, description, roles.
pub const PROFILES: [(&str, &str, &[Role]); 4] = [
    (
        FULL,
        "every role the hub needs: orders, listings, restricted data",
        &[Role::Orders, Role::Listings, Role::RestrictedData],
    ),
    (
        "missing-orders",
        "lacks the orders role (Inventory and Order Tracking)",
        &[Role::Listings, Role::RestrictedData],
    ),
    (
        "missing-listings",
        "lacks the listings role (Product Listing)",
        &[Role::Orders, Role::RestrictedData],
    ),
    (
        "missing-restricted-data",
        "lacks the restricted role (Direct-to-Consumer Shipping): no restricted data tokens",
        &[Role::Orders, Role::Listings],
    ),
];

/// One app authorised by the seller: LWA client credentials and the refresh token of the
/// authorisation.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAuthorization {
    pub profile: String,
    pub description: String,
    /// `amzn1.application-oa2-client.<32 hex>`.
    pub client_id: String,
    pub client_secret: String,
    /// `Atzr|...`.
    pub refresh_token: String,
    pub roles: BTreeSet<Role>,
}

impl std::fmt::Debug for AppAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppAuthorization")
            .field("profile", &self.profile)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("refresh_token", &"***")
            .field("roles", &self.roles)
            .finish()
    }
}

const HEX: &[u8] = b"0123456789abcdef";
const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn random(rng: &mut ChaCha8Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A seller id like Amazon's merchant tokens (`A` and thirteen capitals and digits), from a seed.
pub fn seller_id(seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e11_e700);
    format!(
        "A{}",
        random(&mut rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 13)
    )
}

/// The authorisations of the account, deterministic in the seed.
pub fn authorizations(seed: u64) -> Vec<AppAuthorization> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1ea_cafe);
    PROFILES
        .iter()
        .map(|(profile, description, roles)| AppAuthorization {
            profile: profile.to_string(),
            description: description.to_string(),
            client_id: format!("amzn1.application-oa2-client.{}", random(&mut rng, HEX, 32)),
            client_secret: format!("amzn1.oa2-cs.v1.{}", random(&mut rng, HEX, 64)),
            refresh_token: format!("Atzr|{}", random(&mut rng, TOKEN_CHARS, 120)),
            roles: roles.iter().copied().collect(),
        })
        .collect()
}

/// A resource a restricted data token opens: a method and a path, where a path segment
/// `{orderId}` stands for any order, and the personal data requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictedResource {
    pub method: String,
    pub path: String,
    #[serde(default, rename = "dataElements")]
    pub data_elements: Vec<String>,
}

impl RestrictedResource {
    /// Whether this resource covers a request.
    pub fn covers(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let want: Vec<&str> = self.path.trim_end_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        want.len() == got.len()
            && want
                .iter()
                .zip(&got)
                .all(|(w, g)| w == g || (w.starts_with('{') && w.ends_with('}')))
    }
}

/// What a valid token grants.
#[derive(Debug, Clone)]
pub enum Grant {
    /// An LWA access token: every operation of the app's roles, no personal data.
    Access,
    /// A restricted data token: only these resources, with their personal data.
    Restricted(Vec<RestrictedResource>),
}

/// A token the sandbox issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub profile: String,
    pub expires_at: DateTime<Utc>,
    pub grant: Grant,
}

/// Why a token does not open a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

/// The tokens issued so far.
pub struct TokenStore {
    tokens: HashMap<String, IssuedToken>,
    rng: ChaCha8Rng,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl TokenStore {
    pub fn new(seed: u64) -> TokenStore {
        TokenStore {
            tokens: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x070c_34e5),
        }
    }

    /// Issues an access token (`Atza|...`) valid for `lifetime`.
    pub fn issue_access(
        &mut self,
        profile: &str,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> String {
        let token = format!("Atza|{}", random(&mut self.rng, TOKEN_CHARS, 160));
        self.insert(token.clone(), profile, now + lifetime, Grant::Access);
        token
    }

    /// Issues a restricted data token (`Atz.sprdt|...`).
    pub fn issue_restricted(
        &mut self,
        profile: &str,
        resources: Vec<RestrictedResource>,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> String {
        let token = format!("Atz.sprdt|{}", random(&mut self.rng, TOKEN_CHARS, 120));
        self.insert(
            token.clone(),
            profile,
            now + lifetime,
            Grant::Restricted(resources),
        );
        token
    }

    fn insert(&mut self, token: String, profile: &str, expires_at: DateTime<Utc>, grant: Grant) {
        // Forget expired tokens now and then so a long run does not grow without bound.
        if self.tokens.len() > 10_000 {
            self.tokens
                .retain(|_, t| t.expires_at > expires_at - Duration::days(1));
        }
        self.tokens.insert(
            token,
            IssuedToken {
                profile: profile.to_string(),
                expires_at,
                grant,
            },
        );
    }

    /// The token's grant, or why it has none.
    pub fn check(
        &self,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<&IssuedToken, TokenProblem> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(TokenProblem::Missing)?;
        let issued = self.tokens.get(token).ok_or(TokenProblem::Unknown)?;
        if issued.expires_at <= now {
            return Err(TokenProblem::Expired);
        }
        Ok(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_deterministic_and_each_lacks_one_role() {
        let a = authorizations(1);
        assert_eq!(a, authorizations(1));
        assert_ne!(a[0].client_id, authorizations(2)[0].client_id);
        assert_eq!(a[0].roles.len(), 3);
        assert!(a[1..].iter().all(|p| p.roles.len() == 2));
        assert!(!format!("{:?}", a[0]).contains(&a[0].client_secret));
    }

    #[test]
    fn a_resource_pattern_covers_any_order() {
        let r = RestrictedResource {
            method: "GET".into(),
            path: "/orders/v0/orders/{orderId}/address".into(),
            data_elements: vec![],
        };
        assert!(r.covers("GET", "/orders/v0/orders/702-1-2/address"));
        assert!(!r.covers("GET", "/orders/v0/orders/702-1-2"));
        assert!(!r.covers("POST", "/orders/v0/orders/702-1-2/address"));
    }

    #[test]
    fn tokens_expire() {
        let mut store = TokenStore::new(1);
        let now = Utc::now();
        let token = store.issue_access("full", now, Duration::seconds(10));
        assert!(store.check(Some(&token), now).is_ok());
        assert_eq!(
            store.check(Some(&token), now + Duration::seconds(10)).err(),
            Some(TokenProblem::Expired)
        );
        assert_eq!(store.check(None, now).err(), Some(TokenProblem::Missing));
        assert_eq!(
            store.check(Some("Atza|x"), now).err(),
            Some(TokenProblem::Unknown)
        );
    }
}
