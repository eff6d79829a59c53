//! Forkless RDB snapshots: BGSAVE as a point in time while writers continue, BGSAVE
//! conflicts and SCHEDULE, INFO persistence, save points, SHUTDOWN / SIGTERM final
//! saves, FLUSHALL's empty dump and MISCONF. Dumps are checked by loading them into a
//! real redis-server (Debian's 7.0), and error paths are compared with one.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, Raw, Server};
use redis::Connection;

const MISCONF: &str = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";

/// Stops the active expire cycle: it locks every shard in turn and so captures them
/// for a running snapshot without `rdb-key-save-delay` (see
/// `rdb_key_save_delay_keeps_a_bgsave_running`), which ends a slowed-down save within
/// ~100 ms. Tests that must see a save in progress turn it off.
fn no_active_expire(r: &mut Raw) {
    assert_eq!(r.cmd("DEBUG SET-ACTIVE-EXPIRE 0"), "+OK\r\n");
}

/// A server with its log in `server.log` (in its directory) and `dir` settable.
fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--logfile", "server.log", "--enable-protected-configs", "yes"];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

/// Starts a new server in `dir` (loading its dump.rdb), with `extra` arguments.
fn restart(dir: &Path, extra: &[&str]) -> Server {
    let port = common::free_port();
    let mut args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--logfile", "server.log"].map(String::from).to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    Server::spawn(port, dir.to_path_buf(), args)
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// One field of INFO (any section) from a raw connection.
fn info(r: &mut Raw, field: &str) -> String {
    let text = r.cmd(if field == "process_id" { "INFO server" } else { "INFO persistence" });
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(field).and_then(|rest| rest.strip_prefix(':')))
        .unwrap_or_else(|| panic!("INFO has no {field}"))
        .to_string()
}

fn info_i(r: &mut Raw, field: &str) -> i64 {
    info(r, field).parse().unwrap()
}

fn lastsave(r: &mut Raw) -> i64 {
    let reply = r.cmd("LASTSAVE");
    reply.trim_start_matches(':').trim_end().parse().unwrap()
}

/// Waits for the running BGSAVE (if any) to end.
fn wait_bgsave_done(r: &mut Raw, timeout: Duration) {
    assert!(eventually(timeout, || info(r, "rdb_bgsave_in_progress") == "0"), "BGSAVE did not finish in {timeout:?}");
}

fn pid_of(r: &mut Raw) -> u32 {
    info(r, "process_id").parse().unwrap()
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill").args([sig, &pid.to_string()]).status().expect("kill");
    assert!(st.success());
}

fn dbsize(r: &mut Raw) -> i64 {
    r.cmd("DBSIZE").trim_start_matches(':').trim_end().parse().unwrap()
}

