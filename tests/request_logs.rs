#![cfg(not(target_arch = "wasm32"))]
//! What the server writes to its log while it answers Amazon's returns: the request it is about,
//! but none of the secrets in the return's URL (Amazon's buyer token, the sign-in state, the
//! review reference, the checkout session).
//!
//! The log is captured as the server writes it (tracing's fmt output, every level down to debug,
//! every crate), through a subscriber this test binary installs for the whole process.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::api::*;

/// A token of Amazon's shape, unique to this file so that finding it in the log means a leak.
const BUYER_TOKEN: &str = "Atza-LOGLEAK-buyer-token-7f3a91c2";

/// Everything the process logged since it started.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .init();
        log
    })
}

/// Lines as the fmt layer writes them.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured().lock().unwrap()).into_owned()
}

#[tokio::test]
async fn a_sign_in_return_is_logged_without_the_buyer_token_or_the_state() {
    captured();
    let shop = Shop::demo().await;
    let mut browser = shop.browser();
    let state = browser.sign_in_state().await;
    let uri = with_query(SIGNIN_RETURN, &[("intent", "login"), ("state", &state), ("buyerToken", BUYER_TOKEN)]);
    // Amazon is unreachable here: the server logs its getBuyer attempts and their failure.
    browser.get(&uri).await.assert_notice("/", "amazon_unavailable");

    let log = log_text();
    let about_it: Vec<&str> = log.lines().filter(|line| line.contains("/api/amazonpay2/signin/return")).collect();
    assert!(
        about_it.iter().any(|line| line.contains("getBuyer failed")),
        "the failure is logged with its request: {log}"
    );
    assert!(
        about_it.iter().all(|line| line.contains("intent=login&state=[redacted]&buyerToken=[redacted]")),
        "{about_it:#?}"
    );
    assert!(!log.contains(BUYER_TOKEN), "the buyer token leaked into the log:\n{log}");
    assert!(!log.contains(&state), "the sign-in state leaked into the log:\n{log}");
}
