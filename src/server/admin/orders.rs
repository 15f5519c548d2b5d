//! 受注一覧, 受注編集 and 「クレジット決済状況変更」: the orders, one order with Amazon's side beside
//! the shop's, its edit (商品変更 / 金額変更) and the owner's operations on its payment.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{self, date_time, esc, money};
use super::input::{self, Form};
use super::{Admin, Lang, Signed, Visit, change_form, internal};
use crate::core::now;
use crate::core::operations::{Operation, REFUND_ADJUSTMENT, Refusal};
use crate::core::orders::{Actor, OrderState};
use crate::core::platform::{Order, OrderId, Refund, RefundState};
use crate::storage::{OrderDetail, OrderFilter, OrderRow};

/// Orders per page of the list.
pub const PER_PAGE: u32 = 50;
/// Authorizations lapsing within this many days are flagged.
pub const WARN_DAYS: i64 = 7;
/// How long the order page waits for Amazon's side before showing it as unknown.
const AMAZON_WAIT: Duration = Duration::from_secs(4);

/// The credit statuses an owner sees, in the list's order.
pub const LISTED: [OrderState; 9] = [
    OrderState::Authorized,
    OrderState::Pending,
    OrderState::Capturing,
    OrderState::Captured,
    OrderState::Refunded,
    OrderState::Canceled,
    OrderState::Expired,
    OrderState::CardUnsettled,
    OrderState::Unknown,
];

/// クレジット決済状況 in the page's language.
pub fn status(lang: Lang, state: OrderState) -> &'static str {
    match lang {
        Lang::Ja => state.credit_status(),
        Lang::En => match state {
            OrderState::Processing | OrderState::Completing => "In progress",
            OrderState::Unknown => "Being checked",
            OrderState::Pending => "Authorization pending",
            OrderState::Authorized => "Authorized",
            OrderState::Capturing => "Capture in progress",
            OrderState::Captured => "Captured",
            OrderState::Canceled => "Canceled",
            OrderState::Refunded => "Refunded",
            OrderState::Expired => "Authorization expired",
            OrderState::CardUnsettled => "Card not settled",
            OrderState::Failed => "Payment failed",
        },
    }
}

fn fulfilment(lang: Lang, status: &str) -> &'static str {
    match status {
        "shipped" => lang.t("発送済み", "Shipped"),
        "canceled" => lang.t("キャンセル", "Canceled"),
        _ => lang.t("新規受付", "New"),
    }
}

fn refund_state(lang: Lang, state: RefundState) -> &'static str {
    match state {
        RefundState::Initiated => lang.t("返金処理中 (Amazon の確認待ち)", "Refund in progress (awaiting Amazon)"),
        RefundState::Refunded => lang.t("返金済み", "Refunded"),
        RefundState::Declined => lang.t("返金不可 (Amazon が却下)", "Declined by Amazon"),
    }
}

fn actor(lang: Lang, actor: &str) -> String {
    match actor.split_once(':') {
        Some(("owner", name)) => format!("{} ({})", lang.t("管理者", "Owner"), name),
        _ => match actor {
            "shopper" => lang.t("お客様", "Shopper").into(),
            "ipn" => lang.t("Amazon からの通知 (IPN)", "Amazon notification (IPN)").into(),
            "reconciler" => lang.t("照合 (自動)", "Reconciler").into(),
            "job" => lang.t("定期処理", "Scheduled job").into(),
            other => other.into(),
        },
    }
}

/// The authorization's deadline cell of an order (empty when it has none to watch).
fn deadline_cell(lang: Lang, state: OrderState, authorized_at: Option<i64>, now: i64) -> String {
    match (state, authorized_at) {
        (OrderState::Authorized, Some(at)) => {
            html::deadline(lang, at + crate::core::operations::AUTHORIZATION_DAYS * 86_400, now, WARN_DAYS)
        }
        (OrderState::Expired, _) => format!("<span class=\"flag lapsed\">{}</span>", lang.t("期限切れ", "lapsed")),
        _ => String::new(),
    }
}

/// A table of orders as 受注一覧 shows them.
fn order_table(lang: Lang, caption: &str, rows: &[OrderRow], now: i64) -> String {
    let mut out = format!("<table class=\"orders\"><caption>{}</caption><thead><tr>", esc(caption));
    for (ja, en) in [
        ("受注日", "Date"),
        ("注文番号", "Order no."),
        ("お名前", "Name"),
        ("支払方法", "Payment"),
        ("購入金額(円)", "Total (¥)"),
        ("対応状況", "Fulfilment"),
        ("クレジット決済状況", "Credit status"),
        ("オーソリ期限", "Authorization ends"),
        ("編集", "Edit"),
    ] {
        let _ = write!(out, "<th scope=\"col\">{}</th>", lang.t(ja, en));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        let _ = write!(
            out,
            "<tr data-order=\"{id}\"><td>{}</td><td>{}</td><td>{}</td><td>Amazon Pay</td><td class=\"num\">{}</td>\
             <td>{}</td><td class=\"state-{}\">{}</td><td>{}</td><td><a href=\"/admin/orders/{id}\">{}<span class=\"sr\"> {}</span></a></td></tr>",
            date_time(row.created_at),
            esc(&row.number),
            esc(&row.name),
            crate::core::operations::yen(row.total),
            fulfilment(lang, &row.fulfilment),
            row.state.name(),
            status(lang, row.state),
            deadline_cell(lang, row.state, row.authorized_at, now),
            lang.t("編集", "Edit"),
            esc(&row.number),
            id = row.id.0,
        );
    }
    if rows.is_empty() {
        let _ = write!(out, "<tr><td colspan=\"9\">{}</td></tr>", lang.t("該当する受注はありません。", "No orders."));
    }
    out.push_str("</tbody></table>");
    out
}

// ---------------------------------------------------------------------------------------------
// The first page and 受注一覧
// ---------------------------------------------------------------------------------------------

