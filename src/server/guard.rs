//! Origin and CSRF checks for the API.
//!
//! Two independent locks on every state-changing request: the browser-set `Origin` must be the
//! shop's, and the session's CSRF token must come back in a header no other site can set.

use axum::http::HeaderMap;
use axum::http::header::{ORIGIN, REFERER};

use super::config::ShopOrigin;
use super::error::ApiError;
use super::session::Session;
use crate::core::secrets_equal;

/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-amazonpay2-csrf";

/// Refuses a request whose `Origin` names another site. A request without `Origin` (a server
/// or a command-line client) may read, since everything read is also in the shop's pages.
pub fn reject_foreign_origin(headers: &HeaderMap, shop: &ShopOrigin) -> Result<(), ApiError> {
    match headers.get(ORIGIN) {
        Some(origin) if origin.as_bytes() != shop.as_str().as_bytes() => Err(foreign()),
        _ => Ok(()),
    }
}

/// Checks a state-changing request: same origin (from `Origin`, else `Referer`) and the
/// session's CSRF token.
pub fn check_state_change(headers: &HeaderMap, shop: &ShopOrigin, session: &Session) -> Result<(), ApiError> {
    let Some(same_origin) = same_origin(headers, shop) else {
        return Err(ApiError::forbidden(
            "origin_required",
            "State-changing requests must come from the shop's own pages.",
        ));
    };
    if !same_origin {
        return Err(foreign());
    }
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !secrets_equal(token, &session.csrf_token) {
        return Err(ApiError::forbidden(
            "csrf_token_invalid",
            "The CSRF token is missing or out of date; reload the page.",
        ));
    }
    Ok(())
}

/// Whether a request comes from the shop's own pages, judged by its `Origin`, else its
/// `Referer`; `None` when it carries neither.
pub fn same_origin(headers: &HeaderMap, shop: &ShopOrigin) -> Option<bool> {
    match (headers.get(ORIGIN), headers.get(REFERER)) {
        (Some(origin), _) => Some(origin.as_bytes() == shop.as_str().as_bytes()),
        (None, Some(referer)) => Some(
            referer
                .to_str()
                .ok()
                .and_then(|r| r.strip_prefix(shop.as_str()))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        ),
        (None, None) => None,
    }
}

fn foreign() -> ApiError {
    ApiError::forbidden("origin_not_allowed", "Requests from other sites are not accepted.")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum_extra::extract::CookieJar;

    use super::*;
    use crate::server::session::Sessions;
    use crate::storage::sqlite_for_tests;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[tokio::test]
    async fn state_changes_need_the_shop_origin_and_the_session_token() {
        let shop = ShopOrigin::parse("https://shop.example").unwrap();
        let (db, _dir) = sqlite_for_tests("guard").await;
        let sessions = Sessions::new(Arc::new(db), true).await.unwrap();
        let (session, _) = sessions.current(CookieJar::new()).await.unwrap();
        let token = session.csrf_token.as_str();
        let ok = headers(&[("origin", "https://shop.example"), (CSRF_HEADER, token)]);
        assert!(check_state_change(&ok, &shop, &session).is_ok());
        let referer = headers(&[("referer", "https://shop.example/mypage/"), (CSRF_HEADER, token)]);
        assert!(check_state_change(&referer, &shop, &session).is_ok());
        for bad in [
            headers(&[("origin", "https://evil.example"), (CSRF_HEADER, token)]),
            headers(&[("origin", "https://shop.example.evil.example"), (CSRF_HEADER, token)]),
            headers(&[("referer", "https://shop.example.evil.example/"), (CSRF_HEADER, token)]),
            headers(&[("origin", "https://shop.example")]),
            headers(&[("origin", "https://shop.example"), (CSRF_HEADER, "guess")]),
            headers(&[(CSRF_HEADER, token)]),
        ] {
            assert!(check_state_change(&bad, &shop, &session).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_refuse_foreign_origins_only() {
        let shop = ShopOrigin::parse("https://shop.example").unwrap();
        assert!(reject_foreign_origin(&headers(&[]), &shop).is_ok());
        assert!(reject_foreign_origin(&headers(&[("origin", "https://shop.example")]), &shop).is_ok());
        assert!(reject_foreign_origin(&headers(&[("origin", "null")]), &shop).is_err());
    }
}
