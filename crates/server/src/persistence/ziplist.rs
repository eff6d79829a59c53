//! The older compact formats an RDB from Redis 2.x-6.x may hold, read only: ziplist
//! (types 10, 12, 13 and the nodes of 14), zipmap (type 9); and intset (type 11),
//! which we also write.
//!
//! Ziplist: `zlbytes` u32, `zltail` u32, `zllen` u16 (little-endian), entries, `0xFF`.
//! An entry is the previous entry's size (1 byte, or `0xFE` + u32), an encoding
//! (`00` + 6-bit, `01` + 14-bit big-endian, `0x80` + u32 big-endian string lengths;
//! `0xC0` i16, `0xD0` i32, `0xE0` i64, `0xF0` i24, `0xFE` i8, `0xF1..=0xFD` the
//! integers 0..=12 in place), then the payload.

/// Every element of a ziplist, integers in decimal form.
pub fn decode_ziplist(zl: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if zl.len() < 11 {
        return Err("ziplist too short".into());
    }
    let total = u32::from_le_bytes(zl[..4].try_into().unwrap()) as usize;
    if total != zl.len() {
        return Err(format!("ziplist size {total} does not match its blob ({})", zl.len()));
    }
    let declared = u16::from_le_bytes([zl[8], zl[9]]) as usize;
    let end = zl.len() - 1;
    if zl[end] != 0xFF {
        return Err("ziplist has no end marker".into());
    }
    let mut p = 10;
    let mut prev_size = 0usize;
    let mut out = Vec::new();
    while p < end {
        let start = p;
        let past = || format!("ziplist entry at byte {start} runs past the end");
        let prevlen = if zl[p] < 254 {
            p += 1;
            zl[p - 1] as usize
        } else {
            if zl[p] == 255 || p + 5 > end {
                return Err(past());
            }
            p += 5;
            u32::from_le_bytes(zl[p - 4..p].try_into().unwrap()) as usize
        };
        if prevlen != prev_size {
            return Err(format!("ziplist entry at byte {start} has a wrong previous length"));
        }
        let Some(&b) = zl.get(p).filter(|_| p < end) else { return Err(past()) };
        let str_len = match b >> 6 {
            0 => {
                p += 1;
                Some((b & 0x3F) as usize)
            }
            1 => {
                if p + 2 > end {
                    return Err(past());
                }
                p += 2;
                Some((((b & 0x3F) as usize) << 8) | zl[p - 1] as usize)
            }
            2 => {
                if b != 0x80 || p + 5 > end {
                    return Err(past());
                }
                p += 5;
                Some(u32::from_be_bytes(zl[p - 4..p].try_into().unwrap()) as usize)
            }
            _ => None,
        };
        let v = match str_len {
            Some(n) => {
                if p + n > end {
                    return Err(past());
                }
                p += n;
                zl[p - n..p].to_vec()
            }
            None => {
                let width = match b {
                    0xC0 => 2,
                    0xD0 => 4,
                    0xE0 => 8,
                    0xF0 => 3,
                    0xFE => 1,
                    0xF1..=0xFD => 0,
                    _ => return Err(format!("invalid ziplist encoding byte {b:#04x} at byte {start}")),
                };
                p += 1;
                if p + width > end {
                    return Err(past());
                }
                let n = if width == 0 {
                    (b & 0x0F) as i64 - 1
                } else {
                    let mut u = 0u64;
                    for i in 0..width {
                        u |= (zl[p + i] as u64) << (8 * i);
                    }
                    let bits = 64 - 8 * width as u32;
                    ((u << bits) as i64) >> bits
                };
                p += width;
                itoa::Buffer::new().format(n).as_bytes().to_vec()
            }
        };
        prev_size = p - start;
        out.push(v);
    }
    if declared != 65535 && declared != out.len() {
        return Err(format!("ziplist says {declared} elements but holds {}", out.len()));
    }
    Ok(out)
}

