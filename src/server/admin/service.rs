//! What the admin pages show and change, gathered from the shop's records and the core: the
//! handlers parse the request, make one call here and render what it answers.

use crate::core::admin::OrderView;
use crate::core::orders::OrderState;
use crate::core::platform::{Order, OrderId, ShippingMethod};
use crate::core::{Core, CoreError};
use crate::storage::{
    Database, OrderDetail, OrderEdit, OrderFilter, OrderPage, SeenTopic, StorageError, SubscriptionRecord,
};

/// Why an admin page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The shop's records could not be read or written.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The core failed (its own records, or Amazon).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The admin's view of the shop.
pub struct Service<'a> {
    db: &'a Database,
    core: &'a Core,
}

/// ホーム: how many orders stand in each credit status, and the authorizations lapsing soon.
pub struct Home {
    /// Each status asked for, with its count.
    pub counts: Vec<(OrderState, u64)>,
    /// The first page of authorized orders lapsing soon, with their count.
    pub lapsing: OrderPage,
}

/// 受注編集: the order with its lines and history, its subscription and Amazon's view of it.
pub struct OrderSheet {
    /// The order as the shop holds it.
    pub detail: OrderDetail,
    /// Its subscription, for a recurring order.
    pub subscription: Option<SubscriptionRecord>,
    /// Its payment, with Amazon's live view.
    pub view: OrderView,
}

/// How saving the shipping methods' Amazon Pay ticks went.
#[derive(Debug, PartialEq, Eq)]
pub enum Ticks {
    /// Every method's tick is saved.
    Saved,
    /// A method named no longer exists (nothing after it was saved).
    NoSuchMethod,
}

impl<'a> Service<'a> {
    pub fn new(db: &'a Database, core: &'a Core) -> Self {
        Self { db, core }
    }

    /// The counts of `states` and the authorized orders lapsing before `lapsing_before`.
    pub async fn home(&self, states: &[OrderState], lapsing_before: i64, per_page: u32) -> Result<Home, ServiceError> {
        let count = |state: OrderState| async move {
            let filter = OrderFilter { states: vec![state], per_page: 1, ..OrderFilter::default() };
            Ok::<_, StorageError>((state, self.db.list_orders(&filter).await?.total))
        };
        let soon = OrderFilter { lapsing_before: Some(lapsing_before), per_page, ..OrderFilter::default() };
        let (counts, lapsing) = tokio::join!(
            futures_util::future::try_join_all(states.iter().copied().map(count)),
            self.db.list_orders(&soon)
        );
        Ok(Home { counts: counts?, lapsing: lapsing? })
    }

    /// 受注一覧: the orders `filter` finds.
    pub async fn orders(&self, filter: &OrderFilter) -> Result<OrderPage, ServiceError> {
        Ok(self.db.list_orders(filter).await?)
    }

    /// A placed order (none for an unknown one, or one whose checkout never completed).
    pub async fn placed_order(&self, id: OrderId) -> Result<Option<Order>, ServiceError> {
        Ok(self.core.platform().order(id).await.map_err(CoreError::from)?.filter(|order| order.state.is_placed()))
    }

    /// 受注編集 of a placed order: its record, its subscription and Amazon's view, read at once.
    pub async fn order_sheet(&self, id: OrderId) -> Result<Option<OrderSheet>, ServiceError> {
        let Some(detail) = self.db.order_detail(id).await?.filter(|detail| detail.order.state.is_placed()) else {
            return Ok(None);
        };
        let (subscription, view) =
            tokio::join!(self.subscription_of(&detail.order), self.core.order_view(detail.order.clone()));
        Ok(Some(OrderSheet { subscription: subscription?, view: view?, detail }))
    }

    /// 受注編集: the order changed as its owner saw it at `version` (none when it changed
    /// meanwhile).
    pub async fn edit_order(&self, id: OrderId, version: i64, edit: &OrderEdit) -> Result<Option<Order>, ServiceError> {
        Ok(self.db.edit_order(id, version, edit).await?)
    }

    /// Whether the order's last change was forced (「エラーを無視して変更する」).
    pub async fn last_change_forced(&self, id: OrderId) -> Result<bool, ServiceError> {
        let detail = self.db.order_detail(id).await?;
        Ok(detail.and_then(|detail| detail.events.last().map(|event| event.forced)).unwrap_or(false))
    }

    /// The subscription a placed recurring order belongs to.
    pub async fn order_subscription(&self, id: OrderId) -> Result<Option<SubscriptionRecord>, ServiceError> {
        match self.placed_order(id).await? {
            Some(order) => self.subscription_of(&order).await,
            None => Ok(None),
        }
    }

    async fn subscription_of(&self, order: &Order) -> Result<Option<SubscriptionRecord>, ServiceError> {
        match (&order.charge_permission_id, order.recurring) {
            (Some(permission), true) => Ok(self.db.subscription_by_permission(permission).await?),
            _ => Ok(None),
        }
    }

    /// The placed orders among `ids`, in that order, for a bulk job.
    pub async fn placed_orders(&self, ids: &[i64]) -> Result<Vec<Order>, ServiceError> {
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            orders.extend(self.placed_order(OrderId(*id)).await?);
        }
        Ok(orders)
    }

    /// 基本設定＞配送方法・配送料.
    pub async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, ServiceError> {
        Ok(self.db.shipping_methods().await?)
    }

    /// Saves the Amazon Pay tick of each of `methods`: ticked when in `ticked`.
    pub async fn save_amazon_pay_ticks(&self, methods: &[i64], ticked: &[i64]) -> Result<Ticks, ServiceError> {
        for method in methods {
            if !self.db.set_shipping_amazon_pay(*method, ticked.contains(method)).await? {
                return Ok(Ticks::NoSuchMethod);
            }
        }
        Ok(Ticks::Saved)
    }

    /// The notification topics seen for this shop.
    pub async fn ipn_topics(&self) -> Result<Vec<SeenTopic>, ServiceError> {
        Ok(self.db.ipn_topics(&self.core.ipn_topic_scope()).await?)
    }
}
