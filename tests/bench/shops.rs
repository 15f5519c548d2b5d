//! The setup of `tests/bench/shops.sh` (many shops on one deployment): fills the demo's database
//! with shops `shop1.localhost:PORT` … `shopN.localhost:PORT`, each with its own sealed key, as
//! `shop add` and `shop keys` would leave them, but in seconds rather than hours (the CLI hashes a
//! password with Argon2 and asks Amazon about the keys, once per shop). Ignored by `cargo test`:
//!
//! ```sh
//! AMAZONPAY2_DATA=… AMAZONPAY2_BENCH_PORT=18190 AMAZONPAY2_BENCH_SHOPS=10000 \
//!   cargo test --release --test bench -- --ignored --nocapture shops::
//! ```
//!
//! `AMAZONPAY2_DATABASE_URL` set, the shops go to that PostgreSQL database instead.
//!
//! `shops::isolation` measures one shop's bulk capture beside another shop's shoppers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use amazonpay2::amazon::keygen;
use amazonpay2::core::onboarding::fingerprint;
use amazonpay2::core::platform::ShippingMethod;
use amazonpay2::core::settings::ShopHost;
use amazonpay2::server::config::demo_defaults;
use amazonpay2::storage::shops::{PRIVATE_KEY, ShopAmazon};
use amazonpay2::storage::vault::{Binding, MasterKey};
use amazonpay2::storage::{Product, Store};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::common::admin::{AdminBrowser, OWNER, OWNER_PASSWORD};
use crate::common::checkout::{KEY_FILE, MUG, TAKKYUBIN, VISA, World, completed_order};
use crate::common::sockets::{Browser, cookie_client};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the setup of tests/bench/shops.sh"]
async fn make_shops() {
    let data = PathBuf::from(var("AMAZONPAY2_DATA").expect("AMAZONPAY2_DATA: the demo's data folder"));
    let port: u16 = var("AMAZONPAY2_BENCH_PORT").expect("AMAZONPAY2_BENCH_PORT").parse().unwrap();
    let shops: usize = var("AMAZONPAY2_BENCH_SHOPS").map_or(10_000, |n| n.parse().unwrap());
    let db = match var("AMAZONPAY2_DATABASE_URL") {
        Some(url) => Store::postgres(&url).await.unwrap(),
        None => Store::sqlite(&data).await.unwrap(),
    };
    // The demo's own key and master key (the files the demo server reads from the same folder),
    // so that the simulator accepts every shop's signatures should a request reach it.
    let key = keygen::load_or_generate(&data).unwrap();
    let pem = std::fs::read(data.join("demo-private-key.pem")).unwrap();
    let master = MasterKey::read_or_create(&data.join("master.key")).unwrap();
    // One Argon2 hash for every owner: hashing is the CLI's cost, measured apart (shop add).
    let hash = amazonpay2::server::admin::auth::hash_password("bench-owner-password").await.unwrap();
    let amazon = ShopAmazon {
        merchant_id: demo_defaults::MERCHANT_ID.into(),
        store_id: demo_defaults::STORE_ID.into(),
        public_key_id: demo_defaults::PUBLIC_KEY_ID.into(),
        sandbox: true,
        key_fingerprint: fingerprint(&key),
    };

    let started = Instant::now();
    for n in 1..=shops {
        let host = ShopHost::parse(&format!("bench{n}.localhost:{port}")).unwrap();
        let added = db.add_shop(&[host], "owner", &hash).await.unwrap().unwrap();
        // Sealing binds the key to the shop: each shop's row opens only as that shop's.
        let sealed = master.seal(Binding { shop: added.id.0, field: PRIVATE_KEY }, &pem).unwrap();
        db.for_shop(added.id).set_shop_amazon(&amazon, &sealed).await.unwrap();
    }
    println!(
        "BENCH made {shops} shops with sealed keys in {:.1} s (registry version {})",
        started.elapsed().as_secs_f64(),
        db.shops_version().await.unwrap()
    );
}

