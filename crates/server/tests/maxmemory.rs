//! maxmemory against the real server: the OOM refusal under noeviction (including
//! inside MULTI) and eviction by policy, with evicted_keys counted.

mod common;
use common::Server;

fn info_field(c: &mut common::Raw, section: &str, field: &str) -> u64 {
    let info = c.cmd(&format!("INFO {section}"));
    let line = info.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field}"));
    line.split(':').nth(1).unwrap().trim().parse().unwrap()
}

#[test]
fn noeviction_refuses_writes_that_may_grow_memory() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET a 1");
    assert_eq!(c.cmd("CONFIG SET maxmemory 1"), "+OK\r\n");
    assert_eq!(c.cmd("SET b 1"), "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    assert_eq!(c.cmd("GET a"), "$1\r\n1\r\n");
    // Commands that free memory still run.
    assert_eq!(c.cmd("DEL a"), ":1\r\n");
    // In MULTI every queued command is refused and the transaction fails.
    assert_eq!(c.cmd("MULTI"), "+OK\r\n");
    assert_eq!(c.cmd("GET a"), "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    assert_eq!(c.cmd("EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(c.cmd("CONFIG SET maxmemory 0"), "+OK\r\n");
    assert_eq!(c.cmd("SET b 1"), "+OK\r\n");
    let stats = c.cmd("INFO errorstats");
    assert!(stats.contains("errorstat_OOM:count="), "{stats}");
}

#[test]
fn eviction_policies_make_room() {
    let s = Server::start();
    let mut c = s.raw();
    let val = "x".repeat(1000);
    for i in 0..3000 {
        let ttl = if i % 2 == 0 { "PX 1000000" } else { "" };
        let cmd = format!("SET key:{i} {val} {ttl}");
        c.cmd(cmd.trim_end());
    }
    let used = info_field(&mut c, "memory", "used_memory");
    let limit = used - 1_000_000;
    c.cmd("CONFIG SET maxmemory-policy volatile-ttl");
    c.cmd(&format!("CONFIG SET maxmemory {limit}"));
    assert_eq!(c.cmd(&format!("SET new {val}")), "+OK\r\n");
    let evicted = info_field(&mut c, "stats", "evicted_keys");
    assert!(evicted > 0, "nothing evicted");
    assert!(info_field(&mut c, "memory", "used_memory") <= limit + 64 * 1024);
    // volatile-* policies only evict keys with a TTL: every key without one is still there.
    for i in (1..3000).step_by(2) {
        assert_eq!(c.cmd(&format!("EXISTS key:{i}")), ":1\r\n", "key:{i} without TTL was evicted");
    }
    // allkeys-random may take any key; the server stays under the limit while writing.
    c.cmd("CONFIG SET maxmemory-policy allkeys-random");
    for i in 0..2000 {
        assert_eq!(c.cmd(&format!("SET more:{i} {val}")), "+OK\r\n");
    }
    assert!(info_field(&mut c, "memory", "used_memory") <= limit + 64 * 1024);
    assert!(info_field(&mut c, "stats", "evicted_keys") > evicted);
}

/// LFU under an `*-lfu` policy: a new key counts 5, each access adds one with
/// probability 1/((c-5)*lfu-log-factor+1) (always, with factor 0), OBJECT FREQ reads
/// it, RESTORE FREQ sets it, and allkeys-lfu evicts the least used keys first.
#[test]
fn lfu_counts_accesses_and_evicts_the_least_used() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET k v");
    assert!(c.cmd("OBJECT FREQ k").starts_with("-ERR An LFU maxmemory policy is not selected"));
    assert_eq!(c.cmd("CONFIG SET maxmemory-policy allkeys-lfu"), "+OK\r\n");
    assert_eq!(c.cmd("CONFIG SET lfu-log-factor 0"), "+OK\r\n");
    assert_eq!(c.cmd("SET hot v"), "+OK\r\n");
    assert_eq!(c.cmd("OBJECT FREQ hot"), ":5\r\n");
    for _ in 0..50 {
        c.cmd("GET hot");
    }
    assert_eq!(c.cmd("OBJECT FREQ hot"), ":55\r\n");
    // An overwrite keeps the counter (and counts as an access).
    c.cmd("SET hot w");
    assert_eq!(c.cmd("OBJECT FREQ hot"), ":56\r\n");
    assert!(c.cmd("OBJECT IDLETIME hot").starts_with("-ERR An LFU maxmemory policy is selected"));
    let mut rc = s.client();
    let payload: Vec<u8> = redis::cmd("DUMP").arg("hot").query(&mut rc).unwrap();
    let _: () = redis::cmd("RESTORE").arg("copy").arg(0).arg(payload).arg("FREQ").arg(100).query(&mut rc).unwrap();
    assert_eq!(c.cmd("OBJECT FREQ copy"), ":100\r\n");
    // The counters survive a reload through the RDB (its FREQ opcode).
    assert_eq!(c.cmd("DEBUG RELOAD"), "+OK\r\n");
    assert_eq!(c.cmd("OBJECT FREQ copy"), ":100\r\n");
    assert_eq!(c.cmd("OBJECT FREQ hot"), ":57\r\n", "56, and one more for DUMP's read");
    assert_eq!(c.cmd("CONFIG SET lfu-log-factor 10"), "+OK\r\n");

    // Eviction: 200 cold keys (count 5) and the hot ones; room for about half.
    for i in 0..200 {
        c.cmd(&format!("SET cold:{i} {}", "x".repeat(1000)));
    }
    let used = info_field(&mut c, "memory", "used_memory");
    assert_eq!(c.cmd(&format!("CONFIG SET maxmemory {}", used - 100 * 1024)), "+OK\r\n");
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    assert_eq!(c.cmd("CONFIG SET maxmemory 0"), "+OK\r\n");
    assert!(info_field(&mut c, "stats", "evicted_keys") > 0);
    assert_eq!(c.cmd("EXISTS hot copy"), ":2\r\n", "the frequently used keys stay");
}

/// glibc keeps freed memory in its arenas: MEMORY PURGE hands it back at once, and the
/// cron does so by itself once a large drop has lasted 10 s (as jemalloc's decay does
/// for Redis), so the RSS follows a FLUSHALL down.
#[test]
fn freed_memory_goes_back_to_the_kernel() {
    let s = Server::start();
    let mut c = s.raw();
    for purge in [true, false] {
        assert_eq!(c.cmd("DEBUG POPULATE 300000 key 200"), "+OK\r\n");
        let full = info_field(&mut c, "memory", "used_memory_rss");
        assert!(full > 80 << 20, "rss {full}");
        assert_eq!(c.cmd("FLUSHALL SYNC"), "+OK\r\n");
        if purge {
            assert_eq!(c.cmd("MEMORY PURGE"), "+OK\r\n");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(if purge { 1 } else { 25 });
        let mut rss = info_field(&mut c, "memory", "used_memory_rss");
        while rss > full / 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(200));
            rss = info_field(&mut c, "memory", "used_memory_rss");
        }
        assert!(rss <= full / 2, "purge={purge}: rss {rss} after FLUSHALL, {full} before");
    }
}
