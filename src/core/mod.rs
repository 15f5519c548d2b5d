//! The Amazon Pay core: payloads and their signatures, the API client, the rules of Amazon Pay in
//! Japan, and what happens to orders and subscriptions.

pub mod client;
pub mod payloads;
pub mod rules;
pub mod settings;
pub mod signer;
pub mod subscriptions;

pub use self::client::{AmazonError, AmazonPayClient, Retry, install_crypto_provider};
