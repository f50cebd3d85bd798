//! APDUs (ACSE BER, xDLMS LN/SN): decode and encode against real APDUs from public test suites
//! (`tests/vectors/dlms_apdu.json`, each with its source), malformed input, and round trips of
//! generated APDUs of every type.

use meterlink::dlms::apdu::*;
use meterlink::dlms::axdr::Data;
use meterlink::dlms::cosem::DateTime;
use meterlink::dlms::Obis;
use proptest::prelude::*;

mod dlms_gen;
use dlms_gen::*;
use serde_json::Value as Json;

const VECTORS: &str = include_str!("vectors/dlms_apdu.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn vectors(group: &str) -> Vec<Json> {
    let v: Json = serde_json::from_str(VECTORS).unwrap();
    v[group].as_array().unwrap().clone()
}

fn vector(id: &str) -> Apdu {
    let row = vectors("decode").into_iter().chain(vectors("ciphered")).find(|r| r["id"] == id).unwrap();
    decode_apdu(&unhex(row["hex"].as_str().unwrap())).unwrap()
}

fn encode(a: &Apdu) -> Vec<u8> {
    encode_apdu_to_vec(a).unwrap()
}

#[test]
fn every_vector_decodes_to_its_type_and_reencodes_byte_exact() {
    let rows = vectors("decode");
    assert_eq!(rows.len(), 39);
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let bytes = unhex(row["hex"].as_str().unwrap());
        let apdu = decode_apdu(&bytes).unwrap_or_else(|e| panic!("{id}: {e} ({})", e.code()));
        assert_eq!(apdu.type_name(), row["type"], "{id}");
        assert_eq!(apdu.choice_name(), row["choice"], "{id}");
        assert_eq!(encode(&apdu), bytes, "{id}: re-encoding");
        if let Some(i) = row["invoke_id"].as_u64() {
            assert_eq!(apdu.invoke_id(), Some(i as u32), "{id}");
        }
        if let Some(c) = row["confirmed"].as_bool() {
            assert_eq!(apdu.confirmed(), Some(c), "{id}");
        }
        if let Some(h) = row["high"].as_bool() {
            assert_eq!(apdu.priority_high(), Some(h), "{id}");
        }
        if let Some(t) = row["value"].as_str() {
            assert_eq!(apdu.value().map(Data::type_name), Some(t), "{id}");
        }
        if let Some(d) = row["datetime"].as_bool() {
            assert_eq!(apdu.datetime().is_some(), d, "{id}");
        }
    }
}

