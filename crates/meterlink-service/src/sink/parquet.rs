//! The Parquet sink (issue 15 §3: "optional Parquet sink (hourly files, the `meterlink bulk`
//! schema) for analytics"), `[parquet] dir = ...`.
//!
//! After each commit the follow-up thread ([`super::Hooks`]) hands the telegrams the commit
//! stored (not duplicates, not rejections) to this sink's own thread through a bounded channel;
//! when the channel is full the rows are dropped and counted
//! (`meterlink_parquet_dropped_total`): the database is the system of record, and neither the
//! writer nor the follow-up thread waits for Parquet (decisions "Parquet sink").
//!
//! The thread decodes each telegram's frame again with `meterlink bulk`'s decoder
//! (`meterlink_arrow::decode_batch`, the nested layout of [`meterlink_arrow::nest`]) and the
//! service's key files (re-read when they change), so a row is exactly what `meterlink bulk`
//! writes for the same frame, plus three metadata columns (`received_at_ms`, `gateway`,
//! `dedup_key`), as `meterlink bulk` appends an archive's columns. Files are
//! `dir/YYYY/MM/DD/HH.parquet` by the UTC hour of the telegram's reception time; a further file
//! of an hour already written is `HH-1.parquet`, `HH-2.parquet`, ... A file is written as
//! `<name>.tmp` and moved to its name when closed (footer written, synced): after a crash no
//! half-written file carries a final name, and a closed file is never overwritten (the move is
//! a hard link, which fails when the name exists).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field};
use meterlink_arrow::writers::ParquetWriter;
use meterlink_arrow::{decode_batch, nest, BatchOptions, FrameItem};

use crate::error::ServiceError;
use crate::metrics::Metrics;
use crate::pipeline::keys::KeyFiles;

/// One stored telegram for the sink.
#[derive(Clone, Debug)]
pub struct Export {
    /// The frame as received (first reception).
    pub frame: Vec<u8>,
    /// Its reception time (Unix ms): picks the hourly file.
    pub received_at_ms: i64,
    /// The gateway of its first reception.
    pub gateway: Arc<str>,
    /// Its dedup key (lets a reader drop rows written twice: the sink is at-least-once for
    /// batches redelivered after a lost acknowledgement).
    pub dedup_key: [u8; 16],
}

/// Batches of exports waiting for the sink thread, at most.
pub const CHANNEL_BATCHES: usize = 64;
/// Rows buffered per open file before they are written as one row group.
pub const ROW_GROUP_ROWS: usize = 65_536;
/// A past hour's file is closed after this long without a new row.
pub const IDLE_CLOSE: Duration = Duration::from_secs(60);
/// Open files at most (an archive replay spans many hours): the oldest is closed beyond.
pub const MAX_OPEN: usize = 4;

const HOUR_MS: i64 = 3_600_000;

/// The running sink: a thread and the channel to it. Dropping it closes every open file.
pub struct ParquetSink {
    tx: Option<SyncSender<Vec<Export>>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<Metrics>,
}

impl ParquetSink {
    /// Start the sink thread writing under `dir` (created), decoding with `key_files`.
    pub fn start(dir: PathBuf, key_files: Vec<PathBuf>, metrics: Arc<Metrics>) -> Result<Self, ServiceError> {
        std::fs::create_dir_all(&dir).map_err(|e| ServiceError::Io(format!("parquet dir {}: {e}", dir.display())))?;
        let keys = KeyFiles::load(key_files)?;
        let (tx, rx) = sync_channel(CHANNEL_BATCHES);
        let m = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("meterlink-parquet".into())
            .spawn(move || Files { dir, keys, last_poll: Instant::now(), open: BTreeMap::new(), metrics: m }.run(rx))
            .map_err(|e| ServiceError::Io(format!("parquet thread: {e}")))?;
        Ok(ParquetSink { tx: Some(tx), thread: Some(thread), metrics })
    }

