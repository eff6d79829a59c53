//! Full resynchronisation, master side: one forkless snapshot serves every replica
//! whose SYNC/PSYNC arrived within `repl-diskless-sync-delay` (Redis 7's default is 5 s,
//! so replicas started together share one RDB), or `repl-diskless-sync-max-replicas` of
//! them as soon as that many wait. Each replica's stream subscription and reported
//! offset are taken at the snapshot point, so its stream continues exactly where the
//! snapshot ends. The snapshot runs on its own thread; the replica's connection sends
//! `+FULLRESYNC`, keepalive newlines and the RDB ([`send_full_sync`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{register, stream_out};
use crate::commands::{CmdResult, Ctx};
use crate::net::outbox::Outbox;
use crate::persistence::snapshot::{self, Job, Target};
use crate::server::Server;

type Rdb = std::io::Result<Arc<Vec<u8>>>;

/// A full resync in progress, as its connection holds it.
pub struct FullSync {
    /// The stream offset of the snapshot point, once it is taken.
    at: oneshot::Receiver<u64>,
    rdb: oneshot::Receiver<Rdb>,
    out: Arc<Outbox>,
    psync: bool,
    diskless: bool,
}

/// A replica waiting for the snapshot it will be served from.
pub struct Member {
    out: Arc<Outbox>,
    at: oneshot::Sender<u64>,
    rdb: oneshot::Sender<Rdb>,
}

/// SYNC / PSYNC answered by a full resync: joins the diskless replicas waiting for a
/// snapshot (starting the wait when it is the first), or gets one of its own.
pub fn full_resync(ctx: &mut Ctx, psync: bool) -> CmdResult {
    let Some(srv) = ctx.srv.me.get().and_then(|w| w.upgrade()) else {
        return Err("ERR Background save failed".into());
    };
    let out = stream_out(ctx);
    register(ctx, None, Some(false));
    // `repl-diskless-sync yes` (Redis 7's default) to a replica that reads it: the RDB
    // framed by a random 40-byte mark instead of its length, as Redis streams it.
    let capa_eof = srv.replicas.map.lock().get(&ctx.client.shared.id).is_some_and(|r| r.capa_eof);
    let diskless = psync && capa_eof && srv.config.get("repl-diskless-sync").as_deref() == Some("yes");
    let (at_tx, at) = oneshot::channel();
    let (rdb_tx, rdb) = oneshot::channel();
    let member = Member { out: out.clone(), at: at_tx, rdb: rdb_tx };
    let num = |name: &str| srv.config.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let delay = if diskless { num("repl-diskless-sync-delay") } else { 0 };
    ctx.client.full_sync = Some(FullSync { at, rdb, out, psync, diskless });
    if delay == 0 {
        return spawn(srv, vec![member], None, diskless);
    }
    let mut pending = srv.replicas.pending.lock();
    if let Some(group) = pending.as_mut() {
        group.push(member);
        return Ok(());
    }
    *pending = Some(vec![member]);
    drop(pending);
    tracing::info!("Delay next BGSAVE for diskless SYNC");
    let wait = (Duration::from_secs(delay), num("repl-diskless-sync-max-replicas") as usize);
    spawn(srv, Vec::new(), Some(wait), diskless)
}

