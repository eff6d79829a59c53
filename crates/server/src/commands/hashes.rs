//! Hash commands (HSET, HGET, HSCAN, HRANDFIELD, ...), with Redis 7.2's replies,
//! encoding conversions and write-stream effects.

use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::types::{Hash, Item};
use crate::notify::HASH;
use crate::util::{incrbyfloat_text, parse_canonical_i64, parse_f64};
use ferrokv_protocol::ReplyBuf;

fn limits(ctx: &Ctx) -> (usize, usize) {
    (ctx.client.settings.hash_max_listpack_entries, ctx.client.settings.hash_max_listpack_value)
}

fn reply_item(out: &mut ReplyBuf, it: Item) {
    match it {
        Item::Str(s) => out.bulk(s),
        Item::Int(n) => out.bulk_int(n),
    }
}

fn set_pairs(ctx: &mut Ctx) -> Result<i64, Error> {
    if ctx.args.len() % 2 == 1 {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.cmd.name).into());
    }
    let (me, mv) = limits(ctx);
    let (key, args) = (ctx.args[1], ctx.args);
    let h = ctx.write_or_create::<Hash>(key, Hash::new)?;
    let created = h.set_pairs(&args[2..], me, mv) as i64;
    ctx.notify(HASH, "hset", key);
    ctx.propagate_as_is();
    Ok(created)
}

pub fn hset(ctx: &mut Ctx) -> CmdResult {
    let n = set_pairs(ctx)?;
    ctx.out.int(n);
    Ok(())
}

pub fn hmset(ctx: &mut Ctx) -> CmdResult {
    set_pairs(ctx)?;
    ctx.out.ok();
    Ok(())
}

pub fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let (me, mv) = limits(ctx);
    let (key, args) = (ctx.args[1], ctx.args);
    let h = ctx.write_or_create::<Hash>(key, Hash::new)?;
    if h.contains(args[2]) {
        ctx.out.int(0);
        return Ok(());
    }
    h.set(args[2], args[3], me, mv);
    ctx.notify(HASH, "hset", key);
    ctx.propagate_as_is();
    ctx.out.int(1);
    Ok(())
}

pub fn hget(ctx: &mut Ctx) -> CmdResult {
    let (key, field) = (ctx.args[1], ctx.args[2]);
    match ctx.read_out::<Hash>(key)? {
        (Some(h), out) => match h.get(field) {
            Some(v) => reply_item(out, v),
            None => out.null(),
        },
        (None, out) => out.null(),
    }
    Ok(())
}

pub fn hmget(ctx: &mut Ctx) -> CmdResult {
    let (key, args) = (ctx.args[1], ctx.args);
    let (h, out) = ctx.read_out::<Hash>(key)?;
    out.array(args.len() - 2);
    for f in &args[2..] {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => reply_item(out, v),
            None => out.null(),
        }
    }
    Ok(())
}

