//! The queries and the `Store` implementation, shared by both engines. Placeholders are
//! `$n`; SQLite runs them as `?n`. Where the backends differ (row claims take `SKIP
//! LOCKED` on PostgreSQL) the statement is chosen by backend at the call.

use std::sync::LazyLock;

use async_trait::async_trait;
use paymux_core::Fen;
use paymux_core::code::PaymentCode;
use paymux_core::ids::{MerchantId, PlatformId};
use paymux_core::notification::{DeliveryRecord, Notification, NotificationStatus};
use paymux_core::order::{Attempt, AttemptStatus, Order, OrderStatus, REFUNDABLE_STATUSES, Splits};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::store::{
    AttemptSettlement, AttemptStart, CodeChange, CodeKey, EscrowSettlement, NodeLease,
    OrderClosing, OrderKey, RefundKey, RefundOrderUpdate, RefundSettlement, Store, StoreError,
};
use paymux_core::time::Millis;

use crate::script::{Script, SqlValue, Step, v};
use crate::{Backend, SqlStore, rows};

/// A column of the rows written by the batch insert, with its type, which PostgreSQL's
/// `UNNEST` needs spelled out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Text,
    Bigint,
}

impl Column {
    const fn new(name: &'static str, kind: ColumnType) -> Column {
        Column { name, kind }
    }
}

pub(crate) const ORDER_COLUMNS: &[Column] = &[
    Column::new("id", ColumnType::Text),
    Column::new("merchant_id", ColumnType::Text),
    Column::new("merchant_order_no", ColumnType::Text),
    Column::new("dialect", ColumnType::Text),
    Column::new("pay_way", ColumnType::Text),
    Column::new("channel", ColumnType::Text),
    Column::new("amount", ColumnType::Bigint),
    Column::new("currency", ColumnType::Text),
    Column::new("subject", ColumnType::Text),
    Column::new("body", ColumnType::Text),
    Column::new("status", ColumnType::Text),
    Column::new("notify_url", ColumnType::Text),
    Column::new("return_url", ColumnType::Text),
    Column::new("client_ip", ColumnType::Text),
    Column::new("extra", ColumnType::Text),
    Column::new("channel_trade_no", ColumnType::Text),
    Column::new("channel_user", ColumnType::Text),
    Column::new("refund_reserved", ColumnType::Bigint),
    Column::new("refunded", ColumnType::Bigint),
    Column::new("created_at", ColumnType::Bigint),
    Column::new("updated_at", ColumnType::Bigint),
    Column::new("expires_at", ColumnType::Bigint),
    Column::new("paid_at", ColumnType::Bigint),
    Column::new("closed_at", ColumnType::Bigint),
    Column::new("merchant_acked_at", ColumnType::Bigint),
    Column::new("fail_code", ColumnType::Text),
    Column::new("fail_msg", ColumnType::Text),
    Column::new("tries", ColumnType::Text),
    Column::new("code_id", ColumnType::Text),
    Column::new("also_notify_url", ColumnType::Text),
    Column::new("escrow", ColumnType::Text),
    Column::new("escrow_completed", ColumnType::Bigint),
    Column::new("splits", ColumnType::Text),
];

pub(crate) const ATTEMPT_COLUMNS: &[Column] = &[
    Column::new("order_id", ColumnType::Text),
    Column::new("seq", ColumnType::Bigint),
    Column::new("channel", ColumnType::Text),
    Column::new("pay_way", ColumnType::Text),
    Column::new("status", ColumnType::Text),
    Column::new("auth_code", ColumnType::Text),
    Column::new("channel_trade_no", ColumnType::Text),
    Column::new("channel_user", ColumnType::Text),
    Column::new("created_at", ColumnType::Bigint),
    Column::new("finished_at", ColumnType::Bigint),
    Column::new("next_check_at", ColumnType::Bigint),
    Column::new("fail_code", ColumnType::Text),
    Column::new("fail_msg", ColumnType::Text),
    Column::new("funding", ColumnType::Text),
    Column::new("memo", ColumnType::Text),
];

fn json_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    // A map of JSON values always serializes.
    serde_json::to_string(map).unwrap_or_default()
}

fn millis(m: Option<Millis>) -> SqlValue {
    v(m.map(|m| m.0))
}

/// An order's values in the order of `ORDER_COLUMNS`.
pub(crate) fn order_values(o: &Order) -> Vec<SqlValue> {
    vec![
        v(o.id.as_str()),
        v(o.merchant_id.as_str()),
        v(o.merchant_order_no.as_str()),
        v(o.dialect.as_str()),
        v(o.pay_way.to_string()),
        v(o.channel.as_str()),
        v(o.amount.get()),
        v(o.currency.as_str()),
        v(o.subject.as_str()),
        v(o.body.as_str()),
        v(o.status.as_str()),
        v(o.notify_url.as_ref().map(|u| u.as_str())),
        v(o.return_url.as_ref().map(|u| u.as_str())),
        v(o.client_ip.as_deref()),
        v(json_text(&o.extra)),
        v(o.channel_trade_no.as_deref()),
        v(o.channel_user.as_deref()),
        v(o.refund_reserved.get()),
        v(o.refunded.get()),
        v(o.created_at.0),
        v(o.created_at.0),
        v(o.expires_at.0),
        millis(o.paid_at),
        millis(o.closed_at),
        millis(o.merchant_acked_at),
        v(o.fail_code.as_deref()),
        v(o.fail_msg.as_deref()),
        v(o.tries.as_str()),
        v(o.code_id.as_ref().map(|id| id.as_str())),
        v(o.also_notify.as_ref().map(|u| u.as_str())),
        v(o.escrow.map(|e| e.status.as_str())),
        v(o.escrow.map_or(0, |e| e.completed.get())),
        v(splits_text(o.splits.as_ref())),
    ]
}

