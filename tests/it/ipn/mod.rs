//! Amazon's notifications (IPN): the SNS envelope, the endpoint, delivery and retries.

mod delivery;
mod endpoint;
mod envelope;
