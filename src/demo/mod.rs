//! The demo shop: the built-in shop with a catalogue, its own member and cart endpoints and pages
//! (`www/`), and the Amazon Pay simulator beside it in place of Amazon — every flow offline, on the
//! same code paths as in production.

mod routes;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::amazon::keys::ShopKey;
use crate::core::platform::ShippingMethod;
use crate::server::admin::{DEMO_ADMIN, put_account};
use crate::server::config::Config;
use crate::server::{self, AppState, ServerError};
use crate::simulator::{Simulator, SimulatorConfig};
use crate::storage::{Product, StorageError};

/// The demo shop's endpoints under `/api/amazonpay2/demo/`.
pub fn routes() -> Router {
    Router::new()
        .route("/demo/signup", post(routes::sign_up))
        .route("/demo/login", post(routes::log_in_with_password))
        .route("/demo/logout", post(routes::log_out_member))
        .route("/demo/catalogue", get(routes::catalogue))
        .route("/demo/cart", get(routes::cart).post(routes::update_cart))
        .route("/demo/orders", get(routes::orders))
        .route("/demo/subscriptions/{id}/cancel", post(routes::cancel_subscription))
}

/// The demo catalogue: everyday crafts and two subscriptions (定期便).
pub fn catalogue() -> (Vec<Product>, Vec<ShippingMethod>) {
    let product = |id, name: &str, price, recurring| Product { id, name: name.into(), price, recurring };
    let shipping =
        |id, name: &str, fee, amazon_pay_allowed| ShippingMethod { id, name: name.into(), fee, amazon_pay_allowed };
    (
        vec![
            product(1, "益子焼 マグカップ", 2_750, false),
            product(2, "刺し子 ふきん 3枚組", 1_980, false),
            product(3, "木のカトラリーセット", 3_300, false),
            product(4, "【定期便】季節の器セット（毎月）", 8_800, true),
            product(5, "【定期便】職人の大皿（毎月）", 49_560, true),
        ],
        vec![
            shipping(1, "宅配便", 880, true),
            shipping(2, "ネコポス", 0, true),
            // 基本設定＞配送方法・配送料: a method without the 「支払方法: AmazonPay」 tick.
            shipping(3, "店頭受け取り", 0, false),
            shipping(4, "クール便", 1_100, true),
        ],
    )
}

/// The simulator trusting `key` as Amazon trusts the key registered in Seller Central.
pub fn simulator(config: &Config, key: &ShopKey) -> Simulator {
    Simulator::new(SimulatorConfig {
        merchant_id: config.amazon.merchant_id.clone(),
        store_id: config.amazon.store_id.clone(),
        public_key_id: config.amazon.public_key_id.clone(),
        public_key_der: key.public_key_der().to_vec(),
        shop_origin: config.shop_origin.as_str().to_owned(),
    })
}

/// Opens the demo shop: the server's state on a seeded catalogue. A database left by a
/// pre-release version is moved aside (demo data is disposable).
pub async fn start(config: Config) -> Result<Arc<AppState>, ServerError> {
    let key = Arc::new(server::load_key(&config)?);
    let db = match server::open_database(&config).await {
        Err(ServerError::Storage(StorageError::Incompatible(why))) => {
            tracing::warn!(%why, "moving the old demo database aside");
            let file = config.data_dir.join("amazonpay2.sqlite3");
            std::fs::rename(&file, file.with_extension("sqlite3.pre-release")).map_err(StorageError::Folder)?;
            server::open_database(&config).await?
        }
        other => other?,
    };
    let (products, shipping) = catalogue();
    db.seed_catalogue(&products, &shipping).await?;
    seed_admin(&db).await?;
    server::start_with(config, key, db).await
}

/// The demo's owner account ([`DEMO_ADMIN`]), made once: a password changed later is kept.
pub async fn seed_admin(db: &crate::storage::Database) -> Result<(), ServerError> {
    let (name, password) = DEMO_ADMIN;
    if db.admin_password_hash(name).await?.is_none() {
        put_account(db, name, password).await.map_err(|e| ServerError::Job(e.to_string()))?;
        tracing::info!("demo admin account: {name} / {password}");
    }
    Ok(())
}

/// Runs the demo: the shop on `shop` and the simulator on `simulator`, until `shutdown`.
pub async fn serve(
    config: Config,
    shop: tokio::net::TcpListener,
    simulator_listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = start(config).await?;
    let key = server::load_key(&state.config)?;
    // As a merchant registers the IPN URL in Seller Central (manual step ⑨).
    let ipn_url = state.config.shop_origin.url(crate::core::paths::IPN);
    let simulator = simulator(&state.config, &key).with_ipn_endpoint(&ipn_url).map_err(|why| {
        ServerError::Serve(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("IPN URL {ipn_url}: {why}")))
    })?;
    let addr = simulator_listener.local_addr().map_err(ServerError::Serve)?;
    tracing::info!("Amazon Pay simulator on http://{addr}/, notifying {ipn_url}");
    let (stop_simulator, simulator_stopped) = tokio::sync::oneshot::channel::<()>();
    let simulator_task = tokio::spawn(async move {
        axum::serve(simulator_listener, simulator.router())
            .with_graceful_shutdown(async move {
                let _ = simulator_stopped.await;
            })
            .await
    });
    let result = server::serve(state, shop, routes(), shutdown).await;
    let _ = stop_simulator.send(());
    let _ = simulator_task.await;
    result
}
