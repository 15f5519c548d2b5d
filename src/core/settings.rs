//! Who the shop is to Amazon: its origin and its Seller Central identifiers.

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
