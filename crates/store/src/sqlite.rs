//! The SQLite engine: rusqlite on threads of its own. SQLite allows one writer at a time,
//! so one thread owns the writing connection and runs every write; it takes all the scripts
//! waiting, runs each under a savepoint, commits them together (one fsync), then answers
//! each. Reads run on a small pool of connections beside it (WAL lets them proceed while
//! the writer writes). Nothing here crosses an async boundary per statement.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use paymux_core::store::StoreError;
use rusqlite::{Connection, OpenFlags, ToSql, types::ToSqlOutput};
use tokio::sync::oneshot;

use crate::rows::{Mapper, RowAccess};
use crate::script::{Collect, Guard, Script, ScriptOutcome, SqlValue, Step};

/// Scripts committed together at most.
const MAX_GROUP: usize = 512;
/// Idle reader connections kept.
const MAX_IDLE_READERS: usize = 8;

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Work for the writer thread, and where its answer goes.
trait Job: Send {
    /// Runs the work; says whether to keep what it did, and how to answer once the group's
    /// commit is known.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply);
    /// Answers without running (the group could not start).
    fn fail(self: Box<Self>, error: StoreError);
}

struct WriterJob<F, R> {
    work: F,
    answer: oneshot::Sender<Result<R, StoreError>>,
}

impl<F, R> Job for WriterJob<F, R>
where
    F: FnOnce(&Connection) -> (bool, Result<R, StoreError>) + Send,
    R: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply) {
        let (keep, result) = (self.work)(conn);
        let answer = self.answer;
        let reply: Reply = Box::new(move |committed| {
            let _ = answer.send(committed.and(result));
        });
        (keep, reply)
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.answer.send(Err(error));
    }
}

pub(crate) struct SqliteEngine {
    jobs: mpsc::Sender<Box<dyn Job>>,
    readers: Arc<Readers>,
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn sqlite_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &e
        && failure.code == rusqlite::ErrorCode::ConstraintViolation
    {
        let message = message.as_deref().unwrap_or_default();
        return crate::unique_key_by_columns(message)
            .unwrap_or_else(|| StoreError::Constraint(e.to_string()));
    }
    StoreError::Database(e.to_string())
}

fn open(path: &PathBuf, writer: bool) -> Result<Connection, StoreError> {
    let flags = if writer {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sqlite_error)?;
    // FULL: a commit is on disk (fsync) before it returns. WAL is a property of the file.
    let pragmas = if writer {
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
    } else {
        "PRAGMA foreign_keys = ON;"
    };
    conn.execute_batch(pragmas).map_err(sqlite_error)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// `$n` placeholders (shared with PostgreSQL) as SQLite's numbered `?n`. Only a `$`
/// followed by a digit is a placeholder (`'$.x'` in a JSON path stays as it is).
fn numbered(sql: &str) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    let mut placeholders = sql
        .match_indices('$')
        .map(|(i, _)| i)
        .filter(|&i| bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        .peekable();
    if placeholders.peek().is_none() {
        return Cow::Borrowed(sql);
    }
    // Only ASCII `$` is replaced by ASCII `?`: the text stays valid UTF-8.
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for i in placeholders {
        out.push_str(&sql[copied..i]);
        out.push('?');
        copied = i + 1;
    }
    out.push_str(&sql[copied..]);
    Cow::Owned(out)
}

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Int(i) => ToSqlOutput::from(*i),
            SqlValue::Text(s) => ToSqlOutput::from(s.as_str()),
            SqlValue::NullInt | SqlValue::NullText => ToSqlOutput::from(rusqlite::types::Null),
            SqlValue::TextColumn(_) | SqlValue::BigintColumn(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite cannot bind a column of values".into(),
                ));
            }
        })
    }
}

impl RowAccess for rusqlite::Row<'_> {
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.get(column)
            .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column)
            .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    }
}

fn run_script(conn: &Connection, script: Script) -> Result<ScriptOutcome, StoreError> {
    let mut collected = Vec::new();
    if !run_steps(conn, &script.steps, &mut collected)? {
        return Ok(ScriptOutcome::default());
    }
    if let Some(then) = script.then {
        let more = then(&collected);
        if !run_steps(conn, &more, &mut collected)? {
            return Ok(ScriptOutcome::default());
        }
    }
    Ok(ScriptOutcome {
        applied: true,
        collected,
    })
}