/// A real redis-server in its own directory (with `dump` copied in as dump.rdb when
/// given), stopped and its directory removed on drop.
struct Real {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Real {
    fn start(dump: Option<&Path>, extra: &[&str]) -> Real {
        let port = common::free_port();
        let dir = std::env::temp_dir().join(format!("ferrokv-snap-real-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(d) = dump {
            std::fs::copy(d, dir.join("dump.rdb")).unwrap();
        }
        let mut args: Vec<String> =
            ["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir", dir.to_str().unwrap(), "--appendonly", "no"]
                .map(String::from)
                .to_vec();
        if !extra.contains(&"--save") {
            args.extend(["--save".to_string(), String::new()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let child =
            Command::new("redis-server").args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("redis-server installed");
        let real = Real { port, child, dir };
        let ok = eventually(Duration::from_secs(20), || common::responds(port));
        assert!(ok, "redis-server did not start (or load)");
        real
    }

    fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    fn client(&self) -> Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap().get_connection().unwrap()
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rdb_check(path: &Path) {
    let out = Command::new("redis-check-rdb").arg(path).output().expect("redis-check-rdb installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("RDB looks OK"), "{text}");
}

/// Values of `key:0 .. key:n-1` (pipelined MGETs).
fn all_values(c: &mut Connection, n: usize) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(5000) {
        let keys: Vec<String> = (start..(start + 5000).min(n)).map(|i| format!("key:{i}")).collect();
        let vals: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&keys).query(c).unwrap();
        out.extend(vals);
    }
    out
}

/// A key's contents in a comparable form (unordered types sorted), with whether it has a TTL.
fn contents(c: &mut Connection, key: &str) -> String {
    let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let mut items: Vec<String> = match t.as_str() {
        "none" => vec![],
        "string" => vec![redis::cmd("GET").arg(key).query(c).unwrap()],
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(c).unwrap(),
        "hash" => {
            let flat: Vec<String> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            let mut v: Vec<String> = flat.chunks(2).map(|p| format!("{}={}", p[0], p[1])).collect();
            v.sort();
            v
        }
        "set" => {
            let mut v: Vec<String> = redis::cmd("SMEMBERS").arg(key).query(c).unwrap();
            v.sort();
            v
        }
        "zset" => redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(c).unwrap(),
        other => panic!("unexpected type {other}"),
    };
    let ttl: i64 = redis::cmd("TTL").arg(key).query(c).unwrap();
    items.insert(0, format!("{t} ttl={}", ttl.clamp(-2, 0)));
    items.join(",")
}

const WRITERS: usize = 4;

fn side_keys() -> Vec<String> {
    let mut v = Vec::new();
    for t in 0..WRITERS {
        for k in ["ctr", "hash", "list", "zset", "set", "vol"] {
            v.push(format!("{k}:{t}"));
        }
    }
    v
}

fn side_state(c: &mut Connection) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for k in side_keys() {
        m.insert(k.clone(), contents(c, &k));
    }
    redis::cmd("SELECT").arg(1).query::<()>(c).unwrap();
    for i in 0..100 {
        let k = format!("db1:{i}");
        m.insert(k.clone(), contents(c, &k));
    }
    let n: i64 = redis::cmd("DBSIZE").query(c).unwrap();
    m.insert("db1 size".into(), n.to_string());
    redis::cmd("SELECT").arg(0).query::<()>(c).unwrap();
    m
}

/// What one writer did while (and just after) the save ran.
#[derive(Default)]
struct WriterReport {
    ops: u64,
    dirty: i64,
    latencies_us: Vec<u64>,
}

/// Writes until `stop`: overwrites, deletes and adds keys, INCRs its counter and grows
/// its collections, each command timed. Returns what it did, with the dirty count each
/// command adds in Redis.
fn writer(port: u16, t: usize, n: usize, stop: Arc<AtomicBool>, ops: Arc<AtomicU64>) -> WriterReport {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    let mut c1 = redis::Client::open(format!("redis://127.0.0.1:{port}/1")).unwrap().get_connection().unwrap();
    let mut rep = WriterReport::default();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let k = (t + i * WRITERS) * 7919 % n;
        let gone = (k + n / 2) % n;
        let cmds: Vec<(redis::Cmd, bool)> = vec![
            (redis::cmd("SET").arg(format!("key:{k}")).arg(format!("w{t}:{i}")).clone(), false),
            (redis::cmd("DEL").arg(format!("key:{gone}")).clone(), true),
            (redis::cmd("SET").arg(format!("new:{t}:{i}")).arg("x").clone(), false),
            (redis::cmd("INCR").arg(format!("ctr:{t}")).clone(), false),
            (redis::cmd("HSET").arg(format!("hash:{t}")).arg(format!("f{i}")).arg("w").clone(), false),
            (redis::cmd("RPUSH").arg(format!("list:{t}")).arg(i).clone(), false),
            (redis::cmd("ZADD").arg(format!("zset:{t}")).arg(i + 100).arg(format!("w{i}")).clone(), false),
            (redis::cmd("SADD").arg(format!("set:{t}")).arg(format!("w{i}")).clone(), false),
        ];
        for (cmd, counted) in cmds {
            let at = Instant::now();
            let v: i64 = match cmd.query::<redis::Value>(&mut c).unwrap() {
                redis::Value::Int(v) if counted => v,
                _ => 1,
            };
            rep.latencies_us.push(at.elapsed().as_micros() as u64);
            rep.dirty += v;
            rep.ops += 1;
            ops.fetch_add(1, Ordering::Relaxed);
        }
        if i == 0 {
            let removed: i64 = redis::cmd("PERSIST").arg(format!("vol:{t}")).query(&mut c).unwrap();
            rep.dirty += removed;
        }
        if t == 0 {
            let at = Instant::now();
            redis::cmd("SET").arg(format!("db1:{}", i % 100)).arg(format!("w{i}")).query::<()>(&mut c1).unwrap();
            rep.latencies_us.push(at.elapsed().as_micros() as u64);
            rep.dirty += 1;
            rep.ops += 1;
        }
        i += 1;
    }
    rep
}

#[test]
fn bgsave_is_the_dataset_at_its_point_while_writers_continue() {
    const N: usize = 200_000;
    let s = start(&["--save", ""]);
    let mut r = s.raw();
    let mut c = s.client();
    assert_eq!(r.cmd(&format!("DEBUG POPULATE {N} key 12")), "+OK\r\n");
    for t in 0..WRITERS {
        let _: () = redis::cmd("SET").arg(format!("ctr:{t}")).arg(1000 * t).query(&mut c).unwrap();
        let _: () = redis::cmd("HSET").arg(format!("hash:{t}")).arg("a").arg("1").arg("b").arg("2").query(&mut c).unwrap();
        let _: () = redis::cmd("RPUSH").arg(format!("list:{t}")).arg("x").arg("y").query(&mut c).unwrap();
        let _: () = redis::cmd("ZADD").arg(format!("zset:{t}")).arg(1).arg("a").arg(2.5).arg("b").query(&mut c).unwrap();
        let _: () = redis::cmd("SADD").arg(format!("set:{t}")).arg("a").arg("b").query(&mut c).unwrap();
        let _: () = redis::cmd("SET").arg(format!("vol:{t}")).arg("v").arg("EX").arg(10_000).query(&mut c).unwrap();
    }
    let mut c1 = redis::Client::open(format!("redis://127.0.0.1:{}/1", s.port)).unwrap().get_connection().unwrap();
    for i in 0..100 {
        let _: () = redis::cmd("SET").arg(format!("db1:{i}")).arg(format!("orig{i}")).query(&mut c1).unwrap();
    }
    let before_values = all_values(&mut c, N);
    let before_side = side_state(&mut c);
    let before_size = dbsize(&mut r);
    assert_eq!(before_size, (N + 6 * WRITERS) as i64);

    // About 7 µs per key in the background walk: over a second unless writers capture
    // the shards first.
    no_active_expire(&mut r);
    assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 7"), "+OK\r\n");
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
    let handles: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (stop, ops, port) = (stop.clone(), ops.clone(), s.port);
            std::thread::spawn(move || writer(port, t, N, stop, ops))
        })
        .collect();
    let mut ops_while_saving = 0;
    let mut seen_in_progress = false;
    let done = eventually(Duration::from_secs(30), || {
        let running = info(&mut r, "rdb_bgsave_in_progress") == "1";
        if running {
            seen_in_progress = true;
            ops_while_saving = ops.load(Ordering::Relaxed);
        }
        !running
    });
    let save_took = started.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let reports: Vec<WriterReport> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(done, "BGSAVE did not finish");
    assert!(seen_in_progress, "rdb_bgsave_in_progress:1 never seen");
    assert!(ops_while_saving >= 200, "only {ops_while_saving} writes completed while the save ran ({save_took:?})");
    assert_eq!(info(&mut r, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info(&mut r, "rdb_saves"), "1");

    // The writes happened (the live dataset moved on)...
    let after_side = side_state(&mut c);
    for t in 0..WRITERS {
        let k = format!("ctr:{t}");
        assert_ne!(after_side[&k], before_side[&k], "{k} was INCRed during the save");
    }
    assert_eq!(r.cmd("EXISTS new:0:0 new:1:0 new:2:0 new:3:0"), ":4\r\n");
    // ...after the point: they are exactly the changes since the last save.
    let dirty: i64 = reports.iter().map(|w| w.dirty).sum();
    assert_eq!(info_i(&mut r, "rdb_changes_since_last_save"), dirty, "changes since the save = writes made after its point");

    // The file is the dataset at the point, for redis-server too.
    let dump = s.dir.join("dump.rdb");
    rdb_check(&dump);
    let real = Real::start(Some(&dump), &[]);
    let mut theirs = real.client();
    let mut rr = real.raw();
    assert_eq!(dbsize(&mut rr), before_size, "keys in db 0 of the dump");
    let loaded = all_values(&mut theirs, N);
    let wrong: Vec<usize> = (0..N).filter(|&i| loaded[i] != before_values[i]).collect();
    assert!(wrong.is_empty(), "{} of {N} keys differ from the point, e.g. key:{}", wrong.len(), wrong[0]);
    assert_eq!(side_state(&mut theirs), before_side);

    // Writers were never stalled for long (only a sanity bound: the walk holds a shard
    // for ~200 keys * 7 µs at most, and capturing one costs a writer far less).
    let mut lat: Vec<u64> = reports.iter().flat_map(|w| w.latencies_us.iter().copied()).collect();
    lat.sort_unstable();
    let total_ops: u64 = reports.iter().map(|w| w.ops).sum();
    let p99 = lat[lat.len() * 99 / 100];
    let max = *lat.last().unwrap();
    assert!(p99 < 50_000, "p99 write latency {p99} µs during the save");
    assert!(max < 500_000, "a write took {max} µs during the save ({total_ops} writes)");
}

#[test]
fn bgsave_conflicts_and_schedule() {
    let s = start(&["--save", ""]);
    let mut r = s.raw();
    let mut r2 = s.raw();
    assert_eq!(r.cmd("DEBUG POPULATE 20000 key"), "+OK\r\n");
    no_active_expire(&mut r);
    assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 60"), "+OK\r\n");
    assert_eq!(r.cmd("BGSAVE FOO"), "-ERR syntax error\r\n");
    assert_eq!(r.cmd("BGSAVE SCHEDULE EXTRA"), "-ERR syntax error\r\n");
    assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
    assert_eq!(r2.cmd("BGSAVE"), "-ERR Background save already in progress\r\n");
    // SCHEDULE only defers behind another kind of job: a running BGSAVE is an error.
    assert_eq!(r2.cmd("bgsave schedule"), "-ERR Background save already in progress\r\n");
    assert_eq!(r2.cmd("SAVE"), "-ERR Background save already in progress\r\n");
    wait_bgsave_done(&mut r, Duration::from_secs(10));
    assert_eq!(info(&mut r, "rdb_saves"), "1");
    assert_eq!(info(&mut r, "rdb_last_bgsave_status"), "ok");
    // Nothing was scheduled by the refused SCHEDULE: no second save follows.
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(info(&mut r, "rdb_saves"), "1");
    assert_eq!(info(&mut r, "rdb_bgsave_in_progress"), "0");

    // A SAVE runs on its connection without blocking others here (unlike Redis): a
    // BGSAVE meanwhile is refused, BGSAVE SCHEDULE runs once the SAVE is done.
    let port = s.port;
    let saver = std::thread::spawn(move || Raw::connect(port).cmd("SAVE"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        r2.cmd("BGSAVE"),
        "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n"
    );
    assert_eq!(r2.cmd("BGSAVE SCHEDULE"), "+Background saving scheduled\r\n");
    assert_eq!(r2.cmd("SAVE"), "-ERR Background save already in progress\r\n");
    assert_eq!(info(&mut r, "rdb_bgsave_in_progress"), "0", "a SAVE is no BGSAVE");
    // SAVE counts when it starts (as in Redis); the scheduled BGSAVE has not run yet.
    assert_eq!(info(&mut r, "rdb_saves"), "2", "the scheduled save waits for the SAVE");
    assert_eq!(saver.join().unwrap(), "+OK\r\n");
    assert!(eventually(Duration::from_secs(6), || info(&mut r, "rdb_saves") == "3"), "the scheduled BGSAVE never ran");
    wait_bgsave_done(&mut r, Duration::from_secs(10));
    assert_eq!(info(&mut r, "rdb_last_bgsave_status"), "ok");
    assert!(log(&s.dir).contains("Background saving terminated with success"), "{}", log(&s.dir));
}

#[test]
fn bgsave_inside_multi_is_scheduled() {
    // Redis 7.2: BGSAVE from EXEC (server.in_exec) is always scheduled, never started
    // inside the transaction; the cron starts it shortly after.
    let s = start(&["--save", ""]);
    let mut r = s.raw();
    assert_eq!(r.cmd("SET a 1"), "+OK\r\n");
    assert_eq!(r.cmd("MULTI"), "+OK\r\n");
    assert_eq!(r.cmd("BGSAVE"), "+QUEUED\r\n");
    assert_eq!(r.cmd("EXEC"), "*1\r\n+Background saving scheduled\r\n");
    assert!(eventually(Duration::from_secs(4), || info(&mut r, "rdb_saves") == "1"), "the scheduled BGSAVE never ran");
    wait_bgsave_done(&mut r, Duration::from_secs(5));
    assert!(s.dir.join("dump.rdb").exists());
}

#[test]
fn info_persistence_during_and_after_a_bgsave() {
    const N: i64 = 20_000;
    let s = start(&["--save", ""]);
    let mut r = s.raw();
    assert_eq!(info(&mut r, "rdb_last_bgsave_time_sec"), "-1");
    assert_eq!(info(&mut r, "rdb_saves"), "0");
    let before = lastsave(&mut r);
    assert_eq!(info_i(&mut r, "rdb_last_save_time"), before);
    assert_eq!(r.cmd(&format!("DEBUG POPULATE {N} key")), "+OK\r\n");
    for i in 0..10 {
        assert_eq!(r.cmd(&format!("SET pre:{i} v")), "+OK\r\n");
    }
    assert_eq!(info(&mut r, "rdb_changes_since_last_save"), "10");
    // ~1.2 s of walk.
    no_active_expire(&mut r);
    assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 60"), "+OK\r\n");
    let t0 = Instant::now();
    assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
    // Keys added after the point: counted as changes, not in the save's key total.
    for i in 0..25 {
        assert_eq!(r.cmd(&format!("SET post:{i} v")), "+OK\r\n");
    }
    // Every INFO during the save, timed: one snapshot of the section each.
    let mut slowest = Duration::ZERO;
    let mut snap = |r: &mut Raw| {
        let t = Instant::now();
        let text = r.cmd("INFO persistence");
        slowest = slowest.max(t.elapsed());
        move |f: &str| text.split("\r\n").find_map(|l| l.strip_prefix(f).and_then(|v| v.strip_prefix(':'))).unwrap().to_string()
    };
    let first = snap(&mut r);
    let (in_progress, current_time) = (first("rdb_bgsave_in_progress"), first("rdb_current_bgsave_time_sec"));
    let (changes_during, total_during) = (first("rdb_changes_since_last_save"), first("current_save_keys_total"));
    let mut processed = vec![];
    let mut percents = vec![];
    while t0.elapsed() < Duration::from_millis(700) {
        let field = snap(&mut r);
        if field("rdb_bgsave_in_progress") != "1" {
            break;
        }
        processed.push(field("current_save_keys_processed").parse::<i64>().unwrap());
        percents.push(field("current_fork_perc"));
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_bgsave_done(&mut r, Duration::from_secs(10));
    let took = t0.elapsed();
    assert!(slowest < Duration::from_millis(250), "an INFO persistence took {slowest:?} during a {took:?} save");
    assert_eq!(in_progress, "1");
    assert!(["0", "1"].contains(&current_time.as_str()), "rdb_current_bgsave_time_sec {current_time}");
    assert_eq!(changes_during, "35");
    let total_during: i64 = total_during.parse().unwrap();
    assert!(processed.len() >= 3, "the save ended too soon to observe ({took:?})");
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "keys processed goes up: {processed:?}");
    assert!(processed.iter().all(|&p| p <= N + 10), "{processed:?}");
    assert!(processed.last().unwrap() > &0);
    assert!(percents.iter().all(|p| p.contains('.') && p.split('.').nth(1).unwrap().len() == 2), "{percents:?}");

    // After.
    assert_eq!(info(&mut r, "rdb_bgsave_in_progress"), "0");
    assert_eq!(info(&mut r, "rdb_current_bgsave_time_sec"), "-1");
    assert_eq!(info(&mut r, "rdb_last_bgsave_status"), "ok");
    let secs = took.as_secs() as i64;
    assert!((secs - 1..=secs).contains(&info_i(&mut r, "rdb_last_bgsave_time_sec")), "{took:?}");
    assert_eq!(info(&mut r, "rdb_saves"), "1");
    assert_eq!(info(&mut r, "current_save_keys_processed"), "0");
    assert_eq!(info(&mut r, "current_save_keys_total"), "0");
    assert_eq!(info(&mut r, "current_fork_perc"), "0.00");
    assert_eq!(info(&mut r, "rdb_changes_since_last_save"), "25", "only the writes after the point remain");
    let after = lastsave(&mut r);
    assert!(after > before, "LASTSAVE {before} -> {after} after a {took:?} save");
    assert_eq!(info_i(&mut r, "rdb_last_save_time"), after);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - 1..=now).contains(&after));
    // SAVE: changes drop to 0, LASTSAVE moves, counted as a save.
    assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 0"), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(r.cmd("SAVE"), "+OK\r\n");
    assert_eq!(info(&mut r, "rdb_changes_since_last_save"), "0");
    assert!(lastsave(&mut r) > after);
    assert_eq!(info(&mut r, "rdb_saves"), "2");
    assert!((secs - 1..=secs).contains(&info_i(&mut r, "rdb_last_bgsave_time_sec")), "SAVE leaves the BGSAVE time");
    // Redis counts the keys at the fork: keys added later are not in the total.
    assert_eq!(total_during, N + 10, "current_save_keys_total is the key count at the snapshot point");
}

#[test]
fn save_points_trigger_a_bgsave() {
    let s = start(&["--save", "3600 1 1 2"]);
    let mut r = s.raw();
    let dump = s.dir.join("dump.rdb");
    assert_eq!(r.cmd("SET k1 v1"), "+OK\r\n");
    // One change: the 1-second point wants two; the 3600-second one is far away.
    std::thread::sleep(Duration::from_millis(2200));
    assert!(!dump.exists(), "saved with 1 change");
    assert!(!log(&s.dir).contains("Saving..."));
    assert_eq!(r.cmd("SET k2 v2"), "+OK\r\n");
    assert!(eventually(Duration::from_secs(3), || dump.exists()), "no save 3 s after 2 changes");
    assert!(eventually(Duration::from_secs(2), || log(&s.dir).contains("Background saving terminated with success")));
    let text = log(&s.dir);
    assert!(text.contains("2 changes in 1 seconds. Saving..."), "{text}");
    assert!(text.contains("Background saving started by pid"), "{text}");
    assert!(text.contains("DB saved on disk"), "{text}");
    wait_bgsave_done(&mut r, Duration::from_secs(5));
    assert_eq!(info(&mut r, "rdb_changes_since_last_save"), "0");
    assert_eq!(info(&mut r, "rdb_saves"), "1");

    // `save` changed at run time; the point needs strictly more than its seconds since
    // the last save (serverCron: unixtime - lastsave > seconds).
    assert_eq!(r.cmd_args(&[b"CONFIG", b"SET", b"save", b"1 1"]), "+OK\r\n");
    let l1 = lastsave(&mut r);
    assert_eq!(r.cmd("SET k3 v3"), "+OK\r\n");
    assert!(eventually(Duration::from_secs(4), || lastsave(&mut r) > l1), "no save for 1 change in 1 second");
    wait_bgsave_done(&mut r, Duration::from_secs(5));
    let l2 = lastsave(&mut r);
    assert!(log(&s.dir).contains("1 changes in 1 seconds. Saving..."), "{}", log(&s.dir));
    drop(r);

    // The dump has all three keys.
    let pid = pid_of(&mut s.raw());
    signal(pid, "-KILL");
    let mut first = s;
    assert!(first.wait_exit(Duration::from_secs(5)).is_some());
    let s2 = restart(&first.dir, &["--save", ""]);
    let mut r2 = s2.raw();
    assert_eq!(r2.cmd("MGET k1 k2 k3"), "*3\r\n$2\r\nv1\r\n$2\r\nv2\r\n$2\r\nv3\r\n");
    assert!(l2 - l1 >= 2, "saved {} s after the last save: the 1-second point fired with only 1 s elapsed", l2 - l1);
}

/// A BGSAVE slowed by `rdb-key-save-delay` (Redis's suite sets 2147483647 us per key)
/// is stopped by SIGTERM at once, as Redis kills its child: the server exits.
#[test]
fn sigterm_stops_a_slow_bgsave() {
    let mut a = start(&["--save", "", "--rdb-key-save-delay", "2147483647"]);
    let mut r = a.raw();
    assert_eq!(r.cmd("SET k v"), "+OK\r\n");
    assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
    assert!(r.cmd("INFO persistence").contains("rdb_bgsave_in_progress:1"));
    signal(a.pid(), "-TERM");
    assert!(a.wait_exit(Duration::from_secs(5)).is_some(), "still running 5 s after SIGTERM");
}

#[test]
fn shutdown_and_sigterm_save_when_asked_or_with_save_points() {
    // SHUTDOWN with save points saves.
    let mut a = start(&["--save", "3600 1"]);
    let dir = a.dir.clone();
    let mut r = a.raw();
    assert_eq!(r.cmd("SET k1 v1"), "+OK\r\n");
    r.send(&[b"SHUTDOWN"]);
    assert!(r.closed(), "SHUTDOWN replies nothing and closes");
    assert!(a.wait_exit(Duration::from_secs(5)).is_some_and(|st| st.success()), "exit status 0");
    assert!(log(&dir).contains("Saving the final RDB snapshot before exiting."), "{}", log(&dir));
    let mut b = restart(&dir, &["--save", ""]);
    let mut r = b.raw();
    assert_eq!(r.cmd("GET k1"), "$2\r\nv1\r\n");

    // SHUTDOWN NOSAVE does not.
    assert_eq!(r.cmd("SET k2 v2"), "+OK\r\n");
    r.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(r.closed());
    assert!(b.wait_exit(Duration::from_secs(5)).is_some_and(|st| st.success()));
    let mut c = restart(&dir, &["--save", ""]);
    let mut r = c.raw();
    assert_eq!(r.cmd("MGET k1 k2"), "*2\r\n$2\r\nv1\r\n$-1\r\n");

    // Without save points, plain SHUTDOWN does not save, SHUTDOWN SAVE does.
    assert_eq!(r.cmd("SET k3 v3"), "+OK\r\n");
    r.send(&[b"SHUTDOWN"]);
    assert!(r.closed());
    assert!(c.wait_exit(Duration::from_secs(5)).is_some());
    let mut d = restart(&dir, &["--save", ""]);
    let mut r = d.raw();
    assert_eq!(r.cmd("MGET k1 k3"), "*2\r\n$2\r\nv1\r\n$-1\r\n");
    assert_eq!(r.cmd("SET k4 v4"), "+OK\r\n");
    r.send(&[b"SHUTDOWN", b"SAVE"]);
    assert!(r.closed());
    assert!(d.wait_exit(Duration::from_secs(5)).is_some());
    let mut e = restart(&dir, &["--save", "3600 1"]);
    let mut r = e.raw();
    assert_eq!(r.cmd("GET k4"), "$2\r\nv4\r\n");

    // SIGTERM with save points saves and exits 0.
    assert_eq!(r.cmd("SET k5 v5"), "+OK\r\n");
    signal(pid_of(&mut r), "-TERM");
    assert!(e.wait_exit(Duration::from_secs(5)).is_some_and(|st| st.success()), "SIGTERM exit status 0");
    let mut f = restart(&dir, &["--save", ""]);
    let mut r = f.raw();
    assert_eq!(r.cmd("MGET k4 k5"), "*2\r\n$2\r\nv4\r\n$2\r\nv5\r\n");
    // SIGTERM without save points does not save.
    assert_eq!(r.cmd("SET k6 v6"), "+OK\r\n");
    signal(pid_of(&mut r), "-TERM");
    assert!(f.wait_exit(Duration::from_secs(5)).is_some());
    let g = restart(&dir, &["--save", ""]);
    assert_eq!(g.raw().cmd("MGET k5 k6"), "*2\r\n$2\r\nv5\r\n$-1\r\n");
}

#[test]
fn shutdown_fails_when_the_final_save_fails_unless_forced() {
    let mut s = start(&["--save", "3600 1"]);
    let mut r = s.raw();
    let gone = s.dir.join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    assert_eq!(r.cmd_args(&[b"CONFIG", b"SET", b"dir", gone.to_str().unwrap().as_bytes()]), "+OK\r\n");
    std::fs::remove_dir(&gone).unwrap();
    assert_eq!(r.cmd("SHUTDOWN"), "-ERR Errors trying to SHUTDOWN. Check logs.\r\n");
    assert_eq!(r.cmd("GET k"), "$-1\r\n", "still running");
    // A failed final save (rdbSave) is no failed BGSAVE: writes still work (checked last).
    let status = info(&mut r, "rdb_last_bgsave_status");
    let set = r.cmd("SET k v");
    // SIGTERM: the same save fails, the server stays up (Redis logs and carries on).
    signal(pid_of(&mut r), "-TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.is_running(), "SIGTERM with a failing final save must not exit");
    assert!(r.cmd("EXISTS k").starts_with(':'), "still serving after SIGTERM");
    r.send(&[b"SHUTDOWN", b"FORCE"]);
    assert!(r.closed());
    assert!(s.wait_exit(Duration::from_secs(5)).is_some(), "SHUTDOWN FORCE exits despite the failed save");
    assert_eq!((status.as_str(), set.as_str()), ("ok", "+OK\r\n"), "after a failed SHUTDOWN save");
}

#[test]
fn shutdown_and_sigterm_during_a_bgsave_still_save() {
    // Redis kills the BGSAVE child and saves synchronously: SHUTDOWN succeeds.
    for how in ["SHUTDOWN", "SIGTERM"] {
        let mut s = start(&["--save", "3600 1"]);
        let dir = s.dir.clone();
        let mut r = s.raw();
        assert_eq!(r.cmd("DEBUG POPULATE 20000 key"), "+OK\r\n");
        assert_eq!(r.cmd("SET marker yes"), "+OK\r\n");
        no_active_expire(&mut r);
        assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 100"), "+OK\r\n");
        assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
        // The final save itself is not slowed down.
        assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 0"), "+OK\r\n");
        assert_eq!(info(&mut r, "rdb_bgsave_in_progress"), "1");
        if how == "SHUTDOWN" {
            r.send(&[b"SHUTDOWN"]);
            r.w.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(&mut r.r, &mut rest);
            assert!(rest.is_empty(), "{how}: replied {}", String::from_utf8_lossy(&rest));
        } else {
            signal(pid_of(&mut r), "-TERM");
        }
        assert!(s.wait_exit(Duration::from_secs(5)).is_some(), "{how} during a BGSAVE did not exit: {}", log(&dir));
        let s2 = restart(&dir, &["--save", ""]);
        let mut r2 = s2.raw();
        assert_eq!(dbsize(&mut r2), 20001, "{how}");
        assert_eq!(r2.cmd("GET marker"), "$3\r\nyes\r\n");
    }
}

#[test]
fn flushall_with_save_points_leaves_an_empty_dump() {
    let s = start(&["--save", "3600 1"]);
    let mut r = s.raw();
    for i in 0..50 {
        assert_eq!(r.cmd(&format!("SET k{i} v")), "+OK\r\n");
    }
    assert_eq!(r.cmd("SAVE"), "+OK\r\n");
    let before = lastsave(&mut r);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(r.cmd("SET more v"), "+OK\r\n");
    assert_eq!(r.cmd("FLUSHALL"), "+OK\r\n");
    // Saved: rdbSave resets the changes after FLUSHALL counted its keys (Redis 7.x).
    assert_eq!(info(&mut r, "rdb_changes_since_last_save"), "0");
    assert!(lastsave(&mut r) > before);
    assert_eq!(info(&mut r, "rdb_saves"), "1", "FLUSHALL's save is not counted");
    // Killed without a final save: the restart finds the empty dump.
    signal(pid_of(&mut r), "-KILL");
    let s2 = restart(&s.dir, &["--save", ""]);
    let mut r2 = s2.raw();
    assert_eq!(dbsize(&mut r2), 0);

    // Without save points FLUSHALL leaves the dump alone.
    for i in 0..5 {
        assert_eq!(r2.cmd(&format!("SET j{i} v")), "+OK\r\n");
    }
    assert_eq!(r2.cmd("SAVE"), "+OK\r\n");
    assert_eq!(r2.cmd("FLUSHALL"), "+OK\r\n");
    assert_eq!(info(&mut r2, "rdb_changes_since_last_save"), "5", "one change per key removed");
    signal(pid_of(&mut r2), "-KILL");
    let s3 = restart(&s.dir, &["--save", ""]);
    assert_eq!(dbsize(&mut s3.raw()), 5);
}

#[test]
fn flushall_stops_a_running_bgsave() {
    let s = start(&["--save", "3600 1"]);
    let mut r = s.raw();
    assert_eq!(r.cmd("DEBUG POPULATE 20000 key"), "+OK\r\n");
    no_active_expire(&mut r);
    assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 100"), "+OK\r\n");
    assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
    let t = Instant::now();
    assert_eq!(r.cmd("FLUSHALL"), "+OK\r\n");
    wait_bgsave_done(&mut r, Duration::from_millis(500));
    assert!(t.elapsed() < Duration::from_millis(500));
    // Killed by FLUSHALL (SIGUSR1 in Redis): not an error, not a save.
    assert_eq!(info(&mut r, "rdb_last_bgsave_status"), "ok");
    assert_eq!(r.cmd("SET after v"), "+OK\r\n", "no MISCONF");
    std::thread::sleep(Duration::from_millis(300));
    let leftovers: Vec<_> = std::fs::read_dir(&s.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    signal(pid_of(&mut r), "-KILL");
    let s2 = restart(&s.dir, &["--save", ""]);
    assert_eq!(dbsize(&mut s2.raw()), 0, "the dump is FLUSHALL's empty one, not the cancelled BGSAVE's");
}

/// Runs the failing-save scenario on a server and returns each step's reply.
fn misconf_script(port: u16, dir: &Path) -> Vec<(String, String)> {
    let mut r = Raw::connect(port);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut step = |name: &str, reply: String| out.push((name.to_string(), reply));
    let set_dir = |r: &mut Raw, d: &Path| r.cmd_args(&[b"CONFIG", b"SET", b"dir", d.to_str().unwrap().as_bytes()]);
    let fields = |r: &mut Raw| {
        // Seconds are whole-clock differences on both servers: compare set / not set.
        ["rdb_last_bgsave_status", "rdb_saves", "rdb_changes_since_last_save", "rdb_last_bgsave_time_sec", "rdb_bgsave_in_progress"]
            .map(|f| match (f, info(r, f)) {
                ("rdb_last_bgsave_time_sec", v) if v != "-1" => format!("{f}:set"),
                (_, v) => format!("{f}:{v}"),
            })
            .join(" ")
    };
    let bgsave = |r: &mut Raw| {
        let reply = r.cmd("BGSAVE");
        wait_bgsave_done(r, Duration::from_secs(5));
        reply
    };
    let gone = dir.join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    step("config set dir", set_dir(&mut r, &gone));
    std::fs::remove_dir(&gone).unwrap();
    step("set", r.cmd("SET k v1"));
    // A failed SAVE replies a bare -ERR and is no bgsave error.
    step("failed SAVE", r.cmd("SAVE"));
    step("info after failed SAVE", fields(&mut r));
    step("set after failed SAVE", r.cmd("SET k v2"));
    step("failed BGSAVE", bgsave(&mut r));
    step("info after failed BGSAVE", fields(&mut r));
    step("SET refused", r.cmd("SET k v3"));
    step("INCR refused", r.cmd("INCR n"));
    step("DEL refused", r.cmd("DEL k"));
    step("PING refused", r.cmd("PING"));
    step("GET allowed", r.cmd("GET k"));
    step("MULTI", r.cmd("MULTI"));
    step("SET in MULTI", r.cmd("SET k v4"));
    step("EXEC", r.cmd("EXEC"));
    step("MULTI", r.cmd("MULTI"));
    step("GET in MULTI", r.cmd("GET k"));
    step("EXEC of reads", r.cmd("EXEC"));
    step("SHUTDOWN", r.cmd("SHUTDOWN"));
    step("info", fields(&mut r));
    // Fixed: a successful BGSAVE lifts the block.
    step("config set dir back", set_dir(&mut r, dir));
    step("BGSAVE", bgsave(&mut r));
    step("info after BGSAVE", fields(&mut r));
    step("SET allowed", r.cmd("SET k v5"));
    // Without stop-writes-on-bgsave-error writes go on; FLUSHALL's save (rdbSave) resets
    // the status to ok.
    std::fs::create_dir_all(&gone).unwrap();
    step("config set dir again", set_dir(&mut r, &gone));
    std::fs::remove_dir(&gone).unwrap();
    step("failed BGSAVE again", bgsave(&mut r));
    step("config set stop-writes no", r.cmd("CONFIG SET stop-writes-on-bgsave-error no"));
    step("SET with stop-writes no", r.cmd("SET k v6"));
    step("info with stop-writes no", fields(&mut r));
    step("config set dir back again", set_dir(&mut r, dir));
    step("FLUSHALL", r.cmd("FLUSHALL"));
    step("info after FLUSHALL", fields(&mut r));
    out
}

#[test]
fn misconf_after_a_failed_bgsave_as_redis() {
    let s = start(&["--save", "3600 1"]);
    let ours = misconf_script(s.port, &s.dir);
    // The essentials, whatever the reference says.
    let get = |name: &str| ours.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(get("failed BGSAVE"), "+Background saving started\r\n");
    assert!(get("info after failed BGSAVE").contains("rdb_last_bgsave_status:err"), "{}", get("info after failed BGSAVE"));
    assert_eq!(get("SET refused"), MISCONF);
    assert_eq!(get("PING refused"), MISCONF);
    assert!(get("GET allowed").starts_with("$2\r\nv"), "{}", get("GET allowed"));
    assert_eq!(get("EXEC"), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(get("BGSAVE"), "+Background saving started\r\n");
    assert!(get("info after BGSAVE").contains("rdb_last_bgsave_status:ok"));
    assert_eq!(get("SET allowed"), "+OK\r\n");
    let log = log(&s.dir);
    assert!(log.contains("Background saving error"), "{log}");

    // Step by step as a real redis-server.
    let real = Real::start(None, &["--save", "3600 1", "--enable-protected-configs", "yes"]);
    let theirs = misconf_script(real.port, &real.dir);
    let diffs: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(a, b)| a != b)
        .map(|((name, a), (_, b))| format!("{name}:\n  ferrokv: {a:?}\n  redis:   {b:?}"))
        .collect();
    assert!(diffs.is_empty(), "differs from redis-server:\n{}", diffs.join("\n"));
}

#[test]
fn rdb_key_save_delay_keeps_a_bgsave_running() {
    // Redis's own tests keep a BGSAVE running this way: 20000 keys * 60 µs = 1.2 s,
    // whatever else the server does meanwhile (here just its active expire cycle, on
    // by default, which must not do the save's work without the delay).
    let s = start(&["--save", ""]);
    let mut r = s.raw();
    assert_eq!(r.cmd("DEBUG POPULATE 20000 key"), "+OK\r\n");
    assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 60"), "+OK\r\n");
    let t = Instant::now();
    assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
    std::thread::sleep(Duration::from_millis(600));
    let running = info(&mut r, "rdb_bgsave_in_progress");
    wait_bgsave_done(&mut r, Duration::from_secs(10));
    assert_eq!(running, "1", "a 1.2 s save was over after {:?}", t.elapsed());
    assert!(t.elapsed() >= Duration::from_millis(1100), "a 1.2 s save took {:?}", t.elapsed());
}

#[test]
fn commands_counting_every_shard_answer_during_a_bgsave() {
    // In Redis DBSIZE and INFO are O(1)/O(dbs) in the parent while the child saves;
    // here they must not wait for the background walk either (1.2 s of it).
    let s = start(&["--save", ""]);
    let mut r = s.raw();
    let mut r2 = s.raw();
    assert_eq!(r.cmd("DEBUG POPULATE 20000 key"), "+OK\r\n");
    assert_eq!(r.cmd("SET vol v EX 1000"), "+OK\r\n");
    no_active_expire(&mut r);
    assert_eq!(r.cmd("CONFIG SET rdb-key-save-delay 60"), "+OK\r\n");
    assert_eq!(r.cmd("BGSAVE"), "+Background saving started\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let (mut slow, mut replies) = (vec![], vec![]);
    for (cmd, expect) in [
        ("DBSIZE", ":20001\r\n"),
        ("INFO keyspace", "db0:keys=20001,expires=1,"),
        ("INFO persistence", "rdb_bgsave_in_progress:1\r\n"),
        ("RANDOMKEY", "$"),
    ] {
        let t = Instant::now();
        let reply = r.cmd(cmd);
        if t.elapsed() > Duration::from_millis(250) {
            slow.push(format!("{cmd} took {:?}", t.elapsed()));
        }
        replies.push((cmd, expect, reply));
    }
    // The save was still running all along.
    let still = r2.cmd("BGSAVE");
    wait_bgsave_done(&mut r2, Duration::from_secs(10));
    assert!(slow.is_empty(), "waited for the save: {slow:?}");
    assert_eq!(still, "-ERR Background save already in progress\r\n");
    for (cmd, expect, reply) in replies {
        assert!(reply.contains(expect), "{cmd}: {reply}");
    }
}
