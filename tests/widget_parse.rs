//! The widget in a real browser (headless Chromium): block attributes, the one-button rule and
//! visibility.
#![cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod browser;

use amazonpay2::contract::{BlockKind, BlockSpec, ButtonColor, Device, Placement};
use amazonpay2::widget::blocks::{ParsedBlock, parse};
use amazonpay2::widget::rule::{Candidate, is_visible, winner};
use browser::*;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::Element;

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
