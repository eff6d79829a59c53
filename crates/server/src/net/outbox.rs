//! A connection's queue of bytes that other tasks produce for it: Pub/Sub messages for a
//! subscriber, the write stream for a replica. Producers append and wake the connection
//! only when the queue was empty, so a burst costs one wake-up and one write. The
//! queue's length is what `client-output-buffer-limit` checks (the `pubsub` or `replica`
//! class): a client that does not keep up is disconnected instead of growing memory.
//! Only bytes not yet handed to the socket count, so a large write already sent can
//! never keep a reconnecting replica over its limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::net::client::ClientShared;

/// Output buffer limits of one client class: hard bytes, soft bytes, soft seconds.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Limits {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

impl Limits {
    pub fn of((hard, soft, soft_secs): (usize, usize, u64)) -> Limits {
        Limits { hard, soft, soft_secs }
    }
}

pub struct Outbox {
    pub shared: Arc<ClientShared>,
    /// Bytes not yet written to the socket.
    queue: Mutex<Vec<u8>>,
    /// Wakes the connection when the queue stops being empty.
    pub ready: Notify,
    /// Unix ms since which the queue has been over the soft limit (0 = it is not).
    soft_since: AtomicU64,
}

impl Outbox {
    pub fn new(shared: Arc<ClientShared>) -> Outbox {
        Outbox { shared, queue: Mutex::new(Vec::new()), ready: Notify::new(), soft_since: AtomicU64::new(0) }
    }

    /// Moves everything queued into `out` (which the caller then writes).
    pub fn take(&self, out: &mut Vec<u8>) {
        std::mem::swap(&mut *self.queue.lock(), out);
        self.shared.omem.store(0, Ordering::Relaxed);
    }

    /// Appends `bytes`, disconnecting the client when it is over `limits`; false when
    /// the client is gone or being closed (the producer may then forget it).
    pub fn send(&self, bytes: &[u8], limits: Limits) -> bool {
        if self.shared.killed.load(Ordering::Relaxed) {
            return false;
        }
        let mut q = self.queue.lock();
        let was_empty = q.is_empty();
        q.extend_from_slice(bytes);
        let pending = q.len();
        drop(q);
        // CLIENT LIST's omem: what waits for this client's socket.
        self.shared.omem.store(pending, Ordering::Relaxed);
        if self.over(pending, limits) {
            tracing::warn!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.shared.id,
                self.shared.addr
            );
            self.queue.lock().clear();
            self.shared.request_kill();
            return false;
        }
        if was_empty {
            self.ready.notify_one();
        }
        true
    }

    fn over(&self, pending: usize, limits: Limits) -> bool {
        let over_hard = limits.hard > 0 && pending > limits.hard;
        if limits.soft == 0 || pending <= limits.soft {
            self.soft_since.store(0, Ordering::Relaxed);
            return over_hard;
        }
        let now = crate::util::now_ms();
        let since = self.soft_since.load(Ordering::Relaxed);
        if since == 0 {
            self.soft_since.store(now, Ordering::Relaxed);
            return over_hard;
        }
        over_hard || now.saturating_sub(since) >= limits.soft_secs * 1000
    }
}

/// Resolves when `outbox` has bytes queued; never when there is none.
pub async fn ready(outbox: &Option<Arc<Outbox>>) {
    match outbox {
        Some(o) => o.ready.notified().await,
        None => std::future::pending().await,
    }
}
