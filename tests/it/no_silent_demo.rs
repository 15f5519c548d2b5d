//! The demo runs only when asked for (`--demo`). The real binary started without its settings —
//! the server, or any command run from cron without its environment file — refuses to start,
//! names every setting that is missing and exits with an error, having written nothing: no
//! `./data`, no simulator, no `admin / admin-demo` in a database it was pointed at.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::databases::Target;
use crate::common::sockets::DataDir;

const SHOP_SETTINGS: [&str; 5] = [
    "AMAZONPAY2_MERCHANT_ID",
    "AMAZONPAY2_STORE_ID",
    "AMAZONPAY2_PUBLIC_KEY_ID",
    "AMAZONPAY2_PRIVATE_KEY",
    "AMAZONPAY2_SHOP_ORIGIN",
];

/// Every way the binary is started: the server, and each command.
const INVOCATIONS: [&[&str]; 8] = [
    &[],
    &["capture"],
    &["subscriptions"],
    &["reconcile"],
    &["admin", "add", "admin"],
    &["db", "migrate"],
    &["simulator"],
    &["bench-sign", "--seconds", "1"],
];

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args`, exactly `vars` as its environment and `dir` as its working
/// folder, to its end (a server that started after all is stopped after 60 s and reported).
fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amazonpay2-server"));
    command.args(args).current_dir(dir).env_clear().env("RUST_LOG", "warn");
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the binary runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("{args:?} kept running: {}", String::from_utf8_lossy(&output.stdout));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// What the working folder holds after a run: nothing, for a refusal.
fn contents(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn without_settings_the_server_and_every_command_refuse_naming_every_missing_setting() {
    for args in INVOCATIONS {
        let dir = DataDir::new("no-settings");
        std::fs::create_dir_all(&dir.0).unwrap();
        let run = run(&dir.0, args, &[]);
        assert!(!run.success, "{args:?} ran without settings: {}", run.stdout);
        for name in SHOP_SETTINGS {
            assert!(run.stderr.contains(name), "{args:?} does not name {name}: {}", run.stderr);
        }
        assert!(run.stderr.contains("--demo"), "{args:?} says how to run the demo: {}", run.stderr);
        assert!(!run.stdout.contains("デモ") && !run.stdout.contains("admin-demo"), "{args:?}: {}", run.stdout);
        assert_eq!(contents(&dir.0), Vec::<String>::new(), "{args:?} wrote into its working folder");
    }
}

#[test]
fn with_part_of_the_settings_they_refuse_naming_what_is_missing() {
    let given =
        [("AMAZONPAY2_MERCHANT_ID", "A1XXXXXXXXXXXX"), ("AMAZONPAY2_STORE_ID", "amzn1.application-oa2-client.abc")];
    for args in INVOCATIONS {
        let dir = DataDir::new("part-settings");
        std::fs::create_dir_all(&dir.0).unwrap();
        let run = run(&dir.0, args, &given);
        assert!(!run.success, "{args:?} ran half-configured: {}", run.stdout);
        let missing: Vec<&str> = SHOP_SETTINGS.into_iter().filter(|name| run.stderr.contains(name)).collect();
        assert_eq!(
            missing,
            ["AMAZONPAY2_PUBLIC_KEY_ID", "AMAZONPAY2_PRIVATE_KEY", "AMAZONPAY2_SHOP_ORIGIN"],
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(contents(&dir.0), Vec::<String>::new(), "{args:?} wrote into its working folder");
    }
}

#[tokio::test]
async fn a_database_url_without_the_shops_settings_gets_nothing_written() {
    // PostgreSQL: the database a shop's instances share, where the demo used to seed its
    // catalogue and its admin account.
    if let Some(target) = Target::postgres("no_demo").await {
        let (name, url) = target.setting();
        let dir = DataDir::new("url-only");
        std::fs::create_dir_all(&dir.0).unwrap();
        for args in [&[][..], &["capture"], &["subscriptions"], &["reconcile"], &["db", "migrate"]] {
            let run = run(&dir.0, args, &[(name, &url)]);
            assert!(!run.success, "{args:?} ran on the database alone: {}", run.stdout);
            assert!(run.stderr.contains("AMAZONPAY2_MERCHANT_ID"), "{args:?}: {}", run.stderr);
        }
        let tables = target.count("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").await;
        assert_eq!(tables, 0, "nothing written to the database");
        assert_eq!(contents(&dir.0), Vec::<String>::new());
    }
    // SQLite: a data folder named, and nothing else.
    let data = DataDir::new("data-only");
    let dir = DataDir::new("data-only-cwd");
    std::fs::create_dir_all(&dir.0).unwrap();
    let folder = data.0.display().to_string();
    for args in [&[][..], &["capture"], &["admin", "add", "admin"]] {
        let run = run(&dir.0, args, &[("AMAZONPAY2_DATA", &folder)]);
        assert!(!run.success, "{args:?} ran on the data folder alone: {}", run.stdout);
    }
    assert!(!data.0.exists(), "no database made in AMAZONPAY2_DATA");
}

#[test]
fn with_demo_the_offline_demo_runs_before_or_after_the_command() {
    for args in [["--demo", "capture"], ["capture", "--demo"]] {
        let data = DataDir::new("demo-flag");
        let dir = DataDir::new("demo-flag-cwd");
        std::fs::create_dir_all(&dir.0).unwrap();
        let folder = data.0.display().to_string();
        let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test_key_pkcs8.pem");
        let run = run(&dir.0, &args, &[("AMAZONPAY2_DATA", &folder), ("AMAZONPAY2_PRIVATE_KEY", key)]);
        assert!(run.success, "{args:?}: {}", run.stderr);
        assert!(run.stdout.contains("0 order(s)"), "{args:?}: {}", run.stdout);
    }
}
