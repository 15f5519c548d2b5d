//! Amazon holding an answer: a request the test names is processed by the simulator as Amazon
//! processes it, and its answer is held back until the test lets it go. In between, the test
//! moves the order as a notification or Seller Central would, so that "the order moved while
//! Amazon answered" happens every time, not by chance.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::oneshot;

/// Where the test arms the next held answer; wraps the simulator's routes.
#[derive(Clone, Default)]
pub struct Hold {
    armed: Arc<Mutex<Option<Armed>>>,
}

struct Armed {
    method: Method,
    path_end: String,
    answered: oneshot::Sender<Value>,
    release: oneshot::Receiver<()>,
}

/// One held answer: Amazon has acted when [`Held::answered`] returns; the shop reads the answer
/// after [`Held::release`].
pub struct Held {
    answered: oneshot::Receiver<Value>,
    release: oneshot::Sender<()>,
}

impl Hold {
    /// The simulator's routes, with answers held when armed.
    pub fn wrap(&self, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(self.clone(), hold))
    }

    /// Holds the answer to the next `method` request whose path ends with `path_end`.
    pub fn next(&self, method: Method, path_end: &str) -> Held {
        let (answered_tx, answered) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        let armed = Armed { method, path_end: path_end.to_owned(), answered: answered_tx, release: release_rx };
        *self.armed.lock().unwrap() = Some(armed);
        Held { answered, release }
    }
}

impl Held {
    /// Waits until Amazon has processed the request; its answer (JSON), which the shop has not
    /// read yet.
    pub async fn answered(&mut self) -> Value {
        (&mut self.answered).await.expect("the held request reached Amazon")
    }

    /// Lets the shop read the answer.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

async fn hold(State(hold): State<Hold>, request: Request, next: Next) -> Response {
    let armed = {
        let mut slot = hold.armed.lock().unwrap();
        let matches = slot
            .as_ref()
            .is_some_and(|armed| request.method() == armed.method && request.uri().path().ends_with(&armed.path_end));
        if matches { slot.take() } else { None }
    };
    let response = next.run(request).await;
    let Some(armed) = armed else { return response };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let _ = armed.answered.send(serde_json::from_slice(&bytes).unwrap_or(Value::Null));
    let _ = armed.release.await;
    Response::from_parts(parts, Body::from(bytes))
}

/// Amazon taking its time over every capture: while the gate is closed, each capture request
/// waits before Amazon sees it, until the test opens the gate (so that a bulk job's captures are
/// all in flight at once, however fast the simulator is).
#[derive(Clone)]
pub struct CaptureGate {
    open: Arc<tokio::sync::watch::Sender<bool>>,
    held: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Default for CaptureGate {
    fn default() -> Self {
        Self {
            open: Arc::new(tokio::sync::watch::Sender::new(true)),
            held: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

impl CaptureGate {
    /// The simulator's routes, behind the gate.
    pub fn wrap(&self, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(self.clone(), gate))
    }

    /// From now on, captures wait at the gate.
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// Lets every waiting capture (and every later one) through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until `count` captures wait at the gate.
    pub async fn wait_holding(&self, count: usize) {
        let mut held = self.held.subscribe();
        held.wait_for(|held| *held >= count).await.expect("the gate lives as long as the test");
    }
}

async fn gate(State(gate): State<CaptureGate>, request: Request, next: Next) -> Response {
    if request.method() == Method::POST && request.uri().path().ends_with("/capture") {
        let mut open = gate.open.subscribe();
        if !*open.borrow_and_update() {
            gate.held.send_modify(|held| *held += 1);
            let _ = open.wait_for(|open| *open).await;
            gate.held.send_modify(|held| *held -= 1);
        }
    }
    next.run(request).await
}

/// Amazon's reads of charge permissions, charges and refunds, counted; while the gate is closed
/// each refund read waits before Amazon sees it (so that a test sees every read of a page asked
/// before any is answered), and the reads of one object can be made to fail as Amazon's do.
#[derive(Clone)]
pub struct ReadGate {
    open: Arc<tokio::sync::watch::Sender<bool>>,
    held: Arc<tokio::sync::watch::Sender<usize>>,
    reads: Arc<std::sync::atomic::AtomicUsize>,
    failing: Arc<Mutex<Option<String>>>,
}

impl Default for ReadGate {
    fn default() -> Self {
        Self {
            open: Arc::new(tokio::sync::watch::Sender::new(true)),
            held: Arc::new(tokio::sync::watch::Sender::new(0)),
            reads: Arc::default(),
            failing: Arc::default(),
        }
    }
}

impl ReadGate {
    /// The simulator's routes, behind the gate.
    pub fn wrap(&self, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(self.clone(), read_gate))
    }

    /// From now on, refund reads wait at the gate.
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// Lets every waiting read (and every later one) through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until `count` refund reads wait at the gate.
    pub async fn wait_holding(&self, count: usize) {
        let mut held = self.held.subscribe();
        held.wait_for(|held| *held >= count).await.expect("the gate lives as long as the test");
    }

    /// The reads Amazon has been asked for so far.
    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// From now on, reads of object `id` are answered with Amazon's `ResourceNotFound`.
    pub fn fail(&self, id: &str) {
        *self.failing.lock().unwrap() = Some(id.to_owned());
    }
}

async fn read_gate(State(gate): State<ReadGate>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let read = request.method() == Method::GET
        && ["/chargePermissions/", "/charges/", "/refunds/"].iter().any(|kind| path.contains(kind));
    if !read {
        return next.run(request).await;
    }
    gate.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if path.contains("/refunds/") {
        let mut open = gate.open.subscribe();
        if !*open.borrow_and_update() {
            gate.held.send_modify(|held| *held += 1);
            let _ = open.wait_for(|open| *open).await;
            gate.held.send_modify(|held| *held -= 1);
        }
    }
    let failing = gate.failing.lock().unwrap().clone();
    if failing.is_some_and(|id| path.ends_with(&id)) {
        let body = serde_json::json!({"reasonCode": "ResourceNotFound", "message": "not found"}).to_string();
        return Response::builder()
            .status(404)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
    }
    next.run(request).await
}