#[test]
fn strict_prefixes_fail_and_extra_bytes_are_trailing() {
    for row in vectors("decode") {
        let bytes = unhex(row["hex"].as_str().unwrap());
        for n in 0..bytes.len() {
            assert!(decode_apdu(&bytes[..n]).is_err(), "{} cut to {n}", row["id"]);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let e = decode_apdu(&longer).unwrap_err();
        // an ACSE APDU's BER length ends it; an xDLMS APDU ends where its last field does
        assert_eq!((e.code(), e.offset()), ("apdu_trailing_bytes", Some(bytes.len())), "{}", row["id"]);
    }
}

#[test]
fn rejected_rows_fail_with_their_codes() {
    for row in vectors("reject") {
        let bytes = unhex(row["hex"].as_str().unwrap());
        let e = decode_apdu(&bytes).expect_err(row["id"].as_str().unwrap());
        if let Some(code) = row["code"].as_str() {
            assert_eq!(e.code(), code, "{}", row["id"]);
        }
        assert!(e.offset().unwrap() <= bytes.len());
    }
    // dlms-0083 `c003c100000001`: a get-request-with-list of 0 items, then 3 bytes;
    // dlms-0116 `c403c101000000130101`: a get-response-with-list of 1 item (CHOICE 00 data,
    // null-data), then 4 bytes
    assert_eq!(decode_apdu(&unhex("c003c100000001")).unwrap_err().offset(), Some(4));
    assert_eq!(decode_apdu(&unhex("c403c101000000130101")).unwrap_err().offset(), Some(6));
}

/// Peers' names of the types they tried (`get-response-normal(data-access-result)`,
/// `ActionRequestFactory`) as the CHOICE alternative or the type.
fn peer_name(p: &str) -> String {
    let p = p.split('(').next().unwrap();
    match p.strip_suffix("Factory") {
        Some(class) => {
            let mut s = String::new();
            for (i, ch) in class.chars().enumerate() {
                if ch.is_uppercase() && i > 0 {
                    s.push('-');
                }
                s.push(ch.to_ascii_lowercase());
            }
            s
        }
        None => p.to_string(),
    }
}

#[test]
fn parse_as_rows_are_not_what_the_peer_tried() {
    let rows = vectors("parse_as");
    assert_eq!(rows.len(), 23);
    for row in rows {
        let tried = peer_name(row["parse_as"].as_str().unwrap());
        if let Ok(a) = decode_apdu(&unhex(row["hex"].as_str().unwrap())) {
            // `c701…` is action-response-normal with data: the peer tried the alternatives of
            // its return-parameters (none, or a data-access-result)
            if let Apdu::ActionResponse(ActionResponse::Normal { response, .. }) = &a {
                let peer = row["parse_as"].as_str().unwrap();
                let ours = match &response.return_parameters {
                    None => "action-response-normal",
                    Some(GetDataResult::Data(_)) => "action-response-normal(return-parameters=data)",
                    Some(GetDataResult::Error(_)) => "action-response-normal(return-parameters=data-access-result)",
                };
                assert_ne!(ours, peer, "{}", row["id"]);
                continue;
            }
            // and the peer's get-response-with-datablock classes by last-block and result
            if let Apdu::GetResponse(GetResponse::WithDatablock { block, .. }) = &a {
                let error = if matches!(block.result, BlockResult::Error(_)) { ",data-access-result" } else { "" };
                let ours = format!("get-response-with-datablock(last-block={}{error})", block.last_block);
                assert_ne!(ours, row["parse_as"].as_str().unwrap(), "{}", row["id"]);
                continue;
            }
            assert!(a.choice_name() != tried && a.type_name() != tried, "{}: {tried}", row["id"]);
        }
    }
}

#[test]
fn aarq_lls_fields() {
    // Green Book Annex B LLS AARQ
    let Apdu::Aarq(a) = vector("gb-aarq-lls") else { panic!() };
    assert_eq!(a.application_context, ApplicationContextName(1));
    assert_eq!(a.application_context.name(), Some("logical-name-referencing-no-ciphering"));
    assert!(!a.application_context.ciphered());
    assert_eq!(a.sender_acse_requirements.as_deref(), Some(&[0x07, 0x80][..]));
    assert_eq!(a.mechanism_name.and_then(MechanismName::name), Some("low"));
    assert_eq!(a.calling_authentication_value, Some(BerTlv { tag: 0x80, content: b"12345678".to_vec() }));
    let Some(Apdu::InitiateRequest(i)) = a.user_information.as_deref() else { panic!() };
    assert_eq!((i.dlms_version, i.max_pdu_size, i.dedicated_key.clone(), i.response_allowed), (6, 1200, None, None));
    assert!(i.response_allowed());
    assert_eq!(i.conformance, Conformance(0x007E1F));
    // dlms-cosem's reading of the same block (dlms-0117)
    let mut names = i.conformance.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "action",
            "attribute0-supported-with-get",
            "block-transfer-with-action",
            "block-transfer-with-get-or-read",
            "block-transfer-with-set-or-write",
            "event-notification",
            "get",
            "multiple-references",
            "priority-mgmt-supported",
            "selective-access",
            "set"
        ]
    );
    assert_eq!(Conformance::from_names(&names), i.conformance);
    let Apdu::InitiateRequest(j) = vector("dlms-0117") else { panic!() };
    assert_eq!(&j, i);
    let Apdu::Aarq(h) = vector("jdlms-aarq-hls5") else { panic!() };
    assert_eq!(h.mechanism_name.and_then(MechanismName::name), Some("high-gmac"));
    assert_eq!(h.calling_authentication_value.unwrap().content, b"K56iVagY");
}

