//! The dashboard end to end: `cenports::server::router` (the API merged with the dashboard, as
//! `serve` serves them) on 127.0.0.1:0 over a real database (SQLite and PostgreSQL), two merchants'
//! stores connected to a sandbox and imported, driven like a browser: reqwest with a cookie
//! jar, forms posted with their hidden CSRF token, redirects looked at one by one.
//!
//! `web_test!` expands each test into `<name>::sqlite` and `<name>::postgres` (a fresh
//! database on 127.0.0.1:5432; `CENPORTS_TEST_POSTGRES_URL` overrides the admin URL).

use crate::common::tenant::{tenant, Tenant, PASSWORD};
use crate::common::{random_suffix, Ctx};

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bigcommerce_sandbox::credentials::credentials_txt;
use bigcommerce_sandbox::{fixtures, Sandbox, SandboxConfig, StoreSpec};
use chrono::Utc;
use reqwest::StatusCode;
use secrecy::SecretString;

use cenports::accounts::{self, AuthPolicy, Role};
use cenports::channel::{Channels, StoreClient};
use cenports::config::{Overrides, Settings};
use cenports::fulfilment::worker::{drain, WorkerConfig};
use cenports::service::AppState;
use cenports::storage::*;
use cenports::sync::{sync_store, SyncOptions};

const KEY: [u8; 32] = [7; 32];

// ------------------------------------------------------------------ backends

use crate::common::both_backends as web_test;

// ------------------------------------------------------------------ the hub

struct App {
    base: String,
    storage: Storage,
    /// The hub's channels, shared with the router (one limiter per store, as `serve` has).
    channels: Channels,
    sandbox: Sandbox,
    a: Tenant,
    b: Tenant,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
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
    let channels = settings.channels().expect("channels");
    let state = AppState::new(ctx.storage.clone(), settings, channels.clone())
        .with_auth_policy(AuthPolicy::default())
        .with_secure_cookies(false)
        .with_sync_options(SyncOptions {
            settle: Duration::from_secs(1),
            ..SyncOptions::default()
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // As `serve` merges them.
    let app = cenports::server::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    App {
        base: format!("http://{addr}"),
        storage: ctx.storage.clone(),
        channels,
        sandbox,
        a,
        b,
        server,
    }
}

// ------------------------------------------------------------------ a browser

/// What a page answered.
struct Page {
    status: StatusCode,
    location: Option<String>,
    /// The `Cache-Control` header, if any.
    cache_control: Option<String>,
    html: String,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} {}", self.status, self.location, self.html)
    }
}

impl Page {
    /// The value of the first hidden input named `name`.
    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
            + marker.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }

    /// How many links to one of `store`'s order pages the page holds.
    fn order_links(&self, store: i64) -> usize {
        self.html
            .matches(&format!("href=\"/stores/{store}/orders/"))
            .count()
    }
}

/// A browser: no automatic redirects, and a cookie jar that keeps what `Set-Cookie` sets.
struct Browser {
    base: String,
    http: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    fn new(app: &App) -> Browser {
        Browser::at(&app.base)
    }

    fn at(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        self.try_send(request).await.expect("the hub answers")
    }

    /// [`Browser::send`], with the transport error when the request could not be completed
    /// (e.g. a body the hub stopped reading).
    async fn try_send(&self, request: reqwest::RequestBuilder) -> Result<Page, reqwest::Error> {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await?;
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            let (name, v) = pair.split_once('=').unwrap();
            let mut jar = self.jar.lock().unwrap();
            if value.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), v.to_owned());
            }
        }
        Ok(Page {
            status: response.status(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            cache_control: response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_owned()),
            html: response.text().await?,
        })
    }

    async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(self.http.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    /// A `multipart/form-data` POST (the connect form), written by hand: each part a name and
    /// text, `credentials_file` sent as a file.
    async fn post_multipart(&self, path: &str, parts: &[(&str, &str)]) -> Page {
        let boundary = "----cenports-test-boundary";
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!("--{boundary}\r\n"));
            if *name == "credentials_file" {
                body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"creds.txt\"\r\nContent-Type: text/plain\r\n\r\n"
                ));
            } else {
                body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                ));
            }
            body.push_str(value);
            body.push_str("\r\n");
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await
    }

    /// Signs in through the form, as a person would.
    async fn sign_in(&self, email: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "{form:?}");
        let token = form.hidden("csrf_token");
        self.post(
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ],
        )
        .await
    }

    async fn signed_in(app: &App, email: &str) -> Browser {
        let browser = Browser::new(app);
        let page = browser.sign_in(email, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");
        browser
    }

    /// The session's CSRF token, read from a page's sign-out form.
    async fn csrf(&self) -> String {
        self.get("/stores").await.hidden("csrf_token")
    }
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        owner_prefix: format!("web-{}", random_suffix()),
        concurrency: 1,
        lease: Duration::from_secs(10),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        quiet_period: Duration::from_millis(300),
        recheck_gap: Duration::from_millis(100),
        drain_patience: Duration::from_secs(2),
        ..WorkerConfig::default()
    }
}

// ------------------------------------------------------------------ tests

