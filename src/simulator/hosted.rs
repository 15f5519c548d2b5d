//! Amazon's hosted pages: where checkout.js sends the shopper on click.
//!
//! `POST /checkout/initiate` checks what Amazon checks (merchant, key, algorithm, signature,
//! payload, return domains) and answers a failure with Amazon's error page, so that a shop's
//! mistake shows in the demo and the tests exactly where it would show in production.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::Value;
use url::Url;

use super::api::{BUYER_TOKEN_LIFETIME, BuyerToken};
use super::buyers::TEST_BUYERS;
use super::signature::{DEFAULT_ALGORITHM, SignatureProblem};
use super::{FLOW_LIFETIME, Simulator, lock};
use super::html::{escape, page};
use crate::server::signing::{hex, string_to_sign};

/// A hosted-page visit waiting for the shopper's "continue".
pub(super) struct Flow {
    kind: FlowKind,
    created: Instant,
}

enum FlowKind {
    SignIn { return_url: Url, scopes: Vec<String> },
    Checkout { review_url: Url },
}

/// A checkout session as far as the hosted pages need it.
pub(super) struct CheckoutSession {
    review_url: Url,
}

/// An Amazon error page: reason code and message.
struct AmazonError {
    code: &'static str,
    message: String,
}

impl AmazonError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl IntoResponse for AmazonError {
    fn into_response(self) -> Response {
        tracing::info!(code = self.code, message = %self.message, "simulator refused a button");
        let body = format!(
            "{HEADER}<main><h1>問題が発生しました</h1>\
             <p>申し訳ありませんが、Amazon Pay でこの処理を完了できませんでした。販売事業者にお問い合わせください。</p>\
             <dl class=\"error\"><dt>Error Code:</dt><dd id=\"error-code\">{}</dd>\
             <dt>Error Message:</dt><dd id=\"error-message\">{}</dd></dl></main>",
            escape(self.code),
            escape(&self.message)
        );
        (StatusCode::BAD_REQUEST, Html(page("Amazon Pay - エラー", STYLE, &body))).into_response()
    }
}

/// `POST /checkout/initiate`: the form checkout.js submits on click.
pub(super) async fn initiate(
    State(simulator): State<Simulator>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    match check_button(&simulator, form) {
        Ok(flow) => {
            let id = simulator.token::<24>();
            let response = match &flow.kind {
                FlowKind::SignIn { return_url, .. } => sign_in_page(&id, return_url),
                FlowKind::Checkout { review_url } => checkout_page(&id, review_url),
            };
            let mut flows = lock(&simulator.inner.flows);
            flows.retain(|_, f| f.created.elapsed() < FLOW_LIFETIME);
            flows.insert(id, flow);
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Everything Amazon verifies about a clicked button, in the order it does.
fn check_button(
    simulator: &Simulator,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Flow, AmazonError> {
    let config = &simulator.inner.config;
    let Form(fields) =
        form.map_err(|e| AmazonError::new("InvalidRequestFormat", e.body_text()))?;
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    for required in ["merchantId", "payloadJSON", "signature", "publicKeyId"] {
        if field(required).is_empty() {
            return Err(AmazonError::new(
                "MissingParameterValue",
                format!("The request is missing '{required}'."),
            ));
        }
    }
    let merchant_id = field("merchantId");
    if merchant_id != config.merchant_id {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("The merchantId '{merchant_id}' is not registered."),
        ));
    }
    if !field("publicKeyId").eq_ignore_ascii_case(&config.public_key_id) {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("The publicKeyId '{}' is not registered for merchant {merchant_id}.", field("publicKeyId")),
        ));
    }
    let algorithm = match field("algorithm") {
        "" => DEFAULT_ALGORITHM,
        other => other,
    };
    let payload_json = field("payloadJSON");
    match simulator.inner.key.verify(algorithm, payload_json, field("signature")) {
        Ok(()) => {}
        Err(SignatureProblem::UnknownAlgorithm) => {
            return Err(AmazonError::new(
                "InvalidParameterValue",
                format!("The algorithm '{algorithm}' is not supported."),
            ));
        }
        Err(SignatureProblem::Mismatch) => {
            let signed = string_to_sign(algorithm, payload_json);
            return Err(AmazonError::new(
                "InvalidSignatureError",
                format!(
                    "Signature {} does not match signedString {} for merchant {merchant_id}",
                    field("signature"),
                    signed.replace('\n', " ")
                ),
            ));
        }
    }
    let payload: Value = serde_json::from_str(payload_json).map_err(|e| {
        AmazonError::new("InvalidRequestFormat", format!("payloadJSON is not valid JSON: {e}"))
    })?;
    let store_id = payload.get("storeId").and_then(Value::as_str).unwrap_or_default();
    if store_id != config.store_id {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("The storeId '{store_id}' does not belong to merchant {merchant_id}."),
        ));
    }
    let live = field("environment") == "LIVE";
    let kind = match field("productType") {
        "SignIn" => FlowKind::SignIn {
            return_url: return_url(&payload, &["signInReturnUrl"], config, live)?,
            scopes: payload
                .get("signInScopes")
                .and_then(Value::as_array)
                .map(|scopes| scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
        },
        "PayAndShip" | "PayOnly" | "" => FlowKind::Checkout {
            review_url: return_url(
                &payload,
                &["webCheckoutDetails", "checkoutReviewReturnUrl"],
                config,
                live,
            )?,
        },
        other => {
            return Err(AmazonError::new(
                "InvalidParameterValue",
                format!("The productType '{other}' is not supported."),
            ));
        }
    };
    Ok(Flow { kind, created: Instant::now() })
}

