//! Replication, replica side, end to end: ferrokv as the replica of real `redis-server`
//! masters (Debian's 7.0; diskless `$EOF:` and disk-backed `$len` snapshots) and of
//! ferrokv masters, chained replicas (offsets identical along the chain), READONLY,
//! MASTERDOWN and NOREPLICAS, link loss answered by a partial resync (or a full one when
//! the master restarted with a new history), promotion with REPLICAOF NO ONE and PSYNC2
//! partial resyncs of the other replicas (ferrokv and redis-server) to the promoted one,
//! `replicaof` and `masterauth` in the config file and on the command line.
//!
//! Every node runs in its own temporary directory and logs to `node.log` there, which
//! the tests read to tell a partial resynchronization from a full one.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{eventually, Server};
use redis::{Connection, Value};

fn connect(port: u16) -> Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

fn temp_dir(tag: &str, port: u16) -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!("ferrokv-{tag}-{port}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server of either kind, with its log.
trait Node {
    fn port(&self) -> u16;
    fn log(&self) -> String;
    fn name(&self) -> String;
    fn client(&self) -> Connection {
        connect(self.port())
    }
    fn info(&self) -> BTreeMap<String, String> {
        info(&mut self.client(), "replication")
    }
}

/// A real redis-server, killed (and its directory removed) on drop.
struct Real {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Real {
    fn start(extra: &[&str]) -> Real {
        Real::start_on(common::free_port(), extra)
    }

    fn start_on(port: u16, extra: &[&str]) -> Real {
        let dir = temp_dir("real", port);
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--logfile", "node.log", "--dir", "."])
            .args(extra)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server installed");
        let r = Real { port, child, dir };
        let ok = eventually(Duration::from_secs(10), || common::responds(port));
        assert!(ok, "redis-server did not start on port {port}");
        r
    }

    /// A real master (diskless without delay unless `extra` says otherwise).
    fn master(extra: &[&str]) -> Real {
        let mut args = vec!["--repl-diskless-sync-delay", "0"];
        args.extend_from_slice(extra);
        Real::start(&args)
    }
}

impl Node for Real {
    fn port(&self) -> u16 {
        self.port
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }
    fn name(&self) -> String {
        format!("redis-server :{}", self.port)
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A ferrokv server logging to `node.log` (no DEBUG REPL-STREAM: a fresh replica has
/// no history of its own).
struct Ferro(Server);

impl Ferro {
    fn start(extra: &[&str]) -> Ferro {
        Ferro::start_on(common::free_port(), extra)
    }

    fn start_on(port: u16, extra: &[&str]) -> Ferro {
        let dir = temp_dir("ferro", port);
        Ferro(Server::spawn(port, dir, Ferro::args(port, extra)))
    }

    /// Killed and started again on its port and directory (its RDB file kept).
    fn restart(&mut self, extra: &[&str]) {
        let port = self.0.port;
        self.0.restart(Ferro::args(port, extra));
    }

    fn args(port: u16, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--logfile", "node.log"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        // Replicas sync at once unless a test asks for Redis's default delay.
        if !extra.contains(&"--repl-diskless-sync-delay") {
            args.extend(["--repl-diskless-sync-delay".to_string(), "0".to_string()]);
        }
        args
    }

    fn replica_of(master: &dyn Node, extra: &[&str]) -> Ferro {
        let f = Ferro::start(extra);
        assert_eq!(q(&mut f.client(), &["REPLICAOF", "127.0.0.1", &master.port().to_string()]), Value::Okay);
        f
    }
}

impl Node for Ferro {
    fn port(&self) -> u16 {
        self.0.port
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.0.dir.join("node.log")).unwrap_or_default()
    }
    fn name(&self) -> String {
        format!("ferrokv :{}", self.0.port)
    }
}

fn info(c: &mut Connection, section: &str) -> BTreeMap<String, String> {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// INFO replication's field names, in order.
fn info_names(n: &dyn Node) -> Vec<String> {
    let text: String = redis::cmd("INFO").arg("replication").query(&mut n.client()).unwrap();
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, _)| k.to_string()).collect()
}

fn q(c: &mut Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The error a command gets, as `CODE message`.
fn err(c: &mut Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => panic!("{args:?}: no error but {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn logs(nodes: &[&dyn Node]) -> String {
    nodes.iter().map(|n| format!("==== {} log:\n{}", n.name(), n.log())).collect::<Vec<_>>().join("\n")
}

/// Waits until every replica's link is up and both its `slave_repl_offset` and its own
/// `master_repl_offset` equal the master's `master_repl_offset` (read before and after,
/// so no write was in between). Chained replicas count: their offsets are the master's.
fn wait_synced(m: &dyn Node, replicas: &[&dyn Node], timeout: Duration) -> u64 {
    let mut mc = m.client();
    let mut rcs: Vec<Connection> = replicas.iter().map(|r| r.client()).collect();
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        let before: u64 = info(&mut mc, "replication")["master_repl_offset"].parse().unwrap();
        let mut all = true;
        last = format!("master_repl_offset:{before}");
        for rc in rcs.iter_mut() {
            let i = info(rc, "replication");
            let get = |k: &str| i.get(k).cloned().unwrap_or_default();
            let (link, off, own) = (get("master_link_status"), get("slave_repl_offset"), get("master_repl_offset"));
            last.push_str(&format!(" | link:{link} slave_repl_offset:{off} master_repl_offset:{own}"));
            all &= link == "up" && off == before.to_string() && own == off;
        }
        if all && info(&mut mc, "replication")["master_repl_offset"] == before.to_string() {
            return before;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let mut nodes = vec![m];
    nodes.extend_from_slice(replicas);
    panic!("replicas did not catch up: {last}\n{}", logs(&nodes));
}

/// Waits until the short-lived keys (`*short*`, `*soon:`) have expired and the master
/// has reclaimed every expired key (DBSIZE equals the live keys in each database), so
/// that their DELs are in the stream, then until the replicas have caught up.
fn settle(m: &dyn Node, replicas: &[&dyn Node]) {
    let mut c = m.client();
    let mut last = Vec::new();
    let reclaimed = eventually(Duration::from_secs(10), || {
        last = (0..16)
            .map(|db| {
                q(&mut c, &["SELECT", &db.to_string()]);
                let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
                let short = keys.iter().filter(|k| k.windows(5).any(|w| w == b"short" || w == b"soon:")).count();
                (int(&q(&mut c, &["DBSIZE"])), keys.len() as i64, short)
            })
            .collect();
        last.iter().all(|(size, live, short)| size == live && *short == 0)
    });
    assert!(reclaimed, "expired keys never reclaimed on the master: (DBSIZE, live keys, short-lived keys) per db {last:?}");
    wait_synced(m, replicas, Duration::from_secs(15));
}

/// Compares the replicas with the master key by key (PTTL within a second), once the
/// master has settled (see `settle`). Returns the number of keys compared.
fn assert_same_data(m: &dyn Node, replicas: &[&dyn Node]) -> usize {
    settle(m, replicas);
    let (want, want_sizes) = dataset(&mut m.client());
    for r in replicas {
        let (got, sizes) = dataset(&mut r.client());
        let name = r.name();
        for ((db, k), w) in &want {
            let key = format!("db{db} {}", String::from_utf8_lossy(k));
            let Some(g) = got.get(&(*db, k.clone())) else {
                panic!("{name}: {key} missing (master has {w:?})");
            };
            assert_eq!((&g.typ, &g.val), (&w.typ, &w.val), "{name}: {key}");
            let ttl_ok = if w.pttl < 0 { g.pttl == w.pttl } else { g.pttl >= 0 && (g.pttl - w.pttl).abs() < 1000 };
            assert!(ttl_ok, "{name}: {key}: PTTL {} on the replica, {} on the master", g.pttl, w.pttl);
        }
        let extra: Vec<String> =
            got.keys().filter(|k| !want.contains_key(k)).map(|(db, k)| format!("db{db} {}", String::from_utf8_lossy(k))).collect();
        assert!(extra.is_empty(), "{name}: keys the master does not have: {extra:?}");
        assert_eq!(sizes, want_sizes, "{name}: DBSIZE of each database");
    }
    want.len()
}

/// ROLE on a replica: (host, port, state, offset), checking the shape.
fn replica_role(n: &dyn Node) -> (String, i64, String, i64) {
    let v = q(&mut n.client(), &["ROLE"]);
    let Value::Array(items) = &v else { panic!("ROLE: {v:?}") };
    assert_eq!(items.len(), 5, "ROLE: {v:?}");
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("ROLE field {other:?} in {items:?}"),
    };
    assert_eq!(text(&items[0]), "slave");
    (text(&items[1]), int(&items[2]), text(&items[3]), int(&items[4]))
}

/// Runs `writers` writer threads against `port` until `body` returns, then stops them.
fn with_writers<T>(port: u16, first: u64, writers: u64, min_ops: usize, body: impl FnOnce() -> T) -> T {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..writers)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || writer(port, first + t, stop, min_ops))
        })
        .collect();
    let out = body();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    out
}

#[derive(Debug, PartialEq)]
struct Entry {
    typ: String,
    val: Vec<Vec<u8>>,
    pttl: i64,
}

/// The contents of a key in a comparable form (unordered types sorted, scores parsed:
/// Redis 7.0 and 7.2 print them differently).
fn contents(c: &mut Connection, key: &[u8]) -> Entry {
    let typ: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let mut val: Vec<Vec<u8>> = match typ.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query(c).unwrap()],
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(c).unwrap(),
        "hash" => {
            let flat: Vec<Vec<u8>> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            flat.chunks(2).map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat()).collect()
        }
        "set" => redis::cmd("SMEMBERS").arg(key).query(c).unwrap(),
        "zset" => {
            let flat: Vec<Vec<u8>> = redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(c).unwrap();
            flat.chunks(2)
                .map(|p| {
                    let s: f64 = std::str::from_utf8(&p[1]).unwrap().parse().unwrap();
                    [p[0].clone(), format!("={s:?}").into_bytes()].concat()
                })
                .collect()
        }
        "none" => vec![],
        other => panic!("unexpected type {other}"),
    };
    if typ == "set" || typ == "hash" {
        val.sort();
    }
    let pttl: i64 = redis::cmd("PTTL").arg(key).query(c).unwrap();
    Entry { typ, val, pttl }
}

