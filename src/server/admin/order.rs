//! 受注編集: one order with Amazon's side beside the shop's (from the core's admin service), its
//! 「クレジット決済状況変更」, its edit (商品変更 / 金額変更), its subscription and its history.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;

use super::display::{Deadline, date_time, money};
use super::input::{self, Form};
use super::layout::{Frame, Message, MessageKind};
use super::orders::deadline;
use super::problems::Problem;
use super::words::{FULFILMENTS, actor, fulfilment, refund_state, status};
use super::{Admin, Lang, Signed, Visit, internal};
use crate::amazon::types::{Charge, ChargePermission, Money};
use crate::core::admin::{OrderView, Read};
use crate::core::now;
use crate::core::operations::{OperationKind, REFUND_ADJUSTMENT, yen};
use crate::core::orders::OrderState;
use crate::core::platform::{OrderId, Refund};
use crate::storage::{OrderDetail, SubscriptionRecord};

/// What the order page shows besides the order: a message, and the form the owner sent when it
/// was refused (shown again as typed).
#[derive(Default)]
pub struct Shown {
    pub message: Option<Message>,
    pub typed: Option<Typed>,
}

/// A form the owner sent, to show again as typed.
pub enum Typed {
    Edit(Form),
    Payment(Form),
}

impl Shown {
    /// The page with why `typed` was refused.
    pub fn refused(text: String, typed: Typed) -> Self {
        Self { message: Some(Message::error(text)), typed: Some(typed) }
    }

    fn payment(&self) -> Option<&Form> {
        match &self.typed {
            Some(Typed::Payment(form)) => Some(form),
            _ => None,
        }
    }

    fn edit(&self) -> Option<&Form> {
        match &self.typed {
            Some(Typed::Edit(form)) => Some(form),
            _ => None,
        }
    }
}

pub fn order_id(id: &str) -> Option<OrderId> {
    id.parse::<i64>().ok().filter(|id| *id > 0).map(OrderId)
}

pub fn missing(visit: Visit) -> Response {
    visit.error(StatusCode::NOT_FOUND, Problem::NoSuchOrder)
}

/// `GET /admin/orders/{id}`: 受注編集.
pub async fn show(Extension(admin): Extension<Arc<Admin>>, Path(id): Path<String>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    let done = url::Url::parse(&format!("http://admin.invalid{}", signed.visit.path))
        .ok()
        .and_then(|url| url.query_pairs().find(|(k, _)| k == "done").map(|(_, v)| v.into_owned()));
    let message = done.as_deref().and_then(|done| done_message(lang, done)).map(Message::done);
    order_page(&admin, signed, id, StatusCode::OK, Shown { message, typed: None }).await
}

/// The order page, answered with `status`.
pub async fn order_page(admin: &Admin, signed: Signed, id: OrderId, status: StatusCode, shown: Shown) -> Response {
    let sheet = match admin.service().order_sheet(id).await {
        Ok(Some(sheet)) => sheet,
        Ok(None) => return missing(signed.visit),
        Err(error) => return internal(signed.visit, &error),
    };
    let page = OrderPage::new(&signed, &sheet.detail, &sheet.view, sheet.subscription.as_ref(), shown);
    signed.visit.page(status, &page)
}

/// 受注編集 (`templates/admin/order.html`).
#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage {
    frame: Frame,
    t: &'static Texts,
    lang: Lang,
    id: i64,
    version: i64,
    csrf: String,
    message: Option<Message>,
    summary: Vec<(&'static str, Value)>,
    state: OrderState,
    status: &'static str,
    /// The credit status form, when the order's state allows an operation.
    payment: Option<PaymentForm>,
    refunds: Vec<RefundRow>,
    amazon: AmazonCells,
    edit: EditForm,
    subscription: Option<SubscriptionCells>,
    history: Vec<HistoryRow>,
}

/// A value of the order's summary.
enum Value {
    Text(String),
    /// The credit status: its name and words.
    Status(&'static str, &'static str),
    Deadline(Deadline),
}

