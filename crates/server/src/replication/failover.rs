//! FAILOVER: a coordinated switch of roles between this master and one of its replicas.
//! Writes are paused, the master waits until the chosen replica (or any, without TO)
//! has acknowledged the whole stream, then becomes that replica's replica with
//! `PSYNC <replid> <offset> FAILOVER`, which tells the replica to take over as master
//! first. The switch loses no write, and both sides continue by partial resync.
//! States and messages are Redis 7's (INFO `master_failover_state`).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::commands::{CmdResult, Ctx};
use crate::server::Server;

const NONE: u8 = 0;
const WAITING: u8 = 1;
const IN_PROGRESS: u8 = 2;

#[derive(Default)]
struct Plan {
    /// The replica to fail over to; None: the first that catches up.
    target: Option<(String, u16)>,
    force: bool,
    /// Unix ms by which the target must have caught up (0: no limit).
    end_ms: u64,
}

#[derive(Default)]
pub struct Failover {
    state: AtomicU8,
    plan: Mutex<Plan>,
    /// Writes (and our PINGs to replicas) wait while a failover runs.
    pub pause: AtomicBool,
}

impl Failover {
    pub fn state_name(&self) -> &'static str {
        match self.state.load(Ordering::Acquire) {
            WAITING => "waiting-for-sync",
            IN_PROGRESS => "failover-in-progress",
            _ => "no-failover",
        }
    }

    pub fn active(&self) -> bool {
        self.state.load(Ordering::Acquire) != NONE
    }

    /// Back to normal: writes resume.
    fn clear(&self, srv: &Server) {
        *self.plan.lock() = Plan::default();
        self.state.store(NONE, Ordering::Release);
        self.pause.store(false, Ordering::Release);
        srv.unpaused.notify_waiters();
    }

    fn target_name(&self) -> String {
        match &self.plan.lock().target {
            Some((h, p)) => format!("{h}:{p}"),
            None => "any replica".into(),
        }
    }

    /// Gives up (ABORT, timeout, or the target refused us); a master that had already
    /// turned replica becomes a master again.
    pub fn abort(&self, srv: &Arc<Server>, why: &str) {
        let state = self.state.load(Ordering::Acquire);
        if state == NONE {
            return;
        }
        tracing::warn!("FAILOVER to {} aborted: {why}", self.target_name());
        if state == IN_PROGRESS {
            super::replica::stop_following(srv);
        }
        self.clear(srv);
    }

    /// The demoted master's PSYNC was answered: the switch is done.
    pub fn completed(&self, srv: &Server) {
        if self.state.load(Ordering::Acquire) == IN_PROGRESS {
            self.clear(srv);
        }
    }

    pub fn in_progress(&self) -> bool {
        self.state.load(Ordering::Acquire) == IN_PROGRESS
    }
}

/// FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | FAILOVER ABORT.
pub fn failover(ctx: &mut Ctx) -> CmdResult {
    let srv = ctx.srv.me.get().and_then(|w| w.upgrade()).expect("server alive");
    let f = &srv.failover;
    if ctx.args.len() == 2 && ctx.is(1, "abort") {
        if !f.active() {
            return Err("ERR No failover in progress.".into());
        }
        f.abort(&srv, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    let (mut timeout, mut force, mut target) = (0i64, false, None::<(String, u16)>);
    let mut i = 1;
    while i < ctx.args.len() {
        if ctx.is(i, "timeout") && i + 1 < ctx.args.len() && timeout == 0 {
            timeout = crate::util::parse_canonical_i64(ctx.args[i + 1]).ok_or("ERR value is not an integer or out of range")?;
            if timeout <= 0 {
                return Err("ERR FAILOVER timeout must be greater than 0".into());
            }
            i += 2;
        } else if ctx.is(i, "to") && i + 2 < ctx.args.len() && target.is_none() {
            let port = crate::util::parse_canonical_i64(ctx.args[i + 2]).ok_or("ERR value is not an integer or out of range")?;
            target = Some((ctx.arg_str(i + 1).to_string(), port.clamp(0, u16::MAX as i64) as u16));
            i += 3;
        } else if ctx.is(i, "force") && !force {
            force = true;
            i += 1;
        } else {
            return Err("ERR syntax error".into());
        }
    }
    if f.active() {
        return Err("ERR FAILOVER already in progress.".into());
    }
    if srv.master.lock().is_some() {
        return Err("ERR FAILOVER is not valid when server is a replica.".into());
    }
    if srv.replicas.count() == 0 {
        return Err("ERR FAILOVER requires connected replicas.".into());
    }
    if force && (timeout == 0 || target.is_none()) {
        return Err("ERR FAILOVER with force option requires both a timeout and target HOST and IP.".into());
    }
    if let Some((host, port)) = &target {
        let online = srv.replicas.map.lock().values().find(|r| r.attached && &r.ip == host && r.listening_port == *port).map(|r| r.online);
        match online {
            None => return Err("ERR FAILOVER target HOST and PORT is not a replica.".into()),
            Some(false) => return Err("ERR FAILOVER target replica is not online.".into()),
            Some(true) => tracing::info!("FAILOVER requested to {host}:{port}."),
        }
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    *f.plan.lock() = Plan { target, force, end_ms: if timeout > 0 { ctx.now + timeout as u64 } else { 0 } };
    f.pause.store(true, Ordering::Release);
    f.state.store(WAITING, Ordering::Release);
    // Ask for acknowledgements now rather than at the replicas' next second.
    srv.journal.append_replication_only(&[b"REPLCONF", b"GETACK", b"*"]);
    tokio::spawn(wait_for_sync(srv.clone()));
    ctx.out.ok();
    Ok(())
}

/// Waits (writes paused) until the target has the whole stream, then demotes us.
async fn wait_for_sync(srv: Arc<Server>) {
    let f = &srv.failover;
    while f.state.load(Ordering::Acquire) == WAITING {
        let (target, force, end_ms) = {
            let p = f.plan.lock();
            (p.target.clone(), p.force, p.end_ms)
        };
        let now = crate::util::now_ms();
        let chosen = if end_ms != 0 && now >= end_ms {
            if !force {
                f.abort(&srv, "Replica never caught up before timeout");
                return;
            }
            let (h, p) = target.clone().expect("FORCE comes with TO");
            tracing::info!("FAILOVER to {h}:{p} time out exceeded, failing over.");
            Some((h, p))
        } else {
            let offset = srv.journal.offset();
            let synced = srv
                .replicas
                .map
                .lock()
                .values()
                .find(|r| r.online && r.ack_offset >= offset && target.as_ref().is_none_or(|(h, p)| &r.ip == h && r.listening_port == *p))
                .map(|r| (r.ip.clone(), r.listening_port));
            if let Some((h, p)) = &synced {
                tracing::info!("Failover target {h}:{p} is synced, failing over.");
            }
            synced
        };
        if let Some((host, port)) = chosen {
            f.plan.lock().target = Some((host.clone(), port));
            f.state.store(IN_PROGRESS, Ordering::Release);
            super::replica::start_failover(&srv, host, port);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
