//! Calls to the widget API (gloo-net). JSON goes through the browser's own `JSON` so that the
//! widget carries no JSON library of its own.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{AbortController, RequestCredentials};

use super::error::{WidgetError, describe_js};
use crate::contract::{ApiError, BlockSpec, ButtonsRequest, ButtonsResponse, SessionResponse};

/// How long the widget waits for its API before telling the shopper.
const TIMEOUT_MS: i32 = 10_000;

/// The CSRF header the server expects on state-changing requests.
const CSRF_HEADER: &str = "X-AmazonPay2-CSRF";

/// `POST {endpoint}/buttons`: every block of the page in one request.
pub async fn buttons(endpoint: &str, blocks: Vec<BlockSpec>) -> Result<ButtonsResponse, WidgetError> {
    let body = to_json(&ButtonsRequest { blocks })?;
    let request = Request::post(&format!("{endpoint}/buttons"))
        .header("Content-Type", "application/json");
    send(request, Some(body)).await
}

/// `DELETE {endpoint}/link`: unlinks the member's Amazon account.
pub async fn unlink(endpoint: &str, csrf_token: &str) -> Result<SessionResponse, WidgetError> {
    let request = Request::delete(&format!("{endpoint}/link")).header(CSRF_HEADER, csrf_token);
    send(request, None).await
}

async fn send<T: DeserializeOwned>(request: RequestBuilder, body: Option<String>) -> Result<T, WidgetError> {
    // Credentials are sent so that a widget whose API lies on another origin than the page
    // still carries the shopper's session; the server grants that to the shop origin only.
    let controller = AbortController::new().map_err(|e| WidgetError::Network(describe_js(&e)))?;
    let request = request
        .credentials(RequestCredentials::Include)
        .abort_signal(Some(&controller.signal()));
    let request = match body {
        Some(body) => request.body(body),
        None => request.build(),
    }
    .map_err(|e| WidgetError::Network(e.to_string()))?;
    let timer = abort_after(&controller, TIMEOUT_MS);
    let result = request.send().await;
    if let (Some(window), Some(timer)) = (web_sys::window(), timer) {
        window.clear_timeout_with_handle(timer);
    }
    let response = result.map_err(|e| WidgetError::Network(e.to_string()))?;
    decode(response).await
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, WidgetError> {
    let status = response.status();
    let text = response.text().await.map_err(|e| WidgetError::Network(e.to_string()))?;
    let value = js_sys::JSON::parse(&text);
    if !response.ok() {
        let body = value.ok().and_then(|v| serde_wasm_bindgen::from_value::<ApiError>(v).ok());
        let (code, message) = body.map_or_else(
            || (String::new(), text.chars().take(200).collect()),
            |b| (b.error.code, b.error.message),
        );
        return Err(WidgetError::Api { status, code, message });
    }
    let value = value.map_err(|e| WidgetError::Decode(describe_js(&e)))?;
    serde_wasm_bindgen::from_value(value).map_err(|e| WidgetError::Decode(e.to_string()))
}

fn to_json(value: &impl Serialize) -> Result<String, WidgetError> {
    let value = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WidgetError::Decode(e.to_string()))?;
    js_sys::JSON::stringify(&value)
        .map(String::from)
        .map_err(|e| WidgetError::Decode(describe_js(&e)))
}

fn abort_after(controller: &AbortController, millis: i32) -> Option<i32> {
    let controller = controller.clone();
    let abort = Closure::once_into_js(move || controller.abort());
    web_sys::window()?
        .set_timeout_with_callback_and_timeout_and_arguments_0(abort.unchecked_ref(), millis)
        .ok()
}
