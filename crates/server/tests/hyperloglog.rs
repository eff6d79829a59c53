//! HyperLogLog commands against the real server: replies and errors as Redis 7.2, and
//! the stored bytes identical to what a real `redis-server` writes for the same PFADDs
//! and PFMERGEs (Debian's 7.0.15 in CI; its HLL code writes the same bytes as 7.2;
//! set `FERROKV_DIFF_REDIS` to use another binary).

mod common;
use common::{Raw, Server};

use std::io::BufRead;

/// Sends a command and reads its reply byte for byte (`Raw::cmd` decodes lossily,
/// which would hide differing non-UTF-8 bytes).
fn bytes(c: &mut Raw, args: &[&[u8]]) -> Vec<u8> {
    c.send(args);
    let mut out = Vec::new();
    read_reply(&mut c.r, &mut out);
    out
}

fn read_reply(r: &mut impl BufRead, out: &mut Vec<u8>) {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    assert!(line.len() >= 3, "connection closed");
    out.extend_from_slice(&line);
    let n = || -> i64 { std::str::from_utf8(&line[1..line.len() - 2]).unwrap().parse().unwrap() };
    match line[0] {
        b'$' if n() >= 0 => {
            let mut b = vec![0u8; n() as usize + 2];
            r.read_exact(&mut b).unwrap();
            out.extend_from_slice(&b);
        }
        b'*' => {
            for _ in 0..n().max(0) {
                read_reply(r, out);
            }
        }
        _ => {}
    }
}

fn stream(c: &mut Raw) -> String {
    c.cmd("DEBUG REPL-STREAM 100000").replace("\r\n", " ")
}

#[test]
fn pfadd_pfcount_basics() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("PFADD h"), ":1\r\n");
    assert_eq!(c.cmd("PFADD h"), ":0\r\n");
    // An empty HLL: header, sparse encoding, cached 0, one XZERO run of 16384.
    // Creating the key counts as an update, which marks the cached count stale.
    assert_eq!(bytes(&mut c, &[b"GET", b"h"]), b"$18\r\nHYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff\r\n");
    assert_eq!(c.cmd("PFCOUNT h"), ":0\r\n");
    assert_eq!(bytes(&mut c, &[b"GET", b"h"]), b"$18\r\nHYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff\r\n");
    assert_eq!(c.cmd("PFADD h a b c d e f g"), ":1\r\n");
    assert_eq!(c.cmd("PFADD h a b c"), ":0\r\n");
    assert_eq!(c.cmd("PFCOUNT h"), ":7\r\n");
    assert_eq!(c.cmd("PFCOUNT nokey"), ":0\r\n");
    assert_eq!(c.cmd("PFADD h2 f g h i"), ":1\r\n");
    assert_eq!(c.cmd("PFCOUNT h h2 nokey"), ":9\r\n");
    assert_eq!(c.cmd("PFMERGE h3 h h2"), "+OK\r\n");
    assert_eq!(c.cmd("PFCOUNT h3"), ":9\r\n");
    assert_eq!(c.cmd("PFMERGE empty nokey"), "+OK\r\n");
    assert_eq!(c.cmd("PFCOUNT empty"), ":0\r\n");
    assert_eq!(c.cmd("TYPE empty"), "+string\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING h"), "$3\r\nraw\r\n");
    assert_eq!(c.cmd("PFADD"), "-ERR wrong number of arguments for 'pfadd' command\r\n");
    assert_eq!(c.cmd("PFMERGE"), "-ERR wrong number of arguments for 'pfmerge' command\r\n");
    // An existing key keeps its TTL through PFADD and PFMERGE.
    c.cmd("EXPIRE h 100");
    c.cmd("PFADD h zz");
    c.cmd("PFMERGE h h2");
    assert_eq!(c.cmd("TTL h"), ":100\r\n");
}

