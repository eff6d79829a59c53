//! Client-side caching (CLIENT TRACKING): which clients may hold which keys, and the
//! invalidation messages sent when those keys change.
//!
//! Default mode remembers, per key, the ids of the tracking clients that read it
//! (one table for all databases, as in Redis); a write to the key sends those
//! clients an invalidation and forgets them. BCAST mode remembers nothing per key:
//! clients subscribe to key prefixes and hear about every write under them.
//!
//! Messages go through the target connection's push queue (created on first use,
//! drained by its task), except those for the client whose command caused them:
//! Redis sends these after the command's reply (after EXEC's for a transaction), so
//! they wait in a per-thread frame that [`leave`] flushes into the client's own
//! output once the top-level command is done. BCAST invalidations are batched the
//! same way: one message per prefix for all the keys a command changed.
//!
//! With nobody tracking, the hooks cost one atomic load.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrokv_protocol::ReplyBuf;
use parking_lot::Mutex;
use smallvec::SmallVec;

use crate::commands::table::{self, CommandDef};
use crate::net::client::{Client, ClientShared};
use crate::server::Server;

/// Tracking flags of a client (`ClientShared::tracking`).
pub const ON: u32 = 1;
pub const BCAST: u32 = 1 << 1;
pub const OPTIN: u32 = 1 << 2;
pub const OPTOUT: u32 = 1 << 3;
pub const NOLOOP: u32 = 1 << 4;
/// CLIENT CACHING yes/no was given for the next command.
pub const CACHING: u32 = 1 << 5;
/// The redirect client went away.
pub const BROKEN_REDIR: u32 = 1 << 6;

const INVALIDATE_PUSH: &[u8] = b">2\r\n$10\r\ninvalidate\r\n";
const INVALIDATE_MESSAGE: &[u8] = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";

#[derive(Default)]
struct Inner {
    /// Key -> ids of the clients that may cache it.
    keys: hashbrown::HashMap<Vec<u8>, SmallVec<[u64; 2]>>,
    /// Ids stored over all keys (INFO tracking_total_items).
    items: usize,
    /// BCAST prefix -> ids of the clients subscribed to it.
    prefixes: BTreeMap<Vec<u8>, Vec<u64>>,
}

#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on (INFO tracking_clients).
    clients: AtomicUsize,
    /// Keys in the table plus BCAST prefixes: zero means writes have nothing to do.
    live: AtomicUsize,
    keys: AtomicUsize,
    inner: Mutex<Inner>,
    /// tracking-table-max-keys, re-read when the configuration version changes.
    max_keys: AtomicU64,
    max_keys_version: AtomicU64,
    /// Consecutive limit checks that could not get under the limit (more effort each).
    over_limit_runs: AtomicU32,
}

/// Invalidations that wait for the end of the running top-level command.
struct Frame {
    me: u64,
    /// Keys invalidated for the running client itself; `None` is a flush.
    own: Vec<Option<Vec<u8>>>,
    /// Keys changed, with the id of the client that changed them (0 = none), for BCAST.
    bcast: Vec<(Vec<u8>, u64)>,
}

thread_local! {
    static FRAME: RefCell<Option<Frame>> = const { RefCell::new(None) };
}

/// The frame of an enclosing command, restored by [`leave`].
pub struct Saved(Option<Frame>, bool);

/// Opens the frame of a top-level command run by client `me`.
pub fn enter(srv: &Server, me: u64) -> Saved {
    if !srv.tracking.in_use() {
        return Saved(None, false);
    }
    let frame = Frame { me, own: Vec::new(), bcast: Vec::new() };
    Saved(FRAME.with(|f| f.replace(Some(frame))), true)
}

/// Closes the frame opened by [`enter`]: the running client's own invalidations are
/// appended to its output (after the reply), BCAST batches go out to their clients.
pub fn leave(srv: &Server, client: &mut Client, out: &mut ReplyBuf, saved: Saved) {
    if !saved.1 {
        return;
    }
    let Some(frame) = FRAME.with(|f| f.replace(saved.0)) else { return };
    if frame.own.is_empty() && frame.bcast.is_empty() {
        return;
    }
    let mark = out.buf.len();
    let me = client.shared.clone();
    send_own(srv, client, out, &frame.own);
    if !frame.bcast.is_empty() {
        broadcast(srv, frame.bcast, &mut Some((me.id, &mut *out)));
    }
    if out.buf.len() > mark {
        client.push_mark = Some(mark);
    }
}

