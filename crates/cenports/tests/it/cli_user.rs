//! Black-box tests of `cenports user` and `cenports api-key`: the real binary on a fresh SQLite
//! file, checked on its output and on what the database then accepts.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::TempDir;
use cenports::accounts::{self, Role, SystemClock};
use cenports::storage::Storage;
use secrecy::SecretString;
use serde_json::Value;

const PASSWORD: &str = "a long enough password";

fn cenports(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .arg("--database-url")
        .arg(db)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn an_operator_adds_users_and_a_key_is_printed_once_and_works_until_revoked() {
    let dir = TempDir::new("cli-user");
    std::fs::create_dir_all(&dir.0).unwrap();
    let db = format!("sqlite://{}", dir.0.join("hub.db").display());

    // A user made by `connect` (no password) is completed, not duplicated.
    let storage = Storage::open(&db).await.unwrap();
    storage.ensure_user("shop@example.com").await.unwrap();
    storage.close().await;

    let add = cenports(
        &db,
        &[
            "user",
            "add",
            "--email",
            "ops@example.com",
            "--role",
            "operator",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(add.status.success(), "{}", text(&add.stderr));
    assert!(text(&add.stdout).contains("Created operator account ops@example.com"));
    let complete = cenports(
        &db,
        &[
            "user",
            "add",
            "--email",
            "SHOP@example.com",
            "--role",
            "merchant",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(complete.status.success(), "{}", text(&complete.stderr));
    assert!(
        text(&complete.stdout).contains("Completed merchant account"),
        "{}",
        text(&complete.stdout)
    );
    let again = cenports(
        &db,
        &[
            "user",
            "add",
            "--email",
            "ops@example.com",
            "--role",
            "merchant",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already has an account"),
        "{}",
        text(&again.stderr)
    );
    let short = cenports(
        &db,
        &[
            "user",
            "add",
            "--email",
            "new@example.com",
            "--role",
            "merchant",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("12 to 256 characters"),
        "{}",
        text(&short.stderr)
    );
    let no_terminal = cenports(
        &db,
        &[
            "user",
            "add",
            "--email",
            "new@example.com",
            "--role",
            "merchant",
        ],
        None,
    );
    assert!(!no_terminal.status.success());
    assert!(text(&no_terminal.stderr).contains("--password-stdin"));

    let list = cenports(&db, &["user", "list", "--json"], None);
    let users: Value = serde_json::from_slice(&list.stdout).unwrap();
    let users: Vec<(String, String, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["email"].as_str().unwrap().to_owned(),
                u["role"].as_str().unwrap().to_owned(),
                u["can_sign_in"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        users,
        vec![
            ("shop@example.com".into(), "merchant".into(), true),
            ("ops@example.com".into(), "operator".into(), true),
        ]
    );

    let created = cenports(
        &db,
        &["api-key", "create", "--email", "shop@example.com"],
        None,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let key = text(&created.stdout).trim().to_owned();
    assert!(key.starts_with("cpk_") && key.len() == 47, "{key}");
    assert!(text(&created.stderr).contains("shown once"));
    let listed = cenports(
        &db,
        &["api-key", "list", "--email", "shop@example.com"],
        None,
    );
    assert!(
        text(&listed.stdout).contains(&key[..12]),
        "{}",
        text(&listed.stdout)
    );
    assert!(
        !text(&listed.stdout).contains(&key),
        "a key is never shown again"
    );

    let storage = Storage::open(&db).await.unwrap();
    let account = accounts::authenticate_api_key(&storage, &SystemClock, &key)
        .await
        .expect("the printed key authenticates");
    assert_eq!(
        (account.user.email.as_str(), account.role),
        ("shop@example.com", Role::Merchant)
    );
    let session = accounts::login(
        &storage,
        &SystemClock,
        &Default::default(),
        "shop@example.com",
        SecretString::from(PASSWORD.to_owned()),
        "127.0.0.1",
    )
    .await
    .expect("the completed account signs in");
    assert_eq!(session.account.user.id, account.user.id);
    // The database holds the key's digest, never the key.
    let bytes = std::fs::read(dir.0.join("hub.db")).unwrap();
    let wal = std::fs::read(dir.0.join("hub.db-wal")).unwrap_or_default();
    for file in [&bytes, &wal] {
        assert!(!file.windows(key.len()).any(|w| w == key.as_bytes()));
    }

    let id = storage.list_api_keys(account.user.id).await.unwrap()[0]
        .id
        .to_string();
    storage.close().await;
    let revoked = cenports(
        &db,
        &[
            "api-key",
            "revoke",
            "--email",
            "shop@example.com",
            "--id",
            &id,
        ],
        None,
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let twice = cenports(
        &db,
        &[
            "api-key",
            "revoke",
            "--email",
            "shop@example.com",
            "--id",
            &id,
        ],
        None,
    );
    assert!(!twice.status.success());
    let storage = Storage::open(&db).await.unwrap();
    assert!(accounts::authenticate_api_key(&storage, &SystemClock, &key)
        .await
        .is_err());
    storage.close().await;
    let nobody = cenports(
        &db,
        &["api-key", "create", "--email", "nobody@example.com"],
        None,
    );
    assert!(!nobody.status.success());
    assert!(text(&nobody.stderr).contains("cenports user add --email nobody@example.com"));
}
