//! Set commands (SADD, SINTER, ...), following Redis 7.2's t_set.c: its replies, its
//! errors, the encodings its results get, and the effects it propagates (SPOP as SREM
//! batches or a DEL, the *STORE commands as sent).

use rand::seq::SliceRandom;
use rand::Rng;

use super::table::Slots;
use super::{err, CmdResult, Ctx, Error, Typed};
use crate::keyspace::types::packed::Item;
use crate::keyspace::types::set::{sample_ascending, Limits};
use crate::keyspace::types::Set;
use crate::keyspace::Keyspace;
use crate::notify::{GENERIC, SET};

fn limits(ctx: &Ctx) -> Limits {
    let s = &ctx.client.settings;
    Limits {
        intset_entries: s.set_max_intset_entries,
        listpack_entries: s.set_max_listpack_entries,
        listpack_value: s.set_max_listpack_value,
    }
}

/// SPOP propagates its removals as SREM commands of at most this many members.
const SREM_BATCH: usize = 1024;

pub fn sadd(ctx: &mut Ctx) -> CmdResult {
    let lim = limits(ctx);
    let key = ctx.args[1];
    let members = &ctx.args[2..];
    match ctx.write::<Set>(key)? {
        Some(s) => s.maybe_convert(members.len(), &lim),
        None => ctx.store(key, Set::create_for(members[0], members.len(), &lim).into_value(), 0),
    }
    let set = ctx.write::<Set>(key)?.expect("present");
    let added = members.iter().filter(|m| set.add(m, &lim)).count();
    if added > 0 {
        ctx.notify(SET, "sadd", key);
        ctx.propagate_as_is();
    }
    ctx.out.int(added as i64);
    Ok(())
}

