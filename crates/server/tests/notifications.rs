//! Keyspace notifications against the real server: the exact sequence of
//! `__keyspace@<db>__` / `__keyevent@<db>__` messages (Redis 7.2.6's classes, event
//! names and order) for every command family, class filtering, runtime CONFIG SET,
//! expiry, and a RESP3 client receiving its own notifications after its replies.

mod common;
use std::time::Duration;

use common::events::{bulks, Events};
use common::Server;

/// Both messages of one event in database 0, in Redis's order (keyspace first).
fn both(event: &str, key: &str) -> Vec<String> {
    both_in(0, event, key)
}

fn both_in(db: usize, event: &str, key: &str) -> Vec<String> {
    vec![format!("__keyspace@{db}__:{key} {event}"), format!("__keyevent@{db}__:{event} {key}")]
}

fn seq(events: &[(&str, &str)]) -> Vec<String> {
    events.iter().flat_map(|(e, k)| both(e, k)).collect()
}

#[test]
fn string_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    assert_eq!(e.ev("SET s v"), seq(&[("set", "s")]));
    assert_eq!(e.ev("SET s v EX 100"), seq(&[("set", "s"), ("expire", "s")]));
    assert_eq!(e.ev("SET s v KEEPTTL"), seq(&[("set", "s")]));
    assert_eq!(e.ev("SET s x NX"), seq(&[]));
    assert_eq!(e.ev("SETNX s2 z"), seq(&[("set", "s2")]));
    assert_eq!(e.ev("SETEX se 100 v"), seq(&[("set", "se"), ("expire", "se")]));
    assert_eq!(e.ev("PSETEX pse 100000 v"), seq(&[("set", "pse"), ("expire", "pse")]));
    assert_eq!(e.ev("GETSET s w"), seq(&[("set", "s")]));
    assert_eq!(e.ev("MSET m1 a m2 b"), seq(&[("set", "m1"), ("set", "m2")]));
    assert_eq!(e.ev("MSETNX m1 a m3 b"), seq(&[]));
    assert_eq!(e.ev("APPEND ap x"), seq(&[("append", "ap")]));
    assert_eq!(e.ev("INCR i"), seq(&[("incrby", "i")]));
    assert_eq!(e.ev("DECRBY i 5"), seq(&[("incrby", "i")]));
    assert_eq!(e.ev("INCRBYFLOAT i 1.5"), seq(&[("incrbyfloat", "i")]));
    assert_eq!(e.ev("SETRANGE sr 2 ab"), seq(&[("setrange", "sr")]));
    assert_eq!(e.run("SETRANGE sr 0 "), (":4\r\n".into(), vec![]));
    assert_eq!(e.ev("GETEX s EX 100"), seq(&[("expire", "s")]));
    assert_eq!(e.ev("GETEX s PERSIST"), seq(&[("persist", "s")]));
    assert_eq!(e.ev("GETEX s PERSIST"), seq(&[]));
    assert_eq!(e.ev("GETEX s PXAT 1"), seq(&[("del", "s")]));
    assert_eq!(e.ev("GETDEL s2"), seq(&[("del", "s2")]));
    assert_eq!(e.ev("GETDEL s2"), seq(&[]));
    // Failed writes say nothing.
    assert_eq!(e.run("INCR ap").1, seq(&[]));
    // Bitmaps: only effective changes.
    assert_eq!(e.ev("SETBIT b 7 1"), seq(&[("setbit", "b")]));
    assert_eq!(e.ev("SETBIT b 7 1"), seq(&[]));
    assert_eq!(e.ev("BITOP OR bo b nokey"), seq(&[("set", "bo")]));
    assert_eq!(e.ev("BITOP AND bo nokey"), seq(&[("del", "bo")]));
    assert_eq!(e.ev("BITFIELD bf SET u8 0 1"), seq(&[("setbit", "bf")]));
    assert_eq!(e.ev("BITFIELD bf SET u8 0 1"), seq(&[]));
    assert_eq!(e.ev("BITFIELD bf GET u8 0"), seq(&[]));
    // HyperLogLog: `pfadd` (a string event) for PFADD that changed something and PFMERGE.
    assert_eq!(e.ev("PFADD h a b"), seq(&[("pfadd", "h")]));
    assert_eq!(e.ev("PFADD h a"), seq(&[]));
    assert_eq!(e.ev("PFMERGE hm h"), seq(&[("pfadd", "hm")]));
    assert_eq!(e.ev("PFCOUNT hm"), seq(&[]));
}

