//! Names of common OBIS codes (IEC 62056-6-1 / Blue Book 7), spelled as amshan names its
//! fields (snake_case, `active_power_import`, `voltage_l1`, `meter_id`, ...) and extended in
//! the same style. The table is data: value groups A, C, D, E; B (channel) is not compared,
//! F must be 255 (current values, not billing periods).

use crate::dlms::Obis;

/// (A, C, D, E, name), sorted for binary search.
const NAMES: &[(u8, u8, u8, u8, &str)] = &[
    // Sorted by (A, C, D, E): abstract objects (A = 0), then electricity (A = 1).
    (0, 1, 0, 0, "meter_datetime"),
    (0, 17, 0, 0, "limiter_threshold"),
    (0, 24, 1, 0, "mbus_device_type"),
    (0, 24, 2, 1, "gas_volume"),
    (0, 42, 0, 0, "logical_device_name"),
    (0, 96, 1, 0, "meter_id"),
    (0, 96, 1, 1, "equipment_identifier"),
    (0, 96, 1, 7, "meter_type"),
    (0, 96, 1, 10, "meter_id_mbus"),
    (0, 96, 3, 10, "breaker_state"),
    (0, 96, 7, 9, "long_power_failures"),
    (0, 96, 7, 21, "power_failures"),
    (0, 96, 13, 0, "text_message"),
    (0, 96, 14, 0, "tariff_indicator"),
    (1, 0, 0, 5, "meter_id"),
    (1, 0, 2, 0, "firmware_version"),
    (1, 0, 2, 8, "firmware_signature"),
    (1, 0, 2, 129, "list_ver_id"),
    (1, 1, 6, 0, "max_demand_import"),
    (1, 1, 7, 0, "active_power_import"),
    (1, 1, 8, 0, "active_power_import_total"),
    (1, 1, 8, 1, "active_power_import_total_t1"),
    (1, 1, 8, 2, "active_power_import_total_t2"),
    (1, 1, 8, 3, "active_power_import_total_t3"),
    (1, 1, 8, 4, "active_power_import_total_t4"),
    (1, 2, 6, 0, "max_demand_export"),
    (1, 2, 7, 0, "active_power_export"),
    (1, 2, 8, 0, "active_power_export_total"),
    (1, 2, 8, 1, "active_power_export_total_t1"),
    (1, 2, 8, 2, "active_power_export_total_t2"),
    (1, 2, 8, 3, "active_power_export_total_t3"),
    (1, 2, 8, 4, "active_power_export_total_t4"),
    (1, 3, 7, 0, "reactive_power_import"),
    (1, 3, 8, 0, "reactive_power_import_total"),
    (1, 3, 8, 1, "reactive_power_import_total_t1"),
    (1, 3, 8, 2, "reactive_power_import_total_t2"),
    (1, 4, 7, 0, "reactive_power_export"),
    (1, 4, 8, 0, "reactive_power_export_total"),
    (1, 4, 8, 1, "reactive_power_export_total_t1"),
    (1, 4, 8, 2, "reactive_power_export_total_t2"),
    (1, 9, 7, 0, "apparent_power_import"),
    (1, 10, 7, 0, "apparent_power_export"),
    (1, 13, 7, 0, "power_factor"),
    (1, 14, 7, 0, "frequency"),
    (1, 16, 7, 0, "active_power_net"),
    (1, 21, 7, 0, "active_power_import_l1"),
    (1, 22, 7, 0, "active_power_export_l1"),
    (1, 23, 7, 0, "reactive_power_import_l1"),
    (1, 24, 7, 0, "reactive_power_export_l1"),
    (1, 31, 7, 0, "current_l1"),
    (1, 32, 7, 0, "voltage_l1"),
    (1, 32, 32, 0, "voltage_sags_l1"),
    (1, 32, 36, 0, "voltage_swells_l1"),
    (1, 33, 7, 0, "power_factor_l1"),
    (1, 41, 7, 0, "active_power_import_l2"),
    (1, 42, 7, 0, "active_power_export_l2"),
    (1, 43, 7, 0, "reactive_power_import_l2"),
    (1, 44, 7, 0, "reactive_power_export_l2"),
    (1, 51, 7, 0, "current_l2"),
    (1, 52, 7, 0, "voltage_l2"),
    (1, 52, 32, 0, "voltage_sags_l2"),
    (1, 52, 36, 0, "voltage_swells_l2"),
    (1, 53, 7, 0, "power_factor_l2"),
    (1, 61, 7, 0, "active_power_import_l3"),
    (1, 62, 7, 0, "active_power_export_l3"),
    (1, 63, 7, 0, "reactive_power_import_l3"),
    (1, 64, 7, 0, "reactive_power_export_l3"),
    (1, 71, 7, 0, "current_l3"),
    (1, 72, 7, 0, "voltage_l3"),
    (1, 72, 32, 0, "voltage_sags_l3"),
    (1, 72, 36, 0, "voltage_swells_l3"),
    (1, 73, 7, 0, "power_factor_l3"),
    (1, 91, 7, 0, "current_neutral"),
    (1, 96, 1, 1, "meter_type"),
    (1, 99, 97, 0, "power_failure_log"),
];

/// The common name of an OBIS code (`1.0.1.7.0.255` → `active_power_import`,
/// `0.0.1.0.0.255` → `meter_datetime`), where the table has it.
pub fn obis_name(obis: &Obis) -> Option<&'static str> {
    let [a, _b, c, d, e, f] = obis.0;
    if f != 255 {
        return None;
    }
    let key = u32::from_be_bytes([a, c, d, e]);
    let i = NAMES.binary_search_by_key(&key, |&(na, nc, nd, ne, _)| u32::from_be_bytes([na, nc, nd, ne])).ok()?;
    Some(NAMES[i].4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        // obis_name searches the table by (A, C, D, E).
        assert!(NAMES.windows(2).all(|w| (w[0].0, w[0].1, w[0].2, w[0].3) < (w[1].0, w[1].1, w[1].2, w[1].3)));
    }

    #[test]
    fn names_of_common_codes() {
        let n = |s: &str| obis_name(&Obis::parse(s).unwrap());
        assert_eq!(n("1.0.1.7.0.255"), Some("active_power_import"));
        assert_eq!(n("1.1.32.7.0.255"), Some("voltage_l1"));
        assert_eq!(n("0.0.1.0.0.255"), Some("meter_datetime"));
        assert_eq!(n("1.0.1.8.1.255"), Some("active_power_import_total_t1"));
        assert_eq!(n("0.1.24.2.1.255"), Some("gas_volume"));
        assert_eq!(n("1.0.1.8.0.101"), None);
        assert_eq!(n("1.0.200.7.0.255"), None);
    }
}
