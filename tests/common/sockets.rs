//! The shop server and the Amazon Pay simulator each on their own loopback port (two origins, as
//! in production), the shop's database in a folder of its own, and cookie-keeping clients for
//! the browsers, which do not follow redirects.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::core::{AmazonPayClient, Core, Retry};
use amazonpay2::server::config::Config;
use amazonpay2::server::shops::Shops;
use amazonpay2::server::{self, AppState, app};
use amazonpay2::storage::Database;

/// Short waits between retries, so that failing calls cost milliseconds.
pub const RETRY: Retry =
    Retry { attempts: 3, first_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50) };

/// A data folder for one test (`amazonpay2-{name}-{pid}-{n}` in the temporary folder), removed
/// when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!("amazonpay2-{name}-{}-{n}", std::process::id())))
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A connection of the test's own to the SQLite database in `data_dir`, as an operator's tool
/// beside the running server would open it: it waits for the server's locks (the server writes
/// whenever it likes) instead of failing at once with "database is locked".
/// Runs `work` on a connection of its own to the SQLite database in `data_dir`, as a command
/// beside the server would, on a blocking thread: the server may be in this process, and its
/// transactions need the async workers this would otherwise hold while waiting for their lock.
pub async fn beside_server<T: Send + 'static>(
    data_dir: &std::path::Path,
    work: impl FnOnce(&rusqlite::Connection) -> T + Send + 'static,
) -> T {
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || work(&sqlite_beside_server(&data_dir))).await.unwrap()
}

pub fn sqlite_beside_server(data_dir: &std::path::Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(data_dir.join("amazonpay2.sqlite3")).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    connection
}

/// The shop's signed Amazon Pay client, with short retry waits, paced as the shop's own.
pub fn shop_client(config: &Config, key: &Arc<ShopKey>) -> AmazonPayClient {
    let client = AmazonPayClient::new(&config.api_base, &config.amazon, key.clone()).unwrap().with_retry(RETRY);
    if config.core_settings().paced { client } else { client.without_pacing() }
}

/// The server's state on its database (the demo's catalogue in it for a demo configuration),
/// its Amazon client with short retry waits.
pub async fn shop_state(config: &Config, key: &Arc<ShopKey>) -> Arc<AppState> {
    shop_state_adapting(config, key, |core| core).await
}

/// [`shop_state`] with its core adapted by `adapt` (a test's random source, say).
pub async fn shop_state_adapting(
    config: &Config,
    key: &Arc<ShopKey>,
    adapt: impl FnOnce(Core) -> Core,
) -> Arc<AppState> {
    let db = server::open_database(config).await.expect("the database opens");
    if config.demo.is_some() {
        let (products, shipping) = amazonpay2::demo::catalogue();
        db.seed_catalogue(&products, &shipping).await.expect("the catalogue is seeded");
    }
    let core = Core::new(config.core_settings(), key.clone(), &config.api_base, db.clone()).unwrap().with_retry(RETRY);
    server::assemble(config.clone(), adapt(core), db).await.expect("the server starts")
}

/// The routes a configuration serves beside the API: the demo shop's, in a demo.
pub fn extra_api(config: &Config) -> axum::Router {
    if config.demo.is_some() { amazonpay2::demo::routes() } else { axum::Router::new() }
}

/// One run of the shop server on its database.
pub struct ShopServer {
    pub db: Database,
    pub state: Arc<AppState>,
    /// The deployment's shops as this server knows them (`refresh` after changing them).
    pub shops: Arc<Shops>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ShopServer {
    pub async fn start(config: &Config, key: &Arc<ShopKey>, listener: TcpListener) -> Self {
        Self::start_adapting(config, key, listener, |core| core).await
    }

    /// [`Self::start`] with the core adapted by `adapt`.
    pub async fn start_adapting(
        config: &Config,
        key: &Arc<ShopKey>,
        listener: TcpListener,
        adapt: impl FnOnce(Core) -> Core,
    ) -> Self {
        let state = shop_state_adapting(config, key, adapt).await;
        let db = state.db.clone();
        let shops = Arc::new(Shops::new(state.clone()).await.expect("the shops are read"));
        let router = app(shops.clone(), extra_api(config));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the shop serves");
        });
        Self { db, state, shops, stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("the shop stops cleanly");
    }
}

/// The shop's demo configuration for two loopback ports, and Amazon (the simulator, trusting
/// the shop's key) already serving on the second; the shop's port is bound, not yet served.
pub struct TwoOrigins {
    pub shop: String,
    pub amazon: String,
    pub config: Config,
    pub key: Arc<ShopKey>,
    pub shop_listener: TcpListener,
    pub data: DataDir,
}

