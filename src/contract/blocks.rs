//! The block vocabulary shop designers write: `data-amazonpay="…"` and its optional attributes.
//!
//! Parsing is strict (exact spelling, as Amazon's own option values) so that a typo shows up as a
//! diagnostic instead of silently meaning something else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a block is for (`data-amazonpay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// The Amazon Pay button that starts checkout (`productType: PayAndShip`).
    Checkout,
    /// The Amazon sign-in button for guests (`productType: SignIn`).
    Login,
    /// My Page: link (Amazon sign-in) or the linked state with the shop's unlink button.
    Mypage,
    /// Only shows the widget's notices (after an Amazon sign-in); never a button.
    Notice,
    /// The order confirmation: Amazon's shipping address and payment method, with Amazon's own
    /// "change" actions; never a button.
    Review,
}

impl BlockKind {
    /// Every kind, as designers spell it.
    pub const NAMES: &'static [&'static str] = &["checkout", "login", "mypage", "notice", "review"];

    /// Parses the value of `data-amazonpay`.
    pub fn from_attribute(value: &str) -> Result<Self, AttributeError> {
        match value.trim() {
            "checkout" => Ok(Self::Checkout),
            "login" => Ok(Self::Login),
            "mypage" => Ok(Self::Mypage),
            "notice" => Ok(Self::Notice),
            "review" => Ok(Self::Review),
            _ => Err(AttributeError::new("data-amazonpay", value, Self::NAMES)),
        }
    }

    /// The name designers write.
    pub fn name(self) -> &'static str {
        match self {
            Self::Checkout => "checkout",
            Self::Login => "login",
            Self::Mypage => "mypage",
            Self::Notice => "notice",
            Self::Review => "review",
        }
    }

    /// Whether the server decides what the block shows (every kind but `notice`).
    pub fn asks_server(self) -> bool {
        self != Self::Notice
    }

    /// Rank in the one-button rule (README, "One Amazon button per page"): checkout beats mypage
    /// beats login.
    pub fn priority(self) -> u8 {
        match self {
            Self::Checkout => 0,
            Self::Mypage => 1,
            Self::Login => 2,
            Self::Notice | Self::Review => 3,
        }
    }

    /// Amazon's `placement` when the block names none.
    pub fn default_placement(self) -> Placement {
        match self {
            Self::Checkout => Placement::Checkout,
            Self::Login | Self::Mypage | Self::Notice | Self::Review => Placement::Other,
        }
    }
}

/// Amazon's `placement` option (`data-placement`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Placement {
    /// The shop's top page.
    Home,
    /// A product page.
    Product,
    /// The cart.
    Cart,
    /// The checkout pages.
    Checkout,
    /// Anywhere else.
    Other,
}

impl Placement {
    /// Every value, as Amazon spells it.
    pub const NAMES: &'static [&'static str] = &["Home", "Product", "Cart", "Checkout", "Other"];

    /// The value as Amazon spells it (and the wire format).
    pub fn name(self) -> &'static str {
        match self {
            Self::Home => "Home",
            Self::Product => "Product",
            Self::Cart => "Cart",
            Self::Checkout => "Checkout",
            Self::Other => "Other",
        }
    }

    /// Parses the value of `data-placement`.
    pub fn from_attribute(value: &str) -> Result<Self, AttributeError> {
        match value.trim() {
            "Home" => Ok(Self::Home),
            "Product" => Ok(Self::Product),
            "Cart" => Ok(Self::Cart),
            "Checkout" => Ok(Self::Checkout),
            "Other" => Ok(Self::Other),
            _ => Err(AttributeError::new("data-placement", value, Self::NAMES)),
        }
    }
}

/// Amazon's `buttonColor` option (`data-button-color`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ButtonColor {
    /// Amazon's default.
    #[default]
    Gold,
    /// For light backgrounds.
    LightGray,
    /// For dark backgrounds.
    DarkGray,
}

impl ButtonColor {
    /// Every value, as Amazon spells it.
    pub const NAMES: &'static [&'static str] = &["Gold", "LightGray", "DarkGray"];

    /// The value as Amazon spells it (and the wire format).
    pub fn name(self) -> &'static str {
        match self {
            Self::Gold => "Gold",
            Self::LightGray => "LightGray",
            Self::DarkGray => "DarkGray",
        }
    }

    /// Parses the value of `data-button-color`.
    pub fn from_attribute(value: &str) -> Result<Self, AttributeError> {
        match value.trim() {
            "Gold" => Ok(Self::Gold),
            "LightGray" => Ok(Self::LightGray),
            "DarkGray" => Ok(Self::DarkGray),
            _ => Err(AttributeError::new("data-button-color", value, Self::NAMES)),
        }
    }
}

