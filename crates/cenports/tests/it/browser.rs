//! The dashboard in a real browser: headless Chromium (Debian's `chromium`), driven through
//! `chromedriver` with WebDriver (`fantoccini`), against the real `cenports serve` binary on a
//! SQLite file and a sandbox store over loopback.
//!
//! One walk, as a new operator and a merchant take it:
//! 1. `serve` starts on an empty database and prints its first-run setup link; the browser
//!    opens it and creates the operator, who is signed in at once.
//! 2. The operator adds a merchant account (`cenports user add`, as the docs say); the browser
//!    signs out and signs in as the merchant through `/login`.
//! 3. The merchant connects the store with an access token that lacks Orders: Modify and sees
//!    BigCommerce's exact fix; nothing is saved. Then with the merchant guide's credentials.
//! 4. The store's orders arrive: the orders page (left open, never reloaded by the test) fills
//!    in by itself, and an order placed in the store later shows up too.
//! 5. The merchant records a shipment on an order's page; the sandbox store holds it, with the
//!    carrier and tracking number typed in the browser.
//!
//! With `CENPORTS_SCREENSHOTS=DIR` it saves the main pages as PNGs there (the ones in
//! `docs/screenshots/` come from `CENPORTS_SCREENSHOTS=docs/screenshots cargo test -p cenports
//! --test it browser::`).
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages
//! (`.ci/run` installs them when missing; `CENPORTS_CHROMIUM` / `CENPORTS_CHROMEDRIVER` point
//! elsewhere). Without them the test fails under CI (`CI` set) and skips with a notice
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{self, TempDir};
use bigcommerce_sandbox::{Sandbox, SandboxConfig, StoreSpec};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const OPERATOR: &str = "ops@warehouse.example";
const MERCHANT: &str = "merchant@shop.example";
const PASSWORD: &str = "correct horse battery staple";
/// How long the browser waits for something to appear.
const PATIENCE: Duration = Duration::from_secs(30);

