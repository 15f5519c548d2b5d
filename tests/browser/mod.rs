//! Browser fakes and fixtures shared by the widget's browser tests (wasm-bindgen-test in
//! headless Chromium): a fake widget API (`window.fetch`), a fake checkout.js
//! (`window.amazon.Pay`), recorders, and the page under test.
//!
//! Every test builds its own `<section>` in `document.body` and its own fakes; the fixtures undo
//! everything on drop. Tests run one at a time in one page, so the global fakes never overlap.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::rc::Rc;

use amazonpay2::widget::texts::Lang;
use amazonpay2::widget::{Runtime, Settings};
use js_sys::{Array, Function, Promise, Reflect};
use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Element, Window};

// ---------------------------------------------------------------------------------------------
// Browser plumbing
// ---------------------------------------------------------------------------------------------

pub fn window() -> Window {
    web_sys::window().expect("a window")
}

pub fn document() -> Document {
    window().document().expect("a document")
}

/// Runs a piece of JavaScript taking one argument and returns its result.
pub fn js(source: &str, argument: &JsValue) -> JsValue {
    Function::new_with_args("argument", source)
        .call1(&JsValue::NULL, argument)
        .unwrap_or_else(|e| panic!("test JavaScript threw {e:?}: {source}"))
}

/// `delete window[name]`.
pub fn delete_global(name: &str) {
    let _ = Reflect::delete_property(window().unchecked_ref::<js_sys::Object>(), &name.into());
}

/// A JavaScript value as JSON (for comparing with `json!`).
pub fn to_json(value: &JsValue) -> Value {
    let text = js_sys::JSON::stringify(value).expect("JSON-able value");
    serde_json::from_str(&String::from(text)).unwrap_or(Value::Null)
}

pub fn to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).expect("valid JSON")
}

pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).expect("setTimeout");
    });
    JsFuture::from(promise).await.expect("timer");
}

/// Polls `done` every 10 ms for up to `timeout_ms`; whether it came true.
pub async fn eventually(timeout_ms: u32, mut done: impl FnMut() -> bool) -> bool {
    let start = js_sys::Date::now();
    while !done() {
        if js_sys::Date::now() - start > f64::from(timeout_ms) {
            return false;
        }
        sleep(10).await;
    }
    true
}

/// Polls `done` every 10 ms; panics naming `what` after `timeout_ms`.
pub async fn wait_until(what: &str, timeout_ms: u32, done: impl FnMut() -> bool) {
    assert!(eventually(timeout_ms, done).await, "timed out after {timeout_ms} ms waiting until {what}");
}

/// Counts the page's pending timers (`setTimeout`, as the widget's 30 ms debounce and its
/// next-task steps use it) and gives the tests a timer of their own outside the count. Installed
/// once per page, before any widget starts (by [`Page::new`]).
const TIMERS: &str = r#"
if (!window.__amazonpay2Timers) {
  const rawSet = window.setTimeout, rawClear = window.clearTimeout, pending = new Map();
  window.setTimeout = function (callback, delay, ...args) {
    const run = typeof callback === "function" ? callback : () => (0, eval)(String(callback));
    const id = rawSet.call(window, function () { pending.delete(id); return run.apply(this, args); }, delay);
    pending.set(id, Number(delay) || 0);
    return id;
  };
  window.clearTimeout = function (id) { pending.delete(id); return rawClear.call(window, id); };
  window.__amazonpay2Timers = {
    // Timers of a second or more are the widget's give-up timeouts (10 s), not work to come.
    soon: () => [...pending.values()].filter((delay) => delay < 1000).length,
    fetches: () => window.__amazonpay2FetchesInFlight || 0,
    tick: () => new Promise((resolve) => rawSet.call(window, resolve, 0)),
  };
}
return window.__amazonpay2Timers;
"#;

fn timers() -> JsValue {
    js(TIMERS, &JsValue::UNDEFINED)
}

fn call_timers(name: &str) -> JsValue {
    let timers = timers();
    let function = Reflect::get(&timers, &name.into()).unwrap();
    function.unchecked_ref::<Function>().call0(&timers).unwrap()
}

