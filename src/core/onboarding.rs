//! Connecting a shop to Amazon Pay: the keys an owner enters (the manual's steps ④ and ⑤) are
//! checked before anything is kept, and a refusal names the value that is wrong, in the owner's
//! words.
//!
//! What is checked, in order: the private key parses; the public key ID agrees with the chosen
//! mode (a `SANDBOX-`/`LIVE-` prefix selects the environment itself, and Amazon's checkout.js
//! refuses a key whose prefix contradicts `sandbox`); then a signed call to Amazon with these
//! keys, `createCheckoutSession` as other shops' integrations do, must be accepted, from the
//! environment the mode names (Amazon answers `releaseEnvironment`). Amazon's refusals map to the
//! value at fault: `InvalidRequestSignature` (the key does not belong to this public key ID, or
//! Amazon knows no such ID), `InvalidParameterValue` naming `storeId`, `InvalidHeaderValue`
//! naming `x-amz-pay-date` (this server's clock).
//!
//! The 出品者ID cannot be checked by a signed call: no documented API takes it with the keys. It
//! is checked for its form here; the first notification, which names it, shows whether it is the
//! shop's (see the setup check).

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::json;
use url::Url;
use zeroize::Zeroizing;

use super::client::{AmazonError, AmazonPayClient};
use super::random::random_token;
use super::settings::{AmazonAccount, ShopOrigin};
use crate::amazon::key_id_sandbox;
use crate::amazon::keys::ShopKey;

/// アクセスモード.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// テスト (Amazon's Sandbox).
    Sandbox,
    /// 本番 (Live).
    Live,
}

impl Mode {
    /// Amazon's name of the environment, as `releaseEnvironment` gives it.
    pub fn environment(self) -> &'static str {
        match self {
            Self::Sandbox => "Sandbox",
            Self::Live => "Live",
        }
    }
}

/// What the owner entered.
pub struct KeysEntry {
    /// 出品者ID.
    pub merchant_id: String,
    /// Store ID.
    pub store_id: String,
    /// Public key ID.
    pub public_key_id: String,
    /// アクセスモード.
    pub mode: Mode,
    /// The private key file's contents (PEM).
    pub private_key_pem: Zeroizing<Vec<u8>>,
}

/// Which value is wrong, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wrong {
    /// The shop has no keys registered yet.
    NotSetUp,
    /// The file is not a private key this server can sign with.
    PrivateKey(String),
    /// The public key ID is empty or not of Amazon's characters.
    PublicKeyId,
    /// The public key ID's prefix names the other mode.
    PublicKeyIdMode {
        /// The mode the prefix names.
        prefix: Mode,
    },
    /// Amazon could not verify the signature: the key does not belong to the public key ID, or
    /// Amazon knows no such ID (in this environment).
    KeyNotOfPublicKeyId,
    /// The 出品者ID is empty or not of Amazon's characters.
    MerchantId,
    /// Amazon does not know the store ID for these keys.
    StoreId,
    /// Amazon answered from the other environment.
    Environment {
        /// The environment Amazon answered from.
        answered: String,
    },
    /// Amazon refused this server's clock.
    Clock,
    /// Amazon refused for another reason.
    Refused {
        /// Amazon's reason code.
        reason_code: String,
    },
    /// Amazon could not be reached: nothing could be checked.
    Unreachable,
}

