//! What keeps the shop's doors, on PostgreSQL, for every instance at once: a notification claimed
//! by one instance and recorded handled only after it was, the SNS topics notifications came
//! from, and login attempts counted in one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, which
//! PostgreSQL applies to the newest row after a concurrent writer commits (so parallel attempts
//! on several instances are counted one by one).

use async_trait::async_trait;

use super::Postgres;
use crate::storage::{Claimed, IPN_TOPICS_KEPT, NotificationClaim, Safeguards, SeenTopic, StorageError};

#[async_trait]
impl Safeguards for Postgres {
    async fn claim_notification(&self, claim: &NotificationClaim) -> Result<Claimed, StorageError> {
        self.run(async {
            let mut client = self.client().await?;
            // One transaction, as on SQLite: a conflicting row that is not taken over stays locked
            // by the INSERT … ON CONFLICT DO UPDATE until the end, so the state read next is the
            // one that refused the claim (never a row given up or finished in between).
            let transaction = client.transaction().await?;
            // New, or a claim that lapsed (its instance stopped half-way): this request's now.
            let mine = transaction
                .query_opt(
                    &transaction
                        .prepare_cached(
                            "INSERT INTO notifications AS n
                                 (notification_id, object_type, object_id, received_at, state, claim_token, claimed_until)
                             VALUES ($1, $2, $3, $4, 'handling', $5, $6)
                             ON CONFLICT (notification_id) DO UPDATE SET
                                 claim_token = excluded.claim_token, claimed_until = excluded.claimed_until
                             WHERE n.state = 'handling' AND n.claimed_until < $4
                             RETURNING n.notification_id",
                        )
                        .await?,
                    &[&claim.id, &claim.object_type, &claim.object_id, &claim.at, &claim.token, &claim.until],
                )
                .await?;
            if mine.is_some() {
                transaction.commit().await?;
                return Ok(Claimed::Mine);
            }
            let state = transaction
                .query_opt(
                    &transaction.prepare_cached("SELECT state FROM notifications WHERE notification_id = $1").await?,
                    &[&claim.id],
                )
                .await?
                .map(|row| row.try_get::<_, String>(0))
                .transpose()?;
            transaction.commit().await?;
            Ok(if state.as_deref() == Some("handled") { Claimed::Handled } else { Claimed::Busy })
        })
        .await
    }

