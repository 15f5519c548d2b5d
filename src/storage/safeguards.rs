//! What keeps the shop's doors, for every instance at once: Amazon's notifications claimed by one
//! instance before and recorded handled only after they were, the SNS topics notifications came
//! from, and login attempts counted before the password is checked.
//!
//! Written for concurrent writers (PostgreSQL; SQLite runs the same statements one writer at a
//! time): login attempts are counted in one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, which
//! PostgreSQL applies to the newest row after a concurrent writer commits, so parallel attempts on
//! several instances are counted one by one (on SQLite, whoever else tries the same subject waits
//! for the writer and then sees this attempt counted). A topic is new to the one instance whose
//! `INSERT … ON CONFLICT DO NOTHING` inserted it: another inserting it at the same moment waits
//! for that one to commit and finds it there.

use async_trait::async_trait;

use super::Store;
use super::sql::{Fields, count};
use super::{
    Claimed, IPN_TOPICS_KEPT, LoginAttempts, NotificationClaim, NotificationHealth, Safeguards, SeenTopic, StorageError,
};

#[async_trait]
impl Safeguards for Store {
    async fn claim_notification(&self, claim: &NotificationClaim) -> Result<Claimed, StorageError> {
        let sql = self.sql();
        sql.run(async {
            // One transaction: a conflicting row that is not taken over stays locked by the
            // INSERT … ON CONFLICT DO UPDATE until the end (on SQLite, the writer is held), so the
            // state read next is the one that refused the claim (never a row given up or finished
            // in between).
            let mut tx = sql.begin().await?;
            // New, or a claim that lapsed (its instance stopped half-way): this request's now.
            let mine = sqlx::query(
                "INSERT INTO notifications AS n
                     (notification_id, object_type, object_id, received_at, state, claim_token, claimed_until, shop_id)
                 VALUES ($1, $2, $3, $4, 'handling', $5, $6, $7)
                 ON CONFLICT (shop_id, notification_id) DO UPDATE SET
                     claim_token = excluded.claim_token, claimed_until = excluded.claimed_until
                 WHERE n.state = 'handling' AND n.claimed_until < $4
                 RETURNING notification_id",
            )
            .bind(&claim.id)
            .bind(&claim.object_type)
            .bind(&claim.object_id)
            .bind(claim.at)
            .bind(&claim.token)
            .bind(claim.until)
            .bind(self.shop_id())
            .fetch_optional(&mut *tx)
            .await?;
            if mine.is_some() {
                tx.commit().await?;
                return Ok(Claimed::Mine);
            }
            let state = sqlx::query("SELECT state FROM notifications WHERE notification_id = $1 AND shop_id = $2")
                .bind(&claim.id)
                .bind(self.shop_id())
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.text(0))
                .transpose()?;
            tx.commit().await?;
            Ok(if state.as_deref() == Some("handled") { Claimed::Handled } else { Claimed::Busy })
        })
        .await
    }

    async fn finish_notification(&self, id: &str, token: &str, at: i64) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "UPDATE notifications SET state = 'handled', handled_at = $3, claim_token = NULL,
                     claimed_until = NULL
                 WHERE notification_id = $1 AND claim_token = $2 AND shop_id = $4",
            )
            .bind(id)
            .bind(token)
            .bind(at)
            .bind(self.shop_id())
            .execute(&mut *sql.writer().await?)
            .await?;
            Ok(())
        })
        .await
    }

    async fn release_notification(&self, id: &str, token: &str) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "DELETE FROM notifications
                 WHERE notification_id = $1 AND state = 'handling' AND claim_token = $2 AND shop_id = $3",
            )
            .bind(id)
            .bind(token)
            .bind(self.shop_id())
            .execute(&mut *sql.writer().await?)
            .await?;
            Ok(())
        })
        .await
    }

    async fn purge_notifications(&self, before: i64) -> Result<usize, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let purged =
                sqlx::query("DELETE FROM notifications WHERE COALESCE(handled_at, claimed_until, received_at) < $1")
                    .bind(before)
                    .execute(&mut *sql.writer().await?)
                    .await?;
            Ok(count(purged.rows_affected()))
        })
        .await
    }

    async fn see_ipn_topic(&self, scope: &str, topic: &str, at: i64, confirmed: bool) -> Result<bool, StorageError> {
        let (sql, shop) = (self.sql(), self.shop_id());
        sql.run(async {
            let mut tx = sql.begin().await?;
            // Whether this statement inserted the row: the one instance that did says the topic
            // is new (PostgreSQL once said so with `RETURNING (xmax = 0)`, which SQLite lacks).
            let new = sqlx::query(
                "INSERT INTO ipn_topics (scope, topic_arn, first_seen, last_seen, last_confirmed, shop_id)
                 VALUES ($1, $2, $3, $3, CASE WHEN $4 THEN $3 END, $5)
                 ON CONFLICT (shop_id, scope, topic_arn) DO NOTHING
                 RETURNING topic_arn",
            )
            .bind(scope)
            .bind(topic)
            .bind(at)
            .bind(confirmed)
            .bind(shop)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if new {
                // The oldest go (only a new topic makes too many).
                sqlx::query(
                    "DELETE FROM ipn_topics WHERE scope = $1 AND shop_id = $3 AND topic_arn NOT IN
                         (SELECT topic_arn FROM ipn_topics WHERE scope = $1 AND shop_id = $3
                          ORDER BY last_seen DESC, topic_arn LIMIT $2)",
                )
                .bind(scope)
                .bind(i64::try_from(IPN_TOPICS_KEPT).unwrap_or(i64::MAX))
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            } else {
                // Known: seen again (late news changes nothing). An upsert, not an UPDATE: should
                // another instance have dropped the row as the oldest in the meantime, it is back.
                // The larger/smaller of two spelled out: SQLite's max/min and PostgreSQL's
                // GREATEST/LEAST disagree on NULL.
                sqlx::query(
                    "INSERT INTO ipn_topics AS t (scope, topic_arn, first_seen, last_seen, last_confirmed, shop_id)
                     VALUES ($1, $2, $3, $3, CASE WHEN $4 THEN $3 END, $5)
                     ON CONFLICT (shop_id, scope, topic_arn) DO UPDATE SET
                         first_seen = CASE WHEN t.first_seen < excluded.first_seen THEN t.first_seen
                                           ELSE excluded.first_seen END,
                         last_seen = CASE WHEN t.last_seen > excluded.last_seen THEN t.last_seen
                                          ELSE excluded.last_seen END,
                         last_confirmed = CASE WHEN $4 THEN
                                                   CASE WHEN t.last_confirmed > $3 THEN t.last_confirmed ELSE $3 END
                                               ELSE t.last_confirmed END",
                )
                .bind(scope)
                .bind(topic)
                .bind(at)
                .bind(confirmed)
                .bind(shop)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(new)
        })
        .await
    }

    async fn notification_health(&self) -> Result<NotificationHealth, StorageError> {
        let sql = self.sql();
        sql.run(async {
            // One statement: the last notification and the reconciler's moves after it, as of
            // one moment.
            let row = sqlx::query(
                "SELECT (SELECT MAX(received_at) FROM notifications WHERE shop_id = $1),
                        (SELECT count(*) FROM order_events e WHERE e.shop_id = $1 AND e.actor = $2
                            AND e.from_state IS NOT NULL AND e.from_state <> e.to_state
                            AND e.at > COALESCE((SELECT MAX(received_at) FROM notifications WHERE shop_id = $1), 0))",
            )
            .bind(self.shop_id())
            .bind(crate::core::orders::Actor::Reconciler.label())
            .fetch_one(&mut *sql.reader().await?)
            .await?;
            Ok(NotificationHealth { last_received: row.opt_int(0)?, unannounced: row.int(1)?.max(0).unsigned_abs() })
        })
        .await
    }

    async fn ipn_topics(&self, scope: &str) -> Result<Vec<SeenTopic>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "SELECT topic_arn, first_seen, last_seen, last_confirmed FROM ipn_topics WHERE scope = $1 AND shop_id = $2
                 ORDER BY last_seen DESC, topic_arn",
            )
            .bind(scope)
            .bind(self.shop_id())
            .fetch_all(&mut *sql.reader().await?)
            .await?
            .iter()
            .map(|row| {
                Ok(SeenTopic {
                    topic_arn: row.text(0)?,
                    first_seen: row.int(1)?,
                    last_seen: row.int(2)?,
                    last_confirmed: row.opt_int(3)?,
                })
            })
            .collect()
        })
        .await
    }

    async fn count_login_attempt(
        &self,
        subject: &str,
        at: i64,
        window: i64,
        max: u32,
    ) -> Result<Option<i64>, StorageError> {
        let sql = self.sql();
        sql.run(async {
            // One statement (see the header): counted, or refused when the window is full.
            // RETURNING names the column bare: SQLite knows no alias there.
            let row = sqlx::query(
                "INSERT INTO login_attempts AS a (subject, attempts, since, shop_id) VALUES ($1, 1, $2, $5)
                 ON CONFLICT (shop_id, subject) DO UPDATE SET
                     attempts = CASE WHEN a.since <= $2 - $3 THEN 1 ELSE a.attempts + 1 END,
                     since = CASE WHEN a.since <= $2 - $3 THEN $2 ELSE a.since END
                 WHERE a.since <= $2 - $3 OR a.attempts < $4
                 RETURNING since",
            )
            .bind(subject)
            .bind(at)
            .bind(window)
            .bind(i64::from(max))
            .bind(self.shop_id())
            .fetch_optional(&mut *sql.writer().await?)
            .await?;
            let since = row.map(|row| row.int(0)).transpose()?;
            Ok(since)
        })
        .await
    }

    async fn uncount_login_attempt(&self, subject: &str, since: i64) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query(
                "UPDATE login_attempts SET attempts = attempts - 1
                 WHERE subject = $1 AND since = $2 AND attempts > 0 AND shop_id = $3",
            )
            .bind(subject)
            .bind(since)
            .bind(self.shop_id())
            .execute(&mut *sql.writer().await?)
            .await?;
            Ok(())
        })
        .await
    }

    async fn clear_login_attempts(&self, subject: &str) -> Result<(), StorageError> {
        let sql = self.sql();
        sql.run(async {
            sqlx::query("DELETE FROM login_attempts WHERE subject = $1 AND shop_id = $2")
                .bind(subject)
                .bind(self.shop_id())
                .execute(&mut *sql.writer().await?)
                .await?;
            Ok(())
        })
        .await
    }

    async fn login_attempts(&self, subject: &str) -> Result<LoginAttempts, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let row = sqlx::query("SELECT attempts, since FROM login_attempts WHERE subject = $1 AND shop_id = $2")
                .bind(subject)
                .bind(self.shop_id())
                .fetch_optional(&mut *sql.reader().await?)
                .await?;
            Ok(match row {
                Some(row) => {
                    LoginAttempts { count: u32::try_from(row.int(0)?).unwrap_or(u32::MAX), since: row.int(1)? }
                }
                None => LoginAttempts::default(),
            })
        })
        .await
    }

    async fn purge_login_attempts(&self, before: i64) -> Result<usize, StorageError> {
        let sql = self.sql();
        sql.run(async {
            let purged = sqlx::query("DELETE FROM login_attempts WHERE since < $1")
                .bind(before)
                .execute(&mut *sql.writer().await?)
                .await?;
            Ok(count(purged.rows_affected()))
        })
        .await
    }
}
