//! HyperLogLog commands. The value is a plain string holding Redis's exact HLL bytes
//! (the "HYLL" header, sparse or dense registers, the cached cardinality), so GET,
//! DUMP and RDB files are interchangeable with Redis: every edit below produces the
//! same bytes Redis would for the same inputs.

use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::value::enc;
use crate::keyspace::{Blob, Value};

const P: u32 = 14;
const Q: u32 = 64 - P;
const REGISTERS: usize = 1 << P;
const REGISTER_MAX: u8 = 63;
const HDR: usize = 16;
const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const INVALID_HLL: &str = "INVALIDOBJ Corrupted HLL object detected";
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

/// MurmurHash64A (the endian-neutral variant Redis uses), over little-endian words.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the length of its 0..01 run (1..=Q+1).
fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc83b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = v as u32;
    regs[byte] &= !((REGISTER_MAX as u32) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if byte + 1 < regs.len() {
        regs[byte + 1] &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        regs[byte + 1] |= (v >> (8 - fb)) as u8;
    }
}

/// Sets register `i` to `v` if that raises it; returns whether it did.
fn dense_set(regs: &mut [u8], i: usize, v: u8) -> bool {
    if v > dense_get(regs, i) {
        dense_put(regs, i, v);
        true
    } else {
        false
    }
}

/// One sparse opcode: (registers covered, value, bytes taken).
#[inline]
fn opcode(s: &[u8], p: usize) -> (usize, u8, usize) {
    let b = s[p];
    if b & 0xc0 == 0 {
        ((b & 0x3f) as usize + 1, 0, 1)
    } else if b & 0x80 == 0 {
        // The byte after a truncated XZERO reads as the string's terminating zero.
        let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
        ((((b & 0x3f) as usize) << 8 | lo) + 1, 0, 2)
    } else {
        ((b & 3) as usize + 1, ((b >> 2) & 0x1f) + 1, 1)
    }
}

fn val_op(v: u8, len: usize) -> u8 {
    0x80 | ((v - 1) << 2) | (len as u8 - 1)
}

fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        let l = len - 1;
        seq.push(0x40 | (l >> 8) as u8);
        seq.push(l as u8);
    } else {
        seq.push(len as u8 - 1);
    }
}

/// A fresh empty HLL: sparse, one XZERO run over every register, cached count 0.
fn new_hll() -> Vec<u8> {
    let mut v = b"HYLL".to_vec();
    v.push(SPARSE);
    v.resize(HDR, 0);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        push_zeros(&mut v, n);
        left -= n;
    }
    v
}

/// Whether `s` holds a valid HLL header (and a dense one has the exact size).
fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR && &s[..4] == b"HYLL" && s[4] <= SPARSE && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// Rewrites a sparse HLL as dense (header kept, encoding byte changed); `None` if the
/// sparse data does not cover exactly every register.
fn to_dense(s: &[u8]) -> Option<Vec<u8>> {
    if s[4] == DENSE {
        return Some(s.to_vec());
    }
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&s[..HDR]);
    d[4] = DENSE;
    let (mut p, mut idx) = (HDR, 0usize);
    while p < s.len() {
        let (run, val, oplen) = opcode(s, p);
        if val > 0 {
            if idx + run > REGISTERS {
                break;
            }
            for i in idx..idx + run {
                dense_put(&mut d[HDR..], i, val);
            }
        }
        idx += run;
        p += oplen;
    }
    (idx == REGISTERS).then_some(d)
}