    /// Hand stored telegrams to the sink without waiting: when it is behind they are dropped
    /// and counted.
    pub fn send(&self, rows: Vec<Export>) {
        if rows.is_empty() {
            return;
        }
        let Some(tx) = &self.tx else { return };
        if let Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) = tx.try_send(rows) {
            self.metrics.parquet_dropped.inc_by(r.len() as u64);
            tracing::warn!(rows = r.len(), "parquet sink behind: rows dropped (they are in the database)");
        }
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One open hourly file.
struct HourFile {
    writer: ParquetWriter,
    tmp: PathBuf,
    path: PathBuf,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    next_index: u64,
    last_row: Instant,
}

/// The sink thread's state.
struct Files {
    dir: PathBuf,
    keys: KeyFiles,
    last_poll: Instant,
    open: BTreeMap<i64, HourFile>,
    metrics: Arc<Metrics>,
}

impl Files {
    fn run(mut self, rx: Receiver<Vec<Export>>) {
        loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(rows) => self.add(rows),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.close_idle();
        }
        let hours: Vec<i64> = self.open.keys().copied().collect();
        for h in hours {
            self.close(h);
        }
    }

    /// Group by hour, decode, buffer; a full buffer becomes a row group.
    fn add(&mut self, rows: Vec<Export>) {
        if self.last_poll.elapsed() >= Duration::from_secs(1) {
            self.last_poll = Instant::now();
            self.keys.poll();
        }
        let mut by_hour: BTreeMap<i64, Vec<Export>> = BTreeMap::new();
        for r in rows {
            by_hour.entry(r.received_at_ms.div_euclid(HOUR_MS)).or_default().push(r);
        }
        for (hour, rows) in by_hour {
            let n = rows.len() as u64;
            if let Err(e) = self.add_hour(hour, &rows) {
                tracing::error!(error = %e, hour, "parquet sink: rows not written");
                self.metrics.parquet_dropped.inc_by(n);
            }
        }
    }

    fn add_hour(&mut self, hour: i64, rows: &[Export]) -> Result<(), String> {
        let index_base = self.open.get(&hour).map_or(0, |f| f.next_index);
        let table = decode(rows, &self.keys.current(), index_base)?;
        if !self.open.contains_key(&hour) {
            if self.open.len() >= MAX_OPEN {
                let oldest = *self.open.keys().next().expect("open files");
                self.close(oldest);
            }
            let f = create(&self.dir, hour, table.schema.clone())?;
            self.open.insert(hour, f);
        }
        let f = self.open.get_mut(&hour).expect("just opened");
        f.next_index += rows.len() as u64;
        f.pending_rows += rows.len();
        f.pending.extend(table.batches);
        f.last_row = Instant::now();
        if f.pending_rows >= ROW_GROUP_ROWS {
            flush(f)?;
        }
        self.metrics.parquet_rows.inc_by(rows.len() as u64);
        Ok(())
    }

    /// Close past hours that had no row for [`IDLE_CLOSE`].
    fn close_idle(&mut self) {
        let now_hour = crate::intake::files::now_ms().div_euclid(HOUR_MS);
        let idle: Vec<i64> = self.open.iter().filter(|(h, f)| **h < now_hour && f.last_row.elapsed() >= IDLE_CLOSE).map(|(h, _)| *h).collect();
        for h in idle {
            self.close(h);
        }
    }

    /// Write the rest, the footer, sync, and move the file to its name.
    fn close(&mut self, hour: i64) {
        let Some(mut f) = self.open.remove(&hour) else { return };
        let done = flush(&mut f).and_then(|_| f.writer.close().map_err(|e| e.to_string())).and_then(|_| publish(&f.tmp, &f.path));
        match done {
            Ok(path) => tracing::info!(file = %path.display(), rows = f.next_index, "parquet file closed"),
            Err(e) => tracing::error!(error = %e, file = %f.tmp.display(), "parquet file could not be closed"),
        }
    }
}

