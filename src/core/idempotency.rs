//! Idempotency keys Amazon accepts, the same for the same operation across retries, restarts and a
//! restored database, and never the same for two installations.
//!
//! Amazon's rules (its API reference, "Idempotency"): `x-amz-pay-idempotency-key` has at most 32
//! characters of `a-z A-Z 0-9 - _`; Amazon keeps every key **indefinitely, per merchant account**;
//! a repeat with the same key and body is answered with **the saved response of the first
//! request**, a repeat with another body with `DuplicateIdempotencyKey`.
//!
//! So a key is the operation's identity, authenticated with a secret of this installation:
//! base64url of HMAC-SHA256(secret, identity) cut to 24 bytes, 32 characters of exactly Amazon's
//! alphabet. The identity holds only what names the operation at Amazon (the charge, the checkout
//! session, the charge permission and cycle, an amount, a count the shop keeps), never a clock
//! or a random value: a retry, a rerun of a job, or the same operation after the database was
//! restored from a backup gets the same key, and Amazon answers it with its first response (the
//! object made then is found, not a second one made). The secret is made once, from the system's
//! random source, and kept with the orders (a restore brings it back with them); a second
//! installation on the same merchant account has its own, so the two never share a key.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::Date;

use super::random::random_token_from;
pub use super::random::{NoRandomness, Randomness};

/// The longest key Amazon takes.
pub const MAX_KEY_LENGTH: usize = 32;

/// Bytes of the MAC kept: 24 bytes are exactly 32 base64url characters (192 bits).
const MAC_BYTES: usize = 24;

/// The shortest secret accepted.
pub const MIN_SECRET_BYTES: usize = 32;

/// Separates these MACs from any other use of the secret.
const DOMAIN: &[u8] = b"amazonpay2 idempotency key v1";

/// An operation that creates something at Amazon, named by what makes it that operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyed<'a> {
    /// Completing one checkout session (done once).
    Completion {
        /// Amazon's checkout session.
        checkout_session_id: &'a str,
    },
    /// Capturing `amount` of one charge (a charge is captured once).
    Capture {
        /// Amazon's charge.
        charge_id: &'a str,
        /// Yen.
        amount: u64,
    },
    /// The shop's `ordinal`-th refund request for one charge (1 for the first). The amount is
    /// left out on purpose: the same refund asked for again with another amount (after its answer
    /// was lost, or after a restore) gets Amazon's `DuplicateIdempotencyKey`, not a second refund.
    Refund {
        /// Amazon's charge.
        charge_id: &'a str,
        /// How many of the order's refund requests Amazon has answered for good (made or refused:
        /// [`crate::core::platform::Order::refund_requests`]), plus one. A request Amazon refused
        /// moves it on, since Amazon keeps the key with its refusal and would answer every later
        /// refund with it; a lost answer does not, so that asking again repeats the key.
        ordinal: u32,
    },
    /// The `attempt`-th authorization of `amount` that replaces the lapsed authorization
    /// `replaced`, asked for with the order at `version` (each lapsed authorization is replaced
    /// once; a try Amazon declined moves the order's version on, so that the buyer's next card
    /// is asked with a new request rather than answered with the saved decline).
    Reauthorization {
        /// The lapsed charge (or the order, when it had none).
        replaced: &'a str,
        /// Yen.
        amount: u64,
        /// The order's version when asked.
        version: i64,
        /// 1, then 2 for the one retry Amazon allows after `SoftDeclined`/`ProcessingFailure`.
        attempt: u32,
    },
    /// The `attempt`-th charge of one subscription cycle.
    Cycle {
        /// Amazon's recurring charge permission.
        charge_permission_id: &'a str,
        /// The cycle's date.
        date: Date,
        /// 1, then 2 for the one retry Amazon allows after `SoftDeclined`/`ProcessingFailure`.
        attempt: u32,
    },
}

impl Keyed<'_> {
    /// The identity: a tag and length-prefixed fields, so that no two operations share one.
    fn identity(&self) -> Vec<u8> {
        let (tag, fields): (&str, Vec<String>) = match *self {
            Keyed::Completion { checkout_session_id } => ("complete", vec![checkout_session_id.to_owned()]),
            Keyed::Capture { charge_id, amount } => ("capture", vec![charge_id.to_owned(), amount.to_string()]),
            Keyed::Refund { charge_id, ordinal } => ("refund", vec![charge_id.to_owned(), ordinal.to_string()]),
            Keyed::Reauthorization { replaced, amount, version, attempt } => {
                ("reauthorize", vec![replaced.to_owned(), amount.to_string(), version.to_string(), attempt.to_string()])
            }
            Keyed::Cycle { charge_permission_id, date, attempt } => {
                ("cycle", vec![charge_permission_id.to_owned(), date.to_string(), attempt.to_string()])
            }
        };
        let mut identity = Vec::with_capacity(64);
        for part in std::iter::once(tag).chain(fields.iter().map(String::as_str)) {
            identity.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            identity.extend_from_slice(part.as_bytes());
        }
        identity
    }
}

