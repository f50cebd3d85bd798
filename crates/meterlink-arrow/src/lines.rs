//! Text archives, line by line: hex per line (with leading fields), rtl-wmbus output and
//! wmbusmeters telegram logs. Lines become rows of frame text, a line number and metadata
//! columns, ready for [`super::decode_batch`]; a line that cannot be read becomes a row with an
//! error (a `frame_error` telegram), never a gap.
//!
//! Rules (the Python `meterlink.archive` module documents them for users):
//! - lines end at `\n`, `\r\n` or a lone `\r` (Python's universal newlines); text is UTF-8, an
//!   invalid sequence reads as U+FFFD; a line is trimmed of white space; blank lines and lines
//!   starting with `#` are skipped but counted in the 1-based `line` column;
//! - `hex`: the first content line fixes the layout. Without a `;`, tab or `,` the line is the
//!   frame (up to a `#` comment). With a separator (the first of those present), the line is
//!   split into trimmed fields: a header line (a field named frame/telegram/hex/data/raw, or no
//!   field of 4+ hex digits) names the columns, else the frame is the last field and the others
//!   are `timestamp` (one) or `field1`, `field2`...; a line with another field count is an error;
//! - `rtl-wmbus`: `;`-separated, the frame is the first field starting `0x`, the other fields are
//!   mode, crc_ok, mode_ok, timestamp, rssi, field6, id;
//! - `wmbusmeters`: the hex between `telegram=|` and the next `|` (`_` ignored), a `+N` after it
//!   is `time_offset`; lines without `telegram=` are log text and are not rows.

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, Int64Array, StringArray};
use arrow_schema::{DataType, Field};

use super::source::{parse_hex_into, FrameSource, InputError};

const FRAME_NAMES: [&str; 5] = ["frame", "telegram", "hex", "data", "raw"];
const RTL_COLUMNS: [&str; 7] = ["mode", "crc_ok", "mode_ok", "timestamp", "rssi", "field6", "id"];

/// The text archive formats [`LineReader`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    /// One hex frame a line, optionally with columns around it.
    Hex,
    /// rtl-wmbus output lines.
    RtlWmbus,
    /// wmbusmeters log lines.
    Wmbusmeters,
}

impl LineFormat {
    /// The format named `hex`, `rtl-wmbus` or `wmbusmeters`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hex" => LineFormat::Hex,
            "rtl-wmbus" => LineFormat::RtlWmbus,
            "wmbusmeters" => LineFormat::Wmbusmeters,
            _ => return None,
        })
    }
}

/// The layout of a `hex` archive, fixed by its first content line.
#[derive(Clone, Debug)]
enum HexLayout {
    /// One frame per line.
    Plain,
    Fields { sep: char, frame_at: usize, width: usize },
}

/// A `hex` field that holds a frame: 4+ characters, all hex digits or separators.
fn is_hex_field(f: &str) -> bool {
    let t = f.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|c| c.is_ascii_hexdigit() || b" :-_".contains(&c))
}

/// Rows parsed so far (not yet handed out as a batch).
#[derive(Default)]
struct Rows {
    frames: StringBuilder,
    lines: Vec<i64>,
    meta: Vec<StringBuilder>,
    /// `(row, error)`, rows increasing.
    errors: Vec<(usize, InputError)>,
}

impl Rows {
    fn len(&self) -> usize {
        self.lines.len()
    }
}

/// Reads a text archive fed in arbitrary pieces and hands out rows in batches.
pub struct LineReader {
    format: LineFormat,
    layout: Option<HexLayout>,
    columns: Vec<String>,
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    pos: usize,
    /// Lines read so far (the number of the last one).
    line: u64,
    /// The last piece ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// Bytes after `pos` already searched for a line end (none found).
    scanned: usize,
    /// Longest line taken, in bytes; a longer one is one error row and is skipped.
    max_line: usize,
    /// Inside an over-long line: its bytes are dropped up to its end.
    skipping: bool,
    rows: Rows,
}

/// The default [`LineReader::max_line_length`]: 64 KiB (a wM-Bus frame is at most 256 bytes,
/// 512 hex digits; a wired one 261).
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// The code of an archive line longer than the limit.
pub const LINE_TOO_LONG_CODE: &str = "line_too_long";

/// A batch of rows: the frames as text (decoded from hex when read) with the metadata columns.
pub struct LineBatch {
    frames: StringArray,
    errors: Vec<(usize, InputError)>,
    /// `line` first, then the format's columns.
    pub metadata: Vec<(Arc<Field>, ArrayRef)>,
}

