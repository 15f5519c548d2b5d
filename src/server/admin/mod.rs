//! The shop owner's admin (管理画面) under `/admin/`, and the JSON its pages use under
//! `/api/amazonpay2/admin/`: 受注一覧, 受注編集 with 「クレジット決済状況変更」, the bulk page
//! 「AmazonPay クレジット決済状況」, the shipping methods' 「支払方法: AmazonPay」 tick and the Amazon
//! Pay settings in force.
//!
//! Server-rendered pages with plain forms, from askama templates (`templates/admin/`, one per page
//! around a shared frame; each page's words in both languages beside its handler), Japanese first
//! (English with `?lang=en` or an English browser), a small script only for the bulk progress.
//! Handlers parse, make one call to [`service`] (which gathers the shop's records and the
//! core's answers, Amazon's live view from the core's admin service, [`crate::core::admin`]) and
//! render. Every page needs an owner's login, which is a session of its own (a shopper's session is never an owner's); every change needs the
//! shop origin and the session's CSRF token; no answer is cached.

pub mod auth;
mod bulk;
mod display;
mod escape;
mod home;
mod input;
mod keys;
mod layout;
mod order;
mod order_changes;
mod orders;
mod problems;
mod service;
mod settings;
mod words;

pub use self::display::date_time;
pub use self::escape::NamedEntities;

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use tokio::sync::OnceCell;
use tower_http::set_header::SetResponseHeaderLayer;

pub use self::auth::{DEMO_ADMIN, put_account};
use self::auth::{Owner, Sessions};
pub use self::bulk::{BULK_CONCURRENCY, STALE_AFTER, authorized_orders, bulk_item, instance_name, run_job};
use self::layout::{Frame, Message, Nav};
use self::problems::Problem;
use super::AppState;
use super::config::ShopOrigin;
use crate::storage::StorageError;

/// What the admin pages share: the server's state, the owners' sessions (made on first use: the
/// key is in the database), and the name this server instance claims bulk jobs under (which
/// jobs run, and where, is in the database: every instance behind a load balancer sees it).
pub struct Admin {
    app: Arc<AppState>,
    sessions: OnceCell<Sessions>,
    instance: String,
}

impl Admin {
    /// The admin of the shop `app` serves.
    pub fn new(app: Arc<AppState>) -> Self {
        let instance = app.instance.clone();
        Self { app, sessions: OnceCell::new(), instance }
    }

    /// What the pages show and change.
    fn service(&self) -> service::Service<'_> {
        service::Service::new(&self.app.db, &self.app.core)
    }

    async fn sessions(&self) -> Result<&Sessions, StorageError> {
        self.sessions
            .get_or_try_init(|| Sessions::new(self.app.db.clone(), self.app.config.shop_origin.is_https()))
            .await
    }
}

/// The admin's pages (to merge at the site root) and its JSON (to mount beside the API). Each
/// request finds its shop's [`Admin`] in its extensions (see `crate::server::shops`).
pub fn routes() -> (Router, Router) {
    let pages = Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(home::page))
        .route("/admin/login", get(login_page).post(log_in))
        .route("/admin/logout", post(log_out))
        .route("/admin/orders", get(orders::list))
        .route("/admin/orders/{id}", get(order::show))
        .route("/admin/orders/{id}/edit", post(order_changes::edit))
        .route("/admin/orders/{id}/payment", post(order_changes::payment))
        .route("/admin/orders/{id}/sync", post(order_changes::sync))
        .route("/admin/orders/{id}/subscription", post(order_changes::cancel_subscription))
        .route("/admin/amazonpay", get(bulk::page))
        .route("/admin/amazonpay/capture", post(bulk::start))
        .route("/admin/amazonpay/jobs/{id}", get(bulk::job_page))
        .route("/admin/amazonpay/jobs/{id}/resume", post(bulk::resume))
        .route("/admin/settings/shipping", get(settings::shipping).post(settings::save_shipping))
        .route("/admin/settings/amazonpay", get(settings::amazon_pay).post(keys::save))
        .route("/admin/settings/amazonpay/check", post(settings::check))
        .route("/admin/assets/admin.css", get(stylesheet))
        .route("/admin/assets/admin.js", get(script))
        .route("/admin/{*rest}", get(not_found).post(not_found))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")));
    let api = Router::new()
        .route("/admin/bulk/{id}", get(bulk::progress))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    (pages, api)
}

