//! The append-only file, Redis 7 multi-part: `appenddirname/` holds a base (an RDB
//! image, `<name>.<n>.base.rdb`), incr files of plain RESP (`<name>.<n>.incr.aof`) and
//! the manifest that lists them.
//!
//! The write stream (`journal`) collects each write's bytes; one writer thread appends
//! them to the current incr file and fsyncs per `appendfsync`. With `always`, a client
//! that wrote gets its reply only once its bytes are fsynced: a worker that has run
//! every ready connection writes and fsyncs their batch before it sleeps, as Redis's
//! beforeSleep does (group commit, `before_park`). A rewrite takes a forkless
//! snapshot as the new base; at its point the writer switches to a new incr file, so
//! base + new incr hold exactly the dataset, and the old files become history.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::aof_scan::{self, AofScanner, Entry, ErrorKind};
use super::manifest::{self, Kind, Manifest};
use super::snapshot::{self, Job, Target};
use crate::server::Server;

#[derive(Default)]
struct Files {
    dir: PathBuf,
    name: String,
    manifest: Manifest,
    /// The incr file being appended to.
    incr: Option<Arc<File>>,
    /// Bytes that failed to be written, retried first.
    pending: Vec<u8>,
    /// The journal offset the incr file holds up to (written, maybe not fsynced).
    written: u64,
}

/// AOF state (INFO persistence's aof_* fields come from here).
pub struct Aof {
    files: Mutex<Files>,
    pub enabled: AtomicBool,
    /// The stream offset known to be on disk (fsynced).
    pub fsynced: AtomicU64,
    /// The stream offset handed to the kernel (written, maybe not fsynced).
    written: AtomicU64,
    synced: tokio::sync::Notify,
    pub always: AtomicBool,
    pub scheduled: AtomicBool,
    /// `CONFIG SET appendonly yes` inside MULTI/EXEC: started by the cron.
    pub turn_on_scheduled: AtomicBool,
    pub last_rewrite_time_sec: AtomicI64,
    pub last_rewrite_ok: AtomicBool,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub last_write_ok: AtomicBool,
    /// errno of the last failed write (meaningful while `last_write_ok` is false).
    last_write_errno: AtomicI32,
    /// errno of the last failed background fsync; 0 once one succeeds.
    fsync_errno: AtomicI32,
    pub base_size: AtomicU64,
    pub current_size: AtomicU64,
    /// Bumped to stop the current writer thread (AOF turned off).
    generation: AtomicU64,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            files: Mutex::new(Files::default()),
            enabled: AtomicBool::new(false),
            fsynced: AtomicU64::new(0),
            written: AtomicU64::new(0),
            synced: tokio::sync::Notify::new(),
            always: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            turn_on_scheduled: AtomicBool::new(false),
            last_rewrite_time_sec: AtomicI64::new(-1),
            last_rewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            last_write_errno: AtomicI32::new(0),
            fsync_errno: AtomicI32::new(0),
            base_size: AtomicU64::new(0),
            current_size: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }
}

impl Aof {
    /// Waits until the stream is fsynced up to `offset` (`appendfsync always`). The
    /// worker commits when it has run every ready connection and is about to sleep
    /// (`before_park`), so all the writes of its round share one fsync: group commit,
    /// as Redis's beforeSleep does it.
    pub async fn wait_fsynced(&self, offset: u64) {
        loop {
            let n = self.synced.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.fsynced.load(Ordering::Acquire) >= offset || !self.always.load(Ordering::Relaxed) {
                return;
            }
            n.await;
        }
    }

    /// Hands the stream up to `offset` to the kernel before a reply acknowledges it
    /// (`everysec` and `no`), as Redis writes the AOF before it writes replies: a
    /// crashed or killed process then loses no acknowledged write, only the OS crash
    /// loses up to the last fsync. Whoever writes takes everything collected, so the
    /// connections of one worker round share the write.
    pub async fn wait_written(&self, srv: &Server, offset: u64) {
        if self.written.load(Ordering::Acquire) >= offset {
            return;
        }
        // This worker's other ready connections run first and join the write.
        tokio::task::yield_now().await;
        if self.written.load(Ordering::Acquire) >= offset || !self.enabled.load(Ordering::Acquire) {
            return;
        }
        // Held only for a write(2), or briefly by a rewrite finishing its manifest.
        let mut f = self.files.lock();
        if self.written.load(Ordering::Acquire) < offset {
            let (buf, at) = srv.journal.take_aof();
            flush_locked(srv, &mut f, buf, at);
        }
    }

    /// errno of the write or background fsync that failed last, while the AOF cannot
    /// be written (writes are refused meanwhile, as in Redis).
    pub fn write_error(&self) -> Option<i32> {
        if !self.last_write_ok.load(Ordering::Relaxed) {
            return Some(self.last_write_errno.load(Ordering::Relaxed));
        }
        Some(self.fsync_errno.load(Ordering::Relaxed)).filter(|&e| e != 0)
    }

    /// Writes and fsyncs what is collected and wakes the waiters, unless another
    /// thread is at it.
    fn commit(&self, srv: &Server) {
        let Some(mut f) = self.files.try_lock() else { return };
        let (buf, offset) = srv.journal.take_aof();
        flush_locked(srv, &mut f, buf, offset);
        if let Some(file) = f.incr.as_ref() {
            if let Err(e) = file.sync_data() {
                fsync_always_failed(&e);
            }
        }
        self.fsynced.fetch_max(f.written, Ordering::AcqRel);
        drop(f);
        self.synced.notify_waiters();
    }

    /// Writes waiting for an fsync (`appendfsync always`).
    fn unsynced(&self, srv: &Server) -> bool {
        self.always.load(Ordering::Relaxed) && self.fsynced.load(Ordering::Acquire) < srv.journal.offset()
    }
}

