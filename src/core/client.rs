//! The Amazon Pay API client: signed requests to the Japanese endpoint (or the simulator),
//! timeouts, retries with backoff, and Amazon's errors as values.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::macros::format_description;
use url::Url;

use super::idempotency;
use super::key::KeyHandle;
use super::notifications::ReadBudget;
use super::pacing::Pacer;
use super::random::Randomness;
use super::settings::AmazonAccount;
use crate::amazon::canonical;
use crate::amazon::quotas::ApiOperation;
use crate::amazon::signature::string_to_sign;
use crate::amazon::types::{AmazonErrorBody, Buyer, Charge, ChargePermission, CheckoutSession, Money, Refund};
use crate::contract::AMAZON_SIGNATURE_ALGORITHM;

/// Why a call to Amazon did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmazonError {
    /// Amazon answered with an error of its own (`{reasonCode, message}`), not worth retrying.
    #[error("Amazon Pay refused the request ({status} {reason_code}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Amazon's reason code, e.g. `InvalidParameterValue`.
        reason_code: String,
        /// Amazon's message.
        message: String,
    },
    /// Amazon could not be reached, or kept failing, through every attempt.
    #[error("Amazon Pay unavailable after {attempts} attempt(s): {last}")]
    Unavailable {
        /// How many requests were sent.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Amazon's answer was not what its API documents.
    #[error("unexpected answer from Amazon Pay: {0}")]
    Decode(String),
    /// The client could not be set up (TLS, URL).
    #[error("Amazon Pay client setup failed: {0}")]
    Setup(String),
    /// An ID that cannot name an Amazon object (empty, `.` or `..`); nothing was sent.
    #[error("'{0}' is not an Amazon Pay ID")]
    InvalidId(String),
    /// An idempotency key Amazon would refuse (more than 32 characters, or others than
    /// `a-z A-Z 0-9 - _`), or none could be made (the random source failed); nothing was sent.
    #[error("no usable idempotency key: {0}")]
    InvalidIdempotencyKey(String),
    /// The shop has no keys yet: nothing can be signed, so nothing was sent.
    #[error("this shop's Amazon Pay keys are not set up yet")]
    NotSetUp,
    /// A read for a notification beyond this minute's budget ([`reads_budgeted`]); nothing was
    /// sent.
    #[error("too many reads of Amazon for notifications this minute")]
    ReadsSpent,
}

tokio::task_local! {
    /// While a notification is followed: the budget every request to Amazon's API is taken from.
    /// The reads a notification causes are made deep in code shared with the reconciler and the
    /// owner's pages (a charge, each refund in progress, a checkout session); counting them
    /// where they are sent counts every one of them, and only those of notifications.
    static NOTIFICATION_READS: Arc<ReadBudget>;
}

/// Runs `work` with every request it sends to Amazon taken from `budget` (one per request sent,
/// retries included); a request beyond it fails with [`AmazonError::ReadsSpent`] unsent.
pub(super) async fn reads_budgeted<F: std::future::Future>(budget: Arc<ReadBudget>, work: F) -> F::Output {
    NOTIFICATION_READS.scope(budget, work).await
}

/// Whether a request may be sent now: always, but within [`reads_budgeted`] when none is left.
fn read_allowed() -> bool {
    NOTIFICATION_READS.try_with(|budget| budget.take()).unwrap_or(true)
}

impl AmazonError {
    /// Amazon's reason code, when Amazon answered with one.
    pub fn reason_code(&self) -> Option<&str> {
        match self {
            Self::Rejected { reason_code, .. } => Some(reason_code),
            _ => None,
        }
    }
}

/// How failed calls are retried (408, 425, 429, 5xx, timeouts and connection failures).
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Requests sent at most, the first included.
    pub attempts: u32,
    /// The wait before the first retry; doubled for each further one.
    pub first_delay: Duration,
    /// The longest wait, also for a `Retry-After` from Amazon.
    pub max_delay: Duration,
}

impl Default for Retry {
    /// Four requests at most (Amazon's SDKs retry three times), waiting 0.2, 0.4 and 0.8 s.
    fn default() -> Self {
        Self { attempts: 4, first_delay: Duration::from_millis(200), max_delay: Duration::from_secs(3) }
    }
}

