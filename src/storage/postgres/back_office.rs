//! The shop owner's side on PostgreSQL: the order list and page, edits, settings, owner accounts
//! and sessions, bulk operations.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::{Postgres, db_yen, now, position, yen};
use crate::core::orders::OrderState;
use crate::core::platform::{MemberId, Order, OrderId, OrderLine, SubscriptionId};
use crate::storage::{
    BackOffice, BulkItem, BulkJob, OrderDetail, OrderEdit, OrderEvent, OrderFilter, OrderPage, OrderRow, StorageError,
    SubscriptionRecord,
};

/// Seconds after which a forgotten owner session is of no use.
const STALE: i64 = 24 * 60 * 60;

/// The name the order list shows: the member's, else the one Amazon gave.
const NAME: &str = "COALESCE(NULLIF(m.family_name || ' ' || m.given_name, ' '), NULLIF(o.buyer_name, ''), '')";

#[async_trait]
impl BackOffice for Postgres {
    async fn list_orders(&self, filter: &OrderFilter) -> Result<OrderPage, StorageError> {
        let states: Vec<String> = if filter.states.is_empty() {
            OrderState::ALL.into_iter().filter(|s| s.is_placed()).map(|s| s.name().to_owned()).collect()
        } else {
            filter.states.iter().map(|s| s.name().to_owned()).collect()
        };
        // Lapsing: an authorization made before `before - 30 days`, not captured yet.
        let lapsing =
            filter.lapsing_before.map(|before| before - crate::core::operations::AUTHORIZATION_DAYS * 24 * 60 * 60);
        let per_page = i64::from(filter.per_page.clamp(1, 500));
        let offset = i64::from(filter.page) * per_page;
        self.run(async {
            let client = self.client().await?;
            let condition = "o.state = ANY($1) AND ($2::BIGINT IS NULL OR (o.state = 'authorized' AND o.authorized_at < $2))";
            let values: [&(dyn ToSql + Sync); 2] = [&states, &lapsing];
            let total: i64 =
                client.query_one(&client.prepare_cached(&format!("SELECT count(*) FROM orders o WHERE {condition}")).await?, &values).await?.try_get(0)?;
            let rows = client
                .query(
                    &client.prepare_cached(&format!(
                        "SELECT o.id, o.order_number, o.created_at, {NAME}, o.total, o.state, o.fulfilment, o.authorized_at
                         FROM orders o LEFT JOIN members m ON m.id = o.member_id
                         WHERE {condition} ORDER BY o.id DESC LIMIT $3 OFFSET $4"
                    )).await?,
                    &[&states, &lapsing, &per_page, &offset],
                )
                .await?
                .iter()
                .map(|row| {
                    let state: String = row.try_get(5)?;
                    Ok(OrderRow {
                        id: OrderId(row.try_get(0)?),
                        number: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
                        created_at: row.try_get(2)?,
                        name: row.try_get(3)?,
                        total: yen(row.try_get(4)?),
                        state: OrderState::parse(&state).unwrap_or(OrderState::Unknown),
                        fulfilment: row.try_get(6)?,
                        authorized_at: row.try_get(7)?,
                    })
                })
                .collect::<Result<_, StorageError>>()?;
            Ok(OrderPage { rows, total: total.max(0).unsigned_abs() })
        })
        .await
    }

