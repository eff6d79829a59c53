//! Protocol handling: RESP2/RESP3, inline commands, pipelining, bad input.

mod common;
use std::io::Read;
use std::time::Duration;

use common::Server;

#[test]
fn inline_commands() {
    let s = Server::start();
    let mut c = s.raw();
    c.send_raw(b"SET \"a b\" 'x y'\r\n");
    assert_eq!(c.read(), "+OK\r\n");
    c.send_raw(b"GET \"a b\"\n");
    assert_eq!(c.read(), "$3\r\nx y\r\n");
    c.send_raw(b"\r\nPING\r\n");
    assert_eq!(c.read(), "+PONG\r\n");
}

#[test]
fn pipeline_of_thousands() {
    let s = Server::start();
    let mut c = s.raw();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n${}\r\nk{i}\r\n$1\r\nv\r\n", format!("k{i}").len()).as_bytes());
    }
    batch.extend_from_slice(b"*1\r\n$6\r\nDBSIZE\r\n");
    c.send_raw(&batch);
    for _ in 0..10_000 {
        assert_eq!(c.read(), "+OK\r\n");
    }
    assert_eq!(c.read(), ":10000\r\n");
}

#[test]
fn protocol_errors_close_only_that_client() {
    let s = Server::start();
    let mut good = s.raw();
    good.cmd("SET k v");
    let cases: &[(&[u8], &str)] = &[
        (b"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+foo\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"*1\r\n$-10\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*3000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"SET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
    ];
    for (input, want) in cases {
        let mut bad = s.raw();
        bad.send_raw(input);
        assert_eq!(&bad.read(), want);
        assert!(bad.closed(), "connection not closed after {want}");
    }
    assert_eq!(good.cmd("GET k"), "$1\r\nv\r\n");
}

#[test]
fn bulk_larger_than_proto_max_bulk_len() {
    let s = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut c = s.raw();
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    assert_eq!(c.read(), "-ERR Protocol error: invalid bulk length\r\n");
    assert!(c.closed());
}

#[test]
fn query_buffer_limit_closes_client() {
    let s = Server::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut c = s.raw();
    // An incomplete 3MB argument: the buffer passes the limit before the command ends.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..40 {
        if std::io::Write::write_all(&mut c.w, &chunk).is_err() {
            closed = true;
            break;
        }
    }
    c.w.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 16];
    closed |= matches!(c.w.read(&mut b), Ok(0) | Err(_));
    assert!(closed);
    assert_eq!(s.raw().cmd("PING"), "+PONG\r\n");
}

#[test]
fn resp3_types() {
    let s = Server::start();
    let mut c = s.raw();
    let hello = c.cmd("HELLO 3");
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.6\r\n$5\r\nproto\r\n:3\r\n"), "{hello}");
    assert_eq!(c.cmd("GET nope"), "_\r\n");
    assert_eq!(c.cmd("DEBUG PROTOCOL double"), ",3.141\r\n");
    assert_eq!(c.cmd("DEBUG PROTOCOL true"), "#t\r\n");
    assert_eq!(c.cmd("DEBUG PROTOCOL map"), "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n");
    assert_eq!(c.cmd("DEBUG PROTOCOL set"), "~3\r\n:0\r\n:1\r\n:2\r\n");
    assert_eq!(c.cmd("DEBUG PROTOCOL bignum"), "(1234567999999999999999999999999999999\r\n");
    assert_eq!(c.cmd("DEBUG PROTOCOL verbatim"), "=29\r\ntxt:This is a verbatim\nstring\r\n");
    assert_eq!(
        c.cmd("DEBUG PROTOCOL attrib"),
        "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n"
    );
    assert_eq!(c.cmd("DEBUG PROTOCOL push"), ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n");
    assert_eq!(c.read(), "$40\r\nSome real reply following the push reply\r\n");
    assert!(c.cmd("CONFIG GET port").starts_with("%1\r\n"));
    assert_eq!(c.cmd("HELLO 2").chars().next(), Some('*'));
    assert_eq!(c.cmd("GET nope"), "$-1\r\n");
    assert_eq!(c.cmd("HELLO 4"), "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(c.cmd("HELLO x"), "-ERR Protocol version is not an integer or out of range\r\n");
}

#[test]
fn redis_crate_resp3_and_pipeline() {
    let s = Server::start();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut p = redis::pipe();
    for i in 0..100 {
        p.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    p.cmd("MGET").arg("p1").arg("p99").arg("missing");
    let (vals,): (Vec<Option<i64>>,) = p.query(&mut con).unwrap();
    assert_eq!(vals, vec![Some(1), Some(99), None]);
}

#[test]
fn errors_match_redis() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("FOO a b"), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
    assert_eq!(c.cmd("GET"), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(c.cmd("CONFIG"), "-ERR wrong number of arguments for 'config' command\r\n");
    assert_eq!(c.cmd("CONFIG FOO"), "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n");
    assert_eq!(c.cmd("CONFIG GET"), "-ERR wrong number of arguments for 'config|get' command\r\n");
}

#[test]
fn redis_cli_works() {
    let s = Server::start();
    assert_eq!(s.cli(&["SET", "greeting", "hello world"]).trim(), "OK");
    assert_eq!(s.cli(&["GET", "greeting"]).trim(), "hello world");
    assert_eq!(s.cli(&["INCR", "n"]).trim(), "1");
    assert!(s.cli(&["INFO", "server"]).contains("redis_version:7.2.6"));
    assert!(s.cli(&["--no-raw", "GET", "missing"]).contains("(nil)"));
}
