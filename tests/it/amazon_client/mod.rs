//! The shop's Amazon Pay client against the simulator: calls, errors, retries, signing, tampering.

mod calls;
mod errors;
mod retries;
mod signing;
mod tampering;