web_test!(signing_in_through_the_form_opens_the_dashboard, |ctx| {
    let app = start(&ctx).await;
    let browser = Browser::new(&app);
    let anonymous = browser.get("/stores").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location.as_deref(), Some("/login"));

    let wrong = browser.sign_in(&app.a.email, "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.html.contains("<form"), "the form again: {wrong:?}");
    assert!(wrong.html.contains("role=\"alert\""), "{wrong:?}");

    let page = browser.sign_in(&app.a.email, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");
    assert_eq!(page.location.as_deref(), Some("/"));
    let home = browser.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/stores"));
    let stores = browser.get("/stores").await;
    assert_eq!(stores.status, StatusCode::OK, "{stores:?}");
    assert!(
        stores.html.contains("alice@example.com&#39;s store")
            || stores.html.contains("alice@example.com's store"),
        "{stores:?}"
    );
    assert!(
        !stores.html.contains("bob@example.com"),
        "a merchant sees only their stores"
    );
    assert!(
        stores
            .html
            .contains(&format!("href=\"/stores/{}/orders\">6<", app.a.store_id)),
        "order count: {stores:?}"
    );

    let operator = Browser::signed_in(&app, "ops@example.com").await;
    let all = operator.get("/stores").await;
    assert!(
        all.html.contains(&app.a.hash) && all.html.contains(&app.b.hash),
        "{all:?}"
    );

    // Signing out with the form's token ends the session.
    let csrf = browser.csrf().await;
    let out = browser.post("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{out:?}");
    assert_eq!(out.location.as_deref(), Some("/login"));
    assert_eq!(
        browser.get("/stores").await.location.as_deref(),
        Some("/login")
    );

    // Page visits are counted in /metrics under their route template, never the path with
    // its ids, apart from the API's requests.
    let orders = operator
        .get(&format!("/stores/{}/orders", app.a.store_id))
        .await;
    assert_eq!(orders.status, StatusCode::OK, "{orders:?}");
    let metrics = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "cenports_http_requests_total{surface=\"dashboard\",route=\"/stores\",status=\"200\"} 3",
        "cenports_http_requests_total{surface=\"dashboard\",route=\"/stores\",status=\"303\"} 2",
        "cenports_http_requests_total{surface=\"dashboard\",route=\"/stores/{store_id}/orders\",status=\"200\"} 1",
        "cenports_http_requests_total{surface=\"dashboard\",route=\"/logout\",status=\"303\"} 1",
        "cenports_http_requests_total{surface=\"dashboard\",route=\"/login\",status=\"401\"} 1",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
    assert!(
        !metrics.contains(&format!("/stores/{}", app.a.store_id)),
        "no raw path with an id: {metrics}"
    );
});

web_test!(
    connecting_without_orders_modify_shows_the_fix_and_saves_nothing,
    |ctx| {
        let app = start(&ctx).await;
        let info = app.sandbox.create_store(StoreSpec {
            seed: 33,
            ..StoreSpec::default()
        });
        let account = info.account("missing-orders-modify").unwrap();
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let form = browser.get("/connect").await;
        assert_eq!(form.status, StatusCode::OK);
        let fields: Vec<usize> = [
            "Cenports user email",
            "Store URL",
            "Client ID",
            "Client Secret",
            "Access Token",
            "credentials .txt",
        ]
        .iter()
        .map(|label| {
            form.html
                .find(label)
                .unwrap_or_else(|| panic!("{label}: {form:?}"))
        })
        .collect();
        assert!(
            fields.windows(2).all(|w| w[0] < w[1]),
            "the merchant guide's order"
        );
        let before = app.storage.list_all_stores().await.unwrap().len();
        let csrf = form.hidden("csrf_token");
        let store_url = format!("https://store-{}.mybigcommerce.com", info.hash);
        let page = browser
            .post_multipart(
                "/connect",
                &[
                    ("csrf_token", &csrf),
                    ("store_url", &store_url),
                    ("client_id", &account.client_id),
                    ("client_secret", &account.client_secret),
                    ("access_token", &account.access_token),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{page:?}");
        assert!(
            page.html.contains(
                "The access token lacks Orders: Modify (store_v2_orders); edit the API account in \
             BigCommerce (Advanced Settings › API Accounts), set Orders to Modify, and reconnect"
            ),
            "{page:?}"
        );
        assert!(
            page.html.contains("missing") && page.html.contains("granted"),
            "pass/fail per scope: {page:?}"
        );
        assert!(
            !page.html.contains(&account.access_token),
            "secrets are not echoed"
        );
        assert_eq!(
            app.storage.list_all_stores().await.unwrap().len(),
            before,
            "nothing saved"
        );
    }
);

web_test!(
    connecting_with_the_credentials_file_shows_the_store,
    |ctx| {
        let app = start(&ctx).await;
        let info = app.sandbox.create_store(StoreSpec {
            seed: 44,
            ..StoreSpec::default()
        });
        let account = info.account("merchant-guide").unwrap();
        let txt = credentials_txt(account, &app.sandbox.api_path(&info.hash));
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let csrf = browser.csrf().await;
        let page = browser
            .post_multipart(
                "/connect",
                &[("csrf_token", &csrf), ("credentials_file", &txt)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");
        let location = page.location.unwrap();
        assert!(location.ends_with("?notice=connected"), "{location}");
        let store = browser.get(&location).await;
        assert_eq!(store.status, StatusCode::OK, "{store:?}");
        assert!(
            store.html.contains(&info.hash) && store.html.contains("connected"),
            "{store:?}"
        );
        let alice = app
            .storage
            .find_user_by_email(&app.a.email)
            .await
            .unwrap()
            .unwrap();
        let hers = app.storage.list_stores(alice.id).await.unwrap();
        assert!(
            hers.iter().any(|s| s.remote_id == info.hash),
            "saved under the signed-in user"
        );

        // Reconnect: the form comes prefilled with the hash and Client ID.
        let id = hers
            .iter()
            .find(|s| s.remote_id == info.hash)
            .unwrap()
            .id()
            .get();
        let again = browser.get(&format!("/connect?store={id}")).await;
        assert!(
            again.html.contains(&format!("value=\"{}\"", info.hash)),
            "{again:?}"
        );
        assert!(
            again
                .html
                .contains(&format!("value=\"{}\"", account.client_id)),
            "{again:?}"
        );
    }
);

web_test!(the_orders_page_lists_filters_and_searches, |ctx| {
    let app = start(&ctx).await;
    let browser = Browser::signed_in(&app, &app.a.email).await;
    let id = app.a.store_id;
    let all = browser.get(&format!("/stores/{id}/orders")).await;
    assert_eq!(all.status, StatusCode::OK, "{all:?}");
    assert_eq!(all.order_links(id), 6, "{all:?}");
    let cancelled = browser
        .get(&format!("/stores/{id}/orders?state=cancelled"))
        .await;
    assert_eq!(cancelled.order_links(id), 1, "{cancelled:?}");
    // The status filter is the form's `status_code` field (the channel's status code).
    assert!(all.html.contains("name=\"status_code\""), "{all:?}");
    let by_status = browser
        .get(&format!(
            "/stores/{id}/orders?status_code=5&state=&since=&q="
        ))
        .await;
    assert_eq!(by_status.order_links(id), 1, "{by_status:?}");
    let future = (Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%d");
    let none = browser
        .get(&format!("/stores/{id}/orders?since={future}"))
        .await;
    assert_eq!(none.order_links(id), 0, "{none:?}");
    let number = &app.a.order_number;
    let by_number = browser
        .get(&format!("/stores/{id}/orders?q={number}"))
        .await;
    assert_eq!(by_number.order_links(id), 1, "{by_number:?}");
    assert!(by_number.html.contains(&format!("#{number}")));
    let order = app
        .storage
        .get_order(&app.a.scope, OrderId::from_raw(app.a.order_id))
        .await
        .unwrap();
    let email = order
        .summary
        .email
        .clone()
        .expect("the fixture has an email");
    let by_email = browser
        .get(&format!("/stores/{id}/orders?q={}", email.to_uppercase()))
        .await;
    assert!(by_email.order_links(id) >= 1, "{by_email:?}");
    assert!(by_email.html.contains(&email), "{by_email:?}");
    let bad = browser
        .get(&format!("/stores/{id}/orders?since=yesterday"))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // The creation-day range: "Created on or after" includes its day, "Created before"
    // excludes its day, and both stay in the next page's link.
    assert!(
        all.html.contains("name=\"created_from\"") && all.html.contains("name=\"created_to\""),
        "{all:?}"
    );
    let created = order.summary.date_created.date_naive();
    let next_day = created + chrono::Duration::days(1);
    let in_range = browser
        .get(&format!(
            "/stores/{id}/orders?created_from={created}&created_to={next_day}"
        ))
        .await;
    assert_eq!(in_range.order_links(id), 6, "{in_range:?}");
    assert!(
        in_range.html.contains(&format!("value=\"{created}\"")),
        "the form keeps the range: {in_range:?}"
    );
    let before = browser
        .get(&format!("/stores/{id}/orders?created_to={created}"))
        .await;
    assert_eq!(before.order_links(id), 0, "{before:?}");
    let bad_range = browser
        .get(&format!("/stores/{id}/orders?created_from=2026-02-30"))
        .await;
    assert_eq!(bad_range.status, StatusCode::BAD_REQUEST);
    assert!(bad_range.html.contains("created_from"), "{bad_range:?}");
});

web_test!(
    a_shipment_recorded_on_the_order_page_reaches_the_store_once,
    |ctx| {
        let app = start(&ctx).await;
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let path = format!("/stores/{}/orders/{}", app.a.store_id, app.a.order_id);
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        assert!(
            page.html.contains("MUG-1") && page.html.contains("Zoe"),
            "lines and addresses: {page:?}"
        );
        let csrf = page.hidden("csrf_token");
        let key = page.hidden("request_key");
        let mut fields: Vec<(String, String)> = page
            .html
            .match_indices("name=\"qty_")
            .map(|(i, m)| {
                let rest = &page.html[i + m.len()..];
                let line = &rest[..rest.find('"').unwrap()];
                (format!("qty_{line}"), String::new())
            })
            .collect();
        assert_eq!(fields.len(), 2, "one quantity per open line");
        // Ship everything of the first line only.
        fields[1].1 = "0".into();
        let mut form: Vec<(&str, &str)> = vec![
            ("csrf_token", &csrf),
            ("request_key", &key),
            ("carrier", "ups"),
            ("tracking_number", "1Z999"),
        ];
        let first_line_qty;
        {
            let start = page
                .html
                .find(&format!("name=\"{}\"", fields[0].0))
                .unwrap();
            let rest = &page.html[start..];
            let v = rest.find("value=\"").unwrap() + 7;
            first_line_qty = rest[v..v + rest[v..].find('"').unwrap()].to_owned();
        }
        fields[0].1 = first_line_qty;
        for (k, v) in &fields {
            form.push((k, v));
        }
        let posted = browser.post(&format!("{path}/shipments"), &form).await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{posted:?}");
        assert_eq!(posted.location.as_deref(), Some(path.as_str()));
        // The same form again (a double click): still one shipment.
        let again = browser.post(&format!("{path}/shipments"), &form).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{again:?}");
        let rows = app
            .storage
            .order_outbox(&app.a.scope, OrderId::from_raw(app.a.order_id))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");

        let record = app.storage.get_store(&app.a.scope).await.unwrap();
        let client = app.channels.client(&app.storage, &record).await.unwrap();
        let clients: HashMap<StoreId, Arc<dyn StoreClient>> =
            HashMap::from([(app.a.scope.store_id(), client)]);
        drain(&app.storage, &clients, None, &worker_config())
            .await
            .unwrap();
        let shipments = app
            .sandbox
            .with_store(&app.a.hash, |data, _| {
                data.orders[&app.a.order_number.parse::<u64>().unwrap()]
                    .shipments
                    .len()
            })
            .unwrap();
        assert_eq!(shipments, 1, "the store holds the shipment");
        let after = browser.get(&path).await;
        assert!(
            after.html.contains("delivered") && after.html.contains("1Z999"),
            "{after:?}"
        );
        assert!(
            after.html.contains("written to the store"),
            "timeline: {after:?}"
        );

        // Nothing to ship is refused on the page, not recorded.
        let zero: Vec<(&str, &str)> = vec![
            ("csrf_token", &csrf),
            ("request_key", "another"),
            ("carrier", "ups"),
            ("tracking_number", "1Z998"),
            (&fields[1].0, "0"),
        ];
        let refused = browser.post(&format!("{path}/shipments"), &zero).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused:?}"
        );
    }
);

web_test!(the_stock_page_shows_levels_and_mismatches, |ctx| {
    let app = start(&ctx).await;
    app.storage
        .set_stock(
            &app.a.scope,
            &[("MUG-1".to_owned(), 40), ("CAP-1".to_owned(), 5)],
        )
        .await
        .unwrap();
    let browser = Browser::signed_in(&app, &app.a.email).await;
    let page = browser
        .get(&format!("/stores/{}/stock", app.a.store_id))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    let row = |sku: &str| {
        let start = page
            .html
            .find(&format!("<td>{sku}</td>"))
            .unwrap_or_else(|| panic!("{sku}: {page:?}"));
        let end = page.html[start..].find("</tr>").unwrap() + start;
        page.html[start..end].to_owned()
    };
    // MUG-1: 40 on hand, 3 reserved by the open orders (2 + 1), 37 available; never pushed.
    let mug = row("MUG-1");
    assert!(mug.contains("<td>40</td><td>3</td><td>37</td>"), "{mug}");
    assert!(mug.contains("never"), "{mug}");
    assert!(row("CAP-1").contains("<td>5</td>"));
});

web_test!(a_merchant_gets_404_on_another_merchants_pages, |ctx| {
    let app = start(&ctx).await;
    let alice = Browser::signed_in(&app, &app.a.email).await;
    let b = &app.b;
    for path in [
        format!("/stores/{}", b.store_id),
        format!("/stores/{}/orders", b.store_id),
        format!("/stores/{}/orders/{}", b.store_id, b.order_id),
        format!("/stores/{}/stock", b.store_id),
        format!("/connect?store={}", b.store_id),
        // Bob's order under Alice's store.
        format!("/stores/{}/orders/{}", app.a.store_id, b.order_id),
        "/stores/not-a-number".to_owned(),
        "/stores/999999".to_owned(),
    ] {
        let page = alice.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {page:?}");
        assert!(!page.html.contains(&b.hash), "{path}");
    }
    let csrf = alice.csrf().await;
    let sync = alice
        .post(
            &format!("/stores/{}/sync", b.store_id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(sync.status, StatusCode::NOT_FOUND);
    let disconnect = alice
        .post(
            &format!("/stores/{}/disconnect", b.store_id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(disconnect.status, StatusCode::NOT_FOUND);
    let ship = alice
        .post(
            &format!("/stores/{}/orders/{}/shipments", b.store_id, b.order_id),
            &[
                ("csrf_token", &csrf),
                ("carrier", "ups"),
                ("tracking_number", "X1"),
                ("qty_1", "1"),
            ],
        )
        .await;
    assert_eq!(ship.status, StatusCode::NOT_FOUND);
    assert!(app
        .storage
        .order_outbox(&b.scope, OrderId::from_raw(b.order_id))
        .await
        .unwrap()
        .is_empty());
    let store = app.storage.get_store(&b.scope).await.unwrap();
    assert_eq!(store.status, StoreStatus::Connected);
});

web_test!(
    posts_without_the_csrf_token_are_refused_and_change_nothing,
    |ctx| {
        let app = start(&ctx).await;
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let id = app.a.store_id;
        let order = format!("/stores/{id}/orders/{}", app.a.order_id);
        let page = browser.get(&order).await;
        let key = page.hidden("request_key");
        let fields = [
            ("request_key", key.as_str()),
            ("carrier", "ups"),
            ("tracking_number", "1Z999"),
        ];
        for token in [None, Some("wrong"), Some("")] {
            let mut form = fields.to_vec();
            if let Some(token) = token {
                form.push(("csrf_token", token));
            }
            let ship = browser.post(&format!("{order}/shipments"), &form).await;
            assert_eq!(ship.status, StatusCode::FORBIDDEN, "{token:?}: {ship:?}");
            assert!(
                ship.html.contains("did not come from Cenports"),
                "a page: {ship:?}"
            );
            let disconnect = browser
                .post(&format!("/stores/{id}/disconnect"), &form[3..])
                .await;
            assert_eq!(disconnect.status, StatusCode::FORBIDDEN, "{token:?}");
            let sync = browser
                .post(&format!("/stores/{id}/sync"), &form[3..])
                .await;
            assert_eq!(sync.status, StatusCode::FORBIDDEN, "{token:?}");
            let logout = browser.post("/logout", &form[3..]).await;
            assert_eq!(logout.status, StatusCode::FORBIDDEN, "{token:?}");
        }
        let connect = browser
            .post_multipart(
                "/connect",
                &[("store_url", &app.a.hash), ("client_id", "x")],
            )
            .await;
        assert_eq!(connect.status, StatusCode::FORBIDDEN, "{connect:?}");
        assert!(app
            .storage
            .order_outbox(&app.a.scope, OrderId::from_raw(app.a.order_id))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            app.storage.get_store(&app.a.scope).await.unwrap().status,
            StoreStatus::Connected
        );
        assert_eq!(
            browser.get("/stores").await.status,
            StatusCode::OK,
            "still signed in"
        );
        // The right token does work.
        let csrf = browser.csrf().await;
        let disconnect = browser
            .post(
                &format!("/stores/{id}/disconnect"),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(disconnect.status, StatusCode::SEE_OTHER, "{disconnect:?}");
        assert_eq!(
            app.storage.get_store(&app.a.scope).await.unwrap().status,
            StoreStatus::Disconnected
        );
    }
);

web_test!(
    the_stores_list_puts_unhealthy_stores_first_and_the_store_page_retries,
    |ctx| {
        let app = start(&ctx).await;
        let b = &app.b;
        app.storage
            .set_stock(&b.scope, &[("CAP-1".to_owned(), 5)])
            .await
            .unwrap();
        let cause = "the store refused the level: turn inventory tracking on for CAP-1";
        app.storage
            .record_push(
                &b.scope,
                &[PushRecord {
                    sku: "CAP-1".into(),
                    level_sent: Some(5),
                    status: "rejected".into(),
                    message: Some(cause.into()),
                    reported_level: Some(2),
                }],
            )
            .await
            .unwrap();
        let operator = Browser::signed_in(&app, "ops@example.com").await;
        let list = operator.get("/stores").await;
        assert_eq!(list.status, StatusCode::OK, "{list:?}");
        let (at_a, at_b) = (
            list.html.find(&app.a.hash).unwrap(),
            list.html.find(&b.hash).unwrap(),
        );
        assert!(at_b < at_a, "the store with an error comes first: {list:?}");
        let row_b = &list.html[at_b..at_a];
        assert!(
            row_b.contains("errors") && row_b.contains("#errors\">1<"),
            "{row_b}"
        );
        assert!(list.html[at_a..].contains("healthy"), "{list:?}");

        let store = operator.get(&format!("/stores/{}", b.store_id)).await;
        assert_eq!(store.status, StatusCode::OK, "{store:?}");
        assert!(store.html.contains(cause), "the cause: {store:?}");
        assert!(store.html.contains("Retry (sync now)"), "{store:?}");
        let stock = operator.get(&format!("/stores/{}/stock", b.store_id)).await;
        let row = &stock.html[stock.html.find("<td>CAP-1</td>").unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("rejected") && row.contains(">yes<"),
            "a mismatch: {row}"
        );

        let csrf = operator.csrf().await;
        let retry = operator
            .post(
                &format!("/stores/{}/sync", b.store_id),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(retry.status, StatusCode::SEE_OTHER, "{retry:?}");
        let location = retry.location.unwrap();
        assert_eq!(
            location,
            format!("/stores/{}?notice=sync_started", b.store_id)
        );
        // The sync runs in the background, as the API's trigger: wait for its outcome.
        let mut outcome = String::new();
        for _ in 0..100 {
            outcome = operator.get(&location).await.html;
            if outcome.contains("<td>API or dashboard</td>") && !outcome.contains(">running<") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            outcome.contains("<td>API or dashboard</td><td><span class=\"good\">ok</span>"),
            "the triggered sync is in the sync history and ended well: {outcome}"
        );
    }
);

web_test!(
    the_orders_list_pages_by_fifty_and_keeps_its_filters,
    |ctx| {
        let app = start(&ctx).await;
        app.sandbox
            .with_store(&app.a.hash, |data, events| {
                for _ in 0..55 {
                    // Placed now: changed after the last sync's window ended.
                    let order = fixtures::order(1, &[("TEE-S", 1, 0)]);
                    data.place_order(order, events).unwrap();
                }
            })
            .unwrap();
        // The sync imports what changed before `now - settle` (1 s here): let the new orders
        // settle.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let record = app.storage.get_store(&app.a.scope).await.unwrap();
        let client = app.channels.client(&app.storage, &record).await.unwrap();
        let options = SyncOptions {
            settle: Duration::from_secs(1),
            ..SyncOptions::default()
        };
        sync_store(
            &app.storage,
            &app.a.scope,
            client.as_ref(),
            &options,
            |_| {},
        )
        .await
        .unwrap();
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let id = app.a.store_id;
        let first = browser
            .get(&format!("/stores/{id}/orders?state=ready"))
            .await;
        assert_eq!(first.order_links(id), 50, "{first:?}");
        let marker = "rel=\"next\" href=\"";
        let start = first.html.find(marker).expect("a next page") + marker.len();
        let next =
            first.html[start..start + first.html[start..].find('"').unwrap()].replace("&amp;", "&");
        assert!(
            next.contains("state=ready") && next.contains("cursor="),
            "{next}"
        );
        let second = browser.get(&next).await;
        let ready = app
            .storage
            .count_orders_by_fulfilment_state(&app.a.scope)
            .await
            .unwrap()
            .into_iter()
            .find(|(state, _)| *state == FulfilmentState::Ready)
            .map_or(0, |(_, n)| n) as usize;
        assert!(ready > 50, "{ready}");
        assert_eq!(second.order_links(id), ready - 50, "{second:?}");
        assert!(!second.html.contains(marker), "the last page");
        assert!(second.html.contains("First page"));
    }
);

web_test!(
    first_run_setup_creates_one_operator_and_then_closes,
    |ctx| {
        let settings = Settings::load_from(&Overrides::default(), |name| match name {
            "CENPORTS_DATABASE_URL" => Some(ctx.url.clone()),
            "CENPORTS_SECRET_KEY" => Some(base64::engine::general_purpose::STANDARD.encode(KEY)),
            _ => None,
        })
        .expect("settings");
        let token = "a-one-time-setup-token";
        let channels = settings.channels().expect("channels");
        let state = AppState::new(ctx.storage.clone(), settings, channels)
            .with_secure_cookies(false)
            .with_setup_token(SecretString::from(token.to_owned()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app =
            cenports::server::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let browser = Browser::at(&base);

        let login = browser.get("/login").await;
        assert!(
            login.html.contains("No account can sign in yet"),
            "{login:?}"
        );
        for path in ["/setup", "/setup?token=guessed"] {
            let refused = browser.get(path).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}: {refused:?}");
            assert!(refused.html.contains("cenports user add"), "{refused:?}");
        }
        let form = browser.get(&format!("/setup?token={token}")).await;
        assert_eq!(form.status, StatusCode::OK, "{form:?}");
        assert_eq!(form.hidden("token"), token);

        let post = |email: &'static str, password: &'static str, again: &'static str| {
            let browser = &browser;
            async move {
                browser
                    .post(
                        "/setup",
                        &[
                            ("token", token),
                            ("email", email),
                            ("password", password),
                            ("password_again", again),
                        ],
                    )
                    .await
            }
        };
        let differ = post("ops@example.com", PASSWORD, "correct horse battery stapler").await;
        assert_eq!(
            differ.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{differ:?}"
        );
        assert!(
            differ.html.contains("The two passwords differ"),
            "{differ:?}"
        );
        assert!(
            differ.html.contains("value=\"ops@example.com\""),
            "the email stays"
        );
        let short = post("ops@example.com", "short", "short").await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{short:?}");
        assert!(short.html.contains("12 to 256 characters"), "{short:?}");
        let not_email = post("ops", PASSWORD, PASSWORD).await;
        assert!(
            not_email.html.contains("is not an email address"),
            "{not_email:?}"
        );
        assert!(ctx.storage.list_accounts().await.unwrap().is_empty());

        let made = post("ops@example.com", PASSWORD, PASSWORD).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{made:?}");
        assert_eq!(made.location.as_deref(), Some("/stores"));
        let stores = browser.get("/stores").await;
        assert_eq!(
            stores.status,
            StatusCode::OK,
            "signed in at once: {stores:?}"
        );
        assert!(
            stores.html.contains("ops@example.com (operator)"),
            "{stores:?}"
        );
        let accounts = ctx.storage.list_accounts().await.unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].role, Role::Operator);

        // The door is shut: the same link, even with the token, goes to the sign-in page, and a
        // second post creates nobody.
        let stranger = Browser::at(&base);
        let again = stranger.get(&format!("/setup?token={token}")).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        assert_eq!(again.location.as_deref(), Some("/login"));
        let second = stranger
            .post(
                "/setup",
                &[
                    ("token", token),
                    ("email", "mallory@example.com"),
                    ("password", PASSWORD),
                    ("password_again", PASSWORD),
                ],
            )
            .await;
        assert_eq!(second.location.as_deref(), Some("/login"), "{second:?}");
        assert_eq!(ctx.storage.list_accounts().await.unwrap().len(), 1);
        assert!(!stranger
            .get("/login")
            .await
            .html
            .contains("No account can sign in yet"));
        assert_eq!(
            stranger.sign_in("ops@example.com", PASSWORD).await.status,
            StatusCode::SEE_OTHER,
            "the operator signs in with the password they chose"
        );
        server.abort();
    }
);

web_test!(
    the_shipment_form_refuses_control_characters_and_names_its_own_field,
    |ctx| {
        let app = start(&ctx).await;
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let path = format!("/stores/{}/orders/{}", app.a.store_id, app.a.order_id);
        let page = browser.get(&path).await;
        let csrf = page.hidden("csrf_token");
        let line = {
            let at = page.html.find("name=\"qty_").unwrap() + "name=\"".len();
            let rest = &page.html[at..];
            rest[..rest.find('"').unwrap()].to_owned()
        };
        for (i, (tracking, says)) in [
            ("T\u{0}X", "The tracking number has control characters"),
            ("T\nX", "The tracking number has control characters"),
            ("T\u{1b}[31mX", "The tracking number has control characters"),
            ("   ", "The tracking number is required"),
        ]
        .into_iter()
        .enumerate()
        {
            let key = format!("form-{i}");
            let posted = browser
                .post(
                    &format!("{path}/shipments"),
                    &[
                        ("csrf_token", &csrf),
                        ("request_key", &key),
                        ("carrier", "ups"),
                        ("tracking_number", tracking),
                        (&line, "1"),
                    ],
                )
                .await;
            assert_eq!(
                posted.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{posted:?}"
            );
            assert!(posted.html.contains(says), "{tracking:?}: {posted:?}");
            assert!(!posted.html.contains("--tracking"), "{posted:?}");
        }
        let rows = app
            .storage
            .order_outbox(&app.a.scope, OrderId::from_raw(app.a.order_id))
            .await
            .unwrap();
        assert!(rows.is_empty(), "{rows:?}");
    }
);

web_test!(
    framework_rejections_are_pages_and_the_connect_form_names_its_own_field,
    |ctx| {
        let app = start(&ctx).await;
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let csrf = browser.csrf().await;
        // A 1 MB Client ID is a field that is too long, not a file.
        let page = browser.get("/connect").await;
        let channel = page.hidden("channel");
        let huge = "c".repeat(1024 * 1024);
        let posted = browser
            .post_multipart(
                "/connect",
                &[
                    ("csrf_token", &csrf),
                    ("channel", &channel),
                    ("store_url", "abc123"),
                    ("client_id", &huge),
                ],
            )
            .await;
        assert!(posted.status.is_client_error(), "{}", posted.status);
        assert!(
            posted.html.contains("<html"),
            "{}",
            &posted.html[..200.min(posted.html.len())]
        );
        assert_eq!(posted.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            posted
                .html
                .contains("The Client ID is 1048576 characters long"),
            "{}",
            posted.html
        );
        assert!(
            !posted.html.contains("That file is too large"),
            "{}",
            posted.html
        );
        // What the framework refuses (a duplicate field, a form that is not a form, a body
        // over the limit) is an HTML page too, never plain text.
        let store = format!("/stores/{}/sync", app.a.store_id);
        let duplicate = browser
            .post(&store, &[("csrf_token", &csrf), ("csrf_token", &csrf)])
            .await;
        let not_a_form = browser
            .send(
                browser
                    .http
                    .post(format!("{}{store}", browser.base))
                    .header("content-type", "text/plain")
                    .body("csrf_token=x"),
            )
            .await;
        // The hub answers a body over the limit without reading the rest and closes the
        // connection: a client still writing may see its pipe broken before the answer, so the
        // attempt is repeated until the answer is read (it must then be the 413 page).
        let mut too_large = None;
        for _ in 0..10 {
            let request = browser
                .http
                .post(format!("{}{store}", browser.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf_token={}", "x".repeat(3 * 1024 * 1024)));
            match browser.try_send(request).await {
                Ok(page) => {
                    too_large = Some(page);
                    break;
                }
                Err(error) => assert!(error.is_request() || error.is_body(), "{error:?}"),
            }
        }
        let too_large = too_large.expect("one of ten attempts reads the answer");
        for (page, status) in [
            (&duplicate, StatusCode::UNPROCESSABLE_ENTITY),
            (&not_a_form, StatusCode::UNSUPPORTED_MEDIA_TYPE),
            (&too_large, StatusCode::PAYLOAD_TOO_LARGE),
        ] {
            assert_eq!(page.status, status, "{page:?}");
            assert!(
                page.html.contains("<html") && page.html.contains("role=\"alert\""),
                "{page:?}"
            );
            assert!(!page.html.contains("Failed to"), "{page:?}");
        }
    }
);

web_test!(
    a_failed_write_is_retried_from_the_store_page_and_ships_once,
    |ctx| {
        let app = start(&ctx).await;
        let (a, b) = (&app.a, &app.b);
        // A shipment of Alice's order, refused by the store (the hub records the refusal as the
        // worker does: claimed, then failed with the channel's words).
        let record = app.storage.get_store(&a.scope).await.unwrap();
        let client = app.channels.client(&app.storage, &record).await.unwrap();
        let requested = cenports::fulfilment::request_shipment(
            &app.storage,
            &record,
            app.channels.of(&record).unwrap().as_ref(),
            &cenports::fulfilment::ShipmentRequest {
                order_remote_id: a.order_number.clone(),
                carrier: cenports::fulfilment::Carrier::Ups,
                tracking_number: "1ZRETRY".into(),
                tracking_link: None,
                shipped_at: None,
                items: vec![],
                request_key: None,
            },
        )
        .await
        .unwrap();
        let row = requested.rows[0].id;
        let claimed = app
            .storage
            .claim_outbox(None, "refused", Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, row);
        assert!(app
            .storage
            .fail_outbox(
                row,
                "refused",
                "BigCommerce rejected it: the order is on hold"
            )
            .await
            .unwrap());

        // The store page lists it with its reason and a Retry now button.
        let alice = Browser::signed_in(&app, &a.email).await;
        let store_page = format!("/stores/{}", a.store_id);
        let page = alice.get(&store_page).await;
        assert!(
            page.html.contains("the order is on hold") && page.html.contains("Retry now"),
            "{page:?}"
        );
        let retry = format!("/stores/{}/outbox/{}/retry", a.store_id, row.get());
        assert!(page.html.contains(&retry), "{page:?}");

        // Another merchant cannot retry it; without the CSRF token nothing happens either.
        let bob = Browser::signed_in(&app, &b.email).await;
        let bob_csrf = bob.csrf().await;
        let theirs = bob.post(&retry, &[("csrf_token", &bob_csrf)]).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{theirs:?}");
        let no_token = alice.post(&retry, &[]).await;
        assert_ne!(no_token.status, StatusCode::SEE_OTHER, "{no_token:?}");
        let held = app.storage.get_outbox(&a.scope, row).await.unwrap();
        assert_eq!(held.state, OutboxState::Failed);

        let csrf = page.hidden("csrf_token");
        let retried = alice.post(&retry, &[("csrf_token", &csrf)]).await;
        assert_eq!(retried.status, StatusCode::SEE_OTHER, "{retried:?}");
        assert_eq!(
            retried.location.as_deref(),
            Some(format!("{store_page}?notice=retry_queued#errors").as_str())
        );
        let queued = app.storage.get_outbox(&a.scope, row).await.unwrap();
        assert_eq!(
            (queued.state, queued.attempts, queued.last_error),
            (OutboxState::Pending, 0, None)
        );
        let notice = alice
            .get(&format!("{store_page}?notice=retry_queued"))
            .await;
        assert!(notice.html.contains("Queued again"), "{notice:?}");

        let clients: HashMap<StoreId, Arc<dyn StoreClient>> =
            HashMap::from([(a.scope.store_id(), client)]);
        let report = drain(&app.storage, &clients, None, &worker_config())
            .await
            .unwrap();
        assert_eq!((report.delivered_sent, report.sends), (1, 1), "{report:?}");
        let shipments = app
            .sandbox
            .with_store(&a.hash, |data, _| {
                data.orders[&a.order_number.parse::<u64>().unwrap()]
                    .shipments
                    .len()
            })
            .unwrap();
        assert_eq!(shipments, 1);
        // Delivered: nothing left to retry, and the page says so rather than queueing.
        let again = alice.post(&retry, &[("csrf_token", &csrf)]).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    }
);

web_test!(
    a_shipments_csv_uploaded_on_the_orders_page_is_checked_whole_and_queued_once,
    |ctx| {
        let app = start(&ctx).await;
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let orders = format!("/stores/{}/orders", app.a.store_id);
        let page = browser.get(&orders).await;
        assert!(
            page.html.contains("Ship many orders from a CSV"),
            "{page:?}"
        );
        let csrf = page.hidden("csrf_token");
        let upload = format!("/stores/{}/shipments/import", app.a.store_id);
        let number = &app.a.order_number;
        let bad = format!("order,carrier,tracking,sku,quantity\n{number},ups,1Z1,MUG-1,9\n");
        let refused = browser
            .post_multipart(&upload, &[("csrf_token", &csrf), ("file", &bad)])
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused:?}"
        );
        assert!(
            refused.html.contains("1 bad row(s)") && refused.html.contains("2 left to ship"),
            "{refused:?}"
        );
        let good = format!("order,carrier,tracking\n{number},ups,1Z1\n");
        let shipped = browser
            .post_multipart(&upload, &[("csrf_token", &csrf), ("file", &good)])
            .await;
        assert_eq!(shipped.status, StatusCode::OK, "{shipped:?}");
        assert!(
            shipped.html.contains("Shipped 1, already shipped 0"),
            "{shipped:?}"
        );
        let again = browser
            .post_multipart(&upload, &[("csrf_token", &csrf), ("file", &good)])
            .await;
        assert!(
            again.html.contains("Shipped 0, already shipped 1"),
            "{again:?}"
        );
        let rows = app
            .storage
            .order_outbox(&app.a.scope, OrderId::from_raw(app.a.order_id))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        // Without the session's CSRF token nothing is read.
        let forged = browser
            .post_multipart(&upload, &[("csrf_token", "nope"), ("file", &good)])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged:?}");
    }
);

web_test!(
    the_orders_page_exports_csv_prints_a_pick_list_and_a_packing_slip,
    |ctx| {
        let app = start(&ctx).await;
        let browser = Browser::signed_in(&app, &app.a.email).await;
        let id = app.a.store_id;
        let page = browser.get(&format!("/stores/{id}/orders")).await;
        assert!(page.html.contains("Pick list"), "{page:?}");
        let export = browser
            .get(&format!("/stores/{id}/export/orders.csv?state=ready"))
            .await;
        assert_eq!(export.status, StatusCode::OK, "{export:?}");
        assert!(
            export.html.starts_with("order,date,status,customer"),
            "{export:?}"
        );
        assert!(export.html.contains(",MUG-1,"), "{export:?}");
        let pick = browser
            .get(&format!("/stores/{id}/pick-list?state=ready"))
            .await;
        assert_eq!(pick.status, StatusCode::OK, "{pick:?}");
        assert!(
            pick.html.contains("MUG-1") && pick.html.contains("Bin / location"),
            "{pick:?}"
        );
        let order = format!("/stores/{id}/orders/{}", app.a.order_id);
        let shown = browser.get(&order).await;
        assert!(shown.html.contains("packing-slip"), "{shown:?}");
        // Money as people read it: the order's total with symbol, two decimals and code, not
        // the stored four-decimal string.
        let record = app
            .storage
            .get_order(&app.a.scope, OrderId::from_raw(app.a.order_id))
            .await
            .unwrap();
        let total = cenports::money::format_money(record.summary.total, &record.summary.currency);
        assert!(total.contains('.') && !total.contains(".0000"), "{total}");
        assert!(shown.html.contains(&total), "{total}: {shown:?}");
        assert!(
            !shown.html.contains(&format!(
                "{} {}",
                record.summary.total, record.summary.currency
            )),
            "{shown:?}"
        );
        let list = browser.get(&format!("/stores/{id}/orders")).await;
        assert!(list.html.contains(&total), "{total}: {list:?}");
        let slip = browser.get(&format!("{order}/packing-slip")).await;
        assert_eq!(slip.status, StatusCode::OK, "{slip:?}");
        assert!(
            slip.html
                .contains(&format!("Order #{}", app.a.order_number))
                && slip.html.contains("MUG-1")
                && slip.html.contains("Ship to"),
            "{slip:?}"
        );
        // Another merchant's store and order: 404.
        let other = browser
            .get(&format!(
                "/stores/{}/orders/{}/packing-slip",
                app.b.store_id, app.b.order_id
            ))
            .await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{other:?}");
        let other = browser
            .get(&format!("/stores/{}/export/orders.csv", app.b.store_id))
            .await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{other:?}");
    }
);

// ------------------------------------------------------------------ events

/// The signing secret a "subscription added" page shows.
fn shown_secret(page: &Page) -> String {
    let marker = "id=\"signing-secret\">";
    let start = page
        .html
        .find(marker)
        .unwrap_or_else(|| panic!("no secret in {page:?}"))
        + marker.len();
    let end = page.html[start..].find('<').unwrap() + start;
    page.html[start..end].to_owned()
}

/// A warehouse system's endpoint on 127.0.0.1 answering every POST with the status it holds
/// (500 until changed), counting the requests.
struct Endpoint {
    url: String,
    status: Arc<std::sync::atomic::AtomicU16>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn endpoint() -> Endpoint {
    use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
    let status = Arc::new(AtomicU16::new(500));
    let hits = Arc::new(AtomicUsize::new(0));
    let (answer, count) = (status.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (answer, count) = (answer.clone(), count.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Endpoint {
        url: format!("http://{addr}/hook"),
        status,
        hits,
        server,
    }
}

/// Runs the events dispatcher (as `serve` does) until `done` holds of the subscription's
/// deliveries, then stops it.
async fn dispatch_until(
    app: &App,
    subscription: SubscriptionId,
    done: impl Fn(&[DeliveryRecord]) -> bool,
) -> Vec<DeliveryRecord> {
    use cenports::events::dispatcher::{self, DispatcherConfig};
    use cenports::events::Destinations;
    let mut config = DispatcherConfig::new(
        format!("web-events-{}", random_suffix()),
        Destinations::default(),
    );
    config.idle_wait = Duration::from_millis(50);
    config.timeout = Duration::from_secs(5);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(dispatcher::run(
        app.storage.clone(),
        app.channels.secret_box().clone(),
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let deliveries = loop {
        let deliveries = app
            .storage
            .list_deliveries(None, Some(subscription), None, 100, None)
            .await
            .unwrap();
        if done(&deliveries) {
            break deliveries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dispatcher did not get there: {deliveries:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.send(()).unwrap();
    running.await.unwrap();
    deliveries
}

web_test!(
    a_merchant_adds_sees_and_removes_event_subscriptions,
    |ctx| {
        let app = start(&ctx).await;
        let alice = Browser::signed_in(&app, &app.a.email).await;
        let page = alice.get("/events").await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        assert!(page.html.contains("href=\"/events\""), "the nav links it");
        for t in EventType::ALL {
            assert!(
                page.html.contains(&format!("value=\"{}\"", t.as_str())),
                "a checkbox for {t}: {page:?}"
            );
        }
        assert!(page.html.contains("No subscription yet"), "{page:?}");
        let csrf = page.hidden("csrf_token");
        let url = "http://127.0.0.1:9/hook";
        let added = alice
            .post(
                "/events/subscriptions",
                &[
                    ("csrf_token", &csrf),
                    ("url", url),
                    ("events", "order.ready"),
                    ("events", "order.cancelled"),
                    ("store_id", ""),
                ],
            )
            .await;
        assert_eq!(added.status, StatusCode::OK, "{added:?}");
        assert_eq!(added.cache_control.as_deref(), Some("no-store"));
        let secret = shown_secret(&added);
        assert!(secret.starts_with("whsec_"), "{secret}");
        for words in [
            "not shown again",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "https://www.standardwebhooks.com/",
        ] {
            assert!(added.html.contains(words), "{words}: {added:?}");
        }
        let alice_id = app.a.scope.user_id();
        let recorded = app
            .storage
            .list_subscriptions(Some(alice_id))
            .await
            .unwrap();
        assert_eq!(recorded.len(), 1);
        let id = recorded[0].id.get();
        assert_eq!(recorded[0].url, url);
        assert_eq!(
            recorded[0].event_types,
            vec![EventType::OrderReady, EventType::OrderCancelled]
        );

        // The list shows the URL and what it gets, never the secret.
        let list = alice.get("/events").await;
        assert!(list.html.contains(url), "{list:?}");
        assert!(
            list.html.contains("order.ready, order.cancelled"),
            "{list:?}"
        );
        assert!(list.html.contains(">OK<"), "{list:?}");
        assert!(!list.html.contains(&secret) && !list.html.contains("whsec_"));
        let own = alice.get(&format!("/events/subscriptions/{id}")).await;
        assert_eq!(own.status, StatusCode::OK, "{own:?}");
        assert!(own.html.contains(url) && !own.html.contains("whsec_"));
        assert!(
            own.html
                .contains("No event has been sent to this subscription yet"),
            "{own:?}"
        );

        // A private address is refused with what to do; the form keeps what was typed.
        let refused = alice
            .post(
                "/events/subscriptions",
                &[
                    ("csrf_token", &csrf),
                    ("url", "https://10.0.0.1/x"),
                    ("events", "stock.pushed"),
                ],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused:?}"
        );
        assert!(
            refused.html.contains("The URL was refused")
                && refused.html.contains("events_allow_private_networks"),
            "{refused:?}"
        );
        assert!(refused.html.contains("role=\"alert\""), "{refused:?}");
        assert!(
            refused.html.contains("value=\"https://10.0.0.1/x\""),
            "the URL kept: {refused:?}"
        );
        assert!(
            refused.html.contains("value=\"stock.pushed\" checked"),
            "the type kept: {refused:?}"
        );
        assert!(!refused.html.contains("whsec_"));
        let unknown = alice
            .post(
                "/events/subscriptions",
                &[
                    ("csrf_token", &csrf),
                    ("url", "http://127.0.0.1:9/other"),
                    ("events", "order.shipped"),
                ],
            )
            .await;
        assert_eq!(
            unknown.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{unknown:?}"
        );
        assert!(unknown.html.contains("not an event type"), "{unknown:?}");
        let plain = alice
            .post(
                "/events/subscriptions",
                &[("csrf_token", &csrf), ("url", "http://wms.example.com/x")],
            )
            .await;
        assert_eq!(plain.status, StatusCode::UNPROCESSABLE_ENTITY, "{plain:?}");
        assert!(plain.html.contains("https://"), "{plain:?}");
        // Without the token: 403, nothing recorded.
        let forged = alice
            .post("/events/subscriptions", &[("url", "http://127.0.0.1:9/x")])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged:?}");
        assert_eq!(
            app.storage
                .list_subscriptions(Some(alice_id))
                .await
                .unwrap()
                .len(),
            1,
            "nothing recorded"
        );

        // Another merchant: the same 404 as a missing one, and nothing removed.
        let bob = Browser::signed_in(&app, &app.b.email).await;
        let missing = bob.get("/events/subscriptions/999999").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let other = bob.get(&format!("/events/subscriptions/{id}")).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{other:?}");
        assert_eq!(other.html, missing.html, "the same page");
        assert!(!other.html.contains(url));
        assert!(!bob.get("/events").await.html.contains(url));
        let bob_csrf = bob.csrf().await;
        let removal = bob
            .post(
                &format!("/events/subscriptions/{id}/remove"),
                &[("csrf_token", &bob_csrf)],
            )
            .await;
        assert_eq!(removal.status, StatusCode::NOT_FOUND, "{removal:?}");
        // Nor through a store of Alice's.
        let foreign_store = bob
            .post(
                "/events/subscriptions",
                &[
                    ("csrf_token", &bob_csrf),
                    ("url", "http://127.0.0.1:9/bob"),
                    ("store_id", &app.a.store_id.to_string()),
                ],
            )
            .await;
        assert_eq!(
            foreign_store.status,
            StatusCode::NOT_FOUND,
            "{foreign_store:?}"
        );
        assert_eq!(app.storage.list_subscriptions(None).await.unwrap().len(), 1);

        // The operator sees everyone's, with the owner.
        let operator = Browser::signed_in(&app, "ops@example.com").await;
        let all = operator.get("/events").await;
        assert!(
            all.html.contains(url) && all.html.contains(&format!("user {}", alice_id.get())),
            "{all:?}"
        );

        // Removing: without the token refused, with it gone.
        let forged = alice
            .post(&format!("/events/subscriptions/{id}/remove"), &[])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged:?}");
        let removed = alice
            .post(
                &format!("/events/subscriptions/{id}/remove"),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER, "{removed:?}");
        assert_eq!(removed.location.as_deref(), Some("/events?notice=removed"));
        let after = alice.get("/events?notice=removed").await;
        assert!(after.html.contains("was removed"), "{after:?}");
        assert!(!after.html.contains(url), "{after:?}");
        assert!(app
            .storage
            .list_subscriptions(None)
            .await
            .unwrap()
            .is_empty());
        let gone = alice.get(&format!("/events/subscriptions/{id}")).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
);

web_test!(
    a_subscription_page_lists_deliveries_and_resends_them,
    |ctx| {
        let app = start(&ctx).await;
        let endpoint = endpoint().await;
        let alice = Browser::signed_in(&app, &app.a.email).await;
        let csrf = alice.csrf().await;
        let store = app.a.store_id.to_string();
        let added = alice
            .post(
                "/events/subscriptions",
                &[
                    ("csrf_token", &csrf),
                    ("url", &endpoint.url),
                    ("events", "order.ready"),
                    ("store_id", &store),
                ],
            )
            .await;
        assert_eq!(added.status, StatusCode::OK, "{added:?}");
        let subscription = app
            .storage
            .list_subscriptions(Some(app.a.scope.user_id()))
            .await
            .unwrap()[0]
            .id;
        let page = format!("/events/subscriptions/{}", subscription.get());

        // A new ready order comes in from the store: an order.ready event.
        let at = Utc::now();
        let order = NewOrderRecord {
            remote_id: "9001".into(),
            status_code: "11".into(),
            status_name: "Awaiting Fulfillment".into(),
            fulfilment_state: FulfilmentState::Ready,
            customer_id: None,
            email: Some("pat@example.com".into()),
            currency: "USD".into(),
            subtotal: Default::default(),
            total: Default::default(),
            tax: Default::default(),
            payment_method: None,
            payment_status: None,
            date_created: at,
            date_modified: at,
            is_deleted: false,
            raw_json: "{}".into(),
            lines: vec![NewOrderLine {
                remote_id: "90011".into(),
                product_id: None,
                variant_id: None,
                sku: "MUG-1".into(),
                name: "Mug".into(),
                quantity: 1,
                quantity_shipped: 0,
                price: Default::default(),
                address_remote_id: None,
            }],
            addresses: Vec::new(),
        };
        app.storage
            .upsert_orders(&app.a.scope, &[order])
            .await
            .unwrap();
        let order_id = app
            .storage
            .find_order_by_remote_id(&app.a.scope, "9001")
            .await
            .unwrap()
            .unwrap()
            .summary
            .id
            .get();

        // The endpoint answers 500: the delivery stays pending, the subscription failing.
        let deliveries = dispatch_until(&app, subscription, |d| {
            d.len() == 1 && d[0].last_status == Some(500)
        })
        .await;
        let delivery = &deliveries[0];
        assert!(endpoint.hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        let shown = alice.get(&page).await;
        assert_eq!(shown.status, StatusCode::OK, "{shown:?}");
        for text in [
            delivery.id.to_string(),
            format!("evt_{}", delivery.event.id),
            "order.ready".to_owned(),
            format!(
                "href=\"/stores/{}/orders/{order_id}\">#9001<",
                app.a.store_id
            ),
            format!("<td>{}</td>", delivery.attempts),
            ">500<".to_owned(),
            "failing since".to_owned(),
            "pending".to_owned(),
            "next attempt".to_owned(),
            ">Resend<".to_owned(),
        ] {
            assert!(shown.html.contains(&text), "{text}: {shown:?}");
        }
        let events = alice.get("/events").await;
        assert!(events.html.contains("failing since"), "{events:?}");
        // The filter.
        let delivered = alice.get(&format!("{page}?state=delivered")).await;
        assert!(
            delivered.html.contains("No delivery in this state")
                && !delivered.html.contains(&delivery.id.to_string()),
            "{delivered:?}"
        );
        let pending = alice.get(&format!("{page}?state=pending")).await;
        assert!(
            pending.html.contains(&delivery.id.to_string()),
            "{pending:?}"
        );
        let older = alice
            .get(&format!("{page}?before={}", delivery.id.get()))
            .await;
        assert!(older.html.contains("No older deliveries"), "{older:?}");
        let bogus = alice.get(&format!("{page}?state=bogus")).await;
        assert_eq!(bogus.status, StatusCode::BAD_REQUEST, "{bogus:?}");

        // Another merchant cannot resend it.
        let resend = format!("/events/deliveries/{}/resend", delivery.id.get());
        let bob = Browser::signed_in(&app, &app.b.email).await;
        let bob_csrf = bob.csrf().await;
        let refused = bob.post(&resend, &[("csrf_token", &bob_csrf)]).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{refused:?}");
        let forged = alice.post(&resend, &[]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged:?}");

        // Resend: queued again at once, attempts back to 0, back on the subscription's page.
        let resent = alice
            .post(&resend, &[("csrf_token", &csrf), ("state", "pending")])
            .await;
        assert_eq!(resent.status, StatusCode::SEE_OTHER, "{resent:?}");
        assert_eq!(
            resent.location.as_deref(),
            Some(format!("{page}?state=pending&notice=resent#deliveries").as_str())
        );
        let requeued = &app
            .storage
            .list_deliveries(None, Some(subscription), None, 10, None)
            .await
            .unwrap()[0];
        assert_eq!(
            (requeued.state, requeued.attempts),
            (DeliveryState::Pending, 0)
        );
        let shown = alice.get(&format!("{page}?notice=resent")).await;
        assert!(shown.html.contains("Queued again"), "{shown:?}");
        assert!(shown.html.contains("<td>0</td>"), "{shown:?}");

        // The endpoint works again: delivered, the subscription OK, and "Send again".
        endpoint
            .status
            .store(204, std::sync::atomic::Ordering::SeqCst);
        dispatch_until(&app, subscription, |d| {
            d.len() == 1 && d[0].state == DeliveryState::Delivered
        })
        .await;
        let shown = alice.get(&format!("{page}?state=delivered")).await;
        for text in [">delivered<", ">204<", ">Send again<", ">OK<"] {
            assert!(shown.html.contains(text), "{text}: {shown:?}");
        }
        let again = alice.post(&resend, &[("csrf_token", &csrf)]).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{again:?}");
        let requeued = &app
            .storage
            .list_deliveries(None, Some(subscription), None, 10, None)
            .await
            .unwrap()[0];
        assert_eq!(
            (requeued.state, requeued.attempts),
            (DeliveryState::Pending, 0)
        );
    }
);
