//! The store: one implementation of [`paymux_core::store::Store`], its SQL written once,
//! run by one of two engines: SQLite (the embedded default) and PostgreSQL (several gateway
//! instances sharing one database).
//!
//! # Layout
//!
//! - [`connect`]: opens the database a URL names and applies the migrations
//!   (`migrations/sqlite/`, `migrations/postgres/`: the same tables and constraint names).
//! - `sql.rs`: the queries and the `Store` implementation. Every write is a [`script`] of
//!   statements run in one transaction, the guarded ones naming the state they start from.
//! - `sqlite.rs`: rusqlite on a writer thread (group commit of every waiting script) and a
//!   reader pool, both bounded, and a lock that keeps a second process off the file.
//!   `postgres.rs`: sqlx's pool, a transaction per script. Either answers
//!   `StoreError::Busy` at once when full, rather than queueing without bound.
//! - `batch.rs`: new orders, inserted many per statement.
//! - `cards.rs`: card bindings, SMS codes, pages of paid orders.
//! - `rows.rs`: rows to domain records, for both engines.

mod batch;
mod cards;
mod migrations;
mod postgres;
mod rows;
mod script;
mod sql;
mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use paymux_core::store::StoreError;

use crate::batch::OrderInserter;
use crate::postgres::PgEngine;
use crate::rows::Mapper;
use crate::script::{Script, ScriptOutcome, SqlValue};
use crate::sqlite::SqliteEngine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct SqlStore {
    engine: Arc<Engine>,
    inserter: OrderInserter,
}

pub(crate) enum Engine {
    Sqlite(SqliteEngine),
    Postgres(PgEngine),
}

/// A business key the database enforces: its PostgreSQL constraint name, the column list
/// SQLite names in its message, and the error it means.
struct UniqueKey {
    constraint: &'static str,
    columns: &'static str,
    error: fn() -> StoreError,
}

const UNIQUE_KEYS: [UniqueKey; 4] = [
    UniqueKey {
        constraint: "orders_merchant_order_no_key",
        columns: "orders.merchant_id, orders.merchant_order_no",
        error: || StoreError::DuplicateOrderNo,
    },
    UniqueKey {
        constraint: "refunds_refund_no_key",
        columns: "refunds.merchant_id, refunds.refund_no",
        error: || StoreError::DuplicateRefundNo,
    },
    UniqueKey {
        constraint: "payment_codes_ref_key",
        columns: "payment_codes.merchant_id, payment_codes.code_ref",
        error: || StoreError::DuplicateCodeRef,
    },
    UniqueKey {
        constraint: "refunds_request_no_key",
        columns: "refunds.merchant_id, refunds.request_no",
        error: || StoreError::DuplicateRequestNo,
    },
];

pub(crate) fn unique_key_by_constraint(name: &str) -> Option<StoreError> {
    UNIQUE_KEYS
        .iter()
        .find(|k| k.constraint == name)
        .map(|k| (k.error)())
}

pub(crate) fn unique_key_by_columns(message: &str) -> Option<StoreError> {
    UNIQUE_KEYS
        .iter()
        .find(|k| message.contains(k.columns))
        .map(|k| (k.error)())
}

impl Engine {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Engine::Sqlite(_) => Backend::Sqlite,
            Engine::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs a write script in one transaction.
    pub(crate) async fn run(&self, script: Script) -> Result<ScriptOutcome, StoreError> {
        match self {
            Engine::Sqlite(e) => e.run(script).await,
            Engine::Postgres(e) => e.run(script).await,
        }
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        sql: &'static str,
        values: Vec<SqlValue>,
        map: Mapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Engine::Sqlite(e) => e.read(sql, values, map).await,
            Engine::Postgres(e) => e.fetch(sql, values, map).await,
        }
    }

    /// One writing statement whose returned rows are wanted (row claims).
    pub(crate) async fn write_fetch<T: Send + 'static>(
        &self,
        sql: &'static str,
        values: Vec<SqlValue>,
        map: Mapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Engine::Sqlite(e) => e.write_fetch(sql, values, map).await,
            Engine::Postgres(e) => e.fetch(sql, values, map).await,
        }
    }
}

impl SqlStore {
    pub fn backend(&self) -> Backend {
        self.engine.backend()
    }

    /// Closes the connections once the writes already queued are done; on SQLite, also
    /// releases the file's lock, so that a restart can open it at once. Later calls on
    /// the store fail.
    pub async fn close(&self) {
        match self.engine.as_ref() {
            Engine::Sqlite(e) => e.close().await,
            Engine::Postgres(e) => e.close().await,
        }
    }
}

/// A database URL without its password (in the user part or a `password=` parameter),
/// for messages.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &base[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    format!("{}://{}:***@{}", &base[..scheme_end], user, &base[at + 1..])
                }
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// The same server URL with another database: the path replaced, the query kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Opens the database at `url` (`sqlite://path/to/file.db`, creating it if missing, or
/// `postgres://user@host/db`) and migrates it.
pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
    let engine = if url.starts_with("sqlite:") {
        let path = sqlite_path(url).ok_or_else(|| {
            StoreError::Database(format!(
                "a SQLite URL needs a file path (sqlite://path/to/file.db): {url}"
            ))
        })?;
        let engine =
            tokio::task::spawn_blocking(move || SqliteEngine::open(path, sqlite::Limits::DEFAULT))
                .await
                .map_err(|e| StoreError::Database(format!("opening SQLite failed: {e}")))??;
        Engine::Sqlite(engine)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Engine::Postgres(
            PgEngine::connect(url, postgres::MAX_CONNECTIONS, postgres::ACQUIRE_TIMEOUT).await?,
        )
    } else {
        return Err(StoreError::Database(format!(
            "unsupported database URL (use sqlite:// or postgres://): {}",
            redact_url(url)
        )));
    };
    let engine = Arc::new(engine);
    Ok(SqlStore {
        inserter: OrderInserter::start(engine.clone()),
        engine,
    })
}