/// `GET /admin/`: how many orders stand in each credit status, and the authorizations that end
/// within 7 days.
pub async fn dashboard(State(admin): State<Arc<Admin>>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let db = &admin.app.db;
    let now = now();
    let mut counts = String::new();
    for state in LISTED {
        let filter = OrderFilter { states: vec![state], per_page: 1, ..OrderFilter::default() };
        match db.list_orders(&filter).await {
            Ok(page) => {
                let _ = write!(
                    counts,
                    "<li><a href=\"/admin/orders?state={}\">{}</a>: <span class=\"count\">{}</span></li>",
                    state.name(),
                    status(lang, state),
                    page.total
                );
            }
            Err(error) => return internal(signed.visit, &error),
        }
    }
    let soon =
        OrderFilter { lapsing_before: Some(now + WARN_DAYS * 86_400), per_page: PER_PAGE, ..OrderFilter::default() };
    let lapsing = match db.list_orders(&soon).await {
        Ok(page) => page,
        Err(error) => return internal(signed.visit, &error),
    };
    let mut body = format!("<h1>{}</h1>", lang.t("ホーム", "Home"));
    if lapsing.total > 0 {
        let text = match lang {
            Lang::Ja => format!(
                "オーソリの有効期限 (30日) が 7 日以内に切れる仮売上の受注が {} 件あります。発送済みなら実売上にしてください。",
                lapsing.total
            ),
            Lang::En => format!(
                "{} authorized order(s) lapse within 7 days (authorizations last 30 days): capture those you have shipped.",
                lapsing.total
            ),
        };
        body.push_str(&format!(
            "<div class=\"message warn\" role=\"status\" id=\"lapsing\"><p>{}</p></div>",
            esc(&text)
        ));
    }
    let _ = write!(
        body,
        "<section aria-labelledby=\"counts\"><h2 id=\"counts\">{}</h2><ul class=\"counts\">{counts}</ul></section>",
        lang.t("クレジット決済状況ごとの受注", "Orders by credit status")
    );
    let caption = lang.t("オーソリ期限が 7 日以内の受注", "Authorizations ending within 7 days");
    let _ = write!(
        body,
        "<section aria-labelledby=\"soon\"><h2 id=\"soon\">{caption}</h2>{}<p><a href=\"/admin/orders?state=authorized&amp;lapsing=1\">{}</a> \
         <a href=\"/admin/amazonpay?lapsing=1\">{}</a></p></section>",
        order_table(lang, caption, &lapsing.rows, now),
        lang.t("受注一覧で見る", "See them in the order list"),
        lang.t("まとめて実売上にする (AmazonPay クレジット決済状況)", "Capture them in bulk"),
    );
    let nav = signed.nav("/admin/");
    signed.visit.page(StatusCode::OK, html::page(lang, lang.t("ホーム", "Home"), Some(&nav), &body))
}

/// The order list's query: `state`, `lapsing=1`, `page`.
pub struct ListQuery {
    /// One credit status, or all placed orders.
    pub state: Option<OrderState>,
    /// Only authorizations ending within 7 days.
    pub lapsing: bool,
    /// From 0.
    pub page: u32,
}

/// Reads the list's query; `None` for a value that is not one of the list's.
pub fn list_query(path: &str) -> Option<ListQuery> {
    let url = url::Url::parse(&format!("http://admin.invalid{path}")).ok()?;
    let mut query = ListQuery { state: None, lapsing: false, page: 0 };
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "state" if value.is_empty() => {}
            "state" => query.state = Some(OrderState::parse(&value).filter(|s| LISTED.contains(s))?),
            "lapsing" => query.lapsing = value == "1",
            "page" => query.page = value.parse::<u32>().ok()?.saturating_sub(1).min(1_000_000),
            _ => {}
        }
    }
    Some(query)
}

/// `GET /admin/orders`: 受注一覧.
pub async fn list(State(admin): State<Arc<Admin>>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let Some(query) = list_query(&signed.visit.path) else {
        return signed.visit.error(
            StatusCode::BAD_REQUEST,
            "絞り込みの条件が正しくありません。",
            "The filter is not one the list knows.",
        );
    };
    let now = now();
    let filter = OrderFilter {
        states: query.state.into_iter().collect(),
        lapsing_before: query.lapsing.then_some(now + WARN_DAYS * 86_400),
        page: query.page,
        per_page: PER_PAGE,
    };
    let page = match admin.app.db.list_orders(&filter).await {
        Ok(page) => page,
        Err(error) => return internal(signed.visit, &error),
    };
    let title = lang.t("受注一覧", "Orders");
    let mut body = format!("<h1>{title}</h1>");
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/admin/orders\" class=\"filter\"><p><label for=\"state\">{}</label><select id=\"state\" name=\"state\"><option value=\"\">{}</option>",
        lang.t("クレジット決済状況", "Credit status"),
        lang.t("すべて", "All"),
    );
    for state in LISTED {
        let selected = if query.state == Some(state) { " selected" } else { "" };
        let _ = write!(body, "<option value=\"{}\"{selected}>{}</option>", state.name(), status(lang, state));
    }
    let checked = if query.lapsing { " checked" } else { "" };
    let _ = write!(
        body,
        "</select> <input type=\"checkbox\" id=\"lapsing\" name=\"lapsing\" value=\"1\"{checked}><label for=\"lapsing\">{}</label> \
         <button type=\"submit\">{}</button></p></form>",
        lang.t("オーソリ期限が 7 日以内", "Authorization ends within 7 days"),
        lang.t("絞り込む", "Filter"),
    );
    let pages = page.total.div_ceil(u64::from(PER_PAGE)).max(1);
    let caption = match lang {
        Lang::Ja => format!("{} 件中 {} ページ目 ({} ページ)", page.total, query.page + 1, pages),
        Lang::En => format!("{} orders, page {} of {}", page.total, query.page + 1, pages),
    };
    body.push_str(&order_table(lang, &caption, &page.rows, now));
    body.push_str(&pager(lang, &query, pages));
    let nav = signed.nav("/admin/orders");
    signed.visit.page(StatusCode::OK, html::page(lang, title, Some(&nav), &body))
}

