//! `cjson`: lua-cjson 2.1.0 as bundled with Redis (encoding, decoding, configuration,
//! and the exact error messages).

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

use crate::args::{arg_error, check_integer, check_string, rt, type_name, MAX_C_STACK};
use crate::callback;

#[derive(Clone, Copy)]
struct Config {
    sparse_convert: u8,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: error, 1: encode as `inf`/`nan`, 2: encode as `null`.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: u8,
    encode_keep_buffer: u8,
    precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            encode_keep_buffer: 1,
            precision: 14,
        }
    }
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// `printf("%.<precision>g", x)` as glibc prints it.
pub(crate) fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if exp < -4 || exp >= p as i32 {
        format!("{}e{}{:02}", strip(mantissa), if exp < 0 { '-' } else { '+' }, exp.unsigned_abs())
    } else {
        strip(&format!("{:.*}", (p as i32 - 1 - exp) as usize, x))
    }
}

fn starts_with_ci(s: &[u8], i: usize, word: &[u8]) -> bool {
    s.get(i..i + word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word))
}

/// glibc `strtod` in the C locale: decimal, hexadecimal, `inf`/`infinity` and
/// `nan`/`nan(...)` forms. Returns the value and the index just past it, or `None`
/// when no conversion is possible.
pub(crate) fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = start;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    if starts_with_ci(s, i, b"inf") {
        i += 3;
        if starts_with_ci(s, i, b"inity") {
            i += 5;
        }
        return Some((sign(f64::INFINITY), i));
    }
    if starts_with_ci(s, i, b"nan") {
        i += 3;
        if at(i) == b'(' {
            let mut j = i + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                i = j + 1;
            }
        }
        return Some((sign(f64::NAN), i));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        return Some(match hex_float(s, i + 2) {
            Some((v, end)) => (sign(v), end),
            None => (sign(0.0), i + 1),
        });
    }
    let int_start = i;
    while at(i).is_ascii_digit() {
        i += 1;
    }
    let int_part = &s[int_start..i];
    let mut frac_part: &[u8] = &[];
    if at(i) == b'.' {
        let f = i + 1;
        let mut j = f;
        while at(j).is_ascii_digit() {
            j += 1;
        }
        if !int_part.is_empty() || j > f {
            frac_part = &s[f..j];
            i = j;
        }
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut exp_part: &[u8] = b"0";
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        let d = j;
        while at(j).is_ascii_digit() {
            j += 1;
        }
        if j > d {
            exp_part = &s[i + 1..j];
            i = j;
        }
    }
    let text = format!(
        "{}.{}e{}",
        if int_part.is_empty() { "0" } else { std::str::from_utf8(int_part).ok()? },
        if frac_part.is_empty() { "0" } else { std::str::from_utf8(frac_part).ok()? },
        std::str::from_utf8(exp_part).ok()?
    );
    Some((sign(text.parse::<f64>().ok()?), i))
}

