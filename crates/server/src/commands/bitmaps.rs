//! Bitmap commands on string values: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD.
//!
//! Bit 0 is the most significant bit of the first byte, as in Redis. Argument checks
//! happen in the order Redis makes them, so the same bad command gets the same error.

use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::value::enc;
use crate::keyspace::{Blob, Value};
use crate::util::parse_canonical_i64;

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// Parses a bit offset as Redis does: a canonical integer, not negative, whose byte
/// lies below `proto-max-bulk-len`. With `hash_bits > 0` (BITFIELD) the form `#N`
/// is accepted too and means `N * hash_bits`.
pub(crate) fn bit_offset(ctx: &Ctx, arg: &[u8], hash_bits: u32) -> Result<u64, Error> {
    let (hash, digits) = match arg.first() {
        Some(b'#') if hash_bits > 0 => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut n = parse_canonical_i64(digits).ok_or(Error::from(BIT_OFFSET_ERR))?;
    if hash {
        // Redis multiplies in 64-bit arithmetic; overflowing values wrap there too.
        n = n.wrapping_mul(hash_bits as i64);
    }
    if n < 0 || (n >> 3) >= ctx.client.settings.proto_max_bulk_len {
        return Err(BIT_OFFSET_ERR.into());
    }
    Ok(n as u64)
}

/// Makes sure the string at `key` can address bit `max_bit`: creates it (zero filled)
/// when absent, pads it with zeros when shorter, keeping its TTL. Returns whether the
/// key was created or grown (Redis's `dirty`), WRONGTYPE for another type. Like Redis
/// (which unshares the value to edit it in place), the value is `raw` afterwards.
pub(crate) fn string_for_write(ctx: &mut Ctx, key: &[u8], max_bit: u64) -> Result<bool, Error> {
    let need = (max_bit >> 3) as usize + 1;
    let (grown, ttl) = match ctx.lookup(key) {
        None => (vec![0u8; need], 0),
        Some(e) => match &e.value {
            Value::Str(b) if b.len() >= need => {
                e.enc = enc::RAW;
                return Ok(false);
            }
            Value::Str(b) => {
                let mut v = Vec::with_capacity(need);
                v.extend_from_slice(b);
                v.resize(need, 0);
                (v, e.expire_at)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(err::WRONGTYPE.into()),
        },
    };
    ctx.store_hinted(key, Value::Str(Blob::from_vec(grown)), ttl, enc::RAW);
    Ok(true)
}

/// The bytes of the string at `key`, to modify in place (its length stays the same).
/// Call after [`string_for_write`].
pub(crate) fn string_bytes_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> &'c mut [u8] {
    match ctx.lookup(key).map(|e| &mut e.value) {
        Some(Value::Str(Blob::Heap(b))) => &mut b[..],
        Some(Value::Str(Blob::Inline { len, data })) => &mut data[..*len as usize],
        #[allow(unreachable_patterns)]
        _ => unreachable!("string_bytes_mut after string_for_write"),
    }
}

pub fn setbit(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let off = bit_offset(ctx, ctx.args[2], 0)?;
    let on = match parse_canonical_i64(ctx.args[3]) {
        Some(1) => true,
        Some(0) => false,
        _ => return Err("ERR bit is not an integer or out of range".into()),
    };
    let dirty = string_for_write(ctx, key, off)?;
    let v = string_bytes_mut(ctx, key);
    let byte = (off >> 3) as usize;
    let mask = 0x80u8 >> (off & 7);
    let old = v[byte] & mask != 0;
    if dirty || old != on {
        if on {
            v[byte] |= mask;
        } else {
            v[byte] &= !mask;
        }
        ctx.notify(crate::notify::STRING, "setbit", key);
        ctx.propagate_as_is();
    }
    ctx.out.int(old as i64);
    Ok(())
}

pub fn getbit(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let off = bit_offset(ctx, ctx.args[2], 0)?;
    let bit = match ctx.get_str(key)? {
        Some(b) => {
            let byte = (off >> 3) as usize;
            byte < b.len() && b[byte] & (0x80 >> (off & 7)) != 0
        }
        None => false,
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// Clamps a [start, end] range (bytes or bits, negative counting from the end)
/// against a length the way BITCOUNT and BITPOS do; `None` when it is empty.
fn resolve_range(start: i64, end: i64, len: i64) -> Option<(u64, u64)> {
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e {
        None
    } else {
        Some((s as u64, e as u64))
    }
}

/// Parses a BIT|BYTE unit argument; true for BIT.
fn parse_unit(arg: &[u8]) -> Result<bool, Error> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(err::SYNTAX.into())
    }
}

/// Set bits in `v`.
fn popcount(v: &[u8]) -> u64 {
    let mut chunks = v.chunks_exact(8);
    let mut n: u64 = chunks.by_ref().map(|c| u64::from_ne_bytes(c.try_into().unwrap()).count_ones() as u64).sum();
    n += chunks.remainder().iter().map(|b| b.count_ones() as u64).sum::<u64>();
    n
}

/// Mask of the bits of one byte that lie in [from, to] (bit positions in the string).
fn byte_mask(byte: u64, from: u64, to: u64) -> u8 {
    let lo = if byte == from >> 3 { from & 7 } else { 0 };
    let hi = if byte == to >> 3 { to & 7 } else { 7 };
    (0xffu8 >> lo) & (0xffu8 << (7 - hi))
}

/// Set bits in bit positions [from, to] of `v` (both inside it).
fn count_bit_range(v: &[u8], from: u64, to: u64) -> u64 {
    let (fb, tb) = (from >> 3, to >> 3);
    if fb == tb {
        return (v[fb as usize] & byte_mask(fb, from, to)).count_ones() as u64;
    }
    let first = (v[fb as usize] & byte_mask(fb, from, to)).count_ones() as u64;
    let last = (v[tb as usize] & byte_mask(tb, from, to)).count_ones() as u64;
    first + last + popcount(&v[fb as usize + 1..tb as usize])
}

/// Index of the first byte of `v` that differs from `skip`.
fn first_byte_not(v: &[u8], skip: u8) -> Option<usize> {
    let word = u64::from_ne_bytes([skip; 8]);
    let mut i = 0;
    for c in v.chunks_exact(8) {
        if u64::from_ne_bytes(c.try_into().unwrap()) != word {
            break;
        }
        i += 8;
    }
    v[i..].iter().position(|&b| b != skip).map(|p| p + i)
}

/// First bit equal to `bit` in bit positions [from, to] of `v` (both inside it).
fn find_bit(v: &[u8], bit: bool, from: u64, to: u64) -> Option<u64> {
    let (fb, tb) = (from >> 3, to >> 3);
    let probe = |i: u64| -> Option<u64> {
        let b = v[i as usize];
        let t = if bit { b } else { !b } & byte_mask(i, from, to);
        (t != 0).then(|| i * 8 + t.leading_zeros() as u64)
    };
    if let Some(p) = probe(fb) {
        return Some(p);
    }
    if tb > fb + 1 {
        let mid = &v[fb as usize + 1..tb as usize];
        if let Some(i) = first_byte_not(mid, if bit { 0 } else { 0xff }) {
            return probe(fb + 1 + i as u64);
        }
    }
    if tb > fb {
        return probe(tb);
    }
    None
}

enum CountRange {
    All,
    /// Both ends negative with start > end: Redis answers 0 before looking further.
    Empty,
    Range(i64, i64, bool),
}

fn bitcount_args(ctx: &Ctx) -> Result<CountRange, Error> {
    let a = ctx.args;
    match a.len() {
        2 => Ok(CountRange::All),
        4 | 5 => {
            let start = ctx.int_arg(2)?;
            let end = ctx.int_arg(3)?;
            if start < 0 && end < 0 && start > end {
                return Ok(CountRange::Empty);
            }
            let bits = if a.len() == 5 { parse_unit(a[4])? } else { false };
            Ok(CountRange::Range(start, end, bits))
        }
        _ => Err(err::SYNTAX.into()),
    }
}

pub fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    // Redis looks the key up first: a missing key counts 0 whatever the arguments.
    let parsed = bitcount_args(ctx);
    let count = match ctx.get_str(key)? {
        None => 0,
        Some(v) => match parsed? {
            CountRange::All => popcount(v),
            CountRange::Empty => 0,
            CountRange::Range(s, e, bits) => {
                let len = if bits { v.len() as i64 * 8 } else { v.len() as i64 };
                match resolve_range(s, e, len) {
                    None => 0,
                    Some((s, e)) if bits => count_bit_range(v, s, e),
                    Some((s, e)) => popcount(&v[s as usize..=e as usize]),
                }
            }
        },
    };
    ctx.out.int(count as i64);
    Ok(())
}

