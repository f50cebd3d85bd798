//! File intake (issue 15 §1): an archive file, or a directory of them, read as `meterlink bulk`
//! reads text archives (`meterlink_arrow::LineReader`: hex lines `[timestamp;]hex` with optional
//! header, rtl-wmbus output, wmbusmeters logs). `once = true` reads everything and stops;
//! otherwise a directory is polled every second for new files (each file is read once, when
//! it first appears; files are taken in name order).
//!
//! Each line is one [`Reception`]: gateway from a `gateway` column (else `e_meter`, the DSMR
//! E-meter that relays it; else the intake's name), time from a `timestamp`/`time` column (Unix
//! s or ms, or ISO 8601, UTC unless an offset is given; else the time it was read), RSSI from a
//! `rssi` column. A line that is not hex is sent on as its text bytes, so the pipeline rejects
//! it with a decode error code instead of dropping it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, StringArray};
use meterlink_arrow::{FrameSource, LineBatch, LineFormat, LineReader};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Sink;
use crate::config::FileIntake;
use crate::error::ServiceError;
use crate::reception::{LinkCrc, Protocol, Reception};

/// Start reading `cfg` on a blocking thread; it sends into `sink` (waiting when the queue is
/// full) and ends when done (`once`) or when `stop` turns true.
pub fn spawn(cfg: FileIntake, sink: Sink, stop: watch::Receiver<bool>) -> Result<JoinHandle<()>, ServiceError> {
    if !cfg.path.exists() {
        return Err(ServiceError::Config { path: format!("files ({})", cfg.name), reason: format!("{} does not exist", cfg.path.display()) });
    }
    let protocol = match cfg.format.as_str() {
        "dlms" => Protocol::Dlms,
        _ => Protocol::Mbus,
    };
    Ok(tokio::task::spawn_blocking(move || {
        let reader = FileReader { intake: cfg.name.as_str().into(), protocol, sink, stop };
        if let Err(e) = reader.run(&cfg) {
            tracing::error!(intake = %cfg.name, error = %e, "file intake stopped");
        }
    }))
}

struct FileReader {
    intake: Arc<str>,
    protocol: Protocol,
    sink: Sink,
    stop: watch::Receiver<bool>,
}

/// The files of `path`: itself, or a directory's regular files in name order.
fn list(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    v.sort();
    Ok(v)
}

impl FileReader {
    fn stopped(&self) -> bool {
        *self.stop.borrow() || self.sink.is_closed()
    }

    fn run(&self, cfg: &FileIntake) -> Result<(), ServiceError> {
        let mut done = std::collections::HashSet::new();
        loop {
            for f in list(&cfg.path).map_err(|e| ServiceError::Io(format!("{}: {e}", cfg.path.display())))? {
                if self.stopped() {
                    return Ok(());
                }
                if done.insert(f.clone()) {
                    self.read_file(&f, &cfg.format)?;
                }
            }
            if cfg.once || self.stopped() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }

    fn read_file(&self, path: &Path, format: &str) -> Result<(), ServiceError> {
        let io = |e: std::io::Error| ServiceError::Io(format!("{}: {e}", path.display()));
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut chunk = vec![0u8; 1 << 20];
        let n = file.read(&mut chunk).map_err(io)?;
        let fmt = detect(format, &chunk[..n]);
        let mut reader = LineReader::new(fmt);
        reader.feed(&chunk[..n]);
        let mut last = n == 0;
        loop {
            while let Some(b) = reader.next_batch(4096, last) {
                if !self.send_batch(&b) {
                    return Ok(());
                }
            }
            if last {
                return Ok(());
            }
            let n = file.read(&mut chunk).map_err(io)?;
            reader.feed(&chunk[..n]);
            last = n == 0;
        }
    }

    /// Send every row of a batch; false when the pipeline is gone or stopping.
    fn send_batch(&self, b: &LineBatch) -> bool {
        let col = |names: &[&str]| b.metadata.iter().find(|(f, _)| names.contains(&f.name().as_str())).and_then(|(_, a)| a.as_any().downcast_ref::<StringArray>().cloned());
        let (times, gateways, rssis) = (col(&["timestamp", "time"]), col(&["gateway", "e_meter"]), col(&["rssi"]));
        let text = |c: &Option<StringArray>, i: usize| c.as_ref().filter(|c| c.is_valid(i)).map(|c| c.value(i).to_string());
        let mut scratch = Vec::new();
        for i in 0..b.len() {
            let frame = match b.frame(i, &mut scratch) {
                Ok(f) => f.to_vec(),
                Err(e) => e.message.into_bytes(),
            };
            let rx = Reception {
                intake: self.intake.clone(),
                gateway: text(&gateways, i).map_or_else(|| self.intake.clone(), |g| g.as_str().into()),
                received_at_ms: text(&times, i).and_then(|t| super::parse::time::parse_ms(&t)).unwrap_or_else(now_ms),
                rssi: text(&rssis, i).and_then(|r| r.trim().parse().ok()),
                frame,
                link_crc: LinkCrc::Auto,
                protocol: self.protocol,
                ack: None,
            };
            if self.stopped() || self.sink.blocking_send(rx).is_err() {
                return false;
            }
        }
        true
    }
}

/// The text format: as configured, or detected from the first lines as `meterlink bulk` does.
fn detect(format: &str, head: &[u8]) -> LineFormat {
    if let Some(f) = LineFormat::parse(format) {
        return f;
    }
    let text = String::from_utf8_lossy(head);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).take(50).collect();
    if lines.iter().any(|l| l.contains("telegram=")) {
        return LineFormat::Wmbusmeters;
    }
    if !lines.is_empty() && lines.iter().take(5).all(|l| is_rtl_line(l)) {
        return LineFormat::RtlWmbus;
    }
    LineFormat::Hex
}

/// `T1;1;1;...`: a mode, then the CRC and mode flags.
fn is_rtl_line(l: &str) -> bool {
    let f: Vec<&str> = l.splitn(4, ';').collect();
    f.len() == 4
        && (1..=2).contains(&f[0].len())
        && f[0].as_bytes()[0].is_ascii_alphabetic()
        && f[0].bytes().all(|c| c.is_ascii_alphanumeric())
        && matches!(f[1], "0" | "1")
        && matches!(f[2], "0" | "1")
}

/// Now, Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(detect("auto", b"T1;1;1;2019-03-28 08:49:36.000;117;102;12345678;0x1e44\n"), LineFormat::RtlWmbus);
        assert_eq!(detect("auto", b"(wmbus) telegram=|1E44AE4C|+12\n"), LineFormat::Wmbusmeters);
        assert_eq!(detect("auto", b"timestamp;frame\n2024-01-01T00:00:00Z;1E44\n"), LineFormat::Hex);
    }
}
