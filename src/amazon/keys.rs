//! The shop's Amazon Pay private key: read once at start, used only to sign, never shown.
//!
//! `ShopKey` deliberately has no `Debug` that prints key material, no serialization and no
//! accessor for the private half.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PSS_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

/// An RSA key pair that signs with RSASSA-PSS / SHA-256 / MGF1-SHA-256 and a 32-byte salt:
/// aws-lc-rs (ring's API and constant-time guarantees, over AWS-LC) fixes the salt at the digest
/// length, which is exactly `AMZN-PAY-RSASSA-PSS-V2`. It is used instead of ring itself because
/// its AVX-512 code signs about 2.2 times faster on current x86 servers (tests/bench).
pub struct ShopKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
}

/// Why a key could not be loaded. Messages name the file and the problem, never its contents.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file does not exist.
    #[error("private key file {0} does not exist (AMAZONPAY2_PRIVATE_KEY)")]
    Missing(String),
    /// The file exists but cannot be read.
    #[error("private key file {path} cannot be read: {kind}")]
    Unreadable {
        /// The file.
        path: String,
        /// The I/O error kind (permission denied, …).
        kind: io::ErrorKind,
    },
    /// No `BEGIN PRIVATE KEY` / `BEGIN RSA PRIVATE KEY` block.
    #[error("no PEM private key found (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")]
    NotPem,
    /// A private key of another kind (EC, Ed25519).
    #[error("the private key is not an RSA key; Amazon Pay keys are RSA")]
    NotRsa,
    /// The crypto library refused the key (malformed, too small, inconsistent).
    #[error("the RSA private key is unusable: {0}")]
    Rejected(String),
}

impl ShopKey {
    /// Reads a PEM file.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let pem = fs::read(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => KeyError::Missing(shown.clone()),
            kind => KeyError::Unreadable { path: shown.clone(), kind },
        })?;
        Self::from_pem(&pem)
    }

    /// Parses PKCS#8 (`BEGIN PRIVATE KEY`, what Seller Central downloads) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| KeyError::NotPem)?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err(KeyError::NotRsa),
        };
        let pair = pair.map_err(|rejected| match rejected.to_string().as_str() {
            "WrongAlgorithm" => KeyError::NotRsa,
            other => KeyError::Rejected(other.to_owned()),
        })?;
        Ok(Self { pair, rng: SystemRandom::new() })
    }

    /// Signs `message` (RSASSA-PSS, SHA-256, salt 32) and returns the raw signature.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, aws_lc_rs::error::Unspecified> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair.sign(&RSA_PSS_SHA256, &self.rng, message, &mut signature)?;
        Ok(signature)
    }

    /// The public half as a PKCS#1 `RSAPublicKey` DER, as registered with Amazon.
    pub fn public_key_der(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }
}

impl fmt::Debug for ShopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShopKey(RSA-{}, private part not shown)", self.bits())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};

    use super::*;

    /// The test-only key in `tests/fixtures/` (see its README for how it was made).
    pub(crate) const TEST_PKCS8: &str = include_str!("../../tests/fixtures/test_key_pkcs8.pem");
    const TEST_PKCS1: &str = include_str!("../../tests/fixtures/test_key_pkcs1.pem");
    const TEST_EC: &str = include_str!("../../tests/fixtures/test_key_ec.pem");

    #[test]
    fn pkcs8_and_pkcs1_load_the_same_key() {
        let a = ShopKey::from_pem(TEST_PKCS8.as_bytes()).unwrap();
        let b = ShopKey::from_pem(TEST_PKCS1.as_bytes()).unwrap();
        assert_eq!(a.public_key_der(), b.public_key_der());
        assert_eq!(a.bits(), 2048);
    }

    #[test]
    fn signatures_verify_with_the_public_key_and_salt_32() {
        let key = ShopKey::from_pem(TEST_PKCS8.as_bytes()).unwrap();
        let signature = key.sign(b"message").unwrap();
        let public = UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, key.public_key_der());
        public.verify(b"message", &signature).unwrap();
        assert!(public.verify(b"other", &signature).is_err());
    }

    #[test]
    fn wrong_files_fail_with_a_clear_reason() {
        assert!(matches!(ShopKey::from_pem(b"not a key"), Err(KeyError::NotPem)));
        assert!(matches!(ShopKey::from_pem(TEST_EC.as_bytes()), Err(KeyError::NotRsa)));
        let truncated = TEST_PKCS8.replacen("MII", "MIA", 1);
        assert!(ShopKey::from_pem(truncated.as_bytes()).is_err());
        let missing = ShopKey::from_file(Path::new("/nonexistent/key.pem")).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "private key file /nonexistent/key.pem does not exist (AMAZONPAY2_PRIVATE_KEY)"
        );
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let key = ShopKey::from_pem(TEST_PKCS8.as_bytes()).unwrap();
        assert_eq!(format!("{key:?}"), "ShopKey(RSA-2048, private part not shown)");
    }
}
