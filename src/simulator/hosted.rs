//! Amazon's hosted pages: where checkout.js sends the shopper on click.
//!
//! `POST /checkout/initiate` checks what Amazon checks (the merchant, a key of that merchant,
//! algorithm, signature, a store of that merchant, payload, return domains of that store) and answers a failure with Amazon's error page, so that a shop's
//! mistake shows in the demo and the tests exactly where it would show in production. A checkout
//! button's payload is the Create Checkout Session request: the click creates the session, and
//! the buyer's choices on the page complete it. `GET /checkout/initiate?amazonCheckoutSessionId=`
//! shows the same page for a session the merchant created through the API.
//!
//! Every page offers a cancel link when there is somewhere to go back to: the sign-in payload's
//! `signInCancelUrl` or the checkout's `webCheckoutDetails.checkoutCancelUrl` (on the shop's
//! origin, like every merchant URL), else the shop page the button was on (the `origin_url`
//! checkout.js posts, when it lies on the shop's origin). Cancelling a checkout cancels its
//! session (`Canceled`, `BuyerCanceled`).

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use url::Url;

use super::api::{ApiFailure, BUYER_TOKEN_LIFETIME, BuyerToken};
use super::buyers::TEST_BUYERS;
use super::checkout::{Card, Details, Environment, Owner, ProductType, Rules, Session, SessionState};
use super::html::{escape, page};
use super::signature::{DEFAULT_ALGORITHM, SignatureProblem};
use super::{FLOW_LIFETIME, Simulator, lock};
use crate::amazon::signature::string_to_sign;

/// A hosted-page visit waiting for the shopper's "continue".
pub(super) struct Flow {
    kind: FlowKind,
    created: Instant,
}

enum FlowKind {
    SignIn {
        /// The merchant whose button it was: the buyer token is for that merchant only.
        merchant_id: String,
        return_url: Url,
        scopes: Vec<String>,
        /// Where the cancel link goes, if anywhere.
        cancel: Option<Url>,
    },
    /// The consent page of a checkout: the session waits for the buyer's choices.
    Checkout {
        session_id: String,
        /// Where the cancel link goes, if anywhere.
        cancel: Option<Url>,
    },
    /// "Change address / payment" for an existing session.
    Change { session_id: String, action: ChangeAction },
}

/// A clicked button that Amazon accepted.
enum Checked {
    SignIn {
        merchant_id: String,
        return_url: Url,
        scopes: Vec<String>,
        cancel: Option<Url>,
    },
    /// What the signed checkout payload (the Create Checkout Session request) set.
    Checkout {
        owner: Owner,
        details: Box<Details>,
        product_type: ProductType,
        environment: Environment,
        scopes: Vec<String>,
        origin_url: Option<Url>,
    },
}

