//! The merchants the simulator knows, as Seller Central registers them: each with its 出品者ID
//! (merchant ID), its Store IDs (Amazon's "Client ID/Store ID" applications, each with its own
//! JavaScript origins), its public keys (one per key pair; a merchant may have several, as key
//! rotation needs) and its IPN URL.
//!
//! Every signed API request names a public key ID; the key decides the calling merchant, and
//! everything that request makes belongs to that merchant (see `checkout::Owner`). The
//! [`SimulatorConfig`](super::SimulatorConfig) the simulator was made with is the first merchant,
//! registered exactly as before (its shop origin as its store's one JavaScript origin).
//!
//! Amazon's ID formats, as its documentation and samples show them:
//! - public key IDs: `SANDBOX-` or `LIVE-` and 24 upper-case letters and digits (DOC's example
//!   `SANDBOX-AFVX7ULWSGBZ5535PCUQOY7B`; both published examples begin with `A`, as the
//!   simulator's do);
//! - Store IDs: `amzn1.application-oa2-client.` and 32 lower-case hex digits (JP FAQ QA-739:
//!   "例: amzn1.application-oa2-client.xxxxx");
//! - merchant IDs (出品者ID): `A` and 13 upper-case letters and digits, like the published
//!   examples (`A11TDGUOI15DHQ`); Amazon does not publish the format.

pub(super) mod controls;
mod ids;
pub(super) mod pages;

use std::collections::HashMap;

use url::Url;

use super::signature::RegisteredKey;
use super::{Simulator, lock};

/// A store (Seller Central's "Client ID/Store ID") and the origins registered for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Store {
    pub id: String,
    /// JavaScript origins, each as `scheme://host[:port]` (no trailing slash).
    pub origins: Vec<String>,
}

/// A merchant account.
#[derive(Clone, Debug)]
pub(super) struct Merchant {
    /// 出品者ID.
    pub id: String,
    pub stores: Vec<Store>,
    /// The IDs of its public keys, oldest first, as registered (case kept).
    pub public_key_ids: Vec<String>,
    /// Where its IPNs go; `None`: it has set none, and is sent nothing.
    pub ipn_url: Option<Url>,
}

impl Merchant {
    /// Its store with `id`, if it has one.
    pub(super) fn store(&self, id: &str) -> Option<&Store> {
        self.stores.iter().find(|store| store.id == id)
    }

    /// The origins registered for `store_id` (all stores' when `None`); empty for a store that is
    /// not this merchant's.
    pub(super) fn origins(&self, store_id: Option<&str>) -> Vec<String> {
        self.stores
            .iter()
            .filter(|store| store_id.is_none_or(|id| store.id == id))
            .flat_map(|store| store.origins.iter().cloned())
            .collect()
    }
}

/// A registered public key.
struct PublicKey {
    /// As registered (Amazon's key IDs are compared case-insensitively: its SDKs test the prefix
    /// so, and the simulator always has).
    id: String,
    merchant_id: String,
    key: RegisteredKey,
}

/// The merchant a public key ID names, with its key.
#[derive(Clone, Debug)]
pub(super) struct KeyOwner {
    pub merchant_id: String,
    pub public_key_id: String,
    pub key: RegisteredKey,
}

/// Why a registration was refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The Store ID is another merchant's.
    StoreOfAnother(String),
    /// No such merchant.
    UnknownMerchant(String),
    /// No such store for this merchant.
    UnknownStore(String),
    /// An ID or origin that is not in Amazon's form.
    Malformed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StoreOfAnother(id) => write!(f, "The storeId '{id}' belongs to another merchant."),
            Self::UnknownMerchant(id) => write!(f, "The merchantId '{id}' is not registered."),
            Self::UnknownStore(id) => write!(f, "The storeId '{id}' does not belong to this merchant."),
            Self::Malformed(why) => f.write_str(why),
        }
    }
}

