//! Short-name services (Green Book 9.4, xDLMS ASN.1): ReadRequest (05h), ReadResponse (0Ch),
//! WriteRequest (06h), WriteResponse (0Dh), UnconfirmedWriteRequest (16h),
//! InformationReportRequest (18h). They carry no invoke-id.

use super::cursor::{put_data, put_octets, put_seq, Reader};
use super::errors::DataAccessResult;
use super::ApduError;
use crate::dlms::axdr::Data;

/// Variable-Access-Specification CHOICE.
#[derive(Clone, Debug, PartialEq)]
pub enum VariableAccess {
    /// \[2\] variable-name (the short name).
    VariableName(u16),
    /// \[4\] parameterized-access.
    Parameterized {
        /// The short name.
        variable_name: u16,
        /// The selector.
        selector: u8,
        /// The parameter.
        parameter: Data,
    },
    /// \[5\] block-number-access.
    BlockNumber(u16),
    /// \[6\] read-data-block-access.
    ReadDataBlock {
        /// Last block.
        last_block: bool,
        /// Block number.
        block_number: u16,
        /// The block's octets.
        raw_data: Vec<u8>,
    },
    /// \[7\] write-data-block-access.
    WriteDataBlock {
        /// Last block.
        last_block: bool,
        /// Block number.
        block_number: u16,
    },
}

impl VariableAccess {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(match r.choice()? {
            (_, 2) => VariableAccess::VariableName(r.u16()?),
            (_, 4) => VariableAccess::Parameterized { variable_name: r.u16()?, selector: r.u8()?, parameter: r.data()? },
            (_, 5) => VariableAccess::BlockNumber(r.u16()?),
            (_, 6) => {
                VariableAccess::ReadDataBlock { last_block: r.boolean()?, block_number: r.u16()?, raw_data: r.octets()?.to_vec() }
            }
            (_, 7) => VariableAccess::WriteDataBlock { last_block: r.boolean()?, block_number: r.u16()? },
            (offset, value) => return Err(ApduError::BadChoice { offset, value, of: "Variable-Access-Specification" }),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            VariableAccess::VariableName(n) => {
                out.push(2);
                out.extend_from_slice(&n.to_be_bytes());
            }
            VariableAccess::Parameterized { variable_name, selector, parameter } => {
                out.push(4);
                out.extend_from_slice(&variable_name.to_be_bytes());
                out.push(*selector);
                put_data(out, parameter);
            }
            VariableAccess::BlockNumber(n) => {
                out.push(5);
                out.extend_from_slice(&n.to_be_bytes());
            }
            VariableAccess::ReadDataBlock { last_block, block_number, raw_data } => {
                out.extend_from_slice(&[6, *last_block as u8]);
                out.extend_from_slice(&block_number.to_be_bytes());
                put_octets(out, raw_data);
            }
            VariableAccess::WriteDataBlock { last_block, block_number } => {
                out.extend_from_slice(&[7, *last_block as u8]);
                out.extend_from_slice(&block_number.to_be_bytes());
            }
        }
    }
}

/// One result of a ReadResponse.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadResult {
    /// \[0\] data.
    Data(Data),
    /// \[1\] data-access-error.
    Error(DataAccessResult),
    /// \[2\] data-block-result: last-block, block-number, raw-data.
    DataBlock {
        /// Last block.
        last_block: bool,
        /// Block number.
        block_number: u16,
        /// The block's octets.
        raw_data: Vec<u8>,
    },
    /// \[3\] block-number.
    BlockNumber(u16),
}

impl ReadResult {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(match r.choice()? {
            (_, 0) => ReadResult::Data(r.data()?),
            (_, 1) => ReadResult::Error(DataAccessResult(r.u8()?)),
            (_, 2) => ReadResult::DataBlock { last_block: r.boolean()?, block_number: r.u16()?, raw_data: r.octets()?.to_vec() },
            (_, 3) => ReadResult::BlockNumber(r.u16()?),
            (offset, value) => return Err(ApduError::BadChoice { offset, value, of: "ReadResponse item" }),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            ReadResult::Data(d) => {
                out.push(0);
                put_data(out, d);
            }
            ReadResult::Error(e) => out.extend_from_slice(&[1, e.0]),
            ReadResult::DataBlock { last_block, block_number, raw_data } => {
                out.extend_from_slice(&[2, *last_block as u8]);
                out.extend_from_slice(&block_number.to_be_bytes());
                put_octets(out, raw_data);
            }
            ReadResult::BlockNumber(n) => {
                out.push(3);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
    }
}

/// One result of a WriteResponse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteResult {
    /// \[0\] success.
    Success,
    /// \[1\] data-access-error.
    Error(DataAccessResult),
    /// \[2\] block-number.
    BlockNumber(u16),
}

impl WriteResult {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(match r.choice()? {
            (_, 0) => WriteResult::Success,
            (_, 1) => WriteResult::Error(DataAccessResult(r.u8()?)),
            (_, 2) => WriteResult::BlockNumber(r.u16()?),
            (offset, value) => return Err(ApduError::BadChoice { offset, value, of: "WriteResponse item" }),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            WriteResult::Success => out.push(0),
            WriteResult::Error(e) => out.extend_from_slice(&[1, e.0]),
            WriteResult::BlockNumber(n) => {
                out.push(2);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
    }
}

/// A write (WriteRequest, UnconfirmedWriteRequest) or an InformationReportRequest's body:
/// the variables and their data.
#[derive(Clone, Debug, PartialEq)]
pub struct VariablesAndData {
    /// The variables.
    pub variables: Vec<VariableAccess>,
    /// Their data.
    pub data: Vec<Data>,
}

impl VariablesAndData {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(VariablesAndData { variables: r.seq(VariableAccess::read)?, data: r.seq(|r| r.data())? })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        put_seq(out, &self.variables, |o, v| v.write(o));
        put_seq(out, &self.data, put_data);
    }
}

/// InformationReportRequest: current-time (OPTIONAL; the octets of a GeneralizedTime or
/// COSEM date-time, with their A-XDR length) and the variables' data.
#[derive(Clone, Debug, PartialEq)]
pub struct InformationReport {
    /// current-time.
    pub time: Option<Vec<u8>>,
    /// The variables and their data.
    pub report: VariablesAndData,
}

impl InformationReport {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let time = if r.flag("current-time flag")? { Some(r.octets()?.to_vec()) } else { None };
        Ok(InformationReport { time, report: VariablesAndData::read(r)? })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match &self.time {
            None => out.push(0),
            Some(t) => {
                out.push(1);
                put_octets(out, t);
            }
        }
        self.report.write(out);
    }
}