#[test]
fn aare_fields() {
    // dlms-0009: accepted, authentication-required, HLS GMAC, server challenge P6wRJ21F
    let Apdu::Aare(a) = vector("dlms-0009") else { panic!() };
    assert_eq!(ASSOCIATION_RESULTS[a.result as usize], "accepted");
    assert_eq!(a.diagnostic, ResultSourceDiagnostic::ServiceUser(14));
    assert_eq!(a.diagnostic.name(), Some("authentication-required"));
    assert_eq!(a.mechanism_name, Some(MechanismName(5)));
    assert_eq!(a.responder_acse_requirements.as_deref(), Some(&[0x07, 0x80][..]));
    assert_eq!(a.responding_authentication_value.as_ref().unwrap().content, b"P6wRJ21F");
    let Some(Apdu::InitiateResponse(r)) = a.user_information.as_deref() else { panic!() };
    assert_eq!((r.quality_of_service, r.dlms_version, r.max_pdu_size, r.vaa_name), (None, 6, 500, 7));
    let mut names = r.conformance.names();
    names.sort_unstable();
    assert_eq!(
        names,
        ["action", "block-transfer-with-get-or-read", "event-notification", "get", "priority-mgmt-supported", "selective-access", "set"]
    );
    // dlms-0010: dlms-cosem's Conformance(...) assertion
    let Apdu::Aare(b) = vector("dlms-0010") else { panic!() };
    let Some(Apdu::InitiateResponse(r)) = b.user_information.as_deref() else { panic!() };
    for n in ["action", "block-transfer-with-action", "block-transfer-with-get-or-read", "block-transfer-with-set-or-write", "get", "multiple-references", "selective-access", "set"] {
        assert!(r.conformance.has(n), "{n}");
    }
    assert_eq!(r.conformance.names().len(), 8);
    assert_eq!((b.mechanism_name, b.responding_authentication_value.clone(), system_title(&b.responding_ap_title)), (None, None, None));
    // negotiated quality of service present (jDLMS)
    let Apdu::Aare(q) = vector("jdlms-aare-qos") else { panic!() };
    let Some(Apdu::InitiateResponse(r)) = q.user_information.as_deref() else { panic!() };
    assert_eq!((r.quality_of_service, r.max_pdu_size), (Some(0), 0x400));
    // a refused LLS password, with and without user-information (gosem)
    for id in ["gosem-aare-authfail", "gosem-aare-bare"] {
        let Apdu::Aare(f) = vector(id) else { panic!() };
        assert_eq!((ASSOCIATION_RESULTS[f.result as usize], f.diagnostic.name()), ("rejected-permanent", Some("authentication-failure")));
    }
}

#[test]
fn release_fields() {
    let Apdu::Rlrq(r) = vector("dlms-0020") else { panic!() };
    assert_eq!(r, Release { reason: Some(0), user_information: None });
    assert_eq!(vector("gosem-rlre-empty"), Apdu::Rlre(Release::default()));
}

