//! The hub's one typed configuration: [`Settings`].
//!
//! Settings are layered, each layer overriding the one before:
//!
//! 1. **defaults** (an embedded SQLite file `cenports.db`, each channel's public API, a key
//!    file next to the database, a sync every 5 minutes, `info` logs, no public URL, the server
//!    on `127.0.0.1:8080`);
//! 2. **an optional TOML file**, named by `--config FILE` or `CENPORTS_CONFIG`;
//! 3. **`CENPORTS_*` environment variables**;
//! 4. **command-line flags** that override one setting (`--database-url`).
//!
//! Everything is validated at load, before any subcommand runs: a wrong value fails with a
//! [`ConfigError`] that names the setting, where the value came from (default, file, variable or
//! flag) and how to fix it. The secret key is a [`SecretString`] from parse to use and
//! [`Settings`]' `Debug` prints `***` for it.
//!
//! The full reference (every key, its variable, its default) is in `docs/OPERATIONS.md`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::channel::{ApiUrlSetting, ApiUrls, Channels, API_URL_SETTINGS};
use crate::secrets::{SecretBox, SecretsError, DEFAULT_KEY_FILE, KEY_LEN};
use crate::storage::DEFAULT_DATABASE_URL;

/// The variable naming the config file.
pub const CONFIG_ENV: &str = "CENPORTS_CONFIG";
/// The variable overriding [`Settings::database_url`].
pub const DATABASE_URL_ENV: &str = "CENPORTS_DATABASE_URL";
/// The variable holding [`Settings::secret_key`].
pub const SECRET_KEY_ENV: &str = crate::secrets::SECRET_KEY_ENV;
/// The variable overriding [`Settings::key_file`].
pub const KEY_FILE_ENV: &str = "CENPORTS_KEY_FILE";
/// The variable overriding [`Settings::sync_interval`].
pub const SYNC_INTERVAL_ENV: &str = "CENPORTS_SYNC_INTERVAL";
/// The variables overriding [`Settings::outbox`]'s three delays, with their config file keys.
pub const OUTBOX_TIMING_SETTINGS: [(&str, &str); 3] = [
    ("outbox_quiet_period", "CENPORTS_OUTBOX_QUIET_PERIOD"),
    ("outbox_recheck_gap", "CENPORTS_OUTBOX_RECHECK_GAP"),
    ("outbox_slow_retry", "CENPORTS_OUTBOX_SLOW_RETRY"),
];
/// The variable overriding [`Settings::lease_period`].
pub const LEASE_PERIOD_ENV: &str = "CENPORTS_LEASE_PERIOD";
/// The variable overriding [`Settings::events_allow_private_networks`].
pub const EVENTS_ALLOW_PRIVATE_ENV: &str = "CENPORTS_EVENTS_ALLOW_PRIVATE_NETWORKS";
/// The variable overriding [`Settings::public_url`].
pub const PUBLIC_URL_ENV: &str = "CENPORTS_PUBLIC_URL";
/// The variable overriding [`Settings::listen`].
pub const LISTEN_ENV: &str = "CENPORTS_LISTEN";
/// The variable overriding [`Settings::log`] (`RUST_LOG` is honoured too, below it).
pub const LOG_ENV: &str = "CENPORTS_LOG";