/// The snapshot thread: after waiting (`wait`: the delay and the replica count that
/// ends it early) it serves the replicas gathered meanwhile, else `members`.
fn spawn(srv: Arc<Server>, members: Vec<Member>, wait: Option<(Duration, usize)>, diskless: bool) -> CmdResult {
    std::thread::Builder::new()
        .name("ferrokv-sync".into())
        .spawn(move || {
            let members = match wait {
                None => members,
                Some((delay, max)) => {
                    let start = Instant::now();
                    loop {
                        let n = srv.replicas.pending.lock().as_ref().map_or(0, Vec::len);
                        if start.elapsed() >= delay || (max > 0 && n >= max) {
                            break srv.replicas.pending.lock().take().unwrap_or_default();
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            };
            serve(&srv, members, diskless);
        })
        .map(|_| ())
        .map_err(|e| format!("ERR Background save failed: {e}").into())
}

/// One snapshot for `members`: each subscribes to the stream at its point.
fn serve(srv: &Server, members: Vec<Member>, diskless: bool) {
    if members.is_empty() {
        return;
    }
    let mut rdbs = Vec::with_capacity(members.len());
    tracing::info!("Starting BGSAVE for SYNC with target: {}", if diskless { "replicas sockets" } else { "disk" });
    let started = snapshot::begin(srv, Job::Replication, Target::Mem(Vec::new()), false, true, || {
        if !srv.journal.has_backlog() && !srv.replica_mode.load(Ordering::Relaxed) {
            tracing::info!("Replication backlog created, my new replication IDs are '{}' and '{}'", srv.replid.lock(), srv.replid2.lock());
        }
        for m in members {
            srv.journal.subscribe(m.out);
            let _ = m.at.send(srv.journal.offset());
            rdbs.push(m.rdb);
        }
    })
    .expect("waits for its turn");
    let res = started.complete(srv).and_then(|t| match t {
        Target::Mem(v) => Ok(Arc::new(v)),
        Target::File(_) => Err(std::io::Error::other("snapshot to memory")),
    });
    for tx in rdbs {
        let _ = tx.send(match &res {
            Ok(v) => Ok(v.clone()),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        });
    }
}

/// The connection's part of a full resync: `+FULLRESYNC` as soon as the snapshot point
/// is taken, a newline every second until then and while the snapshot is produced (the
/// replica's `repl-timeout` must not expire meanwhile: Redis sends the same), then the
/// RDB (framed by its length, or by an EOF mark for a diskless replica), and from then
/// on the write stream. Returns false when the link must close.
pub async fn send_full_sync(
    srv: &Server,
    client: &mut crate::net::client::Client,
    stream: &mut tokio::net::TcpStream,
    job: FullSync,
) -> std::io::Result<bool> {
    use tokio::io::AsyncWriteExt;
    let FullSync { mut at, mut rdb, out, psync, diskless } = job;
    let shared = client.shared.clone();
    let id = shared.id;
    let name = srv.replicas.name(id, &shared.addr);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let at = loop {
        tokio::select! {
            r = &mut at => break r.ok(),
            _ = tick.tick() => stream.write_all(b"\n").await?,
            _ = shared.kill.notified() => return Ok(false),
        }
    };
    let Some(at) = at else { return Ok(false) };
    if psync {
        let replid = srv.replid.lock().clone();
        stream.write_all(format!("+FULLRESYNC {replid} {at}\r\n").as_bytes()).await?;
    }
    let rdb = loop {
        tokio::select! {
            r = &mut rdb => break r,
            _ = tick.tick() => stream.write_all(b"\n").await?,
            _ = shared.kill.notified() => return Ok(false),
        }
    };
    let Ok(Ok(rdb)) = rdb else {
        tracing::warn!("Background save for the replica {name} failed: closing its link");
        return Ok(false);
    };
    if let Some(r) = srv.replicas.map.lock().get_mut(&id) {
        r.sending = true;
    }
    let mark = crate::server::random_hex(40);
    let head = if diskless { format!("$EOF:{mark}\r\n") } else { format!("${}\r\n", rdb.len()) };
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&rdb).await?;
    if diskless {
        stream.write_all(mark.as_bytes()).await?;
        // Bytes right behind the end mark would hide it from the reader: the stream
        // waits for the replica's first ACK.
        client.stream_held = Some(out);
    } else {
        client.stream_out = Some(out);
    }
    srv.stats.net_repl_output.add((head.len() + rdb.len()) as u64);
    srv.stats.sync_full.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = srv.replicas.map.lock().get_mut(&id) {
        r.sending = false;
        r.online = true;
        // Its load of the RDB may take a while before it ACKs: the timeout counts from here.
        r.last_ack = Instant::now();
    }
    tracing::info!("Synchronization with replica {name} succeeded");
    Ok(true)
}
