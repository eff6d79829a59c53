//! The keyspace: `databases` databases, each split into [`SHARDS`] shards behind their
//! own mutex, so commands on different keys run in parallel on every core.
//!
//! A command locks the shards of its keys (in index order, so two multi-key commands
//! can never deadlock) through [`Keyspace::lock`] and works on the returned [`Locked`]
//! set; whole-keyspace commands lock everything. Expiry, propagation and statistics are
//! layered on top in `commands::Ctx`; this module only owns the data.

pub mod blob;
pub mod dict;
pub mod expire;
pub mod types;
pub mod value;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub use blob::Blob;
pub use dict::{Dict, Entry};
use parking_lot::{Mutex, MutexGuard, RwLock};
use smallvec::SmallVec;
pub use value::Value;

/// Shards per database. A power of two, several per core on the machines we target.
pub const SHARDS: usize = 1024;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

/// Bumped whenever a shard gains its first key with a TTL (or databases swap), so the
/// active expire cycle can skip a database it found without TTLs since.
static VOLATILE_GEN: AtomicU64 = AtomicU64::new(0);

pub fn volatile_gen() -> u64 {
    VOLATILE_GEN.load(Ordering::Relaxed)
}

static HASHER: OnceLock<foldhash::fast::FixedState> = OnceLock::new();

/// The keyspace hash: fixed for the life of the process (SCAN cursors rely on it),
/// seeded randomly at start so clients cannot aim collisions at us.
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    HASHER.get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random())).hash_one(key)
}

#[inline]
pub fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

/// One shard: a hash table plus the count of keys with a TTL.
#[derive(Default)]
pub struct Shard {
    pub dict: Dict,
    pub volatile: usize,
    /// Where the active expire cycle continues in this shard.
    pub expire_cursor: u64,
    /// The last snapshot epoch this shard was captured for (see [`Capture`]).
    pub snap_epoch: u64,
}

/// Receives each shard of a point-in-time snapshot exactly once: either from the
/// snapshot's own walk (`background`) or from the first locker of the shard after the
/// snapshot point, before that locker can change anything. This is what makes
/// BGSAVE, AOF rewrite and replica full sync forkless: no copy of the dataset, and a
/// writer pays at most one shard's serialisation.
pub trait Capture: Send + Sync {
    /// At the snapshot point: each database's key count and keys with a TTL.
    fn sizes(&self, dbs: &[(u64, u64)]);
    fn capture(&self, slot: Slot, shard: &Shard, background: bool);
    /// Called by the background walk between shards, with no lock held.
    fn pause(&self) {}
}

impl Shard {
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.dict.get(hash, key)
    }

    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.dict.get_mut(hash, key)
    }

    /// Inserts or replaces `key`; the expiry is `expire_at` (0 = none), `enc` the
    /// encoding hint (`value::enc`).
    pub fn put(&mut self, hash: u64, key: &[u8], value: Value, expire_at: u64, lru: u32, enc: u8) {
        if let Some(e) = self.dict.get_mut(hash, key) {
            let was = e.expire_at != 0;
            e.value = value;
            e.expire_at = expire_at;
            // Under LFU an overwritten key keeps its counter (Redis's dbSetValue).
            if !crate::evict::lfu::on() {
                e.lru = lru;
            }
            e.enc = enc;
            self.set_volatile(self.volatile + (expire_at != 0) as usize - was as usize);
            return;
        }
        self.set_volatile(self.volatile + (expire_at != 0) as usize);
        self.dict.insert_new(hash, Entry { key: Blob::new(key), value, expire_at, lru, enc }, hash_key);
    }

    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let e = self.dict.remove(hash, key, hash_key)?;
        self.volatile -= (e.expire_at != 0) as usize;
        Some(e)
    }

    /// Sets the expiry of an existing key; returns false when the key is absent.
    pub fn set_expire(&mut self, hash: u64, key: &[u8], at: u64) -> bool {
        let Some(e) = self.dict.get_mut(hash, key) else { return false };
        let was = e.expire_at != 0;
        e.expire_at = at;
        self.set_volatile(self.volatile + (at != 0) as usize - was as usize);
        true
    }

    #[inline]
    fn set_volatile(&mut self, n: usize) {
        if self.volatile == 0 && n != 0 {
            VOLATILE_GEN.fetch_add(1, Ordering::Relaxed);
        }
        self.volatile = n;
    }

    pub fn clear(&mut self) -> Dict {
        self.volatile = 0;
        self.expire_cursor = 0;
        self.dict.take_all()
    }
}