/// How often each store syncs when nothing else is configured.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// How long a store lease lasts without a heartbeat when nothing else is configured
/// (`lease_period`): a killed process's stores are taken over within this.
pub const DEFAULT_LEASE_PERIOD: Duration = Duration::from_secs(30);
/// The log filter used when none is configured.
pub const DEFAULT_LOG: &str = "info";
/// Where `cenports serve` listens when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The hub's settings, validated.
///
/// `Debug` prints `***` for the secret key.
#[derive(Clone)]
pub struct Settings {
    /// The database: a SQLite path (`cenports.db`, `sqlite://path`) or a `postgres://` URL.
    pub database_url: String,
    /// Each channel's API host, by channel name: every request of its stores goes there (a
    /// sandbox in development). Set as `{channel}_api_url` / `CENPORTS_{CHANNEL}_API_URL`.
    pub channel_api_urls: ApiUrls,
    /// The key that encrypts store credentials (32 bytes, base64). `None`: use [`Self::key_file`].
    pub secret_key: Option<SecretString>,
    /// The key file, created with mode 0600 on first use when no key is configured.
    pub key_file: PathBuf,
    /// How often each store syncs on its own.
    pub sync_interval: Duration,
    /// How the outbox waits after an unknown outcome and retries rows that keep failing.
    pub outbox: OutboxTimings,
    /// How long a process's store leases last without a heartbeat (`lease_period`, default
    /// 30 s): the stores of a process that died are taken over by the others within it
    /// (`docs/OPERATIONS.md`, "Several processes").
    pub lease_period: Duration,
    /// The log filter (`tracing_subscriber::EnvFilter` syntax, e.g. `info,cenports=debug`).
    pub log: String,
    /// The base URL at which channels reach this hub's webhook receiver (`https://`, or
    /// `http://` on a loopback address for development). `None`: no hooks are registered and
    /// the hub relies on polling alone.
    pub public_url: Option<Url>,
    /// The address `cenports serve` listens on.
    pub listen: SocketAddr,
    /// Whether event subscriptions may point into private networks (private ranges,
    /// link-local); off by default (`docs/EVENTS.md`, "Where events may go").
    pub events_allow_private_networks: bool,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redacted_url(&self.database_url))
            .field(
                "channel_api_urls",
                &self
                    .channel_api_urls
                    .iter()
                    .map(|(channel, url)| (*channel, url.as_str()))
                    .collect::<Vec<_>>(),
            )
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("key_file", &self.key_file)
            .field("sync_interval", &self.sync_interval)
            .field("outbox", &self.outbox)
            .field("lease_period", &self.lease_period)
            .field("log", &self.log)
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("listen", &self.listen)
            .field(
                "events_allow_private_networks",
                &self.events_allow_private_networks,
            )
            .finish()
    }
}

/// The outbox's delays around an attempt whose outcome is unknown, and for rows that keep
/// failing (`docs/FULFILMENT.md`, "Unknown outcomes" and "Failed rows and retries").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxTimings {
    /// After a request whose outcome is unknown (no answer, a reset, a 5xx), how long before
    /// the row is read back (`outbox_quiet_period`, default 2 min): longer than the channel can
    /// take to apply a request it did not answer.
    pub quiet_period: Duration,
    /// After a read-back that found nothing, how long before the second read-back that proves
    /// nothing was applied and lets the row be sent again (`outbox_recheck_gap`, default 1 min).
    pub recheck_gap: Duration,
    /// How often a row that failed for a reason that can pass is retried once its quick
    /// attempts are spent (`outbox_slow_retry`, default 1 h).
    pub slow_retry: Duration,
}

impl Default for OutboxTimings {
    fn default() -> Self {
        OutboxTimings {
            quiet_period: Duration::from_secs(120),
            recheck_gap: Duration::from_secs(60),
            slow_retry: Duration::from_secs(3600),
        }
    }
}

/// What the command line adds on top of the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE` (wins over `CENPORTS_CONFIG`).
    pub config_file: Option<PathBuf>,
    /// `--database-url URL` (wins over `CENPORTS_DATABASE_URL` and the file).
    pub database_url: Option<String>,
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A key of the config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the default"),
            Origin::File(path) => write!(f, "the config file {}", path.display()),
            Origin::Env(name) => write!(f, "the environment variable {name}"),
            Origin::Flag(name) => write!(f, "the flag {name}"),
        }
    }
}

/// Why the settings could not be loaded. Every message names the setting and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is not valid.
    #[error("setting `{field}` (from {origin}) {problem}: {fix}")]
    Invalid {
        /// The setting's name in the config file, e.g. `sync_interval`.
        field: String,
        /// Where the value came from.
        origin: Origin,
        /// What is wrong (never a secret's value).
        problem: String,
        /// What to do.
        fix: String,
    },

    /// The config file could not be read.
    #[error(
        "the config file {} could not be read: {source}; fix the path given with --config or \
         {CONFIG_ENV}, or unset it to use defaults and CENPORTS_* variables",
        path.display()
    )]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The config file is not valid TOML for [`Settings`] (unknown key, wrong type...).
    #[error(
        "the config file {} is not valid: {message}; the keys are database_url, {}, \
         secret_key, key_file, sync_interval, outbox_quiet_period, outbox_recheck_gap, \
         outbox_slow_retry, lease_period, log, public_url, listen and \
         events_allow_private_networks (see docs/OPERATIONS.md)",
        path.display(),
        api_url_keys().join(", ")
    )]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message (with the line and key).
        message: String,
    },
}

