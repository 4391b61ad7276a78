//! `cenports connect` and `cenports disconnect`.
//!
//! `connect` takes what the merchant guide asks for — the Cenports user's email and the API
//! account's store URL, Client ID, Client Secret and Access Token — either as the credentials
//! `.txt` BigCommerce downloads (`--credentials-file`) or one by one. The two secrets are best
//! given through `CENPORTS_ACCESS_TOKEN` / `CENPORTS_CLIENT_SECRET` or typed at the hidden
//! prompt, so that they do not land in shell history; `--access-token` and `--client-secret`
//! work too, for scripts.
//!
//! It runs the BigCommerce channel's check ([`cenports::channel::bigcommerce::connect::check`])
//! against the configured API host, prints each scope the guide asks for with its verdict and
//! the fix, and saves the store **only if the check passed**: the user is created from the
//! email if new, the secrets are encrypted ([`cenports::channel::credentials`]) and the profile
//! is saved. Connecting the same store again is a
//! reconnect: the credentials are replaced.
//!
//! When a public URL is configured (`public_url`), `connect` then registers the store's
//! webhooks ([`cenports::webhooks::registration`]); `disconnect` removes them first, while the
//! credentials are still there.
//!
//! `disconnect` forgets a store's secrets; its orders and catalog stay.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cenports::channel::bigcommerce::connect::{
    self, ConnectError, ConnectInput, ConnectSettings, RequiredScope,
};
use cenports::channel::bigcommerce::webhooks::HOOK_SCOPES;
use cenports::channel::bigcommerce::{CHANNEL, DEFAULT_API_URL};
use cenports::channel::credentials::save_verified;
use cenports::channel::{Channel, Channels, ConnectSubmission, PermissionCheck, VerifiedStore};
use cenports::config::Settings;
use cenports::storage::{Storage, StoreRecord, StoreStatus};
use std::collections::BTreeMap;

use super::shown;
use cenports::webhooks::registration::{register_hooks, remove_hooks};
use clap::Args;
use secrecy::SecretString;

use crate::cli::stores::{open_storage, select_stores};

/// The variable holding the access token for `cenports connect`.
pub const ACCESS_TOKEN_ENV: &str = "CENPORTS_ACCESS_TOKEN";
/// The variable holding the client secret for `cenports connect`.
pub const CLIENT_SECRET_ENV: &str = "CENPORTS_CLIENT_SECRET";

/// Options of `cenports connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The channel: bigcommerce, or amazon (which takes its amazon-merchant.json through
    /// --credentials-file).
    #[arg(long, default_value = "bigcommerce")]
    pub channel: String,
    /// The email you log into Cenports with; the store is saved under it.
    #[arg(long)]
    pub email: String,
    /// The credentials .txt BigCommerce downloads when the API account is created (with
    /// --channel amazon: the amazon-merchant.json of the app authorisation).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["store_url", "client_id", "client_secret", "access_token"])]
    pub credentials_file: Option<PathBuf>,
    /// The store's Permanent Address (https://store-XXXX.mybigcommerce.com), its API path, or
    /// its store hash.
    #[arg(long, required_unless_present = "credentials_file")]
    pub store_url: Option<String>,
    /// The API account's Client ID.
    #[arg(long, required_unless_present = "credentials_file")]
    pub client_id: Option<String>,
    /// The API account's Client Secret (prefer CENPORTS_CLIENT_SECRET or the prompt: a flag
    /// stays in shell history).
    #[arg(long)]
    pub client_secret: Option<String>,
    /// The API account's Access Token (prefer CENPORTS_ACCESS_TOKEN or the prompt: a flag
    /// stays in shell history).
    #[arg(long)]
    pub access_token: Option<String>,
}

/// Options of `cenports disconnect`.
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// The Cenports user who owns the store.
    #[arg(long)]
    pub email: String,
    /// The store hash (see `cenports stores`).
    #[arg(long, value_name = "HASH")]
    pub store: String,
}

/// Runs `cenports connect`.
pub async fn run(args: ConnectArgs, settings: &Settings) -> Result<()> {
    if args.channel != CHANNEL {
        return run_channel(&args, settings).await;
    }
    let input = match &args.credentials_file {
        Some(path) => input_from_credentials_file(&args.email, path)?,
        None => input_from_flags(&args)?,
    };
    let storage = open_storage(settings).await?;
    let mut out = std::io::stdout().lock();
    let channels = settings.channels()?;
    let store = check_and_save(settings, &channels, &storage, input, &mut out).await?;
    if let Some(public_url) = &settings.public_url {
        let registered = async {
            let client = channels.open(&storage, &store).await?;
            Ok::<_, anyhow::Error>(
                register_hooks(
                    &storage,
                    channels.secret_box(),
                    &store,
                    client.as_ref(),
                    public_url,
                )
                .await?,
            )
        }
        .await;
        match registered {
            Ok(report) => writeln!(
                out,
                "Webhooks: {} hooks call {} ({} created, {} repaired).",
                HOOK_SCOPES.len(),
                shown(&report.destination.to_string()),
                report.created,
                report.reactivated + report.updated
            )?,
            Err(error) => writeln!(
                out,
                "Webhooks: could not be registered ({}); `cenports serve` retries at its \
                 next health check, and polling imports orders meanwhile.",
                shown(&format!("{error:#}"))
            )?,
        }
    }
    writeln!(
        out,
        "Next: `cenports sync --email {} --store {}` imports its orders and catalog.",
        shown(args.email.trim()),
        shown(&store.remote_id)
    )?;
    Ok(())
}

