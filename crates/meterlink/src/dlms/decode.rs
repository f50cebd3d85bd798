//! The DLMS/COSEM pipeline: framing → APDU → deciphering → data → OBIS rows.
//!
//! Each stage reports errors relative to the bytes it was given; [`dlms_error`] is the one place
//! that turns them into input offsets.

use super::apdu::{self, tags, Apdu, LongInvokeIdAndPriority};
use super::axdr::tape;
use super::cosem::DateTime;
use super::hdlc::{self, HdlcAddress, HdlcControl};
use super::mbus::{self, MbusDlmsInfo};
use super::p1;
use super::security::gcm::{decipher_cached, GcmCache};
use super::security::{self, parse_ciphered, CipheredApdu, DlmsKeys};
use super::wrapper::{self, WrapperHeader};
use super::{push, DlmsError, ObisRow};
use crate::error::{Error, ErrorKind};

/// How the input is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// Recognised from the first bytes ([`detect_framing`]).
    #[default]
    Auto,
    /// One HDLC frame (`7E … 7E`).
    Hdlc,
    /// A TCP/UDP wrapper frame.
    Wrapper,
    /// DLMS over wired M-Bus (one or more long frames).
    Mbus,
    /// An encrypted (general-glo-ciphering) or clear P1 text telegram.
    P1,
    /// A bare APDU.
    Apdu,
}

impl Framing {
    /// The name used by the Python API and the Arrow output.
    pub const fn name(self) -> &'static str {
        match self {
            Framing::Auto => "auto",
            Framing::Hdlc => "hdlc",
            Framing::Wrapper => "wrapper",
            Framing::Mbus => "mbus",
            Framing::P1 => "p1",
            Framing::Apdu => "apdu",
        }
    }

    /// The framing named `name` (the inverse of [`Framing::name`]).
    pub fn from_name(name: &str) -> Option<Framing> {
        [Framing::Auto, Framing::Hdlc, Framing::Wrapper, Framing::Mbus, Framing::P1, Framing::Apdu]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// The keys to decipher with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Keys {
    /// No keys: ciphered APDUs are decoded as far as the outer APDU.
    #[default]
    None,
    /// The same keys for every server.
    Every(DlmsKeys),
    /// Keys by server system title. Where a ciphered APDU carries no system title of its own
    /// (glo-/ded- service APDUs, glo-initiate, RLRQ/RLRE), a one-entry map gives the title.
    ByTitle(Vec<([u8; 8], DlmsKeys)>),
}

impl Keys {
    /// The system title and keys to decipher `c` with: its own title if it carries one, else
    /// the title of a one-entry map (None when the title is unknown or has no keys).
    fn for_apdu(&self, c: &CipheredApdu) -> Option<([u8; 8], &DlmsKeys)> {
        match (self, c.system_title) {
            (Keys::None, _) => None,
            (Keys::Every(k), Some(t)) => Some((t, k)),
            (Keys::Every(_), None) => None,
            (Keys::ByTitle(m), Some(t)) => m.iter().find(|(mt, _)| *mt == t).map(|(t, k)| (*t, k)),
            (Keys::ByTitle(m), None) => match m.as_slice() {
                [(t, k)] => Some((*t, k)),
                _ => None,
            },
        }
    }
}

/// Options of [`decode`].
#[derive(Clone, Debug, Default)]
pub struct DecodeOptions {
    /// The framing.
    pub framing: Framing,
    /// Raise when a ciphered APDU cannot be deciphered for want of a key.
    pub strict: bool,
}

/// The HDLC frame a message came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HdlcInfo {
    /// Destination address.
    pub destination: HdlcAddress,
    /// Source address.
    pub source: HdlcAddress,
    /// Control field.
    pub control: u8,
    /// Segmentation bit.
    pub segmented: bool,
}

