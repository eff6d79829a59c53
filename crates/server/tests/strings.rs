//! String commands against the real server, compared with Redis 7.2's exact replies.

mod common;
use common::Server;

#[test]
fn set_get_and_options() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("SET k v"), "+OK\r\n");
    assert_eq!(c.cmd("GET k"), "$1\r\nv\r\n");
    assert_eq!(c.cmd("GET missing"), "$-1\r\n");
    assert_eq!(c.cmd("SET k v2 NX"), "$-1\r\n");
    assert_eq!(c.cmd("SET k v2 XX GET"), "$1\r\nv\r\n");
    assert_eq!(c.cmd("SET new v XX"), "$-1\r\n");
    assert_eq!(c.cmd("SET k v NX XX"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SET k v EX 0"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(c.cmd("SET k v EX abc"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SET k v EX 100 PX 100"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SET k v EX 100"), "+OK\r\n");
    assert_eq!(c.cmd("TTL k"), ":100\r\n");
    assert_eq!(c.cmd("SET k v3 KEEPTTL"), "+OK\r\n");
    assert_eq!(c.cmd("TTL k"), ":100\r\n");
    assert_eq!(c.cmd("SET k v4"), "+OK\r\n");
    assert_eq!(c.cmd("TTL k"), ":-1\r\n");
    assert_eq!(c.cmd("SET k"), "-ERR wrong number of arguments for 'set' command\r\n");
}

#[test]
fn counters() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("INCR n"), ":1\r\n");
    assert_eq!(c.cmd("INCRBY n 10"), ":11\r\n");
    assert_eq!(c.cmd("DECR n"), ":10\r\n");
    assert_eq!(c.cmd("DECRBY n 20"), ":-10\r\n");
    assert_eq!(c.cmd("SET big 9223372036854775807"), "+OK\r\n");
    assert_eq!(c.cmd("INCR big"), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(c.cmd("SET s abc"), "+OK\r\n");
    assert_eq!(c.cmd("INCR s"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("INCRBYFLOAT f 10.5"), "$4\r\n10.5\r\n");
    assert_eq!(c.cmd("INCRBYFLOAT f 0.1"), "$4\r\n10.6\r\n");
    assert_eq!(c.cmd("INCRBYFLOAT f abc"), "-ERR value is not a valid float\r\n");
    assert_eq!(c.cmd("SET e 1e3"), "+OK\r\n");
    assert_eq!(c.cmd("INCRBYFLOAT e 1"), "$4\r\n1001\r\n");
    assert_eq!(c.cmd("DECRBY n -9223372036854775808"), "-ERR decrement would overflow\r\n");
}

#[test]
fn ranges_append_strlen() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("APPEND k Hello"), ":5\r\n");
    assert_eq!(c.cmd("APPEND k World"), ":10\r\n");
    assert_eq!(c.cmd("STRLEN k"), ":10\r\n");
    assert_eq!(c.cmd("GETRANGE k 0 4"), "$5\r\nHello\r\n");
    assert_eq!(c.cmd("GETRANGE k -5 -1"), "$5\r\nWorld\r\n");
    assert_eq!(c.cmd("GETRANGE k 5 2"), "$0\r\n\r\n");
    assert_eq!(c.cmd("SUBSTR k 0 100"), "$10\r\nHelloWorld\r\n");
    assert_eq!(c.cmd("SETRANGE k 5 Redis"), ":10\r\n");
    assert_eq!(c.cmd("GET k"), "$10\r\nHelloRedis\r\n");
    assert_eq!(c.cmd("SETRANGE pad 3 x"), ":4\r\n");
    assert_eq!(c.cmd("GET pad"), "$4\r\n\0\0\0x\r\n");
    assert_eq!(c.cmd("SETRANGE k -1 x"), "-ERR offset is out of range\r\n");
    assert_eq!(c.cmd("SETRANGE k 536870911 xx"), "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
}

