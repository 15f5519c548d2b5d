//! The settings the manual names: 基本設定＞配送方法・配送料 (the 「支払方法」 AmazonPay tick per
//! shipping method) and the Amazon Pay settings in force (read-only: they come from the server's
//! configuration), with the SNS topics Amazon's notifications came from and how to accept only
//! Amazon's.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{self, date_time, esc, money};
use super::{Admin, Signed, change_form, internal};
use crate::core::paths;
use crate::storage::SeenTopic;

/// `GET /admin/settings/shipping`.
pub async fn shipping(State(admin): State<Arc<Admin>>, signed: Signed) -> Response {
    shipping_page(&admin, signed, StatusCode::OK, None).await
}

async fn shipping_page(admin: &Admin, signed: Signed, status: StatusCode, message: Option<(&str, &str)>) -> Response {
    let lang = signed.visit.lang;
    let methods = match admin.app.db.shipping_methods().await {
        Ok(methods) => methods,
        Err(error) => return internal(signed.visit, &error),
    };
    let title = lang.t("配送方法・配送料", "Shipping methods");
    let mut body = format!(
        "<h1>{title}</h1><p>{}</p>",
        lang.t(
            "お客様に AmazonPay を許可する配送方法の「支払方法」で AmazonPay にチェックを入れて「この内容で登録」してください。チェックのない配送方法では、カートに Amazon Pay ボタンを表示しません。",
            "Tick Amazon Pay under payment methods for each shipping method that allows it, then save. Carts with an unticked method show no Amazon Pay button.",
        )
    );
    if let Some((kind, text)) = message {
        body.push_str(&html::message(kind, text));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/admin/settings/shipping\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <table class=\"shipping\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(&signed.owner.csrf),
        lang.t("基本設定＞配送方法・配送料", "Basic settings > shipping methods and fees"),
        lang.t("配送方法", "Shipping method"),
        lang.t("配送料", "Fee"),
        lang.t("支払方法: AmazonPay", "Payment: Amazon Pay"),
    );
    for method in &methods {
        let checked = if method.amazon_pay_allowed { " checked" } else { "" };
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td><input type=\"hidden\" name=\"method\" value=\"{id}\">\
             <input type=\"checkbox\" id=\"amazon-pay-{id}\" name=\"amazon_pay\" value=\"{id}\"{checked}>\
             <label for=\"amazon-pay-{id}\">AmazonPay<span class=\"sr\"> ({})</span></label></td></tr>",
            esc(&method.name),
            money(lang, method.fee),
            esc(&method.name),
            id = method.id,
        );
    }
    let _ = write!(
        body,
        "</tbody></table><p><button type=\"submit\">{}</button></p></form>",
        lang.t("この内容で登録", "Save")
    );
    let nav = signed.nav("/admin/settings/shipping");
    signed.visit.page(status, html::page(lang, title, Some(&nav), &body))
}

/// `POST /admin/settings/shipping`: every listed method's tick as sent.
pub async fn save_shipping(State(admin): State<Arc<Admin>>, signed: Signed, body: Bytes) -> Response {
    let form = match change_form(&admin, &signed, &body) {
        Ok(form) => form,
        Err((status, ja, en)) => return signed.visit.error(status, ja, en),
    };
    let lang = signed.visit.lang;
    let parse = |values: &[String]| values.iter().map(|v| v.parse::<i64>()).collect::<Result<Vec<_>, _>>();
    let (Ok(methods), Ok(ticked)) = (parse(form.all("method")), parse(form.all("amazon_pay"))) else {
        let text = lang.t("配送方法の指定が正しくありません。", "The shipping methods were not sent correctly.");
        return shipping_page(&admin, signed, StatusCode::BAD_REQUEST, Some(("error", text))).await;
    };
    if methods.len() > 1_000 || ticked.iter().any(|id| !methods.contains(id)) {
        let text = lang.t("配送方法の指定が正しくありません。", "The shipping methods were not sent correctly.");
        return shipping_page(&admin, signed, StatusCode::BAD_REQUEST, Some(("error", text))).await;
    }
    for method in &methods {
        match admin.app.db.set_shipping_amazon_pay(*method, ticked.contains(method)).await {
            Ok(true) => {}
            Ok(false) => {
                let text = lang.t("その配送方法はありません。", "No such shipping method.");
                return shipping_page(&admin, signed, StatusCode::NOT_FOUND, Some(("error", text))).await;
            }
            Err(error) => return internal(signed.visit, &error),
        }
    }
    tracing::info!(owner = %signed.owner.name, ?ticked, "shipping methods' Amazon Pay ticks saved");
    let text = lang.t("登録しました。", "Saved.");
    shipping_page(&admin, signed, StatusCode::OK, Some(("done", text))).await
}

