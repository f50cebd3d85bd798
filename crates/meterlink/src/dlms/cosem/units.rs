//! The Blue Book unit enumeration (DLMS UA 1000-1, 4.3.2 "scaler_unit", Table "Enumerated
//! values for physical units") and the application of scaler_unit.

use crate::dlms::RowValue;

/// Unit symbols by enumeration value (index = value); `None` where the value is reserved.
const UNITS: [Option<&str>; 73] = [
    None,             // 0 (not used)
    Some("a"),        // 1 time, year
    Some("mo"),       // 2 time, month
    Some("wk"),       // 3 time, week
    Some("d"),        // 4 time, day
    Some("h"),        // 5 time, hour
    Some("min"),      // 6 time, minute
    Some("s"),        // 7 time, second
    Some("°"),        // 8 (phase) angle, degree
    Some("°C"),       // 9 temperature, degree Celsius
    Some("currency"), // 10 (local) currency
    Some("m"),        // 11 length, metre
    Some("m/s"),      // 12 speed
    Some("m³"),       // 13 volume
    Some("m³"),       // 14 corrected volume
    Some("m³/h"),     // 15 volume flux
    Some("m³/h"),     // 16 corrected volume flux
    Some("m³/d"),     // 17 volume flux
    Some("m³/d"),     // 18 corrected volume flux
    Some("l"),        // 19 volume, litre
    Some("kg"),       // 20 mass
    Some("N"),        // 21 force, newton
    Some("Nm"),       // 22 energy, newton metre
    Some("Pa"),       // 23 pressure, pascal
    Some("bar"),      // 24 pressure, bar
    Some("J"),        // 25 energy, joule
    Some("J/h"),      // 26 thermal power
    Some("W"),        // 27 active power
    Some("VA"),       // 28 apparent power
    Some("var"),      // 29 reactive power
    Some("Wh"),       // 30 active energy
    Some("VAh"),      // 31 apparent energy
    Some("varh"),     // 32 reactive energy
    Some("A"),        // 33 current
    Some("C"),        // 34 electrical charge, coulomb
    Some("V"),        // 35 voltage
    Some("V/m"),      // 36 electric field strength
    Some("F"),        // 37 capacitance, farad
    Some("Ω"),        // 38 resistance, ohm
    Some("Ωm²/m"),    // 39 resistivity
    Some("Wb"),       // 40 magnetic flux, weber
    Some("T"),        // 41 magnetic flux density, tesla
    Some("A/m"),      // 42 magnetic field strength
    Some("H"),        // 43 inductance, henry
    Some("Hz"),       // 44 frequency
    Some("1/(Wh)"),   // 45 active energy meter constant
    Some("1/(varh)"), // 46 reactive energy meter constant
    Some("1/(VAh)"),  // 47 apparent energy meter constant
    Some("V²h"),      // 48 volt-squared hours
    Some("A²h"),      // 49 ampere-squared hours
    Some("kg/s"),     // 50 mass flux
    Some("S"),        // 51 conductance, siemens
    Some("K"),        // 52 temperature, kelvin
    Some("1/(V²h)"),  // 53 volt-squared hour meter constant
    Some("1/(A²h)"),  // 54 ampere-squared hour meter constant
    Some("1/m³"),     // 55 volume meter constant
    Some("%"),        // 56 percentage
    Some("Ah"),       // 57 ampere-hours
    None,             // 58
    None,             // 59
    Some("Wh/m³"),    // 60 energy per volume
    Some("J/m³"),     // 61 calorific value, wobbe
    Some("Mol %"),    // 62 molar fraction
    Some("g/m³"),     // 63 mass density
    Some("Pa s"),     // 64 dynamic viscosity
    Some("J/kg"),     // 65 specific energy
    Some("g/cm²"),    // 66 pressure, gram per square centimetre
    Some("atm"),      // 67 pressure, atmosphere
    None,             // 68
    None,             // 69
    Some("dBm"),      // 70 signal strength
    Some("dBµV"),     // 71 signal strength
    Some("dB"),       // 72 logarithmic unit
];

/// The unit's symbol for a Blue Book unit enumeration value (`27` → `"W"`, `30` → `"Wh"`);
/// 254 is `"other"`, 255 `"count"` (no unit); `None` for reserved values.
pub fn unit_name(unit: u8) -> Option<&'static str> {
    match unit {
        254 => Some("other"),
        255 => Some("count"),
        u => UNITS.get(usize::from(u)).copied().flatten(),
    }
}

const POW10: [i64; 19] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
];

/// A number with its scaler applied (`value × 10^scaler`, Blue Book 4.3.2 scaler_unit).
/// A scaler ≥ 0 gives an exact integer while it fits in i64; a negative scaler gives a
/// float computed by dividing by the exact power of ten (so `2274 × 10^-1` is `227.4`, the
/// float nearest the decimal value).
pub fn scale(mantissa: i64, scaler: i8) -> RowValue {
    if scaler >= 0 {
        if let Some(v) = POW10
            .get(scaler as usize)
            .and_then(|p| mantissa.checked_mul(*p))
        {
            return RowValue::Int(v);
        }
        return RowValue::Float(mantissa as f64 * 10f64.powi(scaler.into()));
    }
    RowValue::Float(scale_float(mantissa as f64, scaler))
}

/// `v × 10^scaler` for a float: a division by the exact power of ten for negative scalers.
pub fn scale_float(v: f64, scaler: i8) -> f64 {
    match POW10.get(scaler.unsigned_abs() as usize) {
        Some(&p) if scaler < 0 => v / p as f64,
        Some(&p) => v * p as f64,
        None if scaler < 0 => v / 10f64.powi(-i32::from(scaler)),
        None => v * 10f64.powi(scaler.into()),
    }
}
