//! COSEM meaning (Blue Book DLMS UA 1000-1): date-time / date / time octet strings, units,
//! scaler_unit, and names of common OBIS codes.

mod datetime;
mod names;
mod units;

pub use datetime::{ClockStatus, Date, DateTime, Time};
pub use names::obis_name;
pub use units::{scale, scale_float, unit_name};
