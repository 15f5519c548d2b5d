//! The settings the manual names: 基本設定＞配送方法・配送料 (the 「支払方法」 AmazonPay tick per
//! shipping method) and the Amazon Pay settings in force (read-only: they come from the server's
//! configuration), with the SNS topics Amazon's notifications came from and how to accept only
//! Amazon's.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;

use super::display::{date_time, money};
use super::layout::{Frame, Message};
use super::problems::Problem;
use super::service::Ticks;
use super::{Admin, Signed, change_form, internal};
use crate::core::paths;
use crate::server::setup::{Line, SetupCheck};

/// 配送方法・配送料 (`templates/admin/shipping.html`).
#[derive(Template)]
#[template(path = "admin/shipping.html")]
struct ShippingPage {
    frame: Frame,
    t: &'static ShippingTexts,
    message: Option<Message>,
    csrf: String,
    methods: Vec<Method>,
}

struct Method {
    id: i64,
    name: String,
    fee: String,
    allowed: bool,
}

struct ShippingTexts {
    title: &'static str,
    intro: &'static str,
    caption: &'static str,
    method: &'static str,
    fee: &'static str,
    amazon_pay: &'static str,
    save: &'static str,
    saved: &'static str,
}

const SHIPPING_JA: ShippingTexts = ShippingTexts {
    title: "配送方法・配送料",
    intro: "お客様に AmazonPay を許可する配送方法の「支払方法」で AmazonPay にチェックを入れて「この内容で登録」してください。チェックのない配送方法では、カートに Amazon Pay ボタンを表示しません。",
    caption: "基本設定＞配送方法・配送料",
    method: "配送方法",
    fee: "配送料",
    amazon_pay: "支払方法: AmazonPay",
    save: "この内容で登録",
    saved: "登録しました。",
};

const SHIPPING_EN: ShippingTexts = ShippingTexts {
    title: "Shipping methods",
    intro: "Tick Amazon Pay under payment methods for each shipping method that allows it, then save. Carts with an unticked method show no Amazon Pay button.",
    caption: "Basic settings > shipping methods and fees",
    method: "Shipping method",
    fee: "Fee",
    amazon_pay: "Payment: Amazon Pay",
    save: "Save",
    saved: "Saved.",
};

/// `GET /admin/settings/shipping`.
pub async fn shipping(Extension(admin): Extension<Arc<Admin>>, signed: Signed) -> Response {
    shipping_page(&admin, signed, StatusCode::OK, None).await
}

async fn shipping_page(admin: &Admin, signed: Signed, status: StatusCode, message: Option<Message>) -> Response {
    let lang = signed.visit.lang;
    let methods = match admin.service().shipping_methods().await {
        Ok(methods) => methods,
        Err(error) => return internal(signed.visit, &error),
    };
    let t = lang.pick(&SHIPPING_JA, &SHIPPING_EN);
    let page = ShippingPage {
        frame: signed.frame(t.title, "/admin/settings/shipping"),
        t,
        message,
        csrf: signed.owner.csrf.clone(),
        methods: methods
            .into_iter()
            .map(|method| Method {
                id: method.id,
                fee: money(lang, method.fee),
                name: method.name,
                allowed: method.amazon_pay_allowed,
            })
            .collect(),
    };
    signed.visit.page(status, &page)
}

/// `POST /admin/settings/shipping`: every listed method's tick as sent.
pub async fn save_shipping(Extension(admin): Extension<Arc<Admin>>, signed: Signed, body: Bytes) -> Response {
    let form = match change_form(&admin, &signed, &body) {
        Ok(form) => form,
        Err((status, problem)) => return signed.visit.error(status, problem),
    };
    let lang = signed.visit.lang;
    let refused = |problem: Problem| Some(Message::error(problem.text(lang)));
    let parse = |values: &[String]| values.iter().map(|v| v.parse::<i64>()).collect::<Result<Vec<_>, _>>();
    let (Ok(methods), Ok(ticked)) = (parse(form.all("method")), parse(form.all("amazon_pay"))) else {
        return shipping_page(&admin, signed, StatusCode::BAD_REQUEST, refused(Problem::BadShipping)).await;
    };
    if methods.len() > 1_000 || ticked.iter().any(|id| !methods.contains(id)) {
        return shipping_page(&admin, signed, StatusCode::BAD_REQUEST, refused(Problem::BadShipping)).await;
    }
    match admin.service().save_amazon_pay_ticks(&methods, &ticked).await {
        Ok(Ticks::Saved) => {}
        Ok(Ticks::NoSuchMethod) => {
            return shipping_page(&admin, signed, StatusCode::NOT_FOUND, refused(Problem::NoSuchShipping)).await;
        }
        Err(error) => return internal(signed.visit, &error),
    }
    tracing::info!(owner = %signed.owner.name, ?ticked, "shipping methods' Amazon Pay ticks saved");
    let saved = Message::done(lang.pick(&SHIPPING_JA, &SHIPPING_EN).saved);
    shipping_page(&admin, signed, StatusCode::OK, Some(saved)).await
}

