//! Bitmap commands on string values: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD.

use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::{Blob, Value};

/// Largest bit offset: strings are capped at 512MB.
const MAX_BIT_OFFSET: u64 = 512 * 1024 * 1024 * 8 - 1;

pub(crate) fn bit_offset(arg: &[u8]) -> Result<u64, Error> {
    let msg = "ERR bit offset is not an integer or out of range";
    match crate::util::parse_canonical_i64(arg) {
        Some(n) if n >= 0 && (n as u64) <= MAX_BIT_OFFSET => Ok(n as u64),
        _ => Err(msg.into()),
    }
}

/// The string at key as bytes (empty when absent) plus its TTL; WRONGTYPE otherwise.
pub(crate) fn read_string(ctx: &mut Ctx, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>, Error> {
    match ctx.lookup(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some((b.to_vec(), e.expire_at))),
            #[allow(unreachable_patterns)]
            _ => Err(err::WRONGTYPE.into()),
        },
    }
}

pub fn setbit(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let off = bit_offset(ctx.args[2])?;
    let on = match ctx.args[3] {
        b"1" => true,
        b"0" => false,
        _ => return Err("ERR bit is not an integer or out of range".into()),
    };
    let (mut v, ttl) = read_string(ctx, key)?.unwrap_or_default();
    let byte = (off / 8) as usize;
    if v.len() <= byte {
        v.resize(byte + 1, 0);
    }
    let mask = 0x80u8 >> (off % 8);
    let old = v[byte] & mask != 0;
    if on {
        v[byte] |= mask;
    } else {
        v[byte] &= !mask;
    }
    ctx.store(key, Value::Str(Blob::from_vec(v)), ttl);
    ctx.propagate_as_is();
    ctx.out.int(old as i64);
    Ok(())
}

pub fn getbit(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let off = bit_offset(ctx.args[2])?;
    let bit = match ctx.get_str(key)? {
        Some(b) => {
            let byte = (off / 8) as usize;
            byte < b.len() && b[byte] & (0x80 >> (off % 8)) != 0
        }
        None => false,
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// Resolves a [start, end] range (bytes or bits) against a length, Redis style.
fn resolve_range(start: i64, end: i64, len: i64) -> Option<(i64, i64)> {
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        None
    } else {
        Some((s, e))
    }
}

fn bit_unit(ctx: &Ctx, i: usize) -> Result<bool, Error> {
    if ctx.args.len() <= i {
        return Ok(false);
    }
    if ctx.args.len() > i + 1 {
        return Err(err::SYNTAX.into());
    }
    if ctx.is(i, "BIT") {
        Ok(true)
    } else if ctx.is(i, "BYTE") {
        Ok(false)
    } else {
        Err(err::SYNTAX.into())
    }
}

fn count_bits(v: &[u8], from_bit: u64, to_bit: u64) -> i64 {
    (from_bit..=to_bit).filter(|&b| v[(b / 8) as usize] & (0x80 >> (b % 8)) != 0).count() as i64
}

pub fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let n = ctx.args.len();
    let range = match n {
        2 => None,
        3 => return Err(err::SYNTAX.into()),
        _ => Some((ctx.int_arg(2)?, ctx.int_arg(3)?, bit_unit(ctx, 4)?)),
    };
    let v = ctx.get_str(key)?.map(|b| b.to_vec()).unwrap_or_default();
    let count = match range {
        None => v.iter().map(|b| b.count_ones() as i64).sum(),
        Some((s, e, bits)) => {
            let len = if bits { v.len() as i64 * 8 } else { v.len() as i64 };
            match resolve_range(s, e, len) {
                None => 0,
                Some((s, e)) if bits => count_bits(&v, s as u64, e as u64),
                Some((s, e)) => v[s as usize..=e as usize].iter().map(|b| b.count_ones() as i64).sum(),
            }
        }
    };
    ctx.out.int(count);
    Ok(())
}

pub fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let bit = match ctx.args[2] {
        b"1" => true,
        b"0" => false,
        _ => return Err("ERR The bit argument must be 1 or 0.".into()),
    };
    let n = ctx.args.len();
    let start = if n > 3 { Some(ctx.int_arg(3)?) } else { None };
    let end = if n > 4 { Some(ctx.int_arg(4)?) } else { None };
    let bits = bit_unit(ctx, 5)?;
    let Some(v) = ctx.get_str(key)?.map(|b| b.to_vec()) else {
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let len = if bits { v.len() as i64 * 8 } else { v.len() as i64 };
    let Some((s, e)) = resolve_range(start.unwrap_or(0), end.unwrap_or(-1), len) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let (from, to) = if bits { (s as u64, e as u64) } else { (s as u64 * 8, e as u64 * 8 + 7) };
    let found = (from..=to).find(|&b| (v[(b / 8) as usize] & (0x80 >> (b % 8)) != 0) == bit);
    let reply = match found {
        Some(p) => p as i64,
        // Looking for a clear bit with no explicit end: the string is padded with zeros.
        None if !bit && end.is_none() => to as i64 + 1,
        None => -1,
    };
    ctx.out.int(reply);
    Ok(())
}

pub fn bitop(ctx: &mut Ctx) -> CmdResult {
    let op = ctx.args[1].to_ascii_uppercase();
    let dest = ctx.args[2];
    let srcs = &ctx.args[3..];
    if !matches!(op.as_slice(), b"AND" | b"OR" | b"XOR" | b"NOT") {
        return Err(err::SYNTAX.into());
    }
    if op == b"NOT" && srcs.len() != 1 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let mut vals = Vec::with_capacity(srcs.len());
    for &k in srcs {
        vals.push(read_string(ctx, k)?.map(|(v, _)| v).unwrap_or_default());
    }
    let maxlen = vals.iter().map(|v| v.len()).max().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    for (i, r) in res.iter_mut().enumerate() {
        let byte = |v: &Vec<u8>| v.get(i).copied().unwrap_or(0);
        *r = match op.as_slice() {
            b"NOT" => !byte(&vals[0]),
            b"AND" => vals.iter().fold(0xff, |a, v| a & byte(v)),
            b"OR" => vals.iter().fold(0, |a, v| a | byte(v)),
            _ => vals.iter().fold(0, |a, v| a ^ byte(v)),
        };
    }
    if res.is_empty() {
        if ctx.remove(dest).is_some() {
            ctx.propagate(&[b"DEL", dest]);
        }
    } else {
        ctx.store(dest, Value::Str(Blob::from_vec(res)), 0);
        ctx.propagate_as_is();
    }
    ctx.out.int(maxlen as i64);
    Ok(())
}

pub fn bitfield(ctx: &mut Ctx) -> CmdResult {
    super::bitfield::run(ctx, false)
}

pub fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    super::bitfield::run(ctx, true)
}
