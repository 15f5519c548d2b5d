//! The frame every admin page shares (`templates/admin/base.html`: head, navigation, logout,
//! language switch) and its message boxes, with their words in both languages.

use super::Lang;

/// The frame's words in one language.
pub struct LayoutTexts {
    /// After each page's title.
    pub admin: &'static str,
    pub skip: &'static str,
    pub brand: &'static str,
    /// The navigation's label.
    pub menu: &'static str,
    /// The navigation: path and label.
    pub items: [(&'static str, &'static str); 5],
    pub signed_in: &'static str,
    pub log_out: &'static str,
    /// The other language: its code and its name in itself.
    pub other: (&'static str, &'static str),
}

const JA: LayoutTexts = LayoutTexts {
    admin: "管理画面",
    skip: "本文へ移動",
    brand: "クラフトカート 管理画面 (Amazon Pay)",
    menu: "管理メニュー",
    items: [
        ("/admin/", "ホーム"),
        ("/admin/orders", "受注一覧"),
        ("/admin/amazonpay", "AmazonPay クレジット決済状況"),
        ("/admin/settings/shipping", "配送方法・配送料"),
        ("/admin/settings/amazonpay", "AmazonPay 設定"),
    ],
    signed_in: "ログイン中",
    log_out: "ログアウト",
    other: ("en", "English"),
};

const EN: LayoutTexts = LayoutTexts {
    admin: "Admin",
    skip: "Skip to content",
    brand: "Craft Cart admin (Amazon Pay)",
    menu: "Admin menu",
    items: [
        ("/admin/", "Home"),
        ("/admin/orders", "Orders"),
        ("/admin/amazonpay", "Amazon Pay bulk capture"),
        ("/admin/settings/shipping", "Shipping methods"),
        ("/admin/settings/amazonpay", "Amazon Pay settings"),
    ],
    signed_in: "Signed in as",
    log_out: "Log out",
    other: ("ja", "日本語"),
};

/// The navigation of a logged-in owner.
pub struct Nav {
    /// The owner's account name.
    pub owner: String,
    /// The CSRF token of the logout form.
    pub csrf: String,
    /// The path of the page's item.
    pub current: &'static str,
}

/// What the frame of a page shows.
pub struct Frame {
    pub lang: Lang,
    pub title: String,
    /// None on the login and error pages.
    pub nav: Option<Nav>,
    pub t: &'static LayoutTexts,
}

impl Frame {
    pub fn new(lang: Lang, title: impl Into<String>, nav: Option<Nav>) -> Self {
        Self { lang, title: title.into(), nav, t: lang.pick(&JA, &EN) }
    }
}

/// What a message box says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A refusal or failure: read out at once.
    Error,
    /// A warning the owner should act on.
    Warn,
    /// A confirmation.
    Done,
}

impl MessageKind {
    pub fn class(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Done => "done",
        }
    }

    pub fn role(self) -> &'static str {
        if self == Self::Error { "alert" } else { "status" }
    }
}

/// A message box (`templates/admin/message.html`).
pub struct Message {
    pub kind: MessageKind,
    pub text: String,
}

impl Message {
    pub fn error(text: impl Into<String>) -> Self {
        Self { kind: MessageKind::Error, text: text.into() }
    }

    pub fn done(text: impl Into<String>) -> Self {
        Self { kind: MessageKind::Done, text: text.into() }
    }
}
