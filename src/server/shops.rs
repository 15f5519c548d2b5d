//! Which shop a request is for, by its `Host`, and that shop's server state.
//!
//! A deployment with no shop added serves the one shop of its `AMAZONPAY2_*` settings on any
//! host, as it always did. Once shops are added (`amazonpay2-server shop add`), a request is
//! served by the shop one of whose hosts equals its `Host`, and any other host gets a bare 404
//! before a handler runs: nothing of any shop is said.
//!
//! The registry (host → shop) is read from the database and kept in memory; every instance polls
//! its version every [`POLL_EVERY`] and reloads it when it changed, so a new or changed shop is
//! served everywhere within seconds. A shop's state (its `Core` with its key opened from the
//! vault, its database view, its sessions) is made on its first request and kept in a bounded
//! cache: 10,000 shops do not mean 10,000 keys in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::admin::Admin;
use super::{AppState, ServerError};
use crate::amazon::keys::ShopKey;
use crate::core::Core;
use crate::core::key::KeyHandle;
use crate::core::settings::{AmazonAccount, ShopHost};
use crate::storage::shops::{PRIVATE_KEY, ShopRecord, ShopState};
use crate::storage::vault::{Binding, MasterKey};
use crate::storage::{Database, ShopId, StorageError, Store};

/// How often every instance asks whether the shops changed (the contract: within 10 s).
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// Shops' states kept at once; beyond, the cache starts afresh (as the button signer's does). A
/// state without an opened key is a few kilobytes: 16,384 of them fit well in the memory budget
/// of a deployment of 10,000 shops.
const KEPT: usize = 16_384;

/// One shop's state, as handlers take it (request extensions).
#[derive(Clone)]
pub struct Tenant {
    /// The server's state for the shop.
    pub app: Arc<AppState>,
    /// Its admin.
    pub admin: Arc<Admin>,
}

impl Tenant {
    /// The tenant of `app`.
    pub fn new(app: Arc<AppState>) -> Self {
        Self { admin: Arc::new(Admin::new(app.clone())), app }
    }
}

/// The shops of the deployment and the state of those being served.
pub struct Shops {
    /// The shop of the `AMAZONPAY2_*` settings, as started.
    first: Tenant,
    master: Option<MasterKey>,
    registry: RwLock<Arc<Registry>>,
    /// By host, as the registry names it, with the record each was made from: a state made
    /// from a record the registry no longer holds (a request that read the registry just before
    /// a reload) is never served again.
    tenants: Mutex<HashMap<String, (Arc<ShopRecord>, Tenant)>>,
}

/// The registry as last read.
#[derive(Default)]
struct Registry {
    version: i64,
    /// By host as [`ShopHost`] writes it, which is how browsers send it: a request's `Host` is
    /// looked up as it came, and parsed only when it is not found so.
    by_host: HashMap<String, Arc<ShopRecord>>,
}