fn pager(lang: Lang, query: &ListQuery, pages: u64) -> String {
    let link = |page: u64| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        if let Some(state) = query.state {
            pairs.append_pair("state", state.name());
        }
        if query.lapsing {
            pairs.append_pair("lapsing", "1");
        }
        pairs.append_pair("page", &page.to_string());
        format!("/admin/orders?{}", esc(&pairs.finish()))
    };
    let current = u64::from(query.page) + 1;
    let mut out = format!("<nav class=\"pager\" aria-label=\"{}\"><ul>", lang.t("ページ", "Pages"));
    if current > 1 {
        let _ =
            write!(out, "<li><a href=\"{}\" rel=\"prev\">{}</a></li>", link(current - 1), lang.t("前へ", "Previous"));
    }
    let _ = write!(out, "<li aria-current=\"page\">{current} / {pages}</li>");
    if current < pages {
        let _ = write!(out, "<li><a href=\"{}\" rel=\"next\">{}</a></li>", link(current + 1), lang.t("次へ", "Next"));
    }
    out.push_str("</ul></nav>");
    out
}

// ---------------------------------------------------------------------------------------------
// 受注編集
// ---------------------------------------------------------------------------------------------

/// What the order page shows besides the order: a message, and the values the owner typed.
#[derive(Default)]
struct Shown {
    /// A confirmation or an error.
    message: Option<(&'static str, String)>,
    /// The edit form as typed (when refused).
    edit: Option<Form>,
    /// The payment form as typed (when refused).
    payment: Option<Form>,
}

fn order_id(id: &str) -> Option<OrderId> {
    id.parse::<i64>().ok().filter(|id| *id > 0).map(OrderId)
}

/// What a `?done=` after an operation says.
fn done_message(lang: Lang, done: &str) -> Option<&'static str> {
    Some(match done {
        "captured" => lang.t(
            "「実売上」に変更しました。Amazon Pay でも実売上になっています。",
            "Captured; Amazon Pay shows the capture.",
        ),
        "capturing" => lang.t(
            "実売上を依頼しました。オーソリから 7 日を過ぎているため、Amazon Pay が後で確定します (実売上処理中)。",
            "Capture requested; more than 7 days after the authorization, Amazon Pay completes it later.",
        ),
        "canceled" => lang.t(
            "キャンセルしました (Amazon Pay のオーソリを取り消しました)。",
            "Canceled (the authorization was canceled at Amazon Pay).",
        ),
        "refunded" => lang.t(
            "返金を依頼しました。Amazon Pay が確定するまで「返金処理中」と表示します。",
            "Refund requested; it shows as in progress until Amazon Pay confirms it.",
        ),
        "forced" => lang.t(
            "「エラーを無視して変更する」で状況を合わせました。Amazon Pay 側の状態は履歴に記録しました。",
            "The status was set, ignoring Amazon Pay's error; what Amazon Pay holds is recorded in the history.",
        ),
        "edited" => lang.t("受注を変更しました。", "The order was changed."),
        "synced" => lang.t("Amazon Pay の最新の状態を反映しました。", "The order now follows Amazon Pay's record."),
        "unchanged" => {
            lang.t("Amazon Pay の状態と一致しています (変更なし)。", "The order already agrees with Amazon Pay.")
        }
        "subscription" => lang.t(
            "定期購入を解約しました (Amazon Pay の支払い設定をクローズしました)。",
            "The subscription was cancelled (its Amazon Pay charge permission is closed).",
        ),
        _ => return None,
    })
}

/// `GET /admin/orders/{id}`: 受注編集.
pub async fn show(State(admin): State<Arc<Admin>>, Path(id): Path<String>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    let done = url::Url::parse(&format!("http://admin.invalid{}", signed.visit.path))
        .ok()
        .and_then(|url| url.query_pairs().find(|(k, _)| k == "done").map(|(_, v)| v.into_owned()));
    let message = done.as_deref().and_then(|done| done_message(lang, done)).map(|text| ("done", text.to_owned()));
    order_page(&admin, signed, id, StatusCode::OK, Shown { message, ..Shown::default() }).await
}

fn missing(visit: Visit) -> Response {
    visit.error(StatusCode::NOT_FOUND, "その受注はありません。", "No such order.")
}

/// Amazon's side of an order, read now.
struct AmazonSide {
    permission: Option<Result<String, String>>,
    charge: Option<Result<crate::amazon::types::Charge, String>>,
    refunds: Vec<(String, Result<String, String>)>,
}

async fn amazon_side(admin: &Admin, order: &Order, refunds: &[Refund]) -> AmazonSide {
    let amazon = admin.app.core.amazon();
    let read = async {
        let permission = match &order.charge_permission_id {
            Some(id) => Some(amazon.get_charge_permission(id).await.map(|p| {
                let reasons = p.status_details.reasons.unwrap_or_default();
                let reasons = reasons.iter().map(|r| r.reason_code.as_str()).collect::<Vec<_>>().join(", ");
                format!("{} {reasons}", p.status_details.state).trim().to_owned()
            })),
            None => None,
        };
        let charge = match &order.charge_id {
            Some(id) => Some(amazon.get_charge(id).await),
            None => None,
        };
        let mut states = Vec::new();
        // The shop's own adjustments (「エラーを無視して変更する」 on a refund) are no refunds of
        // Amazon's: nothing to ask.
        let amazons = refunds.iter().rev().filter(|r| !r.refund_id.starts_with(REFUND_ADJUSTMENT));
        for refund in amazons.take(20) {
            let state = amazon.get_refund(&refund.refund_id).await.map(|r| String::from(r.status_details.state));
            states.push((refund.refund_id.clone(), state.map_err(|e| e.to_string())));
        }
        (permission.map(|p| p.map_err(|e| e.to_string())), charge.map(|c| c.map_err(|e| e.to_string())), states)
    };
    match tokio::time::timeout(AMAZON_WAIT, read).await {
        Ok((permission, charge, refunds)) => AmazonSide { permission, charge, refunds },
        Err(_) => {
            let late = || Err::<String, String>("timeout".into());
            AmazonSide {
                permission: order.charge_permission_id.as_ref().map(|_| late()),
                charge: order.charge_id.as_ref().map(|_| Err("timeout".into())),
                refunds: Vec::new(),
            }
        }
    }
}

