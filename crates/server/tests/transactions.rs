//! MULTI/EXEC/DISCARD/WATCH against the real server, with Redis 7.2's exact replies,
//! several clients at once, and the write stream's MULTI ... EXEC unit.

mod common;
use common::Server;

#[test]
fn queue_exec_and_discard() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("MULTI"), "+OK\r\n");
    assert_eq!(c.cmd("SET a 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("INCR a"), "+QUEUED\r\n");
    assert_eq!(c.cmd("INCR nosuch-type-check"), "+QUEUED\r\n");
    assert_eq!(c.cmd("GET a"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*4\r\n+OK\r\n:2\r\n:1\r\n$1\r\n2\r\n");
    assert_eq!(c.cmd("EXEC"), "-ERR EXEC without MULTI\r\n");
    assert_eq!(c.cmd("DISCARD"), "-ERR DISCARD without MULTI\r\n");
    assert_eq!(c.cmd("MULTI"), "+OK\r\n");
    assert_eq!(c.cmd("MULTI"), "-ERR MULTI calls can not be nested\r\n");
    assert_eq!(c.cmd("SET a 5"), "+QUEUED\r\n");
    assert_eq!(c.cmd("DISCARD"), "+OK\r\n");
    assert_eq!(c.cmd("GET a"), "$1\r\n2\r\n");
    // An empty transaction.
    assert_eq!(c.cmd("MULTI"), "+OK\r\n");
    assert_eq!(c.cmd("EXEC"), "*0\r\n");
}

#[test]
fn queueing_errors_abort_and_runtime_errors_do_not() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("MULTI");
    assert!(c.cmd("NOSUCHCMD x").starts_with("-ERR unknown command 'NOSUCHCMD'"));
    assert_eq!(c.cmd("SET a"), "-ERR wrong number of arguments for 'set' command\r\n");
    assert_eq!(c.cmd("SET a 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(c.cmd("EXISTS a"), ":0\r\n");
    // The flag does not leak into the next transaction.
    c.cmd("MULTI");
    c.cmd("SET s hello");
    c.cmd("INCR s");
    c.cmd("SET t 1");
    assert_eq!(c.cmd("EXEC"), "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n");
    assert_eq!(c.cmd("GET t"), "$1\r\n1\r\n");
    // Commands that may not run inside a transaction.
    c.cmd("MULTI");
    assert_eq!(c.cmd("SYNC"), "-ERR Command not allowed inside a transaction\r\n");
    assert_eq!(c.cmd("EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(c.cmd("WATCH x"), "+OK\r\n");
    c.cmd("MULTI");
    assert_eq!(c.cmd("WATCH x"), "-ERR WATCH inside MULTI is not allowed\r\n");
    assert_eq!(c.cmd("PING"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*1\r\n+PONG\r\n");
}

#[test]
fn watch_aborts_on_writes_by_others() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd("SET k 1");
    assert_eq!(a.cmd("WATCH k"), "+OK\r\n");
    b.cmd("SET k 2");
    a.cmd("MULTI");
    a.cmd("SET k 3");
    assert_eq!(a.cmd("EXEC"), "*-1\r\n");
    assert_eq!(a.cmd("GET k"), "$1\r\n2\r\n");
    // After EXEC (failed or not) nothing is watched any more.
    b.cmd("SET k 4");
    a.cmd("MULTI");
    a.cmd("SET k 5");
    assert_eq!(a.cmd("EXEC"), "*1\r\n+OK\r\n");
    // Untouched watched keys let EXEC through; UNWATCH forgets.
    a.cmd("WATCH k other");
    b.cmd("SET unrelated 1");
    a.cmd("MULTI");
    a.cmd("GET k");
    assert_eq!(a.cmd("EXEC"), "*1\r\n$1\r\n5\r\n");
    a.cmd("WATCH k");
    b.cmd("SET k 6");
    assert_eq!(a.cmd("UNWATCH"), "+OK\r\n");
    a.cmd("MULTI");
    a.cmd("PING");
    assert_eq!(a.cmd("EXEC"), "*1\r\n+PONG\r\n");
    // The watch is on the key in the database it was watched in.
    a.cmd("SELECT 1");
    a.cmd("WATCH k");
    b.cmd("SET k 7"); // database 0
    a.cmd("MULTI");
    a.cmd("PING");
    assert_eq!(a.cmd("EXEC"), "*1\r\n+PONG\r\n");
    // EXPIRE, DEL, FLUSHDB and SWAPDB touch watched keys.
    a.cmd("SELECT 0");
    for touch in ["EXPIRE k 100", "DEL k", "FLUSHDB", "SWAPDB 0 1"] {
        b.cmd("SET k 1");
        a.cmd("WATCH k");
        b.cmd(touch);
        a.cmd("MULTI");
        a.cmd("PING");
        assert_eq!(a.cmd("EXEC"), "*-1\r\n", "{touch} should touch the watched key");
        b.cmd("FLUSHALL");
    }
    // FLUSHALL does not touch keys that do not exist.
    a.cmd("WATCH absent");
    b.cmd("FLUSHALL");
    a.cmd("MULTI");
    a.cmd("PING");
    assert_eq!(a.cmd("EXEC"), "*1\r\n+PONG\r\n");
    // DISCARD unwatches too.
    a.cmd("WATCH k");
    a.cmd("MULTI");
    a.cmd("DISCARD");
    b.cmd("SET k 9");
    a.cmd("MULTI");
    a.cmd("PING");
    assert_eq!(a.cmd("EXEC"), "*1\r\n+PONG\r\n");
}

#[test]
fn watched_key_that_expires_aborts_but_stale_keys_do_not() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("DEBUG SET-ACTIVE-EXPIRE 0");
    c.cmd("SET x foo PX 100");
    c.cmd("WATCH x");
    std::thread::sleep(std::time::Duration::from_millis(150));
    c.cmd("MULTI");
    c.cmd("PING");
    assert_eq!(c.cmd("EXEC"), "*-1\r\n");
    // Already expired when watched: deleting it by expiry is no change.
    c.cmd("SET y foo PX 1");
    std::thread::sleep(std::time::Duration::from_millis(5));
    c.cmd("WATCH y");
    assert_eq!(c.cmd("EXISTS y"), ":0\r\n");
    c.cmd("MULTI");
    c.cmd("PING");
    assert_eq!(c.cmd("EXEC"), "*1\r\n+PONG\r\n");
}

#[test]
fn exec_is_atomic_for_other_clients() {
    let s = Server::start();
    let port = s.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A reader that must never see the two keys differ.
    let st = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut c = common::Raw::connect(port);
        let mut seen = 0;
        while !st.load(std::sync::atomic::Ordering::Relaxed) {
            let r = c.cmd("MGET a b");
            let vals: Vec<&str> = r.lines().filter(|l| !l.starts_with('*') && !l.starts_with('$')).collect();
            if vals.len() == 2 {
                assert_eq!(vals[0], vals[1], "EXEC seen half done: {r:?}");
                seen += 1;
            }
        }
        seen
    });
    let mut w = s.raw();
    for i in 0..2000 {
        w.cmd("MULTI");
        w.cmd(&format!("SET a {i}"));
        w.cmd(&format!("SET b {i}"));
        assert_eq!(w.cmd("EXEC"), "*2\r\n+OK\r\n+OK\r\n");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

#[test]
fn transaction_enters_the_write_stream_as_one_unit() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET before 1");
    c.cmd("MULTI");
    c.cmd("SET a 1");
    c.cmd("GET a");
    c.cmd("INCR a");
    c.cmd("EXEC");
    let stream = c.cmd("DEBUG REPL-STREAM");
    let tail = "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*1\r\n$4\r\nEXEC\r\n";
    assert!(stream.contains(tail), "stream: {stream:?}");
}

/// SWAPDB and stale (expired, not yet deleted) keys, as Redis 7.2: a missing key
/// replaced by a stale one, or a stale key by another, is no change; a live key
/// replaced by anything, or a missing one by a live key, is.
#[test]
fn swapdb_and_watched_stale_keys() {
    let s = Server::start();
    let mut c = s.raw();
    let exec_after = |c: &mut common::Raw, setup: &[&str]| -> String {
        c.cmd("FLUSHALL");
        c.cmd("DEBUG SET-ACTIVE-EXPIRE 0");
        for line in setup {
            c.cmd(line);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        c.cmd("SELECT 1");
        assert_eq!(c.cmd("WATCH x"), "+OK\r\n");
        assert_eq!(c.cmd("SWAPDB 0 1"), "+OK\r\n");
        c.cmd("MULTI");
        c.cmd("PING");
        let r = c.cmd("EXEC");
        c.cmd("SELECT 0");
        r
    };
    const RAN: &str = "*1\r\n+PONG\r\n";
    const ABORTED: &str = "*-1\r\n";
    assert_eq!(exec_after(&mut c, &["SELECT 0", "SET x foo PX 1"]), RAN, "missing key replaced with a stale one");
    assert_eq!(exec_after(&mut c, &["SELECT 1", "SET x foo PX 1", "SELECT 0", "SET x bar PX 1"]), RAN, "stale by stale");
    assert_eq!(exec_after(&mut c, &["SELECT 1", "SET x foo PX 1"]), RAN, "stale key replaced with nothing");
    assert_eq!(exec_after(&mut c, &["SELECT 0", "SET x foo"]), ABORTED, "missing key replaced with a live one");
    assert_eq!(exec_after(&mut c, &["SELECT 1", "SET x foo"]), ABORTED, "live key replaced with nothing");
    assert_eq!(exec_after(&mut c, &["SELECT 1", "SET x foo PX 1", "SELECT 0", "SET x bar"]), ABORTED, "stale key by a live one");
}