impl FrameSource for LineBatch {
    fn len(&self) -> usize {
        self.frames.len()
    }
    fn frame<'s>(&'s self, i: usize, scratch: &'s mut Vec<u8>) -> Result<&'s [u8], InputError> {
        let text = self.frames.value(i);
        // Error rows hold empty text: only those are looked up.
        if text.is_empty() && !self.errors.is_empty() {
            if let Ok(k) = self.errors.binary_search_by_key(&i, |(r, _)| *r) {
                return Err(self.errors[k].1.clone());
            }
        }
        parse_hex_into(text, scratch)?;
        Ok(scratch)
    }
}

impl LineReader {
    /// A reader of `format` with nothing fed yet.
    pub fn new(format: LineFormat) -> Self {
        let columns = match format {
            LineFormat::Hex => Vec::new(),
            LineFormat::RtlWmbus => RTL_COLUMNS.iter().map(|s| s.to_string()).collect(),
            LineFormat::Wmbusmeters => vec!["time_offset".to_string()],
        };
        let mut r = LineReader {
            format,
            layout: None,
            columns,
            buf: Vec::new(),
            pos: 0,
            line: 0,
            after_cr: false,
            scanned: 0,
            max_line: DEFAULT_MAX_LINE,
            skipping: false,
            rows: Rows::default(),
        };
        r.rows.meta = r.columns.iter().map(|_| StringBuilder::new()).collect();
        r
    }

