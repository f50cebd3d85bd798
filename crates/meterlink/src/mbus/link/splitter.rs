//! Cut a raw wired M-Bus byte stream (a serial capture, concatenated frames, line noise between
//! them) into FT1.2 frames. A candidate is accepted only when its length, checksum and stop byte
//! are all right; anything else is skipped one byte at a time and reported, so the splitter
//! resynchronises after garbage without losing a following good frame.

use super::wired::{self, SINGLE_ACK, START_LONG, START_SHORT, STOP};

/// One item cut from the stream. Offsets count from the first byte ever pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A complete FT1.2 frame whose length, checksum and stop byte were checked.
    Frame {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// The frame, start to stop byte.
        bytes: Vec<u8>,
    },
    /// A run of bytes that belong to no frame (noise, broken frames).
    Skipped {
        /// Stream offset of the first skipped byte.
        offset: u64,
        /// Number of bytes skipped.
        len: u64,
    },
}

#[derive(Debug)]
enum Candidate {
    /// A checked frame of this many bytes starts here.
    Frame(usize),
    /// Not a frame start: skip this byte.
    Garbage,
    /// Could be a frame, but more bytes are needed to tell.
    NeedMore,
}

/// Incremental splitter: `push` bytes, then take pieces with `next_piece` until it returns
/// `None`; at the end of the stream call `finish` and drain again.
#[derive(Debug, Default)]
pub struct Splitter {
    buf: Vec<u8>,
    /// Read position in `buf`.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// A run of skipped bytes not yet reported: (stream offset, length).
    skipped: Option<(u64, u64)>,
    finished: bool,
    /// Treat a lone 0xE5 as a frame (an acknowledgement). On by default; noise often holds E5.
    pub accept_ack: bool,
    /// Frames returned so far.
    pub frames_total: u64,
    /// Bytes skipped so far (counted as they are skipped, before their run is reported).
    pub skipped_total: u64,
}

impl Splitter {
    /// An empty splitter with [`Splitter::accept_ack`] on.
    pub fn new() -> Self {
        Splitter { accept_ack: true, ..Default::default() }
    }

    /// Append the next bytes of the stream.
    pub fn push(&mut self, data: &[u8]) {
        // Drop consumed bytes before growing, so memory stays bounded by the largest frame.
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// No more input will come: what remains is either complete frames or skipped bytes.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    fn classify(&self, rest: &[u8]) -> Candidate {
        match rest[0] {
            SINGLE_ACK if self.accept_ack => Candidate::Frame(1),
            START_SHORT | START_LONG => {
                let Some(len) = wired::frame_len(rest) else {
                    return Candidate::NeedMore;
                };
                if rest[0] == START_LONG {
                    // Cheap header checks before waiting for the whole frame.
                    if rest.len() >= 3 && rest[2] != rest[1] {
                        return Candidate::Garbage;
                    }
                    if rest.len() >= 4 && rest[3] != START_LONG {
                        return Candidate::Garbage;
                    }
                    if rest[1] < 3 {
                        return Candidate::Garbage;
                    }
                }
                if rest.len() < len {
                    return Candidate::NeedMore;
                }
                let body = if rest[0] == START_LONG { 4..len - 2 } else { 1..3 };
                if rest[len - 1] == STOP && rest[len - 2] == wired::checksum(&rest[body]) {
                    Candidate::Frame(len)
                } else {
                    Candidate::Garbage
                }
            }
            _ => Candidate::Garbage,
        }
    }

    fn flush_skipped(&mut self) -> Option<Piece> {
        self.skipped.take().map(|(offset, len)| Piece::Skipped { offset, len })
    }

