//! Arbitrary bytes through what the shop's IPN endpoint does with a body: parse the SNS
//! envelope, build its string to sign, check its certificate URL, verify its signature with the
//! fixture certificate, read Amazon's message. Nothing may panic, and nothing may verify unless
//! its string to sign is one the fixture key really signed (the seeds'): changing any signed
//! member must break the signature, whatever else the bytes do.

#![no_main]

use std::sync::LazyLock;

use amazonpay2::amazon::sns::{Envelope, IpnMessage, check_cert_url};
use libfuzzer_sys::fuzz_target;

const CERTIFICATE: &[u8] = include_bytes!("../../fixtures/sns/certificate.pem");
const SIGNED: [&[u8]; 2] = [
    include_bytes!("../../fixtures/sns/notification_v1.json"),
    include_bytes!("../../fixtures/sns/notification_v2.json"),
];
/// 2026-06-01, inside the fixture certificate's validity.
const NOW: u64 = 1_780_272_000;

/// The strings the fixture key signed.
static SIGNED_STRINGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    SIGNED.iter().map(|body| Envelope::parse(body).expect("a seed parses").string_to_sign()).collect()
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = check_cert_url(&text, &["http://127.0.0.1:8081"]);
    let _ = IpnMessage::parse(&text);
    // The bytes as the certificate a genuine envelope names: refused or not, never a panic.
    if let Ok(genuine) = Envelope::parse(SIGNED[0]) {
        let _ = genuine.verify_at(data, NOW);
    }
    let Ok(envelope) = Envelope::parse(data) else {
        return;
    };
    let to_sign = envelope.string_to_sign();
    let _ = check_cert_url(&envelope.signing_cert_url, &[]);
    let _ = envelope.ipn();
    let round_trip = Envelope::parse(envelope.to_json().as_bytes());
    assert_eq!(round_trip.as_ref(), Ok(&envelope), "what is written reads back the same");
    if envelope.verify_at(CERTIFICATE, NOW).is_ok() {
        assert!(SIGNED_STRINGS.contains(&to_sign), "an envelope verified that was never signed: {to_sign:?}");
    }
});
