//! Server introspection: INFO, COMMAND, SLOWLOG, LATENCY, MEMORY, DEBUG, SHUTDOWN.

mod common;
use std::time::Duration;

use common::Server;

fn field(info: &str, name: &str) -> String {
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or_else(|| panic!("no {name}")).to_string()
}

#[test]
fn info_sections_and_fields() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET a 1");
    c.cmd("GET a");
    c.cmd("GET nope");
    c.cmd("FOO");
    let info = c.cmd("INFO");
    for section in ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Errorstats", "# Keyspace"]
    {
        assert!(info.contains(section), "missing {section}");
    }
    assert!(!info.contains("# Commandstats"));
    assert_eq!(field(&info, "redis_version"), "7.2.6");
    assert_eq!(field(&info, "tcp_port"), s.port.to_string());
    assert_eq!(field(&info, "role"), "master");
    // (The harness's own start-up connections may still be closing.)
    let one = common::eventually(std::time::Duration::from_secs(5), || field(&c.cmd("INFO clients"), "connected_clients") == "1");
    assert!(one, "connected_clients: {}", field(&c.cmd("INFO clients"), "connected_clients"));
    assert_eq!(field(&info, "keyspace_hits"), "1");
    assert_eq!(field(&info, "keyspace_misses"), "1");
    assert_eq!(field(&info, "errorstat_ERR"), "count=1");
    assert_eq!(field(&info, "db0"), "keys=1,expires=0,avg_ttl=0");
    assert_eq!(field(&info, "rdb_changes_since_last_save"), "1");
    let all = c.cmd("INFO commandstats");
    assert!(all.contains("cmdstat_get:calls=2,"), "{all}");
    assert!(all.contains("cmdstat_set:calls=1,"));
    let two = c.cmd("INFO server clients");
    assert!(two.contains("# Server") && two.contains("# Clients") && !two.contains("# Memory"));
    assert_eq!(c.cmd("CONFIG RESETSTAT"), "+OK\r\n");
    assert!(!c.cmd("INFO commandstats").contains("cmdstat_get"));
}

#[test]
fn command_metadata() {
    let s = Server::start();
    let mut c = s.raw();
    let count: i64 = c.cmd("COMMAND COUNT").trim_start_matches(':').trim().parse().unwrap();
    assert!(count > 60);
    let get = c.cmd("COMMAND INFO get");
    assert!(get.starts_with("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"), "{get}");
    assert!(get.contains("+@read\r\n+@string\r\n+@fast\r\n"));
    assert_eq!(c.cmd("COMMAND INFO nosuch"), "*1\r\n*-1\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS MSET a 1 b 2"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS PING"), "-ERR The command has no key arguments\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS GET"), "-ERR Invalid number of arguments specified for command\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS NOSUCH x"), "-ERR Invalid command specified\r\n");
    // EVAL's keys are optional (no_mandatory_keys): none is an empty list (Redis 7.2).
    assert_eq!(c.cmd("COMMAND GETKEYS EVAL x 0"), "*0\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS EVAL x 1 k"), "*1\r\n$1\r\nk\r\n");
    // Commands that count their keys (checked against redis-server 7.0 and 7.2).
    assert_eq!(c.cmd("COMMAND GETKEYS ZUNIONSTORE d 2 a b"), "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS SINTERCARD 1 a LIMIT 3"), "*1\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYSANDFLAGS BLMPOP 0 1 a LEFT"), "*1\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n");
    assert_eq!(c.cmd("COMMAND GETKEYS ZINTER 0 a"), "-ERR Invalid arguments specified for command\r\n");
    let docs = c.cmd("COMMAND DOCS get");
    assert!(docs.contains("$7\r\nsummary\r\n$34\r\nReturns the string value of a key.\r\n"), "{docs}");
    let list = c.cmd("COMMAND LIST FILTERBY PATTERN config*");
    assert!(list.contains("config|get") && list.contains("config|set"));
    let mut con = s.client();
    let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut con).unwrap();
    assert_eq!(all.len() as i64, count);
}

