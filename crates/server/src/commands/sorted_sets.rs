//! Sorted set commands, including the blocking pops.
//!
//! Every range form (rank, score, lex; forward or reversed; LIMIT) is turned into an
//! interval of ascending ranks of the [`ZSet`], so the commands share one walk.

use std::collections::HashMap;

use ferrokv_protocol::reply::format_double;
use ferrokv_protocol::ReplyBuf;

use super::table::Slots;
use super::{err, CmdResult, Ctx, Error, Typed};
use crate::keyspace::types::zset::{Lex, Limits};
use crate::keyspace::types::{Set, ZSet};
use crate::keyspace::{Keyspace, Value};
use crate::notify::{GENERIC, ZSET};

const MINMAX_FLOAT: &str = "ERR min or max is not a float";
const MINMAX_LEX: &str = "ERR min or max not valid string range item";

/// The listpack thresholds of this client's settings (geo stores use them too).
pub fn limits(ctx: &Ctx) -> Limits {
    let s = &ctx.client.settings;
    Limits { entries: s.zset_max_listpack_entries, value: s.zset_max_listpack_value }
}

/// A score argument (`getDoubleFromObject`): no spaces, no NaN.
fn parse_score(a: &[u8]) -> Result<f64, Error> {
    crate::util::parse_f64(a).ok_or(Error::from(err::NOT_FLOAT))
}

/// Like `strtod` over the whole argument: leading spaces allowed, NaN refused.
fn strtod(a: &[u8]) -> Option<f64> {
    let start = a.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(a.len());
    crate::util::parse_f64(&a[start..])
}

/// One end of a score range: `(` makes it exclusive.
pub fn score_bound(a: &[u8]) -> Option<(f64, bool)> {
    match a.first() {
        Some(b'(') => strtod(&a[1..]).map(|v| (v, true)),
        _ => strtod(a).map(|v| (v, false)),
    }
}

pub fn lex_bound(a: &[u8]) -> Option<Lex<'_>> {
    match a.first() {
        Some(b'+') if a.len() == 1 => Some(Lex::PosInf),
        Some(b'-') if a.len() == 1 => Some(Lex::NegInf),
        Some(b'(') => Some(Lex::Excl(&a[1..])),
        Some(b'[') => Some(Lex::Incl(&a[1..])),
        _ => None,
    }
}

/// Replies members, with scores as RESP2 flat pairs or RESP3 [member, score] arrays.
pub fn reply_elems(out: &mut ReplyBuf, items: &[(Vec<u8>, f64)], withscores: bool) {
    if withscores && !out.resp3 {
        out.array(items.len() * 2);
    } else {
        out.array(items.len());
    }
    for (m, s) in items {
        if withscores && out.resp3 {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(*s);
        }
    }
}

/// Normalises a rank range as Redis does, end exclusive; `None` when empty.
fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    crate::util::clamp_range(start, end, len).map(|(s, e)| (s, e + 1))
}

/// Slots for commands whose keys follow a numkeys argument: every argument after the
/// command name is locked (option words cost a lock at most), so a handler never
/// touches an unlocked shard whatever the arguments say.
pub fn numkeys_slots(args: &[&[u8]], db: usize, _ndbs: usize) -> Result<Slots, Error> {
    Ok(args[1..].iter().map(|a| Keyspace::slot(db, a)).collect())
}

// ---- ZADD / ZINCRBY ----

/// ZADD flags, for [`zadd_one`] (GEOADD shares ZADD's NX/XX semantics).
pub const NX: u8 = 1;
pub const XX: u8 = 2;
pub const GT: u8 = 4;
pub const LT: u8 = 8;
pub const INCR: u8 = 16;

pub fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, 0)
}

pub fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, INCR)
}

