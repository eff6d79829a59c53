//! ferrokv-check-aof / ferrokv-check-rdb against the real tools: AOFs written by a real
//! `redis-server --appendonly yes` and hand-made broken ones must get the same output
//! and exit codes from both, and what `--fix` / `--cut-before` leave must satisfy
//! redis-check-aof. Skipped (with a message) where redis-server is not installed.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHECK_AOF: &str = env!("CARGO_BIN_EXE_ferrokv-check-aof");
const CHECK_RDB: &str = env!("CARGO_BIN_EXE_ferrokv-check-rdb");

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn reference_tools() -> bool {
    let ok = have("redis-server") && have("redis-check-aof") && have("redis-check-rdb");
    if !ok {
        println!("skipping: redis-server / redis-check-aof / redis-check-rdb not on PATH");
    }
    ok
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let p = std::env::temp_dir().join(format!("ferrokv-check-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real redis-server writing its AOF into `dir`; killed on drop.
struct Redis {
    child: Child,
    conn: BufReader<TcpStream>,
}

impl Redis {
    fn start(dir: &Path) -> Redis {
        // Tests run in parallel threads: each start takes its own ports, so two
        // redis-servers never race for one (the loser would exit and its test would
        // talk to the other's server).
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let base = 27700 + (std::process::id() % 100) as u16 * 4;
        for _ in 0..60 {
            let port = base + 400 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1000;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--appendonly", "yes"])
                .args(["--aof-timestamp-enabled", "yes", "--save", "", "--daemonize", "no", "--dir"])
                .arg(dir)
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                    // Only a PONG from our own, still running child counts (a loaded
                    // machine once reset the first command of a server that had just
                    // accepted): otherwise try the next port.
                    let mut conn = BufReader::new(s);
                    let mut line = String::new();
                    let pong = conn.get_mut().write_all(b"PING\r\n").is_ok() && conn.read_line(&mut line).is_ok() && line == "+PONG\r\n";
                    if pong && matches!(child.try_wait(), Ok(None)) {
                        return Redis { child, conn };
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start redis-server");
    }

    /// Sends one command and reads its one-line reply.
    fn cmd(&mut self, args: &[&str]) -> String {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.conn.get_mut().write_all(out.as_bytes()).unwrap();
        let mut line = String::new();
        self.conn.read_line(&mut line).unwrap();
        line
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // SHUTDOWN writes out any AOF write Redis postponed; kill if it lingers.
        let _ = self.conn.get_mut().write_all(b"*1\r\n$8\r\nSHUTDOWN\r\n");
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tool args` in `dir` with `input` on stdin: (exit code, stdout+stderr), with
/// log-line prefixes (pid, time) and the program name blanked out.
fn run(tool: &str, dir: &Path, args: &[&str], input: &str) -> (i32, String) {
    let mut child =
        Command::new(tool).args(args).current_dir(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // A tool that never reads stdin may exit before the write: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let text = text
        .lines()
        .map(|l| match l.find(":C ").zip(l.find(" # ")) {
            Some((a, b)) if a < b && l[..a].bytes().all(|c| c.is_ascii_digit()) => format!("LOG{}", &l[b..]),
            _ => l.replace(tool, "TOOL").replace("redis-check-aof", "TOOL"),
        })
        // Redis 7.2 names the base file by its path in the RDB check, 7.0 by its name.
        .map(|l| l.replace("Checking RDB file ./", "Checking RDB file "))
        .collect::<Vec<_>>()
        .join("\n");
    (out.status.code().unwrap_or(-1), text)
}

/// Both check-aof tools on copies of `src`: same output and exit code, same files after.
fn same_as_redis(src: &Path, args: &[&str], input: &str) -> (i32, String) {
    let a = TempDir::new("a");
    let b = TempDir::new("b");
    copy_dir(src, &a.0);
    copy_dir(src, &b.0);
    let theirs = run("redis-check-aof", &a.0, args, input);
    let ours = run(CHECK_AOF, &b.0, args, input);
    assert_eq!(ours, theirs, "args {args:?}");
    for f in std::fs::read_dir(&a.0).unwrap() {
        let f = f.unwrap();
        assert_eq!(std::fs::read(b.0.join(f.file_name())).unwrap(), std::fs::read(f.path()).unwrap(), "{:?}", f.file_name());
    }
    ours
}

fn copy_dir(from: &Path, to: &Path) {
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
}

fn append(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

/// A real multi-part AOF: RDB base, one incr file with timestamps and two FLUSHALLs.
fn real_aof() -> (TempDir, PathBuf) {
    let dir = TempDir::new("redis");
    {
        let mut r = Redis::start(&dir.0);
        assert_eq!(r.cmd(&["SET", "a", "1"]), "+OK\r\n");
        r.cmd(&["FLUSHALL"]);
        r.cmd(&["SET", "b c", "x\"y"]);
        r.cmd(&["MULTI"]);
        r.cmd(&["INCR", "n"]);
        r.cmd(&["FLUSHALL"]);
        r.cmd(&["EXEC"]);
        r.cmd(&["SET", "d", "2"]);
    }
    let aofdir = dir.0.join("appendonlydir");
    (dir, aofdir)
}

#[test]
fn real_multipart_aof_matches_redis_check_aof() {
    if !reference_tools() {
        return;
    }
    let (_d, aof) = real_aof();
    let (rc, out) = same_as_redis(&aof, &["appendonly.aof.manifest"], "");
    assert_eq!(rc, 0);
    assert!(out.contains("Start to check BASE AOF (RDB format)."), "{out}");
    assert!(out.ends_with("All AOF files and manifest are valid"), "{out}");
    same_as_redis(&aof, &["appendonly.aof.1.base.rdb"], "");
    same_as_redis(&aof, &["appendonly.aof.1.incr.aof"], "");
    // Nothing after the future: nothing to truncate.
    same_as_redis(&aof, &["--truncate-to-timestamp", "99999999999", "appendonly.aof.manifest"], "");
}

#[test]
fn truncated_and_corrupt_tails_and_fix() {
    if !reference_tools() {
        return;
    }
    let (_d, aof) = real_aof();
    let incr = aof.join("appendonly.aof.1.incr.aof");
    let good = std::fs::read(&incr).unwrap();
    for tail in [&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nval"[..], b"*2\r\n$3\r", b"*1\r\n$5\r\nMULTI\r\n", b"junk", b"*1\r\n$4\r\nPINGxx"] {
        std::fs::write(&incr, &good).unwrap();
        append(&incr, tail);
        let (rc, out) = same_as_redis(&aof, &["appendonly.aof.manifest"], "");
        assert_eq!(rc, 1, "{out}");
        assert!(out.contains("is not valid. Use the --fix option"), "{out}");
        // No answer on stdin: nothing is changed.
        let (rc, out) = same_as_redis(&aof, &["--fix", "appendonly.aof.manifest"], "");
        assert_eq!(rc, 1);
        assert!(out.ends_with("Continue? [y/N]: Aborting..."), "{out}");
        // "y": the tail goes, and redis-check-aof then accepts the AOF.
        let (rc, out) = same_as_redis(&aof, &["--fix", "appendonly.aof.manifest"], "y\n");
        assert_eq!(rc, 0, "{out}");
        assert!(out.contains("Successfully truncated AOF appendonly.aof.1.incr.aof"), "{out}");
        let fixed = TempDir::new("fixed");
        copy_dir(&aof, &fixed.0);
        run(CHECK_AOF, &fixed.0, &["--fix", "appendonly.aof.manifest"], "y\n");
        assert_eq!(std::fs::read(fixed.0.join("appendonly.aof.1.incr.aof")).unwrap(), good);
        assert_eq!(run("redis-check-aof", &fixed.0, &["appendonly.aof.manifest"], "").0, 0);
    }
}

#[test]
fn old_style_files_and_usage() {
    if !reference_tools() {
        return;
    }
    let d = TempDir::new("old");
    let cases: [&[u8]; 9] = [
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$x\r\nb\r\n",
        b"*1\r\n$-3\r\nset\r\n",
        b"*1\r\n$5\r\nMULTI\r\n*1\r\n$5\r\nMULTI\r\n",
        b"*1\r\n$4\r\nEXEC\r\n",
        b"*1\r\n+OK\r\n",
        b"#TS:100\r\n*1\r\n$4\r\nPING\r\n#TS:200\r\n*1\r\n$4\r\nPING\r\n",
        b"#TS:1x\r\n*1\r\n$4\r\nPING\r\n",
        b"",
        b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI",
    ];
    for c in cases {
        std::fs::write(d.0.join("x.aof"), c).unwrap();
        same_as_redis(&d.0, &["x.aof"], "");
        same_as_redis(&d.0, &["--fix", "x.aof"], "y\n");
        std::fs::write(d.0.join("x.aof"), c).unwrap();
        for ts in ["50", "150", "250", "1x"] {
            same_as_redis(&d.0, &["--truncate-to-timestamp", ts, "x.aof"], "");
        }
    }
    let (rc, _) = same_as_redis(&d.0, &["missing.aof"], "");
    assert_eq!(rc, 1);
    // Usage: ours adds its own two forms after Redis's line.
    let (rc, out) = run(CHECK_AOF, &d.0, &["--bogus", "x.aof"], "");
    let (rrc, rout) = run("redis-check-aof", &d.0, &["--bogus", "x.aof"], "");
    assert_eq!((rc, out.lines().next()), (rrc, rout.lines().next()));
}

#[test]
fn manifest_errors_match() {
    if !reference_tools() {
        return;
    }
    let d = TempDir::new("manifest");
    std::fs::write(d.0.join("a.aof"), b"*1\r\n$4\r\nPING\r\n").unwrap();
    for m in [
        "file a.aof seq 1 type x\n",
        "file a.aof seq 1 type i",
        "file a.aof seq 1 type i\n\n",
        "file a.aof seq 0 type i\n",
        "file \"a.aof\"x seq 1 type i\n",
        "file d/a.aof seq 1 type i\n",
        "file a.aof seq 2 type i\nfile a.aof seq 2 type i\n",
        "file a.aof seq 1 type b\nfile a.aof seq 2 type b\n",
        "# c\nFILE 'a.aof' TYPE i SEQ 3 extra 1\n",
        "file a.aof seq 1 type i\nfile missing.aof seq 2 type i\n",
    ] {
        std::fs::write(d.0.join("m.manifest"), m).unwrap();
        same_as_redis(&d.0, &["m.manifest"], "");
    }
}

#[test]
fn list_and_cut_before() {
    if !reference_tools() {
        return;
    }
    let (_d, aof) = real_aof();
    let (rc, out) = run(CHECK_AOF, &aof, &["--list", "appendonly.aof.manifest"], "");
    assert_eq!(rc, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("appendonly.aof.1.base.rdb:0 (RDB snapshot"), "{out}");
    let words: Vec<&str> = lines[1..].iter().map(|l| l.split_once("] ").unwrap().1).collect();
    assert_eq!(
        words,
        [
            "\"SELECT\" \"0\"",
            "\"SET\" \"a\" \"1\"",
            "\"FLUSHALL\"",
            "\"SET\" \"b c\" \"x\\\"y\"",
            "\"MULTI\"",
            "\"INCR\" \"n\"",
            "\"FLUSHALL\"",
            "\"EXEC\"",
            "\"SET\" \"d\" \"2\""
        ]
    );
    assert!(lines[1].starts_with("appendonly.aof.1.incr.aof:16 ["), "{out}");

    // The last FLUSHALL is inside MULTI/EXEC: the cut goes before the MULTI.
    let (rc, out) = run(CHECK_AOF, &aof, &["--cut-before", "flushall", "appendonly.aof.manifest"], "");
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("cutting before its MULTI"), "{out}");
    assert!(out.contains("\"SET\" \"d\" \"2\""), "{out}");
    assert_eq!(run("redis-check-aof", &aof, &["appendonly.aof.manifest"], "").0, 0);
    let (_, listed) = run(CHECK_AOF, &aof, &["--list", "appendonly.aof.manifest"], "");
    assert!(listed.lines().last().unwrap().ends_with("\"SET\" \"b c\" \"x\\\"y\""), "{listed}");

    // An exact position, then one that starts no command.
    let flush_at = listed.lines().find(|l| l.ends_with("\"FLUSHALL\"")).unwrap().split_once(' ').unwrap().0;
    let (rc, out) = run(CHECK_AOF, &aof, &["--cut-before", &format!("@{flush_at}"), "appendonly.aof.manifest"], "");
    assert_eq!(rc, 0, "{out}");
    assert_eq!(run("redis-check-aof", &aof, &["appendonly.aof.manifest"], "").0, 0);
    let (rc, out) = run(CHECK_AOF, &aof, &["--cut-before", "@appendonly.aof.1.incr.aof:3", "appendonly.aof.manifest"], "");
    assert_eq!(rc, 1);
    assert!(out.contains("No command starts at appendonly.aof.1.incr.aof:3"), "{out}");
    let (rc, out) = run(CHECK_AOF, &aof, &["--cut-before", "flushall", "appendonly.aof.manifest"], "");
    assert_eq!(rc, 1);
    assert!(out.contains("No flushall command found"), "{out}");

    // A command in an INCR file that is not the last, or in a RESP base file: refused.
    std::fs::write(aof.join("b.aof"), b"*1\r\n$8\r\nFLUSHALL\r\n").unwrap();
    std::fs::write(aof.join("i1.aof"), b"*1\r\n$8\r\nFLUSHALL\r\n").unwrap();
    std::fs::write(aof.join("i2.aof"), b"*1\r\n$4\r\nPING\r\n").unwrap();
    std::fs::write(aof.join("m.manifest"), "file b.aof seq 1 type b\nfile i1.aof seq 1 type i\nfile i2.aof seq 2 type i\n").unwrap();
    let (rc, out) = run(CHECK_AOF, &aof, &["--cut-before", "FLUSHALL", "m.manifest"], "");
    assert_eq!(rc, 1);
    assert!(out.contains("an INCR file that is not the last one"), "{out}");
    std::fs::write(aof.join("m.manifest"), "file b.aof seq 1 type b\nfile i2.aof seq 2 type i\n").unwrap();
    let (rc, out) = run(CHECK_AOF, &aof, &["--cut-before", "FLUSHALL", "m.manifest"], "");
    assert_eq!(rc, 1);
    assert!(out.contains("is in the BASE file"), "{out}");
    assert_eq!(std::fs::read(aof.join("b.aof")).unwrap(), b"*1\r\n$8\r\nFLUSHALL\r\n");
}

#[test]
fn check_rdb_matches_redis_check_rdb() {
    if !reference_tools() {
        return;
    }
    let (_d, aof) = real_aof();
    let base = std::fs::read(aof.join("appendonly.aof.1.base.rdb")).unwrap();
    let d = TempDir::new("rdb");
    let mut cases = vec![base.clone(), base[..base.len() - 3].to_vec(), base[..20].to_vec(), b"REDIX0011xxxxxxx".to_vec()];
    let mut bad_sum = base.clone();
    *bad_sum.last_mut().unwrap() ^= 1;
    cases.push(bad_sum);
    for c in cases {
        std::fs::write(d.0.join("dump.rdb"), &c).unwrap();
        assert_eq!(run(CHECK_RDB, &d.0, &["dump.rdb"], ""), run("redis-check-rdb", &d.0, &["dump.rdb"], ""));
    }
    assert_eq!(run(CHECK_RDB, &d.0, &["missing.rdb"], ""), run("redis-check-rdb", &d.0, &["missing.rdb"], ""));
}
