//! Amazon's checkout.js: loaded once per page, only when a button will be drawn, and called so
//! that whatever it throws stays inside the block.

use std::cell::RefCell;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlScriptElement;

use super::error::{WidgetError, describe_js};

/// How long checkout.js may take to load before the block says Amazon Pay is unavailable.
const LOAD_TIMEOUT_MS: i32 = 10_000;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["amazon", "Pay"], js_name = renderButton)]
    fn render_button_js(selector: &str, options: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["amazon", "Pay"], js_name = bindChangeAction)]
    fn bind_change_action_js(selector: &str, options: &JsValue) -> Result<JsValue, JsValue>;
}

thread_local! {
    /// The one load of checkout.js for this page, shared by every caller: its URL and promise.
    static LOADING: RefCell<Option<(String, Promise)>> = const { RefCell::new(None) };
}

/// Takes over the load of checkout.js from `src` that the loader started (`loaded` settles with
/// it, within the widget's timeout), so that [`load`] does not load it again.
pub fn adopt(src: String, loaded: Promise) {
    LOADING.with(|loading| {
        let mut loading = loading.borrow_mut();
        if loading.as_ref().is_none_or(|(url, _)| *url != src) {
            *loading = Some((src, loaded));
        }
    });
}

/// Loads checkout.js from `src` unless `amazon.Pay` is already there (a shop may include it
/// itself). Every call awaits the same single load.
pub async fn load(src: &str) -> Result<(), WidgetError> {
    if has_render_button() {
        return Ok(());
    }
    let promise = LOADING.with(|loading| {
        let mut loading = loading.borrow_mut();
        if loading.as_ref().is_some_and(|(url, _)| url != src) {
            *loading = None;
        }
        loading.get_or_insert_with(|| (src.to_owned(), start_loading(src))).1.clone()
    });
    let outcome = JsFuture::from(promise).await;
    if let Err(reason) = outcome {
        // Let a later attempt (say, after the shopper's network came back) try again.
        LOADING.with(|loading| loading.borrow_mut().take());
        return Err(WidgetError::CheckoutJs(describe_js(&reason)));
    }
    if has_render_button() {
        Ok(())
    } else {
        LOADING.with(|loading| loading.borrow_mut().take());
        Err(WidgetError::CheckoutJs("the script did not define amazon.Pay.renderButton".into()))
    }
}

fn start_loading(src: &str) -> Promise {
    let src = src.to_owned();
    Promise::new(&mut move |resolve: Function, reject: Function| {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("no document"));
            return;
        };
        let script = match document.create_element("script").map(JsCast::unchecked_into::<HtmlScriptElement>) {
            Ok(script) => script,
            Err(e) => {
                let _ = reject.call1(&JsValue::NULL, &e);
                return;
            }
        };
        script.set_src(&src);
        script.set_async(true);
        script.set_onload(Some(&resolve));
        let failed = JsValue::from_str(&format!("failed to load {src}"));
        let on_error = reject.bind1(&JsValue::NULL, &failed);
        script.set_onerror(Some(on_error.unchecked_ref()));
        let timed_out = JsValue::from_str(&format!("timed out loading {src}"));
        let on_timeout = reject.bind1(&JsValue::NULL, &timed_out);
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(on_timeout.unchecked_ref(), LOAD_TIMEOUT_MS);
        }
        let parent = document.head().map(JsCast::unchecked_into).or_else(|| document.document_element());
        match parent {
            Some(parent) => {
                let _ = parent.append_child(&script);
            }
            None => {
                let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("no <head> to load into"));
            }
        }
    })
}

/// `amazon.Pay`, once checkout.js defined it.
fn pay() -> Option<JsValue> {
    let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok();
    get(&web_sys::window()?.into(), "amazon")
        .filter(|v| v.is_object())
        .and_then(|amazon| get(&amazon, "Pay"))
        .filter(|v| v.is_object())
}

fn has_render_button() -> bool {
    pay().and_then(|pay| method(&pay, "renderButton")).is_some()
}

