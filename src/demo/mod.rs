//! The demo shop.

pub mod key;