#[test]
fn type_errors_and_corruption() {
    let s = Server::start();
    let mut c = s.raw();
    let not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
    c.cmd("SET s hello");
    assert_eq!(c.cmd("PFADD s a"), not_hll);
    assert_eq!(c.cmd("PFCOUNT s"), not_hll);
    assert_eq!(c.cmd("PFCOUNT nokey s"), not_hll);
    assert_eq!(c.cmd("PFMERGE d s"), not_hll);
    assert_eq!(c.cmd("EXISTS d"), ":0\r\n");
    c.cmd("HSET hash f v");
    assert_eq!(c.cmd("PFADD hash a"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.cmd("PFCOUNT hash"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    // Bad magic, an encoding past dense/sparse, a dense HLL of the wrong size.
    c.cmd("PFADD h a b c");
    c.cmd("SETRANGE h 0 0");
    assert_eq!(c.cmd("PFADD h x"), not_hll);
    c.cmd("DEL h");
    c.cmd("PFADD h a b c");
    c.cmd("SETRANGE h 4 x");
    assert_eq!(c.cmd("PFCOUNT h"), not_hll);
    c.cmd("DEL h");
    c.cmd("PFADD h a b c");
    c.cmd("PFDEBUG TODENSE h");
    c.cmd("APPEND h hello");
    assert_eq!(c.cmd("PFCOUNT h"), not_hll);
    // Sparse data that does not cover 16384 registers.
    c.cmd("DEL h");
    c.cmd("PFADD h a b c");
    c.cmd("APPEND h hello");
    assert_eq!(c.cmd("PFCOUNT h"), "-INVALIDOBJ Corrupted HLL object detected\r\n");
    assert_eq!(c.cmd("PFCOUNT h nokey"), "-INVALIDOBJ Corrupted HLL object detected\r\n");
    assert_eq!(c.cmd("PFMERGE d h"), "-INVALIDOBJ Corrupted HLL object detected\r\n");
}

#[test]
fn pfdebug_and_promotion() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("PFSELFTEST"), "+OK\r\n");
    c.cmd("PFADD h a b c");
    assert_eq!(c.cmd("PFDEBUG ENCODING h"), "+sparse\r\n");
    let decoded = c.cmd("PFDEBUG DECODE h");
    assert!(decoded.contains("v:") && decoded.contains("Z:"), "{decoded}");
    assert_eq!(c.cmd("PFDEBUG ENCODING nokey"), "-ERR The specified key does not exist\r\n");
    assert_eq!(c.cmd("PFDEBUG FOO h"), "-ERR Unknown PFDEBUG subcommand 'FOO'\r\n");
    assert_eq!(c.cmd("PFDEBUG TODENSE h"), ":1\r\n");
    assert_eq!(c.cmd("PFDEBUG TODENSE h"), ":0\r\n");
    assert_eq!(c.cmd("PFDEBUG DECODE h"), "-ERR HLL encoding is not sparse\r\n");
    assert_eq!(c.cmd("STRLEN h"), ":12304\r\n");
    assert_eq!(c.cmd("PFCOUNT h"), ":3\r\n");
    let regs = c.cmd("PFDEBUG GETREG h");
    assert!(regs.starts_with("*16384\r\n"));
    // Growing past hll-sparse-max-bytes turns the HLL dense.
    c.cmd("CONFIG SET hll-sparse-max-bytes 3000");
    c.cmd("DEL h");
    let mut n = 0;
    while c.cmd("PFDEBUG ENCODING h") != "+dense\r\n" {
        let els: Vec<String> = (0..10).map(|i| format!("e{}", n * 10 + i)).collect();
        c.cmd(&format!("PFADD h {}", els.join(" ")));
        n += 1;
        let len: usize = c.cmd("STRLEN h")[1..].trim().parse().unwrap();
        if len <= 3000 {
            assert_eq!(c.cmd("PFDEBUG ENCODING h"), "+sparse\r\n", "{len}");
        }
        assert!(n < 1000);
    }
    // A lower limit promotes the next growing edit.
    c.cmd("DEL h");
    c.cmd("PFADD h a b c d e d g h i j k");
    c.cmd("CONFIG SET hll-sparse-max-bytes 30");
    c.cmd("PFADD h new_element");
    assert_eq!(c.cmd("PFDEBUG ENCODING h"), "+dense\r\n");
}

#[test]
fn write_stream_effects() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("PFADD h a");
    c.cmd("PFADD h a");
    c.cmd("PFCOUNT h");
    c.cmd("PFCOUNT h");
    c.cmd("PFMERGE m h");
    let st = stream(&mut c);
    assert_eq!(st.matches("PFADD").count(), 1, "{st}");
    // Refreshing the cached count changes the value, so PFCOUNT goes out once.
    assert_eq!(st.matches("PFCOUNT").count(), 1, "{st}");
    assert!(st.contains("*3 $7 PFMERGE $1 m $1 h "), "{st}");
}

