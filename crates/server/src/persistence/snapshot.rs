//! Forkless point-in-time RDB snapshots (BGSAVE, SAVE, AOF rewrite, replica sync).
//!
//! The snapshot point is taken with every shard locked for an instant
//! ([`Keyspace::begin_snapshot`]); from then on each shard is serialised exactly once,
//! either by the background walk or by the first command that locks it, before that
//! command changes it (the [`Capture`] hook). The file is therefore the dataset as it
//! was at the point, while writers keep running and no copy of the data is made.
//! Shards arrive in any order, so each capture is preceded by a SELECTDB when the
//! database changes (Redis's loader accepts any number of them).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::rdb::{self, CRC64, OP_EOF, OP_SELECTDB};
use crate::keyspace::{Capture, Shard, Slot};
use crate::server::Server;

pub enum Target {
    File(BufWriter<File>),
    Mem(Vec<u8>),
}

impl Target {
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Target::File(f) => f.write_all(b),
            Target::Mem(v) => {
                v.extend_from_slice(b);
                Ok(())
            }
        }
    }
}

struct SinkState {
    out: Option<Target>,
    crc: crc::Digest<'static, u64>,
    last_db: Option<u32>,
    err: Option<io::Error>,
}

/// What a snapshot is written as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rdb,
    /// RESP commands that rebuild the dataset (an AOF base with `aof-use-rdb-preamble no`).
    Commands,
}

/// A snapshot being written from shard captures.
pub struct RdbSink {
    state: Mutex<SinkState>,
    format: Format,
    at: rdb::At,
    /// `rdb-key-save-delay` (µs per key, background walk only): lets tests observe a save in progress.
    key_delay_us: i64,
    pub cancelled: AtomicBool,
    pub keys_done: AtomicU64,
    /// Keys in the dataset at the snapshot point.
    pub keys_total: AtomicU64,
    /// `rdb-key-save-delay` owed by the walk, slept once the shard lock is released.
    delay_us: AtomicU64,
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl RdbSink {
    /// A sink whose header [`RdbSink::header`] writes at the snapshot point.
    pub fn new(target: Target, format: Format, at: rdb::At, key_delay_us: i64) -> RdbSink {
        RdbSink {
            state: Mutex::new(SinkState { out: Some(target), crc: CRC64.digest(), last_db: None, err: None }),
            format,
            at,
            key_delay_us,
            cancelled: AtomicBool::new(false),
            keys_done: AtomicU64::new(0),
            keys_total: AtomicU64::new(0),
            delay_us: AtomicU64::new(0),
        }
    }

    /// The RDB header and aux fields (or, for a command base, the function libraries).
    fn header(&self, aux: &[(&str, String)]) {
        let mut head = Vec::new();
        if self.format == Format::Rdb {
            rdb::write_header(&mut head, rdb::RDB_VERSION, self.at.now_ms, aux);
        } else {
            // A command base rebuilds the function libraries first, as Redis's does.
            for code in crate::scripting::library::libraries().codes() {
                head.extend_from_slice(format!("*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n${}\r\n", code.len()).as_bytes());
                head.extend_from_slice(&code);
                head.extend_from_slice(b"\r\n");
            }
        }
        if !head.is_empty() {
            self.emit(&mut self.state.lock(), &head);
        }
    }

    fn emit(&self, st: &mut SinkState, bytes: &[u8]) {
        if st.err.is_some() {
            return;
        }
        st.crc.update(bytes);
        if let Some(out) = st.out.as_mut() {
            if let Err(e) = out.write_all(bytes) {
                st.err = Some(e);
            }
        }
    }

    /// Writes EOF and the checksum and hands the target back (flushed).
    pub fn finish(&self) -> io::Result<Target> {
        let mut st = self.state.lock();
        if self.format == Format::Rdb {
            self.emit(&mut st, &[OP_EOF]);
            let crc = std::mem::replace(&mut st.crc, CRC64.digest()).finalize();
            self.emit(&mut st, &crc.to_le_bytes());
        }
        if let Some(e) = st.err.take() {
            return Err(e);
        }
        let mut out = st.out.take().expect("finished once");
        if let Target::File(f) = &mut out {
            f.flush()?;
        }
        Ok(out)
    }
}

impl Capture for RdbSink {
    /// Sleeps in slices, so a cancelled save (FLUSHALL, SHUTDOWN) stops at once, as
    /// Redis's killed child does, even under a huge `rdb-key-save-delay`.
    fn pause(&self) {
        let us = self.delay_us.swap(0, Ordering::Relaxed);
        if us == 0 {
            return;
        }
        let end = std::time::Instant::now() + std::time::Duration::from_micros(us);
        while !self.cancelled.load(Ordering::Relaxed) {
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(10)));
        }
    }

    /// SELECTDB + RESIZEDB for every non-empty database up front, so a loader can size
    /// its tables before the keys (which come shard by shard) arrive.
    fn sizes(&self, dbs: &[(u64, u64)]) {
        self.keys_total.store(dbs.iter().map(|d| d.0).sum(), Ordering::Relaxed);
        if self.format == Format::Commands {
            return;
        }
        let mut head = Vec::new();
        let mut last = None;
        for (db, &(n, volatile)) in dbs.iter().enumerate() {
            if n > 0 {
                head.push(OP_SELECTDB);
                rdb::write_len(&mut head, db as u64);
                head.push(rdb::OP_RESIZEDB);
                rdb::write_len(&mut head, n);
                rdb::write_len(&mut head, volatile);
                last = Some(db as u32);
            }
        }
        let mut st = self.state.lock();
        self.emit(&mut st, &head);
        st.last_db = last;
    }

    fn capture(&self, slot: Slot, shard: &Shard, background: bool) {
        if self.cancelled.load(Ordering::Relaxed) || shard.dict.is_empty() {
            return;
        }
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            let n = match self.format {
                Format::Rdb => rdb::write_shard(buf, shard, self.at, false),
                Format::Commands => super::aof::write_shard_commands(buf, shard, self.at.now_ms),
            };
            if n == 0 {
                return;
            }
            if background && self.key_delay_us > 0 {
                self.delay_us.fetch_add(self.key_delay_us as u64 * n, Ordering::Relaxed);
            }
            self.keys_done.fetch_add(n, Ordering::Relaxed);
            let mut st = self.state.lock();
            if st.last_db != Some(slot.db) {
                let sel = match self.format {
                    Format::Rdb => {
                        let mut sel = vec![OP_SELECTDB];
                        rdb::write_len(&mut sel, slot.db as u64);
                        sel
                    }
                    Format::Commands => {
                        let mut sel = Vec::new();
                        crate::journal::encode(&mut sel, &[b"SELECT", slot.db.to_string().as_bytes()]);
                        sel
                    }
                };
                self.emit(&mut st, &sel);
                st.last_db = Some(slot.db);
            }
            self.emit(&mut st, buf);
        });
    }
}