/// A decoded DLMS/COSEM message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The framing it came in (never `Auto`).
    pub framing: Framing,
    /// The HDLC frame, for HDLC framing.
    pub hdlc: Option<HdlcInfo>,
    /// The wrapper header, for wrapper framing.
    pub wrapper: Option<WrapperHeader>,
    /// Where the APDU came from, for M-Bus framing.
    pub mbus: Option<MbusDlmsInfo>,
    /// The outer APDU; None for an HDLC frame without one (SNRM, UA, RR, ...) and for a clear
    /// P1 text telegram.
    pub apdu: Option<Apdu>,
    /// The deciphered plaintext (an APDU, or a P1 text telegram), when deciphered.
    pub plaintext: Option<Vec<u8>>,
    /// The plaintext APDU decoded.
    pub inner: Option<Apdu>,
    /// The P1 text telegram (deciphered, or given in clear).
    pub p1_telegram: Option<String>,
    /// OBIS rows of a push or P1 telegram.
    pub rows: Vec<ObisRow>,
    /// The system title the IV was built from, when deciphered (the APDU's own, or the one
    /// the keys named).
    pub system_title: Option<[u8; 8]>,
}

impl Message {
    /// The APDU that carries the data: the deciphered one, else the outer one.
    pub fn data_apdu(&self) -> Option<&Apdu> {
        self.inner.as_ref().or(self.apdu.as_ref())
    }

    /// The ciphered outer APDU, if the message came ciphered.
    pub fn ciphered(&self) -> Option<&CipheredApdu> {
        self.apdu.as_ref().and_then(Apdu::ciphered)
    }

    /// Whether a ciphered APDU was deciphered.
    pub fn decrypted(&self) -> bool {
        self.plaintext.is_some()
    }

    fn new(framing: Framing) -> Self {
        Message { framing, hdlc: None, wrapper: None, mbus: None, apdu: None, plaintext: None, inner: None, p1_telegram: None, rows: Vec::new(), system_title: None }
    }
}

/// The framing of `data` as its first bytes show it: `7E` HDLC, `00 01` with a matching length
/// the wrapper, `68 L L 68` M-Bus, `/` a clear P1 telegram, else a bare APDU.
pub fn detect_framing(data: &[u8]) -> Framing {
    match data {
        [0x7E, .., 0x7E] if data.len() >= 9 => Framing::Hdlc,
        [0x00, 0x01, _, _, _, _, hi, lo, rest @ ..] if usize::from(u16::from_be_bytes([*hi, *lo])) == rest.len() => {
            Framing::Wrapper
        }
        [0x68, l1, l2, 0x68, ..] if l1 == l2 => Framing::Mbus,
        [b'/', ..] => Framing::P1,
        _ => Framing::Apdu,
    }
}

/// Decode one message (replay checks: [`crate::replay::dlms_decode_checked`]).
pub fn decode(data: &[u8], keys: &Keys, opts: &DecodeOptions) -> Result<Message, Error> {
    let framing = match opts.framing {
        Framing::Auto => detect_framing(data),
        f => f,
    };
    let mut msg = Message::new(framing);
    let (apdu_bytes, base) = match framing {
        Framing::Hdlc => match hdlc_apdu(data, &mut msg)? {
            Some(found) => found,
            None => return Ok(msg),
        },
        Framing::Wrapper => {
            let (header, apdu) = wrapper::parse(data).map_err(|e| dlms_error(e.into(), 0))?;
            msg.wrapper = Some(header);
            (apdu, data.len() - apdu.len())
        }
        Framing::P1 if data.first() == Some(&b'/') => {
            clear_p1(data, 0, &mut msg)?;
            return Ok(msg);
        }
        Framing::Mbus => {
            // Offsets of errors in the reassembled APDU count in that APDU.
            let (info, apdu) = mbus::reassemble(data).map_err(|e| dlms_error(e.into(), 0))?;
            msg.mbus = Some(info);
            decode_apdu_into(&apdu, 0, keys, opts, &mut msg)?;
            return Ok(msg);
        }
        _ => (data, 0),
    };
    decode_apdu_into(apdu_bytes, base, keys, opts, &mut msg)?;
    Ok(msg)
}

