//! Server statistics for INFO. Hot counters are striped per thread so that cores do not
//! fight over one cache line on every command; readers sum the stripes.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

const STRIPES: usize = 16;

#[repr(align(64))]
#[derive(Default)]
struct Padded(AtomicU64);

/// A counter split across cache lines, one stripe per thread (round-robin).
pub struct Counter([Padded; STRIPES]);

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

fn stripe() -> usize {
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        s.get()
    })
}

impl Default for Counter {
    fn default() -> Self {
        Counter(std::array::from_fn(|_| Padded::default()))
    }
}

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0[stripe()].0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
    pub fn reset(&self) {
        for p in &self.0 {
            p.0.store(0, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

pub struct Stats {
    pub commands: Counter,
    pub keyspace_hits: Counter,
    pub keyspace_misses: Counter,
    pub net_input: Counter,
    pub net_output: Counter,
    /// The write stream as read from our master (a replica) and sent to our replicas.
    pub net_repl_input: Counter,
    pub net_repl_output: Counter,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub expired_keys: AtomicU64,
    pub evicted_keys: AtomicU64,
    pub expire_cycle_us: AtomicU64,
    pub error_replies: AtomicU64,
    pub errors: Mutex<HashMap<String, u64>>,
    /// `[stripe][command id]`.
    per_cmd: Vec<Vec<CmdStat>>,
}

impl Stats {
    pub fn new(ncmds: usize) -> Stats {
        Stats {
            commands: Counter::default(),
            keyspace_hits: Counter::default(),
            keyspace_misses: Counter::default(),
            net_input: Counter::default(),
            net_output: Counter::default(),
            net_repl_input: Counter::default(),
            net_repl_output: Counter::default(),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            expired_keys: AtomicU64::new(0),
            evicted_keys: AtomicU64::new(0),
            expire_cycle_us: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            errors: Mutex::new(HashMap::new()),
            per_cmd: (0..STRIPES).map(|_| (0..ncmds).map(|_| CmdStat::default()).collect()).collect(),
        }
    }

    #[inline]
    pub fn keyspace(&self, hit: bool) {
        if hit {
            self.keyspace_hits.add(1)
        } else {
            self.keyspace_misses.add(1)
        }
    }

    /// Counts an error reply under its code (the first word), as errorstats does.
    pub fn error(&self, msg: &str) {
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        let code = msg.split(' ').next().unwrap_or("ERR");
        let mut e = self.errors.lock();
        // Redis stops tracking new error codes past 128 to bound memory.
        if e.len() < 128 || e.contains_key(code) {
            *e.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    pub fn called(&self, id: usize, took: Duration, failed: bool) {
        self.commands.add(1);
        let s = &self.per_cmd[stripe()][id];
        s.calls.fetch_add(1, Ordering::Relaxed);
        s.usec.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        if failed {
            s.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn rejected(&self, id: usize) {
        self.commands.add(1);
        self.per_cmd[stripe()][id].rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// (calls, usec, rejected, failed) summed over stripes.
    pub fn command(&self, id: usize) -> (u64, u64, u64, u64) {
        let mut t = (0, 0, 0, 0);
        for s in &self.per_cmd {
            let c = &s[id];
            t.0 += c.calls.load(Ordering::Relaxed);
            t.1 += c.usec.load(Ordering::Relaxed);
            t.2 += c.rejected.load(Ordering::Relaxed);
            t.3 += c.failed.load(Ordering::Relaxed);
        }
        t
    }

    pub fn reset(&self) {
        for c in [
            &self.commands,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.net_input,
            &self.net_output,
            &self.net_repl_input,
            &self.net_repl_output,
        ] {
            c.reset();
        }
        for a in [
            &self.connections_received,
            &self.rejected_connections,
            &self.expired_keys,
            &self.evicted_keys,
            &self.error_replies,
            &self.sync_full,
            &self.sync_partial_ok,
            &self.sync_partial_err,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.errors.lock().clear();
        for stripe in &self.per_cmd {
            for c in stripe {
                for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                    a.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Resident set size of this process in bytes, from /proc.
pub fn process_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// (user, system) CPU seconds of this process.
pub fn cpu_times() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime), t(ru.ru_stime))
}
