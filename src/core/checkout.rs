//! Checkout: from the cart's Amazon button to an order Amazon authorized.
//!
//! 1. A click of the checkout button asks for its payload ([`Core::checkout_config`]): a fresh
//!    random reference for the cart is signed into the review return URL.
//! 2. Amazon sends the shopper back to that URL with a checkout session; it is bound to the cart
//!    only if the reference is the cart's and Amazon's session is open, this store's, and was made
//!    from that very URL ([`Core::bind_review`]).
//! 3. 「注文を確定する」 opens the order (one per checkout session) and sends the shopper to Amazon
//!    to authorize the amount ([`Core::place`]).
//! 4. Amazon sends the shopper to the result URL; one request claims the order and completes it
//!    at Amazon with the same amount ([`Core::complete`]). The completion runs to its end even if
//!    the shopper's request goes away; a process stopped half-way leaves an order the reconciler
//!    settles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;

use super::idempotency::Keyed;
use super::orders::{Actor, AmazonIds, OrderState, Outcome, Transition, settle};
use super::payloads::PayloadBuilder;
use super::platform::{Cart, MemberId, NewOrder, Opened, Order, OrderLine};
use super::rules::{next_month, today_in_japan, unavailable};
use super::settings::notice_url;
use super::sync::authorization_of;
use super::{AmazonError, Core, CoreError, paths, secrets_equal};
use crate::amazon::types::{Charge, ChargeState, CheckoutSession, CheckoutSessionState, Money};
use crate::contract::{Notice, SignedConfig, UnavailableReason};

/// How long the review block's Amazon details are reused before Amazon is asked again.
const REVIEW_LIFETIME: Duration = Duration::from_secs(30);

/// At most this many checkout sessions' details are kept.
const REVIEW_CAPACITY: usize = 4_096;

/// How long a second request for the same result waits for the first one to finish.
const OUTCOME_WAIT: Duration = Duration::from_secs(15);

/// Amazon's address and payment method of a checkout session, for the review block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// The checkout session.
    pub checkout_session_id: String,
    /// The shipping address, line by line.
    pub shipping_address: Vec<String>,
    /// The payment method, e.g. `Visa ****1111`.
    pub payment_descriptor: String,
}

/// The review details recently read from Amazon, per checkout session.
#[derive(Default)]
pub struct ReviewCache {
    entries: Mutex<HashMap<String, (Instant, Review)>>,
}

impl ReviewCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<String, (Instant, Review)>> {
        // A poisoned lock only means a panic mid-insert; the map is still a valid cache.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, id: &str) -> Option<Review> {
        self.entries().get(id).filter(|(at, _)| at.elapsed() < REVIEW_LIFETIME).map(|(_, review)| review.clone())
    }

    fn put(&self, review: Review) {
        let mut entries = self.entries();
        if entries.len() >= REVIEW_CAPACITY {
            entries.retain(|_, (at, _)| at.elapsed() < REVIEW_LIFETIME);
        }
        if entries.len() < REVIEW_CAPACITY {
            entries.insert(review.checkout_session_id.clone(), (Instant::now(), review));
        }
    }

    fn forget(&self, id: &str) {
        self.entries().remove(id);
    }
}

/// What 「注文を確定する」 leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    /// Go there: Amazon's page to authorize, or a shop page with a notice.
    Redirect(String),
    /// Amazon Pay cannot serve this cart (any more).
    Unavailable(UnavailableReason),
}

/// How a completion at Amazon ended.
enum Completion {
    /// Amazon decided; the order settles with this.
    Settled(Outcome, AmazonIds),
    /// Amazon could not be asked (or has not decided): the order goes back to the shopper.
    NotYet(String),
}

impl Core {
    /// The signed `createCheckoutSessionConfig` for a click of the checkout button, with the
    /// cart's total; or why Amazon Pay cannot serve the cart.
    pub async fn checkout_config(
        &self,
        cart: &Cart,
    ) -> Result<Result<(SignedConfig, u64), UnavailableReason>, CoreError> {
        if let Some(reason) = unavailable(Some(cart)) {
            return Ok(Err(reason));
        }
        let review_ref = self.random_token()?;
        self.platform().begin_checkout(&cart.id, &review_ref).await?;
        let settings = self.settings();
        let builder = PayloadBuilder { origin: &settings.shop_origin, amazon: &settings.amazon };
        // A subscription's later cycles charge what recurs (Amazon shows it to the buyer as the
        // monthly amount); the checkout itself charges the whole cart.
        let payload = builder.checkout(cart.plan().map(|plan| plan.amount()), &review_ref);
        Ok(Ok((self.signer().sign(payload)?, cart.total())))
    }