/// Each key by (database, name).
type Keyspace = BTreeMap<(usize, Vec<u8>), Entry>;

/// Every key of databases 0..16 with its contents, and each database's DBSIZE (which on
/// a replica also counts keys that expired but were not yet deleted by the master).
fn dataset(c: &mut Connection) -> (Keyspace, Vec<i64>) {
    let mut out = BTreeMap::new();
    let mut sizes = Vec::new();
    for db in 0..16 {
        q(c, &["SELECT", &db.to_string()]);
        sizes.push(int(&q(c, &["DBSIZE"])));
        let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        keys.sort();
        for k in keys {
            let e = contents(c, &k);
            out.insert((db, k), e);
        }
    }
    q(c, &["SELECT", "0"]);
    (out, sizes)
}

/// Tiny deterministic generator (xorshift), one per writer thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Keys of every type in databases 0, 1, 2 and 9, some volatile, some about to expire.
fn populate(c: &mut Connection) {
    for db in [0, 1, 2, 9] {
        q(c, &["SELECT", &db.to_string()]);
        let p = format!("pre{db}");
        q(c, &["SET", &format!("{p}:str"), "hello"]);
        q(c, &["SET", &format!("{p}:int"), "-42"]);
        q(c, &["SET", &format!("{p}:ex"), "v", "EX", "1000"]);
        q(c, &["SET", &format!("{p}:px"), "v", "PX", "2000000"]);
        q(c, &["SET", &format!("{p}:at"), "v"]);
        q(c, &["EXPIREAT", &format!("{p}:at"), &(now_s() + 3000).to_string()]);
        q(c, &["SET", &format!("{p}:soon:"), "gone", "PX", "300"]);
        q(c, &["SET", &format!("{p}:big"), &"x".repeat(5000)]);
        q(c, &["INCRBYFLOAT", &format!("{p}:float"), "3.25"]);
        for i in 0..200 {
            q(c, &["RPUSH", &format!("{p}:list"), &format!("e{i}")]);
        }
        q(c, &["LPUSH", &format!("{p}:small"), "a", "b", "c"]);
        q(c, &["HSET", &format!("{p}:hash"), "a", "1", "b", "2"]);
        for i in 0..300 {
            q(c, &["HSET", &format!("{p}:bighash"), &format!("f{i}"), &i.to_string()]);
        }
        q(c, &["SADD", &format!("{p}:iset"), "1", "2", "3", "-7"]);
        for i in 0..200 {
            q(c, &["SADD", &format!("{p}:set"), &format!("m{i}")]);
        }
        q(c, &["ZADD", &format!("{p}:zset"), "1", "a", "2.5", "b", "-inf", "c", "1e100", "d"]);
        for i in 0..200 {
            q(c, &["ZADD", &format!("{p}:bigz"), &format!("{i}.5"), &format!("m{i}")]);
        }
        q(c, &["PFADD", &format!("{p}:hll"), "a", "b", "c", "d"]);
        for i in 0..100 {
            q(c, &["PFADD", &format!("{p}:hll2"), &format!("x{i}"), &format!("y{i}")]);
        }
        q(c, &["EXPIRE", &format!("{p}:bighash"), "5000"]);
    }
    q(c, &["SELECT", "0"]);
}

/// One writer: random commands of every type on its own keys and on keys all writers
/// share (where the stream's order must be the execution order), switching databases.
fn writer(port: u16, t: u64, stop: Arc<AtomicBool>, min_ops: usize) -> usize {
    let mut c = connect(port);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t + 1) * 0x1234_5678_9abc));
    let mut db = 0;
    let mut n = 0;
    while n < min_ops || !stop.load(Ordering::Relaxed) {
        if n > 200_000 {
            break;
        }
        n += 1;
        let p = format!("t{t}");
        let i = rng.below(8);
        let r = rng.below(24);
        let k = |name: &str| format!("{p}:{name}{i}");
        match r {
            0 => drop(q(&mut c, &["SET", &k("s"), &format!("v{n}"), "EX", &(1000 + rng.below(1000)).to_string()])),
            1 => drop(q(&mut c, &["SET", &k("s"), &format!("v{n}"), "PX", &(2_000_000 + rng.below(1000)).to_string()])),
            2 => {
                q(&mut c, &["SET", &k("s"), &format!("at{n}")]);
                q(&mut c, &["EXPIREAT", &k("s"), &(now_s() + 4000).to_string()]);
            }
            3 => {
                q(&mut c, &["INCR", &k("cnt")]);
                q(&mut c, &["INCRBYFLOAT", &k("f"), "1.5"]);
                q(&mut c, &["APPEND", &k("app"), "ab"]);
            }
            4 => drop(q(&mut c, &["RPUSH", &k("l"), &format!("r{n}"), &format!("s{n}")])),
            5 => drop(q(&mut c, &["LPUSH", &k("l"), &format!("l{n}")])),
            6 => {
                q(&mut c, &["LPOP", &k("l")]);
                q(&mut c, &["RPOP", &k("l"), "2"]);
            }
            7 => drop(q(&mut c, &["LMOVE", &k("l"), &format!("{p}:l{}", rng.below(8)), "LEFT", "RIGHT"])),
            8 => {
                q(&mut c, &["HSET", &k("h"), &format!("f{}", rng.below(10)), &format!("v{n}")]);
                q(&mut c, &["HINCRBY", &k("h"), "n", "3"]);
            }
            9 => drop(q(&mut c, &["HDEL", &k("h"), &format!("f{}", rng.below(10))])),
            10 => drop(q(&mut c, &["SADD", &k("set"), &format!("m{}", rng.below(20)), &format!("m{}", rng.below(20))])),
            11 => drop(q(&mut c, &["SPOP", &k("set"), &(1 + rng.below(2)).to_string()])),
            12 => drop(q(&mut c, &["ZADD", &k("z"), &format!("{}.25", rng.below(100)), &format!("m{}", rng.below(30))])),
            13 => {
                q(&mut c, &["ZINCRBY", &k("z"), "1.5", &format!("m{}", rng.below(30))]);
                q(&mut c, &["ZPOPMIN", &k("z")]);
            }
            14 => drop(q(&mut c, &["PFADD", &k("hll"), &format!("e{n}"), &format!("f{}", rng.below(50))])),
            15 => {
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(k("tx"))
                    .arg(n)
                    .ignore()
                    .cmd("INCR")
                    .arg(format!("{p}:txcount"))
                    .ignore()
                    .cmd("RPUSH")
                    .arg(k("l"))
                    .arg(format!("tx{n}"))
                    .ignore()
                    .cmd("SPOP")
                    .arg(k("set"))
                    .ignore()
                    .query(&mut c)
                    .unwrap();
            }
            16 => drop(q(&mut c, &["DEL", &k("s"), &k("app")])),
            17 => {
                q(&mut c, &["EXPIRE", &k("l"), &(5000 + rng.below(100)).to_string()]);
                q(&mut c, &["PERSIST", &k("h")]);
            }
            18 => {
                // Keys every writer touches, in whatever database it is in.
                q(&mut c, &["INCR", "shared:counter"]);
                q(&mut c, &["RPUSH", "shared:list", &format!("{p}-{n}")]);
                q(&mut c, &["LTRIM", "shared:list", "-100", "-1"]);
            }
            19 => {
                q(&mut c, &["ZINCRBY", "shared:z", "1", &format!("m{}", rng.below(10))]);
                q(&mut c, &["SADD", "shared:s", &format!("{p}-{}", rng.below(10))]);
                q(&mut c, &["SPOP", "shared:s"]);
                q(&mut c, &["HINCRBY", "shared:h", &p, "1"]);
            }
            20 => {
                db = rng.below(4);
                q(&mut c, &["SELECT", &db.to_string()]);
            }
            21 => drop(q(&mut c, &["SET", &k("short"), "x", "PX", &(20 + rng.below(100)).to_string()])),
            22 => {
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("SELECT")
                    .arg((db + 1) % 4)
                    .ignore()
                    .cmd("HSET")
                    .arg(k("txh"))
                    .arg("n")
                    .arg(n)
                    .ignore()
                    .cmd("SELECT")
                    .arg(db)
                    .ignore()
                    .cmd("ZADD")
                    .arg(k("txz"))
                    .arg(n)
                    .arg("m")
                    .ignore()
                    .query(&mut c)
                    .unwrap();
            }
            _ => drop(q(&mut c, &["GETDEL", &k("cnt")])),
        }
    }
    n
}

