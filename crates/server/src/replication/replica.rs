//! Replication, replica side: REPLICAOF / SLAVEOF, and the link task that performs the
//! handshake (PING, AUTH, REPLCONF, PSYNC), loads the master's snapshot and applies
//! its stream. The stream's bytes are passed on unchanged to our own backlog, AOF and
//! replicas, so offsets stay the master's (what PSYNC after a promotion relies on).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::commands::{CmdResult, Ctx};
use crate::server::Server;

pub const CONNECT: u8 = 0;
pub const SYNCING: u8 = 1;
pub const CONNECTED: u8 = 2;

/// The link to our master.
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: AtomicU8,
    /// Unix ms of the last byte from the master.
    pub last_io: AtomicU64,
    /// The RDB of a full resync: its size (0 for a diskless one of unknown length, -1
    /// before its header) and the bytes read so far (INFO's master_sync_* lines).
    pub transfer_size: std::sync::atomic::AtomicI64,
    pub transfer_read: AtomicU64,
    /// Unix seconds when an established link was lost (0: not since the last sync).
    pub down_since: AtomicU64,
    /// The database the master's stream last selected. A master does not repeat its
    /// SELECT after a partial resync, so the next link goes on in this one (Redis keeps
    /// it in its cached master client).
    db: AtomicUsize,
    stop: AtomicBool,
    stopped: tokio::sync::Notify,
    /// A master demoted by FAILOVER: its PSYNC asks the target to take over first.
    failover: bool,
}

impl MasterLink {
    /// The database the master's stream has selected (an RDB's `repl-stream-db`).
    pub fn stream_db(&self) -> usize {
        self.db.load(Ordering::Relaxed)
    }

    pub fn status(&self) -> &'static str {
        if self.state.load(Ordering::Relaxed) == CONNECTED {
            "up"
        } else {
            "down"
        }
    }
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    crate::journal::encode(&mut v, args);
    v
}

/// REPLICAOF host port | NO ONE (and SLAVEOF).
pub fn replicaof(ctx: &mut Ctx) -> CmdResult {
    let srv = ctx.srv.me.get().and_then(|w| w.upgrade()).expect("server alive");
    if srv.failover.active() {
        return Err("ERR REPLICAOF not allowed while failing over.".into());
    }
    if ctx.is(1, "no") && ctx.is(2, "one") {
        if stop_following(&srv) {
            tracing::info!("MASTER MODE enabled (user request from '{}')", ctx.client.shared.info_line());
        }
        ctx.out.ok();
        return Ok(());
    }
    let host = ctx.arg_str(1).to_string();
    let Ok(port) = ctx.arg_str(2).parse::<u16>() else {
        return Err("ERR Invalid master port".into());
    };
    {
        let cur = srv.master.lock();
        if cur.as_ref().is_some_and(|l| l.host == host && l.port == port) {
            tracing::info!(
                "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed."
            );
            ctx.out.simple(b"OK Already connected to specified master");
            return Ok(());
        }
    }
    start(&srv, host.clone(), port);
    tracing::info!("REPLICAOF {host}:{port} enabled (user request from '{}')", ctx.client.shared.info_line());
    ctx.out.ok();
    Ok(())
}

/// Stops replicating and becomes a master with a new history; false if we were one.
pub fn stop_following(srv: &Server) -> bool {
    let Some(link) = srv.master.lock().take() else { return false };
    link.stop.store(true, Ordering::Release);
    link.stopped.notify_waiters();
    promote(srv);
    true
}

/// Becomes a replica of `host:port` (REPLICAOF, or `replicaof` in the config).
pub fn start(srv: &Arc<Server>, host: String, port: u16) {
    follow(srv, host, port, false);
}

/// FAILOVER's last step: this master becomes a replica of the replica it chose.
pub fn start_failover(srv: &Arc<Server>, host: String, port: u16) {
    follow(srv, host, port, true);
}