/// The config file key of a channel's API host.
fn api_url_key(setting: &ApiUrlSetting) -> String {
    setting.key.to_owned()
}

/// The environment variable of a channel's host setting, by its name in [`ApiUrls`]:
/// `CENPORTS_{KEY}` (`CENPORTS_AMAZON_API_URL`, `CENPORTS_AMAZON_AUTH_URL`).
pub fn api_url_env(channel: &str) -> String {
    match API_URL_SETTINGS.iter().find(|s| s.channel == channel) {
        Some(setting) => format!("CENPORTS_{}", setting.key.to_ascii_uppercase()),
        None => format!("CENPORTS_{}_API_URL", channel.to_ascii_uppercase()),
    }
}

fn api_url_keys() -> Vec<String> {
    API_URL_SETTINGS.iter().map(api_url_key).collect()
}

/// The config file's keys, all optional. Unknown keys are refused so a typo is not ignored;
/// the channels' API hosts (`{channel}_api_url`) are taken out before, in [`read_file`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    #[serde(skip)]
    api_urls: Vec<(&'static str, String)>,
    database_url: Option<String>,
    secret_key: Option<SecretString>,
    key_file: Option<PathBuf>,
    sync_interval: Option<String>,
    outbox_quiet_period: Option<String>,
    outbox_recheck_gap: Option<String>,
    outbox_slow_retry: Option<String>,
    lease_period: Option<String>,
    log: Option<String>,
    public_url: Option<String>,
    listen: Option<String>,
    events_allow_private_networks: Option<bool>,
}

/// A raw value with where it came from.
struct Layered<T> {
    value: T,
    origin: Origin,
}

impl<T> Layered<T> {
    fn default(value: T) -> Self {
        Layered {
            value,
            origin: Origin::Default,
        }
    }

    fn set(&mut self, value: Option<T>, origin: Origin) {
        if let Some(value) = value {
            self.value = value;
            self.origin = origin;
        }
    }
}

