//! Value information block (VIF + VIFEs), EN 13757-3:2013 clause 6.4 and tables 10–16.
//!
//! The code tables are data: each table is a list of code ranges that a `const fn` expands
//! into a 128-entry array indexed by the 7-bit code, so a lookup is one array index.
//! Table contents are facts from EN 13757-3 (editions 2004/2013/2018); where an edition
//! renamed a code we keep the name libmbus and most meters' documentation use.

use super::RecordError;

/// Physical unit of a record's value (after the VIF exponent has been applied).
///
/// [`Unit::as_str`] spells units in this vocabulary (base units; the decimal exponent lives
/// in [`VifInfo::exponent`], so 54321 with VIF 0x13 is `54321e-3 m^3`, never `l`):
///
/// | unit | text | unit | text | unit | text |
/// |---|---|---|---|---|---|
/// | `Wh` | `Wh` | `J` | `J` | `M3` | `m^3` |
/// | `Kg` | `kg` | `S` | `s` | `Min` | `min` |
/// | `H` | `h` | `D` | `d` | `Month` | `month` |
/// | `Year` | `a` (UCUM annum) | `W` | `W` | `JPerH` | `J/h` |
/// | `M3PerH` | `m^3/h` | `M3PerMin` | `m^3/min` | `M3PerS` | `m^3/s` |
/// | `KgPerH` | `kg/h` | `DegC` | `°C` | `K` | `K` (temperature difference) |
/// | `Bar` | `bar` | `V` | `V` | `A` | `A` |
/// | `Hca` | `HCA` | `Dbm` | `dBm` | `Percent` | `%` |
/// | `DegF` | `°F` | `Ft3` | `ft^3` | `UsGal` | `gal` (US gallon) |
/// | `UsGalPerMin` | `US gal/min` | `UsGalPerH` | `US gal/h` | `Hz` | `Hz` |
/// | `Degree` | `°` (phase angle) | `VarH` | `varh` | `VaH` | `VAh` |
/// | `Var` | `var` | `Va` | `VA` | `Baud` | `Bd` |
/// | `BitTimes` | `bit times` | `Cal` | `cal` (thermochemical) | `None` | no text: dimensionless or no unit |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Unit {
    /// No unit: dimensionless, a count, or no numeric meaning.
    #[default]
    None,
    /// Watt-hour (energy).
    Wh,
    /// Joule (energy).
    J,
    /// Cubic metre (volume).
    M3,
    /// Kilogram (mass).
    Kg,
    /// Second (duration).
    S,
    /// Minute (duration).
    Min,
    /// Hour (duration).
    H,
    /// Day (duration).
    D,
    /// Month (duration).
    Month,
    /// Year (duration), text `a` (UCUM annum).
    Year,
    /// Watt (power).
    W,
    /// Joule per hour (power).
    JPerH,
    /// Cubic metre per hour (volume flow).
    M3PerH,
    /// Cubic metre per minute (volume flow).
    M3PerMin,
    /// Cubic metre per second (volume flow).
    M3PerS,
    /// Kilogram per hour (mass flow).
    KgPerH,
    /// Degree Celsius (temperature).
    DegC,
    /// Kelvin, used for temperature differences.
    K,
    /// Bar (pressure).
    Bar,
    /// Volt (voltage).
    V,
    /// Ampere (current).
    A,
    /// Heat cost allocator units (VIF 0x6E).
    Hca,
    /// dBm (RF level, RSSI).
    Dbm,
    /// Percent (e.g. relative humidity).
    Percent,
    /// Degree Fahrenheit (temperature).
    DegF,
    /// Cubic foot (volume).
    Ft3,
    /// US gallon (volume).
    UsGal,
    /// US gallon per minute (volume flow).
    UsGalPerMin,
    /// US gallon per hour (volume flow).
    UsGalPerH,
    /// Hertz (frequency).
    Hz,
    /// Degree of angle (phase U-U, U-I).
    Degree,
    /// Volt-ampere reactive hour (reactive energy).
    VarH,
    /// Volt-ampere hour (apparent energy).
    VaH,
    /// Volt-ampere reactive (reactive power).
    Var,
    /// Volt-ampere (apparent power).
    Va,
    /// Baud (baud rate).
    Baud,
    /// Bit times (response delay time).
    BitTimes,
    /// Thermochemical calorie (energy).
    Cal,
}

impl Unit {
    /// The unit's text (see the table on [`Unit`]); `None` for [`Unit::None`].
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Unit::None => return None,
            Unit::Wh => "Wh",
            Unit::J => "J",
            Unit::M3 => "m^3",
            Unit::Kg => "kg",
            Unit::S => "s",
            Unit::Min => "min",
            Unit::H => "h",
            Unit::D => "d",
            Unit::Month => "month",
            Unit::Year => "a",
            Unit::W => "W",
            Unit::JPerH => "J/h",
            Unit::M3PerH => "m^3/h",
            Unit::M3PerMin => "m^3/min",
            Unit::M3PerS => "m^3/s",
            Unit::KgPerH => "kg/h",
            Unit::DegC => "°C",
            Unit::K => "K",
            Unit::Bar => "bar",
            Unit::V => "V",
            Unit::A => "A",
            Unit::Hca => "HCA",
            Unit::Dbm => "dBm",
            Unit::Percent => "%",
            Unit::DegF => "°F",
            Unit::Ft3 => "ft^3",
            Unit::UsGal => "gal",
            Unit::UsGalPerMin => "US gal/min",
            Unit::UsGalPerH => "US gal/h",
            Unit::Hz => "Hz",
            Unit::Degree => "°",
            Unit::VarH => "varh",
            Unit::VaH => "VAh",
            Unit::Var => "var",
            Unit::Va => "VA",
            Unit::Baud => "Bd",
            Unit::BitTimes => "bit times",
            Unit::Cal => "cal",
        })
    }
}

/// Which code table the true VIF comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VifTable {
    /// EN 13757-3 table 10 (primary VIF codes 0x00..0x7A, 0x7E).
    Primary,
    /// First extension table, VIF 0xFB (table 14).
    Fb,
    /// Second extension table, VIF 0xFD (table 12).
    Fd,
    /// VIF 0xEF: reserved for a future extension table.
    Ef,
    /// VIF 0x7C/0xFC: the unit is given as text ([`VifInfo::plain_text_unit`]).
    PlainText,
    /// VIF 0x7F/0xFF: manufacturer specific.
    ManufacturerSpecific,
    /// No VIB at all (manufacturer data block, global readout).
    NoVib,
}