/// Waits until the widget has nothing left to do: no timer due within a second pending (the
/// debounce, a next-task step), no request to the fake API in flight, for three turns of the
/// page's task queue in a row (what a timer or an answer queues runs in between). Used before
/// asserting that something did *not* happen, and after an action whose effects the test reads
/// whole. Fails after 20 s of a widget that never quiets down.
pub async fn settle() {
    let started = js_sys::Date::now();
    let mut quiet = 0;
    while quiet < 3 {
        JsFuture::from(call_timers("tick").unchecked_into::<Promise>()).await.expect("a tick");
        let soon = call_timers("soon").as_f64().unwrap_or(0.0);
        let fetches = call_timers("fetches").as_f64().unwrap_or(0.0);
        quiet = if soon == 0.0 && fetches == 0.0 { quiet + 1 } else { 0 };
        assert!(
            js_sys::Date::now() - started < 20_000.0,
            "the widget did not settle in 20 s: {soon} timer(s), {fetches} request(s) pending"
        );
    }
}

/// How long a wait for something the widget shows may take (a loaded machine; a passing test
/// waits only as long as the widget takes).
pub const WAIT_MS: u32 = 15_000;

pub fn settings(debug: bool) -> Settings {
    Settings { endpoint: "/api/amazonpay2".to_owned(), lang: Lang::Ja, debug, notice: None }
}

// ---------------------------------------------------------------------------------------------
// Fake widget API: replaces window.fetch
// ---------------------------------------------------------------------------------------------

/// Answers `POST …/buttons` with one view per requested block, chosen by `views["kind:Placement"]`
/// or `views[kind]` (default `nothing`); a `{"view":"button"}` gets renderButton options built
/// from the request. `mode` makes it fail instead: `reject`, `status500`, `malformed`,
/// `wrongCount`, or `hang` (until the request is aborted). `DELETE …/link` answers a session.
/// `POST …/buttons/sign` answers a signed config for the kind asked for (`SignAnswer`), or
/// fails as `signMode` says (`reject`, `conflict`), or with 403 `csrf_token_invalid` when its
/// token is not the `csrfToken` answers now carry (`staleToken` keeps refusing); `POST …/checkout/place` answers
/// `{"redirect":"#placed"}` (a fragment: the test page stays), or fails as `placeMode` says
/// (`unavailable`, `amazonDown`, `status500`).
pub const FAKE_FETCH: &str = r#"
const config = Object.assign(
  { views: {}, mode: "ok", signMode: "ok", placeMode: "ok", delayMs: 0, member: { state: "guest" }, csrfToken: "t",
    checkoutJs: "http://127.0.0.1:9/checkout.js" },
  JSON.parse(argument));
const calls = [];
const json = (status, value) => new Response(JSON.stringify(value),
  { status, headers: { "content-type": "application/json" } });
