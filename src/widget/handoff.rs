//! What the loader (`widget.js`) started while the wasm was on its way: the page's API request,
//! with the answer it remembered from the last view of the same blocks in this tab, the load of
//! checkout.js, and the Amazon button it drew in the simple case (with a click the shopper made
//! on it meanwhile). The runtime takes them over instead of starting its own.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

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

/// The Amazon button the loader drew into a block before the wasm was ready: the loader's record
/// of it (`container`, `options`, `button` as checkout.js's `renderButton` returned it, and where
/// its click handler sends clicks: `onClick`, or `clicked` while nobody listens).
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn(JsValue);

impl Drawn {
    /// Its container, inside the block.
    pub fn container(&self) -> Option<Element> {
        get(&self.0, "container")?.dyn_into().ok()
    }

    /// The `renderButton` options it was drawn with.
    pub fn options(&self) -> JsValue {
        get(&self.0, "options").unwrap_or(JsValue::UNDEFINED)
    }

    /// Sends every click on the button to `handler` (with checkout.js's button object) from now
    /// on, and the one the shopper made before the wasm was ready, if any, at once.
    pub fn adopt_clicks(&self, handler: &Function) {
        let button = get(&self.0, "button").unwrap_or(JsValue::UNDEFINED);
        let _ = Reflect::set(&self.0, &"onClick".into(), &handler.bind1(&JsValue::NULL, &button));
        if get(&self.0, "clicked").is_some_and(|clicked| clicked.is_truthy()) {
            let _ = Reflect::set(&self.0, &"clicked".into(), &JsValue::FALSE);
            let _ = handler.call1(&JsValue::NULL, &button);
        }
    }
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

    /// Takes the button the loader drew into `block`, if it drew one there and it is still in the
    /// block; once only.
    pub fn take_drawn(&self, block: &Element) -> Option<Drawn> {
        let record = get(&self.0, "drawn").filter(|record| get(record, "block").as_ref() == Some(block.as_ref()))?;
        let _ = Reflect::set(&self.0, &"drawn".into(), &JsValue::UNDEFINED);
        let drawn = Drawn(record);
        block.contains(drawn.container().as_deref()).then_some(drawn)
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
