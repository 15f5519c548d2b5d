//! Shopper sessions: who is logged in, the CSRF token, the state that binds a return from Amazon
//! to the browser that left for it, and a verified Amazon buyer waiting for sign-up.
//!
//! Stored in the database; the cookie carries only a random ID.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::store::{SessionRecord, Store, StoreError};
use crate::amazon::types::Buyer;

/// The session cookie's name.
pub const COOKIE: &str = "amazonpay2_sid";

/// How long an idle session lives.
pub const IDLE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// `last_seen` is written at most this often, so that page loads stay reads.
const TOUCH_INTERVAL: i64 = 60;

/// What the server knows about one browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The random ID in the cookie.
    pub id: String,
    /// Echoed by the browser in `X-AmazonPay2-CSRF` on state-changing requests.
    pub csrf_token: String,
    /// Put into signed sign-in return URLs and checked on return; works once.
    pub signin_state: String,
    /// The logged-in member, if any.
    pub member: Option<Member>,
    /// An Amazon buyer verified with getBuyer, waiting for sign-up or a password login.
    pub pending_buyer: Option<Buyer>,
    /// Where to send the shopper after an Amazon sign-in (a same-origin path).
    pub return_to: Option<String>,
    /// The shopper's cart, kept across logins.
    pub cart_id: Option<String>,
}

/// A logged-in member as the blocks see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Row ID.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Whether an Amazon account is linked.
    pub linked: bool,
}

/// All sessions.
pub struct Sessions {
    store: Arc<Store>,
    rng: SystemRandom,
    secure_cookie: bool,
}

impl Sessions {
    /// Sessions in `store`; `secure_cookie` for https shops.
    pub fn new(store: Arc<Store>, secure_cookie: bool) -> Self {
        Self { store, rng: SystemRandom::new(), secure_cookie }
    }

    /// The browser's session, if its cookie names a live one.
    pub fn find(&self, jar: &CookieJar) -> Result<Option<Session>, StoreError> {
        let Some(cookie) = jar.get(COOKIE) else {
            return Ok(None);
        };
        let Some(record) = self.store.session(cookie.value())? else {
            return Ok(None);
        };
        let now = now();
        if now - record.last_seen > lifetime() {
            self.store.delete_session(&record.id)?;
            return Ok(None);
        }
        if now - record.last_seen > TOUCH_INTERVAL {
            self.store.touch_session(&record.id, now)?;
        }
        let member = match record.member_id {
            Some(id) => self.store.member(id)?.map(|m| Member { id: m.id, name: m.name, linked: m.buyer_id.is_some() }),
            None => None,
        };
        Ok(Some(Session {
            id: record.id,
            csrf_token: record.csrf_token,
            signin_state: record.signin_state,
            member,
            pending_buyer: record.pending_buyer.and_then(|json| serde_json::from_str(&json).ok()),
            return_to: record.return_to,
            cart_id: record.cart_id,
        }))
    }

    /// The browser's session, or a new one with the cookie to set.
    pub fn find_or_start(&self, jar: CookieJar) -> Result<(Session, CookieJar), StoreError> {
        match self.find(&jar)? {
            Some(session) => Ok((session, jar)),
            None => self.start(jar, None, None, None, None),
        }
    }

    /// Replaces a session by a new one (new ID, CSRF token and sign-in state).
    ///
    /// Called whenever who the shopper is changes, and after every return from Amazon: an ID
    /// planted before a login is worthless after it (session fixation), and a sign-in state
    /// works once.
    pub fn renew(
        &self,
        jar: CookieJar,
        old: &Session,
        member_id: Option<i64>,
        pending_buyer: Option<&Buyer>,
    ) -> Result<(Session, CookieJar), StoreError> {
        self.store.delete_session(&old.id)?;
        self.start(jar, member_id, pending_buyer, old.return_to.clone(), old.cart_id.clone())
    }

    /// The session's cart, created on first use.
    pub fn cart_id(&self, session: &Session) -> Result<String, StoreError> {
        if let Some(id) = &session.cart_id {
            return Ok(id.clone());
        }
        let id = self.token();
        self.store.create_cart(&id)?;
        let mut record = self.record(session);
        record.cart_id = Some(id.clone());
        self.store.save_session(&record)?;
        Ok(id)
    }

    /// Remembers where the shopper was when they could start an Amazon sign-in.
    pub fn set_return_to(&self, session: &Session, path: &str) -> Result<(), StoreError> {
        if session.return_to.as_deref() == Some(path) {
            return Ok(());
        }
        let mut record = self.record(session);
        record.return_to = Some(path.to_owned());
        self.store.save_session(&record)
    }

