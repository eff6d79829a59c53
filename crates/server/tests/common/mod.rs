//! Test harness: starts the real `ferrokv-server` binary on a free loopback port and
//! talks to it over TCP (raw RESP for byte-exact checks, the `redis` crate, redis-cli).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod events;
pub mod peer;

pub struct Server {
    pub port: u16,
    child: Child,
    pub dir: std::path::PathBuf,
}

/// A loopback port nobody listens on, never the same twice in this test process: the
/// kernel may hand a just-released ephemeral port to the next caller, and two servers
/// started by parallel tests would then race for it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the server with extra `--name value` arguments (debug command enabled).
    pub fn start_with(extra: &[&str]) -> Server {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("ferrokv-test-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args: Vec<String> =
            vec!["--port".into(), port.to_string(), "--bind".into(), "127.0.0.1".into(), "--enable-debug-command".into(), "yes".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let s = Server::spawn(port, dir, args);
        // Keep the write stream from the start, so tests can read it (DEBUG REPL-STREAM).
        s.raw().cmd("DEBUG REPL-STREAM 0");
        s
    }

    pub fn spawn(port: u16, dir: std::path::PathBuf, args: Vec<String>) -> Server {
        let child = launch(&dir, &args);
        let s = Server { port, child, dir };
        wait_ready(port);
        s
    }

    /// Stops the process (SIGKILL) and starts it again in the same directory.
    pub fn restart(&mut self, args: Vec<String>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = launch(&self.dir, &args);
        wait_ready(self.port);
    }

    /// The server's process id (to stop and resume it with signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap().get_connection().unwrap()
    }

    /// Runs redis-cli against the server and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli").arg("-p").arg(self.port.to_string()).args(args).output().expect("redis-cli installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Tests run two connection workers whatever the machine (the default leaves a core
/// free, which is one worker on a 2-core machine), so cross-core behaviour is tested,
/// unless the test sets `--server-threads` itself.
fn launch(dir: &std::path::Path, args: &[String]) -> Child {
    let threads: &[&str] = if args.iter().any(|a| a == "--server-threads") { &[] } else { &["--server-threads", "2"] };
    Command::new(env!("CARGO_BIN_EXE_ferrokv-server"))
        .args(args)
        .args(threads)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferrokv-server")
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        // Any error (even on the write: a connection the kernel looped back onto
        // itself) only means "not ready yet".
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 7];
            if c.write_all(b"PING\r\n").is_ok() && c.read_exact(&mut buf).is_ok() && matches!(buf[0], b'+' | b'-') {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server did not start on port {port}");
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw RESP connection: send commands, read back one complete reply as bytes.
/// Whether something on `port` answers PING (any RESP reply), never panicking: a
/// refused, reset or self-connected socket just means "not up yet".
pub fn responds(port: u16) -> bool {
    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 7];
    // A server still loading its dataset answers -LOADING: not ready for the test yet.
    c.write_all(b"PING\r\n").is_ok() && c.read_exact(&mut buf).is_ok() && matches!(buf[0], b'+' | b'-') && &buf != b"-LOADIN"
}

pub struct Raw {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { r: BufReader::new(s.try_clone().unwrap()), w: s }
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&buf).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// Sends a command given as space-separated words and returns the raw reply.
    pub fn cmd(&mut self, line: &str) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(|s| s.as_bytes()).collect();
        self.send(&args);
        self.read()
    }

    pub fn cmd_args(&mut self, args: &[&[u8]]) -> String {
        self.send(args);
        self.read()
    }

    /// Reads one complete reply (nested aggregates included) as text.
    pub fn read(&mut self) -> String {
        let mut out = Vec::new();
        self.read_into(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn line(&mut self, out: &mut Vec<u8>) -> String {
        let mut l = Vec::new();
        self.r.read_until(b'\n', &mut l).unwrap();
        assert!(!l.is_empty(), "connection closed");
        out.extend_from_slice(&l);
        String::from_utf8_lossy(&l[..l.len() - 2]).into_owned()
    }

    fn read_into(&mut self, out: &mut Vec<u8>) {
        let mut first = [0u8; 1];
        self.r.read_exact(&mut first).unwrap();
        out.push(first[0]);
        let body = self.line(out);
        match first[0] {
            b'$' | b'=' | b'!' => {
                let n: i64 = body.parse().unwrap();
                if n >= 0 {
                    let mut b = vec![0u8; n as usize + 2];
                    self.r.read_exact(&mut b).unwrap();
                    out.extend_from_slice(&b);
                }
            }
            b'*' | b'~' | b'>' => {
                let n: i64 = body.parse().unwrap();
                for _ in 0..n.max(0) {
                    self.read_into(out);
                }
            }
            b'%' | b'|' => {
                let n: i64 = body.parse().unwrap();
                for _ in 0..n * 2 {
                    self.read_into(out);
                }
                if first[0] == b'|' {
                    self.read_into(out);
                }
            }
            _ => {}
        }
    }

    /// True when the server closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0) | Err(_))
    }
}

/// Asserts `cond` becomes true within `timeout`, polling.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
