//! Who the shop is to Amazon (its origin and Seller Central identifiers), and the shop's own pages
//! the Amazon flows send shoppers to.

use std::fmt;

use url::Url;

/// The identifiers Seller Central gives the merchant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmazonAccount {
    /// 出品者ID.
    pub merchant_id: String,
    /// Store ID (`amzn1.application-oa2-client.…`).
    pub store_id: String,
    /// Public key ID (`SANDBOX-…`, `LIVE-…` or unprefixed).
    pub public_key_id: String,
    /// アクセスモード「テスト」.
    pub sandbox: bool,
}

/// The shop's origin: scheme, host and port, nothing else. Every signed URL is built from it.
#[derive(Clone, PartialEq, Eq)]
pub struct ShopOrigin(Url);

impl ShopOrigin {
    /// Parses an origin such as `https://shop.example`; a path, query or credentials are refused
    /// because they would make "under the shop origin" ambiguous.
    pub fn parse(value: &str) -> Result<Self, String> {
        let url = Url::parse(value.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must start with https:// or http://".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("has no host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err("must be an origin only, without path, query or fragment".into());
        }
        Ok(Self(url))
    }

    /// `https://shop.example` (no trailing slash), as browsers send it in `Origin`.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// `host[:port]`, as browsers send it in `Host`.
    pub fn authority(&self) -> String {
        let host = self.0.host_str().unwrap_or_default();
        match self.0.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// Whether cookies must be `Secure`.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// An absolute URL under the origin for a path the server chose (never a browser).
    pub fn url(&self, path_and_query: &str) -> String {
        debug_assert!(path_and_query.starts_with('/'));
        format!("{}{}", self.as_str(), path_and_query)
    }
}

impl fmt::Debug for ShopOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShopOrigin({})", self.as_str())
    }
}

/// The shop's pages (same-origin paths) where the Amazon flows continue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopPages {
    /// The member login page (`AMAZONPAY2_LOGIN_PAGE`).
    pub login: String,
    /// The sign-up page, prefilled from Amazon (`AMAZONPAY2_SIGNUP_PAGE`).
    pub signup: String,
    /// My Page (`AMAZONPAY2_MYPAGE`).
    pub mypage: String,
    /// The cart, where a checkout starts again (`AMAZONPAY2_CART_PAGE`).
    pub cart: String,
    /// The order confirmation with the review block (`AMAZONPAY2_CONFIRM_PAGE`).
    pub confirm: String,
    /// The page after a placed order; `?order=<注文番号>` is added (`AMAZONPAY2_COMPLETE_PAGE`).
    pub complete: String,
}

impl Default for ShopPages {
    /// The paths of the demo shop (and of Craft Cart's page layout).
    fn default() -> Self {
        Self {
            login: "/member/login.html".into(),
            signup: "/member/signup.html".into(),
            mypage: "/mypage/".into(),
            cart: "/shopping/cart.html".into(),
            confirm: "/shopping/confirm.html".into(),
            complete: "/shopping/complete.html".into(),
        }
    }
}

/// What the core needs to know about the shop.
#[derive(Clone, Debug)]
pub struct CoreSettings {
    /// The shop origin every signed URL lies under.
    pub shop_origin: ShopOrigin,
    /// The merchant's Amazon Pay identity.
    pub amazon: AmazonAccount,
    /// The shop's pages.
    pub pages: ShopPages,
    /// The store name Amazon shows the buyer (`merchantStoreName`); Seller Central's when unset.
    pub store_name: Option<String>,
    /// Origins (`scheme://host[:port]`) whose SNS certificates are trusted besides Amazon's own
    /// `https://sns.<region>.amazonaws.com` (`AMAZONPAY2_IPN_CERT_HOSTS`; the simulator's in the
    /// demo).
    pub ipn_cert_origins: Vec<String>,
    /// The SNS topics Amazon's notifications may come from (`AMAZONPAY2_IPN_TOPIC_ARNS`); empty,
    /// every topic is followed and recorded for the owner.
    pub ipn_topic_arns: Vec<String>,
}

/// A path on this site: starts with one `/`, and nothing a browser would read as another host.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.len() <= 512
        && path.chars().all(|c| c.is_ascii_graphic())
}

/// A shop page's address carrying a notice for the widget (`?amazonpay2=<code>`).
pub fn notice_url(path: &str, notice: crate::contract::Notice) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}amazonpay2={}", notice.code())
}
