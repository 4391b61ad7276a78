//! The HTTP API end to end: `cenports::server::router` (the API with sign-in, as `serve`
//! serves them) on 127.0.0.1:0 over a real database (SQLite and PostgreSQL), with two
//! merchants' stores connected to a sandbox and imported, called with reqwest over real HTTP.
//!
//! Each test is written once; `api_test!` expands it into `<name>::sqlite` (a fresh temporary
//! file) and `<name>::postgres` (a fresh database on 127.0.0.1:5432, dropped at the end;
//! `CENPORTS_TEST_POSTGRES_URL` overrides the admin URL). Without PostgreSQL the PostgreSQL
//! variants fail when `CI` is set and are skipped with a notice otherwise.
//!
//! Time-dependent behaviour (session expiry, login lockout) moves a `ManualClock`.

use crate::common::tenant::{tenant, Tenant, PASSWORD};
use crate::common::Ctx;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bigcommerce_sandbox::{fixtures, FaultKind, FaultRule, Sandbox, SandboxConfig};
use chrono::Utc;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};

use cenports::accounts::{self, AuthPolicy, ManualClock, Role};
use cenports::config::{Overrides, Settings};
use cenports::server::router;
use cenports::service::AppState;
use cenports::storage::*;
use cenports::sync::SyncOptions;

const KEY: [u8; 32] = [7; 32];

// ------------------------------------------------------------------ backends

use crate::common::both_backends as api_test;

// ------------------------------------------------------------------ the hub

