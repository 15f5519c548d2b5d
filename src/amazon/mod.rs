//! Amazon Pay's side of the wire, shared by the shop's core and the simulator: the API's JSON
//! objects, the string every signature is made over, the canonical API request, and the shop's
//! key pair. A leaf: it knows nothing of shops, sessions or HTTP servers, so that the client that
//! signs and the simulator that verifies cannot disagree about a format.

pub mod canonical;
pub mod keygen;
pub mod keys;
pub mod signature;
pub mod sns;
pub mod types;

/// The signature algorithm the shop uses for buttons and API calls (RSASSA-PSS, SHA-256,
/// MGF1-SHA-256, 32-byte salt).
pub use crate::contract::AMAZON_SIGNATURE_ALGORITHM as ALGORITHM;
