//! A tiny scripted HTTP/1.1 server on a loopback port, for transport-level tests of the
//! client (rate limits, retries, timeouts, truncated bodies). Each connection serves one
//! request and closes, which keeps the server trivial and lets it misbehave on purpose.

use std::sync::Arc;
use std::time::Duration;

use bigcommerce_client::{Client, ClientConfig};
use parking_lot::Mutex;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

pub const STORE_HASH: &str = "abc123";
pub const TOKEN: &str = "test-token-not-for-logs";

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path without the query, e.g. `/stores/abc123/v2/orders`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The path below `/stores/{hash}`.
    pub fn endpoint(&self) -> &str {
        self.path
            .strip_prefix(&format!("/stores/{STORE_HASH}"))
            .unwrap_or(&self.path)
    }
}

/// What the server does with a request.
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Says nothing for this long, then closes.
    Hang(Duration),
    /// Declares a longer body than it sends, then closes.
    Truncated { status: u16, body: String },
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn no_content() -> Self {
        Reply::json(204, "")
    }

    pub fn with_header(self, name: &str, value: impl ToString) -> Self {
        match self {
            Reply::Full {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.to_owned(), value.to_string()));
                Reply::Full {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }
}

pub type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

pub struct TestServer {
    pub url: Url,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let _ = serve(stream, handler, recorded).await;
                });
            }
        });
        Self { url, requests }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().len()
    }

    /// A config pointing at this server with fast retries.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(STORE_HASH, SecretString::from(TOKEN), "client-id");
        config.api_base_url = self.url.clone();
        config.timeout = Duration::from_secs(2);
        config.retry_base_delay = Duration::from_millis(10);
        config.max_retry_delay = Duration::from_secs(2);
        config
    }

    pub fn client(&self) -> Client {
        Client::new(self.config()).unwrap()
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: Handler,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let header_end = loop {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(position) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break position;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let parsed = Url::parse(&format!("http://x{target}")).unwrap();
    let request = Recorded {
        method,
        path: parsed.path().to_owned(),
        query: parsed.query_pairs().into_owned().collect(),
        headers,
        body,
    };
    recorded.lock().push(request.clone());

    match handler(&request) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            stream.write_all(response.as_bytes()).await?;
        }
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
        }
        Reply::Truncated { status, body } => {
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len() + 1000
            );
            stream.write_all(response.as_bytes()).await?;
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

/// A store that enforces a fixed-window quota like BigCommerce and sends its headers.
pub struct QuotaStore {
    pub quota: u64,
    pub window: Duration,
    state: Mutex<(tokio::time::Instant, u64)>,
    pub rejected: Mutex<u64>,
}

impl QuotaStore {
    pub fn new(quota: u64, window: Duration) -> Arc<Self> {
        Arc::new(Self {
            quota,
            window,
            state: Mutex::new((tokio::time::Instant::now(), 0)),
            rejected: Mutex::new(0),
        })
    }

    /// Counts one request and answers with `body` or a 429, with rate-limit headers.
    pub fn answer(&self, body: &str) -> Reply {
        let now = tokio::time::Instant::now();
        let mut state = self.state.lock();
        while now.duration_since(state.0) >= self.window {
            state.0 += self.window;
            state.1 = 0;
        }
        state.1 += 1;
        let reset_ms = (self.window - now.duration_since(state.0)).as_millis() as u64;
        let (status, left, body) = if state.1 > self.quota {
            *self.rejected.lock() += 1;
            (429, 0, String::new())
        } else {
            (200, self.quota - state.1, body.to_owned())
        };
        Reply::json(status, body)
            .with_header("X-Rate-Limit-Requests-Left", left)
            .with_header("X-Rate-Limit-Requests-Quota", self.quota)
            .with_header("X-Rate-Limit-Time-Reset-Ms", reset_ms)
            .with_header("X-Rate-Limit-Time-Window-Ms", self.window.as_millis())
    }

    pub fn rejected(&self) -> u64 {
        *self.rejected.lock()
    }
}
