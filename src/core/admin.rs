//! What the shop owner's pages show of an order beside the shop's own record: Amazon's live view
//! of its charge permission, charge and refunds.
//!
//! The objects are read at once, not one after another (an order with many refunds would keep the
//! page waiting for each in turn), each within its own wait, so that one Amazon cannot answer
//! shows as that object's failure and the rest of the page stands. What Amazon answered is kept
//! briefly ([`VIEW_LIFETIME`]), so that a reload, or a second owner looking, asks Amazon nothing;
//! an operation or a sync of the order forgets what was kept of it, so that the page after it
//! shows Amazon's new state.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::clock::{Clock, Monotonic};
use super::operations::REFUND_ADJUSTMENT;
use super::platform::{Order, OrderId, Refund};
use super::{AmazonError, Core, CoreError};
use crate::amazon::types::{Charge, ChargePermission, Refund as AmazonRefund};

/// How long what Amazon answered is shown without asking again.
pub const VIEW_LIFETIME: Duration = Duration::from_secs(15);
/// The most objects kept: past it, those kept longest make room.
const VIEW_CAPACITY: usize = 1_024;
/// The most recent refunds whose state is read (an order refunded in many parts shows the rest as
/// the shop holds them).
pub const REFUNDS_READ: usize = 20;
/// How long the page waits for one of Amazon's objects before showing it as unread.
const AMAZON_WAIT: Duration = Duration::from_secs(4);

/// Why one of Amazon's objects is not shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unread {
    /// Amazon answered with an error, or could not be reached.
    #[error("{0}")]
    Amazon(String),
    /// Amazon did not answer within the page's wait.
    #[error("Amazon did not answer in time")]
    Late,
}

/// One of Amazon's objects as read for the page.
pub type Read<T> = Result<T, Unread>;

/// Amazon's live view of an order (none where the order has no such object).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmazonView {
    /// Its charge permission.
    pub permission: Option<Read<ChargePermission>>,
    /// Its charge.
    pub charge: Option<Read<Charge>>,
    /// Its most recent refunds of Amazon's, by refund ID (the shop's own adjustments are no
    /// refunds of Amazon's: nothing to ask).
    pub refunds: HashMap<String, Read<AmazonRefund>>,
}

impl AmazonView {
    /// Amazon's refund `id`, if it was read.
    pub fn refund(&self, id: &str) -> Option<&Read<AmazonRefund>> {
        self.refunds.get(id)
    }
}

/// What the order page shows of the payment: the order, its refunds (oldest first) and Amazon's
/// view of them.
#[derive(Clone, Debug)]
pub struct OrderView {
    /// The order.
    pub order: Order,
    /// Its refunds as the shop holds them.
    pub refunds: Vec<Refund>,
    /// Amazon's side.
    pub amazon: AmazonView,
}

/// Objects of one kind as Amazon last answered, by ID, with the order they were read for.
struct Shelf<T> {
    kept: Mutex<HashMap<String, (OrderId, Instant, T)>>,
}

impl<T: Clone> Shelf<T> {
    fn new() -> Self {
        Self { kept: Mutex::new(HashMap::new()) }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<String, (OrderId, Instant, T)>> {
        // A poisoned lock only means a panic mid-insert; the map is still a valid cache.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, id: &str, now: Instant) -> Option<T> {
        let kept = self.kept();
        let (_, at, object) = kept.get(id)?;
        (now.saturating_duration_since(*at) < VIEW_LIFETIME).then(|| object.clone())
    }

    fn keep(&self, order: OrderId, id: &str, object: T, now: Instant) {
        let mut kept = self.kept();
        if kept.len() >= VIEW_CAPACITY {
            kept.retain(|_, (_, at, _)| now.saturating_duration_since(*at) < VIEW_LIFETIME);
        }
        while kept.len() >= VIEW_CAPACITY {
            let Some(oldest) = kept.iter().min_by_key(|(_, (_, at, _))| *at).map(|(id, _)| id.clone()) else { break };
            kept.remove(&oldest);
        }
        kept.insert(id.to_owned(), (order, now, object));
    }

    fn forget(&self, order: OrderId) {
        self.kept().retain(|_, (kept_for, _, _)| *kept_for != order);
    }

    fn forget_id(&self, id: &str) {
        self.kept().remove(id);
    }
}

/// What was last read of Amazon's objects for the owner's pages.
pub struct AmazonViews {
    clock: Box<dyn Clock>,
    wait: Duration,
    permissions: Shelf<ChargePermission>,
    charges: Shelf<Charge>,
    refunds: Shelf<AmazonRefund>,
}

impl Default for AmazonViews {
    fn default() -> Self {
        Self::with_clock(Monotonic)
    }
}

impl AmazonViews {
    /// Views kept as `clock` goes (a test's moves only when told).
    pub fn with_clock(clock: impl Clock + 'static) -> Self {
        Self {
            clock: Box::new(clock),
            wait: AMAZON_WAIT,
            permissions: Shelf::new(),
            charges: Shelf::new(),
            refunds: Shelf::new(),
        }
    }