    /// Amazon's return to the review URL signed for `review_ref`, with `session_id`: binds the
    /// checkout session to the cart, or says why not.
    pub async fn bind_review(
        &self,
        cart: Option<&Cart>,
        review_ref: &str,
        session_id: &str,
    ) -> Result<Result<(), Notice>, CoreError> {
        let Some(cart) = cart else { return Ok(Err(Notice::ReturnRefused)) };
        let Some(current) = cart.checkout.review_ref.as_deref() else {
            // The cart forgot its checkout: it changed, or its order was placed.
            return Ok(Err(Notice::CartChanged));
        };
        if !secrets_equal(current, review_ref) {
            tracing::warn!("a checkout review return without this cart's reference was refused");
            return Ok(Err(Notice::ReturnRefused));
        }
        // Back from changing the address or the payment method on Amazon's page: read them anew.
        self.reviews.forget(session_id);
        if cart.checkout.checkout_session_id.as_deref() == Some(session_id) {
            return Ok(Ok(()));
        }
        let session = self.amazon().get_checkout_session(session_id).await?;
        let settings = self.settings();
        let builder = PayloadBuilder { origin: &settings.shop_origin, amazon: &settings.amazon };
        let made_here = session.web_checkout_details.as_ref().and_then(|d| d.checkout_review_return_url.as_deref())
            == Some(builder.review_url(review_ref).as_str());
        let this_store = session.store_id.as_deref().is_none_or(|store| store == settings.amazon.store_id);
        if !made_here || !this_store {
            tracing::warn!(session_id, "a checkout session made for another cart or store was refused");
            return Ok(Err(Notice::ReturnRefused));
        }
        if session.status_details.state != CheckoutSessionState::Open {
            return Ok(Err(canceled_notice(&session)));
        }
        if !self.platform().bind_checkout(&cart.id, review_ref, session_id).await? {
            return Ok(Err(Notice::CartChanged));
        }
        Ok(Ok(()))
    }

    /// Amazon's address and payment method of the cart's checkout session, for the review block
    /// (reused for a while: every page view would otherwise ask Amazon).
    pub async fn review(&self, cart: &Cart) -> Option<Review> {
        let id = cart.checkout.checkout_session_id.as_deref()?;
        if let Some(review) = self.reviews.get(id) {
            return Some(review);
        }
        let session = match self.amazon().get_checkout_session(id).await {
            Ok(session) if session.status_details.state == CheckoutSessionState::Open => session,
            Ok(_) => return None,
            Err(error) => {
                tracing::warn!(%error, "getCheckoutSession for the review block failed");
                return None;
            }
        };
        let review = review_of(session);
        self.reviews.put(review.clone());
        Some(review)
    }

