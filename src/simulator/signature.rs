//! Amazon's side of the button signature: rebuild the string to sign from `payloadJSON` and verify
//! it with the public key registered for the merchant, under either algorithm.
//!
//! V2 (a 32-byte salt, the digest's length) is verified with aws-lc-rs, as fast as the shop signs:
//! the simulator shares the machine with the shop in tests, the demo and the benchmarks. V1's
//! 20-byte salt is beyond aws-lc-rs (and ring), so V1 uses the RustCrypto `rsa` crate, several
//! times slower; verification uses only the public key, which its Marvin advisory (private-key
//! decryption) does not concern.

use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::pss::Pss;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use crate::amazon::signature::string_to_sign;

/// The algorithms Amazon accepts, with their PSS salt lengths.
const ALGORITHMS: [(&str, usize); 2] = [("AMZN-PAY-RSASSA-PSS", 20), ("AMZN-PAY-RSASSA-PSS-V2", V2_SALT)];

/// V2's salt: as long as the SHA-256 digest, the one length aws-lc-rs verifies.
const V2_SALT: usize = 32;

/// The algorithm checkout.js assumes when a config names none.
pub const DEFAULT_ALGORITHM: &str = "AMZN-PAY-RSASSA-PSS";

/// A merchant's registered public key, and its PKCS#1 DER for aws-lc-rs.
#[derive(Clone, Debug)]
pub struct RegisteredKey {
    key: RsaPublicKey,
    pkcs1_der: Vec<u8>,
}

/// Why a signature was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// The algorithm name is not one Amazon knows.
    UnknownAlgorithm,
    /// The signature is not base64, or does not verify.
    Mismatch,
}

impl RegisteredKey {
    /// From a PKCS#1 `RSAPublicKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, rsa::pkcs1::Error> {
        Ok(Self { key: RsaPublicKey::from_pkcs1_der(der)?, pkcs1_der: der.to_vec() })
    }

    fn of(key: RsaPublicKey) -> Result<Self, String> {
        let pkcs1_der = key.to_pkcs1_der().map_err(|_| "the public key cannot be encoded.")?.as_bytes().to_vec();
        Ok(Self { key, pkcs1_der })
    }

    /// From a PEM public key: `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo, what `openssl rsa -pubout`
    /// writes and Amazon's "use an existing public key" takes) or `BEGIN RSA PUBLIC KEY`
    /// (PKCS#1). A private key, or any other text, is refused with a message that says so.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let pem = pem.trim();
        if pem.contains("PRIVATE KEY") {
            return Err("this is a private key; register the public key (BEGIN PUBLIC KEY) only.".into());
        }
        let key = if pem.starts_with("-----BEGIN PUBLIC KEY-----") {
            RsaPublicKey::from_public_key_pem(pem).map_err(|_| "the PUBLIC KEY block is not an RSA public key.")?
        } else if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
            RsaPublicKey::from_pkcs1_pem(pem).map_err(|_| "the RSA PUBLIC KEY block is not readable.")?
        } else {
            return Err("not a PEM public key (expected -----BEGIN PUBLIC KEY-----).".into());
        };
        // Amazon's key pairs are RSA-2048 (Seller Central makes them so; its manual key guide runs
        // `openssl genpkey … rsa_keygen_bits:2048`).
        if key.size() * 8 < 2048 {
            return Err(format!("the key has {} bits; Amazon Pay keys have at least 2048.", key.size() * 8));
        }
        Self::of(key)
    }

    /// The public half of a key pair the simulator made.
    pub(super) fn of_private(key: &RsaPrivateKey) -> Result<Self, String> {
        Self::of(key.to_public_key())
    }

    /// Verifies a base64 signature over `algorithm + "\n" + hex(sha256(text))`.
    pub fn verify(&self, algorithm: &str, text: &str, signature_b64: &str) -> Result<(), SignatureProblem> {
        let salt = ALGORITHMS
            .iter()
            .find(|(name, _)| *name == algorithm)
            .map(|(_, salt)| *salt)
            .ok_or(SignatureProblem::UnknownAlgorithm)?;
        let signature = base64_decode(signature_b64).ok_or(SignatureProblem::Mismatch)?;
        let message = string_to_sign(algorithm, text);
        let verified = if salt == V2_SALT {
            UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &self.pkcs1_der)
                .verify(message.as_bytes(), &signature)
                .is_ok()
        } else {
            let hashed = Sha256::digest(message.as_bytes());
            self.key.verify(Pss::new_with_salt::<Sha256>(salt), &hashed, &signature).is_ok()
        };
        if verified { Ok(()) } else { Err(SignatureProblem::Mismatch) }
    }
}

/// Standard base64; whitespace (from a wrapped form field) is ignored as Amazon does.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).ok()
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    use super::*;
    use crate::amazon::keys::ShopKey;
    use crate::amazon::keys::tests::TEST_PKCS8;

    fn registered() -> RegisteredKey {
        let key = ShopKey::from_pem(TEST_PKCS8.as_bytes()).unwrap();
        RegisteredKey::from_pkcs1_der(key.public_key_der()).unwrap()
    }

    #[test]
    fn our_v2_signatures_verify_and_tampering_is_caught() {
        let key = ShopKey::from_pem(TEST_PKCS8.as_bytes()).unwrap();
        let signed = key.sign(string_to_sign("AMZN-PAY-RSASSA-PSS-V2", "{\"a\":1}").as_bytes()).unwrap();
        let signature = base64::engine::general_purpose::STANDARD.encode(signed);
        let registered = registered();
        assert_eq!(registered.verify("AMZN-PAY-RSASSA-PSS-V2", "{\"a\":1}", &signature), Ok(()));
        assert_eq!(
            registered.verify("AMZN-PAY-RSASSA-PSS-V2", "{\"a\": 1}", &signature),
            Err(SignatureProblem::Mismatch),
            "a whitespace change is a different payload"
        );
        assert_eq!(
            registered.verify("AMZN-PAY-RSASSA-PSS", "{\"a\":1}", &signature),
            Err(SignatureProblem::Mismatch),
            "V1 expects a 20-byte salt"
        );
        assert_eq!(registered.verify("RS256", "{}", &signature), Err(SignatureProblem::UnknownAlgorithm));
        assert_eq!(registered.verify("AMZN-PAY-RSASSA-PSS-V2", "{}", "%%%"), Err(SignatureProblem::Mismatch));
    }

    #[test]
    fn v1_signatures_with_a_20_byte_salt_verify_as_the_sdks_make_them() {
        let private = RsaPrivateKey::from_pkcs8_pem(TEST_PKCS8).unwrap();
        let text = "{\"storeId\":\"x\"}";
        let hashed = Sha256::digest(string_to_sign("AMZN-PAY-RSASSA-PSS", text).as_bytes());
        let signature =
            private.sign_with_rng(&mut rand::rngs::OsRng, Pss::new_with_salt::<Sha256>(20), &hashed).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
        assert_eq!(registered().verify(DEFAULT_ALGORITHM, text, &b64), Ok(()));
    }
}
