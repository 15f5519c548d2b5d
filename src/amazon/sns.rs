//! Amazon Pay's instant payment notifications (IPN) on the wire: Amazon SNS HTTP notifications.
//!
//! Amazon Pay posts each IPN to the merchant's endpoint as an SNS envelope (`Content-Type:
//! text/plain`), a JSON object whose `Message` member is itself a JSON string: Amazon's
//! notification (`MerchantID`, `ObjectType`, `ObjectId`, `ChargePermissionId`,
//! `NotificationType`, `NotificationId`, `NotificationVersion`). The envelope carries no state;
//! the receiver must ask the API (getCharge, getRefund, getChargePermission) what changed.
//!
//! What is checked, as Amazon's and AWS's own validators check it:
//! - the envelope: at most [`MAX_ENVELOPE_BYTES`], every known member a string, no member twice
//!   (the Lambda spellings `SigningCertUrl` / `UnsubscribeUrl` are accepted for
//!   `SigningCertURL` / `UnsubscribeURL`, but not both spellings at once), and the members its
//!   `Type` requires;
//! - the certificate URL ([`check_cert_url`]): https, a path ending in `.pem`, and a host
//!   `sns.<region>.amazonaws.com` (or `.com.cn`): never S3 or any other host a sender could
//!   control, unless the caller names extra origins (the simulator's);
//! - the certificate ([`SigningCertificate::check`]): its subject is `CN=sns.amazonaws.com` (as
//!   Amazon Pay's own IPN handler, `AmazonPay\IpnHandler` of its PHP SDK, requires) and it chains
//!   to a root of the web's trust store (webpki-roots) within every certificate's validity, as
//!   AWS asks ("check that the certificate is issued by Amazon SNS; confirm that the certificate's
//!   chain of trust is valid"); a test origin the caller allows may bring its own root instead;
//! - the signature ([`Envelope::verify`]): RSA PKCS#1 v1.5 over the canonical string of
//!   [`Envelope::string_to_sign`], with SHA-1 for `SignatureVersion` "1" and SHA-256 for "2";
//!   any other version is refused.
//!
//! Nothing here fetches anything: the caller checks the URL, fetches the certificate itself
//! (size-capped), and hands its PEM to [`Envelope::verify`]. Every function answers a
//! [`SnsError`] for bad input and never panics (a cargo-fuzz target, `tests/fuzz`, holds it to
//! that).

use std::fmt;

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;
use x509_cert::Certificate;
use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::oid::db::rfc4519::COMMON_NAME;
use x509_cert::der::oid::db::rfc5280::ID_AD_CA_ISSUERS;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, BasicConstraints};

/// The largest envelope read. An Amazon Pay IPN envelope is about 1.5 KB; 64 KiB leaves room for
/// any SNS field Amazon may add while keeping a hostile sender from making the receiver parse
/// megabytes.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// The largest signing certificate read (PEM). SNS certificates are about 2 KB.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// `rsaEncryption`: the only key type SNS signs with.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why an envelope, its certificate or its message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// More than [`MAX_ENVELOPE_BYTES`].
    #[error("the notification is larger than {MAX_ENVELOPE_BYTES} bytes")]
    TooLarge,
    /// Not UTF-8 JSON, not an object, a member of the wrong type, or a member twice.
    #[error("the notification is not an SNS envelope: {0}")]
    Malformed(String),
    /// A `Type` other than `Notification`, `SubscriptionConfirmation`, `UnsubscribeConfirmation`.
    #[error("unknown SNS message Type '{0}'")]
    UnknownType(String),
    /// A member the envelope's `Type` requires is absent.
    #[error("the SNS envelope lacks {0}")]
    MissingField(&'static str),
    /// The certificate URL is not https, not a `.pem`, or not on an SNS host (or an extra
    /// origin the caller allowed).
    #[error("SigningCertURL is not an allowed SNS certificate URL: {0}")]
    CertUrlNotAllowed(String),
    /// `SignatureVersion` other than "1" or "2".
    #[error("SignatureVersion '{0}' is not supported (only 1 and 2)")]
    UnsupportedSignatureVersion(String),
    /// `Signature` is not base64.
    #[error("the Signature is not base64")]
    SignatureEncoding,
    /// The certificate is not a PEM X.509 certificate with an RSA key of at least 2048 bits.
    #[error("the signing certificate is unusable: {0}")]
    Certificate(String),
    /// The certificate is not valid at the time of verification.
    #[error("the signing certificate is not valid at this time")]
    CertificateNotValidNow,
    /// The certificate is not SNS's: its subject is not `CN=sns.amazonaws.com`, or its chain
    /// does not verify (a bad issuer signature, a certificate out of its validity, an issuer that
    /// is no CA).
    #[error("the signing certificate is not Amazon SNS's: {0}")]
    UntrustedCertificate(String),
    /// No chain from the certificate to a trusted root with the certificates at hand: its issuer
    /// may still be fetched ([`SigningCertificate::issuer_urls`]).
    #[error("the signing certificate's issuer is not known")]
    UnknownIssuer,
    /// The signature does not verify with the certificate's key.
    #[error("the signature does not verify")]
    BadSignature,
    /// The inner Amazon Pay message is not what Amazon sends.
    #[error("the Amazon Pay message is malformed: {0}")]
    Message(String),
}

/// `Type`: what the envelope is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// A published message: every Amazon Pay IPN.
    Notification,
    /// SNS asks the endpoint to confirm a subscription (visit `SubscribeURL`).
    SubscriptionConfirmation,
    /// SNS confirms an unsubscription.
    UnsubscribeConfirmation,
}

