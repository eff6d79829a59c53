//! `cmsgpack`: lua-cmsgpack 0.4.0 as bundled with Redis.

use mlua::{Lua, MultiValue, Table, Value};

use crate::args::{arg_error, check_integer, check_string, opt_integer, rt, MAX_C_STACK};
use crate::callback;

/// Tables nested deeper than this encode as nil, which also stops cycles.
const MAX_NESTING: usize = 16;

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as i8 as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Integral doubles in int64 range become the shortest int; other numbers become a
/// float32 when that is exact (infinities included), else a float64.
fn encode_number(out: &mut Vec<u8>, n: f64) {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n.fract() == 0.0 && (-TWO63..TWO63).contains(&n) {
        encode_int(out, n as i64);
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(out: &mut Vec<u8>, n: usize, fix: u8, tag16: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(tag16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(tag16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// True when the keys are exactly 1..n (positive integers in C `int` range, no holes).
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let n = match pair?.0 {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n.fract() != 0.0 || n > i32::MAX as f64 {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

fn encode_value(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t)? {
                let len = t.raw_len();
                encode_len(out, len, 0x90, 0xdc);
                for j in 1..=len {
                    // Elements are read with metamethods, as lua_gettable does.
                    encode_value(out, &t.get::<Value>(j as i64)?, level + 1)?;
                }
            } else {
                let mut len = 0;
                t.for_each(|_: Value, _: Value| {
                    len += 1;
                    Ok(())
                })?;
                encode_len(out, len, 0x80, 0xde);
                t.for_each(|k: Value, v: Value| {
                    encode_value(out, &k, level + 1)?;
                    encode_value(out, &v, level + 1)
                })?;
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    if args.is_empty() {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for v in &args {
        encode_value(&mut out, v, 0)?;
    }
    lua.create_string(&out)
}

enum DecodeError {
    Eof,
    BadFormat,
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

enum Frame {
    Array { left: usize, next: i64 },
    Map { left: usize, has_key: bool },
}

/// The containers being decoded: counters in Rust, tables (and pending map keys) in a
/// Lua table except for the innermost, so depth does not cost mlua references.
struct Open {
    frames: Vec<Frame>,
    top: Option<(Table, Value)>,
    spill: callback::Spill,
    /// Lua stack slots the C decoder holds for these levels while decoding a child.
    slots: usize,
}

impl Open {
    fn push(&mut self, frame: Frame, table: Table) -> mlua::Result<()> {
        if let Some((t, k)) = self.top.take() {
            self.spill.push(t)?;
            self.spill.push(k)?;
        }
        self.slots += match frame {
            Frame::Array { .. } => 2,
            Frame::Map { .. } => 1,
        };
        self.frames.push(frame);
        self.top = Some((table, Value::Nil));
        Ok(())
    }

    fn pop(&mut self) -> mlua::Result<Value> {
        self.slots -= match self.frames.pop() {
            Some(Frame::Array { .. }) => 2,
            _ => 1,
        };
        let (table, _) = self.top.take().expect("open container");
        if !self.frames.is_empty() {
            let k: Value = self.spill.pop()?;
            let t: Table = self.spill.pop()?;
            self.top = Some((t, k));
        }
        Ok(Value::Table(table))
    }

    /// Stores a decoded value in the innermost container; true when that completes it.
    fn store(&mut self, value: Value) -> Result<bool, DecodeError> {
        let (Some(frame), Some((table, key))) = (self.frames.last_mut(), self.top.as_mut()) else {
            unreachable!("store without an open container")
        };
        Ok(match frame {
            Frame::Array { left, next } => {
                table.raw_set(*next, value)?;
                *next += 1;
                *left -= 1;
                *left == 0
            }
            Frame::Map { has_key: has_key @ false, .. } => {
                *has_key = true;
                *key = value;
                self.slots += 1;
                false
            }
            Frame::Map { left, has_key } => {
                let k = std::mem::take(key);
                match &k {
                    Value::Nil => return Err(rt("table index is nil").into()),
                    Value::Number(n) if n.is_nan() => return Err(rt("table index is NaN").into()),
                    _ => {}
                }
                table.raw_set(k, value)?;
                *has_key = false;
                self.slots -= 1;
                *left -= 1;
                *left == 0
            }
        })
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.left() < n {
            return Err(DecodeError::Eof);
        }
        Ok(())
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        self.data[self.pos + from..self.pos + from + n].iter().fold(0, |acc, &b| (acc << 8) | b as u64)
    }

    /// Decodes one top-level object without recursion; `base_slots` is what the C
    /// decoder has on the Lua stack already (arguments plus values decoded so far).
    fn decode(&mut self, lua: &Lua, base_slots: usize) -> Result<Value, DecodeError> {
        let mut open = Open { frames: Vec::new(), top: None, spill: callback::Spill::new(lua)?, slots: 0 };
        loop {
            let used = base_slots + open.slots;
            self.need(1)?;
            if used + 1 > MAX_C_STACK {
                return Err(rt("stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)").into());
            }
            let b = self.data[self.pos];
            let mut container = None;
            let scalar = match b {
                0xcc | 0xd0 => {
                    self.need(2)?;
                    let v = self.be(1, 1);
                    self.pos += 2;
                    Value::Number(if b == 0xcc { v as f64 } else { v as u8 as i8 as f64 })
                }
                0xcd | 0xd1 => {
                    self.need(3)?;
                    let v = self.be(1, 2);
                    self.pos += 3;
                    Value::Number(if b == 0xcd { v as f64 } else { v as u16 as i16 as f64 })
                }
                0xce | 0xd2 => {
                    self.need(5)?;
                    let v = self.be(1, 4);
                    self.pos += 5;
                    Value::Number(if b == 0xce { v as f64 } else { v as u32 as i32 as f64 })
                }
                // uint64 goes through lua_Integer, so values above 2^63 wrap negative.
                0xcf | 0xd3 => {
                    self.need(9)?;
                    let v = self.be(1, 8);
                    self.pos += 9;
                    Value::Number(v as i64 as f64)
                }
                0xc0 | 0xc2 | 0xc3 => {
                    self.pos += 1;
                    match b {
                        0xc0 => Value::Nil,
                        _ => Value::Boolean(b == 0xc3),
                    }
                }
                0xca => {
                    self.need(5)?;
                    let v = f32::from_bits(self.be(1, 4) as u32);
                    self.pos += 5;
                    Value::Number(v as f64)
                }
                0xcb => {
                    self.need(9)?;
                    let v = f64::from_bits(self.be(1, 8));
                    self.pos += 9;
                    Value::Number(v)
                }
                0xd9 | 0xda | 0xdb | 0xa0..=0xbf => {
                    let hdr = match b {
                        0xd9 => 2,
                        0xda => 3,
                        0xdb => 5,
                        _ => 1,
                    };
                    self.need(hdr)?;
                    let len = if hdr == 1 { (b & 0x1f) as usize } else { self.be(1, hdr - 1) as usize };
                    self.need(hdr + len)?;
                    let s = lua.create_string(&self.data[self.pos + hdr..self.pos + hdr + len])?;
                    self.pos += hdr + len;
                    Value::String(s)
                }
                0xdc | 0xdd | 0xde | 0xdf | 0x80..=0x9f => {
                    let hdr = match b {
                        0xdc | 0xde => 3,
                        0xdd | 0xdf => 5,
                        _ => 1,
                    };
                    self.need(hdr)?;
                    let len = if hdr == 1 { (b & 0x0f) as usize } else { self.be(1, hdr - 1) as usize };
                    self.pos += hdr;
                    let is_array = matches!(b, 0xdc | 0xdd | 0x90..=0x9f);
                    let table = lua.create_table()?;
                    if is_array && used + 2 > MAX_C_STACK {
                        return Err(rt("stack overflow (in function mp_decode_to_lua_array)").into());
                    }
                    if len == 0 {
                        Value::Table(table)
                    } else {
                        let frame = if is_array { Frame::Array { left: len, next: 1 } } else { Frame::Map { left: len, has_key: false } };
                        container = Some((frame, table));
                        Value::Nil
                    }
                }
                0x00..=0x7f => {
                    self.pos += 1;
                    Value::Number(b as f64)
                }
                0xe0..=0xff => {
                    self.pos += 1;
                    Value::Number(b as i8 as f64)
                }
                _ => return Err(DecodeError::BadFormat),
            };
            if let Some((frame, table)) = container {
                open.push(frame, table)?;
                continue;
            }
            let mut value = scalar;
            loop {
                if open.frames.is_empty() {
                    return Ok(value);
                }
                if !open.store(value)? {
                    break;
                }
                value = open.pop()?;
            }
        }
    }
}

/// Shared by the three unpack functions; `nargs` is how many arguments the C function
/// still has on its stack when decoding starts.
fn unpack_full(lua: &Lua, s: &mlua::LuaString, nargs: usize, limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let data = s.as_bytes();
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(rt(format!("Invalid request to unpack with offset of {} and limit of {}.", offset as i32, len as i32)));
    } else if offset as u64 > len as u64 {
        return Err(rt(format!("Start offset {} greater than input length {}.", offset as i32, len as i32)));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut cur = Cursor { data: &data, pos: offset as usize };
    let mut values = Vec::new();
    while cur.left() > 0 && (values.len() as i64) < limit {
        match cur.decode(lua, nargs + values.len()) {
            Ok(v) => values.push(v),
            Err(DecodeError::Eof) => return Err(rt("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(rt("Bad data format in input.")),
            Err(DecodeError::Lua(e)) => return Err(e),
        }
    }
    if !decode_all {
        let next = if cur.left() == 0 { -1 } else { cur.pos as i64 };
        values.insert(0, Value::Integer(next));
    }
    callback::many(lua, values)
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", callback::function(lua, pack)?)?;
    t.raw_set(
        "unpack",
        callback::function(lua, |lua, args: MultiValue| {
            let s = check_string(lua, &args, 1)?;
            unpack_full(lua, &s, args.len(), 0, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        callback::function(lua, |lua, args: MultiValue| {
            let offset = opt_integer(lua, &args, 2, 0)?;
            let s = check_string(lua, &args, 1)?;
            unpack_full(lua, &s, 1, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        callback::function(lua, |lua, args: MultiValue| {
            let limit = check_integer(lua, &args, 2)?;
            let offset = opt_integer(lua, &args, 3, 0)?;
            let s = check_string(lua, &args, 1)?;
            unpack_full(lua, &s, 1, limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err, eval, lua};

    fn hex(lua: &mlua::Lua, expr: &str) -> String {
        let code = format!("return cmsgpack.pack({expr})");
        let s: mlua::LuaString = eval(lua, &code);
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn encoding() {
        let lua = lua();
        let cases = [
            ("0.1", "cb3fb999999999999a"),
            ("-1099511627776", "d3ffffff0000000000"),
            ("1.5", "ca3fc00000"),
            ("1/0", "ca7f800000"),
            ("0", "00"),
            ("127", "7f"),
            ("128", "cc80"),
            ("256", "cd0100"),
            ("65536", "ce00010000"),
            ("2^32", "cf0000000100000000"),
            ("2^63", "ca5f000000"),
            ("2^63 + 2^11", "cb43e0000000000001"),
            ("-2^63", "d38000000000000000"),
            ("-1", "ff"),
            ("-32", "e0"),
            ("-33", "d0df"),
            ("-129", "d1ff7f"),
            ("-32769", "d2ffff7fff"),
            ("-3147483648", "d3ffffffff44653600"),
            ("nil", "c0"),
            ("true, false", "c3c2"),
            ("'abc'", "a3616263"),
            ("string.rep('x', 32)", &format!("d920{}", "78".repeat(32))),
            ("string.rep('x', 256)", &format!("da0100{}", "78".repeat(256))),
            ("{}", "90"),
            ("{1, 2, 3}", "93010203"),
            ("{a=1}", "81a16101"),
            ("{[2]=1}", "810201"),
            ("{1, 'a', {true}}", "9301a16191c3"),
            ("print", "c0"),
            ("1, 2", "0102"),
        ];
        for (expr, want) in cases {
            assert_eq!(hex(&lua, expr), want, "{expr}");
        }
        assert_eq!(hex(&lua, "string.rep('x', 70000)"), format!("db00011170{}", "78".repeat(70000)));
        let big: mlua::LuaString = eval(&lua, "local t = {} for i = 1, 16 do t[i] = i end return cmsgpack.pack(t):sub(1, 3)");
        assert_eq!(big.as_bytes(), &[0xdc, 0x00, 0x10][..]);
    }

    #[test]
    fn circular_references() {
        let lua = lua();
        let h = hex(&lua, "(function() local a = {x=nil,y=5} local b = {x=a} a['x'] = b return a end)()");
        assert_eq!(
            h,
            "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0"
        );
    }

    #[test]
    fn decoding() {
        let lua = lua();
        let checks = [
            "local a, b, c = cmsgpack.unpack(cmsgpack.pack(1, 'x', true)) return a == 1 and b == 'x' and c == true",
            "return select('#', cmsgpack.unpack(cmsgpack.pack(nil, nil))) == 2",
            "return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255') == -1",
            "return cmsgpack.unpack('\\211\\255\\255\\255\\255\\255\\255\\255\\254') == -2",
            "return cmsgpack.unpack('\\208\\128') == -128 and cmsgpack.unpack('\\209\\128\\0') == -32768",
            "return cmsgpack.unpack('\\210\\128\\0\\0\\0') == -2^31 and cmsgpack.unpack('\\206\\255\\255\\255\\255') == 2^32 - 1",
            "return cmsgpack.unpack('\\202\\63\\192\\0\\0') == 1.5",
            "return cmsgpack.unpack('\\224') == -32 and cmsgpack.unpack('\\127') == 127",
            "local t = cmsgpack.unpack(cmsgpack.pack({1, {a='b'}, 3})) return t[1] == 1 and t[2].a == 'b' and t[3] == 3",
            "local t = cmsgpack.unpack('\\147\\1\\192\\3') return t[1] == 1 and t[2] == nil and t[3] == 3",
            "local t = cmsgpack.unpack('\\129\\1\\192') return next(t) == nil",
            "return select('#', cmsgpack.unpack('')) == 0",
            "local s = cmsgpack.unpack(cmsgpack.pack(string.rep('y', 100000))) return #s == 100000",
            "local t = {} for i = 1, 100000 do t[i] = i end local d = cmsgpack.unpack(cmsgpack.pack(t)) return #d == 100000 and d[99999] == 99999",
            "local t = {} for i = 1, 1000 do t['k' .. i] = i end local d = cmsgpack.unpack(cmsgpack.pack(t)) return d.k1000 == 1000 and d.k1 == 1",
        ];
        for c in checks {
            assert!(eval::<bool>(&lua, c), "{c}");
        }
    }

    #[test]
    fn unpack_one_and_limit() {
        let lua = lua();
        let s: String = eval(
            &lua,
            r#"
            local out = {}
            local function add(...) for i = 1, select('#', ...) do out[#out + 1] = tostring((select(i, ...))) end end
            local enc = cmsgpack.pack(string.rep('x', 30), 'abc', 7)
            local off, v = cmsgpack.unpack_one(enc, 0)
            add(off, #v)
            off, v = cmsgpack.unpack_one(enc, off)
            add(off, v)
            off, v = cmsgpack.unpack_one(enc, off)
            add(off, v)
            add(cmsgpack.unpack_limit(enc, 2))
            add(cmsgpack.unpack_limit(enc, 5, 31))
            add(cmsgpack.unpack_limit(enc, 0, 0))
            add(cmsgpack.unpack_one(enc, #enc))
            return table.concat(out, " ")
            "#,
        );
        let x30 = "x".repeat(30);
        assert_eq!(s, format!("31 30 35 abc -1 7 35 {x30} abc -1 abc 7 {x30} abc 7 -1"));
    }

    #[test]
    fn deep_nesting() {
        let lua = lua();
        assert!(eval::<bool>(
            &lua,
            "local t = cmsgpack.unpack(string.rep('\\145', 3000) .. '\\1') for i = 1, 3000 do t = t[1] end return t == 1"
        ));
        assert_eq!(err(&lua, "cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1')"), "stack overflow (in function mp_decode_to_lua_array)");
        assert!(eval::<bool>(
            &lua,
            "local t = cmsgpack.unpack(string.rep('\\129\\1', 3000) .. '\\1') for i = 1, 3000 do t = t[1] end return t == 1"
        ));
    }

    #[test]
    fn errors() {
        let lua = lua();
        assert_eq!(err(&lua, "cmsgpack.unpack('\\147\\1')"), "Missing bytes in input.");
        assert_eq!(err(&lua, "cmsgpack.unpack('\\217\\5ab')"), "Missing bytes in input.");
        assert_eq!(err(&lua, "cmsgpack.unpack('\\193')"), "Bad data format in input.");
        assert_eq!(err(&lua, "cmsgpack.unpack('\\196\\1a')"), "Bad data format in input.");
        assert_eq!(err(&lua, "cmsgpack.unpack('\\129\\192\\1')"), "table index is nil");
        assert_eq!(err(&lua, "cmsgpack.unpack_one('abc', -1)"), "Invalid request to unpack with offset of -1 and limit of 3.");
        assert_eq!(err(&lua, "cmsgpack.unpack_one('abc', 4)"), "Start offset 4 greater than input length 3.");
        assert_eq!(err(&lua, "cmsgpack.unpack()"), "bad argument #1 to 'unpack' (string expected, got no value)");
        assert_eq!(err(&lua, "cmsgpack.unpack_limit('a')"), "bad argument #2 to 'unpack_limit' (number expected, got no value)");
        assert_eq!(err(&lua, "cmsgpack.pack()"), "bad argument #0 to 'pack' (MessagePack pack needs input.)");
        assert_eq!(
            err(&lua, "cmsgpack.unpack(string.rep('\\1', 8000))"),
            "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"
        );
        assert_eq!(eval::<i64>(&lua, "return select('#', cmsgpack.unpack(string.rep('\\1', 7999)))"), 7999);
    }
}
