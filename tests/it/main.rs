//! The server, the simulator and the storage, tested natively in one binary (one link of the
//! library instead of one per file): each module is one behaviour family, named for it.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod amazon_client;
mod api;
mod checkout;
mod commands_beside_server;
mod db_commands;
mod idempotency_restore;
mod ipn;
mod member_flows;
mod multi_instance;
mod no_silent_demo;
mod node_sdk;
mod onboarding;
mod orders_operations;
mod recovery;
mod shop_commands;
mod shops;
mod simulator;
mod storage_migration;
mod storage_suite;
mod widget_files;
