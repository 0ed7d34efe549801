//! The queries, shared by both backends.

use async_trait::async_trait;
use paymux_core::ids::{MerchantId, PlatformId};
use paymux_core::notification::{DeliveryRecord, Notification, NotificationStatus};
use paymux_core::order::{Attempt, AttemptStatus, Order, OrderStatus, REFUNDABLE_STATUSES};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::store::{
    AttemptSettlement, OrderClosing, OrderKey, RefundKey, RefundOrderUpdate, RefundSettlement,
    Store, StoreError,
};
use paymux_core::time::Millis;
use sqlx::any::AnyArguments;
use sqlx::any::AnyRow;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::batch::OrderInserter;
use crate::{Backend, db, rows};

pub struct SqlStore {
    backend: Backend,
    /// SQLite: the one connection that writes. PostgreSQL: the pool.
    writer: AnyPool,
    /// SQLite: readers beside the writer. PostgreSQL: the same pool.
    reader: AnyPool,
    inserter: OrderInserter,
}

impl SqlStore {
    pub(crate) fn new(backend: Backend, writer: AnyPool, reader: AnyPool) -> SqlStore {
        SqlStore {
            inserter: OrderInserter::start(backend, writer.clone()),
            backend,
            writer,
            reader,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pools(&self) -> (&AnyPool, &AnyPool) {
        (&self.writer, &self.reader)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        match self.backend {
            // Take the write lock up front: a deferred transaction that reads first and
            // writes later can fail to upgrade its lock.
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db),
            Backend::Postgres => self.writer.begin().await.map_err(db),
        }
    }
}

/// Which business key a unique violation is about. PostgreSQL names the constraint;
/// SQLite names the columns.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<StoreError> {
    let sqlx::Error::Database(dbe) = e else {
        return None;
    };
    if !matches!(dbe.kind(), sqlx::error::ErrorKind::UniqueViolation) {
        return None;
    }
    let named = |constraint: &str, columns: &str| {
        dbe.constraint() == Some(constraint) || dbe.message().contains(columns)
    };
    if named(
        "orders_merchant_order_no_key",
        "orders.merchant_id, orders.merchant_order_no",
    ) {
        Some(StoreError::DuplicateOrderNo)
    } else if named(
        "refunds_refund_no_key",
        "refunds.merchant_id, refunds.refund_no",
    ) {
        Some(StoreError::DuplicateRefundNo)
    } else if named(
        "refunds_request_no_key",
        "refunds.merchant_id, refunds.request_no",
    ) {
        Some(StoreError::DuplicateRequestNo)
    } else {
        None
    }
}

pub(crate) fn write_error(e: sqlx::Error) -> StoreError {
    unique_violation(&e).unwrap_or_else(|| db(e))
}

fn json_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

fn all<T>(
    rows: Vec<AnyRow>,
    map: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}

pub(crate) const ORDER_COLUMNS: &[&str] = &[
    "id",
    "merchant_id",
    "merchant_order_no",
    "dialect",
    "pay_way",
    "channel",
    "amount",
    "currency",
    "subject",
    "body",
    "status",
    "notify_url",
    "return_url",
    "client_ip",
    "extra",
    "channel_trade_no",
    "channel_user",
    "refund_reserved",
    "refunded",
    "created_at",
    "updated_at",
    "expires_at",
    "paid_at",
    "closed_at",
    "merchant_acked_at",
    "fail_code",
    "fail_msg",
];

pub(crate) const ATTEMPT_COLUMNS: &[&str] = &[
    "order_id",
    "seq",
    "channel",
    "pay_way",
    "status",
    "auth_code",
    "channel_trade_no",
    "channel_user",
    "created_at",
    "finished_at",
    "next_check_at",
    "fail_code",
    "fail_msg",
];

const INSERT_REFUND: &str = "INSERT INTO refunds (id, merchant_id, order_id, attempt_seq, dialect, refund_no, \
     request_no, amount, reason, status, automatic, channel_refund_no, fail_reason, extra, created_at, \
     updated_at, finished_at, next_check_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17)";

