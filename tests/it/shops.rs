//! Many shops on one deployment, as attacks: every request is served by the shop of its host,
//! and nothing of one shop is read or changed through another's host, owner session, shopper
//! session, order ID, job ID or sealed key. Shop A is the shop the server started with (the
//! simulator's merchant), adopted by the first `shop add`; shop B is added beside it.

use std::net::SocketAddr;
use std::sync::Arc;

use amazonpay2::core::orders::OrderState;
use amazonpay2::core::settings::ShopHost;
use amazonpay2::server::shops::TenantError;
use amazonpay2::storage::shops::{PRIVATE_KEY, ShopAmazon, ShopState};
use amazonpay2::storage::vault::{Binding, MasterKey};
use amazonpay2::storage::{BackOffice, BulkOrder, ShopId, Store};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header;
use serde_json::{Value, json};

use crate::common::admin::{AdminBrowser, OWNER, OWNER_PASSWORD, Page};
use crate::common::checkout::*;
use crate::common::sockets::Browser;

const B_OWNER_PASSWORD: &str = "b-owner-password-2";

/// The world of the checkout tests, its shop adopted as shop A on the world's own host, and shop
/// B beside it on `shop-b.localhost` with keys of its own.
struct Shops {
    world: World,
    addr: SocketAddr,
    a: ShopId,
    b: ShopId,
    _master: MasterFile,
}

/// A master key file removed when dropped.
struct MasterFile(std::path::PathBuf);

impl Drop for MasterFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn store(world: &World) -> &Store {
    amazonpay2::storage::AsStore::store(&*world.db)
}

impl Shops {
    async fn start() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "amazonpay2-master-{}-{}.key",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let master = MasterKey::read_or_create(&path).unwrap();
        let world = World::start_with(vec![("AMAZONPAY2_MASTER_KEY", path.display().to_string())]).await;
        amazonpay2::server::admin::put_account(&world.db, OWNER, OWNER_PASSWORD).await.unwrap();
        let addr: SocketAddr = world.shop.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
        let db = store(&world);
        let a = db.add_shop(&[host(&addr.to_string())], OWNER, &hash(OWNER_PASSWORD).await).await.unwrap().unwrap();
        assert!(a.adopted);
        let b = db.add_shop(&[host(&b_host(addr))], OWNER, &hash(B_OWNER_PASSWORD).await).await.unwrap().unwrap();
        // B's keys as `shop keys` leaves them (Amazon is not asked here: nothing B does below
        // reaches Amazon).
        let pem = std::fs::read(KEY_FILE).unwrap();
        let sealed = master.seal(Binding { shop: b.id.0, field: PRIVATE_KEY }, &pem).unwrap();
        let amazon = ShopAmazon {
            merchant_id: "A2SHOPBMERCHANT".into(),
            store_id: "amzn1.application-oa2-client.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".into(),
            public_key_id: "SANDBOX-BBBBBBBBBBBBBBBBBBBBBBBB".into(),
            sandbox: true,
            key_fingerprint: "SHA256:bb".into(),
        };
        db.for_shop(b.id).set_shop_amazon(&amazon, &sealed).await.unwrap();
        world._server.shops.refresh().await.unwrap();
        Self { world, addr, a: a.id, b: b.id, _master: MasterFile(path) }
    }

    fn a_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn b_url(&self) -> String {
        format!("http://{}", b_host(self.addr))
    }

    /// An HTTP client reaching both shops' hosts on the server's port, without cookies.
    fn client(&self) -> reqwest::Client {
        self.builder().build().unwrap()
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve("shop-b.localhost", self.addr)
            .resolve("nobody.localhost", self.addr)
            .resolve("localhost", self.addr)
    }

    /// A client keeping its cookies in a jar the test can read.
    fn with_jar(&self) -> (reqwest::Client, Arc<Jar>) {
        let jar = Arc::new(Jar::default());
        (self.builder().cookie_provider(jar.clone()).build().unwrap(), jar)
    }

    /// An owner's browser on `url`, and its cookies.
    fn owner(&self, url: String) -> (AdminBrowser, Arc<Jar>) {
        let (http, jar) = self.with_jar();
        (AdminBrowser { shop: url, http }, jar)
    }

    /// An order of A, bought through the simulator and authorized (仮売上).
    async fn a_order(&self) -> amazonpay2::core::platform::Order {
        let (_, session) = self.world.customer(&[(MUG, 1)], TAKKYUBIN).await;
        self.world.db.order_by_checkout_session(&session).await.unwrap().expect("A's order")
    }
}

