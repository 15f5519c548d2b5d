//! Amazon's instant payment notifications (IPN): an Amazon SNS envelope saying that a charge, a
//! refund or a charge permission changed.
//!
//! Nothing in an envelope is believed before its SNS signature verifies, and nothing in the
//! message is believed after: it only names the object, which is then read from Amazon's API and
//! followed ([`Core::sync_order`]). The certificate is fetched only from a URL that
//! [`check_cert_url`] allows (`https://sns.<region>.amazonaws.com/….pem`, or an origin the shop
//! named for a simulator), with a timeout and a size bound, and kept for a day; so a forged
//! envelope can neither make the shop fetch an address of its choosing nor move an order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use super::orders::{Actor, OrderState};
use super::{Core, CoreError};
use crate::amazon::sns::{
    Envelope, IpnMessage, MAX_CERTIFICATE_BYTES, MessageType, ObjectType, SnsError, check_cert_url,
};

/// How long fetching a signing certificate may take.
const CERTIFICATE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched certificate is used before it is fetched again. SNS rotates its
/// certificates rarely and under a new URL.
const CERTIFICATE_KEPT: Duration = Duration::from_secs(24 * 60 * 60);
/// Certificates kept at most (SNS uses one per region at a time).
const CERTIFICATES_KEPT: usize = 8;

/// Why a notification was not acted on.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// Not an envelope, not signed by SNS, or its certificate URL is not allowed: never from
    /// Amazon, so never retried usefully.
    #[error("{0}")]
    Refused(#[from] SnsError),
    /// The certificate could not be fetched now (Amazon retries the delivery).
    #[error("the signing certificate could not be fetched: {0}")]
    CertificateUnavailable(String),
    /// Signed, but for another merchant.
    #[error("the notification is for merchant {0}, not this shop")]
    ForeignMerchant(String),
}

/// A verified envelope.
#[derive(Debug)]
pub enum Verified {
    /// An Amazon Pay notification, for this merchant.
    Notification(IpnMessage),
    /// A subscription or unsubscription confirmation. SNS sends one when a topic is subscribed to
    /// an HTTP endpoint; Amazon Pay subscribes merchants itself, so it is only logged, and its
    /// `SubscribeURL` is never followed.
    Confirmation(MessageType),
}

/// What a notification did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Orders moved to what Amazon says.
    Moved(usize),
    /// Amazon's object agrees with the shop already, or names nothing the shop knows.
    Unchanged,
}

/// Certificates by URL, with when they were fetched.
type Kept = HashMap<String, (Arc<Vec<u8>>, Instant)>;

/// SNS signing certificates, fetched from allowed URLs only and kept for a while.
pub struct Certificates {
    http: reqwest::Client,
    /// Origins allowed besides SNS's own hosts (a simulator's).
    extra_origins: Vec<String>,
    kept: Mutex<Kept>,
}

impl Certificates {
    /// Certificates from SNS's hosts, and from `extra_origins` (`scheme://host[:port]`).
    pub fn new(extra_origins: Vec<String>) -> Result<Self, super::AmazonError> {
        let http = super::client::http_client()?;
        Ok(Self { http, extra_origins, kept: Mutex::default() })
    }

    /// The PEM certificate at `url` (already checked).
    async fn get(&self, url: &Url) -> Result<Arc<Vec<u8>>, NotificationError> {
        let key = url.as_str().to_owned();
        if let Some((pem, at)) = self.lock().get(&key)
            && at.elapsed() < CERTIFICATE_KEPT
        {
            return Ok(pem.clone());
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
        let pem = read_bounded(response).await?;
        let pem = Arc::new(pem);
        let mut kept = self.lock();
        if kept.len() >= CERTIFICATES_KEPT {
            kept.clear();
        }
        kept.insert(key, (pem.clone(), Instant::now()));
        Ok(pem)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding the map leaves it consistent (inserts are whole).
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

impl Core {
    /// Verifies an envelope as it arrived: parsed within its size bound, its certificate URL
    /// allowed, the certificate fetched, the signature checked, and (for a notification) the
    /// merchant this shop.
    pub async fn verify_notification(&self, body: &[u8]) -> Result<Verified, NotificationError> {
        let envelope = Envelope::parse(body)?;
        let extra: Vec<&str> = self.certificates.extra_origins.iter().map(String::as_str).collect();
        let url = check_cert_url(&envelope.signing_cert_url, &extra)?;
        let certificate = self.certificates.get(&url).await?;
        envelope.verify(&certificate)?;
        if envelope.kind != MessageType::Notification {
            return Ok(Verified::Confirmation(envelope.kind));
        }
        let message = envelope.ipn()?;
        if message.merchant_id != self.settings().amazon.merchant_id {
            return Err(NotificationError::ForeignMerchant(message.merchant_id.chars().take(32).collect()));
        }
        Ok(Verified::Notification(message))
    }

    /// Follows the object a verified notification names: the orders it belongs to move to what
    /// Amazon's API says of it now. The `NotificationType` (`STATE_CHANGE`, `ATTRIBUTE_CHANGE`)
    /// changes nothing: either way the object is read again and followed.
    pub async fn handle_notification(&self, message: &IpnMessage) -> Result<Handled, CoreError> {
        let actor = Actor::Notification;
        let moved = match message.object_type {
            ObjectType::Charge => match self.platform().order_by_charge(&message.object_id).await? {
                Some(order) => usize::from(self.sync_order(&order, actor).await?),
                // A charge the shop has not recorded yet: its checkout is still completing, and
                // the completion (or the reconciler) records it.
                None => 0,
            },
            ObjectType::Refund => usize::from(self.sync_refund(&message.object_id, actor).await?),
            ObjectType::ChargePermission => self.follow_charge_permission(&message.object_id).await?,
            // A chargeback is disputed in Seller Central; the merchant API has no object for it.
            // What it can read is re-read: the charge permission and its orders' charges.
            ObjectType::Chargeback => {
                let Some(permission) = message.charge_permission_id.as_deref() else { return Ok(Handled::Unchanged) };
                tracing::warn!(chargeback = %message.object_id, charge_permission = permission, "Amazon reports a chargeback; answer it in Seller Central");
                self.follow_charge_permission(permission).await?
            }
            // Kinds Amazon may add are for the shop owner in Seller Central.
            ObjectType::Other(_) => {
                tracing::info!(kind = message.object_type.as_str(), id = %message.object_id, "notification left to Seller Central");
                0
            }
        };
        Ok(if moved > 0 { Handled::Moved(moved) } else { Handled::Unchanged })
    }

    /// A charge permission changed (closed in Seller Central, or its chargeable state changed):
    /// its orders follow their charges, and a closed recurring one ends its subscription.
    async fn follow_charge_permission(&self, id: &str) -> Result<usize, CoreError> {
        let permission = self.amazon().get_charge_permission(id).await?;
        let mut moved = 0;
        for order in self.platform().orders_by_charge_permission(&permission.charge_permission_id).await? {
            if order.state == OrderState::Canceled {
                continue;
            }
            moved += usize::from(self.sync_order(&order, Actor::Notification).await?);
        }
        if permission.status_details.state == "Closed"
            && self.platform().end_subscription(&permission.charge_permission_id).await?
        {
            tracing::info!(charge_permission = %permission.charge_permission_id, "subscription ended: Amazon closed its charge permission");
            moved += 1;
        }
        Ok(moved)
    }
}
