//! # Accounts: who may use the hub, and how they prove it
//!
//! - Users have a [`Role`]: a **merchant** sees and acts on the stores they own, an
//!   **operator** on every store ([`Account::store_access`]). Accounts are made by an operator
//!   with `cenports user add` ([`create_account`]).
//! - **Passwords** are hashed with argon2id ([`password`]).
//! - **API keys** (`cpk_…`, [`create_api_key`]) are shown once and stored as their SHA-256;
//!   a request presents one as `Authorization: Bearer cpk_…` ([`authenticate_api_key`]).
//! - **Sessions** ([`login`]) are random tokens in an HTTP-only cookie, stored as their SHA-256
//!   with an absolute expiry ([`AuthPolicy::session_ttl`]) and a synchronizer CSRF token
//!   ([`authenticate_session`]).
//! - **Login throttling**: sign-in attempts are counted per (email, client IP) in the database,
//!   each **before** its password is checked and in one atomic statement, so every hub process
//!   shares the count, a restart does not reset it, and parallel attempts cannot get past it:
//!   at most [`ThrottlePolicy::max_failures`] passwords are checked inside
//!   [`ThrottlePolicy::window`]; then the pair is locked for [`ThrottlePolicy::lockout`], even
//!   for the right password. Per pair rather than per email, so an attacker cannot lock a
//!   merchant out from elsewhere by failing on purpose.
//!
//! Time comes from a [`Clock`], so tests move it instead of sleeping.

pub mod password;
pub mod tokens;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

pub use crate::storage::{
    Account, ApiKeyRecord, LoginAttempts, LoginClaim, Role, SessionRecord, StoreAccess,
    ThrottlePolicy,
};
use crate::storage::{Storage, StorageError, UserId};
pub use password::PasswordError;

/// Where "now" comes from.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How long sessions last and how sign-ins are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPolicy {
    /// A session's absolute lifetime (default 12 hours: a working day, then sign in again).
    pub session_ttl: Duration,
    /// Login throttling.
    pub throttle: ThrottlePolicy,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            session_ttl: Duration::hours(12),
            throttle: ThrottlePolicy {
                max_failures: 5,
                window: Duration::minutes(15),
                lockout: Duration::minutes(15),
            },
        }
    }
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The email is not one.
    #[error("{0:?} is not an email address")]
    InvalidEmail(String),
    /// The password breaks a rule.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database refused or failed (e.g. the email has an account already).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Checks the shape of an email: something, `@`, a domain with a dot; at most 254 characters,
/// no spaces or control characters.
pub fn check_email(email: &str) -> Result<&str, AccountError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(AccountError::InvalidEmail(email.to_owned()))
    }
}

/// Creates an account with a password (or completes a user made by `cenports connect`, which
/// has none). Returns the account and whether it is new.
pub async fn create_account(
    storage: &Storage,
    email: &str,
    role: Role,
    password: SecretString,
) -> Result<(Account, bool), AccountError> {
    let email = check_email(email)?;
    let hash = password::hash_password(password).await?;
    Ok(storage.create_account(email, role, &hash).await?)
}

/// Sets a new password on an existing account (its role unchanged) and signs out its
/// sessions. Fails with [`StorageError::NotFound`] inside [`AccountError::Storage`] when the
/// email has no user.
pub async fn replace_password(
    storage: &Storage,
    email: &str,
    password: SecretString,
) -> Result<Account, AccountError> {
    let email = check_email(email)?;
    let hash = password::hash_password(password).await?;
    Ok(storage.replace_password(email, &hash).await?)
}

/// Makes a new API key for `user`: returns the key (shown once, never stored) and its record.
pub async fn create_api_key(
    storage: &Storage,
    user: UserId,
    name: &str,
) -> Result<(SecretString, ApiKeyRecord), StorageError> {
    let key = tokens::new_api_key();
    let record = storage
        .create_api_key(
            user,
            name.trim(),
            &tokens::shown_prefix(&key),
            &tokens::digest(&key),
        )
        .await?;
    Ok((SecretString::from(key), record))
}