impl Settings {
    /// Loads the settings from the process environment and the config file it or `overrides`
    /// name.
    pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
        Self::load_from(overrides, |name| std::env::var(name).ok())
    }

    /// Loads the settings with `env` as the environment (for tests).
    pub fn load_from(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        // An empty variable counts as unset: `FOO= cenports ...` is how people unset in a shell.
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let config_file = overrides
            .config_file
            .clone()
            .or_else(|| env(CONFIG_ENV).map(PathBuf::from));
        let file = match &config_file {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let file_origin = || Origin::File(config_file.clone().unwrap_or_default());

        let mut database_url = Layered::default(DEFAULT_DATABASE_URL.to_string());
        database_url.set(file.database_url, file_origin());
        database_url.set(env(DATABASE_URL_ENV), Origin::Env(DATABASE_URL_ENV.into()));
        database_url.set(
            overrides.database_url.clone(),
            Origin::Flag("--database-url"),
        );

        let mut api_urls = Vec::new();
        for setting in &API_URL_SETTINGS {
            let mut url = Layered::default(setting.default.to_string());
            let in_file = file
                .api_urls
                .iter()
                .find(|(channel, _)| *channel == setting.channel)
                .map(|(_, url)| url.clone());
            url.set(in_file, file_origin());
            let variable = api_url_env(setting.channel);
            url.set(env(&variable), Origin::Env(variable));
            api_urls.push((setting, url));
        }

        let mut secret_key: Layered<Option<SecretString>> = Layered::default(None);
        secret_key.set(file.secret_key.map(Some), file_origin());
        secret_key.set(
            env(SECRET_KEY_ENV).map(|key| Some(SecretString::from(key))),
            Origin::Env(SECRET_KEY_ENV.into()),
        );

        let mut key_file: Layered<Option<PathBuf>> = Layered::default(None);
        key_file.set(file.key_file.map(Some), file_origin());
        key_file.set(
            env(KEY_FILE_ENV).map(|p| Some(p.into())),
            Origin::Env(KEY_FILE_ENV.into()),
        );

        let mut sync_interval = Layered::default("5m".to_string());
        sync_interval.set(file.sync_interval, file_origin());
        sync_interval.set(
            env(SYNC_INTERVAL_ENV),
            Origin::Env(SYNC_INTERVAL_ENV.into()),
        );

        let defaults = OutboxTimings::default();
        let [quiet_period, recheck_gap, slow_retry] = [
            (file.outbox_quiet_period, defaults.quiet_period),
            (file.outbox_recheck_gap, defaults.recheck_gap),
            (file.outbox_slow_retry, defaults.slow_retry),
        ]
        .map(|(in_file, default)| {
            let mut value = Layered::default(format!("{}ms", default.as_millis()));
            value.set(in_file, file_origin());
            value
        });
        let mut timings = [quiet_period, recheck_gap, slow_retry];
        for ((_, variable), value) in OUTBOX_TIMING_SETTINGS.iter().zip(timings.iter_mut()) {
            value.set(env(variable), Origin::Env((*variable).into()));
        }

        let mut lease_period = Layered::default("30s".to_string());
        lease_period.set(file.lease_period, file_origin());
        lease_period.set(env(LEASE_PERIOD_ENV), Origin::Env(LEASE_PERIOD_ENV.into()));

        let mut log = Layered::default(DEFAULT_LOG.to_string());
        log.set(file.log, file_origin());
        log.set(env("RUST_LOG"), Origin::Env("RUST_LOG".into()));
        log.set(env(LOG_ENV), Origin::Env(LOG_ENV.into()));

        let mut public_url: Layered<Option<String>> = Layered::default(None);
        public_url.set(file.public_url.map(Some), file_origin());
        public_url.set(
            env(PUBLIC_URL_ENV).map(Some),
            Origin::Env(PUBLIC_URL_ENV.into()),
        );

        let mut listen = Layered::default(DEFAULT_LISTEN.to_string());
        listen.set(file.listen, file_origin());
        listen.set(env(LISTEN_ENV), Origin::Env(LISTEN_ENV.into()));

        let mut allow_private = Layered::default(None::<String>);
        allow_private.set(
            file.events_allow_private_networks
                .map(|b| Some(b.to_string())),
            file_origin(),
        );
        allow_private.set(
            env(EVENTS_ALLOW_PRIVATE_ENV).map(Some),
            Origin::Env(EVENTS_ALLOW_PRIVATE_ENV.into()),
        );

        let database_url = validate_database_url(database_url)?;
        let key_file = key_file
            .value
            .unwrap_or_else(|| default_key_file(&database_url));
        let mut channel_api_urls = ApiUrls::new();
        for (setting, url) in api_urls {
            if setting.optional() && url.value.trim().is_empty() {
                continue;
            }
            channel_api_urls.insert(setting.channel, validate_api_url(setting, url)?);
        }
        Ok(Settings {
            channel_api_urls,
            secret_key: validate_secret_key(secret_key)?,
            key_file,
            sync_interval: validate_sync_interval(sync_interval)?,
            outbox: validate_outbox_timings(timings)?,
            lease_period: validate_lease_period(lease_period)?,
            log: validate_log(log)?,
            public_url: validate_public_url(public_url)?,
            listen: validate_listen(listen)?,
            events_allow_private_networks: validate_flag(
                "events_allow_private_networks",
                allow_private,
            )?,
            database_url,
        })
    }

    /// Settings with every default but the database and the key file: what the demo and the
    /// benchmarks run a hub of their own with (no config file, no environment).
    pub fn local(database_url: impl Into<String>, key_file: PathBuf) -> Settings {
        Settings {
            database_url: database_url.into(),
            channel_api_urls: API_URL_SETTINGS
                .iter()
                .filter(|s| !s.optional())
                .map(|s| {
                    (
                        s.channel,
                        Url::parse(s.default).expect("a default URL is valid"),
                    )
                })
                .collect(),
            secret_key: None,
            key_file,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            outbox: OutboxTimings::default(),
            lease_period: DEFAULT_LEASE_PERIOD,
            log: DEFAULT_LOG.to_string(),
            public_url: None,
            listen: DEFAULT_LISTEN
                .parse()
                .expect("the default address is valid"),
            events_allow_private_networks: false,
        }
    }

    /// The API host configured for a channel (its default when the channel has none).
    pub fn api_url(&self, channel: &str) -> Option<&Url> {
        self.channel_api_urls.get(channel)
    }

    /// The process's channel registry: the built-in channels on their configured hosts, with
    /// the key that opens stored credentials (read, or the key file created, once).
    pub fn channels(&self) -> Result<Channels, SecretsError> {
        Ok(Channels::standard(
            Arc::new(self.secret_box()?),
            &self.channel_api_urls,
        ))
    }

    /// The box that encrypts store credentials: the configured key, else the key file (created
    /// on first use).
    pub fn secret_box(&self) -> Result<SecretBox, SecretsError> {
        SecretBox::from_config(self.secret_key.as_ref(), &self.key_file)
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |error: toml::de::Error| ConfigError::ParseFile {
        path: path.to_path_buf(),
        message: error.message().to_string() + &location(&text, error.span()),
    };
    let mut table: toml::Table = toml::from_str(&text).map_err(parse_error)?;
    let mut api_urls = Vec::new();
    for setting in &API_URL_SETTINGS {
        let Some(value) = table.remove(&api_url_key(setting)) else {
            continue;
        };
        match value {
            toml::Value::String(url) => api_urls.push((setting.channel, url)),
            other => {
                return Err(ConfigError::ParseFile {
                    path: path.to_path_buf(),
                    message: format!(
                        "{} is a {}, not a string",
                        api_url_key(setting),
                        other.type_str()
                    ),
                })
            }
        }
    }
    // The table's conversion has no spans; a key it refuses is found in the text for its line.
    let mut file: FileSettings = toml::Value::Table(table).try_into().map_err(|error| {
        let message = error.message().to_string();
        let line = message
            .split('`')
            .nth(1)
            .and_then(|key| line_of_key(&text, key))
            .map(|line| format!(" (line {line})"))
            .unwrap_or_default();
        ConfigError::ParseFile {
            path: path.to_path_buf(),
            message: message + &line,
        }
    })?;
    file.api_urls = api_urls;
    Ok(file)
}

/// The line (from 1) of a top-level `key = …` in a TOML text.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.split_once('=')
                .is_some_and(|(name, _)| name.trim().trim_matches('"') == key)
        })
        .map(|index| index + 1)
}