/// `changeAction` of `amazon.Pay.bindChangeAction`.
#[derive(Clone, Copy)]
enum ChangeAction {
    Address,
    Payment,
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

impl From<ApiFailure> for AmazonError {
    fn from(failure: ApiFailure) -> Self {
        Self::new(failure.reason_code, failure.message)
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
    let checked = match check_button(&simulator, form) {
        Ok(checked) => checked,
        Err(error) => return error.into_response(),
    };
    let id = simulator.token::<24>();
    let (kind, response) = match checked {
        Checked::SignIn { merchant_id, return_url, scopes, cancel } => {
            let response = sign_in_page(&id, &return_url, cancel.is_some());
            (FlowKind::SignIn { merchant_id, return_url, scopes, cancel }, response)
        }
        Checked::Checkout { owner, details, product_type, environment, scopes, origin_url } => {
            let cancel = details.cancel_url.clone().or(origin_url);
            let session_id = simulator.checkout_session_id();
            let shop = details.review_url.origin().ascii_serialization();
            let session = Session::without_buyer(
                session_id.clone(),
                owner,
                *details,
                product_type,
                environment,
                scopes,
                simulator.now(),
            );
            let response = checkout_page(&id, &shop, product_type, cancel.is_some());
            simulator.with_ledger(|ledger, now| ledger.insert_session(session, now));
            (FlowKind::Checkout { session_id, cancel }, response)
        }
    };
    remember_flow(&simulator, id, kind);
    response
}

fn remember_flow(simulator: &Simulator, id: String, kind: FlowKind) {
    let mut flows = lock(&simulator.inner.flows);
    flows.retain(|_, f| f.created.elapsed() < FLOW_LIFETIME);
    flows.insert(id, Flow { kind, created: Instant::now() });
}

/// `GET /checkout/initiate?amazonCheckoutSessionId=…`: Amazon's page for a session the merchant
/// created through the API (`POST checkoutSessions`): the buyer chooses an account and a card.
pub(super) async fn initiate_session(
    State(simulator): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = query.get("amazonCheckoutSessionId").map(String::as_str).unwrap_or_default();
    let found = simulator.with_ledger(|ledger, now| {
        let session = ledger
            .session(id, now)
            .map_err(|_| AmazonError::new("ResourceNotFound", format!("Checkout session '{id}' does not exist.")))?;
        let session = changeable(session)?;
        Ok::<_, AmazonError>((
            session.details.review_url.origin().ascii_serialization(),
            session.product_type,
            session.details.cancel_url.clone(),
        ))
    });
    let (shop, product_type, cancel) = match found {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let flow = simulator.token::<24>();
    let response = checkout_page(&flow, &shop, product_type, cancel.is_some());
    remember_flow(&simulator, flow, FlowKind::Checkout { session_id: id.to_owned(), cancel });
    response
}

/// Everything Amazon verifies about a clicked button, in the order it does.
fn check_button(
    simulator: &Simulator,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Checked, AmazonError> {
    let Form(fields) = form.map_err(|e| AmazonError::new("InvalidRequestFormat", e.body_text()))?;
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    for required in ["merchantId", "payloadJSON", "signature", "publicKeyId"] {
        if field(required).is_empty() {
            return Err(AmazonError::new("MissingParameterValue", format!("The request is missing '{required}'.")));
        }
    }
    let merchant_id = field("merchantId");
    let Some(merchant) = simulator.merchant(merchant_id) else {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("The merchantId '{merchant_id}' is not registered."),
        ));
    };
    // Only a key of this merchant: another merchant's key, even with a signature it verifies,
    // is as unknown here as a key nobody registered.
    let Some(key) = simulator.key_owner(field("publicKeyId")).filter(|key| key.merchant_id == merchant.id) else {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("The publicKeyId '{}' is not registered for merchant {merchant_id}.", field("publicKeyId")),
        ));
    };
    let algorithm = match field("algorithm") {
        "" => DEFAULT_ALGORITHM,
        other => other,
    };
    let payload_json = field("payloadJSON");
    match key.key.verify(algorithm, payload_json, field("signature")) {
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
    let payload: Value = serde_json::from_str(payload_json)
        .map_err(|e| AmazonError::new("InvalidRequestFormat", format!("payloadJSON is not valid JSON: {e}")))?;
    let store_id = payload.get("storeId").and_then(Value::as_str).unwrap_or_default();
    let Some(store) = merchant.store(store_id) else {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("The storeId '{store_id}' does not belong to merchant {merchant_id}."),
        ));
    };
    let owner = Owner { merchant_id: merchant.id.clone(), store_id: store.id.clone() };
    // The environment is what checkout.js sent: `sandbox` of the options, or a "SANDBOX-" key ID
    // at render (never in the global `initCheckout`). What Amazon's page does with a key ID whose
    // prefix contradicts it (a SANDBOX- key in LIVE) is unknown; the simulator takes the
    // environment as sent, so LIVE's rules (https, live money rules) apply to such a button.
    let live = field("environment") == "LIVE";
    let rules = Rules { origins: &store.origins, live, strict: false };
    // The page the button was on: where a cancel link without a cancel URL goes back to. Not
    // signed, so it is only used when it lies on an origin registered for the store.
    let origin_url = Url::parse(field("origin_url"))
        .ok()
        .filter(|url| store.origins.contains(&url.origin().ascii_serialization()))
        .filter(|url| !live || url.scheme() == "https");
    match field("productType") {
        "SignIn" => {
            let cancel = match payload.get("signInCancelUrl").filter(|v| !v.is_null()) {
                None => origin_url,
                Some(_) => Some(return_url(&payload, &["signInCancelUrl"], &rules)?),
            };
            Ok(Checked::SignIn {
                merchant_id: merchant.id.clone(),
                return_url: return_url(&payload, &["signInReturnUrl"], &rules)?,
                scopes: payload
                    .get("signInScopes")
                    .and_then(Value::as_array)
                    .map(|scopes| scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
                cancel,
            })
        }
        product @ ("PayAndShip" | "PayOnly" | "") => {
            let review_url = return_url(&payload, &["webCheckoutDetails", "checkoutReviewReturnUrl"], &rules)?;
            // The payload is the Create Checkout Session request: what it sets must be valid.
            let details = Details::new(review_url).updated(&payload, &rules)?;
            Ok(Checked::Checkout {
                owner,
                details: Box::new(details),
                product_type: if product == "PayOnly" { ProductType::PayOnly } else { ProductType::PayAndShip },
                environment: if live { Environment::Live } else { Environment::Sandbox },
                scopes: payload
                    .get("scopes")
                    .and_then(Value::as_array)
                    .map(|scopes| scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
                origin_url,
            })
        }
        other => Err(AmazonError::new("InvalidParameterValue", format!("The productType '{other}' is not supported."))),
    }
}

/// A return URL from the payload: present, absolute, https in live, and on a domain registered
/// for the store.
fn return_url(payload: &Value, path: &[&str], rules: &Rules<'_>) -> Result<Url, AmazonError> {
    let name = path.join(".");
    let value = path
        .iter()
        .try_fold(payload, |value, key| value.get(key))
        .and_then(Value::as_str)
        .ok_or_else(|| AmazonError::new("MissingParameterValue", format!("{name} is not set.")))?;
    let url = Url::parse(value)
        .map_err(|_| AmazonError::new("InvalidParameterValue", format!("{name} '{value}' is not a valid URL.")))?;
    if rules.live && url.scheme() != "https" {
        return Err(AmazonError::new("InvalidParameterValue", format!("{name} must use https.")));
    }
    if !rules.allows(&url) {
        return Err(AmazonError::new(
            "InvalidParameterValue",
            format!("{name} '{value}' is not on a domain registered for this store."),
        ));
    }
    Ok(url)
}

/// The cancel link of a page, when it has somewhere to go.
fn cancel_link(flow_id: &str, present: bool) -> String {
    if !present {
        return String::new();
    }
    format!(
        "<p><a id=\"cancel\" href=\"/checkout/cancel?flow={}\">キャンセルしてショップに戻る</a></p>",
        escape(flow_id)
    )
}

fn sign_in_page(flow_id: &str, return_url: &Url, cancellable: bool) -> Response {
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
         <button type=\"submit\" id=\"continue\">続行</button></form>{}</main>",
        escape(flow_id),
        cancel_link(flow_id, cancellable),
    );
    Html(page("Amazon Pay - サインイン", STYLE, &body)).into_response()
}

