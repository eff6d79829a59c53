//! Active expiry: a background cycle that samples keys with a TTL shard by shard and
//! deletes the expired ones, so keys nobody reads again still give their memory back.
//! Like Redis's cycle it keeps going while many sampled keys were expired, and stops at
//! a time budget so CPU stays bounded.

use std::time::{Duration, Instant};

use super::{Entry, Keyspace, SHARDS};

/// Keys examined per shard visit before deciding whether to repeat.
const SAMPLE: usize = 20;

/// Where the next cycle resumes, so every shard gets its turn across cycles.
#[derive(Default)]
pub struct ExpireCursor {
    db: usize,
    shard: usize,
    /// Whether every shard of the current pass over `db` had no TTL, and the
    /// generation (`volatile_gen`) read when that pass began.
    clean: bool,
    pass_gen: u64,
    /// Per database: the generation at which a whole pass found no TTL (skip it
    /// while the generation stays the same, as Redis skips a db with empty expires).
    idle_at: Vec<Option<u64>>,
}

/// Runs one cycle; `on_expired(db, entry)` is called for each removed key while its
/// shard is still locked (so the DEL enters the write stream in order). Returns the
/// number of keys removed.
pub fn active_expire_cycle(
    ks: &Keyspace,
    cur: &mut ExpireCursor,
    now_ms: u64,
    budget: Duration,
    mut on_expired: impl FnMut(usize, &Entry),
) -> usize {
    let start = Instant::now();
    let dbs = ks.databases();
    cur.idle_at.resize(dbs, None);
    let gen = super::volatile_gen();
    let mut removed = 0;
    let mut entered = 0;
    let mut n = 0usize;
    loop {
        // The clock costs more than a shard without TTLs: read it every 16 shards.
        n += 1;
        if n.is_multiple_of(16) && start.elapsed() > budget {
            break;
        }
        if cur.shard == 0 {
            // At most one full pass per cycle.
            if entered == dbs {
                break;
            }
            entered += 1;
            if cur.idle_at[cur.db] == Some(gen) {
                cur.db = (cur.db + 1) % dbs;
                continue;
            }
            cur.clean = true;
            cur.pass_gen = gen;
        }
        let (db, shard_idx) = (cur.db, cur.shard);
        cur.shard += 1;
        let mut shard = ks.shard_ro(db, shard_idx);
        cur.clean &= shard.volatile == 0;
        if cur.shard == SHARDS {
            cur.shard = 0;
            cur.db = (cur.db + 1) % dbs;
            cur.idle_at[db] = cur.clean.then_some(cur.pass_gen);
        }
        loop {
            if shard.volatile == 0 {
                break;
            }
            let mut sampled = 0;
            let mut expired: Vec<Vec<u8>> = Vec::new();
            // Visit buckets until SAMPLE volatile keys were seen (bounded by buckets
            // visited, so a shard of mostly persistent keys cannot stall the cycle).
            let mut visited = 0;
            let mut cursor = shard.expire_cursor;
            while sampled < SAMPLE && visited < SAMPLE * 20 {
                cursor = shard.dict.scan(cursor, |e| {
                    if e.expire_at != 0 {
                        sampled += 1;
                        if e.expire_at <= now_ms {
                            expired.push(e.key.to_vec());
                        }
                    }
                });
                visited += 1;
                if cursor == 0 {
                    break;
                }
            }
            shard.expire_cursor = cursor;
            for k in &expired {
                let h = super::hash_key(k);
                if let Some(e) = shard.remove(h, k) {
                    on_expired(db, &e);
                    removed += 1;
                }
            }
            // Repeat on this shard while more than 10% of the sample was stale.
            if sampled == 0 || expired.len() * 10 <= sampled || start.elapsed() > budget {
                break;
            }
        }
    }
    removed
}
