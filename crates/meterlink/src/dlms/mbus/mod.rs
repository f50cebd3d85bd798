//! DLMS/COSEM over wired M-Bus (EN 13757-2 long frames carrying DLMS CI values, and the CI
//! 00–1F segments of the Austrian meters), reassembled into one APDU.

mod error;

pub use error::MbusError;
