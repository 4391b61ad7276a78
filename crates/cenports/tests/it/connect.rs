//! Connecting a store, black-box: the real `connect::check` against a real sandbox on a
//! loopback port, with every bad input the merchant guide can lead to; and the secret box.

use std::path::PathBuf;
use std::time::Duration;

use bigcommerce_sandbox::credentials::credentials_txt;
use bigcommerce_sandbox::{ApiAccount, Sandbox, SandboxConfig, StoreInfo, StoreSpec};
use cenports::channel::bigcommerce::connect::{
    self, parse_credentials_txt, ConnectError, ConnectInput, ConnectSettings, RequiredScope,
};
use cenports::secrets::{self, SecretBox, SecretsError};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use url::Url;

const EMAIL: &str = "ops@warehouse.example";

struct Harness {
    sandbox: Sandbox,
    store: StoreInfo,
    settings: ConnectSettings,
}

impl Harness {
    async fn start() -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = Sandbox::start(listener, SandboxConfig::default())
            .await
            .unwrap();
        let store = sandbox.create_store(StoreSpec {
            orders: 20,
            products: 10,
            name: Some("Harbour Supplies".into()),
            ..StoreSpec::default()
        });
        let settings = ConnectSettings {
            api_base_url: Url::parse(sandbox.base_url()).unwrap(),
            timeout: Duration::from_secs(10),
        };
        Harness {
            sandbox,
            store,
            settings,
        }
    }

    fn account(&self, profile: &str) -> &ApiAccount {
        self.store.account(profile).unwrap()
    }

    fn input(&self, profile: &str, store_url: &str) -> ConnectInput {
        let account = self.account(profile);
        ConnectInput {
            email: EMAIL.into(),
            store_url: store_url.into(),
            client_id: account.client_id.clone(),
            client_secret: SecretString::from(account.client_secret.clone()),
            access_token: SecretString::from(account.access_token.clone()),
        }
    }

    fn permanent_address(&self) -> String {
        format!("https://store-{}.mybigcommerce.com", self.store.hash)
    }

    fn requests(&self) -> u64 {
        let store = self.sandbox.store(&self.store.hash).unwrap();
        let total = store.log.lock().counters().total;
        total
    }

    /// Orders and catalog as JSON, to compare before and after the probes.
    fn snapshot(&self) -> serde_json::Value {
        let store = self.sandbox.store(&self.store.hash).unwrap();
        let data = store.data.read();
        serde_json::json!({
            "orders": serde_json::to_value(&data.orders).unwrap(),
            "products": serde_json::to_value(&data.products).unwrap(),
        })
    }

    async fn check(&self, input: ConnectInput) -> Result<connect::VerifiedStore, ConnectError> {
        connect::check(input, &self.settings).await
    }

    /// Asserts that neither the error's message, its `Debug`, nor its sources contain any of
    /// the account's secrets.
    fn assert_no_secrets(&self, text: &str) {
        for account in &self.store.accounts {
            assert!(
                !text.contains(&account.access_token),
                "a token leaked: {text}"
            );
            assert!(
                !text.contains(&account.client_secret),
                "a client secret leaked: {text}"
            );
        }
    }

    fn assert_error_is_clean(&self, error: &ConnectError) {
        self.assert_no_secrets(&error.to_string());
        self.assert_no_secrets(&format!("{error:?}"));
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            self.assert_no_secrets(&inner.to_string());
            source = inner.source();
        }
    }
}

fn missing_scopes(error: &ConnectError) -> Vec<RequiredScope> {
    match error {
        ConnectError::MissingScopes(checks) => checks.iter().map(|c| c.scope).collect(),
        other => panic!("expected missing scopes, got: {other}"),
    }
}