/// BITPOS's optional range: (start, end if given, BIT unit).
fn bitpos_args(ctx: &Ctx) -> Result<(i64, Option<i64>, bool), Error> {
    let a = ctx.args;
    match a.len() {
        3 => Ok((0, None, false)),
        4..=6 => {
            let start = ctx.int_arg(3)?;
            let bits = if a.len() == 6 { parse_unit(a[5])? } else { false };
            let end = if a.len() >= 5 { Some(ctx.int_arg(4)?) } else { None };
            Ok((start, end, bits))
        }
        _ => Err(err::SYNTAX.into()),
    }
}

pub fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let bit = match ctx.int_arg(2)? {
        1 => true,
        0 => false,
        _ => return Err("ERR The bit argument must be 1 or 0.".into()),
    };
    let parsed = bitpos_args(ctx);
    let pos = match ctx.get_str(key)? {
        // A missing key is an endless run of zeros.
        None => {
            if bit {
                -1
            } else {
                0
            }
        }
        Some(v) => {
            let (start, end, bits) = parsed?;
            let len = if bits { v.len() as i64 * 8 } else { v.len() as i64 };
            match resolve_range(start, end.unwrap_or(-1), len) {
                None => -1,
                Some((s, e)) => {
                    let (from, to) = if bits { (s, e) } else { (s * 8, e * 8 + 7) };
                    match find_bit(v, bit, from, to) {
                        Some(p) => p as i64,
                        // Looking for a clear bit with no explicit end: the string
                        // continues with zeros past its end.
                        None if !bit && end.is_none() => to as i64 + 1,
                        None => -1,
                    }
                }
            }
        }
    };
    ctx.out.int(pos);
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
        vals.push(ctx.get_str(k)?.map(|b| b.to_vec()).unwrap_or_default());
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
    // Redis propagates the command itself, also when it only deleted the target.
    if res.is_empty() {
        if ctx.remove(dest).is_some() {
            ctx.notify(crate::notify::GENERIC, "del", dest);
            ctx.propagate_as_is();
        }
    } else {
        ctx.store_hinted(dest, Value::Str(Blob::from_vec(res)), 0, enc::RAW);
        ctx.notify(crate::notify::STRING, "set", dest);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_search() {
        assert_eq!(byte_mask(0, 0, 7), 0xff);
        assert_eq!(byte_mask(0, 3, 5), 0b0001_1100);
        assert_eq!(byte_mask(1, 3, 12), 0b1111_1000);
        let v = [0x00, 0xff, 0x00];
        assert_eq!(find_bit(&v, true, 0, 23), Some(8));
        assert_eq!(find_bit(&v, false, 8, 15), None);
        assert_eq!(find_bit(&v, false, 9, 23), Some(16));
        assert_eq!(count_bit_range(&v, 6, 17), 8);
        let big: Vec<u8> = (0..100).map(|i| if i == 77 { 0x10 } else { 0 }).collect();
        assert_eq!(find_bit(&big, true, 3, 799), Some(77 * 8 + 3));
        assert_eq!(popcount(&big), 1);
    }
}
