//! Process-wide state: configuration, keyspace, write stream, statistics, the client
//! registry, slow log, latency monitor and MONITOR feeds.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use crate::commands::table::{registry, CommandDef, SKIP_SLOWLOG};
use crate::config::Config;
use crate::journal::Journal;
use crate::keyspace::Keyspace;
use crate::net::client::{Client, ClientShared};
use crate::stats::Stats;

/// Where the LRU clock starts, so that keys restored or loaded with an idle time
/// (RESTORE IDLETIME, the RDB idle opcode) can be older than the process (~194 days).
pub const LRU_BASE: u32 = 1 << 24;

pub struct Server {
    pub config: Config,
    pub keyspace: Keyspace,
    pub journal: Journal,
    pub stats: Stats,
    pub blocking: crate::blocking::Blocking,
    pub watches: crate::watch::Watches,
    pub pubsub: crate::pubsub::PubSub,
    pub tracking: crate::tracking::Tracking,
    pub scripts: crate::scripting::Scripts,
    pub start: Instant,
    pub start_unix: u64,
    pub run_id: String,
    pub replid: Mutex<String>,
    /// The history we continued from before the last promotion, and where ours began.
    pub replid2: Mutex<String>,
    pub second_repl_offset: std::sync::atomic::AtomicI64,
    /// Our master, when we are a replica.
    pub master: Mutex<Option<Arc<crate::replication::replica::MasterLink>>>,
    /// Whether `master` is set, read on every write without taking its lock.
    pub replica_mode: AtomicBool,
    pub clients: Mutex<HashMap<u64, Arc<ClientShared>>>,
    pub next_client_id: AtomicU64,
    pub connected: AtomicUsize,
    pub slowlog: Mutex<SlowLog>,
    pub latency: Mutex<HashMap<String, LatencyEvent>>,
    monitors: Mutex<Vec<mpsc::UnboundedSender<Bytes>>>,
    monitor_count: AtomicUsize,
    /// CLIENT PAUSE: deadline (unix ms, 0 = not paused) and whether only writes pause.
    pub pause_until: AtomicU64,
    pub pause_write_only: AtomicBool,
    pub unpaused: Notify,
    pub dirty: AtomicU64,
    pub rdb: crate::persistence::snapshot::RdbState,
    pub aof: crate::persistence::aof::Aof,
    pub replicas: crate::replication::Replicas,
    pub failover: crate::replication::failover::Failover,
    pub lastsave: AtomicU64,
    pub active_expire: AtomicBool,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    pub port: AtomicU64,
    /// The running accept loops (replaced when CONFIG SET changes port or bind).
    pub listeners: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// A handle to this server for code that only has `&Server` but must spawn tasks.
    pub me: std::sync::OnceLock<std::sync::Weak<Server>>,
    lru: std::sync::atomic::AtomicU32,
    pub peak_memory: AtomicU64,
    /// used_memory right after start-up (used_memory_startup).
    pub startup_memory: AtomicU64,
    /// Commands-per-second samples taken by the cron (instantaneous_ops_per_sec).
    ops_samples: Mutex<OpsSamples>,
}

#[derive(Default)]
struct OpsSamples {
    ring: VecDeque<u64>,
    last_count: u64,
    last_at: Option<Instant>,
}

#[derive(Default)]
pub struct SlowLog {
    pub next_id: u64,
    pub entries: VecDeque<SlowEntry>,
}

pub struct SlowEntry {
    pub id: u64,
    pub time: u64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: String,
}

#[derive(Default)]
pub struct LatencyEvent {
    pub samples: VecDeque<(u64, u64)>,
    pub max: u64,
}

