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
    (
        3,
        include_str!("../migrations/sqlite/0003_bills_and_codes.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_cards.sql")),
    (
        5,
        include_str!("../migrations/sqlite/0005_attempt_funding.sql"),
    ),
    (6, include_str!("../migrations/sqlite/0006_code_splits.sql")),
    (
        7,
        include_str!("../migrations/sqlite/0007_code_checks_and_bound_phones.sql"),
    ),
    (
        8,
        include_str!("../migrations/sqlite/0008_attempt_memo.sql"),
    ),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_leases_outbox_secrets.sql"),
    ),
    (
        3,
        include_str!("../migrations/postgres/0003_bills_and_codes.sql"),
    ),
    (4, include_str!("../migrations/postgres/0004_cards.sql")),
    (
        5,
        include_str!("../migrations/postgres/0005_attempt_funding.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_code_splits.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_code_checks_and_bound_phones.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_attempt_memo.sql"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Re-sends queued before 0002 (several pending rows for one order and event) are
    /// collapsed to the oldest, so that the unique index can be built on an existing
    /// database and the gateway starts.
    const DUPLICATES: &str = "INSERT INTO notifications (id, merchant_id, dialect, event, subject_id, url, status, \
         attempts, next_attempt_at, created_at) VALUES \
         ('N3', 'demo', 'xxpay', 'pay', 'P1', 'http://m/n', 'pending', 0, 30, 30), \
         ('N9', 'demo', 'xxpay', 'pay', 'P1', 'http://m/n', 'pending', 2, 10, 10), \
         ('N2', 'demo', 'xxpay', 'pay', 'P1', 'http://m/n', 'pending', 0, 20, 20), \
         ('N4', 'demo', 'xxpay', 'pay', 'P1', 'http://m/n', 'delivered', 1, 5, 5), \
         ('N5', 'demo', 'xxpay', 'refund', 'P1', 'http://m/n', 'pending', 0, 40, 40), \
         ('N6', 'demo', 'xxpay', 'pay', 'P2', 'http://m/n', 'pending', 0, 50, 50)";
    const LEFT: &str = "SELECT id FROM notifications ORDER BY id";

    #[test]
    fn sqlite_upgrades_a_database_with_duplicate_pending_notifications() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = rusqlite::Connection::open(dir.path().join("old.db")).expect("open");
        conn.execute_batch(LEDGER).expect("ledger");
        conn.execute_batch(SQLITE[0].1).expect("0001");
        conn.execute("INSERT INTO paymux_migrations VALUES (1, 0)", [])
            .expect("record");
        conn.execute_batch(DUPLICATES).expect("rows");
        apply_sqlite(&conn).expect("0002 applies");
        let mut statement = conn.prepare(LEFT).expect("prepare");
        let left: Vec<String> = statement
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            left,
            ["N4", "N5", "N6", "N9"],
            "the oldest pending one is kept"
        );
    }

    #[tokio::test]
    async fn postgres_upgrades_a_database_with_duplicate_pending_notifications() {
        let db = crate::create_test_database("paymux_migration_test")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let pool = PgPool::connect(db.url()).await.expect("pool");
        sqlx::raw_sql(LEDGER).execute(&pool).await.expect("ledger");
        sqlx::raw_sql(AssertSqlSafe(POSTGRES[0].1))
            .execute(&pool)
            .await
            .expect("0001");
        sqlx::query("INSERT INTO paymux_migrations VALUES (1, 0)")
            .execute(&pool)
            .await
            .expect("record");
        sqlx::raw_sql(DUPLICATES)
            .execute(&pool)
            .await
            .expect("rows");
        apply_postgres(&pool).await.expect("0002 applies");
        let left: Vec<String> = sqlx::query_scalar(LEFT)
            .fetch_all(&pool)
            .await
            .expect("rows");
        assert_eq!(
            left,
            ["N4", "N5", "N6", "N9"],
            "the oldest pending one is kept"
        );
        pool.close().await;
    }
}