fn zadd_generic(ctx: &mut Ctx, mut flags: u8) -> CmdResult {
    let key = ctx.args[1];
    let mut ch = false;
    let mut idx = 2;
    while idx < ctx.args.len() {
        let a = ctx.args[idx];
        if a.eq_ignore_ascii_case(b"nx") {
            flags |= NX;
        } else if a.eq_ignore_ascii_case(b"xx") {
            flags |= XX;
        } else if a.eq_ignore_ascii_case(b"ch") {
            ch = true;
        } else if a.eq_ignore_ascii_case(b"incr") {
            flags |= INCR;
        } else if a.eq_ignore_ascii_case(b"gt") {
            flags |= GT;
        } else if a.eq_ignore_ascii_case(b"lt") {
            flags |= LT;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = ctx.args.len() - idx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(err::SYNTAX.into());
    }
    let elements = elements / 2;
    let has = |f: u8| flags & f != 0;
    if has(NX) && has(XX) {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (has(GT) && has(NX)) || (has(LT) && has(NX)) || (has(GT) && has(LT)) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if has(INCR) && elements > 1 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    let scores = (0..elements).map(|j| parse_score(ctx.args[idx + 2 * j])).collect::<Result<Vec<f64>, Error>>()?;
    let lim = limits(ctx);
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
    let mut last = 0.0;
    let mut failed = false;
    if ctx.write::<ZSet>(key)?.is_none() {
        if has(XX) {
            reply_zadd(ctx, flags, ch, 0, 0, 0, 0.0);
            return Ok(());
        }
        let z = ZSet::with_hint(elements, ctx.args[idx + 1].len(), lim);
        ctx.store(key, z.into_value(), 0);
    }
    let args = ctx.args;
    let z = ctx.write::<ZSet>(key)?.expect("exists");
    if z.is_packed() && elements > lim.entries {
        z.convert_to_tree();
    }
    for (j, &score) in scores.iter().enumerate() {
        let member = args[idx + 2 * j + 1];
        match zadd_one(z, member, score, flags, lim) {
            None => {
                failed = true;
                break;
            }
            Some(Outcome::Nop) => {}
            Some(Outcome::Added(s)) => {
                added += 1;
                processed += 1;
                last = s;
            }
            Some(Outcome::Updated(s)) => {
                updated += 1;
                processed += 1;
                last = s;
            }
            Some(Outcome::Same(s)) => {
                processed += 1;
                last = s;
            }
        }
    }
    if added + updated > 0 {
        ctx.notify(ZSET, if has(INCR) { "zincr" } else { "zadd" }, key);
        ctx.propagate_as_is();
    }
    if failed {
        ctx.drop_if_empty(key);
        return Err("ERR resulting score is not a number (NaN)".into());
    }
    reply_zadd(ctx, flags, ch, added, updated, processed, last);
    Ok(())
}

fn reply_zadd(ctx: &mut Ctx, flags: u8, ch: bool, added: i64, updated: i64, processed: i64, score: f64) {
    if flags & INCR != 0 {
        if processed > 0 {
            ctx.out.double(score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
}

/// What [`zadd_one`] did; the score is the member's score afterwards.
pub enum Outcome {
    Nop,
    Added(f64),
    Updated(f64),
    Same(f64),
}

/// One member of ZADD with Redis's flag semantics; `None` when the result is NaN.
pub fn zadd_one(z: &mut ZSet, member: &[u8], score: f64, flags: u8, lim: Limits) -> Option<Outcome> {
    match z.score(member) {
        Some(cur) => {
            if flags & NX != 0 {
                return Some(Outcome::Nop);
            }
            let mut s = score;
            if flags & INCR != 0 {
                s += cur;
                if s.is_nan() {
                    return None;
                }
            }
            if (flags & LT != 0 && s >= cur) || (flags & GT != 0 && s <= cur) {
                return Some(Outcome::Nop);
            }
            if s != cur {
                z.set(member, s, lim);
                Some(Outcome::Updated(s))
            } else {
                Some(Outcome::Same(s))
            }
        }
        None if flags & XX != 0 => Some(Outcome::Nop),
        None => {
            z.set(member, score, lim);
            Some(Outcome::Added(score))
        }
    }
}

// ---- simple reads ----

pub fn zcard(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.read::<ZSet>(ctx.args[1])?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx) -> CmdResult {
    let m = ctx.args[2];
    let (z, out) = ctx.read_out::<ZSet>(ctx.args[1])?;
    match z.and_then(|z| z.score(m)) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (z, out) = ctx.read_out::<ZSet>(args[1])?;
    out.array(args.len() - 2);
    for m in &args[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    Ok(())
}

pub fn zcount(ctx: &mut Ctx) -> CmdResult {
    let (Some((min, minex)), Some((max, maxex))) = (score_bound(ctx.args[2]), score_bound(ctx.args[3])) else {
        return Err(MINMAX_FLOAT.into());
    };
    let n = ctx.read::<ZSet>(ctx.args[1])?.map_or(0, |z| {
        let (a, b) = z.score_range(min, minex, max, maxex);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (Some(min), Some(max)) = (lex_bound(args[2]), lex_bound(args[3])) else {
        return Err(MINMAX_LEX.into());
    };
    let n = ctx.read::<ZSet>(args[1])?.map_or(0, |z| {
        let (a, b) = z.lex_range(min, max);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, false)
}

pub fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    zrank_generic(ctx, true)
}

fn zrank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() > 4 {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.cmd.name).into());
    }
    let withscore = args.len() == 4;
    if withscore && !ctx.is(3, "withscore") {
        return Err(err::SYNTAX.into());
    }
    let (z, out) = ctx.read_out::<ZSet>(args[1])?;
    let found = z.and_then(|z| z.rank(args[2]).map(|(r, s)| (if rev { z.len() - 1 - r } else { r }, s)));
    match found {
        Some((r, s)) if withscore => {
            out.array(2);
            out.int(r as i64);
            out.double(s);
        }
        Some((r, _)) => out.int(r as i64),
        None if withscore => out.null_array(),
        None => out.null(),
    }
    Ok(())
}

// ---- ranges ----

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// ZRANGE and its older forms; `store` is ZRANGESTORE (its key arguments start at 2).
fn zrange_generic(ctx: &mut Ctx, start: usize, store: bool, mut rtype: RangeType, mut rev: Option<bool>) -> CmdResult {
    let args = ctx.args;
    let key = args[start];
    let (mut minidx, mut maxidx) = (start + 1, start + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        if !store && ctx.is(j, "withscores") {
            withscores = true;
        } else if ctx.is(j, "limit") && left >= 2 {
            offset = ctx.int_arg(j + 1)?;
            limit = ctx.int_arg(j + 2)?;
            j += 2;
        } else if rev.is_none() && ctx.is(j, "rev") {
            rev = Some(true);
        } else if rtype == RangeType::Auto && ctx.is(j, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && ctx.is(j, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(err::SYNTAX.into());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX".into());
    }
    if withscores && rtype == RangeType::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Spec<'a> {
        Rank(i64, i64),
        Score(f64, bool, f64, bool),
        Lex(Lex<'a>, Lex<'a>),
    }
    let spec = match rtype {
        RangeType::Score => match (score_bound(args[minidx]), score_bound(args[maxidx])) {
            (Some((a, ax)), Some((b, bx))) => Spec::Score(a, ax, b, bx),
            _ => return Err(MINMAX_FLOAT.into()),
        },
        RangeType::Lex => match (lex_bound(args[minidx]), lex_bound(args[maxidx])) {
            (Some(a), Some(b)) => Spec::Lex(a, b),
            _ => return Err(MINMAX_LEX.into()),
        },
        _ => Spec::Rank(ctx.int_arg(minidx)?, ctx.int_arg(maxidx)?),
    };
    let items = match ctx.read::<ZSet>(key)? {
        None => Vec::new(),
        Some(z) => {
            let len = z.len();
            let lim = if limit < 0 { None } else { Some(limit as usize) };
            let window = |a: usize, b: usize| {
                if offset < 0 || (offset > 0 && offset as usize >= len) {
                    Vec::new()
                } else {
                    z.collect(a, b, rev, offset as usize, lim)
                }
            };
            match spec {
                Spec::Rank(s, e) => match rank_range(s, e, len) {
                    None => Vec::new(),
                    Some((a, b)) if rev => z.collect(len - b, len - a, true, 0, None),
                    Some((a, b)) => z.collect(a, b, false, 0, None),
                },
                Spec::Score(a, ax, b, bx) => {
                    let (x, y) = z.score_range(a, ax, b, bx);
                    window(x, y)
                }
                Spec::Lex(a, b) => {
                    let (x, y) = z.lex_range(a, b);
                    window(x, y)
                }
            }
        }
    };
    if store {
        let n = items.len();
        store_result(ctx, args[1], items, "zrangestore");
        ctx.out.int(n as i64);
    } else {
        reply_elems(ctx.out, &items, withscores);
    }
    Ok(())
}

/// Stores a computed result at `dst` (deleting it when empty) and propagates the
/// command when the keyspace changed; `event` is the notification of a stored result.
pub fn store_result(ctx: &mut Ctx, dst: &[u8], items: Vec<(Vec<u8>, f64)>, event: &str) {
    if items.is_empty() {
        if ctx.remove(dst).is_some() {
            ctx.notify(GENERIC, "del", dst);
            ctx.propagate_as_is();
        }
        return;
    }
    let lim = limits(ctx);
    let maxlen = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSet::with_hint(items.len(), maxlen, lim);
    for (m, s) in &items {
        z.set(m, *s, lim);
    }
    ctx.store(dst, z.into_value(), 0);
    ctx.notify(ZSET, event, dst);
    ctx.propagate_as_is();
}

pub fn zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, false, RangeType::Auto, None)
}

pub fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 2, true, RangeType::Auto, None)
}

pub fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, false, RangeType::Rank, Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, false, RangeType::Score, Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, false, RangeType::Score, Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, false, RangeType::Lex, Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, false, RangeType::Lex, Some(true))
}

