//! Replication, master side, end to end: ferrokv as the master of real `redis-server`
//! replicas (Debian's 7.0). Full resync through the RDB, the live write stream from
//! several clients over every type and several databases, INFO replication and ROLE,
//! link cuts answered by a partial resync from the backlog (or a full one when the
//! backlog no longer covers the gap), a replica attaching while a BGSAVE runs, and the
//! offsets replicas acknowledge with REPLCONF ACK.
//!
//! Every replica runs in its own temporary directory with its own log, which the tests
//! read to tell a partial resynchronization from a full one.

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

/// A real redis-server started as a replica of `master_port`, killed (and its directory
/// removed) on drop.
struct Replica {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Replica {
    fn start(master_port: u16) -> Replica {
        let port = common::free_port();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("ferrokv-repl-{port}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--replicaof", "127.0.0.1", &master_port.to_string()])
            .args(["--logfile", "replica.log", "--dir", "."])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server installed");
        let r = Replica { port, child, dir };
        let ok = eventually(Duration::from_secs(10), || common::responds(port));
        assert!(ok, "redis-server did not start on port {port}");
        r
    }

    fn client(&self) -> Connection {
        connect(self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("replica.log")).unwrap_or_default()
    }

    fn info(&self) -> BTreeMap<String, String> {
        info(&mut self.client(), "replication")
    }