/// A split as its stored JSON text.
fn splits_text(splits: Option<&Splits>) -> Option<String> {
    splits.map(|s| serde_json::to_string(s).unwrap_or_default())
}

/// An attempt's values in the order of `ATTEMPT_COLUMNS`.
pub(crate) fn attempt_values(a: &Attempt) -> Vec<SqlValue> {
    vec![
        v(a.order_id.as_str()),
        v(i64::from(a.seq)),
        v(a.channel.as_str()),
        v(a.pay_way.to_string()),
        v(a.status.as_str()),
        v(a.auth_code.as_deref()),
        v(a.channel_trade_no.as_deref()),
        v(a.channel_user.as_deref()),
        v(a.created_at.0),
        millis(a.finished_at),
        millis(a.next_check_at),
        v(a.fail_code.as_deref()),
        v(a.fail_msg.as_deref()),
        v(a.funding.map(|f| f.as_str())),
        v(a.memo.as_deref()),
    ]
}

const REFUND_COLUMNS: &str = "id, merchant_id, order_id, attempt_seq, dialect, refund_no, \
     request_no, amount, reason, status, automatic, channel_refund_no, fail_reason, extra, created_at, \
     updated_at, finished_at, next_check_at, split_platform, split_party, split_party_amount";

static INSERT_REFUND: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ({})",
        (1..=21)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

/// A split order's refund: inserted only if it leaves the platform's share and its
/// sub-merchant's within what they hold (`$22`, `$23`). Runs after the order's reservation,
/// whose row lock makes concurrent refunds of one order take turns, so each sees the
/// others' rows.
static INSERT_SPLIT_REFUND: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO refunds ({REFUND_COLUMNS}) SELECT {} \
         WHERE (SELECT COALESCE(SUM(split_platform), 0) FROM refunds \
                WHERE order_id = $3 AND status <> 'failed') + $19 <= $22 \
           AND (SELECT COALESCE(SUM(split_party_amount), 0) FROM refunds \
                WHERE order_id = $3 AND split_party = $20 AND status <> 'failed') + $21 <= $23",
        (1..=21)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
});

fn refund_values(r: &Refund) -> Vec<SqlValue> {
    vec![
        v(r.id.as_str()),
        v(r.merchant_id.as_str()),
        v(r.order_id.as_str()),
        v(i64::from(r.attempt_seq)),
        v(r.dialect.as_str()),
        v(r.refund_no.as_ref().map(|n| n.as_str())),
        v(r.request_no.as_ref().map(|n| n.as_str())),
        v(r.amount.get()),
        v(r.reason.as_str()),
        v(r.status.as_str()),
        v(i64::from(r.automatic)),
        v(r.channel_refund_no.as_deref()),
        v(r.fail_reason.as_deref()),
        v(json_text(&r.extra)),
        v(r.created_at.0),
        v(r.created_at.0),
        millis(r.finished_at),
        millis(r.next_check_at),
        v(r.split.as_ref().map(|s| s.platform.get())),
        v(r.split
            .as_ref()
            .and_then(|s| s.party.as_ref())
            .map(|p| p.party.as_str())),
        v(r.split
            .as_ref()
            .and_then(|s| s.party.as_ref())
            .map(|p| p.amount.get())),
    ]
}

fn insert_refund(r: &Refund) -> Step {
    Step::new(INSERT_REFUND.as_str(), refund_values(r))
}

/// At most one notification of an event is pending per subject and address (the partial unique index
/// `notifications_one_pending`): queuing another while one is pending moves that one's
/// next attempt instead (a merchant asking for a re-send, fifty times, gets one).
/// A re-send of a pending notification (xxpay `executeNotify`) moves it to the re-send's
/// time, except when it is due within a lease of it: that includes a row a sender has
/// claimed (claiming moves it [`NOTIFICATION_LEASE_S`] ahead), which pulled back would be
/// sent twice at once. 60000 is that lease in milliseconds (a test holds them together).
///
/// [`NOTIFICATION_LEASE_S`]: paymux_core::notification::NOTIFICATION_LEASE_S
const INSERT_NOTIFICATION: &str = "INSERT INTO notifications (id, merchant_id, dialect, event, subject_id, url, \
     status, attempts, next_attempt_at, created_at, delivered_at, last_error) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (subject_id, event, url) WHERE status = 'pending' \
     DO UPDATE SET next_attempt_at = excluded.next_attempt_at \
     WHERE NOT (notifications.next_attempt_at > excluded.next_attempt_at \
     AND notifications.next_attempt_at <= excluded.next_attempt_at + 60000)";

#[cfg(test)]
#[test]
fn a_resend_keeps_away_from_a_claimed_row_for_the_whole_lease() {
    let lease_ms = paymux_core::notification::NOTIFICATION_LEASE_S * 1000;
    assert!(INSERT_NOTIFICATION.ends_with(&format!("+ {lease_ms})")));
}