/// What the running snapshot is for (one at a time).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Job {
    Bgsave,
    Save,
    AofRewrite,
    Replication,
}

/// RDB persistence state shown by INFO persistence.
pub struct RdbState {
    busy: Mutex<Option<(Job, Instant, Arc<RdbSink>)>>,
    idle: Condvar,
    pub last_ok: AtomicBool,
    pub last_time_sec: AtomicI64,
    pub saves: AtomicU64,
    /// Unix seconds of the last BGSAVE attempt (failed saves are retried after 5 s).
    pub last_try: AtomicU64,
    pub scheduled: AtomicBool,
    pub last_keys: AtomicU64,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            busy: Mutex::new(None),
            idle: Condvar::new(),
            last_ok: AtomicBool::new(true),
            last_time_sec: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            last_try: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
            last_keys: AtomicU64::new(0),
        }
    }
}

impl RdbState {
    pub fn running(&self) -> Option<Job> {
        self.busy.lock().as_ref().map(|(j, _, _)| *j)
    }

    /// Seconds the running job has taken so far (-1 when none), keys written, and keys
    /// at its point.
    pub fn progress(&self) -> (i64, u64, u64) {
        match self.busy.lock().as_ref() {
            Some((_, t, s)) => (t.elapsed().as_secs() as i64, s.keys_done.load(Ordering::Relaxed), s.keys_total.load(Ordering::Relaxed)),
            None => (-1, 0, 0),
        }
    }

    /// Waits for the running snapshot, if any, to end.
    pub fn wait_idle(&self) {
        let mut g = self.busy.lock();
        while g.is_some() {
            self.idle.wait(&mut g);
        }
    }

