//! The Amazon Pay simulator: Amazon's side of Checkout v2, offline.
//!
//! It runs on its own address (its own origin, as Amazon is), serves its checkout.js and its
//! hosted sign-in and checkout pages, and trusts the merchants registered with it (`merchants`):
//! first the shop it was made for, through the public key of the shop's key pair, as Amazon
//! trusts the key registered in Seller Central; then any merchant registered by a program
//! ([`Simulator::with_merchant`]), a test (`POST /__simulator/merchants`, with
//! `…/{merchantId}/origins` and `…/{merchantId}/ipn-url`) or its Seller Central pages
//! (`/seller-central`: key pair, JSON of IDs, JavaScript origins, IPN URL). Behind the signature
//! check, which names the calling merchant, it serves Amazon's API: checkout sessions, charge
//! permissions, charges (capture, cancel) and refunds, with Amazon's rules in Japan, each object
//! its merchant's only; it notifies each merchant's IPN endpoint of every state change as Amazon
//! does (signed SNS envelopes); and it offers what Seller Central offers a merchant (capture,
//! cancel, refund, close) as a test control, besides controls for its clock, failures, cards and
//! asynchronous work.

mod account_status;
mod api;
pub mod artwork;
mod back_office;
mod buyers;
mod checkout;
mod hosted;
mod html;
mod idempotency;
mod ipn;
mod merchants;
mod payments;
mod seller_central;
mod signature;
mod throttling;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use self::buyers::{TEST_BUYERS, TestBuyer};
pub use self::ipn::SnsSigner;
pub use self::signature::{RegisteredKey, SignatureProblem};

/// Amazon's checkout.js, as the simulator serves it.
const CHECKOUT_JS: &str = include_str!("checkout.js");

/// What the simulator knows about its first merchant (Seller Central's registration). More
/// merchants can be registered while it runs (`POST /__simulator/merchants`, its Seller Central
/// pages).
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// 出品者ID.
    pub merchant_id: String,
    /// Store ID.
    pub store_id: String,
    /// The registered public key's ID.
    pub public_key_id: String,
    /// The registered public key, PKCS#1 DER.
    pub public_key_der: Vec<u8>,
    /// The shop origin registered as a JavaScript origin (where buttons may be rendered: see
    /// `GET /merchantAccount/{id}/accountStatus`) and as the return domain.
    pub shop_origin: String,
}

/// The simulator and its in-memory state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    /// The first merchant, as the simulator was made (also in `merchants`).
    config: SimulatorConfig,
    /// Every merchant, its stores, keys, JavaScript origins and IPN URL.
    merchants: Mutex<merchants::Registry>,
    rng: SystemRandom,
    /// Hosted-page visits between the button click and the shopper's "continue".
    flows: Mutex<HashMap<String, hosted::Flow>>,
    /// Issued buyer tokens (sign-in), for getBuyer.
    buyer_tokens: Mutex<HashMap<String, api::BuyerToken>>,
    /// Checkout sessions, charge permissions and charges.
    ledger: Mutex<checkout::Ledger>,
    /// Every idempotency key the merchant used, with its first answer (locked before the ledger).
    idempotency: Mutex<idempotency::Keys>,
    /// The simulator's origin as browsers reach it, when set (see [`Simulator::with_public_origin`]).
    public_origin: OnceLock<String>,
    /// Test control: failures the next API requests get.
    faults: Mutex<Option<api::Fault>>,
    /// Amazon's throttling quotas, kept per merchant (unless lifted).
    throttling: Mutex<throttling::Buckets>,
    /// Test control: seconds the simulator's clock is ahead of the real one (behind when
    /// negative: a test set Amazon's clock back before anything was made).
    clock_offset: AtomicI64,
    /// Instant payment notifications.
    notifier: ipn::Notifier,
    /// Whether the timer that sweeps the ledger runs.
    ticking: AtomicBool,
}

/// How long hosted-page flows live.
const FLOW_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// How often the ledger is swept when nothing else touches it, so that what the clock causes
/// (processed refunds and captures, expiries) is notified without waiting for a request.
const SWEEP_INTERVAL: Duration = Duration::from_secs(2);

impl Simulator {
    /// A simulator whose first merchant is `config`.
    ///
    /// # Panics
    /// If `public_key_der` is not an RSA public key: the shop's own key always is.
    pub fn new(config: SimulatorConfig) -> Self {
        let key =
            RegisteredKey::from_pkcs1_der(&config.public_key_der).expect("the shop's public key is a valid RSA key");
        let merchants = merchants::Registry::of_one(
            &config.merchant_id,
            &config.store_id,
            &config.shop_origin,
            &config.public_key_id,
            key,
        );
        Self {
            inner: Arc::new(Inner {
                config,
                merchants: Mutex::new(merchants),
                rng: SystemRandom::new(),
                flows: Mutex::new(HashMap::new()),
                buyer_tokens: Mutex::new(HashMap::new()),
                ledger: Mutex::new(checkout::Ledger::default()),
                idempotency: Mutex::new(idempotency::Keys::default()),
                public_origin: OnceLock::new(),
                faults: Mutex::new(None),
                throttling: Mutex::default(),
                clock_offset: AtomicI64::new(0),
                notifier: ipn::Notifier::default(),
                ticking: AtomicBool::new(false),
            }),
        }
    }

