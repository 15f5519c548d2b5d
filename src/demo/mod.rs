//! The demo shop: the built-in shop with a catalogue, its own member and cart endpoints and pages
//! (`www/`), and the Amazon Pay simulator beside it in place of Amazon — every flow offline, on the
//! same code paths as in production.

mod routes;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::amazon::keygen;
use crate::amazon::keys::ShopKey;
use crate::core::platform::ShippingMethod;
use crate::core::settings::ShopHost;
use crate::server::admin::{DEMO_ADMIN, put_account};
use crate::server::config::Config;
use crate::server::{self, AppState, ServerError};
use crate::simulator::{Simulator, SimulatorConfig};
use crate::storage::shops::{PRIVATE_KEY, ShopAmazon};
use crate::storage::vault::Binding;
use crate::storage::{Product, Shop as _, StorageError};

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

/// The demo's second shop (`http://shop2.localhost:PORT/`): its own catalogue, Amazon account and
/// key (made in the data folder on first start), and its own `admin` / `admin-demo` account.
pub mod second_shop {
    /// Its store name (what Amazon shows its buyers, and how the demo finds it again).
    pub const STORE_NAME: &str = "藍染め工房";
    /// Its host, on the demo's port.
    pub const HOST: &str = "shop2.localhost";
    /// 出品者ID.
    pub const MERCHANT_ID: &str = "A3CRAFTSHOPTWO";
    /// Store ID.
    pub const STORE_ID: &str = "amzn1.application-oa2-client.00000000000000000000000000005b02";
    /// Public key ID.
    pub const PUBLIC_KEY_ID: &str = "SANDBOX-CRAFTSHOPTWODEMOKEY00000";
    /// Its private key, in the data folder.
    pub const KEY_FILE: &str = "shop2-private-key.pem";
}

/// The second shop's catalogue (its IDs apart from the first's: every shop's products share one
/// numbering).
pub fn second_catalogue() -> (Vec<Product>, Vec<ShippingMethod>) {
    let product = |id, name: &str, price, recurring| Product { id, name: name.into(), price, recurring };
    let shipping =
        |id, name: &str, fee, amazon_pay_allowed| ShippingMethod { id, name: name.into(), fee, amazon_pay_allowed };
    (
        vec![
            product(101, "藍染め 手ぬぐい", 1_650, false),
            product(102, "藍染め トートバッグ", 4_400, false),
            product(103, "【定期便】季節の藍染め小物（毎月）", 3_300, true),
        ],
        vec![shipping(101, "宅配便", 770, true), shipping(102, "ゆうパケット", 250, true)],
    )
}

/// The second shop's Amazon account (its key given).
fn second_account(key: &ShopKey, origin: &str) -> SimulatorConfig {
    SimulatorConfig {
        merchant_id: second_shop::MERCHANT_ID.to_owned(),
        store_id: second_shop::STORE_ID.to_owned(),
        public_key_id: second_shop::PUBLIC_KEY_ID.to_owned(),
        public_key_der: key.public_key_der().to_vec(),
        shop_origin: origin.to_owned(),
    }
}

/// The simulator trusting `key` as Amazon trusts the key registered in Seller Central.
/// Amazon's throttling quotas are kept unless the demo lifts them for benchmarks.
pub fn simulator(config: &Config, key: &ShopKey) -> Simulator {
    let simulator = Simulator::new(SimulatorConfig {
        merchant_id: config.amazon.merchant_id.clone(),
        store_id: config.amazon.store_id.clone(),
        public_key_id: config.amazon.public_key_id.clone(),
        public_key_der: key.public_key_der().to_vec(),
        shop_origin: config.shop_origin.as_str().to_owned(),
    });
    match &config.demo {
        Some(demo) if demo.quotas_lifted => simulator.with_quotas_lifted(),
        _ => simulator,
    }
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
    let state = server::start_with(config, key, db).await?;
    open_shops(&state).await?;
    Ok(state)
}

/// The demo's two shops on this port: the first on the shop origin's host and `localhost`, the
/// second on `shop2.localhost`, with its catalogue, owner and sealed key. Idempotent, and safe for
/// instances starting together.
async fn open_shops(state: &AppState) -> Result<(), ServerError> {
    let config = &state.config;
    let port = config.listen.port();
    let host =
        |name: String| ShopHost::parse(&name).map_err(|problem| ServerError::Job(format!("demo host {problem}")));
    let (owner, password) = DEMO_ADMIN;
    let hash =
        crate::server::admin::auth::hash_password(password).await.map_err(|e| ServerError::Job(e.to_string()))?;
    let store = state.db.store();
    let first_name = config.store_name.clone().unwrap_or_default();
    let first_hosts = [host(config.shop_origin.authority())?, host(format!("localhost:{port}"))?];
    store.ensure_shop(&first_name, &first_hosts, owner, &hash).await?;
    let second_host = host(format!("{}:{port}", second_shop::HOST))?;
    let second = store.ensure_shop(second_shop::STORE_NAME, &[second_host], owner, &hash).await?;
    let shop = store.for_shop(second);
    let (products, shipping) = second_catalogue();
    shop.seed_catalogue(&products, &shipping).await?;

    let path = config.data_dir.join(second_shop::KEY_FILE);
    let key = keygen::load_or_generate_at(&path)?;
    let fingerprint = crate::core::onboarding::fingerprint(&key);
    let known = store.shops().await?.into_iter().find(|s| s.id == second).and_then(|s| s.amazon);
    if known.is_none_or(|amazon| amazon.key_fingerprint != fingerprint) {
        let pem = zeroize::Zeroizing::new(std::fs::read(&path).map_err(StorageError::Folder)?);
        let binding = Binding { shop: second.0, field: PRIVATE_KEY };
        let sealed = config.master_key()?.seal(binding, &pem).map_err(|e| ServerError::Job(e.to_string()))?;
        let amazon = ShopAmazon {
            merchant_id: second_shop::MERCHANT_ID.to_owned(),
            store_id: second_shop::STORE_ID.to_owned(),
            public_key_id: second_shop::PUBLIC_KEY_ID.to_owned(),
            sandbox: true,
            key_fingerprint: fingerprint,
        };
        shop.set_shop_amazon(&amazon, &sealed).await?;
    }
    Ok(())
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
    // As each merchant registers its JavaScript origin and IPN URL in Seller Central (manual
    // steps ⑧ ⑨).
    let ipn_url = state.config.shop_origin.url(crate::core::paths::IPN);
    let second_origin = format!("http://{}:{}", second_shop::HOST, state.config.listen.port());
    let second_key = keygen::load_or_generate_at(&state.config.data_dir.join(second_shop::KEY_FILE))?;
    let refused = |why: String| ServerError::Serve(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
    let simulator = simulator(&state.config, &key)
        .with_ipn_endpoint(&ipn_url)
        .and_then(|s| s.with_merchant(second_account(&second_key, &second_origin)))
        .and_then(|s| {
            s.with_merchant_ipn_endpoint(second_shop::MERCHANT_ID, &format!("{second_origin}/api/amazonpay2/ipn.php"))
        })
        .map_err(|why| refused(format!("the simulator's merchants: {why}")))?;
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