fn follow(srv: &Arc<Server>, host: String, port: u16, failover: bool) {
    // The stream we continue (as a demoted master, or from the previous master's
    // history) is in the database it last selected.
    let db = match srv.master.lock().as_ref() {
        Some(old) => old.db.load(Ordering::Relaxed),
        None => srv.journal.selected_db().unwrap_or(0),
    };
    let link = Arc::new(MasterLink {
        host,
        port,
        state: AtomicU8::new(CONNECT),
        last_io: AtomicU64::new(0),
        transfer_size: std::sync::atomic::AtomicI64::new(-1),
        transfer_read: AtomicU64::new(0),
        down_since: AtomicU64::new(0),
        db: AtomicUsize::new(db),
        stop: AtomicBool::new(false),
        stopped: tokio::sync::Notify::new(),
        failover,
    });
    srv.replica_mode.store(true, std::sync::atomic::Ordering::Relaxed);
    crate::log::set_role(b'S');
    srv.blocking.unblock_all(srv);
    if let Some(old) = srv.master.lock().replace(link.clone()) {
        old.stop.store(true, Ordering::Release);
        old.stopped.notify_waiters();
    }
    // Our own writes stop: everything now comes from the master's stream. Our replicas
    // stay (Redis 7.2 keeps them): a partial resync with the new master goes on
    // feeding them, a new history or a full resync disconnects them.
    srv.journal.suppress(true);
    let srv = srv.clone();
    tokio::spawn(async move {
        while !link.stop.load(Ordering::Acquire) {
            tracing::info!("Connecting to MASTER {}:{}", link.host, link.port);
            let res = tokio::select! {
                r = sync_and_stream(&srv, &link) => r,
                _ = link.stopped.notified() => Ok(()),
            };
            if link.state.swap(CONNECT, Ordering::Relaxed) == CONNECTED {
                link.down_since.store(crate::util::now_ms() / 1000, Ordering::Relaxed);
            }
            if let Err(e) = res {
                tracing::warn!("Error condition on socket for SYNC: {e}");
                if link.failover && srv.failover.in_progress() {
                    srv.failover.abort(&srv, "Failover target rejected psync request");
                    break;
                }
            }
            if link.stop.load(Ordering::Acquire) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// REPLICAOF NO ONE: a new history begins; the old one stays usable for PSYNC from
/// replicas that followed it (replid2, second_repl_offset).
fn promote(srv: &Server) {
    srv.replica_mode.store(false, Ordering::Relaxed);
    crate::log::set_role(b'M');
    let off = srv.journal.offset();
    let mut id = srv.replid.lock();
    *srv.replid2.lock() = id.clone();
    srv.second_repl_offset.store(off as i64 + 1, Ordering::Relaxed);
    *id = crate::server::random_hex(40);
    drop(id);
    srv.journal.suppress(false);
    srv.journal.reselect();
}

async fn read_line(r: &mut BufReader<TcpStream>, link: &MasterLink) -> std::io::Result<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection lost"));
        }
        link.last_io.store(crate::util::now_ms(), Ordering::Relaxed);
        // A master sends bare newlines to keep the link alive while it prepares the RDB.
        if line != "\n" {
            return Ok(line.trim_end().to_string());
        }
    }
}

async fn send_expect(r: &mut BufReader<TcpStream>, link: &MasterLink, args: &[&[u8]]) -> std::io::Result<String> {
    r.get_mut().write_all(&encode(args)).await?;
    read_line(r, link).await
}

async fn sync_and_stream(srv: &Arc<Server>, link: &Arc<MasterLink>) -> std::io::Result<()> {
    let stream = TcpStream::connect((link.host.as_str(), link.port)).await?;
    tracing::info!("MASTER <-> REPLICA sync started");
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    let pong = send_expect(&mut r, link, &[b"PING"]).await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") {
        return Err(std::io::Error::other(format!("Error reply to PING from master: '{pong}'")));
    }
    tracing::info!("Master replied to PING, replication can continue...");
    let settings = srv.config.settings();
    if let Some(pass) = srv.config.get("masterauth").filter(|p| !p.is_empty()) {
        let user = srv.config.get("masteruser").unwrap_or_default();
        let reply = if user.is_empty() {
            send_expect(&mut r, link, &[b"AUTH", pass.as_bytes()]).await?
        } else {
            send_expect(&mut r, link, &[b"AUTH", user.as_bytes(), pass.as_bytes()]).await?
        };
        if reply.starts_with('-') {
            return Err(std::io::Error::other(format!("Unable to AUTH to MASTER: {reply}")));
        }
    }
    let port = srv.config.get("replica-announce-port").filter(|p| p != "0").unwrap_or_else(|| settings.port.to_string());
    send_expect(&mut r, link, &[b"REPLCONF", b"listening-port", port.as_bytes()]).await?;
    if let Some(ip) = srv.config.get("replica-announce-ip").filter(|p| !p.is_empty()) {
        send_expect(&mut r, link, &[b"REPLCONF", b"ip-address", ip.as_bytes()]).await?;
    }
    send_expect(&mut r, link, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    // A cached history (we were synced before, or were a master) allows a partial resync.
    let (id, next) = (srv.replid.lock().clone(), srv.journal.offset() + 1);
    if srv.journal.is_active() {
        tracing::info!("Trying a partial resynchronization (request {id}:{next}).");
    } else {
        tracing::info!("Partial resynchronization not possible (no cached master)");
    }
    let reply = if link.failover {
        send_expect(&mut r, link, &[b"PSYNC", id.as_bytes(), next.to_string().as_bytes(), b"FAILOVER"]).await?
    } else if srv.journal.is_active() {
        send_expect(&mut r, link, &[b"PSYNC", id.as_bytes(), next.to_string().as_bytes()]).await?
    } else {
        send_expect(&mut r, link, &[b"PSYNC", b"?", b"-1"]).await?
    };
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut it = rest.split_whitespace();
        let (mid, off) = (it.next().unwrap_or_default().to_string(), it.next().and_then(|o| o.parse::<u64>().ok()).unwrap_or(0));
        tracing::info!("Full resync from master: {mid}:{off}");
        link.transfer_size.store(-1, Ordering::Relaxed);
        link.transfer_read.store(0, Ordering::Relaxed);
        link.state.store(SYNCING, Ordering::Relaxed);
        let rdb = read_payload(&mut r, link).await?;
        tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
        let srv2 = srv.clone();
        let mut load = tokio::task::spawn_blocking(move || load_snapshot(&srv2, &rdb));
        // A newline a second while loading: the master's repl-timeout must not drop us.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let loaded = loop {
            tokio::select! {
                r = &mut load => break r.map_err(std::io::Error::other)?,
                _ = tick.tick() => r.get_mut().write_all(b"\n").await?,
            }
        };
        loaded.map_err(std::io::Error::other)?;
        *srv.replid.lock() = mid;
        // A new history: the secondary one is forgotten (Redis's clearReplicationId2).
        *srv.replid2.lock() = "0".repeat(40);
        srv.second_repl_offset.store(-1, Ordering::Relaxed);
        srv.journal.reset_to(off);
        // A master starts a new replica's stream with a SELECT; until then, db 0.
        link.db.store(0, Ordering::Relaxed);
        super::disconnect_replicas(srv);
        let srv2 = srv.clone();
        tokio::task::spawn_blocking(move || crate::persistence::aof::restart_after_sync(&srv2)).await.map_err(std::io::Error::other)?;
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        if !new_id.is_empty() && new_id != id {
            *srv.replid2.lock() = id.clone();
            srv.second_repl_offset.store(next as i64, Ordering::Relaxed);
            *srv.replid.lock() = new_id.to_string();
            tracing::info!("Master replication ID changed to {new_id}");
            // Our replicas must learn the new history: they reconnect and continue.
            super::disconnect_replicas(srv);
        }
        tracing::info!("Successful partial resynchronization with master.");
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else {
        return Err(std::io::Error::other(format!("Unexpected reply to PSYNC from master: {reply}")));
    }
    link.state.store(CONNECTED, Ordering::Relaxed);
    link.down_since.store(0, Ordering::Relaxed);
    srv.failover.completed(srv);
    stream_commands(srv, link, r).await
}