    /// 「注文を確定する」: opens the order of the cart's checkout session and sends the shopper to
    /// Amazon to authorize its amount.
    pub async fn place(&self, cart: &Cart, member: Option<MemberId>) -> Result<Placed, CoreError> {
        let pages = &self.settings().pages;
        let Some(session_id) = cart.checkout.checkout_session_id.clone() else {
            return Ok(Placed::Redirect(notice_url(&pages.cart, Notice::CartChanged)));
        };
        if let Some(reason) = unavailable(Some(cart)) {
            return Ok(Placed::Unavailable(reason));
        }
        // The same checkout placed again after it finished (back button): its one order.
        if let Some(done) = self.platform().order_by_checkout_session(&session_id).await?
            && done.state != OrderState::Processing
        {
            return Ok(Placed::Redirect(self.finished_url(&done)));
        }
        self.reviews.forget(&session_id);
        let session = self.amazon().get_checkout_session(&session_id).await?;
        let new = NewOrder {
            member,
            checkout_session_id: Some(session_id.clone()),
            cart: Some(cart.id.clone()),
            buyer_name: session.buyer.as_ref().and_then(|b| b.name.clone()).unwrap_or_default(),
            // A guest's order keeps the e-mail Amazon gave: the shop owner's only way to write.
            buyer_email: session.buyer.as_ref().and_then(|b| b.email.clone()).unwrap_or_default(),
            cycle: None,
            lines: cart
                .lines
                .iter()
                .map(|l| OrderLine { name: l.name.clone(), unit_price: l.unit_price, quantity: l.quantity })
                .collect(),
            shipping_fee: cart.shipping.fee,
            total: cart.total(),
            recurring: cart.is_recurring(),
            plan: cart.plan(),
        };
        let order = match self.platform().open_order(&new).await? {
            Opened::New(order) => order,
            // The same checkout placed again (double click): continue the one order.
            Opened::Existing(order) if order.state == OrderState::Processing => order,
            Opened::Existing(done) => return Ok(Placed::Redirect(self.finished_url(&done))),
        };
        if order.total != cart.total() {
            // The cart changed since the first click: Amazon must show the new amount.
            return self.fail_checkout(&order, Notice::CartChanged).await.map(Placed::Redirect);
        }
        match session.status_details.state {
            CheckoutSessionState::Open => {}
            // Completed by an earlier request whose answer was lost: the result settles it.
            CheckoutSessionState::Completed => {
                let result = format!("{}?amazonCheckoutSessionId={session_id}", paths::CHECKOUT_RESULT);
                return Ok(Placed::Redirect(result));
            }
            _ => return self.fail_checkout(&order, canceled_notice(&session)).await.map(Placed::Redirect),
        }
        // The cart may have become (or stopped being) a subscription while the shopper was on
        // Amazon's page: a one-time checkout must not pay for a subscription, nor the reverse.
        let recurring_session = session.charge_permission_type.as_deref() == Some("Recurring");
        if recurring_session != cart.is_recurring() {
            return self.fail_checkout(&order, Notice::CartChanged).await.map(Placed::Redirect);
        }
        let mut metadata = json!({ "merchantReferenceId": order.number });
        if let Some(name) = &self.settings().store_name {
            metadata["merchantStoreName"] = json!(name);
        }
        let body = json!({
            "webCheckoutDetails": {
                "checkoutResultReturnUrl": self.settings().shop_origin.url(paths::CHECKOUT_RESULT),
            },
            "paymentDetails": {
                "paymentIntent": "Authorize",
                "canHandlePendingAuthorization": true,
                "chargeAmount": Money::yen(order.total),
            },
            "merchantMetadata": metadata,
        });
        let updated = self.amazon().update_checkout_session(&session_id, &body).await?;
        let redirect = updated
            .web_checkout_details
            .and_then(|d| d.amazon_pay_redirect_url)
            .ok_or_else(|| AmazonError::Decode("updateCheckoutSession gave no amazonPayRedirectUrl".into()))?;
        Ok(Placed::Redirect(redirect))
    }

    /// Amazon's result return for `session_id`: completes the order once and answers where the
    /// shopper goes. `cart` is the returning browser's; only the browser whose cart holds the
    /// checkout completes it (another one is shown a finished order's outcome, nothing more).
    pub async fn complete(self: &Arc<Self>, cart: Option<Cart>, session_id: &str) -> Result<String, CoreError> {
        let pages = &self.settings().pages;
        let Some(order) = self.platform().order_by_checkout_session(session_id).await? else {
            return Ok(notice_url(&pages.cart, Notice::CartChanged));
        };
        let bound = cart.is_some_and(|c| c.checkout.checkout_session_id.as_deref() == Some(session_id));
        let (true, OrderState::Processing) = (bound, order.state) else {
            return Ok(match order.state {
                OrderState::Processing => notice_url(&pages.cart, Notice::CartChanged),
                OrderState::Completing => self.finished_url(&self.wait_for_outcome(order).await?),
                _ => self.finished_url(&order),
            });
        };
        // Only one request completes an order; another at the same time (a double reload) waits
        // for its outcome instead of calling Amazon again.
        let claim = Transition::new(&order, OrderState::Completing, Actor::Shopper, "completing at Amazon")?;
        let Some(claimed) = self.platform().apply(&claim).await? else {
            let current = self.platform().order(order.id).await?.unwrap_or(order);
            return Ok(self.finished_url(&self.wait_for_outcome(current).await?));
        };
        // From here the completion runs to its end on its own task, whether or not the shopper's
        // request stays to hear the answer.
        let core = Arc::clone(self);
        tokio::spawn(async move { core.finish_completion(claimed).await })
            .await
            .map_err(|e| AmazonError::Unavailable { attempts: 0, last: format!("completion task: {e}") })?
    }

    async fn finish_completion(&self, order: Order) -> Result<String, CoreError> {
        let settled = match self.completion(&order).await {
            Completion::Settled(outcome, ids) => {
                let transition = settle(&order, outcome, ids, next_month(today_in_japan()), Actor::Shopper)?;
                self.platform().apply(&transition).await?
            }
            Completion::NotYet(why) => {
                tracing::error!(%why, order = %order.number, "completing the checkout failed; the shopper may retry");
                let release = Transition::new(&order, OrderState::Processing, Actor::Shopper, why)?;
                self.platform().apply(&release).await?;
                return Ok(notice_url(&self.settings().pages.confirm, Notice::AmazonUnavailable));
            }
        };
        let order = match settled {
            Some(order) => order,
            None => self.platform().order(order.id).await?.unwrap_or(order),
        };
        Ok(self.finished_url(&order))
    }