struct App {
    base: String,
    http: reqwest::Client,
    storage: Storage,
    clock: ManualClock,
    sandbox: Sandbox,
    a: Tenant,
    b: Tenant,
    operator_key: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Credentials a request carries.
#[derive(Clone)]
enum Auth {
    None,
    Key(String),
    Header(&'static str),
    Session {
        cookie: String,
        csrf: Option<String>,
    },
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text)
    }
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

async fn start(ctx: &Ctx) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = Sandbox::start(listener, SandboxConfig::default())
        .await
        .unwrap();
    let settings = Settings::load_from(&Overrides::default(), |name| match name {
        "CENPORTS_DATABASE_URL" => Some(ctx.url.clone()),
        "CENPORTS_BIGCOMMERCE_API_URL" => Some(sandbox.base_url().to_owned()),
        "CENPORTS_SECRET_KEY" => Some(base64::engine::general_purpose::STANDARD.encode(KEY)),
        _ => None,
    })
    .expect("settings");
    let a = tenant(ctx, &sandbox, &settings, "alice@example.com", 11).await;
    let b = tenant(ctx, &sandbox, &settings, "bob@example.com", 22).await;
    accounts::create_account(
        &ctx.storage,
        "ops@example.com",
        Role::Operator,
        SecretString::from(PASSWORD.to_owned()),
    )
    .await
    .unwrap();
    let operator = ctx
        .storage
        .find_account_by_email("ops@example.com")
        .await
        .unwrap()
        .unwrap();
    let (operator_key, _) = accounts::create_api_key(&ctx.storage, operator.user.id, "ops")
        .await
        .unwrap();
    let clock = ManualClock::new(Utc::now());
    let channels = settings.channels().expect("channels");
    let state = AppState::new(ctx.storage.clone(), settings, channels)
        .with_clock(Arc::new(clock.clone()))
        .with_auth_policy(AuthPolicy::default())
        .with_secure_cookies(false)
        .with_sync_options(SyncOptions {
            settle: Duration::from_secs(1),
            ..SyncOptions::default()
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    App {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        storage: ctx.storage.clone(),
        clock,
        sandbox,
        a,
        b,
        operator_key: secrecy::ExposeSecret::expose_secret(&operator_key).to_owned(),
        server,
    }
}

impl App {
    async fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Answer {
        self.call_with(method, path, auth, body, &[]).await
    }

    async fn call_with(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::None => {}
            Auth::Key(key) => request = request.bearer_auth(key),
            Auth::Header(value) => request = request.header("authorization", *value),
            Auth::Session { cookie, csrf } => {
                request = request.header("cookie", format!("cenports_session={cookie}"));
                if let Some(csrf) = csrf {
                    request = request.header("x-csrf-token", csrf);
                }
            }
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the hub answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    async fn get(&self, path: &str, auth: &Auth) -> Answer {
        self.call(Method::GET, path, auth, None).await
    }

    /// Signs in with JSON; returns the session cookie and the CSRF token.
    async fn login(&self, email: &str, password: &str) -> Result<(String, String), Answer> {
        let answer = self
            .call(
                Method::POST,
                "/login",
                &Auth::None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        if answer.status != StatusCode::OK {
            return Err(answer);
        }
        let cookie = session_cookie(&answer.headers).expect("a session cookie");
        let csrf = answer.body["csrf_token"].as_str().unwrap().to_owned();
        Ok((cookie, csrf))
    }

    async fn session(&self, email: &str) -> Auth {
        let (cookie, csrf) = self.login(email, PASSWORD).await.expect("signed in");
        Auth::Session {
            cookie,
            csrf: Some(csrf),
        }
    }

    async fn outbox_rows(&self, scope: &StoreScope) -> Vec<OutboxRow> {
        self.storage
            .list_outbox(Some(scope), false, 1000)
            .await
            .unwrap()
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("cenports_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .filter(|v| !v.is_empty())
}

fn key(t: &Tenant) -> Auth {
    Auth::Key(t.key.clone())
}

fn ship_body(tracking: &str) -> Value {
    json!({"carrier": "canada-post", "tracking_number": tracking})
}

// ------------------------------------------------------------------ tests

api_test!(every_route_answers_with_the_callers_data, |ctx| {
    let app = start(&ctx).await;
    let a = &app.a;
    let auth = key(a);
    let store = format!("/api/v1/stores/{}", a.store_id);

    let me = app.get("/api/v1/me", &auth).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["user"]["email"], a.email);
    assert_eq!(me.body["user"]["role"], "merchant");
    assert_eq!(me.body["authenticated_with"], "api_key");

    // Stores: a merchant sees their own, an operator every one.
    let stores = app.get("/api/v1/stores", &auth).await;
    assert_eq!(stores.status, 200, "{stores:?}");
    let ids: Vec<i64> = stores.body["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![a.store_id]);
    let all = app
        .get("/api/v1/stores", &Auth::Key(app.operator_key.clone()))
        .await;
    assert_eq!(all.body["stores"].as_array().unwrap().len(), 2, "{all:?}");
    let one = app.get(&store, &auth).await;
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(one.body["store_hash"], a.hash);
    assert_eq!(one.body["status"], "connected");

    // Sync status: the import above left completed streams.
    let sync = app.get(&format!("{store}/sync"), &auth).await;
    assert_eq!(sync.status, 200, "{sync:?}");
    assert_eq!(sync.body["running"], false);
    let streams: BTreeSet<&str> = sync.body["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert!(
        streams.contains("orders") && streams.contains("catalog"),
        "{sync:?}"
    );

    // Orders: paginated by cursor, every order once, in id order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{store}/orders?limit=2&cursor={c}"),
            None => format!("{store}/orders?limit=2"),
        };
        let page = app.get(&path, &auth).await;
        assert_eq!(page.status, 200, "{page:?}");
        pages += 1;
        for order in page.body["orders"].as_array().unwrap() {
            seen.push(order["id"].as_i64().unwrap());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(pages >= 3);
    // Filters.
    let cancelled = app
        .get(&format!("{store}/orders?fulfilment_state=cancelled"), &auth)
        .await;
    assert_eq!(
        cancelled.body["orders"].as_array().unwrap().len(),
        1,
        "{cancelled:?}"
    );
    let by_status = app
        .get(&format!("{store}/orders?status_code=5"), &auth)
        .await;
    assert_eq!(by_status.body["orders"].as_array().unwrap().len(), 1);
    let future = app
        .get(&format!("{store}/orders?since=2999-01-01T00:00:00Z"), &auth)
        .await;
    assert_eq!(
        future.body["orders"].as_array().unwrap().len(),
        0,
        "{future:?}"
    );
    for search in [
        "zoe",
        "ZOE%20TREMBLAY",
        "zoe@example",
        &a.order_number.to_string(),
    ] {
        let found = app
            .get(&format!("{store}/orders?search={search}"), &auth)
            .await;
        let ids: Vec<i64> = found.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![a.order_id], "search {search}: {found:?}");
    }
    let none = app.get(&format!("{store}/orders?search=%25"), &auth).await;
    assert_eq!(
        none.body["orders"].as_array().unwrap().len(),
        0,
        "a literal %: {none:?}"
    );

    // One order with lines and addresses.
    let order_path = format!("{store}/orders/{}", a.order_id);
    let order = app.get(&order_path, &auth).await;
    assert_eq!(order.status, 200, "{order:?}");
    assert_eq!(order.body["number"], a.order_number);
    assert_eq!(order.body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(order.body["billing_address"]["first_name"], "Zoe");
    assert_eq!(
        order.body["shipping_addresses"].as_array().unwrap().len(),
        1
    );
    assert_eq!(order.body["shipments"], json!([]));

    // A shipment: queued in the outbox, listed, readable, and on the order.
    let created = app
        .call_with(
            Method::POST,
            &format!("{order_path}/shipments"),
            &auth,
            Some(json!({
                "carrier": "ups",
                "tracking_number": "1Z999",
                "items": [{"sku": "MUG-1", "quantity": 1}]
            })),
            &[("idempotency-key", "parcel-1")],
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["duplicate"], false);
    let shipment = &created.body["shipments"][0];
    assert_eq!(shipment["state"], "pending");
    assert_eq!(shipment["carrier"], "ups");
    assert_eq!(shipment["request_key"], "api:parcel-1");
    assert_eq!(shipment["items"][0]["quantity"], 1);
    let shipment_id = shipment["id"].as_i64().unwrap();
    let rows = app.outbox_rows(&a.scope).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id.get(), shipment_id);
    let listed = app.get(&format!("{store}/shipments"), &auth).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["shipments"][0]["id"], shipment_id);
    assert_eq!(listed.body["next_cursor"], Value::Null);
    let got = app
        .get(&format!("{store}/shipments/{shipment_id}"), &auth)
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.body["tracking_number"], "1Z999");
    let order = app.get(&order_path, &auth).await;
    assert_eq!(order.body["shipments"][0]["id"], shipment_id);
    // "Retry now" of a queued shipment: still queued, due now.
    let retried = app
        .call(
            Method::POST,
            &format!("{store}/shipments/{shipment_id}/retry"),
            &auth,
            None,
        )
        .await;
    assert_eq!(retried.status, 200, "{retried:?}");
    assert_eq!(retried.body["id"], shipment_id);
    assert!(retried.body["next_attempt_at"].is_string(), "{retried:?}");
    assert_eq!(app.outbox_rows(&a.scope).await.len(), 1, "nothing added");

    // Stock: bulk set, then listed with reserved and available.
    let set = app
        .call(
            Method::PUT,
            &format!("{store}/stock"),
            &auth,
            Some(
                json!({"items": [{"sku": "MUG-1", "on_hand": 10}, {"sku": "TEE-S", "on_hand": 0}]}),
            ),
        )
        .await;
    assert_eq!(set.status, 200, "{set:?}");
    assert_eq!(set.body, json!({"received": 2, "changed": 2}));
    let again = app
        .call(
            Method::PUT,
            &format!("{store}/stock"),
            &auth,
            Some(json!({"items": [{"sku": "MUG-1", "on_hand": 10}]})),
        )
        .await;
    assert_eq!(again.body["changed"], 0, "{again:?}");
    let stock = app.get(&format!("{store}/stock"), &auth).await;
    assert_eq!(stock.status, 200, "{stock:?}");
    let mug = &stock.body["items"][0];
    assert_eq!(mug["sku"], "MUG-1");
    assert_eq!(mug["on_hand"], 10);
    // MUG-1 on open orders: 2 on the first order and 1 on the second.
    assert_eq!(mug["reserved"], 3, "{stock:?}");
    assert_eq!(mug["available"], 7);

    let errors = app.get(&format!("{store}/errors"), &auth).await;
    assert_eq!(errors.status, 200, "{errors:?}");
    assert_eq!(
        errors.body,
        json!({"outbox": [], "stock": [], "sync": null})
    );

    // Operations routes.
    let health = app.get("/healthz", &Auth::None).await;
    assert_eq!(
        (health.status, health.body.clone()),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let ready = app.get("/readyz", &Auth::None).await;
    assert_eq!(ready.status, 200, "{ready:?}");
    let metrics = app.get("/metrics", &Auth::None).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let a_store = a.store_id.to_string();
    for line in [
        format!("cenports_orders_imported{{store=\"{a_store}\"}} 6"),
        format!("cenports_outbox_depth{{store=\"{a_store}\"}} 1"),
        format!("cenports_outbox_rows{{store=\"{a_store}\",state=\"pending\"}} 1"),
        "cenports_http_requests_total{surface=\"api\",route=\"/api/v1/stores/{store_id}/orders\",status=\"200\"}"
            .to_owned(),
    ] {
        assert!(
            metrics.text.contains(&line),
            "no {line} in\n{}",
            metrics.text
        );
    }
    assert!(
        metrics.text.contains(&format!(
            "cenports_sync_lag_seconds{{store=\"{a_store}\"}} "
        )),
        "{}",
        metrics.text
    );
    check_exposition(&metrics.text);
    let docs = app.get("/api/v1/docs", &Auth::None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("/api/v1/openapi.json"));
    assert!(
        !docs.text.contains("http://") && !docs.text.contains("https://"),
        "loads nothing external"
    );

    // The database goes away: not ready, still alive.
    app.storage.close().await;
    let ready = app.get("/readyz", &Auth::None).await;
    assert_eq!(
        (ready.status, ready.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{ready:?}"
    );
    let health = app.get("/healthz", &Auth::None).await;
    assert_eq!(health.status, 200);
});

/// Every line of a Prometheus text exposition is a comment or `name{labels} value`.
fn check_exposition(text: &str) {
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("a number in {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "metric name in {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
    }
}

api_test!(
    requests_without_valid_credentials_are_refused_with_their_codes,
    |ctx| {
        let app = start(&ctx).await;
        let path = format!("/api/v1/stores/{}/orders", app.a.store_id);

        let none = app.get(&path, &Auth::None).await;
        assert_eq!(
            (none.status, none.code()),
            (StatusCode::UNAUTHORIZED, "authentication_required")
        );
        assert!(none.headers.contains_key("www-authenticate"));
        let basic = app.get(&path, &Auth::Header("Basic dXNlcjpwYXNz")).await;
        assert_eq!(
            (basic.status, basic.code()),
            (StatusCode::UNAUTHORIZED, "invalid_api_key")
        );
        let made_up = format!("cpk_{}", "A".repeat(43));
        let bad = app.get(&path, &Auth::Key(made_up)).await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::UNAUTHORIZED, "invalid_api_key")
        );
        let revoked_key = {
            let account = app
                .storage
                .find_account_by_email(&app.a.email)
                .await
                .unwrap()
                .unwrap();
            let (key, record) = accounts::create_api_key(&app.storage, account.user.id, "old")
                .await
                .unwrap();
            app.storage
                .revoke_api_key(account.user.id, record.id)
                .await
                .unwrap();
            secrecy::ExposeSecret::expose_secret(&key).to_owned()
        };
        let revoked = app.get(&path, &Auth::Key(revoked_key)).await;
        assert_eq!(
            (revoked.status, revoked.code()),
            (StatusCode::UNAUTHORIZED, "invalid_api_key")
        );
        // The key is never stored: only its SHA-256.
        assert!(!format!(
            "{:?}",
            app.storage
                .list_api_keys(app.a.scope.user_id())
                .await
                .unwrap()
        )
        .contains(&app.a.key));

        let unknown = app
            .get(
                &path,
                &Auth::Session {
                    cookie: "nope".into(),
                    csrf: None,
                },
            )
            .await;
        assert_eq!(
            (unknown.status, unknown.code()),
            (StatusCode::UNAUTHORIZED, "session_invalid")
        );

        // A session works for reads; writes need its CSRF token.
        let (cookie, csrf) = app.login(&app.a.email, PASSWORD).await.unwrap();
        let reads = app
            .get(
                &path,
                &Auth::Session {
                    cookie: cookie.clone(),
                    csrf: None,
                },
            )
            .await;
        assert_eq!(reads.status, 200, "{reads:?}");
        let stock = format!("/api/v1/stores/{}/stock", app.a.store_id);
        let body = json!({"items": [{"sku": "MUG-1", "on_hand": 3}]});
        for csrf in [None, Some("wrong".to_owned())] {
            let refused = app
                .call(
                    Method::PUT,
                    &stock,
                    &Auth::Session {
                        cookie: cookie.clone(),
                        csrf,
                    },
                    Some(body.clone()),
                )
                .await;
            assert_eq!(
                (refused.status, refused.code()),
                (StatusCode::FORBIDDEN, "csrf_failed")
            );
        }
        assert!(
            app.storage
                .stock_rows(&app.a.scope)
                .await
                .unwrap()
                .is_empty(),
            "nothing was set"
        );
        let allowed = app
            .call(
                Method::PUT,
                &stock,
                &Auth::Session {
                    cookie: cookie.clone(),
                    csrf: Some(csrf.clone()),
                },
                Some(body),
            )
            .await;
        assert_eq!(allowed.status, 200, "{allowed:?}");

        // Twelve hours later the session has expired.
        app.clock
            .advance(chrono::Duration::hours(12) + chrono::Duration::seconds(1));
        let expired = app
            .get(
                &path,
                &Auth::Session {
                    cookie: cookie.clone(),
                    csrf: None,
                },
            )
            .await;
        assert_eq!(
            (expired.status, expired.code()),
            (StatusCode::UNAUTHORIZED, "session_expired")
        );

        // Signing out ends a session at once.
        let (cookie, csrf) = app.login(&app.a.email, PASSWORD).await.unwrap();
        let out = app
            .call(
                Method::POST,
                "/logout",
                &Auth::Session {
                    cookie: cookie.clone(),
                    csrf: Some(csrf),
                },
                None,
            )
            .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT, "{out:?}");
        assert!(out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        let after = app.get(&path, &Auth::Session { cookie, csrf: None }).await;
        assert_eq!(after.code(), "session_invalid");
    }
);

api_test!(
    another_merchants_store_order_shipment_and_stock_are_the_404_of_a_missing_id,
    |ctx| {
        let app = start(&ctx).await;
        let (a, b) = (&app.a, &app.b);
        // B's shipment, made by B.
        let made = app
            .call_with(
                Method::POST,
                &format!(
                    "/api/v1/stores/{}/orders/{}/shipments",
                    b.store_id, b.order_id
                ),
                &key(b),
                Some(ship_body("B-1")),
                &[("idempotency-key", "b-parcel")],
            )
            .await;
        assert_eq!(made.status, 201, "{made:?}");
        let b_shipment = made.body["shipments"][0]["id"].as_i64().unwrap();
        let missing = 987_654_321_i64;
        let b_rows_before = app.outbox_rows(&b.scope).await;

        let session = app.session(&a.email).await;
        for auth in [key(a), session] {
            // (B's resource as seen by A, the same kind of resource that does not exist)
            let pairs: Vec<(Method, String, String, Option<Value>)> = vec![
                (
                    Method::GET,
                    format!("/api/v1/stores/{}", b.store_id),
                    format!("/api/v1/stores/{missing}"),
                    None,
                ),
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/sync", b.store_id),
                    format!("/api/v1/stores/{missing}/sync"),
                    None,
                ),
                (
                    Method::POST,
                    format!("/api/v1/stores/{}/sync", b.store_id),
                    format!("/api/v1/stores/{missing}/sync"),
                    None,
                ),
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/errors", b.store_id),
                    format!("/api/v1/stores/{missing}/errors"),
                    None,
                ),
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/orders", b.store_id),
                    format!("/api/v1/stores/{missing}/orders"),
                    None,
                ),
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/orders/{}", b.store_id, b.order_id),
                    format!("/api/v1/stores/{missing}/orders/{}", b.order_id),
                    None,
                ),
                // B's order id under A's own store: an order that is not in A's store.
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/orders/{}", a.store_id, b.order_id),
                    format!("/api/v1/stores/{}/orders/{missing}", a.store_id),
                    None,
                ),
                (
                    Method::POST,
                    format!(
                        "/api/v1/stores/{}/orders/{}/shipments",
                        b.store_id, b.order_id
                    ),
                    format!("/api/v1/stores/{missing}/orders/{}/shipments", b.order_id),
                    Some(ship_body("X-1")),
                ),
                (
                    Method::POST,
                    format!(
                        "/api/v1/stores/{}/orders/{}/shipments",
                        a.store_id, b.order_id
                    ),
                    format!("/api/v1/stores/{}/orders/{missing}/shipments", a.store_id),
                    Some(ship_body("X-2")),
                ),
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/shipments", b.store_id),
                    format!("/api/v1/stores/{missing}/shipments",),
                    None,
                ),
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/shipments/{b_shipment}", b.store_id),
                    format!("/api/v1/stores/{missing}/shipments/{b_shipment}"),
                    None,
                ),
                (
                    Method::POST,
                    format!("/api/v1/stores/{}/shipments/{b_shipment}/retry", b.store_id),
                    format!("/api/v1/stores/{missing}/shipments/{b_shipment}/retry"),
                    None,
                ),
                (
                    Method::POST,
                    format!("/api/v1/stores/{}/shipments/{b_shipment}/retry", a.store_id),
                    format!("/api/v1/stores/{}/shipments/{missing}/retry", a.store_id),
                    None,
                ),
                // B's shipment id under A's own store.
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/shipments/{b_shipment}", a.store_id),
                    format!("/api/v1/stores/{}/shipments/{missing}", a.store_id),
                    None,
                ),
                (
                    Method::GET,
                    format!("/api/v1/stores/{}/stock", b.store_id),
                    format!("/api/v1/stores/{missing}/stock"),
                    None,
                ),
                (
                    Method::PUT,
                    format!("/api/v1/stores/{}/stock", b.store_id),
                    format!("/api/v1/stores/{missing}/stock"),
                    Some(json!({"items": [{"sku": "MUG-1", "on_hand": 99}]})),
                ),
            ];
            for (method, theirs, absent, body) in pairs {
                let headers = [("idempotency-key", "a-tries")];
                let other = app
                    .call_with(method.clone(), &theirs, &auth, body.clone(), &headers)
                    .await;
                let none = app
                    .call_with(method.clone(), &absent, &auth, body, &headers)
                    .await;
                assert_eq!(
                    other.status,
                    StatusCode::NOT_FOUND,
                    "{method} {theirs}: {other:?}"
                );
                assert_eq!(
                    none.status,
                    StatusCode::NOT_FOUND,
                    "{method} {absent}: {none:?}"
                );
                assert_eq!(
                    other.text, none.text,
                    "{method} {theirs} tells more than {absent}"
                );
                assert!(other.code().ends_with("_not_found"), "{other:?}");
            }
        }
        // Nothing of B's changed.
        assert_eq!(app.outbox_rows(&b.scope).await, b_rows_before);
        assert!(app.storage.stock_rows(&b.scope).await.unwrap().is_empty());
        let b_sync = app
            .get(&format!("/api/v1/stores/{}/sync", b.store_id), &key(b))
            .await;
        assert_eq!(
            b_sync.body["last_run"],
            Value::Null,
            "A started no sync of B's: {b_sync:?}"
        );
        // A's list of stores does not name B's.
        let stores = app.get("/api/v1/stores", &key(a)).await;
        assert!(!stores.text.contains(&b.hash), "{stores:?}");
        // An operator reaches B's store, order and shipment.
        let ops = Auth::Key(app.operator_key.clone());
        for path in [
            format!("/api/v1/stores/{}", b.store_id),
            format!("/api/v1/stores/{}/orders/{}", b.store_id, b.order_id),
            format!("/api/v1/stores/{}/shipments/{b_shipment}", b.store_id),
            format!("/api/v1/stores/{}/stock", b.store_id),
        ] {
            let seen = app.get(&path, &ops).await;
            assert_eq!(seen.status, 200, "{path}: {seen:?}");
        }
    }
);

