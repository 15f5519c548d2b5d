//! Every request in the logs as a span (`request{method=… uri=…}`), so that whatever a handler
//! logs says which request it was about, with the values of the query redacted.
//!
//! Amazon's returns carry secrets in their query: `buyerToken` (Amazon's token for the buyer's
//! account, good for getBuyer for 10 minutes), the sign-in `state` bound to the browser, the
//! cart's review `ref`, `amazonCheckoutSessionId`. Logs are read by more people and kept longer
//! than requests, so only the values of a few parameters that name no one and unlock nothing are
//! kept; every other value is replaced by `[redacted]` (the name stays, to tell what came).
//!
//! A span costs every request something even when nothing is logged in it (it is allocated,
//! its fields formatted, entered at every poll). The widget's one request per page (`POST
//! /api/amazonpay2/buttons`, budgeted at 10,000 a second on 2 cores) and static files answer
//! without logging anything on success, so they get no span; one of them that fails (5xx) is
//! logged after the fact with its method and path. The URI of a span is written straight into
//! the log's buffer, redacted as it goes, with no copy made for it.

use std::fmt;

use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::core::paths;

/// Parameters whose values are harmless and useful to read in a log.
const KEPT: [&str; 4] = ["intent", "amazonpay2", "lang", "page"];

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// The widget's one request per page.
const BUTTONS: &str = "/api/amazonpay2/buttons";

/// Runs the request inside its span and logs its answer (at debug level); the hot requests of
/// [`unspanned`] run without one.
pub async fn span(request: Request, next: Next) -> Response {
    if unspanned(request.method(), request.uri().path()) {
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let response = next.run(request).await;
        if response.status().is_server_error() {
            tracing::warn!(%method, path, status = response.status().as_u16(), "request failed");
        }
        return response;
    }
    let span = tracing::info_span!("request", method = %request.method(), uri = %Redacted(request.uri()));
    async move {
        let response = next.run(request).await;
        tracing::debug!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}

/// Whether a request is one of the hot ones answered without a span: the widget's request per
/// page, and files (anything read with GET or HEAD outside the API and the admin). Their paths
/// carry no secret, and their queries are not kept.
fn unspanned(method: &Method, path: &str) -> bool {
    match *method {
        Method::POST => path == BUTTONS,
        Method::GET | Method::HEAD => {
            let api = path.strip_prefix(paths::API).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            !(api || path.starts_with("/admin"))
        }
        _ => false,
    }
}

/// The path and query of `uri`, each query value redacted unless its parameter is in [`KEPT`].
pub fn redacted(uri: &Uri) -> String {
    Redacted(uri).to_string()
}

/// [`redacted`], written where it is displayed.
struct Redacted<'a>(&'a Uri);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(self.0.path())?;
        let Some(query) = self.0.query() else { return Ok(()) };
        for (n, pair) in query.split('&').enumerate() {
            out.write_str(if n == 0 { "?" } else { "&" })?;
            match pair.split_once('=') {
                Some((name, value)) if KEPT.contains(&name) && is_plain(value) => write!(out, "{name}={value}")?,
                Some((name, _)) => write!(out, "{}={REDACTED}", plain_name(name))?,
                None => out.write_str(plain_name(pair))?,
            }
        }
        Ok(())
    }
}

/// A kept value is printed only if it is plain (no escapes that could forge a log line).
fn is_plain(value: &str) -> bool {
    value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A parameter's name as logged: itself when plain, else redacted too.
fn plain_name(name: &str) -> &str {
    if is_plain(name) { name } else { REDACTED }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_redacted_but_harmless_ones_and_every_name() {
        let uri: Uri =
            "/api/amazonpay2/signin/return?intent=login&state=S3CR3T&buyerToken=Atza%7CIwEB".parse().unwrap();
        assert_eq!(redacted(&uri), "/api/amazonpay2/signin/return?intent=login&state=[redacted]&buyerToken=[redacted]");
        let uri: Uri = "/api/amazonpay2/checkout/review?ref=R&amazonCheckoutSessionId=a-b".parse().unwrap();
        assert_eq!(redacted(&uri), "/api/amazonpay2/checkout/review?ref=[redacted]&amazonCheckoutSessionId=[redacted]");
        assert_eq!(redacted(&"/shopping/cart.html".parse().unwrap()), "/shopping/cart.html");
        assert_eq!(redacted(&"/?lang=en&flag&x%0Ay=1".parse().unwrap()), "/?lang=en&flag&[redacted]=[redacted]");
        assert_eq!(redacted(&"/?intent=%0Aforged".parse().unwrap()), "/?intent=[redacted]");
    }

    #[test]
    fn only_the_widgets_request_per_page_and_files_go_without_a_span() {
        assert_eq!(BUTTONS, format!("{}/buttons", paths::API));
        assert!(unspanned(&Method::POST, BUTTONS));
        for file in ["/amazonpay2/widget.js", "/shopping/cart.html", "/", "/favicon.ico"] {
            assert!(unspanned(&Method::GET, file) && unspanned(&Method::HEAD, file), "{file}");
        }
        for (method, path) in [
            (Method::POST, "/api/amazonpay2/buttons/sign"),
            (Method::POST, "/api/amazonpay2/ipn.php"),
            (Method::GET, "/api/amazonpay2/signin/return"),
            (Method::GET, "/api/amazonpay2"),
            (Method::GET, "/admin/orders"),
            (Method::DELETE, "/api/amazonpay2/link"),
            (Method::POST, "/shopping/cart.html"),
        ] {
            assert!(!unspanned(&method, path), "{method} {path}");
        }
    }
}