    /// Stops a running BGSAVE (FLUSHALL does, as Redis kills its child).
    pub fn cancel_bgsave(&self) -> bool {
        if let Some((Job::Bgsave, _, s)) = self.busy.lock().as_ref() {
            s.cancelled.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn claim(&self, job: Job, sink: &Arc<RdbSink>, wait: bool) -> bool {
        let mut g = self.busy.lock();
        while g.is_some() {
            if !wait {
                return false;
            }
            self.idle.wait(&mut g);
        }
        *g = Some((job, Instant::now(), sink.clone()));
        true
    }

    fn release(&self) {
        *self.busy.lock() = None;
        self.idle.notify_all();
    }
}

/// Aux fields Redis writes after the basic ones. Read at the snapshot point: the
/// replication id, offset and stream database are those of the data saved, so a
/// restarted replica (or the replicas of a restarted master) can resync partially.
pub fn aux_fields(srv: &Server, aof_base: bool) -> Vec<(&'static str, String)> {
    let stream_db = match srv.master.lock().as_ref() {
        Some(link) => link.stream_db(),
        None => srv.journal.selected_db().unwrap_or(0),
    };
    let mut aux = Vec::with_capacity(4);
    // Only a history that replicas can continue from is saved (Redis's rsi).
    if srv.journal.has_backlog() {
        aux.push(("repl-stream-db", stream_db.to_string()));
        aux.push(("repl-id", srv.replid.lock().clone()));
        aux.push(("repl-offset", srv.journal.offset().to_string()));
    }
    aux.push(("aof-base", (aof_base as u8).to_string()));
    aux
}

/// A snapshot that has begun: its sink and epoch.
pub struct Started {
    pub sink: Arc<RdbSink>,
    epoch: u64,
    job: Job,
}

/// Takes the snapshot point: waits for (or, with `wait` false, refuses while) another
/// snapshot to finish, then runs `at_point` with every shard locked.
pub fn begin(srv: &Server, job: Job, target: Target, aof_base: bool, wait: bool, at_point: impl FnOnce()) -> Option<Started> {
    begin_as(srv, job, target, Format::Rdb, aof_base, wait, at_point)
}

/// [`begin`] in a given format.
pub fn begin_as(
    srv: &Server,
    job: Job,
    target: Target,
    format: Format,
    aof_base: bool,
    wait: bool,
    at_point: impl FnOnce(),
) -> Option<Started> {
    let settings = srv.config.settings();
    let now = crate::util::now_ms();
    let sink = Arc::new(RdbSink::new(target, format, rdb::At::of(srv, now), settings.rdb_key_save_delay));
    if !srv.rdb.claim(job, &sink, wait) {
        return None;
    }
    let applying = srv.journal.apply_lock();
    let epoch = srv.keyspace.begin_snapshot(sink.clone(), || {
        sink.header(&aux_fields(srv, aof_base));
        at_point();
    });
    drop(applying);
    Some(Started { sink, epoch, job })
}

/// The snapshot slot, still taken (INFO's `*_in_progress` stays 1, no other snapshot
/// starts) until dropped: a job that goes on after the walk (the AOF rewrite installing
/// its base) holds it to its end.
pub struct Busy<'a>(&'a RdbState);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Started {
    /// Walks the remaining shards on this thread and finishes the file.
    pub fn complete(self, srv: &Server) -> io::Result<Target> {
        self.complete_held(srv).0
    }

    /// `complete`, the slot staying taken until the returned guard is dropped.
    pub fn complete_held(self, srv: &Server) -> (io::Result<Target>, Busy<'_>) {
        let sink = self.sink.clone();
        srv.keyspace.walk_snapshot(self.epoch, || sink.cancelled.load(Ordering::Relaxed));
        let res =
            if self.sink.cancelled.load(Ordering::Relaxed) { Err(io::Error::other("snapshot cancelled")) } else { self.sink.finish() };
        srv.rdb.last_keys.store(self.sink.keys_done.load(Ordering::Relaxed), Ordering::Relaxed);
        let _ = self.job;
        (res, Busy(&srv.rdb))
    }
}

/// Writes a snapshot to `path` through a temporary file, fsync and rename, so a crash
/// never leaves a half-written file in its place. `on_point` learns whether the
/// snapshot point was taken (false: another snapshot is running and `wait` is off).
/// Returns the dirty counter as of the point, or None when no snapshot was taken.
pub fn save_to(
    srv: &Server,
    job: Job,
    path: &str,
    wait: bool,
    on_point: impl FnOnce(bool),
    record: impl FnOnce(&Result<Option<u64>, String>),
) -> Result<Option<u64>, String> {
    let tmp = temp_name();
    let file = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            on_point(true);
            let dir = srv.config.settings().dir.clone();
            let res = Err(format!("Failed opening the temp RDB file {tmp} (in server root dir {dir}) for saving: {e}"));
            record(&res);
            return res;
        }
    };
    let dirty_before = srv.dirty.load(Ordering::Relaxed);
    let Some(snap) = begin(srv, job, Target::File(BufWriter::with_capacity(1 << 16, file)), false, wait, || {}) else {
        let _ = std::fs::remove_file(&tmp);
        on_point(false);
        return Ok(None);
    };
    on_point(true);
    let sink = snap.sink.clone();
    // The slot stays taken until the file is in place and the outcome recorded, so
    // `rdb_bgsave_in_progress:0` means dump.rdb is the new one.
    let (written, _busy) = snap.complete_held(srv);
    let res = if sink.cancelled.load(Ordering::Relaxed) {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!("Background saving terminated by signal 10");
        Ok(None)
    } else {
        let written = written.and_then(|t| match t {
            Target::File(f) => f.into_inner().map_err(|e| e.into_error())?.sync_all(),
            Target::Mem(_) => Ok(()),
        });
        match written.and_then(|_| std::fs::rename(&tmp, path)) {
            Ok(()) => Ok(Some(dirty_before)),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(format!("Write error saving DB on disk: {e}"))
            }
        }
    };
    record(&res);
    res
}

