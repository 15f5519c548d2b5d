//! Shopper sessions: who is logged in, the cart, a verified Amazon buyer waiting for sign-up, and
//! the two secrets derived from the session's ID (the CSRF token and the sign-in state that binds a
//! return from Amazon to the browser that left for it).
//!
//! A first visit stores nothing: the cookie carries an ID (`a.<id>`) and both secrets are derived
//! from it with the server's key, so page views of shoppers who do nothing cost no write and grow
//! no table. The session is stored (`s.<id>`, same ID, same secrets) only when the shopper does
//! something that needs it: a cart, an Amazon sign-in, a login.
//!
//! Only IDs the server made are ever used: an anonymous ID carries the server's tag over its
//! random part (nothing stores it, so the tag is how it is recognised), a stored one must be in
//! the database; anything else gets a fresh ID (no session fixation). Under https the cookie is
//! `__Host-amazonpay2_sid`.
//!
//! Shops that ran before the `__Host-` name keep their shoppers' stored sessions (carts, logged-in
//! members) across the deploy: under https, a browser without the new cookie but with the old
//! `amazonpay2_sid=s.<id>` naming a session the database holds, made by the old server (its ID
//! carries no tag of this server's: the old server's IDs had none, so a session made since is
//! never taken from the old name), is served that session and moved at its next page's widget
//! request to a fresh ID under the new name. Read through the old name a session is never
//! touched, so the old name stops working by itself within a day ([`IDLE_LIFETIME`]) of the
//! deploy; anonymous IDs are never taken from it.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::amazon::types::Buyer;
use crate::core::now;
use crate::core::platform::{CartId, MemberId};
use crate::storage::{Database, Purged, SessionChange, SessionRecord, StorageError, WaitingBuyer};

/// The session cookie's name on an http shop (the demo on this machine).
pub const COOKIE: &str = "amazonpay2_sid";

/// The session cookie's name on an https shop: `__Host-` makes the browser keep it only when it
/// is Secure, for `Path=/` and without `Domain`, so that no other host (a subdomain, a page on
/// plain http) can set or overwrite it.
pub const SECURE_COOKIE: &str = "__Host-amazonpay2_sid";

/// How long an idle stored session lives.
pub const IDLE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// How long an abandoned cart is kept.
pub const CART_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long a verified Amazon buyer waits for sign-up or a login before it is forgotten (as long
/// as Amazon's buyer token itself lives).
pub const PENDING_BUYER_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// `last_seen` is written at most this often, so that page loads stay reads.
const TOUCH_INTERVAL: i64 = 60;

/// What the server knows about one browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The random ID in the cookie.
    pub id: String,
    /// Whether anything of it is stored (else the cookie is all there is).
    pub stored: bool,
    /// Echoed by the browser in `X-AmazonPay2-CSRF` on state-changing requests.
    pub csrf_token: String,
    /// Put into signed sign-in return URLs and checked on return; changes with the ID.
    pub signin_state: String,
    /// Found under the cookie name of the server before `__Host-` (see the module's notes):
    /// moved to a fresh ID under the new name at the next [`Sessions::current`].
    pub legacy: bool,
    /// The logged-in member, if any.
    pub member: Option<Member>,
    /// The shopper's cart.
    pub cart: Option<CartId>,
    /// An Amazon buyer verified with getBuyer, waiting for sign-up or a password login.
    pub pending_buyer: Option<Buyer>,
    /// Where to send the shopper after an Amazon sign-in (a same-origin path).
    pub return_to: Option<String>,
}

/// A logged-in member as the blocks see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member's ID.
    pub id: MemberId,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Whether an Amazon account is linked.
    pub linked: bool,
}

/// Who a renewed session belongs to.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// The member, if logged in.
    pub member: Option<MemberId>,
    /// The cart kept.
    pub cart: Option<CartId>,
    /// A verified Amazon buyer waiting.
    pub pending_buyer: Option<Buyer>,
    /// Where to return after an Amazon sign-in.
    pub return_to: Option<String>,
}

/// All sessions.
pub struct Sessions {
    db: Database,
    key: hmac::Key,
    secure_cookie: bool,
}

impl Sessions {
    /// Sessions in `db`, their secrets derived with the database's cookie key (shared by every
    /// instance on it); `secure_cookie` for https shops.
    pub async fn new(db: Database, secure_cookie: bool) -> Result<Self, StorageError> {
        let secret = db.secret("session-key").await?;
        Ok(Self { db, key: hmac::Key::new(hmac::HMAC_SHA256, &secret), secure_cookie })
    }

