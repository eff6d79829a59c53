//! The append-only file (Redis 7 multi-part AOF), end to end: recovery after an
//! unwanted FLUSHALL, what survives SIGKILL under each `appendfsync`,
//! truncated and corrupt files, directories written by a real `redis-server` (and the
//! other way round), the pre-7 single-file upgrade, BGREWRITEAOF under load and the
//! automatic rewrite, CONFIG SET appendonly, `#TS:` annotations, INFO's aof_* fields,
//! and write errors (a full disk, an unwritable incr file).
//!
//! Every server here runs in its own temporary directory, which outlives the server
//! process so that a test can restart on it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::Connection;

const CHECK_AOF: &str = env!("CARGO_BIN_EXE_ferrokv-check-aof");
const INCR1: &str = "appendonly.aof.1.incr.aof";

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let p = std::env::temp_dir().join(format!("ferrokv-aof-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn aofdir(&self) -> PathBuf {
        self.0.join("appendonlydir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A ferrokv-server working in `dir` (its cwd), logging to `dir/log.txt` (emptied at
/// each start), killed on drop; the directory stays.
struct Node {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Node {
    /// Starts the server; `Err` with its exit status and log when it exits instead.
    /// A port taken meanwhile by someone else's connection is retried on another one.
    fn try_start(dir: &Path, extra: &[&str]) -> Result<Node, (ExitStatus, String)> {
        for attempt in 0.. {
            let port = common::free_port();
            let _ = std::fs::remove_file(dir.join("log.txt"));
            let child = Command::new(env!("CARGO_BIN_EXE_ferrokv-server"))
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--logfile", "log.txt"])
                .args(["--enable-debug-command", "yes"])
                .args(extra)
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start ferrokv-server");
            let mut n = Node { port, child, dir: dir.to_path_buf() };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Some(st) = n.child.try_wait().unwrap() {
                    let log = n.log();
                    if log.contains("Failed listening") && attempt < 3 {
                        break;
                    }
                    return Err((st, log));
                }
                if ping(port) {
                    return Ok(n);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if n.child.try_wait().unwrap().is_none() {
                panic!("ferrokv-server did not start on port {port}; log:\n{}", n.log());
            }
        }
        unreachable!()
    }

    fn start(dir: &Path, extra: &[&str]) -> Node {
        match Node::try_start(dir, extra) {
            Ok(n) => n,
            Err((st, log)) => panic!("ferrokv-server exited ({st}) at start-up; log:\n{log}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }

    fn client(&self) -> Connection {
        connect(self.port)
    }

    /// SIGKILL, as a crash: nothing is flushed or fsynced on the way out.
    fn sigkill(mut self) {
        // SAFETY: plain kill(2) on the child this test spawned (and has not reaped).
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(r, 0, "kill failed");
        let st = self.child.wait().unwrap();
        assert!(!st.success(), "{st}");
    }

    /// SHUTDOWN NOSAVE, and waits for a clean exit.
    fn shutdown(mut self) {
        let mut r = common::Raw::connect(self.port);
        r.send(&[b"SHUTDOWN", b"NOSAVE"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "SHUTDOWN NOSAVE: exit {st}; log:\n{}", self.log());
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("SHUTDOWN NOSAVE: still running");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PING over a fresh connection; false on any error (not listening yet, or a
/// connection the kernel looped back onto itself on a port nobody listens on).
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = [0u8; 7];
    s.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok() && s.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

fn connect(port: u16) -> Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

fn have_redis() -> bool {
    let ok = Command::new("redis-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        println!("skipping: redis-server not on PATH");
    }
    ok
}

/// A real redis-server with the AOF on, in `dir`; killed on drop.
struct Real {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Real {
    fn start(dir: &Path, extra: &[&str]) -> Real {
        let port = common::free_port();
        let _ = std::fs::remove_file(dir.join("redis.log"));
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--logfile", "redis.log", "--daemonize", "no", "--dir"])
            .arg(dir)
            .args(extra)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server installed");
        let ok = common::eventually(Duration::from_secs(10), || matches!(child.try_wait(), Ok(Some(_))) || (common::responds(port)));
        let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
        assert!(ok && child.try_wait().unwrap().is_none(), "redis-server did not start; its log:\n{log}");
        Real { port, child, dir: dir.to_path_buf() }
    }

    fn client(&self) -> Connection {
        connect(self.port)
    }

    fn shutdown(mut self) {
        let mut r = common::Raw::connect(self.port);
        r.send(&[b"SHUTDOWN", b"NOSAVE"]);
        let st = common::eventually(Duration::from_secs(10), || matches!(self.child.try_wait(), Ok(Some(_))));
        assert!(st, "redis-server did not exit; log:\n{}", std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default());
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn q(c: &mut Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn get(c: &mut Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

fn dbsize(c: &mut Connection) -> i64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

/// One INFO persistence field.
fn info(c: &mut Connection, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    let prefix = format!("{field}:");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {field} in INFO:\n{text}")).trim().to_string()
}

fn info_u64(c: &mut Connection, field: &str) -> u64 {
    info(c, field).parse().unwrap()
}

/// Waits for the rewrite in progress (if any) to end and for `aof_rewrites` to reach `n`.
fn wait_rewrites(c: &mut Connection, n: u64) {
    let ok = common::eventually(Duration::from_secs(15), || {
        info(c, "aof_rewrite_in_progress") == "0" && info(c, "aof_rewrite_scheduled") == "0" && info_u64(c, "aof_rewrites") >= n
    });
    assert!(ok, "aof_rewrites did not reach {n}: {}", info(c, "aof_rewrites"));
}

/// The file names in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

/// The commands of a RESP AOF (annotations skipped): (offset, end, args). Stops at
/// the first incomplete command.
fn commands(data: &[u8]) -> Vec<(usize, usize, Vec<Vec<u8>>)> {
    fn line(data: &[u8], pos: &mut usize) -> Option<String> {
        let rest = data.get(*pos..)?;
        let n = rest.windows(2).position(|w| w == b"\r\n")?;
        let l = String::from_utf8_lossy(&rest[..n]).into_owned();
        *pos += n + 2;
        Some(l)
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let start = pos;
        if data[pos] == b'#' {
            if line(data, &mut pos).is_none() {
                break;
            }
            continue;
        }
        let parse = |pos: &mut usize| -> Option<Vec<Vec<u8>>> {
            let head = line(data, pos)?;
            let n: usize = head.strip_prefix('*')?.parse().ok()?;
            let mut args = Vec::new();
            for _ in 0..n {
                let len: usize = line(data, pos)?.strip_prefix('$')?.parse().ok()?;
                let a = data.get(*pos..*pos + len)?.to_vec();
                if data.get(*pos + len..*pos + len + 2)? != b"\r\n" {
                    return None;
                }
                *pos += len + 2;
                args.push(a);
            }
            Some(args)
        };
        match parse(&mut pos) {
            Some(args) => out.push((start, pos, args)),
            None => break,
        }
    }
    out
}

fn name_of(args: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Runs ferrokv-check-aof: (exit code, stdout + stderr).
fn check_aof(args: &[&str]) -> (i32, String) {
    let out = Command::new(CHECK_AOF).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

// ---------------------------------------------------------------------------------
// The whole dataset in comparable form.

/// (type, contents with unordered types sorted, PEXPIRETIME).
type Entry = (String, Vec<Vec<u8>>, i64);

fn contents(c: &mut Connection, key: &str) -> Entry {
    let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let mut v: Vec<Vec<u8>> = match t.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query(c).unwrap()],
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(c).unwrap(),
        "hash" => {
            let flat: Vec<Vec<u8>> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            flat.chunks(2).map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat()).collect()
        }
        "set" => redis::cmd("SMEMBERS").arg(key).query(c).unwrap(),
        "zset" => {
            // Redis 7.0 and 7.2 print scores differently (17 digits vs shortest).
            let flat: Vec<Vec<u8>> = redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(c).unwrap();
            flat.chunks(2)
                .map(|p| {
                    let s: f64 = std::str::from_utf8(&p[1]).unwrap().parse().unwrap();
                    [p[0].clone(), format!("={s:?}").into_bytes()].concat()
                })
                .collect()
        }
        other => panic!("unexpected type {other} for {key}"),
    };
    if t == "set" || t == "hash" {
        v.sort();
    }
    let exp: i64 = redis::cmd("PEXPIRETIME").arg(key).query(c).unwrap();
    (t, v, exp)
}

/// Every key of databases 0..16, as "db:key".
fn dataset(c: &mut Connection) -> BTreeMap<String, Entry> {
    let mut all = BTreeMap::new();
    for db in 0..16 {
        q(c, &["SELECT", &db.to_string()]);
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        for k in keys {
            let e = contents(c, &k);
            all.insert(format!("{db}:{k}"), e);
        }
    }
    q(c, &["SELECT", "0"]);
    all
}

/// Asserts two datasets are equal, naming only the keys that differ.
#[track_caller]
fn assert_same(got: &BTreeMap<String, Entry>, want: &BTreeMap<String, Entry>, what: &str) {
    let mut diffs = Vec::new();
    for k in got.keys().chain(want.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (g, w) = (got.get(k), want.get(k));
        if g != w {
            let short = |e: Option<&Entry>| match e {
                None => "missing".to_string(),
                Some((t, v, exp)) => format!(
                    "{t} with {} items, pexpiretime {exp}, first {:?}",
                    v.len(),
                    v.first().map(|b| String::from_utf8_lossy(b).into_owned())
                ),
            };
            diffs.push(format!("{k}: got {}, want {}", short(g), short(w)));
        }
    }
    assert!(diffs.is_empty(), "{what}: {} keys differ:\n{}", diffs.len(), diffs.join("\n"));
}

/// Pseudo-random hex (incompressible enough that RDB's LZF does not shrink it much).
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut s = String::with_capacity(len);
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(len);
    s
}

/// Writes of every type, TTLs, a MULTI/EXEC, several databases.
fn populate(c: &mut Connection, tag: &str) {
    let k = |s: &str| format!("{tag}:{s}");
    q(c, &["SET", &k("s"), "hello"]);
    q(c, &["APPEND", &k("s"), " world"]);
    q(c, &["SET", &k("n"), "42"]);
    q(c, &["INCRBY", &k("n"), "8"]);
    q(c, &["SET", &k("raw"), &noise(1, 300)]);
    q(c, &["SET", &k("ex"), "v", "EX", "1000"]);
    q(c, &["SET", &k("px"), "v", "PX", "5000000"]);
    q(c, &["SETEX", &k("setex"), "2000", "v"]);
    q(c, &["RPUSH", &k("l"), "a", "b", "c", "1", "-7"]);
    q(c, &["LPOP", &k("l")]);
    for i in 0..200 {
        q(c, &["RPUSH", &k("biglist"), &format!("e{i}-{}", "z".repeat(i % 40))]);
    }
    q(c, &["HSET", &k("h"), "f1", "v1", "f2", "v2"]);
    q(c, &["HINCRBY", &k("h"), "cnt", "3"]);
    q(c, &["HDEL", &k("h"), "f2"]);
    for i in 0..300 {
        q(c, &["HSET", &k("bighash"), &format!("f{i}"), &i.to_string()]);
    }
    q(c, &["SADD", &k("ints"), "1", "2", "3", "-40"]);
    q(c, &["SADD", &k("st"), "a", "b", "c"]);
    q(c, &["SREM", &k("st"), "b"]);
    q(c, &["ZADD", &k("z"), "1", "a", "2.5", "b", "-inf", "lo"]);
    q(c, &["ZINCRBY", &k("z"), "0.5", "a"]);
    for i in 0..200 {
        q(c, &["ZADD", &k("bigz"), &format!("{i}.25"), &format!("m{i}")]);
    }
    q(c, &["EXPIRE", &k("bigz"), "3000"]);
    q(c, &["SET", &k("gone"), "x"]);
    q(c, &["DEL", &k("gone")]);
    q(c, &["SET", &k("persisted"), "x", "EX", "100"]);
    q(c, &["PERSIST", &k("persisted")]);
    q(c, &["SET", &k("renamed-from"), "r"]);
    q(c, &["RENAME", &k("renamed-from"), &k("renamed-to")]);
    // A transaction.
    let mut p = redis::pipe();
    p.atomic()
        .cmd("SET")
        .arg(k("tx"))
        .arg("1")
        .cmd("INCR")
        .arg(k("tx"))
        .cmd("RPUSH")
        .arg(k("txl"))
        .arg("x")
        .cmd("PEXPIRE")
        .arg(k("txl"))
        .arg(900_000)
        .cmd("HSET")
        .arg(k("txh"))
        .arg("a")
        .arg("b");
    let _: redis::Value = p.query(c).unwrap();
    // Another database.
    q(c, &["SELECT", "3"]);
    q(c, &["SET", &k("db3"), "three"]);
    q(c, &["SADD", &k("db3set"), "x", "y"]);
    q(c, &["SELECT", "0"]);
}

// ---------------------------------------------------------------------------------
// 1. S7: recovering from an unwanted FLUSHALL.

fn five_keys_then_flushall(dir: &Path) -> Node {
    let n = Node::start(dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = n.client();
    for i in 1..=5 {
        q(&mut c, &["SET", &format!("key{i}"), &format!("value{i}")]);
    }
    assert_eq!(dbsize(&mut c), 5);
    q(&mut c, &["FLUSHALL"]);
    assert_eq!(dbsize(&mut c), 0);
    n
}

fn assert_five_keys_back(dir: &Path) {
    let n = Node::start(dir, &["--appendonly", "yes"]);
    let mut c = n.client();
    assert_eq!(dbsize(&mut c), 5, "log:\n{}", n.log());
    for i in 1..=5 {
        assert_eq!(get(&mut c, &format!("key{i}")), Some(format!("value{i}")));
    }
    let log = n.log();
    assert!(log.contains(&format!("DB loaded from incr file {INCR1}")), "log:\n{log}");
    n.shutdown();
}

#[test]
fn flushall_recovery_by_cutting_the_incr_file_by_hand() {
    let d = TempDir::new("s7hand");
    five_keys_then_flushall(&d.0).shutdown();
    let incr = d.aofdir().join(INCR1);
    let data = std::fs::read(&incr).unwrap();
    let cmds = commands(&data);
    let (off, end, last) = cmds.last().unwrap();
    assert_eq!(name_of(last), "FLUSHALL", "{cmds:?}");
    assert_eq!(*end, data.len(), "the FLUSHALL is the file's end");
    truncate(&incr, *off as u64);
    assert_five_keys_back(&d.0);
}

#[test]
fn flushall_recovery_with_check_aof_cut_before() {
    let d = TempDir::new("s7tool");
    // A crash rather than a shutdown: with appendfsync always the FLUSHALL is on disk.
    five_keys_then_flushall(&d.0).sigkill();
    let manifest = d.aofdir().join("appendonly.aof.manifest");
    let (code, out) = check_aof(&["--cut-before", "FLUSHALL", manifest.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Truncated {INCR1}")), "{out}");
    let cmds = commands(&std::fs::read(d.aofdir().join(INCR1)).unwrap());
    assert!(cmds.iter().all(|c| name_of(&c.2) != "FLUSHALL"), "{cmds:?}");
    assert_five_keys_back(&d.0);
}

// ---------------------------------------------------------------------------------
// 2. Crash guarantees.

/// Four clients write (INCR, SET) until the server is killed by SIGKILL; after a
/// restart every acknowledged write is there. `always` has it on disk before the
/// reply; `everysec` and `no` have handed it to the kernel (as Redis does), which a
/// killed process cannot lose.
fn sigkill_keeps_every_acknowledged_write(policy: &str) {
    let d = TempDir::new(policy);
    let n = Node::start(&d.0, &["--appendonly", "yes", "--appendfsync", policy]);
    const THREADS: usize = 4;
    let acked_incr: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let acked_set: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let mut hs = Vec::new();
    for t in 0..THREADS {
        let (ai, as_) = (acked_incr.clone(), acked_set.clone());
        let port = n.port;
        hs.push(std::thread::spawn(move || {
            let mut c = connect(port);
            for i in 0u64.. {
                let r: redis::RedisResult<u64> = redis::cmd("INCR").arg(format!("ctr:{t}")).query(&mut c);
                match r {
                    Ok(v) => ai[t].store(v, Ordering::SeqCst),
                    Err(_) => return,
                }
                let r: redis::RedisResult<()> = redis::cmd("SET").arg(format!("k:{t}:{i}")).arg(i).query(&mut c);
                match r {
                    Ok(()) => as_[t].store(i + 1, Ordering::SeqCst),
                    Err(_) => return,
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1200));
    n.sigkill();
    for h in hs {
        h.join().unwrap();
    }
    let total: u64 = acked_incr.iter().map(|a| a.load(Ordering::SeqCst)).sum();
    assert!(total > 50, "too few writes to judge: {total}");
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    let mut c = n.client();
    for t in 0..THREADS {
        let acked = acked_incr[t].load(Ordering::SeqCst);
        let v: u64 = get(&mut c, &format!("ctr:{t}")).map_or(0, |s| s.parse().unwrap());
        // At most the one INCR in flight at the kill may be there without its reply.
        assert!(v == acked || v == acked + 1, "ctr:{t}: {v} after restart, {acked} acknowledged");
        let sets = acked_set[t].load(Ordering::SeqCst);
        let keys: Vec<String> = (0..sets).map(|i| format!("k:{t}:{i}")).collect();
        if !keys.is_empty() {
            let vals: Vec<Option<u64>> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
            let missing: Vec<&String> = keys.iter().zip(&vals).filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
            assert!(missing.is_empty(), "acknowledged SETs lost: {missing:?}");
        }
    }
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_across_sigkill() {
    sigkill_keeps_every_acknowledged_write("always");
}

/// A lone client's write under `always` is fsynced and acknowledged as soon as the
/// worker goes idle, not by the writer thread's fallback (10 ms or more per write):
/// its SETs one by one take at most about twice what redis-server's take on the same
/// disk, each server fsyncing every one of them.
#[test]
fn appendfsync_always_acknowledges_a_lone_client_without_delay() {
    if !have_redis() {
        return;
    }
    let dirs = [TempDir::new("lone-ferro"), TempDir::new("lone-real")];
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let ours = Node::start(&dirs[0].0, &args);
    let real = Real::start(&dirs[1].0, &args);
    let (mut oc, mut rc) = (ours.client(), real.client());
    let sets = |c: &mut Connection, round: usize| {
        let t = Instant::now();
        for i in 0..100 {
            q(c, &["SET", &format!("k:{round}:{i}"), "v"]);
        }
        t.elapsed()
    };
    let (mut ours_took, mut real_took) = (Duration::ZERO, Duration::ZERO);
    // Taking turns, so both ride the same moods of the disk.
    for round in 0..4 {
        ours_took += sets(&mut oc, round);
        real_took += sets(&mut rc, round);
    }
    assert!(ours_took < real_took * 2 + Duration::from_millis(300), "400 SETs took {ours_took:?} (redis-server {real_took:?})");
    assert_eq!(dbsize(&mut oc), 400);
}

#[test]
fn appendfsync_everysec_keeps_every_acknowledged_write_across_sigkill() {
    sigkill_keeps_every_acknowledged_write("everysec");
}

#[test]
fn appendfsync_no_keeps_every_acknowledged_write_across_sigkill() {
    sigkill_keeps_every_acknowledged_write("no");
}

// ---------------------------------------------------------------------------------
// 3. Truncated and corrupt files.

/// keys a..e (plus a MULTI/EXEC when `tx`), shut down; the incr file's commands.
fn five_keys_on_disk(dir: &Path, tx: bool) -> Vec<(usize, usize, Vec<Vec<u8>>)> {
    let n = Node::start(dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = n.client();
    for k in ["a", "b", "c", "d", "e"] {
        q(&mut c, &["SET", k, &format!("v{k}")]);
    }
    if tx {
        let mut p = redis::pipe();
        p.atomic().cmd("SET").arg("t1").arg("1").cmd("SET").arg("t2").arg("2");
        let _: redis::Value = p.query(&mut c).unwrap();
    }
    n.shutdown();
    commands(&std::fs::read(dir.join("appendonlydir").join(INCR1)).unwrap())
}

#[test]
fn truncated_tail_loads_with_aof_load_truncated_and_stops_without() {
    let d = TempDir::new("trunc");
    let cmds = five_keys_on_disk(&d.0, false);
    let incr = d.aofdir().join(INCR1);
    let (off, end, last) = cmds.last().unwrap().clone();
    assert_eq!(last, vec![b"SET".to_vec(), b"e".to_vec(), b"ve".to_vec()]);
    let cut = (off + (end - off) / 2) as u64;
    truncate(&incr, cut);

    let (st, log) = match Node::try_start(&d.0, &["--appendonly", "yes", "--aof-load-truncated", "no"]) {
        Ok(n) => panic!("started with a truncated AOF and aof-load-truncated no; log:\n{}", n.log()),
        Err(e) => e,
    };
    assert!(!st.success(), "{st}");
    assert!(log.contains("Unexpected end of file") && log.contains(INCR1), "log:\n{log}");
    assert_eq!(size(&incr), cut, "the file is left alone");

    let n = Node::start(&d.0, &["--appendonly", "yes", "--aof-load-truncated", "yes"]);
    let log = n.log();
    assert!(log.contains(&format!("Truncating the AOF {INCR1} at offset {off}")), "log:\n{log}");
    assert!(log.contains("loaded anyway because aof-load-truncated is enabled"), "log:\n{log}");
    assert_eq!(size(&incr), off as u64, "truncated to the last complete command");
    let mut c = n.client();
    for k in ["a", "b", "c", "d"] {
        assert_eq!(get(&mut c, k), Some(format!("v{k}")));
    }
    assert_eq!(get(&mut c, "e"), None);
    // Appending goes on from the cut: the file is whole again after a restart.
    q(&mut c, &["SET", "f", "vf"]);
    n.shutdown();
    let n = Node::start(&d.0, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    let mut c = n.client();
    assert_eq!(dbsize(&mut c), 5);
    assert_eq!(get(&mut c, "f"), Some("vf".into()));
}

#[test]
fn truncated_transaction_is_reverted() {
    let d = TempDir::new("trunctx");
    let cmds = five_keys_on_disk(&d.0, true);
    let incr = d.aofdir().join(INCR1);
    let (exec_off, exec_end, exec) = cmds.last().unwrap().clone();
    assert_eq!(name_of(&exec), "EXEC");
    let multi_off = cmds.iter().rev().find(|c| name_of(&c.2) == "MULTI").unwrap().0;
    truncate(&incr, (exec_off + (exec_end - exec_off) / 2) as u64);
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    let mut c = n.client();
    assert_eq!(dbsize(&mut c), 5, "only a..e; the transaction never ran");
    assert_eq!(get(&mut c, "t1"), None);
    assert_eq!(size(&incr), multi_off as u64, "cut before the MULTI; log:\n{}", n.log());
}

#[test]
fn corrupt_middle_stops_startup_naming_file_and_offset() {
    let d = TempDir::new("corrupt");
    let cmds = five_keys_on_disk(&d.0, false);
    let incr = d.aofdir().join(INCR1);
    let mut data = std::fs::read(&incr).unwrap();
    // The third SET's bulk-length line becomes garbage.
    let set3 = cmds.iter().filter(|c| name_of(&c.2) == "SET").nth(2).unwrap();
    let off = set3.0;
    assert_eq!(&data[off..off + 4], b"*3\r\n");
    data[off + 4..off + 6].copy_from_slice(b"!?");
    std::fs::write(&incr, &data).unwrap();
    // Even with aof-load-truncated yes (the default): this is no truncated tail.
    let (st, log) = match Node::try_start(&d.0, &["--appendonly", "yes"]) {
        Ok(n) => panic!("started with a corrupt AOF; log:\n{}", n.log()),
        Err(e) => e,
    };
    assert!(!st.success(), "{st}");
    assert!(log.contains("Bad file format reading the append only file"), "log:\n{log}");
    assert!(log.contains(INCR1), "log names the file:\n{log}");
    let bad = off + 4;
    assert!(log.contains(&format!("offset {bad}")), "log names offset {bad}:\n{log}");
    assert_eq!(std::fs::read(&incr).unwrap(), data, "the file is left alone");
}

// ---------------------------------------------------------------------------------
// 4. Interop with a real redis-server.

#[test]
fn directory_written_by_redis_server_loads_into_ferrokv() {
    if !have_redis() {
        return;
    }
    for preamble in ["yes", "no"] {
        let d = TempDir::new("fromredis");
        let real = Real::start(&d.0, &["--aof-use-rdb-preamble", preamble]);
        let mut c = real.client();
        populate(&mut c, "before");
        q(&mut c, &["BGREWRITEAOF"]);
        let done = common::eventually(Duration::from_secs(10), || {
            let text: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
            text.contains("aof_rewrite_in_progress:0") && text.contains("aof_rewrite_scheduled:0")
        });
        assert!(done, "redis-server's rewrite did not finish");
        let base_ext = if preamble == "yes" { "rdb" } else { "aof" };
        let base = format!("appendonly.aof.2.base.{base_ext}");
        assert!(common::eventually(Duration::from_secs(5), || d.aofdir().join(&base).exists()), "{:?}", files(&d.aofdir()));
        populate(&mut c, "after");
        q(&mut c, &["DEL", "before:h"]);
        q(&mut c, &["LPUSH", "before:l", "new"]);
        q(&mut c, &["EXPIRE", "before:s", "7000"]);
        let expect = dataset(&mut c);
        assert!(expect.len() > 40, "{}", expect.len());
        drop(c);
        real.shutdown();
        assert_eq!(files(&d.aofdir()), vec![base.clone(), "appendonly.aof.2.incr.aof".to_string(), "appendonly.aof.manifest".to_string()]);

        let n = Node::start(&d.0, &["--appendonly", "yes"]);
        let mut c = n.client();
        assert_same(&dataset(&mut c), &expect, &format!("preamble {preamble}"));
        let log = n.log();
        assert!(log.contains(&format!("DB loaded from base file {base}")), "log:\n{log}");
        assert!(log.contains("DB loaded from incr file appendonly.aof.2.incr.aof"), "log:\n{log}");
        // ferrokv goes on appending to redis-server's incr file.
        q(&mut c, &["SET", "by-ferrokv", "1"]);
        n.shutdown();
        let n = Node::start(&d.0, &["--appendonly", "yes"]);
        let mut c = n.client();
        assert_eq!(get(&mut c, "by-ferrokv"), Some("1".into()));
        assert_eq!(dbsize(&mut c), expect.keys().filter(|k| k.starts_with("0:")).count() as i64 + 1);
    }
}

#[test]
fn directory_written_by_ferrokv_loads_into_redis_server() {
    if !have_redis() {
        return;
    }
    let d = TempDir::new("toredis");
    let n = Node::start(&d.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = n.client();
    populate(&mut c, "before");
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrites(&mut c, 1);
    populate(&mut c, "after");
    q(&mut c, &["DEL", "before:h"]);
    q(&mut c, &["LPUSH", "before:l", "new"]);
    q(&mut c, &["EXPIRE", "before:s", "7000"]);
    let expect = dataset(&mut c);
    drop(c);
    n.shutdown();
    assert_eq!(
        files(&d.aofdir()),
        vec!["appendonly.aof.2.base.rdb".to_string(), "appendonly.aof.2.incr.aof".into(), "appendonly.aof.manifest".into()]
    );
    let manifest = d.aofdir().join("appendonly.aof.manifest");
    let check = Command::new("redis-check-aof").arg(&manifest).output().expect("redis-check-aof");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && out.contains("is valid"), "redis-check-aof:\n{out}");
    let real = Real::start(&d.0, &[]);
    let mut c = real.client();
    assert_same(&dataset(&mut c), &expect, "after restart");
    let log = std::fs::read_to_string(d.0.join("redis.log")).unwrap();
    assert!(log.contains("DB loaded from incr file appendonly.aof.2.incr.aof"), "redis log:\n{log}");
    // And the files redis-server went on with load back into ferrokv.
    q(&mut c, &["SET", "by-redis", "1"]);
    let expect = dataset(&mut c);
    drop(c);
    real.shutdown();
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    let mut c = n.client();
    assert_same(&dataset(&mut c), &expect, "after restart");
}

// ---------------------------------------------------------------------------------
// 5. The pre-7 single file.

#[test]
fn single_appendonly_aof_is_upgraded_to_a_directory() {
    let d = TempDir::new("upgrade");
    let resp = |args: &[&str]| -> String {
        let mut s = format!("*{}\r\n", args.len());
        for a in args {
            s.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s
    };
    let old = [
        resp(&["SELECT", "0"]),
        resp(&["SET", "a", "1"]),
        resp(&["RPUSH", "l", "x", "y"]),
        resp(&["MULTI"]),
        resp(&["INCR", "a"]),
        resp(&["EXEC"]),
        resp(&["SELECT", "2"]),
        resp(&["SET", "b", "two"]),
    ]
    .concat();
    std::fs::write(d.0.join("appendonly.aof"), &old).unwrap();
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    let mut c = n.client();
    assert_eq!(get(&mut c, "a"), Some("2".into()), "log:\n{}", n.log());
    let l: Vec<String> = redis::cmd("LRANGE").arg("l").arg(0).arg(-1).query(&mut c).unwrap();
    assert_eq!(l, ["x", "y"]);
    q(&mut c, &["SELECT", "2"]);
    assert_eq!(get(&mut c, "b"), Some("two".into()));
    assert!(!d.0.join("appendonly.aof").exists(), "the old file moved into the dir");
    assert_eq!(std::fs::read(d.aofdir().join("appendonly.aof")).unwrap(), old.as_bytes());
    assert_eq!(files(&d.aofdir()), ["appendonly.aof", INCR1, "appendonly.aof.manifest"]);
    let manifest = std::fs::read_to_string(d.aofdir().join("appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest, format!("file appendonly.aof seq 1 type b\nfile {INCR1} seq 1 type i\n"));
    // New writes go to the new incr file, and everything survives a restart.
    q(&mut c, &["SELECT", "0"]);
    q(&mut c, &["SET", "c", "3"]);
    n.shutdown();
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    let mut c = n.client();
    assert_eq!(get(&mut c, "c"), Some("3".into()));
    assert_eq!(get(&mut c, "a"), Some("2".into()));
    assert_eq!(std::fs::read(d.aofdir().join("appendonly.aof")).unwrap(), old.as_bytes(), "the base is not touched");
    assert!(String::from_utf8_lossy(&std::fs::read(d.aofdir().join(INCR1)).unwrap()).contains("$1\r\nc\r\n"));
    n.shutdown();
    // redis-server reads the upgraded directory too.
    if have_redis() {
        let real = Real::start(&d.0, &[]);
        let mut c = real.client();
        assert_eq!(get(&mut c, "a"), Some("2".into()));
        assert_eq!(get(&mut c, "c"), Some("3".into()));
        q(&mut c, &["SELECT", "2"]);
        assert_eq!(get(&mut c, "b"), Some("two".into()));
    }
}

// ---------------------------------------------------------------------------------
// 6. Rewrites.

#[test]
fn bgrewriteaof_under_concurrent_writes_loses_nothing() {
    let d = TempDir::new("rewrite");
    let n = Node::start(&d.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = n.client();
    // Enough data for the snapshot to take a while.
    q(&mut c, &["DEBUG", "POPULATE", "200000", "bulk", "20"]);
    const THREADS: usize = 3;
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let mut hs = Vec::new();
    for t in 0..THREADS {
        let acked = acked.clone();
        let port = n.port;
        hs.push(std::thread::spawn(move || {
            let mut c = connect(port);
            // One writer in another database: the new incr file must SELECT it.
            if t == 0 {
                q(&mut c, &["SELECT", "5"]);
            }
            loop {
                let r: redis::RedisResult<u64> = redis::cmd("INCR").arg(format!("ctr:{t}")).query(&mut c);
                match r {
                    Ok(v) => acked[t].store(v, Ordering::SeqCst),
                    Err(_) => return,
                }
            }
        }));
    }
    let sum = || acked.iter().map(|a| a.load(Ordering::SeqCst)).sum::<u64>();
    std::thread::sleep(Duration::from_millis(300));
    let before = sum();
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrites(&mut c, 1);
    let during = sum() - before;
    assert!(during > 0, "no write went on during the rewrite");
    std::thread::sleep(Duration::from_millis(300));
    n.sigkill();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(
        files(&d.aofdir()),
        vec!["appendonly.aof.2.base.rdb".to_string(), "appendonly.aof.2.incr.aof".into(), "appendonly.aof.manifest".into()]
    );
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    let mut c = n.client();
    assert_eq!(dbsize(&mut c), 200_000 + THREADS as i64 - 1);
    for t in 0..THREADS {
        q(&mut c, &["SELECT", if t == 0 { "5" } else { "0" }]);
        let a = acked[t].load(Ordering::SeqCst);
        let v: u64 = get(&mut c, &format!("ctr:{t}")).unwrap().parse().unwrap();
        assert!(v == a || v == a + 1, "ctr:{t}: {v} after restart, {a} acknowledged");
    }
}

/// Redis writes the base as RESP (`<name>.<n>.base.aof`) with the preamble off.
#[test]
fn rewrite_without_rdb_preamble_writes_a_resp_base() {
    let d = TempDir::new("nopreamble");
    let n = Node::start(&d.0, &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"]);
    let mut c = n.client();
    q(&mut c, &["SET", "k", "v"]);
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrites(&mut c, 1);
    assert_eq!(files(&d.aofdir()), ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]);
    let base = std::fs::read(d.aofdir().join("appendonly.aof.2.base.aof")).unwrap();
    assert!(base.starts_with(b"*"), "{:?}", String::from_utf8_lossy(&base));
    drop(c);
    n.shutdown();
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    assert_eq!(get(&mut n.client(), "k"), Some("v".into()));
}

#[test]
fn automatic_rewrite_on_growth() {
    let d = TempDir::new("autorw");
    let args = ["--appendonly", "yes", "--auto-aof-rewrite-min-size", "64kb", "--auto-aof-rewrite-percentage", "100"];
    let n = Node::start(&d.0, &args);
    let mut c = n.client();
    let cfg: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("auto-aof-rewrite-min-size").query(&mut c).unwrap();
    assert_eq!(cfg[1], "65536");
    // Grown far past 100 % of the tiny base, but under the minimum size: no rewrite.
    for i in 0..20 {
        q(&mut c, &["SET", &format!("small:{i}"), &noise(i, 1000)]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(info(&mut c, "aof_rewrites"), "0");
    for i in 0..100 {
        q(&mut c, &["SET", &format!("big:{i}"), &noise(1000 + i, 1000)]);
    }
    assert!(
        common::eventually(Duration::from_secs(5), || info(&mut c, "aof_rewrites") == "1"),
        "no automatic rewrite; aof_current_size {}",
        info(&mut c, "aof_current_size")
    );
    wait_rewrites(&mut c, 1);
    let base = info_u64(&mut c, "aof_base_size");
    assert!(base > 100_000, "{base}");
    assert!(n.log().contains("Starting automatic rewriting of AOF on"), "log:\n{}", n.log());
    // The base is now big: the next rewrite waits for another 100 % of growth.
    for i in 0..20 {
        q(&mut c, &["SET", &format!("more:{i}"), &noise(5000 + i, 1000)]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(info(&mut c, "aof_rewrites"), "1");
    assert_eq!(
        files(&d.aofdir()),
        vec!["appendonly.aof.2.base.rdb".to_string(), "appendonly.aof.2.incr.aof".into(), "appendonly.aof.manifest".into()]
    );
    drop(c);
    n.shutdown();
    let n = Node::start(&d.0, &args);
    assert_eq!(dbsize(&mut n.client()), 140);
}

// ---------------------------------------------------------------------------------
// 7. CONFIG SET appendonly.

#[test]
fn config_set_appendonly_at_run_time() {
    let d = TempDir::new("cfgset");
    // appendfsync always: the SIGKILLs below must not lose what was acknowledged.
    let n = Node::start(&d.0, &["--appendfsync", "always"]);
    let mut c = n.client();
    populate(&mut c, "pre");
    assert_eq!(info(&mut c, "aof_enabled"), "0");
    assert!(!d.aofdir().exists());
    assert_eq!(q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]), redis::Value::Okay);
    assert_eq!(info(&mut c, "aof_enabled"), "1");
    assert!(common::eventually(Duration::from_secs(10), || info(&mut c, "aof_rewrite_in_progress") == "0"));
    assert_eq!(files(&d.aofdir()), ["appendonly.aof.1.base.rdb", INCR1, "appendonly.aof.manifest"]);
    q(&mut c, &["SET", "post", "1"]);
    let expect = dataset(&mut c);
    drop(c);
    n.sigkill();
    let n = Node::start(&d.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = n.client();
    assert_same(&dataset(&mut c), &expect, "after restart");

    // Off: writes no longer reach the files.
    assert_eq!(q(&mut c, &["CONFIG", "SET", "appendonly", "no"]), redis::Value::Okay);
    assert_eq!(info(&mut c, "aof_enabled"), "0");
    let before: Vec<(String, Vec<u8>)> =
        files(&d.aofdir()).into_iter().map(|f| (f.clone(), std::fs::read(d.aofdir().join(&f)).unwrap())).collect();
    q(&mut c, &["SET", "while-off", "1"]);
    q(&mut c, &["DEL", "post"]);
    std::thread::sleep(Duration::from_millis(300));
    let after: Vec<(String, Vec<u8>)> =
        files(&d.aofdir()).into_iter().map(|f| (f.clone(), std::fs::read(d.aofdir().join(&f)).unwrap())).collect();
    assert!(before == after, "the AOF files changed while appendonly was no");
    drop(c);
    n.shutdown();
    let n = Node::start(&d.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = n.client();
    assert_eq!(get(&mut c, "while-off"), None);
    assert_eq!(get(&mut c, "post"), Some("1".into()));

    // Off, writes, on again: the new base has them; the old files are gone.
    q(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    q(&mut c, &["SET", "while-off", "2"]);
    q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    assert!(common::eventually(Duration::from_secs(10), || info(&mut c, "aof_rewrite_in_progress") == "0"));
    q(&mut c, &["SET", "on-again", "3"]);
    let expect = dataset(&mut c);
    drop(c);
    n.sigkill();
    assert_eq!(
        files(&d.aofdir()),
        vec!["appendonly.aof.2.base.rdb".to_string(), "appendonly.aof.2.incr.aof".into(), "appendonly.aof.manifest".into()]
    );
    let n = Node::start(&d.0, &["--appendonly", "yes"]);
    let mut c = n.client();
    assert_same(&dataset(&mut c), &expect, "after restart");
    assert_eq!(get(&mut c, "while-off"), Some("2".into()));
}

// ---------------------------------------------------------------------------------
// 8. Timestamp annotations.

#[test]
fn timestamp_annotations_load_and_truncate_to_timestamp() {
    let d = TempDir::new("ts");
    let args = ["--appendonly", "yes", "--appendfsync", "always", "--aof-timestamp-enabled", "yes"];
    let n = Node::start(&d.0, &args);
    let t0 = now_secs();
    let mut c = n.client();
    for i in 0..3 {
        q(&mut c, &["SET", &format!("a{i}"), "x"]);
    }
    let t_a = now_secs();
    while now_secs() <= t_a {
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in 0..3 {
        q(&mut c, &["SET", &format!("b{i}"), "y"]);
    }
    let t1 = now_secs();
    drop(c);
    n.shutdown();
    let text = String::from_utf8_lossy(&std::fs::read(d.aofdir().join(INCR1)).unwrap()).into_owned();
    let ts: Vec<u64> = text.lines().filter_map(|l| l.strip_prefix("#TS:")).map(|t| t.parse().unwrap()).collect();
    assert!(ts.len() >= 2, "{text:?}");
    assert!(ts.iter().all(|t| (t0..=t1).contains(t)), "{ts:?} not within {t0}..={t1}");
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");

    let n = Node::start(&d.0, &args);
    let mut c = n.client();
    assert_eq!(dbsize(&mut c), 6, "log:\n{}", n.log());
    drop(c);
    n.shutdown();

    let manifest = d.aofdir().join("appendonly.aof.manifest");
    let (code, out) = check_aof(&["--truncate-to-timestamp", &t_a.to_string(), manifest.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Successfully truncated AOF {INCR1} to timestamp {t_a}")), "{out}");
    let n = Node::start(&d.0, &args);
    let mut c = n.client();
    for i in 0..3 {
        assert_eq!(get(&mut c, &format!("a{i}")), Some("x".into()));
        assert_eq!(get(&mut c, &format!("b{i}")), None);
    }
}

// ---------------------------------------------------------------------------------
// 9. INFO persistence.

#[test]
fn info_persistence_aof_fields() {
    let d = TempDir::new("info");
    let off = Node::start(&d.0, &[]);
    assert_eq!(info(&mut off.client(), "aof_enabled"), "0");
    drop(off);

    let n = Node::start(&d.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = n.client();
    let base1 = d.aofdir().join("appendonly.aof.1.base.rdb");
    let incr1 = d.aofdir().join(INCR1);
    assert_eq!(info(&mut c, "aof_enabled"), "1");
    assert_eq!(info(&mut c, "aof_rewrites"), "0");
    assert_eq!(info(&mut c, "aof_rewrite_in_progress"), "0");
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info(&mut c, "aof_last_write_status"), "ok");
    assert_eq!(info(&mut c, "aof_last_rewrite_time_sec"), "-1");
    assert_eq!(info_u64(&mut c, "aof_base_size"), size(&base1));
    assert_eq!(info_u64(&mut c, "aof_current_size"), size(&base1) + size(&incr1));
    let cur0 = info_u64(&mut c, "aof_current_size");
    for i in 0..100 {
        q(&mut c, &["SET", &format!("key:{i}"), &noise(i, 100)]);
    }
    let cur1 = info_u64(&mut c, "aof_current_size");
    assert!(cur1 >= cur0 + 100 * 100, "{cur0} -> {cur1}");
    assert_eq!(cur1, size(&base1) + size(&incr1));
    assert_eq!(info_u64(&mut c, "aof_base_size"), size(&base1));

    // A slow rewrite (1 ms a key): in progress, and counted from its start, as in Redis.
    q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    q(&mut c, &["BGREWRITEAOF"]);
    assert_eq!(info(&mut c, "aof_rewrite_in_progress"), "1");
    assert_eq!(info(&mut c, "aof_rewrites"), "1");
    assert!(info(&mut c, "aof_current_rewrite_time_sec").parse::<i64>().unwrap() >= 0);
    let again = redis::cmd("BGREWRITEAOF").query::<String>(&mut c).unwrap_err();
    assert!(again.to_string().contains("already in progress"), "{again}");
    // In progress until the new base is in place.
    let base2 = d.aofdir().join("appendonly.aof.2.base.rdb");
    assert!(common::eventually(Duration::from_secs(10), || info(&mut c, "aof_rewrite_in_progress") == "0"));
    assert!(base2.exists(), "{:?}", files(&d.aofdir()));
    assert!(!base1.exists() && !incr1.exists(), "{:?}", files(&d.aofdir()));
    q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    assert_eq!(info(&mut c, "aof_rewrites"), "1");
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert!(info(&mut c, "aof_last_rewrite_time_sec").parse::<i64>().unwrap() >= 0);
    assert_eq!(info(&mut c, "aof_current_rewrite_time_sec"), "-1");
    let incr2 = d.aofdir().join("appendonly.aof.2.incr.aof");
    assert!(size(&base2) > 100 * 100, "{}", size(&base2));
    assert_eq!(info_u64(&mut c, "aof_base_size"), size(&base2));
    assert_eq!(info_u64(&mut c, "aof_current_size"), size(&base2) + size(&incr2));
    q(&mut c, &["SET", "one-more", "x"]);
    assert_eq!(info_u64(&mut c, "aof_current_size"), size(&base2) + size(&incr2));
    assert!(size(&incr2) > 0);
}

#[test]
fn rewrite_and_aof_switch_inside_multi_are_scheduled() {
    // EXEC holds its shards, so the snapshot point cannot be taken inside it: Redis
    // schedules the rewrite, and so do we (no deadlock, the cron starts it).
    let d = TempDir::new("multi-sched");
    let n = Node::start(&d.0, &[]);
    let mut c = n.client();
    let replies: Vec<redis::Value> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg("1")
        .cmd("BGREWRITEAOF")
        .cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut c)
        .unwrap();
    assert_eq!(replies[1], redis::Value::SimpleString("Background append only file rewriting scheduled".into()));
    let ok = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        info.contains("aof_enabled:1") && d.0.join("appendonlydir/appendonly.aof.manifest").exists()
    });
    assert!(ok, "the AOF was not turned on after EXEC");
    let v: String = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, "1");
}

/// One RESP command as the AOF holds it.
fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Values of `keys` in database `db`, pipelined.
fn values_of(c: &mut Connection, db: usize, keys: &[String]) -> Vec<Option<Vec<u8>>> {
    q(c, &["SELECT", &db.to_string()]);
    let mut out = Vec::new();
    for chunk in keys.chunks(2000) {
        let v: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(chunk).query(c).unwrap();
        out.extend(v);
    }
    out
}

/// An incr file of tens of MB (read in several blocks, with commands and a value
/// bigger than a block across their edges), mixing single-key commands run by the
/// workers with transactions, SELECTs, multi-key commands and annotations run in
/// order: ferrokv ends with what redis-server loads from the same directory.
#[test]
fn large_incr_file_replays_as_redis_server_does() {
    if !have_redis() {
        return;
    }
    const N: usize = 300_000;
    let mut f = resp(&[b"SELECT", b"0"]);
    let big = vec![b'x'; 12 << 20];
    for i in 0..N {
        let k = format!("k:{i}");
        f.extend(resp(&[b"SET", k.as_bytes(), format!("v{i}-{}", noise(i as u64, 20)).as_bytes()]));
        f.extend(resp(&[b"INCR", format!("ctr:{}", i % 97).as_bytes()]));
        if i % 1000 == 0 {
            f.extend(format!("#TS:{}\r\n", 1_700_000_000 + i).as_bytes());
            f.extend(resp(&[b"MULTI"]));
            f.extend(resp(&[b"SELECT", b"2"]));
            f.extend(resp(&[b"RPUSH", b"log", k.as_bytes()]));
            f.extend(resp(&[b"SELECT", b"0"]));
            f.extend(resp(&[b"APPEND", format!("ctr:{}", i % 97).as_bytes(), b"0"]));
            f.extend(resp(&[b"EXEC"]));
            f.extend(resp(&[b"MSET", b"m1", k.as_bytes(), b"m2", format!("k:{}", i / 2).as_bytes()]));
            f.extend(resp(&[b"DEL", format!("k:{}", i / 2).as_bytes()]));
        }
        if i == N / 2 {
            f.extend(resp(&[b"SET", b"big", &big]));
            f.extend(resp(&[b"SELECT", b"3"]));
            f.extend(resp(&[b"SET", b"in3", b"yes"]));
            f.extend(resp(&[b"SELECT", b"0"]));
        }
    }
    assert!(f.len() > 30 << 20, "{} bytes", f.len());
    let dirs = [TempDir::new("bigincr-ferro"), TempDir::new("bigincr-real")];
    for d in &dirs {
        std::fs::create_dir_all(d.aofdir()).unwrap();
        std::fs::write(d.aofdir().join("appendonly.aof.1.incr.aof"), &f).unwrap();
        std::fs::write(d.aofdir().join("appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\n").unwrap();
    }
    let ours = Node::start(&dirs[0].0, &["--appendonly", "yes"]);
    let real = Real::start(&dirs[1].0, &[]);
    let (mut oc, mut rc) = (ours.client(), real.client());
    let mut keys: Vec<String> = (0..N).map(|i| format!("k:{i}")).collect();
    keys.extend((0..97).map(|i| format!("ctr:{i}")));
    keys.extend(["m1", "m2", "big"].map(String::from));
    let (got, want) = (values_of(&mut oc, 0, &keys), values_of(&mut rc, 0, &keys));
    let wrong: Vec<&String> = keys.iter().zip(got.iter().zip(&want)).filter(|(_, (g, w))| g != w).map(|(k, _)| k).collect();
    assert!(wrong.is_empty(), "{} keys differ from redis-server's, e.g. {:?}", wrong.len(), &wrong[..wrong.len().min(5)]);
    assert_eq!(got[keys.len() - 1].as_ref().map(|v| v.len()), Some(big.len()));
    for db in [0, 2, 3] {
        q(&mut oc, &["SELECT", &db.to_string()]);
        q(&mut rc, &["SELECT", &db.to_string()]);
        assert_eq!(dbsize(&mut oc), dbsize(&mut rc), "DBSIZE of db {db}");
    }
    let log = |c: &mut Connection| -> Vec<String> {
        q(c, &["SELECT", "2"]);
        redis::cmd("LRANGE").arg("log").arg(0).arg(-1).query(c).unwrap()
    };
    assert_eq!(log(&mut oc), log(&mut rc));
    assert_eq!(log(&mut oc).len(), N / 1000);
}

// 7. Write errors, as Redis handles them.

/// The error reply for writes while the AOF cannot be written.
const AOF_MISCONF: &str = "MISCONF Errors writing to the AOF file: No space left on device";

/// A server whose incr file will be /dev/full: CONFIG SET appendonly yes opens the
/// incr file through the symlink left in its place, and every write to it then fails
/// with ENOSPC.
fn aof_on_dev_full(d: &TempDir, fsync: &str) -> (Node, Connection) {
    std::fs::create_dir_all(d.aofdir()).unwrap();
    std::os::unix::fs::symlink("/dev/full", d.aofdir().join(INCR1)).unwrap();
    let n = Node::start(&d.0, &["--appendfsync", fsync]);
    let mut c = n.client();
    assert_eq!(q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]), redis::Value::Okay);
    wait_rewrites(&mut c, 1);
    assert_eq!(info(&mut c, "aof_last_write_status"), "ok");
    (n, c)
}

fn refused(c: &mut Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<redis::Value>(c) {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        Ok(v) => panic!("{args:?} was accepted: {v:?}"),
    }
}

#[test]
fn an_aof_write_error_refuses_writes_and_ping_until_the_aof_is_off() {
    let d = TempDir::new("devfull");
    let (n, mut c) = aof_on_dev_full(&d, "everysec");
    // The write that meets the error is acknowledged (its reply leaves with the round
    // whose AOF write failed, as in Redis); from then on writes are refused.
    q(&mut c, &["SET", "a", "1"]);
    assert!(common::eventually(Duration::from_secs(5), || info(&mut c, "aof_last_write_status") == "err"));
    assert_eq!(refused(&mut c, &["SET", "b", "2"]), AOF_MISCONF);
    assert_eq!(refused(&mut c, &["PING"]), AOF_MISCONF);
    assert_eq!(refused(&mut c, &["EVAL", "#!lua\nreturn redis.call('set', 'x', '1')", "0"]), AOF_MISCONF);
    let in_script = refused(&mut c, &["EVAL", "return redis.call('set', 'x', '1')", "0"]);
    assert!(in_script.starts_with(AOF_MISCONF), "{in_script}");
    assert_eq!(get(&mut c, "a").as_deref(), Some("1"), "reads go on");
    assert_eq!(get(&mut c, "b"), None);
    assert!(n.log().contains("Error writing to the AOF file: No space left on device"), "{}", n.log());
    // With the AOF off nothing is refused any more.
    assert_eq!(q(&mut c, &["CONFIG", "SET", "appendonly", "no"]), redis::Value::Okay);
    assert_eq!(q(&mut c, &["SET", "b", "2"]), redis::Value::Okay);
    assert_eq!(q(&mut c, &["PING"]), redis::Value::SimpleString("PONG".into()));
}

#[test]
fn appendfsync_always_exits_on_an_aof_write_error() {
    let d = TempDir::new("devfull-always");
    let (mut n, mut c) = aof_on_dev_full(&d, "always");
    // Never acknowledged: the server stops before the reply, as Redis does.
    let r: redis::RedisResult<redis::Value> = redis::cmd("SET").arg("a").arg("1").query(&mut c);
    assert!(r.is_err(), "{r:?}");
    assert!(common::eventually(Duration::from_secs(10), || matches!(n.child.try_wait(), Ok(Some(_)))));
    let st = n.child.wait().unwrap();
    assert_eq!(st.code(), Some(1), "{st}");
    assert!(n.log().contains("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."), "{}", n.log());
}

/// A small tmpfs mounted on a fresh directory, unmounted on drop; `None` where this
/// machine does not let us mount one.
struct SmallFs(TempDir);

impl SmallFs {
    fn mount(tag: &str) -> Option<SmallFs> {
        let d = TempDir::new(tag);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(&d.0)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallFs(d))
    }

    /// Fills the file system with a file of its own, up to its last `room` bytes.
    fn fill(&self, room: u64) -> PathBuf {
        use std::io::Write;
        let p = self.0 .0.join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        let chunk = vec![b'x'; 4096];
        while f.write_all(&chunk).is_ok() {}
        while f.write_all(b"x").is_ok() {}
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(room)).unwrap();
        p
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0 .0).status();
    }
}

/// SETs of 1 KB values until one is refused; returns the keys acknowledged and the
/// refusal.
fn set_until_refused(c: &mut Connection) -> (Vec<String>, String) {
    let value = "v".repeat(1024);
    let mut acked = Vec::new();
    for i in 0..20_000 {
        let key = format!("k:{i}");
        match redis::cmd("SET").arg(&key).arg(&value).query::<redis::Value>(c) {
            Ok(_) => acked.push(key),
            Err(e) => return (acked, format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))),
        }
    }
    panic!("no write was refused on a full file system");
}

#[test]
fn a_full_disk_refuses_writes_then_recovers_with_every_acknowledged_write_kept() {
    let Some(fs) = SmallFs::mount("fullfs") else {
        println!("skipping: cannot mount a tmpfs here");
        return;
    };
    let dir = &fs.0 .0;
    let n = Node::start(dir, &["--appendonly", "yes"]);
    let mut c = n.client();
    // Room for a few writes: the last one fits in part (cut off before the retry).
    let filler = fs.fill(30_000);
    let (acked, err) = set_until_refused(&mut c);
    assert!(acked.len() > 5, "only {} writes before the disk was full", acked.len());
    assert_eq!(err, AOF_MISCONF);
    assert_eq!(info(&mut c, "aof_last_write_status"), "err");
    if have_redis() {
        // The same on the real server, on a file system of its own.
        let rfs = SmallFs::mount("fullfs-real").expect("mounted once already");
        let real = Real::start(&rfs.0 .0, &[]);
        let mut rc = real.client();
        rfs.fill(30_000);
        assert_eq!(set_until_refused(&mut rc).1, err, "redis-server's refusal");
    }
    // Space again: the retry in the background succeeds and writes are accepted.
    std::fs::remove_file(filler).unwrap();
    assert!(common::eventually(Duration::from_secs(10), || info(&mut c, "aof_last_write_status") == "ok"));
    assert_eq!(q(&mut c, &["SET", "after", "1"]), redis::Value::Okay);
    assert!(n.log().contains("AOF write error looks solved, Redis can write again."), "{}", n.log());
    // The incr file holds whole commands only: every acknowledged write loads back.
    drop(c);
    n.shutdown();
    let n = Node::start(dir, &["--appendonly", "yes"]);
    let mut c = n.client();
    let lost: Vec<&String> = acked.iter().filter(|k| get(&mut c, k).is_none()).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged keys lost, e.g. {:?}", lost.len(), acked.len(), &lost[..lost.len().min(3)]);
    assert_eq!(get(&mut c, "after").as_deref(), Some("1"));
}

// 8. Replicas.

/// A replica with the AOF on restarts it after a full sync, as Redis does: the files
/// then hold the master's dataset, not the one the sync replaced.
#[test]
fn a_replica_rewrites_its_aof_after_a_full_sync() {
    let (md, rd) = (TempDir::new("sync-master"), TempDir::new("sync-replica"));
    let master = Node::start(&md.0, &["--repl-diskless-sync-delay", "0"]);
    let mut mc = master.client();
    q(&mut mc, &["DEBUG", "POPULATE", "1000"]);
    let replica = Node::start(&rd.0, &["--appendonly", "yes"]);
    let mut rc = replica.client();
    q(&mut rc, &["SET", "old", "1"]);
    q(&mut rc, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]);
    let synced = common::eventually(Duration::from_secs(20), || {
        let text: String = redis::cmd("INFO").arg("replication").query(&mut rc).unwrap();
        text.contains("master_link_status:up") && dbsize(&mut rc) == 1000
    });
    assert!(synced, "the replica did not sync; its log:\n{}", replica.log());
    q(&mut mc, &["SET", "streamed", "1"]);
    assert!(common::eventually(Duration::from_secs(10), || get(&mut rc, "streamed").is_some()));
    wait_rewrites(&mut rc, 1);
    q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    drop(rc);
    replica.shutdown();
    let replica = Node::start(&rd.0, &["--appendonly", "yes"]);
    let mut rc = replica.client();
    assert_eq!(dbsize(&mut rc), 1001, "the master's keys and the streamed one");
    assert_eq!(get(&mut rc, "old"), None, "the sync replaced it");
    assert_eq!(get(&mut rc, "key:999").as_deref(), Some("value:999"));
}

/// A replica whose AOF cannot be written stops at its master's next write, as Redis's
/// does with `replica-ignore-disk-write-errors no` (the default), rather than go on
/// with a dataset its disk no longer follows; with `yes` it applies the stream and
/// warns.
#[test]
fn a_replica_that_cannot_write_its_aof_stops_unless_told_to_ignore_it() {
    use std::os::unix::process::ExitStatusExt;
    for ignore in ["no", "yes"] {
        let (md, rd) = (TempDir::new(&format!("diskerr-master-{ignore}")), TempDir::new(&format!("diskerr-replica-{ignore}")));
        let master = Node::start(&md.0, &["--repl-diskless-sync-delay", "0"]);
        let mut mc = master.client();
        std::fs::create_dir_all(rd.aofdir()).unwrap();
        std::os::unix::fs::symlink("/dev/full", rd.aofdir().join(INCR1)).unwrap();
        let port = master.port.to_string();
        let mut replica = Node::start(&rd.0, &["--replicaof", "127.0.0.1", &port, "--replica-ignore-disk-write-errors", ignore]);
        let mut rc = replica.client();
        let up = common::eventually(Duration::from_secs(20), || {
            let text: String = redis::cmd("INFO").arg("replication").query(&mut rc).unwrap();
            text.contains("master_link_status:up")
        });
        assert!(up, "the replica did not sync; its log:\n{}", replica.log());
        // The AOF goes on after the sync, so its incr file is the one on /dev/full.
        assert_eq!(q(&mut rc, &["CONFIG", "SET", "appendonly", "yes"]), redis::Value::Okay);
        wait_rewrites(&mut rc, 1);
        q(&mut mc, &["SET", "a", "1"]);
        let failing = common::eventually(Duration::from_secs(10), || info(&mut rc, "aof_last_write_status") == "err");
        assert!(failing, "the replica's AOF write did not fail; its log:\n{}", replica.log());
        q(&mut mc, &["SET", "b", "2"]);
        if ignore == "no" {
            let gone = common::eventually(Duration::from_secs(10), || matches!(replica.child.try_wait(), Ok(Some(_))));
            assert!(gone, "the replica is still running; its log:\n{}", replica.log());
            let st = replica.child.wait().unwrap();
            assert_eq!(st.signal(), Some(libc::SIGABRT), "{st}");
            assert!(replica.log().contains("Guru Meditation: Replica was unable to write command to disk."), "{}", replica.log());
        } else {
            assert!(common::eventually(Duration::from_secs(10), || get(&mut rc, "b").as_deref() == Some("2")));
            assert!(
                replica.log().contains("Replica is applying a command even though it is unable to write to disk."),
                "{}",
                replica.log()
            );
            assert!(replica.child.try_wait().unwrap().is_none(), "the replica stopped");
        }
    }
}
