//! The store: one implementation of [`paymux_core::store::Store`] over SQLite (the embedded
//! default, WAL) and PostgreSQL (several gateway instances sharing one database).
//!
//! # Layout
//!
//! - [`connect`]: opens the database named by a URL and applies the migrations
//!   (`migrations/sqlite/`, `migrations/postgres/`: the same tables and constraint names).
//! - `sql.rs`: the queries. Both backends run the same SQL (`$n` placeholders work in
//!   SQLite too); where they differ (row claiming with `SKIP LOCKED`, `BEGIN IMMEDIATE`)
//!   the backend is named at the call.
//! - `rows.rs`: rows to domain records.
//!
//! SQLite runs every write on one connection (one writer at a time is SQLite's rule; a
//! single connection avoids `SQLITE_BUSY` and its sleeps), reads on a pool beside it.

mod batch;
mod rows;
mod sql;

use std::str::FromStr;
use std::time::Duration;

use paymux_core::store::StoreError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};

pub use sql::SqlStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Database(format!(
                "unsupported database URL (use sqlite:// or postgres://): {}",
                redact_url(url)
            )))
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Opens the database at `url` (creating a SQLite file if missing) and migrates it.
pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url)?;
    let url = match backend {
        Backend::Sqlite if !url.contains("mode=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        }
        _ => url.to_owned(),
    };
    if backend == Backend::Sqlite {
        create_sqlite_parent_dir(&url);
    }
    let options = AnyConnectOptions::from_str(&url).map_err(db)?;
    let (writer, reader) = match backend {
        Backend::Sqlite => {
            let writer = sqlite_pool(1)
                .connect_with(options.clone())
                .await
                .map_err(db)?;
            // WAL lets readers work while the writer writes; it is a property of the file.
            writer
                .execute("PRAGMA journal_mode = WAL")
                .await
                .map_err(db)?;
            let reader = sqlite_pool(4).connect_with(options).await.map_err(db)?;
            (writer, reader)
        }
        Backend::Postgres => {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(db)?;
            (pool.clone(), pool)
        }
    };
    migrator(backend)
        .run(&writer)
        .await
        .map_err(|e| StoreError::Database(e.to_string()))?;
    Ok(SqlStore::new(backend, writer, reader))
}

fn sqlite_pool(size: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(size)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // FULL: a commit is on disk (fsync) before the call returns.
                conn.execute("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON")
                    .await?;
                Ok(())
            })
        })
}

fn create_sqlite_parent_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        tracing::warn!(dir = %parent.display(), error = %e, "could not create the database directory");
    }
}

fn migrator(backend: Backend) -> Migrator {
    let sql = match backend {
        Backend::Sqlite => include_str!("../migrations/sqlite/0001_init.sql"),
        Backend::Postgres => include_str!("../migrations/postgres/0001_init.sql"),
    };
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )])
}

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// For tests and tools: the pools behind a store.
pub fn pools(store: &SqlStore) -> (&AnyPool, &AnyPool) {
    store.pools()
}

/// Creates a fresh, empty PostgreSQL database for a test run and returns its URL.
/// The server is `PAYMUX_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`).
pub async fn create_test_database(prefix: &str) -> Result<String, StoreError> {
    use sqlx::Connection;

    sqlx::any::install_default_drivers();
    let admin = std::env::var("PAYMUX_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::Database(format!(
            "bad test database name {name}"
        )));
    }
    let mut conn = sqlx::AnyConnection::connect(&admin).await.map_err(db)?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .map_err(db)?;
    conn.close().await.map_err(db)?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Ok(format!("{base}/{name}"))
}