    async fn order_detail(&self, id: OrderId) -> Result<Option<OrderDetail>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let columns = ORDER_COLUMNS.split(", ").map(|column| format!("o.{column}")).collect::<Vec<_>>().join(", ");
            let head = client
                .query_opt(
                    &client.prepare_cached(&format!(
                        "SELECT {columns}, o.shipping_fee, o.discount, {NAME}, COALESCE(m.email, NULLIF(o.buyer_email, '')), o.fulfilment
                         FROM orders o LEFT JOIN members m ON m.id = o.member_id WHERE o.id = $1"
                    )).await?,
                    &[&id.0],
                )
                .await?;
            let Some(head) = head else { return Ok(None) };
            let base = ORDER_COLUMNS.split(", ").count();
            let order = order(&head)?;
            let lines = order_lines(&client, id.0).await?;
            let events = client
                .query(
                    &client.prepare_cached("SELECT at, actor, from_state, to_state, detail, forced FROM order_events WHERE order_id = $1 ORDER BY id").await?,
                    &[&id.0],
                )
                .await?
                .iter()
                .map(|row| {
                    let from: Option<String> = row.try_get(2)?;
                    let to: String = row.try_get(3)?;
                    Ok(OrderEvent {
                        at: row.try_get(0)?,
                        actor: row.try_get(1)?,
                        from: from.and_then(|f| OrderState::parse(&f)),
                        to: OrderState::parse(&to).unwrap_or(OrderState::Unknown),
                        detail: row.try_get(4)?,
                        forced: row.try_get(5)?,
                    })
                })
                .collect::<Result<_, StorageError>>()?;
            Ok(Some(OrderDetail {
                order,
                lines,
                shipping_fee: yen(head.try_get(base)?),
                discount: yen(head.try_get(base + 1)?),
                name: head.try_get(base + 2)?,
                email: head.try_get(base + 3)?,
                fulfilment: head.try_get(base + 4)?,
                events,
            }))
        })
        .await
    }

    async fn edit_order(&self, id: OrderId, version: i64, edit: &OrderEdit) -> Result<Option<Order>, StorageError> {
        // Saturating: an absurd edit stores an absurd total (which Amazon then refuses), never a
        // wrapped-around small one.
        let goods = edit.lines.iter().fold(0u64, |sum, l| sum.saturating_add(l.unit_price.saturating_mul(l.quantity)));
        let total = goods.saturating_add(edit.shipping_fee).saturating_sub(edit.discount);
        self.run(async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let changed = transaction
                .execute(
                    &transaction.prepare_cached("UPDATE orders SET total = $3, shipping_fee = $4, discount = $5, fulfilment = $6,
                         version = version + 1, updated_at = $7
                     WHERE id = $1 AND version = $2 AND (locked_by IS NULL OR locked_until < $7)").await?,
                    &[
                        &id.0,
                        &version,
                        &db_yen(total),
                        &db_yen(edit.shipping_fee),
                        &db_yen(edit.discount),
                        &edit.fulfilment,
                        &now(),
                    ],
                )
                .await?;
            if changed == 0 {
                return Ok(None);
            }
            transaction.execute(&transaction.prepare_cached("DELETE FROM order_items WHERE order_id = $1").await?, &[&id.0]).await?;
            for (index, line) in edit.lines.iter().enumerate() {
                transaction
                    .execute(
                        &transaction.prepare_cached("INSERT INTO order_items (order_id, position, name, price, quantity) VALUES ($1, $2, $3, $4, $5)").await?,
                        &[&id.0, &position(index), &line.name, &db_yen(line.unit_price), &db_yen(line.quantity)],
                    )
                    .await?;
            }
            let row =
                transaction.query_one(&transaction.prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1")).await?, &[&id.0]).await?;
            let edited = order(&row)?;
            transaction.commit().await?;
            Ok(Some(edited))
        })
        .await
    }

    async fn set_shipping_amazon_pay(&self, method: i64, allowed: bool) -> Result<bool, StorageError> {
        self.run(async {
            let client = self.client().await?;
            Ok(client
                .execute(
                    &client.prepare_cached("UPDATE shipping_methods SET amazon_pay_allowed = $2 WHERE id = $1").await?,
                    &[&method, &allowed],
                )
                .await?
                == 1)
        })
        .await
    }

    async fn put_admin(&self, name: &str, password_hash: &str) -> Result<bool, StorageError> {
        self.run(async {
            let mut client = self.client().await?;
            // One transaction: a new password and the end of the old sessions go together.
            let transaction = client.transaction().await?;
            // `xmax = 0` only on a row this statement inserted (an update leaves the old row's ID).
            let row = transaction
                .query_one(
                    &transaction
                        .prepare_cached(
                            "INSERT INTO admin_accounts (name, password_hash, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash
                     RETURNING (xmax = 0)",
                        )
                        .await?,
                    &[&name, &password_hash, &now()],
                )
                .await?;
            let created: bool = row.try_get(0)?;
            if !created {
                // A new password ends the account's sessions.
                transaction
                    .execute(&transaction.prepare_cached("DELETE FROM admin_sessions WHERE name = $1").await?, &[&name])
                    .await?;
            }
            transaction.commit().await?;
            Ok(created)
        })
        .await
    }

    async fn admin_password_hash(&self, name: &str) -> Result<Option<String>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client.prepare_cached("SELECT password_hash FROM admin_accounts WHERE name = $1").await?,
                    &[&name],
                )
                .await?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        })
        .await
    }

    async fn admin_session(&self, id: &str) -> Result<Option<(String, i64)>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client.prepare_cached("SELECT name, last_seen FROM admin_sessions WHERE id = $1").await?,
                    &[&id],
                )
                .await?;
            Ok(match row {
                Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
                None => None,
            })
        })
        .await
    }

    async fn insert_admin_session(&self, id: &str, name: &str) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            // Sessions idle for a day are long expired (the admin's timeout is shorter): a login
            // clears them away, so the table holds only the few live ones.
            client
                .execute(
                    &client.prepare_cached("DELETE FROM admin_sessions WHERE last_seen < $1").await?,
                    &[&(now() - STALE)],
                )
                .await?;
            client
                .execute(
                    &client
                        .prepare_cached(
                            "INSERT INTO admin_sessions (id, name, last_seen, created_at) VALUES ($1, $2, $3, $3)",
                        )
                        .await?,
                    &[&id, &name, &now()],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn touch_admin_session(&self, id: &str, at: i64) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute(
                    &client.prepare_cached("UPDATE admin_sessions SET last_seen = $2 WHERE id = $1").await?,
                    &[&id, &at],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn delete_admin_session(&self, id: &str) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client.execute(&client.prepare_cached("DELETE FROM admin_sessions WHERE id = $1").await?, &[&id]).await?;
            Ok(())
        })
        .await
    }

    async fn start_bulk(&self, owner: &str, orders: &[(OrderId, String)], instance: &str) -> Result<i64, StorageError> {
        self.run(async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let bulk: i64 = transaction
                .query_one(
                    &transaction
                        .prepare_cached(
                            "INSERT INTO bulk_jobs (owner, created_at, claimed_by, heartbeat_at) VALUES ($1, $2, $3, $2)
                             RETURNING id",
                        )
                        .await?,
                    &[&owner, &now(), &instance],
                )
                .await?
                .try_get(0)?;
            for (index, (order, number)) in orders.iter().enumerate() {
                transaction
                    .execute(
                        &transaction
                            .prepare_cached(
                                "INSERT INTO bulk_items (bulk_id, position, order_id, order_number, outcome)
                         VALUES ($1, $2, $3, $4, 'waiting') ON CONFLICT DO NOTHING",
                            )
                            .await?,
                        &[&bulk, &position(index), &order.0, number],
                    )
                    .await?;
            }
            transaction.commit().await?;
            Ok(bulk)
        })
        .await
    }

    async fn record_bulk(&self, bulk: i64, instance: &str, item: &BulkItem) -> Result<bool, StorageError> {
        self.run(async {
            let client = self.client().await?;
            // The job's row is read under a share lock: a claim taken over at the same moment
            // waits for this write or makes it find the job another instance's.
            let recorded = client
                .execute(
                    &client
                        .prepare_cached(
                            "UPDATE bulk_items SET outcome = $3, message = $4
                             WHERE bulk_id = $1 AND order_id = $2 AND outcome = 'waiting'
                             AND EXISTS (SELECT 1 FROM bulk_jobs WHERE id = $1 AND claimed_by = $5 FOR SHARE)",
                        )
                        .await?,
                    &[&bulk, &item.order.0, &item.outcome, &item.message, &instance],
                )
                .await?;
            Ok(recorded == 1)
        })
        .await
    }

    async fn bulk(&self, bulk: i64) -> Result<Vec<BulkItem>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .query(
                    &client.prepare_cached("SELECT order_id, order_number, outcome, message FROM bulk_items WHERE bulk_id = $1 ORDER BY position").await?,
                    &[&bulk],
                )
                .await?
                .iter()
                .map(|row| {
                    Ok(BulkItem {
                        order: OrderId(row.try_get(0)?),
                        number: row.try_get(1)?,
                        outcome: row.try_get(2)?,
                        message: row.try_get(3)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn bulk_job(&self, bulk: i64) -> Result<Option<BulkJob>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client
                        .prepare_cached(
                            "SELECT id, owner, created_at, claimed_by, heartbeat_at, finished_at FROM bulk_jobs WHERE id = $1",
                        )
                        .await?,
                    &[&bulk],
                )
                .await?;
            row.map(|row| {
                Ok(BulkJob {
                    id: row.try_get(0)?,
                    owner: row.try_get(1)?,
                    created_at: row.try_get(2)?,
                    claimed_by: row.try_get(3)?,
                    heartbeat_at: row.try_get(4)?,
                    finished_at: row.try_get(5)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn claim_bulk(&self, bulk: i64, instance: &str, stale_before: i64) -> Result<bool, StorageError> {
        self.run(async {
            let client = self.client().await?;
            // One statement: of two instances claiming at once, the second waits for the first's
            // row lock and then finds the claim fresh.
            let claimed = client
                .execute(
                    &client
                        .prepare_cached(
                            "UPDATE bulk_jobs SET claimed_by = $2, heartbeat_at = $4
                             WHERE id = $1 AND finished_at IS NULL
                               AND (claimed_by IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $3)",
                        )
                        .await?,
                    &[&bulk, &instance, &stale_before, &now()],
                )
                .await?;
            Ok(claimed == 1)
        })
        .await
    }

    async fn beat_bulk(&self, bulk: i64, instance: &str) -> Result<bool, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let beaten = client
                .execute(
                    &client
                        .prepare_cached(
                            "UPDATE bulk_jobs SET heartbeat_at = $3 WHERE id = $1 AND claimed_by = $2 AND finished_at IS NULL",
                        )
                        .await?,
                    &[&bulk, &instance, &now()],
                )
                .await?;
            Ok(beaten == 1)
        })
        .await
    }

    async fn release_bulk(&self, bulk: i64, instance: &str) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute(
                    &client
                        .prepare_cached(
                            "UPDATE bulk_jobs SET claimed_by = NULL, finished_at = CASE WHEN EXISTS
                                 (SELECT 1 FROM bulk_items WHERE bulk_id = $1 AND outcome = 'waiting') THEN NULL ELSE $3::BIGINT END
                             WHERE id = $1 AND claimed_by = $2",
                        )
                        .await?,
                    &[&bulk, &instance, &now()],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn subscription_by_permission(
        &self,
        charge_permission_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client
                        .prepare_cached(
                            "SELECT id, member_id, amount, next_cycle, charge_permission_id, status FROM subscriptions
                             WHERE charge_permission_id = $1",
                        )
                        .await?,
                    &[&charge_permission_id],
                )
                .await?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(SubscriptionRecord {
                id: SubscriptionId(row.try_get(0)?),
                member: row.try_get::<_, Option<i64>>(1)?.map(MemberId),
                amount: yen(row.try_get(2)?),
                next_cycle: row.try_get(3)?,
                charge_permission_id: row.try_get(4)?,
                active: row.try_get::<_, String>(5)? == "active",
            }))
        })
        .await
    }
}