/// The buyers offered on the consent page, `selected` checked; `name` is the form field.
fn buyer_choices(name: &str, selected: usize, with_email: bool) -> String {
    TEST_BUYERS
        .iter()
        .enumerate()
        .map(|(index, buyer)| {
            format!(
                "<label class=\"buyer\"><input type=\"radio\" name=\"{name}\" value=\"{index}\"{}>\
                 <strong>{}</strong> {}<br><small>〒{} {}{} {}</small></label>",
                if index == selected { " checked" } else { "" },
                escape(buyer.name),
                if with_email { escape(buyer.email) } else { String::new() },
                escape(buyer.postal_code),
                escape(buyer.prefecture),
                escape(buyer.line1),
                escape(buyer.line2),
            )
        })
        .collect()
}

/// The test cards, `selected` checked.
fn card_choices(selected: Card) -> String {
    Card::ALL
        .iter()
        .map(|card| {
            format!(
                "<label class=\"buyer\"><input type=\"radio\" name=\"card\" value=\"{}\"{}>\
                 <strong>{}</strong><br><small>{}</small></label>",
                card.key(),
                if *card == selected { " checked" } else { "" },
                escape(card.descriptor()),
                escape(card.behaviour()),
            )
        })
        .collect()
}

fn checkout_page(flow_id: &str, shop: &str, product_type: ProductType, cancellable: bool) -> Response {
    let shop = escape(shop);
    let (account, legend) = if product_type.ships() {
        ("お届け先", "テスト用アカウント (お届け先)")
    } else {
        ("アカウント", "テスト用アカウント")
    };
    let body = format!(
        "{HEADER}<main><h1>{account}とお支払い方法</h1>\
         <p><strong>{shop}</strong> でのお支払いに使う Amazon アカウントとクレジットカードを選んでください。</p>\
         <form method=\"post\" action=\"/checkout/continue\">\
         <input type=\"hidden\" name=\"flow\" value=\"{}\">\
         <fieldset><legend>{legend}</legend>{}</fieldset>\
         <fieldset><legend>お支払い方法</legend>{}</fieldset>\
         <button type=\"submit\" id=\"continue\">続行</button></form>{}</main>",
        escape(flow_id),
        buyer_choices("buyer", 0, true),
        card_choices(Card::Visa),
        cancel_link(flow_id, cancellable),
    );
    Html(page("Amazon Pay - お支払い", STYLE, &body)).into_response()
}

