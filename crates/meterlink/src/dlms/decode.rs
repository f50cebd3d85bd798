//! The DLMS/COSEM pipeline: framing → APDU → deciphering → data → OBIS rows.

use super::apdu::{self, Apdu};
use super::hdlc::HdlcAddress;
use super::security::DlmsKeys;
use super::wrapper::WrapperHeader;
use super::{DlmsError, ObisRow};
use crate::error::{Error, ErrorKind};

/// How the input is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// Recognised from the first bytes.
    #[default]
    Auto,
    /// One HDLC frame (`7E … 7E`).
    Hdlc,
    /// A TCP/UDP wrapper frame.
    Wrapper,
    /// DLMS over wired M-Bus (one or more long frames).
    Mbus,
    /// An encrypted (or clear) P1 telegram.
    P1,
    /// A bare APDU.
    Apdu,
}

/// The keys to decipher with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Keys {
    /// No keys: ciphered APDUs are decoded as far as the outer APDU.
    #[default]
    None,
    /// The same keys for every server.
    Every(DlmsKeys),
    /// Keys by server system title.
    ByTitle(Vec<([u8; 8], DlmsKeys)>),
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
    /// The outer APDU.
    pub apdu: Apdu,
    /// The deciphered plaintext APDU, when deciphered.
    pub plaintext: Option<Vec<u8>>,
    /// The plaintext APDU decoded.
    pub inner: Option<Apdu>,
    /// The decrypted P1 text telegram.
    pub p1_telegram: Option<String>,
    /// OBIS rows of a push or P1 telegram.
    pub rows: Vec<ObisRow>,
}

/// Decode one message.
pub fn decode(data: &[u8], _keys: &Keys, _opts: &DecodeOptions) -> Result<Message, Error> {
    let apdu = apdu::decode_apdu(data).map_err(|e| dlms_error(e.into(), 0))?;
    Ok(Message {
        framing: Framing::Apdu,
        hdlc: None,
        wrapper: None,
        apdu,
        plaintext: None,
        inner: None,
        p1_telegram: None,
        rows: Vec::new(),
    })
}

/// A stage's error as an input error: `base` is where the stage's buffer starts in the input.
pub fn dlms_error(e: DlmsError, base: usize) -> Error {
    Error::new(base + e.offset().unwrap_or(0), ErrorKind::Dlms(e))
}
