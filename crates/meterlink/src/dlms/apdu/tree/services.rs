//! Trees of the xDLMS service APDUs (Green Book 9.5, the xDLMS ASN.1): LN get/set/action,
//! notifications, exception and confirmed-service errors, SN services, general-block-transfer.

use super::super::*;
use super::{as_bytes, as_int, hex, indexed, named, one, opt, Node, Obj, Out, TreeError};

/// The fields of an LN, notification, error or SN service APDU.
pub(super) fn services_to(a: &Apdu, m: &mut Out) {
    match a {
        Apdu::GetRequest(x) => get_request_to(x, m),
        Apdu::GetResponse(x) => get_response_to(x, m),
        Apdu::SetRequest(x) => set_request_to(x, m),
        Apdu::SetResponse(x) => set_response_to(x, m),
        Apdu::ActionRequest(x) => action_request_to(x, m),
        Apdu::ActionResponse(x) => action_response_to(x, m),
        _ => other_to(a, m),
    }
}

fn other_to(a: &Apdu, m: &mut Out) {
    match a {
        Apdu::DataNotification(n) => notification_to(n, m),
        Apdu::EventNotificationRequest(e) => {
            m.put("time", opt(e.time, |t| hex(&t.0))).put("attribute", attribute_to(&e.attribute));
            m.put("value", Node::Data(e.value.clone()));
        }
        Apdu::ExceptionResponse(e) => exception_to(e, m),
        Apdu::ConfirmedServiceError(e) => {
            m.put("service", indexed(CONFIRMED_SERVICES, e.service)).put("error", indexed(SERVICE_ERRORS, e.kind));
            m.int("value", e.value);
        }
        Apdu::GeneralBlockTransfer(g) => {
            let mut c = Out::empty();
            c.put("last_block", Node::Bool(g.last_block())).put("streaming", Node::Bool(g.streaming()));
            c.int("window", g.window());
            m.put("block_control", c.node()).int("block_number", g.block_number).int("block_number_ack", g.block_number_ack);
            m.put("block_data", hex(&g.block_data));
        }
        _ => sn_to(a, m),
    }
}

// ---- shared pieces ----

/// The one-octet invoke-id-and-priority (reserved bits 4–5 only when set).
fn invoke_to(i: InvokeIdAndPriority, m: &mut Out) {
    m.int("invoke_id", i.invoke_id()).put("priority", Node::Text(if i.high_priority() { "high" } else { "normal" }.into()));
    m.put("service_class", Node::Text(if i.confirmed() { "confirmed" } else { "unconfirmed" }.into()));
    if i.0 & 0x30 != 0 {
        m.int("reserved_bits", (i.0 >> 4) & 3);
    }
}

fn priority(o: &Obj) -> Result<bool, TreeError> {
    match o.opt("priority") {
        None => Ok(false),
        Some(Node::Text(s)) if s == "high" => Ok(true),
        Some(Node::Text(s)) if s == "normal" => Ok(false),
        Some(n) => Err(bad_text(n, o.at("priority"), "'high' or 'normal'")),
    }
}

fn confirmed(o: &Obj, default: bool) -> Result<bool, TreeError> {
    match o.opt("service_class") {
        None => Ok(default),
        Some(Node::Text(s)) if s == "confirmed" => Ok(true),
        Some(Node::Text(s)) if s == "unconfirmed" => Ok(false),
        Some(n) => Err(bad_text(n, o.at("service_class"), "'confirmed' or 'unconfirmed'")),
    }
}

fn bad_text(n: &Node, path: String, expected: &'static str) -> TreeError {
    match n {
        Node::Text(s) => TreeError::Unknown { path, value: s.clone() },
        _ => TreeError::WrongType { path, expected },
    }
}

/// invoke_id (0–15), priority, service_class (default confirmed), reserved_bits.
fn invoke_from(o: &Obj) -> Result<InvokeIdAndPriority, TreeError> {
    let id: u8 = o.int("invoke_id")?;
    if id > 15 {
        return Err(TreeError::OutOfRange { path: o.at("invoke_id") });
    }
    let reserved: u8 = o.int_or("reserved_bits", 0)?;
    if reserved > 3 {
        return Err(TreeError::OutOfRange { path: o.at("reserved_bits") });
    }
    let i = InvokeIdAndPriority::new(id, confirmed(o, true)?, priority(o)?);
    Ok(InvokeIdAndPriority(i.0 | reserved << 4))
}

