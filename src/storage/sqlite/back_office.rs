//! The shop owner's side on SQLite: the order list and page, edits, settings, owner accounts and
//! sessions, bulk operations.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params, params_from_iter};

use super::{Sqlite, db_yen, now, yen};
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
impl BackOffice for Sqlite {
    async fn list_orders(&self, filter: &OrderFilter) -> Result<OrderPage, StorageError> {
        let filter = filter.clone();
        self.read(move |c| {
            let states: Vec<&'static str> = if filter.states.is_empty() {
                OrderState::ALL.into_iter().filter(|s| s.is_placed()).map(OrderState::name).collect()
            } else {
                filter.states.iter().map(|s| s.name()).collect()
            };
            // The names are the enum's own, never input: safe to write into the statement.
            let list = states.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
            let mut condition = format!("o.state IN ({list})");
            // One state: its (state, id) index gives the page in order. Several: the unary plus
            // keeps SQLite off the state indexes, so it walks the orders newest first and stops at
            // the page instead of sorting every match (100,000 orders would take a sort each time).
            let mut listed = match states.as_slice() {
                [one] => format!("o.state = '{one}'"),
                _ => format!("+o.state IN ({list})"),
            };
            let mut values: Vec<i64> = Vec::new();
            if let Some(before) = filter.lapsing_before {
                // Lapsing: an authorization made before `before - 30 days`, not captured yet.
                let lapsing = " AND o.state = 'authorized' AND o.authorized_at < ?1";
                condition.push_str(lapsing);
                listed.push_str(lapsing);
                values.push(before - crate::core::operations::AUTHORIZATION_DAYS * 24 * 60 * 60);
            }
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM orders o WHERE {condition}"),
                params_from_iter(values.iter()),
                |row| row.get(0),
            )?;
            let per_page = i64::from(filter.per_page.clamp(1, 500));
            let offset = i64::from(filter.page) * per_page;
            let n = values.len();
            let mut statement = c.prepare(&format!(
                "SELECT o.id, o.order_number, o.created_at, {NAME}, o.total, o.state, o.fulfilment, o.authorized_at
                 FROM orders o LEFT JOIN members m ON m.id = o.member_id
                 WHERE {listed} ORDER BY o.id DESC LIMIT ?{} OFFSET ?{}",
                n + 1,
                n + 2
            ))?;
            values.extend([per_page, offset]);
            let rows = statement
                .query_map(params_from_iter(values.iter()), |row| {
                    let state: String = row.get(5)?;
                    Ok(OrderRow {
                        id: OrderId(row.get(0)?),
                        number: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        created_at: row.get(2)?,
                        name: row.get(3)?,
                        total: yen(row.get(4)?),
                        state: OrderState::parse(&state).unwrap_or(OrderState::Unknown),
                        fulfilment: row.get(6)?,
                        authorized_at: row.get(7)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(OrderPage { rows, total: total.max(0).unsigned_abs() })
        })
        .await
    }

    async fn order_detail(&self, id: OrderId) -> Result<Option<OrderDetail>, StorageError> {
        self.read(move |c| {
            let columns = ORDER_COLUMNS.split(", ").map(|column| format!("o.{column}")).collect::<Vec<_>>().join(", ");
            let head = c
                .query_row(
                    &format!(
                        "SELECT {columns}, o.shipping_fee, o.discount, {NAME}, COALESCE(m.email, NULLIF(o.buyer_email, '')), o.fulfilment
                         FROM orders o LEFT JOIN members m ON m.id = o.member_id WHERE o.id = ?1"
                    ),
                    [id.0],
                    |row| {
                        let base = ORDER_COLUMNS.split(", ").count();
                        Ok((
                            order(row)?,
                            yen(row.get(base)?),
                            yen(row.get(base + 1)?),
                            row.get::<_, String>(base + 2)?,
                            row.get::<_, Option<String>>(base + 3)?,
                            row.get::<_, String>(base + 4)?,
                        ))
                    },
                )
                .optional()?;
            let Some((order, shipping_fee, discount, name, email, fulfilment)) = head else { return Ok(None) };
            let mut statement =
                c.prepare("SELECT name, price, quantity FROM order_items WHERE order_id = ?1 ORDER BY position")?;
            let lines = statement
                .query_map([id.0], |row| {
                    Ok(OrderLine { name: row.get(0)?, unit_price: yen(row.get(1)?), quantity: yen(row.get(2)?) })
                })?
                .collect::<Result<_, _>>()?;
            let mut statement = c.prepare(
                "SELECT at, actor, from_state, to_state, detail, forced FROM order_events WHERE order_id = ?1 ORDER BY id",
            )?;
            let events = statement
                .query_map([id.0], |row| {
                    let from: Option<String> = row.get(2)?;
                    let to: String = row.get(3)?;
                    Ok(OrderEvent {
                        at: row.get(0)?,
                        actor: row.get(1)?,
                        from: from.and_then(|f| OrderState::parse(&f)),
                        to: OrderState::parse(&to).unwrap_or(OrderState::Unknown),
                        detail: row.get(4)?,
                        forced: row.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(Some(OrderDetail { order, lines, shipping_fee, discount, name, email, fulfilment, events }))
        })
        .await
    }

    async fn edit_order(&self, id: OrderId, version: i64, edit: &OrderEdit) -> Result<Option<Order>, StorageError> {
        let edit = edit.clone();
        self.write(move |tx| {
            // Saturating: an absurd edit stores an absurd total (which Amazon then refuses), never a
            // wrapped-around small one.
            let goods =
                edit.lines.iter().fold(0u64, |sum, l| sum.saturating_add(l.unit_price.saturating_mul(l.quantity)));
            let total = goods.saturating_add(edit.shipping_fee).saturating_sub(edit.discount);
            let changed = tx.execute(
                "UPDATE orders SET total = ?3, shipping_fee = ?4, discount = ?5, fulfilment = ?6, version = version + 1,
                     updated_at = ?7
                 WHERE id = ?1 AND version = ?2 AND (locked_by IS NULL OR locked_until < ?7)",
                params![id.0, version, db_yen(total), db_yen(edit.shipping_fee), db_yen(edit.discount), edit.fulfilment, now()],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            tx.execute("DELETE FROM order_items WHERE order_id = ?1", [id.0])?;
            for (position, line) in edit.lines.iter().enumerate() {
                tx.execute(
                    "INSERT INTO order_items (order_id, position, name, price, quantity) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        id.0,
                        i64::try_from(position).unwrap_or(i64::MAX),
                        line.name,
                        db_yen(line.unit_price),
                        db_yen(line.quantity)
                    ],
                )?;
            }
            Ok(Some(tx.query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"), [id.0], order)?))
        })
        .await
    }

    async fn set_shipping_amazon_pay(&self, method: i64, allowed: bool) -> Result<bool, StorageError> {
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE shipping_methods SET amazon_pay_allowed = ?2 WHERE id = ?1",
                params![method, allowed],
            )? == 1)
        })
        .await
    }

    async fn put_admin(&self, name: &str, password_hash: &str) -> Result<bool, StorageError> {
        let (name, hash) = (name.to_owned(), password_hash.to_owned());
        self.write(move |tx| {
            let existed: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM admin_accounts WHERE name = ?1)", [&name], |row| {
                    row.get(0)
                })?;
            tx.execute(
                "INSERT INTO admin_accounts (name, password_hash, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
                params![name, hash, now()],
            )?;
            if existed {
                // A new password ends the account's sessions.
                tx.execute("DELETE FROM admin_sessions WHERE name = ?1", [&name])?;
            }
            Ok(!existed)
        })
        .await
    }

    async fn admin_password_hash(&self, name: &str) -> Result<Option<String>, StorageError> {
        let name = name.to_owned();
        self.read(move |c| {
            c.query_row("SELECT password_hash FROM admin_accounts WHERE name = ?1", [name], |row| row.get(0)).optional()
        })
        .await
    }

    async fn admin_session(&self, id: &str) -> Result<Option<(String, i64)>, StorageError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.query_row("SELECT name, last_seen FROM admin_sessions WHERE id = ?1", [id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })
        .await
    }

