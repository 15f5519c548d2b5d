//! 「受注 → AmazonPay クレジット決済状況」: many 仮売上 orders captured in one go, as a stored job
//! running in the background while its page shows the progress and each order's outcome. One
//! order's failure does not stop the rest, and a second run captures nothing twice (an order
//! already captured is skipped; a capture's idempotency key names its charge and amount, so that
//! Amazon answers a repeat with the capture it made). The daily `capture` command uses the same
//! pieces.
//!
//! Where a job runs is kept in the database, not in the process: the instance that starts it
//! claims it and beats a heartbeat while it runs, so that every instance behind a load balancer
//! shows the same progress and whether it runs. A job whose instance stopped (no heartbeat for
//! [`STALE_AFTER`] seconds) shows as interrupted, and any instance can resume it: the orders still
//! waiting are captured, the others are left as they are. The job is the claimant's alone: an
//! instance that lost its claim (it stalled, and another resumed the job) starts no more captures
//! and records no outcome, so that what the new claimant records stands.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::display::{Deadline, date_time};
use super::layout::Frame;
use super::orders::{Pager, WARN_DAYS};
use super::problems::Problem;
use super::{Admin, Lang, Signed, change_form, internal};
use crate::core::operations::{AUTHORIZATION_DAYS, BulkOutcome, Refusal, yen};
use crate::core::orders::OrderState;
use crate::core::platform::OrderId;
use crate::core::{Core, now};
use crate::storage::{BulkItem, BulkJob, BulkOrder, Database, ItemOutcome, OrderFilter, StorageError};

/// Captures under way at once. Each waits for its turn within Amazon's quota for captures (the
/// client's pacing), so more than one only overlap Amazon's answer times.
pub const BULK_CONCURRENCY: usize = 8;
/// The most orders one job takes.
const MAX_JOB: usize = 10_000;
/// Orders per page of the selection.
const PER_PAGE: u32 = 100;
/// How often the instance running a job says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// A job whose instance has not been heard of for this many seconds (six heartbeats) is taken
/// as stopped: it shows as interrupted, and any instance may resume it.
pub const STALE_AFTER: i64 = 30;

/// The name this server process claims jobs under: unique among the instances on a database
/// (its process ID, for the logs, and a random part, since two machines may share one).
pub fn instance_name() -> Result<String, crate::core::random::NoRandomness> {
    let random = crate::core::random::random_token()?;
    Ok(format!("{}-{}", std::process::id(), &random[..12]))
}

/// The authorized (仮売上) orders, all of them or those authorized before `authorized_before`
/// (Unix seconds), oldest first: what a bulk capture takes.
pub async fn authorized_orders(db: &Database, authorized_before: Option<i64>) -> Result<Vec<BulkOrder>, StorageError> {
    let mut orders = Vec::new();
    for page in 0.. {
        let filter = OrderFilter {
            states: vec![OrderState::Authorized],
            // "Lapsing before t" means authorized before t - 30 days.
            lapsing_before: authorized_before.map(|before| before + AUTHORIZATION_DAYS * 86_400),
            page,
            per_page: 500,
        };
        let found = db.list_orders(&filter).await?;
        let last = found.rows.len() < 500;
        orders.extend(found.rows.into_iter().map(|row| BulkOrder { order: row.id, number: row.number }));
        if last || orders.len() >= 1_000_000 {
            break;
        }
    }
    orders.reverse();
    Ok(orders)
}

/// How one order of a bulk capture is recorded: done (captured, or Amazon completes it later),
/// skipped (nothing to do: already captured), or refused with the owner's words.
pub fn bulk_item(outcome: &BulkOutcome, number: &str) -> BulkItem {
    let (kind, message) = match &outcome.result {
        Ok(OrderState::Captured) => (ItemOutcome::Done, "実売上にしました。".to_owned()),
        Ok(state) => (
            ItemOutcome::Done,
            format!("実売上を依頼しました ({})。Amazon Pay が後で確定します。", state.credit_status()),
        ),
        Err(Refusal::WrongState(state @ (OrderState::Captured | OrderState::Capturing | OrderState::Refunded))) => {
            (ItemOutcome::Skipped, format!("既に「{}」のため何もしませんでした。", state.credit_status()))
        }
        Err(refusal) => (ItemOutcome::Refused, refusal.message_ja()),
    };
    BulkItem { order: outcome.order, number: number.to_owned(), outcome: kind, message }
}