/// A return URL from the payload: present, absolute, https in live, and on the merchant's
/// registered domain.
fn return_url(
    payload: &Value,
    path: &[&str],
    config: &super::SimulatorConfig,
    live: bool,
) -> Result<Url, AmazonError> {
    let name = path.join(".");
    let value = path
        .iter()
        .try_fold(payload, |value, key| value.get(key))
        .and_then(Value::as_str)
        .ok_or_else(|| AmazonError::new("MissingParameterValue", format!("{name} is not set.")))?;
    let url = Url::parse(value).map_err(|_| {
        AmazonError::new("InvalidParameterValue", format!("{name} '{value}' is not a valid URL."))
    })?;
    if live && url.scheme() != "https" {
        return Err(AmazonError::new("InvalidParameterValue", format!("{name} must use https.")));
    }
    if url.origin().ascii_serialization() != config.shop_origin {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("{name} '{value}' is not on a domain registered for this store."),
        ));
    }
    Ok(url)
}

fn sign_in_page(flow_id: &str, return_url: &Url) -> Response {
    let shop = escape(&return_url.origin().ascii_serialization());
    let buyers: String = TEST_BUYERS
        .iter()
        .enumerate()
        .map(|(index, buyer)| {
            format!(
                "<label class=\"buyer\"><input type=\"radio\" name=\"buyer\" value=\"{index}\"{}>\
                 <strong>{}</strong> {}<br><small>〒{} {}{} {}</small></label>",
                if index == 0 { " checked" } else { "" },
                escape(buyer.name),
                escape(buyer.email),
                escape(buyer.postal_code),
                escape(buyer.prefecture),
                escape(buyer.line1),
                escape(buyer.line2),
            )
        })
        .collect();
    let body = format!(
        "{HEADER}<main><h1>Amazon アカウントでサインイン</h1>\
         <p><strong>{shop}</strong> にサインインします。選んだアカウントのお名前、メールアドレス、住所などがショップに提供されます。</p>\
         <form method=\"post\" action=\"/checkout/continue\">\
         <input type=\"hidden\" name=\"flow\" value=\"{}\"><fieldset><legend>テスト用アカウント</legend>{buyers}</fieldset>\
         <button type=\"submit\" id=\"continue\">続行</button></form></main>",
        escape(flow_id)
    );
    Html(page("Amazon Pay - サインイン", STYLE, &body)).into_response()
}

fn checkout_page(flow_id: &str, review_url: &Url) -> Response {
    let shop = escape(&review_url.origin().ascii_serialization());
    let body = format!(
        "{HEADER}<main><h1>お届け先とお支払い方法</h1>\
         <p><strong>{shop}</strong> でのお支払いに、Amazon アカウントに登録された住所とクレジットカードを使用します。</p>\
         <form method=\"post\" action=\"/checkout/continue\">\
         <input type=\"hidden\" name=\"flow\" value=\"{}\">\
         <button type=\"submit\" id=\"continue\">続行</button></form></main>",
        escape(flow_id)
    );
    Html(page("Amazon Pay - お支払い", STYLE, &body)).into_response()
}

