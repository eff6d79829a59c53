//! SORT and SORT_RO against the real server, compared with Redis 7.2.6's exact replies,
//! stored encodings and write-stream effects.

mod common;
use std::time::Duration;

use common::{eventually, Raw, Server};

/// The bulk strings of a flat array reply, in order (`nil` for null bulks).
fn bulks(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n");
    assert!(reply.starts_with('*'), "not an array: {reply:?}");
    lines.next();
    while let Some(l) = lines.next() {
        if l == "$-1" || l == "_" {
            out.push("nil".to_string());
        } else if l.starts_with('$') {
            out.push(lines.next().unwrap().to_string());
        }
    }
    out
}

fn sorted(c: &mut Raw, line: &str) -> Vec<String> {
    bulks(&c.cmd(line))
}

fn stream(c: &mut Raw) -> String {
    c.cmd("DEBUG REPL-STREAM 10000000").replace("\r\n", " ")
}

fn info_field(c: &mut Raw, field: &str) -> String {
    let info = c.cmd("INFO");
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string)).unwrap()
}

#[test]
fn numeric_alpha_order_and_limit() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l 3 1 2 10 -1 1.5");
    assert_eq!(sorted(&mut c, "SORT l"), ["-1", "1", "1.5", "2", "3", "10"]);
    assert_eq!(sorted(&mut c, "SORT l DESC"), ["10", "3", "2", "1.5", "1", "-1"]);
    assert_eq!(sorted(&mut c, "SORT l ALPHA"), ["-1", "1", "1.5", "10", "2", "3"]);
    assert_eq!(sorted(&mut c, "SORT l ALPHA DESC"), ["3", "2", "10", "1.5", "1", "-1"]);
    // The last of ASC/DESC wins.
    assert_eq!(sorted(&mut c, "SORT l desc asc"), ["-1", "1", "1.5", "2", "3", "10"]);
    assert_eq!(sorted(&mut c, "SORT l LIMIT 1 2"), ["1", "1.5"]);
    assert_eq!(c.cmd("SORT l LIMIT 0 0"), "*0\r\n");
    assert_eq!(c.cmd("SORT l LIMIT 10 2"), "*0\r\n");
    assert_eq!(sorted(&mut c, "SORT l LIMIT -5 2"), ["-1", "1"]);
    // A negative count means "to the end".
    assert_eq!(sorted(&mut c, "SORT l LIMIT 4 -3"), ["3", "10"]);
    assert_eq!(sorted(&mut c, "SORT l LIMIT 5 9223372036854775807"), ["10"]);
    assert_eq!(sorted(&mut c, "SORT_RO l LIMIT 0 2 DESC"), ["10", "3"]);
    // Equal scores are ordered by the element bytes (descending too).
    c.cmd("RPUSH t 1.0 1 01 b a");
    assert_eq!(c.cmd("SORT t"), "-ERR One or more scores can't be converted into double\r\n");
    c.cmd("DEL t");
    c.cmd("RPUSH t 1.0 1 01 1e0");
    assert_eq!(sorted(&mut c, "SORT t"), ["01", "1", "1.0", "1e0"]);
    assert_eq!(sorted(&mut c, "SORT t DESC"), ["1e0", "1.0", "1", "01"]);
    // Missing key: an empty list; wrong type is an error after option parsing.
    assert_eq!(c.cmd("SORT nokey"), "*0\r\n");
    assert_eq!(c.cmd("SORT nokey ALPHA DESC LIMIT 0 1"), "*0\r\n");
    c.cmd("SET str x");
    assert_eq!(c.cmd("SORT str"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.cmd("SORT_RO str"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    c.cmd("HSET h f v");
    assert_eq!(c.cmd("SORT h"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.cmd("SORT str foo"), "-ERR syntax error\r\n");
}

#[test]
fn option_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l 1 2");
    assert_eq!(c.cmd("SORT"), "-ERR wrong number of arguments for 'sort' command\r\n");
    assert_eq!(c.cmd("SORT_RO"), "-ERR wrong number of arguments for 'sort_ro' command\r\n");
    assert_eq!(c.cmd("SORT l foo"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SORT l LIMIT 1"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SORT l LIMIT a 1"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SORT l LIMIT 1 1.5"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SORT l LIMIT 0 99999999999999999999"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SORT l BY"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SORT l GET"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SORT l STORE"), "-ERR syntax error\r\n");
    // The first bad option decides the error.
    assert_eq!(c.cmd("SORT l foo LIMIT a b"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SORT l LIMIT a b foo"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SORT_RO l STORE dst"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("EXISTS dst"), ":0\r\n");
    // Options are case-insensitive.
    assert_eq!(sorted(&mut c, "sort l limit 0 1 desc"), ["2"]);
}

#[test]
fn weights_are_read_like_strtod() {
    let s = Server::start();
    let mut c = s.raw();
    let bad = "-ERR One or more scores can't be converted into double\r\n";
    let check = |c: &mut Raw, v: &[u8]| {
        c.cmd("DEL l");
        c.send(&[b"RPUSH", b"l", v, b"3"]);
        c.read();
        c.cmd("SORT l")
    };
    // Leading spaces, hex floats, infinities and a lone empty string convert.
    assert_eq!(bulks(&check(&mut c, b" 12")), ["3", " 12"]);
    assert_eq!(bulks(&check(&mut c, b"0x10")), ["3", "0x10"]);
    assert_eq!(bulks(&check(&mut c, b"0x1p1")), ["0x1p1", "3"]);
    assert_eq!(bulks(&check(&mut c, b"inf")), ["3", "inf"]);
    assert_eq!(bulks(&check(&mut c, b"-Infinity")), ["-Infinity", "3"]);
    assert_eq!(bulks(&check(&mut c, b"+.5")), ["+.5", "3"]);
    assert_eq!(bulks(&check(&mut c, b"5.")), ["3", "5."]);
    assert_eq!(bulks(&check(&mut c, b"")), ["", "3"]);
    assert_eq!(bulks(&check(&mut c, b"2.2250738585072014e-308")), ["2.2250738585072014e-308", "3"]);
    // Parsing stops at a NUL byte, as in C.
    assert_eq!(check(&mut c, b"5\0junk"), "*2\r\n$1\r\n3\r\n$6\r\n5\0junk\r\n");
    for v in [&b"12 "[..], b"abc", b"nan", b"1e", b"0x", b"1e400", b"1e-400", b"1e-310", b"4.9e-324", b"   "] {
        assert_eq!(check(&mut c, v), bad, "{}", String::from_utf8_lossy(v));
    }
    // ALPHA and BY nosort never read weights.
    c.cmd("RPUSH w abc 1");
    assert_eq!(sorted(&mut c, "SORT w ALPHA"), ["1", "abc"]);
    assert_eq!(sorted(&mut c, "SORT w BY nosort"), ["abc", "1"]);
    c.cmd("SADD s 1 2 3 4 not-a-double");
    assert_eq!(c.cmd("SORT s"), bad);
}

#[test]
fn sets_and_sorted_sets() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD ints 5 3 10 1");
    assert_eq!(sorted(&mut c, "SORT ints"), ["1", "3", "5", "10"]);
    assert_eq!(sorted(&mut c, "SORT ints ALPHA"), ["1", "10", "3", "5"]);
    // An intset's natural order is ascending.
    assert_eq!(sorted(&mut c, "SORT ints BY nosort"), ["1", "3", "5", "10"]);
    c.cmd("SADD lp c b a");
    assert_eq!(sorted(&mut c, "SORT lp ALPHA DESC"), ["c", "b", "a"]);
    // Stored from a set, BY nosort still sorts (ALPHA) so replicas agree.
    assert_eq!(c.cmd("SORT lp BY nosort STORE d"), ":3\r\n");
    assert_eq!(sorted(&mut c, "LRANGE d 0 -1"), ["a", "b", "c"]);
    assert_eq!(c.cmd("SORT lp BY nosort DESC LIMIT 0 2 STORE d"), ":2\r\n");
    assert_eq!(sorted(&mut c, "LRANGE d 0 -1"), ["c", "b"]);

    c.cmd("ZADD z 1 a 5 b 2 c 10 d 3 e");
    assert_eq!(c.cmd("OBJECT ENCODING z"), "$8\r\nlistpack\r\n");
    assert_eq!(sorted(&mut c, "SORT z ALPHA DESC"), ["e", "d", "c", "b", "a"]);
    // Redis converts the sorted set to its full encoding for SORT.
    assert_eq!(c.cmd("OBJECT ENCODING z"), "$8\r\nskiplist\r\n");
    assert_eq!(sorted(&mut c, "SORT z BY nosort"), ["a", "c", "e", "b", "d"]);
    assert_eq!(sorted(&mut c, "SORT z BY nosort DESC"), ["d", "b", "e", "c", "a"]);
    assert_eq!(sorted(&mut c, "SORT z BY nosort ASC LIMIT 0 2"), ["a", "c"]);
    assert_eq!(sorted(&mut c, "SORT z BY nosort DESC LIMIT 1 2"), ["b", "e"]);
    assert_eq!(c.cmd("SORT z BY nosort LIMIT 5 10"), "*0\r\n");
    assert_eq!(sorted(&mut c, "SORT z BY nosort LIMIT -10 100"), ["a", "c", "e", "b", "d"]);
    c.cmd("ZADD z2 1 x");
    assert_eq!(sorted(&mut c, "SORT_RO z2 ALPHA"), ["x"]);
    assert_eq!(c.cmd("OBJECT ENCODING z2"), "$8\r\nskiplist\r\n");
    assert_eq!(c.cmd("ZSCORE z2 x"), "$1\r\n1\r\n");
}

#[test]
fn list_natural_order() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("LPUSH l 2 1 4 3 5");
    assert_eq!(sorted(&mut c, "SORT l BY nosort"), ["5", "3", "4", "1", "2"]);
    assert_eq!(sorted(&mut c, "SORT l BY nosort DESC"), ["2", "1", "4", "3", "5"]);
    assert_eq!(sorted(&mut c, "SORT l BY nosort LIMIT 1 3"), ["3", "4", "1"]);
    assert_eq!(sorted(&mut c, "SORT l BY nosort DESC LIMIT 1 3"), ["1", "4", "3"]);
    assert_eq!(c.cmd("SORT l BY nosort LIMIT 5 1"), "*0\r\n");
    assert_eq!(c.cmd("SORT l BY nosort DESC LIMIT 5 1"), "*0\r\n");
    assert_eq!(c.cmd("SORT l BY nosort LIMIT 9 1 STORE e"), ":0\r\n");
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    // Any BY pattern without `*` is "nosort", even one naming an existing key.
    c.cmd("SET k 1");
    assert_eq!(sorted(&mut c, "SORT l BY k"), ["5", "3", "4", "1", "2"]);
    assert_eq!(sorted(&mut c, "SORT l BY #"), ["5", "3", "4", "1", "2"]);
    // Once a constant BY was given, a later pattern does not bring sorting back.
    assert_eq!(sorted(&mut c, "SORT l BY nosort BY w_*"), ["5", "3", "4", "1", "2"]);
    assert_eq!(c.cmd("SORT l BY nosort LIMIT 0 3 STORE dst"), ":3\r\n");
    assert_eq!(sorted(&mut c, "LRANGE dst 0 -1"), ["5", "3", "4"]);
    // Big lists (quicklists) keep their order too.
    let mut line = "RPUSH big".to_string();
    for i in 0..300 {
        line.push_str(&format!(" {}", 300 - i));
    }
    c.cmd(&line);
    let all = sorted(&mut c, "SORT big BY nosort DESC LIMIT 100 3");
    assert_eq!(all, ["101", "102", "103"]);
    let all = sorted(&mut c, "SORT big LIMIT 290 100");
    assert_eq!(all, (291..=300).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn by_and_get_patterns() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l 1 2 3 4");
    c.cmd("MSET w_1 40 w_2 10 w_3 30 w_4 20");
    assert_eq!(sorted(&mut c, "SORT l BY w_*"), ["2", "4", "3", "1"]);
    assert_eq!(sorted(&mut c, "SORT l BY w_* DESC LIMIT 0 2"), ["1", "3"]);
    assert_eq!(sorted(&mut c, "SORT l BY w_* GET # GET w_*"), ["2", "10", "4", "20", "3", "30", "1", "40"]);
    // Missing weights count as 0 and tie by element.
    c.cmd("DEL w_3");
    assert_eq!(sorted(&mut c, "SORT l BY w_*"), ["3", "2", "4", "1"]);
    // A weight key of another type is missing too.
    c.cmd("DEL w_4");
    c.cmd("RPUSH w_4 x");
    assert_eq!(sorted(&mut c, "SORT l BY w_*"), ["3", "4", "2", "1"]);
    // Hash fields.
    c.cmd("HSET o_1 f 3 g a");
    c.cmd("HSET o_2 f 1 g b");
    c.cmd("HSET o_3 f 2");
    assert_eq!(
        sorted(&mut c, "SORT l BY o_*->f GET o_*->g GET # GET o_*->f"),
        ["nil", "4", "nil", "b", "2", "1", "nil", "3", "2", "a", "1", "3"]
    );
    // A string where a hash is expected (and the reverse) gives nil.
    assert_eq!(sorted(&mut c, "SORT l BY nosort GET w_*->f GET o_*"), ["nil", "nil", "nil", "nil", "nil", "nil", "nil", "nil"]);
    // `->` with nothing after it is part of the key name; so is one before the `*`.
    c.cmd("DEL l");
    c.cmd("RPUSH l a");
    c.cmd("SET x:a-> 100");
    assert_eq!(sorted(&mut c, "SORT l BY num GET x:*->"), ["100"]);
    c.cmd("HSET p->q:a f hv");
    assert_eq!(sorted(&mut c, "SORT l BY num GET p->q:*->f"), ["hv"]);
    // Only the first `*` is replaced.
    c.cmd("SET k:a:* star");
    assert_eq!(sorted(&mut c, "SORT l BY num GET k:*:*"), ["star"]);
    // GET of a constant pattern (no `*`) is nil even if the key exists.
    c.cmd("SET const v");
    assert_eq!(sorted(&mut c, "SORT_RO l ALPHA GET const GET #"), ["nil", "a"]);
    // Integer-encoded strings and listpack hash integers come back as text.
    c.cmd("SET n:a 42");
    c.cmd("HSET hn:a f 7");
    assert_eq!(sorted(&mut c, "SORT l BY nosort GET n:* GET hn:*->f"), ["42", "7"]);
}

#[test]
fn alpha_by_pattern_and_binary_strings() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l 1 2 3 4");
    c.cmd("MSET a_1 b a_2 a a_4 c");
    // Elements without a BY value come first in an ALPHA sort.
    assert_eq!(sorted(&mut c, "SORT l BY a_* ALPHA"), ["3", "2", "1", "4"]);
    assert_eq!(sorted(&mut c, "SORT l BY a_* ALPHA DESC"), ["4", "1", "2", "3"]);
    // ALPHA without BY compares in byte order (strcoll in the C locale stops at NUL,
    // a stored result compares whole strings).
    c.cmd("DEL n");
    c.send(&[b"RPUSH", b"n", b"a\0z", b"a\0b", b"a", b"B"]);
    c.read();
    assert_eq!(c.cmd("SORT n ALPHA"), "*4\r\n$1\r\nB\r\n$3\r\na\0z\r\n$3\r\na\0b\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("SORT n ALPHA STORE d"), ":4\r\n");
    assert_eq!(c.cmd("LRANGE d 0 -1"), "*4\r\n$1\r\nB\r\n$1\r\na\r\n$3\r\na\0b\r\n$3\r\na\0z\r\n");
    // Sub-sorting by element when all weights are equal.
    c.cmd("SADD s a b c aa aaa azz");
    c.cmd("MSET score:a 1 score:b 1 score:c 1 score:aa 1 score:aaa 1 score:azz 1");
    assert_eq!(sorted(&mut c, "SORT s BY score:*"), ["a", "aa", "aaa", "azz", "b", "c"]);
    assert_eq!(c.cmd("SET score:c x"), "+OK\r\n");
    assert_eq!(c.cmd("SORT s BY score:*"), "-ERR One or more scores can't be converted into double\r\n");
}

#[test]
fn get_nil_shapes_resp2_and_resp3() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l x");
    assert_eq!(c.cmd("SORT l BY nosort GET # GET missing_*"), "*2\r\n$1\r\nx\r\n$-1\r\n");
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("SORT l BY nosort GET # GET missing_*"), "*2\r\n$1\r\nx\r\n_\r\n");
    assert_eq!(c.cmd("SORT l ALPHA STORE d"), ":1\r\n");
    assert_eq!(c.cmd("SORT nokey"), "*0\r\n");
    assert_eq!(c.cmd("SORT l BY nosort LIMIT 1 1"), "*0\r\n");
}

#[test]
fn store_writes_a_list() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("CONFIG SET list-max-listpack-size 4");
    c.cmd("RPUSH l 5 4 3 2 1");
    assert_eq!(c.cmd("SORT l STORE d"), ":5\r\n");
    assert_eq!(sorted(&mut c, "LRANGE d 0 -1"), ["1", "2", "3", "4", "5"]);
    assert_eq!(c.cmd("OBJECT ENCODING d"), "$9\r\nquicklist\r\n");
    assert_eq!(c.cmd("SORT l LIMIT 0 4 STORE d"), ":4\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING d"), "$8\r\nlistpack\r\n");
    // Size-limited nodes: one node's worth stays a listpack.
    c.cmd("CONFIG SET list-max-listpack-size -1");
    let v = "x".repeat(500);
    let mut line = "RPUSH big".to_string();
    for i in 0..9 {
        line.push_str(&format!(" {v}{i}"));
    }
    c.cmd(&line);
    assert_eq!(c.cmd("SORT big ALPHA LIMIT 0 8 STORE d"), ":8\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING d"), "$8\r\nlistpack\r\n");
    assert_eq!(c.cmd("SORT big ALPHA STORE d"), ":9\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING d"), "$9\r\nquicklist\r\n");
    // GET values are stored, missing ones as empty strings; the count is of values.
    c.cmd("MSET g_1 one g_3 three");
    assert_eq!(c.cmd("SORT l LIMIT 2 3 GET # GET g_* STORE d"), ":6\r\n");
    assert_eq!(sorted(&mut c, "LRANGE d 0 -1"), ["3", "three", "4", "", "5", ""]);
    // STORE replaces a key of any type and its TTL.
    c.cmd("SET dst v EX 100");
    assert_eq!(c.cmd("SORT l STORE dst"), ":5\r\n");
    assert_eq!(c.cmd("TYPE dst"), "+list\r\n");
    assert_eq!(c.cmd("TTL dst"), ":-1\r\n");
    // The destination may be the source.
    assert_eq!(c.cmd("SORT l DESC STORE l"), ":5\r\n");
    assert_eq!(sorted(&mut c, "LRANGE l 0 -1"), ["5", "4", "3", "2", "1"]);
    // The last STORE wins.
    assert_eq!(c.cmd("SORT l STORE a STORE b"), ":5\r\n");
    assert_eq!(c.cmd("EXISTS a b"), ":1\r\n");
    assert_eq!(c.cmd("EXISTS b"), ":1\r\n");
}