impl MessageType {
    /// The `Type` value (also the `x-amz-sns-message-type` header).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Notification => "Notification",
            MessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            MessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    fn parse(value: &str) -> Result<Self, SnsError> {
        match value {
            "Notification" => Ok(MessageType::Notification),
            "SubscriptionConfirmation" => Ok(MessageType::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Ok(MessageType::UnsubscribeConfirmation),
            other => Err(SnsError::UnknownType(other.chars().take(64).collect())),
        }
    }
}

/// `SignatureVersion`: which hash the RSA PKCS#1 v1.5 signature uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureVersion {
    /// "1": SHA1withRSA. What Amazon Pay's IPNs have used; WooCommerce's official plugin accepts
    /// only this version.
    V1,
    /// "2": SHA256withRSA.
    V2,
}

impl SignatureVersion {
    /// `"1"` or `"2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V1 => "1",
            SignatureVersion::V2 => "2",
        }
    }

    /// The version a `SignatureVersion` value names; anything but "1" and "2" is refused.
    pub fn parse(value: &str) -> Result<Self, SnsError> {
        match value {
            "1" => Ok(SignatureVersion::V1),
            "2" => Ok(SignatureVersion::V2),
            other => Err(SnsError::UnsupportedSignatureVersion(other.chars().take(16).collect())),
        }
    }
}

/// An SNS HTTP envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `Type`.
    pub kind: MessageType,
    /// `MessageId`: SNS's ID of this publication (a retry of the same delivery keeps it).
    pub message_id: String,
    /// `TopicArn`.
    pub topic_arn: String,
    /// `Subject`, rarely present.
    pub subject: Option<String>,
    /// `Message`: for an IPN, Amazon's notification as a JSON string ([`Envelope::ipn`]).
    pub message: String,
    /// `Timestamp`: ISO 8601 with milliseconds, e.g. `2024-05-02T00:54:06.655Z`.
    pub timestamp: String,
    /// `SignatureVersion` as sent; [`Envelope::verify`] accepts "1" and "2" only.
    pub signature_version: String,
    /// `Signature`: base64.
    pub signature: String,
    /// `SigningCertURL` (or the Lambda spelling `SigningCertUrl`).
    pub signing_cert_url: String,
    /// `UnsubscribeURL` (or `UnsubscribeUrl`): notifications only.
    pub unsubscribe_url: Option<String>,
    /// `SubscribeURL`: subscription and unsubscription confirmations only.
    pub subscribe_url: Option<String>,
    /// `Token`: subscription and unsubscription confirmations only.
    pub token: Option<String>,
}

/// The envelope's members as they arrive: each a string when present, none twice.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "MessageId")]
    message_id: Option<String>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<String>,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "Timestamp")]
    timestamp: Option<String>,
    #[serde(rename = "SignatureVersion")]
    signature_version: Option<String>,
    #[serde(rename = "Signature")]
    signature: Option<String>,
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    signing_cert_url: Option<String>,
    #[serde(rename = "UnsubscribeURL", alias = "UnsubscribeUrl")]
    unsubscribe_url: Option<String>,
    #[serde(rename = "SubscribeURL", alias = "SubscribeUrl")]
    subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
}

/// The envelope as SNS writes it, members in SNS's order.
#[derive(Serialize)]
struct WireOut<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "Token", skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(rename = "TopicArn")]
    topic_arn: &'a str,
    #[serde(rename = "Subject", skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(rename = "Message")]
    message: &'a str,
    #[serde(rename = "SubscribeURL", skip_serializing_if = "Option::is_none")]
    subscribe_url: Option<&'a str>,
    #[serde(rename = "Timestamp")]
    timestamp: &'a str,
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "Signature")]
    signature: &'a str,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: &'a str,
    #[serde(rename = "UnsubscribeURL", skip_serializing_if = "Option::is_none")]
    unsubscribe_url: Option<&'a str>,
}

impl Envelope {
    /// Parses an envelope from the request body: at most [`MAX_ENVELOPE_BYTES`], UTF-8 JSON, the
    /// members its `Type` requires present, every known member a string.
    pub fn parse(body: &[u8]) -> Result<Self, SnsError> {
        if body.len() > MAX_ENVELOPE_BYTES {
            return Err(SnsError::TooLarge);
        }
        let wire: Wire = serde_json::from_slice(body).map_err(|e| SnsError::Malformed(e.to_string()))?;
        let kind = MessageType::parse(&wire.kind.ok_or(SnsError::MissingField("Type"))?)?;
        let required = |value: Option<String>, name: &'static str| value.ok_or(SnsError::MissingField(name));
        let envelope = Envelope {
            kind,
            message_id: required(wire.message_id, "MessageId")?,
            topic_arn: required(wire.topic_arn, "TopicArn")?,
            subject: wire.subject,
            message: required(wire.message, "Message")?,
            timestamp: required(wire.timestamp, "Timestamp")?,
            signature_version: required(wire.signature_version, "SignatureVersion")?,
            signature: required(wire.signature, "Signature")?,
            signing_cert_url: required(wire.signing_cert_url, "SigningCertURL")?,
            unsubscribe_url: wire.unsubscribe_url,
            subscribe_url: wire.subscribe_url,
            token: wire.token,
        };
        if kind != MessageType::Notification {
            if envelope.subscribe_url.is_none() {
                return Err(SnsError::MissingField("SubscribeURL"));
            }
            if envelope.token.is_none() {
                return Err(SnsError::MissingField("Token"));
            }
        }
        Ok(envelope)
    }

