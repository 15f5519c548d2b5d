//! What the loader (`widget.js`) started while the wasm was on its way: the page's API request,
//! with the answer it remembered from the last view of the same blocks in this tab, and the load
//! of checkout.js. The runtime takes them over instead of starting its own.

use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::amazon;

/// The loader's settings object (`undefined` when the runtime was started without a loader).
pub struct Handoff(JsValue);

/// The loader's request for the page's blocks.
pub struct Prefetch {
    /// The promise of its `Response`.
    pub response: Promise,
    /// The answer the last view of the same blocks got in this tab (JSON), if remembered.
    pub remembered: Option<String>,
}

impl Handoff {
    /// Reads from the loader's `settings`.
    pub fn new(settings: JsValue) -> Self {
        Self(settings)
    }

    /// Whether the loader saw the page's blocks parsed (before the parser was done).
    pub fn parsed(&self) -> bool {
        get(&self.0, "parsed").is_some_and(|parsed| parsed.is_truthy())
    }

    /// Takes the loader's request if it described exactly `body`; once only.
    pub fn take_request(&self, body: &str) -> Option<Prefetch> {
        let prefetch = get(&self.0, "prefetch").filter(JsValue::is_object)?;
        if get(&prefetch, "body")?.as_string()? != body {
            return None;
        }
        let _ = Reflect::set(&self.0, &"prefetch".into(), &JsValue::UNDEFINED);
        let response = get(&prefetch, "response")?.dyn_into::<Promise>().ok()?;
        let remembered = get(&prefetch, "remembered").and_then(|r| r.as_string());
        Some(Prefetch { response, remembered })
    }

    /// Tells the loader that the answers it remembered for this tab no longer hold (the shopper's
    /// state changed).
    pub fn forget_answers(&self) {
        if let Some(forget) = get(&self.0, "forget").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) {
            let _ = forget.call0(&self.0);
        }
    }

    /// Takes over the loader's load of checkout.js, if it started one.
    pub fn adopt_checkout_js(&self) {
        let Some(checkout_js) = get(&self.0, "checkoutJs").filter(JsValue::is_object) else {
            return;
        };
        let url = get(&checkout_js, "url").and_then(|u| u.as_string());
        let loaded = get(&checkout_js, "loaded").and_then(|p| p.dyn_into::<Promise>().ok());
        if let (Some(url), Some(loaded)) = (url, loaded) {
            amazon::adopt(url, loaded);
        }
    }
}

fn get(target: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined())
}
