//! Command execution: the [`Ctx`] a handler works with, the dispatcher that looks a
//! command up in the one table ([`table`]), checks arity and auth, takes the shard
//! locks its key positions call for, runs it and records statistics.
//!
//! Family files (`strings.rs`, `keys.rs`, ...) only say what a command means; locking,
//! expiry, propagation and statistics live here, once.

pub mod bitfield;
pub mod bitmaps;
pub mod connection;
pub mod functions;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod sorted_sets;
pub mod strings;
pub mod table;
pub mod transactions;

use std::borrow::Cow;

use ferrokv_protocol::ReplyBuf;
use smallvec::SmallVec;

pub use crate::keyspace::value::Typed;
use crate::keyspace::{hash_key, Blob, Entry, Keyspace, Locked, Slot, Value};
use crate::net::client::Client;
use crate::server::Server;
pub use table::{CommandDef, Lock};

/// An error reply, including its code (`ERR ...`, `WRONGTYPE ...`).
#[derive(Debug)]
pub struct Error(pub Cow<'static, str>);

impl From<&'static str> for Error {
    fn from(s: &'static str) -> Error {
        Error(Cow::Borrowed(s))
    }
}

impl From<String> for Error {
    fn from(s: String) -> Error {
        Error(Cow::Owned(s))
    }
}

pub type CmdResult = Result<(), Error>;
pub type Handler = fn(&mut Ctx) -> CmdResult;

pub mod err {
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const NOT_INT: &str = "ERR value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    pub const SYNTAX: &str = "ERR syntax error";
    pub const NO_KEY: &str = "ERR no such key";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const DB_RANGE: &str = "ERR DB index is out of range";
    pub const NOAUTH: &str = "NOAUTH Authentication required.";
    pub const EXPIRE_TIME: &str = "ERR invalid expire time in '%s' command";
    pub const MAX_STRING: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
}

/// What a handler sees: the server, its client, the reply buffer, its arguments and
/// the shard locks the dispatcher took for it.
pub struct Ctx<'a, 's> {
    pub srv: &'s Server,
    pub client: &'a mut Client,
    pub out: &'a mut ReplyBuf,
    pub args: &'a [&'a [u8]],
    pub keys: Locked<'s>,
    /// Milliseconds since the epoch, fixed for the whole command as in Redis.
    pub now: u64,
    /// Hashes of the key arguments, computed once when the lock plan was made
    /// (keyed by the argument's address and length).
    pub hashes: SmallVec<[(usize, usize, u64); 4]>,
    pub cmd: &'static CommandDef,
}

impl<'a, 's> Ctx<'a, 's> {
    /// The keyspace hash of `key`, reusing the one the lock plan computed.
    #[inline]
    pub fn hash_of(&self, key: &[u8]) -> u64 {
        let (p, n) = (key.as_ptr() as usize, key.len());
        self.hashes.iter().find(|(a, l, _)| *a == p && *l == n).map(|(_, _, h)| *h).unwrap_or_else(|| hash_key(key))
    }

    pub fn db(&self) -> usize {
        self.client.db
    }

