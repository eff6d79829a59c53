//! Small parsing and matching helpers shared by the command families, with Redis's
//! exact acceptance rules (what `string2ll`, `string2ld` and `stringmatchlen` accept).

use std::time::{SystemTime, UNIX_EPOCH};

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
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    glob_inner(pattern, s, nocase, 0)
}

fn glob_inner(p: &[u8], s: &[u8], nocase: bool, depth: usize) -> bool {
    // Deep star nesting is cut off as Redis does, so a hostile pattern costs bounded CPU.
    if depth > 1000 {
        return false;
    }
    let (mut pi, mut si) = (0, 0);
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    while pi < p.len() {
        match p[pi] {
            b'*' => {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                for k in si..=s.len() {
                    if glob_inner(&p[pi + 1..], &s[k..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if si >= s.len() {
                    return false;
                }
                si += 1;
            }
            b'[' => {
                if si >= s.len() {
                    return false;
                }
                pi += 1;
                let not = pi < p.len() && p[pi] == b'^';
                if not {
                    pi += 1;
                }
                let mut matched = false;
                loop {
                    if pi >= p.len() {
                        pi -= 1;
                        break;
                    }
                    if p[pi] == b'\\' && pi + 2 < p.len() {
                        pi += 1;
                        if eq(p[pi], s[si]) {
                            matched = true;
                        }
                    } else if p[pi] == b']' {
                        break;
                    } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                        let (mut a, mut b) = (p[pi], p[pi + 2]);
                        if a > b {
                            std::mem::swap(&mut a, &mut b);
                        }
                        let c = s[si];
                        let in_range = if nocase {
                            let c = c.to_ascii_lowercase();
                            c >= a.to_ascii_lowercase() && c <= b.to_ascii_lowercase()
                        } else {
                            c >= a && c <= b
                        };
                        if in_range {
                            matched = true;
                        }
                        pi += 2;
                    } else if eq(p[pi], s[si]) {
                        matched = true;
                    }
                    pi += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
            }
            b'\\' if pi + 1 < p.len() => {
                pi += 1;
                if si >= s.len() || !eq(p[pi], s[si]) {
                    return false;
                }
                si += 1;
            }
            c => {
                if si >= s.len() || !eq(c, s[si]) {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
        if si >= s.len() {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            break;
        }
    }
    pi == p.len() && si == s.len()
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
        assert!(glob_match(b"*", b"", false));
        assert!(glob_match(b"a\\*b", b"a*b", false));
        assert!(!glob_match(b"a*b", b"ac", false));
        assert!(glob_match(b"HELLO", b"hello", true));
    }
}