api_test!(the_same_idempotency_key_twice_makes_one_outbox_row, |ctx| {
    let app = start(&ctx).await;
    let a = &app.a;
    let path = format!(
        "/api/v1/stores/{}/orders/{}/shipments",
        a.store_id, a.order_id
    );
    let post = |key: &'static str, body: Value| {
        let app = &app;
        let path = path.clone();
        async move {
            app.call_with(
                Method::POST,
                &path,
                &crate::api::key(&app.a),
                Some(body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let one_mug = |tracking: &str| json!({"carrier": "canada-post", "tracking_number": tracking, "items": [{"sku": "MUG-1", "quantity": 1}]});
    let first = post("k-1", one_mug("T-1")).await;
    assert_eq!(first.status, 201, "{first:?}");
    let second = post("k-1", one_mug("T-1")).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body["duplicate"], true);
    assert_eq!(second.body["shipments"], first.body["shipments"]);
    assert_eq!(app.outbox_rows(&a.scope).await.len(), 1);

    // The same key for another parcel is refused, and adds nothing.
    let reused = post("k-1", one_mug("T-2")).await;
    assert_eq!(
        (reused.status, reused.code()),
        (StatusCode::CONFLICT, "idempotency_key_reused")
    );
    assert_eq!(app.outbox_rows(&a.scope).await.len(), 1);

    // Eight identical requests at once (a client retrying over a flaky network): one row,
    // one 201, and every other answer is that request's shipments. Whichever way they
    // interleave — the key seen before planning, at the insert, or only after the winner's row
    // made the order look fully requested — the answer is the same.
    let tee = json!({"carrier": "ups", "tracking_number": "T-3", "items": [{"sku": "TEE-S", "quantity": 1}]});
    let answers = futures::future::join_all((0..8).map(|_| post("k-2", tee.clone()))).await;
    let created = answers.iter().filter(|x| x.status == 201).count();
    let repeated = answers.iter().filter(|x| x.status == 200).count();
    assert_eq!((created, repeated), (1, 7), "{answers:?}");
    assert!(answers
        .iter()
        .all(|x| x.body["shipments"] == answers[0].body["shipments"]));
    // Repeated after the fact: the order's TEE-S is now all requested, and the key still
    // answers with the first request.
    let late = post("k-2", tee.clone()).await;
    assert_eq!(late.status, 200, "{late:?}");
    assert_eq!(late.body["shipments"], answers[0].body["shipments"]);
    let other = post(
        "k-2",
        json!({"carrier": "ups", "tracking_number": "T-9", "items": [{"sku": "TEE-S", "quantity": 1}]}),
    )
    .await;
    assert_eq!(other.code(), "idempotency_key_reused", "{other:?}");

    // Pairs of identical requests on other orders, each pair racing on its own key.
    let page = app
        .storage
        .list_orders(&a.scope, &OrderFilter::default(), 100, None)
        .await
        .unwrap();
    let mut pairs = 0;
    for order in page.orders.iter().filter(|o| o.id.get() != a.order_id) {
        if order.fulfilment_state != FulfilmentState::Ready {
            continue;
        }
        let path = format!(
            "/api/v1/stores/{}/orders/{}/shipments",
            a.store_id,
            order.id.get()
        );
        let key = format!("pair-{}", order.id.get());
        let auth = crate::api::key(a);
        let headers = [("idempotency-key", key.as_str())];
        let send = || app.call_with(Method::POST, &path, &auth, Some(ship_body("P-1")), &headers);
        let (x, y) = tokio::join!(send(), send());
        let mut statuses = [x.status.as_u16(), y.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 201], "{x:?} {y:?}");
        assert_eq!(x.body["shipments"], y.body["shipments"]);
        pairs += 1;
    }
    assert!(pairs >= 3, "{pairs} pairs raced");
    let rows = app.outbox_rows(&a.scope).await;
    // One row per shipping address of each raced request, never a second set.
    let mut paired: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.request_key.starts_with("api:pair-"))
        .map(|r| (r.request_key.as_str(), r.part.as_str()))
        .collect();
    let all = paired.len();
    paired.dedup();
    assert_eq!(paired.len(), all, "{rows:?}");
    let keys: BTreeSet<&str> = paired.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys.len(), pairs, "{rows:?}");
    assert_eq!(
        rows.iter().filter(|r| r.request_key == "api:k-2").count(),
        1,
        "{rows:?}"
    );

    // No key, or a bad one.
    let none = app
        .call(Method::POST, &path, &key(a), Some(ship_body("T-4")))
        .await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::BAD_REQUEST, "idempotency_key_required")
    );
    let long = "k".repeat(201);
    for bad in ["has space", long.as_str()] {
        let answer = app
            .call_with(
                Method::POST,
                &path,
                &key(a),
                Some(ship_body("T-4")),
                &[("idempotency-key", bad)],
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "idempotency_key_invalid")
        );
    }
    assert_eq!(
        app.outbox_rows(&a.scope).await,
        rows,
        "refused requests add nothing"
    );
});