fn descriptor_to(d: &CosemDescriptor, id: &str) -> Node {
    let mut m = Out::empty();
    m.int("class_id", d.class_id).put("instance", Node::Text(d.instance.to_string())).int(id, d.id);
    m.node()
}

fn attribute_to(d: &CosemDescriptor) -> Node {
    descriptor_to(d, "attribute_id")
}

fn method_to(d: &CosemDescriptor) -> Node {
    descriptor_to(d, "method_id")
}

fn descriptor_from(n: &Node, path: &str, id: &str) -> Result<CosemDescriptor, TreeError> {
    let o = Obj::of(n, path)?;
    Ok(CosemDescriptor { class_id: o.int("class_id")?, instance: o.obis("instance")?, id: o.int(id)? })
}

fn attribute_from(n: &Node, path: &str) -> Result<CosemDescriptor, TreeError> {
    descriptor_from(n, path, "attribute_id")
}

fn method_from(n: &Node, path: &str) -> Result<CosemDescriptor, TreeError> {
    descriptor_from(n, path, "method_id")
}

fn access_to(a: &Option<SelectiveAccess>) -> Node {
    opt(a.as_ref(), |s| {
        let mut m = Out::empty();
        m.int("selector", s.selector).put("parameters", Node::Data(s.parameters.clone()));
        m.node()
    })
}

fn access_from(o: &Obj) -> Result<Option<SelectiveAccess>, TreeError> {
    if !o.has("access") {
        return Ok(None);
    }
    let a = o.obj("access")?;
    Ok(Some(SelectiveAccess { selector: a.int("selector")?, parameters: a.data("parameters")? }))
}

fn with_selection_to(a: &AttributeWithSelection) -> Node {
    let mut m = Out::empty();
    m.put("attribute", attribute_to(&a.attribute)).put("access", access_to(&a.access));
    m.node()
}

fn with_selection_from(n: &Node, path: &str) -> Result<AttributeWithSelection, TreeError> {
    let o = Obj::of(n, path)?;
    Ok(AttributeWithSelection { attribute: attribute_from(o.get("attribute")?, &o.at("attribute"))?, access: access_from(&o)? })
}

fn block_sa_to(b: &DataBlockSa) -> Node {
    let mut m = Out::empty();
    m.put("last_block", Node::Bool(b.last_block)).int("block_number", b.block_number).put("raw_data", hex(&b.raw_data));
    m.node()
}

fn block_sa_from(o: &Obj) -> Result<DataBlockSa, TreeError> {
    let b = o.obj("block")?;
    Ok(DataBlockSa { last_block: b.bool("last_block")?, block_number: b.int("block_number")?, raw_data: b.bytes("raw_data")? })
}

fn dar_to(d: DataAccessResult) -> Node {
    named(DATA_ACCESS_RESULTS, d.0)
}

fn dar_from(n: &Node, path: &str) -> Result<DataAccessResult, TreeError> {
    Ok(DataAccessResult(super::as_named(n, path, |s| lookup(DATA_ACCESS_RESULTS, s))?))
}

fn lookup(table: &[(u8, &str)], s: &str) -> Option<u8> {
    table.iter().find(|(_, n)| *n == s).map(|(v, _)| *v)
}

/// Get-Data-Result: `{"data": Data}` or `{"data_access_result": name}`.
fn get_result_to(r: &GetDataResult) -> Node {
    match r {
        GetDataResult::Data(d) => one("data", Node::Data(d.clone())),
        GetDataResult::Error(e) => one("data_access_result", dar_to(*e)),
    }
}

fn get_result_from(n: &Node, path: &str) -> Result<GetDataResult, TreeError> {
    let o = Obj::of(n, path)?;
    match o.choice()? {
        ("data", _) => Ok(GetDataResult::Data(o.data("data")?)),
        ("data_access_result", v) => Ok(GetDataResult::Error(dar_from(v, &o.at("data_access_result"))?)),
        (k, _) => Err(TreeError::Unknown { path: super::root(path), value: k.into() }),
    }
}

