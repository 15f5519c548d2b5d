//! Subscriptions (定期購入) as the core sees them: which are due, what a month charged, the end.

use async_trait::async_trait;
use time::Date;

use crate::core::orders::OrderState;
use crate::core::platform::{MemberId, PlatformError, Subscription, SubscriptionId, Subscriptions};
use crate::storage::StorageError;
use crate::storage::Store;
use crate::storage::rows::{bad_column, parse_date, plan};
use crate::storage::sql::Fields;

#[async_trait]
impl Subscriptions for Store {
    async fn due_subscriptions(&self, day: Date) -> Result<Vec<Subscription>, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                sqlx::query(
                    "SELECT id, member_id, charge_permission_id, amount, next_cycle, plan FROM subscriptions
                     WHERE status = 'active' AND next_cycle <= $1 AND shop_id = $2 ORDER BY id",
                )
                .bind(day.to_string())
                .bind(self.shop_id())
                .fetch_all(&mut *sql.reader().await?)
                .await?
                .iter()
                .map(|row| {
                    Ok(Subscription {
                        id: SubscriptionId(row.int(0)?),
                        member: row.opt_int(1)?.map(MemberId),
                        charge_permission_id: row.text(2)?,
                        amount: row.yen(3)?,
                        next_cycle: parse_date(&row.text(4)?).ok_or_else(|| bad_column("next_cycle"))?,
                        plan: plan(row.opt_text(5)?)?,
                    })
                })
                .collect::<Result<_, StorageError>>()
            })
            .await?)
    }

    async fn charged_in_month(&self, id: SubscriptionId, year: i32, month: u8) -> Result<u64, PlatformError> {
        let month = format!("{year:04}-{month:02}");
        let counted = [OrderState::Pending, OrderState::Authorized, OrderState::Capturing, OrderState::Captured]
            .map(OrderState::name);
        let sql = self.sql();
        Ok(sql
            .run(async {
                sqlx::query(
                    "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM orders
                     WHERE subscription_id = $1 AND substr(cycle, 1, 7) = $2 AND state IN ($3, $4, $5, $6)
                       AND shop_id = $7",
                )
                .bind(id.0)
                .bind(month)
                .bind(counted[0])
                .bind(counted[1])
                .bind(counted[2])
                .bind(counted[3])
                .bind(self.shop_id())
                .fetch_one(&mut *sql.reader().await?)
                .await?
                .yen(0)
            })
            .await?)
    }

    async fn end_subscription(&self, charge_permission_id: &str) -> Result<bool, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                let ended = sqlx::query(
                    "UPDATE subscriptions SET status = 'canceled'
                     WHERE charge_permission_id = $1 AND status = 'active' AND shop_id = $2",
                )
                .bind(charge_permission_id)
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?
                .rows_affected();
                Ok(ended > 0)
            })
            .await?)
    }
}
