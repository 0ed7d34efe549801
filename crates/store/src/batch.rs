//! Group commit for new orders, the hot path. One task takes every order waiting to be
//! inserted and writes them together: their inserts in one transaction, one commit (one
//! fsync), then answers each caller. A caller is answered only after the commit, so an
//! acknowledged order is on disk.
//!
//! Duplicate order numbers are found by `ON CONFLICT DO NOTHING`: the orders the database
//! did not insert are the duplicates, two of the same batch included; only the inserted
//! orders' attempts are written. If a batch fails as a whole, its orders are retried one by
//! one, so one bad row cannot fail the others.
//!
//! The backends write a batch differently:
//! - SQLite inserts row by row, in-process. A statement that inserts several rows would
//!   need a statement journal (a copy of every page it touches) in case it failed halfway.
//!   It learns whether an order was inserted from the count of changed rows rather than
//!   from `RETURNING`, for which it would build a temporary table each time.
//! - PostgreSQL gets the whole batch as one statement that commits by itself: each column
//!   bound as one array and expanded by `UNNEST`, orders and attempts in one `WITH`. One
//!   round trip and one commit per batch, however many orders it holds, and one prepared
//!   statement for every batch size.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use paymux_core::order::{Attempt, Order};
use paymux_core::store::StoreError;
use tokio::sync::{mpsc, oneshot};

use crate::script::{Collect, Guard, Script, SqlValue, Step, v};
use crate::sql::{
    ATTEMPT_COLUMNS, Column, ColumnType, ORDER_COLUMNS, attempt_values, order_values,
};
use crate::{Backend, Engine};

/// Orders per transaction at most.
const MAX_BATCH: usize = 256;

/// Orders waiting to be written at most; one more is answered `Busy` at once rather than
/// queued. Sixteen batches: the bench writes 10–13k orders a second on SQLite and 6–7k on
/// PostgreSQL, so the last order of a full queue is committed within about half a second,
/// and a waiting order holds its row's values (1–2 KB), so a full queue is a few MB.
pub(crate) const QUEUE_CAPACITY: usize = 16 * MAX_BATCH;

/// SQLite's inserts of one order and of one attempt, with its own `?n` placeholders so the
/// writer need not rewrite them for every order.
static SQLITE_INSERT_ORDER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO orders ({}) VALUES ({}) ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING",
        names(ORDER_COLUMNS),
        placeholders(ORDER_COLUMNS.len(), 1)
    )
});
static SQLITE_INSERT_ATTEMPT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO attempts ({}) VALUES ({})",
        names(ATTEMPT_COLUMNS),
        placeholders(ATTEMPT_COLUMNS.len(), 1)
    )
});

/// PostgreSQL's insert of a whole batch; it returns the ids of the orders inserted.
static POSTGRES_INSERT_BATCH: LazyLock<String> = LazyLock::new(|| {
    let attempts_from = ORDER_COLUMNS.len() + 1;
    format!(
        "WITH new_orders AS (\
            INSERT INTO orders ({orders}) SELECT * FROM UNNEST({order_arrays}) \
            ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING RETURNING id\
        ), new_attempts AS (\
            INSERT INTO attempts ({attempts}) SELECT * FROM UNNEST({attempt_arrays}) AS a ({attempts}) \
            WHERE a.order_id IN (SELECT id FROM new_orders)\
        ) SELECT id FROM new_orders",
        orders = names(ORDER_COLUMNS),
        order_arrays = arrays(ORDER_COLUMNS, 1),
        attempts = names(ATTEMPT_COLUMNS),
        attempt_arrays = arrays(ATTEMPT_COLUMNS, attempts_from),
    )
});

/// An order waiting to be written, as the values of its row.
struct Pending {
    /// `ORDER_COLUMNS` values, which start with id, merchant_id, merchant_order_no.
    order: Arc<[SqlValue]>,
    attempt: Option<Arc<[SqlValue]>>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

impl Pending {
    fn text(&self, column: usize) -> &str {
        self.order
            .get(column)
            .and_then(SqlValue::as_text)
            .unwrap_or_default()
    }

    fn id(&self) -> &str {
        self.text(0)
    }

    fn merchant_id(&self) -> &str {
        self.text(1)
    }