// ---- removals ----

pub fn zrem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let mut deleted = 0;
    if let Some(z) = ctx.write::<ZSet>(key)? {
        for m in &args[2..] {
            if z.remove(m).is_some() {
                deleted += 1;
            }
            if z.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(ZSET, "zrem", key);
        ctx.drop_if_empty(key);
        ctx.propagate_as_is();
    }
    ctx.out.int(deleted);
    Ok(())
}

fn zremrange(ctx: &mut Ctx, rtype: RangeType) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    enum Spec<'a> {
        Rank(i64, i64),
        Score(f64, bool, f64, bool),
        Lex(Lex<'a>, Lex<'a>),
    }
    let spec = match rtype {
        RangeType::Score => match (score_bound(args[2]), score_bound(args[3])) {
            (Some((a, ax)), Some((b, bx))) => Spec::Score(a, ax, b, bx),
            _ => return Err(MINMAX_FLOAT.into()),
        },
        RangeType::Lex => match (lex_bound(args[2]), lex_bound(args[3])) {
            (Some(a), Some(b)) => Spec::Lex(a, b),
            _ => return Err(MINMAX_LEX.into()),
        },
        _ => Spec::Rank(ctx.int_arg(2)?, ctx.int_arg(3)?),
    };
    let Some(z) = ctx.write::<ZSet>(key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (a, b) = match spec {
        Spec::Rank(s, e) => rank_range(s, e, z.len()).unwrap_or((0, 0)),
        Spec::Score(a, ax, b, bx) => z.score_range(a, ax, b, bx),
        Spec::Lex(a, b) => z.lex_range(a, b),
    };
    let n = z.remove_ranks(a, b);
    if n > 0 {
        let event = match rtype {
            RangeType::Score => "zremrangebyscore",
            RangeType::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify(ZSET, event, key);
        ctx.drop_if_empty(key);
        ctx.propagate_as_is();
    }
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    zremrange(ctx, RangeType::Rank)
}

pub fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zremrange(ctx, RangeType::Score)
}