    /// The metadata column names after `line` (for `hex`, known once the first content line
    /// has been read).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Lines longer than `bytes` (without their end) become one `line_too_long` error row
    /// each and are skipped, so memory stays bounded by the limit (at least 1).
    pub fn with_max_line_length(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// The line length limit in bytes.
    pub fn max_line_length(&self) -> usize {
        self.max_line
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    /// Append a piece of the archive.
    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > (1 << 20) && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next batch of `max_rows` rows (more only when over-long lines came before a `hex`
    /// archive's first content line: they wait for its layout), or fewer at the end (`last`: nothing more will be
    /// fed, so an unterminated last line is a line). `None` when no full batch is ready (or,
    /// with `last`, nothing is left).
    pub fn next_batch(&mut self, max_rows: usize, last: bool) -> Option<LineBatch> {
        let max_rows = max_rows.max(1);
        // Rows before a `hex` archive's layout is known (over-long lines) wait for it, so that
        // every batch has the same metadata columns.
        while self.rows.len() < max_rows || (self.format == LineFormat::Hex && self.layout.is_none()) {
            if self.after_cr && self.pos < self.buf.len() {
                self.after_cr = false;
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            let Some((end, next)) = self.line_end(last) else { break };
            let start = self.pos;
            self.pos += next;
            self.scanned = 0;
            if std::mem::take(&mut self.skipping) {
                continue; // the rest of an over-long line, already reported
            }
            self.line += 1;
            let line = self.line;
            if end > self.max_line {
                self.too_long(line);
                continue;
            }
            // Split borrows: the text borrows `buf`, the rows are appended to `rows`.
            let text = String::from_utf8_lossy(&self.buf[start..start + end]);
            Self::take_line(self.format, &mut self.layout, &mut self.columns, &mut self.rows, line, &text);
        }
        let waiting = self.format == LineFormat::Hex && self.layout.is_none() && !last;
        if !waiting && (self.rows.len() >= max_rows || (last && self.rows.len() > 0)) {
            return Some(self.finish_rows());
        }
        None
    }

    /// The end of the line at `pos`: (its length, the length with its terminator), or None
    /// when more input is needed. Each byte is searched once (`scanned`), so a long line fed in
    /// many pieces costs linear time; a line that outgrows the limit is reported at once and
    /// its bytes dropped as they come (`skipping`), so memory stays bounded.
    fn line_end(&mut self, last: bool) -> Option<(usize, usize)> {
        let rest = &self.buf[self.pos..];
        let found = rest[self.scanned..].iter().position(|&c| c == b'\n' || c == b'\r').map(|i| i + self.scanned);
        match found {
            // `\r` at the end of what we have: the line ends here; a `\n` that comes next is
            // part of its terminator.
            Some(i) if rest[i] == b'\r' && i + 1 == rest.len() && !last => {
                self.after_cr = true;
                Some((i, i + 1))
            }
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => Some((i, i + 2)),
            Some(i) => Some((i, i + 1)),
            None if last && !rest.is_empty() => Some((rest.len(), rest.len())),
            None if rest.len() > self.max_line && !self.skipping => {
                // Report the line now and drop what we have of it.
                self.line += 1;
                self.too_long(self.line);
                self.skipping = true;
                self.pos = self.buf.len();
                self.scanned = 0;
                None
            }
            None if self.skipping => {
                self.pos = self.buf.len();
                self.scanned = 0;
                None
            }
            None => {
                self.scanned = rest.len();
                None
            }
        }
    }

    fn too_long(&mut self, line: u64) {
        let message = format!("line {line}: longer than the line limit of {} bytes; skipped", self.max_line);
        let err = InputError { message, offset: None, code: LINE_TOO_LONG_CODE };
        self.rows.push_error_with(line, err, std::iter::empty());
    }

    fn finish_rows(&mut self) -> LineBatch {
        let ncols = self.columns.len();
        let mut rows = std::mem::take(&mut self.rows);
        self.rows.meta = (0..ncols).map(|_| StringBuilder::new()).collect();
        let n = rows.len();
        let mut metadata: Vec<(Arc<Field>, ArrayRef)> =
            vec![(Arc::new(Field::new("line", DataType::Int64, true)), Arc::new(Int64Array::from(rows.lines)))];
        for (name, b) in self.columns.iter().zip(rows.meta.iter_mut()) {
            debug_assert_eq!(arrow_array::builder::ArrayBuilder::len(b), n);
            metadata.push((Arc::new(Field::new(name.as_str(), DataType::Utf8, true)), Arc::new(b.finish())));
        }
        LineBatch { frames: rows.frames.finish(), errors: rows.errors, metadata }
    }

    fn take_line(
        format: LineFormat,
        layout: &mut Option<HexLayout>,
        columns: &mut Vec<String>,
        rows: &mut Rows,
        line: u64,
        text: &str,
    ) {
        let s = text.trim();
        if s.is_empty() || s.starts_with('#') {
            return;
        }
        match format {
            LineFormat::Hex => {
                if layout.is_none() {
                    let (l, cols, header) = hex_layout(s);
                    *layout = Some(l);
                    // Rows before the first content line (over-long lines) get null metadata.
                    rows.meta = cols
                        .iter()
                        .map(|_| {
                            let mut b = StringBuilder::new();
                            b.append_nulls(rows.lines.len());
                            b
                        })
                        .collect();
                    *columns = cols;
                    if header {
                        return;
                    }
                }
                match layout.as_ref() {
                    Some(HexLayout::Fields { sep, frame_at, width }) => {
                        let fields: Vec<&str> = s.split(*sep).map(str::trim).collect();
                        if fields.len() != *width {
                            let err = format!("line {line}: line has {} fields, expected {width}", fields.len());
                            rows.push_error(line, err, fields.iter().take(width - 1).map(|f| Some(*f)));
                        } else {
                            let meta = fields.iter().enumerate().filter(|(i, _)| i != frame_at).map(|(_, f)| Some(*f));
                            rows.push(line, fields[*frame_at], meta);
                        }
                    }
                    _ => rows.push(line, s.split('#').next().unwrap_or(""), std::iter::empty()),
                }
            }
            LineFormat::RtlWmbus => {
                let fields: Vec<&str> = s.split(';').collect();
                let at = fields.iter().position(|f| f.starts_with("0x") || f.starts_with("0X"));
                let meta = fields.iter().enumerate().filter(|(i, _)| Some(*i) != at).map(|(_, f)| Some(*f));
                match at {
                    Some(i) => rows.push(line, fields[i], meta),
                    None => rows.push_error(line, format!("line {line}: no 0x... frame field in the rtl-wmbus line"), meta),
                }
            }
            LineFormat::Wmbusmeters => {
                let Some(at) = s.find("telegram=") else { return };
                let rest = &s[at + "telegram=".len()..];
                match rest.strip_prefix('|').and_then(|r| r.find('|').map(|e| (&r[..e], &r[e + 1..]))) {
                    Some((hex, after)) => rows.push(line, hex, std::iter::once(time_offset(after))),
                    None => rows.push_error(
                        line,
                        format!("line {line}: telegram= is not followed by |hex|"),
                        std::iter::once(None),
                    ),
                }
            }
        }
    }
}

impl Rows {
    fn push<'a>(&mut self, line: u64, frame: &str, meta: impl Iterator<Item = Option<&'a str>>) {
        self.frames.append_value(frame);
        self.push_meta(line, meta);
    }

    fn push_error<'a>(&mut self, line: u64, message: String, meta: impl Iterator<Item = Option<&'a str>>) {
        self.push_error_with(line, InputError::new(message, None), meta);
    }

    fn push_error_with<'a>(&mut self, line: u64, err: InputError, meta: impl Iterator<Item = Option<&'a str>>) {
        self.errors.push((self.len(), err));
        self.frames.append_value("");
        self.push_meta(line, meta);
    }

    /// The metadata of a row: the values given, in column order, missing ones null.
    fn push_meta<'a>(&mut self, line: u64, meta: impl Iterator<Item = Option<&'a str>>) {
        self.lines.push(line as i64);
        let mut it = meta;
        for b in &mut self.meta {
            b.append_option(it.next().flatten());
        }
    }
}

