//! String commands: GET/SET and friends, counters, ranges and LCS.

use super::{err, expire_at_from, CmdResult, Ctx, Error};
use crate::keyspace::value::enc;
use crate::keyspace::{Blob, Value};
use crate::notify::{GENERIC, STRING};
use crate::util::{incrbyfloat_text, parse_canonical_i64, parse_f64};

pub fn get(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    match ctx.get_str_out(key)? {
        (Some(b), out) => out.bulk(b),
        (None, out) => out.null(),
    }
    Ok(())
}

/// How a write changes the key's TTL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    /// Remove any TTL (plain SET).
    Clear,
    Keep,
    At(u64),
}

struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
    /// The client gave PXAT itself: the command already is its own effect.
    pxat: bool,
}

fn parse_set_opts(ctx: &Ctx, from: usize) -> Result<SetOpts, Error> {
    let mut o = SetOpts { nx: false, xx: false, get: false, ttl: Ttl::Clear, pxat: false };
    // The TTL option given (KEEPTTL, EX, PX, EXAT or PXAT): Redis accepts the same one
    // again (the last wins) but not two different ones.
    let mut ttl_word: Option<Vec<u8>> = None;
    // (argument index, unit is ms, absolute): validated once the whole syntax is, as
    // Redis does (a syntax error wins over a bad expire value).
    let mut expire: Option<(usize, bool, bool)> = None;
    let mut i = from;
    while i < ctx.args.len() {
        let a = ctx.args[i];
        let has_next = i + 1 < ctx.args.len();
        let word = a.to_ascii_uppercase();
        match word.as_slice() {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            b"KEEPTTL" if ttl_word.as_ref().is_none_or(|w| *w == word) => {
                o.ttl = Ttl::Keep;
                ttl_word = Some(word);
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if ttl_word.as_ref().is_none_or(|w| *w == word) && has_next => {
                let ms = word == b"PX" || word == b"PXAT";
                let abs = word == b"EXAT" || word == b"PXAT";
                expire = Some((i + 1, ms, abs));
                o.pxat = word == b"PXAT";
                ttl_word = Some(word);
                i += 1;
            }
            _ => return Err(err::SYNTAX.into()),
        }
        i += 1;
    }
    if let Some((at, ms, abs)) = expire {
        o.ttl = Ttl::At(checked_expire(ctx, at, ms, abs)?);
    }
    Ok(o)
}

/// The expire time in `ctx.args[at]` as an absolute unix time in ms, or Redis's error.
fn checked_expire(ctx: &Ctx, at: usize, ms: bool, abs: bool) -> Result<u64, Error> {
    let n = parse_canonical_i64(ctx.args[at]).ok_or(Error::from(err::NOT_INT))?;
    if n <= 0 {
        return Err(format!("ERR invalid expire time in '{}' command", ctx.cmd.name).into());
    }
    expire_at_from(ctx, ctx.args[at], ms, abs, ctx.cmd.name)
}

pub fn set(ctx: &mut Ctx) -> CmdResult {
    let o = parse_set_opts(ctx, 3)?;
    let (key, val) = (ctx.args[1], ctx.args[2]);
    let (exists, old_ttl) = match ctx.lookup(key) {
        Some(e) => {
            if o.get && !matches!(e.value, Value::Str(_)) {
                return Err(err::WRONGTYPE.into());
            }
            (true, e.expire_at)
        }
        None => (false, 0),
    };
    let old = if o.get { ctx.get_str(key)?.map(|b| b.to_vec()) } else { None };
    let write = !(o.nx && exists || o.xx && !exists);
    if write {
        let expire_at = match o.ttl {
            Ttl::Clear => 0,
            Ttl::Keep => old_ttl,
            Ttl::At(t) => t,
        };
        ctx.store(key, Value::Str(Blob::new(val)), expire_at);
        ctx.notify(STRING, "set", key);
        if matches!(o.ttl, Ttl::At(_)) {
            ctx.notify(GENERIC, "expire", key);
        }
        // Like Redis: relative or second-resolution expiries become `SET k v PXAT ms`;
        // anything else is already deterministic and goes out as the client sent it.
        match o.ttl {
            Ttl::At(t) if !o.pxat => {
                let mut b = itoa::Buffer::new();
                ctx.propagate(&[b"SET", key, val, b"PXAT", b.format(t).as_bytes()])
            }
            _ => ctx.propagate_as_is(),
        }
    }
    if o.get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else if write {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
    Ok(())
}

pub fn setnx(ctx: &mut Ctx) -> CmdResult {
    let (key, val) = (ctx.args[1], ctx.args[2]);
    if ctx.exists(key) {
        ctx.out.int(0);
    } else {
        ctx.store(key, Value::Str(Blob::new(val)), 0);
        ctx.notify(STRING, "set", key);
        ctx.propagate(&[b"SET", key, val]);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, ms: bool) -> CmdResult {
    let (key, val) = (ctx.args[1], ctx.args[3]);
    let at = expire_at_from(ctx, ctx.args[2], ms, false, ctx.cmd.name)?;
    ctx.store(key, Value::Str(Blob::new(val)), at);
    ctx.notify(STRING, "set", key);
    ctx.notify(GENERIC, "expire", key);
    let mut b = itoa::Buffer::new();
    ctx.propagate(&[b"SET", key, val, b"PXAT", b.format(at).as_bytes()]);
    ctx.out.ok();
    Ok(())
}

pub fn setex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, false)
}

pub fn psetex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, true)
}

