//! General-Block-Transfer (Green Book 9.3.5 / 9.5, tag E0h): block-control, block-number,
//! block-number-ack, block-data.

use super::cursor::{put_octets, Reader};
use super::ApduError;

/// General-Block-Transfer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GeneralBlockTransfer {
    /// Block-control: last-block (bit 7), streaming (bit 6), window (bits 0–5).
    pub block_control: u8,
    /// Block number.
    pub block_number: u16,
    /// Block number acknowledged.
    pub block_number_ack: u16,
    /// The block's octets.
    pub block_data: Vec<u8>,
}

impl GeneralBlockTransfer {
    /// Last block.
    pub fn last_block(&self) -> bool {
        self.block_control & 0x80 != 0
    }
    /// Streaming.
    pub fn streaming(&self) -> bool {
        self.block_control & 0x40 != 0
    }
    /// Window size.
    pub fn window(&self) -> u8 {
        self.block_control & 0x3F
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(GeneralBlockTransfer {
            block_control: r.u8()?,
            block_number: r.u16()?,
            block_number_ack: r.u16()?,
            block_data: r.octets()?.to_vec(),
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.block_control);
        out.extend_from_slice(&self.block_number.to_be_bytes());
        out.extend_from_slice(&self.block_number_ack.to_be_bytes());
        put_octets(out, &self.block_data);
    }
}
