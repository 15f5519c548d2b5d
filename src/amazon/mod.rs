//! Amazon Pay's side of the wire, shared by the shop's core and the simulator: the API's JSON
//! objects, the string every signature is made over, the canonical API request, and the shop's
//! key pair. A leaf: it knows nothing of shops, sessions or HTTP servers, so that the client that
//! signs and the simulator that verifies cannot disagree about a format.

pub mod canonical;
pub mod keygen;
pub mod keys;
pub mod quotas;
pub mod signature;
pub mod sns;
pub mod types;

/// The signature algorithm the shop uses for buttons and API calls (RSASSA-PSS, SHA-256,
/// MGF1-SHA-256, 32-byte salt).
pub use crate::contract::AMAZON_SIGNATURE_ALGORITHM as ALGORITHM;

/// The environment a public key ID names itself: `Some(true)` sandbox, `Some(false)` production,
/// `None` for an unprefixed key ID, whose environment goes in the API path (`/sandbox/v2/…`,
/// `/live/v2/…`). Amazon's SDKs test the prefix in any case and without its hyphen (Node's
/// `isEnvSpecificPublicKeyId`: starts with `LIVE` or `SANDBOX`); so does everything here, so that
/// the shop, its settings and the simulator agree with them on every key ID.
pub fn key_id_sandbox(public_key_id: &str) -> Option<bool> {
    let upper = public_key_id.to_ascii_uppercase();
    if upper.starts_with("SANDBOX") {
        Some(true)
    } else if upper.starts_with("LIVE") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::key_id_sandbox;

    #[test]
    fn a_key_ids_environment_is_read_as_amazons_sdks_read_it() {
        assert_eq!(key_id_sandbox("SANDBOX-AFVX7ULWSGBZ5535PCUQOY7B"), Some(true));
        assert_eq!(key_id_sandbox("live-AFVX7ULWSGBZ5535PCUQOY7B"), Some(false));
        assert_eq!(key_id_sandbox("LIVEAFVX7ULWSGBZ5535PCUQOY7B"), Some(false), "no hyphen needed");
        assert_eq!(key_id_sandbox("AFVX7ULWSGBZ5535PCUQOY7B"), None);
    }
}