fn data_list(v: &[Data]) -> Node {
    Node::List(v.iter().cloned().map(Node::Data).collect())
}

fn data_from(n: &Node, path: &str) -> Result<Data, TreeError> {
    super::data_from_tree(n, path)
}

fn list_to<T>(v: &[T], f: impl Fn(&T) -> Node) -> Node {
    Node::List(v.iter().map(f).collect())
}

// ---- get ----

fn get_request_to(x: &GetRequest, m: &mut Out) {
    invoke_to(x.invoke(), m);
    match x {
        GetRequest::Normal { attribute, access, .. } => m.put("attribute", attribute_to(attribute)).put("access", access_to(access)),
        GetRequest::Next { block_number, .. } => m.int("block_number", *block_number),
        GetRequest::WithList { attributes, .. } => m.put("attributes", list_to(attributes, with_selection_to)),
    };
}

fn get_request_from(c: &str, o: &Obj) -> Result<GetRequest, TreeError> {
    let invoke = invoke_from(o)?;
    Ok(match c {
        "get-request-normal" => {
            GetRequest::Normal { invoke, attribute: attribute_from(o.get("attribute")?, &o.at("attribute"))?, access: access_from(o)? }
        }
        "get-request-next" => GetRequest::Next { invoke, block_number: o.int("block_number")? },
        "get-request-with-list" => GetRequest::WithList { invoke, attributes: o.list("attributes", with_selection_from)? },
        _ => return Err(unknown_choice(o, c)),
    })
}

fn unknown_choice(o: &Obj, c: &str) -> TreeError {
    TreeError::Unknown { path: o.at("choice"), value: c.into() }
}

fn get_response_to(x: &GetResponse, m: &mut Out) {
    invoke_to(x.invoke(), m);
    match x {
        GetResponse::Normal { result, .. } => m.put("result", get_result_to(result)),
        GetResponse::WithDatablock { block, .. } => {
            let mut b = Out::empty();
            b.put("last_block", Node::Bool(block.last_block)).int("block_number", block.block_number);
            match &block.result {
                BlockResult::RawData(d) => b.put("raw_data", hex(d)),
                BlockResult::Error(e) => b.put("data_access_result", dar_to(*e)),
            };
            m.put("block", b.node())
        }
        GetResponse::WithList { results, .. } => m.put("results", list_to(results, get_result_to)),
    };
}

fn get_response_from(c: &str, o: &Obj) -> Result<GetResponse, TreeError> {
    let invoke = invoke_from(o)?;
    Ok(match c {
        "get-response-normal" => GetResponse::Normal { invoke, result: get_result_from(o.get("result")?, &o.at("result"))? },
        "get-response-with-datablock" => {
            let b = o.obj("block")?;
            let result = if b.has("data_access_result") {
                BlockResult::Error(dar_from(b.get("data_access_result")?, &b.at("data_access_result"))?)
            } else {
                BlockResult::RawData(b.bytes("raw_data")?)
            };
            let block = DataBlockG { last_block: b.bool("last_block")?, block_number: b.int("block_number")?, result };
            GetResponse::WithDatablock { invoke, block }
        }
        "get-response-with-list" => GetResponse::WithList { invoke, results: o.list("results", get_result_from)? },
        _ => return Err(unknown_choice(o, c)),
    })
}

// ---- set ----

fn set_request_to(x: &SetRequest, m: &mut Out) {
    invoke_to(x.invoke(), m);
    match x {
        SetRequest::Normal { attribute, access, value, .. } => {
            m.put("attribute", attribute_to(attribute)).put("access", access_to(access)).put("value", Node::Data(value.clone()))
        }
        SetRequest::WithFirstDatablock { attribute, access, block, .. } => {
            m.put("attribute", attribute_to(attribute)).put("access", access_to(access)).put("block", block_sa_to(block))
        }
        SetRequest::WithDatablock { block, .. } => m.put("block", block_sa_to(block)),
        SetRequest::WithList { attributes, values, .. } => {
            m.put("attributes", list_to(attributes, with_selection_to)).put("values", data_list(values))
        }
        SetRequest::WithListAndFirstDatablock { attributes, block, .. } => {
            m.put("attributes", list_to(attributes, with_selection_to)).put("block", block_sa_to(block))
        }
    };
}