#[test]
fn generic_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEg");
    e.c.cmd("MSET k v k3 v");
    assert_eq!(e.ev("DEL k nokey"), seq(&[("del", "k")]));
    e.c.cmd("SET k v");
    assert_eq!(e.ev("UNLINK k"), seq(&[("del", "k")]));
    e.c.cmd("SET k v");
    assert_eq!(e.ev("RENAME k k2"), seq(&[("rename_from", "k"), ("rename_to", "k2")]));
    assert_eq!(e.ev("RENAME k2 k3"), seq(&[("rename_from", "k2"), ("rename_to", "k3")]));
    assert_eq!(e.ev("RENAME k3 k3"), seq(&[]));
    assert_eq!(e.ev("RENAMENX k3 k4"), seq(&[("rename_from", "k3"), ("rename_to", "k4")]));
    // MOVE: each half in its own database.
    let mut want = both_in(0, "move_from", "k4");
    want.extend(both_in(1, "move_to", "k4"));
    assert_eq!(e.ev("MOVE k4 1"), want);
    e.c.cmd("SELECT 1");
    assert_eq!(e.ev("COPY k4 k5"), both_in(1, "copy_to", "k5"));
    assert_eq!(e.ev("COPY k4 k5"), seq(&[]));
    assert_eq!(e.ev("COPY k4 k5 DB 2"), both_in(2, "copy_to", "k5"));
    e.c.cmd("SELECT 0");
    e.c.cmd("SET t v");
    assert_eq!(e.ev("EXPIRE t 100"), seq(&[("expire", "t")]));
    assert_eq!(e.ev("PEXPIREAT t 9999999999999"), seq(&[("expire", "t")]));
    assert_eq!(e.ev("EXPIRE t 100 NX"), seq(&[]));
    assert_eq!(e.ev("PERSIST t"), seq(&[("persist", "t")]));
    assert_eq!(e.ev("PERSIST t"), seq(&[]));
    // An expire time in the past deletes the key: `del`, not `expire`.
    assert_eq!(e.ev("EXPIRE t -1"), seq(&[("del", "t")]));
    assert_eq!(e.ev("EXPIRE t 10"), seq(&[]));
    // Whole-database operations say nothing per key.
    e.c.cmd("MSET a 1 b 2");
    assert_eq!(e.ev("SWAPDB 0 1"), seq(&[]));
    assert_eq!(e.ev("FLUSHDB"), seq(&[]));
    assert_eq!(e.ev("FLUSHALL"), seq(&[]));
}

#[test]
fn hash_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    assert_eq!(e.ev("HSET h a 1 b 2"), seq(&[("hset", "h")]));
    assert_eq!(e.ev("HMSET h c 3"), seq(&[("hset", "h")]));
    assert_eq!(e.ev("HSETNX h a x"), seq(&[]));
    assert_eq!(e.ev("HSETNX h z x"), seq(&[("hset", "h")]));
    assert_eq!(e.ev("HINCRBY h n 1"), seq(&[("hincrby", "h")]));
    assert_eq!(e.ev("HINCRBYFLOAT h f 1.5"), seq(&[("hincrbyfloat", "h")]));
    assert_eq!(e.ev("HDEL h nofield"), seq(&[]));
    assert_eq!(e.ev("HDEL h a b"), seq(&[("hdel", "h")]));
    e.c.cmd("HSET g f v");
    // Removing the last field deletes the key: `hdel` then `del`.
    assert_eq!(e.ev("HDEL g f"), seq(&[("hdel", "g"), ("del", "g")]));
}