    async fn finish_notification(&self, id: &str, token: &str, at: i64) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute(
                    &client
                        .prepare_cached(
                            "UPDATE notifications SET state = 'handled', handled_at = $3, claim_token = NULL,
                                 claimed_until = NULL
                             WHERE notification_id = $1 AND claim_token = $2",
                        )
                        .await?,
                    &[&id, &token, &at],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn release_notification(&self, id: &str, token: &str) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute(
                    &client
                        .prepare_cached(
                            "DELETE FROM notifications
                             WHERE notification_id = $1 AND state = 'handling' AND claim_token = $2",
                        )
                        .await?,
                    &[&id, &token],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn purge_notifications(&self, before: i64) -> Result<usize, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let purged = client
                .execute(
                    &client
                        .prepare_cached(
                            "DELETE FROM notifications WHERE COALESCE(handled_at, claimed_until, received_at) < $1",
                        )
                        .await?,
                    &[&before],
                )
                .await?;
            Ok(usize::try_from(purged).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn see_ipn_topic(&self, scope: &str, topic: &str, at: i64, confirmed: bool) -> Result<bool, StorageError> {
        self.run(async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            // `xmax = 0`: the row was inserted by this statement, not updated.
            let new: bool = transaction
                .query_one(
                    &transaction
                        .prepare_cached(
                            "INSERT INTO ipn_topics AS t (scope, topic_arn, first_seen, last_seen, last_confirmed)
                             VALUES ($1, $2, $3::BIGINT, $3::BIGINT, CASE WHEN $4::BOOLEAN THEN $3::BIGINT END)
                             ON CONFLICT (scope, topic_arn) DO UPDATE SET
                                 first_seen = LEAST(t.first_seen, excluded.first_seen),
                                 last_seen = GREATEST(t.last_seen, excluded.last_seen),
                                 last_confirmed = CASE WHEN $4::BOOLEAN THEN GREATEST(t.last_confirmed, $3::BIGINT)
                                                       ELSE t.last_confirmed END
                             RETURNING (xmax = 0)",
                        )
                        .await?,
                    &[&scope, &topic, &at, &confirmed],
                )
                .await?
                .try_get(0)?;
            if new {
                transaction
                    .execute(
                        &transaction
                            .prepare_cached(
                                "DELETE FROM ipn_topics WHERE scope = $1 AND topic_arn NOT IN
                                     (SELECT topic_arn FROM ipn_topics WHERE scope = $1
                                      ORDER BY last_seen DESC, topic_arn LIMIT $2)",
                            )
                            .await?,
                        &[&scope, &i64::try_from(IPN_TOPICS_KEPT).unwrap_or(i64::MAX)],
                    )
                    .await?;
            }
            transaction.commit().await?;
            Ok(new)
        })
        .await
    }

    async fn ipn_topics(&self, scope: &str) -> Result<Vec<SeenTopic>, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    &client
                        .prepare_cached(
                            "SELECT topic_arn, first_seen, last_seen, last_confirmed FROM ipn_topics WHERE scope = $1
                             ORDER BY last_seen DESC, topic_arn",
                        )
                        .await?,
                    &[&scope],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(SeenTopic {
                        topic_arn: row.try_get(0)?,
                        first_seen: row.try_get(1)?,
                        last_seen: row.try_get(2)?,
                        last_confirmed: row.try_get(3)?,
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
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client
                        .prepare_cached(
                            "INSERT INTO login_attempts AS a (subject, attempts, since) VALUES ($1, 1, $2)
                             ON CONFLICT (subject) DO UPDATE SET
                                 attempts = CASE WHEN a.since <= $2 - $3 THEN 1 ELSE a.attempts + 1 END,
                                 since = CASE WHEN a.since <= $2 - $3 THEN $2 ELSE a.since END
                             WHERE a.since <= $2 - $3 OR a.attempts < $4
                             RETURNING a.since",
                        )
                        .await?,
                    &[&subject, &at, &window, &i64::from(max)],
                )
                .await?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        })
        .await
    }

    async fn uncount_login_attempt(&self, subject: &str, since: i64) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute(
                    &client
                        .prepare_cached(
                            "UPDATE login_attempts SET attempts = attempts - 1
                             WHERE subject = $1 AND since = $2 AND attempts > 0",
                        )
                        .await?,
                    &[&subject, &since],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn clear_login_attempts(&self, subject: &str) -> Result<(), StorageError> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute(&client.prepare_cached("DELETE FROM login_attempts WHERE subject = $1").await?, &[&subject])
                .await?;
            Ok(())
        })
        .await
    }

    async fn login_attempts(&self, subject: &str) -> Result<(u32, i64), StorageError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    &client.prepare_cached("SELECT attempts, since FROM login_attempts WHERE subject = $1").await?,
                    &[&subject],
                )
                .await?;
            Ok(match row {
                Some(row) => {
                    let attempts: i64 = row.try_get(0)?;
                    (u32::try_from(attempts).unwrap_or(u32::MAX), row.try_get(1)?)
                }
                None => (0, 0),
            })
        })
        .await
    }

    async fn purge_login_attempts(&self, before: i64) -> Result<usize, StorageError> {
        self.run(async {
            let client = self.client().await?;
            let purged = client
                .execute(&client.prepare_cached("DELETE FROM login_attempts WHERE since < $1").await?, &[&before])
                .await?;
            Ok(usize::try_from(purged).unwrap_or(usize::MAX))
        })
        .await
    }
}
