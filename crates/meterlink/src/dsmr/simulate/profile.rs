//! Randomness and consumption profiles of the simulator.
//!
//! Every random draw is a pure function of (seed, device, hour, purpose) ([`draw`]): the
//! result does not depend on the order devices are visited in, so a run is deterministic for
//! a seed, and any hour of any device can be recomputed on its own.

/// What a device measures (the medium of its header and its §6.4 data blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// Gas meter G4–G6: converted volume `4C 13` (litres, §6.4.4).
    Gas,
    /// Gas meter G10–G25: converted volume `4C 14` (10 litres, §6.4.4).
    GasLarge,
    /// Water meter: volume `4C 13` (litres, §6.4.6).
    Water,
    /// Heat meter: heat energy `4C 0F` (0.01 GJ) and volume `4C 13` (litres, §6.4.5).
    Heat,
    /// Slave E-meter: energy `4C 03` (Wh, §6.4.7).
    Electricity,
}

impl DeviceKind {
    /// The device type of the Short ID (EN 13757-3 Table 3).
    pub fn device_type(self) -> u8 {
        use crate::dsmr::short_id::device_type as t;
        match self {
            DeviceKind::Gas | DeviceKind::GasLarge => t::GAS,
            DeviceKind::Water => t::WATER,
            DeviceKind::Heat => t::HEAT,
            DeviceKind::Electricity => t::ELECTRICITY,
        }
    }

    /// The VIFs of its hourly readings, in record order.
    pub fn vifs(self) -> &'static [u8] {
        match self {
            DeviceKind::Gas | DeviceKind::Water => &[0x13],
            DeviceKind::GasLarge => &[0x14],
            DeviceKind::Heat => &[0x0F, 0x13],
            DeviceKind::Electricity => &[0x03],
        }
    }

    /// The §6.4.8 meter configuration mask: clock (bit 0), gas converted volume (bit 2), as
    /// the B1.3 example (05h).
    pub fn config_mask(self) -> u8 {
        match self {
            DeviceKind::Gas | DeviceKind::GasLarge => 0x05,
            _ => 0x01,
        }
    }

    /// A short lower-case name (`gas`, `gas_large`, `water`, `heat`, `electricity`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Gas => "gas",
            DeviceKind::GasLarge => "gas_large",
            DeviceKind::Water => "water",
            DeviceKind::Heat => "heat",
            DeviceKind::Electricity => "electricity",
        }
    }

    /// Manufacturer codes a device of this kind is drawn from.
    pub(super) fn manufacturers(self) -> &'static [&'static str] {
        match self {
            DeviceKind::Gas | DeviceKind::GasLarge => &["ITF", "ELS", "NET", "PIP"],
            DeviceKind::Water => &["SEN", "ZRI", "ITW"],
            DeviceKind::Heat => &["KAM", "LUG", "ZRI"],
            DeviceKind::Electricity => &["ISK", "KFM", "LGB"],
        }
    }

    /// Typical yearly consumption of the first reading, in its raw units (litres, 10 L,
    /// 0.01 GJ, Wh): gas 1,200 m3, large gas 10,000 m3, water 100 m3, heat 25 GJ, E 3,000 kWh.
    pub(super) fn annual_raw(self) -> f64 {
        match self {
            DeviceKind::Gas => 1.2e6,
            DeviceKind::GasLarge => 1.0e6,
            DeviceKind::Water => 1.0e5,
            DeviceKind::Heat => 2.5e3,
            DeviceKind::Electricity => 3.0e6,
        }
    }

    /// The most a meter of the kind can register in an hour, raw units (G4: 6 m3/h; G25:
    /// 40 m3/h; water Q3 = 2.5 m3/h; heat 0.1 GJ/h; 17 kW).
    fn hourly_cap(self) -> f64 {
        match self {
            DeviceKind::Gas => 6.0e3,
            DeviceKind::GasLarge => 4.0e3,
            DeviceKind::Water => 2.5e3,
            DeviceKind::Heat => 10.0,
            DeviceKind::Electricity => 1.7e4,
        }
    }

    /// How strongly consumption follows the heating season (1 = gas/heat, small for others).
    fn seasonality(self) -> f64 {
        match self {
            DeviceKind::Gas | DeviceKind::GasLarge | DeviceKind::Heat => 0.9,
            DeviceKind::Water => -0.15,
            DeviceKind::Electricity => 0.25,
        }
    }
}