const INSERT_NOTIFICATION: &str = "INSERT INTO notifications (id, merchant_id, dialect, event, subject_id, url, \
     status, attempts, next_attempt_at, created_at, delivered_at, last_error) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

pub(crate) type AnyQuery = Query<'static, Any, AnyArguments>;

/// Binds one order's values in the order of `ORDER_COLUMNS`.
pub(crate) fn bind_order(q: AnyQuery, o: &Order) -> AnyQuery {
    q.bind(o.id.as_str().to_owned())
        .bind(o.merchant_id.as_str().to_owned())
        .bind(o.merchant_order_no.as_str().to_owned())
        .bind(o.dialect.as_str())
        .bind(o.pay_way.to_string())
        .bind(o.channel.clone())
        .bind(o.amount.get())
        .bind(o.currency.clone())
        .bind(o.subject.clone())
        .bind(o.body.clone())
        .bind(o.status.as_str())
        .bind(o.notify_url.as_ref().map(|u| u.as_str().to_owned()))
        .bind(o.return_url.clone())
        .bind(o.client_ip.clone())
        .bind(json_text(&o.extra))
        .bind(o.channel_trade_no.clone())
        .bind(o.channel_user.clone())
        .bind(o.refund_reserved.get())
        .bind(o.refunded.get())
        .bind(o.created_at.0)
        .bind(o.created_at.0)
        .bind(o.expires_at.0)
        .bind(o.paid_at.map(|m| m.0))
        .bind(o.closed_at.map(|m| m.0))
        .bind(o.merchant_acked_at.map(|m| m.0))
        .bind(o.fail_code.clone())
        .bind(o.fail_msg.clone())
}

/// Binds one attempt's values in the order of `ATTEMPT_COLUMNS`.
pub(crate) fn bind_attempt(q: AnyQuery, a: &Attempt) -> AnyQuery {
    q.bind(a.order_id.as_str().to_owned())
        .bind(i64::from(a.seq))
        .bind(a.channel.clone())
        .bind(a.pay_way.to_string())
        .bind(a.status.as_str())
        .bind(a.auth_code.clone())
        .bind(a.channel_trade_no.clone())
        .bind(a.channel_user.clone())
        .bind(a.created_at.0)
        .bind(a.finished_at.map(|m| m.0))
        .bind(a.next_check_at.map(|m| m.0))
        .bind(a.fail_code.clone())
        .bind(a.fail_msg.clone())
}

async fn insert_refund_row(
    tx: &mut Transaction<'static, Any>,
    r: &Refund,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_REFUND)
        .bind(r.id.as_str().to_owned())
        .bind(r.merchant_id.as_str().to_owned())
        .bind(r.order_id.as_str().to_owned())
        .bind(i64::from(r.attempt_seq))
        .bind(r.dialect.as_str())
        .bind(r.refund_no.as_ref().map(|n| n.as_str().to_owned()))
        .bind(r.request_no.as_ref().map(|n| n.as_str().to_owned()))
        .bind(r.amount.get())
        .bind(r.reason.clone())
        .bind(r.status.as_str())
        .bind(i64::from(r.automatic))
        .bind(r.channel_refund_no.clone())
        .bind(r.fail_reason.clone())
        .bind(json_text(&r.extra))
        .bind(r.created_at.0)
        .bind(r.finished_at.map(|m| m.0))
        .bind(r.next_check_at.map(|m| m.0))
        .execute(&mut **tx)
        .await
        .map_err(write_error)?;
    Ok(())
}

