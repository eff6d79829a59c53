//! Pub/Sub against the real server: several subscribers, patterns, shard channels,
//! both protocols, the RESP2 subscribed-mode restrictions, PUBSUB introspection and the
//! output buffer limit that disconnects a subscriber that does not read.

mod common;
use std::time::Duration;

use common::{eventually, Server};

fn msg(kind: &str, parts: &[&str]) -> String {
    let mut s = format!("*{}\r\n${}\r\n{}\r\n", parts.len() + 1, kind.len(), kind);
    for p in parts {
        s.push_str(&format!("${}\r\n{}\r\n", p.len(), p));
    }
    s
}

#[test]
fn subscribe_publish_and_unsubscribe() {
    let s = Server::start();
    let mut sub = s.raw();
    let mut psub = s.raw();
    let mut p = s.raw();
    sub.send(&[b"SUBSCRIBE", b"news", b"sport"]);
    assert_eq!(sub.read(), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    assert_eq!(sub.read(), "*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n");
    assert_eq!(psub.cmd("PSUBSCRIBE n*"), "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n");
    assert_eq!(p.cmd("PUBLISH news hello"), ":2\r\n");
    assert_eq!(sub.read(), msg("message", &["news", "hello"]));
    assert_eq!(psub.read(), msg("pmessage", &["n*", "news", "hello"]));
    assert_eq!(p.cmd("PUBLISH nothing x"), ":1\r\n");
    assert_eq!(psub.read(), msg("pmessage", &["n*", "nothing", "x"]));
    assert_eq!(p.cmd("PUBLISH other x"), ":0\r\n");
    // Introspection.
    let chans = p.cmd("PUBSUB CHANNELS");
    assert!(chans.starts_with("*2\r\n") && chans.contains("news") && chans.contains("sport"), "{chans}");
    assert_eq!(p.cmd("PUBSUB CHANNELS s*"), "*1\r\n$5\r\nsport\r\n");
    assert_eq!(p.cmd("PUBSUB NUMSUB news none"), "*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n");
    assert_eq!(p.cmd("PUBSUB NUMPAT"), ":1\r\n");
    // RESP2 subscribed mode only allows the subscription commands, PING, QUIT, RESET.
    assert_eq!(
        sub.cmd("GET x"),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(sub.cmd("PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    sub.send(&[b"UNSUBSCRIBE"]);
    let a = sub.read();
    let b = sub.read();
    assert!(a.contains("unsubscribe") && b.ends_with(":0\r\n"), "{a}{b}");
    assert_eq!(sub.cmd("UNSUBSCRIBE"), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(sub.cmd("GET x"), "$-1\r\n");
    assert_eq!(p.cmd("PUBLISH news again"), ":1\r\n");
    // A client that goes away is unsubscribed.
    drop(psub);
    assert!(eventually(Duration::from_secs(5), || p.cmd("PUBSUB NUMPAT") == ":0\r\n"));
}

#[test]
fn resp3_push_frames_and_publishing_to_self() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("SUBSCRIBE me"), ">3\r\n$9\r\nsubscribe\r\n$2\r\nme\r\n:1\r\n");
    // Any command works in RESP3; our own message follows PUBLISH's reply (Redis 7.2).
    assert_eq!(c.cmd("SET k v"), "+OK\r\n");
    c.send(&[b"PUBLISH", b"me", b"hi"]);
    assert_eq!(c.read(), ":1\r\n");
    assert_eq!(c.read(), ">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$2\r\nhi\r\n");
    assert_eq!(c.cmd("PUBSUB NUMSUB me"), "%1\r\n$2\r\nme\r\n:1\r\n");
}

#[test]
fn shard_channels() {
    let s = Server::start();
    let mut sub = s.raw();
    let mut p = s.raw();
    assert_eq!(sub.cmd("SSUBSCRIBE orders"), "*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n");
    assert_eq!(p.cmd("SPUBLISH orders o1"), ":1\r\n");
    assert_eq!(sub.read(), msg("smessage", &["orders", "o1"]));
    // Shard channels are their own namespace.
    assert_eq!(p.cmd("PUBLISH orders o2"), ":0\r\n");
    assert_eq!(p.cmd("PUBSUB SHARDCHANNELS"), "*1\r\n$6\r\norders\r\n");
    assert_eq!(p.cmd("PUBSUB SHARDNUMSUB orders"), "*2\r\n$6\r\norders\r\n:1\r\n");
    assert_eq!(p.cmd("PUBSUB CHANNELS"), "*0\r\n");
    assert_eq!(sub.cmd("SUNSUBSCRIBE orders"), "*3\r\n$12\r\nsunsubscribe\r\n$6\r\norders\r\n:0\r\n");
}

#[test]
fn slow_subscriber_is_disconnected_by_the_output_buffer_limit() {
    let s = Server::start_with(&["--client-output-buffer-limit", "pubsub 1mb 512kb 60"]);
    let mut slow = s.raw();
    slow.cmd("SUBSCRIBE firehose");
    let mut p = s.raw();
    let payload = "x".repeat(64 * 1024);
    // The subscriber never reads: once the kernel buffers fill, its queue grows past 1mb.
    let mut dropped = false;
    for _ in 0..2000 {
        p.cmd_args(&[b"PUBLISH", b"firehose", payload.as_bytes()]);
        if p.cmd("PUBSUB NUMSUB firehose") == "*2\r\n$8\r\nfirehose\r\n:0\r\n" {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the subscriber was never disconnected");
    assert_eq!(p.cmd("PING"), "+PONG\r\n");
}