/// Why a shop that answers on a host cannot be served now.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The shop has keys sealed under a master key this instance was not given.
    #[error("shop {0} has sealed keys, but AMAZONPAY2_MASTER_KEY is not set")]
    NoMasterKey(ShopId),
    /// The sealed key could not be opened or read.
    #[error("shop {shop}'s key: {problem}")]
    Key {
        /// The shop.
        shop: ShopId,
        /// Why.
        problem: String,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The core could not be made.
    #[error(transparent)]
    Amazon(#[from] crate::core::AmazonError),
}

impl Shops {
    /// The shops of `first`'s database, `first` serving every host while none is added.
    pub async fn new(first: Arc<AppState>) -> Result<Self, ServerError> {
        let master = match &first.config.master_key {
            Some(_) => Some(first.config.master_key()?),
            None => None,
        };
        let shops = Self {
            first: Tenant::new(first),
            master,
            registry: RwLock::new(Arc::default()),
            tenants: Mutex::new(HashMap::new()),
        };
        shops.refresh().await?;
        Ok(shops)
    }

    fn store(&self) -> &Store {
        self.first.app.db.store()
    }

    /// The first shop's state (the only one while no shop is added).
    pub fn first(&self) -> &Tenant {
        &self.first
    }

    fn registry(&self) -> Arc<Registry> {
        self.registry.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Reloads the registry if it changed; the states of shops that changed are made anew.
    pub async fn refresh(&self) -> Result<(), StorageError> {
        let version = self.store().shops_version().await?;
        if version == self.registry().version {
            return Ok(());
        }
        let mut by_host = HashMap::new();
        for shop in self.store().shops().await? {
            let shop = Arc::new(shop);
            for host in &shop.hosts {
                by_host.insert(host.as_str().to_owned(), shop.clone());
            }
        }
        let registry = Arc::new(Registry { version, by_host });
        // The states of shops that changed or went are dropped now (one made meanwhile from the
        // old registry is refused at its next use: see `tenants`).
        // Those kept are marked with the new record, so that a request finds them by pointer.
        self.tenants().retain(|host, (made_from, _)| match registry.by_host.get(host) {
            Some(now) if made_from == now => {
                *made_from = now.clone();
                true
            }
            _ => false,
        });
        *self.registry.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = registry;
        tracing::info!(version, "shops loaded");
        Ok(())
    }

    /// Polls the registry until the runtime ends.
    pub async fn keep_fresh(self: Arc<Self>) {
        let mut every = tokio::time::interval(POLL_EVERY);
        loop {
            every.tick().await;
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "reading the shops failed; serving those known");
            }
        }
    }

    /// Whether shops were added (then hosts decide; otherwise the first shop serves them all).
    pub fn hosted(&self) -> bool {
        !self.registry().by_host.is_empty()
    }

    fn tenants(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<ShopRecord>, Tenant)>> {
        self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state of the shop `host` names: `Ok(None)` for a host of no active shop.
    pub async fn tenant(&self, host: &str) -> Result<Option<Tenant>, TenantError> {
        let registry = self.registry();
        let found = match registry.by_host.get_key_value(host) {
            Some((host, shop)) => Some((host.clone(), shop)),
            None => ShopHost::parse(host)
                .ok()
                .and_then(|host| registry.by_host.get_key_value(host.as_str()))
                .map(|(host, shop)| (host.clone(), shop)),
        };
        let Some((host, shop)) = found.filter(|(_, shop)| shop.state == ShopState::Active) else { return Ok(None) };
        if let Some((made_from, tenant)) = self.tenants().get(&host)
            && (Arc::ptr_eq(made_from, shop) || made_from == shop)
        {
            return Ok(Some(tenant.clone()));
        }
        // Two first requests at once may both make it; either is the shop's.
        let sealed = match shop.amazon {
            Some(_) => self.store().for_shop(shop.id).shop_secret(PRIVATE_KEY).await?,
            None => None,
        };
        let parsed = ShopHost::parse(&host).map_err(|problem| TenantError::Key { shop: shop.id, problem })?;
        let tenant = self.make(&parsed, shop, sealed.as_deref())?;
        let mut tenants = self.tenants();
        if tenants.len() >= KEPT {
            tenants.clear();
        }
        tenants.insert(host, (shop.clone(), tenant.clone()));
        Ok(Some(tenant))
    }

    /// Every active shop's state, by one of its hosts, for the daily work (reconciling, the
    /// `capture` and `subscriptions` commands); the first shop's alone while none is added. A
    /// shop that cannot be served is named with its reason, and the others go on.
    pub async fn every_active(&self) -> Vec<(ShopId, Result<Tenant, TenantError>)> {
        let registry = self.registry();
        if registry.by_host.is_empty() {
            return vec![(ShopId::FIRST, Ok(self.first.clone()))];
        }
        let mut shops: Vec<&Arc<ShopRecord>> =
            registry.by_host.values().filter(|shop| shop.state == ShopState::Active).collect();
        shops.sort_by_key(|shop| shop.id);
        shops.dedup_by_key(|shop| shop.id);
        let mut every = Vec::with_capacity(shops.len());
        for shop in shops {
            match self.tenant(shop.hosts[0].as_str()).await {
                Ok(Some(tenant)) => every.push((shop.id, Ok(tenant))),
                // Disabled since the registry was read.
                Ok(None) => {}
                Err(error) => every.push((shop.id, Err(error))),
            }
        }
        every
    }

    /// The states of the active shops the reconciler has work in (orders waiting on Amazon): one
    /// query for the deployment, not a look into each of its shops.
    pub async fn to_reconcile(&self) -> Result<Vec<(ShopId, Result<Tenant, TenantError>)>, StorageError> {
        let registry = self.registry();
        if registry.by_host.is_empty() {
            return Ok(vec![(ShopId::FIRST, Ok(self.first.clone()))]);
        }
        let busy = self.store().shops_with_orders(&crate::core::reconciler::looked_at(crate::core::now())).await?;
        let hosts: HashMap<ShopId, &String> = registry
            .by_host
            .iter()
            .filter(|(_, shop)| shop.state == ShopState::Active)
            .map(|(host, shop)| (shop.id, host))
            .collect();
        let mut tenants = Vec::new();
        for shop in busy {
            let Some(host) = hosts.get(&shop) else { continue };
            match self.tenant(host).await {
                Ok(Some(tenant)) => tenants.push((shop, Ok(tenant))),
                Ok(None) => {}
                Err(error) => tenants.push((shop, Err(error))),
            }
        }
        Ok(tenants)
    }

    /// Makes shop `shop`'s state as served on `host`: the first shop's settings with the shop's
    /// origin, Amazon account and key, its own view of the database and its own sessions. A
    /// shop without keys (but the first, whose are the settings') is served with none: its pages
    /// and its admin work, and nothing is signed for Amazon until its owner sets them up.
    fn make(&self, host: &ShopHost, shop: &ShopRecord, sealed: Option<&[u8]>) -> Result<Tenant, TenantError> {
        let first = &self.first.app;
        let mut config = first.config.clone();
        config.shop_origin = host.origin();
        if !shop.store_name.is_empty() {
            config.store_name = Some(shop.store_name.clone());
        }
        let key = match &shop.amazon {
            Some(amazon) => {
                config.amazon = AmazonAccount {
                    merchant_id: amazon.merchant_id.clone(),
                    store_id: amazon.store_id.clone(),
                    public_key_id: amazon.public_key_id.clone(),
                    sandbox: amazon.sandbox,
                };
                Some(self.open_key(shop.id, sealed)?)
            }
            None if shop.id == ShopId::FIRST => first.core.key_handle(),
            None => {
                // Never the first shop's account: an empty one names no merchant at all.
                config.amazon = AmazonAccount {
                    merchant_id: String::new(),
                    store_id: String::new(),
                    public_key_id: String::new(),
                    sandbox: true,
                };
                None
            }
        };
        let db: Database = Arc::new(self.store().for_shop(shop.id));
        let core = match key {
            Some(key) => Core::new(config.core_settings(), key, &config.api_base, db.clone())?,
            None => Core::without_keys(config.core_settings(), &config.api_base, db.clone())?,
        };
        let sessions = first.sessions.for_shop(db.clone(), config.shop_origin.is_https());
        let app = AppState {
            config,
            core: Arc::new(core),
            db,
            sessions,
            instance: first.instance.clone(),
            shop: Some(shop.id),
        };
        Ok(Tenant::new(Arc::new(app)))
    }

    /// Shop `shop`'s private key from its sealed form: unsealed now (a few microseconds, and a
    /// seal of another shop or master key is refused before the shop is served), parsed when
    /// first used to sign (most requests sign nothing).
    fn open_key(&self, shop: ShopId, sealed: Option<&[u8]>) -> Result<KeyHandle, TenantError> {
        let master = self.master.as_ref().ok_or(TenantError::NoMasterKey(shop))?;
        let sealed = sealed.ok_or_else(|| TenantError::Key { shop, problem: "its sealed key is missing".into() })?;
        let pem = master
            .open(Binding { shop: shop.0, field: PRIVATE_KEY }, sealed)
            .map_err(|e| TenantError::Key { shop, problem: e.to_string() })?;
        Ok(KeyHandle::lazy(move || ShopKey::from_pem(&pem).map_err(|e| e.to_string())))
    }
}

/// Puts the request's shop in its extensions; a host of no active shop gets a bare 404.
pub async fn resolve(State(shops): State<Arc<Shops>>, mut request: Request, next: Next) -> Response {
    let tenant = if shops.hosted() {
        let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        match shops.tenant(host).await {
            Ok(Some(tenant)) => tenant,
            Ok(None) => return StatusCode::NOT_FOUND.into_response(),
            Err(error) => {
                tracing::error!(%error, "a shop could not be served");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    } else {
        shops.first.clone()
    };
    request.extensions_mut().insert(tenant.app);
    request.extensions_mut().insert(tenant.admin);
    next.run(request).await
}