#[test]
fn list_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    assert_eq!(e.ev("LPUSH l a b c"), seq(&[("lpush", "l")]));
    assert_eq!(e.ev("RPUSH l d"), seq(&[("rpush", "l")]));
    assert_eq!(e.ev("LPUSHX l e"), seq(&[("lpush", "l")]));
    assert_eq!(e.ev("RPUSHX nol e"), seq(&[]));
    assert_eq!(e.ev("LINSERT l BEFORE a z"), seq(&[("linsert", "l")]));
    assert_eq!(e.ev("LINSERT l BEFORE nope z"), seq(&[]));
    assert_eq!(e.ev("LSET l 0 q"), seq(&[("lset", "l")]));
    assert_eq!(e.ev("LREM l 1 z"), seq(&[("lrem", "l")]));
    assert_eq!(e.ev("LREM l 1 nope"), seq(&[]));
    // LTRIM speaks even when it removes nothing.
    assert_eq!(e.ev("LTRIM l 0 100"), seq(&[("ltrim", "l")]));
    assert_eq!(e.ev("LPOP l"), seq(&[("lpop", "l")]));
    assert_eq!(e.ev("RPOP l 2"), seq(&[("rpop", "l")]));
    assert_eq!(e.ev("LPOP l 0"), seq(&[]));
    // LMOVE: the push onto the destination, then the pop from the source (and its
    // deletion once empty).
    assert_eq!(e.run("LRANGE l 0 -1").0, "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(e.ev("LMOVE l l2 LEFT RIGHT"), seq(&[("rpush", "l2"), ("lpop", "l")]));
    assert_eq!(e.ev("RPOPLPUSH l l2"), seq(&[("lpush", "l2"), ("rpop", "l"), ("del", "l")]));
    assert_eq!(e.ev("LTRIM l2 5 1"), seq(&[("ltrim", "l2"), ("del", "l2")]));
    e.c.cmd("RPUSH l3 a b c");
    assert_eq!(e.ev("LMPOP 2 nol l3 LEFT COUNT 2"), seq(&[("lpop", "l3")]));
    assert_eq!(e.ev("BRPOP nol l3 0"), seq(&[("rpop", "l3"), ("del", "l3")]));
    e.c.cmd("RPUSH l3 a");
    assert_eq!(e.ev("BLMOVE l3 l4 LEFT LEFT 0"), seq(&[("lpush", "l4"), ("lpop", "l3"), ("del", "l3")]));
    assert_eq!(e.ev("BLMPOP 0 1 l4 RIGHT"), seq(&[("rpop", "l4"), ("del", "l4")]));
}

#[test]
fn blocked_pop_served_by_a_push() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEl");
    let mut blocked = s.raw();
    blocked.send(&[b"BLPOP", b"q", b"0"]);
    assert!(common::eventually(Duration::from_secs(5), || { e.c.cmd("INFO clients").contains("blocked_clients:1") }));
    // The pusher's event, then the served client's pop and the list's deletion
    // (`del` is a generic event: filtered out here).
    assert_eq!(e.ev("LPUSH q x"), seq(&[("lpush", "q"), ("lpop", "q")]));
    assert_eq!(blocked.read(), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
}