impl Server {
    pub fn new(config: Config) -> Arc<Server> {
        let s = config.settings();
        let run_id = random_hex(40);
        let srv = Arc::new(Server {
            keyspace: Keyspace::new(s.databases),
            journal: Journal::new(s.repl_backlog_size),
            config,
            stats: Stats::new(registry().all.len()),
            blocking: Default::default(),
            watches: Default::default(),
            pubsub: Default::default(),
            tracking: Default::default(),
            scripts: Default::default(),
            start: Instant::now(),
            start_unix: crate::util::now_ms() / 1000,
            run_id,
            replid: Mutex::new(random_hex(40)),
            replid2: Mutex::new("0".repeat(40)),
            second_repl_offset: std::sync::atomic::AtomicI64::new(-1),
            master: Mutex::new(None),
            replica_mode: AtomicBool::new(false),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
            slowlog: Mutex::new(SlowLog::default()),
            latency: Mutex::new(HashMap::new()),
            monitors: Mutex::new(Vec::new()),
            monitor_count: AtomicUsize::new(0),
            pause_until: AtomicU64::new(0),
            pause_write_only: AtomicBool::new(false),
            unpaused: Notify::new(),
            dirty: AtomicU64::new(0),
            rdb: Default::default(),
            aof: Default::default(),
            replicas: Default::default(),
            failover: Default::default(),
            lastsave: AtomicU64::new(crate::util::now_ms() / 1000),
            active_expire: AtomicBool::new(true),
            shutdown: Notify::new(),
            shutting_down: AtomicBool::new(false),
            port: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
            me: std::sync::OnceLock::new(),
            lru: std::sync::atomic::AtomicU32::new(LRU_BASE),
            peak_memory: AtomicU64::new(0),
            startup_memory: AtomicU64::new(0),
            ops_samples: Mutex::new(OpsSamples::default()),
        });
        let _ = srv.me.set(Arc::downgrade(&srv));
        srv
    }

    /// The LRU clock in seconds since start plus [`LRU_BASE`] (OBJECT IDLETIME
    /// resolution); the cron advances it so commands never read the system clock for it.
    pub fn lru_clock(&self) -> u32 {
        self.lru.load(Ordering::Relaxed)
    }

    /// The access field of a key created now: the LRU clock, or a fresh LFU counter
    /// under an LFU policy.
    pub fn new_key_lru(&self) -> u32 {
        if crate::evict::lfu::on() {
            crate::evict::lfu::new_key()
        } else {
            self.lru_clock()
        }
    }

    pub fn tick_lru_clock(&self) {
        self.lru.store(LRU_BASE + self.start.elapsed().as_secs() as u32, Ordering::Relaxed);
    }

    pub fn propagate(&self, db: usize, args: &[&[u8]]) {
        self.journal.append(db, args);
        self.dirty.fetch_add(1, Ordering::Relaxed);
    }

    pub fn pubsub_limits(&self) -> crate::net::outbox::Limits {
        crate::commands::pubsub::limits_of(&self.config.settings())
    }

    /// A keyspace event not caused by a client's command (expiry, eviction).
    pub fn notify(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        let flags = self.config.settings().notify_flags;
        if flags & class != 0 {
            crate::notify::publish(self, flags, class, event, db, key, (0, &mut ferrokv_protocol::ReplyBuf::new()));
        }
    }

    /// Called with the key's shard still locked when a key is found expired.
    pub fn key_expired(&self, db: usize, key: &[u8]) {
        self.notify(crate::notify::EXPIRED, "expired", db, key);
        self.stats.expired_keys.fetch_add(1, Ordering::Relaxed);
        self.watches.touch(db, key, true);
        self.tracking.invalidate(self, key, 0);
        self.propagate(db, &[b"DEL", key]);
    }

    pub fn monitors_active(&self) -> bool {
        self.monitor_count.load(Ordering::Relaxed) > 0
    }