/// 「AmazonPay クレジット決済状況」 (`templates/admin/bulk.html`).
#[derive(Template)]
#[template(path = "admin/bulk.html")]
struct BulkPage {
    frame: Frame,
    t: &'static BulkTexts,
    csrf: String,
    lapsing: bool,
    caption: String,
    rows: Vec<Choice>,
    confirm_all: String,
    capture_all: &'static str,
    /// Only when there is more than one page.
    pager: Option<Pager>,
}

/// One 仮売上 order to choose.
struct Choice {
    id: i64,
    date: String,
    number: String,
    name: String,
    total: String,
    deadline: Deadline,
}

struct BulkTexts {
    title: &'static str,
    intro: &'static str,
    lapsing: &'static str,
    filter: &'static str,
    select_all: &'static str,
    columns: [&'static str; 5],
    none: &'static str,
    capture_selected: &'static str,
    capture_all: &'static str,
    capture_all_lapsing: &'static str,
}

const BULK_JA: BulkTexts = BulkTexts {
    title: "AmazonPay クレジット決済状況",
    intro: "発送が済んだ「仮売上」の受注を選んで、まとめて「実売上」にします。1 件が失敗しても残りは続けます。同じ受注を 2 回実売上にすることはありません。Amazon Pay が受け付ける速さ (本番環境で 1 秒に 4 件、テストモードで 1 秒に 1 件) で順に処理するため、1,000 件なら本番環境で約 4 分、テストモードで約 17 分かかります。",
    lapsing: "オーソリ期限が 7 日以内の受注のみ",
    filter: "絞り込む",
    select_all: "このページの受注をすべて選択",
    columns: ["受注日", "注文番号", "お名前", "購入金額(円)", "オーソリ期限"],
    none: "仮売上の受注はありません。",
    capture_selected: "選択した受注を実売上にする",
    capture_all: "仮売上の受注をすべて実売上にする",
    capture_all_lapsing: "期限が 7 日以内の仮売上をすべて実売上にする",
};

const BULK_EN: BulkTexts = BulkTexts {
    title: "Amazon Pay credit status (bulk)",
    intro: "Choose shipped authorized orders and capture them in one go. One failure does not stop the rest; no order is captured twice. Orders go at the pace Amazon Pay accepts (4 a second in production, 1 in test mode): 1,000 orders take about 4 minutes in production, about 17 in test mode.",
    lapsing: "Only authorizations ending within 7 days",
    filter: "Filter",
    select_all: "Select every order on this page",
    columns: ["Date", "Order no.", "Name", "Total (¥)", "Authorization ends"],
    none: "No authorized orders.",
    capture_selected: "Capture the selected orders",
    capture_all: "Capture every one of them",
    capture_all_lapsing: "Capture every one of them",
};

/// `GET /admin/amazonpay`: the 仮売上 orders to choose from.
pub async fn page(Extension(admin): Extension<Arc<Admin>>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let query = url::Url::parse(&format!("http://admin.invalid{}", signed.visit.path)).ok();
    let value =
        |name: &str| query.as_ref().and_then(|q| q.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()));
    let lapsing = value("lapsing").as_deref() == Some("1");
    let page = value("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).clamp(1, 100_000) - 1;
    let now = now();
    let filter = OrderFilter {
        states: vec![OrderState::Authorized],
        lapsing_before: lapsing.then_some(now + WARN_DAYS * 86_400),
        page,
        per_page: PER_PAGE,
    };
    let found = match admin.app.db.list_orders(&filter).await {
        Ok(found) => found,
        Err(error) => return internal(signed.visit, &error),
    };
    let t = lang.pick(&BULK_JA, &BULK_EN);
    let (caption, confirm_all) = match lang {
        Lang::Ja => (
            format!("仮売上の受注 {} 件 ({} ページ目)", found.total, page + 1),
            format!("仮売上の受注 {} 件をすべて実売上にします。よろしいですか?", found.total),
        ),
        Lang::En => (
            format!("{} authorized orders (page {})", found.total, page + 1),
            format!("Capture all {} authorized orders?", found.total),
        ),
    };
    let rows = found
        .rows
        .iter()
        .map(|row| Choice {
            id: row.id.0,
            date: date_time(row.created_at),
            number: row.number.clone(),
            name: row.name.clone(),
            total: yen(row.total),
            deadline: row
                .authorized_at
                .map(|at| Deadline::at(lang, at + AUTHORIZATION_DAYS * 86_400, now, WARN_DAYS))
                .unwrap_or_default(),
        })
        .collect();
    let pages = found.total.div_ceil(u64::from(PER_PAGE)).max(1);
    let link = |page: u64| format!("/admin/amazonpay?{}page={page}", if lapsing { "lapsing=1&" } else { "" });
    let page = BulkPage {
        frame: signed.frame(t.title, "/admin/amazonpay"),
        t,
        csrf: signed.owner.csrf.clone(),
        lapsing,
        caption,
        rows,
        confirm_all,
        capture_all: if lapsing { t.capture_all_lapsing } else { t.capture_all },
        pager: (pages > 1).then(|| Pager::new(lang, u64::from(page) + 1, pages, link)),
    };
    signed.visit.page(StatusCode::OK, &page)
}

/// `POST /admin/amazonpay/capture`: starts a job over the chosen orders (or all 仮売上 ones).
pub async fn start(Extension(admin): Extension<Arc<Admin>>, signed: Signed, body: Bytes) -> Response {
    let form = match change_form(&admin, &signed, &body) {
        Ok(form) => form,
        Err((status, problem)) => return signed.visit.error(status, problem),
    };
    let db = &admin.app.db;
    let orders: Vec<BulkOrder> = if form.get("scope") == Some("all") {
        match authorized_orders(db, None).await {
            Ok(orders) => orders,
            Err(error) => return internal(signed.visit, &error),
        }
    } else {
        let mut ids: Vec<i64> = Vec::new();
        for value in form.all("order") {
            match value.parse::<i64>() {
                Ok(id) if id > 0 && !ids.contains(&id) => ids.push(id),
                Ok(_) => {}
                Err(_) => {
                    return signed.visit.error(StatusCode::BAD_REQUEST, Problem::BadOrders);
                }
            }
        }
        ids.truncate(MAX_JOB + 1);
        match admin.service().placed_orders(&ids).await {
            Ok(orders) => orders.into_iter().map(|order| BulkOrder { order: order.id, number: order.number }).collect(),
            Err(error) => return internal(signed.visit, &error),
        }
    };
    if orders.is_empty() {
        return signed.visit.error(StatusCode::UNPROCESSABLE_ENTITY, Problem::NoOrdersChosen);
    }
    if orders.len() > MAX_JOB {
        return signed.visit.error(StatusCode::UNPROCESSABLE_ENTITY, Problem::TooManyOrders);
    }
    let job = match db.start_bulk(&signed.owner.name, &orders, &admin.instance).await {
        Ok(job) => job,
        Err(error) => return internal(signed.visit, &error),
    };
    tracing::info!(owner = %signed.owner.name, job, orders = orders.len(), instance = %admin.instance, "bulk capture started");
    tokio::spawn(run(admin.clone(), job, signed.owner.name.clone()));
    signed.visit.see_other(&format!("/admin/amazonpay/jobs/{job}"))
}

/// `POST /admin/amazonpay/jobs/{id}/resume`: an interrupted job's waiting orders, captured by
/// this instance (if no other instance runs the job: one that is alive keeps it).
pub async fn resume(
    Extension(admin): Extension<Arc<Admin>>,
    Path(job): Path<String>,
    signed: Signed,
    body: Bytes,
) -> Response {
    if let Err((status, problem)) = change_form(&admin, &signed, &body) {
        return signed.visit.error(status, problem);
    }
    let Some(job) = job.parse::<i64>().ok() else {
        return signed.visit.error(StatusCode::NOT_FOUND, Problem::NoSuchJob);
    };
    let db = &admin.app.db;
    match db.bulk_job(job).await {
        Ok(Some(_)) => {}
        Ok(None) => return signed.visit.error(StatusCode::NOT_FOUND, Problem::NoSuchJob),
        Err(error) => return internal(signed.visit, &error),
    }
    match db.claim_bulk(job, &admin.instance, now() - STALE_AFTER).await {
        Ok(true) => {
            tracing::info!(owner = %signed.owner.name, job, instance = %admin.instance, "bulk capture resumed");
            tokio::spawn(run(admin.clone(), job, signed.owner.name.clone()));
        }
        // Running elsewhere, or finished: the page shows which.
        Ok(false) => {}
        Err(error) => return internal(signed.visit, &error),
    }
    signed.visit.see_other(&format!("/admin/amazonpay/jobs/{job}"))
}

/// Runs a job this instance claimed (see [`run_job`]).
async fn run(admin: Arc<Admin>, job: i64, owner: String) {
    run_job(&admin.app.db, &admin.app.core, job, &owner, &admin.instance).await;
}

/// Runs job `job`, which `instance` claimed: captures its waiting orders as `owner`, records each
/// outcome, beats the job's heartbeat meanwhile, and lets the job go at the end (finished when
/// nothing is left waiting). Before each capture it makes sure the job is still `instance`'s:
/// once another instance has taken it over, no more captures start here (those in flight end,
/// each made once at Amazon), and the outcomes recorded are the new claimant's alone.
pub async fn run_job(db: &Database, core: &Core, job: i64, owner: &str, instance: &str) {
    let orders: Vec<BulkOrder> = match db.bulk(job).await {
        Ok(items) => items
            .into_iter()
            .filter(|i| i.outcome == ItemOutcome::Waiting)
            .map(|i| BulkOrder { order: i.order, number: i.number })
            .collect(),
        Err(error) => {
            tracing::error!(%error, job, "could not read the bulk job; it can be resumed");
            let _ = db.release_bulk(job, instance).await;
            return;
        }
    };
    let ids: Vec<OrderId> = orders.iter().map(|o| o.order).collect();
    let numbers: std::collections::HashMap<OrderId, String> = orders.into_iter().map(|o| (o.order, o.number)).collect();
    let still_ours = || async move {
        match db.bulk_job(job).await {
            Ok(record) => {
                let ours = record.is_some_and(|record| record.claimed_by.as_deref() == Some(instance));
                if !ours {
                    tracing::warn!(job, instance, "another instance took the bulk job over; no more captures here");
                }
                ours
            }
            Err(error) => {
                tracing::error!(%error, job, "could not read the bulk job's claim; stopping (it can be resumed)");
                false
            }
        }
    };
    let captures = core.capture_many(&ids, owner, BULK_CONCURRENCY, still_ours, |finished| {
        let items: Vec<BulkItem> = finished
            .iter()
            .map(|outcome| bulk_item(outcome, numbers.get(&outcome.order).map_or("", String::as_str)))
            .collect();
        async move {
            match db.record_bulk_items(job, instance, &items).await {
                Ok(recorded) if recorded == items.len() => {}
                Ok(recorded) => tracing::warn!(
                    job,
                    lost = items.len() - recorded,
                    "the bulk job is another instance's now; its outcomes are theirs"
                ),
                Err(error) => tracing::error!(%error, job, "could not record bulk outcomes; the orders stay waiting"),
            }
        }
    });
    let heartbeat = async {
        let mut beats = tokio::time::interval(HEARTBEAT);
        beats.tick().await;
        loop {
            beats.tick().await;
            match db.beat_bulk(job, instance).await {
                Ok(true) => {}
                // This instance stalled and another one resumed the job: no capture starts here
                // any more (each start checks the claim), those in flight end.
                Ok(false) => {
                    tracing::warn!(job, "another instance took the bulk job over");
                    return;
                }
                Err(error) => tracing::warn!(%error, job, "could not beat the bulk job's heartbeat"),
            }
        }
    };
    futures_util::pin_mut!(captures);
    tokio::select! {
        _ = &mut captures => {}
        () = heartbeat => { captures.await; }
    }
    if let Err(error) = db.release_bulk(job, instance).await {
        tracing::error!(%error, job, "could not let the bulk job go; it shows as interrupted once stale");
    }
    tracing::info!(job, "bulk capture finished");
}

/// A job's progress, as the page and its script read it (the same on every instance).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// An instance runs it now (its heartbeat is recent).
    running: bool,
    /// Orders are waiting and no instance runs it: it can be resumed.
    interrupted: bool,
    /// The instance that runs (or last ran) it.
    instance: Option<String>,
    /// When that instance was last heard of (Unix seconds).
    heartbeat_at: Option<i64>,
    /// When it finished (Unix seconds).
    finished_at: Option<i64>,
    /// Orders in the job.
    total: usize,
    /// Captured (or capturing).
    done: usize,
    /// Nothing to do.
    skipped: usize,
    /// Refused, with the reason.
    refused: usize,
    /// Not reached yet (or never, if the server stopped meanwhile).
    waiting: usize,
    /// Each order.
    items: Vec<BulkItem>,
}