/// Sets register `index` to `count` if that raises it, in either encoding, promoting
/// a sparse HLL to dense as Redis does (a value over 32, or the string growing past
/// `max_sparse` bytes). Ok(true) when a register changed; Err on corrupted data.
fn hll_set(s: &mut Vec<u8>, index: usize, count: u8, max_sparse: usize) -> Result<bool, ()> {
    if s[4] == DENSE {
        return Ok(dense_set(&mut s[HDR..], index, count));
    }
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let (mut p, mut first, mut prev, mut span) = (HDR, 0usize, None, 0usize);
    while p < s.len() {
        let (run, _, oplen) = opcode(s, p);
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= s.len() {
        return Err(());
    }
    let (runlen, val, oplen) = opcode(s, p);
    let last = first + runlen - 1;
    // Step 2: the trivial in-place updates, else the split sequence.
    let simple = if val > 0 {
        if val >= count {
            return Ok(false);
        }
        runlen == 1
    } else {
        oplen == 1 && runlen == 1
    };
    if simple {
        s[p] = val_op(count, 1);
    } else {
        let mut seq = Vec::with_capacity(5);
        if val == 0 {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        } else {
            if index != first {
                seq.push(val_op(val, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(val, last - index));
            }
        }
        // Step 3: replace the opcode, unless the string would outgrow the limit.
        if seq.len() > oplen && s.len() + seq.len() - oplen > max_sparse {
            return promote(s, index, count);
        }
        s.splice(p..p + oplen, seq);
    }
    // Step 4: merge adjacent VAL opcodes of equal value, looking at up to five opcodes
    // from the one before the change.
    let mut p = prev.unwrap_or(HDR);
    let mut budget = 5;
    while p < s.len() && budget > 0 {
        budget -= 1;
        let b = s[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < s.len() && s[p + 1] & 0x80 != 0 {
            let (l1, v1, _) = opcode(s, p);
            let (l2, v2, _) = opcode(s, p + 1);
            if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                s[p + 1] = val_op(v1, l1 + l2);
                s.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate(s);
    Ok(true)
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, ()> {
    *s = to_dense(s).ok_or(())?;
    dense_set(&mut s[HDR..], index, count);
    Ok(true)
}

/// Raises `max[i]` to every register of `s`; Err if a sparse HLL is corrupted.
fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), ()> {
    if s[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&s[HDR..], i));
        }
        return Ok(());
    }
    let (mut p, mut i) = (HDR, 0usize);
    while p < s.len() {
        let (run, val, oplen) = opcode(s, p);
        if val > 0 {
            if i + run > REGISTERS {
                break;
            }
            for m in &mut max[i..i + run] {
                *m = (*m).max(val);
            }
        }
        i += run;
        p += oplen;
    }
    if i == REGISTERS {
        Ok(())
    } else {
        Err(())
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's improved estimator over a histogram of register values.
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of an HLL string; Err when a sparse one is corrupted.
fn count(s: &[u8]) -> Result<u64, ()> {
    let mut histo = [0u64; 64];
    if s[4] == DENSE {
        for i in 0..REGISTERS {
            histo[dense_get(&s[HDR..], i) as usize] += 1;
        }
    } else {
        let (mut p, mut idx) = (HDR, 0usize);
        while p < s.len() {
            let (run, val, oplen) = opcode(s, p);
            idx += run;
            histo[val as usize] += run as u64;
            p += oplen;
        }
        if idx != REGISTERS {
            return Err(());
        }
    }
    Ok(estimate(&histo))
}

fn count_raw(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in max.iter() {
        histo[r as usize & 63] += 1;
    }
    estimate(&histo)
}

/// The bytes of a string value, writable in place (its length cannot change).
fn bytes_mut(b: &mut Blob) -> &mut [u8] {
    match b {
        Blob::Inline { len, data } => &mut data[..*len as usize],
        Blob::Heap(h) => h,
    }
}

/// Moves the HLL bytes at `key` out for a write (no copy): `None` when absent,
/// WRONGTYPE for another type or a string that is no HLL. The caller must hand them
/// back with [`put_hll`].
fn take_hll(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    match ctx.lookup(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Str(b) if is_hll(b) => Ok(Some(match std::mem::replace(b, Blob::new(b"")) {
                Blob::Heap(h) => h.into_vec(),
                inline => inline.to_vec(),
            })),
            Value::Str(_) => Err(NOT_HLL.into()),
            _ => Err(err::WRONGTYPE.into()),
        },
    }
}

/// Stores the HLL bytes at `key`, keeping the key's TTL; an edited HLL is a raw string.
fn put_hll(ctx: &mut Ctx, key: &[u8], s: Vec<u8>) {
    match ctx.lookup(key) {
        Some(e) => {
            e.value = Value::Str(Blob::from_vec(s));
            e.enc = enc::RAW;
        }
        None => ctx.store_hinted(key, Value::Str(Blob::from_vec(s)), 0, enc::RAW),
    }
}

/// Merges the HLL at `key` (a PFCOUNT/PFMERGE source, counted as a read) into `max`;
/// returns whether it exists and is dense.
fn merge_key(ctx: &mut Ctx, key: &[u8], max: &mut [u8; REGISTERS]) -> Result<bool, Error> {
    match ctx.lookup_read(key) {
        None => Ok(false),
        Some(e) => match &e.value {
            Value::Str(b) if is_hll(b) => {
                merge_into(max, b).map_err(|_| Error::from(INVALID_HLL))?;
                Ok(b[4] == DENSE)
            }
            Value::Str(_) => Err(NOT_HLL.into()),
            _ => Err(err::WRONGTYPE.into()),
        },
    }
}

pub fn pfadd(ctx: &mut Ctx) -> CmdResult {
    let (key, args) = (ctx.args[1], ctx.args);
    let max_sparse = ctx.client.settings.hll_sparse_max_bytes;
    let (mut s, mut updated) = match take_hll(ctx, key)? {
        Some(s) => (s, false),
        None => (new_hll(), true),
    };
    for ele in &args[2..] {
        let (index, n) = pat_len(ele);
        match hll_set(&mut s, index, n, max_sparse) {
            Ok(true) => updated = true,
            Ok(false) => {}
            Err(()) => {
                // As in Redis, what was changed before the corruption was met stays.
                put_hll(ctx, key, s);
                return Err(INVALID_HLL.into());
            }
        }
    }
    if updated {
        invalidate(&mut s);
    }
    put_hll(ctx, key, s);
    if updated {
        ctx.notify(crate::notify::STRING, "pfadd", key);
        ctx.propagate_as_is();
    }
    ctx.out.int(updated as i64);
    Ok(())
}

pub fn pfcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    if args.len() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        for key in &args[1..] {
            merge_key(ctx, key, &mut max)?;
        }
        ctx.out.int(count_raw(&max) as i64);
        return Ok(());
    }
    let key = args[1];
    let Some(e) = ctx.lookup_read(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let b = match &mut e.value {
        Value::Str(b) if is_hll(b) => b,
        Value::Str(_) => return Err(NOT_HLL.into()),
        _ => return Err(err::WRONGTYPE.into()),
    };
    if b[15] & 0x80 == 0 {
        let card = u64::from_le_bytes(b[8..16].try_into().unwrap());
        ctx.out.int(card as i64);
        return Ok(());
    }
    let card = count(b).map_err(|_| Error::from(INVALID_HLL))?;
    bytes_mut(b)[8..16].copy_from_slice(&card.to_le_bytes());
    e.enc = enc::RAW;
    // Updating the cache changes the value, so Redis propagates the PFCOUNT.
    ctx.propagate_as_is();
    ctx.out.int(card as i64);
    Ok(())
}

pub fn pfmerge(ctx: &mut Ctx) -> CmdResult {
    let (dest, args) = (ctx.args[1], ctx.args);
    let max_sparse = ctx.client.settings.hll_sparse_max_bytes;
    let mut max = Box::new([0u8; REGISTERS]);
    let mut use_dense = false;
    for key in &args[1..] {
        use_dense |= merge_key(ctx, key, &mut max)?;
    }
    let mut s = take_hll(ctx, dest)?.unwrap_or_else(new_hll);
    if use_dense {
        match to_dense(&s) {
            Some(d) => s = d,
            None => {
                put_hll(ctx, dest, s);
                return Err(INVALID_HLL.into());
            }
        }
    }
    for (i, &v) in max.iter().enumerate() {
        if v > 0 {
            // A corrupted destination was already refused while merging.
            let _ = hll_set(&mut s, i, v, max_sparse);
        }
    }
    invalidate(&mut s);
    put_hll(ctx, dest, s);
    ctx.notify(crate::notify::STRING, "pfadd", dest);
    ctx.propagate_as_is();
    ctx.out.ok();
    Ok(())
}

pub fn pfdebug(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[2];
    let sub = ctx.arg_str(1).into_owned();
    let Some(s) = take_hll(ctx, key)? else {
        return Err("ERR The specified key does not exist".into());
    };
    // Hand the bytes straight back; a conversion below stores its own result.
    put_hll(ctx, key, s.clone());
    match sub.to_ascii_lowercase().as_str() {
        "getreg" => {
            let d = if s[4] == SPARSE {
                let d = to_dense(&s).ok_or(Error::from(INVALID_HLL))?;
                put_hll(ctx, key, d.clone());
                ctx.propagate_as_is();
                d
            } else {
                s
            };
            ctx.out.array(REGISTERS);
            for i in 0..REGISTERS {
                ctx.out.int(dense_get(&d[HDR..], i) as i64);
            }
        }
        "decode" => {
            if s[4] != SPARSE {
                return Err("ERR HLL encoding is not sparse".into());
            }
            let mut out = Vec::new();
            let mut p = HDR;
            while p < s.len() {
                let (run, val, oplen) = opcode(&s, p);
                let part = match (val, oplen) {
                    (0, 1) => format!("z:{run}"),
                    (0, _) => format!("Z:{run}"),
                    _ => format!("v:{val},{run}"),
                };
                out.push(part);
                p += oplen;
            }
            ctx.out.bulk(out.join(" ").as_bytes());
        }
        "encoding" => ctx.out.simple(if s[4] == DENSE { b"dense" } else { b"sparse" }),
        "todense" => {
            if s[4] == SPARSE {
                let d = to_dense(&s).ok_or(Error::from(INVALID_HLL))?;
                put_hll(ctx, key, d);
                ctx.propagate_as_is();
                ctx.out.int(1);
            } else {
                ctx.out.int(0);
            }
        }
        _ => return Err(format!("ERR Unknown PFDEBUG subcommand '{sub}'").into()),
    }
    Ok(())
}

/// Checks the register packing and that sparse and dense HLLs agree and stay within
/// the expected error (a shorter run than Redis's ten million elements).
pub fn pfselftest(ctx: &mut Ctx) -> CmdResult {
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..10 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = rand::random::<u8>() & REGISTER_MAX;
            dense_put(&mut regs, i, *b);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = dense_get(&regs, i);
            if v != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {v}").into());
            }
        }
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    let mut sparse = new_hll();
    let max_sparse = ctx.client.settings.hll_sparse_max_bytes;
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = rand::random::<u64>();
    let mut checkpoint = 1u64;
    for j in 1..=1_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let (index, n) = pat_len(&ele);
        dense_set(&mut dense[HDR..], index, n);
        let _ = hll_set(&mut sparse, index, n, max_sparse);
        if j == checkpoint {
            if j < max_sparse as u64 / 2 && sparse[4] != SPARSE {
                return Err("TESTFAILED sparse encoding not used".into());
            }
            let c = count(&dense).unwrap_or(0);
            if count(&sparse) != Ok(c) {
                return Err("TESTFAILED dense/sparse disagree".into());
            }
            let abserr = (checkpoint as i64 - c as i64).unsigned_abs();
            let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
            if abserr > maxerr {
                return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}").into());
            }
            checkpoint *= 10;
        }
    }
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_hll_layout() {
        let s = new_hll();
        assert_eq!(s.len(), 18);
        assert_eq!(&s[16..], &[0x7f, 0xff]);
        assert_eq!(count(&s), Ok(0));
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = new_hll();
        let mut d = to_dense(&s).unwrap();
        for i in 0..2000u32 {
            let (idx, n) = pat_len(format!("e{i}").as_bytes());
            hll_set(&mut s, idx, n, 1 << 20).unwrap();
            hll_set(&mut d, idx, n, 1 << 20).unwrap();
        }
        assert_eq!(s[4], SPARSE);
        assert_eq!(count(&s), count(&d));
        let mut d2 = to_dense(&s).unwrap();
        d2[8..16].copy_from_slice(&d[8..16]);
        assert_eq!(d2, d);
    }
}
