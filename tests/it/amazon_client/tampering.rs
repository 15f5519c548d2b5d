//! The simulator refuses API requests changed after signing (body, signed header, path, query,
//! date), stale or malformed dates, unsigned or missing headers, malformed or garbled
//! authorizations, unknown keys, another key's signature and wrong algorithm labels, without
//! using up the buyer token.

use reqwest::Method;

use crate::common::client::*;

fn remove_header(headers: &mut Vec<(String, String)>, name: &str) -> String {
    let index = headers.iter().position(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} header"));
    headers.remove(index).1
}

/// Signs a request, lets `tamper` change it or its `authorization` afterwards, and sends it.
async fn send_tampered(
    sim: &Sim,
    request: HandRequest,
    tamper: impl FnOnce(&mut HandRequest, &mut Option<String>),
) -> Answer {
    let mut authorization = Some(request.authorization());
    let mut request = request;
    tamper(&mut request, &mut authorization);
    request.send_as(sim, authorization.as_deref()).await
}

/// A getBuyer request for a fresh, valid token, tampered with, is refused with `status` and
/// `reason_code` (never the token's own 400), and the refusal does not use the token up.
async fn assert_tampered_get_buyer_refused(
    tamper: impl FnOnce(&mut HandRequest, &mut Option<String>),
    status: u16,
    reason_code: &str,
) {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    let request = php_style(&sim, sdk_path(&sim.account, &format!("buyers/{token}")), Alg::V2);
    let answer = send_tampered(&sim, request, tamper).await;
    assert_amazon_error(&answer, status, reason_code);
    assert_is_test_buyer(&sim.client().get_buyer(&token).await.unwrap(), 0);
}

/// The base request of the tampering tests, sent as signed, gets the buyer.
#[tokio::test]
async fn the_untampered_reference_request_gets_the_buyer() {
    let sim = Sim::sandbox().await;
    let token = sim.buyer_token(0).await;
    let request = php_style(&sim, sdk_path(&sim.account, &format!("buyers/{token}")), Alg::V2);
    assert_is_test_buyer(&send_tampered(&sim, request, |_, _| {}).await.buyer(), 0);
}