fn insert_notification(n: &Notification) -> Step {
    Step::new(
        INSERT_NOTIFICATION,
        vec![
            v(n.id.as_str()),
            v(n.merchant_id.as_str()),
            v(n.dialect.as_str()),
            v(n.event.as_str()),
            v(n.subject_id.as_str()),
            v(n.url.as_str()),
            v(n.status.as_str()),
            v(i64::from(n.attempts)),
            v(n.next_attempt_at.0),
            v(n.created_at.0),
            millis(n.delivered_at),
            v(n.last_error.as_deref()),
        ],
    )
}

/// Node numbers are 0..NODE_NUMBERS (four digits of every generated id).
const NODE_NUMBERS: i64 = 10_000;

/// Leases the lowest node number that no live instance holds: never leased, or its lease
/// ended at or before `$3`. One statement; `$1` instance, `$2` until, `$3` now.
///
/// On PostgreSQL two instances may pick the same number at once: the second insert waits
/// for the first, then its conflict update finds a live lease and changes nothing, so it
/// returns no row and the caller tries again (seeing the first one's lease by then).
/// SQLite has one writer, so there is no such race.
const LEASE_NODE: &str = "WITH RECURSIVE numbers (n) AS \
     (SELECT 0 UNION ALL SELECT n + 1 FROM numbers WHERE n < 9999) \
     INSERT INTO node_leases (node, instance, expires_at) \
     SELECT n, $1, $2 FROM numbers WHERE NOT EXISTS \
     (SELECT 1 FROM node_leases AS held WHERE held.node = numbers.n AND held.expires_at > $3) \
     ORDER BY n LIMIT 1 \
     ON CONFLICT (node) DO UPDATE SET instance = excluded.instance, expires_at = excluded.expires_at \
     WHERE node_leases.expires_at <= $3 \
     RETURNING node AS n";

/// How many times a lease is tried when it lost a race to another instance starting.
const LEASE_TRIES: usize = 64;

/// The longest key a lookup sends to the database. Platform ids are 23 characters and
/// merchants' numbers at most 64 in every dialect so far; longer ones name no row.
const MAX_KEY_LEN: usize = 128;

/// Whether `id` could name a stored row: platform ids are ASCII letters and digits. Any
/// other (a NUL, which PostgreSQL cannot even compare while SQLite simply finds nothing)
/// is answered "not found" without asking the database, the same on both backends.
pub(crate) fn could_be_platform_id(id: &PlatformId) -> bool {
    let id = id.as_str();
    !id.is_empty() && id.len() <= MAX_KEY_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `key` could be a merchant's stored number: the alphabet every dialect accepts
/// (`[A-Za-z0-9_.-]`).
fn could_be_business_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(crate) fn one<T>(mut rows: Vec<T>) -> Option<T> {
    if rows.is_empty() {
        None
    } else {
        Some(rows.swap_remove(0))
    }
}

/// An order closes (guarded on its status) and its paying attempts with it, or stay under
/// watch when the channel did not confirm.
fn close_order_steps(c: &OrderClosing) -> Vec<Step> {
    vec![
        Step::guarded(
            "UPDATE orders SET status = $1, closed_at = $2, updated_at = $2, fail_msg = $3 \
                 WHERE id = $4 AND status = $5",
            vec![
                v(OrderStatus::Closed.as_str()),
                v(c.at.0),
                v(c.reason.as_str()),
                v(c.order_id.as_str()),
                v(c.from.as_str()),
            ],
        ),
        match c.recheck_attempt_at {
            None => Step::new(
                "UPDATE attempts SET status = $1, finished_at = $2, next_check_at = NULL \
                     WHERE order_id = $3 AND status = $4",
                vec![
                    v(AttemptStatus::Closed.as_str()),
                    v(c.at.0),
                    v(c.order_id.as_str()),
                    v(AttemptStatus::Paying.as_str()),
                ],
            ),
            Some(at) => Step::new(
                "UPDATE attempts SET next_check_at = $1 WHERE order_id = $2 AND status = $3",
                vec![
                    v(at.0),
                    v(c.order_id.as_str()),
                    v(AttemptStatus::Paying.as_str()),
                ],
            ),
        },
    ]
}

/// One order row, inserted on its own (bills, in the transaction of their code): the hot
/// path of new orders goes through the batch inserter instead.
static INSERT_ORDER_ROW: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<&str> = ORDER_COLUMNS.iter().map(|c| c.name).collect();
    let placeholders: Vec<String> = (1..=ORDER_COLUMNS.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO orders ({}) VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    )
});

fn insert_order_row(o: &Order) -> Step {
    Step::new(INSERT_ORDER_ROW.as_str(), order_values(o))
}

/// A payer's further try at a bill; one at a time, it is inserted only while no other try
/// of the order is paying (the first scanner wins, decided by the database).
static INSERT_ATTEMPT_ALONE: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<&str> = ATTEMPT_COLUMNS.iter().map(|c| c.name).collect();
    let placeholders: Vec<String> = (1..=ATTEMPT_COLUMNS.len())
        .map(|i| format!("${i}"))
        .collect();
    format!(
        "INSERT INTO attempts ({}) SELECT {} WHERE NOT EXISTS \
         (SELECT 1 FROM attempts WHERE order_id = $1 AND status = 'paying')",
        names.join(", "),
        placeholders.join(", ")
    )
});
static INSERT_ATTEMPT_ROW: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<&str> = ATTEMPT_COLUMNS.iter().map(|c| c.name).collect();
    let placeholders: Vec<String> = (1..=ATTEMPT_COLUMNS.len())
        .map(|i| format!("${i}"))
        .collect();
    format!(
        "INSERT INTO attempts ({}) VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    )
});

