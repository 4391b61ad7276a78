//! Scratch PostgreSQL databases: one per test or per bench run, created on a server's admin
//! database and dropped when done.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use url::Url;

use crate::error::HarnessError;
use crate::names::random_suffix;

/// The PostgreSQL server used unless [`ADMIN_URL_ENV`] names another: its admin database, on
/// which scratch databases are created and dropped.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The variable naming another PostgreSQL server's admin database.
pub const ADMIN_URL_ENV: &str = "CENPORTS_TEST_POSTGRES_URL";

/// How long to wait for the server: an absent one should be noticed quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The admin URL: [`ADMIN_URL_ENV`] if set, else [`DEFAULT_ADMIN_URL`].
pub fn admin_url() -> String {
    std::env::var(ADMIN_URL_ENV).unwrap_or_else(|_| DEFAULT_ADMIN_URL.into())
}

/// A pool of one connection on the admin database at `admin_url`.
pub async fn admin_pool(admin_url: &str) -> Result<PgPool, HarnessError> {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(admin_url)
        .await
        .map_err(|source| HarnessError::PostgresUnreachable {
            url: redacted(admin_url),
            source,
        })
}

/// A database `cenports_<label>_<random>` of its own on a PostgreSQL server.
///
/// Drop it with [`drop_database`](ScratchPostgres::drop_database) when done, to see an error.
/// If it is dropped without (a test's panic, a bench's early `?`), `Drop` still drops the
/// database, on a thread of its own, and ignores errors: nothing is left behind on the server.
/// Either way the drop is `WITH (FORCE)`, so connections still open (a pool not closed yet)
/// do not keep it.
#[derive(Debug)]
pub struct ScratchPostgres {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl ScratchPostgres {
    /// Creates `cenports_<label>_<random>` on the server of `admin_url`. The error says
    /// whether the server was unreachable ([`HarnessError::PostgresUnreachable`], which a
    /// caller may treat as "no PostgreSQL here") or the creation failed.
    pub async fn create(admin_url: &str, label: &str) -> Result<ScratchPostgres, HarnessError> {
        let name = format!("cenports_{label}_{}", random_suffix());
        let mut url = Url::parse(admin_url).map_err(|source| HarnessError::NotAUrl {
            url: redacted(admin_url),
            source,
        })?;
        url.set_path(&name);
        let admin = admin_pool(admin_url).await?;
        let created = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await;
        admin.close().await;
        created.map_err(|source| HarnessError::Postgres {
            action: "create",
            name: name.clone(),
            source,
        })?;
        Ok(ScratchPostgres {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
            dropped: false,
        })
    }

    /// The scratch database's URL (the admin URL with its database name).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The scratch database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, `WITH (FORCE)`.
    pub async fn drop_database(mut self) -> Result<(), HarnessError> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // `Drop` cannot await, and may run inside a runtime (where blocking on another future
        // panics): a thread with a runtime of its own does it, and is waited for.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(drop_database(&admin_url, &name));
            }
        })
        .join();
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), HarnessError> {
    let admin = admin_pool(admin_url).await?;
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
    admin.close().await;
    dropped
        .map(|_| ())
        .map_err(|source| HarnessError::Postgres {
            action: "drop",
            name: name.to_owned(),
            source,
        })
}

/// `url` with its password, if any, replaced by `***`, for messages.
fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(a URL that does not parse)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_not_shown_in_messages() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/postgres"),
            "postgres://app:***@db:5432/postgres"
        );
        assert_eq!(redacted(DEFAULT_ADMIN_URL), DEFAULT_ADMIN_URL);
    }

    /// Needs the server of [`admin_url`]; skipped with a notice without it, unless `CI` is set.
    #[tokio::test]
    async fn a_scratch_database_is_created_and_dropped_even_when_forgotten() {
        let admin_url = admin_url();
        let db = match ScratchPostgres::create(&admin_url, "harness").await {
            Ok(db) => db,
            Err(HarnessError::PostgresUnreachable { .. }) if std::env::var_os("CI").is_none() => {
                eprintln!("NOTICE: skipped, PostgreSQL is unreachable at {admin_url}");
                return;
            }
            Err(error) => panic!("{error}"),
        };
        assert!(db.name().starts_with("cenports_harness_"));
        assert!(db.url().ends_with(&format!("/{}", db.name())));
        let exists = |name: String| {
            let admin_url = admin_url.clone();
            async move {
                let admin = admin_pool(&admin_url).await.unwrap();
                let found: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(name)
                        .fetch_optional(&admin)
                        .await
                        .unwrap();
                admin.close().await;
                found.is_some()
            }
        };
        // An open connection does not keep it (FORCE).
        let open = admin_pool(db.url()).await.unwrap();
        let name = db.name().to_owned();
        assert!(exists(name.clone()).await);
        db.drop_database().await.unwrap();
        assert!(!exists(name).await);
        open.close().await;

        let forgotten = ScratchPostgres::create(&admin_url, "harness")
            .await
            .unwrap();
        let name = forgotten.name().to_owned();
        drop(forgotten);
        assert!(!exists(name).await);
    }
}
