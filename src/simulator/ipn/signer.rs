//! The simulator's SNS signing identity: an RSA 2048 key made when the simulator first needs it,
//! its certificate (`CN=sns.amazonaws.com`, as SNS's are) and the test root that issued it, which
//! the simulator serves together at the `SigningCertURL` of its notifications. The keys never
//! leave the process; a new simulator has new ones, so a receiver cannot come to trust a fixed
//! test key by accident, and the test root is trusted only by a shop told to trust the
//! simulator's origin (`AMAZONPAY2_IPN_CERT_HOSTS`, the demo's): SNS's own certificates chain to
//! the web's roots, which this one never does.

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

/// The signing key, its certificate and its test root (public so that tests can sign envelopes
/// of their own).
pub struct SnsSigner {
    key: RsaPrivateKey,
    certificate_pem: String,
    root_pem: String,
    file_name: String,
}

impl SnsSigner {
    /// New RSA 2048 keys (AWS-LC generates them quickly even in debug builds): a test root and
    /// the signing certificate it issues, both valid from `not_before` to `not_after` (Unix
    /// seconds).
    pub fn generate(not_before: u64, not_after: u64) -> Result<Self, String> {
        let root_key = rsa_key()?;
        let key = rsa_key()?;
        let validity = Validity { not_before: time(not_before)?, not_after: time(not_after)? };
        let root_name = name(ROOT_SUBJECT)?;
        let root_pem = certificate(&root_key, Profile::Root, root_name.clone(), &root_key, validity)?;
        let leaf = Profile::Leaf { issuer: root_name, enable_key_agreement: false, enable_key_encipherment: false };
        let certificate_pem = certificate(&key, leaf, name(SUBJECT)?, &root_key, validity)?;
        // Named as SNS names its certificates: SimpleNotificationService-<32 hex>.pem.
        let digest = hex(&Sha256::digest(certificate_pem.as_bytes()));
        let file_name = format!("SimpleNotificationService-{}.pem", &digest[..32]);
        Ok(Self { key, certificate_pem, root_pem, file_name })
    }

    /// What the simulator serves at the certificate URL (PEM): the signing certificate, then the
    /// test root that issued it.
    pub fn certificate_pem(&self) -> String {
        format!("{}{}", self.certificate_pem, self.root_pem)
    }

    /// The signing certificate alone (PEM).
    pub fn signing_certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The test root alone (PEM).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
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

/// The signing certificate's subject, as SNS's.
const SUBJECT: &str = "CN=sns.amazonaws.com,O=Amazon Pay simulator (test only)";
/// The test root's subject.
const ROOT_SUBJECT: &str = "CN=Amazon Pay simulator SNS test root,O=Amazon Pay simulator (test only)";

fn rsa_key() -> Result<RsaPrivateKey, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("RSA key generation: {e}"))?;
    let pkcs8 = pair.as_der().map_err(|e| format!("RSA key encoding: {e}"))?;
    RsaPrivateKey::from_pkcs8_der(pkcs8.as_ref()).map_err(|e| format!("RSA key: {e}"))
}

fn name(subject: &str) -> Result<Name, String> {
    Name::from_str(subject).map_err(|e| format!("test certificate subject: {e}"))
}

fn time(unix: u64) -> Result<Time, String> {
    UtcTime::from_unix_duration(Duration::from_secs(unix))
        .map(Time::UtcTime)
        .map_err(|e| format!("certificate time: {e}"))
}

/// A certificate for `key` with `subject`, issued (SHA256withRSA) by `issuer_key`, in PEM.
fn certificate(
    key: &RsaPrivateKey,
    profile: Profile,
    subject: Name,
    issuer_key: &RsaPrivateKey,
    validity: Validity,
) -> Result<String, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("test certificate ({what}): {e}");
    let public = RsaPublicKey::from(key);
    let spki_der = public.to_public_key_der().map_err(|e| fail("public key", &e))?;
    let spki = SubjectPublicKeyInfoOwned::try_from(spki_der.as_bytes()).map_err(|e| fail("public key", &e))?;
    // The serial number: the first bytes of the key's digest, positive and non-zero.
    let mut serial = Sha256::digest(spki_der.as_bytes())[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let serial = SerialNumber::new(&serial).map_err(|e| fail("serial", &e))?;
    let signer = SigningKey::<Sha256>::new(issuer_key.clone());
    let builder =
        CertificateBuilder::new(profile, serial, validity, subject, spki, &signer).map_err(|e| fail("builder", &e))?;
    let certificate = builder.build::<rsa::pkcs1v15::Signature>().map_err(|e| fail("signature", &e))?;
    certificate.to_pem(LineEnding::LF).map_err(|e| fail("PEM", &e))
}

