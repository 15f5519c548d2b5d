//! Calls to the widget API (the browser's `fetch`).
//!
//! Requests are written and answers read without serde (the browser's own `JSON` and a few field
//! look-ups): that keeps serializers out of the wasm (a third of the size budget), and the
//! `renderButton` options reach checkout.js as the very object the server built, never
//! re-encoded on the way.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestCredentials, RequestInit, Response};

use super::error::{WidgetError, describe_js};
use crate::contract::{BlockKind, BlockSpec, UnavailableReason};

/// The answer to `POST /buttons` (contract `ButtonsResponse`).
#[derive(Clone, Debug)]
pub struct Answer {
    /// `member`, handed on to shop scripts as it came.
    pub member: JsValue,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Where checkout.js is.
    pub checkout_js: String,
    /// One view per requested block.
    pub blocks: Vec<View>,
}

/// What one block shows (contract `BlockView`).
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    /// An Amazon button with its `renderButton` options (and their JSON, to compare answers).
    Button(JsValue, String),
    /// My Page of a linked member.
    Linked,
    /// A reason instead of a button.
    Unavailable(UnavailableReason),
    /// Nothing for this shopper.
    Nothing,
    /// The order confirmation's Amazon details: session ID, address lines, payment method.
    Review(String, Vec<String>, String),
}

/// How long the widget waits for its API before telling the shopper.
const TIMEOUT_MS: i32 = 10_000;

/// The CSRF header the server expects on state-changing requests.
const CSRF_HEADER: &str = "X-AmazonPay2-CSRF";

/// `POST {endpoint}/buttons`: every block of the page in one request.
pub async fn buttons(endpoint: &str, blocks: Vec<BlockSpec>) -> Result<Answer, WidgetError> {
    let body = request_body(&blocks);
    decode_answer(&send("POST", &format!("{endpoint}/buttons"), None, Some(&body)).await?, blocks.len())
}

/// The same answer, from the request the loader sent while the wasm was loading (a promise of the
/// `Response`, settled within the widget's timeout).
pub async fn prefetched_buttons(response: Promise, count: usize) -> Result<Answer, WidgetError> {
    let response = JsFuture::from(response).await.map_err(|e| WidgetError::Network(describe_js(&e)))?;
    let response = response.dyn_into::<Response>().map_err(|e| WidgetError::Network(describe_js(&e)))?;
    decode_answer(&read(response).await?, count)
}