fn set_request_from(c: &str, o: &Obj) -> Result<SetRequest, TreeError> {
    let invoke = invoke_from(o)?;
    let attribute = || attribute_from(o.get("attribute")?, &o.at("attribute"));
    let attributes = || o.list("attributes", with_selection_from);
    Ok(match c {
        "set-request-normal" => SetRequest::Normal { invoke, attribute: attribute()?, access: access_from(o)?, value: o.data("value")? },
        "set-request-with-first-datablock" => {
            SetRequest::WithFirstDatablock { invoke, attribute: attribute()?, access: access_from(o)?, block: block_sa_from(o)? }
        }
        "set-request-with-datablock" => SetRequest::WithDatablock { invoke, block: block_sa_from(o)? },
        "set-request-with-list" => SetRequest::WithList { invoke, attributes: attributes()?, values: o.list("values", data_from)? },
        "set-request-with-list-and-first-datablock" => {
            SetRequest::WithListAndFirstDatablock { invoke, attributes: attributes()?, block: block_sa_from(o)? }
        }
        _ => return Err(unknown_choice(o, c)),
    })
}

fn set_response_to(x: &SetResponse, m: &mut Out) {
    invoke_to(x.invoke(), m);
    let results = |r: &[DataAccessResult]| list_to(r, |d| dar_to(*d));
    match x {
        SetResponse::Normal { result, .. } => m.put("result", dar_to(*result)),
        SetResponse::Datablock { block_number, .. } => m.int("block_number", *block_number),
        SetResponse::LastDatablock { result, block_number, .. } => m.put("result", dar_to(*result)).int("block_number", *block_number),
        SetResponse::LastDatablockWithList { results: r, block_number, .. } => {
            m.put("results", results(r)).int("block_number", *block_number)
        }
        SetResponse::WithList { results: r, .. } => m.put("results", results(r)),
    };
}

fn set_response_from(c: &str, o: &Obj) -> Result<SetResponse, TreeError> {
    let invoke = invoke_from(o)?;
    let result = || dar_from(o.get("result")?, &o.at("result"));
    let results = || o.list("results", dar_from);
    Ok(match c {
        "set-response-normal" => SetResponse::Normal { invoke, result: result()? },
        "set-response-datablock" => SetResponse::Datablock { invoke, block_number: o.int("block_number")? },
        "set-response-last-datablock" => SetResponse::LastDatablock { invoke, result: result()?, block_number: o.int("block_number")? },
        "set-response-last-datablock-with-list" => {
            SetResponse::LastDatablockWithList { invoke, results: results()?, block_number: o.int("block_number")? }
        }
        "set-response-with-list" => SetResponse::WithList { invoke, results: results()? },
        _ => return Err(unknown_choice(o, c)),
    })
}

// ---- action ----

fn action_request_to(x: &ActionRequest, m: &mut Out) {
    invoke_to(x.invoke(), m);
    let methods = |v: &[CosemDescriptor]| list_to(v, method_to);
    match x {
        ActionRequest::Normal { method, parameters, .. } => {
            m.put("method", method_to(method)).put("parameters", opt(parameters.clone(), Node::Data))
        }
        ActionRequest::NextPblock { block_number, .. } => m.int("block_number", *block_number),
        ActionRequest::WithList { methods: v, parameters, .. } => m.put("methods", methods(v)).put("parameters", data_list(parameters)),
        ActionRequest::WithFirstPblock { method, block, .. } => m.put("method", method_to(method)).put("block", block_sa_to(block)),
        ActionRequest::WithListAndFirstPblock { methods: v, block, .. } => m.put("methods", methods(v)).put("block", block_sa_to(block)),
        ActionRequest::WithPblock { block, .. } => m.put("block", block_sa_to(block)),
    };
}

