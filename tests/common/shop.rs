//! A real demo shop for end-to-end tests and benchmarks: the server and the Amazon Pay simulator
//! on free loopback ports, serving the repository's `www/` and the widget `build.sh` built.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::server;
use amazonpay2::server::config::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built widget (`./build.sh` writes it; `AMAZONPAY2_WIDGET` may point elsewhere).
pub fn widget_dir() -> PathBuf {
    let dir = std::env::var_os("AMAZONPAY2_WIDGET").map(PathBuf::from).unwrap_or_else(|| repo().join("target/widget"));
    assert!(
        dir.join("widget.js").exists() && dir.join("amazonpay2_bg.wasm").exists(),
        "the widget is not built in {}: run ./build.sh first",
        dir.display()
    );
    dir
}

/// A running shop with its simulator; stops when dropped.
pub struct Shop {
    /// `http://127.0.0.1:PORT`, the shop origin.
    pub origin: String,
    /// `http://127.0.0.1:PORT`, the simulator's origin.
    pub simulator: String,
    /// The key the shop signs with (the simulator trusts its public half).
    pub key: Arc<ShopKey>,
    /// The settings it runs with.
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    data_dir: PathBuf,
}

impl Shop {
    /// Starts the demo shop on the repository's pages.
    pub async fn start() -> Shop {
        Self::start_with(&[], &[]).await
    }

    /// Starts the demo shop; `overrides` adds or replaces settings (`{shop}` in a value stands
    /// for the shop origin, `{simulator}` for the simulator's), and non-empty `pages` (path,
    /// HTML) replace `www/` with test pages.
    pub async fn start_with(overrides: &[(&str, &str)], pages: &[(&str, &str)]) -> Shop {
        let shop = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let simulator = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shop_addr = shop.local_addr().unwrap();
        let simulator_addr = simulator.local_addr().unwrap();
        let data_dir = std::env::temp_dir().join(format!("amazonpay2-e2e-{}-{}", std::process::id(), shop_addr.port()));
        let key_path = repo().join("tests/fixtures/test_key_pkcs8.pem");
        let mut vars: HashMap<String, String> = [
            ("AMAZONPAY2_LISTEN", shop_addr.to_string()),
            ("AMAZONPAY2_SIMULATOR_LISTEN", simulator_addr.to_string()),
            ("AMAZONPAY2_PRIVATE_KEY", key_path.display().to_string()),
            ("AMAZONPAY2_DATA", data_dir.display().to_string()),
            ("AMAZONPAY2_WWW", repo().join("www").display().to_string()),
            ("AMAZONPAY2_WIDGET", widget_dir().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if !pages.is_empty() {
            let www = data_dir.join("www");
            for (path, html) in pages {
                let file = www.join(path.trim_start_matches('/'));
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, html).unwrap();
            }
            vars.insert("AMAZONPAY2_WWW".into(), www.display().to_string());
        }
        for (name, value) in overrides {
            let value = value
                .replace("{shop}", &format!("http://{shop_addr}"))
                .replace("{simulator}", &format!("http://{simulator_addr}"));
            vars.insert((*name).to_owned(), value);
        }
        let config = Config::from_vars(true, |name| vars.get(name).cloned()).unwrap();
        let key = Arc::new(server::load_key(&config).unwrap());
        let kept = config.clone();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            amazonpay2::demo::serve(config, shop, simulator, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let mut shop = Shop {
            origin: format!("http://{shop_addr}"),
            simulator: format!("http://{simulator_addr}"),
            key,
            config: kept,
            stop: Some(stop),
            task: Some(task),
            data_dir,
        };
        shop.wait_until_serving().await;
        shop
    }

    /// Waits until the server has finished its start (the database made, migrated and seeded)
    /// and answers: before that, a test touching the database would race the server's start.
    async fn wait_until_serving(&mut self) {
        amazonpay2::core::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let (url, deadline) = (self.url("/api/amazonpay2/session"), Instant::now() + Duration::from_secs(60));
        loop {
            if http.get(&url).send().await.is_ok_and(|reply| reply.status().is_success()) {
                return;
            }
            if self.task.as_ref().is_some_and(tokio::task::JoinHandle::is_finished) {
                // The task ended: its panic says why the server did not start.
                let error = self.task.take().unwrap().await.err();
                panic!("the demo shop did not start: {error:?}");
            }
            assert!(Instant::now() < deadline, "the demo shop did not answer {url} within 60 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// An absolute URL on the shop.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// What a command (e.g. `subscriptions`) run beside this shop would see: the same database
    /// and key. Opened only (`server::start`): the running server has made and seeded the
    /// database, and seeding it again beside it would write for nothing.
    pub async fn command_state(&self) -> Arc<amazonpay2::server::AppState> {
        server::start(self.config.clone()).await.unwrap()
    }

    /// Stops the server and the simulator and waits for them.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
