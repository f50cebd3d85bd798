//! meterlink: decode, decrypt, verify and build smart-meter telegrams.
//!
//! The core is plain Rust, one module per layer of the standards:
//! - [`link`]: EN 13757-2 wired FT1.2 frames (and the stream splitter), EN 13757-4 wireless frames
//! - [`tpl`]: EN 13757-7 transport layer: CI fields, short/long headers, configuration field
//! - [`ell`], [`afl`]: EN 13757-7 extended link layer and authentication/fragmentation layer
//! - [`security`]: EN 13757-7 security modes and key derivation
//! - [`records`]: EN 13757-3 data records
//! - [`telegram`]: the pipeline that ties the layers together
//!
//! The PyO3 binding layer lives in `src/python/` behind the `python` feature.

pub mod afl;
pub mod batch;
pub mod compact;
pub mod ell;
pub mod encode;
pub mod error;
pub mod keys;
pub mod link;
pub mod manufacturer;
pub mod records;
pub mod security;
pub mod telegram;
pub mod tpl;

#[cfg(feature = "python")]
mod python;

pub use error::Error;
pub use telegram::{decode, decode_full, decode_into, decode_reassembled, decode_with_keys, DecodeOptions, LinkMode, Telegram};