    fn start(
        &self,
        jar: CookieJar,
        member_id: Option<i64>,
        pending_buyer: Option<&Buyer>,
        return_to: Option<String>,
        cart_id: Option<String>,
    ) -> Result<(Session, CookieJar), StoreError> {
        let record = SessionRecord {
            id: self.token(),
            csrf_token: self.token(),
            signin_state: self.token(),
            member_id,
            pending_buyer: pending_buyer.and_then(|b| serde_json::to_string(b).ok()),
            return_to,
            cart_id,
            last_seen: now(),
        };
        self.store.save_session(&record)?;
        let cookie = Cookie::build((COOKIE, record.id.clone()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookie)
            .build();
        let jar = jar.add(cookie);
        let session = self.find(&jar)?.ok_or(StoreError::Database(rusqlite::Error::QueryReturnedNoRows))?;
        Ok((session, jar))
    }

    fn record(&self, session: &Session) -> SessionRecord {
        SessionRecord {
            id: session.id.clone(),
            csrf_token: session.csrf_token.clone(),
            signin_state: session.signin_state.clone(),
            member_id: session.member.as_ref().map(|m| m.id),
            pending_buyer: session.pending_buyer.as_ref().and_then(|b| serde_json::to_string(b).ok()),
            return_to: session.return_to.clone(),
            cart_id: session.cart_id.clone(),
            last_seen: now(),
        }
    }

    /// Deletes sessions idle for longer than their lifetime.
    pub fn expire(&self) -> Result<usize, StoreError> {
        self.store.delete_sessions_before(now() - lifetime())
    }

    /// A fresh random token (256 bits, URL-safe).
    fn token(&self) -> String {
        let mut bytes = [0u8; 32];
        // The system random source failing is not recoverable: nothing secure can be issued.
        self.rng.fill(&mut bytes).expect("system random source unavailable");
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

fn lifetime() -> i64 {
    i64::try_from(IDLE_LIFETIME.as_secs()).unwrap_or(i64::MAX)
}

/// Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::NewMember;

    fn sessions() -> (Sessions, Arc<Store>) {
        let store = Arc::new(Store::open_in_memory().unwrap());
        (Sessions::new(store.clone(), true), store)
    }

    #[test]
    fn a_new_browser_gets_a_strict_cookie_and_keeps_its_session() {
        let (sessions, _) = sessions();
        let (session, jar) = sessions.find_or_start(CookieJar::new()).unwrap();
        let cookie = jar.get(COOKIE).unwrap();
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        let (again, _) = sessions.find_or_start(jar).unwrap();
        assert_eq!(again.id, session.id);
        assert_ne!(session.csrf_token, session.signin_state);
        assert_eq!(session.id.len(), 43);
    }

    #[test]
    fn unknown_cookies_start_a_new_session() {
        let (sessions, _) = sessions();
        let jar = CookieJar::new().add(Cookie::new(COOKIE, "forged"));
        let (session, jar) = sessions.find_or_start(jar).unwrap();
        assert_ne!(session.id, "forged");
        assert_eq!(jar.get(COOKIE).unwrap().value(), session.id);
    }

    #[test]
    fn renewing_replaces_id_token_and_state_and_forgets_the_old_id() {
        let (sessions, store) = sessions();
        let id = store
            .create_member(&NewMember { email: "a@example.jp".into(), ..NewMember::default() }, "h", 0)
            .unwrap()
            .unwrap();
        let (old, jar) = sessions.find_or_start(CookieJar::new()).unwrap();
        sessions.set_return_to(&old, "/cart").unwrap();
        let old = sessions.find(&jar).unwrap().unwrap();
        let (new, jar) = sessions.renew(jar, &old, Some(id), None).unwrap();
        assert_ne!(new.id, old.id);
        assert_ne!(new.csrf_token, old.csrf_token);
        assert_ne!(new.signin_state, old.signin_state);
        assert_eq!(new.return_to.as_deref(), Some("/cart"));
        assert_eq!(sessions.find(&jar).unwrap().unwrap().member.unwrap().id, id);
        let planted = CookieJar::new().add(Cookie::new(COOKIE, old.id));
        assert!(sessions.find(&planted).unwrap().is_none());
    }

    #[test]
    fn a_pending_buyer_survives_in_the_session() {
        let (sessions, _) = sessions();
        let (old, jar) = sessions.find_or_start(CookieJar::new()).unwrap();
        let buyer =
            Buyer { buyer_id: "amzn1.account.X".into(), name: Some("山田 太郎".into()), ..Buyer::default() };
        let (_, jar) = sessions.renew(jar, &old, None, Some(&buyer)).unwrap();
        assert_eq!(sessions.find(&jar).unwrap().unwrap().pending_buyer, Some(buyer));
    }
}
