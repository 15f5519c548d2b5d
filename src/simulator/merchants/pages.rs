//! Seller Central, offline: the pages on which a merchant does the manual's steps ③–⑨.
//!
//! - `GET /seller-central`: the merchants, and a form that opens a new merchant account (what
//!   steps ①–② do at Amazon: a 出品者ID and a Store ID, no key yet).
//! - `GET /seller-central/{merchantId}`: インテグレーションセントラル: the 出品者ID and Store IDs,
//!   the API keys (each with its JSON download, step ⑤), the form that creates a key pair
//!   (steps ③–④), each store's JavaScript origins with a form to add one (step ⑧) and the IPN
//!   URL form (step ⑨).
//! - `POST /seller-central/{merchantId}/keys` (`environment=sandbox|live`): makes an RSA-2048 key
//!   pair, registers its public half under a new public key ID and answers the private half as
//!   the browser's download `AmazonPay_<publicKeyId>.pem` (PKCS #8, as Seller Central's; the
//!   simulator keeps no copy). Amazon's own file name is not documented; this one names the key.
//! - `GET /seller-central/{merchantId}/keys/{publicKeyId}.json`: the download of
//!   `{"merchantId", "storeId", "publicKeyId"}` (the merchant's first store). Amazon does not
//!   document this file's fields; these are the names Amazon's key-sharing payload uses (as
//!   Amazon Pay plugins read it) and the ones the project's admin reads.
//! - `POST /seller-central/{merchantId}/origins` (`storeId`, `origin`) and
//!   `POST /seller-central/{merchantId}/ipn` (`url`, empty to remove): back to the page (303).
//!
//! The forms are plain same-origin POSTs; a POST whose `Origin` (or `Sec-Fetch-Site`) shows it
//! came from another site is refused (403), which is enough for a simulator on a developer's
//! machine.

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use url::Url;

use super::{Merchant, Refusal, Registered, Registration, ids};
use crate::simulator::html::{escape, page};
use crate::simulator::signature::RegisteredKey;
use crate::simulator::{Simulator, lock};

pub(in crate::simulator) fn routes() -> Router<Simulator> {
    Router::new()
        .route("/seller-central", get(index))
        .route("/seller-central/merchants", post(open_account))
        .route("/seller-central/{merchant_id}", get(integration_central))
        .route("/seller-central/{merchant_id}/keys", post(create_key_pair))
        .route("/seller-central/{merchant_id}/keys/{file}", get(credentials_json))
        .route("/seller-central/{merchant_id}/origins", post(add_origin))
        .route("/seller-central/{merchant_id}/ipn", post(set_ipn_url))
}

/// Whether a POST came from a page of the simulator itself: browsers send `Sec-Fetch-Site` and,
/// on a form POST, `Origin`; a request from another site's page shows it in either.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            Url::parse(origin).ok().is_some_and(|url| url.host_str().is_some() && url.authority() == host)
        }
        (Some(_), None) => false,
    }
}

fn error_page(status: StatusCode, message: &str, back: Option<&str>) -> Response {
    let back = back.map(|href| format!("<p><a href=\"{}\">戻る</a></p>", escape(href))).unwrap_or_default();
    let body =
        format!("{HEADER}<main><h1>エラー</h1><p role=\"alert\" id=\"error\">{}</p>{back}</main>", escape(message));
    (status, Html(page("Seller Central - エラー", STYLE, &body))).into_response()
}

fn cross_site() -> Response {
    error_page(StatusCode::FORBIDDEN, "他のサイトからの送信は受け付けません (cross-site request refused).", None)
}

fn unknown(merchant_id: &str) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        &Refusal::UnknownMerchant(merchant_id.to_owned()).to_string(),
        Some("/seller-central"),
    )
}

/// `GET /seller-central`.
async fn index(State(simulator): State<Simulator>) -> Response {
    let merchants: String = lock(&simulator.inner.merchants)
        .merchants()
        .iter()
        .map(|m| format!("<li><a href=\"/seller-central/{0}\">{0}</a></li>", escape(&m.id)))
        .collect();
    let body = format!(
        "{HEADER}<main><h1>Seller Central</h1>\
         <h2>販売事業者アカウント</h2><ul id=\"merchants\">{merchants}</ul>\
         <form method=\"post\" action=\"/seller-central/merchants\">\
         <p>新しい販売事業者アカウント (出品者ID と Store ID) を作成します。</p>\
         <button type=\"submit\" id=\"open-account\">アカウントを作成</button></form></main>"
    );
    Html(page("Seller Central", STYLE, &body)).into_response()
}

