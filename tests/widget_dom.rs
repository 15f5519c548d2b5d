#![cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

// The widget in a real browser (headless Chromium): attribute parsing, the one-button rule,
// visibility, and the runtime against a fake widget API (`window.fetch`) and a fake checkout.js
// (`window.amazon.Pay.renderButton`).
//
// Every test builds its own `<section>` in `document.body` and its own fakes; the fixtures undo
// everything on drop. Tests run one at a time in one page, so the global fakes never overlap.

use std::rc::Rc;

use amazonpay2::contract::{BlockKind, BlockSpec, ButtonColor, Device, Notice, Placement};
use amazonpay2::widget::blocks::{ParsedBlock, parse};
use amazonpay2::widget::rule::{Candidate, is_visible, winner};
use amazonpay2::widget::texts::{Lang, Texts};
use amazonpay2::widget::{Runtime, Settings};
use js_sys::{Array, Function, Promise, Reflect};
use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Document, Element, HtmlElement, Window};

// ---------------------------------------------------------------------------------------------
// Browser plumbing
// ---------------------------------------------------------------------------------------------

fn window() -> Window {
    web_sys::window().expect("a window")
}

fn document() -> Document {
    window().document().expect("a document")
}

/// Runs a piece of JavaScript taking one argument and returns its result.
fn js(source: &str, argument: &JsValue) -> JsValue {
    Function::new_with_args("argument", source)
        .call1(&JsValue::NULL, argument)
        .unwrap_or_else(|e| panic!("test JavaScript threw {e:?}: {source}"))
}

/// `delete window[name]`.
fn delete_global(name: &str) {
    let _ = Reflect::delete_property(window().unchecked_ref::<js_sys::Object>(), &name.into());
}

/// A JavaScript value as JSON (for comparing with `json!`).
fn to_json(value: &JsValue) -> Value {
    let text = js_sys::JSON::stringify(value).expect("JSON-able value");
    serde_json::from_str(&String::from(text)).unwrap_or(Value::Null)
}

fn to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).expect("valid JSON")
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).expect("setTimeout");
    });
    JsFuture::from(promise).await.expect("timer");
}

