//! Secrets at rest: a shop's private key (and any other secret) is stored sealed under the
//! deployment's master key, so that a copy of the database alone reveals none of them.
//!
//! The master key is 32 random bytes in a file of its own (`AMAZONPAY2_MASTER_KEY` names it),
//! never in the database. A secret is sealed with AES-256-GCM under a fresh random nonce; the
//! shop's ID and the secret's field are the associated data, so a sealed value copied into another
//! shop's row, or into another field of the same shop, does not open. Each sealed value names the
//! master key that sealed it (the first 8 bytes of the key's SHA-256), so that a rotation can
//! tell which values are still under the old key, and an opening with the wrong key says so
//! rather than "corrupt".
//!
//! Sealed layout: `"ap2v1"` · key ID (8 bytes) · nonce (12 bytes) · ciphertext and tag.

use std::io::Write as _;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// The master key's length: AES-256.
pub const MASTER_KEY_LEN: usize = 32;

const MAGIC: &[u8] = b"ap2v1";
const KEY_ID_LEN: usize = 8;
const HEADER_LEN: usize = MAGIC.len() + KEY_ID_LEN + NONCE_LEN;

/// Why a secret could not be sealed or opened, or the master key not read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The master key file could not be read or made.
    #[error("the master key file {path}: {problem}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong (never the key).
        problem: String,
    },
    /// The value was sealed under another master key (the one named).
    #[error("sealed under another master key ({0})")]
    OtherKey(String),
    /// The value is not a sealed secret of this shop and field, or was altered.
    #[error("not a sealed secret of this shop and field, or altered")]
    Unopenable,
    /// The system's random source failed.
    #[error("no random numbers to seal with")]
    Random,
}

/// What a sealed secret is to its shop: the associated data it is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The shop's ID.
    pub shop: i64,
    /// The field, e.g. `private_key`.
    pub field: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        // Length-prefixed: no shop and field run into another pair's bytes.
        let mut aad = Vec::with_capacity(16 + self.field.len());
        aad.extend_from_slice(&self.shop.to_be_bytes());
        aad.extend_from_slice(&(self.field.len() as u64).to_be_bytes());
        aad.extend_from_slice(self.field.as_bytes());
        aad
    }
}

