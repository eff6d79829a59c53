//! Library functions raise plain Lua string errors, as the C libraries do.
//!
//! An mlua callback that fails raises an mlua error object (a userdata whose
//! `tostring` adds "runtime error:" and a traceback), which `pcall` users and Redis's
//! error handler would see instead of the C message. So each function is a small C
//! closure around the Rust callback: the callback reports `RuntimeError(msg)` by
//! returning a private marker followed by `msg`, and the closure raises `msg` itself.
//! Seen from Rust, a script that does not catch it still fails with
//! `mlua::Error::RuntimeError(msg)`.

use std::ffi::{c_int, c_void};

use mlua::{ffi, Error, Function, IntoLuaMulti, LightUserData, Lua, MultiValue, Value};

/// Only their addresses matter: scripts cannot make light userdata pointing here.
static ERROR_MARK: u8 = 0;
static MANY_MARK: u8 = 0;

fn mark(m: &'static u8) -> Value {
    Value::LightUserData(LightUserData(m as *const u8 as *mut c_void))
}

/// Results returned through a table: mlua cannot return as many values from a
/// callback as a C function may (`LUAI_MAXCSTACK`), so the trampoline unpacks them.
const MANY_THRESHOLD: usize = 200;

/// Returns `values` from a library function, however many there are (up to what a
/// C function could return).
pub fn many(lua: &Lua, values: Vec<Value>) -> mlua::Result<MultiValue> {
    if values.len() <= MANY_THRESHOLD {
        return Ok(MultiValue::from_vec(values));
    }
    let n = values.len();
    let t = lua.create_table_with_capacity(n, 0)?;
    for (i, v) in values.into_iter().enumerate() {
        t.raw_set(i + 1, v)?;
    }
    Ok(MultiValue::from_vec(vec![mark(&MANY_MARK), Value::Table(t), Value::Integer(n as i64)]))
}

/// Calls upvalue 1 with the arguments. Results starting with upvalue 2 (the error
/// marker) raise the message that follows; results starting with upvalue 3 are
/// (marker, table, n) and return the table's first n entries.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    let nres = ffi::lua_gettop(state);
    if nres == 2 && ffi::lua_rawequal(state, 1, ffi::lua_upvalueindex(2)) != 0 {
        // As luaL_error: the message starts with the caller's position.
        ffi::luaL_where(state, 1);
        ffi::lua_insert(state, 2);
        ffi::lua_concat(state, 2);
        ffi::lua_error(state);
    }
    if nres == 3 && ffi::lua_rawequal(state, 1, ffi::lua_upvalueindex(3)) != 0 {
        let n = ffi::lua_tointeger(state, 3) as c_int;
        ffi::lua_settop(state, 2);
        ffi::lua_replace(state, 1);
        if ffi::lua_checkstack(state, n) == 0 {
            ffi::lua_pushstring(state, c"stack overflow (too many results)".as_ptr());
            ffi::lua_error(state);
        }
        for i in 1..=n {
            ffi::lua_rawgeti(state, 1, i as _);
        }
        return n;
    }
    nres
}

/// Builds the closure: called with (callback, error marker, many marker), returns
/// the trampoline closure over them.
unsafe extern "C-unwind" fn make_closure(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_settop(state, 3);
    ffi::lua_pushcclosure(state, trampoline, 3);
    1
}

/// Wraps `f` as a library function whose `RuntimeError`s reach Lua as plain strings.
pub fn function<F, R>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> mlua::Result<R> + 'static,
    R: IntoLuaMulti,
{
    let inner = lua.create_function(move |lua, args: MultiValue| match f(lua, args) {
        Ok(r) => r.into_lua_multi(lua),
        Err(Error::RuntimeError(msg)) => Ok(MultiValue::from_vec(vec![mark(&ERROR_MARK), Value::String(lua.create_string(msg)?)])),
        Err(e) => Err(e),
    })?;
    // SAFETY: `make_closure` only uses the three values it is called with, and
    // `trampoline` only touches its own arguments, results and upvalues.
    let make = unsafe { lua.create_c_function(make_closure)? };
    make.call((inner, mark(&ERROR_MARK), mark(&MANY_MARK)))
}

/// Level of the library function on the Lua call stack, as seen from inside the Rust
/// callback (the trampoline calls the callback, so it is one level up).
pub const FUNCTION_LEVEL: usize = 1;

/// `lua_next` as a function: (table, key) -> (next key, value), or nil at the end.
unsafe extern "C-unwind" fn raw_next(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_settop(state, 2);
    if ffi::lua_next(state, 1) != 0 {
        2
    } else {
        ffi::lua_pushnil(state);
        1
    }
}

/// A function stepping a table traversal from any key, so a traversal can be
/// suspended without holding anything but the table and the last key.
pub fn next_function(lua: &Lua) -> mlua::Result<Function> {
    // SAFETY: `raw_next` only uses its two arguments; `lua_next` on a non-table
    // argument cannot happen as callers pass tables.
    unsafe { lua.create_c_function(raw_next) }
}

/// Values parked in a Lua table instead of held from Rust: mlua keeps every live
/// reference on one auxiliary Lua stack, limited like a C function's own stack
/// (`LUAI_MAXCSTACK`), so deep structures must not hold a reference per level.
pub struct Spill {
    table: mlua::Table,
    len: i64,
}

impl Spill {
    pub fn new(lua: &Lua) -> mlua::Result<Self> {
        Ok(Spill { table: lua.create_table()?, len: 0 })
    }

    pub fn push(&mut self, v: impl mlua::IntoLua) -> mlua::Result<()> {
        self.len += 1;
        self.table.raw_set(self.len, v)
    }

    pub fn pop<V: mlua::FromLua>(&mut self) -> mlua::Result<V> {
        let v = self.table.raw_get(self.len)?;
        self.table.raw_set(self.len, Value::Nil)?;
        self.len -= 1;
        Ok(v)
    }
}
