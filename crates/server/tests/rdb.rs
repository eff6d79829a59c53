//! RDB persistence: DUMP / RESTORE, DEBUG RELOAD, SAVE and start-up loading, checked
//! against a real redis-server (Debian's 7.0) in both directions.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Server;
use ferrokv_server::persistence::rdb::CRC64;
use redis::Connection;

/// A real redis-server on a free port, stopped on drop.
struct Real {
    port: u16,
    child: Child,
}

impl Real {
    fn start(dir: &std::path::Path) -> Real {
        Real::start_with(dir, &[])
    }

    fn start_with(dir: &std::path::Path, extra: &[&str]) -> Real {
        let port = common::free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--dir", dir.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server installed");
        let ok = common::eventually(Duration::from_secs(10), || common::responds(port));
        assert!(ok, "redis-server did not start");
        Real { port, child }
    }

    fn client(&self) -> Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap().get_connection().unwrap()
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
    cmd.query(c).unwrap()
}

/// Keys covering every type and encoding, with what OBJECT ENCODING says in Redis 7.2
/// once loaded (whoever wrote them).
const KEYS: &[(&str, &str)] = &[
    ("str:int", "int"),
    ("str:emb", "embstr"),
    ("str:raw", "raw"),
    ("str:ttl", "embstr"),
    ("str:neg", "int"),
    ("list:lp", "listpack"),
    ("list:ql", "quicklist"),
    ("hash:lp", "listpack"),
    ("hash:ht", "hashtable"),
    ("set:int", "intset"),
    ("set:lp", "listpack"),
    ("set:ht", "hashtable"),
    ("set:bigint", "hashtable"),
    ("zset:lp", "listpack"),
    ("zset:sl", "skiplist"),
];

fn populate(c: &mut Connection) {
    q(c, &["SET", "str:int", "12345"]);
    q(c, &["SET", "str:emb", "hello world"]);
    let long = "abcdefgh".repeat(40);
    q(c, &["SET", "str:raw", &long]);
    q(c, &["SET", "str:ttl", "volatile", "EX", "1000"]);
    q(c, &["SET", "str:neg", "-9223372036854775808"]);
    q(c, &["RPUSH", "list:lp", "a", "1", "-5", "300", "70000", "4294967296", "x".repeat(100).as_str(), ""]);
    for i in 0..300 {
        q(c, &["RPUSH", "list:ql", &format!("element-{i}-{}", "y".repeat(i % 50))]);
    }
    q(c, &["HSET", "hash:lp", "f1", "v1", "n", "42", "neg", "-1"]);
    for i in 0..600 {
        q(c, &["HSET", "hash:ht", &format!("field{i}"), &format!("value{i}")]);
    }
    q(c, &["SADD", "set:int", "1", "2", "-3", "100000", "5000000000"]);
    q(c, &["SADD", "set:lp", "a", "b", "c", "7"]);
    for i in 0..200 {
        q(c, &["SADD", "set:ht", &format!("member{i}")]);
    }
    for i in 0..600 {
        q(c, &["SADD", "set:bigint", &i.to_string()]);
    }
    q(c, &["ZADD", "zset:lp", "1", "one", "2.5", "two", "-inf", "low", "inf", "high", "1e300", "huge", "-0.125", "neg"]);
    for i in 0..200 {
        q(c, &["ZADD", "zset:sl", &format!("{}.{}", i, i % 7), &format!("m{i}")]);
    }
    q(c, &["EXPIRE", "hash:ht", "5000"]);
}

/// The contents of a key in a comparable form (unordered types sorted).
fn contents(c: &mut Connection, key: &str) -> (String, Vec<Vec<u8>>) {
    let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let mut v: Vec<Vec<u8>> = match t.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query(c).unwrap()],
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(c).unwrap(),
        "hash" => {
            let flat: Vec<Vec<u8>> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            let mut pairs: Vec<Vec<u8>> = flat.chunks(2).map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat()).collect();
            pairs.sort();
            pairs
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
    if t == "set" {
        v.sort();
    }
    (t, v)
}

fn encoding(c: &mut Connection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query(c).unwrap()
}

fn ttl(c: &mut Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(c).unwrap()
}