/// Decode `rows` as `meterlink bulk` does, with the three metadata columns, nested.
fn decode(rows: &[Export], keys: &meterlink::keys::KeyStore, index_base: u64) -> Result<meterlink_arrow::Table, String> {
    let items: Vec<FrameItem> = rows.iter().map(|r| FrameItem::Bytes(&r.frame)).collect();
    let meta: Vec<(Arc<Field>, ArrayRef)> = vec![
        (Arc::new(Field::new("received_at_ms", DataType::Int64, true)), Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.received_at_ms)))),
        (Arc::new(Field::new("gateway", DataType::Utf8, true)), Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &*r.gateway)))),
        (Arc::new(Field::new("dedup_key", DataType::Utf8, true)), Arc::new(StringArray::from_iter_values(rows.iter().map(|r| meterlink::hex::to_hex_lower(&r.dedup_key))))),
    ];
    // Frames of many gateways: judged frame by frame (`one_source = false`), on this thread.
    let opts = BatchOptions { threads: Some(1), index_base, one_source: false, ..BatchOptions::default() };
    let decoded = decode_batch(&items[..], keys, &opts, &meta).map_err(|e| e.to_string())?;
    nest(&decoded).map_err(|e| e.to_string())
}

fn flush(f: &mut HourFile) -> Result<(), String> {
    if f.pending.is_empty() {
        return Ok(());
    }
    let batches = std::mem::take(&mut f.pending);
    f.pending_rows = 0;
    f.writer.write(&batches).map_err(|e| e.to_string())
}

/// A new file for `hour`: the first free name among `HH.parquet`, `HH-1.parquet`, ... (a name
/// is taken when the file or its `.tmp` exists: a `.tmp` left by a crash is never reused).
fn create(dir: &Path, hour: i64, schema: arrow_schema::SchemaRef) -> Result<HourFile, String> {
    let (y, m, d) = meterlink::civil::civil_from_days(hour.div_euclid(24));
    let folder = dir.join(format!("{y:04}")).join(format!("{m:02}")).join(format!("{d:02}"));
    std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let hh = hour.rem_euclid(24);
    let (path, tmp) = (0..)
        .map(|n| {
            let name = if n == 0 { format!("{hh:02}.parquet") } else { format!("{hh:02}-{n}.parquet") };
            (folder.join(&name), folder.join(format!("{name}.tmp")))
        })
        .find(|(p, t)| !p.exists() && !t.exists())
        .expect("a free name");
    let writer = ParquetWriter::create(&tmp, schema, Some(1)).map_err(|e| format!("{}: {e}", tmp.display()))?;
    Ok(HourFile { writer, tmp, path, pending: Vec::new(), pending_rows: 0, next_index: 0, last_row: Instant::now() })
}

/// Sync `tmp` and give it its final name without ever replacing a file (hard link, then
/// unlink); when the name was taken meanwhile (another worker on the same directory), the
/// next part number.
fn publish(tmp: &Path, path: &Path) -> Result<PathBuf, String> {
    std::fs::File::open(tmp).and_then(|f| f.sync_all()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("00").to_string();
    let hh = stem.split('-').next().unwrap_or("00").to_string();
    for n in 0..10_000 {
        let target = if n == 0 { path.to_path_buf() } else { path.with_file_name(format!("{hh}-{n}.parquet")) };
        match std::fs::hard_link(tmp, &target) {
            Ok(()) => {
                std::fs::remove_file(tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                return Ok(target);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", target.display())),
        }
    }
    Err(format!("{}: no free part name", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_never_replaces_a_file() {
        let dir = std::env::temp_dir().join(format!("ml-pq-publish-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("07.parquet"), b"closed").unwrap();
        std::fs::write(dir.join("07-1.parquet"), b"closed too").unwrap();
        std::fs::write(dir.join("07.parquet.tmp"), b"new").unwrap();
        let got = publish(&dir.join("07.parquet.tmp"), &dir.join("07.parquet")).unwrap();
        assert_eq!(got, dir.join("07-2.parquet"));
        assert_eq!(std::fs::read(dir.join("07.parquet")).unwrap(), b"closed");
        assert_eq!(std::fs::read(dir.join("07-1.parquet")).unwrap(), b"closed too");
        assert_eq!(std::fs::read(&got).unwrap(), b"new");
        assert!(!dir.join("07.parquet.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
