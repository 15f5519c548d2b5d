//! ホーム: how many orders stand in each credit status, and the authorizations that end within
//! 7 days.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::http::StatusCode;
use axum::response::Response;

use super::layout::Frame;
use super::orders::{LISTED, OrderTable, PER_PAGE, WARN_DAYS};
use super::service::Home;
use super::words::status;
use super::{Admin, Lang, Signed, internal};
use crate::core::now;

/// ホーム (`templates/admin/home.html`).
#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage {
    frame: Frame,
    t: &'static HomeTexts,
    /// The warning when authorizations lapse soon.
    lapsing: Option<String>,
    /// Each listed status: its name, its words and how many orders stand in it.
    counts: Vec<(&'static str, &'static str, u64)>,
    table: OrderTable,
}

struct HomeTexts {
    title: &'static str,
    counts: &'static str,
    soon: &'static str,
    see_list: &'static str,
    capture_bulk: &'static str,
}

const JA: HomeTexts = HomeTexts {
    title: "ホーム",
    counts: "クレジット決済状況ごとの受注",
    soon: "オーソリ期限が 7 日以内の受注",
    see_list: "受注一覧で見る",
    capture_bulk: "まとめて実売上にする (AmazonPay クレジット決済状況)",
};

const EN: HomeTexts = HomeTexts {
    title: "Home",
    counts: "Orders by credit status",
    soon: "Authorizations ending within 7 days",
    see_list: "See them in the order list",
    capture_bulk: "Capture them in bulk",
};

fn lapsing_warning(lang: Lang, lapsing: u64) -> String {
    match lang {
        Lang::Ja => format!(
            "オーソリの有効期限 (30日) が 7 日以内に切れる仮売上の受注が {lapsing} 件あります。発送済みなら実売上にしてください。"
        ),
        Lang::En => format!(
            "{lapsing} authorized order(s) lapse within 7 days (authorizations last 30 days): capture those you have shipped."
        ),
    }
}

/// `GET /admin/`.
pub async fn page(Extension(admin): Extension<Arc<Admin>>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let now = now();
    let Home { counts, lapsing } = match admin.service().home(&LISTED, now + WARN_DAYS * 86_400, PER_PAGE).await {
        Ok(home) => home,
        Err(error) => return internal(signed.visit, &error),
    };
    let counts = counts.into_iter().map(|(state, count)| (state.name(), status(lang, state), count)).collect();
    let t = lang.pick(&JA, &EN);
    let page = HomePage {
        frame: signed.frame(t.title, "/admin/"),
        t,
        lapsing: (lapsing.total > 0).then(|| lapsing_warning(lang, lapsing.total)),
        counts,
        table: OrderTable::new(lang, t.soon.to_owned(), &lapsing.rows, now),
    };
    signed.visit.page(StatusCode::OK, &page)
}
