//! Random tokens and bytes from the system's random source, as a `Result`: a source that fails is
//! reported as [`NoRandomness`] (a 503 at the HTTP edge, a refused start for what a server needs
//! at start), never a panic inside a request and never a predictable value.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::amazon::signature::hex;

/// Random bytes in a token: 128 bits, as many as a UUID carries.
pub const TOKEN_BYTES: usize = 16;

/// The random source failed: nothing that must be unguessable or unique can be made now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the system's random source failed")]
pub struct NoRandomness;

/// A source of random bytes that can fail (the system's, or a test's).
pub trait Randomness: Send + Sync {
    /// Fills `bytes`, or fails; never leaves them zero and says it worked.
    fn fill(&self, bytes: &mut [u8]) -> Result<(), NoRandomness>;
}

impl Randomness for SystemRandom {
    fn fill(&self, bytes: &mut [u8]) -> Result<(), NoRandomness> {
        SecureRandom::fill(self, bytes).map_err(|_| NoRandomness)
    }
}

/// Fills `bytes` from the system's random source.
pub fn fill(bytes: &mut [u8]) -> Result<(), NoRandomness> {
    Randomness::fill(&SystemRandom::new(), bytes)
}

/// A random token from the system's source: [`TOKEN_BYTES`] bytes, lower-case hex (32
/// characters, within Amazon's idempotency-key alphabet and URL-safe).
pub fn random_token() -> Result<String, NoRandomness> {
    random_token_from(&SystemRandom::new())
}

/// A random token from `randomness` (see [`random_token`]).
pub fn random_token_from(randomness: &dyn Randomness) -> Result<String, NoRandomness> {
    let mut bytes = [0u8; TOKEN_BYTES];
    randomness.fill(&mut bytes)?;
    Ok(hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that always fails.
    pub(crate) struct Broken;

    impl Randomness for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), NoRandomness> {
            Err(NoRandomness)
        }
    }

    #[test]
    fn a_failing_source_is_an_error_never_a_token() {
        assert_eq!(random_token_from(&Broken), Err(NoRandomness));
    }

    #[test]
    fn tokens_are_32_hex_characters_and_differ() {
        let (one, two) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(one.len(), 32);
        assert!(one.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{one}");
        assert_ne!(one, two);
    }
}