#[test]
fn store_empty_result_deletes() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("SORT foo STORE bar"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS bar"), ":0\r\n");
    c.cmd("LPUSH foo bar");
    assert_eq!(c.cmd("SORT foo ALPHA LIMIT 10 10 STORE zap"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS zap"), ":0\r\n");
    assert_eq!(c.cmd("SORT emptylist STORE foo"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS foo"), ":0\r\n");
    // A numeric error stores nothing.
    c.cmd("RPUSH bad x");
    c.cmd("SET keep v");
    assert_eq!(c.cmd("SORT bad STORE keep"), "-ERR One or more scores can't be converted into double\r\n");
    assert_eq!(c.cmd("GET keep"), "$1\r\nv\r\n");
}

#[test]
fn propagation() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("RPUSH l 2 1");
    stream(&mut c);
    // Reads propagate nothing, and neither does a STORE that changed nothing.
    c.cmd("SORT l");
    c.cmd("SORT_RO l BY nosort");
    c.cmd("SORT nokey STORE nodst");
    let st = stream(&mut c);
    assert!(!st.contains("SORT"), "{st}");
    // A STORE propagates as sent, and so does one deleting its destination.
    c.cmd("SORT l ALPHA STORE d");
    c.cmd("SORT nokey store d");
    let st = stream(&mut c);
    assert!(st.contains("*5 $4 SORT $1 l $5 ALPHA $5 STORE $1 d "), "{st}");
    assert!(st.contains("*4 $4 SORT $5 nokey $5 store $1 d "), "{st}");
    assert_eq!(c.cmd("EXISTS d"), ":0\r\n");
}

#[test]
fn store_wakes_blocked_clients_and_touches_watches() {
    let s = Server::start();
    let mut c = s.raw();
    let mut b = s.raw();
    c.cmd("RPUSH l 3 1 2");
    b.send(&[b"BLPOP", b"dst", b"0"]);
    assert!(eventually(Duration::from_secs(5), || info_field(&mut c, "blocked_clients") == "1"));
    assert_eq!(c.cmd("SORT l STORE dst"), ":3\r\n");
    assert_eq!(b.read(), "*2\r\n$3\r\ndst\r\n$1\r\n1\r\n");
    assert_eq!(sorted(&mut c, "LRANGE dst 0 -1"), ["2", "3"]);

    let mut w = s.raw();
    w.cmd("WATCH dst");
    c.cmd("SORT l STORE dst");
    w.cmd("MULTI");
    w.cmd("PING");
    assert_eq!(w.cmd("EXEC"), "*-1\r\n");
    // Watching a key the sort only reads: a plain SORT does not touch it.
    w.cmd("WATCH l");
    c.cmd("SORT l");
    w.cmd("MULTI");
    w.cmd("PING");
    assert_eq!(w.cmd("EXEC"), "*1\r\n+PONG\r\n");
}

#[test]
fn inside_multi_and_keyspace_stats() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("ZADD z 1 a 5 b 2 c");
    c.cmd("MSET w_a 3 w_b 2");
    c.cmd("MULTI");
    c.cmd("SORT z BY nosort ASC");
    c.cmd("SORT z BY w_* GET # GET w_*");
    c.cmd("SORT z BY nosort DESC STORE d");
    assert_eq!(
        c.cmd("EXEC"),
        "*3\r\n*3\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n*6\r\n$1\r\nc\r\n$-1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n3\r\n:3\r\n"
    );
    assert_eq!(sorted(&mut c, "LRANGE d 0 -1"), ["b", "c", "a"]);
    // Every pattern lookup counts as a keyspace hit or miss, as in Redis.
    c.cmd("CONFIG RESETSTAT");
    c.cmd("SORT z BY w_* GET w_*");
    assert_eq!(info_field(&mut c, "keyspace_hits"), "5");
    assert_eq!(info_field(&mut c, "keyspace_misses"), "2");
}

#[test]
fn command_metadata() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("COMMAND GETKEYS sort abc store def"), "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS sort abc store invalid store stillbad store def"), "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS sort abc get store by store limit store 1 alpha"), "*1\r\n$3\r\nabc\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS sort_ro abc"), "*1\r\n$3\r\nabc\r\n");
    let info = c.cmd("COMMAND INFO sort");
    assert!(
        info.contains("*3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n") || info.contains("~3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n"),
        "{info}"
    );
    assert!(info.contains("+@write\r\n+@set\r\n+@sortedset\r\n+@list\r\n+@slow\r\n+@dangerous\r\n"), "{info}");
    assert!(!info.contains("@keyspace"), "{info}");
    let info = c.cmd("COMMAND INFO sort_ro");
    assert!(info.contains("+readonly\r\n+movablekeys\r\n"), "{info}");
    assert!(info.contains("+@read\r\n+@set\r\n+@sortedset\r\n+@list\r\n+@slow\r\n+@dangerous\r\n"), "{info}");
}

