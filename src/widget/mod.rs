//! The widget: finds the blocks, asks the server once, keeps to one Amazon button per page.
//!
//! `widget.js` (the loader) calls [`boot`] once the wasm is ready. Everything after that is the
//! [`Runtime`]: it claims blocks, mounts a Yew app in each, fetches every block's view in one
//! request, applies the one-button rule, loads checkout.js only for a winner, and watches the
//! page (late blocks, removed blocks, visibility changes) to keep the rule true.

mod amazon;
mod api;
pub mod blocks;
mod error;
mod handoff;
pub mod rule;
mod settings;
pub mod texts;
mod view;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Element, MutationObserver, MutationObserverInit};
use yew::{AppHandle, Callback, Renderer};

use self::api::View;
pub use self::error::WidgetError;
use self::handoff::Handoff;
pub use self::settings::Settings;
use self::view::{BlockProps, Display, Layout, Place};
use crate::contract::{BlockKind, BlockSpec, Device, Notice, UnavailableReason};

#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// Entry point for the loader: starts the widget for the whole document, once.
#[wasm_bindgen]
pub fn boot(settings: JsValue) {
    thread_local! {
        static BOOTED: Cell<bool> = const { Cell::new(false) };
    }
    if BOOTED.with(|booted| booted.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        // Not in the task that started the wasm: each first run of the wasm's code costs its
        // compilation too, so the start-up goes in small steps, a task each.
        settings::next_task().await;
        let handoff = Handoff::new(settings.clone());
        let settings = Settings::from_js(&settings);
        settings::dom_ready(|| handoff.parsed()).await;
        let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) else {
            return;
        };
        settings::next_task().await;
        let runtime = Runtime::new(root, settings, handoff);
        runtime.begin_in_steps().await;
        // The page's runtime lives as long as the page.
        std::mem::forget(runtime);
    });
}

/// The widget at work on one part of a page (the whole document, or a test's own section).
pub struct Runtime {
    root: Element,
    settings: Settings,
    state: RefCell<State>,
    me: Weak<Runtime>,
    observer: RefCell<Option<Watcher>>,
    on_resize: RefCell<Option<Closure<dyn FnMut()>>>,
    on_pageshow: RefCell<Option<Closure<dyn FnMut()>>>,
    /// What the loader started before the wasm was ready.
    handoff: Handoff,
}

/// The page observer and the callback it calls (kept alive as long as the observer).
type Watcher = (MutationObserver, Closure<dyn FnMut()>);

#[derive(Default)]
struct State {
    blocks: Vec<Rc<Block>>,
    next_id: u32,
    /// The server's answer per block description, or why there is none. A handful of
    /// descriptions at most: a list is smaller in wasm than a map and as fast.
    answers: Vec<(BlockSpec, Result<View, WidgetError>)>,
    /// Descriptions asked for and not answered yet.
    pending: Vec<BlockSpec>,
    csrf_token: Option<String>,
    checkout_js: Option<String>,
    amazon: AmazonScript,
    unlink: Unlink,
    /// A click's signing request is on its way: further clicks are ignored.
    signing: bool,
    /// A click made before the server's answer brought the CSRF token to sign with (on the
    /// button the loader drew, or one drawn from a remembered answer): signed when it comes.
    early_click: Option<(u32, JsValue)>,
    /// Blocks whose button failed at click, and why: they show the message instead.
    click_failures: Vec<(u32, WidgetError)>,
    /// The server refused a click's CSRF token once, and the views were asked for again.
    session_renewed: bool,
    /// The review block's order button.
    place: Place,
    reconcile_scheduled: bool,
}

impl State {
    fn answer(&self, spec: &BlockSpec) -> Option<&Result<View, WidgetError>> {
        self.answers.iter().find(|(s, _)| s == spec).map(|(_, answer)| answer)
    }

    fn set_answer(&mut self, spec: BlockSpec, answer: Result<View, WidgetError>) {
        self.pending.retain(|s| *s != spec);
        self.answers.retain(|(s, _)| *s != spec);
        self.answers.push((spec, answer));
    }