#[test]
fn get_fields() {
    let Apdu::GetRequest(GetRequest::Normal { invoke, attribute, access }) = vector("dlms-0072") else { panic!() };
    assert_eq!((invoke.invoke_id(), invoke.confirmed(), invoke.high_priority()), (1, true, true));
    assert_eq!(attribute, CosemDescriptor { class_id: 1, instance: Obis([0, 0, 43, 1, 0, 255]), id: 2 });
    assert_eq!(access, None);
    let Apdu::GetRequest(GetRequest::Normal { access: Some(s), .. }) = vector("gosem-get-selective") else { panic!() };
    let Data::Structure(range) = &s.parameters else { panic!() };
    assert_eq!((s.selector, range.len()), (1, 4));
    // dlms-0106: last block 19 with hardware-fault
    let Apdu::GetResponse(GetResponse::WithDatablock { block, .. }) = vector("dlms-0106") else { panic!() };
    assert_eq!((block.last_block, block.block_number), (true, 19));
    assert_eq!(block.result, BlockResult::Error(DataAccessResult(1)));
    assert_eq!(DataAccessResult(1).name(), Some("hardware-fault"));
    let Apdu::GetResponse(GetResponse::WithDatablock { block, .. }) = vector("gosem-block1") else { panic!() };
    assert_eq!((block.last_block, block.block_number), (false, 1));
    assert_eq!(block.result, BlockResult::RawData(unhex("010506000000010600000002")));
    assert_eq!(vector("gosem-next1"), Apdu::GetRequest(GetRequest::Next { invoke: InvokeIdAndPriority(0xC1), block_number: 1 }));
    // dlms-0114: dlms-cosem's response_data
    let Apdu::GetResponse(GetResponse::WithList { results, .. }) = vector("dlms-0114") else { panic!() };
    assert_eq!(results.len(), 9);
    assert_eq!(results[6], GetDataResult::Data(Data::LongUnsigned(2302)));
    let Some(Data::Structure(s)) = results[8].data() else { panic!() };
    assert_eq!(s[4], Data::Integer(-64));
    let Apdu::GetResponse(GetResponse::Normal { result, .. }) = vector("gosem-get-dar") else { panic!() };
    assert_eq!(result, GetDataResult::Error(DataAccessResult(2)));
    let Apdu::GetRequest(GetRequest::WithList { attributes, .. }) = vector("go-get-with-list") else { panic!() };
    assert_eq!(attributes.iter().map(|a| a.attribute.class_id).collect::<Vec<_>>(), [1, 3]);
}

#[test]
fn set_action_and_error_fields() {
    let Apdu::SetResponse(SetResponse::Normal { result, .. }) = vector("dlms-0129") else { panic!() };
    assert_eq!(result.name(), Some("success"));
    let a = vector("set-clock");
    let Some(Data::OctetString(dt)) = a.value() else { panic!() };
    assert_eq!(dt.len(), 12);
    let Apdu::ActionResponse(ActionResponse::Normal { response, .. }) = vector("dlms-0061") else { panic!() };
    assert_eq!(response.result.name(), Some("success"));
    let Apdu::ActionRequest(ActionRequest::Normal { method, .. }) = vector("jdlms-kaifa-action") else { panic!() };
    assert_eq!(method, CosemDescriptor { class_id: 15, instance: Obis([0, 0, 40, 0, 0, 255]), id: 1 });
    let Apdu::ConfirmedServiceError(e) = vector("gosem-cse") else { panic!() };
    assert_eq!((e.service_name(), e.kind_name(), e.value), ("initiate-error", "vde-state-error", 3));
}

#[test]
fn data_notification_fields() {
    // dlms-0160 (Kaifa): the date-time with its Data tag, 2019-02-04 23:52:22, deviation unspecified
    let Apdu::DataNotification(n) = vector("dlms-0160") else { panic!() };
    assert_eq!(n.time, NotificationTime::Tagged(DateTime(unhex("07e3020401173416ff800000").try_into().unwrap())));
    assert_eq!(n.body, Data::Structure(vec![Data::DoubleLongUnsigned(5852)]));
    assert!(!n.invoke.self_descriptive() && !n.invoke.break_on_error());
    // dlms-0168 (Kamstrup): the standard's form, 2022-01-17 12:44:40
    let Apdu::DataNotification(k) = vector("dlms-0168") else { panic!() };
    assert_eq!(k.time, NotificationTime::DateTime(DateTime(unhex("07e60111010c2c28ff800000").try_into().unwrap())));
    // dlms-0036: no date-time, the body an octet string (dlms-cosem's `body`)
    let a = vector("dlms-0036");
    assert_eq!(a.datetime(), None);
    assert_eq!(a.value(), Some(&Data::OctetString(unhex("125a8591360000000049000000110000000a5a8513d014800000000d0000000a0100"))));
}