/// ` (line N)` for a TOML error span.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|span| {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        format!(" (line {line})")
    })
    .unwrap_or_default()
}

fn invalid(field: impl Into<String>, origin: Origin, problem: String, fix: &str) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        origin,
        problem,
        fix: fix.to_string(),
    }
}

fn validate_database_url(value: Layered<String>) -> Result<String, ConfigError> {
    let url = value.value.trim().to_string();
    let fix = "give a SQLite file path (cenports.db, sqlite://path/to/cenports.db) or a \
               PostgreSQL URL (postgres://user@host:5432/dbname)";
    if url.contains(":memory:") {
        return Err(invalid(
            "database_url",
            value.origin,
            "names an in-memory SQLite database, which would vanish with each connection".into(),
            fix,
        ));
    }
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        None | Some("sqlite" | "postgres" | "postgresql") => Ok(url),
        Some(other) => Err(invalid(
            "database_url",
            value.origin,
            format!("has the scheme {other}://, which Cenports does not support"),
            fix,
        )),
    }
}

fn validate_api_url(setting: &ApiUrlSetting, value: Layered<String>) -> Result<Url, ConfigError> {
    let key = api_url_key(setting);
    let fix = if setting.optional() {
        "leave it unset, or use the URL the sandbox prints for it".to_owned()
    } else {
        format!(
            "use {} (the default) or the base URL a sandbox prints, e.g. http://127.0.0.1:8090",
            setting.default
        )
    };
    let url = Url::parse(value.value.trim()).map_err(|error| {
        invalid(
            key.clone(),
            value.origin.clone(),
            format!("is not a URL ({error})"),
            &fix,
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            key,
            value.origin,
            format!("is {url}, not an http(s) URL with a host"),
            &fix,
        ));
    }
    if url.query().is_some() || url.username() != "" || url.password().is_some() {
        return Err(invalid(
            key,
            value.origin,
            "carries a query or credentials".into(),
            &fix,
        ));
    }
    Ok(url)
}