/// The Amazon Pay settings in force (`templates/admin/amazon_pay.html`).
#[derive(Template)]
#[template(path = "admin/amazon_pay.html")]
struct AmazonPayPage {
    frame: Frame,
    t: &'static AmazonPayTexts,
    settings: Vec<(&'static str, String)>,
    /// `AMAZONPAY2_IPN_TOPIC_ARNS`.
    configured: Vec<String>,
    topics: Vec<Topic>,
    /// Whether the owner may replace the keys here (a shop added with `shop add`).
    keys_form: bool,
    message: Option<Message>,
    csrf: String,
    entered: Entered,
    /// The setup check's findings, when the owner asked for it.
    checked: Option<Vec<Line>>,
    all_well: bool,
}

/// An SNS topic notifications came from.
struct Topic {
    arn: String,
    first_seen: String,
    last_seen: String,
    last_confirmed: String,
    followed: bool,
}

struct AmazonPayTexts {
    title: &'static str,
    intro: &'static str,
    caption: &'static str,
    merchant_id: &'static str,
    public_key_id: &'static str,
    mode: &'static str,
    sandbox: &'static str,
    production: &'static str,
    origin: &'static str,
    ipn_url: &'static str,
    store_name: &'static str,
    sellers_store_name: &'static str,
    api: &'static str,
    topics_heading: &'static str,
    topics_intro: &'static str,
    any_topic: &'static str,
    only_topics: &'static str,
    no_topic: &'static str,
    topics_caption: &'static str,
    topic_columns: [&'static str; 5],
    followed: &'static str,
    refused: &'static str,
    how_to_follow: &'static str,
    private_key: &'static str,
    no_key: &'static str,
    intro_shop: &'static str,
    keys_heading: &'static str,
    keys_intro: &'static str,
    key_file: &'static str,
    credentials_file: &'static str,
    save: &'static str,
    check_heading: &'static str,
    check_intro: &'static str,
    check_button: &'static str,
    check_caption: &'static str,
    all_well: &'static str,
    not_well: &'static str,
}

const AMAZON_PAY_JA: AmazonPayTexts = AmazonPayTexts {
    title: "AmazonPay 設定",
    intro: "サーバーの設定 (環境変数 AMAZONPAY2_*) で決まる値です。変更はサーバーの設定で行います。",
    caption: "現在の Amazon Pay の設定",
    merchant_id: "出品者ID (Merchant ID)",
    public_key_id: "公開鍵 ID (Public Key ID)",
    mode: "アクセスモード",
    sandbox: "テスト (Sandbox)",
    production: "本番",
    origin: "JavaScript オリジン (Seller Central に登録)",
    ipn_url: "IPN の URL (販売事業者様サイト URL、Seller Central に登録)",
    store_name: "ストア名 (Amazon の画面に表示)",
    sellers_store_name: "Seller Central の設定",
    api: "Amazon Pay API",
    topics_heading: "Amazon の通知 (IPN) の SNS トピック",
    topics_intro: "Amazon Pay の通知は Amazon SNS から届きます。SNS は誰のトピックのメッセージにも同じ証明書で署名するため、署名と出品者IDだけでは Amazon のトピックかどうか分かりません。Amazon Pay は自社のトピックを公開していません。",
    any_topic: "AMAZONPAY2_IPN_TOPIC_ARNS が未設定のため、SNS が署名したこの出品者IDの通知はどのトピックからでも受け付けています (通知の内容は信用せず、必ず Amazon Pay の API で確認します)。",
    only_topics: "AMAZONPAY2_IPN_TOPIC_ARNS により、次のトピックの通知だけを受け付けます:",
    no_topic: "まだ通知は届いていません。",
    topics_caption: "通知が届いたトピック (最近のものから)",
    topic_columns: ["トピック ARN", "初回", "最終", "ご注文を Amazon の API で確認した最終日時", "状態"],
    followed: "受け付ける",
    refused: "拒否",
    private_key: "秘密鍵 (フィンガープリント)",
    no_key: "未登録",
    intro_shop: "このショップの Amazon Pay のキーと、Seller Central に登録する値です。キーは下のフォームで登録・変更できます。",
    keys_heading: "キーの登録",
    keys_intro: "Seller Central で作成したキーを登録します (マニュアルの手順④⑤)。Amazon にキーを確認してから保存し、確認できなければ何も変更しません。秘密鍵は暗号化して保存し、二度と表示しません。",
    key_file: "秘密鍵ファイル (.pem、手順④)",
    credentials_file: "キー情報の JSON ファイル (手順⑤、任意: 下の ID を入力する代わりに)",
    save: "Amazon で確認して保存",
    check_heading: "設定の確認",
    check_intro: "Amazon がキーを受け付けるか、時計が Amazon と合っているか、Seller Central に登録する値、Amazon の通知 (IPN) が届いているかを確認します。",
    check_button: "設定を確認する",
    check_caption: "確認の結果",
    all_well: "すべて正常です。",
    not_well: "確認が必要な項目があります (×)。",
    how_to_follow: "Amazon のトピックだけを受け付けるには、サーバーの設定で AMAZONPAY2_IPN_TOPIC_ARNS にそのトピックの ARN (複数はカンマ区切り) を設定して再起動してください。Amazon のトピックは、ご注文の通知が届き続け、Amazon の API で確認されるトピックです。心当たりのないトピックがあれば、Amazon Pay のサポートに Amazon のトピックを確認してください。",
};

const AMAZON_PAY_EN: AmazonPayTexts = AmazonPayTexts {
    title: "Amazon Pay settings",
    intro: "These come from the server's configuration (AMAZONPAY2_* variables); change them there.",
    caption: "Amazon Pay settings in force",
    merchant_id: "Merchant ID",
    public_key_id: "Public key ID",
    mode: "Access mode",
    sandbox: "Test (sandbox)",
    production: "Production",
    origin: "JavaScript origin (register in Seller Central)",
    ipn_url: "IPN URL (register in Seller Central)",
    store_name: "Store name (shown by Amazon)",
    sellers_store_name: "Seller Central's",
    api: "Amazon Pay API",
    topics_heading: "SNS topics of Amazon's notifications (IPN)",
    topics_intro: "Amazon Pay's notifications come through Amazon SNS, which signs every customer's topics with the same certificate: the signature and the merchant ID do not tell Amazon's topic from another. Amazon Pay does not publish its topic.",
    any_topic: "AMAZONPAY2_IPN_TOPIC_ARNS is unset, so notifications for this merchant ID signed by SNS are followed from any topic (their content is never believed: the shop always reads Amazon Pay's API).",
    only_topics: "AMAZONPAY2_IPN_TOPIC_ARNS is set: only notifications from these topics are followed:",
    no_topic: "No notification has arrived yet.",
    topics_caption: "Topics notifications came from (latest first)",
    topic_columns: ["Topic ARN", "First seen", "Last seen", "Last named an order Amazon's API confirmed", "Status"],
    followed: "followed",
    refused: "refused",
    private_key: "Private key (fingerprint)",
    no_key: "none yet",
    intro_shop: "This shop's Amazon Pay keys and what to register in Seller Central. Register or replace the keys with the form below.",
    keys_heading: "Register keys",
    keys_intro: "Register the keys made in Seller Central (the manual's steps ④ and ⑤). They are checked with Amazon before anything is saved; if Amazon does not accept them, nothing changes. The private key is stored encrypted and never shown again.",
    key_file: "Private key file (.pem, step ④)",
    credentials_file: "The key's JSON file (step ⑤; optional, instead of typing the IDs below)",
    save: "Check with Amazon and save",
    check_heading: "Setup check",
    check_intro: "Checks that Amazon accepts the keys, that the clock agrees with Amazon's, what to register in Seller Central, and whether Amazon's notifications (IPN) arrive.",
    check_button: "Run the check",
    check_caption: "What the check found",
    all_well: "All is well.",
    not_well: "Some items need attention (×).",
    how_to_follow: "To follow only Amazon's topic, set AMAZONPAY2_IPN_TOPIC_ARNS in the server's configuration to its ARN (several separated by commas) and restart. Amazon's topic is the one whose notifications keep coming about your orders and are confirmed by Amazon's API; if a topic here is unknown to you, ask Amazon Pay's support which topic is theirs.",
};

/// `GET /admin/settings/amazonpay`: the Amazon Pay settings in force, what to register in
/// Seller Central, the form that replaces the keys (for a shop added with `shop add`), and the
/// SNS topics verified notifications came from.
pub async fn amazon_pay(Extension(admin): Extension<Arc<Admin>>, signed: Signed) -> Response {
    amazon_pay_page(&admin, signed, StatusCode::OK, None, Entered::default(), None).await
}

/// `POST /admin/settings/amazonpay/check`: the setup check ([`SetupCheck`]), on the page.
pub async fn check(Extension(admin): Extension<Arc<Admin>>, signed: Signed, body: Bytes) -> Response {
    if let Err((status, problem)) = change_form(&admin, &signed, &body) {
        return signed.visit.error(status, problem);
    }
    match SetupCheck::run(&admin.app).await {
        Ok(checked) => amazon_pay_page(&admin, signed, StatusCode::OK, None, Entered::default(), Some(checked)).await,
        Err(error) => internal(signed.visit, &error),
    }
}

/// What the owner typed in the keys form, shown again when it was refused (never the key).
#[derive(Default)]
pub(super) struct Entered {
    pub merchant_id: String,
    pub store_id: String,
    pub public_key_id: String,
    pub live: bool,
}

/// The Amazon Pay settings page, with `message` above the keys form.
pub(super) async fn amazon_pay_page(
    admin: &Admin,
    signed: Signed,
    status: StatusCode,
    message: Option<Message>,
    entered: Entered,
    checked: Option<SetupCheck>,
) -> Response {
    let lang = signed.visit.lang;
    let config = &admin.app.config;
    let t = lang.pick(&AMAZON_PAY_JA, &AMAZON_PAY_EN);
    let fingerprint = admin.app.core.key().map(|key| crate::core::onboarding::fingerprint(&key));
    let settings = vec![
        (t.merchant_id, config.amazon.merchant_id.clone()),
        ("Store ID", config.amazon.store_id.clone()),
        (t.public_key_id, config.amazon.public_key_id.clone()),
        (t.mode, (if config.amazon.sandbox { t.sandbox } else { t.production }).to_owned()),
        (t.origin, config.shop_origin.as_str().to_owned()),
        (t.ipn_url, config.shop_origin.url(paths::IPN)),
        (t.store_name, config.store_name.clone().unwrap_or_else(|| t.sellers_store_name.to_owned())),
        (t.api, config.api_base.as_str().to_owned()),
        (t.private_key, fingerprint.unwrap_or_else(|| t.no_key.to_owned())),
    ];
    let seen = match admin.service().ipn_topics().await {
        Ok(topics) => topics,
        Err(error) => return internal(signed.visit, &error),
    };
    let configured = config.ipn_topic_arns.clone();
    let topics = seen
        .into_iter()
        .map(|topic| Topic {
            followed: configured.is_empty() || configured.contains(&topic.topic_arn),
            first_seen: date_time(topic.first_seen),
            last_seen: date_time(topic.last_seen),
            last_confirmed: topic.last_confirmed.map_or_else(|| "—".to_owned(), date_time),
            arn: topic.topic_arn,
        })
        .collect();
    let page = AmazonPayPage {
        frame: signed.frame(t.title, "/admin/settings/amazonpay"),
        t,
        settings,
        configured,
        topics,
        keys_form: admin.app.shop.is_some(),
        message,
        csrf: signed.owner.csrf.clone(),
        entered,
        all_well: checked.as_ref().is_some_and(SetupCheck::all_well),
        checked: checked.map(|checked| checked.lines(lang == super::Lang::Ja)),
    };
    signed.visit.page(status, &page)
}