const view = (block) => {
  const v = config.views[block.kind + ":" + block.placement] || config.views[block.kind] || { view: "nothing" };
  if (v.view !== "button") return v;
  return { view: "button", options: {
    merchantId: "TESTMERCHANT", ledgerCurrency: "JPY", checkoutLanguage: "ja_JP", sandbox: true,
    productType: block.kind === "checkout" ? "PayAndShip" : "SignIn",
    placement: block.placement, buttonColor: block.buttonColor } };
};
// Requests not yet answered, for settle(); a hanging one ("hang") is not counted: it waits for
// the widget's own timeout.
window.__amazonpay2FetchesInFlight = 0;
async function fetch(input, init) {
  const counted = config.mode !== "hang";
  if (counted) window.__amazonpay2FetchesInFlight++;
  try {
    return await answer(input, init);
  } finally {
    if (counted) window.__amazonpay2FetchesInFlight--;
  }
}
async function answer(input, init) {
  const request = new Request(input, init);
  const call = { url: request.url, method: request.method, credentials: request.credentials,
                 headers: Object.fromEntries(request.headers), body: null };
  calls.push(call);
  const text = await request.text();
  try { call.body = JSON.parse(text); } catch (e) { call.body = text; }
  if (config.held) await config.held;
  if (config.delayMs) await new Promise((resolve) => setTimeout(resolve, config.delayMs));
  if (request.url.endsWith("/buttons/sign")) {
    switch (config.signMode) {
      case "reject": throw new TypeError("Failed to fetch");
      case "conflict": return json(409, { error: { code: "no_button",
        message: "This block shows no Amazon button now; reload the page." } });
    }
    if (config.signMode === "staleToken" || call.headers["x-amazonpay2-csrf"] !== config.csrfToken) {
      return json(403, { error: { code: "csrf_token_invalid",
        message: "The CSRF token is missing or out of date; reload the page." } });
    }
    const signIn = call.body.kind !== "checkout";
    const signed = { payloadJSON: JSON.stringify({ kind: call.body.kind }), signature: "c2ln",
                     publicKeyId: "SANDBOX-TEST", algorithm: "AMZN-PAY-RSASSA-PSS-V2" };
    return json(200, signIn ? { merchantId: "TESTMERCHANT", ledgerCurrency: "JPY", checkoutLanguage: "ja_JP",
          sandbox: true, placement: "Other", productType: "SignIn", buttonColor: "Gold", signInConfig: signed }
      : { productType: "PayAndShip", createCheckoutSessionConfig: signed,
          estimatedOrderAmount: { amount: "3630", currencyCode: "JPY" } });
  }
  if (request.url.endsWith("/checkout/place")) {
    switch (config.placeMode) {
      case "unavailable": return json(409, { error: { code: "amazon_pay_unavailable", message: "cartEmpty" } });
      case "amazonDown": return json(502, { error: { code: "amazon_unavailable", message: "timed out" } });
      case "status500": return json(500, { error: { code: "internal", message: "The server failed." } });
    }
    return json(200, { redirect: '#placed' });
  }
  switch (config.mode) {
    case "reject": throw new TypeError("Failed to fetch");
    case "hang": return new Promise((_, reject) => request.signal.addEventListener("abort",
      () => reject(new DOMException("The user aborted a request.", "AbortError"))));
    case "status500": return json(500, { error: { code: "internal", message: "The server failed." } });
    case "malformed": return new Response('{"blocks": [', { status: 200, headers: { "content-type": "application/json" } });
  }
  if (request.method === "DELETE") {
    return json(200, { member: { state: "member", name: "x", linked: false }, csrfToken: "t" });
  }
  const blocks = ((call.body && call.body.blocks) || []).map(view);
  if (config.mode === "wrongCount") blocks.push({ view: "nothing" });
  return json(200, { member: config.member, csrfToken: config.csrfToken, checkoutJs: config.checkoutJs, blocks });
}
return { fetch, calls, config };
"#;

pub struct FakeServer {
    fake: JsValue,
    original_fetch: JsValue,
}

impl FakeServer {
    /// `config`: `{views, mode, delayMs, member, checkoutJs}` (see [`FAKE_FETCH`]).
    pub fn install(config: Value) -> Self {
        let fake = js(FAKE_FETCH, &config.to_string().into());
        let original_fetch = Reflect::get(&window(), &"fetch".into()).unwrap();
        Reflect::set(&window(), &"fetch".into(), &Reflect::get(&fake, &"fetch".into()).unwrap()).unwrap();
        Self { fake, original_fetch }
    }

    pub fn answering(views: Value) -> Self {
        Self::install(json!({ "views": views }))
    }

    pub fn failing(mode: &str) -> Self {
        Self::install(json!({ "mode": mode }))
    }

    /// Every request so far: `{url, method, headers, body}`.
    pub fn calls(&self) -> Vec<Value> {
        match to_json(&Reflect::get(&self.fake, &"calls".into()).unwrap()) {
            Value::Array(calls) => calls,
            other => panic!("calls is not an array: {other}"),
        }
    }

    pub fn count(&self) -> usize {
        self.calls().len()
    }

    /// The block descriptions of request `n`.
    pub fn requested(&self, n: usize) -> Value {
        self.calls()[n]["body"]["blocks"].clone()
    }

