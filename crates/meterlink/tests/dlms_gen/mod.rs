//! proptest generators of typed APDUs, shared by `dlms_apdu.rs` (encode/decode round trips)
//! and `dlms_tree.rs` (tree round trips). Each test crate uses its own subset.
#![allow(dead_code)]

use meterlink::dlms::apdu::*;
use meterlink::dlms::axdr::Data;
use meterlink::dlms::cosem::DateTime;
use meterlink::dlms::Obis;
use proptest::prelude::*;

pub fn data_leaf() -> impl Strategy<Value = Data> {
    prop_oneof![
        Just(Data::NullData),
        any::<bool>().prop_map(Data::Boolean),
        any::<i32>().prop_map(Data::DoubleLong),
        any::<u32>().prop_map(Data::DoubleLongUnsigned),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Data::OctetString),
        proptest::collection::vec(0x20u8..0x7f, 0..10).prop_map(Data::VisibleString),
        any::<i8>().prop_map(Data::Integer),
        any::<i16>().prop_map(Data::Long),
        any::<u8>().prop_map(Data::Unsigned),
        any::<u16>().prop_map(Data::LongUnsigned),
        any::<i64>().prop_map(Data::Long64),
        any::<u64>().prop_map(Data::Long64Unsigned),
        any::<u8>().prop_map(Data::Enum),
        (-1e30f64..1e30).prop_map(Data::Float64),
        any::<[u8; 12]>().prop_map(|b| Data::DateTime(DateTime(b))),
    ]
}

pub fn data() -> impl Strategy<Value = Data> {
    data_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Data::Array),
            proptest::collection::vec(inner, 0..4).prop_map(Data::Structure),
        ]
    })
}

pub fn invoke() -> impl Strategy<Value = InvokeIdAndPriority> {
    any::<u8>().prop_map(InvokeIdAndPriority)
}

pub fn descriptor() -> impl Strategy<Value = CosemDescriptor> {
    (any::<u16>(), any::<[u8; 6]>(), any::<i8>()).prop_map(|(c, o, id)| CosemDescriptor { class_id: c, instance: Obis(o), id })
}

pub fn access() -> impl Strategy<Value = Option<SelectiveAccess>> {
    proptest::option::of((any::<u8>(), data()).prop_map(|(selector, parameters)| SelectiveAccess { selector, parameters }))
}

pub fn with_selection() -> impl Strategy<Value = AttributeWithSelection> {
    (descriptor(), access()).prop_map(|(attribute, access)| AttributeWithSelection { attribute, access })
}

pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

pub fn block_sa() -> impl Strategy<Value = DataBlockSa> {
    (any::<bool>(), any::<u32>(), bytes()).prop_map(|(last_block, block_number, raw_data)| DataBlockSa { last_block, block_number, raw_data })
}

pub fn dar() -> impl Strategy<Value = DataAccessResult> {
    any::<u8>().prop_map(DataAccessResult)
}

pub fn get_result() -> impl Strategy<Value = GetDataResult> {
    prop_oneof![data().prop_map(GetDataResult::Data), dar().prop_map(GetDataResult::Error)]
}

pub fn list<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Vec<T>> {
    proptest::collection::vec(s, 0..4)
}

pub fn get_apdus() -> impl Strategy<Value = Apdu> {
    prop_oneof![
        (invoke(), descriptor(), access()).prop_map(|(invoke, attribute, access)| GetRequest::Normal { invoke, attribute, access }),
        (invoke(), any::<u32>()).prop_map(|(invoke, block_number)| GetRequest::Next { invoke, block_number }),
        (invoke(), list(with_selection())).prop_map(|(invoke, attributes)| GetRequest::WithList { invoke, attributes }),
    ]
    .prop_map(Apdu::GetRequest)
    .boxed()
    .prop_union(
        prop_oneof![
            (invoke(), get_result()).prop_map(|(invoke, result)| GetResponse::Normal { invoke, result }),
            (invoke(), any::<bool>(), any::<u32>(), prop_oneof![bytes().prop_map(BlockResult::RawData), dar().prop_map(BlockResult::Error)])
                .prop_map(|(invoke, last_block, block_number, result)| GetResponse::WithDatablock {
                    invoke,
                    block: DataBlockG { last_block, block_number, result }
                }),
            (invoke(), list(get_result())).prop_map(|(invoke, results)| GetResponse::WithList { invoke, results }),
        ]
        .prop_map(Apdu::GetResponse)
        .boxed(),
    )
}

