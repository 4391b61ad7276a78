//! The API accounts each sandbox store is created with, and BigCommerce's downloaded
//! credentials `.txt` layout.
//!
//! Every store gets one account per *profile*: the scopes the merchant guide asks for, a
//! read-only account, and accounts that each lack one of the guide's scopes, so that a connect
//! flow can be tried against every failure it must explain.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{ApiAccount, Scope};

/// Profile with exactly the merchant guide's scopes.
pub const MERCHANT_GUIDE: &str = "merchant-guide";

/// The profiles: name, description, scopes.
pub const PROFILES: [(&str, &str, &[Scope]); 5] = [
    (
        MERCHANT_GUIDE,
        "the merchant guide's scopes: Orders Modify, Products Modify, Information & Settings Read-only",
        &[Scope::StoreV2Orders, Scope::StoreV2Products, Scope::StoreV2InformationReadOnly],
    ),
    (
        "read-only",
        "every scope read-only: Orders, Products, Information & Settings",
        &[
            Scope::StoreV2OrdersReadOnly,
            Scope::StoreV2ProductsReadOnly,
            Scope::StoreV2InformationReadOnly,
        ],
    ),
    (
        "missing-orders-modify",
        "Orders only Read-only (lacks Orders: Modify)",
        &[
            Scope::StoreV2OrdersReadOnly,
            Scope::StoreV2Products,
            Scope::StoreV2InformationReadOnly,
        ],
    ),
    (
        "missing-products-modify",
        "Products only Read-only (lacks Products: Modify)",
        &[
            Scope::StoreV2Orders,
            Scope::StoreV2ProductsReadOnly,
            Scope::StoreV2InformationReadOnly,
        ],
    ),
    (
        "missing-information",
        "no Information & Settings scope",
        &[Scope::StoreV2Orders, Scope::StoreV2Products],
    ),
];

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

fn random_string(rng: &mut ChaCha8Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A store hash like BigCommerce's (ten lowercase letters and digits), from a seed.
pub fn store_hash(seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0000_0000_0001);
    random_string(&mut rng, ALPHANUMERIC, 10)
}

/// The accounts of a store, deterministic in `(seed, hash)`.
pub fn accounts(seed: u64, hash: &str) -> Vec<ApiAccount> {
    let mut seed_bytes = [0u8; 32];
    for (i, b) in hash.bytes().chain(seed.to_le_bytes()).enumerate() {
        seed_bytes[i % 32] ^= b.rotate_left(i as u32 % 8);
    }
    let mut rng = ChaCha8Rng::from_seed(seed_bytes);
    PROFILES
        .iter()
        .map(|(profile, _, scopes)| ApiAccount {
            profile: profile.to_string(),
            name: format!("Cenports ({profile})"),
            client_id: random_string(&mut rng, ALPHANUMERIC, 31),
            client_secret: random_string(&mut rng, HEX, 64),
            access_token: random_string(&mut rng, ALPHANUMERIC, 31),
            scopes: scopes.iter().copied().collect::<BTreeSet<_>>(),
        })
        .collect()
}

/// The credentials file BigCommerce downloads when an API account is created, with `API PATH`
/// naming `api_path` (the sandbox's own base URL in place of `https://api.bigcommerce.com`).
pub fn credentials_txt(account: &ApiAccount, api_path: &str) -> String {
    format!(
        "ACCESS TOKEN: {}\nCLIENT NAME: {}\nAPI PATH: {}\nCLIENT ID: {}\nCLIENT SECRET: {}\n",
        account.access_token, account.name, api_path, account.client_id, account.client_secret
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_deterministic_and_distinct() {
        let a = accounts(7, "abc123");
        let b = accounts(7, "abc123");
        assert_eq!(a[0].access_token, b[0].access_token);
        assert_ne!(a[0].access_token, a[1].access_token);
        assert_ne!(accounts(8, "abc123")[0].access_token, a[0].access_token);
        assert_eq!(a[0].client_secret.len(), 64);
    }

    #[test]
    fn the_credentials_file_has_bigcommerce_layout() {
        let account = &accounts(1, "abc123")[0];
        let txt = credentials_txt(account, "http://127.0.0.1:9/stores/abc123/v3/");
        assert!(txt.contains("API PATH: http://127.0.0.1:9/stores/abc123/v3/\n"));
        assert!(txt.starts_with("ACCESS TOKEN: "));
        assert!(txt.contains("CLIENT SECRET: "));
    }
}
