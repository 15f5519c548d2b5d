//! The payloads the server signs, built only from its configuration and server-side state.
//!
//! Nothing here takes a string from the browser: return URLs are fixed paths under the shop
//! origin, and the only variable parts are the session's own sign-in state and the cart's own
//! review reference, both random and made by the server.

use serde::Serialize;

use super::paths;
use super::settings::{AmazonAccount, ShopOrigin};
use crate::contract::Price;

/// What the shopper signs in for; decides where Amazon sends them back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInIntent {
    /// The login block: log in, or sign up with the Amazon details.
    Login,
    /// My Page: link the Amazon account to the logged-in member.
    Link,
}

impl SignInIntent {
    /// The value in the return URL's `intent` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Link => "link",
        }
    }

    /// Parses the return URL's `intent` parameter.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "login" => Some(Self::Login),
            "link" => Some(Self::Link),
            _ => None,
        }
    }

    /// Login needs the address book to prefill sign-up; linking needs only who the buyer is.
    fn scopes(self) -> &'static [&'static str] {
        match self {
            Self::Login => &["name", "email", "postalCode", "shippingAddress", "phoneNumber"],
            Self::Link => &["name", "email"],
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignInPayload<'a> {
    sign_in_return_url: String,
    sign_in_cancel_url: String,
    store_id: &'a str,
    sign_in_scopes: &'a [&'a str],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckoutPayload<'a> {
    web_checkout_details: WebCheckoutDetails,
    store_id: &'a str,
    scopes: &'a [&'a str],
    charge_permission_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recurring_metadata: Option<RecurringMetadata>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecurringMetadata {
    frequency: Frequency,
    amount: Price,
}

#[derive(Serialize)]
struct Frequency {
    unit: &'static str,
    value: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebCheckoutDetails {
    checkout_review_return_url: String,
    checkout_cancel_url: String,
}

/// Builds payload strings for one shop.
pub struct PayloadBuilder<'a> {
    /// The shop's origin.
    pub origin: &'a ShopOrigin,
    /// The shop's Amazon identity.
    pub amazon: &'a AmazonAccount,
}

impl PayloadBuilder<'_> {
    /// The `signInConfig` payload; `state` is the session's, checked when Amazon sends the
    /// shopper back, so that a return cannot be replayed into another browser.
    pub fn sign_in(&self, intent: SignInIntent, state: &str) -> String {
        let payload = SignInPayload {
            sign_in_return_url: self.origin.url(&format!(
                "{}?intent={}&state={state}",
                paths::SIGNIN_RETURN,
                intent.as_str()
            )),
            sign_in_cancel_url: self.origin.url(paths::SIGNIN_CANCEL),
            store_id: &self.amazon.store_id,
            sign_in_scopes: intent.scopes(),
        };
        to_json(&payload)
    }

    /// The `createCheckoutSessionConfig` payload: a one-time purchase, or for a subscription
    /// a recurring charge permission charged `monthly` yen every month. `review_ref` is the
    /// cart's reference for this click: only a return carrying it binds a checkout to the cart.
    pub fn checkout(&self, monthly: Option<u64>, review_ref: &str) -> String {
        let payload = CheckoutPayload {
            web_checkout_details: WebCheckoutDetails {
                checkout_review_return_url: self.review_url(review_ref),
                checkout_cancel_url: self.origin.url(paths::CHECKOUT_CANCEL),
            },
            store_id: &self.amazon.store_id,
            scopes: &["name", "email", "phoneNumber", "billingAddress"],
            charge_permission_type: if monthly.is_some() { "Recurring" } else { "OneTime" },
            recurring_metadata: monthly.map(|amount| RecurringMetadata {
                frequency: Frequency { unit: "Month", value: "1" },
                amount: Price::yen(amount),
            }),
        };
        to_json(&payload)
    }
}

impl PayloadBuilder<'_> {
    /// The review return URL signed for `review_ref`.
    pub fn review_url(&self, review_ref: &str) -> String {
        self.origin.url(&format!("{}?ref={review_ref}", paths::CHECKOUT_REVIEW))
    }
}

fn to_json(payload: &impl Serialize) -> String {
    // Serializing plain structs of strings cannot fail.
    serde_json::to_string(payload).expect("payload serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AmazonAccount {
        AmazonAccount {
            merchant_id: "A1".into(),
            store_id: "amzn1.application-oa2-client.abc".into(),
            public_key_id: "SANDBOX-K".into(),
            sandbox: true,
        }
    }

    #[test]
    fn sign_in_payload_returns_under_the_shop_origin_with_the_session_state() {
        let origin = ShopOrigin::parse("https://shop.example").unwrap();
        let amazon = account();
        let builder = PayloadBuilder { origin: &origin, amazon: &amazon };
        assert_eq!(
            builder.sign_in(SignInIntent::Login, "S1"),
            r#"{"signInReturnUrl":"https://shop.example/api/amazonpay2/signin/return?intent=login&state=S1","signInCancelUrl":"https://shop.example/api/amazonpay2/signin/cancel","storeId":"amzn1.application-oa2-client.abc","signInScopes":["name","email","postalCode","shippingAddress","phoneNumber"]}"#
        );
        assert!(builder.sign_in(SignInIntent::Link, "S1").contains("intent=link"));
    }

    /// checkout.js posts the payload in a form without `accept-charset`, so a Shift_JIS or
    /// EUC-JP shop page sends it in its own encoding: only ASCII reaches Amazon as signed.
    #[test]
    fn button_payloads_are_ascii_even_for_a_japanese_domain() {
        let origin = ShopOrigin::parse("https://クラフト.example").unwrap();
        let amazon = account();
        let builder = PayloadBuilder { origin: &origin, amazon: &amazon };
        for payload in [builder.sign_in(SignInIntent::Login, "S1"), builder.checkout(Some(8_800), "R1")] {
            assert!(payload.is_ascii(), "{payload}");
            assert!(payload.contains("https://xn--"), "{payload}");
        }
    }

    #[test]
    fn checkout_payload_has_the_review_url_store_and_scopes() {
        let origin = ShopOrigin::parse("https://shop.example").unwrap();
        let amazon = account();
        let builder = PayloadBuilder { origin: &origin, amazon: &amazon };
        assert!(builder.checkout(Some(8_800), "R1").contains(r#""chargePermissionType":"Recurring","recurringMetadata":{"frequency":{"unit":"Month","value":"1"},"amount":{"amount":"8800","currencyCode":"JPY"}}"#));
        assert_eq!(
            builder.checkout(None, "R1"),
            r#"{"webCheckoutDetails":{"checkoutReviewReturnUrl":"https://shop.example/api/amazonpay2/checkout/review?ref=R1","checkoutCancelUrl":"https://shop.example/api/amazonpay2/checkout/cancel"},"storeId":"amzn1.application-oa2-client.abc","scopes":["name","email","phoneNumber","billingAddress"],"chargePermissionType":"OneTime"}"#
        );
    }
}