/// `cenports connect --channel NAME --credentials-file FILE` for a channel other than
/// BigCommerce: the file goes to the channel's own check, each permission
/// is printed with its verdict and fix, and the store is saved only if the check passed.
async fn run_channel(args: &ConnectArgs, settings: &Settings) -> Result<()> {
    let channels = settings.channels()?;
    let Some(channel) = channels.get(&args.channel).cloned() else {
        let names: Vec<&str> = channels.all().iter().map(|c| c.name()).collect();
        bail!(
            "{:?} is not a channel of this hub: use one of {}",
            args.channel,
            names.join(", ")
        );
    };
    let Some(path) = &args.credentials_file else {
        bail!(
            "connecting a {} seller takes --credentials-file (its credentials JSON); the \
             dashboard's connect page takes the fields one by one",
            channel.display_name()
        );
    };
    let mut out = std::io::stdout().lock();
    let verified = check_credentials_file(channel.as_ref(), &args.email, path, &mut out).await?;
    let storage = open_storage(settings).await?;
    let store = save_verified(&storage, channels.secret_box(), &verified)
        .await
        .context("the check passed but the store could not be saved")?;
    writeln!(
        out,
        "Connected {} store {} \"{}\" (id {}) for {}; its credentials are stored encrypted.",
        channel.display_name(),
        shown(&store.remote_id),
        shown(&store.profile.name),
        store.id().get(),
        shown(verified.email.trim())
    )?;
    writeln!(
        out,
        "Next: `cenports sync --email {} --store {}` imports its orders.",
        shown(verified.email.trim()),
        shown(&store.remote_id)
    )?;
    Ok(())
}

/// What `cenports connect --channel NAME --credentials-file FILE` checks before saving: the file
/// goes to the channel's own check ([`Channel::check`]) and each permission is printed to `out`
/// with its verdict and fix. A refusal is an error carrying the channel's message; nothing is
/// saved here.
pub async fn check_credentials_file(
    channel: &dyn Channel,
    email: &str,
    path: &Path,
    out: &mut impl Write,
) -> Result<VerifiedStore> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the credentials file {}", path.display()))?;
    writeln!(
        out,
        "Checking the {} credentials ...",
        channel.display_name()
    )?;
    let submission = ConnectSubmission {
        email: email.to_owned(),
        fields: BTreeMap::new(),
        file: Some(SecretString::from(text)),
    };
    match channel.check(submission).await {
        Ok(verified) => {
            print_permissions(out, &verified.permissions)?;
            Ok(verified)
        }
        Err(refused) => {
            print_permissions(out, &refused.permissions)?;
            bail!("{}", refused.message);
        }
    }
}

/// One line per permission: `ok` or `MISSING` with the fix.
fn print_permissions(out: &mut impl Write, permissions: &[PermissionCheck]) -> Result<()> {
    for permission in permissions {
        if permission.granted {
            writeln!(out, "  ok       {} ({})", permission.label, permission.code)?;
        } else {
            writeln!(
                out,
                "  MISSING  {} ({}): {}",
                permission.label, permission.code, permission.fix
            )?;
        }
    }
    Ok(())
}

/// Reads and parses a credentials `.txt` into an input for `email`.
pub fn input_from_credentials_file(email: &str, path: &Path) -> Result<ConnectInput> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "could not read the credentials file {}; give the .txt BigCommerce downloaded when \
             the API account was created",
            path.display()
        )
    })?;
    Ok(ConnectInput::from_credentials_txt(email, &text)?)
}

fn input_from_flags(args: &ConnectArgs) -> Result<ConnectInput> {
    let client_secret = secret(
        args.client_secret.as_deref(),
        CLIENT_SECRET_ENV,
        "Client Secret",
        "--client-secret",
    )?;
    let access_token = secret(
        args.access_token.as_deref(),
        ACCESS_TOKEN_ENV,
        "Access Token",
        "--access-token",
    )?;
    Ok(ConnectInput {
        email: args.email.clone(),
        store_url: args.store_url.clone().unwrap_or_default(),
        client_id: args.client_id.clone().unwrap_or_default(),
        client_secret,
        access_token,
    })
}

