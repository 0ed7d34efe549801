//! Group commit for new orders. Creating orders is the hot path, and a commit is an fsync:
//! one task takes every order waiting to be inserted, writes them in one transaction
//! (multi-row inserts), commits once, and answers each caller. A caller is answered only
//! after the commit, so an acknowledged order is on disk.
//!
//! Duplicate order numbers are found by `ON CONFLICT DO NOTHING RETURNING id`: the rows the
//! database did not insert are the duplicates, including two of the same batch. If a batch
//! fails as a whole, its orders are retried one by one so one bad row cannot fail the rest.

use std::collections::HashSet;

use paymux_core::order::{Attempt, Order};
use paymux_core::store::StoreError;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use crate::Backend;
use crate::sql::{ATTEMPT_COLUMNS, AnyQuery, ORDER_COLUMNS, bind_attempt, bind_order};

/// Rows per statement: fixed sizes, so few distinct statements are prepared and cached.
const CHUNKS: [usize; 6] = [32, 16, 8, 4, 2, 1];
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
    pub(crate) fn start(backend: Backend, writer: AnyPool) -> OrderInserter {
        let (queue, pending) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(backend, writer, pending));
        OrderInserter { queue }
    }

    /// Inserts an order with its first attempt; returns once committed.
    pub(crate) async fn insert(
        &self,
        order: Order,
        attempt: Option<Attempt>,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                order,
                attempt,
                reply,
            })
            .await
            .map_err(|_| StoreError::Database("the order writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the order writer has stopped".into()))?
    }
}

async fn run(backend: Backend, writer: AnyPool, mut pending: mpsc::Receiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let results = match insert_batch(backend, &writer, &batch).await {
            Ok(inserted) => batch
                .iter()
                .map(|p| {
                    if inserted.contains(p.order.id.as_str()) {
                        Ok(())
                    } else {
                        Err(StoreError::DuplicateOrderNo)
                    }
                })
                .collect(),
            Err(e) if batch.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::warn!(error = %e, orders = batch.len(), "batch insert failed; inserting one by one");
                let mut results = Vec::with_capacity(batch.len());
                for one in &batch {
                    let single = std::slice::from_ref(one);
                    results.push(match insert_batch(backend, &writer, single).await {
                        Ok(inserted) if inserted.contains(one.order.id.as_str()) => Ok(()),
                        Ok(_) => Err(StoreError::DuplicateOrderNo),
                        Err(e) => Err(e),
                    });
                }
                results
            }
        };
        for (p, result) in batch.into_iter().zip(results) {
            let _ = p.reply.send(result);
        }
    }
}

/// `INSERT INTO table (cols) VALUES ($1, …), ($k, …) …` for `rows` rows. SQLite gets
/// anonymous `?` placeholders: sqlx looks each named parameter up by name, which SQLite
/// does by a linear scan, quadratic in the hundreds of values of a batch.
fn insert_sql(
    backend: Backend,
    table: &str,
    columns: &[&str],
    rows: usize,
    suffix: &str,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 1;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..columns.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                    n += 1;
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(suffix);
    sql
}

/// Splits `n` rows into the fixed chunk sizes, largest first.
fn chunk_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    for size in CHUNKS {
        while n >= size {
            sizes.push(size);
            n -= size;
        }
    }
    sizes
}

/// Inserts the batch in one transaction; returns the ids of the orders inserted.
async fn insert_batch(
    backend: Backend,
    writer: &AnyPool,
    batch: &[Pending],
) -> Result<HashSet<String>, StoreError> {
    let mut tx = match backend {
        Backend::Sqlite => writer.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => writer.begin().await,
    }
    .map_err(crate::db)?;
    let mut inserted = HashSet::with_capacity(batch.len());
    let mut offset = 0;
    for size in chunk_sizes(batch.len()) {
        let rows = &batch[offset..offset + size];
        offset += size;
        let sql = insert_sql(
            backend,
            "orders",
            ORDER_COLUMNS,
            size,
            " ON CONFLICT (merchant_id, merchant_order_no) DO NOTHING RETURNING id",
        );
        let mut query: AnyQuery = sqlx::query(AssertSqlSafe(sql));
        for p in rows {
            query = bind_order(query, &p.order);
        }
        for row in query
            .fetch_all(&mut *tx)
            .await
            .map_err(crate::sql::write_error)?
        {
            inserted.insert(row.try_get::<String, _>("id").map_err(crate::db)?);
        }
    }
    let attempts: Vec<&Attempt> = batch
        .iter()
        .filter(|p| inserted.contains(p.order.id.as_str()))
        .filter_map(|p| p.attempt.as_ref())
        .collect();
    let mut offset = 0;
    for size in chunk_sizes(attempts.len()) {
        let rows = &attempts[offset..offset + size];
        offset += size;
        let mut query: AnyQuery = sqlx::query(AssertSqlSafe(insert_sql(
            backend,
            "attempts",
            ATTEMPT_COLUMNS,
            size,
            "",
        )));
        for a in rows {
            query = bind_attempt(query, a);
        }
        query
            .execute(&mut *tx)
            .await
            .map_err(crate::sql::write_error)?;
    }
    tx.commit().await.map_err(crate::db)?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_the_fixed_statement_sizes() {
        assert_eq!(chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1), vec![1]);
        assert_eq!(chunk_sizes(35), vec![32, 2, 1]);
        assert_eq!(chunk_sizes(64), vec![32, 32]);
        assert_eq!(chunk_sizes(31), vec![16, 8, 4, 2, 1]);
    }

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(
            insert_sql(Backend::Postgres, "t", &["a", "b"], 2, ""),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql(Backend::Sqlite, "t", &["a", "b"], 2, ""),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