async fn order_page(admin: &Admin, signed: Signed, id: OrderId, status: StatusCode, shown: Shown) -> Response {
    let lang = signed.visit.lang;
    let db = &admin.app.db;
    let detail = match db.order_detail(id).await {
        Ok(Some(detail)) if detail.order.state.is_placed() => detail,
        Ok(_) => return missing(signed.visit),
        Err(error) => return internal(signed.visit, &error),
    };
    let refunds = match admin.app.core.platform().refunds(id).await {
        Ok(refunds) => refunds,
        Err(error) => return internal(signed.visit, &error),
    };
    let subscription = match (&detail.order.charge_permission_id, detail.order.recurring) {
        (Some(permission), true) => match db.subscription_by_permission(permission).await {
            Ok(subscription) => subscription,
            Err(error) => return internal(signed.visit, &error),
        },
        _ => None,
    };
    let amazon = amazon_side(admin, &detail.order, &refunds).await;
    let order = &detail.order;
    let title = match lang {
        Lang::Ja => format!("受注編集 (注文番号 {})", order.number),
        Lang::En => format!("Order {}", order.number),
    };
    let mut body = format!("<h1>{}</h1>", esc(&title));
    if let Some((kind, text)) = &shown.message {
        body.push_str(&html::message(kind, text));
    }
    body.push_str(&summary(lang, &detail));
    body.push_str(&payment_section(lang, &signed, &detail, &refunds, shown.payment.as_ref()));
    body.push_str(&amazon_section(lang, &signed, &detail, &refunds, &amazon));
    body.push_str(&edit_section(lang, &signed, &detail, shown.edit.as_ref()));
    if let Some(subscription) = subscription {
        body.push_str(&subscription_section(lang, &signed, order, &subscription));
    }
    body.push_str(&history_section(lang, &detail));
    let nav = signed.nav("/admin/orders");
    signed.visit.page(status, html::page(lang, &title, Some(&nav), &body))
}

fn summary(lang: Lang, detail: &OrderDetail) -> String {
    let order = &detail.order;
    let now = now();
    let mut rows: Vec<(&str, String)> = vec![
        (lang.t("注文番号", "Order no."), esc(&order.number)),
        (lang.t("受注日", "Date"), date_time(order.created_at)),
        (lang.t("お名前", "Name"), esc(&detail.name)),
        (lang.t("メールアドレス", "E-mail"), esc(detail.email.as_deref().unwrap_or("-"))),
        (lang.t("支払方法", "Payment"), "Amazon Pay".into()),
        (
            lang.t("種別", "Kind"),
            lang.t(
                if order.recurring { "定期購入" } else { "通常購入" },
                if order.recurring { "Subscription" } else { "One-time" },
            )
            .into(),
        ),
        (lang.t("購入金額 (最終請求金額)", "Total"), money(lang, order.total)),
        (lang.t("対応状況", "Fulfilment"), fulfilment(lang, &detail.fulfilment).into()),
        (
            lang.t("クレジット決済状況", "Credit status"),
            format!(
                "<strong class=\"state-{}\" id=\"credit-status\">{}</strong>",
                order.state.name(),
                status(lang, order.state)
            ),
        ),
    ];
    if let Some((amount, _)) = order.authorized {
        rows.push((lang.t("オーソリ金額", "Authorized"), money(lang, amount)));
    }
    if order.state == OrderState::Authorized || order.state == OrderState::Expired {
        let cell = deadline_cell(lang, order.state, order.authorized.map(|(_, at)| at), now);
        rows.push((lang.t("オーソリ期限", "Authorization ends"), cell));
    }
    if order.captured > 0 {
        rows.push((lang.t("実売上金額", "Captured"), money(lang, order.captured)));
    }
    if order.refunded > 0 {
        rows.push((lang.t("返金額", "Refunded"), money(lang, order.refunded)));
    }
    if !order.note.is_empty() && order.state == OrderState::CardUnsettled {
        rows.push((lang.t("備考", "Note"), esc(&order.note)));
    }
    let mut out = format!(
        "<section aria-labelledby=\"summary\"><h2 id=\"summary\">{}</h2><dl class=\"summary\">",
        lang.t("受注情報", "Order")
    );
    for (term, value) in rows {
        let _ = write!(out, "<dt>{term}</dt><dd>{value}</dd>");
    }
    out.push_str("</dl></section>");
    out
}

/// The operations the order's credit status allows.
fn operations(state: OrderState) -> &'static [&'static str] {
    match state {
        OrderState::Authorized | OrderState::Expired => &["capture", "cancel"],
        OrderState::Pending => &["cancel"],
        OrderState::Captured | OrderState::Refunded => &["refund"],
        _ => &[],
    }
}