async fn progress_of(admin: &Admin, job: i64) -> Result<Option<Progress>, StorageError> {
    let Some(record) = admin.app.db.bulk_job(job).await? else { return Ok(None) };
    let items = admin.app.db.bulk(job).await?;
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(progress_at(&record, items, now())))
}

/// What a job's record and items say at `now`.
fn progress_at(job: &BulkJob, items: Vec<BulkItem>, now: i64) -> Progress {
    let count = |kind: ItemOutcome| items.iter().filter(|item| item.outcome == kind).count();
    let running = job.is_running(now - STALE_AFTER);
    let waiting = count(ItemOutcome::Waiting);
    Progress {
        running,
        interrupted: !running && waiting > 0,
        instance: job.claimed_by.clone(),
        heartbeat_at: job.heartbeat_at,
        finished_at: job.finished_at,
        total: items.len(),
        done: count(ItemOutcome::Done),
        skipped: count(ItemOutcome::Skipped),
        refused: count(ItemOutcome::Refused),
        waiting,
        items,
    }
}

/// A bulk job's page (`templates/admin/job.html`).
#[derive(Template)]
#[template(path = "admin/job.html")]
struct JobPage {
    frame: Frame,
    t: &'static JobTexts,
    job: i64,
    csrf: String,
    progress: Progress,
    finished: usize,
    state: &'static str,
    /// When the server running it was last heard of, while it runs.
    heartbeat: Option<String>,
}