pub fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    zremrange(ctx, RangeType::Lex)
}

// ---- pops ----

/// Pops up to `count` members from the first existing key of `keys`; `None` when no
/// key exists. Returns the key index and what was popped.
#[allow(clippy::type_complexity)]
fn pop_first(ctx: &mut Ctx, keys: &[&[u8]], max: bool, count: usize) -> Result<Option<(usize, Vec<(Vec<u8>, f64)>)>, Error> {
    for (i, key) in keys.iter().enumerate() {
        let Some(z) = ctx.write::<ZSet>(key)? else { continue };
        let mut popped = Vec::with_capacity(count.min(z.len()));
        while popped.len() < count {
            match z.pop(max) {
                Some(p) => popped.push(p),
                None => break,
            }
        }
        if !popped.is_empty() {
            ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        }
        ctx.drop_if_empty(key);
        return Ok(Some((i, popped)));
    }
    Ok(None)
}

fn zpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    if args.len() > 3 {
        return Err(err::SYNTAX.into());
    }
    let count = if args.len() == 3 {
        let c = ctx.int_arg(2)?;
        if c < 0 {
            return Err("ERR value is out of range, must be positive".into());
        }
        Some(c as usize)
    } else {
        None
    };
    let nested = ctx.out.resp3 && count.is_some();
    if count == Some(0) {
        // Still a type check, as in Redis.
        ctx.write::<ZSet>(args[1])?;
        ctx.out.array(0);
        return Ok(());
    }
    let popped = pop_first(ctx, &args[1..2], max, count.unwrap_or(1))?.map(|(_, p)| p).unwrap_or_default();
    if !popped.is_empty() {
        ctx.propagate_as_is();
    }
    if nested {
        reply_elems(ctx.out, &popped, true);
    } else {
        ctx.out.array(popped.len() * 2);
        for (m, s) in &popped {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    }
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop(ctx, false)
}