pub struct Keyspace {
    dbs: Box<[Box<[Mutex<Shard>]>]>,
    /// The running snapshot's epoch (0 = none): the only thing the lock path reads.
    snap_epoch: AtomicU64,
    snap: RwLock<Option<(u64, Arc<dyn Capture>)>>,
    last_epoch: AtomicU64,
}

/// Identifies one shard of one database; ordered the way locks are taken.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Slot {
    pub db: u32,
    pub shard: u32,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        let dbs = (0..databases)
            .map(|_| (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect::<Vec<_>>().into_boxed_slice())
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Keyspace { dbs, snap_epoch: AtomicU64::new(0), snap: RwLock::new(None), last_epoch: AtomicU64::new(0) }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub fn slot(db: usize, key: &[u8]) -> Slot {
        Slot { db: db as u32, shard: shard_of(hash_key(key)) as u32 }
    }

    /// Locks the given slots (deduplicated, in order) and returns the set.
    pub fn lock(&self, slots: impl IntoIterator<Item = Slot>) -> Locked<'_> {
        self.lock_for(slots, true)
    }

    /// [`Keyspace::lock`]; `capture` false is for readers, which a running snapshot
    /// need not wait for (what they may delete is only keys already expired, which
    /// the snapshot leaves out or its loader drops anyway).
    pub fn lock_for(&self, slots: impl IntoIterator<Item = Slot>, capture: bool) -> Locked<'_> {
        let mut slots: SmallVec<[Slot; 4]> = slots.into_iter().collect();
        slots.sort_unstable();
        slots.dedup();
        let mut guards: SmallVec<[(Slot, MutexGuard<'_, Shard>); 4]> =
            slots.into_iter().map(|s| (s, lock_spinning(&self.dbs[s.db as usize][s.shard as usize]))).collect();
        let epoch = self.snap_epoch.load(Ordering::Acquire);
        if epoch != 0 && capture {
            for (slot, g) in guards.iter_mut() {
                self.capture(epoch, *slot, g, false);
            }
        }
        Locked { guards }
    }

    /// Hands `shard` to the running snapshot unless it already has it.
    #[cold]
    fn capture(&self, epoch: u64, slot: Slot, shard: &mut Shard, background: bool) {
        if shard.snap_epoch == epoch {
            return;
        }
        if let Some((e, sink)) = self.snap.read().as_ref() {
            if *e == epoch {
                sink.capture(slot, shard, background);
            }
        }
        shard.snap_epoch = epoch;
    }

    /// Starts a point-in-time snapshot: with every shard locked (so no command is half
    /// done), installs `sink` and runs `at_point` (which records the stream position the
    /// snapshot corresponds to). Returns the epoch to pass to [`Keyspace::walk_snapshot`].
    /// At most one snapshot runs at a time; the caller serialises them.
    pub fn begin_snapshot(&self, sink: Arc<dyn Capture>, at_point: impl FnOnce()) -> u64 {
        let mut all = self.lock_all();
        at_point();
        let sizes: Vec<(u64, u64)> = (0..self.dbs.len())
            .map(|db| all.db_shards(db).fold((0, 0), |(n, v), s| (n + s.dict.len() as u64, v + s.volatile as u64)))
            .collect();
        sink.sizes(&sizes);
        let epoch = self.last_epoch.fetch_add(1, Ordering::Relaxed) + 1;
        *self.snap.write() = Some((epoch, sink));
        self.snap_epoch.store(epoch, Ordering::Release);
        drop(all);
        epoch
    }

    /// Captures every shard not captured yet, one lock at a time, then ends the snapshot.
    /// `stop` is polled between shards (a cancelled snapshot ends early).
    pub fn walk_snapshot(&self, epoch: u64, stop: impl Fn() -> bool) {
        'all: for (db, shards) in self.dbs.iter().enumerate() {
            for (i, m) in shards.iter().enumerate() {
                if stop() {
                    break 'all;
                }
                let mut g = m.lock();
                self.capture(epoch, Slot { db: db as u32, shard: i as u32 }, &mut g, true);
                drop(g);
                if let Some((_, sink)) = self.snap.read().as_ref() {
                    sink.pause();
                }
            }
        }
        self.end_snapshot(epoch);
    }

    fn end_snapshot(&self, epoch: u64) {
        let _ = self.snap_epoch.compare_exchange(epoch, 0, Ordering::AcqRel, Ordering::Acquire);
        let mut g = self.snap.write();
        if g.as_ref().is_some_and(|(e, _)| *e == epoch) {
            *g = None;
        }
    }

    pub fn lock_db(&self, db: usize, capture: bool) -> Locked<'_> {
        self.lock_for((0..SHARDS as u32).map(|shard| Slot { db: db as u32, shard }), capture)
    }

    pub fn lock_all(&self) -> Locked<'_> {
        self.lock_all_for(true)
    }

    pub fn lock_all_for(&self, capture: bool) -> Locked<'_> {
        let mut v = Vec::with_capacity(self.dbs.len() * SHARDS);
        for db in 0..self.dbs.len() as u32 {
            for shard in 0..SHARDS as u32 {
                v.push(Slot { db, shard });
            }
        }
        self.lock_for(v, capture)
    }

    /// Keys and keys with a TTL in one database. Shards are visited last to first, the
    /// opposite of a snapshot walk, so a count never trails the walk shard by shard.
    pub fn db_len(&self, db: usize) -> (usize, usize) {
        self.dbs[db].iter().rev().map(|m| m.lock()).fold((0, 0), |(n, v), g| (n + g.dict.len(), v + g.volatile))
    }

    /// Locks one shard on its own for a reader or for expiry (SCAN, RANDOMKEY, the
    /// expire cycle, INFO): no snapshot capture, see [`Keyspace::lock_for`].
    pub fn shard_ro(&self, db: usize, shard: usize) -> MutexGuard<'_, Shard> {
        self.dbs[db][shard].lock()
    }

    /// Locks one shard on its own to change it (eviction).
    pub fn shard(&self, db: usize, shard: usize) -> MutexGuard<'_, Shard> {
        let mut g = self.dbs[db][shard].lock();
        let epoch = self.snap_epoch.load(Ordering::Acquire);
        if epoch != 0 {
            self.capture(epoch, Slot { db: db as u32, shard: shard as u32 }, &mut g, false);
        }
        g
    }
}