pub fn set_apdus() -> impl Strategy<Value = Apdu> {
    prop_oneof![
        (invoke(), descriptor(), access(), data()).prop_map(|(invoke, attribute, access, value)| SetRequest::Normal { invoke, attribute, access, value }),
        (invoke(), descriptor(), access(), block_sa()).prop_map(|(invoke, attribute, access, block)| SetRequest::WithFirstDatablock { invoke, attribute, access, block }),
        (invoke(), block_sa()).prop_map(|(invoke, block)| SetRequest::WithDatablock { invoke, block }),
        (invoke(), list(with_selection()), list(data())).prop_map(|(invoke, attributes, values)| SetRequest::WithList { invoke, attributes, values }),
        (invoke(), list(with_selection()), block_sa()).prop_map(|(invoke, attributes, block)| SetRequest::WithListAndFirstDatablock { invoke, attributes, block }),
    ]
    .prop_map(Apdu::SetRequest)
    .boxed()
    .prop_union(
        prop_oneof![
            (invoke(), dar()).prop_map(|(invoke, result)| SetResponse::Normal { invoke, result }),
            (invoke(), any::<u32>()).prop_map(|(invoke, block_number)| SetResponse::Datablock { invoke, block_number }),
            (invoke(), dar(), any::<u32>()).prop_map(|(invoke, result, block_number)| SetResponse::LastDatablock { invoke, result, block_number }),
            (invoke(), list(dar()), any::<u32>()).prop_map(|(invoke, results, block_number)| SetResponse::LastDatablockWithList { invoke, results, block_number }),
            (invoke(), list(dar())).prop_map(|(invoke, results)| SetResponse::WithList { invoke, results }),
        ]
        .prop_map(Apdu::SetResponse)
        .boxed(),
    )
}

pub fn action_item() -> impl Strategy<Value = ActionResponseItem> {
    (any::<u8>(), proptest::option::of(get_result())).prop_map(|(r, return_parameters)| ActionResponseItem { result: ActionResult(r), return_parameters })
}

pub fn action_apdus() -> impl Strategy<Value = Apdu> {
    prop_oneof![
        (invoke(), descriptor(), proptest::option::of(data())).prop_map(|(invoke, method, parameters)| ActionRequest::Normal { invoke, method, parameters }),
        (invoke(), any::<u32>()).prop_map(|(invoke, block_number)| ActionRequest::NextPblock { invoke, block_number }),
        (invoke(), list(descriptor()), list(data())).prop_map(|(invoke, methods, parameters)| ActionRequest::WithList { invoke, methods, parameters }),
        (invoke(), descriptor(), block_sa()).prop_map(|(invoke, method, block)| ActionRequest::WithFirstPblock { invoke, method, block }),
        (invoke(), list(descriptor()), block_sa()).prop_map(|(invoke, methods, block)| ActionRequest::WithListAndFirstPblock { invoke, methods, block }),
        (invoke(), block_sa()).prop_map(|(invoke, block)| ActionRequest::WithPblock { invoke, block }),
    ]
    .prop_map(Apdu::ActionRequest)
    .boxed()
    .prop_union(
        prop_oneof![
            (invoke(), action_item()).prop_map(|(invoke, response)| ActionResponse::Normal { invoke, response }),
            (invoke(), block_sa()).prop_map(|(invoke, block)| ActionResponse::WithPblock { invoke, block }),
            (invoke(), list(action_item())).prop_map(|(invoke, responses)| ActionResponse::WithList { invoke, responses }),
            (invoke(), any::<u32>()).prop_map(|(invoke, block_number)| ActionResponse::NextPblock { invoke, block_number }),
        ]
        .prop_map(Apdu::ActionResponse)
        .boxed(),
    )
}

