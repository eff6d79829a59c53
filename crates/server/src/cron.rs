//! The background "server cron": runs `hz` times a second on its own thread and does the
//! periodic work: the active expire cycle, and once a second the persistence and
//! replication timers and the allocator's purge.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::keyspace::expire::{active_expire_cycle, ExpireCursor};
use crate::server::Server;

pub fn spawn(srv: Arc<Server>) {
    std::thread::Builder::new()
        .name("ferrokv-cron".into())
        .spawn(move || {
            let mut cursor = ExpireCursor::default();
            let mut last_sample = Instant::now();
            let mut last_second = Instant::now();
            let mut last_ping = Instant::now();
            let mut purge = crate::alloc::AutoPurge::default();
            loop {
                srv.tick_lru_clock();
                srv.used_memory();
                if last_sample.elapsed() >= Duration::from_millis(100) {
                    srv.sample_ops();
                    last_sample = Instant::now();
                }
                let hz = srv.config.settings().hz.max(1);
                let period = Duration::from_millis(1000 / hz);
                let started = Instant::now();
                // A replica never expires keys itself: its master's DELs do.
                if srv.active_expire.load(Ordering::Relaxed) && srv.master.lock().is_none() {
                    // Like Redis: at most 25% of the period is spent expiring keys.
                    let now = crate::util::now_ms();
                    active_expire_cycle(&srv.keyspace, &mut cursor, now, period / 4, |db, e| {
                        srv.key_expired(db, &e.key);
                    });
                    let took = started.elapsed();
                    srv.stats.expire_cycle_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
                    let threshold = srv.config.settings().latency_monitor_threshold;
                    if threshold > 0 && took.as_millis() as u64 >= threshold {
                        srv.latency_sample("expire-cycle", took.as_millis() as u64);
                    }
                }
                srv.tracking.enforce_limit(&srv, None);
                if last_second.elapsed() >= Duration::from_secs(1) {
                    last_second = Instant::now();
                    crate::persistence::snapshot::cron(&srv);
                    crate::persistence::aof::cron(&srv);
                    crate::replication::cron(&srv, &mut last_ping);
                    purge.tick(srv.used_memory(), crate::stats::process_rss);
                }
                // Expiries, PINGs: writes made outside any connection's round.
                srv.journal.distribute();
                if let Some(rest) = period.checked_sub(started.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
        })
        .expect("spawn cron thread");
}
