//! Hash commands against the real server, compared with Redis 7.2's exact replies.

mod common;
use common::Server;
use std::collections::HashSet;

/// Parses a flat RESP2 array of bulk strings (as `Raw::cmd` returns it) into strings.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*'), "not an array: {reply}");
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap().to_string());
        }
    }
    out
}

#[test]
fn set_get_and_friends() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("HSET h a 1 b 2 c hello"), ":3\r\n");
    assert_eq!(c.cmd("HSET h a 10 d 4"), ":1\r\n");
    assert_eq!(c.cmd("HSET h a 1 b"), "-ERR wrong number of arguments for 'hset' command\r\n");
    assert_eq!(c.cmd("HMSET h x"), "-ERR wrong number of arguments for 'hmset' command\r\n");
    assert_eq!(c.cmd("HMSET h a 1"), "+OK\r\n");
    assert_eq!(c.cmd("HSETNX h a 5"), ":0\r\n");
    assert_eq!(c.cmd("HSETNX h z 5"), ":1\r\n");
    assert_eq!(c.cmd("HGET h a"), "$1\r\n1\r\n");
    assert_eq!(c.cmd("HGET h nope"), "$-1\r\n");
    assert_eq!(c.cmd("HGET nokey a"), "$-1\r\n");
    assert_eq!(c.cmd("HMGET h a nope c"), "*3\r\n$1\r\n1\r\n$-1\r\n$5\r\nhello\r\n");
    assert_eq!(c.cmd("HMGET nokey a b"), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(c.cmd("HLEN h"), ":5\r\n");
    assert_eq!(c.cmd("HLEN nokey"), ":0\r\n");
    assert_eq!(c.cmd("HSTRLEN h c"), ":5\r\n");
    assert_eq!(c.cmd("HSTRLEN h nope"), ":0\r\n");
    assert_eq!(c.cmd("HEXISTS h a"), ":1\r\n");
    assert_eq!(c.cmd("HEXISTS h q"), ":0\r\n");
    assert_eq!(c.cmd("HEXISTS nokey q"), ":0\r\n");
    assert_eq!(bulks(&c.cmd("HKEYS h")), ["a", "b", "c", "d", "z"]);
    assert_eq!(bulks(&c.cmd("HVALS h")), ["1", "2", "hello", "4", "5"]);
    assert_eq!(bulks(&c.cmd("HGETALL h")), ["a", "1", "b", "2", "c", "hello", "d", "4", "z", "5"]);
    assert_eq!(c.cmd("HKEYS nokey"), "*0\r\n");
    assert_eq!(c.cmd("HGETALL nokey"), "*0\r\n");
    // Duplicate fields in one HSET count once.
    assert_eq!(c.cmd("HSET d a 1 a 2 a 3"), ":1\r\n");
    assert_eq!(c.cmd("HGETALL d"), "*2\r\n$1\r\na\r\n$1\r\n3\r\n");
    // HDEL: counts removed fields, deletes the emptied key.
    assert_eq!(c.cmd("HDEL h a nope b"), ":2\r\n");
    assert_eq!(c.cmd("HDEL nokey a"), ":0\r\n");
    assert_eq!(c.cmd("HDEL h c d z"), ":3\r\n");
    assert_eq!(c.cmd("EXISTS h"), ":0\r\n");
    assert_eq!(c.cmd("TYPE d"), "+hash\r\n");
}

#[test]
fn wrong_type() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET s v");
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        "HSET s a b",
        "HSETNX s a b",
        "HGET s a",
        "HMGET s a",
        "HDEL s a",
        "HLEN s",
        "HSTRLEN s a",
        "HEXISTS s a",
        "HKEYS s",
        "HVALS s",
        "HGETALL s",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 2",
        "HSCAN s 0",
        "HSCAN s 0 BAD",
    ] {
        assert_eq!(c.cmd(cmd), wt, "{cmd}");
    }
    c.cmd("HSET h a 1");
    assert_eq!(c.cmd("GET h"), wt);
    assert_eq!(c.cmd("GET s"), "$1\r\nv\r\n");
}

