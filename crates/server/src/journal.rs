//! The write stream: every write, as the effect that replays it deterministically, in one
//! global order with one replication offset. The AOF and replicas will consume it; today
//! it feeds the in-memory backlog (what `repl-backlog-size` bounds) and any subscribers.
//!
//! Commands append while they still hold their keys' shard locks, so for any key the
//! stream order is the execution order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::net::outbox::{Limits, Outbox};

pub struct Journal {
    inner: Mutex<Inner>,
    offset: AtomicU64,
    /// Off until a consumer (replica, AOF, DEBUG REPL-STREAM) first needs the stream:
    /// like Redis, which creates its backlog with the first replica, a server nobody
    /// replicates from spends neither memory nor a global lock on it.
    active: AtomicBool,
    /// Set while a dataset is reloaded from the AOF (DEBUG LOADAOF): nothing is appended.
    suppressed: AtomicBool,
    /// Wakes the AOF writer early (it otherwise polls every few ms).
    aof_ready: Condvar,
    /// Held by a replica while it applies a command of its master's stream and counts
    /// its bytes, and by a snapshot taking its point: the offset saved in an RDB is
    /// then exactly that of the data in it.
    applying: Mutex<()>,
    /// Whether `Inner::unsent` holds bytes (read without the lock).
    has_unsent: AtomicBool,
}

struct Inner {
    /// The database the stream last selected; a SELECT is emitted when it changes.
    last_db: Option<usize>,
    backlog: VecDeque<u8>,
    backlog_size: usize,
    /// Replicas' queues: each gets every byte appended after it subscribed.
    subscribers: Vec<Arc<Outbox>>,
    /// Bytes appended for the subscribers since the last [`Journal::distribute`]: a
    /// batch of commands reaches each replica's queue in one copy and one wake-up,
    /// not one per command (Redis too feeds replicas once per event-loop round).
    unsent: Vec<u8>,
    /// `client-output-buffer-limit replica`, applied to each queue.
    replica_limits: Limits,
    scratch: Vec<u8>,
    /// Only replication needs the backlog; an AOF alone does not keep one.
    keep_backlog: bool,
    /// Bytes waiting for the AOF writer (None: AOF off).
    aof: Option<Vec<u8>>,
    /// `aof-timestamp-enabled`: the second of the last `#TS:` annotation written.
    aof_ts: Option<u64>,
}

impl Inner {
    /// The backlog (when kept) and every subscriber get `bytes`.
    fn feed_replicas(&mut self, bytes: &[u8]) {
        if self.keep_backlog {
            self.backlog.extend(bytes.iter());
            let excess = self.backlog.len().saturating_sub(self.backlog_size);
            if excess > 0 {
                self.backlog.drain(..excess);
            }
        }
        if !self.subscribers.is_empty() {
            self.unsent.extend_from_slice(bytes);
            if self.unsent.len() >= UNSENT_MAX {
                self.distribute();
            }
        }
    }

    fn distribute(&mut self) {
        if self.unsent.is_empty() {
            return;
        }
        let limits = self.replica_limits;
        let unsent = &self.unsent;
        // A replica whose connection ended holds its queue no more.
        self.subscribers.retain(|s| Arc::strong_count(s) > 1 && s.send(unsent, limits));
        self.unsent.clear();
        if self.unsent.capacity() > 4 * UNSENT_MAX {
            self.unsent = Vec::new();
        }
    }
}

/// Past this many unsent bytes the subscribers get them at once.
const UNSENT_MAX: usize = 64 * 1024;

impl Journal {
    pub fn new(backlog_size: usize) -> Journal {
        Journal {
            inner: Mutex::new(Inner {
                last_db: None,
                backlog: VecDeque::new(),
                backlog_size,
                subscribers: Vec::new(),
                unsent: Vec::new(),
                replica_limits: Limits::default(),
                scratch: Vec::with_capacity(256),
                keep_backlog: false,
                aof: None,
                aof_ts: None,
            }),
            offset: AtomicU64::new(0),
            active: AtomicBool::new(false),
            aof_ready: Condvar::new(),
            suppressed: AtomicBool::new(false),
            applying: Mutex::new(()),
            has_unsent: AtomicBool::new(false),
        }
    }

