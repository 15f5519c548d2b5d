//! The test cards in every test buyer's wallet, the cards the test control can put on a charge
//! permission, and what authorizing each one gives.
//!
//! How Amazon answers a decline: createCharge answers 201 only when the authorization succeeded
//! or was initiated; otherwise an error answer whose reason code says whether to retry or to ask
//! the buyer for another payment method (Amazon's guide to charging a saved payment method: "If
//! Create Charge returns a different HTTP status code, check the request response reasonCode").
//! The HTTP statuses (422 for the declines, 500 for `ProcessingFailure`) are not on an Amazon page
//! we could read (unconfirmed): they are those of the error tables two Amazon Pay plugins keep
//! (Solution360's JTL plugin, and a Japanese shop's Amazon Pay client), which agree on them.

use axum::http::StatusCode;

use crate::simulator::api::ApiFailure;

/// A payment method on a buyer's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Card {
    /// `Visa ****1111`: authorizes.
    Visa,
    /// `Mastercard ****4444`: declines (`HardDeclined`).
    Mastercard,
    /// `JCB ****0000`: goes pending when the merchant can handle it, otherwise declines
    /// (`TransactionTimedOut`).
    Jcb,
    /// Test control only, like the rest: declines with this reason code.
    Declining(Decline),
    /// Test control only: expired, so the charge permission is `NonChargeable`
    /// (`PaymentMethodExpired`) until the buyer chooses another card.
    Expired,
}

/// The decline reason codes of createCharge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Decline {
    Soft,
    Hard,
    NotAllowed,
    TimedOut,
    Mfa,
    Rejected,
    ProcessingFailure,
}

impl Decline {
    const ALL: [Decline; 7] = [
        Decline::Soft,
        Decline::Hard,
        Decline::NotAllowed,
        Decline::TimedOut,
        Decline::Mfa,
        Decline::Rejected,
        Decline::ProcessingFailure,
    ];

    /// Amazon's reason code.
    pub(in crate::simulator) fn code(self) -> &'static str {
        match self {
            Decline::Soft => "SoftDeclined",
            Decline::Hard => "HardDeclined",
            Decline::NotAllowed => "PaymentMethodNotAllowed",
            Decline::TimedOut => "TransactionTimedOut",
            Decline::Mfa => "MFANotCompleted",
            Decline::Rejected => "AmazonRejected",
            Decline::ProcessingFailure => "ProcessingFailure",
        }
    }

    /// The test control's name: the reason code itself.
    fn parse(name: &str) -> Option<Decline> {
        Self::ALL.into_iter().find(|decline| decline.code() == name)
    }
}

/// What an authorization attempt gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Outcome {
    Authorized,
    Pending,
    Declined(&'static str),
}

impl Card {
    /// The cards in every test buyer's wallet, as the hosted pages offer them.
    pub(in crate::simulator) const ALL: [Card; 3] = [Card::Visa, Card::Mastercard, Card::Jcb];