pub fn datetime() -> impl Strategy<Value = DateTime> {
    any::<[u8; 12]>().prop_map(DateTime)
}

pub fn notification_apdus() -> impl Strategy<Value = Apdu> {
    let time = prop_oneof![
        Just(NotificationTime::Absent),
        datetime().prop_map(NotificationTime::DateTime),
        datetime().prop_map(NotificationTime::Tagged)
    ];
    let service_error = prop_oneof![
        Just(ExceptionServiceError::OperationNotPossible),
        Just(ExceptionServiceError::ServiceNotSupported),
        Just(ExceptionServiceError::OtherReason),
        Just(ExceptionServiceError::PduTooLong),
        Just(ExceptionServiceError::DecipheringError),
        any::<u32>().prop_map(ExceptionServiceError::InvocationCounterError),
    ];
    prop_oneof![
        (any::<u32>(), time, data()).prop_map(|(i, time, body)| Apdu::DataNotification(DataNotification { invoke: LongInvokeIdAndPriority(i), time, body })),
        (proptest::option::of(datetime()), descriptor(), data())
            .prop_map(|(time, attribute, value)| Apdu::EventNotificationRequest(EventNotificationRequest { time, attribute, value })),
        (1u8..=2, service_error).prop_map(|(state_error, service_error)| Apdu::ExceptionResponse(ExceptionResponse { state_error, service_error })),
        (1u8..=19, 0u8..=10, any::<u8>()).prop_map(|(service, kind, value)| Apdu::ConfirmedServiceError(ConfirmedServiceError { service, kind, value })),
        (any::<u8>(), any::<u16>(), any::<u16>(), bytes()).prop_map(|(block_control, block_number, block_number_ack, block_data)| {
            Apdu::GeneralBlockTransfer(GeneralBlockTransfer { block_control, block_number, block_number_ack, block_data })
        }),
    ]
}

pub fn variable() -> impl Strategy<Value = VariableAccess> {
    prop_oneof![
        any::<u16>().prop_map(VariableAccess::VariableName),
        (any::<u16>(), any::<u8>(), data()).prop_map(|(variable_name, selector, parameter)| VariableAccess::Parameterized { variable_name, selector, parameter }),
        any::<u16>().prop_map(VariableAccess::BlockNumber),
        (any::<bool>(), any::<u16>(), bytes()).prop_map(|(last_block, block_number, raw_data)| VariableAccess::ReadDataBlock { last_block, block_number, raw_data }),
        (any::<bool>(), any::<u16>()).prop_map(|(last_block, block_number)| VariableAccess::WriteDataBlock { last_block, block_number }),
    ]
}

pub fn sn_apdus() -> impl Strategy<Value = Apdu> {
    let read_result = prop_oneof![
        data().prop_map(ReadResult::Data),
        dar().prop_map(ReadResult::Error),
        (any::<bool>(), any::<u16>(), bytes()).prop_map(|(last_block, block_number, raw_data)| ReadResult::DataBlock { last_block, block_number, raw_data }),
        any::<u16>().prop_map(ReadResult::BlockNumber),
    ];
    let write_result =
        prop_oneof![Just(WriteResult::Success), dar().prop_map(WriteResult::Error), any::<u16>().prop_map(WriteResult::BlockNumber)];
    let vd = || (list(variable()), list(data())).prop_map(|(variables, data)| VariablesAndData { variables, data });
    prop_oneof![
        list(variable()).prop_map(Apdu::ReadRequest),
        list(read_result).prop_map(Apdu::ReadResponse),
        vd().prop_map(Apdu::WriteRequest),
        list(write_result).prop_map(Apdu::WriteResponse),
        vd().prop_map(Apdu::UnconfirmedWriteRequest),
        (proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)), vd())
            .prop_map(|(time, report)| Apdu::InformationReportRequest(InformationReport { time, report })),
    ]
}

pub fn tlv() -> impl Strategy<Value = Option<BerTlv>> {
    proptest::option::of(
        (prop_oneof![Just(0x02u8), Just(0x04), Just(0x80), Just(0x81)], proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(tag, content)| BerTlv { tag, content }),
    )
}

