//! APDU tags (Green Book 9.5, the xDLMS and ACSE ASN.1 tags).

/// initiate-request \[1\].
pub const INITIATE_REQUEST: u8 = 0x01;
/// read-request \[5\] (SN).
pub const READ_REQUEST: u8 = 0x05;
/// write-request \[6\] (SN).
pub const WRITE_REQUEST: u8 = 0x06;
/// initiate-response \[8\].
pub const INITIATE_RESPONSE: u8 = 0x08;
/// read-response \[12\] (SN).
pub const READ_RESPONSE: u8 = 0x0C;
/// write-response \[13\] (SN).
pub const WRITE_RESPONSE: u8 = 0x0D;
/// confirmed-service-error \[14\].
pub const CONFIRMED_SERVICE_ERROR: u8 = 0x0E;
/// data-notification \[15\].
pub const DATA_NOTIFICATION: u8 = 0x0F;
/// unconfirmed-write-request \[22\] (SN).
pub const UNCONFIRMED_WRITE_REQUEST: u8 = 0x16;
/// information-report-request \[24\] (SN).
pub const INFORMATION_REPORT_REQUEST: u8 = 0x18;
/// AARQ \[APPLICATION 0\].
pub const AARQ: u8 = 0x60;
/// AARE \[APPLICATION 1\].
pub const AARE: u8 = 0x61;
/// RLRQ \[APPLICATION 2\].
pub const RLRQ: u8 = 0x62;
/// RLRE \[APPLICATION 3\].
pub const RLRE: u8 = 0x63;
/// get-request \[192\].
pub const GET_REQUEST: u8 = 0xC0;
/// set-request \[193\].
pub const SET_REQUEST: u8 = 0xC1;
/// event-notification-request \[194\].
pub const EVENT_NOTIFICATION_REQUEST: u8 = 0xC2;
/// action-request \[195\].
pub const ACTION_REQUEST: u8 = 0xC3;
/// get-response \[196\].
pub const GET_RESPONSE: u8 = 0xC4;
/// set-response \[197\].
pub const SET_RESPONSE: u8 = 0xC5;
/// action-response \[199\].
pub const ACTION_RESPONSE: u8 = 0xC7;
/// exception-response \[216\].
pub const EXCEPTION_RESPONSE: u8 = 0xD8;
/// general-glo-ciphering \[219\].
pub const GENERAL_GLO_CIPHERING: u8 = 0xDB;
/// general-ded-ciphering \[220\].
pub const GENERAL_DED_CIPHERING: u8 = 0xDC;
/// general-ciphering \[221\].
pub const GENERAL_CIPHERING: u8 = 0xDD;
/// general-block-transfer \[224\].
pub const GENERAL_BLOCK_TRANSFER: u8 = 0xE0;

/// The ciphered APDUs, parsed by the ciphering stage: glo- and ded- initiate, SN services and
/// confirmed-service-error (21h–38h, 41h–58h), glo- and ded- LN services (C8h–CFh, D0h–D7h),
/// general-glo-, general-ded- and general-ciphering.
pub const CIPHERED: [u8; 35] = [
    0x21, 0x25, 0x26, 0x28, 0x2C, 0x2D, 0x2E, 0x36, 0x38, // glo- initiate, SN, error
    0x41, 0x45, 0x46, 0x48, 0x4C, 0x4D, 0x4E, 0x56, 0x58, // ded- initiate, SN, error
    0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCF, // glo- LN
    0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD7, // ded- LN
    GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING, GENERAL_CIPHERING,
];

/// Whether `tag` is a ciphered APDU's.
pub fn is_ciphered(tag: u8) -> bool {
    CIPHERED.contains(&tag)
}
