//! The shop-side HTTP service: signs button payloads, handles Amazon's returns, serves the
//! widget and the shop pages, and in demo mode starts the Amazon Pay simulator beside itself.

pub mod config;
mod error;
pub mod files;
pub mod guard;
pub mod routes;
pub mod session;
pub mod store;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use self::config::{Config, KeySource};
use self::routes::paths;
use self::session::Sessions;
use self::store::Store;
use crate::amazon::keys::{self, ShopKey};
use crate::core::signer::ButtonSigner;
use crate::core::{self as amazon_core, AmazonPayClient};
use crate::demo::key as demo_key;
use crate::simulator::{Simulator, SimulatorConfig};

/// What every handler shares.
pub struct AppState {
    /// The settings.
    pub config: Config,
    /// Signs the payloads the server builds.
    pub signer: ButtonSigner,
    /// Shopper sessions.
    pub sessions: Sessions,
    /// The database: members, links, sessions.
    pub store: Arc<Store>,
    /// Amazon Pay's API.
    pub amazon: AmazonPayClient,
}

impl AppState {
    /// State for `config`, signing with `key`, storing in `store`.
    pub fn new(config: Config, key: Arc<ShopKey>, store: Arc<Store>) -> Result<Self, ServerError> {
        let signer = ButtonSigner::new(key.clone(), config.amazon.public_key_id.clone());
        let sessions = Sessions::new(store.clone(), config.shop_origin.is_https());
        let amazon = AmazonPayClient::new(&config.api_base, &config.amazon, key)?;
        Ok(Self { config, signer, sessions, store, amazon })
    }
}

/// The whole shop-side application: API, widget files and shop pages.
pub fn app(state: Arc<AppState>) -> Router {
    let config = &state.config;
    // The widget API is for the shop's own pages. Same-origin pages need no CORS at all; this
    // grant exists only for a widget served from another origin than the shop pages, and it
    // names the shop origin alone.
    let cors = CorsLayer::new()
        .allow_origin(HeaderValue::from_str(config.shop_origin.as_str()).into_iter().collect::<Vec<_>>())
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::CONTENT_TYPE, HeaderName::from_static(guard::CSRF_HEADER)]);
    let mut router = Router::new()
        .nest(paths::API, routes::api(config.demo.is_some()).layer(cors.clone()))
        // `/api/amazonpay2/` would otherwise fall through to the shop pages.
        .route(&format!("{}/", paths::API), any(routes::not_found))
        .merge(files::routes(config, cors))
        // Pages are read from disk on every request (a designer's edit shows at once);
        // `no-cache` lets browsers keep them but revalidate with Last-Modified.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
    if config.demo.is_some() {
        let canonical = Arc::new((config.shop_origin.as_str().to_owned(), config.shop_origin.authority()));
        router = router.layer(middleware::from_fn_with_state(canonical, demo_canonical_host));
    }
    router.with_state(state)
}

/// Demo only: a page opened as `localhost:8080` instead of `127.0.0.1:8080` would be another
/// origin, which the API rightly refuses; send the browser to the shop origin instead.
async fn demo_canonical_host(State(canonical): State<Arc<(String, String)>>, request: Request, next: Next) -> Response {
    let (origin, authority) = &*canonical;
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let foreign = host.is_some_and(|host| host != authority);
    if !foreign || !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::temporary(&format!("{origin}{path}")).into_response()
}

/// Deletes idle sessions now and every hour.
async fn expire_sessions(state: Arc<AppState>) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(60 * 60));
    loop {
        every_hour.tick().await;
        match state.sessions.expire() {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "expired idle sessions"),
            Err(error) => tracing::error!(%error, "expiring sessions failed"),
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A setting is missing or wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The private key could not be loaded.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// The demo key could not be made.
    #[error(transparent)]
    DemoKey(#[from] demo_key::DemoKeyError),
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
    Store(#[from] store::StoreError),
    /// The Amazon Pay client could not be set up.
    #[error(transparent)]
    Amazon(#[from] amazon_core::AmazonError),
    /// No widget (or, in the demo, no shop pages) to serve.
    #[error(transparent)]
    Files(#[from] files::FilesError),
}

/// The sockets the server listens on, bound before anything else starts so that a taken port
/// fails at once.
pub struct Listeners {
    /// The shop's address.
    pub shop: TcpListener,
    /// The simulator's address (demo mode).
    pub simulator: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses `config` names.
    pub async fn bind(config: &Config) -> Result<Self, ServerError> {
        let shop = bind(config.listen).await?;
        let simulator = match &config.demo {
            Some(demo) => Some(bind(demo.simulator_listen).await?),
            None => None,
        };
        Ok(Self { shop, simulator })
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })
}

/// Loads the key named by the configuration (or the demo's).
pub fn load_key(config: &Config) -> Result<ShopKey, ServerError> {
    Ok(match &config.key {
        KeySource::File(path) => ShopKey::from_file(path)?,
        KeySource::Generated => demo_key::load_or_generate(&config.data_dir)?,
    })
}

/// Application state for a command (no listeners): the key, the database, the Amazon client.
pub fn state_for_command(config: Config) -> Result<AppState, ServerError> {
    let key = Arc::new(load_key(&config)?);
    let store = Arc::new(Store::open(&config.data_dir)?);
    AppState::new(config, key, store)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let served = files::Served::resolve(&config)?;
    tracing::info!("{served}");
    let key = Arc::new(load_key(&config)?);
    tracing::info!(
        merchant_id = %config.amazon.merchant_id,
        public_key_id = %config.amazon.public_key_id,
        sandbox = config.amazon.sandbox,
        key = ?key,
        "Amazon Pay settings loaded"
    );
    let (stop_simulator, simulator_stopped) = tokio::sync::watch::channel(false);
    let simulator = match listeners.simulator {
        Some(listener) => {
            let simulator = Simulator::new(SimulatorConfig {
                merchant_id: config.amazon.merchant_id.clone(),
                store_id: config.amazon.store_id.clone(),
                public_key_id: config.amazon.public_key_id.clone(),
                public_key_der: key.public_key_der().to_vec(),
                shop_origin: config.shop_origin.as_str().to_owned(),
            });
            let addr = listener.local_addr().map_err(ServerError::Serve)?;
            tracing::info!("Amazon Pay simulator on http://{addr}/");
            let mut stopped = simulator_stopped;
            Some(tokio::spawn(async move {
                axum::serve(listener, simulator.router())
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            }))
        }
        None => None,
    };
    let addr = listeners.shop.local_addr().map_err(ServerError::Serve)?;
    tracing::info!("shop on http://{addr}/ (origin {})", config.shop_origin.as_str());
    let store = Arc::new(Store::open(&config.data_dir)?);
    let state = Arc::new(AppState::new(config, key, store)?);
    let expiry = tokio::spawn(expire_sessions(state.clone()));
    let result = axum::serve(listeners.shop, app(state)).with_graceful_shutdown(shutdown).await;
    expiry.abort();
    let _ = stop_simulator.send(true);
    if let Some(task) = simulator {
        let _ = task.await;
    }
    result.map_err(ServerError::Serve)
}