/// The RDB after +FULLRESYNC: `$<len>` then that many bytes, or (diskless) `$EOF:<mark>`
/// then bytes ending with the 40-byte mark.
async fn read_payload(r: &mut BufReader<TcpStream>, link: &MasterLink) -> std::io::Result<Vec<u8>> {
    let head = read_line(r, link).await?;
    let Some(spec) = head.strip_prefix('$') else {
        return Err(std::io::Error::other(format!("Bad protocol from MASTER, the first byte is not '$': {head}")));
    };
    let mut chunk = vec![0u8; 64 * 1024];
    let read = async |r: &mut BufReader<TcpStream>, chunk: &mut [u8]| -> std::io::Result<usize> {
        let n = r.read(chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection lost during sync"));
        }
        link.transfer_read.fetch_add(n as u64, Ordering::Relaxed);
        link.last_io.store(crate::util::now_ms(), Ordering::Relaxed);
        Ok(n)
    };
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        link.transfer_size.store(0, Ordering::Relaxed);
        let mut data = Vec::new();
        loop {
            let n = read(r, &mut chunk).await?;
            data.extend_from_slice(&chunk[..n]);
            if data.ends_with(&mark) {
                data.truncate(data.len() - mark.len());
                tracing::info!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk");
                return Ok(data);
            }
        }
    }
    let len: usize = spec.parse().map_err(|_| std::io::Error::other("bad RDB length from master"))?;
    tracing::info!("MASTER <-> REPLICA sync: receiving {len} bytes from master to disk");
    link.transfer_size.store(len as i64, Ordering::Relaxed);
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        let want = (len - data.len()).min(chunk.len());
        let n = read(r, &mut chunk[..want]).await?;
        data.extend_from_slice(&chunk[..n]);
    }
    Ok(data)
}

