//! RDB writer (format version 10, which Redis 7.0 and 7.2 both load).
//!
//! Layout: `REDIS0010`, aux fields, then per non-empty database a SELECTDB and a
//! RESIZEDB opcode followed by its keys (each optionally preceded by an absolute expiry
//! in ms), then EOF and the CRC-64/Jones checksum of everything before it.
//!
//! Values are written in the forms Redis 7.0 reads: compact encodings as Redis
//! listpacks / intsets (types 11, 16, 17, 18), full ones as plain sets, hashes and
//! binary-score sorted sets (2, 4, 5). The listpack set type (20) exists only from
//! format 11 on, so files and DUMP payloads carry such sets as plain sets; DEBUG
//! RELOAD, which only we read back, keeps type 20 so the encoding survives exactly.

use crc::{Crc, CRC_64_REDIS};

use super::listpack;
use crate::keyspace::types::{Hash, Item, List, Set, ZSet};
use crate::keyspace::{Locked, Shard, Value};

pub const RDB_VERSION: u32 = 10;

pub const OP_FUNCTION_PRE_GA: u8 = 0xF6;
pub const OP_FUNCTION2: u8 = 0xF5;
pub const OP_MODULE_AUX: u8 = 0xF7;
pub const OP_IDLE: u8 = 0xF8;
pub const OP_FREQ: u8 = 0xF9;
pub const OP_AUX: u8 = 0xFA;
pub const OP_RESIZEDB: u8 = 0xFB;
pub const OP_EXPIRETIME_MS: u8 = 0xFC;
pub const OP_EXPIRETIME: u8 = 0xFD;
pub const OP_SELECTDB: u8 = 0xFE;
pub const OP_EOF: u8 = 0xFF;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

/// Quicklist node container holding a listpack.
const CONTAINER_PACKED: u64 = 2;

