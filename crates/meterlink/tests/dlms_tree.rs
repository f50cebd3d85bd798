//! The APDU tree (`dlms::apdu::tree`): `from_tree(to_tree(x)) == x` for generated APDUs of
//! every type and CHOICE alternative (ciphered ones too); the public APDU vectors of
//! `tests/vectors/dlms_apdu.json` rebuilt byte-exact through their trees; field layout and
//! names on known APDUs; errors with the field's path.

use meterlink::dlms::apdu::tree::{data_from_tree, parse_iso_datetime, Node, TreeError};
use meterlink::dlms::apdu::*;
use meterlink::dlms::axdr::{Data, TypeDescription};
use meterlink::dlms::cosem::DateTime;
use meterlink::dlms::security::{CipheredApdu, GeneralCiphering, KeyInfo, SecurityControl};
use proptest::prelude::*;

mod dlms_gen;
use dlms_gen::*;
use serde_json::Value as Json;

const VECTORS: &str = include_str!("vectors/dlms_apdu.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn rows() -> Vec<Json> {
    let v: Json = serde_json::from_str(VECTORS).unwrap();
    let mut out = v["decode"].as_array().unwrap().clone();
    out.extend(v["ciphered"].as_array().unwrap().iter().cloned());
    out
}

fn vector(id: &str) -> Apdu {
    let row = rows().into_iter().find(|r| r["id"] == id).unwrap();
    decode_apdu(&unhex(row["hex"].as_str().unwrap())).unwrap()
}

fn text(n: &Node) -> &str {
    match n {
        Node::Text(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

fn field<'a>(n: &'a Node, path: &str) -> &'a Node {
    path.split('.').fold(n, |n, k| n.get(k).unwrap_or_else(|| panic!("no {k} in {n:?}")))
}

#[test]
fn every_vector_rebuilds_byte_exact_through_its_tree() {
    let rows = rows();
    assert_eq!(rows.len(), 44);
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let bytes = unhex(row["hex"].as_str().unwrap());
        let apdu = decode_apdu(&bytes).unwrap();
        let tree = apdu.to_tree();
        assert_eq!(text(field(&tree, "apdu_type")), row["type"].as_str().unwrap(), "{id}");
        if let Some(c) = row["choice"].as_str() {
            assert_eq!(text(field(&tree, "choice")), c, "{id}");
        }
        let back = Apdu::from_tree(&tree).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(back, apdu, "{id}");
        assert_eq!(encode_apdu_to_vec(&back).unwrap(), bytes, "{id}");
    }
}

/// Green Book Annex C's AARQ with a glo-initiate-request (system title 4D4D4D0000BC614E,
/// LLS password "12345678", invocation counter 01234567).
#[test]
fn ciphered_aarq_fields_by_name() {
    let t = vector("gb-aarq-ciphered").to_tree();
    assert_eq!(text(field(&t, "application_context")), "logical-name-referencing-with-ciphering");
    assert_eq!(text(field(&t, "calling_ap_title")), "4d4d4d0000bc614e");
    assert_eq!(text(field(&t, "mechanism_name")), "low");
    assert_eq!(text(field(&t, "sender_acse_requirements")), "0780");
    assert_eq!(field(&t, "calling_authentication_value.tag"), &Node::Int(0x80));
    assert_eq!(text(field(&t, "calling_authentication_value.content")), "3132333435363738");
    assert_eq!(text(field(&t, "user_information.apdu_type")), "glo-initiate-request");
    assert_eq!(field(&t, "user_information.security_control"), &Node::Int(0x30));
    assert_eq!(field(&t, "user_information.invocation_counter"), &Node::Int(0x0123_4567));
    assert_eq!(field(&t, "user_information.system_title"), &Node::Null);
}

/// dlms-cosem's AARE (dlms-0006): accepted, initiate-response with conformance bits by name.
#[test]
fn aare_and_initiate_response_fields() {
    let t = vector("dlms-0006").to_tree();
    assert_eq!(text(field(&t, "result")), "accepted");
    assert_eq!(text(field(&t, "result_source_diagnostic.acse_service_user")), "null");
    assert_eq!(text(field(&t, "user_information.apdu_type")), "initiate-response");
    assert_eq!(field(&t, "user_information.dlms_version"), &Node::Int(6));
    assert_eq!(field(&t, "user_information.max_pdu_size"), &Node::Int(0x01F4));
    assert_eq!(field(&t, "user_information.vaa_name"), &Node::Int(7));
    let Node::List(names) = field(&t, "user_information.conformance") else { panic!() };
    let names: Vec<&str> = names.iter().map(text).collect();
    assert_eq!(names, Conformance(0x00501F).names());
    assert!(names.contains(&"get") && names.contains(&"action") && names.contains(&"selective-access"));
}