/// `POST /seller-central/merchants`: a new merchant with one store and no key.
async fn open_account(State(simulator): State<Simulator>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    let mut registry = lock(&simulator.inner.merchants);
    let merchant_id = loop {
        let id = ids::merchant_id(&simulator);
        if registry.merchant(&id).is_none() {
            break id;
        }
    };
    let store_id = loop {
        let id = ids::store_id(&simulator);
        if registry.store_owner(&id).is_none() {
            break id;
        }
    };
    match registry.add_merchant(&merchant_id, &store_id) {
        Ok(()) => Redirect::to(&format!("/seller-central/{merchant_id}")).into_response(),
        Err(why) => error_page(StatusCode::CONFLICT, &why.to_string(), Some("/seller-central")),
    }
}

/// `GET /seller-central/{merchantId}`: インテグレーションセントラル.
async fn integration_central(State(simulator): State<Simulator>, Path(merchant_id): Path<String>) -> Response {
    match simulator.merchant(&merchant_id) {
        Some(merchant) => {
            Html(page("Seller Central - インテグレーションセントラル", STYLE, &central_body(&merchant))).into_response()
        }
        None => unknown(&merchant_id),
    }
}

fn central_body(merchant: &Merchant) -> String {
    let id = escape(&merchant.id);
    let keys: String = merchant
        .public_key_ids
        .iter()
        .map(|key| {
            format!(
                "<li><code>{0}</code> <a href=\"/seller-central/{id}/keys/{0}.json\" download>JSON ファイルのダウンロード</a></li>",
                escape(key)
            )
        })
        .collect();
    let keys = if keys.is_empty() { "<li>まだありません。</li>".to_owned() } else { keys };
    let stores: String = merchant
        .stores
        .iter()
        .map(|store| {
            let origins: String =
                store.origins.iter().map(|o| format!("<li><code>{}</code></li>", escape(o))).collect();
            let origins = if origins.is_empty() { "<li>まだありません。</li>".to_owned() } else { origins };
            let store_id = escape(&store.id);
            format!(
                "<section><h3>Store ID <code>{store_id}</code></h3>\
                 <h4>JavaScript オリジン</h4><ul class=\"origins\">{origins}</ul>\
                 <form method=\"post\" action=\"/seller-central/{id}/origins\">\
                 <input type=\"hidden\" name=\"storeId\" value=\"{store_id}\">\
                 <label>追加するオリジン (例: https://www.example.com)\
                 <input type=\"url\" name=\"origin\" required placeholder=\"https://www.example.com\"></label>\
                 <button type=\"submit\">オリジンを追加</button></form></section>"
            )
        })
        .collect();
    let ipn = merchant.ipn_url.as_ref().map(|url| escape(url.as_str())).unwrap_or_default();
    format!(
        "{HEADER}<main><h1>インテグレーションセントラル</h1>\
         <dl><dt>出品者ID</dt><dd id=\"merchant-id\"><code>{id}</code></dd></dl>\
         <h2>API キー</h2><ul id=\"keys\">{keys}</ul>\
         <form method=\"post\" action=\"/seller-central/{id}/keys\"><fieldset><legend>API キーペアの作成</legend>\
         <p>「キーの作成」を押すと、プライベートキーのファイルがダウンロードされます。シミュレーターはこのファイルを保存しません。\
         作成後にこのページを再読み込みすると、公開鍵 ID と JSON ファイルのダウンロードが表示されます。</p>\
         <label><input type=\"radio\" name=\"environment\" value=\"sandbox\" checked> テスト環境 (SANDBOX)</label>\
         <label><input type=\"radio\" name=\"environment\" value=\"live\"> 本番環境 (LIVE)</label>\
         <button type=\"submit\" id=\"create-key\">キーの作成</button></fieldset></form>\
         <h2>クライアント ID/Store ID 設定</h2>{stores}\
         <h2>インスタント通知設定</h2>\
         <form method=\"post\" action=\"/seller-central/{id}/ipn\">\
         <label>販売事業者様サイト URL (空にすると通知を止めます)\
         <input type=\"url\" name=\"url\" id=\"ipn-url\" value=\"{ipn}\" placeholder=\"https://www.example.com/api/amazonpay2/ipn.php\"></label>\
         <button type=\"submit\">保存</button></form>\
         <p><a href=\"/seller-central\">アカウント一覧</a></p></main>"
    )
}

