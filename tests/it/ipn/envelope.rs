//! `amazon::sns` refuses what the shop's IPN endpoint must refuse, tested on envelopes the
//! simulator really sent: forged (signed with another key, or pointing at a certificate on
//! another host), tampered, relabelled or unknown signature versions, oversized and malformed
//! envelopes; and it accepts the genuine ones, Lambda spellings included.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::common::sim::{IpnReceiver, SimSocket, TEST_KEY_PEM, account, ready, shop_key};
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::sns::{Envelope, MAX_ENVELOPE_BYTES, SnsError, check_cert_url};
use amazonpay2::amazon::types::Money;

const MERCHANT_ID: &str = "A1IPNENVELOPETEST";
const STORE_ID: &str = "amzn1.application-oa2-client.ipnenvelopetest00000000000";
const KEY_ID: &str = "SANDBOX-AMAZONPAY2IPNENVELOPEKEY";

/// Genuine envelopes from the simulator, with what it takes to check them.
struct Genuine {
    /// The envelope bodies as they arrived.
    bodies: Vec<Vec<u8>>,
    certificate: Vec<u8>,
    origin: String,
    _sim: SimSocket,
    _endpoint: IpnReceiver,
}

/// Two notifications (a charge permission and a charge) signed with `version`.
async fn genuine(version: &str) -> Genuine {
    let key: Arc<ShopKey> = shop_key();
    let sim = SimSocket::start(account(MERCHANT_ID, STORE_ID, KEY_ID, true), &key, |s| s.router()).await;
    let endpoint = IpnReceiver::start().await;
    let answer = sim.control("ipn", json!({ "url": endpoint.url, "signatureVersion": version })).await;
    assert_eq!(answer.status(), 200);
    let client = sim.client(&key);
    let payload = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": "https://shop.example/review" },
        "storeId": STORE_ID,
    });
    let id = sim.choose(&key, &payload, "visa").await;
    let session = client.update_checkout_session(&id, &ready("Authorize", 1000)).await.unwrap();
    sim.pay(session.web_checkout_details.unwrap().amazon_pay_redirect_url.as_deref().unwrap()).await;
    client.complete_checkout_session(&id, &Money::yen(1000), "envelope-complete").await.unwrap();
    let bodies: Vec<Vec<u8>> = endpoint.wait_for(2).await.into_iter().map(|r| r.body).collect();
    let envelope = Envelope::parse(&bodies[0]).unwrap();
    let certificate = sim.http.get(&envelope.signing_cert_url).send().await.unwrap().bytes().await.unwrap().to_vec();
    Genuine { bodies, certificate, origin: sim.origin(), _sim: sim, _endpoint: endpoint }
}

impl Genuine {
    fn envelope(&self) -> Envelope {
        Envelope::parse(&self.bodies[0]).unwrap()
    }

    /// The first envelope's JSON with `edit` applied, parsed.
    fn edited(&self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Result<Envelope, SnsError> {
        let mut value: Value = serde_json::from_slice(&self.bodies[0]).unwrap();
        edit(value.as_object_mut().unwrap());
        Envelope::parse(value.to_string().as_bytes())
    }

    fn verify(&self, envelope: &Envelope) -> Result<(), SnsError> {
        check_cert_url(&envelope.signing_cert_url, &[self.origin.as_str()])?;
        envelope.verify(&self.certificate)
    }
}

/// A change to an envelope's members.
type Edit = dyn Fn(&mut serde_json::Map<String, Value>);

/// Signs `envelope` as SNS would, but with the shop's own test key: a forgery.
fn forge(envelope: &mut Envelope, version: &str) {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).unwrap();
    envelope.signature_version = version.to_owned();
    let text = envelope.string_to_sign();
    let signature = match version {
        "1" => key.sign(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(text.as_bytes())),
        _ => key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(text.as_bytes())),
    }
    .unwrap();
    envelope.signature = BASE64.encode(signature);
}

#[tokio::test]
async fn genuine_notifications_of_both_versions_verify() {
    for version in ["1", "2"] {
        let genuine = genuine(version).await;
        for body in &genuine.bodies {
            let envelope = Envelope::parse(body).unwrap();
            assert_eq!(envelope.signature_version, version);
            assert_eq!(genuine.verify(&envelope), Ok(()));
            assert_eq!(envelope.ipn().unwrap().merchant_id, MERCHANT_ID);
        }
    }
}

#[tokio::test]
async fn a_notification_signed_with_another_key_is_refused() {
    let genuine = genuine("1").await;
    for version in ["1", "2"] {
        let mut forged = genuine.envelope();
        forged.message = forged.message.replace("CHARGE", "REFUND");
        forge(&mut forged, version);
        assert_eq!(genuine.verify(&forged), Err(SnsError::BadSignature), "version {version}");
    }
}

#[tokio::test]
async fn a_forger_cannot_point_at_a_certificate_of_their_own() {
    let genuine = genuine("1").await;
    for url in [
        "https://evil.example/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem",
        "https://s3.amazonaws.com/bucket/SimpleNotificationService-x.pem",
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "http://127.0.0.1:1/SimpleNotificationService-x.pem",
        &genuine.envelope().signing_cert_url.replace(".pem", ".pem?x"),
        &genuine.envelope().signing_cert_url.replace("http://", "https://"),
    ] {
        let mut forged = genuine.envelope();
        forged.signing_cert_url = url.to_owned();
        forge(&mut forged, "1");
        assert!(matches!(genuine.verify(&forged), Err(SnsError::CertUrlNotAllowed(_))), "{url}");
    }
}