fn validate_secret_key(
    value: Layered<Option<SecretString>>,
) -> Result<Option<SecretString>, ConfigError> {
    let Some(key) = value.value else {
        return Ok(None);
    };
    let fix = "set it to 32 random bytes in base64 (e.g. the output of `openssl rand -base64 \
               32`), or unset it to use the key file";
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(key.expose_secret().trim());
    let problem = match decoded {
        Err(_) => Some("is not base64".to_string()),
        Ok(bytes) if bytes.len() != KEY_LEN => Some(format!(
            "decodes to {} bytes, {KEY_LEN} are needed",
            bytes.len()
        )),
        Ok(_) => None,
    };
    match problem {
        Some(problem) => Err(invalid("secret_key", value.origin, problem, fix)),
        None => Ok(Some(key)),
    }
}

fn validate_sync_interval(value: Layered<String>) -> Result<Duration, ConfigError> {
    let fix = "give a duration such as 300, 90s, 5m or 1h, at least 10 seconds";
    match parse_duration(&value.value) {
        Some(duration) if duration >= Duration::from_secs(10) => Ok(duration),
        Some(duration) => Err(invalid(
            "sync_interval",
            value.origin,
            format!(
                "is {} s, too short for a store's API quota",
                duration.as_secs()
            ),
            fix,
        )),
        None => Err(invalid(
            "sync_interval",
            value.origin,
            format!("is {:?}, not a duration", value.value),
            fix,
        )),
    }
}

fn validate_lease_period(value: Layered<String>) -> Result<Duration, ConfigError> {
    let fix = "give a duration between 1s and 10m, such as 30s";
    match parse_duration(&value.value) {
        Some(d) if d >= Duration::from_secs(1) && d <= Duration::from_secs(600) => Ok(d),
        Some(d) => Err(invalid(
            "lease_period",
            value.origin,
            format!("is {} ms, outside 1s..10m", d.as_millis()),
            fix,
        )),
        None => Err(invalid(
            "lease_period",
            value.origin,
            format!("is {:?}, not a duration", value.value),
            fix,
        )),
    }
}

fn validate_outbox_timings(values: [Layered<String>; 3]) -> Result<OutboxTimings, ConfigError> {
    let fix = "give a duration such as 500ms, 90s, 2m or 1h, longer than 0";
    let mut parsed = [Duration::ZERO; 3];
    for (((key, _), value), slot) in OUTBOX_TIMING_SETTINGS
        .iter()
        .zip(values)
        .zip(parsed.iter_mut())
    {
        match parse_duration(&value.value) {
            Some(duration) if !duration.is_zero() => *slot = duration,
            Some(_) => return Err(invalid(*key, value.origin, "is 0".into(), fix)),
            None => {
                return Err(invalid(
                    *key,
                    value.origin,
                    format!("is {:?}, not a duration", value.value),
                    fix,
                ))
            }
        }
    }
    let [quiet_period, recheck_gap, slow_retry] = parsed;
    Ok(OutboxTimings {
        quiet_period,
        recheck_gap,
        slow_retry,
    })
}

fn validate_log(value: Layered<String>) -> Result<String, ConfigError> {
    match tracing_subscriber::EnvFilter::try_new(&value.value) {
        Ok(_) => Ok(value.value),
        Err(error) => Err(invalid(
            "log",
            value.origin,
            format!("is {:?}, not a log filter ({error})", value.value),
            "give a level (error, warn, info, debug, trace) or directives such as \
             info,cenports=debug",
        )),
    }
}