#[tokio::test]
async fn a_body_changed_after_signing_is_refused() {
    let sim = Sim::sandbox().await;
    let request = php_style(&sim, sdk_path(&sim.account, "checkoutSessions"), Alg::V2)
        .signed_header("x-amz-pay-idempotency-key", "cllHyiNvS8cJ8Zas")
        .with_body(r#"{"storeId":"a"}"#);
    let request = HandRequest { method: Method::POST, ..request };
    // Verified, the request reaches Amazon's checks of the body (a storeId of another merchant).
    assert_amazon_error(&send_tampered(&sim, request.clone(), |_, _| {}).await, 400, "InvalidParameterValue");
    let answer = send_tampered(&sim, request, |r, _| r.body = r#"{"storeId":"b"}"#.into()).await;
    assert_amazon_error(&answer, 401, "InvalidRequestSignature");
    // Amazon's own words (as its answers in the SDKs' issues show them): the string it signed,
    // with its newline, then the signature it was given.
    let message =
        serde_json::from_str::<serde_json::Value>(&answer.text).unwrap()["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("Unable to verify signature, signing String [AMZN-PAY-RSASSA-PSS-V2\n"), "{message}");
    assert!(message.contains("] , signature [") && message.ends_with(']'), "{message}");
}

#[tokio::test]
async fn a_signed_header_changed_after_signing_is_refused() {
    let tamper = |r: &mut HandRequest, _: &mut Option<String>| set_header(&mut r.signed, "x-amz-pay-region", "us");
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_path_changed_after_signing_is_refused() {
    assert_tampered_get_buyer_refused(|r, _| r.path.push('x'), 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_query_added_after_signing_is_refused() {
    assert_tampered_get_buyer_refused(|r, _| r.path.push_str("?a=1"), 401, "InvalidRequestSignature").await;
}

/// Re-signs the request with another `x-amz-pay-date`.
fn redate(date: String) -> impl FnOnce(&mut HandRequest, &mut Option<String>) {
    move |r, authorization| {
        set_header(&mut r.signed, "x-amz-pay-date", &date);
        r.signed.sort_by(|a, b| a.0.cmp(&b.0));
        *authorization = Some(r.authorization());
    }
}

#[tokio::test]
async fn a_date_twenty_minutes_old_is_refused() {
    let tamper = redate(basic_date(time::Duration::minutes(-20)));
    assert_tampered_get_buyer_refused(tamper, 400, "InvalidHeaderValue").await;
}

#[tokio::test]
async fn a_date_twenty_minutes_ahead_is_refused() {
    let tamper = redate(extended_date(time::Duration::minutes(20)));
    assert_tampered_get_buyer_refused(tamper, 400, "InvalidHeaderValue").await;
}

#[tokio::test]
async fn a_date_that_is_not_a_date_is_refused() {
    assert_tampered_get_buyer_refused(redate("yesterday".into()), 400, "InvalidHeaderValue").await;
}

#[tokio::test]
async fn a_missing_signed_header_is_refused() {
    let tamper = |r: &mut HandRequest, _: &mut Option<String>| {
        remove_header(&mut r.signed, "x-amz-pay-host");
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn an_unsigned_date_is_refused() {
    let tamper = |r: &mut HandRequest, authorization: &mut Option<String>| {
        let date = remove_header(&mut r.signed, "x-amz-pay-date");
        r.unsigned.push(("x-amz-pay-date".into(), date));
        *authorization = Some(r.authorization());
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_malformed_authorization_header_is_refused() {
    let sim = Sim::sandbox().await;
    for malformed in
        ["AMZN-PAY-RSASSA-PSS-V2 Signature", "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=x, Signature=abc", "Bearer abc", ""]
    {
        let request = php_style(&sim, sdk_path(&sim.account, "buyers/x"), Alg::V2);
        let answer = send_tampered(&sim, request, |_, a| *a = Some(malformed.into())).await;
        assert_eq!(answer.status, 401, "{malformed:?}: {}", answer.text);
        assert_amazon_error(&answer, 401, "InvalidRequestSignature");
    }
}

#[tokio::test]
async fn a_garbled_signature_is_refused() {
    let tamper = |_: &mut HandRequest, a: &mut Option<String>| {
        let value = a.take().unwrap();
        let (head, _) = value.split_once("Signature=").unwrap();
        *a = Some(format!("{head}Signature=%%%not-base64%%%"));
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_missing_authorization_header_is_refused() {
    assert_tampered_get_buyer_refused(|_, a| *a = None, 400, "MissingHeader").await;
}

#[tokio::test]
async fn an_unknown_public_key_id_is_refused() {
    let tamper = |r: &mut HandRequest, a: &mut Option<String>| {
        r.public_key_id = "SANDBOX-SOMEONEELSESKEY0000000000".into();
        *a = Some(r.authorization());
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn a_signature_from_another_key_under_our_key_id_is_refused() {
    let tamper = |r: &mut HandRequest, a: &mut Option<String>| {
        r.signer = stranger();
        *a = Some(r.authorization());
    };
    assert_tampered_get_buyer_refused(tamper, 401, "InvalidRequestSignature").await;
}

/// Replaces the algorithm label at the start of the `authorization` header.
fn relabel(label: &'static str) -> impl FnOnce(&mut HandRequest, &mut Option<String>) {
    move |_, a| {
        let value = a.take().unwrap();
        let (_, rest) = value.split_once(' ').unwrap();
        *a = Some(format!("{label} {rest}"));
    }
}

#[tokio::test]
async fn a_v2_signature_labelled_v1_is_refused() {
    assert_tampered_get_buyer_refused(relabel("AMZN-PAY-RSASSA-PSS"), 401, "InvalidRequestSignature").await;
}

#[tokio::test]
async fn an_unknown_algorithm_is_refused() {
    assert_tampered_get_buyer_refused(relabel("AMZN-PAY-RSASSA-PKCS1"), 401, "InvalidRequestSignature").await;
}