/// The server the tests create their databases on, unless `PAYMUX_TEST_POSTGRES` names one.
const DEFAULT_TEST_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Test databases older than this were left by a run that crashed (a finished test drops
/// its own), and are dropped when the next one starts.
const STALE_TEST_DATABASE_S: u64 = 15 * 60;

/// A fresh, empty PostgreSQL database for one test, dropped when this is dropped: when
/// the test ends, and also when it fails (drop runs while the panic unwinds). Databases
/// that earlier runs of the same prefix left behind for more than 15 minutes (a crashed
/// run never drops its own) are dropped when the next one is created.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    /// The URL to connect to (the server of `PAYMUX_TEST_POSTGRES`, this database).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    /// `drop` cannot await: the database is dropped from a thread with a runtime of its
    /// own, and waited for, so that it is gone when the test ends. `FORCE` ends the
    /// connections the test's store may still hold.
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Database(e.to_string()))?;
            runtime.block_on(async {
                use sqlx::Connection;
                let db = |e: sqlx::Error| StoreError::Database(e.to_string());
                let mut conn = sqlx::PgConnection::connect(&admin).await.map_err(db)?;
                drop_database(&mut conn, &name).await?;
                conn.close().await.map_err(db)
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "could not drop the test database {} ({e}); the next run drops it",
                self.name
            ),
            Err(_) => eprintln!(
                "could not drop the test database {}; the next run drops it",
                self.name
            ),
        }
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

async fn drop_database(conn: &mut sqlx::PgConnection, name: &str) -> Result<(), StoreError> {
    // Only names this module made: they need no quoting.
    if !is_plain_name(name) {
        return Err(StoreError::Database(format!(
            "not a test database name: {name}"
        )));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(conn)
    .await
    .map_err(|e| StoreError::Database(e.to_string()))?;
    Ok(())
}

/// Creates a fresh, empty PostgreSQL database for a test, on the server
/// `PAYMUX_TEST_POSTGRES` names (default `postgres://postgres@127.0.0.1:5432/postgres`),
/// first dropping the stale ones earlier runs of `prefix` left behind. Without a server,
/// the error says what is missing and how to provide it.
pub async fn create_test_database(prefix: &str) -> Result<TestDatabase, StoreError> {
    use sqlx::Connection;

    let admin =
        std::env::var("PAYMUX_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES.to_owned());
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now_s = since_epoch.as_secs();
    let name = format!(
        "{prefix}_{now_s}_{}_{}",
        std::process::id(),
        since_epoch.subsec_nanos()
    )
    .to_ascii_lowercase();
    if !is_plain_name(&name) {
        return Err(StoreError::Database(format!(
            "bad test database name {name}: a prefix is lowercase letters, digits and _"
        )));
    }
    let mut conn = sqlx::PgConnection::connect(&admin).await.map_err(|e| {
        StoreError::Database(format!(
            "the PostgreSQL tests need a PostgreSQL server, and none answered at {} ({e}). \
             Start one that lets user postgres in without a password from 127.0.0.1 \
             (e.g. `pg_ctlcluster 15 main start` on Debian, or `docker run -d -p 5432:5432 \
             -e POSTGRES_HOST_AUTH_METHOD=trust postgres`), or set PAYMUX_TEST_POSTGRES to \
             the URL of one (postgres://user:password@host:port/postgres).",
            redact_url(&admin)
        ))
    })?;
    let db = |e: sqlx::Error| StoreError::Database(format!("test database {name}: {e}"));
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{prefix}\\_%"))
            .fetch_all(&mut conn)
            .await
            .map_err(db)?;
    for old in existing {
        let created = old
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('_').nth(1))
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t + STALE_TEST_DATABASE_S < now_s) {
            // Another run may be dropping it too; either way it goes.
            let _ = drop_database(&mut conn, &old).await;
        }
    }
    // FILE_COPY (PostgreSQL 15 and later) copies the template's files instead of writing
    // them through the buffer cache, which the checkpoint of every DROP DATABASE would
    // then have to flush: creating and dropping take a fifth of the time. Older servers
    // do not know the option and take the plain form.
    let created = sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} STRATEGY FILE_COPY"
    )))
    .execute(&mut conn)
    .await;
    if created.is_err() {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .map_err(db)?;
    }
    conn.close().await.map_err(db)?;
    Ok(TestDatabase {
        url: with_database(&admin, &name),
        admin,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn test_databases_keep_the_server_and_its_options() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?password=secret&x=1"),
            "postgres://u@h/db?password=***&x=1"
        );
        assert_eq!(
            redact_url("sqlite://paymux-data/paymux.db"),
            "sqlite://paymux-data/paymux.db"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/db"),
            "postgres://postgres@127.0.0.1:5432/db",
            "no password, nothing to hide"
        );
    }
}
