//! Password hashing: argon2id with the `argon2` crate's defaults (19 MiB of memory, 2 passes,
//! 1 lane: the OWASP recommendation) and a random 16-byte salt, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Verification reads the parameters from the
//! stored string, so raising the cost later keeps old hashes valid.
//!
//! Hashing costs tens of milliseconds of one core on purpose; callers on the async runtime run
//! it with `spawn_blocking` ([`hash_password`], [`verify_password`] do).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 would take more, but nobody types this much; it bounds
/// the work an anonymous sign-in can cause).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a password cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long.
    #[error(
        "the password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long; \
         it has {0}"
    )]
    Length(usize),
    /// The hasher failed (should not happen with the default parameters).
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// Checks the length rules of a new password.
pub fn check_new_password(password: &SecretString) -> Result<(), PasswordError> {
    let chars = password.expose_secret().chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(PasswordError::Length(chars));
    }
    Ok(())
}

/// Hashes a new password (after [`check_new_password`]) into a PHC string, off the runtime.
pub async fn hash_password(password: SecretString) -> Result<String, PasswordError> {
    check_new_password(&password)?;
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?
}

fn hash_password_blocking(password: &SecretString) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string, off the runtime. A malformed stored
/// string never matches. `None` (no password set, or no such user) still spends the time of
/// one verification against a fixed hash, so the answer's timing does not tell whether the
/// account exists.
pub async fn verify_password(password: SecretString, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        if password.expose_secret().chars().count() > MAX_PASSWORD_CHARS {
            return false;
        }
        let (stored, real) = match stored {
            Some(stored) => (stored, true),
            None => (DUMMY_HASH.to_owned(), false),
        };
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// The argon2id hash of a random string nobody knows, with the default parameters: what an
/// unknown account is verified against.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                          ZiCBAkfUXrzxYbw6qoJbSYJtFkzqmtg5rxsCBb0U9Mk";

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(secret("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(secret("correct horse battery"), Some(hash.clone())).await);
        assert!(!verify_password(secret("correct horse batterY"), Some(hash)).await);
    }

    #[tokio::test]
    async fn no_stored_hash_and_garbage_never_verify() {
        assert!(!verify_password(secret("anything at all"), None).await);
        assert!(!verify_password(secret("anything at all"), Some("not a hash".into())).await);
    }

    #[test]
    fn the_dummy_hash_parses() {
        PasswordHash::new(DUMMY_HASH).expect("a valid PHC string");
    }

    #[test]
    fn short_and_long_passwords_are_refused() {
        assert_eq!(
            check_new_password(&secret("short")),
            Err(PasswordError::Length(5))
        );
        assert!(check_new_password(&secret(&"x".repeat(257))).is_err());
        assert!(check_new_password(&secret("twelve chars")).is_ok());
    }
}
