//! GET service (Green Book 9.3.6, xDLMS Get-Request / Get-Response, tags C0h / C4h).

use super::common::{AttributeWithSelection, CosemDescriptor, GetDataResult, InvokeIdAndPriority, SelectiveAccess};
use super::cursor::{put_octets, put_seq, Reader};
use super::errors::DataAccessResult;
use super::ApduError;

/// Get-Request CHOICE.
#[derive(Clone, Debug, PartialEq)]
pub enum GetRequest {
    /// \[1\] get-request-normal.
    Normal {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The attribute.
        attribute: CosemDescriptor,
        /// Its selective access.
        access: Option<SelectiveAccess>,
    },
    /// \[2\] get-request-next: the next block after `block_number`.
    Next {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The last block received.
        block_number: u32,
    },
    /// \[3\] get-request-with-list.
    WithList {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The attributes.
        attributes: Vec<AttributeWithSelection>,
    },
}

impl GetRequest {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (at, choice) = r.service_choice(3, "Get-Request")?;
        let invoke = InvokeIdAndPriority(r.u8()?);
        Ok(match choice {
            1 => GetRequest::Normal {
                invoke,
                attribute: CosemDescriptor::read(r)?,
                access: SelectiveAccess::read_optional(r)?,
            },
            2 => GetRequest::Next { invoke, block_number: r.u32()? },
            3 => GetRequest::WithList { invoke, attributes: r.seq(AttributeWithSelection::read)? },
            value => return Err(ApduError::BadChoice { offset: at, value, of: "Get-Request" }),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            GetRequest::Normal { invoke, attribute, access } => {
                out.extend_from_slice(&[1, invoke.0]);
                attribute.write(out);
                SelectiveAccess::write_optional(access, out);
            }
            GetRequest::Next { invoke, block_number } => {
                out.extend_from_slice(&[2, invoke.0]);
                out.extend_from_slice(&block_number.to_be_bytes());
            }
            GetRequest::WithList { invoke, attributes } => {
                out.extend_from_slice(&[3, invoke.0]);
                put_seq(out, attributes, |o, a| a.write(o));
            }
        }
    }

    /// Invoke-id and priority.
    pub fn invoke(&self) -> InvokeIdAndPriority {
        match self {
            GetRequest::Normal { invoke, .. } | GetRequest::Next { invoke, .. } | GetRequest::WithList { invoke, .. } => *invoke,
        }
    }

    /// The CHOICE alternative's name.
    pub fn choice_name(&self) -> &'static str {
        match self {
            GetRequest::Normal { .. } => "get-request-normal",
            GetRequest::Next { .. } => "get-request-next",
            GetRequest::WithList { .. } => "get-request-with-list",
        }
    }
}

/// The result of DataBlock-G: raw-data \[0\] or data-access-result \[1\].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockResult {
    /// The block's octets.
    RawData(Vec<u8>),
    /// The failure.
    Error(DataAccessResult),
}

/// DataBlock-G (get-response-with-datablock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataBlockG {
    /// Last block.
    pub last_block: bool,
    /// Block number.
    pub block_number: u32,
    /// Raw data or a data-access-result.
    pub result: BlockResult,
}

impl DataBlockG {
    fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let last_block = r.boolean()?;
        let block_number = r.u32()?;
        let result = match r.choice()? {
            (_, 0) => BlockResult::RawData(r.octets()?.to_vec()),
            (_, 1) => BlockResult::Error(DataAccessResult(r.u8()?)),
            (offset, value) => return Err(ApduError::BadChoice { offset, value, of: "DataBlock-G result" }),
        };
        Ok(DataBlockG { last_block, block_number, result })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.last_block as u8);
        out.extend_from_slice(&self.block_number.to_be_bytes());
        match &self.result {
            BlockResult::RawData(d) => {
                out.push(0);
                put_octets(out, d);
            }
            BlockResult::Error(e) => out.extend_from_slice(&[1, e.0]),
        }
    }
}

/// Get-Response CHOICE.
#[derive(Clone, Debug, PartialEq)]
pub enum GetResponse {
    /// \[1\] get-response-normal.
    Normal {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// Data or data-access-result.
        result: GetDataResult,
    },
    /// \[2\] get-response-with-datablock.
    WithDatablock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The block.
        block: DataBlockG,
    },
    /// \[3\] get-response-with-list.
    WithList {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// One result per requested attribute.
        results: Vec<GetDataResult>,
    },
}

impl GetResponse {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (at, choice) = r.service_choice(3, "Get-Response")?;
        let invoke = InvokeIdAndPriority(r.u8()?);
        Ok(match choice {
            1 => GetResponse::Normal { invoke, result: GetDataResult::read(r)? },
            2 => GetResponse::WithDatablock { invoke, block: DataBlockG::read(r)? },
            3 => GetResponse::WithList { invoke, results: r.seq(GetDataResult::read)? },
            value => return Err(ApduError::BadChoice { offset: at, value, of: "Get-Response" }),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            GetResponse::Normal { invoke, result } => {
                out.extend_from_slice(&[1, invoke.0]);
                result.write(out);
            }
            GetResponse::WithDatablock { invoke, block } => {
                out.extend_from_slice(&[2, invoke.0]);
                block.write(out);
            }
            GetResponse::WithList { invoke, results } => {
                out.extend_from_slice(&[3, invoke.0]);
                put_seq(out, results, |o, x| x.write(o));
            }
        }
    }

    /// Invoke-id and priority.
    pub fn invoke(&self) -> InvokeIdAndPriority {
        match self {
            GetResponse::Normal { invoke, .. }
            | GetResponse::WithDatablock { invoke, .. }
            | GetResponse::WithList { invoke, .. } => *invoke,
        }
    }

    /// The CHOICE alternative's name.
    pub fn choice_name(&self) -> &'static str {
        match self {
            GetResponse::Normal { .. } => "get-response-normal",
            GetResponse::WithDatablock { .. } => "get-response-with-datablock",
            GetResponse::WithList { .. } => "get-response-with-list",
        }
    }
}
