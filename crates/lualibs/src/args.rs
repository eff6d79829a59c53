//! Argument checking that reproduces the Lua 5.1 auxiliary library (`luaL_check*`)
//! messages, since scripts and tests match on them.

use mlua::{Error, Lua, MultiValue, Value};

/// Most stack slots a C function may use in Lua 5.1 (`LUAI_MAXCSTACK`); the C
/// libraries fail with specific errors when they would exceed it.
pub const MAX_C_STACK: usize = 8000;

pub fn rt(msg: impl Into<String>) -> Error {
    Error::RuntimeError(msg.into())
}

/// `luaL_typename`, with `None` standing for an absent argument.
pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_argerror`: the function name comes from the call site, exactly as the C
/// libraries report it (`'?'` when Lua cannot name the caller).
pub fn arg_error(lua: &Lua, narg: i64, msg: &str) -> Error {
    let (name, what) = lua
        .inspect_stack(crate::callback::FUNCTION_LEVEL, |d| {
            let n = d.names();
            (n.name.map(|s| s.into_owned()), n.name_what)
        })
        .unwrap_or((None, None));
    let name = name.unwrap_or_else(|| "?".to_owned());
    let mut narg = narg;
    if what == Some("method") {
        narg -= 1;
        if narg == 0 {
            return rt(format!("calling '{name}' on bad self ({msg})"));
        }
    }
    rt(format!("bad argument #{narg} to '{name}' ({msg})"))
}

pub fn type_error(lua: &Lua, narg: usize, expected: &str, got: Option<&Value>) -> Error {
    arg_error(lua, narg as i64, &format!("{expected} expected, got {}", type_name(got)))
}

/// `lua_tonumber`: numbers, and strings Lua can convert; `None` otherwise.
pub fn to_number(lua: &Lua, v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        s @ Value::String(_) => lua.coerce_number(s.clone()).ok().flatten(),
        _ => None,
    }
}

/// `luaL_checknumber` on the 1-based argument `idx`.
pub fn check_number(lua: &Lua, args: &MultiValue, idx: usize) -> mlua::Result<f64> {
    let v = args.get(idx - 1);
    to_number(lua, v).ok_or_else(|| type_error(lua, idx, "number", v))
}

/// `luaL_checkinteger`: truncates toward zero like the C cast.
pub fn check_integer(lua: &Lua, args: &MultiValue, idx: usize) -> mlua::Result<i64> {
    check_number(lua, args, idx).map(|n| n as i64)
}

/// `luaL_optinteger`: `default` when the argument is absent or nil.
pub fn opt_integer(lua: &Lua, args: &MultiValue, idx: usize, default: i64) -> mlua::Result<i64> {
    match args.get(idx - 1) {
        None | Some(Value::Nil) => Ok(default),
        _ => check_integer(lua, args, idx),
    }
}

/// `luaL_checklstring`: strings, or numbers converted the way Lua prints them.
pub fn check_string(lua: &Lua, args: &MultiValue, idx: usize) -> mlua::Result<mlua::LuaString> {
    let v = args.get(idx - 1);
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(n @ (Value::Integer(_) | Value::Number(_))) => lua.coerce_string(n.clone())?.ok_or_else(|| type_error(lua, idx, "string", v)),
        _ => Err(type_error(lua, idx, "string", v)),
    }
}