/// The INFO replication fields of a replica whose link is up, checked value by value
/// against the master's.
fn check_replica_info(r: &dyn Node, m: &dyn Node, off: u64) {
    let i = r.info();
    let mi = m.info();
    let want: Vec<(&str, String)> = vec![
        ("role", "slave".into()),
        ("master_host", "127.0.0.1".into()),
        ("master_port", m.port().to_string()),
        ("master_link_status", "up".into()),
        ("master_sync_in_progress", "0".into()),
        ("slave_read_repl_offset", off.to_string()),
        ("slave_repl_offset", off.to_string()),
        ("slave_priority", "100".into()),
        ("slave_read_only", "1".into()),
        ("replica_announced", "1".into()),
        ("master_failover_state", "no-failover".into()),
        ("master_replid", mi["master_replid"].clone()),
        ("master_repl_offset", off.to_string()),
        ("repl_backlog_active", "1".into()),
    ];
    for (k, v) in want {
        assert_eq!(i.get(k), Some(&v), "{}: INFO replication {k}: {i:?}", r.name());
    }
    let io: i64 = i["master_last_io_seconds_ago"].parse().unwrap();
    assert!((0..=11).contains(&io), "{}: master_last_io_seconds_ago {io}", r.name());
    let first: u64 = i["repl_backlog_first_byte_offset"].parse().unwrap();
    let hist: u64 = i["repl_backlog_histlen"].parse().unwrap();
    assert!(first >= 1 && first + hist == off + 1, "{}: backlog from {first}, {hist} bytes, offset {off}", r.name());
    assert_eq!(replica_role(r), ("127.0.0.1".to_string(), m.port() as i64, "connected".to_string(), off as i64), "{}: ROLE", r.name());
}

