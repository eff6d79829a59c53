//! BITFIELD and BITFIELD_RO: typed integer fields inside a string.
//!
//! `BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset incr]
//! [OVERFLOW WRAP|SAT|FAIL] ...`. Types are `i1`..`i64` and `u1`..`u63`; offsets are
//! bit positions, or `#N` for the N-th field of that width. All arguments are checked
//! before anything runs; the reply has one entry per GET/SET/INCRBY, nil where an
//! OVERFLOW FAIL operation was skipped. Fields are big endian at the bit level, bit 0
//! being the most significant bit of the first byte, as in SETBIT.

use super::bitmaps::{bit_offset, string_bytes_mut, string_for_write};
use super::{err, CmdResult, Ctx, Error};
use crate::util::parse_canonical_i64;

const TYPE_ERR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
struct Op {
    kind: OpKind,
    signed: bool,
    bits: u32,
    offset: u64,
    /// The SET value or the INCRBY increment.
    value: i64,
    overflow: Overflow,
}

/// Parses `i<bits>` / `u<bits>` (lowercase prefix only, as in Redis).
fn parse_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(TYPE_ERR.into()),
    };
    // Redis reads the width as a C string: it ends at the first NUL byte.
    let rest = &arg[1..];
    let rest = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
    let max = if signed { 64 } else { 63 };
    match parse_canonical_i64(rest) {
        Some(n) if (1..=max).contains(&n) => Ok((signed, n as u32)),
        _ => Err(TYPE_ERR.into()),
    }
}

/// Parses every subcommand; returns the operations, whether any writes, and the
/// highest bit a write touches.
fn parse_ops(ctx: &Ctx) -> Result<(Vec<Op>, bool, u64), Error> {
    let args = ctx.args;
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut writes = false;
    let mut highest = 0u64;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = args[j];
        let kind = if sub.eq_ignore_ascii_case(b"get") && remaining >= 2 {
            OpKind::Get
        } else if sub.eq_ignore_ascii_case(b"set") && remaining >= 3 {
            OpKind::Set
        } else if sub.eq_ignore_ascii_case(b"incrby") && remaining >= 3 {
            OpKind::IncrBy
        } else if sub.eq_ignore_ascii_case(b"overflow") && remaining >= 1 {
            let name = args[j + 1];
            overflow = if name.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if name.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if name.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified".into());
            };
            j += 2;
            continue;
        } else {
            return Err(err::SYNTAX.into());
        };
        let (signed, bits) = parse_type(args[j + 1])?;
        let offset = bit_offset(ctx, args[j + 2], bits)?;
        let mut value = 0;
        if kind != OpKind::Get {
            writes = true;
            highest = highest.max(offset + bits as u64 - 1);
            value = ctx.int_arg(j + 3)?;
        }
        ops.push(Op { kind, signed, bits, offset, value, overflow });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Ok((ops, writes, highest))
}

/// Reads `bits` bits at bit `offset` as an unsigned number; bytes past the end of
/// `buf` read as zero.
fn get_unsigned(buf: &[u8], offset: u64, bits: u32) -> u64 {
    let byte = (offset >> 3) as usize;
    let mut window: u128 = 0;
    for i in 0..9 {
        let b = buf.get(byte + i).copied().unwrap_or(0);
        window = (window << 8) | b as u128;
    }
    let shift = 72 - (offset & 7) as u32 - bits;
    let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    (window >> shift) as u64 & mask
}