struct PaymentForm {
    /// Shown when the total is above what Amazon authorized.
    above: Option<Message>,
    /// The operations allowed, and whether each is the one chosen.
    operations: Vec<(OperationKind, bool)>,
    /// The amount field's hint; no field for a cancel alone.
    amount_hint: Option<String>,
    amount: String,
    force: bool,
}

struct RefundRow {
    date: String,
    id: String,
    amount: String,
    state: &'static str,
    shop: &'static str,
    amazon: String,
}

struct AmazonCells {
    permission_id: String,
    permission: String,
    charge_id: String,
    charge: String,
}

struct EditLine {
    row: usize,
    name: String,
    price: String,
    quantity: String,
}

struct EditForm {
    lines: Vec<EditLine>,
    fee: String,
    discount: String,
    fulfilment: String,
    fulfilments: Vec<(&'static str, &'static str)>,
}

struct SubscriptionCells {
    amount: String,
    next_cycle: String,
    active: bool,
}

struct HistoryRow {
    date: String,
    actor: String,
    from: &'static str,
    to: &'static str,
    detail: String,
}

impl OrderPage {
    fn new(
        signed: &Signed,
        detail: &OrderDetail,
        view: &OrderView,
        subscription: Option<&SubscriptionRecord>,
        shown: Shown,
    ) -> Self {
        let lang = signed.visit.lang;
        let t = lang.pick(&JA, &EN);
        let order = &detail.order;
        let title = match lang {
            Lang::Ja => format!("受注編集 (注文番号 {})", order.number),
            Lang::En => format!("Order {}", order.number),
        };
        let refunds = view
            .refunds
            .iter()
            .map(|refund| RefundRow {
                date: date_time(refund.created_at),
                id: refund.refund_id.clone(),
                amount: money(lang, refund.amount),
                state: refund.state.name(),
                shop: refund_state(lang, refund.state),
                amazon: amazon_refund(lang, refund, view),
            })
            .collect();
        Self {
            frame: signed.frame(title, "/admin/orders"),
            t,
            lang,
            id: order.id.0,
            version: order.version,
            csrf: signed.owner.csrf.clone(),
            summary: summary(lang, t, detail),
            state: order.state,
            status: status(lang, order.state),
            payment: payment_form(lang, view, shown.payment()),
            refunds,
            amazon: AmazonCells {
                permission_id: order.charge_permission_id.clone().unwrap_or_else(|| "-".into()),
                permission: read_text(lang, view.amazon.permission.as_ref(), permission_text),
                charge_id: order.charge_id.clone().unwrap_or_else(|| "-".into()),
                charge: read_text(lang, view.amazon.charge.as_ref(), |charge| charge_text(lang, charge)),
            },
            edit: edit_form(lang, detail, shown.edit()),
            subscription: subscription.map(|subscription| SubscriptionCells {
                amount: money(lang, subscription.amount),
                next_cycle: subscription.next_cycle.clone(),
                active: subscription.active,
            }),
            history: detail
                .events
                .iter()
                .map(|event| HistoryRow {
                    date: date_time(event.at),
                    actor: actor(lang, &event.actor),
                    from: event.from.map_or("-", |state| status(lang, state)),
                    to: status(lang, event.to),
                    detail: if event.forced {
                        format!("{}{}", t.forced_line, event.detail)
                    } else {
                        event.detail.clone()
                    },
                })
                .collect(),
            message: shown.message,
        }
    }

    fn operation_label(&self, operation: &OperationKind) -> &'static str {
        match *operation {
            OperationKind::Capture => self.lang.pick("実売上", "Capture (実売上)"),
            OperationKind::Cancel => self.lang.pick("キャンセル", "Cancel (キャンセル)"),
            OperationKind::Refund => self.lang.pick("返金", "Refund (返金)"),
        }
    }

    fn unchangeable(&self) -> &'static str {
        match self.state {
            OrderState::Capturing => self.lang.pick(
                "Amazon Pay が実売上を確定するのを待っています。確定すると自動で「実売上」になります。",
                "Waiting for Amazon Pay to complete the capture; the order then shows as captured.",
            ),
            _ => self.lang.pick(
                "この受注のクレジット決済状況は変更できません。",
                "Nothing can be changed on this order's payment.",
            ),
        }
    }
}