fn send_own(srv: &Server, client: &Client, out: &mut ReplyBuf, own: &[Option<Vec<u8>>]) {
    let me = &client.shared;
    for key in own {
        let payload = match key {
            Some(k) => keys_payload(&[k]),
            None => null_payload(me),
        };
        send(srv, me, &payload, &mut Some((me.id, &mut *out)));
    }
}

/// Writes the running client's own invalidations collected so far in its frame now,
/// before its reply: keys evicted to make room for its command (as Redis, which
/// evicts before running the command).
pub fn send_own_now(srv: &Server, client: &Client, out: &mut ReplyBuf) {
    let own = FRAME.with(|f| f.borrow_mut().as_mut().map(|fr| std::mem::take(&mut fr.own)));
    if let Some(own) = own.filter(|o| !o.is_empty()) {
        send_own(srv, client, out, &own);
    }
}

/// The output of the client running the current command, and its id: messages for
/// it are written there rather than queued.
type Own<'a> = Option<(u64, &'a mut ReplyBuf)>;

fn current() -> u64 {
    FRAME.with(|f| f.borrow().as_ref().map_or(0, |fr| fr.me))
}

fn keys_payload(keys: &[&[u8]]) -> Vec<u8> {
    let mut o = ReplyBuf { buf: Vec::new(), resp3: false };
    o.array(keys.len());
    for k in keys {
        o.bulk(k);
    }
    o.buf
}

/// "All keys": the null in the protocol of the tracking client (even when it
/// redirects to a client speaking the other one, as Redis does).
fn null_payload(c: &ClientShared) -> Vec<u8> {
    if c.resp.load(Ordering::Relaxed) == 3 {
        b"_\r\n".to_vec()
    } else {
        b"$-1\r\n".to_vec()
    }
}

fn lookup(srv: &Server, id: u64) -> Option<Arc<ClientShared>> {
    srv.clients.lock().get(&id).cloned()
}

/// Sends an invalidation (`payload`: the keys array or a null) for tracking client
/// `c`: to its redirect client if it has one, as a RESP3 push or, to a RESP2 client
/// in Pub/Sub mode, as a message on `__redis__:invalidate`. `own` is the output of
/// the client running the current command, which gets its messages there.
fn send(srv: &Server, c: &Arc<ClientShared>, payload: &[u8], own: &mut Own) {
    let redir = c.redirect.load(Ordering::Relaxed);
    let mut target = c.clone();
    let redirected = redir != 0;
    if redirected {
        match lookup(srv, redir) {
            Some(t) => target = t,
            None => {
                c.tracking.fetch_or(BROKEN_REDIR, Ordering::Relaxed);
                if c.resp.load(Ordering::Relaxed) == 3 {
                    let mut o = ReplyBuf { buf: Vec::new(), resp3: true };
                    o.push(2);
                    o.bulk(b"tracking-redir-broken");
                    o.int(redir as i64);
                    deliver(c, o.buf, own);
                }
                return;
            }
        }
    }
    let header = if target.resp.load(Ordering::Relaxed) == 3 {
        INVALIDATE_PUSH
    } else if redirected && target.subs.iter().any(|s| s.load(Ordering::Relaxed) > 0) {
        INVALIDATE_MESSAGE
    } else {
        // RESP2 has no pushes: nothing can reach a client that is not subscribed.
        return;
    };
    let mut bytes = Vec::with_capacity(header.len() + payload.len());
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(payload);
    deliver(&target, bytes, own);
}

fn deliver(target: &ClientShared, bytes: Vec<u8>, own: &mut Own) {
    if let Some((me, out)) = own {
        if *me == target.id {
            out.buf.extend_from_slice(&bytes);
            return;
        }
    }
    target.push_message(Bytes::from(bytes));
}

