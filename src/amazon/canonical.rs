//! Amazon Pay's API request signature: the canonical request and the `authorization` header.
//!
//! Shared by the client (which signs) and the simulator (which verifies, as Amazon does), so the
//! two cannot disagree about the format; each side is also tested against the worked example in
//! Amazon's documentation and against requests signed the way the official SDKs sign them.

pub use super::signature::sha256_hex;

/// The canonical query string: parameters sorted, as sent (already URL-encoded), `&`-joined.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    pairs.join("&")
}

/// The canonical request. `headers` are the signed headers, lower-case names with their values
/// as sent, sorted by name; `path` is the raw path as sent (Amazon does not normalise it).
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body_sha256_hex: &str,
) -> String {
    let mut out = format!("{method}\n{path}\n{}\n", canonical_query(query));
    for (name, value) in headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers(headers));
    out.push('\n');
    out.push_str(body_sha256_hex);
    out
}

/// `accept;content-type;…`: the signed header names.
pub fn signed_headers(headers: &[(String, String)]) -> String {
    headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";")
}

/// The `authorization` header value.
pub fn authorization(algorithm: &str, public_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!("{algorithm} PublicKeyId={public_key_id}, SignedHeaders={signed_headers}, Signature={signature}")
}

/// The parts of an `authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// `AMZN-PAY-RSASSA-PSS` or `AMZN-PAY-RSASSA-PSS-V2`.
    pub algorithm: &'a str,
    /// The signer's public key ID.
    pub public_key_id: &'a str,
    /// The signed header names, lower case.
    pub signed_headers: Vec<&'a str>,
    /// Base64 signature.
    pub signature: &'a str,
}

/// Parses `<ALGORITHM> PublicKeyId=…, SignedHeaders=…, Signature=…`.
pub fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let (algorithm, rest) = value.split_once(' ')?;
    let mut public_key_id = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        match name {
            "PublicKeyId" => public_key_id = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            // Base64 may end in '=': everything after the first '=' is the value.
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    Some(Authorization {
        algorithm,
        public_key_id: public_key_id?,
        signed_headers: signed_headers?.split(';').collect(),
        signature: signature?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    /// Amazon's worked example (developer docs, "signing requests").
    #[test]
    fn the_documented_canonical_request_is_reproduced() {
        let headers = [
            header("accept", "application/json"),
            header("content-type", "application/json"),
            header("x-amz-pay-date", "20190923T231908Z"),
            header("x-amz-pay-host", "pay-api.amazon.com"),
            header("x-amz-pay-idempotency-key", "cllHyiNvS8cJ8Zas"),
            header("x-amz-pay-region", "us"),
        ];
        let expected = "POST\n/live/v2/checkoutSessions\n\n\
            accept:application/json\ncontent-type:application/json\n\
            x-amz-pay-date:20190923T231908Z\nx-amz-pay-host:pay-api.amazon.com\n\
            x-amz-pay-idempotency-key:cllHyiNvS8cJ8Zas\nx-amz-pay-region:us\n\n\
            accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-idempotency-key;x-amz-pay-region\n\
            0b6c19dc5bc1883ebd68d3c77ee929922c6b4a59e0a506d96c45e0c024c3295b";
        let body_hash = "0b6c19dc5bc1883ebd68d3c77ee929922c6b4a59e0a506d96c45e0c024c3295b";
        assert_eq!(canonical_request("POST", "/live/v2/checkoutSessions", "", &headers, body_hash), expected);
    }

    #[test]
    fn queries_are_sorted() {
        assert_eq!(canonical_query("b=2&a=1&c=%2F"), "a=1&b=2&c=%2F");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn authorization_headers_round_trip_and_garbage_is_refused() {
        let value = authorization("AMZN-PAY-RSASSA-PSS-V2", "SANDBOX-K", "accept;x-amz-pay-date", "YWJj==");
        let parsed = parse_authorization(&value).unwrap();
        assert_eq!(parsed.algorithm, "AMZN-PAY-RSASSA-PSS-V2");
        assert_eq!(parsed.public_key_id, "SANDBOX-K");
        assert_eq!(parsed.signed_headers, ["accept", "x-amz-pay-date"]);
        assert_eq!(parsed.signature, "YWJj==");
        for bad in [
            "",
            "Bearer x",
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K",
            "A PublicKeyId=K, Other=1, SignedHeaders=a, Signature=s",
        ] {
            assert!(parse_authorization(bad).is_none(), "{bad}");
        }
    }
}