fn host(name: &str) -> ShopHost {
    ShopHost::parse(name).unwrap()
}

fn b_host(addr: SocketAddr) -> String {
    format!("shop-b.localhost:{}", addr.port())
}

async fn hash(password: &str) -> String {
    amazonpay2::server::admin::auth::hash_password(password).await.unwrap()
}

#[tokio::test]
async fn a_host_of_no_shop_and_a_disabled_shops_hosts_get_a_bare_404_and_nothing_of_any_shop() {
    let shops = Shops::start().await;
    let http = shops.client();
    let port = shops.addr.port();
    // Another name of the same machine is another host: not a shop's.
    for url in [format!("http://nobody.localhost:{port}"), format!("http://localhost:{port}")] {
        for path in ["/", "/admin/", "/admin/login", "/api/amazonpay2/session", "/amazonpay2/amazonpay2.js"] {
            let answer = Page::read(http.get(format!("{url}{path}")).send().await.unwrap()).await;
            assert_eq!((answer.status, answer.body.as_str()), (404, ""), "{url}{path}");
            assert!(answer.headers.get(header::SET_COOKIE).is_none());
        }
        let posted = http
            .post(format!("{url}/api/amazonpay2/buttons"))
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 404);
    }
    // Both shops are served on their own hosts.
    for url in [shops.a_url(), shops.b_url()] {
        assert_eq!(http.get(format!("{url}/admin/login")).send().await.unwrap().status(), 200, "{url}");
    }
    let db = store(&shops.world);
    db.set_shop_state(&host(&b_host(shops.addr)), ShopState::Disabled).await.unwrap().unwrap();
    shops.world._server.shops.refresh().await.unwrap();
    let answer = Page::read(http.get(format!("{}/admin/login", shops.b_url())).send().await.unwrap()).await;
    assert_eq!((answer.status, answer.body.as_str()), (404, ""));
    assert_eq!(http.get(format!("{}/admin/login", shops.a_url())).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_owner_signed_in_to_one_shop_is_nobody_on_another_and_each_shop_has_its_own_password() {
    let shops = Shops::start().await;
    let (a_owner, jar) = shops.owner(shops.a_url());
    a_owner.log_in().await;
    assert_eq!(a_owner.get("/admin/").await.status, 200);
    // A's owner cookie, presented on B's host.
    let stolen = cookies(&jar, &shops.a_url());
    let on_b =
        shops.client().get(format!("{}/admin/", shops.b_url())).header(header::COOKIE, &stolen).send().await.unwrap();
    assert_eq!(on_b.status(), 303);
    assert!(on_b.headers()[header::LOCATION].to_str().unwrap().starts_with("/admin/login"));
    // The same account name in B takes B's password, not A's.
    let (b_owner, _) = shops.owner(shops.b_url());
    let refused = b_owner.log_in_as(OWNER, OWNER_PASSWORD).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let admitted = b_owner.log_in_as(OWNER, B_OWNER_PASSWORD).await;
    assert_eq!(admitted.location(), "/admin/");
}

/// The `Cookie` header a browser with `jar` sends to `url`.
fn cookies(jar: &Jar, url: &str) -> String {
    let header = jar.cookies(&url.parse().unwrap()).expect("cookies for the shop");
    header.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn another_shops_order_and_job_are_not_found_and_not_changed_from_a_shops_admin() {
    let shops = Shops::start().await;
    let order = shops.a_order().await;
    let job = store(&shops.world)
        .for_shop(shops.a)
        .start_bulk(OWNER, &[BulkOrder { order: order.id, number: order.number.clone() }], "test")
        .await
        .unwrap();
    let (b_owner, _) = shops.owner(shops.b_url());
    assert_eq!(b_owner.log_in_as(OWNER, B_OWNER_PASSWORD).await.location(), "/admin/");
    for path in
        [format!("/admin/orders/{}", order.id.0), format!("/admin/amazonpay/jobs/{job}"), format!("/admin/bulk/{job}")]
    {
        let answer = b_owner.get(&path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(!answer.body.contains(&order.number), "{path}");
    }
    let list = b_owner.get("/admin/orders").await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains(&order.number), "B's list holds none of A's orders");
    // A capture of A's order from B's admin: refused before Amazon, and A's order as it was.
    let csrf = b_owner.csrf().await;
    let capture = b_owner
        .post(&format!("/admin/orders/{}/payment", order.id.0), &[("csrf", &csrf), ("op", "capture"), ("version", "0")])
        .await;
    assert_eq!(capture.status, 404, "{}", capture.body);
    let after = shops.world.db.order(order.id).await.unwrap().unwrap();
    assert_eq!((after.state, after.version), (order.state, order.version));
    // Through A's own admin, the order is there.
    let (a_owner, _) = shops.owner(shops.a_url());
    a_owner.log_in().await;
    assert_eq!(a_owner.get(&format!("/admin/orders/{}", order.id.0)).await.status, 200);
    let _ = shops.b;
}

#[tokio::test]
async fn a_shoppers_session_of_one_shop_is_unknown_to_another() {
    let shops = Shops::start().await;
    let (http, jar) = shops.with_jar();
    let member = Browser { shop: shops.a_url(), amazon: shops.world.amazon.clone(), http };
    member.become_member().await;
    let state = |url: String, cookie: Option<String>| {
        let mut request = shops.client().get(format!("{url}/api/amazonpay2/session"));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap()["member"]["state"].clone() }
    };
    let stolen = cookies(&jar, &shops.a_url());
    assert_eq!(state(shops.a_url(), Some(stolen.clone())).await, "member");
    assert_eq!(state(shops.b_url(), Some(stolen)).await, "guest", "A's member is nobody on B");
}

#[tokio::test]
async fn a_sealed_key_copied_into_another_shops_row_does_not_open_there() {
    let shops = Shops::start().await;
    let db = store(&shops.world);
    let c = db.add_shop(&[host("shop-c.localhost")], OWNER, &hash(OWNER_PASSWORD).await).await.unwrap().unwrap();
    let b_sealed = db.for_shop(shops.b).shop_secret(PRIVATE_KEY).await.unwrap().expect("B's sealed key");
    let amazon = ShopAmazon {
        merchant_id: "A3SHOPCMERCHANT".into(),
        store_id: "amzn1.application-oa2-client.cccccccccccccccccccccccccccccccc".into(),
        public_key_id: "SANDBOX-CCCCCCCCCCCCCCCCCCCCCCCC".into(),
        sandbox: true,
        key_fingerprint: "SHA256:cc".into(),
    };
    db.for_shop(c.id).set_shop_amazon(&amazon, &b_sealed).await.unwrap();
    let served = &shops.world._server.shops;
    served.refresh().await.unwrap();
    match served.tenant("shop-c.localhost").await {
        Err(TenantError::Key { shop, .. }) => assert_eq!(shop, c.id),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("B's key opened as C's"),
    }
    // B's own row opens.
    assert!(served.tenant(&b_host(shops.addr)).await.unwrap().is_some());
    let _ = Arc::clone(served);
}

#[tokio::test]
async fn a_notification_for_one_shops_merchant_is_refused_on_another_shops_host_and_followed_on_its_own() {
    let shops = Shops::start().await;
    let order = shops.a_order().await;
    let charge = order.charge_id.clone().expect("the authorized charge");
    // Amazon notifies A's merchant at a host of B (a wrong step ⑨, or A's notification replayed
    // there by someone who saw it).
    let of_b = format!("localhost:{}", shops.addr.port());
    store(&shops.world).change_hosts(&host(&b_host(shops.addr)), &[host(&of_b)], &[]).await.unwrap().unwrap();
    shops.world._server.shops.refresh().await.unwrap();
    let at_b = format!("http://{of_b}/api/amazonpay2/ipn.php");
    shops.world.amazon_control("ipn", json!({ "url": at_b, "attempts": 1, "firstDelayMs": 0 })).await;
    shops.world.amazon_control("seller-central", json!({ "action": "capture", "chargeId": charge })).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let refused = loop {
        assert!(tokio::time::Instant::now() < deadline, "no answer from B's host");
        let reply = reqwest::get(format!("{}/__simulator/ipn/deliveries", shops.world.amazon)).await.unwrap();
        let log: Vec<Value> = reply.json::<Value>().await.unwrap().as_array().unwrap().clone();
        if let Some(done) = log.into_iter().find(|d| d["objectId"] == charge.as_str() && d["status"] != "pending") {
            break done;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(refused["responses"], json!([403]), "{refused}");
    assert_eq!(refused["merchantId"], shops.world.config.amazon.merchant_id.as_str());
    assert_eq!(shops.world.db.order(order.id).await.unwrap().unwrap().state, OrderState::Authorized);
    // The same envelope on A's own host is A's, and followed.
    let followed = shops
        .client()
        .post(format!("{}/api/amazonpay2/ipn.php", shops.a_url()))
        .header(header::CONTENT_TYPE, "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", "Notification")
        .header("x-amz-sns-topic-arn", refused["topicArn"].as_str().unwrap())
        .body(refused["body"].as_str().unwrap().to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 200);
    assert_eq!(shops.world.db.order(order.id).await.unwrap().unwrap().state, OrderState::Captured);
}

/// A key pair of shop C's own (PKCS#8 private PEM, public PEM), made once.
static C_KEY: std::sync::LazyLock<(String, String)> = std::sync::LazyLock::new(|| {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    (pem, private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap())
});

/// A form field: its name, its file name (for a file), its value.
type Field<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// A `multipart/form-data` body of `fields`, as a browser sends the keys form; and its content
/// type.
fn multipart(fields: &[Field<'_>]) -> (String, Vec<u8>) {
    let boundary = "----amazonpay2-test-boundary";
    let mut body = Vec::new();
    for (name, file, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(file) = file {
            body.extend_from_slice(
                format!("; filename=\"{file}\"\r\nContent-Type: application/octet-stream").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the keys form from the shop's own page.
async fn post_keys(owner: &AdminBrowser, fields: &[Field<'_>]) -> Page {
    let csrf = owner.csrf().await;
    let mut all: Vec<Field<'_>> = vec![("csrf", None, csrf.as_bytes())];
    all.extend_from_slice(fields);
    let (content_type, body) = multipart(&all);
    let reply = owner
        .http
        .post(owner.url("/admin/settings/amazonpay"))
        .header(header::ORIGIN, &owner.shop)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    Page::read(reply).await
}

/// The status and error code of a checkout button on `url`'s shop for a first visit.
async fn first_button(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let block = json!({ "blocks": [{ "kind": "login", "placement": "Other", "buttonColor": "Gold" }] });
    let reply =
        http.post(format!("{url}/api/amazonpay2/buttons")).header(header::ORIGIN, url).json(&block).send().await;
    let reply = reply.unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

#[tokio::test]
async fn a_new_shop_serves_its_admin_without_keys_and_connects_amazon_pay_once_amazon_accepts_its_keys() {
    let shops = Shops::start().await;
    let c_host = format!("shop-c.localhost:{}", shops.addr.port());
    let c_url = format!("http://{c_host}");
    let db = store(&shops.world);
    db.add_shop(&[host(&c_host)], OWNER, &hash(B_OWNER_PASSWORD).await).await.unwrap().unwrap();
    shops.world._server.shops.refresh().await.unwrap();
    let http = shops.builder().resolve("shop-c.localhost", shops.addr).build().unwrap();
    let (status, error) = first_button(&http, &c_url).await;
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("amazon_pay_not_set_up")), "{error}");

    let jar = Arc::new(Jar::default());
    let client = shops.builder().resolve("shop-c.localhost", shops.addr).cookie_provider(jar).build().unwrap();
    let owner = AdminBrowser { shop: c_url.clone(), http: client };
    assert_eq!(owner.log_in_as(OWNER, B_OWNER_PASSWORD).await.location(), "/admin/");
    let page = owner.get("/admin/settings/amazonpay").await;
    assert!(page.shows("未登録") && page.shows("enctype=\"multipart/form-data\""), "{}", page.body);
    let csrf = owner.csrf().await;
    let checked = owner.post("/admin/settings/amazonpay/check", &[("csrf", &csrf)]).await;
    assert!(
        checked.shows("確認が必要な項目があります") && checked.shows("キーがまだ登録されていません"),
        "{}",
        checked.body
    );
    assert!(checked.shows(&format!("{c_url}/api/amazonpay2/ipn.php")), "the IPN URL to register, from its own host");

    // Seller Central's steps ③–⑤ for shop C (the test control does what its pages do).
    let (private_pem, public_pem) = &*C_KEY;
    let registered = reqwest::Client::new()
        .post(format!("{}/__simulator/merchants", shops.world.amazon))
        .json(&json!({ "publicKeyPem": public_pem, "sandbox": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let ids: Value = registered.json().await.unwrap();
    let credentials = ids.to_string();
    let a_key = std::fs::read(KEY_FILE).unwrap();

    // Refused, each naming the value at fault; nothing saved.
    let refusals: [(&[Field<'_>], &str); 4] = [
        (&[("credentials", Some("keys.json"), credentials.as_bytes()), ("mode", None, b"sandbox")], "秘密鍵のファイル"),
        (
            &[
                ("private_key", Some("AmazonPay.pem"), private_pem.as_bytes()),
                ("credentials", Some("keys.json"), credentials.as_bytes()),
                ("mode", None, b"live"),
            ],
            "アクセスモード",
        ),
        (
            &[
                ("private_key", Some("other.pem"), &a_key),
                ("credentials", Some("keys.json"), credentials.as_bytes()),
                ("mode", None, b"sandbox"),
            ],
            "秘密鍵がこの公開鍵 ID のものではありません",
        ),
        (
            &[
                ("private_key", Some("AmazonPay.pem"), private_pem.as_bytes()),
                ("credentials", Some("keys.json"), credentials.as_bytes()),
                ("store_id", None, shops.world.config.amazon.store_id.as_bytes()),
                ("mode", None, b"sandbox"),
            ],
            "Store ID",
        ),
    ];
    for (fields, names) in refusals {
        let refused = post_keys(&owner, fields).await;
        assert_eq!(refused.status, 422, "{names}: {}", refused.body);
        assert!(refused.shows(names), "{names}: {}", refused.body);
        assert!(!refused.shows("BEGIN PRIVATE KEY"), "the key is never shown");
    }
    assert!(db.for_shop(ShopId(3)).shop_secret(PRIVATE_KEY).await.unwrap().is_none(), "nothing saved");

    // Accepted: saved, sealed, and shown by its fingerprint only.
    let accepted = post_keys(
        &owner,
        &[
            ("private_key", Some("AmazonPay.pem"), private_pem.as_bytes()),
            ("credentials", Some("keys.json"), credentials.as_bytes()),
            ("mode", None, b"sandbox"),
        ],
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert!(accepted.shows("Amazon がキーを受け付けました") && accepted.shows("SHA256:"), "{}", accepted.body);
    let sealed = db.for_shop(ShopId(3)).shop_secret(PRIVATE_KEY).await.unwrap().expect("sealed");
    assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"), "stored sealed, not as the PEM");
    shops.world._server.shops.refresh().await.unwrap();
    let csrf = owner.csrf().await;
    let checked = owner.post("/admin/settings/amazonpay/check", &[("csrf", &csrf)]).await;
    assert!(checked.shows("すべて正常です") && checked.shows("Amazon が受け付けました (Sandbox)"), "{}", checked.body);
    let (status, view) = first_button(&http, &c_url).await;
    assert_eq!(status, 200, "{view}");
    let text = view.to_string();
    assert_eq!(view["blocks"][0]["options"]["merchantId"], ids["merchantId"], "{view}");
    assert!(!text.contains(&shops.world.config.amazon.merchant_id), "never A's merchant");
}
