//! Amazon's instant payment notifications (IPN): an Amazon SNS envelope saying that a charge, a
//! refund or a charge permission changed.
//!
//! Nothing in an envelope is believed before its SNS signature verifies with a certificate that
//! is SNS's, and nothing in the message is believed after: it only names the object, which is
//! then read from Amazon's API and followed ([`Core::sync_order`]).
//!
//! - The certificate is fetched only from a URL that [`check_cert_url`] allows
//!   (`https://sns.<region>.amazonaws.com/….pem`, or an origin the shop named for a simulator),
//!   with a timeout and a size bound, and kept for a day; it must name `sns.amazonaws.com` and
//!   chain to a root of the web's trust store ([`SigningCertificate::check`]). When the PEM holds
//!   the signing certificate alone, its issuers are fetched from the URLs the certificate itself
//!   names (`caIssuers`; a certificate from an SNS host names Amazon's CA, never a place a sender
//!   chose) and kept for a day too. A simulator's origin brings its own test root along. The
//!   chain is checked once per fetched certificate, then trusted while kept and valid.
//! - The topic it was published to must be one of `AMAZONPAY2_IPN_TOPIC_ARNS` when that is set
//!   ([`topic_check`]); else any topic is followed, and each one seen is recorded for the owner
//!   ([`TopicSightings`] keeps that from costing a write per notification).
//! - At most [`READS_PER_MINUTE`] requests a minute are sent to Amazon's API for notifications
//!   ([`ReadBudget`], taken by the client at each request made while a notification is
//!   followed), so that a flood of notifications cannot become a flood of Amazon calls; the
//!   others are answered 503 for Amazon to send again later, and the reconciler reads every
//!   waiting order anyway.
//!
//! So a forged envelope can neither make the shop fetch an address of its choosing nor move an
//! order; one SNS signed for someone else's topic is refused when the shop names its topics, and
//! can otherwise only make the shop read its own objects from Amazon, within the budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use url::Url;

use super::orders::{Actor, OrderState, Transition};
use super::{AmazonError, Core, CoreError};
use crate::amazon::sns::{
    Anchors, Envelope, IpnMessage, MAX_CERTIFICATE_BYTES, MessageType, ObjectType, SigningCertificate, SnsError,
    check_cert_url, issuer_der, issuer_urls_of,
};
use crate::amazon::types::ChargePermissionState;

/// How long fetching a certificate may take.
const CERTIFICATE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched certificate is used before it is fetched again. SNS rotates its
/// certificates rarely and under a new URL.
const CERTIFICATE_KEPT: Duration = Duration::from_secs(24 * 60 * 60);
/// Certificates kept at most (SNS uses one per region at a time, each with an issuer or two).
const CERTIFICATES_KEPT: usize = 16;
/// Issuer certificates fetched for one signing certificate at most (a chain of an intermediate
/// or two below a root).
const ISSUER_FETCHES: usize = 3;
/// Objects read from Amazon's API for notifications per minute, per server instance.
pub const READS_PER_MINUTE: u32 = 60;

/// Why a notification was not acted on.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// Not an envelope, not signed by SNS, or its certificate URL is not allowed: never from
    /// Amazon, so never retried usefully.
    #[error("{0}")]
    Refused(#[from] SnsError),
    /// A certificate could not be fetched now (Amazon retries the delivery).
    #[error("the signing certificate could not be fetched: {0}")]
    CertificateUnavailable(String),
    /// Signed, but for another merchant.
    #[error("the notification is for merchant {0}, not this shop")]
    ForeignMerchant(String),
    /// Signed by SNS, but the `x-amz-sns-topic-arn` header names another topic than the
    /// (signed) `TopicArn`: not as SNS delivers.
    #[error("the topic header does not match the envelope's TopicArn")]
    TopicMismatch,
}

/// Why a verified notification was not followed now; either way it is left unrecorded, for
/// Amazon's retry (and the reconciler) to act on.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// This minute's reads of Amazon's API for notifications are used up.
    #[error("too many notifications to read from Amazon this minute")]
    Throttled,
    /// Reading Amazon's object or moving the order failed.
    #[error(transparent)]
    Failed(#[from] CoreError),
}

