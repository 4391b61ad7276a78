//! Login with Amazon, access tokens and their expiry, app roles, and the credentials file.

use crate::support::{answer, sandbox, sandbox_with, Api};
use amazon_sandbox::{AmazonSandboxConfig, MerchantCredentials};
use reqwest::Method;
use serde_json::{json, Value};

const DENIED: &str = "Access to requested resource is denied.";

async fn token_request(
    sandbox: &amazon_sandbox::AmazonSandbox,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(sandbox.auth_endpoint())
        .form(form)
        .send()
        .await
        .unwrap();
    let answer = answer(response).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn a_refresh_token_buys_an_hour_long_access_token() {
    let sandbox = sandbox().await;
    let app = sandbox.app("full").unwrap();
    let (status, body) = token_request(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &app.refresh_token),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["access_token"].as_str().unwrap().starts_with("Atza|"));
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["refresh_token"], app.refresh_token.as_str());
}

#[tokio::test]
async fn lwa_refuses_a_wrong_client_or_grant_with_oauth_errors() {
    let sandbox = sandbox().await;
    let app = sandbox.app("full").unwrap().clone();
    let other = sandbox.app("missing-orders").unwrap().clone();
    let (status, body) = token_request(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &app.refresh_token),
            ("client_id", &app.client_id),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(body["error_description"].is_string());

    // Another authorisation's refresh token is not this client's grant.
    let (status, body) = token_request(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &other.refresh_token),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, body) = token_request(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let (status, body) = token_request(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &app.client_id),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn sp_api_calls_without_a_valid_token_get_amazons_403() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let path = format!(
        "/orders/v0/orders?MarketplaceIds={}&CreatedAfter=2020-01-01",
        sandbox.marketplace_id()
    );

    let missing = crate::support::answer(
        reqwest::Client::new()
            .get(format!("{}{path}", sandbox.endpoint()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, 403);
    assert_eq!(
        missing.body,
        json!({"errors": [{"code": "Unauthorized", "message": DENIED, "details": ""}]})
    );

    let forged = api.with_token("Atza|forged").get(&path).await;
    assert_eq!(
        (forged.status, forged.code(), forged.message()),
        (403, "Unauthorized", DENIED)
    );
    assert!(forged.body["errors"][0]["details"]
        .as_str()
        .unwrap()
        .contains("invalid"));

    assert_eq!(api.get(&path).await.status, 200);
}

#[tokio::test]
async fn an_access_token_expires_after_its_lifetime() {
    let sandbox = sandbox_with(AmazonSandboxConfig {
        access_token_lifetime_secs: 60,
        rate_scale: 0.0,
        ..AmazonSandboxConfig::default()
    })
    .await;
    let api = Api::login(&sandbox, "full").await;
    let path = format!(
        "/orders/v0/orders?MarketplaceIds={}&CreatedAfter=2020-01-01",
        sandbox.marketplace_id()
    );
    assert_eq!(api.get(&path).await.status, 200);
    sandbox.advance_clock(chrono::Duration::seconds(59));
    assert_eq!(api.get(&path).await.status, 200);
    sandbox.advance_clock(chrono::Duration::seconds(1));
    let expired = api.get(&path).await;
    assert_eq!((expired.status, expired.code()), (403, "Unauthorized"));
    assert_eq!(
        expired.body["errors"][0]["details"],
        "The access token you provided has expired."
    );
    // The refresh token still buys a fresh one.
    let fresh = Api::login(&sandbox, "full").await;
    assert_eq!(fresh.get(&path).await.status, 200);
}

#[tokio::test]
async fn an_authorisation_lacking_a_role_is_refused_that_roles_operations_only() {
    let sandbox = sandbox().await;
    let seller = sandbox.seller_id();
    let sku = sandbox.listings()[0].sku.clone();
    let orders = format!(
        "/orders/v0/orders?MarketplaceIds={}&CreatedAfter=2020-01-01",
        sandbox.marketplace_id()
    );
    let listing = format!(
        "/listings/2021-08-01/items/{seller}/{sku}?marketplaceIds={}",
        sandbox.marketplace_id()
    );
    let rdt_body = json!({"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/{orderId}/address"}]});

    let cases = [
        ("full", 200, 200, 200),
        ("missing-orders", 403, 200, 200),
        ("missing-listings", 200, 403, 200),
        ("missing-restricted-data", 200, 200, 403),
    ];
    for (profile, want_orders, want_listing, want_rdt) in cases {
        let api = Api::login(&sandbox, profile).await;
        let got_orders = api.get(&orders).await;
        let got_listing = api.get(&listing).await;
        let got_rdt = api
            .send(
                Method::POST,
                "/tokens/2021-03-01/restrictedDataToken",
                Some(rdt_body.clone()),
            )
            .await;
        assert_eq!(
            (got_orders.status, got_listing.status, got_rdt.status),
            (want_orders, want_listing, want_rdt),
            "{profile}"
        );
        for refused in [&got_orders, &got_listing, &got_rdt]
            .into_iter()
            .filter(|a| a.status == 403)
        {
            assert_eq!(refused.code(), "Unauthorized", "{profile}");
            assert_eq!(refused.message(), DENIED);
        }
    }
}

#[tokio::test]
async fn the_credentials_file_logs_every_profile_in() {
    let sandbox = sandbox().await;
    let dir = std::env::temp_dir().join(format!("amazon-sandbox-it-{}", sandbox.addr().port()));
    let path = sandbox.write_credentials(&dir).unwrap();
    assert!(path.ends_with("amazon-merchant.json"));
    let file: MerchantCredentials =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(file.endpoint, sandbox.endpoint());
    assert_eq!(file.auth_endpoint, sandbox.auth_endpoint());
    assert_eq!(file.seller_id, sandbox.seller_id());
    assert_eq!(file.marketplace_id, "A2EUQ1WTGCTBG2");
    assert_eq!(file.client_id, sandbox.app("full").unwrap().client_id);
    assert_eq!(
        file.profiles.keys().collect::<Vec<_>>(),
        [
            "full",
            "missing-listings",
            "missing-orders",
            "missing-restricted-data"
        ]
    );
    for profile in file.profiles.values() {
        let (status, body) = token_request(
            &sandbox,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &profile.refresh_token),
                ("client_id", &profile.client_id),
                ("client_secret", &profile.client_secret),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    // The control API serves the same credentials.
    let served: MerchantCredentials =
        reqwest::get(format!("{}/_sandbox/credentials", sandbox.endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(served, file);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_amazons_error_shape() {
    let sandbox = sandbox().await;
    let api = Api::login(&sandbox, "full").await;
    let unknown = api.get("/orders/v9/nothing").await;
    assert_eq!((unknown.status, unknown.code()), (404, "NotFound"));
    let listing = format!(
        "/listings/2021-08-01/items/{}/{}?marketplaceIds={}",
        sandbox.seller_id(),
        sandbox.listings()[0].sku,
        sandbox.marketplace_id()
    );
    let method = api.send(Method::DELETE, &listing, None).await;
    assert_eq!((method.status, method.code()), (405, "MethodNotAllowed"));
    // Without a token the path is not even looked at.
    assert_eq!(
        api.with_token("").get("/orders/v9/nothing").await.status,
        403
    );
    assert!(!format!("{:?}", sandbox.state()).contains(&sandbox.app("full").unwrap().client_secret));
}
