//! Generic keyspace commands against the real server.

mod common;
use std::collections::HashSet;

use common::Server;

#[test]
fn del_exists_type_rename() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("MSET a 1 b 2 c 3");
    assert_eq!(c.cmd("EXISTS a b nope a"), ":3\r\n");
    assert_eq!(c.cmd("TYPE a"), "+string\r\n");
    assert_eq!(c.cmd("TYPE nope"), "+none\r\n");
    assert_eq!(c.cmd("DEL a nope"), ":1\r\n");
    assert_eq!(c.cmd("UNLINK b c"), ":2\r\n");
    c.cmd("SET x 1");
    c.cmd("EXPIRE x 100");
    assert_eq!(c.cmd("RENAME x y"), "+OK\r\n");
    assert_eq!(c.cmd("TTL y"), ":100\r\n");
    assert_eq!(c.cmd("RENAME nope z"), "-ERR no such key\r\n");
    c.cmd("SET z 2");
    assert_eq!(c.cmd("RENAMENX y z"), ":0\r\n");
    assert_eq!(c.cmd("RENAMENX y w"), ":1\r\n");
    assert_eq!(c.cmd("RENAME w w"), "+OK\r\n");
    assert_eq!(c.cmd("GET w"), "$1\r\n1\r\n");
}

#[test]
fn keys_scan_randomkey_dbsize() {
    let s = Server::start();
    let mut c = s.raw();
    for i in 0..500 {
        c.cmd(&format!("SET key:{i} v"));
    }
    c.cmd("SET other v");
    assert_eq!(c.cmd("DBSIZE"), ":501\r\n");
    let mut con = s.client();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("key:1?").query(&mut con).unwrap();
    keys.sort();
    assert_eq!(keys, (10..20).map(|i| format!("key:{i}")).collect::<Vec<_>>());
    // A full SCAN returns every key exactly as a set, whatever COUNT.
    for count in [1, 10, 1000] {
        let mut seen = HashSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) =
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg("key:*").arg("COUNT").arg(count).query(&mut con).unwrap();
            seen.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 500, "count {count}");
    }
    let (_, batch): (u64, Vec<String>) = redis::cmd("SCAN").arg(0).arg("TYPE").arg("hash").arg("COUNT").arg(1000).query(&mut con).unwrap();
    assert!(batch.is_empty());
    assert_eq!(c.cmd("SCAN 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SCAN abc"), "-ERR invalid cursor\r\n");
    let r: String = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
    assert!(r.starts_with("key:") || r == "other");
    c.cmd("FLUSHDB");
    assert_eq!(c.cmd("RANDOMKEY"), "$-1\r\n");
    assert_eq!(c.cmd("DBSIZE"), ":0\r\n");
}

#[test]
fn scan_returns_keys_present_throughout_while_table_grows() {
    let s = Server::start();
    let mut c = s.raw();
    let mut con = s.client();
    for i in 0..200 {
        c.cmd(&format!("SET old:{i} v"));
    }
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut round = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(20).query(&mut con).unwrap();
        seen.extend(batch);
        // Grow the keyspace between the first calls so shards resize under the cursor.
        if round < 10 {
            for i in 0..300 {
                c.cmd(&format!("SET new:{round}:{i} v"));
            }
        }
        round += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..200 {
        assert!(seen.contains(&format!("old:{i}")), "old:{i} missed");
    }
}