/// How the data field of a record with this VIB is to be read, beyond what the DIF says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueHint {
    /// An ordinary number (or text / bytes if the DIF says so).
    Number,
    /// A date or time point: the DIF length selects type G (2 bytes), J (3), F (4), I (6),
    /// M (LVAR); other lengths fall back to a number.
    DateTime,
    /// Raw bytes (bit fields, containers): never a number.
    Bytes,
}

/// Maximum number of VIFEs (EN 13757-3 6.4.1).
pub const MAX_VIFES: usize = 10;

/// What a VIB says: quantity name, unit, decimal exponent and the combinable VIFE modifiers.
#[derive(Clone, Debug, PartialEq)]
pub struct VifInfo {
    /// Quantity name, e.g. "Energy", "Volume", "Fabrication number", "Time point (date)";
    /// "Plain text unit" for VIF 0x7C/0xFC, "Manufacturer specific" for 0x7F/0xFF.
    pub quantity: &'static str,
    /// Unit of the value; the decimal exponent is in [`VifInfo::exponent`].
    pub unit: Unit,
    /// Decimal exponent applied to Number/Real values (VIF range plus VIFE correction factors).
    pub exponent: i8,
    /// The unit text of a plain-text VIF (7C/FC), in reading order.
    pub plain_text_unit: Option<Box<str>>,
    /// The table the true VIF belongs to.
    pub table: VifTable,
    /// The true VIF code (7 bits) within [`VifInfo::table`].
    pub code: u8,
    /// How the data field is to be read (date/time, number, bytes).
    pub hint: ValueHint,
    /// A VIFE 0x7F/0xFF was seen: every later VIFE (and the meaning of the data) is
    /// manufacturer specific. Also true for a manufacturer-specific VIF.
    pub manufacturer_specific: bool,
    /// An additive correction constant VIFE (0x78..0x7B) was seen: the value is an offset.
    pub additive_correction: bool,
    /// Combinable VIFE codes (7 bit) in order; bit k of `ext_fc` marks `ext[k]` as a code of
    /// the 0xFC combinable extension table.
    ext: [u8; MAX_VIFES],
    ext_fc: u16,
    ext_len: u8,
}

/// Marks a code of the combinable-VIFE extension table (reached through VIFE 0xFC) in
/// [`VifInfo::extension_codes`].
const EXT_FC: u16 = 0x100;

impl VifInfo {
    pub(crate) const fn new(quantity: &'static str, unit: Unit, exponent: i8, table: VifTable, code: u8) -> Self {
        VifInfo {
            quantity,
            unit,
            exponent,
            plain_text_unit: None,
            table,
            code,
            hint: ValueHint::Number,
            manufacturer_specific: false,
            additive_correction: false,
            ext: [0; MAX_VIFES],
            ext_fc: 0,
            ext_len: 0,
        }
    }

    /// The empty VIB of a manufacturer-data block or global readout (also [`Default`]).
    pub(crate) const fn none() -> Self {
        VifInfo::new("", Unit::None, 0, VifTable::NoVib, 0)
    }

    /// Human names of the combinable (orthogonal) VIFE modifiers, in transmission order
    /// ("per hour", "accumulation only if negative", "lower limit value", ...).
    /// Multiplicative correction factors are folded into [`VifInfo::exponent`] and not listed.
    pub fn extensions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.extension_codes().map(ext_name)
    }

    /// The raw combinable VIFE codes behind [`VifInfo::extensions`] (7-bit codes; codes of the
    /// 0xFC extension table have bit 8 (0x100) set).
    pub fn extension_codes(&self) -> impl Iterator<Item = u16> + '_ {
        self.ext[..self.ext_len as usize]
            .iter()
            .enumerate()
            .map(|(k, &c)| if self.ext_fc & (1 << k) != 0 { EXT_FC | c as u16 } else { c as u16 })
    }

    fn push_ext(&mut self, code: u16) {
        let k = self.ext_len as usize;
        if k < MAX_VIFES {
            self.ext[k] = code as u8;
            if code & EXT_FC != 0 {
                self.ext_fc |= 1 << k;
            }
            self.ext_len += 1;
        }
    }
}

impl Default for VifInfo {
    /// No VIB: empty quantity, no unit, exponent 0 (fill in what you know with `..Default::default()`).
    fn default() -> Self {
        VifInfo::none()
    }
}

// ---------------------------------------------------------------------------------------------
// Code tables
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Def {
    quantity: &'static str,
    unit: Unit,
    exponent: i8,
    hint: ValueHint,
}

const RESERVED: Def = Def { quantity: "Reserved", unit: Unit::None, exponent: 0, hint: ValueHint::Number };

/// How the codes of a range map to exponent / unit.
#[derive(Clone, Copy)]
enum Step {
    /// exponent = base + (code - lo)
    Pow(i8),
    /// unit by (code - lo): s, min, h, d (EN 13757-3 "nn" duration coding); exponent 0
    SecMinHourDay,
    /// unit by (code - lo): h, d, month, year ("pp" coding of FD 0x68.., 0x6C..)
    HourDayMonthYear,
    /// one fixed exponent for every code of the range
    Fixed(i8),
}

#[derive(Clone, Copy)]
struct Range {
    lo: u8,
    hi: u8,
    quantity: &'static str,
    unit: Unit,
    step: Step,
    hint: ValueHint,
}

const fn r(lo: u8, hi: u8, quantity: &'static str, unit: Unit, step: Step) -> Range {
    Range { lo, hi, quantity, unit, step, hint: ValueHint::Number }
}

const fn rd(lo: u8, hi: u8, quantity: &'static str) -> Range {
    Range { lo, hi, quantity, unit: Unit::None, step: Step::Fixed(0), hint: ValueHint::DateTime }
}

const fn rb(lo: u8, hi: u8, quantity: &'static str) -> Range {
    Range { lo, hi, quantity, unit: Unit::None, step: Step::Fixed(0), hint: ValueHint::Bytes }
}

const fn n(code: u8, quantity: &'static str) -> Range {
    r(code, code, quantity, Unit::None, Step::Fixed(0))
}

const TIME4: [Unit; 4] = [Unit::S, Unit::Min, Unit::H, Unit::D];
const TIME_HDMY: [Unit; 4] = [Unit::H, Unit::D, Unit::Month, Unit::Year];