fn payment_section(
    lang: Lang,
    signed: &Signed,
    detail: &OrderDetail,
    refunds: &[Refund],
    typed: Option<&Form>,
) -> String {
    let order = &detail.order;
    let heading = lang.t("クレジット決済状況変更", "Change the credit status");
    let mut out = format!("<section aria-labelledby=\"payment\"><h2 id=\"payment\">{heading}</h2>");
    let available = operations(order.state);
    if available.is_empty() {
        let text = match order.state {
            OrderState::Capturing => lang.t(
                "Amazon Pay が実売上を確定するのを待っています。確定すると自動で「実売上」になります。",
                "Waiting for Amazon Pay to complete the capture; the order then shows as captured.",
            ),
            _ => lang
                .t("この受注のクレジット決済状況は変更できません。", "Nothing can be changed on this order's payment."),
        };
        let _ = write!(out, "<p>{text}</p></section>");
        return out;
    }
    let authorized = order.authorized.map_or(order.total, |(amount, _)| amount);
    if order.total > authorized && available.contains(&"capture") {
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
        out.push_str(&html::message("warn", &text));
    }
    let chosen = typed.and_then(|form| form.get("op")).unwrap_or(available[0]);
    let left = order.captured.saturating_sub(order.refunded);
    let typed_amount = typed.and_then(|form| form.get("amount")).map(str::to_owned);
    let default_amount = match chosen {
        "refund" => left.to_string(),
        _ => order.total.to_string(),
    };
    let amount = typed_amount.unwrap_or(default_amount);
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/admin/orders/{}/payment\" class=\"payment\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"version\" value=\"{}\">\
         <fieldset><legend>{}</legend>",
        order.id.0,
        esc(&signed.owner.csrf),
        order.version,
        lang.t("変更後のクレジット決済状況", "New credit status"),
    );
    for op in available {
        let (ja, en) = match *op {
            "capture" => ("実売上", "Capture (実売上)"),
            "cancel" => ("キャンセル", "Cancel (キャンセル)"),
            _ => ("返金", "Refund (返金)"),
        };
        let checked = if *op == chosen { " checked" } else { "" };
        let _ = write!(
            out,
            "<p><input type=\"radio\" name=\"op\" id=\"op-{op}\" value=\"{op}\"{checked}><label for=\"op-{op}\">{}</label></p>",
            lang.t(ja, en)
        );
    }
    out.push_str("</fieldset>");
    if available.iter().any(|op| *op != "cancel") {
        let hint = match (available.contains(&"refund"), lang) {
            (true, Lang::Ja) => format!("返金できるのは {} までです。", money(lang, left)),
            (true, Lang::En) => format!("At most {} can be refunded.", money(lang, left)),
            (false, Lang::Ja) => format!(
                "初期値は最終請求金額です。購入時より低い金額は減額として実売上にします (上限 {})。",
                money(lang, authorized)
            ),
            (false, Lang::En) => format!(
                "The order total by default; a lower amount captures less (at most {}).",
                money(lang, authorized)
            ),
        };
        let _ = write!(
            out,
            "<p><label for=\"amount\">{}</label><input id=\"amount\" name=\"amount\" inputmode=\"numeric\" autocomplete=\"off\" maxlength=\"20\" value=\"{}\" aria-describedby=\"amount-hint\"> {}\
             <br><span id=\"amount-hint\" class=\"hint\">{}</span></p>",
            lang.t("金額 (円、実売上・返金)", "Amount (yen, capture and refund)"),
            esc(&amount),
            lang.t("円", "yen"),
            esc(&hint),
        );
    }
    let force = if typed.is_some_and(|form| form.ticked("force")) { " checked" } else { "" };
    let _ = write!(
        out,
        "<p><input type=\"checkbox\" id=\"force\" name=\"force\" value=\"1\"{force} aria-describedby=\"force-hint\">\
         <label for=\"force\">{}</label><br><span id=\"force-hint\" class=\"hint\">{}</span></p>\
         <p><button type=\"submit\">{}</button></p></form>",
        lang.t("エラーを無視して変更する", "Ignore the error and change (エラーを無視して変更する)"),
        lang.t(
            "Amazon Pay 側の管理画面 (セラーセントラル) で金額の修正やキャンセル等を行い、Amazon Pay が操作を受け付けない場合に、クラフトカート側の状況を強制的に合わせます。",
            "When the order was changed in Seller Central and Amazon Pay refuses the operation, set the shop's status anyway.",
        ),
        lang.t("変更", "Change"),
    );
    if !refunds.is_empty() {
        out.push_str(&refund_table(lang, refunds, None));
    }
    out.push_str("</section>");
    out
}

