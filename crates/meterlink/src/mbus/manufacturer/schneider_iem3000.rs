//! Schneider Electric iEM3000 series electricity meters (manufacturer SEC, device type 02h).
//!
//! Layout facts: wmbusmeters drivers/src/iem3000.xmq, checked against its test telegrams (the
//! tests below). These meters send standard data records but give some of them a meaning that
//! EN 13757-3 does not: a manufacturer VIFE (FFh) followed by a manufacturer code, or subunit 1.
//! The generic records stay as transmitted; this table adds a record with the meaning:
//!
//! | record                                     | meaning                              |
//! |--------------------------------------------|--------------------------------------|
//! | energy VIF, subunit 1, tariff 0            | reactive energy imported (varh)      |
//! | energy VIF, subunit 1, tariff 0, VIFE FF 0D | partial reactive energy imported     |
//! | energy VIF, subunit 1, tariff 0, VIFE FF 09 | reactive energy exported             |
//! | DIF 05h (real), VIF FF 0B                  | frequency (Hz)                       |
//! | integer DIF, VIF FF 24                     | nominal frequency (Hz)               |
//!
//! The energy VIF's decimal exponent applies unchanged (varh in place of Wh). Other
//! combinations (phase codes FF 01..03 with subunits, tariffs with subunits) are used
//! inconsistently in the source and are left alone.

use super::Input;
use crate::mbus::records::{Function, Record, RecordKind, Unit, Value, VifInfo, VifTable};

const REACTIVE_IMPORT: &str = "Reactive energy, imported (manufacturer-specific, Schneider iEM3000 layout)";
const REACTIVE_IMPORT_PARTIAL: &str =
    "Reactive energy, imported, partial (manufacturer-specific, Schneider iEM3000 layout)";
const REACTIVE_EXPORT: &str = "Reactive energy, exported (manufacturer-specific, Schneider iEM3000 layout)";
const FREQUENCY: &str = "Frequency (manufacturer-specific, Schneider iEM3000 layout)";
const NOMINAL_FREQUENCY: &str = "Nominal frequency (manufacturer-specific, Schneider iEM3000 layout)";

/// The manufacturer code after the first manufacturer VIFE (FFh) of a VIB, if any.
fn manufacturer_code(vib: &[u8]) -> Option<Option<u8>> {
    match vib.iter().skip(1).position(|&v| v == 0xFF) {
        None => Some(None),
        Some(k) => vib.get(k + 2).map(|&c| Some(c & 0x7F)),
    }
}

fn meaning(r: &Record, p: &[u8]) -> Option<(&'static str, Unit)> {
    if r.kind != RecordKind::Data || r.function != Function::Instantaneous || r.storage != 0 {
        return None;
    }
    let dif = *r.dib.get(p).first()? & 0x0F;
    let vib = r.vib.get(p);
    if r.vif.table == VifTable::Primary && r.vif.unit == Unit::Wh && r.subunit == 1 && r.tariff == 0 {
        return match manufacturer_code(vib)? {
            None => Some((REACTIVE_IMPORT, Unit::VarH)),
            Some(0x0D) => Some((REACTIVE_IMPORT_PARTIAL, Unit::VarH)),
            Some(0x09) => Some((REACTIVE_EXPORT, Unit::VarH)),
            Some(_) => None,
        };
    }
    if r.subunit != 0 || r.tariff != 0 {
        return None;
    }
    match (dif, vib) {
        (0x05, [0xFF, 0x0B]) => Some((FREQUENCY, Unit::Hz)),
        (0x01..=0x04 | 0x06 | 0x07, [0xFF, 0x24]) => Some((NOMINAL_FREQUENCY, Unit::Hz)),
        _ => None,
    }
}