/// A secret from its flag, else its environment variable, else a hidden prompt on a terminal.
fn secret(flag: Option<&str>, env: &str, label: &str, flag_name: &str) -> Result<SecretString> {
    if let Some(value) = flag {
        tracing::warn!(
            "{flag_name} keeps the {label} in shell history; prefer {env} or the prompt"
        );
        return Ok(SecretString::from(value.to_string()));
    }
    if let Some(value) = std::env::var(env).ok().filter(|v| !v.trim().is_empty()) {
        return Ok(SecretString::from(value));
    }
    if std::io::stdin().is_terminal() {
        let value = rpassword::prompt_password(format!("{label} (hidden): "))
            .with_context(|| format!("could not read the {label} from the terminal"))?;
        return Ok(SecretString::from(value));
    }
    bail!(
        "the {label} is missing: set {env}, type it at the prompt (run on a terminal), pass \
         {flag_name}, or use --credentials-file"
    )
}

/// How connect checks reach BigCommerce: the configured API host.
pub fn connect_settings(settings: &Settings) -> ConnectSettings {
    let url = settings
        .api_url(CHANNEL)
        .cloned()
        .unwrap_or_else(|| url::Url::parse(DEFAULT_API_URL).expect("the default URL is valid"));
    ConnectSettings::new(url)
}

/// Checks `input` against the configured API host, prints each required scope with its
/// verdict, and saves the store only if the check passed. The error of a failed check is the
/// connect error itself (its message says what to change in BigCommerce).
pub async fn check_and_save(
    settings: &Settings,
    channels: &Channels,
    storage: &Storage,
    input: ConnectInput,
    out: &mut impl Write,
) -> Result<StoreRecord> {
    let connect_settings = connect_settings(settings);
    writeln!(
        out,
        "Checking the API account against {} ...",
        connect_settings.api_base_url
    )?;
    let verified = match connect::check(input, &connect_settings).await {
        Ok(verified) => verified,
        Err(error) => {
            if let ConnectError::MissingScopes(missing) = &error {
                print_scopes(out, |scope| !missing.iter().any(|c| c.scope == scope))?;
            }
            return Err(error.into());
        }
    };
    print_scopes(out, |scope| {
        verified
            .scopes
            .iter()
            .any(|c| c.scope == scope && c.granted)
    })?;
    let email = verified.email.clone();
    let store = save_verified(storage, channels.secret_box(), &verified.into_verified())
        .await
        .context("the check passed but the store could not be saved")?;
    writeln!(
        out,
        "Connected store {} \"{}\" (id {}) for {}; its access token and client secret are \
         stored encrypted.",
        shown(&store.remote_id),
        shown(&store.profile.name),
        store.id().get(),
        shown(&email)
    )?;
    Ok(store)
}

/// One line per required scope: `ok` or `MISSING` with the fix.
fn print_scopes(out: &mut impl Write, granted: impl Fn(RequiredScope) -> bool) -> Result<()> {
    for scope in RequiredScope::ALL {
        if granted(scope) {
            writeln!(out, "  ok       {scope}")?;
        } else {
            writeln!(
                out,
                "  MISSING  {scope}: edit the API account in BigCommerce (Advanced Settings › \
                 API Accounts), set {}, and reconnect",
                scope.setting()
            )?;
        }
    }
    Ok(())
}

/// Runs `cenports disconnect`.
pub async fn run_disconnect(args: DisconnectArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    for store in select_stores(&storage, Some(&args.email), Some(&args.store)).await? {
        // Hooks first: removing them needs the credentials the disconnect forgets. A store
        // without an endpoint never had hooks registered (the endpoint is saved before them).
        let registered = storage
            .get_webhook_endpoint(&store.scope())
            .await?
            .is_some();
        if registered && store.status == StoreStatus::Connected {
            let removed = async {
                let client = settings.channels()?.open(&storage, &store).await?;
                Ok::<_, anyhow::Error>(remove_hooks(&storage, &store, client.as_ref()).await?)
            }
            .await;
            match removed {
                Ok(0) => {}
                Ok(n) => println!("Removed {n} webhooks of store {}.", shown(&store.remote_id)),
                Err(error) => {
                    storage.delete_webhook_endpoint(&store.scope()).await?;
                    println!(
                        "Webhooks of store {} could not be removed ({}); their callbacks \
                         are refused and BigCommerce deactivates them.",
                        shown(&store.remote_id),
                        shown(&format!("{error:#}"))
                    );
                }
            }
        }
        storage.disconnect_store(&store.scope()).await?;
        println!(
            "Disconnected store {}: its access token and client secret are forgotten; its \
             orders and catalog stay. Reconnect with `cenports connect`.",
            shown(&store.remote_id)
        );
    }
    Ok(())
}