/// Sends the BCAST invalidations for the keys in `changed` (key, changer id): one
/// message per prefix with every key under it, minus, for NOLOOP clients, the keys
/// they changed themselves.
fn broadcast(srv: &Server, changed: Vec<(Vec<u8>, u64)>, own: &mut Own) {
    // The last change of a key names its changer, as Redis keeps it.
    let changed: BTreeMap<Vec<u8>, u64> = changed.into_iter().collect();
    // Per prefix: its clients and the changed keys under it.
    type Group<'k> = (Vec<u64>, Vec<(&'k [u8], u64)>);
    let groups: Vec<Group> = {
        let g = srv.tracking.inner.lock();
        g.prefixes
            .iter()
            .filter_map(|(prefix, ids)| {
                let keys: Vec<(&[u8], u64)> =
                    changed.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, w)| (k.as_slice(), *w)).collect();
                (!keys.is_empty()).then(|| (ids.clone(), keys))
            })
            .collect()
    };
    for (ids, keys) in groups {
        let all: Vec<&[u8]> = keys.iter().map(|(k, _)| *k).collect();
        let common = keys_payload(&all);
        for id in ids {
            let Some(c) = lookup(srv, id) else { continue };
            if c.tracking.load(Ordering::Relaxed) & NOLOOP != 0 {
                let mine: Vec<&[u8]> = keys.iter().filter(|(_, w)| *w != id).map(|(k, _)| *k).collect();
                if !mine.is_empty() {
                    send(srv, &c, &keys_payload(&mine), own);
                }
            } else {
                send(srv, &c, &common, own);
            }
        }
    }
}

impl Tracking {
    /// Whether any client tracks anything (the fast path of every hook).
    #[inline]
    pub fn active(&self) -> bool {
        self.live.load(Ordering::Relaxed) != 0
    }

    /// Whether a command must open a frame: tracking clients exist or keys are tracked.
    #[inline]
    pub fn in_use(&self) -> bool {
        self.clients.load(Ordering::Relaxed) != 0 || self.active()
    }

    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// INFO: tracking_total_keys, tracking_total_items, tracking_total_prefixes.
    pub fn totals(&self) -> (usize, usize, usize) {
        let g = self.inner.lock();
        (g.keys.len(), g.items, g.prefixes.len())
    }

    fn publish_sizes(&self, g: &Inner) {
        self.keys.store(g.keys.len(), Ordering::Relaxed);
        self.live.store(g.keys.len() + g.prefixes.len(), Ordering::Relaxed);
    }

    /// Remembers the keys a tracking client read with a read-only command.
    pub fn remember(&self, client: &ClientShared, def: &CommandDef, args: &[&[u8]]) {
        let f = client.tracking.load(Ordering::Relaxed);
        if f & ON == 0 || f & BCAST != 0 {
            return;
        }
        let caching = f & CACHING != 0;
        if (f & OPTIN != 0 && !caching) || (f & OPTOUT != 0 && caching) {
            return;
        }
        // Shard channels look like keys to COMMAND but are not cached data.
        if def.flags & table::PUBSUB != 0 || matches!(def.name, "eval_ro" | "evalsha_ro" | "fcall_ro") {
            return;
        }
        let keys = key_args(def, args);
        if keys.is_empty() {
            return;
        }
        let mut g = self.inner.lock();
        for (i, _) in keys {
            let ids = g.keys.entry_ref(args[i]).or_default();
            if !ids.contains(&client.id) {
                ids.push(client.id);
                g.items += 1;
            }
        }
        self.publish_sizes(&g);
    }

    /// A key was modified (`writer`: the client that did it, 0 for expiry): its
    /// trackers get an invalidation and are forgotten; BCAST prefixes matching it
    /// get it in their next batch.
    pub fn invalidate(&self, srv: &Server, key: &[u8], writer: u64) {
        if !self.active() {
            return;
        }
        let (ids, bcast) = {
            let mut g = self.inner.lock();
            let ids = g.keys.remove(key);
            if let Some(ids) = &ids {
                g.items -= ids.len();
                self.publish_sizes(&g);
            }
            (ids, !g.prefixes.is_empty())
        };
        if bcast {
            let queued = FRAME.with(|f| match f.borrow_mut().as_mut() {
                Some(fr) => {
                    fr.bcast.push((key.to_vec(), writer));
                    true
                }
                None => false,
            });
            if !queued {
                broadcast(srv, vec![(key.to_vec(), writer)], &mut None);
            }
        }
        if let Some(ids) = ids {
            self.notify_trackers(srv, key, &ids, true, &mut None);
        }
    }