/// Every merchant, and every public key by its upper-case ID.
#[derive(Default)]
pub(super) struct Registry {
    merchants: Vec<Merchant>,
    keys: HashMap<String, PublicKey>,
}

impl Registry {
    /// A registry of one merchant, with one store, origin and key (the simulator's config).
    pub(super) fn of_one(
        merchant_id: &str,
        store_id: &str,
        origin: &str,
        public_key_id: &str,
        key: RegisteredKey,
    ) -> Self {
        let mut registry = Self::default();
        registry.merchants.push(Merchant {
            id: merchant_id.to_owned(),
            stores: vec![Store { id: store_id.to_owned(), origins: vec![origin.to_owned()] }],
            public_key_ids: Vec::new(),
            ipn_url: None,
        });
        registry.add_key(merchant_id, public_key_id, key);
        registry
    }

    pub(super) fn merchant(&self, id: &str) -> Option<&Merchant> {
        self.merchants.iter().find(|merchant| merchant.id == id)
    }

    fn merchant_mut(&mut self, id: &str) -> Result<&mut Merchant, Refusal> {
        self.merchants.iter_mut().find(|merchant| merchant.id == id).ok_or_else(|| Refusal::UnknownMerchant(id.into()))
    }

    pub(super) fn merchants(&self) -> &[Merchant] {
        &self.merchants
    }

    /// The merchant and key a public key ID names.
    pub(super) fn key(&self, public_key_id: &str) -> Option<KeyOwner> {
        self.keys.get(&public_key_id.to_ascii_uppercase()).map(|key| KeyOwner {
            merchant_id: key.merchant_id.clone(),
            public_key_id: key.id.clone(),
            key: key.key.clone(),
        })
    }

    /// Whether a public key ID is taken (by anyone).
    pub(super) fn has_key(&self, public_key_id: &str) -> bool {
        self.keys.contains_key(&public_key_id.to_ascii_uppercase())
    }

    /// The merchant a Store ID belongs to.
    pub(super) fn store_owner(&self, store_id: &str) -> Option<&Merchant> {
        self.merchants.iter().find(|merchant| merchant.store(store_id).is_some())
    }

    /// Whether `origin` is a JavaScript origin of any store (the origins Amazon's pages answer
    /// with CORS).
    pub(super) fn is_registered_origin(&self, origin: &str) -> bool {
        self.merchants.iter().flat_map(|m| &m.stores).any(|store| store.origins.iter().any(|o| o == origin))
    }

    /// Adds a merchant with one store and no key.
    pub(super) fn add_merchant(&mut self, merchant_id: &str, store_id: &str) -> Result<(), Refusal> {
        if self.store_owner(store_id).is_some() {
            return Err(Refusal::StoreOfAnother(store_id.to_owned()));
        }
        self.merchants.push(Merchant {
            id: merchant_id.to_owned(),
            stores: vec![Store { id: store_id.to_owned(), origins: Vec::new() }],
            public_key_ids: Vec::new(),
            ipn_url: None,
        });
        Ok(())
    }

    /// Adds a store to a merchant; nothing if it has it already.
    pub(super) fn add_store(&mut self, merchant_id: &str, store_id: &str) -> Result<(), Refusal> {
        match self.store_owner(store_id) {
            Some(owner) if owner.id == merchant_id => return Ok(()),
            Some(_) => return Err(Refusal::StoreOfAnother(store_id.to_owned())),
            None => {}
        }
        self.merchant_mut(merchant_id)?.stores.push(Store { id: store_id.to_owned(), origins: Vec::new() });
        Ok(())
    }

    /// Registers a public key for a merchant (which must exist; the ID must be new).
    fn add_key(&mut self, merchant_id: &str, public_key_id: &str, key: RegisteredKey) {
        if let Some(merchant) = self.merchants.iter_mut().find(|merchant| merchant.id == merchant_id) {
            merchant.public_key_ids.push(public_key_id.to_owned());
            self.keys.insert(
                public_key_id.to_ascii_uppercase(),
                PublicKey { id: public_key_id.to_owned(), merchant_id: merchant_id.to_owned(), key },
            );
        }
    }