fn action_request_from(c: &str, o: &Obj) -> Result<ActionRequest, TreeError> {
    let invoke = invoke_from(o)?;
    let method = || method_from(o.get("method")?, &o.at("method"));
    let methods = || o.list("methods", method_from);
    Ok(match c {
        "action-request-normal" => {
            let parameters = o.opt("parameters").map(|n| data_from(n, &o.at("parameters"))).transpose()?;
            ActionRequest::Normal { invoke, method: method()?, parameters }
        }
        "action-request-next-pblock" => ActionRequest::NextPblock { invoke, block_number: o.int("block_number")? },
        "action-request-with-list" => ActionRequest::WithList { invoke, methods: methods()?, parameters: o.list("parameters", data_from)? },
        "action-request-with-first-pblock" => ActionRequest::WithFirstPblock { invoke, method: method()?, block: block_sa_from(o)? },
        "action-request-with-list-and-first-pblock" => {
            ActionRequest::WithListAndFirstPblock { invoke, methods: methods()?, block: block_sa_from(o)? }
        }
        "action-request-with-pblock" => ActionRequest::WithPblock { invoke, block: block_sa_from(o)? },
        _ => return Err(unknown_choice(o, c)),
    })
}

fn action_item_to(r: &ActionResponseItem) -> Node {
    let mut m = Out::empty();
    m.put("result", named(ACTION_RESULTS, r.result.0)).put("return_parameters", opt(r.return_parameters.as_ref(), get_result_to));
    m.node()
}

fn action_item_from(n: &Node, path: &str) -> Result<ActionResponseItem, TreeError> {
    let o = Obj::of(n, path)?;
    let return_parameters = o.opt("return_parameters").map(|n| get_result_from(n, &o.at("return_parameters"))).transpose()?;
    Ok(ActionResponseItem { result: ActionResult(o.named("result", ACTION_RESULTS)?), return_parameters })
}

fn action_response_to(x: &ActionResponse, m: &mut Out) {
    invoke_to(x.invoke(), m);
    match x {
        ActionResponse::Normal { response, .. } => m.put("response", action_item_to(response)),
        ActionResponse::WithPblock { block, .. } => m.put("block", block_sa_to(block)),
        ActionResponse::WithList { responses, .. } => m.put("responses", list_to(responses, action_item_to)),
        ActionResponse::NextPblock { block_number, .. } => m.int("block_number", *block_number),
    };
}

fn action_response_from(c: &str, o: &Obj) -> Result<ActionResponse, TreeError> {
    let invoke = invoke_from(o)?;
    Ok(match c {
        "action-response-normal" => ActionResponse::Normal { invoke, response: action_item_from(o.get("response")?, &o.at("response"))? },
        "action-response-with-pblock" => ActionResponse::WithPblock { invoke, block: block_sa_from(o)? },
        "action-response-with-list" => ActionResponse::WithList { invoke, responses: o.list("responses", action_item_from)? },
        "action-response-next-pblock" => ActionResponse::NextPblock { invoke, block_number: o.int("block_number")? },
        _ => return Err(unknown_choice(o, c)),
    })
}

// ---- notifications, errors, block transfer ----

fn notification_to(n: &DataNotification, m: &mut Out) {
    let i = n.invoke;
    m.int("invoke_id", i.invoke_id()).put("priority", Node::Text(if i.high_priority() { "high" } else { "normal" }.into()));
    m.put("service_class", Node::Text(if i.confirmed() { "confirmed" } else { "unconfirmed" }.into()));
    m.put("self_descriptive", Node::Bool(i.self_descriptive())).put("break_on_error", Node::Bool(i.break_on_error()));
    if i.0 & 0x0F00_0000 != 0 {
        m.int("reserved_bits", (i.0 >> 24) & 0x0F);
    }
    m.put("date_time", opt(n.time.datetime(), |d| hex(&d.0)));
    if matches!(n.time, NotificationTime::Tagged(_)) {
        m.put("date_time_tagged", Node::Bool(true));
    }
    m.put("body", Node::Data(n.body.clone()));
}

