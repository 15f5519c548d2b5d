//! The widget's one error type. Shoppers see a short sentence; `data-debug` shows `detail()`.

use std::fmt;

use wasm_bindgen::{JsCast, JsValue};

/// Something between the page and a drawn Amazon button went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WidgetError {
    /// The widget API did not answer (offline, timeout, blocked).
    Network(String),
    /// The widget API answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The contract's error code, if the body had one.
        code: String,
        /// Its message.
        message: String,
    },
    /// The API's answer was not what the contract says.
    Decode(String),
    /// Amazon's checkout.js did not load or did not define `amazon.Pay`.
    CheckoutJs(String),
    /// checkout.js refused the button (it throws `AmazonPay:\n…` strings).
    Render(String),
    /// checkout.js refused the signed payload at click (`initCheckout`).
    Checkout(String),
}

impl fmt::Display for WidgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(detail) => write!(f, "widget API unreachable: {detail}"),
            Self::Api { status, code, message } => {
                write!(f, "widget API answered {status} {code}: {message}")
            }
            Self::Decode(detail) => write!(f, "unexpected widget API answer: {detail}"),
            Self::CheckoutJs(detail) => write!(f, "Amazon checkout.js unavailable: {detail}"),
            Self::Render(detail) => write!(f, "amazon.Pay.renderButton failed: {detail}"),
            Self::Checkout(detail) => write!(f, "initCheckout failed: {detail}"),
        }
    }
}

/// A readable text for anything JavaScript threw: checkout.js throws plain strings, the DOM
/// throws `Error`s.
pub fn describe_js(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        return text;
    }
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return format!("{}: {}", String::from(error.name()), String::from(error.message()));
    }
    js_sys::JSON::stringify(value).map(String::from).unwrap_or_else(|_| "unknown error".into())
}