pub fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop(ctx, true)
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` from `at`: (keys, max, count).
fn parse_mpop<'a>(ctx: &Ctx<'a, '_>, at: usize) -> Result<(Vec<&'a [u8]>, bool, usize), Error> {
    let args = ctx.args;
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = crate::util::parse_canonical_i64(args[at]).ok_or(Error::from(NUMKEYS))?;
    if numkeys < 1 {
        return Err(NUMKEYS.into());
    }
    let where_idx = at as u64 + numkeys as u64 + 1;
    if where_idx >= args.len() as u64 {
        return Err(err::SYNTAX.into());
    }
    let where_idx = where_idx as usize;
    let max = if ctx.is(where_idx, "min") {
        false
    } else if ctx.is(where_idx, "max") {
        true
    } else {
        return Err(err::SYNTAX.into());
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && ctx.is(j, "count") && j + 1 < args.len() {
            const COUNT: &str = "ERR count should be greater than 0";
            let c = crate::util::parse_canonical_i64(args[j + 1]).ok_or(Error::from(COUNT))?;
            if c < 1 {
                return Err(COUNT.into());
            }
            count = Some(c as usize);
            j += 2;
        } else {
            return Err(err::SYNTAX.into());
        }
    }
    Ok((args[at + 1..where_idx].to_vec(), max, count.unwrap_or(1)))
}

/// Replies a ZMPOP result and propagates it as ZPOPMIN/ZPOPMAX key count.
fn reply_mpop(ctx: &mut Ctx, key: &[u8], max: bool, popped: &[(Vec<u8>, f64)]) {
    let mut b = itoa::Buffer::new();
    let cmd: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    ctx.propagate(&[cmd, key, b.format(popped.len()).as_bytes()]);
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(popped.len());
    for (m, s) in popped {
        ctx.out.array(2);
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
}

pub fn zmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, max, count) = parse_mpop(ctx, 1)?;
    match pop_first(ctx, &keys, max, count)? {
        Some((i, popped)) => reply_mpop(ctx, keys[i], max, &popped),
        None => ctx.out.null_array(),
    }
    Ok(())
}

fn bzpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let args = ctx.args;
    let deadline = ctx.timeout_arg(args.len() - 1)?;
    let keys = &args[1..args.len() - 1];
    if let Some((i, popped)) = pop_first(ctx, keys, max, 1)? {
        let (m, s) = &popped[0];
        let cmd: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        ctx.propagate(&[cmd, keys[i]]);
        ctx.out.array(3);
        ctx.out.bulk(keys[i]);
        ctx.out.bulk(m);
        ctx.out.double(*s);
        return Ok(());
    }
    if ctx.may_block() {
        ctx.block(keys.iter().map(|k| k.to_vec()).collect(), deadline);
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}

pub fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, false)
}

pub fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, true)
}

pub fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, max, count) = parse_mpop(ctx, 2)?;
    let deadline = ctx.timeout_arg(1)?;
    if let Some((i, popped)) = pop_first(ctx, &keys, max, count)? {
        reply_mpop(ctx, keys[i], max, &popped);
        return Ok(());
    }
    if ctx.may_block() {
        ctx.block(keys.iter().map(|k| k.to_vec()).collect(), deadline);
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}

// ---- random members ----

pub fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    use rand::Rng;
    let args = ctx.args;
    if args.len() >= 3 {
        let l = ctx.int_arg(2)?;
        if l == i64::MIN {
            return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
        }
        let withscores = args.len() == 4;
        if args.len() > 4 || (withscores && !ctx.is(3, "withscores")) {
            return Err(err::SYNTAX.into());
        }
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err("ERR value is out of range".into());
        }
        let (z, out) = ctx.read_out::<ZSet>(args[1])?;
        let Some(z) = z else {
            out.array(0);
            return Ok(());
        };
        let len = z.len();
        let mut rng = rand::thread_rng();
        let items: Vec<(Vec<u8>, f64)> = if l == 0 {
            Vec::new()
        } else if l < 0 {
            let all = if z.is_packed() { Some(z.collect(0, len, false, 0, None)) } else { None };
            (0..l.unsigned_abs())
                .map(|_| {
                    let r = rng.gen_range(0..len);
                    match &all {
                        Some(a) => a[r].clone(),
                        None => z.at(r).expect("rank in range"),
                    }
                })
                .collect()
        } else if l as usize >= len {
            // Redis walks the whole set from the top here.
            z.collect(0, len, true, 0, None)
        } else {
            let mut picks = rand::seq::index::sample(&mut rng, len, l as usize).into_vec();
            picks.sort_unstable();
            if z.is_packed() {
                let all = z.collect(0, len, false, 0, None);
                picks.iter().map(|&r| all[r].clone()).collect()
            } else {
                picks.iter().map(|&r| z.at(r).expect("rank in range")).collect()
            }
        };
        reply_elems(out, &items, withscores);
        return Ok(());
    }
    let (z, out) = ctx.read_out::<ZSet>(args[1])?;
    match z.and_then(|z| z.at(rand::thread_rng().gen_range(0..z.len()))) {
        Some((m, _)) => out.bulk(&m),
        None => out.null(),
    }
    Ok(())
}

// ---- set operations ----

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggregate, acc: &mut f64, v: f64) {
    match a {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => *acc = acc.min(v),
        Aggregate::Max => *acc = acc.max(v),
    }
}

/// Members of a plain set used as a ZUNION/ZINTER/ZDIFF input (each scores 1).
/// MERGE NOTE: the set type lands in another branch; once it does this becomes
/// `s.iter().map(|it| it.to_vec()).collect()`. Until then sets read as empty.
fn set_members(s: &Set) -> Vec<Vec<u8>> {
    s.iter().map(|it| it.to_vec()).collect()
}

/// One input: its members and scores; a missing key is an empty input.
type Input = Vec<(Vec<u8>, f64)>;

fn read_input(ctx: &mut Ctx, key: &[u8]) -> Result<Input, Error> {
    match ctx.lookup_read(key) {
        None => Ok(Vec::new()),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(z.collect(0, z.len(), false, 0, None)),
            Value::Set(s) => Ok(set_members(s).into_iter().map(|m| (m, 1.0)).collect()),
            _ => Err(err::WRONGTYPE.into()),
        },
    }
}

/// ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD. `at` is the numkeys index; `dst` the
/// destination of the STORE forms.
fn zsetop(ctx: &mut Ctx, at: usize, dst: Option<&[u8]>, op: SetOp, card_only: bool) -> CmdResult {
    let args = ctx.args;
    let setnum = ctx.int_arg(at)?;
    if setnum < 1 {
        return Err(format!("ERR at least 1 input key is needed for '{}' command", ctx.cmd.name).into());
    }
    if setnum as u64 > (args.len() - at - 1) as u64 {
        return Err(err::SYNTAX.into());
    }
    let setnum = setnum as usize;
    let mut inputs = Vec::with_capacity(setnum);
    for i in 0..setnum {
        inputs.push(read_input(ctx, args[at + 1 + i])?);
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != SetOp::Diff && !card_only && remaining > setnum && ctx.is(j, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = crate::util::parse_f64(args[j + 1 + i]).ok_or(Error::from("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && ctx.is(j, "aggregate") {
            agg = if ctx.is(j + 1, "sum") {
                Aggregate::Sum
            } else if ctx.is(j + 1, "min") {
                Aggregate::Min
            } else if ctx.is(j + 1, "max") {
                Aggregate::Max
            } else {
                return Err(err::SYNTAX.into());
            };
            j += 2;
        } else if dst.is_none() && !card_only && ctx.is(j, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && ctx.is(j, "limit") {
            const NEG: &str = "ERR LIMIT can't be negative";
            let l = crate::util::parse_canonical_i64(args[j + 1]).ok_or(Error::from(NEG))?;
            if l < 0 {
                return Err(NEG.into());
            }
            limit = l as usize;
            j += 2;
        } else {
            return Err(err::SYNTAX.into());
        }
    }
    // As Redis: smallest inputs first (a stable sort keeps the aggregation order).
    let mut order: Vec<usize> = (0..setnum).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| inputs[i].len());
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            let first = order[0];
            if !inputs[first].is_empty() {
                let maps: Vec<HashMap<&[u8], f64>> =
                    order[1..].iter().map(|&i| inputs[i].iter().map(|(m, s)| (m.as_slice(), *s)).collect()).collect();
                'outer: for (m, s) in &inputs[first] {
                    let mut score = weighted(*s, weights[first]);
                    for (k, &i) in order[1..].iter().enumerate() {
                        match maps[k].get(m.as_slice()) {
                            // Unlike the first input, a NaN here is left to the
                            // aggregate (SUM makes it 0, MIN/MAX ignore it), as in Redis.
                            Some(&v) => aggregate(agg, &mut score, v * weights[i]),
                            None => continue 'outer,
                        }
                    }
                    if card_only {
                        result.push((Vec::new(), 0.0));
                        if limit != 0 && result.len() >= limit {
                            break;
                        }
                    } else {
                        result.push((m.clone(), score));
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            for &i in &order {
                for (m, s) in &inputs[i] {
                    let v = weighted(*s, weights[i]);
                    acc.entry(m.as_slice()).and_modify(|a| aggregate(agg, a, v)).or_insert(v);
                }
            }
            result = acc.into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
        }
        SetOp::Diff => {
            let others: std::collections::HashSet<&[u8]> = inputs[1..].iter().flatten().map(|(m, _)| m.as_slice()).collect();
            result = inputs[0].iter().filter(|(m, _)| !others.contains(m.as_slice())).cloned().collect();
        }
    }
    if card_only {
        ctx.out.int(result.len() as i64);
        return Ok(());
    }
    result.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
    match dst {
        Some(d) => {
            let n = result.len();
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(ctx, d, result, event);
            ctx.out.int(n as i64);
        }
        None => reply_elems(ctx.out, &result, withscores),
    }
    Ok(())
}

fn weighted(s: f64, w: f64) -> f64 {
    let v = s * w;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

pub fn zunion(ctx: &mut Ctx) -> CmdResult {
    zsetop(ctx, 1, None, SetOp::Union, false)
}

pub fn zinter(ctx: &mut Ctx) -> CmdResult {
    zsetop(ctx, 1, None, SetOp::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx) -> CmdResult {
    zsetop(ctx, 1, None, SetOp::Diff, false)
}

pub fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    zsetop(ctx, 2, Some(ctx.args[1]), SetOp::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    zsetop(ctx, 2, Some(ctx.args[1]), SetOp::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    zsetop(ctx, 2, Some(ctx.args[1]), SetOp::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx) -> CmdResult {
    zsetop(ctx, 1, None, SetOp::Inter, true)
}

// ---- ZSCAN ----

pub fn zscan(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let cursor = std::str::from_utf8(args[2]).ok().and_then(|s| s.parse::<u64>().ok()).ok_or(Error::from("ERR invalid cursor"))?;
    let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = {
        let Some(z) = ctx.read::<ZSet>(args[1])? else {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.array(0);
            return Ok(());
        };
        let z: &ZSet = z;
        let (mut pattern, mut count) = (None::<&[u8]>, 10usize);
        let mut i = 3;
        while i < args.len() {
            if i + 1 >= args.len() {
                return Err(err::SYNTAX.into());
            }
            if args[i].eq_ignore_ascii_case(b"match") {
                pattern = if args[i + 1] == b"*" { None } else { Some(args[i + 1]) };
            } else if args[i].eq_ignore_ascii_case(b"count") {
                let c = crate::util::parse_canonical_i64(args[i + 1]).ok_or(Error::from(err::NOT_INT))?;
                if c < 1 {
                    return Err(err::SYNTAX.into());
                }
                count = c as usize;
            } else {
                return Err(err::SYNTAX.into());
            }
            i += 2;
        }
        z.scan(cursor, count, |m, s| {
            if pattern.is_none_or(|p| crate::util::glob_match(p, m, false)) {
                items.push((m.to_vec(), s));
            }
        })
    };
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(items.len() * 2);
    for (m, s) in &items {
        ctx.out.bulk(m);
        ctx.out.bulk(format_double(*s).as_bytes());
    }
    Ok(())
}
