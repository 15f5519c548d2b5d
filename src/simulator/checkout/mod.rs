//! Amazon's payment objects, as the simulator keeps them: checkout sessions, charge permissions
//! and charges, with the rules Amazon applies to them in Japan (reference §3, §5, §7).
//!
//! Everything here is plain data and rules; the HTTP side is in `payments.rs` (the API) and
//! `hosted.rs` (the buyer's pages). Every read first *settles* an object at the simulator clock,
//! so that lifetimes (24 h sessions, 30-day authorizations, 180-day one-time permissions) and
//! the Japanese calendar month of the recurring cap all follow `Simulator::now()`.

// Split by concern so each part reads on its own: `objects` and `cards` are the data, `rules`
// and `details` check what the merchant sends, `ledger` owns the state and its transitions,
// `views` renders Amazon's JSON. Only what the API and the hosted pages use is re-exported.
mod cards;
mod details;
mod ledger;
mod objects;
mod rules;
mod views;

pub(super) use cards::{Card, Outcome};
pub(super) use details::Details;
pub(super) use ledger::Ledger;
pub(super) use objects::{Environment, ProductType, Session, SessionState};
pub(super) use rules::{Rules, parse_body};
pub(super) use views::View;