#[tokio::test]
async fn tampering_with_any_signed_member_is_refused() {
    let genuine = genuine("1").await;
    let object_id = genuine.envelope().ipn().unwrap().object_id;
    let cases: Vec<(&str, Box<Edit>)> = vec![
        (
            "another object",
            Box::new(move |m| {
                let message = m["Message"].as_str().unwrap().replace(&object_id, "S03-0000000-0000000");
                m.insert("Message".into(), message.into());
            }),
        ),
        (
            "another merchant",
            Box::new(|m| {
                let message = m["Message"].as_str().unwrap().replace(MERCHANT_ID, "A1OTHER");
                m.insert("Message".into(), message.into());
            }),
        ),
        (
            "MessageId",
            Box::new(|m| {
                m.insert("MessageId".into(), "00000000-0000-4000-8000-000000000000".into());
            }),
        ),
        (
            "Timestamp",
            Box::new(|m| {
                m.insert("Timestamp".into(), "2030-01-01T00:00:00.000Z".into());
            }),
        ),
        (
            "TopicArn",
            Box::new(|m| {
                m.insert("TopicArn".into(), "arn:aws:sns:us-east-1:1:other".into());
            }),
        ),
        (
            "Subject",
            Box::new(|m| {
                m.insert("Subject".into(), "added".into());
            }),
        ),
        ("the signature of the other envelope", Box::new(|_| {})),
    ];
    let other = Envelope::parse(&genuine.bodies[1]).unwrap();
    for (what, edit) in cases {
        let mut envelope = genuine.edited(|m| edit(m)).unwrap();
        if what.starts_with("the signature") {
            envelope.signature = other.signature.clone();
        }
        assert_eq!(genuine.verify(&envelope), Err(SnsError::BadSignature), "{what}");
    }
    // What is not signed may change: the shop must not trust it (the certificate URL is
    // checked on its own).
    let unsubscribe = genuine.edited(|m| {
        m.insert("UnsubscribeURL".into(), "https://evil.example/".into());
    });
    assert_eq!(genuine.verify(&unsubscribe.unwrap()), Ok(()));
}

#[tokio::test]
async fn relabelled_and_unknown_signature_versions_are_refused() {
    let genuine = genuine("1").await;
    let relabelled = genuine.edited(|m| {
        m.insert("SignatureVersion".into(), "2".into());
    });
    assert_eq!(genuine.verify(&relabelled.unwrap()), Err(SnsError::BadSignature));
    for version in ["3", "0", "", "1.0", "SHA1"] {
        let unknown = genuine.edited(|m| {
            m.insert("SignatureVersion".into(), version.into());
        });
        assert!(
            matches!(genuine.verify(&unknown.unwrap()), Err(SnsError::UnsupportedSignatureVersion(_))),
            "{version:?}"
        );
    }
    let numeric = genuine.edited(|m| {
        m.insert("SignatureVersion".into(), json!(1));
    });
    assert!(matches!(numeric, Err(SnsError::Malformed(_))), "strict types");
}

#[tokio::test]
async fn oversized_and_malformed_envelopes_are_refused_before_anything_else() {
    let genuine = genuine("1").await;
    let mut padded = genuine.bodies[0].clone();
    padded.extend(std::iter::repeat_n(b' ', MAX_ENVELOPE_BYTES));
    assert_eq!(Envelope::parse(&padded), Err(SnsError::TooLarge));
    let huge = genuine.edited(|m| {
        m.insert("Message".into(), "x".repeat(MAX_ENVELOPE_BYTES).into());
    });
    assert_eq!(huge, Err(SnsError::TooLarge));
    for junk in [&b""[..], b"null", b"[]", b"{\"Type\":\"Notification\"}", b"\xff\xfe", b"{\"Type\":\"Notification\","]
    {
        assert!(Envelope::parse(junk).is_err(), "{junk:?}");
    }
    let text = String::from_utf8(genuine.bodies[0].clone()).unwrap();
    let twice = text.replacen('{', "{\"Message\":\"{}\",", 1);
    assert!(matches!(Envelope::parse(twice.as_bytes()), Err(SnsError::Malformed(_))), "a member twice");
    let confirmation = genuine.edited(|m| {
        m.insert("Type".into(), "SubscriptionConfirmation".into());
    });
    assert_eq!(confirmation, Err(SnsError::MissingField("SubscribeURL")));
}

#[tokio::test]
async fn lambda_spellings_of_a_genuine_envelope_verify() {
    let genuine = genuine("2").await;
    let text = String::from_utf8(genuine.bodies[0].clone()).unwrap();
    let lambda =
        text.replace("\"SigningCertURL\"", "\"SigningCertUrl\"").replace("\"UnsubscribeURL\"", "\"UnsubscribeUrl\"");
    let envelope = Envelope::parse(lambda.as_bytes()).unwrap();
    assert_eq!(envelope, genuine.envelope());
    assert_eq!(genuine.verify(&envelope), Ok(()));
}

#[tokio::test]
async fn a_certificate_that_is_not_the_signers_or_not_a_certificate_is_refused() {
    let genuine = genuine("1").await;
    let envelope = genuine.envelope();
    let other = include_bytes!("../../fixtures/sns/other_certificate.pem");
    assert_eq!(envelope.verify(other), Err(SnsError::BadSignature));
    assert!(matches!(envelope.verify(TEST_KEY_PEM.as_bytes()), Err(SnsError::Certificate(_))));
    assert!(matches!(envelope.verify(b""), Err(SnsError::Certificate(_))));
}