/// Chromium and chromedriver, or `None` (with the notice printed) when they are missing
/// outside CI.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var_os("CENPORTS_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let driver = std::env::var_os("CENPORTS_CHROMEDRIVER")
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    let message = format!(
        "the real-browser test needs {} and {} (Debian: apt-get install chromium \
         chromium-driver; .ci/run installs them)",
        chromium.display(),
        driver.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("NOTICE: skipped: {message}");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `chromedriver` on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start(binary: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = reqwest::get(format!("{url}/status"))
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "chromedriver did not answer on {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { child, url }
    }

    /// A new headless Chromium window (a fresh profile, no network beyond loopback needed).
    async fn browser(&self, chromium: &Path, profile: &Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("chromedriver opens a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The browser, with the hub's address and where screenshots go.
struct Page {
    client: Client,
    base: String,
    screenshots: Option<PathBuf>,
}

impl Page {
    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the submit button of the form holding `css` and waits for the next page.
    async fn submit(&self, css: &str) {
        let form = self.find(css).await;
        let before = self.client.find(Locator::Css("html")).await.unwrap();
        form.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_new_page(before, css).await;
    }

    /// Waits until the document `before` was taken from has been replaced (it goes stale once
    /// the new one is loaded).
    async fn wait_for_new_page(&self, before: Element, what: &str) {
        let started = Instant::now();
        while before.tag_name().await.is_ok() {
            assert!(started.elapsed() < PATIENCE, "{what}: no new page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self) -> String {
        self.find("main").await.text().await.unwrap()
    }

    /// Waits until the page's main text satisfies `check` (the page updates itself, or
    /// `reload` reloads it between looks).
    async fn wait_for_text(&self, what: &str, reload: bool, check: impl Fn(&str) -> bool) {
        let started = Instant::now();
        loop {
            let text = self.text().await;
            if check(&text) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{what}: not on {} after {PATIENCE:?}:\n{text}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
            if reload {
                self.client.refresh().await.unwrap();
            }
        }
    }

    async fn screenshot(&self, name: &str) {
        if let Some(dir) = &self.screenshots {
            // The whole page: the window as tall as the document, then back.
            let height = self
                .client
                .execute("return document.documentElement.scrollHeight;", vec![])
                .await
                .unwrap()
                .as_u64()
                .unwrap_or(900)
                .clamp(600, 1800) as u32
                + 150;
            self.client.set_window_size(1280, height).await.unwrap();
            std::fs::create_dir_all(dir).unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
            self.client.set_window_size(1280, 900).await.unwrap();
        }
    }
}

/// `cenports serve` on a SQLite file, with its stdout read line by line.
struct Hub {
    child: Child,
    vars: Vec<(&'static str, String)>,
    base: String,
    setup_url: String,
}

impl Hub {
    async fn start(dir: &TempDir, sandbox: &Sandbox) -> Hub {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let vars = vec![
            (
                "CENPORTS_DATABASE_URL",
                format!("sqlite://{}", dir.0.join("hub.db").display()),
            ),
            (
                "CENPORTS_BIGCOMMERCE_API_URL",
                sandbox.base_url().to_owned(),
            ),
            (
                "CENPORTS_KEY_FILE",
                dir.0.join("hub.key").display().to_string(),
            ),
            ("CENPORTS_PUBLIC_URL", base.clone()),
            ("CENPORTS_LOG", "warn".to_owned()),
        ];
        let mut child = command(&vars)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--interval", "5s"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("cenports serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = String::new();
        let setup_url = loop {
            let line = tokio::time::timeout(PATIENCE, lines.next_line())
                .await
                .expect("serve prints its banner")
                .unwrap()
                .unwrap_or_else(|| panic!("serve stopped:\n{printed}"));
            printed.push_str(&line);
            printed.push('\n');
            if let Some(at) = line.find(&format!("{base}/setup?token=")) {
                let url = line[at..].split_whitespace().next().unwrap();
                break url.to_owned();
            }
        };
        // Keep draining stdout so the hub never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Hub {
            child,
            vars,
            base,
            setup_url,
        }
    }

    /// Runs a `cenports` command against the same database and key.
    async fn run(&self, args: &[&str], stdin: &str) -> String {
        use tokio::io::AsyncWriteExt;
        let mut child = command(&self.vars)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
            .await
            .expect("the command finishes")
            .unwrap();
        let out = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "cenports {args:?}: {out}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn command(vars: &[(&'static str, String)]) -> Command {
    let mut command = Command::from(common::cenports_command());
    command.kill_on_drop(true);
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_connects_watches_orders_arrive_and_ships_one_in_chromium() {
    let Some((chromium, chromedriver)) = browser_binaries() else {
        return;
    };
    let sandbox = Sandbox::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        SandboxConfig::default(),
    )
    .await
    .unwrap();
    let store = sandbox.create_store(StoreSpec {
        seed: 41,
        orders: 120,
        products: 12,
        ..StoreSpec::default()
    });
    let orders_in_store = sandbox
        // Archived (deleted) orders too: the hub imports them, marked.
        .with_store(&store.hash, |data, _| data.orders.len())
        .unwrap();
    let dir = TempDir::new("browser");
    std::fs::create_dir_all(&dir.0).unwrap();
    let hub = Hub::start(&dir, &sandbox).await;
    let driver = Driver::start(&chromedriver).await;
    let page = Page {
        client: driver.browser(&chromium, &dir.0.join("profile")).await,
        base: hub.base.clone(),
        screenshots: std::env::var_os("CENPORTS_SCREENSHOTS").map(PathBuf::from),
    };

    // 1. First run: the setup link serve printed creates the operator, signed in at once.
    page.open("/login").await;
    assert!(page.text().await.contains("No account can sign in yet"));
    page.client.goto(&hub.setup_url).await.unwrap();
    page.fill("#email", OPERATOR).await;
    page.fill("#password", PASSWORD).await;
    page.fill("#password_again", PASSWORD).await;
    page.screenshot("setup").await;
    page.submit("form.card").await;
    assert_eq!(page.path().await, "/stores");
    assert!(page
        .find("header")
        .await
        .text()
        .await
        .unwrap()
        .contains(&format!("{OPERATOR} (operator)")));

    // 2. The operator adds the merchant; the browser signs out and in as the merchant.
    let added = hub
        .run(
            &[
                "user",
                "add",
                "--email",
                MERCHANT,
                "--role",
                "merchant",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert!(added.contains(MERCHANT), "{added}");
    page.submit("header form").await;
    assert_eq!(page.path().await, "/login");
    page.fill("#email", MERCHANT).await;
    page.fill("#password", "not the password").await;
    page.submit("form.card").await;
    assert!(page
        .text()
        .await
        .to_lowercase()
        .contains("the email or the password is wrong"));
    // This time with the keyboard only: type, Tab to the password, Enter.
    page.fill("#email", MERCHANT).await;
    page.screenshot("login").await;
    let before = page.client.find(Locator::Css("html")).await.unwrap();
    let (tab, enter): (char, char) = (Key::Tab.into(), Key::Enter.into());
    page.find("#email")
        .await
        .send_keys(&format!("{tab}{PASSWORD}{enter}"))
        .await
        .unwrap();
    page.wait_for_new_page(before, "sign-in by keyboard").await;
    assert_eq!(page.path().await, "/stores");
    // The first Tab on a page reaches the skip link, which leads to the content.
    page.client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(&tab.to_string())
        .await
        .unwrap();
    let focused = page.client.active_element().await.unwrap();
    assert_eq!(focused.text().await.unwrap(), "Skip to content");
    assert_eq!(
        focused.attr("href").await.unwrap().as_deref(),
        Some("#main")
    );

    // 3. Connect with a token lacking Orders: Modify: the exact fix, nothing saved.
    let store_url = format!("https://store-{}.mybigcommerce.com", store.hash);
    let connect = |profile: &'static str| {
        let account = store.account(profile).unwrap().clone();
        let page = &page;
        let store_url = store_url.clone();
        async move {
            page.open("/connect").await;
            page.fill("#store_url", &store_url).await;
            page.fill("#client_id", &account.client_id).await;
            page.fill("#client_secret", &account.client_secret).await;
            page.fill("#access_token", &account.access_token).await;
            page.submit("form.card").await;
        }
    };
    connect("missing-orders-modify").await;
    let refused = page.text().await;
    assert!(
        refused.contains(
            "The access token lacks Orders: Modify (store_v2_orders); edit the API account in \
             BigCommerce"
        ),
        "{refused}"
    );
    assert!(refused.contains("missing"), "the scope table: {refused}");
    page.screenshot("connect-missing-scope").await;
    page.open("/stores").await;
    assert!(
        !page.text().await.contains(&store.hash),
        "nothing saved after a failed check"
    );

    connect("merchant-guide").await;
    let store_page = page.path().await;
    assert!(
        store_page.starts_with("/stores/") && store_page.ends_with("?notice=connected"),
        "{store_page}"
    );
    assert!(page.text().await.contains("The first import has started"));
    let store_id = store_page
        .trim_start_matches("/stores/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // 4. The orders arrive: the list, left open, updates itself.
    page.open(&format!("/stores/{store_id}/orders")).await;
    let expected = format!("{orders_in_store} orders in the hub");
    page.wait_for_text("every order imported", false, |text| {
        text.contains(&expected)
    })
    .await;
    page.screenshot("orders").await;
    // An order placed in the store afterwards arrives by webhook.
    let new_order = common::place_order_in_stock(&sandbox, &store.hash, 2);
    let expected = format!("{} orders in the hub", orders_in_store + 1);
    page.wait_for_text("the new order", false, |text| text.contains(&expected))
        .await;

    page.open(&format!("/stores/{store_id}")).await;
    page.screenshot("store").await;
    page.open("/stores").await;
    page.screenshot("stores").await;
    if let Some(dir) = &page.screenshots {
        // The orders page as a phone shows it (390 px wide): one column, the table scrolls
        // inside its box.
        page.open(&format!("/stores/{store_id}/orders")).await;
        page.client.set_window_size(390, 844).await.unwrap();
        let png = page.client.screenshot().await.unwrap();
        std::fs::write(dir.join("orders-phone.png"), png).unwrap();
        page.client.set_window_size(1280, 900).await.unwrap();
    }

    // 5. Find the new order by its number and record a shipment from its page.
    page.open(&format!("/stores/{store_id}/orders")).await;
    page.fill("#q", &new_order.to_string()).await;
    page.submit("form.filters").await;
    page.client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::LinkText(&format!("#{new_order}")))
        .await
        .expect("the new order's link")
        .click()
        .await
        .unwrap();
    page.find("#tracking_number").await;
    page.client
        .find(Locator::Css("#carrier option[value=\"canada-post\"]"))
        .await
        .expect("Canada Post is offered")
        .click()
        .await
        .unwrap();
    page.fill("#tracking_number", "7023210039414604").await;
    page.screenshot("order").await;
    page.submit("form.card").await;
    page.wait_for_text("the shipment written to the store", true, |text| {
        text.contains("written to the store as BigCommerce shipment")
    })
    .await;
    page.screenshot("order-shipped").await;
    let shipments = sandbox
        .with_store(&store.hash, |data, _| {
            data.orders[&new_order].shipments.clone()
        })
        .unwrap();
    assert_eq!(shipments.len(), 1, "{shipments:?}");
    assert_eq!(shipments[0].tracking_number, "7023210039414604");
    assert_eq!(shipments[0].shipping_provider, "canadapost");
    assert_eq!(
        shipments[0].items.iter().map(|i| i.quantity).sum::<u32>(),
        2
    );

    page.open(&format!("/stores/{store_id}/stock")).await;
    page.screenshot("stock").await;
    page.client.close().await.unwrap();
}