fn notification_from(o: &Obj) -> Result<DataNotification, TreeError> {
    let id: u32 = o.int("invoke_id")?;
    let reserved: u32 = o.int_or("reserved_bits", 0)?;
    if id > 0x00FF_FFFF || reserved > 0x0F {
        return Err(TreeError::OutOfRange { path: o.at(if id > 0x00FF_FFFF { "invoke_id" } else { "reserved_bits" }) });
    }
    let bit = |b: bool, n: u32| (b as u32) << n;
    let flags = bit(o.opt_bool("self_descriptive")?.unwrap_or(false), 28)
        | bit(o.opt_bool("break_on_error")?.unwrap_or(false), 29)
        | bit(confirmed(o, false)?, 30)
        | bit(priority(o)?, 31);
    let time = match datetime_from(o, "date_time")? {
        None => NotificationTime::Absent,
        Some(d) if o.opt_bool("date_time_tagged")?.unwrap_or(false) => NotificationTime::Tagged(d),
        Some(d) => NotificationTime::DateTime(d),
    };
    Ok(DataNotification { invoke: LongInvokeIdAndPriority(id | reserved << 24 | flags), time, body: o.data("body")? })
}

/// An optional date-time field: 12 octets as hex, or ISO 8601 text.
fn datetime_from(o: &Obj, k: &str) -> Result<Option<DateTime>, TreeError> {
    let Some(n) = o.opt(k) else { return Ok(None) };
    if let Node::Text(s) = n {
        if s.contains(['-', ':']) {
            return super::parse_iso_datetime(s).map(Some).ok_or_else(|| TreeError::Unknown { path: o.at(k), value: s.clone() });
        }
    }
    let b = as_bytes(n, &o.at(k))?;
    DateTime::from_octets(&b).map(Some).ok_or(TreeError::OutOfRange { path: o.at(k) })
}

fn exception_to(e: &ExceptionResponse, m: &mut Out) {
    use ExceptionServiceError::*;
    m.put("state_error", Node::Text(e.state_error_name().into()));
    let name = match e.service_error {
        OperationNotPossible => "operation-not-possible",
        ServiceNotSupported => "service-not-supported",
        OtherReason => "other-reason",
        PduTooLong => "pdu-too-long",
        DecipheringError => "deciphering-error",
        InvocationCounterError(c) => {
            m.put("service_error", Node::Text("invocation-counter-error".into())).int("invocation_counter", c);
            return;
        }
    };
    m.put("service_error", Node::Text(name.into()));
}

fn exception_from(o: &Obj) -> Result<ExceptionResponse, TreeError> {
    use ExceptionServiceError::*;
    let state_error = o.indexed("state_error", &["", "service-not-allowed", "service-unknown"])?;
    if !(1..=2).contains(&state_error) {
        return Err(TreeError::OutOfRange { path: o.at("state_error") });
    }
    let service_error = match o.text("service_error")? {
        "operation-not-possible" => OperationNotPossible,
        "service-not-supported" => ServiceNotSupported,
        "other-reason" => OtherReason,
        "pdu-too-long" => PduTooLong,
        "deciphering-error" => DecipheringError,
        "invocation-counter-error" => InvocationCounterError(o.int("invocation_counter")?),
        other => return Err(TreeError::Unknown { path: o.at("service_error"), value: other.into() }),
    };
    Ok(ExceptionResponse { state_error, service_error })
}

fn confirmed_error_from(o: &Obj) -> Result<ConfirmedServiceError, TreeError> {
    let service = o.indexed("service", CONFIRMED_SERVICES)?;
    if service == 0 || service as usize >= CONFIRMED_SERVICES.len() {
        return Err(TreeError::OutOfRange { path: o.at("service") });
    }
    let kind = o.indexed("error", SERVICE_ERRORS)?;
    if kind as usize >= SERVICE_ERRORS.len() {
        return Err(TreeError::OutOfRange { path: o.at("error") });
    }
    Ok(ConfirmedServiceError { service, kind, value: o.int("value")? })
}

