//! Replication, master side: SYNC and PSYNC (full resync from a forkless snapshot, or
//! partial from the backlog), REPLCONF, ROLE and the replica registry INFO reports.
//! A replica's link is an ordinary connection whose output, after the handshake, is
//! the write stream.

pub mod failover;
pub mod full_sync;
pub mod replica;

pub use full_sync::{send_full_sync, FullSync};

use std::collections::BTreeMap;
use std::time::Instant;

use std::sync::Arc;

use crate::net::outbox::{Limits, Outbox};

use crate::commands::{CmdResult, Ctx};
use crate::server::Server;

/// A replica as its master sees it (INFO's `slaveN:` lines, ROLE).
#[derive(Clone, Debug)]
pub struct Replica {
    pub ip: String,
    pub listening_port: u16,
    pub online: bool,
    /// Its full resync's RDB is being written to it (INFO's `send_bulk`).
    pub sending: bool,
    /// Sent SYNC/PSYNC: from then on a replica for INFO (a connection that has only
    /// sent REPLCONF is not one yet, as in Redis).
    pub attached: bool,
    pub ack_offset: u64,
    pub last_ack: Instant,
    /// Declared `REPLCONF capa eof`: it reads an RDB of unknown length (diskless).
    pub capa_eof: bool,
}

/// Replicas by client id.
#[derive(Default)]
pub struct Replicas {
    pub map: parking_lot::Mutex<BTreeMap<u64, Replica>>,
    /// When the last replica went away (`repl-backlog-ttl`), while none is attached.
    none_since: parking_lot::Mutex<Option<Instant>>,
    /// Diskless full resyncs waiting out `repl-diskless-sync-delay` to share a snapshot.
    pending: parking_lot::Mutex<Option<Vec<full_sync::Member>>>,
}

impl Replicas {
    pub fn count(&self) -> usize {
        self.map.lock().values().filter(|r| r.attached).count()
    }

    /// Replicas that acknowledged the stream up to `offset` (WAIT).
    pub fn acked(&self, offset: u64) -> usize {
        self.map.lock().values().filter(|r| r.online && r.ack_offset >= offset).count()
    }

    /// A newline from a replica (it sends one a second while it loads our RDB) counts
    /// as an ACK for its timeout, as in Redis.
    pub fn alive(&self, id: u64) {
        if let Some(r) = self.map.lock().get_mut(&id) {
            r.last_ack = Instant::now();
        }
    }

    /// Replicas online whose last ACK is at most `max_lag` seconds old.
    pub fn good(&self, max_lag: u64) -> usize {
        self.map.lock().values().filter(|r| r.online && r.last_ack.elapsed().as_secs() <= max_lag).count()
    }

    /// `ip:listening-port`, how Redis names a replica in its log.
    /// Writes are refused (NOREPLICAS): fewer good replicas than `min-replicas-to-write`
    /// (either setting at 0 turns the check off, as in Redis).
    pub fn too_few(&self, s: &crate::config::Settings) -> bool {
        s.min_replicas_to_write > 0 && s.min_replicas_max_lag > 0 && self.good(s.min_replicas_max_lag) < s.min_replicas_to_write
    }

    /// `addr` (the connection's peer) stands in before it declared a listening port.
    pub fn name(&self, id: u64, addr: &str) -> String {
        match self.map.lock().get(&id) {
            Some(r) if r.listening_port != 0 => format!("{}:{}", r.ip, r.listening_port),
            _ => addr.to_string(),
        }
    }

    pub fn remove(&self, id: u64) {
        if let Some(r) = self.map.lock().remove(&id) {
            tracing::info!("Connection with replica {}:{} lost.", r.ip, r.listening_port);
        }
    }

    /// `slaveN:ip=...,port=...,state=online,offset=...,lag=...` lines.
    pub fn info_lines(&self) -> String {
        let mut out = String::new();
        for (i, r) in self.map.lock().values().filter(|r| r.attached).enumerate() {
            out.push_str(&format!(
                "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
                r.ip,
                r.listening_port,
                match (r.online, r.sending) {
                    (true, _) => "online",
                    (false, true) => "send_bulk",
                    (false, false) => "wait_bgsave",
                },
                r.ack_offset,
                r.last_ack.elapsed().as_secs()
            ));
        }
        out
    }
}