impl JobPage {
    fn outcome(&self, outcome: &ItemOutcome) -> &'static str {
        let t = self.t;
        match outcome {
            ItemOutcome::Done => t.done_label,
            ItemOutcome::Skipped => t.skipped_label,
            ItemOutcome::Refused => t.refused_label,
            ItemOutcome::Waiting => t.waiting_label,
        }
    }
}

struct JobTexts {
    title: &'static str,
    running: &'static str,
    interrupted: &'static str,
    finished: &'static str,
    progress: &'static str,
    done: &'static str,
    skipped: &'static str,
    refused: &'static str,
    running_on: &'static str,
    last_heard: &'static str,
    resume: &'static str,
    caption: &'static str,
    number: &'static str,
    outcome: &'static str,
    detail: &'static str,
    done_label: &'static str,
    skipped_label: &'static str,
    refused_label: &'static str,
    waiting_label: &'static str,
    back: &'static str,
    reload: &'static str,
}

const JOB_JA: JobTexts = JobTexts {
    title: "実売上の一括処理",
    running: "処理中…",
    interrupted: "中断しました (処理していたサーバーが停止しました)。「続きを実行する」で、残りの受注だけを実売上にします。",
    finished: "完了しました。",
    progress: "進み具合",
    done: "実売上",
    skipped: "対象外 (既に実売上)",
    refused: "失敗",
    running_on: "実行中のサーバー:",
    last_heard: "最終応答",
    resume: "続きを実行する (残りの受注を実売上にする)",
    caption: "受注ごとの結果",
    number: "注文番号",
    outcome: "結果",
    detail: "内容",
    done_label: "実売上",
    skipped_label: "対象外",
    refused_label: "失敗",
    waiting_label: "待機中",
    back: "AmazonPay クレジット決済状況に戻る",
    reload: "再読み込みすると最新の進み具合を表示します。",
};