/// Expand a range list into a 128-entry table (later ranges win).
const fn build(ranges: &[Range]) -> [Def; 128] {
    let mut t = [RESERVED; 128];
    let mut i = 0;
    while i < ranges.len() {
        let rg = ranges[i];
        let mut c = rg.lo;
        while c <= rg.hi {
            let k = c - rg.lo;
            let (unit, exponent) = match rg.step {
                Step::Pow(base) => (rg.unit, base + k as i8),
                // the unit is coded in the low two bits of the code itself ("nn", "pp")
                Step::SecMinHourDay => (TIME4[(c & 3) as usize], 0),
                Step::HourDayMonthYear => (TIME_HDMY[(c & 3) as usize], 0),
                Step::Fixed(e) => (rg.unit, e),
            };
            t[c as usize] = Def { quantity: rg.quantity, unit, exponent, hint: rg.hint };
            c += 1;
        }
        i += 1;
    }
    t
}

/// EN 13757-3:2013 table 10, primary VIF codes (E = extension bit stripped).
static PRIMARY: [Def; 128] = build(&[
    r(0x00, 0x07, "Energy", Unit::Wh, Step::Pow(-3)),
    r(0x08, 0x0F, "Energy", Unit::J, Step::Pow(0)),
    r(0x10, 0x17, "Volume", Unit::M3, Step::Pow(-6)),
    r(0x18, 0x1F, "Mass", Unit::Kg, Step::Pow(-3)),
    r(0x20, 0x23, "On time", Unit::S, Step::SecMinHourDay),
    r(0x24, 0x27, "Operating time", Unit::S, Step::SecMinHourDay),
    r(0x28, 0x2F, "Power", Unit::W, Step::Pow(-3)),
    r(0x30, 0x37, "Power", Unit::JPerH, Step::Pow(0)),
    r(0x38, 0x3F, "Volume flow", Unit::M3PerH, Step::Pow(-6)),
    r(0x40, 0x47, "Volume flow", Unit::M3PerMin, Step::Pow(-7)),
    r(0x48, 0x4F, "Volume flow", Unit::M3PerS, Step::Pow(-9)),
    r(0x50, 0x57, "Mass flow", Unit::KgPerH, Step::Pow(-3)),
    r(0x58, 0x5B, "Flow temperature", Unit::DegC, Step::Pow(-3)),
    r(0x5C, 0x5F, "Return temperature", Unit::DegC, Step::Pow(-3)),
    r(0x60, 0x63, "Temperature difference", Unit::K, Step::Pow(-3)),
    r(0x64, 0x67, "External temperature", Unit::DegC, Step::Pow(-3)),
    r(0x68, 0x6B, "Pressure", Unit::Bar, Step::Pow(-3)),
    rd(0x6C, 0x6C, "Time point (date)"),
    rd(0x6D, 0x6D, "Time point (date & time)"),
    r(0x6E, 0x6E, "Units for H.C.A.", Unit::Hca, Step::Fixed(0)),
    // 0x6F reserved (0xEF: reserved for a future extension table)
    r(0x70, 0x73, "Averaging duration", Unit::S, Step::SecMinHourDay),
    r(0x74, 0x77, "Actuality duration", Unit::S, Step::SecMinHourDay),
    n(0x78, "Fabrication number"),
    n(0x79, "Enhanced identification"),
    n(0x7A, "Bus address"),
    // 0x7B / 0x7D: extension tables FB / FD, 0x7C plain text, 0x7F manufacturer (handled in code)
    n(0x7E, "Any VIF"),
]);

/// EN 13757-3:2013 table 14, first extension table (VIF 0xFB).
static FB: [Def; 128] = build(&[
    r(0x00, 0x01, "Energy", Unit::Wh, Step::Pow(5)), // 10^(n-1) MWh
    r(0x02, 0x03, "Reactive energy", Unit::VarH, Step::Pow(3)), // 10^n kVARh
    r(0x04, 0x05, "Apparent energy", Unit::VaH, Step::Pow(3)), // 10^n kVAh
    r(0x08, 0x09, "Energy", Unit::J, Step::Pow(8)), // 10^(n-1) GJ
    r(0x0C, 0x0F, "Energy", Unit::Cal, Step::Pow(5)), // 10^(nn-1) MCal
    r(0x10, 0x11, "Volume", Unit::M3, Step::Pow(2)), // 10^(n+2) m^3
    r(0x14, 0x17, "Reactive power", Unit::Var, Step::Pow(0)), // 10^(nn-3) kVAR
    r(0x18, 0x19, "Mass", Unit::Kg, Step::Pow(5)), // 10^(n+2) t
    r(0x1A, 0x1B, "Relative humidity", Unit::Percent, Step::Pow(-1)), // 10^(n-1) %
    r(0x20, 0x20, "Volume", Unit::Ft3, Step::Fixed(0)),
    r(0x21, 0x21, "Volume", Unit::Ft3, Step::Fixed(-1)),
    r(0x22, 0x22, "Volume", Unit::UsGal, Step::Fixed(-1)),
    r(0x23, 0x23, "Volume", Unit::UsGal, Step::Fixed(0)),
    r(0x24, 0x24, "Volume flow", Unit::UsGalPerMin, Step::Fixed(-3)),
    r(0x25, 0x25, "Volume flow", Unit::UsGalPerMin, Step::Fixed(0)),
    r(0x26, 0x26, "Volume flow", Unit::UsGalPerH, Step::Fixed(0)),
    r(0x28, 0x29, "Power", Unit::W, Step::Pow(5)), // 10^(n-1) MW
    r(0x2A, 0x2A, "Phase U-U", Unit::Degree, Step::Fixed(-1)),
    r(0x2B, 0x2B, "Phase U-I", Unit::Degree, Step::Fixed(-1)),
    r(0x2C, 0x2F, "Frequency", Unit::Hz, Step::Pow(-3)),
    r(0x30, 0x31, "Power", Unit::JPerH, Step::Pow(8)), // 10^(n-1) GJ/h
    r(0x34, 0x37, "Apparent power", Unit::Va, Step::Pow(0)), // 10^(nn-3) kVA
    r(0x58, 0x5B, "Flow temperature", Unit::DegF, Step::Pow(-3)),
    r(0x5C, 0x5F, "Return temperature", Unit::DegF, Step::Pow(-3)),
    r(0x60, 0x63, "Temperature difference", Unit::DegF, Step::Pow(-3)),
    r(0x64, 0x67, "External temperature", Unit::DegF, Step::Pow(-3)),
    r(0x70, 0x73, "Cold / warm temperature limit", Unit::DegF, Step::Pow(-3)),
    r(0x74, 0x77, "Cold / warm temperature limit", Unit::DegC, Step::Pow(-3)),
    r(0x78, 0x7F, "Cumulative count max power", Unit::W, Step::Pow(-3)),
]);

