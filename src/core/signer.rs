//! Button payload signatures (`AMZN-PAY-RSASSA-PSS-V2`), with a cache.
//!
//! A button signature carries no timestamp, so the same payload string can keep its signature:
//! page loads of the same shopper and the same cart cost one RSA operation, not one each.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::key::{KeyHandle, KeyUnusable};
use crate::amazon::signature::string_to_sign;
use crate::contract::{AMAZON_SIGNATURE_ALGORITHM, SignedConfig};

/// Entries kept before the cache starts afresh. Sign-in payloads carry a per-session state, so
/// the cache holds about one entry per active shopper; this bounds memory at a few MiB.
const CACHE_CAPACITY: usize = 16_384;

/// Signs payloads the server built. It has no entry point that takes a browser's string.
pub struct ButtonSigner {
    /// `None` for a shop whose keys are not set up yet: nothing is signed.
    key: Option<KeyHandle>,
    public_key_id: String,
    cache: RwLock<HashMap<String, String>>,
}

/// Signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The system's random source failed (RSA-PSS needs a salt).
    #[error("signing failed (system random source unavailable)")]
    Randomness,
    /// The shop has no keys yet.
    #[error("this shop's Amazon Pay keys are not set up yet")]
    NotSetUp,
    /// The shop's key could not be opened.
    #[error(transparent)]
    Unusable(#[from] KeyUnusable),
}

impl ButtonSigner {
    /// A signer for the shop's key and its Seller Central key ID.
    pub fn new(key: impl Into<KeyHandle>, public_key_id: String) -> Self {
        Self { key: Some(key.into()), public_key_id, cache: RwLock::new(HashMap::new()) }
    }

    /// The signer of a shop without keys: every signature is refused with [`SignError::NotSetUp`].
    pub fn without_key() -> Self {
        Self { key: None, public_key_id: String::new(), cache: RwLock::new(HashMap::new()) }
    }

    /// The config object for `renderButton`, reusing the signature of an identical payload.
    pub(crate) fn sign(&self, payload_json: String) -> Result<SignedConfig, SignError> {
        let cached = self.read_cache().get(&payload_json).cloned();
        let signature = match cached {
            Some(signature) => signature,
            None => {
                let signature = self.sign_uncached(&payload_json)?;
                let mut cache = self.write_cache();
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
                cache.insert(payload_json.clone(), signature.clone());
                signature
            }
        };
        Ok(SignedConfig {
            payload_json,
            signature,
            public_key_id: self.public_key_id.clone(),
            algorithm: AMAZON_SIGNATURE_ALGORITHM.to_owned(),
        })
    }

    /// One fresh RSA signature, base64 (the benchmark measures this).
    pub fn sign_uncached(&self, payload_json: &str) -> Result<String, SignError> {
        let message = string_to_sign(AMAZON_SIGNATURE_ALGORITHM, payload_json);
        let key = self.key.as_ref().ok_or(SignError::NotSetUp)?.get()?;
        let signature = key.sign(message.as_bytes()).map_err(|_| SignError::Randomness)?;
        Ok(BASE64.encode(signature))
    }

    // A poisoned lock only means another request panicked mid-insert; the map is still a
    // valid cache, so keep using it rather than failing every later request.
    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, String>> {
        self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, String>> {
        self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};

    use std::sync::Arc;

    use super::*;
    use crate::amazon::keys::ShopKey;
    use crate::amazon::keys::tests::TEST_PKCS8;

    fn signer() -> ButtonSigner {
        let key = Arc::new(ShopKey::from_pem(TEST_PKCS8.as_bytes()).unwrap());
        ButtonSigner::new(key, "SANDBOX-TEST".into())
    }

    #[test]
    fn signed_config_verifies_over_the_exact_payload_string() {
        let signer = signer();
        let payload = r#"{"signInReturnUrl":"https://shop.example/r","storeId":"amzn1.application-oa2-client.x"}"#;
        let config = signer.sign(payload.to_owned()).unwrap();
        assert_eq!(config.payload_json, payload);
        assert_eq!(config.algorithm, "AMZN-PAY-RSASSA-PSS-V2");
        assert_eq!(config.public_key_id, "SANDBOX-TEST");
        let signature = BASE64.decode(&config.signature).unwrap();
        let key = signer.key.as_ref().unwrap().get().unwrap();
        let public = UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, key.public_key_der());
        public.verify(string_to_sign(&config.algorithm, payload).as_bytes(), &signature).unwrap();
        let other = string_to_sign(&config.algorithm, &payload.replace("shop", "evil"));
        assert!(public.verify(other.as_bytes(), &signature).is_err());
    }

    #[test]
    fn identical_payloads_reuse_their_signature_and_others_do_not() {
        let signer = signer();
        let first = signer.sign("{\"a\":1}".into()).unwrap();
        let again = signer.sign("{\"a\":1}".into()).unwrap();
        let other = signer.sign("{\"a\":2}".into()).unwrap();
        // PSS is randomised: equal signatures can only come from the cache.
        assert_eq!(first.signature, again.signature);
        assert_ne!(first.signature, other.signature);
        assert_ne!(signer.sign_uncached("{\"a\":1}").unwrap(), first.signature);
    }
}