api_test!(
    invalid_input_is_refused_with_its_code_and_changes_nothing,
    |ctx| {
        let app = start(&ctx).await;
        let a = &app.a;
        let auth = key(a);
        let store = format!("/api/v1/stores/{}", a.store_id);
        for query in [
            "limit=0",
            "limit=201",
            "limit=ten",
            "search=a%00b",
            "search=%01",
            "cursor=abc",
            "cursor=007",
            "cursor=%2B7",
            "cursor=-4",
            "fulfilment_state=lost",
            "since=yesterday",
            "status_code=",
            "status_code=%07",
        ] {
            let answer = app.get(&format!("{store}/orders?{query}"), &auth).await;
            assert_eq!(
                (answer.status, answer.code()),
                (StatusCode::BAD_REQUEST, "invalid_query"),
                "{query}: {answer:?}"
            );
        }
        let shipments = app.get(&format!("{store}/shipments?cursor=x"), &auth).await;
        assert_eq!(shipments.code(), "invalid_query");
        for path in ["/api/v1/stores/abc", "/api/v1/stores/1/orders/x"] {
            let answer = app.get(path, &auth).await;
            assert_eq!(
                (answer.status, answer.code()),
                (StatusCode::BAD_REQUEST, "invalid_path"),
                "{path}"
            );
        }
        let unknown = app.get("/api/v1/nothing/here", &auth).await;
        assert_eq!(
            (unknown.status, unknown.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let method = app
            .call(Method::DELETE, "/api/v1/stores", &auth, None)
            .await;
        assert_eq!(
            (method.status, method.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            "{method:?}"
        );

        // Stock: every bad item is named, and nothing is set.
        let stock = format!("{store}/stock");
        let bad = app
            .call(
                Method::PUT,
                &stock,
                &auth,
                Some(json!({"items": [
                    {"sku": "MUG-1", "on_hand": 5},
                    {"sku": "TEE-S", "on_hand": -1},
                    {"sku": "MUG-1", "on_hand": 6},
                    {"sku": " ", "on_hand": 1},
                    {"sku": "CAP-1", "on_hand": 2147483648_i64}
                ]})),
            )
            .await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            "{bad:?}"
        );
        let message = bad.body["error"]["message"].as_str().unwrap();
        for part in [
            "items[1].on_hand",
            "items[2].sku \"MUG-1\" is given twice",
            "items[3].sku is empty",
            "items[4].on_hand",
        ] {
            assert!(message.contains(part), "{part} in {message}");
        }
        // A NUL would end the SKU for SQLite's length() and is refused by PostgreSQL.
        let control = app
            .call(
                Method::PUT,
                &stock,
                &auth,
                Some(json!({"items": [{"sku": "\u{0}MUG", "on_hand": 1}, {"sku": "A\u{7}", "on_hand": 1}]})),
            )
            .await;
        assert_eq!(control.code(), "validation_failed", "{control:?}");
        assert!(
            control.text.contains("items[1].sku has control characters"),
            "{control:?}"
        );
        let empty = app
            .call(Method::PUT, &stock, &auth, Some(json!({"items": []})))
            .await;
        assert_eq!(empty.code(), "validation_failed");
        let unknown_field = app
            .call(
                Method::PUT,
                &stock,
                &auth,
                Some(json!({"items": [{"sku": "A", "on_hand": 1, "x": 1}]})),
            )
            .await;
        assert_eq!(
            (unknown_field.status, unknown_field.code()),
            (StatusCode::BAD_REQUEST, "invalid_json")
        );
        // JSON has one number type: 4.5 is not a whole number (4.0 is; see the end).
        let fraction = app
            .call(
                Method::PUT,
                &stock,
                &auth,
                Some(json!({"items": [{"sku": "MUG-1", "on_hand": 4.5}]})),
            )
            .await;
        assert_eq!(fraction.code(), "invalid_json", "{fraction:?}");
        assert!(app.storage.stock_rows(&a.scope).await.unwrap().is_empty());
        let not_json = app
            .http
            .put(format!("{}{stock}", app.base))
            .bearer_auth(&a.key)
            .header("content-type", "text/plain")
            .body("MUG-1,4")
            .send()
            .await
            .unwrap();
        assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let broken = app
            .http
            .put(format!("{}{stock}", app.base))
            .bearer_auth(&a.key)
            .header("content-type", "application/json")
            .body("{\"items\": [")
            .send()
            .await
            .unwrap();
        assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
        let broken: Value = broken.json().await.unwrap();
        assert_eq!(broken["error"]["code"], "invalid_json");

        // Shipments: refusals name the reason; nothing is queued.
        let ship = format!("{store}/orders/{}/shipments", a.order_id);
        let cases = [
            (
                json!({"carrier": "canda-post", "tracking_number": "T"}),
                "validation_failed",
            ),
            (
                json!({"carrier": "Canada Post", "tracking_number": "T"}),
                "validation_failed",
            ),
            (
                json!({"carrier": "custom: ", "tracking_number": "T"}),
                "validation_failed",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "T", "items": [{"sku": "MUG-1", "quantity": 1.5}]}),
                "invalid_json",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "T", "items": [{"quantity": 1}]}),
                "validation_failed",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "T", "items": [{"sku": "MUG-1", "quantity": 9}]}),
                "shipment_rejected",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "T", "items": [{"sku": "NOPE", "quantity": 1}]}),
                "shipment_rejected",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "x".repeat(51)}),
                "shipment_rejected",
            ),
        ];
        for (i, (body, code)) in cases.into_iter().enumerate() {
            let status = if code == "invalid_json" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let key = format!("bad-{i}");
            let answer = app
                .call_with(
                    Method::POST,
                    &ship,
                    &auth,
                    Some(body),
                    &[("idempotency-key", &key)],
                )
                .await;
            assert_eq!(
                (answer.status, answer.code()),
                (status, code),
                "case {i}: {answer:?}"
            );
        }
        let message = app
        .call_with(
            Method::POST,
            &ship,
            &auth,
            Some(json!({"carrier": "ups", "tracking_number": "T", "items": [{"sku": "MUG-1", "quantity": 9}]})),
            &[("idempotency-key", "bad-again")],
        )
        .await;
        assert!(
            message.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("2 left to ship"),
            "{message:?}"
        );
        assert!(app.outbox_rows(&a.scope).await.is_empty());
        let whole = app
            .call(
                Method::PUT,
                &stock,
                &auth,
                Some(json!({"items": [{"sku": "MUG-1", "on_hand": 4.0}]})),
            )
            .await;
        assert_eq!(whole.status, 200, "{whole:?}");
        assert_eq!(
            app.storage.stock_rows(&a.scope).await.unwrap()[0].on_hand,
            4
        );
    }
);

api_test!(
    tracking_numbers_and_links_are_checked_and_named_as_the_api_names_them,
    |ctx| {
        let app = start(&ctx).await;
        let a = &app.a;
        let auth = key(a);
        let ship = format!(
            "/api/v1/stores/{}/orders/{}/shipments",
            a.store_id, a.order_id
        );
        let long_link = format!("https://carrier.example/t?n={}", "x".repeat(60_000));
        let cases = [
            (
                json!({"carrier": "ups", "tracking_number": "T\u{0}X"}),
                "validation_failed",
                "tracking_number has control characters",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "T\nX"}),
                "validation_failed",
                "tracking_number has control characters",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "T\u{1b}[2JX"}),
                "validation_failed",
                "tracking_number has control characters",
            ),
            (
                json!({"carrier": "ups", "tracking_number": "  "}),
                "shipment_rejected",
                "tracking_number is required",
            ),
            (
                json!({"carrier": "custom:Bike", "tracking_number": "T1", "tracking_link": "javascript:alert(document.cookie)"}),
                "validation_failed",
                "tracking_link must be an absolute http:// or https:// URL",
            ),
            (
                json!({"carrier": "custom:Bike", "tracking_number": "T1", "tracking_link": "http:carrier.example"}),
                "validation_failed",
                "tracking_link must be",
            ),
            (
                json!({"carrier": "custom:Bike", "tracking_number": "T1", "tracking_link": "https://carrier.example/t?n=1\n2"}),
                "validation_failed",
                "tracking_link must be",
            ),
            (
                json!({"carrier": "custom:Bike", "tracking_number": "T1", "tracking_link": ""}),
                "validation_failed",
                "tracking_link must be",
            ),
            (
                json!({"carrier": "custom:Bike", "tracking_number": "T1", "tracking_link": long_link}),
                "validation_failed",
                "tracking_link is 60028 characters long; at most 2000",
            ),
        ];
        for (i, (body, code, says)) in cases.into_iter().enumerate() {
            let key = format!("tracking-{i}");
            let answer = app
                .call_with(
                    Method::POST,
                    &ship,
                    &auth,
                    Some(body),
                    &[("idempotency-key", &key)],
                )
                .await;
            assert_eq!(
                (answer.status, answer.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, code),
                "case {i}: {answer:?}"
            );
            let message = answer.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "case {i}: {message}");
            assert!(
                !message.contains("--"),
                "case {i} speaks of the CLI: {message}"
            );
        }
        assert!(app.outbox_rows(&a.scope).await.is_empty());
        // A link of the merchant's own over https is taken and kept as given.
        let link = "https://carrier.example/track?n=T1";
        let created = app
        .call_with(
            Method::POST,
            &ship,
            &auth,
            Some(json!({"carrier": "custom:Bike", "tracking_number": "T1", "tracking_link": link})),
            &[("idempotency-key", "tracking-ok")],
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        assert_eq!(created.body["shipments"][0]["tracking_link"], link);
    }
);

