//! Members as the core sees them, and their link to an Amazon account.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Encode, Type};

use crate::core::platform::{LinkRefusal, Member, MemberId, Members, PlatformError};
use crate::storage::StorageError;
use crate::storage::Store;
use crate::storage::rows::now;
use crate::storage::sql::{Fields, Sql};

const MEMBER_SELECT: &str = "SELECT m.id, m.family_name || ' ' || m.given_name, m.email, l.buyer_id
     FROM members m LEFT JOIN amazon_links l ON l.member_id = m.id";

fn member(row: &AnyRow) -> Result<Member, StorageError> {
    Ok(Member { id: MemberId(row.int(0)?), name: row.text(1)?, email: row.text(2)?, buyer_id: row.opt_text(3)? })
}

/// The member of shop `shop` that `condition` (on `$1`, bound to `value`) finds.
async fn member_where<V>(sql: &Sql, shop: i64, condition: &str, value: V) -> Result<Option<Member>, StorageError>
where
    V: for<'t> Encode<'t, Any> + Type<Any> + Send,
{
    sql.run(async {
        // The condition is this module's own text, never input.
        let statement = sqlx::AssertSqlSafe(format!("{MEMBER_SELECT} WHERE {condition} AND m.shop_id = $2"));
        let row = sqlx::query(statement).bind(value).bind(shop).fetch_optional(&mut *sql.reader().await?).await?;
        row.as_ref().map(member).transpose()
    })
    .await
}

#[async_trait]
impl Members for Store {
    async fn member(&self, id: MemberId) -> Result<Option<Member>, PlatformError> {
        Ok(member_where(self.sql(), self.shop_id(), "m.id = $1", id.0).await?)
    }

    async fn member_by_buyer(&self, buyer_id: &str) -> Result<Option<Member>, PlatformError> {
        Ok(member_where(self.sql(), self.shop_id(), "l.buyer_id = $1", buyer_id.to_owned()).await?)
    }

    async fn member_by_email(&self, email: &str) -> Result<Option<Member>, PlatformError> {
        let sql = self.sql();
        Ok(member_where(sql, self.shop_id(), sql.dialect().member_email_is(), email.to_owned()).await?)
    }

    async fn link(&self, member: MemberId, buyer_id: &str) -> Result<Result<(), LinkRefusal>, PlatformError> {
        let (sql, shop) = (self.sql(), self.shop_id());
        Ok(sql
            .run(async {
                let mut tx = sql.begin().await?;
                // Both keys are unique: of two instances linking at once, one inserts and the
                // other (waiting for the first) finds out which key was taken. Only this shop's
                // member is linked.
                let inserted = sqlx::query(
                    "INSERT INTO amazon_links (member_id, buyer_id, linked_at, shop_id)
                     SELECT id, $2, $3, shop_id FROM members WHERE id = $1 AND shop_id = $4
                     ON CONFLICT DO NOTHING",
                )
                .bind(member.0)
                .bind(buyer_id)
                .bind(now())
                .bind(shop)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 1 {
                    tx.commit().await?;
                    return Ok(Ok(()));
                }
                let linked = sqlx::query("SELECT 1 FROM amazon_links WHERE member_id = $1 AND shop_id = $2")
                    .bind(member.0)
                    .bind(shop)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Err(if linked.is_some() { LinkRefusal::MemberLinked } else { LinkRefusal::BuyerTaken }))
            })
            .await?)
    }

    async fn unlink(&self, member: MemberId) -> Result<bool, PlatformError> {
        let sql = self.sql();
        Ok(sql
            .run(async {
                let deleted = sqlx::query("DELETE FROM amazon_links WHERE member_id = $1 AND shop_id = $2")
                    .bind(member.0)
                    .bind(self.shop_id())
                    .execute(&mut *sql.writer().await?)
                    .await?
                    .rows_affected();
                Ok(deleted == 1)
            })
            .await?)
    }
}
