//! The DLMS APDU stage (ACSE BER, xDLMS LN/SN, ciphered APDUs handed to the ciphering stage):
//! `decode_apdu` never panics on any input; whatever decodes encodes, its encoding decodes to
//! the same APDU, and encoding that again gives the same bytes (decode → encode → decode is
//! stable). The input is one APDU.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink::dlms::apdu::{decode_apdu, encode_apdu_to_vec};

fuzz_target!(|data: &[u8]| {
    let Ok(a) = decode_apdu(data) else { return };
    let bytes = encode_apdu_to_vec(&a).expect("a decoded APDU encodes");
    let b = decode_apdu(&bytes).unwrap_or_else(|e| panic!("its encoding decodes: {e} ({})", e.code()));
    // Debug: a NaN float in a Data item equals itself
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(encode_apdu_to_vec(&b).expect("encodes again"), bytes);
    let _ = (a.type_name(), a.choice_name(), a.invoke_id(), a.datetime(), a.value());
});
