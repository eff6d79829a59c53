//! Bitmap commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO) against
//! the real server, compared with Redis 7.2's exact replies.

mod common;
use common::{Raw, Server};
use std::io::{BufRead, Read};

/// SET with a binary value.
fn set(c: &mut Raw, key: &str, val: &[u8]) {
    assert_eq!(c.cmd_args(&[b"SET", key.as_bytes(), val]), "+OK\r\n");
}

/// GET returning the exact bytes.
fn get(c: &mut Raw, key: &str) -> Option<Vec<u8>> {
    c.send(&[b"GET", key.as_bytes()]);
    let mut line = Vec::new();
    c.r.read_until(b'\n', &mut line).unwrap();
    assert_eq!(line[0], b'$', "GET reply {:?}", String::from_utf8_lossy(&line));
    let n: i64 = std::str::from_utf8(&line[1..line.len() - 2]).unwrap().parse().unwrap();
    if n < 0 {
        return None;
    }
    let mut buf = vec![0u8; n as usize + 2];
    c.r.read_exact(&mut buf).unwrap();
    buf.truncate(n as usize);
    Some(buf)
}

/// INFO's rdb_changes_since_last_save.
fn dirty(c: &mut Raw) -> i64 {
    let info = c.cmd("INFO persistence");
    let line = info.lines().find(|l| l.starts_with("rdb_changes_since_last_save:")).expect("rdb_changes_since_last_save");
    line.split(':').nth(1).unwrap().trim().parse().unwrap()
}

/// The whole write stream so far (fresh servers keep it well under the size asked),
/// without the bulk reply's framing.
fn stream(c: &mut Raw) -> String {
    let reply = c.cmd("DEBUG REPL-STREAM 1000000");
    let body = reply.split_once("\r\n").expect("bulk reply").1;
    body.strip_suffix("\r\n").expect("bulk reply").to_string()
}

const OFFSET_ERR: &str = "-ERR bit offset is not an integer or out of range\r\n";
const TYPE_ERR: &str = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const RO_ERR: &str = "-ERR BITFIELD_RO only supports the GET subcommand\r\n";

#[test]
fn setbit_getbit() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("SETBIT k 7 1"), ":0\r\n");
    assert_eq!(c.cmd("GETBIT k 7"), ":1\r\n");
    assert_eq!(c.cmd("GETBIT k 6"), ":0\r\n");
    assert_eq!(get(&mut c, "k"), Some(b"\x01".to_vec()));
    assert_eq!(c.cmd("SETBIT k 7 1"), ":1\r\n");
    assert_eq!(c.cmd("SETBIT k 7 0"), ":1\r\n");
    assert_eq!(c.cmd("SETBIT k 100 1"), ":0\r\n");
    assert_eq!(c.cmd("STRLEN k"), ":13\r\n");
    assert_eq!(c.cmd("GETBIT k 100"), ":1\r\n");
    assert_eq!(c.cmd("GETBIT k 1000"), ":0\r\n");
    assert_eq!(c.cmd("GETBIT missing 0"), ":0\r\n");
    // Clearing a bit of a missing key still creates it.
    assert_eq!(c.cmd("SETBIT z 9 0"), ":0\r\n");
    assert_eq!(get(&mut c, "z"), Some(b"\x00\x00".to_vec()));
    // An integer-encoded value is addressed through its digits: '1' is 0x31.
    assert_eq!(c.cmd("SET n 1"), "+OK\r\n");
    assert_eq!(c.cmd("GETBIT n 2"), ":1\r\n");
    assert_eq!(c.cmd("GETBIT n 1"), ":0\r\n");
    assert_eq!(c.cmd("SETBIT n 6 1"), ":0\r\n");
    assert_eq!(c.cmd("GET n"), "$1\r\n3\r\n");
    // SETBIT keeps the TTL.
    assert_eq!(c.cmd("SET t x EX 100"), "+OK\r\n");
    assert_eq!(c.cmd("SETBIT t 100 1"), ":0\r\n");
    assert_eq!(c.cmd("TTL t"), ":100\r\n");

    assert_eq!(c.cmd("SETBIT k -1 1"), OFFSET_ERR);
    assert_eq!(c.cmd("SETBIT k abc 1"), OFFSET_ERR);
    assert_eq!(c.cmd("SETBIT k #1 1"), OFFSET_ERR);
    assert_eq!(c.cmd("SETBIT k 4294967296 1"), OFFSET_ERR);
    assert_eq!(c.cmd("GETBIT k 4294967296"), OFFSET_ERR);
    assert_eq!(c.cmd("GETBIT k -1"), OFFSET_ERR);
    assert_eq!(c.cmd("SETBIT k 0 2"), "-ERR bit is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SETBIT k 0 -1"), "-ERR bit is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SETBIT k 0 abc"), "-ERR bit is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SETBIT k 0 01"), "-ERR bit is not an integer or out of range\r\n");
    // The offset is checked before the value.
    assert_eq!(c.cmd("SETBIT k -1 2"), OFFSET_ERR);
    assert_eq!(c.cmd("SETBIT k 0"), "-ERR wrong number of arguments for 'setbit' command\r\n");
    assert_eq!(c.cmd("GETBIT k"), "-ERR wrong number of arguments for 'getbit' command\r\n");
    assert_eq!(c.cmd("EXISTS missing"), ":0\r\n");
}

