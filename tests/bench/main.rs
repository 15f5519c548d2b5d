//! The benchmarks (`./build.sh bench` runs them through `tests/bench/run.sh`): ignored tests that
//! print `BENCH` lines, run one module at a time in release.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod instances;
mod page;
mod phone;
mod shops;