fn change_page(flow_id: &str, session: &Session, action: ChangeAction) -> Response {
    let (title, legend, choices, submit) = match action {
        ChangeAction::Address => {
            ("お届け先の変更", "お届け先", buyer_choices("address", session.address, false), "この住所を使用")
        }
        ChangeAction::Payment => {
            ("お支払い方法の変更", "お支払い方法", card_choices(session.card), "このお支払い方法を使用")
        }
    };
    let body = format!(
        "{HEADER}<main><h1>{title}</h1>\
         <form method=\"post\" action=\"/checkout/continue\">\
         <input type=\"hidden\" name=\"flow\" value=\"{}\">\
         <fieldset><legend>{legend}</legend>{choices}</fieldset>\
         <button type=\"submit\" id=\"continue\">{submit}</button></form>\
         <p><a id=\"cancel\" href=\"{}\">変更せずに戻る</a></p></main>",
        escape(flow_id),
        escape(session.review_redirect().as_str()),
    );
    Html(page(&format!("Amazon Pay - {title}"), STYLE, &body)).into_response()
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
        return AmazonError::new("InvalidRequest", "This page has expired. Start again from the shop.").into_response();
    };
    match flow.kind {
        FlowKind::SignIn { merchant_id, mut return_url, scopes, .. } => {
            let buyer = fields
                .get("buyer")
                .and_then(|b| b.parse::<usize>().ok())
                .filter(|b| *b < TEST_BUYERS.len())
                .unwrap_or(0);
            let token = simulator.token::<32>();
            let now = simulator.now();
            let mut tokens = lock(&simulator.inner.buyer_tokens);
            tokens.retain(|_, t| now.saturating_sub(t.issued) < BUYER_TOKEN_LIFETIME.as_secs() * 2);
            tokens.insert(token.clone(), BuyerToken { merchant_id, buyer, scopes, issued: now, used: false });
            drop(tokens);
            return_url.query_pairs_mut().append_pair("buyerToken", &token);
            Redirect::to(return_url.as_str()).into_response()
        }
        FlowKind::Checkout { session_id, .. } => match choose(&simulator, &session_id, &fields) {
            Ok(location) => Redirect::to(location.as_str()).into_response(),
            Err(error) => error.into_response(),
        },
        FlowKind::Change { session_id, action } => match change_session(&simulator, &session_id, action, &fields) {
            Ok(location) => Redirect::to(location.as_str()).into_response(),
            Err(error) => error.into_response(),
        },
    }
}

