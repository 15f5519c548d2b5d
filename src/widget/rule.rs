//! The one-button rule (one Amazon button per page: a visible block beats a hidden one, checkout
//! beats My Page beats login, then document order) and the visibility it depends on.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement};

use crate::contract::BlockKind;

/// A block that would render an Amazon button for this shopper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The block's number.
    pub id: u32,
    /// Its kind.
    pub kind: BlockKind,
    /// Whether it can be seen now.
    pub visible: bool,
}

/// The block that gets the page's one Amazon button. `candidates` are in document order.
///
/// A visible block always beats a hidden one (responsive PC/SP duplicates); among visible ones,
/// checkout beats mypage beats login, then the first in the document wins. When no candidate is
/// visible, none wins: checkout.js draws badly into hidden containers, and the rule is applied
/// again as soon as one appears.
pub fn winner(candidates: &[Candidate]) -> Option<u32> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.visible)
        .min_by_key(|(position, c)| (c.kind.priority(), *position))
        .map(|(_, c)| c.id)
}

/// Whether a block can be seen: not `display:none` (itself or an ancestor), not
/// `visibility:hidden`, not in undrawn content, not zero-width, and not inside a zero-size box
/// that clips it.
///
/// The widget's style gives every block's content at least 1×1 px, so that an empty block in a
/// shrink-to-fit or clearfix layout is not mistaken for a hidden one; only explicit zero sizing
/// hides.
pub fn is_visible(element: &Element) -> bool {
    if !element.is_connected() || element.get_client_rects().length() == 0 {
        return false;
    }
    if check_visibility(element) == Some(false) {
        return false;
    }
    let Some(window) = web_sys::window() else {
        return false;
    };
    let computed = |e: &Element, property: &str| {
        window
            .get_computed_style(e)
            .ok()
            .flatten()
            .and_then(|style| style.get_property_value(property).ok())
            .unwrap_or_default()
    };
    if computed(element, "visibility") != "visible" {
        return false;
    }
    if element.get_bounding_client_rect().width() < 1.0 {
        return false;
    }
    let mut ancestor = element.parent_element();
    while let Some(current) = ancestor {
        if current.dyn_ref::<HtmlElement>().is_some() {
            let rect = current.get_bounding_client_rect();
            let collapsed = rect.width() < 1.0 || rect.height() < 1.0;
            if collapsed && computed(&current, "overflow") != "visible" {
                return false;
            }
        }
        ancestor = current.parent_element();
    }
    true
}

/// `Element.checkVisibility()` where the browser has it: it also knows content that is laid out
/// but not drawn (a closed `<details>`, `content-visibility: hidden`).
fn check_visibility(element: &Element) -> Option<bool> {
    let method = Reflect::get(element, &JsValue::from_str("checkVisibility")).ok()?;
    let method = method.dyn_into::<Function>().ok()?;
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str("visibilityProperty"), &JsValue::TRUE).ok()?;
    method.call1(element, &options).ok()?.as_bool()
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn c(id: u32, kind: BlockKind, visible: bool) -> Candidate {
        Candidate { id, kind, visible }
    }

    #[wasm_bindgen_test]
    fn checkout_beats_mypage_beats_login_then_document_order() {
        use BlockKind::*;
        assert_eq!(winner(&[c(1, Login, true), c(2, Mypage, true), c(3, Checkout, true)]), Some(3));
        assert_eq!(winner(&[c(1, Login, true), c(2, Mypage, true)]), Some(2));
        assert_eq!(winner(&[c(1, Login, true), c(2, Login, true)]), Some(1));
        assert_eq!(winner(&[]), None);
    }

    #[wasm_bindgen_test]
    fn hidden_blocks_never_win_over_visible_ones() {
        use BlockKind::*;
        assert_eq!(winner(&[c(1, Checkout, false), c(2, Login, true)]), Some(2));
        assert_eq!(winner(&[c(1, Checkout, false), c(2, Checkout, true)]), Some(2));
        assert_eq!(winner(&[c(1, Checkout, false)]), None);
    }
}
