//! Expiry: TTL commands, lazy expiry on access and active expiry in the background.

mod common;
use std::time::Duration;

use common::{eventually, Server};

#[test]
fn ttl_family_and_options() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("TTL nope"), ":-2\r\n");
    c.cmd("SET k v");
    assert_eq!(c.cmd("TTL k"), ":-1\r\n");
    assert_eq!(c.cmd("EXPIRE k 100"), ":1\r\n");
    assert_eq!(c.cmd("TTL k"), ":100\r\n");
    let pttl: i64 = c.cmd("PTTL k").trim_start_matches(':').trim().parse().unwrap();
    assert!((99_000..=100_000).contains(&pttl));
    assert_eq!(c.cmd("EXPIRE k 50 GT"), ":0\r\n");
    assert_eq!(c.cmd("EXPIRE k 50 LT"), ":1\r\n");
    assert_eq!(c.cmd("EXPIRE k 60 NX"), ":0\r\n");
    assert_eq!(c.cmd("EXPIRE k 60 XX"), ":1\r\n");
    assert_eq!(c.cmd("EXPIRE k 60 NX XX"), "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    assert_eq!(c.cmd("EXPIRE k 60 GT LT"), "-ERR GT and LT options at the same time are not compatible\r\n");
    assert_eq!(c.cmd("EXPIRE k 60 FOO"), "-ERR Unsupported option FOO\r\n");
    assert_eq!(c.cmd("EXPIRE k abc"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("EXPIRE k 9223372036854775807"), "-ERR invalid expire time in 'expire' command\r\n");
    assert_eq!(c.cmd("PERSIST k"), ":1\r\n");
    assert_eq!(c.cmd("PERSIST k"), ":0\r\n");
    assert_eq!(c.cmd("EXPIRE k 10 GT"), ":0\r\n");
    assert_eq!(c.cmd("EXPIRE k 10 LT"), ":1\r\n");
    assert_eq!(c.cmd("EXPIREAT k 4102444800"), ":1\r\n");
    assert_eq!(c.cmd("EXPIRETIME k"), ":4102444800\r\n");
    assert_eq!(c.cmd("PEXPIRETIME k"), ":4102444800000\r\n");
    assert_eq!(c.cmd("PEXPIREAT k 4102444800123"), ":1\r\n");
    assert_eq!(c.cmd("PEXPIRETIME k"), ":4102444800123\r\n");
    assert_eq!(c.cmd("EXPIRETIME nope"), ":-2\r\n");
    assert_eq!(c.cmd("EXPIRE nope 10"), ":0\r\n");
    // An expiry in the past deletes the key at once.
    assert_eq!(c.cmd("EXPIRE k -1"), ":1\r\n");
    assert_eq!(c.cmd("EXISTS k"), ":0\r\n");
}

#[test]
fn lazy_expiry_on_access() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("DEBUG SET-ACTIVE-EXPIRE 0"), "+OK\r\n");
    c.cmd("SET k v PX 50");
    c.cmd("SET k2 v PX 50");
    std::thread::sleep(Duration::from_millis(120));
    // Still counted (nobody touched it, no active expiry) ...
    assert_eq!(c.cmd("DBSIZE"), ":2\r\n");
    // ... but invisible and deleted on access.
    assert_eq!(c.cmd("GET k"), "$-1\r\n");
    assert_eq!(c.cmd("DBSIZE"), ":1\r\n");
    assert!(c.cmd("INFO stats").contains("expired_keys:1\r\n"));
}

#[test]
fn active_expiry_reclaims_untouched_keys() {
    let s = Server::start();
    let mut c = s.raw();
    for i in 0..2000 {
        c.cmd(&format!("SET k{i} v PX 100"));
    }
    for i in 0..100 {
        c.cmd(&format!("SET keep{i} v"));
    }
    assert!(eventually(Duration::from_secs(5), || c.cmd("DBSIZE") == ":100\r\n"), "expired keys not reclaimed");
    assert!(c.cmd("INFO stats").contains("expired_keys:2000\r\n"));
    assert!(c.cmd("INFO keyspace").contains("db0:keys=100,expires=0,avg_ttl=0"));
}

#[test]
fn set_ex_variants_store_absolute_times() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET a v EXAT 4102444800");
    assert_eq!(c.cmd("EXPIRETIME a"), ":4102444800\r\n");
    c.cmd("SET b v PXAT 4102444800500");
    assert_eq!(c.cmd("PEXPIRETIME b"), ":4102444800500\r\n");
    assert_eq!(c.cmd("SET c v EXAT 0"), "-ERR invalid expire time in 'set' command\r\n");
}

#[test]
fn scan_deletes_expired_keys_it_meets() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("DEBUG SET-ACTIVE-EXPIRE 0");
    c.cmd("SET foo1 bar PX 1");
    c.cmd("SET foo2 bar PX 1");
    c.cmd("SET keep bar");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(c.cmd("SCAN 0 COUNT 100"), "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nkeep\r\n");
    assert_eq!(c.cmd("DBSIZE"), ":1\r\n");
    let st = c.cmd("DEBUG REPL-STREAM 100000");
    assert!(st.contains("*2\r\n$3\r\nDEL\r\n$4\r\nfoo1\r\n") && st.contains("*2\r\n$3\r\nDEL\r\n$4\r\nfoo2\r\n"), "{st}");
}

/// The cycle skips a database it found without TTLs until a key somewhere gains one:
/// keys given a TTL after an idle spell, in another database, or brought by SWAPDB
/// are still reclaimed, and an idle server spends (almost) no CPU on it.
#[test]
fn active_expiry_after_idle_databases() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET plain v");
    // Several cycles find every database without TTLs.
    std::thread::sleep(Duration::from_millis(400));
    c.cmd("SET a v PX 50");
    c.cmd("SELECT 7");
    c.cmd("SET b v PX 50");
    assert!(eventually(Duration::from_secs(3), || c.cmd("DBSIZE") == ":0\r\n"), "db 7 key not reclaimed");
    c.cmd("SELECT 0");
    assert!(eventually(Duration::from_secs(3), || c.cmd("DBSIZE") == ":1\r\n"), "db 0 key not reclaimed");
    // A key whose TTL is set later (EXPIRE on a persistent key).
    std::thread::sleep(Duration::from_millis(300));
    c.cmd("PEXPIRE plain 50");
    assert!(eventually(Duration::from_secs(3), || c.cmd("DBSIZE") == ":0\r\n"), "EXPIREd key not reclaimed");
    // SWAPDB brings a database with TTLs where the cycle last saw none.
    c.cmd("SELECT 3");
    c.cmd("SET c v PX 700");
    std::thread::sleep(Duration::from_millis(400));
    c.cmd("SWAPDB 3 4");
    c.cmd("SELECT 4");
    assert!(
        eventually(Duration::from_secs(3), || c.cmd("INFO keyspace").lines().all(|l| !l.starts_with("db4:"))),
        "swapped key not reclaimed"
    );
    assert!(c.cmd("INFO stats").contains("expired_keys:4\r\n"));
}
