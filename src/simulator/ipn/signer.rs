//! The simulator's SNS signing identity: an RSA 2048 key made when the simulator first needs it
//! and a self-signed X.509 certificate for it, which the simulator serves at the
//! `SigningCertURL` of its notifications. The key never leaves the process; a new simulator has
//! a new key, so a receiver cannot come to trust a fixed test key by accident.

use std::str::FromStr;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1v15::{Pkcs1v15Sign, SigningKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::der::asn1::UtcTime;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use crate::amazon::signature::hex;
use crate::amazon::sns::{Envelope, SignatureVersion};

/// The signing key and its certificate (public so that tests can sign envelopes of their own).
pub struct SnsSigner {
    key: RsaPrivateKey,
    certificate_pem: String,
    file_name: String,
}

impl SnsSigner {
    /// A new RSA 2048 key (AWS-LC generates it quickly even in debug builds) and a self-signed
    /// certificate valid from `not_before` to `not_after` (Unix seconds).
    pub fn generate(not_before: u64, not_after: u64) -> Result<Self, String> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("RSA key generation: {e}"))?;
        let pkcs8 = pair.as_der().map_err(|e| format!("RSA key encoding: {e}"))?;
        let key = RsaPrivateKey::from_pkcs8_der(pkcs8.as_ref()).map_err(|e| format!("RSA key: {e}"))?;
        let certificate_pem = certificate(&key, not_before, not_after)?;
        // Named as SNS names its certificates: SimpleNotificationService-<32 hex>.pem.
        let digest = hex(&Sha256::digest(certificate_pem.as_bytes()));
        let file_name = format!("SimpleNotificationService-{}.pem", &digest[..32]);
        Ok(Self { key, certificate_pem, file_name })
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// `SimpleNotificationService-<hex>.pem`: the path the certificate is served at.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Signs the envelope's string to sign as SNS does for `version` (RSA PKCS#1 v1.5 with
    /// SHA-1 or SHA-256) and sets `SignatureVersion` and `Signature`.
    pub fn sign(&self, envelope: &mut Envelope, version: SignatureVersion) -> Result<(), String> {
        envelope.signature_version = version.as_str().to_owned();
        let text = envelope.string_to_sign();
        let signature = match version {
            SignatureVersion::V1 => self.key.sign(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(text.as_bytes())),
            SignatureVersion::V2 => self.key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(text.as_bytes())),
        }
        .map_err(|e| format!("signing: {e}"))?;
        envelope.signature = BASE64.encode(signature);
        Ok(())
    }
}

fn time(unix: u64) -> Result<Time, String> {
    UtcTime::from_unix_duration(Duration::from_secs(unix))
        .map(Time::UtcTime)
        .map_err(|e| format!("certificate time: {e}"))
}

/// A self-signed certificate for `key`, SHA256withRSA, in PEM.
fn certificate(key: &RsaPrivateKey, not_before: u64, not_after: u64) -> Result<String, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("test certificate ({what}): {e}");
    let public = RsaPublicKey::from(key);
    let spki_der = public.to_public_key_der().map_err(|e| fail("public key", &e))?;
    let spki = SubjectPublicKeyInfoOwned::try_from(spki_der.as_bytes()).map_err(|e| fail("public key", &e))?;
    // The serial number: the first bytes of the key's digest, positive and non-zero.
    let mut serial = Sha256::digest(spki_der.as_bytes())[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let serial = SerialNumber::new(&serial).map_err(|e| fail("serial", &e))?;
    let validity = Validity { not_before: time(not_before)?, not_after: time(not_after)? };
    let subject =
        Name::from_str("CN=sns.amazonaws.com,O=Amazon Pay simulator (test only)").map_err(|e| fail("subject", &e))?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    let builder = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .map_err(|e| fail("builder", &e))?;
    let certificate = builder.build::<rsa::pkcs1v15::Signature>().map_err(|e| fail("signature", &e))?;
    certificate.to_pem(LineEnding::LF).map_err(|e| fail("PEM", &e))
}

