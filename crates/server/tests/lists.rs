//! List commands and the blocking pops against the real server, compared with Redis
//! 7.2's exact replies.

mod common;
use std::time::{Duration, Instant};

use common::{eventually, Raw, Server};

fn stream(c: &mut Raw) -> String {
    c.cmd("DEBUG REPL-STREAM 100000").replace("\r\n", " ")
}

fn info_field(c: &mut Raw, field: &str) -> String {
    let info = c.cmd("INFO clients");
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string)).unwrap()
}

/// Waits until `n` clients are blocked.
fn wait_blocked(c: &mut Raw, n: usize) {
    assert!(eventually(Duration::from_secs(5), || info_field(c, "blocked_clients") == n.to_string()), "expected {n} blocked");
}

#[test]
fn push_pop_range_index() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("RPUSH l a b c 1 2 3"), ":6\r\n");
    assert_eq!(c.cmd("LPUSH l x y"), ":8\r\n");
    assert_eq!(c.cmd("LRANGE l 0 2"), "*3\r\n$1\r\ny\r\n$1\r\nx\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("LRANGE l -2 100"), "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_eq!(c.cmd("LRANGE l 5 2"), "*0\r\n");
    assert_eq!(c.cmd("LRANGE l a 1"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("LRANGE nokey 0 -1"), "*0\r\n");
    assert_eq!(c.cmd("LINDEX l -1"), "$1\r\n3\r\n");
    assert_eq!(c.cmd("LINDEX l 100"), "$-1\r\n");
    assert_eq!(c.cmd("LINDEX l abc"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("LINDEX nokey abc"), "$-1\r\n");
    assert_eq!(c.cmd("LLEN l"), ":8\r\n");
    assert_eq!(c.cmd("LLEN nokey"), ":0\r\n");
    assert_eq!(c.cmd("LPOP l"), "$1\r\ny\r\n");
    assert_eq!(c.cmd("RPOP l"), "$1\r\n3\r\n");
    assert_eq!(c.cmd("LPOP l 2"), "*2\r\n$1\r\nx\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("RPOP l 2"), "*2\r\n$1\r\n2\r\n$1\r\n1\r\n");
    assert_eq!(c.cmd("LPOP l 0"), "*0\r\n");
    assert_eq!(c.cmd("LPOP l -1"), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.cmd("LPOP l abc"), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.cmd("LPOP l 1 2"), "-ERR wrong number of arguments for 'lpop' command\r\n");
    assert_eq!(c.cmd("LPOP nokey"), "$-1\r\n");
    assert_eq!(c.cmd("LPOP nokey 2"), "*-1\r\n");
    assert_eq!(c.cmd("LPOP nokey 0"), "*-1\r\n");
    // Popping the last elements deletes the key.
    assert_eq!(c.cmd("RPOP l 10"), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(c.cmd("EXISTS l"), ":0\r\n");
    assert_eq!(c.cmd("LPUSHX l a"), ":0\r\n");
    assert_eq!(c.cmd("RPUSHX l a"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS l"), ":0\r\n");
    c.cmd("RPUSH l m");
    assert_eq!(c.cmd("RPUSHX l n o"), ":3\r\n");
    assert_eq!(c.cmd("LPUSHX l k"), ":4\r\n");
    assert_eq!(c.cmd("LRANGE l 0 -1"), "*4\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\nn\r\n$1\r\no\r\n");
    // RESP3 null shapes.
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("LPOP nokey"), "_\r\n");
    assert_eq!(c.cmd("LPOP nokey 3"), "_\r\n");
    assert_eq!(c.cmd("LINDEX nokey 0"), "_\r\n");
}

#[test]
fn set_insert_rem_trim() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l a b c d e");
    assert_eq!(c.cmd("LSET l 1 B"), "+OK\r\n");
    assert_eq!(c.cmd("LSET l -1 E"), "+OK\r\n");
    assert_eq!(c.cmd("LSET l 10 X"), "-ERR index out of range\r\n");
    assert_eq!(c.cmd("LSET nokey 0 a"), "-ERR no such key\r\n");
    assert_eq!(c.cmd("LSET l abc a"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("LINSERT l BEFORE c C"), ":6\r\n");
    assert_eq!(c.cmd("LINSERT l after E F"), ":7\r\n");
    assert_eq!(c.cmd("LINSERT l middle c C"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("LINSERT l before zz C"), ":-1\r\n");
    assert_eq!(c.cmd("LINSERT nokey before a b"), ":0\r\n");
    assert_eq!(c.cmd("LRANGE l 0 -1"), "*7\r\n$1\r\na\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nE\r\n$1\r\nF\r\n");
    c.cmd("RPUSH r a b a c a b a");
    assert_eq!(c.cmd("LREM r 2 a"), ":2\r\n");
    assert_eq!(c.cmd("LREM r -1 a"), ":1\r\n");
    assert_eq!(c.cmd("LRANGE r 0 -1"), "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(c.cmd("LREM r 0 zzz"), ":0\r\n");
    assert_eq!(c.cmd("LREM r abc a"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("LTRIM r 1 -2"), "+OK\r\n");
    assert_eq!(c.cmd("LRANGE r 0 -1"), "*2\r\n$1\r\nc\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("LREM r 0 c"), ":1\r\n");
    assert_eq!(c.cmd("LREM r 0 a"), ":1\r\n");
    assert_eq!(c.cmd("EXISTS r"), ":0\r\n");
    assert_eq!(c.cmd("LTRIM l 5 1"), "+OK\r\n");
    assert_eq!(c.cmd("EXISTS l"), ":0\r\n");
    assert_eq!(c.cmd("LTRIM nokey 0 1"), "+OK\r\n");
    assert_eq!(c.cmd("LTRIM nokey a 1"), "-ERR value is not an integer or out of range\r\n");
}

#[test]
fn lpos_options_and_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH p a b c 1 2 3 c c");
    assert_eq!(c.cmd("LPOS p c"), ":2\r\n");
    assert_eq!(c.cmd("LPOS p c RANK 2"), ":6\r\n");
    assert_eq!(c.cmd("LPOS p c RANK -1"), ":7\r\n");
    assert_eq!(c.cmd("LPOS p c RANK -2 COUNT 0"), "*2\r\n:6\r\n:2\r\n");
    assert_eq!(c.cmd("LPOS p c COUNT 0"), "*3\r\n:2\r\n:6\r\n:7\r\n");
    assert_eq!(c.cmd("LPOS p c COUNT 2 MAXLEN 3"), "*1\r\n:2\r\n");
    assert_eq!(c.cmd("LPOS p 1"), ":3\r\n");
    assert_eq!(c.cmd("LPOS p zz"), "$-1\r\n");
    assert_eq!(c.cmd("LPOS p zz COUNT 1"), "*0\r\n");
    assert_eq!(c.cmd("LPOS nokey zz"), "$-1\r\n");
    assert_eq!(c.cmd("LPOS nokey zz COUNT 1"), "*0\r\n");
    assert_eq!(
        c.cmd("LPOS p c RANK 0"),
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
    assert_eq!(c.cmd("LPOS p c COUNT -1"), "-ERR COUNT can't be negative\r\n");
    assert_eq!(c.cmd("LPOS p c COUNT abc"), "-ERR COUNT can't be negative\r\n");
    assert_eq!(c.cmd("LPOS p c MAXLEN -1"), "-ERR MAXLEN can't be negative\r\n");
    assert_eq!(c.cmd("LPOS p c RANK abc"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        c.cmd("LPOS p c RANK -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(c.cmd("LPOS p c foo"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("LPOS p c RANK"), "-ERR syntax error\r\n");
}

#[test]
fn move_and_mpop() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH p a b c");
    assert_eq!(c.cmd("LMOVE p p2 LEFT RIGHT"), "$1\r\na\r\n");
    assert_eq!(c.cmd("LMOVE p p2 right left"), "$1\r\nc\r\n");
    assert_eq!(c.cmd("LMOVE p p2 up left"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("LMOVE nokey p2 left left"), "$-1\r\n");
    assert_eq!(c.cmd("LRANGE p2 0 -1"), "*2\r\n$1\r\nc\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("RPOPLPUSH p p2"), "$1\r\nb\r\n");
    assert_eq!(c.cmd("EXISTS p"), ":0\r\n");
    // Rotation on one key.
    assert_eq!(c.cmd("RPOPLPUSH p2 p2"), "$1\r\na\r\n");
    assert_eq!(c.cmd("LRANGE p2 0 -1"), "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    c.cmd("SET s str");
    assert_eq!(c.cmd("LMOVE p2 s left left"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.cmd("LLEN p2"), ":3\r\n");
    assert_eq!(c.cmd("LMPOP 2 nokey p2 LEFT"), "*2\r\n$2\r\np2\r\n*1\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("LMPOP 2 nokey p2 RIGHT COUNT 5"), "*2\r\n$2\r\np2\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(c.cmd("EXISTS p2"), ":0\r\n");
    assert_eq!(c.cmd("LMPOP 1 nokey LEFT"), "*-1\r\n");
    assert_eq!(c.cmd("LMPOP 1 s LEFT"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.cmd("LMPOP 0 p LEFT"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(c.cmd("LMPOP abc p LEFT"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(c.cmd("LMPOP 3 p LEFT"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("LMPOP 1 p middle"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("LMPOP 1 p LEFT COUNT 0"), "-ERR count should be greater than 0\r\n");
    assert_eq!(c.cmd("LMPOP 1 p LEFT COUNT 1 COUNT 2"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("LMPOP 1 p LEFT foo"), "-ERR syntax error\r\n");
}

#[test]
fn wrongtype_everywhere() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET s str");
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "LPOP s 0",
        "RPOP s 2",
        "LRANGE s 0 1",
        "LLEN s",
        "LINDEX s 0",
        "LSET s 0 a",
        "LINSERT s before a b",
        "LREM s 0 a",
        "LTRIM s 0 1",
        "LPOS s a",
        "LMOVE s x left right",
        "RPOPLPUSH s x",
        "LMPOP 1 s left",
        "BLPOP s 0",
        "BRPOP s 0",
        "BLMOVE s x left left 0",
        "BRPOPLPUSH s x 0",
        "BLMPOP 0 1 s left",
    ] {
        assert_eq!(c.cmd(cmd), wt, "{cmd}");
    }
    assert_eq!(c.cmd("GET s"), "$3\r\nstr\r\n");
}

fn encoding(c: &mut Raw, key: &str) -> String {
    c.cmd(&format!("OBJECT ENCODING {key}"))
}

#[test]
fn encodings_follow_redis_thresholds() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH small a b c");
    assert_eq!(encoding(&mut c, "small"), "$8\r\nlistpack\r\n");
    // Default -2: 8 KB per node. 1000 short items stay a listpack in 7.2.
    for i in 0..10 {
        let args: Vec<String> = (0..100).map(|j| (i * 100 + j).to_string()).collect();
        c.cmd(&format!("RPUSH ints {}", args.join(" ")));
    }
    assert_eq!(encoding(&mut c, "ints"), "$8\r\nlistpack\r\n");
    // A big element converts before it is pushed.
    let big = "x".repeat(9000);
    c.cmd(&format!("RPUSH big a {big}"));
    assert_eq!(encoding(&mut c, "big"), "$9\r\nquicklist\r\n");
    // Shrinking back needs one node at most half full.
    assert_eq!(c.cmd("RPOP big"), format!("${}\r\n{big}\r\n", big.len()));
    assert_eq!(encoding(&mut c, "big"), "$8\r\nlistpack\r\n");
    // Size boundary: 8192 bytes of listpack (7 header bytes, 2 per entry + payload).
    let v = "y".repeat(61); // 63 bytes per entry in Redis's listpack
    for _ in 0..129 {
        c.cmd(&format!("RPUSH edge {v}"));
    }
    // 7 + 129 * 63 = 8134; the next push checks 8134 + 61 > 8192.
    assert_eq!(encoding(&mut c, "edge"), "$8\r\nlistpack\r\n");
    c.cmd(&format!("RPUSH edge {v}"));
    assert_eq!(encoding(&mut c, "edge"), "$9\r\nquicklist\r\n");
    // Count-based fill after CONFIG SET.
    assert_eq!(c.cmd("CONFIG SET list-max-listpack-size 4"), "+OK\r\n");
    c.cmd("RPUSH cnt 1 2 3 4");
    assert_eq!(encoding(&mut c, "cnt"), "$8\r\nlistpack\r\n");
    c.cmd("RPUSH cnt 5");
    assert_eq!(encoding(&mut c, "cnt"), "$9\r\nquicklist\r\n");
    c.cmd("RPOP cnt 2");
    // One node of 3 > 4/2 entries: still a quicklist.
    assert_eq!(encoding(&mut c, "cnt"), "$9\r\nquicklist\r\n");
    c.cmd("RPOP cnt");
    c.cmd("LPOP cnt");
    assert_eq!(encoding(&mut c, "cnt"), "$8\r\nlistpack\r\n");
    assert_eq!(c.cmd("LRANGE cnt 0 -1"), "*1\r\n$1\r\n2\r\n");
    // Walks across many small nodes from both ends.
    c.cmd("DEL many");
    let args: Vec<String> = (0..50).map(|j| j.to_string()).collect();
    c.cmd(&format!("RPUSH many {}", args.join(" ")));
    assert_eq!(c.cmd("LINDEX many 37"), "$2\r\n37\r\n");
    assert_eq!(c.cmd("LINDEX many -37"), "$2\r\n13\r\n");
    assert_eq!(c.cmd("LSET many 21 x"), "+OK\r\n");
    assert_eq!(c.cmd("LRANGE many 19 23"), "*5\r\n$2\r\n19\r\n$2\r\n20\r\n$1\r\nx\r\n$2\r\n22\r\n$2\r\n23\r\n");
    assert_eq!(c.cmd("LINSERT many AFTER 30 y"), ":51\r\n");
    assert_eq!(c.cmd("LRANGE many 30 32"), "*3\r\n$2\r\n30\r\n$1\r\ny\r\n$2\r\n31\r\n");
    assert_eq!(c.cmd("LREM many 0 y"), ":1\r\n");
    assert_eq!(c.cmd("LTRIM many 10 -11"), "+OK\r\n");
    assert_eq!(c.cmd("LLEN many"), ":30\r\n");
    assert_eq!(c.cmd("LINDEX many 0"), "$2\r\n10\r\n");
}

#[test]
fn write_stream_effects() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l a b c d");
    c.cmd("LPOP l 0");
    c.cmd("LPOP nokey");
    c.cmd("LREM l 0 zz");
    c.cmd("BLPOP l 0");
    c.cmd("BLMOVE l l2 RIGHT LEFT 0");
    c.cmd("BRPOPLPUSH l l2 0");
    c.cmd("BLMPOP 0 2 nokey l2 LEFT COUNT 10");
    let st = stream(&mut c);
    assert!(st.contains("*6 $5 RPUSH $1 l $1 a $1 b $1 c $1 d "), "{st}");
    assert!(!st.contains("nokey") && !st.contains("zz") && !st.contains("LPOP $1 l $1 0"), "no-ops must not be propagated: {st}");
    assert!(st.contains("*2 $4 LPOP $1 l "), "{st}");
    assert!(st.contains("*5 $5 LMOVE $1 l $2 l2 $5 RIGHT $4 LEFT "), "{st}");
    assert!(st.contains("*3 $9 RPOPLPUSH $1 l $2 l2 "), "{st}");
    assert!(st.contains("*3 $4 LPOP $2 l2 $1 2 "), "{st}");
    assert!(!st.contains("BLPOP") && !st.contains("BLMPOP") && !st.contains("BLMOVE"), "{st}");
}

#[test]
fn blocking_fifo_and_immediate_consumption() {
    let s = Server::start();
    let mut m = s.raw();
    let mut cs: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for (i, c) in cs.iter_mut().enumerate() {
        c.send(&[b"BLPOP", b"q", b"0"]);
        wait_blocked(&mut m, i + 1);
    }
    assert_eq!(info_field(&mut m, "total_blocking_keys"), "1");
    assert_eq!(m.cmd("RPUSH q a b c"), ":3\r\n");
    // The pusher's next command already sees every element taken.
    assert_eq!(m.cmd("EXISTS q"), ":0\r\n");
    for (c, v) in cs.iter_mut().zip(["a", "b", "c"]) {
        assert_eq!(c.read(), format!("*2\r\n$1\r\nq\r\n$1\r\n{v}\r\n"));
    }
    assert_eq!(info_field(&mut m, "blocked_clients"), "0");
    // Two waiters, one element: the first gets it, the second keeps waiting.
    cs[0].send(&[b"BRPOP", b"k1", b"k2", b"0"]);
    wait_blocked(&mut m, 1);
    cs[1].send(&[b"BRPOP", b"k2", b"0"]);
    wait_blocked(&mut m, 2);
    assert_eq!(m.cmd("RPUSH k2 x"), ":1\r\n");
    assert_eq!(cs[0].read(), "*2\r\n$2\r\nk2\r\n$1\r\nx\r\n");
    assert_eq!(info_field(&mut m, "blocked_clients"), "1");
    assert_eq!(m.cmd("LPUSH k2 y"), ":1\r\n");
    assert_eq!(cs[1].read(), "*2\r\n$2\r\nk2\r\n$1\r\ny\r\n");
    // The stream shows the pops as their non-blocking forms.
    let st = stream(&mut m);
    assert!(st.contains("*2 $4 RPOP $2 k2 "), "{st}");
}

#[test]
fn blocking_timeouts() {
    let s = Server::start();
    let mut c = s.raw();
    let t = Instant::now();
    assert_eq!(c.cmd("BLPOP nothing 0.1"), "*-1\r\n");
    let el = t.elapsed();
    assert!(el >= Duration::from_millis(90) && el < Duration::from_millis(1500), "{el:?}");
    assert_eq!(c.cmd("BLMOVE nothing x LEFT LEFT 0.05"), "*-1\r\n");
    assert_eq!(c.cmd("BRPOPLPUSH nothing x 0.05"), "*-1\r\n");
    assert_eq!(c.cmd("BLMPOP 0.05 1 nothing LEFT"), "*-1\r\n");
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("BLPOP nothing 0.05"), "_\r\n");
    c.cmd("HELLO 2");
    assert_eq!(c.cmd("BLPOP nothing -1"), "-ERR timeout is negative\r\n");
    assert_eq!(c.cmd("BLPOP nothing abc"), "-ERR timeout is not a float or out of range\r\n");
    assert_eq!(c.cmd("BLMOVE a b foo LEFT abc"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("BLMPOP abc 1 a LEFT"), "-ERR timeout is not a float or out of range\r\n");
    assert_eq!(c.cmd("BLMPOP 0 0 a LEFT"), "-ERR numkeys should be greater than 0\r\n");
    // 0 waits for ever: still blocked after a while, served on push.
    let mut w = s.raw();
    w.send(&[b"BLPOP", b"forever", b"0"]);
    wait_blocked(&mut c, 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info_field(&mut c, "blocked_clients"), "1");
    c.cmd("RPUSH forever v");
    assert_eq!(w.read(), "*2\r\n$7\r\nforever\r\n$1\r\nv\r\n");
}

#[test]
fn blmove_chain_and_wrongtype_destination() {
    let s = Server::start();
    let mut m = s.raw();
    let mut a = s.raw();
    let mut b = s.raw();
    let mut d = s.raw();
    a.send(&[b"BLMOVE", b"c1", b"c2", b"LEFT", b"RIGHT", b"0"]);
    wait_blocked(&mut m, 1);
    b.send(&[b"BLMOVE", b"c2", b"c3", b"LEFT", b"RIGHT", b"0"]);
    wait_blocked(&mut m, 2);
    d.send(&[b"BRPOPLPUSH", b"c3", b"c4", b"0"]);
    wait_blocked(&mut m, 3);
    assert_eq!(m.cmd("RPUSH c1 v"), ":1\r\n");
    assert_eq!(m.cmd("LRANGE c4 0 -1"), "*1\r\n$1\r\nv\r\n");
    assert_eq!(m.cmd("EXISTS c1 c2 c3"), ":0\r\n");
    for c in [&mut a, &mut b, &mut d] {
        assert_eq!(c.read(), "$1\r\nv\r\n");
    }
    // A wrong-type destination: the blocked client gets WRONGTYPE, the element stays.
    m.cmd("SET wt str");
    a.send(&[b"BRPOPLPUSH", b"src", b"wt", b"0"]);
    wait_blocked(&mut m, 1);
    assert_eq!(m.cmd("RPUSH src e"), ":1\r\n");
    assert_eq!(a.read(), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(m.cmd("LRANGE src 0 -1"), "*1\r\n$1\r\ne\r\n");
    assert_eq!(info_field(&mut m, "blocked_clients"), "0");
}

/// Keys made ready by a served blocked command are served after the keys that were
/// already ready, as Redis does: here l3 (filled by rd1's BRPOPLPUSH) comes after l2,
/// so rd2 gets l2's element and rd3 (waiting on l2 and l3) gets l3's.
#[test]
fn nested_unblock_keeps_the_ready_order() {
    let s = Server::start();
    let mut m = s.raw();
    let (mut rd1, mut rd2, mut rd3) = (s.raw(), s.raw(), s.raw());
    rd1.send(&[b"BRPOPLPUSH", b"l1", b"l3", b"0"]);
    wait_blocked(&mut m, 1);
    rd2.send(&[b"BLPOP", b"l2", b"0"]);
    wait_blocked(&mut m, 2);
    rd3.send(&[b"BLMPOP", b"0", b"2", b"l2", b"l3", b"LEFT", b"COUNT", b"1"]);
    wait_blocked(&mut m, 3);
    assert_eq!(m.cmd("MULTI"), "+OK\r\n");
    m.cmd("LPUSH l1 1");
    m.cmd("LPUSH l2 2");
    assert_eq!(m.cmd("EXEC"), "*2\r\n:1\r\n:1\r\n");
    assert_eq!(rd1.read(), "$1\r\n1\r\n");
    assert_eq!(rd2.read(), "*2\r\n$2\r\nl2\r\n$1\r\n2\r\n");
    assert_eq!(rd3.read(), "*2\r\n$2\r\nl3\r\n*1\r\n$1\r\n1\r\n");
    assert_eq!(info_field(&mut m, "blocked_clients"), "0");
}

#[test]
fn blocked_clients_leave_nothing_behind() {
    let s = Server::start();
    let mut m = s.raw();
    {
        let mut gone = s.raw();
        gone.send(&[b"BLPOP", b"dd", b"0"]);
        wait_blocked(&mut m, 1);
        gone.w.shutdown(std::net::Shutdown::Both).unwrap();
    }
    wait_blocked(&mut m, 0);
    assert_eq!(info_field(&mut m, "total_blocking_keys"), "0");
    assert_eq!(m.cmd("RPUSH dd v"), ":1\r\n");
    assert_eq!(m.cmd("LRANGE dd 0 -1"), "*1\r\n$1\r\nv\r\n");
    // CLIENT UNBLOCK, as a timeout and as an error.
    let mut c = s.raw();
    let id = c.cmd("CLIENT ID");
    let id = id.trim_start_matches(':').trim();
    c.send(&[b"BLPOP", b"u", b"0"]);
    wait_blocked(&mut m, 1);
    assert_eq!(m.cmd(&format!("CLIENT UNBLOCK {id} TIMEOUT")), ":1\r\n");
    assert_eq!(c.read(), "*-1\r\n");
    c.send(&[b"BLMPOP", b"0", b"1", b"u", b"LEFT"]);
    wait_blocked(&mut m, 1);
    assert_eq!(m.cmd(&format!("CLIENT UNBLOCK {id} ERROR")), ":1\r\n");
    assert_eq!(c.read(), "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    assert_eq!(m.cmd(&format!("CLIENT UNBLOCK {id}")), ":0\r\n");
    assert_eq!(info_field(&mut m, "blocked_clients"), "0");
    // The connection goes on normally afterwards.
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
}

#[test]
fn rename_and_blmpop_wake_waiters() {
    let s = Server::start();
    let mut m = s.raw();
    let mut c = s.raw();
    c.send(&[b"BLPOP", b"rn", b"0"]);
    wait_blocked(&mut m, 1);
    m.cmd("RPUSH tmp x y");
    assert_eq!(m.cmd("RENAME tmp rn"), "+OK\r\n");
    assert_eq!(c.read(), "*2\r\n$2\r\nrn\r\n$1\r\nx\r\n");
    assert_eq!(m.cmd("LRANGE rn 0 -1"), "*1\r\n$1\r\ny\r\n");
    c.send(&[b"BLMPOP", b"0", b"2", b"b1", b"b2", b"RIGHT", b"COUNT", b"5"]);
    wait_blocked(&mut m, 1);
    assert_eq!(m.cmd("RPUSH b2 1 2 3"), ":3\r\n");
    assert_eq!(c.read(), "*2\r\n$2\r\nb2\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n");
    assert_eq!(m.cmd("EXISTS b2"), ":0\r\n");
    let st = stream(&mut m);
    assert!(st.contains("*3 $4 RPOP $2 b2 $1 3 "), "{st}");
}

#[test]
fn blocked_command_counted_once() {
    let s = Server::start();
    let mut m = s.raw();
    let mut c = s.raw();
    let id = c.cmd("CLIENT ID");
    let id = id.trim_start_matches(':').trim().to_string();
    let stat = |m: &mut Raw| {
        let info = m.cmd("INFO commandstats");
        info.lines().find(|l| l.starts_with("cmdstat_blpop:")).map(|l| l.split(',').next().unwrap().to_string())
    };
    m.cmd("CONFIG RESETSTAT");
    c.send(&[b"BLPOP", b"cs", b"0"]);
    wait_blocked(&mut m, 1);
    assert_eq!(stat(&mut m), None);
    m.cmd("LPUSH cs 1");
    assert_eq!(c.read(), "*2\r\n$2\r\ncs\r\n$1\r\n1\r\n");
    assert_eq!(stat(&mut m).as_deref(), Some("cmdstat_blpop:calls=1"));
    m.cmd("CONFIG RESETSTAT");
    c.send(&[b"BLPOP", b"cs", b"0"]);
    wait_blocked(&mut m, 1);
    m.cmd(&format!("CLIENT UNBLOCK {id} TIMEOUT"));
    assert_eq!(c.read(), "*-1\r\n");
    assert_eq!(stat(&mut m).as_deref(), Some("cmdstat_blpop:calls=1"));
    m.cmd("CONFIG RESETSTAT");
    assert_eq!(c.cmd("BLPOP cs 0.05"), "*-1\r\n");
    assert_eq!(stat(&mut m).as_deref(), Some("cmdstat_blpop:calls=1"));
}