    pub fn arg_str(&self, i: usize) -> Cow<'a, str> {
        String::from_utf8_lossy(self.args[i])
    }

    /// Whether argument `i` equals `word`, ignoring ASCII case.
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    }

    pub fn int_arg(&self, i: usize) -> Result<i64, Error> {
        crate::util::parse_canonical_i64(self.args[i]).ok_or(Error::from(err::NOT_INT))
    }

    /// Finds a live key in database `db`, deleting it first if it has expired
    /// (lazy expiry); updates its access clock.
    pub fn lookup_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let hash = self.hash_of(key);
        lookup_live(&mut self.keys, self.srv, (!self.client.no_touch, self.client.is_master_link), self.now, db, key, hash)
    }

    /// Like [`Ctx::get_str`], but also hands out the reply buffer so a handler can send
    /// the value without copying it.
    pub fn get_str_out(&mut self, key: &[u8]) -> Result<(Option<&Blob>, &mut ReplyBuf), Error> {
        let hash = self.hash_of(key);
        let e =
            lookup_live(&mut self.keys, self.srv, (!self.client.no_touch, self.client.is_master_link), self.now, self.client.db, key, hash);
        self.srv.stats.keyspace(e.is_some());
        let b = match e {
            None => {
                key_miss(self.srv, self.client, key);
                None
            }
            Some(e) => match &e.value {
                Value::Str(b) => Some(b),
                _ => return Err(err::WRONGTYPE.into()),
            },
        };
        Ok((b, &mut *self.out))
    }

    pub fn lookup(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.lookup_in(self.client.db, key)
    }

    /// A read lookup that counts keyspace hits and misses.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.client.db;
        let srv = self.srv;
        let hash = self.hash_of(key);
        let r = lookup_live(&mut self.keys, srv, (!self.client.no_touch, self.client.is_master_link), self.now, db, key, hash);
        srv.stats.keyspace(r.is_some());
        if r.is_none() {
            key_miss(srv, self.client, key);
        }
        r
    }

    /// The string at `key`, `None` when absent, WRONGTYPE for another type.
    pub fn get_str(&mut self, key: &[u8]) -> Result<Option<&Blob>, Error> {
        match self.lookup_read(key) {
            None => Ok(None),
            Some(e) => match &e.value {
                Value::Str(b) => Ok(Some(b)),
                _ => Err(err::WRONGTYPE.into()),
            },
        }
    }

    /// The value of type `T` at `key` for a read: `None` when absent, WRONGTYPE for
    /// another type. Counts a keyspace hit or miss.
    pub fn read<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&mut T>, Error> {
        Ok(self.read_out::<T>(key)?.0)
    }

    /// Like [`Ctx::read`], also handing out the reply buffer so the handler can reply
    /// straight from the value.
    pub fn read_out<T: Typed>(&mut self, key: &[u8]) -> Result<(Option<&mut T>, &mut ReplyBuf), Error> {
        let hash = self.hash_of(key);
        let e =
            lookup_live(&mut self.keys, self.srv, (!self.client.no_touch, self.client.is_master_link), self.now, self.client.db, key, hash);
        self.srv.stats.keyspace(e.is_some());
        match e {
            None => {
                key_miss(self.srv, self.client, key);
                Ok((None, &mut *self.out))
            }
            Some(e) => match T::of_mut(&mut e.value) {
                Some(v) => Ok((Some(v), &mut *self.out)),
                None => Err(err::WRONGTYPE.into()),
            },
        }
    }

    /// The value of type `T` at `key` for a write (no hit/miss counted): `None` when
    /// absent, WRONGTYPE for another type. Marks the key ready for blocked clients.
    pub fn write<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&mut T>, Error> {
        self.signal_ready(key);
        match self.lookup(key) {
            None => Ok(None),
            Some(e) => T::of_mut(&mut e.value).map(Some).ok_or(Error::from(err::WRONGTYPE)),
        }
    }

    /// The value of type `T` at `key`, created with `make` when absent (WRONGTYPE for
    /// another type). Marks the key ready for blocked clients.
    pub fn write_or_create<T: Typed>(&mut self, key: &[u8], make: impl FnOnce() -> T) -> Result<&mut T, Error> {
        if self.write::<T>(key)?.is_none() {
            self.store(key, make().into_value(), 0);
        }
        Ok(self.write::<T>(key)?.expect("just stored"))
    }

    /// Deletes `key` if it holds an emptied collection (Redis never keeps empty ones)
    /// and raises its `del` event; returns whether it did. Notify the command's own
    /// event first: Redis sends it ahead of the `del`.
    pub fn drop_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = self.lookup(key).is_some_and(|e| !matches!(e.value, Value::Str(_)) && e.value.is_empty());
        if empty {
            self.remove(key);
            self.notify(crate::notify::GENERIC, "del", key);
        }
        empty
    }

    /// Marks `key` (current database) as possibly ready for clients blocked on it.
    pub fn signal_ready(&mut self, key: &[u8]) {
        self.signal_ready_in(self.client.db, key);
    }

    pub fn signal_ready_in(&mut self, db: usize, key: &[u8]) {
        if self.srv.blocking.has_waiters(db, key) && !self.client.ready_keys.iter().any(|(d, k)| *d == db && k == key) {
            self.client.ready_keys.push((db, key.to_vec()));
        }
    }

    /// Whether this command may block: not inside MULTI/EXEC, a script, or when re-run
    /// to serve a blocked client (then it behaves as its non-blocking form).
    pub fn may_block(&self) -> bool {
        !self.client.no_block
    }

    /// Blocks the client on `keys` until one of them is written or `timeout_at` (unix
    /// ms, 0 = forever) passes; the handler replies nothing now. On timeout the client
    /// gets the null array, as from Redis.
    pub fn block(&mut self, keys: Vec<Vec<u8>>, timeout_at: u64) {
        self.client.block = Some(crate::blocking::BlockSpec { keys, timeout_at });
    }

    /// Parses a blocking timeout in seconds (fractions allowed) into an absolute unix
    /// ms deadline, 0 meaning forever, with Redis's errors.
    pub fn timeout_arg(&self, i: usize) -> Result<u64, Error> {
        let s = std::str::from_utf8(self.args[i]).ok();
        // Redis parses with strtold: hexadecimal integers and infinities are numbers too.
        let hex = |s: &str| {
            let (neg, h) = s.strip_prefix('-').map_or((false, s), |h| (true, h));
            let h = h.strip_prefix("0x").or_else(|| h.strip_prefix("0X"))?;
            let v = u64::from_str_radix(h, 16).ok()? as f64;
            Some(if neg { -v } else { v })
        };
        let v = s.and_then(|s| crate::util::parse_f64(s.as_bytes()).or_else(|| hex(s)));
        let Some(v) = v else { return Err("ERR timeout is not a float or out of range".into()) };
        let ms = (v * 1000.0).ceil();
        if ms > i64::MAX as f64 {
            return Err("ERR timeout is out of range".into());
        }
        if v < 0.0 {
            return Err("ERR timeout is negative".into());
        }
        if ms > (i64::MAX as u64 - self.now) as f64 {
            return Err("ERR timeout is out of range".into());
        }
        Ok(if ms == 0.0 { 0 } else { self.now + ms as u64 })
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup(key).is_some()
    }

    /// Stores `value` at `key` in the current database with the given expiry (0 = none).
    pub fn store(&mut self, key: &[u8], value: Value, expire_at: u64) {
        self.store_in(self.client.db, key, value, expire_at)
    }

    /// Stores a string produced other than by a plain SET (see `value::enc`).
    pub fn store_hinted(&mut self, key: &[u8], value: Value, expire_at: u64, hint: u8) {
        self.store_in_hinted(self.client.db, key, value, expire_at, hint);
    }

    /// Finds a live key without updating its access clock (TTL, TYPE, EXISTS and
    /// OBJECT must not make a key look recently used); counts hits and misses.
    pub fn lookup_notouch(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let hash = self.hash_of(key);
        let r = lookup_live(&mut self.keys, self.srv, (false, self.client.is_master_link), self.now, self.client.db, key, hash);
        self.srv.stats.keyspace(r.is_some());
        if r.is_none() {
            key_miss(self.srv, self.client, key);
        }
        r
    }

    /// Like [`Ctx::lookup_notouch`] but a miss raises no `keymiss` event (OBJECT, as
    /// in Redis).
    pub fn lookup_quiet(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let hash = self.hash_of(key);
        let r = lookup_live(&mut self.keys, self.srv, (false, self.client.is_master_link), self.now, self.client.db, key, hash);
        self.srv.stats.keyspace(r.is_some());
        r
    }

    pub fn store_in(&mut self, db: usize, key: &[u8], value: Value, expire_at: u64) {
        self.store_in_hinted(db, key, value, expire_at, crate::keyspace::value::enc::AUTO);
    }

    pub fn store_in_hinted(&mut self, db: usize, key: &[u8], value: Value, expire_at: u64, hint: u8) {
        let hash = self.hash_of(key);
        let slot = Slot { db: db as u32, shard: crate::keyspace::shard_of(hash) as u32 };
        let lru = self.srv.new_key_lru();
        let wakes = matches!(value, Value::List(_) | Value::ZSet(_));
        // Only when someone listens: a key being created raises `new` (and an expired
        // one it replaces its `expired` first, as Redis's write lookup does).
        let created =
            self.client.settings.notify_flags & (crate::notify::NEW | crate::notify::EXPIRED) != 0 && self.lookup_in(db, key).is_none();
        self.keys.shard_mut(slot).put(hash, key, value, expire_at, lru, hint);
        if wakes {
            self.signal_ready_in(db, key);
        }
        if created {
            self.notify_in(db, crate::notify::NEW, "new", key);
        }
    }

    /// Deletes a key (if live); returns whether it existed.
    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.lookup_in(db, key)?;
        let hash = self.hash_of(key);
        let slot = Slot { db: db as u32, shard: crate::keyspace::shard_of(hash) as u32 };
        self.keys.shard_mut(slot).remove(hash, key)
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_in(self.client.db, key)
    }

    pub fn set_expire(&mut self, key: &[u8], at: u64) -> bool {
        let hash = self.hash_of(key);
        let slot = Slot { db: self.client.db as u32, shard: crate::keyspace::shard_of(hash) as u32 };
        self.keys.shard_mut(slot).set_expire(hash, key, at)
    }

    /// Publishes a keyspace event for `key` (current database) when
    /// `notify-keyspace-events` asks for its class.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        self.notify_in(self.client.db, class, event, key);
    }

    /// Like [`Ctx::notify`] for a key of database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        if self.client.settings.notify_flags & class != 0 {
            notify_client(self.srv, self.client, class, event, db, key);
        }
    }

    /// Appends the effect of this write to the write stream and counts it as a change.
    pub fn propagate(&self, args: &[&[u8]]) {
        if let Some(batch) = self.client.capture.borrow_mut().as_mut() {
            batch.push(&self.srv.journal, self.client.db, args);
            self.srv.dirty.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        self.srv.propagate(self.client.db, args);
        self.client.woff.set(self.srv.journal.offset());
    }

    /// Propagates the command exactly as the client sent it.
    pub fn propagate_as_is(&self) {
        self.propagate(self.args);
    }
}

