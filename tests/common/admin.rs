//! The shop owner in the admin (管理画面) over real HTTP: a cookie-keeping client that does not
//! follow redirects, logs in through the login form, and submits the admin's forms as a browser
//! does (the shop's `Origin`, the page's CSRF token and the version of the order it showed).
//!
//! Test modules use it as `crate::common::admin`.

#![allow(dead_code)] // each test binary uses its own part of this module

use reqwest::header::{self, HeaderMap};

/// The test owner account.
pub const OWNER: &str = "owner";
pub const OWNER_PASSWORD: &str = "owner-password-1";

/// A page (or redirect) the admin answered.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn read(reply: reqwest::Response) -> Self {
        let status = reply.status().as_u16();
        let headers = reply.headers().clone();
        let body = reply.text().await.unwrap_or_default();
        Self { status, headers, body }
    }

    /// Where a redirect goes.
    #[track_caller]
    pub fn location(&self) -> String {
        assert!((300..400).contains(&self.status), "a redirect, not {}: {}", self.status, self.body);
        self.headers[header::LOCATION].to_str().unwrap().to_owned()
    }

    /// The value of the first form field `name` (an `<input name=… value=…>`).
    pub fn field(&self, name: &str) -> Option<String> {
        hidden(&self.body, name)
    }

    /// Whether the page's text contains `text` (markup stripped, entities as written).
    pub fn shows(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }
}

/// The value of the first `<input … name="{name}" … value="…">`.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = body.find(&marker)?;
    let start = body[..at].rfind('<')?;
    let end = at + body[at..].find('>')?;
    let tag = &body[start..end];
    let value = tag.split("value=\"").nth(1)?;
    Some(value[..value.find('"')?].replace("&amp;", "&").replace("&quot;", "\""))
}

/// One browser of a shop owner.
pub struct AdminBrowser {
    pub shop: String,
    pub http: reqwest::Client,
}

impl AdminBrowser {
    pub fn new(shop: &str) -> Self {
        let http =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { shop: shop.trim_end_matches('/').to_owned(), http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shop)
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::read(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    /// A form post as the admin's pages send it (with the shop's `Origin`).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_from(path, fields, Some(&self.shop.clone())).await
    }

    /// A form post with the `Origin` given (or none).
    pub async fn post_from(&self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let mut request =
            self.http.post(self.url(path)).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        Page::read(request.send().await.unwrap()).await
    }

    /// Posts and follows the redirect (303) to the page it leads to.
    pub async fn post_and_follow(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let answer = self.post(path, fields).await;
        if answer.status == 303 {
            return self.get(&answer.location()).await;
        }
        answer
    }

    /// Logs in through the login form; answers the login's answer (a 303 when it worked).
    pub async fn log_in_as(&self, name: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        let token = form.field("token").expect("the login form's token");
        self.post("/admin/login", &[("token", &token), ("next", "/admin/"), ("name", name), ("password", password)])
            .await
    }

    /// Logs in as the test owner.
    pub async fn log_in(&self) {
        let answer = self.log_in_as(OWNER, OWNER_PASSWORD).await;
        assert_eq!(answer.location(), "/admin/", "{}", answer.body);
    }

    pub async fn order_page(&self, order: i64) -> Page {
        self.get(&format!("/admin/orders/{order}")).await
    }

    /// 「クレジット決済状況変更」 from the order page: `op` (`capture`, `cancel`, `refund`), the
    /// amount typed (none: the field as the page filled it), and the force tick.
    pub async fn operate(&self, order: i64, op: &str, amount: Option<&str>, force: bool) -> Page {
        let page = self.order_page(order).await;
        let csrf = page.field("csrf").expect("a CSRF token on the order page");
        let version = page.field("version").expect("the order's version");
        let shown = page.field("amount").unwrap_or_default();
        let amount = amount.map_or(shown, str::to_owned);
        let mut fields =
            vec![("csrf", csrf.as_str()), ("version", version.as_str()), ("op", op), ("amount", amount.as_str())];
        if force {
            fields.push(("force", "1"));
        }
        self.post(&format!("/admin/orders/{order}/payment"), &fields).await
    }

    /// 受注編集: the lines (name, unit price, quantity), shipping fee, discount and fulfilment.
    pub async fn edit(
        &self,
        order: i64,
        lines: &[(&str, &str, &str)],
        fee: &str,
        discount: &str,
        fulfilment: &str,
    ) -> Page {
        let page = self.order_page(order).await;
        let csrf = page.field("csrf").unwrap();
        let version = hidden(&page.body[page.body.find("/edit\"").expect("the edit form")..], "version").unwrap();
        let mut fields = vec![("csrf", csrf.as_str()), ("version", version.as_str())];
        for (name, price, quantity) in lines {
            fields.extend([("line_name", *name), ("line_price", *price), ("line_quantity", *quantity)]);
        }
        fields.extend([("shipping_fee", fee), ("discount", discount), ("fulfilment", fulfilment)]);
        self.post(&format!("/admin/orders/{order}/edit"), &fields).await
    }

    /// The CSRF token of the admin's pages for this session.
    pub async fn csrf(&self) -> String {
        self.get("/admin/").await.field("csrf").expect("a logged-in page")
    }
}