    /// The string SNS signs: for each member in the fixed order below that the `Type` signs and
    /// the envelope has, `"<Name>\n<value>\n"`.
    /// - Notification: `Message`, `MessageId`, `Subject` (if present), `Timestamp`, `TopicArn`,
    ///   `Type`;
    /// - SubscriptionConfirmation and UnsubscribeConfirmation: `Message`, `MessageId`,
    ///   `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`.
    ///
    /// `SigningCertURL` and `UnsubscribeURL` are not signed: never trust them beyond
    /// [`check_cert_url`].
    pub fn string_to_sign(&self) -> String {
        let fields: Vec<(&str, Option<&str>)> = match self.kind {
            MessageType::Notification => vec![
                ("Message", Some(&self.message)),
                ("MessageId", Some(&self.message_id)),
                ("Subject", self.subject.as_deref()),
                ("Timestamp", Some(&self.timestamp)),
                ("TopicArn", Some(&self.topic_arn)),
                ("Type", Some(self.kind.as_str())),
            ],
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => vec![
                ("Message", Some(&self.message)),
                ("MessageId", Some(&self.message_id)),
                ("SubscribeURL", self.subscribe_url.as_deref()),
                ("Timestamp", Some(&self.timestamp)),
                ("Token", self.token.as_deref()),
                ("TopicArn", Some(&self.topic_arn)),
                ("Type", Some(self.kind.as_str())),
            ],
        };
        let mut out = String::new();
        for (name, value) in fields {
            if let Some(value) = value {
                out.push_str(name);
                out.push('\n');
                out.push_str(value);
                out.push('\n');
            }
        }
        out
    }

    /// Verifies the signature with the certificate (PEM) that `SigningCertURL` named, at the
    /// current time. The caller must have checked that URL with [`check_cert_url`] before
    /// fetching it.
    pub fn verify(&self, certificate_pem: &[u8]) -> Result<(), SnsError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        self.verify_at(certificate_pem, now)
    }

    /// [`Envelope::verify`] at `now` (Unix seconds), for the certificate's validity period.
    pub fn verify_at(&self, certificate_pem: &[u8], now: u64) -> Result<(), SnsError> {
        let version = SignatureVersion::parse(&self.signature_version)?;
        let signature = BASE64.decode(self.signature.trim()).map_err(|_| SnsError::SignatureEncoding)?;
        let key = public_key(certificate_pem, now)?;
        let algorithm = match version {
            SignatureVersion::V1 => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            SignatureVersion::V2 => &RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(algorithm, key)
            .verify(self.string_to_sign().as_bytes(), &signature)
            .map_err(|_| SnsError::BadSignature)
    }

    /// The Amazon Pay notification in `Message`.
    pub fn ipn(&self) -> Result<IpnMessage, SnsError> {
        IpnMessage::parse(&self.message)
    }

    /// The envelope as SNS sends it (JSON, members in SNS's order).
    pub fn to_json(&self) -> String {
        let wire = WireOut {
            kind: self.kind.as_str(),
            message_id: &self.message_id,
            token: self.token.as_deref(),
            topic_arn: &self.topic_arn,
            subject: self.subject.as_deref(),
            message: &self.message,
            subscribe_url: self.subscribe_url.as_deref(),
            timestamp: &self.timestamp,
            signature_version: &self.signature_version,
            signature: &self.signature,
            signing_cert_url: &self.signing_cert_url,
            unsubscribe_url: self.unsubscribe_url.as_deref(),
        };
        // Only strings: serialization cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

/// The RSA public key (PKCS#1 DER) of the first certificate of a PEM, valid at `now`.
fn public_key(pem: &[u8], now: u64) -> Result<Vec<u8>, SnsError> {
    if pem.len() > MAX_CERTIFICATE_BYTES {
        return Err(SnsError::Certificate(format!("larger than {MAX_CERTIFICATE_BYTES} bytes")));
    }
    // The first certificate of the PEM signs; any others are its issuers.
    let certificate = pem_certificates(pem)?.swap_remove(0);
    let tbs = &certificate.tbs_certificate;
    let not_before = tbs.validity.not_before.to_unix_duration().as_secs();
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
    if now < not_before || now > not_after {
        return Err(SnsError::CertificateNotValidNow);
    }
    let info = &tbs.subject_public_key_info;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return Err(SnsError::Certificate("the key is not RSA".into()));
    }
    info.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| SnsError::Certificate("the public key is not a whole number of bytes".into()))
}

/// The subject common name of SNS's signing certificates.
pub const SNS_CERTIFICATE_NAME: &str = "sns.amazonaws.com";

/// The roots a signing certificate must chain to.
#[derive(Clone, Copy, Debug)]
pub enum Anchors<'a> {
    /// The web's roots (webpki-roots): for certificates from SNS's own hosts.
    Web,
    /// These self-signed CA certificates (DER): for a test origin the shop was told to trust,
    /// whose certificates are signed by a test root of its own (the simulator's).
    Given(&'a [Vec<u8>]),
}

/// A fetched signing certificate: the first certificate of the PEM, and any more it holds (the
/// certificates that issued it, when the server sends them along).
#[derive(Clone, Debug)]
pub struct SigningCertificate {
    certificates: Vec<Certificate>,
    der: Vec<Vec<u8>>,
}

impl SigningCertificate {
    /// Reads every certificate of a PEM (at most [`MAX_CERTIFICATE_BYTES`]); the first signs.
    pub fn parse(pem: &[u8]) -> Result<Self, SnsError> {
        if pem.len() > MAX_CERTIFICATE_BYTES {
            return Err(SnsError::Certificate(format!("larger than {MAX_CERTIFICATE_BYTES} bytes")));
        }
        let certificates = pem_certificates(pem)?;
        let der = certificates
            .iter()
            .map(|c| c.to_der().map_err(|e| SnsError::Certificate(format!("not DER: {e}"))))
            .collect::<Result<_, _>>()?;
        Ok(Self { certificates, der })
    }

