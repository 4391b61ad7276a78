//! `cenports user add|list` and `cenports api-key create|list|revoke`: accounts, made by the
//! operator.
//!
//! Passwords are read with a hidden prompt (twice), or from standard input with
//! `--password-stdin` (one line; for scripts), so they never sit in shell history. An API key
//! is printed once, on stdout, and only its SHA-256 is stored.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};
use cenports::accounts::{self, Account, AccountError, Role};
use cenports::config::Settings;
use cenports::storage::{Storage, StorageError};
use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::stores::open_storage;

/// Options of `cenports user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

/// The `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (or set the role and password of a user that `cenports connect`
    /// made, which has none yet).
    Add(UserAddArgs),
    /// List accounts with their role and whether they can sign in.
    List(UserListArgs),
}

/// Options of `cenports user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The account's email (unique, case-insensitive).
    #[arg(long)]
    pub email: String,
    /// merchant (their own stores) or operator (every store).
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// Read the password from the first line of standard input instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Options of `cenports user list`.
#[derive(Debug, Args)]
pub struct UserListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `cenports api-key`.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    #[command(subcommand)]
    pub command: ApiKeyCommand,
}

/// The `api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for a user and print it, once.
    Create(ApiKeyCreateArgs),
    /// List a user's API keys (their first characters, never the keys).
    List(ApiKeyListArgs),
    /// Revoke one of a user's API keys: requests with it are refused from now on.
    Revoke(ApiKeyRevokeArgs),
}

/// Options of `cenports api-key list`.
#[derive(Debug, Args)]
pub struct ApiKeyListArgs {
    /// Whose keys.
    #[arg(long)]
    pub email: String,
}

/// Options of `cenports api-key revoke`.
#[derive(Debug, Args)]
pub struct ApiKeyRevokeArgs {
    /// Whose key.
    #[arg(long)]
    pub email: String,
    /// The key's id (see `cenports api-key list`).
    #[arg(long)]
    pub id: i64,
}

/// Options of `cenports api-key create`.
#[derive(Debug, Args)]
pub struct ApiKeyCreateArgs {
    /// The user the key acts as (it sees what they see).
    #[arg(long)]
    pub email: String,
    /// A label to recognise the key by, e.g. the warehouse's name.
    #[arg(long, default_value = "api key")]
    pub name: String,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

/// Runs `cenports user …`.
pub async fn run(args: UserArgs, settings: &Settings) -> Result<()> {
    match args.command {
        UserCommand::Add(args) => run_add(args, settings).await,
        UserCommand::List(args) => run_list(args, settings).await,
    }
}

async fn run_add(args: UserAddArgs, settings: &Settings) -> Result<()> {
    accounts::check_email(&args.email)?;
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the password from standard input")?;
        SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        prompt_password()?
    };
    accounts::password::check_new_password(&password)?;
    let storage = open_storage(settings).await?;
    let result = accounts::create_account(&storage, &args.email, args.role, password).await;
    storage.close().await;
    match result {
        Ok((account, created)) => {
            let verb = if created { "Created" } else { "Completed" };
            println!(
                "{verb} {} account {} (user {})",
                account.role,
                account.user.email,
                account.user.id.get()
            );
            if !created {
                println!("  the user existed without a password (made by `cenports connect`)");
            }
            Ok(())
        }
        Err(AccountError::Storage(StorageError::EmailTaken { email })) => bail!(
            "{email} already has an account with a password; pick another email, or keep using \
             that account"
        ),
        Err(e) => Err(e.into()),
    }
}

fn prompt_password() -> Result<SecretString> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password on; pass it on standard input with --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ").context("could not read the password")?;
    let second =
        rpassword::prompt_password("Password again: ").context("could not read the password")?;
    if first != second {
        bail!("the two passwords differ; run the command again");
    }
    Ok(SecretString::from(first))
}

async fn run_list(args: UserListArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let accounts = storage.list_accounts().await;
    storage.close().await;
    let accounts = accounts?;
    if args.json {
        let rows: Vec<_> = accounts
            .iter()
            .map(|a| {
                json!({
                    "id": a.user.id.get(),
                    "email": a.user.email,
                    "role": a.role.as_str(),
                    "can_sign_in": a.has_password,
                    "created_at": a.user.created_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if accounts.is_empty() {
        println!("No accounts yet; create one with `cenports user add --email E --role operator`.");
        return Ok(());
    }
    let width = accounts
        .iter()
        .map(|a| a.user.email.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:>5}  {:<width$}  {:<8}  sign-in", "id", "email", "role");
    for a in &accounts {
        println!(
            "{:>5}  {:<width$}  {:<8}  {}",
            a.user.id.get(),
            super::shown(&a.user.email),
            a.role.as_str(),
            if a.has_password { "yes" } else { "no password" }
        );
    }
    Ok(())
}

/// Runs `cenports api-key …`.
pub async fn run_api_key(args: ApiKeyArgs, settings: &Settings) -> Result<()> {
    let storage = open_storage(settings).await?;
    let result = match args.command {
        ApiKeyCommand::Create(args) => create_key(&storage, args).await,
        ApiKeyCommand::List(args) => list_keys(&storage, args).await,
        ApiKeyCommand::Revoke(args) => revoke_key(&storage, args).await,
    };
    storage.close().await;
    result
}

async fn account(storage: &Storage, email: &str) -> Result<Account> {
    storage
        .find_account_by_email(email)
        .await?
        .with_context(|| {
            format!(
                "no account {}; create it with `cenports user add --email {} --role merchant`",
                email.trim(),
                email.trim()
            )
        })
}

async fn create_key(storage: &Storage, args: ApiKeyCreateArgs) -> Result<()> {
    let account = account(storage, &args.email).await?;
    let (key, record) = accounts::create_api_key(storage, account.user.id, &args.name).await?;
    eprintln!(
        "API key {} ({}) for {} ({}). It is shown once: store it now.",
        record.id,
        super::shown(&record.name),
        super::shown(&account.user.email),
        account.role
    );
    println!("{}", key.expose_secret());
    Ok(())
}

async fn list_keys(storage: &Storage, args: ApiKeyListArgs) -> Result<()> {
    let account = account(storage, &args.email).await?;
    let keys = storage.list_api_keys(account.user.id).await?;
    if keys.is_empty() {
        println!(
            "{} has no API key; create one with `cenports api-key create --email {}`",
            account.user.email, account.user.email
        );
        return Ok(());
    }
    println!(
        "{:>5}  {:<14}  {:<20}  {:<10}  name",
        "id", "key", "created", "state"
    );
    for key in keys {
        println!(
            "{:>5}  {:<14}  {:<20}  {:<10}  {}",
            key.id,
            format!("{}…", key.prefix),
            key.created_at.format("%Y-%m-%d %H:%M:%S"),
            if key.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            },
            super::shown(&key.name)
        );
    }
    Ok(())
}

async fn revoke_key(storage: &Storage, args: ApiKeyRevokeArgs) -> Result<()> {
    let account = account(storage, &args.email).await?;
    match storage.revoke_api_key(account.user.id, args.id).await {
        Ok(()) => {
            println!("Revoked API key {} of {}", args.id, account.user.email);
            Ok(())
        }
        Err(StorageError::NotFound { .. }) => bail!(
            "{} has no active API key {}; see `cenports api-key list --email {}`",
            account.user.email,
            args.id,
            account.user.email
        ),
        Err(e) => Err(e.into()),
    }
}