async fn insert_notification(
    tx: &mut Transaction<'static, Any>,
    n: &Notification,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_NOTIFICATION)
        .bind(n.id.as_str().to_owned())
        .bind(n.merchant_id.as_str().to_owned())
        .bind(n.dialect.as_str())
        .bind(n.event.as_str())
        .bind(n.subject_id.as_str().to_owned())
        .bind(n.url.as_str().to_owned())
        .bind(n.status.as_str())
        .bind(i64::from(n.attempts))
        .bind(n.next_attempt_at.0)
        .bind(n.created_at.0)
        .bind(n.delivered_at.map(|m| m.0))
        .bind(n.last_error.clone())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Commits, or rolls back and reports `false` when a guarded update found nothing to change.
async fn finish(tx: Transaction<'static, Any>, won: bool) -> Result<bool, StoreError> {
    if won {
        tx.commit().await.map_err(db)?;
    } else {
        tx.rollback().await.map_err(db)?;
    }
    Ok(won)
}

#[async_trait]
impl Store for SqlStore {
    async fn register_node(&self, now: Millis) -> Result<u32, StoreError> {
        let row = sqlx::query("INSERT INTO nodes (started_at) VALUES ($1) RETURNING id")
            .bind(now.0)
            .fetch_one(&self.writer)
            .await
            .map_err(db)?;
        let id: i64 = row.try_get("id").map_err(db)?;
        Ok(u32::try_from(id.rem_euclid(10_000)).unwrap_or(0))
    }

    async fn insert_order(
        &self,
        order: &Order,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        self.inserter.insert(order.clone(), attempt.cloned()).await
    }

    async fn order(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
    ) -> Result<Option<Order>, StoreError> {
        let (sql, value) = match key {
            OrderKey::Platform(id) => (
                "SELECT * FROM orders WHERE merchant_id = $1 AND id = $2",
                id.as_str(),
            ),
            OrderKey::Merchant(no) => (
                "SELECT * FROM orders WHERE merchant_id = $1 AND merchant_order_no = $2",
                no.as_str(),
            ),
        };
        let row = sqlx::query(sql)
            .bind(merchant.as_str().to_owned())
            .bind(value.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(rows::order).transpose()
    }

    async fn order_by_id(&self, id: &PlatformId) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query("SELECT * FROM orders WHERE id = $1")
            .bind(id.as_str().to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(rows::order).transpose()
    }

    async fn latest_attempt(&self, order_id: &PlatformId) -> Result<Option<Attempt>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM attempts WHERE order_id = $1 ORDER BY seq DESC LIMIT 1")
                .bind(order_id.as_str().to_owned())
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        row.as_ref().map(rows::attempt).transpose()
    }

    async fn attempt(
        &self,
        order_id: &PlatformId,
        seq: i32,
    ) -> Result<Option<Attempt>, StoreError> {
        let row = sqlx::query("SELECT * FROM attempts WHERE order_id = $1 AND seq = $2")
            .bind(order_id.as_str().to_owned())
            .bind(i64::from(seq))
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(rows::attempt).transpose()
    }