    /// Sends `key`'s invalidation to the clients in `ids`. The running client's own
    /// message waits for its reply when `defer` (a change made by its command).
    fn notify_trackers(&self, srv: &Server, key: &[u8], ids: &[u64], defer: bool, own: &mut Own) {
        let me = current();
        let mut payload: Option<Vec<u8>> = None;
        for &id in ids {
            let Some(c) = lookup(srv, id) else { continue };
            let f = c.tracking.load(Ordering::Relaxed);
            // A client that switched to BCAST no longer hears about keys it read before.
            if f & ON == 0 || f & BCAST != 0 {
                continue;
            }
            if id == me && f & NOLOOP != 0 {
                continue;
            }
            if id == me && defer {
                FRAME.with(|fr| {
                    if let Some(fr) = fr.borrow_mut().as_mut() {
                        fr.own.push(Some(key.to_vec()));
                    }
                });
                continue;
            }
            let p = payload.get_or_insert_with(|| keys_payload(&[key]));
            send(srv, &c, p, own);
        }
    }

    /// FLUSHALL / FLUSHDB: every tracking client gets the null invalidation ("all
    /// keys") and the table is emptied.
    pub fn flushed(&self, srv: &Server) {
        if self.clients() != 0 {
            let me = current();
            let clients: Vec<Arc<ClientShared>> = srv.clients.lock().values().cloned().collect();
            for c in clients {
                if c.tracking.load(Ordering::Relaxed) & ON == 0 {
                    continue;
                }
                if c.id == me {
                    FRAME.with(|fr| {
                        if let Some(fr) = fr.borrow_mut().as_mut() {
                            fr.own.push(None);
                        }
                    });
                } else {
                    send(srv, &c, &null_payload(&c), &mut None);
                }
            }
        }
        let mut g = self.inner.lock();
        if !g.keys.is_empty() {
            g.keys = Default::default();
            g.items = 0;
            self.publish_sizes(&g);
        }
    }

    fn max_keys(&self, srv: &Server) -> usize {
        let v = srv.config.version();
        if self.max_keys_version.load(Ordering::Relaxed) != v {
            let n = srv.config.get("tracking-table-max-keys").and_then(|s| s.parse::<u64>().ok()).unwrap_or(1_000_000);
            self.max_keys.store(n, Ordering::Relaxed);
            self.max_keys_version.store(v, Ordering::Relaxed);
        }
        self.max_keys.load(Ordering::Relaxed) as usize
    }

    /// Keeps the table within tracking-table-max-keys by forgetting keys, with an
    /// invalidation to their trackers as if they had changed. Each run that cannot
    /// get under the limit makes the next one try harder, as in Redis. `own` is the
    /// output of the client about to run a command (its messages go there, before
    /// the reply), `None` from the cron.
    pub fn enforce_limit(&self, srv: &Server, out: Option<&mut ReplyBuf>) {
        let mut own: Own = out.map(|o| (current(), o));
        if self.clients() == 0 {
            return;
        }
        let max = self.max_keys(srv);
        if max == 0 || self.keys.load(Ordering::Relaxed) <= max {
            if max != 0 {
                self.over_limit_runs.store(0, Ordering::Relaxed);
            }
            return;
        }
        let effort = 100 * (self.over_limit_runs.load(Ordering::Relaxed) as usize + 1);
        let victims: Vec<Vec<u8>> = self.inner.lock().keys.keys().take(effort).cloned().collect();
        for key in victims {
            let ids = {
                let mut g = self.inner.lock();
                if g.keys.len() <= max {
                    self.over_limit_runs.store(0, Ordering::Relaxed);
                    return;
                }
                let ids = g.keys.remove(&key);
                if let Some(ids) = &ids {
                    g.items -= ids.len();
                    self.publish_sizes(&g);
                }
                ids
            };
            if let Some(ids) = ids {
                self.notify_trackers(srv, &key, &ids, false, &mut own);
            }
        }
        if self.keys.load(Ordering::Relaxed) <= max {
            self.over_limit_runs.store(0, Ordering::Relaxed);
        } else {
            self.over_limit_runs.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// CLIENT TRACKING ON: turns tracking on (or changes its options) for `c`.
pub fn enable(srv: &Server, c: &ClientShared, redirect: u64, options: u32, prefixes: &[&[u8]]) {
    let t = &srv.tracking;
    let old = c.tracking.load(Ordering::Relaxed);
    if old & ON == 0 {
        t.clients.fetch_add(1, Ordering::Relaxed);
    }
    let kept = old & CACHING;
    c.redirect.store(redirect, Ordering::Relaxed);
    let mut flags = ON | kept | (options & (OPTIN | OPTOUT | NOLOOP));
    if options & BCAST != 0 {
        flags |= BCAST;
        let mut g = t.inner.lock();
        let mut mine = c.prefixes.lock();
        let wanted: Vec<&[u8]> = if prefixes.is_empty() { vec![b""] } else { prefixes.to_vec() };
        for p in wanted {
            let ids = g.prefixes.entry(p.to_vec()).or_default();
            if !ids.contains(&c.id) {
                ids.push(c.id);
                if let Err(at) = mine.binary_search_by(|x| x.as_slice().cmp(p)) {
                    mine.insert(at, p.to_vec());
                }
            }
        }
        t.publish_sizes(&g);
    }
    c.tracking.store(flags, Ordering::Relaxed);
}

/// CLIENT TRACKING OFF, RESET and disconnection. The client's ids stay in the key
/// table and are dropped lazily, as in Redis.
pub fn disable(srv: &Server, c: &ClientShared) {
    let t = &srv.tracking;
    let f = c.tracking.load(Ordering::Relaxed);
    if f & BCAST != 0 {
        let mut g = t.inner.lock();
        for p in std::mem::take(&mut *c.prefixes.lock()) {
            if let Some(ids) = g.prefixes.get_mut(&p) {
                ids.retain(|&id| id != c.id);
                if ids.is_empty() {
                    g.prefixes.remove(&p);
                }
            }
        }
        t.publish_sizes(&g);
    }
    if f & ON != 0 {
        t.clients.fetch_sub(1, Ordering::Relaxed);
        c.tracking.store(0, Ordering::Relaxed);
    }
}

/// The prefix overlap check of CLIENT TRACKING ... BCAST PREFIX, with Redis's errors.
/// `Err((message, go_on))`: Redis, on an overlap between two of the given prefixes
/// after the first one, replies with the error and still enables tracking (and then
/// replies OK too); `go_on` says so.
pub fn check_prefixes(c: &ClientShared, prefixes: &[&[u8]]) -> Result<(), (String, bool)> {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    let existing = c.prefixes.lock().clone();
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in prefixes.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err((
                format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    s(p),
                    s(e)
                ),
                false,
            ));
        }
        for q in &prefixes[i + 1..] {
            if overlap(p, q) {
                return Err((
                    format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        s(p),
                        s(q)
                    ),
                    i != 0,
                ));
            }
        }
    }
    Ok(())
}

