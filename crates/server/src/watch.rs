//! WATCH: which clients watch which keys, so that a write to a watched key makes the
//! watchers' next EXEC fail.
//!
//! Writers call [`Watches::touch`] for the keys they modify; it costs one atomic load
//! while nobody watches anything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

type KeyId = (usize, Vec<u8>);

/// A client's transaction-abort flag, shared with the registry.
pub type DirtyFlag = Arc<AtomicBool>;

struct Watcher {
    client: u64,
    dirty: DirtyFlag,
    stale: bool,
}

#[derive(Default)]
pub struct Watches {
    keys: AtomicUsize,
    /// Watchers per key; `stale` marks a key that was already logically expired when
    /// watched: its deletion by expiry is no change (Redis 7 semantics).
    map: Mutex<HashMap<KeyId, Vec<Watcher>>>,
}

impl Watches {
    pub fn active(&self) -> bool {
        self.keys.load(Ordering::Acquire) != 0
    }

    pub fn watch(&self, client: u64, flag: &DirtyFlag, db: usize, key: &[u8], stale: bool) {
        let mut m = self.map.lock();
        let v = m.entry((db, key.to_vec())).or_default();
        if !v.iter().any(|w| w.client == client) {
            v.push(Watcher { client, dirty: flag.clone(), stale });
        }
        self.keys.store(m.len(), Ordering::Release);
    }

    pub fn unwatch(&self, client: u64, keys: &[(usize, Vec<u8>)]) {
        if keys.is_empty() {
            return;
        }
        let mut m = self.map.lock();
        for k in keys {
            if let Some(v) = m.get_mut(k) {
                v.retain(|w| w.client != client);
                if v.is_empty() {
                    m.remove(k);
                }
            }
        }
        self.keys.store(m.len(), Ordering::Release);
    }

    /// Marks the watchers of `key` in `db` dirty. `deleted` says the key is gone now,
    /// which is no change for those who watched it already expired.
    pub fn touch(&self, db: usize, key: &[u8], deleted: bool) {
        if !self.active() {
            return;
        }
        if let Some(v) = self.map.lock().get_mut(&(db, key.to_vec())) {
            for w in v {
                if w.stale && deleted {
                    w.stale = false;
                } else {
                    w.dirty.store(true, Ordering::Release);
                }
            }
        }
    }

    /// SWAPDB replaces `db`'s `key` (stored there or not: `here`) with the other
    /// database's (`there`: absent, or stored and whether expired). As Redis: a stale
    /// key that stays stale or goes away is no change, and neither is a missing key
    /// replaced by a stale one (which is then watched as stale).
    pub fn swap(&self, db: usize, key: &[u8], here: bool, there: Option<bool>) {
        if !here && there.is_none() {
            return;
        }
        let mut m = self.map.lock();
        let Some(v) = m.get_mut(&(db, key.to_vec())) else { return };
        for w in v {
            match (w.stale, there) {
                (true, None) => w.stale = false,
                (true, Some(true)) => {}
                (false, Some(true)) if !here => w.stale = true,
                _ => w.dirty.store(true, Ordering::Release),
            }
        }
    }

    /// Whether `client` watched `key` while it was already expired.
    pub fn is_stale(&self, client: u64, db: usize, key: &[u8]) -> bool {
        self.map.lock().get(&(db, key.to_vec())).is_some_and(|v| v.iter().any(|w| w.client == client && w.stale))
    }

    /// The watched keys of `db` (FLUSHDB and SWAPDB check which of them exist).
    pub fn keys_in(&self, db: usize) -> Vec<Vec<u8>> {
        if !self.active() {
            return Vec::new();
        }
        self.map.lock().keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect()
    }
}