    /// Checks that the first certificate is SNS's: `CN=sns.amazonaws.com`, chained (through the
    /// other certificates of the PEM and `issuers`, DER) to one of `anchors`, every certificate
    /// of the chain valid at `now` (Unix seconds). [`SnsError::UnknownIssuer`] when no chain can
    /// be built with the certificates at hand.
    pub fn check(&self, anchors: Anchors<'_>, issuers: &[Vec<u8>], now: u64) -> Result<(), SnsError> {
        let untrusted = |why: String| SnsError::UntrustedCertificate(why);
        match common_names(&self.certificates[0].tbs_certificate.subject).as_slice() {
            [name] if name == SNS_CERTIFICATE_NAME => {}
            names => return Err(untrusted(format!("its subject names {names:?}, not {SNS_CERTIFICATE_NAME}"))),
        }
        let given: Vec<CertificateDer<'_>> = match anchors {
            Anchors::Web => Vec::new(),
            Anchors::Given(roots) => roots.iter().map(|der| CertificateDer::from(der.as_slice())).collect(),
        };
        let roots: Vec<TrustAnchor<'_>> = match anchors {
            Anchors::Web => webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            Anchors::Given(_) => given
                .iter()
                .map(|der| webpki::anchor_from_trusted_cert(der).map_err(|e| untrusted(format!("a test root: {e}"))))
                .collect::<Result<_, _>>()?,
        };
        let intermediates: Vec<CertificateDer<'_>> =
            self.der[1..].iter().chain(issuers).map(|der| CertificateDer::from(der.as_slice())).collect();
        let leaf = CertificateDer::from(self.der[0].as_slice());
        let end_entity = webpki::EndEntityCert::try_from(&leaf).map_err(|e| untrusted(format!("unreadable: {e}")))?;
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now));
        match end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &roots,
            &intermediates,
            time,
            AnyUsage,
            None,
            None,
        ) {
            Ok(_) => Ok(()),
            Err(webpki::Error::UnknownIssuer) => Err(SnsError::UnknownIssuer),
            Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) => {
                Err(SnsError::CertificateNotValidNow)
            }
            Err(other) => Err(untrusted(format!("{other}"))),
        }
    }

    /// Until when (Unix seconds) a chain found by [`Self::check`] stays valid: the earliest end
    /// of validity of the PEM's certificates and `issuers` (DER), whichever of them it used.
    pub fn valid_until(&self, issuers: &[Vec<u8>]) -> u64 {
        let issued = issuers.iter().filter_map(|der| Certificate::from_der(der).ok());
        self.certificates
            .iter()
            .cloned()
            .chain(issued)
            .map(|c| c.tbs_certificate.validity.not_after.to_unix_duration().as_secs())
            .min()
            .unwrap_or(0)
    }

    /// Where the issuers of these certificates are published (RFC 5280 Authority Information
    /// Access, `caIssuers`), http(s) only: for a PEM that holds the signing certificate alone.
    pub fn issuer_urls(&self) -> Vec<Url> {
        issuer_urls(&self.certificates)
    }

    /// Every certificate of the PEM (DER), for tests that take one as a root.
    #[cfg(test)]
    pub(crate) fn der_for_tests(&self) -> Vec<Vec<u8>> {
        self.der.clone()
    }

    /// The self-signed CA certificates of the PEM (DER): the roots a test origin sends along.
    pub fn bundled_roots(&self) -> Vec<Vec<u8>> {
        self.certificates
            .iter()
            .zip(&self.der)
            .skip(1)
            .filter(|(c, _)| c.tbs_certificate.issuer == c.tbs_certificate.subject && is_ca(c))
            .map(|(_, der)| der.clone())
            .collect()
    }
}

/// The `caIssuers` URLs of issuer certificates fetched as DER or PEM (what a CA publishes there).
pub fn issuer_urls_of(fetched: &[u8]) -> Vec<Url> {
    match read_certificates(fetched) {
        Some(certificates) => issuer_urls(&certificates),
        None => Vec::new(),
    }
}

/// An issuer certificate as a CA publishes it (DER, or PEM), as DER; `None` if it is neither.
pub fn issuer_der(fetched: &[u8]) -> Option<Vec<u8>> {
    read_certificates(fetched)?.first()?.to_der().ok()
}

fn read_certificates(bytes: &[u8]) -> Option<Vec<Certificate>> {
    if bytes.len() > MAX_CERTIFICATE_BYTES {
        return None;
    }
    match Certificate::from_der(bytes) {
        Ok(certificate) => Some(vec![certificate]),
        Err(_) => pem_certificates(bytes).ok(),
    }
}

/// Every certificate of a PEM, in order (at least one; nothing but whitespace around them). The
/// blocks are split here: x509-cert's own chain reader panics on some inputs (an empty one).
fn pem_certificates(pem: &[u8]) -> Result<Vec<Certificate>, SnsError> {
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut certificates = Vec::new();
    let mut rest = pem;
    while let Some(at) = rest.windows(END.len()).position(|window| window == END) {
        let (block, after) = rest.split_at(at + END.len());
        let start = block.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
        let certificate = Certificate::from_pem(&block[start..])
            .map_err(|e| SnsError::Certificate(format!("not a PEM X.509 certificate: {e}")))?;
        certificates.push(certificate);
        rest = after;
    }
    if !rest.iter().all(u8::is_ascii_whitespace) {
        return Err(SnsError::Certificate("not PEM certificates only".into()));
    }
    if certificates.is_empty() {
        return Err(SnsError::Certificate("no certificate".into()));
    }
    Ok(certificates)
}

fn issuer_urls(certificates: &[Certificate]) -> Vec<Url> {
    let mut urls = Vec::new();
    for certificate in certificates {
        let Ok(Some((_, access))) = certificate.tbs_certificate.get::<AuthorityInfoAccessSyntax>() else { continue };
        for description in access.0 {
            if description.access_method != ID_AD_CA_ISSUERS {
                continue;
            }
            let GeneralName::UniformResourceIdentifier(uri) = description.access_location else { continue };
            let Ok(url) = Url::parse(uri.as_str()) else { continue };
            if matches!(url.scheme(), "http" | "https") && url.username().is_empty() && url.password().is_none() {
                urls.push(url);
            }
        }
    }
    urls
}

