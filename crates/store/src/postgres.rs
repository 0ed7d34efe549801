//! The PostgreSQL engine: sqlx's pool; each script is one transaction. Several gateway
//! instances can share the database: guarded updates and row claims with `SKIP LOCKED`
//! keep them from deciding the same thing twice.

use std::str::FromStr;
use std::time::Duration;

use paymux_core::store::StoreError;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Postgres, Row};

use crate::rows::{Mapper, RowAccess};
use crate::script::{Collect, Guard, Script, ScriptOutcome, SqlValue, Step};

pub(crate) struct PgEngine {
    pool: PgPool,
}

/// Connections per instance at most. PostgreSQL serves each with a process of its own
/// (several MB); the writes are short transactions and new orders go as batches, so 16 keep
/// a 2-core server busy while several instances stay well within its default 100.
pub(crate) const MAX_CONNECTIONS: u32 = 16;

/// How long a statement waits for a connection (opening one included) before it answers
/// `Busy`: a statement takes milliseconds, so all 16 taken for this long means the
/// database is overloaded or unreachable, and the caller is better told at once.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

fn pg_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::PoolTimedOut = e {
        return StoreError::Busy;
    }
    if let sqlx::Error::Database(dbe) = &e
        && let Some(constraint) = dbe.constraint()
        && let Some(key) = crate::unique_key_by_constraint(constraint)
    {
        return key;
    }
    // SQLSTATE class 23: integrity constraint violation; class 22: a value the column
    // cannot hold (a NUL character in text, say). Both are about one row.
    if let sqlx::Error::Database(dbe) = &e
        && dbe
            .code()
            .is_some_and(|code| code.starts_with("23") || code.starts_with("22"))
    {
        return StoreError::Constraint(e.to_string());
    }
    StoreError::Database(e.to_string())
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

fn bind<'q>(query: PgQuery<'q>, values: &'q [SqlValue]) -> PgQuery<'q> {
    values.iter().fold(query, |q, value| match value {
        SqlValue::Int(i) => q.bind(*i),
        SqlValue::Text(s) => q.bind(s.as_str()),
        SqlValue::NullInt => q.bind(None::<i64>),
        SqlValue::NullText => q.bind(None::<&str>),
        SqlValue::TextColumn(column) => q.bind(column.as_slice()),
        SqlValue::BigintColumn(column) => q.bind(column.as_slice()),
    })
}

struct PgRowAccess<'r>(&'r PgRow);

impl RowAccess for PgRowAccess<'_> {
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.0
            .try_get(column)
            .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.0
            .try_get(column)
            .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    }
}

/// Runs steps in order; `false` when a guard found nothing to change.
async fn run_steps(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    steps: Vec<Step>,
    collected: &mut Vec<String>,
) -> Result<bool, StoreError> {
    for step in steps {
        let query = bind(sqlx::query(AssertSqlSafe(step.sql)), &step.values);
        let changed = query
            .execute(&mut **tx)
            .await
            .map_err(pg_error)?
            .rows_affected();
        if let Collect::IfChanged(text) = step.collect
            && changed > 0
        {
            collected.push(text);
        }
        if step.guard == Guard::Required && changed == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

impl PgEngine {
    pub(crate) async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<PgEngine, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(pg_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| match e {
                // At start-up no connection within the timeout is no server, not overload.
                sqlx::Error::PoolTimedOut => StoreError::Database(format!(
                    "no PostgreSQL answered at {} within {} s",
                    crate::redact_url(url),
                    acquire_timeout.as_secs_f32()
                )),
                e => pg_error(e),
            })?;
        crate::migrations::apply_postgres(&pool).await?;
        Ok(PgEngine { pool })
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn run(&self, script: Script) -> Result<ScriptOutcome, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        let mut collected = Vec::new();
        let mut applied = run_steps(&mut tx, script.steps, &mut collected).await?;
        if applied && let Some(then) = script.then {
            let more = then(&collected);
            applied = run_steps(&mut tx, more, &mut collected).await?;
        }
        if !applied {
            tx.rollback().await.map_err(pg_error)?;
            return Ok(ScriptOutcome::default());
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(ScriptOutcome {
            applied: true,
            collected,
        })
    }

    /// One statement, on its own (it commits by itself); reads and single-statement writes.
    pub(crate) async fn fetch<T>(
        &self,
        sql: &'static str,
        values: Vec<SqlValue>,
        map: Mapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = bind(sqlx::query(sql), &values)
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter().map(|row| map(&PgRowAccess(row))).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::rows;
    use crate::script::v;

    #[tokio::test]
    async fn a_full_pool_answers_busy_and_the_store_carries_on() {
        let db = crate::create_test_database("paymux_pool_test")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let wait = Duration::from_millis(300);
        let engine = PgEngine::connect(db.url(), 2, wait).await.expect("engine");
        let insert = || {
            Script::of(vec![Step::new(
                "INSERT INTO gateway_secrets (name, value, created_at) VALUES ($1, 'v', 0)",
                vec![v("only one is written")],
            )])
        };
        let held = (
            engine.pool.acquire().await.expect("first"),
            engine.pool.acquire().await.expect("second"),
        );
        let started = Instant::now();
        let read = engine.fetch("SELECT 1 AS n", vec![], rows::first_int).await;
        assert!(matches!(read, Err(StoreError::Busy)), "{read:?}");
        assert!(started.elapsed() >= wait);
        let write = engine.run(insert()).await;
        assert!(matches!(write, Err(StoreError::Busy)), "{write:?}");
        drop(held);
        assert!(engine.run(insert()).await.expect("write").applied);
        let count = engine
            .fetch(
                "SELECT COUNT(*) AS n FROM gateway_secrets",
                vec![],
                rows::first_int,
            )
            .await
            .expect("read");
        assert_eq!(count, vec![1], "the refused write wrote nothing");
        engine.close().await;
    }
}
