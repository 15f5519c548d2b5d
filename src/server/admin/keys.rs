//! The owner connects Amazon Pay: `POST /admin/settings/amazonpay` (`multipart/form-data`) with the
//! private key of Seller Central's step ④ (`private_key`), the JSON of IDs of step ⑤
//! (`credentials`, optional) or the IDs typed (`merchant_id`, `store_id`, `public_key_id`, which
//! win over the JSON's), and the mode (`mode`: `sandbox` = テスト, `live` = 本番).
//!
//! Nothing is saved until the key parses, the key ID's prefix agrees with the mode and a signed
//! call to Amazon accepts the keys ([`crate::core::onboarding::check_keys`]); otherwise the page
//! says which value is wrong and the shop keeps what it had. Accepted keys are saved with the
//! private key sealed under the master key; every instance serves with them within seconds (the
//! registry's poll). The private key is never shown again, only its fingerprint.

use std::sync::Arc;

use axum::Extension;
use axum::extract::Multipart;
use axum::extract::multipart::MultipartRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::layout::Message;
use super::problems::Problem;
use super::settings::{Entered, amazon_pay_page};
use super::{Admin, Lang, Signed};
use crate::core::onboarding::{self, KeysEntry, Mode, Wrong};
use crate::storage::shops::{PRIVATE_KEY, ShopAmazon};
use crate::storage::vault::Binding;

/// The largest file a field may hold: a 4096-bit key's PEM is about 3.3 KiB.
const FIELD_LIMIT: usize = 16 * 1024;

/// The form as sent.
#[derive(Default)]
struct KeysForm {
    csrf: String,
    private_key: Zeroizing<Vec<u8>>,
    credentials: Vec<u8>,
    merchant_id: String,
    store_id: String,
    public_key_id: String,
    mode: String,
}

/// Step ⑤'s JSON: the IDs of a key, as Seller Central's download names them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    merchant_id: Option<String>,
    store_id: Option<String>,
    public_key_id: Option<String>,
}

/// Why the form could not be read.
enum Unreadable {
    /// Not `multipart/form-data`, or broken.
    NotMultipart,
    /// A field beyond [`FIELD_LIMIT`].
    TooLarge(String),
}

async fn read(mut multipart: Multipart) -> Result<KeysForm, Unreadable> {
    let mut form = KeysForm::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|_| Unreadable::NotMultipart)? {
        let name = field.name().unwrap_or_default().to_owned();
        let mut value = Zeroizing::new(Vec::new());
        while let Some(chunk) = field.chunk().await.map_err(|_| Unreadable::NotMultipart)? {
            if value.len() + chunk.len() > FIELD_LIMIT {
                return Err(Unreadable::TooLarge(name));
            }
            value.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&value).trim().to_owned();
        match name.as_str() {
            "csrf" => form.csrf = text(),
            "private_key" => form.private_key = value,
            "credentials" => form.credentials = value.to_vec(),
            "merchant_id" => form.merchant_id = text(),
            "store_id" => form.store_id = text(),
            "public_key_id" => form.public_key_id = text(),
            "mode" => form.mode = text(),
            // Anything else a browser adds is not ours to read.
            _ => {}
        }
    }
    Ok(form)
}

/// The owner's words for what is wrong with the form itself.
fn form_problem(lang: Lang, ja: &str, en: &str) -> Message {
    Message::error(lang.pick(ja, en).to_owned())
}

/// `POST /admin/settings/amazonpay`.
pub async fn save(
    Extension(admin): Extension<Arc<Admin>>,
    signed: Signed,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let lang = signed.visit.lang;
    let Ok(multipart) = multipart else {
        return signed.visit.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Problem::SendForm);
    };
    let form = match read(multipart).await {
        Ok(form) => form,
        Err(Unreadable::NotMultipart) => return signed.visit.error(StatusCode::BAD_REQUEST, Problem::SendForm),
        Err(Unreadable::TooLarge(field)) => {
            let message = form_problem(
                lang,
                &format!(
                    "{field} が大きすぎます (16 KiB まで)。Seller Central からダウンロードしたファイルを選んでください。"
                ),
                &format!("{field} is too large (16 KiB at most): choose the file Seller Central gave you."),
            );
            return amazon_pay_page(
                &admin,
                signed,
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(message),
                Entered::default(),
                None,
            )
            .await;
        }
    };
    if let Err((status, problem)) = signed.check_token(&admin.app.config.shop_origin, &form.csrf) {
        return signed.visit.error(status, problem);
    }
    if admin.app.shop.is_none() {
        let message = form_problem(
            lang,
            "このショップのキーはサーバーの設定 (AMAZONPAY2_*) で決まっています。管理画面で登録するには、先に amazonpay2-server shop add でショップを登録してください。",
            "This shop's keys come from the server's settings (AMAZONPAY2_*). To manage them here, first add the shop with amazonpay2-server shop add.",
        );
        return amazon_pay_page(&admin, signed, StatusCode::CONFLICT, Some(message), Entered::default(), None).await;
    }
    let entered = Entered {
        merchant_id: form.merchant_id.clone(),
        store_id: form.store_id.clone(),
        public_key_id: form.public_key_id.clone(),
        live: form.mode == "live",
    };
    match connect(&admin, form, lang).await {
        Ok(done) => {
            tracing::info!(owner = %signed.owner.name, shop = ?admin.app.shop, "Amazon accepted the shop's keys; saved");
            amazon_pay_page(&admin, signed, StatusCode::OK, Some(done), Entered::default(), None).await
        }
        Err(Refused::Entry(message)) => {
            amazon_pay_page(&admin, signed, StatusCode::UNPROCESSABLE_ENTITY, Some(message), entered, None).await
        }
        Err(Refused::Failed(problem)) => {
            tracing::error!(shop = ?admin.app.shop, %problem, "accepted keys could not be saved");
            signed.visit.error(StatusCode::SERVICE_UNAVAILABLE, Problem::Internal)
        }
    }
}