static INSERT_CODE: LazyLock<String> = LazyLock::new(|| {
    let count = CODE_COLUMNS.split(',').count();
    let placeholders: Vec<String> = (1..=count).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO payment_codes ({CODE_COLUMNS}) VALUES ({})",
        placeholders.join(", ")
    )
});

const CODE_COLUMNS: &str = "id, merchant_id, dialect, code_ref, kind, status, amount, order_id, subject, \
     notify_url, also_notify_url, return_url, expires_at, bill_no_prefix, tries, escrow, extra, \
     created_at, updated_at, splits";

fn code_values(c: &PaymentCode) -> Vec<SqlValue> {
    vec![
        v(c.id.as_str()),
        v(c.merchant_id.as_str()),
        v(c.dialect.as_str()),
        v(c.code_ref.as_str()),
        v(c.kind.as_str()),
        v(c.status.as_str()),
        v(c.amount.map(|a| a.get())),
        v(c.order_id.as_ref().map(|id| id.as_str())),
        v(c.subject.as_str()),
        v(c.notify_url.as_ref().map(|u| u.as_str())),
        v(c.also_notify.as_ref().map(|u| u.as_str())),
        v(c.return_url.as_ref().map(|u| u.as_str())),
        millis(c.expires_at),
        v(c.bill_no_prefix.as_str()),
        v(c.tries.as_str()),
        v(i64::from(c.escrow)),
        v(json_text(&c.extra)),
        v(c.created_at.0),
        v(c.updated_at.0),
        v(splits_text(c.splits.as_ref())),
    ]
}

/// The reservation of a refund's amount on its order: only a paid order, within what was
/// paid, and for an escrowed payment only once it is completed (`escrow_return` is the
/// escrow's own refund, made while it settles).
fn reserve_refund(refund: &Refund, escrow_return: bool) -> Step {
    let [refundable_a, refundable_b] = REFUNDABLE_STATUSES;
    let sql = if escrow_return {
        "UPDATE orders SET refund_reserved = refund_reserved + $1, updated_at = $2 \
         WHERE id = $3 AND status IN ($4, $5) AND refund_reserved + $1 <= amount"
    } else {
        "UPDATE orders SET refund_reserved = refund_reserved + $1, updated_at = $2 \
         WHERE id = $3 AND status IN ($4, $5) AND refund_reserved + $1 <= amount \
         AND (escrow IS NULL OR escrow IN ('partly_completed', 'all_completed'))"
    };
    Step::guarded(
        sql,
        vec![
            v(refund.amount.get()),
            v(refund.created_at.0),
            v(refund.order_id.as_str()),
            v(refundable_a.as_str()),
            v(refundable_b.as_str()),
        ],
    )
}

impl SqlStore {
    /// Runs a guarded script: `true` if applied, `false` if a guard found the state moved.
    async fn apply(&self, steps: Vec<Step>) -> Result<bool, StoreError> {
        Ok(self.engine.run(Script::of(steps)).await?.applied)
    }

    /// Leases the lowest free or expired node number to `instance` until `until`.
    async fn lease_node(
        &self,
        instance: i64,
        now: Millis,
        until: Millis,
    ) -> Result<u32, StoreError> {
        for _ in 0..LEASE_TRIES {
            let leased = self
                .engine
                .write_fetch(
                    LEASE_NODE,
                    vec![v(instance), v(until.0), v(now.0)],
                    rows::first_int,
                )
                .await?;
            if let Some(node) = one(leased) {
                return u32::try_from(node)
                    .map_err(|_| StoreError::Corrupt(format!("node number {node}")));
            }
            let live = self
                .engine
                .read(
                    "SELECT COUNT(*) AS n FROM node_leases WHERE expires_at > $1",
                    vec![v(now.0)],
                    rows::first_int,
                )
                .await?;
            if one(live).unwrap_or(0) >= NODE_NUMBERS {
                return Err(StoreError::Database(format!(
                    "all {NODE_NUMBERS} node numbers are leased by live instances"
                )));
            }
        }
        Err(StoreError::Database(format!(
            "no node number could be leased in {LEASE_TRIES} tries: too many instances starting at once"
        )))
    }