impl TwoOrigins {
    /// The demo configuration with `vars` added (or replaced), the shop's key as `key` loads it.
    pub async fn start(data: DataDir, vars: Vec<(&'static str, String)>, key: impl FnOnce(&Config) -> ShopKey) -> Self {
        Self::start_wrapped(data, vars, key, |router| router).await
    }

    /// [`Self::start`] with the simulator's routes wrapped by `wrap` (a test's hold on Amazon's
    /// answers).
    pub async fn start_wrapped(
        data: DataDir,
        vars: Vec<(&'static str, String)>,
        key: impl FnOnce(&Config) -> ShopKey,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Self {
        let shop_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let amazon_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let amazon_addr = amazon_listener.local_addr().unwrap();
        let mut all = HashMap::from([
            ("AMAZONPAY2_LISTEN", shop_listener.local_addr().unwrap().to_string()),
            ("AMAZONPAY2_SIMULATOR_LISTEN", amazon_addr.to_string()),
            ("AMAZONPAY2_DATA", data.0.display().to_string()),
            ("AMAZONPAY2_WWW", concat!(env!("CARGO_MANIFEST_DIR"), "/www").to_owned()),
        ]);
        all.extend(vars);
        let config = Config::from_vars(true, |name| all.get(name).cloned()).expect("a valid demo config");
        let key = Arc::new(key(&config));
        let simulator = amazonpay2::demo::simulator(&config, &key);
        let router = wrap(simulator.router());
        tokio::spawn(async move { axum::serve(amazon_listener, router).await });
        Self {
            shop: config.shop_origin.as_str().to_owned(),
            amazon: format!("http://{amazon_addr}"),
            config,
            key,
            shop_listener,
            data,
        }
    }
}

/// An answer of the shop's JSON API (a demo endpoint's, say).
pub struct Answer {
    pub status: u16,
    pub json: Value,
}

impl Answer {
    pub async fn read(reply: reqwest::Response) -> Self {
        let status = reply.status().as_u16();
        let json = reply.json().await.unwrap_or(Value::Null);
        Self { status, json }
    }

    /// The JSON of a success.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "{}", self.json);
        self.json
    }

    /// The `redirect` of a success.
    #[track_caller]
    pub fn redirect(&self) -> String {
        assert_eq!(self.status, 200, "{}", self.json);
        self.json["redirect"].as_str().expect("redirect").to_owned()
    }

    /// The error code of a refusal with `status`.
    #[track_caller]
    pub fn error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.json);
        self.json["error"]["code"].as_str().expect("error.code").to_owned()
    }
}

/// One browser: its own cookies, the shop's pages as its origin (each test file adds what its
/// shoppers do).
pub struct Browser {
    pub shop: String,
    pub amazon: String,
    pub http: reqwest::Client,
}

impl Browser {
    /// The address of the shop's API `path` (`/api/amazonpay2{path}`).
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/amazonpay2{path}", self.shop)
    }

    /// On the shop page `page`, what the widget does when the shopper clicks the Amazon button of
    /// the `kind` block: the page's one request (the button's display options and the CSRF
    /// token), then the signed payload for the click. Answers the options and the click's answer
    /// (status, and the `initCheckout` argument or the error).
    pub async fn click(&self, page: &str, kind: &str) -> (Value, Answer) {
        let referer = format!("{}{page}", self.shop);
        let block = serde_json::json!({ "kind": kind, "placement": "Checkout", "buttonColor": "Gold" });
        let reply = self
            .http
            .post(self.api("/buttons"))
            .header(reqwest::header::ORIGIN, &self.shop)
            .header(reqwest::header::REFERER, &referer)
            .json(&serde_json::json!({ "blocks": [block] }))
            .send()
            .await
            .unwrap();
        let page_answer = Answer::read(reply).await.ok();
        let token = page_answer["csrfToken"].as_str().expect("csrfToken").to_owned();
        let reply = self
            .http
            .post(self.api("/buttons/sign"))
            .header(reqwest::header::ORIGIN, &self.shop)
            .header(reqwest::header::REFERER, &referer)
            .header("x-amazonpay2-csrf", token)
            .json(&serde_json::json!({ "kind": kind }))
            .send()
            .await
            .unwrap();
        (page_answer["blocks"][0]["options"].clone(), Answer::read(reply).await)
    }

    /// Follows Amazon's redirect back to the shop; returns the shop page it sends the browser to.
    pub async fn arrive(&self, url: &url::Url) -> String {
        let reply = self.http.get(url.clone()).send().await.unwrap();
        assert!(reply.status().is_redirection(), "the return answers a redirect: {}", reply.status());
        reply.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned()
    }

    /// [`Self::click`] for a button that must sign: the options and the signed config.
    pub async fn signed_button(&self, page: &str, kind: &str) -> (Value, Value) {
        let (options, answer) = self.click(page, kind).await;
        let answer = answer.ok();
        let config = match answer["productType"].as_str() {
            Some("PayAndShip") => answer["createCheckoutSessionConfig"].clone(),
            Some("SignIn") => answer["signInConfig"].clone(),
            other => panic!("no signed button for {kind}: {other:?} {answer}"),
        };
        (options, config)
    }
}

/// A test control of the simulator at `amazon` (`clock`, `cards`, `faults`).
pub async fn simulator_control(amazon: &str, control: &str, body: Value) {
    simulator_control_answer(amazon, control, body).await;
}

/// A test control of the simulator at `amazon`, and its answer (Seller Central's refund, say).
pub async fn simulator_control_answer(amazon: &str, control: &str, body: Value) -> Value {
    let url = format!("{amazon}/__simulator/{control}");
    let reply = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    assert!(reply.status().is_success(), "{control}: {}", reply.status());
    reply.json().await.unwrap_or(Value::Null)
}

/// A browser's HTTP client: it keeps its cookies and does not follow redirects.
pub fn cookie_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none())
}

/// The form checkout.js posts to Amazon's `/checkout/initiate` for a button of `product_type`
/// (`PayAndShip`, `SignIn`): the block view's `options` and its signed `config`.
pub fn button_form(options: &Value, config: &Value, product_type: &str) -> [(&'static str, String); 7] {
    let field = |value: &Value| value.as_str().unwrap().to_owned();
    [
        ("merchantId", field(&options["merchantId"])),
        ("payloadJSON", field(&config["payloadJSON"])),
        ("signature", field(&config["signature"])),
        ("publicKeyId", field(&config["publicKeyId"])),
        ("algorithm", field(&config["algorithm"])),
        ("productType", product_type.to_owned()),
        ("environment", "SANDBOX".to_owned()),
    ]
}
