//! The Yew component mounted into each block.

use std::rc::Rc;

use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

use super::amazon;
use super::handoff::Drawn;
use super::texts::{Lang, Texts};
use crate::contract::Notice;

/// What a block shows. The runtime decides it; the component only draws it.
#[derive(Clone, Debug, PartialEq)]
pub enum Display {
    /// Nothing visible (waiting, not competing, or lost with no debug).
    Nothing,
    /// The page's one Amazon button, drawn into a fresh container.
    Button {
        /// The container's id; new for every drawing, because checkout.js attaches a shadow
        /// root that cannot be attached twice.
        container_id: String,
        /// The `renderButton` options, as the server sent them.
        options: JsValue,
        /// The button the loader drew, taken over instead of drawing another.
        drawn: Option<Drawn>,
    },
    /// My Page of a linked member.
    Linked {
        /// An unlink request is on its way.
        busy: bool,
        /// The last unlink failed.
        failed: bool,
    },
    /// A sentence for the shopper instead of a button, and a reason for designers.
    Message {
        /// For shoppers.
        text: &'static str,
        /// For `data-debug`.
        detail: Option<String>,
    },
    /// The order confirmation's Amazon details, with Amazon's change actions.
    Review {
        /// The checkout session.
        session_id: String,
        /// Address lines.
        address: Rc<Vec<String>>,
        /// Payment method.
        payment: String,
        /// A fresh id prefix for the change buttons.
        id: String,
        /// Whether checkout.js is there to bind the change buttons to.
        changeable: bool,
    },
    /// Lost under the one-button rule (only shown with `data-debug`).
    Lost {
        /// The designer-facing explanation.
        note: String,
    },
}

/// Layout chosen from `data-device` (or the viewport).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// PC template.
    Pc,
    /// Smartphone template.
    Sp,
}

/// The review block's order button.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Place {
    /// The request is on its way: the button is disabled (one click, one order).
    pub busy: bool,
    /// Why the last attempt failed: a sentence for shoppers, and the reason for `data-debug`.
    pub failure: Option<(&'static str, String)>,
}

/// Everything a block draws from.
#[derive(Clone, Properties, PartialEq)]
pub struct BlockProps {
    /// What to show.
    pub display: Display,
    /// PC or smartphone.
    pub layout: Layout,
    /// The widget's language.
    pub lang: Lang,
    /// `data-debug` on the script tag.
    pub debug: bool,
    /// Diagnostics about the block's attributes.
    pub diagnostics: Rc<Vec<String>>,
    /// The unlink button was confirmed.
    pub on_unlink: Callback<()>,
    /// The Amazon button was clicked; carries checkout.js's button object.
    pub on_click: Callback<JsValue>,
    /// The review block's 「注文を確定する」 was clicked.
    pub on_place: Callback<()>,
    /// The order being placed from the review block.
    pub place: Place,
    /// A notice from the server to show above the block's content.
    pub notice: Option<Notice>,
}

