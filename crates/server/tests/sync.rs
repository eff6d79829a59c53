//! SYNC: a point-in-time RDB snapshot followed by the live write stream, checked with
//! Redis's own tools (redis-check-rdb, and a real redis-server loading the file).

mod common;
use std::io::{BufRead, Read};

use std::process::Command;

use common::Server;

/// Sends SYNC and returns the RDB payload; the connection then carries the stream.
fn sync(c: &mut common::Raw) -> Vec<u8> {
    c.send(&[b"SYNC"]);
    let mut header = String::new();
    c.r.read_line(&mut header).unwrap();
    let len: usize = header.trim_end().strip_prefix('$').unwrap().parse().unwrap();
    let mut rdb = vec![0u8; len];
    c.r.read_exact(&mut rdb).unwrap();
    rdb
}

#[test]
fn sync_ships_a_valid_rdb_then_the_stream() {
    let s = Server::start();
    let mut w = s.raw();
    w.cmd("SET plain hello");
    w.cmd("SET ttl v EX 1000");
    w.cmd("SELECT 5");
    w.cmd(&format!("SET big {}", "x".repeat(20000)));
    let mut r = s.raw();
    let rdb = sync(&mut r);
    assert!(rdb.starts_with(b"REDIS0010"));
    // Writes after the snapshot arrive on the same connection, in order.
    assert_eq!(w.cmd("SET after 1"), "+OK\r\n");
    w.cmd("SELECT 0");
    assert_eq!(w.cmd("DEL plain"), ":1\r\n");
    assert_eq!(r.read(), "*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n");
    assert_eq!(r.read(), "*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n1\r\n");
    assert_eq!(r.read(), "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");
    assert_eq!(r.read(), "*2\r\n$3\r\nDEL\r\n$5\r\nplain\r\n");

    let path = s.dir.join("dump.rdb");
    std::fs::write(&path, &rdb).unwrap();
    let check = Command::new("redis-check-rdb").arg(&path).output().expect("redis-check-rdb installed");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && out.contains("RDB looks OK"), "{out}");

    // A real redis-server loads the snapshot with every key and TTL.
    let port = common::free_port();
    let mut redis = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir", s.dir.to_str().unwrap(), "--dbfilename", "dump.rdb"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let mut c = common::Raw::connect(port);
            if c.cmd("PING") == "+PONG\r\n" {
                assert_eq!(c.cmd("GET plain"), "$5\r\nhello\r\n");
                let ttl: i64 = c.cmd("TTL ttl").trim_start_matches(':').trim().parse().unwrap();
                assert!((990..=1000).contains(&ttl), "ttl {ttl}");
                c.cmd("SELECT 5");
                assert_eq!(c.cmd("STRLEN big"), ":20000\r\n");
                ok = true;
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = redis.kill();
    let _ = redis.wait();
    assert!(ok, "redis-server did not load the snapshot");
}
