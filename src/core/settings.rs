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

/// A host a shop answers on, as the operator gives it and as a request's `Host` names it:
/// lowercase (an international name in its ASCII form), without a trailing dot, with a port only
/// where it is not its scheme's default. A shop's origin follows from it: `https://HOST`, or
/// `http://HOST` for this machine's own names (`localhost`, `*.localhost`, loopback addresses),
/// which browsers treat as secure without a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShopHost(String);

impl ShopHost {
    /// Parses `host[:port]`; anything more (a scheme, a path, credentials) is refused.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() || value.len() > 262 {
            return Err("must be a host name, with a port if needed".into());
        }
        if value.contains(['/', '@', '?', '#', '\\']) || value.chars().any(char::is_whitespace) {
            return Err(format!("'{value}' must be a host, with a port if needed, and nothing more"));
        }
        let value = value.strip_suffix('.').unwrap_or(value);
        let read = |scheme: &str| {
            Url::parse(&format!("{scheme}://{value}/")).map_err(|e| format!("'{value}' is not a host ({e})"))
        };
        let url = read("http")?;
        let Some(host) = url.host() else { return Err(format!("'{value}' has no host")) };
        let scheme = if is_loopback(&host) { "http" } else { "https" };
        // Read again under its own scheme: its default port is left out.
        let url = read(scheme)?;
        let host = url.host_str().unwrap_or_default();
        Ok(Self(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }))
    }

    /// `host[:port]`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shop's origin on this host.
    pub fn origin(&self) -> ShopOrigin {
        let scheme = if self.is_loopback() { "http" } else { "https" };
        ShopOrigin::parse(&format!("{scheme}://{}", self.0)).expect("a parsed host makes an origin")
    }

    /// Whether it names this machine (served over plain http).
    pub fn is_loopback(&self) -> bool {
        Url::parse(&format!("http://{}/", self.0)).is_ok_and(|url| url.host().is_some_and(|host| is_loopback(&host)))
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => *name == "localhost" || name.ends_with(".localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl fmt::Display for ShopHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    /// Whether calls to Amazon wait for their turn within Amazon's throttling quotas: always,
    /// except against a simulator whose quotas are lifted for benchmarks.
    pub paced: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_kept_lowercase_without_its_schemes_default_port() {
        for (given, kept, origin) in [
            ("Shop.Example.JP", "shop.example.jp", "https://shop.example.jp"),
            ("shop.example.jp:443", "shop.example.jp", "https://shop.example.jp"),
            ("shop.example.jp:8443", "shop.example.jp:8443", "https://shop.example.jp:8443"),
            ("shop.example.jp.", "shop.example.jp", "https://shop.example.jp"),
            ("  shop.example.jp ", "shop.example.jp", "https://shop.example.jp"),
            ("ショップ.jp", "xn--xckya1d0c.jp", "https://xn--xckya1d0c.jp"),
            ("127.0.0.1:8080", "127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("localhost:80", "localhost", "http://localhost"),
            ("shop2.localhost:8080", "shop2.localhost:8080", "http://shop2.localhost:8080"),
            ("[::1]:8080", "[::1]:8080", "http://[::1]:8080"),
        ] {
            let host = ShopHost::parse(given).unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!((host.as_str(), host.origin().as_str()), (kept, origin), "{given}");
            assert_eq!(ShopHost::parse(host.as_str()), Ok(host.clone()), "{given}: kept as parsed");
        }
        assert_eq!(ShopHost::parse("shop.example.jp:80").unwrap().as_str(), "shop.example.jp:80", "80 is not https's");
    }

    #[test]
    fn anything_but_a_host_and_port_is_refused() {
        for given in [
            "",
            "https://shop.example.jp",
            "shop.example.jp/path",
            "user@shop.example.jp",
            "shop.example.jp?x",
            "shop.example.jp#x",
            "shop example.jp",
            "shop.example.jp:99999",
            "shop.example.jp:port",
            "[::1",
            &"a".repeat(300),
        ] {
            assert!(ShopHost::parse(given).is_err(), "{given:?}");
        }
    }
}
