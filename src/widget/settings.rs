//! The script tag's settings, the page hooks (DOM ready, style sheet) and the event shop scripts
//! can listen to.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CustomEvent, CustomEventInit, Element, Url};

use super::texts::Lang;
use crate::contract::Notice;

/// What the loader read from the script tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Base URL of the widget API (`data-endpoint`, resolved by the loader).
    pub endpoint: String,
    /// `data-lang`.
    pub lang: Lang,
    /// `data-debug`.
    pub debug: bool,
    /// What the server reported through `?amazonpay2=<code>` (after an Amazon sign-in).
    pub notice: Option<Notice>,
}

impl Settings {
    /// Reads `{endpoint, lang, debug}` as the loader passes it; a bad `lang` falls back to
    /// Japanese with a console warning.
    pub fn from_js(value: &JsValue) -> Self {
        let get = |key: &str| Reflect::get(value, &JsValue::from_str(key)).ok();
        let endpoint = get("endpoint").and_then(|v| v.as_string()).unwrap_or_else(|| "/api/amazonpay2".to_owned());
        let lang = match get("lang").and_then(|v| v.as_string()) {
            None => Lang::Ja,
            Some(value) => Lang::parse(&value).unwrap_or_else(|| {
                web_sys::console::warn_1(&format!("Amazon Pay: data-lang=\"{value}\" is not one of: ja, en").into());
                Lang::Ja
            }),
        };
        let debug = get("debug").is_some_and(|v| v.is_truthy());
        Self { endpoint: endpoint.trim_end_matches('/').to_owned(), lang, debug, notice: take_notice() }
    }
}

/// Reads `?amazonpay2=<code>` from the address and removes it, so that a reload or a shared
/// link does not show the notice again.
fn take_notice() -> Option<Notice> {
    let window = web_sys::window()?;
    let url = Url::new(&window.location().href().ok()?).ok()?;
    let params = url.search_params();
    let notice = params.get("amazonpay2").and_then(|code| Notice::from_code(&code))?;
    params.delete("amazonpay2");
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url.href()));
    }
    Some(notice)
}

/// Waits until the document is parsed (a script in `<head>` without `defer` runs before the
/// blocks exist): `readystatechange` comes as the parser ends, DOMContentLoaded a task later. The
/// loader may say earlier that the blocks are there (`parsed`, with the `amazonpay2:parsed` event).
pub async fn dom_ready(parsed: impl Fn() -> bool) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    while document.ready_state() == "loading" && !parsed() {
        // Settling a settled promise again does nothing, so the listeners may stay.
        let changed = Promise::new(&mut |resolve, _reject| {
            let _ = document.add_event_listener_with_callback("readystatechange", &resolve);
            let _ = document.add_event_listener_with_callback("amazonpay2:parsed", &resolve);
        });
        let _ = JsFuture::from(changed).await;
    }
}

/// Resumes in a new task of the page (a timer's): the work before it and after it never make one
/// long task together, which on a slow phone would hold up the shopper's taps and scrolling.
pub async fn next_task() {
    let promise = Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback(&resolve);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Adds the widget's small style sheet once per document.
pub fn install_style(root: &Element) {
    let Some(document) = root.owner_document() else {
        return;
    };
    if document.get_element_by_id(STYLE_ID).is_some() {
        return;
    }
    let Ok(style) = document.create_element("style") else {
        return;
    };
    style.set_id(STYLE_ID);
    style.set_text_content(Some(STYLE));
    if let Some(head) = document.head() {
        let _ = head.append_child(&style);
    }
}

/// Tells shop scripts the shopper's state: `document` receives `amazonpay2:state` with
/// `detail = {member, csrfToken}` after every answer from the server.
pub fn announce(root: &Element, member: &JsValue, csrf_token: &str) {
    let Some(document) = root.owner_document() else {
        return;
    };
    let detail = Object::new();
    let _ = Reflect::set(&detail, &"member".into(), member);
    let _ = Reflect::set(&detail, &"csrfToken".into(), &csrf_token.into());
    let init = CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict("amazonpay2:state", &init) {
        let _ = document.dispatch_event(event.unchecked_ref());
    }
}

const STYLE_ID: &str = "amazonpay2-style";

const STYLE: &str = "\
.amazonpay2{margin:0;min-width:1px;min-height:1px}\
.amazonpay2--pc .amazonpay2-button{width:300px;max-width:100%}\
.amazonpay2--sp .amazonpay2-button{width:100%}\
.amazonpay2-message{margin:.5em 0;padding:.6em .8em;border:1px solid #d5d9d9;border-radius:4px;\
background:#f7fafa;color:#0f1111;font-size:.9em;line-height:1.6}\
.amazonpay2-debug{margin:.3em 0;padding:.3em .6em;background:#fff4e5;border-left:3px solid #e08a00;\
color:#4a3000;font:12px/1.5 monospace;white-space:pre-wrap;word-break:break-all}\
.amazonpay2-linked p{margin:.3em 0}\
.amazonpay2-unlink{font:inherit;min-height:44px;padding:.5em 1em;border:1px solid #888c8c;\
border-radius:4px;background:#fff;color:#0f1111;cursor:pointer}\
.amazonpay2-unlink:focus-visible{outline:2px solid #007185;outline-offset:2px}\
.amazonpay2-unlink[disabled]{opacity:.6;cursor:wait}\
.amazonpay2-notice{margin:.5em 0;padding:.6em .8em;border-radius:4px;border:1px solid #9ccf92;\
background:#eef8ec;color:#0f1111;line-height:1.6}\
.amazonpay2-notice--problem{border-color:#e3a39b;background:#fdf0ee}\
.amazonpay2-review-heading{font-weight:700;margin:.8em 0 .2em}\
.amazonpay2-change{font:inherit;min-height:44px;padding:.4em 1em;border:1px solid #888c8c;border-radius:4px;\
background:#fff;color:#0f1111;cursor:pointer}";