    /// Changes a setting of the fake (`signMode`, `placeMode`, `delayMs`, …) from now on.
    pub fn set(&self, key: &str, value: Value) {
        Reflect::set(&Reflect::get(&self.fake, &"config".into()).unwrap(), &key.into(), &to_js(&value)).unwrap();
    }

    /// From now on, requests are taken (and counted) but answered only after [`Self::release`].
    pub fn hold(&self) {
        js(
            "argument.held = new Promise((resolve) => { argument.release = resolve; });",
            &Reflect::get(&self.fake, &"config".into()).unwrap(),
        );
    }

    /// Answers the held requests, and the next ones at once.
    pub fn release(&self) {
        js(
            "const release = argument.release; argument.held = null; if (release) release();",
            &Reflect::get(&self.fake, &"config".into()).unwrap(),
        );
    }

    /// Requests so far whose URL ends with `path`.
    pub fn calls_to(&self, path: &str) -> Vec<Value> {
        self.calls().into_iter().filter(|c| c["url"].as_str().is_some_and(|u| u.ends_with(path))).collect()
    }

    pub fn set_view(&self, kind: &str, view: Value) {
        let views = Reflect::get(&Reflect::get(&self.fake, &"config".into()).unwrap(), &"views".into()).unwrap();
        Reflect::set(&views, &kind.into(), &to_js(&view)).unwrap();
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = Reflect::set(&window(), &"fetch".into(), &self.original_fetch);
    }
}

pub fn button() -> Value {
    json!({ "view": "button" })
}

pub fn nothing() -> Value {
    json!({ "view": "nothing" })
}

pub fn linked() -> Value {
    json!({ "view": "linked" })
}

pub fn unavailable(reason: &str) -> Value {
    json!({ "view": "unavailable", "reason": reason })
}

/// A block description as sent on the wire.
pub fn spec(kind: &str, placement: &str, color: &str) -> Value {
    json!({ "kind": kind, "placement": placement, "buttonColor": color })
}

// ---------------------------------------------------------------------------------------------
// Fake checkout.js: window.amazon.Pay.renderButton
// ---------------------------------------------------------------------------------------------

/// Records every call with the block its container lies in, and draws into a closed shadow root
/// as checkout.js does (so drawing twice into one container throws, as it does for real). Options
/// without a signed config get the decoupled button: `{onClick, initCheckout, updateButtonInfo}`;
/// a click on the container calls the onClick handler (with no argument, as checkout.js does),
/// and `initCheckout` records its config (`inits`) or throws `state.initThrows`. With
/// `state.legacy`, renderButton returns nothing, as a script without decoupled buttons would; with
/// `state.label`, it names the container and draws that label and a sandbox badge in an open
/// shadow root, as checkout.js does.
pub const FAKE_AMAZON: &str = r#"
const calls = [];
const inits = [];
const state = { initThrows: null, legacy: false, label: null };
const renderButton = function (selector, options) {
  const container = document.querySelector(selector);
  const block = container && container.closest("[data-amazonpay]");
  calls.push({ selector, options, found: !!container,
               block: block ? block.id : null, connected: !!(container && container.isConnected) });
  if (argument) throw argument;
  if (!container) throw "AmazonPay:\nInvalid button container: " + selector;
  if (state.label) {
    // As checkout.js draws: an open shadow root, a style, the label and the sandbox badge.
    container.setAttribute("role", "button");
    container.setAttribute("aria-label", state.label);
    container.attachShadow({ mode: "open" }).innerHTML =
      "<style>.b{color:red}</style><div class=b><span>" + state.label + "</span><span>SANDBOX</span></div>";
  } else {
    container.attachShadow({ mode: "closed" }).innerHTML = '<div role="button">Amazon Pay</div>';
  }
  if (state.legacy) return undefined;
  let handler = null;
  container.addEventListener("click", () => { if (handler) handler(); else if (options.productType === "SignIn") throw MISMATCH; });
  return {
    onClick(callback) { handler = callback; },
    // As Amazon's script: the decoupled button takes only a checkout config from its argument,
    // never a signInConfig, so a SignIn button cannot be started from here.
    initCheckout(config) {
      inits.push({ selector, block: block ? block.id : null, config });
      if (state.initThrows) throw state.initThrows;
      if (options.productType === "SignIn") throw MISMATCH;
    },
    updateButtonInfo() {},
  };
};
// The global initCheckout (no button: block and selector are null) takes every option itself.
const initCheckout = function (options) {
  inits.push({ selector: null, block: null, config: options });
  if (state.initThrows) throw state.initThrows;
  if (options.productType === "SignIn" && !options.signInConfig) throw MISMATCH;
};
const MISMATCH = "AmazonPay:\nInvalid button definition, productType SignIn and configName do not match.\n";
const bound = [];
const bindChangeAction = function (selector, options) {
  const element = document.querySelector(selector);
  if (!element) throw "AmazonPay:\nCan not find element " + selector + " for amazon.Pay.bindChangeAction.";
  bound.push({ selector, options, text: element.textContent });
};
return { amazon: { Pay: { renderButton, initCheckout, bindChangeAction } }, calls, bound, inits, state };
"#;