api_test!(framework_rejections_are_the_json_envelope, |ctx| {
    let app = start(&ctx).await;
    let a = &app.a;
    let stock = format!("{}/api/v1/stores/{}/stock", app.base, a.store_id);
    let send = |content_type: &'static str, body: String| {
        app.http
            .put(&stock)
            .bearer_auth(&a.key)
            .header("content-type", content_type)
            .body(body)
    };
    let huge = format!(
        "{{\"items\": [{{\"sku\": \"{}\", \"on_hand\": 1}}]}}",
        "x".repeat(10 << 20)
    );
    // The server answers a body over the limit without reading the rest of it and closes the
    // connection; a client still writing the 10 MB then sees its pipe broken before it reads the
    // answer (as curl would). So that attempt is repeated until the answer is read: whenever it
    // is, it must be the 413 envelope.
    let mut too_large = None;
    for _ in 0..10 {
        match send("application/json", huge.clone()).send().await {
            Ok(response) => {
                too_large = Some(response);
                break;
            }
            Err(error) => assert!(error.is_request(), "{error:?}"),
        }
    }
    let response = too_large.expect("one of ten attempts reads the answer");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    for (request, status, code) in [
        (
            send("text/plain", "MUG-1,4".into()),
            415,
            "unsupported_media_type",
        ),
        (
            send("application/json", "{\"items\": [".into()),
            400,
            "invalid_json",
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    assert!(app.storage.stock_rows(&a.scope).await.unwrap().is_empty());
});

api_test!(login_is_throttled_per_email_and_address, |ctx| {
    let app = start(&ctx).await;
    let a = &app.a;
    let wrong = app.login(&a.email, "not the password").await.unwrap_err();
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let nobody = app
        .login("nobody@example.com", "not the password")
        .await
        .unwrap_err();
    assert_eq!(
        nobody.text, wrong.text,
        "an unknown email reads like a wrong password"
    );
    // An email no account can have (a NUL is refused by PostgreSQL) reads the same.
    let nul = app
        .login("a\u{0}@example.com", "not the password")
        .await
        .unwrap_err();
    assert_eq!(nul.text, wrong.text, "{nul:?}");
    for _ in 0..4 {
        app.login(&a.email, "still wrong").await.unwrap_err();
    }
    // Five failures: locked, even with the right password.
    let locked = app.login(&a.email, PASSWORD).await.unwrap_err();
    assert_eq!(
        (locked.status, locked.code()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        "{locked:?}"
    );
    let retry: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Case does not dodge the lock; another account from the same address is not locked.
    let upper = app
        .login(&a.email.to_uppercase(), PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(upper.code(), "too_many_attempts");
    app.login(&app.b.email, PASSWORD)
        .await
        .expect("another email signs in");
    // After the lockout, the right password works and clears the count.
    app.clock
        .advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(1));
    app.login(&a.email, PASSWORD)
        .await
        .expect("signed in after the lockout");
    let attempts = app
        .storage
        .login_attempts(&a.email, "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(attempts, None);
    // Failures outside the window do not add up.
    for _ in 0..4 {
        app.login(&a.email, "wrong").await.unwrap_err();
    }
    app.clock.advance(chrono::Duration::minutes(16));
    app.login(&a.email, "wrong").await.unwrap_err();
    app.login(&a.email, PASSWORD)
        .await
        .expect("one failure in the new window");
});

api_test!(
    parallel_sign_ins_check_at_most_the_allowance_of_passwords,
    |ctx| {
        // Sixty sign-ins for one account sent at once, the right password among them: each is
        // counted before its password is checked, so at most five passwords are checked (401, or
        // the one 200 if the right password came early enough); every other is 429.
        let app = start(&ctx).await;
        let email = app.a.email.clone();
        let attempts = (0..60).map(|i| {
            let password = if i == 30 {
                PASSWORD
            } else {
                "not the password"
            };
            app.login(&email, password)
        });
        let answers = futures::future::join_all(attempts).await;
        let count = |status: StatusCode| {
            answers
                .iter()
                .filter(|a| match a {
                    Ok(_) => status == StatusCode::OK,
                    Err(answer) => answer.status == status,
                })
                .count()
        };
        let (checked_wrong, signed_in, throttled) = (
            count(StatusCode::UNAUTHORIZED),
            count(StatusCode::OK),
            count(StatusCode::TOO_MANY_REQUESTS),
        );
        assert_eq!(checked_wrong + signed_in + throttled, 60, "{answers:?}");
        assert!(
            checked_wrong + signed_in <= 5,
            "{checked_wrong} wrong passwords and {signed_in} right one checked: more than five"
        );
        // The allowance is spent: the right password does not sign in now.
        let after = app.login(&email, PASSWORD).await.unwrap_err();
        assert_eq!(
            (after.status, after.code()),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            "{after:?}"
        );
    }
);

api_test!(the_login_form_needs_its_double_submit_token, |ctx| {
    let app = start(&ctx).await;
    let page = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("cenports_login_csrf="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .expect("a login CSRF cookie");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{cookie}\"")), "{html}");
    let form = |token: &str, cookie: Option<&str>| {
        let mut request = app.http.post(format!("{}/login", app.base)).form(&[
            ("email", app.a.email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", token),
        ]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("cenports_login_csrf={cookie}"));
        }
        request.send()
    };
    let forged = form(&cookie, None).await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let mismatched = form("other", Some(&cookie)).await.unwrap();
    assert_eq!(mismatched.status(), StatusCode::FORBIDDEN);
    let ok = form(&cookie, Some(&cookie)).await.unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let set_cookie: Vec<String> = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("cenports_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Max-Age=43200"),
        "{session}"
    );
    assert!(
        !session.contains("Secure"),
        "plain HTTP on loopback: {session}"
    );
    let token = session_cookie(ok.headers()).unwrap();
    let me = app
        .get(
            "/api/v1/me",
            &Auth::Session {
                cookie: token,
                csrf: None,
            },
        )
        .await;
    assert_eq!(me.body["authenticated_with"], "session", "{me:?}");
    // JSON sign-in needs no form token (a cross-site page cannot send JSON without CORS).
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    let plain = app
        .http
        .post(format!("{}/login", app.base))
        .headers(headers)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
});

