//! Instant payment notifications (IPN), sent as Amazon Pay sends them: an Amazon SNS HTTP
//! notification per change of a Charge, Refund or Charge Permission (`NotificationType`
//! `STATE_CHANGE`, or `ATTRIBUTE_CHANGE` for a change that keeps the state) and per chargeback
//! (`ObjectType` `CHARGEBACK`), the types Amazon's IPN documentation names, POSTed to the
//! merchant's IPN endpoint with `Content-Type: text/plain; charset=UTF-8` and SNS's headers
//! (`x-amz-sns-message-type`, `x-amz-sns-message-id`, `x-amz-sns-topic-arn`), signed with the
//! simulator's own SNS key ([`SnsSigner`]), whose certificate the simulator serves at the
//! envelope's `SigningCertURL`.
//!
//! Like Amazon, the simulator notifies only a merchant who has set an IPN endpoint (in Seller
//! Central there; here the first merchant's with `POST /__simulator/ipn` or
//! [`Simulator::with_ipn_endpoint`], any merchant's with
//! `POST /__simulator/merchants/{id}/ipn-url` or its Seller Central page): notifications are
//! **off until an endpoint is set**, so that tests and demos that do not listen are not sent
//! anything. `{"enabled": true}` uses the first shop's own `<shop origin>/api/amazonpay2/ipn.php`.
//! Each merchant's notifications go to its own endpoint, name it as `MerchantID` and come from
//! its own topic.
//!
//! Delivery never blocks an API answer: each notification is queued on its object's lane and
//! sent in the background, in order per object, and retried with doubling waits while the
//! endpoint does not answer 2xx, up to a bounded number of attempts (SNS retries too, and
//! Amazon's own documentation warns that notifications can arrive more than once). The test
//! controls list every delivery with its status, redeliver one, and make the next notification
//! arrive twice with the same `NotificationId`, so that a shop can prove its handling is
//! idempotent.

mod controls;
mod signer;

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use url::Url;

use super::checkout::{Change, ChangeKind, ChangedObject};
use super::{Simulator, lock};
use crate::amazon::signature::hex;
use crate::amazon::sns::{Envelope, IpnMessage, MessageType, ObjectType, SignatureVersion};

pub(super) use controls::routes as controls;
pub use signer::SnsSigner;

/// The AWS region of the simulator's topic: Amazon Pay Japan's region is not published; the
/// Tokyo region makes the ARNs look like what a Japanese merchant would expect.
const REGION: &str = "ap-northeast-1";
/// How many deliveries the log keeps (the oldest are forgotten first).
const LOG_CAPACITY: usize = 1000;
/// A lane with nothing to send for this long ends (a new notification starts a new one).
const LANE_IDLE: Duration = Duration::from_secs(30);
/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The validity of the simulator's signing certificate.
const CERTIFICATE_LIFETIME: u64 = 365 * 24 * 60 * 60;

/// How notifications are sent (where: each merchant's IPN URL, in the merchant registry).
#[derive(Clone, Debug)]
struct Settings {
    version: SignatureVersion,
    /// Requests per notification at most, the first included.
    attempts: u32,
    /// The wait before the first retry; doubled for each further one.
    first_delay: Duration,
    /// The longest wait between two attempts.
    max_delay: Duration,
    /// How many of the next notifications are sent twice.
    duplicates: u32,
}