pub fn getset(ctx: &mut Ctx) -> CmdResult {
    let (key, val) = (ctx.args[1], ctx.args[2]);
    let old = ctx.get_str(key)?.map(|b| b.to_vec());
    ctx.store(key, Value::Str(Blob::new(val)), 0);
    ctx.notify(STRING, "set", key);
    ctx.propagate(&[b"SET", key, val]);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn getdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let Some(v) = ctx.get_str(key)?.map(|b| b.to_vec()) else {
        ctx.out.null();
        return Ok(());
    };
    ctx.remove(key);
    ctx.notify(GENERIC, "del", key);
    ctx.propagate(&[b"DEL", key]);
    ctx.out.bulk(&v);
    Ok(())
}

pub fn getex(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let mut ttl: Option<Ttl> = None;
    let mut expire: Option<(usize, bool, bool)> = None;
    // As in SET: the same option may repeat (the last wins), two different ones may not.
    let mut given: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        let w = ctx.args[i].to_ascii_uppercase();
        let has_next = i + 1 < ctx.args.len();
        let fresh = given.as_ref().is_none_or(|g| *g == w);
        match w.as_slice() {
            b"PERSIST" if fresh => {
                ttl = Some(Ttl::Clear);
                given = Some(w);
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if fresh && has_next => {
                expire = Some((i + 1, w == b"PX" || w == b"PXAT", w == b"EXAT" || w == b"PXAT"));
                given = Some(w);
                i += 1;
            }
            _ => return Err(err::SYNTAX.into()),
        }
        i += 1;
    }
    let Some(v) = ctx.get_str(key)?.map(|b| b.to_vec()) else {
        ctx.out.null();
        return Ok(());
    };
    // Like Redis, the expire value is checked only once the key is found to be a string.
    if let Some((at, ms, abs)) = expire {
        ttl = Some(Ttl::At(checked_expire(ctx, at, ms, abs)?));
    }
    match ttl {
        Some(Ttl::At(t)) if t <= ctx.now => {
            ctx.remove(key);
            ctx.notify(GENERIC, "del", key);
            ctx.propagate(&[b"DEL", key]);
        }
        Some(Ttl::At(t)) => {
            ctx.set_expire(key, t);
            ctx.notify(GENERIC, "expire", key);
            let mut b = itoa::Buffer::new();
            ctx.propagate(&[b"PEXPIREAT", key, b.format(t).as_bytes()]);
        }
        Some(Ttl::Clear) if ctx.lookup(key).is_some_and(|e| e.expire_at != 0) => {
            ctx.set_expire(key, 0);
            ctx.notify(GENERIC, "persist", key);
            ctx.propagate(&[b"PERSIST", key]);
        }
        _ => {}
    }
    ctx.out.bulk(&v);
    Ok(())
}

pub fn mget(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.args.len() - 1;
    ctx.out.array(n);
    for i in 1..=n {
        let key = ctx.args[i];
        let v = match ctx.lookup_read(key) {
            Some(e) => match &e.value {
                Value::Str(b) => Some(b.to_vec()),
                #[allow(unreachable_patterns)]
                _ => None,
            },
            None => None,
        };
        match v {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn mset(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.cmd.name).into());
    }
    for p in ctx.args[1..].chunks(2) {
        ctx.store(p[0], Value::Str(Blob::new(p[1])), 0);
        ctx.notify(STRING, "set", p[0]);
    }
    ctx.propagate_as_is();
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.cmd.name).into());
    }
    let args = ctx.args;
    if args[1..].chunks(2).any(|p| ctx.exists(p[0])) {
        ctx.out.int(0);
        return Ok(());
    }
    for p in args[1..].chunks(2) {
        ctx.store(p[0], Value::Str(Blob::new(p[1])), 0);
        ctx.notify(STRING, "set", p[0]);
    }
    ctx.propagate(&[&[b"MSET".as_slice()], &args[1..]].concat());
    ctx.out.int(1);
    Ok(())
}

