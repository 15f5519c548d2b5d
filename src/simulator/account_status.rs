//! `GET /merchantAccount/{merchantId}/accountStatus`: what checkout.js asks before it draws a
//! live button (never in sandbox). Amazon's script sends `ledgerCurrency`, `originDomain` (the
//! shop page's origin) and, when the button carries a signed payload, `storeId` and
//! `returnDomain`; it draws the button disabled when a 200 answer's `merchantAccountStatus` is not
//! `ACTIVE`, and leaves it enabled on any other answer.
//!
//! Here the account is `ACTIVE` for a registered merchant on a page whose origin is one of the
//! JavaScript origins registered for the store the button names (`storeId`), or for any of the
//! merchant's stores when the button names none (a decoupled button carries no payload at render):
//! Amazon requires the domains where the button is rendered to be added to Seller Central's
//! "JavaScript origins", which belong to a Client ID/Store ID. A `storeId` that is not the
//! merchant's is not active anywhere. What Amazon answers otherwise is not documented and was not
//! found: the simulator answers [`NOT_ACTIVE`], which is only known to differ from `ACTIVE`. How
//! Amazon weighs `returnDomain` is unknown too, so it is not checked.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use super::Simulator;

/// The answer for an account that may not take payments on the asking site. Amazon's own value
/// is unknown; checkout.js only compares with `ACTIVE`.
pub(super) const NOT_ACTIVE: &str = "INACTIVE";

pub(super) async fn account_status(
    State(simulator): State<Simulator>,
    Path(merchant_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let origins = simulator
        .merchant(&merchant_id)
        .filter(|merchant| query.get("storeId").is_none_or(|store| merchant.store(store).is_some()))
        .map(|merchant| merchant.origins(query.get("storeId").map(String::as_str)))
        .unwrap_or_default();
    let asked = query.get("originDomain").map(String::as_str);
    let registered = origins.iter().any(|origin| same_origin(asked, origin));
    let status = if registered { "ACTIVE" } else { NOT_ACTIVE };
    let mut response = Json(json!({ "merchantAccountStatus": status })).into_response();
    // checkout.js asks without credentials, from any shop page.
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// Whether `asked` (an origin as checkout.js sends it) is the registered `origin`.
fn same_origin(asked: Option<&str>, origin: &str) -> bool {
    let normalized = |text: &str| Url::parse(text).ok().map(|url| url.origin().ascii_serialization());
    match (asked.and_then(normalized), normalized(origin)) {
        (Some(asked), Some(origin)) => asked != "null" && asked == origin,
        _ => false,
    }
}