fn summary(lang: Lang, t: &'static Texts, detail: &OrderDetail) -> Vec<(&'static str, Value)> {
    let order = &detail.order;
    let kind = if order.recurring { t.subscription } else { t.one_time };
    let mut rows = vec![
        (t.number, Value::Text(order.number.clone())),
        (t.date, Value::Text(date_time(order.created_at))),
        (t.name, Value::Text(detail.name.clone())),
        (t.email, Value::Text(detail.email.clone().unwrap_or_else(|| "-".into()))),
        (t.payment, Value::Text("Amazon Pay".into())),
        (t.kind, Value::Text(kind.into())),
        (t.total, Value::Text(money(lang, order.total))),
        (t.fulfilment, Value::Text(fulfilment(lang, &detail.fulfilment).into())),
        (t.credit_status, Value::Status(order.state.name(), status(lang, order.state))),
    ];
    if let Some(authorization) = order.authorized {
        rows.push((t.authorized, Value::Text(money(lang, authorization.amount))));
    }
    if order.state == OrderState::Authorized || order.state == OrderState::Expired {
        let cell = deadline(lang, order.state, order.authorized.map(|a| a.at), now());
        rows.push((t.deadline, Value::Deadline(cell)));
    }
    if order.captured > 0 {
        rows.push((t.captured, Value::Text(money(lang, order.captured))));
    }
    if order.refunded > 0 {
        rows.push((t.refunded, Value::Text(money(lang, order.refunded))));
    }
    if !order.note.is_empty() && order.state == OrderState::CardUnsettled {
        rows.push((t.note, Value::Text(order.note.clone())));
    }
    rows
}

fn payment_form(lang: Lang, view: &OrderView, typed: Option<&Form>) -> Option<PaymentForm> {
    let order = &view.order;
    let available = OperationKind::allowed(order.state);
    let first = *available.first()?;
    let authorized = order.authorized.map_or(order.total, |a| a.amount);
    let above = (order.total > authorized && available.contains(&OperationKind::Capture)).then(|| {
        let text = match lang {
            Lang::Ja => format!(
                "最終請求金額 ({}) が購入時の金額 ({}) より高いため AmazonPay は利用できません。他の支払方法に変更するなどご対応ください。",
                money(lang, order.total),
                money(lang, authorized)
            ),
            Lang::En => format!(
                "The total ({}) is above the amount authorized at purchase ({}): Amazon Pay cannot be used. Change the payment method.",
                money(lang, order.total),
                money(lang, authorized)
            ),
        };
        Message { kind: MessageKind::Warn, text }
    });
    // A typed choice that is no operation chooses none.
    let chosen = match typed.and_then(|form| form.get("op")) {
        Some(op) => OperationKind::parse(op),
        None => Some(first),
    };
    let left = order.captured.saturating_sub(order.refunded);
    let amount = match typed.and_then(|form| form.get("amount")) {
        Some(typed) => typed.to_owned(),
        None if chosen == Some(OperationKind::Refund) => left.to_string(),
        None => order.total.to_string(),
    };
    let amount_hint = available.iter().any(|op| *op != OperationKind::Cancel).then(|| {
        match (available.contains(&OperationKind::Refund), lang) {
            (true, Lang::Ja) => format!("返金できるのは {} までです。", money(lang, left)),
            (true, Lang::En) => format!("At most {} can be refunded.", money(lang, left)),
            (false, Lang::Ja) => format!(
                "初期値は最終請求金額です。購入時より低い金額は減額として実売上にします (上限 {})。",
                money(lang, authorized)
            ),
            (false, Lang::En) => {
                format!(
                    "The order total by default; a lower amount captures less (at most {}).",
                    money(lang, authorized)
                )
            }
        }
    });
    Some(PaymentForm {
        above,
        operations: available.iter().map(|&op| (op, chosen == Some(op))).collect(),
        amount_hint,
        amount,
        force: typed.is_some_and(|form| form.ticked("force")),
    })
}