/// The APDU of one HDLC frame (after its LLC header), or None for a frame that carries none:
/// supervisory and unnumbered frames other than UI (their information field, if any, holds
/// HDLC parameters), I/UI frames without information, and segments of a segmented message
/// (IEC 62056-46 6.4.4.4.3.2: only the reassembled message is an APDU; join them with
/// [`hdlc::HdlcReassembler`]).
fn hdlc_apdu<'a>(data: &'a [u8], msg: &mut Message) -> Result<Option<(&'a [u8], usize)>, Error> {
    let frame = hdlc::parse_frame(data).map_err(|e| dlms_error(e.into(), 0))?;
    msg.hdlc = Some(HdlcInfo {
        destination: frame.destination,
        source: frame.source,
        control: frame.control,
        segmented: frame.segmented,
    });
    let carries_apdu = matches!(frame.kind(), Some(HdlcControl::I { .. } | HdlcControl::Ui { .. }));
    if !carries_apdu || frame.information.is_empty() || frame.segmented {
        return Ok(None);
    }
    let apdu = frame.apdu().map_err(|e| dlms_error(e.into(), 0))?;
    let base = apdu.as_ptr() as usize - data.as_ptr() as usize;
    Ok(Some((apdu, base)))
}

/// Decode the APDU at input offset `base`, decipher it when keys allow, and collect rows.
fn decode_apdu_into(
    bytes: &[u8],
    base: usize,
    keys: &Keys,
    opts: &DecodeOptions,
    msg: &mut Message,
) -> Result<(), Error> {
    let apdu = apdu::decode_apdu(bytes).map_err(|e| dlms_error(e.into(), base))?;
    if let Some(c) = apdu.ciphered() {
        if let Some((title, k)) = keys.for_apdu(c) {
            let plain = security::decipher(c, &title, k).map_err(|e| dlms_error(e.into(), base))?;
            msg.system_title = Some(title);
            decode_plaintext(&plain, msg)?;
            msg.plaintext = Some(plain);
        } else if opts.strict {
            return Err(Error::new(base, ErrorKind::NoKey { meter: None }));
        }
    }
    msg.apdu = Some(apdu);
    if msg.rows.is_empty() {
        if let Some(body) = msg.data_apdu().filter(|a| a.type_name() == "data-notification").and_then(Apdu::value) {
            // OBIS rows are values with an OBIS code; a body item the layout names no code for
            // (a bare value of an unknown list) stays in the value tree only.
            msg.rows = push::rows(body);
            msg.rows.retain(|r| r.obis.is_some());
        }
    }
    Ok(())
}

/// A deciphered plaintext: a P1 text telegram (it starts with `/`) or an APDU. Its errors
/// have offsets in the plaintext, which is not part of the input: they are reported at the
/// plaintext's start.
fn decode_plaintext(plain: &[u8], msg: &mut Message) -> Result<(), Error> {
    if plain.first() == Some(&b'/') {
        // Errors in a deciphered telegram are reported at its start: it is not in the input.
        return clear_p1(plain, 0, msg).map_err(|e| Error::new(0, e.kind));
    }
    let inner = apdu::decode_apdu(plain).map_err(|e| dlms_error_at(e.into(), 0))?;
    msg.inner = Some(inner);
    Ok(())
}

/// A P1 text telegram (clear, or deciphered): its CRC checked, its lines as OBIS rows.
fn clear_p1(text: &[u8], base: usize, msg: &mut Message) -> Result<(), Error> {
    let telegram = p1::parse(text).map_err(|e| dlms_error(e.into(), base))?;
    msg.rows = telegram.rows();
    msg.p1_telegram = Some(String::from_utf8_lossy(text).into_owned());
    Ok(())
}

// ---- bulk decoding ------------------------------------------------------------------------