api_test!(
    a_triggered_sync_runs_once_per_store_and_reports_its_outcome,
    |ctx| {
        let app = start(&ctx).await;
        let a = &app.a;
        // New orders in the store, and a slow store so that the second trigger finds it running.
        app.sandbox
            .with_store(&a.hash, |data, events| {
                let mut order = fixtures::order(1, &[("CAP-1", 1, 0)]);
                // Changed after the last sync window ended, and before the next one ends.
                order.date_created = Some(Utc::now() - chrono::Duration::seconds(10));
                data.place_order(order, events)
            })
            .unwrap()
            .unwrap();
        app.sandbox
            .store(&a.hash)
            .unwrap()
            .faults
            .lock()
            .push(FaultRule {
                count: Some(1),
                latency_ms: Some(800),
                ..FaultRule::always(FaultKind::Latency)
            });
        let path = format!("/api/v1/stores/{}/sync", a.store_id);
        let session = app.session(&a.email).await;
        let started = app.call(Method::POST, &path, &session, None).await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{started:?}");
        assert_eq!(started.body["status"], "started");
        let again = app.call(Method::POST, &path, &key(a), None).await;
        assert_eq!(again.body["status"], "already_running", "{again:?}");
        // The trigger answered at once; the sync runs in the background. Poll its status (at
        // most 20 s).
        let mut status = app.get(&path, &key(a)).await;
        for _ in 0..400 {
            if status.body["running"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            status = app.get(&path, &key(a)).await;
        }
        assert_eq!(status.body["running"], false, "the sync ended: {status:?}");
        assert_eq!(status.body["last_run"]["outcome"], "ok", "{status:?}");
        assert_eq!(status.body["last_run"]["orders_inserted"], 1, "{status:?}");
        assert_eq!(app.storage.count_orders(&a.scope).await.unwrap(), 7);
        let metrics = app.get("/metrics", &Auth::None).await;
        assert!(
            metrics
                .text
                .contains("cenports_api_syncs_total{outcome=\"ok\"} 1"),
            "{}",
            metrics.text
        );
        assert!(
            metrics.text.contains(&format!(
                "cenports_store_quota_left{{store=\"{}\"}}",
                a.store_id
            )),
            "{}",
            metrics.text
        );
    }
);

/// Every (method, path) the router serves, as the OpenAPI document must list it.
const ROUTES: [(&str, &str); 32] = [
    ("get", "/api/v1/stores"),
    ("get", "/api/v1/stores/{store_id}"),
    ("get", "/api/v1/stores/{store_id}/sync"),
    ("post", "/api/v1/stores/{store_id}/sync"),
    ("get", "/api/v1/stores/{store_id}/errors"),
    ("get", "/api/v1/stores/{store_id}/orders"),
    ("get", "/api/v1/stores/{store_id}/orders/export"),
    ("get", "/api/v1/stores/{store_id}/orders/pick-list"),
    ("get", "/api/v1/stores/{store_id}/orders/{order_id}"),
    (
        "post",
        "/api/v1/stores/{store_id}/orders/{order_id}/shipments",
    ),
    ("get", "/api/v1/stores/{store_id}/shipments"),
    ("post", "/api/v1/stores/{store_id}/shipments/batch"),
    ("get", "/api/v1/stores/{store_id}/shipments/{shipment_id}"),
    (
        "post",
        "/api/v1/stores/{store_id}/shipments/{shipment_id}/retry",
    ),
    ("get", "/api/v1/stores/{store_id}/stock"),
    ("put", "/api/v1/stores/{store_id}/stock"),
    ("get", "/api/v1/subscriptions"),
    ("post", "/api/v1/subscriptions"),
    ("get", "/api/v1/subscriptions/{subscription_id}"),
    ("delete", "/api/v1/subscriptions/{subscription_id}"),
    ("get", "/api/v1/subscriptions/{subscription_id}/deliveries"),
    ("post", "/api/v1/deliveries/{delivery_id}/resend"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/docs"),
    ("get", "/login"),
    ("post", "/login"),
    ("post", "/logout"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

api_test!(
    a_trigger_during_a_scheduled_sync_answers_already_running_and_walks_the_store_once,
    |ctx| {
        use cenports::server::{App as Hub, ServeOptions};
        use cenports::sync::scheduler::SchedulerConfig;

        let app = start(&ctx).await;
        let a = &app.a;
        let settings = Settings::load_from(&Overrides::default(), |name| match name {
            "CENPORTS_DATABASE_URL" => Some(ctx.url.clone()),
            "CENPORTS_BIGCOMMERCE_API_URL" => Some(app.sandbox.base_url().to_owned()),
            "CENPORTS_SECRET_KEY" => Some(base64::engine::general_purpose::STANDARD.encode(KEY)),
            _ => None,
        })
        .expect("settings");
        // Store A's scheduled sync is slow to start: its first request (GET /v2/time) waits.
        app.sandbox
            .store(&a.hash)
            .unwrap()
            .faults
            .lock()
            .push(FaultRule {
                count: Some(1),
                latency_ms: Some(3000),
                path_contains: Some("/v2/time".into()),
                ..FaultRule::always(FaultKind::Latency)
            });
        let time_requests = || {
            let store = app.sandbox.store(&a.hash).unwrap();
            let log = store.log.lock();
            log.since(0)
                .iter()
                .filter(|r| r.path.contains("/v2/time"))
                .count()
        };
        let before = time_requests();

        // `cenports serve` as it runs: one scheduled sync at once (a long interval: one tick).
        let mut options = ServeOptions::from_settings(&settings);
        options.scheduler = SchedulerConfig {
            interval: Duration::from_secs(3600),
            reconcile_interval: None,
            options: SyncOptions {
                settle: Duration::from_secs(1),
                ..SyncOptions::default()
            },
            ..SchedulerConfig::from_settings(&settings)
        };
        let hub = Hub::build(&settings, options).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(hub.serve(listener, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        let sync_path = format!("{base}/api/v1/stores/{}/sync", a.store_id);
        let status = || async {
            let answer = http
                .get(&sync_path)
                .bearer_auth(&a.key)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()
        };

        // The scheduler's sync of store A is running: the status says so.
        let mut seen = status().await;
        for _ in 0..200 {
            if seen["running"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            seen = status().await;
        }
        assert_eq!(seen["running"], true, "the scheduled sync runs: {seen}");
        assert_eq!(seen["last_run"], Value::Null, "nothing triggered yet");

        // A trigger now starts nothing.
        let trigger = http
            .post(&sync_path)
            .bearer_auth(&a.key)
            .send()
            .await
            .unwrap();
        assert_eq!(trigger.status(), StatusCode::ACCEPTED);
        let body = trigger.json::<Value>().await.unwrap();
        assert_eq!(body["status"], "already_running", "{body}");

        let mut seen = status().await;
        for _ in 0..400 {
            if seen["running"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen = status().await;
        }
        assert_eq!(seen["running"], false, "the scheduled sync ended: {seen}");
        assert_eq!(
            seen["last_run"],
            Value::Null,
            "the trigger ran nothing: {seen}"
        );
        assert_eq!(
            time_requests() - before,
            1,
            "one walk of the store, the scheduler's"
        );

        // The scheduler's client reported the quota it saw; afterwards a trigger starts.
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains(&format!(
                "cenports_store_quota_left{{store=\"{}\"}} ",
                a.store_id
            )),
            "{metrics}"
        );
        let again = http
            .post(&sync_path)
            .bearer_auth(&a.key)
            .send()
            .await
            .unwrap();
        let body = again.json::<Value>().await.unwrap();
        assert_eq!(body["status"], "started", "{body}");

        // Both syncs are in the store's history, newest first, with who started them.
        let started = std::time::Instant::now();
        let mut seen = status().await;
        while seen["history"][0]["outcome"] != "ok" || seen["history"][0]["started_by"] != "api" {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the triggered sync ends: {seen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen = status().await;
        }
        let history = seen["history"].as_array().unwrap();
        assert_eq!(history.len(), 2, "{seen}");
        assert_eq!(history[1]["started_by"], "scheduled", "{seen}");
        assert_eq!(history[1]["outcome"], "ok", "{seen}");
        assert!(history[1]["api_requests"].as_u64().unwrap() > 0, "{seen}");
        assert!(history[1]["finished_at"].is_string(), "{seen}");

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(20), served)
            .await
            .expect("the hub stops")
            .unwrap()
            .unwrap();
    }
);

api_test!(orders_are_filtered_by_a_created_range, |ctx| {
    let app = start(&ctx).await;
    let a = &app.a;
    let auth = key(a);
    let orders = format!("/api/v1/stores/{}/orders", a.store_id);
    let all = app.get(&orders, &auth).await;
    let all_numbers = numbers(&all);
    assert_eq!(all_numbers.len(), 6);
    // The first order's creation instant, as the API wrote it (RFC 3339, UTC), and its day.
    let created = all.body["orders"][0]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let day = &created[..10];
    let first = all.body["orders"][0]["number"].as_str().unwrap().to_owned();

    // `created_from` is inclusive, `created_to` exclusive, for instants and for days.
    let from_instant = numbers(
        &app.get(&format!("{orders}?created_from={created}"), &auth)
            .await,
    );
    assert!(from_instant.contains(&first), "{from_instant:?}");
    let to_instant = numbers(
        &app.get(&format!("{orders}?created_to={created}"), &auth)
            .await,
    );
    assert!(!to_instant.contains(&first), "{to_instant:?}");
    assert_eq!(
        numbers(
            &app.get(&format!("{orders}?created_from={day}"), &auth)
                .await
        ),
        all_numbers
    );
    assert_eq!(
        numbers(&app.get(&format!("{orders}?created_to={day}"), &auth).await),
        Vec::<String>::new(),
        "the day given as created_to is not included"
    );
    let next_day = (chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap()
        + chrono::Duration::days(1))
    .to_string();
    assert_eq!(
        numbers(
            &app.get(
                &format!("{orders}?created_from={day}&created_to={next_day}&search=Zoe"),
                &auth
            )
            .await
        ),
        vec![first],
        "the range combines with a search"
    );
    // An offset is an instant like any other (`+` escaped in a query string).
    let offset = chrono::DateTime::parse_from_rfc3339(&created)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600).unwrap())
        .to_rfc3339()
        .replace('+', "%2B");
    let with_offset = numbers(
        &app.get(&format!("{orders}?created_from={offset}"), &auth)
            .await,
    );
    assert_eq!(with_offset, from_instant);

    for (query, field) in [
        ("created_from=2026-02-30", "created_from"),
        ("created_to=yesterday", "created_to"),
        ("created_from=2026-01-01T25:00:00Z", "created_from"),
    ] {
        let refused = app.get(&format!("{orders}?{query}"), &auth).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, "invalid_query"),
            "{query}: {refused:?}"
        );
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(field) && message.contains("YYYY-MM-DD"),
            "{message}"
        );
    }

    // The OpenAPI document describes both parameters.
    let doc = app.get("/api/v1/openapi.json", &Auth::None).await;
    let params = doc.body["paths"]["/api/v1/stores/{store_id}/orders"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for name in ["created_from", "created_to"] {
        let param = params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {params:?}"));
        assert_eq!(param["in"], "query");
        assert_eq!(
            param["schema"]["anyOf"],
            json!([{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]),
            "{param}"
        );
    }
});

api_test!(
    the_openapi_document_is_served_and_lists_every_route,
    |ctx| {
        let app = start(&ctx).await;
        let doc = app.get("/api/v1/openapi.json", &Auth::None).await;
        assert_eq!(doc.status, 200);
        assert_eq!(
            doc.body,
            serde_json::to_value(cenports::server::openapi()).unwrap()
        );
        let doc = doc.body;
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let mut listed = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                listed.insert((method.clone(), path.clone()));
            }
        }
        let expected: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(listed, expected);
        // Every route in the document is served (an unknown route would be `not_found` or a bare
        // 404 without our envelope).
        for (method, path) in ROUTES {
            let concrete = path
                .replace("{store_id}", &app.a.store_id.to_string())
                .replace("{order_id}", &app.a.order_id.to_string())
                .replace("{shipment_id}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app
                .call(
                    method.clone(),
                    &concrete,
                    &Auth::Key(app.a.key.clone()),
                    None,
                )
                .await;
            assert_ne!(answer.code(), "not_found", "{method} {concrete}");
            assert_ne!(answer.code(), "method_not_allowed", "{method} {concrete}");
            assert!(
                answer.status != StatusCode::NOT_FOUND || answer.code().ends_with("_not_found"),
                "{method} {concrete}: {answer:?}"
            );
        }
        // Every operation says how it fails, and every reference resolves.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
        let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for code in [
            "store_not_found",
            "idempotency_key_required",
            "too_many_attempts",
            "csrf_failed",
        ] {
            assert!(codes.contains(&code), "{code} in {codes:?}");
        }
        assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
        assert!(doc["components"]["securitySchemes"]["session"].is_object());
    }
);

/// Checks an answer against the document: its status is documented for the operation, and a
/// JSON body validates against the documented schema (JSON Schema 2020-12, as OpenAPI 3.1).
fn conforms(doc: &Value, method: &str, template: &str, answer: &Answer) {
    let operation = &doc["paths"][template][method];
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let status = answer.status.as_u16().to_string();
    let response = &operation["responses"][&status];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which is not documented: {answer:?}"
    );
    let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
        return;
    };
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [Value::Object(schema.clone())],
        "components": doc["components"].clone(),
    });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema of {method} {template} {status}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&answer.body)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status} does not match its schema: {errors:?}\n{answer:?}"
    );
}