/// A verified Amazon Pay notification and the SNS topic it was published to.
#[derive(Clone, Debug)]
pub struct Notification {
    /// Amazon's message.
    pub message: IpnMessage,
    /// `TopicArn` (signed).
    pub topic_arn: String,
}

/// A verified envelope.
#[derive(Debug)]
pub enum Verified {
    /// An Amazon Pay notification, for this merchant.
    Notification(Notification),
    /// A subscription or unsubscription confirmation. SNS sends one when a topic is subscribed to
    /// an HTTP endpoint; Amazon Pay subscribes merchants itself, so it is only logged, and its
    /// `SubscribeURL` is never followed.
    Confirmation(MessageType),
}

/// What a notification did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled {
    /// Orders moved to what Amazon says.
    pub moved: usize,
    /// Amazon's API answered for the object the notification named: it is this merchant's (the
    /// API answers only the merchant whose key signs the call), so the notification was one of
    /// Amazon's about this shop.
    pub confirmed: bool,
}

/// Whether a notification's topic is followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicCheck {
    /// One of `AMAZONPAY2_IPN_TOPIC_ARNS`.
    Configured,
    /// None are configured: every topic is followed (and recorded for the owner to see).
    Unlisted,
    /// Not one of `AMAZONPAY2_IPN_TOPIC_ARNS`.
    Refused,
}

/// Judges `topic` against the configured topics: when there are any, they are the only ones
/// followed; when there are none, every topic is. No topic is ever taken for Amazon's on the
/// shop's own: a topic kept from a notification could be a sender's who knew one of the shop's
/// Amazon IDs, and would then shut Amazon's own notifications out.
pub fn topic_check(configured: &[String], topic: &str) -> TopicCheck {
    if configured.is_empty() {
        TopicCheck::Unlisted
    } else if configured.iter().any(|allowed| allowed == topic) {
        TopicCheck::Configured
    } else {
        TopicCheck::Refused
    }
}

/// How often one instance writes that a topic was seen again (its first sighting, and one that
/// named an object Amazon confirmed, are written at once): the owner's list needs minutes, not
/// every notification.
const TOPIC_SEEN_EVERY: Duration = Duration::from_secs(60);
/// Sightings remembered in memory at most (anyone can make topics; the map is cleared beyond).
const TOPIC_SIGHTINGS_KEPT: usize = 1_000;

/// When this instance last wrote a sighting of each topic (and whether it was a confirmed one),
/// so that a stream of notifications from one topic costs no database access.
#[derive(Default)]
pub struct TopicSightings {
    written: Mutex<HashMap<(String, bool), Instant>>,
}

impl TopicSightings {
    /// Whether a sighting of `topic` (`confirmed` or not) is to be written now; if so, it counts
    /// as written.
    pub fn due(&self, topic: &str, confirmed: bool) -> bool {
        self.due_at(topic, confirmed, Instant::now())
    }

    fn due_at(&self, topic: &str, confirmed: bool, now: Instant) -> bool {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (topic.to_owned(), confirmed);
        if written.get(&key).is_some_and(|at| now.saturating_duration_since(*at) < TOPIC_SEEN_EVERY) {
            return false;
        }
        if written.len() >= TOPIC_SIGHTINGS_KEPT {
            written.clear();
        }
        written.insert(key, now);
        true
    }
}

/// Whether `value` is an SNS topic ARN: `arn:<partition>:sns:<region>:<12-digit account>:<name>`.
pub fn is_topic_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    let plain =
        |s: &str, extra: &[u8]| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    matches!(parts.as_slice(), ["arn", partition, "sns", region, account, name]
        if partition.starts_with("aws") && plain(partition, b"-")
            && plain(region, b"-")
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && name.len() <= 256 && plain(name, b"-_"))
}

pub use super::clock::Clock;
use super::clock::Monotonic;