pub(super) fn decode(input: &Input<'_>, out: &mut Vec<Record>) {
    for r in input.records {
        let Some((quantity, unit)) = meaning(r, input.payload) else { continue };
        if !matches!(r.value, Value::Number { .. } | Value::Real(_)) {
            continue;
        }
        let mut vif = VifInfo::new(quantity, unit, r.vif.exponent, VifTable::ManufacturerSpecific, 0);
        vif.manufacturer_specific = true;
        out.push(Record { vif, ..r.clone() });
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::mbus::records::Unit;

    const LAYOUT: &str = "Schneider iEM3000";

    fn f(t: &crate::mbus::decode::Telegram, prefix: &str) -> Vec<f64> {
        derived(t, LAYOUT)
            .into_iter()
            .filter(|r| r.vif.quantity.starts_with(prefix))
            .map(|r| r.value.as_f64().unwrap())
            .collect()
    }

    // wmbusmeters drivers/src/iem3000.xmq, test "Schneider3" (03313062).
    const S3: &str = "68F6F66808027262303103A34C1502510000000783FF091100000000000000874003987D020200000000874083FF09000000000000000004EDFF0C000001010783FF0D0A6CFD0100000000874083FF0D987D0202000000000783FF016213A900000000000783FF028008AD00000000000783FF033850A7000000000004EDFF0E0000010107FD61000000000000000003FF10000000871003000000000000000087200300000000000000008730030000000000000000878010030000000000000000046D2109292603FF2C64000003FF2D00000005FF2E0000C84205FF2F0000FA4303FF3000000003FD1B00000002FF32000003FD1AFFFF001FA816";

    #[test]
    fn reactive_energy() {
        let t = tg(S3);
        // 33717.656 kvarh imported (total and partial), 0 exported.
        assert_eq!(f(&t, "Reactive energy, imported ("), vec![33_717_656.0]);
        assert_eq!(f(&t, "Reactive energy, imported, partial"), vec![33_717_656.0]);
        assert_eq!(f(&t, "Reactive energy, exported"), vec![0.0]);
        assert!(derived(&t, LAYOUT).iter().all(|r| r.vif.unit == Unit::VarH && r.subunit == 1));
        // The generic records are still there, unchanged (energy in Wh, subunit 1).
        assert!(t.records.iter().any(|r| r.vif.quantity == "Energy" && r.subunit == 1));
    }

    #[test]
    fn frequency_real_and_nominal() {
        // Test "S3_1" (11111111): 49.934288 Hz as a 32-bit real, FF 0B.
        let t = tg("68F4F46808177211111111A34C18020D0000000DFD0A126369727463656C452072656469656E6863530DFD0C0820353332334D45690DFD0E073230302E342E3103FD1740000005FDDCFF011CC9B94105FDDCFF026B8E0B4205FDDCFF0301478B4105FDDCFF005164C94105FDC9FF05A48DC84305FDC9FF06A397C84305FDC9FF07DB26C94305FDC9FF080CC4C84305FDC9FF0190D1674305FDC9FF0290E7664305FDC9FF03F5C5684305FDC9FF0407D5674305AEFF01C08AA54005AEFF025CCBFC4005AEFF037F1F7840052E7799874185402E3BF887C08580402E93CB8B4105FF0A78D7833F05FF0BB6BC4742070304726A16000000001F8616");
        let hz = f(&t, "Frequency");
        assert_eq!(hz.len(), 1);
        assert!((hz[0] - 49.934288).abs() < 1e-5, "{hz:?}");
        // Test "S3_3": nominal frequency 50 Hz (03 FF 24), reactive export with a real value.
        let t = tg("68F1F16808177211111111A34C18020F00000002FF34000005FF350000803F02FF36000002FF37000002FF38000004EDFF398020010105FF3A0000C0FF06FF20D9292605000003FF2103000003FF2204000003FF230B000003FF24320000050359A1B7480583FF0900000000854003FB4D2347854083FF09FDC525470583FF0D58A1B748854083FF0DFB4D23470583FF0133A3EB470583FF0278881E480583FF033ED1B54705FD6100000000851003000000008520030000000085300300000000858010030000000003FF2500000005FF260000C84203FF2764000003FF2803000003FF292C010003FF2A05000003FF2B0000000F2E16");
        assert_eq!(f(&t, "Nominal frequency"), vec![50.0]);
        let export = f(&t, "Reactive energy, exported");
        assert!((export[0] / 1000.0 - 42.437988).abs() < 1e-4, "{export:?}");
        let import = f(&t, "Reactive energy, imported (");
        assert!((import[0] / 1000.0 - 41.80598).abs() < 1e-4, "{import:?}");
    }

    #[test]
    fn other_manufacturers_and_codes_give_nothing() {
        // The same frame with another manufacturer (SEC → SED) gives no derived records.
        let other = S3.replacen("A34C", "A44C", 1).replacen("1FA816", "1FA916", 1);
        assert!(derived(&tg(&other), LAYOUT).is_empty());
        // An unknown manufacturer code after FF (0D → 0E) on a subunit-1 energy record: the
        // partial record is gone, the others stay.
        let code = S3.replacen("874083FF0D", "874083FF0E", 1).replacen("1FA816", "1FA916", 1);
        let t = tg(&code);
        assert!(f(&t, "Reactive energy, imported, partial").is_empty());
        assert_eq!(f(&t, "Reactive energy, imported ("), vec![33_717_656.0]);
    }
}
