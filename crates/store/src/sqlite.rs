//! The SQLite engine: rusqlite on threads of its own. SQLite allows one writer at a time,
//! so one thread owns the writing connection and runs every write; it takes all the scripts
//! waiting, runs each under a savepoint, commits them together (one fsync), then answers
//! each. Reads run on a small pool of connections beside it (WAL lets them proceed while
//! the writer writes). Nothing here crosses an async boundary per statement.
//!
//! Both are bounded: a write finding the writer's queue full, or a read finding no reader
//! free within a moment, is answered `StoreError::Busy` at once, so overload shows as quick
//! refusals rather than memory that grows until the process dies. One process uses a file
//! at a time: the store holds an exclusive lock on `<file>.lock` for as long as it is open.

use std::borrow::Cow;
use std::fs::{File, OpenOptions, TryLockError};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use paymux_core::store::StoreError;
use rusqlite::{Connection, OpenFlags, ToSql, types::ToSqlOutput};
use tokio::sync::{Semaphore, oneshot};

use crate::rows::{Mapper, RowAccess};
use crate::script::{Collect, Guard, Script, ScriptOutcome, SqlValue, Step};

/// Scripts committed together at most.
const MAX_GROUP: usize = 512;

/// The writer's queue: at most this many jobs wait; one more is answered `Busy` at once.
///
/// Eight groups' worth. The writer takes the queue in groups of up to [`MAX_GROUP`]; a
/// full group commits in tens of milliseconds (about 40 µs of work per script and one
/// fsync; the bench measured 750 commits a second at 11 orders each), so the last job of a
/// full queue is answered within about half a second: well inside any client's timeout,
/// and a longer queue would only make callers wait longer for the same throughput. A job
/// holds its script's values (a few hundred bytes to a few KB; new orders come through the
/// order writer, one job per batch), so a full queue is a few MB at most.
pub(crate) const QUEUE_CAPACITY: usize = 8 * MAX_GROUP;

/// Reader connections at most. Reads are short and mostly CPU (the machine has 2 cores);
/// a few more than the cores let reads that wait on the disk overlap, and each connection
/// keeps its own page cache (about 2 MB), so 8 cost about 16 MB.
pub(crate) const MAX_READERS: usize = 8;

/// How long a read waits for a free reader before it answers `Busy`. A read takes well
/// under a millisecond: not getting a reader within a second means thousands are queued
/// ahead, and waiting longer would only hold the caller's connection.
pub(crate) const READER_WAIT: Duration = Duration::from_secs(1);

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

/// What the writer thread takes from its queue.
enum Message {
    Job(Box<dyn Job>),
    /// Finish the jobs taken so far, then close the connection and release the lock.
    Stop,
}

pub(crate) struct SqliteEngine {
    jobs: mpsc::SyncSender<Message>,
    readers: Arc<Readers>,
    closed: AtomicBool,
    writer: Mutex<Option<JoinHandle<()>>>,
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// One permit per reader connection; closed when the store closes.
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// The limits of an engine; [`Limits::DEFAULT`] outside tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub queue: usize,
    pub readers: usize,
    pub reader_wait: Duration,
}

impl Limits {
    pub(crate) const DEFAULT: Limits = Limits {
        queue: QUEUE_CAPACITY,
        readers: MAX_READERS,
        reader_wait: READER_WAIT,
    };
}

fn closed() -> StoreError {
    StoreError::Database("the store is closed".into())
}

fn stopped() -> StoreError {
    StoreError::Database("the SQLite writer has stopped".into())
}

