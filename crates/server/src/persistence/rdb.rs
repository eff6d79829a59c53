//! RDB writer (format version 10, which Redis 7.0 and 7.2 both load).
//!
//! Layout: `REDIS0010`, aux fields, then per non-empty database a SELECTDB and a
//! RESIZEDB opcode followed by its keys (each optionally preceded by an absolute expiry
//! in ms), then EOF and the CRC-64/Jones checksum of everything before it.

use crc::{Crc, CRC_64_REDIS};

use crate::keyspace::{Locked, Value};

pub const RDB_VERSION: u32 = 10;

const OP_AUX: u8 = 0xFA;
const OP_RESIZEDB: u8 = 0xFB;
const OP_EXPIRETIME_MS: u8 = 0xFC;
const OP_SELECTDB: u8 = 0xFE;
const OP_EOF: u8 = 0xFF;
const TYPE_STRING: u8 = 0;

pub const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

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

pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn aux(out: &mut Vec<u8>, k: &str, v: &str) {
    out.push(OP_AUX);
    write_string(out, k.as_bytes());
    write_string(out, v.as_bytes());
}

/// Serialises every live key of every database in `keys` (which must hold all shards).
pub fn snapshot(keys: &mut Locked, databases: usize, now_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    aux(&mut out, "redis-ver", crate::REDIS_VERSION);
    aux(&mut out, "redis-bits", "64");
    aux(&mut out, "ctime", &(now_ms / 1000).to_string());
    aux(&mut out, "used-mem", &crate::stats::process_rss().to_string());
    aux(&mut out, "aof-base", "0");
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
            for e in shard.dict.iter() {
                // Collections reach the RDB with the persistence issue (5).
                if !matches!(e.value, Value::Str(_)) {
                    continue;
                }
                if e.expire_at != 0 {
                    if e.expire_at <= now_ms {
                        continue;
                    }
                    out.push(OP_EXPIRETIME_MS);
                    out.extend_from_slice(&e.expire_at.to_le_bytes());
                }
                match &e.value {
                    Value::Str(b) => {
                        out.push(TYPE_STRING);
                        write_string(&mut out, &e.key);
                        write_string(&mut out, b);
                    }
                    _ => unreachable!("filtered above"),
                }
            }
        }
    }
    out.push(OP_EOF);
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
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
}