api_test!(answers_conform_to_the_openapi_document, |ctx| {
    let app = start(&ctx).await;
    let doc = serde_json::to_value(cenports::server::openapi()).unwrap();
    let a = &app.a;
    let auth = key(a);
    let s = a.store_id.to_string();
    let o = a.order_id.to_string();
    let fill = |t: &str, shipment: &str| {
        t.replace("{store_id}", &s)
            .replace("{order_id}", &o)
            .replace("{shipment_id}", shipment)
    };
    let created = app
        .call_with(
            Method::POST,
            &fill("/api/v1/stores/{store_id}/orders/{order_id}/shipments", ""),
            &auth,
            Some(json!({"carrier": "custom:Van", "tracking_number": "V-1", "tracking_link": "https://example.com/V-1"})),
            &[("idempotency-key", "conform-1")],
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/v1/stores/{store_id}/orders/{order_id}/shipments",
        &created,
    );
    let shipment = created.body["shipments"][0]["id"].to_string();
    app.call(
        Method::PUT,
        &fill("/api/v1/stores/{store_id}/stock", ""),
        &auth,
        Some(json!({"items": [{"sku": "MUG-1", "on_hand": 4}]})),
    )
    .await;
    let missing = "/api/v1/stores/999999";
    let cases: Vec<(&str, String, Auth, Option<Value>)> = vec![
        ("get", "/api/v1/stores".into(), auth.clone(), None),
        ("get", "/api/v1/stores".into(), Auth::None, None),
        (
            "get",
            "/api/v1/stores/{store_id}".into(),
            auth.clone(),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/sync".into(),
            auth.clone(),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/errors".into(),
            auth.clone(),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/orders".into(),
            auth.clone(),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/orders".into(),
            Auth::Key(app.operator_key.clone()),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/orders/{order_id}".into(),
            auth.clone(),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/shipments".into(),
            auth.clone(),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/shipments/{shipment_id}".into(),
            auth.clone(),
            None,
        ),
        (
            "get",
            "/api/v1/stores/{store_id}/stock".into(),
            auth.clone(),
            None,
        ),
        (
            "put",
            "/api/v1/stores/{store_id}/stock".into(),
            auth.clone(),
            Some(json!({"items": []})),
        ),
        ("get", "/api/v1/me".into(), auth.clone(), None),
        ("get", "/healthz".into(), Auth::None, None),
        ("get", "/readyz".into(), Auth::None, None),
        (
            "post",
            "/login".into(),
            Auth::None,
            Some(json!({"email": a.email, "password": PASSWORD})),
        ),
        (
            "post",
            "/login".into(),
            Auth::None,
            Some(json!({"email": a.email, "password": "wrong"})),
        ),
        ("post", "/logout".into(), auth.clone(), None),
        (
            "post",
            "/api/v1/stores/{store_id}/sync".into(),
            auth.clone(),
            None,
        ),
    ];
    for (method, template, auth, body) in cases {
        let concrete = fill(&template, &shipment);
        let answer = app
            .call(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                &concrete,
                &auth,
                body,
            )
            .await;
        conforms(&doc, method, &template, &answer);
    }
    // The check itself catches a body that breaks the schema.
    let mut wrong = app.get("/api/v1/me", &auth).await;
    wrong.body["user"]["id"] = json!("not a number");
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
        conforms(&doc, "get", "/api/v1/me", &wrong)
    }));
    assert!(caught.is_err(), "a string id must not validate");
    let not_found = app.get(missing, &auth).await;
    conforms(&doc, "get", "/api/v1/stores/{store_id}", &not_found);
    let bad_query = app
        .get(&fill("/api/v1/stores/{store_id}/orders?limit=0", ""), &auth)
        .await;
    conforms(&doc, "get", "/api/v1/stores/{store_id}/orders", &bad_query);
});

api_test!(
    errors_list_failed_writes_and_stock_pushes_and_disconnected_stores_do_not_sync,
    |ctx| {
        let app = start(&ctx).await;
        let a = &app.a;
        let auth = key(a);
        let store = format!("/api/v1/stores/{}", a.store_id);
        let created = app
            .call_with(
                Method::POST,
                &format!("{store}/orders/{}/shipments", a.order_id),
                &auth,
                Some(ship_body("F-1")),
                &[("idempotency-key", "will-fail")],
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        // A worker takes the row and BigCommerce refuses it.
        let row = app
            .storage
            .claim_outbox(
                Some(a.scope.store_id()),
                "test-worker",
                Duration::from_secs(60),
            )
            .await
            .unwrap()
            .expect("the shipment is due");
        assert!(app
            .storage
            .fail_outbox(
                row.id,
                "test-worker",
                "BigCommerce refused it: tracking number taken"
            )
            .await
            .unwrap());
        app.storage
            .set_stock(&a.scope, &[("MUG-1".into(), 5), ("TEE-S".into(), 2)])
            .await
            .unwrap();
        app.storage
            .record_push(
                &a.scope,
                &[
                    PushRecord {
                        sku: "MUG-1".into(),
                        level_sent: Some(5),
                        status: "rejected".into(),
                        message: Some("Variant 9 does not exist.".into()),
                        reported_level: None,
                    },
                    PushRecord {
                        sku: "TEE-S".into(),
                        level_sent: Some(2),
                        status: "ok".into(),
                        message: None,
                        reported_level: Some(2),
                    },
                ],
            )
            .await
            .unwrap();
        let errors = app.get(&format!("{store}/errors"), &auth).await;
        assert_eq!(errors.status, 200, "{errors:?}");
        assert_eq!(
            errors.body["outbox"].as_array().unwrap().len(),
            1,
            "{errors:?}"
        );
        assert_eq!(errors.body["outbox"][0]["id"], row.id.get());
        assert_eq!(errors.body["outbox"][0]["state"], "failed");
        assert_eq!(errors.body["outbox"][0]["order_number"], a.order_number);
        assert!(errors.body["outbox"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("tracking number taken"));
        assert_eq!(
            errors.body["stock"],
            json!([{"sku": "MUG-1", "status": "rejected", "message": "Variant 9 does not exist.", "at": errors.body["stock"][0]["at"]}])
        );
        let shipment = app
            .get(&format!("{store}/shipments/{}", row.id.get()), &auth)
            .await;
        assert_eq!(shipment.body["state"], "failed", "{shipment:?}");
        let metrics = app.get("/metrics", &Auth::None).await;
        assert!(metrics.text.contains(&format!(
            "cenports_outbox_rows{{store=\"{}\",state=\"failed\"}} 1",
            a.store_id
        )));

        // A disconnected store keeps its data and refuses a sync.
        app.storage.disconnect_store(&a.scope).await.unwrap();
        let refused = app
            .call(Method::POST, &format!("{store}/sync"), &auth, None)
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::CONFLICT, "store_disconnected"),
            "{refused:?}"
        );
        let one = app.get(&store, &auth).await;
        assert_eq!(one.body["status"], "disconnected");
        let orders = app.get(&format!("{store}/orders"), &auth).await;
        assert_eq!(orders.body["orders"].as_array().unwrap().len(), 6);
    }
);

api_test!(orders_sort_newest_first_and_page_through_all, |ctx| {
    let app = start(&ctx).await;
    let a = &app.a;
    let auth = key(a);
    let orders = format!("/api/v1/stores/{}/orders", a.store_id);
    // The order imported first (our lowest id) is re-dated at the store to be the newest, and
    // synced again: creation time, not our id (nor the order number), orders the list.
    let by_id = numbers(&app.get(&orders, &auth).await);
    assert_eq!(by_id.len(), 6);
    let redated: u64 = by_id[0].parse().unwrap();
    app.sandbox
        .with_store(&a.hash, |data, events| {
            data.orders.get_mut(&redated).unwrap().date_created =
                Utc::now() - chrono::Duration::minutes(1);
            data.touch_order(redated, events)
        })
        .unwrap()
        .unwrap();
    // Modified before the next sync window ends (it ends a settle of 1 s before the store's
    // clock, to the second).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let sync = format!("/api/v1/stores/{}/sync", a.store_id);
    let started = app.call(Method::POST, &sync, &auth, None).await;
    assert_eq!(started.body["status"], "started", "{started:?}");
    let mut status = app.get(&sync, &auth).await;
    for _ in 0..400 {
        if status.body["running"] == false && !status.body["last_run"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = app.get(&sync, &auth).await;
    }
    assert_eq!(status.body["last_run"]["outcome"], "ok", "{status:?}");
    assert_eq!(status.body["last_run"]["orders_updated"], 1, "{status:?}");
    let all = app.get(&orders, &auth).await;
    assert_eq!(numbers(&all), by_id, "the list by id is unchanged");
    // Expected: by creation time descending, then our id descending.
    let mut expected: Vec<(chrono::DateTime<Utc>, i64, String)> = all.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["created_at"].as_str().unwrap().parse().unwrap(),
                o["id"].as_i64().unwrap(),
                o["number"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort_unstable_by_key(|(created, id, _)| std::cmp::Reverse((*created, *id)));
    let expected: Vec<String> = expected.into_iter().map(|(_, _, n)| n).collect();
    assert_eq!(expected[0], by_id[0], "the re-dated order is the newest");
    // Two pages of four and two, newest first, the cursor carried over.
    let first = app
        .get(&format!("{orders}?sort=newest&limit=4"), &auth)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let mut newest = numbers(&first);
    newest.extend(numbers(
        &app.get(
            &format!("{orders}?sort=newest&limit=4&cursor={cursor}"),
            &auth,
        )
        .await,
    ));
    assert_eq!(
        newest, expected,
        "every order once, by creation time descending (then our id descending)"
    );
    assert_eq!(
        numbers(&app.get(&format!("{orders}?sort=id"), &auth).await).len(),
        6
    );
    let bad = app.get(&format!("{orders}?sort=oldest"), &auth).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    assert_eq!(bad.body["error"]["code"], "invalid_query", "{bad:?}");
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected `id` or `newest`"),
        "the message names the accepted values: {bad:?}"
    );
});

/// The order numbers of an orders page, which must be a 200.
fn numbers(answer: &Answer) -> Vec<String> {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect()
}

api_test!(
    a_batch_of_shipments_is_refused_whole_or_queued_once,
    |ctx| {
        let app = start(&ctx).await;
        let a = &app.a;
        let auth = key(a);
        let path = format!("/api/v1/stores/{}/shipments/batch", a.store_id);
        let number = &a.order_number;

        // JSON rows: the bad ones listed by position, nothing queued.
        let refused = app
        .call(
            Method::POST,
            &path,
            &auth,
            Some(json!({"rows": [
                {"order": number, "carrier": "ups", "tracking": "1Z1", "sku": "MUG-1", "quantity": 1},
                {"order": number, "carrier": "ups", "tracking": "1Z1", "sku": "MUG-1", "quantity": 5},
                {"order": "404404", "carrier": "ups", "tracking": "1Z2"},
            ]})),
        )
        .await;
        assert_eq!(refused.status, 422, "{refused:?}");
        assert_eq!(refused.code(), "batch_refused");
        let lines: Vec<i64> = refused.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["line"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, vec![2, 3], "{refused:?}");
        assert!(app.outbox_rows(&a.scope).await.is_empty());

        // A CSV: two parcels, then the same CSV again ships nothing.
        let csv = format!(
            "order,carrier,tracking,sku,quantity\n{number},ups,1Z1,MUG-1,1\n{number},ups,1Z2,,\n"
        );
        let send_csv = || async {
            let response = app
                .http
                .post(format!("{}{path}", app.base))
                .bearer_auth(&a.key)
                .header("content-type", "text/csv; charset=utf-8")
                .body(csv.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        };
        let (status, body) = send_csv().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["shipped"], &body["already_shipped"], &body["refused"]),
            (&json!(2), &json!(0), &json!(0)),
            "{body}"
        );
        assert_eq!(body["parcels"][1]["lines"], json!([3]));
        assert_eq!(body["parcels"][1]["shipments"][0]["state"], "pending");
        let rows = app.outbox_rows(&a.scope).await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        let (status, body) = send_csv().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["shipped"], &body["already_shipped"]),
            (&json!(0), &json!(2)),
            "{body}"
        );
        assert_eq!(app.outbox_rows(&a.scope).await.len(), 2, "nothing added");

        // Another merchant's store is a 404; another media type a 415.
        let other = app
            .call(
                Method::POST,
                &format!("/api/v1/stores/{}/shipments/batch", app.b.store_id),
                &auth,
                Some(json!({"rows": []})),
            )
            .await;
        assert_eq!(other.status, 404, "{other:?}");
        let form = app
            .http
            .post(format!("{}{path}", app.base))
            .bearer_auth(&a.key)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 415);
    }
);

