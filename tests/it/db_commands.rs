//! `amazonpay2-server db migrate` and `db copy`: moving a shop from its SQLite file to PostgreSQL
//! without losing orders or links. The copy runs when `AMAZONPAY2_TEST_DATABASE_URL` is set.

use crate::common::databases::Target;
use crate::common::instances::run;
use amazonpay2::core::orders::{Actor, OrderState, Transition};
use amazonpay2::core::platform::{NewOrder, Opened, OrderLine};
use amazonpay2::storage::NewMember;
use amazonpay2::storage::SCHEMA_VERSION;

/// The environment of a command on `target`.
fn vars(target: &Target) -> Vec<(&'static str, String)> {
    vec![target.setting(), ("AMAZONPAY2_PRIVATE_KEY", crate::common::instances::KEY_FILE.to_owned())]
}

#[tokio::test]
async fn db_migrate_makes_the_sqlite_database_and_says_its_version() {
    let target = Target::sqlite("db-migrate");
    let (ok, out) = run(&["db", "migrate"], &vars(&target)).await;
    assert!(ok);
    // Its own words and its own version: the file it made, SQLite's newest migration (each
    // migration is written for both databases, under the same number).
    let (_, folder) = target.setting();
    assert_eq!(out.trim(), format!("SQLite database {folder}/amazonpay2.sqlite3 at schema version {SCHEMA_VERSION}"));
    assert_eq!(target.count("SELECT count(*) FROM _sqlx_migrations").await, SCHEMA_VERSION, "one row per migration");
}

#[tokio::test]
async fn db_migrate_on_postgresql_runs_once() {
    let Some(target) = Target::postgres("db_migrate").await else { return };
    for _ in 0..2 {
        let (ok, out) = run(&["db", "migrate"], &vars(&target)).await;
        assert!(ok);
        assert_eq!(out.trim(), format!("PostgreSQL database at schema version {SCHEMA_VERSION}"));
    }
    assert_eq!(target.count("SELECT count(*) FROM _sqlx_migrations").await, SCHEMA_VERSION, "one row per migration");
}

#[tokio::test]
async fn a_bad_database_url_stops_the_command_with_the_setting_named() {
    let target = Target::sqlite("db-bad-url");
    let mut vars = vars(&target);
    vars.push(("AMAZONPAY2_DATABASE_URL", "mysql://shop@db/shop".into()));
    let (ok, _) = run(&["db", "migrate"], &vars).await;
    assert!(!ok);
}

#[tokio::test]
async fn db_copy_moves_every_row_verified_and_refuses_a_target_with_data() {
    let Some(target) = Target::postgres("db_copy").await else { return };
    // A shop on SQLite: a linked member, a catalogue, an authorized order with its history.
    let source = Target::sqlite("db-copy-source");
    let sqlite = source.open().await;
    let member = sqlite
        .create_member(&NewMember { email: "taro@example.jp".into(), ..NewMember::default() }, "hash")
        .await
        .unwrap()
        .unwrap();
    sqlite.link(member, "amzn1.account.TARO").await.unwrap().unwrap();
    let (products, shipping) = amazonpay2::demo::catalogue();
    sqlite.seed_catalogue(&products, &shipping).await.unwrap();
    let cart = sqlite.create_cart().await.unwrap();
    sqlite.set_cart_item(&cart, products[0].id, 2).await.unwrap();
    let new = NewOrder {
        member: Some(member),
        checkout_session_id: Some("cs-copy".into()),
        cart: Some(cart),
        buyer_name: String::new(),
        buyer_email: "taro@example.jp".into(),
        cycle: None,
        lines: vec![OrderLine { name: "マグカップ".into(), unit_price: 2_750, quantity: 2 }],
        shipping_fee: 880,
        total: 6_380,
        recurring: false,
        plan: None,
    };
    let Opened::New(order) = sqlite.open_order(&new).await.unwrap() else { panic!("new") };
    sqlite.apply(&Transition::new(&order, OrderState::Completing, Actor::Shopper, "claim").unwrap()).await.unwrap();
    sqlite.secret("cookie").await.unwrap();
    drop(sqlite);

    let (_, from) = source.setting();
    let (_, to) = target.setting();
    let (ok, out) = run(&["db", "copy", "--from", &from, "--to", &to], &vars(&source)).await;
    assert!(ok, "{out}");
    assert!(out.contains("every count matches"), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["orders", "1", "1"]), "{out}");

    let postgres = target.open().await;
    let linked = postgres.member_by_buyer("amzn1.account.TARO").await.unwrap().unwrap();
    assert_eq!((linked.id, linked.email.as_str()), (member, "taro@example.jp"));
    let copied = postgres.order_by_checkout_session("cs-copy").await.unwrap().unwrap();
    assert_eq!((copied.number.as_str(), copied.state, copied.total), ("10001", OrderState::Completing, 6_380));
    let buyer_email = "SELECT count(*) FROM orders WHERE buyer_email = 'taro@example.jp'";
    assert_eq!(target.count(buyer_email).await, 1, "the buyer's e-mail moves with its order");
    assert_eq!(target.count("SELECT count(*) FROM order_events").await, 2);
    assert_eq!(postgres.products().await.unwrap(), products);
    // New rows continue after the copied IDs.
    let Opened::New(next) =
        postgres.open_order(&NewOrder { checkout_session_id: Some("cs-next".into()), ..new.clone() }).await.unwrap()
    else {
        panic!("new")
    };
    assert_eq!(next.number, "10002");

    // A target with data is refused, and left as it was; --replace overwrites it.
    let (ok, _) = run(&["db", "copy", "--from", &from, "--to", &to], &vars(&source)).await;
    assert!(!ok, "a target with orders is refused");
    assert_eq!(target.count("SELECT count(*) FROM orders").await, 2);
    let (ok, out) = run(&["db", "copy", "--from", &from, "--to", &to, "--replace"], &vars(&source)).await;
    assert!(ok, "{out}");
    assert_eq!(target.count("SELECT count(*) FROM orders").await, 1);
}

#[tokio::test]
async fn db_copy_from_a_missing_file_changes_nothing() {
    let Some(target) = Target::postgres("db_copy_missing").await else { return };
    let (_, to) = target.setting();
    let (ok, _) = run(&["db", "copy", "--from", "/nonexistent/amazonpay2.sqlite3", "--to", &to], &[]).await;
    assert!(!ok);
    assert_eq!(target.count("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").await, 0);
}
