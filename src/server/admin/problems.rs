//! What the admin tells the owner when it refuses or fails a request, in both languages.

use super::Lang;

/// A refusal or failure the owner is told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    Internal,
    ForeignOrigin,
    StaleToken,
    SendForm,
    SendLoginForm,
    LoginExpired,
    WrongLogin,
    LoginLocked,
    LoginBusy,
    NoSuchPage,
    BadFilter,
    NoSuchOrder,
    ChooseStatus,
    BadOrders,
    NoOrdersChosen,
    TooManyOrders,
    NoSuchJob,
    BadShipping,
    NoSuchShipping,
}

impl Problem {
    /// What the owner reads.
    pub fn text(self, lang: Lang) -> &'static str {
        let (ja, en) = match self {
            Self::Internal => (
                "サーバーでエラーが発生しました。時間をおいてもう一度お試しください。",
                "Something went wrong on the server; please try again.",
            ),
            Self::ForeignOrigin => (
                "他のサイトからの送信は受け付けません。管理画面から操作してください。",
                "Requests from other sites are not accepted; use the admin pages.",
            ),
            Self::StaleToken => (
                "画面の有効期限が切れました。画面を再読み込みしてから、もう一度操作してください。",
                "The page is out of date (its security token did not match); reload it and try again.",
            ),
            Self::SendForm => ("フォームから送信してください。", "Send the form."),
            Self::SendLoginForm => ("フォームから送信してください。", "Send the login form."),
            Self::LoginExpired => (
                "ログイン画面の有効期限が切れました。もう一度ログインしてください。",
                "The login page expired; please log in again.",
            ),
            Self::WrongLogin => ("管理者名またはパスワードが正しくありません。", "Wrong account name or password."),
            Self::LoginLocked => (
                "ログインに続けて失敗したため、この管理者名では 15 分間ログインできません。",
                "Too many failed logins: this account name is locked for 15 minutes.",
            ),
            Self::LoginBusy => (
                "ただいまログインが混み合っています。少し待ってからもう一度ログインしてください。",
                "Too many logins at this moment; please wait a little and log in again.",
            ),
            Self::NoSuchPage => ("このページはありません。", "No such page."),
            Self::BadFilter => ("絞り込みの条件が正しくありません。", "The filter is not one the list knows."),
            Self::NoSuchOrder => ("その受注はありません。", "No such order."),
            Self::ChooseStatus => ("変更後のクレジット決済状況を選んでください。", "Choose the new credit status."),
            Self::BadOrders => ("受注の指定が正しくありません。", "The orders were not sent correctly."),
            Self::NoOrdersChosen => ("実売上にする受注を選んでください。", "Choose the orders to capture."),
            Self::TooManyOrders => {
                ("一度に実売上にできるのは 10,000 件までです。", "At most 10,000 orders can be captured in one go.")
            }
            Self::NoSuchJob => ("その処理はありません。", "No such job."),
            Self::BadShipping => {
                ("配送方法の指定が正しくありません。", "The shipping methods were not sent correctly.")
            }
            Self::NoSuchShipping => ("その配送方法はありません。", "No such shipping method."),
        };
        lang.pick(ja, en)
    }
}