/// What the bulk tables take from one message ([`decode_bulk`]): the message without its
/// APDU and value trees.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The framing it came in (never `Auto`).
    pub framing: Framing,
    /// The outer APDU's type name ([`Apdu::type_name`]), when there is an APDU.
    pub apdu_type: Option<&'static str>,
    /// The deciphered APDU's type name, when deciphered to an APDU.
    pub plaintext_apdu_type: Option<&'static str>,
    /// The ciphered outer APDU, if the message came ciphered.
    pub ciphered: Option<CipheredApdu>,
    /// Whether a ciphered APDU was deciphered.
    pub decrypted: bool,
    /// The system title the IV was built from, when deciphered.
    pub system_title: Option<[u8; 8]>,
    /// The data APDU's invoke-id ([`Apdu::invoke_id`]).
    pub invoke_id: Option<u32>,
    /// The data APDU's priority bit ([`Apdu::priority_high`]).
    pub priority_high: Option<bool>,
    /// The data APDU's date-time ([`Apdu::datetime`]).
    pub datetime: Option<DateTime>,
    /// The P1 text telegram (deciphered, or given in clear).
    pub p1_telegram: Option<String>,
}

impl Summary {
    fn new(framing: Framing) -> Self {
        Summary {
            framing,
            apdu_type: None,
            plaintext_apdu_type: None,
            ciphered: None,
            decrypted: false,
            system_title: None,
            invoke_id: None,
            priority_high: None,
            datetime: None,
            p1_telegram: None,
        }
    }

    /// The summary of a decoded message, and its OBIS rows.
    pub fn of(m: Message) -> (Summary, Vec<ObisRow>) {
        let data = m.data_apdu();
        let s = Summary {
            framing: m.framing,
            apdu_type: m.apdu.as_ref().map(Apdu::type_name),
            plaintext_apdu_type: m.inner.as_ref().map(Apdu::type_name),
            ciphered: None,
            decrypted: m.decrypted(),
            system_title: m.system_title,
            invoke_id: data.and_then(Apdu::invoke_id),
            priority_high: data.and_then(Apdu::priority_high),
            datetime: data.and_then(Apdu::datetime),
            p1_telegram: m.p1_telegram,
        };
        let ciphered = match m.apdu {
            Some(Apdu::Ciphered(c)) => Some(c),
            _ => None,
        };
        (Summary { ciphered, ..s }, m.rows)
    }
}

/// Buffers and prepared keys that [`decode_bulk`] reuses from one message to the next (one
/// per thread or batch). `Debug` shows no key material.
#[derive(Clone, Debug, Default)]
pub struct BulkScratch {
    plain: Vec<u8>,
    gcm: GcmCache,
}

/// [`decode`] for the bulk tables: the message's [`Summary`], its OBIS rows in `rows` (cleared
/// first). Data-notifications, plain or ciphered (deciphered into a reused buffer with the
/// key setup cached), in bare, wrapper or HDLC framing are read without building the APDU
/// or the Data tree: the body is checked and walked in place ([`push::group_rows_from_bytes`], else [`tape`]
/// and [`push::rows_of`]).
/// Everything else, and every message that fails, goes through [`decode`]: the results
/// (summary, rows, error) are the same as [`Summary::of`] of [`decode`].
pub fn decode_bulk(
    data: &[u8],
    keys: &Keys,
    opts: &DecodeOptions,
    scratch: &mut BulkScratch,
    rows: &mut Vec<ObisRow>,
) -> Result<Summary, Error> {
    rows.clear();
    let framing = match opts.framing {
        Framing::Auto => detect_framing(data),
        f => f,
    };
    if let Some(s) = bulk_apdu(data, framing).and_then(|a| fast_apdu(a, framing, keys, scratch, rows)) {
        return Ok(s);
    }
    rows.clear();
    let (s, r) = Summary::of(decode(data, keys, opts)?);
    *rows = r;
    Ok(s)
}