// ---------------------------------------------------------------------------------------------
// Language
// ---------------------------------------------------------------------------------------------

/// The language of the admin's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Japanese (the default).
    Ja,
    /// English.
    En,
}

/// The cookie remembering a `?lang=` choice.
const LANG_COOKIE: &str = "amazonpay2_admin_lang";

impl Lang {
    /// The Japanese or the English of something.
    pub fn pick<'a, T: ?Sized>(self, ja: &'a T, en: &'a T) -> &'a T {
        match self {
            Self::Ja => ja,
            Self::En => en,
        }
    }

    /// `ja` or `en` (the page's `lang`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Ja => "ja",
            Self::En => "en",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        match code {
            "ja" => Some(Self::Ja),
            "en" => Some(Self::En),
            _ => None,
        }
    }
}

/// One request to the admin: its language (`?lang=`, then the remembered choice, then the
/// browser's first language) and cookies.
pub struct Visit {
    /// The pages' language.
    pub lang: Lang,
    /// The request's cookies (and any to set).
    pub jar: CookieJar,
    /// The path and query, to come back to after a login.
    pub path: String,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut jar = CookieJar::from_headers(&parts.headers);
        let chosen = parts
            .uri
            .query()
            .and_then(|query| url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "lang"))
            .and_then(|(_, v)| Lang::parse(&v));
        let lang = match chosen {
            Some(lang) => {
                let cookie = Cookie::build((LANG_COOKIE, lang.code())).path("/admin").same_site(SameSite::Strict);
                jar = jar.add(cookie.build());
                lang
            }
            None => jar.get(LANG_COOKIE).and_then(|c| Lang::parse(c.value())).unwrap_or_else(|| {
                let accepted = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
                if accepted.trim_start().to_ascii_lowercase().starts_with("en") { Lang::En } else { Lang::Ja }
            }),
        };
        let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        Ok(Self { lang, jar, path, headers: parts.headers.clone() })
    }
}

impl Visit {
    /// A page answer (with the language cookie, if chosen now).
    pub fn page(self, status: StatusCode, page: &impl Template) -> Response {
        match page.render() {
            Ok(html) => (status, self.jar, Html(html)).into_response(),
            Err(error) => {
                // Not the error page: it could fail the same way.
                tracing::error!(%error, "admin page could not be rendered");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
            }
        }
    }

    /// A redirect after a form (303: the browser then GETs the page).
    pub fn see_other(self, to: &str) -> Response {
        (self.jar, Redirect::to(to)).into_response()
    }

    /// An error page.
    pub fn error(self, status: StatusCode, problem: Problem) -> Response {
        let lang = self.lang;
        let page = ErrorPage {
            frame: Frame::new(lang, lang.pick("エラー", "Error"), None),
            message: Message::error(problem.text(lang)),
        };
        self.page(status, &page)
    }
}

/// An error page.
#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage {
    frame: Frame,
    message: Message,
}

/// An answer of the admin that is a failure of the server itself.
fn internal(visit: Visit, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "admin page failed");
    visit.error(StatusCode::INTERNAL_SERVER_ERROR, Problem::Internal)
}

// ---------------------------------------------------------------------------------------------
// Logged-in owners
// ---------------------------------------------------------------------------------------------

/// A request of a logged-in owner; anyone else is sent to the login page (and back after it).
pub struct Signed {
    /// The owner.
    pub owner: Owner,
    /// The request.
    pub visit: Visit,
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(visit) = Visit::from_request_parts(parts, state).await;
        let Some(admin) = parts.extensions.get::<Arc<Admin>>().cloned() else {
            return Err(StatusCode::NOT_FOUND.into_response());
        };
        let sessions = match admin.sessions().await {
            Ok(sessions) => sessions,
            Err(error) => return Err(internal(visit, &error)),
        };
        match sessions.current(&visit.jar).await {
            Ok(Some(owner)) => Ok(Self { owner, visit }),
            Ok(None) => {
                let next = if parts.method == axum::http::Method::GET { visit.path.clone() } else { "/admin/".into() };
                let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("next", &next).finish();
                Err(visit.see_other(&format!("/admin/login?{query}")))
            }
            Err(error) => Err(internal(visit, &error)),
        }
    }
}