/// Publishes an event caused by `client`'s command. What the client receives itself
/// waits in [`crate::notify`]'s pending pushes, to follow its reply as in Redis.
fn notify_client(srv: &Server, client: &Client, class: u32, event: &str, db: usize, key: &[u8]) {
    let mut own = ReplyBuf { buf: Vec::new(), resp3: false };
    crate::notify::publish(srv, client.settings.notify_flags, class, event, db, key, (client.shared.id, &mut own));
    if !own.buf.is_empty() {
        crate::notify::defer_own(&own.buf);
    }
}

/// A read lookup missed: the `keymiss` event, when asked for.
#[inline]
fn key_miss(srv: &Server, client: &Client, key: &[u8]) {
    if client.settings.notify_flags & crate::notify::KEY_MISS != 0 {
        notify_client(srv, client, crate::notify::KEY_MISS, "keymiss", client.db, key);
    }
}

/// Finds a live key, removing it (and propagating the DEL) if it has expired.
fn lookup_live<'k>(
    keys: &'k mut Locked,
    srv: &Server,
    (touch, obey): (bool, bool),
    now: u64,
    db: usize,
    key: &[u8],
    hash: u64,
) -> Option<&'k mut Entry> {
    let slot = Slot { db: db as u32, shard: crate::keyspace::shard_of(hash) as u32 };
    let shard = keys.shard_mut(slot);
    let expired = matches!(shard.get(hash, key), Some(e) if e.expire_at != 0 && e.expire_at <= now);
    if expired && !obey {
        // A replica keeps an expired key until its master's DEL arrives, hiding it from
        // its own clients meanwhile (Redis 7); its master's commands still see it.
        if srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        shard.remove(hash, key);
        srv.key_expired(db, key);
    }
    let e = shard.get_mut(hash, key)?;
    if touch {
        e.lru = if crate::evict::lfu::on() { crate::evict::lfu::touch(e.lru) } else { srv.lru_clock() };
    }
    Some(e)
}

