//! Unsolicited services: DataNotification (Green Book 9.3.10, tag 0Fh) and
//! EventNotificationRequest (9.3.9, tag C2h).

use super::common::{CosemDescriptor, LongInvokeIdAndPriority};
use super::cursor::{put_data, Reader};
use super::ApduError;
use crate::dlms::axdr::Data;
use crate::dlms::cosem::DateTime;

/// How a data-notification carries its date-time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationTime {
    /// A zero-length octet string (`00`).
    Absent,
    /// The A-XDR octet string of the standard (`0C` and 12 octets).
    DateTime(DateTime),
    /// The form some meters send (Kaifa HAN pushes): the octet string with its Data tag
    /// (`09 0C` and 12 octets).
    Tagged(DateTime),
}

impl NotificationTime {
    /// The date-time, when present.
    pub fn datetime(self) -> Option<DateTime> {
        match self {
            NotificationTime::Absent => None,
            NotificationTime::DateTime(d) | NotificationTime::Tagged(d) => Some(d),
        }
    }

    fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let at = r.pos();
        match r.u8()? {
            0 => Ok(NotificationTime::Absent),
            12 => Ok(NotificationTime::DateTime(DateTime(r.array()?))),
            9 if r.rest().first() == Some(&12) => {
                r.u8()?;
                Ok(NotificationTime::Tagged(DateTime(r.array()?)))
            }
            _ => Err(ApduError::BadValue { offset: at, what: "date-time (neither empty nor 12 octets)" }),
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        match self {
            NotificationTime::Absent => out.push(0),
            NotificationTime::DateTime(d) => {
                out.push(12);
                out.extend_from_slice(&d.0);
            }
            NotificationTime::Tagged(d) => {
                out.extend_from_slice(&[9, 12]);
                out.extend_from_slice(&d.0);
            }
        }
    }
}

/// Data-Notification: long-invoke-id-and-priority, date-time, notification-body (one Data).
#[derive(Clone, Debug, PartialEq)]
pub struct DataNotification {
    /// Long-invoke-id-and-priority.
    pub invoke: LongInvokeIdAndPriority,
    /// The date-time.
    pub time: NotificationTime,
    /// The notification body's data-value.
    pub body: Data,
}

impl DataNotification {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        Ok(DataNotification {
            invoke: LongInvokeIdAndPriority(r.u32()?),
            time: NotificationTime::read(r)?,
            body: r.data()?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.invoke.0.to_be_bytes());
        self.time.write(out);
        put_data(out, &self.body);
    }
}

/// EventNotificationRequest: time (OPTIONAL octet string), the attribute, its value.
#[derive(Clone, Debug, PartialEq)]
pub struct EventNotificationRequest {
    /// The time of the event (a COSEM date-time).
    pub time: Option<DateTime>,
    /// The attribute.
    pub attribute: CosemDescriptor,
    /// Its value.
    pub value: Data,
}

impl EventNotificationRequest {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let time = if r.flag("time flag")? {
            let at = r.pos();
            if r.u8()? != 12 {
                return Err(ApduError::BadValue { offset: at, what: "date-time (not 12 octets)" });
            }
            Some(DateTime(r.array()?))
        } else {
            None
        };
        Ok(EventNotificationRequest { time, attribute: CosemDescriptor::read(r)?, value: r.data()? })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self.time {
            None => out.push(0),
            Some(t) => {
                out.extend_from_slice(&[1, 12]);
                out.extend_from_slice(&t.0);
            }
        }
        self.attribute.write(out);
        put_data(out, &self.value);
    }
}