/// Polls `done` every 10 ms for up to `timeout_ms`; whether it came true.
async fn eventually(timeout_ms: u32, mut done: impl FnMut() -> bool) -> bool {
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
async fn wait_until(what: &str, timeout_ms: u32, done: impl FnMut() -> bool) {
    assert!(eventually(timeout_ms, done).await, "timed out after {timeout_ms} ms waiting until {what}");
}

/// Long enough for the 30 ms debounce, the fake fetch and Yew's scheduler: used before asserting
/// that something did *not* happen.
async fn settle() {
    sleep(250).await;
}

const WAIT_MS: u32 = 3_000;

fn settings(debug: bool) -> Settings {
    Settings { endpoint: "/api/amazonpay2".to_owned(), lang: Lang::Ja, debug, notice: None }
}

// ---------------------------------------------------------------------------------------------
// Fake widget API: replaces window.fetch
// ---------------------------------------------------------------------------------------------

/// Answers `POST …/buttons` with one view per requested block, chosen by `views["kind:Placement"]`
/// or `views[kind]` (default `nothing`); a `{"view":"button"}` gets renderButton options built
/// from the request. `mode` makes it fail instead: `reject`, `status500`, `malformed`,
/// `wrongCount`, or `hang` (until the request is aborted). `DELETE …/link` answers a session.
const FAKE_FETCH: &str = r#"
const config = Object.assign(
  { views: {}, mode: "ok", delayMs: 0, member: { state: "guest" },
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
async function fetch(input, init) {
  const request = new Request(input, init);
  const call = { url: request.url, method: request.method,
                 headers: Object.fromEntries(request.headers), body: null };
  calls.push(call);
  const text = await request.text();
  try { call.body = JSON.parse(text); } catch (e) { call.body = text; }
  if (config.delayMs) await new Promise((resolve) => setTimeout(resolve, config.delayMs));
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
  return json(200, { member: config.member, csrfToken: "t", checkoutJs: config.checkoutJs, blocks });
}
return { fetch, calls, config };
"#;

struct FakeServer {
    fake: JsValue,
    original_fetch: JsValue,
}

impl FakeServer {
    /// `config`: `{views, mode, delayMs, member, checkoutJs}` (see [`FAKE_FETCH`]).
    fn install(config: Value) -> Self {
        let fake = js(FAKE_FETCH, &config.to_string().into());
        let original_fetch = Reflect::get(&window(), &"fetch".into()).unwrap();
        Reflect::set(&window(), &"fetch".into(), &Reflect::get(&fake, &"fetch".into()).unwrap()).unwrap();
        Self { fake, original_fetch }
    }

    fn answering(views: Value) -> Self {
        Self::install(json!({ "views": views }))
    }

    fn failing(mode: &str) -> Self {
        Self::install(json!({ "mode": mode }))
    }

    /// Every request so far: `{url, method, headers, body}`.
    fn calls(&self) -> Vec<Value> {
        match to_json(&Reflect::get(&self.fake, &"calls".into()).unwrap()) {
            Value::Array(calls) => calls,
            other => panic!("calls is not an array: {other}"),
        }
    }

    fn count(&self) -> usize {
        self.calls().len()
    }

    /// The block descriptions of request `n`.
    fn requested(&self, n: usize) -> Value {
        self.calls()[n]["body"]["blocks"].clone()
    }

    fn set_view(&self, kind: &str, view: Value) {
        let views = Reflect::get(&Reflect::get(&self.fake, &"config".into()).unwrap(), &"views".into()).unwrap();
        Reflect::set(&views, &kind.into(), &to_js(&view)).unwrap();
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = Reflect::set(&window(), &"fetch".into(), &self.original_fetch);
    }
}

fn button() -> Value {
    json!({ "view": "button" })
}

fn nothing() -> Value {
    json!({ "view": "nothing" })
}

fn linked() -> Value {
    json!({ "view": "linked" })
}

fn unavailable(reason: &str) -> Value {
    json!({ "view": "unavailable", "reason": reason })
}

/// A block description as sent on the wire.
fn spec(kind: &str, placement: &str, color: &str) -> Value {
    json!({ "kind": kind, "placement": placement, "buttonColor": color })
}

// ---------------------------------------------------------------------------------------------
// Fake checkout.js: window.amazon.Pay.renderButton
// ---------------------------------------------------------------------------------------------

/// Records every call with the block its container lies in, and draws into a closed shadow root
/// as checkout.js does (so drawing twice into one container throws, as it does for real).
const FAKE_AMAZON: &str = r#"
const calls = [];
const renderButton = function (selector, options) {
  const container = document.querySelector(selector);
  const block = container && container.closest("[data-amazonpay]");
  calls.push({ selector, options, found: !!container,
               block: block ? block.id : null, connected: !!(container && container.isConnected) });
  if (argument) throw argument;
  if (!container) throw "AmazonPay:\nInvalid button container: " + selector;
  container.attachShadow({ mode: "closed" }).innerHTML = '<div role="button">Amazon Pay</div>';
};
const bound = [];
const bindChangeAction = function (selector, options) {
  const element = document.querySelector(selector);
  if (!element) throw "AmazonPay:\nCan not find element " + selector + " for amazon.Pay.bindChangeAction.";
  bound.push({ selector, options, text: element.textContent });
};
return { amazon: { Pay: { renderButton, bindChangeAction } }, calls, bound };
"#;

const PENDING_AMAZON_KEY: &str = "__amazonpay2PendingFakeAmazon";

struct FakeAmazon {
    fake: JsValue,
    /// A blob: URL of a checkout.js defining the fake, when it is to be loaded by the widget.
    script_url: Option<String>,
}

impl FakeAmazon {
    /// `window.amazon` is defined before the widget starts: checkout.js is not loaded.
    fn install() -> Self {
        Self::install_with(JsValue::UNDEFINED)
    }

    /// renderButton throws `thrown` (checkout.js throws strings).
    fn throwing(thrown: &str) -> Self {
        Self::install_with(thrown.into())
    }

    fn install_with(thrown: JsValue) -> Self {
        let fake = js(FAKE_AMAZON, &thrown);
        Reflect::set(&window(), &"amazon".into(), &Reflect::get(&fake, &"amazon".into()).unwrap()).unwrap();
        Self { fake, script_url: None }
    }

    /// No `window.amazon`; the fake is defined by the script at [`Self::script_url`].
    fn as_script() -> Self {
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
    fn absent() -> Self {
        Self::remove();
        Self { fake: js("return { calls: [] };", &JsValue::UNDEFINED), script_url: None }
    }

    fn remove() {
        delete_global("amazon");
    }

    /// Every renderButton call: `{selector, options, found, block, connected}`.
    fn calls(&self) -> Vec<Value> {
        match to_json(&Reflect::get(&self.fake, &"calls".into()).unwrap()) {
            Value::Array(calls) => calls,
            other => panic!("calls is not an array: {other}"),
        }
    }

    fn count(&self) -> usize {
        self.calls().len()
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
fn scripts_loading(src: &str) -> usize {
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
struct Recorder {
    recorder: JsValue,
}

impl Recorder {
    fn console_warn() -> Self {
        Self::new(
            r#"const calls = []; const previous = console.warn;
               console.warn = function (...args) { calls.push(args.map(String).join(" ")); return previous.apply(this, args); };
               return { calls, restore() { console.warn = previous; } };"#,
        )
    }

    /// Errors thrown to the page (`error`) and unhandled promise rejections: a panic in the
    /// widget shows up here.
    fn uncaught_errors() -> Self {
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

    fn new(source: &str) -> Self {
        Self { recorder: js(source, &JsValue::UNDEFINED) }
    }

    fn calls(&self) -> Vec<String> {
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
struct Page {
    section: Element,
    runtime: Option<Rc<Runtime>>,
    errors: Recorder,
}

impl Page {
    fn new(html: &str) -> Self {
        let section = document().create_element("section").unwrap();
        section.set_inner_html(html);
        document().body().unwrap().append_child(&section).unwrap();
        Self { section, runtime: None, errors: Recorder::uncaught_errors() }
    }

    fn start(html: &str, settings: Settings) -> Self {
        let mut page = Self::new(html);
        page.runtime = Some(Runtime::start(page.section.clone(), settings));
        page
    }

    fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().expect("started")
    }

    fn block(&self, id: &str) -> Element {
        self.section.query_selector(&format!("#{id}")).unwrap().unwrap_or_else(|| panic!("no #{id} on the page"))
    }

    /// Elements matching `selector` in the section.
    fn count(&self, selector: &str) -> u32 {
        self.section.query_selector_all(selector).unwrap().length()
    }

    /// Elements matching `selector` inside block `id`.
    fn count_in(&self, id: &str, selector: &str) -> u32 {
        self.block(id).query_selector_all(selector).unwrap().length()
    }

    fn text(&self, id: &str) -> String {
        self.block(id).text_content().unwrap_or_default().trim().to_owned()
    }

    fn texts_of(&self, id: &str, selector: &str) -> Vec<String> {
        let list = self.block(id).query_selector_all(selector).unwrap();
        (0..list.length()).filter_map(|i| list.item(i)).map(|n| n.text_content().unwrap_or_default()).collect()
    }

    /// The id of the block holding the button, per `Runtime::winner`.
    fn winner(&self) -> Option<String> {
        let number = self.runtime().winner()?;
        let element = self.section.query_selector(&format!("[data-amazonpay2-block=\"{number}\"]")).unwrap();
        Some(element.expect("the winner's element is on the page").id())
    }

    fn append(&self, html: &str) {
        self.section.insert_adjacent_html("beforeend", html).unwrap();
    }

    fn assert_no_uncaught_errors(&self) {
        assert_eq!(self.errors.calls(), Vec::<String>::new(), "uncaught errors on the page");
    }

    /// Exactly one Amazon button container on the page, in block `id`.
    fn assert_button_only_in(&self, id: &str) {
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
async fn wait_for_button(page: &Page, amazon: &FakeAmazon, n: usize, id: &str) {
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

/// Waits for the widget's short message; returns the page's `.amazonpay2-message` texts.
async fn wait_for_message(page: &Page, timeout_ms: u32) -> Vec<String> {
    wait_until("a .amazonpay2-message is shown", timeout_ms, || page.count(".amazonpay2-message") > 0).await;
    settle().await;
    let list = page.section.query_selector_all(".amazonpay2-message").unwrap();
    (0..list.length()).filter_map(|i| list.item(i)).map(|n| n.text_content().unwrap_or_default()).collect()
}

const SHOP_CONTENT: &str = r#"<p id="shop-content">カートの中身: 2 点 <a href="/cart">カートを見る</a></p>"#;

/// The three competing kinds, checkout last in document order, with the shop's own content.
fn three_blocks() -> String {
    format!(
        r#"<div id="login" data-amazonpay="login"></div>
           <div id="mypage" data-amazonpay="mypage"></div>
           {SHOP_CONTENT}
           <div id="checkout" data-amazonpay="checkout"></div>"#
    )
}

fn all_buttons() -> Value {
    json!({ "checkout": button(), "login": button(), "mypage": button() })
}

// ---------------------------------------------------------------------------------------------
// Attribute parsing
// ---------------------------------------------------------------------------------------------

fn element_with(attributes: &[(&str, &str)]) -> Element {
    let element = document().create_element("div").unwrap();
    for (name, value) in attributes {
        element.set_attribute(name, value).unwrap();
    }
    element
}

fn parsed(attributes: &[(&str, &str)]) -> ParsedBlock {
    parse(&element_with(attributes))
}

fn problem_attributes(parsed: &ParsedBlock) -> Vec<&'static str> {
    parsed.problems.iter().map(|p| p.attribute).collect()
}

#[wasm_bindgen_test]
fn parse_defaults_per_kind() {
    let expectations = [
        ("checkout", BlockKind::Checkout, Placement::Checkout),
        ("login", BlockKind::Login, Placement::Other),
        ("mypage", BlockKind::Mypage, Placement::Other),
    ];
    for (value, kind, placement) in expectations {
        let block = parsed(&[("data-amazonpay", value)]);
        assert_eq!(
            block,
            ParsedBlock {
                spec: Some(BlockSpec { kind, placement, button_color: ButtonColor::Gold }),
                device: Device::Auto,
                problems: vec![],
            },
            "data-amazonpay=\"{value}\""
        );
    }
}

#[wasm_bindgen_test]
fn parse_accepts_every_valid_value() {
    let placements = [
        ("Home", Placement::Home),
        ("Product", Placement::Product),
        ("Cart", Placement::Cart),
        ("Checkout", Placement::Checkout),
        ("Other", Placement::Other),
    ];
    let colors =
        [("Gold", ButtonColor::Gold), ("LightGray", ButtonColor::LightGray), ("DarkGray", ButtonColor::DarkGray)];
    let devices = [("auto", Device::Auto), ("pc", Device::Pc), ("sp", Device::Sp)];
    for (kind_value, kind) in
        [("checkout", BlockKind::Checkout), ("login", BlockKind::Login), ("mypage", BlockKind::Mypage)]
    {
        for (placement_value, placement) in placements {
            for (color_value, button_color) in colors {
                for (device_value, device) in devices {
                    let block = parsed(&[
                        ("data-amazonpay", kind_value),
                        ("data-placement", placement_value),
                        ("data-button-color", color_value),
                        ("data-device", device_value),
                    ]);
                    assert_eq!(
                        block,
                        ParsedBlock {
                            spec: Some(BlockSpec { kind, placement, button_color }),
                            device,
                            problems: vec![]
                        },
                        "{kind_value} {placement_value} {color_value} {device_value}"
                    );
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn parse_trims_whitespace_around_values() {
    let block = parsed(&[
        ("data-amazonpay", "  login\n"),
        ("data-placement", "\tCart "),
        ("data-button-color", " DarkGray "),
        ("data-device", " sp "),
    ]);
    assert_eq!(
        block,
        ParsedBlock {
            spec: Some(BlockSpec {
                kind: BlockKind::Login,
                placement: Placement::Cart,
                button_color: ButtonColor::DarkGray
            }),
            device: Device::Sp,
            problems: vec![],
        }
    );
}

#[wasm_bindgen_test]
fn parse_replaces_bad_values_by_defaults_with_one_diagnostic_each() {
    let block = parsed(&[
        ("data-amazonpay", "checkout"),
        ("data-placement", "cart"),
        ("data-button-color", "gold"),
        ("data-device", "tablet"),
    ]);
    assert_eq!(
        block.spec,
        Some(BlockSpec { kind: BlockKind::Checkout, placement: Placement::Checkout, button_color: ButtonColor::Gold })
    );
    assert_eq!(block.device, Device::Auto);
    let mut attributes = problem_attributes(&block);
    attributes.sort_unstable();
    assert_eq!(attributes, ["data-button-color", "data-device", "data-placement"]);
    let messages: Vec<String> = block.problems.iter().map(ToString::to_string).collect();
    assert!(
        messages.contains(&"data-placement=\"cart\" is not one of: Home, Product, Cart, Checkout, Other".to_owned()),
        "{messages:?}"
    );
    assert!(messages.contains(&"data-button-color=\"gold\" is not one of: Gold, LightGray, DarkGray".to_owned()));
    assert!(messages.contains(&"data-device=\"tablet\" is not one of: auto, pc, sp".to_owned()));

    // An empty value is a bad value too, and a login block falls back to its own placement.
    let block = parsed(&[("data-amazonpay", "login"), ("data-placement", "")]);
    assert_eq!(block.spec.map(|s| s.placement), Some(Placement::Other));
    assert_eq!(problem_attributes(&block), ["data-placement"]);
}

#[wasm_bindgen_test]
fn parse_unknown_or_miscased_kind_gives_no_spec_and_a_diagnostic() {
    for value in ["cart", "Checkout", "LOGIN", "", "   ", "check out"] {
        let block = parsed(&[("data-amazonpay", value)]);
        assert_eq!(block.spec, None, "data-amazonpay=\"{value}\"");
        assert_eq!(problem_attributes(&block), ["data-amazonpay"], "data-amazonpay=\"{value}\"");
        assert_eq!(
            block.problems[0].to_string(),
            format!("data-amazonpay=\"{value}\" is not one of: checkout, login, mypage, notice, review")
        );
    }
    // Bad device on an unknown block is still reported; the layout falls back.
    let block = parsed(&[("data-amazonpay", "cart"), ("data-device", "watch")]);
    assert_eq!(block.device, Device::Auto);
    assert!(problem_attributes(&block).contains(&"data-device"));
}

#[wasm_bindgen_test]
fn parse_shortens_hostile_long_values_in_diagnostics() {
    let hostile = "<img src=x onerror=alert(1)>\u{202e}日本語".repeat(2_000);
    let block = parsed(&[
        ("data-amazonpay", "checkout"),
        ("data-placement", &hostile),
        ("data-button-color", &hostile),
        ("data-device", &hostile),
    ]);
    assert_eq!(
        block.spec,
        Some(BlockSpec { kind: BlockKind::Checkout, placement: Placement::Checkout, button_color: ButtonColor::Gold })
    );
    assert_eq!(block.problems.len(), 3);
    for problem in &block.problems {
        assert!(problem.value.chars().count() <= 41, "{} chars quoted", problem.value.chars().count());
        assert!(problem.value.ends_with('…'));
        assert!(problem.to_string().chars().count() < 200);
    }
    let block = parsed(&[("data-amazonpay", &hostile)]);
    assert_eq!(block.spec, None);
    assert!(block.problems[0].to_string().chars().count() < 200);
}

// ---------------------------------------------------------------------------------------------
// The rule (pure)
// ---------------------------------------------------------------------------------------------

fn candidate(id: u32, kind: BlockKind, visible: bool) -> Candidate {
    Candidate { id, kind, visible }
}

#[wasm_bindgen_test]
fn rule_prefers_checkout_then_mypage_then_login_whatever_the_order() {
    use BlockKind::{Checkout, Login, Mypage};
    assert_eq!(winner(&[candidate(1, Login, true), candidate(2, Mypage, true), candidate(3, Checkout, true)]), Some(3));
    assert_eq!(winner(&[candidate(1, Checkout, true), candidate(2, Mypage, true), candidate(3, Login, true)]), Some(1));
    assert_eq!(winner(&[candidate(1, Login, true), candidate(2, Mypage, true)]), Some(2));
    assert_eq!(winner(&[candidate(7, Mypage, true), candidate(3, Login, true)]), Some(7));
}

#[wasm_bindgen_test]
fn rule_breaks_ties_by_document_order_not_by_number() {
    use BlockKind::{Checkout, Login};
    // Numbers grow with claim order; a block inserted earlier in the document may have a higher one.
    assert_eq!(winner(&[candidate(9, Checkout, true), candidate(2, Checkout, true)]), Some(9));
    assert_eq!(winner(&[candidate(5, Login, true), candidate(1, Login, true), candidate(3, Login, true)]), Some(5));
}

#[wasm_bindgen_test]
fn rule_never_lets_a_hidden_block_win() {
    use BlockKind::{Checkout, Login, Mypage};
    assert_eq!(winner(&[candidate(1, Checkout, false), candidate(2, Login, true)]), Some(2));
    assert_eq!(winner(&[candidate(1, Checkout, false), candidate(2, Checkout, true)]), Some(2));
    assert_eq!(winner(&[candidate(1, Checkout, false), candidate(2, Mypage, false)]), None);
    assert_eq!(winner(&[]), None);
}

// ---------------------------------------------------------------------------------------------
// Visibility
// ---------------------------------------------------------------------------------------------

/// Lays out `html` (which holds one `#target`) and asks `is_visible` about it.
fn visible(html: &str) -> bool {
    let page = Page::new(html);
    is_visible(&page.block("target"))
}

#[wasm_bindgen_test]
fn is_visible_counts_an_empty_zero_height_block() {
    let page = Page::new(r#"<div id="target" data-amazonpay="checkout"></div>"#);
    let target = page.block("target");
    assert_eq!(target.get_bounding_client_rect().height(), 0.0, "the block is empty");
    assert!(is_visible(&target));
    // Inside a wrapper that is zero-high only because the block is empty.
    assert!(visible(r#"<div><div><div id="target" data-amazonpay="checkout"></div></div></div>"#));
}

#[wasm_bindgen_test]
fn is_visible_rejects_display_none_on_the_block_or_an_ancestor() {
    assert!(!visible(r#"<div id="target" style="display:none"></div>"#));
    assert!(!visible(r#"<div style="display:none"><div><div id="target"></div></div></div>"#));
    assert!(!visible(r#"<div hidden><div id="target"></div></div>"#));
}

#[wasm_bindgen_test]
fn is_visible_rejects_visibility_hidden_on_the_block_or_an_ancestor() {
    assert!(!visible(r#"<div id="target" style="visibility:hidden"></div>"#));
    assert!(!visible(r#"<div style="visibility:hidden"><div id="target"></div></div>"#));
    // A visible child of a hidden parent is visible again (CSS inherits, then overrides).
    assert!(visible(r#"<div style="visibility:hidden"><div id="target" style="visibility:visible"></div></div>"#));
}

#[wasm_bindgen_test]
fn is_visible_rejects_a_block_clipped_by_a_zero_size_ancestor() {
    assert!(!visible(r#"<div style="height:0;overflow:hidden"><div id="target">content</div></div>"#));
    assert!(!visible(r#"<div style="width:0;height:0;overflow:hidden"><div id="target"></div></div>"#));
    assert!(!visible(r#"<div style="max-height:0;overflow:hidden"><p>x</p><div id="target"></div></div>"#));
    // Zero height without clipping hides nothing.
    assert!(visible(r#"<div style="height:0"><div id="target">content</div></div>"#));
}

#[wasm_bindgen_test]
fn is_visible_rejects_a_zero_width_block() {
    assert!(!visible(r#"<div id="target" style="width:0"></div>"#));
    assert!(!visible(r#"<div style="width:0"><div id="target"></div></div>"#));
}

#[wasm_bindgen_test]
fn is_visible_rejects_a_detached_block() {
    let element = element_with(&[("data-amazonpay", "checkout")]);
    assert!(!is_visible(&element));
}

#[wasm_bindgen_test]
fn is_visible_rejects_a_block_in_a_closed_details() {
    assert!(!visible(
        r#"<details><summary>Amazon Pay</summary><div id="target" data-amazonpay="checkout"></div></details>"#
    ));
    assert!(visible(
        r#"<details open><summary>Amazon Pay</summary><div id="target" data-amazonpay="checkout"></div></details>"#
    ));
    assert!(!visible(r#"<div style="content-visibility:hidden"><div id="target">x</div></div>"#));
}

// ---------------------------------------------------------------------------------------------
// Runtime: requests
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn one_request_carries_every_distinct_block_description() {
    let server = FakeServer::answering(all_buttons());
    let _amazon = FakeAmazon::install();
    let _page = Page::start(
        r#"<div id="a" data-amazonpay="checkout"></div>
           <div id="b" data-amazonpay="checkout"></div>
           <div id="c" data-amazonpay="login"></div>
           <div id="d" data-amazonpay="login" data-button-color="DarkGray"></div>
           <div id="e" data-amazonpay="mypage" data-device="sp"></div>
           <div id="f" data-amazonpay="checkout" data-placement=" Checkout " data-device="pc"></div>
           <div id="g" data-amazonpay="nonsense"></div>"#,
        settings(false),
    );
    wait_until("the request is sent", WAIT_MS, || server.count() == 1).await;
    settle().await;
    assert_eq!(server.count(), 1, "requests: {:?}", server.calls());
    let call = &server.calls()[0];
    assert_eq!(call["method"], "POST");
    assert!(call["url"].as_str().unwrap().ends_with("/api/amazonpay2/buttons"), "{}", call["url"]);
    assert!(call["headers"]["content-type"].as_str().unwrap_or_default().starts_with("application/json"));
    assert_eq!(
        call["body"],
        json!({ "blocks": [
            spec("checkout", "Checkout", "Gold"),
            spec("login", "Other", "Gold"),
            spec("login", "Other", "DarkGray"),
            spec("mypage", "Other", "Gold"),
        ] }),
        "device is not sent, duplicates and unknown kinds are not asked for"
    );
}

#[wasm_bindgen_test]
async fn a_page_without_known_blocks_asks_nothing() {
    let server = FakeServer::answering(all_buttons());
    let _amazon = FakeAmazon::install();
    let page =
        Page::start(&format!(r#"{SHOP_CONTENT}<div id="typo" data-amazonpay="chekout"></div>"#), settings(false));
    settle().await;
    assert_eq!(server.count(), 0);
    assert!(page.block("typo").has_attribute("data-amazonpay2-block"), "claimed, to show its diagnostic");
    assert_eq!(page.text("typo"), "", "diagnostics only with debug");
}

#[wasm_bindgen_test]
async fn data_device_chooses_the_layout() {
    let _server = FakeServer::answering(json!({ "checkout": button(), "login": nothing() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div id="pc" data-amazonpay="checkout" data-device="pc"></div>
           <div id="sp" data-amazonpay="login" data-device="sp"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "pc").await;
    assert_eq!(page.count_in("pc", ".amazonpay2.amazonpay2--pc"), 1);
    assert_eq!(page.count_in("sp", ".amazonpay2.amazonpay2--sp"), 1);
}

// ---------------------------------------------------------------------------------------------
// Runtime: one Amazon button per page
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn checkout_wins_and_losers_render_nothing() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;

    assert_eq!(amazon.count(), 1, "renderButton calls: {:?}", amazon.calls());
    page.assert_button_only_in("checkout");
    let options = &amazon.calls()[0]["options"];
    assert_eq!(options["productType"], "PayAndShip");
    assert_eq!(options["placement"], "Checkout");
    assert_eq!(options["merchantId"], "TESTMERCHANT", "the server's options reach renderButton as sent");
    for loser in ["login", "mypage"] {
        assert_eq!(page.text(loser), "", "#{loser} shows something");
        assert_eq!(page.count_in(loser, ".amazonpay2-debug, .amazonpay2-message, button"), 0);
    }
}

#[wasm_bindgen_test]
async fn mypage_wins_over_login_without_checkout() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div id="login" data-amazonpay="login"></div><div id="mypage" data-amazonpay="mypage"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "mypage").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    assert_eq!(amazon.calls()[0]["options"]["productType"], "SignIn");
    page.assert_button_only_in("mypage");
}

#[wasm_bindgen_test]
async fn blocks_without_a_button_for_this_shopper_do_not_compete() {
    // A logged-in member: login renders nothing; an empty cart: checkout explains itself.
    let _server = FakeServer::answering(json!({
        "checkout": unavailable("cartEmpty"), "login": nothing(), "mypage": button(),
    }));
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(true));
    wait_for_button(&page, &amazon, 1, "mypage").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("mypage");
    assert_eq!(page.text("login"), "");
    assert_eq!(page.texts_of("checkout", ".amazonpay2-message"), [Lang::Ja.texts().cart_empty]);
}

#[wasm_bindgen_test]
async fn with_debug_losers_name_the_winner_and_warn_once() {
    let warnings = Recorder::console_warn();
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(true));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;

    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("checkout");
    assert_eq!(page.count_in("checkout", ".amazonpay2-debug"), 0, "the winner has no note");
    for loser in ["login", "mypage"] {
        let notes = page.texts_of(loser, ".amazonpay2-debug");
        assert_eq!(notes.len(), 1, "#{loser}: {notes:?}");
        assert!(notes[0].contains("#checkout"), "#{loser}'s note does not name the winner: {}", notes[0]);
        assert_eq!(page.count_in(loser, ".amazonpay2-button, .amazonpay2-message"), 0);
        let warned: Vec<String> = warnings
            .calls()
            .into_iter()
            .filter(|w| w.contains(&format!("#{loser}")) && w.contains("#checkout"))
            .collect();
        assert_eq!(warned.len(), 1, "console.warn about #{loser}: {warned:?}");
    }
}

#[wasm_bindgen_test]
async fn a_hidden_responsive_duplicate_loses_and_the_button_follows_the_css() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    // The SP copy comes first in the document, so only visibility can make the PC copy win.
    let page = Page::start(
        r#"<style>.pc-view .sp-only, .sp-view .pc-only { display: none }</style>
           <div class="sp-only"><div id="sp" data-amazonpay="checkout" data-device="sp"></div></div>
           <div class="pc-only"><div id="pc" data-amazonpay="checkout" data-device="pc"></div></div>"#,
        settings(false),
    );
    page.section.set_class_name("pc-view");
    wait_for_button(&page, &amazon, 1, "pc").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("pc");

    page.section.set_class_name("sp-view");
    wait_for_button(&page, &amazon, 2, "sp").await;
    settle().await;
    assert_eq!(amazon.count(), 2, "renderButton calls: {:?}", amazon.calls());
    page.assert_button_only_in("sp");
    assert_eq!(page.count_in("pc", ".amazonpay2-button"), 0, "the old container is gone");

    page.section.set_class_name("pc-view");
    wait_for_button(&page, &amazon, 3, "pc").await;
    settle().await;
    assert_eq!(amazon.count(), 3);
    page.assert_button_only_in("pc");
    let selectors: Vec<Value> = amazon.calls().iter().map(|c| c["selector"].clone()).collect();
    assert_ne!(selectors[0], selectors[2], "checkout.js needs a fresh container each time");
}

#[wasm_bindgen_test]
async fn the_button_follows_a_media_query_on_resize() {
    // The shop's style sheet lies outside the widget's part of the page; the viewport changes.
    let style = document().create_element("style").unwrap();
    document().head().unwrap().append_child(&style).unwrap();
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div class="mq-sp"><div id="sp" data-amazonpay="login"></div></div>
           <div class="mq-pc"><div id="pc" data-amazonpay="login"></div></div>"#,
        settings(false),
    );
    style.set_text_content(Some(".mq-sp { display: none }"));
    window().dispatch_event(&web_sys::Event::new("resize").unwrap()).unwrap();
    wait_for_button(&page, &amazon, 1, "pc").await;
    // Nothing else pending: only the resize can tell the widget.
    settle().await;

    style.set_text_content(Some(".mq-pc { display: none }"));
    window().dispatch_event(&web_sys::Event::new("resize").unwrap()).unwrap();
    wait_for_button(&page, &amazon, 2, "sp").await;
    settle().await;
    page.assert_button_only_in("sp");
    style.remove();
}

/// Clearfix wrappers (`overflow: hidden|auto`, auto height) around a still-empty `#target` block:
/// zero-high only because the block is empty, they grow with the button.
const CLEARFIX_LAYOUTS: [&str; 2] = [
    r#"<div style="overflow:hidden"><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<div style="overflow:auto"><div id="target" data-amazonpay="checkout"></div></div>"#,
];

/// Shrink-to-fit boxes around a still-empty `#target` block: zero-wide only because it is empty.
const SHRINK_TO_FIT_LAYOUTS: [&str; 5] = [
    r#"<div style="display:flex;gap:8px"><a href="/cart">カートに戻る</a><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<div style="float:right"><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<div style="display:inline-block"><div id="target" data-amazonpay="checkout"></div></div>"#,
    r#"<table><tr><td>合計 3,000 円</td><td><div id="target" data-amazonpay="checkout"></div></td></tr></table>"#,
    r#"<p>または <span id="target" data-amazonpay="checkout"></span></p>"#,
];

#[wasm_bindgen_test]
async fn a_lone_block_gets_the_button_in_everyday_layouts() {
    // Whether the fix lies in `is_visible` or in giving the widget's own mount a minimal size,
    // each of these pages must show its button.
    let _server = FakeServer::answering(all_buttons());
    let mut without_button = Vec::new();
    for layout in CLEARFIX_LAYOUTS.iter().chain(&SHRINK_TO_FIT_LAYOUTS) {
        let amazon = FakeAmazon::install();
        let page = Page::start(layout, settings(false));
        if !eventually(WAIT_MS, || page.count_in("target", ".amazonpay2-button") == 1).await {
            without_button.push(*layout);
        }
        assert!(amazon.count() <= 1);
    }
    assert_eq!(without_button, Vec::<&str>::new(), "pages that never show their button");
}

#[wasm_bindgen_test]
async fn a_block_in_a_closed_details_does_not_take_the_button_until_opened() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<details id="drawer"><summary>カート</summary><div id="hidden" data-amazonpay="checkout"></div></details>
           <div id="shown" data-amazonpay="checkout"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "shown").await;
    page.assert_button_only_in("shown");

    page.block("drawer").set_attribute("open", "").unwrap();
    wait_for_button(&page, &amazon, 2, "hidden").await;
    page.assert_button_only_in("hidden");
}

#[wasm_bindgen_test]
async fn a_block_added_later_is_claimed_and_the_rule_still_holds() {
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="login" data-amazonpay="login"></div>"#, settings(false));
    wait_for_button(&page, &amazon, 1, "login").await;
    assert_eq!(server.count(), 1);

    // A cart drawer opens with a checkout block: one more request, for it alone.
    page.append(r#"<div class="drawer"><div id="checkout" data-amazonpay="checkout"></div></div>"#);
    wait_for_button(&page, &amazon, 2, "checkout").await;
    settle().await;
    assert_eq!(server.count(), 2, "requests: {:?}", server.calls());
    assert_eq!(server.requested(1), json!([spec("checkout", "Checkout", "Gold")]));
    assert_eq!(amazon.count(), 2);
    page.assert_button_only_in("checkout");
    assert!(page.block("checkout").has_attribute("data-amazonpay2-block"), "the late block is claimed");

    // Another login block, already answered: no request, and it loses.
    page.append(r#"<div id="login2" data-amazonpay="login"></div>"#);
    wait_until("#login2 is claimed", WAIT_MS, || page.block("login2").has_attribute("data-amazonpay2-block")).await;
    settle().await;
    assert_eq!(server.count(), 2, "requests: {:?}", server.calls());
    assert_eq!(amazon.count(), 2);
    page.assert_button_only_in("checkout");
    assert_eq!(page.text("login2"), "");
}

#[wasm_bindgen_test]
async fn a_block_added_while_its_description_is_being_asked_for_is_not_asked_twice() {
    let server = FakeServer::install(json!({ "views": all_buttons(), "delayMs": 300 }));
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="first" data-amazonpay="login"></div>"#, settings(false));
    wait_until("the request is sent", WAIT_MS, || server.count() == 1).await;
    page.append(r#"<div id="second" data-amazonpay="login"></div>"#);
    wait_for_button(&page, &amazon, 1, "first").await;
    settle().await;
    assert_eq!(server.count(), 1, "requests: {:?}", server.calls());
    assert_eq!(amazon.count(), 1);
    page.assert_button_only_in("first");
}

#[wasm_bindgen_test]
async fn removing_the_winner_hands_the_button_to_the_next_block() {
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;

    page.block("checkout").remove();
    wait_for_button(&page, &amazon, 2, "mypage").await;
    settle().await;
    assert_eq!(amazon.count(), 2);
    page.assert_button_only_in("mypage");
    assert_eq!(server.count(), 1, "no new request is needed");

    page.block("mypage").remove();
    wait_for_button(&page, &amazon, 3, "login").await;
    settle().await;
    page.assert_button_only_in("login");
}

#[wasm_bindgen_test]
async fn stop_unmounts_the_blocks_and_stops_watching() {
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let mut page = Page::start(r#"<div id="checkout" data-amazonpay="checkout"></div>"#, settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    page.runtime.take().unwrap().stop();
    settle().await;
    assert_eq!(page.count(".amazonpay2"), 0, "the blocks are unmounted");
    page.append(r#"<div id="late" data-amazonpay="login"></div>"#);
    settle().await;
    assert_eq!(server.count(), 1);
    assert!(!page.block("late").has_attribute("data-amazonpay2-block"));
}

// ---------------------------------------------------------------------------------------------
// Runtime: views other than a button
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn nothing_renders_nothing_and_loads_no_checkout_js() {
    const NEVER: &str = "http://127.0.0.1:9/nothing-checkout.js";
    let server = FakeServer::install(json!({ "views": { "login": nothing() }, "checkoutJs": NEVER }));
    let _amazon = FakeAmazon::absent();
    let page = Page::start(r#"<div id="login" data-amazonpay="login"></div>"#, settings(true));
    wait_until("the request is answered", WAIT_MS, || server.count() == 1).await;
    settle().await;
    assert_eq!(page.text("login"), "", "with debug too");
    assert_eq!(page.count(".amazonpay2-button"), 0);
    assert_eq!(page.runtime().winner(), None);
    assert_eq!(scripts_loading(NEVER), 0, "checkout.js loaded on a page without a button");
}

#[wasm_bindgen_test]
async fn linked_mypage_shows_the_shops_unlink_button_which_does_not_count() {
    let _server = FakeServer::answering(json!({ "checkout": button(), "mypage": linked() }));
    let amazon = FakeAmazon::install();
    let page = Page::start(
        r#"<div id="mypage" data-amazonpay="mypage"></div><div id="checkout" data-amazonpay="checkout"></div>"#,
        settings(false),
    );
    wait_for_button(&page, &amazon, 1, "checkout").await;
    wait_until("the unlink button is shown", WAIT_MS, || page.count_in("mypage", ".amazonpay2-unlink") == 1).await;
    settle().await;

    assert_eq!(amazon.count(), 1, "the linked block draws no Amazon button");
    page.assert_button_only_in("checkout");
    let unlink = page.block("mypage").query_selector(".amazonpay2-unlink").unwrap().unwrap();
    assert_eq!(unlink.tag_name(), "BUTTON");
    assert_eq!(unlink.get_attribute("type").as_deref(), Some("button"), "not a form submit");
    assert_eq!(unlink.text_content().unwrap().trim(), Lang::Ja.texts().unlink);
    assert!(page.text("mypage").contains(Lang::Ja.texts().linked));
}

#[wasm_bindgen_test]
async fn unlinking_asks_first_then_sends_the_csrf_token_and_asks_for_the_views_again() {
    let server = FakeServer::answering(json!({ "mypage": linked() }));
    let amazon = FakeAmazon::install();
    let original_confirm = Reflect::get(&window(), &"confirm".into()).unwrap();
    let answer = js("window.__confirmAnswer = false; return () => window.__confirmAnswer;", &JsValue::UNDEFINED);
    Reflect::set(&window(), &"confirm".into(), &answer).unwrap();
    let page = Page::start(r#"<div id="mypage" data-amazonpay="mypage"></div>"#, settings(false));
    wait_until("the unlink button is shown", WAIT_MS, || page.count_in("mypage", ".amazonpay2-unlink") == 1).await;
    let click = || {
        page.block("mypage")
            .query_selector(".amazonpay2-unlink")
            .unwrap()
            .unwrap()
            .unchecked_into::<HtmlElement>()
            .click()
    };

    click();
    settle().await;
    assert_eq!(server.count(), 1, "declined: nothing sent");

    Reflect::set(&window(), &"__confirmAnswer".into(), &true.into()).unwrap();
    server.set_view("mypage", button());
    click();
    wait_for_button(&page, &amazon, 1, "mypage").await;
    let calls = server.calls();
    assert_eq!(calls.len(), 3, "requests: {calls:?}");
    assert_eq!(calls[1]["method"], "DELETE");
    assert!(calls[1]["url"].as_str().unwrap().ends_with("/api/amazonpay2/link"));
    assert_eq!(calls[1]["headers"]["x-amazonpay2-csrf"], "t");
    assert_eq!(calls[2]["method"], "POST");
    assert_eq!(page.count_in("mypage", ".amazonpay2-unlink"), 0);

    Reflect::set(&window(), &"confirm".into(), &original_confirm).unwrap();
    delete_global("__confirmAnswer");
}

/// Three checkout blocks, one per reason; returns the page once all three messages show.
async fn unavailable_page(lang: Lang) -> (FakeServer, Page) {
    let server = FakeServer::answering(json!({
        "checkout:Cart": unavailable("cartEmpty"),
        "checkout:Checkout": unavailable("shippingMethodNotAllowed"),
        "checkout:Product": unavailable("recurringMonthlyLimit"),
    }));
    let page = Page::start(
        r#"<div id="empty" data-amazonpay="checkout" data-placement="Cart"></div>
           <div id="shipping" data-amazonpay="checkout"></div>
           <div id="recurring" data-amazonpay="checkout" data-placement="Product"></div>"#,
        Settings { lang, ..settings(false) },
    );
    wait_until("three messages", WAIT_MS, || page.count(".amazonpay2-message") == 3).await;
    (server, page)
}

fn assert_reasons(page: &Page, texts: &Texts) {
    assert_eq!(page.texts_of("empty", ".amazonpay2-message"), [texts.cart_empty]);
    assert_eq!(page.texts_of("shipping", ".amazonpay2-message"), [texts.shipping_not_allowed]);
    assert_eq!(page.texts_of("recurring", ".amazonpay2-message"), [texts.recurring_limit]);
    assert_eq!(page.count(".amazonpay2-button"), 0);
}

#[wasm_bindgen_test]
async fn unavailable_checkout_explains_why_in_japanese() {
    let _amazon = FakeAmazon::install();
    let (_server, page) = unavailable_page(Lang::Ja).await;
    assert_reasons(&page, Lang::Ja.texts());
    assert!(page.text("empty").contains("カート"), "{}", page.text("empty"));
    assert!(page.text("shipping").contains("配送方法"), "{}", page.text("shipping"));
    assert!(page.text("recurring").contains("100,000"), "{}", page.text("recurring"));
    assert_eq!(page.count(".amazonpay2[lang=\"ja\"]"), 3);
}

#[wasm_bindgen_test]
async fn unavailable_checkout_explains_why_in_english() {
    let _amazon = FakeAmazon::install();
    let (_server, page) = unavailable_page(Lang::En).await;
    assert_reasons(&page, Lang::En.texts());
    assert!(page.text("empty").contains("cart is empty"), "{}", page.text("empty"));
    assert_eq!(page.count(".amazonpay2[lang=\"en\"]"), 3);
}

// ---------------------------------------------------------------------------------------------
// Runtime: errors
// ---------------------------------------------------------------------------------------------

/// The contract's error shape: a short message in exactly one block (the would-be winner), the
/// reason with debug only, no Amazon button, the shop's content untouched, no uncaught error.
async fn assert_api_failure(mode: &str, debug: bool, reason: &str) {
    let _server = FakeServer::failing(mode);
    let amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(debug));
    let shop_content = page.block("shop-content").outer_html();

    let messages = wait_for_message(&page, WAIT_MS).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now], "{mode}");
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1, "{mode}: the message is in the would-be winner");
    assert!(messages[0].chars().count() < 80, "{mode}: not short");
    let reasons = page.texts_of("checkout", ".amazonpay2-debug");
    if debug {
        assert!(reasons.iter().any(|r| r.contains(reason)), "{mode}: reason {reason:?} not in {reasons:?}");
    } else {
        assert_eq!(reasons, Vec::<String>::new(), "{mode}: reasons shown without debug");
        assert_eq!(page.text("login"), "");
        assert_eq!(page.text("mypage"), "");
    }
    assert_eq!(amazon.count(), 0);
    assert_eq!(page.count(".amazonpay2-button"), 0);
    assert_eq!(page.block("shop-content").outer_html(), shop_content);
}

#[wasm_bindgen_test]
async fn fetch_rejecting_shows_one_short_message() {
    assert_api_failure("reject", false, "").await;
}

#[wasm_bindgen_test]
async fn fetch_rejecting_shows_the_reason_with_debug() {
    assert_api_failure("reject", true, "widget API unreachable").await;
}

#[wasm_bindgen_test]
async fn an_api_error_answer_shows_one_short_message() {
    assert_api_failure("status500", false, "").await;
    assert_api_failure("status500", true, "500 internal: The server failed.").await;
}

#[wasm_bindgen_test]
async fn malformed_json_shows_one_short_message() {
    assert_api_failure("malformed", false, "").await;
    assert_api_failure("malformed", true, "unexpected widget API answer").await;
}

#[wasm_bindgen_test]
async fn the_wrong_number_of_views_shows_one_short_message() {
    assert_api_failure("wrongCount", false, "").await;
    assert_api_failure("wrongCount", true, "views for 3 blocks").await;
}

#[wasm_bindgen_test]
async fn a_hanging_api_ends_in_a_message_after_the_widgets_timeout() {
    // The widget aborts its request after 10 s.
    let server = FakeServer::failing("hang");
    let _amazon = FakeAmazon::install();
    let page = Page::start(&three_blocks(), settings(true));
    let messages = wait_for_message(&page, 13_000).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1);
    let reasons = page.texts_of("checkout", ".amazonpay2-debug").join("\n");
    assert!(reasons.contains("widget API unreachable"), "{reasons}");
    assert_eq!(server.count(), 1);
}

#[wasm_bindgen_test]
async fn render_button_throwing_shows_a_message_in_the_block() {
    let _server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::throwing("AmazonPay:\nMissing parameter 'merchantId' in the options object.");
    let page = Page::start(&three_blocks(), settings(true));
    let messages = wait_for_message(&page, WAIT_MS).await;
    assert_eq!(amazon.count(), 1);
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1);
    let reasons = page.texts_of("checkout", ".amazonpay2-debug").join("\n");
    assert!(reasons.contains("Missing parameter 'merchantId'"), "{reasons}");
    assert_eq!(page.count(".amazonpay2-button"), 0);
}

#[wasm_bindgen_test]
async fn unreachable_checkout_js_shows_a_message_in_the_block() {
    const UNREACHABLE: &str = "http://127.0.0.1:9/checkout.js";
    let _server = FakeServer::install(json!({ "views": all_buttons(), "checkoutJs": UNREACHABLE }));
    let _amazon = FakeAmazon::absent();
    let page = Page::start(&three_blocks(), settings(true));
    let shop_content = page.block("shop-content").outer_html();
    // The widget gives checkout.js 10 s before its own timeout; a refused connection is quicker.
    let messages = wait_for_message(&page, 12_000).await;
    assert_eq!(messages, [Lang::Ja.texts().unavailable_now]);
    assert_eq!(page.count_in("checkout", ".amazonpay2-message"), 1);
    let reasons = page.texts_of("checkout", ".amazonpay2-debug").join("\n");
    assert!(reasons.contains("checkout.js"), "{reasons}");
    assert_eq!(page.count(".amazonpay2-button"), 0);
    assert_eq!(page.block("shop-content").outer_html(), shop_content);
}

#[wasm_bindgen_test]
async fn checkout_js_is_loaded_once_from_the_answer_when_amazon_is_absent() {
    let amazon = FakeAmazon::as_script();
    let src = amazon.script_url.clone().unwrap();
    let _server = FakeServer::install(json!({ "views": all_buttons(), "checkoutJs": src }));
    let page = Page::start(&three_blocks(), settings(false));
    wait_for_button(&page, &amazon, 1, "checkout").await;
    assert_eq!(scripts_loading(&src), 1);

    page.block("checkout").remove();
    wait_for_button(&page, &amazon, 2, "mypage").await;
    settle().await;
    assert_eq!(scripts_loading(&src), 1, "checkout.js loaded again");
    page.assert_button_only_in("mypage");
}

// ---------------------------------------------------------------------------------------------
// Settings and bad input
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_bad_lang_setting_falls_back_to_japanese_and_changes_nothing_else() {
    let from_loader = to_js(&json!({ "endpoint": "/api/amazonpay2/", "lang": "<b>xx</b>", "debug": false }));
    let settings = Settings::from_js(&from_loader);
    assert_eq!(
        settings,
        Settings { endpoint: "/api/amazonpay2".to_owned(), lang: Lang::Ja, debug: false, notice: None }
    );
    assert_eq!(Settings::from_js(&to_js(&json!({ "lang": " en " }))).lang, Lang::En);
    assert_eq!(
        Settings::from_js(&JsValue::UNDEFINED),
        Settings { endpoint: "/api/amazonpay2".to_owned(), lang: Lang::Ja, debug: false, notice: None }
    );

    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    // A data-lang on a block is no setting at all.
    let page = Page::start(&three_blocks().replace(r#"id="login""#, r#"id="login" data-lang="zz""#), settings);
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;
    assert_eq!(amazon.count(), 1);
    assert_eq!(server.count(), 1);
    assert!(server.calls()[0]["url"].as_str().unwrap().ends_with("/api/amazonpay2/buttons"));
    page.assert_button_only_in("checkout");
    assert_eq!(page.count(".amazonpay2[lang=\"ja\"]"), 3);
}

#[wasm_bindgen_test]
async fn hostile_attribute_values_show_as_text_in_debug_and_change_nothing_else() {
    let hostile = r#"<img id="injected" src="x" onerror="window.__injected = true">"#.repeat(50);
    let escaped = hostile.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let server = FakeServer::answering(all_buttons());
    let amazon = FakeAmazon::install();
    let page = Page::start(
        &format!(
            r#"<div id="checkout" data-amazonpay="checkout" data-placement="{escaped}" data-button-color="{escaped}"></div>
               <div id="unknown" data-amazonpay="{escaped}"></div>"#
        ),
        settings(true),
    );
    wait_for_button(&page, &amazon, 1, "checkout").await;
    settle().await;
    assert_eq!(server.requested(0), json!([spec("checkout", "Checkout", "Gold")]));
    let diagnostics = page.texts_of("checkout", ".amazonpay2-debug");
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    assert!(diagnostics.iter().any(|d| d.contains("data-placement=\"<img")));
    assert!(diagnostics.iter().all(|d| d.chars().count() < 200), "{diagnostics:?}");
    let unknown = page.texts_of("unknown", ".amazonpay2-debug");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].contains("data-amazonpay=\"<img"));
    assert_eq!(page.count("img"), 0, "markup from an attribute was rendered");
    assert!(Reflect::get(&window(), &"__injected".into()).unwrap().is_undefined());
    page.assert_button_only_in("checkout");
}

// ---------------------------------------------------------------------------------------------
// Notices from the server (`?amazonpay2=<code>` after an Amazon sign-in)
// ---------------------------------------------------------------------------------------------

fn with_notice(notice: Notice, lang: Lang) -> Settings {
    Settings { notice: Some(notice), lang, ..settings(false) }
}

#[wasm_bindgen_test]
async fn a_notice_shows_in_the_notice_block_as_status_or_alert() {
    let server = FakeServer::answering(json!({ "login": button() }));
    let _amazon = FakeAmazon::install();
    let html = r#"<div id="notice" data-amazonpay="notice"></div><div id="login" data-amazonpay="login"></div>"#;
    let page = Page::start(html, with_notice(Notice::EmailExists, Lang::Ja));
    wait_until("the notice", WAIT_MS, || page.count_in("notice", ".amazonpay2-notice") == 1).await;
    assert_eq!(page.text("notice"), Lang::Ja.texts().notice(Notice::EmailExists));
    assert_eq!(page.count_in("login", ".amazonpay2-notice"), 0, "shown once");
    assert_eq!(page.count("[role=status].amazonpay2-notice"), 1);
    wait_until("one request", WAIT_MS, || server.count() == 1).await;
    let blocks = server.requested(0);
    assert_eq!(blocks.as_array().unwrap().len(), 1, "notice blocks are not sent: {blocks}");
}

#[wasm_bindgen_test]
async fn a_refusal_notice_is_an_alert_in_english_with_data_lang_en() {
    let _server = FakeServer::answering(json!({}));
    let page =
        Page::start(r#"<div id="notice" data-amazonpay="notice"></div>"#, with_notice(Notice::BuyerTaken, Lang::En));
    wait_until("the notice", WAIT_MS, || page.count(".amazonpay2-notice--problem[role=alert]") == 1).await;
    assert_eq!(page.text("notice"), "This Amazon account is already linked to another member and cannot be linked.");
}

#[wasm_bindgen_test]
async fn without_a_notice_block_the_first_block_shows_the_notice() {
    let _server = FakeServer::answering(json!({ "mypage": linked() }));
    let html =
        r#"<p>text</p><div id="first" data-amazonpay="mypage"></div><div id="second" data-amazonpay="mypage"></div>"#;
    let page = Page::start(html, with_notice(Notice::Linked, Lang::Ja));
    wait_until("the notice", WAIT_MS, || page.count(".amazonpay2-notice") == 1).await;
    assert_eq!(page.count_in("first", ".amazonpay2-notice"), 1);
}

#[wasm_bindgen_test]
async fn a_page_with_only_a_notice_block_sends_no_request() {
    let server = FakeServer::answering(json!({}));
    let page =
        Page::start(r#"<div id="notice" data-amazonpay="notice"></div>"#, with_notice(Notice::SignedIn, Lang::Ja));
    wait_until("the notice", WAIT_MS, || page.count(".amazonpay2-notice") == 1).await;
    settle().await;
    assert_eq!(server.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Review block (order confirmation)
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn the_review_block_shows_amazons_details_and_binds_both_change_actions() {
    let review = json!({ "view": "review", "amazonCheckoutSessionId": "S-1",
        "shippingAddress": ["山田 太郎", "〒153-0064", "東京都目黒区下目黒1-8-1"], "paymentDescriptor": "Visa ****1111" });
    let _server = FakeServer::answering(json!({ "review": review }));
    let amazon = FakeAmazon::install();
    let page = Page::start(r#"<div id="review" data-amazonpay="review"></div>"#, settings(false));
    wait_until("the review", WAIT_MS, || page.count(".amazonpay2-change") == 2).await;
    let text = page.text("review");
    assert!(text.contains("東京都目黒区下目黒1-8-1") && text.contains("Visa ****1111"), "{text}");
    assert_eq!(page.count(".amazonpay2-button"), 0, "the review block is no Amazon button");
    let bound = to_json(&Reflect::get(&amazon.fake, &"bound".into()).unwrap());
    let actions: Vec<Value> = bound.as_array().unwrap().iter().map(|b| b["options"].clone()).collect();
    assert_eq!(
        actions,
        [
            json!({ "amazonCheckoutSessionId": "S-1", "changeAction": "changeAddress" }),
            json!({ "amazonCheckoutSessionId": "S-1", "changeAction": "changePayment" }),
        ]
    );
}