pub fn srem(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let Some(set) = ctx.write::<Set>(key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if set.remove(m) {
            deleted += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(SET, "srem", key);
        ctx.drop_if_empty(key);
        ctx.propagate_as_is();
    }
    ctx.out.int(deleted);
    Ok(())
}

pub fn sismember(ctx: &mut Ctx) -> CmdResult {
    let (key, member) = (ctx.args[1], ctx.args[2]);
    let found = ctx.read::<Set>(key)?.is_some_and(|s| s.contains(member));
    ctx.out.int(found as i64);
    Ok(())
}

pub fn smismember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (set, out) = ctx.read_out::<Set>(args[1])?;
    out.array(args.len() - 2);
    for m in &args[2..] {
        out.int(set.as_ref().is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.read::<Set>(ctx.args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// SMEMBERS is SINTER of one key (a set reply, `~` in RESP3), served without a copy.
pub fn smembers(ctx: &mut Ctx) -> CmdResult {
    let (set, out) = ctx.read_out::<Set>(ctx.args[1])?;
    let mut buf = itoa::Buffer::new();
    match set {
        None => out.set(0),
        Some(s) => {
            out.set(s.len());
            for m in s.iter() {
                out.bulk(m.bytes(&mut buf));
            }
        }
    }
    Ok(())
}

pub fn sinter(ctx: &mut Ctx) -> CmdResult {
    inter(ctx, 1, ctx.args.len(), None, Mode::Reply)
}

pub fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    inter(ctx, 2, ctx.args.len(), Some(ctx.args[1]), Mode::Store)
}

/// Parses SINTERCARD's `numkeys` with Redis's messages (a non-number gets the same one).
fn sintercard_numkeys(args: &[&[u8]]) -> Result<usize, Error> {
    let n = crate::util::parse_canonical_i64(args[1]).filter(|&n| n >= 1).ok_or(Error::from("ERR numkeys should be greater than 0"))?;
    if n as usize > args.len() - 2 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    Ok(n as usize)
}

/// The shards SINTERCARD's keys live in (none when `numkeys` is invalid: the handler
/// then fails before touching a key).
pub fn sintercard_slots(args: &[&[u8]], db: usize, _: usize) -> Result<Slots, Error> {
    Ok(match sintercard_numkeys(args) {
        Ok(n) => args[2..2 + n].iter().map(|k| Keyspace::slot(db, k)).collect(),
        Err(_) => Default::default(),
    })
}

pub fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let n = sintercard_numkeys(ctx.args)?;
    let mut limit = 0usize;
    let mut i = 2 + n;
    while i < ctx.args.len() {
        if ctx.is(i, "LIMIT") && i + 1 < ctx.args.len() {
            let l =
                crate::util::parse_canonical_i64(ctx.args[i + 1]).filter(|&l| l >= 0).ok_or(Error::from("ERR LIMIT can't be negative"))?;
            limit = l as usize;
            i += 2;
        } else {
            return Err(err::SYNTAX.into());
        }
    }
    inter(ctx, 2, 2 + n, None, Mode::Card(limit))
}

enum Mode {
    Reply,
    Store,
    /// Only the cardinality, stopping at the limit (0 = none).
    Card(usize),
}

/// The set at `key` without counting a keyspace hit (its first lookup already did).
fn peek<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c Set> {
    ctx.lookup(key).and_then(|e| Set::of(&e.value))
}

/// SINTER, SMEMBERS, SINTERSTORE and SINTERCARD over the keys `args[from..to]`.
fn inter(ctx: &mut Ctx, from: usize, to: usize, dst: Option<&[u8]>, mode: Mode) -> CmdResult {
    let keys = &ctx.args[from..to];
    let mut sizes = Vec::with_capacity(keys.len());
    let mut empty = false;
    for k in keys {
        match ctx.read::<Set>(k)? {
            Some(s) => sizes.push(s.len()),
            None => {
                empty = true;
                sizes.push(0);
            }
        }
    }
    if empty {
        match mode {
            Mode::Store => {
                let dst = dst.expect("store has a destination");
                if ctx.remove(dst).is_some() {
                    ctx.notify(GENERIC, "del", dst);
                    ctx.propagate_as_is();
                }
                ctx.out.int(0);
            }
            Mode::Card(_) => ctx.out.int(0),
            Mode::Reply => ctx.out.set(0),
        }
        return Ok(());
    }
    // Walk the smallest set, testing each member against the others.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let first = keys[order[0]];
    let base = peek(ctx, first).expect("checked").clone();
    let mut alive = vec![true; base.len()];
    for &j in &order[1..] {
        if keys[j] == first {
            continue;
        }
        let other = peek(ctx, keys[j]).expect("checked");
        for (a, m) in alive.iter_mut().zip(base.iter()) {
            if *a && !other.contains_item(m) {
                *a = false;
            }
        }
    }
    let members = || base.iter().zip(alive.iter()).filter(|(_, a)| **a).map(|(m, _)| m);
    match mode {
        Mode::Card(limit) => {
            let n = members().count();
            ctx.out.int(if limit > 0 { n.min(limit) } else { n } as i64);
        }
        Mode::Reply => {
            let mut buf = itoa::Buffer::new();
            ctx.out.set(members().count());
            for m in members() {
                ctx.out.bulk(m.bytes(&mut buf));
            }
        }
        Mode::Store => {
            let lim = limits(ctx);
            // As Redis: an intset result for an intset input; otherwise start from a
            // listpack, and make the result an intset at the end when it can be one.
            let mut out = if base.is_intset() { Set::new() } else { Set::new_listpack() };
            for m in members() {
                out.add_item(m, &lim);
            }
            out.maybe_to_intset(&lim);
            out.shrink_to_fit();
            store_result(ctx, dst.expect("store has a destination"), out, "sinterstore");
        }
    }
    Ok(())
}

/// Stores a *STORE result (deleting the destination for an empty one) and replies
/// with its size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let n = result.len();
    if n > 0 {
        ctx.store(dst, result.into_value(), 0);
        ctx.notify(SET, event, dst);
        ctx.propagate_as_is();
    } else if ctx.remove(dst).is_some() {
        ctx.notify(GENERIC, "del", dst);
        ctx.propagate_as_is();
    }
    ctx.out.int(n as i64);
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Diff,
}

pub fn sunion(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, 1, None, Op::Union)
}

pub fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, 2, Some(ctx.args[1]), Op::Union)
}

pub fn sdiff(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, 1, None, Op::Diff)
}

pub fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    union_diff(ctx, 2, Some(ctx.args[1]), Op::Diff)
}