    pub fn add_monitor(&self, tx: mpsc::UnboundedSender<Bytes>) {
        let mut m = self.monitors.lock();
        m.push(tx);
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    /// Sends `+<time> [<db> <addr>] "arg" ...` to every MONITOR client.
    pub fn feed_monitors(&self, client: &Client, args: &[&[u8]]) {
        self.feed_monitors_from(client.db, &client.shared.addr, args);
    }

    /// MONITOR's line for a command from `source` (a client's address, or `lua` for a
    /// command a script ran) in database `db`.
    pub fn feed_monitors_from(&self, db: usize, source: &str, args: &[&[u8]]) {
        let us = crate::util::now_us();
        let mut line = format!("+{}.{:06} [{} {}]", us / 1_000_000, us % 1_000_000, db, source);
        // Secrets never reach the feed: AUTH's arguments and HELLO's AUTH pair.
        let redact = |i: usize| -> bool {
            if args[0].eq_ignore_ascii_case(b"auth") {
                return i > 0;
            }
            if args[0].eq_ignore_ascii_case(b"hello") {
                return args.iter().position(|a| a.eq_ignore_ascii_case(b"auth")).is_some_and(|p| i == p + 1 || i == p + 2);
            }
            false
        };
        for (i, a) in args.iter().enumerate() {
            if redact(i) {
                line.push_str(" \"(redacted)\"");
                continue;
            }
            line.push_str(" \"");
            for &b in *a {
                match b {
                    b'\\' => line.push_str("\\\\"),
                    b'"' => line.push_str("\\\""),
                    b'\n' => line.push_str("\\n"),
                    b'\r' => line.push_str("\\r"),
                    b'\t' => line.push_str("\\t"),
                    7 => line.push_str("\\a"),
                    8 => line.push_str("\\b"),
                    b if b.is_ascii_graphic() || b == b' ' => line.push(b as char),
                    b => line.push_str(&format!("\\x{b:02x}")),
                }
            }
            line.push('"');
        }
        line.push_str("\r\n");
        let bytes = Bytes::from(line);
        let mut m = self.monitors.lock();
        m.retain(|tx| tx.send(bytes.clone()).is_ok());
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    /// Slow log and latency monitor bookkeeping after a command ran.
    pub fn after_command(&self, client: &Client, def: &CommandDef, args: &[&[u8]], elapsed: Duration) {
        let micros = elapsed.as_micros() as u64;
        let s = client.settings.as_ref();
        if s.slowlog_log_slower_than >= 0 && micros >= s.slowlog_log_slower_than as u64 && def.flags & SKIP_SLOWLOG == 0 {
            let mut log = self.slowlog.lock();
            let id = log.next_id;
            log.next_id += 1;
            // Redis keeps at most 32 arguments and 128 bytes of each.
            let mut kept: Vec<Vec<u8>> = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if i == 31 && args.len() > 32 {
                    kept.push(format!("... ({} more arguments)", args.len() - 31).into_bytes());
                    break;
                }
                if a.len() > 128 {
                    let mut v = a[..128].to_vec();
                    v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                    kept.push(v);
                } else {
                    kept.push(a.to_vec());
                }
            }
            log.entries.push_front(SlowEntry {
                id,
                time: crate::util::now_ms() / 1000,
                micros,
                args: kept,
                addr: client.shared.addr.clone(),
                name: client.shared.name.lock().clone(),
            });
            while log.entries.len() > s.slowlog_max_len {
                log.entries.pop_back();
            }
        }
        if s.latency_monitor_threshold > 0 && micros / 1000 >= s.latency_monitor_threshold {
            let event = if def.flags & crate::commands::table::FAST != 0 { "fast-command" } else { "command" };
            self.latency_sample(event, micros / 1000);
        }
    }

    pub fn latency_sample(&self, event: &str, ms: u64) {
        let now = crate::util::now_ms() / 1000;
        let mut l = self.latency.lock();
        let e = l.entry(event.to_string()).or_default();
        if let Some(last) = e.samples.back_mut() {
            if last.0 == now {
                last.1 = last.1.max(ms);
                e.max = e.max.max(ms);
                return;
            }
        }
        e.samples.push_back((now, ms));
        if e.samples.len() > 160 {
            e.samples.pop_front();
        }
        e.max = e.max.max(ms);
    }

    pub fn register_client(&self, shared: Arc<ClientShared>) {
        self.clients.lock().insert(shared.id, shared);
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unregister_client(&self, id: u64) {
        self.replicas.remove(id);
        if self.clients.lock().remove(&id).is_some() {
            self.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Records one ops/s sample; the cron calls this every 100 ms, like Redis's.
    pub fn sample_ops(&self) {
        let count = self.stats.commands.get();
        let mut s = self.ops_samples.lock();
        let now = Instant::now();
        if let Some(last) = s.last_at {
            let dt = now.duration_since(last).as_secs_f64();
            if dt > 0.0 {
                let rate = (count.saturating_sub(s.last_count)) as f64 / dt;
                s.ring.push_back(rate as u64);
                if s.ring.len() > 16 {
                    s.ring.pop_front();
                }
            }
        }
        s.last_count = count;
        s.last_at = Some(now);
    }

    pub fn ops_per_sec(&self) -> u64 {
        let s = self.ops_samples.lock();
        if s.ring.is_empty() {
            0
        } else {
            s.ring.iter().sum::<u64>() / s.ring.len() as u64
        }
    }

    /// Bytes allocated by the server (RSS when the counting allocator is not installed).
    pub fn used_memory(&self) -> u64 {
        let used = crate::alloc::allocated();
        let used = if used == 0 { crate::stats::process_rss() } else { used };
        self.peak_memory.fetch_max(used, Ordering::Relaxed);
        used
    }
}

pub fn random_hex(n: usize) -> String {
    (0..n).map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap()).collect()
}