#[cfg(test)]
pub(in crate::simulator) mod tests {
    use super::*;
    use crate::amazon::sns::{IpnMessage, MessageType, ObjectType, SnsError};

    /// 2025-01-01 and 2045-01-01: the fixture certificates' validity.
    const FIXTURE_FROM: u64 = 1_735_689_600;
    const FIXTURE_UNTIL: u64 = 2_366_841_600;
    const NOW: u64 = 1_796_000_000;

    pub(in crate::simulator) fn notification(message: &IpnMessage) -> Envelope {
        Envelope {
            kind: MessageType::Notification,
            message_id: "0f3c3c57-5dc8-5a8b-9a47-1d6a2b0b7c11".into(),
            topic_arn: "arn:aws:sns:ap-northeast-1:000000000000:amazonpay-simulator-A1SIMULATOR".into(),
            subject: None,
            message: message.to_json(),
            timestamp: "2026-06-01T00:00:00.000Z".into(),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-fixture.pem".into(),
            unsubscribe_url: Some(
                "https://sns.ap-northeast-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:ap-northeast-1:000000000000:amazonpay-simulator-A1SIMULATOR:1".into(),
            ),
            subscribe_url: None,
            token: None,
        }
    }

    pub(in crate::simulator) fn charge_message() -> IpnMessage {
        IpnMessage {
            merchant_id: "A1SIMULATOR".into(),
            object_type: ObjectType::Charge,
            object_id: "S03-1234567-1234567-C123456".into(),
            charge_permission_id: Some("S03-1234567-1234567".into()),
            notification_type: "STATE_CHANGE".into(),
            notification_id: "7c1ab1f4-7b3d-4c9b-9a54-2a0d7f0e3b21".into(),
            notification_version: "V2".into(),
        }
    }

    #[test]
    fn notifications_signed_with_either_version_verify_with_the_served_certificate() {
        let signer = SnsSigner::generate(NOW - 3600, NOW + 3600).unwrap();
        assert!(signer.file_name().starts_with("SimpleNotificationService-"));
        assert!(signer.file_name().ends_with(".pem"));
        assert_eq!(signer.file_name().len(), "SimpleNotificationService-.pem".len() + 32);
        assert!(signer.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        for version in [SignatureVersion::V1, SignatureVersion::V2] {
            let mut envelope = notification(&charge_message());
            signer.sign(&mut envelope, version).unwrap();
            let parsed = Envelope::parse(envelope.to_json().as_bytes()).unwrap();
            assert_eq!(parsed.verify_at(signer.certificate_pem().as_bytes(), NOW), Ok(()));
            let mut tampered = parsed.clone();
            tampered.message = tampered.message.replace("CHARGE", "REFUND");
            assert_eq!(tampered.verify_at(signer.certificate_pem().as_bytes(), NOW), Err(SnsError::BadSignature));
        }
        let other = SnsSigner::generate(NOW - 3600, NOW + 3600).unwrap();
        assert_ne!(other.file_name(), signer.file_name(), "every simulator has its own key");
    }

    /// Writes `tests/fixtures/sns/` (certificates and signed notifications used by the unit tests
    /// of `amazon::sns` and as the fuzz target's seeds). Run by hand:
    /// `cargo test --lib write_sns_fixtures -- --ignored`.
    #[test]
    #[ignore = "writes fixture files"]
    fn write_sns_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sns");
        std::fs::create_dir_all(&dir).unwrap();
        let signer = SnsSigner::generate(FIXTURE_FROM, FIXTURE_UNTIL).unwrap();
        let other = SnsSigner::generate(FIXTURE_FROM, FIXTURE_UNTIL).unwrap();
        std::fs::write(dir.join("certificate.pem"), signer.certificate_pem()).unwrap();
        std::fs::write(dir.join("other_certificate.pem"), other.certificate_pem()).unwrap();
        for (version, name) in
            [(SignatureVersion::V1, "notification_v1.json"), (SignatureVersion::V2, "notification_v2.json")]
        {
            let mut envelope = notification(&charge_message());
            signer.sign(&mut envelope, version).unwrap();
            std::fs::write(dir.join(name), envelope.to_json()).unwrap();
        }
    }
}
