//! The PostgreSQL store (issue 15 §3, §5), one transaction per batch, three paths:
//! - **optimistic** (a batch that looks all new: `recent.rs`): its telegrams, readings and
//!   receptions go by binary COPY **straight into the tables** (sorted by primary key), then
//!   [`sql::FINISH`] inserts the rejections and [`sql::TRAP`] checks the counters. Nothing is
//!   looked up first: the `telegrams` primary key refuses a stored telegram (SQLSTATE 23505)
//!   and the trap a counter not above a stored one (SQLSTATE `MLRPL`); either rolls back and
//!   the batch is **decided**;
//! - **decided**: the decision inputs go by binary COPY into a session-private staging table,
//!   one statement decides dedup and replay **in the database** ([`sql::DECIDE`], returning
//!   only the telegrams that are not new), then the new rows go straight into the tables as
//!   above and [`sql::FINISH`] adds the duplicates' receptions and the replays' rejections.
//!   While this worker is the database's only writer, the counter-less telegrams it knows to
//!   be new are left out of the decision (`alone.rs`);
//! - **safe** (when the decided path hits a unique violation: another worker is committing the
//!   same telegram, or the batch repeats a row): everything staged, then one statement
//!   deciding and inserting with `ON CONFLICT DO NOTHING` ([`sql::WRITE`]).
//!
//! `meters` rows that carry a counter are upserted in their batch's transaction (the replay
//! floor, current in the database for every worker); the counter-less `meters` rows and every
//! `meter_gateways` row are kept as a **deferred summary** (`summary.rs`), aggregated in the
//! client and flushed every [`FLUSH_BATCHES`] batches or [`FLUSH_INTERVAL`], on
//! [`Store::flush`] and on drop (decisions "Split summaries"). With [`PgStore::set_deferred`]
//! the counters' rows are deferred too. Either way a replay is decided against the highest counter
//! stored in the `telegrams` primary key (the key is `01 ‖ meter ‖ key id ‖ counter`) as well
//! as `meters.last_counter`, so it never waits for a flush.
//!
//! Several workers on one database stay correct: the `telegrams` primary key arbitrates two
//! workers inserting the same telegram (a COPY fails and the batch runs again on the next
//! path, where the loser counts it as a duplicate); frame keys, which differ between
//! neighbouring time buckets, are serialized by advisory locks on their frame slot
//! ([`FRAME_SLOTS`]); counters are compared with every committed telegram; the summaries only
//! move forward (`greatest`); receptions/rejections have unique keys, so writing a batch again
//! changes nothing. (docs/decisions.md "Scale-out and deferred summaries".)
//!
//! The [`Store`] trait is synchronous: [`PgStore`] drives its `tokio-postgres` client on a
//! current-thread runtime of its own. Call it from a blocking context (a thread of its own or
//! `tokio::task::spawn_blocking`), never from inside an async task.

mod alone;
mod copy;
mod plan;
mod recent;
mod sql;
mod summary;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls, Statement};

use crate::error::ServiceError;
use crate::store::{schema, Batch, Store, WriteReport};
use plan::{Spans, Verdict};

pub use copy::CopyBuf;

/// How often a batch is tried again after a deadlock or a serialization failure between
/// concurrent workers (the transaction rolled back, so a retry is safe).
const RETRIES: usize = 5;

/// How many advisory locks the frame keys of the batches map onto (decisions "Scale-out"):
/// at most this many per transaction, so the server's lock table (64 per connection by
/// default) holds them for several workers.
pub const FRAME_SLOTS: u16 = 256;

