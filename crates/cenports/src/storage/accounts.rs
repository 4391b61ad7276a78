//! Accounts: users' roles and password hashes, API keys, sessions, login throttling, and the
//! role-aware store lookups the HTTP API uses. Hashing and token generation live in
//! [`crate::accounts`]; storage only keeps the digests it is given.
//!
//! Invariants kept here:
//! - no function takes or returns a plaintext API key or session token: only their SHA-256
//!   digests (hex) reach the database;
//! - instants that SQL compares (session expiry, lockouts) are integer epoch milliseconds, and
//!   "now" is always the caller's (an injected clock), never the database's;
//! - a merchant's store lookup filters by owner in SQL, exactly like [`Storage::store_scope`],
//!   so another tenant's store is [`StorageError::NotFound`], indistinguishable from a missing
//!   one; only [`StoreAccess::AllStores`] (operators) skips the owner filter.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::error::Context;
use super::{from_millis, now, Backend, Storage, StorageError, StoreRecord, StoreScope, User};
use super::{StoreId, UserId, STORE_COLUMNS};

/// What a user may see and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sees and acts on the stores they own.
    Merchant,
    /// Sees and acts on every store (runs the hub).
    Operator,
}

impl Role {
    /// The stored spelling, also the CLI's and the API's.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "merchant",
            Self::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "merchant" => Ok(Self::Merchant),
            "operator" => Ok(Self::Operator),
            other => Err(format!("{other:?} is not a role: use merchant or operator")),
        }
    }
}

/// A user with their role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user.
    pub user: User,
    /// Their role.
    pub role: Role,
    /// Whether a password is set (a user made by `cenports connect` has none until
    /// `cenports user add` completes the account).
    pub has_password: bool,
}

impl Account {
    /// Which stores this account reaches.
    pub fn store_access(&self) -> StoreAccess {
        match self.role {
            Role::Operator => StoreAccess::AllStores,
            Role::Merchant => StoreAccess::Owner(self.user.id),
        }
    }
}

/// Which stores a caller reaches: an owner's, or (operators) every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAccess {
    /// The stores this user owns.
    Owner(UserId),
    /// Every store.
    AllStores,
}

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Our id.
    pub id: i64,
    /// The owner.
    pub user_id: UserId,
    /// A label given at creation.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last used at (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A stored session (the token itself is only in the user's cookie). `Debug` prints `***` for
/// the CSRF token.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Our id.
    pub id: i64,
    /// The user.
    pub user_id: UserId,
    /// The synchronizer CSRF token of this session.
    pub csrf_token: String,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Expires at (millisecond precision).
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("csrf_token", &"***")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Sign-in attempts of one (email, IP) in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAttempts {
    /// Attempts counted in the window (each is counted before its password is checked; a
    /// success forgets them).
    pub failures: i32,
    /// When the window started.
    pub window_started: DateTime<Utc>,
    /// Sign-ins are refused until then.
    pub locked_until: Option<DateTime<Utc>>,
}

/// What [`Storage::claim_login_attempt`] decided about one sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginClaim {
    /// The password may be checked; the attempt is counted (`failures` is its number in the
    /// window).
    Allowed(LoginAttempts),
    /// The pair is locked (or the allowance is spent): the password must not be checked.
    Refused {
        /// When attempts are taken again.
        until: DateTime<Utc>,
    },
}

/// The throttling policy [`Storage::claim_login_attempt`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Passwords checked in one window at most; the attempt after them locks, as does the
    /// last of them when it fails.
    pub max_failures: i32,
    /// How long a window of failures counts.
    pub window: chrono::Duration,
    /// How long a lock lasts.
    pub lockout: chrono::Duration,
}

const ACCOUNT_COLUMNS: &str = "id, email, created_at, role, password_hash";

from_row_both!(Account, |row| {
    let role: String = row.try_get("role")?;
    Ok(Account {
        user: User {
            id: UserId(row.try_get("id")?),
            email: row.try_get("email")?,
            created_at: row.try_get("created_at")?,
        },
        role: role
            .parse()
            .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        has_password: row.try_get::<Option<String>, _>("password_hash")?.is_some(),
    })
});

const API_KEY_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

from_row_both!(ApiKeyRecord, |row| {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        user_id: UserId(row.try_get("user_id")?),
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
});

from_row_both!(SessionRecord, |row| {
    Ok(SessionRecord {
        id: row.try_get("session_id")?,
        user_id: UserId(row.try_get("id")?),
        csrf_token: row.try_get("csrf_token")?,
        created_at: row.try_get("session_created_at")?,
        expires_at: from_millis(row.try_get("expires_at_ms")?),
    })
});

