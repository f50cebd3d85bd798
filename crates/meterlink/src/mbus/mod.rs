//! The M-Bus family: wired M-Bus (EN 13757-2), wireless M-Bus (EN 13757-4), the transport and
//! security services of EN 13757-7 and the data records of EN 13757-3.
//!
//! - [`address`]: the one meter address type (re-exported as `tpl::Address`)
//! - [`link`]: wired FT1.2 frames (and the stream splitter), wireless frames formats A/B
//! - [`ell`], [`afl`]: extended link layer; authentication and fragmentation layer
//! - [`tpl`]: transport layer: CI fields, short/long headers, configuration field
//! - [`security`]: security modes and key derivation
//! - [`records`]: data records; [`compact`]: compact and format frames
//! - [`manufacturer`]: known manufacturer-specific layouts
//! - [`decode`]: the decode pipeline, in stages; [`encode`]: building telegrams

pub mod afl;
pub mod compact;
pub mod ell;
pub mod encode;
pub mod encode_error;
pub mod link;
pub mod manufacturer;
pub mod reassembly;
pub mod records;
pub mod security;
pub mod decode;
pub mod tpl;
