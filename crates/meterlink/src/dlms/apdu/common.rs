//! Types shared by the xDLMS services (Green Book 9.5, the xDLMS ASN.1): invoke-id and
//! priority, COSEM attribute and method descriptors, selective access, data blocks.

use super::cursor::{put_bool, put_data, put_octets, Reader};
use super::errors::DataAccessResult;
use super::ApduError;
use crate::dlms::axdr::Data;
use crate::dlms::obis::Obis;

/// Invoke-Id-And-Priority (one octet): invoke-id in bits 0–3, service-class in bit 6
/// (1 = confirmed), priority in bit 7 (1 = high); bits 4–5 reserved, kept as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvokeIdAndPriority(pub u8);

impl InvokeIdAndPriority {
    /// The invoke-id (0–15).
    pub fn invoke_id(self) -> u8 {
        self.0 & 0x0F
    }
    /// Service class: confirmed.
    pub fn confirmed(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// Priority: high.
    pub fn high_priority(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// The octet from its parts.
    pub fn new(invoke_id: u8, confirmed: bool, high_priority: bool) -> Self {
        InvokeIdAndPriority(invoke_id & 0x0F | (confirmed as u8) << 6 | (high_priority as u8) << 7)
    }
}

/// Long-Invoke-Id-And-Priority (four octets, data-notification): invoke-id in bits 0–23,
/// self-descriptive in bit 28, processing-option (1 = break on error) in bit 29, service-class
/// (1 = confirmed) in bit 30, priority (1 = high) in bit 31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LongInvokeIdAndPriority(pub u32);

impl LongInvokeIdAndPriority {
    /// The invoke-id (24 bits).
    pub fn invoke_id(self) -> u32 {
        self.0 & 0x00FF_FFFF
    }
    /// Self-descriptive.
    pub fn self_descriptive(self) -> bool {
        self.0 & 1 << 28 != 0
    }
    /// Processing option: break on error (else continue on error).
    pub fn break_on_error(self) -> bool {
        self.0 & 1 << 29 != 0
    }
    /// Service class: confirmed.
    pub fn confirmed(self) -> bool {
        self.0 & 1 << 30 != 0
    }
    /// Priority: high.
    pub fn high_priority(self) -> bool {
        self.0 & 1 << 31 != 0
    }
}

/// Cosem-Attribute-Descriptor (and Cosem-Method-Descriptor): class-id (Unsigned16),
/// instance-id (6 octets, no length), attribute-id / method-id (Integer8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CosemDescriptor {
    /// The interface class.
    pub class_id: u16,
    /// The logical name.
    pub instance: Obis,
    /// The attribute (or method) index.
    pub id: i8,
}

impl CosemDescriptor {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(CosemDescriptor { class_id: r.u16()?, instance: Obis(r.array()?), id: r.u8()? as i8 })
    }
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.class_id.to_be_bytes());
        out.extend_from_slice(&self.instance.0);
        out.push(self.id as u8);
    }
}

/// Selective-Access-Descriptor: access-selector and access-parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectiveAccess {
    /// The access selector (1 range, 2 entry, ... for profile generic).
    pub selector: u8,
    /// The parameters.
    pub parameters: Data,
}

impl SelectiveAccess {
    /// An OPTIONAL selective-access component.
    pub(crate) fn read_optional(r: &mut Reader) -> Result<Option<Self>, ApduError> {
        if !r.flag("access-selection flag")? {
            return Ok(None);
        }
        Ok(Some(SelectiveAccess { selector: r.u8()?, parameters: r.data()? }))
    }
    pub(crate) fn write_optional(s: &Option<Self>, out: &mut Vec<u8>) {
        match s {
            None => out.push(0),
            Some(s) => {
                out.extend_from_slice(&[1, s.selector]);
                put_data(out, &s.parameters);
            }
        }
    }
}

/// Cosem-Attribute-Descriptor-With-Selection (the with-list requests).
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeWithSelection {
    /// The attribute.
    pub attribute: CosemDescriptor,
    /// Its selective access.
    pub access: Option<SelectiveAccess>,
}

impl AttributeWithSelection {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(AttributeWithSelection { attribute: CosemDescriptor::read(r)?, access: SelectiveAccess::read_optional(r)? })
    }
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        self.attribute.write(out);
        SelectiveAccess::write_optional(&self.access, out);
    }
}

/// DataBlock-SA (set, action): last-block, block-number, raw-data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataBlockSa {
    /// Last block.
    pub last_block: bool,
    /// Block number.
    pub block_number: u32,
    /// The block's octets.
    pub raw_data: Vec<u8>,
}

impl DataBlockSa {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(DataBlockSa { last_block: r.boolean()?, block_number: r.u32()?, raw_data: r.octets()?.to_vec() })
    }
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        put_bool(out, self.last_block);
        out.extend_from_slice(&self.block_number.to_be_bytes());
        put_octets(out, &self.raw_data);
    }
}

/// Get-Data-Result (and the return parameters of an action): data \[0\] or
/// data-access-result \[1\].
#[derive(Clone, Debug, PartialEq)]
pub enum GetDataResult {
    /// The data.
    Data(Data),
    /// The failure.
    Error(DataAccessResult),
}

impl GetDataResult {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        match r.choice()? {
            (_, 0) => Ok(GetDataResult::Data(r.data()?)),
            (_, 1) => Ok(GetDataResult::Error(DataAccessResult(r.u8()?))),
            (offset, value) => Err(ApduError::BadChoice { offset, value, of: "Get-Data-Result" }),
        }
    }
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            GetDataResult::Data(d) => {
                out.push(0);
                put_data(out, d);
            }
            GetDataResult::Error(e) => out.extend_from_slice(&[1, e.0]),
        }
    }
    /// The data, when the result is data.
    pub fn data(&self) -> Option<&Data> {
        match self {
            GetDataResult::Data(d) => Some(d),
            GetDataResult::Error(_) => None,
        }
    }
}
