//! The admin (管理画面): its HTTP pages and guards, its commands, and the storage behind them.

mod api;
mod commands;
mod service;
mod storage;
