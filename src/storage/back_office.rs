//! The shop owner's side, written once for SQLite and PostgreSQL: the order list and page, edits,
//! settings, owner accounts and sessions, bulk operations.
//!
//! Concurrency (PostgreSQL runs several instances against one database; SQLite has one writer at a
//! time): every change is one conditional statement, so that two instances acting at once cannot
//! both succeed. An edit changes the order only at the version its owner saw; of two instances
//! claiming a bulk job at once, the second waits for the first's row lock and then finds the
//! claim fresh; an outcome is recorded only while the job's row, read under a share lock, still
//! names the recording instance as its claimant, so an instance that lost the job never
//! overwrites what the new claimant recorded.

use async_trait::async_trait;

use super::Store;
use super::rows::{ORDER_COLUMN_COUNT, bad_column, now, order, order_columns, position};
use super::sql::{Fields, db_yen};
use super::{
    AdminSession, BackOffice, BulkItem, BulkJob, BulkOrder, ItemOutcome, OrderDetail, OrderEdit, OrderEvent,
    OrderFilter, OrderPage, OrderRow, StorageError, SubscriptionRecord,
};
use crate::core::orders::OrderState;
use crate::core::platform::{MemberId, Order, OrderId, OrderLine, SubscriptionId};

/// Seconds after which a forgotten owner session is of no use.
const STALE: i64 = 24 * 60 * 60;

/// The name the order list shows: the member's, else the one Amazon gave.
macro_rules! name {
    () => {
        "COALESCE(NULLIF(m.family_name || ' ' || m.given_name, ' '), NULLIF(o.buyer_name, ''), '')"
    };
}

/// Bulk outcomes written by one statement at most (three parameters each).
const RECORDED_AT_ONCE: usize = 100;

