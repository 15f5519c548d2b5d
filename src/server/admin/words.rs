//! The words several admin pages share, in both languages: credit statuses, fulfilment, refund
//! states and who moved a payment.

use super::Lang;
use crate::core::orders::OrderState;
use crate::core::platform::RefundState;

/// クレジット決済状況 in the page's language.
pub fn status(lang: Lang, state: OrderState) -> &'static str {
    match lang {
        Lang::Ja => state.credit_status(),
        Lang::En => match state {
            OrderState::Processing | OrderState::Completing => "In progress",
            OrderState::Unknown => "Being checked",
            OrderState::Pending => "Authorization pending",
            OrderState::Authorized => "Authorized",
            OrderState::Capturing => "Capture in progress",
            OrderState::Captured => "Captured",
            OrderState::Canceled => "Canceled",
            OrderState::Refunded => "Refunded",
            OrderState::Expired => "Authorization expired",
            OrderState::CardUnsettled => "Card not settled",
            OrderState::Failed => "Payment failed",
        },
    }
}

/// The fulfilments (対応状況) an order can have: the form's value and its words.
pub const FULFILMENTS: [&str; 3] = ["new", "shipped", "canceled"];

/// 対応状況 in the page's language (anything unknown reads as new).
pub fn fulfilment(lang: Lang, status: &str) -> &'static str {
    match status {
        "shipped" => lang.pick("発送済み", "Shipped"),
        "canceled" => lang.pick("キャンセル", "Canceled"),
        _ => lang.pick("新規受付", "New"),
    }
}

/// Where a refund stands, as the shop holds it.
pub fn refund_state(lang: Lang, state: RefundState) -> &'static str {
    match state {
        RefundState::Initiated => lang.pick("返金処理中 (Amazon の確認待ち)", "Refund in progress (awaiting Amazon)"),
        RefundState::Refunded => lang.pick("返金済み", "Refunded"),
        RefundState::Declined => lang.pick("返金不可 (Amazon が却下)", "Declined by Amazon"),
    }
}

/// Who moved a payment (a history line's actor).
pub fn actor(lang: Lang, actor: &str) -> String {
    match actor.split_once(':') {
        Some(("owner", name)) => format!("{} ({})", lang.pick("管理者", "Owner"), name),
        _ => match actor {
            "shopper" => lang.pick("お客様", "Shopper").into(),
            "ipn" => lang.pick("Amazon からの通知 (IPN)", "Amazon notification (IPN)").into(),
            "reconciler" => lang.pick("照合 (自動)", "Reconciler").into(),
            "job" => lang.pick("定期処理", "Scheduled job").into(),
            other => other.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::admin::orders::LISTED;

    #[test]
    fn every_listed_status_has_words_in_both_languages() {
        for state in LISTED {
            assert!(!status(Lang::Ja, state).is_empty() && status(Lang::En, state).is_ascii());
        }
        assert_eq!(actor(Lang::Ja, "owner:admin"), "管理者 (admin)");
        assert_eq!(actor(Lang::En, "ipn"), "Amazon notification (IPN)");
    }
}