/// A key Amazon accepts: 1 to 32 characters of `a-z A-Z 0-9 - _`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `key`, if Amazon accepts it.
    pub fn parse(key: &str) -> Option<Self> {
        is_valid(key).then(|| Self(key.to_owned()))
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Amazon's rule for `x-amz-pay-idempotency-key`.
pub fn is_valid(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LENGTH
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why no keys can be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The installation's secret is too short, or all zeros (what a failed random source leaves).
    #[error("the idempotency secret is unusable (shorter than {MIN_SECRET_BYTES} bytes, or all zeros)")]
    WeakSecret,
    /// The system's random source failed: no random key can be made.
    #[error("the system random source failed")]
    NoRandomness,
}

/// The keys of one installation.
pub struct IdempotencyKeys {
    mac: hmac::Key,
}

impl IdempotencyKeys {
    /// Keys from the installation's `secret` (at least 32 bytes, not all zeros).
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_BYTES || secret.iter().all(|b| *b == 0) {
            return Err(KeyError::WeakSecret);
        }
        Ok(Self { mac: hmac::Key::new(hmac::HMAC_SHA256, secret) })
    }

    /// The key of `operation`.
    pub fn key(&self, operation: &Keyed<'_>) -> IdempotencyKey {
        let mut context = hmac::Context::with_key(&self.mac);
        context.update(DOMAIN);
        context.update(&operation.identity());
        let tag = context.sign();
        IdempotencyKey(URL_SAFE_NO_PAD.encode(&tag.as_ref()[..MAC_BYTES]))
    }
}

/// A random key (a UUID's 128 bits, hex: 32 characters), for a POST that names no operation.
pub fn random_key(randomness: &dyn Randomness) -> Result<IdempotencyKey, KeyError> {
    let token = random_token_from(randomness).map_err(|_| KeyError::NoRandomness)?;
    Ok(IdempotencyKey(token))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn every_operation() -> Vec<Keyed<'static>> {
        let charge = "S03-1234567-1234567-C123456";
        vec![
            Keyed::Completion { checkout_session_id: "e9fd9f0b-4a2c-4bd4-9ab4-7bc3f1f0c6d1" },
            Keyed::Capture { charge_id: charge, amount: 3_630 },
            Keyed::Capture { charge_id: charge, amount: 3_629 },
            Keyed::Refund { charge_id: charge, ordinal: 1 },
            Keyed::Refund { charge_id: charge, ordinal: 2 },
            Keyed::Reauthorization { replaced: charge, amount: 3_630, version: 4, attempt: 1 },
            Keyed::Reauthorization { replaced: charge, amount: 3_630, version: 4, attempt: 2 },
            Keyed::Reauthorization { replaced: charge, amount: 3_630, version: 5, attempt: 1 },
            Keyed::Cycle { charge_permission_id: "S03-1234567-1234567", date: date!(2026 - 12 - 01), attempt: 1 },
            Keyed::Cycle { charge_permission_id: "S03-1234567-1234567", date: date!(2027 - 01 - 01), attempt: 1 },
        ]
    }

    #[test]
    fn every_key_is_32_characters_of_amazons_alphabet() {
        let keys = IdempotencyKeys::new(&[7u8; 32]).unwrap();
        for operation in every_operation() {
            let key = keys.key(&operation);
            assert_eq!(key.as_str().len(), MAX_KEY_LENGTH, "{operation:?}");
            assert!(is_valid(key.as_str()), "{key}");
        }
    }

    #[test]
    fn the_same_operation_gets_the_same_key_and_every_other_one_another() {
        let keys = IdempotencyKeys::new(&[7u8; 32]).unwrap();
        let again = IdempotencyKeys::new(&[7u8; 32]).unwrap();
        let all: Vec<IdempotencyKey> = every_operation().iter().map(|op| keys.key(op)).collect();
        for (op, key) in every_operation().iter().zip(&all) {
            assert_eq!(&again.key(op), key, "stable for {op:?}");
        }
        let distinct: std::collections::HashSet<&IdempotencyKey> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
    }

    #[test]
    fn two_installations_never_share_a_key() {
        let one = IdempotencyKeys::new(&[1u8; 32]).unwrap();
        let two = IdempotencyKeys::new(&[2u8; 32]).unwrap();
        for operation in every_operation() {
            assert_ne!(one.key(&operation), two.key(&operation));
        }
    }

    #[test]
    fn a_short_or_zero_secret_is_refused() {
        assert_eq!(IdempotencyKeys::new(&[1u8; 31]).err(), Some(KeyError::WeakSecret));
        assert_eq!(IdempotencyKeys::new(&[0u8; 32]).err(), Some(KeyError::WeakSecret));
    }

    struct Broken;
    impl Randomness for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), NoRandomness> {
            Err(NoRandomness)
        }
    }

    #[test]
    fn a_failing_random_source_is_an_error_never_a_zero_key() {
        assert_eq!(random_key(&Broken), Err(KeyError::NoRandomness));
        let key = random_key(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        assert!(is_valid(key.as_str()) && key.as_str().len() == 32, "{key}");
    }

    #[test]
    fn amazons_rule_refuses_what_amazon_refuses() {
        assert!(is_valid("AVLo5tI10BHgEk2jEXAMPLEKEY"), "Amazon's own example");
        assert!(is_valid(&"a".repeat(32)));
        for bad in ["", &"a".repeat(33), "capture-10001-S03-1234567-1234567-C123456", "a b", "a.b", "a+b", "キー"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