/// Why a request's credentials were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The API key is malformed, unknown or revoked.
    #[error("the API key is not valid: it is mistyped, revoked or was never issued")]
    InvalidApiKey,
    /// The session cookie names no session.
    #[error("the session is not valid; sign in again")]
    UnknownSession,
    /// The session expired.
    #[error("the session has expired; sign in again")]
    SessionExpired,
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The account holding `key`.
pub async fn authenticate_api_key(
    storage: &Storage,
    clock: &dyn Clock,
    key: &str,
) -> Result<Account, AuthError> {
    if !tokens::looks_like_api_key(key) {
        return Err(AuthError::InvalidApiKey);
    }
    storage
        .account_by_api_key(&tokens::digest(key), clock.now())
        .await?
        .map(|(account, _)| account)
        .ok_or(AuthError::InvalidApiKey)
}

/// The account and session of a session token, if the session has not expired.
pub async fn authenticate_session(
    storage: &Storage,
    clock: &dyn Clock,
    token: &str,
) -> Result<(Account, SessionRecord), AuthError> {
    if token.is_empty() || token.len() > 128 {
        return Err(AuthError::UnknownSession);
    }
    let (account, session) = storage
        .session_by_token(&tokens::digest(token))
        .await?
        .ok_or(AuthError::UnknownSession)?;
    if session.expires_at <= clock.now() {
        return Err(AuthError::SessionExpired);
    }
    Ok((account, session))
}

/// Ends the session of a token (sign out).
pub async fn logout(storage: &Storage, token: &str) -> Result<(), StorageError> {
    storage.delete_session(&tokens::digest(token)).await
}

/// A session just opened: the token goes into the cookie, the CSRF token into forms and the
/// `X-CSRF-Token` header of cookie-authenticated writes.
pub struct NewSession {
    /// Who signed in.
    pub account: Account,
    /// The cookie value (never stored).
    pub token: SecretString,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("account", &self.account)
            .field("token", &"***")
            .field("csrf_token", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong email or password (deliberately not saying which).
    #[error("the email or the password is wrong")]
    InvalidCredentials,
    /// Too many failures from this address for this email.
    #[error("too many failed sign-ins; try again in {} minutes", .retry_after.num_minutes().max(1))]
    Throttled {
        /// When signing in is possible again.
        retry_after: Duration,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Signs in with an email and password from client address `ip`, under `policy`'s throttle.
pub async fn login(
    storage: &Storage,
    clock: &dyn Clock,
    policy: &AuthPolicy,
    email: &str,
    password: SecretString,
    ip: &str,
) -> Result<NewSession, LoginError> {
    let now = clock.now();
    // No account has such an email (`check_email`), and PostgreSQL refuses NUL in text: answer
    // as for any unknown email without asking the database.
    if email.chars().any(char::is_control) || email.len() > 254 {
        return Err(LoginError::InvalidCredentials);
    }
    // Counted before the password is checked, in one atomic statement: however many sign-ins
    // race (in this process or others), at most `max_failures` passwords are checked per
    // window.
    let claimed = match storage
        .claim_login_attempt(email, ip, now, &policy.throttle)
        .await?
    {
        LoginClaim::Allowed(claimed) => claimed,
        LoginClaim::Refused { until } => {
            return Err(LoginError::Throttled {
                retry_after: until - now,
            })
        }
    };
    let found = storage.account_for_login(email).await?;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), hash),
        None => (None, None),
    };
    let verified = password::verify_password(password, hash).await;
    let account = match account {
        Some(account) if verified => account,
        _ => {
            storage
                .record_login_failure(email, ip, now, &policy.throttle)
                .await?;
            return Err(LoginError::InvalidCredentials);
        }
    };
    storage.clear_login_failures(email, ip, &claimed).await?;
    Ok(open_session(storage, clock, policy, account).await?)
}

/// Opens a session for an account that has just proved who it is (a sign-in, or the
/// first-run setup that created it).
pub async fn open_session(
    storage: &Storage,
    clock: &dyn Clock,
    policy: &AuthPolicy,
    account: Account,
) -> Result<NewSession, StorageError> {
    let now = clock.now();
    let token = tokens::random_token();
    let csrf_token = tokens::random_token();
    let expires_at = now + policy.session_ttl;
    storage
        .create_session(
            account.user.id,
            &tokens::digest(&token),
            &csrf_token,
            now,
            expires_at,
        )
        .await?;
    Ok(NewSession {
        account,
        token: SecretString::from(token),
        csrf_token,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(check_email(" ops@example.com ").is_ok());
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@example",
            "o ps@example.com",
            "o\u{1}ps@example.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
