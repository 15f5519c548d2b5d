//! The setup check: whether a shop's Amazon Pay works, as its owner (「AmazonPay 設定」) and the
//! operator (`amazonpay2-server check [HOST]`) see it. Amazon accepts the keys, and from which
//! environment; the clock agrees with Amazon's; the exact JavaScript origin (the manual's step ⑧)
//! and IPN URL (step ⑨) to register in Seller Central; and whether Amazon's notifications arrive:
//! the last one received, and the changes the reconciler found after it, which a notification
//! would have announced.

use crate::core::Core;
use crate::core::onboarding::{self, Wrong};
use crate::core::paths;
use crate::storage::{NotificationHealth, StorageError};

use super::AppState;

/// Amazon refuses a signature dated more than 15 minutes from its clock; a minute's difference
/// already says the server's time is not kept.
pub const CLOCK_TOLERANCE: i64 = 60;

/// What the check found.
pub struct SetupCheck {
    /// The environment Amazon answered the keys from, or what is wrong with them.
    pub keys: Result<String, Wrong>,
    /// Whether the shop is set to Amazon's Sandbox (テスト).
    pub sandbox: bool,
    /// Seconds Amazon's clock is ahead of this server's, or why it could not be read.
    pub clock: Result<i64, String>,
    /// To register as a JavaScript origin (step ⑧).
    pub javascript_origin: String,
    /// To register as the IPN URL (step ⑨).
    pub ipn_url: String,
    /// The notifications received.
    pub notifications: NotificationHealth,
}

/// One line of the check, for a page or a terminal.
pub struct Line {
    /// What was checked.
    pub label: &'static str,
    /// What was found.
    pub value: String,
    /// Whether it is as it should be.
    pub ok: bool,
}

impl SetupCheck {
    /// Checks the shop `app` serves (two calls to Amazon, one read of the database).
    pub async fn run(app: &AppState) -> Result<Self, StorageError> {
        let core: &Core = &app.core;
        let (keys, clock) = tokio::join!(onboarding::recheck(core), onboarding::clock_difference(core));
        Ok(Self {
            keys,
            sandbox: app.config.amazon.sandbox,
            clock: clock.map_err(|e| e.to_string()),
            javascript_origin: app.config.shop_origin.as_str().to_owned(),
            ipn_url: app.config.shop_origin.url(paths::IPN),
            notifications: app.db.notification_health().await?,
        })
    }

    fn environment_ok(&self) -> bool {
        let expected = if self.sandbox { "Sandbox" } else { "Live" };
        self.keys.as_ref().is_ok_and(|answered| answered.is_empty() || answered.eq_ignore_ascii_case(expected))
    }

    fn clock_ok(&self) -> bool {
        self.clock.as_ref().is_ok_and(|difference| difference.abs() <= CLOCK_TOLERANCE)
    }

    /// Whether everything is as it should be (the command's exit status 0).
    pub fn all_well(&self) -> bool {
        self.environment_ok() && self.clock_ok() && self.notifications.unannounced == 0
    }

    /// The findings, in Japanese (`ja`) or English.
    pub fn lines(&self, ja: bool) -> Vec<Line> {
        let pick = |j: &'static str, e: &'static str| if ja { j } else { e };
        let keys = match &self.keys {
            Ok(answered) if self.environment_ok() => {
                let environment = if answered.is_empty() { pick("不明", "not said") } else { answered.as_str() };
                format!("{} ({environment})", pick("Amazon が受け付けました", "accepted by Amazon"))
            }
            Ok(answered) => {
                if ja {
                    format!("Amazon は「{answered}」環境として答えました。アクセスモードを確認してください。")
                } else {
                    format!("Amazon answered from its {answered} environment: check the mode.")
                }
            }
            Err(wrong) if ja => wrong.message_ja(),
            Err(wrong) => wrong.message_en(),
        };
        let clock = match &self.clock {
            Ok(difference) if ja => format!("{difference:+} 秒 (許容 ±{CLOCK_TOLERANCE} 秒)"),
            Ok(difference) => format!("{difference:+} s (within ±{CLOCK_TOLERANCE} s is fine)"),
            Err(why) => format!("{}: {why}", pick("Amazon の時刻を読めません", "Amazon's time could not be read")),
        };
        let health = self.notifications;
        let last = health
            .last_received
            .map_or_else(|| pick("まだ届いていません", "none yet").to_owned(), super::admin::date_time);
        let unannounced = match health.unannounced {
            0 => pick("なし", "none").to_owned(),
            n if ja => format!("{n} 件。IPN が届いていません: ⑨ の設定を確認してください"),
            n => format!("{n}: notifications are not arriving; check step ⑨ in Seller Central"),
        };
        vec![
            Line { label: pick("キー", "Keys"), value: keys, ok: self.environment_ok() },
            Line {
                label: pick("時計 (Amazon との差)", "Clock (Amazon's minus ours)"),
                value: clock,
                ok: self.clock_ok(),
            },
            Line {
                label: pick("JavaScript オリジン (⑧ に登録)", "JavaScript origin (register in step ⑧)"),
                value: self.javascript_origin.clone(),
                ok: true,
            },
            Line {
                label: pick("IPN の URL (⑨ に登録)", "IPN URL (register in step ⑨)"),
                value: self.ipn_url.clone(),
                ok: true,
            },
            Line { label: pick("最後に届いた IPN", "Last notification received"), value: last, ok: true },
            Line {
                label: pick("IPN なしで見つかった変更", "Changes found without a notification"),
                value: unannounced,
                ok: health.unannounced == 0,
            },
        ]
    }
}