/// Parses an expiry argument into an absolute unix time in ms, with Redis's errors.
pub fn expire_at_from(ctx: &Ctx, arg: &[u8], unit_ms: bool, absolute: bool, cmd: &str) -> Result<u64, Error> {
    let n = crate::util::parse_canonical_i64(arg).ok_or(Error::from(err::NOT_INT))?;
    let invalid = || Error::from(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 && !absolute {
        return Err(invalid());
    }
    let ms = if unit_ms { Some(n) } else { n.checked_mul(1000) };
    let ms = ms.ok_or_else(invalid)?;
    let at = if absolute { Some(ms) } else { ms.checked_add(ctx.now as i64) };
    match at {
        Some(at) if at > 0 => Ok(at as u64),
        _ => Err(invalid()),
    }
}

/// Runs one command for a client. Replies go to `out`; `now` is the unix time in ms
/// the connection read this batch at (Redis also caches time around a command).
pub fn execute(srv: &Server, client: &mut Client, out: &mut ReplyBuf, args: &[&[u8]], now: u64) {
    execute_holding(srv, client, out, args, now, &mut None);
}

/// A shard lock a connection keeps from one command of a pipeline to the next when
/// both name keys of that one shard only: a hot key then changes hands between
/// workers once per batch instead of once per command (each handover of a contended
/// lock is a futex wait and wake). The connection drops it before it awaits anything.
pub struct Held<'s> {
    keys: Locked<'s>,
    slot: Slot,
    /// Taken by a writer, so a running snapshot has captured the shard.
    captured: bool,
    uses: u32,
}

/// How many commands in a row one [`Held`] lock serves before it is let go, so that a
/// long pipeline on one key does not keep other clients out for long.
const HELD_USES: u32 = 32;