fn refund_table(lang: Lang, refunds: &[Refund], amazon: Option<&[(String, Result<String, String>)]>) -> String {
    let mut out = format!(
        "<table class=\"refunds\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
        lang.t("返金", "Refunds"),
        lang.t("依頼日時", "Requested"),
        lang.t("返金 ID (Amazon)", "Refund ID (Amazon)"),
        lang.t("金額", "Amount"),
        lang.t("ショップの状態", "Shop's state"),
    );
    if amazon.is_some() {
        let _ = write!(out, "<th scope=\"col\">{}</th>", lang.t("Amazon の状態", "Amazon's state"));
    }
    out.push_str("</tr></thead><tbody>");
    for refund in refunds {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"refund-{}\">{}</td>",
            date_time(refund.created_at),
            esc(&refund.refund_id),
            money(lang, refund.amount),
            refund.state.name(),
            refund_state(lang, refund.state),
        );
        if let Some(states) = amazon {
            let text = if refund.refund_id.starts_with(REFUND_ADJUSTMENT) {
                lang.t(
                    "ショップでの調整 (Amazon の返金額に合わせたもの)",
                    "the shop's adjustment to Amazon's refunded amount",
                )
                .to_owned()
            } else {
                let state = states.iter().find(|(id, _)| *id == refund.refund_id).map(|(_, state)| state);
                amazon_text(lang, state.cloned())
            };
            let _ = write!(out, "<td>{}</td>", esc(&text));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn amazon_text(lang: Lang, state: Option<Result<String, String>>) -> String {
    match state {
        Some(Ok(state)) => state,
        Some(Err(_)) => lang.t("取得できませんでした", "could not be read").into(),
        None => "-".into(),
    }
}

fn amazon_section(
    lang: Lang,
    signed: &Signed,
    detail: &OrderDetail,
    refunds: &[Refund],
    amazon: &AmazonSide,
) -> String {
    let order = &detail.order;
    let mut out = format!(
        "<section aria-labelledby=\"amazon\"><h2 id=\"amazon\">{}</h2><table class=\"amazon\"><caption>{}</caption>\
         <thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        lang.t("Amazon Pay", "Amazon Pay"),
        lang.t(
            "Amazon Pay の ID と、Amazon の現在の状態 (ショップの状態と並べて)",
            "Amazon Pay's IDs and Amazon's current state beside the shop's"
        ),
        lang.t("項目", "Object"),
        "ID",
        lang.t("Amazon の状態", "Amazon's state"),
        lang.t("ショップの状態", "Shop's state"),
    );
    let permission_state = amazon_text(lang, amazon.permission.clone());
    let _ = write!(
        out,
        "<tr><th scope=\"row\">{}</th><td><code id=\"charge-permission-id\">{}</code></td><td id=\"amazon-permission-state\">{}</td><td></td></tr>",
        lang.t("支払い設定 (Charge Permission)", "Charge permission"),
        esc(order.charge_permission_id.as_deref().unwrap_or("-")),
        esc(&permission_state),
    );
    let charge_state = match &amazon.charge {
        Some(Ok(charge)) => {
            let amount = |money: &Option<crate::amazon::types::Money>| {
                money.as_ref().and_then(crate::amazon::types::Money::as_yen).map(crate::core::operations::yen)
            };
            let mut text = format!(
                "{} {}",
                charge.status_details.state,
                charge.status_details.reason_code.as_deref().unwrap_or_default()
            )
            .trim()
            .to_owned();
            if let Some(authorized) = amount(&charge.charge_amount) {
                let _ = write!(text, " / {} {authorized}", lang.t("オーソリ", "authorized"));
            }
            if let Some(captured) = amount(&charge.capture_amount) {
                let _ = write!(text, " / {} {captured}", lang.t("実売上", "captured"));
            }
            text
        }
        Some(Err(_)) => lang.t("取得できませんでした", "could not be read").into(),
        None => "-".into(),
    };
    let _ = write!(
        out,
        "<tr><th scope=\"row\">{}</th><td><code id=\"charge-id\">{}</code></td><td id=\"amazon-charge-state\">{}</td><td>{}</td></tr></tbody></table>",
        lang.t("請求 (Charge)", "Charge"),
        esc(order.charge_id.as_deref().unwrap_or("-")),
        esc(&charge_state),
        status(lang, order.state),
    );
    if !refunds.is_empty() {
        out.push_str(&refund_table(lang, refunds, Some(&amazon.refunds)));
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"/admin/orders/{}/sync\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <p><button type=\"submit\">{}</button></p></form></section>",
        order.id.0,
        esc(&signed.owner.csrf),
        lang.t("Amazon Pay の最新の状態を反映する", "Follow Amazon Pay's current record"),
    );
    out
}

fn edit_section(lang: Lang, signed: &Signed, detail: &OrderDetail, typed: Option<&Form>) -> String {
    let order = &detail.order;
    let (names, prices, quantities, fee, discount, status): (
        Vec<String>,
        Vec<String>,
        Vec<String>,
        String,
        String,
        String,
    ) = match typed {
        Some(form) => (
            form.all("line_name").to_vec(),
            form.all("line_price").to_vec(),
            form.all("line_quantity").to_vec(),
            form.get("shipping_fee").unwrap_or_default().to_owned(),
            form.get("discount").unwrap_or_default().to_owned(),
            form.get("fulfilment").unwrap_or("new").to_owned(),
        ),
        None => (
            detail.lines.iter().map(|l| l.name.clone()).chain([String::new()]).collect(),
            detail.lines.iter().map(|l| l.unit_price.to_string()).chain([String::new()]).collect(),
            detail.lines.iter().map(|l| l.quantity.to_string()).chain([String::new()]).collect(),
            detail.shipping_fee.to_string(),
            detail.discount.to_string(),
            detail.fulfilment.clone(),
        ),
    };
    let mut out = format!(
        "<section aria-labelledby=\"edit\"><h2 id=\"edit\">{}</h2><p class=\"hint\">{}</p>\
         <form method=\"post\" action=\"/admin/orders/{}/edit\" class=\"edit\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"version\" value=\"{}\">\
         <table class=\"lines\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        lang.t("受注内容の変更 (商品変更 / 金額変更)", "Edit the order (products and amounts)"),
        lang.t(
            "数量を 0 にすると商品を削除します。空の行に入力すると商品を追加します。最終請求金額が購入時より低い場合は、変更後に「実売上」にすると減額して請求します。既に実売上の場合は「返金」で差額を返してください。",
            "A quantity of 0 removes a line; fill the empty row to add one. A lower total is captured as the lower amount; after capture, refund the difference.",
        ),
        order.id.0,
        esc(&signed.owner.csrf),
        order.version,
        lang.t("商品", "Products"),
        lang.t("商品名", "Product"),
        lang.t("単価 (円)", "Unit price (yen)"),
        lang.t("数量", "Quantity"),
    );
    for (n, ((name, price), quantity)) in
        names.iter().zip(&prices).zip(&quantities).enumerate().take(input::MAX_LINES + 1)
    {
        let row = n + 1;
        let _ = write!(
            out,
            "<tr><td><label class=\"sr\" for=\"line-name-{row}\">{} {row}</label><input id=\"line-name-{row}\" name=\"line_name\" maxlength=\"100\" value=\"{}\"></td>\
             <td><label class=\"sr\" for=\"line-price-{row}\">{} {row}</label><input id=\"line-price-{row}\" name=\"line_price\" inputmode=\"numeric\" maxlength=\"20\" value=\"{}\"></td>\
             <td><label class=\"sr\" for=\"line-quantity-{row}\">{} {row}</label><input id=\"line-quantity-{row}\" name=\"line_quantity\" inputmode=\"numeric\" maxlength=\"5\" value=\"{}\"></td></tr>",
            lang.t("商品名", "Product"),
            esc(name),
            lang.t("単価", "Unit price"),
            esc(price),
            lang.t("数量", "Quantity"),
            esc(quantity),
        );
    }
    let _ = write!(
        out,
        "</tbody></table><p><label for=\"shipping-fee\">{}</label><input id=\"shipping-fee\" name=\"shipping_fee\" inputmode=\"numeric\" maxlength=\"20\" value=\"{}\"></p>\
         <p><label for=\"discount\">{}</label><input id=\"discount\" name=\"discount\" inputmode=\"numeric\" maxlength=\"20\" value=\"{}\"></p>\
         <p><label for=\"fulfilment\">{}</label><select id=\"fulfilment\" name=\"fulfilment\">",
        lang.t("送料 (円)", "Shipping fee (yen)"),
        esc(&fee),
        lang.t("値引き (円)", "Discount (yen)"),
        esc(&discount),
        lang.t("対応状況", "Fulfilment"),
    );
    for value in ["new", "shipped", "canceled"] {
        let selected = if status == value { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{value}\"{selected}>{}</option>", fulfilment(lang, value));
    }
    let _ = write!(
        out,
        "</select></p><p class=\"hint\">{}</p><p><button type=\"submit\">{}</button></p></form></section>",
        lang.t(
            "対応状況を「キャンセル」にしただけでは、Amazon Pay のクレジット決済状況は変わりません。上の「クレジット決済状況変更」でキャンセル・返金してください。",
            "Setting the fulfilment to canceled does not change Amazon Pay: cancel or refund with the credit status form above.",
        ),
        lang.t("この内容で登録", "Save"),
    );
    out
}

fn subscription_section(
    lang: Lang,
    signed: &Signed,
    order: &Order,
    subscription: &crate::storage::SubscriptionRecord,
) -> String {
    let mut out = format!(
        "<section aria-labelledby=\"subscription\"><h2 id=\"subscription\">{}</h2><dl class=\"summary\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id=\"subscription-state\">{}</dd></dl>",
        lang.t("定期購入", "Subscription"),
        lang.t("毎月の金額", "Monthly amount"),
        money(lang, subscription.amount),
        lang.t("次回", "Next cycle"),
        esc(&subscription.next_cycle),
        lang.t("状態", "State"),
        if subscription.active { lang.t("継続中", "Active") } else { lang.t("解約済み", "Cancelled") },
    );
    if subscription.active {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/admin/orders/{}/subscription\" data-confirm=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <p><button type=\"submit\">{}</button></p></form>",
            order.id.0,
            esc(lang.t("定期購入を解約します。よろしいですか?", "Cancel this subscription?")),
            esc(&signed.owner.csrf),
            lang.t(
                "定期購入を解約する (Amazon Pay の支払い設定をクローズ)",
                "Cancel the subscription (closes its charge permission)"
            ),
        );
    }
    out.push_str("</section>");
    out
}

fn history_section(lang: Lang, detail: &OrderDetail) -> String {
    let mut out = format!(
        "<section aria-labelledby=\"history\"><h2 id=\"history\">{}</h2><table class=\"history\"><caption>{}</caption><thead><tr>",
        lang.t("履歴", "History"),
        lang.t("クレジット決済状況の変更履歴 (古い順)", "Changes of the payment, oldest first"),
    );
    for (ja, en) in [
        ("日時", "When"),
        ("操作者", "Who"),
        ("変更前", "From"),
        ("変更後", "To"),
        ("内容 (Amazon の ID と回答)", "Detail (Amazon's IDs and answer)"),
    ] {
        let _ = write!(out, "<th scope=\"col\">{}</th>", lang.t(ja, en));
    }
    out.push_str("</tr></thead><tbody>");
    for event in &detail.events {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            date_time(event.at),
            esc(&actor(lang, &event.actor)),
            event.from.map_or("-", |state| status(lang, state)),
            status(lang, event.to),
            esc(&event.detail),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

// ---------------------------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------------------------

fn version(form: &Form) -> Option<i64> {
    form.get("version").and_then(|v| v.parse().ok())
}

/// `POST /admin/orders/{id}/edit`: 商品変更 / 金額変更.
pub async fn edit(State(admin): State<Arc<Admin>>, Path(id): Path<String>, signed: Signed, body: Bytes) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    let form = match change_form(&admin, &signed, &body) {
        Ok(form) => form,
        Err((status, ja, en)) => return signed.visit.error(status, ja, en),
    };
    let lang = signed.visit.lang;
    let edit = match input::order_edit(&form) {
        Ok(edit) => edit,
        Err(invalid) => {
            return refuse(
                &admin,
                signed,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                lang.t(&invalid.ja, &invalid.en).to_owned(),
                Typed::Edit(form),
            )
            .await;
        }
    };
    let Some(version) = version(&form) else {
        return refuse(&admin, signed, id, StatusCode::BAD_REQUEST, Refusal::Busy.message(lang), Typed::Edit(form))
            .await;
    };
    match admin.app.db.edit_order(id, version, &edit).await {
        Ok(Some(order)) => {
            tracing::info!(owner = %signed.owner.name, order = %order.number, total = order.total, "order edited");
            signed.visit.see_other(&format!("/admin/orders/{}?done=edited", id.0))
        }
        Ok(None) => {
            refuse(&admin, signed, id, StatusCode::CONFLICT, Refusal::Busy.message(lang), Typed::Edit(form)).await
        }
        Err(error) => internal(signed.visit, &error),
    }
}

/// A form the owner sent, to show again as typed.
enum Typed {
    Edit(Form),
    Payment(Form),
}

/// The order page again, with why the change was refused and the form as typed.
async fn refuse(
    admin: &Admin,
    signed: Signed,
    id: OrderId,
    status: StatusCode,
    text: String,
    typed: Typed,
) -> Response {
    let shown = match typed {
        Typed::Edit(form) => Shown { message: Some(("error", text)), edit: Some(form), payment: None },
        Typed::Payment(form) => Shown { message: Some(("error", text)), edit: None, payment: Some(form) },
    };
    order_page(admin, signed, id, status, shown).await
}

trait Message {
    fn message(&self, lang: Lang) -> String;
}

impl Message for Refusal {
    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Ja => self.message_ja(),
            Lang::En => self.message_en(),
        }
    }
}