#[test]
fn counters() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("HINCRBY h n 5"), ":5\r\n");
    assert_eq!(c.cmd("HINCRBY h n -7"), ":-2\r\n");
    assert_eq!(c.cmd("HINCRBY h n abc"), "-ERR value is not an integer or out of range\r\n");
    c.cmd("HSET h s hello h2 9223372036854775807 f 1.5 big 123456789012345678901");
    assert_eq!(c.cmd("HINCRBY h s 1"), "-ERR hash value is not an integer\r\n");
    assert_eq!(c.cmd("HINCRBY h big 1"), "-ERR hash value is not an integer\r\n");
    assert_eq!(c.cmd("HINCRBY h h2 1"), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(c.cmd("HINCRBY h new -9223372036854775808"), ":-9223372036854775808\r\n");
    assert_eq!(c.cmd("HINCRBY h new -1"), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h fl 10.5"), "$4\r\n10.5\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h fl 0.1"), "$4\r\n10.6\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h fl -10.6"), "$1\r\n0\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h n 1.5"), "$4\r\n-0.5\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h e 1e3"), "$4\r\n1000\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h fl abc"), "-ERR value is not a valid float\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h fl inf"), "-ERR value is NaN or Infinity\r\n");
    assert_eq!(c.cmd("HINCRBYFLOAT h s 1"), "-ERR hash value is not a float\r\n");
    c.cmd("HSET h max 1.7e308");
    assert_eq!(c.cmd("HINCRBYFLOAT h max 1.7e308"), "-ERR increment would produce NaN or Infinity\r\n");
    // A float error on a missing key creates nothing.
    assert_eq!(c.cmd("HINCRBYFLOAT nokey f abc"), "-ERR value is not a valid float\r\n");
    assert_eq!(c.cmd("EXISTS nokey"), ":0\r\n");
}

#[test]
fn encodings_and_thresholds() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("CONFIG GET hash-max-listpack-entries"), "*2\r\n$25\r\nhash-max-listpack-entries\r\n$3\r\n512\r\n");
    for i in 0..512 {
        c.cmd(&format!("HSET big f{i} {i}"));
    }
    assert_eq!(c.cmd("OBJECT ENCODING big"), "$8\r\nlistpack\r\n");
    c.cmd("HSET big f512 x");
    assert_eq!(c.cmd("OBJECT ENCODING big"), "$9\r\nhashtable\r\n");
    // One-way: shrinking back does not return to listpack.
    for i in 0..510 {
        c.cmd(&format!("HDEL big f{i}"));
    }
    assert_eq!(c.cmd("OBJECT ENCODING big"), "$9\r\nhashtable\r\n");
    assert_eq!(c.cmd("HLEN big"), ":3\r\n");
    // Value length: 64 bytes fit, 65 do not; the field counts too.
    let v64 = "x".repeat(64);
    c.cmd(&format!("HSET v f {v64}"));
    assert_eq!(c.cmd("OBJECT ENCODING v"), "$8\r\nlistpack\r\n");
    c.cmd(&format!("HSET v g {v64}x"));
    assert_eq!(c.cmd("OBJECT ENCODING v"), "$9\r\nhashtable\r\n");
    c.cmd(&format!("HSET k {v64}y 1"));
    assert_eq!(c.cmd("OBJECT ENCODING k"), "$9\r\nhashtable\r\n");
    c.cmd("HSET inc a 1");
    c.cmd(&format!("HINCRBYFLOAT inc {v64}z 1.5"));
    assert_eq!(c.cmd("OBJECT ENCODING inc"), "$9\r\nhashtable\r\n");
    // After CONFIG SET, the new limits apply, including the count of pairs in one HSET.
    c.cmd("CONFIG SET hash-max-listpack-entries 4");
    c.cmd("HSET s a 1 b 2 c 3 d 4");
    assert_eq!(c.cmd("OBJECT ENCODING s"), "$8\r\nlistpack\r\n");
    c.cmd("HSET s e 5");
    assert_eq!(c.cmd("OBJECT ENCODING s"), "$9\r\nhashtable\r\n");
    c.cmd("HSET dup a 1 a 1 a 1 a 1 a 1");
    assert_eq!(c.cmd("OBJECT ENCODING dup"), "$9\r\nhashtable\r\n");
    c.cmd("CONFIG SET hash-max-listpack-value 3");
    c.cmd("HSET w a abcd");
    assert_eq!(c.cmd("OBJECT ENCODING w"), "$9\r\nhashtable\r\n");
    c.cmd("HSETNX w2 a abc");
    assert_eq!(c.cmd("OBJECT ENCODING w2"), "$8\r\nlistpack\r\n");
    // Contents survive the conversion.
    assert_eq!(c.cmd("HGET v f"), format!("$64\r\n{v64}\r\n"));
    assert_eq!(c.cmd("HGET s c"), "$1\r\n3\r\n");
    assert_eq!(c.cmd("HGET inc a"), "$1\r\n1\r\n");
    // DEBUG DIGEST-VALUE does not depend on the encoding or insertion order.
    c.cmd("CONFIG SET hash-max-listpack-entries 512");
    c.cmd("CONFIG SET hash-max-listpack-value 64");
    c.cmd("HSET p1 a 1 b 2 c 3");
    c.cmd("HSET p2 c 3 a 1");
    c.cmd("HSET p2 b 2");
    c.cmd("CONFIG SET hash-max-listpack-entries 1");
    c.cmd("HSET p3 b 2 c 3 a 1");
    assert_eq!(c.cmd("OBJECT ENCODING p3"), "$9\r\nhashtable\r\n");
    let d1 = c.cmd("DEBUG DIGEST-VALUE p1");
    assert_eq!(d1, c.cmd("DEBUG DIGEST-VALUE p2"));
    assert_eq!(d1, c.cmd("DEBUG DIGEST-VALUE p3"));
}

