//! Several real server processes on one database, one Amazon Pay simulator process for all of
//! them, and a round-robin load balancer in front of the shops: what a shop outgrowing one
//! process runs.
//!
//! The balancer forwards each request to the next instance in turn (keeping the Host header, so
//! every instance sees the shop origin), or to the one a request names in `x-test-instance`.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tokio::net::TcpListener;

use super::databases::Target;
use crate::common::sockets::{Browser, DataDir, cookie_client};

/// The test key: every instance signs with it, and the simulator trusts it.
pub const KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_key_pkcs8.pem");

/// Names one instance for a request through the balancer.
pub const INSTANCE_HEADER: &str = "x-test-instance";

/// A loopback port free right now, for a child process to bind.
///
/// Taken below Linux's ephemeral range (32768–60999), never from `bind(0)`: a port that `bind(0)`
/// handed out and this function released could be handed out again to another test's listener
/// before the child binds it ("Address already in use"). Each test process walks its own stretch
/// of the range, so two test binaries at once do not meet either.
pub fn free_port() -> u16 {
    use std::sync::atomic::AtomicU16;
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % 40) as u16 * 300;
    loop {
        let port = FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A process of the server binary; killed when dropped.
pub struct Process(pub Child);

impl Process {
    /// Starts `amazonpay2-server --demo ARGS` with exactly `vars` as its environment.
    pub fn spawn(args: &[&str], vars: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
        command.arg("--demo").args(args).env_clear().env("RUST_LOG", "warn").stdout(Stdio::null());
        command.stderr(Stdio::inherit());
        for (name, value) in vars {
            command.env(name, value);
        }
        Self(command.spawn().expect("the server binary starts"))
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `amazonpay2-server --demo ARGS` to its end; its exit status and standard output.
pub async fn run(args: &[&str], vars: &[(&str, String)]) -> (bool, String) {
    run_with_input(args, vars, "").await
}

/// [`run`] with `input` on its standard input (a password, as `shop add` reads it).
pub async fn run_with_input(args: &[&str], vars: &[(&str, String)], input: &str) -> (bool, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
    command.arg("--demo").args(args).env_clear().env("RUST_LOG", "warn");
    for (name, value) in vars {
        command.env(name, value);
    }
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("the server binary runs");
    let mut stdin = child.stdin.take().expect("its standard input");
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.expect("the server binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        eprintln!("{args:?}: {stderr}");
    }
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Waits until `url` answers at all (a redirect is an answer: it is not followed).
pub async fn wait_for(url: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    while http.get(url).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "{url} did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The round-robin balancer in front of the instances.
pub struct Balancer {
    backends: Vec<String>,
    next: AtomicUsize,
    http: reqwest::Client,
    /// Requests each instance answered.
    pub served: Vec<AtomicUsize>,
}

impl Balancer {
    /// Serves on `listener`, forwarding to `backends` (`127.0.0.1:port`).
    pub fn start(listener: TcpListener, backends: Vec<String>) -> Arc<Self> {
        let served = backends.iter().map(|_| AtomicUsize::new(0)).collect();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let balancer = Arc::new(Self { backends, next: AtomicUsize::new(0), http, served });
        let router = Router::new().fallback(forward).with_state(balancer.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        balancer
    }

    /// Requests each instance answered so far.
    pub fn counts(&self) -> Vec<usize> {
        self.served.iter().map(|n| n.load(Ordering::SeqCst)).collect()
    }
}

async fn forward(State(balancer): State<Arc<Balancer>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let pinned = parts.headers.get(INSTANCE_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let instance = pinned.unwrap_or_else(|| balancer.next.fetch_add(1, Ordering::SeqCst)) % balancer.backends.len();
    balancer.served[instance].fetch_add(1, Ordering::SeqCst);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let url = format!("http://{}{path}", balancer.backends[instance]);
    let mut outgoing = balancer.http.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        if name != "content-length" && name != INSTANCE_HEADER {
            outgoing = outgoing.header(name, value);
        }
    }
    relay(outgoing.send().await).await
}

/// Amazon's API as the instances reach it in a gated deployment: a pass-through to the simulator
/// process that, while closed, holds every capture call before Amazon sees it, so that a test
/// catches a bulk job in the middle of its captures every time.
pub struct Gate {
    upstream: String,
    http: reqwest::Client,
    open: tokio::sync::watch::Sender<bool>,
    held: tokio::sync::watch::Sender<usize>,
}

impl Gate {
    /// Serves on `listener`, passing calls on to `upstream` (`http://host:port`); open.
    pub fn start(listener: TcpListener, upstream: String) -> Arc<Self> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let gate = Arc::new(Self {
            upstream,
            http,
            open: tokio::sync::watch::Sender::new(true),
            held: tokio::sync::watch::Sender::new(0),
        });
        let router = Router::new().fallback(pass).with_state(gate.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        gate
    }

    /// Holds the capture calls from now on.
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// Lets the held calls (and every later one) through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until `count` capture calls are held.
    pub async fn wait_held(&self, count: usize) {
        let mut held = self.held.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(60), held.wait_for(|held| *held >= count)).await;
        assert!(waited.is_ok(), "{count} captures never reached Amazon's gate: {}", *self.held.borrow());
    }
}

async fn pass(State(gate): State<Arc<Gate>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.uri.path().ends_with("/capture") && !*gate.open.borrow() {
        let mut open = gate.open.subscribe();
        gate.held.send_modify(|held| *held += 1);
        let _ = open.wait_for(|open| *open).await;
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    // Every header as sent, the signed ones included (the shop signs `x-amz-pay-host`, not
    // `Host`); the Host is the simulator's, whose answers name its own address for browsers.
    let mut outgoing = gate.http.request(parts.method.clone(), format!("{}{path}", gate.upstream)).body(body);
    for (name, value) in &parts.headers {
        if name != "content-length" && name != "host" {
            outgoing = outgoing.header(name, value);
        }
    }
    relay(outgoing.send().await).await
}

/// An upstream answer as the client's answer (502 when there was none).
async fn relay(answer: reqwest::Result<reqwest::Response>) -> Response {
    let Ok(answer) = answer else {
        return Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::empty()).unwrap();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(answer.bytes().await.unwrap_or_default())).unwrap()
}

/// The shop origin (the balancer), the simulator, the instances, and their database.
pub struct Deployment {
    pub shop: String,
    pub amazon: String,
    pub balancer: Arc<Balancer>,
    /// Amazon's API as the instances reach it, in a gated deployment.
    pub gate: Option<Arc<Gate>>,
    _instances: Vec<Process>,
    _simulator: Process,
    /// The environment of a job command (`subscriptions`, `reconcile`) beside the instances.
    pub vars: Vec<(&'static str, String)>,
    pub target: Target,
    _dirs: Vec<DataDir>,
}

impl Deployment {
    /// `count` instances on `target`, started at the same moment.
    pub async fn start(target: Target, count: usize) -> Self {
        Self::start_with(target, count, false, false).await
    }

    /// [`Self::start`] with the instances' API calls to Amazon through a [`Gate`].
    pub async fn start_gated(target: Target, count: usize) -> Self {
        Self::start_with(target, count, true, false).await
    }

    /// [`Self::start`] with Amazon's quotas lifted on both sides (benchmarks of our own cost).
    pub async fn start_unthrottled(target: Target, count: usize) -> Self {
        Self::start_with(target, count, false, true).await
    }

    async fn start_with(target: Target, count: usize, gated: bool, quotas_lifted: bool) -> Self {
        amazonpay2::core::install_crypto_provider();
        let balancer_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shop = format!("http://{}", balancer_listener.local_addr().unwrap());
        let amazon_addr = format!("127.0.0.1:{}", free_port());
        let amazon = format!("http://{amazon_addr}");
        let gate = if gated {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            Some((Gate::start(listener, amazon.clone()), format!("http://{address}")))
        } else {
            None
        };
        let api_base = gate.as_ref().map_or_else(|| amazon.clone(), |(_, base)| base.clone());
        let mut common = vec![
            ("AMAZONPAY2_SHOP_ORIGIN", shop.clone()),
            ("AMAZONPAY2_PRIVATE_KEY", KEY_FILE.to_owned()),
            ("AMAZONPAY2_WWW", concat!(env!("CARGO_MANIFEST_DIR"), "/www").to_owned()),
            ("AMAZONPAY2_API_BASE", api_base),
            ("AMAZONPAY2_CHECKOUT_JS", format!("{amazon}/checkout.js")),
            target.setting(),
        ];
        if quotas_lifted {
            common.push(("AMAZONPAY2_SIMULATOR_QUOTAS", "off".to_owned()));
        }
        let simulator_dir = DataDir::new("multi-sim");
        let mut simulator_vars = common.clone();
        simulator_vars.extend([
            ("AMAZONPAY2_SIMULATOR_LISTEN", amazon_addr.clone()),
            ("AMAZONPAY2_DATA", simulator_dir.0.display().to_string()),
        ]);
        let simulator = Process::spawn(&["simulator"], &simulator_vars);
        let mut dirs = vec![simulator_dir];
        let mut backends = Vec::new();
        let mut instances = Vec::new();
        for n in 0..count {
            let dir = DataDir::new(&format!("multi-{n}"));
            let listen = format!("127.0.0.1:{}", free_port());
            let mut vars = common.clone();
            vars.extend([
                ("AMAZONPAY2_LISTEN", listen.clone()),
                // The demo's own simulator beside each instance is not used: Amazon is the one above.
                ("AMAZONPAY2_SIMULATOR_LISTEN", format!("127.0.0.1:{}", free_port())),
            ]);
            if target.is_postgres() {
                // A data folder of its own (nothing is kept there with PostgreSQL).
                vars.push(("AMAZONPAY2_DATA", dir.0.display().to_string()));
            }
            instances.push(Process::spawn(&[], &vars));
            backends.push(listen);
            dirs.push(dir);
        }
        wait_for(&format!("{amazon}/checkout.js")).await;
        for backend in &backends {
            wait_for(&format!("http://{backend}/api/amazonpay2/session")).await;
        }
        let balancer = Balancer::start(balancer_listener, backends);
        let mut vars = common;
        vars.push(("AMAZONPAY2_SIMULATOR_LISTEN", format!("127.0.0.1:{}", free_port())));
        let jobs_dir = DataDir::new("multi-jobs");
        if target.is_postgres() {
            vars.push(("AMAZONPAY2_DATA", jobs_dir.0.display().to_string()));
        }
        dirs.push(jobs_dir);
        let gate = gate.map(|(gate, _)| gate);
        Self { shop, amazon, balancer, gate, _instances: instances, _simulator: simulator, vars, target, _dirs: dirs }
    }

    /// Kills instance `n` at once (`kill -9`: nothing of it runs on).
    pub fn kill(&mut self, n: usize) {
        self._instances[n].kill();
    }

    pub fn browser(&self) -> Browser {
        Browser { shop: self.shop.clone(), amazon: self.amazon.clone(), http: cookie_client().build().unwrap() }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.target.count(sql).await
    }
}