/// Shop B's shoppers: each asks for its cart's checkout button every [`PACE`] and keeps how long
/// each answer took, until `until` says stop.
const B_SHOPPERS: usize = 8;
const PACE: Duration = Duration::from_millis(10);
/// How long B's shoppers are measured alone, half before A's capture and half after it.
const ALONE: Duration = Duration::from_secs(10);

async fn b_buttons(shoppers: &[Browser], until: impl Fn() -> bool + Clone + Send + 'static) -> Vec<Duration> {
    let tasks: Vec<_> = shoppers
        .iter()
        .map(|browser| {
            let (http, url, origin, until) =
                (browser.http.clone(), browser.api("/buttons"), browser.shop.clone(), until.clone());
            tokio::spawn(async move {
                let body = json!({ "blocks": [{ "kind": "checkout", "placement": "Cart", "buttonColor": "Gold" }] });
                let mut times = Vec::new();
                let mut pace = tokio::time::interval(PACE);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while !until() {
                    pace.tick().await;
                    let started = Instant::now();
                    let reply =
                        http.post(&url).header(reqwest::header::ORIGIN, &origin).json(&body).send().await.unwrap();
                    assert_eq!(reply.status(), 200);
                    reply.bytes().await.unwrap();
                    times.push(started.elapsed());
                }
                times
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.unwrap());
    }
    times.sort();
    times
}

fn p99(times: &[Duration]) -> f64 {
    times[times.len() * 99 / 100].as_secs_f64() * 1_000.0
}

/// Isolation under load: shop A (the simulator's merchant, adopted by the first `shop add`)
/// captures 1,000 orders in bulk while shop B's shoppers ask for their checkout buttons at a
/// steady pace; B's p99 beside A's capture against B's p99 alone (before and after it). Server,
/// simulator and B's shoppers share this process's two worker threads, as they would share a
/// 2-core machine. Amazon's quotas are lifted: the capture goes as fast as this machine lets it,
/// the worst case for B (at Amazon it is paced: see [`isolation_at_amazons_pace`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for tests/bench/run.sh"]
async fn isolation() {
    let orders: usize = var("AMAZONPAY2_BENCH_ORDERS").map_or(1_000, |n| n.parse().unwrap());
    isolation_of(1, orders, false).await;
}

/// [`isolation`] at Amazon's pace, as a shop meets it. The bench's shops are in the sandbox (the
/// simulator's production rules need an https shop), where Amazon takes one capture a second from
/// a merchant; production takes 4. So four shops, each its own merchant, capture at once: the
/// load of one production shop's bulk capture. Their orders are placed with the quotas lifted
/// (faster than Amazon would take them); then the shop restarts pacing its calls and the
/// simulator keeps the quotas. 30 orders each: the pace holds whatever the job's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for tests/bench/run.sh"]
async fn isolation_at_amazons_pace() {
    let orders: usize = var("AMAZONPAY2_BENCH_PACED_ORDERS").map_or(30, |n| n.parse().unwrap());
    isolation_of(4, orders, true).await;
}

/// A shop that captures: its address, and the product and shipping method its orders have.
struct Capturing {
    url: String,
    product: i64,
    shipping: i64,
}

/// B's measurement beside `shops` shops' bulk captures of `orders` orders each (Amazon's quotas
/// kept when `paced`).
async fn isolation_of(shops: usize, orders: usize, paced: bool) {
    let master_file = crate::common::sockets::DataDir::new("bench-master");
    std::fs::create_dir_all(&master_file.0).unwrap();
    let master_path = master_file.0.join("master.key");
    let master = MasterKey::read_or_create(&master_path).unwrap();
    // Amazon's quotas lifted for the purchases; kept for the capture when `paced`.
    let world = World::start_with(vec![
        ("AMAZONPAY2_MASTER_KEY", master_path.display().to_string()),
        ("AMAZONPAY2_SIMULATOR_QUOTAS", "off".to_owned()),
    ])
    .await;
    let addr: SocketAddr = world.shop.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let db = amazonpay2::storage::AsStore::store(&*world.db);
    let hash = amazonpay2::server::admin::auth::hash_password(OWNER_PASSWORD).await.unwrap();
    let a = db.add_shop(&[ShopHost::parse(&addr.to_string()).unwrap()], OWNER, &hash).await.unwrap().unwrap();
    assert!(a.adopted);
    let mut capturing =
        vec![Capturing { url: world.shop.trim_end_matches('/').to_owned(), product: MUG, shipping: TAKKYUBIN }];
    let mut names = vec!["shop-b.localhost".to_owned()];
    // More capturing shops, each its own merchant at Amazon with a key of its own, as Seller
    // Central and `shop keys` leave them.
    for n in 1..shops {
        let host = format!("shop-a{n}.localhost:{}", addr.port());
        names.push(format!("shop-a{n}.localhost"));
        let added = db.add_shop(&[ShopHost::parse(&host).unwrap()], OWNER, &hash).await.unwrap().unwrap();
        let (private_pem, public_pem) = key_pair();
        let merchant = json!({ "publicKeyPem": public_pem, "sandbox": true });
        let ids = world.amazon_control_answer("merchants", merchant).await;
        let sealed = master.seal(Binding { shop: added.id.0, field: PRIVATE_KEY }, private_pem.as_bytes()).unwrap();
        let amazon = ShopAmazon {
            merchant_id: ids["merchantId"].as_str().unwrap().into(),
            store_id: ids["storeId"].as_str().unwrap().into(),
            public_key_id: ids["publicKeyId"].as_str().unwrap().into(),
            sandbox: true,
            key_fingerprint: format!("SHA256:a{n}"),
        };
        let shop_db = db.for_shop(added.id);
        shop_db.set_shop_amazon(&amazon, &sealed).await.unwrap();
        let (product, shipping) = catalogue(&shop_db, 2_000 + n as i64).await;
        capturing.push(Capturing { url: format!("http://{host}"), product, shipping });
    }
    let b_host = format!("shop-b.localhost:{}", addr.port());
    let b = db.add_shop(&[ShopHost::parse(&b_host).unwrap()], OWNER, &hash).await.unwrap().unwrap();
    // B's keys as `shop keys` leaves them (nothing B does here reaches Amazon), and a catalogue.
    let pem = std::fs::read(KEY_FILE).unwrap();
    let sealed = master.seal(Binding { shop: b.id.0, field: PRIVATE_KEY }, &pem).unwrap();
    let amazon = ShopAmazon {
        merchant_id: "A2SHOPBMERCHANT".into(),
        store_id: "amzn1.application-oa2-client.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".into(),
        public_key_id: "SANDBOX-BBBBBBBBBBBBBBBBBBBBBBBB".into(),
        sandbox: true,
        key_fingerprint: "SHA256:bb".into(),
    };
    let b_db = db.for_shop(b.id);
    b_db.set_shop_amazon(&amazon, &sealed).await.unwrap();
    let (b_mug, b_takkyubin) = catalogue(&b_db, 1_001).await;
    world._server.shops.refresh().await.unwrap();
    // A browser with its own cookies, reaching every shop's host on the server's port.
    let client = || names.iter().fold(cookie_client(), |builder, name| builder.resolve(name, addr)).build().unwrap();

    // Their orders: guests buy a mug with Visa (仮売上), eight at a time, as in admin.rs.
    let started = Instant::now();
    for shop in &capturing {
        futures_util::stream::iter(0..orders)
            .map(|_| async {
                let http = client();
                let guest = Browser { shop: shop.url.clone(), amazon: world.amazon.clone(), http };
                guest.fill_cart(&[(shop.product, 1)], shop.shipping).await;
                guest.to_confirmation(VISA).await;
                completed_order(&guest.place_and_finish().await, "order_placed");
            })
            .buffer_unordered(8)
            .count()
            .await;
    }
    eprintln!("   ({} purchases in {shops} shop(s) made in {:.1} s)", orders * shops, started.elapsed().as_secs_f64());
    let world = if paced { world.keeping_amazons_quotas().await } else { world };

    // B's shoppers, each with a mug in the cart (its checkout button is a button, not a notice).
    let mut shoppers = Vec::new();
    for _ in 0..B_SHOPPERS {
        let http = client();
        let browser = Browser { shop: format!("http://{b_host}"), amazon: world.amazon.clone(), http };
        browser.fill_cart(&[(b_mug, 1)], b_takkyubin).await;
        assert!(browser.view("checkout").await.get("options").is_some(), "B's checkout button");
        shoppers.push(browser);
    }
    // B alone for 5 s before the capture and 5 s after it: the machine's speed drifts between
    // runs and within one, and the capture falls between the two halves.
    let alone_until = Instant::now() + ALONE / 2;
    let mut alone = b_buttons(&shoppers, move || Instant::now() >= alone_until).await;

    // Each capturing shop's owner captures every order from 「AmazonPay クレジット決済状況」 while
    // B's shoppers go on.
    let mut owners = Vec::new();
    for shop in &capturing {
        let owner = AdminBrowser { shop: shop.url.clone(), http: client() };
        owner.log_in().await;
        let csrf = owner.csrf().await;
        owners.push((owner, csrf));
    }
    let capturing_now = Arc::new(AtomicBool::new(true));
    let during = {
        let capturing_now = capturing_now.clone();
        tokio::spawn(b_buttons_owned(shoppers, move || !capturing_now.load(Ordering::Relaxed)))
    };
    let started = Instant::now();
    let mut jobs = Vec::new();
    for (owner, csrf) in &owners {
        let job = owner.post("/admin/amazonpay/capture", &[("csrf", csrf.as_str()), ("scope", "all")]).await.location();
        jobs.push(job.rsplit('/').next().unwrap().to_owned());
    }
    let mut done = 0;
    for ((owner, _), id) in owners.iter().zip(&jobs) {
        done += loop {
            let answer = owner.http.get(owner.url(&format!("/api/amazonpay2/admin/bulk/{id}"))).send().await.unwrap();
            let progress: Value = answer.json().await.unwrap();
            if progress["running"] == false {
                break progress["done"].as_u64().unwrap() as usize;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
    }
    let captured_in = started.elapsed();
    capturing_now.store(false, Ordering::Relaxed);
    let (during, shoppers) = during.await.unwrap();
    assert_eq!(done, orders * shops, "every order captured");
    let alone_until = Instant::now() + ALONE / 2;
    let later = b_buttons(&shoppers, move || Instant::now() >= alone_until).await;
    let (before, after) = (p99(&alone), p99(&later));
    alone.extend(later);
    alone.sort();
    let (alone, during) = (p99(&alone), p99(&during));
    let pace = if paced {
        format!("{shops} shops at Amazon's sandbox pace of 1 a second each: one production shop's 4")
    } else {
        "Amazon's quotas lifted".to_owned()
    };
    println!(
        "BENCH isolation: shop B's checkout button p99 {alone:.2} ms alone ({before:.2} before the capture, {after:.2} \
         after), {during:.2} ms while {done} orders were captured ({:.1} s, {pace}): {:.1}x {} (budget: at most 2x)",
        captured_in.as_secs_f64(),
        during / alone,
        if during <= 2.0 * alone { "ok" } else { "OVER" }
    );
}

/// A new RSA key pair: the private key's PEM (PKCS#8) and the public key's (SPKI).
fn key_pair() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    (pem, private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap())
}

/// A shop's catalogue of one mug and one shipping method, both numbered `id`.
async fn catalogue(db: &impl amazonpay2::storage::Shop, id: i64) -> (i64, i64) {
    let product = Product { id, name: "マグカップ".into(), price: 2_750, recurring: false };
    let shipping = ShippingMethod { id, name: "宅配便".into(), fee: 880, amazon_pay_allowed: true };
    db.seed_catalogue(&[product], &[shipping]).await.unwrap();
    (id, id)
}

async fn b_buttons_owned(
    shoppers: Vec<Browser>,
    until: impl Fn() -> bool + Clone + Send + 'static,
) -> (Vec<Duration>, Vec<Browser>) {
    (b_buttons(&shoppers, until).await, shoppers)
}
