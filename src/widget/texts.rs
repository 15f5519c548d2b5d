//! The widget's own words, Japanese first (`data-lang="en"` for English).

use crate::contract::{Notice, UnavailableReason};

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
    /// The notices, in [`Notice::ALL`] order.
    pub notices: [&'static str; 18],
    /// Review block: the shipping address heading.
    pub ship_to: &'static str,
    /// Review block: the payment heading.
    pub pay_with: &'static str,
    /// Review block: change the address (Amazon's page).
    pub change_address: &'static str,
    /// Review block: change the payment method (Amazon's page).
    pub change_payment: &'static str,
    /// Review block: the shop's order button.
    pub place_order: &'static str,
    /// Review block: the order could not be placed.
    pub place_failed: &'static str,
}

impl Texts {
    /// The text of a notice.
    pub fn notice(&self, notice: Notice) -> &'static str {
        let index = Notice::ALL.iter().position(|n| *n == notice).unwrap_or_default();
        self.notices[index]
    }

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
    notices: [
        "Amazon アカウントでログインしました。",
        "Amazon アカウントと連携しました。次回から Amazon アカウントでログインできます。",
        "このメールアドレスの会員が既に登録されています。パスワードでログインすると、Amazon アカウントと連携されます。",
        "Amazon アカウントの情報を入力しました。フリガナとパスワードを入力して会員登録を完了してください。",
        "Amazon アカウントと連携するには、先に会員としてログインしてください。",
        "この会員には既に別の Amazon アカウントが連携されています。連携を解除してからやり直してください。",
        "この Amazon アカウントは既に別の会員と連携されているため、連携できません。",
        "Amazon Pay に接続できませんでした。時間をおいてもう一度お試しください。",
        "Amazon でのサインインの有効期限が切れたか、既に使われています。もう一度お試しください。",
        "このサインインは別のブラウザーまたは古いページから始まったため、受け付けられませんでした。もう一度お試しください。",
        "ご注文を承りました。",
        "ご注文を承りました。お支払いの確認が終わりしだいご連絡します。",
        "Amazon Pay でのお支払いが承認されませんでした。ご注文は確定していません。別のお支払い方法をお選びください。",
        "Amazon Pay の手続きの有効期限が切れました。ご注文は確定していません。もう一度お手続きください。",
        "カートの内容が変わりました。内容をご確認のうえ、もう一度お手続きください。",
        "Amazon Pay でのお手続きを中止しました。ご注文は確定していません。",
        "Amazon アカウントでのサインインを中止しました。",
        "Amazon アカウントとは連携していません。連携するには、マイページから連携してください。",
    ],
    ship_to: "お届け先（Amazon アカウント）",
    pay_with: "お支払い方法（Amazon Pay）",
    change_address: "お届け先を変更",
    change_payment: "お支払い方法を変更",
    place_order: "注文を確定する",
    place_failed: "ご注文を確定できませんでした。時間をおいてもう一度お試しください。",
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
    notices: [
        "You are logged in with your Amazon account.",
        "Your Amazon account is now linked. Next time you can log in with Amazon.",
        "A member with this e-mail address already exists. Log in with your password to link your Amazon account.",
        "Your Amazon account details have been filled in. Add the furigana and a password to finish signing up.",
        "Please log in as a member before linking your Amazon account.",
        "Another Amazon account is already linked to this member. Unlink it first.",
        "This Amazon account is already linked to another member and cannot be linked.",
        "Amazon Pay could not be reached. Please try again later.",
        "The Amazon sign-in has expired or was already used. Please try again.",
        "This sign-in started in another browser or on an old page and was not accepted. Please try again.",
        "Thank you: your order is placed.",
        "Thank you: your order is placed. We will confirm once the payment is approved.",
        "Amazon Pay did not approve the payment. No order was made; please choose another payment method.",
        "The Amazon Pay checkout expired. No order was made; please check out again.",
        "Your cart changed. Please check it and check out again.",
        "You cancelled the Amazon Pay checkout. No order was made.",
        "You cancelled the sign-in with Amazon.",
        "Your Amazon account was not linked. You can link it from My Page.",
    ],
    ship_to: "Ship to (Amazon account)",
    pay_with: "Pay with (Amazon Pay)",
    change_address: "Change address",
    change_payment: "Change payment method",
    place_order: "Place your order",
    place_failed: "Your order could not be placed. Please try again later.",
};
