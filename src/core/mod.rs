//! The Amazon Pay core: what this integration knows about Amazon Pay in Japan, independent of any
//! one shop.
//!
//! It builds and signs payloads ([`payloads`], [`signer`]), talks to Amazon's API ([`client`]),
//! decides sign-ins and links ([`signin`]), takes a cart through checkout to an order
//! ([`checkout`]), moves orders through their states ([`orders`], the one place an order's state
//! changes), charges subscription cycles ([`subscriptions`]), follows Amazon's notifications
//! ([`notifications`]), settles orders left unsettled ([`reconciler`]) and gives the owner's pages
//! Amazon's live view of an order ([`admin`]). It depends on the cart platform only through the traits of [`platform`].

pub mod admin;
mod charges;
pub mod checkout;
pub mod client;
pub mod clock;
pub mod error;
pub mod idempotency;
pub mod key;
pub mod notifications;
pub mod onboarding;
pub mod operations;
pub mod orders;
mod pacing;
pub mod paths;
pub mod payloads;
pub mod platform;
pub mod random;
pub mod reconciler;
pub mod rules;
pub mod settings;
pub mod signer;
pub mod signin;
pub mod subscriptions;
pub mod sync;

use std::sync::{Arc, OnceLock};

use url::Url;

pub use self::client::{AmazonError, AmazonPayClient, Retry, install_crypto_provider};
pub use self::error::CoreError;
use self::idempotency::{IdempotencyKey, IdempotencyKeys, Keyed};
use self::key::KeyHandle;
use self::platform::Platform;
use self::random::{NoRandomness, Randomness};
use self::settings::CoreSettings;
use self::signer::ButtonSigner;
use crate::amazon::keys::ShopKey;

/// The core, for one shop.
pub struct Core {
    /// The shop's private key (the signer and the client hold it too); `None` until the shop's
    /// keys are set up.
    key: Option<KeyHandle>,
    settings: CoreSettings,
    signer: ButtonSigner,
    amazon: AmazonPayClient,
    platform: Arc<dyn Platform>,
    reviews: checkout::ReviewCache,
    certificates: notifications::Certificates,
    /// The installation's idempotency keys, made from the platform's secret on first use.
    keys: OnceLock<IdempotencyKeys>,
    notification_reads: Arc<notifications::ReadBudget>,
    /// When this instance last recorded each SNS topic seen.
    topic_sightings: notifications::TopicSightings,
    /// Where random tokens come from (the system's source; a test's that fails).
    randomness: Arc<dyn Randomness>,
    /// What Amazon last answered about orders the owner looked at.
    views: admin::AmazonViews,
}

impl Core {
    /// The core of the shop `settings` describe, signing with `key`, calling Amazon at `api_base`
    /// and keeping its orders on `platform`.
    pub fn new(
        settings: CoreSettings,
        key: impl Into<KeyHandle>,
        api_base: &Url,
        platform: Arc<dyn Platform>,
    ) -> Result<Self, AmazonError> {
        let key = key.into();
        let signer = ButtonSigner::new(key.clone(), settings.amazon.public_key_id.clone());
        let amazon = AmazonPayClient::new(api_base, &settings.amazon, key.clone())?;
        Self::assemble(settings, Some(key), signer, amazon, platform)
    }

    /// The core of a shop whose Amazon keys are not set up yet: its pages and its admin work,
    /// and everything that would sign for Amazon is refused ([`signer::SignError::NotSetUp`],
    /// [`AmazonError::NotSetUp`]) without anything sent.
    pub fn without_keys(
        settings: CoreSettings,
        api_base: &Url,
        platform: Arc<dyn Platform>,
    ) -> Result<Self, AmazonError> {
        let amazon = AmazonPayClient::without_key(api_base, &settings.amazon)?;
        Self::assemble(settings, None, ButtonSigner::without_key(), amazon, platform)
    }