#[test]
fn multi_key_and_get_variants() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("MSET a 1 b 2"), "+OK\r\n");
    assert_eq!(c.cmd("MGET a b c"), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
    assert_eq!(c.cmd("MSET a 1 b"), "-ERR wrong number of arguments for 'mset' command\r\n");
    assert_eq!(c.cmd("MSETNX a 5 z 6"), ":0\r\n");
    assert_eq!(c.cmd("MSETNX y 5 z 6"), ":1\r\n");
    assert_eq!(c.cmd("GETSET a 10"), "$1\r\n1\r\n");
    assert_eq!(c.cmd("GETDEL a"), "$2\r\n10\r\n");
    assert_eq!(c.cmd("EXISTS a"), ":0\r\n");
    assert_eq!(c.cmd("SETNX a x"), ":1\r\n");
    assert_eq!(c.cmd("SETNX a y"), ":0\r\n");
    assert_eq!(c.cmd("SETEX t 100 v"), "+OK\r\n");
    assert_eq!(c.cmd("SETEX t 0 v"), "-ERR invalid expire time in 'setex' command\r\n");
    assert_eq!(c.cmd("PSETEX t 100000 v"), "+OK\r\n");
    assert_eq!(c.cmd("TTL t"), ":100\r\n");
    assert_eq!(c.cmd("GETEX t PERSIST"), "$1\r\nv\r\n");
    assert_eq!(c.cmd("TTL t"), ":-1\r\n");
    assert_eq!(c.cmd("GETEX t EX 50"), "$1\r\nv\r\n");
    assert_eq!(c.cmd("TTL t"), ":50\r\n");
    assert_eq!(c.cmd("GETEX t EX 50 PX 1"), "-ERR syntax error\r\n");
}

/// A command naming 200k keys answers within the client's 10 s read timeout (the
/// per-key hash lookup was once linear in the key count: 20 s for this).
#[test]
fn multi_key_commands_with_200k_keys() {
    let s = Server::start();
    let mut c = s.client();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let keys: Vec<String> = (0..200_000).map(|i| format!("many:{i}")).collect();
    let pairs: Vec<(&String, usize)> = keys.iter().zip(0..).collect();
    let _: () = redis::cmd("MSET").arg(&pairs).query(&mut c).unwrap();
    let vals: Vec<usize> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    assert!(vals.iter().enumerate().all(|(i, v)| *v == i), "MGET returned other values");
    let n: usize = redis::cmd("EXISTS").arg(&keys).query(&mut c).unwrap();
    assert_eq!(n, keys.len());
    let n: usize = redis::cmd("DEL").arg(&keys[..100_000]).query(&mut c).unwrap();
    assert_eq!(n, 100_000);
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 100_000);
}

#[test]
fn lcs() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("MSET key1 ohmytext key2 mynewtext");
    assert_eq!(c.cmd("LCS key1 key2"), "$6\r\nmytext\r\n");
    assert_eq!(c.cmd("LCS key1 key2 LEN"), ":6\r\n");
    assert_eq!(
        c.cmd("LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(
        c.cmd("LCS key1 key2 IDX"),
        "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
    );
}

#[test]
fn redis_crate_roundtrip() {
    let s = Server::start();
    let mut con = s.client();
    let _: () = redis::cmd("SET").arg("x").arg(b"\x00\xffbinary").query(&mut con).unwrap();
    let v: Vec<u8> = redis::cmd("GET").arg("x").query(&mut con).unwrap();
    assert_eq!(v, b"\x00\xffbinary");
    let n: i64 = redis::cmd("INCRBY").arg("c").arg(5).query(&mut con).unwrap();
    assert_eq!(n, 5);
    let big = vec![b'x'; 1 << 20];
    let _: () = redis::cmd("SET").arg("big").arg(&big).query(&mut con).unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut con).unwrap();
    assert_eq!(back.len(), big.len());
}