/// Field/value pairs of a zipmap (Redis 2.4 hashes).
pub fn decode_zipmap(zm: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if zm.len() < 2 {
        return Err("zipmap too short".into());
    }
    let mut p = 1;
    let mut out = Vec::new();
    let len_at = |p: &mut usize| -> Result<Option<usize>, String> {
        match zm.get(*p) {
            None => Err("zipmap has no end marker".into()),
            Some(255) => Ok(None),
            Some(254) => {
                if *p + 5 > zm.len() {
                    return Err("zipmap length runs past the end".into());
                }
                *p += 5;
                Ok(Some(u32::from_le_bytes(zm[*p - 4..*p].try_into().unwrap()) as usize))
            }
            Some(&n) => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    while let Some(klen) = len_at(&mut p)? {
        if p + klen > zm.len() {
            return Err("zipmap field runs past the end".into());
        }
        let k = zm[p..p + klen].to_vec();
        p += klen;
        let Some(vlen) = len_at(&mut p)? else { return Err("zipmap field without a value".into()) };
        let Some(&free) = zm.get(p) else { return Err("zipmap value runs past the end".into()) };
        p += 1;
        if p + vlen + free as usize > zm.len() {
            return Err("zipmap value runs past the end".into());
        }
        out.push(k);
        out.push(zm[p..p + vlen].to_vec());
        p += vlen + free as usize;
    }
    if p + 1 != zm.len() {
        return Err("zipmap has bytes after its end marker".into());
    }
    Ok(out)
}

/// The integers of an intset (`encoding` u32 = 2, 4 or 8 bytes each, `length` u32,
/// then the values little-endian, strictly ascending).
pub fn decode_intset(is: &[u8]) -> Result<Vec<i64>, String> {
    if is.len() < 8 {
        return Err("intset too short".into());
    }
    let width = u32::from_le_bytes(is[..4].try_into().unwrap()) as usize;
    let n = u32::from_le_bytes(is[4..8].try_into().unwrap()) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset has an invalid encoding {width}"));
    }
    if (is.len() - 8) / width != n || !(is.len() - 8).is_multiple_of(width) {
        return Err("intset size does not match its length".into());
    }
    let mut out = Vec::with_capacity(n);
    for c in is[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes(c.try_into().unwrap()) as i64,
            4 => i32::from_le_bytes(c.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(c.try_into().unwrap()),
        };
        if out.last().is_some_and(|&l| l >= v) {
            return Err("intset is not strictly ascending".into());
        }
        out.push(v);
    }
    Ok(out)
}

/// An intset of ascending `vals`, in the narrowest width that holds them.
pub fn encode_intset(vals: &[i64]) -> Vec<u8> {
    let width: usize = if vals.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if vals.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * vals.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(vals.len() as u32).to_le_bytes());
    for &v in vals {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_round_trip() {
        let v = vec![-70000, -1, 0, 5, 1 << 40];
        assert_eq!(decode_intset(&encode_intset(&v)).unwrap(), v);
        assert_eq!(encode_intset(&[1, 2]), vec![2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0]);
        assert!(decode_intset(&encode_intset(&[2, 1])).is_err());
    }

    #[test]
    fn ziplist_decodes() {
        // zlbytes, zltail, zllen=3; "ab"; 5 (immediate); 300 (i16); end.
        let mut zl = vec![0u8; 10];
        zl.extend_from_slice(&[0, 0x02, b'a', b'b']);
        zl.extend_from_slice(&[4, 0xF6]);
        zl.extend_from_slice(&[2, 0xC0, 0x2C, 0x01]);
        zl.push(0xFF);
        let n = zl.len() as u32;
        zl[..4].copy_from_slice(&n.to_le_bytes());
        zl[8] = 3;
        assert_eq!(decode_ziplist(&zl).unwrap(), vec![b"ab".to_vec(), b"5".to_vec(), b"300".to_vec()]);
        for cut in 0..zl.len() {
            assert!(decode_ziplist(&zl[..cut]).is_err());
        }
    }

    #[test]
    fn zipmap_decodes() {
        let zm = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        let v = decode_zipmap(zm).unwrap();
        assert_eq!(v, vec![b"foo".to_vec(), b"bar".to_vec(), b"hello".to_vec(), b"world".to_vec()]);
    }
}