pub const PENDING_AMAZON_KEY: &str = "__amazonpay2PendingFakeAmazon";

pub struct FakeAmazon {
    pub fake: JsValue,
    /// A blob: URL of a checkout.js defining the fake, when it is to be loaded by the widget.
    pub script_url: Option<String>,
}

impl FakeAmazon {
    /// `window.amazon` is defined before the widget starts: checkout.js is not loaded.
    pub fn install() -> Self {
        Self::install_with(JsValue::UNDEFINED)
    }

    /// renderButton throws `thrown` (checkout.js throws strings).
    pub fn throwing(thrown: &str) -> Self {
        Self::install_with(thrown.into())
    }

    pub fn install_with(thrown: JsValue) -> Self {
        let fake = js(FAKE_AMAZON, &thrown);
        Reflect::set(&window(), &"amazon".into(), &Reflect::get(&fake, &"amazon".into()).unwrap()).unwrap();
        Self { fake, script_url: None }
    }

    /// No `window.amazon`; the fake is defined by the script at [`Self::script_url`].
    pub fn as_script() -> Self {
        Self::remove();
        let fake = js(FAKE_AMAZON, &JsValue::UNDEFINED);
        Reflect::set(&window(), &PENDING_AMAZON_KEY.into(), &fake).unwrap();
        let url = js(
            &format!(
                "return URL.createObjectURL(new Blob(['window.amazon = window.{PENDING_AMAZON_KEY}.amazon;'], \
                 {{ type: 'text/javascript' }}));"
            ),
            &JsValue::UNDEFINED,
        );
        Self { fake, script_url: url.as_string() }
    }

    /// No `window.amazon` at all (checkout.js must be loaded).
    pub fn absent() -> Self {
        Self::remove();
        Self { fake: js("return { calls: [] };", &JsValue::UNDEFINED), script_url: None }
    }

    pub fn remove() {
        delete_global("amazon");
    }

    /// Every renderButton call: `{selector, options, found, block, connected}`.
    pub fn calls(&self) -> Vec<Value> {
        match to_json(&Reflect::get(&self.fake, &"calls".into()).unwrap()) {
            Value::Array(calls) => calls,
            other => panic!("calls is not an array: {other}"),
        }
    }

    pub fn count(&self) -> usize {
        self.calls().len()
    }

    /// Every `initCheckout` call: `{selector, block, config}` on a decoupled button, with `null`
    /// selector and block for the global `amazon.Pay.initCheckout`.
    pub fn inits(&self) -> Vec<Value> {
        match to_json(&Reflect::get(&self.fake, &"inits".into()).unwrap()) {
            Value::Array(inits) => inits,
            other => panic!("inits is not an array: {other}"),
        }
    }

    /// Sets a field of the fake's `state` (`initThrows`, `legacy`, `label`).
    pub fn set(&self, field: &str, value: &JsValue) {
        Reflect::set(&Reflect::get(&self.fake, &"state".into()).unwrap(), &field.into(), value).unwrap();
    }
}