#[test]
fn ciphered_apdus_are_left_to_the_ciphering_stage() {
    for row in vectors("ciphered") {
        let id = row["id"].as_str().unwrap();
        let bytes = unhex(row["hex"].as_str().unwrap());
        let a = decode_apdu(&bytes).unwrap_or_else(|e| panic!("{id}: {e} ({})", e.code()));
        assert_eq!(a.type_name(), row["type"], "{id}");
        let inner = match &a {
            Apdu::Aarq(x) => x.user_information.as_deref(),
            Apdu::Aare(x) => x.user_information.as_deref(),
            _ => Some(&a),
        };
        let c = inner.unwrap().ciphered().unwrap_or_else(|| panic!("{id}"));
        if let Some(t) = row["user_information"].as_str() {
            assert_eq!(c.type_name(), t, "{id}");
        }
        assert_eq!(encode(&a), bytes, "{id}");
    }
    let Apdu::Aarq(a) = vector("gb-aarq-ciphered") else { panic!() };
    assert_eq!(system_title(&a.calling_ap_title), Some(unhex("4D4D4D0000BC614E").try_into().unwrap()));
    assert!(a.application_context.ciphered());
    let c = a.user_information.unwrap();
    let c = c.ciphered().unwrap();
    assert_eq!((c.security_control.0, c.invocation_counter), (0x30, 0x01234567));
}