/// `POST /checkout/continue`: the shopper agreed; back to the shop's signed return URL.
pub(super) async fn continue_flow(
    State(simulator): State<Simulator>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let mut fields = form.map(|Form(fields)| fields).unwrap_or_default();
    let id = fields.remove("flow").unwrap_or_default();
    // Single use: a reload or a second tab cannot replay the same sign-in.
    let flow = lock(&simulator.inner.flows).remove(&id);
    let Some(flow) = flow.filter(|f| f.created.elapsed() < FLOW_LIFETIME) else {
        return AmazonError::new("InvalidRequest", "This page has expired. Start again from the shop.")
            .into_response();
    };
    match flow.kind {
        FlowKind::SignIn { mut return_url, scopes } => {
            let buyer = fields
                .get("buyer")
                .and_then(|b| b.parse::<usize>().ok())
                .filter(|b| *b < TEST_BUYERS.len())
                .unwrap_or(0);
            let token = simulator.token::<32>();
            let now = simulator.now();
            let mut tokens = lock(&simulator.inner.buyer_tokens);
            tokens.retain(|_, t| now.saturating_sub(t.issued) < BUYER_TOKEN_LIFETIME.as_secs() * 2);
            tokens.insert(token.clone(), BuyerToken { buyer, scopes, issued: now, used: false });
            drop(tokens);
            return_url.query_pairs_mut().append_pair("buyerToken", &token);
            Redirect::to(return_url.as_str()).into_response()
        }
        FlowKind::Checkout { mut review_url } => {
            let id = checkout_session_id(&simulator);
            lock(&simulator.inner.checkout_sessions)
                .insert(id.clone(), CheckoutSession { review_url: review_url.clone() });
            review_url.query_pairs_mut().append_pair("amazonCheckoutSessionId", &id);
            Redirect::to(review_url.as_str()).into_response()
        }
    }
}

/// Checkout session IDs look like Amazon's: a UUID.
fn checkout_session_id(simulator: &Simulator) -> String {
    let hex = hex(&simulator.random_bytes::<16>());
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// `GET /checkout/initiate_auth`: "change address / payment" from the shop's review page.
pub(super) async fn initiate_auth(
    State(simulator): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = query.get("amazonCheckoutSessionId").map(String::as_str).unwrap_or_default();
    let sessions = lock(&simulator.inner.checkout_sessions);
    match sessions.get(id) {
        Some(session) => {
            let mut url = session.review_url.clone();
            url.query_pairs_mut().append_pair("amazonCheckoutSessionId", id);
            Redirect::to(url.as_str()).into_response()
        }
        None => AmazonError::new("ResourceNotFound", format!("Checkout session '{id}' does not exist."))
            .into_response(),
    }
}

/// `GET /checkout/signout`: called by `amazon.Pay.signout()` from the shop's page.
pub(super) async fn signout(State(simulator): State<Simulator>, headers: HeaderMap) -> Response {
    let mut response = (StatusCode::OK, "{}").into_response();
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin == Some(simulator.inner.config.shop_origin.as_str()) {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&simulator.inner.config.shop_origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    response
}

const HEADER: &str = "<header><span class=\"logo\">amazon pay</span>\
    <span class=\"badge\">SANDBOX シミュレーター</span></header>";

const STYLE: &str = "body{margin:0;font-family:sans-serif;color:#0f1111;background:#fff}\
    header{background:#232f3e;color:#fff;padding:.8rem 1.2rem;display:flex;gap:1rem;align-items:center}\
    .logo{font-weight:700;font-size:1.3rem;letter-spacing:.02em}\
    .badge{background:#ff9900;color:#111;border-radius:3px;padding:.1rem .5rem;font-size:.8rem}\
    main{max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.7}\
    button{background:#ffd814;border:1px solid #fcd200;border-radius:8px;padding:.6rem 2rem;font-size:1rem;cursor:pointer}\
    .error dt{font-weight:700}.error dd{margin:0 0 .8rem;word-break:break-all}\
    fieldset{border:1px solid #d5d9d9;border-radius:8px;margin:1rem 0;padding:.5rem 1rem}\
    .buyer{display:block;padding:.5rem 0;border-bottom:1px solid #eee}.buyer:last-child{border:0}";
