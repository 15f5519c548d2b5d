//! Amazon's payment objects, as the simulator keeps them: checkout sessions, charge permissions
//! charges and refunds, with the rules Amazon applies to them in Japan.
//!
//! Everything here is plain data and rules; the HTTP side is in `payments.rs` (the API) and
//! `hosted.rs` (the buyer's pages). Every use of the ledger first *sweeps* it at the simulator
//! clock, so that lifetimes (24 h sessions, 30-day authorizations, 180-day one-time permissions) and
//! the Japanese calendar month of the recurring cap all follow `Simulator::now()`.

// Split by concern so each part reads on its own: `objects` and `cards` are the data, `rules`
// and `details` check what the merchant sends, `ledger` owns the state and the checkout's
// transitions, `operations` what the merchant does after the order, `clock` what time does,
// `views` renders Amazon's JSON. Only what the API and the hosted pages use is re-exported.
mod cards;
mod clock;
mod details;
mod ledger;
mod objects;
mod operations;
mod rules;
mod views;

pub(super) use cards::{Card, Outcome};
pub(super) use details::Details;
pub(super) use ledger::{Change, ChangeKind, ChangedObject, Ledger};
pub(super) use objects::{Environment, Owner, ProductType, Session, SessionState};
pub(super) use operations::Settlement;
pub(super) use rules::{Rules, parse_body};
pub(super) use views::{View, get_buyer_json};