    /// Whether a block with this description would draw an Amazon button (or would have, had
    /// its request not failed: then it shows the message in the button's place).
    fn competes(&self, spec: &BlockSpec) -> bool {
        matches!(self.answer(spec), Some(Ok(View::Button(..)) | Err(_)))
    }
}

/// The unlink button's progress.
#[derive(Clone, Copy, Default)]
struct Unlink {
    busy: bool,
    failed: bool,
}

/// Where checkout.js stands on this page.
#[derive(Clone, Debug, Default, PartialEq)]
enum AmazonScript {
    #[default]
    NotNeeded,
    Loading,
    Ready,
    Failed(WidgetError),
}

struct Block {
    id: u32,
    element: Element,
    spec: Option<BlockSpec>,
    device: Device,
    name: String,
    app: RefCell<AppHandle<view::Block>>,
    props: RefCell<BlockProps>,
    warned_about: Cell<Option<u32>>,
}

/// A block on the page, as `find_blocks` found it.
enum Found {
    /// Mounted already.
    Known(Rc<Block>),
    /// Not yet.
    New(Box<NewBlock>),
}

/// A new block, read and numbered, not mounted yet.
struct NewBlock {
    id: u32,
    element: Element,
    parsed: blocks::ParsedBlock,
    name: String,
    props: BlockProps,
}

/// Numbers containers across runtimes so that ids never repeat on a page.
fn next_container_id() -> String {
    thread_local! {
        static COUNTER: Cell<u32> = const { Cell::new(0) };
    }
    let n = COUNTER.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    format!("amazonpay2-button-{n}")
}

impl Runtime {
    /// Starts the widget on the blocks inside `root`, and keeps watching it.
    pub fn start(root: Element, settings: Settings) -> Rc<Self> {
        Self::start_after_loader(root, settings, JsValue::UNDEFINED)
    }

    /// Starts the widget as `boot` does: taking over what the loader started (`loader` is the
    /// settings object the loader passes to `boot`).
    pub fn start_after_loader(root: Element, settings: Settings, loader: JsValue) -> Rc<Self> {
        let runtime = Self::new(root, settings, Handoff::new(loader));
        runtime.begin();
        runtime
    }

    fn new(root: Element, settings: Settings, handoff: Handoff) -> Rc<Self> {
        Rc::new_cyclic(|me| Self {
            root,
            settings,
            state: RefCell::new(State::default()),
            me: me.clone(),
            observer: RefCell::new(None),
            on_resize: RefCell::new(None),
            on_pageshow: RefCell::new(None),
            handoff,
        })
    }

    fn begin(&self) {
        settings::install_style(&self.root);
        self.watch();
        self.reconcile();
    }

    /// [`Self::begin`] in several tasks of the page: the wasm's first run of each part of the
    /// widget costs its compilation too, which all in one task would hold up a slow phone.
    async fn begin_in_steps(&self) {
        // The page's changes meanwhile wait for the last step.
        self.state.borrow_mut().reconcile_scheduled = true;
        settings::install_style(&self.root);
        self.watch();
        settings::next_task().await;
        let found = self.find_blocks();
        settings::next_task().await;
        // A block's mount and its first display must share a task (the mount empties the block,
        // and the button the loader drew must not leave the page for a frame). The first run of
        // Yew's rendering, compiled as it runs, would make that task long: it runs before, in a
        // task of its own, on a block of nobody's.
        let warm = self.warm_up();
        settings::next_task().await;
        if let Some(warm) = warm {
            warm.destroy();
        }
        self.mount_blocks(found);
        settings::next_task().await;
        self.request_missing_views();
        settings::next_task().await;
        self.state.borrow_mut().reconcile_scheduled = false;
        self.reconcile();
    }