fn block_transfer_from(o: &Obj) -> Result<GeneralBlockTransfer, TreeError> {
    let c = o.obj("block_control")?;
    let window: u8 = c.int("window")?;
    if window > 0x3F {
        return Err(TreeError::OutOfRange { path: c.at("window") });
    }
    let block_control = (c.bool("last_block")? as u8) << 7 | (c.bool("streaming")? as u8) << 6 | window;
    Ok(GeneralBlockTransfer {
        block_control,
        block_number: o.int("block_number")?,
        block_number_ack: o.int("block_number_ack")?,
        block_data: o.bytes("block_data")?,
    })
}

// ---- SN services ----

fn sn_to(a: &Apdu, m: &mut Out) {
    match a {
        Apdu::ReadRequest(v) => m.put("variables", list_to(v, variable_to)),
        Apdu::ReadResponse(v) => m.put("results", list_to(v, read_result_to)),
        Apdu::WriteRequest(x) | Apdu::UnconfirmedWriteRequest(x) => vd_to(x, m),
        Apdu::WriteResponse(v) => m.put("results", list_to(v, write_result_to)),
        Apdu::InformationReportRequest(r) => vd_to(&r.report, m.put("current_time", opt(r.time.as_deref(), hex))),
        _ => m,
    };
}

fn vd_to<'m>(x: &VariablesAndData, m: &'m mut Out) -> &'m mut Out {
    m.put("variables", list_to(&x.variables, variable_to)).put("data", data_list(&x.data))
}

fn vd_from(o: &Obj) -> Result<VariablesAndData, TreeError> {
    Ok(VariablesAndData { variables: o.list("variables", variable_from)?, data: o.list("data", data_from)? })
}

fn last_block_to(last_block: bool, block_number: u16, raw: Option<&[u8]>) -> Node {
    let mut m = Out::empty();
    m.put("last_block", Node::Bool(last_block)).int("block_number", block_number);
    if let Some(r) = raw {
        m.put("raw_data", hex(r));
    }
    m.node()
}

fn variable_to(v: &VariableAccess) -> Node {
    match v {
        VariableAccess::VariableName(n) => one("variable_name", Node::Int((*n).into())),
        VariableAccess::Parameterized { variable_name, selector, parameter } => {
            let mut m = Out::empty();
            m.int("variable_name", *variable_name).int("selector", *selector).put("parameter", Node::Data(parameter.clone()));
            one("parameterized_access", m.node())
        }
        VariableAccess::BlockNumber(n) => one("block_number_access", Node::Int((*n).into())),
        VariableAccess::ReadDataBlock { last_block, block_number, raw_data } => {
            one("read_data_block_access", last_block_to(*last_block, *block_number, Some(raw_data)))
        }
        VariableAccess::WriteDataBlock { last_block, block_number } => {
            one("write_data_block_access", last_block_to(*last_block, *block_number, None))
        }
    }
}

fn variable_from(n: &Node, path: &str) -> Result<VariableAccess, TreeError> {
    let o = Obj::of(n, path)?;
    let (k, v) = o.choice()?;
    let at = o.at(k);
    Ok(match k {
        "variable_name" => VariableAccess::VariableName(as_int(v, &at)?),
        "block_number_access" => VariableAccess::BlockNumber(as_int(v, &at)?),
        "parameterized_access" => {
            let p = Obj::of(v, &at)?;
            VariableAccess::Parameterized { variable_name: p.int("variable_name")?, selector: p.int("selector")?, parameter: p.data("parameter")? }
        }
        "read_data_block_access" => {
            let p = Obj::of(v, &at)?;
            VariableAccess::ReadDataBlock { last_block: p.bool("last_block")?, block_number: p.int("block_number")?, raw_data: p.bytes("raw_data")? }
        }
        "write_data_block_access" => {
            let p = Obj::of(v, &at)?;
            VariableAccess::WriteDataBlock { last_block: p.bool("last_block")?, block_number: p.int("block_number")? }
        }
        _ => return Err(TreeError::Unknown { path: super::root(path), value: k.into() }),
    })
}

fn read_result_to(r: &ReadResult) -> Node {
    match r {
        ReadResult::Data(d) => one("data", Node::Data(d.clone())),
        ReadResult::Error(e) => one("data_access_result", dar_to(*e)),
        ReadResult::DataBlock { last_block, block_number, raw_data } => {
            one("data_block_result", last_block_to(*last_block, *block_number, Some(raw_data)))
        }
        ReadResult::BlockNumber(n) => one("block_number", Node::Int((*n).into())),
    }
}

