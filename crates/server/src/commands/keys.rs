//! Generic keyspace commands: deletion, existence, renaming, iteration, databases,
//! expiry and OBJECT introspection.

use super::table::Slots;
use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::{hash_key, Keyspace, Slot, Value, SHARDS};
use crate::notify::GENERIC;

pub fn del(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    for &key in &ctx.args[1..] {
        if ctx.remove(key).is_some() {
            ctx.notify(GENERIC, "del", key);
            ctx.propagate(&[b"DEL", key]);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

pub fn exists(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    for &key in &ctx.args[1..] {
        if ctx.lookup_notouch(key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

pub fn type_(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let t = ctx.lookup_notouch(key).map(|e| e.value.type_name()).unwrap_or("none");
    ctx.out.simple(t.as_bytes());
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (src, dst) = (ctx.args[1], ctx.args[2]);
    let Some(e) = ctx.lookup(src) else { return Err(err::NO_KEY.into()) };
    let expire_at = e.expire_at;
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && ctx.exists(dst) {
        ctx.out.int(0);
        return Ok(());
    }
    let e = ctx.remove(src).expect("looked up above");
    ctx.remove(dst);
    // Redis keeps the object (RENAME, MOVE) or copies it encoding and all (COPY), so
    // the encoding hint travels with the value.
    let db = ctx.db();
    ctx.store_in_hinted(db, dst, e.value, expire_at, e.enc);
    ctx.notify(GENERIC, "rename_from", src);
    ctx.notify(GENERIC, "rename_to", dst);
    ctx.propagate_as_is();
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

pub fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

pub fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

pub fn keys(ctx: &mut Ctx) -> CmdResult {
    let pattern = ctx.args[1];
    let all = pattern == b"*";
    let now = ctx.now;
    let db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    for shard in ctx.keys.db_shards(db) {
        for e in shard.dict.iter() {
            if (e.expire_at == 0 || e.expire_at > now) && (all || crate::util::glob_match(pattern, &e.key, false)) {
                found.push(e.key.to_vec());
            }
        }
    }
    ctx.out.bulks(found.iter().map(|k| &k[..]));
    Ok(())
}

pub fn scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = std::str::from_utf8(ctx.args[1]).ok().and_then(|s| s.parse::<u64>().ok()).ok_or(Error::from("ERR invalid cursor"))?;
    let (mut pattern, mut count, mut typ): (Option<&[u8]>, u64, Option<Vec<u8>>) = (None, 10, None);
    let mut i = 2;
    while i < ctx.args.len() {
        if i + 1 >= ctx.args.len() {
            return Err(err::SYNTAX.into());
        }
        if ctx.is(i, "MATCH") {
            // "*" matches everything, the empty key included, as in Redis.
            pattern = if ctx.args[i + 1] == b"*" { None } else { Some(ctx.args[i + 1]) };
        } else if ctx.is(i, "COUNT") {
            let c = ctx.int_arg(i + 1)?;
            if c < 1 {
                return Err(err::SYNTAX.into());
            }
            count = c as u64;
        } else if ctx.is(i, "TYPE") {
            typ = Some(ctx.args[i + 1].to_ascii_lowercase());
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 2;
    }
    let (db, now) = (ctx.db(), ctx.now);
    let mut shard_idx = (cursor % SHARDS as u64) as usize;
    let mut inner = cursor / SHARDS as u64;
    let mut found: Vec<Vec<u8>> = Vec::new();
    // Like Redis: visit buckets until COUNT keys were collected, at most 10*COUNT
    // buckets per call; empty shards cost nothing. Expired keys met on the way are
    // deleted (lazy expiry, a plain DEL in the write stream), never returned.
    let mut budget = count.saturating_mul(10);
    let next = loop {
        let mut shard = ctx.keys.held_or_locked(&ctx.srv.keyspace, Slot { db: db as u32, shard: shard_idx as u32 });
        let mut expired: Vec<Vec<u8>> = Vec::new();
        if shard.dict.is_empty() {
            inner = 0;
        } else {
            loop {
                inner = shard.dict.scan(inner, |e| {
                    if !pattern.is_none_or(|p| crate::util::glob_match(p, &e.key, false)) {
                        return;
                    }
                    if e.expire_at != 0 && e.expire_at <= now {
                        expired.push(e.key.to_vec());
                    } else if typ.as_deref().is_none_or(|t| t == e.value.type_name().as_bytes()) {
                        found.push(e.key.to_vec());
                    }
                });
                budget = budget.saturating_sub(1);
                if inner == 0 || budget == 0 || found.len() as u64 >= count {
                    break;
                }
            }
        }
        // A replica leaves expired keys to its master's DELs (it only hides them).
        if ctx.srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed) {
            expired.clear();
        }
        for k in &expired {
            if shard.remove(crate::keyspace::hash_key(k), k).is_some() {
                ctx.srv.key_expired(db, k);
            }
        }
        if inner == 0 {
            shard_idx += 1;
            if shard_idx == SHARDS {
                break 0;
            }
        }
        if budget == 0 || found.len() as u64 >= count {
            break inner * SHARDS as u64 + shard_idx as u64;
        }
    };
    ctx.out.array(2);
    ctx.out.bulk_int(next as i64);
    ctx.out.bulks(found.iter().map(|k| &k[..]));
    Ok(())
}

pub fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    let start = rand::random::<usize>() % SHARDS;
    for tries in 0..SHARDS * 4 {
        let idx = (start + tries) % SHARDS;
        let mut shard = ctx.keys.held_or_locked(&ctx.srv.keyspace, Slot { db: db as u32, shard: idx as u32 });
        if shard.dict.is_empty() {
            continue;
        }
        let Some(e) = shard.dict.random_entry(rand::random::<u64>) else { continue };
        if e.expire_at != 0 && e.expire_at <= ctx.now {
            if !ctx.srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed) {
                let key = e.key.to_vec();
                shard.remove(hash_key(&key), &key);
                ctx.srv.key_expired(db, &key);
            }
            continue;
        }
        let key = e.key.to_vec();
        ctx.out.bulk(&key);
        return Ok(());
    }
    ctx.out.null();
    Ok(())
}

pub fn db_size(ks: &Keyspace, db: usize) -> usize {
    ks.db_len(db).0
}

pub fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.db();
    // Inside EXEC or a script the database's shards are already held.
    let n = if ctx.keys.holds(Slot { db: db as u32, shard: 0 }) {
        ctx.keys.db_shards(db).map(|s| s.dict.len()).sum()
    } else {
        db_size(&ctx.srv.keyspace, db)
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// Parses FLUSHDB/FLUSHALL's optional ASYNC|SYNC; true means free in the background.
fn flush_mode(ctx: &Ctx) -> Result<bool, Error> {
    match ctx.args.len() {
        1 => Ok(ctx.client.settings.lazyfree_lazy_user_flush),
        2 if ctx.is(1, "ASYNC") => Ok(true),
        2 if ctx.is(1, "SYNC") => Ok(false),
        _ => Err(err::SYNTAX.into()),
    }
}

/// Whether `key` exists in `db` and is not logically expired (no side effects; the
/// caller holds the shard).
fn live(ctx: &mut Ctx, db: usize, key: &[u8]) -> bool {
    stored(ctx, db, key) == Some(false)
}

/// Whether `key` is stored in `db` (expired or not, before any lazy expiry), and then
/// whether it is logically expired.
fn stored(ctx: &mut Ctx, db: usize, key: &[u8]) -> Option<bool> {
    let hash = crate::keyspace::hash_key(key);
    let now = ctx.now;
    let shard = ctx.keys.shard_mut(Slot { db: db as u32, shard: crate::keyspace::shard_of(hash) as u32 });
    shard.get(hash, key).map(|e| e.expire_at != 0 && e.expire_at <= now)
}

/// Empties every locked shard of `db`; big contents are dropped on another thread.
fn flush_db(ctx: &mut Ctx, db: usize, lazy: bool) -> usize {
    for key in ctx.srv.watches.keys_in(db) {
        if live(ctx, db, &key) {
            ctx.srv.watches.touch(db, &key, false);
        }
    }
    let mut removed = 0;
    let mut garbage = Vec::new();
    for shard in ctx.keys.db_shards(db) {
        removed += shard.dict.len();
        garbage.push(shard.clear());
    }
    if lazy {
        std::thread::spawn(move || drop(garbage));
    }
    removed
}

pub fn flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let db = ctx.db();
    flush_db(ctx, db, lazy);
    ctx.srv.tracking.flushed(ctx.srv);
    ctx.propagate_as_is();
    ctx.out.ok();
    Ok(())
}

pub fn flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let mut removed = 0;
    for db in 0..ctx.srv.keyspace.databases() {
        removed += flush_db(ctx, db, lazy);
    }
    ctx.srv.tracking.flushed(ctx.srv);
    ctx.propagate_as_is();
    // As Redis: the change count grows by the keys removed (the propagation counted
    // one), and with save points the (now empty) dataset is saved at once, so a
    // restart does not bring back what was flushed.
    use std::sync::atomic::Ordering::Relaxed;
    let _ = ctx.srv.dirty.fetch_update(Relaxed, Relaxed, |d| Some((d + removed as u64).saturating_sub(1)));
    let settings = ctx.srv.config.settings();
    if !settings.save_points.is_empty() {
        let data = crate::persistence::rdb::snapshot(
            &mut ctx.keys,
            ctx.srv.keyspace.databases(),
            crate::persistence::rdb::At::of(ctx.srv, ctx.now),
        );
        let file = ctx.srv.config.get("dbfilename").unwrap_or_default();
        if crate::persistence::snapshot::write_file(&file, &data).is_ok() {
            ctx.srv.dirty.store(0, Relaxed);
            ctx.srv.lastsave.store(ctx.now / 1000, Relaxed);
            ctx.srv.rdb.last_ok.store(true, Relaxed);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn db_index(arg: &[u8], ndbs: usize) -> Option<usize> {
    crate::util::parse_canonical_i64(arg).filter(|&n| n >= 0 && (n as usize) < ndbs).map(|n| n as usize)
}

pub fn swapdb_slots(args: &[&[u8]], _db: usize, ndbs: usize) -> Result<Slots, Error> {
    let a = crate::util::parse_canonical_i64(args[1]).ok_or(Error::from("ERR invalid first DB index"))?;
    let b = crate::util::parse_canonical_i64(args[2]).ok_or(Error::from("ERR invalid second DB index"))?;
    if a < 0 || b < 0 || a as usize >= ndbs || b as usize >= ndbs {
        return Err(err::DB_RANGE.into());
    }
    let mut v = Slots::with_capacity(2 * SHARDS);
    for db in [a, b] {
        for shard in 0..SHARDS as u32 {
            v.push(Slot { db: db as u32, shard });
        }
    }
    Ok(v)
}

pub fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let ndbs = ctx.srv.keyspace.databases();
    let a = db_index(ctx.args[1], ndbs).expect("checked by lock plan");
    let b = db_index(ctx.args[2], ndbs).expect("checked by lock plan");
    if a != b {
        // Watched keys stored on either side may change value (Redis's rules for
        // stale keys: see `Watches::swap`).
        for (x, y) in [(a, b), (b, a)] {
            for key in ctx.srv.watches.keys_in(x) {
                let (here, there) = (stored(ctx, x, &key).is_some(), stored(ctx, y, &key));
                ctx.srv.watches.swap(x, &key, here, there);
            }
        }
        ctx.keys.swap_dbs(a, b);
        // Clients blocked on a key that now holds a list or sorted set wake up.
        for db in [a, b] {
            for k in ctx.srv.blocking.keys_in(db) {
                // No lazy expiry here: an expired key's DEL belongs after SWAPDB in
                // the stream, when the woken client finds it gone.
                let hash = crate::keyspace::hash_key(&k);
                let shard = ctx.keys.shard_mut(Slot { db: db as u32, shard: crate::keyspace::shard_of(hash) as u32 });
                if shard.get(hash, &k).is_some_and(|e| matches!(e.value, Value::List(_) | Value::ZSet(_))) {
                    ctx.signal_ready_in(db, &k);
                }
            }
        }
    }
    ctx.propagate_as_is();
    ctx.out.ok();
    Ok(())
}

pub fn move_slots(args: &[&[u8]], db: usize, ndbs: usize) -> Result<Slots, Error> {
    let mut v: Slots = smallvec::smallvec![Keyspace::slot(db, args[1])];
    if let Some(dst) = db_index(args[2], ndbs) {
        v.push(Keyspace::slot(dst, args[1]));
    }
    Ok(v)
}

pub fn move_(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let ndbs = ctx.srv.keyspace.databases();
    let dst = crate::util::parse_canonical_i64(ctx.args[2]).ok_or(Error::from(err::NOT_INT))?;
    if dst < 0 || dst as usize >= ndbs {
        return Err(err::DB_RANGE.into());
    }
    let (src, dst) = (ctx.db(), dst as usize);
    if src == dst {
        return Err("ERR source and destination objects are the same".into());
    }
    if ctx.lookup_in(src, key).is_none() || ctx.lookup_in(dst, key).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let e = ctx.remove_in(src, key).expect("present");
    ctx.store_in_hinted(dst, key, e.value, e.expire_at, e.enc);
    ctx.notify_in(src, GENERIC, "move_from", key);
    ctx.notify_in(dst, GENERIC, "move_to", key);
    ctx.propagate_as_is();
    ctx.out.int(1);
    Ok(())
}

/// COPY's DB and REPLACE options: (destination db, replace).
fn copy_opts(args: &[&[u8]], db: usize) -> Result<(i64, bool), Error> {
    let (mut dst, mut replace) = (db as i64, false);
    let mut i = 3;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if args[i].eq_ignore_ascii_case(b"DB") && i + 1 < args.len() {
            dst = crate::util::parse_canonical_i64(args[i + 1]).ok_or(Error::from(err::NOT_INT))?;
            i += 1;
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 1;
    }
    Ok((dst, replace))
}

pub fn copy_slots(args: &[&[u8]], db: usize, ndbs: usize) -> Result<Slots, Error> {
    let mut v: Slots = smallvec::smallvec![Keyspace::slot(db, args[1])];
    if let Ok((dst, _)) = copy_opts(args, db) {
        if dst >= 0 && (dst as usize) < ndbs {
            v.push(Keyspace::slot(dst as usize, args[2]));
        }
    }
    Ok(v)
}

pub fn copy(ctx: &mut Ctx) -> CmdResult {
    let (src_key, dst_key) = (ctx.args[1], ctx.args[2]);
    let (dst, replace) = copy_opts(ctx.args, ctx.db())?;
    if dst < 0 || dst as usize >= ctx.srv.keyspace.databases() {
        return Err(err::DB_RANGE.into());
    }
    let (src, dst) = (ctx.db(), dst as usize);
    if src == dst && src_key == dst_key {
        return Err("ERR source and destination objects are the same".into());
    }
    // A read of the source, as in Redis (hit/miss counted, `keymiss` raised).
    let Some(e) = ctx.lookup_read(src_key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let (value, expire_at, enc) = (e.value.clone(), e.expire_at, e.enc);
    if ctx.lookup_in(dst, dst_key).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.remove_in(dst, dst_key);
    }
    ctx.store_in_hinted(dst, dst_key, value, expire_at, enc);
    ctx.notify_in(dst, GENERIC, "copy_to", dst_key);
    ctx.propagate_as_is();
    ctx.out.int(1);
    Ok(())
}

fn expire_generic(ctx: &mut Ctx, unit_ms: bool, absolute: bool) -> CmdResult {
    let key = ctx.args[1];
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..ctx.args.len() {
        match ctx.args[i].to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(format!("ERR Unsupported option {}", ctx.arg_str(i)).into()),
        }
    }
    if nx && (xx || gt || lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    let n = ctx.int_arg(2)?;
    let invalid = || Error::from(format!("ERR invalid expire time in '{}' command", ctx.cmd.name));
    let ms = if unit_ms { Some(n) } else { n.checked_mul(1000) }.ok_or_else(invalid)?;
    let at = if absolute { Some(ms) } else { ms.checked_add(ctx.now as i64) }.ok_or_else(invalid)?;
    let Some(e) = ctx.lookup(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let cur = e.expire_at;
    let ok = if nx {
        cur == 0
    } else if xx {
        cur != 0 && (!gt || at > cur as i64) && (!lt || at < cur as i64)
    } else if gt {
        cur != 0 && at > cur as i64
    } else if lt {
        cur == 0 || at < cur as i64
    } else {
        true
    };
    if !ok {
        ctx.out.int(0);
        return Ok(());
    }
    if at <= ctx.now as i64 {
        ctx.remove(key);
        ctx.notify(GENERIC, "del", key);
        ctx.propagate(&[b"DEL", key]);
    } else {
        ctx.set_expire(key, at as u64);
        ctx.notify(GENERIC, "expire", key);
        if unit_ms && absolute {
            ctx.propagate_as_is();
        } else {
            let mut b = itoa::Buffer::new();
            ctx.propagate(&[b"PEXPIREAT", key, b.format(at).as_bytes()]);
        }
    }
    ctx.out.int(1);
    Ok(())
}

pub fn expire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, false, false)
}

pub fn pexpire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, true, false)
}

pub fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, false, true)
}