/// One block.
#[component]
pub fn Block(props: &BlockProps) -> Html {
    let texts: &'static Texts = props.lang.texts();
    let render_error = use_state(|| None::<String>);
    {
        let render_error = render_error.clone();
        let on_click = props.on_click.clone();
        use_effect_with(props.display.clone(), move |display| {
            let outcome = match display {
                Display::Button { container_id, drawn: Some(drawn), .. } => {
                    let handler = Closure::<dyn Fn(JsValue)>::new(move |button| on_click.emit(button));
                    amazon::name_with_visible_label(container_id);
                    drawn.adopt_clicks(handler.into_js_value().unchecked_ref());
                    None
                }
                Display::Button { container_id, options, drawn: None } => {
                    Some(amazon::render_button(container_id, options).and_then(|button| {
                        // Owned by checkout.js's button from now on: it lives as long as the button.
                        let target = button.clone();
                        let handler = Closure::<dyn Fn()>::new(move || on_click.emit(target.clone()));
                        amazon::name_with_visible_label(container_id);
                        amazon::on_click(&button, handler.into_js_value().unchecked_ref())
                    }))
                }
                Display::Review { session_id, id, changeable: true, .. } => {
                    Some(amazon::bind_change_action(&format!("{id}-address"), session_id, "changeAddress").and_then(
                        |()| amazon::bind_change_action(&format!("{id}-payment"), session_id, "changePayment"),
                    ))
                }
                _ => None,
            };
            match outcome {
                Some(Err(error)) => {
                    web_sys::console::warn_1(&format!("Amazon Pay: {error}").into());
                    render_error.set(Some(error.to_string()));
                }
                Some(Ok(())) => render_error.set(None),
                None => {}
            }
        });
    }
    let class = match props.layout {
        Layout::Pc => "amazonpay2 amazonpay2--pc",
        Layout::Sp => "amazonpay2 amazonpay2--sp",
    };
    let debug_line = |text: String| html! { <p class="amazonpay2-debug">{ text }</p> };
    let body = match (&props.display, &*render_error) {
        (Display::Button { .. }, Some(error)) => html! {
            <>
                <p class="amazonpay2-message" role="status">{ texts.unavailable_now }</p>
                if props.debug { { debug_line(format!("{}{error}", texts.debug_reason)) } }
            </>
        },
        (Display::Button { drawn: Some(drawn), .. }, None) => {
            drawn.container().map(|c| Html::VRef(c.into())).unwrap_or_default()
        }
        (Display::Button { container_id, .. }, None) => html! {
            <div key={container_id.clone()} id={container_id.clone()} class="amazonpay2-button"></div>
        },
        (Display::Linked { busy, failed }, _) => {
            let on_unlink = props.on_unlink.clone();
            let onclick = Callback::from(move |_: MouseEvent| on_unlink.emit(()));
            html! {
                <div class="amazonpay2-linked">
                    <p>{ texts.linked }</p>
                    <button type="button" class="amazonpay2-unlink" disabled={*busy} {onclick}>
                        { texts.unlink }
                    </button>
                    if *failed { <p class="amazonpay2-message" role="alert">{ texts.unlink_failed }</p> }
                </div>
            }
        }
        (Display::Review { address, payment, id, changeable, .. }, _) => {
            let change = |suffix: &str, label: &'static str| {
                changeable.then(|| html! { <button type="button" class="amazonpay2-change" id={format!("{id}-{suffix}")}>{ label }</button> })
            };
            let on_place = props.on_place.clone();
            let onclick = Callback::from(move |_: MouseEvent| on_place.emit(()));
            html! {
                <div class="amazonpay2-review">
                    <p class="amazonpay2-review-heading">{ texts.ship_to }</p>
                    <p>{ for address.iter().map(|line| html! { <>{ line.clone() }<br /></> }) }</p>
                    { for change("address", texts.change_address) }
                    <p class="amazonpay2-review-heading">{ texts.pay_with }</p>
                    <p>{ payment.clone() }</p>
                    { for change("payment", texts.change_payment) }
                    <p>
                        <button type="button" class="amazonpay2-place" disabled={props.place.busy} {onclick}>
                            { texts.place_order }
                        </button>
                    </p>
                    if let Some((text, detail)) = &props.place.failure {
                        <p class="amazonpay2-message" role="alert">{ *text }</p>
                        if props.debug { { debug_line(format!("{}{detail}", texts.debug_reason)) } }
                    }
                </div>
            }
        }
        (Display::Message { text, detail }, _) => html! {
            <>
                <p class="amazonpay2-message" role="status">{ *text }</p>
                if let (true, Some(detail)) = (props.debug, detail) {
                    { debug_line(format!("{}{detail}", texts.debug_reason)) }
                }
            </>
        },
        (Display::Lost { note }, _) if props.debug => debug_line(note.clone()),
        (Display::Lost { .. } | Display::Nothing, _) => html! {},
    };
    let diagnostics = if props.debug {
        props.diagnostics.iter().map(|d| debug_line(format!("{}{d}", texts.debug_attribute))).collect::<Html>()
    } else {
        html! {}
    };
    let notice = props.notice.map(|notice| {
        let (class, role) = if notice.is_problem() {
            ("amazonpay2-notice amazonpay2-notice--problem", "alert")
        } else {
            ("amazonpay2-notice", "status")
        };
        html! { <p {class} {role}>{ texts.notice(notice) }</p> }
    });
    html! {
        <div {class} lang={props.lang.code()}>
            { for notice }
            { body }
            { diagnostics }
        </div>
    }
}