/// The sorted, distinct frame-lock slots of a batch's counter-less (frame-key) telegrams:
/// the slot of the frame hash, whatever the bucket, so copies of one telegram in neighbouring
/// buckets share it.
fn frame_slots(b: &Batch) -> Vec<i32> {
    let mut s: Vec<i32> = b
        .telegrams
        .iter()
        .filter(|t| t.dedup_key[0] == schema::KEY_FRAME)
        .map(|t| i32::from(u16::from_be_bytes([t.dedup_key[5], t.dedup_key[6]]) % FRAME_SLOTS))
        .collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// Lock the batch's frame slots first thing in a deciding transaction ([`sql::LOCK_FRAME_SLOTS`]).
async fn lock_frame_slots(tx: &tokio_postgres::Transaction<'_>, b: &Batch) -> Result<(), tokio_postgres::Error> {
    let slots = frame_slots(b);
    if !slots.is_empty() {
        tx.query_one(sql::LOCK_FRAME_SLOTS, &[&sql::FRAME_LOCK_CLASS, &slots]).await?;
    }
    Ok(())
}

/// Deferred summaries are flushed after this many batches ... (decisions "Deferred summaries";
/// besides whenever the writer thread finds no batch waiting, and at shutdown)
pub const FLUSH_BATCHES: u32 = 16;

/// ... or when the oldest unflushed batch is this old, whichever comes first.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// A connection to PostgreSQL holding the store's schema.
pub struct PgStore {
    rt: Runtime,
    client: Client,
    statements: Option<Statements>,
    safe_only: bool,
    counts: PathCounts,
    recent: recent::Recent,
    deferred: bool,
    summary: summary::Summary,
    unflushed: u32,
    since: Option<Instant>,
    known: alone::Known,
    registered: bool,
}

/// How many batches each path committed, and how often the optimistic path missed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathCounts {
    /// Committed on the optimistic path.
    pub optimistic: u64,
    /// Committed on the decided path.
    pub decided: u64,
    /// Committed on the safe path.
    pub safe: u64,
    /// Optimistic attempts refused by the database (a duplicate or a replay).
    pub missed: u64,
    /// Telegrams the decided path committed as new without deciding them: this worker was
    /// the only writer and knew their frame keys absent (`alone.rs`).
    pub proven: u64,
}

/// How a batch is written (module documentation).
enum Path {
    Optimistic,
    Decided,
    Safe([Option<Bytes>; 4]),
}

/// The session's prepared statements.
#[derive(Clone)]
struct Statements {
    decide: Statement,
    finish: Statement,
    trap: Statement,
    write: Statement,
}

fn pg_err(what: &str) -> impl Fn(tokio_postgres::Error) -> ServiceError + '_ {
    move |e| {
        let detail = e.as_db_error().map(|d| format!(" ({}: {})", d.code().code(), d.message())).unwrap_or_default();
        ServiceError::Store(format!("postgres {what}: {e}{detail}"))
    }
}

/// Whether a path met a row already stored (SQLSTATE 23505): run the next path.
fn unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// Whether the optimistic path's replay trap fired (SQLSTATE `MLRPL`, [`sql::FINISH`]).
fn trapped(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| c.code() == "MLRPL")
}

/// Whether a failed transaction may simply be run again (SQLSTATE 40001, 40P01).
fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

