//! One connection's task: read whatever arrived, parse every complete command in it,
//! execute them in order, and send all their replies with one write.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ferrokv_protocol::{parse_command, Limits, ReplyBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::client::{Client, ClientShared};
use super::outbox;
use crate::blocking::{BlockSpec, WaitState, Waiter};
use crate::commands::{self, table};

use crate::server::Server;

const READ_CHUNK: usize = 16 * 1024;

pub async fn serve(srv: Arc<Server>, stream: TcpStream, peer: SocketAddr) {
    let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
    let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let shared = Arc::new(ClientShared::new(id, peer.to_string(), laddr, fd));
    srv.register_client(shared.clone());
    let mut client = Client::new(shared.clone(), srv.config.settings(), srv.config.version());
    let _ = run(&srv, &mut client, stream).await;
    crate::commands::transactions::forget(&srv, &mut client);
    crate::commands::pubsub::forget(&srv, &mut client);
    crate::tracking::disable(&srv, &shared);
    shared.close_push_queue();
    srv.unregister_client(id);
}

async fn run(srv: &Server, client: &mut Client, mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = ReplyBuf::new();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut owned: Vec<Vec<u8>> = Vec::new();
    let mut monitor_rx: Option<mpsc::UnboundedReceiver<bytes::Bytes>> = None;
    let mut spare: Vec<u8> = Vec::new();
    let mut push_rx: Option<mpsc::UnboundedReceiver<bytes::Bytes>> = None;
    let mut stream_out: Option<Arc<outbox::Outbox>> = None;
    let shared = client.shared.clone();
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        // Subscribers and monitors wait for input without the idle timeout.
        let timeout = if monitor_rx.is_some() || stream_out.is_some() || client.subscriber.is_some() { 0 } else { client.settings.timeout };
        let read = async {
            if timeout > 0 {
                tokio::time::timeout(Duration::from_secs(timeout), stream.read_buf(&mut buf)).await.unwrap_or(Ok(0))
            } else {
                stream.read_buf(&mut buf).await
            }
        };
        let sub = client.subscriber.clone();
        let n = tokio::select! {
            r = read => r?,
            _ = shared.kill.notified() => {
                if shared.killed.load(Ordering::Acquire) {
                    return Ok(());
                }
                // Not a kill: a push queue was created for us.
                if let Some(rx) = shared.take_push_queue() {
                    push_rx = Some(rx);
                }
                continue;
            }
            Some(first) = recv_opt(&mut monitor_rx) => {
                if forward(&srv.stats.net_output, &shared, &mut stream, monitor_rx.as_mut(), &first).await?.is_none() {
                    return Ok(());
                }
                continue;
            }
            _ = outbox::ready(&sub) => {
                // As for a replica below: the publishers ready on this worker run
                // first, so their messages leave in one write.
                tokio::task::yield_now().await;
                let o = sub.as_ref().expect("subscribed");
                if !send_queued(o, &mut spare, &srv.stats.net_output, &shared, &mut stream).await? {
                    return Ok(());
                }
                continue;
            }
            _ = outbox::ready(&stream_out) => {
                // The worker's other ready connections run first, so the stream they
                // write joins this one send (Redis feeds replicas once per loop round).
                tokio::task::yield_now().await;
                let o = stream_out.as_ref().expect("a replica");
                if !send_queued(o, &mut spare, &srv.stats.net_repl_output, &shared, &mut stream).await? {
                    return Ok(());
                }
                continue;
            }
            Some(first) = recv_opt(&mut push_rx) => {
                if forward(&srv.stats.net_output, &shared, &mut stream, push_rx.as_mut(), &first).await?.is_none() {
                    return Ok(());
                }
                continue;
            }
        };
        if n == 0 {
            return Ok(());
        }
        srv.stats.net_input.add(n as u64);
        if shared.killed.load(Ordering::Acquire) {
            return Ok(());
        }
        // Parse and run every complete command in the buffer.
        let mut close = false;
        // The buffer's allocation outlives `advance`, so its size is judged from here.
        let grown = buf.len() > 4 * READ_CHUNK;
        let now = crate::util::now_ms();
        shared.last_interaction.store(now, Ordering::Relaxed);
        // A shard lock kept between commands of this batch; let go before any await.
        let mut hold: Option<commands::Held<'_>> = None;
        loop {
            if client.settings_version != srv.config.version() {
                client.settings = srv.config.settings();
                client.settings_version = srv.config.version();
            }
            let limits = Limits { max_bulk_len: client.settings.proto_max_bulk_len, authenticated: client.authenticated };
            let parsed = parse_command(&buf, &mut ranges, &mut owned, limits);
            let (consumed, inline) = match parsed {
                Ok(Some(x)) => x,
                Ok(None) => {
                    if buf.len() > client.settings.client_query_buffer_limit {
                        tracing::warn!("Closing client that reached max query buffer length: id={}", shared.id);
                        close = true;
                    }
                    break;
                }
                Err(e) => {
                    tracing::debug!("Protocol error ({e}) from client: id={} addr={}", shared.id, shared.addr);
                    srv.stats.error("ERR");
                    out.error(&format!("ERR {e}"));
                    close = true;
                    break;
                }
            };
            let argc = if inline { owned.len() } else { ranges.len() };
            if argc == 0 && client.is_replica {
                srv.replicas.alive(shared.id);
            }
            if argc > 0 {
                let mut stack: [&[u8]; 16] = [&[]; 16];
                let heap: Vec<&[u8]>;
                let args: &[&[u8]] = if argc <= 16 {
                    for i in 0..argc {
                        stack[i] = if inline { &owned[i] } else { &buf[ranges[i].0..ranges[i].1] };
                    }
                    &stack[..argc]
                } else {
                    heap = (0..argc).map(|i| if inline { &owned[i][..] } else { &buf[ranges[i].0..ranges[i].1] }).collect();
                    &heap
                };
                if srv.pause_until.load(Ordering::Acquire) != 0 || srv.failover.pause.load(Ordering::Acquire) {
                    let write = is_write(client, args);
                    if paused_for(srv, write) {
                        hold = None;
                        flush(&mut stream, &mut out, srv, client.woff.get()).await?;
                        wait_unpaused(srv, write).await;
                    }
                }
                shared.qbuf.store(buf.len(), Ordering::Relaxed);
                run_one(srv, client, &mut out, args, now, &mut hold);
                if let Some((off, num, deadline)) = client.wait.take() {
                    hold = None;
                    // WAIT: replicas acknowledge within milliseconds; polled, like Redis's
                    // check in beforeSleep.
                    flush(&mut stream, &mut out, srv, client.woff.get()).await?;
                    srv.blocking.in_wait.fetch_add(1, Ordering::Relaxed);
                    let acked = loop {
                        if srv.replica_mode.load(Ordering::Acquire) {
                            break usize::MAX;
                        }
                        let n = srv.replicas.acked(off);
                        if n >= num || (deadline != 0 && crate::util::now_ms() >= deadline) || shared.killed.load(Ordering::Acquire) {
                            break n;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    };
                    srv.blocking.in_wait.fetch_sub(1, Ordering::Relaxed);
                    if acked == usize::MAX {
                        // This master became a replica meanwhile (Redis unblocks with
                        // an error and closes the connection).
                        out.error(crate::blocking::UNBLOCKED);
                        srv.stats.error(crate::blocking::UNBLOCKED);
                        flush(&mut stream, &mut out, srv, client.woff.get()).await?;
                        return Ok(());
                    }
                    out.int(acked as i64);
                }
                if let Some(job) = client.full_sync.take() {
                    hold = None;
                    flush(&mut stream, &mut out, srv, client.woff.get()).await?;
                    if !crate::replication::send_full_sync(srv, client, &mut stream, job).await? {
                        return Ok(());
                    }
                }
                if let Some(spec) = client.block.take() {
                    hold = None;
                    let owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                    buf.advance(consumed);
                    flush(&mut stream, &mut out, srv, client.woff.get()).await?;
                    if !wait_blocked(srv, client, (&mut stream, &mut buf, &mut out, &mut push_rx), owned, spec).await? {
                        return Ok(());
                    }
                    continue;
                }
            }
            buf.advance(consumed);
            if client.close_after_reply {
                close = true;
                break;
            }
        }
        drop(hold);
        flush(&mut stream, &mut out, srv, client.woff.get()).await?;
        if let Some(rx) = client.feed.take() {
            monitor_rx = Some(rx);
        }
        if let Some(o) = client.stream_out.take() {
            stream_out = Some(o);
        }
        if std::mem::take(&mut client.stop_feed) {
            monitor_rx = None;
        }
        if close {
            return Ok(());
        }
        if buf.is_empty() && (grown || buf.capacity() > 4 * READ_CHUNK) {
            buf = BytesMut::with_capacity(READ_CHUNK);
        }
        // A command with a huge argument count (SADD of 100k members) leaves no
        // megabyte-sized argument index behind on an idle connection.
        if ranges.capacity() > 4096 {
            ranges = Vec::new();
        }
        if owned.capacity() > 4096 {
            owned = Vec::new();
        }
    }
}