impl Drop for FakeAmazon {
    fn drop(&mut self) {
        Self::remove();
        delete_global(PENDING_AMAZON_KEY);
        if let Some(url) = &self.script_url {
            js("URL.revokeObjectURL(argument);", &url.into());
        }
    }
}

/// How many `<script>` elements in the document load `src`.
pub fn scripts_loading(src: &str) -> usize {
    let scripts = document().query_selector_all("script[src]").unwrap();
    (0..scripts.length())
        .filter_map(|i| scripts.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlScriptElement>().ok())
        .filter(|s| s.src() == src)
        .count()
}

// ---------------------------------------------------------------------------------------------
// Recorders: console.warn, uncaught errors
// ---------------------------------------------------------------------------------------------

/// Wraps a global function or installs listeners, recording into `calls`; `restore` undoes it.
pub struct Recorder {
    recorder: JsValue,
}

impl Recorder {
    pub fn console_warn() -> Self {
        Self::new(
            r#"const calls = []; const previous = console.warn;
               console.warn = function (...args) { calls.push(args.map(String).join(" ")); return previous.apply(this, args); };
               return { calls, restore() { console.warn = previous; } };"#,
        )
    }

    /// Errors thrown to the page (`error`) and unhandled promise rejections: a panic in the
    /// widget shows up here.
    pub fn uncaught_errors() -> Self {
        Self::new(
            r#"const calls = [];
               const onError = (e) => calls.push("error: " + (e.message || e.error));
               const onRejection = (e) => calls.push("unhandled rejection: " + e.reason);
               window.addEventListener("error", onError);
               window.addEventListener("unhandledrejection", onRejection);
               return { calls, restore() {
                 window.removeEventListener("error", onError);
                 window.removeEventListener("unhandledrejection", onRejection); } };"#,
        )
    }

    pub fn new(source: &str) -> Self {
        Self { recorder: js(source, &JsValue::UNDEFINED) }
    }

    pub fn calls(&self) -> Vec<String> {
        Array::from(&Reflect::get(&self.recorder, &"calls".into()).unwrap())
            .iter()
            .filter_map(|v| v.as_string())
            .collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let restore = Reflect::get(&self.recorder, &"restore".into()).unwrap();
        let _ = restore.unchecked_ref::<Function>().call0(&self.recorder);
    }
}

// ---------------------------------------------------------------------------------------------
// The page under test
// ---------------------------------------------------------------------------------------------

/// A fresh `<section>` in `document.body` holding `html`, with a runtime on it once started.
/// Dropping it stops the runtime, removes the section and checks that nothing was thrown.
pub struct Page {
    pub section: Element,
    pub runtime: Option<Rc<Runtime>>,
    errors: Recorder,
}

impl Page {
    pub fn new(html: &str) -> Self {
        timers();
        let section = document().create_element("section").unwrap();
        section.set_inner_html(html);
        document().body().unwrap().append_child(&section).unwrap();
        Self { section, runtime: None, errors: Recorder::uncaught_errors() }
    }

    pub fn start(html: &str, settings: Settings) -> Self {
        let mut page = Self::new(html);
        page.runtime = Some(Runtime::start(page.section.clone(), settings));
        page
    }

    /// Starts the runtime as `boot` does after the loader (`loader`: the loader's settings).
    pub fn start_after_loader(html: &str, settings: Settings, loader: &JsValue) -> Self {
        let mut page = Self::new(html);
        page.runtime = Some(Runtime::start_after_loader(page.section.clone(), settings, loader.clone()));
        page
    }

