//! COSEM meaning (Blue Book DLMS UA 1000-1): date-time / date / time octet strings, units,
//! scaler_unit, and names of common OBIS codes.

/// A COSEM date-time (Blue Book 4.1.6.1): the 12 octets as sent (year, month, day of month,
/// day of week, hour, minute, second, hundredths, deviation, clock status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime(pub [u8; 12]);

/// A COSEM date: year (2), month, day of month, day of week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Date(pub [u8; 5]);

/// A COSEM time: hour, minute, second, hundredths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Time(pub [u8; 4]);
