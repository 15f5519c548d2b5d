//! The shop's private key as the signer and the API client hold it: ready, or opened on first
//! use. A deployment of thousands of shops makes each shop's state on its first request, and most
//! requests (a first visit's buttons) sign nothing: parsing an RSA key for each would cost more
//! than the request and keep kilobytes per shop for nothing.

use std::sync::{Arc, OnceLock};

use crate::amazon::keys::ShopKey;

/// Opens the key: the caller's (e.g. the vault's decrypted PEM, parsed).
type Opener = Box<dyn Fn() -> Result<ShopKey, String> + Send + Sync>;

/// A shop's private key, ready or opened on first use.
#[derive(Clone)]
pub struct KeyHandle(Arc<Slot>);

struct Slot {
    key: OnceLock<Arc<ShopKey>>,
    open: Option<Opener>,
}

/// The key could not be opened.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the shop's private key cannot be used: {0}")]
pub struct KeyUnusable(pub String);

impl KeyHandle {
    /// A key opened by `open` when first needed (and kept; a failed opening is tried again).
    pub fn lazy(open: impl Fn() -> Result<ShopKey, String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(Slot { key: OnceLock::new(), open: Some(Box::new(open)) }))
    }

    /// The key, opened now if it was not.
    pub fn get(&self) -> Result<Arc<ShopKey>, KeyUnusable> {
        if let Some(key) = self.0.key.get() {
            return Ok(key.clone());
        }
        let open = self.0.open.as_ref().ok_or_else(|| KeyUnusable("no key".into()))?;
        let opened = Arc::new(open().map_err(KeyUnusable)?);
        // Two first uses at once may both open it; the first kept is everyone's.
        Ok(self.0.key.get_or_init(|| opened).clone())
    }
}

impl From<Arc<ShopKey>> for KeyHandle {
    fn from(key: Arc<ShopKey>) -> Self {
        Self(Arc::new(Slot { key: OnceLock::from(key), open: None }))
    }
}

impl std::fmt::Debug for KeyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.key.get().is_some() { "KeyHandle(open)" } else { "KeyHandle(not yet opened)" })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::amazon::keys::tests::TEST_PKCS8;

    #[test]
    fn a_lazy_key_is_opened_on_first_use_once_and_a_failure_is_tried_again() {
        let opened = Arc::new(AtomicUsize::new(0));
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let handle = KeyHandle::lazy({
            let (opened, fail) = (opened.clone(), fail.clone());
            move || {
                opened.fetch_add(1, Ordering::SeqCst);
                if fail.load(Ordering::SeqCst) {
                    return Err("sealed under another master key".into());
                }
                ShopKey::from_pem(TEST_PKCS8.as_bytes()).map_err(|e| e.to_string())
            }
        });
        assert_eq!(opened.load(Ordering::SeqCst), 0, "nothing opened before use");
        assert!(handle.get().unwrap_err().0.contains("another master key"));
        fail.store(false, Ordering::SeqCst);
        let first = handle.get().unwrap();
        let again = handle.clone().get().unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(opened.load(Ordering::SeqCst), 2, "opened once it worked, then kept");
    }
}
