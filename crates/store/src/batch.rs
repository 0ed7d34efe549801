//! Group commit for new orders, the hot path. One task takes every order waiting to be
//! inserted and writes them as one script: multi-row inserts in one transaction, one commit
//! (one fsync), then answers each caller. A caller is answered only after the commit, so an
//! acknowledged order is on disk.
//!
//! Duplicate order numbers are found by `ON CONFLICT DO NOTHING RETURNING id`: the orders
//! the database did not insert are the duplicates, two of the same batch included; only the
//! inserted orders' attempts are written after them. If a batch fails as a whole, its orders are
//! retried one by one, so one bad row cannot fail the others.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use paymux_core::order::{Attempt, Order};
use paymux_core::store::StoreError;
use tokio::sync::{mpsc, oneshot};

use crate::Engine;
use crate::script::{Guard, Script, Step, v};
use crate::sql::{ATTEMPT_COLUMNS, ORDER_COLUMNS, attempt_values, order_values};

/// Rows per statement on PostgreSQL: fixed sizes, so few distinct statements are prepared
/// and cached; every statement is a round trip. SQLite inserts row by row: its statements
/// run in-process, and a statement that inserts several rows needs a statement journal
/// (a copy of every page it touches) in case it fails halfway.
const POSTGRES_CHUNKS: &[usize] = &[32, 16, 8, 4, 2, 1];
const SQLITE_CHUNKS: &[usize] = &[1];
/// Orders per transaction at most.
const MAX_BATCH: usize = 256;

struct Pending {
    order: Order,
    attempt: Option<Attempt>,
    reply: oneshot::Sender<Result<(), StoreError>>,
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
        order: Order,
        attempt: Option<Attempt>,
    ) -> Result<(), StoreError> {
        let stopped = || StoreError::Database("the order writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                order,
                attempt,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(engine: Arc<Engine>, mut pending: mpsc::Receiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // One order for every writer: two instances inserting overlapping numbers lock them
        // in the same sequence and cannot deadlock.
        batch.sort_by(|a, b| {
            (
                a.order.merchant_id.as_str(),
                a.order.merchant_order_no.as_str(),
            )
                .cmp(&(
                    b.order.merchant_id.as_str(),
                    b.order.merchant_order_no.as_str(),
                ))
        });
        let results = match insert(&engine, &batch).await {
            Ok(inserted) => batch.iter().map(|p| outcome(&inserted, p)).collect(),
            Err(e) if batch.len() == 1 => vec![Err(e)],
            Err(e) => one_by_one(&engine, &batch, e).await,
        };
        for (p, result) in batch.into_iter().zip(results) {
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
            Ok(inserted) if inserted.contains(one.order.id.as_str()) => Ok(()),
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
            vec![
                v(p.order.merchant_id.as_str()),
                v(p.order.merchant_order_no.as_str()),
            ],
            crate::rows::id,
        )
        .await?;
    if found.iter().any(|id| id == &p.order.id) {
        Ok(())
    } else {
        Err(StoreError::DuplicateOrderNo)
    }
}

fn outcome(inserted: &HashSet<String>, p: &Pending) -> Result<(), StoreError> {
    if inserted.contains(p.order.id.as_str()) {
        Ok(())
    } else {
        Err(StoreError::DuplicateOrderNo)
    }
}

/// `($1, $2, …), ($k, …) …` for `rows` rows of `columns` values.
fn values_list(columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    let mut n = 1;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..columns {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&n.to_string());
            n += 1;
        }
        sql.push(')');
    }
    sql
}

fn insert_orders_sql(rows: usize) -> String {
    format!(
        "INSERT INTO orders ({}) VALUES {} ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING RETURNING id",
        ORDER_COLUMNS.join(", "),
        values_list(ORDER_COLUMNS.len(), rows)
    )
}

fn insert_attempts_sql(rows: usize) -> String {
    format!(
        "INSERT INTO attempts ({}) VALUES {}",
        ATTEMPT_COLUMNS.join(", "),
        values_list(ATTEMPT_COLUMNS.len(), rows)
    )
}

/// Splits `n` rows into the fixed chunk sizes, largest first.
fn chunk_sizes(chunks: &[usize], mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    for &size in chunks {
        while n >= size {
            sizes.push(size);
            n -= size;
        }
    }
    sizes
}

/// Inserts the batch in one transaction; returns the ids of the orders inserted.
async fn insert(engine: &Engine, batch: &[Pending]) -> Result<HashSet<String>, StoreError> {
    let chunks = match engine.backend() {
        crate::Backend::Sqlite => SQLITE_CHUNKS,
        crate::Backend::Postgres => POSTGRES_CHUNKS,
    };
    let mut steps = Vec::new();
    let mut rest = batch;
    for size in chunk_sizes(chunks, batch.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        steps.push(Step {
            sql: Cow::Owned(insert_orders_sql(size)),
            values: chunk.iter().flat_map(|p| order_values(&p.order)).collect(),
            guard: Guard::None,
            collect: true,
        });
    }
    // The attempts of the orders that were inserted, once their ids are known.
    let attempts: Vec<Attempt> = batch.iter().filter_map(|p| p.attempt.clone()).collect();
    let then = Box::new(move |inserted: &[String]| {
        let inserted: HashSet<&str> = inserted.iter().map(String::as_str).collect();
        let attempts: Vec<&Attempt> = attempts
            .iter()
            .filter(|a| inserted.contains(a.order_id.as_str()))
            .collect();
        let mut steps = Vec::new();
        let mut rest = attempts.as_slice();
        for size in chunk_sizes(chunks, attempts.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            steps.push(Step {
                sql: Cow::Owned(insert_attempts_sql(size)),
                values: chunk.iter().flat_map(|a| attempt_values(a)).collect(),
                guard: Guard::None,
                collect: false,
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
        assert_eq!(chunk_sizes(POSTGRES_CHUNKS, 0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(POSTGRES_CHUNKS, 1), vec![1]);
        assert_eq!(chunk_sizes(POSTGRES_CHUNKS, 35), vec![32, 2, 1]);
        assert_eq!(chunk_sizes(POSTGRES_CHUNKS, 64), vec![32, 32]);
        assert_eq!(chunk_sizes(POSTGRES_CHUNKS, 31), vec![16, 8, 4, 2, 1]);
        assert_eq!(chunk_sizes(SQLITE_CHUNKS, 3), vec![1, 1, 1]);
    }

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(values_list(2, 2), "($1, $2), ($3, $4)");
    }
}
