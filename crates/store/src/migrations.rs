//! Schema migrations, applied at start-up: `migrations/sqlite/` and `migrations/postgres/`
//! hold the same tables and constraint names. Applied versions are recorded in
//! `paymux_migrations`; on PostgreSQL an advisory lock keeps instances that start together
//! from migrating twice.

use paymux_core::store::StoreError;
use sqlx::{AssertSqlSafe, PgPool};

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_leases_outbox_secrets.sql"),
    ),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_leases_outbox_secrets.sql"),
    ),
];

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS paymux_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn apply_sqlite(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let db = |e: rusqlite::Error| StoreError::Database(format!("migration: {e}"));
    // Immediate: two processes opening a new file together take turns instead of failing.
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    tx.execute_batch(LEDGER).map_err(db)?;
    for (version, sql) in SQLITE {
        let applied: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM paymux_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .map_err(db)?;
        if applied == 0 {
            tx.execute_batch(sql).map_err(db)?;
            tx.execute(
                "INSERT INTO paymux_migrations (version, applied_at) VALUES (?1, ?2)",
                [*version, now_ms()],
            )
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}

pub(crate) async fn apply_postgres(pool: &PgPool) -> Result<(), StoreError> {
    let db = |e: sqlx::Error| StoreError::Database(format!("migration: {e}"));
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock(7268097)")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::query(LEDGER).execute(&mut *tx).await.map_err(db)?;
    for (version, sql) in POSTGRES {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM paymux_migrations WHERE version = $1")
                .bind(*version)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        if applied == 0 {
            sqlx::raw_sql(AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query("INSERT INTO paymux_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
    }
    tx.commit().await.map_err(db)
}