    async fn insert_admin_session(&self, id: &str, name: &str) -> Result<(), StorageError> {
        let (id, name) = (id.to_owned(), name.to_owned());
        self.write(move |tx| {
            let at = now();
            // Sessions idle for a day are long expired (the admin's timeout is shorter): a login
            // clears them away, so the table holds only the few live ones.
            tx.execute("DELETE FROM admin_sessions WHERE last_seen < ?1", [at - STALE])?;
            tx.execute(
                "INSERT INTO admin_sessions (id, name, last_seen, created_at) VALUES (?1, ?2, ?3, ?3)",
                params![id, name, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn touch_admin_session(&self, id: &str, at: i64) -> Result<(), StorageError> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute("UPDATE admin_sessions SET last_seen = ?2 WHERE id = ?1", params![id, at])?;
            Ok(())
        })
        .await
    }

    async fn delete_admin_session(&self, id: &str) -> Result<(), StorageError> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute("DELETE FROM admin_sessions WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }

    async fn start_bulk(&self, owner: &str, orders: &[(OrderId, String)], instance: &str) -> Result<i64, StorageError> {
        let (owner, orders, instance) = (owner.to_owned(), orders.to_vec(), instance.to_owned());
        self.write(move |tx| {
            let at = now();
            tx.execute(
                "INSERT INTO bulk_jobs (owner, created_at, claimed_by, heartbeat_at) VALUES (?1, ?2, ?3, ?2)",
                params![owner, at, instance],
            )?;
            let bulk = tx.last_insert_rowid();
            for (position, (order, number)) in orders.iter().enumerate() {
                tx.execute(
                    "INSERT INTO bulk_items (bulk_id, position, order_id, order_number, outcome) VALUES (?1, ?2, ?3, ?4, 'waiting')
                     ON CONFLICT DO NOTHING",
                    params![bulk, i64::try_from(position).unwrap_or(i64::MAX), order.0, number],
                )?;
            }
            Ok(bulk)
        })
        .await
    }

    async fn record_bulk(&self, bulk: i64, instance: &str, item: &BulkItem) -> Result<bool, StorageError> {
        let (item, instance) = (item.clone(), instance.to_owned());
        self.write(move |tx| {
            let recorded = tx.execute(
                "UPDATE bulk_items SET outcome = ?3, message = ?4
                 WHERE bulk_id = ?1 AND order_id = ?2 AND outcome = 'waiting'
                 AND EXISTS (SELECT 1 FROM bulk_jobs WHERE id = ?1 AND claimed_by = ?5)",
                params![bulk, item.order.0, item.outcome, item.message, instance],
            )?;
            Ok(recorded == 1)
        })
        .await
    }

    async fn bulk(&self, bulk: i64) -> Result<Vec<BulkItem>, StorageError> {
        self.read(move |c| {
            let mut statement = c.prepare(
                "SELECT order_id, order_number, outcome, message FROM bulk_items WHERE bulk_id = ?1 ORDER BY position",
            )?;
            let rows = statement.query_map([bulk], |row| {
                Ok(BulkItem {
                    order: OrderId(row.get(0)?),
                    number: row.get(1)?,
                    outcome: row.get(2)?,
                    message: row.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn bulk_job(&self, bulk: i64) -> Result<Option<BulkJob>, StorageError> {
        self.read(move |c| {
            c.query_row(
                "SELECT id, owner, created_at, claimed_by, heartbeat_at, finished_at FROM bulk_jobs WHERE id = ?1",
                [bulk],
                |row| {
                    Ok(BulkJob {
                        id: row.get(0)?,
                        owner: row.get(1)?,
                        created_at: row.get(2)?,
                        claimed_by: row.get(3)?,
                        heartbeat_at: row.get(4)?,
                        finished_at: row.get(5)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn claim_bulk(&self, bulk: i64, instance: &str, stale_before: i64) -> Result<bool, StorageError> {
        let instance = instance.to_owned();
        self.write(move |tx| {
            let claimed = tx.execute(
                "UPDATE bulk_jobs SET claimed_by = ?2, heartbeat_at = ?4
                 WHERE id = ?1 AND finished_at IS NULL AND (claimed_by IS NULL OR heartbeat_at IS NULL OR heartbeat_at < ?3)",
                params![bulk, instance, stale_before, now()],
            )?;
            Ok(claimed == 1)
        })
        .await
    }

    async fn beat_bulk(&self, bulk: i64, instance: &str) -> Result<bool, StorageError> {
        let instance = instance.to_owned();
        self.write(move |tx| {
            let beaten = tx.execute(
                "UPDATE bulk_jobs SET heartbeat_at = ?3 WHERE id = ?1 AND claimed_by = ?2 AND finished_at IS NULL",
                params![bulk, instance, now()],
            )?;
            Ok(beaten == 1)
        })
        .await
    }

    async fn release_bulk(&self, bulk: i64, instance: &str) -> Result<(), StorageError> {
        let instance = instance.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE bulk_jobs SET claimed_by = NULL, finished_at = CASE WHEN EXISTS
                     (SELECT 1 FROM bulk_items WHERE bulk_id = ?1 AND outcome = 'waiting') THEN NULL ELSE ?3 END
                 WHERE id = ?1 AND claimed_by = ?2",
                params![bulk, instance, now()],
            )?;
            Ok(())
        })
        .await
    }

    async fn subscription_by_permission(
        &self,
        charge_permission_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StorageError> {
        let id = charge_permission_id.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, member_id, amount, next_cycle, charge_permission_id, status FROM subscriptions
                 WHERE charge_permission_id = ?1",
                [id],
                |row| {
                    Ok(SubscriptionRecord {
                        id: SubscriptionId(row.get(0)?),
                        member: row.get::<_, Option<i64>>(1)?.map(MemberId),
                        amount: yen(row.get(2)?),
                        next_cycle: row.get(3)?,
                        charge_permission_id: row.get(4)?,
                        active: row.get::<_, String>(5)? == "active",
                    })
                },
            )
            .optional()
        })
        .await
    }
}

// What the order page reads of an order, as the platform's SQLite implementation read it (moved
// here when that became the shared one in `storage::platform`).

const ORDER_COLUMNS: &str = "id, order_number, member_id, checkout_session_id, subscription_id, cycle, total, \
     recurring, state, charge_permission_id, charge_id, note, created_at, updated_at, cart_id, version, \
     authorized_amount, authorized_at, captured_amount, refunded_amount, plan, refund_requests";

fn bad_column(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, what.to_owned().into())
}

fn order(row: &rusqlite::Row<'_>) -> rusqlite::Result<Order> {
    let subscription: Option<i64> = row.get(4)?;
    let cycle: Option<String> = row.get(5)?;
    let day = |text: &str| time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok();
    let cycle = match (subscription, cycle) {
        (Some(id), Some(text)) => Some((SubscriptionId(id), day(&text).ok_or_else(|| bad_column(5, "cycle"))?)),
        _ => None,
    };
    let state: String = row.get(8)?;
    let plan: Option<String> = row.get(20)?;
    Ok(Order {
        id: OrderId(row.get(0)?),
        number: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
        member: row.get::<_, Option<i64>>(2)?.map(MemberId),
        checkout_session_id: row.get(3)?,
        cycle,
        total: yen(row.get(6)?),
        recurring: row.get(7)?,
        state: OrderState::parse(&state).ok_or_else(|| bad_column(8, "state"))?,
        charge_permission_id: row.get(9)?,
        charge_id: row.get(10)?,
        note: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        cart: row.get::<_, Option<String>>(14)?.map(crate::core::platform::CartId),
        version: row.get(15)?,
        authorized: match (row.get::<_, Option<i64>>(16)?, row.get::<_, Option<i64>>(17)?) {
            (Some(amount), Some(at)) => Some((yen(amount), at)),
            _ => None,
        },
        captured: yen(row.get(18)?),
        refunded: yen(row.get(19)?),
        plan: plan.map(|json| serde_json::from_str(&json).map_err(|_| bad_column(20, "plan"))).transpose()?,
        refund_requests: u32::try_from(row.get::<_, i64>(21)?).map_err(|_| bad_column(21, "refund_requests"))?,
    })
}