/// The union or difference of the sets at `args[from..]`, computed into a fresh set that
/// starts as an intset and converts as members arrive, like Redis's result set.
fn union_diff(ctx: &mut Ctx, from: usize, dst: Option<&[u8]>, op: Op) -> CmdResult {
    let lim = limits(ctx);
    let keys = &ctx.args[from..];
    let mut sizes: Vec<Option<usize>> = Vec::with_capacity(keys.len());
    for k in keys {
        sizes.push(ctx.read::<Set>(k)?.map(|s| s.len()));
    }
    let same = sizes[0].is_some() && keys[1..].iter().any(|k| *k == keys[0]);
    let mut out = Set::new();
    match op {
        Op::Union => {
            for (k, size) in keys.iter().zip(&sizes) {
                if size.is_some() {
                    let src = peek(ctx, k).expect("checked");
                    for m in src.iter() {
                        out.add_item(m, &lim);
                    }
                }
            }
        }
        Op::Diff if same || sizes[0].is_none() => {}
        Op::Diff => {
            let n0 = sizes[0].unwrap();
            let present = sizes.iter().flatten().count();
            let (one, two) = ((n0 * present) / 2, sizes.iter().flatten().sum::<usize>());
            if one <= two {
                // Walk the first set, keeping what no other set has.
                let base = peek(ctx, keys[0]).expect("checked").clone();
                let mut alive = vec![true; base.len()];
                let mut others: Vec<usize> = (1..keys.len()).filter(|&j| sizes[j].is_some()).collect();
                others.sort_by_key(|&j| std::cmp::Reverse(sizes[j]));
                for j in others {
                    let other = peek(ctx, keys[j]).expect("checked");
                    for (a, m) in alive.iter_mut().zip(base.iter()) {
                        if *a && other.contains_item(m) {
                            *a = false;
                        }
                    }
                }
                for (m, a) in base.iter().zip(&alive) {
                    if *a {
                        out.add_item(m, &lim);
                    }
                }
            } else {
                // Copy the first set, then remove every other set's members.
                for (j, k) in keys.iter().enumerate() {
                    if sizes[j].is_none() {
                        continue;
                    }
                    let src = peek(ctx, k).expect("checked");
                    for m in src.iter() {
                        if j == 0 {
                            out.add_item(m, &lim);
                        } else {
                            out.remove_item(m);
                        }
                    }
                    if out.is_empty() {
                        break;
                    }
                }
            }
        }
    }
    match dst {
        Some(dst) => {
            let event = if op == Op::Union { "sunionstore" } else { "sdiffstore" };
            store_result(ctx, dst, out, event)
        }
        None => reply_members(ctx, &out),
    }
    Ok(())
}

fn reply_members(ctx: &mut Ctx, s: &Set) {
    let mut buf = itoa::Buffer::new();
    ctx.out.set(s.len());
    for m in s.iter() {
        ctx.out.bulk(m.bytes(&mut buf));
    }
}

pub fn smove(ctx: &mut Ctx) -> CmdResult {
    let lim = limits(ctx);
    let (src, dst, member) = (ctx.args[1], ctx.args[2], ctx.args[3]);
    if ctx.write::<Set>(src)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let dst_exists = ctx.write::<Set>(dst)?.is_some();
    let src_set = ctx.write::<Set>(src)?.expect("present");
    if src == dst {
        let found = src_set.contains(member);
        ctx.out.int(found as i64);
        return Ok(());
    }
    if !src_set.remove(member) {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.notify(SET, "srem", src);
    ctx.drop_if_empty(src);
    if !dst_exists {
        ctx.store(dst, Set::create_for(member, 1, &lim).into_value(), 0);
    }
    if ctx.write::<Set>(dst)?.expect("present").add(member, &lim) {
        ctx.notify(SET, "sadd", dst);
    }
    ctx.propagate_as_is();
    ctx.out.int(1);
    Ok(())
}

pub fn spop(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {}
        3 => return spop_count(ctx),
        _ => return Err(err::SYNTAX.into()),
    }
    let key = ctx.args[1];
    let Some(set) = ctx.write::<Set>(key)? else {
        ctx.out.null();
        return Ok(());
    };
    let v = set.pop_random(&mut rand::thread_rng());
    ctx.notify(SET, "spop", key);
    ctx.drop_if_empty(key);
    ctx.propagate(&[b"SREM", key, &v]);
    ctx.out.bulk(&v);
    Ok(())
}

fn spop_count(ctx: &mut Ctx) -> CmdResult {
    let count = crate::util::parse_canonical_i64(ctx.args[2])
        .filter(|&c| c >= 0)
        .ok_or(Error::from("ERR value is out of range, must be positive"))? as usize;
    let key = ctx.args[1];
    let lim = limits(ctx);
    let Some(set) = ctx.write::<Set>(key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let size = set.len();
    if count >= size {
        // The whole set goes: reply it, and the effect is a DEL. (Redis reads it back
        // through SUNION's code, which counts a keyspace hit.)
        let set = set.clone();
        ctx.srv.stats.keyspace(true);
        reply_members(ctx, &set);
        ctx.notify(SET, "spop", key);
        ctx.remove(key);
        ctx.notify(GENERIC, "del", key);
        // Not a hot path: read the option rather than widen `Settings`.
        let lazy = ctx.srv.config.get("lazyfree-lazy-server-del").is_some_and(|v| v == "yes");
        ctx.propagate(&[if lazy { b"UNLINK" } else { b"DEL" }, key]);
        return Ok(());
    }
    let rng = &mut rand::thread_rng();
    let remaining = size - count;
    let popped: Vec<Vec<u8>> = if remaining * 5 > count {
        // Few members requested: pick them one by one (one ordered walk for a listpack).
        if set.is_listpack() {
            let pos = sample_ascending(size, count, rng);
            set.remove_positions(&pos)
        } else {
            (0..count).map(|_| set.pop_random(rng)).collect()
        }
    } else if set.is_listpack() {
        // Most of the set goes: choose the members that stay instead.
        let keep = sample_ascending(size, remaining, rng);
        let mut k = keep.iter().peekable();
        let gone: Vec<usize> = (0..size)
            .filter(|i| {
                if k.peek() == Some(&i) {
                    k.next();
                    false
                } else {
                    true
                }
            })
            .collect();
        set.remove_positions(&gone)
    } else {
        let mut kept = if set.is_intset() { Set::new() } else { Set::new_listpack() };
        for _ in 0..remaining {
            let v = set.pop_random(rng);
            kept.add(&v, &lim);
        }
        let gone: Vec<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
        *set = kept;
        gone
    };
    ctx.notify(SET, "spop", key);
    ctx.out.set(popped.len());
    for v in &popped {
        ctx.out.bulk(v);
    }
    for chunk in popped.chunks(SREM_BATCH) {
        let mut argv: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 2);
        argv.push(b"SREM");
        argv.push(key);
        argv.extend(chunk.iter().map(|v| &v[..]));
        ctx.propagate(&argv);
    }
    Ok(())
}