#[tokio::test]
async fn merchant_guide_credentials_verify_and_return_the_store_profile() {
    let h = Harness::start().await;
    let store = h
        .check(h.input("merchant-guide", &h.permanent_address()))
        .await
        .unwrap();

    assert_eq!(store.store_hash.as_str(), h.store.hash);
    assert_eq!(store.email, EMAIL);
    assert_eq!(store.client_id, h.account("merchant-guide").client_id);
    assert_eq!(
        store.access_token.expose_secret(),
        h.account("merchant-guide").access_token
    );
    assert_eq!(store.profile.name.as_deref(), Some("Harbour Supplies"));
    for field in [
        &store.profile.domain,
        &store.profile.currency,
        &store.profile.timezone,
        &store.profile.weight_units,
        &store.profile.dimension_units,
        &store.profile.plan_name,
    ] {
        assert!(field.is_some(), "profile incomplete: {:?}", store.profile);
    }
    let scopes: Vec<RequiredScope> = store.scopes.iter().map(|c| c.scope).collect();
    assert_eq!(scopes.len(), 3);
    for scope in RequiredScope::ALL {
        assert!(scopes.contains(&scope));
    }
    assert!(store.scopes.iter().all(|c| c.granted));
    // The harmless writes reached the handler: order 0 is not found, variant 0 is invalid.
    let outcomes: Vec<(String, String)> = store
        .scopes
        .iter()
        .flat_map(|c| c.probes.iter())
        .map(|p| (p.request.clone(), p.outcome.clone()))
        .collect();
    assert!(
        outcomes
            .iter()
            .any(|(r, o)| r.starts_with("PUT /v2/orders/0") && o.starts_with("404")),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|(r, o)| r.starts_with("PUT /v3/catalog/variants") && o.starts_with("422")),
        "{outcomes:?}"
    );
    // Five requests: the profile, a read and a harmless write for each modify scope.
    assert_eq!(h.requests(), 5);

    let printed = format!("{store:?}");
    h.assert_no_secrets(&printed);
    assert!(printed.contains("***"));

    // What the core saves, in the seam's words: the channel, the store hash as the store's key,
    // the profile, the three permissions granted, and still no secret in `Debug`.
    let verified = store.into_verified();
    assert_eq!(verified.channel, cenports::channel::bigcommerce::CHANNEL);
    assert_eq!(verified.store_key, h.store.hash);
    assert_eq!(verified.email, EMAIL);
    assert_eq!(verified.profile.name, "Harbour Supplies");
    assert_eq!(
        verified.credentials.access_token.expose_secret(),
        h.account("merchant-guide").access_token
    );
    assert_eq!(verified.permissions.len(), 3);
    assert!(verified.permissions.iter().all(|p| p.granted));
    assert!(
        verified
            .permissions
            .iter()
            .any(|p| p.code == "store_v2_orders"),
        "{:?}",
        verified.permissions
    );
    let printed = format!("{verified:?}");
    h.assert_no_secrets(&printed);
    assert!(printed.contains("***"));
}

#[tokio::test]
async fn every_store_url_form_reaches_the_same_store() {
    let h = Harness::start().await;
    let hash = h.store.hash.clone();
    for form in [
        h.permanent_address(),
        format!("store-{hash}.mybigcommerce.com/"),
        format!("{}/manage/dashboard", h.permanent_address()),
        h.sandbox.api_path(&hash),
        format!("{}/stores/{hash}/v2/", h.sandbox.base_url()),
        hash.clone(),
    ] {
        let store = h
            .check(h.input("merchant-guide", &form))
            .await
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        assert_eq!(store.store_hash.as_str(), hash, "{form}");
    }
}

