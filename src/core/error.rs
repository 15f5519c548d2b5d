//! The core's one error type; the HTTP layer turns it into answers at its edge.

use super::client::AmazonError;
use super::idempotency::KeyError;
use super::orders::InvalidMove;
use super::platform::PlatformError;
use super::random::NoRandomness;
use super::signer::SignError;

/// Why the core could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The cart platform failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Amazon Pay could not be reached or refused the call.
    #[error(transparent)]
    Amazon(#[from] AmazonError),
    /// A payload could not be signed.
    #[error(transparent)]
    Signing(#[from] SignError),
    /// The core asked for a move its own state table forbids: a bug, never input.
    #[error(transparent)]
    Move(#[from] InvalidMove),
    /// No idempotency key can be made (the installation's secret is unusable): nothing is asked
    /// of Amazon without one.
    #[error(transparent)]
    Idempotency(#[from] KeyError),
    /// The system's random source failed: no token could be made (nothing was asked of Amazon).
    #[error(transparent)]
    Random(#[from] NoRandomness),
}