/// Waits for the next message of an optional queue (never, without one).
/// Writes what `o` has queued; false when the client was killed meanwhile. The queue
/// and `spare` swap buffers, so both keep their capacity across bursts.
async fn send_queued(
    o: &outbox::Outbox,
    spare: &mut Vec<u8>,
    counter: &crate::stats::Counter,
    shared: &ClientShared,
    stream: &mut TcpStream,
) -> std::io::Result<bool> {
    spare.clear();
    o.take(spare);
    Ok(spare.is_empty() || forward(counter, shared, stream, None, spare).await?.is_some())
}

async fn recv_opt(rx: &mut Option<mpsc::UnboundedReceiver<bytes::Bytes>>) -> Option<bytes::Bytes> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes `first` and whatever else is queued behind it with one write; returns the
/// bytes written, `None` when the client was killed meanwhile.
async fn forward(
    counter: &crate::stats::Counter,
    shared: &ClientShared,
    stream: &mut TcpStream,
    rx: Option<&mut mpsc::UnboundedReceiver<bytes::Bytes>>,
    first: &[u8],
) -> std::io::Result<Option<usize>> {
    // Only gather into a new buffer when more is queued behind `first`.
    let mut gathered = Vec::new();
    if let Some(rx) = rx {
        while first.len() + gathered.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => {
                    if gathered.is_empty() {
                        gathered.extend_from_slice(first);
                    }
                    gathered.extend_from_slice(&more);
                }
                Err(_) => break,
            }
        }
    }
    let chunk: &[u8] = if gathered.is_empty() { first } else { &gathered };
    // A subscriber that stopped reading must still be closable.
    let write = stream.write_all(chunk);
    tokio::pin!(write);
    let mut woken = false;
    loop {
        tokio::select! {
            r = &mut write => { r?; break; }
            _ = shared.kill.notified() => {
                if shared.killed.load(Ordering::Acquire) {
                    return Ok(None);
                }
                woken = true;
            }
        }
    }
    if woken {
        // Not ours to handle here: the main loop adopts the new push queue.
        shared.kill.notify_one();
    }
    counter.add(chunk.len() as u64);
    Ok(Some(chunk.len()))
}

