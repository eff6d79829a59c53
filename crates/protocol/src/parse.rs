//! Request parsing: RESP multibulk (what clients send) and inline commands (telnet).

use memchr::memchr;

/// Longest inline request or multibulk/bulk header line Redis accepts without a newline.
const MAX_INLINE: usize = 64 * 1024;
/// Redis caps the element count of one request at 1024*1024.
const MAX_MULTIBULK: i64 = 1024 * 1024;

/// Limits the parser enforces; an unauthenticated connection gets tighter ones.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true }
    }
}

/// A protocol error: the text after `-ERR Protocol error: `. The connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

/// Parses one request from the front of `buf`.
///
/// On success returns the number of bytes consumed and fills `args` with the
/// `(start, end)` ranges of the arguments inside `buf`; an empty `args` means the request
/// was empty (a blank inline line or `*0`) and should be skipped. `Ok(None)` means more
/// bytes are needed. Inline arguments that need unescaping are returned in `owned`, and
/// `args` then indexes into `owned` instead (signalled by `Ok(Some((n, true)))`).
pub fn parse_command(
    buf: &[u8],
    args: &mut Vec<(usize, usize)>,
    owned: &mut Vec<Vec<u8>>,
    limits: Limits,
) -> Result<Option<(usize, bool)>, ProtocolError> {
    args.clear();
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        return parse_inline(buf, owned);
    }
    let Some((count, mut pos)) = read_line_int(buf, 1, "too big mbulk count string")? else {
        return Ok(None);
    };
    let count = count.ok_or(ProtocolError("invalid multibulk length"))?;
    if count > MAX_MULTIBULK {
        return Err(ProtocolError("invalid multibulk length"));
    }
    if count > 10 && !limits.authenticated {
        return Err(ProtocolError("unauthenticated multibulk length"));
    }
    if count <= 0 {
        return Ok(Some((pos, false)));
    }
    args.reserve(count as usize);
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError(expected_dollar(buf[pos])));
        }
        let Some((len, next)) = read_line_int(buf, pos + 1, "too big bulk count string")? else {
            return Ok(None);
        };
        let len = len.ok_or(ProtocolError("invalid bulk length"))?;
        if len < 0 || len > limits.max_bulk_len {
            return Err(ProtocolError("invalid bulk length"));
        }
        if len > 16384 && !limits.authenticated {
            return Err(ProtocolError("unauthenticated bulk length"));
        }
        let end = next + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        args.push((next, end));
        pos = end + 2;
    }
    Ok(Some((pos, false)))
}

/// Redis echoes the offending byte in this error; a leaked table keeps the message `'static`.
fn expected_dollar(got: u8) -> &'static str {
    static TABLE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0u8..=255)
            .map(|b| {
                let c = if b.is_ascii_graphic() || b == b' ' { b as char } else { ' ' };
                &*Box::leak(format!("expected '$', got '{c}'").into_boxed_str())
            })
            .collect()
    });
    table[got as usize]
}

/// Reads an integer terminated by CRLF starting at `start`. `Ok(None)` = need more data;
/// `Ok(Some((None, _)))` = the line is not a valid integer.
#[allow(clippy::type_complexity)]
fn read_line_int(buf: &[u8], start: usize, too_big: &'static str) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let Some(nl) = memchr(b'\r', &buf[start.min(buf.len())..]) else {
        if buf.len() - start.min(buf.len()) > MAX_INLINE {
            return Err(ProtocolError(too_big));
        }
        return Ok(None);
    };
    let end = start + nl;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if nl > MAX_INLINE {
        return Err(ProtocolError(too_big));
    }
    Ok(Some((parse_i64(&buf[start..end]), end + 2)))
}

/// Parses a header integer (`*3`, `$-1`): an optional minus and the digits.
fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return if digits.len() > 18 { std::str::from_utf8(s).ok()?.parse().ok() } else { None };
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(if neg { -v } else { v })
}

fn parse_inline(buf: &[u8], owned: &mut Vec<Vec<u8>>) -> Result<Option<(usize, bool)>, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError("too big inline request"));
        }
        return Ok(None);
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    owned.clear();
    match split_args(line) {
        Some(v) => *owned = v,
        None => return Err(ProtocolError("unbalanced quotes in request")),
    }
    Ok(Some((nl + 1, true)))
}

/// Splits a line into arguments the way redis-cli and inline commands do: whitespace
/// separated, with "double quotes" (backslash escapes, `\xHH`) and 'single quotes'.
/// Returns `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Result<Option<(usize, Vec<Vec<u8>>)>, ProtocolError>;

    fn parse(buf: &[u8]) -> Parsed {
        let mut a = Vec::new();
        let mut o = Vec::new();
        Ok(parse_command(buf, &mut a, &mut o, Limits::default())?.map(|(n, inline)| {
            let v = if inline { o.clone() } else { a.iter().map(|&(s, e)| buf[s..e].to_vec()).collect() };
            (n, v)
        }))
    }

    #[test]
    fn multibulk_complete_and_partial() {
        let req = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let (n, v) = parse(req).unwrap().unwrap();
        assert_eq!(n, req.len());
        assert_eq!(v, vec![b"GET".to_vec(), b"k".to_vec()]);
        for cut in 0..req.len() {
            assert_eq!(parse(&req[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(parse(b"*abc\r\n").unwrap_err().0, "invalid multibulk length");
        assert_eq!(parse(b"*1\r\n+x\r\n").unwrap_err().0, "expected '$', got '+'");
        assert_eq!(parse(b"*1\r\n$-5\r\n").unwrap_err().0, "invalid bulk length");
        assert_eq!(parse(b"*1\r\n$9999999999\r\n").unwrap_err().0, "invalid bulk length");
    }

    #[test]
    fn inline_with_quotes() {
        let (n, v) = parse(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\nrest").unwrap().unwrap();
        assert_eq!(n, 27);
        assert_eq!(v, vec![b"set".to_vec(), b"a b".to_vec(), b"c'd".to_vec(), b"A\n".to_vec()]);
        assert_eq!(parse(b"set \"abc\r\n").unwrap_err().0, "unbalanced quotes in request");
    }
}
