//! P1 text telegrams (DSMR 5, Luxembourg Smarty, Austrian P1): `/` header, OBIS lines, `!` and
//! the CRC-16; lines as OBIS rows.

mod error;

pub use error::P1Error;