/// Runs steps in order; `false` when a guard found nothing to change.
fn run_steps(
    conn: &Connection,
    steps: &[Step],
    collected: &mut Vec<String>,
) -> Result<bool, StoreError> {
    for step in steps {
        let mut statement = conn
            .prepare_cached(&numbered(&step.sql))
            .map_err(sqlite_error)?;
        let params = rusqlite::params_from_iter(step.values.iter());
        let changed = statement.execute(params).map_err(sqlite_error)?;
        if let Collect::IfChanged(text) = &step.collect
            && changed > 0
        {
            collected.push(text.clone());
        }
        if step.guard == Guard::Required && changed == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn query_rows<T>(
    conn: &Connection,
    sql: &str,
    values: &[SqlValue],
    map: Mapper<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(&numbered(sql)).map_err(sqlite_error)?;
    let mut rows = statement
        .query(rusqlite::params_from_iter(values.iter()))
        .map_err(sqlite_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The writer thread: group commit of every script waiting.
fn write_loop(conn: Connection, jobs: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        write_group(&conn, group);
    }
}

/// Runs a group of jobs in one transaction and answers each once its fate is known.
///
/// Whatever goes wrong with the transaction itself (a savepoint that cannot be opened or
/// closed, SQLite ending the transaction on its own after a disk or I/O error), nothing of
/// the group is kept and every job is told so: no job runs outside a transaction, and no
/// caller is told "committed" for work that was not, or the reverse.
fn write_group(conn: &Connection, group: Vec<Box<dyn Job>>) {
    if !conn.is_autocommit() {
        // Left over from a failed cleanup: start clean.
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_error) {
        for job in group {
            job.fail(e.clone());
        }
        return;
    }
    // A job alone needs no savepoint (they make SQLite copy every page it touches): its
    // transaction is kept or rolled back whole.
    let alone = group.len() == 1;
    let mut replies = Vec::with_capacity(group.len());
    let mut lost: Option<StoreError> = None;
    let mut keep_all = true;
    for job in group {
        if let Some(e) = &lost {
            job.fail(e.clone());
            continue;
        }
        if !alone && let Err(e) = conn.execute_batch("SAVEPOINT job").map_err(sqlite_error) {
            lost = Some(e.clone());
            job.fail(e);
            continue;
        }
        // A panicking job is a job that failed; the writer carries on.
        let (keep, reply): (bool, Reply) = match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(ran) => ran,
            Err(_) => {
                tracing::error!("a store job panicked; its work is rolled back");
                (false, Box::new(|_| {}))
            }
        };
        keep_all &= keep;
        let ended = match (alone, keep) {
            (true, _) => Ok(()),
            (false, true) => conn.execute_batch("RELEASE job"),
            (false, false) => conn.execute_batch("ROLLBACK TO job; RELEASE job"),
        };
        if let Err(e) = ended {
            lost = Some(sqlite_error(e));
        } else if conn.is_autocommit() {
            lost = Some(StoreError::Database(
                "SQLite rolled the transaction back".into(),
            ));
        }
        replies.push(reply);
    }
    let committed = match lost {
        Some(e) => Err(e),
        // A lone job that did not keep its work: roll back; its own result says why.
        None if alone && !keep_all => conn.execute_batch("ROLLBACK").map_err(sqlite_error),
        None => conn.execute_batch("COMMIT").map_err(sqlite_error),
    };
    if committed.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for reply in replies {
        reply(committed.clone());
    }
}

impl SqliteEngine {
    pub(crate) fn open(path: PathBuf) -> Result<SqliteEngine, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let writer = open(&path, true)?;
        crate::migrations::apply_sqlite(&writer)?;
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("paymux-sqlite-writer".into())
            .spawn(move || write_loop(writer, queue))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteEngine {
            jobs,
            readers: Arc::new(Readers {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `work` on the writer thread inside the group's transaction. `work` says whether
    /// to keep what it did; its result reaches the caller only once the group committed.
    async fn on_writer<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> (bool, Result<R, StoreError>) + Send + 'static,
    ) -> Result<R, StoreError> {
        let (answer, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(WriterJob { work, answer }))
            .map_err(|_| StoreError::Database("the SQLite writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Database("the SQLite writer has stopped".into()))?
    }

    pub(crate) async fn run(&self, script: Script) -> Result<ScriptOutcome, StoreError> {
        self.on_writer(move |conn| {
            let result = run_script(conn, script);
            let keep = matches!(result, Ok(ScriptOutcome { applied: true, .. }));
            (keep, result)
        })
        .await
    }

    pub(crate) async fn write_fetch<T: Send + 'static>(
        &self,
        sql: &'static str,
        values: Vec<SqlValue>,
        map: Mapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.on_writer(move |conn| {
            let result = query_rows(conn, sql, &values, map);
            (result.is_ok(), result)
        })
        .await
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        sql: &'static str,
        values: Vec<SqlValue>,
        map: Mapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let idle = readers.idle.lock().ok().and_then(|mut idle| idle.pop());
            let conn = match idle {
                Some(conn) => conn,
                None => open(&readers.path, false)?,
            };
            let result = query_rows(&conn, sql, &values, map);
            if let Ok(mut idle) = readers.idle.lock()
                && idle.len() < MAX_IDLE_READERS
            {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn dollar_placeholders_become_numbered_question_marks() {
        assert_eq!(
            numbered("SELECT * FROM t WHERE a = $1 AND b = $12"),
            "SELECT * FROM t WHERE a = ?1 AND b = ?12"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
        assert_eq!(
            numbered("SELECT json_extract(x, '$.a') WHERE b = $1"),
            "SELECT json_extract(x, '$.a') WHERE b = ?1"
        );
    }
}