    /// See [`Journal::applying`].
    pub fn apply_lock(&self) -> MutexGuard<'_, ()> {
        self.applying.lock()
    }

    /// Appends one command (already in its deterministic effect form) for database `db`.
    pub fn append(&self, db: usize, args: &[&[u8]]) {
        if !self.active.load(Ordering::Acquire) || self.suppressed.load(Ordering::Relaxed) {
            return;
        }
        let mut g = self.inner.lock();
        self.push(&mut g, db, args);
    }

    fn push(&self, inner: &mut Inner, db: usize, args: &[&[u8]]) {
        self.push_in(inner, Some(db), args);
    }

    /// Appends `args`, preceded by a SELECT when `db` differs from the stream's;
    /// `None` writes the command in whatever database is selected (MULTI and EXEC,
    /// which Redis writes before the first SELECT of a transaction).
    fn push_in(&self, inner: &mut Inner, db: Option<usize>, args: &[&[u8]]) {
        self.push_with(inner, db, |buf| encode(buf, args));
    }

    fn push_with(&self, inner: &mut Inner, db: Option<usize>, write: impl FnOnce(&mut Vec<u8>)) {
        inner.scratch.clear();
        if let Some(db) = db.filter(|d| inner.last_db != Some(*d)) {
            let mut b = itoa::Buffer::new();
            encode(&mut inner.scratch, &[b"SELECT", b.format(db).as_bytes()]);
            inner.last_db = Some(db);
        }
        write(&mut inner.scratch);
        let scratch = std::mem::take(&mut inner.scratch);
        inner.feed_replicas(&scratch);
        inner.scratch = scratch;
        self.mark_unsent(inner);
        if let Some(ts) = inner.aof_ts {
            let now = crate::util::now_ms() / 1000;
            if now != ts {
                inner.aof_ts = Some(now);
                if let Some(aof) = inner.aof.as_mut() {
                    aof.extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
                }
            }
        }
        if let Some(aof) = inner.aof.as_mut() {
            aof.extend_from_slice(&inner.scratch);
        }
        self.offset.fetch_add(inner.scratch.len() as u64, Ordering::Release);
    }

    /// Appends the effects of one transaction; several are wrapped in MULTI ... EXEC so
    /// that a replica or the AOF applies them as one unit.
    pub fn append_batch(&self, effects: &Effects) {
        if effects.resp.is_empty() || !self.active.load(Ordering::Acquire) || self.suppressed.load(Ordering::Relaxed) {
            return;
        }
        let wrap = effects.len() > 1;
        let mut g = self.inner.lock();
        if wrap {
            self.push_in(&mut g, None, &[b"MULTI"]);
        }
        let mut start = 0;
        for &(db, end) in &effects.ends {
            let cmd = &effects.resp[start..end];
            start = end;
            // Captured while the stream was off: there is nothing to write.
            if !cmd.is_empty() {
                self.push_with(&mut g, Some(db), |buf| buf.extend_from_slice(cmd));
            }
        }
        if wrap {
            self.push_in(&mut g, None, &[b"EXEC"]);
        }
    }

    /// Hands what was appended since the last call to the replicas' queues. Called
    /// wherever writes end a round: before a connection writes its replies or waits,
    /// after a chunk of the master's stream, and by the cron thread.
    pub fn distribute(&self) {
        if self.has_unsent.load(Ordering::Acquire) {
            let mut g = self.inner.lock();
            self.has_unsent.store(false, Ordering::Release);
            g.distribute();
        }
    }

    /// After an append: whether [`Journal::distribute`] has work.
    fn mark_unsent(&self, g: &Inner) {
        if !g.unsent.is_empty() && !self.has_unsent.load(Ordering::Relaxed) {
            self.has_unsent.store(true, Ordering::Release);
        }
    }

    /// The replication offset: total bytes ever appended.
    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Acquire)
    }

    /// The last `n` bytes of the backlog.
    pub fn tail(&self, n: usize) -> Vec<u8> {
        let g = self.inner.lock();
        let skip = g.backlog.len().saturating_sub(n);
        g.backlog.iter().skip(skip).copied().collect()
    }

    /// `repl-backlog-size` changed at run time: a smaller backlog drops its oldest bytes.
    pub fn set_backlog_size(&self, size: usize) {
        let mut g = self.inner.lock();
        g.backlog_size = size;
        let excess = g.backlog.len().saturating_sub(size);
        if excess > 0 {
            g.backlog.drain(..excess);
        }
    }

    /// Whether a backlog is kept (INFO's repl_backlog_active).
    pub fn has_backlog(&self) -> bool {
        self.inner.lock().keep_backlog
    }

    /// `repl-backlog-ttl` passed without replicas: the backlog's memory goes back.
    pub fn free_backlog(&self) {
        let mut g = self.inner.lock();
        g.backlog = VecDeque::new();
        g.keep_backlog = false;
    }

    pub fn backlog_len(&self) -> usize {
        self.inner.lock().backlog.len()
    }

    /// Starts keeping the stream (and its backlog) from now on.
    pub fn activate(&self) {
        let mut g = self.inner.lock();
        g.keep_backlog = true;
        if !self.active.swap(true, Ordering::AcqRel) {
            g.last_db = None;
        }
    }

    /// Starts (or stops, with `on` false) collecting the stream for the AOF. The next
    /// command is preceded by a SELECT, as at the start of every AOF file.
    pub fn set_aof(&self, on: bool, timestamps: bool) {
        let mut g = self.inner.lock();
        g.aof = on.then(Vec::new);
        g.aof_ts = (on && timestamps).then_some(0);
        g.last_db = None;
        if on {
            self.active.store(true, Ordering::Release);
        }
    }

    pub fn suppress(&self, on: bool) {
        self.suppressed.store(on, Ordering::Relaxed);
    }

    /// `aof-timestamp-enabled` changed at run time.
    pub fn set_aof_timestamps(&self, on: bool) {
        let mut g = self.inner.lock();
        if g.aof.is_some() {
            g.aof_ts = on.then_some(0);
        }
    }

    /// The database our own writes last selected in the stream, if any.
    pub fn selected_db(&self) -> Option<usize> {
        self.inner.lock().last_db
    }

    /// Makes the next command start with a SELECT (a new AOF file begins).
    pub fn reselect(&self) {
        self.inner.lock().last_db = None;
    }

    /// Takes the bytes waiting for the AOF and the stream offset they end at.
    pub fn take_aof(&self) -> (Vec<u8>, u64) {
        let mut g = self.inner.lock();
        let buf = g.aof.as_mut().map(|b| std::mem::replace(b, Vec::with_capacity(b.capacity().min(1 << 20)))).unwrap_or_default();
        (buf, self.offset())
    }

    /// Waits up to `timeout` for AOF bytes to collect (returns at once if some wait).
    pub fn wait_aof(&self, timeout: std::time::Duration) {
        let mut g: MutexGuard<'_, Inner> = self.inner.lock();
        if g.aof.as_ref().is_some_and(|b| b.is_empty()) {
            self.aof_ready.wait_for(&mut g, timeout);
        }
    }

    /// `client-output-buffer-limit replica` changed (or a replica subscribes).
    pub fn set_replica_limits(&self, limits: Limits) {
        self.inner.lock().replica_limits = limits;
    }

    /// Bytes waiting for the AOF writer (INFO's aof_buffer_length).
    pub fn aof_pending(&self) -> usize {
        self.inner.lock().aof.as_ref().map_or(0, |b| b.len())
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// A partial resync: when the stream from `from` (the next byte the replica wants)
    /// is still in the backlog, returns those bytes and subscribes `tx` to what follows,
    /// atomically; None when it is not (a full resync is needed).
    pub fn continue_from(&self, from: u64, tx: Arc<Outbox>) -> Option<Vec<u8>> {
        let mut g = self.inner.lock();
        if !g.keep_backlog {
            return None;
        }
        let end = self.offset() + 1;
        let first = end - g.backlog.len() as u64;
        if from < first || from > end {
            return None;
        }
        let tail: Vec<u8> = g.backlog.iter().skip((from - first) as usize).copied().collect();
        g.distribute();
        g.subscribers.push(tx);
        Some(tail)
    }

    /// A replica's stream: the master's bytes exactly as received (so offsets match the
    /// master's), to our own replicas, backlog and AOF.
    pub fn append_raw(&self, bytes: &[u8]) {
        let mut g = self.inner.lock();
        g.feed_replicas(bytes);
        self.mark_unsent(&g);
        if let Some(aof) = g.aof.as_mut() {
            aof.extend_from_slice(bytes);
        }
        self.offset.fetch_add(bytes.len() as u64, Ordering::Release);
    }

    /// After a full resync: the stream continues at the master's offset, with an empty
    /// backlog, and our next own write starts with a SELECT.
    pub fn reset_to(&self, offset: u64) {
        self.restore(offset, None);
    }

    /// The stream goes on from `offset` (empty backlog) in database `db` (None: the next
    /// write selects its own): after a full resync, or at start-up with the replication
    /// info of an RDB.
    pub fn restore(&self, offset: u64, db: Option<usize>) {
        let mut g = self.inner.lock();
        g.backlog.clear();
        g.last_db = db;
        g.keep_backlog = true;
        self.active.store(true, Ordering::Release);
        self.offset.store(offset, Ordering::Release);
    }

    /// Appends bytes for replicas only (the master's PING), never for the AOF.
    pub fn append_replication_only(&self, args: &[&[u8]]) {
        let mut g = self.inner.lock();
        if !g.keep_backlog || g.subscribers.is_empty() {
            return;
        }
        let mut scratch = std::mem::take(&mut g.scratch);
        scratch.clear();
        encode(&mut scratch, args);
        g.feed_replicas(&scratch);
        self.mark_unsent(&g);
        self.offset.fetch_add(scratch.len() as u64, Ordering::Release);
        g.scratch = scratch;
    }

    /// `tx` receives every byte appended from now on (a replica).
    pub fn subscribe(&self, tx: Arc<Outbox>) {
        self.active.store(true, Ordering::Release);
        let mut g = self.inner.lock();
        g.last_db = None;
        g.keep_backlog = true;
        g.distribute();
        g.subscribers.push(tx);
    }
}

/// The effects a transaction or script propagates, collected until it ends: each
/// command's database and the end of its RESP encoding in `resp`. While the stream is
/// off (no AOF, no replica) only the count is kept.
#[derive(Default)]
pub struct Effects {
    /// Inline for the few writes of a typical script or transaction.
    ends: smallvec::SmallVec<[(usize, usize); 4]>,
    resp: Vec<u8>,
}

impl Effects {
    pub fn push(&mut self, journal: &Journal, db: usize, args: &[&[u8]]) {
        if journal.is_active() {
            encode(&mut self.resp, args);
        }
        self.ends.push((db, self.resp.len()));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Drops the effects after the first `n`.
    pub fn truncate(&mut self, n: usize) {
        self.ends.truncate(n);
        self.resp.truncate(self.ends.last().map_or(0, |e| e.1));
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }
}

/// One command as a RESP array of bulk strings.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut b = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(b.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(b.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