pub fn hdel(ctx: &mut Ctx) -> CmdResult {
    let (key, args) = (ctx.args[1], ctx.args);
    let Some(h) = ctx.write::<Hash>(key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let deleted = h.remove_fields(&args[2..]) as i64;
    if deleted > 0 {
        ctx.notify(HASH, "hdel", key);
        ctx.drop_if_empty(key);
        ctx.propagate_as_is();
    }
    ctx.out.int(deleted);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let n = ctx.read::<Hash>(key)?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let (key, field) = (ctx.args[1], ctx.args[2]);
    let n = ctx.read::<Hash>(key)?.and_then(|h| h.get(field).map(|v| v.len())).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn hexists(ctx: &mut Ctx) -> CmdResult {
    let (key, field) = (ctx.args[1], ctx.args[2]);
    let n = ctx.read::<Hash>(key)?.is_some_and(|h| h.contains(field));
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum What {
    Keys,
    Vals,
    Both,
}

fn getall(ctx: &mut Ctx, what: What) -> CmdResult {
    let key = ctx.args[1];
    let (h, out) = ctx.read_out::<Hash>(key)?;
    let Some(h) = h else {
        if what == What::Both {
            out.map(0);
        } else {
            out.array(0);
        }
        return Ok(());
    };
    if what == What::Both {
        out.map(h.len());
    } else {
        out.array(h.len());
    }
    for (k, v) in h.iter() {
        if what != What::Vals {
            reply_item(out, k);
        }
        if what != What::Keys {
            reply_item(out, v);
        }
    }
    Ok(())
}

pub fn hkeys(ctx: &mut Ctx) -> CmdResult {
    getall(ctx, What::Keys)
}

pub fn hvals(ctx: &mut Ctx) -> CmdResult {
    getall(ctx, What::Vals)
}

pub fn hgetall(ctx: &mut Ctx) -> CmdResult {
    getall(ctx, What::Both)
}

pub fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let incr = ctx.int_arg(3)?;
    let (me, mv) = limits(ctx);
    let (key, field) = (ctx.args[1], ctx.args[2]);
    let h = ctx.write_or_create::<Hash>(key, Hash::new)?;
    let cur = match h.get(field) {
        None => 0,
        Some(v) => v.as_int().ok_or(Error::from("ERR hash value is not an integer"))?,
    };
    let new = cur.checked_add(incr).ok_or(Error::from(err::OVERFLOW))?;
    h.set(field, itoa::Buffer::new().format(new).as_bytes(), me, mv);
    ctx.notify(HASH, "hincrby", key);
    ctx.propagate_as_is();
    ctx.out.int(new);
    Ok(())
}

/// A long double operand as `string2ld` reads it (`inf` spelled out is allowed; an
/// overflow to infinity is not).
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

pub fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let by = float_operand(ctx.args[3]).ok_or(Error::from(err::NOT_FLOAT))?;
    if !by.is_finite() {
        return Err("ERR value is NaN or Infinity".into());
    }
    let (me, mv) = limits(ctx);
    let (key, field, by_text) = (ctx.args[1], ctx.args[2], ctx.args[3]);
    let h = ctx.write_or_create::<Hash>(key, Hash::new)?;
    let (cur, cur_text) = match h.get(field) {
        None => (0.0, b"0".to_vec()),
        Some(v) => {
            let t = v.to_vec();
            (float_operand(&t).ok_or(Error::from("ERR hash value is not a float"))?, t)
        }
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err("ERR increment would produce NaN or Infinity".into());
    }
    let s = incrbyfloat_text(&cur_text, by_text, new);
    h.set(field, s.as_bytes(), me, mv);
    ctx.notify(HASH, "hincrbyfloat", key);
    // The effect is the resulting value, so replicas never redo float arithmetic.
    ctx.propagate(&[b"HSET", key, field, s.as_bytes()]);
    ctx.out.bulk(s.as_bytes());
    Ok(())
}

/// `strtoul` as SCAN cursors are read: optional sign (a minus wraps), digits only.
fn parse_cursor(s: &[u8]) -> Option<u64> {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s.is_empty() {
        return Some(0);
    }
    if d.is_empty() || !d.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in d {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// MATCH and COUNT of a collection SCAN, from argument `from` on.
fn scan_opts<'a>(args: &[&'a [u8]], from: usize) -> Result<(Option<&'a [u8]>, u64), Error> {
    let (mut pattern, mut count): (Option<&[u8]>, u64) = (None, 10);
    let mut i = from;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args[i].eq_ignore_ascii_case(b"COUNT") && has_value {
            let c = parse_canonical_i64(args[i + 1]).ok_or(Error::from(err::NOT_INT))?;
            if c < 1 {
                return Err(err::SYNTAX.into());
            }
            count = c as u64;
        } else if args[i].eq_ignore_ascii_case(b"MATCH") && has_value {
            // "*" matches everything, the empty field included.
            pattern = if args[i + 1] == b"*" { None } else { Some(args[i + 1]) };
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 2;
    }
    Ok((pattern, count))
}

pub fn hscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(ctx.args[2]).ok_or(Error::from("ERR invalid cursor"))?;
    let (key, args) = (ctx.args[1], ctx.args);
    // Redis answers a missing key or another type before it looks at the options.
    let opts = scan_opts(args, 3);
    let (h, out) = ctx.read_out::<Hash>(key)?;
    let Some(h) = h else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let (pattern, count) = opts?;
    let matches = |f: &[u8]| pattern.is_none_or(|p| crate::util::glob_match(p, f, false));
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = match h {
        Hash::Packed(_) => {
            h.for_each(|f, v| {
                if matches(f) {
                    found.push(f.to_vec());
                    found.push(v.to_vec());
                }
            });
            0
        }
        Hash::Table(t) => {
            let (mut cursor, mut budget, mut sampled) = (cursor, count.saturating_mul(10), 0u64);
            loop {
                cursor = t.scan(cursor, |f, v| {
                    sampled += 1;
                    if matches(f) {
                        found.push(f.to_vec());
                        found.push(v.to_vec());
                    }
                });
                if cursor == 0 || budget == 0 || sampled >= count {
                    break cursor;
                }
                budget -= 1;
            }
        }
    };
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.bulks(found.iter().map(|f| &f[..]));
    Ok(())
}