/// EN 13757-3:2013 table 12, second extension table (VIF 0xFD).
static FD: [Def; 128] = build(&[
    r(0x00, 0x03, "Credit", Unit::None, Step::Pow(-3)), // of the nominal local legal currency units
    r(0x04, 0x07, "Debit", Unit::None, Step::Pow(-3)),
    n(0x08, "Access number"), // 2013: "unique message identification"
    n(0x09, "Medium"),        // 2013: "device type"; as in the fixed header
    n(0x0A, "Manufacturer"),
    n(0x0B, "Parameter set identification"),
    n(0x0C, "Model/Version"),
    n(0x0D, "Hardware version"),
    n(0x0E, "Firmware version"), // 2013: "metrology (firmware) version"
    n(0x0F, "Software version"), // 2013: "other software version"
    n(0x10, "Customer location"),
    n(0x11, "Customer"),
    n(0x12, "Access code user"),
    n(0x13, "Access code operator"),
    n(0x14, "Access code system operator"),
    n(0x15, "Access code developer"),
    n(0x16, "Password"),
    n(0x17, "Error flags"),
    n(0x18, "Error mask"),
    n(0x19, "Security key"),
    n(0x1A, "Digital output"),
    n(0x1B, "Digital input"),
    r(0x1C, 0x1C, "Baud rate", Unit::Baud, Step::Fixed(0)),
    r(0x1D, 0x1D, "Response delay time", Unit::BitTimes, Step::Fixed(0)),
    n(0x1E, "Retry"),
    n(0x1F, "Remote control"),
    n(0x20, "First storage number for cyclic storage"),
    n(0x21, "Last storage number for cyclic storage"),
    n(0x22, "Size of storage block"),
    n(0x23, "Descriptor for tariff and subunit"),
    r(0x24, 0x27, "Storage interval", Unit::S, Step::SecMinHourDay),
    r(0x28, 0x28, "Storage interval", Unit::Month, Step::Fixed(0)),
    r(0x29, 0x29, "Storage interval", Unit::Year, Step::Fixed(0)),
    n(0x2A, "Operator specific data"),
    r(0x2B, 0x2B, "Time point second", Unit::S, Step::Fixed(0)),
    r(0x2C, 0x2F, "Duration since last readout", Unit::S, Step::SecMinHourDay),
    r(0x31, 0x33, "Duration of tariff", Unit::S, Step::SecMinHourDay), // nn = 01..11: min..days
    rd(0x30, 0x30, "Start date/time of tariff"),
    r(0x34, 0x37, "Period of tariff", Unit::S, Step::SecMinHourDay),
    r(0x38, 0x38, "Period of tariff", Unit::Month, Step::Fixed(0)),
    r(0x39, 0x39, "Period of tariff", Unit::Year, Step::Fixed(0)),
    n(0x3A, "Dimensionless"),
    rb(0x3B, 0x3B, "Data container for wireless M-Bus protocol"),
    r(0x3C, 0x3F, "Period of nominal data transmissions", Unit::S, Step::SecMinHourDay),
    r(0x40, 0x4F, "Voltage", Unit::V, Step::Pow(-9)),
    r(0x50, 0x5F, "Current", Unit::A, Step::Pow(-12)),
    n(0x60, "Reset counter"),
    n(0x61, "Cumulation counter"),
    n(0x62, "Control signal"),
    n(0x63, "Day of week"),
    n(0x64, "Week number"),
    n(0x65, "Time point of day change"),
    n(0x66, "State of parameter activation"),
    n(0x67, "Special supplier information"),
    r(0x68, 0x6B, "Duration since last cumulation", Unit::H, Step::HourDayMonthYear),
    r(0x6C, 0x6F, "Operating time battery", Unit::H, Step::HourDayMonthYear),
    rd(0x70, 0x70, "Date and time of battery change"),
    r(0x71, 0x71, "RSSI", Unit::Dbm, Step::Fixed(0)), // "RF level units: dBm"
    rb(0x72, 0x72, "Daylight saving (begin, end, deviation)"), // data type K
    rb(0x73, 0x73, "Listening window management"),              // data type L
    r(0x74, 0x74, "Remaining battery lifetime", Unit::D, Step::Fixed(0)),
    n(0x75, "Number of times the meter was stopped"),
    rb(0x76, 0x76, "Data container for manufacturer specific protocol"),
]);