impl PgStore {
    /// Connect (a libpq-style `host=... dbname=...` string or a `postgres://` URL).
    pub fn connect(url: &str) -> Result<PgStore, ServiceError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ServiceError::Io(format!("tokio runtime: {e}")))?;
        let (client, conn) = rt.block_on(tokio_postgres::connect(url, NoTls)).map_err(pg_err("connect"))?;
        rt.spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!(error = %e, "postgres connection closed");
            }
        });
        Ok(PgStore {
            rt,
            client,
            statements: None,
            safe_only: false,
            counts: PathCounts::default(),
            recent: recent::Recent::default(),
            deferred: false,
            summary: summary::Summary::default(),
            unflushed: 0,
            since: None,
            known: alone::Known::default(),
            registered: false,
        })
    }

    /// Write every batch through the safe path (tests comparing the two paths, diagnosis).
    pub fn set_safe_only(&mut self, on: bool) {
        self.safe_only = on;
    }

    /// Write every `meters` / `meter_gateways` row from the deferred summary (`true`), or only
    /// those without a counter (`false`, the default: the counters' rows are upserted in their
    /// batch's transaction, which keeps the stronger two-worker replay check; decisions
    /// "Deferred summaries", "Split summaries"). Flushes first.
    pub fn set_deferred(&mut self, on: bool) -> Result<(), ServiceError> {
        self.flush_summary()?;
        self.deferred = on;
        Ok(())
    }

    /// Write the deferred summary now (one transaction; nothing when empty).
    fn flush_summary(&mut self) -> Result<(), ServiceError> {
        if self.summary.is_empty() {
            return Ok(());
        }
        let st = self.prepare_session()?;
        let streams = self.summary.streams();
        let client = &mut self.client;
        let mut tries = 0;
        loop {
            let r = self.rt.block_on(async {
                let tx = client.transaction().await?;
                for (stmt, data) in sql::COPY_STAGED[2..].iter().zip(&streams) {
                    if let Some(data) = data {
                        copy_in(&tx, stmt, data.clone()).await?;
                    }
                }
                tx.query_one(&st.finish, &[&false, &false]).await?;
                tx.commit().await
            });
            match r {
                Ok(()) => break,
                Err(e) if retryable(&e) && tries < RETRIES => tries += 1,
                Err(e) => return Err(pg_err("flush")(e)),
            }
        }
        self.summary.clear();
        (self.unflushed, self.since) = (0, None);
        Ok(())
    }

    /// A deferred batch committed: add its summary rows; flush when due. A failed flush is
    /// logged, not returned (the batch itself is committed: it must not be written again); the
    /// summary stays for the next flush.
    fn summarise(&mut self, meters: &[copy::MeterRow<'_>], gateways: &[plan::GatewayRow<'_>]) {
        self.summary.merge(meters, gateways);
        self.unflushed += 1;
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.unflushed >= FLUSH_BATCHES || since.elapsed() >= FLUSH_INTERVAL {
            if let Err(e) = self.flush_summary() {
                tracing::warn!(error = %e, "postgres: summary flush failed, kept for the next one");
            }
        }
    }

    /// How many batches each path committed (module documentation).
    pub fn path_counts(&self) -> PathCounts {
        PathCounts { proven: self.known.proven_total(), ..self.counts }
    }

    /// The schema version in the database (0 before the first migration).
    pub fn schema_version(&mut self) -> Result<i64, ServiceError> {
        let rows = self
            .rt
            .block_on(self.client.query("SELECT coalesce(max(version), 0)::bigint FROM schema_version", &[]))
            .map_err(pg_err("schema_version"))?;
        Ok(rows[0].get(0))
    }

    /// Run a statement (tests, tools).
    pub fn execute(&mut self, sql: &str) -> Result<(), ServiceError> {
        self.rt.block_on(self.client.batch_execute(sql)).map_err(pg_err("execute"))
    }

    /// Count the rows of a query (tests, tools): `SELECT count(*) ...` gives one `i64`.
    pub fn query_i64(&mut self, sql: &str) -> Result<Vec<Vec<Option<i64>>>, ServiceError> {
        let rows = self.rt.block_on(self.client.query(sql, &[])).map_err(pg_err("query"))?;
        Ok(rows.iter().map(|r| (0..r.len()).map(|i| r.get(i)).collect()).collect())
    }

    /// The bare-COPY baseline of the benchmark: the batch's rows straight into the tables in one
    /// transaction, no dedup, no replay check (fails on a key already stored); the same streams
    /// (sorted by primary key) as the optimistic path writes.
    pub fn copy_direct(&mut self, batch: &Batch) -> Result<(), ServiceError> {
        let spans = Spans::of(batch);
        let p = plan::plan(batch, &spans, &vec![Verdict::New; batch.telegrams.len()]);
        let rejs: Vec<_> = batch.rejected.iter().collect();
        let rejected = (!rejs.is_empty()).then(|| Bytes::from(copy::rejected(&rejs)));
        let streams = p.direct.into_iter().chain([rejected]);
        let client = &mut self.client;
        self.rt
            .block_on(async move {
                let tx = client.transaction().await?;
                for (stmt, data) in sql::COPY_DIRECT.iter().zip(streams) {
                    if let Some(data) = data {
                        copy_in(&tx, stmt, data).await?;
                    }
                }
                tx.commit().await
            })
            .map_err(pg_err("copy"))
    }

    fn prepare_session(&mut self) -> Result<Statements, ServiceError> {
        if !self.registered {
            // Before the first write (alone.rs): the writers' shared lock and a number.
            self.rt.block_on(self.client.query_one(alone::REGISTER, &[&alone::WRITERS_LOCK])).map_err(pg_err("register"))?;
            self.registered = true;
        }
        if self.statements.is_none() {
            let c = &self.client;
            let st = self.rt.block_on(async move {
                c.batch_execute(sql::STAGING).await?;
                Ok::<_, tokio_postgres::Error>(Statements {
                    decide: c.prepare(sql::DECIDE).await?,
                    finish: c.prepare_typed(sql::FINISH, &[tokio_postgres::types::Type::BOOL, tokio_postgres::types::Type::BOOL]).await?,
                    trap: c.prepare(sql::TRAP).await?,
                    write: c.prepare(sql::WRITE).await?,
                })
            });
            self.statements = Some(st.map_err(pg_err("prepare"))?);
        }
        Ok(self.statements.clone().expect("prepared"))
    }
}