/// Records a finished RDB save the way Redis does: any success clears the bgsave
/// status, only a background save's failure sets it (which is what
/// `stop-writes-on-bgsave-error` looks at).
fn saved(srv: &Server, res: &Result<Option<u64>, String>, started: Instant, background: bool) {
    if background && !matches!(res, Ok(None)) {
        srv.rdb.last_time_sec.store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    }
    match res {
        Ok(Some(dirty_before)) => {
            let _ = srv.dirty.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| Some(d.saturating_sub(*dirty_before)));
            srv.lastsave.store(crate::util::now_ms() / 1000, Ordering::Relaxed);
            srv.rdb.last_ok.store(true, Ordering::Relaxed);
            tracing::info!("DB saved on disk");
            if background {
                tracing::info!("Background saving terminated with success");
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!("{e}");
            if background {
                srv.rdb.last_ok.store(false, Ordering::Relaxed);
                tracing::warn!("Background saving error");
            }
        }
    }
}

/// SAVE: the snapshot walk runs on the calling thread; other clients keep running.
pub fn save(srv: &Server, wait: bool) -> Result<(), String> {
    let path = srv.config.get("dbfilename").unwrap_or_default();
    let started = Instant::now();
    let res = save_to(srv, Job::Save, &path, wait, |_| {}, |res| saved(srv, res, started, false));
    match res {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("ERR Background save already in progress".into()),
        Err(e) => Err(e),
    }
}

/// BGSAVE: the snapshot point is taken now, the walk runs on its own thread.
pub fn bgsave(srv: &Arc<Server>) -> Result<(), &'static str> {
    if srv.rdb.running().is_some() {
        return Err("ERR Background save already in progress");
    }
    srv.rdb.last_try.store(crate::util::now_ms() / 1000, Ordering::Relaxed);
    srv.rdb.saves.fetch_add(1, Ordering::Relaxed);
    let path = srv.config.get("dbfilename").unwrap_or_default();
    let srv2 = srv.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("ferrokv-bgsave".into())
        .spawn(move || {
            let started = Instant::now();
            let _ = save_to(
                &srv2,
                Job::Bgsave,
                &path,
                false,
                |ok| {
                    let _ = tx.send(ok);
                },
                |res| saved(&srv2, res, started, true),
            );
        })
        .map_err(|_| "ERR Background save failed")?;
    // The reply waits for the snapshot point so a following write is never in the file.
    match rx.recv() {
        Ok(true) => {
            tracing::info!("Background saving started by pid {}", std::process::id());
            Ok(())
        }
        _ => Err("ERR Background save already in progress"),
    }
}

/// The cron's check of the `save` points (and of a scheduled BGSAVE): like Redis, a
/// failed save is retried only after 5 seconds.
pub fn cron(srv: &Arc<Server>) {
    if srv.rdb.running().is_some() {
        return;
    }
    let now = crate::util::now_ms() / 1000;
    let settings = srv.config.settings();
    let dirty = srv.dirty.load(Ordering::Relaxed);
    let since = now.saturating_sub(srv.lastsave.load(Ordering::Relaxed));
    let may_retry = srv.rdb.last_ok.load(Ordering::Relaxed) || now.saturating_sub(srv.rdb.last_try.load(Ordering::Relaxed)) >= 5;
    let due = settings.save_points.iter().find(|(secs, changes)| dirty >= *changes && since > *secs);
    if let Some((secs, changes)) = due.filter(|_| may_retry) {
        tracing::info!("{changes} changes in {secs} seconds. Saving...");
        let _ = bgsave(srv);
    } else if srv.rdb.scheduled.swap(false, Ordering::Relaxed) {
        let _ = bgsave(srv);
    }
}

/// Whether the last background save failed with `stop-writes-on-bgsave-error` and
/// save points configured.
pub fn bgsave_failed(srv: &Server, settings: &crate::config::Settings) -> bool {
    !srv.rdb.last_ok.load(Ordering::Relaxed) && settings.stop_writes_on_bgsave_error && !settings.save_points.is_empty()
}

/// Writes an already serialised RDB to `path` (temporary file, fsync, rename).
pub fn write_file(path: &str, data: &[u8]) -> io::Result<()> {
    let tmp = temp_name();
    let res = File::create(&tmp).and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all()
    });
    res.and_then(|_| std::fs::rename(&tmp, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// `temp-<pid>-<n>.rdb`: unique, so a cancelled save still closing never meets the next.
fn temp_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("temp-{}-{}.rdb", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
