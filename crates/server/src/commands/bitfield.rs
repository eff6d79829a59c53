//! BITFIELD and BITFIELD_RO: typed integer fields inside a string.

use super::{CmdResult, Ctx};

pub fn run(_ctx: &mut Ctx, _readonly: bool) -> CmdResult {
    Err("ERR BITFIELD is not implemented yet".into())
}