/// The APDU of a bare, wrapper or HDLC frame when it carries one (as [`decode`] finds it),
/// else None.
fn bulk_apdu(data: &[u8], framing: Framing) -> Option<&[u8]> {
    match framing {
        Framing::Apdu => Some(data),
        Framing::Wrapper => wrapper::parse(data).ok().map(|(_, a)| a),
        Framing::Hdlc => {
            let frame = hdlc::parse_frame(data).ok()?;
            let carries = matches!(frame.kind(), Some(HdlcControl::I { .. } | HdlcControl::Ui { .. }));
            (carries && !frame.information.is_empty() && !frame.segmented).then(|| frame.apdu().ok()).flatten()
        }
        _ => None,
    }
}

/// A plain data-notification, or a ciphered APDU with keys that deciphers to one; None for
/// anything else (the caller then decodes in full).
fn fast_apdu(
    apdu: &[u8],
    framing: Framing,
    keys: &Keys,
    scratch: &mut BulkScratch,
    rows: &mut Vec<ObisRow>,
) -> Option<Summary> {
    let mut s = Summary::new(framing);
    match *apdu.first()? {
        tags::DATA_NOTIFICATION => {
            notification(apdu, &mut s, rows)?;
            s.apdu_type = Some("data-notification");
        }
        t if tags::is_ciphered(t) => {
            let c = parse_ciphered(apdu).ok()?;
            let (title, k) = keys.for_apdu(&c)?;
            decipher_cached(&c, &title, k, &mut scratch.gcm, &mut scratch.plain).ok()?;
            if scratch.plain.first() != Some(&tags::DATA_NOTIFICATION) {
                return None;
            }
            notification(&scratch.plain, &mut s, rows)?;
            s.apdu_type = Some(c.type_name());
            s.plaintext_apdu_type = Some("data-notification");
            s.decrypted = true;
            s.system_title = Some(title);
            s.ciphered = Some(c);
        }
        _ => return None,
    }
    Some(s)
}

/// A data-notification filling `p` (Green Book 9.3.10: tag 0Fh, long-invoke-id-and-priority,
/// date-time as an octet string of 0 or 12 octets (or Kaifa's tagged `09 0C` form), one Data
/// item): its header into `s`, its OBIS rows into `rows`. None where [`decode_apdu`] would
/// fail.
///
/// [`decode_apdu`]: apdu::decode_apdu
fn notification(p: &[u8], s: &mut Summary, rows: &mut Vec<ObisRow>) -> Option<()> {
    let invoke = LongInvokeIdAndPriority(u32::from_be_bytes(p.get(1..5)?.try_into().ok()?));
    let (datetime, at) = match (p.get(5)?, p.get(6)) {
        (0, _) => (None, 6),
        (12, _) => (Some(DateTime(p.get(6..18)?.try_into().ok()?)), 18),
        (9, Some(12)) => (Some(DateTime(p.get(7..19)?.try_into().ok()?)), 19),
        _ => return None,
    };
    let body = p.get(at..)?;
    if push::group_rows_from_bytes(body, rows).is_none() {
        let (t, n) = tape(body).ok()?;
        if n != body.len() {
            return None;
        }
        push::rows_into(t.root(), rows);
        rows.retain(|r| r.obis.is_some());
    }
    s.invoke_id = Some(invoke.invoke_id());
    s.priority_high = Some(invoke.high_priority());
    s.datetime = datetime;
    Some(())
}

/// A stage's error as an input error: `base` is where the stage's buffer starts in the input.
pub fn dlms_error(e: DlmsError, base: usize) -> Error {
    Error::new(base + e.offset().unwrap_or(0), ErrorKind::Dlms(e))
}

/// A stage's error placed at a fixed input offset (for bytes that are not in the input, such as
/// a plaintext).
fn dlms_error_at(e: DlmsError, offset: usize) -> Error {
    Error::new(offset, ErrorKind::Dlms(e))
}