#[cfg(test)]
pub(in crate::simulator) mod tests {
    use super::*;
    use crate::amazon::sns::{Anchors, IpnMessage, MessageType, ObjectType, SigningCertificate, SnsError};

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

    #[test]
    fn the_served_certificate_names_sns_and_chains_to_the_test_root_and_to_no_web_root() {
        let signer = SnsSigner::generate(NOW - 3600, NOW + 3600).unwrap();
        let served = SigningCertificate::parse(signer.certificate_pem().as_bytes()).unwrap();
        let roots = served.bundled_roots();
        assert_eq!(roots.len(), 1, "the test root travels with the certificate");
        assert_eq!(served.check(Anchors::Given(&roots), &[], NOW), Ok(()));
        assert_eq!(served.check(Anchors::Web, &[], NOW), Err(SnsError::UnknownIssuer), "never trusted as SNS's");
        assert_eq!(served.check(Anchors::Given(&roots), &[], NOW + 7200), Err(SnsError::CertificateNotValidNow));
        let other = SnsSigner::generate(NOW - 3600, NOW + 3600).unwrap();
        let other_roots = SigningCertificate::parse(other.certificate_pem().as_bytes()).unwrap().bundled_roots();
        let refused = served.check(Anchors::Given(&other_roots), &[], NOW);
        assert!(
            matches!(refused, Err(SnsError::UntrustedCertificate(_))),
            "another root of the same name: {refused:?}"
        );
        // The signing certificate alone brings no root, and is no root itself.
        let alone = SigningCertificate::parse(signer.signing_certificate_pem().as_bytes()).unwrap();
        assert!(alone.bundled_roots().is_empty());
        assert_eq!(alone.check(Anchors::Given(&alone.bundled_roots()), &[], NOW), Err(SnsError::UnknownIssuer));
        let root_der = SigningCertificate::parse(signer.root_pem().as_bytes()).unwrap().der_for_tests();
        assert_eq!(alone.check(Anchors::Given(&root_der), &[], NOW), Ok(()), "given the root, it chains");
    }

    #[test]
    fn a_certificate_for_another_name_or_one_signing_itself_is_refused() {
        let validity = Validity { not_before: time(NOW - 3600).unwrap(), not_after: time(NOW + 3600).unwrap() };
        let (root_key, key) = (rsa_key().unwrap(), rsa_key().unwrap());
        let root_name = name(ROOT_SUBJECT).unwrap();
        let root = certificate(&root_key, Profile::Root, root_name.clone(), &root_key, validity).unwrap();
        let leaf = |subject: &str| {
            let profile = Profile::Leaf {
                issuer: root_name.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: false,
            };
            format!("{}{root}", certificate(&key, profile, name(subject).unwrap(), &root_key, validity).unwrap())
        };
        for subject in
            ["CN=sns.evil.example", "CN=sns.amazonaws.com.evil.example", "O=Amazon", "CN=sns.amazonaws.com,CN=x"]
        {
            let bundle = SigningCertificate::parse(leaf(subject).as_bytes()).unwrap();
            let refused = bundle.check(Anchors::Given(&bundle.bundled_roots()), &[], NOW);
            assert!(matches!(refused, Err(SnsError::UntrustedCertificate(_))), "{subject}: {refused:?}");
        }
        let good = SigningCertificate::parse(leaf(SUBJECT).as_bytes()).unwrap();
        assert_eq!(good.check(Anchors::Given(&good.bundled_roots()), &[], NOW), Ok(()));
        // What anyone can make: a certificate naming sns.amazonaws.com that signs itself.
        let own = certificate(&key, Profile::Root, name(SUBJECT).unwrap(), &key, validity).unwrap();
        let own = SigningCertificate::parse(own.as_bytes()).unwrap();
        for anchors in [Anchors::Web, Anchors::Given(&own.bundled_roots())] {
            let refused = own.check(anchors, &[], NOW);
            assert!(matches!(refused, Err(SnsError::UnknownIssuer | SnsError::UntrustedCertificate(_))), "{refused:?}");
        }
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
