//! Lua scripting (EVAL, EVALSHA, SCRIPT) and Functions (FUNCTION, FCALL) on a real
//! Lua 5.1 (mlua, vendored), as Redis 7.2 runs them.
//!
//! Scripts run on the connection's own worker thread, in a Lua VM of that thread
//! (created on first use, so a server that never runs a script pays nothing): the
//! script cache and the function libraries are shared, each VM compiles what it
//! meets. A script holds the shard locks of its declared KEYS for its whole run, so
//! no client on any core sees it half done; a key it did not declare is locked when
//! first touched (see [`call`]). Its writes reach the write stream as one
//! MULTI ... EXEC unit of the commands it ran (effects replication).

pub mod call;
pub mod convert;
pub mod library;
pub mod run;
pub mod vm;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

/// Flags a script declares in its `#!lua flags=...` line (or a function in
/// `register_function`), as Redis names them.
pub mod flags {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// A script without a shebang: Redis's backwards-compatible mode.
    pub const EVAL_COMPAT: u32 = 1 << 5;

    pub const NAMES: &[(u32, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    pub fn by_name(name: &str) -> Option<u32> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }
}

/// One cached EVAL script.
pub struct Script {
    pub body: Vec<u8>,
    pub flags: u32,
    /// Bytes of the shebang line (kept out of the compiled chunk, newline kept so
    /// line numbers stay the user's).
    pub shebang_len: usize,
}

/// A script past `busy-reply-threshold`: other clients get -BUSY until it ends.
pub struct Busy {
    pub client_id: u64,
    pub eval: bool,
    pub name: String,
    /// The EVAL/FCALL command as the client sent it (FUNCTION STATS).
    pub command: Vec<Vec<u8>>,
    pub started: Instant,
    /// It wrote: SCRIPT KILL cannot stop it any more.
    pub wrote: AtomicBool,
    pub kill: AtomicBool,
    /// It runs on behalf of our master (or the AOF): never killable.
    pub from_master: bool,
}

#[derive(Default)]
pub struct Scripts {
    cache: RwLock<HashMap<String, Arc<Script>>>,
    /// Bumped by SCRIPT FLUSH so every VM forgets what it compiled.
    pub epoch: AtomicU64,
    busy: Mutex<Vec<Arc<Busy>>>,
    busy_now: AtomicBool,
    /// Bytes of script bodies in the cache (INFO used_memory_scripts_eval).
    pub cache_bytes: AtomicU64,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may run `noscript` commands (tests).
    pub allow_noscript: AtomicBool,
}

/// SHA1 of `body` in lowercase hex, the name a script is cached under.
pub fn sha1_hex(body: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let d = Sha1::digest(body);
    let mut s = String::with_capacity(40);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Parses a `#!lua ...` first line into flags and its length; without a shebang the
/// script runs in compatibility mode. Errors are Redis's texts.
pub fn parse_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((flags::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else { return Err("Invalid script shebang".into()) };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts = ferrokv_protocol::split_args(line.as_bytes()).unwrap_or_default();
    let Some(engine) = parts.first() else { return Err("Invalid engine in script shebang".into()) };
    if engine != b"#!lua" {
        return Err(format!("Unexpected engine in script shebang: {}", String::from_utf8_lossy(engine)));
    }
    let mut f = 0;
    for p in &parts[1..] {
        let p = String::from_utf8_lossy(p);
        let Some(list) = p.strip_prefix("flags=") else { return Err(format!("Unknown lua shebang option: {p}")) };
        for name in list.split(',') {
            if name.is_empty() {
                continue;
            }
            f |= flags::by_name(name).ok_or_else(|| format!("Unexpected flag in script shebang: {name}"))?;
        }
    }
    Ok((f, end))
}

impl Scripts {
    pub fn get(&self, sha: &str) -> Option<Arc<Script>> {
        self.cache.read().get(sha).cloned()
    }

    /// Adds `body` to the cache (checking its shebang, not compiling it) and returns
    /// its SHA1 and entry.
    pub fn add(&self, body: &[u8]) -> Result<(String, Arc<Script>), String> {
        let sha = sha1_hex(body);
        if let Some(s) = self.get(&sha) {
            return Ok((sha, s));
        }
        let (flags, shebang_len) = parse_shebang(body)?;
        let s = Arc::new(Script { body: body.to_vec(), flags, shebang_len });
        let mut cache = self.cache.write();
        let e = cache.entry(sha.clone()).or_insert_with(|| {
            self.cache_bytes.fetch_add(body.len() as u64 + 40, Ordering::Relaxed);
            s
        });
        Ok((sha, e.clone()))
    }

    pub fn remove(&self, sha: &str) {
        if let Some(s) = self.cache.write().remove(sha) {
            self.cache_bytes.fetch_sub(s.body.len() as u64 + 40, Ordering::Relaxed);
        }
    }

    pub fn flush(&self) {
        self.cache.write().clear();
        self.cache_bytes.store(0, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::Release);
        vm::reset_all();
    }

    pub fn len(&self) -> usize {
        self.cache.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some script is past `busy-reply-threshold` (one atomic load: the
    /// dispatcher asks before every command).
    #[inline]
    pub fn busy(&self) -> bool {
        self.busy_now.load(Ordering::Relaxed)
    }

    /// The busy script other clients are told about (the oldest).
    pub fn busy_script(&self) -> Option<Arc<Busy>> {
        self.busy.lock().first().cloned()
    }

    pub fn enter_busy(&self, b: Arc<Busy>) {
        let mut v = self.busy.lock();
        v.push(b);
        self.busy_now.store(true, Ordering::Relaxed);
    }

    pub fn leave_busy(&self, b: &Arc<Busy>) {
        let mut v = self.busy.lock();
        v.retain(|x| !Arc::ptr_eq(x, b));
        self.busy_now.store(!v.is_empty(), Ordering::Relaxed);
    }
}

pub const BUSY_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The -BUSY error for a command another client sends while a script is busy, or
/// `None` when the command may run anyway.
pub fn busy_refusal(srv: &crate::server::Server, def: &crate::commands::CommandDef, client_id: u64) -> Option<&'static str> {
    if def.flags & crate::commands::table::ALLOW_BUSY != 0 {
        return None;
    }
    let b = srv.scripts.busy_script()?;
    if b.client_id == client_id {
        return None;
    }
    Some(if b.eval { BUSY_EVAL } else { BUSY_FUNCTION })
}

/// SCRIPT KILL / FUNCTION KILL.
pub fn kill(srv: &crate::server::Server, eval: bool) -> Result<(), &'static str> {
    let Some(b) = srv.scripts.busy_script() else { return Err("NOTBUSY No scripts in execution right now.") };
    if b.from_master {
        return Err("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.");
    }
    if b.wrote.load(Ordering::Acquire) {
        return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
    }
    if eval && !b.eval {
        return Err(BUSY_FUNCTION);
    }
    if !eval && b.eval {
        return Err(BUSY_EVAL);
    }
    b.kill.store(true, Ordering::Release);
    Ok(())
}