/// `POST {endpoint}/buttons/sign`: the signed payload of the button the shopper clicked, as the
/// argument of an `initCheckout` (contract `SignAnswer`), exactly as it came.
pub async fn sign(endpoint: &str, kind: BlockKind, csrf_token: &str) -> Result<JsValue, WidgetError> {
    let body = format!(r#"{{"kind":"{}"}}"#, kind.name());
    send("POST", &format!("{endpoint}/buttons/sign"), Some(csrf_token), Some(&body)).await
}

/// `POST {endpoint}/checkout/place`: places the order; returns where the browser goes next.
pub async fn place(endpoint: &str, csrf_token: &str) -> Result<String, WidgetError> {
    let answer = send("POST", &format!("{endpoint}/checkout/place"), Some(csrf_token), Some("{}")).await?;
    string(&answer, "redirect").ok_or_else(|| WidgetError::Decode("no redirect in the answer".into()))
}

/// `DELETE {endpoint}/link`: unlinks the member's Amazon account.
pub async fn unlink(endpoint: &str, csrf_token: &str) -> Result<(), WidgetError> {
    send("DELETE", &format!("{endpoint}/link"), Some(csrf_token), None).await.map(drop)
}

/// Sends a request (JSON `body`, the CSRF token when given) and returns its parsed JSON body, or
/// the contract's error.
async fn send(method: &str, url: &str, csrf_token: Option<&str>, body: Option<&str>) -> Result<JsValue, WidgetError> {
    let network = |e: JsValue| WidgetError::Network(describe_js(&e));
    let window = web_sys::window().ok_or_else(|| WidgetError::Network("no window".into()))?;
    let controller = AbortController::new().map_err(network)?;
    let init = RequestInit::new();
    init.set_method(method);
    // Credentials are sent so that a widget whose API lies on another origin than the page
    // still carries the shopper's session; the server grants that to the shop origin only.
    init.set_credentials(RequestCredentials::Include);
    init.set_signal(Some(&controller.signal()));
    let headers = Object::new();
    let header = |name: &str, value: &str| Reflect::set(&headers, &name.into(), &value.into()).map(drop);
    if let Some(body) = body {
        header("Content-Type", "application/json").map_err(network)?;
        init.set_body(&body.into());
    }
    if let Some(token) = csrf_token {
        header(CSRF_HEADER, token).map_err(network)?;
    }
    init.set_headers(&headers);
    let timer = abort_after(&controller, TIMEOUT_MS);
    let result = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await;
    if let Some(timer) = timer {
        window.clear_timeout_with_handle(timer);
    }
    read(result.map_err(network)?.unchecked_into()).await
}

/// The parsed JSON body of a response, or the contract's error.
async fn read(response: Response) -> Result<JsValue, WidgetError> {
    let network = |e: JsValue| WidgetError::Network(describe_js(&e));
    let status = response.status();
    let text =
        JsFuture::from(response.text().map_err(network)?).await.map_err(network)?.as_string().unwrap_or_default();
    let value = js_sys::JSON::parse(&text);
    if !response.ok() {
        let error = value.ok().map(|v| field(&v, "error"));
        let code = error.as_ref().and_then(|e| string(e, "code")).unwrap_or_default();
        let message =
            error.as_ref().and_then(|e| string(e, "message")).unwrap_or_else(|| text.chars().take(200).collect());
        return Err(WidgetError::Api { status, code, message });
    }
    value.map_err(|e| WidgetError::Decode(describe_js(&e)))
}

fn decode_answer(value: &JsValue, count: usize) -> Result<Answer, WidgetError> {
    let (blocks, checkout_js) = decode_views(value, count)?;
    Ok(Answer {
        member: field(value, "member"),
        csrf_token: string(value, "csrfToken").ok_or_else(|| missing("csrfToken"))?,
        checkout_js,
        blocks,
    })
}

fn missing(name: &str) -> WidgetError {
    WidgetError::Decode(format!("no {name} in the answer"))
}

/// The views of an answer (one per block asked for) and where checkout.js is.
pub fn decode_views(value: &JsValue, count: usize) -> Result<(Vec<View>, String), WidgetError> {
    let blocks = field(value, "blocks");
    if !Array::is_array(&blocks) {
        return Err(missing("blocks"));
    }
    let blocks = Array::from(&blocks)
        .iter()
        .map(|block| {
            let view = string(&block, "view").unwrap_or_default();
            Ok(match view.as_str() {
                "button" => {
                    let options = field(&block, "options");
                    let text = js_sys::JSON::stringify(&options).map(String::from).unwrap_or_default();
                    View::Button(options, text)
                }
                "linked" => View::Linked,
                "nothing" => View::Nothing,
                "review" => View::Review(
                    string(&block, "amazonCheckoutSessionId").ok_or_else(|| missing("amazonCheckoutSessionId"))?,
                    Array::from(&field(&block, "shippingAddress")).iter().filter_map(|line| line.as_string()).collect(),
                    string(&block, "paymentDescriptor").unwrap_or_default(),
                ),
                "unavailable" => string(&block, "reason")
                    .and_then(|r| UnavailableReason::from_code(&r))
                    .map(View::Unavailable)
                    .ok_or_else(|| missing("known reason"))?,
                _ => return Err(WidgetError::Decode(format!("unknown view '{view}'"))),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if blocks.len() != count {
        return Err(WidgetError::Decode(format!("{} views for {count} blocks", blocks.len())));
    }
    Ok((blocks, string(value, "checkoutJs").ok_or_else(|| missing("checkoutJs"))?))
}

fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn string(value: &JsValue, name: &str) -> Option<String> {
    field(value, name).as_string()
}

/// The request body. Written by hand from the contract's wire names (a serializer would cost
/// the bundle more than this whole module); `contract` tests that they match serde's.
pub fn request_body(blocks: &[BlockSpec]) -> String {
    let blocks: Vec<String> = blocks
        .iter()
        .map(|b| {
            format!(
                r#"{{"kind":"{}","placement":"{}","buttonColor":"{}"}}"#,
                b.kind.name(),
                b.placement.name(),
                b.button_color.name()
            )
        })
        .collect();
    format!(r#"{{"blocks":[{}]}}"#, blocks.join(","))
}

fn abort_after(controller: &AbortController, millis: i32) -> Option<i32> {
    let controller = controller.clone();
    let abort = Closure::once_into_js(move || controller.abort());
    web_sys::window()?.set_timeout_with_callback_and_timeout_and_arguments_0(abort.unchecked_ref(), millis).ok()
}
