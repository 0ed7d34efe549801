//! Group commit for new orders, the hot path. One task takes every order waiting to be
//! inserted and writes them as one script: its inserts in one transaction, one commit
//! (one fsync), then answers each caller. A caller is answered only after the commit, so an
//! acknowledged order is on disk.
//!
//! Duplicate order numbers are found by `ON CONFLICT DO NOTHING` (and `RETURNING id` or the
//! count of changed rows): the orders the database did not insert are the duplicates, two
//! of the same batch included; only the
//! inserted orders' attempts are written after them. If a batch fails as a whole, its orders are
//! retried one by one, so one bad row cannot fail the others.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use paymux_core::order::{Attempt, Order};
use paymux_core::store::StoreError;
use tokio::sync::{mpsc, oneshot};

use crate::script::{Collect, Guard, Script, SqlValue, Step, v};
use crate::sql::{ATTEMPT_COLUMNS, ORDER_COLUMNS, attempt_values, order_values};
use crate::{Backend, Engine};

/// Orders per transaction at most.
const MAX_BATCH: usize = 256;

/// The insert statements for one number of rows, built once.
struct Chunk {
    rows: usize,
    /// Says which orders it inserted by `RETURNING id`; otherwise by its count of changes.
    returns_ids: bool,
    orders: String,
    attempts: String,
}

/// PostgreSQL inserts up to 32 rows per statement: every statement is a round trip, and
/// fixed sizes keep the prepared statements few. SQLite inserts row by row: its statements
/// run in-process, and a statement that inserts several rows needs a statement journal (a
/// copy of every page it touches) in case it fails halfway. SQLite learns whether an order
/// was inserted from the count of changed rows rather than from `RETURNING`, for which it
/// would build a temporary table each time. Its statements are written with SQLite's own
/// `?n` placeholders, so the writer need not rewrite them for every order.
static POSTGRES_CHUNKS: LazyLock<Vec<Chunk>> = LazyLock::new(|| {
    [32, 16, 8, 4, 2, 1]
        .into_iter()
        .map(|rows| Chunk {
            rows,
            returns_ids: true,
            orders: insert_orders_sql(rows, '$', " RETURNING id"),
            attempts: insert_attempts_sql(rows, '$'),
        })
        .collect()
});
static SQLITE_CHUNKS: LazyLock<Vec<Chunk>> = LazyLock::new(|| {
    vec![Chunk {
        rows: 1,
        returns_ids: false,
        orders: insert_orders_sql(1, '?', ""),
        attempts: insert_attempts_sql(1, '?'),
    }]
});

/// An order waiting to be written, as the values of its row.
struct Pending {
    /// `ORDER_COLUMNS` values, which start with id, merchant_id, merchant_order_no.
    order: Vec<SqlValue>,
    attempt: Option<Vec<SqlValue>>,
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
        let (queue, pending) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(engine, pending));
        OrderInserter { queue }
    }

    /// Inserts an order with its first attempt; returns once committed.
    pub(crate) async fn insert(
        &self,
        order: &Order,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        let stopped = || StoreError::Database("the order writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                order: order_values(order),
                attempt: attempt.map(attempt_values),
                reply,
            })
            .await
            .map_err(|_| stopped())?;
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

/// `($1, $2, …), ($k, …) …` for `rows` rows of `columns` values; `mark` is `$` or `?`.
fn values_list(columns: usize, rows: usize, mark: char) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    let mut n = 1;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..columns {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push(mark);
            sql.push_str(&n.to_string());
            n += 1;
        }
        sql.push(')');
    }
    sql
}

fn insert_orders_sql(rows: usize, mark: char, returning: &str) -> String {
    format!(
        "INSERT INTO orders ({}) VALUES {} ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING{returning}",
        ORDER_COLUMNS.join(", "),
        values_list(ORDER_COLUMNS.len(), rows, mark)
    )
}

fn insert_attempts_sql(rows: usize, mark: char) -> String {
    format!(
        "INSERT INTO attempts ({}) VALUES {}",
        ATTEMPT_COLUMNS.join(", "),
        values_list(ATTEMPT_COLUMNS.len(), rows, mark)
    )
}

/// Splits `n` rows into the fixed chunk sizes, largest first.
fn split(chunks: &'static [Chunk], mut n: usize) -> Vec<&'static Chunk> {
    let mut sizes = Vec::new();
    for chunk in chunks {
        while n >= chunk.rows {
            sizes.push(chunk);
            n -= chunk.rows;
        }
    }
    sizes
}

/// Inserts the batch in one transaction; returns the ids of the orders inserted.
async fn insert(engine: &Engine, batch: &[Pending]) -> Result<HashSet<String>, StoreError> {
    let chunks: &'static [Chunk] = match engine.backend() {
        Backend::Sqlite => &SQLITE_CHUNKS,
        Backend::Postgres => &POSTGRES_CHUNKS,
    };
    let mut steps = Vec::new();
    let mut rest = batch;
    for chunk in split(chunks, batch.len()) {
        let (rows, tail) = rest.split_at(chunk.rows);
        rest = tail;
        steps.push(Step {
            sql: Cow::Borrowed(chunk.orders.as_str()),
            values: rows.iter().flat_map(|p| p.order.iter().cloned()).collect(),
            guard: Guard::None,
            collect: match rows {
                [one] if !chunk.returns_ids => Collect::IfChanged(one.id().to_owned()),
                _ => Collect::Rows,
            },
        });
    }
    // The attempts of the orders that were inserted, once their ids are known.
    let attempts: Vec<(String, Vec<SqlValue>)> = batch
        .iter()
        .filter_map(|p| Some((p.id().to_owned(), p.attempt.clone()?)))
        .collect();
    let then = Box::new(move |inserted: &[String]| {
        let inserted: HashSet<&str> = inserted.iter().map(String::as_str).collect();
        let attempts: Vec<Vec<SqlValue>> = attempts
            .into_iter()
            .filter(|(order_id, _)| inserted.contains(order_id.as_str()))
            .map(|(_, values)| values)
            .collect();
        let mut steps = Vec::new();
        let mut rest = attempts.as_slice();
        for chunk in split(chunks, attempts.len()) {
            let (rows, tail) = rest.split_at(chunk.rows);
            rest = tail;
            steps.push(Step {
                sql: Cow::Borrowed(chunk.attempts.as_str()),
                values: rows.concat(),
                guard: Guard::None,
                collect: Collect::Nothing,
            });
        }
        steps
    });
    let outcome = engine
        .run(Script {
            steps,
            then: Some(then),
        })
        .await?;
    Ok(outcome.collected.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_the_fixed_statement_sizes() {
        let sizes = |chunks, n| split(chunks, n).iter().map(|c| c.rows).collect::<Vec<_>>();
        assert_eq!(sizes(&POSTGRES_CHUNKS, 0), Vec::<usize>::new());
        assert_eq!(sizes(&POSTGRES_CHUNKS, 1), vec![1]);
        assert_eq!(sizes(&POSTGRES_CHUNKS, 35), vec![32, 2, 1]);
        assert_eq!(sizes(&POSTGRES_CHUNKS, 64), vec![32, 32]);
        assert_eq!(sizes(&POSTGRES_CHUNKS, 31), vec![16, 8, 4, 2, 1]);
        assert_eq!(sizes(&SQLITE_CHUNKS, 3), vec![1, 1, 1]);
    }

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(values_list(2, 2, '$'), "($1, $2), ($3, $4)");
        assert_eq!(values_list(2, 1, '?'), "(?1, ?2)");
    }
}