    /// Adds a JavaScript origin to a merchant's store; nothing if it has it already. Answers the
    /// origin as kept.
    pub(super) fn add_origin(&mut self, merchant_id: &str, store_id: &str, origin: &str) -> Result<String, Refusal> {
        let origin = javascript_origin(origin)?;
        let merchant = self.merchant_mut(merchant_id)?;
        let store = merchant
            .stores
            .iter_mut()
            .find(|store| store.id == store_id)
            .ok_or_else(|| Refusal::UnknownStore(store_id.to_owned()))?;
        if !store.origins.contains(&origin) {
            store.origins.push(origin.clone());
        }
        Ok(origin)
    }

    /// Sets (or, with `None`, removes) a merchant's IPN URL.
    pub(super) fn set_ipn_url(&mut self, merchant_id: &str, url: Option<Url>) -> Result<(), Refusal> {
        self.merchant_mut(merchant_id)?.ipn_url = url;
        Ok(())
    }
}

/// A JavaScript origin as Seller Central takes one: an absolute http(s) URL of a host, with its
/// port when not the default, and nothing after the host but an optional `/` (Amazon's examples:
/// `https://www.example.com/`, `https://www.example.com:8000/`). Kept as `scheme://host[:port]`.
pub(super) fn javascript_origin(text: &str) -> Result<String, Refusal> {
    let refuse = || Refusal::Malformed(format!("'{text}' is not a JavaScript origin (https://host[:port])."));
    let text = text.trim();
    if text.len() > 255 {
        return Err(refuse());
    }
    let url = Url::parse(text).map_err(|_| refuse())?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare || !plain {
        return Err(refuse());
    }
    Ok(url.origin().ascii_serialization())
}

/// What a registration asks for (`POST /__simulator/merchants`, or a new key pair on the Seller
/// Central page).
pub(super) struct Registration {
    pub key: RegisteredKey,
    pub sandbox: bool,
    /// An existing merchant gets the key; a new ID a new merchant; none a new merchant with a
    /// new ID.
    pub merchant_id: Option<String>,
    /// A store of the merchant (added to it when new); none: its first store, or a new one.
    pub store_id: Option<String>,
}

/// What a registration made: the IDs a merchant copies from Seller Central (the JSON of step ⑤).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Registered {
    pub merchant_id: String,
    pub store_id: String,
    pub public_key_id: String,
}

impl Simulator {
    /// A copy of a merchant's registration.
    pub(super) fn merchant(&self, id: &str) -> Option<Merchant> {
        lock(&self.inner.merchants).merchant(id).cloned()
    }

    /// The merchant and key a public key ID names.
    pub(super) fn key_owner(&self, public_key_id: &str) -> Option<KeyOwner> {
        lock(&self.inner.merchants).key(public_key_id)
    }

    /// Registers a public key (and the merchant and store it names, when new) under a new
    /// public key ID.
    pub(super) fn register(&self, registration: Registration) -> Result<Registered, Refusal> {
        if let Some(id) = &registration.merchant_id {
            ids::check_merchant_id(id)?;
        }
        if let Some(id) = &registration.store_id {
            ids::check_store_id(id)?;
        }
        let mut registry = lock(&self.inner.merchants);
        let merchant_id = match registration.merchant_id {
            Some(id) => id,
            None => loop {
                let id = ids::merchant_id(self);
                if registry.merchant(&id).is_none() {
                    break id;
                }
            },
        };
        let store_id = match registration.store_id {
            Some(id) => id,
            None => match registry.merchant(&merchant_id).and_then(|m| m.stores.first()) {
                Some(store) => store.id.clone(),
                None => loop {
                    let id = ids::store_id(self);
                    if registry.store_owner(&id).is_none() {
                        break id;
                    }
                },
            },
        };
        if registry.merchant(&merchant_id).is_none() {
            registry.add_merchant(&merchant_id, &store_id)?;
        } else {
            registry.add_store(&merchant_id, &store_id)?;
        }
        let public_key_id = loop {
            let id = ids::public_key_id(self, registration.sandbox);
            if !registry.has_key(&id) {
                break id;
            }
        };
        registry.add_key(&merchant_id, &public_key_id, registration.key);
        Ok(Registered { merchant_id, store_id, public_key_id })
    }