impl Signed {
    /// The frame of the page `current` of the navigation, titled `title`.
    fn frame(&self, title: impl Into<String>, current: &'static str) -> Frame {
        let nav = Nav { owner: self.owner.name.clone(), csrf: self.owner.csrf.clone(), current };
        Frame::new(self.visit.lang, title, Some(nav))
    }

    /// Checks a form that changes something: the shop origin and the session's CSRF token.
    fn check_change(&self, shop: &ShopOrigin, form: &input::Form) -> Result<(), (StatusCode, Problem)> {
        self.check_token(shop, form.get("csrf").unwrap_or_default())
    }

    /// Checks a change's origin and its CSRF `token` (however the form carried it).
    fn check_token(&self, shop: &ShopOrigin, token: &str) -> Result<(), (StatusCode, Problem)> {
        if !same_origin(&self.visit.headers, shop) {
            return Err((StatusCode::FORBIDDEN, Problem::ForeignOrigin));
        }
        if !crate::core::secrets_equal(token, &self.owner.csrf) {
            return Err((StatusCode::FORBIDDEN, Problem::StaleToken));
        }
        Ok(())
    }
}

/// Whether a state-changing request comes from the shop's own pages; one with neither `Origin`
/// nor `Referer` is refused.
fn same_origin(headers: &HeaderMap, shop: &ShopOrigin) -> bool {
    crate::server::guard::same_origin(headers, shop) == Some(true)
}

/// Reads a change's form and checks its origin and token; the refusal page otherwise.
fn change_form(admin: &Admin, signed: &Signed, body: &[u8]) -> Result<input::Form, (StatusCode, Problem)> {
    let Some(form) = form_body(&signed.visit.headers, body) else {
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, Problem::SendForm));
    };
    signed.check_change(&admin.app.config.shop_origin, &form)?;
    Ok(form)
}

/// The body of a form post (`application/x-www-form-urlencoded` only).
fn form_body(headers: &HeaderMap, body: &[u8]) -> Option<input::Form> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    kind.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded").then(|| input::Form::parse(body))
}

// ---------------------------------------------------------------------------------------------
// Login and logout
// ---------------------------------------------------------------------------------------------

/// The login page (`templates/admin/login.html`).
#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage<'a> {
    frame: Frame,
    t: &'static LoginTexts,
    token: &'a str,
    next: &'a str,
    name: &'a str,
    problem: Option<Message>,
}

struct LoginTexts {
    title: &'static str,
    heading: &'static str,
    name: &'static str,
    password: &'static str,
    log_in: &'static str,
}

const LOGIN_JA: LoginTexts = LoginTexts {
    title: "ログイン",
    heading: "管理画面ログイン",
    name: "管理者名",
    password: "パスワード",
    log_in: "ログイン",
};
const LOGIN_EN: LoginTexts =
    LoginTexts { title: "Login", heading: "Admin login", name: "Account name", password: "Password", log_in: "Log in" };

/// The login form, after `problem` if any.
fn login_form(
    visit: Visit,
    status: StatusCode,
    token: &str,
    next: &str,
    name: &str,
    problem: Option<Problem>,
) -> Response {
    let lang = visit.lang;
    let t = lang.pick(&LOGIN_JA, &LOGIN_EN);
    let problem = problem.map(|problem| Message::error(problem.text(lang)));
    let page = LoginPage { frame: Frame::new(lang, t.title, None), t, token, next, name, problem };
    visit.page(status, &page)
}

