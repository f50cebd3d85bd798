//! The PostgreSQL store (issue 15 §3): binary COPY into session-private staging tables, then one
//! statement that decides dedup and replay **in the database** and inserts with
//! `ON CONFLICT DO NOTHING` / monotonic upserts, all in one transaction per batch. Several
//! workers on one database stay correct: the `telegrams` primary key arbitrates two workers
//! inserting the same telegram (the loser counts it as a duplicate), the `meters` upsert only
//! ever raises `last_counter` (row lock, `greatest`), and receptions/rejections have unique keys,
//! so writing a batch again changes nothing.
//!
//! The [`Store`] trait is synchronous: [`PgStore`] drives its `tokio-postgres` client on a
//! current-thread runtime of its own. Call it from a blocking context (a thread of its own or
//! `tokio::task::spawn_blocking`), never from inside an async task.

mod copy;
mod sql;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls, Statement};

use crate::error::ServiceError;
use crate::store::{schema, Batch, Store, WriteReport};

pub use copy::CopyBuf;

/// How often a batch is tried again after a deadlock or a serialization failure between
/// concurrent workers (the transaction rolled back, so a retry is safe).
const RETRIES: usize = 5;

/// A connection to PostgreSQL holding the store's schema.
pub struct PgStore {
    rt: Runtime,
    client: Client,
    write: Option<Statement>,
}

fn pg_err(what: &str) -> impl Fn(tokio_postgres::Error) -> ServiceError + '_ {
    move |e| {
        let detail = e.as_db_error().map(|d| format!(" ({}: {})", d.code().code(), d.message())).unwrap_or_default();
        ServiceError::Store(format!("postgres {what}: {e}{detail}"))
    }
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
        Ok(PgStore { rt, client, write: None })
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
    /// transaction, no dedup, no replay check (fails on a key already stored).
    pub fn copy_direct(&mut self, batch: &Batch) -> Result<(), ServiceError> {
        let streams = copy::batch(batch, false);
        let client = &mut self.client;
        self.rt.block_on(async move {
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

    fn prepare_session(&mut self) -> Result<(), ServiceError> {
        if self.write.is_none() {
            self.rt.block_on(self.client.batch_execute(sql::STAGING)).map_err(pg_err("staging tables"))?;
            let st = self.rt.block_on(self.client.prepare(sql::WRITE)).map_err(pg_err("prepare"))?;
            self.write = Some(st);
        }
        Ok(())
    }

    async fn write_once(client: &mut Client, st: &Statement, streams: &[Option<Bytes>; 4], window_ms: i64) -> Result<WriteReport, tokio_postgres::Error> {
        let tx = client.transaction().await?;
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
        self.write = None;
        Ok(())
    }

    /// One transaction: COPY the batch into the staging tables, then [`sql::WRITE`]. A
    /// deadlock or serialization failure between workers rolls back and runs again.
    fn write(&mut self, batch: &Batch, window_ms: i64) -> Result<WriteReport, ServiceError> {
        self.prepare_session()?;
        let streams = copy::batch(batch, true);
        let st = self.write.clone().expect("prepared");
        let mut tries = 0;
        loop {
            match self.rt.block_on(Self::write_once(&mut self.client, &st, &streams, window_ms)) {
                Ok(r) => return Ok(r),
                Err(e) if retryable(&e) && tries < RETRIES => tries += 1,
                Err(e) => return Err(pg_err("write")(e)),
            }
        }
    }
}