    /// The next frame or skipped run, or `None` when more input is needed (or all is drained).
    pub fn next_piece(&mut self) -> Option<Piece> {
        loop {
            if self.pos >= self.buf.len() {
                return if self.finished { self.flush_skipped() } else { None };
            }
            let rest = &self.buf[self.pos..];
            let cand = match self.classify(rest) {
                Candidate::NeedMore if self.finished => Candidate::Garbage,
                c => c,
            };
            match cand {
                Candidate::NeedMore => return None,
                Candidate::Garbage => {
                    let at = self.base + self.pos as u64;
                    match &mut self.skipped {
                        Some((_, len)) => *len += 1,
                        None => self.skipped = Some((at, 1)),
                    }
                    self.skipped_total += 1;
                    self.pos += 1;
                }
                Candidate::Frame(len) => {
                    if let Some(p) = self.flush_skipped() {
                        return Some(p);
                    }
                    let offset = self.base + self.pos as u64;
                    let bytes = self.buf[self.pos..self.pos + len].to_vec();
                    self.pos += len;
                    self.frames_total += 1;
                    return Some(Piece::Frame { offset, bytes });
                }
            }
        }
    }
}

/// Split a whole buffer at once.
pub fn split_all(data: &[u8]) -> Vec<Piece> {
    let mut s = Splitter::new();
    s.push(data);
    s.finish();
    std::iter::from_fn(|| s.next_piece()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(pieces: &[Piece]) -> Vec<(u64, usize)> {
        pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Frame { offset, bytes } => Some((*offset, bytes.len())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn concatenated_frames_with_noise() {
        let long = wired::build_long(0x08, 1, 0x72, &[0x68; 20]).unwrap();
        let short = wired::build_short(0x5B, 1);
        let mut stream = vec![0x00, 0x68, 0x05, 0xFF]; // noise including a false long start
        stream.extend_from_slice(&long);
        stream.extend_from_slice(&short);
        stream.extend_from_slice(&[0x10, 0x10]); // false short starts
        stream.extend_from_slice(&long);
        stream.push(0xE5);
        let pieces = split_all(&stream);
        assert_eq!(frames(&pieces), vec![(4, 29), (33, 5), (40, 29), (69, 1)]);
        assert_eq!(pieces[0], Piece::Skipped { offset: 0, len: 4 });
        assert!(pieces.contains(&Piece::Skipped { offset: 38, len: 2 }));
    }

    #[test]
    fn byte_by_byte_feeding_matches_whole() {
        let long = wired::build_long(0x08, 1, 0x72, &[1, 2, 3, 0x16, 0x68]).unwrap();
        let mut stream = vec![0x68, 0x68];
        for _ in 0..3 {
            stream.extend_from_slice(&long);
            stream.push(0x77);
        }
        let whole = split_all(&stream);
        let mut s = Splitter::new();
        let mut got = vec![];
        for b in &stream {
            s.push(&[*b]);
            while let Some(p) = s.next_piece() {
                got.push(p);
            }
        }
        s.finish();
        while let Some(p) = s.next_piece() {
            got.push(p);
        }
        assert_eq!(got, whole);
        assert_eq!(frames(&whole).len(), 3);
        assert_eq!(s.skipped_total, 2 + 3);
    }

    #[test]
    fn truncated_tail_is_reported_as_skipped() {
        let long = wired::build_long(0x08, 1, 0x72, &[9; 10]).unwrap();
        let pieces = split_all(&long[..long.len() - 1]);
        let total: u64 = pieces
            .iter()
            .map(|p| if let Piece::Skipped { len, .. } = p { *len } else { 0 })
            .sum();
        assert_eq!(total, long.len() as u64 - 1);
        assert!(frames(&pieces).is_empty());
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn splitter_accounts_for_every_byte(
            data in proptest::collection::vec(prop::sample::select(vec![0x68u8, 0x10, 0x16, 0xE5, 0x03, 0x08, 0x00, 0x5B, 0x01]), 0..400),
            chunk in 1usize..20,
        ) {
            let mut s = Splitter::new();
            let mut total = 0u64;
            let mut pieces = vec![];
            for c in data.chunks(chunk) {
                s.push(c);
                while let Some(p) = s.next_piece() { pieces.push(p) }
            }
            s.finish();
            while let Some(p) = s.next_piece() { pieces.push(p) }
            for p in pieces {
                match p {
                    Piece::Frame { bytes, .. } => { crate::mbus::link::wired::parse(&bytes).unwrap(); total += bytes.len() as u64 }
                    Piece::Skipped { len, .. } => total += len,
                }
            }
            prop_assert_eq!(total, data.len() as u64);
        }
    }
}
