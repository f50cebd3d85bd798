//! SET service (Green Book 9.3.7, xDLMS Set-Request / Set-Response, tags C1h / C5h).

use super::common::{AttributeWithSelection, CosemDescriptor, DataBlockSa, InvokeIdAndPriority, SelectiveAccess};
use super::cursor::{put_data, put_seq, Reader};
use super::errors::DataAccessResult;
use super::ApduError;
use crate::dlms::axdr::Data;

/// Set-Request CHOICE.
#[derive(Clone, Debug, PartialEq)]
pub enum SetRequest {
    /// \[1\] set-request-normal.
    Normal {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The attribute.
        attribute: CosemDescriptor,
        /// Its selective access.
        access: Option<SelectiveAccess>,
        /// The value to write.
        value: Data,
    },
    /// \[2\] set-request-with-first-datablock.
    WithFirstDatablock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The attribute.
        attribute: CosemDescriptor,
        /// Its selective access.
        access: Option<SelectiveAccess>,
        /// The first block of the value.
        block: DataBlockSa,
    },
    /// \[3\] set-request-with-datablock.
    WithDatablock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The next block.
        block: DataBlockSa,
    },
    /// \[4\] set-request-with-list.
    WithList {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The attributes.
        attributes: Vec<AttributeWithSelection>,
        /// Their values.
        values: Vec<Data>,
    },
    /// \[5\] set-request-with-list-and-first-datablock.
    WithListAndFirstDatablock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The attributes.
        attributes: Vec<AttributeWithSelection>,
        /// The first block of the values.
        block: DataBlockSa,
    },
}

impl SetRequest {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (_, choice) = r.service_choice(5, "Set-Request")?;
        let invoke = InvokeIdAndPriority(r.u8()?);
        Ok(match choice {
            1 => SetRequest::Normal {
                invoke,
                attribute: CosemDescriptor::read(r)?,
                access: SelectiveAccess::read_optional(r)?,
                value: r.data()?,
            },
            2 => SetRequest::WithFirstDatablock {
                invoke,
                attribute: CosemDescriptor::read(r)?,
                access: SelectiveAccess::read_optional(r)?,
                block: DataBlockSa::read(r)?,
            },
            3 => SetRequest::WithDatablock { invoke, block: DataBlockSa::read(r)? },
            4 => SetRequest::WithList {
                invoke,
                attributes: r.seq(AttributeWithSelection::read)?,
                values: r.seq(|r| r.data())?,
            },
            _ => SetRequest::WithListAndFirstDatablock {
                invoke,
                attributes: r.seq(AttributeWithSelection::read)?,
                block: DataBlockSa::read(r)?,
            },
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.choice(), self.invoke().0]);
        match self {
            SetRequest::Normal { attribute, access, value, .. } => {
                attribute.write(out);
                SelectiveAccess::write_optional(access, out);
                put_data(out, value);
            }
            SetRequest::WithFirstDatablock { attribute, access, block, .. } => {
                attribute.write(out);
                SelectiveAccess::write_optional(access, out);
                block.write(out);
            }
            SetRequest::WithDatablock { block, .. } => block.write(out),
            SetRequest::WithList { attributes, values, .. } => {
                put_seq(out, attributes, |o, a| a.write(o));
                put_seq(out, values, put_data);
            }
            SetRequest::WithListAndFirstDatablock { attributes, block, .. } => {
                put_seq(out, attributes, |o, a| a.write(o));
                block.write(out);
            }
        }
    }

    fn choice(&self) -> u8 {
        match self {
            SetRequest::Normal { .. } => 1,
            SetRequest::WithFirstDatablock { .. } => 2,
            SetRequest::WithDatablock { .. } => 3,
            SetRequest::WithList { .. } => 4,
            SetRequest::WithListAndFirstDatablock { .. } => 5,
        }
    }

    /// Invoke-id and priority.
    pub fn invoke(&self) -> InvokeIdAndPriority {
        match self {
            SetRequest::Normal { invoke, .. }
            | SetRequest::WithFirstDatablock { invoke, .. }
            | SetRequest::WithDatablock { invoke, .. }
            | SetRequest::WithList { invoke, .. }
            | SetRequest::WithListAndFirstDatablock { invoke, .. } => *invoke,
        }
    }

    /// The CHOICE alternative's name.
    pub fn choice_name(&self) -> &'static str {
        [
            "set-request-normal",
            "set-request-with-first-datablock",
            "set-request-with-datablock",
            "set-request-with-list",
            "set-request-with-list-and-first-datablock",
        ][self.choice() as usize - 1]
    }
}