/// [`execute`] for a connection running a pipeline: `hold` carries a shard lock
/// from the previous command (see [`Held`]) and may be left holding one for the next.
pub fn execute_holding<'s>(
    srv: &'s Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: &[&[u8]],
    now: u64,
    hold: &mut Option<Held<'s>>,
) {
    if !srv.tracking.in_use() && client.settings.maxmemory == 0 && !srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed) {
        return execute_command(srv, client, out, args, now, hold);
    }
    // Eviction and tracking's table limit lock shards of their own, and a replica's
    // checks take its master link's lock: none of them while a shard is held.
    *hold = None;
    // Client-side caching: invalidations caused by this command for this very client
    // follow its reply (see `tracking`).
    let saved = crate::tracking::enter(srv, client.shared.id);
    srv.tracking.enforce_limit(srv, Some(out));
    if client.settings.maxmemory != 0 {
        // Keys evicted for this command are invalidated before its reply.
        crate::evict::make_room(srv, &client.settings);
        crate::tracking::send_own_now(srv, client, out);
    }
    execute_command(srv, client, out, args, now, &mut None);
    crate::tracking::leave(srv, client, out, saved);
}

const READONLY: &str = "READONLY You can't write against a read only replica.";
const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
const MASTERDOWN: &str = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// What replication forbids a write: on a master with fewer than
/// `min-replicas-to-write` good replicas, and on a read-only replica.
fn write_refusal(srv: &Server, client: &Client, def: &CommandDef, flags: u32) -> Option<&'static str> {
    if client.is_master_link {
        return None;
    }
    let s = &client.settings;
    let write = flags & table::WRITE != 0
        || (def.name == "exec" && client.multi.as_ref().is_some_and(|q| q.iter().any(|c| c.flags & table::WRITE != 0)));
    if !write {
        return None;
    }
    if !srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed) {
        return srv.replicas.too_few(s).then_some(NOREPLICAS);
    }
    s.replica_read_only.then_some(READONLY)
}

/// Any non-STALE command on a replica whose link is down, with
/// `replica-serve-stale-data no`.
fn stale_refusal(srv: &Server, client: &Client, def: &CommandDef, flags: u32) -> Option<&'static str> {
    if client.is_master_link || client.settings.replica_serve_stale_data || !srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    let link = srv.master.lock().clone()?;
    let stale_ok = flags & table::STALE != 0
        && !(def.name == "exec" && client.multi.as_ref().is_some_and(|q| q.iter().any(|c| c.flags & table::STALE == 0)));
    (link.status() != "up" && !stale_ok).then_some(MASTERDOWN)
}

/// Logs, at most every 10 s, that the master's writes are applied though they cannot
/// be persisted.
fn disk_error_on_replica(now: u64) {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let last = LAST.load(std::sync::atomic::Ordering::Relaxed);
    if now >= last + 10_000
        && LAST.compare_exchange(last, now, std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed).is_ok()
    {
        tracing::warn!("Replica is applying a command even though it is unable to write to disk.");
    }
}