    /// Waits `wait` for each object instead of [`AMAZON_WAIT`] (a test that holds Amazon's answers
    /// must not race the page's wait).
    #[must_use]
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Forgets what was kept of `order`'s objects.
    pub fn forget(&self, order: OrderId) {
        self.permissions.forget(order);
        self.charges.forget(order);
        self.refunds.forget(order);
    }

    /// Forgets a charge permission kept for any order (a subscription's, closed).
    pub fn forget_permission(&self, id: &str) {
        self.permissions.forget_id(id);
    }
}

/// `id` from `shelf` while kept, else from Amazon (kept then).
async fn through<T: Clone>(
    views: &AmazonViews,
    shelf: &Shelf<T>,
    order: OrderId,
    id: &str,
    read: impl Future<Output = Result<T, AmazonError>>,
) -> Read<T> {
    if let Some(object) = shelf.get(id, views.clock.now()) {
        return Ok(object);
    }
    match tokio::time::timeout(views.wait, read).await {
        Ok(Ok(object)) => {
            shelf.keep(order, id, object.clone(), views.clock.now());
            Ok(object)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, order = order.0, "could not read an Amazon object for the order page");
            Err(Unread::Amazon(error.to_string()))
        }
        Err(_) => Err(Unread::Late),
    }
}

impl Core {
    /// The owner's view of `order`'s payment: its refunds and Amazon's live view.
    pub async fn order_view(&self, order: Order) -> Result<OrderView, CoreError> {
        let refunds = self.platform().refunds(order.id).await?;
        let amazon = self.amazon_view(&order, &refunds).await;
        Ok(OrderView { order, refunds, amazon })
    }

    /// Amazon's live view of `order` and its most recent `refunds`, each object read at once and
    /// kept briefly.
    pub async fn amazon_view(&self, order: &Order, refunds: &[Refund]) -> AmazonView {
        let (views, amazon) = (&self.views, self.amazon());
        let permission = async {
            match &order.charge_permission_id {
                Some(id) => {
                    Some(through(views, &views.permissions, order.id, id, amazon.get_charge_permission(id)).await)
                }
                None => None,
            }
        };
        let charge = async {
            match &order.charge_id {
                Some(id) => Some(through(views, &views.charges, order.id, id, amazon.get_charge(id)).await),
                None => None,
            }
        };
        let amazons = refunds.iter().rev().filter(|r| !r.refund_id.starts_with(REFUND_ADJUSTMENT)).take(REFUNDS_READ);
        let refunds = futures_util::future::join_all(amazons.map(|refund| async {
            let id = &refund.refund_id;
            (id.clone(), through(views, &views.refunds, order.id, id, amazon.get_refund(id)).await)
        }));
        let (permission, charge, refunds) = tokio::join!(permission, charge, refunds);
        AmazonView { permission, charge, refunds: refunds.into_iter().collect() }
    }

    /// What was kept of Amazon's objects for the owner's pages.
    pub fn amazon_views(&self) -> &AmazonViews {
        &self.views
    }
}