/// gosem's get-request for the clock's time (class 8, 0.0.1.0.0.255, attribute 3).
#[test]
fn get_request_fields() {
    let t = vector("gosem-get-clock").to_tree();
    assert_eq!(text(field(&t, "choice")), "get-request-normal");
    assert_eq!(field(&t, "invoke_id"), &Node::Int(1));
    assert_eq!(text(field(&t, "priority")), "high");
    assert_eq!(text(field(&t, "service_class")), "confirmed");
    assert_eq!(field(&t, "attribute.class_id"), &Node::Int(8));
    assert_eq!(text(field(&t, "attribute.instance")), "0.0.1.0.0.255");
    assert_eq!(field(&t, "attribute.attribute_id"), &Node::Int(3));
    assert_eq!(field(&t, "access"), &Node::Null);
    let t = vector("gosem-get-dar").to_tree();
    assert_eq!(text(field(&t, "result.data_access_result")), "temporary-failure");
}

fn map(fields: &[(&str, Node)]) -> Node {
    Node::Map(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn t(s: &str) -> Node {
    Node::Text(s.into())
}

/// A hand-written tree (names, ISO date-time, A-XDR tree values) builds the bytes the
/// standard's layout gives.
#[test]
fn hand_written_trees_encode() {
    let get = map(&[
        ("apdu_type", t("get-request")),
        ("choice", t("get-request-normal")),
        ("invoke_id", Node::Int(1)),
        ("priority", t("high")),
        ("attribute", map(&[("class_id", Node::Int(8)), ("instance", t("0.0.1.0.0.255")), ("attribute_id", Node::Int(2))])),
    ]);
    // source: the same bytes as gosem-get-clock but attribute 2 (IEC 62056-5-3 get-request-normal)
    assert_eq!(encode_apdu_to_vec(&Apdu::from_tree(&get).unwrap()).unwrap(), unhex("c001c100080000010000ff0200"));
    let value = map(&[("type", t("long-unsigned")), ("value", Node::Int(60))]);
    let push = map(&[
        ("apdu_type", t("data-notification")),
        ("invoke_id", Node::Int(1)),
        ("date_time", t("2017-01-01T01:00:00")),
        ("body", map(&[("type", t("structure")), ("value", Node::List(vec![value]))])),
    ]);
    let bytes = encode_apdu_to_vec(&Apdu::from_tree(&push).unwrap()).unwrap();
    assert_eq!(bytes, unhex("0f000000010c07e10101ff010000ff8000ff0201120 03c".replace(' ', "").as_str()));
}

#[test]
fn iso_datetime_deviation_is_the_offset_negated() {
    // +01:00 is deviation -60 (FFC4), as the Blue Book 4.1.6.1 defines it.
    let d = parse_iso_datetime("2020-01-06T00:03:00+01:00").unwrap();
    assert_eq!(d, DateTime(unhex("07e40106ff000300ffffc4ff").try_into().unwrap()));
    assert_eq!(d.to_iso().as_deref(), Some("2020-01-06T00:03:00+01:00"));
    assert_eq!(parse_iso_datetime("2020-01-06T00:03:00Z").unwrap().deviation(), Some(0));
    assert_eq!(parse_iso_datetime("2020-13-06T00:03:00"), None);
    assert_eq!(parse_iso_datetime("2020-01-06 00:03"), None);
}

#[test]
fn data_trees_of_decode_data() {
    let d = data_from_tree(&map(&[("type", t("bit-string")), ("value", t("a0")), ("bits", Node::Int(3))]), "").unwrap();
    assert_eq!(d, Data::BitString { bits: 3, bytes: vec![0xA0] });
    let ca = map(&[
        ("type", t("compact-array")),
        ("value", Node::List(vec![map(&[("type", t("long-unsigned")), ("value", Node::Int(5))])])),
    ]);
    let d = data_from_tree(&ca, "").unwrap();
    assert_eq!(d, Data::CompactArray { description: TypeDescription::Simple(18), values: vec![Data::LongUnsigned(5)] });
    let e = data_from_tree(&map(&[("type", t("unsigned")), ("value", Node::Int(256))]), "body").unwrap_err();
    assert_eq!(e, TreeError::OutOfRange { path: "body.value".into() });
    let e = data_from_tree(&map(&[("type", t("short")), ("value", Node::Int(1))]), "").unwrap_err();
    assert_eq!(e.to_string(), "APDU tree: type: unknown value \"short\"");
}

#[test]
fn errors_name_the_field() {
    let base = |extra: &[(&str, Node)]| {
        let mut f = vec![("apdu_type", t("get-request")), ("choice", t("get-request-with-list")), ("invoke_id", Node::Int(1))];
        f.extend(extra.iter().cloned());
        map(&f)
    };
    let good = map(&[("attribute", map(&[("class_id", Node::Int(3)), ("instance", t("1.0.1.8.0.255")), ("attribute_id", Node::Int(2))]))]);
    let bad = map(&[("attribute", map(&[("class_id", Node::Int(3)), ("instance", t("1.0.1.8")), ("attribute_id", Node::Int(2))]))]);
    let e = Apdu::from_tree(&base(&[("attributes", Node::List(vec![good.clone(), bad]))])).unwrap_err();
    assert_eq!(e, TreeError::Unknown { path: "attributes[1].attribute.instance".into(), value: "1.0.1.8".into() });
    let e = Apdu::from_tree(&base(&[])).unwrap_err();
    assert_eq!(e, TreeError::Missing { path: "attributes".into() });
    assert_eq!(e.to_string(), "APDU tree: missing field attributes");
    let e = Apdu::from_tree(&base(&[("attributes", good.clone())])).unwrap_err();
    assert_eq!(e, TreeError::WrongType { path: "attributes".into(), expected: "a list" });
    let mut m = base(&[("attributes", Node::List(vec![]))]);
    if let Node::Map(f) = &mut m {
        f[2].1 = Node::Int(16);
    }
    assert_eq!(Apdu::from_tree(&m).unwrap_err(), TreeError::OutOfRange { path: "invoke_id".into() });
    let e = Apdu::from_tree(&map(&[("apdu_type", t("get-thing"))])).unwrap_err();
    assert_eq!(e, TreeError::Unknown { path: "apdu_type".into(), value: "get-thing".into() });
    let e = Apdu::from_tree(&map(&[("apdu_type", t("get-request")), ("choice", t("get-request-later")), ("invoke_id", Node::Int(1))])).unwrap_err();
    assert_eq!(e, TreeError::Unknown { path: "choice".into(), value: "get-request-later".into() });
    let e = Apdu::from_tree(&Node::List(vec![])).unwrap_err();
    assert_eq!(e, TreeError::WrongType { path: "the APDU".into(), expected: "a map" });
    let conf = map(&[("apdu_type", t("initiate-response")), ("conformance", Node::List(vec![t("get"), t("gett")])), ("max_pdu_size", Node::Int(512))]);
    assert_eq!(Apdu::from_tree(&conf).unwrap_err(), TreeError::Unknown { path: "conformance[1]".into(), value: "gett".into() });
}

// ---- generators (as tests/dlms_apdu.rs, plus ciphered APDUs) ----
// (generators: tests/dlms_gen)

fn ciphered_apdus() -> impl Strategy<Value = Apdu> {
    let tags: Vec<u8> = meterlink::dlms::security::CIPHERED_TAGS.iter().map(|c| c.tag).filter(|t| *t < 0xDB).collect();
    let key_info = proptest::option::of(prop_oneof![
        (0u8..2).prop_map(|key_id| KeyInfo::Identified { key_id }),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|d| KeyInfo::Wrapped { kek_id: 0, key_ciphered_data: d }),
        (proptest::collection::vec(any::<u8>(), 0..10), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(key_parameters, key_ciphered_data)| KeyInfo::Agreed { key_parameters, key_ciphered_data }),
    ]);
    let general = (list(any::<u8>()), proptest::collection::vec(any::<u8>(), 0..9), list(any::<u8>()), list(any::<u8>()), key_info).prop_map(
        |(transaction_id, recipient_system_title, date_time, other_information, key_info)| GeneralCiphering {
            transaction_id,
            recipient_system_title,
            date_time,
            other_information,
            key_info,
        },
    );
    let payload = proptest::collection::vec(any::<u8>(), 12..200);
    let sc = any::<u8>().prop_map(SecurityControl);
    let service = (proptest::sample::select(tags), sc.clone(), any::<u32>(), payload.clone())
        .prop_map(|(tag, sc, ic, payload)| (tag, None, sc, ic, payload, None));
    let title = proptest::option::of(any::<[u8; 8]>());
    let glo = (prop_oneof![Just(0xDBu8), Just(0xDC)], title.clone(), sc.clone(), any::<u32>(), payload.clone())
        .prop_map(|(tag, st, sc, ic, payload)| (tag, st, sc, ic, payload, None));
    let gen = (title, sc, any::<u32>(), payload, general).prop_map(|(st, sc, ic, payload, g)| (0xDD, st, sc, ic, payload, Some(g)));
    prop_oneof![service, glo, gen].prop_map(|(tag, system_title, security_control, invocation_counter, payload, general)| {
        let mut c = CipheredApdu { tag, system_title, security_control, invocation_counter, payload, payload_offset: 0, general };
        c.payload_offset = c.to_bytes().len() - c.payload.len();
        Apdu::Ciphered(c)
    })
}

fn any_apdu() -> BoxedStrategy<Apdu> {
    prop_oneof![
        get_apdus().boxed(),
        set_apdus().boxed(),
        action_apdus().boxed(),
        notification_apdus().boxed(),
        sn_apdus().boxed(),
        initiate_apdus().boxed(),
        acse_apdus().boxed(),
        ciphered_apdus().boxed(),
    ]
    .boxed()
}

/// from_tree(to_tree(x)) == x, and the bytes agree (a thread with a larger stack: the
/// strategies are deep in a debug build).
#[test]
fn generated_apdus_round_trip_through_their_trees() {
    let run = || {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
        runner
            .run(&any_apdu(), |a| {
                let back = Apdu::from_tree(&a.to_tree()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&back, &a);
                prop_assert_eq!(encode_apdu_to_vec(&back).unwrap(), encode_apdu_to_vec(&a).unwrap());
                Ok(())
            })
            .unwrap();
    };
    std::thread::Builder::new().stack_size(64 << 20).spawn(run).unwrap().join().unwrap();
}