// What the order page reads of an order, as the platform's PostgreSQL implementation read it
// (moved here when that became the shared one in `storage::platform`).

const ORDER_COLUMNS: &str = "id, order_number, member_id, checkout_session_id, subscription_id, cycle, total, \
     recurring, state, charge_permission_id, charge_id, note, created_at, updated_at, cart_id, version, \
     authorized_amount, authorized_at, captured_amount, refunded_amount, plan, refund_requests";

fn bad_column(what: &str) -> StorageError {
    StorageError::Database(format!("unreadable {what} in the database"))
}

/// An order from the first 22 columns of `row` ([`ORDER_COLUMNS`]).
fn order(row: &tokio_postgres::Row) -> Result<Order, StorageError> {
    let subscription: Option<i64> = row.try_get(4)?;
    let cycle: Option<String> = row.try_get(5)?;
    let day = |text: &str| time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok();
    let cycle = match (subscription, cycle) {
        (Some(id), Some(text)) => Some((SubscriptionId(id), day(&text).ok_or_else(|| bad_column("cycle"))?)),
        _ => None,
    };
    let state: String = row.try_get(8)?;
    let plan: Option<String> = row.try_get(20)?;
    Ok(Order {
        id: OrderId(row.try_get(0)?),
        number: row.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
        member: row.try_get::<_, Option<i64>>(2)?.map(MemberId),
        checkout_session_id: row.try_get(3)?,
        cycle,
        total: yen(row.try_get(6)?),
        recurring: row.try_get(7)?,
        state: OrderState::parse(&state).ok_or_else(|| bad_column("state"))?,
        charge_permission_id: row.try_get(9)?,
        charge_id: row.try_get(10)?,
        note: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
        cart: row.try_get::<_, Option<String>>(14)?.map(crate::core::platform::CartId),
        version: row.try_get(15)?,
        authorized: match (row.try_get::<_, Option<i64>>(16)?, row.try_get::<_, Option<i64>>(17)?) {
            (Some(amount), Some(at)) => Some((yen(amount), at)),
            _ => None,
        },
        captured: yen(row.try_get(18)?),
        refunded: yen(row.try_get(19)?),
        plan: plan.map(|json| serde_json::from_str(&json).map_err(|_| bad_column("plan"))).transpose()?,
        refund_requests: u32::try_from(row.try_get::<_, i64>(21)?).map_err(|_| bad_column("refund_requests"))?,
    })
}

/// An order's lines, in their order (moved here from the platform's PostgreSQL implementation
/// when that became the shared one in `storage::platform`).
async fn order_lines(client: &impl GenericClient, id: i64) -> Result<Vec<OrderLine>, StorageError> {
    client
        .query(
            &client
                .prepare_cached("SELECT name, price, quantity FROM order_items WHERE order_id = $1 ORDER BY position")
                .await?,
            &[&id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(OrderLine { name: row.try_get(0)?, unit_price: yen(row.try_get(1)?), quantity: yen(row.try_get(2)?) })
        })
        .collect()
}