    /// Completes the order's checkout session at Amazon with the order's amount.
    async fn completion(&self, order: &Order) -> Completion {
        let Some(id) = order.checkout_session_id.as_deref() else {
            return Completion::NotYet("the order has no checkout session".into());
        };
        // One key per checkout session: a completion retried after a lost answer is answered
        // with the first completion.
        let key = match self.idempotency_key(&Keyed::Completion { checkout_session_id: id }).await {
            Ok(key) => key,
            Err(error) => return Completion::NotYet(error.to_string()),
        };
        let completed = match self.amazon().complete_checkout_session(id, &Money::yen(order.total), key.as_str()).await
        {
            Ok(session) => session,
            Err(AmazonError::Rejected { reason_code, .. })
                if reason_code == "CheckoutSessionCanceled" || reason_code == "InvalidCheckoutSessionStatus" =>
            {
                // Canceled (declined, the buyer cancelled, 24 hours passed), or completed by an
                // earlier request whose answer was lost: Amazon's record of the session decides.
                match self.amazon().get_checkout_session(id).await {
                    Ok(session) if session.status_details.state == CheckoutSessionState::Completed => session,
                    Ok(session) if session.status_details.state == CheckoutSessionState::Canceled => {
                        return Completion::Settled(
                            Outcome::Failed(canceled_notice(&session).code().into()),
                            AmazonIds::default(),
                        );
                    }
                    Ok(_) => return Completion::NotYet(format!("{reason_code} on an open checkout session")),
                    Err(_) if reason_code == "CheckoutSessionCanceled" => {
                        return Completion::Settled(
                            Outcome::Failed(Notice::PaymentDeclined.code().into()),
                            AmazonIds::default(),
                        );
                    }
                    Err(error) => return Completion::NotYet(error.to_string()),
                }
            }
            Err(AmazonError::Rejected { reason_code, .. }) if reason_code == "AmountMismatch" => {
                return Completion::Settled(Outcome::Failed(Notice::CartChanged.code().into()), AmazonIds::default());
            }
            Err(error) => return Completion::NotYet(error.to_string()),
        };
        let (outcome, ids) = self.outcome_of_completed(&completed, order.total).await;
        Completion::Settled(outcome, ids)
    }

    /// What a completed checkout session's charge says (`total`: the order's, should Amazon's
    /// charge carry no amount). A charge that cannot be read leaves the order unknown (to
    /// reconcile), never authorized.
    pub(super) async fn outcome_of_completed(&self, session: &CheckoutSession, total: u64) -> (Outcome, AmazonIds) {
        let ids = AmazonIds {
            charge_permission_id: session.charge_permission_id.clone(),
            charge_id: session.charge_id.clone(),
        };
        let outcome = match &session.charge_id {
            Some(charge) => match self.amazon().get_charge(charge).await {
                Ok(charge) => charge_outcome(&charge, total),
                Err(error) => {
                    tracing::warn!(%error, "the charge of a completed checkout could not be read; to reconcile");
                    Outcome::Unknown
                }
            },
            None => Outcome::Unknown,
        };
        (outcome, ids)
    }

    /// Ends an order that never reached Amazon's authorization; the shopper starts again at the
    /// cart. Answers the cart page with the notice.
    async fn fail_checkout(&self, order: &Order, notice: Notice) -> Result<String, CoreError> {
        let failed = Outcome::Failed(notice.code().into());
        let transition = settle(order, failed, AmazonIds::default(), today_in_japan(), Actor::Shopper)?;
        self.platform().apply(&transition).await?;
        Ok(notice_url(&self.settings().pages.cart, notice))
    }

    /// Waits for another request (or the reconciler) to finish completing an order.
    async fn wait_for_outcome(&self, order: Order) -> Result<Order, CoreError> {
        let started = Instant::now();
        let mut current = order;
        while current.state == OrderState::Completing && started.elapsed() < OUTCOME_WAIT {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match self.platform().order(current.id).await? {
                Some(order) => current = order,
                None => break,
            }
        }
        Ok(current)
    }

