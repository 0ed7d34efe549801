//! What the store's test files share: a store on each backend, a fresh database for
//! PostgreSQL, dropped (with the SQLite file's folder) when the test ends.

use std::sync::Arc;

use paymux_store::{SqlStore, TestDatabase};

/// The stores, then what they live in: dropped in this order.
pub struct Backends {
    pub list: Vec<(&'static str, Arc<SqlStore>)>,
    _dir: tempfile::TempDir,
    _postgres: TestDatabase,
}

pub async fn backends(prefix: &str) -> Backends {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = paymux_store::connect(&format!("sqlite://{}/paymux.db", dir.path().display()))
        .await
        .expect("sqlite store");
    let postgres_db = paymux_store::create_test_database(prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let postgres = paymux_store::connect(postgres_db.url())
        .await
        .expect("postgres store");
    Backends {
        list: vec![
            ("sqlite", Arc::new(sqlite)),
            ("postgres", Arc::new(postgres)),
        ],
        _dir: dir,
        _postgres: postgres_db,
    }
}
