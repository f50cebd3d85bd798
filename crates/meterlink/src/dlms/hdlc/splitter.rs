//! Cut an HDLC byte stream (a serial capture, concatenated frames, line noise) into frames.
//!
//! A candidate starts at a flag 0x7E; its format field gives its length (IEC 62056-46 6.4.4.1),
//! and it is accepted only when the closing flag, HCS and FCS are right. Consecutive frames may
//! share one flag (`7E … 7E … 7E`, ISO/IEC 13239 4.3) and idle flags may sit between frames.
//! Anything else is skipped and reported, and the splitter resynchronises at the next flag.
//!
//! Octet stuffing: IEC 62056-46 frames are length-delimited and never stuffed, but some HAN
//! readers deliver ISO/IEC 13239 4.5.2 octet-stuffed frames (0x7D, then the byte XOR 0x20). When
//! a candidate fails as it is and [`FrameSplitter::unstuff`] is on (the default), the bytes up to
//! the next flag are un-stuffed and accepted if they then pass every check.

use super::{format_length, parse_frame, FLAG, MAX_FRAME_LENGTH};

/// The escape octet of ISO/IEC 13239 octet stuffing.
pub const ESCAPE: u8 = 0x7D;

/// The most stream bytes a stuffed frame can occupy (every byte escaped, two flags).
const MAX_STUFFED: usize = 2 * (MAX_FRAME_LENGTH + 2) + 2;

/// One item cut from the stream. Offsets count from the first byte ever pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitItem {
    /// A complete frame that passed [`parse_frame`].
    Frame {
        /// Stream offset of the opening flag.
        offset: u64,
        /// Bytes the frame occupies in the stream, both flags included (more than
        /// `bytes.len()` for a stuffed frame).
        raw_len: usize,
        /// The frame, flag to flag (un-stuffed when `stuffed`).
        bytes: Vec<u8>,
        /// Whether the frame was octet-stuffed in the stream.
        stuffed: bool,
    },
    /// A run of bytes that belong to no frame (noise, broken frames).
    Skipped {
        /// Stream offset of the first skipped byte.
        offset: u64,
        /// Number of bytes skipped.
        len: u64,
    },
}

/// What starts at the read position.
enum Candidate {
    /// A frame: (bytes to consume, its bytes if un-stuffed).
    Frame(usize, Option<Vec<u8>>),
    /// An idle or shared flag, dropped silently.
    Fill,
    /// This many bytes are no frame.
    Garbage(usize),
    /// More bytes are needed to tell.
    NeedMore,
}

/// Incremental splitter: `push` bytes, take items with `next_item` until it returns `None`; at
/// the end of the stream call `finish` and drain again. The result does not depend on how the
/// stream was chunked.
#[derive(Debug)]
pub struct FrameSplitter {
    buf: Vec<u8>,
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// The flag at `pos` closed the frame returned last or follows an idle flag: dropped
    /// silently if it opens no frame.
    shared_flag: bool,
    skipped: Option<(u64, u64)>,
    queued: Option<SplitItem>,
    finished: bool,
    /// Try octet un-stuffing when a candidate fails as it is (on by default).
    pub unstuff: bool,
    /// Frames returned so far.
    pub frames_total: u64,
    /// Bytes skipped so far.
    pub skipped_total: u64,
}

impl Default for FrameSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameSplitter {
    /// An empty splitter that un-stuffs when needed.
    pub fn new() -> Self {
        FrameSplitter {
            buf: Vec::new(),
            pos: 0,
            base: 0,
            shared_flag: false,
            skipped: None,
            queued: None,
            finished: false,
            unstuff: true,
            frames_total: 0,
            skipped_total: 0,
        }
    }