/// A choice from a hosted form: its default when absent, an error when not one offered.
fn choice<T>(
    fields: &HashMap<String, String>,
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, AmazonError> {
    match fields.get(name) {
        None => Ok(default),
        Some(value) => parse(value)
            .ok_or_else(|| AmazonError::new("InvalidParameterValue", format!("'{value}' is not a valid {name}."))),
    }
}

fn test_buyer(value: &str) -> Option<usize> {
    value.parse::<usize>().ok().filter(|index| *index < TEST_BUYERS.len())
}

/// The buyer chose an account and a card on the consent page: the session has its buyer, and
/// the buyer goes back to the shop's review URL (or, with `checkoutMode: ProcessOrder`, is
/// charged at once and goes to the result URL).
fn choose(simulator: &Simulator, id: &str, fields: &HashMap<String, String>) -> Result<Url, AmazonError> {
    let buyer = choice(fields, "buyer", 0, test_buyer)?;
    let card = choice(fields, "card", Card::Visa, Card::parse)?;
    simulator.with_ledger(|ledger, now| {
        let session = ledger.choose_buyer(id, buyer, card, now)?;
        if session.details.process_order {
            let session = ledger.process(id, now)?;
            return session
                .result_redirect()
                .ok_or_else(|| AmazonError::new("MissingParameterValue", "checkoutResultReturnUrl is not set."));
        }
        Ok(session.review_redirect())
    })
}

/// `GET /checkout/cancel?flow=…`: the page's cancel link. The flow ends; a checkout's session is
/// canceled (`BuyerCanceled`); the buyer goes back to the shop.
pub(super) async fn cancel(
    State(simulator): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = query.get("flow").map(String::as_str).unwrap_or_default();
    let flow = lock(&simulator.inner.flows).remove(id);
    let Some(flow) = flow.filter(|f| f.created.elapsed() < FLOW_LIFETIME) else {
        return AmazonError::new("InvalidRequest", "This page has expired. Start again from the shop.").into_response();
    };
    let target = match flow.kind {
        FlowKind::SignIn { cancel, .. } => cancel,
        FlowKind::Checkout { session_id, cancel } => {
            if let Err(failure) = simulator.with_ledger(|ledger, now| ledger.cancel_by_buyer(&session_id, now)) {
                return AmazonError::from(failure).into_response();
            }
            cancel
        }
        FlowKind::Change { session_id, .. } => {
            return simulator
                .with_ledger(|ledger, now| ledger.session(&session_id, now).map(|s| s.review_redirect()))
                .map(|url| Redirect::to(url.as_str()).into_response())
                .unwrap_or_else(|failure| AmazonError::from(failure).into_response());
        }
    };
    match target {
        Some(url) => Redirect::to(url.as_str()).into_response(),
        None => {
            let body =
                format!("{HEADER}<main><h1>キャンセルしました</h1><p>ショップのページに戻ってください。</p></main>");
            Html(page("Amazon Pay - キャンセル", STYLE, &body)).into_response()
        }
    }
}

/// The buyer chose another address or card for an Open session: back to the review URL.
fn change_session(
    simulator: &Simulator,
    id: &str,
    action: ChangeAction,
    fields: &HashMap<String, String>,
) -> Result<Url, AmazonError> {
    simulator.with_ledger(|ledger, now| {
        let session = changeable(ledger.session(id, now)?)?;
        if !session.buyer_chosen {
            return Err(AmazonError::new("InvalidCheckoutSessionStatus", "No buyer has chosen on this checkout yet."));
        }
        match action {
            ChangeAction::Address => session.address = choice(fields, "address", session.address, test_buyer)?,
            ChangeAction::Payment => session.card = choice(fields, "card", session.card, Card::parse)?,
        }
        session.updated = now;
        Ok(session.review_redirect())
    })
}

/// A session whose address and payment can still change: Open, and not yet paid for.
fn changeable(session: &mut Session) -> Result<&mut Session, AmazonError> {
    if session.state != SessionState::Open || session.processed.is_some() {
        return Err(AmazonError::new(
            "InvalidCheckoutSessionStatus",
            "This checkout can no longer be changed. Start again from the shop.",
        ));
    }
    Ok(session)
}

/// `GET /checkout/initiate_auth`: "change address / payment" from the shop's review page
/// (`amazon.Pay.bindChangeAction`). Shows the chooser for `changeAction`; without one, the buyer
/// goes straight back to the review URL.
pub(super) async fn initiate_auth(
    State(simulator): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = query.get("amazonCheckoutSessionId").map(String::as_str).unwrap_or_default();
    let action = match query.get("changeAction").map(String::as_str) {
        None => None,
        Some("changeAddress") => Some(ChangeAction::Address),
        Some("changePayment") => Some(ChangeAction::Payment),
        Some(other) => {
            return AmazonError::new(
                "InvalidParameterValue",
                format!("Invalid value '{other}' for 'changeAction', please use one of the available values: changeAddress, changePayment."),
            )
            .into_response();
        }
    };
    let page = simulator.with_ledger(|ledger, now| {
        let session = ledger
            .session(id, now)
            .map_err(|_| AmazonError::new("ResourceNotFound", format!("Checkout session '{id}' does not exist.")))?;
        let Some(action) = action else {
            return Ok(Err(Redirect::to(session.review_redirect().as_str()).into_response()));
        };
        let session = changeable(session)?;
        if !session.buyer_chosen {
            return Err(AmazonError::new("InvalidCheckoutSessionStatus", "No buyer has chosen on this checkout yet."));
        }
        if matches!(action, ChangeAction::Address) && !session.product_type.ships() {
            return Err(AmazonError::new(
                "InvalidParameterValue",
                "A PayOnly checkout has no shipping address to change.",
            ));
        }
        let flow = simulator.token::<24>();
        let response = change_page(&flow, session, action);
        Ok(Ok((flow, action, response)))
    });
    let (flow, action, response) = match page {
        Ok(Ok(page)) => page,
        Ok(Err(redirect)) => return redirect,
        Err(error) => return error.into_response(),
    };
    remember_flow(&simulator, flow, FlowKind::Change { session_id: id.to_owned(), action });
    response
}

/// `GET /checkout/process/{id}`: the buyer at `amazonPayRedirectUrl`. Amazon authorizes with
/// the chosen card and sends the buyer to the result URL; a decline cancels the session (the
/// shop sees it when it reads or completes the session).
pub(super) async fn process(State(simulator): State<Simulator>, Path(id): Path<String>) -> Response {
    let result = simulator.with_ledger(|ledger, now| {
        ledger.process(&id, now).map_err(AmazonError::from).and_then(|session| {
            session
                .result_redirect()
                .ok_or_else(|| AmazonError::new("MissingParameterValue", "checkoutResultReturnUrl is not set."))
        })
    });
    match result {
        Ok(location) => Redirect::to(location.as_str()).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /checkout/signout?language=…`: called by `amazon.Pay.signout()` from the shop's page, with
/// credentials, so only a registered JavaScript origin may read the answer. checkout.js reports success only
/// for a 200 JSON answer with a truthy `result`; the rest of Amazon's answer is unknown, so this
/// one has nothing else. The simulator keeps no buyer session to end.
pub(super) async fn signout(State(simulator): State<Simulator>, headers: HeaderMap) -> Response {
    let mut response = (StatusCode::OK, Json(json!({ "result": true }))).into_response();
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if let Some(origin) = origin.filter(|origin| lock(&simulator.inner.merchants).is_registered_origin(origin)) {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(origin) {
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
