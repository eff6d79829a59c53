//! Per-connection state. `Client` is owned by the connection's task; `ClientShared` is
//! the part other connections may read or poke (CLIENT LIST, CLIENT KILL).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
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
    /// A replica's link (after SYNC/PSYNC): flag `S`, CLIENT LIST/KILL TYPE replica.
    pub replica: AtomicBool,
    pub killed: AtomicBool,
    pub kill: Notify,
    pub user_authenticated: AtomicBool,
    /// Waiting in a blocking command (flag `b` in CLIENT LIST).
    pub blocked: AtomicBool,
    /// Subscription counts (channels, patterns, shard channels) for CLIENT LIST.
    pub subs: [AtomicUsize; 3],
    /// CLIENT TRACKING state (`tracking::ON`, `BCAST`, ...), its redirect client id
    /// (0 = none) and BCAST prefixes (sorted); writers on other connections read them.
    pub tracking: AtomicU32,
    pub redirect: AtomicU64,
    pub prefixes: Mutex<Vec<Vec<u8>>>,
    /// Out-of-band messages for this connection (tracking invalidations), created by
    /// the first sender; the connection adopts the receiver when woken.
    push: Mutex<PushQueue>,
}

#[derive(Default)]
struct PushQueue {
    tx: Option<tokio::sync::mpsc::UnboundedSender<bytes::Bytes>>,
    rx: Option<tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>>,
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
            replica: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            user_authenticated: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            subs: Default::default(),
            tracking: AtomicU32::new(0),
            redirect: AtomicU64::new(0),
            prefixes: Mutex::new(Vec::new()),
            push: Mutex::new(PushQueue::default()),
        }
    }

    /// Queues `msg` for this connection to write as soon as it can.
    pub fn push_message(&self, msg: bytes::Bytes) {
        let mut q = self.push.lock();
        if q.tx.is_none() {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            q.tx = Some(tx);
            q.rx = Some(rx);
            // The connection's task waits on `kill`; it tells a wake-up from a kill
            // by the `killed` flag and then adopts the new queue.
            self.kill.notify_one();
        }
        if let Some(tx) = &q.tx {
            let _ = tx.send(msg);
        }
    }

    /// The receiving end of the push queue, once, after it was created.
    pub fn take_push_queue(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>> {
        self.push.lock().rx.take()
    }

    /// Drops the push queue (disconnection), so no sender keeps it alive.
    pub fn close_push_queue(&self) {
        let mut q = self.push.lock();
        q.tx = None;
        q.rx = None;
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
        let tracking = self.tracking.load(Ordering::Relaxed);
        let mut flags = String::new();
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        } else if self.replica.load(Ordering::Relaxed) {
            flags.push('S');
        } else {
            // Redis's order: P b t R B.
            for (on, c) in [
                (self.subs.iter().any(|s| s.load(Ordering::Relaxed) > 0), 'P'),
                (self.blocked.load(Ordering::Relaxed), 'b'),
                (tracking & crate::tracking::ON != 0, 't'),
                (tracking & crate::tracking::BROKEN_REDIR != 0, 'R'),
                (tracking & crate::tracking::BCAST != 0, 'B'),
            ] {
                if on {
                    flags.push(c);
                }
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let redir = if tracking & crate::tracking::ON != 0 { self.redirect.load(Ordering::Relaxed) as i64 } else { -1 };
        let cmd = match self.last_cmd.load(Ordering::Relaxed) {
            0 => "NULL".to_string(),
            n => crate::commands::table::registry().all[n - 1].name.to_string(),
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir={} resp={} lib-name={} lib-ver={}",
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
            redir,
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
    /// Set by MONITOR: after this reply the connection forwards what arrives here.
    pub feed: Option<tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>>,
    /// Set by SYNC/PSYNC: after this reply the connection sends the write stream that
    /// collects here.
    pub stream_out: Option<Arc<crate::net::outbox::Outbox>>,
    /// After a diskless full sync the stream waits here for the replica's first ACK:
    /// bytes right behind the RDB's end mark would hide the mark from the reader.
    pub stream_held: Option<Arc<crate::net::outbox::Outbox>>,
    /// Set by SYNC/PSYNC for a full resync: the connection sends it (see
    /// `replication::send_full_sync`).
    pub full_sync: Option<crate::replication::FullSync>,
    /// The error this command returns is already in errorstats (a script ending with
    /// the error of a command it called).
    pub error_counted: bool,
    /// RESET of a MONITOR client: the connection drops its feed.
    pub stop_feed: bool,
    /// This connection is a replica's link (REPLCONF / SYNC / PSYNC).
    pub is_replica: bool,
    /// The client applying our master's stream (exempt from READONLY).
    pub is_master_link: bool,
    /// The stream offset after this client's last write (what WAIT waits for).
    pub woff: std::cell::Cell<u64>,
    /// WAIT that must block: (offset, replicas wanted, deadline in unix ms, 0 = none).
    pub wait: Option<(u64, usize, u64)>,
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
    pub capture: std::cell::RefCell<Option<crate::journal::Effects>>,
    /// Channels, patterns and shard channels subscribed to, in subscription order.
    pub subscriptions: [Vec<Vec<u8>>; 3],
    pub subscriber: Option<Arc<crate::net::outbox::Outbox>>,
    /// Where the pushes sent after this command's reply start in the output (CLIENT
    /// REPLY OFF drops the reply but not them).
    pub push_mark: Option<usize>,
}

/// A command queued inside MULTI.
pub struct Queued {
    pub def: &'static crate::commands::CommandDef,
    /// Its flags as the checks at EXEC see them (a script's own, see `SCRIPT_RUN`).
    pub flags: u32,
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
            stream_out: None,
            stream_held: None,
            full_sync: None,
            error_counted: false,
            stop_feed: false,
            is_replica: false,
            is_master_link: false,
            woff: std::cell::Cell::new(0),
            wait: None,
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
            push_mark: None,
        }
    }

    /// A client without a connection that runs commands on the server's behalf (AOF
    /// loading, a replica applying its master's stream): always authenticated.
    pub fn internal(srv: &crate::server::Server, addr: String) -> Client {
        let shared = Arc::new(ClientShared::new(0, addr, String::new(), -1));
        let mut client = Client::new(shared, srv.config.settings(), srv.config.version());
        client.authenticated = true;
        client
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.shared.db.store(db, Ordering::Relaxed);
    }
}