/// The verdicts of a batch from [`sql::DECIDE`]'s rows (the telegrams not listed are new).
fn verdicts(n: usize, rows: &[tokio_postgres::Row]) -> Vec<Verdict> {
    let mut v = vec![Verdict::New; n];
    for r in rows {
        let (ord, verdict, into): (i32, &str, &[u8]) = (r.get(0), r.get(1), r.get(2));
        v[ord as usize] = match verdict {
            "replay" => Verdict::Replay,
            _ => Verdict::Dup(into.try_into().unwrap_or_default()),
        };
    }
    v
}

/// The summary rows a deferred batch hands back (`plan::Plan::summary`).
type SummaryRows<'a> = Option<(Vec<copy::MeterRow<'a>>, Vec<plan::GatewayRow<'a>>)>;

/// COPY a plan's streams and run [`sql::FINISH`] (`trap`: the optimistic path) when anything
/// was staged; with deferred summaries (the plan carries them) `meters` / `meter_gateways` are
/// left to the flush and the optimistic path's trap is [`sql::TRAP`]. The report with the
/// rejections the database inserted, and the summary rows.
async fn apply<'a>(tx: &tokio_postgres::Transaction<'_>, st: &Statements, p: plan::Plan<'a>, trap: bool) -> Result<(WriteReport, SummaryRows<'a>), tokio_postgres::Error> {
    let deferred = !p.upsert;
    for (stmt, data) in sql::COPY_DIRECT.iter().zip(p.direct) {
        if let Some(data) = data {
            copy_in(tx, stmt, data).await?;
        }
    }
    let mut report = p.report;
    if p.staged.iter().any(Option::is_some) {
        for (stmt, data) in sql::COPY_STAGED.iter().zip(p.staged) {
            if let Some(data) = data {
                copy_in(tx, stmt, data).await?;
            }
        }
        report.rejected = tx.query_one(&st.finish, &[&(trap && !deferred), &deferred]).await?.get::<_, i64>(0) as usize;
        if trap && deferred {
            tx.query_one(&st.trap, &[]).await?;
        }
    }
    Ok((report, p.summary))
}

fn summaries(deferred: bool, trap: bool) -> plan::Summaries {
    if deferred {
        plan::Summaries::Deferred { trap }
    } else {
        plan::Summaries::Split
    }
}

/// Batches from this many telegrams build their plan on a second thread while the
/// `telegrams` COPY is sent (below it the thread costs more than it saves).
const OVERLAP_MIN: usize = 256;

/// Build the plan for `verdicts` and apply it ([`apply`]). The `telegrams` stream is built
/// first and sent while the other streams are built on a scoped thread: the connection is
/// not left idle while the client encodes (on the decided path it was ~15 % of a batch).
#[allow(clippy::too_many_arguments)]
fn plan_and_apply<'a>(rt: &Runtime, tx: &tokio_postgres::Transaction<'_>, st: &Statements, b: &'a Batch, spans: &Spans, verdicts: &[Verdict], summaries: plan::Summaries, trap: bool) -> Result<(WriteReport, SummaryRows<'a>), tokio_postgres::Error> {
    let p = if b.telegrams.len() < OVERLAP_MIN {
        plan::plan_with(b, spans, verdicts, summaries)
    } else {
        let (new, telegrams) = plan::telegrams(b, verdicts);
        std::thread::scope(|s| {
            let rest = s.spawn(|| plan::rest(b, spans, verdicts, &new, summaries));
            let sent = telegrams.map(|data| rt.block_on(copy_in(tx, sql::COPY_DIRECT[0], data))).transpose();
            let p = rest.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            sent.map(|_| p)
        })?
    };
    rt.block_on(apply(tx, st, p, trap))
}