#[test]
fn slowlog_and_latency() {
    let s = Server::start_with(&["--slowlog-log-slower-than", "0", "--latency-monitor-threshold", "50"]);
    let mut c = s.raw();
    c.cmd("SLOWLOG RESET");
    c.cmd("SET k v");
    let log = c.cmd("SLOWLOG GET 1");
    assert!(log.starts_with("*1\r\n*6\r\n:"), "{log}");
    assert!(log.contains("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"));
    assert_eq!(c.cmd("SLOWLOG GET -2"), "-ERR count should be greater than or equal to -1\r\n");
    assert_eq!(c.cmd("DEBUG SLEEP 0.1"), "+OK\r\n");
    let latest = c.cmd("LATENCY LATEST");
    assert!(latest.contains("$7\r\ncommand\r\n"), "{latest}");
    assert!(c.cmd("LATENCY HISTORY command").starts_with("*1\r\n*2\r\n"));
    assert_eq!(c.cmd("LATENCY RESET"), ":1\r\n");
    assert_eq!(c.cmd("LATENCY LATEST"), "*0\r\n");
    c.cmd("CONFIG SET slowlog-max-len 1");
    c.cmd("PING");
    c.cmd("PING");
    assert_eq!(c.cmd("SLOWLOG LEN"), ":1\r\n");
}

/// LATENCY HISTOGRAM of a container command lists its subcommands that ran; an active
/// expire cycle slower than latency-monitor-threshold is an `expire-cycle` event.
#[test]
fn latency_histogram_subcommands_and_expire_cycle_events() {
    let s = Server::start_with(&["--latency-monitor-threshold", "1"]);
    let mut c = s.raw();
    c.cmd("CONFIG RESETSTAT");
    c.cmd("CLIENT ID");
    c.cmd("CLIENT LIST");
    let h = c.cmd("LATENCY HISTOGRAM client");
    assert!(h.starts_with("*4\r\n") && h.contains("$9\r\nclient|id\r\n") && h.contains("$11\r\nclient|list\r\n"), "{h}");
    let one = c.cmd("LATENCY HISTOGRAM client|id");
    assert!(one.starts_with("*2\r\n$9\r\nclient|id\r\n"), "{one}");
    // A 300k-member set expiring: freeing it takes the cycle past 1 ms.
    let fill = "for i = 1, 300000 do redis.call('sadd', KEYS[1], i) end";
    c.send(&[b"EVAL", fill.as_bytes(), b"1", b"bigset"]);
    assert_eq!(c.read(), "$-1\r\n");
    c.cmd("LATENCY RESET");
    c.cmd("PEXPIRE bigset 10");
    // On a loaded machine an unrelated cycle may cross 1 ms first, so wait for both.
    let seen = common::eventually(Duration::from_secs(10), || {
        c.cmd("LATENCY LATEST").contains("expire-cycle") && c.cmd("EXISTS bigset") == ":0\r\n"
    });
    assert!(seen, "{} {}", c.cmd("LATENCY LATEST"), c.cmd("EXISTS bigset"));
}

#[test]
fn memory_and_debug() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET k hello");
    let usage: i64 = c.cmd("MEMORY USAGE k").trim_start_matches(':').trim().parse().unwrap();
    assert!(usage > 0 && usage < 200);
    assert_eq!(c.cmd("MEMORY USAGE nope"), "$-1\r\n");
    assert_eq!(c.cmd("DEBUG POPULATE 100"), "+OK\r\n");
    assert_eq!(c.cmd("DBSIZE"), ":101\r\n");
    assert_eq!(c.cmd("GET key:7"), "$7\r\nvalue:7\r\n");
    let d1 = c.cmd("DEBUG DIGEST");
    assert_eq!(d1.len(), 43);
    c.cmd("SET k hellO");
    assert_ne!(c.cmd("DEBUG DIGEST"), d1);
    c.cmd("SET k hello");
    assert_eq!(c.cmd("DEBUG DIGEST"), d1);
    c.cmd("FLUSHALL");
    assert_eq!(c.cmd("DEBUG DIGEST"), format!("+{}\r\n", "0".repeat(40)));
    assert!(c.cmd("DEBUG OBJECT nope").starts_with("-ERR no such key"));
    c.cmd("SET k 1");
    assert!(c.cmd("DEBUG OBJECT k").contains("encoding:int"));
    let off = Server::start_with(&["--enable-debug-command", "no"]);
    assert!(off.raw().cmd("DEBUG SLEEP 0").starts_with("-ERR DEBUG command not allowed."));
}

#[test]
fn shutdown_stops_the_server() {
    let mut s = Server::start();
    let mut c = s.raw();
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.closed());
    assert!(s.wait_exit(Duration::from_secs(5)).is_some(), "server still running");
}

#[test]
fn time_and_lastsave() {
    let s = Server::start();
    let mut c = s.raw();
    let t = c.cmd("TIME");
    assert!(t.starts_with("*2\r\n$10\r\n"), "{t}");
    assert!(c.cmd("LASTSAVE").starts_with(':'));
}