/// Reads of Amazon's API that notifications may still make: a token bucket of
/// [`READS_PER_MINUTE`], refilled evenly over the minute.
pub struct ReadBudget {
    per_minute: u32,
    clock: Box<dyn Clock>,
    state: Mutex<(f64, Instant)>,
}

impl ReadBudget {
    /// A full budget of `per_minute` reads.
    pub fn new(per_minute: u32) -> Self {
        Self::with_clock(per_minute, Monotonic)
    }

    /// A full budget of `per_minute` reads, refilled as `clock` goes (a test's clock that stands
    /// still makes it exactly `per_minute` reads).
    pub fn with_clock(per_minute: u32, clock: impl Clock + 'static) -> Self {
        let start = clock.now();
        Self { per_minute, clock: Box::new(clock), state: Mutex::new((f64::from(per_minute), start)) }
    }

    /// Takes one read, if one is left.
    pub fn take(&self) -> bool {
        self.take_at(self.clock.now())
    }

    fn take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, since) = &mut *state;
        let refill = now.saturating_duration_since(*since).as_secs_f64() * f64::from(self.per_minute) / 60.0;
        *tokens = (*tokens + refill).min(f64::from(self.per_minute));
        *since = now.max(*since);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A certificate (or issuer) fetched from its URL.
struct Fetched {
    body: Arc<Vec<u8>>,
    at: Instant,
    /// For a signing certificate whose chain was checked: until when (Unix seconds) that chain
    /// stays valid, so that later notifications signed with it are not checked again.
    trusted_until: Option<u64>,
}

/// Certificates by URL.
type Kept = HashMap<String, Fetched>;

/// SNS signing certificates and their issuers, fetched from allowed URLs only and kept a while,
/// with the verdict on each signing certificate's chain.
pub struct Certificates {
    http: reqwest::Client,
    /// Origins allowed besides SNS's own hosts (a simulator's).
    extra_origins: Vec<String>,
    kept: Mutex<Kept>,
    /// Chains checked so far (each costs signature checks up to a root).
    chain_checks: AtomicUsize,
}

impl Certificates {
    /// Certificates from SNS's hosts, and from `extra_origins` (`scheme://host[:port]`).
    pub fn new(extra_origins: Vec<String>) -> Result<Self, super::AmazonError> {
        Ok(Self::with_client(super::client::http_client()?, extra_origins))
    }

    fn with_client(http: reqwest::Client, extra_origins: Vec<String>) -> Self {
        Self { http, extra_origins, kept: Mutex::default(), chain_checks: AtomicUsize::new(0) }
    }

    /// The signing certificate at `url` (PEM), found SNS's ([`Self::check_at`]). Its chain is
    /// checked once per fetch and then trusted while it is kept and every certificate of the
    /// chain is still valid: a notification signed with a known certificate costs a lookup.
    pub async fn signing(&self, url: &Url) -> Result<Arc<Vec<u8>>, NotificationError> {
        let now = unix_now();
        if let Some(pem) = self.trusted(url, now) {
            return Ok(pem);
        }
        let pem = self.get(url).await?;
        let until = self.check_at(url, &pem, now).await?;
        if let Some(fetched) = self.lock().get_mut(url.as_str())
            && Arc::ptr_eq(&fetched.body, &pem)
        {
            fetched.trusted_until = Some(until);
        }
        Ok(pem)
    }

    /// The certificate at `url`, if it is kept and its chain was found valid until after `now`.
    fn trusted(&self, url: &Url, now: u64) -> Option<Arc<Vec<u8>>> {
        let kept = self.lock();
        let fetched = kept.get(url.as_str())?;
        let fresh = fetched.at.elapsed() < CERTIFICATE_KEPT;
        (fresh && fetched.trusted_until.is_some_and(|until| now <= until)).then(|| fetched.body.clone())
    }

    /// Whether `url` lies on an origin the shop was told to trust besides SNS (a test origin).
    fn is_extra(&self, url: &Url) -> bool {
        let origin = url.origin().ascii_serialization();
        self.extra_origins.iter().any(|allowed| allowed.trim_end_matches('/') == origin)
    }