    fn assemble(
        settings: CoreSettings,
        key: Option<KeyHandle>,
        signer: ButtonSigner,
        amazon: AmazonPayClient,
        platform: Arc<dyn Platform>,
    ) -> Result<Self, AmazonError> {
        let certificates = notifications::Certificates::new(settings.ipn_cert_origins.clone())?;
        let amazon = if settings.paced { amazon } else { amazon.without_pacing() };
        let notification_reads = Arc::new(notifications::ReadBudget::new(notifications::READS_PER_MINUTE));
        Ok(Self {
            key,
            settings,
            signer,
            amazon,
            platform,
            reviews: checkout::ReviewCache::default(),
            certificates,
            keys: OnceLock::new(),
            notification_reads,
            topic_sightings: notifications::TopicSightings::default(),
            randomness: Arc::new(aws_lc_rs::rand::SystemRandom::new()),
            views: admin::AmazonViews::default(),
        })
    }

    /// The shop's private key, once set up (opened now if it was not).
    pub fn key(&self) -> Option<Arc<ShopKey>> {
        self.key.as_ref().and_then(|key| key.get().ok())
    }

    /// The handle of the shop's private key, opened or not.
    pub fn key_handle(&self) -> Option<KeyHandle> {
        self.key.clone()
    }

    /// Whether the shop's Amazon keys are set up (otherwise nothing is signed or sent).
    pub fn is_set_up(&self) -> bool {
        self.key.is_some()
    }

    /// Replaces the budget of Amazon reads for notifications (tests use a small one on a clock
    /// that stands still).
    #[must_use]
    pub fn with_notification_reads(mut self, budget: notifications::ReadBudget) -> Self {
        self.notification_reads = Arc::new(budget);
        self
    }

    /// Replaces what keeps Amazon's views for the owner's pages (tests use one on a clock that
    /// moves only when told).
    #[must_use]
    pub fn with_amazon_views(mut self, views: admin::AmazonViews) -> Self {
        self.views = views;
        self
    }

    /// Replaces the random source of the core and its API client (tests use one that fails).
    #[must_use]
    pub fn with_randomness(mut self, randomness: Arc<dyn Randomness>) -> Self {
        self.amazon = self.amazon.with_randomness(randomness.clone());
        self.randomness = randomness;
        self
    }

    /// A random token ([`random::random_token`]) from the core's source.
    pub fn random_token(&self) -> Result<String, NoRandomness> {
        random::random_token_from(self.randomness.as_ref())
    }

    /// Replaces the API client's retry policy (tests use short waits).
    #[must_use]
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.amazon = self.amazon.with_retry(retry);
        self
    }

    /// The shop's settings.
    pub fn settings(&self) -> &CoreSettings {
        &self.settings
    }

    /// The cart platform.
    pub fn platform(&self) -> &dyn Platform {
        &*self.platform
    }

    /// Amazon Pay's API.
    pub fn amazon(&self) -> &AmazonPayClient {
        &self.amazon
    }

    /// The button signer.
    pub fn signer(&self) -> &ButtonSigner {
        &self.signer
    }

    /// The idempotency key of `operation` (see [`idempotency`]): the same for the same operation
    /// in this installation, whatever happened in between, and never another installation's.
    pub async fn idempotency_key(&self, operation: &Keyed<'_>) -> Result<IdempotencyKey, CoreError> {
        if let Some(keys) = self.keys.get() {
            return Ok(keys.key(operation));
        }
        let secret = self.platform.idempotency_secret().await?;
        let keys = IdempotencyKeys::new(&secret)?;
        // Two first uses at once read the same secret: either result is the same keys.
        Ok(self.keys.get_or_init(|| keys).key(operation))
    }
}

/// Compares secrets through their SHA-256 digests, so that the time taken says nothing about how
/// much of a guess was right.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use aws_lc_rs::digest::{SHA256, digest};
    digest(&SHA256, a.as_bytes()).as_ref() == digest(&SHA256, b.as_bytes()).as_ref()
}

/// Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