/// Expand `(lo, hi, name)` code ranges into a 128-entry name table (`default` elsewhere).
const fn names(ranges: &[(u8, u8, &'static str)], default: &'static str) -> [&'static str; 128] {
    let mut t = [default; 128];
    let mut i = 0;
    while i < ranges.len() {
        let (lo, hi, name) = ranges[i];
        let mut c = lo;
        while c <= hi {
            t[c as usize] = name;
            c += 1;
        }
        i += 1;
    }
    t
}

/// EN 13757-3:2013 table 15: combinable (orthogonal) VIFE codes.
static EXT_NAMES: [&str; 128] = names(
    &[
        // E00x xxxx: record error codes (slave to master), EN 13757-3 table 18
        (0x00, 0x00, "error: none"),
        (0x01, 0x01, "error: too many DIFEs"),
        (0x02, 0x02, "error: storage number not implemented"),
        (0x03, 0x03, "error: unit number not implemented"),
        (0x04, 0x04, "error: tariff number not implemented"),
        (0x05, 0x05, "error: function not implemented"),
        (0x06, 0x06, "error: data class not implemented"),
        (0x07, 0x07, "error: data size not implemented"),
        (0x0B, 0x0B, "error: too many VIFEs"),
        (0x0C, 0x0C, "error: illegal VIF-group"),
        (0x0D, 0x0D, "error: illegal VIF-exponent"),
        (0x0E, 0x0E, "error: VIF/DIF mismatch"),
        (0x0F, 0x0F, "error: unimplemented action"),
        (0x15, 0x15, "error: no data available"),
        (0x16, 0x16, "error: data overflow"),
        (0x17, 0x17, "error: data underflow"),
        (0x18, 0x18, "error: data error"),
        (0x1C, 0x1C, "error: premature end of record"),
        (0x08, 0x0A, "error: reserved"),
        (0x10, 0x14, "error: reserved"),
        (0x19, 0x1B, "error: reserved"),
        (0x1D, 0x1F, "error: reserved"),
        (0x20, 0x20, "per second"),
        (0x21, 0x21, "per minute"),
        (0x22, 0x22, "per hour"),
        (0x23, 0x23, "per day"),
        (0x24, 0x24, "per week"),
        (0x25, 0x25, "per month"),
        (0x26, 0x26, "per year"),
        (0x27, 0x27, "per revolution / measurement"),
        (0x28, 0x28, "increment per input pulse on input channel 0"),
        (0x29, 0x29, "increment per input pulse on input channel 1"),
        (0x2A, 0x2A, "increment per output pulse on output channel 0"),
        (0x2B, 0x2B, "increment per output pulse on output channel 1"),
        (0x2C, 0x2C, "per litre"),
        (0x2D, 0x2D, "per m^3"),
        (0x2E, 0x2E, "per kg"),
        (0x2F, 0x2F, "per K"),
        (0x30, 0x30, "per kWh"),
        (0x31, 0x31, "per GJ"),
        (0x32, 0x32, "per kW"),
        (0x33, 0x33, "per (K*l)"),
        (0x34, 0x34, "per V"),
        (0x35, 0x35, "per A"),
        (0x36, 0x36, "multiplied by s"),
        (0x37, 0x37, "multiplied by s/V"),
        (0x38, 0x38, "multiplied by s/A"),
        (0x39, 0x39, "start date(/time) of"),
        (0x3A, 0x3A, "VIF contains uncorrected unit"),
        (0x3B, 0x3B, "accumulation only if positive contributions"),
        (0x3C, 0x3C, "accumulation of abs value only if negative contributions"),
        (0x3D, 0x3D, "alternate non-metric unit system"),
        (0x3E, 0x3E, "value at base conditions"),
        (0x3F, 0x3F, "OBIS declaration"),
        (0x40, 0x40, "lower limit value"),
        (0x41, 0x41, "number of exceeds of lower limit"),
        (0x42, 0x42, "date (/time) of begin of first lower limit exceed"),
        (0x43, 0x43, "date (/time) of end of first lower limit exceed"),
        (0x46, 0x46, "date (/time) of begin of last lower limit exceed"),
        (0x47, 0x47, "date (/time) of end of last lower limit exceed"),
        (0x48, 0x48, "upper limit value"),
        (0x49, 0x49, "number of exceeds of upper limit"),
        (0x4A, 0x4A, "date (/time) of begin of first upper limit exceed"),
        (0x4B, 0x4B, "date (/time) of end of first upper limit exceed"),
        (0x4E, 0x4E, "date (/time) of begin of last upper limit exceed"),
        (0x4F, 0x4F, "date (/time) of end of last upper limit exceed"),
        (0x50, 0x53, "duration of first lower limit exceed"),
        (0x54, 0x57, "duration of last lower limit exceed"),
        (0x58, 0x5B, "duration of first upper limit exceed"),
        (0x5C, 0x5F, "duration of last upper limit exceed"),
        (0x60, 0x63, "duration of first"),
        (0x64, 0x67, "duration of last"),
        (0x68, 0x68, "value during lower value limit exceed"),
        (0x69, 0x69, "leakage values"),
        (0x6A, 0x6A, "date (/time) of begin of first"),
        (0x6B, 0x6B, "date (/time) of end of first"),
        (0x6C, 0x6C, "value during upper value limit exceed"),
        (0x6D, 0x6D, "overflow values"),
        (0x6E, 0x6E, "date (/time) of begin of last"),
        (0x6F, 0x6F, "date (/time) of end of last"),
        (0x70, 0x77, "multiplicative correction factor"),
        (0x78, 0x7B, "additive correction constant"),
        (0x7D, 0x7D, "multiplicative correction factor 1000"),
        (0x7E, 0x7E, "future value"),
        (0x7F, 0x7F, "manufacturer specific"),
    ],
    "reserved",
);

/// EN 13757-3:2013 table 16: the combinable extension after VIFE 0xFC.
static EXT_FC_NAMES: [&str; 128] = names(
    &[
        (0x01, 0x01, "at phase L1"),
        (0x02, 0x02, "at phase L2"),
        (0x03, 0x03, "at phase L3"),
        (0x04, 0x04, "at neutral (N)"),
        (0x05, 0x05, "between phase L1 and L2"),
        (0x06, 0x06, "between phase L2 and L3"),
        (0x07, 0x07, "between phase L3 and L1"),
        (0x08, 0x08, "at quadrant Q1"),
        (0x09, 0x09, "at quadrant Q2"),
        (0x0A, 0x0A, "at quadrant Q3"),
        (0x0B, 0x0B, "at quadrant Q4"),
        (0x0C, 0x0C, "delta between import and export"),
        (0x10, 0x10, "accumulation of abs value for both positive and negative contributions"),
        (0x11, 0x11, "data direction: from communication partner to meter"),
        (0x12, 0x12, "data direction: from meter to communication partner"),
    ],
    "reserved combinable extension",
);

/// Name of a combinable (orthogonal) VIFE code, EN 13757-3:2013 table 15 (and table 16,
/// the 0xFC extension, for codes with [`EXT_FC`] set).
fn ext_name(code: u16) -> &'static str {
    let c = usize::from(code as u8);
    if code & EXT_FC != 0 {
        EXT_FC_NAMES.get(c).copied().unwrap_or("reserved combinable extension")
    } else {
        EXT_NAMES.get(c).copied().unwrap_or("reserved")
    }
}

/// What a combinable VIFE does to the record beyond adding its name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExtEffect {
    None,
    /// The value becomes a date/time point ("date (/time) of ...", "start date(/time) of").
    Date,
    /// The value becomes a duration; unit from the low two bits (s, min, h, d).
    Duration,
    /// The value becomes a count ("number of exceeds").
    Count,
}

fn ext_effect(c: u8) -> ExtEffect {
    match c {
        0x39 | 0x42 | 0x43 | 0x46 | 0x47 | 0x4A | 0x4B | 0x4E | 0x4F | 0x6A | 0x6B | 0x6E | 0x6F => {
            ExtEffect::Date
        }
        0x50..=0x67 => ExtEffect::Duration,
        0x41 | 0x49 => ExtEffect::Count,
        _ => ExtEffect::None,
    }
}

// ---------------------------------------------------------------------------------------------
// VIB parser
// ---------------------------------------------------------------------------------------------

/// Result of parsing a VIB: its meaning and where it ends.
struct Vib {
    info: VifInfo,
    /// Offset just past the VIB, including a plain-text unit string.
    end: usize,
}

fn truncated(record_offset: usize, at: usize, need: usize, buf: &[u8]) -> RecordError {
    let available = buf.len().saturating_sub(at);
    RecordError::Truncated { record_offset, needed: need, available }
}

/// Walk a VIFE chain starting at `at` (the byte after one with the extension bit set).
/// Returns the offset just past the last VIFE.
fn chain_end(buf: &[u8], at: usize, already: usize, record_offset: usize) -> Result<usize, RecordError> {
    let mut i = at;
    let mut count = already;
    loop {
        let Some(&b) = buf.get(i) else {
            return Err(truncated(record_offset, i, 1, buf));
        };
        count += 1;
        if count > MAX_VIFES {
            return Err(RecordError::TooManyVifes { offset: at });
        }
        i += 1;
        if b & 0x80 == 0 {
            return Ok(i);
        }
    }
}