impl Wrong {
    /// The form field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NotSetUp | Self::PrivateKey(_) | Self::KeyNotOfPublicKeyId => "private_key",
            Self::PublicKeyId => "public_key_id",
            Self::PublicKeyIdMode { .. } | Self::Environment { .. } => "mode",
            Self::MerchantId => "merchant_id",
            Self::StoreId => "store_id",
            Self::Clock | Self::Refused { .. } | Self::Unreachable => "",
        }
    }

    /// What the owner reads.
    pub fn message_ja(&self) -> String {
        match self {
            Self::NotSetUp => "キーがまだ登録されていません。「AmazonPay 設定」で Seller Central のキーを登録してください。".into(),
            Self::PrivateKey(why) => format!("秘密鍵のファイルを読めません ({why})。手順④でダウンロードした .pem ファイルを選んでください。"),
            Self::PublicKeyId => "公開鍵 ID が正しくありません。手順⑤の JSON ファイルの値を入力してください。".into(),
            Self::PublicKeyIdMode { prefix } => format!(
                "公開鍵 ID は{}用です。アクセスモードを「{}」にするか、{}用のキーを使ってください。",
                mode_ja(*prefix),
                mode_ja(*prefix),
                mode_ja(other(*prefix))
            ),
            Self::KeyNotOfPublicKeyId => {
                "秘密鍵がこの公開鍵 ID のものではありません (Amazon が署名を確認できません)。同じ時に作成した秘密鍵と公開鍵 ID を組み合わせてください。".into()
            }
            Self::MerchantId => "出品者ID が正しくありません。セラーセントラルの出品者ID (英数字) を入力してください。".into(),
            Self::StoreId => "Store ID がこのキーの Store ID ではありません。手順⑤の JSON ファイルの値を入力してください。".into(),
            Self::Environment { answered } => {
                format!("Amazon は「{answered}」環境として答えました。アクセスモードを確認してください。")
            }
            Self::Clock => "このサーバーの時計が Amazon と合っていません。サーバーの時刻を合わせてください。".into(),
            Self::Refused { reason_code } => format!("Amazon がキーを受け付けませんでした ({reason_code})。"),
            Self::Unreachable => "Amazon に接続できず、キーを確かめられませんでした。しばらくしてからもう一度お試しください。".into(),
        }
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        match self {
            Self::NotSetUp => "No keys are registered yet: register Seller Central's keys in the Amazon Pay settings.".into(),
            Self::PrivateKey(why) => format!("The private key file cannot be read ({why}). Choose the .pem file downloaded in step ④."),
            Self::PublicKeyId => "The public key ID is not valid. Enter the value from step ⑤'s JSON file.".into(),
            Self::PublicKeyIdMode { prefix } => format!(
                "The public key ID is for {} mode. Set the mode to {}, or use keys made for {} mode.",
                prefix.environment(),
                prefix.environment(),
                other(*prefix).environment()
            ),
            Self::KeyNotOfPublicKeyId => {
                "The private key does not belong to this public key ID (Amazon cannot verify the signature). Use the private key and public key ID created together.".into()
            }
            Self::MerchantId => "The merchant ID is not valid. Enter the merchant ID (letters and digits) from Seller Central.".into(),
            Self::StoreId => "The store ID is not this key's store ID. Enter the value from step ⑤'s JSON file.".into(),
            Self::Environment { answered } => format!("Amazon answered from its {answered} environment. Check the mode."),
            Self::Clock => "This server's clock disagrees with Amazon's. Set the server's time.".into(),
            Self::Refused { reason_code } => format!("Amazon did not accept the keys ({reason_code})."),
            Self::Unreachable => "Amazon could not be reached, so the keys could not be checked. Try again later.".into(),
        }
    }
}

fn mode_ja(mode: Mode) -> &'static str {
    match mode {
        Mode::Sandbox => "テスト",
        Mode::Live => "本番",
    }
}

fn other(mode: Mode) -> Mode {
    match mode {
        Mode::Sandbox => Mode::Live,
        Mode::Live => Mode::Sandbox,
    }
}

/// Keys Amazon accepted.
pub struct Accepted {
    /// The IDs and mode.
    pub account: AmazonAccount,
    /// The private key.
    pub key: Arc<ShopKey>,
    /// What the owner is shown of the key from now on.
    pub fingerprint: String,
}

/// The SHA-256 of the key's public half, as `SHA256:` and hex pairs: what identifies a private
/// key without showing it.
pub fn fingerprint(key: &ShopKey) -> String {
    let hash = digest(&SHA256, key.public_key_der());
    let pairs: Vec<String> = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("SHA256:{}", pairs.join(":"))
}