pub fn bits() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of((0u8..8, proptest::collection::vec(any::<u8>(), 0..3)).prop_map(|(u, b)| [vec![u], b].concat()))
}

pub fn initiate_apdus() -> impl Strategy<Value = Apdu> {
    let conformance = (0u32..1 << 24).prop_map(Conformance);
    prop_oneof![
        (
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..33)),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<i8>()),
            any::<u8>(),
            conformance.clone(),
            any::<u16>()
        )
            .prop_map(|(dedicated_key, response_allowed, quality_of_service, dlms_version, conformance, max_pdu_size)| {
                Apdu::InitiateRequest(InitiateRequest { dedicated_key, response_allowed, quality_of_service, dlms_version, conformance, max_pdu_size })
            }),
        (proptest::option::of(any::<i8>()), any::<u8>(), conformance, any::<u16>(), any::<u16>()).prop_map(
            |(quality_of_service, dlms_version, conformance, max_pdu_size, vaa_name)| {
                Apdu::InitiateResponse(InitiateResponse { quality_of_service, dlms_version, conformance, max_pdu_size, vaa_name })
            }
        ),
    ]
}

pub fn user_information() -> impl Strategy<Value = Option<Box<Apdu>>> {
    proptest::option::of(
        prop_oneof![initiate_apdus(), (1u8..=19, 0u8..=10, any::<u8>()).prop_map(|(service, kind, value)| {
            Apdu::ConfirmedServiceError(ConfirmedServiceError { service, kind, value })
        })]
        .prop_map(Box::new),
    )
}

pub fn acse_apdus() -> impl Strategy<Value = Apdu> {
    let aarq = (
        (bits(), any::<u8>(), tlv(), tlv(), tlv(), tlv()),
        (tlv(), tlv(), tlv(), tlv(), bits(), proptest::option::of(any::<u8>())),
        (tlv(), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)), user_information()),
    )
        .prop_map(|((pv, ctx, a2, a3, a4, a5), (a6, a7, a8, a9, req, mech), (auth, info, user))| {
            Apdu::Aarq(Aarq {
                protocol_version: pv,
                application_context: ApplicationContextName(ctx),
                called_ap_title: a2,
                called_ae_qualifier: a3,
                called_ap_invocation_id: a4,
                called_ae_invocation_id: a5,
                calling_ap_title: a6,
                calling_ae_qualifier: a7,
                calling_ap_invocation_id: a8,
                calling_ae_invocation_id: a9,
                sender_acse_requirements: req,
                mechanism_name: mech.map(MechanismName),
                calling_authentication_value: auth,
                implementation_information: info,
                user_information: user,
            })
        });
    let diag = prop_oneof![any::<u8>().prop_map(ResultSourceDiagnostic::ServiceUser), any::<u8>().prop_map(ResultSourceDiagnostic::ServiceProvider)];
    let aare = (
        (bits(), any::<u8>(), any::<u8>(), diag, tlv(), tlv()),
        (tlv(), tlv(), bits(), proptest::option::of(any::<u8>()), tlv()),
        (proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)), user_information()),
    )
        .prop_map(|((pv, ctx, result, diagnostic, a4, a5), (a6, a7, req, mech, auth), (info, user))| {
            Apdu::Aare(Aare {
                protocol_version: pv,
                application_context: ApplicationContextName(ctx),
                result,
                diagnostic,
                responding_ap_title: a4,
                responding_ae_qualifier: a5,
                responding_ap_invocation_id: a6,
                responding_ae_invocation_id: a7,
                responder_acse_requirements: req,
                mechanism_name: mech.map(MechanismName),
                responding_authentication_value: auth,
                implementation_information: info,
                user_information: user,
            })
        });
    let release = || (proptest::option::of(any::<u8>()), user_information()).prop_map(|(reason, user_information)| Release { reason, user_information });
    prop_oneof![aarq, aare, release().prop_map(Apdu::Rlrq), release().prop_map(Apdu::Rlre)]
}
