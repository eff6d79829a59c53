//! `struct`: Roberto Ierusalimschy's binary packing library, as bundled with Redis
//! (x86-64 sizes: short 2, int 4, long and size_t 8; little-endian native order).

use mlua::{Lua, MultiValue, Table, Value};

use crate::args::{arg_error, check_number, check_string, opt_integer, rt, to_number, MAX_C_STACK};
use crate::callback;

/// Largest `i`/`I` size the library accepts.
const MAX_INT_SIZE: usize = 32;
/// Alignment of `double` on x86-64, the default for `!`.
const MAX_ALIGN: usize = 8;

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header { little: cfg!(target_endian = "little"), align: 1 }
    }
}

/// A format string, read byte by byte like the C `const char *` (so it ends at a NUL).
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn next_opt(&mut self) -> Option<u8> {
        let c = *self.s.get(self.i).filter(|&&c| c != 0)?;
        self.i += 1;
        Some(c)
    }

    fn num(&mut self, default: usize) -> mlua::Result<usize> {
        let digit = |f: &Self| f.s.get(f.i).copied().filter(u8::is_ascii_digit);
        if digit(self).is_none() {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(d) = digit(self) {
            let d = (d - b'0') as i32;
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(rt("integral size overflow"));
            }
            a = a * 10 + d;
            self.i += 1;
        }
        Ok(a as usize)
    }

    /// Size in bytes of option `opt`, consuming its numeric suffix if it takes one.
    fn opt_size(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.num(1)?,
            b'i' | b'I' => {
                let sz = self.num(4)?;
                if sz > MAX_INT_SIZE {
                    return Err(rt(format!("integral size {sz} is larger than limit of {MAX_INT_SIZE}")));
                }
                sz
            }
            _ => 0,
        })
    }

    /// Handles the options that only change the header (endianness, alignment, spaces).
    fn control(&mut self, lua: &Lua, opt: u8, h: &mut Header) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.num(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(rt(format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
            }
            _ => return Err(arg_error(lua, 1, &format!("invalid format option '{}'", opt as char))),
        }
        Ok(())
    }
}

/// Padding needed before an item of `size` at offset `len` (the C arithmetic, kept
/// as is for sizes that are not powers of two).
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// The C `(unsigned long)` / `(unsigned long)(long)` casts as x86-64 performs them,
/// out-of-range values included.
fn to_uint(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    const INDEFINITE: u64 = 1 << 63;
    if n.is_nan() {
        INDEFINITE
    } else if n < 0.0 {
        if n >= -TWO63 {
            n as i64 as u64
        } else {
            INDEFINITE
        }
    } else if n < TWO63 {
        n as i64 as u64
    } else if n - TWO63 < TWO63 {
        ((n - TWO63) as i64 as u64) ^ INDEFINITE
    } else {
        0
    }
}

fn put_integer(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut value = to_uint(n);
    let start = out.len();
    out.resize(start + size, 0);
    let buf = &mut out[start..];
    for k in 0..size {
        let i = if little { k } else { size - 1 - k };
        buf[i] = value as u8;
        value >>= 8;
    }
}

