//! Keyspace notifications (`notify-keyspace-events`): Pub/Sub messages on
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` for every change, with
//! Redis's event classes and names.

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;
/// What `A` stands for (key misses and new keys are never part of it).
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The flags of a stored `notify-keyspace-events` value (already validated).
pub fn flags_from_str(s: &str) -> u32 {
    s.chars()
        .map(|c| match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// The two messages of one event, if the configuration asks for them: publishes to
/// the keyspace and keyevent channels. `own` receives what the acting client itself
/// is subscribed to; callers queue it to follow the reply ([`defer_own`]).
pub fn publish(
    srv: &crate::server::Server,
    flags: u32,
    class: u32,
    event: &str,
    db: usize,
    key: &[u8],
    own: (u64, &mut ferrokv_protocol::ReplyBuf),
) {
    if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    let (me, out) = own;
    let limits = srv.pubsub_limits();
    if flags & KEYSPACE != 0 {
        let mut chan = format!("__keyspace@{db}__:").into_bytes();
        chan.extend_from_slice(key);
        srv.pubsub.publish(crate::pubsub::Kind::Channel, &chan, event.as_bytes(), limits, (me, out));
    }
    if flags & KEYEVENT != 0 {
        let chan = format!("__keyevent@{db}__:{event}");
        srv.pubsub.publish(crate::pubsub::Kind::Channel, chan.as_bytes(), key, limits, (me, out));
    }
}

thread_local! {
    /// Notifications the acting client receives itself: Redis 7.2 sends them after
    /// the command's reply (after EXEC's whole reply inside a transaction). Commands
    /// run synchronously on one thread, so the pending bytes never cross clients.
    static OWN: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Queues a push for the acting client, to follow its reply.
pub fn defer_own(bytes: &[u8]) {
    OWN.with(|o| o.borrow_mut().extend_from_slice(bytes));
}

/// Appends the acting client's pending pushes to its output.
#[inline]
pub fn flush_own(out: &mut Vec<u8>) {
    OWN.with(|o| {
        let mut o = o.borrow_mut();
        if !o.is_empty() {
            out.extend_from_slice(&o);
            o.clear();
        }
    });
}