/// `GET /admin/login`.
async fn login_page(Extension(admin): Extension<Arc<Admin>>, visit: Visit) -> Response {
    let sessions = match admin.sessions().await {
        Ok(sessions) => sessions,
        Err(error) => return internal(visit, &error),
    };
    if let Ok(Some(_)) = sessions.current(&visit.jar).await {
        return visit.see_other("/admin/");
    }
    let next = url::Url::parse(&format!("http://admin.invalid{}", visit.path))
        .ok()
        .and_then(|url| url.query_pairs().find(|(k, _)| k == "next").map(|(_, v)| v.into_owned()))
        .and_then(|next| input::admin_path(&next).map(str::to_owned))
        .unwrap_or_else(|| "/admin/".into());
    let (nonce, cookie) = match sessions.login_nonce(&visit.jar) {
        Ok(nonce) => nonce,
        Err(error) => return internal(visit, &error),
    };
    let mut visit = visit;
    if let Some(cookie) = cookie {
        visit.jar = visit.jar.add(cookie);
    }
    login_form(visit, StatusCode::OK, &sessions.login_token(&nonce), &next, "", None)
}

/// `POST /admin/login`.
async fn log_in(Extension(admin): Extension<Arc<Admin>>, visit: Visit, body: axum::body::Bytes) -> Response {
    let sessions = match admin.sessions().await {
        Ok(sessions) => sessions,
        Err(error) => return internal(visit, &error),
    };
    let Some(form) = form_body(&visit.headers, &body) else {
        return visit.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Problem::SendLoginForm);
    };
    let next = form.get("next").and_then(input::admin_path).unwrap_or("/admin/").to_owned();
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    let again = |mut visit: Visit, status: StatusCode, problem: Problem| {
        let (nonce, cookie) = match sessions.login_nonce(&visit.jar) {
            Ok(nonce) => nonce,
            Err(error) => return internal(visit, &error),
        };
        if let Some(cookie) = cookie {
            visit.jar = visit.jar.add(cookie);
        }
        login_form(visit, status, &sessions.login_token(&nonce), &next, &name, Some(problem))
    };
    if !same_origin(&visit.headers, &admin.app.config.shop_origin)
        || !sessions.login_token_valid(&visit.jar, form.get("token").unwrap_or_default())
    {
        return again(visit, StatusCode::FORBIDDEN, Problem::LoginExpired);
    }
    match sessions.log_in(&name, form.get("password").unwrap_or_default()).await {
        Ok(auth::Login::Done(id)) => {
            tracing::info!(owner = %name, "admin login");
            let mut visit = visit;
            visit.jar = visit.jar.add(sessions.session_cookie(&id));
            visit.see_other(&next)
        }
        Ok(auth::Login::Refused) => {
            tracing::warn!(owner = %name, "admin login failed");
            again(visit, StatusCode::UNAUTHORIZED, Problem::WrongLogin)
        }
        Ok(auth::Login::Locked) => {
            tracing::warn!(owner = %name, "admin login locked");
            again(visit, StatusCode::TOO_MANY_REQUESTS, Problem::LoginLocked)
        }
        Ok(auth::Login::Busy) => {
            tracing::warn!(owner = %name, "admin login refused: too many password checks at once");
            again(visit, StatusCode::TOO_MANY_REQUESTS, Problem::LoginBusy)
        }
        Err(error) => internal(visit, &error),
    }
}

/// `POST /admin/logout`.
async fn log_out(Extension(admin): Extension<Arc<Admin>>, signed: Signed, body: axum::body::Bytes) -> Response {
    let form = form_body(&signed.visit.headers, &body).unwrap_or_default();
    if let Err((status, problem)) = signed.check_change(&admin.app.config.shop_origin, &form) {
        return signed.visit.error(status, problem);
    }
    let Signed { owner, mut visit } = signed;
    let sessions = match admin.sessions().await {
        Ok(sessions) => sessions,
        Err(error) => return internal(visit, &error),
    };
    if let Err(error) = sessions.log_out(&owner).await {
        return internal(visit, &error);
    }
    visit.jar = visit.jar.add(sessions.removal());
    visit.see_other("/admin/login")
}

async fn not_found(visit: Visit) -> Response {
    visit.error(StatusCode::NOT_FOUND, Problem::NoSuchPage)
}

async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("assets/admin.css"))
}

async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/javascript; charset=utf-8")], include_str!("assets/admin.js"))
}