#[test]
fn setbit_offset_follows_proto_max_bulk_len() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("CONFIG SET proto-max-bulk-len 1048576"), "+OK\r\n");
    assert_eq!(c.cmd("SETBIT k 8388608 1"), OFFSET_ERR);
    assert_eq!(c.cmd("BITFIELD k SET u8 8388608 1"), OFFSET_ERR);
    assert_eq!(c.cmd("SETBIT k 8388607 1"), ":0\r\n");
    assert_eq!(c.cmd("STRLEN k"), ":1048576\r\n");
    assert_eq!(c.cmd("BITFIELD k GET u8 8388607"), "*1\r\n:128\r\n");
}

#[test]
fn bitcount() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("BITCOUNT no-key"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT no-key 0 1000 bit"), ":0\r\n");
    // A missing key counts 0 before the arguments are even looked at.
    assert_eq!(c.cmd("BITCOUNT no-key 0"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT no-key a b c d"), ":0\r\n");
    assert_eq!(c.cmd("SET s foobar"), "+OK\r\n");
    assert_eq!(c.cmd("BITCOUNT s"), ":26\r\n");
    assert_eq!(c.cmd("BITCOUNT s 0 0"), ":4\r\n");
    assert_eq!(c.cmd("BITCOUNT s 1 1"), ":6\r\n");
    assert_eq!(c.cmd("BITCOUNT s 1 -2"), ":18\r\n");
    assert_eq!(c.cmd("BITCOUNT s -2 1"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT s 0 1000"), ":26\r\n");
    assert_eq!(c.cmd("BITCOUNT s 0 4294967296"), ":26\r\n");
    assert_eq!(c.cmd("BITCOUNT s 4 10"), ":7\r\n");
    assert_eq!(c.cmd("BITCOUNT s 6 10"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT s 0 -1 BIT"), ":26\r\n");
    assert_eq!(c.cmd("BITCOUNT s 0 -1 byte"), ":26\r\n");
    assert_eq!(c.cmd("BITCOUNT s 5 30 bit"), ":17\r\n");
    assert_eq!(c.cmd("BITCOUNT s 10 14 bit"), ":4\r\n");
    assert_eq!(c.cmd("BITCOUNT s 3 14 bit"), ":7\r\n");
    assert_eq!(c.cmd("BITCOUNT s 10 -34 bit"), ":4\r\n");
    assert_eq!(c.cmd("BITCOUNT s -2 1 bit"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT s 0 1000 bit"), ":26\r\n");
    assert_eq!(c.cmd("BITCOUNT s 48 100 bit"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT s 1 1 bit"), ":1\r\n");
    // Both ends negative with start > end is 0 straight away, even where clamping
    // both to 0 would have counted the first byte, and before the unit is checked.
    assert_eq!(c.cmd("BITCOUNT s -6 -7"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT s -20 -30"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT s -1 -2 hello"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT s -30 -20"), ":4\r\n");
    assert_eq!(c.cmd("BITCOUNT s -6 -15 bit"), ":0\r\n");

    assert_eq!(c.cmd("BITCOUNT s 0"), SYNTAX);
    assert_eq!(c.cmd("BITCOUNT s 0 1 hello"), SYNTAX);
    assert_eq!(c.cmd("BITCOUNT s 0 1 BIT x"), SYNTAX);
    assert_eq!(c.cmd("BITCOUNT s a 1"), NOT_INT);
    assert_eq!(c.cmd("BITCOUNT s 0 b"), NOT_INT);
    assert_eq!(c.cmd("BITCOUNT s 0 b hello"), NOT_INT);
    assert_eq!(c.cmd("BITCOUNT"), "-ERR wrong number of arguments for 'bitcount' command\r\n");

    assert_eq!(c.cmd("SET e "), "+OK\r\n");
    assert_eq!(c.cmd("BITCOUNT e"), ":0\r\n");
    assert_eq!(c.cmd("BITCOUNT e 0 -1 bit"), ":0\r\n");
    assert_eq!(c.cmd("SET str ab"), "+OK\r\n");
    assert_eq!(c.cmd("BITCOUNT str 1 -1"), ":3\r\n");
    assert_eq!(c.cmd("SET str __PPxxxxxxxxxxxxxxxxRR__"), "+OK\r\n");
    assert_eq!(c.cmd("BITCOUNT str 2 -3"), ":74\r\n");
    assert_eq!(c.cmd("BITCOUNT str 17 -20 bit"), ":73\r\n");
    assert_eq!(c.cmd("SET num 123"), "+OK\r\n");
    assert_eq!(c.cmd("BITCOUNT num"), ":10\r\n");
}

#[test]
fn bitpos() {
    let s = Server::start();
    let mut c = s.raw();
    // A missing key is an endless run of zeros, whatever the range.
    assert_eq!(c.cmd("BITPOS str 0"), ":0\r\n");
    assert_eq!(c.cmd("BITPOS str 1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 0 -1 bit"), ":0\r\n");
    assert_eq!(c.cmd("BITPOS str 1 0 -1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 a b c d"), ":0\r\n");

    set(&mut c, "str", b"\xff\xf0\x00");
    assert_eq!(c.cmd("BITPOS str 0"), ":12\r\n");
    assert_eq!(c.cmd("BITPOS str 0 0 -1 bit"), ":12\r\n");
    assert_eq!(c.cmd("BITPOS str 0 1"), ":12\r\n");
    assert_eq!(c.cmd("BITPOS str 0 1 -1 bit"), ":12\r\n");
    set(&mut c, "str", b"\x00\x0f\x00");
    assert_eq!(c.cmd("BITPOS str 1"), ":12\r\n");
    assert_eq!(c.cmd("BITPOS str 1 0 -1 bit"), ":12\r\n");
    set(&mut c, "str", b"\x00\x0f\xff");
    assert_eq!(c.cmd("BITPOS str 1 1"), ":12\r\n");
    assert_eq!(c.cmd("BITPOS str 1 1 -1 bit"), ":12\r\n");

    set(&mut c, "str", b"\x00\xff\x00");
    assert_eq!(c.cmd("BITPOS str 0 0 -1"), ":0\r\n");
    assert_eq!(c.cmd("BITPOS str 0 1 -1"), ":16\r\n");
    assert_eq!(c.cmd("BITPOS str 0 2 -1"), ":16\r\n");
    assert_eq!(c.cmd("BITPOS str 0 2 200"), ":16\r\n");
    assert_eq!(c.cmd("BITPOS str 0 1 1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 0 -1 bit"), ":0\r\n");
    assert_eq!(c.cmd("BITPOS str 0 8 -1 bit"), ":16\r\n");
    assert_eq!(c.cmd("BITPOS str 0 16 200 bit"), ":16\r\n");
    assert_eq!(c.cmd("BITPOS str 0 8 8 bit"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 9 14 BIT"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 9 20 BIT"), ":16\r\n");
    assert_eq!(c.cmd("BITPOS str 1 0 -1"), ":8\r\n");
    assert_eq!(c.cmd("BITPOS str 1 1 -1"), ":8\r\n");
    assert_eq!(c.cmd("BITPOS str 1 2 -1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 1 2 200"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 1 1 1"), ":8\r\n");
    assert_eq!(c.cmd("BITPOS str 1 3 9 BIT"), ":8\r\n");
    assert_eq!(c.cmd("BITPOS str 1 10 13 bit"), ":10\r\n");
    assert_eq!(c.cmd("BITPOS str 1 17 23 bit"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 1 -8 -1 bit"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 1 -17 -1 bit"), ":8\r\n");
    assert_eq!(c.cmd("BITPOS str 0 3 1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 5"), ":-1\r\n");

    // Looking for a 0 without an end: the string continues with zeros.
    set(&mut c, "str", b"\xff\xff\xff");
    assert_eq!(c.cmd("BITPOS str 0"), ":24\r\n");
    assert_eq!(c.cmd("BITPOS str 0 0"), ":24\r\n");
    assert_eq!(c.cmd("BITPOS str 0 2"), ":24\r\n");
    assert_eq!(c.cmd("BITPOS str 0 -1"), ":24\r\n");
    assert_eq!(c.cmd("BITPOS str 0 0 -1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 0 -1 bit"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS str 0 0 -1 byte"), ":-1\r\n");

    // Unaligned prefix, full words, remainder.
    let mut v = vec![0xffu8; 27];
    v.push(0x0f);
    set(&mut c, "str", &v);
    for start in 0..9 {
        assert_eq!(c.cmd(&format!("BITPOS str 0 {start}")), ":216\r\n");
        assert_eq!(c.cmd(&format!("BITPOS str 0 {} -1 bit", start * 8 + 1)), ":216\r\n");
    }
    let mut v = vec![0u8; 27];
    v.push(0xf0);
    set(&mut c, "str", &v);
    for start in 0..9 {
        assert_eq!(c.cmd(&format!("BITPOS str 1 {start}")), ":216\r\n");
        assert_eq!(c.cmd(&format!("BITPOS str 1 {} -1 bit", start * 8 + 1)), ":216\r\n");
    }
    assert_eq!(c.cmd("SET empty "), "+OK\r\n");
    assert_eq!(c.cmd("BITPOS empty 1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS empty 0"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS empty 0 0 -1 bit"), ":-1\r\n");
    set(&mut c, "zero", &[0u8; 20]);
    assert_eq!(c.cmd("BITPOS zero 1"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS zero 1 0 -1 bit"), ":-1\r\n");
    assert_eq!(c.cmd("BITPOS zero 0 3"), ":24\r\n");

    assert_eq!(c.cmd("BITPOS str 2"), "-ERR The bit argument must be 1 or 0.\r\n");
    assert_eq!(c.cmd("BITPOS missing 2"), "-ERR The bit argument must be 1 or 0.\r\n");
    assert_eq!(c.cmd("BITPOS str abc"), NOT_INT);
    assert_eq!(c.cmd("BITPOS str 1 a"), NOT_INT);
    assert_eq!(c.cmd("BITPOS str 1 0 a"), NOT_INT);
    // The unit is checked before the end.
    assert_eq!(c.cmd("BITPOS str 1 0 a bits"), SYNTAX);
    assert_eq!(c.cmd("BITPOS str 1 0 a BIT"), NOT_INT);
    assert_eq!(c.cmd("BITPOS str 1 0 1 bits"), SYNTAX);
    assert_eq!(c.cmd("BITPOS str 1 0 1 BIT x"), SYNTAX);
    assert_eq!(c.cmd("BITPOS str 1 0 BIT"), NOT_INT);
    assert_eq!(c.cmd("BITPOS str"), "-ERR wrong number of arguments for 'bitpos' command\r\n");
}

#[test]
fn bitop() {
    let s = Server::start();
    let mut c = s.raw();
    set(&mut c, "s", b"\xaa\x00\xff\x55");
    assert_eq!(c.cmd("BITOP NOT dest s"), ":4\r\n");
    assert_eq!(get(&mut c, "dest"), Some(b"\x55\xff\x00\xaa".to_vec()));
    assert_eq!(c.cmd("BITOP not s s"), ":4\r\n");
    assert_eq!(get(&mut c, "s"), Some(b"\x55\xff\x00\xaa".to_vec()));

    set(&mut c, "a", b"\x01\x02\xff\xff");
    set(&mut c, "b", b"\x01\x02\xff");
    assert_eq!(c.cmd("BITOP AND r1 a b"), ":4\r\n");
    assert_eq!(c.cmd("BITOP OR r2 a b"), ":4\r\n");
    assert_eq!(c.cmd("BITOP XOR r3 a b"), ":4\r\n");
    assert_eq!(get(&mut c, "r1"), Some(b"\x01\x02\xff\x00".to_vec()));
    assert_eq!(get(&mut c, "r2"), Some(b"\x01\x02\xff\xff".to_vec()));
    assert_eq!(get(&mut c, "r3"), Some(b"\x00\x00\x00\xff".to_vec()));
    // Missing keys are streams of zeros.
    assert_eq!(c.cmd("BITOP and r1 no-key b"), ":3\r\n");
    assert_eq!(c.cmd("BITOP or r2 no-key b no-key2"), ":3\r\n");
    assert_eq!(get(&mut c, "r1"), Some(b"\x00\x00\x00".to_vec()));
    assert_eq!(get(&mut c, "r2"), Some(b"\x01\x02\xff".to_vec()));
    assert_eq!(c.cmd("BITOP AND r3 b"), ":3\r\n");
    assert_eq!(get(&mut c, "r3"), Some(b"\x01\x02\xff".to_vec()));
    // Only missing or empty sources: the target is deleted.
    assert_eq!(c.cmd("BITOP OR r3 no-key no-key2"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS r3"), ":0\r\n");
    assert_eq!(c.cmd("SET empty "), "+OK\r\n");
    assert_eq!(c.cmd("BITOP NOT r2 empty"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS r2"), ":0\r\n");
    assert_eq!(c.cmd("BITOP XOR r9 no-key"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS r9"), ":0\r\n");
    // Integer-encoded sources are their digits.
    assert_eq!(c.cmd("SET x 1"), "+OK\r\n");
    assert_eq!(c.cmd("SET y 2"), "+OK\r\n");
    assert_eq!(c.cmd("BITOP XOR dest x y x"), ":1\r\n");
    assert_eq!(c.cmd("GET dest"), "$1\r\n2\r\n");
    // The target loses its TTL.
    assert_eq!(c.cmd("SET t v EX 100"), "+OK\r\n");
    assert_eq!(c.cmd("BITOP OR t x"), ":1\r\n");
    assert_eq!(c.cmd("TTL t"), ":-1\r\n");
    set(&mut c, "long", &[0u8; 32]);
    assert_eq!(c.cmd("BITOP OR r4 long no-key"), ":32\r\n");

    assert_eq!(c.cmd("BITOP NAND dest a b"), SYNTAX);
    assert_eq!(c.cmd("BITOP NOT dest a b"), "-ERR BITOP NOT must be called with a single source key.\r\n");
    assert_eq!(c.cmd("BITOP AND dest"), "-ERR wrong number of arguments for 'bitop' command\r\n");
}

#[test]
fn bitfield_set_get_incrby() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("BITFIELD bits SET i8 0 -100"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD bits SET i8 0 101"), "*1\r\n:-100\r\n");
    assert_eq!(c.cmd("BITFIELD bits GET i8 0"), "*1\r\n:101\r\n");
    assert_eq!(c.cmd("DEL bits"), ":1\r\n");
    assert_eq!(c.cmd("BITFIELD bits SET u8 0 255"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD bits SET u8 0 100"), "*1\r\n:255\r\n");
    assert_eq!(c.cmd("BITFIELD bits GET u8 0"), "*1\r\n:100\r\n");
    assert_eq!(c.cmd("DEL bits"), ":1\r\n");
    assert_eq!(c.cmd("BITFIELD bits set i8 0 255 set i8 0 100 get i8 0"), "*3\r\n:0\r\n:-1\r\n:100\r\n");
    assert_eq!(c.cmd("DEL bits"), ":1\r\n");
    assert_eq!(c.cmd("bitfield bits SET u8 0 255 INCRBY u8 0 100 GET u8 0"), "*3\r\n:0\r\n:99\r\n:99\r\n");
    assert_eq!(c.cmd("BITFIELD nothing"), "*0\r\n");
    assert_eq!(c.cmd("BITFIELD_RO nothing"), "*0\r\n");

    // #N offsets count fields of the type's width.
    assert_eq!(c.cmd("DEL bits"), ":1\r\n");
    assert_eq!(c.cmd("BITFIELD bits SET u8 #0 65 SET u8 #1 66 SET u8 #2 67"), "*3\r\n:0\r\n:0\r\n:0\r\n");
    assert_eq!(c.cmd("GET bits"), "$3\r\nABC\r\n");
    assert_eq!(c.cmd("BITFIELD bits GET u4 #1 GET u4 #2 GET i16 #1"), "*3\r\n:1\r\n:4\r\n:17152\r\n");
    assert_eq!(c.cmd("BITFIELD bits SET u8 #0 10 INCRBY u8 #0 100 INCRBY u8 #0 100"), "*3\r\n:65\r\n:110\r\n:210\r\n");

    // Unaligned fields, big endian at the bit level.
    assert_eq!(c.cmd("BITFIELD u SET u5 7 23"), "*1\r\n:0\r\n");
    assert_eq!(get(&mut c, "u"), Some(b"\x01\x70".to_vec()));
    assert_eq!(c.cmd("BITFIELD u GET u5 7 GET i5 7 GET u3 8 GET u1 7 GET u16 0"), "*5\r\n:23\r\n:-9\r\n:3\r\n:1\r\n:368\r\n");
    // Reads past the end are zeros and do not grow the string.
    assert_eq!(c.cmd("BITFIELD u GET u8 1000 GET i64 9 GET u63 1"), "*3\r\n:0\r\n:-2305843009213693952\r\n:103582791429521408\r\n");
    assert_eq!(c.cmd("STRLEN u"), ":2\r\n");
    // A write past the end pads with zeros up to the last byte written.
    assert_eq!(c.cmd("BITFIELD u SET u4 30 0"), "*1\r\n:0\r\n");
    assert_eq!(get(&mut c, "u"), Some(b"\x01\x70\x00\x00\x00".to_vec()));

    // Extreme widths.
    assert_eq!(
        c.cmd("BITFIELD w SET i64 0 -9223372036854775808 GET i64 0 GET u63 0 GET u63 1"),
        "*4\r\n:0\r\n:-9223372036854775808\r\n:4611686018427387904\r\n:0\r\n"
    );
    assert_eq!(c.cmd("BITFIELD w INCRBY i64 0 -1"), "*1\r\n:9223372036854775807\r\n");
    assert_eq!(
        c.cmd("BITFIELD w OVERFLOW SAT INCRBY i64 0 1 OVERFLOW FAIL INCRBY i64 0 1 OVERFLOW WRAP INCRBY i64 0 1"),
        "*3\r\n:9223372036854775807\r\n$-1\r\n:-9223372036854775808\r\n"
    );
    assert_eq!(c.cmd("BITFIELD w SET u63 0 9223372036854775807 INCRBY u63 0 1"), "*2\r\n:4611686018427387904\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD w SET i1 0 -1 GET u1 0 SET i1 0 1 GET i1 0"), "*4\r\n:0\r\n:1\r\n:-1\r\n:-1\r\n");

    // Integer-encoded values are their digits.
    assert_eq!(c.cmd("SET bits 1"), "+OK\r\n");
    assert_eq!(c.cmd("BITFIELD bits GET u1 0 GET u8 0"), "*2\r\n:0\r\n:49\r\n");
    assert_eq!(c.cmd("BITFIELD mystring SET i8 0 10 SET i8 64 10 INCRBY i8 10 99900"), "*3\r\n:0\r\n:0\r\n:60\r\n");
    // BITFIELD keeps the TTL.
    assert_eq!(c.cmd("SET t x EX 100"), "+OK\r\n");
    assert_eq!(c.cmd("BITFIELD t SET u8 0 65 SET u8 16 66"), "*2\r\n:120\r\n:0\r\n");
    assert_eq!(c.cmd("TTL t"), ":100\r\n");
    assert_eq!(get(&mut c, "t"), Some(b"A\x00B".to_vec()));
}

#[test]
fn bitfield_overflow() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("BITFIELD bits SET u8 #0 100"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD bits OVERFLOW WRAP INCRBY u8 #0 257 GET u8 #0"), "*2\r\n:101\r\n:101\r\n");
    assert_eq!(c.cmd("BITFIELD bits overflow wrap incrby u8 #0 255 get u8 #0"), "*2\r\n:100\r\n:100\r\n");
    assert_eq!(c.cmd("BITFIELD bits OVERFLOW SAT INCRBY u8 #0 257 GET u8 #0"), "*2\r\n:255\r\n:255\r\n");
    assert_eq!(c.cmd("BITFIELD bits OVERFLOW sat INCRBY u8 #0 -256 GET u8 #0"), "*2\r\n:0\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD bits SET i8 #0 100"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD bits INCRBY i8 #0 257 GET i8 #0"), "*2\r\n:101\r\n:101\r\n");
    assert_eq!(c.cmd("BITFIELD bits INCRBY i8 #0 255 GET i8 #0"), "*2\r\n:100\r\n:100\r\n");
    assert_eq!(c.cmd("BITFIELD bits OVERFLOW SAT INCRBY i8 #0 257 GET i8 #0"), "*2\r\n:127\r\n:127\r\n");
    assert_eq!(c.cmd("BITFIELD bits OVERFLOW SAT INCRBY i8 #0 -255 GET i8 #0"), "*2\r\n:-128\r\n:-128\r\n");
    // FAIL skips the write and answers nil; OVERFLOW applies to what follows it.
    assert_eq!(
        c.cmd("BITFIELD bits OVERFLOW FAIL INCRBY i8 #0 -1 INCRBY i8 #0 1 OVERFLOW WRAP INCRBY i8 #0 -2"),
        "*3\r\n$-1\r\n:-127\r\n:127\r\n"
    );
    assert_eq!(
        c.cmd("BITFIELD bits INCRBY u2 100 1 OVERFLOW FAIL INCRBY u2 100 1 INCRBY u2 100 1 INCRBY u2 100 1 GET u2 100"),
        "*5\r\n:1\r\n:2\r\n:3\r\n$-1\r\n:3\r\n"
    );
    assert_eq!(
        c.cmd("BITFIELD bits OVERFLOW FAIL SET i8 0 128 SET i8 0 -129 SET u8 0 256 SET u8 0 -1 SET i8 0 -128"),
        "*5\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n:127\r\n"
    );
    // SET values out of range: WRAP keeps the low bits, SAT clamps.
    assert_eq!(c.cmd("BITFIELD s SET u8 0 257 GET u8 0 SET u8 0 -2 GET u8 0"), "*4\r\n:0\r\n:1\r\n:1\r\n:254\r\n");
    assert_eq!(c.cmd("BITFIELD s SET i8 0 200 GET i8 0 SET i4 0 -9 GET i4 0"), "*4\r\n:-2\r\n:-56\r\n:-4\r\n:7\r\n");
    assert_eq!(
        c.cmd("BITFIELD s OVERFLOW SAT SET u8 0 300 GET u8 0 SET i8 0 -300 GET i8 0 SET i8 0 300 GET i8 0"),
        "*6\r\n:120\r\n:255\r\n:-1\r\n:-128\r\n:-128\r\n:127\r\n"
    );
    // Redis quirks kept: a negative SET on an unsigned field saturates to the maximum,
    // and so does a signed SET so far below the minimum that Redis's 64-bit range
    // check wraps (any value below the minimum of i63).
    assert_eq!(c.cmd("BITFIELD s OVERFLOW SAT SET u8 0 -1 GET u8 0"), "*2\r\n:127\r\n:255\r\n");
    assert_eq!(c.cmd("BITFIELD s OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0"), "*2\r\n:-1\r\n:127\r\n");
    assert_eq!(c.cmd("BITFIELD s OVERFLOW SAT SET i8 0 -9223372036854775000 GET i8 0"), "*2\r\n:127\r\n:-128\r\n");
    assert_eq!(c.cmd("BITFIELD q OVERFLOW SAT SET i63 0 -4611686018427387905 GET i63 0"), "*2\r\n:0\r\n:4611686018427387903\r\n");
    assert_eq!(
        c.cmd("BITFIELD q OVERFLOW SAT SET i63 0 -4611686018427387904 GET i63 0"),
        "*2\r\n:4611686018427387903\r\n:-4611686018427387904\r\n"
    );
    assert_eq!(
        c.cmd("BITFIELD q OVERFLOW WRAP SET i63 0 -4611686018427387905 GET i63 0"),
        "*2\r\n:-4611686018427387904\r\n:4611686018427387903\r\n"
    );
    // Increments at the 64-bit limits.
    assert_eq!(
        c.cmd("BITFIELD m SET u63 0 10 INCRBY u63 0 9223372036854775807 INCRBY u63 0 -9223372036854775808"),
        "*3\r\n:0\r\n:9\r\n:9\r\n"
    );
    assert_eq!(
        c.cmd("BITFIELD m OVERFLOW SAT INCRBY u63 0 -9223372036854775808 INCRBY u63 0 9223372036854775807"),
        "*2\r\n:0\r\n:9223372036854775807\r\n"
    );
    assert_eq!(
        c.cmd("BITFIELD m OVERFLOW SAT SET i64 0 5 INCRBY i64 0 9223372036854775807 INCRBY i64 0 -9223372036854775808"),
        "*3\r\n:-2\r\n:9223372036854775807\r\n:-1\r\n"
    );
}

#[test]
fn bitfield_read_only_and_missing_keys() {
    let s = Server::start();
    let mut c = s.raw();
    // Only GETs: nothing is created.
    assert_eq!(c.cmd("BITFIELD nokey GET u8 0 GET i64 #3"), "*2\r\n:0\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD nokey OVERFLOW SAT"), "*0\r\n");
    assert_eq!(c.cmd("BITFIELD_RO nokey GET u8 0"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("EXISTS nokey"), ":0\r\n");
    // A write creates (and pads) the key even when OVERFLOW FAIL skips every write.
    assert_eq!(c.cmd("BITFIELD f OVERFLOW FAIL SET u2 0 10 INCRBY i8 16 200"), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(get(&mut c, "f"), Some(b"\x00\x00\x00".to_vec()));

    assert_eq!(c.cmd("BITFIELD bits SET u8 0 255"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD_RO bits GET u8 0 get i8 0 OVERFLOW FAIL GET u4 4"), "*3\r\n:255\r\n:-1\r\n:15\r\n");
    assert_eq!(c.cmd("BITFIELD_RO bits SET u8 0 100 GET u8 0"), RO_ERR);
    assert_eq!(c.cmd("BITFIELD_RO bits GET u8 0 INCRBY u8 0 1"), RO_ERR);
    assert_eq!(c.cmd("BITFIELD_RO nokey INCRBY u8 0 1"), RO_ERR);
    // Arguments are checked before the read-only rule.
    assert_eq!(c.cmd("BITFIELD_RO bits SET u8 0 abc"), NOT_INT);
    assert_eq!(c.cmd("BITFIELD_RO bits SET u8 0 1 GET u99 0"), TYPE_ERR);
    assert_eq!(c.cmd("BITFIELD_RO bits GET u8"), SYNTAX);
    assert_eq!(c.cmd("EXISTS nokey"), ":0\r\n");
    assert_eq!(c.cmd("BITFIELD_RO bits GET u8 0"), "*1\r\n:255\r\n");
    assert_eq!(c.cmd("BITFIELD_RO"), "-ERR wrong number of arguments for 'bitfield_ro' command\r\n");

    // RESP3 nulls.
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("BITFIELD bits OVERFLOW FAIL INCRBY u8 0 1 GET u8 0"), "*2\r\n_\r\n:255\r\n");
}

#[test]
fn bitfield_errors() {
    let s = Server::start();
    let mut c = s.raw();
    for t in ["i0", "i65", "u64", "u0", "I8", "U8", "x8", "i", "u", "i08", "i-1", "i+8", "i8a", "8", ""] {
        assert_eq!(c.cmd(&format!("BITFIELD k GET {t} 0")), TYPE_ERR, "type {t:?}");
    }
    for o in ["-1", "#-1", "abc", "#", "##1", "01", "#01", " 1", "1e3", "4294967296", "#536870912", "#9223372036854775807"] {
        assert_eq!(c.cmd_args(&[b"BITFIELD", b"k", b"GET", b"u8", o.as_bytes()]), OFFSET_ERR, "offset {o:?}");
    }
    assert_eq!(c.cmd("BITFIELD k SET u8 0 abc"), NOT_INT);
    assert_eq!(c.cmd("BITFIELD k INCRBY u8 0 9223372036854775808"), NOT_INT);
    assert_eq!(c.cmd("BITFIELD k INCRBY u8 0 1.5"), NOT_INT);
    assert_eq!(c.cmd("BITFIELD k OVERFLOW bogus"), "-ERR Invalid OVERFLOW type specified\r\n");
    assert_eq!(c.cmd("BITFIELD k OVERFLOW"), SYNTAX);
    assert_eq!(c.cmd("BITFIELD k GET u8"), SYNTAX);
    assert_eq!(c.cmd("BITFIELD k SET u8 0"), SYNTAX);
    assert_eq!(c.cmd("BITFIELD k INCRBY u8 0"), SYNTAX);
    assert_eq!(c.cmd("BITFIELD k FOO u8 0"), SYNTAX);
    assert_eq!(c.cmd("BITFIELD k GET u8 0 extra"), SYNTAX);
    // Type before offset before value, subcommand by subcommand.
    assert_eq!(c.cmd("BITFIELD k SET u99 -1 abc"), TYPE_ERR);
    assert_eq!(c.cmd("BITFIELD k SET u8 -1 abc"), OFFSET_ERR);
    // Nothing runs when any subcommand is bad.
    assert_eq!(c.cmd("BITFIELD k SET u8 0 1 GET i99 0"), TYPE_ERR);
    assert_eq!(c.cmd("BITFIELD k SET u8 0 1 OVERFLOW bogus"), "-ERR Invalid OVERFLOW type specified\r\n");
    assert_eq!(c.cmd("EXISTS k"), ":0\r\n");
    assert_eq!(c.cmd("BITFIELD"), "-ERR wrong number of arguments for 'bitfield' command\r\n");
    // `#N` is multiplied in 64-bit arithmetic: 2305843009213693953 * 8 wraps to 8.
    assert_eq!(c.cmd("BITFIELD w SET u8 #2305843009213693953 1"), "*1\r\n:0\r\n");
    assert_eq!(get(&mut c, "w"), Some(b"\x00\x01".to_vec()));
}

#[test]
fn writes_leave_raw_encoding() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("SET a 12"), "+OK\r\n");
    assert_eq!(c.cmd("SETBIT a 0 0"), ":0\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING a"), "$3\r\nraw\r\n");
    assert_eq!(c.cmd("SET b 12"), "+OK\r\n");
    assert_eq!(c.cmd("GETBIT b 0"), ":0\r\n");
    assert_eq!(c.cmd("BITFIELD b GET u8 0"), "*1\r\n:49\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING b"), "$3\r\nint\r\n");
    assert_eq!(c.cmd("BITFIELD b OVERFLOW FAIL SET u8 0 1000"), "*1\r\n$-1\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING b"), "$3\r\nraw\r\n");
    assert_eq!(c.cmd("SETBIT c 1 1"), ":0\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING c"), "$3\r\nraw\r\n");
    assert_eq!(c.cmd("SET e 1"), "+OK\r\n");
    assert_eq!(c.cmd("BITOP OR f e"), ":1\r\n");
    assert_eq!(c.cmd("GET f"), "$1\r\n1\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING f"), "$3\r\nraw\r\n");
}

#[test]
fn writes_propagate_only_when_something_changed() {
    let s = Server::start();
    let mut c = s.raw();
    let d0 = dirty(&mut c);
    // Creating a key always counts.
    assert_eq!(c.cmd("SETBIT foo 0 0"), ":0\r\n");
    assert_eq!(c.cmd("BITFIELD foo2 SET i5 0 0"), "*1\r\n:0\r\n");
    assert_eq!(dirty(&mut c), d0 + 2);
    // No change.
    let before = stream(&mut c);
    assert_eq!(c.cmd("SETBIT foo 0 0"), ":0\r\n");
    assert_eq!(c.cmd("BITFIELD foo2 SET i5 0 0"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD foo2 GET i5 0 INCRBY i5 0 0"), "*2\r\n:0\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD foo2 OVERFLOW FAIL INCRBY u2 0 8"), "*1\r\n$-1\r\n");
    assert_eq!(c.cmd("BITFIELD_RO foo2 GET i5 0"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITFIELD nokey GET i5 0"), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("BITOP AND nokey2 nokey"), ":0\r\n");
    assert_eq!(dirty(&mut c), d0 + 2);
    assert_eq!(stream(&mut c), before);
    // A change and a no-change each.
    for cmd in ["SETBIT foo 0 1", "SETBIT foo 0 1", "SETBIT foo 0 0", "SETBIT foo 0 0"] {
        c.cmd(cmd);
    }
    for cmd in ["BITFIELD foo2 SET i5 0 1", "BITFIELD foo2 SET i5 0 1", "BITFIELD foo2 SET i5 0 0", "BITFIELD foo2 SET i5 0 0"] {
        c.cmd(cmd);
    }
    assert_eq!(dirty(&mut c), d0 + 6);
    // Each effective SET/INCRBY counts, the command is propagated once, as sent.
    let before = stream(&mut c);
    assert_eq!(c.cmd("BITFIELD foo3 incrby i5 0 1 GET i5 0 INCRBY i5 0 1"), "*3\r\n:1\r\n:1\r\n:2\r\n");
    assert_eq!(dirty(&mut c), d0 + 8);
    let after = stream(&mut c);
    assert!(after.starts_with(&before));
    let added = &after[before.len()..];
    assert!(
        added.ends_with("*13\r\n$8\r\nBITFIELD\r\n$4\r\nfoo3\r\n$6\r\nincrby\r\n$2\r\ni5\r\n$1\r\n0\r\n$1\r\n1\r\n$3\r\nGET\r\n$2\r\ni5\r\n$1\r\n0\r\n$6\r\nINCRBY\r\n$2\r\ni5\r\n$1\r\n0\r\n$1\r\n1\r\n"),
        "{added:?}"
    );
    // Growing the string counts even when the value stays 0.
    assert_eq!(c.cmd("SETBIT foo 90 0"), ":0\r\n");
    assert_eq!(c.cmd("BITFIELD foo2 SET i5 90 0"), "*1\r\n:0\r\n");
    assert_eq!(dirty(&mut c), d0 + 10);
    // BITOP propagates itself, also when it only deletes the target.
    assert_eq!(c.cmd("BITOP OR foo nokey"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS foo"), ":0\r\n");
    assert!(stream(&mut c).ends_with("*4\r\n$5\r\nBITOP\r\n$2\r\nOR\r\n$3\r\nfoo\r\n$5\r\nnokey\r\n"));
    assert_eq!(dirty(&mut c), d0 + 11);
}
