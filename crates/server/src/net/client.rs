//! Per-connection state. `Client` is owned by the connection's task; `ClientShared` is
//! the part other connections may read or poke (CLIENT LIST, CLIENT KILL).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::Settings;

pub struct ClientShared {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created: Instant,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub db: AtomicUsize,
    /// Unix ms of the last command.
    pub last_interaction: AtomicU64,
    /// Command-table id of the last command (+1; 0 = none yet).
    pub last_cmd: AtomicUsize,
    pub resp: AtomicUsize,
    pub qbuf: AtomicUsize,
    pub omem: AtomicUsize,
    pub monitor: AtomicBool,
    pub killed: AtomicBool,
    pub kill: Notify,
    pub user_authenticated: AtomicBool,
    /// Waiting in a blocking command (flag `b` in CLIENT LIST).
    pub blocked: AtomicBool,
    /// Subscription counts (channels, patterns, shard channels) for CLIENT LIST.
    pub subs: [AtomicUsize; 3],
}

impl ClientShared {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32) -> ClientShared {
        ClientShared {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            db: AtomicUsize::new(0),
            last_interaction: AtomicU64::new(crate::util::now_ms()),
            last_cmd: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            qbuf: AtomicUsize::new(0),
            omem: AtomicUsize::new(0),
            monitor: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            user_authenticated: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            subs: Default::default(),
        }
    }

    pub fn request_kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis 7.2's fields in its order.
    pub fn info_line(&self) -> String {
        let now = crate::util::now_ms();
        let age = self.created.elapsed().as_secs();
        let idle = now.saturating_sub(self.last_interaction.load(Ordering::Relaxed)) / 1000;
        let flags = if self.monitor.load(Ordering::Relaxed) {
            "O"
        } else if self.blocked.load(Ordering::Relaxed) {
            "b"
        } else if self.subs.iter().any(|s| s.load(Ordering::Relaxed) > 0) {
            "P"
        } else {
            "N"
        };
        let cmd = match self.last_cmd.load(Ordering::Relaxed) {
            0 => "NULL".to_string(),
            n => crate::commands::table::registry().all[n - 1].name.to_string(),
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.lock(),
            age,
            idle,
            flags,
            self.db.load(Ordering::Relaxed),
            self.subs[0].load(Ordering::Relaxed),
            self.subs[1].load(Ordering::Relaxed),
            self.subs[2].load(Ordering::Relaxed),
            self.qbuf.load(Ordering::Relaxed),
            self.omem.load(Ordering::Relaxed),
            cmd,
            self.resp.load(Ordering::Relaxed),
            self.lib_name.lock(),
            self.lib_ver.lock(),
        )
    }
}

/// CLIENT REPLY state, with Redis's three flags: OFF, SKIP (this command's reply is
/// dropped) and SKIP_NEXT (set by CLIENT REPLY SKIP, becomes SKIP for the next command).
#[derive(Clone, Copy, Default, Debug)]
pub struct ReplyFlags {
    pub off: bool,
    pub skip: bool,
    pub skip_next: bool,
}

pub struct Client {
    pub shared: Arc<ClientShared>,
    pub db: usize,
    pub authenticated: bool,
    pub no_touch: bool,
    pub no_evict: bool,
    pub reply: ReplyFlags,
    pub close_after_reply: bool,
    /// Set by MONITOR and SYNC: after this reply the connection forwards what arrives
    /// here (the monitor feed, the write stream) to the client.
    pub feed: Option<tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>>,
    pub settings: Arc<Settings>,
    pub settings_version: u64,
    /// The last top-level command run and its number: pipelines mostly repeat one
    /// command, and a name comparison is cheaper than a table lookup.
    pub last_command: Option<(&'static crate::commands::CommandDef, usize)>,
    /// Set by a blocking command that found nothing: the connection blocks on these keys.
    pub block: Option<crate::blocking::BlockSpec>,
    /// Keys this command wrote that blocked clients wait on (served after it).
    pub ready_keys: Vec<(usize, Vec<u8>)>,
    /// This is a blocked client's command re-run by the writer that woke it.
    pub serving_blocked: bool,
    /// Blocking commands answer at once instead of blocking (set by MULTI and scripts).
    pub no_block: bool,
    /// Commands queued since MULTI (`None` outside a transaction).
    pub multi: Option<Vec<Queued>>,
    /// A command was rejected while queueing: EXEC must fail with EXECABORT.
    pub multi_error: bool,
    pub watched: Vec<(usize, Vec<u8>)>,
    /// Set by writers of a watched key; EXEC then fails.
    pub watch_dirty: crate::watch::DirtyFlag,
    /// While EXEC runs, the effects its commands propagate, written to the stream as
    /// one MULTI ... EXEC unit at the end.
    pub capture: std::cell::RefCell<Option<Vec<Effect>>>,
    /// Channels, patterns and shard channels subscribed to, in subscription order.
    pub subscriptions: [Vec<Vec<u8>>; 3],
    pub subscriber: Option<Arc<crate::pubsub::Subscriber>>,
}

/// One propagated command: its database and arguments.
pub type Effect = (usize, Vec<Vec<u8>>);

/// A command queued inside MULTI.
pub struct Queued {
    pub def: &'static crate::commands::CommandDef,
    pub id: usize,
    pub args: Vec<Vec<u8>>,
}

impl Client {
    pub fn new(shared: Arc<ClientShared>, settings: Arc<Settings>, version: u64) -> Client {
        let authenticated = settings.requirepass.is_none();
        Client {
            shared,
            db: 0,
            authenticated,
            no_touch: false,
            no_evict: false,
            reply: ReplyFlags::default(),
            close_after_reply: false,
            feed: None,
            settings,
            settings_version: version,
            last_command: None,
            block: None,
            ready_keys: Vec::new(),
            serving_blocked: false,
            no_block: false,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_dirty: Default::default(),
            capture: Default::default(),
            subscriptions: Default::default(),
            subscriber: None,
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.shared.db.store(db, Ordering::Relaxed);
    }
}
