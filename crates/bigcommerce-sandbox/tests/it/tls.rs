//! Black-box tests of the sandbox over HTTPS: the same API behind a certificate that clients
//! trust through the authority the sandbox hands out.

use std::time::Duration;

use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreSpec, TlsIdentity};

async fn tls_sandbox(identity: &TlsIdentity) -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sandbox::start_tls(listener, SandboxConfig::default(), identity)
        .await
        .unwrap()
}

fn trusting(identity: &TlsIdentity) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(identity.ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn orders_are_served_over_https_with_https_links_to_a_client_that_trusts_the_ca() {
    let identity = TlsIdentity::self_signed();
    let sandbox = tls_sandbox(&identity).await;
    let port = sandbox.addr().port();
    assert_eq!(sandbox.base_url(), format!("https://127.0.0.1:{port}"));
    let store = sandbox.create_store(StoreSpec {
        orders: 3,
        products: 5,
        ..StoreSpec::default()
    });
    let token = &store.account("merchant-guide").unwrap().access_token;
    let client = trusting(&identity);

    // Every name the certificate carries reaches the same server.
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{port}/stores/{}/v2/orders", store.hash);
        let response = client
            .get(&url)
            .header("X-Auth-Token", token)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {url}: {error:?}"));
        assert_eq!(response.status(), 200, "GET {url}");
        let orders: Vec<serde_json::Value> = response.json().await.unwrap();
        assert_eq!(orders.len(), 3);
        let link = orders[0]["products"]["url"].as_str().unwrap();
        assert!(
            link.starts_with(&format!("https://127.0.0.1:{port}/stores/")),
            "{link}"
        );
    }
    assert!(sandbox
        .api_path(&store.hash)
        .starts_with(&format!("https://127.0.0.1:{port}/")));
    sandbox.shutdown();
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let sandbox = tls_sandbox(&TlsIdentity::self_signed()).await;
    // Another authority's certificate: the handshake must fail, not fall back to plain HTTP.
    let stranger = trusting(&TlsIdentity::self_signed());
    let error = stranger
        .get(format!("{}/_sandbox/stores", sandbox.base_url()))
        .send()
        .await
        .expect_err("an untrusted certificate is refused");
    assert!(error.is_connect(), "{error:?}");
    sandbox.shutdown();
}

#[tokio::test]
async fn shutdown_stops_the_tls_accept_loop() {
    let identity = TlsIdentity::self_signed();
    let sandbox = tls_sandbox(&identity).await;
    let client = trusting(&identity);
    let url = format!("{}/_sandbox/stores", sandbox.base_url());
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);

    sandbox.shutdown();
    // The listener is closed once the loop has seen the signal: new connections are refused.
    let addr = sandbox.addr();
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "the sandbox still accepts connections after shutdown"
    );
}
