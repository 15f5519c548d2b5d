//! Hostile input on the simulator's hosted pages (form values, signed payload values, checkout
//! session IDs) is shown only escaped on Amazon's error page, never echoed as markup.

use crate::common::simulator_pages::*;

/// Asserts that `reply` is an error page that shows `HOSTILE` only escaped.
#[track_caller]
fn assert_escaped(reply: &Reply) {
    reply.error_code();
    let text = reply.text();
    assert!(!text.contains("<script>alert") && !text.contains("<img"), "markup echoed raw: {text}");
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the value is shown escaped: {text}");
}

#[tokio::test]
async fn hostile_form_values_are_escaped_on_the_error_page() {
    let amazon = Amazon::new();
    for field in ["merchantId", "publicKeyId", "algorithm", "signature", "productType"] {
        assert_escaped(&amazon.initiate(&Button::sign_in().with(field, HOSTILE)).await);
    }
}

#[tokio::test]
async fn hostile_signed_payload_values_are_escaped_on_the_error_page() {
    let amazon = Amazon::new();
    let store = sign_in_payload(SIGNIN_RETURN).replace(STORE_ID, &HOSTILE.replace('"', "\\\""));
    assert_escaped(&amazon.initiate(&Button::signed("SignIn", store)).await);
    let url = format!("https://evil.example/{HOSTILE}");
    assert_escaped(&amazon.initiate(&Button::signed("SignIn", sign_in_payload(&url))).await);
}

#[tokio::test]
async fn a_hostile_checkout_session_id_is_escaped_on_the_error_page() {
    let amazon = Amazon::new();
    let uri = format!(
        "/checkout/initiate_auth?{}",
        url::form_urlencoded::Serializer::new(String::new()).append_pair("amazonCheckoutSessionId", HOSTILE).finish()
    );
    assert_escaped(&amazon.get(&uri).await);
}

#[tokio::test]
async fn amazons_page_for_an_unknown_or_hostile_api_session_is_an_error_page() {
    let amazon = Amazon::new();
    for id in ["", "unknown", HOSTILE] {
        let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let reply = amazon.get(&format!("/checkout/initiate?amazonCheckoutSessionId={encoded}")).await;
        assert_eq!(reply.error_code(), "ResourceNotFound", "{id:?}");
        assert!(!reply.text().contains("<script>"));
    }
    assert_eq!(amazon.get("/checkout/initiate").await.error_code(), "ResourceNotFound");
}