fn execute_command<'s>(srv: &'s Server, client: &mut Client, out: &mut ReplyBuf, args: &[&[u8]], now: u64, hold: &mut Option<Held<'s>>) {
    let Some((def, id)) = resolve(srv, client, out, args) else {
        *hold = None;
        return;
    };
    if !matches!(def.lock, Lock::Keys) || client.multi.is_some() {
        *hold = None;
    }
    if srv.scripts.busy() {
        if let Some(e) = crate::scripting::busy_refusal(srv, def, client.shared.id) {
            return reject(srv, client, out, (def, id), e);
        }
    }
    // A script's declared flags count only where some check below may refuse it.
    let s = &client.settings;
    let flags = if def.flags & table::SCRIPT_RUN != 0
        && (srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed)
            || s.maxmemory != 0
            || s.min_replicas_to_write > 0
            || !s.replica_serve_stale_data
            || crate::persistence::disk_error(srv, s).is_some())
    {
        scripting::command_flags(srv, def, args)
    } else {
        def.flags
    };
    if client.settings.maxmemory != 0 && !crate::evict::make_room(srv, &client.settings) {
        // Over maxmemory: refuse what may grow memory, and anything queued in MULTI.
        let in_multi = client.multi.is_some() && !matches!(def.name, "exec" | "discard" | "quit" | "reset");
        let denyoom = flags & table::DENYOOM != 0
            || (def.name == "exec" && client.multi.as_ref().is_some_and(|q| q.iter().any(|c| c.flags & table::DENYOOM != 0)));
        if in_multi || denyoom {
            return reject(srv, client, out, (def, id), crate::evict::OOM);
        }
    }
    if flags & table::WRITE != 0 || def.name == "ping" || def.name == "exec" {
        if let Some(e) = crate::persistence::disk_error(srv, &client.settings) {
            if client.is_master_link {
                // Refusing the master's stream would make this replica diverge: Redis
                // stops (`replica-ignore-disk-write-errors no`) or applies it.
                if def.name != "ping" && srv.config.get("replica-ignore-disk-write-errors").as_deref() != Some("yes") {
                    crate::log::server_panic("Replica was unable to write command to disk.");
                }
                disk_error_on_replica(now);
            } else if def.name != "exec" || client.multi.as_ref().is_some_and(|q| q.iter().any(|c| c.flags & table::WRITE != 0)) {
                return reject(srv, client, out, (def, id), &e.message());
            }
        }
    }
    if let Some(e) = write_refusal(srv, client, def, flags) {
        return reject(srv, client, out, (def, id), e);
    }
    // Redis's order: NOREPLICAS and READONLY, then the RESP2 subscribed context, then
    // MASTERDOWN.
    if !out.resp3 && pubsub::subscribed(client) && !allowed_when_subscribed(def) {
        let e = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            def.full_name()
        );
        srv.stats.rejected(id);
        srv.stats.error(&e);
        out.error(&e);
        return;
    }
    if let Some(e) = stale_refusal(srv, client, def, flags) {
        return reject(srv, client, out, (def, id), e);
    }
    if client.multi.is_some() && !transactions::runs_in_multi(def) {
        transactions::queue(srv, client, out, def, id, args);
        return;
    }
    if srv.monitors_active() && def.flags & table::SKIP_MONITOR == 0 {
        srv.feed_monitors(client, args);
    }
    let mut hashes = SmallVec::new();
    let capture = def.flags & table::READONLY == 0;
    // The kept lock serves this command when it names keys of that shard only; a
    // single-shard command on another shard locks its shard without replanning.
    let reused = match hold.take() {
        Some(h) if h.uses < HELD_USES && (h.captured || !capture) => match single_slot(def, client.db, args, &mut hashes) {
            Some(slot) if slot == h.slot => Some((h.keys, h.uses + 1)),
            Some(slot) => {
                drop(h);
                Some((srv.keyspace.lock_for([slot], capture), 1))
            }
            None => {
                drop(h);
                hashes.clear();
                None
            }
        },
        _ => None,
    };
    let (keys, uses) = match reused {
        Some(k) => k,
        None => match lock_plan(srv, def, client.db, args, &mut hashes) {
            Ok(k) => (k, 1),
            Err(e) => {
                srv.stats.error(&e.0);
                out.error(&e.0);
                return;
            }
        },
    };
    let keys = run_locked(srv, client, out, args, now, (def, id), keys, hashes);
    if client.ready_keys.is_empty() && client.block.is_none() && client.multi.is_none() && matches!(def.lock, Lock::Keys) {
        if let Some(slot) = keys.single() {
            *hold = Some(Held { keys, slot, captured: capture, uses });
        }
    } else {
        drop(keys);
    }
    // A served blocked command leaves the keys it made ready to the serving loop, which
    // takes them after the ones already waiting (Redis's order).
    if !client.ready_keys.is_empty() && !client.serving_blocked {
        let ready = std::mem::take(&mut client.ready_keys);
        srv.blocking.serve(srv, ready, now);
    }
}