    async fn attempts_of_order(&self, order_id: &PlatformId) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query("SELECT * FROM attempts WHERE order_id = $1 ORDER BY seq")
            .bind(order_id.as_str().to_owned())
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        all(rows, rows::attempt)
    }

    async fn settle_attempt(&self, s: &AttemptSettlement) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // The order takes the channel's numbers only from the payment it accepts.
        let (trade_no, payer) = if s.paid_at.is_some() {
            (s.channel_trade_no.clone(), s.channel_user.clone())
        } else {
            (None, None)
        };
        let (fail_code, fail_msg) = match &s.fail {
            Some((code, msg)) => (Some(code.clone()), Some(msg.clone())),
            None => (None, None),
        };
        let moved = sqlx::query(
            "UPDATE orders SET status = $1, updated_at = $2, paid_at = COALESCE(paid_at, $3), \
             channel_trade_no = COALESCE($4, channel_trade_no), channel_user = COALESCE($5, channel_user), \
             fail_code = COALESCE($6, fail_code), fail_msg = COALESCE($7, fail_msg) \
             WHERE id = $8 AND status = $9",
        )
        .bind(s.order_to.as_str())
        .bind(s.at.0)
        .bind(s.paid_at.map(|m| m.0))
        .bind(trade_no)
        .bind(payer)
        .bind(fail_code.clone())
        .bind(fail_msg.clone())
        .bind(s.order_id.as_str().to_owned())
        .bind(s.order_from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if moved == 0 {
            return finish(tx, false).await;
        }
        let moved = sqlx::query(
            "UPDATE attempts SET status = $1, finished_at = $2, channel_trade_no = COALESCE($3, channel_trade_no), \
             channel_user = COALESCE($4, channel_user), fail_code = $5, fail_msg = $6, next_check_at = NULL \
             WHERE order_id = $7 AND seq = $8 AND status = $9",
        )
        .bind(s.attempt_to.as_str())
        .bind(s.at.0)
        .bind(s.channel_trade_no.clone())
        .bind(s.channel_user.clone())
        .bind(fail_code)
        .bind(fail_msg)
        .bind(s.order_id.as_str().to_owned())
        .bind(i64::from(s.seq))
        .bind(s.attempt_from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if moved == 0 {
            return finish(tx, false).await;
        }
        if let Some(n) = &s.notification {
            insert_notification(&mut tx, n).await?;
        }
        if let Some(r) = &s.late_refund {
            insert_refund_row(&mut tx, r).await?;
        }
        finish(tx, true).await
    }

    async fn close_order(&self, c: &OrderClosing) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let moved = sqlx::query(
            "UPDATE orders SET status = $1, closed_at = $2, updated_at = $2, fail_msg = $3 \
             WHERE id = $4 AND status = $5",
        )
        .bind(OrderStatus::Closed.as_str())
        .bind(c.at.0)
        .bind(c.reason.clone())
        .bind(c.order_id.as_str().to_owned())
        .bind(c.from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if moved == 0 {
            return finish(tx, false).await;
        }
        sqlx::query(
            "UPDATE attempts SET status = $1, finished_at = $2, next_check_at = NULL \
             WHERE order_id = $3 AND status = $4",
        )
        .bind(AttemptStatus::Closed.as_str())
        .bind(c.at.0)
        .bind(c.order_id.as_str().to_owned())
        .bind(AttemptStatus::Paying.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        finish(tx, true).await
    }

    async fn expired_orders(&self, now: Millis, limit: i64) -> Result<Vec<PlatformId>, StoreError> {
        // The status list matches the partial index orders_open_by_expiry.
        let rows = sqlx::query(
            "SELECT id FROM orders WHERE status IN ('created', 'paying') AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(now.0)
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>("id")
                    .map(PlatformId::from_string)
                    .map_err(db)
            })
            .collect()
    }

    async fn claim_attempt_checks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Attempt>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "UPDATE attempts SET next_check_at = $1 WHERE (order_id, seq) IN \
                 (SELECT order_id, seq FROM attempts WHERE status = 'paying' AND next_check_at IS NOT NULL \
                  AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3) RETURNING *"
            }
            Backend::Postgres => {
                "UPDATE attempts SET next_check_at = $1 WHERE (order_id, seq) IN \
                 (SELECT order_id, seq FROM attempts WHERE status = 'paying' AND next_check_at IS NOT NULL \
                  AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *"
            }
        };
        let rows = sqlx::query(sql)
            .bind(lease_until.0)
            .bind(now.0)
            .bind(limit)
            .fetch_all(&self.writer)
            .await
            .map_err(db)?;
        all(rows, rows::attempt)
    }

    async fn schedule_attempt_check(
        &self,
        order_id: &PlatformId,
        seq: i32,
        at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE attempts SET next_check_at = $1 WHERE order_id = $2 AND seq = $3 AND status = $4")
            .bind(at.0)
            .bind(order_id.as_str().to_owned())
            .bind(i64::from(seq))
            .bind(AttemptStatus::Paying.as_str())
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn insert_refund(&self, refund: &Refund) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let [refundable_a, refundable_b] = REFUNDABLE_STATUSES;
        let reserved = sqlx::query(
            "UPDATE orders SET refund_reserved = refund_reserved + $1, updated_at = $2 \
             WHERE id = $3 AND status IN ($4, $5) AND refund_reserved + $1 <= amount",
        )
        .bind(refund.amount.get())
        .bind(refund.created_at.0)
        .bind(refund.order_id.as_str().to_owned())
        .bind(refundable_a.as_str())
        .bind(refundable_b.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if reserved == 0 {
            tx.rollback().await.map_err(db)?;
            return Err(StoreError::NotRefundable);
        }
        insert_refund_row(&mut tx, refund).await?;
        tx.commit().await.map_err(db)
    }

    async fn refund(
        &self,
        merchant: &MerchantId,
        key: RefundKey<'_>,
    ) -> Result<Option<Refund>, StoreError> {
        let (sql, value) = match key {
            RefundKey::Platform(id) => (
                "SELECT * FROM refunds WHERE merchant_id = $1 AND id = $2",
                id.as_str(),
            ),
            RefundKey::RefundNo(no) => (
                "SELECT * FROM refunds WHERE merchant_id = $1 AND refund_no = $2",
                no.as_str(),
            ),
            RefundKey::RequestNo(no) => (
                "SELECT * FROM refunds WHERE merchant_id = $1 AND request_no = $2",
                no.as_str(),
            ),
        };
        let row = sqlx::query(sql)
            .bind(merchant.as_str().to_owned())
            .bind(value.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(rows::refund).transpose()
    }

    async fn refund_by_id(&self, id: &PlatformId) -> Result<Option<Refund>, StoreError> {
        let row = sqlx::query("SELECT * FROM refunds WHERE id = $1")
            .bind(id.as_str().to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.as_ref().map(rows::refund).transpose()
    }

    async fn refunds_of_order(&self, order_id: &PlatformId) -> Result<Vec<Refund>, StoreError> {
        let rows = sqlx::query("SELECT * FROM refunds WHERE order_id = $1 ORDER BY created_at, id")
            .bind(order_id.as_str().to_owned())
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        all(rows, rows::refund)
    }

    async fn settle_refund(&self, s: &RefundSettlement) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let moved = sqlx::query(
            "UPDATE refunds SET status = $1, finished_at = $2, updated_at = $2, \
             channel_refund_no = COALESCE($3, channel_refund_no), fail_reason = $4, next_check_at = NULL \
             WHERE id = $5 AND status = $6",
        )
        .bind(s.to.as_str())
        .bind(s.at.0)
        .bind(s.channel_refund_no.clone())
        .bind(s.fail_reason.clone())
        .bind(s.refund_id.as_str().to_owned())
        .bind(RefundStatus::Requested.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if moved == 0 {
            return finish(tx, false).await;
        }
        let moved = match &s.order {
            Some(RefundOrderUpdate::Completed {
                order_id,
                from,
                to,
                amount,
                refunded_before,
            }) => sqlx::query(
                "UPDATE orders SET refunded = refunded + $1, status = $2, updated_at = $3 \
                 WHERE id = $4 AND status = $5 AND refunded = $6",
            )
            .bind(amount.get())
            .bind(to.as_str())
            .bind(s.at.0)
            .bind(order_id.as_str().to_owned())
            .bind(from.as_str())
            .bind(refunded_before.get())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected(),
            Some(RefundOrderUpdate::Released { order_id, amount }) => sqlx::query(
                "UPDATE orders SET refund_reserved = refund_reserved - $1, updated_at = $2 WHERE id = $3",
            )
            .bind(amount.get())
            .bind(s.at.0)
            .bind(order_id.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected(),
            None => 1,
        };
        if moved == 0 {
            return finish(tx, false).await;
        }
        if let Some(n) = &s.notification {
            insert_notification(&mut tx, n).await?;
        }
        finish(tx, true).await
    }

    async fn claim_refund_checks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Refund>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "UPDATE refunds SET next_check_at = $1 WHERE id IN \
                 (SELECT id FROM refunds WHERE status = 'requested' AND next_check_at IS NOT NULL \
                  AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3) RETURNING *"
            }
            Backend::Postgres => {
                "UPDATE refunds SET next_check_at = $1 WHERE id IN \
                 (SELECT id FROM refunds WHERE status = 'requested' AND next_check_at IS NOT NULL \
                  AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *"
            }
        };
        let rows = sqlx::query(sql)
            .bind(lease_until.0)
            .bind(now.0)
            .bind(limit)
            .fetch_all(&self.writer)
            .await
            .map_err(db)?;
        all(rows, rows::refund)
    }

    async fn schedule_refund_check(
        &self,
        refund_id: &PlatformId,
        at: Millis,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE refunds SET next_check_at = $1 WHERE id = $2 AND status = $3")
            .bind(at.0)
            .bind(refund_id.as_str().to_owned())
            .bind(RefundStatus::Requested.as_str())
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn enqueue_notification(&self, notification: &Notification) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_notification(&mut tx, notification).await?;
        tx.commit().await.map_err(db)
    }

    async fn claim_notifications(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $1 WHERE id IN \
                 (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $2 \
                  ORDER BY next_attempt_at LIMIT $3) RETURNING *"
            }
            Backend::Postgres => {
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $1 WHERE id IN \
                 (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $2 \
                  ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *"
            }
        };
        let rows = sqlx::query(sql)
            .bind(lease_until.0)
            .bind(now.0)
            .bind(limit)
            .fetch_all(&self.writer)
            .await
            .map_err(db)?;
        all(rows, rows::notification)
    }

    async fn record_delivery(
        &self,
        claimed: &Notification,
        record: &DeliveryRecord,
        acked_order: Option<&PlatformId>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let pending = NotificationStatus::Pending.as_str();
        let id = claimed.id.as_str().to_owned();
        let attempts = i64::from(claimed.attempts);
        let query = match record {
            DeliveryRecord::Delivered { at } => sqlx::query(
                "UPDATE notifications SET status = $1, delivered_at = $2, last_error = NULL \
                 WHERE id = $3 AND attempts = $4 AND status = $5",
            )
            .bind(NotificationStatus::Delivered.as_str())
            .bind(at.0),
            DeliveryRecord::RetryAt { at, error } => sqlx::query(
                "UPDATE notifications SET next_attempt_at = $1, last_error = $2 \
                 WHERE id = $3 AND attempts = $4 AND status = $5",
            )
            .bind(at.0)
            .bind(error.clone()),
            DeliveryRecord::GaveUp { error } => sqlx::query(
                "UPDATE notifications SET status = $1, last_error = $2 \
                 WHERE id = $3 AND attempts = $4 AND status = $5",
            )
            .bind(NotificationStatus::GaveUp.as_str())
            .bind(error.clone()),
        };
        let moved = query
            .bind(id)
            .bind(attempts)
            .bind(pending)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if moved == 0 {
            return finish(tx, false).await;
        }
        if let (DeliveryRecord::Delivered { at }, Some(order_id)) = (record, acked_order) {
            sqlx::query("UPDATE orders SET merchant_acked_at = COALESCE(merchant_acked_at, $1) WHERE id = $2")
                .bind(at.0)
                .bind(order_id.as_str().to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        finish(tx, true).await
    }

    async fn notifications_about(
        &self,
        subject_id: &PlatformId,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notifications WHERE subject_id = $1 ORDER BY created_at, id",
        )
        .bind(subject_id.as_str().to_owned())
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        all(rows, rows::notification)
    }

    async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS depth FROM notifications WHERE status = $1")
            .bind(NotificationStatus::Pending.as_str())
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        row.try_get::<i64, _>("depth").map_err(db)
    }
}