/// Runs one command, honouring CLIENT REPLY OFF/SKIP by discarding its reply bytes
/// (but not the pushes that follow it).
fn run_one<'s>(srv: &'s Server, client: &mut Client, out: &mut ReplyBuf, args: &[&[u8]], now: u64, hold: &mut Option<commands::Held<'s>>) {
    let mark = out.buf.len();
    commands::execute_holding(srv, client, out, args, now, hold);
    let pushed = client.push_mark.take();
    // CLIENT CACHING covers the next command (or transaction) only.
    let tracking = &client.shared.tracking;
    if tracking.load(Ordering::Relaxed) & crate::tracking::CACHING != 0
        && client.multi.is_none()
        && !args[0].eq_ignore_ascii_case(b"client")
    {
        tracking.fetch_and(!crate::tracking::CACHING, Ordering::Relaxed);
    }
    let r = &mut client.reply;
    // Subscription confirmations are pushes: Redis sends them even with replies off.
    let push = [&b"subscribe"[..], b"unsubscribe", b"psubscribe", b"punsubscribe", b"ssubscribe", b"sunsubscribe"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(args[0]));
    if (r.off || r.skip) && !push {
        match pushed {
            Some(p) if p >= mark => drop(out.buf.drain(mark..p)),
            _ => out.buf.truncate(mark),
        }
    }
    r.skip = std::mem::take(&mut r.skip_next);
}

/// Sends the replies collected; `woff` is the stream offset of this client's last write.
async fn flush(stream: &mut TcpStream, out: &mut ReplyBuf, srv: &Server, woff: u64) -> std::io::Result<()> {
    // The writes of this round (ours and other connections') go to the replicas first.
    srv.journal.distribute();
    if !out.buf.is_empty() {
        if srv.aof.enabled.load(Ordering::Relaxed) && !srv.aof.always.load(Ordering::Relaxed) {
            srv.aof.wait_written(srv, woff).await;
        }
        // `appendfsync always`: a write is acknowledged only once it is on disk (waiting
        // for the stream as a whole: cheaper than tracking each client's last write).
        let wait =
            srv.aof.always.load(Ordering::Relaxed).then(|| srv.journal.offset()).filter(|&o| o > srv.aof.fsynced.load(Ordering::Acquire));
        if let Some(o) = wait {
            srv.aof.wait_fsynced(o).await;
        }
        stream.write_all(&out.buf).await?;
        srv.stats.net_output.add(out.buf.len() as u64);
        out.buf.clear();
        if out.buf.capacity() > 1024 * 1024 {
            out.buf = Vec::with_capacity(16 * 1024);
        }
    }
    Ok(())
}

