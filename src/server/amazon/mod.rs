//! Talking to Amazon Pay's API: request signing and the client.

pub mod canonical;
mod client;
pub mod types;

pub use self::client::{AmazonError, AmazonPayClient, Retry, install_crypto_provider};