    /// Where a finished (or unfinished) order is shown, with what happened.
    pub fn finished_url(&self, order: &Order) -> String {
        let pages = &self.settings().pages;
        let complete = format!("{}?order={}", pages.complete, order.number);
        match order.state {
            OrderState::Pending | OrderState::Unknown => notice_url(&complete, Notice::PaymentPending),
            OrderState::Processing | OrderState::Completing => notice_url(&pages.confirm, Notice::AmazonUnavailable),
            OrderState::Failed => {
                notice_url(&pages.cart, Notice::from_code(&order.note).unwrap_or(Notice::PaymentDeclined))
            }
            OrderState::CardUnsettled => notice_url(&pages.cart, Notice::PaymentDeclined),
            _ => notice_url(&complete, Notice::OrderPlaced),
        }
    }
}

/// What Amazon's charge state means for an order (of `total` yen, should the charge carry no
/// amount).
pub(super) fn charge_outcome(charge: &Charge, total: u64) -> Outcome {
    match &charge.status_details.state {
        ChargeState::Authorized | ChargeState::CaptureInitiated | ChargeState::Captured => {
            Outcome::Authorized(authorization_of(charge, total))
        }
        ChargeState::AuthorizationInitiated => Outcome::Pending,
        ChargeState::Declined | ChargeState::Canceled => Outcome::Failed(Notice::PaymentDeclined.code().into()),
        ChargeState::Other(state) => {
            tracing::warn!(state, "a charge in a state this shop does not know; to reconcile");
            Outcome::Unknown
        }
    }
}

/// Why Amazon canceled a checkout session, as the shopper is told.
fn canceled_notice(session: &CheckoutSession) -> Notice {
    match session.status_details.reason_code.as_deref() {
        Some("Expired") => Notice::CheckoutExpired,
        Some("BuyerCanceled") => Notice::CheckoutCanceled,
        _ => Notice::PaymentDeclined,
    }
}

fn review_of(session: CheckoutSession) -> Review {
    let address = session.shipping_address.unwrap_or_default();
    let text = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let shipping_address = [
        text(address.name),
        text(address.postal_code).map(|code| format!("〒{code}")),
        text(Some(format!(
            "{}{}",
            address.state_or_region.unwrap_or_default(),
            address.address_line1.unwrap_or_default()
        ))),
        text(Some(
            format!("{} {}", address.address_line2.unwrap_or_default(), address.address_line3.unwrap_or_default())
                .trim()
                .to_owned(),
        )),
        text(address.phone_number),
    ]
    .into_iter()
    .flatten()
    .collect();
    let payment_descriptor = session
        .payment_preferences
        .unwrap_or_default()
        .into_iter()
        .find_map(|p| p.payment_descriptor)
        .unwrap_or_default();
    Review { checkout_session_id: session.checkout_session_id, shipping_address, payment_descriptor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amazon::types::StatusDetails;

    fn charge(state: &str) -> Charge {
        Charge {
            status_details: StatusDetails { state: state.into(), ..StatusDetails::default() },
            charge_amount: Some(Money::yen(3_630)),
            creation_timestamp: Some("20261128T101414Z".into()),
            ..Charge::default()
        }
    }

    #[test]
    fn a_charge_reads_as_amazon_means_it() {
        let authorized = super::super::orders::Authorization { amount: 3_630, at: 1_795_860_854 };
        assert_eq!(charge_outcome(&charge("Authorized"), 1), Outcome::Authorized(authorized));
        assert_eq!(charge_outcome(&charge("AuthorizationInitiated"), 1), Outcome::Pending);
        assert_eq!(charge_outcome(&charge("Declined"), 1), Outcome::Failed("payment_declined".into()));
        assert_eq!(charge_outcome(&charge("SomethingNew"), 1), Outcome::Unknown);
    }

    #[test]
    fn a_canceled_session_says_why() {
        let session = |reason: &str| CheckoutSession {
            status_details: StatusDetails {
                state: "Canceled".into(),
                reason_code: Some(reason.into()),
                ..StatusDetails::default()
            },
            ..CheckoutSession::default()
        };
        assert_eq!(canceled_notice(&session("Expired")), Notice::CheckoutExpired);
        assert_eq!(canceled_notice(&session("BuyerCanceled")), Notice::CheckoutCanceled);
        assert_eq!(canceled_notice(&session("Declined")), Notice::PaymentDeclined);
    }

    #[test]
    fn reviews_are_reused_briefly_and_forgotten_on_return() {
        let cache = ReviewCache::default();
        let review =
            Review { checkout_session_id: "cs".into(), shipping_address: vec![], payment_descriptor: "Visa".into() };
        cache.put(review.clone());
        assert_eq!(cache.get("cs"), Some(review));
        cache.forget("cs");
        assert_eq!(cache.get("cs"), None);
    }
}