    /// Sends a signal (STOP, CONT) to the replica process.
    fn signal(&self, sig: &str) {
        let st = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(st.success(), "kill -{sig}");
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A ferrokv master logging to `master.log` in its directory.
fn master(extra: &[&str]) -> Server {
    let mut args = vec!["--logfile", "master.log", "--save", "", "--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

fn master_log(m: &Server) -> String {
    std::fs::read_to_string(m.dir.join("master.log")).unwrap_or_default()
}

fn info(c: &mut Connection, section: &str) -> BTreeMap<String, String> {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn q(c: &mut Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn master_offset(m: &mut Connection) -> u64 {
    info(m, "replication")["master_repl_offset"].parse().unwrap()
}

/// Waits until every replica's link is up and its `slave_repl_offset` equals the
/// master's `master_repl_offset` (read before and after, so no write was in between).
fn wait_synced(m: &Server, replicas: &[&Replica], timeout: Duration) {
    let mut mc = connect(m.port);
    let mut rcs: Vec<Connection> = replicas.iter().map(|r| r.client()).collect();
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        let before = master_offset(&mut mc);
        let mut all = true;
        last = format!("master_repl_offset:{before}");
        for rc in rcs.iter_mut() {
            let i = info(rc, "replication");
            let (link, off) =
                (i.get("master_link_status").cloned().unwrap_or_default(), i.get("slave_repl_offset").cloned().unwrap_or_default());
            last.push_str(&format!(" | link:{link} slave_repl_offset:{off}"));
            all &= link == "up" && off == before.to_string();
        }
        if all && master_offset(&mut mc) == before {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let logs: Vec<String> = replicas.iter().map(|r| r.log()).collect();
    panic!("replicas did not catch up: {last}\nmaster log:\n{}\nreplica logs:\n{}", master_log(m), logs.join("\n----\n"));
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

/// Waits until the short-lived keys (`*short*`, `*soon`) have expired and the master has
/// reclaimed every expired key (DBSIZE, which counts them, equals the number of live
/// keys in each database), so that their DELs are in the stream, then until the
/// replicas have caught up.
fn settle(m: &Server, replicas: &[&Replica]) {
    let mut c = connect(m.port);
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
/// master has settled (see `settle`).
fn assert_same_data(m: &Server, replicas: &[&Replica]) -> usize {
    settle(m, replicas);
    let read_from = std::time::Instant::now();
    let (want, want_sizes) = dataset(&mut connect(m.port));
    for r in replicas {
        let (got, sizes) = dataset(&mut r.client());
        // A replica is read after the master: its TTLs ran down meanwhile (over a second
        // for the whole dataset on a loaded machine).
        let slack = 1000 + read_from.elapsed().as_millis() as i64;
        let name = format!("replica :{}", r.port);
        for ((db, k), w) in &want {
            let key = format!("db{db} {}", String::from_utf8_lossy(k));
            let Some(g) = got.get(&(*db, k.clone())) else {
                panic!("{name}: {key} missing (master has {w:?})");
            };
            assert_eq!((&g.typ, &g.val), (&w.typ, &w.val), "{name}: {key}");
            let ttl_ok = if w.pttl < 0 { g.pttl == w.pttl } else { g.pttl >= 0 && g.pttl - w.pttl < 1000 && w.pttl - g.pttl < slack };
            assert!(ttl_ok, "{name}: {key}: PTTL {} on the replica, {} on the master", g.pttl, w.pttl);
        }
        let extra: Vec<String> =
            got.keys().filter(|k| !want.contains_key(k)).map(|(db, k)| format!("db{db} {}", String::from_utf8_lossy(k))).collect();
        assert!(extra.is_empty(), "{name}: keys the master does not have: {extra:?}");
        assert_eq!(sizes, want_sizes, "{name}: DBSIZE of each database");
    }
    want.len()
}

/// `slaveN:ip=...,port=...,state=...,offset=...,lag=...` parsed, checking the format.
fn slave_line(line: &str) -> (String, u16, String, u64, u64) {
    let fields: Vec<(&str, &str)> = line.split(',').map(|f| f.split_once('=').unwrap_or_else(|| panic!("bad field in {line:?}"))).collect();
    let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
    assert_eq!(names, ["ip", "port", "state", "offset", "lag"], "slave line {line:?}");
    (
        fields[0].1.to_string(),
        fields[1].1.parse().unwrap_or_else(|_| panic!("port in {line:?}")),
        fields[2].1.to_string(),
        fields[3].1.parse().unwrap_or_else(|_| panic!("offset in {line:?}")),
        fields[4].1.parse().unwrap_or_else(|_| panic!("lag in {line:?}")),
    )
}

fn slave_lines(i: &BTreeMap<String, String>) -> Vec<(String, u16, String, u64, u64)> {
    (0..).map_while(|n| i.get(&format!("slave{n}"))).map(|l| slave_line(l)).collect()
}

/// ROLE on a master: its offset and `(ip, port, offset)` per replica.
fn role(c: &mut Connection) -> (u64, Vec<(String, u16, u64)>) {
    let v = q(c, &["ROLE"]);
    let Value::Array(items) = v else { panic!("ROLE: {v:?}") };
    assert_eq!(items.len(), 3, "ROLE: {items:?}");
    assert_eq!(items[0], Value::BulkString(b"master".to_vec()), "ROLE: {items:?}");
    let off = int(&items[1]) as u64;
    let Value::Array(reps) = &items[2] else { panic!("ROLE: {items:?}") };
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
        other => panic!("ROLE replica field {other:?}"),
    };
    let reps = reps
        .iter()
        .map(|r| {
            let Value::Array(f) = r else { panic!("ROLE replica {r:?}") };
            assert_eq!(f.len(), 3, "ROLE replica {f:?}");
            (text(&f[0]), text(&f[1]).parse().unwrap(), text(&f[2]).parse().unwrap())
        })
        .collect();
    (off, reps)
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

/// S1: two replicas attach, INFO replication and ROLE on both sides.
#[test]
fn two_replicas_attach_info_and_role() {
    // No DEBUG REPL-STREAM here: the stream starts with the first replica, as in Redis.
    let port = common::free_port();
    let dir = std::env::temp_dir().join(format!("ferrokv-test-{port}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--logfile", "master.log"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let m = Server::spawn(port, dir, args);
    let mut mc = connect(m.port);
    q(&mut mc, &["SET", "before", "1"]);
    let before = info(&mut mc, "replication");
    assert_eq!(before["role"], "master");
    assert_eq!(before["connected_slaves"], "0");
    assert!(!before.contains_key("slave0"));

    let r1 = Replica::start(m.port);
    let r2 = Replica::start(m.port);
    wait_synced(&m, &[&r1, &r2], Duration::from_secs(15));
    q(&mut mc, &["SET", "after", "2"]);
    q(&mut mc, &["RPUSH", "l", "a", "b"]);
    wait_synced(&m, &[&r1, &r2], Duration::from_secs(10));
    let off = master_offset(&mut mc);
    assert!(off > 0, "the writes after the attach are in the stream");

    // The master's view; the offsets are acknowledged about once a second.
    let mut i = BTreeMap::new();
    let acked = eventually(Duration::from_secs(5), || {
        i = info(&mut mc, "replication");
        slave_lines(&i).iter().all(|s| s.3 == off) && slave_lines(&i).len() == 2
    });
    assert!(acked, "INFO replication: {i:?}");
    assert_eq!(i["role"], "master");
    assert_eq!(i["connected_slaves"], "2");
    assert!(!i.contains_key("slave2"));
    let mut ports: Vec<u16> = Vec::new();
    for (ip, p, state, offset, lag) in slave_lines(&i) {
        assert_eq!(ip, "127.0.0.1");
        assert_eq!(state, "online");
        assert_eq!(offset, off);
        assert!(lag <= 2, "lag {lag}");
        ports.push(p);
    }
    ports.sort();
    let mut want = vec![r1.port, r2.port];
    want.sort();
    assert_eq!(ports, want, "slaveN ports are the replicas' listening ports");
    assert_eq!(i["master_repl_offset"], off.to_string());
    assert_eq!(i["repl_backlog_active"], "1");
    let text: String = redis::cmd("INFO").arg("replication").query(&mut mc).unwrap();
    let slave0 = text.lines().find(|l| l.starts_with("slave0:")).unwrap();
    let p0 = slave_lines(&i)[0].1;
    let exact = format!("slave0:ip=127.0.0.1,port={p0},state=online,offset={off},lag=");
    let lag = slave0.strip_prefix(&exact).unwrap_or_else(|| panic!("{slave0:?} vs {exact:?}"));
    assert!(!lag.is_empty() && lag.bytes().all(|b| b.is_ascii_digit()), "{slave0:?}");

    // ROLE lists both.
    let (roff, reps) = role(&mut mc);
    assert_eq!(roff, off);
    let mut rports: Vec<u16> = reps.iter().map(|r| r.1).collect();
    rports.sort();
    assert_eq!(rports, want);
    for r in &reps {
        assert_eq!(r.0, "127.0.0.1");
        assert_eq!(r.2, off);
    }

    // The replicas' view.
    let replid = i["master_replid"].clone();
    assert_eq!(replid.len(), 40);
    for r in [&r1, &r2] {
        let ri = r.info();
        assert_eq!(ri["role"], "slave");
        assert_eq!(ri["master_host"], "127.0.0.1");
        assert_eq!(ri["master_port"], m.port.to_string());
        assert_eq!(ri["master_link_status"], "up");
        assert_eq!(ri["master_replid"], replid, "replica :{}", r.port);
        assert_eq!(ri["slave_repl_offset"], off.to_string());
        let mut rc = r.client();
        assert_eq!(q(&mut rc, &["GET", "before"]), Value::BulkString(b"1".to_vec()));
        assert_eq!(q(&mut rc, &["GET", "after"]), Value::BulkString(b"2".to_vec()));
        assert!(r.log().contains(&format!("Full resync from master: {replid}:")), "{}", r.log());
    }
    assert_same_data(&m, &[&r1, &r2]);
}

/// Every type, several databases and clients, some written before the replicas attach
/// (the RDB), some while they attach and after (the stream).
#[test]
fn mixed_workload_reaches_replicas_identically() {
    let m = master(&[]);
    let mut mc = connect(m.port);
    populate(&mut mc);
    // A first round of the writers before any replica.
    let idle = Arc::new(AtomicBool::new(true));
    std::thread::scope(|s| {
        for t in 0..2 {
            let stop = idle.clone();
            s.spawn(move || writer(m.port, 100 + t, stop, 800));
        }
    });

    // Writers run while the replicas attach and after.
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..3)
        .map(|t| {
            let stop = stop.clone();
            let port = m.port;
            std::thread::spawn(move || writer(port, t, stop, 1500))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let r1 = Replica::start(m.port);
    let r2 = Replica::start(m.port);
    let attached = eventually(Duration::from_secs(15), || info(&mut mc, "replication")["connected_slaves"] == "2");
    assert!(attached, "replicas did not attach; master log:\n{}", master_log(&m));
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    let ops: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(ops >= 4500);

    // FLUSHDB on one database (written before and during the attach), then more there.
    q(&mut mc, &["SELECT", "9"]);
    assert!(int(&q(&mut mc, &["DBSIZE"])) > 0);
    q(&mut mc, &["FLUSHDB"]);
    q(&mut mc, &["SET", "after-flush", "1"]);
    q(&mut mc, &["SELECT", "3"]);
    q(&mut mc, &["DEL", "shared:list"]);
    q(&mut mc, &["SELECT", "0"]);

    // Expiries reach the replicas as DELs (DBSIZE compared too).
    let n = assert_same_data(&m, &[&r1, &r2]);
    assert!(n > 150, "only {n} keys compared");

    // HyperLogLogs count alike (PFCOUNT may rewrite the cached cardinality, so last).
    for db in 0..4 {
        q(&mut mc, &["SELECT", &db.to_string()]);
        let keys: Vec<String> = redis::cmd("KEYS").arg("*hll*").query(&mut mc).unwrap();
        for r in [&r1, &r2] {
            let mut rc = r.client();
            q(&mut rc, &["SELECT", &db.to_string()]);
            for k in &keys {
                assert_eq!(q(&mut rc, &["PFCOUNT", k]), q(&mut mc, &["PFCOUNT", k]), "db{db} {k}");
            }
        }
    }
    for r in [&r1, &r2] {
        let log = r.log();
        assert_eq!(log.matches("Full resync from master").count(), 1, "{log}");
        assert!(!log.contains("Connection with master lost"), "{log}");
    }
}

fn kill_replicas(mc: &mut Connection) -> i64 {
    int(&q(mc, &["CLIENT", "KILL", "TYPE", "replica"]))
}

/// A cut link: the replica comes back with PSYNC and gets the missed bytes from the
/// backlog; once the backlog no longer covers the gap, a full resync.
#[test]
fn link_cut_partial_then_full_resync() {
    let m = master(&[]);
    let mut mc = connect(m.port);
    populate(&mut mc);
    let r = Replica::start(m.port);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    assert_eq!(r.log().matches("Full resync from master").count(), 1);

    // Cut while writers run.
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let stop = stop.clone();
            let port = m.port;
            std::thread::spawn(move || writer(port, 10 + t, stop, 500))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    let listed: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("replica").query(&mut mc).unwrap();
    assert_eq!(listed.lines().count(), 1, "CLIENT LIST TYPE replica: {listed:?}");
    assert!(listed.contains("flags=S"), "CLIENT LIST TYPE replica: {listed:?}");
    assert_eq!(kill_replicas(&mut mc), 1, "CLIENT KILL TYPE replica");
    let back = eventually(Duration::from_secs(10), || r.log().contains("Successful partial resynchronization with master"));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    assert!(back, "no partial resync; replica log:\n{}\nmaster log:\n{}", r.log(), master_log(&m));
    wait_synced(&m, &[&r], Duration::from_secs(15));
    assert_same_data(&m, &[&r]);
    let ml = master_log(&m);
    assert!(ml.contains("Partial resynchronization request from") && ml.contains("accepted"), "{ml}");
    assert_eq!(r.log().matches("Full resync from master").count(), 1, "{}", r.log());

    // The replica is stopped, its link cut, and a little is written: still partial.
    r.signal("STOP");
    assert_eq!(kill_replicas(&mut mc), 1);
    for i in 0..50 {
        q(&mut mc, &["SET", &format!("gap1:{i}"), &"y".repeat(100)]);
    }
    q(&mut mc, &["SELECT", "5"]);
    q(&mut mc, &["RPUSH", "gap1:list", "a", "b"]);
    q(&mut mc, &["SELECT", "0"]);
    r.signal("CONT");
    let partial2 = eventually(Duration::from_secs(10), || r.log().matches("Successful partial resynchronization with master").count() == 2);
    assert!(partial2, "{}", r.log());
    wait_synced(&m, &[&r], Duration::from_secs(15));
    assert_same_data(&m, &[&r]);

    // A 16kb backlog, and more than that written while the replica is away: full resync.
    q(&mut mc, &["CONFIG", "SET", "repl-backlog-size", "16kb"]);
    q(&mut mc, &["SET", "trim", "1"]);
    let hist: u64 = info(&mut mc, "replication")["repl_backlog_histlen"].parse().unwrap();
    assert!(hist <= 16384, "repl_backlog_histlen {hist} after CONFIG SET repl-backlog-size 16kb");
    wait_synced(&m, &[&r], Duration::from_secs(10));
    r.signal("STOP");
    assert_eq!(kill_replicas(&mut mc), 1);
    for i in 0..100 {
        q(&mut mc, &["SET", &format!("gap2:{i}"), &"z".repeat(1000)]);
    }
    r.signal("CONT");
    let full = eventually(Duration::from_secs(15), || r.log().matches("Full resync from master").count() == 2);
    assert!(full, "no full resync after the backlog was overrun; replica log:\n{}\nmaster log:\n{}", r.log(), master_log(&m));
    assert_eq!(r.log().matches("Successful partial resynchronization with master").count(), 2);
    assert!(master_log(&m).contains("for lack of backlog"), "{}", master_log(&m));
    wait_synced(&m, &[&r], Duration::from_secs(15));
    assert_same_data(&m, &[&r]);
    // INFO stats counts them as Redis does: two full syncs, two partial, one refused.
    let st = info(&mut mc, "stats");
    assert_eq!((st["sync_full"].as_str(), st["sync_partial_ok"].as_str(), st["sync_partial_err"].as_str()), ("2", "2", "1"), "{st:?}");
    assert!(st["total_net_repl_output_bytes"].parse::<u64>().unwrap() > 100_000, "{st:?}");
}

/// A replica attaching while a BGSAVE runs waits for it, and gets a consistent dataset
/// although writes go on throughout; the BGSAVE completes normally.
#[test]
fn replica_attaches_during_bgsave() {
    let m = master(&[]);
    let mut mc = connect(m.port);
    populate(&mut mc);
    for i in 0..3000 {
        q(&mut mc, &["SET", &format!("bulk:{i}"), &i.to_string()]);
    }
    // About 3 s of BGSAVE.
    q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    assert_eq!(q(&mut mc, &["BGSAVE"]), Value::SimpleString("Background saving started".into()));
    assert_eq!(info(&mut mc, "persistence")["rdb_bgsave_in_progress"], "1");

    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let stop = stop.clone();
            let port = m.port;
            std::thread::spawn(move || writer(port, 20 + t, stop, 300))
        })
        .collect();
    let r = Replica::start(m.port);
    // While the BGSAVE still runs the replica is known, not yet online (Redis shows
    // `state=wait_bgsave` and counts it in connected_slaves).
    let mut seen = BTreeMap::new();
    let waiting = eventually(Duration::from_secs(5), || {
        seen = info(&mut mc, "replication");
        seen.contains_key("slave0")
    });
    assert!(waiting, "{seen:?}");
    assert_eq!(info(&mut mc, "persistence")["rdb_bgsave_in_progress"], "1", "the BGSAVE ended before the replica came");
    let lines = slave_lines(&seen);
    assert_eq!(lines.len(), 1, "{seen:?}");
    assert_eq!(lines[0].2, "wait_bgsave", "{seen:?}");
    assert_eq!(seen["connected_slaves"], "1", "connected_slaves counts every slaveN line: {seen:?}");
    q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);

    let done = eventually(Duration::from_secs(20), || info(&mut mc, "persistence")["rdb_bgsave_in_progress"] == "0");
    assert!(done);
    let p = info(&mut mc, "persistence");
    assert_eq!(p["rdb_last_bgsave_status"], "ok", "{p:?}");
    assert!(m.dir.join("dump.rdb").exists());
    let attached = eventually(Duration::from_secs(20), || r.info()["master_link_status"] == "up");
    assert!(attached, "replica log:\n{}\nmaster log:\n{}", r.log(), master_log(&m));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    wait_synced(&m, &[&r], Duration::from_secs(15));
    assert_same_data(&m, &[&r]);
    let ml = master_log(&m);
    assert!(ml.contains("Synchronization with replica") && ml.contains("succeeded"), "{ml}");
}

/// The offsets replicas acknowledge (REPLCONF ACK, about once a second) reach INFO and
/// ROLE, also while the master is idle and only its PINGs move the offset.
#[test]
fn replica_acks_advance_offsets() {
    let m = master(&["--repl-ping-replica-period", "1"]);
    let mut mc = connect(m.port);
    let r = Replica::start(m.port);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    for i in 0..200 {
        q(&mut mc, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    let off = master_offset(&mut mc);
    let acked = eventually(Duration::from_secs(4), || {
        let i = info(&mut mc, "replication");
        slave_lines(&i).first().is_some_and(|s| s.3 >= off)
    });
    assert!(acked, "{:?}", info(&mut mc, "replication"));
    let (roff, reps) = role(&mut mc);
    assert!(roff >= off);
    assert_eq!(reps.len(), 1);
    assert!(reps[0].2 >= off, "ROLE {reps:?} vs offset {off}");

    // Idle: the PINGs move the offset, the replica follows and acknowledges it.
    std::thread::sleep(Duration::from_millis(2500));
    let idle_off = master_offset(&mut mc);
    assert!(idle_off >= off + 2 * 14, "PINGs every second: {off} -> {idle_off}");
    let followed = eventually(Duration::from_secs(4), || {
        let i = info(&mut mc, "replication");
        let s = slave_lines(&i);
        s.len() == 1 && s[0].3 >= idle_off && s[0].4 <= 1
    });
    assert!(followed, "{:?}", info(&mut mc, "replication"));
    let ri = r.info();
    assert_eq!(ri["master_link_status"], "up");
    assert!(ri["master_last_io_seconds_ago"].parse::<u64>().unwrap() <= 1, "{ri:?}");
    assert!(ri["slave_repl_offset"].parse::<u64>().unwrap() >= idle_off);
}

/// Writes that involve two databases (MOVE, COPY ... DB, SWAPDB, SMOVE), clients served
/// while blocked (BLPOP, BLMOVE, BZPOPMIN), TTL changes (KEEPTTL, GETEX PERSIST, a
/// negative EXPIRE), a big value: the replica ends up with the master's data.
#[test]
fn cross_db_blocked_and_ttl_writes_replicate() {
    let m = master(&[]);
    let r = Replica::start(m.port);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    let mut mc = connect(m.port);
    q(&mut mc, &["SET", "a", "1"]);
    assert_eq!(int(&q(&mut mc, &["MOVE", "a", "3"])), 1);
    q(&mut mc, &["SELECT", "3"]);
    assert_eq!(int(&q(&mut mc, &["COPY", "a", "b", "DB", "5"])), 1);
    q(&mut mc, &["SET", "a2", "x"]);
    q(&mut mc, &["SWAPDB", "3", "4"]);
    q(&mut mc, &["SELECT", "4"]);
    q(&mut mc, &["RENAME", "a", "c"]);
    q(&mut mc, &["SADD", "s1", "a", "b", "c"]);
    assert_eq!(int(&q(&mut mc, &["SMOVE", "s1", "s2", "a"])), 1);
    q(&mut mc, &["SELECT", "0"]);
    q(&mut mc, &["SET", "big", &"b".repeat(300_000)]);
    q(&mut mc, &["SET", "t", "v", "EX", "100"]);
    q(&mut mc, &["SET", "t", "w", "KEEPTTL"]);
    q(&mut mc, &["SET", "t2", "v", "EX", "100"]);
    q(&mut mc, &["GETEX", "t2", "PERSIST"]);
    q(&mut mc, &["SET", "n", "5"]);
    q(&mut mc, &["EXPIRE", "n", "-1"]);
    // Blocked clients served by later pushes, in db 2.
    let port = m.port;
    let blocked: Vec<_> = [vec!["BLPOP", "bl", "5"], vec!["BLMOVE", "src", "dst", "LEFT", "RIGHT", "5"], vec!["BZPOPMIN", "zz", "5"]]
        .into_iter()
        .map(|cmd| {
            std::thread::spawn(move || {
                let mut c = connect(port);
                q(&mut c, &["SELECT", "2"]);
                q(&mut c, &cmd)
            })
        })
        .collect();
    let mut c2 = connect(m.port);
    let all_blocked = eventually(Duration::from_secs(5), || info(&mut c2, "clients")["blocked_clients"] == "3");
    assert!(all_blocked);
    q(&mut c2, &["SELECT", "2"]);
    q(&mut c2, &["RPUSH", "bl", "x", "y"]);
    q(&mut c2, &["RPUSH", "src", "1", "2"]);
    q(&mut c2, &["ZADD", "zz", "1", "a", "2", "b"]);
    for h in blocked {
        assert_ne!(h.join().unwrap(), Value::Nil);
    }
    let n = assert_same_data(&m, &[&r]);
    assert!(n >= 12, "{n} keys");
    let mut rc = r.client();
    assert_eq!(int(&q(&mut rc, &["EXISTS", "n"])), 0);
    assert_eq!(int(&q(&mut rc, &["PTTL", "t2"])), -1);
    q(&mut rc, &["SELECT", "2"]);
    assert_eq!(q(&mut rc, &["LRANGE", "bl", "0", "-1"]), Value::Array(vec![Value::BulkString(b"y".to_vec())]));
    assert_eq!(q(&mut rc, &["ZRANGE", "zz", "0", "-1"]), Value::Array(vec![Value::BulkString(b"b".to_vec())]));
}

/// Reads `$<len>\r\n` and that many bytes of RDB (no CRLF after it).
/// The RDB after SYNC/PSYNC: `$<len>` then that many bytes, or (diskless, to a replica
/// that declared `capa eof`) `$EOF:<40-byte mark>` then bytes ending with the mark.
fn read_rdb_framed(raw: &mut common::Raw) -> (Vec<u8>, bool) {
    use std::io::{BufRead, Read};
    let mut line = String::new();
    raw.r.read_line(&mut line).unwrap();
    let rdb = if let Some(mark) = line.strip_prefix("$EOF:").map(|m| m.trim_end().as_bytes().to_vec()) {
        assert_eq!(mark.len(), 40, "EOF mark {line:?}");
        let mut data = Vec::new();
        let mut b = [0u8; 1];
        while !data.ends_with(&mark) {
            raw.r.read_exact(&mut b).unwrap();
            data.push(b[0]);
        }
        data.truncate(data.len() - 40);
        data
    } else {
        let len: usize = line.strip_prefix('$').and_then(|l| l.trim_end().parse().ok()).unwrap_or_else(|| panic!("bulk header {line:?}"));
        let mut rdb = vec![0u8; len];
        raw.r.read_exact(&mut rdb).unwrap();
        rdb
    };
    assert!(rdb.starts_with(b"REDIS"), "RDB payload starts with {:?}", &rdb[..rdb.len().min(9)]);
    (rdb, line.starts_with("$EOF:"))
}

/// An RDB sent with its length (SYNC, or a replica without `capa eof`).
fn read_rdb(raw: &mut common::Raw) -> Vec<u8> {
    let (rdb, diskless) = read_rdb_framed(raw);
    assert!(!diskless, "a length-prefixed RDB was expected");
    rdb
}

/// Reads exactly `want.len()` stream bytes from a replica link, skipping the master's
/// PINGs, and compares them.
fn expect_stream(raw: &mut common::Raw, want: &[u8]) {
    use std::io::Read;
    let mut got = vec![0u8; want.len()];
    raw.r.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

/// The protocol as a replica sees it: SYNC and PSYNC replies, the stream starting
/// exactly where the snapshot ends (with a SELECT), +CONTINUE with the backlog bytes from
/// the requested offset, a full resync for an unknown replid or an offset out of range.
#[test]
fn sync_and_psync_on_the_wire() {
    let m = master(&[]);
    let mut mc = connect(m.port);
    q(&mut mc, &["SELECT", "2"]);
    q(&mut mc, &["SET", "k", "v"]);

    // SYNC: `$len` + RDB, then the stream.
    let mut s = m.raw();
    s.send(&[b"SYNC"]);
    read_rdb(&mut s);
    q(&mut mc, &["SET", "k", "w"]);
    expect_stream(&mut s, b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n");

    // PSYNC ? -1: +FULLRESYNC <replid> <offset>, the RDB, then the stream.
    let replid = info(&mut mc, "replication")["master_replid"].clone();
    let mut p = m.raw();
    assert_eq!(p.cmd("REPLCONF listening-port 4444"), "+OK\r\n");
    assert_eq!(p.cmd("REPLCONF capa eof capa psync2"), "+OK\r\n");
    p.send(&[b"PSYNC", b"?", b"-1"]);
    let reply = {
        use std::io::BufRead;
        let mut l = String::new();
        p.r.read_line(&mut l).unwrap();
        l
    };
    let off_now = master_offset(&mut mc);
    assert_eq!(reply, format!("+FULLRESYNC {replid} {off_now}\r\n"));
    // `repl-diskless-sync yes` (the default) and `capa eof`: the EOF-mark framing.
    let (_, diskless) = read_rdb_framed(&mut p);
    assert!(diskless, "PSYNC with capa eof under repl-diskless-sync yes");
    q(&mut mc, &["INCR", "c"]);
    // Nothing follows the end mark until the replica's first ACK says it loaded the RDB
    // (Redis's repl_start_cmd_stream_on_ack).
    p.r.get_ref().set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut peek = [0u8; 1];
    assert!(std::io::Read::read(&mut p.r, &mut peek).is_err(), "stream sent before the replica's ACK");
    p.r.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    p.send(&[b"REPLCONF", b"ACK", off_now.to_string().as_bytes()]);
    let incr = b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n";
    expect_stream(&mut p, incr);
    // One stream for all: the SYNC link gets the same bytes (a new replica makes the
    // next write start with a SELECT, as Redis's `slaveseldb = -1`).
    expect_stream(&mut s, incr);
    let mut i = BTreeMap::new();
    assert!(eventually(Duration::from_secs(2), || {
        i = info(&mut mc, "replication");
        i["connected_slaves"] == "2"
    }));
    assert!(slave_lines(&i).iter().any(|l| l.1 == 4444 && l.2 == "online"), "{i:?}");
    // REPLCONF ACK: no reply, recorded.
    let end = master_offset(&mut mc);
    p.send(&[b"REPLCONF", b"ACK", end.to_string().as_bytes()]);
    assert!(eventually(Duration::from_secs(2), || slave_lines(&info(&mut mc, "replication")).iter().any(|l| l.1 == 4444 && l.3 == end)));
    drop(p);
    drop(s);

    // +CONTINUE from an offset inside the backlog: exactly the bytes after it.
    q(&mut mc, &["SET", "x", "1"]);
    let mut c = m.raw();
    c.send(&[b"PSYNC", replid.as_bytes(), (end + 1).to_string().as_bytes()]);
    {
        use std::io::BufRead;
        let mut l = String::new();
        c.r.read_line(&mut l).unwrap();
        assert_eq!(l, format!("+CONTINUE {replid}\r\n"));
    }
    expect_stream(&mut c, b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n");
    q(&mut mc, &["SET", "x", "2"]);
    expect_stream(&mut c, b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n2\r\n");

    // An unknown replid, or an offset past the end: full resync.
    for (id, off) in [("0123456789012345678901234567890123456789".to_string(), end + 1), (replid.clone(), end + 10_000)] {
        let mut f = m.raw();
        f.send(&[b"PSYNC", id.as_bytes(), off.to_string().as_bytes()]);
        use std::io::BufRead;
        let mut l = String::new();
        f.r.read_line(&mut l).unwrap();
        assert!(l.starts_with(&format!("+FULLRESYNC {replid} ")), "PSYNC {id} {off}: {l:?}");
        read_rdb(&mut f);
    }
}

#[test]
fn wait_counts_replicas_that_acknowledged_the_clients_writes() {
    let m = master(&[]);
    let mut mc = connect(m.port);
    // No replica: WAIT gives up at its timeout with 0.
    q(&mut mc, &["SET", "a", "1"]);
    let t = Instant::now();
    assert_eq!(int(&q(&mut mc, &["WAIT", "1", "200"])), 0);
    assert!(t.elapsed() >= Duration::from_millis(190), "returned before the timeout: {:?}", t.elapsed());
    let (r1, r2) = (Replica::start(m.port), Replica::start(m.port));
    wait_synced(&m, &[&r1, &r2], Duration::from_secs(15));
    // Both replicas acknowledge the write (asked with REPLCONF GETACK) well before 5 s.
    q(&mut mc, &["SET", "b", "2"]);
    let t = Instant::now();
    assert_eq!(int(&q(&mut mc, &["WAIT", "2", "5000"])), 2);
    assert!(t.elapsed() < Duration::from_secs(2), "WAIT took {:?}", t.elapsed());
    // Asking for more replicas than exist waits out the timeout and reports those that acked.
    q(&mut mc, &["SET", "c", "3"]);
    let t = Instant::now();
    assert_eq!(int(&q(&mut mc, &["WAIT", "3", "300"])), 2);
    assert!(t.elapsed() >= Duration::from_millis(290));
    let err = redis::cmd("WAIT").arg("1").arg("-1").query::<i64>(&mut mc).unwrap_err();
    assert!(err.to_string().contains("timeout is negative"), "{err}");
    // Inside MULTI it never blocks.
    let replies: Vec<Value> = redis::pipe().atomic().cmd("SET").arg("d").arg("4").cmd("WAIT").arg("5").arg("0").query(&mut mc).unwrap();
    assert!(matches!(replies[1], Value::Int(n) if n <= 2), "{replies:?}");
}

#[test]
fn a_replica_silent_for_repl_timeout_is_dropped() {
    let m = master(&["--repl-timeout", "2"]);
    let mut mc = connect(m.port);
    let r = Replica::start(m.port);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    assert_eq!(info(&mut mc, "replication")["connected_slaves"], "1");
    // A stopped replica sends no REPLCONF ACK: after repl-timeout the master drops it.
    r.signal("STOP");
    let dropped = eventually(Duration::from_secs(8), || info(&mut mc, "replication")["connected_slaves"] == "0");
    r.signal("CONT");
    assert!(dropped, "{:?}", info(&mut mc, "replication"));
    assert!(master_log(&m).contains("Disconnecting timedout replica"), "{}", master_log(&m));
    // Resumed, it reconnects and syncs again.
    let back = eventually(Duration::from_secs(10), || info(&mut mc, "replication")["connected_slaves"] == "1");
    assert!(back, "{:?}", info(&mut mc, "replication"));
}

#[test]
fn a_replica_over_its_output_buffer_limit_is_dropped_and_one_that_keeps_up_is_not() {
    let m = master(&["--client-output-buffer-limit", "replica 2mb 1mb 2"]);
    let mut mc = connect(m.port);
    let r = Replica::start(m.port);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    // Keeping up: 16 MB in writes of 200 KB, far more than the limit in all, but
    // written in rounds of 800 KB that the replica takes in before the next, so what
    // waits unsent stays under the soft limit however slow this machine is (only bytes
    // not yet handed to the socket count, so what was sent never keeps the replica
    // over the limit, as in redis/redis#11667).
    let chunk = "x".repeat(200 * 1024);
    for i in 0..80 {
        q(&mut mc, &["SET", &format!("small:{i}"), &chunk]);
        if i % 4 == 3 {
            wait_synced(&m, &[&r], Duration::from_secs(15));
        }
    }
    wait_synced(&m, &[&r], Duration::from_secs(15));
    let stats = info(&mut mc, "stats");
    assert_eq!(stats["sync_full"], "1", "a replica that keeps up was resynced: {stats:?}");
    assert!(!master_log(&m).contains("output buffer limits"), "{}", master_log(&m));
    // A stopped replica reads nothing: past what the sockets hold, its queue passes
    // the hard limit and the master drops it, serving everyone else meanwhile.
    r.signal("STOP");
    let dropped = eventually(Duration::from_secs(20), || {
        for i in 0..8 {
            q(&mut mc, &["SET", &format!("big:{i}"), &chunk]);
        }
        info(&mut mc, "replication")["connected_slaves"] == "0"
    });
    r.signal("CONT");
    assert!(dropped, "{:?}", info(&mut mc, "replication"));
    assert!(master_log(&m).contains("scheduled to be closed ASAP for overcoming of output buffer limits"), "{}", master_log(&m));
    assert_eq!(q(&mut mc, &["PING"]), Value::SimpleString("PONG".into()));
    // Resumed, it reconnects and catches up.
    wait_synced(&m, &[&r], Duration::from_secs(20));
    assert_same_data(&m, &[&r]);
}

fn role_name(c: &mut Connection) -> String {
    match q(c, &["ROLE"]) {
        Value::Array(v) => match &v[0] {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("ROLE: {other:?}"),
        },
        other => panic!("ROLE: {other:?}"),
    }
}

/// FAILOVER TO a real redis-server replica under a write load: writes pause, the
/// replica takes over, the old master follows it by partial resync, the other replica
/// follows the old master (chained, as with Redis), and every acknowledged write is on
/// the new master. Redis's argument errors on the way.
#[test]
fn failover_hands_the_master_role_to_a_replica_without_losing_writes() {
    let m = master(&[]);
    let mut mc = connect(m.port);
    let (r1, r2) = (Replica::start(m.port), Replica::start(m.port));
    wait_synced(&m, &[&r1, &r2], Duration::from_secs(15));
    let err = |c: &mut Connection, args: &[&str]| -> String {
        let mut cmd = redis::cmd(args[0]);
        cmd.arg(&args[1..]);
        let e = cmd.query::<Value>(c).expect_err("an error");
        format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
    };
    assert_eq!(err(&mut mc, &["FAILOVER", "TO", "127.0.0.1", "1"]), "ERR FAILOVER target HOST and PORT is not a replica.");
    assert_eq!(err(&mut mc, &["FAILOVER", "FORCE"]), "ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
    assert_eq!(err(&mut mc, &["FAILOVER", "TIMEOUT", "0"]), "ERR FAILOVER timeout must be greater than 0");
    assert_eq!(err(&mut mc, &["FAILOVER", "ABORT"]), "ERR No failover in progress.");
    assert_eq!(err(&mut mc, &["FAILOVER", "BOGUS"]), "ERR syntax error");
    assert_eq!(err(&mut r1.client(), &["FAILOVER"]), "ERR FAILOVER is not valid when server is a replica.");

    // Writers keep going through the switch; they stop at the first refusal.
    let stop = Arc::new(AtomicBool::new(false));
    let port = m.port;
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = connect(port);
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r: redis::RedisResult<()> = redis::cmd("SET").arg(format!("fo:{t}:{acked}")).arg(acked).query(&mut c);
                    if r.is_err() {
                        break;
                    }
                    acked += 1;
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let port1 = r1.port.to_string();
    assert_eq!(q(&mut mc, &["FAILOVER", "TO", "127.0.0.1", &port1, "TIMEOUT", "10000"]), Value::Okay);
    let switched = eventually(Duration::from_secs(15), || {
        role_name(&mut r1.client()) == "master"
            && role_name(&mut mc) == "slave"
            && info(&mut mc, "replication").get("master_link_status").map(String::as_str) == Some("up")
    });
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(switched, "old master: {:?}\nnew master: {:?}\n{}", info(&mut mc, "replication"), r1.info(), master_log(&m));
    assert_eq!(info(&mut mc, "replication")["master_failover_state"], "no-failover");
    assert_eq!(info(&mut mc, "replication")["master_port"], port1);
    let ml = master_log(&m);
    assert!(ml.contains("is synced, failing over."), "{ml}");
    assert!(r1.log().contains("Failover request received for replid"), "{}", r1.log());
    // Partial resyncs all round: no replica loaded a new RDB.
    assert_eq!(r1.log().matches("Full resync from master").count(), 1, "{}", r1.log());
    // Every acknowledged write is on the new master.
    let mut nc = r1.client();
    for (t, n) in acked.iter().enumerate() {
        assert!(*n > 0, "writer {t} wrote nothing");
        let keys: Vec<String> = (0..*n).map(|i| format!("fo:{t}:{i}")).collect();
        let vals: Vec<Option<u64>> = redis::cmd("MGET").arg(&keys).query(&mut nc).unwrap();
        let lost: Vec<&String> = keys.iter().zip(&vals).filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
        assert!(lost.is_empty(), "acknowledged writes lost in the failover: {lost:?}");
    }
    // The new master's writes reach the old master and, through it, the other replica.
    q(&mut nc, &["SET", "after", "failover"]);
    let chained = eventually(Duration::from_secs(15), || {
        let a: Option<String> = redis::cmd("GET").arg("after").query(&mut mc).unwrap();
        let b: Option<String> = redis::cmd("GET").arg("after").query(&mut r2.client()).unwrap();
        a.is_some() && b.is_some()
    });
    assert!(chained, "old master: {:?}\nother replica: {:?}", info(&mut mc, "replication"), r2.info());
    assert_eq!(r2.info()["master_port"], m.port.to_string());
}

/// `repl-backlog-ttl`: a master left without replicas that long frees its backlog and
/// starts a new history (log line as Redis's); the replica that comes back resyncs in
/// full, and the backlog is kept again while it is attached.
#[test]
fn backlog_is_freed_after_repl_backlog_ttl_without_replicas() {
    let m = master(&["--repl-backlog-ttl", "1"]);
    let mut mc = connect(m.port);
    q(&mut mc, &["SET", "k", "v"]);
    let r = Replica::start(m.port);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    let before = info(&mut mc, "replication");
    assert_eq!(before["repl_backlog_active"], "1", "{before:?}");
    drop(r);
    let freed = eventually(Duration::from_secs(10), || info(&mut mc, "replication")["repl_backlog_active"] == "0");
    let after = info(&mut mc, "replication");
    assert!(freed, "{after:?}");
    assert!(master_log(&m).contains("Replication backlog freed after 1 seconds without connected replicas."), "{}", master_log(&m));
    assert_ne!(after["master_replid"], before["master_replid"]);
    assert_eq!(after["repl_backlog_histlen"], "0");
    let r = Replica::start(m.port);
    wait_synced(&m, &[&r], Duration::from_secs(15));
    assert_eq!(info(&mut mc, "replication")["repl_backlog_active"], "1");
    assert_eq!(q(&mut r.client(), &["GET", "k"]), Value::BulkString(b"v".to_vec()));
}
