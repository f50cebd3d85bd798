//! The DSMR family: the Dutch smart-meter requirements, P2 port (DSMR P2 v4.2.2, the M-Bus
//! companion standard between the E-meter and gas/water/heat/slave-E meters).
//!
//! Layers, bottom up (each module cites the clauses it implements):
//! - [`message`]: link frames, the control layer's allowed C/CI pairs ([`control`], §4.1),
//!   data headers and configuration word (§4.2), the Short ID ([`short_id`], §4.2.2);
//! - [`mode15`]: "encryption method code 15" (§5) and the user-key transport (§6.5.1);
//! - [`app`]: commands, readout list, variable data blocks, key records (§6);
//! - [`p3`]: the P2 → P3 mapping (Appendix A) as OBIS rows and P1 lines;
//! - [`engine`]: the sans-IO protocol engines, [`engine::EMeter`] and [`engine::MBusDevice`]
//!   (§4.3/§4.4 message flows, §5.2 frame counters, §6.5 keys, §8 installation and binding);
//! - [`simulate`]: a fast generator of realistic P2 traffic archives.
//!
//! The family is built on the M-Bus layers ([`crate::mbus`]: link frames, records, TPL security
//! mode 15) and renders P3 rows with the DLMS family's OBIS types; `mbus` never uses `dsmr`.

pub mod app;
pub mod control;
pub mod engine;
pub mod error;
pub mod message;
pub mod mode15;
pub mod p3;
pub mod short_id;
pub mod simulate;

pub use error::{Direction, DsmrError};

#[cfg(test)]
mod tests;