/// The optimistic path (module documentation): every telegram taken as new, no decision.
fn write_optimistic<'a>(rt: &Runtime, client: &mut Client, st: &Statements, b: &'a Batch, spans: &Spans, deferred: bool) -> Result<(WriteReport, SummaryRows<'a>), tokio_postgres::Error> {
    let tx = rt.block_on(client.transaction())?;
    let verdicts = vec![Verdict::New; b.telegrams.len()];
    let r = plan_and_apply(rt, &tx, st, b, spans, &verdicts, summaries(deferred, true), true)?;
    rt.block_on(tx.commit())?;
    Ok(r)
}

/// The decided path's decision (module documentation): the verdicts, and which telegrams were
/// proven new without one.
///
/// When this worker is the only writer (`alone.rs`), the telegrams its knowledge proves new
/// are left out of the decision and no frame slot is locked (there is no one to wait for).
async fn decide(tx: &tokio_postgres::Transaction<'_>, st: &Statements, b: &Batch, spans: &Spans, window_ms: i64, known: &mut alone::Known) -> Result<(Vec<Verdict>, Vec<bool>), tokio_postgres::Error> {
    let proven = if known.check(tx).await? {
        known.proven(b, spans)
    } else {
        lock_frame_slots(tx, b).await?;
        vec![false; b.telegrams.len()]
    };
    let rows = if proven.iter().all(|&p| p) {
        Vec::new()
    } else {
        copy_in(tx, sql::COPY_KEYS, copy::keys(b, spans, &proven).into()).await?;
        tx.query(&st.decide, &[&window_ms]).await?
    };
    Ok((verdicts(b.telegrams.len(), &rows), proven))
}

/// The decided path (module documentation).
#[allow(clippy::too_many_arguments)]
fn write_decided<'a>(rt: &Runtime, client: &mut Client, st: &Statements, b: &'a Batch, spans: &Spans, window_ms: i64, deferred: bool, known: &mut alone::Known) -> Result<(WriteReport, SummaryRows<'a>), tokio_postgres::Error> {
    let tx = rt.block_on(client.transaction())?;
    let (verdicts, proven) = rt.block_on(decide(&tx, st, b, spans, window_ms, known))?;
    let r = plan_and_apply(rt, &tx, st, b, spans, &verdicts, summaries(deferred, false), false)?;
    rt.block_on(tx.commit())?;
    let new = b.telegrams.iter().zip(&verdicts).filter(|(_, v)| **v == Verdict::New);
    known.stored(new.map(|(t, _)| t.dedup_key), proven.iter().filter(|&&p| p).count());
    Ok(r)
}

/// The safe path (module documentation): staging, then [`sql::WRITE`].
async fn write_safe(client: &mut Client, st: &Statement, b: &Batch, streams: &[Option<Bytes>; 4], window_ms: i64) -> Result<WriteReport, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    lock_frame_slots(&tx, b).await?;
    tx.batch_execute(sql::SAFE_PLAN).await?;
    for (stmt, data) in sql::COPY_STAGING.iter().zip(streams) {
        if let Some(data) = data {
            copy_in(&tx, stmt, data.clone()).await?;
        }
    }
    let row = tx.query_one(st, &[&window_ms]).await?;
    tx.commit().await?;
    let (candidates, stored, replays, rejected): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    Ok(WriteReport {
        stored: stored as usize,
        duplicates: (candidates - stored - replays) as usize,
        replays: replays as usize,
        rejected: rejected as usize,
    })
}

async fn copy_in(tx: &tokio_postgres::Transaction<'_>, stmt: &str, data: Bytes) -> Result<u64, tokio_postgres::Error> {
    let sink = tx.copy_in::<_, Bytes>(stmt).await?;
    futures_util::pin_mut!(sink);
    sink.send(data).await?;
    sink.finish().await
}