/// xorshift64*: the same element sequence on both servers without a shared RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

/// Sends the same command to both servers and requires byte-identical replies.
fn both(a: &mut Raw, b: &mut Raw, args: &[&[u8]]) -> Vec<u8> {
    let ra = bytes(a, args);
    let rb = bytes(b, args);
    let show: Vec<String> = args.iter().take(4).map(|x| String::from_utf8_lossy(x).into_owned()).collect();
    assert!(ra == rb, "reply to {show:?} differs:\nferrokv {:?}\nredis   {:?}", String::from_utf8_lossy(&ra), String::from_utf8_lossy(&rb));
    ra
}

#[test]
fn bytes_identical_to_redis() {
    let (_guard, port) = common::peer::start_redis();
    let s = Server::start();
    let (mut a, mut b) = (s.raw(), Raw::connect(port));
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for max_bytes in ["3000", "200", "1000"] {
        both(&mut a, &mut b, &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", max_bytes.as_bytes()]);
        both(&mut a, &mut b, &[b"FLUSHALL"]);
        // Grow several HLLs in batches of varying size, through sparse into dense,
        // checking the stored bytes and the cached count after every step.
        for round in 0..60 {
            let key = format!("h{}", round % 4);
            let n = (rng.next() % 40) as usize + if round % 7 == 0 { 300 } else { 1 };
            let els: Vec<Vec<u8>> = (0..n)
                .map(|_| match rng.next() % 4 {
                    0 => format!("{}", rng.next() % 100000).into_bytes(),
                    1 => format!("el:{}", rng.next() % 5000).into_bytes(),
                    2 => (0..(rng.next() % 30)).map(|_| rng.next() as u8).collect(),
                    _ => Vec::new(),
                })
                .collect();
            let mut cmd: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
            cmd.extend(els.iter().map(|e| &e[..]));
            both(&mut a, &mut b, &cmd);
            both(&mut a, &mut b, &[b"GET", key.as_bytes()]);
            if round % 3 == 0 {
                both(&mut a, &mut b, &[b"PFCOUNT", key.as_bytes()]);
                both(&mut a, &mut b, &[b"GET", key.as_bytes()]);
            }
            if round % 5 == 0 {
                both(&mut a, &mut b, &[b"PFCOUNT", b"h0", b"h1", b"h2", b"h3", b"missing"]);
                let dest = format!("m{}", round % 3);
                both(&mut a, &mut b, &[b"PFMERGE", dest.as_bytes(), key.as_bytes(), b"h1", b"missing"]);
                both(&mut a, &mut b, &[b"GET", dest.as_bytes()]);
                both(&mut a, &mut b, &[b"PFCOUNT", dest.as_bytes()]);
                both(&mut a, &mut b, &[b"GET", dest.as_bytes()]);
            }
        }
        for k in ["h0", "h1", "h2", "h3", "m0", "m1", "m2"] {
            both(&mut a, &mut b, &[b"PFDEBUG", b"ENCODING", k.as_bytes()]);
        }
    }
    // Big cardinalities, dense throughout, and the estimator at scale.
    both(&mut a, &mut b, &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"3000"]);
    for batch in 0..20 {
        let els: Vec<String> = (0..2500).map(|i| format!("big:{}", batch * 2500 + i)).collect();
        let mut cmd: Vec<&[u8]> = vec![b"PFADD", b"big"];
        cmd.extend(els.iter().map(|e| e.as_bytes()));
        both(&mut a, &mut b, &cmd);
        both(&mut a, &mut b, &[b"PFCOUNT", b"big"]);
    }
    both(&mut a, &mut b, &[b"GET", b"big"]);
    both(&mut a, &mut b, &[b"PFMERGE", b"h0", b"big"]);
    both(&mut a, &mut b, &[b"GET", b"h0"]);
    both(&mut a, &mut b, &[b"PFCOUNT", b"h0", b"big", b"h2"]);
}