fn check_size(ctx: &Ctx, total: u64) -> CmdResult {
    if total > ctx.client.settings.proto_max_bulk_len as u64 {
        return Err(err::MAX_STRING.into());
    }
    Ok(())
}

pub fn append(ctx: &mut Ctx) -> CmdResult {
    let (key, add) = (ctx.args[1], ctx.args[2]);
    let (mut v, ttl, existed) = match ctx.lookup(key) {
        Some(e) => match &e.value {
            Value::Str(b) => (b.to_vec(), e.expire_at, true),
            #[allow(unreachable_patterns)]
            _ => return Err(err::WRONGTYPE.into()),
        },
        None => (Vec::new(), 0, false),
    };
    check_size(ctx, v.len() as u64 + add.len() as u64)?;
    v.extend_from_slice(add);
    let len = v.len();
    // A new key is stored like SET would; appending edits the string in place (raw).
    let hint = if existed { enc::RAW } else { enc::AUTO };
    ctx.store_hinted(key, Value::Str(Blob::from_vec(v)), ttl, hint);
    ctx.notify(STRING, "append", key);
    ctx.propagate_as_is();
    ctx.out.int(len as i64);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let n = ctx.get_str(key)?.map(|b| b.len()).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

/// The integer held at `key` (0 when absent) and its TTL.
fn current_int(ctx: &mut Ctx, key: &[u8]) -> Result<(i64, u64), Error> {
    match ctx.lookup(key) {
        None => Ok((0, 0)),
        Some(e) => {
            let ttl = e.expire_at;
            match &e.value {
                Value::Str(b) => Ok((parse_canonical_i64(b).ok_or(Error::from(err::NOT_INT))?, ttl)),
                #[allow(unreachable_patterns)]
                _ => Err(err::WRONGTYPE.into()),
            }
        }
    }
}

fn incr_by(ctx: &mut Ctx, by: i64) -> CmdResult {
    let key = ctx.args[1];
    let (cur, ttl) = current_int(ctx, key)?;
    let new = cur.checked_add(by).ok_or(Error::from(err::OVERFLOW))?;
    let mut b = itoa::Buffer::new();
    ctx.store(key, Value::Str(Blob::new(b.format(new).as_bytes())), ttl);
    ctx.notify(STRING, "incrby", key);
    ctx.propagate_as_is();
    ctx.out.int(new);
    Ok(())
}

pub fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, 1)
}

pub fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, -1)
}

pub fn incrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.int_arg(2)?;
    incr_by(ctx, by)
}

pub fn decrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.int_arg(2)?;
    if by == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_by(ctx, -by)
}

/// A float operand of INCRBYFLOAT: like Redis's `strtold`, text whose value overflows
/// (`1e99999`) is not a float, while the literal `inf` is.
fn float_operand(s: &[u8]) -> Option<f64> {
    let v = parse_f64(s)?;
    let literal = || {
        let t = s.strip_prefix(b"-").or_else(|| s.strip_prefix(b"+")).unwrap_or(s);
        t.eq_ignore_ascii_case(b"inf") || t.eq_ignore_ascii_case(b"infinity")
    };
    if v.is_infinite() && !literal() {
        return None;
    }
    Some(v)
}

pub fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let by = float_operand(ctx.args[2]).ok_or(Error::from(err::NOT_FLOAT))?;
    let (cur, cur_text, ttl) = match ctx.lookup(key) {
        None => (0.0, b"0".to_vec(), 0),
        Some(e) => {
            let ttl = e.expire_at;
            match &e.value {
                Value::Str(b) => (float_operand(b).ok_or(Error::from(err::NOT_FLOAT))?, b.to_vec(), ttl),
                #[allow(unreachable_patterns)]
                _ => return Err(err::WRONGTYPE.into()),
            }
        }
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err("ERR increment would produce NaN or Infinity".into());
    }
    let s = incrbyfloat_text(&cur_text, ctx.args[2], new);
    ctx.store_hinted(key, Value::Str(Blob::new(s.as_bytes())), ttl, enc::NOT_INT);
    ctx.notify(STRING, "incrbyfloat", key);
    // The effect is the resulting value, so replicas never redo float arithmetic.
    ctx.propagate(&[b"SET", key, s.as_bytes(), b"KEEPTTL"]);
    ctx.out.bulk(s.as_bytes());
    Ok(())
}

