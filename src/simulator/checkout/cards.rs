//! The test cards in every test buyer's wallet, and what authorizing each one gives.

/// The payment methods in every test buyer's wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Card {
    /// `Visa ****1111`: authorizes.
    Visa,
    /// `Mastercard ****4444`: declines (`HardDeclined`).
    Mastercard,
    /// `JCB ****0000`: goes pending when the merchant can handle it, otherwise declines
    /// (`ProcessingFailure`).
    Jcb,
}

/// What an authorization attempt gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::simulator) enum Outcome {
    Authorized,
    Pending,
    Declined(&'static str),
}

impl Card {
    pub(in crate::simulator) const ALL: [Card; 3] = [Card::Visa, Card::Mastercard, Card::Jcb];

    /// The form value on the hosted pages.
    pub(in crate::simulator) fn key(self) -> &'static str {
        match self {
            Card::Visa => "visa",
            Card::Mastercard => "mastercard",
            Card::Jcb => "jcb",
        }
    }

    /// `paymentPreferences[].paymentDescriptor`.
    pub(in crate::simulator) fn descriptor(self) -> &'static str {
        match self {
            Card::Visa => "Visa ****1111",
            Card::Mastercard => "Mastercard ****4444",
            Card::Jcb => "JCB ****0000",
        }
    }

    /// What the hosted pages say the card does.
    pub(in crate::simulator) fn behaviour(self) -> &'static str {
        match self {
            Card::Visa => "承認されます",
            Card::Mastercard => "拒否されます (HardDeclined)",
            Card::Jcb => "保留になります (canHandlePendingAuthorization: true のとき。それ以外は拒否)",
        }
    }

    /// A card by its form value (`visa`, `mastercard`, `jcb`) or its test-control name
    /// (`visa`, `decline`, `pending`).
    pub(in crate::simulator) fn parse(value: &str) -> Option<Card> {
        match value {
            "visa" => Some(Card::Visa),
            "mastercard" | "decline" => Some(Card::Mastercard),
            "jcb" | "pending" => Some(Card::Jcb),
            _ => None,
        }
    }

    /// The authorization outcome for this card.
    pub(in crate::simulator) fn authorize(self, can_handle_pending: bool) -> Outcome {
        match self {
            Card::Visa => Outcome::Authorized,
            Card::Mastercard => Outcome::Declined("HardDeclined"),
            Card::Jcb if can_handle_pending => Outcome::Pending,
            Card::Jcb => Outcome::Declined("ProcessingFailure"),
        }
    }
}

pub(super) fn decline_description(code: &str) -> &'static str {
    match code {
        "HardDeclined" => {
            "The payment method was declined. Retrying will not succeed; ask the buyer for another payment method."
        }
        _ => {
            "The authorization could not be processed synchronously and the merchant cannot handle pending authorizations."
        }
    }
}
