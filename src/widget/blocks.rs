//! Finding blocks on the page and reading their attributes.
//!
//! A bad value never stops a block: it falls back to the default and leaves a diagnostic that
//! `data-debug` shows inside the block (and the console always shows).

use web_sys::{Document, Element};

use crate::contract::{AttributeError, BlockKind, BlockSpec, ButtonColor, Device, Placement};

/// The attribute that makes an element a block.
pub const BLOCK_ATTRIBUTE: &str = "data-amazonpay";

/// Set on blocks the widget has taken, with the block's number.
pub const CLAIMED_ATTRIBUTE: &str = "data-amazonpay2-block";

/// Set on blocks whose display is final: the space the loader reserved for them no longer holds
/// (its style names blocks without this attribute).
pub const SETTLED_ATTRIBUTE: &str = "data-amazonpay2-settled";

/// What a block's attributes say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedBlock {
    /// The description sent to the server; `None` when the block's kind is unknown.
    pub spec: Option<BlockSpec>,
    /// PC, smartphone or chosen from the viewport.
    pub device: Device,
    /// Values that were wrong and replaced by defaults.
    pub problems: Vec<AttributeError>,
}

/// Reads a block's attributes.
pub fn parse(element: &Element) -> ParsedBlock {
    let mut problems = Vec::new();
    let read = |name: &str| element.get_attribute(name);
    let kind = read(BLOCK_ATTRIBUTE).map(|v| BlockKind::from_attribute(&v));
    let kind = match kind {
        Some(Ok(kind)) => Some(kind),
        Some(Err(problem)) => {
            problems.push(problem);
            None
        }
        None => None,
    };
    let device = or_default(read("data-device").map(|v| Device::from_attribute(&v)), &mut problems);
    let placement = read("data-placement").map(|v| Placement::from_attribute(&v));
    let button_color = read("data-button-color").map(|v| ButtonColor::from_attribute(&v));
    let spec = kind.map(|kind| BlockSpec {
        kind,
        placement: match placement {
            Some(Ok(placement)) => placement,
            Some(Err(problem)) => {
                problems.push(problem);
                kind.default_placement()
            }
            None => kind.default_placement(),
        },
        button_color: or_default(button_color, &mut problems),
    });
    ParsedBlock { spec, device, problems }
}

fn or_default<T: Default>(value: Option<Result<T, AttributeError>>, problems: &mut Vec<AttributeError>) -> T {
    match value {
        Some(Ok(value)) => value,
        Some(Err(problem)) => {
            problems.push(problem);
            T::default()
        }
        None => T::default(),
    }
}

/// Every block on the page, in document order.
pub fn all(document: &Document) -> Vec<Element> {
    let Ok(list) = document.query_selector_all(&format!("[{BLOCK_ATTRIBUTE}]")) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|node| wasm_bindgen::JsCast::dyn_into::<Element>(node).ok())
        .collect()
}

/// How a block is named in diagnostics: its `id` if it has one, else its kind and position.
pub fn describe(element: &Element, kind: Option<BlockKind>, position: usize) -> String {
    let id = element.id();
    if !id.is_empty() {
        return format!("#{id}");
    }
    let kind = kind.map_or("?", BlockKind::name);
    format!("[data-amazonpay=\"{kind}\"] ({})", position + 1)
}
