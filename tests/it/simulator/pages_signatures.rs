//! The simulator checks a button's signature as Amazon does: genuine V2 and V1 signatures pass;
//! a payload changed after signing, another key, a garbled signature, a V1 label on a V2
//! signature and an unknown algorithm do not.

use std::sync::{Arc, LazyLock};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::pss::Pss;
use sha2::{Digest, Sha256};

use crate::common::simulator_pages::*;
use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::amazon::signature::string_to_sign;

/// A second RSA key that Amazon has never seen, made once per test run.
fn stranger_key() -> Arc<ShopKey> {
    static KEY: LazyLock<Arc<ShopKey>> = LazyLock::new(|| {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        Arc::new(ShopKey::from_pem(pem.as_bytes()).unwrap())
    });
    KEY.clone()
}

/// Signs as Amazon's V1 SDKs do: the V1 label and a 20-byte salt.
fn sign_v1(payload: &str) -> String {
    use base64::Engine;
    let private = RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).unwrap();
    let hashed = Sha256::digest(string_to_sign(V1, payload).as_bytes());
    let signature = private.sign_with_rng(&mut rand::rngs::OsRng, Pss::new_with_salt::<Sha256>(20), &hashed).unwrap();
    base64::engine::general_purpose::STANDARD.encode(signature)
}

#[tokio::test]
async fn a_genuine_v1_signature_is_accepted() {
    let payload = sign_in_payload(SIGNIN_RETURN);
    let signature = sign_v1(&payload);
    let button = Button::with_signature("SignIn", payload, signature).with("algorithm", V1);
    Amazon::new().initiate(&button).await.flow_id();
    let unlabeled = button.without("algorithm");
    Amazon::new().initiate(&unlabeled).await.flow_id();
}

#[tokio::test]
async fn a_payload_changed_after_signing_is_an_invalid_signature() {
    let amazon = Amazon::new();
    let button = Button::sign_in();
    let payload = button.field("payloadJSON").to_owned();
    let tampered = [
        payload.replace("S1", "S2"),
        payload.replace("shop.example", "shop.exampl3"),
        payload.replacen(':', ": ", 1),
        format!("{payload} "),
        format!(" {payload}"),
        payload.replace("\"name\",", "\"name\",\"postalCode\","),
    ];
    for payload in tampered {
        let button = button.clone().with("payloadJSON", &payload);
        assert_eq!(amazon.refusal(&button).await, "InvalidSignatureError", "{payload}");
    }
}

#[tokio::test]
async fn a_signature_from_another_key_is_an_invalid_signature() {
    let payload = sign_in_payload(SIGNIN_RETURN);
    let signature = sign_v2(stranger_key(), &payload);
    let button = Button::with_signature("SignIn", payload, signature);
    assert_eq!(Amazon::new().refusal(&button).await, "InvalidSignatureError");
}

#[tokio::test]
async fn a_garbled_signature_is_an_invalid_signature() {
    let amazon = Amazon::new();
    let good = Button::sign_in();
    let signature = good.field("signature").to_owned();
    let flipped = format!("{}{}", if signature.starts_with('A') { 'B' } else { 'A' }, &signature[1..]);
    for garbled in [flipped.as_str(), "%%%not-base64%%%", "AAAA", &signature[..signature.len() / 2]] {
        let button = good.clone().with("signature", garbled);
        assert_eq!(amazon.refusal(&button).await, "InvalidSignatureError", "{garbled}");
    }
}

#[tokio::test]
async fn a_v1_label_on_a_v2_signature_is_an_invalid_signature() {
    let amazon = Amazon::new();
    assert_eq!(amazon.refusal(&Button::sign_in().with("algorithm", V1)).await, "InvalidSignatureError");
    // checkout.js sends the V1 default when a config names no algorithm.
    assert_eq!(amazon.refusal(&Button::sign_in().without("algorithm")).await, "InvalidSignatureError");
}

#[tokio::test]
async fn an_unknown_algorithm_is_refused() {
    let amazon = Amazon::new();
    for algorithm in ["RS256", "AMZN-PAY-RSASSA-PSS-V3", "amzn-pay-rsassa-pss-v2", "none"] {
        let code = amazon.refusal(&Button::sign_in().with("algorithm", algorithm)).await;
        assert_eq!(code, "InvalidParameterValue", "{algorithm}");
    }
}