/// Which layout a block uses (`data-device`). Only the widget needs it; the server never sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// Chosen from the viewport, so one block serves both the PC and the smartphone template.
    #[default]
    Auto,
    /// The PC layout.
    Pc,
    /// The smartphone layout.
    Sp,
}

impl Device {
    /// Every value, as designers spell it.
    pub const NAMES: &'static [&'static str] = &["auto", "pc", "sp"];

    /// Parses the value of `data-device`.
    pub fn from_attribute(value: &str) -> Result<Self, AttributeError> {
        match value.trim() {
            "auto" => Ok(Self::Auto),
            "pc" => Ok(Self::Pc),
            "sp" => Ok(Self::Sp),
            _ => Err(AttributeError::new("data-device", value, Self::NAMES)),
        }
    }
}

/// What the widget tells the server about one block: all the server needs, nothing it could sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockSpec {
    /// The block's kind.
    pub kind: BlockKind,
    /// Amazon's `placement` for the button.
    pub placement: Placement,
    /// Amazon's `buttonColor` for the button.
    pub button_color: ButtonColor,
}

/// A block attribute whose value is not one of those allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeError {
    /// The attribute, e.g. `data-placement`.
    pub attribute: &'static str,
    /// The value found, shortened to keep diagnostics readable.
    pub value: String,
    /// The values allowed.
    pub expected: &'static [&'static str],
}

impl AttributeError {
    /// The longest value quoted back in a diagnostic.
    const MAX_QUOTED_CHARS: usize = 40;

    fn new(attribute: &'static str, value: &str, expected: &'static [&'static str]) -> Self {
        let mut quoted: String = value.chars().take(Self::MAX_QUOTED_CHARS).collect();
        if value.chars().count() > Self::MAX_QUOTED_CHARS {
            quoted.push('…');
        }
        Self { attribute, value: quoted, expected }
    }
}

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=\"{}\" is not one of: {}", self.attribute, self.value, self.expected.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_exactly_and_rank_checkout_first() {
        assert_eq!(BlockKind::from_attribute("checkout"), Ok(BlockKind::Checkout));
        assert_eq!(BlockKind::from_attribute(" login "), Ok(BlockKind::Login));
        assert!(BlockKind::from_attribute("Checkout").is_err());
        assert!(BlockKind::from_attribute("").is_err());
        let mut kinds = [BlockKind::Login, BlockKind::Checkout, BlockKind::Mypage];
        kinds.sort_by_key(|k| k.priority());
        assert_eq!(kinds, [BlockKind::Checkout, BlockKind::Mypage, BlockKind::Login]);
    }

    #[test]
    fn names_are_the_wire_format() {
        for name in Placement::NAMES {
            let placement = Placement::from_attribute(name).unwrap();
            assert_eq!(placement.name(), *name);
            assert_eq!(serde_json::to_string(&placement).unwrap(), format!("\"{name}\""));
        }
        for name in ButtonColor::NAMES {
            let color = ButtonColor::from_attribute(name).unwrap();
            assert_eq!(serde_json::to_string(&color).unwrap(), format!("\"{}\"", color.name()));
        }
        for name in BlockKind::NAMES {
            let kind = BlockKind::from_attribute(name).unwrap();
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
        }
    }

    #[test]
    fn bad_values_name_the_attribute_and_the_choices() {
        let err = Placement::from_attribute("cart").unwrap_err();
        assert_eq!(err.to_string(), "data-placement=\"cart\" is not one of: Home, Product, Cart, Checkout, Other");
    }

    #[test]
    fn long_hostile_values_are_shortened_in_diagnostics() {
        let err = ButtonColor::from_attribute(&"<script>".repeat(100)).unwrap_err();
        assert_eq!(err.value.chars().count(), AttributeError::MAX_QUOTED_CHARS + 1);
        assert!(err.value.ends_with('…'));
    }

    #[test]
    fn block_spec_wire_format_is_camel_case_and_strict() {
        let spec =
            BlockSpec { kind: BlockKind::Mypage, placement: Placement::Other, button_color: ButtonColor::DarkGray };
        let json = r#"{"kind":"mypage","placement":"Other","buttonColor":"DarkGray"}"#;
        assert_eq!(serde_json::to_string(&spec).unwrap(), json);
        assert_eq!(serde_json::from_str::<BlockSpec>(json).unwrap(), spec);
        let extra = r#"{"kind":"login","placement":"Other","buttonColor":"Gold","payloadJSON":"{}"}"#;
        assert!(serde_json::from_str::<BlockSpec>(extra).is_err());
    }
}
