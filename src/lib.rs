//! Amazon Pay (Checkout v2) for Craft Cart shops.
//!
//! One crate, three parts, each in its own folder:
//!
//! - [`contract`]: the JSON the widget and the server exchange, and the block vocabulary shop
//!   designers write. Compiles for both targets, so the two halves cannot drift apart.
//! - `widget` (wasm32 only): the Yew widget loaded by `/amazonpay2/widget.js`. It finds the
//!   `data-amazonpay` blocks on a shop page, asks the server for every button in one request,
//!   keeps to one Amazon button per page and draws it with Amazon's checkout.js.
//! - `server` (native only): the HTTP service that holds the shop's private key, builds and
//!   signs every payload itself, handles Amazon's returns and serves the widget and `www/`.
//! - `simulator` (native only): Amazon Pay's side, offline: its checkout.js, hosted pages and
//!   signature checks, so that the demo and the tests run the production code paths.

pub mod contract;

#[cfg(not(target_arch = "wasm32"))]
pub mod amazon;
#[cfg(not(target_arch = "wasm32"))]
pub mod core;
#[cfg(not(target_arch = "wasm32"))]
pub mod demo;
#[cfg(not(target_arch = "wasm32"))]
pub mod storage;

#[cfg(not(target_arch = "wasm32"))]
pub mod server;
#[cfg(not(target_arch = "wasm32"))]
pub mod simulator;
#[cfg(target_arch = "wasm32")]
pub mod widget;