#[tokio::test]
async fn probes_change_no_order_and_no_product() {
    let h = Harness::start().await;
    let before = h.snapshot();
    assert!(
        !h.sandbox
            .store(&h.store.hash)
            .unwrap()
            .data
            .read()
            .orders
            .contains_key(&0),
        "order 0 must not exist for the probe to be harmless"
    );
    for profile in [
        "merchant-guide",
        "read-only",
        "missing-orders-modify",
        "missing-products-modify",
        "missing-information",
    ] {
        let _ = h.check(h.input(profile, &h.permanent_address())).await;
    }
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn a_bad_token_is_told_to_copy_it_again() {
    let h = Harness::start().await;
    let mut input = h.input("merchant-guide", &h.permanent_address());
    input.access_token = SecretString::from("not-the-token".to_owned());
    let error = h.check(input).await.unwrap_err();
    assert!(matches!(error, ConnectError::BadToken), "{error}");
    assert_eq!(
        error.to_string(),
        "BigCommerce rejected the access token: copy it again from the API account, or create a \
         new API account (Advanced Settings › API Accounts)"
    );
    h.assert_error_is_clean(&error);
}

#[tokio::test]
async fn an_unknown_store_hash_is_told_where_the_permanent_address_is() {
    let h = Harness::start().await;
    let error = h
        .check(h.input(
            "merchant-guide",
            "https://store-zzzz000000.mybigcommerce.com",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConnectError::WrongStoreHash {
                token_rejected: false,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("zzzz000000"), "{message}");
    assert!(message.contains("the store hash is wrong"), "{message}");
    assert!(message.contains("Permanent Address"), "{message}");
    assert!(message.contains("Store Profile"), "{message}");
    h.assert_error_is_clean(&error);
}

#[tokio::test]
async fn another_stores_token_points_at_the_store_hash() {
    let h = Harness::start().await;
    let other = h.sandbox.create_store(StoreSpec {
        seed: 99,
        products: 1,
        ..StoreSpec::default()
    });
    // The token of the first store, with the second store's hash: 401 for a complete token.
    let error = h
        .check(h.input("merchant-guide", &other.hash))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConnectError::WrongStoreHash {
                token_rejected: true,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("the store hash is wrong"), "{message}");
    assert!(message.contains("copy it again"), "{message}");
    h.assert_error_is_clean(&error);
}

#[tokio::test]
async fn a_token_without_orders_modify_names_only_orders_modify() {
    let h = Harness::start().await;
    let error = h
        .check(h.input("missing-orders-modify", &h.permanent_address()))
        .await
        .unwrap_err();
    assert_eq!(missing_scopes(&error), vec![RequiredScope::OrdersModify]);
    assert_eq!(
        error.to_string(),
        "the access token lacks Orders: Modify (store_v2_orders); edit the API account in \
         BigCommerce (Advanced Settings › API Accounts), set Orders to Modify, and reconnect"
    );
    h.assert_error_is_clean(&error);
}

#[tokio::test]
async fn a_token_without_products_modify_names_only_products_modify() {
    let h = Harness::start().await;
    let error = h
        .check(h.input("missing-products-modify", &h.permanent_address()))
        .await
        .unwrap_err();
    assert_eq!(missing_scopes(&error), vec![RequiredScope::ProductsModify]);
    let message = error.to_string();
    assert!(
        message.contains("lacks Products: Modify (store_v2_products);"),
        "{message}"
    );
    assert!(message.contains("set Products to Modify"), "{message}");
    assert!(!message.contains("Orders"), "{message}");
    h.assert_error_is_clean(&error);
}

#[tokio::test]
async fn a_token_without_information_names_information_and_settings() {
    let h = Harness::start().await;
    let error = h
        .check(h.input("missing-information", &h.permanent_address()))
        .await
        .unwrap_err();
    assert_eq!(
        missing_scopes(&error),
        vec![RequiredScope::InformationReadOnly]
    );
    let message = error.to_string();
    assert!(
        message
            .contains("lacks Information & Settings: Read-only (store_v2_information_read_only);"),
        "{message}"
    );
    assert!(
        message.contains("set Information & Settings to Read-only"),
        "{message}"
    );
    h.assert_error_is_clean(&error);
}

#[tokio::test]
async fn a_read_only_token_lists_both_modify_scopes_in_one_error() {
    let h = Harness::start().await;
    let error = h
        .check(h.input("read-only", &h.permanent_address()))
        .await
        .unwrap_err();
    assert_eq!(
        missing_scopes(&error),
        vec![RequiredScope::OrdersModify, RequiredScope::ProductsModify]
    );
    let message = error.to_string();
    assert!(
        message.contains(
            "lacks Orders: Modify (store_v2_orders) and Products: Modify (store_v2_products)"
        ),
        "{message}"
    );
    assert!(!message.contains("Information"), "{message}");
    if let ConnectError::MissingScopes(checks) = &error {
        for check in checks {
            assert!(
                check
                    .probes
                    .iter()
                    .any(|p| p.request.starts_with("PUT") && p.outcome.starts_with("403")),
                "{check:?}"
            );
        }
    }
    h.assert_error_is_clean(&error);
}

#[tokio::test]
async fn a_storefront_domain_is_told_where_the_permanent_address_is_without_a_request() {
    let h = Harness::start().await;
    let error = h
        .check(h.input("merchant-guide", "https://shop.example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectError::CustomDomain { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("shop.example.com"), "{message}");
    assert!(message.contains("Store Profile"), "{message}");
    assert!(message.contains("Store Details"), "{message}");
    assert!(
        message.contains("Permanent Address, https://store-XXXX.mybigcommerce.com"),
        "{message}"
    );
    assert_eq!(h.requests(), 0);
}

#[tokio::test]
async fn an_api_path_on_a_host_the_operator_did_not_choose_is_refused_without_a_request() {
    let h = Harness::start().await;
    for api_path in [
        format!("https://api.bigcommerce.com/stores/{}/v3/", h.store.hash),
        format!("https://attacker.example/stores/{}/v3/", h.store.hash),
    ] {
        let error = h
            .check(h.input("merchant-guide", &api_path))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ConnectError::ForeignApiHost { .. }),
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains(h.sandbox.base_url()), "{message}");
        assert!(
            message.contains("CENPORTS_BIGCOMMERCE_API_URL"),
            "{message}"
        );
        assert!(
            message.contains("never make the hub call an address the operator did not choose"),
            "{message}"
        );
    }
    // The same refusal from a credentials file naming another host.
    let account = h.account("merchant-guide");
    let txt = credentials_txt(
        account,
        &format!("https://api.bigcommerce.com/stores/{}/v3/", h.store.hash),
    );
    let error = h
        .check(ConnectInput::from_credentials_txt(EMAIL, &txt).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectError::ForeignApiHost { .. }),
        "{error}"
    );
    assert_eq!(h.requests(), 0);
}

#[tokio::test]
async fn the_downloaded_credentials_file_connects_the_store() {
    let h = Harness::start().await;
    let account = h.account("merchant-guide");
    let txt = credentials_txt(account, &h.sandbox.api_path(&h.store.hash));
    let credentials = parse_credentials_txt(&txt).unwrap();
    assert_eq!(credentials.client_id, account.client_id);
    assert_eq!(
        credentials.client_name.as_deref(),
        Some(account.name.as_str())
    );
    assert_eq!(
        credentials.client_secret.expose_secret(),
        account.client_secret
    );
    h.assert_no_secrets(&format!("{credentials:?}"));

    let input = ConnectInput::from_credentials_txt(EMAIL, &txt).unwrap();
    h.assert_no_secrets(&format!("{input:?}"));
    let store = h.check(input).await.unwrap();
    assert_eq!(store.store_hash.as_str(), h.store.hash);
}

#[tokio::test]
async fn a_credentials_file_with_crlf_bom_blank_lines_and_odd_spacing_still_parses() {
    let h = Harness::start().await;
    let account = h.account("merchant-guide");
    let txt = format!(
        "\u{feff}\r\n  CLIENT SECRET :   {}  \r\n\r\nAPI PATH:\t{}\r\nname: {}\r\n\r\n\
         CLIENT  ID: {}\r\nACCESS TOKEN:{}\r\n",
        account.client_secret,
        h.sandbox.api_path(&h.store.hash),
        account.name,
        account.client_id,
        account.access_token,
    );
    let credentials = parse_credentials_txt(&txt).unwrap();
    assert_eq!(credentials.client_id, account.client_id);
    assert_eq!(
        credentials.client_name.as_deref(),
        Some(account.name.as_str())
    );
    assert_eq!(
        credentials.access_token.expose_secret(),
        account.access_token
    );
    assert_eq!(credentials.api_path, h.sandbox.api_path(&h.store.hash));
    let store = h
        .check(ConnectInput::from_credentials(EMAIL, credentials))
        .await
        .unwrap();
    assert_eq!(store.store_hash.as_str(), h.store.hash);
}

#[test]
fn a_credentials_file_missing_lines_names_each_of_them() {
    let error = parse_credentials_txt(
        "CLIENT NAME: Cenports\nCLIENT ID: abc\nAPI PATH: https://api.bigcommerce.com/stores/x/v3/\n",
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("has no ACCESS TOKEN or CLIENT SECRET lines"),
        "{message}"
    );
    let error =
        parse_credentials_txt("ACCESS TOKEN: t0k3n\nCLIENT ID: abc\nCLIENT SECRET: s3cr3t\n")
            .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("has no API PATH line"), "{message}");
    assert!(!message.contains("t0k3n") && !message.contains("s3cr3t"));
}

#[tokio::test]
async fn an_unreachable_api_url_is_reported_as_such() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let settings = ConnectSettings {
        api_base_url: Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        timeout: Duration::from_secs(5),
    };
    let input = ConnectInput {
        email: EMAIL.into(),
        store_url: "abc123".into(),
        client_id: "client".into(),
        client_secret: SecretString::from("secret-value".to_owned()),
        access_token: SecretString::from("tokenvalue0123456789abcdefghijk".to_owned()),
    };
    let error = connect::check(input, &settings).await.unwrap_err();
    assert!(matches!(error, ConnectError::Unreachable { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("could not be reached"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("tokenvalue0123456789abcdefghijk"));
}

#[tokio::test]
async fn missing_inputs_are_named_before_any_request() {
    let h = Harness::start().await;
    let mut input = h.input("merchant-guide", &h.permanent_address());
    input.access_token = SecretString::from("   ".to_owned());
    let error = h.check(input).await.unwrap_err();
    assert!(
        error.to_string().contains("Access Token is missing"),
        "{error}"
    );

    let mut input = h.input("merchant-guide", &h.permanent_address());
    input.email = "not an email".into();
    let error = h.check(input).await.unwrap_err();
    assert!(
        matches!(error, ConnectError::InvalidEmail { .. }),
        "{error}"
    );

    // The token pasted into the store URL field is not echoed back.
    let token = h.account("merchant-guide").access_token.clone();
    let error = h
        .check(h.input("merchant-guide", &token))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectError::SecretInStoreUrl { .. }),
        "{error}"
    );
    h.assert_error_is_clean(&error);
    assert_eq!(h.requests(), 0);
}

// ---------------------------------------------------------------------------------------------
// Secrets at rest.

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cenports-connect-test-{}-{name}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token() -> SecretString {
    SecretString::from("tok3nvalue0123456789abcdefghijk".to_owned())
}

#[test]
fn a_secret_round_trips_and_its_ciphertext_shows_no_token_bytes() {
    let secrets = SecretBox::from_key_bytes(&[42; 32]).unwrap();
    let aad = secrets::aad("abc123", "access_token");
    let sealed = secrets.encrypt(&token(), &aad);
    assert!(!sealed.windows(8).any(|w| token()
        .expose_secret()
        .as_bytes()
        .windows(8)
        .any(|t| t == w)));
    let opened = secrets.decrypt(&sealed, &aad).unwrap();
    assert_eq!(opened.expose_secret(), token().expose_secret());
}

#[test]
fn a_ciphertext_moved_to_another_row_or_purpose_does_not_decrypt() {
    let secrets = SecretBox::from_key_bytes(&[42; 32]).unwrap();
    let sealed = secrets.encrypt(&token(), &secrets::aad("abc123", "access_token"));
    for aad in [
        secrets::aad("other99", "access_token"),
        secrets::aad("abc123", "client_secret"),
    ] {
        let error = secrets.decrypt(&sealed, &aad).unwrap_err();
        assert!(matches!(error, SecretsError::Decrypt), "{error}");
    }
}

#[test]
fn another_key_does_not_decrypt_and_says_to_restore_the_key_or_reconnect() {
    let aad = secrets::aad("abc123", "access_token");
    let sealed = SecretBox::from_key_bytes(&[1; 32])
        .unwrap()
        .encrypt(&token(), &aad);
    let error = SecretBox::from_key_bytes(&[2; 32])
        .unwrap()
        .decrypt(&sealed, &aad)
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message
            .contains("the secret key does not match the one these credentials were stored with"),
        "{message}"
    );
    assert!(
        message.contains("restore the original key file or reconnect the store"),
        "{message}"
    );
}

