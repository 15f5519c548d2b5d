//! The shop owner's accounts and sessions, apart from shop members: Argon2id passwords checked
//! off the async workers, logins counted per name before they are checked and bounded in how
//! many run at once ([`logins`]), a session cookie of its own (`__Host-` under https, HttpOnly,
//! SameSite=Strict) whose ID the database keeps only as a digest, a 30-minute idle timeout, and
//! a CSRF token derived from the session for every change.

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::core::{now, secrets_equal};
use crate::server::logins::{self, Checked, LoginError};
use crate::storage::{AdminSession, Database, StorageError};

/// How long an owner's session lives without being used.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `last_seen` is written at most this often, so that page loads stay reads.
const TOUCH_INTERVAL: i64 = 60;

/// The demo's owner account, announced at start and in README.
pub const DEMO_ADMIN: (&str, &str) = ("admin", "admin-demo");

/// Who is logged in to the admin, and the token their forms carry.
#[derive(Clone, Debug)]
pub struct Owner {
    /// The account name.
    pub name: String,
    /// The session's random ID (the cookie's value).
    pub session: String,
    /// The CSRF token of the session.
    pub csrf: String,
}

/// How a login went.
#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    /// Logged in with a new session.
    Done(String),
    /// Wrong name or password.
    Refused,
    /// Too many failures of this name lately.
    Locked,
    /// Too many password checks at once on this server: try again in a moment.
    Busy,
}

/// Why an account name or password cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The name is not 1–64 letters, digits, `.`, `_`, `-` or `@`.
    #[error("the account name must be 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    Name,
    /// The password is shorter than 8 or longer than 128 characters.
    #[error("the password must be 8 to 128 characters")]
    Password,
    /// Hashing failed.
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// Whether `name` can name an owner account.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// An Argon2id hash of an owner's password (off the async workers, within the bound on password
/// work at once: it is deliberately heavy).
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    if !(8..=128).contains(&password.chars().count()) {
        return Err(AccountError::Password);
    }
    logins::checks()
        .hash(password)
        .await
        .map_err(|failed| AccountError::Hash(failed.to_string()))?
        .map_err(AccountError::Hash)
}

/// Creates the account `name` or sets its password (its sessions end); `true` when it was new.
pub async fn put_account(db: &Database, name: &str, password: &str) -> Result<bool, AdminStoreError> {
    if !valid_name(name) {
        return Err(AdminStoreError::Account(AccountError::Name));
    }
    let hash = hash_password(password).await.map_err(AdminStoreError::Account)?;
    Ok(db.put_admin(name, &hash).await?)
}