pub fn srandmember(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {}
        3 => return srandmember_count(ctx),
        _ => return Err(err::SYNTAX.into()),
    }
    let (set, out) = ctx.read_out::<Set>(ctx.args[1])?;
    match set {
        None => out.null(),
        Some(s) => out.bulk(s.random(&mut rand::thread_rng()).bytes(&mut itoa::Buffer::new())),
    }
    Ok(())
}

fn srandmember_count(ctx: &mut Ctx) -> CmdResult {
    let l = ctx.int_arg(2)?;
    if l == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    let (uniq, count) = (l >= 0, l.unsigned_abs() as usize);
    let (set, out) = ctx.read_out::<Set>(ctx.args[1])?;
    let Some(set) = set else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let rng = &mut rand::thread_rng();
    let mut buf = itoa::Buffer::new();
    let size = set.len();
    if !uniq || count == 1 {
        // Repetitions allowed: independent uniform picks.
        out.array(count);
        if set.is_listpack() && count > 1 {
            let items: Vec<Item> = set.iter().collect();
            for _ in 0..count {
                out.bulk(items[rng.gen_range(0..size)].bytes(&mut buf));
            }
        } else {
            for _ in 0..count {
                out.bulk(set.random(rng).bytes(&mut buf));
            }
        }
        return Ok(());
    }
    if count >= size {
        out.array(size);
        for m in set.iter() {
            out.bulk(m.bytes(&mut buf));
        }
        return Ok(());
    }
    let positions: Vec<usize> = if set.is_listpack() {
        // Distinct members in set order, one walk.
        sample_ascending(size, count, rng)
    } else if count * 3 > size {
        // Close to the whole set: shuffle positions and keep a prefix.
        let mut all: Vec<usize> = (0..size).collect();
        let (picked, _) = all.partial_shuffle(rng, count);
        picked.to_vec()
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let i = rng.gen_range(0..size);
            if seen.insert(i) {
                v.push(i);
            }
        }
        v
    };
    out.array(positions.len());
    if set.is_listpack() {
        let items: Vec<Item> = set.iter().collect();
        for i in positions {
            out.bulk(items[i].bytes(&mut buf));
        }
    } else {
        for i in positions {
            out.bulk(set.nth(i).bytes(&mut buf));
        }
    }
    Ok(())
}

/// A cursor as Redis reads it (`strtoul`): an optional sign, decimal digits, a negative
/// value wrapping around; the empty string is 0.
fn scan_cursor(s: &[u8]) -> Option<u64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return s.is_empty().then_some(0);
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

pub fn sscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = scan_cursor(ctx.args[2]).ok_or(Error::from("ERR invalid cursor"))?;
    let args = ctx.args;
    let (set, out) = ctx.read_out::<Set>(args[1])?;
    let Some(set) = set else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let (mut pattern, mut count): (Option<&[u8]>, usize) = (None, 10);
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(err::SYNTAX.into());
        }
        if args[i].eq_ignore_ascii_case(b"COUNT") {
            let c = crate::util::parse_canonical_i64(args[i + 1]).ok_or(Error::from(err::NOT_INT))?;
            if c < 1 {
                return Err(err::SYNTAX.into());
            }
            count = c as usize;
        } else if args[i].eq_ignore_ascii_case(b"MATCH") {
            pattern = if args[i + 1] == b"*" { None } else { Some(args[i + 1]) };
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 2;
    }
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut buf = itoa::Buffer::new();
    let next = set.scan(cursor, count, |m| {
        let b = m.bytes(&mut buf);
        if pattern.is_none_or(|p| crate::util::glob_match(p, b, false)) {
            found.push(b.to_vec());
            true
        } else {
            false
        }
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(found.len());
    for m in &found {
        out.bulk(m);
    }
    Ok(())
}