fn get_integer(buf: &[u8], little: bool, signed: bool) -> f64 {
    let size = buf.len();
    let mut l: u64 = 0;
    for k in 0..size {
        let b = if little { buf[size - 1 - k] } else { buf[k] };
        l = (l << 8) | b as u64;
    }
    if !signed {
        return l as f64;
    }
    // The C shift count exceeds 63 for sizes above 8; x86-64 masks it, as wrapping_shl does.
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn with_order<const N: usize>(mut b: [u8; N], little: bool) -> [u8; N] {
    if little != cfg!(target_endian = "little") {
        b.reverse();
    }
    b
}

fn pack(lua: &Lua, args: &MultiValue) -> mlua::Result<mlua::LuaString> {
    let fmt_s = check_string(lua, args, 1)?;
    let fmt_b = fmt_s.as_bytes();
    let mut fmt = Fmt { s: &fmt_b, i: 0 };
    let mut h = Header::default();
    let mut arg = 2;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.opt_size(opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, args, arg)?;
                arg += 1;
                put_integer(&mut out, n, h.little, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&with_order(f.to_ne_bytes(), h.little));
            }
            b'd' => {
                let d = check_number(lua, args, arg)?;
                arg += 1;
                out.extend_from_slice(&with_order(d.to_ne_bytes(), h.little));
            }
            b'c' | b's' => {
                let s = check_string(lua, args, arg)?;
                arg += 1;
                let s = s.as_bytes();
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C library reports the argument after the string.
                    return Err(arg_error(lua, arg as i64, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(lua, opt, &mut h)?,
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let fmt_s = check_string(lua, args, 1)?;
    let fmt_b = fmt_s.as_bytes();
    let data_s = check_string(lua, args, 2)?;
    let data = data_s.as_bytes();
    let ld = data.len();
    let start = opt_integer(lua, args, 3, 1)?;
    if start == 0 {
        return Err(arg_error(lua, 3, "offset must be 1 or greater"));
    }
    // A negative offset wraps to a huge size_t in C, which then fails the length check.
    let mut pos = (start as u64 as usize).wrapping_sub(1);
    let mut fmt = Fmt { s: &fmt_b, i: 0 };
    let mut h = Header::default();
    let mut res: Vec<Value> = Vec::new();
    let too_short = || arg_error(lua, 2, "data string too short");
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.opt_size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        if args.len() + res.len() + 2 > MAX_C_STACK {
            return Err(rt("stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = get_integer(&data[pos..pos + size], h.little, opt.is_ascii_lowercase());
                res.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                res.push(Value::Number(f32::from_ne_bytes(with_order(b, h.little)) as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                res.push(Value::Number(f64::from_ne_bytes(with_order(b, h.little))));
            }
            b'c' => {
                if size == 0 {
                    let prev = res.last().and_then(|v| to_number(lua, Some(v)));
                    let Some(n) = prev else {
                        return Err(rt("format 'c0' needs a previous size"));
                    };
                    res.pop();
                    size = if n >= 0.0 { n as usize } else { usize::MAX };
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                res.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(rt("unfinished string in data"));
                };
                size = len + 1;
                res.push(Value::String(lua.create_string(&data[pos..pos + len])?));
            }
            _ => fmt.control(lua, opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    res.push(Value::Integer(pos.wrapping_add(1) as i64));
    callback::many(lua, res)
}

fn size(lua: &Lua, args: &MultiValue) -> mlua::Result<i64> {
    let fmt_s = check_string(lua, args, 1)?;
    let fmt_b = fmt_s.as_bytes();
    let mut fmt = Fmt { s: &fmt_b, i: 0 };
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.opt_size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(lua, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        // Unknown letters and digits are silently ignored here, as in the C library.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(lua, opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as i64)
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", callback::function(lua, |lua, args: MultiValue| pack(lua, &args))?)?;
    t.raw_set("unpack", callback::function(lua, |lua, args: MultiValue| unpack(lua, &args))?)?;
    t.raw_set("size", callback::function(lua, |lua, args: MultiValue| size(lua, &args))?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err, eval, lua};

    fn hex(lua: &mlua::Lua, code: &str) -> String {
        let s: mlua::LuaString = eval(lua, code);
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn pack_bytes() {
        let lua = lua();
        assert_eq!(hex(&lua, "return struct.pack('<i4', 1)"), "01000000");
        assert_eq!(hex(&lua, "return struct.pack('>i4', 1)"), "00000001");
        assert_eq!(hex(&lua, "return struct.pack('i', -2)"), "feffffff");
        assert_eq!(hex(&lua, "return struct.pack('>h', -2)"), "fffe");
        assert_eq!(
            hex(&lua, "return struct.pack('>bBhHlL', -1, 255, 1, 2, 3, 4)"),
            ["ffff", "0001", "0002", "0000000000000003", "0000000000000004"].concat()
        );
        assert_eq!(hex(&lua, "return struct.pack('<I3', 0x010203)"), "030201");
        assert_eq!(hex(&lua, "return struct.pack('>T', 1)"), "0000000000000001");
        assert_eq!(hex(&lua, "return struct.pack('>d', 1.5)"), "3ff8000000000000");
        assert_eq!(hex(&lua, "return struct.pack('<f', 1.5)"), "0000c03f");
        assert_eq!(hex(&lua, "return struct.pack('s', 'ab')"), "616200");
        assert_eq!(hex(&lua, "return struct.pack('c3', 'abcdef')"), "616263");
        assert_eq!(hex(&lua, "return struct.pack('c0', 'abc')"), "616263");
        assert_eq!(hex(&lua, "return struct.pack('bxb', 1, 2)"), "010002");
        assert_eq!(hex(&lua, "return struct.pack('!4 b i', 1, 2)"), "0100000002000000");
        assert_eq!(hex(&lua, "return struct.pack('!b d', 1, 0)"), format!("01{}", "0".repeat(30)));
        assert_eq!(hex(&lua, "return struct.pack('<i10', -1)"), "ffffffffffffffff0000");
        assert_eq!(hex(&lua, "return struct.pack('>i', '7')"), "00000007");
    }

    #[test]
    fn unpack_values() {
        let lua = lua();
        assert!(eval::<bool>(
            &lua,
            r#"
            local a, b, c, nxt = struct.unpack('<i4 >h B', '\1\0\0\0\255\254\200')
            return a == 1 and b == -2 and c == 200 and nxt == 8
            "#
        ));
        assert!(eval::<bool>(
            &lua,
            r#"
            local s = struct.pack('>i s d f c2 L', -5, 'hello', 2.25, 0.5, 'xy', 2^40)
            local a, b, c, d, e, f, nxt = struct.unpack('>i s d f c2 L', s)
            return a == -5 and b == 'hello' and c == 2.25 and d == 0.5 and e == 'xy' and f == 2^40 and nxt == #s + 1
            "#
        ));
        assert!(eval::<bool>(&lua, "local s, nxt = struct.unpack('b c0', '\\3abcd') return s == 'abc' and nxt == 5"));
        assert!(eval::<bool>(&lua, "local v, nxt = struct.unpack('B', 'xyz', 2) return v == 121 and nxt == 3"));
        assert!(eval::<bool>(&lua, "local v = struct.unpack('<I8', '\\255\\255\\255\\255\\255\\255\\255\\255') return v == 2^64"));
        assert!(eval::<bool>(&lua, "local v = struct.unpack('<i8', '\\255\\255\\255\\255\\255\\255\\255\\255') return v == -1"));
        assert!(eval::<bool>(&lua, "local v = struct.unpack('<i3', '\\255\\255\\255') return v == -1"));
        assert!(eval::<bool>(&lua, "local v = struct.unpack('!4 b i', struct.pack('!4 b i', 1, 77), 1) return v == 1"));
        assert!(eval::<bool>(&lua, "local a, b = struct.unpack('!4 b i', struct.pack('!4 b i', 1, 77)) return b == 77"));
    }

    #[test]
    fn sizes() {
        let lua = lua();
        assert_eq!(eval::<i64>(&lua, "return struct.size('i')"), 4);
        assert_eq!(eval::<i64>(&lua, "return struct.size('bhilTfdxc5')"), 1 + 2 + 4 + 8 + 8 + 4 + 8 + 1 + 5);
        assert_eq!(eval::<i64>(&lua, "return struct.size('!bd')"), 16);
        assert_eq!(eval::<i64>(&lua, "return struct.size('!4bd')"), 12);
        assert_eq!(eval::<i64>(&lua, "return struct.size('y')"), 0);
    }

    #[test]
    fn errors() {
        let lua = lua();
        assert_eq!(err(&lua, "struct.pack('y', 1)"), "bad argument #1 to 'pack' (invalid format option 'y')");
        assert_eq!(err(&lua, "struct.pack('i33', 1)"), "integral size 33 is larger than limit of 32");
        assert_eq!(err(&lua, "struct.pack('i99999999999', 1)"), "integral size overflow");
        assert_eq!(err(&lua, "struct.pack('!3i', 1)"), "alignment 3 is not a power of 2");
        assert_eq!(err(&lua, "struct.pack('i')"), "bad argument #2 to 'pack' (number expected, got no value)");
        assert_eq!(err(&lua, "struct.pack('ii', 1, {})"), "bad argument #3 to 'pack' (number expected, got table)");
        assert_eq!(err(&lua, "struct.pack('c5', 'abc')"), "bad argument #3 to 'pack' (string too short)");
        assert_eq!(err(&lua, "struct.unpack('i4', 'abc')"), "bad argument #2 to 'unpack' (data string too short)");
        assert_eq!(err(&lua, "struct.unpack('i4', 'abcd', 0)"), "bad argument #3 to 'unpack' (offset must be 1 or greater)");
        assert_eq!(err(&lua, "struct.unpack('i4', 'abcd', -1)"), "bad argument #2 to 'unpack' (data string too short)");
        assert_eq!(err(&lua, "struct.unpack('c0', 'abcd')"), "format 'c0' needs a previous size");
        assert_eq!(err(&lua, "struct.unpack('s', 'abcd')"), "unfinished string in data");
        assert_eq!(err(&lua, "struct.unpack('?', 'abcd')"), "bad argument #1 to 'unpack' (invalid format option '?')");
        assert_eq!(err(&lua, "struct.size('s')"), "bad argument #1 to 'size' (option 's' has no fixed size)");
        assert_eq!(err(&lua, "struct.size('c0')"), "bad argument #1 to 'size' (option 'c0' has no fixed size)");
        assert_eq!(err(&lua, "struct.size('?')"), "bad argument #1 to 'size' (invalid format option '?')");
        assert_eq!(err(&lua, "struct.pack(nil)"), "bad argument #1 to 'pack' (string expected, got nil)");
    }
}