#[test]
fn malformed_input_has_codes_and_offsets() {
    let cases: &[(&str, &str, usize)] = &[
        ("", "apdu_truncated", 0),
        ("ff00", "apdu_unknown_tag", 0),
        ("c004c100000001", "apdu_bad_choice", 1),
        ("c501c1", "apdu_truncated", 3),
        // BER: indefinite length, a length over the input, a high tag number
        ("6080", "apdu_bad_length", 1),
        ("6205800100", "apdu_bad_length", 1),
        ("6203800500", "apdu_bad_length", 3),
        ("62038101ff", "apdu_ber_element", 2),
        ("62031f0100", "apdu_ber_element", 2),
        // AARQ without its application-context-name; elements out of order; repeated
        ("6000", "apdu_missing_element", 2),
        ("600f8a020780a109060760857405080101", "apdu_ber_element", 6),
        ("6016a109060760857405080101a109060760857405080101", "apdu_ber_element", 13),
        ("601aa1090607608574050801018a020780a109060760857405080101", "apdu_ber_element", 17),
        // an unknown application context / mechanism
        ("600ba109060760857405080901", "apdu_bad_value", 4),
        // an RLRQ inside an RLRQ's user-information (nesting)
        ("6206be0404026200", "apdu_bad_user_information", 6),
        // the conformance block's BER header
        ("01000000065f1f0300007e1f04b0", "apdu_bad_value", 5),
        // an OPTIONAL flag of 2 (dlms-0189)
        ("0102030405", "apdu_bad_value", 1),
        // data-notification date-time of 5 octets
        ("0f00000001050102030405", "apdu_bad_value", 5),
        // a count larger than the input
        ("c403c1ff", "apdu_bad_length", 3),
        ("c403c18401000000", "apdu_bad_length", 3),
        ("c403c185", "apdu_bad_length", 3),
        // a Data item inside the APDU: the A-XDR stage's code, offset in the APDU
        ("c401c100ee", "axdr_unknown_tag", 4),
        ("d80300", "apdu_bad_choice", 1),
        ("d80107", "apdu_bad_choice", 2),
        ("0e140000", "apdu_bad_choice", 1),
    ];
    for (hex, code, offset) in cases {
        let e = decode_apdu(&unhex(hex)).unwrap_err();
        assert_eq!((e.code(), e.offset()), (*code, Some(*offset)), "{hex}: {e}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn nesting_bombs_fail_without_panic() {
    // 10 000 nested arrays in a data-notification body
    let mut b = unhex("0f0000000100");
    b.extend(std::iter::repeat_n([0x01, 0x01], 10_000).flatten());
    b.push(0x00);
    assert!(decode_apdu(&b).unwrap_err().code().starts_with("axdr_"));
    // AARQs in user-information in AARQs: refused at the first level
    let mut a = unhex("6200");
    for _ in 0..200 {
        let mut outer = vec![0x04];
        outer.push(a.len() as u8);
        outer.extend(&a);
        let mut ui = vec![0xBE, outer.len() as u8];
        ui.extend(outer);
        a = vec![0x62, ui.len() as u8];
        a.extend(ui);
        if a.len() > 120 {
            break;
        }
    }
    assert_eq!(decode_apdu(&a).unwrap_err().code(), "apdu_bad_user_information");
}

#[test]
fn invoke_id_bits() {
    let i = InvokeIdAndPriority::new(5, true, false);
    assert_eq!((i.0, i.invoke_id(), i.confirmed(), i.high_priority()), (0x45, 5, true, false));
    // amshan reads 40000000 reversed; the Green Book: invoke-id 0, confirmed
    let l = LongInvokeIdAndPriority(0x4000_0000);
    assert_eq!((l.invoke_id(), l.confirmed(), l.high_priority(), l.self_descriptive(), l.break_on_error()), (0, true, false, false, false));
    let l = LongInvokeIdAndPriority(0xB012_3456);
    assert_eq!((l.invoke_id(), l.confirmed(), l.high_priority(), l.self_descriptive(), l.break_on_error()), (0x123456, false, true, true, true));
}

// ---- round trips of generated APDUs ----

// (generators: tests/dlms_gen)

fn any_apdu() -> BoxedStrategy<Apdu> {
    prop_oneof![
        get_apdus().boxed(),
        set_apdus().boxed(),
        action_apdus().boxed(),
        notification_apdus().boxed(),
        sn_apdus().boxed(),
        initiate_apdus().boxed(),
        acse_apdus().boxed()
    ]
    .boxed()
}

/// decode(encode(x)) == x for generated APDUs of every type (a thread with a larger stack: the
/// strategies are deep in a debug build).
#[test]
fn generated_apdus_round_trip() {
    let run = || {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
        runner
            .run(&any_apdu(), |a| {
                let bytes = encode(&a);
                let back = decode_apdu(&bytes)
                    .map_err(|e| TestCaseError::fail(format!("{e} ({}) at {:?}", e.code(), e.offset())))?;
                prop_assert_eq!(&back, &a);
                prop_assert_eq!(encode(&back), bytes);
                Ok(())
            })
            .unwrap();
    };
    std::thread::Builder::new().stack_size(64 << 20).spawn(run).unwrap().join().unwrap();
}

proptest! {

    #[test]
    fn arbitrary_bytes_never_panic_and_reencode_stably(b in proptest::collection::vec(any::<u8>(), 0..64), tag in prop_oneof![Just(0x60u8), Just(0x61), Just(0x62), Just(0xC0), Just(0xC1), Just(0xC3), Just(0xC4), Just(0xC5), Just(0xC7), Just(0x01), Just(0x08), Just(0x0F), Just(0x05), Just(0x0C), Just(0x18), Just(0xE0)]) {
        let input = [&[tag][..], &b].concat();
        if let Ok(a) = decode_apdu(&input) {
            let again = encode(&a);
            prop_assert_eq!(decode_apdu(&again).ok(), Some(a));
        }
    }
}

/// Fuzz finding (fuzz/artifacts/dlms_apdu/): a ciphered APDU whose length is sent in a longer
/// form than needed (`81 06`) re-encodes in the shortest form; decoding that gives the same
/// APDU but for where its payload starts.
#[test]
fn ciphered_length_in_long_form_reencodes_short() {
    let a = decode_apdu(&unhex("c88106000001 2178fa".replace(' ', "").as_str())).unwrap();
    let bytes = encode(&a);
    assert_eq!(bytes, unhex("c806000001 2178fa".replace(' ', "").as_str()));
    let (Apdu::Ciphered(x), Apdu::Ciphered(mut y)) = (a, decode_apdu(&bytes).unwrap()) else { panic!() };
    assert_eq!((x.payload_offset, y.payload_offset), (8, 7));
    y.payload_offset = 8;
    assert_eq!(x, y);
}