fn load_snapshot(srv: &Server, rdb: &[u8]) -> Result<(), String> {
    let mut keys = srv.keyspace.lock_all();
    for db in 0..srv.keyspace.databases() {
        for shard in keys.db_shards(db) {
            shard.clear();
        }
    }
    // The master's function libraries replace ours, as its keys do.
    crate::scripting::library::libraries().flush();
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let settings = srv.config.settings();
    let lim = crate::persistence::load::Limits::from_settings(&settings);
    let now = crate::util::now_ms();
    // A replica keeps keys the master may still expire (it sends the DEL).
    match crate::persistence::load::load_into(&mut keys, rdb, &lim, srv.keyspace.databases(), 0, srv.lru_clock()) {
        Ok(sum) => {
            crate::persistence::load::log_summary(&sum, now);
            Ok(())
        }
        Err(c) => Err(format!("Failed trying to load the MASTER synchronization DB from socket: {} at offset {}", c.msg, c.offset)),
    }
}

/// Applies the master's stream; acknowledges the offset every second and on GETACK.
async fn stream_commands(srv: &Arc<Server>, link: &Arc<MasterLink>, mut r: BufReader<TcpStream>) -> std::io::Result<()> {
    use ferrokv_protocol::{parse_command, Limits};
    let mut client = crate::net::client::Client::internal(srv, format!("{}:{}", link.host, link.port));
    client.is_master_link = true;
    client.select(link.db.load(Ordering::Relaxed));
    let mut out = ferrokv_protocol::ReplyBuf::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    // Whatever the handshake reader had buffered beyond the RDB comes first.
    buf.extend_from_slice(r.buffer());
    let consumed = r.buffer().len();
    r.consume(consumed);
    let mut ranges = Vec::new();
    let mut owned = Vec::new();
    let mut in_tx: Vec<u8> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        loop {
            let limits = Limits { max_bulk_len: i64::MAX, authenticated: true };
            let parsed = parse_command(&buf, &mut ranges, &mut owned, limits).map_err(|e| std::io::Error::other(e.to_string()))?;
            let Some((n, inline)) = parsed else { break };
            let args: Vec<&[u8]> =
                if inline { owned.iter().map(|a| a.as_slice()).collect() } else { ranges.iter().map(|&(a, b)| &buf[a..b]).collect() };
            if !args.is_empty() {
                let getack = args.len() >= 2 && args[0].eq_ignore_ascii_case(b"replconf") && args[1].eq_ignore_ascii_case(b"getack");
                let applying = srv.journal.apply_lock();
                if !getack {
                    crate::commands::execute(srv, &mut client, &mut out, &args, crate::util::now_ms());
                    out.buf.clear();
                }
                // A transaction counts towards our offset only once its EXEC ran: if
                // the link drops inside one, the partial resync starts again at its
                // MULTI instead of applying the rest of it on its own.
                if client.multi.is_some() {
                    drop(applying);
                    in_tx.extend_from_slice(&buf[..n]);
                    bytes::Buf::advance(&mut buf, n);
                    continue;
                }
                if !in_tx.is_empty() {
                    srv.journal.append_raw(&in_tx);
                    in_tx.clear();
                }
                srv.journal.append_raw(&buf[..n]);
                link.db.store(client.db, Ordering::Relaxed);
                drop(applying);
                if getack {
                    let off = srv.journal.offset().to_string();
                    r.get_mut().write_all(&encode(&[b"REPLCONF", b"ACK", off.as_bytes()])).await?;
                }
            } else {
                srv.journal.append_raw(&buf[..n]);
            }
            bytes::Buf::advance(&mut buf, n);
        }
        // Our own replicas get this chunk of the stream before we wait for the next.
        srv.journal.distribute();
        tokio::select! {
            n = r.read_buf(&mut buf) => {
                let n = n?;
                if n == 0 {
                    tracing::info!("Connection with master lost.");
                    return Ok(());
                }
                srv.stats.net_repl_input.add(n as u64);
                link.last_io.store(crate::util::now_ms(), Ordering::Relaxed);
            }
            _ = tick.tick() => {
                // A master sends at least a PING every repl-ping-replica-period: silence
                // longer than repl-timeout means the link is dead even if TCP says not.
                let timeout = srv.config.get("repl-timeout").and_then(|v| v.parse::<u64>().ok()).unwrap_or(60);
                if crate::util::now_ms().saturating_sub(link.last_io.load(Ordering::Relaxed)) > timeout * 1000 {
                    return Err(std::io::Error::other("MASTER timeout: no data nor PING received..."));
                }
                let off = srv.journal.offset().to_string();
                r.get_mut().write_all(&encode(&[b"REPLCONF", b"ACK", off.as_bytes()])).await?;
            }
        }
    }
}