    /// Another shop's sessions on the same database, under the same key: a session ID is looked
    /// up only among `db`'s shop's (the cookie is host-only anyway).
    pub fn for_shop(&self, db: Database, secure_cookie: bool) -> Self {
        Self { db, key: self.key.clone(), secure_cookie }
    }

    /// The session cookie's name: `__Host-` under https.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookie { SECURE_COOKIE } else { COOKIE }
    }

    /// The browser's session, if its cookie names one this server made: an anonymous ID must
    /// carry the server's tag (an ID a client chose, or one planted in a victim's browser, is
    /// never adopted), a stored one must be in the database.
    pub async fn find(&self, jar: &CookieJar) -> Result<Option<Session>, StorageError> {
        let Some(value) = jar.get(self.cookie_name()).map(Cookie::value) else { return self.legacy(jar).await };
        match value.split_once('.') {
            Some(("a", id)) if is_id(id) && self.issued_here(id) => Ok(Some(self.anonymous(id.to_owned()))),
            Some(("s", id)) if is_id(id) => self.stored(id, true).await,
            _ => Ok(None),
        }
    }

    /// An https shop's stored session under the old cookie name, made by the old server (no tag
    /// of ours) and held by the database; read without touching it.
    async fn legacy(&self, jar: &CookieJar) -> Result<Option<Session>, StorageError> {
        if !self.secure_cookie {
            return Ok(None);
        }
        let Some(("s", id)) = jar.get(COOKIE).map(Cookie::value).and_then(|value| value.split_once('.')) else {
            return Ok(None);
        };
        if !is_id(id) || self.issued_here(id) {
            return Ok(None);
        }
        let mut session = self.stored(id, false).await?;
        if let Some(session) = &mut session {
            session.legacy = true;
        }
        Ok(session)
    }

    /// The browser's session, or a new anonymous one with its cookie: nothing is written, but for
    /// a session found under the old cookie name, which moves to a fresh ID under the new one.
    pub async fn current(&self, jar: CookieJar) -> Result<(Session, CookieJar), StorageError> {
        match self.find(&jar).await? {
            Some(session) if session.legacy => {
                let identity = Identity {
                    member: session.member.as_ref().map(|m| m.id),
                    cart: session.cart.clone(),
                    pending_buyer: session.pending_buyer.clone(),
                    return_to: session.return_to.clone(),
                };
                let (session, jar) = self.renew(jar, &session, identity).await?;
                let mut old = Cookie::build((COOKIE, "")).path("/").http_only(true).secure(true).build();
                old.make_removal();
                Ok((session, jar.add(old)))
            }
            Some(session) => Ok((session, jar)),
            None => {
                let session = self.anonymous(self.new_id()?);
                let jar = jar.add(self.cookie(&session));
                Ok((session, jar))
            }
        }
    }

    /// Makes one change to the session, storing it first if it was anonymous (same ID, so the
    /// page's CSRF token stays valid).
    pub async fn change(
        &self,
        jar: CookieJar,
        session: &mut Session,
        change: SessionChange,
    ) -> Result<CookieJar, StorageError> {
        if session.stored && self.db.update_session(&session.id, &change).await? {
            apply(session, &change);
            return Ok(jar);
        }
        apply(session, &change);
        self.db.insert_session(&record(session)).await?;
        session.stored = true;
        Ok(jar.add(self.cookie(session)))
    }

    /// The session's cart, created on first use.
    pub async fn cart(&self, jar: CookieJar, session: &mut Session) -> Result<(CartId, CookieJar), StorageError> {
        if let Some(cart) = &session.cart {
            return Ok((cart.clone(), jar));
        }
        let cart = self.db.create_cart().await?;
        let jar = self.change(jar, session, SessionChange::Cart(cart.clone())).await?;
        Ok((cart, jar))
    }

    /// Replaces a session by a new one (new ID, so new CSRF token and sign-in state) belonging to
    /// `identity`.
    ///
    /// Called whenever who the shopper is changes, and after every return from Amazon: an ID
    /// planted before a login is worthless after it (session fixation), and a sign-in state works
    /// once.
    pub async fn renew(
        &self,
        jar: CookieJar,
        old: &Session,
        identity: Identity,
    ) -> Result<(Session, CookieJar), StorageError> {
        if old.stored {
            self.db.delete_session(&old.id).await?;
        }
        let mut session = self.anonymous(self.new_id()?);
        session.cart = identity.cart;
        session.return_to = identity.return_to;
        session.pending_buyer = identity.pending_buyer;
        if let Some(member) = identity.member {
            session.member = self.member(member).await?;
        }
        if session.member.is_some() || session.cart.is_some() || session.pending_buyer.is_some() {
            self.db.insert_session(&record(&session)).await?;
            session.stored = true;
        }
        let jar = jar.add(self.cookie(&session));
        Ok((session, jar))
    }

    /// Deletes idle sessions and the carts nobody can reach any more.
    pub async fn purge(&self) -> Result<Purged, StorageError> {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let now = now();
        self.db.purge(now - secs(IDLE_LIFETIME), now - secs(CART_LIFETIME)).await
    }

    async fn stored(&self, id: &str, touch: bool) -> Result<Option<Session>, StorageError> {
        let Some(record) = self.db.session(id).await? else { return Ok(None) };
        let now = now();
        if now - record.last_seen > i64::try_from(IDLE_LIFETIME.as_secs()).unwrap_or(i64::MAX) {
            self.db.delete_session(id).await?;
            return Ok(None);
        }
        if touch && now - record.last_seen > TOUCH_INTERVAL {
            self.db.update_session(id, &SessionChange::Seen(now)).await?;
        }
        let mut session = self.anonymous(record.id);
        session.stored = true;
        session.cart = record.cart;
        session.return_to = record.return_to;
        session.pending_buyer = record
            .pending_buyer
            .filter(|waiting| waiting.until > now)
            .and_then(|waiting| serde_json::from_str(&waiting.json).ok());
        if let Some(member) = record.member {
            session.member = self.member(member).await?;
        }
        Ok(Some(session))
    }

    async fn member(&self, id: MemberId) -> Result<Option<Member>, StorageError> {
        let member = self.db.member(id).await.map_err(StorageError::from)?;
        Ok(member.map(|m| Member { id: m.id, name: m.name, email: m.email, linked: m.buyer_id.is_some() }))
    }

    fn anonymous(&self, id: String) -> Session {
        Session {
            csrf_token: self.derive("csrf", &id),
            signin_state: self.derive("signin", &id),
            id,
            stored: false,
            legacy: false,
            member: None,
            cart: None,
            pending_buyer: None,
            return_to: None,
        }
    }

    /// A secret of the session: HMAC of its ID under the server's key.
    fn derive(&self, purpose: &str, id: &str) -> String {
        let tag = hmac::sign(&self.key, format!("{purpose}\0{id}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    fn cookie(&self, session: &Session) -> Cookie<'static> {
        let kind = if session.stored { "s" } else { "a" };
        Cookie::build((self.cookie_name(), format!("{kind}.{}", session.id)))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookie)
            .build()
    }

    /// A fresh ID (43 characters, URL-safe): 128 random bits and a 128-bit tag of the server's
    /// key over them, so that an anonymous ID, which nothing stores, can be recognised as one
    /// this server issued.
    fn new_id(&self) -> Result<String, StorageError> {
        let mut bytes = [0u8; 32];
        crate::core::random::fill(&mut bytes[..ID_RANDOM])?;
        let tag = self.id_tag(&bytes[..ID_RANDOM]);
        bytes[ID_RANDOM..].copy_from_slice(&tag.as_ref()[..32 - ID_RANDOM]);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Whether `id` carries this server's tag (compared in constant time).
    fn issued_here(&self, id: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(id) else { return false };
        let Some((random, tag)) = bytes.split_at_checked(ID_RANDOM) else { return false };
        let expected = self.id_tag(random);
        expected.as_ref().get(..tag.len()).is_some_and(|expected| verify_slices_are_equal(expected, tag).is_ok())
    }

    /// HMAC-SHA256 of an ID's random part, under a key of its own purpose.
    fn id_tag(&self, random: &[u8]) -> hmac::Tag {
        hmac::sign(&self.key, &[b"session-id\0".as_slice(), random].concat())
    }
}

/// Random bytes in an ID; the other 16 are the server's tag over them.
const ID_RANDOM: usize = 16;

/// The pending buyer as stored: JSON, and until when it may be used.
pub fn pending(buyer: Option<&Buyer>) -> Option<WaitingBuyer> {
    let until = now() + i64::try_from(PENDING_BUYER_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    buyer.and_then(|b| serde_json::to_string(b).ok()).map(|json| WaitingBuyer { json, until })
}

fn record(session: &Session) -> SessionRecord {
    SessionRecord {
        id: session.id.clone(),
        member: session.member.as_ref().map(|m| m.id),
        cart: session.cart.clone(),
        pending_buyer: pending(session.pending_buyer.as_ref()),
        return_to: session.return_to.clone(),
        last_seen: now(),
    }
}

fn apply(session: &mut Session, change: &SessionChange) {
    match change {
        SessionChange::Cart(cart) => session.cart = Some(cart.clone()),
        SessionChange::PendingBuyer(pending) => {
            session.pending_buyer = pending.as_ref().and_then(|waiting| serde_json::from_str(&waiting.json).ok());
        }
        SessionChange::ReturnTo(path) => session.return_to = Some(path.clone()),
        SessionChange::Seen(_) => {}
    }
}

/// IDs are 43 characters of base64url; anything else is not one of ours.
fn is_id(id: &str) -> bool {
    id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::sqlite_for_tests;

    async fn sessions() -> (Sessions, Database, impl Drop) {
        let (db, dir) = sqlite_for_tests("sessions").await;
        let db: Database = Arc::new(db);
        (Sessions::new(db.clone(), true).await.unwrap(), db, dir)
    }

    #[tokio::test]
    async fn a_first_visit_gets_a_strict_cookie_and_stores_nothing() {
        let (sessions, db, _dir) = sessions().await;
        let (session, jar) = sessions.current(CookieJar::new()).await.unwrap();
        let cookie = jar.get(SECURE_COOKIE).unwrap();
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        assert!(cookie.value().starts_with("a."));
        assert!(db.session(&session.id).await.unwrap().is_none(), "nothing stored");
        let (again, _) = sessions.current(jar).await.unwrap();
        assert_eq!((again.id, again.csrf_token), (session.id, session.csrf_token.clone()));
        assert_ne!(session.csrf_token, session.signin_state);
    }

    #[tokio::test]
    async fn under_https_the_cookie_is_a_host_cookie_and_on_http_it_keeps_its_plain_name() {
        let (sessions, db, _dir) = sessions().await;
        let (_, jar) = sessions.current(CookieJar::new()).await.unwrap();
        let cookie = jar.get(SECURE_COOKIE).expect("__Host-amazonpay2_sid");
        assert_eq!((cookie.secure(), cookie.path(), cookie.domain()), (Some(true), Some("/"), None));
        assert!(jar.get(COOKIE).is_none());
        let plain = Sessions::new(db, false).await.unwrap();
        let (session, jar) = plain.current(CookieJar::new()).await.unwrap();
        let cookie = jar.get(COOKIE).expect("the demo's plain name on http");
        assert_eq!((cookie.secure(), cookie.value()), (Some(false), format!("a.{}", session.id).as_str()));
        let https_cookie_on_http = CookieJar::new().add(Cookie::new(SECURE_COOKIE, format!("a.{}", session.id)));
        assert_ne!(plain.current(https_cookie_on_http).await.unwrap().0.id, session.id, "only its own name counts");
    }

    #[tokio::test]
    async fn an_anonymous_id_the_server_did_not_issue_is_never_adopted() {
        let (sessions, db, _dir) = sessions().await;
        let (issued, _) = sessions.current(CookieJar::new()).await.unwrap();
        // Well-formed IDs a client (or an attacker planting a cookie) could choose: random ones,
        // ours with one character changed, and one issued by another shop's key.
        let mut chosen = vec!["R".repeat(43), format!("{}A", &issued.id[..42])];
        if chosen[1] == issued.id {
            chosen[1] = format!("{}B", &issued.id[..42]);
        }
        let (other_db, _other_dir) = sqlite_for_tests("sessions-other").await;
        let other = Sessions::new(Arc::new(other_db), true).await.unwrap();
        chosen.push(other.current(CookieJar::new()).await.unwrap().0.id);
        for id in chosen {
            let planted = CookieJar::new().add(Cookie::new(SECURE_COOKIE, format!("a.{id}")));
            assert!(sessions.find(&planted).await.unwrap().is_none(), "{id}");
            let (mut session, jar) = sessions.current(planted).await.unwrap();
            assert_ne!(session.id, id, "a fresh, server-made ID instead");
            assert_eq!(jar.get(SECURE_COOKIE).unwrap().value(), format!("a.{}", session.id));
            // Storing it (a cart, a sign-in click) stores the server's ID, never the chosen one.
            let _stored = sessions.change(jar, &mut session, SessionChange::ReturnTo("/".into())).await.unwrap();
            assert!(db.session(&id).await.unwrap().is_none());
            assert!(db.session(&session.id).await.unwrap().is_some());
        }
        let again = CookieJar::new().add(Cookie::new(SECURE_COOKIE, format!("a.{}", issued.id)));
        assert_eq!(sessions.find(&again).await.unwrap().unwrap().id, issued.id, "its own IDs are recognised");
    }

    #[tokio::test]
    async fn unknown_and_forged_cookies_start_a_new_session() {
        let (sessions, _db, _dir) = sessions().await;
        for forged in ["forged", "s.forged", "s.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x.y"] {
            let jar = CookieJar::new().add(Cookie::new(SECURE_COOKIE, forged));
            let (session, jar) = sessions.current(jar).await.unwrap();
            assert!(!session.stored);
            assert_eq!(jar.get(SECURE_COOKIE).unwrap().value(), format!("a.{}", session.id), "{forged}");
        }
    }

    #[tokio::test]
    async fn storing_keeps_the_id_and_its_token() {
        let (sessions, db, _dir) = sessions().await;
        let (mut session, jar) = sessions.current(CookieJar::new()).await.unwrap();
        let token = session.csrf_token.clone();
        let jar = sessions.change(jar, &mut session, SessionChange::ReturnTo("/cart".into())).await.unwrap();
        assert!(jar.get(SECURE_COOKIE).unwrap().value().starts_with("s."));
        let found = sessions.find(&jar).await.unwrap().unwrap();
        assert_eq!((found.csrf_token, found.return_to.as_deref()), (token, Some("/cart")));
        assert!(db.session(&session.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn renewing_replaces_id_token_and_state_and_forgets_the_old_id() {
        let (sessions, db, _dir) = sessions().await;
        let member = db
            .create_member(&crate::storage::NewMember { email: "a@example.jp".into(), ..Default::default() }, "h")
            .await;
        let member = member.unwrap().unwrap();
        let (mut old, jar) = sessions.current(CookieJar::new()).await.unwrap();
        let jar = sessions.change(jar, &mut old, SessionChange::ReturnTo("/cart".into())).await.unwrap();
        let identity = Identity { member: Some(member), return_to: old.return_to.clone(), ..Identity::default() };
        let (new, jar) = sessions.renew(jar, &old, identity).await.unwrap();
        assert_ne!(new.id, old.id);
        assert_ne!(new.csrf_token, old.csrf_token);
        assert_ne!(new.signin_state, old.signin_state);
        assert_eq!(sessions.find(&jar).await.unwrap().unwrap().member.unwrap().id, member);
        let planted = CookieJar::new().add(Cookie::new(SECURE_COOKIE, format!("s.{}", old.id)));
        assert!(sessions.find(&planted).await.unwrap().is_none());
    }

    /// A stored session as the server before `__Host-` made it: 32 random bytes, no tag.
    async fn stored_by_the_old_server(db: &Database, cart: Option<CartId>, member: Option<MemberId>) -> String {
        let mut bytes = [0u8; 32];
        crate::core::random::fill(&mut bytes).unwrap();
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let record = SessionRecord {
            id: id.clone(),
            member,
            cart,
            pending_buyer: None,
            return_to: None,
            last_seen: now() - 600,
        };
        db.insert_session(&record).await.unwrap();
        id
    }

    #[tokio::test]
    async fn a_stored_session_under_the_old_cookie_name_survives_the_deploy_and_moves_to_the_new_name() {
        let (sessions, db, _dir) = sessions().await;
        let member = db
            .create_member(&crate::storage::NewMember { email: "a@example.jp".into(), ..Default::default() }, "h")
            .await;
        let member = member.unwrap().unwrap();
        let takkyubin =
            crate::core::platform::ShippingMethod { id: 1, name: "宅配便".into(), fee: 0, amazon_pay_allowed: true };
        db.seed_catalogue(&[], &[takkyubin]).await.unwrap();
        let cart = db.create_cart().await.unwrap();
        let old = stored_by_the_old_server(&db, Some(cart.clone()), Some(member)).await;
        let seen = db.session(&old).await.unwrap().unwrap().last_seen;
        let jar = CookieJar::new().add(Cookie::new(COOKIE, format!("s.{old}")));

        // Any request finds it, as the old server would have.
        let found = sessions.find(&jar).await.unwrap().expect("the shopper's session");
        assert_eq!((found.cart.as_ref(), found.member.as_ref().map(|m| m.id)), (Some(&cart), Some(member)));
        assert_eq!(db.session(&old).await.unwrap().unwrap().last_seen, seen, "read, never touched");

        // The widget's request moves it to a fresh ID under the new name, and drops the old cookie.
        let (moved, jar) = sessions.current(jar).await.unwrap();
        assert_ne!(moved.id, old);
        assert!(!moved.legacy && moved.stored);
        assert_eq!((moved.cart.as_ref(), moved.member.as_ref().map(|m| m.id)), (Some(&cart), Some(member)));
        assert_eq!(jar.get(SECURE_COOKIE).unwrap().value(), format!("s.{}", moved.id));
        let response = axum::response::IntoResponse::into_response((jar.clone(), ()));
        let set: Vec<&str> = response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(set.iter().any(|c| c.starts_with("amazonpay2_sid=;") && c.contains("Max-Age=0")), "{set:?}");
        assert!(set.iter().any(|c| c.starts_with(&format!("{SECURE_COOKIE}=s.{}", moved.id))), "{set:?}");
        assert!(db.session(&old).await.unwrap().is_none(), "the old ID is worth nothing now");
        let next = CookieJar::new().add(Cookie::new(SECURE_COOKIE, format!("s.{}", moved.id)));
        assert_eq!(sessions.find(&next).await.unwrap().unwrap().cart, Some(cart));
    }

    #[tokio::test]
    async fn the_old_cookie_name_brings_nothing_the_old_server_did_not_store() {
        let (sessions, db, _dir) = sessions().await;
        let legacy = |value: String| CookieJar::new().add(Cookie::new(COOKIE, value));
        // An anonymous ID (ours or anyone's), a session stored since the deploy (our tag: it could
        // only be there if planted), an ID the database does not hold: none is taken.
        let (mut ours, jar) = sessions.current(CookieJar::new()).await.unwrap();
        assert!(sessions.find(&legacy(format!("a.{}", ours.id))).await.unwrap().is_none());
        let _stored = sessions.change(jar, &mut ours, SessionChange::ReturnTo("/".into())).await.unwrap();
        assert!(sessions.find(&legacy(format!("s.{}", ours.id))).await.unwrap().is_none(), "made since");
        assert!(sessions.find(&legacy(format!("s.{}", "R".repeat(43)))).await.unwrap().is_none());
        // The new name wins over the old one; an http shop has no old name.
        let old = stored_by_the_old_server(&db, None, None).await;
        let both = legacy(format!("s.{old}")).add(Cookie::new(SECURE_COOKIE, format!("s.{}", ours.id)));
        assert_eq!(sessions.find(&both).await.unwrap().unwrap().id, ours.id);
        let plain = Sessions::new(db.clone(), false).await.unwrap();
        let found = plain.find(&legacy(format!("s.{old}"))).await.unwrap().unwrap();
        assert!(!found.legacy, "on http the plain name is the current one");
        // Read through the old name, a session is never kept alive: idle for a day, it is gone.
        db.update_session(&old, &SessionChange::Seen(now() - 25 * 60 * 60)).await.unwrap();
        assert!(sessions.find(&legacy(format!("s.{old}"))).await.unwrap().is_none());
        assert!(db.session(&old).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_waiting_buyer_is_forgotten_after_ten_minutes() {
        let (sessions, db, _dir) = sessions().await;
        let buyer = Buyer { buyer_id: "amzn1.account.X".into(), ..Buyer::default() };
        let (old, jar) = sessions.current(CookieJar::new()).await.unwrap();
        let identity = Identity { pending_buyer: Some(buyer.clone()), ..Identity::default() };
        let (session, jar) = sessions.renew(jar, &old, identity).await.unwrap();
        assert_eq!(sessions.find(&jar).await.unwrap().unwrap().pending_buyer, Some(buyer));
        let expired = Some(WaitingBuyer { json: serde_json::to_string(&Buyer::default()).unwrap(), until: now() - 1 });
        db.update_session(&session.id, &SessionChange::PendingBuyer(expired)).await.unwrap();
        assert_eq!(sessions.find(&jar).await.unwrap().unwrap().pending_buyer, None);
    }
}
