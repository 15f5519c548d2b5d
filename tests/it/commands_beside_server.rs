//! The daily commands (`capture`, `subscriptions`, `reconcile`: the real binary, as cron runs
//! them) beside a running server on the same SQLite database, while shoppers keep the server
//! writing: none of them may fail with "database is locked" (a connection opened without its
//! busy timeout gives up at once when another process holds a lock for a moment), and the
//! shoppers' writes all go through.
//!
//! And the data folder the server writes is its owner's alone: the folder 0700; the database,
//! its `-wal` and `-shm` files and the demo's key 0600, whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::checkout::{MUG, TAKKYUBIN};
use crate::common::instances::{KEY_FILE, Process, free_port, wait_for};
use crate::common::sockets::{Browser, DataDir, cookie_client};

/// The settings of a demo server (and of its commands) on `data`.
fn settings(data: &DataDir, listen: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AMAZONPAY2_LISTEN", listen.to_owned()),
        ("AMAZONPAY2_SIMULATOR_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("AMAZONPAY2_DATA", data.0.display().to_string()),
        ("AMAZONPAY2_PRIVATE_KEY", KEY_FILE.to_owned()),
        ("AMAZONPAY2_WWW", concat!(env!("CARGO_MANIFEST_DIR"), "/www").to_owned()),
    ]
}

/// Runs `amazonpay2-server --demo ARGS` to its end: whether it succeeded, and its stderr.
async fn command(args: &[&str], vars: &[(&'static str, String)]) -> (bool, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
    command.arg("--demo").args(args).env_clear().env("RUST_LOG", "warn").stdin(std::process::Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().await.expect("the server binary runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The three daily commands at once, as cron starts them at the same minute; what failed.
async fn daily_commands(vars: &[(&'static str, String)], when: &str) -> Vec<String> {
    let (capture, subscriptions, reconcile) =
        tokio::join!(command(&["capture"], vars), command(&["subscriptions"], vars), command(&["reconcile"], vars));
    [("capture", capture), ("subscriptions", subscriptions), ("reconcile", reconcile)]
        .into_iter()
        .filter(|(_, (ok, stderr))| !ok || stderr.contains("locked"))
        .map(|(name, (_, stderr))| format!("{when}, {name}: {stderr}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_commands_beside_a_busy_server_never_find_the_database_locked() {
    amazonpay2::core::install_crypto_provider();
    let data = DataDir::new("beside");
    let listen = format!("127.0.0.1:{}", free_port());
    let vars = settings(&data, &listen);
    // The first start of a shop: the server and the jobs at the same moment, on a folder with
    // no database yet (one of them makes it, and turns on its write-ahead log: for a moment no
    // one else can read it).
    let _server = Process::spawn(&[], &vars);
    let mut failures = daily_commands(&vars, "at the server's first start").await;
    let shop = format!("http://{listen}");
    wait_for(&format!("{shop}/api/amazonpay2/session")).await;

    // Shoppers: each a new session with a cart, written by the server, one after the other,
    // until the commands are done (bounded in count).
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let mut shoppers = Vec::new();
    for _ in 0..3 {
        let (shop, stop, written) = (shop.clone(), stop.clone(), written.clone());
        shoppers.push(tokio::spawn(async move {
            for _ in 0..5_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let browser =
                    Browser { shop: shop.clone(), amazon: String::new(), http: cookie_client().build().unwrap() };
                browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;
                written.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // The server is busy writing before the first command starts.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while written.load(Ordering::SeqCst) < 5 {
        assert!(tokio::time::Instant::now() < deadline, "the shoppers' carts were not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Then day after day beside the busy server.
    for day in 0..4 {
        failures.extend(daily_commands(&vars, &format!("day {day}")).await);
    }
    stop.store(true, Ordering::SeqCst);
    for shopper in shoppers {
        shopper.await.expect("every cart written (a failed write panics the shopper)");
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(written.load(Ordering::SeqCst) >= 5);
}

/// The permission bits of `path`.
fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[tokio::test]
async fn the_data_folder_and_every_file_in_it_are_the_owners_alone() {
    amazonpay2::core::install_crypto_provider();
    let data = DataDir::new("modes");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut vars = settings(&data, &listen);
    // The demo's own key (generated into the data folder), not the fixture's.
    vars.retain(|(name, _)| *name != "AMAZONPAY2_PRIVATE_KEY");
    // Under the common umask (022), SQLite and the file system would make everything readable
    // by every user of the machine.
    let mut server = std::process::Command::new("sh");
    server
        .args(["-c", "umask 022 && exec \"$0\" --demo", env!("CARGO_BIN_EXE_amazonpay2-server")])
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null());
    for (name, value) in &vars {
        server.env(name, value);
    }
    let _server = Process(server.spawn().expect("the server starts"));
    wait_for(&format!("http://{listen}/api/amazonpay2/session")).await;
    // A shopper's cart: the database has been written through its WAL.
    let browser =
        Browser { shop: format!("http://{listen}"), amazon: String::new(), http: cookie_client().build().unwrap() };
    browser.fill_cart(&[(MUG, 1)], TAKKYUBIN).await;

    assert_eq!(mode(&data.0), 0o700, "the data folder");
    let mut names: Vec<String> =
        std::fs::read_dir(&data.0).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into()).collect();
    names.sort();
    for expected in ["amazonpay2.sqlite3", "amazonpay2.sqlite3-shm", "amazonpay2.sqlite3-wal", "demo-private-key.pem"] {
        assert!(names.iter().any(|name| name == expected), "{expected} in {names:?}");
    }
    for name in &names {
        assert_eq!(mode(&data.0.join(name)), 0o600, "{name}");
    }
}