api_test!(
    the_export_streams_one_row_per_line_and_the_pick_list_sums_skus,
    |ctx| {
        let app = start(&ctx).await;
        let a = &app.a;
        let auth = key(a);
        let store = format!("/api/v1/stores/{}/orders", a.store_id);
        // What the hub holds: every line of every order not archived.
        let mut expected_lines = 0;
        let mut ready_remaining: std::collections::BTreeMap<String, i64> = Default::default();
        let page = app
            .storage
            .list_orders(&a.scope, &OrderFilter::default(), 1000, None)
            .await
            .unwrap();
        for summary in &page.orders {
            let order = app.storage.get_order(&a.scope, summary.id).await.unwrap();
            expected_lines += order.lines.len();
            if summary.fulfilment_state == FulfilmentState::Ready {
                for line in &order.lines {
                    *ready_remaining.entry(line.sku.clone()).or_default() +=
                        i64::from(line.quantity - line.quantity_shipped);
                }
            }
        }
        assert!(expected_lines > 3);

        let response = app
            .http
            .get(format!("{}{store}/export", app.base))
            .bearer_auth(&a.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        let text = response.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "order,date,status,customer,email,ship_to_name,ship_to_company,ship_to_street_1,\
         ship_to_street_2,ship_to_city,ship_to_state,ship_to_zip,ship_to_country,ship_to_phone,\
         sku,name,quantity,quantity_remaining"
        );
        assert_eq!(lines.len() - 1, expected_lines, "{text}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{},", a.order_number))
                    && l.contains("Zoe Tremblay")
                    && l.contains(",MUG-1,")),
            "{text}"
        );

        // JSON lines, only ready orders.
        let json_lines = app
            .http
            .get(format!(
                "{}{store}/export?format=json&fulfilment_state=ready",
                app.base
            ))
            .bearer_auth(&a.key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let rows: Vec<Value> = json_lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r["quantity_remaining"].is_i64()));

        // The pick list: what remains of the ready orders, by SKU.
        let pick = app
            .get(
                &format!("{store}/pick-list?format=json&fulfilment_state=ready"),
                &auth,
            )
            .await;
        assert_eq!(pick.status, 200, "{pick:?}");
        let summed: std::collections::BTreeMap<String, i64> = pick.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                assert_eq!(i["bin"], "");
                (
                    i["sku"].as_str().unwrap().to_owned(),
                    i["quantity"].as_i64().unwrap(),
                )
            })
            .collect();
        ready_remaining.retain(|_, q| *q > 0);
        assert_eq!(summed, ready_remaining);
        let csv = app
            .http
            .get(format!(
                "{}{store}/pick-list?fulfilment_state=ready",
                app.base
            ))
            .bearer_auth(&a.key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(csv.starts_with("sku,name,quantity,orders,bin\n"), "{csv}");

        // Another merchant's store: 404 before any byte of an export.
        let other = app
            .get(
                &format!("/api/v1/stores/{}/orders/export", app.b.store_id),
                &auth,
            )
            .await;
        assert_eq!(other.status, 404, "{other:?}");
    }
);

api_test!(
    event_subscriptions_are_their_merchants_and_the_secret_is_shown_once,
    |ctx| {
        let app = start(&ctx).await;
        let doc = app.get("/api/v1/openapi.json", &Auth::None).await.body;
        let (a, b) = (&app.a, &app.b);
        let subscribe =
            |url: &str| json!({"url": url, "events": ["order.cancelled", "order.ready"]});

        // Where events may not go: private and link-local addresses, plain http elsewhere.
        for (url, says) in [
            ("https://10.1.2.3/hook", "events_allow_private_networks"),
            ("https://169.254.169.254/latest", "link-local"),
            ("http://wms.example.com/hook", "https://"),
        ] {
            let refused = app
                .call(
                    Method::POST,
                    "/api/v1/subscriptions",
                    &key(a),
                    Some(subscribe(url)),
                )
                .await;
            assert_eq!(
                refused.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{refused:?}"
            );
            assert_eq!(refused.code(), "validation_failed");
            assert!(
                refused.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(says),
                "{refused:?}"
            );
            conforms(&doc, "post", "/api/v1/subscriptions", &refused);
        }
        let unknown = app
            .call(
                Method::POST,
                "/api/v1/subscriptions",
                &key(a),
                Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["order.shipped"]})),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{unknown:?}");

        let created = app
            .call(
                Method::POST,
                "/api/v1/subscriptions",
                &key(a),
                Some(subscribe("http://127.0.0.1:9/hook")),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        conforms(&doc, "post", "/api/v1/subscriptions", &created);
        assert_eq!(created.headers["cache-control"], "no-store");
        let secret = created.body["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{created:?}");
        let id = created.body["subscription"]["id"].as_i64().unwrap();
        assert_eq!(
            created.body["subscription"]["events"],
            json!(["order.ready", "order.cancelled"])
        );

        // Listed without its secret; the other merchant neither sees nor removes it.
        let listed = app.get("/api/v1/subscriptions", &key(a)).await;
        conforms(&doc, "get", "/api/v1/subscriptions", &listed);
        assert_eq!(listed.body["subscriptions"].as_array().unwrap().len(), 1);
        assert!(!listed.text.contains(&secret));
        let one = app
            .get(&format!("/api/v1/subscriptions/{id}"), &key(a))
            .await;
        assert_eq!(one.status, StatusCode::OK);
        assert!(!one.text.contains("whsec_"));
        let theirs = app.get("/api/v1/subscriptions", &key(b)).await;
        assert_eq!(theirs.body["subscriptions"], json!([]));
        for (method, path) in [
            (Method::GET, format!("/api/v1/subscriptions/{id}")),
            (Method::DELETE, format!("/api/v1/subscriptions/{id}")),
            (
                Method::GET,
                format!("/api/v1/subscriptions/{id}/deliveries"),
            ),
        ] {
            let hidden = app.call(method.clone(), &path, &key(b), None).await;
            assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(hidden.code(), "subscription_not_found");
        }
        let everyone = app
            .get(
                "/api/v1/subscriptions",
                &Auth::Key(app.operator_key.clone()),
            )
            .await;
        assert_eq!(everyone.body["subscriptions"].as_array().unwrap().len(), 1);
        // The secret is kept sealed: not in the database in clear.
        let stored = app.storage.list_subscriptions(None).await.unwrap();
        assert!(!String::from_utf8_lossy(&stored[0].sealed_secret).contains(&secret[6..]));

        // The feed: the import announced each merchant's ready orders, to that merchant only.
        let feed = app.get("/api/v1/events", &key(a)).await;
        conforms(&doc, "get", "/api/v1/events", &feed);
        let events = feed.body["events"].as_array().unwrap();
        assert!(!events.is_empty(), "{feed:?}");
        assert!(
            events.iter().all(|e| e["store_id"] == a.store_id),
            "{feed:?}"
        );
        assert!(events.iter().all(|e| e["type"] == "order.ready"));
        let cursor = feed.body["next_cursor"].as_str().unwrap().to_owned();
        let theirs = app.get("/api/v1/events", &key(b)).await;
        assert!(theirs.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["store_id"] == b.store_id));
        let nothing_new = app
            .get(&format!("/api/v1/events?after={cursor}"), &key(a))
            .await;
        assert_eq!(nothing_new.body["events"], json!([]));
        assert_eq!(nothing_new.body["next_cursor"], cursor.as_str());
        for bad in ["", "1-2", "-1", "a"] {
            let refused = app
                .get(&format!("/api/v1/events?after={bad}"), &key(a))
                .await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad:?}");
            conforms(&doc, "get", "/api/v1/events", &refused);
        }

        let removed = app
            .call(
                Method::DELETE,
                &format!("/api/v1/subscriptions/{id}"),
                &key(a),
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let gone = app
            .get(&format!("/api/v1/subscriptions/{id}"), &key(a))
            .await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
);
