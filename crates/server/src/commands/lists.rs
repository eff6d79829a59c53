//! List commands, including the blocking pops.
//!
//! Encoding conversions happen where Redis 7.2 makes them: a listpack becomes a
//! quicklist before a push would overflow one node (`grow_check`), and a quicklist goes
//! back after removals leave one half-full node (`shrink_check`).

use ferrokv_protocol::ReplyBuf;

use super::table::Slots;
use super::{err, CmdResult, Ctx, Error, Typed};
use crate::keyspace::types::{Item, List};
use crate::keyspace::Keyspace;
use crate::notify::LIST;

const OUT_OF_RANGE_POSITIVE: &str = "ERR value is out of range, must be positive";

fn fill(ctx: &Ctx) -> i64 {
    ctx.client.settings.list_max_listpack_size
}

fn reply_item(out: &mut ReplyBuf, it: Item) {
    match it {
        Item::Str(s) => out.bulk(s),
        Item::Int(n) => out.bulk_int(n),
    }
}

/// The list at `key` for a write, without marking the key ready (pops and checks
/// must not wake other waiters).
fn list_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut List>, Error> {
    match ctx.lookup(key) {
        None => Ok(None),
        Some(e) => List::of_mut(&mut e.value).map(Some).ok_or(Error::from(err::WRONGTYPE)),
    }
}

/// Raises the removal's `event`, then deletes `key` if its list was emptied (a `del`
/// event), else gives the encoding a chance to shrink.
fn after_removal(ctx: &mut Ctx, key: &[u8], event: &str) {
    ctx.notify(LIST, event, key);
    let f = fill(ctx);
    if !ctx.drop_if_empty(key) {
        if let Ok(Some(l)) = list_mut(ctx, key) {
            l.shrink_check(f);
        }
    }
}

/// LEFT/RIGHT: true for the head.
/// The event of a pop from the head or the tail.
fn pop_event(front: bool) -> &'static str {
    if front {
        "lpop"
    } else {
        "rpop"
    }
}

/// The event of a push onto the head or the tail.
fn push_event(front: bool) -> &'static str {
    if front {
        "lpush"
    } else {
        "rpush"
    }
}

fn side(ctx: &Ctx, i: usize) -> Result<bool, Error> {
    if ctx.is(i, "left") {
        Ok(true)
    } else if ctx.is(i, "right") {
        Ok(false)
    } else {
        Err(err::SYNTAX.into())
    }
}

fn push(ctx: &mut Ctx, front: bool, xx: bool) -> CmdResult {
    let key = ctx.args[1];
    if xx && list_mut(ctx, key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let f = fill(ctx);
    let vals = &ctx.args[2..];
    let l = ctx.write_or_create::<List>(key, List::new)?;
    l.push_all(vals, front, f);
    let n = l.len();
    ctx.out.int(n as i64);
    ctx.notify(LIST, push_event(front), key);
    ctx.propagate_as_is();
    Ok(())
}

pub fn lpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, true, false)
}

pub fn rpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, false, false)
}

pub fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, true, true)
}

pub fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, false, true)
}

/// Pops up to `count` elements from one end, replying with them as an array.
fn pop_range_reply(ctx: &mut Ctx, key: &[u8], front: bool, count: usize) -> Result<usize, Error> {
    let l = list_mut(ctx, key)?.expect("caller checked the list exists");
    let n = count.min(l.len());
    let mut vals = Vec::with_capacity(n);
    for _ in 0..n {
        vals.push(l.pop(front).expect("counted"));
    }
    ctx.out.array(n);
    for v in &vals {
        ctx.out.bulk(v);
    }
    after_removal(ctx, key, pop_event(front));
    Ok(n)
}

fn pop(ctx: &mut Ctx, front: bool) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(format!("ERR wrong number of arguments for '{}' command", ctx.cmd.name).into());
    }
    let key = ctx.args[1];
    let count = match ctx.args.get(2) {
        None => None,
        Some(_) => {
            let c = ctx.int_arg(2).ok().filter(|c| *c >= 0);
            Some(c.ok_or(Error::from(OUT_OF_RANGE_POSITIVE))? as usize)
        }
    };
    let Some(l) = list_mut(ctx, key)? else {
        if count.is_some() {
            ctx.out.null_array();
        } else {
            ctx.out.null();
        }
        return Ok(());
    };
    match count {
        Some(0) => {
            ctx.out.array(0);
            return Ok(());
        }
        None => {
            let v = l.pop(front).expect("lists are never empty");
            ctx.out.bulk(&v);
            after_removal(ctx, key, pop_event(front));
        }
        Some(c) => {
            pop_range_reply(ctx, key, front, c)?;
        }
    }
    ctx.propagate_as_is();
    Ok(())
}