    fn pick(&self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self.backend() {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn register_node(&self, now: Millis, until: Millis) -> Result<NodeLease, StoreError> {
        let ids = self
            .engine
            .write_fetch(
                "INSERT INTO nodes (started_at) VALUES ($1) RETURNING id AS n",
                vec![v(now.0)],
                rows::first_int,
            )
            .await?;
        let instance =
            one(ids).ok_or_else(|| StoreError::Database("no instance id returned".into()))?;
        let node = self.lease_node(instance, now, until).await?;
        Ok(NodeLease { instance, node })
    }

    async fn renew_node_lease(
        &self,
        lease: NodeLease,
        now: Millis,
        until: Millis,
    ) -> Result<NodeLease, StoreError> {
        // Still ours if no one took it, even if it ran out meanwhile.
        let renewed = self
            .apply(vec![Step::guarded(
                "UPDATE node_leases SET expires_at = $1 WHERE node = $2 AND instance = $3",
                vec![v(until.0), v(i64::from(lease.node)), v(lease.instance)],
            )])
            .await?;
        if renewed {
            return Ok(lease);
        }
        let node = self.lease_node(lease.instance, now, until).await?;
        Ok(NodeLease {
            instance: lease.instance,
            node,
        })
    }

    async fn gateway_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // The first to store one wins; everyone reads the winner's.
        self.apply(vec![Step::new(
            "INSERT INTO gateway_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            vec![v(name), v(candidate), v(now)],
        )])
        .await?;
        let stored = self
            .engine
            .read(
                "SELECT value FROM gateway_secrets WHERE name = $1",
                vec![v(name)],
                rows::value,
            )
            .await?;
        one(stored).ok_or_else(|| StoreError::Database(format!("secret {name} was not stored")))
    }

    async fn insert_order(
        &self,
        order: &Order,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        self.inserter.insert(order, attempt).await
    }

    async fn order(
        &self,
        merchant: &MerchantId,
        key: OrderKey<'_>,
    ) -> Result<Option<Order>, StoreError> {
        let could_exist = match key {
            OrderKey::Platform(id) => could_be_platform_id(id),
            OrderKey::Merchant(no) => could_be_business_key(no.as_str()),
        };
        if !could_exist {
            return Ok(None);
        }
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
        let found = self
            .engine
            .read(sql, vec![v(merchant.as_str()), v(value)], rows::order)
            .await?;
        Ok(one(found))
    }

    async fn order_by_id(&self, id: &PlatformId) -> Result<Option<Order>, StoreError> {
        if !could_be_platform_id(id) {
            return Ok(None);
        }
        let found = self
            .engine
            .read(
                "SELECT * FROM orders WHERE id = $1",
                vec![v(id.as_str())],
                rows::order,
            )
            .await?;
        Ok(one(found))
    }

    async fn latest_attempt(&self, order_id: &PlatformId) -> Result<Option<Attempt>, StoreError> {
        if !could_be_platform_id(order_id) {
            return Ok(None);
        }
        let found = self
            .engine
            .read(
                "SELECT * FROM attempts WHERE order_id = $1 ORDER BY seq DESC LIMIT 1",
                vec![v(order_id.as_str())],
                rows::attempt,
            )
            .await?;
        Ok(one(found))
    }

    async fn attempt(
        &self,
        order_id: &PlatformId,
        seq: i32,
    ) -> Result<Option<Attempt>, StoreError> {
        if !could_be_platform_id(order_id) {
            return Ok(None);
        }
        let found = self
            .engine
            .read(
                "SELECT * FROM attempts WHERE order_id = $1 AND seq = $2",
                vec![v(order_id.as_str()), v(i64::from(seq))],
                rows::attempt,
            )
            .await?;
        Ok(one(found))
    }

    async fn attempts_of_order(&self, order_id: &PlatformId) -> Result<Vec<Attempt>, StoreError> {
        if !could_be_platform_id(order_id) {
            return Ok(Vec::new());
        }
        self.engine
            .read(
                "SELECT * FROM attempts WHERE order_id = $1 ORDER BY seq",
                vec![v(order_id.as_str())],
                rows::attempt,
            )
            .await
    }

    async fn settle_attempt(&self, s: &AttemptSettlement) -> Result<bool, StoreError> {
        // The order takes the channel's numbers only from the payment it accepts, and an
        // attempt's failure only when that failure moves it (a closed order keeps its reason).
        let (trade_no, payer) = if s.paid_at.is_some() {
            (s.channel_trade_no.clone(), s.channel_user.clone())
        } else {
            (None, None)
        };
        let (fail_code, fail_msg) = match &s.fail {
            Some((code, msg)) => (Some(code.clone()), Some(msg.clone())),
            None => (None, None),
        };
        let (order_fail_code, order_fail_msg) = if s.order_from == s.order_to {
            (None, None)
        } else {
            (fail_code.clone(), fail_msg.clone())
        };
        let mut steps = vec![
            Step::guarded(
                "UPDATE orders SET status = $1, updated_at = $2, paid_at = COALESCE(paid_at, $3), \
                 channel_trade_no = COALESCE($4, channel_trade_no), channel_user = COALESCE($5, channel_user), \
                 fail_code = COALESCE($6, fail_code), fail_msg = COALESCE($7, fail_msg) \
                 WHERE id = $8 AND status = $9",
                vec![
                    v(s.order_to.as_str()),
                    v(s.at.0),
                    millis(s.paid_at),
                    v(trade_no),
                    v(payer),
                    v(order_fail_code),
                    v(order_fail_msg),
                    v(s.order_id.as_str()),
                    v(s.order_from.as_str()),
                ],
            ),
            Step::guarded(
                "UPDATE attempts SET status = $1, finished_at = $2, channel_trade_no = COALESCE($3, channel_trade_no), \
                 channel_user = COALESCE($4, channel_user), fail_code = $5, fail_msg = $6, next_check_at = NULL, \
                 funding = COALESCE($10, funding) \
                 WHERE order_id = $7 AND seq = $8 AND status = $9",
                vec![
                    v(s.attempt_to.as_str()),
                    v(s.at.0),
                    v(s.channel_trade_no.clone()),
                    v(s.channel_user.clone()),
                    v(fail_code),
                    v(fail_msg),
                    v(s.order_id.as_str()),
                    v(i64::from(s.seq)),
                    v(s.attempt_from.as_str()),
                    v(s.funding.map(|f| f.as_str())),
                ],
            ),
        ];
        steps.extend(s.notifications.iter().map(insert_notification));
        steps.extend(s.late_refund.as_ref().map(insert_refund));
        self.apply(steps).await
    }

    async fn close_order(&self, c: &OrderClosing) -> Result<bool, StoreError> {
        self.apply(close_order_steps(c)).await
    }

    async fn expired_orders(&self, now: Millis, limit: i64) -> Result<Vec<PlatformId>, StoreError> {
        // The status list matches the partial index orders_open_by_expiry.
        self.engine
            .read(
                "SELECT id FROM orders WHERE status IN ('created', 'paying') AND expires_at <= $1 \
                 ORDER BY expires_at LIMIT $2",
                vec![v(now.0), v(limit)],
                rows::id,
            )
            .await
    }

    async fn claim_attempt_checks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Attempt>, StoreError> {
        let sql = self.pick(
            "UPDATE attempts SET next_check_at = $1 WHERE (order_id, seq) IN \
             (SELECT order_id, seq FROM attempts WHERE status = 'paying' AND next_check_at IS NOT NULL \
              AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3) RETURNING *",
            "UPDATE attempts SET next_check_at = $1 WHERE (order_id, seq) IN \
             (SELECT order_id, seq FROM attempts WHERE status = 'paying' AND next_check_at IS NOT NULL \
              AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *",
        );
        self.engine
            .write_fetch(
                sql,
                vec![v(lease_until.0), v(now.0), v(limit)],
                rows::attempt,
            )
            .await
    }

    async fn schedule_attempt_check(
        &self,
        order_id: &PlatformId,
        seq: i32,
        at: Millis,
    ) -> Result<(), StoreError> {
        self.apply(vec![Step::new(
            "UPDATE attempts SET next_check_at = $1 WHERE order_id = $2 AND seq = $3 AND status = $4",
            vec![
                v(at.0),
                v(order_id.as_str()),
                v(i64::from(seq)),
                v(AttemptStatus::Paying.as_str()),
            ],
        )])
        .await
        .map(|_| ())
    }

    async fn insert_refund(&self, refund: &Refund) -> Result<(), StoreError> {
        let reserved = self
            .apply(vec![reserve_refund(refund, false), insert_refund(refund)])
            .await?;
        if reserved {
            Ok(())
        } else {
            Err(StoreError::NotRefundable)
        }
    }

    async fn insert_split_refund(
        &self,
        refund: &Refund,
        platform_share: Fen,
        party_share: Fen,
    ) -> Result<(), StoreError> {
        let mut values = refund_values(refund);
        values.push(v(platform_share.get()));
        values.push(v(party_share.get()));
        let inserted = self
            .apply(vec![
                reserve_refund(refund, false),
                Step::guarded(INSERT_SPLIT_REFUND.as_str(), values),
            ])
            .await?;
        if inserted {
            Ok(())
        } else {
            Err(StoreError::NotRefundable)
        }
    }

    async fn refund(
        &self,
        merchant: &MerchantId,
        key: RefundKey<'_>,
    ) -> Result<Option<Refund>, StoreError> {
        let could_exist = match key {
            RefundKey::Platform(id) => could_be_platform_id(id),
            RefundKey::RefundNo(no) => could_be_business_key(no.as_str()),
            RefundKey::RequestNo(no) => could_be_business_key(no.as_str()),
        };
        if !could_exist {
            return Ok(None);
        }
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
        let found = self
            .engine
            .read(sql, vec![v(merchant.as_str()), v(value)], rows::refund)
            .await?;
        Ok(one(found))
    }

    async fn refund_by_id(&self, id: &PlatformId) -> Result<Option<Refund>, StoreError> {
        if !could_be_platform_id(id) {
            return Ok(None);
        }
        let found = self
            .engine
            .read(
                "SELECT * FROM refunds WHERE id = $1",
                vec![v(id.as_str())],
                rows::refund,
            )
            .await?;
        Ok(one(found))
    }

    async fn refunds_of_order(&self, order_id: &PlatformId) -> Result<Vec<Refund>, StoreError> {
        if !could_be_platform_id(order_id) {
            return Ok(Vec::new());
        }
        self.engine
            .read(
                "SELECT * FROM refunds WHERE order_id = $1 ORDER BY created_at, id",
                vec![v(order_id.as_str())],
                rows::refund,
            )
            .await
    }

    async fn settle_refund(&self, s: &RefundSettlement) -> Result<bool, StoreError> {
        let mut steps = vec![Step::guarded(
            "UPDATE refunds SET status = $1, finished_at = $2, updated_at = $2, \
             channel_refund_no = COALESCE($3, channel_refund_no), fail_reason = $4, next_check_at = NULL \
             WHERE id = $5 AND status = $6",
            vec![
                v(s.to.as_str()),
                v(s.at.0),
                v(s.channel_refund_no.clone()),
                v(s.fail_reason.clone()),
                v(s.refund_id.as_str()),
                v(RefundStatus::Requested.as_str()),
            ],
        )];
        match &s.order {
            Some(RefundOrderUpdate::Completed {
                order_id,
                from,
                to,
                amount,
                refunded_before,
            }) => steps.push(Step::guarded(
                "UPDATE orders SET refunded = refunded + $1, status = $2, updated_at = $3 \
                 WHERE id = $4 AND status = $5 AND refunded = $6",
                vec![
                    v(amount.get()),
                    v(to.as_str()),
                    v(s.at.0),
                    v(order_id.as_str()),
                    v(from.as_str()),
                    v(refunded_before.get()),
                ],
            )),
            Some(RefundOrderUpdate::Released { order_id, amount }) => steps.push(Step::guarded(
                "UPDATE orders SET refund_reserved = refund_reserved - $1, updated_at = $2 WHERE id = $3",
                vec![v(amount.get()), v(s.at.0), v(order_id.as_str())],
            )),
            None => {}
        }
        steps.extend(s.notification.as_ref().map(insert_notification));
        self.apply(steps).await
    }

    async fn claim_refund_checks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Refund>, StoreError> {
        let sql = self.pick(
            "UPDATE refunds SET next_check_at = $1 WHERE id IN \
             (SELECT id FROM refunds WHERE status = 'requested' AND next_check_at IS NOT NULL \
              AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3) RETURNING *",
            "UPDATE refunds SET next_check_at = $1 WHERE id IN \
             (SELECT id FROM refunds WHERE status = 'requested' AND next_check_at IS NOT NULL \
              AND next_check_at <= $2 ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *",
        );
        self.engine
            .write_fetch(
                sql,
                vec![v(lease_until.0), v(now.0), v(limit)],
                rows::refund,
            )
            .await
    }

    async fn schedule_refund_check(
        &self,
        refund_id: &PlatformId,
        at: Millis,
    ) -> Result<(), StoreError> {
        self.apply(vec![Step::new(
            "UPDATE refunds SET next_check_at = $1 WHERE id = $2 AND status = $3",
            vec![
                v(at.0),
                v(refund_id.as_str()),
                v(RefundStatus::Requested.as_str()),
            ],
        )])
        .await
        .map(|_| ())
    }

    async fn enqueue_notification(&self, notification: &Notification) -> Result<(), StoreError> {
        self.apply(vec![insert_notification(notification)])
            .await
            .map(|_| ())
    }

    async fn claim_notifications(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = self.pick(
            "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $1 WHERE id IN \
             (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $2 \
              ORDER BY next_attempt_at LIMIT $3) RETURNING *",
            "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $1 WHERE id IN \
             (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $2 \
              ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *",
        );
        self.engine
            .write_fetch(
                sql,
                vec![v(lease_until.0), v(now.0), v(limit)],
                rows::notification,
            )
            .await
    }

    async fn release_notification(
        &self,
        claimed: &Notification,
        at: Millis,
    ) -> Result<bool, StoreError> {
        self.apply(vec![Step::guarded(
            "UPDATE notifications SET attempts = attempts - 1, next_attempt_at = $1 \
             WHERE id = $2 AND attempts = $3 AND status = $4",
            vec![
                v(at.0),
                v(claimed.id.as_str()),
                v(i64::from(claimed.attempts)),
                v(NotificationStatus::Pending.as_str()),
            ],
        )])
        .await
    }

    async fn record_delivery(
        &self,
        claimed: &Notification,
        record: &DeliveryRecord,
        acked_order: Option<&PlatformId>,
    ) -> Result<bool, StoreError> {
        let guard = [
            v(claimed.id.as_str()),
            v(i64::from(claimed.attempts)),
            v(NotificationStatus::Pending.as_str()),
        ];
        let mut steps = vec![match record {
            DeliveryRecord::Delivered { at } => Step::guarded(
                "UPDATE notifications SET status = $1, delivered_at = $2, last_error = NULL \
                 WHERE id = $3 AND attempts = $4 AND status = $5",
                [
                    vec![v(NotificationStatus::Delivered.as_str()), v(at.0)],
                    guard.to_vec(),
                ]
                .concat(),
            ),
            DeliveryRecord::RetryAt { at, error } => Step::guarded(
                "UPDATE notifications SET next_attempt_at = $1, last_error = $2 \
                 WHERE id = $3 AND attempts = $4 AND status = $5",
                [vec![v(at.0), v(error.as_str())], guard.to_vec()].concat(),
            ),
            DeliveryRecord::GaveUp { error } => Step::guarded(
                "UPDATE notifications SET status = $1, last_error = $2 \
                 WHERE id = $3 AND attempts = $4 AND status = $5",
                [
                    vec![v(NotificationStatus::GaveUp.as_str()), v(error.as_str())],
                    guard.to_vec(),
                ]
                .concat(),
            ),
        }];
        if let (DeliveryRecord::Delivered { at }, Some(order_id)) = (record, acked_order) {
            steps.push(Step::new(
                "UPDATE orders SET merchant_acked_at = COALESCE(merchant_acked_at, $1) WHERE id = $2",
                vec![v(at.0), v(order_id.as_str())],
            ));
        }
        self.apply(steps).await
    }

    async fn notifications_about(
        &self,
        subject_id: &PlatformId,
    ) -> Result<Vec<Notification>, StoreError> {
        if !could_be_platform_id(subject_id) {
            return Ok(Vec::new());
        }
        self.engine
            .read(
                "SELECT * FROM notifications WHERE subject_id = $1 ORDER BY created_at, id",
                vec![v(subject_id.as_str())],
                rows::notification,
            )
            .await
    }

    async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let found = self
            .engine
            .read(
                "SELECT COUNT(*) AS n FROM notifications WHERE status = $1",
                vec![v(NotificationStatus::Pending.as_str())],
                rows::first_int,
            )
            .await?;
        Ok(one(found).unwrap_or(0))
    }