#[test]
fn concurrent_pattern_sorts_and_writes() {
    let s = Server::start();
    let mut c = s.raw();
    let mut line = "RPUSH l".to_string();
    for i in 0..200 {
        line.push_str(&format!(" {i}"));
    }
    c.cmd(&line);
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let mut w = s.raw();
            std::thread::spawn(move || {
                for round in 0..200 {
                    let i = (round * 7 + t) % 200;
                    assert_eq!(w.cmd(&format!("SET w_{i} {round}")), "+OK\r\n");
                    w.cmd(&format!("HSET h_{i} f {round}"));
                }
            })
        })
        .collect();
    for _ in 0..50 {
        let r = c.cmd("SORT l BY w_* GET # GET h_*->f LIMIT 0 50");
        assert!(r.starts_with("*100\r\n"), "{r}");
        assert_eq!(c.cmd("SORT l BY h_*->f STORE out"), ":200\r\n");
    }
    for w in writers {
        w.join().unwrap();
    }
    // After the writers: weights are final, so the order is checkable.
    let got = sorted(&mut c, "SORT l BY w_* LIMIT 0 200");
    let mut weights: Vec<(f64, String)> = got
        .iter()
        .map(|e| {
            let w = c.cmd(&format!("GET w_{e}"));
            let v = w.split("\r\n").nth(1).filter(|_| w.starts_with('$') && !w.starts_with("$-1")).map_or(0.0, |v| v.parse().unwrap());
            (v, e.clone())
        })
        .collect();
    let before = weights.clone();
    weights.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
    assert_eq!(before, weights);
}
