//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...).
//!
//! A blocking command that finds nothing asks its connection to block
//! ([`crate::commands::Ctx::block`]). The connection registers a [`Waiter`] on each
//! key, in arrival order, and sleeps. A command that writes to a list or sorted set
//! marks the key ready; once that command has released its locks the dispatcher calls
//! [`Blocking::serve`], which re-runs the waiters' commands first-come first-served on
//! the writer's thread, before the writer's reply is sent. So a client that pushes and
//! then reads sees the element already taken, as in Redis.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferrokv_protocol::ReplyBuf;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::net::client::{Client, ClientShared};
use crate::server::Server;

/// Counts one call of a blocked command that ended without being re-run (timeout,
/// CLIENT UNBLOCK): a command that blocks is counted once, when it ends, as in Redis.
pub fn count_call(srv: &Server, args: &[Vec<u8>], failed: bool) {
    if let Some((_, id)) = args.first().and_then(|a| crate::commands::table::lookup_id(a)) {
        srv.stats.called(id, std::time::Duration::ZERO, failed);
    }
}

/// What a blocking command asks of its connection.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    pub keys: Vec<Vec<u8>>,
    /// Unix ms at which the client gives up (0 = never).
    pub timeout_at: u64,
}

pub enum WaitState {
    Waiting,
    /// Served: the reply bytes to send.
    Done(Vec<u8>),
    Cancelled,
}

pub struct Waiter {
    pub shared: Arc<ClientShared>,
    pub db: usize,
    pub args: Vec<Vec<u8>>,
    pub keys: Vec<Vec<u8>>,
    pub resp3: bool,
    pub state: Mutex<WaitState>,
    pub notify: Notify,
    /// Unblocked because this server became a replica: the connection closes after
    /// the reply, as Redis's does.
    pub close_after: std::sync::atomic::AtomicBool,
}

type KeyId = (usize, Vec<u8>);

/// What blocked clients (and WAIT) get when their server becomes a replica.
pub const UNBLOCKED: &str = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

#[derive(Default)]
pub struct Blocking {
    waiting: AtomicUsize,
    /// Clients in WAIT (blocked too, but on replicas' acknowledgements, not on keys).
    pub in_wait: AtomicUsize,
    /// Distinct keys somebody waits on (INFO total_blocking_keys).
    pub key_count: AtomicUsize,
    queues: Mutex<HashMap<KeyId, VecDeque<Arc<Waiter>>>>,
    by_client: Mutex<HashMap<u64, Arc<Waiter>>>,
}

impl Waiter {
    /// Whether `key` now holds what this client waits for: a list, or a sorted set for
    /// BZPOPMIN/BZPOPMAX/BZMPOP. Redis leaves a client blocked when the key was
    /// replaced by another type (LPUSH + DEL + SET in one transaction wakes nobody).
    fn can_serve(&self, srv: &Server, key: &[u8]) -> bool {
        let zset = self.args[0].len() > 2 && self.args[0][..2].eq_ignore_ascii_case(b"bz");
        let hash = crate::keyspace::hash_key(key);
        let shard = srv.keyspace.shard_ro(self.db, crate::keyspace::shard_of(hash));
        let now = crate::util::now_ms();
        match shard.get(hash, key) {
            // A logically expired key serves nobody and is not deleted here (Redis
            // leaves that to the next access, which is where its DEL is propagated).
            Some(e) if e.expire_at != 0 && e.expire_at <= now => false,
            Some(e) => matches!((&e.value, zset), (crate::keyspace::Value::List(_), false) | (crate::keyspace::Value::ZSet(_), true)),
            None => false,
        }
    }
}

impl Blocking {
    /// Clients blocked right now (INFO blocked_clients).
    pub fn blocked_clients(&self) -> usize {
        self.waiting.load(Ordering::Relaxed) + self.in_wait.load(Ordering::Relaxed)
    }

    /// Whether anyone waits on `key` of `db`; cheap when nobody is blocked at all.
    pub fn has_waiters(&self, db: usize, key: &[u8]) -> bool {
        self.waiting.load(Ordering::Acquire) != 0 && self.queues.lock().contains_key(&(db, key.to_vec()))
    }

    /// Keys of `db` somebody waits on (SWAPDB wakes them).
    pub fn keys_in(&self, db: usize) -> Vec<Vec<u8>> {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        self.queues.lock().keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect()
    }

    /// Queues `w` behind the clients already waiting on its keys.
    pub fn register(&self, w: &Arc<Waiter>) {
        let mut q = self.queues.lock();
        for k in &w.keys {
            let queue = q.entry((w.db, k.clone())).or_default();
            if !queue.iter().any(|x| Arc::ptr_eq(x, w)) {
                queue.push_back(w.clone());
            }
        }
        self.key_count.store(q.len(), Ordering::Relaxed);
        drop(q);
        self.by_client.lock().insert(w.shared.id, w.clone());
        self.waiting.fetch_add(1, Ordering::AcqRel);
        w.shared.blocked.store(true, Ordering::Relaxed);
    }

