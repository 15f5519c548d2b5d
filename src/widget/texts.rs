//! The widget's own words, Japanese first (`data-lang="en"` for English).

use crate::contract::UnavailableReason;

/// The language of the widget's texts (Amazon's pages follow `checkoutLanguage`, not this).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// 日本語 (default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Parses `data-lang`; anything else is `None`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "ja" => Some(Self::Ja),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The texts in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Self::Ja => &JA,
            Self::En => &EN,
        }
    }

    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ja => "ja",
            Self::En => "en",
        }
    }
}

/// Every text the widget shows.
#[derive(Debug, PartialEq, Eq)]
pub struct Texts {
    /// Amazon Pay could not be loaded (API, checkout.js or the button failed).
    pub unavailable_now: &'static str,
    /// My Page, linked.
    pub linked: &'static str,
    /// The unlink button.
    pub unlink: &'static str,
    /// The confirmation before unlinking.
    pub unlink_confirm: &'static str,
    /// Unlinking failed.
    pub unlink_failed: &'static str,
    /// The cart is empty.
    pub cart_empty: &'static str,
    /// The shipping method does not allow Amazon Pay.
    pub shipping_not_allowed: &'static str,
    /// A subscription above ¥100,000 a month.
    pub recurring_limit: &'static str,
    /// Debug: this block lost to another under the one-button rule; `{}` is the winner.
    pub debug_lost: &'static str,
    /// Debug: this block is not shown because no Amazon button is visible on the page.
    pub debug_hidden: &'static str,
    /// Debug: the reason prefix for a failure.
    pub debug_reason: &'static str,
    /// Debug: a bad attribute value; the attribute error follows.
    pub debug_attribute: &'static str,
}

impl Texts {
    /// The message for a checkout block that cannot offer Amazon Pay.
    pub fn unavailable(&self, reason: UnavailableReason) -> &'static str {
        match reason {
            UnavailableReason::CartEmpty => self.cart_empty,
            UnavailableReason::ShippingMethodNotAllowed => self.shipping_not_allowed,
            UnavailableReason::RecurringMonthlyLimit => self.recurring_limit,
        }
    }
}

static JA: Texts = Texts {
    unavailable_now: "ただいま Amazon Pay をご利用いただけません。時間をおいてページを再読み込みしてください。",
    linked: "Amazon アカウントと連携しています。",
    unlink: "Amazon アカウントとの連携を解除する",
    unlink_confirm: "Amazon アカウントとの連携を解除しますか？\n解除すると、Amazon アカウントでこのショップにログインできなくなります。",
    unlink_failed: "連携を解除できませんでした。時間をおいてもう一度お試しください。",
    cart_empty: "カートに商品がないため、Amazon Pay はご利用いただけません。",
    shipping_not_allowed: "選択中の配送方法では Amazon Pay をご利用いただけません。",
    recurring_limit: "定期購入で Amazon Pay をご利用いただけるのは月額 100,000 円までです。",
    debug_lost: "[Amazon Pay] このブロックには表示しません。Amazon ボタンは1ページに1つだけで、{} に表示しています。",
    debug_hidden: "[Amazon Pay] 見えているブロックがないため、Amazon ボタンを表示していません。",
    debug_reason: "[Amazon Pay] 理由: ",
    debug_attribute: "[Amazon Pay] 属性の値が正しくありません: ",
};

static EN: Texts = Texts {
    unavailable_now: "Amazon Pay is not available right now. Please reload the page later.",
    linked: "Your Amazon account is linked.",
    unlink: "Unlink your Amazon account",
    unlink_confirm: "Unlink your Amazon account?\nYou will no longer be able to log in to this shop with Amazon.",
    unlink_failed: "The Amazon account could not be unlinked. Please try again later.",
    cart_empty: "Amazon Pay is not available because the cart is empty.",
    shipping_not_allowed: "Amazon Pay is not available for the selected shipping method.",
    recurring_limit: "Amazon Pay can be used for subscriptions of up to ¥100,000 a month.",
    debug_lost: "[Amazon Pay] Not shown here: one Amazon button per page, and it is in {}.",
    debug_hidden: "[Amazon Pay] No Amazon button is shown because no competing block is visible.",
    debug_reason: "[Amazon Pay] Reason: ",
    debug_attribute: "[Amazon Pay] Bad attribute value: ",
};