fn snapshot(c: &mut Connection) -> Vec<(String, Vec<Vec<u8>>, i64)> {
    KEYS.iter()
        .map(|(k, _)| {
            let (t, v) = contents(c, k);
            (t, v, ttl(c, k).min(0))
        })
        .collect()
}

fn assert_encodings(c: &mut Connection, who: &str) {
    for (k, enc) in KEYS {
        assert_eq!(encoding(c, k), *enc, "{who}: encoding of {k}");
    }
}

fn dump(c: &mut Connection, key: &str) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query(c).unwrap()
}

fn restore(c: &mut Connection, key: &str, payload: &[u8]) -> redis::RedisResult<String> {
    redis::cmd("RESTORE").arg(key).arg(0).arg(payload).query(c)
}

#[test]
fn dump_restore_round_trip_of_every_type() {
    let s = Server::start();
    let mut c = s.client();
    populate(&mut c);
    assert_encodings(&mut c, "populated");
    for (k, enc) in KEYS {
        let before = contents(&mut c, k);
        let p = dump(&mut c, k);
        assert_eq!(&p[p.len() - 10..p.len() - 8], &[10, 0], "RDB version 10 in the footer");
        q(&mut c, &["DEL", k]);
        assert_eq!(restore(&mut c, k, &p).unwrap(), "OK");
        assert_eq!(contents(&mut c, k), before, "{k}");
        assert_eq!(encoding(&mut c, k), *enc, "{k}");
        assert_eq!(ttl(&mut c, k), -1);
    }
    let none: Option<Vec<u8>> = redis::cmd("DUMP").arg("nosuchkey").query(&mut c).unwrap();
    assert_eq!(none, None);
}

#[test]
fn debug_reload_keeps_contents_ttls_and_encodings() {
    let s = Server::start();
    let mut c = s.client();
    populate(&mut c);
    // A listpack set of integers only (made by removing its one string) stays a
    // listpack through a reload; so does a list emptied down to one small node.
    q(&mut c, &["SADD", "set:lpints", "x", "1", "2"]);
    q(&mut c, &["SREM", "set:lpints", "x"]);
    q(&mut c, &["SELECT", "3"]);
    q(&mut c, &["SET", "in-db-3", "v"]);
    q(&mut c, &["SELECT", "0"]);
    let before = snapshot(&mut c);
    let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    let ttl_before = ttl(&mut c, "hash:ht");
    assert_eq!(q(&mut c, &["DEBUG", "RELOAD"]), redis::Value::Okay);
    assert_eq!(snapshot(&mut c), before);
    assert_encodings(&mut c, "after DEBUG RELOAD");
    assert_eq!(encoding(&mut c, "set:lpints"), "listpack");
    let after: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    assert_eq!(after, digest);
    assert!((ttl_before - 1..=ttl_before).contains(&ttl(&mut c, "hash:ht")));
    q(&mut c, &["SELECT", "3"]);
    assert_eq!(q(&mut c, &["GET", "in-db-3"]), redis::Value::BulkString(b"v".to_vec()));
    // Encodings follow the thresholds in force at load time, as in Redis.
    q(&mut c, &["SELECT", "0"]);
    q(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "1"]);
    q(&mut c, &["CONFIG", "SET", "zset-max-listpack-entries", "1000"]);
    q(&mut c, &["DEBUG", "RELOAD"]);
    assert_eq!(encoding(&mut c, "hash:lp"), "hashtable");
    assert_eq!(encoding(&mut c, "zset:sl"), "listpack");
    let e = redis::cmd("DEBUG").arg("RELOAD").arg("BOGUS").query::<String>(&mut c).unwrap_err();
    assert!(e.to_string().contains("DEBUG RELOAD only supports"), "{e}");
}