fn amazon_characters(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// The checks that need no call to Amazon.
pub fn read_entry(entry: &KeysEntry) -> Result<(AmazonAccount, ShopKey), Wrong> {
    let key = ShopKey::from_pem(&entry.private_key_pem).map_err(|e| Wrong::PrivateKey(e.to_string()))?;
    let (merchant_id, store_id, public_key_id) =
        (entry.merchant_id.trim(), entry.store_id.trim(), entry.public_key_id.trim());
    if !amazon_characters(public_key_id) {
        return Err(Wrong::PublicKeyId);
    }
    match key_id_sandbox(public_key_id) {
        Some(true) if entry.mode == Mode::Live => return Err(Wrong::PublicKeyIdMode { prefix: Mode::Sandbox }),
        Some(false) if entry.mode == Mode::Sandbox => return Err(Wrong::PublicKeyIdMode { prefix: Mode::Live }),
        _ => {}
    }
    if !merchant_id.bytes().all(|b| b.is_ascii_alphanumeric()) || !amazon_characters(merchant_id) {
        return Err(Wrong::MerchantId);
    }
    if !amazon_characters(store_id) {
        return Err(Wrong::StoreId);
    }
    let account = AmazonAccount {
        merchant_id: merchant_id.to_owned(),
        store_id: store_id.to_owned(),
        public_key_id: public_key_id.to_owned(),
        sandbox: entry.mode == Mode::Sandbox,
    };
    Ok((account, key))
}

/// Checks `entry` and then asks Amazon at `api_base` to accept a checkout session signed with
/// it, for the shop at `origin`. Nothing is kept either way: the caller keeps what is accepted.
pub async fn check_keys(api_base: &Url, origin: &ShopOrigin, entry: &KeysEntry) -> Result<Accepted, Wrong> {
    let (account, key) = read_entry(entry)?;
    let key = Arc::new(key);
    let client = AmazonPayClient::new(api_base, &account, Arc::clone(&key)).map_err(|_| Wrong::Unreachable)?;
    let payload = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": origin.url("/") },
        "storeId": account.store_id,
    });
    // A key of its own (32 hex characters): a check is never answered with an earlier check's
    // session.
    let idempotency_key = random_token().map_err(|_| Wrong::Unreachable)?;
    match client.create_checkout_session(&payload, &idempotency_key).await {
        Ok(session) => {
            let answered = session.release_environment.unwrap_or_default();
            if !answered.is_empty() && !answered.eq_ignore_ascii_case(entry.mode.environment()) {
                return Err(Wrong::Environment { answered });
            }
            let fingerprint = fingerprint(&key);
            Ok(Accepted { account, key, fingerprint })
        }
        Err(error) => Err(wrong_of(&error)),
    }
}

/// Asks Amazon whether it accepts `core`'s keys now (a signed `createCheckoutSession`, as at
/// onboarding); answers the environment Amazon answered from.
pub async fn recheck(core: &super::Core) -> Result<String, Wrong> {
    if !core.is_set_up() {
        return Err(Wrong::NotSetUp);
    }
    let settings = core.settings();
    let payload = json!({
        "webCheckoutDetails": { "checkoutReviewReturnUrl": settings.shop_origin.url("/") },
        "storeId": settings.amazon.store_id,
    });
    let idempotency_key = random_token().map_err(|_| Wrong::Unreachable)?;
    match core.amazon.create_checkout_session(&payload, &idempotency_key).await {
        Ok(session) => Ok(session.release_environment.unwrap_or_default()),
        Err(error) => Err(wrong_of(&error)),
    }
}

/// Seconds Amazon's clock is ahead of this server's (behind when negative).
pub async fn clock_difference(core: &super::Core) -> Result<i64, AmazonError> {
    let before = super::now();
    let amazon = core.amazon.amazon_time().await?;
    // Amazon's Date is whole seconds, taken between our two readings.
    Ok(amazon - (before + super::now()) / 2)
}

/// The value Amazon's refusal points at.
fn wrong_of(error: &AmazonError) -> Wrong {
    match error {
        AmazonError::Rejected { reason_code, message, .. } => match reason_code.as_str() {
            "InvalidRequestSignature" => Wrong::KeyNotOfPublicKeyId,
            "InvalidParameterValue" if message.contains("storeId") => Wrong::StoreId,
            "InvalidHeaderValue" if message.contains("x-amz-pay-date") => Wrong::Clock,
            _ => Wrong::Refused { reason_code: reason_code.clone() },
        },
        _ => Wrong::Unreachable,
    }
}
