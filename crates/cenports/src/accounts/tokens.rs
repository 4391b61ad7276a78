//! Random bearer secrets: API keys, session tokens and CSRF tokens.
//!
//! Each is 32 bytes from the operating system's generator, written in unpadded base64url.
//! API keys carry the `cpk_` prefix so that secret scanners and people recognise them. The
//! database only sees the SHA-256 of an API key or a session token (hex): with 256 random bits
//! there is nothing to brute-force, so a slow hash would only slow every request down, and a
//! fast digest keeps the lookup one index probe.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every API key starts with.
pub const API_KEY_PREFIX: &str = "cpk_";
/// Characters of a key kept in clear to recognise it in lists (`cpk_` and 8 more).
pub const API_KEY_SHOWN_CHARS: usize = 12;

/// 32 random bytes in unpadded base64url (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API key: `cpk_` and a random token.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token())
}

/// Whether `text` has the shape of an API key (checked before any database lookup).
pub fn looks_like_api_key(text: &str) -> bool {
    text.strip_prefix(API_KEY_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The part of a key shown in lists.
pub fn shown_prefix(key: &str) -> String {
    key.chars().take(API_KEY_SHOWN_CHARS).collect()
}

/// The stored digest of an API key or session token: SHA-256, lower-case hex.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in hash {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_prefix_and_the_shape_checked_at_the_door() {
        let key = new_api_key();
        assert!(key.starts_with("cpk_"), "{key}");
        assert!(looks_like_api_key(&key), "{key}");
        assert!(!looks_like_api_key("cpk_short"));
        assert!(!looks_like_api_key(&key.replace("cpk_", "xpk_")));
        assert_ne!(new_api_key(), key);
        assert_eq!(shown_prefix(&key).len(), API_KEY_SHOWN_CHARS);
    }

    #[test]
    fn the_digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn token_comparison_needs_equal_length_and_bytes() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
    }
}