/// Fixed-point scale of the internal meter registers: raw units × 1000, so that hours with
/// less than one raw unit still accumulate (heat: 0.01 GJ per raw unit).
pub const SUB: u64 = 1000;

/// Purposes of [`draw`] (keep each value unique).
pub mod purpose {
    /// Wireless send offset.
    pub const OFFSET: u64 = 1;
    /// Hourly consumption noise.
    pub const NOISE: u64 = 2;
    /// Wireless loss.
    pub const LOSS: u64 = 3;
    /// E-meter poll offset.
    pub const POLL: u64 = 4;
    /// The seed's key-derivation key.
    pub const KEY: u64 = 5;
    /// Device set-up draws (add the draw number).
    pub const SETUP: u64 = 16;
}

/// SplitMix64's finaliser (a bijection of u64 with good avalanche).
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A pseudo-random u64 for (seed, subject, hour, purpose).
#[inline]
pub fn draw(seed: u64, subject: u64, hour: u64, purpose: u64) -> u64 {
    let a = mix(seed ^ 0x9E37_79B9_7F4A_7C15);
    let b = mix(a ^ subject.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    mix(b ^ hour.wrapping_mul(0xA076_1D64_78BD_642F) ^ purpose.wrapping_mul(0xE703_7ED1_A0B4_28DB))
}

/// A uniform number in [0, 1) from a draw.
#[inline]
pub fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Relative demand per hour of the local (CET) day, mean 1: low at night, a morning and an
/// evening peak (household gas/heat/water/electricity alike, to first order).
const DAILY: [f64; 24] = [
    0.55, 0.35, 0.30, 0.30, 0.45, 0.55, 1.10, 1.75, 1.70, 1.25, 1.00, 0.95, //
    0.95, 0.90, 0.85, 0.90, 1.05, 1.45, 1.65, 1.60, 1.45, 1.25, 0.95, 0.75,
];

/// The consumption of one hour in internal units (raw × [`SUB`]): yearly mean ×
/// season × time of day × noise, capped at the meter's flow limit. Never negative.
/// `unix_hour` is the start of the hour (UTC); `scale` the household's size factor.
pub fn hourly_use(kind: DeviceKind, scale: f64, unix_hour: i64, noise: u64) -> u64 {
    let days = unix_hour.div_euclid(86_400) as f64;
    // Day of the year, 0 = 1 January (close enough: years of 365.2425 days since 1970).
    let doy = (days / 365.2425).fract() * 365.2425;
    // The heating season peaks in mid-January (day 15), lowest in mid-July.
    let season = 1.0 + kind.seasonality() * (std::f64::consts::TAU * (doy - 15.0) / 365.2425).cos();
    let local_hour = ((unix_hour.div_euclid(3600) + 1).rem_euclid(24)) as usize; // CET = UTC+1
    let u = unit(noise);
    // Idle hours: a fifth of the hours register nothing (more in summer for gas/heat).
    let idle = (0.2 / season.max(0.3)).min(0.8);
    if u < idle {
        return 0;
    }
    // The other hours make up for the idle ones (noise mean 1).
    let mean = kind.annual_raw() / 8766.0 * scale / (1.0 - idle);
    let v = mean * season.max(0.05) * DAILY[local_hour] * (0.25 + 1.5 * unit(mix(noise)));
    (v.min(kind.hourly_cap()) * SUB as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_profile_has_mean_one() {
        let m: f64 = DAILY.iter().sum::<f64>() / 24.0;
        assert!((m - 1.0).abs() < 0.01, "{m}");
    }

    #[test]
    fn a_gas_year_is_about_the_yearly_mean() {
        // 2023: the sum of a year's hourly draws is the yearly mean within 15 %.
        let start = 1_672_531_200; // 2023-01-01T00:00:00Z
        let total: u64 = (0..8760).map(|h| hourly_use(DeviceKind::Gas, 1.0, start + h * 3600, draw(7, 1, h as u64, 2))).sum();
        let m3 = total as f64 / SUB as f64 / 1000.0;
        assert!((1000.0..1400.0).contains(&m3), "{m3} m3");
        // January uses several times what July does.
        let month = |from: i64| -> u64 { (0..744).map(|h| hourly_use(DeviceKind::Gas, 1.0, from + h * 3600, draw(7, 1, h as u64, 2))).sum() };
        assert!(month(start) > 4 * month(start + 181 * 86_400));
    }
}
