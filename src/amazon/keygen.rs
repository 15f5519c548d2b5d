//! A key pair made the way Seller Central makes one (「キーペアの作成」: RSA-2048, the private half
//! as a PKCS#8 PEM), kept in the data folder: the demo's, so that a fresh machine runs the demo
//! with no Amazon account and restarts keep the same key.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use super::keys::{KeyError, ShopKey};

/// The file name inside `AMAZONPAY2_DATA`.
const FILE_NAME: &str = "demo-private-key.pem";

/// Why the demo key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DemoKeyError {
    /// Writing the new key failed.
    #[error("cannot write the demo key to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Generating or encoding failed.
    #[error("cannot generate the demo key: {0}")]
    Generate(String),
    /// The stored key is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Loads the demo key from `data_dir`, generating it first if there is none.
pub fn load_or_generate(data_dir: &Path) -> Result<ShopKey, DemoKeyError> {
    load_or_generate_at(&data_dir.join(FILE_NAME))
}

/// Loads the key at `path` (a PKCS#8 PEM file), generating it first if there is none: the demo's
/// second shop's.
pub fn load_or_generate_at(path: &Path) -> Result<ShopKey, DemoKeyError> {
    let path = path.to_path_buf();
    if path.exists() {
        return Ok(ShopKey::from_file(&path)?);
    }
    tracing::info!(path = %path.display(), "generating the demo's RSA-2048 key pair");
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| DemoKeyError::Generate(e.to_string()))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| DemoKeyError::Generate(e.to_string()))?;
    match write_private(&path, pem.as_bytes()) {
        Ok(()) => Ok(ShopKey::from_pem(pem.as_bytes())?),
        // Another process (an instance, or a command, starting at the same moment) made it
        // first: its key is the shop's.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(ShopKey::from_file(&path)?),
        Err(source) => Err(DemoKeyError::Write { path, source }),
    }
}

/// Writes owner-readable only, whole, through a file of this process's own linked into place, so
/// that a crash never leaves half a key and of two processes the first key made stays (the
/// other's link fails with `AlreadyExists`).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        // The data folder: owner-only, as the database in it makes it (storage::Store).
        fs::DirBuilder::new().recursive(true).mode(0o700).create(parent)?;
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    let temporary = std::path::PathBuf::from(name);
    let written = (|| {
        let mut file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::hard_link(&temporary, path)
    })();
    let _ = fs::remove_file(&temporary);
    written
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_demo_key_is_generated_once_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("amazonpay2-demo-key-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let first = load_or_generate(&dir).unwrap();
        let mode = fs::metadata(dir.join(FILE_NAME)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = load_or_generate(&dir).unwrap();
        assert_eq!(first.public_key_der(), second.public_key_der());
        fs::remove_dir_all(&dir).unwrap();
    }
}
