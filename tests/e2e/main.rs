//! End to end: the real server and simulator, the built widget, real pages in headless Chromium.
//!
//! Needs `./build.sh` to have built the widget (`target/widget`), and Debian's chromium and
//! chromedriver (build.sh installs them for `test`).
#![cfg(not(target_arch = "wasm32"))]

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod checkout;
mod first_visit;
mod storefront;
mod webdriver_selftest;
mod widget_fast_path;