impl Default for Settings {
    /// SignatureVersion 1 (what Amazon Pay's IPNs use); six attempts waiting 1, 2, 4, 8 and 16 s
    /// in between.
    fn default() -> Self {
        Self {
            version: SignatureVersion::V1,
            attempts: 6,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            duplicates: 0,
        }
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Status {
    /// Queued or being retried.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

/// One notification sent to the endpoint, as the test control lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    id: u64,
    /// The merchant notified.
    merchant_id: String,
    url: String,
    /// The merchant's topic, as its `x-amz-sns-topic-arn` header names it.
    topic_arn: String,
    message_id: String,
    notification_id: String,
    object_type: String,
    object_id: String,
    charge_permission_id: String,
    signature_version: String,
    status: Status,
    attempts: u32,
    max_attempts: u32,
    /// The HTTP status of each answered attempt, in order.
    responses: Vec<u16>,
    last_error: Option<String>,
    /// This delivery repeats the notification of another (the duplicate control).
    duplicate_of: Option<u64>,
    /// This delivery resends the envelope of another (the redeliver control).
    redelivery_of: Option<u64>,
    created: String,
    /// The envelope exactly as sent.
    body: String,
    #[serde(skip)]
    first_delay: Duration,
    #[serde(skip)]
    max_delay: Duration,
}

/// The simulator's notification machinery.
#[derive(Default)]
pub(super) struct Notifier {
    settings: Mutex<Settings>,
    log: Mutex<VecDeque<Delivery>>,
    next_id: Mutex<u64>,
    /// One lane per object: notifications of one object are delivered in order.
    lanes: Mutex<HashMap<String, UnboundedSender<u64>>>,
    signer: OnceLock<Result<SnsSigner, String>>,
    http: OnceLock<Result<reqwest::Client, String>>,
    /// The origin requests reach the simulator at (their `Host`), for `SigningCertURL`, and
    /// whether a signed API request reached it.
    seen_origin: Mutex<Option<(String, bool)>>,
}

impl Notifier {
    /// The signing identity, made on first use.
    fn signer(&self) -> Result<&SnsSigner, String> {
        self.signer
            .get_or_init(|| {
                let now = real_now();
                // An hour back: clocks of the receiver may be a little behind.
                SnsSigner::generate(now.saturating_sub(3600), now + CERTIFICATE_LIFETIME)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn http(&self) -> Result<&reqwest::Client, String> {
        self.http.get_or_init(http_client).as_ref().map_err(Clone::clone)
    }
}

impl Simulator {
    /// Turns the first merchant's notifications on, sent to `endpoint` (as a merchant sets the
    /// IPN URL in Seller Central). Notifications are off until an endpoint is set.
    ///
    /// # Errors
    /// When `endpoint` is not an absolute http(s) URL.
    pub fn with_ipn_endpoint(self, endpoint: &str) -> Result<Self, String> {
        let url = endpoint_url(endpoint)?;
        let first = self.first_merchant_id().to_owned();
        lock(&self.inner.merchants).set_ipn_url(&first, Some(url)).map_err(|refusal| refusal.to_string())?;
        Ok(self)
    }

    /// Remembers the origin a request reached the simulator at. `SigningCertURL` lies on the
    /// origin the merchant's signed API requests reach (the shop fetches the certificate from
    /// where it calls the API); before any, on the first origin any request reached.
    pub(super) fn saw_host(&self, host: &str, api: bool) {
        let valid = !host.is_empty()
            && host.len() <= 255
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        if !valid {
            return;
        }
        let origin = format!("http://{host}");
        let mut seen = lock(&self.inner.notifier.seen_origin);
        match (&*seen, api) {
            (_, true) => *seen = Some((origin, true)),
            (None, false) => *seen = Some((origin, false)),
            (Some(_), false) => {}
        }
    }

    /// The simulator's own origin for the URLs in its notifications.
    fn notification_origin(&self) -> String {
        if let Some((origin, _)) = lock(&self.inner.notifier.seen_origin).clone() {
            return origin;
        }
        self.inner.public_origin.get().cloned().unwrap_or_else(|| "http://localhost".to_owned())
    }

    /// `arn:aws:sns:<region>:<account>:<name>`, one topic per merchant.
    fn topic_arn(merchant_id: &str) -> String {
        format!("arn:aws:sns:{REGION}:000000000000:amazonpay-simulator-{merchant_id}")
    }

    /// Sends a notification for each change to its merchant's endpoint, when it has set one.
    pub(super) fn notify(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let settings = lock(&self.inner.notifier.settings).clone();
        for change in changes {
            let Some(endpoint) = self.ipn_url(&change.merchant_id) else {
                continue;
            };
            let message = IpnMessage {
                merchant_id: change.merchant_id.clone(),
                object_type: match change.object {
                    ChangedObject::Charge => ObjectType::Charge,
                    ChangedObject::Refund => ObjectType::Refund,
                    ChangedObject::ChargePermission => ObjectType::ChargePermission,
                    ChangedObject::Chargeback => ObjectType::Chargeback,
                },
                object_id: change.id.clone(),
                charge_permission_id: Some(change.permission_id.clone()),
                notification_type: match change.kind {
                    ChangeKind::State => "STATE_CHANGE",
                    ChangeKind::Attribute => "ATTRIBUTE_CHANGE",
                }
                .to_owned(),
                notification_id: self.uuid(),
                notification_version: "V2".to_owned(),
            };
            let twice = {
                let mut current = lock(&self.inner.notifier.settings);
                let twice = current.duplicates > 0;
                current.duplicates = current.duplicates.saturating_sub(1);
                twice
            };
            let first = self.publish(&endpoint, &settings, &message, None);
            if twice && let Some(first) = first {
                self.publish(&endpoint, &settings, &message, Some(first));
            }
        }
    }

    /// Signs an envelope for `message`, logs it and queues it on its object's lane.
    fn publish(
        &self,
        endpoint: &Url,
        settings: &Settings,
        message: &IpnMessage,
        duplicate_of: Option<u64>,
    ) -> Option<u64> {
        let notifier = &self.inner.notifier;
        let signer = match notifier.signer() {
            Ok(signer) => signer,
            Err(problem) => {
                tracing::error!(%problem, "the simulator cannot sign notifications");
                return None;
            }
        };
        let origin = self.notification_origin();
        let topic = Self::topic_arn(&message.merchant_id);
        let mut envelope = Envelope {
            kind: MessageType::Notification,
            message_id: self.uuid(),
            topic_arn: topic.clone(),
            subject: None,
            message: message.to_json(),
            timestamp: sns_timestamp(),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: format!("{origin}/{}", signer.file_name()),
            unsubscribe_url: Some(format!("{origin}/?Action=Unsubscribe&SubscriptionArn={topic}:{}", self.uuid())),
            subscribe_url: None,
            token: None,
        };
        if let Err(problem) = signer.sign(&mut envelope, settings.version) {
            tracing::error!(%problem, "the simulator could not sign a notification");
            return None;
        }
        let id = {
            let mut next = lock(&notifier.next_id);
            *next += 1;
            *next
        };
        let delivery = Delivery {
            id,
            merchant_id: message.merchant_id.clone(),
            url: endpoint.to_string(),
            topic_arn: topic,
            message_id: envelope.message_id.clone(),
            notification_id: message.notification_id.clone(),
            object_type: message.object_type.to_string(),
            object_id: message.object_id.clone(),
            charge_permission_id: message.charge_permission_id.clone().unwrap_or_default(),
            signature_version: envelope.signature_version.clone(),
            status: Status::Pending,
            attempts: 0,
            max_attempts: settings.attempts,
            responses: Vec::new(),
            last_error: None,
            duplicate_of,
            redelivery_of: None,
            created: sns_timestamp(),
            body: envelope.to_json(),
            first_delay: settings.first_delay,
            max_delay: settings.max_delay,
        };
        self.enqueue(delivery);
        Some(id)
    }

    /// Logs a delivery and hands it to its object's lane.
    fn enqueue(&self, delivery: Delivery) {
        let notifier = &self.inner.notifier;
        let (id, object) = (delivery.id, delivery.object_id.clone());
        {
            let mut log = lock(&notifier.log);
            if log.len() >= LOG_CAPACITY {
                log.pop_front();
            }
            log.push_back(delivery);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.update(id, |delivery| {
                delivery.status = Status::Failed;
                delivery.last_error = Some("no async runtime to deliver from".into());
            });
            return;
        };
        let mut lanes = lock(&notifier.lanes);
        if let Some(lane) = lanes.get(&object)
            && lane.send(id).is_ok()
        {
            return;
        }
        let (sender, receiver) = unbounded_channel();
        // A fresh channel's receiver is held below: sending cannot fail.
        let _ = sender.send(id);
        lanes.insert(object.clone(), sender);
        runtime.spawn(lane(self.clone(), object, receiver));
    }

    /// Changes a logged delivery.
    fn update(&self, id: u64, change: impl FnOnce(&mut Delivery)) {
        let mut log = lock(&self.inner.notifier.log);
        if let Some(delivery) = log.iter_mut().find(|d| d.id == id) {
            change(delivery);
        }
    }

    /// A random UUID (version 4 layout), as SNS's message IDs and Amazon's notification IDs.
    fn uuid(&self) -> String {
        let mut bytes = self.random_bytes::<16>();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = hex(&bytes);
        format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
    }
}

/// Sends the deliveries of one object, one after the other.
async fn lane(simulator: Simulator, object: String, mut receiver: UnboundedReceiver<u64>) {
    loop {
        let id = match tokio::time::timeout(LANE_IDLE, receiver.recv()).await {
            Ok(Some(id)) => id,
            Ok(None) => return,
            Err(_idle) => {
                // Retire, unless a delivery arrived while the lane was being retired.
                let mut lanes = lock(&simulator.inner.notifier.lanes);
                match receiver.try_recv() {
                    Ok(id) => {
                        drop(lanes);
                        id
                    }
                    Err(_) => {
                        lanes.remove(&object);
                        return;
                    }
                }
            }
        };
        deliver(&simulator, id).await;
    }
}

/// Attempts one delivery until the endpoint answers 2xx or the attempts run out.
async fn deliver(simulator: &Simulator, id: u64) {
    let Some(delivery) = lock(&simulator.inner.notifier.log).iter().find(|d| d.id == id).cloned() else {
        return;
    };
    let client = match simulator.inner.notifier.http() {
        Ok(client) => client.clone(),
        Err(problem) => {
            simulator.update(id, |d| {
                d.status = Status::Failed;
                d.last_error = Some(problem);
            });
            return;
        }
    };
    let topic = &delivery.topic_arn;
    for attempt in 1..=delivery.max_attempts.max(1) {
        let sent = client
            .post(&delivery.url)
            .header("content-type", "text/plain; charset=UTF-8")
            .header("user-agent", "Amazon Simple Notification Service Agent")
            .header("x-amz-sns-message-type", MessageType::Notification.as_str())
            .header("x-amz-sns-message-id", &delivery.message_id)
            .header("x-amz-sns-topic-arn", topic)
            .header("x-amz-sns-subscription-arn", format!("{topic}:simulator"))
            .body(delivery.body.clone())
            .send()
            .await;
        let delivered = match sent {
            Ok(response) => {
                let status = response.status();
                simulator.update(id, |d| {
                    d.attempts = attempt;
                    d.responses.push(status.as_u16());
                    d.last_error = (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
                });
                status.is_success()
            }
            Err(error) => {
                simulator.update(id, |d| {
                    d.attempts = attempt;
                    d.last_error = Some(error.to_string());
                });
                false
            }
        };
        if delivered {
            simulator.update(id, |d| d.status = Status::Delivered);
            return;
        }
        if attempt < delivery.max_attempts {
            let wait = delivery.first_delay.saturating_mul(1 << (attempt - 1).min(16)).min(delivery.max_delay);
            tokio::time::sleep(wait).await;
        }
    }
    simulator.update(id, |d| d.status = Status::Failed);
}

/// An IPN endpoint: an absolute http(s) URL with a host.
pub(in crate::simulator) fn endpoint_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|_| format!("'{value}' is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("'{value}' is not an http(s) URL"));
    }
    Ok(url)
}

/// SNS's timestamp: ISO 8601, UTC, milliseconds (`2024-05-02T00:54:06.655Z`).
fn sns_timestamp() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"))
        .unwrap_or_default()
}

fn real_now() -> u64 {
    OffsetDateTime::now_utc().unix_timestamp().max(0).unsigned_abs()
}

/// The client notifications are sent with: rustls over aws-lc-rs with the web's roots (a shop's
/// endpoint in production is https), no redirects (SNS follows none).
/// Name resolution as browsers do it: `localhost` and every `*.localhost` name is this machine
/// (RFC 6761 §6.3), whatever the system's resolver says (glibc resolves `localhost` alone), so
/// that the demo's `shop2.localhost` is notified as a browser reaches it; other names as the
/// system resolves them.
struct LocalhostNames;

impl reqwest::dns::Resolve for LocalhostNames {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = if name == "localhost" || name.ends_with(".localhost") {
                vec![(std::net::Ipv4Addr::LOCALHOST, 0).into(), (std::net::Ipv6Addr::LOCALHOST, 0).into()]
            } else {
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn http_client() -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .dns_resolver(std::sync::Arc::new(LocalhostNames))
        .connect_timeout(Duration::from_secs(3))
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())
}