    pub fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().expect("started")
    }

    pub fn block(&self, id: &str) -> Element {
        self.section.query_selector(&format!("#{id}")).unwrap().unwrap_or_else(|| panic!("no #{id} on the page"))
    }

    /// Elements matching `selector` in the section.
    pub fn count(&self, selector: &str) -> u32 {
        self.section.query_selector_all(selector).unwrap().length()
    }

    /// Elements matching `selector` inside block `id`.
    pub fn count_in(&self, id: &str, selector: &str) -> u32 {
        self.block(id).query_selector_all(selector).unwrap().length()
    }

    pub fn text(&self, id: &str) -> String {
        self.block(id).text_content().unwrap_or_default().trim().to_owned()
    }

    pub fn texts_of(&self, id: &str, selector: &str) -> Vec<String> {
        let list = self.block(id).query_selector_all(selector).unwrap();
        (0..list.length()).filter_map(|i| list.item(i)).map(|n| n.text_content().unwrap_or_default()).collect()
    }

    /// The id of the block holding the button, per `Runtime::winner`.
    pub fn winner(&self) -> Option<String> {
        let number = self.runtime().winner()?;
        let element = self.section.query_selector(&format!("[data-amazonpay2-block=\"{number}\"]")).unwrap();
        Some(element.expect("the winner's element is on the page").id())
    }

    pub fn append(&self, html: &str) {
        self.section.insert_adjacent_html("beforeend", html).unwrap();
    }

    pub fn assert_no_uncaught_errors(&self) {
        assert_eq!(self.errors.calls(), Vec::<String>::new(), "uncaught errors on the page");
    }

    /// Exactly one Amazon button container on the page, in block `id`.
    pub fn assert_button_only_in(&self, id: &str) {
        assert_eq!(self.count(".amazonpay2-button"), 1, "button containers on the page");
        assert_eq!(self.count_in(id, ".amazonpay2-button"), 1, "no button container in #{id}");
        assert_eq!(self.winner().as_deref(), Some(id), "Runtime::winner");
    }
}

impl Drop for Page {
    /// Cleans up, and fails the test if anything was thrown to the page meanwhile (a panic in
    /// the widget's futures or callbacks does not fail a test by itself). On wasm a failing test
    /// aborts without dropping, so this never runs twice; `thread::panicking()` is no guide
    /// there (it stays true after any earlier panic).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.stop();
        }
        self.section.remove();
        self.assert_no_uncaught_errors();
    }
}

/// Waits until renderButton has been called `n` times and the button is in block `id`.
pub async fn wait_for_button(page: &Page, amazon: &FakeAmazon, n: usize, id: &str) {
    let drawn = eventually(WAIT_MS, || amazon.count() >= n && page.count_in(id, ".amazonpay2-button") == 1).await;
    assert!(
        drawn,
        "timed out waiting until renderButton call #{n} draws into #{id}; winner: {:?}; calls: {:?}",
        page.winner(),
        amazon.calls()
    );
    let call = &amazon.calls()[n - 1];
    assert_eq!(call["block"], json!(id), "renderButton call #{n}: {call}");
    assert_eq!(call["found"], json!(true), "renderButton call #{n} found no container: {call}");
}

/// A real click (a `click` event) on an element.
pub fn click(element: &Element) {
    element.unchecked_ref::<web_sys::HtmlElement>().click();
}

/// Waits for the widget's short message; returns the page's `.amazonpay2-message` texts.
pub async fn wait_for_message(page: &Page, timeout_ms: u32) -> Vec<String> {
    wait_until("a .amazonpay2-message is shown", timeout_ms, || page.count(".amazonpay2-message") > 0).await;
    settle().await;
    let list = page.section.query_selector_all(".amazonpay2-message").unwrap();
    (0..list.length()).filter_map(|i| list.item(i)).map(|n| n.text_content().unwrap_or_default()).collect()
}

pub const SHOP_CONTENT: &str = r#"<p id="shop-content">カートの中身: 2 点 <a href="/cart">カートを見る</a></p>"#;

/// The three competing kinds, checkout last in document order, with the shop's own content.
pub fn three_blocks() -> String {
    format!(
        r#"<div id="login" data-amazonpay="login"></div>
           <div id="mypage" data-amazonpay="mypage"></div>
           {SHOP_CONTENT}
           <div id="checkout" data-amazonpay="checkout"></div>"#
    )
}

pub fn all_buttons() -> Value {
    json!({ "checkout": button(), "login": button(), "mypage": button() })
}