#[test]
fn new_and_keymiss_events() {
    let s = Server::start();
    // `new` only when a key is created, ahead of the command's own event.
    let mut e = Events::new(&s, "En");
    assert_eq!(e.ev("SET foo bar"), vec!["__keyevent@0__:new foo"]);
    assert_eq!(e.ev("SET foo baz"), Vec::<String>::new());
    assert_eq!(e.ev("RPUSH l a"), vec!["__keyevent@0__:new l"]);
    e.c.cmd("CONFIG SET notify-keyspace-events KEAnm");
    // `A` shows alone but `n` and `m` still count.
    assert_eq!(e.c.cmd("CONFIG GET notify-keyspace-events"), "*2\r\n$22\r\nnotify-keyspace-events\r\n$4\r\nAKEm\r\n");
    assert_eq!(e.ev("HSET h f v"), seq(&[("new", "h"), ("hset", "h")]));
    assert_eq!(e.ev("RENAME h h2"), seq(&[("new", "h2"), ("rename_from", "h"), ("rename_to", "h2")]));
    assert_eq!(e.ev("GET nokey"), seq(&[("keymiss", "nokey")]));
    // SET ... GET and GETSET read first: the miss, then the creation.
    assert_eq!(e.ev("GETSET g 1"), seq(&[("keymiss", "g"), ("new", "g"), ("set", "g")]));
    assert_eq!(e.ev("MGET nokey foo"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("EXISTS nokey"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("TYPE nokey"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("TTL nokey"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("TOUCH nokey"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("HGET nokey f"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("LRANGE nokey 0 -1"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("PFCOUNT nokey"), seq(&[("keymiss", "nokey")]));
    // OBJECT and writes never raise `keymiss`.
    assert_eq!(e.ev("OBJECT ENCODING nokey"), seq(&[]));
    assert_eq!(e.ev("LPOP nokey"), seq(&[]));
    assert_eq!(e.ev("DEL nokey"), seq(&[]));
    // `A` alone includes neither.
    e.c.cmd("CONFIG SET notify-keyspace-events KEA");
    assert_eq!(e.ev("GET nokey"), seq(&[]));
    assert_eq!(e.ev("SET fresh 1"), seq(&[("set", "fresh")]));
}

#[test]
fn class_filtering_and_runtime_config() {
    let s = Server::start();
    let mut e = Events::new(&s, "Kl");
    // Only keyspace messages, only list events.
    assert_eq!(e.ev("SET s v"), Vec::<String>::new());
    assert_eq!(e.ev("RPUSH l a"), vec!["__keyspace@0__:l rpush"]);
    assert_eq!(e.ev("LPOP l"), vec!["__keyspace@0__:l lpop"]);
    e.c.cmd("CONFIG SET notify-keyspace-events E$");
    assert_eq!(e.ev("SET s v EX 100"), vec!["__keyevent@0__:set s"]);
    assert_eq!(e.ev("HSET h f v"), Vec::<String>::new());
    // Classes without K or E deliver nothing.
    e.c.cmd("CONFIG SET notify-keyspace-events A");
    assert_eq!(e.ev("SET s v"), Vec::<String>::new());
    e.c.cmd("CONFIG SET notify-keyspace-events Kh");
    assert_eq!(e.ev("HSET h f v"), vec!["__keyspace@0__:h hset"]);
    e.c.cmd_args(&[b"CONFIG", b"SET", b"notify-keyspace-events", b""]);
    assert_eq!(e.ev("HSET h f w"), Vec::<String>::new());
    // Another database numbers its channels.
    e.c.cmd("CONFIG SET notify-keyspace-events KE$");
    e.c.cmd("SELECT 3");
    assert_eq!(e.ev("SET s v"), both_in(3, "set", "s"));
}

#[test]
fn expired_events_active_and_lazy() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEx");
    // Active expiry: the cron finds the key.
    e.c.cmd("SET a 1 PX 50");
    let got = bulks(&e.sub.read());
    assert_eq!(got[2..], ["__keyspace@0__:a".to_string(), "expired".into()]);
    let got = bulks(&e.sub.read());
    assert_eq!(got[2..], ["__keyevent@0__:expired".to_string(), "a".into()]);
    // Lazy expiry: a lookup finds it first (the cron is off).
    assert_eq!(e.c.cmd("DEBUG SET-ACTIVE-EXPIRE 0"), "+OK\r\n");
    e.c.cmd("SET b 1 PX 20");
    e.drain();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(e.ev("GET b"), seq(&[("expired", "b")]));
    // A write over an expired key: `expired` then the write's own events.
    e.c.cmd("CONFIG SET notify-keyspace-events KEA");
    e.c.cmd("SET c 1 PX 20");
    e.drain();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(e.ev("LPUSH c x"), seq(&[("expired", "c"), ("lpush", "c")]));
    e.c.cmd("SET d 1 PX 20");
    e.drain();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(e.ev("DEL d"), seq(&[("expired", "d")]));
}

#[test]
fn resp3_client_gets_its_own_events_after_its_replies() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("CONFIG SET notify-keyspace-events KEA");
    c.cmd("HELLO 3");
    c.cmd("SUBSCRIBE __keyevent@0__:set");
    let push = |k: &str| format!(">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n${}\r\n{k}\r\n", k.len());
    assert_eq!(c.cmd("SET a 1"), "+OK\r\n");
    assert_eq!(c.read(), push("a"));
    // Inside a transaction: after EXEC's whole reply.
    assert_eq!(c.cmd("MULTI"), "+OK\r\n");
    assert_eq!(c.cmd("SET b 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("SET c 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*2\r\n+OK\r\n+OK\r\n");
    assert_eq!(c.read(), push("b"));
    assert_eq!(c.read(), push("c"));
    // Another client's events arrive as pushes too.
    let mut other = s.raw();
    other.cmd("SET d 1");
    assert_eq!(c.read(), push("d"));
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
}