pub fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, true)
}

pub fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, false)
}

pub fn lrange(ctx: &mut Ctx) -> CmdResult {
    let (start, end) = (ctx.int_arg(2)?, ctx.int_arg(3)?);
    let (l, out) = ctx.read_out::<List>(ctx.args[1])?;
    let Some(l) = l else {
        out.array(0);
        return Ok(());
    };
    match crate::util::clamp_range(start, end, l.len()) {
        None => out.array(0),
        Some((s, e)) => {
            out.array(e - s + 1);
            for it in l.iter_from(s, false).take(e - s + 1) {
                reply_item(out, it);
            }
        }
    }
    Ok(())
}

pub fn lindex(ctx: &mut Ctx) -> CmdResult {
    let index = ctx.int_arg(2);
    let (l, out) = ctx.read_out::<List>(ctx.args[1])?;
    let Some(l) = l else {
        out.null();
        return Ok(());
    };
    match l.get(index?) {
        Some(it) => reply_item(out, it),
        None => out.null(),
    }
    Ok(())
}

pub fn llen(ctx: &mut Ctx) -> CmdResult {
    let (l, out) = ctx.read_out::<List>(ctx.args[1])?;
    out.int(l.map_or(0, |l| l.len()) as i64);
    Ok(())
}

pub fn lset(ctx: &mut Ctx) -> CmdResult {
    let (key, v) = (ctx.args[1], ctx.args[3]);
    let index = ctx.int_arg(2);
    let f = fill(ctx);
    let Some(l) = ctx.write::<List>(key)? else { return Err(err::NO_KEY.into()) };
    let index = index?;
    l.grow_check(f, v.len(), 1);
    if !l.set(index, v) {
        return Err("ERR index out of range".into());
    }
    l.shrink_check(f);
    ctx.out.ok();
    ctx.notify(LIST, "lset", key);
    ctx.propagate_as_is();
    Ok(())
}

