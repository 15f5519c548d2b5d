//! What the shop owner types, read strictly: form bodies, whole-yen amounts, quantities and the
//! lines of an edited order. Anything else is refused with a sentence saying what to type.

use std::collections::HashMap;

use crate::core::operations::MAX_CHARGE_YEN;
use crate::core::platform::OrderLine;
use crate::storage::OrderEdit;

/// The most lines an order may have after an edit.
pub const MAX_LINES: usize = 50;
/// The most of one product on a line.
pub const MAX_QUANTITY: u64 = 999;
/// The longest product name.
const MAX_NAME: usize = 100;
/// The longest number the owner may type (with separators).
const MAX_DIGITS: usize = 20;

/// A form body: every value of every field, in order.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, Vec<String>>);

impl Form {
    /// Reads an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Self {
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            fields.entry(name.into_owned()).or_default().push(value.into_owned());
        }
        Self(fields)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|values| values.first()).map(String::as_str)
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether a checkbox `name` is ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Why a typed value was refused: the owner's words, Japanese and English.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// In Japanese.
    pub ja: String,
    /// In English.
    pub en: String,
}

impl Invalid {
    fn new(ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self { ja: ja.into(), en: en.into() }
    }
}

/// A whole number typed by the owner: ASCII or full-width digits (１０００), optionally grouped
/// with commas (1,000); no sign, no decimals, no spaces inside.
pub fn whole_number(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_DIGITS {
        return None;
    }
    let ascii: String = text
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c),
            '，' => ',',
            c => c,
        })
        .collect();
    // Commas only as thousands separators: 1,000 or 10,000,000, never 1,0 or ,100.
    let groups: Vec<&str> = ascii.split(',').collect();
    let grouped =
        groups.len() == 1 || ((1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|group| group.len() == 3));
    if !grouped || !groups.iter().all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    groups.concat().parse().ok()
}

/// An amount of money to capture or refund: whole yen, above 0, at most Amazon's limit.
pub fn amount(text: &str, what_ja: &str, what_en: &str) -> Result<u64, Invalid> {
    match whole_number(text) {
        Some(amount) if (1..=MAX_CHARGE_YEN).contains(&amount) => Ok(amount),
        Some(0) => Err(Invalid::new(
            format!("{what_ja}は 1 円以上で入力してください。"),
            format!("The {what_en} must be at least ¥1."),
        )),
        Some(_) => Err(Invalid::new(
            format!("{what_ja}は Amazon Pay の上限 10,000,000 円以下で入力してください。"),
            format!("The {what_en} must be at most ¥10,000,000 (Amazon Pay's limit)."),
        )),
        None => Err(Invalid::new(
            format!("{what_ja}は円単位の整数で入力してください (例: 3630)。"),
            format!("Enter the {what_en} as a whole number of yen (e.g. 3630)."),
        )),
    }
}

/// An amount that may be 0 (送料, 値引き, a unit price), at most Amazon's limit.
fn fee(text: &str, what_ja: &str, what_en: &str) -> Result<u64, Invalid> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    match whole_number(text) {
        Some(amount) if amount <= MAX_CHARGE_YEN => Ok(amount),
        _ => Err(Invalid::new(
            format!("{what_ja}は 0〜10,000,000 円の整数で入力してください。"),
            format!("The {what_en} must be a whole number of yen from 0 to 10,000,000."),
        )),
    }
}

/// 受注編集 (商品変更 / 金額変更): the lines (`line_name`, `line_price`, `line_quantity`, in order;
/// quantity 0 removes a line, a row left blank is ignored), `shipping_fee`, `discount` and
/// `fulfilment`.
pub fn order_edit(form: &Form) -> Result<OrderEdit, Invalid> {
    let names = form.all("line_name");
    let prices = form.all("line_price");
    let quantities = form.all("line_quantity");
    if names.len() != prices.len() || names.len() != quantities.len() || names.len() > MAX_LINES + 1 {
        return Err(Invalid::new("商品の行が正しく送信されませんでした。", "The order lines were not sent correctly."));
    }
    let mut lines = Vec::new();
    for ((name, price), quantity) in names.iter().zip(prices).zip(quantities) {
        let name = name.trim();
        if name.is_empty() && price.trim().is_empty() && quantity.trim().is_empty() {
            continue;
        }
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "商品名は 1〜100 文字で入力してください。",
                "Product names must be 1 to 100 characters.",
            ));
        }
        let unit_price = fee(price, "単価", "unit price")?;
        let quantity = match whole_number(quantity) {
            Some(quantity) if quantity <= MAX_QUANTITY => quantity,
            _ => {
                return Err(Invalid::new(
                    "数量は 0〜999 の整数で入力してください (0 で削除)。",
                    "Quantities must be whole numbers from 0 to 999 (0 removes the line).",
                ));
            }
        };
        if quantity > 0 {
            lines.push(OrderLine { name: name.to_owned(), unit_price, quantity });
        }
    }
    if lines.is_empty() {
        return Err(Invalid::new("商品を 1 つ以上残してください。", "Keep at least one product in the order."));
    }
    if lines.len() > MAX_LINES {
        return Err(Invalid::new("商品は 50 行までです。", "An order has at most 50 lines."));
    }
    let shipping_fee = fee(form.get("shipping_fee").unwrap_or_default(), "送料", "shipping fee")?;
    let discount = fee(form.get("discount").unwrap_or_default(), "値引き", "discount")?;
    let goods: u64 = lines.iter().map(|line| line.unit_price * line.quantity).sum();
    let total = goods + shipping_fee;
    if discount >= total {
        return Err(Invalid::new(
            "値引きは商品と送料の合計より小さくしてください (合計が 0 円以下になります)。",
            "The discount must be less than products and shipping together (the total would be ¥0 or less).",
        ));
    }
    if total - discount > MAX_CHARGE_YEN {
        return Err(Invalid::new(
            "合計金額が Amazon Pay の上限 10,000,000 円を超えます。",
            "The total is above Amazon Pay's limit of ¥10,000,000.",
        ));
    }
    let fulfilment = match form.get("fulfilment").unwrap_or("new") {
        status @ ("new" | "shipped" | "canceled") => status.to_owned(),
        _ => return Err(Invalid::new("対応状況を選択してください。", "Choose a fulfilment status.")),
    };
    Ok(OrderEdit { lines, shipping_fee, discount, fulfilment })
}

