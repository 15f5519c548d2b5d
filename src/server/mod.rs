//! The shop-side HTTP service: the widget API, Amazon's returns, the widget files and the shop
//! pages, over the Amazon Pay core and the database.
//!
//! [`start`] opens what the server needs (key, database, core, sessions); [`serve`] answers
//! requests until told to stop, with the background work (session purge, reconciler) beside it.
//! The demo (`crate::demo`) composes the same server with its own shop routes and the simulator.

pub mod admin;
pub mod config;
mod error;
pub mod files;
pub mod guard;
pub mod logins;
pub mod request_log;
pub mod routes;
pub mod session;
pub mod setup;
pub mod shops;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use self::config::{Config, KeySource};
pub use self::error::ApiError;
use self::session::Sessions;
use self::shops::Shops;
use crate::amazon::keygen::{self, DemoKeyError};
use crate::amazon::keys::{KeyError, ShopKey};
use crate::core::{AmazonError, Core, paths};
use crate::storage::{Database, Purged, StorageError, Store};

/// How long a stopping server lets requests in flight finish (an order being completed at Amazon
/// among them) before it exits anyway.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

/// How often the reconciler looks for orders nobody is settling.
const RECONCILE_EVERY: Duration = Duration::from_secs(5 * 60);

/// What every handler shares.
pub struct AppState {
    /// The settings.
    pub config: Config,
    /// The Amazon Pay core.
    pub core: Arc<Core>,
    /// The database.
    pub db: Database,
    /// Shopper sessions.
    pub sessions: Sessions,
    /// The name this server process claims bulk jobs under (unique among the instances on the
    /// database).
    pub instance: String,
    /// The shop served, when shops were added (`shop add`); `None` for the one shop of the
    /// `AMAZONPAY2_*` settings on a deployment without any.
    pub shop: Option<crate::storage::ShopId>,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A setting is missing or wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The private key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The demo key could not be made.
    #[error(transparent)]
    DemoKey(#[from] DemoKeyError),
    /// An address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// Serving failed.
    #[error("server failed: {0}")]
    Serve(io::Error),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The Amazon Pay client could not be set up.
    #[error(transparent)]
    Amazon(#[from] AmazonError),
    /// A job could not finish.
    #[error("{0}")]
    Job(String),
    /// No widget (or, in the demo, no shop pages) to serve.
    #[error(transparent)]
    Files(#[from] files::FilesError),
    /// The system's random source failed.
    #[error(transparent)]
    Random(#[from] crate::core::random::NoRandomness),
}

/// Loads the key named by the configuration (or the demo's, made on first use).
pub fn load_key(config: &Config) -> Result<ShopKey, ServerError> {
    Ok(match &config.key {
        KeySource::File(path) => ShopKey::from_file(path)?,
        KeySource::Generated => keygen::load_or_generate(&config.data_dir)?,
    })
}

/// Opens the database the configuration names: PostgreSQL when `AMAZONPAY2_DATABASE_URL` is set,
/// else the embedded SQLite in the data folder.
pub async fn open_database(config: &Config) -> Result<Database, ServerError> {
    Ok(match &config.database_url {
        Some(url) => Arc::new(Store::postgres(url.as_str()).await?),
        None => Arc::new(Store::sqlite(&config.data_dir).await?),
    })
}

/// Opens everything the server needs: the key, the database, the core, the sessions.
pub async fn start(config: Config) -> Result<Arc<AppState>, ServerError> {
    let key = Arc::new(load_key(&config)?);
    let db = open_database(&config).await?;
    start_with(config, key, db).await
}

/// [`start`] with the key and the database given.
pub async fn start_with(config: Config, key: Arc<ShopKey>, db: Database) -> Result<Arc<AppState>, ServerError> {
    let core = Core::new(config.core_settings(), key, &config.api_base, db.clone())?;
    assemble(config, core, db).await
}

/// The server's state around a core made by the caller (tests give theirs short retry waits).
pub async fn assemble(config: Config, core: Core, db: Database) -> Result<Arc<AppState>, ServerError> {
    // Made now, not at the first operation: every backup of a running shop holds the secret its
    // Amazon idempotency keys are made with, and a failing random source stops the start.
    crate::storage::Secrets::secret(&*db, crate::storage::IDEMPOTENCY_SECRET).await?;
    let sessions = Sessions::new(db.clone(), config.shop_origin.is_https()).await?;
    // A failing random source stops the start: two instances must never claim jobs alike.
    let instance = admin::instance_name()?;
    Ok(Arc::new(AppState { config, core: Arc::new(core), db, sessions, instance, shop: None }))
}

/// Binds an address, so that a taken port fails before anything else starts.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })
}

/// The whole shop-side application: API (with `extra_api`, the demo shop's own endpoints, mounted
/// beside it), widget files and shop pages, each request served by the shop of its host.
pub fn app(shops: Arc<Shops>, extra_api: Router) -> Router {
    let config = &shops.first().app.config;
    // The widget API is for the shop's own pages. Same-origin pages need no CORS at all; this
    // grant exists only for a widget served from another origin than the shop pages, and it
    // names the request's shop's origin alone.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin: &HeaderValue, parts: &axum::http::request::Parts| {
            parts.extensions.get::<Arc<AppState>>().is_some_and(|app| origin == app.config.shop_origin.as_str())
        }))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::CONTENT_TYPE, HeaderName::from_static(guard::CSRF_HEADER)]);
    let (admin_pages, admin_api) = admin::routes();
    let mut router = Router::new()
        .nest(paths::API, routes::api(extra_api.merge(admin_api)).layer(cors))
        // `/api/amazonpay2/` would otherwise fall through to the shop pages.
        .route(&format!("{}/", paths::API), any(routes::not_found))
        .merge(admin_pages)
        .merge(files::routes(config))
        // Pages are read from disk on every request (a designer's edit shows at once);
        // `no-cache` lets browsers keep them but revalidate with Last-Modified.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(middleware::from_fn(single_leading_slash));
    if config.demo.is_some() {
        router = router.layer(middleware::from_fn_with_state(shops.clone(), demo_canonical_host));
    }
    // Outermost: everything logged while answering names its request, with the query redacted;
    // then the request's shop, before anything of a shop is read.
    router.layer(middleware::from_fn_with_state(shops, shops::resolve)).layer(middleware::from_fn(request_log::span))
}