/// `POST /admin/orders/{id}/payment`: 「クレジット決済状況変更」.
pub async fn payment(State(admin): State<Arc<Admin>>, Path(id): Path<String>, signed: Signed, body: Bytes) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    let form = match change_form(&admin, &signed, &body) {
        Ok(form) => form,
        Err((status, ja, en)) => return signed.visit.error(status, ja, en),
    };
    let lang = signed.visit.lang;
    let typed = form.get("amount").unwrap_or_default().trim().to_owned();
    let operation = match form.get("op") {
        Some("capture") if typed.is_empty() => Ok(Operation::Capture(None)),
        Some("capture") => {
            input::amount(&typed, "実売上の金額", "amount to capture").map(|a| Operation::Capture(Some(a)))
        }
        Some("cancel") => Ok(Operation::Cancel),
        Some("refund") => input::amount(&typed, "返金額", "amount to refund").map(Operation::Refund),
        _ => {
            let text =
                lang.t("変更後のクレジット決済状況を選んでください。", "Choose the new credit status.").to_owned();
            return refuse(&admin, signed, id, StatusCode::UNPROCESSABLE_ENTITY, text, Typed::Payment(form)).await;
        }
    };
    let operation = match operation {
        Ok(operation) => operation,
        Err(invalid) => {
            return refuse(
                &admin,
                signed,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                lang.t(&invalid.ja, &invalid.en).to_owned(),
                Typed::Payment(form),
            )
            .await;
        }
    };
    let Some(version) = version(&form) else {
        return refuse(&admin, signed, id, StatusCode::BAD_REQUEST, Refusal::Busy.message(lang), Typed::Payment(form))
            .await;
    };
    let force = form.ticked("force");
    let owner = signed.owner.name.clone();
    match admin.app.core.operate(id, version, operation, &owner, force).await {
        Ok(Ok(order)) => {
            tracing::info!(%owner, order = %order.number, ?operation, force, state = order.state.name(), "payment operation");
            let forced = force
                && admin
                    .app
                    .db
                    .order_detail(id)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|detail| detail.events.last().map(|e| e.detail.starts_with("エラーを無視して変更")))
                    .unwrap_or(false);
            let done = match (forced, order.state) {
                (true, _) => "forced",
                (false, OrderState::Captured) => "captured",
                (false, OrderState::Capturing) => "capturing",
                (false, OrderState::Canceled) => "canceled",
                (false, _) => "refunded",
            };
            signed.visit.see_other(&format!("/admin/orders/{}?done={done}", id.0))
        }
        Ok(Err(refusal)) => {
            tracing::info!(%owner, order = id.0, ?operation, ?refusal, "payment operation refused");
            let status = match refusal {
                Refusal::InvalidAmount => StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::AmazonUnavailable => StatusCode::BAD_GATEWAY,
                Refusal::ShopFailed => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::CONFLICT,
            };
            refuse(&admin, signed, id, status, refusal.message(lang), Typed::Payment(form)).await
        }
        Err(error) => internal(signed.visit, &error),
    }
}