    async fn insert_code(
        &self,
        code: &PaymentCode,
        bill: Option<&Order>,
    ) -> Result<(), StoreError> {
        let mut steps: Vec<Step> = bill.into_iter().map(insert_order_row).collect();
        steps.push(Step::new(INSERT_CODE.as_str(), code_values(code)));
        self.apply(steps).await.map(drop)
    }

    async fn code(
        &self,
        merchant: &MerchantId,
        key: CodeKey<'_>,
    ) -> Result<Option<PaymentCode>, StoreError> {
        let (sql, value) = match key {
            CodeKey::Platform(id) => {
                if !could_be_platform_id(id) {
                    return Ok(None);
                }
                (
                    "SELECT * FROM payment_codes WHERE merchant_id = $1 AND id = $2",
                    id.as_str(),
                )
            }
            CodeKey::Ref(code_ref) => {
                if !could_be_business_key(code_ref) {
                    return Ok(None);
                }
                (
                    "SELECT * FROM payment_codes WHERE merchant_id = $1 AND code_ref = $2",
                    code_ref,
                )
            }
        };
        let rows = self
            .engine
            .read(sql, vec![v(merchant.as_str()), v(value)], rows::code)
            .await?;
        Ok(one(rows))
    }

    async fn code_by_id(&self, id: &PlatformId) -> Result<Option<PaymentCode>, StoreError> {
        if !could_be_platform_id(id) {
            return Ok(None);
        }
        let rows = self
            .engine
            .read(
                "SELECT * FROM payment_codes WHERE id = $1",
                vec![v(id.as_str())],
                rows::code,
            )
            .await?;
        Ok(one(rows))
    }