#[test]
fn select_swapdb_move_copy() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET k v");
    assert_eq!(c.cmd("SELECT 16"), "-ERR DB index is out of range\r\n");
    assert_eq!(c.cmd("SELECT x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("MOVE k 1"), ":1\r\n");
    assert_eq!(c.cmd("MOVE k 1"), ":0\r\n");
    assert_eq!(c.cmd("MOVE k 0"), "-ERR source and destination objects are the same\r\n");
    assert_eq!(c.cmd("MOVE k 99"), "-ERR DB index is out of range\r\n");
    assert_eq!(c.cmd("SELECT 1"), "+OK\r\n");
    assert_eq!(c.cmd("GET k"), "$1\r\nv\r\n");
    assert_eq!(c.cmd("COPY k k2"), ":1\r\n");
    assert_eq!(c.cmd("COPY k k2"), ":0\r\n");
    assert_eq!(c.cmd("COPY k k2 REPLACE"), ":1\r\n");
    assert_eq!(c.cmd("COPY k k DB 1"), "-ERR source and destination objects are the same\r\n");
    assert_eq!(c.cmd("COPY k k3 DB 2"), ":1\r\n");
    assert_eq!(c.cmd("SWAPDB 1 2"), "+OK\r\n");
    assert_eq!(c.cmd("DBSIZE"), ":1\r\n");
    assert_eq!(c.cmd("GET k3"), "$1\r\nv\r\n");
    assert_eq!(c.cmd("SWAPDB 1 99"), "-ERR DB index is out of range\r\n");
    assert_eq!(c.cmd("SWAPDB a 1"), "-ERR invalid first DB index\r\n");
    assert_eq!(c.cmd("FLUSHALL"), "+OK\r\n");
    assert_eq!(c.cmd("DBSIZE"), ":0\r\n");
    assert_eq!(c.cmd("FLUSHALL ASYNC"), "+OK\r\n");
    assert_eq!(c.cmd("FLUSHDB SYNC"), "+OK\r\n");
    assert_eq!(c.cmd("FLUSHDB FOO"), "-ERR syntax error\r\n");
}

#[test]
fn object_subcommands() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET i 12345");
    c.cmd("SET e hello");
    c.cmd(&format!("SET r {}", "x".repeat(100)));
    assert_eq!(c.cmd("OBJECT ENCODING i"), "$3\r\nint\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING e"), "$6\r\nembstr\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING r"), "$3\r\nraw\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING nope"), "$-1\r\n");
    assert_eq!(c.cmd("OBJECT IDLETIME e"), ":0\r\n");
    assert_eq!(c.cmd("OBJECT REFCOUNT e"), ":1\r\n");
    assert!(c.cmd("OBJECT FREQ e").starts_with("-ERR An LFU maxmemory policy is not selected"));
    assert_eq!(c.cmd("OBJECT FOO e"), "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n");
    assert!(c.cmd("OBJECT HELP").starts_with("*"));
}

/// UNLINK of a big set gives its memory back (Redis's lazyfree test): nothing of the
/// 100k-argument SADD stays allocated on the idle connection either.
#[test]
fn unlink_reclaims_memory() {
    // Not `Server::start`: its write-stream backlog would hold the SADD's bytes.
    let port = common::free_port();
    let dir = std::env::temp_dir().join(format!("ferrokv-test-{port}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = Server::spawn(port, dir, vec!["--port".into(), port.to_string(), "--bind".into(), "127.0.0.1".into()]);
    let mut c = s.client();
    let used = |c: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
        info.lines().find_map(|l| l.strip_prefix("used_memory:")).unwrap().trim().parse().unwrap()
    };
    let orig = used(&mut c);
    let members: Vec<u32> = (0..100_000).collect();
    let n: usize = redis::cmd("SADD").arg("myset").arg(&members).query(&mut c).unwrap();
    assert_eq!(n, 100_000);
    let peak = used(&mut c);
    assert!(peak > orig + 1_000_000, "used_memory {orig} -> {peak}");
    let n: usize = redis::cmd("UNLINK").arg("myset").query(&mut c).unwrap();
    assert_eq!(n, 1);
    assert!(
        common::eventually(std::time::Duration::from_secs(5), || {
            let now = used(&mut c);
            now < peak && now < orig * 2
        }),
        "memory not reclaimed: {orig} before, {peak} at peak, {} now",
        used(&mut c)
    );
}