/// `+N` or `+N.M` at the start of what follows a wmbusmeters `|hex|`.
fn time_offset(after: &str) -> Option<&str> {
    let digits = after.strip_prefix('+')?;
    let int = digits.bytes().take_while(u8::is_ascii_digit).count();
    if int == 0 {
        return None;
    }
    let frac = match digits[int..].strip_prefix('.') {
        Some(f) => match f.bytes().take_while(u8::is_ascii_digit).count() {
            0 => 0,
            k => k + 1,
        },
        None => 0,
    };
    Some(&digits[..int + frac])
}

/// The layout of a `hex` archive from its first content line: (layout, metadata columns,
/// whether the line is a header).
fn hex_layout(first: &str) -> (HexLayout, Vec<String>, bool) {
    let Some(sep) = [';', '\t', ','].into_iter().find(|c| first.contains(*c)) else {
        return (HexLayout::Plain, Vec::new(), false);
    };
    let fields: Vec<&str> = first.split(sep).map(str::trim).collect();
    let named = fields.iter().position(|f| FRAME_NAMES.iter().any(|n| f.eq_ignore_ascii_case(n)));
    let header = named.is_some() || !fields.iter().any(|f| is_hex_field(f) && f.len() >= 4);
    let frame_at = named.unwrap_or(fields.len() - 1);
    let columns: Vec<String> = if header {
        fields
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != frame_at)
            // Arrow field names cannot hold NUL (the C data interface refuses them).
            .map(|(i, f)| if f.is_empty() { format!("field{i}") } else { f.replace('\0', "\u{FFFD}") })
            .collect()
    } else if fields.len() == 2 {
        vec!["timestamp".to_string()]
    } else {
        (1..fields.len()).map(|i| format!("field{i}")).collect()
    };
    let width = columns.len() + 1;
    (HexLayout::Fields { sep, frame_at, width }, columns, header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;

    fn all(format: LineFormat, pieces: &[&[u8]], max_rows: usize) -> (Vec<LineBatch>, LineReader) {
        all_limited(format, pieces, max_rows, DEFAULT_MAX_LINE)
    }

    fn all_limited(format: LineFormat, pieces: &[&[u8]], max_rows: usize, limit: usize) -> (Vec<LineBatch>, LineReader) {
        let mut r = LineReader::new(format).with_max_line_length(limit);
        let mut out = Vec::new();
        for p in pieces {
            r.feed(p);
            while let Some(b) = r.next_batch(max_rows, false) {
                out.push(b);
            }
        }
        while let Some(b) = r.next_batch(max_rows, true) {
            out.push(b);
        }
        (out, r)
    }

    fn frames(b: &LineBatch) -> Vec<Result<Vec<u8>, String>> {
        let mut s = Vec::new();
        (0..b.len()).map(|i| b.frame(i, &mut s).map(|f| f.to_vec()).map_err(|e| e.message)).collect()
    }

    fn col(b: &LineBatch, name: &str) -> Vec<Option<String>> {
        let (_, a) = b.metadata.iter().find(|(f, _)| f.name() == name).unwrap();
        a.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
    }

    fn lines(b: &LineBatch) -> Vec<i64> {
        b.metadata[0].1.as_primitive::<arrow_array::types::Int64Type>().values().to_vec()
    }

    #[test]
    fn plain_lines_any_newline_split_anywhere() {
        let text = b"# head\r\n0102\r\n\r03 04 # c\n\nzz\r\n0x05";
        // Every way of cutting the text in two gives the same rows.
        for cut in 0..=text.len() {
            let (b, r) = all(LineFormat::Hex, &[&text[..cut], &text[cut..]], 100);
            assert_eq!(b.len(), 1, "cut {cut}");
            let f = frames(&b[0]);
            assert_eq!(f[0], Ok(vec![1, 2]));
            assert_eq!(f[1], Ok(vec![3, 4]));
            assert!(f[2].as_ref().unwrap_err().contains("invalid hex character 'z'"));
            assert_eq!(f[3], Ok(vec![5]));
            assert_eq!(lines(&b[0]), [2, 4, 6, 7], "cut {cut}");
            assert_eq!(r.lines_read(), 7);
            assert_eq!(b[0].metadata.len(), 1);
        }
    }

    #[test]
    fn batches_hold_max_rows() {
        let text = "0102\n".repeat(10);
        let (b, _) = all(LineFormat::Hex, &[text.as_bytes()], 4);
        assert_eq!(b.iter().map(|b| b.len()).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(lines(&b[2]), [9, 10]);
    }

    #[test]
    fn fields_header_and_bad_lines() {
        let (b, r) = all(LineFormat::Hex, &[b"2024-01-01;0102\n2024-01-02;zz\n2024;x;0102\n"], 100);
        assert_eq!(r.columns(), ["timestamp"]);
        assert_eq!(col(&b[0], "timestamp"), [Some("2024-01-01".into()), Some("2024-01-02".into()), Some("2024".into())]);
        let f = frames(&b[0]);
        assert_eq!(f[2], Err("line 3: line has 3 fields, expected 2".into()));
        let (b, r) = all(LineFormat::Hex, &[b"received, rssi ,Frame\n2024,-71,0102\n"], 100);
        assert_eq!(r.columns(), ["received", "rssi"]);
        assert_eq!(col(&b[0], "rssi"), [Some("-71".into())]);
        assert_eq!(frames(&b[0])[0], Ok(vec![1, 2]));
        assert_eq!(lines(&b[0]), [2]);
        let (_, r) = all(LineFormat::Hex, &[b"a,b,0102\n"], 100);
        assert_eq!(r.columns(), ["field1", "field2"]);
        let (_, r) = all(LineFormat::Hex, &[b"a,,b\n"], 100);
        assert_eq!(r.columns(), ["a", "field1"]);
        let (_, r) = all(LineFormat::Hex, &[b"ti\0me;frame\n"], 100);
        assert_eq!(r.columns(), ["ti\u{fffd}me"]);
    }

    #[test]
    fn rtl_wmbus_and_wmbusmeters() {
        let (b, _) = all(LineFormat::RtlWmbus, &[b"T1;1;1;2019-03-28 08:49:36.000;117;102;12345678;0x0102\nC1;1;1;t;97\n"], 9);
        assert_eq!(frames(&b[0])[0], Ok(vec![1, 2]));
        assert_eq!(col(&b[0], "mode"), [Some("T1".into()), Some("C1".into())]);
        assert_eq!(col(&b[0], "id"), [Some("12345678".into()), None]);
        assert!(frames(&b[0])[1].as_ref().unwrap_err().contains("no 0x"));
        let log = b"(wmbus) received\ntelegram=|01_02|+12.5s\nlog\ntelegram=|0102\ntelegram=|0304|\n";
        let (b, _) = all(LineFormat::Wmbusmeters, &[log], 9);
        assert_eq!(lines(&b[0]), [2, 4, 5]);
        assert_eq!(col(&b[0], "time_offset"), [Some("12.5".into()), None, None]);
        assert_eq!(frames(&b[0])[0], Ok(vec![1, 2]));
        assert!(frames(&b[0])[1].as_ref().unwrap_err().contains("not followed by |hex|"));
        assert_eq!(frames(&b[0])[2], Ok(vec![3, 4]));
        assert_eq!(time_offset("+7"), Some("7"));
        assert_eq!(time_offset("+7."), Some("7"));
        assert_eq!(time_offset("x"), None);
    }

    type Row = (i64, Result<Vec<u8>, String>, Vec<Option<String>>);

    fn summary(b: &[LineBatch]) -> Vec<Row> {
        let mut out = Vec::new();
        for batch in b {
            let f = frames(batch);
            let l = lines(batch);
            for (i, (line, frame)) in l.into_iter().zip(f).enumerate() {
                let meta = batch.metadata[1..].iter().map(|(_, a)| a.as_string::<i32>().iter().nth(i).flatten().map(str::to_string)).collect();
                out.push((line, frame, meta));
            }
        }
        out
    }

    proptest::proptest! {
        // Any bytes, cut anywhere, in any batch size: no panic, and the rows are those of the
        // whole text read at once.
        #[test]
        fn pieces_and_batch_sizes_do_not_change_the_rows(
            tokens in proptest::collection::vec(proptest::sample::select(vec![
                &b"0102"[..], b"A", b";", b",", b"\t", b" ", b"\r", b"\n", b"\r\n", b"#", b"0x", b"|",
                b"telegram=|", b"+1.5", b"\xff", b"frame", b"T1;1;1;", b"zz",
            ]), 0..60),
            cuts in proptest::collection::vec(0usize..200, 0..4),
            max_rows in 1usize..5,
            format in proptest::sample::select(vec![LineFormat::Hex, LineFormat::RtlWmbus, LineFormat::Wmbusmeters]),
            limit in proptest::sample::select(vec![3usize, 8, 20, DEFAULT_MAX_LINE]),
        ) {
            let text: Vec<u8> = tokens.concat();
            let whole = summary(&all_limited(format, &[&text], 1000, limit).0);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&text[at..c]);
                at = c;
            }
            pieces.push(&text[at..]);
            let (batches, _) = all_limited(format, &pieces, max_rows, limit);
            // A batch holds at most max_rows rows, except the first when over-long lines came
            // before a hex archive's first content line (held until its layout is known).
            let held = whole.iter().take_while(|(_, f, _)| f.as_ref().is_err_and(|e| e.contains("line limit"))).count();
            proptest::prop_assert!(batches.iter().enumerate().all(|(i, b)| b.len() > 0
                && (b.len() <= max_rows || (i == 0 && format == LineFormat::Hex && b.len() <= held + 1))));
            proptest::prop_assert_eq!(summary(&batches), whole);
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let (b, _) = all(LineFormat::Hex, &[b"t\xff;0102\n"], 9);
        assert_eq!(col(&b[0], "timestamp"), [Some("t\u{fffd}".into())]);
        assert_eq!(frames(&b[0])[0], Ok(vec![1, 2]));
    }

    #[test]
    fn an_over_long_line_is_one_error_row_and_is_dropped_as_it_comes() {
        let text = b"0102\n0304050607080910\r\n0506\n";
        for cut in 0..=text.len() {
            let (b, r) = all_limited(LineFormat::Hex, &[&text[..cut], &text[cut..]], 100, 8);
            let f = frames(&b[0]);
            assert_eq!(f[0], Ok(vec![1, 2]));
            assert_eq!(f[1], Err("line 2: longer than the line limit of 8 bytes; skipped".into()), "cut {cut}");
            assert_eq!(f[2], Ok(vec![5, 6]));
            assert_eq!((lines(&b[0]), r.lines_read()), (vec![1, 2, 3], 3));
        }
        let (b, _) = all_limited(LineFormat::Hex, &[b"01020304"], 100, 8);
        assert_eq!(frames(&b[0]), [Ok(vec![1, 2, 3, 4])]); // exactly the limit: a line
        // The first content line too long: the header comes after it; its metadata is null.
        let (b, r) = all_limited(LineFormat::Hex, &[b"xxxxxxxxxxxxxx\nts;frame\n1;0102\n"], 100, 8);
        assert_eq!(r.columns(), ["ts"]);
        assert_eq!(col(&b[0], "ts"), [None, Some("1".into())]);
        let mut s = Vec::new();
        assert_eq!(b[0].frame(0, &mut s).unwrap_err().code, LINE_TOO_LONG_CODE);
    }

    #[test]
    fn a_huge_line_costs_linear_time_and_bounded_memory() {
        // 64 MiB without a line end, fed in 1 MiB pieces: one error row; the buffer never
        // holds more than the limit plus a piece.
        let piece = vec![b'a'; 1 << 20];
        let mut r = LineReader::new(LineFormat::Hex);
        let mut rows = Vec::new();
        let t = std::time::Instant::now();
        for _ in 0..64 {
            r.feed(&piece);
            rows.extend(std::iter::from_fn(|| r.next_batch(10, false)));
            assert!(r.buf.len() <= DEFAULT_MAX_LINE + piece.len(), "{}", r.buf.len());
        }
        r.feed(b"\n0102\n");
        rows.extend(std::iter::from_fn(|| r.next_batch(10, true)));
        let f: Vec<_> = rows.iter().flat_map(frames).collect();
        assert_eq!(f.len(), 2);
        assert!(f[0].as_ref().unwrap_err().contains("line limit of 65536 bytes"));
        assert_eq!(f[1], Ok(vec![1, 2]));
        // Quadratic rescanning took seconds here; one pass takes milliseconds (debug build).
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{:?}", t.elapsed());
    }
}