from_row_both!(LoginAttempts, |row| {
    Ok(LoginAttempts {
        failures: row.try_get("failures")?,
        window_started: from_millis(row.try_get("window_started_ms")?),
        locked_until: row
            .try_get::<Option<i64>, _>("locked_until_ms")?
            .map(from_millis),
    })
});

/// How stale `last_used_at` may get before a use writes it again: a write per request would
/// put every API call on SQLite's single writer.
const LAST_USED_GRANULARITY: chrono::Duration = chrono::Duration::seconds(60);

impl Storage {
    /// Creates an account, or completes one that exists without a password (a user made by
    /// `cenports connect`): role and password hash are set. Returns the account and whether it
    /// was new. [`StorageError::EmailTaken`] when the email already has a password.
    pub async fn create_account(
        &self,
        email: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<(Account, bool), StorageError> {
        const OP: &str = "creating an account";
        let email = email.trim();
        let existed = self.find_user_by_email(email).await?.is_some();
        let sql = format!(
            "INSERT INTO users (email, email_key, created_at, role, password_hash) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (email_key) DO UPDATE SET role = excluded.role, \
             password_hash = excluded.password_hash WHERE users.password_hash IS NULL \
             RETURNING {ACCOUNT_COLUMNS}"
        );
        let row = with_pool!(self, |pool| {
            sqlx::query_as::<Db, Account>(&sql)
                .bind(email)
                .bind(email.to_lowercase())
                .bind(now())
                .bind(role.as_str())
                .bind(password_hash)
                .fetch_optional(pool)
                .await
                .op(OP)
        })?;
        match row {
            Some(account) => Ok((account, !existed)),
            None => Err(StorageError::EmailTaken {
                email: email.to_owned(),
            }),
        }
    }

    /// Replaces the password of the account with this email (case-insensitive) and ends its
    /// sessions, so that whoever signed in with the old password is signed out. The role is
    /// left as it is. [`StorageError::NotFound`] when no user has the email.
    pub async fn replace_password(
        &self,
        email: &str,
        password_hash: &str,
    ) -> Result<Account, StorageError> {
        const OP: &str = "replacing a password";
        let email = email.trim();
        let sql = format!(
            "UPDATE users SET password_hash = $1 WHERE email_key = $2 \
             RETURNING {ACCOUNT_COLUMNS}"
        );
        let row = with_pool!(self, |pool| {
            sqlx::query_as::<Db, Account>(&sql)
                .bind(password_hash)
                .bind(email.to_lowercase())
                .fetch_optional(pool)
                .await
                .op(OP)
        })?;
        let Some(account) = row else {
            return Err(StorageError::NotFound {
                what: "user",
                id: email.to_owned(),
            });
        };
        with_pool!(self, |pool| {
            sqlx::query::<Db>("DELETE FROM sessions WHERE user_id = $1")
                .bind(account.user.id.0)
                .execute(pool)
                .await
                .map(|_| ())
                .op(OP)
        })?;
        Ok(account)
    }

    /// Whether any account can sign in (has a password). While none can, the hub offers its
    /// first-run setup (`/setup`).
    pub async fn any_account_can_sign_in(&self) -> Result<bool, StorageError> {
        with_pool!(self, |pool| {
            sqlx::query_scalar::<Db, i64>(
                "SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE password_hash IS NOT NULL LIMIT 1) AS one",
            )
            .fetch_one(pool)
            .await
            .op("checking for accounts")
        })
        .map(|n| n > 0)
    }

    /// The first-run setup's operator: created (or completed, for a user `cenports connect`
    /// made without a password) only while no account can sign in, in one statement, so of
    /// two setups racing on one database at most one finds the door open (on PostgreSQL two
    /// concurrent statements may both see it open; each needed the setup token `serve`
    /// printed). `None` when an account with a password exists already.
    pub async fn create_first_operator(
        &self,
        email: &str,
        password_hash: &str,
    ) -> Result<Option<Account>, StorageError> {
        let email = email.trim();
        let sql = format!(
            "INSERT INTO users (email, email_key, created_at, role, password_hash) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL) \
             ON CONFLICT (email_key) DO UPDATE SET role = excluded.role, \
             password_hash = excluded.password_hash WHERE users.password_hash IS NULL \
             RETURNING {ACCOUNT_COLUMNS}"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, Account>(&sql)
                .bind(email)
                .bind(email.to_lowercase())
                .bind(now())
                .bind(Role::Operator.as_str())
                .bind(password_hash)
                .fetch_optional(pool)
                .await
                .op("creating the first operator")
        })
    }

