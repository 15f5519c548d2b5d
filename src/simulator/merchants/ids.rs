//! New IDs in Amazon's formats (see the module above for where each comes from), and the checks
//! on IDs a test chooses itself.

use super::Refusal;
use crate::simulator::Simulator;

const UPPER_ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_HEX: &[u8] = b"0123456789abcdef";
/// The prefix of every Store ID (Login with Amazon's application IDs).
const STORE_PREFIX: &str = "amzn1.application-oa2-client.";

/// `n` (at most 32) random characters of `alphabet` (IDs, not secrets: the small bias of `%` does
/// not matter).
fn random(simulator: &Simulator, alphabet: &[u8], n: usize) -> String {
    simulator
        .random_bytes::<32>()
        .iter()
        .take(n)
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect()
}

/// `A` and 13 upper-case letters and digits.
pub(super) fn merchant_id(simulator: &Simulator) -> String {
    format!("A{}", random(simulator, UPPER_ALPHANUMERIC, 13))
}

/// `amzn1.application-oa2-client.` and 32 lower-case hex digits.
pub(super) fn store_id(simulator: &Simulator) -> String {
    format!("{STORE_PREFIX}{}", random(simulator, LOWER_HEX, 32))
}

/// `SANDBOX-` or `LIVE-`, then `A` and 23 upper-case letters and digits.
pub(super) fn public_key_id(simulator: &Simulator, sandbox: bool) -> String {
    let prefix = if sandbox { "SANDBOX" } else { "LIVE" };
    format!("{prefix}-A{}", random(simulator, UPPER_ALPHANUMERIC, 23))
}

/// A merchant ID a test chose: upper-case letters and digits, as every 出品者ID Amazon shows is
/// (the project's onboarding accepts no other).
pub(super) fn check_merchant_id(id: &str) -> Result<(), Refusal> {
    let valid = (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(Refusal::Malformed(format!(
            "merchantId '{}' must be 1 to 32 upper-case letters and digits.",
            id.chars().take(40).collect::<String>()
        )))
    }
}

/// A Store ID a test chose: Amazon's prefix, then letters, digits, `.`, `-` or `_` (tests use
/// readable IDs such as `…client.simulatortest000…`).
pub(super) fn check_store_id(id: &str) -> Result<(), Refusal> {
    let rest = id.strip_prefix(STORE_PREFIX).unwrap_or_default();
    let valid =
        !rest.is_empty() && id.len() <= 100 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(Refusal::Malformed(format!(
            "storeId '{}' must be {STORE_PREFIX} followed by letters and digits.",
            id.chars().take(110).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_ids_must_have_amazons_shape() {
        assert!(check_merchant_id("A1SIMULATORTEST").is_ok());
        assert!(check_store_id("amzn1.application-oa2-client.simulatortest000000000000000").is_ok());
        for bad in ["", "a1lower", "A1 SPACE", "A1<script>", &"A".repeat(33)] {
            assert!(check_merchant_id(bad).is_err(), "{bad}");
        }
        for bad in [
            "amzn1.application-oa2-client.",
            "store-1",
            "amzn1.application-oa2-client.a/b",
            "amzn1.application-oa2-client.<x>",
        ] {
            assert!(check_store_id(bad).is_err(), "{bad}");
        }
    }
}