/// What Amazon holds of `refund`.
fn amazon_refund(lang: Lang, refund: &Refund, view: &OrderView) -> String {
    if refund.refund_id.starts_with(REFUND_ADJUSTMENT) {
        return lang
            .pick(
                "ショップでの調整 (Amazon の返金額に合わせたもの)",
                "the shop's adjustment to Amazon's refunded amount",
            )
            .to_owned();
    }
    read_text(lang, view.amazon.refund(&refund.refund_id), |refund| String::from(refund.status_details.state.clone()))
}

/// One of Amazon's objects in words: as `text` says when read, `-` when there is none.
fn read_text<T>(lang: Lang, read: Option<&Read<T>>, text: impl Fn(&T) -> String) -> String {
    match read {
        Some(Ok(object)) => text(object),
        Some(Err(_)) => lang.pick("取得できませんでした", "could not be read").into(),
        None => "-".into(),
    }
}

/// `Closed MerchantClosed, …`.
fn permission_text(permission: &ChargePermission) -> String {
    let details = &permission.status_details;
    let reasons = details.reasons.as_deref().unwrap_or_default();
    let reasons = reasons.iter().map(|r| r.reason_code.as_str()).collect::<Vec<_>>().join(", ");
    format!("{} {reasons}", details.state).trim().to_owned()
}

/// `Captured / オーソリ 3,630 / 実売上 3,630`.
fn charge_text(lang: Lang, charge: &Charge) -> String {
    let amount = |money: &Option<Money>| money.as_ref().and_then(Money::as_yen).map(yen);
    let details = &charge.status_details;
    let mut text =
        format!("{} {}", details.state, details.reason_code.as_deref().unwrap_or_default()).trim().to_owned();
    if let Some(authorized) = amount(&charge.charge_amount) {
        text.push_str(&format!(" / {} {authorized}", lang.pick("オーソリ", "authorized")));
    }
    if let Some(captured) = amount(&charge.capture_amount) {
        text.push_str(&format!(" / {} {captured}", lang.pick("実売上", "captured")));
    }
    text
}

fn edit_form(lang: Lang, detail: &OrderDetail, typed: Option<&Form>) -> EditForm {
    let (names, prices, quantities, fee, discount, fulfilment): (Vec<String>, Vec<String>, Vec<String>, _, _, _) =
        match typed {
            Some(form) => (
                form.all("line_name").to_vec(),
                form.all("line_price").to_vec(),
                form.all("line_quantity").to_vec(),
                form.get("shipping_fee").unwrap_or_default().to_owned(),
                form.get("discount").unwrap_or_default().to_owned(),
                form.get("fulfilment").unwrap_or("new").to_owned(),
            ),
            // The lines, and an empty one to add a product.
            None => (
                detail.lines.iter().map(|l| l.name.clone()).chain([String::new()]).collect(),
                detail.lines.iter().map(|l| l.unit_price.to_string()).chain([String::new()]).collect(),
                detail.lines.iter().map(|l| l.quantity.to_string()).chain([String::new()]).collect(),
                detail.shipping_fee.to_string(),
                detail.discount.to_string(),
                detail.fulfilment.clone(),
            ),
        };
    let lines = names
        .into_iter()
        .zip(prices)
        .zip(quantities)
        .take(input::MAX_LINES + 1)
        .enumerate()
        .map(|(n, ((name, price), quantity))| EditLine { row: n + 1, name, price, quantity })
        .collect();
    let fulfilments = FULFILMENTS.iter().map(|&value| (value, super::words::fulfilment(lang, value))).collect();
    EditForm { lines, fee, discount, fulfilment, fulfilments }
}