/// Refuses a command because of the server's state, as Redis's rejectCommand: a
/// command queued in MULTI dooms the transaction; a refused EXEC ends it at once.
fn reject(srv: &Server, client: &mut Client, out: &mut ReplyBuf, (def, id): (&'static CommandDef, usize), e: &str) {
    srv.stats.rejected(id);
    if client.multi.is_some() && def.name == "exec" {
        transactions::end_transaction(srv, client);
        let e = format!("EXECABORT Transaction discarded because of: {e}");
        srv.stats.error(&e);
        out.error(&e);
        return;
    }
    srv.stats.error(e);
    out.error(e);
    if client.multi.is_some() {
        client.multi_error = true;
    }
}

/// What a RESP2 client in subscribed mode may still run.
fn allowed_when_subscribed(def: &CommandDef) -> bool {
    matches!(
        def.name,
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" | "ping" | "quit" | "reset"
    )
}

/// Finds the command (and subcommand) `args` names and checks arity and
/// authentication; replies with Redis's error and returns `None` when it cannot run.
/// Inside MULTI a rejected command also dooms the transaction (EXECABORT).
pub fn resolve(srv: &Server, client: &mut Client, out: &mut ReplyBuf, args: &[&[u8]]) -> Option<(&'static CommandDef, usize)> {
    let fail = |client: &mut Client, out: &mut ReplyBuf, id: Option<usize>, e: &str| {
        if let Some(id) = id {
            srv.stats.rejected(id);
        }
        srv.stats.error(e);
        out.error(e);
        if client.multi.is_some() {
            client.multi_error = true;
        }
        None
    };
    let cached = client.last_command.filter(|(d, _)| d.name.as_bytes().eq_ignore_ascii_case(args[0]));
    let Some((def, id)) = cached.or_else(|| table::lookup_id(args[0])) else {
        return fail(client, out, None, &unknown_command(args));
    };
    client.last_command = Some((def, id));
    let (def, id) = match resolve_subcommand(def, args) {
        Ok(Some(i)) => (&def.subcommands[i], id + 1 + i),
        Ok(None) => (def, id),
        Err(e) => return fail(client, out, Some(id), &e),
    };
    client.shared.last_cmd.store(id + 1, std::sync::atomic::Ordering::Relaxed);
    if !arity_ok(def.arity, args.len()) {
        return fail(client, out, Some(id), &format!("ERR wrong number of arguments for '{}' command", def.full_name()));
    }
    if !client.authenticated && def.flags & table::NO_AUTH == 0 {
        return fail(client, out, Some(id), err::NOAUTH);
    }
    Some((def, id))
}

/// Runs a resolved command's handler with the shard locks already taken, records its
/// statistics, and hands the locks back (EXEC runs several commands under one set).
#[allow(clippy::too_many_arguments)]
pub fn run_locked<'s>(
    srv: &'s Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: &[&[u8]],
    now: u64,
    (def, id): (&'static CommandDef, usize),
    keys: Locked<'s>,
    hashes: SmallVec<[(usize, usize, u64); 4]>,
) -> Locked<'s> {
    let start = crate::clock::now();
    let watching = srv.watches.active() && def.flags & table::WRITE != 0;
    let tracking = srv.tracking.active() && def.flags & table::WRITE != 0;
    let dirty = if watching || tracking { srv.dirty.load(std::sync::atomic::Ordering::Relaxed) } else { 0 };
    let mut ctx = Ctx { srv, client, out, args, keys, now, hashes, cmd: def };
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (def.handler)(&mut ctx)));
    let Ctx { client, out, keys, .. } = ctx;
    let nested = client.capture.borrow().is_some();
    if watching && srv.dirty.load(std::sync::atomic::Ordering::Relaxed) != dirty {
        // The command changed something: its key arguments are touched.
        for i in key_positions(def, args.len()) {
            srv.watches.touch(client.db, args[i], false);
        }
    }
    if tracking && srv.dirty.load(std::sync::atomic::Ordering::Relaxed) != dirty {
        // Client-side caches of the keys it may have written are invalidated.
        for (i, w) in crate::tracking::key_args(def, args) {
            if w {
                srv.tracking.invalidate(srv, args[i], client.shared.id);
            }
        }
    }
    if def.flags & table::READONLY != 0 && client.shared.tracking.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        srv.tracking.remember(&client.shared, def, args);
    }
    let counted = std::mem::take(&mut client.error_counted);
    let failed = match res {
        Ok(Ok(())) => false,
        Ok(Err(e)) => {
            out.error(&e.0);
            if !counted {
                srv.stats.error(&e.0);
            }
            true
        }
        Err(_) => {
            let e = format!("ERR internal error while running '{}'", def.full_name());
            out.error(&e);
            srv.stats.error(&e);
            true
        }
    };
    // The client's own keyspace notifications follow its reply (inside EXEC: the
    // whole EXEC reply).
    if !nested {
        crate::notify::flush_own(&mut out.buf);
    }
    // A command that blocked is counted once, when it is served or ends.
    if client.block.is_none() {
        let elapsed = crate::clock::since(start);
        srv.stats.called(id, elapsed, failed);
        srv.after_command(client, def, args, elapsed);
    }
    keys
}

/// The argument positions the table's (first, last, step) names as keys.
pub fn key_positions(def: &CommandDef, argc: usize) -> impl Iterator<Item = usize> {
    let (first, last, step) = def.keys;
    let last = if last < 0 { argc as i32 + last } else { last };
    let (first, last) = if first <= 0 { (1, 0) } else { (first as usize, (last.max(0) as usize).min(argc - 1)) };
    (first..=last).step_by(step.max(1) as usize)
}

pub fn arity_ok(arity: i32, n: usize) -> bool {
    if arity >= 0 {
        n == arity as usize
    } else {
        n >= (-arity) as usize
    }
}

