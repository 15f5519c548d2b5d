//! Every request in the logs as a span (`request{method=… uri=…}`), so that whatever a handler
//! logs says which request it was about, with the values of the query redacted.
//!
//! Amazon's returns carry secrets in their query: `buyerToken` (Amazon's token for the buyer's
//! account, good for getBuyer for 10 minutes), the sign-in `state` bound to the browser, the
//! cart's review `ref`, `amazonCheckoutSessionId`. Logs are read by more people and kept longer
//! than requests, so only the values of a few parameters that name no one and unlock nothing are
//! kept; every other value is replaced by `[redacted]` (the name stays, to tell what came).

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Parameters whose values are harmless and useful to read in a log.
const KEPT: [&str; 4] = ["intent", "amazonpay2", "lang", "page"];

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Runs the request inside its span and logs its answer (at debug level).
pub async fn span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!("request", method = %request.method(), uri = %redacted(request.uri()));
    async move {
        let response = next.run(request).await;
        tracing::debug!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}

/// The path and query of `uri`, each query value redacted unless its parameter is in [`KEPT`].
pub fn redacted(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else { return path.to_owned() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if KEPT.contains(&name) && is_plain(value) => format!("{name}={value}"),
            Some((name, _)) => format!("{}={REDACTED}", plain_name(name)),
            None => plain_name(pair),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// A kept value is printed only if it is plain (no escapes that could forge a log line).
fn is_plain(value: &str) -> bool {
    value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A parameter's name as logged: itself when plain, else redacted too.
fn plain_name(name: &str) -> String {
    if is_plain(name) { name.to_owned() } else { REDACTED.to_owned() }
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
}
