//! Reply encoding. One `ReplyBuf` per connection collects the replies of a whole
//! pipeline so they leave in one write; the RESP version picks the wire types.

/// A connection's output buffer plus the protocol version it speaks (2 or 3).
#[derive(Debug, Default)]
pub struct ReplyBuf {
    pub buf: Vec<u8>,
    pub resp3: bool,
}

impl ReplyBuf {
    pub fn new() -> Self {
        ReplyBuf { buf: Vec::with_capacity(16 * 1024), resp3: false }
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` includes the code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        for b in msg.bytes() {
            // Redis replaces newlines so an error can never break the framing.
            self.buf.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.prefixed(b':', n);
    }

    pub fn bulk(&mut self, s: &[u8]) {
        self.prefixed(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// A verbatim string in RESP3 (`=`), a bulk string in RESP2.
    pub fn verbatim(&mut self, s: &[u8]) {
        if self.resp3 {
            self.prefixed(b'=', s.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// The null reply: `_` in RESP3, the null bulk `$-1` in RESP2.
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array: `_` in RESP3, `*-1` in RESP2.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, len: usize) {
        self.prefixed(b'*', len as i64);
    }

    /// A map header: `%n` in RESP3, an array of 2n in RESP2.
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            self.prefixed(b'%', pairs as i64);
        } else {
            self.prefixed(b'*', pairs as i64 * 2);
        }
    }

    /// A set header: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        self.prefixed(if self.resp3 { b'~' } else { b'*' }, len as i64);
    }

    /// A push header (`>n`); only sent in RESP3, RESP2 callers use an array.
    pub fn push(&mut self, len: usize) {
        self.prefixed(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    pub fn bool(&mut self, b: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A double: `,` in RESP3, a bulk string in RESP2, formatted as Redis does.
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    pub fn bulks<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for it in items {
            self.bulk(it);
        }
    }

    fn prefixed(&mut self, p: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        self.buf.push(p);
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// Formats a double the way Redis 7.2 replies with one (`d2string`): integral values
/// within ±2^62 as integers, otherwise the shortest digits that read back to the same
/// value laid out as Redis's fpconv does: positional for moderate exponents, else
/// `1.5e-7` / `1e+20` (exponent without zero padding); `inf`, `-inf`, `nan`, `-0`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let half = (i64::MAX / 2) as f64;
    if d >= -half && d <= half && d.fract() == 0.0 {
        return (d as i64).to_string();
    }
    let sci = format!("{:e}", d.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let nd = digits.len() as i32;
    let k = e - (nd - 1);
    let expabs = (k + nd - 1).abs();
    let mut out = String::with_capacity(24);
    if d < 0.0 {
        out.push('-');
    }
    if k >= 0 && expabs < nd + 7 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
    } else if k < 0 && (k > -7 || expabs < 4) {
        let offset = nd + k;
        if offset <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-offset) as usize));
            out.push_str(&digits);
        } else {
            out.push_str(&digits[..offset as usize]);
            out.push('.');
            out.push_str(&digits[offset as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if k + nd - 1 < 0 { '-' } else { '+' });
        out.push_str(&expabs.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-2.5e-10), "-2.5e-10");
        assert_eq!(format_double(1e-7), "1e-7");
        assert_eq!(format_double(0.000123), "0.000123");
        assert_eq!(format_double(1.5e300), "1.5e+300");
        assert_eq!(format_double(12345.678), "12345.678");
        assert_eq!(format_double(-0.0), "-0");
    }

    #[test]
    fn resp2_and_resp3_null() {
        let mut r = ReplyBuf::new();
        r.null();
        r.resp3 = true;
        r.null();
        assert_eq!(r.buf, b"$-1\r\n_\r\n");
    }
}