/// The common names (`CN=`) of a distinguished name.
fn common_names(name: &x509_cert::name::Name) -> Vec<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|attribute| attribute.oid == COMMON_NAME)
        .map(|attribute| {
            Utf8StringRef::try_from(&attribute.value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| PrintableStringRef::try_from(&attribute.value).map(|s| s.as_str().to_owned()))
                .unwrap_or_else(|_| "(not text)".to_owned())
        })
        .collect()
}

fn is_ca(certificate: &Certificate) -> bool {
    matches!(certificate.tbs_certificate.get::<BasicConstraints>(), Ok(Some((_, constraints))) if constraints.ca)
}

/// SNS signs messages, not TLS connections: whatever extended key usage its certificates carry
/// (none, or TLS's) is not this check's business; the name and the chain are.
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, _: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// Checks a `SigningCertURL` before anything is fetched from it: https, no user name, port,
/// query or fragment, a path ending in `.pem`, and a host `sns.<region>.amazonaws.com` or
/// `sns.<region>.amazonaws.com.cn` (the host pattern of AWS's own validator, which keeps out S3
/// buckets and every other host a sender could control). `extra_origins`
/// (`scheme://host[:port]`, e.g. the simulator's `http://127.0.0.1:8081`) are allowed too, with
/// their own scheme.
pub fn check_cert_url(url: &str, extra_origins: &[&str]) -> Result<Url, SnsError> {
    let refuse =
        |why: &str| SnsError::CertUrlNotAllowed(format!("{why}: {}", url.chars().take(200).collect::<String>()));
    let parsed = Url::parse(url).map_err(|_| refuse("not a URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("user information"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(refuse("a query or fragment"));
    }
    if !parsed.path().ends_with(".pem") {
        return Err(refuse("not a .pem file"));
    }
    let origin = parsed.origin().ascii_serialization();
    if extra_origins.iter().any(|allowed| allowed.trim_end_matches('/') == origin) {
        return Ok(parsed);
    }
    if parsed.scheme() != "https" {
        return Err(refuse("not https"));
    }
    if parsed.port().is_some() {
        return Err(refuse("an explicit port"));
    }
    match parsed.host_str() {
        Some(host) if is_sns_host(host) => Ok(parsed),
        _ => Err(refuse("not an SNS host")),
    }
}

/// `^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$`.
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest.strip_suffix(".amazonaws.com").or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    region.is_some_and(|region| region.len() >= 3 && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// `ObjectType` of an IPN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectType {
    /// `CHARGE_PERMISSION`: ask getChargePermission.
    ChargePermission,
    /// `CHARGE`: ask getCharge.
    Charge,
    /// `REFUND`: ask getRefund.
    Refund,
    /// `CHARGEBACK`.
    Chargeback,
    /// A type Amazon may add later: acknowledge it, act on nothing.
    Other(String),
}

impl ObjectType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            ObjectType::ChargePermission => "CHARGE_PERMISSION",
            ObjectType::Charge => "CHARGE",
            ObjectType::Refund => "REFUND",
            ObjectType::Chargeback => "CHARGEBACK",
            ObjectType::Other(other) => other,
        }
    }

    fn from_wire(value: String) -> Self {
        match value.as_str() {
            "CHARGE_PERMISSION" => ObjectType::ChargePermission,
            "CHARGE" => ObjectType::Charge,
            "REFUND" => ObjectType::Refund,
            "CHARGEBACK" => ObjectType::Chargeback,
            _ => ObjectType::Other(value),
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ObjectType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ObjectType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if value.is_empty() {
            return Err(D::Error::custom("ObjectType is empty"));
        }
        Ok(ObjectType::from_wire(value))
    }
}

/// Amazon Pay's notification inside `Message` (NotificationVersion V2, PascalCase keys; the
/// camelCase keys of Amazon's first CV2 documentation are read too). It says which object
/// changed, never what it now is: ask the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpnMessage {
    /// The merchant the notification is for: refuse another merchant's.
    #[serde(rename = "MerchantID", alias = "merchantID", alias = "MerchantId", alias = "merchantId")]
    pub merchant_id: String,
    /// What kind of object changed.
    #[serde(rename = "ObjectType", alias = "objectType")]
    pub object_type: ObjectType,
    /// Its ID.
    #[serde(rename = "ObjectId", alias = "objectId")]
    pub object_id: String,
    /// The charge permission it belongs to.
    #[serde(rename = "ChargePermissionId", alias = "chargePermissionId", default)]
    pub charge_permission_id: Option<String>,
    /// `STATE_CHANGE` or `ATTRIBUTE_CHANGE`.
    #[serde(rename = "NotificationType", alias = "notificationType")]
    pub notification_type: String,
    /// Amazon's ID of this notification: the same for a duplicate, so make handling idempotent
    /// on it.
    #[serde(rename = "NotificationId", alias = "notificationId")]
    pub notification_id: String,
    /// `V2`.
    #[serde(rename = "NotificationVersion", alias = "notificationVersion")]
    pub notification_version: String,
}

impl IpnMessage {
    /// Parses `Message`.
    pub fn parse(message: &str) -> Result<Self, SnsError> {
        let parsed: IpnMessage = serde_json::from_str(message).map_err(|e| SnsError::Message(e.to_string()))?;
        if parsed.merchant_id.is_empty() || parsed.object_id.is_empty() || parsed.notification_id.is_empty() {
            return Err(SnsError::Message("MerchantID, ObjectId and NotificationId must not be empty".into()));
        }
        Ok(parsed)
    }