/// Waits until a blocked command is served, times out, is unblocked, or the client
/// goes away (returns false: close). Input that arrives meanwhile stays queued, as
/// Redis does not read a blocked client's next commands.
async fn wait_blocked(
    srv: &Server,
    client: &mut Client,
    io: (&mut TcpStream, &mut BytesMut, &mut ReplyBuf, &mut Option<mpsc::UnboundedReceiver<bytes::Bytes>>),
    args: Vec<Vec<u8>>,
    spec: BlockSpec,
) -> std::io::Result<bool> {
    let (stream, buf, out, push_rx) = io;
    let shared = client.shared.clone();
    let w = Arc::new(Waiter {
        shared: shared.clone(),
        db: client.db,
        args,
        keys: spec.keys,
        resp3: out.resp3,
        state: parking_lot::Mutex::new(WaitState::Waiting),
        notify: tokio::sync::Notify::new(),
        close_after: std::sync::atomic::AtomicBool::new(false),
    });
    srv.blocking.register(&w);
    // A write that landed between our empty look and the registration saw nobody
    // waiting: look once more now that we are queued.
    let ready = w.keys.iter().map(|k| (w.db, k.clone())).collect();
    srv.blocking.serve(srv, ready, crate::util::now_ms());
    let deadline = (spec.timeout_at != 0).then(|| {
        let left = spec.timeout_at.saturating_sub(crate::util::now_ms());
        tokio::time::Instant::now() + Duration::from_millis(left)
    });
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let mut alive = true;
    loop {
        if let WaitState::Done(_) = &*w.state.lock() {
            break;
        }
        tokio::select! {
            _ = w.notify.notified() => continue,
            _ = &mut sleep => break,
            _ = shared.kill.notified() => {
                if shared.killed.load(Ordering::Acquire) {
                    alive = false;
                    break;
                }
                if let Some(rx) = shared.take_push_queue() {
                    *push_rx = Some(rx);
                }
            }
            // Invalidations still reach a blocked client.
            Some(first) = recv_opt(push_rx) => {
                if forward(&srv.stats.net_output, &shared, stream, push_rx.as_mut(), &first).await?.is_none() {
                    alive = false;
                    break;
                }
            }
            r = stream.read_buf(buf), if buf.len() < client.settings.client_query_buffer_limit => {
                if r.unwrap_or(0) == 0 {
                    alive = false;
                    break;
                }
            }
        }
    }
    let taken = std::mem::replace(&mut *w.state.lock(), WaitState::Cancelled);
    let reply = match taken {
        WaitState::Done(reply) => Some(reply),
        _ => None,
    };
    srv.blocking.unregister(&w);
    match reply {
        Some(r) => {
            out.buf.extend_from_slice(&r);
            if w.close_after.load(Ordering::Acquire) {
                flush(stream, out, srv, client.woff.get()).await?;
                return Ok(false);
            }
        }
        None => {
            if alive {
                crate::blocking::count_call(srv, &w.args, false);
            }
            out.null_array()
        }
    }
    Ok(alive && !shared.killed.load(Ordering::Acquire))
}

/// Whether CLIENT PAUSE holds this command back (all commands, or writes only).
/// Whether a write pause holds this command: writes and may-replicate commands, and an
/// EXEC whose transaction queued one, as in Redis.
fn is_write(client: &Client, args: &[&[u8]]) -> bool {
    let writes = |d: &commands::CommandDef| d.flags & (table::WRITE | table::MAY_REPLICATE) != 0;
    match &client.multi {
        Some(q) if args[0].eq_ignore_ascii_case(b"exec") => q.iter().any(|c| writes(c.def)),
        _ => table::lookup(args[0]).is_some_and(writes),
    }
}

/// CLIENT PAUSE (all commands, or writes) or a FAILOVER (writes) holds this command.
fn paused_for(srv: &Server, write: bool) -> bool {
    let until = srv.pause_until.load(Ordering::Acquire);
    let client_pause = until != 0 && crate::util::now_ms() < until && (!srv.pause_write_only.load(Ordering::Acquire) || write);
    client_pause || (srv.failover.pause.load(Ordering::Acquire) && write)
}

async fn wait_unpaused(srv: &Server, write: bool) {
    loop {
        let notified = srv.unpaused.notified();
        if !paused_for(srv, write) {
            return;
        }
        let until = srv.pause_until.load(Ordering::Acquire);
        let left = until.saturating_sub(crate::util::now_ms()).clamp(1, 100);
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(left)) => {}
        }
    }
}
