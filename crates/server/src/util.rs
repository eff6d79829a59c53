//! Small parsing and matching helpers shared by the command families, with Redis's
//! exact acceptance rules (what `string2ll`, `string2ld` and `stringmatchlen` accept).

use std::time::{SystemTime, UNIX_EPOCH};

/// `strerror` text of an I/O error (without Rust's " (os error N)"), as Redis logs and
/// replies it.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Parses a signed 64-bit integer the way Redis does: optional `-`, no `+`, no leading
/// zeros, no spaces, nothing after the digits.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a float the way Redis's `string2ld` does: no spaces, no NaN, `inf` allowed.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let st = std::str::from_utf8(s).ok()?;
    let lower = st.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("nan") || lower.contains("inf") || lower.starts_with("0x") {
                return None;
            }
            st.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Glob-style matching as in Redis (`*`, `?`, `[a-z]`, `[^...]`, `\` escapes).
///
/// Cost stays polynomial on hostile patterns like `a*a*a*...b`: once the rest of a
/// pattern failed to match at every later position, no earlier `*` can help either,
/// so the search stops instead of retrying longer matches. Nesting is capped as in Redis.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut give_up = false;
    glob_inner(pattern, s, nocase, &mut give_up, 0)
}

fn glob_inner(mut p: &[u8], mut s: &[u8], nocase: bool, give_up: &mut bool, depth: usize) -> bool {
    if depth > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if glob_inner(&p[1..], s, nocase, give_up, depth + 1) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    s = &s[1..];
                }
                *give_up = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let c = s[0];
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: Redis treats the end as the closing bracket.
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        matched |= eq(p[0], c);
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut lo, mut hi) = (p[0], p[2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        matched |= if nocase {
                            let lc = c.to_ascii_lowercase();
                            lc >= lo.to_ascii_lowercase() && lc <= hi.to_ascii_lowercase()
                        } else {
                            c >= lo && c <= hi
                        };
                        p = &p[2..];
                    } else {
                        matched |= eq(p[0], c);
                    }
                    p = &p[1..];
                }
                if p.is_empty() {
                    // Keep `p` non-empty for the advance below.
                    if matched != not {
                        return s.len() == 1;
                    }
                    return false;
                }
                if matched == not {
                    return false;
                }
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0]) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if !eq(c, s[0]) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// The result text of INCRBYFLOAT. Redis adds in `long double` and prints `%.17Lf`
/// trimmed, which shows short decimals (`10.5 + 0.1` is `10.6`, `0.1 + 0.2` is `0.3`).
/// Plain decimal operands are therefore added exactly; anything else (exponents, very
/// long operands) falls back to the shortest round-trip text of the `f64` sum.
pub fn incrbyfloat_text(cur: &[u8], by: &[u8], sum: f64) -> String {
    if let (Some(a), Some(b)) = (parse_decimal(cur), parse_decimal(by)) {
        let scale = a.1.max(b.1);
        let widen = |(m, s): (i128, u32)| m.checked_mul(10i128.checked_pow(scale - s)?);
        if let (Some(x), Some(y)) = (widen(a), widen(b)) {
            if let Some(total) = x.checked_add(y) {
                return format_decimal(total, scale);
            }
        }
    }
    let s = format!("{sum}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// `-12.340` -> (-12340, 3); only plain decimals with at most 17 fraction digits.
fn parse_decimal(s: &[u8]) -> Option<(i128, u32)> {
    let st = std::str::from_utf8(s).ok()?;
    let (neg, body) = match st.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, st.strip_prefix('+').unwrap_or(st)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() || frac.len() > 17 || int.len() > 20 {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let m: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    Some((if neg { -m } else { m }, frac.len() as u32))
}

fn format_decimal(m: i128, scale: u32) -> String {
    let neg = m < 0;
    let digits = m.unsigned_abs().to_string();
    let (int, frac) = if digits.len() as u32 > scale {
        let cut = digits.len() - scale as usize;
        (digits[..cut].to_string(), digits[cut..].to_string())
    } else {
        ("0".to_string(), format!("{}{digits}", "0".repeat(scale as usize - digits.len())))
    };
    let frac = frac.trim_end_matches('0');
    let body = if frac.is_empty() { int } else { format!("{int}.{frac}") };
    if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

/// Clamps an inclusive (start, end) index pair, negative counting from the end, to a
/// collection of `len` elements as Redis's LRANGE/ZRANGE do; `None` for an empty range.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let n = len as i64;
    let s = if start < 0 { (n + start).max(0) } else { start };
    let e = if end < 0 { n + end } else { end };
    if s > e || s >= n {
        return None;
    }
    Some((s as usize, e.min(n - 1) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ints() {
        assert_eq!(parse_canonical_i64(b"123"), Some(123));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_canonical_i64(b"9223372036854775808"), None);
        assert_eq!(parse_canonical_i64(b"012"), None);
        assert_eq!(parse_canonical_i64(b"+1"), None);
        assert_eq!(parse_canonical_i64(b" 1"), None);
        assert_eq!(parse_canonical_i64(b"-0"), None);
    }

    #[test]
    fn incrbyfloat_like_redis() {
        assert_eq!(incrbyfloat_text(b"10.5", b"0.1", 10.6), "10.6");
        assert_eq!(incrbyfloat_text(b"0.1", b"0.2", 0.3), "0.3");
        assert_eq!(incrbyfloat_text(b"1", b"-1.1", -0.1), "-0.1");
        assert_eq!(incrbyfloat_text(b"1.5", b"1.5", 3.0), "3");
        assert_eq!(incrbyfloat_text(b"1e3", b"1", 1001.0), "1001");
        assert_eq!(incrbyfloat_text(b"5", b"-5", 0.0), "0");
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        // As in Redis 7.2, a lone star does not match the empty string (KEYS/SCAN special-case "*").
        assert!(!glob_match(b"*", b"", false));
        assert!(glob_match(b"a\\*b", b"a*b", false));
        assert!(!glob_match(b"a*b", b"ac", false));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(glob_match(b"a*", b"a", false));
        assert!(glob_match(b"*a*", b"bab", false));
        assert!(!glob_match(b"a?", b"a", false));
        assert!(glob_match(b"[abc", b"a", false));
        let hostile = "a*".repeat(30) + "b";
        let t = std::time::Instant::now();
        assert!(!glob_match(hostile.as_bytes(), &[b'a'; 60], false));
        assert!(t.elapsed() < std::time::Duration::from_millis(100));
        let deep = "*?".repeat(50000);
        assert!(!glob_match(deep.as_bytes(), &[b'a'; 50000], false));
    }
}

/// Makes `v[range]` `n` bytes long (for the caller to overwrite), moving the tail once:
/// `Vec::splice` copies element by element, which an insert into an 8 KB listpack
/// node paid on every LPUSH.
pub fn resize_range(v: &mut Vec<u8>, range: std::ops::Range<usize>, n: usize) {
    let (start, end, old) = (range.start, range.end, v.len());
    let removed = end - start;
    if n > removed {
        v.resize(old + n - removed, 0);
        v.copy_within(end..old, start + n);
    } else if n < removed {
        v.copy_within(end..old, start + n);
        v.truncate(old - (removed - n));
    }
}

#[cfg(test)]
mod resize_range_tests {
    use super::resize_range;

    #[test]
    fn grows_shrinks_and_keeps_the_tail() {
        let mut v = b"abcdef".to_vec();
        resize_range(&mut v, 2..3, 3);
        v[2..5].copy_from_slice(b"XYZ");
        assert_eq!(&v, b"abXYZdef");
        resize_range(&mut v, 2..5, 0);
        assert_eq!(&v, b"abdef");
        resize_range(&mut v, 5..5, 2);
        assert_eq!(v.len(), 7);
        assert_eq!(&v[..5], b"abdef");
        resize_range(&mut v, 1..7, 1);
        assert_eq!(&v, b"ab");
        resize_range(&mut v, 0..1, 2);
        assert_eq!(v.len(), 3);
        assert_eq!(v[2], b'b');
    }
}
