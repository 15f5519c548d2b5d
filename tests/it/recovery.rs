//! No stuck orders: the real server binary, stopped at the worst moment.
//!
//! The server runs as its own process (`amazonpay2-server --demo`), the Amazon Pay simulator in
//! this test, and between them a proxy that can hold Amazon's answer to completeCheckoutSession
//! after Amazon has acted on it: the one moment where Amazon has authorized and the shop has not
//! yet written the order. The server is killed there (`kill -9`) or asked to stop (SIGTERM), and
//! what becomes of the order is read from its database and from Amazon.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::common::checkout::{CONFIRM_PAGE, VISA, completed_order};
use crate::common::instances::free_port;
use crate::common::sockets::{Browser, DataDir, RETRY, cookie_client};
use amazonpay2::core::Core;
use amazonpay2::server::config::Config;

const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_key_pkcs8.pem");

/// A proxy in front of Amazon's API that can hold the answer of a checkout completion.
struct Proxy {
    amazon: String,
    http: reqwest::Client,
    /// Hold completions' answers (after Amazon acted) while this is true.
    hold: watch::Sender<bool>,
    /// Told when a completion's answer is being held.
    held: Notify,
    /// Answer getCharge with 503 while this is true.
    charges_down: std::sync::atomic::AtomicBool,
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    if path.contains("/charges/") && proxy.charges_down.load(std::sync::atomic::Ordering::SeqCst) {
        return Response::builder().status(StatusCode::SERVICE_UNAVAILABLE).body(Body::empty()).unwrap();
    }
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut outgoing = proxy.http.request(parts.method.clone(), format!("{}{path}", proxy.amazon)).body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    let Ok(answer) = outgoing.send().await else {
        return Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::empty()).unwrap();
    };
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    if path.contains("/complete") {
        let mut hold = proxy.hold.subscribe();
        if *hold.borrow() {
            proxy.held.notify_one();
            let _ = hold.wait_for(|hold| !*hold).await;
        }
    }
    let mut response = Response::builder().status(status);
    if let Some(content_type) = content_type {
        response = response.header("content-type", content_type);
    }
    response.body(Body::from(bytes)).unwrap()
}

