//! The admin's subcommands on the real binary: `admin add NAME` (the password from stdin) and the
//! daily `capture` (every 仮売上 order, or those authorized at least --days ago), which captures
//! nothing twice.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::common::checkout::*;
use crate::common::sockets::DataDir;
use amazonpay2::core::orders::OrderState;
use amazonpay2::core::platform::Order;
use amazonpay2::storage::{BackOffice, Store};

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
    command.env_clear().env("RUST_LOG", "warn");
    command
}

fn run(mut command: Command, stdin: &str) -> Output {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn admin_add_creates_an_account_from_stdin_and_a_second_run_sets_its_password() {
    let data = DataDir::new("admin-add");
    // A shop's own settings (sandbox), as the command gets them from the service's environment.
    let add = |name: &str| {
        let mut command = server();
        command
            .env("AMAZONPAY2_DATA", &data.0)
            .env("AMAZONPAY2_MERCHANT_ID", "A1XXXXXXXXXXXX")
            .env("AMAZONPAY2_STORE_ID", "amzn1.application-oa2-client.abc")
            .env("AMAZONPAY2_PUBLIC_KEY_ID", "SANDBOX-AAAAAAAA")
            .env("AMAZONPAY2_PRIVATE_KEY", KEY_FILE)
            .env("AMAZONPAY2_SHOP_ORIGIN", "http://127.0.0.1:8080")
            .args(["admin", "add", name]);
        command
    };
    let created = run(add("sato"), "first-password\n");
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains("created the admin account sato"));
    let db = Store::sqlite(&data.0).await.unwrap();
    let first = db.admin_password_hash("sato").await.unwrap().expect("the account");
    assert!(first.starts_with("$argon2id$"), "hashed, never stored as typed");
    drop(db);
    let changed = run(add("sato"), "second-password\n");
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    assert!(text(&changed.stdout).contains("changed the password"));
    let db = Store::sqlite(&data.0).await.unwrap();
    assert_ne!(db.admin_password_hash("sato").await.unwrap().unwrap(), first);
    for (name, password, says) in [("sato", "short\n", "8 to 128"), ("<script>", "long-enough-pass\n", "account name")]
    {
        let refused = run(add(name), password);
        assert!(!refused.status.success());
        assert!(text(&refused.stderr).contains(says), "{}", text(&refused.stderr));
    }
    assert_eq!(db.admin_password_hash("<script>").await.unwrap(), None);
}

async fn bought(world: &World) -> Order {
    let (_, session) = world.customer(&[(MUG, 1)], TAKKYUBIN).await;
    world.db.order_by_checkout_session(&session).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_capture_captures_every_authorized_order_once_and_reports_each() {
    let world = World::start().await;
    let orders = [bought(&world).await, bought(&world).await, bought(&world).await];
    world.amazon_control("seller-central", json!({ "action": "cancel", "chargeId": orders[1].charge_id })).await;
    let capture = |extra: &[&str]| {
        let mut command = server();
        command
            .env("AMAZONPAY2_LISTEN", world.config.listen.to_string())
            .env("AMAZONPAY2_SIMULATOR_LISTEN", world.config.simulator_listen.to_string())
            .env("AMAZONPAY2_DATA", &world._data.0)
            .env("AMAZONPAY2_PRIVATE_KEY", KEY_FILE)
            .args(["--demo", "capture"])
            .args(extra);
        run(command, "")
    };
    // Only orders authorized at least a day ago: none yet.
    let none = capture(&["--days", "1"]);
    assert!(none.status.success(), "{}", text(&none.stderr));
    assert!(text(&none.stdout).contains("0 order(s)"), "{}", text(&none.stdout));
    let first = capture(&[]);
    let out = text(&first.stdout);
    assert!(!first.status.success(), "a refused order makes the job fail, for the scheduler to notice");
    assert!(text(&first.stderr).contains("1 order(s) were not captured"));
    assert!(out.contains("3 order(s)") && out.contains("2 captured, 0 skipped, 1 refused"), "{out}");
    assert!(out.contains(&format!("order {} refused", orders[1].number)), "{out}");
    for order in [&orders[0], &orders[2]] {
        let after = world.db.order(order.id).await.unwrap().unwrap();
        assert_eq!(after.state, OrderState::Captured);
        assert_eq!(world.charge(after.charge_id.as_deref().unwrap()).await["captureAmount"], yen(MUG_ORDER));
        let detail = world.db.order_detail(order.id).await.unwrap().unwrap();
        assert_eq!(detail.events.last().unwrap().actor, "owner:capture-job", "the history says who");
    }
    let second = capture(&["--owner", "nightly"]);
    let out = text(&second.stdout);
    assert!(
        out.contains("1 order(s)") && out.contains("0 captured, 0 skipped, 1 refused"),
        "only the refused one is left: {out}"
    );
}
