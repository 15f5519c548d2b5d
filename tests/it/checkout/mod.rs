//! Checkout from the click to the order: the button's payload, orders, returns, subscriptions.

mod button;
mod orders;
mod returns;
mod subscriptions;
