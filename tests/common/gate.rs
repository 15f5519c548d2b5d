//! A gate in front of Amazon's API (the simulator): it forwards every request unchanged, but
//! while closed it holds the requests a test names until the test opens it. A test can then see
//! what the shop shows *while* Amazon has not answered yet (a bulk job still running), without
//! racing the simulator's speed.
//!
//! The shop's `AMAZONPAY2_API_BASE` points at the gate; the gate sends each request on to the
//! simulator with the simulator's own `Host` (so that the URLs the simulator builds for browsers
//! name itself), and the signed headers as they came.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Which requests a closed gate holds: method and path.
pub type Holds = fn(&axum::http::Method, &str) -> bool;

struct Inner {
    upstream: OnceLock<String>,
    holds: Holds,
    open: watch::Sender<bool>,
    held: watch::Sender<usize>,
    forwarded: AtomicUsize,
    http: reqwest::Client,
}

/// The gate; it serves until the test ends.
#[derive(Clone)]
pub struct Gate {
    /// `http://127.0.0.1:PORT`: what the shop's `AMAZONPAY2_API_BASE` is set to.
    pub url: String,
    inner: Arc<Inner>,
}

impl Gate {
    /// Starts an open gate holding, once closed, the requests `holds` names. It forwards to the
    /// origin given to [`Gate::forward_to`] (known only once the simulator runs).
    pub async fn start(holds: Holds) -> Self {
        amazonpay2::core::install_crypto_provider();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let inner = Arc::new(Inner {
            upstream: OnceLock::new(),
            holds,
            open: watch::Sender::new(true),
            held: watch::Sender::new(0),
            forwarded: AtomicUsize::new(0),
            http,
        });
        let router = Router::new().fallback(forward).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, inner }
    }

    /// Where requests go: the simulator's origin (`http://127.0.0.1:PORT`).
    pub fn forward_to(&self, upstream: &str) {
        self.inner.upstream.set(upstream.trim_end_matches('/').to_owned()).expect("one upstream");
    }

    /// From now on, the requests the gate holds wait until [`Gate::open`].
    pub fn close(&self) {
        self.inner.open.send_replace(false);
    }

    /// Lets every held request (and every later one) through.
    pub fn open(&self) {
        self.inner.open.send_replace(true);
    }

    /// Waits (at most 60 s) until at least `count` requests are held at the closed gate.
    pub async fn wait_until_holding(&self, count: usize) {
        let mut held = self.inner.held.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(60), held.wait_for(|n| *n >= count)).await;
        assert!(waited.is_ok(), "{count} request(s) expected at the gate, {} came", *self.inner.held.borrow());
    }

    /// Requests forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.inner.forwarded.load(Ordering::SeqCst)
    }
}

async fn forward(State(gate): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    if (gate.holds)(&parts.method, parts.uri.path()) {
        let mut open = gate.open.subscribe();
        if !*open.borrow_and_update() {
            gate.held.send_modify(|n| *n += 1);
            let _ = open.wait_for(|open| *open).await;
            gate.held.send_modify(|n| *n -= 1);
        }
    }
    let Some(upstream) = gate.upstream.get() else {
        return Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::from("no upstream yet")).unwrap();
    };
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut outgoing = gate.http.request(parts.method.clone(), format!("{upstream}{path}")).body(body);
    for (name, value) in &parts.headers {
        // reqwest sets Host from the URL: the simulator's own.
        if name != "content-length" && name != "host" {
            outgoing = outgoing.header(name, value);
        }
    }
    let Ok(answer) = outgoing.send().await else {
        return Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::empty()).unwrap();
    };
    gate.forwarded.fetch_add(1, Ordering::SeqCst);
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(answer.bytes().await.unwrap_or_default())).unwrap()
}
