//! `shop …` and `keys rotate-master` on the real binary, against a shop's own settings (SQLite):
//! hosts kept as the registry keeps them, every refusal naming what is wrong and changing nothing,
//! and the master key's rotation resealing every shop's key (all or nothing).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use amazonpay2::storage::shops::{PRIVATE_KEY, ShopAmazon};
use amazonpay2::storage::vault::{Binding, MasterKey};
use amazonpay2::storage::{ShopId, Store};

use crate::common::checkout::KEY_FILE;
use crate::common::sockets::DataDir;

/// The binary with a production shop's settings on the data folder `data`, its master key
/// beside the database.
fn server(data: &DataDir, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
    command
        .env_clear()
        .env("RUST_LOG", "warn")
        .env("AMAZONPAY2_DATA", &data.0)
        .env("AMAZONPAY2_MASTER_KEY", data.0.join("master.key"))
        .env("AMAZONPAY2_MERCHANT_ID", "A1XXXXXXXXXXXX")
        .env("AMAZONPAY2_STORE_ID", "amzn1.application-oa2-client.abc")
        .env("AMAZONPAY2_PUBLIC_KEY_ID", "SANDBOX-AAAAAAAA")
        .env("AMAZONPAY2_PRIVATE_KEY", KEY_FILE)
        .env("AMAZONPAY2_SHOP_ORIGIN", "https://a.example.jp")
        .args(args);
    command
}

/// Runs it with `stdin`; its exit status, standard output and standard error.
fn run(data: &DataDir, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child =
        server(data, args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
    (status.success(), String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}

#[test]
fn shops_are_added_listed_rehosted_and_disabled_and_every_refusal_changes_nothing() {
    let data = DataDir::new("shop-commands");
    MasterKey::read_or_create(&data.0.join("master.key")).unwrap();
    let (ok, out, err) = run(&data, &["shop", "add", "A.Example.JP.", "--owner", "owner-a"], "password-a-1\n");
    assert!(ok, "{err}");
    assert!(out.contains("shop 1 (the shop served so far") && out.contains("a.example.jp"), "{out}");
    assert!(out.contains("https://a.example.jp/api/amazonpay2/ipn.php"), "the IPN URL to register: {out}");
    let (ok, out, err) = run(&data, &["shop", "add", "b.example.jp", "--owner", "owner-b"], "password-b-1\n");
    assert!(ok && out.contains("shop 2 answers on b.example.jp"), "{out}{err}");

    let refusals: [(&[&str], &str, &str); 5] = [
        (&["shop", "add", "a.example.jp", "--owner", "x"], "password-x-1\n", "already a host of a shop"),
        (&["shop", "add", "https://c.example.jp/", "--owner", "x"], "password-x-1\n", "must be a host"),
        (&["shop", "add", "c.example.jp", "--owner", "x"], "short\n", "8 to 128"),
        (&["shop", "hosts", "b.example.jp", "--remove", "b.example.jp"], "", "last host"),
        (&["shop", "disable", "nobody.example.jp"], "", "no shop answers on nobody.example.jp"),
    ];
    for (args, stdin, says) in refusals {
        let (ok, _, err) = run(&data, args, stdin);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
    }
    let (_, list, _) = run(&data, &["shop", "list"], "");
    assert_eq!(list.lines().count(), 2, "nothing added by a refusal: {list}");

    let (ok, _, err) =
        run(&data, &["shop", "hosts", "b.example.jp", "--add", "c.example.jp", "--remove", "b.example.jp"], "");
    assert!(ok, "{err}");
    let (ok, _, err) = run(&data, &["shop", "disable", "c.example.jp"], "");
    assert!(ok, "{err}");
    let (_, list, _) = run(&data, &["shop", "list"], "");
    assert!(list.contains("1\tactive\ta.example.jp\tkeys from the AMAZONPAY2_* settings"), "{list}");
    assert!(list.contains("2\tdisabled\tc.example.jp\tno Amazon keys yet"), "{list}");

    // Keys that cannot be read are refused before Amazon is asked; nothing is saved.
    let garbage = data.0.join("not-a-key.pem");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
    let args = [
        "shop",
        "keys",
        "c.example.jp",
        "--merchant-id",
        "A2XXXXXXXXXXXX",
        "--store-id",
        "amzn1.application-oa2-client.def",
        "--public-key-id",
        "SANDBOX-BBBBBBBB",
        "--private-key",
    ];
    let mut args: Vec<&str> = args.to_vec();
    let garbage = garbage.display().to_string();
    args.extend([garbage.as_str(), "--sandbox"]);
    let (ok, _, err) = run(&data, &args, "");
    assert!(!ok && err.contains("private key file cannot be read") && err.contains("nothing saved"), "{err}");
    let (_, list, _) = run(&data, &["shop", "list"], "");
    assert!(list.contains("no Amazon keys yet"), "{list}");
}

#[tokio::test]
async fn rotating_the_master_key_reseals_every_shops_key_or_nothing() {
    let data = DataDir::new("rotate-master");
    let old = MasterKey::read_or_create(&data.0.join("master.key")).unwrap();
    let db = Store::sqlite(&data.0).await.unwrap();
    let pem = std::fs::read(KEY_FILE).unwrap();
    // The first is the shop of the settings, taken as the first shop is.
    for (n, host) in [(1, "b.example.jp"), (2, "c.example.jp")] {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let id = db.ensure_shop(host, &[amazonpay2::core::settings::ShopHost::parse(host).unwrap()], "o", hash).await;
        let id = id.unwrap();
        assert_eq!(id, ShopId(n));
        let sealed = old.seal(Binding { shop: id.0, field: PRIVATE_KEY }, &pem).unwrap();
        let amazon = ShopAmazon {
            merchant_id: "A2XXXXXXXXXXXX".into(),
            store_id: "amzn1.application-oa2-client.def".into(),
            public_key_id: "SANDBOX-BBBBBBBB".into(),
            sandbox: true,
            key_fingerprint: "SHA256:00".into(),
        };
        db.for_shop(id).set_shop_amazon(&amazon, &sealed).await.unwrap();
    }
    drop(db);
    let sealed = |db: &Store, shop: i64| {
        let db = db.for_shop(ShopId(shop));
        async move { db.shop_secret(PRIVATE_KEY).await.unwrap().unwrap() }
    };

    // A new key that is not one: refused, and every secret as it was.
    let bad = data.0.join("bad.key");
    std::fs::write(&bad, b"too short").unwrap();
    let (ok, _, err) = run(&data, &["keys", "rotate-master", "--new", &bad.display().to_string()], "");
    assert!(!ok && err.contains("--new"), "{err}");
    let db = Store::sqlite(&data.0).await.unwrap();
    for shop in [1, 2] {
        assert!(old.open(Binding { shop, field: PRIVATE_KEY }, &sealed(&db, shop).await).is_ok());
    }
    drop(db);

    let new_path = data.0.join("master-2.key");
    let new = MasterKey::read_or_create(&new_path).unwrap();
    let (ok, out, err) = run(&data, &["keys", "rotate-master", "--new", &new_path.display().to_string()], "");
    assert!(ok, "{err}");
    assert!(out.contains(&format!("2 secret(s) sealed under master key {}", new.id())), "{out}");
    let db = Store::sqlite(&data.0).await.unwrap();
    for shop in [1, 2] {
        let now = sealed(&db, shop).await;
        let binding = Binding { shop, field: PRIVATE_KEY };
        assert_eq!(new.open(binding, &now).unwrap().as_slice(), pem.as_slice());
        assert!(old.open(binding, &now).is_err(), "the old master key opens nothing any more");
    }
}
