//! Password logins, for the shop owners (管理画面) and the demo shop's members alike.
//!
//! Two limits keep a password form from being a way in or a way down:
//! - **per subject** (an owner's name, a member's e-mail): an attempt is counted in the database
//!   *before* its password is checked, in one statement, so that parallel requests cannot all
//!   read "no failures yet"; at most [`MAX_FAILURES`] are checked in a [`LOCK`] window, the rest
//!   are refused unchecked until the window ends; a good password clears the count;
//! - **per process**: Argon2id with its default parameters takes 19 MiB and tens of milliseconds
//!   of a core, so at most [`concurrent_checks`] run at once; a request waits up to
//!   [`CHECK_WAIT`] for its turn and is otherwise refused as busy (429), its attempt uncounted.
//!   The turn is held by the hashing itself, not by the request: a client that goes away while
//!   its password is being hashed frees nothing until the hashing ends, so disconnecting logins
//!   cannot pile up Argon2 work beyond the bound.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use crate::core::now;
use crate::storage::{Database, StorageError};

/// Attempts of one subject checked at most…
pub const MAX_FAILURES: u32 = 5;
/// …in this long (from the first attempt of the series), then it is locked until the end.
pub const LOCK: Duration = Duration::from_secs(15 * 60);
/// How long a request waits for a password check to free up before it is answered busy.
pub const CHECK_WAIT: Duration = Duration::from_secs(3);
/// The longest password looked at; anything longer is simply wrong (hashing megabytes is work
/// an attacker would choose).
const MAX_PASSWORD_BYTES: usize = 1_024;

/// An Argon2id hash of a random password nobody knows: unknown subjects cost a real check, so
/// that the time taken says nothing about which names or e-mails exist.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$L5tvXrs0yE8J6kz0i1l+1mSAyjP1C3m5VoGk0Y8JH4I";

/// How a login's password check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// The password is the subject's (its failures are forgotten).
    Valid,
    /// Wrong password, or no such subject (counted).
    Invalid,
    /// Too many attempts lately: not checked.
    Locked,
    /// Too many checks at once on this server: not checked, not counted.
    Busy,
}

/// Why a password check did not run to its answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The server has no password check free now (a 429: try again in a moment).
    #[error("too many password checks at once")]
    Busy,
    /// The check itself failed (it panicked): our fault, an internal error.
    #[error("the password check failed: {0}")]
    Failed(String),
}

/// Why a login could not be checked: the database, or the check itself.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The password check failed (see [`CheckError::Failed`]).
    #[error("the password check failed: {0}")]
    Check(String),
}

/// How many password checks run at once: one per core, at most four (76 MiB of Argon2 memory).
pub fn concurrent_checks() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).clamp(1, 4)
}

/// The permits of this process's password checks.
static CHECKS: LazyLock<PasswordChecks> = LazyLock::new(|| PasswordChecks::new(concurrent_checks(), CHECK_WAIT));

/// A bound on Argon2 work running at once.
pub struct PasswordChecks {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordChecks {
    /// At most `permits` checks at once; a check waits at most `wait` for one.
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self { permits: Arc::new(Semaphore::new(permits)), wait }
    }

    /// Whether `password` is the one `hash` was made from (a malformed hash matches nothing),
    /// off the async workers and within the bound.
    pub async fn verify(&self, hash: String, password: &str) -> Result<bool, CheckError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let password = password.to_owned();
        self.run(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    /// An Argon2id hash of `password` with a fresh salt, within the bound.
    pub async fn hash(&self, password: &str) -> Result<Result<String, String>, CheckError> {
        let password = password.to_owned();
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
                .map(|hash| hash.to_string())
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// Runs `work` on the blocking pool once a permit is free. The permit moves into the blocking
    /// task and is released when the work ends, not when this future is dropped: a request whose
    /// client disconnected leaves its Argon2 running, and that still counts against the bound.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, CheckError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| CheckError::Busy)?
            .map_err(|_| CheckError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|error| CheckError::Failed(error.to_string()))
    }
}

/// This process's password checks.
pub fn checks() -> &'static PasswordChecks {
    &CHECKS
}

/// Argon2id, version 0x13, default parameters (m = 19 MiB, t = 2, p = 1): what every stored hash
/// here was made with.
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// Checks a login of `subject` (`admin:<name>`, `member:<e-mail>`) against `stored` (its hash,
/// or `None` for an unknown subject, which is checked against [`DUMMY_HASH`] all the same): the
/// attempt is counted first, then checked within the bound, uncounted if it never was, and the
/// count forgotten after a good one.
pub async fn check(
    db: &Database,
    checks: &PasswordChecks,
    subject: &str,
    stored: Option<String>,
    password: &str,
) -> Result<Checked, LoginError> {
    let window = i64::try_from(LOCK.as_secs()).unwrap_or(i64::MAX);
    let Some(since) = db.count_login_attempt(subject, now(), window, MAX_FAILURES).await? else {
        return Ok(Checked::Locked);
    };
    let known = stored.is_some();
    let valid = match checks.verify(stored.unwrap_or_else(|| DUMMY_HASH.to_owned()), password).await {
        Ok(valid) => valid && known,
        Err(CheckError::Busy) => {
            db.uncount_login_attempt(subject, since).await?;
            return Ok(Checked::Busy);
        }
        Err(CheckError::Failed(why)) => {
            // Never checked: the attempt is not held against the subject.
            db.uncount_login_attempt(subject, since).await?;
            return Err(LoginError::Check(why));
        }
    };
    if !valid {
        return Ok(Checked::Invalid);
    }
    db.clear_login_attempts(subject).await?;
    Ok(Checked::Valid)
}