    /// The account of a user id.
    pub async fn get_account(&self, user: UserId) -> Result<Account, StorageError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, Account>(&sql)
                .bind(user.0)
                .fetch_optional(pool)
                .await
                .op("reading an account")
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "user",
            id: user.to_string(),
        })
    }

    /// The account of an email (case-insensitive) and its password hash, for signing in.
    pub async fn account_for_login(
        &self,
        email: &str,
    ) -> Result<Option<(Account, Option<String>)>, StorageError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE email_key = $1");
        let key = email.trim().to_lowercase();
        with_pool!(self, |pool| {
            let row = sqlx::query::<Db>(&sql)
                .bind(&key)
                .fetch_optional(pool)
                .await
                .op("reading an account")?;
            row.map(|row| {
                let account: Account = sqlx::FromRow::from_row(&row)?;
                let hash: Option<String> = row.try_get("password_hash")?;
                Ok((account, hash))
            })
            .transpose()
            .op("reading an account")
        })
    }

    /// The account of an email (case-insensitive).
    pub async fn find_account_by_email(
        &self,
        email: &str,
    ) -> Result<Option<Account>, StorageError> {
        Ok(self.account_for_login(email).await?.map(|(a, _)| a))
    }

    /// Every account, by id.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users ORDER BY id");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, Account>(&sql)
                .fetch_all(pool)
                .await
                .op("listing accounts")
        })
    }

    // ---------------------------------------------------------------- API keys

    /// Stores a new API key by its digest.
    pub async fn create_api_key(
        &self,
        user: UserId,
        name: &str,
        prefix: &str,
        key_hash: &str,
    ) -> Result<ApiKeyRecord, StorageError> {
        let sql = format!(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {API_KEY_COLUMNS}"
        );
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, ApiKeyRecord>(&sql)
                .bind(user.0)
                .bind(name)
                .bind(prefix)
                .bind(key_hash)
                .bind(now())
                .fetch_one(pool)
                .await
                .op("creating an API key")
        })
    }

    /// The account holding a live (not revoked) API key, by the key's digest; records the use
    /// (at most once a minute per key).
    pub async fn account_by_api_key(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Account, ApiKeyRecord)>, StorageError> {
        const OP: &str = "checking an API key";
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        );
        let key: Option<ApiKeyRecord> = with_pool!(self, |pool| {
            sqlx::query_as::<Db, ApiKeyRecord>(&sql)
                .bind(key_hash)
                .fetch_optional(pool)
                .await
                .op(OP)
        })?;
        let Some(key) = key else {
            return Ok(None);
        };
        if key
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_GRANULARITY)
        {
            with_pool!(self, |pool| {
                sqlx::query::<Db>("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(key.id)
                    .execute(pool)
                    .await
                    .map(|_| ())
                    .op(OP)
            })?;
        }
        let account = self.get_account(key.user_id).await?;
        Ok(Some((account, key)))
    }

    /// A user's API keys, by id (revoked ones included).
    pub async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY id");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, ApiKeyRecord>(&sql)
                .bind(user.0)
                .fetch_all(pool)
                .await
                .op("listing API keys")
        })
    }

    /// Revokes one of a user's keys; [`StorageError::NotFound`] if the user has no such live key.
    pub async fn revoke_api_key(&self, user: UserId, id: i64) -> Result<(), StorageError> {
        let affected = with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "UPDATE api_keys SET revoked_at = $1 \
                 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
            )
            .bind(now())
            .bind(id)
            .bind(user.0)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .op("revoking an API key")
        })?;
        if affected == 0 {
            return Err(StorageError::NotFound {
                what: "API key",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    // ---------------------------------------------------------------- sessions

    /// Stores a new session by its token's digest; also forgets every expired session.
    pub async fn create_session(
        &self,
        user: UserId,
        token_hash: &str,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        const OP: &str = "creating a session";
        with_pool!(self, |pool| {
            sqlx::query::<Db>("DELETE FROM sessions WHERE expires_at_ms <= $1")
                .bind(now.timestamp_millis())
                .execute(pool)
                .await
                .op(OP)?;
            sqlx::query::<Db>(
                "INSERT INTO sessions (user_id, token_hash, csrf_token, created_at, \
                 expires_at_ms) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user.0)
            .bind(token_hash)
            .bind(csrf_token)
            .bind(now)
            .bind(expires_at.timestamp_millis())
            .execute(pool)
            .await
            .map(|_| ())
            .op(OP)
        })
    }

    /// The account and session of a token digest, expired or not (the caller compares the
    /// expiry with its clock, and says "expired" rather than "unknown").
    pub async fn session_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Account, SessionRecord)>, StorageError> {
        const OP: &str = "reading a session";
        let sql = "SELECT u.id, u.email, u.created_at, u.role, u.password_hash, \
             s.id AS session_id, s.csrf_token, s.created_at AS session_created_at, \
             s.expires_at_ms FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1";
        with_pool!(self, |pool| {
            let row = sqlx::query::<Db>(sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await
                .op(OP)?;
            row.map(|row| {
                let account: Account = sqlx::FromRow::from_row(&row)?;
                let session: SessionRecord = sqlx::FromRow::from_row(&row)?;
                Ok((account, session))
            })
            .transpose()
            .op(OP)
        })
    }

    /// Ends a session (sign out). Unknown tokens are ignored.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StorageError> {
        with_pool!(self, |pool| {
            sqlx::query::<Db>("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await
                .map(|_| ())
                .op("ending a session")
        })
    }

    // ---------------------------------------------------------------- login throttling

    /// The failed sign-ins of `(email, ip)`, if any were recorded.
    pub async fn login_attempts(
        &self,
        email: &str,
        ip: &str,
    ) -> Result<Option<LoginAttempts>, StorageError> {
        let key = email.trim().to_lowercase();
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, LoginAttempts>(
                "SELECT failures, window_started_ms, locked_until_ms FROM login_attempts \
                 WHERE email_key = $1 AND ip = $2",
            )
            .bind(&key)
            .bind(ip)
            .fetch_optional(pool)
            .await
            .op("reading login attempts")
        })
    }

    /// Counts a sign-in attempt of `(email, ip)` at `now` under `policy` **before** its
    /// password is checked, in one statement (an upsert: atomic on both backends, whatever the
    /// concurrency and however many processes share the database), and says whether the
    /// password may be checked. So at most `policy.max_failures` passwords are checked per
    /// window: a window older than `policy.window` starts again at 1; the attempt after the
    /// allowance locks the pair until `now + policy.lockout`; while locked nothing is counted.
    pub async fn claim_login_attempt(
        &self,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
        policy: &ThrottlePolicy,
    ) -> Result<LoginClaim, StorageError> {
        const SQL: &str = "INSERT INTO login_attempts \
             (email_key, ip, failures, window_started_ms, locked_until_ms) \
             VALUES ($1, $2, 1, $3, NULL) \
             ON CONFLICT (email_key, ip) DO UPDATE SET \
             failures = CASE \
                 WHEN login_attempts.locked_until_ms > $3 THEN login_attempts.failures \
                 WHEN login_attempts.window_started_ms <= $4 THEN 1 \
                 ELSE login_attempts.failures + 1 END, \
             window_started_ms = CASE \
                 WHEN login_attempts.locked_until_ms > $3 THEN login_attempts.window_started_ms \
                 WHEN login_attempts.window_started_ms <= $4 THEN $3 \
                 ELSE login_attempts.window_started_ms END, \
             locked_until_ms = CASE \
                 WHEN login_attempts.locked_until_ms > $3 THEN login_attempts.locked_until_ms \
                 WHEN login_attempts.window_started_ms <= $4 THEN NULL \
                 WHEN login_attempts.failures + 1 > $5 THEN $6 \
                 ELSE NULL END \
             RETURNING failures, window_started_ms, locked_until_ms";
        let key = email.trim().to_lowercase();
        let state = with_pool!(self, |pool| {
            sqlx::query_as::<Db, LoginAttempts>(SQL)
                .bind(&key)
                .bind(ip)
                .bind(now.timestamp_millis())
                .bind((now - policy.window).timestamp_millis())
                .bind(policy.max_failures)
                .bind((now + policy.lockout).timestamp_millis())
                .fetch_one(pool)
                .await
                .op("counting a sign-in attempt")
        })?;
        Ok(match state.locked_until.filter(|until| *until > now) {
            Some(until) => LoginClaim::Refused { until },
            None => LoginClaim::Allowed(state),
        })
    }

    /// After a wrong password: locks `(email, ip)` until `now + policy.lockout` when its
    /// attempts in the window reached `policy.max_failures` (the attempt was counted by
    /// [`Storage::claim_login_attempt`]). Also deletes other pairs' counts that are over
    /// (window and lock both past), so guesses at many emails do not grow the table.
    pub async fn record_login_failure(
        &self,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
        policy: &ThrottlePolicy,
    ) -> Result<(), StorageError> {
        const OP: &str = "recording a failed sign-in";
        let key = email.trim().to_lowercase();
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "UPDATE login_attempts SET locked_until_ms = $1 \
                 WHERE email_key = $2 AND ip = $3 AND failures >= $4 \
                 AND (locked_until_ms IS NULL OR locked_until_ms <= $5)",
            )
            .bind((now + policy.lockout).timestamp_millis())
            .bind(&key)
            .bind(ip)
            .bind(policy.max_failures)
            .bind(now.timestamp_millis())
            .execute(pool)
            .await
            .op(OP)?;
            // Counts whose window and lock are both over can only start again at 1.
            let stale = (now - policy.window - policy.lockout).timestamp_millis();
            sqlx::query::<Db>(
                "DELETE FROM login_attempts WHERE window_started_ms < $1 \
                 AND (locked_until_ms IS NULL OR locked_until_ms < $2) \
                 AND NOT (email_key = $3 AND ip = $4)",
            )
            .bind(stale)
            .bind(now.timestamp_millis())
            .bind(&key)
            .bind(ip)
            .execute(pool)
            .await
            .map(|_| ())
            .op(OP)
        })
    }

    /// Forgets the attempts of `(email, ip)` after a successful sign-in whose attempt
    /// [`Storage::claim_login_attempt`] counted as `claimed`, unless attempts were counted
    /// after it (sign-ins racing it, e.g. guesses in parallel): those stay counted, so a
    /// success never opens more room for guesses already under way.
    pub async fn clear_login_failures(
        &self,
        email: &str,
        ip: &str,
        claimed: &LoginAttempts,
    ) -> Result<(), StorageError> {
        let key = email.trim().to_lowercase();
        with_pool!(self, |pool| {
            sqlx::query::<Db>(
                "DELETE FROM login_attempts WHERE email_key = $1 AND ip = $2 \
                 AND failures = $3 AND window_started_ms = $4",
            )
            .bind(&key)
            .bind(ip)
            .bind(claimed.failures)
            .bind(claimed.window_started.timestamp_millis())
            .execute(pool)
            .await
            .map(|_| ())
            .op("clearing login attempts")
        })
    }

    // ---------------------------------------------------------------- role-aware stores

    /// The scope of `store` for a caller: for [`StoreAccess::Owner`] exactly
    /// [`Storage::store_scope`] (owner checked in SQL; another tenant's store is `NotFound`);
    /// for [`StoreAccess::AllStores`] any existing store, scoped to its owner.
    pub async fn store_scope_for(
        &self,
        access: StoreAccess,
        store: StoreId,
    ) -> Result<StoreScope, StorageError> {
        match access {
            StoreAccess::Owner(user) => self.store_scope(user, store).await,
            StoreAccess::AllStores => {
                let owner: Option<i64> = with_pool!(self, |pool| {
                    sqlx::query_scalar::<Db, i64>("SELECT user_id FROM stores WHERE id = $1")
                        .bind(store.0)
                        .fetch_optional(pool)
                        .await
                        .op_store("looking up a store", store)
                })?;
                owner
                    .map(|user| StoreScope {
                        user_id: UserId(user),
                        store_id: store,
                    })
                    .ok_or_else(|| StorageError::NotFound {
                        what: "store",
                        id: store.to_string(),
                    })
            }
        }
    }

    /// The stores a caller reaches, by id.
    pub async fn list_stores_for(
        &self,
        access: StoreAccess,
    ) -> Result<Vec<StoreRecord>, StorageError> {
        match access {
            StoreAccess::Owner(user) => self.list_stores(user).await,
            StoreAccess::AllStores => self.list_all_stores().await,
        }
    }

    /// One store by id for a caller (see [`Storage::store_scope_for`]).
    pub async fn get_store_for(
        &self,
        access: StoreAccess,
        store: StoreId,
    ) -> Result<StoreRecord, StorageError> {
        let scope = self.store_scope_for(access, store).await?;
        let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE id = $1 AND user_id = $2");
        with_pool!(self, |pool| {
            sqlx::query_as::<Db, StoreRecord>(&sql)
                .bind(scope.store_id.0)
                .bind(scope.user_id.0)
                .fetch_optional(pool)
                .await
                .op_store("reading a store", store)
        })?
        .ok_or_else(|| StorageError::NotFound {
            what: "store",
            id: store.to_string(),
        })
    }
}
