//! Amazon as the simulator plays it for one registered merchant, driven in-process through its
//! router (no sockets): the hidden form checkout.js posts when a button is clicked, signed as the
//! shop's server signs it, and the hosted pages' answers, fully read.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;
use url::Url;

use amazonpay2::amazon::keys::ShopKey;
use amazonpay2::core::signer::ButtonSigner;
use amazonpay2::simulator::{Simulator, SimulatorConfig};

pub use super::sim::{SHOP, TEST_KEY_PEM};
pub use super::text::between;

pub const MERCHANT_ID: &str = "A1SIMULATORTEST";
pub const STORE_ID: &str = "amzn1.application-oa2-client.simulatortest000000000000000";
pub const PUBLIC_KEY_ID: &str = "SANDBOX-SIMULATORTESTKEY00000000";
pub const V2: &str = "AMZN-PAY-RSASSA-PSS-V2";
pub const V1: &str = "AMZN-PAY-RSASSA-PSS";
pub const SIGNIN_RETURN: &str = "https://shop.example/api/amazonpay2/signin/return?intent=login&state=S1";
pub const REVIEW_RETURN: &str = "https://shop.example/api/amazonpay2/checkout/review?cart=c1";
pub const HOSTILE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

pub fn shop_key() -> Arc<ShopKey> {
    static KEY: LazyLock<Arc<ShopKey>> =
        LazyLock::new(|| Arc::new(ShopKey::from_pem(TEST_KEY_PEM.as_bytes()).unwrap()));
    KEY.clone()
}

/// Signs as the shop's server does (V2), with `key`.
pub fn sign_v2(key: Arc<ShopKey>, payload: &str) -> String {
    ButtonSigner::new(key, PUBLIC_KEY_ID.into()).sign_uncached(payload).unwrap()
}

pub fn sign_in_payload(return_url: &str) -> String {
    json!({ "signInReturnUrl": return_url, "storeId": STORE_ID, "signInScopes": ["name", "email"] }).to_string()
}

pub fn checkout_payload(review_url: &str) -> String {
    json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": review_url },
        "storeId": STORE_ID,
        "scopes": ["name", "email"],
        "chargePermissionType": "OneTime",
    })
    .to_string()
}

/// The hidden form checkout.js posts to `/checkout/initiate` when a button is clicked.
#[derive(Clone)]
pub struct Button {
    pub fields: Vec<(String, String)>,
}

impl Button {
    /// A button whose `payload` the shop signed correctly (V2).
    pub fn signed(product_type: &str, payload: String) -> Self {
        let signature = sign_v2(shop_key(), &payload);
        Self::with_signature(product_type, payload, signature)
    }

    /// The fields Amazon's checkout.js posts, in its order; `estimatedOrderAmount` (`{}` when the
    /// shop gave none) only for a checkout.
    pub fn with_signature(product_type: &str, payload: String, signature: String) -> Self {
        let mut fields = vec![
            ("payloadJSON", payload.as_str()),
            ("signature", &signature),
            ("publicKeyId", PUBLIC_KEY_ID),
            ("publicKeyIdMismatch", "false"),
            ("algorithm", V2),
            ("checkoutLanguage", "ja_JP"),
            ("ledgerCurrency", "JPY"),
            ("merchantId", MERCHANT_ID),
            ("productType", product_type),
            ("environment", "SANDBOX"),
            ("scopes", ""),
            ("merchantDomain", "shop.example"),
            ("origin_url", "https://shop.example/cart/"),
            ("viewType", "redirectView"),
            ("weblabData", ""),
            ("apaySessionSet", ""),
        ];
        if product_type != "SignIn" {
            fields.push(("estimatedOrderAmount", "{}"));
        }
        Self { fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect() }
    }

    pub fn sign_in() -> Self {
        Self::signed("SignIn", sign_in_payload(SIGNIN_RETURN))
    }

    pub fn checkout() -> Self {
        Self::signed("PayAndShip", checkout_payload(REVIEW_RETURN))
    }

    pub fn field(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    /// The same form with `name` set to `value`.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.fields.retain(|(k, _)| k != name);
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same form without `name`.
    pub fn without(mut self, name: &str) -> Self {
        self.fields.retain(|(k, _)| k != name);
        self
    }

    pub fn encoded(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.fields).finish()
    }
}

/// Amazon as the simulator plays it, for one registered merchant.
pub struct Amazon {
    pub router: Router,
}

impl Amazon {
    pub fn new() -> Self {
        Self::for_shop(SHOP)
    }

    pub fn for_shop(shop_origin: &str) -> Self {
        let simulator = Simulator::new(SimulatorConfig {
            merchant_id: MERCHANT_ID.into(),
            store_id: STORE_ID.into(),
            public_key_id: PUBLIC_KEY_ID.into(),
            public_key_der: shop_key().public_key_der().to_vec(),
            shop_origin: shop_origin.into(),
        });
        Self { router: simulator.router() }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn post_form(&self, path: &str, form: String) -> Reply {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        self.send(request).await
    }

    /// The shopper clicks `button`.
    pub async fn initiate(&self, button: &Button) -> Reply {
        self.post_form("/checkout/initiate", button.encoded()).await
    }

    /// The shopper presses 続行 on a hosted page.
    pub async fn continue_flow(&self, flow: &str) -> Reply {
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("flow", flow).finish();
        self.post_form("/checkout/continue", form).await
    }

    /// Clicks `button`, continues, and returns where Amazon sends the shopper.
    pub async fn round_trip(&self, button: &Button) -> Url {
        let flow = self.initiate(button).await.flow_id();
        self.continue_flow(&flow).await.see_other()
    }

    /// Checks that `button` is refused and returns the error code Amazon's page shows.
    pub async fn refusal(&self, button: &Button) -> String {
        self.initiate(button).await.error_code()
    }

    pub async fn signout(&self, origin: Option<&str>) -> Reply {
        let mut request = Request::get("/checkout/signout");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    #[track_caller]
    pub fn assert_html(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert!(self.header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")));
    }

    /// Asserts Amazon's error page (400, no redirect) and returns its `id="error-code"`.
    #[track_caller]
    pub fn error_code(&self) -> String {
        self.assert_html(400);
        assert!(self.header(header::LOCATION).is_none(), "an error never redirects");
        assert!(!self.text().contains("/checkout/continue"), "an error page offers no way on");
        between(&self.text(), "id=\"error-code\">", "<").expect("an error code on the page")
    }

    /// Asserts a hosted page with the 続行 form and returns its flow id.
    #[track_caller]
    pub fn flow_id(&self) -> String {
        self.assert_html(200);
        let text = self.text();
        assert!(text.contains("<form method=\"post\" action=\"/checkout/continue\">"), "{text}");
        between(&text, "name=\"flow\" value=\"", "\"").expect("a flow field")
    }

    /// Asserts a 303 and returns its absolute `Location`.
    #[track_caller]
    pub fn see_other(&self) -> Url {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "body: {}", self.text());
        Url::parse(self.header(header::LOCATION).expect("Location")).expect("an absolute URL")
    }
}

pub fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}
