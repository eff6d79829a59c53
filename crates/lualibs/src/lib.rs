//! The Lua libraries Redis loads into its scripting VM (`cjson`, `cmsgpack`, `bit`,
//! `struct`), written in Rust with the behaviour and error messages scripts rely on.

mod args;
mod bit;
mod callback;
mod cjson;
mod cmsgpack;
mod structlib;

/// Installs every library as a global table of `lua`.
pub fn open_all(lua: &mlua::Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.raw_set("cjson", cjson::module(lua)?)?;
    globals.raw_set("struct", structlib::module(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::module(lua)?)?;
    globals.raw_set("bit", bit::module(lua)?)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    use mlua::{FromLuaMulti, Lua};

    pub fn lua() -> Lua {
        let lua = Lua::new();
        super::open_all(&lua).unwrap();
        lua
    }

    pub fn eval<R: FromLuaMulti>(lua: &Lua, code: &str) -> R {
        lua.load(code).eval().unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    /// Runs `code` (a chunk that raises) under pcall and returns the error message,
    /// without the `chunk:line: ` position that luaL_error puts in front.
    pub fn err(lua: &Lua, code: &str) -> String {
        let wrapped = format!("local ok, e = pcall(function() {code} end) assert(not ok, 'no error') return tostring(e)");
        let msg = lua.load(&wrapped).eval::<String>().unwrap_or_else(|e| panic!("{code}: {e}"));
        match msg.split_once(": ") {
            Some((at, rest)) if at.ends_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
            _ => msg,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{eval, lua};

    #[test]
    fn errors_are_plain_strings() {
        let lua = lua();
        let (kind, msg): (String, String) = eval(&lua, "local ok, e = pcall(cjson.decode, 'x') return type(e), e");
        assert_eq!(kind, "string");
        assert_eq!(msg, "Expected value but found invalid token at character 1");
        // Called from C (pcall), the function has no name, as with the C libraries.
        let msg: String = eval(&lua, "local ok, e = pcall(cjson.encode) return e");
        assert_eq!(msg, "bad argument #1 to '?' (expected 1 argument)");
        let msg: String = eval(&lua, "local ok, e = pcall(function() local x = struct.pack('i') end) return e");
        // Called from Lua code, the message starts with the caller's position.
        assert!(msg.ends_with(":1: bad argument #2 to 'pack' (number expected, got no value)"), "{msg}");
        match lua.load("cmsgpack.unpack('\\193')").exec() {
            Err(mlua::Error::RuntimeError(msg)) => assert!(msg.contains(":1: Bad data format in input."), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn globals_and_metadata() {
        let lua = lua();
        let s: String = eval(
            &lua,
            "return table.concat({cjson._NAME, cjson._VERSION, cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION, type(bit.band), type(struct.pack)}, '|')",
        );
        assert_eq!(
            s,
            "cjson|2.1.0|cmsgpack|lua-cmsgpack 0.4.0|Copyright (C) 2012, Salvatore Sanfilippo|MessagePack C implementation for Lua|function|function"
        );
        assert!(eval::<bool>(&lua, "return type(cjson.null) == 'userdata' and cjson.new().null == cjson.null"));
    }

    /// Scripts from Redis's own test-suite (tests/unit/scripting.tcl) that use these libraries.
    #[test]
    fn redis_suite_scripts() {
        let lua = lua();
        lua.load(
            r#"
            local some_map = {s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}
            local encoded = cjson.encode(some_map)
            local decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            cjson.encode_keep_buffer(false)
            encoded = cjson.encode(some_map)
            decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local table1 = {one="one", [1]="one"}
            encoded = cjson.encode(table1)
            decoded = cjson.decode(encoded)
            assert(decoded["one"] == table1["one"])
            assert(decoded["1"] == table1[1])
            local array1 = {[1]="one", [2]="two"}
            encoded = cjson.encode(array1)
            decoded = cjson.decode(encoded)
            assert(table.concat(array1) == table.concat(decoded))
            local invalid_map = {}
            invalid_map[false] = "false"
            local ok, encoded = pcall(cjson.encode, invalid_map)
            assert(ok == false)
            cjson.encode_max_depth(1)
            ok, encoded = pcall(cjson.encode, some_map)
            assert(ok == false)
            cjson.decode_max_depth(1)
            ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}')
            assert(ok == false)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == false)
            cjson.encode_invalid_numbers(true)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == true)
            cjson.decode_max_depth(1000)
            cjson.encode_max_depth(1000)
            cjson.encode_invalid_numbers(false)

            local str_lt_32 = string.rep("x", 30)
            local str_lt_255 = string.rep("x", 250)
            local str_lt_65535 = string.rep("x", 65530)
            local str_long = string.rep("x", 100000)
            local array_big = {}
            for i=1, 100000 do array_big[i] = i end
            local map_big = {}
            for i=1, 100000 do map_big[tostring(i)] = i end
            local some_map = {
                s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1,
                i1=1, i2=250, i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000, i10=-3147483648,
                a1={1, 2, 3, 4, 5}, a2={1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, a3=array_big,
                m1={a=1, b=2}, m2=map_big, b1=false, b2=true, n=nil
            }
            local encoded = cmsgpack.pack(some_map)
            local decoded = cmsgpack.unpack(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            assert(decoded.i10 == -3147483648 and decoded.m2["77"] == 77 and decoded.a3[100000] == 100000 and decoded.s4 == str_long)
            local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
            assert(table.concat(some_map) == table.concat(decoded_one))
            assert(offset == -1)
            local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
            local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
            assert(obj == str_lt_32)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_255)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_65535)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_long)
            assert(offset == -1)

            local a = {x=nil,y=5}
            local b = {x=a}
            a['x'] = b
            local re = cmsgpack.unpack(cmsgpack.pack(a))
            assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y)
            assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x)
            assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil)

            assert(bit.tobit(1) == 1)
            assert(bit.band(1) == 1)
            assert(bit.bxor(1,2) == 3)
            assert(bit.bor(1,2,4,8,16,32,64,128) == 255)
            assert(bit.tohex(65535, -2147483648) == "0000FFFF")
            "#,
        )
        .exec()
        .unwrap();
    }
}