    /// The JSON string Amazon puts in `Message`.
    pub fn to_json(&self) -> String {
        // Only strings: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notification signed by the test certificate in `tests/fixtures/sns/` (see its README).
    const SIGNED_V1: &str = include_str!("../../tests/fixtures/sns/notification_v1.json");
    const SIGNED_V2: &str = include_str!("../../tests/fixtures/sns/notification_v2.json");
    const CERTIFICATE: &str = include_str!("../../tests/fixtures/sns/certificate.pem");
    const OTHER_CERTIFICATE: &str = include_str!("../../tests/fixtures/sns/other_certificate.pem");
    /// Inside the fixture certificate's validity (2026-06-01).
    const NOW: u64 = 1_780_272_000;

    fn envelope(json: &str) -> Envelope {
        Envelope::parse(json.as_bytes()).unwrap()
    }

    fn tampered(json: &str, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Envelope {
        let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
        edit(value.as_object_mut().unwrap());
        envelope(&value.to_string())
    }

    #[test]
    fn the_notification_string_to_sign_follows_the_sns_order() {
        let parsed = envelope(SIGNED_V1);
        let expected = format!(
            "Message\n{}\nMessageId\n{}\nTimestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
            parsed.message, parsed.message_id, parsed.timestamp, parsed.topic_arn
        );
        assert_eq!(parsed.string_to_sign(), expected);
        let mut with_subject = parsed.clone();
        with_subject.subject = Some("S".into());
        assert!(
            with_subject
                .string_to_sign()
                .contains(&format!("MessageId\n{}\nSubject\nS\nTimestamp\n", parsed.message_id))
        );
    }

    #[test]
    fn confirmations_sign_the_subscribe_url_and_token() {
        let json = r#"{"Type":"SubscriptionConfirmation","MessageId":"m","Token":"t","TopicArn":"arn",
            "Message":"confirm","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "Timestamp":"2026-01-01T00:00:00.000Z","SignatureVersion":"1","Signature":"c2ln",
            "SigningCertURL":"https://sns.us-east-1.amazonaws.com/a.pem"}"#;
        let parsed = envelope(json);
        assert_eq!(parsed.kind, MessageType::SubscriptionConfirmation);
        assert_eq!(
            parsed.string_to_sign(),
            "Message\nconfirm\nMessageId\nm\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\n\
             Timestamp\n2026-01-01T00:00:00.000Z\nToken\nt\nTopicArn\narn\nType\nSubscriptionConfirmation\n"
        );
        let unsubscribe = json.replace("SubscriptionConfirmation", "UnsubscribeConfirmation");
        assert_eq!(envelope(&unsubscribe).kind, MessageType::UnsubscribeConfirmation);
        let tokenless = json.replace(r#""Token":"t","#, "");
        assert_eq!(Envelope::parse(tokenless.as_bytes()), Err(SnsError::MissingField("Token")));
    }

    #[test]
    fn signed_notifications_of_both_versions_verify() {
        for json in [SIGNED_V1, SIGNED_V2] {
            let parsed = envelope(json);
            assert_eq!(parsed.verify_at(CERTIFICATE.as_bytes(), NOW), Ok(()), "{json}");
            let message = parsed.ipn().unwrap();
            assert_eq!(message.object_type, ObjectType::Charge);
            assert_eq!(message.notification_version, "V2");
        }
        assert_eq!(envelope(SIGNED_V1).signature_version, "1");
        assert_eq!(envelope(SIGNED_V2).signature_version, "2");
    }

    #[test]
    fn tampering_with_any_signed_member_breaks_the_signature() {
        for member in ["Message", "MessageId", "Timestamp", "TopicArn"] {
            let changed = tampered(SIGNED_V1, |map| {
                let value = map[member].as_str().unwrap().to_owned();
                map.insert(member.into(), format!("{value} ").into());
            });
            assert_eq!(changed.verify_at(CERTIFICATE.as_bytes(), NOW), Err(SnsError::BadSignature), "{member}");
        }
        let subject = tampered(SIGNED_V1, |map| {
            map.insert("Subject".into(), "added".into());
        });
        assert_eq!(subject.verify_at(CERTIFICATE.as_bytes(), NOW), Err(SnsError::BadSignature));
    }

    #[test]
    fn another_key_a_relabelled_version_or_an_unknown_one_is_refused() {
        let parsed = envelope(SIGNED_V1);
        assert_eq!(parsed.verify_at(OTHER_CERTIFICATE.as_bytes(), NOW), Err(SnsError::BadSignature));
        let relabelled = tampered(SIGNED_V1, |map| {
            map.insert("SignatureVersion".into(), "2".into());
        });
        assert_eq!(relabelled.verify_at(CERTIFICATE.as_bytes(), NOW), Err(SnsError::BadSignature));
        for version in ["3", "", "01", "1 "] {
            let unknown = tampered(SIGNED_V1, |map| {
                map.insert("SignatureVersion".into(), version.into());
            });
            assert!(
                matches!(unknown.verify_at(CERTIFICATE.as_bytes(), NOW), Err(SnsError::UnsupportedSignatureVersion(_))),
                "{version:?}"
            );
        }
        let garbled = tampered(SIGNED_V1, |map| {
            map.insert("Signature".into(), "%%%".into());
        });
        assert_eq!(garbled.verify_at(CERTIFICATE.as_bytes(), NOW), Err(SnsError::SignatureEncoding));
    }

    #[test]
    fn the_certificate_must_be_a_valid_rsa_certificate_in_its_validity_period() {
        let parsed = envelope(SIGNED_V1);
        assert!(matches!(parsed.verify_at(b"not a certificate", NOW), Err(SnsError::Certificate(_))));
        let huge = vec![b'A'; MAX_CERTIFICATE_BYTES + 1];
        assert!(matches!(parsed.verify_at(&huge, NOW), Err(SnsError::Certificate(_))));
        assert_eq!(parsed.verify_at(CERTIFICATE.as_bytes(), 0), Err(SnsError::CertificateNotValidNow));
        assert_eq!(parsed.verify_at(CERTIFICATE.as_bytes(), u64::MAX), Err(SnsError::CertificateNotValidNow));
    }

    #[test]
    fn the_fixture_certificate_names_sns_and_chains_to_its_own_test_root_only() {
        let certificate = SigningCertificate::parse(CERTIFICATE.as_bytes()).unwrap();
        let roots = certificate.bundled_roots();
        assert_eq!(certificate.check(Anchors::Given(&roots), &[], NOW), Ok(()));
        assert_eq!(certificate.check(Anchors::Web, &[], NOW), Err(SnsError::UnknownIssuer), "no web root issued it");
        assert!(certificate.issuer_urls().is_empty(), "and it names nowhere to fetch an issuer from");
        let other = SigningCertificate::parse(OTHER_CERTIFICATE.as_bytes()).unwrap();
        assert!(certificate.check(Anchors::Given(&other.bundled_roots()), &[], NOW).is_err(), "another test root");
        assert_eq!(certificate.check(Anchors::Given(&roots), &[], 0), Err(SnsError::CertificateNotValidNow));
        for bad in ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            assert!(matches!(SigningCertificate::parse(bad.as_bytes()), Err(SnsError::Certificate(_))), "{bad:?}");
        }
        assert!(matches!(
            SigningCertificate::parse(&vec![b'A'; MAX_CERTIFICATE_BYTES + 1]),
            Err(SnsError::Certificate(_))
        ));
        assert_eq!(issuer_der(b"not a certificate"), None);
        assert!(issuer_der(CERTIFICATE.as_bytes()).is_some(), "an issuer published as PEM");
    }

    /// Amazon's own SNS signing certificate, the intermediate that issued it and a message SNS
    /// signed with it (see `tests/fixtures/sns/amazon/README.md`).
    const AMAZON_SNS_CERTIFICATE: &str =
        include_str!("../../tests/fixtures/sns/amazon/sns_signing_certificate_2024.pem");
    const AMAZON_RSA_2048_M01: &str = include_str!("../../tests/fixtures/sns/amazon/amazon_rsa_2048_m01.pem");
    const AMAZON_SNS_CONFIRMATION: &str =
        include_str!("../../tests/fixtures/sns/amazon/subscription_confirmation.json");
    /// When SNS signed that message (2024-08-01T10:35:40Z), inside the certificate's validity.
    const SIGNED_AT: u64 = 1_722_508_540;
    /// The certificate's last second (2024-11-20T23:59:59Z).
    const AMAZON_CERTIFICATE_ENDS: u64 = 1_732_147_199;

    #[test]
    fn amazons_own_sns_certificate_chains_through_its_intermediate_to_a_web_root() {
        let certificate = SigningCertificate::parse(AMAZON_SNS_CERTIFICATE.as_bytes()).unwrap();
        let intermediate = issuer_der(AMAZON_RSA_2048_M01.as_bytes()).unwrap();
        let issuers = std::slice::from_ref(&intermediate);
        assert_eq!(certificate.check(Anchors::Web, issuers, SIGNED_AT), Ok(()));
        assert_eq!(certificate.check(Anchors::Web, &[], SIGNED_AT), Err(SnsError::UnknownIssuer), "served alone");
        assert_eq!(
            certificate.issuer_urls(),
            [Url::parse("http://crt.r2m01.amazontrust.com/r2m01.cer").unwrap()],
            "where its issuer is published"
        );
        assert_eq!(certificate.valid_until(issuers), AMAZON_CERTIFICATE_ENDS);
        assert_eq!(certificate.check(Anchors::Web, issuers, AMAZON_CERTIFICATE_ENDS), Ok(()));
        assert_eq!(
            certificate.check(Anchors::Web, issuers, AMAZON_CERTIFICATE_ENDS + 1),
            Err(SnsError::CertificateNotValidNow)
        );
        assert_eq!(
            certificate.check(Anchors::Given(&[]), issuers, SIGNED_AT),
            Err(SnsError::UnknownIssuer),
            "a test origin's check trusts only the root it brings"
        );
    }

    #[test]
    fn a_message_sns_signed_verifies_with_amazons_own_certificate_and_nothing_else_does() {
        let confirmation = envelope(AMAZON_SNS_CONFIRMATION);
        assert_eq!(confirmation.kind, MessageType::SubscriptionConfirmation);
        assert_eq!(confirmation.signature_version, "2");
        assert!(check_cert_url(&confirmation.signing_cert_url, &[]).is_ok(), "SNS's own URL is allowed");
        assert_eq!(confirmation.verify_at(AMAZON_SNS_CERTIFICATE.as_bytes(), SIGNED_AT), Ok(()));
        let relabelled = tampered(AMAZON_SNS_CONFIRMATION, |map| {
            map.insert("TopicArn".into(), "arn:aws:sns:eu-central-1:466136624261:other".into());
        });
        assert_eq!(relabelled.verify_at(AMAZON_SNS_CERTIFICATE.as_bytes(), SIGNED_AT), Err(SnsError::BadSignature));
        assert_eq!(confirmation.verify_at(CERTIFICATE.as_bytes(), NOW), Err(SnsError::BadSignature), "a test key");
    }

    #[test]
    fn envelopes_are_parsed_strictly() {
        assert_eq!(Envelope::parse(&vec![b' '; MAX_ENVELOPE_BYTES + 1]), Err(SnsError::TooLarge));
        for bad in ["", "[]", "null", "{", "\u{0}", r#"{"Type":1}"#] {
            assert!(matches!(Envelope::parse(bad.as_bytes()), Err(SnsError::Malformed(_))), "{bad:?}");
        }
        assert!(matches!(Envelope::parse(&[0xff, 0xfe]), Err(SnsError::Malformed(_))));
        assert_eq!(Envelope::parse(b"{}"), Err(SnsError::MissingField("Type")));
        assert_eq!(Envelope::parse(br#"{"Type":"Other"}"#), Err(SnsError::UnknownType("Other".into())));
        for member in
            ["Message", "MessageId", "Timestamp", "TopicArn", "SignatureVersion", "Signature", "SigningCertURL"]
        {
            let mut value: serde_json::Value = serde_json::from_str(SIGNED_V1).unwrap();
            value.as_object_mut().unwrap().remove(member);
            assert_eq!(
                Envelope::parse(value.to_string().as_bytes()),
                Err(SnsError::MissingField(match member {
                    "Message" => "Message",
                    "MessageId" => "MessageId",
                    "Timestamp" => "Timestamp",
                    "TopicArn" => "TopicArn",
                    "SignatureVersion" => "SignatureVersion",
                    "Signature" => "Signature",
                    _ => "SigningCertURL",
                }))
            );
            let mut wrong: serde_json::Value = serde_json::from_str(SIGNED_V1).unwrap();
            wrong.as_object_mut().unwrap().insert(member.into(), serde_json::json!(1));
            assert!(matches!(Envelope::parse(wrong.to_string().as_bytes()), Err(SnsError::Malformed(_))), "{member}");
        }
        let twice = SIGNED_V1.replacen('{', r#"{"MessageId":"forged","#, 1);
        assert!(matches!(Envelope::parse(twice.as_bytes()), Err(SnsError::Malformed(_))));
    }

    #[test]
    fn lambda_spellings_are_read_but_not_both_at_once() {
        let lambda = SIGNED_V1
            .replace("\"SigningCertURL\"", "\"SigningCertUrl\"")
            .replace("\"UnsubscribeURL\"", "\"UnsubscribeUrl\"");
        let parsed = envelope(&lambda);
        assert_eq!(parsed, envelope(SIGNED_V1));
        assert_eq!(parsed.verify_at(CERTIFICATE.as_bytes(), NOW), Ok(()));
        let both = SIGNED_V1.replacen('{', r#"{"SigningCertUrl":"https://sns.us-east-1.amazonaws.com/x.pem","#, 1);
        assert!(matches!(Envelope::parse(both.as_bytes()), Err(SnsError::Malformed(_))));
    }

    #[test]
    fn envelopes_round_trip_through_json() {
        let parsed = envelope(SIGNED_V2);
        assert_eq!(envelope(&parsed.to_json()), parsed);
        assert!(parsed.to_json().starts_with("{\"Type\":\"Notification\",\"MessageId\":"));
    }

    #[test]
    fn only_sns_hosts_over_https_serve_certificates() {
        for good in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
            "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-x.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
            "https://SNS.EU-WEST-1.AMAZONAWS.COM/a.pem",
        ] {
            assert!(check_cert_url(good, &[]).is_ok(), "{good}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem.txt",
            "https://sns.us-east-1.amazonaws.com/a.crt",
            "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
            "https://sns.evil.example.amazonaws.com/a.pem",
            "https://sns.ab.amazonaws.com/a.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com@evil.example/a.pem",
            "https://user@sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com:8443/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/a.pem#x",
            "https://sns_us.amazonaws.com/a.pem",
            "file:///etc/a.pem",
            "not a url",
            "",
        ] {
            assert!(matches!(check_cert_url(bad, &[]), Err(SnsError::CertUrlNotAllowed(_))), "{bad}");
        }
    }

    #[test]
    fn extra_origins_are_allowed_exactly() {
        let simulator = ["http://127.0.0.1:8081"];
        assert!(check_cert_url("http://127.0.0.1:8081/SimpleNotificationService-ab.pem", &simulator).is_ok());
        assert!(
            check_cert_url("http://127.0.0.1:8081/SimpleNotificationService-ab.pem", &["http://127.0.0.1:8081/"])
                .is_ok()
        );
        for bad in [
            "http://127.0.0.1:8082/SimpleNotificationService-ab.pem",
            "https://127.0.0.1:8081/SimpleNotificationService-ab.pem",
            "http://127.0.0.1:8081/SimpleNotificationService-ab.txt",
            "http://localhost:8081/SimpleNotificationService-ab.pem",
        ] {
            assert!(check_cert_url(bad, &simulator).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipn_messages_read_both_spellings_and_keep_unknown_types() {
        let pascal = r#"{"MerchantID":"M","ObjectType":"REFUND","ObjectId":"R","ChargePermissionId":"P",
            "NotificationType":"STATE_CHANGE","NotificationId":"N","NotificationVersion":"V2"}"#;
        let camel = r#"{"merchantID":"M","objectType":"REFUND","objectId":"R","chargePermissionId":"P",
            "notificationType":"STATE_CHANGE","notificationId":"N","notificationVersion":"V2"}"#;
        let parsed = IpnMessage::parse(pascal).unwrap();
        assert_eq!(parsed, IpnMessage::parse(camel).unwrap());
        assert_eq!(parsed.object_type, ObjectType::Refund);
        assert_eq!(IpnMessage::parse(&parsed.to_json()).unwrap(), parsed);
        assert!(parsed.to_json().starts_with("{\"MerchantID\":\"M\",\"ObjectType\":\"REFUND\""));
        let future = pascal.replace("REFUND", "DISPUTE");
        assert_eq!(IpnMessage::parse(&future).unwrap().object_type, ObjectType::Other("DISPUTE".into()));
        for bad in [
            "",
            "{}",
            "[]",
            &pascal.replace("\"M\"", "1"),
            &pascal.replace("\"M\"", "\"\""),
            &pascal.replace("\"REFUND\"", "\"\""),
            &pascal.replace(r#""ObjectId":"R","#, ""),
        ] {
            assert!(matches!(IpnMessage::parse(bad), Err(SnsError::Message(_))), "{bad}");
        }
    }
}