/// Tokio's park hook: the worker has run every connection that was ready, and those
/// that wrote wait for an fsync (`appendfsync always`). Writing and fsyncing their
/// batch here, on the worker, is Redis's beforeSleep: the commands that arrive
/// meanwhile wait in the socket and are read in one go after, instead of waking an
/// idle worker one by one while another thread fsyncs.
pub fn before_park(srv: &Server) {
    // The waiters go to Tokio's shared queue, which the workers serve first
    // (`global_queue_interval(1)`): their replies go out before the commands that
    // arrived meanwhile run, as Redis writes replies before it reads again. A worker
    // checks that queue once more as it parks, so none is left waiting there.
    if srv.aof.unsynced(srv) {
        srv.aof.commit(srv);
    }
}

/// An fsync of `appendfsync always` failed: replies may already have acknowledged
/// what it should have made durable, so stop, as Redis does.
fn fsync_always_failed(e: &io::Error) -> ! {
    tracing::warn!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...", crate::util::strerror(e));
    std::process::exit(1);
}

fn dir_of(srv: &Server) -> (PathBuf, String) {
    let dir = PathBuf::from(srv.config.get("appenddirname").unwrap_or_default());
    (dir, srv.config.get("appendfilename").unwrap_or_default())
}

/// Writes the manifest through a temporary file and a rename.
fn persist_manifest(f: &Files) -> io::Result<()> {
    let tmp = f.dir.join(manifest::temp_manifest_name(&f.name));
    let mut file = File::create(&tmp)?;
    file.write_all(f.manifest.to_text().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, f.dir.join(manifest::manifest_name(&f.name)))?;
    if let Ok(d) = File::open(&f.dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Why loading stopped: the message, logged before exiting.
pub struct LoadError(pub String);

/// Start-up with `appendonly yes`: loads the files the manifest lists (upgrading a
/// pre-7 single `appendonly.aof` first), then opens the AOF for appending, creating
/// the base and the incr file when there are none.
pub fn load_and_open(srv: &Arc<Server>) -> Result<(), LoadError> {
    let (dir, name) = dir_of(srv);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(LoadError(format!("Can't open or create append-only dir {}: {e}", dir.display())));
    }
    let mpath = dir.join(manifest::manifest_name(&name));
    let mut m = match std::fs::read(&mpath) {
        Ok(text) => Manifest::parse(&text).map_err(|e| LoadError(e.log_lines().join("\n")))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Manifest::new(),
        Err(e) => return Err(LoadError(format!("Unable to open the AOF manifest file {}: {e}", mpath.display()))),
    };
    let legacy = PathBuf::from(&name);
    if m.base.is_none() && m.incrs.is_empty() && file_size(&legacy) > 0 {
        // Redis 7's upgrade: the old single file becomes the base of a new manifest.
        std::fs::rename(&legacy, dir.join(&name))
            .map_err(|e| LoadError(format!("Error moving the AOF file {name} to the AOF directory: {e}")))?;
        m.base = Some(manifest::AofFile { name: name.clone(), seq: 1, kind: Kind::Base });
        m.base_seq = 1;
        let f = Files { dir: dir.clone(), name: name.clone(), manifest: m.clone(), ..Files::default() };
        persist_manifest(&f).map_err(|e| LoadError(format!("Can't persist the AOF manifest: {e}")))?;
        tracing::info!("Successfully migrated an old-style AOF into the AOF directory");
    }
    load_files(srv, &dir, &m)?;
    srv.dirty.store(0, Ordering::Relaxed);
    let mut files = Files { dir, name, manifest: m, ..Files::default() };
    // Like Redis, a base is made at start only for an empty AOF (no base, no incr).
    if files.manifest.base.is_none() && files.manifest.incrs.is_empty() {
        let preamble = srv.config.settings().aof_use_rdb_preamble;
        let base = files.manifest.new_base(&files.name.clone(), preamble);
        tracing::info!("Creating AOF base file {base} on server start");
        let data = {
            let mut keys = srv.keyspace.lock_all();
            let now = crate::util::now_ms();
            if preamble {
                crate::persistence::rdb::snapshot_aof_base(&mut keys, srv.keyspace.databases(), crate::persistence::rdb::At::of(srv, now))
            } else {
                let mut out = Vec::new();
                for db in 0..srv.keyspace.databases() {
                    let mut body = Vec::new();
                    for shard in keys.db_shards(db) {
                        write_shard_commands(&mut body, shard, now);
                    }
                    if !body.is_empty() {
                        crate::journal::encode(&mut out, &[b"SELECT", db.to_string().as_bytes()]);
                        out.extend_from_slice(&body);
                    }
                }
                out
            }
        };
        write_synced(&files.dir.join(&base), &data).map_err(|e| LoadError(format!("Can't create the AOF base file {base}: {e}")))?;
    }
    let incr = match files.manifest.incrs.last() {
        Some(f) => {
            tracing::info!("Opening AOF incr file {} on server start", f.name);
            f.name.clone()
        }
        None => {
            let n = files.manifest.new_incr(&files.name.clone());
            tracing::info!("Creating AOF incr file {n} on server start");
            n
        }
    };
    let file = open_append(&files.dir.join(&incr)).map_err(|e| LoadError(format!("Can't open the append-only file {incr}: {e}")))?;
    files.incr = Some(Arc::new(file));
    persist_manifest(&files).map_err(|e| LoadError(format!("Can't persist the AOF manifest: {e}")))?;
    start(srv, files);
    Ok(())
}

/// Loads the files `m` lists, base first.
fn load_files(srv: &Server, dir: &Path, m: &Manifest) -> Result<(), LoadError> {
    let started = Instant::now();
    let order: Vec<manifest::AofFile> = m.load_order().cloned().collect();
    let total = order.len();
    let mut loaded_any = false;
    for (i, f) in order.iter().enumerate() {
        let path = dir.join(&f.name);
        let t = Instant::now();
        if !path.exists() {
            return Err(LoadError(format!("The AOF file {} doesn't exist", f.name)));
        }
        load_file(srv, &path, &f.name, i + 1 == total)?;
        loaded_any = true;
        let what = if f.kind == Kind::Base { "base" } else { "incr" };
        tracing::info!("DB loaded from {what} file {}: {:.3} seconds", f.name, t.elapsed().as_secs_f64());
    }
    if loaded_any {
        tracing::info!("DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// DEBUG LOADAOF: the AOF on disk replaces the dataset (flushed first, as in Redis).
pub fn debug_loadaof(srv: &Server) -> Result<(), LoadError> {
    flush_and_sync(srv);
    {
        let mut keys = srv.keyspace.lock_all();
        for db in 0..srv.keyspace.databases() {
            for shard in keys.db_shards(db) {
                shard.clear();
            }
        }
    }
    let (dir, name) = dir_of(srv);
    let m = match std::fs::read(dir.join(manifest::manifest_name(&name))) {
        Ok(t) => Manifest::parse(&t).map_err(|e| LoadError(e.log_lines().join("\n")))?,
        Err(_) => Manifest::new(),
    };
    srv.journal.suppress(true);
    let res = load_files(srv, &dir, &m);
    srv.journal.suppress(false);
    srv.dirty.store(0, Ordering::Relaxed);
    tracing::info!("Append Only File loaded by DEBUG LOADAOF");
    res
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Sizes from the files on disk; turns collection on and starts the writer thread.
fn start(srv: &Arc<Server>, files: Files) {
    let settings = srv.config.settings();
    let sizes: u64 = files.manifest.load_order().map(|f| file_size(&files.dir.join(&f.name))).sum();
    let base = files.manifest.base.as_ref().map_or(0, |b| file_size(&files.dir.join(&b.name)));
    srv.aof.current_size.store(sizes, Ordering::Relaxed);
    srv.aof.base_size.store(base, Ordering::Relaxed);
    let offset = srv.journal.offset();
    srv.aof.fsynced.store(offset, Ordering::Release);
    *srv.aof.files.lock() = Files { written: offset, ..files };
    srv.aof.written.store(offset, Ordering::Release);
    let always = settings.appendfsync == "always";
    srv.aof.always.store(always, Ordering::Relaxed);
    srv.journal.set_aof(true, settings.aof_timestamp_enabled);
    srv.aof.enabled.store(true, Ordering::Release);
    let gen = srv.aof.generation.fetch_add(1, Ordering::AcqRel) + 1;
    let srv = srv.clone();
    std::thread::Builder::new().name("ferrokv-aof".into()).spawn(move || writer(&srv, gen)).expect("spawn AOF writer");
}

/// The writer thread: appends what the stream collected, fsyncs per `appendfsync`.
fn writer(srv: &Server, gen: u64) {
    let mut last_fsync = Instant::now();
    let mut unsynced = false;
    let mut seen = 0;
    while srv.aof.generation.load(Ordering::Acquire) == gen {
        let always = srv.aof.always.load(Ordering::Relaxed);
        if always {
            // The workers commit before they sleep (`before_park`); this covers one
            // that stays busy, or a commit skipped while a rewrite held the files.
            std::thread::sleep(Duration::from_millis(10));
            let now = srv.aof.fsynced.load(Ordering::Acquire);
            if std::mem::replace(&mut seen, now) == now && srv.aof.unsynced(srv) {
                srv.aof.commit(srv);
            }
            unsynced = false;
            continue;
        }
        srv.journal.wait_aof(Duration::from_millis(10));
        let (file, offset) = {
            let mut f = srv.aof.files.lock();
            let (buf, offset) = srv.journal.take_aof();
            if !buf.is_empty() || !f.pending.is_empty() {
                flush_locked(srv, &mut f, buf, offset);
                unsynced = true;
            } else {
                f.written = offset;
                srv.aof.written.fetch_max(offset, Ordering::AcqRel);
            }
            (f.incr.clone(), f.written)
        };
        let policy_due = match srv.config.settings().appendfsync.as_str() {
            "always" => true,
            "everysec" => last_fsync.elapsed() >= Duration::from_secs(1),
            _ => false,
        };
        if unsynced && policy_due {
            if let Some(file) = file {
                // EBADF and EINVAL say the file cannot be fsynced at all (a pipe, a
                // device), not that data was lost: Redis lets them pass too.
                let r = file.sync_data().or_else(|e| match e.raw_os_error() {
                    Some(libc::EBADF | libc::EINVAL) => Ok(()),
                    _ => Err(e),
                });
                if let Err(e) = r {
                    if always {
                        fsync_always_failed(&e);
                    }
                    let errno = e.raw_os_error().unwrap_or(libc::EIO);
                    if srv.aof.fsync_errno.swap(errno, Ordering::Relaxed) == 0 {
                        tracing::warn!("Fail to fsync the AOF file: {}", crate::util::strerror(&e));
                    }
                    continue;
                }
                srv.aof.fsync_errno.store(0, Ordering::Relaxed);
            }
            last_fsync = Instant::now();
            unsynced = false;
        }
        if !unsynced || !always {
            srv.aof.fsynced.fetch_max(offset, Ordering::AcqRel);
            srv.aof.synced.notify_waiters();
        }
    }
}

/// Appends `buf` (after anything that failed before) to the incr file.
fn flush_locked(srv: &Server, f: &mut Files, buf: Vec<u8>, offset: u64) {
    let data = if f.pending.is_empty() {
        buf
    } else {
        let mut p = std::mem::take(&mut f.pending);
        p.extend_from_slice(&buf);
        p
    };
    let Some(file) = f.incr.as_ref() else { return };
    let mut done = 0;
    let result = loop {
        if done == data.len() {
            break Ok(());
        }
        match (&**file).write(&data[done..]) {
            Ok(0) => break Err(io::Error::from_raw_os_error(libc::ENOSPC)),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(()) => {
            srv.aof.current_size.fetch_add(data.len() as u64, Ordering::Relaxed);
            if !srv.aof.last_write_ok.swap(true, Ordering::Relaxed) {
                tracing::info!("AOF write error looks solved, Redis can write again.");
            }
            f.written = offset;
            srv.aof.written.fetch_max(offset, Ordering::AcqRel);
        }
        Err(e) => {
            let text = crate::util::strerror(&e);
            if srv.aof.always.load(Ordering::Relaxed) {
                // The replies of these writes may be out already (reads observed
                // them too): with the promise of `always` broken, stop, as Redis does.
                tracing::warn!("Error writing to the AOF file: {text}");
                tracing::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            srv.aof.last_write_errno.store(e.raw_os_error().unwrap_or(libc::EIO), Ordering::Relaxed);
            if srv.aof.last_write_ok.swap(false, Ordering::Relaxed) {
                tracing::warn!("Error writing to the AOF file: {text}");
            }
            // A partial write is cut off, so the retry appends whole commands; where
            // that fails, the retry starts after what did reach the file.
            let mut keep = 0;
            if done > 0 {
                let cut = file.metadata().and_then(|m| file.set_len(m.len().saturating_sub(done as u64)));
                if cut.is_err() {
                    keep = done;
                    srv.aof.current_size.fetch_add(done as u64, Ordering::Relaxed);
                }
            }
            f.pending = data[keep..].to_vec();
        }
    }
}

/// Writes out whatever is waiting and fsyncs (SHUTDOWN, turning the AOF off).
pub fn flush_and_sync(srv: &Server) {
    if !srv.aof.enabled.load(Ordering::Acquire) {
        return;
    }
    let mut f = srv.aof.files.lock();
    let (buf, offset) = srv.journal.take_aof();
    flush_locked(srv, &mut f, buf, offset);
    if let Some(file) = f.incr.as_ref() {
        tracing::info!("Calling fsync() on the AOF file.");
        let _ = file.sync_all();
    }
    srv.aof.fsynced.fetch_max(f.written, Ordering::AcqRel);
    srv.aof.synced.notify_waiters();
}

/// Loads one file of the AOF: an RDB image when it starts with one, then RESP commands.
fn load_file(srv: &Server, path: &Path, name: &str, last: bool) -> Result<(), LoadError> {
    let mut start = 0;
    if aof_scan::file_has_rdb_preamble(path).unwrap_or(false) {
        tracing::info!("Reading RDB base file on AOF loading...");
        let data = std::fs::read(path).map_err(|e| LoadError(format!("Can't read the AOF file {name}: {e}")))?;
        let settings = srv.config.settings();
        let lim = crate::persistence::load::Limits::from_settings(&settings);
        let now = crate::util::now_ms();
        match crate::persistence::load::load_parallel(srv, &data, &lim, now) {
            Ok(sum) => {
                crate::persistence::load::log_summary(&sum, now);
                start = sum.end;
            }
            Err(c) => {
                return Err(LoadError(format!(
                    "Bad file format reading the append only file {name}: the RDB part is corrupt at offset {} ({}). Make a backup of your AOF file, then use ferrokv-check-aof --fix <filename.manifest>",
                    c.offset, c.msg
                )))
            }
        }
        if start as u64 >= file_size(path) {
            return Ok(());
        }
    }
    replay(srv, path, name, start as u64, last)
}

/// A client that replays commands (no connection, always authenticated).
fn replay_client(srv: &Server) -> crate::net::client::Client {
    crate::net::client::Client::internal(srv, "aof".into())
}

/// Commands for a replay worker: (database, arguments), in file order.
type Batch = Vec<(usize, Vec<Vec<u8>>)>;

/// A worker's share of one block of the file, without copying it: each command is
/// its database and a range of `args`, the byte ranges of its arguments in `data`.
struct Block {
    data: Arc<Vec<u8>>,
    cmds: Vec<(usize, std::ops::Range<usize>)>,
    args: Vec<(usize, usize)>,
}

impl Block {
    fn empty(data: Arc<Vec<u8>>) -> Block {
        Block { data, cmds: Vec::new(), args: Vec::new() }
    }

    /// The commands collected so far, leaving this block empty on the same data.
    fn take(&mut self) -> Block {
        let empty = Block::empty(self.data.clone());
        std::mem::replace(self, empty)
    }
}

enum Work {
    Run(Batch),
    Block(Block),
    /// Everything sent before is done once this is acknowledged.
    Sync(std::sync::mpsc::Sender<()>),
}

/// The worker that owns `key`'s shard when the command touches that one key only;
/// None for anything else (several keys, whole-keyspace commands, transactions).
fn single_key_route(def: &crate::commands::CommandDef, args: &[&[u8]], workers: usize) -> Option<usize> {
    use crate::commands::table::Lock;
    let (first, last, _) = def.keys;
    if !matches!(def.lock, Lock::Keys) || !def.subcommands.is_empty() || first <= 0 || args.len() <= first as usize {
        return None;
    }
    let last = if last < 0 { args.len() as i32 + last } else { last };
    if last != first || matches!(def.name, "multi" | "exec" | "select") {
        return None;
    }
    let shard = crate::keyspace::shard_of(crate::keyspace::hash_key(args[first as usize]));
    Some(shard % workers)
}

/// The replay's dispatcher: commands on a single key go to the worker owning its
/// shard (so per-key order is the file's order); anything else first waits for the
/// workers to drain and then runs on this thread, in order.
struct Replayer<'a> {
    srv: &'a Server,
    txs: Vec<std::sync::mpsc::SyncSender<Work>>,
    client: crate::net::client::Client,
    out: ferrokv_protocol::ReplyBuf,
    /// The offset of a MULTI whose EXEC has not been read yet.
    multi_at: Option<u64>,
    /// Work was sent since the workers last drained.
    pending: bool,
    batches: Vec<Batch>,
    blocks: Vec<Block>,
}

impl Replayer<'_> {
    fn workers(&self) -> usize {
        self.txs.len()
    }

    /// Sends what is collected for the workers (blocks keep their data alive).
    fn flush(&mut self) {
        for (w, b) in self.batches.iter_mut().enumerate() {
            if !b.is_empty() {
                let _ = self.txs[w].send(Work::Run(std::mem::take(b)));
            }
        }
        for (w, b) in self.blocks.iter_mut().enumerate() {
            if !b.cmds.is_empty() {
                let _ = self.txs[w].send(Work::Block(b.take()));
            }
        }
    }

    /// Waits until every worker has run everything sent to it.
    fn drain(&mut self) {
        self.flush();
        if !self.pending {
            return;
        }
        let (ack_tx, ack_rx) = std::sync::mpsc::channel();
        for tx in &self.txs {
            let _ = tx.send(Work::Sync(ack_tx.clone()));
        }
        for _ in 0..self.txs.len() {
            let _ = ack_rx.recv();
        }
        self.pending = false;
    }

    /// The worker for this command, unless it must run here (in a transaction, or
    /// not on a single key).
    fn route(&self, def: &crate::commands::CommandDef, args: &[&[u8]]) -> Option<usize> {
        if self.multi_at.is_some() {
            return None;
        }
        single_key_route(def, args, self.workers())
    }

    /// Runs a command here, after everything before it.
    fn here(&mut self, args: &[&[u8]], offset: u64) {
        self.drain();
        if args[0].eq_ignore_ascii_case(b"multi") {
            self.multi_at = Some(offset);
        } else if args[0].eq_ignore_ascii_case(b"exec") {
            self.multi_at = None;
        }
        crate::commands::execute(self.srv, &mut self.client, &mut self.out, args, crate::util::now_ms());
        self.out.buf.clear();
    }

    /// Replays the well-formed commands of the file from `start` in blocks read
    /// straight into memory and shared with the workers (no copy per argument).
    /// Returns where it stopped: the end of the file, or an entry that is not a
    /// plain known command (a truncated or corrupt one, say), which the scanner then
    /// reads to report it exactly.
    fn fast(&mut self, path: &Path, start: u64) -> io::Result<u64> {
        use std::io::{Read, Seek, SeekFrom};
        const BLOCK: usize = 8 << 20;
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(start))?;
        let limits = ferrokv_protocol::Limits { max_bulk_len: i64::MAX, authenticated: true };
        let (mut ranges, mut owned) = (Vec::new(), Vec::new());
        // `data[pos..]` is unread; `base` is the file offset of `data[0]`.
        let mut data: Arc<Vec<u8>> = Arc::new(Vec::new());
        let (mut base, mut pos) = (start, 0usize);
        let mut eof = false;
        loop {
            let parsed = match data.get(pos) {
                None => None,
                Some(b'#') => match memchr::memchr(b'\n', &data[pos..]) {
                    Some(nl) => {
                        pos += nl + 1;
                        continue;
                    }
                    None => None,
                },
                Some(b'*') => match ferrokv_protocol::parse_command(&data[pos..], &mut ranges, &mut owned, limits) {
                    Ok(Some((_, _))) if ranges.is_empty() => return Ok(base + pos as u64),
                    Ok(Some((n, _))) => Some(n),
                    Ok(None) => None,
                    Err(_) => return Ok(base + pos as u64),
                },
                Some(_) => return Ok(base + pos as u64),
            };
            let Some(n) = parsed else {
                if eof {
                    return Ok(base + pos as u64);
                }
                // The rest of this block starts the next one.
                self.flush();
                // (Growing with the unfinished entry, so a huge one is copied O(log n) times.)
                let want = BLOCK.max(data.len() - pos);
                let mut next = Vec::with_capacity(data.len() - pos + want);
                next.extend_from_slice(&data[pos..]);
                let got = (&mut file).take(want as u64).read_to_end(&mut next)?;
                eof = got < want;
                base += pos as u64;
                pos = 0;
                data = Arc::new(next);
                for b in &mut self.blocks {
                    b.data = data.clone();
                }
                continue;
            };
            let args: smallvec::SmallVec<[&[u8]; 8]> = ranges.iter().map(|&(a, b)| &data[pos + a..pos + b]).collect();
            let Some(def) = crate::commands::table::lookup(args[0]) else { return Ok(base + pos as u64) };
            match self.route(def, &args) {
                Some(w) => {
                    let b = &mut self.blocks[w];
                    let first = b.args.len();
                    b.args.extend(ranges.iter().map(|&(a, e)| (pos + a, pos + e)));
                    b.cmds.push((self.client.db, first..b.args.len()));
                    self.pending = true;
                    if b.cmds.len() >= 256 {
                        let _ = self.txs[w].send(Work::Block(b.take()));
                    }
                }
                None => {
                    let offset = base + pos as u64;
                    self.here(&args, offset);
                }
            }
            pos += n;
        }
    }
}

/// Runs the commands of a RESP AOF file, as a client would, from `start`, on worker
/// threads that each own a share of the shards (see [`Replayer`]).
fn replay(srv: &Server, path: &Path, name: &str, start: u64, last: bool) -> Result<(), LoadError> {
    let open_err = |e: io::Error| LoadError(format!("Can't open the append-only file {name}: {e}"));
    let workers = std::env::var("FERROKV_REPLAY_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4));
    std::thread::scope(|sc| {
        let mut txs = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(32);
            txs.push(tx);
            sc.spawn(move || {
                let mut client = replay_client(srv);
                let mut out = ferrokv_protocol::ReplyBuf::new();
                let mut run = |db: usize, args: &[&[u8]]| {
                    client.db = db;
                    crate::commands::execute(srv, &mut client, &mut out, args, crate::util::now_ms());
                    out.buf.clear();
                };
                for w in rx {
                    match w {
                        Work::Run(batch) => {
                            for (db, args) in batch {
                                let refs: smallvec::SmallVec<[&[u8]; 8]> = args.iter().map(|a| a.as_slice()).collect();
                                run(db, &refs);
                            }
                        }
                        Work::Block(b) => {
                            for (db, r) in &b.cmds {
                                let refs: smallvec::SmallVec<[&[u8]; 8]> = b.args[r.clone()].iter().map(|&(s, e)| &b.data[s..e]).collect();
                                run(*db, &refs);
                            }
                        }
                        Work::Sync(ack) => {
                            let _ = ack.send(());
                        }
                    }
                }
            });
        }
        let empty = Arc::new(Vec::new());
        let mut rp = Replayer {
            srv,
            txs,
            client: replay_client(srv),
            out: ferrokv_protocol::ReplyBuf::new(),
            multi_at: None,
            pending: false,
            batches: (0..workers).map(|_| Vec::new()).collect(),
            blocks: (0..workers).map(|_| Block::empty(empty.clone())).collect(),
        };
        let resume = rp.fast(path, start).map_err(open_err)?;
        let mut scan = AofScanner::open(path, resume).map_err(open_err)?;
        let res = loop {
            match scan.next_entry() {
                Ok(None) => break Ok(()),
                Ok(Some(Entry::Annotation { .. })) => {}
                Ok(Some(Entry::Command { offset, args, .. })) => {
                    let Some(def) = crate::commands::table::lookup(&args[0]) else {
                        break Err(LoadError(format!(
                            "Unknown command '{}' reading the append only file {name}",
                            String::from_utf8_lossy(&args[0])
                        )));
                    };
                    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                    match rp.route(def, &refs) {
                        Some(w) => {
                            drop(refs);
                            rp.batches[w].push((rp.client.db, args));
                            rp.pending = true;
                            if rp.batches[w].len() >= 128 {
                                rp.flush();
                            }
                        }
                        None => rp.here(&refs, offset),
                    }
                }
                Err(e) if e.kind == ErrorKind::Truncated => {
                    let settings = srv.config.settings();
                    if !(last && settings.aof_load_truncated) {
                        break Err(LoadError(format!(
                            "Unexpected end of file reading the append only file {name} (offset {}). You can: 1) Make a backup of your AOF file, then use ferrokv-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                            e.entry_start
                        )));
                    }
                    tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
                    tracing::warn!("!!! Truncating the AOF {name} at offset {} !!!", e.entry_start);
                    if let Err(e) = truncate(path, e.entry_start) {
                        break Err(e);
                    }
                    tracing::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                    break Ok(());
                }
                Err(e) => {
                    break Err(LoadError(format!(
                        "Bad file format reading the append only file {name} at offset {}: make a backup of your AOF file, then use ferrokv-check-aof --fix <filename.manifest> (or ferrokv-check-aof --list to see where it breaks)",
                        e.offset
                    )));
                }
            }
        };
        rp.drain();
        let multi_at = rp.multi_at;
        drop(rp);
        res?;
        if let Some(at) = multi_at {
            // A transaction the file ends inside never ran (its commands stayed queued).
            if !srv.config.settings().aof_load_truncated || !last {
                return Err(LoadError(format!(
                    "Unexpected end of file reading the append only file {name}: a MULTI at offset {at} has no EXEC"
                )));
            }
            tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
            truncate(path, at)?;
        }
        Ok(())
    })
}

fn truncate(path: &Path, len: u64) -> Result<(), LoadError> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .map_err(|e| LoadError(format!("Error truncating the AOF file {}: {e}", path.display())))
}

/// BGREWRITEAOF (and the automatic rewrite, and turning the AOF on): a forkless
/// snapshot becomes the new base, and the incr file switches at its point.
pub fn rewrite(srv: &Arc<Server>, turn_on: bool) -> Result<(), &'static str> {
    if srv.rdb.running().is_some() {
        return Err("busy");
    }
    let srv2 = srv.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("ferrokv-aofrw".into())
        .spawn(move || {
            let started = Instant::now();
            // Held until the outcome is recorded: INFO shows the rewrite in progress
            // until the new base is in place, and no other snapshot starts meanwhile.
            let mut busy = None;
            let ok = rewrite_now(&srv2, turn_on, &mut busy, |ok| {
                if ok {
                    // Counted when it starts, as Redis does.
                    srv2.aof.rewrites.fetch_add(1, Ordering::Relaxed);
                }
                let _ = tx.send(ok);
            });
            match ok {
                Ok(true) => {
                    srv2.aof.last_rewrite_ok.store(true, Ordering::Relaxed);
                    srv2.aof.consecutive_failures.store(0, Ordering::Relaxed);
                    srv2.aof.last_rewrite_time_sec.store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
                    tracing::info!("Background AOF rewrite finished successfully");
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("Background AOF rewrite failed: {e}");
                    srv2.aof.last_rewrite_ok.store(false, Ordering::Relaxed);
                    srv2.aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(busy);
        })
        .map_err(|_| "spawn")?;
    match rx.recv() {
        Ok(true) => Ok(()),
        _ => Err("busy"),
    }
}

/// The rewrite on the calling thread. Turning the AOF on, the point also starts
/// collection, so nothing written after the base is missed.
fn rewrite_now<'a>(
    srv: &'a Arc<Server>,
    turn_on: bool,
    busy: &mut Option<snapshot::Busy<'a>>,
    on_point: impl FnOnce(bool),
) -> Result<bool, String> {
    let (dir, name) = dir_of(srv);
    std::fs::create_dir_all(&dir).map_err(|e| format!("Can't create the append-only dir: {e}"))?;
    let tmp = format!("temp-rewriteaof-bg-{}.aof", std::process::id());
    let file = File::create(dir.join(&tmp)).map_err(|e| format!("Opening the temp file for AOF rewrite: {e}"))?;
    let enabled = srv.aof.enabled.load(Ordering::Acquire);
    let mut switch_err = None;
    let target = Target::File(io::BufWriter::with_capacity(1 << 16, file));
    let preamble = srv.config.settings().aof_use_rdb_preamble;
    let format = if preamble { snapshot::Format::Rdb } else { snapshot::Format::Commands };
    let Some(snap) = snapshot::begin_as(srv, Job::AofRewrite, target, format, true, false, || {
        if enabled || turn_on {
            if let Err(e) = switch_incr(srv, &dir, &name, !enabled) {
                switch_err = Some(e);
            }
        }
    }) else {
        let _ = std::fs::remove_file(dir.join(&tmp));
        on_point(false);
        return Ok(false);
    };
    on_point(true);
    tracing::info!("Background append only file rewriting started by pid {}", std::process::id());
    let (written, held) = snap.complete_held(srv);
    *busy = Some(held);
    if let Some(e) = switch_err {
        let _ = std::fs::remove_file(dir.join(&tmp));
        return Err(e);
    }
    let res = written.and_then(|t| match t {
        Target::File(f) => f.into_inner().map_err(|e| e.into_error())?.sync_all(),
        Target::Mem(_) => Ok(()),
    });
    if let Err(e) = res {
        let _ = std::fs::remove_file(dir.join(&tmp));
        return Err(e.to_string());
    }
    tracing::info!("Successfully created the temporary AOF base file {tmp}");
    let mut f = srv.aof.files.lock();
    let live = srv.aof.enabled.load(Ordering::Acquire);
    if !live {
        // BGREWRITEAOF with the AOF off: the files on disk get the new base.
        f.dir = dir.clone();
        f.name = name.clone();
        f.manifest =
            std::fs::read(dir.join(manifest::manifest_name(&name))).ok().and_then(|t| Manifest::parse(&t).ok()).unwrap_or_default();
    }
    let base = f.manifest.new_base(&name, preamble);
    std::fs::rename(dir.join(&tmp), dir.join(&base))
        .map_err(|e| format!("Error trying to rename the temporary AOF base file {tmp} into {base}: {e}"))?;
    tracing::info!("Successfully renamed the temporary AOF base file {tmp} into {base}");
    f.manifest.mark_rewritten_incrs_as_history(live);
    persist_manifest(&f).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    for h in std::mem::take(&mut f.manifest.history) {
        tracing::info!("Removing the history file {} in the background", h.name);
        let _ = std::fs::remove_file(dir.join(&h.name));
    }
    persist_manifest(&f).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    let base_size = file_size(&dir.join(&base));
    let incr_size = f.manifest.incrs.iter().map(|i| file_size(&dir.join(&i.name))).sum::<u64>();
    srv.aof.base_size.store(base_size, Ordering::Relaxed);
    srv.aof.current_size.store(base_size + incr_size, Ordering::Relaxed);
    tracing::info!("Background AOF rewrite terminated with success");
    Ok(true)
}

/// At the rewrite's point (every shard locked): what was collected goes to the old
/// incr file, and a new incr file takes everything after.
fn switch_incr(srv: &Arc<Server>, dir: &Path, name: &str, enabling: bool) -> Result<(), String> {
    if enabling {
        let mpath = dir.join(manifest::manifest_name(name));
        let manifest = match std::fs::read(&mpath) {
            Ok(t) => Manifest::parse(&t).map_err(|e| e.log_lines().join("; "))?,
            Err(_) => Manifest::new(),
        };
        let mut files = Files { dir: dir.to_path_buf(), name: name.to_string(), manifest, ..Files::default() };
        let incr = files.manifest.new_incr(name);
        tracing::info!("Creating AOF incr file {incr} on background rewrite");
        files.incr = Some(Arc::new(open_append(&dir.join(&incr)).map_err(|e| e.to_string())?));
        persist_manifest(&files).map_err(|e| e.to_string())?;
        start(srv, files);
        return Ok(());
    }
    let mut f = srv.aof.files.lock();
    let (buf, offset) = srv.journal.take_aof();
    flush_locked(srv, &mut f, buf, offset);
    let incr = f.manifest.new_incr(name);
    tracing::info!("Creating AOF incr file {incr} on background rewrite");
    f.incr = Some(Arc::new(open_append(&dir.join(&incr)).map_err(|e| e.to_string())?));
    persist_manifest(&f).map_err(|e| e.to_string())?;
    srv.journal.reselect();
    Ok(())
}

/// Turns the AOF off (CONFIG SET appendonly no): flushed, fsynced, closed.
pub fn stop(srv: &Server) {
    if !srv.aof.enabled.load(Ordering::Acquire) {
        return;
    }
    flush_and_sync(srv);
    srv.journal.set_aof(false, false);
    srv.aof.enabled.store(false, Ordering::Release);
    srv.aof.generation.fetch_add(1, Ordering::AcqRel);
    srv.aof.always.store(false, Ordering::Relaxed);
    srv.aof.synced.notify_waiters();
    srv.aof.files.lock().incr = None;
}

/// Applies a changed `appendfsync` to a running AOF.
pub fn fsync_policy_changed(srv: &Server) {
    if srv.aof.enabled.load(Ordering::Acquire) {
        let always = srv.config.settings().appendfsync == "always";
        srv.aof.always.store(always, Ordering::Relaxed);
    }
}

/// The cron's automatic rewrite: when the AOF grew `auto-aof-rewrite-percentage` past
/// its size after the last rewrite, and is at least `auto-aof-rewrite-min-size`.
pub fn cron(srv: &Arc<Server>) {
    if srv.rdb.running().is_some() {
        return;
    }
    if srv.aof.turn_on_scheduled.swap(false, Ordering::Relaxed) {
        if srv.config.settings().appendonly {
            let _ = set_enabled(srv, true);
        }
        return;
    }
    if srv.aof.scheduled.swap(false, Ordering::Relaxed) {
        let _ = rewrite(srv, false);
        return;
    }
    if !srv.aof.enabled.load(Ordering::Acquire) {
        return;
    }
    let s = srv.config.settings();
    let (cur, base) = (srv.aof.current_size.load(Ordering::Relaxed), srv.aof.base_size.load(Ordering::Relaxed).max(1));
    if s.auto_aof_rewrite_percentage > 0 && cur > s.auto_aof_rewrite_min_size {
        let growth = (cur.saturating_sub(base)) * 100 / base;
        if growth >= s.auto_aof_rewrite_percentage {
            tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
            let _ = rewrite(srv, false);
        }
    }
}

/// BGREWRITEAOF's reply, as Redis words it.
pub fn bgrewriteaof(srv: &Arc<Server>, in_exec: bool) -> Result<&'static str, &'static str> {
    match srv.rdb.running() {
        Some(Job::AofRewrite) => Err("ERR Background append only file rewriting already in progress"),
        Some(_) => {
            srv.aof.scheduled.store(true, Ordering::Relaxed);
            Ok("Background append only file rewriting scheduled")
        }
        None if in_exec => {
            srv.aof.scheduled.store(true, Ordering::Relaxed);
            Ok("Background append only file rewriting scheduled")
        }
        None => match rewrite(srv, false) {
            Ok(()) => Ok("Background append only file rewriting started"),
            Err(_) => Err("ERR Can't execute an AOF background rewriting. Please check the server logs for more information."),
        },
    }
}

/// CONFIG SET appendonly yes|no at run time.
pub fn set_enabled(srv: &Arc<Server>, on: bool) -> Result<(), String> {
    if on == srv.aof.enabled.load(Ordering::Acquire) {
        return Ok(());
    }
    if !on {
        stop(srv);
        return Ok(());
    }
    // Like Redis: the AOF starts with a rewrite, which becomes its base.
    while srv.rdb.running().is_some() {
        std::thread::sleep(Duration::from_millis(10));
    }
    rewrite(srv, true).map_err(|_| "Unable to turn on AOF. Check server logs.".to_string())
}

/// After a replica loaded its master's dataset: the AOF still describes the old one,
/// so it starts over from a rewrite of what was loaded (Redis's
/// `restartAOFAfterSYNC`); if that cannot start now, the cron retries it.
pub fn restart_after_sync(srv: &Arc<Server>) {
    if !srv.aof.enabled.load(Ordering::Acquire) {
        return;
    }
    stop(srv);
    if set_enabled(srv, true).is_err() {
        tracing::warn!("Failed to restart AOF after a full sync with the master: will retry.");
        srv.aof.turn_on_scheduled.store(true, Ordering::Relaxed);
    }
}

/// Commands that rebuild every live key of a shard (the AOF form of a snapshot):
/// SET, RPUSH, SADD, ZADD, HSET (at most 64 elements per command, as Redis batches
/// them), then PEXPIREAT for keys with a TTL. Returns how many keys were written.
pub fn write_shard_commands(out: &mut Vec<u8>, shard: &crate::keyspace::Shard, now_ms: u64) -> u64 {
    use crate::journal::encode;
    use crate::keyspace::Value;
    const BATCH: usize = 64;
    let mut n = 0;
    let mut nb = itoa::Buffer::new();
    for e in shard.dict.iter() {
        if (e.expire_at != 0 && e.expire_at <= now_ms) || (e.value.is_empty() && !matches!(e.value, Value::Str(_))) {
            continue;
        }
        let key: &[u8] = &e.key;
        let mut items: Vec<Vec<u8>> = Vec::new();
        let cmd: &[u8] = match &e.value {
            Value::Str(b) => {
                encode(out, &[b"SET", key, b]);
                b""
            }
            Value::List(l) => {
                items.extend(l.iter().map(|it| it.bytes(&mut nb).to_vec()));
                b"RPUSH"
            }
            Value::Set(s) => {
                items.extend(s.iter().map(|it| it.bytes(&mut nb).to_vec()));
                b"SADD"
            }
            Value::ZSet(z) => {
                z.visit(0, false, |m, s| {
                    items.push(crate::persistence::rdb::score_text(s).into_bytes());
                    items.push(m.to_vec());
                    true
                });
                b"ZADD"
            }
            Value::Hash(h) => {
                h.for_each(|f, v| {
                    items.push(f.to_vec());
                    items.push(v.to_vec());
                });
                b"HSET"
            }
        };
        let per = if matches!(e.value, Value::ZSet(_) | Value::Hash(_)) { 2 * BATCH } else { BATCH };
        for chunk in items.chunks(per) {
            let mut args: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 2);
            args.push(cmd);
            args.push(key);
            args.extend(chunk.iter().map(|c| c.as_slice()));
            encode(out, &args);
        }
        if e.expire_at != 0 {
            encode(out, &[b"PEXPIREAT", key, nb.format(e.expire_at).as_bytes()]);
        }
        n += 1;
    }
    n
}