/// How the client waits between attempts: tokio's timer, or a test's that records the waits it
/// is asked for (so that a test reads the waits the client computed, not a clock).
pub trait Sleeper: Send + Sync {
    /// Waits `wait`.
    fn sleep(&self, wait: Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

/// tokio's timer.
struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, wait: Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A signed-request client for one merchant.
pub struct AmazonPayClient {
    http: reqwest::Client,
    /// `https://pay-api.amazon.jp`, with the environment path (`/v2`, `/live/v2`, `/sandbox/v2`).
    base: String,
    host: String,
    /// `None` for a shop whose keys are not set up yet: every call is refused unsent.
    key: Option<KeyHandle>,
    public_key_id: String,
    randomness: Arc<dyn Randomness>,
    retry: Retry,
    sleeper: Arc<dyn Sleeper>,
    /// The turns of this merchant's calls within Amazon's quotas; `None` when lifted.
    pacer: Option<Arc<Pacer>>,
}

impl AmazonPayClient {
    /// A client for `account`, sending to `api_base` (Amazon's host, or the simulator).
    pub fn new(api_base: &Url, account: &AmazonAccount, key: impl Into<KeyHandle>) -> Result<Self, AmazonError> {
        Self::with_key(api_base, account, Some(key.into()))
    }

    /// The client of a shop whose keys are not set up yet: every call is refused unsent with
    /// [`AmazonError::NotSetUp`].
    pub fn without_key(api_base: &Url, account: &AmazonAccount) -> Result<Self, AmazonError> {
        Self::with_key(api_base, account, None)
    }

    fn with_key(api_base: &Url, account: &AmazonAccount, key: Option<KeyHandle>) -> Result<Self, AmazonError> {
        let host = match (api_base.host_str(), api_base.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(AmazonError::Setup("the API base has no host".into())),
        };
        // A key ID with an environment prefix selects the environment itself; an unprefixed one
        // needs it in the path (Amazon's SDKs do the same).
        let environment = match crate::amazon::key_id_sandbox(&account.public_key_id) {
            Some(_) => "",
            None if account.sandbox => "/sandbox",
            None => "/live",
        };
        let base = format!("{}{environment}/v2", api_base.as_str().trim_end_matches('/'));
        let sandbox = crate::amazon::key_id_sandbox(&account.public_key_id).unwrap_or(account.sandbox);
        let pacer = Pacer::of(&base, &account.public_key_id, sandbox);
        Ok(Self {
            http: http_client()?,
            base,
            host,
            key,
            public_key_id: account.public_key_id.clone(),
            randomness: Arc::new(SystemRandom::new()),
            retry: Retry::default(),
            sleeper: Arc::new(TokioSleeper),
            pacer: Some(pacer),
        })
    }

    /// Sends every call at once, without waiting for its turn within Amazon's quotas: only for
    /// measuring this program's own cost against a simulator whose quotas are lifted too.
    #[must_use]
    pub fn without_pacing(mut self) -> Self {
        self.pacer = None;
        self
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the random source of the keys of POSTs that name none (and of the backoff's
    /// jitter): the system's by default.
    pub fn with_randomness(mut self, randomness: Arc<dyn Randomness>) -> Self {
        self.randomness = randomness;
        self
    }

    /// Replaces how the waits between attempts are waited (tests record them).
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// `GET buyers/{buyerToken}`: who signed in.
    pub async fn get_buyer(&self, buyer_token: &str) -> Result<Buyer, AmazonError> {
        self.call(Method::GET, &format!("buyers/{}", segment(buyer_token)?), None::<&()>).await
    }

    /// `GET checkoutSessions/{id}`.
    pub async fn get_checkout_session(&self, id: &str) -> Result<CheckoutSession, AmazonError> {
        self.call(Method::GET, &format!("checkoutSessions/{}", segment(id)?), None::<&()>).await
    }

    /// `PATCH checkoutSessions/{id}`.
    pub async fn update_checkout_session(
        &self,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<CheckoutSession, AmazonError> {
        self.call(Method::PATCH, &format!("checkoutSessions/{}", segment(id)?), Some(body)).await
    }

    /// `POST checkoutSessions/{id}/complete`. `idempotency_key` makes a retried completion
    /// answer the first completion's answer.
    pub async fn complete_checkout_session(
        &self,
        id: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, AmazonError> {
        let body = serde_json::json!({ "chargeAmount": amount });
        let resource = format!("checkoutSessions/{}/complete", segment(id)?);
        self.call_with_key(Method::POST, &resource, Some(&body), Some(idempotency_key.to_owned())).await
    }

    /// `GET charges/{id}`.
    pub async fn get_charge(&self, id: &str) -> Result<Charge, AmazonError> {
        self.call(Method::GET, &format!("charges/{}", segment(id)?), None::<&()>).await
    }

    /// `POST charges`: a charge on a charge permission. `idempotency_key` makes a retried or
    /// repeated call charge once. A decline is Amazon's error answer (`HardDeclined`,
    /// `SoftDeclined`, `PaymentMethodNotAllowed`, `TransactionTimedOut`, `MFANotCompleted`,
    /// `AmazonRejected`; `ProcessingFailure` with a 500), never a charge.
    pub async fn create_charge(&self, body: &serde_json::Value, idempotency_key: &str) -> Result<Charge, AmazonError> {
        self.call_with_key(Method::POST, "charges", Some(body), Some(idempotency_key.to_owned())).await
    }

    /// `POST checkoutSessions`: a checkout session from the create payload (the same JSON a
    /// checkout button carries). `idempotency_key` makes a retried or repeated call create one
    /// session: the same key with the same body answers the same session, with another body
    /// Amazon's `DuplicateIdempotencyKey`.
    pub async fn create_checkout_session(
        &self,
        body: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, AmazonError> {
        self.call_with_key(Method::POST, "checkoutSessions", Some(body), Some(idempotency_key.to_owned())).await
    }

    /// Amazon's clock: the `Date` of its API host's answer to an unsigned request (every answer
    /// has one, a refusal too), as Unix seconds. Amazon refuses a signature whose date is more
    /// than 15 minutes off its own.
    pub async fn amazon_time(&self) -> Result<i64, AmazonError> {
        let response = self
            .http
            .get(format!("{}/", self.base))
            .send()
            .await
            .map_err(|e| AmazonError::Unavailable { attempts: 1, last: e.without_url().to_string() })?;
        let date = response.headers().get(reqwest::header::DATE).and_then(|d| d.to_str().ok());
        let date = date.ok_or_else(|| AmazonError::Decode("no Date in Amazon's answer".into()))?;
        let format =
            format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
        time::PrimitiveDateTime::parse(date, format)
            .map(|at| at.assume_utc().unix_timestamp())
            .map_err(|e| AmazonError::Decode(format!("Amazon's Date '{date}': {e}")))
    }

    /// `GET chargePermissions/{id}`.
    pub async fn get_charge_permission(&self, id: &str) -> Result<ChargePermission, AmazonError> {
        self.call(Method::GET, &format!("chargePermissions/{}", segment(id)?), None::<&()>).await
    }

    /// `PATCH chargePermissions/{id}`: `merchantMetadata` and (Recurring) `recurringMetadata`.
    pub async fn update_charge_permission(
        &self,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<ChargePermission, AmazonError> {
        self.call(Method::PATCH, &format!("chargePermissions/{}", segment(id)?), Some(body)).await
    }

    /// `DELETE chargePermissions/{id}/close` with `closureReason` and `cancelPendingCharges`
    /// (whether its open authorizations are canceled too). A closed permission takes no new
    /// charges.
    pub async fn close_charge_permission(
        &self,
        id: &str,
        closure_reason: &str,
        cancel_pending_charges: bool,
    ) -> Result<ChargePermission, AmazonError> {
        let body = serde_json::json!({
            "closureReason": closure_reason,
            "cancelPendingCharges": cancel_pending_charges,
        });
        self.call(Method::DELETE, &format!("chargePermissions/{}/close", segment(id)?), Some(&body)).await
    }

    /// `POST charges/{id}/capture` (実売上): `amount` at most what was authorized (less reduces
    /// the order), once per charge. The same `idempotency_key` answers the first answer again.
    /// More than 7 days after the authorization the charge answers `CaptureInitiated`: the
    /// capture completes later (IPN, or getCharge).
    pub async fn capture_charge(&self, id: &str, amount: &Money, idempotency_key: &str) -> Result<Charge, AmazonError> {
        let body = serde_json::json!({ "captureAmount": amount });
        let resource = format!("charges/{}/capture", segment(id)?);
        self.call_with_key(Method::POST, &resource, Some(&body), Some(idempotency_key.to_owned())).await
    }

    /// `DELETE charges/{id}/cancel` (キャンセル of an uncaptured authorization), with
    /// `cancellationReason`.
    pub async fn cancel_charge(&self, id: &str, cancellation_reason: &str) -> Result<Charge, AmazonError> {
        let body = serde_json::json!({ "cancellationReason": cancellation_reason });
        self.call(Method::DELETE, &format!("charges/{}/cancel", segment(id)?), Some(&body)).await
    }

    /// `POST refunds` (返金, full or partial) of a captured charge. Refunds are asynchronous: the
    /// answer is `RefundInitiated`; the outcome comes by IPN or getRefund.
    pub async fn create_refund(
        &self,
        charge_id: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<Refund, AmazonError> {
        let body = serde_json::json!({ "chargeId": segment(charge_id).map(|_| charge_id)?, "refundAmount": amount });
        self.call_with_key(Method::POST, "refunds", Some(&body), Some(idempotency_key.to_owned())).await
    }

    /// `GET refunds/{id}`.
    pub async fn get_refund(&self, id: &str) -> Result<Refund, AmazonError> {
        self.call(Method::GET, &format!("refunds/{}", segment(id)?), None::<&()>).await
    }

    /// Sends one API call (with retries) and decodes its answer. A POST gets a random
    /// idempotency key (one for every attempt: a retried POST must not act twice); a failing
    /// random source is an error, and nothing is sent.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        resource: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, AmazonError> {
        let key = match method {
            Method::POST => Some(
                idempotency::random_key(self.randomness.as_ref())
                    .map_err(|e| AmazonError::InvalidIdempotencyKey(e.to_string()))?
                    .as_str()
                    .to_owned(),
            ),
            _ => None,
        };
        self.call_with_key(method, resource, body, key).await
    }

    /// Sends `method resource` with its retries, each attempt after its turn within Amazon's quota
    /// for its operation.
    async fn call_with_key<T: DeserializeOwned>(
        &self,
        method: Method,
        resource: &str,
        body: Option<&impl Serialize>,
        idempotency_key: Option<String>,
    ) -> Result<T, AmazonError> {
        if let Some(key) = &idempotency_key
            && !idempotency::is_valid(key)
        {
            return Err(AmazonError::InvalidIdempotencyKey(format!(
                "'{}' is not 1 to 32 characters of a-z A-Z 0-9 - _",
                key.chars().take(40).collect::<String>()
            )));
        }
        let url = Url::parse(&format!("{}/{resource}", self.base)).map_err(|e| AmazonError::Setup(e.to_string()))?;
        // Get Buyer and calls outside Amazon's table have no published quota, and are not paced.
        let operation = ApiOperation::of(method.as_str(), &format!("/v2/{resource}"));
        let body = match body {
            Some(body) => serde_json::to_string(body).map_err(|e| AmazonError::Setup(e.to_string()))?,
            None => String::new(),
        };
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts {
            if !read_allowed() {
                return Err(AmazonError::ReadsSpent);
            }
            let pacer = self.pacer.as_deref().zip(operation);
            if let Some((pacer, operation)) = pacer {
                match pacer.turn(operation) {
                    Ok(turn) if turn.is_zero() => {}
                    Ok(turn) => self.sleeper.sleep(turn).await,
                    Err(wait) => {
                        let last = format!("Amazon's quota for {operation:?} is spent for the next {wait:.0?}");
                        return Err(AmazonError::Unavailable { attempts: attempt - 1, last });
                    }
                }
            }
            // Signed after the wait: Amazon refuses a signature dated too far from its clock.
            let request = self.signed(&method, &url, &body, idempotency_key.as_deref())?;
            let wait = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let text = response.text().await.map_err(|e| AmazonError::Decode(e.without_url().to_string()))?;
                    return serde_json::from_str(&text).map_err(|e| AmazonError::Decode(e.to_string()));
                }
                Ok(response) if retryable(response.status()) => {
                    let after = retry_after(&response);
                    let status = response.status().as_u16();
                    let error = rejected(response).await;
                    // A 500 with ProcessingFailure is Amazon's decided answer to this request
                    // (its saved response for this idempotency key), not a passing fault: the
                    // caller decides whether to ask again, with another key. The reason code
                    // decides, not the status.
                    if error.reason_code() == Some("ProcessingFailure") {
                        return Err(error);
                    }
                    if status == 429
                        && let Some((pacer, operation)) = pacer
                    {
                        pacer.refused(operation);
                    }
                    last = format!("HTTP {status}");
                    after
                }
                Ok(response) => return Err(rejected(response).await),
                Err(error) => {
                    // Without the URL: getBuyer's path carries the buyer's token, which must not
                    // reach the logs through this message.
                    last = error.without_url().to_string();
                    None
                }
            };
            if attempt < self.retry.attempts {
                tracing::warn!(attempt, %last, "Amazon Pay call failed; retrying");
                self.sleeper.sleep(wait.unwrap_or_else(|| self.backoff(attempt)).min(self.retry.max_delay)).await;
            }
        }
        Err(AmazonError::Unavailable { attempts: self.retry.attempts, last })
    }

    /// Builds the request with Amazon's signature headers.
    fn signed(
        &self,
        method: &Method,
        url: &Url,
        body: &str,
        idempotency_key: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, AmazonError> {
        let date = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .map_err(|e| AmazonError::Setup(e.to_string()))?;
        let mut headers = vec![
            ("accept".to_owned(), "application/json".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-amz-pay-date".to_owned(), date),
            ("x-amz-pay-host".to_owned(), self.host.clone()),
        ];
        if let Some(key) = idempotency_key {
            headers.push(("x-amz-pay-idempotency-key".to_owned(), key.to_owned()));
        }
        headers.push(("x-amz-pay-region".to_owned(), "jp".to_owned()));
        let canonical = canonical::canonical_request(
            method.as_str(),
            url.path(),
            url.query().unwrap_or_default(),
            &headers,
            &canonical::sha256_hex(body.as_bytes()),
        );
        let to_sign = string_to_sign(AMAZON_SIGNATURE_ALGORITHM, &canonical);
        let key =
            self.key.as_ref().ok_or(AmazonError::NotSetUp)?.get().map_err(|e| AmazonError::Setup(e.to_string()))?;
        let signature = key.sign(to_sign.as_bytes()).map_err(|_| AmazonError::Setup("signing failed".into()))?;
        let authorization = canonical::authorization(
            AMAZON_SIGNATURE_ALGORITHM,
            &self.public_key_id,
            &canonical::signed_headers(&headers),
            &BASE64.encode(signature),
        );
        let mut request = self.http.request(method.clone(), url.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request = request.header("authorization", authorization);
        if !body.is_empty() {
            request = request.body(body.to_owned());
        }
        Ok(request)
    }

    /// Exponential backoff with ±20 % jitter, so that many shops' retries do not arrive together.
    /// Without a random source the wait is the middle one: jitter only spreads load.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry.first_delay.saturating_mul(1 << (attempt - 1).min(16));
        let mut bytes = [0u8; 2];
        let jitter = match self.randomness.fill(&mut bytes) {
            Ok(()) => f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX),
            Err(_) => 0.5,
        };
        base.mul_f64(0.8 + 0.4 * jitter)
    }
}

/// Makes aws-lc-rs the process's TLS crypto provider (once). rustls needs one chosen before any
/// client without its own configuration is built; this keeps the whole process on one library.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only means another provider was installed first, which is as good.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

pub(super) fn http_client() -> Result<reqwest::Client, AmazonError> {
    // One for the process (a clone shares its connections and TLS roots): every shop's core
    // calls the same Amazon, and thousands of shops must not mean thousands of root stores.
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(client) = SHARED.get() {
        return Ok(client.clone());
    }
    let client = http_client_builder()?.build().map_err(|e| AmazonError::Setup(e.to_string()))?;
    Ok(SHARED.get_or_init(|| client).clone())
}

/// [`http_client`] before it is built (tests add their own name resolution).
pub(super) fn http_client_builder() -> Result<reqwest::ClientBuilder, AmazonError> {
    install_crypto_provider();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AmazonError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none()))
}

/// An ID as one URL path segment. `.` and `..` are refused: a URL parser would read them as
/// "this" and "the parent" resource and send the call elsewhere.
fn segment(id: &str) -> Result<String, AmazonError> {
    if id.is_empty() || id.bytes().all(|b| b == b'.') {
        return Err(AmazonError::InvalidId(id.chars().take(16).collect()));
    }
    Ok(url::form_urlencoded::byte_serialize(id.as_bytes()).collect())
}

/// Amazon's SDKs retry exactly these.
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 425 | 429 | 500..=599)
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

async fn rejected(response: reqwest::Response) -> AmazonError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<AmazonErrorBody>(&text) {
        Ok(body) => AmazonError::Rejected { status, reason_code: body.reason_code, message: body.message },
        Err(_) => {
            AmazonError::Rejected { status, reason_code: "Unknown".into(), message: text.chars().take(200).collect() }
        }
    }
}