/// Why nothing was saved.
enum Refused {
    /// A value is wrong: the owner is told which.
    Entry(Message),
    /// The keys were accepted, but could not be sealed or saved.
    Failed(String),
}

/// Checks the form's keys with Amazon and, accepted, saves them; what to tell the owner.
async fn connect(admin: &Admin, form: KeysForm, lang: Lang) -> Result<Message, Refused> {
    let entry = entry(form, lang).map_err(Refused::Entry)?;
    let config = &admin.app.config;
    let accepted = onboarding::check_keys(&config.api_base, &config.shop_origin, &entry)
        .await
        .map_err(|wrong| Refused::Entry(Message::error(wrong_text(&wrong, lang))))?;
    let store = admin.app.db.store();
    let master = config.master_key().map_err(|e| Refused::Failed(e.to_string()))?;
    let sealed = master
        .seal(Binding { shop: store.shop().0, field: PRIVATE_KEY }, &entry.private_key_pem)
        .map_err(|e| Refused::Failed(e.to_string()))?;
    let account = &accepted.account;
    let amazon = ShopAmazon {
        merchant_id: account.merchant_id.clone(),
        store_id: account.store_id.clone(),
        public_key_id: account.public_key_id.clone(),
        sandbox: account.sandbox,
        key_fingerprint: accepted.fingerprint,
    };
    store.set_shop_amazon(&amazon, &sealed).await.map_err(|e| Refused::Failed(e.to_string()))?;
    let environment = entry.mode.environment();
    Ok(Message::done(match lang {
        Lang::Ja => format!(
            "Amazon がキーを受け付けました ({environment})。保存しました。数秒ですべてのサーバーがこのキーを使います。秘密鍵: {}",
            amazon.key_fingerprint
        ),
        Lang::En => format!(
            "Amazon accepted the keys ({environment}); saved. Every server uses them within seconds. Private key: {}",
            amazon.key_fingerprint
        ),
    }))
}

/// The entry the form describes: the typed IDs, else the JSON's.
fn entry(form: KeysForm, lang: Lang) -> Result<KeysEntry, Message> {
    if form.private_key.is_empty() {
        return Err(form_problem(
            lang,
            "秘密鍵のファイル (手順④でダウンロードした .pem) を選んでください。",
            "Choose the private key file (the .pem downloaded in step ④).",
        ));
    }
    let from_file = if form.credentials.is_empty() {
        Credentials { merchant_id: None, store_id: None, public_key_id: None }
    } else {
        serde_json::from_slice::<Credentials>(&form.credentials).map_err(|_| {
            form_problem(
                lang,
                "キー情報の JSON ファイル (手順⑤) を読めません。Seller Central からダウンロードしたファイルを選ぶか、ID を入力してください。",
                "The JSON file of the key's IDs (step ⑤) cannot be read: choose the file Seller Central gave you, or type the IDs.",
            )
        })?
    };
    let pick = |typed: String, filed: Option<String>| {
        if typed.is_empty() { filed.unwrap_or_default().trim().to_owned() } else { typed }
    };
    let mode = match form.mode.as_str() {
        "sandbox" => Mode::Sandbox,
        "live" => Mode::Live,
        _ => {
            return Err(form_problem(
                lang,
                "アクセスモード (テスト または 本番) を選んでください。",
                "Choose the access mode (test or production).",
            ));
        }
    };
    Ok(KeysEntry {
        merchant_id: pick(form.merchant_id, from_file.merchant_id),
        store_id: pick(form.store_id, from_file.store_id),
        public_key_id: pick(form.public_key_id, from_file.public_key_id),
        mode,
        private_key_pem: form.private_key,
    })
}

fn wrong_text(wrong: &Wrong, lang: Lang) -> String {
    match lang {
        Lang::Ja => wrong.message_ja(),
        Lang::En => wrong.message_en(),
    }
}
