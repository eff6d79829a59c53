//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC locks the union of the shards its queued commands need (everything when one
//! of them works on whole databases) and runs them back to back under those locks,
//! so no client on any core sees the transaction half done. Their effects reach the
//! write stream as one MULTI ... EXEC unit.

use std::sync::atomic::Ordering;

use ferrokv_protocol::ReplyBuf;
use smallvec::SmallVec;

use super::table::{self, CommandDef, Lock};
use super::{CmdResult, Ctx};
use crate::keyspace::{hash_key, shard_of, Slot};
use crate::net::client::{Client, Queued};
use crate::server::Server;

/// Commands that run at once even inside MULTI instead of being queued.
pub fn runs_in_multi(def: &CommandDef) -> bool {
    matches!(def.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Queues a command inside MULTI (it was already found and its arity checked).
pub fn queue(srv: &Server, client: &mut Client, out: &mut ReplyBuf, def: &'static CommandDef, id: usize, args: &[&[u8]]) {
    if def.flags & table::NO_MULTI != 0 {
        let e = "ERR Command not allowed inside a transaction";
        srv.stats.rejected(id);
        srv.stats.error(e);
        out.error(e);
        client.multi_error = true;
        return;
    }
    let flags = super::scripting::command_flags(srv, def, args);
    let q = Queued { def, flags, id, args: args.iter().map(|a| a.to_vec()).collect() };
    client.multi.get_or_insert_with(Vec::new).push(q);
    out.simple(b"QUEUED");
}

pub fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.out.ok();
    Ok(())
}

pub fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err("ERR DISCARD without MULTI".into());
    }
    end_transaction(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Leaves MULTI state and forgets every watched key.
pub fn end_transaction(srv: &Server, client: &mut Client) {
    client.multi = None;
    client.multi_error = false;
    unwatch_all(srv, client);
}

pub fn unwatch_all(srv: &Server, client: &mut Client) {
    srv.watches.unwatch(client.shared.id, &client.watched);
    client.watched.clear();
    client.watch_dirty.store(false, Ordering::Release);
}

pub fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err("ERR WATCH inside MULTI is not allowed".into());
    }
    let db = ctx.db();
    for &key in &ctx.args[1..] {
        if ctx.client.watched.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        let stale = is_expired(ctx, db, key);
        ctx.srv.watches.watch(ctx.client.shared.id, &ctx.client.watch_dirty, db, key, stale);
        ctx.client.watched.push((db, key.to_vec()));
    }
    ctx.out.ok();
    Ok(())
}

pub fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Whether `key` is present but logically expired (the caller holds its shard lock).
fn is_expired(ctx: &mut Ctx, db: usize, key: &[u8]) -> bool {
    let hash = hash_key(key);
    let now = ctx.now;
    let shard = ctx.keys.shard_mut(Slot { db: db as u32, shard: shard_of(hash) as u32 });
    shard.get(hash, key).is_some_and(|e| e.expire_at != 0 && e.expire_at <= now)
}

/// The shards EXEC must hold: `None` means every shard of every database.
fn exec_slots(srv: &Server, client: &Client, queued: &[Queued]) -> Option<Vec<Slot>> {
    let mut db = client.db;
    let mut slots: Vec<Slot> = client.watched.iter().map(|(d, k)| Slot { db: *d as u32, shard: shard_of(hash_key(k)) as u32 }).collect();
    for q in queued {
        let args: Vec<&[u8]> = q.args.iter().map(|a| a.as_slice()).collect();
        match q.def.lock {
            Lock::None if q.def.name == "select" => {
                db = crate::util::parse_canonical_i64(args[1]).filter(|&n| n >= 0 && (n as usize) < srv.keyspace.databases())? as usize;
            }
            Lock::None => {}
            Lock::Db | Lock::All | Lock::Walk => return None,
            Lock::Custom(f) => slots.extend(f(&args, db, srv.keyspace.databases()).ok()?),
            Lock::Keys => {
                for i in super::key_positions(q.def, args.len()) {
                    slots.push(Slot { db: db as u32, shard: shard_of(hash_key(args[i])) as u32 });
                }
            }
        }
    }
    Some(slots)
}

pub fn exec(ctx: &mut Ctx) -> CmdResult {
    let Some(queued) = ctx.client.multi.take() else {
        return Err("ERR EXEC without MULTI".into());
    };
    let srv = ctx.srv;
    if std::mem::take(&mut ctx.client.multi_error) {
        unwatch_all(srv, ctx.client);
        return Err("EXECABORT Transaction discarded because of previous errors.".into());
    }
    let mut locked = match exec_slots(srv, ctx.client, &queued) {
        Some(slots) => srv.keyspace.lock(slots),
        None => srv.keyspace.lock_all(),
    };
    // A watched key written by someone else, or expired since WATCH, aborts.
    let now = ctx.now;
    let expired = ctx.client.watched.iter().any(|(db, key)| {
        let hash = hash_key(key);
        let shard = locked.shard_mut(Slot { db: *db as u32, shard: shard_of(hash) as u32 });
        shard.get(hash, key).is_some_and(|e| e.expire_at != 0 && e.expire_at <= now)
            && !srv.watches.is_stale(ctx.client.shared.id, *db, key)
    });
    let dirty = ctx.client.watch_dirty.load(Ordering::Acquire) || expired;
    unwatch_all(srv, ctx.client);
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    let client = &mut *ctx.client;
    client.no_block = true;
    *client.capture.borrow_mut() = Some(Default::default());
    ctx.out.array(queued.len());
    for q in &queued {
        let args: Vec<&[u8]> = q.args.iter().map(|a| a.as_slice()).collect();
        locked = super::run_locked(srv, client, ctx.out, &args, now, (q.def, q.id), locked, SmallVec::new());
    }
    client.no_block = false;
    let batch = client.capture.borrow_mut().take().unwrap_or_default();
    if !batch.is_empty() {
        srv.journal.append_batch(&batch);
        client.woff.set(srv.journal.offset());
    }
    drop(locked);
    Ok(())
}

/// RESET and disconnects leave no transaction or watch behind.
pub fn forget(srv: &Server, client: &mut Client) {
    end_transaction(srv, client);
}