pub fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() == 2 {
        let key = ctx.args[1];
        let (h, out) = ctx.read_out::<Hash>(key)?;
        match h.and_then(|h| h.random_pair(rand::random::<u64>)) {
            Some((k, _)) => reply_item(out, k),
            None => out.null(),
        }
        return Ok(());
    }
    let l = ctx.int_arg(2)?;
    if l == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    let withvalues = match ctx.args.len() {
        3 => false,
        4 if ctx.is(3, "WITHVALUES") => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return Err("ERR value is out of range".into());
            }
            true
        }
        _ => return Err(err::SYNTAX.into()),
    };
    let key = ctx.args[1];
    let (h, out) = ctx.read_out::<Hash>(key)?;
    let Some(h) = h else {
        out.array(0);
        return Ok(());
    };
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let resp3 = out.resp3;
    let emit = |out: &mut ReplyBuf, k: Item, v: Item| {
        if withvalues && resp3 {
            out.array(2);
        }
        reply_item(out, k);
        if withvalues {
            reply_item(out, v);
        }
    };
    let size = h.len() as u64;
    // Case 1: repeats allowed (or a single pick): independent random picks.
    if !uniq || count == 1 {
        out.array(if withvalues && !resp3 { count as usize * 2 } else { count as usize });
        for _ in 0..count {
            let (k, v) = h.random_pair(rand::random::<u64>).expect("non-empty");
            emit(out, k, v);
        }
        return Ok(());
    }
    let n = count.min(size) as usize;
    out.array(if withvalues && !resp3 { n * 2 } else { n });
    // Case 2: everything.
    if count >= size {
        for (k, v) in h.iter() {
            emit(out, k, v);
        }
        return Ok(());
    }
    // Case 2.5 (packed) and 3: unique picks in storage order, by selection sampling.
    if h.is_packed() || count * 3 > size {
        let mut need = count;
        for (i, (k, v)) in h.iter().enumerate() {
            let left = size - i as u64;
            if rand::random::<u64>() % left < need {
                emit(out, k, v);
                need -= 1;
                if need == 0 {
                    break;
                }
            }
        }
        return Ok(());
    }
    // Case 4: a big table compared to the count: random picks, skipping repeats.
    let mut seen = std::collections::HashSet::with_capacity(count as usize);
    while (seen.len() as u64) < count {
        let (k, v) = h.random_pair(rand::random::<u64>).expect("non-empty");
        if seen.insert(k.to_vec()) {
            emit(out, k, v);
        }
    }
    Ok(())
}