fn printable(s: &[u8]) -> bool {
    s.iter().all(|&c| (0x20..=0x7E).contains(&c))
}

/// Read the plain-text unit at `at`: length byte + characters. Returns (text range, end).
fn text_at(buf: &[u8], at: usize, record_offset: usize) -> Result<(usize, usize), RecordError> {
    let Some(&len) = buf.get(at) else {
        return Err(truncated(record_offset, at, 1, buf));
    };
    let start = at + 1;
    let end = start + len as usize;
    if end > buf.len() {
        return Err(truncated(record_offset, start, len as usize, buf));
    }
    Ok((start, end))
}

fn plain_text(buf: &[u8], start: usize, end: usize, msb_first: bool) -> Box<str> {
    // Text is sent last character first unless the application layer is MSB first
    // (EN 13757-3 6.4.3: the character order follows the byte order of the APL).
    super::value::text(&buf[start..end], msb_first)
}

/// Set the meaning of primary VIF `code` (table 10) in a fresh [`VifInfo::none`].
#[inline(always)]
fn set_primary(info: &mut VifInfo, code: u8) {
    let def = &PRIMARY[code as usize & 0x7F];
    info.quantity = def.quantity;
    info.unit = def.unit;
    info.exponent = def.exponent;
    info.hint = def.hint;
    info.table = VifTable::Primary;
    info.code = code;
}

/// A primary VIF (table 10) as [`VifInfo`], before any VIFE.
fn primary(code: u8) -> VifInfo {
    let mut info = VifInfo::none();
    set_primary(&mut info, code);
    info
}

/// Parse the VIB starting at `at` into `info`, which must be fresh ([`VifInfo::none`]), and
/// return the offset just past it. `record_offset` is where the record (its DIF) starts.
#[inline(always)]
pub(crate) fn parse_vib(
    buf: &[u8],
    at: usize,
    record_offset: usize,
    msb_first: bool,
    info: &mut VifInfo,
) -> Result<usize, RecordError> {
    match buf.get(at) {
        // The common VIB: one primary VIF, no VIFE (0x7C plain text and 0x7F manufacturer
        // specific excepted).
        Some(&vif) if vif < 0x7C => {
            set_primary(info, vif);
            Ok(at + 1)
        }
        _ => parse_vib_general(buf, at, record_offset, msb_first, info),
    }
}

/// [`parse_vib`] out of line, for every other VIB.
#[inline(never)]
fn parse_vib_general(
    buf: &[u8],
    at: usize,
    record_offset: usize,
    msb_first: bool,
    info: &mut VifInfo,
) -> Result<usize, RecordError> {
    let vib = vib_general(buf, at, record_offset, msb_first)?;
    *info = vib.info;
    Ok(vib.end)
}

/// Any VIB: extension tables (6.4.2), plain text (6.4.3), VIFE chains.
#[inline(always)]
fn vib_general(buf: &[u8], at: usize, record_offset: usize, msb_first: bool) -> Result<Vib, RecordError> {
    let Some(&vif) = buf.get(at) else {
        return Err(truncated(record_offset, at, 1, buf));
    };
    let code = vif & 0x7F;
    let has_ext = vif & 0x80 != 0;
    let mut i = at + 1;
    let mut vifes = 0usize;

    let mut info = match code {
        0x7B | 0x7D | 0x6F if has_ext => {
            // Extension table: the first VIFE is the true VIF (EN 13757-3 6.4.2).
            let Some(&true_vif) = buf.get(i) else {
                return Err(truncated(record_offset, i, 1, buf));
            };
            i += 1;
            vifes = 1;
            let c = true_vif & 0x7F;
            let (table, def) = match code {
                0x7B => (VifTable::Fb, FB[c as usize]),
                0x7D => (VifTable::Fd, FD[c as usize]),
                _ => (VifTable::Ef, RESERVED),
            };
            let mut info = VifInfo::new(def.quantity, def.unit, def.exponent, table, c);
            info.hint = def.hint;
            if true_vif & 0x80 == 0 {
                return Ok(Vib { info, end: i });
            }
            info
        }
        0x7C => return plain_text_vib(buf, i, has_ext, record_offset, msb_first),
        0x7F => {
            let mut info = VifInfo::new("Manufacturer specific", Unit::None, 0, VifTable::ManufacturerSpecific, code);
            info.manufacturer_specific = true;
            info
        }
        0x7B | 0x7D => {
            // An extension-table VIF without its VIFE: the true VIF is missing.
            VifInfo::new("Reserved", Unit::None, 0, VifTable::Primary, code)
        }
        _ => primary(code),
    };

    let ends_here = if vifes == 0 { !has_ext } else { false };
    if ends_here {
        return Ok(Vib { info, end: i });
    }
    let end = chain_end(buf, i, vifes, record_offset)?;
    apply_vifes(&mut info, &buf[i..end]);
    Ok(Vib { info, end })
}

/// A plain-text VIB (VIF 0x7C/0xFC, EN 13757-3 6.4.3): the unit text and the VIFEs, `i` the
/// offset after the VIF.
fn plain_text_vib(buf: &[u8], i: usize, has_ext: bool, record_offset: usize, msb_first: bool) -> Result<Vib, RecordError> {
    let mut info = VifInfo::new("Plain text unit", Unit::None, 0, VifTable::PlainText, 0x7C);
    // Two placements occur: the text directly after the VIF (libmbus, MBDOC48, seen
    // in Elvaco and Itron meters: "FC 03 'HR%' 74 ..."), or after the VIFE chain.
    // Prefer the first; take the second only when the first cannot be text.
    let (ts, te, end_after) = if !has_ext {
        let (ts, te) = text_at(buf, i, record_offset)?;
        (ts, te, te)
    } else {
        let first = text_at(buf, i, record_offset)
            .ok()
            .filter(|&(ts, te)| printable(&buf[ts..te]))
            .and_then(|(ts, te)| chain_end(buf, te, 0, record_offset).ok().map(|e| (ts, te, e)));
        match first {
            Some(x) => {
                // Interpret the VIFEs after the text.
                let (ts, te, e) = x;
                apply_vifes(&mut info, &buf[te..e]);
                (ts, te, e)
            }
            None => {
                let second = chain_end(buf, i, 0, record_offset).and_then(|ce| {
                    let (ts, te) = text_at(buf, ce, record_offset)?;
                    Ok((ce, ts, te))
                });
                match second {
                    Ok((ce, ts, te)) if printable(&buf[ts..te]) => {
                        apply_vifes(&mut info, &buf[i..ce]);
                        (ts, te, te)
                    }
                    _ => {
                        // Neither placement works: report the first one's error.
                        let (ts, te) = text_at(buf, i, record_offset)?;
                        let e = chain_end(buf, te, 0, record_offset)?;
                        apply_vifes(&mut info, &buf[te..e]);
                        (ts, te, e)
                    }
                }
            }
        }
    };
    info.plain_text_unit = Some(plain_text(buf, ts, te, msb_first));
    Ok(Vib { info, end: end_after })
}

