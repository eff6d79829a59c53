//! LZF decompression, for strings Redis stored compressed (`rdbcompression yes`).
//!
//! The stream is a series of runs: a control byte below 32 starts `ctrl + 1`
//! literal bytes; otherwise its top 3 bits are a length (7 meaning "add the next
//! byte"), its low 5 bits and the next byte a distance back into the output, and
//! `length + 2` bytes are copied from there (overlapping copies repeat bytes).

/// Expands `src` into exactly `expected` bytes, or says why it cannot.
pub fn decompress(src: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::with_capacity(expected);
    let mut i = 0;
    while i < src.len() {
        let ctrl = src[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if i + n > src.len() {
                return Err("LZF literal run past the end of the input".into());
            }
            if out.len() + n > expected {
                return Err("LZF data longer than announced".into());
            }
            out.extend_from_slice(&src[i..i + n]);
            i += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                let Some(&b) = src.get(i) else { return Err("LZF back reference past the end of the input".into()) };
                len += b as usize;
                i += 1;
            }
            let Some(&b) = src.get(i) else { return Err("LZF back reference past the end of the input".into()) };
            i += 1;
            let dist = ((ctrl & 0x1F) << 8) + b as usize + 1;
            if dist > out.len() {
                return Err("LZF back reference before the start of the output".into());
            }
            let n = len + 2;
            if out.len() + n > expected {
                return Err("LZF data longer than announced".into());
            }
            let from = out.len() - dist;
            for k in 0..n {
                let c = out[from + k];
                out.push(c);
            }
        }
    }
    if out.len() != expected {
        return Err("LZF data shorter than announced".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_back_reference() {
        // "abcabcabcabc": 3 literals, then copy 9 bytes from 3 back (len 7 -> 0xE0 + 0).
        let src = [2, b'a', b'b', b'c', 0xE0, 0, 2];
        assert_eq!(decompress(&src, 12).unwrap(), b"abcabcabcabc");
        assert!(decompress(&src, 11).is_err());
        assert!(decompress(&src[..5], 12).is_err());
        assert!(decompress(&[0x20, 5], 3).is_err());
    }
}