impl Store for PgStore {
    /// Create or migrate the schema under a transaction-scoped advisory lock, so workers that
    /// start together apply each migration once (the others wait, then find it applied).
    fn migrate(&mut self) -> Result<(), ServiceError> {
        let client = &mut self.client;
        let newer = self
            .rt
            .block_on(async move {
                let tx = client.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&sql::MIGRATION_LOCK]).await?;
                tx.batch_execute(schema::SCHEMA_VERSION_DDL).await?;
                let have: i64 = tx.query_one("SELECT coalesce(max(version), 0)::bigint FROM schema_version", &[]).await?.get(0);
                if have > schema::SCHEMA_VERSION {
                    return Ok(Some(have));
                }
                for ddl in &schema::POSTGRES_MIGRATIONS[have as usize..] {
                    tx.batch_execute(ddl).await?;
                }
                tx.batch_execute(sql::STORAGE).await?;
                if have < schema::SCHEMA_VERSION {
                    tx.execute("DELETE FROM schema_version", &[]).await?;
                    tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&schema::SCHEMA_VERSION]).await?;
                }
                tx.commit().await.map(|_| None)
            })
            .map_err(pg_err("migrate"))?;
        if let Some(have) = newer {
            return Err(ServiceError::Store(format!(
                "the database has schema version {have}, newer than this build's {}",
                schema::SCHEMA_VERSION
            )));
        }
        self.statements = None;
        Ok(())
    }

    /// Write the deferred summary (`meters`, `meter_gateways`) now.
    fn flush(&mut self) -> Result<(), ServiceError> {
        self.flush_summary()
    }

    /// One transaction: the optimistic path where the batch looks all new, else (or after its
    /// unique violation or replay trap) the decided path, else (after its unique violation) the
    /// safe path (module documentation). A deadlock or serialization failure between workers
    /// rolls back and runs again.
    fn write(&mut self, batch: &Batch, window_ms: i64) -> Result<WriteReport, ServiceError> {
        let st = self.prepare_session()?;
        let spans = Spans::of(batch);
        let mut path = if self.safe_only {
            Path::Safe(copy::staging(batch, &spans))
        } else if self.recent.looks_new(batch) {
            Path::Optimistic
        } else {
            Path::Decided
        };
        let mut tries = 0;
        let deferred = self.deferred;
        loop {
            let r = match &path {
                Path::Optimistic => write_optimistic(&self.rt, &mut self.client, &st, batch, &spans, deferred),
                Path::Decided => write_decided(&self.rt, &mut self.client, &st, batch, &spans, window_ms, deferred, &mut self.known),
                Path::Safe(streams) => self.rt.block_on(write_safe(&mut self.client, &st.write, batch, streams, window_ms)).map(|r| (r, None)),
            };
            if !matches!((&r, &path), (Ok(_), Path::Optimistic | Path::Decided)) {
                // Failed, or the safe path (which stored what it found new, unknown here).
                self.known.forget();
            }
            match (r, &path) {
                (Ok((r, rows)), _) => {
                    *match path {
                        Path::Optimistic => &mut self.counts.optimistic,
                        Path::Decided => &mut self.counts.decided,
                        Path::Safe(_) => &mut self.counts.safe,
                    } += 1;
                    self.recent.committed(batch);
                    if let Some((meters, gateways)) = rows {
                        self.summarise(&meters, &gateways);
                    }
                    return Ok(r);
                }
                (Err(e), Path::Optimistic) if unique_violation(&e) || trapped(&e) => {
                    self.counts.missed += 1;
                    self.recent.missed();
                    path = Path::Decided;
                }
                (Err(e), Path::Decided) if unique_violation(&e) => path = Path::Safe(copy::staging(batch, &spans)),
                (Err(e), _) if retryable(&e) && tries < RETRIES => tries += 1,
                (Err(e), _) => return Err(pg_err("write")(e)),
            }
        }
    }

    fn prune(&mut self, cutoff_ms: i64, limit: usize, after_meter: &str) -> Result<crate::store::retention::Pruned, ServiceError> {
        crate::store::retention::prune_postgres(&self.rt, &mut self.client, cutoff_ms, limit, after_meter)
    }

    fn telegram_times(&mut self, keys: &[[u8; 16]]) -> Result<Vec<Option<i64>>, ServiceError> {
        crate::store::retention::telegram_times_postgres(&self.rt, &mut self.client, keys)
    }
}

impl Drop for PgStore {
    /// The deferred summary is written when the store goes (a graceful shutdown drops it on the
    /// writer thread); after a kill -9 it is lost, which costs `meters` / `meter_gateways` at
    /// most one flush interval of updates and never a replay decision (decisions "Deferred
    /// summaries").
    fn drop(&mut self) {
        if let Err(e) = self.flush_summary() {
            tracing::warn!(error = %e, "postgres: the last summary flush failed");
        }
    }
}