    /// Stops watching the page and unmounts every block (tests; a page never needs it).
    pub fn stop(&self) {
        if let Some((observer, _)) = self.observer.borrow_mut().take() {
            observer.disconnect();
        }
        if let Some(window) = web_sys::window() {
            for (event, listener) in [("resize", &self.on_resize), ("pageshow", &self.on_pageshow)] {
                if let Some(listener) = listener.borrow_mut().take() {
                    let _ = window.remove_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
                }
            }
        }
        let blocks = std::mem::take(&mut self.state.borrow_mut().blocks);
        for block in blocks {
            if let Ok(block) = Rc::try_unwrap(block) {
                block.app.into_inner().destroy();
            }
        }
    }

    /// Which block holds the Amazon button now (by its `data-amazonpay2-block` number).
    pub fn winner(&self) -> Option<u32> {
        self.state
            .borrow()
            .blocks
            .iter()
            .find(|b| matches!(b.props.borrow().display, Display::Button { .. }))
            .map(|b| b.id)
    }

    fn watch(&self) {
        let me = self.me.clone();
        let schedule = move || {
            if let Some(runtime) = me.upgrade() {
                runtime.schedule_reconcile();
            }
        };
        let on_mutation = Closure::<dyn FnMut()>::new(schedule.clone());
        if let Ok(observer) = MutationObserver::new(on_mutation.as_ref().unchecked_ref()) {
            let options = MutationObserverInit::new();
            options.set_child_list(true);
            options.set_subtree(true);
            options.set_attributes(true);
            let filter = js_sys::Array::of4(&"style".into(), &"class".into(), &"hidden".into(), &"open".into());
            options.set_attribute_filter(&filter);
            if observer.observe_with_options(&self.root, &options).is_ok() {
                *self.observer.borrow_mut() = Some((observer, on_mutation));
            }
        }
        let on_resize = Closure::<dyn FnMut()>::new(schedule);
        // A page brought back from the back/forward cache (the shopper came back from Amazon)
        // must not keep its buttons disabled by the click that left it.
        let me = self.me.clone();
        let on_pageshow = Closure::<dyn FnMut()>::new(move || {
            if let Some(runtime) = me.upgrade() {
                {
                    let mut state = runtime.state.borrow_mut();
                    state.signing = false;
                    state.place.busy = false;
                }
                runtime.reconcile();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
            let _ = window.add_event_listener_with_callback("pageshow", on_pageshow.as_ref().unchecked_ref());
            *self.on_resize.borrow_mut() = Some(on_resize);
            *self.on_pageshow.borrow_mut() = Some(on_pageshow);
        }
    }

    /// Coalesces bursts of DOM changes into one pass.
    fn schedule_reconcile(&self) {
        {
            let mut state = self.state.borrow_mut();
            if state.reconcile_scheduled {
                return;
            }
            state.reconcile_scheduled = true;
        }
        let me = self.me.clone();
        let run = Closure::once_into_js(move || {
            if let Some(runtime) = me.upgrade() {
                runtime.state.borrow_mut().reconcile_scheduled = false;
                runtime.reconcile();
            }
        });
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(run.unchecked_ref(), 30);
        }
    }

    /// Brings the blocks in line with the page and the answers so far.
    fn reconcile(&self) {
        self.claim_blocks();
        self.request_missing_views();
        let updates = self.decide();
        for (block, props) in updates {
            block.app.borrow_mut().update(props.clone());
            *block.props.borrow_mut() = props;
        }
    }

    /// Claims new blocks (mounting a Yew app in each), forgets removed ones, and keeps
    /// document order.
    fn claim_blocks(&self) {
        let found = self.find_blocks();
        self.mount_blocks(found);
    }

    /// The blocks on the page in document order: the known ones, and the new ones read and
    /// numbered, ready to mount.
    fn find_blocks(&self) -> Vec<Found> {
        let elements = match self.root.query_selector_all(&format!("[{}]", blocks::BLOCK_ATTRIBUTE)) {
            Ok(list) => (0..list.length())
                .filter_map(|i| list.item(i))
                .filter_map(|n| n.dyn_into::<Element>().ok())
                .collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        };
        let known: Vec<Rc<Block>> = self.state.borrow().blocks.clone();
        let mut found = Vec::with_capacity(elements.len());
        for (position, element) in elements.into_iter().enumerate() {
            let claimed = element
                .get_attribute(blocks::CLAIMED_ATTRIBUTE)
                .and_then(|v| v.parse::<u32>().ok())
                .and_then(|id| known.iter().find(|block| block.id == id && block.element == element));
            match claimed {
                Some(block) => found.push(Found::Known(block.clone())),
                // Claimed by another copy of the widget (another runtime): leave it alone.
                None if element.has_attribute(blocks::CLAIMED_ATTRIBUTE) => {}
                None => found.push(Found::New(Box::new(self.prepare(element, position)))),
            }
        }
        found
    }

    /// Mounts the new blocks `find_blocks` found, and forgets the blocks no longer there.
    fn mount_blocks(&self, found: Vec<Found>) {
        let ordered: Vec<Rc<Block>> = found
            .into_iter()
            .map(|found| match found {
                Found::Known(block) => block,
                Found::New(block) => Self::mount(*block),
            })
            .collect();
        let gone = {
            let mut state = self.state.borrow_mut();
            let previous = std::mem::replace(&mut state.blocks, ordered);
            previous.into_iter().filter(|b| !state.blocks.iter().any(|o| o.id == b.id)).collect::<Vec<_>>()
        };
        for block in gone {
            // Unclaimed, so that the element is taken afresh if the shop puts it back.
            let _ = block.element.remove_attribute(blocks::CLAIMED_ATTRIBUTE);
            if let Ok(block) = Rc::try_unwrap(block) {
                block.app.into_inner().destroy();
            }
        }
    }

    /// Reads a new block, numbers it, and prepares what its Yew app starts from.
    fn prepare(&self, element: Element, position: usize) -> NewBlock {
        let parsed = blocks::parse(&element);
        let id = {
            let mut state = self.state.borrow_mut();
            state.next_id += 1;
            state.next_id
        };
        let _ = element.set_attribute(blocks::CLAIMED_ATTRIBUTE, &id.to_string());
        let name = blocks::describe(&element, parsed.spec.map(|s| s.kind), position);
        let mut diagnostics: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        if parsed.spec.is_none() && diagnostics.is_empty() {
            diagnostics.push(format!(
                "{}=\"\" is not one of: {}",
                blocks::BLOCK_ATTRIBUTE,
                BlockKind::NAMES.join(", ")
            ));
        }
        for diagnostic in &diagnostics {
            warn(&format!("{name}: {diagnostic}"));
        }
        let me = self.me.clone();
        let on_unlink = Callback::from(move |()| {
            if let Some(runtime) = me.upgrade() {
                runtime.unlink();
            }
        });
        let me = self.me.clone();
        let on_click = Callback::from(move |button: JsValue| {
            if let Some(runtime) = me.upgrade() {
                runtime.click(id, button);
            }
        });
        let me = self.me.clone();
        let on_place = Callback::from(move |()| {
            if let Some(runtime) = me.upgrade() {
                runtime.place();
            }
        });
        // The loader may have drawn this block's button already: it stays, taken over.
        let display = match self.handoff.take_drawn(&element) {
            Some(drawn) => Display::Button {
                container_id: drawn.container().map(|c| c.id()).unwrap_or_default(),
                options: drawn.options(),
                drawn: Some(drawn),
            },
            None => Display::Nothing,
        };
        let props = BlockProps {
            display,
            layout: layout(parsed.device),
            lang: self.settings.lang,
            debug: self.settings.debug,
            diagnostics: Rc::new(diagnostics),
            on_unlink,
            on_click,
            on_place,
            place: Place::default(),
            notice: None,
        };
        NewBlock { id, element, parsed, name, props }
    }

    /// A Yew app on a detached, empty block: it runs Yew's rendering once.
    fn warm_up(&self) -> Option<AppHandle<view::Block>> {
        let host = self.root.owner_document()?.create_element("div").ok()?;
        let props = BlockProps {
            display: Display::Nothing,
            layout: Layout::Pc,
            lang: self.settings.lang,
            debug: false,
            diagnostics: Rc::default(),
            on_unlink: Callback::noop(),
            on_click: Callback::noop(),
            on_place: Callback::noop(),
            place: Place::default(),
            notice: None,
        };
        Some(Renderer::<view::Block>::with_root_and_props(host, props).render())
    }

    /// Mounts a Yew app in a new block. It empties the block and draws its first display in the
    /// same task (the loader's button, taken over, never leaves the page meanwhile).
    fn mount(block: NewBlock) -> Rc<Block> {
        let NewBlock { id, element, parsed, name, props } = block;
        let app = Renderer::<view::Block>::with_root_and_props(element.clone(), props.clone()).render();
        Rc::new(Block {
            id,
            element,
            spec: parsed.spec,
            device: parsed.device,
            name,
            app: RefCell::new(app),
            props: RefCell::new(props),
            warned_about: Cell::new(None),
        })
    }

    /// One request for every description not yet answered or asked.
    fn request_missing_views(&self) {
        let missing: Vec<BlockSpec> = {
            let mut state = self.state.borrow_mut();
            let mut missing = Vec::new();
            for spec in state.blocks.iter().filter_map(|b| b.spec).filter(|s| s.kind.asks_server()) {
                let known = state.answer(&spec).is_some() || state.pending.contains(&spec);
                if !known && !missing.contains(&spec) {
                    missing.push(spec);
                }
            }
            state.pending.extend(missing.iter().copied());
            missing
        };
        if !missing.is_empty() {
            self.fetch(missing);
        }
    }

    fn fetch(&self, specs: Vec<BlockSpec>) {
        let me = self.me.clone();
        let endpoint = self.settings.endpoint.clone();
        let prefetch = self.handoff.take_request(&api::request_body(&specs));
        // The answer this tab's last view of the same blocks got: the blocks show it at once, and
        // the fresh answer corrects them (and alone brings the CSRF token and the member's state).
        let remembered = prefetch.as_ref().and_then(|p| p.remembered.as_deref()).and_then(|text| {
            let value = js_sys::JSON::parse(text).ok()?;
            api::decode_views(&value, specs.len()).ok()
        });
        if let Some((views, checkout_js)) = remembered {
            let mut state = self.state.borrow_mut();
            state.checkout_js = Some(checkout_js);
            for (spec, view) in specs.iter().zip(views) {
                state.set_answer(*spec, Ok(view));
            }
        }
        wasm_bindgen_futures::spawn_local(async move {
            let result = match prefetch {
                Some(prefetch) => api::prefetched_buttons(prefetch.response, specs.len()).await,
                None => api::buttons(&endpoint, specs.clone()).await,
            };
            let Some(runtime) = me.upgrade() else { return };
            {
                let mut state = runtime.state.borrow_mut();
                match result {
                    Ok(answer) => {
                        settings::announce(&runtime.root, &answer.member, &answer.csrf_token);
                        state.csrf_token = Some(answer.csrf_token);
                        state.checkout_js = Some(answer.checkout_js);
                        for (spec, view) in specs.into_iter().zip(answer.blocks) {
                            state.set_answer(spec, Ok(view));
                        }
                    }
                    Err(error) => {
                        warn(&error.to_string());
                        for spec in specs {
                            state.set_answer(spec, Err(error.clone()));
                        }
                    }
                }
            }
            // Reading the answer and drawing from it, each a first run of much of the wasm's code
            // on a page's first answer, would make one long task together.
            settings::next_task().await;
            runtime.reconcile();
            // Signed now if the block still shows the button (the answer may have taken it away).
            let early_click = runtime.state.borrow_mut().early_click.take();
            if let Some((id, button)) = early_click
                && runtime.winner() == Some(id)
            {
                runtime.click(id, button);
            }
        });
    }

    /// Decides every block's display; returns the blocks whose display changed.
    fn decide(&self) -> Vec<(Rc<Block>, BlockProps)> {
        let mut state = self.state.borrow_mut();
        let candidates: Vec<rule::Candidate> = state
            .blocks
            .iter()
            .filter_map(|block| {
                let spec = block.spec.filter(|spec| state.competes(spec))?;
                Some(rule::Candidate { id: block.id, kind: spec.kind, visible: rule::is_visible(&block.element) })
            })
            .collect();
        let winner = rule::winner(&candidates).and_then(|id| state.blocks.iter().find(|b| b.id == id).cloned());
        let winner_needs_amazon = winner
            .as_ref()
            .and_then(|w| w.spec)
            .is_some_and(|spec| matches!(state.answer(&spec), Some(Ok(View::Button(..)))));
        let review_needs_amazon = state.answers.iter().any(|(_, answer)| matches!(answer, Ok(View::Review(..))));
        if (winner_needs_amazon || review_needs_amazon)
            && state.amazon == AmazonScript::NotNeeded
            && let Some(src) = state.checkout_js.clone()
        {
            state.amazon = AmazonScript::Loading;
            self.load_amazon(src);
        }

        // The server's notice goes into the first `notice` block, or else the first block.
        let notice_block = state
            .blocks
            .iter()
            .find(|b| b.spec.is_some_and(|s| !s.kind.asks_server()))
            .or_else(|| state.blocks.iter().find(|b| b.spec.is_some()))
            .map(|b| b.id);

        let texts = self.settings.lang.texts();
        let mut updates = Vec::new();
        for block in &state.blocks {
            let current = block.props.borrow().clone();
            let is_winner = winner.as_ref().is_some_and(|w| w.id == block.id);
            let click_failure =
                state.click_failures.iter().find(|(id, _)| *id == block.id).map(|(_, error)| error.to_string());
            let display = match block.spec.map(|spec| (spec, state.answer(&spec))) {
                // The loader's button stays until the answer says otherwise.
                Some((_, None)) if matches!(current.display, Display::Button { drawn: Some(_), .. }) => {
                    current.display.clone()
                }
                None | Some((_, None)) => Display::Nothing,
                Some((spec, Some(_))) if state.competes(&spec) && !is_winner => {
                    let note = match &winner {
                        Some(winner) => {
                            if block.warned_about.replace(Some(winner.id)) != Some(winner.id) {
                                warn(&format!(
                                    "{} renders no button; the page's one Amazon button is in {}",
                                    block.name, winner.name
                                ));
                            }
                            texts.debug_lost.replace("{}", &winner.name)
                        }
                        None => texts.debug_hidden.to_owned(),
                    };
                    Display::Lost { note }
                }
                Some((_, Some(Err(error)))) => {
                    Display::Message { text: texts.unavailable_now, detail: Some(error.to_string()) }
                }
                Some((_, Some(Ok(View::Button(..))))) if click_failure.is_some() => {
                    Display::Message { text: texts.unavailable_now, detail: click_failure }
                }
                // Already drawn here with the same options (by the loader, say): Amazon's button
                // stays as it is.
                Some((_, Some(Ok(View::Button(_, json))))) if same_options(&current.display, json) => {
                    current.display.clone()
                }
                Some((_, Some(Ok(View::Button(options, _))))) => match &state.amazon {
                    AmazonScript::Ready => {
                        Display::Button { container_id: next_container_id(), options: options.clone(), drawn: None }
                    }
                    AmazonScript::Failed(error) => {
                        Display::Message { text: texts.unavailable_now, detail: Some(error.to_string()) }
                    }
                    AmazonScript::NotNeeded | AmazonScript::Loading => Display::Nothing,
                },
                Some((_, Some(Ok(View::Linked)))) => {
                    Display::Linked { busy: state.unlink.busy, failed: state.unlink.failed }
                }
                Some((_, Some(Ok(View::Unavailable(reason))))) => {
                    Display::Message { text: texts.unavailable(*reason), detail: None }
                }
                Some((_, Some(Ok(View::Nothing)))) => Display::Nothing,
                Some((_, Some(Ok(View::Review(session_id, address, payment))))) => {
                    match (&state.amazon, &current.display) {
                        (AmazonScript::NotNeeded | AmazonScript::Loading, _) => Display::Nothing,
                        // Already drawn and bound: keep it.
                        (_, Display::Review { .. }) => current.display.clone(),
                        (amazon, _) => Display::Review {
                            session_id: session_id.clone(),
                            address: Rc::new(address.clone()),
                            payment: payment.clone(),
                            id: next_container_id(),
                            changeable: *amazon == AmazonScript::Ready,
                        },
                    }
                }
            };
            // Until its display is final, a block keeps the space the loader reserved for it (the
            // height it had on this page last time); from then on it has its own. A button block
            // waits while it is to draw the button, and while no block can be seen yet (then the
            // rule runs again as soon as one can).
            let waiting = match block.spec.map(|spec| (spec, state.answer(&spec))) {
                Some((spec, None)) => spec.kind.asks_server(),
                Some((_, Some(Ok(View::Button(..))))) => {
                    (is_winner || winner.is_none()) && matches!(display, Display::Nothing | Display::Lost { .. })
                }
                Some((_, Some(Ok(View::Review(..))))) => display == Display::Nothing,
                _ => false,
            };
            if !waiting && !block.element.has_attribute(blocks::SETTLED_ATTRIBUTE) {
                let _ = block.element.set_attribute(blocks::SETTLED_ATTRIBUTE, "");
            }
            let notice = self.settings.notice.filter(|_| notice_block == Some(block.id));
            let props = BlockProps {
                display,
                layout: layout(block.device),
                notice,
                place: state.place.clone(),
                ..current.clone()
            };
            if props != current {
                updates.push((block.clone(), props));
            }
        }
        updates
    }

    fn load_amazon(&self, src: String) {
        self.handoff.adopt_checkout_js();
        let me = self.me.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = amazon::load(&src).await;
            let Some(runtime) = me.upgrade() else { return };
            runtime.state.borrow_mut().amazon = match result {
                Ok(()) => AmazonScript::Ready,
                Err(error) => {
                    warn(&error.to_string());
                    AmazonScript::Failed(error)
                }
            };
            runtime.reconcile();
        });
    }

    /// A click on the Amazon button of block `id`: the server signs that block's payload now,
    /// and checkout.js's `initCheckout` takes it to Amazon. One click at a time; a failure shows
    /// the block's message in place of the button.
    fn click(&self, id: u32, button: JsValue) {
        let (kind, csrf_token) = {
            let mut state = self.state.borrow_mut();
            let kind = state.blocks.iter().find(|b| b.id == id).and_then(|b| b.spec).map(|s| s.kind);
            if state.csrf_token.is_none() && kind.is_some() {
                state.early_click = Some((id, button));
                return;
            }
            let (Some(kind), Some(csrf_token), false) = (kind, state.csrf_token.clone(), state.signing) else {
                return;
            };
            state.signing = true;
            (kind, csrf_token)
        };
        let me = self.me.clone();
        let endpoint = self.settings.endpoint.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = match api::sign(&endpoint, kind, &csrf_token).await {
                Ok(config) => amazon::init_checkout(&button, &config, kind != BlockKind::Checkout),
                Err(error) => Err(error),
            };
            let Some(runtime) = me.upgrade() else { return };
            {
                let mut state = runtime.state.borrow_mut();
                state.signing = false;
                match result {
                    // The page's session is not the one the answer's token belongs to: on a first
                    // visit another request of the page may have started one too (the browser keeps
                    // the last cookie), or another tab logged in or out. The views are asked for
                    // again, once, and the click is signed with the new token if the block still
                    // shows the button.
                    Err(WidgetError::Api { code, .. }) if code == "csrf_token_invalid" && !state.session_renewed => {
                        state.session_renewed = true;
                        state.csrf_token = None;
                        state.early_click = Some((id, button));
                        let specs = state.answers.iter().map(|(spec, _)| *spec).collect();
                        drop(state);
                        runtime.fetch(specs);
                        return;
                    }
                    Err(error) => {
                        warn(&error.to_string());
                        state.click_failures.push((id, error));
                    }
                    Ok(()) => {}
                }
            }
            runtime.reconcile();
        });
    }

    /// The review block's 「注文を確定する」: one request (the button is disabled meanwhile), then
    /// wherever the server sends the shopper (Amazon, to authorize, or a shop page).
    fn place(&self) {
        let Some(csrf_token) = self.state.borrow().csrf_token.clone() else {
            return;
        };
        if self.state.borrow().place.busy {
            return;
        }
        self.state.borrow_mut().place = Place { busy: true, failure: None };
        self.reconcile();
        let me = self.me.clone();
        let endpoint = self.settings.endpoint.clone();
        let texts = self.settings.lang.texts();
        wasm_bindgen_futures::spawn_local(async move {
            let result = api::place(&endpoint, &csrf_token).await;
            let Some(runtime) = me.upgrade() else { return };
            match result {
                // Still busy: the page is leaving.
                Ok(redirect) => {
                    if let Some(window) = web_sys::window() {
                        let _ = window.location().assign(&redirect);
                    }
                }
                Err(error) => {
                    warn(&format!("placing the order failed: {error}"));
                    let text = place_failure(texts, &error);
                    runtime.state.borrow_mut().place = Place { busy: false, failure: Some((text, error.to_string())) };
                    runtime.reconcile();
                }
            }
        });
    }

    /// The shop's unlink button: confirm, ask the server, then ask again for every view (the
    /// member's state changed).
    fn unlink(&self) {
        let texts = self.settings.lang.texts();
        let confirmed =
            web_sys::window().and_then(|w| w.confirm_with_message(texts.unlink_confirm).ok()).unwrap_or(false);
        let Some(csrf_token) = self.state.borrow().csrf_token.clone() else {
            return;
        };
        if !confirmed {
            return;
        }
        self.state.borrow_mut().unlink = Unlink { busy: true, failed: false };
        self.reconcile();
        let me = self.me.clone();
        let endpoint = self.settings.endpoint.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = api::unlink(&endpoint, &csrf_token).await;
            let Some(runtime) = me.upgrade() else { return };
            {
                let mut state = runtime.state.borrow_mut();
                match result {
                    Ok(()) => {
                        // The member's state changed: every view is asked for again.
                        state.unlink = Unlink::default();
                        state.answers.clear();
                        runtime.handoff.forget_answers();
                    }
                    Err(error) => {
                        warn(&format!("unlink failed: {error}"));
                        state.unlink = Unlink { busy: false, failed: true };
                    }
                }
            }
            runtime.reconcile();
        });
    }
}

