//! Pub/Sub: channel, pattern and shard-channel subscriptions, and message delivery.
//!
//! Each subscribed connection owns a byte queue that its task drains onto the socket;
//! publishers append the formatted message and wake the task only when the queue was
//! empty, so a burst of messages costs one wake-up and one write. The queue's length
//! is what `client-output-buffer-limit pubsub` checks: a subscriber that does not keep
//! up is disconnected instead of growing memory.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferrokv_protocol::ReplyBuf;
use parking_lot::RwLock;

use crate::net::outbox::{Limits, Outbox};

/// Which namespace a subscription lives in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    pub fn message(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"message",
            Kind::Pattern => b"pmessage",
            Kind::Shard => b"smessage",
        }
    }
}

type Subs = HashMap<Vec<u8>, Vec<Arc<Outbox>>>;

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<Subs>,
    patterns: RwLock<Subs>,
    shard: RwLock<Subs>,
}

fn encode_message(resp3: bool, kind: Kind, pattern: Option<&[u8]>, channel: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut out = ReplyBuf::new();
    out.resp3 = resp3;
    let n = if pattern.is_some() { 4 } else { 3 };
    if resp3 {
        out.push(n);
    } else {
        out.array(n);
    }
    out.bulk(if pattern.is_some() { Kind::Pattern.message() } else { kind.message() });
    if let Some(p) = pattern {
        out.bulk(p);
    }
    out.bulk(channel);
    out.bulk(msg);
    out.buf
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<Subs> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    /// Adds `sub` to `name`; false when it was already subscribed.
    pub fn subscribe(&self, kind: Kind, name: &[u8], sub: &Arc<Outbox>) -> bool {
        let mut m = self.map(kind).write();
        let v = m.entry(name.to_vec()).or_default();
        if v.iter().any(|s| s.shared.id == sub.shared.id) {
            return false;
        }
        v.push(sub.clone());
        true
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], client: u64) -> bool {
        let mut m = self.map(kind).write();
        let Some(v) = m.get_mut(name) else { return false };
        let before = v.len();
        v.retain(|s| s.shared.id != client);
        let removed = v.len() != before;
        if v.is_empty() {
            m.remove(name);
        }
        removed
    }

    /// Delivers `msg` to the subscribers of `channel` (and, for plain channels, of the
    /// matching patterns); returns how many received it. A subscriber that is the
    /// publisher itself gets the message in `own` (ahead of the PUBLISH reply, as in
    /// Redis) instead of through its queue.
    pub fn publish(&self, kind: Kind, channel: &[u8], msg: &[u8], limits: Limits, own: (u64, &mut ReplyBuf)) -> usize {
        let (me, own_out) = own;
        let mut n = 0;
        let mut cache: [Option<Vec<u8>>; 2] = [None, None];
        let mut deliver = |s: &Arc<Outbox>, pattern: Option<&[u8]>, cache: &mut [Option<Vec<u8>>; 2]| {
            let resp3 = s.shared.resp.load(Ordering::Relaxed) == 3;
            if s.shared.id == me {
                own_out.buf.extend_from_slice(&encode_message(resp3, kind, pattern, channel, msg));
                return;
            }
            if pattern.is_some() {
                s.send(&encode_message(resp3, kind, pattern, channel, msg), limits);
                return;
            }
            let bytes = cache[resp3 as usize].get_or_insert_with(|| encode_message(resp3, kind, None, channel, msg));
            s.send(bytes, limits);
        };
        if let Some(v) = self.map(kind).read().get(channel) {
            for s in v {
                deliver(s, None, &mut cache);
                n += 1;
            }
        }
        if kind == Kind::Channel {
            for (pat, v) in self.patterns.read().iter() {
                if crate::util::glob_match(pat, channel, false) {
                    for s in v {
                        deliver(s, Some(pat), &mut cache);
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// Channels (or shard channels) with at least one subscriber, optionally filtered.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.map(kind).read().keys().filter(|c| pattern.is_none_or(|p| crate::util::glob_match(p, c, false))).cloned().collect()
    }

    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).read().get(name).map_or(0, |v| v.len())
    }

    /// Distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn patterns(&self) -> usize {
        self.patterns.read().len()
    }
}
