//! ACTION service (Green Book 9.3.8, xDLMS Action-Request / Action-Response, tags C3h / C7h).

use super::common::{CosemDescriptor, DataBlockSa, GetDataResult, InvokeIdAndPriority};
use super::cursor::{put_data, put_seq, Reader};
use super::errors::ActionResult;
use super::ApduError;
use crate::dlms::axdr::Data;

/// Action-Request CHOICE.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionRequest {
    /// \[1\] action-request-normal.
    Normal {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The method.
        method: CosemDescriptor,
        /// Its invocation parameters.
        parameters: Option<Data>,
    },
    /// \[2\] action-request-next-pblock.
    NextPblock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The block acknowledged.
        block_number: u32,
    },
    /// \[3\] action-request-with-list.
    WithList {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The methods.
        methods: Vec<CosemDescriptor>,
        /// Their invocation parameters.
        parameters: Vec<Data>,
    },
    /// \[4\] action-request-with-first-pblock.
    WithFirstPblock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The method.
        method: CosemDescriptor,
        /// The first block of the parameters.
        block: DataBlockSa,
    },
    /// \[5\] action-request-with-list-and-first-pblock.
    WithListAndFirstPblock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The methods.
        methods: Vec<CosemDescriptor>,
        /// The first block of the parameters.
        block: DataBlockSa,
    },
    /// \[6\] action-request-with-pblock.
    WithPblock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The next block.
        block: DataBlockSa,
    },
}

/// Read an OPTIONAL Data component.
fn optional_data(r: &mut Reader) -> Result<Option<Data>, ApduError> {
    Ok(if r.flag("optional data flag")? { Some(r.data()?) } else { None })
}

impl ActionRequest {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (_, choice) = r.service_choice(6, "Action-Request")?;
        let invoke = InvokeIdAndPriority(r.u8()?);
        Ok(match choice {
            1 => ActionRequest::Normal { invoke, method: CosemDescriptor::read(r)?, parameters: optional_data(r)? },
            2 => ActionRequest::NextPblock { invoke, block_number: r.u32()? },
            3 => ActionRequest::WithList {
                invoke,
                methods: r.seq(CosemDescriptor::read)?,
                parameters: r.seq(|r| r.data())?,
            },
            4 => ActionRequest::WithFirstPblock { invoke, method: CosemDescriptor::read(r)?, block: DataBlockSa::read(r)? },
            5 => ActionRequest::WithListAndFirstPblock {
                invoke,
                methods: r.seq(CosemDescriptor::read)?,
                block: DataBlockSa::read(r)?,
            },
            _ => ActionRequest::WithPblock { invoke, block: DataBlockSa::read(r)? },
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.choice(), self.invoke().0]);
        match self {
            ActionRequest::Normal { method, parameters, .. } => {
                method.write(out);
                match parameters {
                    None => out.push(0),
                    Some(d) => {
                        out.push(1);
                        put_data(out, d);
                    }
                }
            }
            ActionRequest::NextPblock { block_number, .. } => out.extend_from_slice(&block_number.to_be_bytes()),
            ActionRequest::WithList { methods, parameters, .. } => {
                put_seq(out, methods, |o, m| m.write(o));
                put_seq(out, parameters, put_data);
            }
            ActionRequest::WithFirstPblock { method, block, .. } => {
                method.write(out);
                block.write(out);
            }
            ActionRequest::WithListAndFirstPblock { methods, block, .. } => {
                put_seq(out, methods, |o, m| m.write(o));
                block.write(out);
            }
            ActionRequest::WithPblock { block, .. } => block.write(out),
        }
    }

    fn choice(&self) -> u8 {
        match self {
            ActionRequest::Normal { .. } => 1,
            ActionRequest::NextPblock { .. } => 2,
            ActionRequest::WithList { .. } => 3,
            ActionRequest::WithFirstPblock { .. } => 4,
            ActionRequest::WithListAndFirstPblock { .. } => 5,
            ActionRequest::WithPblock { .. } => 6,
        }
    }

    /// Invoke-id and priority.
    pub fn invoke(&self) -> InvokeIdAndPriority {
        match self {
            ActionRequest::Normal { invoke, .. }
            | ActionRequest::NextPblock { invoke, .. }
            | ActionRequest::WithList { invoke, .. }
            | ActionRequest::WithFirstPblock { invoke, .. }
            | ActionRequest::WithListAndFirstPblock { invoke, .. }
            | ActionRequest::WithPblock { invoke, .. } => *invoke,
        }
    }

    /// The CHOICE alternative's name.
    pub fn choice_name(&self) -> &'static str {
        [
            "action-request-normal",
            "action-request-next-pblock",
            "action-request-with-list",
            "action-request-with-first-pblock",
            "action-request-with-list-and-first-pblock",
            "action-request-with-pblock",
        ][self.choice() as usize - 1]
    }
}