/// A same-site path under `/admin/` to return to after the login; anything else is dropped.
pub fn admin_path(next: &str) -> Option<&str> {
    let ok = next.starts_with("/admin/")
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() <= 200
        && next.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_yen_is_read_from_ascii_full_width_and_grouped_digits() {
        assert_eq!(whole_number("3630"), Some(3_630));
        assert_eq!(whole_number(" 1,000 "), Some(1_000));
        assert_eq!(whole_number("１０００"), Some(1_000));
        assert_eq!(whole_number("１，０００"), Some(1_000));
        for bad in ["", "1,000.5", "-1", "+1", "1e3", "10 000", ",100", "100,", "٣", "0x10", "99999999999999999999999"]
        {
            assert_eq!(whole_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_above_zero_and_within_amazons_limit() {
        assert_eq!(amount("10,000,000", "金額", "amount"), Ok(10_000_000));
        for bad in ["0", "10000001", "1,000.5", "-1", "abc"] {
            let refused = amount(bad, "金額", "amount").unwrap_err();
            assert!(refused.ja.contains("金額"), "{bad}: {refused:?}");
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Form::parse(body.as_bytes())
    }

    #[test]
    fn an_edit_keeps_lines_in_order_drops_zero_quantities_and_ignores_blank_rows() {
        let edit = order_edit(&form(&[
            ("line_name", "マグカップ"),
            ("line_price", "2,750"),
            ("line_quantity", "2"),
            ("line_name", "ふきん"),
            ("line_price", "1980"),
            ("line_quantity", "0"),
            ("line_name", ""),
            ("line_price", ""),
            ("line_quantity", ""),
            ("shipping_fee", "880"),
            ("discount", "500"),
            ("fulfilment", "shipped"),
        ]))
        .unwrap();
        assert_eq!(edit.lines, [OrderLine { name: "マグカップ".into(), unit_price: 2_750, quantity: 2 }]);
        assert_eq!((edit.shipping_fee, edit.discount, edit.fulfilment.as_str()), (880, 500, "shipped"));
    }

    #[test]
    fn bad_edits_are_refused_with_a_reason() {
        let line = |price: &str, quantity: &str| {
            vec![
                ("line_name", "マグカップ".to_owned()),
                ("line_price", price.to_owned()),
                ("line_quantity", quantity.to_owned()),
            ]
        };
        let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
            (line("2750", "0"), "1 つ以上"),
            (line("2750", "1000"), "数量"),
            (line("2750", "1.5"), "数量"),
            (line("-1", "1"), "単価"),
            (line("20000000", "1"), "単価"),
            ([line("2750", "1"), vec![("discount", "2750".into())]].concat(), "値引き"),
            ([line("5000000", "2"), vec![("shipping_fee", "1".into())]].concat(), "上限"),
            ([line("2750", "1"), vec![("fulfilment", "lost".into())]].concat(), "対応状況"),
            (vec![("line_name", "x".into())], "正しく"),
        ];
        for (pairs, expected) in cases {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let refused = order_edit(&form(&pairs)).unwrap_err();
            assert!(refused.ja.contains(expected), "{pairs:?}: {refused:?}");
        }
    }

    #[test]
    fn only_admin_paths_are_returned_to() {
        assert_eq!(admin_path("/admin/orders/3"), Some("/admin/orders/3"));
        for bad in ["/", "https://evil.example/admin/", "//evil.example/admin/", "/admin/\\evil", "/shop", "/admin/a b"]
        {
            assert_eq!(admin_path(bad), None, "{bad}");
        }
    }
}
