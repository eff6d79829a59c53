//! `bit`: LuaBitOp 1.0.2 semantics (32-bit operations on Lua doubles).

use mlua::{Lua, MultiValue, Table, Value};

use crate::args::{to_number, type_error};
use crate::callback;

/// Converts argument `idx` to 32 bits the way LuaBitOp does: adding 2^52+2^51 puts the
/// integer part, modulo 2^32, in the low word of the double (rounding to nearest).
fn barg(lua: &Lua, args: &MultiValue, idx: usize) -> mlua::Result<u32> {
    let v = args.get(idx - 1);
    let n = to_number(lua, v);
    let b = (n.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() as u32;
    if b == 0 && n.is_none() {
        return Err(type_error(lua, idx, "number", v));
    }
    Ok(b)
}

type Unary = fn(u32) -> u32;
type Binary = fn(u32, u32) -> u32;

fn ret(b: u32) -> Value {
    Value::Number(b as i32 as f64)
}

/// Folds the arguments from the last to the second into the first, in LuaBitOp's order
/// (so the error for a bad argument names the highest bad index).
fn fold(lua: &Lua, args: &MultiValue, op: Binary) -> mlua::Result<Value> {
    let mut b = barg(lua, args, 1)?;
    for i in (2..=args.len()).rev() {
        b = op(b, barg(lua, args, i)?);
    }
    Ok(ret(b))
}

fn shift(lua: &Lua, args: &MultiValue, op: Binary) -> mlua::Result<Value> {
    let b = barg(lua, args, 1)?;
    let n = barg(lua, args, 2)? & 31;
    Ok(ret(op(b, n)))
}

fn tohex(lua: &Lua, args: &MultiValue) -> mlua::Result<mlua::LuaString> {
    let mut b = barg(lua, args, 1)?;
    let mut n = if args.len() < 2 { 8 } else { barg(lua, args, 2)? as i32 };
    let digits: &[u8; 16] = if n < 0 { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    n = n.max(i32::MIN + 1).abs().min(8);
    let mut buf = vec![0u8; n as usize];
    for slot in buf.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    lua.create_string(&buf)
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: [(&str, Unary); 3] = [("tobit", |b| b), ("bnot", |b| !b), ("bswap", u32::swap_bytes)];
    for (name, op) in unary {
        t.raw_set(name, callback::function(lua, move |lua, args: MultiValue| Ok(ret(op(barg(lua, &args, 1)?))))?)?;
    }
    let folds: [(&str, Binary); 3] = [("band", |a, b| a & b), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)];
    for (name, op) in folds {
        t.raw_set(name, callback::function(lua, move |lua, args: MultiValue| fold(lua, &args, op))?)?;
    }
    let shifts: [(&str, Binary); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", u32::rotate_left),
        ("ror", u32::rotate_right),
    ];
    for (name, op) in shifts {
        t.raw_set(name, callback::function(lua, move |lua, args: MultiValue| shift(lua, &args, op))?)?;
    }
    t.raw_set("tohex", callback::function(lua, |lua, args: MultiValue| tohex(lua, &args))?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err, eval, lua};

    #[test]
    fn basics() {
        let lua = lua();
        let checks = [
            "bit.tobit(1) == 1",
            "bit.band(1) == 1",
            "bit.bxor(1, 2) == 3",
            "bit.bor(1, 2, 4, 8, 16, 32, 64, 128) == 255",
            "bit.band(0xff, 0x0f, 0x3c) == 0x0c",
            "bit.tobit(0xffffffff) == -1",
            "bit.tobit(2^32 + 5) == 5",
            "bit.tobit(-1) == -1",
            "bit.tobit(1.5) == 2 and bit.tobit(2.5) == 2",
            "bit.tobit('10') == 10",
            "bit.bnot(0) == -1",
            "bit.lshift(1, 31) == -2147483648",
            "bit.lshift(1, 32) == 1",
            "bit.rshift(-1, 28) == 15",
            "bit.arshift(-256, 4) == -16",
            "bit.rol(0x12345678, 12) == 0x45678123",
            "bit.ror(0x12345678, 12) == 0x67812345",
            "bit.rol(7, 0) == 7",
            "bit.bswap(0x12345678) == 0x78563412",
            "bit.tohex(-1) == 'ffffffff'",
            "bit.tohex(0x1234) == '00001234'",
            "bit.tohex(0xabcd, -4) == 'ABCD'",
            "bit.tohex(0x12345678, 2) == '78'",
            "bit.tohex(1, 20) == '00000001'",
            "bit.tohex(65535, -2147483648) == '0000FFFF'",
            "bit.tohex(1, 0) == ''",
        ];
        for c in checks {
            assert!(eval::<bool>(&lua, &format!("return {c}")), "{c}");
        }
    }

    #[test]
    fn errors() {
        let lua = lua();
        assert_eq!(err(&lua, "bit.tobit()"), "bad argument #1 to 'tobit' (number expected, got no value)");
        assert_eq!(err(&lua, "bit.band(1, 2, 'x', {})"), "bad argument #4 to 'band' (number expected, got table)");
        assert_eq!(err(&lua, "bit.tohex(1, nil)"), "bad argument #2 to 'tohex' (number expected, got nil)");
        // A string that converts to zero is not an error, one that does not convert is.
        assert!(eval::<bool>(&lua, "return bit.tobit('0') == 0"));
        assert_eq!(err(&lua, "bit.tobit('zz')"), "bad argument #1 to 'tobit' (number expected, got string)");
    }
}