pub static CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string, integer-encoded (as Redis does) when it is a short canonical integer
/// that fits 32 bits.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(n) = crate::util::parse_canonical_i64(s) {
            if let Ok(v) = i8::try_from(n) {
                out.extend_from_slice(&[0xC0, v as u8]);
                return;
            } else if let Ok(v) = i16::try_from(n) {
                out.push(0xC1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            } else if let Ok(v) = i32::try_from(n) {
                out.push(0xC2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn write_item(out: &mut Vec<u8>, it: Item) {
    write_string(out, it.bytes(&mut itoa::Buffer::new()));
}

fn aux(out: &mut Vec<u8>, k: &str, v: &str) {
    out.push(OP_AUX);
    write_string(out, k.as_bytes());
    write_string(out, v.as_bytes());
}

/// Writes the type byte and the serialised value. `set_listpack` allows type 20
/// (format 11) for listpack sets; without it they are written as plain sets.
pub fn write_value(out: &mut Vec<u8>, v: &Value, set_listpack: bool) {
    write_object(out, None, v, set_listpack);
}

/// The type byte, then the key when there is one (an RDB entry), then the value.
pub fn write_object(out: &mut Vec<u8>, key: Option<&[u8]>, v: &Value, set_listpack: bool) {
    match v {
        Value::Str(b) => {
            head(out, TYPE_STRING, key);
            write_string(out, b);
        }
        Value::List(l) => write_list(out, key, l),
        Value::Set(s) => write_set(out, key, s, set_listpack),
        Value::ZSet(z) => write_zset(out, key, z),
        Value::Hash(h) => write_hash(out, key, h),
    }
}

fn head(out: &mut Vec<u8>, ty: u8, key: Option<&[u8]>) {
    out.push(ty);
    if let Some(k) = key {
        write_string(out, k);
    }
}

fn write_list(out: &mut Vec<u8>, key: Option<&[u8]>, l: &List) {
    head(out, TYPE_LIST_QUICKLIST_2, key);
    let nodes: Vec<_> = l.packed_nodes().filter(|p| !p.is_empty()).collect();
    write_len(out, nodes.len() as u64);
    for p in nodes {
        write_len(out, CONTAINER_PACKED);
        let mut w = listpack::Writer::new();
        for (_, it) in p.iter() {
            w.push_item(it);
        }
        write_string_raw(out, &w.finish());
    }
}

/// An embedded blob: never integer-encoded.
fn write_string_raw(out: &mut Vec<u8>, s: &[u8]) {
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn write_set(out: &mut Vec<u8>, key: Option<&[u8]>, s: &Set, set_listpack: bool) {
    if s.is_intset() {
        head(out, TYPE_SET_INTSET, key);
        let vals: Vec<i64> = s.iter().filter_map(|it| it.as_int()).collect();
        write_string_raw(out, &super::ziplist::encode_intset(&vals));
    } else if s.is_listpack() && set_listpack {
        head(out, TYPE_SET_LISTPACK, key);
        let mut w = listpack::Writer::new();
        for it in s.iter() {
            w.push_item(it);
        }
        write_string_raw(out, &w.finish());
    } else {
        head(out, TYPE_SET, key);
        write_len(out, s.len() as u64);
        for it in s.iter() {
            write_item(out, it);
        }
    }
}

fn write_zset(out: &mut Vec<u8>, key: Option<&[u8]>, z: &ZSet) {
    if z.is_packed() {
        head(out, TYPE_ZSET_LISTPACK, key);
        let mut w = listpack::Writer::new();
        z.visit(0, false, |m, s| {
            w.push(m);
            w.push(score_text(s).as_bytes());
            true
        });
        write_string_raw(out, &w.finish());
    } else {
        // Highest first, as Redis writes them (its loader then inserts at the head).
        head(out, TYPE_ZSET_2, key);
        write_len(out, z.len() as u64);
        z.visit(z.len().saturating_sub(1), true, |m, s| {
            write_string(out, m);
            out.extend_from_slice(&s.to_le_bytes());
            true
        });
    }
}

/// A score as listpack text: integers plainly (then stored as listpack integers),
/// otherwise the shortest form that reads back to the same double.
pub fn score_text(s: f64) -> String {
    if s.is_infinite() {
        return if s > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if s == 0.0 && s.is_sign_negative() {
        return "-0".into();
    }
    if s == s.trunc() && s.abs() < 1e17 {
        return format!("{}", s as i64);
    }
    format!("{s:?}")
}

fn write_hash(out: &mut Vec<u8>, key: Option<&[u8]>, h: &Hash) {
    match h {
        Hash::Packed(p) => {
            head(out, TYPE_HASH_LISTPACK, key);
            let mut w = listpack::Writer::new();
            for (_, it) in p.view().iter() {
                w.push_item(it);
            }
            write_string_raw(out, &w.finish());
        }
        Hash::Table(_) => {
            head(out, TYPE_HASH, key);
            write_len(out, h.len() as u64);
            h.for_each(|f, v| {
                write_string(out, f);
                write_string(out, v);
            });
        }
    }
}

/// A DUMP payload: the value, the RDB version (LE u16) and the CRC-64 (LE) of both.
pub fn dump_payload(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v, false);
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// FUNCTION DUMP's payload: one function record per library, then the DUMP footer.
pub fn functions_payload(codes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    write_functions(&mut out, codes);
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code as RDB function records (`FUNCTION2` opcode + code string).
pub fn write_functions(out: &mut Vec<u8>, codes: &[Vec<u8>]) {
    for c in codes {
        out.push(OP_FUNCTION2);
        write_string(out, c);
    }
}

/// The library codes in a FUNCTION RESTORE payload, with Redis's errors.
pub fn parse_functions_payload(p: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if !super::load::verify_dump(p) {
        return Err("DUMP payload version or checksum are wrong".into());
    }
    let body = &p[..p.len() - 10];
    let mut r = super::load::Reader::new(body);
    let mut codes = Vec::new();
    while r.pos < body.len() {
        match r.byte().map_err(|_| "can not read data type")? {
            OP_FUNCTION2 => codes.push(r.string().map_err(|_| "failed loading the given functions payload")?),
            OP_FUNCTION_PRE_GA => return Err("Pre-GA function format not supported".into()),
            _ => return Err("given type is not a function".into()),
        }
    }
    Ok(codes)
}

/// The moment a snapshot stands for: keys expired by then are left out, and under an
/// LRU policy each key's idle time on the LRU clock `lru` is saved, as Redis does.
#[derive(Clone, Copy)]
pub struct At {
    pub now_ms: u64,
    pub lru: Option<u32>,
}

impl At {
    pub fn of(srv: &crate::server::Server, now_ms: u64) -> At {
        At { now_ms, lru: crate::evict::lru_policy().then(|| srv.lru_clock()) }
    }
}

/// Serialises every live key of every database in `keys` (which must hold all shards).
pub fn snapshot(keys: &mut Locked, databases: usize, at: At) -> Vec<u8> {
    snapshot_with(keys, databases, at, false)
}

/// [`snapshot`] as an AOF base (the `aof-base` aux field set).
pub fn snapshot_aof_base(keys: &mut Locked, databases: usize, at: At) -> Vec<u8> {
    snapshot_full(keys, databases, at, false, &[("aof-base", "1".into())])
}

/// [`snapshot`], optionally with listpack sets as type 20 (a format-11 file).
pub fn snapshot_with(keys: &mut Locked, databases: usize, at: At, set_listpack: bool) -> Vec<u8> {
    snapshot_full(keys, databases, at, set_listpack, &[("aof-base", "0".into())])
}

fn snapshot_full(keys: &mut Locked, databases: usize, at: At, set_listpack: bool, aux: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    let version = if set_listpack { 11 } else { RDB_VERSION };
    write_header(&mut out, version, at.now_ms, aux);
    for db in 0..databases {
        let (mut n, mut volatile) = (0u64, 0u64);
        for shard in keys.db_shards(db) {
            n += shard.dict.len() as u64;
            volatile += shard.volatile as u64;
        }
        if n == 0 {
            continue;
        }
        out.push(OP_SELECTDB);
        write_len(&mut out, db as u64);
        out.push(OP_RESIZEDB);
        write_len(&mut out, n);
        write_len(&mut out, volatile);
        for shard in keys.db_shards(db) {
            write_shard(&mut out, shard, at, set_listpack);
        }
    }
    out.push(OP_EOF);
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The magic, version and the aux fields Redis writes (plus `extra` ones).
pub fn write_header(out: &mut Vec<u8>, version: u32, now_ms: u64, extra: &[(&str, String)]) {
    out.extend_from_slice(format!("REDIS{version:04}").as_bytes());
    aux(out, "redis-ver", crate::REDIS_VERSION);
    aux(out, "redis-bits", "64");
    aux(out, "ctime", &(now_ms / 1000).to_string());
    aux(out, "used-mem", &crate::stats::process_rss().to_string());
    for (k, v) in extra {
        aux(out, k, v);
    }
    // Function libraries come before the keys, as in Redis.
    write_functions(out, &crate::scripting::library::libraries().codes());
}

/// Every live key of one shard (keys already expired at `at` are left out).
/// Returns how many keys were written.
pub fn write_shard(out: &mut Vec<u8>, shard: &Shard, at: At, set_listpack: bool) -> u64 {
    let mut n = 0;
    for e in shard.dict.iter() {
        if e.value.is_empty() && !matches!(e.value, Value::Str(_)) {
            continue;
        }
        if e.expire_at != 0 {
            if e.expire_at <= at.now_ms {
                continue;
            }
            out.push(OP_EXPIRETIME_MS);
            out.extend_from_slice(&e.expire_at.to_le_bytes());
        }
        if let Some(clock) = at.lru {
            out.push(OP_IDLE);
            write_len(out, clock.saturating_sub(e.lru) as u64);
        }
        // Under an LFU policy the access counter travels with the key, as in Redis.
        if crate::evict::lfu::on() {
            out.push(OP_FREQ);
            out.push(crate::evict::lfu::count(e.lru));
        }
        write_object(out, Some(&e.key), &e.value, set_listpack);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_jones_check_value() {
        // The check value Redis's own crc64 test uses.
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn length_encoding() {
        let mut v = Vec::new();
        write_len(&mut v, 10);
        write_len(&mut v, 300);
        write_len(&mut v, 70000);
        assert_eq!(v, vec![10, 0x41, 0x2c, 0x80, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn string_int_encoding() {
        let mut v = Vec::new();
        write_string(&mut v, b"-5");
        write_string(&mut v, b"300");
        write_string(&mut v, b"70000");
        write_string(&mut v, b"05");
        assert_eq!(v, vec![0xC0, 0xFB, 0xC1, 0x2C, 0x01, 0xC2, 0x70, 0x11, 0x01, 0x00, 2, b'0', b'5']);
    }
}