fn read_result_from(n: &Node, path: &str) -> Result<ReadResult, TreeError> {
    let o = Obj::of(n, path)?;
    let (k, v) = o.choice()?;
    let at = o.at(k);
    Ok(match k {
        "data" => ReadResult::Data(data_from(v, &at)?),
        "data_access_result" => ReadResult::Error(dar_from(v, &at)?),
        "data_block_result" => {
            let p = Obj::of(v, &at)?;
            ReadResult::DataBlock { last_block: p.bool("last_block")?, block_number: p.int("block_number")?, raw_data: p.bytes("raw_data")? }
        }
        "block_number" => ReadResult::BlockNumber(as_int(v, &at)?),
        _ => return Err(TreeError::Unknown { path: super::root(path), value: k.into() }),
    })
}

fn write_result_to(r: &WriteResult) -> Node {
    match r {
        WriteResult::Success => one("success", Node::Bool(true)),
        WriteResult::Error(e) => one("data_access_result", dar_to(*e)),
        WriteResult::BlockNumber(n) => one("block_number", Node::Int((*n).into())),
    }
}

fn write_result_from(n: &Node, path: &str) -> Result<WriteResult, TreeError> {
    let o = Obj::of(n, path)?;
    let (k, v) = o.choice()?;
    let at = o.at(k);
    Ok(match k {
        "success" => WriteResult::Success,
        "data_access_result" => WriteResult::Error(dar_from(v, &at)?),
        "block_number" => WriteResult::BlockNumber(as_int(v, &at)?),
        _ => return Err(TreeError::Unknown { path: super::root(path), value: k.into() }),
    })
}

fn information_report_from(o: &Obj) -> Result<InformationReport, TreeError> {
    Ok(InformationReport { time: o.opt_bytes("current_time")?, report: vd_from(o)? })
}

// ---- dispatch ----

/// The service APDU named `t`, or None when `t` is not one of them.
pub(super) fn services_from(t: &str, o: &Obj) -> Result<Option<Apdu>, TreeError> {
    let choice = || -> Result<&str, TreeError> { o.text("choice") };
    Ok(Some(match t {
        "get-request" => Apdu::GetRequest(get_request_from(choice()?, o)?),
        "get-response" => Apdu::GetResponse(get_response_from(choice()?, o)?),
        "set-request" => Apdu::SetRequest(set_request_from(choice()?, o)?),
        "set-response" => Apdu::SetResponse(set_response_from(choice()?, o)?),
        "action-request" => Apdu::ActionRequest(action_request_from(choice()?, o)?),
        "action-response" => Apdu::ActionResponse(action_response_from(choice()?, o)?),
        _ => return other_from(t, o),
    }))
}

fn other_from(t: &str, o: &Obj) -> Result<Option<Apdu>, TreeError> {
    Ok(Some(match t {
        "data-notification" => Apdu::DataNotification(notification_from(o)?),
        "event-notification-request" => Apdu::EventNotificationRequest(EventNotificationRequest {
            time: datetime_from(o, "time")?,
            attribute: attribute_from(o.get("attribute")?, &o.at("attribute"))?,
            value: o.data("value")?,
        }),
        "exception-response" => Apdu::ExceptionResponse(exception_from(o)?),
        "confirmed-service-error" => Apdu::ConfirmedServiceError(confirmed_error_from(o)?),
        "general-block-transfer" => Apdu::GeneralBlockTransfer(block_transfer_from(o)?),
        "read-request" => Apdu::ReadRequest(o.list("variables", variable_from)?),
        "read-response" => Apdu::ReadResponse(o.list("results", read_result_from)?),
        "write-request" => Apdu::WriteRequest(vd_from(o)?),
        "write-response" => Apdu::WriteResponse(o.list("results", write_result_from)?),
        "unconfirmed-write-request" => Apdu::UnconfirmedWriteRequest(vd_from(o)?),
        "information-report-request" => Apdu::InformationReportRequest(information_report_from(o)?),
        _ => return Ok(None),
    }))
}

