//! `maxmemory`: when used memory is over the limit, keys are evicted by
//! `maxmemory-policy` before a command runs, sampling `maxmemory-samples` keys per
//! eviction as Redis does; with `noeviction` (or nothing left to evict) commands that
//! may grow memory are refused with Redis's OOM error.

use std::sync::atomic::Ordering;

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
    /// Longest idle first (LRU; also stands in for LFU, which we do not count).
    Idle,
    /// Soonest expiry first.
    Ttl,
    Random,
}

fn policy(name: &str) -> Option<(Pool, Rank)> {
    Some(match name {
        "allkeys-lru" | "allkeys-lfu" => (Pool::All, Rank::Idle),
        "allkeys-random" => (Pool::All, Rank::Random),
        "volatile-lru" | "volatile-lfu" => (Pool::Volatile, Rank::Idle),
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
                let shard = srv.keyspace.shard(db, (start + i) % SHARDS);
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
            srv.propagate(db, &[b"DEL", &key]);
            srv.notify(crate::notify::EVICTED, "evicted", db, &key);
        }
    }
    srv.used_memory() <= s.maxmemory
}
