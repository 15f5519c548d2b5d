//! What keeps the shop's doors, on SQLite: Amazon's notifications claimed before and recorded
//! after they are handled, the SNS topics they come from, and login attempts counted before the
//! password is checked. Each is one statement (or one transaction) on the single writer.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::storage::{Claimed, IPN_TOPICS_KEPT, NotificationClaim, Safeguards, SeenTopic, StorageError};

#[async_trait]
impl Safeguards for Sqlite {
    async fn claim_notification(&self, claim: &NotificationClaim) -> Result<Claimed, StorageError> {
        let claim = claim.clone();
        self.write(move |tx| {
            // New, or a claim that lapsed (its instance stopped half-way): this request's now.
            let mine = tx
                .query_row(
                    "INSERT INTO notifications
                         (notification_id, object_type, object_id, received_at, state, claim_token, claimed_until)
                     VALUES (?1, ?2, ?3, ?4, 'handling', ?5, ?6)
                     ON CONFLICT (notification_id) DO UPDATE SET
                         claim_token = excluded.claim_token, claimed_until = excluded.claimed_until
                     WHERE notifications.state = 'handling' AND notifications.claimed_until < ?4
                     RETURNING notification_id",
                    params![claim.id, claim.object_type, claim.object_id, claim.at, claim.token, claim.until],
                    |_| Ok(()),
                )
                .optional()?;
            if mine.is_some() {
                return Ok(Claimed::Mine);
            }
            let state: Option<String> = tx
                .query_row("SELECT state FROM notifications WHERE notification_id = ?1", [&claim.id], |row| row.get(0))
                .optional()?;
            Ok(if state.as_deref() == Some("handled") { Claimed::Handled } else { Claimed::Busy })
        })
        .await
    }

    async fn finish_notification(&self, id: &str, token: &str, at: i64) -> Result<(), StorageError> {
        let (id, token) = (id.to_owned(), token.to_owned());
        self.write(move |tx| {
            tx.execute(
                "UPDATE notifications SET state = 'handled', handled_at = ?3, claim_token = NULL, claimed_until = NULL
                 WHERE notification_id = ?1 AND claim_token = ?2",
                params![id, token, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn release_notification(&self, id: &str, token: &str) -> Result<(), StorageError> {
        let (id, token) = (id.to_owned(), token.to_owned());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM notifications WHERE notification_id = ?1 AND state = 'handling' AND claim_token = ?2",
                params![id, token],
            )?;
            Ok(())
        })
        .await
    }

    async fn purge_notifications(&self, before: i64) -> Result<usize, StorageError> {
        self.write(move |tx| {
            Ok(tx.execute(
                "DELETE FROM notifications WHERE COALESCE(handled_at, claimed_until, received_at) < ?1",
                [before],
            )?)
        })
        .await
    }

    async fn see_ipn_topic(&self, scope: &str, topic: &str, at: i64, confirmed: bool) -> Result<bool, StorageError> {
        let (scope, topic) = (scope.to_owned(), topic.to_owned());
        self.write(move |tx| {
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM ipn_topics WHERE scope = ?1 AND topic_arn = ?2)",
                params![scope, topic],
                |row| row.get(0),
            )?;
            tx.execute(
                "INSERT INTO ipn_topics (scope, topic_arn, first_seen, last_seen, last_confirmed)
                 VALUES (?1, ?2, ?3, ?3, CASE WHEN ?4 THEN ?3 END)
                 ON CONFLICT (scope, topic_arn) DO UPDATE SET
                     first_seen = min(ipn_topics.first_seen, excluded.first_seen),
                     last_seen = max(ipn_topics.last_seen, excluded.last_seen),
                     last_confirmed = CASE WHEN ?4 THEN max(coalesce(ipn_topics.last_confirmed, ?3), ?3)
                                           ELSE ipn_topics.last_confirmed END",
                params![scope, topic, at, confirmed],
            )?;
            if !known {
                tx.execute(
                    "DELETE FROM ipn_topics WHERE scope = ?1 AND topic_arn NOT IN
                         (SELECT topic_arn FROM ipn_topics WHERE scope = ?1 ORDER BY last_seen DESC, topic_arn LIMIT ?2)",
                    params![scope, i64::try_from(IPN_TOPICS_KEPT).unwrap_or(i64::MAX)],
                )?;
            }
            Ok(!known)
        })
        .await
    }

    async fn ipn_topics(&self, scope: &str) -> Result<Vec<SeenTopic>, StorageError> {
        let scope = scope.to_owned();
        self.read(move |c| {
            c.prepare(
                "SELECT topic_arn, first_seen, last_seen, last_confirmed FROM ipn_topics WHERE scope = ?1
                 ORDER BY last_seen DESC, topic_arn",
            )?
            .query_map([scope], |row| {
                Ok(SeenTopic {
                    topic_arn: row.get(0)?,
                    first_seen: row.get(1)?,
                    last_seen: row.get(2)?,
                    last_confirmed: row.get(3)?,
                })
            })?
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
        let subject = subject.to_owned();
        self.write(move |tx| {
            // One statement: whoever else tries the same subject at this moment waits for the
            // writer and then sees this attempt counted.
            Ok(tx
                .query_row(
                    "INSERT INTO login_attempts (subject, attempts, since) VALUES (?1, 1, ?2)
                     ON CONFLICT (subject) DO UPDATE SET
                         attempts = CASE WHEN login_attempts.since <= ?2 - ?3 THEN 1
                                         ELSE login_attempts.attempts + 1 END,
                         since = CASE WHEN login_attempts.since <= ?2 - ?3 THEN ?2 ELSE login_attempts.since END
                     WHERE login_attempts.since <= ?2 - ?3 OR login_attempts.attempts < ?4
                     RETURNING since",
                    params![subject, at, window, i64::from(max)],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn uncount_login_attempt(&self, subject: &str, since: i64) -> Result<(), StorageError> {
        let subject = subject.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE login_attempts SET attempts = attempts - 1 WHERE subject = ?1 AND since = ?2 AND attempts > 0",
                params![subject, since],
            )?;
            Ok(())
        })
        .await
    }

    async fn clear_login_attempts(&self, subject: &str) -> Result<(), StorageError> {
        let subject = subject.to_owned();
        self.write(move |tx| {
            tx.execute("DELETE FROM login_attempts WHERE subject = ?1", [subject])?;
            Ok(())
        })
        .await
    }

    async fn login_attempts(&self, subject: &str) -> Result<(u32, i64), StorageError> {
        let subject = subject.to_owned();
        self.read(move |c| {
            let found: Option<(i64, i64)> = c
                .query_row("SELECT attempts, since FROM login_attempts WHERE subject = ?1", [subject], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            Ok(found.map_or((0, 0), |(attempts, since)| (u32::try_from(attempts).unwrap_or(u32::MAX), since)))
        })
        .await
    }

    async fn purge_login_attempts(&self, before: i64) -> Result<usize, StorageError> {
        self.write(move |tx| Ok(tx.execute("DELETE FROM login_attempts WHERE since < ?1", [before])?)).await
    }
}