/// `POST /seller-central/{merchantId}/keys`: the private key as a download.
async fn create_key_pair(
    State(simulator): State<Simulator>,
    Path(merchant_id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    let back = format!("/seller-central/{merchant_id}");
    let sandbox = match form.as_ref().ok().and_then(|Form(f)| f.get("environment")).map(String::as_str) {
        Some("sandbox") => true,
        Some("live") => false,
        _ => return error_page(StatusCode::BAD_REQUEST, "environment must be sandbox or live.", Some(&back)),
    };
    if simulator.merchant(&merchant_id).is_none() {
        return unknown(&merchant_id);
    }
    // RSA-2048, as Seller Central makes them (and `amazon::keygen` for the demo); generating
    // takes a moment, so not on the async workers.
    let generated = tokio::task::spawn_blocking(|| {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| e.to_string())?;
        let pem = private.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?;
        Ok::<_, String>((RegisteredKey::of_private(&private)?, pem))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|generated| generated);
    let (key, pem) = match generated {
        Ok(generated) => generated,
        Err(why) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &why, Some(&back)),
    };
    let registration = Registration { key, sandbox, merchant_id: Some(merchant_id), store_id: None };
    match simulator.register(registration) {
        Ok(Registered { public_key_id, .. }) => {
            download("application/x-pem-file", &format!("AmazonPay_{public_key_id}.pem"), pem.as_bytes().to_vec())
        }
        Err(why) => error_page(StatusCode::BAD_REQUEST, &why.to_string(), Some(&back)),
    }
}

/// `GET /seller-central/{merchantId}/keys/{publicKeyId}.json`.
async fn credentials_json(
    State(simulator): State<Simulator>,
    Path((merchant_id, file)): Path<(String, String)>,
) -> Response {
    let Some(merchant) = simulator.merchant(&merchant_id) else {
        return unknown(&merchant_id);
    };
    let key = file.strip_suffix(".json").and_then(|key| merchant.public_key_ids.iter().find(|k| *k == key));
    let (Some(key), Some(store)) = (key, merchant.stores.first()) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "この API キーはありません。",
            Some(&format!("/seller-central/{merchant_id}")),
        );
    };
    let ids = Registered { merchant_id: merchant.id.clone(), store_id: store.id.clone(), public_key_id: key.clone() };
    let json = serde_json::to_vec_pretty(&ids).unwrap_or_default();
    download("application/json", &format!("AmazonPay_{key}.json"), json)
}

/// A file the browser saves. The names are made of Amazon's ID characters only.
fn download(content_type: &'static str, file_name: &str, bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename={file_name}")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `POST /seller-central/{merchantId}/origins`.
async fn add_origin(
    State(simulator): State<Simulator>,
    Path(merchant_id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    let back = format!("/seller-central/{merchant_id}");
    let Ok(Form(fields)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "storeId and origin are required.", Some(&back));
    };
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let added = lock(&simulator.inner.merchants).add_origin(&merchant_id, field("storeId"), field("origin"));
    match added {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(Refusal::UnknownMerchant(_)) => unknown(&merchant_id),
        Err(why) => error_page(StatusCode::BAD_REQUEST, &why.to_string(), Some(&back)),
    }
}

/// `POST /seller-central/{merchantId}/ipn`.
async fn set_ipn_url(
    State(simulator): State<Simulator>,
    Path(merchant_id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    let back = format!("/seller-central/{merchant_id}");
    let url = form.ok().and_then(|Form(mut fields)| fields.remove("url")).unwrap_or_default();
    let url = match url.trim() {
        "" => None,
        url => match crate::simulator::ipn::endpoint_url(url) {
            Ok(url) => Some(url),
            Err(why) => return error_page(StatusCode::BAD_REQUEST, &format!("IPN URL: {why}."), Some(&back)),
        },
    };
    let set = lock(&simulator.inner.merchants).set_ipn_url(&merchant_id, url);
    match set {
        Ok(()) => Redirect::to(&back).into_response(),
        Err(_) => unknown(&merchant_id),
    }
}

const HEADER: &str = "<header><span class=\"logo\">amazon seller central</span>\
    <span class=\"badge\">シミュレーター</span></header>";

const STYLE: &str = "body{margin:0;font-family:sans-serif;color:#0f1111;background:#fff}\
    header{background:#232f3e;color:#fff;padding:.8rem 1.2rem;display:flex;gap:1rem;align-items:center}\
    .logo{font-weight:700;font-size:1.2rem}\
    .badge{background:#ff9900;color:#111;border-radius:3px;padding:.1rem .5rem;font-size:.8rem}\
    main{max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.7}\
    label{display:block;margin:.4rem 0}input[type=url]{width:100%;box-sizing:border-box;padding:.4rem}\
    button{background:#ffd814;border:1px solid #fcd200;border-radius:8px;padding:.4rem 1.5rem;cursor:pointer}\
    fieldset,section{border:1px solid #d5d9d9;border-radius:8px;margin:1rem 0;padding:.5rem 1rem}\
    code{word-break:break-all}";