/// Draws the Amazon button into the element with id `container_id`, with the server's display
/// options. They carry no signed payload, so checkout.js draws a decoupled button: a click only
/// calls the handler given to [`on_click`], and the payload signed at that moment goes to
/// [`init_checkout`]. Returns the button object checkout.js gives back.
pub fn render_button(container_id: &str, options: &JsValue) -> Result<JsValue, WidgetError> {
    let button = render_button_js(&format!("#{container_id}"), options)
        .map_err(|thrown| WidgetError::Render(describe_js(&thrown)))?;
    method(&button, "onClick")
        .map(|_| button.clone())
        .ok_or_else(|| WidgetError::Render("checkout.js gave no decoupled button (onClick, initCheckout)".into()))
}

/// checkout.js names the button container with an `aria-label` of its own, while the label it
/// draws in the container's shadow root may show more (the sandbox badge): the container's name
/// must contain what it shows (WCAG 2.5.3, "label in name"), so the shown text is added to it.
pub fn name_with_visible_label(container_id: &str) {
    let Some(container) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(container_id))
    else {
        return;
    };
    let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    // A closed shadow root (or none) shows nothing the page can read: the name stays as it is.
    let root = get(&container, "shadowRoot");
    if !root.is_object() {
        return;
    }
    let children = get(&root, "children");
    let mut shown = String::new();
    for child in js_sys::Array::from(&children).iter() {
        if get(&child, "tagName").as_string().as_deref() != Some("STYLE") {
            shown.push_str(&get(&child, "textContent").as_string().unwrap_or_default());
        }
    }
    let shown = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut name = container.get_attribute("aria-label").unwrap_or_default();
    if shown.contains(&name) {
        name = shown;
    } else if !name.contains(&shown) {
        name.push(' ');
        name.push_str(&shown);
    }
    let _ = container.set_attribute("aria-label", &name);
}

/// Makes a click on the decoupled `button` call `handler` (with the button object).
pub fn on_click(button: &JsValue, handler: &Function) -> Result<(), WidgetError> {
    let on_click = method(button, "onClick").ok_or_else(|| WidgetError::Render("no onClick on the button".into()))?;
    on_click.call1(button, handler).map(drop).map_err(|thrown| WidgetError::Render(describe_js(&thrown)))
}

/// Sends the shopper to Amazon with `config`, what the server signed at the click (contract
/// `SignAnswer`), for the decoupled `button`: a checkout through the button's own `initCheckout`,
/// a sign-in (`sign_in`) through the global `amazon.Pay.initCheckout` (Amazon's decoupled
/// `initCheckout` never reads a `signInConfig`). checkout.js checks the config as it checks one
/// given to `renderButton`.
pub fn init_checkout(button: &JsValue, config: &JsValue, sign_in: bool) -> Result<(), WidgetError> {
    let target =
        if sign_in { pay().ok_or_else(|| WidgetError::Checkout("no amazon.Pay".into()))? } else { button.clone() };
    let init = method(&target, "initCheckout").ok_or_else(|| WidgetError::Checkout("no initCheckout".into()))?;
    init.call1(&target, config).map(drop).map_err(|thrown| WidgetError::Checkout(describe_js(&thrown)))
}

fn method(target: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(target, &JsValue::from_str(name)).ok()?.dyn_into::<Function>().ok()
}

/// Makes the element with id `element_id` open Amazon's page to change the address
/// (`changeAddress`) or the payment method (`changePayment`) of a checkout session.
pub fn bind_change_action(element_id: &str, checkout_session_id: &str, action: &str) -> Result<(), WidgetError> {
    let options = js_sys::Object::new();
    let set = |key: &str, value: &str| Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value));
    set("amazonCheckoutSessionId", checkout_session_id)
        .and(set("changeAction", action))
        .map_err(|e| WidgetError::Render(describe_js(&e)))?;
    bind_change_action_js(&format!("#{element_id}"), &options)
        .map(drop)
        .map_err(|thrown| WidgetError::Render(describe_js(&thrown)))
}