#[test]
fn any_changed_byte_is_detected() {
    let secrets = SecretBox::from_key_bytes(&[42; 32]).unwrap();
    let aad = secrets::aad("abc123", "access_token");
    let sealed = secrets.encrypt(&token(), &aad);
    for index in [0, 23, 24, sealed.len() / 2, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x01;
        assert!(
            matches!(secrets.decrypt(&tampered, &aad), Err(SecretsError::Decrypt)),
            "byte {index}"
        );
    }
    assert!(matches!(
        secrets.decrypt(&sealed[..30], &aad),
        Err(SecretsError::Truncated { .. })
    ));
}

#[test]
fn the_key_file_is_created_once_with_owner_only_permissions_and_reused() {
    let dir = temp_dir("keyfile");
    let path = dir.join("nested").join(secrets::DEFAULT_KEY_FILE);
    let first = SecretBox::load_or_create(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
    }
    let contents = std::fs::read_to_string(&path).unwrap();
    let aad = secrets::aad("abc123", "access_token");
    let sealed = first.encrypt(&token(), &aad);
    let second = SecretBox::load_or_create(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), contents);
    assert_eq!(
        second.decrypt(&sealed, &aad).unwrap().expose_secret(),
        token().expose_secret()
    );
    // No key material in Debug.
    let printed = format!("{second:?}");
    assert!(!printed.contains(contents.trim()), "{printed}");
    assert!(printed.contains("***"));
    // No temporary file left behind.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("loose");
    let path = dir.join(secrets::DEFAULT_KEY_FILE);
    SecretBox::load_or_create(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = SecretBox::load_or_create(&path).unwrap_err();
    assert!(
        matches!(error, SecretsError::InsecureKeyFile { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains(&format!("chmod 600 {}", path.display())),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_configured_key_is_base64_of_32_bytes() {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let from_config = SecretBox::from_base64(&SecretString::from(key)).unwrap();
    let aad = secrets::aad("abc123", "client_secret");
    let sealed = SecretBox::from_key_bytes(&[9; 32])
        .unwrap()
        .encrypt(&token(), &aad);
    assert_eq!(
        from_config.decrypt(&sealed, &aad).unwrap().expose_secret(),
        token().expose_secret()
    );
    let error = SecretBox::from_base64(&SecretString::from("not base64!".to_owned())).unwrap_err();
    assert!(error.to_string().contains("CENPORTS_SECRET_KEY"), "{error}");
}