/// Set-Response CHOICE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetResponse {
    /// \[1\] set-response-normal.
    Normal {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The result.
        result: DataAccessResult,
    },
    /// \[2\] set-response-datablock: block received.
    Datablock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The block acknowledged.
        block_number: u32,
    },
    /// \[3\] set-response-last-datablock.
    LastDatablock {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// The result.
        result: DataAccessResult,
        /// The last block.
        block_number: u32,
    },
    /// \[4\] set-response-last-datablock-with-list.
    LastDatablockWithList {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// One result per attribute.
        results: Vec<DataAccessResult>,
        /// The last block.
        block_number: u32,
    },
    /// \[5\] set-response-with-list.
    WithList {
        /// Invoke-id and priority.
        invoke: InvokeIdAndPriority,
        /// One result per attribute.
        results: Vec<DataAccessResult>,
    },
}

impl SetResponse {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (_, choice) = r.service_choice(5, "Set-Response")?;
        let invoke = InvokeIdAndPriority(r.u8()?);
        let dar = |r: &mut Reader| Ok(DataAccessResult(r.u8()?));
        Ok(match choice {
            1 => SetResponse::Normal { invoke, result: dar(r)? },
            2 => SetResponse::Datablock { invoke, block_number: r.u32()? },
            3 => SetResponse::LastDatablock { invoke, result: dar(r)?, block_number: r.u32()? },
            4 => SetResponse::LastDatablockWithList { invoke, results: r.seq(dar)?, block_number: r.u32()? },
            _ => SetResponse::WithList { invoke, results: r.seq(dar)? },
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.choice(), self.invoke().0]);
        let dar = |o: &mut Vec<u8>, d: &DataAccessResult| o.push(d.0);
        match self {
            SetResponse::Normal { result, .. } => out.push(result.0),
            SetResponse::Datablock { block_number, .. } => out.extend_from_slice(&block_number.to_be_bytes()),
            SetResponse::LastDatablock { result, block_number, .. } => {
                out.push(result.0);
                out.extend_from_slice(&block_number.to_be_bytes());
            }
            SetResponse::LastDatablockWithList { results, block_number, .. } => {
                put_seq(out, results, dar);
                out.extend_from_slice(&block_number.to_be_bytes());
            }
            SetResponse::WithList { results, .. } => put_seq(out, results, dar),
        }
    }

    fn choice(&self) -> u8 {
        match self {
            SetResponse::Normal { .. } => 1,
            SetResponse::Datablock { .. } => 2,
            SetResponse::LastDatablock { .. } => 3,
            SetResponse::LastDatablockWithList { .. } => 4,
            SetResponse::WithList { .. } => 5,
        }
    }

    /// Invoke-id and priority.
    pub fn invoke(&self) -> InvokeIdAndPriority {
        match self {
            SetResponse::Normal { invoke, .. }
            | SetResponse::Datablock { invoke, .. }
            | SetResponse::LastDatablock { invoke, .. }
            | SetResponse::LastDatablockWithList { invoke, .. }
            | SetResponse::WithList { invoke, .. } => *invoke,
        }
    }

    /// The CHOICE alternative's name.
    pub fn choice_name(&self) -> &'static str {
        [
            "set-response-normal",
            "set-response-datablock",
            "set-response-last-datablock",
            "set-response-last-datablock-with-list",
            "set-response-with-list",
        ][self.choice() as usize - 1]
    }
}