/// Whether `display` is a button drawn with the options whose JSON is `json`.
fn same_options(display: &Display, json: &str) -> bool {
    match display {
        Display::Button { options, .. } => js_sys::JSON::stringify(options).is_ok_and(|text| text == json),
        _ => false,
    }
}

/// What the shopper reads when the order could not be placed: why Amazon Pay cannot take this
/// cart, that Amazon could not be reached, or to try again.
fn place_failure(texts: &'static texts::Texts, error: &WidgetError) -> &'static str {
    match error {
        WidgetError::Api { code, message, .. } if code == "amazon_pay_unavailable" => {
            UnavailableReason::from_code(message).map_or(texts.place_failed, |reason| texts.unavailable(reason))
        }
        WidgetError::Api { code, .. } if code == "amazon_unavailable" => texts.notice(Notice::AmazonUnavailable),
        _ => texts.place_failed,
    }
}

/// Tells designers (and the e2e tests) what the widget decided, in the console.
fn warn(message: &str) {
    web_sys::console::warn_1(&format!("Amazon Pay: {message}").into());
}

fn layout(device: Device) -> Layout {
    match device {
        Device::Pc => Layout::Pc,
        Device::Sp => Layout::Sp,
        Device::Auto => {
            let narrow = web_sys::window()
                .and_then(|w| w.match_media("(max-width: 767px)").ok().flatten())
                .is_some_and(|query| query.matches());
            if narrow { Layout::Sp } else { Layout::Pc }
        }
    }
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