/// A shard a command already holds, or one it locked just for a look.
pub enum ShardRef<'s, 'a> {
    Held(&'s mut Shard),
    Own(MutexGuard<'a, Shard>),
}

impl std::ops::Deref for ShardRef<'_, '_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        match self {
            ShardRef::Held(s) => s,
            ShardRef::Own(g) => g,
        }
    }
}

impl std::ops::DerefMut for ShardRef<'_, '_> {
    fn deref_mut(&mut self) -> &mut Shard {
        match self {
            ShardRef::Held(s) => s,
            ShardRef::Own(g) => g,
        }
    }
}

/// A set of locked shards. Access to a key whose shard is not in the set is a bug in
/// the command's lock plan and panics (the connection reports it as an error).
pub struct Locked<'a> {
    /// Most commands touch one to four shards: no allocation for them.
    guards: SmallVec<[(Slot, MutexGuard<'a, Shard>); 4]>,
}

impl<'a> Locked<'a> {
    pub fn empty() -> Locked<'a> {
        Locked { guards: SmallVec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.guards.is_empty()
    }

    /// The slot of a set that holds exactly one shard.
    pub fn single(&self) -> Option<Slot> {
        match self.guards.as_slice() {
            [(s, _)] => Some(*s),
            _ => None,
        }
    }

    pub fn holds(&self, slot: Slot) -> bool {
        self.guards.binary_search_by(|(s, _)| s.cmp(&slot)).is_ok()
    }

    /// Adds the shards of `slots` this set lacks, for a script whose commands name keys
    /// its declared KEYS did not. A shard above every one held is waited for (the lock
    /// order holds); one below is only tried, since waiting for it could deadlock with
    /// a locker that holds it and waits for ours. Returns false when such a shard is
    /// busy: nothing is added then.
    pub fn extend(&mut self, ks: &'a Keyspace, slots: &[Slot], capture: bool) -> bool {
        let mut need: SmallVec<[Slot; 4]> = slots.iter().copied().filter(|s| !self.holds(*s)).collect();
        if need.is_empty() {
            return true;
        }
        need.sort_unstable();
        need.dedup();
        let top = self.guards.last().map(|(s, _)| *s);
        let mut got: SmallVec<[(Slot, MutexGuard<'a, Shard>); 4]> = SmallVec::new();
        for s in need {
            let m = &ks.dbs[s.db as usize][s.shard as usize];
            if top.is_none_or(|t| s > t) {
                got.push((s, m.lock()));
            } else {
                match m.try_lock() {
                    Some(g) => got.push((s, g)),
                    None => return false,
                }
            }
        }
        let epoch = ks.snap_epoch.load(Ordering::Acquire);
        for (slot, g) in got {
            let mut g = g;
            if epoch != 0 && capture {
                ks.capture(epoch, slot, &mut g, false);
            }
            let i = self.guards.binary_search_by(|(x, _)| x.cmp(&slot)).unwrap_err();
            self.guards.insert(i, (slot, g));
        }
        true
    }

    /// `slot`'s shard from this set when it holds it (inside EXEC or a script),
    /// else locked on its own for a reader that walks the database.
    pub fn held_or_locked<'s>(&'s mut self, ks: &'a Keyspace, slot: Slot) -> ShardRef<'s, 'a> {
        if self.holds(slot) {
            ShardRef::Held(self.shard_mut(slot))
        } else {
            ShardRef::Own(ks.shard_ro(slot.db as usize, slot.shard as usize))
        }
    }

    pub fn shard_mut(&mut self, slot: Slot) -> &mut Shard {
        let i = match self.guards.binary_search_by(|(s, _)| s.cmp(&slot)) {
            Ok(i) => i,
            Err(_) => panic!("shard {slot:?} used without being locked"),
        };
        &mut self.guards[i].1
    }

    /// Shards of one database that this set holds (all of them for whole-db plans).
    pub fn db_shards(&mut self, db: usize) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        self.guards.iter_mut().filter(move |(s, _)| s.db as usize == db).map(|(_, g)| &mut **g)
    }

    /// Swaps the contents of two fully locked databases (SWAPDB).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        VOLATILE_GEN.fetch_add(1, Ordering::Relaxed);
        for shard in 0..SHARDS as u32 {
            let ia = self.guards.binary_search_by(|(s, _)| s.cmp(&Slot { db: a as u32, shard })).expect("locked");
            let ib = self.guards.binary_search_by(|(s, _)| s.cmp(&Slot { db: b as u32, shard })).expect("locked");
            let (lo, hi) = (ia.min(ib), ia.max(ib));
            let (x, y) = self.guards.split_at_mut(hi);
            std::mem::swap(&mut *x[lo].1, &mut *y[0].1);
        }
    }
}

/// How long a worker spins for a held shard lock before it sleeps: longer than a
/// pipeline of 16 ZADDs on a 100k-member set holds it.
const SPIN_LIMIT: std::time::Duration = std::time::Duration::from_micros(50);

/// A shard's lock, spinning a while before sleeping: a hot key's lock is held for one
/// pipeline of commands (microseconds), and a futex sleep and wake-up cost more than
/// that (redis-benchmark HSET -P 16 on one key: 950k -> 1.11M ops/s, sys time per op
/// 0.55 -> 0.29 us).
fn lock_spinning(m: &parking_lot::Mutex<Shard>) -> MutexGuard<'_, Shard> {
    if let Some(g) = m.try_lock() {
        return g;
    }
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            std::hint::spin_loop();
            if !m.is_locked() {
                if let Some(g) = m.try_lock() {
                    return g;
                }
            }
        }
        if start.elapsed() >= SPIN_LIMIT {
            return m.lock();
        }
    }
}