/// `POST /admin/orders/{id}/sync`: reads Amazon's record and moves the order to match.
pub async fn sync(State(admin): State<Arc<Admin>>, Path(id): Path<String>, signed: Signed, body: Bytes) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    if let Err((status, ja, en)) = change_form(&admin, &signed, &body) {
        return signed.visit.error(status, ja, en);
    }
    let order = match admin.app.core.platform().order(id).await {
        Ok(Some(order)) if order.state.is_placed() => order,
        Ok(_) => return missing(signed.visit),
        Err(error) => return internal(signed.visit, &error),
    };
    match admin.app.core.sync_order(&order, Actor::Owner(signed.owner.name.clone())).await {
        Ok(moved) => {
            let done = if moved { "synced" } else { "unchanged" };
            signed.visit.see_other(&format!("/admin/orders/{}?done={done}", id.0))
        }
        Err(error) => {
            tracing::warn!(%error, order = %order.number, "could not read Amazon for the order");
            let text = Refusal::AmazonUnavailable.message(signed.visit.lang);
            order_page(
                &admin,
                signed,
                id,
                StatusCode::BAD_GATEWAY,
                Shown { message: Some(("error", text)), ..Shown::default() },
            )
            .await
        }
    }
}

/// `POST /admin/orders/{id}/subscription`: 定期購入の解約 (closes its charge permission).
pub async fn cancel_subscription(
    State(admin): State<Arc<Admin>>,
    Path(id): Path<String>,
    signed: Signed,
    body: Bytes,
) -> Response {
    let Some(id) = order_id(&id) else { return missing(signed.visit) };
    if let Err((status, ja, en)) = change_form(&admin, &signed, &body) {
        return signed.visit.error(status, ja, en);
    }
    let lang = signed.visit.lang;
    let subscription = match admin.app.core.platform().order(id).await {
        Ok(Some(Order { charge_permission_id: Some(permission), recurring: true, .. })) => {
            match admin.app.db.subscription_by_permission(&permission).await {
                Ok(Some(subscription)) => subscription,
                Ok(None) => return missing(signed.visit),
                Err(error) => return internal(signed.visit, &error),
            }
        }
        Ok(_) => return missing(signed.visit),
        Err(error) => return internal(signed.visit, &error),
    };
    if !subscription.active {
        return signed.visit.see_other(&format!("/admin/orders/{}?done=subscription", id.0));
    }
    match admin.app.core.close_subscription(&subscription.charge_permission_id).await {
        Ok(Ok(())) => {
            tracing::info!(owner = %signed.owner.name, subscription = subscription.id.0, "subscription cancelled");
            signed.visit.see_other(&format!("/admin/orders/{}?done=subscription", id.0))
        }
        Ok(Err(refusal)) => {
            let shown = Shown { message: Some(("error", refusal.message(lang))), ..Shown::default() };
            order_page(&admin, signed, id, StatusCode::BAD_GATEWAY, shown).await
        }
        Err(error) => internal(signed.visit, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_query_takes_known_statuses_and_page_numbers_only() {
        let query = list_query("/admin/orders?state=authorized&lapsing=1&page=3").unwrap();
        assert_eq!((query.state, query.lapsing, query.page), (Some(OrderState::Authorized), true, 2));
        assert!(list_query("/admin/orders").is_some_and(|q| q.state.is_none() && q.page == 0));
        for bad in ["?state=processing", "?state=<x>", "?page=-1", "?page=abc", "?page=99999999999"] {
            assert!(list_query(&format!("/admin/orders{bad}")).is_none(), "{bad}");
        }
    }

    #[test]
    fn every_listed_status_has_words_in_both_languages() {
        for state in LISTED {
            assert!(!status(Lang::Ja, state).is_empty() && status(Lang::En, state).is_ascii());
        }
        assert_eq!(actor(Lang::Ja, "owner:admin"), "管理者 (admin)");
        assert_eq!(actor(Lang::En, "ipn"), "Amazon notification (IPN)");
    }
}