/// `paymux.db` → `paymux.db.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the exclusive lock that says this process uses the database file. The lock file
/// stays on disk afterwards (unlocked): removing it could race with another process
/// about to lock it.
fn lock(path: &Path) -> Result<File, StoreError> {
    let lock_path = lock_path(path);
    let cannot = |e: std::io::Error| {
        StoreError::Database(format!("cannot lock {}: {e}", lock_path.display()))
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(cannot)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
            path: path.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(cannot(e)),
    }
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

/// The writer thread: group commit of every script waiting. The lock is released only
/// after the connection is closed.
fn write_loop(conn: Connection, jobs: mpsc::Receiver<Message>, lock: File) {
    while let Ok(Message::Job(first)) = jobs.recv() {
        let mut group = vec![first];
        let mut stop = false;
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(Message::Job(job)) => group.push(job),
                Ok(Message::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        write_group(&conn, group);
        if stop {
            break;
        }
    }
    drop(conn);
    drop(lock);
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
    pub(crate) fn open(path: PathBuf, limits: Limits) -> Result<SqliteEngine, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let lock = lock(&path)?;
        let writer = open(&path, true)?;
        crate::migrations::apply_sqlite(&writer)?;
        let (jobs, queue) = mpsc::sync_channel::<Message>(limits.queue);
        let thread = std::thread::Builder::new()
            .name("paymux-sqlite-writer".into())
            .spawn(move || write_loop(writer, queue, lock))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteEngine {
            jobs,
            readers: Arc::new(Readers {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(limits.readers)),
                wait: limits.reader_wait,
            }),
            closed: AtomicBool::new(false),
            writer: Mutex::new(Some(thread)),
        })
    }

    /// Finishes the writes already queued, closes the connections and releases the file's
    /// lock, so that another process (or a restart) can open it at once. Later calls
    /// answer that the store is closed.
    pub(crate) async fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.readers.permits.close();
        if let Ok(mut idle) = self.readers.idle.lock() {
            idle.clear();
        }
        let jobs = self.jobs.clone();
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        // Blocking: `send` waits for room behind the queued jobs, `join` for their commit.
        let _ = tokio::task::spawn_blocking(move || {
            let _ = jobs.send(Message::Stop);
            if let Some(writer) = writer {
                let _ = writer.join();
            }
        })
        .await;
    }

    /// Queues `work` for the writer thread, to run inside the group's transaction; `Busy`
    /// if the queue is full. `work` says whether to keep what it did; its result arrives
    /// only once the group committed.
    fn submit<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> (bool, Result<R, StoreError>) + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<R, StoreError>>, StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(closed());
        }
        let (answer, rx) = oneshot::channel();
        match self
            .jobs
            .try_send(Message::Job(Box::new(WriterJob { work, answer })))
        {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }

    async fn on_writer<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> (bool, Result<R, StoreError>) + Send + 'static,
    ) -> Result<R, StoreError> {
        self.submit(work)?.await.map_err(|_| stopped())?
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

    /// Runs a read on a reader connection: at most `Limits::readers` at once; `Busy` if
    /// none frees up within `Limits::reader_wait`.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        sql: &'static str,
        values: Vec<SqlValue>,
        map: Mapper<T>,
    ) -> Result<Vec<T>, StoreError> {
        let readers = self.readers.clone();
        let permit = tokio::time::timeout(readers.wait, readers.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Busy)?
            .map_err(|_| closed())?;
        tokio::task::spawn_blocking(move || {
            let idle = readers.idle.lock().ok().and_then(|mut idle| idle.pop());
            let conn = match idle {
                Some(conn) => conn,
                None => open(&readers.path, false)?,
            };
            let result = query_rows(&conn, sql, &values, map);
            // Kept for the next read unless the store closed meanwhile.
            if !readers.permits.is_closed()
                && let Ok(mut idle) = readers.idle.lock()
            {
                idle.push(conn);
            }
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::rows;
    use crate::script::v;

    fn engine(dir: &tempfile::TempDir, limits: Limits) -> SqliteEngine {
        SqliteEngine::open(dir.path().join("paymux.db"), limits).expect("engine")
    }

    const INSERT_SECRET: &str =
        "INSERT INTO gateway_secrets (name, value, created_at) VALUES ($1, 'v', 0)";

    async fn secrets(engine: &SqliteEngine) -> i64 {
        let n = engine
            .read(
                "SELECT COUNT(*) AS n FROM gateway_secrets",
                vec![],
                rows::first_int,
            )
            .await
            .expect("count");
        n.first().copied().unwrap_or_default()
    }

    #[tokio::test]
    async fn a_full_writer_queue_answers_busy_at_once_and_the_writer_carries_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = engine(&dir, Limits::DEFAULT);
        // Hold the writer inside a job, so that nothing leaves the queue meanwhile.
        let (entered, writer_inside) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let held = engine
            .submit(move |_| {
                let _ = entered.send(());
                let _ = released.recv();
                (true, Ok(()))
            })
            .expect("queued");
        writer_inside
            .recv_timeout(Duration::from_secs(10))
            .expect("the writer took the job");
        let queued: Vec<_> = (0..QUEUE_CAPACITY)
            .map(|i| {
                let name = format!("s{i}");
                engine
                    .submit(move |conn| {
                        let result = run_script(
                            conn,
                            Script::of(vec![Step::new(INSERT_SECRET, vec![v(name)])]),
                        );
                        (result.is_ok(), result)
                    })
                    .expect("room in the queue")
            })
            .collect();
        let started = Instant::now();
        let full = engine
            .run(Script::of(vec![Step::new(
                INSERT_SECRET,
                vec![v("one too many")],
            )]))
            .await;
        assert!(matches!(full, Err(StoreError::Busy)), "{full:?}");
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "answered at once"
        );

        release.send(()).expect("release");
        held.await.expect("answered").expect("committed");
        for answer in queued {
            answer.await.expect("answered").expect("committed");
        }
        assert_eq!(secrets(&engine).await, QUEUE_CAPACITY as i64);
        engine
            .run(Script::of(vec![Step::new(INSERT_SECRET, vec![v("after")])]))
            .await
            .expect("a write after the burst");
        assert_eq!(secrets(&engine).await, QUEUE_CAPACITY as i64 + 1);
    }

    #[tokio::test]
    async fn a_read_waits_briefly_for_a_free_reader_then_answers_busy() {
        let dir = tempfile::tempdir().expect("temp dir");
        let wait = Duration::from_millis(200);
        let engine = engine(
            &dir,
            Limits {
                reader_wait: wait,
                ..Limits::DEFAULT
            },
        );
        assert_eq!(secrets(&engine).await, 0);
        let every_reader = engine
            .readers
            .permits
            .clone()
            .acquire_many_owned(MAX_READERS as u32)
            .await
            .expect("permits");
        let started = Instant::now();
        let busy = engine.read("SELECT 1 AS n", vec![], rows::first_int).await;
        assert!(matches!(busy, Err(StoreError::Busy)), "{busy:?}");
        assert!(started.elapsed() >= wait, "it waited first");
        // A reader freed while a read waits serves it.
        let waiting = engine.read("SELECT 2 AS n", vec![], rows::first_int);
        let (read, ()) = tokio::join!(waiting, async {
            tokio::time::sleep(wait / 4).await;
            drop(every_reader);
        });
        assert_eq!(read.expect("read"), vec![2]);
        assert!(
            engine.readers.idle.lock().expect("idle").len() <= MAX_READERS,
            "connections are kept up to the bound"
        );
    }

    #[tokio::test]
    async fn a_closed_engine_releases_its_file_and_refuses_work() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = engine(&dir, Limits::DEFAULT);
        let path = dir.path().join("paymux.db");
        assert!(matches!(
            SqliteEngine::open(path.clone(), Limits::DEFAULT),
            Err(StoreError::InUse { .. })
        ));
        first
            .run(Script::of(vec![Step::new(INSERT_SECRET, vec![v("kept")])]))
            .await
            .expect("write");
        first.close().await;
        assert!(
            first
                .read("SELECT 1 AS n", vec![], rows::first_int)
                .await
                .is_err()
        );
        assert!(
            first
                .run(Script::of(vec![Step::new(INSERT_SECRET, vec![v("late")])]))
                .await
                .is_err()
        );
        let second = SqliteEngine::open(path, Limits::DEFAULT).expect("the file is free");
        assert_eq!(secrets(&second).await, 1, "the queued write was committed");
    }

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