/// A ferrokv replica of a real master, beside a real replica as the reference: the
/// dataset written before the attach (snapshot), during and after (stream), INFO
/// replication field by field, ROLE, the master's view of the replica.
fn replica_of_real_master(master_args: &[&str], payload_log: &str) {
    let m = Real::master(master_args);
    let mut mc = m.client();
    populate(&mut mc);
    q(&mut mc, &["SETBIT", "bits", "1000", "1"]);
    q(&mut mc, &["GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]);
    with_writers(m.port, 100, 2, 400, || ());
    let reference = Real::start(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let r = with_writers(m.port, 0, 2, 600, || {
        std::thread::sleep(Duration::from_millis(50));
        let r = Ferro::replica_of(&m, &[]);
        let up = eventually(Duration::from_secs(15), || r.info()["master_link_status"] == "up");
        assert!(up, "{}", logs(&[&m, &r]));
        std::thread::sleep(Duration::from_millis(400));
        r
    });
    q(&mut mc, &["SELECT", "9"]);
    assert!(int(&q(&mut mc, &["DBSIZE"])) > 0);
    q(&mut mc, &["FLUSHDB"]);
    q(&mut mc, &["SET", "after-flush", "1"]);
    q(&mut mc, &["SELECT", "0"]);
    let n = assert_same_data(&m, &[&r, &reference]);
    assert!(n > 150, "only {n} keys compared");

    let log = r.log();
    assert_eq!(log.matches("Full resync from master").count(), 1, "{log}");
    assert!(log.contains(payload_log), "{log}");
    assert!(!log.contains("Connection with master lost"), "{log}");
    let ml = m.log();
    assert!(ml.contains(&format!("Replica 127.0.0.1:{} asks for synchronization", r.port())), "{ml}");
    assert!(ml.contains(&format!("Synchronization with replica 127.0.0.1:{} succeeded", r.port())), "{ml}");

    let off = wait_synced(&m, &[&r, &reference], Duration::from_secs(10));
    check_replica_info(&r, &m, off);
    check_replica_info(&reference, &m, off);
    assert_eq!(info_names(&r), info_names(&reference), "INFO replication fields, ferrokv vs redis-server replica");
    assert_eq!(r.info()["connected_slaves"], "0");

    // The master sees it online, at its listening port, acknowledging the offset.
    let mut mi = BTreeMap::new();
    let acked = eventually(Duration::from_secs(5), || {
        mi = m.info();
        (0..2).any(|n| {
            mi.get(&format!("slave{n}"))
                .is_some_and(|l| l.starts_with(&format!("ip=127.0.0.1,port={},state=online,offset={off},", r.port())))
        })
    });
    assert!(acked, "master INFO: {mi:?}");
    // PFCOUNT agrees (last: it may rewrite the cached cardinality).
    for db in [0, 1, 2] {
        let mut rc = r.client();
        q(&mut rc, &["SELECT", &db.to_string()]);
        q(&mut mc, &["SELECT", &db.to_string()]);
        let key = format!("pre{db}:hll2");
        assert_eq!(q(&mut rc, &["PFCOUNT", &key]), q(&mut mc, &["PFCOUNT", &key]), "db{db} {key}");
    }
}

/// Diskless: the master streams the RDB with an `$EOF:<mark>` header.
#[test]
fn replica_of_real_master_diskless() {
    replica_of_real_master(&["--repl-diskless-sync", "yes"], "receiving streamed RDB from master with EOF");
}

/// Disk-backed: `$<len>` then the RDB.
#[test]
fn replica_of_real_master_disk() {
    replica_of_real_master(&["--repl-diskless-sync", "no"], "bytes from master to disk");
}

/// real master -> ferrokv A -> ferrokv B: the same offsets and data on all three;
/// a cut A -> B link is resumed partially from A's backlog.
#[test]
fn chain_real_ferro_ferro() {
    let m = Real::master(&[]);
    let mut mc = m.client();
    populate(&mut mc);
    // A's backlog must hold what the writer sends while B reconnects (a second).
    let a = Ferro::replica_of(&m, &["--repl-backlog-size", "64mb"]);
    let b = Ferro::replica_of(&a, &[]);
    with_writers(m.port, 0, 2, 500, || {
        let ok = eventually(Duration::from_secs(15), || b.info()["master_link_status"] == "up");
        assert!(ok, "{}", logs(&[&m, &a, &b]));
        std::thread::sleep(Duration::from_millis(300));
    });
    let off = wait_synced(&m, &[&a, &b], Duration::from_secs(15));
    let replid = m.info()["master_replid"].clone();
    for n in [&a as &dyn Node, &b] {
        assert_eq!(n.info()["master_replid"], replid, "{}", n.name());
    }
    check_replica_info(&b, &a, off);
    let ai = a.info();
    assert_eq!(ai["connected_slaves"], "1", "{ai:?}");
    assert!(ai["slave0"].starts_with(&format!("ip=127.0.0.1,port={},state=online,", b.port())), "{ai:?}");
    assert_same_data(&m, &[&a, &b]);

    // A's link to B cut: B resumes from A's backlog.
    assert_eq!(int(&q(&mut a.client(), &["CLIENT", "KILL", "TYPE", "replica"])), 1);
    with_writers(m.port, 10, 1, 200, || {
        let ok = eventually(Duration::from_secs(10), || b.log().contains("Successful partial resynchronization with master"));
        assert!(ok, "{}", logs(&[&a, &b]));
    });
    assert_same_data(&m, &[&a, &b]);
    assert_eq!(b.log().matches("Full resync from master").count(), 1, "{}", b.log());
    assert!(a.log().contains("Partial resynchronization request from"), "{}", a.log());
}

/// ferrokv master -> ferrokv A -> real redis-server R; a cut M -> A link is resumed
/// partially and R, below A, stays attached without a resync.
#[test]
fn chain_ferro_ferro_real() {
    let m = Ferro::start(&["--repl-backlog-size", "64mb"]);
    let mut mc = m.client();
    populate(&mut mc);
    let a = Ferro::replica_of(&m, &[]);
    let ok = eventually(Duration::from_secs(10), || a.info()["master_link_status"] == "up");
    assert!(ok, "{}", logs(&[&m, &a]));
    let r = Real::start(&["--replicaof", "127.0.0.1", &a.port().to_string()]);
    with_writers(m.port(), 0, 2, 500, || {
        let ok = eventually(Duration::from_secs(15), || r.info()["master_link_status"] == "up");
        assert!(ok, "{}", logs(&[&m, &a, &r]));
        std::thread::sleep(Duration::from_millis(300));
    });
    let off = wait_synced(&m, &[&a, &r], Duration::from_secs(15));
    check_replica_info(&r, &a, off);
    let replid = m.info()["master_replid"].clone();
    assert_eq!(r.info()["master_replid"], replid);
    assert!(r.log().contains(&format!("Full resync from master: {replid}:")), "{}", r.log());
    assert_same_data(&m, &[&a, &r]);

    assert_eq!(int(&q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"])), 1);
    with_writers(m.port(), 10, 1, 200, || {
        let ok = eventually(Duration::from_secs(10), || a.log().contains("Successful partial resynchronization with master"));
        assert!(ok, "{}", logs(&[&m, &a]));
    });
    assert_same_data(&m, &[&a, &r]);
    let rl = r.log();
    assert_eq!(rl.matches("Full resync from master").count(), 1, "{rl}");
    assert!(!rl.contains("Connection with master lost"), "R's link to A was dropped: {rl}");
}

/// READONLY, replica-read-only no, MASTERDOWN, the INFO/ROLE of a replica whose
/// master is gone (compared with a real replica of the same master), NOREPLICAS.
#[test]
fn readonly_masterdown_noreplicas() {
    let m = Ferro::start(&[]);
    let mut mc = m.client();
    q(&mut mc, &["SET", "k", "v"]);
    q(&mut mc, &["RPUSH", "l", "a"]);
    let r = Ferro::replica_of(&m, &[]);
    let reference = Real::start(&["--replicaof", "127.0.0.1", &m.port().to_string()]);
    wait_synced(&m, &[&r, &reference], Duration::from_secs(15));
    let mut rc = r.client();
    const RO: &str = "READONLY You can't write against a read only replica.";
    assert_eq!(err(&mut rc, &["SET", "k", "x"]), RO);
    assert_eq!(err(&mut rc, &["DEL", "k"]), RO);
    assert_eq!(err(&mut rc, &["LPUSH", "l", "b"]), RO);
    assert_eq!(err(&mut rc, &["SET", "k", "x"]), err(&mut reference.client(), &["SET", "k", "x"]));
    // In a transaction the write is refused when queued, and EXEC aborts.
    q(&mut rc, &["MULTI"]);
    assert_eq!(err(&mut rc, &["INCR", "n"]), RO);
    assert_eq!(err(&mut rc, &["EXEC"]), "EXECABORT Transaction discarded because of previous errors.");
    assert_eq!(q(&mut rc, &["GET", "k"]), Value::BulkString(b"v".to_vec()));
    assert_eq!(q(&mut rc, &["LRANGE", "l", "0", "-1"]), Value::Array(vec![Value::BulkString(b"a".to_vec())]));
    assert_eq!(int(&q(&mut rc, &["DBSIZE"])), 2);

    // replica-read-only no: local writes allowed.
    q(&mut rc, &["CONFIG", "SET", "replica-read-only", "no"]);
    assert_eq!(r.info()["slave_read_only"], "0");
    assert_eq!(q(&mut rc, &["SET", "local", "1"]), Value::Okay);
    assert_eq!(q(&mut rc, &["GET", "local"]), Value::BulkString(b"1".to_vec()));
    assert_eq!(int(&q(&mut mc, &["EXISTS", "local"])), 0);
    q(&mut rc, &["CONFIG", "SET", "replica-read-only", "yes"]);
    assert_eq!(err(&mut rc, &["SET", "local", "2"]), RO);

    // replica-serve-stale-data no: fine while the link is up, MASTERDOWN once it is down.
    q(&mut rc, &["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    assert_eq!(q(&mut rc, &["GET", "k"]), Value::BulkString(b"v".to_vec()));
    let mport = m.port();
    drop(m);
    let down =
        eventually(Duration::from_secs(5), || r.info()["master_link_status"] == "down" && reference.info()["master_link_status"] == "down");
    assert!(down);
    const MD: &str = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    assert_eq!(err(&mut rc, &["GET", "k"]), MD);
    // Redis checks read-only before the link: a write gets READONLY.
    assert_eq!(err(&mut rc, &["SET", "k", "x"]), RO);
    assert_eq!(err(&mut rc, &["DBSIZE"]), MD);
    let mut refc = reference.client();
    q(&mut refc, &["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    assert_eq!(err(&mut refc, &["GET", "k"]), MD, "redis-server");
    assert_eq!(err(&mut refc, &["SET", "k", "x"]), RO, "redis-server");
    // Commands flagged stale still run.
    assert_eq!(r.info()["role"], "slave");
    q(&mut rc, &["CONFIG", "GET", "maxmemory"]);
    // A replica of ours while our link is down: MASTERDOWN first (PSYNC is not a stale
    // command), NOMASTERLINK with replica-serve-stale-data yes.
    for n in [&r as &dyn Node, &reference] {
        let mut sub = common::Raw::connect(n.port());
        assert_eq!(sub.cmd("PSYNC ? -1"), format!("-{MD}\r\n"), "{}", n.name());
        assert_eq!(sub.cmd("CONFIG SET replica-serve-stale-data yes"), "+OK\r\n");
        assert_eq!(sub.cmd("PSYNC ? -1"), "-NOMASTERLINK Can't SYNC while not connected with my master\r\n", "{}", n.name());
    }

    // The link-down view, field by field against redis-server's.
    let (ri, refi) = (r.info(), reference.info());
    assert_eq!(info_names(&r), info_names(&reference), "INFO replication fields while the link is down");
    assert_eq!(ri["master_last_io_seconds_ago"], "-1", "{ri:?}");
    assert_eq!(refi["master_last_io_seconds_ago"], "-1", "{refi:?}");
    assert_eq!(ri["master_sync_in_progress"], "0");
    for (name, i) in [("ferrokv", &ri), ("redis-server", &refi)] {
        let down: i64 = i["master_link_down_since_seconds"].parse().unwrap();
        assert!((0..=10).contains(&down), "{name}: master_link_down_since_seconds {down}");
    }
    let (host, port, state, off) = replica_role(&r);
    let (_, _, ref_state, ref_off) = replica_role(&reference);
    assert_eq!((host.as_str(), port), ("127.0.0.1", mport as i64));
    assert!(["connect", "connecting"].contains(&state.as_str()), "ROLE state {state}");
    assert!(["connect", "connecting"].contains(&ref_state.as_str()), "redis-server ROLE state {ref_state}");
    assert_eq!((off, ref_off), (-1, -1), "ROLE offset while the link is down (ferrokv, redis-server)");

    // min-replicas-to-write on a master.
    let m2 = Ferro::start(&["--min-replicas-to-write", "1"]);
    let mut c2 = m2.client();
    assert_eq!(err(&mut c2, &["SET", "a", "1"]), "NOREPLICAS Not enough good replicas to write.");
    assert_eq!(q(&mut c2, &["GET", "a"]), Value::Nil);
    let r2 = Ferro::replica_of(&m2, &[]);
    let ok = eventually(Duration::from_secs(10), || redis::cmd("SET").arg("a").arg("1").query::<()>(&mut c2).is_ok());
    assert!(ok, "writes still refused with a replica attached: {:?}", m2.info());
    assert_eq!(m2.info()["min_slaves_good_slaves"], "1", "{:?}", m2.info());
    wait_synced(&m2, &[&r2], Duration::from_secs(10));
    assert_eq!(q(&mut r2.client(), &["GET", "a"]), Value::BulkString(b"1".to_vec()));
    drop(r2);
    let refused = eventually(Duration::from_secs(5), || redis::cmd("SET").arg("a").arg("2").query::<()>(&mut c2).is_err());
    assert!(refused, "writes still accepted once the replica is gone");
}

fn partial_count(n: &dyn Node) -> usize {
    n.log().matches("Successful partial resynchronization with master").count()
}

/// A master does not repeat its SELECT after a partial resync: the replica must go on
/// in the database the stream had selected before the link was lost.
fn partial_resync_keeps_the_selected_db(m: &dyn Node) {
    let r = Ferro::replica_of(m, &[]);
    // Synced first, so that the SELECT is in the stream and not in the snapshot.
    wait_synced(m, &[&r], Duration::from_secs(15));
    let mut mc = m.client();
    q(&mut mc, &["SELECT", "3"]);
    q(&mut mc, &["SET", "before", "1"]);
    wait_synced(m, &[&r], Duration::from_secs(15));
    assert_eq!(int(&q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"])), 1);
    assert!(eventually(Duration::from_secs(10), || partial_count(&r) == 1), "no partial resync\n{}", logs(&[m, &r]));
    q(&mut mc, &["SET", "after", "2"]);
    wait_synced(m, &[&r], Duration::from_secs(15));
    let mut rc = r.client();
    q(&mut rc, &["SELECT", "3"]);
    assert_eq!(q(&mut rc, &["GET", "after"]), Value::BulkString(b"2".to_vec()), "the write after the resync is in db 3");
    q(&mut rc, &["SELECT", "0"]);
    assert_eq!(int(&q(&mut rc, &["DBSIZE"])), 0, "nothing landed in db 0");
}

#[test]
fn partial_resync_keeps_the_selected_db_real_master() {
    partial_resync_keeps_the_selected_db(&Real::master(&[]));
}

#[test]
fn partial_resync_keeps_the_selected_db_ferro_master() {
    partial_resync_keeps_the_selected_db(&Ferro::start(&[]));
}

/// Link loss: the master drops the replica's connection (CLIENT KILL TYPE replica)
/// while writes go on: partial resync. The master restarts with a new history: full.
#[test]
fn link_loss_partial_then_master_restart_full() {
    // A backlog big enough for what the writers send during the reconnection second.
    let m = Real::master(&["--repl-backlog-size", "64mb"]);
    let mut mc = m.client();
    populate(&mut mc);
    let r = Ferro::replica_of(&m, &[]);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    with_writers(m.port, 0, 2, 300, || {
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(int(&q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"])), 1);
        let back = eventually(Duration::from_secs(10), || partial_count(&r) == 1);
        assert!(back, "no partial resync\n{}", logs(&[&m, &r]));
        std::thread::sleep(Duration::from_millis(200));
    });
    assert_same_data(&m, &[&r]);
    let ml = m.log();
    assert!(ml.contains(&format!("Partial resynchronization request from 127.0.0.1:{} accepted", r.port())), "{ml}");
    assert!(r.log().contains("Connection with master lost"), "{}", r.log());
    assert_eq!(r.log().matches("Full resync from master").count(), 1, "{}", r.log());

    // Master gone for a while, writes nowhere, then back (empty, new replid).
    let old_id = m.info()["master_replid"].clone();
    let port = m.port;
    drop(mc);
    drop(m);
    assert!(eventually(Duration::from_secs(5), || r.info()["master_link_status"] == "down"));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(q(&mut r.client(), &["GET", "pre0:str"]), Value::BulkString(b"hello".to_vec()), "stale data is served");
    let m = Real::start_on(port, &["--repl-diskless-sync-delay", "0"]);
    let mut mc = m.client();
    q(&mut mc, &["SET", "new-master", "1"]);
    let full = eventually(Duration::from_secs(15), || r.log().matches("Full resync from master").count() == 2);
    assert!(full, "{}", logs(&[&m, &r]));
    // (redis-server takes a new replid when its first replica makes it create a backlog.)
    let new_id = m.info()["master_replid"].clone();
    assert_ne!(new_id, old_id);
    assert!(r.log().contains(&format!("Full resync from master: {new_id}:")), "{}", r.log());
    let ml = m.log();
    assert!(ml.contains(&format!("Replication ID mismatch (Replica asked for '{old_id}'")), "the replica offered its history: {ml}");
    let n = assert_same_data(&m, &[&r]);
    assert_eq!(n, 1, "the old dataset was flushed");
    assert_eq!(r.info()["master_replid"], new_id);
    assert_eq!(partial_count(&r), 1);
}

/// Promotion (PSYNC2): M with replicas A, B (ferrokv) and R (redis-server); M stops,
/// A is promoted, B and R follow A with a partial resync, A's writes reach them.
#[test]
fn promotion_psync2() {
    let m = Ferro::start(&[]);
    let mut mc = m.client();
    populate(&mut mc);
    let a = Ferro::replica_of(&m, &[]);
    let b = Ferro::replica_of(&m, &[]);
    let r = Real::start(&["--replicaof", "127.0.0.1", &m.port().to_string()]);
    with_writers(m.port(), 0, 2, 400, || {
        let ok = eventually(Duration::from_secs(15), || [&a as &dyn Node, &b, &r].iter().all(|n| n.info()["master_link_status"] == "up"));
        assert!(ok, "{}", logs(&[&m, &a, &b, &r]));
    });
    assert_same_data(&m, &[&a, &b, &r]);
    let off = wait_synced(&m, &[&a, &b, &r], Duration::from_secs(10));
    let old_id = m.info()["master_replid"].clone();
    drop(mc);
    drop(m);
    assert!(eventually(Duration::from_secs(5), || a.info()["master_link_status"] == "down"));

    let mut ac = a.client();
    assert_eq!(q(&mut ac, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
    let ai = a.info();
    assert_eq!(ai["role"], "master", "{ai:?}");
    assert_ne!(ai["master_replid"], old_id);
    assert_eq!(ai["master_replid"].len(), 40);
    assert_eq!(ai["master_replid2"], old_id, "{ai:?}");
    assert_eq!(ai["second_repl_offset"], (off + 1).to_string(), "{ai:?}");
    assert_eq!(ai["master_repl_offset"], off.to_string(), "{ai:?}");
    assert!(!ai.contains_key("master_host"), "{ai:?}");
    assert!(a.log().contains("MASTER MODE enabled"), "{}", a.log());
    let v = q(&mut ac, &["ROLE"]);
    let Value::Array(items) = &v else { panic!("{v:?}") };
    assert_eq!(items[0], Value::BulkString(b"master".to_vec()), "{v:?}");
    assert_eq!(q(&mut ac, &["SET", "promoted", "1"]), Value::Okay, "the promoted replica takes writes");
    let new_id = ai["master_replid"].clone();

    for n in [&b as &dyn Node, &r] {
        assert_eq!(q(&mut n.client(), &["REPLICAOF", "127.0.0.1", &a.port().to_string()]), Value::Okay);
    }
    let ok = eventually(Duration::from_secs(10), || partial_count(&b) == 1 && partial_count(&r) == 1);
    assert!(ok, "no partial resync to the promoted replica\n{}", logs(&[&a, &b, &r]));
    for n in [&b as &dyn Node, &r] {
        let log = n.log();
        assert_eq!(log.matches("Full resync from master").count(), 1, "{}: {log}", n.name());
    }
    assert_eq!(a.log().matches("Partial resynchronization request from").count(), 2, "{}", a.log());
    with_writers(a.port(), 20, 2, 300, || ());
    assert_same_data(&a, &[&b, &r]);
    let off2 = wait_synced(&a, &[&b, &r], Duration::from_secs(10));
    assert!(off2 > off);
    for n in [&b as &dyn Node, &r] {
        let i = n.info();
        assert_eq!(i["master_replid"], new_id, "{}: {i:?}", n.name());
        assert_eq!(i["master_replid2"], old_id, "{}: {i:?}", n.name());
        assert_eq!(i["second_repl_offset"], (off + 1).to_string(), "{}: {i:?}", n.name());
    }
    assert_eq!(q(&mut b.client(), &["GET", "promoted"]), Value::BulkString(b"1".to_vec()));

    // A full resync with an unrelated master starts a new history: replid2 cleared.
    let other = Real::master(&[]);
    q(&mut other.client(), &["SET", "other", "1"]);
    for n in [&b as &dyn Node, &r] {
        q(&mut n.client(), &["REPLICAOF", "127.0.0.1", &other.port().to_string()]);
    }
    let off3 = wait_synced(&other, &[&b, &r], Duration::from_secs(15));
    for n in [&b as &dyn Node, &r] {
        let i = n.info();
        assert_eq!(i["master_replid2"], "0".repeat(40), "{}: {i:?}", n.name());
        assert_eq!(i["second_repl_offset"], "-1", "{}: {i:?}", n.name());
        assert_eq!(i["master_repl_offset"], off3.to_string());
    }
    assert_eq!(assert_same_data(&other, &[&b, &r]), 1);
}

/// `replicaof` and `masterauth` in a config file (real master with requirepass), on
/// the command line (ferrokv master), masteruser with an ACL user, a wrong password.
#[test]
fn replicaof_in_config_and_masterauth() {
    let m = Real::master(&["--requirepass", "s3cret"]);
    let mut mc = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", m.port)).unwrap().get_connection().unwrap();
    q(&mut mc, &["SET", "k", "from-real"]);
    let port = common::free_port();
    let dir = temp_dir("ferro-conf", port);
    let conf = dir.join("replica.conf");
    std::fs::write(
        &conf,
        format!("port {port}\nbind 127.0.0.1\nsave \"\"\nlogfile node.log\nreplicaof 127.0.0.1 {}\nmasterauth s3cret\n", m.port),
    )
    .unwrap();
    let f = Ferro(Server::spawn(port, dir, vec![conf.to_string_lossy().into_owned()]));
    let ok = eventually(Duration::from_secs(10), || f.info()["master_link_status"] == "up");
    assert!(ok, "{}", logs(&[&m, &f]));
    assert_eq!(q(&mut f.client(), &["GET", "k"]), Value::BulkString(b"from-real".to_vec()));
    let cfg = q(&mut f.client(), &["CONFIG", "GET", "replicaof"]);
    assert_eq!(
        cfg,
        Value::Array(vec![Value::BulkString(b"replicaof".to_vec()), Value::BulkString(format!("127.0.0.1 {}", m.port).into_bytes())])
    );
    q(&mut mc, &["SET", "k2", "later"]);
    let off = info(&mut mc, "replication")["master_repl_offset"].parse::<u64>().unwrap();
    let ok = eventually(Duration::from_secs(5), || f.info()["slave_repl_offset"] == off.to_string());
    assert!(ok);
    assert_eq!(q(&mut f.client(), &["GET", "k2"]), Value::BulkString(b"later".to_vec()));

    // Command line, a ferrokv master with requirepass.
    let fm = Ferro::start(&["--requirepass", "pw"]);
    let mut fmc = redis::Client::open(format!("redis://:pw@127.0.0.1:{}/", fm.port())).unwrap().get_connection().unwrap();
    q(&mut fmc, &["SET", "x", "1"]);
    let mp = fm.port().to_string();
    let good = Ferro::start(&["--replicaof", "127.0.0.1", &mp, "--masterauth", "pw"]);
    let bad = Ferro::start(&["--replicaof", "127.0.0.1", &mp, "--masterauth", "wrong"]);
    let none = Ferro::start(&["--replicaof", "127.0.0.1", &mp]);
    let ok = eventually(Duration::from_secs(10), || good.info()["master_link_status"] == "up");
    assert!(ok, "{}", logs(&[&fm, &good]));
    assert_eq!(q(&mut good.client(), &["GET", "x"]), Value::BulkString(b"1".to_vec()));
    std::thread::sleep(Duration::from_millis(1500));
    for n in [&bad, &none] {
        let i = n.info();
        assert_eq!(i["master_link_status"], "down", "{}: {i:?}", n.name());
        assert_eq!(q(&mut n.client(), &["GET", "x"]), Value::Nil);
    }
    assert!(bad.log().contains("Unable to AUTH to MASTER"), "{}", bad.log());
    let fi = info(&mut fmc, "replication");
    assert_eq!(fi["connected_slaves"], "1", "only the replica that authenticated: {fi:?}");

    // masteruser: an ACL user of the real master allowed just what a replica needs.
    q(&mut mc, &["ACL", "SETUSER", "repl", "on", ">rpw", "+psync", "+replconf", "+ping"]);
    let mu = Ferro::start(&[]);
    let mut muc = mu.client();
    q(&mut muc, &["CONFIG", "SET", "masteruser", "repl"]);
    q(&mut muc, &["CONFIG", "SET", "masterauth", "rpw"]);
    q(&mut muc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    let ok = eventually(Duration::from_secs(10), || mu.info()["master_link_status"] == "up");
    assert!(ok, "{}", logs(&[&m, &mu]));
    assert_eq!(q(&mut muc, &["GET", "k2"]), Value::BulkString(b"later".to_vec()));
    let listed: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("replica").query(&mut mc).unwrap();
    assert!(listed.lines().any(|l| l.contains(&format!("port={}", mu.port())) || l.contains(" user=repl ")), "{listed}");
    assert!(listed.lines().any(|l| l.contains(" user=repl ")), "{listed}");
}

/// A replica never expires keys itself (Redis 7): past their TTL they are hidden from
/// its clients, SCAN included, but stay until the master's DEL arrives; the master's
/// lazy expiry then removes them on every replica. Checked on a ferrokv replica and a
/// redis-server one of the same ferrokv master, whose active expiry is off.
#[test]
fn a_replica_hides_expired_keys_until_its_master_deletes_them() {
    let m = Ferro::start(&["--enable-debug-command", "yes"]);
    let mut mc = m.client();
    q(&mut mc, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let r = Ferro::replica_of(&m, &[]);
    let real = Real::start(&["--replicaof", "127.0.0.1", &m.port().to_string()]);
    q(&mut mc, &["SET", "a", "1", "PX", "300"]);
    q(&mut mc, &["SET", "b", "1", "PX", "300"]);
    q(&mut mc, &["SET", "keep", "1"]);
    wait_synced(&m, &[&r, &real], Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    for n in [&r as &dyn Node, &real] {
        let mut c = n.client();
        assert_eq!(q(&mut c, &["GET", "a"]), Value::Nil, "{}", n.name());
        assert_eq!(q(&mut c, &["EXISTS", "b"]), Value::Int(0), "{}", n.name());
        let scan: (String, Vec<String>) = redis::cmd("SCAN").arg(0).arg("COUNT").arg(100).query(&mut c).unwrap();
        assert_eq!(scan.1, vec!["keep".to_string()], "{}: SCAN", n.name());
        assert_eq!(q(&mut c, &["DBSIZE"]), Value::Int(3), "{}: expired keys are kept", n.name());
        assert_eq!(info(&mut c, "stats")["expired_keys"], "0", "{}", n.name());
    }
    // The master's lazy expiry deletes `a` and sends the DEL.
    assert_eq!(q(&mut mc, &["GET", "a"]), Value::Nil);
    for n in [&r as &dyn Node, &real] {
        let mut c = n.client();
        let gone = eventually(Duration::from_secs(10), || q(&mut c, &["DBSIZE"]) == Value::Int(2));
        assert!(gone, "{}: the master's DEL removes the key\n{}", n.name(), logs(&[&m, n]));
    }
}

/// A full resync whose snapshot takes longer than the replica's `repl-timeout`: the
/// master sends +FULLRESYNC at the snapshot point and a newline a second until the RDB
/// is ready (as Redis does), so a redis-server replica with `repl-timeout 2` syncs once
/// instead of timing out and asking again. Meanwhile the replica is `wait_bgsave` with
/// offset 0 and WAIT does not count it; a second replica (ferrokv) waits its turn and
/// shows the master_sync_* fields while its transfer is pending.
#[test]
fn a_slow_full_resync_keeps_the_replica_link_alive() {
    let m = Ferro::start(&["--rdb-key-save-delay", "1000", "--enable-debug-command", "yes"]);
    let mut mc = m.client();
    q(&mut mc, &["DEBUG", "POPULATE", "3000"]);
    let real = Real::start(&["--repl-timeout", "2", "--replicaof", "127.0.0.1", &m.port().to_string()]);
    let waiting = eventually(Duration::from_secs(5), || m.info().get("slave0").is_some_and(|l| l.contains("state=wait_bgsave")));
    assert!(waiting, "the replica waits for the snapshot: {:?}", m.info());
    assert!(m.info()["slave0"].contains("offset=0,"), "no ACK yet: {:?}", m.info());
    q(&mut mc, &["SET", "during", "1"]);
    assert_eq!(q(&mut mc, &["WAIT", "1", "300"]), Value::Int(0), "a replica still syncing has acknowledged nothing");
    let r = Ferro::replica_of(&m, &["--repl-timeout", "2"]);
    let mut rc = r.client();
    let r_syncing = eventually(Duration::from_secs(15), || info(&mut rc, "replication")["master_sync_in_progress"] == "1");
    assert!(r_syncing, "{}", logs(&[&m, &r]));
    let ri = info(&mut rc, "replication");
    for k in [
        "master_sync_total_bytes",
        "master_sync_read_bytes",
        "master_sync_left_bytes",
        "master_sync_perc",
        "master_sync_last_io_seconds_ago",
    ] {
        assert!(ri.contains_key(k), "{k} while syncing: {ri:?}");
    }
    let off = wait_synced(&m, &[&real, &r], Duration::from_secs(30));
    assert!(off > 0);
    assert_eq!(q(&mut real.client(), &["DBSIZE"]), Value::Int(3001));
    assert_eq!(q(&mut rc, &["DBSIZE"]), Value::Int(3001));
    assert_eq!(info(&mut mc, "stats")["sync_full"], "2", "one full sync each, no resync loop\n{}", logs(&[&m, &real]));
    assert!(!real.log().contains("Timeout"), "{}", logs(&[&real]));
    let ml = m.log();
    for p in [real.port(), r.port()] {
        assert!(ml.contains(&format!("Synchronization with replica 127.0.0.1:{p} succeeded")), "{ml}");
    }
    let rl = r.log();
    assert!(rl.contains("Partial resynchronization not possible (no cached master)"), "{rl}");
    assert!(rl.lines().any(|l| l.split_whitespace().next().is_some_and(|w| w.ends_with(":S"))), "role letter S: {rl}");
}

/// REPLICAOF on a master ends its blocked pops with Redis's UNBLOCKED error.
#[test]
fn blocked_clients_are_unblocked_when_the_master_becomes_a_replica() {
    let f = Ferro::start(&[]);
    let real = Real::start(&[]);
    let nowhere = common::free_port().to_string();
    for n in [&f as &dyn Node, &real] {
        let port = n.port();
        // BLPOP on a missing key, and WAIT for a replica that is not there: both block
        // forever, get UNBLOCKED, and find their connection closed after it.
        let blocked: Vec<_> = [&["BLPOP", "list", "0"][..], &["WAIT", "1", "0"]]
            .into_iter()
            .map(|args| {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                std::thread::spawn(move || {
                    let mut c = connect(port);
                    let e = redis::cmd(&args[0])
                        .arg(&args[1..])
                        .query::<Value>(&mut c)
                        .map_err(|e| format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")));
                    (args[0].clone(), e, redis::cmd("PING").query::<String>(&mut c).is_err())
                })
            })
            .collect();
        let mut c = n.client();
        let ok = eventually(Duration::from_secs(5), || info(&mut c, "clients")["blocked_clients"] == "2");
        assert!(ok, "{}", n.name());
        q(&mut c, &["REPLICAOF", "127.0.0.1", &nowhere]);
        for t in blocked {
            let (cmd, res, closed) = t.join().unwrap();
            assert_eq!(
                res.unwrap_err(),
                "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
                "{} {cmd}",
                n.name()
            );
            assert!(closed, "{} {cmd}: the connection stays open", n.name());
        }
        q(&mut c, &["REPLICAOF", "NO", "ONE"]);
    }
}

/// `min-replicas-max-lag 0` turns the min-replicas check off, and `replica-announced`
/// shows in INFO, as in Redis.
#[test]
fn min_replicas_lag_zero_and_replica_announced() {
    let f = Ferro::start(&[]);
    let real = Real::start(&[]);
    for n in [&f as &dyn Node, &real] {
        let mut c = n.client();
        q(&mut c, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
        q(&mut c, &["CONFIG", "SET", "min-replicas-max-lag", "0"]);
        assert_eq!(q(&mut c, &["SET", "k", "v"]), Value::Okay, "{}", n.name());
        q(&mut c, &["CONFIG", "SET", "min-replicas-max-lag", "10"]);
        assert_eq!(err(&mut c, &["SET", "k", "v"]), "NOREPLICAS Not enough good replicas to write.", "{}", n.name());
        q(&mut c, &["CONFIG", "SET", "min-replicas-to-write", "0"]);
        assert_eq!(n.info()["repl_backlog_first_byte_offset"], "0", "{}: no backlog yet", n.name());
    }
    let m = Real::master(&[]);
    let r = Ferro::replica_of(&m, &[]);
    wait_synced(&m, &[&r], Duration::from_secs(20));
    let mut rc = r.client();
    q(&mut rc, &["CONFIG", "SET", "replica-announced", "no"]);
    assert_eq!(r.info()["replica_announced"], "0");
}

/// Diskless replicas whose SYNC arrives within `repl-diskless-sync-delay` share one
/// snapshot; `repl-diskless-sync-max-replicas` starts it as soon as that many wait
/// (here long before a 60 s delay would). A redis-server and a ferrokv replica each time.
#[test]
fn diskless_replicas_arriving_together_share_one_snapshot() {
    for (delay, max) in [("3", "0"), ("60", "2")] {
        let m = Ferro::start(&["--repl-diskless-sync-delay", delay, "--repl-diskless-sync-max-replicas", max]);
        q(&mut m.client(), &["SET", "k", "v"]);
        let real = Real::start(&["--replicaof", "127.0.0.1", &m.port().to_string()]);
        let r = Ferro::replica_of(&m, &[]);
        wait_synced(&m, &[&real, &r], Duration::from_secs(30));
        assert_eq!(q(&mut r.client(), &["GET", "k"]), Value::BulkString(b"v".to_vec()));
        assert_eq!(q(&mut real.client(), &["GET", "k"]), Value::BulkString(b"v".to_vec()));
        let log = m.log();
        assert_eq!(log.matches("Delay next BGSAVE for diskless SYNC").count(), 1, "delay {delay}: {log}");
        assert_eq!(log.matches("Starting BGSAVE for SYNC with target: replicas sockets").count(), 1, "delay {delay}: {log}");
        assert_eq!(info(&mut m.client(), "stats")["sync_full"], "2");
    }
}

/// FAILOVER with a ferrokv replica as the target, from a redis-server master and from a
/// ferrokv one: the target becomes the master with every write, the old master its
/// replica, and a write on the new master reaches the old one.
#[test]
fn failover_to_a_ferrokv_target() {
    let real = Real::master(&[]);
    let ferro = Ferro::start(&[]);
    for m in [&real as &dyn Node, &ferro] {
        let mut mc = m.client();
        q(&mut mc, &["FLUSHALL"]);
        let t = Ferro::replica_of(m, &[]);
        for i in 0..200 {
            q(&mut mc, &["SET", &format!("fo:{i}"), &i.to_string()]);
        }
        wait_synced(m, &[&t], Duration::from_secs(20));
        assert_eq!(q(&mut mc, &["FAILOVER", "TO", "127.0.0.1", &t.port().to_string(), "TIMEOUT", "10000"]), Value::Okay);
        let mut tc = t.client();
        let switched = eventually(Duration::from_secs(15), || {
            t.info()["role"] == "master" && m.info()["role"] == "slave" && m.info()["master_link_status"] == "up"
        });
        assert!(switched, "{}: {:?} {:?}\n{}", m.name(), t.info(), m.info(), logs(&[m, &t]));
        assert_eq!(m.info()["master_port"], t.port().to_string());
        assert_eq!(m.info()["master_failover_state"], "no-failover");
        assert_eq!(q(&mut tc, &["DBSIZE"]), Value::Int(200), "{}", m.name());
        q(&mut tc, &["SET", "after", "1"]);
        wait_synced(&t, &[m], Duration::from_secs(20));
        assert_eq!(q(&mut mc, &["GET", "after"]), Value::BulkString(b"1".to_vec()), "{}", m.name());
        // Back to a master for the next round.
        q(&mut mc, &["REPLICAOF", "NO", "ONE"]);
    }
}

/// `replica-announce-ip` / `-port` reach the master's INFO, `replica-priority` the
/// replica's, and SLAVEOF works as REPLICAOF; with a redis-server master and a ferrokv
/// one.
#[test]
fn replica_announces_itself_as_configured() {
    let real = Real::master(&[]);
    let ferro = Ferro::start(&[]);
    for m in [&real as &dyn Node, &ferro] {
        let r = Ferro::start(&["--replica-announce-ip", "10.9.9.9", "--replica-announce-port", "5555", "--replica-priority", "7"]);
        assert_eq!(q(&mut r.client(), &["SLAVEOF", "127.0.0.1", &m.port().to_string()]), Value::Okay);
        wait_synced(m, &[&r], Duration::from_secs(20));
        // redis-server puts a diskless replica online at its first ACK after the load.
        let online = eventually(Duration::from_secs(10), || m.info()["slave0"].starts_with("ip=10.9.9.9,port=5555,state=online,"));
        assert!(online, "{}: {}", m.name(), m.info()["slave0"]);
        assert_eq!(r.info()["slave_priority"], "7");
        assert_eq!(q(&mut r.client(), &["SLAVEOF", "NO", "ONE"]), Value::Okay);
        assert_eq!(r.info()["role"], "master");
    }
}

/// A master that goes silent (stopped) for longer than the replica's `repl-timeout`:
/// the replica logs the timeout and marks its link down, then resyncs partially once
/// the master resumes, as a redis-server replica beside it does.
#[test]
fn replica_times_out_a_silent_master_and_resyncs_partially() {
    let m = Real::master(&["--repl-ping-replica-period", "1"]);
    let r = Ferro::replica_of(&m, &["--repl-timeout", "2"]);
    let real = Real::start(&["--repl-timeout", "2", "--replicaof", "127.0.0.1", &m.port().to_string()]);
    q(&mut m.client(), &["SET", "k", "1"]);
    wait_synced(&m, &[&r, &real], Duration::from_secs(20));
    let pid = m.child.id().to_string();
    let signal = |sig: &str| assert!(Command::new("kill").args([&format!("-{sig}"), &pid]).status().unwrap().success());
    signal("STOP");
    let down =
        eventually(Duration::from_secs(10), || r.info()["master_link_status"] == "down" && real.info()["master_link_status"] == "down");
    signal("CONT");
    assert!(down, "{:?}", r.info());
    assert!(r.log().contains("MASTER timeout"), "{}", r.log());
    q(&mut m.client(), &["SET", "k", "2"]);
    wait_synced(&m, &[&r, &real], Duration::from_secs(20));
    assert_eq!(q(&mut r.client(), &["GET", "k"]), Value::BulkString(b"2".to_vec()));
    assert!(partial_count(&r) >= 1, "{}", r.log());
}

/// `min-replicas-to-write 1` with `min-replicas-max-lag 2`: a replica that stops
/// acknowledging makes writes fail with NOREPLICAS after the lag, and they succeed
/// again once it resumes; on a ferrokv master and on a redis-server one.
#[test]
fn writes_stop_while_the_only_replica_lags() {
    let real = Real::master(&[]);
    let ferro = Ferro::start(&[]);
    for m in [&real as &dyn Node, &ferro] {
        let r = Ferro::replica_of(m, &[]);
        wait_synced(m, &[&r], Duration::from_secs(20));
        let mut mc = m.client();
        q(&mut mc, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
        q(&mut mc, &["CONFIG", "SET", "min-replicas-max-lag", "2"]);
        // The replica's last ACK may be older than the lag on a loaded machine: wait
        // for one rather than fail on the first write.
        let accepted = eventually(Duration::from_secs(10), || {
            let mut c = redis::cmd("SET");
            c.arg("k").arg("1");
            c.query::<Value>(&mut mc).is_ok()
        });
        assert!(accepted, "{}: writes refused with a good replica", m.name());
        let pid = r.0.pid().to_string();
        let signal = |sig: &str| assert!(Command::new("kill").args([&format!("-{sig}"), &pid]).status().unwrap().success());
        signal("STOP");
        let mut refusal = String::new();
        let refused = eventually(Duration::from_secs(10), || {
            let mut c = redis::cmd("SET");
            c.arg("k").arg("2");
            match c.query::<Value>(&mut mc) {
                Ok(_) => false,
                Err(e) => {
                    refusal = format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""));
                    true
                }
            }
        });
        signal("CONT");
        assert!(refused, "{}: writes go on without a good replica", m.name());
        assert_eq!(refusal, "NOREPLICAS Not enough good replicas to write.", "{}", m.name());
        let back = eventually(Duration::from_secs(10), || {
            let mut c = redis::cmd("SET");
            c.arg("k").arg("4");
            c.query::<Value>(&mut mc).is_ok()
        });
        assert!(back, "{}: writes resume with the replica", m.name());
        q(&mut mc, &["CONFIG", "SET", "min-replicas-to-write", "0"]);
    }
}

/// Scripts and functions replicate both ways with redis-server: their effects, and a
/// function library loaded on the master (FUNCTION LIST on the replica shows it).
#[test]
fn scripts_and_functions_replicate_with_redis_server() {
    let lib = "#!lua name=audit\nredis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)";
    let fm = Ferro::start(&[]);
    let rr = Real::start(&["--replicaof", "127.0.0.1", &fm.port().to_string()]);
    let rm = Real::master(&[]);
    let fr = Ferro::replica_of(&rm, &[]);
    for (m, r) in [(&fm as &dyn Node, &rr as &dyn Node), (&rm, &fr)] {
        let mut mc = m.client();
        q(&mut mc, &["EVAL", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('LPUSH', KEYS[2], ARGV[1])", "2", "s", "l", "x"]);
        q(&mut mc, &["FUNCTION", "LOAD", lib]);
        assert_eq!(q(&mut mc, &["FCALL", "bump", "1", "n", "5"]), Value::Int(5));
        wait_synced(m, &[r], Duration::from_secs(20));
        let mut rc = r.client();
        assert_eq!(q(&mut rc, &["GET", "s"]), Value::BulkString(b"x".to_vec()), "{} -> {}", m.name(), r.name());
        assert_eq!(q(&mut rc, &["GET", "n"]), Value::BulkString(b"5".to_vec()), "{} -> {}", m.name(), r.name());
        let libs: Vec<Value> = redis::cmd("FUNCTION").arg("LIST").query(&mut rc).unwrap();
        assert_eq!(libs.len(), 1, "{} -> {}: {libs:?}", m.name(), r.name());
    }
    // A replica refuses write scripts and functions as redis-server does: the script's
    // declared flags make it a write command before it runs.
    let outcome = |n: &dyn Node, args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        cmd.arg(&args[1..]);
        match cmd.query::<Value>(&mut n.client()) {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
        }
    };
    let cases: &[&[&str]] = &[
        &["FCALL_RO", "bump", "1", "n", "1"],
        &["FCALL", "bump", "1", "n", "1"],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        &["EVAL", "return redis.call('SET', 'x', 1)", "0"],
    ];
    for args in cases {
        assert_eq!(outcome(&fr, args), outcome(&rr, args), "{args:?}");
    }
}

/// The checks before a script runs (maxmemory, min-replicas) see its declared flags,
/// so the errors are the ones redis-server gives.
#[test]
fn script_flags_decide_the_checks_before_a_script_runs() {
    let real = Real::start(&[]);
    let ferro = Ferro::start(&[]);
    let cases: &[&[&str]] =
        &[&["EVAL", "#!lua\nreturn 1", "0"], &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"], &["EVAL", "return 1", "0"]];
    let mut seen: Vec<Vec<String>> = Vec::new();
    for n in [&real as &dyn Node, &ferro] {
        let mut c = n.client();
        let mut got = Vec::new();
        for (opt, on, off) in [("maxmemory", "1", "0"), ("min-replicas-to-write", "1", "0")] {
            q(&mut c, &["CONFIG", "SET", opt, on]);
            for args in cases {
                let mut cmd = redis::cmd(args[0]);
                cmd.arg(&args[1..]);
                got.push(match cmd.query::<Value>(&mut c) {
                    Ok(v) => format!("{opt}: {v:?}"),
                    Err(e) => format!("{opt}: {} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
                });
            }
            q(&mut c, &["CONFIG", "SET", opt, off]);
        }
        seen.push(got);
    }
    assert_eq!(seen[1], seen[0]);
}

/// `repl-diskless-sync no`: a ferrokv master sends a redis-server replica the RDB
/// framed by its length (the disk-backed format), and the data arrives whole.
#[test]
fn disk_backed_full_sync_to_redis_server() {
    let m = Ferro::start(&["--repl-diskless-sync", "no", "--enable-debug-command", "yes"]);
    q(&mut m.client(), &["DEBUG", "POPULATE", "5000"]);
    let r = Real::start(&["--replicaof", "127.0.0.1", &m.port().to_string()]);
    wait_synced(&m, &[&r], Duration::from_secs(20));
    assert_eq!(q(&mut r.client(), &["DBSIZE"]), Value::Int(5000));
    assert!(m.log().contains("Starting BGSAVE for SYNC with target: disk"), "{}", m.log());
    assert!(r.log().contains("receiving") && !r.log().contains("EOF"), "{}", r.log());
}

/// A replica restarted from its own RDB (SAVE, one more write, then SIGKILL) asks its
/// master to go on from the offset saved with the data: a partial resync that applies
/// the later write exactly once, in the database the stream had selected; on a
/// redis-server master and on a ferrokv one.
#[test]
fn a_restarted_replica_resyncs_partially() {
    let real = Real::master(&[]);
    let ferro = Ferro::start(&[]);
    for m in [&real as &dyn Node, &ferro] {
        let port = m.port().to_string();
        let extra = ["--replicaof", "127.0.0.1", port.as_str()];
        let mut r = Ferro::start(&extra);
        let mut mc = m.client();
        q(&mut mc, &["SELECT", "3"]);
        q(&mut mc, &["SET", "before", "1"]);
        q(&mut mc, &["INCR", "counter"]);
        wait_synced(m, &[&r], Duration::from_secs(15));
        assert_eq!(q(&mut r.client(), &["SAVE"]), Value::Okay);
        q(&mut mc, &["INCR", "counter"]);
        wait_synced(m, &[&r], Duration::from_secs(15));
        r.restart(&extra);
        q(&mut mc, &["INCR", "counter"]);
        q(&mut mc, &["SET", "after", "2"]);
        wait_synced(m, &[&r], Duration::from_secs(15));
        assert_eq!(partial_count(&r), 1, "{}: no partial resync after the restart\n{}", m.name(), logs(&[m, &r]));
        let mut rc = r.client();
        q(&mut rc, &["SELECT", "3"]);
        assert_eq!(q(&mut rc, &["GET", "counter"]), Value::BulkString(b"3".to_vec()), "{}", m.name());
        assert_eq!(q(&mut rc, &["GET", "after"]), Value::BulkString(b"2".to_vec()), "{}", m.name());
        q(&mut rc, &["SELECT", "0"]);
        assert_eq!(int(&q(&mut rc, &["DBSIZE"])), 0, "{}: nothing landed in db 0", m.name());
        assert_same_data(m, &[&r]);
    }
}

/// A ferrokv master restarted (SHUTDOWN SAVE) keeps the history saved in its RDB as
/// replid2: its replicas, ferrokv and redis-server, go on with a partial resync.
#[test]
fn replicas_of_a_restarted_master_resync_partially() {
    let mut m = Ferro::start(&[]);
    let r = Ferro::replica_of(&m, &[]);
    let real = Real::start(&["--replicaof", "127.0.0.1", &m.port().to_string()]);
    let mut mc = m.client();
    q(&mut mc, &["SELECT", "2"]);
    q(&mut mc, &["SET", "a", "1"]);
    wait_synced(&m, &[&r, &real], Duration::from_secs(15));
    let old_id = m.info()["master_replid"].clone();
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<Value>(&mut mc);
    m.restart(&[]);
    let mi = m.info();
    assert_eq!(mi["master_replid2"], old_id, "{mi:?}");
    assert_ne!(mi["master_replid"], old_id);
    let mut mc = m.client();
    q(&mut mc, &["SET", "b", "2"]);
    wait_synced(&m, &[&r, &real], Duration::from_secs(20));
    let stats = info(&mut m.client(), "stats");
    assert_eq!((stats["sync_partial_ok"].as_str(), stats["sync_full"].as_str()), ("2", "0"), "{}", logs(&[&m, &r, &real]));
    assert_eq!(r.info()["master_replid"], mi["master_replid"]);
    assert_eq!(real.info()["master_replid"], mi["master_replid"]);
    assert_same_data(&m, &[&r, &real]);
}

/// The checks before a command run in Redis's order: on a read-only replica whose link
/// is down (`replica-serve-stale-data no`), a RESP2 subscriber's write gets READONLY,
/// and its read the subscribed-context error before MASTERDOWN; on both kinds.
#[test]
fn subscribed_replica_client_checks_run_in_redis_order() {
    let nowhere = common::free_port().to_string();
    let args = ["--replicaof", "127.0.0.1", nowhere.as_str(), "--replica-serve-stale-data", "no"];
    let f = Ferro::start(&args);
    let real = Real::start(&args);
    for n in [&f as &dyn Node, &real] {
        let mut c = common::Raw::connect(n.port());
        assert!(c.cmd("SUBSCRIBE ch").starts_with("*3\r\n"), "{}", n.name());
        assert_eq!(c.cmd("SET k v"), "-READONLY You can't write against a read only replica.\r\n", "{}", n.name());
        assert_eq!(
            c.cmd("GET k"),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
            "{}",
            n.name()
        );
        let mut plain = common::Raw::connect(n.port());
        assert!(plain.cmd("GET k").starts_with("-MASTERDOWN "), "{}", n.name());
    }
}