/// The part of a hexadecimal float after `0x`; `None` when no hex digit follows.
fn hex_float(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = start;
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut sticky = false;
    let mut seen_point = false;
    loop {
        let c = at(i);
        if c == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else { break };
        digits += 1;
        if mant >> 60 == 0 {
            mant = (mant << 4) | d as u64;
            if seen_point {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_point {
                exp += 4;
            }
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let neg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        let d = j;
        let mut e: i64 = 0;
        while at(j).is_ascii_digit() {
            e = (e * 10 + (at(j) - b'0') as i64).min(1 << 20);
            j += 1;
        }
        if j > d {
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    let mut v = (mant | sticky as u64) as f64;
    let mut e = exp;
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        v /= 2f64.powi(step as i32);
        e += step;
    }
    Some((v, i))
}

// ===== Encoding =====

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn append_number(cfg: &Config, out: &mut Vec<u8>, n: f64) -> mlua::Result<()> {
    match cfg.encode_invalid_numbers {
        0 if !n.is_finite() => return Err(rt("Cannot serialise number: must not be NaN or Inf")),
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    out.extend_from_slice(format_g(n, cfg.precision as usize).as_bytes());
    Ok(())
}

fn key_number(k: &Value) -> Option<f64> {
    match k {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// lua-cjson's array test: `Some(n)` when every key is a positive integer (with n the
/// largest), `None` for objects, and an error for excessively sparse arrays.
fn array_length(cfg: &Config, t: &Table) -> mlua::Result<Option<i64>> {
    let mut max: i64 = 0;
    let mut items: i64 = 0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match key_number(&k) {
            Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                max = max.max(k.min(i32::MAX as f64) as i64);
                items += 1;
            }
            _ => return Ok(None),
        }
    }
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio as i64 && max > cfg.sparse_safe as i64 {
        if cfg.sparse_convert == 0 {
            return Err(rt("Cannot serialise table: excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

enum EncFrame {
    Array { len: i64, next: i64 },
    Object { first: bool },
}

impl EncFrame {
    /// Stack slots the C encoder holds for this level while encoding a child.
    fn slots(&self) -> usize {
        match self {
            EncFrame::Array { .. } => 1,
            EncFrame::Object { .. } => 2,
        }
    }
}

/// Encodes without recursion so deep (or cyclic) tables cannot exhaust the Rust
/// stack. Only the innermost table and its traversal key are held from Rust; outer
/// ones are spilled into a Lua table. `slots` mirrors the C encoder's Lua stack use.
fn encode(lua: &Lua, cfg: &Config, next_fn: &Function, root: Value) -> mlua::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut frames: Vec<EncFrame> = Vec::new();
    let mut spill = callback::Spill::new(lua)?;
    let mut top: Option<(Table, Value)> = None;
    let mut slots = 1;
    let mut pending = Some(root);
    loop {
        if let Some(v) = pending.take() {
            match v {
                Value::String(s) => append_string(&mut out, &s.as_bytes()),
                Value::Integer(i) => append_number(cfg, &mut out, i as f64)?,
                Value::Number(n) => append_number(cfg, &mut out, n)?,
                Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Value::Nil => out.extend_from_slice(b"null"),
                Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
                Value::Table(t) => {
                    let depth = frames.len() + 1;
                    if depth > cfg.encode_max_depth as usize || slots + 3 > MAX_C_STACK {
                        return Err(rt(format!("Cannot serialise, excessive nesting ({depth})")));
                    }
                    let frame = match array_length(cfg, &t)? {
                        Some(len) if len > 0 => {
                            out.push(b'[');
                            EncFrame::Array { len, next: 1 }
                        }
                        _ => {
                            out.push(b'{');
                            EncFrame::Object { first: true }
                        }
                    };
                    if let Some((table, key)) = top.take() {
                        spill.push(table)?;
                        spill.push(key)?;
                    }
                    top = Some((t, Value::Nil));
                    slots += frame.slots();
                    frames.push(frame);
                }
                other => return Err(rt(format!("Cannot serialise {}: type not supported", type_name(Some(&other))))),
            }
        }
        let (Some(frame), Some((table, key))) = (frames.last_mut(), top.as_mut()) else { break };
        match frame {
            EncFrame::Array { len, next } => {
                if *next <= *len {
                    if *next > 1 {
                        out.push(b',');
                    }
                    pending = Some(table.raw_get(*next)?);
                    *next += 1;
                    continue;
                }
                out.push(b']');
            }
            EncFrame::Object { first } => {
                let (k, v): (Value, Value) = next_fn.call((table.clone(), std::mem::take(key)))?;
                if !k.is_nil() {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    match &k {
                        Value::String(s) => {
                            append_string(&mut out, &s.as_bytes());
                            out.push(b':');
                        }
                        Value::Integer(_) | Value::Number(_) => {
                            out.push(b'"');
                            append_number(cfg, &mut out, key_number(&k).expect("number key"))?;
                            out.extend_from_slice(b"\":");
                        }
                        other => {
                            return Err(rt(format!("Cannot serialise {}: table key must be a number or string", type_name(Some(other)))))
                        }
                    }
                    *key = k;
                    pending = Some(v);
                    continue;
                }
                out.push(b'}');
            }
        }
        let done = frames.pop().expect("frame");
        slots -= done.slots();
        top = None;
        if !frames.is_empty() {
            let key: Value = spill.pop()?;
            let table: Table = spill.pop()?;
            top = Some((table, key));
        }
    }
    Ok(out)
}

// ===== Decoding =====

enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(msg) => msg,
        }
    }
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    cfg: Config,
    depth: i32,
}

fn hex4(p: &Parser, at: usize) -> Option<u32> {
    (0..4).try_fold(0u32, |acc, k| Some((acc << 4) | (p.byte(at + k) as char).to_digit(16)?))
}

impl Parser<'_> {
    /// The byte at `i`, with 0 past the end as the C parser sees its NUL terminator.
    fn byte(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.byte(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.byte(p);
        if c == b'0' {
            let c2 = self.byte(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        starts_with_ci(self.data, p, b"inf") || starts_with_ci(self.data, p, b"nan")
    }

    fn number_token(&mut self) -> Tok {
        match strtod(self.data, self.pos) {
            Some((n, end)) if end > self.pos => {
                self.pos = end;
                Tok::Num(n)
            }
            _ => Tok::Error("invalid number"),
        }
    }

    /// Appends the UTF-8 form of the `\uXXXX` escape (or surrogate pair) at `pos`.
    fn unicode_escape(&mut self, buf: &mut Vec<u8>) -> bool {
        let Some(mut cp) = hex4(self, self.pos + 2) else { return false };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || self.byte(self.pos + 6) != b'\\' || self.byte(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = hex4(self, self.pos + 8) else { return false };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        match cp {
            0..=0x7F => buf.push(cp as u8),
            0x80..=0x7FF => buf.extend_from_slice(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8]),
            0x800..=0xFFFF => buf.extend_from_slice(&[0xE0 | (cp >> 12) as u8, 0x80 | ((cp >> 6) & 0x3F) as u8, 0x80 | (cp & 0x3F) as u8]),
            _ => buf.extend_from_slice(&[
                0xF0 | (cp >> 18) as u8,
                0x80 | ((cp >> 12) & 0x3F) as u8,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]),
        }
        self.pos += len;
        true
    }

    fn string_token(&mut self) -> Tok {
        self.pos += 1;
        let mut buf = Vec::new();
        loop {
            let c = self.byte(self.pos);
            match c {
                b'"' => break,
                0 => return Tok::Error("unexpected end of string"),
                b'\\' => {
                    let esc = match self.byte(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape(&mut buf) {
                                continue;
                            }
                            return Tok::Error("invalid unicode escape code");
                        }
                        _ => return Tok::Error("invalid escape code"),
                    };
                    buf.push(esc);
                    self.pos += 2;
                }
                _ => {
                    buf.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Tok::Str(buf)
    }

    /// The next token and its 0-based index: where it starts, or for errors where the
    /// problem was detected.
    fn next_token(&mut self) -> (Tok, usize) {
        while matches!(self.byte(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let c = self.byte(self.pos);
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, start);
        }
        let tok = match c {
            0 => Tok::End,
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                    Tok::Error("invalid number")
                } else {
                    self.number_token()
                }
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                let rest = &self.data[self.pos..];
                if rest.starts_with(b"true") {
                    self.pos += 4;
                    Tok::Bool(true)
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    Tok::Bool(false)
                } else if rest.starts_with(b"null") {
                    self.pos += 4;
                    Tok::Null
                } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
                    self.number_token()
                } else {
                    Tok::Error("invalid token")
                }
            }
            _ => Tok::Error("invalid token"),
        };
        let index = if matches!(tok, Tok::Error(_)) { self.pos } else { start };
        (tok, index)
    }
}

fn parse_error(expected: &str, tok: &Tok, index: usize) -> mlua::Error {
    rt(format!("Expected {expected} but found {} at character {}", tok.name(), index + 1))
}

enum DecFrame {
    Array { next: i64 },
    Object,
}

/// Decodes without recursion; like the encoder, only the innermost container (and
/// its pending key) is held from Rust, outer ones are spilled into a Lua table.
struct Decoder<'a, 'l> {
    lua: &'l Lua,
    p: Parser<'a>,
    frames: Vec<DecFrame>,
    top: Option<(Table, Option<mlua::LuaString>)>,
    spill: callback::Spill,
    /// Lua stack slots the C decoder would hold (the argument, then per level).
    slots: usize,
}

impl Decoder<'_, '_> {
    fn next(&mut self) -> (Tok, usize) {
        self.p.next_token()
    }

    fn descend(&mut self, slots: usize) -> mlua::Result<()> {
        self.p.depth += 1;
        if self.p.depth <= self.p.cfg.decode_max_depth && self.slots + slots <= MAX_C_STACK {
            return Ok(());
        }
        Err(rt(format!("Found too many nested data structures ({}) at character {}", self.p.depth, self.p.pos)))
    }

    /// Reads `"key" :` for an object; `tok` is the token expected to be the key.
    fn object_key(&mut self, tok: (Tok, usize)) -> mlua::Result<mlua::LuaString> {
        let key = match tok {
            (Tok::Str(s), _) => self.lua.create_string(&s)?,
            (t, i) => return Err(parse_error("object key string", &t, i)),
        };
        match self.next() {
            (Tok::Colon, _) => Ok(key),
            (t, i) => Err(parse_error("colon", &t, i)),
        }
    }

    fn open(&mut self, frame: DecFrame, table: Table, key: Option<mlua::LuaString>) -> mlua::Result<()> {
        if let Some((t, k)) = self.top.take() {
            self.spill.push(t)?;
            self.spill.push(k)?;
        }
        self.slots += match frame {
            DecFrame::Array { .. } => 1,
            DecFrame::Object => 2,
        };
        self.frames.push(frame);
        self.top = Some((table, key));
        Ok(())
    }

    fn close(&mut self) -> mlua::Result<Value> {
        self.slots -= match self.frames.pop() {
            Some(DecFrame::Array { .. }) => 1,
            _ => 2,
        };
        self.p.depth -= 1;
        let (table, _) = self.top.take().expect("open container");
        if !self.frames.is_empty() {
            let k: Option<mlua::LuaString> = self.spill.pop()?;
            let t: Table = self.spill.pop()?;
            self.top = Some((t, k));
        }
        Ok(Value::Table(table))
    }

    fn parse(&mut self) -> mlua::Result<Value> {
        let mut tok = self.next();
        loop {
            // Value context: turn `tok` into a value, or open a container.
            let mut value = match tok {
                (Tok::Str(s), _) => Value::String(self.lua.create_string(&s)?),
                (Tok::Num(n), _) => Value::Number(n),
                (Tok::Bool(b), _) => Value::Boolean(b),
                (Tok::Null, _) => null(),
                (Tok::ArrBegin, _) => {
                    self.descend(2)?;
                    let table = self.lua.create_table()?;
                    tok = self.next();
                    if matches!(tok.0, Tok::ArrEnd) {
                        self.p.depth -= 1;
                        Value::Table(table)
                    } else {
                        self.open(DecFrame::Array { next: 1 }, table, None)?;
                        continue;
                    }
                }
                (Tok::ObjBegin, _) => {
                    self.descend(3)?;
                    let table = self.lua.create_table()?;
                    tok = self.next();
                    if matches!(tok.0, Tok::ObjEnd) {
                        self.p.depth -= 1;
                        Value::Table(table)
                    } else {
                        let key = self.object_key(tok)?;
                        self.open(DecFrame::Object, table, Some(key))?;
                        tok = self.next();
                        continue;
                    }
                }
                (t, i) => return Err(parse_error("value", &t, i)),
            };
            // Store the value in its container; close containers that end here.
            loop {
                let (Some(frame), Some((table, key))) = (self.frames.last_mut(), self.top.as_mut()) else {
                    return Ok(value);
                };
                match frame {
                    DecFrame::Array { next } => {
                        table.raw_set(*next, value)?;
                        *next += 1;
                        match self.p.next_token() {
                            (Tok::ArrEnd, _) => {}
                            (Tok::Comma, _) => {
                                tok = self.next();
                                break;
                            }
                            (t, i) => return Err(parse_error("comma or array end", &t, i)),
                        }
                    }
                    DecFrame::Object => {
                        table.raw_set(key.take().expect("key"), value)?;
                        match self.p.next_token() {
                            (Tok::ObjEnd, _) => {}
                            (Tok::Comma, _) => {
                                let t = self.next();
                                let k = self.object_key(t)?;
                                if let Some((_, key)) = self.top.as_mut() {
                                    *key = Some(k);
                                }
                                tok = self.next();
                                break;
                            }
                            (t, i) => return Err(parse_error("comma or object end", &t, i)),
                        }
                    }
                }
                value = self.close()?;
            }
        }
    }
}

fn decode(lua: &Lua, cfg: Config, args: &MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let s = check_string(lua, args, 1)?;
    let data = s.as_bytes();
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(rt("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut d = Decoder {
        lua,
        p: Parser { data: &data, pos: 0, cfg, depth: 0 },
        frames: Vec::new(),
        top: None,
        spill: callback::Spill::new(lua)?,
        slots: 1,
    };
    let value = d.parse()?;
    match d.next() {
        (Tok::End, _) => Ok(value),
        (t, i) => Err(parse_error("the end", &t, i)),
    }
}

// ===== Configuration =====

fn arg_init(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<()> {
    if args.len() > n {
        return Err(arg_error(lua, n as i64 + 1, "found too many arguments"));
    }
    Ok(())
}

fn is_set(args: &MultiValue, idx: usize) -> bool {
    !matches!(args.get(idx - 1), None | Some(Value::Nil))
}

fn integer_option(lua: &Lua, args: &MultiValue, idx: usize, setting: &mut i32, min: i32, max: i32) -> mlua::Result<Value> {
    if is_set(args, idx) {
        let value = check_integer(lua, args, idx)? as i32;
        if !(min <= value && value <= max) {
            return Err(arg_error(lua, 1, &format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    Ok(Value::Integer(*setting as i64))
}

fn enum_option(lua: &Lua, args: &MultiValue, idx: usize, setting: &mut u8, options: &[&str]) -> mlua::Result<Value> {
    if is_set(args, idx) {
        if let Some(Value::Boolean(b)) = args.get(idx - 1) {
            *setting = *b as u8;
        } else {
            let s = check_string(lua, args, idx)?;
            let s = s.as_bytes();
            match options.iter().position(|o| o.as_bytes() == &s[..]) {
                Some(i) => *setting = i as u8,
                None => return Err(arg_error(lua, idx as i64, &format!("invalid option '{}'", String::from_utf8_lossy(&s)))),
            }
        }
    }
    Ok(match *setting {
        0 | 1 => Value::Boolean(*setting == 1),
        n => Value::String(lua.create_string(options[n as usize])?),
    })
}

/// Runs `f` on a copy of the configuration and stores it back (even after an error,
/// like the C library's in-place updates), so no borrow is held while Lua runs.
fn with_config<R>(cfg: &RefCell<Config>, f: impl FnOnce(&mut Config) -> R) -> R {
    let mut c = *cfg.borrow();
    let r = f(&mut c);
    *cfg.borrow_mut() = c;
    r
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// Builds a module table whose functions share one configuration, like the C
/// closures sharing their config upvalue; `new` builds an independent one.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg = Rc::new(RefCell::new(Config::default()));
    let t = lua.create_table()?;
    let with_cfg = |f: fn(&Lua, &mut Config, &MultiValue) -> mlua::Result<MultiValue>| {
        let cfg = cfg.clone();
        callback::function(lua, move |lua, args: MultiValue| with_config(&cfg, |c| f(lua, c, &args)))
    };
    let next_fn = callback::next_function(lua)?;
    let encode_cfg = cfg.clone();
    t.raw_set(
        "encode",
        callback::function(lua, move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let c = *encode_cfg.borrow();
            let out = encode(lua, &c, &next_fn, args[0].clone())?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set("decode", with_cfg(|lua, cfg, args| Ok(MultiValue::from_vec(vec![decode(lua, *cfg, args)?])))?)?;
    t.raw_set(
        "encode_sparse_array",
        with_cfg(|lua, cfg, args| {
            arg_init(lua, args, 3)?;
            let convert = enum_option(lua, args, 1, &mut cfg.sparse_convert, BOOL_OPTIONS)?;
            let ratio = integer_option(lua, args, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(lua, args, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
            Ok(MultiValue::from_vec(vec![convert, ratio, safe]))
        })?,
    )?;
    type Single = fn(&Lua, &mut Config, &MultiValue) -> mlua::Result<Value>;
    let singles: [(&str, Single); 6] = [
        ("encode_max_depth", |lua, cfg, args| integer_option(lua, args, 1, &mut cfg.encode_max_depth, 1, i32::MAX)),
        ("decode_max_depth", |lua, cfg, args| integer_option(lua, args, 1, &mut cfg.decode_max_depth, 1, i32::MAX)),
        ("encode_number_precision", |lua, cfg, args| integer_option(lua, args, 1, &mut cfg.precision, 1, 14)),
        ("encode_keep_buffer", |lua, cfg, args| enum_option(lua, args, 1, &mut cfg.encode_keep_buffer, BOOL_OPTIONS)),
        ("encode_invalid_numbers", |lua, cfg, args| enum_option(lua, args, 1, &mut cfg.encode_invalid_numbers, &["off", "on", "null"])),
        ("decode_invalid_numbers", |lua, cfg, args| enum_option(lua, args, 1, &mut cfg.decode_invalid_numbers, BOOL_OPTIONS)),
    ];
    for (name, f) in singles {
        let cfg = cfg.clone();
        t.raw_set(
            name,
            callback::function(lua, move |lua, args: MultiValue| {
                arg_init(lua, &args, 1)?;
                with_config(&cfg, |c| f(lua, c, &args))
            })?,
        )?;
    }
    t.raw_set("new", callback::function(lua, |lua, _: MultiValue| module(lua))?)?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::{format_g, strtod};
    use crate::testutil::{err, eval, lua};

    #[test]
    fn g_format() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-5000.0, "-5000"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.33333333333333"),
            (0.0003, "0.0003"),
            (0.00003, "3e-05"),
            (1e14, "1e+14"),
            (123456789012345.0, "1.2345678901234e+14"),
            (12345678901234.0, "12345678901234"),
            (2f64.powi(53), "9.007199254741e+15"),
            (1e300, "1e+300"),
            (1.5e-300, "1.5e-300"),
            (1023.2, "1023.2"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g(x, 14), want, "{x}");
        }
        assert_eq!(format_g(1.23456, 3), "1.23");
        assert_eq!(format_g(99.99, 2), "1e+02");
    }

    #[test]
    fn strtod_forms() {
        let parse = |s: &str| strtod(s.as_bytes(), 0);
        assert_eq!(parse("12abc"), Some((12.0, 2)));
        assert_eq!(parse("-5e3,"), Some((-5000.0, 4)));
        assert_eq!(parse("1e"), Some((1.0, 1)));
        assert_eq!(parse(".5"), Some((0.5, 2)));
        assert_eq!(parse("5."), Some((5.0, 2)));
        assert_eq!(parse("0x1F"), Some((31.0, 4)));
        assert_eq!(parse("0x1p4"), Some((16.0, 5)));
        assert_eq!(parse("0xg"), Some((0.0, 1)));
        assert_eq!(parse("-Infinity"), Some((f64::NEG_INFINITY, 9)));
        assert_eq!(parse("inf"), Some((f64::INFINITY, 3)));
        assert!(parse("nan").is_some_and(|(v, e)| v.is_nan() && e == 3));
        assert_eq!(parse("-"), None);
        assert_eq!(parse("."), None);
        assert_eq!(parse("1e400").map(|p| p.0), Some(f64::INFINITY));
    }

    #[test]
    fn encoding() {
        let lua = lua();
        let cases = [
            ("{1,2,3}", "[1,2,3]"),
            ("{a=1}", r#"{"a":1}"#),
            ("{}", "{}"),
            ("'he\"l\\\\lo/'", r#""he\"l\\lo\/""#),
            ("'\\1\\8\\9\\10\\12\\13\\31\\127'", "\"\\u0001\\b\\t\\n\\f\\r\\u001f\\u007f\""),
            ("nil", "null"),
            ("cjson.null", "null"),
            ("true", "true"),
            ("{false}", "[false]"),
            ("0.1", "0.1"),
            ("-0.5", "-0.5"),
            ("100", "100"),
            ("2^53", "9.007199254741e+15"),
            ("1/3", "0.33333333333333"),
            ("{[1]=1, [3]=3}", "[1,null,3]"),
            ("{[1]='a', x=1}", r#"{"1":"a","x":1}"#),
            ("{[0]=1}", r#"{"0":1}"#),
            ("{[1.5]=1}", r#"{"1.5":1}"#),
            ("{[10]=1}", "[null,null,null,null,null,null,null,null,null,1]"),
            ("{{}, {{}}}", "[{},[{}]]"),
            ("{a={b={c={1}}}}", r#"{"a":{"b":{"c":[1]}}}"#),
        ];
        for (expr, want) in cases {
            let got: mlua::LuaString = eval(&lua, &format!("return cjson.encode({expr})"));
            assert_eq!(&got.as_bytes()[..], want.as_bytes(), "{expr}");
        }
    }

    #[test]
    fn encode_errors() {
        let lua = lua();
        assert_eq!(err(&lua, "cjson.encode({[12]=1})"), "Cannot serialise table: excessively sparse array");
        assert_eq!(err(&lua, "cjson.encode(print)"), "Cannot serialise function: type not supported");
        assert_eq!(err(&lua, "cjson.encode({coroutine.create(function() end)})"), "Cannot serialise thread: type not supported");
        assert_eq!(err(&lua, "cjson.encode({[true]=1})"), "Cannot serialise boolean: table key must be a number or string");
        assert_eq!(err(&lua, "cjson.encode(0/0)"), "Cannot serialise number: must not be NaN or Inf");
        assert_eq!(err(&lua, "cjson.encode({x=1/0})"), "Cannot serialise number: must not be NaN or Inf");
        assert_eq!(err(&lua, "cjson.encode()"), "bad argument #1 to 'encode' (expected 1 argument)");
        assert_eq!(err(&lua, "cjson.encode(1, 2)"), "bad argument #1 to 'encode' (expected 1 argument)");
        assert_eq!(err(&lua, "local a = {} a[1] = a cjson.encode(a)"), "Cannot serialise, excessive nesting (1001)");
        assert_eq!(err(&lua, "local a = {} a.x = a cjson.encode(a)"), "Cannot serialise, excessive nesting (1001)");
        assert_eq!(err(&lua, "local e = cjson.encode e(1, 2)"), "bad argument #1 to 'e' (expected 1 argument)");
    }

    #[test]
    fn encode_config() {
        let lua = lua();
        let s: String = eval(
            &lua,
            r#"
            local out = {}
            local function add(...) for _, v in ipairs({...}) do out[#out + 1] = tostring(v) end end
            add(cjson.encode_sparse_array())
            add(cjson.encode_sparse_array(true))
            add(cjson.encode({[20]=1}))
            add(cjson.encode_sparse_array(false, 0))
            add(#cjson.encode({[20]=1}))
            add(cjson.encode_max_depth(2))
            add(pcall(cjson.encode, {{{}}}))
            add(cjson.encode({{}}))
            add(cjson.encode_number_precision(3))
            add(cjson.encode(1/3))
            add(cjson.encode_invalid_numbers("null"))
            add(cjson.encode({1/0, 0/0}))
            add(cjson.encode_invalid_numbers(true))
            add(cjson.encode({1/0, -1/0, 0/0}))
            add(cjson.encode_keep_buffer(false))
            add(cjson.new().encode(1/3))
            return table.concat(out, " ")
            "#,
        );
        assert_eq!(
            s,
            r#"false 2 10 true 2 10 {"20":1} false 0 10 98 2 false Cannot serialise, excessive nesting (3) [{}] 3 0.333 null [null,null] true [inf,-inf,nan] false 0.33333333333333"#
        );
        assert_eq!(
            err(&lua, "cjson.encode_max_depth(0)"),
            "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"
        );
        assert_eq!(
            err(&lua, "cjson.encode_number_precision(15)"),
            "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"
        );
        assert_eq!(err(&lua, "cjson.encode_max_depth(1, 2)"), "bad argument #2 to 'encode_max_depth' (found too many arguments)");
        assert_eq!(
            err(&lua, "cjson.encode_invalid_numbers('maybe')"),
            "bad argument #1 to 'encode_invalid_numbers' (invalid option 'maybe')"
        );
        assert_eq!(err(&lua, "cjson.encode_keep_buffer('null')"), "bad argument #1 to 'encode_keep_buffer' (invalid option 'null')");
        assert_eq!(err(&lua, "cjson.encode_max_depth('x')"), "bad argument #1 to 'encode_max_depth' (number expected, got string)");
        assert_eq!(
            err(&lua, "cjson.encode_sparse_array(true, {})"),
            "bad argument #2 to 'encode_sparse_array' (number expected, got table)"
        );
    }

    /// With the depth limits raised, the C libraries stop where the Lua C stack
    /// (`LUAI_MAXCSTACK`) runs out; the Rust stack is never at risk.
    #[test]
    fn stack_limits() {
        let lua = lua();
        lua.load("cjson.encode_max_depth(100000) cjson.decode_max_depth(100000)").exec().unwrap();
        assert_eq!(err(&lua, "local a = {} a[1] = a cjson.encode(a)"), "Cannot serialise, excessive nesting (7998)");
        assert_eq!(err(&lua, "local a = {} a.x = a cjson.encode(a)"), "Cannot serialise, excessive nesting (4000)");
        assert_eq!(err(&lua, "cjson.decode(string.rep('[', 50000))"), "Found too many nested data structures (7999) at character 7999");
        assert_eq!(
            err(&lua, r#"cjson.decode(string.rep('{"a":', 50000))"#),
            "Found too many nested data structures (4000) at character 19996"
        );
        assert!(eval::<bool>(
            &lua,
            "local s = string.rep('[', 7000) .. string.rep(']', 7000) return #cjson.encode(cjson.decode(s)) == 14000"
        ));
    }

    #[test]
    fn big_values() {
        let lua = lua();
        let ok: bool = eval(
            &lua,
            r#"
            local m = {} for i = 1, 100000 do m['k' .. i] = {i, 'v'} end
            local a = {} for i = 1, 100000 do a[i] = {x = i} end
            local dm = cjson.decode(cjson.encode(m))
            local da = cjson.decode(cjson.encode(a))
            return dm.k77777[1] == 77777 and dm.k1[2] == 'v' and #da == 100000 and da[100000].x == 100000
            "#,
        );
        assert!(ok);
    }

    #[test]
    fn decoding() {
        let lua = lua();
        let s: String = eval(&lua, r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#);
        assert_eq!(s, "0 -5000 -1 0.0003 1023.2 0");
        let checks = [
            r#"local t = cjson.decode('{"keya": "a", "keyb": "b"}') return t.keya == "a" and t.keyb == "b""#,
            r#"return cjson.decode('null') == cjson.null"#,
            r#"return cjson.decode('[null]')[1] == cjson.null"#,
            r#"return cjson.decode(' true ') == true and cjson.decode('false') == false"#,
            r#"return cjson.decode('"\\u00e9\\u20ac\\ud83d\\ude00\\/\\b\\n"') == "\195\169\226\130\172\240\159\152\128/\b\n""#,
            r#"return cjson.decode('"\\u0000"') == "\0""#,
            r#"return cjson.decode('12345678901234567890') == 12345678901234567890"#,
            r#"return cjson.decode('9007199254740993') == 2^53"#,
            r#"return cjson.decode('123') == 123 and cjson.decode(123) == 123"#,
            r#"return cjson.decode('0x10') == 16 and cjson.decode('+1') == 1 and cjson.decode('-Infinity') == -1/0"#,
            r#"local n = cjson.decode('nan') return n ~= n"#,
            r#"local t = cjson.decode('{"a":[1,{"b":[]}],"c":{}}') return t.a[1] == 1 and next(t.a[2].b) == nil and next(t.c) == nil"#,
            r#"local t = cjson.decode('[1,2,3]') return #t == 3 and t[3] == 3"#,
            r#"return cjson.decode('[1]\0garbage')[1] == 1"#,
            r#"local t = cjson.decode('{"a":1,"a":2}') return t.a == 2"#,
            r#"return cjson.decode('"a\tb"') == "a\tb""#,
        ];
        for c in checks {
            assert!(eval::<bool>(&lua, c), "{c}");
        }
        assert!(eval::<bool>(&lua, "local t = {a={1,2,{x='y'}}, b='c\"d', n=-1.25} local d = cjson.decode(cjson.encode(t)) return d.a[3].x == 'y' and d.b == t.b and d.n == -1.25"));
    }

    #[test]
    fn decode_errors() {
        let lua = lua();
        let cases = [
            ("", "Expected value but found T_END at character 1"),
            ("x", "Expected value but found invalid token at character 1"),
            ("[1 2]", "Expected comma or array end but found T_NUMBER at character 4"),
            ("[1,]", "Expected value but found T_ARR_END at character 4"),
            ("{1:2}", "Expected object key string but found T_NUMBER at character 2"),
            (r#"{"a" 2}"#, "Expected colon but found T_NUMBER at character 6"),
            (r#"{"a":2 "b"}"#, "Expected comma or object end but found T_STRING at character 8"),
            (r#"{"a":2,}"#, "Expected object key string but found T_OBJ_END at character 8"),
            ("1 2", "Expected the end but found T_NUMBER at character 3"),
            ("[1] ,", "Expected the end but found T_COMMA at character 5"),
            (r#""abc"#, "Expected value but found unexpected end of string at character 5"),
            (r#""a\qb""#, "Expected value but found invalid escape code at character 3"),
            (r#""\u12""#, "Expected value but found invalid unicode escape code at character 2"),
            (r#""\udc00""#, "Expected value but found invalid unicode escape code at character 2"),
            (r#""\ud800x""#, "Expected value but found invalid unicode escape code at character 2"),
            ("-", "Expected value but found invalid number at character 1"),
            ("[tru]", "Expected value but found invalid token at character 2"),
            ("nil", "Expected value but found invalid token at character 1"),
            ("[1.5.3]", "Expected comma or array end but found invalid token at character 5"),
            ("a\0", "JSON parser does not support UTF-16 or UTF-32"),
        ];
        for (json, want) in cases {
            let code = format!("cjson.decode({})", lua_quote(json));
            assert_eq!(err(&lua, &code), want, "{json:?}");
        }
        assert_eq!(
            err(&lua, "cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))"),
            "Found too many nested data structures (1001) at character 1001"
        );
        assert_eq!(
            err(&lua, r#"cjson.decode_max_depth(1) cjson.decode('{"obj": {"array": [1,2,3,4]}}')"#),
            "Found too many nested data structures (2) at character 9"
        );
        assert_eq!(err(&lua, "cjson.decode()"), "bad argument #1 to 'decode' (expected 1 argument)");
        assert_eq!(err(&lua, "cjson.decode({})"), "bad argument #1 to 'decode' (string expected, got table)");
        let lua = super::super::testutil::lua();
        assert_eq!(
            err(&lua, "cjson.decode_invalid_numbers(false) cjson.decode('0x10')"),
            "Expected value but found invalid number at character 1"
        );
        assert_eq!(
            err(&lua, "cjson.decode_invalid_numbers(false) cjson.decode('[01]')"),
            "Expected value but found invalid number at character 2"
        );
        assert_eq!(
            err(&lua, "cjson.decode_invalid_numbers(false) cjson.decode('inf')"),
            "Expected value but found invalid token at character 1"
        );
    }

    fn lua_quote(s: &str) -> String {
        let mut out = String::from("\"");
        for b in s.bytes() {
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x20..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\{b}")),
            }
        }
        out.push('"');
        out
    }
}