#[async_trait]
impl BackOffice for Store {
    async fn list_orders(&self, filter: &OrderFilter) -> Result<OrderPage, StorageError> {
        let states: Vec<&'static str> = if filter.states.is_empty() {
            OrderState::ALL.into_iter().filter(|s| s.is_placed()).map(OrderState::name).collect()
        } else {
            filter.states.iter().map(|s| s.name()).collect()
        };
        let sql = self.sql();
        // The names are the enum's own, never input: safe to write into the statement.
        let list = states.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
        // The shop is `$1`.
        let mut condition = format!("o.shop_id = $1 AND o.state IN ({list})");
        // One state: its (state, id) index gives the page in order. Several: the state indexes
        // are kept out of it (where the database would take them), so it walks the orders newest
        // first and stops at the page instead of sorting every match (100,000 orders would take a
        // sort each time).
        let mut listed = match states.as_slice() {
            [one] => format!("o.shop_id = $1 AND o.state = '{one}'"),
            _ => format!("o.shop_id = $1 AND {} IN ({list})", sql.dialect().not_indexed("o.state")),
        };
        // Lapsing: an authorization made before `before - 30 days`, not captured yet.
        let lapsing =
            filter.lapsing_before.map(|before| before - crate::core::operations::AUTHORIZATION_DAYS * 24 * 60 * 60);
        if lapsing.is_some() {
            let window = " AND o.state = 'authorized' AND o.authorized_at < $2";
            condition.push_str(window);
            listed.push_str(window);
        }
        let n = 1 + usize::from(lapsing.is_some());
        let per_page = i64::from(filter.per_page.clamp(1, 500));
        let offset = i64::from(filter.page) * per_page;
        let counted = format!("SELECT count(*) FROM orders o WHERE {condition}");
        let paged = format!(
            "SELECT o.id, o.order_number, o.created_at, {}, o.total, o.state, o.fulfilment, o.authorized_at
             FROM orders o LEFT JOIN members m ON m.id = o.member_id
             WHERE {listed} ORDER BY o.id DESC LIMIT ${} OFFSET ${}",
            name!(),
            n + 1,
            n + 2
        );
        sql.run(async {
            let mut count = sqlx::query(sqlx::AssertSqlSafe(counted)).bind(self.shop_id());
            let mut page = sqlx::query(sqlx::AssertSqlSafe(paged)).bind(self.shop_id());
            if let Some(lapsing) = lapsing {
                count = count.bind(lapsing);
                page = page.bind(lapsing);
            }
            // One connection for both: the count and the page see the same orders.
            let mut reader = sql.reader().await?;
            let total = count.fetch_one(&mut *reader).await?.int(0)?;
            let rows = page
                .bind(per_page)
                .bind(offset)
                .fetch_all(&mut *reader)
                .await?
                .iter()
                .map(|row| {
                    Ok(OrderRow {
                        id: OrderId(row.int(0)?),
                        number: row.opt_text(1)?.unwrap_or_default(),
                        created_at: row.int(2)?,
                        name: row.text(3)?,
                        total: row.yen(4)?,
                        state: OrderState::parse(&row.text(5)?).unwrap_or(OrderState::Unknown),
                        fulfilment: row.text(6)?,
                        authorized_at: row.opt_int(7)?,
                    })
                })
                .collect::<Result<_, StorageError>>()?;
            Ok(OrderPage { rows, total: total.max(0).unsigned_abs() })
        })
        .await
    }

    async fn order_detail(&self, id: OrderId) -> Result<Option<OrderDetail>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let head = sqlx::query(concat!(
                "SELECT ",
                order_columns!(o),
                ", o.shipping_fee, o.discount, ",
                name!(),
                ", COALESCE(m.email, NULLIF(o.buyer_email, '')), o.fulfilment
                 FROM orders o LEFT JOIN members m ON m.id = o.member_id WHERE o.id = $1 AND o.shop_id = $2"
            ))
            .bind(id.0)
            .bind(self.shop_id())
            .fetch_optional(&mut *sql.reader().await?)
            .await?;
            let Some(head) = head else { return Ok(None) };
            let base = ORDER_COLUMN_COUNT;
            let order = order(&head)?;
            let lines = sqlx::query(
                "SELECT name, price, quantity FROM order_items WHERE order_id = $1 AND shop_id = $2 ORDER BY position",
            )
            .bind(id.0)
            .bind(self.shop_id())
            .fetch_all(&mut *sql.reader().await?)
            .await?
            .iter()
            .map(|row| Ok(OrderLine { name: row.text(0)?, unit_price: row.yen(1)?, quantity: row.yen(2)? }))
            .collect::<Result<_, StorageError>>()?;
            let events = sqlx::query(
                "SELECT at, actor, from_state, to_state, detail, forced FROM order_events
                 WHERE order_id = $1 AND shop_id = $2 ORDER BY id",
            )
            .bind(id.0)
            .bind(self.shop_id())
            .fetch_all(&mut *sql.reader().await?)
            .await?
            .iter()
            .map(|row| {
                Ok(OrderEvent {
                    at: row.int(0)?,
                    actor: row.text(1)?,
                    from: row.opt_text(2)?.and_then(|from| OrderState::parse(&from)),
                    to: OrderState::parse(&row.text(3)?).unwrap_or(OrderState::Unknown),
                    detail: row.text(4)?,
                    forced: row.flag(5)?,
                })
            })
            .collect::<Result<_, StorageError>>()?;
            Ok(Some(OrderDetail {
                order,
                lines,
                shipping_fee: head.yen(base)?,
                discount: head.yen(base + 1)?,
                name: head.text(base + 2)?,
                email: head.opt_text(base + 3)?,
                fulfilment: head.text(base + 4)?,
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
        let (sql, shop) = (self.sql(), self.shop_id());
        sql.run(async {
            let mut tx = sql.begin().await?;
            // Only at the version its owner saw, and not while an operation holds the order.
            let changed = sqlx::query(
                "UPDATE orders SET total = $3, shipping_fee = $4, discount = $5, fulfilment = $6,
                     version = version + 1, updated_at = $7
                 WHERE id = $1 AND version = $2 AND (locked_by IS NULL OR locked_until < $7) AND shop_id = $8",
            )
            .bind(id.0)
            .bind(version)
            .bind(db_yen(total))
            .bind(db_yen(edit.shipping_fee))
            .bind(db_yen(edit.discount))
            .bind(edit.fulfilment.as_str())
            .bind(now())
            .bind(shop)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Ok(None);
            }
            sqlx::query("DELETE FROM order_items WHERE order_id = $1 AND shop_id = $2")
                .bind(id.0)
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            for (index, line) in edit.lines.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO order_items (order_id, position, name, price, quantity, shop_id)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id.0)
                .bind(position(index))
                .bind(line.name.as_str())
                .bind(db_yen(line.unit_price))
                .bind(db_yen(line.quantity))
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            }
            let row = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1 AND shop_id = $2"))
                .bind(id.0)
                .bind(shop)
                .fetch_one(&mut *tx)
                .await?;
            let edited = order(&row)?;
            tx.commit().await?;
            Ok(Some(edited))
        })
        .await
    }

    async fn set_shipping_amazon_pay(&self, method: i64, allowed: bool) -> Result<bool, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let changed =
                sqlx::query("UPDATE shipping_methods SET amazon_pay_allowed = $2 WHERE id = $1 AND shop_id = $3")
                    .bind(method)
                    .bind(allowed)
                    .bind(self.shop_id())
                    .execute(&mut *sql.writer().await?)
                    .await?
                    .rows_affected();
            Ok(changed == 1)
        })
        .await
    }

    async fn put_admin(&self, name: &str, password_hash: &str) -> Result<bool, StorageError> {
        let (sql, shop) = (self.sql(), self.shop_id());
        sql.run(async {
            // One transaction: a new password and the end of the old sessions go together.
            let mut tx = sql.begin().await?;
            // Inserted or not decides whether the account is new: of two instances creating it at
            // once, the second's insert waits for the first's and then inserts nothing.
            let created = sqlx::query(
                "INSERT INTO admin_accounts (name, password_hash, created_at, shop_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (shop_id, name) DO NOTHING",
            )
            .bind(name)
            .bind(password_hash)
            .bind(now())
            .bind(shop)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !created {
                sqlx::query("UPDATE admin_accounts SET password_hash = $2 WHERE name = $1 AND shop_id = $3")
                    .bind(name)
                    .bind(password_hash)
                    .bind(shop)
                    .execute(&mut *tx)
                    .await?;
                // A new password ends the account's sessions.
                sqlx::query("DELETE FROM admin_sessions WHERE name = $1 AND shop_id = $2")
                    .bind(name)
                    .bind(shop)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(created)
        })
        .await
    }

    async fn admin_password_hash(&self, name: &str) -> Result<Option<String>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let row = sqlx::query("SELECT password_hash FROM admin_accounts WHERE name = $1 AND shop_id = $2")
                .bind(name)
                .bind(self.shop_id())
                .fetch_optional(&mut *sql.reader().await?)
                .await?;
            row.map(|row| row.text(0)).transpose()
        })
        .await
    }

    async fn admin_session(&self, id: &str) -> Result<Option<AdminSession>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let row = sqlx::query("SELECT name, last_seen FROM admin_sessions WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(self.shop_id())
                .fetch_optional(&mut *sql.reader().await?)
                .await?;
            row.map(|row| Ok(AdminSession { name: row.text(0)?, last_seen: row.int(1)? })).transpose()
        })
        .await
    }

    async fn insert_admin_session(&self, id: &str, name: &str) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            let at = now();
            let mut tx = sql.begin().await?;
            // Sessions idle for a day are long expired (the admin's timeout is shorter): a login
            // clears them away (every shop's), so the table holds only the few live ones.
            sqlx::query("DELETE FROM admin_sessions WHERE last_seen < $1").bind(at - STALE).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO admin_sessions (id, name, last_seen, created_at, shop_id) VALUES ($1, $2, $3, $3, $4)",
            )
            .bind(id)
            .bind(name)
            .bind(at)
            .bind(self.shop_id())
            .execute(&mut *tx)
            .await?;
            Ok(tx.commit().await?)
        })
        .await
    }

    async fn touch_admin_session(&self, id: &str, at: i64) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("UPDATE admin_sessions SET last_seen = $2 WHERE id = $1 AND shop_id = $3")
                .bind(id)
                .bind(at)
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?;
            Ok(())
        })
        .await
    }

    async fn delete_admin_session(&self, id: &str) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("DELETE FROM admin_sessions WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?;
            Ok(())
        })
        .await
    }

    async fn start_bulk(&self, owner: &str, orders: &[BulkOrder], instance: &str) -> Result<i64, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let mut tx = sql.begin().await?;
            let bulk = sqlx::query(
                "INSERT INTO bulk_jobs (owner, created_at, claimed_by, heartbeat_at, shop_id) VALUES ($1, $2, $3, $2, $4)
                 RETURNING id",
            )
            .bind(owner)
            .bind(now())
            .bind(instance)
            .bind(self.shop_id())
            .fetch_one(&mut *tx)
            .await?
            .int(0)?;
            for (index, BulkOrder { order, number }) in orders.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO bulk_items (bulk_id, position, order_id, order_number, outcome, shop_id)
                     VALUES ($1, $2, $3, $4, 'waiting', $5) ON CONFLICT DO NOTHING",
                )
                .bind(bulk)
                .bind(position(index))
                .bind(order.0)
                .bind(number.as_str())
                .bind(self.shop_id())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(bulk)
        })
        .await
    }

    async fn record_bulk_items(&self, bulk: i64, instance: &str, items: &[BulkItem]) -> Result<usize, StorageError> {
        let sql = self.sql();
        let mut recorded = 0;
        // One statement per batch: the outcomes that finished while the last batch was written go
        // in together (the job's writes wait for the one writer like every other write).
        for batch in items.chunks(RECORDED_AT_ONCE) {
            // ($4, $5, $6), ($7, $8, $9), …: each item's order, outcome and message.
            let rows = (0..batch.len())
                .map(|n| format!("(${}, ${}, ${})", 3 * n + 4, 3 * n + 5, 3 * n + 6))
                .collect::<Vec<_>>()
                .join(", ");
            // The job's row is read under a share lock (PostgreSQL): a claim taken over at the
            // same moment waits for this write or makes it find the job another instance's.
            let statement = format!(
                "UPDATE bulk_items SET outcome = v.column2, message = v.column3 FROM (VALUES {rows}) AS v
                 WHERE bulk_items.bulk_id = $1 AND bulk_items.order_id = v.column1 AND bulk_items.outcome = 'waiting'
                 AND bulk_items.shop_id = $3
                 AND EXISTS (SELECT 1 FROM bulk_jobs WHERE id = $1 AND claimed_by = $2 AND shop_id = $3{})",
                sql.dialect().for_share()
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(bulk).bind(instance).bind(self.shop_id());
            for item in batch {
                query = query.bind(item.order.0).bind(item.outcome.name()).bind(item.message.as_str());
            }
            recorded += sql.run(async { Ok(query.execute(&mut *sql.writer().await?).await?.rows_affected()) }).await?;
        }
        Ok(usize::try_from(recorded).unwrap_or(usize::MAX))
    }

    async fn bulk(&self, bulk: i64) -> Result<Vec<BulkItem>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "SELECT order_id, order_number, outcome, message FROM bulk_items
                 WHERE bulk_id = $1 AND shop_id = $2 ORDER BY position",
            )
            .bind(bulk)
            .bind(self.shop_id())
            .fetch_all(&mut *sql.reader().await?)
            .await?
            .iter()
            .map(|row| {
                Ok(BulkItem {
                    order: OrderId(row.int(0)?),
                    number: row.text(1)?,
                    outcome: ItemOutcome::parse(&row.text(2)?).ok_or_else(|| bad_column("outcome"))?,
                    message: row.text(3)?,
                })
            })
            .collect()
        })
        .await
    }

    async fn bulk_job(&self, bulk: i64) -> Result<Option<BulkJob>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let row = sqlx::query(
                "SELECT id, owner, created_at, claimed_by, heartbeat_at, finished_at FROM bulk_jobs
                 WHERE id = $1 AND shop_id = $2",
            )
            .bind(bulk)
            .bind(self.shop_id())
            .fetch_optional(&mut *sql.reader().await?)
            .await?;
            row.map(|row| {
                Ok(BulkJob {
                    id: row.int(0)?,
                    owner: row.text(1)?,
                    created_at: row.int(2)?,
                    claimed_by: row.opt_text(3)?,
                    heartbeat_at: row.opt_int(4)?,
                    finished_at: row.opt_int(5)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn claim_bulk(&self, bulk: i64, instance: &str, stale_before: i64) -> Result<bool, StorageError> {
        let sql = self.sql();
        sql.run(async {
            // One statement: of two instances claiming at once, the second waits for the first's
            // row lock (on SQLite, for the write lock) and then finds the claim fresh.
            let claimed = sqlx::query(
                "UPDATE bulk_jobs SET claimed_by = $2, heartbeat_at = $4
                 WHERE id = $1 AND finished_at IS NULL AND shop_id = $5
                   AND (claimed_by IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $3)",
            )
            .bind(bulk)
            .bind(instance)
            .bind(stale_before)
            .bind(now())
            .bind(self.shop_id())
            .execute(&mut *sql.writer().await?)
            .await?
            .rows_affected();
            Ok(claimed == 1)
        })
        .await
    }

    async fn beat_bulk(&self, bulk: i64, instance: &str) -> Result<bool, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let beaten = sqlx::query(
                "UPDATE bulk_jobs SET heartbeat_at = $3
                 WHERE id = $1 AND claimed_by = $2 AND finished_at IS NULL AND shop_id = $4",
            )
            .bind(bulk)
            .bind(instance)
            .bind(now())
            .bind(self.shop_id())
            .execute(&mut *sql.writer().await?)
            .await?
            .rows_affected();
            Ok(beaten == 1)
        })
        .await
    }

    async fn release_bulk(&self, bulk: i64, instance: &str) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "UPDATE bulk_jobs SET claimed_by = NULL, finished_at = CASE WHEN EXISTS
                     (SELECT 1 FROM bulk_items WHERE bulk_id = $1 AND outcome = 'waiting' AND shop_id = $4)
                     THEN NULL ELSE CAST($3 AS BIGINT) END
                 WHERE id = $1 AND claimed_by = $2 AND shop_id = $4",
            )
            .bind(bulk)
            .bind(instance)
            .bind(now())
            .bind(self.shop_id())
            .execute(&mut *sql.writer().await?)
            .await?;
            Ok(())
        })
        .await
    }

    async fn subscription_by_permission(
        &self,
        charge_permission_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let row = sqlx::query(
                "SELECT id, member_id, amount, next_cycle, charge_permission_id, status FROM subscriptions
                 WHERE charge_permission_id = $1 AND shop_id = $2",
            )
            .bind(charge_permission_id)
            .bind(self.shop_id())
            .fetch_optional(&mut *sql.reader().await?)
            .await?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(SubscriptionRecord {
                id: SubscriptionId(row.int(0)?),
                member: row.opt_int(1)?.map(MemberId),
                amount: row.yen(2)?,
                next_cycle: row.text(3)?,
                charge_permission_id: row.text(4)?,
                active: row.text(5)? == "active",
            }))
        })
        .await
    }
}