/// The deployment's master key.
pub struct MasterKey {
    key: LessSafeKey,
    id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key's ID only: never the key.
        f.debug_struct("MasterKey").field("id", &self.id()).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// The key in `bytes` (exactly [`MASTER_KEY_LEN`]).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        let hash = digest(&SHA256, bytes);
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&hash.as_ref()[..KEY_ID_LEN]);
        Some(Self { key: LessSafeKey::new(unbound), id })
    }

    /// The key in the file at `path`: exactly 32 bytes, readable by its owner only (on Unix).
    pub fn read(path: &Path) -> Result<Self, VaultError> {
        let problem = |problem: String| VaultError::KeyFile { path: path.display().to_string(), problem };
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| problem(e.to_string()))?);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path).map_err(|e| problem(e.to_string()))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(problem(format!("readable by others (mode {:o}): chmod 600 it", mode & 0o777)));
            }
        }
        if bytes.len() != MASTER_KEY_LEN {
            return Err(problem(format!("holds {} bytes, not {MASTER_KEY_LEN} random bytes", bytes.len())));
        }
        Self::from_bytes(&bytes).ok_or_else(|| problem("not a usable key".into()))
    }

    /// The key in the file at `path`, made there first (32 random bytes, owner-only, in an
    /// owner-only folder made if missing) if there is none: the demo's, and a fresh deployment's
    /// when asked to. Made whole beside it and linked into place, so that of processes starting
    /// together, every one reads the same complete key.
    pub fn read_or_create(path: &Path) -> Result<Self, VaultError> {
        if !path.exists() {
            let problem = |problem: String| VaultError::KeyFile { path: path.display().to_string(), problem };
            if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(folder).map_err(|e| problem(e.to_string()))?;
            }
            let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
            SystemRandom::new().fill(bytes.as_mut()).map_err(|_| VaultError::Random)?;
            let mut tag = [0u8; 8];
            SystemRandom::new().fill(&mut tag).map_err(|_| VaultError::Random)?;
            let mut draft = path.as_os_str().to_owned();
            draft.push(format!(".{}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>()));
            let draft = std::path::PathBuf::from(draft);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let written = options.open(&draft).and_then(|mut file| file.write_all(bytes.as_ref()));
            let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
            let _ = std::fs::remove_file(&draft);
            match linked {
                Ok(()) => {}
                // Another process made it meanwhile: theirs is the key.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(problem(e.to_string())),
            }
        }
        Self::read(path)
    }

    /// The key's ID as sealed values name it (hex), safe to show and log.
    pub fn id(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `secret` sealed for `binding`.
    pub fn seal(&self, binding: Binding<'_>, secret: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| VaultError::Random)?;
        let mut sealed = Vec::with_capacity(HEADER_LEN + secret.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(MAGIC);
        sealed.extend_from_slice(&self.id);
        sealed.extend_from_slice(&nonce);
        let mut body = secret.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(binding.aad()), &mut body)
            .map_err(|_| VaultError::Unopenable)?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// The secret `sealed` holds for `binding`.
    pub fn open(&self, binding: Binding<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let id = sealed_key_id(sealed).ok_or(VaultError::Unopenable)?;
        if id != self.id {
            return Err(VaultError::OtherKey(id.iter().map(|b| format!("{b:02x}")).collect()));
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[MAGIC.len() + KEY_ID_LEN..HEADER_LEN])
            .map_err(|_| VaultError::Unopenable)?;
        let mut body = Zeroizing::new(sealed[HEADER_LEN..].to_vec());
        let length = self
            .key
            .open_in_place(nonce, Aad::from(binding.aad()), &mut body)
            .map_err(|_| VaultError::Unopenable)?
            .len();
        body.truncate(length);
        Ok(body)
    }

    /// `sealed`, opened with `old` and sealed again under this key (a master key rotation).
    /// A value already under this key is answered as it is.
    pub fn reseal(&self, old: &MasterKey, binding: Binding<'_>, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed_key_id(sealed) == Some(self.id) {
            // Proven to open before it is kept.
            self.open(binding, sealed)?;
            return Ok(sealed.to_vec());
        }
        self.seal(binding, &old.open(binding, sealed)?)
    }
}

/// The ID of the master key that sealed `sealed`, if it is a sealed value at all.
fn sealed_key_id(sealed: &[u8]) -> Option<[u8; KEY_ID_LEN]> {
    if sealed.len() < HEADER_LEN + AES_256_GCM.tag_len() || !sealed.starts_with(MAGIC) {
        return None;
    }
    sealed[MAGIC.len()..MAGIC.len() + KEY_ID_LEN].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n";

    fn master(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&[byte; MASTER_KEY_LEN]).unwrap()
    }

    fn shop(shop: i64) -> Binding<'static> {
        Binding { shop, field: "private_key" }
    }

    #[test]
    fn a_sealed_secret_opens_for_its_shop_and_field_and_shows_nothing_of_itself() {
        let key = master(1);
        let sealed = key.seal(shop(7), KEY).unwrap();
        assert_eq!(key.open(shop(7), &sealed).unwrap().as_slice(), KEY);
        assert!(!sealed.windows(16).any(|w| KEY.windows(16).any(|k| k == w)), "no plaintext in the sealed bytes");
        assert_ne!(key.seal(shop(7), KEY).unwrap(), sealed, "a fresh nonce each time");
    }

    #[test]
    fn a_sealed_secret_copied_to_another_shop_or_field_does_not_open() {
        let key = master(1);
        let sealed = key.seal(shop(7), KEY).unwrap();
        assert_eq!(key.open(shop(8), &sealed), Err(VaultError::Unopenable));
        assert_eq!(key.open(Binding { shop: 7, field: "other" }, &sealed), Err(VaultError::Unopenable));
    }

    #[test]
    fn an_altered_or_truncated_value_does_not_open() {
        let key = master(1);
        let sealed = key.seal(shop(7), KEY).unwrap();
        for at in [0, MAGIC.len() + KEY_ID_LEN, HEADER_LEN, sealed.len() - 1] {
            let mut altered = sealed.clone();
            altered[at] ^= 1;
            assert!(key.open(shop(7), &altered).is_err(), "byte {at} altered");
        }
        assert_eq!(key.open(shop(7), &sealed[..HEADER_LEN + 3]), Err(VaultError::Unopenable));
        assert_eq!(key.open(shop(7), b""), Err(VaultError::Unopenable));
        assert_eq!(key.open(shop(7), KEY), Err(VaultError::Unopenable), "a plaintext key is not a sealed one");
    }

    #[test]
    fn another_master_key_is_named_not_mistaken_for_corruption() {
        let sealed = master(1).seal(shop(7), KEY).unwrap();
        assert_eq!(master(2).open(shop(7), &sealed), Err(VaultError::OtherKey(master(1).id())));
    }

    #[test]
    fn a_rotation_reseals_under_the_new_key_and_keeps_what_is_already_there() {
        let (old, new) = (master(1), master(2));
        let sealed = old.seal(shop(7), KEY).unwrap();
        let resealed = new.reseal(&old, shop(7), &sealed).unwrap();
        assert_eq!(new.open(shop(7), &resealed).unwrap().as_slice(), KEY);
        assert!(old.open(shop(7), &resealed).is_err());
        assert_eq!(new.reseal(&old, shop(7), &resealed).unwrap(), resealed, "run twice, nothing changes");
        assert!(new.reseal(&old, shop(8), &sealed).is_err(), "still bound to its shop");
    }

    #[test]
    fn the_key_file_must_hold_32_bytes_for_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("amazonpay2-vault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let _ = std::fs::remove_file(&path);
        let made = MasterKey::read_or_create(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), MASTER_KEY_LEN);
        assert_eq!(MasterKey::read_or_create(&path).unwrap().id(), made.id(), "made once, then read");
        assert!(!format!("{made:?}").contains(&format!("{:?}", std::fs::read(&path).unwrap())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(
                matches!(MasterKey::read(&path), Err(VaultError::KeyFile { problem, .. }) if problem.contains("chmod 600"))
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(
            matches!(MasterKey::read(&path), Err(VaultError::KeyFile { problem, .. }) if problem.contains("5 bytes"))
        );
        assert!(MasterKey::read(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Instances of a fresh demo start together: each reads the one key, whole, in a folder
    /// that did not exist.
    #[test]
    fn processes_making_the_key_at_once_all_read_the_same_whole_key() {
        for round in 0..20 {
            let dir = std::env::temp_dir().join(format!("amazonpay2-vault-race-{}-{round}", std::process::id()));
            let path = dir.join("data").join("master.key");
            let ids: Vec<String> = std::thread::scope(|scope| {
                let makers: Vec<_> =
                    (0..6).map(|_| scope.spawn(|| MasterKey::read_or_create(&path).map(|k| k.id()))).collect();
                makers.into_iter().map(|maker| maker.join().unwrap().unwrap()).collect()
            });
            assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "round {round}: {ids:?}");
            assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no drafts left");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