    /// Registers another merchant as `config` describes it, as Seller Central would have: its
    /// 出品者ID (made when new), its Store ID (added to it when new), its public key under the
    /// public key ID given, and the shop origin as the store's JavaScript origin. For a program
    /// that knows its merchants' IDs and keys (the demo's second shop); tests use
    /// `POST /__simulator/merchants`.
    ///
    /// # Errors
    /// When the key is not an RSA public key, the public key ID is taken, the Store ID is another
    /// merchant's or the origin is not an origin.
    pub fn with_merchant(self, config: super::SimulatorConfig) -> Result<Self, String> {
        let key = RegisteredKey::from_pkcs1_der(&config.public_key_der).map_err(|e| format!("public key: {e}"))?;
        // Checked before anything is registered, so that a refusal leaves nothing half made.
        javascript_origin(&config.shop_origin).map_err(|e| e.to_string())?;
        {
            let mut registry = lock(&self.inner.merchants);
            if registry.has_key(&config.public_key_id) {
                return Err(format!("the public key ID {} is already registered", config.public_key_id));
            }
            if registry.merchant(&config.merchant_id).is_none() {
                registry.add_merchant(&config.merchant_id, &config.store_id).map_err(|e| e.to_string())?;
            } else {
                registry.add_store(&config.merchant_id, &config.store_id).map_err(|e| e.to_string())?;
            }
            registry
                .add_origin(&config.merchant_id, &config.store_id, &config.shop_origin)
                .map_err(|e| e.to_string())?;
            registry.add_key(&config.merchant_id, &config.public_key_id, key);
        }
        Ok(self)
    }

    /// Turns a merchant's notifications on, sent to `endpoint` (its IPN URL in Seller Central).
    ///
    /// # Errors
    /// When `endpoint` is not an absolute http(s) URL or the merchant is not registered.
    pub fn with_merchant_ipn_endpoint(self, merchant_id: &str, endpoint: &str) -> Result<Self, String> {
        let url = super::ipn::endpoint_url(endpoint)?;
        lock(&self.inner.merchants).set_ipn_url(merchant_id, Some(url)).map_err(|e| e.to_string())?;
        Ok(self)
    }

    /// A merchant's IPN URL, if it has set one.
    pub(super) fn ipn_url(&self, merchant_id: &str) -> Option<Url> {
        lock(&self.inner.merchants).merchant(merchant_id).and_then(|m| m.ipn_url.clone())
    }