/// A yes/no setting: `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
fn validate_flag(key: &str, value: Layered<Option<String>>) -> Result<bool, ConfigError> {
    let Some(text) = value.value else {
        return Ok(false);
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            key,
            value.origin,
            format!("is {text:?}, not true or false"),
            "give true or false",
        )),
    }
}

/// The public URL must be one a channel can call and that carries nothing it should not:
/// `https://` with a host, or `http://` only on a loopback host (a sandbox accepts those; a real
/// channel calls only `https`). No query, fragment or credentials. A trailing slash is dropped
/// so that paths join cleanly.
fn validate_public_url(value: Layered<Option<String>>) -> Result<Option<Url>, ConfigError> {
    let Some(text) = value.value else {
        return Ok(None);
    };
    let fix = "give the https:// base URL at which the channels reach this hub (e.g. \
               https://hub.example.com), or http://127.0.0.1:PORT for a local sandbox; unset it \
               to rely on polling alone";
    let url = Url::parse(text.trim()).map_err(|error| {
        invalid(
            "public_url",
            value.origin.clone(),
            format!("is not a URL ({error})"),
            fix,
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let problem = match url.scheme() {
        _ if url.host().is_none() => Some(format!("is {url}, which has no host")),
        "https" => None,
        "http" if loopback => None,
        "http" => Some(format!(
            "is {url}: plain http is only accepted on a loopback host; channels call https"
        )),
        other => Some(format!("has the scheme {other}://, not https://")),
    }
    .or_else(|| {
        (url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some())
        .then(|| "carries a query, fragment or credentials".to_string())
    });
    if let Some(problem) = problem {
        return Err(invalid("public_url", value.origin, problem, fix));
    }
    let mut url = url;
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(Some(url))
}

fn validate_listen(value: Layered<String>) -> Result<SocketAddr, ConfigError> {
    value.value.trim().parse().map_err(|_| {
        invalid(
            "listen",
            value.origin,
            format!("is {:?}, not an address and port", value.value),
            "give an IP address and port such as 127.0.0.1:8080 or 0.0.0.0:8080",
        )
    })
}

/// `300` (seconds), `90s`, `5m`, `1h`, `1500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.trim().parse::<u64>().ok().map(Duration::from_millis);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => number,
        "m" | "min" | "mins" => number.checked_mul(60)?,
        "h" | "hour" | "hours" => number.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// The key file beside a SQLite database file, or `cenports.key` in the working directory.
fn default_key_file(database_url: &str) -> PathBuf {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return PathBuf::from(DEFAULT_KEY_FILE);
    }
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .unwrap_or(database_url);
    let path = path.split('?').next().unwrap_or(path);
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(DEFAULT_KEY_FILE),
        _ => PathBuf::from(DEFAULT_KEY_FILE),
    }
}

/// A database URL with any password replaced by `***`.
pub fn redacted_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)], overrides: &Overrides) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(overrides, |name| env.get(name).cloned())
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "cenports-config-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_apply_when_nothing_is_configured() {
        let settings = load(&[], &Overrides::default()).unwrap();
        assert_eq!(settings.database_url, "cenports.db");
        for setting in API_URL_SETTINGS.iter().filter(|s| !s.optional()) {
            assert_eq!(
                settings.api_url(setting.channel).unwrap().as_str(),
                Url::parse(setting.default).unwrap().as_str()
            );
        }
        assert!(settings.secret_key.is_none());
        assert_eq!(settings.key_file, PathBuf::from("cenports.key"));
        assert_eq!(settings.sync_interval, Duration::from_secs(300));
        assert_eq!(settings.log, "info");
        assert_eq!(settings.public_url, None);
        assert_eq!(settings.listen, "127.0.0.1:8080".parse().unwrap());
    }

    #[test]
    fn the_public_url_is_https_or_http_on_loopback_only() {
        let ok = |url: &str| {
            load(&[(PUBLIC_URL_ENV, url)], &Overrides::default())
                .unwrap()
                .public_url
                .unwrap()
                .to_string()
        };
        assert_eq!(ok("https://hub.example.com/"), "https://hub.example.com/");
        assert_eq!(
            ok("https://hub.example.com/cp/"),
            "https://hub.example.com/cp"
        );
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(ok("http://localhost:9000"), "http://localhost:9000/");
        assert_eq!(ok("http://[::1]:9000"), "http://[::1]:9000/");
        for bad in [
            "http://hub.example.com",
            "ftp://hub.example.com",
            "https://user:pw@hub.example.com",
            "https://hub.example.com/?a=1",
            "hub.example.com",
        ] {
            let error = load(&[(PUBLIC_URL_ENV, bad)], &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(
                    "setting `public_url` (from the environment variable CENPORTS_PUBLIC_URL)"
                ),
                "{error}"
            );
            assert!(error.contains("https://"), "{error}");
        }
        let error = load(&[(LISTEN_ENV, "8080")], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("setting `listen`"), "{error}");
    }

    #[test]
    fn the_key_file_sits_next_to_the_sqlite_file() {
        let settings = load(
            &[(DATABASE_URL_ENV, "sqlite:///var/lib/hub/hub.db")],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            settings.key_file,
            PathBuf::from("/var/lib/hub/cenports.key")
        );
    }

    #[test]
    fn env_overrides_the_file_and_flags_override_env() {
        let channel = API_URL_SETTINGS[0].channel;
        let file = temp_file(
            "layers",
            &format!(
                "database_url = \"file.db\"\n{channel}_api_url = \"http://127.0.0.1:9000\"\n\
                 sync_interval = \"2m\"\n"
            ),
        );
        let overrides = Overrides {
            config_file: Some(file.clone()),
            database_url: None,
        };
        let settings = load(&[(DATABASE_URL_ENV, "env.db")], &overrides).unwrap();
        assert_eq!(settings.database_url, "env.db");
        assert_eq!(
            settings.api_url(channel).unwrap().as_str(),
            "http://127.0.0.1:9000/"
        );
        assert_eq!(settings.sync_interval, Duration::from_secs(120));
        let overrides = Overrides {
            database_url: Some("flag.db".into()),
            ..overrides
        };
        let settings = load(&[(DATABASE_URL_ENV, "env.db")], &overrides).unwrap();
        assert_eq!(settings.database_url, "flag.db");
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn a_bad_key_names_the_setting_its_origin_and_the_fix_without_the_key() {
        let error = load(&[(SECRET_KEY_ENV, "c2hvcnQ=")], &Overrides::default()).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("setting `secret_key` (from the environment variable CENPORTS_SECRET_KEY) decodes to 5 bytes, 32 are needed: set it to 32 random bytes"), "{message}");
        assert!(!message.contains("c2hvcnQ="));
    }

    #[test]
    fn a_bad_api_url_and_interval_are_refused_with_the_fix() {
        let setting = API_URL_SETTINGS[0];
        let variable = api_url_env(setting.channel);
        let error = load(
            &[(&variable, "no-scheme.example.com")],
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(&format!("setting `{}_api_url`", setting.channel)),
            "{error}"
        );
        assert!(
            error.contains(&format!("use {}", setting.default)),
            "{error}"
        );
        let error = load(&[(SYNC_INTERVAL_ENV, "often")], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("setting `sync_interval`"), "{error}");
    }

    #[test]
    fn an_unknown_file_key_is_refused() {
        let file = temp_file("unknown", "databse_url = \"x.db\"\n");
        let overrides = Overrides {
            config_file: Some(file.clone()),
            database_url: None,
        };
        let error = load(&[], &overrides).unwrap_err().to_string();
        assert!(error.contains("databse_url"), "{error}");
        assert!(error.contains("(line 1)"), "{error}");
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn debug_hides_the_key() {
        let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let settings = load(&[(SECRET_KEY_ENV, key)], &Overrides::default()).unwrap();
        let debug = format!("{settings:?}");
        assert!(debug.contains("***"), "{debug}");
        assert!(!debug.contains(key), "{debug}");
    }

    #[test]
    fn durations_parse_in_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5 weeks"), None);
    }
}