#[test]
fn restore_options_errors_and_propagation() {
    let s = Server::start();
    let mut r = s.raw();
    let mut c = s.client();
    q(&mut c, &["SET", "foo", "bar"]);
    let p = dump(&mut c, "foo");
    let err = |res: redis::RedisResult<redis::Value>| res.unwrap_err().to_string();
    let run = |args: &[&[u8]]| {
        let mut cmd = redis::cmd("RESTORE");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query::<redis::Value>(&mut s.client())
    };
    assert!(err(run(&[b"foo", b"0", &p])).contains("Target key name already exists."));
    assert!(err(run(&[b"foo", b"0", &p, b"bogus"])).contains("syntax error"));
    assert!(err(run(&[b"new", b"-1", &p])).contains("Invalid TTL value, must be >= 0"));
    assert!(err(run(&[b"new", b"x", &p])).contains("not an integer"));
    assert!(err(run(&[b"new", b"0", &p, b"IDLETIME", b"-1"])).contains("Invalid IDLETIME value, must be >= 0"));
    assert!(err(run(&[b"new", b"0", &p, b"FREQ", b"256"])).contains("Invalid FREQ value, must be >= 0 and <= 255"));
    assert!(err(run(&[b"new", b"0", &p, b"IDLETIME", b"1", b"FREQ", b"1"])).contains("syntax error"));
    let mut bad = p.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(err(run(&[b"new", b"0", &bad])).contains("DUMP payload version or checksum are wrong"));
    assert!(err(run(&[b"new", b"0", b"short"])).contains("DUMP payload version or checksum are wrong"));
    // A newer format version is refused even with a good checksum.
    assert!(err(run(&[b"new", b"0", &with_footer(&p[..p.len() - 10], 12)])).contains("DUMP payload version or checksum are wrong"));
    // Damaged bodies with a valid footer are "Bad data format", never a crash.
    assert!(err(run(&[b"new", b"0", &with_footer(&[0, 0x40], 10)])).contains("Bad data format"));
    assert!(err(run(&[b"new", b"0", &with_footer(&[15, 0], 10)])).contains("Bad data format"));
    assert!(err(run(&[b"new", b"0", &with_footer(&[2, 0], 10)])).contains("Bad data format"), "empty set");
    // Duplicates.
    assert!(err(run(&[b"new", b"0", &with_footer(&[2, 2, 1, b'a', 1, b'a'], 10)])).contains("Bad data format"));

    // Relative TTL, REPLACE, ABSTTL and IDLETIME.
    assert_eq!(run(&[b"foo", b"5000", &p, b"REPLACE"]).unwrap(), redis::Value::Okay);
    let pttl: i64 = redis::cmd("PTTL").arg("foo").query(&mut c).unwrap();
    assert!((3000..=5000).contains(&pttl));
    let at = ferrokv_server::util::now_ms() + 100_000;
    assert_eq!(run(&[b"abs", at.to_string().as_bytes(), &p, b"ABSTTL"]).unwrap(), redis::Value::Okay);
    let exp: i64 = redis::cmd("PEXPIRETIME").arg("abs").query(&mut c).unwrap();
    assert_eq!(exp, at as i64);
    assert_eq!(run(&[b"idle", b"0", &p, b"IDLETIME", b"1000"]).unwrap(), redis::Value::Okay);
    let idle: i64 = redis::cmd("OBJECT").arg("IDLETIME").arg("idle").query(&mut c).unwrap();
    assert!((1000..=1010).contains(&idle), "{idle}");
    // Already expired: nothing stored; with REPLACE the old key goes, propagated as DEL.
    let past = (ferrokv_server::util::now_ms() - 5000).to_string();
    r.cmd("DEBUG REPL-STREAM 0");
    assert_eq!(run(&[b"foo", past.as_bytes(), &p, b"REPLACE", b"ABSTTL"]).unwrap(), redis::Value::Okay);
    assert_eq!(q(&mut c, &["EXISTS", "foo"]), redis::Value::Int(0));
    let stream = r.cmd("DEBUG REPL-STREAM 200");
    assert!(stream.contains("DEL\r\n$3\r\nfoo"), "{stream}");
    assert_eq!(run(&[b"rel", b"100000", &p]).unwrap(), redis::Value::Okay);
    let stream = r.cmd("DEBUG REPL-STREAM 300");
    assert!(stream.contains("RESTORE") && stream.contains("ABSTTL"), "relative TTL propagates as absolute: {stream}");
}