/// `//name` is a path a browser reads as another host when it comes back in a `Location`
/// (`//name/` after a directory redirect): such requests are sent to `/name` first.
async fn single_leading_slash(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("//") {
        return next.run(request).await;
    }
    let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    Redirect::permanent(&format!("/{}{query}", path.trim_start_matches(['/', '\\']))).into_response()
}

/// Demo only, one shop: a page opened as `localhost:8080` instead of `127.0.0.1:8080` would be
/// another origin, which the API rightly refuses; send the browser to the shop origin instead.
/// (With shops added, each host is its shop's own origin.)
async fn demo_canonical_host(State(shops): State<Arc<Shops>>, request: Request, next: Next) -> Response {
    let origin = &shops.first().app.config.shop_origin;
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let foreign = host.is_some_and(|host| host != origin.authority());
    if shops.hosted() || !foreign || !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::temporary(&format!("{}{path}", origin.as_str())).into_response()
}

/// Serves until `shutdown` completes, then lets requests in flight finish (at most
/// [`DRAIN_DEADLINE`]). The reconciler runs at start and periodically, idle sessions and
/// abandoned carts are purged hourly.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    extra_api: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let served = files::Served::resolve(&state.config)?;
    tracing::info!("{served}");
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    tracing::info!(
        merchant_id = %state.config.amazon.merchant_id,
        public_key_id = %state.config.amazon.public_key_id,
        sandbox = state.config.amazon.sandbox,
        "shop on http://{addr}/ (origin {})",
        state.config.shop_origin.as_str()
    );
    let shops = Arc::new(Shops::new(state.clone()).await?);
    let background = [
        tokio::spawn(purge_sessions(state.clone())),
        tokio::spawn(purge_safeguards(state)),
        tokio::spawn(reconcile(shops.clone())),
        tokio::spawn(shops.clone().keep_fresh()),
    ];
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app(shops, extra_api)).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("stopping: finishing the requests in flight");
        let _ = stopping.send(());
    });
    let deadline = async {
        if stopped.await.is_ok() {
            tokio::time::sleep(DRAIN_DEADLINE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server => result.map_err(ServerError::Serve),
        () = deadline => {
            tracing::warn!("requests still in flight after {DRAIN_DEADLINE:?}; stopping anyway (the reconciler settles their orders)");
            Ok(())
        }
    };
    for task in background {
        task.abort();
    }
    result
}

/// Deletes idle sessions and abandoned carts now and every hour.
async fn purge_sessions(state: Arc<AppState>) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        every_hour.tick().await;
        match state.sessions.purge().await {
            Ok(Purged { sessions: 0, carts: 0 }) => {}
            Ok(Purged { sessions, carts }) => {
                tracing::info!(sessions, carts, "purged idle sessions and abandoned carts")
            }
            Err(error) => tracing::error!(%error, "purging sessions failed"),
        }
    }
}

/// Forgets notifications handled long ago and login attempts of windows long over, now and every
/// hour: what floods of either leave behind stays bounded.
async fn purge_safeguards(state: Arc<AppState>) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(60 * 60));
    let remembered = i64::try_from(routes::ipn::REMEMBERED.as_secs()).unwrap_or(i64::MAX);
    loop {
        every_hour.tick().await;
        match state.db.purge_notifications(crate::core::now() - remembered).await {
            Ok(0) => {}
            Ok(notifications) => tracing::info!(notifications, "forgot notifications handled long ago"),
            Err(error) => tracing::error!(%error, "purging notifications failed"),
        }
        match logins::purge(&state.db).await {
            Ok(0) => {}
            Ok(subjects) => tracing::info!(subjects, "forgot old login attempts"),
            Err(error) => tracing::error!(%error, "purging login attempts failed"),
        }
    }
}

/// Settles every shop's orders left unsettled now and every few minutes; one shop's failure
/// does not stop the others'.
async fn reconcile(shops: Arc<Shops>) {
    let mut every = tokio::time::interval(RECONCILE_EVERY);
    loop {
        every.tick().await;
        let busy = match shops.to_reconcile().await {
            Ok(busy) => busy,
            Err(error) => {
                tracing::error!(%error, "finding the shops to reconcile failed");
                continue;
            }
        };
        for (shop, tenant) in busy {
            let reconciled = match tenant {
                // A shop without keys has nothing at Amazon to settle.
                Ok(tenant) if !tenant.app.core.is_set_up() => Ok(()),
                Ok(tenant) => tenant.app.core.reconcile().await.map(drop).map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            if let Err(error) = reconciled {
                tracing::error!(%shop, %error, "reconciling orders failed");
            }
        }
    }
}