const JOB_EN: JobTexts = JobTexts {
    title: "Bulk capture",
    running: "Running…",
    interrupted: "Interrupted (the server running it stopped); resume it to capture the orders still waiting.",
    finished: "Finished.",
    progress: "Progress",
    done: "Captured",
    skipped: "Skipped (already captured)",
    refused: "Refused",
    running_on: "Running on server",
    last_heard: "last heard of",
    resume: "Resume (capture the orders still waiting)",
    caption: "Outcome per order",
    number: "Order no.",
    outcome: "Outcome",
    detail: "Detail",
    done_label: "Captured",
    skipped_label: "Skipped",
    refused_label: "Refused",
    waiting_label: "Waiting",
    back: "Back to the bulk page",
    reload: "Reload the page to see the progress.",
};

/// `GET /admin/amazonpay/jobs/{id}`: the job's progress and each order's outcome.
pub async fn job_page(Extension(admin): Extension<Arc<Admin>>, Path(job): Path<String>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let Some(job) = job.parse::<i64>().ok() else {
        return signed.visit.error(StatusCode::NOT_FOUND, Problem::NoSuchJob);
    };
    let progress = match progress_of(&admin, job).await {
        Ok(Some(progress)) => progress,
        Ok(None) => return signed.visit.error(StatusCode::NOT_FOUND, Problem::NoSuchJob),
        Err(error) => return internal(signed.visit, &error),
    };
    let t = lang.pick(&JOB_JA, &JOB_EN);
    let state = if progress.running {
        t.running
    } else if progress.interrupted {
        t.interrupted
    } else {
        t.finished
    };
    let page = JobPage {
        frame: signed.frame(t.title, "/admin/amazonpay"),
        t,
        job,
        csrf: signed.owner.csrf.clone(),
        finished: progress.total - progress.waiting,
        state,
        heartbeat: progress.heartbeat_at.filter(|_| progress.running).map(date_time),
        progress,
    };
    signed.visit.page(StatusCode::OK, &page)
}