    /// The certificate (or issuer) at `url`, fetched unless kept.
    async fn get(&self, url: &Url) -> Result<Arc<Vec<u8>>, NotificationError> {
        let key = url.as_str().to_owned();
        if let Some(fetched) = self.lock().get(&key)
            && fetched.at.elapsed() < CERTIFICATE_KEPT
        {
            return Ok(fetched.body.clone());
        }
        let unavailable = |why: String| NotificationError::CertificateUnavailable(why);
        let response = tokio::time::timeout(CERTIFICATE_TIMEOUT, self.http.get(url.clone()).send())
            .await
            .map_err(|_| unavailable("timed out".into()))?
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            // An allowed host without that certificate: the envelope names one SNS never had.
            return Err(SnsError::Certificate(format!("the certificate URL answered {}", response.status())).into());
        }
        let body = Arc::new(read_bounded(response).await?);
        let mut kept = self.lock();
        if kept.len() >= CERTIFICATES_KEPT {
            kept.clear();
        }
        kept.insert(key, Fetched { body: body.clone(), at: Instant::now(), trusted_until: None });
        Ok(body)
    }

    /// Checks at `now` (Unix seconds) that the certificate fetched from `url` is SNS's (or, from
    /// a test origin, issued by the root it brings along), fetching its issuers when it came
    /// alone; answers until when the chain stays valid.
    async fn check_at(&self, url: &Url, pem: &[u8], now: u64) -> Result<u64, NotificationError> {
        self.chain_checks.fetch_add(1, Ordering::Relaxed);
        let certificate = SigningCertificate::parse(pem)?;
        if self.is_extra(url) {
            let roots = certificate.bundled_roots();
            certificate.check(Anchors::Given(&roots), &[], now)?;
            return Ok(certificate.valid_until(&[]));
        }
        let mut issuers: Vec<Vec<u8>> = Vec::new();
        let mut tried: Vec<Url> = Vec::new();
        loop {
            match certificate.check(Anchors::Web, &issuers, now) {
                Err(SnsError::UnknownIssuer) if tried.len() < ISSUER_FETCHES => {}
                Err(SnsError::UnknownIssuer) => {
                    return Err(SnsError::UntrustedCertificate("no chain to a trusted root".into()).into());
                }
                Ok(()) => return Ok(certificate.valid_until(&issuers)),
                Err(refused) => return Err(refused.into()),
            }
            let mut wanted = certificate.issuer_urls();
            for issuer in &issuers {
                wanted.extend(issuer_urls_of(issuer));
            }
            let Some(next) = wanted.into_iter().find(|url| !tried.contains(url)) else {
                return Err(SnsError::UntrustedCertificate("no chain to a trusted root".into()).into());
            };
            tried.push(next.clone());
            let fetched = self.get(&next).await?;
            match issuer_der(&fetched) {
                Some(der) => issuers.push(der),
                None => tracing::warn!(url = %next, "an issuer URL did not serve a certificate"),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // A panic while holding the map leaves it consistent (inserts are whole).
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The body of a certificate response, refusing one larger than any SNS certificate.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, NotificationError> {
    let mut body = Vec::new();
    while let Some(chunk) = tokio::time::timeout(CERTIFICATE_TIMEOUT, response.chunk())
        .await
        .map_err(|_| NotificationError::CertificateUnavailable("timed out".into()))?
        .map_err(|e| NotificationError::CertificateUnavailable(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_CERTIFICATE_BYTES {
            return Err(SnsError::Certificate("larger than any SNS certificate".into()).into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

impl Core {
    /// Verifies an envelope as it arrived: parsed within its size bound, its certificate URL
    /// allowed, the certificate fetched and found SNS's, the signature checked, and (for a
    /// notification) the merchant this shop and `topic_header` (SNS's `x-amz-sns-topic-arn`,
    /// when the request has one) the envelope's own topic.
    pub async fn verify_notification(
        &self,
        body: &[u8],
        topic_header: Option<&str>,
    ) -> Result<Verified, NotificationError> {
        let envelope = Envelope::parse(body)?;
        let extra: Vec<&str> = self.certificates.extra_origins.iter().map(String::as_str).collect();
        let url = check_cert_url(&envelope.signing_cert_url, &extra)?;
        let certificate = self.certificates.signing(&url).await?;
        envelope.verify(&certificate)?;
        if envelope.kind != MessageType::Notification {
            return Ok(Verified::Confirmation(envelope.kind));
        }
        if topic_header.is_some_and(|header| header != envelope.topic_arn) {
            return Err(NotificationError::TopicMismatch);
        }
        let message = envelope.ipn()?;
        if message.merchant_id != self.settings().amazon.merchant_id {
            return Err(NotificationError::ForeignMerchant(message.merchant_id.chars().take(32).collect()));
        }
        Ok(Verified::Notification(Notification { message, topic_arn: envelope.topic_arn }))
    }

    /// The key the topics of this shop's notifications are kept under: its merchant and
    /// environment (Amazon may publish sandbox and production notifications on other topics).
    pub fn ipn_topic_scope(&self) -> String {
        let amazon = &self.settings().amazon;
        format!("{}:{}", amazon.merchant_id, if amazon.sandbox { "sandbox" } else { "live" })
    }

    /// Whether this instance is to record a sighting of `topic` now (see [`TopicSightings`]).
    pub fn topic_sighting_due(&self, topic: &str, confirmed: bool) -> bool {
        self.topic_sightings.due(topic, confirmed)
    }

    /// Follows the object a verified notification names: the orders it belongs to move to what
    /// Amazon's API says of it now. The `NotificationType` (`STATE_CHANGE`, `ATTRIBUTE_CHANGE`)
    /// changes nothing: either way the object is read again and followed. Every request to
    /// Amazon it makes takes one of the minute's reads, where it is sent (the charge, each refund
    /// in progress, the charge permission and each of its orders' charges); one beyond them ends
    /// the following with [`FollowError::Throttled`] (what moved before stays: each move is
    /// Amazon's answer, and Amazon's retry finds the rest).
    pub async fn handle_notification(&self, message: &IpnMessage) -> Result<Handled, FollowError> {
        match super::client::reads_budgeted(self.notification_reads.clone(), self.follow_notification(message)).await {
            Err(FollowError::Failed(CoreError::Amazon(AmazonError::ReadsSpent))) => Err(FollowError::Throttled),
            other => other,
        }
    }

    async fn follow_notification(&self, message: &IpnMessage) -> Result<Handled, FollowError> {
        let actor = Actor::Notification;
        let handled = match message.object_type {
            ObjectType::Charge => {
                match self.platform().order_by_charge(&message.object_id).await.map_err(CoreError::from)? {
                    Some(order) => {
                        Handled { moved: usize::from(self.sync_order(&order, actor).await?), confirmed: true }
                    }
                    // A charge the shop has not recorded yet: its checkout is still completing, and
                    // the completion (or the reconciler) records it.
                    None => Handled { moved: 0, confirmed: false },
                }
            }
            ObjectType::Refund => {
                Handled { moved: usize::from(self.sync_refund(&message.object_id, actor).await?), confirmed: true }
            }
            ObjectType::ChargePermission => self.follow_charge_permission(&message.object_id).await?,
            // A chargeback is disputed in Seller Central; the merchant API has no object for it.
            // What it can read is re-read: the charge permission and its orders' charges. The
            // owner is told where they look: a line in the payment history of its orders.
            ObjectType::Chargeback => {
                let Some(permission) = message.charge_permission_id.as_deref() else {
                    return Ok(Handled { moved: 0, confirmed: false });
                };
                tracing::warn!(chargeback = %message.object_id, charge_permission = permission, "Amazon reports a chargeback; answer it in Seller Central");
                let followed = self.follow_charge_permission(permission).await?;
                let recorded = self.record_chargeback(&message.object_id, permission).await?;
                Handled { moved: followed.moved + recorded, ..followed }
            }
            // Kinds Amazon may add are for the shop owner in Seller Central.
            ObjectType::Other(_) => {
                tracing::info!(kind = message.object_type.as_str(), id = %message.object_id, "notification left to Seller Central");
                Handled { moved: 0, confirmed: false }
            }
        };
        Ok(handled)
    }

    /// Writes a chargeback into the payment history of the orders of its charge permission that
    /// were paid (captured: a chargeback disputes money the buyer paid), or of every order of it
    /// when none was; how many orders got the line. Which charge Amazon's chargeback is about is
    /// not in the notification (its ID format is undocumented): the owner answers it in Seller
    /// Central, where the dispute is.
    async fn record_chargeback(&self, chargeback_id: &str, charge_permission_id: &str) -> Result<usize, FollowError> {
        let orders =
            self.platform().orders_by_charge_permission(charge_permission_id).await.map_err(CoreError::from)?;
        let placed: Vec<_> = orders.into_iter().filter(|order| order.state.is_placed()).collect();
        let paid: Vec<_> = placed.iter().filter(|order| order.captured > 0).cloned().collect();
        let concerned = if paid.is_empty() { placed } else { paid };
        let detail = format!(
            "チャージバック (Amazon: {chargeback_id}, 与信枠 {charge_permission_id})。お客様がカード会社に支払いの異議を申し立てました。Seller Central で対応してください。"
        );
        let mut recorded = 0;
        for order in &concerned {
            let line = Transition::history(order, Actor::Notification, detail.clone());
            recorded += usize::from(self.platform().apply(&line).await.map_err(CoreError::from)?.is_some());
        }
        Ok(recorded)
    }

    /// A charge permission changed (closed in Seller Central, or its chargeable state changed):
    /// its orders follow their charges, and a closed recurring one ends its subscription.
    async fn follow_charge_permission(&self, id: &str) -> Result<Handled, FollowError> {
        let permission = self.amazon().get_charge_permission(id).await.map_err(CoreError::from)?;
        let mut moved = 0;
        let orders = self.platform().orders_by_charge_permission(&permission.charge_permission_id).await;
        for order in orders.map_err(CoreError::from)? {
            if order.state == OrderState::Canceled {
                continue;
            }
            moved += usize::from(self.sync_order(&order, Actor::Notification).await?);
        }
        let ended = self.platform().end_subscription(&permission.charge_permission_id);
        if permission.status_details.state == ChargePermissionState::Closed && ended.await.map_err(CoreError::from)? {
            tracing::info!(charge_permission = %permission.charge_permission_id, "subscription ended: Amazon closed its charge permission");
            moved += 1;
        }
        Ok(Handled { moved, confirmed: true })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    /// Serves `body` at every path on loopback; answers its address and a count of requests.
    async fn serve(body: Vec<u8>) -> (SocketAddr, Arc<AtomicUsize>) {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let router = axum::Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move { body }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (addr, requests)
    }

    #[tokio::test]
    async fn amazons_real_certificate_is_trusted_through_the_issuer_it_names() {
        // Amazon's own SNS certificate, served alone as SNS serves it; its issuer (Amazon RSA 2048
        // M01) is published at the caIssuers URL the certificate names, answered here from
        // loopback under Amazon's host name (see tests/fixtures/sns/amazon/README.md).
        let pem = include_bytes!("../../tests/fixtures/sns/amazon/sns_signing_certificate_2024.pem");
        let issuer = include_bytes!("../../tests/fixtures/sns/amazon/amazon_rsa_2048_m01.pem");
        let (addr, requests) = serve(crate::amazon::sns::issuer_der(issuer).unwrap()).await;
        let http = super::super::client::http_client_builder()
            .unwrap()
            .resolve("crt.r2m01.amazontrust.com", addr)
            .build()
            .unwrap();
        let certificates = Certificates::with_client(http, Vec::new());
        let url = check_cert_url(
            "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-60eadc530605d63b8e62a523676ef735.pem",
            &[],
        )
        .unwrap();
        let signed_at = 1_722_508_540; // 2024-08-01T10:35:40Z, when SNS signed with it
        let ends = 1_732_147_199; // 2024-11-20T23:59:59Z
        assert_eq!(certificates.check_at(&url, pem, signed_at).await.unwrap(), ends);
        assert_eq!(requests.load(Ordering::SeqCst), 1, "its issuer fetched once");
        assert_eq!(certificates.check_at(&url, pem, signed_at).await.unwrap(), ends);
        assert_eq!(requests.load(Ordering::SeqCst), 1, "and kept");
        assert!(matches!(
            certificates.check_at(&url, pem, ends + 1).await,
            Err(NotificationError::Refused(SnsError::CertificateNotValidNow))
        ));
    }

    #[tokio::test]
    async fn a_signing_certificates_chain_is_checked_once_while_it_is_kept() {
        let now = unix_now();
        let signer = crate::simulator::SnsSigner::generate(now - 3600, now + 86_400).unwrap();
        let (addr, requests) = serve(signer.certificate_pem().into_bytes()).await;
        let origin = format!("http://{addr}");
        let certificates = Certificates::new(vec![origin.clone()]).unwrap();
        let url = check_cert_url(&format!("{origin}/{}", signer.file_name()), &[origin.as_str()]).unwrap();
        for _ in 0..3 {
            assert_eq!(*certificates.signing(&url).await.unwrap(), signer.certificate_pem().into_bytes());
        }
        assert_eq!(requests.load(Ordering::SeqCst), 1, "fetched once");
        assert_eq!(certificates.chain_checks.load(Ordering::SeqCst), 1, "checked once, then trusted");
    }

    #[test]
    fn configured_topics_are_the_only_ones_followed_else_every_topic_is() {
        let ours = "arn:aws:sns:ap-northeast-1:123456789012:ours".to_owned();
        let theirs = "arn:aws:sns:ap-northeast-1:210987654321:theirs";
        assert_eq!(topic_check(std::slice::from_ref(&ours), &ours), TopicCheck::Configured);
        assert_eq!(topic_check(std::slice::from_ref(&ours), theirs), TopicCheck::Refused);
        assert_eq!(topic_check(&[], theirs), TopicCheck::Unlisted);
    }

    #[test]
    fn a_topic_seen_again_is_written_once_a_minute_a_confirmed_sighting_at_once() {
        let sightings = TopicSightings::default();
        let start = Instant::now();
        assert!(sightings.due_at("arn:a", false, start), "the first sighting");
        assert!(!sightings.due_at("arn:a", false, start + Duration::from_secs(59)));
        assert!(sightings.due_at("arn:a", true, start + Duration::from_secs(1)), "the first confirmed one");
        assert!(!sightings.due_at("arn:a", true, start + Duration::from_secs(2)));
        assert!(sightings.due_at("arn:b", false, start), "another topic");
        assert!(sightings.due_at("arn:a", false, start + Duration::from_secs(60)), "a minute later");
    }

    #[test]
    fn topic_arns_are_recognised() {
        for good in [
            "arn:aws:sns:us-east-1:291180941288:A3BXB0YN3XH17HAQR8184NJXADU",
            "arn:aws:sns:ap-northeast-1:000000000000:amazonpay-simulator-A1SIMULATOR",
            "arn:aws-cn:sns:cn-north-1:123456789012:t_1",
        ] {
            assert!(is_topic_arn(good), "{good}");
        }
        for bad in [
            "",
            "invalid",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "arn:aws:sns:us-east-1:12345:t",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:t:subscription",
            "arn:aws:sns:us east:123456789012:t",
        ] {
            assert!(!is_topic_arn(bad), "{bad}");
        }
    }

    #[test]
    fn the_read_budget_allows_its_reads_then_refuses_until_it_refills() {
        let budget = ReadBudget::new(3);
        let start = Instant::now();
        assert!((0..3).all(|_| budget.take_at(start)));
        assert!(!budget.take_at(start), "the fourth read of the minute");
        assert!(budget.take_at(start + Duration::from_secs(20)), "a third of a minute gives one back");
        assert!(!budget.take_at(start + Duration::from_secs(20)));
        // Ten minutes later: full again, but never more than a minute's worth.
        let later = start + Duration::from_secs(600);
        assert!((0..3).all(|_| budget.take_at(later)));
        assert!(!budget.take_at(later));
    }
}