    /// The form value on the hosted pages.
    pub(in crate::simulator) fn key(self) -> &'static str {
        match self {
            Card::Visa => "visa",
            Card::Mastercard => "mastercard",
            Card::Jcb => "jcb",
            Card::Declining(_) => "declining",
            Card::Expired => "expired",
        }
    }

    /// `paymentPreferences[].paymentDescriptor`.
    pub(in crate::simulator) fn descriptor(self) -> &'static str {
        match self {
            Card::Visa => "Visa ****1111",
            Card::Mastercard => "Mastercard ****4444",
            Card::Jcb => "JCB ****0000",
            Card::Declining(_) => "Visa ****0002",
            Card::Expired => "Visa ****0003",
        }
    }

    /// What the hosted pages say the card does.
    pub(in crate::simulator) fn behaviour(self) -> &'static str {
        match self {
            Card::Visa => "承認されます",
            Card::Mastercard => "拒否されます (HardDeclined)",
            Card::Jcb => "保留になります (canHandlePendingAuthorization: true のとき。それ以外は拒否)",
            Card::Declining(_) => "拒否されます",
            Card::Expired => "有効期限切れです",
        }
    }

    /// A wallet card by its form value (`visa`, `mastercard`, `jcb`) or its test-control name
    /// (`visa`, `decline`, `pending`).
    pub(in crate::simulator) fn parse(value: &str) -> Option<Card> {
        match value {
            "visa" => Some(Card::Visa),
            "mastercard" | "decline" => Some(Card::Mastercard),
            "jcb" | "pending" => Some(Card::Jcb),
            _ => None,
        }
    }

    /// A card for the test control: a wallet card, `expired`, or a decline reason code
    /// (`SoftDeclined`, `ProcessingFailure`, …) for a card that declines with it.
    pub(in crate::simulator) fn parse_control(value: &str) -> Option<Card> {
        match value {
            "expired" => Some(Card::Expired),
            other => Card::parse(other).or_else(|| Decline::parse(other).map(Card::Declining)),
        }
    }

    /// Why a charge permission with this card cannot be charged (`NonChargeable`), if it cannot.
    pub(in crate::simulator) fn non_chargeable(self) -> Option<&'static str> {
        (self == Card::Expired).then_some("PaymentMethodExpired")
    }

    /// The authorization outcome for this card.
    pub(in crate::simulator) fn authorize(self, can_handle_pending: bool) -> Outcome {
        match self {
            Card::Visa => Outcome::Authorized,
            Card::Mastercard => Outcome::Declined("HardDeclined"),
            Card::Jcb if can_handle_pending => Outcome::Pending,
            // A merchant who cannot wait gets the authorization Amazon could not decide at once
            // declined as timed out, as Amazon's synchronous authorizations were (its older API:
            // "TransactionTimedOut … not processed within the time period"). [inferred]
            Card::Jcb => Outcome::Declined("TransactionTimedOut"),
            Card::Declining(decline) => Outcome::Declined(decline.code()),
            Card::Expired => Outcome::Declined("HardDeclined"),
        }
    }
}

/// The statusDetails description of a decline (a pending authorization declined later, a
/// checkout Amazon canceled).
pub(super) fn decline_description(code: &str) -> &'static str {
    match code {
        "HardDeclined" => {
            "The payment method was declined. Retrying will not succeed; ask the buyer for another payment method."
        }
        "SoftDeclined" => "The payment was declined for now; the Charge can be retried.",
        "PaymentMethodNotAllowed" => "The buyer's payment method is not allowed for this transaction.",
        "MFANotCompleted" => "The buyer has not completed multi-factor authentication.",
        "AmazonRejected" => "Amazon declined the transaction.",
        "ProcessingFailure" => "Amazon could not process the transaction; the Charge can be retried.",
        _ => {
            "The authorization could not be processed synchronously and the merchant cannot handle pending authorizations."
        }
    }
}

/// createCharge's error answer for a decline (`500` for `ProcessingFailure`, `422` for the rest).
/// The message texts are the simulator's own (Amazon's are not published).
pub(super) fn declined(code: &'static str) -> ApiFailure {
    let status =
        if code == "ProcessingFailure" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::UNPROCESSABLE_ENTITY };
    ApiFailure::new(status, code, decline_description(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_names_every_decline_by_its_reason_code() {
        for decline in Decline::ALL {
            let card = Card::parse_control(decline.code()).unwrap();
            assert_eq!(card.authorize(true), Outcome::Declined(decline.code()));
            assert_eq!(declined(decline.code()).reason_code, decline.code());
        }
        assert_eq!(declined("ProcessingFailure").status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(declined("SoftDeclined").status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(Card::parse("SoftDeclined"), None, "not a wallet card");
        assert_eq!(Card::parse_control("expired").and_then(Card::non_chargeable), Some("PaymentMethodExpired"));
    }
}
