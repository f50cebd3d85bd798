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

/// Whether `tag` is a ciphered APDU's (glo-/ded- service APDUs, general-glo/ded-ciphering,
/// general-ciphering): the ciphering stage's table decides.
pub fn is_ciphered(tag: u8) -> bool {
    crate::dlms::security::ciphered::is_ciphered_tag(tag)
}
