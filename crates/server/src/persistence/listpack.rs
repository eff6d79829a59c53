//! Redis's listpack byte format, as RDB types 16, 17, 18 and 20 carry it:
//! a 4-byte total size and a 2-byte element count (both little-endian, the count
//! 65535 when it does not fit), the entries, then `0xFF`. Each entry is an encoding
//! byte (integers of 7, 13, 16, 24, 32 or 64 bits; strings with 6-, 12- or 32-bit
//! lengths), its payload, and its own size written in 7-bit groups so that the
//! sequence can be walked backwards. Strings that are canonical integers are stored
//! as integers, which is what makes our bytes identical to Redis's.

use crate::keyspace::types::Item;

const END: u8 = 0xFF;

/// Builds a listpack from elements in order.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Writer {
    pub fn new() -> Writer {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 6]);
        Writer { buf, count: 0 }
    }

    pub fn push_item(&mut self, it: Item) {
        match it {
            Item::Int(n) => self.push_int(n),
            Item::Str(s) => self.push(s),
        }
    }

    /// Appends bytes, integer-encoded when they are a canonical 64-bit integer.
    pub fn push(&mut self, v: &[u8]) {
        if v.len() <= 20 {
            if let Some(n) = crate::util::parse_canonical_i64(v) {
                return self.push_int(n);
            }
        }
        let start = self.buf.len();
        let n = v.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xE0 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(v);
        self.finish_entry(start);
    }

    pub fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        match n {
            0..=127 => self.buf.push(n as u8),
            -4096..=4095 => {
                let u = (n as u64) & 0x1FFF;
                self.buf.push(0xC0 | (u >> 8) as u8);
                self.buf.push(u as u8);
            }
            -32768..=32767 => {
                self.buf.push(0xF1);
                self.buf.extend_from_slice(&(n as i16).to_le_bytes());
            }
            -8388608..=8388607 => {
                self.buf.push(0xF2);
                self.buf.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
            }
            -2147483648..=2147483647 => {
                self.buf.push(0xF3);
                self.buf.extend_from_slice(&(n as i32).to_le_bytes());
            }
            _ => {
                self.buf.push(0xF4);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
        }
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = (self.buf.len() - start) as u64;
        let groups = match l {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        // Most significant group first, every group but the first flagged.
        for g in (0..groups).rev() {
            let b = ((l >> (7 * g)) & 127) as u8;
            self.buf.push(if g == groups - 1 { b } else { b | 128 });
        }
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// Decodes every element of a listpack (integers as their decimal form), checking the
/// structure as it goes; errors say what is wrong and where in the blob.
pub fn decode(lp: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if lp.len() < 7 {
        return Err("listpack too short".into());
    }
    let total = u32::from_le_bytes(lp[..4].try_into().unwrap()) as usize;
    if total != lp.len() {
        return Err(format!("listpack size {total} does not match its blob ({})", lp.len()));
    }
    let declared = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    let mut out = Vec::new();
    let mut p = 6;
    let short = |at: usize| format!("listpack entry at byte {at} runs past the end");
    loop {
        let Some(&b) = lp.get(p) else { return Err("listpack has no end marker".into()) };
        if b == END {
            p += 1;
            break;
        }
        let start = p;
        let need = |p: usize, n: usize| if p + n < lp.len() { Ok(()) } else { Err(short(start)) };
        let sext = |u: u64, bits: u32| ((u << (64 - bits)) as i64) >> (64 - bits);
        let v: Vec<u8> = if b & 0x80 == 0 {
            p += 1;
            itoa::Buffer::new().format(b as i64).as_bytes().to_vec()
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3F) as usize;
            need(p + 1, n)?;
            p += 1 + n;
            lp[p - n..p].to_vec()
        } else if b & 0xE0 == 0xC0 {
            need(p, 2)?;
            let u = (((b & 0x1F) as u64) << 8) | lp[p + 1] as u64;
            p += 2;
            itoa::Buffer::new().format(sext(u, 13)).as_bytes().to_vec()
        } else if b & 0xF0 == 0xE0 {
            need(p, 2)?;
            let n = (((b & 0x0F) as usize) << 8) | lp[p + 1] as usize;
            need(p + 2, n)?;
            p += 2 + n;
            lp[p - n..p].to_vec()
        } else {
            let width = match b {
                0xF0 => {
                    need(p, 5)?;
                    let n = u32::from_le_bytes(lp[p + 1..p + 5].try_into().unwrap()) as usize;
                    need(p + 5, n)?;
                    p += 5 + n;
                    out.push(lp[p - n..p].to_vec());
                    skip_backlen(lp, &mut p, start)?;
                    continue;
                }
                0xF1 => 2,
                0xF2 => 3,
                0xF3 => 4,
                0xF4 => 8,
                _ => return Err(format!("invalid listpack encoding byte {b:#04x} at byte {start}")),
            };
            need(p + 1, width)?;
            let mut u = 0u64;
            for i in 0..width {
                u |= (lp[p + 1 + i] as u64) << (8 * i);
            }
            p += 1 + width;
            itoa::Buffer::new().format(sext(u, 8 * width as u32)).as_bytes().to_vec()
        };
        out.push(v);
        skip_backlen(lp, &mut p, start)?;
    }
    if p != lp.len() {
        return Err("listpack has bytes after its end marker".into());
    }
    if declared != 65535 && declared != out.len() {
        return Err(format!("listpack says {declared} elements but holds {}", out.len()));
    }
    Ok(out)
}

/// Steps over an entry's back length, checking that it states the entry's size.
fn skip_backlen(lp: &[u8], p: &mut usize, start: usize) -> Result<(), String> {
    let l = (*p - start) as u64;
    let groups = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    if *p + groups > lp.len() - 1 {
        return Err(format!("listpack entry at byte {start} runs past the end"));
    }
    let mut v = 0u64;
    for i in 0..groups {
        v = (v << 7) | (lp[*p + i] & 127) as u64;
    }
    if v != l {
        return Err(format!("listpack entry at byte {start} has a wrong back length"));
    }
    *p += groups;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let vals: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "40000",
            "-8388608",
            "2147483647",
            "9223372036854775807",
            "-9223372036854775808",
            "abc",
            "007",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([vec![b'x'; 100], vec![b'y'; 5000]])
        .collect();
        let mut w = Writer::new();
        for v in &vals {
            w.push(v);
        }
        let lp = w.finish();
        assert_eq!(decode(&lp).unwrap(), vals);
    }

    #[test]
    fn redis_bytes() {
        // What Redis 7 writes for RPUSH l a 1: total 11, two entries.
        let mut w = Writer::new();
        w.push(b"a");
        w.push(b"1");
        assert_eq!(w.finish(), vec![12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xFF]);
    }

    #[test]
    fn corrupt_is_an_error() {
        let mut w = Writer::new();
        w.push(b"hello");
        let lp = w.finish();
        for cut in 0..lp.len() {
            assert!(decode(&lp[..cut]).is_err());
        }
        let mut bad = lp.clone();
        bad[6] = 0xF5;
        assert!(decode(&bad).is_err());
    }
}