/// Forgets the attempts of windows that ended long ago (names and e-mails nobody tried for a
/// day, mostly guesses); answers how many subjects.
pub async fn purge(db: &Database) -> Result<usize, StorageError> {
    let day = 24 * 60 * 60;
    let window = i64::try_from(LOCK.as_secs()).unwrap_or(i64::MAX);
    db.purge_login_attempts(now() - window.max(day)).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::{LoginAttempts, sqlite_for_tests};

    #[test]
    fn the_dummy_hash_parses_and_matches_nothing() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert!(argon2().verify_password(b"admin-demo", &parsed).is_err());
    }

    #[tokio::test]
    async fn a_check_waits_for_a_free_permit_and_is_busy_when_none_frees_up() {
        let checks = PasswordChecks::new(1, Duration::ZERO);
        let held = checks.permits.acquire().await.unwrap();
        assert_eq!(checks.verify(DUMMY_HASH.to_owned(), "x").await, Err(CheckError::Busy));
        drop(held);
        assert_eq!(checks.verify(DUMMY_HASH.to_owned(), "x").await, Ok(false));
        let hash = checks.hash("correct horse").await.unwrap().unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert_eq!(checks.verify(hash.clone(), "correct horse").await, Ok(true));
        assert_eq!(checks.verify(hash, &"x".repeat(MAX_PASSWORD_BYTES + 1)).await, Ok(false));
    }

    #[tokio::test]
    async fn a_check_whose_client_went_away_keeps_its_turn_until_the_hashing_ends() {
        let checks = PasswordChecks::new(1, Duration::ZERO);
        let (started, hashing) = tokio::sync::oneshot::channel();
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        let request = checks.run(move || {
            let _ = started.send(());
            let _ = finished.recv();
        });
        // The client disconnects while its password is being hashed: its request is dropped.
        tokio::select! {
            _ = request => panic!("the hashing cannot end before it is let"),
            _ = hashing => {}
        }
        assert_eq!(
            checks.verify(DUMMY_HASH.to_owned(), "x").await,
            Err(CheckError::Busy),
            "the abandoned hashing still holds the only turn"
        );
        finish.send(()).unwrap();
        drop(checks.permits.acquire().await.expect("the turn comes back when the hashing ends"));
        assert_eq!(checks.verify(DUMMY_HASH.to_owned(), "x").await, Ok(false));
    }

    #[tokio::test]
    async fn a_check_that_fails_is_an_internal_error_not_busy_and_frees_its_turn() {
        let checks = PasswordChecks::new(1, Duration::ZERO);
        let failed = checks.run(|| -> bool { panic!("the hashing broke") }).await;
        assert!(matches!(failed, Err(CheckError::Failed(_))), "{failed:?}");
        assert_eq!(checks.verify(DUMMY_HASH.to_owned(), "x").await, Ok(false));
    }

    #[tokio::test]
    async fn a_busy_check_is_not_counted_and_a_good_one_forgets_the_failures() {
        let (db, _dir) = sqlite_for_tests("logins").await;
        let db: Database = Arc::new(db);
        let hash = checks().hash("correct horse").await.unwrap().unwrap();
        let free = PasswordChecks::new(1, Duration::ZERO);
        let subject = "member:taro@example.jp";
        assert_eq!(check(&db, &free, subject, Some(hash.clone()), "wrong").await.unwrap(), Checked::Invalid);
        assert_eq!(db.login_attempts(subject).await.unwrap().count, 1);
        let held = free.permits.acquire().await.unwrap();
        assert_eq!(check(&db, &free, subject, Some(hash.clone()), "wrong").await.unwrap(), Checked::Busy);
        assert_eq!(db.login_attempts(subject).await.unwrap().count, 1, "a check that never ran is not counted");
        drop(held);
        assert_eq!(check(&db, &free, subject, None, "correct horse").await.unwrap(), Checked::Invalid, "unknown");
        assert_eq!(check(&db, &free, subject, Some(hash), "correct horse").await.unwrap(), Checked::Valid);
        assert_eq!(db.login_attempts(subject).await.unwrap(), LoginAttempts::default());
    }

    #[tokio::test]
    async fn after_five_attempts_the_subject_is_locked_unchecked_even_with_the_right_password() {
        let (db, _dir) = sqlite_for_tests("locked").await;
        let db: Database = Arc::new(db);
        let hash = checks().hash("correct horse").await.unwrap().unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(
                check(&db, checks(), "admin:owner", Some(hash.clone()), "wrong").await.unwrap(),
                Checked::Invalid
            );
        }
        assert_eq!(
            check(&db, checks(), "admin:owner", Some(hash.clone()), "correct horse").await.unwrap(),
            Checked::Locked
        );
        assert_eq!(check(&db, checks(), "admin:other", Some(hash), "correct horse").await.unwrap(), Checked::Valid);
    }
}
