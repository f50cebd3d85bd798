//! Stage 3: the authentication and fragmentation layer (EN 13757-7 clause 6), if the CI
//! announces one. Its MAC is verified by the protection stage, which knows the key.

use std::borrow::Cow;

use super::telegram::Telegram;
use super::{decode_tpl, Ctx};
use crate::error::{Error, ErrorKind};
use crate::mbus::afl;

/// CI of the AFL (EN 13757-7 Table 2).
const AFL_CI: u8 = 0x90;

/// Peel off an AFL if there is one, then decode the TPL. `buf` starts at a CI at frame offset
/// `base`.
pub(super) fn decode_afl_tpl(tg: &mut Telegram, buf: Cow<[u8]>, base: usize, ctx: &Ctx) -> Result<(), Error> {
    if buf[0] != AFL_CI {
        return decode_tpl(tg, &buf, base, ctx);
    }
    let a = afl::parse_afl(&buf).map_err(|e| Error::in_layer(ErrorKind::Afl(e), base))?;
    if a.is_fragmented() {
        return Err(Error::new(base, ErrorKind::AflFragment { fid: a.fid() }));
    }
    tg.afl = Some(a);
    let tpdu = &buf[a.len..];
    if tpdu.is_empty() {
        return Ok(());
    }
    decode_tpl(tg, tpdu, base + a.len, &Ctx { afl: Some(&a), ..*ctx })
}