fn get_signed(buf: &[u8], offset: u64, bits: u32) -> i64 {
    let raw = get_unsigned(buf, offset, bits);
    if bits < 64 && raw & (1u64 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset` (inside `buf`).
fn set_bits(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let bit = (value >> (bits as u64 - 1 - j)) & 1;
        let pos = offset + j;
        let mask = 0x80u8 >> (pos & 7);
        let b = &mut buf[(pos >> 3) as usize];
        if bit != 0 {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// Sign-extends the low `bits` bits of `v`.
fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits == 64 {
        return v as i64;
    }
    let low = v & ((1u64 << bits) - 1);
    if low & (1u64 << (bits - 1)) != 0 {
        (low | (u64::MAX << bits)) as i64
    } else {
        low as i64
    }
}

/// Outcome of storing `value + incr` into a signed field: `None` when it fits,
/// otherwise the value to store instead under `ow` (ignored for FAIL).
///
/// The range checks follow Redis's 64-bit arithmetic exactly, including its wrapping
/// intermediate `max - value`: a SET far below the minimum of a narrow type (or any
/// value below the minimum of i63) counts as an overflow upwards, so SAT stores the
/// maximum there, as Redis does.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || sign_extend((value as u64).wrapping_add(incr as u64), bits);
    let up = value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr);
    if up {
        return Some(if ow == Overflow::Sat { max } else { wrapped() });
    }
    let down = value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr);
    if down {
        return Some(if ow == Overflow::Sat { min } else { wrapped() });
    }
    None
}

/// Same for unsigned fields; `value` is the field (or the SET value taken as u64, so
/// a negative SET overflows upwards and saturates to the maximum, as in Redis).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max: u64 = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrapped = || {
        let r = value.wrapping_add(incr as u64);
        if bits == 64 {
            r
        } else {
            r & max
        }
    };
    if value > max || (incr > 0 && incr > max_incr) {
        return Some(if ow == Overflow::Sat { max } else { wrapped() });
    }
    if incr < 0 && incr < min_incr {
        return Some(if ow == Overflow::Sat { 0 } else { wrapped() });
    }
    None
}

/// Runs one SET/INCRBY on `buf`: the reply (None for a FAIL overflow) and whether the
/// field's value changed.
fn write_op(buf: &mut [u8], op: &Op) -> (Option<i64>, bool) {
    if op.signed {
        let old = get_signed(buf, op.offset, op.bits);
        let (target, incr) = match op.kind {
            OpKind::IncrBy => (old, op.value),
            _ => (op.value, 0),
        };
        let over = signed_overflow(target, incr, op.bits, op.overflow);
        if over.is_some() && op.overflow == Overflow::Fail {
            return (None, false);
        }
        let new = over.unwrap_or_else(|| target.wrapping_add(incr));
        set_bits(buf, op.offset, op.bits, new as u64);
        let reply = if op.kind == OpKind::IncrBy { new } else { old };
        (Some(reply), old != new)
    } else {
        let old = get_unsigned(buf, op.offset, op.bits);
        let (target, incr) = match op.kind {
            OpKind::IncrBy => (old, op.value),
            _ => (op.value as u64, 0),
        };
        let over = unsigned_overflow(target, incr, op.bits, op.overflow);
        if over.is_some() && op.overflow == Overflow::Fail {
            return (None, false);
        }
        let new = over.unwrap_or_else(|| target.wrapping_add(incr as u64));
        set_bits(buf, op.offset, op.bits, new);
        let reply = if op.kind == OpKind::IncrBy { new } else { old };
        (Some(reply as i64), old != new)
    }
}

fn read_op(buf: &[u8], op: &Op) -> i64 {
    if op.signed {
        get_signed(buf, op.offset, op.bits)
    } else {
        get_unsigned(buf, op.offset, op.bits) as i64
    }
}

pub fn run(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let key = ctx.args[1];
    let (ops, writes, highest) = parse_ops(ctx)?;
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    if !writes {
        // Only GETs: a read lookup, a missing key reads as zeros and is not created.
        let empty: &[u8] = &[];
        let buf = ctx.get_str(key)?.map_or(empty, |b| b.as_slice());
        replies.extend(ops.iter().map(|op| Some(read_op(buf, op))));
    } else {
        if readonly {
            return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
        }
        let dirty = string_for_write(ctx, key, highest)?;
        let buf = string_bytes_mut(ctx, key);
        let mut changes = 0u64;
        for op in &ops {
            if op.kind == OpKind::Get {
                replies.push(Some(read_op(buf, op)));
                continue;
            }
            let (reply, changed) = write_op(buf, op);
            if reply.is_some() && (dirty || changed) {
                changes += 1;
            }
            replies.push(reply);
        }
        // Redis counts one change per effective SET/INCRBY. It also creates or pads
        // the key when every write failed (OVERFLOW FAIL) yet propagates nothing
        // then; we propagate that case too, so replicas and the AOF see the key.
        if changes > 0 {
            ctx.notify(crate::notify::STRING, "setbit", key);
        }
        if changes > 0 || dirty {
            ctx.propagate_as_is();
            if changes > 1 {
                ctx.srv.dirty.fetch_add(changes - 1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => ctx.out.int(n),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_access() {
        let mut buf = vec![0u8; 3];
        set_bits(&mut buf, 7, 5, 23);
        assert_eq!(buf, [0b0000_0001, 0b0111_0000, 0]);
        assert_eq!(get_unsigned(&buf, 7, 5), 23);
        assert_eq!(get_signed(&buf, 7, 5), -9);
        assert_eq!(get_unsigned(&buf, 20, 64), 0);
        let mut b = vec![0u8; 9];
        set_bits(&mut b, 3, 64, u64::MAX);
        assert_eq!(get_signed(&b, 3, 64), -1);
        assert_eq!(get_unsigned(&b, 2, 63), u64::MAX >> 2);
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(signed_overflow(100, 257, 8, Overflow::Wrap), Some(101));
        assert_eq!(signed_overflow(100, 257, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(100, -255, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(100, 27, 8, Overflow::Sat), None);
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(i64::MIN, 0, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(-129, 0, 8, Overflow::Sat), Some(-128));
        assert_eq!(unsigned_overflow(100, 257, 8, Overflow::Wrap), Some(101));
        assert_eq!(unsigned_overflow(100, -255, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Overflow::Wrap), Some(255));
        assert_eq!(unsigned_overflow(5, -5, 8, Overflow::Fail), None);
    }
}