    async fn change_code(&self, change: &CodeChange) -> Result<bool, StoreError> {
        let c = &change.code;
        let mut steps = Vec::new();
        if let Some(closing) = &change.close_old_bill {
            // The old bill may have been paid meanwhile: then it stays as it is.
            let mut close = close_order_steps(closing);
            for step in &mut close {
                step.guard = crate::script::Guard::None;
            }
            steps.extend(close);
        }
        steps.extend(change.new_bill.iter().map(insert_order_row));
        steps.push(Step::guarded(
            "UPDATE payment_codes SET kind = $1, status = $2, amount = $3, order_id = $4, \
             subject = $5, notify_url = $6, also_notify_url = $7, return_url = $8, expires_at = $9, \
             bill_no_prefix = $10, tries = $11, escrow = $12, extra = $13, updated_at = $14, \
             splits = $15 WHERE id = $16 AND updated_at = $17",
            vec![
                v(c.kind.as_str()),
                v(c.status.as_str()),
                v(c.amount.map(|a| a.get())),
                v(c.order_id.as_ref().map(|id| id.as_str())),
                v(c.subject.as_str()),
                v(c.notify_url.as_ref().map(|u| u.as_str())),
                v(c.also_notify.as_ref().map(|u| u.as_str())),
                v(c.return_url.as_ref().map(|u| u.as_str())),
                millis(c.expires_at),
                v(c.bill_no_prefix.as_str()),
                v(c.tries.as_str()),
                v(i64::from(c.escrow)),
                v(json_text(&c.extra)),
                v(c.updated_at.0),
                v(splits_text(c.splits.as_ref())),
                v(c.id.as_str()),
                v(change.read_at.0),
            ],
        ));
        self.apply(steps).await
    }