#[test]
fn hscan() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("HSCAN nokey 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(c.cmd("HSCAN nokey 0 BAD"), "*2\r\n$1\r\n0\r\n*0\r\n");
    c.cmd("HSET small a 1 b 2 c 3");
    // A listpack is returned whole, cursor 0, COUNT ignored; MATCH filters fields.
    assert_eq!(bulks(&c.cmd("HSCAN small 0 COUNT 1")), ["0", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(bulks(&c.cmd("HSCAN small 0 MATCH b*")), ["0", "b", "2"]);
    assert_eq!(c.cmd("HSCAN small abc"), "-ERR invalid cursor\r\n");
    assert_eq!(c.cmd("HSCAN small 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("HSCAN small 0 COUNT x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("HSCAN small 0 COUNT"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("HSCAN small 0 TYPE string"), "-ERR syntax error\r\n");
    // A hash table: iterate to cursor 0 with small COUNTs, growing the hash midway;
    // every field present throughout comes back.
    for i in 0..1000 {
        c.cmd(&format!("HSET big f{i} v{i}"));
    }
    assert_eq!(c.cmd("OBJECT ENCODING big"), "$9\r\nhashtable\r\n");
    let (mut cursor, mut seen, mut calls) = ("0".to_string(), HashSet::new(), 0);
    loop {
        let r = bulks(&c.cmd(&format!("HSCAN big {cursor} COUNT 7")));
        cursor = r[0].clone();
        for pair in r[1..].chunks(2) {
            let want = if pair[0].starts_with('f') { format!("v{}", &pair[0][1..]) } else { "x".into() };
            assert_eq!(pair[1], want);
            seen.insert(pair[0].clone());
        }
        calls += 1;
        if calls == 5 {
            for i in 0..3000 {
                c.cmd(&format!("HSET big g{i} x"));
            }
        }
        if cursor == "0" {
            break;
        }
        assert!(calls < 10000);
    }
    assert!(calls > 5, "a hash table is scanned in steps");
    for i in 0..1000 {
        assert!(seen.contains(&format!("f{i}")), "f{i} missed");
    }
    let (mut cursor, mut found) = ("0".to_string(), Vec::new());
    loop {
        let r = bulks(&c.cmd(&format!("HSCAN big {cursor} MATCH f99*")));
        cursor = r[0].clone();
        found.extend(r[1..].iter().step_by(2).cloned());
        if cursor == "0" {
            break;
        }
    }
    found.sort();
    assert_eq!(found, ["f99", "f990", "f991", "f992", "f993", "f994", "f995", "f996", "f997", "f998", "f999"]);
}

#[test]
fn hrandfield() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("HRANDFIELD nokey"), "$-1\r\n");
    assert_eq!(c.cmd("HRANDFIELD nokey 5"), "*0\r\n");
    assert_eq!(c.cmd("HRANDFIELD nokey abc"), "-ERR value is not an integer or out of range\r\n");
    c.cmd("HSET h a 1 b 2 c 3");
    assert_eq!(c.cmd("HRANDFIELD h 0"), "*0\r\n");
    assert_eq!(c.cmd("HRANDFIELD h 5 foo"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("HRANDFIELD h 5 WITHVALUES x"), "-ERR syntax error\r\n");
    assert_eq!(
        c.cmd("HRANDFIELD h -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(c.cmd("HRANDFIELD h -9223372036854770000 WITHVALUES"), "-ERR value is out of range\r\n");
    let one = c.cmd("HRANDFIELD h");
    assert!(["$1\r\na\r\n", "$1\r\nb\r\n", "$1\r\nc\r\n"].contains(&one.as_str()), "{one}");
    // Count at least the size: the whole hash.
    assert_eq!(bulks(&c.cmd("HRANDFIELD h 10 WITHVALUES")), ["a", "1", "b", "2", "c", "3"]);
    // Negative: exactly that many, repeats allowed.
    let r = bulks(&c.cmd("HRANDFIELD h -50 WITHVALUES"));
    assert_eq!(r.len(), 100);
    for p in r.chunks(2) {
        assert_eq!((p[0].as_bytes()[0] - b'a' + b'1') as char, p[1].chars().next().unwrap());
    }
    // Fewer than the size: distinct fields, both encodings.
    for enc in ["listpack", "hashtable"] {
        c.cmd("DEL r");
        for i in 0..if enc == "listpack" { 100 } else { 1000 } {
            c.cmd(&format!("HSET r f{i} {i}"));
        }
        assert!(c.cmd("OBJECT ENCODING r").contains(enc));
        for n in [2, 50, 90] {
            let got = bulks(&c.cmd(&format!("HRANDFIELD r {n}")));
            assert_eq!(got.len(), n);
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), n, "{enc} {n}: repeats");
        }
    }
    // RESP3: WITHVALUES gives [field, value] pairs; HGETALL a map.
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("HRANDFIELD h 1 WITHVALUES").matches("*2\r\n").count(), 1);
    let r = c.cmd("HRANDFIELD h 3 WITHVALUES");
    assert!(r.starts_with("*3\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n"), "{r}");
    assert!(c.cmd("HRANDFIELD h -4 WITHVALUES").starts_with("*4\r\n*2\r\n"));
    assert!(c.cmd("HRANDFIELD h -4").starts_with("*4\r\n$1\r\n"));
    assert_eq!(c.cmd("HGETALL h"), "%3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n");
    assert_eq!(c.cmd("HGETALL nokey"), "%0\r\n");
    assert_eq!(c.cmd("HRANDFIELD nokey"), "_\r\n");
    assert_eq!(c.cmd("HGET h nope"), "_\r\n");
}

#[test]
fn write_stream() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("HSET h a 1");
    c.cmd("HINCRBYFLOAT h f 1.5");
    c.cmd("HINCRBY h n 2");
    c.cmd("HSETNX h a 9");
    c.cmd("HDEL h nope");
    c.cmd("HDEL h a nope");
    let st = c.cmd("DEBUG REPL-STREAM 100000").replace("\r\n", " ");
    assert!(st.contains("*4 $4 HSET $1 h $1 a $1 1 "), "{st}");
    // HINCRBYFLOAT goes out as the HSET of its result.
    assert!(st.contains("*4 $4 HSET $1 h $1 f $3 1.5 "), "{st}");
    assert!(!st.contains("HINCRBYFLOAT"), "{st}");
    assert!(st.contains("*4 $7 HINCRBY $1 h $1 n $1 2 "), "{st}");
    assert!(!st.contains("HSETNX"), "a no-op HSETNX is not propagated: {st}");
    assert_eq!(st.matches("HDEL").count(), 1, "{st}");
    assert!(st.contains("*4 $4 HDEL $1 h $1 a $4 nope "), "{st}");
}
