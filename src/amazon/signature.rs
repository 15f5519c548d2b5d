//! The strings Amazon Pay signatures are made over.
//!
//! Every signature, of a button payload or of an API request, is RSASSA-PSS over
//! `"<ALGORITHM>\n" + hex(sha256(text))`: for a button the text is `payloadJSON` exactly as sent,
//! for an API call it is the canonical request ([`super::canonical`]).

use aws_lc_rs::digest::{SHA256, digest};

/// `"<algorithm>\n" + hex(sha256(text))`: what is signed, and what Amazon rebuilds to verify.
pub fn string_to_sign(algorithm: &str, text: &str) -> String {
    format!("{algorithm}\n{}", sha256_hex(text.as_bytes()))
}

/// `hex(sha256(bytes))`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest(&SHA256, bytes).as_ref())
}

/// Lower-case hex, as Amazon's strings to sign use.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_sign_is_algorithm_newline_hex_sha256() {
        assert_eq!(
            string_to_sign("AMZN-PAY-RSASSA-PSS-V2", "abc"),
            "AMZN-PAY-RSASSA-PSS-V2\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
