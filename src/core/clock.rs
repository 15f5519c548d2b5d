//! Where the core's short-lived bookkeeping (the notifications' read budget, the owner's view of
//! Amazon) takes its time from: the monotonic clock, or a test's that moves only when told.

use std::time::Instant;

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The process's monotonic clock.
pub struct Monotonic;

impl Clock for Monotonic {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