    async fn start_attempt(&self, start: &AttemptStart) -> Result<bool, StoreError> {
        let insert = if start.one_at_a_time {
            INSERT_ATTEMPT_ALONE.as_str()
        } else {
            INSERT_ATTEMPT_ROW.as_str()
        };
        self.apply(vec![
            Step::guarded(
                "UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
                vec![
                    v(OrderStatus::Paying.as_str()),
                    v(start.at.0),
                    v(start.attempt.order_id.as_str()),
                    v(start.order_from.as_str()),
                ],
            ),
            Step::guarded(insert, attempt_values(&start.attempt)),
        ])
        .await
    }

    async fn settle_escrow(&self, s: &EscrowSettlement) -> Result<bool, StoreError> {
        let mut steps = vec![Step::guarded(
            "UPDATE orders SET escrow = $1, escrow_completed = $2, updated_at = $3 \
             WHERE id = $4 AND escrow = $5",
            vec![
                v(s.to.as_str()),
                v(s.completed.get()),
                v(s.at.0),
                v(s.order_id.as_str()),
                v(s.from.as_str()),
            ],
        )];
        if let Some(refund) = &s.returned {
            steps.push(reserve_refund(refund, true));
            steps.push(insert_refund(refund));
        }
        self.apply(steps).await
    }

    async fn remember_nonce(
        &self,
        merchant: &MerchantId,
        nonce: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool, StoreError> {
        self.apply(vec![
            // Forget a few expired ones as new ones come: the table stays the size of a window.
            Step::new(
                "DELETE FROM request_nonces WHERE merchant_id = $1 AND expires_at < $2",
                vec![v(merchant.as_str()), v(now.0)],
            ),
            Step::guarded(
                "INSERT INTO request_nonces (merchant_id, nonce, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (merchant_id, nonce) DO NOTHING",
                vec![v(merchant.as_str()), v(nonce), v(until.0)],
            ),
        ])
        .await
    }
}