fn name(ctx: &Ctx) -> String {
    ctx.srv.replicas.name(ctx.client.shared.id, &ctx.client.shared.addr)
}

fn peer_ip(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']').to_string(),
        None => addr.to_string(),
    }
}

/// Registers the connection as a replica (REPLCONF listening-port, or SYNC/PSYNC).
pub(crate) fn register(ctx: &mut Ctx, port: Option<u16>, online: Option<bool>) {
    let mut map = ctx.srv.replicas.map.lock();
    let e = map.entry(ctx.client.shared.id).or_insert_with(|| Replica {
        ip: peer_ip(&ctx.client.shared.addr),
        listening_port: 0,
        online: false,
        sending: false,
        attached: false,
        ack_offset: 0,
        last_ack: Instant::now(),
        capa_eof: false,
    });
    if let Some(p) = port {
        e.listening_port = p;
    }
    if let Some(o) = online {
        e.online = o;
        e.attached = true;
        // Online from now: its repl-timeout counts from here, not from its first REPLCONF.
        e.last_ack = Instant::now();
        // SYNC/PSYNC make the connection a replica's link (flag S in CLIENT LIST).
        ctx.client.shared.replica.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    ctx.client.is_replica = true;
}

/// REPLCONF <option> <value> ...: listening-port, ip-address, capa, ack, getack.
pub fn replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len().is_multiple_of(2) {
        return Err(crate::commands::err::SYNTAX.into());
    }
    let mut i = 1;
    while i + 1 < ctx.args.len() {
        let opt = ctx.args[i].to_ascii_lowercase();
        let val = ctx.args[i + 1];
        match opt.as_slice() {
            b"listening-port" => {
                let Some(p) = std::str::from_utf8(val).ok().and_then(|v| v.parse::<u16>().ok()) else {
                    return Err("ERR value is out of range".into());
                };
                register(ctx, Some(p), None);
            }
            b"ip-address" => {
                let ip = String::from_utf8_lossy(val).into_owned();
                register(ctx, None, None);
                if let Some(r) = ctx.srv.replicas.map.lock().get_mut(&ctx.client.shared.id) {
                    r.ip = ip;
                }
            }
            b"capa" => {
                if val.eq_ignore_ascii_case(b"eof") {
                    register(ctx, None, None);
                    if let Some(r) = ctx.srv.replicas.map.lock().get_mut(&ctx.client.shared.id) {
                        r.capa_eof = true;
                    }
                }
            }
            b"rdb-only" | b"rdb-filter-only" => {}
            b"ack" | b"fack" => {
                // Acknowledgements get no reply.
                if let Some(out) = ctx.client.stream_held.take() {
                    ctx.client.stream_out = Some(out);
                }
                if opt.as_slice() == b"ack" {
                    let off = std::str::from_utf8(val).ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                    if let Some(r) = ctx.srv.replicas.map.lock().get_mut(&ctx.client.shared.id) {
                        r.ack_offset = r.ack_offset.max(off);
                        r.last_ack = Instant::now();
                    }
                }
                return Ok(());
            }
            b"getack" => return Ok(()),
            _ => return Err(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(ctx.args[i])).into()),
        }
        i += 2;
    }
    ctx.out.ok();
    Ok(())
}

/// SYNC: the pre-PSYNC full synchronisation (`$<len>` RDB, then the stream).
pub fn sync(ctx: &mut Ctx) -> CmdResult {
    no_master_link(ctx)?;
    tracing::info!("Replica {} asks for synchronization", name(ctx));
    full_sync::full_resync(ctx, false)
}

