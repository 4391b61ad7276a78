//! `cenports user add|list` and `cenports api-key create`: accounts, made by the operator.
//!
//! Passwords are read with a hidden prompt (twice), or from standard input with
//! `--password-stdin` (one line; for scripts), so they never sit in shell history. An API key
//! is printed once, on stdout, and only its SHA-256 is stored.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};
use cenports::accounts::{self, AccountError, Role};
use cenports::config::Settings;
use cenports::storage::StorageError;
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
            a.user.email,
            a.role.as_str(),
            if a.has_password { "yes" } else { "no password" }
        );
    }
    Ok(())
}

/// Runs `cenports api-key …`.
pub async fn run_api_key(args: ApiKeyArgs, settings: &Settings) -> Result<()> {
    let ApiKeyCommand::Create(args) = args.command;
    let storage = open_storage(settings).await?;
    let result = async {
        let account = storage
            .find_account_by_email(&args.email)
            .await?
            .with_context(|| {
                format!(
                    "no account {}; create it with `cenports user add --email {} --role merchant`",
                    args.email.trim(),
                    args.email.trim()
                )
            })?;
        let (key, record) = accounts::create_api_key(&storage, account.user.id, &args.name).await?;
        Ok::<_, anyhow::Error>((account, key, record))
    }
    .await;
    storage.close().await;
    let (account, key, record) = result?;
    eprintln!(
        "API key {} ({}) for {} ({}). It is shown once: store it now.",
        record.id, record.name, account.user.email, account.role
    );
    println!("{}", key.expose_secret());
    Ok(())
}