/// What a `?done=` after an operation says.
fn done_message(lang: Lang, done: &str) -> Option<&'static str> {
    let (ja, en) = match done {
        "captured" => (
            "「実売上」に変更しました。Amazon Pay でも実売上になっています。",
            "Captured; Amazon Pay shows the capture.",
        ),
        "capturing" => (
            "実売上を依頼しました。オーソリから 7 日を過ぎているため、Amazon Pay が後で確定します (実売上処理中)。",
            "Capture requested; more than 7 days after the authorization, Amazon Pay completes it later.",
        ),
        "canceled" => (
            "キャンセルしました (Amazon Pay のオーソリを取り消しました)。",
            "Canceled (the authorization was canceled at Amazon Pay).",
        ),
        "refunded" => (
            "返金を依頼しました。Amazon Pay が確定するまで「返金処理中」と表示します。",
            "Refund requested; it shows as in progress until Amazon Pay confirms it.",
        ),
        "forced" => (
            "「エラーを無視して変更する」で状況を合わせました。Amazon Pay 側の状態は履歴に記録しました。",
            "The status was set, ignoring Amazon Pay's error; what Amazon Pay holds is recorded in the history.",
        ),
        "edited" => ("受注を変更しました。", "The order was changed."),
        "synced" => ("Amazon Pay の最新の状態を反映しました。", "The order now follows Amazon Pay's record."),
        "unchanged" => ("Amazon Pay の状態と一致しています (変更なし)。", "The order already agrees with Amazon Pay."),
        "subscription" => (
            "定期購入を解約しました (Amazon Pay の支払い設定をクローズしました)。",
            "The subscription was cancelled (its Amazon Pay charge permission is closed).",
        ),
        _ => return None,
    };
    Some(lang.pick(ja, en))
}