    /// The first merchant's ID (the [`SimulatorConfig`](super::SimulatorConfig)'s).
    pub(super) fn first_merchant_id(&self) -> &str {
        &self.inner.config.merchant_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RegisteredKey {
        let pem = crate::amazon::keys::tests::TEST_PKCS8;
        let shop = crate::amazon::keys::ShopKey::from_pem(pem.as_bytes()).unwrap();
        RegisteredKey::from_pkcs1_der(shop.public_key_der()).unwrap()
    }

    #[test]
    fn public_key_ids_name_their_merchant_whatever_their_case() {
        let registry =
            Registry::of_one("A1FIRST", "amzn1.application-oa2-client.a", "https://a.example", "SANDBOX-K1", key());
        let owner = registry.key("sandbox-k1").unwrap();
        assert_eq!((owner.merchant_id.as_str(), owner.public_key_id.as_str()), ("A1FIRST", "SANDBOX-K1"));
        assert!(registry.key("SANDBOX-K2").is_none());
    }

    #[test]
    fn a_store_belongs_to_one_merchant_only() {
        let mut registry = Registry::of_one("A1FIRST", "store-a", "https://a.example", "K1", key());
        registry.add_merchant("A2SECOND", "store-b").unwrap();
        assert_eq!(registry.add_store("A2SECOND", "store-a"), Err(Refusal::StoreOfAnother("store-a".into())));
        assert_eq!(registry.add_merchant("A3THIRD", "store-b"), Err(Refusal::StoreOfAnother("store-b".into())));
        registry.add_store("A2SECOND", "store-c").unwrap();
        assert_eq!(registry.store_owner("store-c").unwrap().id, "A2SECOND");
        assert_eq!(
            registry.add_origin("A2SECOND", "store-a", "https://b.example"),
            Err(Refusal::UnknownStore("store-a".into()))
        );
    }

    #[test]
    fn a_program_registers_a_second_merchant_with_its_own_ids_key_and_origin() {
        let pem = crate::amazon::keys::tests::TEST_PKCS8;
        let der = crate::amazon::keys::ShopKey::from_pem(pem.as_bytes()).unwrap().public_key_der().to_vec();
        let config = |merchant: &str, store: &str, key: &str, origin: &str| super::super::SimulatorConfig {
            merchant_id: merchant.into(),
            store_id: store.into(),
            public_key_id: key.into(),
            public_key_der: der.clone(),
            shop_origin: origin.into(),
        };
        let simulator = Simulator::new(config("A1FIRST", "store-a", "SANDBOX-K1", "http://127.0.0.1:8080"))
            .with_merchant(config("A2SECOND", "store-b", "SANDBOX-K2", "http://shop2.localhost:8080"))
            .unwrap()
            .with_merchant_ipn_endpoint("A2SECOND", "http://shop2.localhost:8080/api/amazonpay2/ipn.php")
            .unwrap();
        assert_eq!(simulator.key_owner("SANDBOX-K2").unwrap().merchant_id, "A2SECOND");
        let second = simulator.merchant("A2SECOND").unwrap();
        assert_eq!(
            second.stores,
            [Store { id: "store-b".into(), origins: vec!["http://shop2.localhost:8080".into()] }]
        );
        assert!(second.ipn_url.is_some());
        assert!(simulator.ipn_url("A1FIRST").is_none(), "the first merchant's notifications stay off");
        let taken = simulator.clone().with_merchant(config("A3THIRD", "store-c", "sandbox-k2", "https://c.example"));
        assert!(taken.is_err(), "a public key ID names one key");
        let stolen = simulator.clone().with_merchant(config("A3THIRD", "store-a", "SANDBOX-K3", "https://c.example"));
        assert!(stolen.is_err(), "a store is one merchant's");
        let bad = simulator.clone().with_merchant(config("A4FOURTH", "store-d", "SANDBOX-K4", "not an origin"));
        assert!(bad.is_err() && simulator.merchant("A4FOURTH").is_none(), "nothing half made");
    }

    #[test]
    fn javascript_origins_are_kept_as_origins_and_anything_else_is_refused() {
        assert_eq!(javascript_origin("https://www.example.com/").unwrap(), "https://www.example.com");
        assert_eq!(javascript_origin(" https://WWW.Example.com:8000 ").unwrap(), "https://www.example.com:8000");
        assert_eq!(javascript_origin("https://shop.example:443/").unwrap(), "https://shop.example");
        assert_eq!(javascript_origin("http://shop2.localhost:8080").unwrap(), "http://shop2.localhost:8080");
        for bad in [
            "",
            "shop.example",
            "https://shop.example/cart",
            "https://shop.example/?a=1",
            "https://user:pw@shop.example",
            "javascript:alert(1)",
            "ftp://shop.example",
            "data:text/html,x",
        ] {
            assert!(javascript_origin(bad).is_err(), "{bad}");
        }
    }
}
