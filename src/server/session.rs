//! Shopper sessions: who is logged in, the CSRF token, and the state that binds a return from
//! Amazon to the browser that left for it.
//!
//! Kept in memory for now; the cookie carries only a random ID.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// The session cookie's name.
pub const COOKIE: &str = "amazonpay2_sid";

/// How long an idle session lives.
const IDLE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The most sessions kept; beyond it the longest idle one goes first.
const CAPACITY: usize = 100_000;

/// What the server knows about one browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The random ID in the cookie.
    pub id: String,
    /// Echoed by the browser in `X-AmazonPay2-CSRF` on state-changing requests.
    pub csrf_token: String,
    /// Put into signed sign-in return URLs and checked on return.
    pub signin_state: String,
    /// The logged-in member, if any.
    pub member: Option<Member>,
    last_seen: Instant,
}

/// A logged-in member as the blocks see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Display name.
    pub name: String,
    /// Whether an Amazon account is linked.
    pub linked: bool,
}

/// All sessions.
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    rng: SystemRandom,
    secure_cookie: bool,
}

impl Sessions {
    /// An empty store; `secure_cookie` for https shops.
    pub fn new(secure_cookie: bool) -> Self {
        Self { sessions: Mutex::new(HashMap::new()), rng: SystemRandom::new(), secure_cookie }
    }

    /// The browser's session, if its cookie names a live one.
    pub fn find(&self, jar: &CookieJar) -> Option<Session> {
        let id = jar.get(COOKIE)?.value();
        let mut sessions = self.lock();
        let session = sessions.get_mut(id)?;
        if session.last_seen.elapsed() > IDLE_LIFETIME {
            sessions.remove(id);
            return None;
        }
        session.last_seen = Instant::now();
        Some(session.clone())
    }

    /// The browser's session, or a new one with the cookie to set.
    pub fn find_or_start(&self, jar: CookieJar) -> (Session, CookieJar) {
        match self.find(&jar) {
            Some(session) => (session, jar),
            None => self.start(jar, None),
        }
    }

    /// Replaces a session by a new one (new ID, CSRF token and sign-in state) for `member`.
    ///
    /// Called whenever who the shopper is changes, and after every return from Amazon: an ID
    /// planted before a login is worthless after it (session fixation), and a sign-in state
    /// works once.
    pub fn renew(&self, jar: CookieJar, old: &Session, member: Option<Member>) -> (Session, CookieJar) {
        self.lock().remove(&old.id);
        self.start(jar, member)
    }

    fn start(&self, jar: CookieJar, member: Option<Member>) -> (Session, CookieJar) {
        let session = Session {
            id: self.token(),
            csrf_token: self.token(),
            signin_state: self.token(),
            member,
            last_seen: Instant::now(),
        };
        let mut sessions = self.lock();
        if sessions.len() >= CAPACITY {
            sessions.retain(|_, s| s.last_seen.elapsed() <= IDLE_LIFETIME);
        }
        if sessions.len() >= CAPACITY {
            let oldest = sessions.values().min_by_key(|s| s.last_seen).map(|s| s.id.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(session.id.clone(), session.clone());
        drop(sessions);
        let cookie = Cookie::build((COOKIE, session.id.clone()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookie)
            .build();
        (session, jar.add(cookie))
    }

    /// Changes the member of a session. Returns the updated session, or `None` when it is gone.
    pub fn set_member(&self, id: &str, member: Option<Member>) -> Option<Session> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(id)?;
        session.member = member;
        Some(session.clone())
    }

    /// A fresh random token (256 bits, URL-safe).
    fn token(&self) -> String {
        let mut bytes = [0u8; 32];
        // The system random source failing is not recoverable: nothing secure can be issued.
        self.rng.fill(&mut bytes).expect("system random source unavailable");
        URL_SAFE_NO_PAD.encode(bytes)
    }

    // A poisoned lock means a panic while holding it; the map itself is still consistent
    // (every update is a single insert or field write), so keep serving.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_browser_gets_a_strict_cookie_and_keeps_its_session() {
        let sessions = Sessions::new(true);
        let (session, jar) = sessions.find_or_start(CookieJar::new());
        let cookie = jar.get(COOKIE).unwrap();
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        let (again, _) = sessions.find_or_start(jar);
        assert_eq!(again.id, session.id);
        assert_ne!(session.csrf_token, session.signin_state);
        assert_eq!(session.id.len(), 43);
    }

    #[test]
    fn unknown_cookies_start_a_new_session() {
        let sessions = Sessions::new(false);
        let jar = CookieJar::new().add(Cookie::new(COOKIE, "forged"));
        let (session, jar) = sessions.find_or_start(jar);
        assert_ne!(session.id, "forged");
        assert_eq!(jar.get(COOKIE).unwrap().value(), session.id);
    }

    #[test]
    fn renewing_replaces_id_token_and_state_and_forgets_the_old_id() {
        let sessions = Sessions::new(false);
        let (old, jar) = sessions.find_or_start(CookieJar::new());
        let member = Member { name: "山田 太郎".into(), linked: true };
        let (new, jar) = sessions.renew(jar, &old, Some(member.clone()));
        assert_ne!(new.id, old.id);
        assert_ne!(new.csrf_token, old.csrf_token);
        assert_ne!(new.signin_state, old.signin_state);
        assert_eq!(sessions.find(&jar).unwrap().member, Some(member));
        let planted = CookieJar::new().add(Cookie::new(COOKIE, old.id));
        assert!(sessions.find(&planted).is_none());
    }

    #[test]
    fn members_are_set_per_session() {
        let sessions = Sessions::new(false);
        let (session, jar) = sessions.find_or_start(CookieJar::new());
        let member = Member { name: "山田 太郎".into(), linked: false };
        sessions.set_member(&session.id, Some(member.clone())).unwrap();
        assert_eq!(sessions.find(&jar).unwrap().member, Some(member));
        assert!(sessions.set_member("gone", None).is_none());
    }
}