/// Action-Response-With-Optional-Data: the result and optional return parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionResponseItem {
    /// The result.
    pub result: ActionResult,
    /// The return parameters (data or data-access-result).
    pub return_parameters: Option<GetDataResult>,
}

impl ActionResponseItem {
    fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let result = ActionResult(r.u8()?);
        let return_parameters = if r.flag("return-parameters flag")? { Some(GetDataResult::read(r)?) } else { None };
        Ok(ActionResponseItem { result, return_parameters })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.result.0);
        match &self.return_parameters {
            None => out.push(0),
            Some(p) => {
                out.push(1);
                p.write(out);
            }
        }
    }
}

/// Action-Response CHOICE.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionResponse {
    /// \[1\] action-response-normal.
    Normal {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The result.
        response: ActionResponseItem,
    },
    /// \[2\] action-response-with-pblock.
    WithPblock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// A block of the return parameters.
        block: DataBlockSa,
    },
    /// \[3\] action-response-with-list.
    WithList {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// One result per method.
        responses: Vec<ActionResponseItem>,
    },
    /// \[4\] action-response-next-pblock.
    NextPblock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The block acknowledged.
        block_number: u32,
    },
}

impl ActionResponse {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (_, choice) = r.service_choice(4, "Action-Response")?;
        let invoke = InvokeIdAndPriority(r.u8()?);
        Ok(match choice {
            1 => ActionResponse::Normal { invoke, response: ActionResponseItem::read(r)? },
            2 => ActionResponse::WithPblock { invoke, block: DataBlockSa::read(r)? },
            3 => ActionResponse::WithList { invoke, responses: r.seq(ActionResponseItem::read)? },
            _ => ActionResponse::NextPblock { invoke, block_number: r.u32()? },
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.choice(), self.invoke().0]);
        match self {
            ActionResponse::Normal { response, .. } => response.write(out),
            ActionResponse::WithPblock { block, .. } => block.write(out),
            ActionResponse::WithList { responses, .. } => put_seq(out, responses, |o, x| x.write(o)),
            ActionResponse::NextPblock { block_number, .. } => out.extend_from_slice(&block_number.to_be_bytes()),
        }
    }

    fn choice(&self) -> u8 {
        match self {
            ActionResponse::Normal { .. } => 1,
            ActionResponse::WithPblock { .. } => 2,
            ActionResponse::WithList { .. } => 3,
            ActionResponse::NextPblock { .. } => 4,
        }
    }

    /// Invoke-id and priority.
    pub fn invoke(&self) -> InvokeIdAndPriority {
        match self {
            ActionResponse::Normal { invoke, .. }
            | ActionResponse::WithPblock { invoke, .. }
            | ActionResponse::WithList { invoke, .. }
            | ActionResponse::NextPblock { invoke, .. } => *invoke,
        }
    }

    /// The CHOICE alternative's name.
    pub fn choice_name(&self) -> &'static str {
        ["action-response-normal", "action-response-with-pblock", "action-response-with-list", "action-response-next-pblock"]
            [self.choice() as usize - 1]
    }
}