/// Apply a chain of combinable VIFEs (table 15) to `info`.
fn apply_vifes(info: &mut VifInfo, vifes: &[u8]) {
    let mut k = 0;
    while k < vifes.len() {
        let b = vifes[k];
        let c = b & 0x7F;
        k += 1;
        if info.manufacturer_specific {
            // After 0x7F every VIFE is manufacturer specific: do not interpret.
            continue;
        }
        match c {
            0x7F => {
                info.manufacturer_specific = true;
                info.push_ext(c as u16);
            }
            0x7C if b & 0x80 != 0 => {
                // 0xFC: the next VIFE is from the combinable extension table (table 16).
                if let Some(&next) = vifes.get(k) {
                    k += 1;
                    info.push_ext(EXT_FC | (next & 0x7F) as u16);
                }
            }
            0x70..=0x77 => {
                info.exponent = info.exponent.saturating_add((c & 7) as i8 - 6);
            }
            0x78..=0x7B => {
                info.exponent = info.exponent.saturating_add((c & 3) as i8 - 3);
                info.additive_correction = true;
                info.push_ext(c as u16);
            }
            0x7D => {
                info.exponent = info.exponent.saturating_add(3);
            }
            _ => {
                match ext_effect(c) {
                    ExtEffect::Date => {
                        info.hint = ValueHint::DateTime;
                        info.unit = Unit::None;
                        info.exponent = 0;
                    }
                    ExtEffect::Duration => {
                        info.unit = TIME4[(c & 3) as usize];
                        info.exponent = 0;
                        info.hint = ValueHint::Number;
                    }
                    ExtEffect::Count => {
                        info.unit = Unit::None;
                        info.exponent = 0;
                        info.hint = ValueHint::Number;
                    }
                    ExtEffect::None => {}
                }
                info.push_ext(c as u16);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(b: &[u8], msb_first: bool) -> Result<Vib, RecordError> {
        let mut info = VifInfo::none();
        let end = parse_vib(b, 0, 0, msb_first, &mut info)?;
        Ok(Vib { info, end })
    }

    fn vib(bytes: &[u8]) -> VifInfo {
        let v = pv(bytes, false).expect("vib");
        assert_eq!(v.end, bytes.len(), "VIB length for {bytes:02x?}");
        v.info
    }

    #[test]
    fn primary_ranges() {
        // (VIF, quantity, unit, exponent) straight from EN 13757-3 table 10
        let cases: &[(u8, &str, Unit, i8)] = &[
            (0x00, "Energy", Unit::Wh, -3),
            (0x07, "Energy", Unit::Wh, 4),
            (0x0E, "Energy", Unit::J, 6),
            (0x13, "Volume", Unit::M3, -3),
            (0x16, "Volume", Unit::M3, 0),
            (0x1B, "Mass", Unit::Kg, 0),
            (0x22, "On time", Unit::H, 0),
            (0x27, "Operating time", Unit::D, 0),
            (0x2B, "Power", Unit::W, 0),
            (0x33, "Power", Unit::JPerH, 3),
            (0x3B, "Volume flow", Unit::M3PerH, -3),
            (0x47, "Volume flow", Unit::M3PerMin, 0),
            (0x4F, "Volume flow", Unit::M3PerS, -2),
            (0x52, "Mass flow", Unit::KgPerH, -1),
            (0x5A, "Flow temperature", Unit::DegC, -1),
            (0x5F, "Return temperature", Unit::DegC, 0),
            (0x61, "Temperature difference", Unit::K, -2),
            (0x66, "External temperature", Unit::DegC, -1),
            (0x69, "Pressure", Unit::Bar, -2),
            (0x6E, "Units for H.C.A.", Unit::Hca, 0),
            (0x71, "Averaging duration", Unit::Min, 0),
            (0x74, "Actuality duration", Unit::S, 0),
            (0x78, "Fabrication number", Unit::None, 0),
            (0x79, "Enhanced identification", Unit::None, 0),
            (0x7A, "Bus address", Unit::None, 0),
            (0x7E, "Any VIF", Unit::None, 0),
            (0x6F, "Reserved", Unit::None, 0),
        ];
        for &(v, q, u, e) in cases {
            let i = vib(&[v]);
            assert_eq!((i.quantity, i.unit, i.exponent), (q, u, e), "VIF {v:#04x}");
        }
        assert_eq!(vib(&[0x6C]).hint, ValueHint::DateTime);
        assert_eq!(vib(&[0x6D]).hint, ValueHint::DateTime);
    }

    #[test]
    fn fd_table() {
        let cases: &[(u8, &str, Unit, i8)] = &[
            (0x02, "Credit", Unit::None, -1),
            (0x08, "Access number", Unit::None, 0),
            (0x0C, "Model/Version", Unit::None, 0),
            (0x0E, "Firmware version", Unit::None, 0),
            (0x17, "Error flags", Unit::None, 0),
            (0x1B, "Digital input", Unit::None, 0),
            (0x26, "Storage interval", Unit::H, 0),
            (0x29, "Storage interval", Unit::Year, 0),
            (0x32, "Duration of tariff", Unit::H, 0),
            (0x3A, "Dimensionless", Unit::None, 0),
            (0x47, "Voltage", Unit::V, -2),
            (0x49, "Voltage", Unit::V, 0),
            (0x59, "Current", Unit::A, -3),
            (0x5B, "Current", Unit::A, -1),
            (0x60, "Reset counter", Unit::None, 0),
            (0x67, "Special supplier information", Unit::None, 0),
            (0x6A, "Duration since last cumulation", Unit::Month, 0),
            (0x6D, "Operating time battery", Unit::D, 0),
            (0x71, "RSSI", Unit::Dbm, 0),
            (0x74, "Remaining battery lifetime", Unit::D, 0),
            (0x7C, "Reserved", Unit::None, 0),
        ];
        for &(v, q, u, e) in cases {
            let i = vib(&[0xFD, v]);
            assert_eq!((i.quantity, i.unit, i.exponent, i.table), (q, u, e, VifTable::Fd), "FD {v:#04x}");
        }
        assert_eq!(vib(&[0xFD, 0x30]).hint, ValueHint::DateTime);
        assert_eq!(vib(&[0xFD, 0x70]).hint, ValueHint::DateTime);
        assert_eq!(vib(&[0xFD, 0x72]).hint, ValueHint::Bytes);
    }

    #[test]
    fn fb_table() {
        let cases: &[(u8, &str, Unit, i8)] = &[
            (0x00, "Energy", Unit::Wh, 5), // 0.1 MWh
            (0x01, "Energy", Unit::Wh, 6),
            (0x09, "Energy", Unit::J, 9), // GJ
            (0x10, "Volume", Unit::M3, 2),
            (0x19, "Mass", Unit::Kg, 6), // 1000 t
            (0x1A, "Relative humidity", Unit::Percent, -1),
            (0x21, "Volume", Unit::Ft3, -1),
            (0x23, "Volume", Unit::UsGal, 0),
            (0x24, "Volume flow", Unit::UsGalPerMin, -3),
            (0x29, "Power", Unit::W, 6),
            (0x2E, "Frequency", Unit::Hz, -1),
            (0x31, "Power", Unit::JPerH, 9),
            (0x5A, "Flow temperature", Unit::DegF, -1),
            (0x76, "Cold / warm temperature limit", Unit::DegC, -1),
            (0x7B, "Cumulative count max power", Unit::W, 0),
            (0x40, "Reserved", Unit::None, 0),
        ];
        for &(v, q, u, e) in cases {
            let i = vib(&[0xFB, v]);
            assert_eq!((i.quantity, i.unit, i.exponent, i.table), (q, u, e, VifTable::Fb), "FB {v:#04x}");
        }
    }

    #[test]
    fn combinable_vifes() {
        // energy kWh, accumulation only if positive
        let i = vib(&[0x86, 0x3B]);
        assert_eq!(i.exponent, 3);
        assert_eq!(i.extensions().collect::<Vec<_>>(), ["accumulation only if positive contributions"]);
        // multiplicative correction 10^(nnn-6): 0x74 -> 10^-2
        let i = vib(&[0x96, 0x74]);
        assert_eq!(i.exponent, -2);
        assert_eq!(i.extensions().count(), 0);
        // 0x7D: x1000
        let i = vib(&[0x93, 0x7D]);
        assert_eq!(i.exponent, 0);
        // additive correction constant 10^(nn-3)
        let i = vib(&[0x93, 0x79]);
        assert_eq!(i.exponent, -5);
        assert!(i.additive_correction);
        // per hour, then lower limit value
        let i = vib(&[0x93, 0xA2, 0x40]);
        assert_eq!(i.extensions().collect::<Vec<_>>(), ["per hour", "lower limit value"]);
        // error code VIFE 0x00
        let i = vib(&[0x84, 0x00]);
        assert_eq!(i.extensions().collect::<Vec<_>>(), ["error: none"]);
        // duration of first lower limit exceed, in seconds (Sensus PolluStat "BE 50")
        let i = vib(&[0xBE, 0x50]);
        assert_eq!((i.quantity, i.unit, i.exponent), ("Volume flow", Unit::S, 0));
        // number of exceeds
        let i = vib(&[0xBE, 0x49]);
        assert_eq!((i.unit, i.exponent), (Unit::None, 0));
        // date of end of last (Landis+Gyr "AD 6F")
        let i = vib(&[0xAD, 0x6F]);
        assert_eq!(i.hint, ValueHint::DateTime);
        // phase L2 via the 0xFC combinable extension
        let i = vib(&[0xFD, 0xC9, 0xFC, 0x02]);
        assert_eq!(i.quantity, "Voltage");
        assert_eq!(i.extensions().collect::<Vec<_>>(), ["at phase L2"]);
    }

    #[test]
    fn manufacturer_specific_vife_stops_interpretation() {
        // ABB-style: energy 10 Wh, VIFE 0xFF then 0xF2 0x00: 0xF2 must not rescale
        let i = vib(&[0x84, 0xFF, 0xF2, 0x00]);
        assert_eq!((i.quantity, i.unit, i.exponent), ("Energy", Unit::Wh, 1));
        assert!(i.manufacturer_specific);
        let i = vib(&[0xFF, 0xE1, 0xFF, 0x01]);
        assert_eq!(i.quantity, "Manufacturer specific");
        assert_eq!(i.table, VifTable::ManufacturerSpecific);
    }

    #[test]
    fn plain_text_vif_placements() {
        // 7C: length + reversed text
        let i = vib(&[0x7C, 0x03, b'H', b'R', b'%']);
        assert_eq!(i.plain_text_unit.as_deref(), Some("%RH"));
        // FC with text first, then VIFE 0x74 (x 10^-2)
        let i = vib(&[0xFC, 0x03, b'H', b'R', b'%', 0x74]);
        assert_eq!(i.plain_text_unit.as_deref(), Some("%RH"));
        assert_eq!(i.exponent, -2);
        // FC with the VIFE chain first, then the text
        let i = vib(&[0xFC, 0x74, 0x03, b'H', b'R', b'%']);
        assert_eq!(i.plain_text_unit.as_deref(), Some("%RH"));
        assert_eq!(i.exponent, -2);
        // MSB-first application layer: text in reading order on the wire
        let v = pv(&[0x7C, 0x02, b'k', b'W'], true).unwrap();
        assert_eq!(v.info.plain_text_unit.as_deref(), Some("kW"));
    }

    #[test]
    fn vife_limits_and_truncation() {
        let mut b = vec![0x93];
        b.extend([0xA2; 9]);
        b.push(0x22); // 10 VIFEs: fine
        assert!(pv(&b, false).is_ok());
        let mut b = vec![0x93];
        b.extend([0xA2; 10]);
        b.push(0x22); // 11 VIFEs
        assert_eq!(pv(&b, false).err(), Some(RecordError::TooManyVifes { offset: 1 }));
        assert!(matches!(pv(&[0x93, 0xA2], false), Err(RecordError::Truncated { .. })));
        assert!(matches!(pv(&[0xFD], false), Err(RecordError::Truncated { .. })));
        assert!(matches!(pv(&[0x7C, 0x05, b'a'], false), Err(RecordError::Truncated { .. })));
        assert!(matches!(pv(&[], false), Err(RecordError::Truncated { .. })));
    }

    #[test]
    fn unit_vocabulary() {
        assert_eq!(Unit::M3.as_str(), Some("m^3"));
        assert_eq!(Unit::Year.as_str(), Some("a"));
        assert_eq!(Unit::A.as_str(), Some("A"));
        assert_eq!(Unit::DegC.as_str(), Some("°C"));
        assert_eq!(Unit::None.as_str(), None);
    }
}