pub fn getrange(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let (start, end) = (ctx.int_arg(2)?, ctx.int_arg(3)?);
    let v = ctx.get_str(key)?.map(|b| b.to_vec()).unwrap_or_default();
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if len == 0 || s > e {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&v[s as usize..=e as usize]);
    }
    Ok(())
}

pub fn setrange(ctx: &mut Ctx) -> CmdResult {
    let (key, val) = (ctx.args[1], ctx.args[3]);
    let off = ctx.int_arg(2)?;
    if off < 0 {
        return Err("ERR offset is out of range".into());
    }
    let (cur, ttl) = match ctx.lookup(key) {
        None => (None, 0),
        Some(e) => match &e.value {
            Value::Str(b) => (Some(b.to_vec()), e.expire_at),
            #[allow(unreachable_patterns)]
            _ => return Err(err::WRONGTYPE.into()),
        },
    };
    if val.is_empty() {
        ctx.out.int(cur.map(|v| v.len()).unwrap_or(0) as i64);
        return Ok(());
    }
    check_size(ctx, off as u64 + val.len() as u64)?;
    let mut v = cur.unwrap_or_default();
    let end = off as usize + val.len();
    if v.len() < end {
        v.resize(end, 0);
    }
    v[off as usize..end].copy_from_slice(val);
    let len = v.len();
    ctx.store_hinted(key, Value::Str(Blob::from_vec(v)), ttl, enc::RAW);
    ctx.notify(STRING, "setrange", key);
    ctx.propagate_as_is();
    ctx.out.int(len as i64);
    Ok(())
}

pub fn lcs(ctx: &mut Ctx) -> CmdResult {
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < ctx.args.len() {
        if ctx.is(i, "IDX") {
            get_idx = true;
        } else if ctx.is(i, "LEN") {
            get_len = true;
        } else if ctx.is(i, "WITHMATCHLEN") {
            with_len = true;
        } else if ctx.is(i, "MINMATCHLEN") && i + 1 < ctx.args.len() {
            min_len = ctx.int_arg(i + 1)?.max(0);
            i += 1;
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 1;
    }
    if get_len && get_idx {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    let a = lcs_operand(ctx, 1)?;
    let b = lcs_operand(ctx, 2)?;
    let (n, m) = (a.len(), b.len());
    // dp[i][j] = LCS length of a[..i] and b[..j], in one flat table.
    let w = m + 1;
    let mut dp = vec![0u32; (n + 1) * w];
    for i in 1..=n {
        for j in 1..=m {
            dp[i * w + j] = if a[i - 1] == b[j - 1] { dp[(i - 1) * w + j - 1] + 1 } else { dp[(i - 1) * w + j].max(dp[i * w + j - 1]) };
        }
    }
    let total = dp[n * w + m] as usize;
    // Walk back collecting the common string and the matching ranges.
    let mut common = vec![0u8; total];
    let mut idx = total;
    let mut matches: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let mut cur: Option<((usize, usize), (usize, usize))> = None;
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            idx -= 1;
            common[idx] = a[i - 1];
            let (ai, bj) = (i - 1, j - 1);
            cur = match cur {
                Some(((as_, ae), (bs, be))) if as_ == ai + 1 && bs == bj + 1 => Some(((ai, ae), (bj, be))),
                Some(r) => {
                    if (r.0 .1 - r.0 .0 + 1) as i64 >= min_len {
                        matches.push(r);
                    }
                    Some(((ai, ai), (bj, bj)))
                }
                None => Some(((ai, ai), (bj, bj))),
            };
            i -= 1;
            j -= 1;
        } else if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    if let Some(r) = cur {
        if (r.0 .1 - r.0 .0 + 1) as i64 >= min_len {
            matches.push(r);
        }
    }
    if get_idx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(matches.len());
        for ((as_, ae), (bs, be)) in matches {
            ctx.out.array(if with_len { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.int(as_ as i64);
            ctx.out.int(ae as i64);
            ctx.out.array(2);
            ctx.out.int(bs as i64);
            ctx.out.int(be as i64);
            if with_len {
                ctx.out.int((ae - as_ + 1) as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.int(total as i64);
    } else if get_len {
        ctx.out.int(total as i64);
    } else {
        ctx.out.bulk(&common);
    }
    Ok(())
}

fn lcs_operand(ctx: &mut Ctx, i: usize) -> Result<Vec<u8>, Error> {
    let key = ctx.args[i];
    match ctx.lookup_read(key) {
        None => Ok(Vec::new()),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(b.to_vec()),
            #[allow(unreachable_patterns)]
            _ => Err("ERR The specified keys must contain string values".into()),
        },
    }
}
