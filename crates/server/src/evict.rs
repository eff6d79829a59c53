//! `maxmemory`: when used memory is over the limit, keys are evicted by
//! `maxmemory-policy` before a command runs, sampling `maxmemory-samples` keys per
//! eviction as Redis does; with `noeviction` (or nothing left to evict) commands that
//! may grow memory are refused with Redis's OOM error.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rand::Rng;

use crate::config::Settings;
use crate::keyspace::{hash_key, SHARDS};
use crate::server::Server;

pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    All,
    Volatile,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rank {
    /// Longest idle first (LRU).
    Idle,
    /// Least frequently used first.
    Lfu,
    /// Soonest expiry first.
    Ttl,
    Random,
}

fn policy(name: &str) -> Option<(Pool, Rank)> {
    Some(match name {
        "allkeys-lru" => (Pool::All, Rank::Idle),
        "allkeys-lfu" => (Pool::All, Rank::Lfu),
        "allkeys-random" => (Pool::All, Rank::Random),
        "volatile-lru" => (Pool::Volatile, Rank::Idle),
        "volatile-lfu" => (Pool::Volatile, Rank::Lfu),
        "volatile-random" => (Pool::Volatile, Rank::Random),
        "volatile-ttl" => (Pool::Volatile, Rank::Ttl),
        _ => return None,
    })
}

/// Evicts until memory is under `maxmemory`; false when that is impossible and
/// commands that may use more memory must be refused. Takes shard locks one at a time,
/// so it runs before a command locks anything.
pub fn make_room(srv: &Server, s: &Settings) -> bool {
    if s.maxmemory == 0 || srv.used_memory() <= s.maxmemory {
        return true;
    }
    let Some((pool, rank)) = policy(&s.maxmemory_policy) else { return false };
    let mut rng = rand::thread_rng();
    let clock = srv.lru_clock();
    for _ in 0..100_000 {
        if srv.used_memory() <= s.maxmemory {
            return true;
        }
        // Sample candidates from random shards; keep the best by the policy's rank.
        let mut best: Option<(u64, usize, Vec<u8>)> = None;
        let mut sampled = 0;
        'dbs: for db in 0..srv.keyspace.databases() {
            let start = rng.gen_range(0..SHARDS);
            for i in 0..SHARDS {
                let shard = srv.keyspace.shard_ro(db, (start + i) % SHARDS);
                if shard.dict.is_empty() || (pool == Pool::Volatile && shard.volatile == 0) {
                    continue;
                }
                for _ in 0..8 {
                    let Some(e) = shard.dict.random_entry(|| rng.gen()) else { break };
                    if pool == Pool::Volatile && e.expire_at == 0 {
                        continue;
                    }
                    let score = match rank {
                        Rank::Idle => clock.saturating_sub(e.lru) as u64,
                        Rank::Lfu => 255 - lfu::count(e.lru) as u64,
                        Rank::Ttl => u64::MAX - e.expire_at,
                        Rank::Random => rng.gen(),
                    };
                    if best.as_ref().is_none_or(|b| score > b.0) {
                        best = Some((score, db, e.key.to_vec()));
                    }
                    sampled += 1;
                    break;
                }
                if sampled >= s.maxmemory_samples.max(1) {
                    break 'dbs;
                }
            }
        }
        let Some((_, db, key)) = best else { return false };
        let hash = hash_key(&key);
        let mut shard = srv.keyspace.shard(db, crate::keyspace::shard_of(hash));
        if shard.remove(hash, &key).is_some() {
            drop(shard);
            srv.stats.evicted_keys.fetch_add(1, Ordering::Relaxed);
            srv.watches.touch(db, &key, false);
            srv.tracking.invalidate(srv, &key, 0);
            srv.propagate(db, &[b"DEL", &key]);
            srv.notify(crate::notify::EVICTED, "evicted", db, &key);
        }
    }
    srv.used_memory() <= s.maxmemory
}

static LRU_POLICY: AtomicBool = AtomicBool::new(false);

/// Applies the eviction settings (each time the settings are rebuilt).
pub fn configure(s: &Settings) {
    LRU_POLICY.store(s.maxmemory_policy.contains("lru"), Ordering::Relaxed);
    lfu::configure(s);
}

/// Whether an LRU policy is set, so snapshots save each key's idle time.
pub fn lru_policy() -> bool {
    LRU_POLICY.load(Ordering::Relaxed)
}

/// LFU access counters, as Redis keeps them under an `*-lfu` policy: in a key's
/// 24-bit access field, the minute of the last decrement (16 bits) and a logarithmic
/// counter (8 bits) that starts at 5, grows with probability 1/((c-5)*lfu-log-factor+1)
/// per access and loses one per `lfu-decay-time` minutes.
pub mod lfu {
    use super::*;

    static ON: AtomicBool = AtomicBool::new(false);
    static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
    static DECAY_TIME: AtomicU64 = AtomicU64::new(1);
    const INIT: u32 = 5;

    /// Applies the configuration (each time the settings are rebuilt).
    pub(super) fn configure(s: &Settings) {
        ON.store(s.maxmemory_policy.contains("lfu"), Ordering::Relaxed);
        LOG_FACTOR.store(s.lfu_log_factor, Ordering::Relaxed);
        DECAY_TIME.store(s.lfu_decay_time, Ordering::Relaxed);
    }

    /// Whether keys count accesses (an LFU policy is set) instead of recording times.
    #[inline]
    pub fn on() -> bool {
        ON.load(Ordering::Relaxed)
    }

    fn minutes() -> u32 {
        ((crate::util::now_ms() / 60_000) & 0xffff) as u32
    }

    /// The field of a new key.
    pub fn new_key() -> u32 {
        with(INIT as u8)
    }

    /// The field with counter `freq` (RESTORE FREQ, an RDB's FREQ opcode).
    pub fn with(freq: u8) -> u32 {
        (minutes() << 8) | freq as u32
    }

    /// The counter after its decay since the last decrement (OBJECT FREQ).
    pub fn count(field: u32) -> u8 {
        let (then, c) = ((field >> 8) & 0xffff, field & 0xff);
        let now = minutes();
        let elapsed = if now >= then { now - then } else { 0xffff - then + now };
        let decay = DECAY_TIME.load(Ordering::Relaxed);
        let periods = (elapsed as u64).checked_div(decay).unwrap_or(0);
        c.saturating_sub(periods.min(255) as u32) as u8
    }

    /// The field after one access.
    pub fn touch(field: u32) -> u32 {
        let mut c = count(field) as u32;
        if c < 255 {
            let base = c.saturating_sub(INIT) as f64;
            let p = 1.0 / (base * LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
            if rand::thread_rng().gen::<f64>() < p {
                c += 1;
            }
        }
        (minutes() << 8) | c
    }
}