pub fn linsert(ctx: &mut Ctx) -> CmdResult {
    let after = if ctx.is(2, "after") {
        true
    } else if ctx.is(2, "before") {
        false
    } else {
        return Err(err::SYNTAX.into());
    };
    let (key, pivot, v) = (ctx.args[1], ctx.args[3], ctx.args[4]);
    let f = fill(ctx);
    let Some(l) = ctx.write::<List>(key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    l.grow_check(f, v.len(), 1);
    if !l.insert(pivot, v, after, f) {
        ctx.out.int(-1);
        return Ok(());
    }
    let n = l.len();
    ctx.out.int(n as i64);
    ctx.notify(LIST, "linsert", key);
    ctx.propagate_as_is();
    Ok(())
}

pub fn lrem(ctx: &mut Ctx) -> CmdResult {
    let count = ctx.int_arg(2)?;
    let (key, v) = (ctx.args[1], ctx.args[3]);
    let Some(l) = list_mut(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = l.remove_matching(v, count.unsigned_abs() as usize, count < 0);
    if removed > 0 {
        after_removal(ctx, key, "lrem");
        ctx.propagate_as_is();
    }
    ctx.out.int(removed as i64);
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let (start, end) = (ctx.int_arg(2)?, ctx.int_arg(3)?);
    let key = ctx.args[1];
    let Some(l) = list_mut(ctx, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len();
    let (ltrim, rtrim) = match crate::util::clamp_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    l.remove_range(0, ltrim);
    let left = l.len();
    l.remove_range(left - rtrim, rtrim);
    after_removal(ctx, key, "ltrim");
    if ltrim + rtrim > 0 {
        ctx.propagate_as_is();
    }
    ctx.out.ok();
    Ok(())
}

/// Parses a non-negative integer option, replying `msg` for anything else.
fn non_negative(ctx: &Ctx, i: usize, msg: &'static str) -> Result<i64, Error> {
    match ctx.int_arg(i) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(msg.into()),
    }
}

pub fn lpos(ctx: &mut Ctx) -> CmdResult {
    let (key, ele) = (ctx.args[1], ctx.args[2]);
    let (mut rank, mut count, mut maxlen): (i64, Option<i64>, i64) = (1, None, 0);
    let mut j = 3;
    while j < ctx.args.len() {
        let more = j + 1 < ctx.args.len();
        if ctx.is(j, "rank") && more {
            j += 1;
            rank = ctx.int_arg(j)?;
            if rank == i64::MIN {
                return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
            }
            if rank == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
        } else if ctx.is(j, "count") && more {
            j += 1;
            count = Some(non_negative(ctx, j, "ERR COUNT can't be negative")?);
        } else if ctx.is(j, "maxlen") && more {
            j += 1;
            maxlen = non_negative(ctx, j, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(err::SYNTAX.into());
        }
        j += 1;
    }
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs();
    let (l, out) = ctx.read_out::<List>(key)?;
    let Some(l) = l else {
        match count {
            Some(_) => out.array(0),
            None => out.null(),
        }
        return Ok(());
    };
    let len = l.len();
    let limit = if maxlen == 0 { usize::MAX } else { maxlen as usize };
    let walk: Box<dyn Iterator<Item = Item>> = if from_tail { Box::new(l.iter_rev()) } else { Box::new(l.iter()) };
    let mut found = Vec::new();
    let mut matches = 0u64;
    let want = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(c) => c as usize,
    };
    for (i, it) in walk.take(limit).enumerate() {
        if it.eq_bytes(ele) {
            matches += 1;
            if matches >= rank {
                found.push(if from_tail { len - i - 1 } else { i });
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
    }
    Ok(())
}

/// Pops from `args[1]` and pushes onto `args[2]`; `None` when the source is absent.
/// The destination's type is checked before anything moves.
fn move_element(ctx: &mut Ctx, from_front: bool, to_front: bool) -> Result<Option<Vec<u8>>, Error> {
    let (src, dst) = (ctx.args[1], ctx.args[2]);
    if list_mut(ctx, src)?.is_none() {
        return Ok(None);
    }
    if src != dst {
        list_mut(ctx, dst)?;
    }
    let v = list_mut(ctx, src)?.expect("checked").pop(from_front).expect("lists are never empty");
    let f = fill(ctx);
    let d = ctx.write_or_create::<List>(dst, List::new)?;
    d.grow_check(f, v.len(), 1);
    d.push(&v, to_front, f);
    ctx.notify(LIST, push_event(to_front), dst);
    after_removal(ctx, src, pop_event(from_front));
    ctx.out.bulk(&v);
    Ok(Some(v))
}

pub fn lmove(ctx: &mut Ctx) -> CmdResult {
    let (from, to) = (side(ctx, 3)?, side(ctx, 4)?);
    match move_element(ctx, from, to)? {
        Some(_) => ctx.propagate_as_is(),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    match move_element(ctx, false, true)? {
        Some(_) => ctx.propagate_as_is(),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Parsed `numkeys key... LEFT|RIGHT [COUNT n]` starting at argument `at`.
struct MPop {
    keys: std::ops::Range<usize>,
    front: bool,
    count: usize,
}

fn parse_mpop(ctx: &Ctx, at: usize) -> Result<MPop, Error> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match ctx.int_arg(at) {
        Ok(n) if n >= 1 => n as usize,
        _ => return Err(NUMKEYS.into()),
    };
    let where_idx = match (at + 1).checked_add(numkeys) {
        Some(w) if w < ctx.args.len() => w,
        _ => return Err(err::SYNTAX.into()),
    };
    let front = side(ctx, where_idx)?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < ctx.args.len() {
        if count.is_none() && ctx.is(j, "count") && j + 1 < ctx.args.len() {
            j += 1;
            count = match ctx.int_arg(j) {
                Ok(n) if n >= 1 => Some(n as usize),
                _ => return Err("ERR count should be greater than 0".into()),
            };
        } else {
            return Err(err::SYNTAX.into());
        }
        j += 1;
    }
    Ok(MPop { keys: at + 1..where_idx, front, count: count.unwrap_or(1) })
}

/// Slots of the keys of `numkeys key...` at argument `at` (as many as are present).
fn numkeys_slots(args: &[&[u8]], db: usize, at: usize) -> Slots {
    let n = args.get(at).and_then(|a| crate::util::parse_canonical_i64(a)).unwrap_or(0).max(0) as usize;
    args.iter().skip(at + 1).take(n).map(|k| Keyspace::slot(db, k)).collect()
}

pub fn lmpop_slots(args: &[&[u8]], db: usize, _: usize) -> Result<Slots, Error> {
    Ok(numkeys_slots(args, db, 1))
}

pub fn blmpop_slots(args: &[&[u8]], db: usize, _: usize) -> Result<Slots, Error> {
    Ok(numkeys_slots(args, db, 2))
}

/// The first non-empty list among `keys` pops up to `count` elements, replied as
/// `[key, [elements]]` and propagated as `LPOP|RPOP key n`. False when all are empty.
fn mpop_first(ctx: &mut Ctx, keys: std::ops::Range<usize>, front: bool, count: usize) -> Result<bool, Error> {
    for i in keys {
        let key = ctx.args[i];
        if list_mut(ctx, key)?.is_none() {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        let n = pop_range_reply(ctx, key, front, count)?;
        let n = itoa::Buffer::new().format(n).as_bytes().to_vec();
        ctx.propagate(&[if front { b"LPOP" } else { b"RPOP" }, key, &n]);
        return Ok(true);
    }
    Ok(false)
}

pub fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let p = parse_mpop(ctx, 1)?;
    if !mpop_first(ctx, p.keys, p.front, p.count)? {
        ctx.out.null_array();
    }
    Ok(())
}

pub fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let p = parse_mpop(ctx, 2)?;
    let deadline = ctx.timeout_arg(1)?;
    if mpop_first(ctx, p.keys.clone(), p.front, p.count)? {
        return Ok(());
    }
    block_or_null(ctx, p.keys, deadline, true);
    Ok(())
}

/// Blocks on the keys at argument positions `keys`, or, where blocking is not
/// allowed, answers as a timeout would (`null_array`) or with a null bulk.
fn block_or_null(ctx: &mut Ctx, keys: std::ops::Range<usize>, deadline: u64, null_array: bool) {
    if ctx.may_block() {
        let keys = ctx.args[keys].iter().map(|k| k.to_vec()).collect();
        ctx.block(keys, deadline);
    } else if null_array {
        ctx.out.null_array();
    } else {
        ctx.out.null();
    }
}

fn bpop(ctx: &mut Ctx, front: bool) -> CmdResult {
    let last = ctx.args.len() - 1;
    let deadline = ctx.timeout_arg(last)?;
    for i in 1..last {
        let key = ctx.args[i];
        let Some(l) = list_mut(ctx, key)? else { continue };
        let v = l.pop(front).expect("lists are never empty");
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&v);
        after_removal(ctx, key, pop_event(front));
        ctx.propagate(&[if front { b"LPOP" } else { b"RPOP" }, key]);
        return Ok(());
    }
    block_or_null(ctx, 1..last, deadline, true);
    Ok(())
}

pub fn blpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, true)
}

pub fn brpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, false)
}

fn bmove(ctx: &mut Ctx, from: bool, to: bool, deadline: u64) -> Result<bool, Error> {
    let src = ctx.args[1];
    if list_mut(ctx, src)?.is_none() {
        block_or_null(ctx, 1..2, deadline, false);
        return Ok(false);
    }
    Ok(move_element(ctx, from, to)?.is_some())
}

pub fn blmove(ctx: &mut Ctx) -> CmdResult {
    let (from, to) = (side(ctx, 3)?, side(ctx, 4)?);
    let deadline = ctx.timeout_arg(5)?;
    if bmove(ctx, from, to, deadline)? {
        let a = ctx.args;
        ctx.propagate(&[b"LMOVE", a[1], a[2], a[3], a[4]]);
    }
    Ok(())
}

pub fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let deadline = ctx.timeout_arg(3)?;
    if bmove(ctx, false, true, deadline)? {
        let a = ctx.args;
        ctx.propagate(&[b"RPOPLPUSH", a[1], a[2]]);
    }
    Ok(())
}