pub fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, true, true)
}

fn ttl_generic(ctx: &mut Ctx, ms: bool, absolute: bool) -> CmdResult {
    let key = ctx.args[1];
    let now = ctx.now;
    let reply = match ctx.lookup_notouch(key) {
        None => -2,
        Some(e) if e.expire_at == 0 => -1,
        Some(e) => {
            let v = if absolute { e.expire_at as i64 } else { (e.expire_at as i64 - now as i64).max(0) };
            if ms {
                v
            } else {
                (v + 500) / 1000
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, false)
}

pub fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, false)
}

pub fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, false, true)
}

pub fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, true, true)
}

pub fn persist(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let had = ctx.lookup(key).is_some_and(|e| e.expire_at != 0);
    if had {
        ctx.set_expire(key, 0);
        ctx.notify(GENERIC, "persist", key);
        ctx.propagate_as_is();
    }
    ctx.out.int(had as i64);
    Ok(())
}

pub fn touch(ctx: &mut Ctx) -> CmdResult {
    let mut n = 0;
    for &key in &ctx.args[1..] {
        // A read lookup in Redis: hits, misses and `keymiss` events count.
        if ctx.lookup_read(key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.srv.config.get("maxmemory-policy").is_some_and(|p| p.contains("lfu"))
}

pub fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[2];
    match ctx.lookup_quiet(key) {
        Some(e) => {
            let enc = e.value.encoding(e.enc);
            ctx.out.bulk(enc.as_bytes());
        }
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn object_freq(ctx: &mut Ctx) -> CmdResult {
    if !lfu_policy(ctx) {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let key = ctx.args[2];
    match ctx.lookup_quiet(key).map(|e| crate::evict::lfu::count(e.lru)) {
        Some(freq) => ctx.out.int(freq as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    if lfu_policy(ctx) {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let key = ctx.args[2];
    let clock = ctx.srv.lru_clock();
    let idle = ctx.lookup_quiet(key).map(|e| clock.saturating_sub(e.lru));
    match idle {
        Some(i) => ctx.out.int(i as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[2];
    let shared_int = |v: &Value| match v {
        Value::Str(b) => crate::util::parse_canonical_i64(b).is_some_and(|n| (0..10000).contains(&n)),
        _ => false,
    };
    match ctx.lookup_quiet(key) {
        // Redis shares the integers 0..9999 and reports them as immortal.
        Some(e) if shared_int(&e.value) => ctx.out.int(i32::MAX as i64),
        Some(_) => ctx.out.int(1),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn object_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

// ---- DUMP / RESTORE (persistence) ----

/// DUMP: the value in RDB form, followed by the RDB version and a CRC-64.
pub fn dump(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let payload = ctx.lookup_read(key).map(|e| crate::persistence::rdb::dump_payload(&e.value));
    match payload {
        Some(p) => ctx.out.bulk(&p),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], with Redis's order
/// of checks: options, BUSYKEY, TTL, payload footer, payload body.
pub fn restore(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[1];
    let (mut replace, mut absttl, mut idle, mut freq) = (false, false, None::<i64>, None::<i64>);
    let mut j = 4;
    while j < ctx.args.len() {
        let more = j + 1 < ctx.args.len();
        if ctx.is(j, "replace") {
            replace = true;
        } else if ctx.is(j, "absttl") {
            absttl = true;
        } else if ctx.is(j, "idletime") && more && freq.is_none() {
            let v = ctx.int_arg(j + 1)?;
            if v < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            idle = Some(v);
            j += 1;
        } else if ctx.is(j, "freq") && more && idle.is_none() {
            let v = ctx.int_arg(j + 1)?;
            if !(0..=255).contains(&v) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(err::SYNTAX.into());
        }
        j += 1;
    }
    if !replace && ctx.exists(key) {
        return Err("BUSYKEY Target key name already exists.".into());
    }
    let mut ttl = ctx.int_arg(2)?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let payload = ctx.args[3];
    if !crate::persistence::load::verify_dump(payload) {
        return Err("ERR DUMP payload version or checksum are wrong".into());
    }
    let lim = crate::persistence::load::Limits::from_settings(&ctx.client.settings);
    let Ok(value) = crate::persistence::load::read_dump(payload, &lim) else {
        return Err("ERR Bad data format".into());
    };
    let deleted = replace && ctx.remove(key).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(ctx.now as i64);
    }
    if ttl != 0 && ttl <= ctx.now as i64 {
        if deleted {
            let lazy = ctx.srv.config.get("lazyfree-lazy-server-del").is_some_and(|v| v == "yes");
            ctx.propagate(&[if lazy { b"UNLINK" as &[u8] } else { b"DEL" }, key]);
            ctx.notify(crate::notify::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    ctx.store(key, value, ttl as u64);
    if ttl != 0 && !absttl {
        let mut args: Vec<&[u8]> = ctx.args.to_vec();
        let mut b = itoa::Buffer::new();
        args[2] = b.format(ttl).as_bytes();
        args.push(b"ABSTTL");
        ctx.propagate(&args);
    } else {
        ctx.propagate_as_is();
    }
    let lfu = lfu_policy(ctx);
    let clock = ctx.srv.lru_clock();
    if let (Some(idle), false) = (idle, lfu) {
        if let Some(e) = ctx.lookup(key) {
            e.lru = clock.saturating_sub(idle.min(u32::MAX as i64) as u32);
        }
    }
    if let (Some(freq), true) = (freq, lfu) {
        if let Some(e) = ctx.lookup(key) {
            e.lru = crate::evict::lfu::with(freq.clamp(0, 255) as u8);
        }
    }
    ctx.notify(crate::notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
