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

use std::sync::OnceLock;

pub use blob::Blob;
pub use dict::{Dict, Entry};
use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;
pub use value::Value;

/// Shards per database. A power of two, several per core on the machines we target.
pub const SHARDS: usize = 1024;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

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
            e.lru = lru;
            e.enc = enc;
            self.volatile = self.volatile + (expire_at != 0) as usize - was as usize;
            return;
        }
        self.volatile += (expire_at != 0) as usize;
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
        self.volatile = self.volatile + (at != 0) as usize - was as usize;
        true
    }

    pub fn clear(&mut self) -> Dict {
        self.volatile = 0;
        self.expire_cursor = 0;
        self.dict.take_all()
    }
}

pub struct Keyspace {
    dbs: Box<[Box<[Mutex<Shard>]>]>,
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
        Keyspace { dbs }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub fn slot(db: usize, key: &[u8]) -> Slot {
        Slot { db: db as u32, shard: shard_of(hash_key(key)) as u32 }
    }

    /// Locks the given slots (deduplicated, in order) and returns the set.
    pub fn lock(&self, slots: impl IntoIterator<Item = Slot>) -> Locked<'_> {
        let mut slots: SmallVec<[Slot; 4]> = slots.into_iter().collect();
        slots.sort_unstable();
        slots.dedup();
        let guards = slots.into_iter().map(|s| (s, self.dbs[s.db as usize][s.shard as usize].lock())).collect();
        Locked { guards }
    }

    pub fn lock_db(&self, db: usize) -> Locked<'_> {
        self.lock((0..SHARDS as u32).map(|shard| Slot { db: db as u32, shard }))
    }

    pub fn lock_all(&self) -> Locked<'_> {
        let mut v = Vec::with_capacity(self.dbs.len() * SHARDS);
        for db in 0..self.dbs.len() as u32 {
            for shard in 0..SHARDS as u32 {
                v.push(Slot { db, shard });
            }
        }
        self.lock(v)
    }

    /// Locks one shard on its own (SCAN, the expire cycle, INFO counting).
    pub fn shard(&self, db: usize, shard: usize) -> MutexGuard<'_, Shard> {
        self.dbs[db][shard].lock()
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
        for shard in 0..SHARDS as u32 {
            let ia = self.guards.binary_search_by(|(s, _)| s.cmp(&Slot { db: a as u32, shard })).expect("locked");
            let ib = self.guards.binary_search_by(|(s, _)| s.cmp(&Slot { db: b as u32, shard })).expect("locked");
            let (lo, hi) = (ia.min(ib), ia.max(ib));
            let (x, y) = self.guards.split_at_mut(hi);
            std::mem::swap(&mut *x[lo].1, &mut *y[0].1);
        }
    }
}