/// The commands whose keys follow a count argument: (count position, first key).
fn numkeys_layout(name: &str) -> Option<(usize, usize)> {
    Some(match name {
        "lmpop" | "zmpop" | "sintercard" | "zintercard" | "zunion" | "zinter" | "zdiff" => (1, 2),
        "blmpop" | "bzmpop" | "zunionstore" | "zinterstore" | "zdiffstore" => (2, 3),
        _ => return None,
    })
}

/// The key arguments of a command line with whether the command may write each:
/// the table's key specs, plus the count-prefixed and STORE forms it cannot express.
pub fn key_args(def: &CommandDef, args: &[&[u8]]) -> SmallVec<[(usize, bool); 8]> {
    let mut out: SmallVec<[(usize, bool); 8]> = SmallVec::new();
    let write = def.flags & table::WRITE != 0;
    if let Some((count_at, first)) = numkeys_layout(def.name) {
        if first == 3 && def.name.ends_with("store") {
            out.push((1, true));
        }
        let n = args.get(count_at).and_then(|a| crate::util::parse_canonical_i64(a)).unwrap_or(0).max(0) as usize;
        let ro = def.name.ends_with("store") || !write;
        for i in first..(first + n).min(args.len()) {
            out.push((i, !ro));
        }
        return out;
    }
    match def.name {
        "sort" | "sort_ro" | "georadius" | "georadiusbymember" | "georadius_ro" | "georadiusbymember_ro" => {
            if args.len() > 1 {
                out.push((1, false));
            }
            let last = args.len().saturating_sub(1);
            for (i, a) in args.iter().enumerate().take(last).skip(2) {
                if a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist") {
                    out.push((i + 1, true));
                }
            }
            return out;
        }
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => return out,
        _ => {}
    }
    if def.key_specs.is_empty() {
        for i in crate::commands::key_positions(def, args.len()) {
            out.push((i, write));
        }
        return out;
    }
    let n = args.len() as i32;
    for spec in def.key_specs {
        let last = if spec.lastkey < 0 { n + spec.lastkey } else { spec.begin + spec.lastkey };
        let w = write && !spec.flags.starts_with("RO");
        let mut i = spec.begin;
        while i <= last.min(n - 1) {
            if i >= 1 {
                out.push((i as usize, w));
            }
            i += spec.step.max(1);
        }
    }
    out
}
