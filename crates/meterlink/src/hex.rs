//! Hex text ↔ bytes: the one hex parser of meterlink (frames given as text, key files, tables).

use std::fmt;

/// Why a text is not hex. `offset` is the character position in the text as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexError {
    /// Position of the offending character (the text's length for an odd digit count).
    pub offset: usize,
    /// What is wrong.
    pub reason: HexErrorReason,
}

/// The two ways hex text can be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexErrorReason {
    /// A character that is neither a hex digit nor an ignored separator.
    InvalidCharacter(char),
    /// The digits do not pair up into bytes.
    OddDigits,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            HexErrorReason::InvalidCharacter(ch) => write!(f, "invalid hex character {ch:?} at position {}", self.offset),
            HexErrorReason::OddDigits => f.write_str("odd number of hex digits"),
        }
    }
}

impl std::error::Error for HexError {}

/// Hex digits → bytes, appended to `out` (cleared first). Whitespace and `:` `-` `_` separators
/// are ignored, as is a `0x` prefix. The error names the position of the offending character.
pub fn parse_hex_into(s: &str, out: &mut Vec<u8>) -> Result<(), HexError> {
    out.clear();
    let t = s.trim_start();
    let lead = s.len() - t.len();
    let (t, lead) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(r) => (r, lead + 2),
        None => (t, lead),
    };
    out.reserve(t.len() / 2);
    let mut hi: Option<u8> = None;
    for (i, c) in t.bytes().enumerate() {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b' ' | b'\t' | b'\n' | b'\r' | b':' | b'-' | b'_' => continue,
            _ => {
                let ch = t[i..].chars().next().unwrap_or('?');
                return Err(HexError { offset: i + lead, reason: HexErrorReason::InvalidCharacter(ch) });
            }
        };
        match hi.take() {
            None => hi = Some(v),
            Some(h) => out.push(h << 4 | v),
        }
    }
    if hi.is_some() {
        return Err(HexError { offset: s.len(), reason: HexErrorReason::OddDigits });
    }
    Ok(())
}

/// Hex text → bytes (see [`parse_hex_into`]).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::new();
    parse_hex_into(s, &mut out)?;
    Ok(out)
}

/// Bytes → lowercase hex, no separators (how meterlink renders binary values).
pub fn to_hex_lower(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 0xF) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_prefix_and_errors() {
        assert_eq!(parse_hex(" 0x68:0a-FF_1 0").unwrap(), [0x68, 0x0A, 0xFF, 0x10]);
        let e = parse_hex("68 0g").unwrap_err();
        assert_eq!((e.offset, e.to_string()), (4, "invalid hex character 'g' at position 4".to_string()));
        let e = parse_hex("680").unwrap_err();
        assert_eq!((e.offset, e.reason), (3, HexErrorReason::OddDigits));
        assert_eq!(parse_hex("abc").unwrap_err().offset, 3);
        assert_eq!(parse_hex("zz").unwrap_err().offset, 0);
        assert_eq!(to_hex_lower(&[0xAB, 0x01]), "ab01");
    }
}