    fn merchant_order_no(&self) -> &str {
        self.text(2)
    }
}

#[derive(Clone)]
pub(crate) struct OrderInserter {
    queue: mpsc::Sender<Pending>,
}

impl OrderInserter {
    pub(crate) fn start(engine: Arc<Engine>) -> OrderInserter {
        let (queue, pending) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(engine, pending));
        OrderInserter { queue }
    }

    /// Inserts an order with its first attempt; returns once committed. `Busy` at once if
    /// the queue is full.
    pub(crate) async fn insert(
        &self,
        order: &Order,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        let stopped = || StoreError::Database("the order writer has stopped".into());
        // PostgreSQL's statement pairs an attempt with its order by the attempt's order id.
        if attempt.is_some_and(|a| a.order_id != order.id) {
            return Err(StoreError::Constraint(
                "an attempt must belong to its order".into(),
            ));
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Pending {
                order: order_values(order).into(),
                attempt: attempt.map(|a| attempt_values(a).into()),
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy,
                mpsc::error::TrySendError::Closed(_) => stopped(),
            })?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(engine: Arc<Engine>, mut pending: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // One order for every writer: two instances inserting overlapping numbers lock them
        // in the same sequence and cannot deadlock.
        batch.sort_by(|a, b| {
            (a.merchant_id(), a.merchant_order_no()).cmp(&(b.merchant_id(), b.merchant_order_no()))
        });
        let results = match insert(&engine, &batch).await {
            Ok(inserted) => batch.iter().map(|p| outcome(&inserted, p)).collect(),
            // Nothing was written (the writer's queue or the pool was full): the whole
            // batch is refused alike, at once.
            Err(StoreError::Busy) => batch.iter().map(|_| Err(StoreError::Busy)).collect(),
            Err(e @ StoreError::Database(_)) if batch.len() == 1 => {
                vec![committed_after_all(&engine, &batch[0], e).await]
            }
            Err(e) if batch.len() == 1 => vec![Err(e)],
            Err(e) => one_by_one(&engine, &batch, e).await,
        };
        for (p, result) in batch.drain(..).zip(results) {
            let _ = p.reply.send(result);
        }
    }
}

/// After a batch failed: each order alone, so one bad row cannot fail the rest. A failure
/// that is not about a row (the database is unreachable) fails the rest at once instead of
/// making each wait for its own timeout. An order found already stored under its own id was
/// committed by the batch after all (only the acknowledgement was lost).
async fn one_by_one(
    engine: &Engine,
    batch: &[Pending],
    batch_error: StoreError,
) -> Vec<Result<(), StoreError>> {
    tracing::warn!(error = %batch_error, orders = batch.len(), "batch insert failed; inserting one by one");
    let mut results = Vec::with_capacity(batch.len());
    let mut systemic: Option<StoreError> = None;
    for one in batch {
        if let Some(e) = &systemic {
            results.push(Err(e.clone()));
            continue;
        }
        let result = match insert(engine, std::slice::from_ref(one)).await {
            Ok(inserted) if inserted.contains(one.id()) => Ok(()),
            Ok(_) => stored_as_itself(engine, one).await,
            Err(e @ StoreError::Database(_)) => {
                systemic = Some(e.clone());
                Err(e)
            }
            Err(e) => Err(e),
        };
        results.push(result);
    }
    results
}

/// After the database failed a lone order: `Ok` if the order was committed all the same
/// (only the acknowledgement was lost), the failure otherwise.
async fn committed_after_all(
    engine: &Engine,
    p: &Pending,
    failure: StoreError,
) -> Result<(), StoreError> {
    match stored_as_itself(engine, p).await {
        Ok(()) => Ok(()),
        Err(_) => Err(failure),
    }
}

/// `Ok` if the order number is taken by this very order, `DuplicateOrderNo` otherwise.
async fn stored_as_itself(engine: &Engine, p: &Pending) -> Result<(), StoreError> {
    let found = engine
        .read(
            "SELECT id FROM orders WHERE merchant_id = $1 AND merchant_order_no = $2",
            vec![v(p.merchant_id()), v(p.merchant_order_no())],
            crate::rows::id,
        )
        .await?;
    if found.iter().any(|id| id.as_str() == p.id()) {
        Ok(())
    } else {
        Err(StoreError::DuplicateOrderNo)
    }
}

fn outcome(inserted: &HashSet<String>, p: &Pending) -> Result<(), StoreError> {
    if inserted.contains(p.id()) {
        Ok(())
    } else {
        Err(StoreError::DuplicateOrderNo)
    }
}

fn names(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `?1, ?2, …` for `count` values from `?first`.
fn placeholders(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1::text[], $2::bigint[], …`: one typed array per column, from `$first`.
fn arrays(columns: &[Column], first: usize) -> String {
    columns
        .iter()
        .zip(first..)
        .map(|(c, n)| match c.kind {
            ColumnType::Text => format!("${n}::text[]"),
            ColumnType::Bigint => format!("${n}::bigint[]"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts the batch in one transaction; returns the ids of the orders inserted.
async fn insert(engine: &Engine, batch: &[Pending]) -> Result<HashSet<String>, StoreError> {
    match engine.backend() {
        Backend::Sqlite => insert_row_by_row(engine, batch).await,
        Backend::Postgres => insert_as_arrays(engine, batch).await,
    }
}

async fn insert_row_by_row(
    engine: &Engine,
    batch: &[Pending],
) -> Result<HashSet<String>, StoreError> {
    let steps = batch
        .iter()
        .map(|p| Step {
            sql: Cow::Borrowed(SQLITE_INSERT_ORDER.as_str()),
            values: p.order.clone(),
            guard: Guard::None,
            collect: Collect::IfChanged(p.id().to_owned()),
        })
        .collect();
    // The attempts of the orders that were inserted, once their ids are known.
    let attempts: Vec<(String, Arc<[SqlValue]>)> = batch
        .iter()
        .filter_map(|p| Some((p.id().to_owned(), p.attempt.clone()?)))
        .collect();
    let then = Box::new(move |inserted: &[String]| {
        let inserted: HashSet<&str> = inserted.iter().map(String::as_str).collect();
        attempts
            .into_iter()
            .filter(|(order_id, _)| inserted.contains(order_id.as_str()))
            .map(|(_, values)| Step {
                sql: Cow::Borrowed(SQLITE_INSERT_ATTEMPT.as_str()),
                values,
                guard: Guard::None,
                collect: Collect::Nothing,
            })
            .collect()
    });
    let outcome = engine
        .run(Script {
            steps,
            then: Some(then),
        })
        .await?;
    Ok(outcome.collected.into_iter().collect())
}

async fn insert_as_arrays(
    engine: &Engine,
    batch: &[Pending],
) -> Result<HashSet<String>, StoreError> {
    let orders: Vec<&[SqlValue]> = batch.iter().map(|p| &*p.order).collect();
    let attempts: Vec<&[SqlValue]> = batch.iter().filter_map(|p| p.attempt.as_deref()).collect();
    let mut values = columns(ORDER_COLUMNS, &orders)?;
    values.extend(columns(ATTEMPT_COLUMNS, &attempts)?);
    let inserted = engine
        .write_fetch(POSTGRES_INSERT_BATCH.as_str(), values, crate::rows::id)
        .await?;
    Ok(inserted.into_iter().map(|id| id.to_string()).collect())
}

/// Rows of values turned into one array per column.
fn columns(columns: &[Column], rows: &[&[SqlValue]]) -> Result<Vec<SqlValue>, StoreError> {
    let mismatch = |column: &Column| {
        StoreError::Database(format!(
            "a value of the wrong type for column {}",
            column.name
        ))
    };
    let mut out = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let cells = rows.iter().map(|row| row.get(i));
        out.push(match column.kind {
            ColumnType::Text => SqlValue::TextColumn(
                cells
                    .map(|cell| match cell {
                        Some(SqlValue::Text(s)) => Ok(Some(s.clone())),
                        Some(SqlValue::NullText) => Ok(None),
                        _ => Err(mismatch(column)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            ColumnType::Bigint => SqlValue::BigintColumn(
                cells
                    .map(|cell| match cell {
                        Some(SqlValue::Int(n)) => Ok(Some(*n)),
                        Some(SqlValue::NullInt) => Ok(None),
                        _ => Err(mismatch(column)),
                    })
                    .collect::<Result<_, _>>()?,
            ),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements_use_numbered_placeholders() {
        assert_eq!(placeholders(3, 1), "?1, ?2, ?3");
        assert!(SQLITE_INSERT_ATTEMPT.ends_with(
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ));
    }

    #[test]
    fn postgres_binds_one_typed_array_per_column() {
        let columns = [
            Column {
                name: "a",
                kind: ColumnType::Text,
            },
            Column {
                name: "b",
                kind: ColumnType::Bigint,
            },
        ];
        assert_eq!(arrays(&columns, 3), "$3::text[], $4::bigint[]");
        let rows: [&[SqlValue]; 2] = [&[v("x"), SqlValue::NullInt], &[SqlValue::NullText, v(7)]];
        assert_eq!(
            super::columns(&columns, &rows).unwrap(),
            vec![
                SqlValue::TextColumn(vec![Some("x".into()), None]),
                SqlValue::BigintColumn(vec![None, Some(7)]),
            ]
        );
        let wrong: [&[SqlValue]; 1] = [&[v(1), v(2)]];
        assert!(super::columns(&columns, &wrong).is_err());
    }

    mod against_both_backends {
        use paymux_core::Fen;
        use paymux_core::dialect::DialectTag;
        use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId};
        use paymux_core::order::OrderStatus;
        use paymux_core::payway::{PayMethod, PayWay, Wallet};
        use paymux_core::time::Millis;

        use super::*;

        fn order(id: &str, number: &str) -> Order {
            Order {
                id: PlatformId::from_string(id),
                merchant_id: MerchantId::new("demo"),
                merchant_order_no: MerchantOrderNo::parse(number, 32).expect("number"),
                dialect: DialectTag::new("xxpay"),
                pay_way: PayWay::new(Wallet::WeChat, PayMethod::Qr),
                channel: "sandbox".into(),
                amount: Fen::positive(100).expect("amount"),
                currency: "cny".into(),
                subject: "subject".into(),
                body: "body".into(),
                status: OrderStatus::Paying,
                notify_url: None,
                return_url: None,
                client_ip: None,
                extra: serde_json::Map::new(),
                channel_trade_no: None,
                channel_user: None,
                refund_reserved: Fen::ZERO,
                refunded: Fen::ZERO,
                created_at: Millis(1),
                expires_at: Millis(2),
                paid_at: None,
                closed_at: None,
                merchant_acked_at: None,
                fail_code: None,
                fail_msg: None,
                tries: paymux_core::order::Tries::Once,
                code_id: None,
                also_notify: None,
                escrow: None,
                splits: None,
            }
        }

        fn pending(id: &str, number: &str, with_attempt: bool) -> Pending {
            let o = order(id, number);
            let attempt = Attempt::first(&o, None, None);
            Pending {
                order: order_values(&o).into(),
                attempt: with_attempt.then(|| attempt_values(&attempt).into()),
                reply: oneshot::channel().0,
            }
        }

        /// The batch statement itself, not the one-by-one fallback, must find duplicates
        /// (within the batch and against stored orders) and skip their attempts: the
        /// fallback would give every caller the same answers, only slower.
        #[tokio::test]
        async fn a_batch_finds_its_own_duplicates_and_writes_only_inserted_attempts() {
            let dir = tempfile::tempdir().expect("temp dir");
            let sqlite = format!("sqlite://{}/paymux.db", dir.path().display());
            let postgres = crate::create_test_database("paymux_batch_test")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            for url in [sqlite, postgres.url().to_owned()] {
                let store = crate::connect(&url).await.expect("store");
                let engine = &store.engine;
                let stored = insert(engine, &[pending("P0", "OLD", true)]).await;
                assert_eq!(stored.expect(&url), HashSet::from(["P0".to_owned()]));
                let batch = [
                    pending("P1", "SAME", true),
                    pending("P2", "SAME", true),
                    pending("P3", "OTHER", false),
                    pending("P4", "OLD", true),
                ];
                let inserted = insert(engine, &batch).await.expect(&url);
                assert_eq!(
                    inserted,
                    HashSet::from(["P1".to_owned(), "P3".to_owned()]),
                    "{url}"
                );
                let attempts = engine
                    .read(
                        "SELECT order_id AS id FROM attempts ORDER BY order_id",
                        vec![],
                        crate::rows::id,
                    )
                    .await
                    .expect(&url);
                let attempts: Vec<String> = attempts.iter().map(|id| id.to_string()).collect();
                assert_eq!(attempts, ["P0", "P1"], "{url}");
            }
        }
    }
}