/// `body` (type byte and value) with a DUMP footer for format `version`.
fn with_footer(body: &[u8], version: u16) -> Vec<u8> {
    let mut v = body.to_vec();
    v.extend_from_slice(&version.to_le_bytes());
    let crc = CRC64.checksum(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

#[test]
fn restore_reads_older_encodings() {
    let s = Server::start();
    let mut c = s.client();
    // Ziplist helpers: entries as (prevlen, encoding + payload).
    fn ziplist(entries: &[&[u8]]) -> Vec<u8> {
        let mut zl = vec![0u8; 10];
        let mut prev = 0usize;
        for e in entries {
            let start = zl.len();
            zl.push(prev as u8);
            zl.extend_from_slice(e);
            prev = zl.len() - start;
        }
        zl.push(0xFF);
        let n = zl.len() as u32;
        zl[..4].copy_from_slice(&n.to_le_bytes());
        zl[8..10].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        zl
    }
    fn blob(t: u8, b: &[u8]) -> Vec<u8> {
        let mut v = vec![t, b.len() as u8];
        v.extend_from_slice(b);
        v
    }
    let restore_ok = |c: &mut Connection, k: &str, body: &[u8]| {
        assert_eq!(restore(c, k, &with_footer(body, 9)).unwrap(), "OK", "{k}");
    };
    // Hash ziplist (13): a=1, b=hello.
    let zl = ziplist(&[&[0x01, b'a'], &[0xF2], &[0x01, b'b'], &[0x05, b'h', b'e', b'l', b'l', b'o']]);
    restore_ok(&mut c, "hz", &blob(13, &zl));
    assert_eq!(contents(&mut c, "hz").1, vec![b"a=1".to_vec(), b"b=hello".to_vec()]);
    assert_eq!(encoding(&mut c, "hz"), "listpack");
    // Zset ziplist (12): x score 2, y score 1.5.
    let zl = ziplist(&[&[0x01, b'y'], &[0x03, b'1', b'.', b'5'], &[0x01, b'x'], &[0xF3]]);
    restore_ok(&mut c, "zz", &blob(12, &zl));
    assert_eq!(contents(&mut c, "zz").1, vec![b"y=1.5".to_vec(), b"x=2.0".to_vec()]);
    // List ziplist (10): kept a quicklist, as Redis does.
    let zl = ziplist(&[&[0xFE, 0x9C], &[0xC0, 0x2C, 0x01]]);
    restore_ok(&mut c, "lz", &blob(10, &zl));
    assert_eq!(contents(&mut c, "lz").1, vec![b"-100".to_vec(), b"300".to_vec()]);
    assert_eq!(encoding(&mut c, "lz"), "quicklist");
    // Zipmap (9).
    restore_ok(&mut c, "zm", &blob(9, b"\x02\x03foo\x03\x00bar\x05hello\x05\x02world!!\xff"));
    assert_eq!(contents(&mut c, "zm").1, vec![b"foo=bar".to_vec(), b"hello=world".to_vec()]);
    // Linked list (1) and the old zset type (3) with text scores.
    restore_ok(&mut c, "ll", &[1, 2, 1, b'a', 0xC0, 7]);
    assert_eq!(contents(&mut c, "ll").1, vec![b"a".to_vec(), b"7".to_vec()]);
    assert_eq!(encoding(&mut c, "ll"), "listpack");
    restore_ok(&mut c, "z3", &[3, 2, 1, b'a', 3, b'1', b'.', b'5', 1, b'b', 254]);
    assert_eq!(contents(&mut c, "z3").1, vec![b"a=1.5".to_vec(), b"b=inf".to_vec()]);
    // An LZF-compressed string: "abcabcabcabc".
    restore_ok(&mut c, "lzf", &[0, 0xC3, 7, 12, 2, b'a', b'b', b'c', 0xE0, 0, 2]);
    assert_eq!(contents(&mut c, "lzf").1, vec![b"abcabcabcabc".to_vec()]);
    // Streams and modules are refused.
    assert!(restore(&mut c, "st", &with_footer(&[15, 0], 9)).is_err());
}

#[test]
fn corrupt_payloads_never_crash() {
    let s = Server::start();
    let mut c = s.client();
    populate(&mut c);
    let payloads: Vec<Vec<u8>> = KEYS.iter().map(|(k, _)| dump(&mut c, k)).collect();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for p in &payloads {
        let body = &p[..p.len() - 10];
        for _ in 0..60 {
            let mut b = body.to_vec();
            match rnd() % 3 {
                0 => {
                    let i = (rnd() as usize) % b.len();
                    b[i] = rnd() as u8;
                }
                1 => b.truncate((rnd() as usize) % b.len()),
                _ => {
                    let i = (rnd() as usize) % b.len();
                    b[i] ^= 1 << (rnd() % 8);
                }
            }
            let res = redis::cmd("RESTORE").arg("fuzz").arg(0).arg(with_footer(&b, 10)).arg("REPLACE").query::<redis::Value>(&mut c);
            if let Err(e) = res {
                assert!(e.to_string().contains("Bad data format"), "{e}");
            }
        }
    }
    assert_eq!(q(&mut c, &["PING"]), redis::Value::SimpleString("PONG".into()));
}

#[test]
fn payloads_move_between_ferrokv_and_real_redis() {
    let s = Server::start();
    let real = Real::start(&s.dir);
    let mut ours = s.client();
    let mut theirs = real.client();
    populate(&mut theirs);
    populate(&mut ours);
    for (k, enc) in KEYS {
        let expect = contents(&mut theirs, k);
        // Theirs -> ours.
        let p = dump(&mut theirs, k);
        q(&mut ours, &["DEL", k]);
        assert_eq!(restore(&mut ours, k, &p).unwrap(), "OK", "{k}");
        assert_eq!(contents(&mut ours, k), expect, "{k} from redis-server");
        assert_eq!(encoding(&mut ours, k), *enc, "{k} from redis-server");
        // Ours -> theirs.
        let p = dump(&mut ours, k);
        q(&mut theirs, &["DEL", k]);
        assert_eq!(restore(&mut theirs, k, &p).unwrap(), "OK", "{k} into redis-server");
        assert_eq!(contents(&mut theirs, k), expect, "{k} into redis-server");
    }
}

#[test]
fn startup_loads_a_dump_written_by_real_redis() {
    let dir = std::env::temp_dir().join(format!("ferrokv-rdb-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let expect;
    {
        let real = Real::start(&dir);
        let mut c = real.client();
        populate(&mut c);
        q(&mut c, &["SELECT", "7"]);
        q(&mut c, &["SET", "db7", "seven"]);
        q(&mut c, &["SET", "gone", "x", "PX", "1"]);
        q(&mut c, &["SELECT", "0"]);
        std::thread::sleep(Duration::from_millis(5));
        expect = snapshot(&mut c);
        assert_eq!(q(&mut c, &["SAVE"]), redis::Value::Okay);
    }
    let port = common::free_port();
    let args = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--enable-debug-command", "yes"].map(String::from).to_vec();
    let s = Server::spawn(port, dir, args);
    let mut c = s.client();
    assert_eq!(snapshot(&mut c), expect);
    assert_encodings(&mut c, "loaded at start-up");
    let t = ttl(&mut c, "str:ttl");
    assert!((990..=1000).contains(&t), "{t}");
    q(&mut c, &["SELECT", "7"]);
    assert_eq!(q(&mut c, &["GET", "db7"]), redis::Value::BulkString(b"seven".to_vec()));
    assert_eq!(q(&mut c, &["EXISTS", "gone"]), redis::Value::Int(0));
}

#[test]
fn real_redis_loads_our_save() {
    let s = Server::start();
    let mut c = s.client();
    populate(&mut c);
    q(&mut c, &["SELECT", "2"]);
    q(&mut c, &["SET", "db2", "two"]);
    q(&mut c, &["SELECT", "0"]);
    let expect = snapshot(&mut c);
    assert_eq!(q(&mut c, &["SAVE"]), redis::Value::Okay);
    let path = s.dir.join("dump.rdb");
    assert!(path.exists());
    let check = Command::new("redis-check-rdb").arg(&path).output().expect("redis-check-rdb installed");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && out.contains("RDB looks OK"), "{out}");
    let real = Real::start(&s.dir);
    let mut theirs = real.client();
    assert_eq!(snapshot(&mut theirs), expect);
    q(&mut theirs, &["SELECT", "2"]);
    assert_eq!(q(&mut theirs, &["GET", "db2"]), redis::Value::BulkString(b"two".to_vec()));
    // And we read our own file back at start-up.
    drop(real);
    let port = common::free_port();
    let args = ["--port", &port.to_string(), "--bind", "127.0.0.1"].map(String::from).to_vec();
    let dir2 = std::env::temp_dir().join(format!("ferrokv-rdb-own-{port}"));
    std::fs::create_dir_all(&dir2).unwrap();
    std::fs::copy(&path, dir2.join("dump.rdb")).unwrap();
    let s2 = Server::spawn(port, dir2, args);
    let mut c2 = s2.client();
    assert_eq!(snapshot(&mut c2), expect);
    assert_encodings(&mut c2, "our own file");
}

fn int(v: redis::Value) -> i64 {
    match v {
        redis::Value::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// Under an LRU policy each key's idle time is saved (the IDLE opcode) and under an
/// LFU policy its counter (FREQ), so eviction order survives a restart; both ways
/// with the real redis-server.
#[test]
fn idle_times_and_lfu_counters_travel_in_the_file() {
    for (policy, option, what, value) in
        [("allkeys-lru", "IDLETIME", "idletime", 5000), ("allkeys-lfu", "FREQ", "freq", 77), ("volatile-lru", "IDLETIME", "idletime", 9000)]
    {
        let s = Server::start_with(&["--maxmemory-policy", policy]);
        let mut c = s.client();
        q(&mut c, &["SET", "fresh", "x"]);
        let payload = dump(&mut c, "fresh");
        let v = value.to_string();
        let restored: String = redis::cmd("RESTORE").arg("old").arg(0).arg(&payload).arg(option).arg(&v).query(&mut c).unwrap();
        assert_eq!(restored, "OK");
        assert_eq!(q(&mut c, &["SAVE"]), redis::Value::Okay);
        let real = Real::start_with(&s.dir, &["--maxmemory-policy", policy]);
        let mut theirs = real.client();
        let got = int(q(&mut theirs, &["OBJECT", what, "old"]));
        assert!((value..value + 5).contains(&got), "{policy}: redis-server read {what} {got}, saved {value}");
        if what == "idletime" {
            let fresh = int(q(&mut theirs, &["OBJECT", what, "fresh"]));
            assert!(fresh < 5, "{policy}: a fresh key read as idle for {fresh} s");
        }
        // And back: redis-server's save of another key loads into ferrokv.
        let v2 = (value + 11).to_string();
        let restored: String = redis::cmd("RESTORE").arg("theirs").arg(0).arg(&payload).arg(option).arg(&v2).query(&mut theirs).unwrap();
        assert_eq!(restored, "OK");
        assert_eq!(q(&mut theirs, &["SAVE"]), redis::Value::Okay);
        drop(real);
        let port = common::free_port();
        let dir = std::env::temp_dir().join(format!("ferrokv-rdb-idle-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(s.dir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--maxmemory-policy", policy].map(String::from).to_vec();
        let s2 = Server::spawn(port, dir, args);
        let mut c2 = s2.client();
        let got = int(q(&mut c2, &["OBJECT", what, "theirs"]));
        assert!((value + 11..value + 16).contains(&got), "{policy}: ferrokv read {what} {got} from redis-server's file");
        let got = int(q(&mut c2, &["OBJECT", what, "old"]));
        assert!((value..value + 5).contains(&got), "{policy}: our key came back with {what} {got}");
    }
}

#[test]
fn corrupt_file_stops_startup() {
    let s = Server::start();
    let mut c = s.client();
    populate(&mut c);
    q(&mut c, &["SAVE"]);
    let good = std::fs::read(s.dir.join("dump.rdb")).unwrap();
    for (name, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("bad checksum", {
            let mut b = good.clone();
            let n = b.len();
            b[n - 1] ^= 0xFF;
            b
        }),
    ] {
        let dir = std::env::temp_dir().join(format!("ferrokv-rdb-bad-{}-{}", std::process::id(), name.len()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
        let port = common::free_port();
        let out = Command::new(env!("CARGO_BIN_EXE_ferrokv-server"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .current_dir(&dir)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: server must not start");
        assert!(log.contains("dump.rdb") && log.contains("offset") && log.contains("redis-check-rdb"), "{name}: {log}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
