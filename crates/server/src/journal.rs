//! The write stream: every write, as the effect that replays it deterministically, in one
//! global order with one replication offset. The AOF and replicas will consume it; today
//! it feeds the in-memory backlog (what `repl-backlog-size` bounds) and any subscribers.
//!
//! Commands append while they still hold their keys' shard locks, so for any key the
//! stream order is the execution order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;

pub struct Journal {
    inner: Mutex<Inner>,
    offset: AtomicU64,
    /// Off until a consumer (replica, AOF, DEBUG REPL-STREAM) first needs the stream:
    /// like Redis, which creates its backlog with the first replica, a server nobody
    /// replicates from spends neither memory nor a global lock on it.
    active: AtomicBool,
}

struct Inner {
    /// The database the stream last selected; a SELECT is emitted when it changes.
    last_db: Option<usize>,
    backlog: VecDeque<u8>,
    backlog_size: usize,
    subscribers: Vec<UnboundedSender<Bytes>>,
    scratch: Vec<u8>,
}

impl Journal {
    pub fn new(backlog_size: usize) -> Journal {
        Journal {
            inner: Mutex::new(Inner {
                last_db: None,
                backlog: VecDeque::new(),
                backlog_size,
                subscribers: Vec::new(),
                scratch: Vec::with_capacity(256),
            }),
            offset: AtomicU64::new(0),
            active: AtomicBool::new(false),
        }
    }

    /// Appends one command (already in its deterministic effect form) for database `db`.
    pub fn append(&self, db: usize, args: &[&[u8]]) {
        if !self.active.load(Ordering::Acquire) {
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
        inner.scratch.clear();
        if let Some(db) = db.filter(|d| inner.last_db != Some(*d)) {
            let mut b = itoa::Buffer::new();
            encode(&mut inner.scratch, &[b"SELECT", b.format(db).as_bytes()]);
            inner.last_db = Some(db);
        }
        encode(&mut inner.scratch, args);
        inner.backlog.extend(inner.scratch.iter());
        let excess = inner.backlog.len().saturating_sub(inner.backlog_size);
        if excess > 0 {
            inner.backlog.drain(..excess);
        }
        if !inner.subscribers.is_empty() {
            let chunk = Bytes::copy_from_slice(&inner.scratch);
            inner.subscribers.retain(|s| s.send(chunk.clone()).is_ok());
        }
        self.offset.fetch_add(inner.scratch.len() as u64, Ordering::Release);
    }

    /// Appends the effects of one transaction; several are wrapped in MULTI ... EXEC so
    /// that a replica or the AOF applies them as one unit.
    pub fn append_batch(&self, cmds: &[crate::net::client::Effect]) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let wrap = cmds.len() > 1;
        let mut g = self.inner.lock();
        let mut refs: Vec<&[u8]> = Vec::new();
        for (i, (db, args)) in cmds.iter().enumerate() {
            if wrap && i == 0 {
                self.push_in(&mut g, None, &[b"MULTI"]);
            }
            refs.clear();
            refs.extend(args.iter().map(|a| a.as_slice()));
            self.push(&mut g, *db, &refs);
        }
        if wrap {
            self.push_in(&mut g, None, &[b"EXEC"]);
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

    pub fn backlog_len(&self) -> usize {
        self.inner.lock().backlog.len()
    }

    /// Starts keeping the stream (and its backlog) from now on.
    pub fn activate(&self) {
        let mut g = self.inner.lock();
        if !self.active.swap(true, Ordering::AcqRel) {
            g.last_db = None;
        }
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Receives every chunk appended from now on (AOF writer, replicas).
    pub fn subscribe(&self, tx: UnboundedSender<Bytes>) {
        self.active.store(true, Ordering::Release);
        let mut g = self.inner.lock();
        g.last_db = None;
        g.subscribers.push(tx);
    }
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
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