/// The simulator, the proxy in front of its API, and the settings of a demo server that calls
/// Amazon through the proxy.
struct World {
    shop: String,
    amazon: String,
    proxy: Arc<Proxy>,
    vars: Vec<(&'static str, String)>,
    config: Config,
    data: DataDir,
}

impl World {
    async fn start() -> Self {
        amazonpay2::core::install_crypto_provider();
        let data = DataDir::new("recovery");
        let shop_port = free_port();
        let simulator_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let amazon = format!("http://{}", simulator_listener.local_addr().unwrap());
        let vars = vec![
            ("AMAZONPAY2_LISTEN", format!("127.0.0.1:{shop_port}")),
            // The server's own simulator (the demo starts one) is not used: Amazon is this test's.
            ("AMAZONPAY2_SIMULATOR_LISTEN", format!("127.0.0.1:{}", free_port())),
            ("AMAZONPAY2_PRIVATE_KEY", KEY_FILE.to_owned()),
            ("AMAZONPAY2_DATA", data.0.display().to_string()),
            ("AMAZONPAY2_WWW", concat!(env!("CARGO_MANIFEST_DIR"), "/www").to_owned()),
            ("AMAZONPAY2_API_BASE", format!("http://{}", proxy_listener.local_addr().unwrap())),
            ("AMAZONPAY2_CHECKOUT_JS", format!("{amazon}/checkout.js")),
        ];
        let config =
            Config::from_vars(true, |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())).unwrap();
        let key = amazonpay2::server::load_key(&config).unwrap();
        let simulator = amazonpay2::demo::simulator(&config, &key);
        tokio::spawn(async move { axum::serve(simulator_listener, simulator.router()).await });
        let (hold, _) = watch::channel(false);
        let proxy = Arc::new(Proxy {
            amazon: amazon.clone(),
            http: reqwest::Client::new(),
            hold,
            held: Notify::new(),
            charges_down: Default::default(),
        });
        let router = Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(proxy_listener, router).await });
        Self { shop: format!("http://127.0.0.1:{shop_port}"), amazon, proxy, vars, config, data }
    }

    /// Starts the server binary and waits until it answers.
    async fn server(&self) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
        command.arg("--demo").env_clear().env("RUST_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::inherit());
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        let child = command.spawn().expect("the server binary starts");
        let started = Instant::now();
        while reqwest::get(format!("{}/api/amazonpay2/session", self.shop)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server(child)
    }

    fn browser(&self) -> Browser {
        let http = cookie_client().pool_max_idle_per_host(0).build().unwrap();
        Browser { shop: self.shop.clone(), amazon: self.amazon.clone(), http }
    }

    /// A guest with a mug in the cart, at the confirmation page, who placed the order and paid on
    /// Amazon's page: the result URL Amazon sends them to (not yet followed).
    async fn paid(&self, browser: &Browser) -> url::Url {
        browser.fill_cart(&[(1, 1)], 1).await;
        let flow = browser.open_amazon().await;
        let review = browser.consent(&flow, VISA).await;
        assert_eq!(browser.arrive(&review).await, CONFIRM_PAGE);
        browser.place_and_pay().await
    }

    /// What the database says of the shop's orders: (state, charge permission, charge).
    fn orders(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let connection = crate::common::sockets::sqlite_beside_server(&self.data.0);
        let mut statement = connection.prepare("SELECT state, charge_permission_id, charge_id FROM orders").unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// What Amazon holds for `charge_permission`: its charges' states.
    async fn amazon_charges(&self, charge_permission: &str) -> Value {
        let key = Arc::new(amazonpay2::server::load_key(&self.config).unwrap());
        let db = amazonpay2::server::open_database(&self.config).await.unwrap();
        let core = Core::new(self.config.core_settings(), key, &self.config.api_base, db).unwrap().with_retry(RETRY);
        let permission: Value = core
            .amazon()
            .call(reqwest::Method::GET, &format!("chargePermissions/{charge_permission}"), None::<&()>)
            .await
            .unwrap();
        permission["limits"].clone()
    }
}

/// The server process; killed when dropped.
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    fn terminate(&self) {
        let pid = self.0.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
    }

    fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < within, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_between_amazons_completion_and_the_order_settles_it_after_restart() {
    let world = World::start().await;
    let mut server = world.server().await;
    let browser = world.browser();
    let result = world.paid(&browser).await;
    world.proxy.hold.send_replace(true);
    let held = world.proxy.held.notified();
    let returning = tokio::spawn({
        let http = browser.http.clone();
        async move { http.get(result).send().await }
    });
    held.await; // Amazon has completed the checkout and authorized; the shop has written nothing.
    server.kill();
    assert!(returning.await.unwrap().is_err(), "the shopper's request died with the server");
    assert_eq!(world.orders()[0].0, "completing", "the order was claimed, and left");
    world.proxy.hold.send_replace(false);

    let _restarted = world.server().await;
    let started = Instant::now();
    while world.orders()[0].0 == "completing" {
        assert!(started.elapsed() < Duration::from_secs(30), "the reconciler settles it at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let orders = world.orders();
    assert_eq!(orders.len(), 1, "exactly one order");
    let (state, permission, charge) = &orders[0];
    assert_eq!(state, "authorized");
    assert!(charge.as_deref().is_some_and(|c| c.contains("-C")), "{charge:?}");
    let limits = world.amazon_charges(permission.as_deref().unwrap()).await;
    assert_eq!(limits["amountBalance"]["amount"], "0", "exactly one authorization at Amazon: {limits}");
    assert_eq!(browser.cart().await["lines"], json!([]), "the reconciled order emptied the cart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_completion_in_flight_finish_before_the_server_exits() {
    let world = World::start().await;
    let mut server = world.server().await;
    let browser = world.browser();
    let result = world.paid(&browser).await;
    world.proxy.hold.send_replace(true);
    let held = world.proxy.held.notified();
    let returning = tokio::spawn({
        let http = browser.http.clone();
        async move { http.get(result).send().await }
    });
    held.await;
    server.terminate();
    // The stopping server takes no new work (its listener is closed) but finishes this request.
    let address = world.shop.trim_start_matches("http://").to_owned();
    let closed = async {
        while tokio::net::TcpStream::connect(&address).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(tokio::time::timeout(Duration::from_secs(30), closed).await.is_ok(), "the server still takes connections");
    world.proxy.hold.send_replace(false);
    let answer = returning.await.unwrap().expect("the shopper gets an answer");
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    completed_order(&location, "order_placed");
    assert!(server.wait(Duration::from_secs(30)).success(), "a clean exit");
    assert_eq!(world.orders()[0].0, "authorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_that_cannot_be_read_is_never_taken_for_authorized_and_is_settled_later() {
    let world = World::start().await;
    let _server = world.server().await;
    let browser = world.browser();
    browser.become_member().await;
    let result = world.paid(&browser).await;
    world.proxy.charges_down.store(true, std::sync::atomic::Ordering::SeqCst);
    let landing = browser.arrive(&result).await;
    completed_order(&landing, "payment_pending");
    assert_eq!(world.orders()[0].0, "unknown", "completed at Amazon, its charge unread: to reconcile");
    assert_eq!(browser.history().await["orders"][0]["creditStatus"], "確認中", "not 仮売上");
    world.proxy.charges_down.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut command = Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
    command.args(["--demo", "reconcile"]).env_clear().env("RUST_LOG", "warn");
    for (name, value) in &world.vars {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 settled"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(world.orders()[0].0, "authorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_runs_to_its_end_when_the_shopper_goes_away() {
    let world = World::start().await;
    let _server = world.server().await;
    let browser = world.browser();
    let result = world.paid(&browser).await;
    world.proxy.hold.send_replace(true);
    let held = world.proxy.held.notified();
    let returning = tokio::spawn({
        let http = browser.http.clone();
        async move { http.get(result).send().await }
    });
    held.await;
    returning.abort(); // the shopper closed the tab: the connection is gone
    let _ = returning.await;
    world.proxy.hold.send_replace(false);
    let started = Instant::now();
    while world.orders()[0].0 != "authorized" {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the completion finished on its own: {:?}",
            world.orders()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(browser.cart().await["lines"], json!([]));
}