/// [`put_account`] failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminStoreError {
    /// The name or password cannot be used.
    #[error(transparent)]
    Account(AccountError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The owners' sessions on one database.
pub struct Sessions {
    db: Database,
    key: hmac::Key,
    secure: bool,
}

impl Sessions {
    /// Sessions in `db`, tokens derived with the database's admin key; `secure` for https shops.
    pub async fn new(db: Database, secure: bool) -> Result<Self, StorageError> {
        let secret = db.secret("admin-session-key").await?;
        Ok(Self { db, key: hmac::Key::new(hmac::HMAC_SHA256, &secret), secure })
    }

    /// The session cookie's name: `__Host-` under https, so that no subdomain can set it.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure { "__Host-amazonpay2_admin" } else { "amazonpay2_admin" }
    }

    /// The login form's cookie (a random nonce the form's token is derived from).
    pub fn login_cookie_name(&self) -> &'static str {
        if self.secure { "__Host-amazonpay2_admin_login" } else { "amazonpay2_admin_login" }
    }

    /// The owner whose session the browser's cookie names, if it is alive (touched now).
    pub async fn current(&self, jar: &CookieJar) -> Result<Option<Owner>, StorageError> {
        let Some(id) = jar.get(self.cookie_name()).map(Cookie::value).filter(|id| is_id(id)) else {
            return Ok(None);
        };
        let stored = digest_of(id);
        let Some(AdminSession { name, last_seen }) = self.db.admin_session(&stored).await? else { return Ok(None) };
        let now = now();
        if now - last_seen > secs(IDLE_TIMEOUT) {
            self.db.delete_admin_session(&stored).await?;
            return Ok(None);
        }
        if now - last_seen > TOUCH_INTERVAL {
            self.db.touch_admin_session(&stored, now).await?;
        }
        Ok(Some(Owner { name, session: id.to_owned(), csrf: self.derive("admin-csrf", id) }))
    }

    /// Checks a login (counted against the name first, see [`logins`]); a good one starts a
    /// new session (returned as the cookie's value).
    pub async fn log_in(&self, name: &str, password: &str) -> Result<Login, LoginError> {
        let name = name.trim();
        if !valid_name(name) {
            // No account can have this name, and the rule is no secret: nothing to check.
            return Ok(Login::Refused);
        }
        let stored = self.db.admin_password_hash(name).await?;
        let subject = format!("admin:{name}");
        match logins::check(&self.db, logins::checks(), &subject, stored, password).await? {
            Checked::Valid => {}
            Checked::Invalid => return Ok(Login::Refused),
            Checked::Locked => return Ok(Login::Locked),
            Checked::Busy => return Ok(Login::Busy),
        }
        let id = self.new_id()?;
        self.db.insert_admin_session(&digest_of(&id), name).await?;
        Ok(Login::Done(id))
    }

    /// Ends the session.
    pub async fn log_out(&self, owner: &Owner) -> Result<(), StorageError> {
        self.db.delete_admin_session(&digest_of(&owner.session)).await
    }

    /// The cookie of a new session.
    pub fn session_cookie(&self, id: &str) -> Cookie<'static> {
        self.cookie(self.cookie_name(), id.to_owned())
    }

    /// A cookie that removes the session's.
    pub fn removal(&self) -> Cookie<'static> {
        let mut cookie = self.cookie(self.cookie_name(), String::new());
        cookie.make_removal();
        cookie
    }

    /// The login form's nonce: the browser's, or a new one with the cookie to set.
    pub fn login_nonce(&self, jar: &CookieJar) -> Result<(String, Option<Cookie<'static>>), StorageError> {
        match jar.get(self.login_cookie_name()).map(Cookie::value).filter(|id| is_id(id)) {
            Some(nonce) => Ok((nonce.to_owned(), None)),
            None => {
                let nonce = self.new_id()?;
                let cookie = self.cookie(self.login_cookie_name(), nonce.clone());
                Ok((nonce, Some(cookie)))
            }
        }
    }

    /// The token the login form carries for `nonce`.
    pub fn login_token(&self, nonce: &str) -> String {
        self.derive("admin-login", nonce)
    }

    /// Whether the login form's `token` belongs to the browser's nonce cookie.
    pub fn login_token_valid(&self, jar: &CookieJar, token: &str) -> bool {
        jar.get(self.login_cookie_name())
            .map(Cookie::value)
            .filter(|nonce| is_id(nonce))
            .is_some_and(|nonce| secrets_equal(token, &self.login_token(nonce)))
    }

    fn cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value)).path("/").http_only(true).same_site(SameSite::Strict).secure(self.secure).build()
    }

    /// A secret of the session: HMAC of its ID under the admin key.
    fn derive(&self, purpose: &str, id: &str) -> String {
        let tag = hmac::sign(&self.key, format!("{purpose}\0{id}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// A fresh random ID (256 bits, URL-safe).
    fn new_id(&self) -> Result<String, StorageError> {
        let mut bytes = [0u8; 32];
        crate::core::random::fill(&mut bytes)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// The database keeps a session's digest, never its ID: a copy of the database logs nobody in.
fn digest_of(id: &str) -> String {
    crate::amazon::signature::hex(digest(&SHA256, id.as_bytes()).as_ref())
}

/// IDs are 43 characters of base64url; anything else is not one of ours.
fn is_id(id: &str) -> bool {
    id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        assert!(valid_name("admin") && valid_name("owner.sato@shop") && valid_name("a-b_c"));
        for bad in ["", "a b", "山田", "<script>", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn passwords_are_hashed_with_argon2id_and_short_ones_refused() {
        let hash = hash_password("admin-demo").await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_eq!(hash_password("short").await, Err(AccountError::Password));
    }
}