    /// Append bytes of the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Mark the end of the stream: what is left is decided without waiting for more.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// The next frame or skipped run, or None until more bytes are pushed (or at the end).
    pub fn next_item(&mut self) -> Option<SplitItem> {
        loop {
            if let Some(item) = self.queued.take() {
                return Some(item);
            }
            if self.pos >= self.buf.len() {
                return if self.finished { self.flush_skip() } else { None };
            }
            let at = self.base + self.pos as u64;
            match self.classify() {
                Candidate::NeedMore => return None,
                Candidate::Fill => {
                    // An idle flag: the next flag may still open a frame or be idle too.
                    self.pos += 1;
                    self.shared_flag = true;
                }
                Candidate::Garbage(n) => {
                    self.pos += n;
                    self.shared_flag = false;
                    self.skipped_total += n as u64;
                    let run = self.skipped.get_or_insert((at, 0));
                    run.1 += n as u64;
                }
                Candidate::Frame(n, unstuffed) => {
                    let stuffed = unstuffed.is_some();
                    let bytes = unstuffed.unwrap_or_else(|| self.buf[self.pos..self.pos + n].to_vec());
                    // Leave the closing flag: it may open the next frame.
                    self.pos += n - 1;
                    self.shared_flag = true;
                    self.frames_total += 1;
                    let frame = SplitItem::Frame { offset: at, raw_len: n, bytes, stuffed };
                    match self.flush_skip() {
                        Some(skip) => {
                            self.queued = Some(frame);
                            return Some(skip);
                        }
                        None => return Some(frame),
                    }
                }
            }
        }
    }

    fn flush_skip(&mut self) -> Option<SplitItem> {
        self.skipped.take().map(|(offset, len)| SplitItem::Skipped { offset, len })
    }

    /// Decide what starts at the read position.
    fn classify(&self) -> Candidate {
        let rest = &self.buf[self.pos..];
        if rest[0] != FLAG {
            return Candidate::Garbage(rest.iter().position(|&b| b == FLAG).unwrap_or(rest.len()));
        }
        if rest.len() < 3 {
            return match (self.finished, rest.get(1)) {
                (_, Some(&FLAG)) => Candidate::Fill,
                (false, _) => Candidate::NeedMore,
                (true, _) if self.shared_flag => Candidate::Fill,
                (true, _) => Candidate::Garbage(1),
            };
        }
        if rest[1] == FLAG {
            return Candidate::Fill;
        }
        if let Some(len) = format_length(rest[1], rest[2]) {
            if rest.len() < len + 2 && !self.finished {
                return Candidate::NeedMore;
            }
            if rest.len() >= len + 2 && parse_frame(&rest[..len + 2]).is_ok() {
                return Candidate::Frame(len + 2, None);
            }
        }
        if self.unstuff {
            match rest[1..].iter().position(|&b| b == FLAG).map(|j| j + 1) {
                Some(j) if j < MAX_STUFFED => {
                    if let Some(frame) = unstuffed_frame(&rest[..=j]) {
                        return Candidate::Frame(j + 1, Some(frame));
                    }
                }
                None if !self.finished && rest.len() < MAX_STUFFED => return Candidate::NeedMore,
                _ => {}
            }
        }
        if self.shared_flag {
            Candidate::Fill
        } else {
            Candidate::Garbage(1)
        }
    }
}

/// The candidate `7E … 7E` un-stuffed, if it holds an escape and then passes every check.
fn unstuffed_frame(candidate: &[u8]) -> Option<Vec<u8>> {
    if !candidate.contains(&ESCAPE) {
        return None;
    }
    let frame = unstuff(candidate)?;
    parse_frame(&frame).ok()?;
    Some(frame)
}

/// Undo ISO/IEC 13239 octet stuffing (0x7D then the byte XOR 0x20) between the flags of one
/// frame `7E … 7E`; None if an escape octet ends the frame.
pub fn unstuff(frame: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(frame.len());
    let mut escape = false;
    let last = frame.len().saturating_sub(1);
    for (i, &b) in frame.iter().enumerate() {
        if escape {
            out.push(b ^ 0x20);
            escape = false;
        } else if b == ESCAPE && i != 0 && i != last {
            escape = true;
        } else {
            out.push(b);
        }
    }
    (!escape).then_some(out)
}

/// Split a whole capture at once.
pub fn split_stream(data: &[u8]) -> Vec<SplitItem> {
    let mut s = FrameSplitter::new();
    s.push(data);
    s.finish();
    std::iter::from_fn(|| s.next_item()).collect()
}