    /// Sets the origin (`scheme://host[:port]`, no path) at which browsers reach the simulator,
    /// for `webCheckoutDetails.amazonPayRedirectUrl`. Without it the simulator uses the host the
    /// API request was sent to, which is right whenever the shop's API base and checkout.js
    /// share the simulator's address (the demo). Only the first call counts.
    #[must_use]
    pub fn with_public_origin(self, origin: &str) -> Self {
        let _ = self.inner.public_origin.set(origin.trim_end_matches('/').to_owned());
        self
    }

    /// Lifts Amazon's throttling quotas: every request is served however many come, as no
    /// merchant's are at Amazon. Only for benchmarks of the shop's own cost (`--demo` with
    /// `AMAZONPAY2_SIMULATOR_QUOTAS=off`), whose shop sends without pacing too.
    #[must_use]
    pub fn with_quotas_lifted(self) -> Self {
        lock(&self.inner.throttling).keep(false);
        self
    }

    /// The simulator's HTTP routes. Inside a Tokio runtime this also starts the timer that
    /// sweeps the ledger (it ends with the runtime, or when the simulator is gone).
    pub fn router(&self) -> Router {
        self.start_sweeping();
        Router::new()
            .route("/checkout.js", get(checkout_js))
            .route("/images/{name}", get(artwork::serve))
            .route("/checkout/initiate", get(hosted::initiate_session).post(hosted::initiate))
            .route("/checkout/continue", post(hosted::continue_flow))
            .route("/checkout/cancel", get(hosted::cancel))
            .route("/checkout/initiate_auth", get(hosted::initiate_auth))
            .route("/checkout/process/{id}", get(hosted::process))
            .route("/checkout/signout", get(hosted::signout))
            .route("/merchantAccount/{merchant_id}/accountStatus", get(account_status::account_status))
            .merge(merchants::pages::routes())
            .merge(merchants::controls::routes())
            .merge(api::routes(self))
            .merge(api::controls())
            .merge(seller_central::controls())
            .merge(ipn::controls())
            .layer(DefaultBodyLimit::max(64 * 1024))
            .layer(middleware::from_fn_with_state(self.clone(), remember_host))
            .with_state(self.clone())
    }

    /// Runs `work` on the ledger swept to the simulator clock, then notifies the merchant of
    /// every state change (after the lock is released: delivery happens in the background).
    fn with_ledger<R>(&self, work: impl FnOnce(&mut checkout::Ledger, u64) -> R) -> R {
        let now = self.now();
        let (result, changes) = {
            let mut ledger = lock(&self.inner.ledger);
            ledger.sweep(now);
            let result = work(&mut ledger, now);
            (result, ledger.take_changes())
        };
        self.notify(changes);
        result
    }

    fn start_sweeping(&self) {
        if self.inner.ticking.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.ticking.store(false, Ordering::SeqCst);
            return;
        };
        let simulator = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut timer = tokio::time::interval(SWEEP_INTERVAL);
            loop {
                timer.tick().await;
                let Some(inner) = simulator.upgrade() else {
                    return;
                };
                Simulator { inner }.with_ledger(|_, _| ());
            }
        });
    }

    /// Checkout session IDs look like Amazon's: a UUID.
    fn checkout_session_id(&self) -> String {
        let hex = crate::amazon::signature::hex(&self.random_bytes::<16>());
        format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
    }

    fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut buffer = [0u8; N];
        // Without a random source nothing can be issued; the simulator is a test double.
        self.inner.rng.fill(&mut buffer).expect("system random source unavailable");
        buffer
    }

    /// `n` random decimal digits (for IDs, not secrets: at most 8 distinct draws, repeated).
    fn digits(&self, n: usize) -> String {
        self.random_bytes::<8>().iter().cycle().take(n).map(|b| char::from(b'0' + b % 10)).collect()
    }

    /// A URL-safe random token of `N` bytes.
    fn token<const N: usize>(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.random_bytes::<N>())
    }
}

/// Remembers the host a request reached the simulator at (see `SigningCertURL`).
async fn remember_host(State(simulator): State<Simulator>, request: Request, next: Next) -> Response {
    if let Some(host) = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()) {
        simulator.saw_host(host, false);
    }
    next.run(request).await
}

async fn checkout_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CHECKOUT_JS,
    )
}

/// Locks a map; a poisoned lock still guards a consistent map (single inserts and removes).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