/// `GET /api/amazonpay2/admin/bulk/{id}`: the job's progress as JSON (an owner's session only).
pub async fn progress(
    Extension(admin): Extension<Arc<Admin>>,
    Path(job): Path<String>,
    headers: HeaderMap,
) -> Response {
    let jar = CookieJar::from_headers(&headers);
    let error = |status: StatusCode, code: &'static str, message: &str| {
        let body = crate::contract::ApiError {
            error: crate::contract::ApiErrorBody { code: code.into(), message: message.into() },
        };
        (status, Json(body)).into_response()
    };
    let owner = match admin.sessions().await {
        Ok(sessions) => sessions.current(&jar).await,
        Err(error) => Err(error),
    };
    match owner {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::UNAUTHORIZED, "admin_login_required", "Log in to the admin first."),
        Err(e) => {
            tracing::error!(error = %e, "bulk progress failed");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Something went wrong on the server; please try again.",
            );
        }
    }
    let Ok(job) = job.parse::<i64>() else { return error(StatusCode::NOT_FOUND, "not_found", "No such job.") };
    match progress_of(&admin, job).await {
        Ok(Some(progress)) => Json(progress).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found", "No such job."),
        Err(e) => {
            tracing::error!(error = %e, "bulk progress failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Something went wrong on the server; please try again.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_runs_while_its_instance_beats_and_is_interrupted_when_it_stops() {
        let item =
            |outcome: ItemOutcome| BulkItem { order: OrderId(1), number: "1".into(), outcome, message: String::new() };
        let job = BulkJob {
            id: 1,
            owner: "admin".into(),
            created_at: 0,
            claimed_by: Some("a".into()),
            heartbeat_at: Some(1_000),
            finished_at: None,
        };
        let alive = progress_at(&job, vec![item(ItemOutcome::Waiting)], 1_000 + STALE_AFTER);
        assert!(alive.running && !alive.interrupted);
        let stopped = progress_at(&job, vec![item(ItemOutcome::Waiting)], 1_001 + STALE_AFTER);
        assert!(!stopped.running && stopped.interrupted, "no heartbeat: resumable");
        let finished = BulkJob { claimed_by: None, finished_at: Some(1_000), ..job };
        let done = progress_at(&finished, vec![item(ItemOutcome::Done)], 1_000);
        assert!(!done.running && !done.interrupted);
    }

    #[test]
    fn outcomes_are_done_skipped_or_refused_in_the_owners_words() {
        let outcome = |result| BulkOutcome { order: OrderId(1), result };
        assert_eq!(bulk_item(&outcome(Ok(OrderState::Captured)), "10001").outcome, ItemOutcome::Done);
        assert_eq!(bulk_item(&outcome(Ok(OrderState::Capturing)), "10001").outcome, ItemOutcome::Done);
        let skipped = bulk_item(&outcome(Err(Refusal::WrongState(OrderState::Captured))), "10001");
        assert_eq!((skipped.outcome, skipped.number.as_str()), (ItemOutcome::Skipped, "10001"));
        let refused = bulk_item(&outcome(Err(Refusal::AmazonRefused { code: "X".into(), message: "m".into() })), "1");
        assert_eq!(refused.outcome, ItemOutcome::Refused);
        assert!(refused.message.contains("エラーを無視して変更する"));
        assert_eq!(
            bulk_item(&outcome(Err(Refusal::WrongState(OrderState::Canceled))), "1").outcome,
            ItemOutcome::Refused
        );
    }
}