/// The index of the subcommand `args[1]` names, `None` for a plain command.
pub fn resolve_subcommand(def: &'static CommandDef, args: &[&[u8]]) -> Result<Option<usize>, String> {
    if def.subcommands.is_empty() {
        return Ok(None);
    }
    let Some(sub) = args.get(1) else {
        // A container that also runs bare (COMMAND) accepts one argument.
        if arity_ok(def.arity, 1) {
            return Ok(None);
        }
        return Err(format!("ERR wrong number of arguments for '{}' command", def.name));
    };
    def.subcommands.iter().position(|s| s.sub_name().as_bytes().eq_ignore_ascii_case(sub)).map(Some).ok_or_else(|| {
        format!("ERR unknown subcommand '{}'. Try {} HELP.", truncate(&String::from_utf8_lossy(sub), 128), def.name.to_ascii_uppercase())
    })
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn unknown_command(args: &[&[u8]]) -> String {
    let mut rest = String::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let s = String::from_utf8_lossy(a);
        let room = 128 - rest.len();
        rest.push('\'');
        rest.push_str(truncate(&s, room));
        rest.push_str("' ");
    }
    format!("ERR unknown command '{}', with args beginning with: {}", truncate(&String::from_utf8_lossy(args[0]), 128), rest)
}

/// The one shard every key of a `Lock::Keys` command is in, `None` when they span
/// several (or the command names none). Fills `hashes` as [`lock_plan`] does.
fn single_slot(def: &CommandDef, db: usize, args: &[&[u8]], hashes: &mut SmallVec<[(usize, usize, u64); 4]>) -> Option<Slot> {
    let mut slot = None;
    for i in key_positions(def, args.len()) {
        let s = key_slot(db, args[i], hashes);
        match slot {
            None => slot = Some(s),
            Some(t) if t == s => {}
            Some(_) => return None,
        }
    }
    slot
}

/// The slot of `key`, its hash kept for [`Ctx::hash_of`]. Only the first few are kept,
/// so a lookup stays O(1): an MGET of 100k keys rehashes the rest instead of scanning
/// the list once per key.
fn key_slot(db: usize, key: &[u8], hashes: &mut SmallVec<[(usize, usize, u64); 4]>) -> Slot {
    let h = hash_key(key);
    if hashes.len() < HASHES_KEPT {
        hashes.push((key.as_ptr() as usize, key.len(), h));
    }
    Slot { db: db as u32, shard: crate::keyspace::shard_of(h) as u32 }
}

/// How many key hashes a lock plan keeps for [`Ctx::hash_of`].
const HASHES_KEPT: usize = 8;

fn lock_plan<'s>(
    srv: &'s Server,
    def: &CommandDef,
    db: usize,
    args: &[&[u8]],
    hashes: &mut SmallVec<[(usize, usize, u64); 4]>,
) -> Result<Locked<'s>, Error> {
    let ks: &Keyspace = &srv.keyspace;
    // A running snapshot must capture a shard before a write changes it; readers skip that.
    let capture = def.flags & table::READONLY == 0;
    Ok(match def.lock {
        Lock::None | Lock::Walk => Locked::empty(),
        Lock::Db => ks.lock_db(db, capture),
        Lock::All => {
            // Redis kills its BGSAVE child on FLUSHALL; stopping ours first also spares
            // this command from capturing every shard for a file about to be dropped.
            if def.name == "flushall" {
                srv.rdb.cancel_bgsave();
            }
            ks.lock_all_for(capture)
        }
        Lock::Custom(f) => ks.lock_for(f(args, db, ks.databases())?, capture),
        Lock::Keys => ks.lock_for(key_positions(def, args.len()).map(|i| key_slot(db, args[i], hashes)), capture),
    })
}

/// The shards a command needs, for callers that add them to locks already held
/// (scripts): the lock plan of [`lock_plan`] without taking anything.
/// A script's commands mostly name one or two keys: no allocation for those.
pub fn plan_slots(srv: &Server, def: &CommandDef, db: usize, args: &[&[u8]]) -> Result<table::Slots, Error> {
    let ndb = srv.keyspace.databases();
    let whole = |db: usize| (0..crate::keyspace::SHARDS as u32).map(move |shard| Slot { db: db as u32, shard });
    Ok(match def.lock {
        Lock::None => table::Slots::new(),
        Lock::Db | Lock::Walk => whole(db).collect(),
        Lock::All => (0..ndb).flat_map(whole).collect(),
        Lock::Custom(f) => f(args, db, ndb)?,
        Lock::Keys => key_positions(def, args.len()).map(|i| crate::keyspace::Keyspace::slot(db, args[i])).collect(),
    })
}

/// Replies with a HELP text the way Redis formats it (status lines).
pub fn help(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").as_bytes());
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
    ctx.out.simple(b"HELP");
    ctx.out.simple(b"    Print this help.");
}