    fn unlink(&self, w: &Arc<Waiter>, q: &mut HashMap<KeyId, VecDeque<Arc<Waiter>>>) {
        for k in &w.keys {
            let id = (w.db, k.clone());
            if let Some(queue) = q.get_mut(&id) {
                queue.retain(|x| !Arc::ptr_eq(x, w));
                if queue.is_empty() {
                    q.remove(&id);
                }
            }
        }
        self.key_count.store(q.len(), Ordering::Relaxed);
    }

    /// Takes `w` out of every queue (it was served, timed out or disconnected).
    pub fn unregister(&self, w: &Arc<Waiter>) {
        let mut q = self.queues.lock();
        self.unlink(w, &mut q);
        drop(q);
        let mut by = self.by_client.lock();
        if by.get(&w.shared.id).is_some_and(|x| Arc::ptr_eq(x, w)) {
            by.remove(&w.shared.id);
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        }
        w.shared.blocked.store(false, Ordering::Relaxed);
    }

    /// Ends the wait of `w` with `reply` unless it already ended; returns whether it did.
    pub fn finish(&self, w: &Arc<Waiter>, reply: Vec<u8>) -> bool {
        let mut st = w.state.lock();
        if !matches!(*st, WaitState::Waiting) {
            return false;
        }
        *st = WaitState::Done(reply);
        drop(st);
        self.unregister(w);
        w.notify.notify_one();
        true
    }

    /// CLIENT UNBLOCK: ends a client's wait as a timeout or with an error.
    pub fn unblock(&self, srv: &Server, client_id: u64, error: bool) -> bool {
        let Some(w) = self.by_client.lock().get(&client_id).cloned() else { return false };
        let mut out = ReplyBuf::new();
        out.resp3 = w.resp3;
        if error {
            out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        } else {
            out.null_array();
        }
        let done = self.finish(&w, out.buf);
        if done {
            count_call(srv, &w.args, error);
        }
        done
    }

    /// A master turned replica ends every blocked pop with Redis's error: its keys now
    /// change only by its master's stream, which serves no one here.
    pub fn unblock_all(&self, srv: &Server) {
        let waiters: Vec<Arc<Waiter>> = self.by_client.lock().values().cloned().collect();
        for w in waiters {
            let mut out = ReplyBuf::new();
            out.resp3 = w.resp3;
            out.error(UNBLOCKED);
            w.close_after.store(true, Ordering::Release);
            if self.finish(&w, out.buf) {
                srv.stats.error(UNBLOCKED);
                count_call(srv, &w.args, true);
            }
        }
    }

    /// Serves the clients waiting on the keys made ready, oldest first. Runs with no
    /// shard lock held; a served command that makes more keys ready serves those too.
    pub fn serve(&self, srv: &Server, ready: Vec<KeyId>, now: u64) {
        let mut ready: std::collections::VecDeque<KeyId> = ready.into();
        while let Some(key) = ready.pop_front() {
            loop {
                // The type check takes a shard lock: never while holding `queues`
                // (writers take them the other way round).
                // The oldest waiter that the key's type can serve (a zset waiter and a
                // list waiter may share a key name).
                let queued: Vec<Arc<Waiter>> = match self.queues.lock().get(&key) {
                    Some(queue) => queue.iter().cloned().collect(),
                    None => break,
                };
                let Some(front) = queued.into_iter().find(|w| w.can_serve(srv, &key.1)) else { break };
                let w = {
                    let mut q = self.queues.lock();
                    if !q.get(&key).is_some_and(|queue| queue.iter().any(|x| Arc::ptr_eq(x, &front))) {
                        continue;
                    }
                    let w = front;
                    // Unlinked while its command runs, so a nested serve never meets it.
                    self.unlink(&w, &mut q);
                    w
                };
                let mut st = w.state.lock();
                if !matches!(*st, WaitState::Waiting) {
                    continue;
                }
                let settings = srv.config.settings();
                let mut client = Client::new(w.shared.clone(), settings, srv.config.version());
                client.authenticated = true;
                client.db = w.db;
                client.serving_blocked = true;
                let mut out = ReplyBuf::new();
                out.resp3 = w.resp3;
                let args: Vec<&[u8]> = w.args.iter().map(|a| a.as_slice()).collect();
                // The clock now, not the writer's: a key may have expired meanwhile.
                crate::commands::execute(srv, &mut client, &mut out, &args, crate::util::now_ms().max(now));
                for k in client.ready_keys.drain(..) {
                    if !ready.contains(&k) {
                        ready.push_back(k);
                    }
                }
                if client.block.is_some() {
                    // Nothing for it after all: back to the head of its queues.
                    let mut q = self.queues.lock();
                    for k in &w.keys {
                        q.entry((w.db, k.clone())).or_default().push_front(w.clone());
                    }
                    self.key_count.store(q.len(), Ordering::Relaxed);
                    break;
                }
                *st = WaitState::Done(out.buf);
                drop(st);
                self.unregister(&w);
                w.notify.notify_one();
            }
        }
    }
}
