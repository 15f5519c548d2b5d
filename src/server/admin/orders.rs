//! 受注一覧: the placed orders by credit status, 50 a page, with the authorization's deadline
//! flagged within 7 days; and the order table the first page (ホーム) shows too.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::http::StatusCode;
use axum::response::Response;

use super::display::{Deadline, date_time};
use super::layout::Frame;
use super::problems::Problem;
use super::words::{fulfilment, status};
use super::{Admin, Lang, Signed, internal};
use crate::core::now;
use crate::core::operations::{AUTHORIZATION_DAYS, yen};
use crate::core::orders::OrderState;
use crate::storage::{OrderFilter, OrderRow};

/// Orders per page of the list.
pub const PER_PAGE: u32 = 50;
/// Authorizations lapsing within this many days are flagged.
pub const WARN_DAYS: i64 = 7;

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

/// The words of the order table.
pub struct TableTexts {
    pub columns: [&'static str; 9],
    pub edit: &'static str,
    pub none: &'static str,
}

const TABLE_JA: TableTexts = TableTexts {
    columns: [
        "受注日",
        "注文番号",
        "お名前",
        "支払方法",
        "購入金額(円)",
        "対応状況",
        "クレジット決済状況",
        "オーソリ期限",
        "編集",
    ],
    edit: "編集",
    none: "該当する受注はありません。",
};

const TABLE_EN: TableTexts = TableTexts {
    columns: [
        "Date",
        "Order no.",
        "Name",
        "Payment",
        "Total (¥)",
        "Fulfilment",
        "Credit status",
        "Authorization ends",
        "Edit",
    ],
    edit: "Edit",
    none: "No orders.",
};

/// One order of the table.
pub struct Listed {
    pub id: i64,
    pub date: String,
    pub number: String,
    pub name: String,
    pub total: String,
    pub fulfilment: &'static str,
    pub state: &'static str,
    pub status: &'static str,
    pub deadline: Deadline,
}

/// A table of orders as 受注一覧 shows them (`templates/admin/orders_table.html`).
pub struct OrderTable {
    pub t: &'static TableTexts,
    pub caption: String,
    pub rows: Vec<Listed>,
}

impl OrderTable {
    pub fn new(lang: Lang, caption: String, rows: &[OrderRow], now: i64) -> Self {
        let rows = rows
            .iter()
            .map(|row| Listed {
                id: row.id.0,
                date: date_time(row.created_at),
                number: row.number.clone(),
                name: row.name.clone(),
                total: yen(row.total),
                fulfilment: fulfilment(lang, &row.fulfilment),
                state: row.state.name(),
                status: status(lang, row.state),
                deadline: deadline(lang, row.state, row.authorized_at, now),
            })
            .collect();
        Self { t: lang.pick(&TABLE_JA, &TABLE_EN), caption, rows }
    }
}

/// The authorization's deadline of an order (empty when it has none to watch).
pub fn deadline(lang: Lang, state: OrderState, authorized_at: Option<i64>, now: i64) -> Deadline {
    match (state, authorized_at) {
        (OrderState::Authorized, Some(at)) => Deadline::at(lang, at + AUTHORIZATION_DAYS * 86_400, now, WARN_DAYS),
        (OrderState::Expired, _) => Deadline::lapsed(lang),
        _ => Deadline::default(),
    }
}

/// The page links under a list (`templates/admin/pager.html`).
pub struct Pager {
    pub t: &'static PagerTexts,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// From 1.
    pub current: u64,
    pub pages: u64,
}

pub struct PagerTexts {
    pub pages: &'static str,
    pub prev: &'static str,
    pub next: &'static str,
}

const PAGER_JA: PagerTexts = PagerTexts { pages: "ページ", prev: "前へ", next: "次へ" };
const PAGER_EN: PagerTexts = PagerTexts { pages: "Pages", prev: "Previous", next: "Next" };

impl Pager {
    /// Page `current` (from 1) of `pages`, each page's link made by `link`.
    pub fn new(lang: Lang, current: u64, pages: u64, link: impl Fn(u64) -> String) -> Self {
        Self {
            t: lang.pick(&PAGER_JA, &PAGER_EN),
            prev: (current > 1).then(|| link(current - 1)),
            next: (current < pages).then(|| link(current + 1)),
            current,
            pages,
        }
    }
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

/// 受注一覧 (`templates/admin/orders.html`).
#[derive(Template)]
#[template(path = "admin/orders.html")]
struct ListPage {
    frame: Frame,
    t: &'static ListTexts,
    /// Each listed status: its name, its words, and whether it is the one chosen.
    states: Vec<(&'static str, &'static str, bool)>,
    lapsing: bool,
    table: OrderTable,
    pager: Pager,
}

struct ListTexts {
    title: &'static str,
    credit_status: &'static str,
    all: &'static str,
    lapsing: &'static str,
    filter: &'static str,
}

const LIST_JA: ListTexts = ListTexts {
    title: "受注一覧",
    credit_status: "クレジット決済状況",
    all: "すべて",
    lapsing: "オーソリ期限が 7 日以内",
    filter: "絞り込む",
};

const LIST_EN: ListTexts = ListTexts {
    title: "Orders",
    credit_status: "Credit status",
    all: "All",
    lapsing: "Authorization ends within 7 days",
    filter: "Filter",
};

fn caption(lang: Lang, total: u64, page: u64, pages: u64) -> String {
    match lang {
        Lang::Ja => format!("{total} 件中 {page} ページ目 ({pages} ページ)"),
        Lang::En => format!("{total} orders, page {page} of {pages}"),
    }
}

/// `GET /admin/orders`: 受注一覧.
pub async fn list(Extension(admin): Extension<Arc<Admin>>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let Some(query) = list_query(&signed.visit.path) else {
        return signed.visit.error(StatusCode::BAD_REQUEST, Problem::BadFilter);
    };
    let now = now();
    let filter = OrderFilter {
        states: query.state.into_iter().collect(),
        lapsing_before: query.lapsing.then_some(now + WARN_DAYS * 86_400),
        page: query.page,
        per_page: PER_PAGE,
    };
    let found = match admin.service().orders(&filter).await {
        Ok(found) => found,
        Err(error) => return internal(signed.visit, &error),
    };
    let t = lang.pick(&LIST_JA, &LIST_EN);
    let pages = found.total.div_ceil(u64::from(PER_PAGE)).max(1);
    let current = u64::from(query.page) + 1;
    let link = |page: u64| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        if let Some(state) = query.state {
            pairs.append_pair("state", state.name());
        }
        if query.lapsing {
            pairs.append_pair("lapsing", "1");
        }
        pairs.append_pair("page", &page.to_string());
        format!("/admin/orders?{}", pairs.finish())
    };
    let page = ListPage {
        frame: signed.frame(t.title, "/admin/orders"),
        t,
        states: LISTED.iter().map(|&state| (state.name(), status(lang, state), query.state == Some(state))).collect(),
        lapsing: query.lapsing,
        table: OrderTable::new(lang, caption(lang, found.total, current, pages), &found.rows, now),
        pager: Pager::new(lang, current, pages, link),
    };
    signed.visit.page(StatusCode::OK, &page)
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
}