/// `GET /admin/settings/amazonpay`: the Amazon Pay settings in force, and what to register in
/// Seller Central.
pub async fn amazon_pay(State(admin): State<Arc<Admin>>, signed: Signed) -> Response {
    let lang = signed.visit.lang;
    let config = &admin.app.config;
    let title = lang.t("AmazonPay 設定", "Amazon Pay settings");
    let mode = if config.amazon.sandbox {
        lang.t("テスト (Sandbox)", "Test (sandbox)")
    } else {
        lang.t("本番", "Production")
    };
    let rows: [(&str, String); 8] = [
        (lang.t("出品者ID (Merchant ID)", "Merchant ID"), config.amazon.merchant_id.clone()),
        ("Store ID", config.amazon.store_id.clone()),
        (lang.t("公開鍵 ID (Public Key ID)", "Public key ID"), config.amazon.public_key_id.clone()),
        (lang.t("アクセスモード", "Access mode"), mode.to_owned()),
        (
            lang.t("JavaScript オリジン (Seller Central に登録)", "JavaScript origin (register in Seller Central)"),
            config.shop_origin.as_str().to_owned(),
        ),
        (
            lang.t(
                "IPN の URL (販売事業者様サイト URL、Seller Central に登録)",
                "IPN URL (register in Seller Central)",
            ),
            config.shop_origin.url(paths::IPN),
        ),
        (
            lang.t("ストア名 (Amazon の画面に表示)", "Store name (shown by Amazon)"),
            config.store_name.clone().unwrap_or_else(|| lang.t("Seller Central の設定", "Seller Central's").to_owned()),
        ),
        (lang.t("Amazon Pay API", "Amazon Pay API"), config.api_base.as_str().to_owned()),
    ];
    let mut body = format!(
        "<h1>{title}</h1><p>{}</p><table class=\"settings\"><caption>{}</caption><tbody>",
        lang.t(
            "サーバーの設定 (環境変数 AMAZONPAY2_*) で決まる値です。変更はサーバーの設定で行います。",
            "These come from the server's configuration (AMAZONPAY2_* variables); change them there.",
        ),
        lang.t("現在の Amazon Pay の設定", "Amazon Pay settings in force"),
    );
    for (name, value) in rows {
        let _ = write!(body, "<tr><th scope=\"row\">{name}</th><td><code>{}</code></td></tr>", esc(&value));
    }
    body.push_str("</tbody></table>");
    let topics = match admin.app.db.ipn_topics(&admin.app.core.ipn_topic_scope()).await {
        Ok(topics) => topics,
        Err(error) => return internal(signed.visit, &error),
    };
    topics_section(&mut body, lang, &config.ipn_topic_arns, &topics);
    let nav = signed.nav("/admin/settings/amazonpay");
    signed.visit.page(StatusCode::OK, html::page(lang, title, Some(&nav), &body))
}

/// The SNS topics verified notifications came from, whether each is followed, and how to follow
/// only Amazon's.
fn topics_section(body: &mut String, lang: super::Lang, configured: &[String], topics: &[SeenTopic]) {
    let _ = write!(
        body,
        "<h2 id=\"ipn-topics\">{}</h2><p>{}</p>",
        lang.t("Amazon の通知 (IPN) の SNS トピック", "SNS topics of Amazon's notifications (IPN)"),
        lang.t(
            "Amazon Pay の通知は Amazon SNS から届きます。SNS は誰のトピックのメッセージにも同じ証明書で署名するため、署名と出品者IDだけでは Amazon のトピックかどうか分かりません。Amazon Pay は自社のトピックを公開していません。",
            "Amazon Pay's notifications come through Amazon SNS, which signs every customer's topics with the same certificate: the signature and the merchant ID do not tell Amazon's topic from another. Amazon Pay does not publish its topic.",
        ),
    );
    if configured.is_empty() {
        let _ = write!(
            body,
            "<p>{}</p>",
            lang.t(
                "AMAZONPAY2_IPN_TOPIC_ARNS が未設定のため、SNS が署名したこの出品者IDの通知はどのトピックからでも受け付けています (通知の内容は信用せず、必ず Amazon Pay の API で確認します)。",
                "AMAZONPAY2_IPN_TOPIC_ARNS is unset, so notifications for this merchant ID signed by SNS are followed from any topic (their content is never believed: the shop always reads Amazon Pay's API).",
            ),
        );
    } else {
        let listed: Vec<String> = configured.iter().map(|topic| format!("<code>{}</code>", esc(topic))).collect();
        let _ = write!(
            body,
            "<p>{} {}</p>",
            lang.t(
                "AMAZONPAY2_IPN_TOPIC_ARNS により、次のトピックの通知だけを受け付けます:",
                "AMAZONPAY2_IPN_TOPIC_ARNS is set: only notifications from these topics are followed:",
            ),
            listed.join(", "),
        );
    }
    if topics.is_empty() {
        let _ = write!(body, "<p>{}</p>", lang.t("まだ通知は届いていません。", "No notification has arrived yet."));
    } else {
        let _ = write!(
            body,
            "<table class=\"topics\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            lang.t("通知が届いたトピック (最近のものから)", "Topics notifications came from (latest first)"),
            lang.t("トピック ARN", "Topic ARN"),
            lang.t("初回", "First seen"),
            lang.t("最終", "Last seen"),
            lang.t("ご注文を Amazon の API で確認した最終日時", "Last named an order Amazon's API confirmed"),
            lang.t("状態", "Status"),
        );
        for topic in topics {
            let followed = configured.is_empty() || configured.contains(&topic.topic_arn);
            let _ = write!(
                body,
                "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&topic.topic_arn),
                date_time(topic.first_seen),
                date_time(topic.last_seen),
                topic.last_confirmed.map_or_else(|| "—".to_owned(), date_time),
                if followed { lang.t("受け付ける", "followed") } else { lang.t("拒否", "refused") },
            );
        }
        body.push_str("</tbody></table>");
    }
    let _ = write!(
        body,
        "<p>{}</p>",
        lang.t(
            "Amazon のトピックだけを受け付けるには、サーバーの設定で AMAZONPAY2_IPN_TOPIC_ARNS にそのトピックの ARN (複数はカンマ区切り) を設定して再起動してください。Amazon のトピックは、ご注文の通知が届き続け、Amazon の API で確認されるトピックです。心当たりのないトピックがあれば、Amazon Pay のサポートに Amazon のトピックを確認してください。",
            "To follow only Amazon's topic, set AMAZONPAY2_IPN_TOPIC_ARNS in the server's configuration to its ARN (several separated by commas) and restart. Amazon's topic is the one whose notifications keep coming about your orders and are confirmed by Amazon's API; if a topic here is unknown to you, ask Amazon Pay's support which topic is theirs.",
        ),
    );
}