/// PSYNC <replid> <offset>: `+CONTINUE` with the backlog from `offset` when our history
/// has it, otherwise `+FULLRESYNC <replid> <offset>` and a snapshot.
pub fn psync(ctx: &mut Ctx) -> CmdResult {
    let (want_id, want_off) = (ctx.arg_str(1).to_string(), ctx.arg_str(2).to_string());
    if ctx.args.len() > 3 && ctx.is(3, "failover") {
        // Our master hands its role over to us (FAILOVER): we take it, then serve it
        // as our replica.
        if want_id != *ctx.srv.replid.lock() {
            return Err("ERR PSYNC FAILOVER replid must match my replid.".into());
        }
        tracing::warn!("Failover request received for replid {want_id}.");
        if replica::stop_following(ctx.srv) {
            tracing::info!("MASTER MODE enabled (failover request from '{}')", ctx.client.shared.info_line());
        }
    }
    no_master_link(ctx)?;
    let (want_id, want_off) = (want_id.as_str(), want_off.as_str());
    tracing::info!("Replica {} asks for synchronization", name(ctx));
    let replid = ctx.srv.replid.lock().clone();
    let replid2 = ctx.srv.replid2.lock().clone();
    let second = ctx.srv.second_repl_offset.load(std::sync::atomic::Ordering::Relaxed);
    // Our own history, or the one we continued (PSYNC2) up to where ours began.
    let known = want_id == replid || (want_id == replid2 && want_off.parse::<i64>().is_ok_and(|o| o <= second));
    if known {
        if let Ok(from) = want_off.parse::<u64>() {
            let out = stream_out(ctx);
            if let Some(tail) = ctx.srv.journal.continue_from(from, out.clone()) {
                ctx.out.buf.extend_from_slice(format!("+CONTINUE {replid}\r\n").as_bytes());
                ctx.out.buf.extend_from_slice(&tail);
                ctx.client.stream_out = Some(out);
                ctx.srv.stats.sync_partial_ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                register(ctx, None, Some(true));
                tracing::info!(
                    "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {from}.",
                    name(ctx),
                    tail.len()
                );
                return Ok(());
            }
        }
        tracing::info!("Unable to partial resync with replica {} for lack of backlog (Replica request was: {want_off}).", name(ctx));
    } else if want_id != "?" {
        tracing::info!(
            "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{want_id}', my replication IDs are '{replid}' and '{replid2}')"
        );
    } else {
        tracing::info!("Full resync requested by replica {}", name(ctx));
    }
    if want_id != "?" {
        ctx.srv.stats.sync_partial_err.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    full_sync::full_resync(ctx, true)
}

/// Start-up from an RDB that carries replication info (Redis's rsi): a replica takes
/// the id and offset as its cached master's, to ask its master for a partial resync; a
/// master keeps them as its previous history (replid2), so that its replicas can.
pub fn restore_from_rdb(srv: &Server, aux: &[(String, String)]) {
    let field = |name: &str| aux.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (Some(id), Some(offset), Some(db)) = (field("repl-id"), field("repl-offset"), field("repl-stream-db")) else {
        return;
    };
    let (Ok(offset), Ok(db)) = (offset.parse::<u64>(), db.parse::<usize>()) else {
        return;
    };
    if id.len() != 40 || db >= srv.keyspace.databases() {
        return;
    }
    if srv.config.get("replicaof").is_some_and(|r| !r.trim().is_empty()) {
        *srv.replid.lock() = id.to_string();
        srv.journal.restore(offset, Some(db));
    } else {
        *srv.replid2.lock() = id.to_string();
        srv.second_repl_offset.store(offset as i64 + 1, std::sync::atomic::Ordering::Relaxed);
        srv.journal.restore(offset, None);
    }
}

/// A replica serves its own replicas only while its link to its master is up, and no
/// one syncs while we fail over.
fn no_master_link(ctx: &Ctx) -> CmdResult {
    if ctx.srv.failover.active() {
        return Err("NOMASTERLINK Can't SYNC while failing over".into());
    }
    match ctx.srv.master.lock().as_ref() {
        Some(l) if l.state.load(std::sync::atomic::Ordering::Relaxed) != replica::CONNECTED => {
            Err("NOMASTERLINK Can't SYNC while not connected with my master".into())
        }
        _ => Ok(()),
    }
}

/// Closes every replica's link, so that they resync (our dataset was replaced).
pub fn disconnect_replicas(srv: &Server) {
    let ids: Vec<u64> = srv.replicas.map.lock().keys().copied().collect();
    if ids.is_empty() {
        return;
    }
    tracing::info!("Disconnecting all replicas to force a resync");
    let clients = srv.clients.lock();
    for id in ids {
        if let Some(c) = clients.get(&id) {
            c.request_kill();
        }
    }
}

/// The queue this replica's share of the write stream collects in, under the limits
/// of `client-output-buffer-limit replica`.
pub(crate) fn stream_out(ctx: &Ctx) -> Arc<Outbox> {
    ctx.srv.journal.set_replica_limits(Limits::of(ctx.client.settings.replica_obuf_limit));
    Arc::new(Outbox::new(ctx.client.shared.clone()))
}

/// ROLE: `master`, the offset, and each replica's ip, port and acknowledged offset;
/// on a replica: `slave`, the master, the link state and the offset.
pub fn role(ctx: &mut Ctx) -> CmdResult {
    if let Some(link) = ctx.srv.master.lock().clone() {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(link.host.as_bytes());
        ctx.out.int(link.port as i64);
        let state = match link.state.load(std::sync::atomic::Ordering::Relaxed) {
            replica::CONNECTED => "connected",
            replica::SYNCING => "sync",
            _ => "connect",
        };
        ctx.out.bulk(state.as_bytes());
        // Like Redis, -1 until the link is established (no master client yet).
        let connected = link.state.load(std::sync::atomic::Ordering::Relaxed) == replica::CONNECTED;
        ctx.out.int(if connected { ctx.srv.journal.offset() as i64 } else { -1 });
        return Ok(());
    }
    let reps: Vec<Replica> = ctx.srv.replicas.map.lock().values().filter(|r| r.online).cloned().collect();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(ctx.srv.journal.offset() as i64);
    ctx.out.array(reps.len());
    for r in reps {
        ctx.out.array(3);
        ctx.out.bulk(r.ip.as_bytes());
        ctx.out.bulk(r.listening_port.to_string().as_bytes());
        ctx.out.bulk(r.ack_offset.to_string().as_bytes());
    }
    Ok(())
}

/// The cron's part: PING replicas every `repl-ping-replica-period` seconds so their
/// link does not time out while the master is idle.
pub fn cron(srv: &Server, last_ping: &mut Instant) {
    // Replicas ACK every second: one silent for repl-timeout is dropped (it reconnects).
    let timeout = srv.config.get("repl-timeout").and_then(|v| v.parse::<u64>().ok()).unwrap_or(60);
    let stale: Vec<(u64, String)> = srv
        .replicas
        .map
        .lock()
        .iter()
        .filter(|(_, r)| r.online && r.last_ack.elapsed().as_secs() > timeout)
        .map(|(id, r)| (*id, format!("{}:{}", r.ip, r.listening_port)))
        .collect();
    for (id, name) in stale {
        tracing::warn!("Disconnecting timedout replica (streaming sync): {name}");
        if let Some(c) = srv.clients.lock().get(&id) {
            c.request_kill();
        }
    }
    // A replica passes its master's PINGs on instead (its offsets are the master's),
    // and keeps its backlog for whichever replica it may be promoted over.
    if srv.master.lock().is_some() {
        return;
    }
    backlog_ttl(srv);
    let period = srv.config.get("repl-ping-replica-period").and_then(|v| v.parse::<u64>().ok()).unwrap_or(10).max(1);
    // A failover waits for the replicas to have the whole stream: no PING moves it on.
    if srv.replicas.count() > 0 && last_ping.elapsed().as_secs() >= period && !srv.failover.pause.load(std::sync::atomic::Ordering::Acquire)
    {
        *last_ping = Instant::now();
        srv.journal.append_replication_only(&[b"PING"]);
    }
}

/// A master without replicas for `repl-backlog-ttl` seconds frees its backlog and starts
/// a new history, as Redis does (a replica that comes back later resyncs in full).
fn backlog_ttl(srv: &Server) {
    let mut since = srv.replicas.none_since.lock();
    if srv.replicas.count() > 0 || !srv.journal.has_backlog() {
        *since = None;
        return;
    }
    let ttl = srv.config.get("repl-backlog-ttl").and_then(|v| v.parse::<u64>().ok()).unwrap_or(3600);
    let t = *since.get_or_insert_with(Instant::now);
    if ttl > 0 && t.elapsed().as_secs() >= ttl {
        *since = None;
        *srv.replid.lock() = crate::server::random_hex(40);
        *srv.replid2.lock() = "0".repeat(40);
        srv.second_repl_offset.store(-1, std::sync::atomic::Ordering::Relaxed);
        srv.journal.free_backlog();
        tracing::info!("Replication backlog freed after {ttl} seconds without connected replicas.");
    }
}

/// INFO replication, with Redis 7's fields for either role.
pub fn info(srv: &Server) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let s = srv.config.settings();
    let off = srv.journal.offset();
    let hist = srv.journal.backlog_len() as u64;
    let mut out = String::new();
    if let Some(link) = srv.master.lock().clone() {
        let last = link.last_io.load(Relaxed);
        let up = link.state.load(Relaxed) == replica::CONNECTED;
        // As Redis: -1 without an established link, the down time only while it is down.
        let ago = if last == 0 || !up { -1 } else { ((crate::util::now_ms().saturating_sub(last)) / 1000) as i64 };
        let syncing = link.state.load(Relaxed) == replica::SYNCING;
        // Redis shows 1 until it has a master's history.
        let roff = if !up && !srv.journal.is_active() { 1 } else { off };
        let transfer = if syncing {
            let (size, read) = (link.transfer_size.load(Relaxed), link.transfer_read.load(Relaxed) as i64);
            let perc = if size > 0 { read as f64 / size as f64 * 100.0 } else { 0.0 };
            let io = if last == 0 { 0 } else { (crate::util::now_ms().saturating_sub(last) / 1000) as i64 };
            format!(
                "master_sync_total_bytes:{size}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{io}\r\n",
                size - read
            )
        } else {
            String::new()
        };
        let down = match link.down_since.load(Relaxed) {
            _ if up => String::new(),
            0 => "master_link_down_since_seconds:-1\r\n".to_string(),
            t => format!("master_link_down_since_seconds:{}\r\n", (crate::util::now_ms() / 1000).saturating_sub(t)),
        };
        out.push_str(&format!(
            "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{ago}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{roff}\r\nslave_repl_offset:{roff}\r\n{transfer}{down}slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
            link.host,
            link.port,
            link.status(),
            syncing as u8,
            srv.config.get("replica-priority").unwrap_or_else(|| "100".into()),
            (srv.config.get("replica-read-only").as_deref() == Some("yes")) as u8,
            (srv.config.get("replica-announced").as_deref() != Some("no")) as u8,
        ));
    } else {
        out.push_str("role:master\r\n");
    }
    let second = srv.second_repl_offset.load(Relaxed);
    // Shown while min-replicas-to-write is in force, as in Redis.
    let good = if s.min_replicas_to_write > 0 && s.min_replicas_max_lag > 0 {
        format!("min_slaves_good_slaves:{}\r\n", srv.replicas.good(s.min_replicas_max_lag))
    } else {
        String::new()
    };
    out.push_str(&format!(
        "connected_slaves:{}\r\n{good}{}master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{off}\r\nsecond_repl_offset:{second}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{hist}\r\n",
        srv.replicas.count(),
        srv.replicas.info_lines(),
        srv.failover.state_name(),
        srv.replid.lock(),
        srv.replid2.lock(),
        srv.journal.has_backlog() as u8,
        s.repl_backlog_size,
        if srv.journal.has_backlog() { off - hist + 1 } else { 0 },
    ));
    out
}

/// WAIT numreplicas timeout: how many replicas acknowledged this client's last write;
/// blocks (the connection waits, see `net::connection`) until enough did or the
/// timeout (ms, 0 = forever) passes.
pub fn wait(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.replica_mode.load(std::sync::atomic::Ordering::Relaxed) {
        return Err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into());
    }
    let Some(num) = crate::util::parse_canonical_i64(ctx.args[1]) else {
        return Err(crate::commands::err::NOT_INT.into());
    };
    let Some(timeout) = crate::util::parse_canonical_i64(ctx.args[2]) else {
        return Err("ERR timeout is not an integer or out of range".into());
    };
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    let off = ctx.client.woff.get();
    let acked = ctx.srv.replicas.acked(off);
    let in_exec = ctx.client.capture.borrow().is_some();
    if acked as i64 >= num || in_exec {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    let deadline = if timeout == 0 { 0 } else { crate::util::now_ms() + timeout as u64 };
    ctx.client.wait = Some((off, num.max(0) as usize, deadline));
    ctx.srv.journal.append_replication_only(&[b"REPLCONF", b"GETACK", b"*"]);
    Ok(())
}