/// The order page's words.
struct Texts {
    summary: &'static str,
    number: &'static str,
    date: &'static str,
    name: &'static str,
    email: &'static str,
    payment: &'static str,
    kind: &'static str,
    subscription: &'static str,
    one_time: &'static str,
    total: &'static str,
    fulfilment: &'static str,
    credit_status: &'static str,
    authorized: &'static str,
    deadline: &'static str,
    captured: &'static str,
    refunded: &'static str,
    note: &'static str,
    payment_heading: &'static str,
    new_status: &'static str,
    amount: &'static str,
    yen: &'static str,
    force: &'static str,
    force_hint: &'static str,
    change: &'static str,
    refunds: &'static str,
    requested: &'static str,
    refund_id: &'static str,
    refund_amount: &'static str,
    shop_state: &'static str,
    amazon_state: &'static str,
    amazon_caption: &'static str,
    object: &'static str,
    permission: &'static str,
    charge: &'static str,
    sync: &'static str,
    edit_heading: &'static str,
    edit_hint: &'static str,
    products: &'static str,
    product: &'static str,
    unit_price_yen: &'static str,
    unit_price: &'static str,
    quantity: &'static str,
    shipping_fee: &'static str,
    discount: &'static str,
    fulfilment_hint: &'static str,
    save: &'static str,
    monthly: &'static str,
    next_cycle: &'static str,
    subscription_state: &'static str,
    active: &'static str,
    cancelled: &'static str,
    cancel_question: &'static str,
    cancel_subscription: &'static str,
    history: &'static str,
    history_caption: &'static str,
    history_columns: [&'static str; 5],
    /// Before the detail of a line the owner forced (「エラーを無視して変更する」).
    forced_line: &'static str,
}

const JA: Texts = Texts {
    summary: "受注情報",
    number: "注文番号",
    date: "受注日",
    name: "お名前",
    email: "メールアドレス",
    payment: "支払方法",
    kind: "種別",
    subscription: "定期購入",
    one_time: "通常購入",
    total: "購入金額 (最終請求金額)",
    fulfilment: "対応状況",
    credit_status: "クレジット決済状況",
    authorized: "オーソリ金額",
    deadline: "オーソリ期限",
    captured: "実売上金額",
    refunded: "返金額",
    note: "備考",
    payment_heading: "クレジット決済状況変更",
    new_status: "変更後のクレジット決済状況",
    amount: "金額 (円、実売上・返金)",
    yen: "円",
    force: "エラーを無視して変更する",
    force_hint: "Amazon Pay 側の管理画面 (セラーセントラル) で金額の修正やキャンセル等を行い、Amazon Pay が操作を受け付けない場合に、クラフトカート側の状況を強制的に合わせます。",
    change: "変更",
    refunds: "返金",
    requested: "依頼日時",
    refund_id: "返金 ID (Amazon)",
    refund_amount: "金額",
    shop_state: "ショップの状態",
    amazon_state: "Amazon の状態",
    amazon_caption: "Amazon Pay の ID と、Amazon の現在の状態 (ショップの状態と並べて)",
    object: "項目",
    permission: "支払い設定 (Charge Permission)",
    charge: "請求 (Charge)",
    sync: "Amazon Pay の最新の状態を反映する",
    edit_heading: "受注内容の変更 (商品変更 / 金額変更)",
    edit_hint: "数量を 0 にすると商品を削除します。空の行に入力すると商品を追加します。最終請求金額が購入時より低い場合は、変更後に「実売上」にすると減額して請求します。既に実売上の場合は「返金」で差額を返してください。",
    products: "商品",
    product: "商品名",
    unit_price_yen: "単価 (円)",
    unit_price: "単価",
    quantity: "数量",
    shipping_fee: "送料 (円)",
    discount: "値引き (円)",
    fulfilment_hint: "対応状況を「キャンセル」にしただけでは、Amazon Pay のクレジット決済状況は変わりません。上の「クレジット決済状況変更」でキャンセル・返金してください。",
    save: "この内容で登録",
    monthly: "毎月の金額",
    next_cycle: "次回",
    subscription_state: "状態",
    active: "継続中",
    cancelled: "解約済み",
    cancel_question: "定期購入を解約します。よろしいですか?",
    cancel_subscription: "定期購入を解約する (Amazon Pay の支払い設定をクローズ)",
    history: "履歴",
    history_caption: "クレジット決済状況の変更履歴 (古い順)",
    history_columns: ["日時", "操作者", "変更前", "変更後", "内容 (Amazon の ID と回答)"],
    forced_line: "エラーを無視して変更: ",
};

const EN: Texts = Texts {
    summary: "Order",
    number: "Order no.",
    date: "Date",
    name: "Name",
    email: "E-mail",
    payment: "Payment",
    kind: "Kind",
    subscription: "Subscription",
    one_time: "One-time",
    total: "Total",
    fulfilment: "Fulfilment",
    credit_status: "Credit status",
    authorized: "Authorized",
    deadline: "Authorization ends",
    captured: "Captured",
    refunded: "Refunded",
    note: "Note",
    payment_heading: "Change the credit status",
    new_status: "New credit status",
    amount: "Amount (yen, capture and refund)",
    yen: "yen",
    force: "Ignore the error and change (エラーを無視して変更する)",
    force_hint: "When the order was changed in Seller Central and Amazon Pay refuses the operation, set the shop's status anyway.",
    change: "Change",
    refunds: "Refunds",
    requested: "Requested",
    refund_id: "Refund ID (Amazon)",
    refund_amount: "Amount",
    shop_state: "Shop's state",
    amazon_state: "Amazon's state",
    amazon_caption: "Amazon Pay's IDs and Amazon's current state beside the shop's",
    object: "Object",
    permission: "Charge permission",
    charge: "Charge",
    sync: "Follow Amazon Pay's current record",
    edit_heading: "Edit the order (products and amounts)",
    edit_hint: "A quantity of 0 removes a line; fill the empty row to add one. A lower total is captured as the lower amount; after capture, refund the difference.",
    products: "Products",
    product: "Product",
    unit_price_yen: "Unit price (yen)",
    unit_price: "Unit price",
    quantity: "Quantity",
    shipping_fee: "Shipping fee (yen)",
    discount: "Discount (yen)",
    fulfilment_hint: "Setting the fulfilment to canceled does not change Amazon Pay: cancel or refund with the credit status form above.",
    save: "Save",
    monthly: "Monthly amount",
    next_cycle: "Next cycle",
    subscription_state: "State",
    active: "Active",
    cancelled: "Cancelled",
    cancel_question: "Cancel this subscription?",
    cancel_subscription: "Cancel the subscription (closes its charge permission)",
    history: "History",
    history_caption: "Changes of the payment, oldest first",
    history_columns: ["When", "Who", "From", "To", "Detail (Amazon's IDs and answer)"],
    forced_line: "Changed ignoring the error: ",
};
