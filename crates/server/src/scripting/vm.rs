//! The Lua VM of one worker thread: Redis's libraries and `redis` API, the sandbox
//! (read-only globals and library tables, no `print`/`dofile`/`loadfile`, no binary
//! chunks), the compiled-script cache, and the run context the `redis.*` callbacks
//! reach through a thread-local pointer while a script runs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

use super::Busy;
use crate::keyspace::Locked;
use crate::net::client::Client;
use crate::server::Server;

/// What the `redis.*` callbacks of a running script work on.
pub struct Run<'a, 's> {
    pub srv: &'s Server,
    pub client: &'a mut Client,
    /// The EVAL/FCALL command itself.
    pub args: &'a [&'a [u8]],
    /// An EVAL's KEYS and ARGV (set as globals when it starts).
    pub keys_argv: (&'a [&'a [u8]], &'a [&'a [u8]]),
    pub keys: Locked<'s>,
    pub now: u64,
    /// The database the script's commands run in (SELECT inside a script changes it,
    /// not the caller's).
    pub db: usize,
    /// `redis.setresp(3)` was called.
    pub resp3: bool,
    pub read_only: bool,
    pub allow_oom: bool,
    /// Used memory was over maxmemory when the script started.
    pub oom_at_start: bool,
    /// A write command ran.
    pub wrote: bool,
    /// A command with effects outside the keyspace ran (PUBLISH ...): the run can no
    /// longer be restarted.
    pub side_effects: bool,
    /// `redis.set_repl` flags (REPL_ALL = 3).
    pub repl: u8,
    /// A key outside the held shards was busy before any write: the script is aborted
    /// and run again with its whole database locked.
    pub restart: bool,
    pub can_restart: bool,
    pub eval: bool,
    /// The script's SHA1 or the function's name, for error messages and the log.
    pub name: &'a str,
    pub start: Instant,
    pub start_us: u64,
    pub threshold_ms: u64,
    pub busy: Option<Arc<Busy>>,
    pub from_master: bool,
}

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
    static RUN: Cell<*mut Run<'static, 'static>> = const { Cell::new(std::ptr::null_mut()) };
}

/// Bytes held by every thread's Lua VM (INFO used_memory_lua).
static VM_MEMORY: AtomicU64 = AtomicU64::new(0);

pub fn memory() -> u64 {
    VM_MEMORY.load(Ordering::Relaxed)
}

/// Whether a script is running on this thread (its commands are running now).
pub fn in_script() -> bool {
    !RUN.with(|r| r.get()).is_null()
}

/// The unix time in µs the running script started at, which TIME returns inside it.
pub fn script_start_us() -> Option<u64> {
    with_run(|run| run.start_us)
}

/// Calls `f` with the running script's context; `None` outside a script.
pub fn with_run<R>(f: impl FnOnce(&mut Run<'_, '_>) -> R) -> Option<R> {
    let p = RUN.with(|r| r.get());
    if p.is_null() {
        return None;
    }
    // SAFETY: `RUN` is set by `Vm::call` for exactly the duration of one script's Lua
    // call on this thread and cleared before the `Run` is touched again; the callbacks
    // that reach it here never nest (a script cannot run a script).
    Some(f(unsafe { &mut *p }))
}

/// An EVAL script as compiled in one VM.
pub struct Compiled {
    pub func: Function,
    pub flags: u32,
    /// Set once a run touched a key outside its KEYS: later runs (on this thread) lock
    /// the whole database up front instead of discovering keys one by one.
    pub undeclared: Cell<bool>,
}

pub struct Vm {
    pub lua: Lua,
    /// What scripts see as globals: reads fall through to the real globals (where
    /// KEYS and ARGV are set), writes fail.
    pub env: Table,
    runner: Function,
    handler: Function,
    /// Sets KEYS and ARGV from the running EVAL ([`keys_argv_c`]).
    set_args: Function,
    /// The globals of a library's code during FUNCTION LOAD.
    pub load_api: Table,
    /// The `__newindex` that refuses writes to protected tables.
    pub readonly: Function,
    epoch: u64,
    /// EVAL scripts compiled here, by SHA1. A hit touches nothing shared between
    /// threads (no lock, no reference count), which EVALSHA's speed depends on.
    scripts: foldhash::HashMap<String, Rc<Compiled>>,
    /// Function libraries compiled in this VM, and the registry version they match.
    pub lib_version: u64,
    pub functions: HashMap<String, Function>,
    calls: u32,
    /// This VM's share of [`VM_MEMORY`].
    memory: u64,
    /// The [`GENERATION`] it was made in.
    generation: u64,
}

/// Bumped by SCRIPT FLUSH: as Redis starts a new Lua interpreter then, every thread's
/// VM is dropped and made anew on its next use. The old ones leave used_memory_lua at
/// once, as Redis's old interpreter does while a background thread frees it.
static GENERATION: AtomicU64 = AtomicU64::new(0);

pub fn reset_all() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    VM_MEMORY.store(0, Ordering::Relaxed);
}

impl Vm {
    /// Adds `delta` (wrapping) to used_memory_lua, if this VM still counts there.
    fn account(&self, delta: u64) {
        if self.generation == GENERATION.load(Ordering::Acquire) {
            VM_MEMORY.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

fn drop_if_stale(slot: &mut Option<Vm>) {
    if slot.as_ref().is_some_and(|vm| vm.generation != GENERATION.load(Ordering::Acquire)) {
        *slot = None;
    }
}

/// Drops this thread's VM if SCRIPT FLUSH made it stale; called when a worker goes
/// idle, so a thread that runs no script again does not keep one.
pub fn release_stale() {
    VM.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            drop_if_stale(&mut slot);
        }
    })
}

/// A VM leaves INFO's used_memory_lua when it is dropped: made stale, or its thread
/// ended (Tokio ends the spare threads that `block_in_place` started).
impl Drop for Vm {
    fn drop(&mut self) {
        self.account(self.memory.wrapping_neg());
    }
}

/// Runs `f` with this thread's VM, creating it on first use.
pub fn with_vm<R>(f: impl FnOnce(&mut Vm) -> R) -> R {
    VM.with(|cell| {
        let mut slot = cell.borrow_mut();
        drop_if_stale(&mut slot);
        if slot.is_none() {
            let generation = GENERATION.load(Ordering::Acquire);
            let mut vm = Vm::new().expect("the Lua VM initialises");
            vm.memory = vm.lua.used_memory() as u64;
            vm.generation = generation;
            vm.account(vm.memory);
            *slot = Some(vm);
        }
        f(slot.as_mut().expect("created above"))
    })
}

/// Our sandbox, run once per VM over the unprotected globals. Written for ferrokv;
/// the behaviour (messages, what is protected) is Redis 7.2's.
const PRELUDE: &str = r#"
local errmsg, api, register_function = ...
local G = _G
local error, type, select, unpack, tostring = error, type, select, unpack, tostring
local raw_setmetatable, raw_rawset, raw_pcall, raw_loadstring, raw_setfenv =
      setmetatable, rawset, pcall, loadstring, setfenv
local protected = raw_setmetatable({}, {__mode = "k"})
local function readonly() error("Attempt to modify a readonly table", 2) end

local redis = {}
for k, v in pairs(api) do redis[k] = v end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end

-- A read-only view of `t`: reads go through, writes and metatable changes fail.
local function guard(t)
  local view = {}
  local mt = {__index = t, __newindex = readonly}
  mt.__metatable = raw_setmetatable({}, {__newindex = readonly, __index = mt})
  protected[mt.__metatable] = true
  raw_setmetatable(view, mt)
  protected[view] = true
  return view
end

-- Errors from Rust functions reach Lua as userdata; show scripts their message.
local function fix(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == "table" and type(e.err) == "string" then
    e = e.err
  elseif type(e) == "userdata" then
    e = errmsg(e)
  end
  return false, e
end

local env = {}
G.pcall = function(...) return fix(raw_pcall(...)) end
G.setmetatable = function(t, mt)
  if protected[t] then error("Attempt to modify a readonly table", 0) end
  return raw_setmetatable(t, mt)
end
G.rawset = function(t, k, v)
  if protected[t] then error("Attempt to modify a readonly table", 0) end
  return raw_rawset(t, k, v)
end
G.loadstring = function(s, name)
  if type(s) == "string" and s:byte(1) == 27 then return nil, "binary chunks are not allowed" end
  local f, e = raw_loadstring(s, name)
  if f then raw_setfenv(f, env) end
  return f, e
end
G.load = nil
G.print, G.dofile, G.loadfile = nil, nil, nil
G.module, G.require, G.package, G.os, G.io, G.debug = nil, nil, nil, nil, nil, nil
for _, name in ipairs({"string", "math", "table", "coroutine", "cjson", "cmsgpack", "bit", "struct"}) do
  if G[name] then G[name] = guard(G[name]) end
end
G.redis = guard(redis)
local string_mt = getmetatable("")
if string_mt then string_mt.__metatable = guard({}) end

G._G = env
protected[G] = true
protected[env] = true
raw_setmetatable(G, {
  __index = function(_, k) error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end,
  __newindex = readonly,
  __metatable = guard({}),
})
raw_setmetatable(env, {__index = G, __newindex = readonly, __metatable = guard({})})
-- What a library's code sees while FUNCTION LOAD runs it: only `redis` with the
-- registration API; anything else is a nonexistent global.
local function strict(t)
  protected[t] = true
  return raw_setmetatable(t, {
    __index = function(_, k) error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end,
    __newindex = readonly,
    __metatable = guard({}),
  })
end
local load_redis = {register_function = register_function, log = api.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = api.REDIS_VERSION, REDIS_VERSION_NUM = api.REDIS_VERSION_NUM}
local load_api = strict({redis = strict(load_redis)})
-- Runs a compiled script or function under the error handler.
local xpcall = xpcall
return env, function(f, handler, a, b, set_args)
  if set_args then set_args() end
  if a == nil then return xpcall(f, handler) end
  return xpcall(function() return f(a, b) end, handler)
end, load_api, readonly
"#;

impl Vm {
    fn new() -> mlua::Result<Vm> {
        let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::default())?;
        ferrokv_lualibs::open_all(&lua)?;
        let api = lua.create_table()?;
        api.set("log", lua.create_function(super::call::log)?)?;
        api.set("setresp", lua.create_function(super::call::setresp)?)?;
        api.set("set_repl", lua.create_function(super::call::set_repl)?)?;
        api.set("sha1hex", lua.create_function(super::call::sha1hex)?)?;
        api.set("error_reply", lua.create_function(super::call::error_reply)?)?;
        api.set("status_reply", lua.create_function(super::call::status_reply)?)?;
        api.set("acl_check_cmd", lua.create_function(super::call::acl_check_cmd)?)?;
        api.set("REDIS_VERSION", crate::REDIS_VERSION)?;
        api.set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
        // SAFETY: both are C functions that follow the Lua C API's rules (see `call`).
        api.set("call", unsafe { lua.create_c_function(super::call::call_c)? })?;
        api.set("pcall", unsafe { lua.create_c_function(super::call::pcall_c)? })?;
        let errmsg = lua.create_function(|_, v: Value| Ok(error_text(&v)))?;
        let register = lua.create_function(super::library::register_function)?;
        let (env, runner, load_api, readonly): (Table, Function, Table, Function) =
            lua.load(PRELUDE).set_name("=ferrokv_prelude").call((errmsg, api, register))?;
        let handler = lua.create_function(error_handler)?;
        // SAFETY: a C function that follows the Lua C API's rules.
        let set_args = unsafe { lua.create_c_function(keys_argv_c)? };
        install_hook(&lua);
        // What building the sandbox left behind (the prelude's chunk, temporaries).
        lua.gc_collect()?;
        lua.gc_collect()?;
        Ok(Vm {
            lua,
            env,
            runner,
            handler,
            set_args,
            load_api,
            readonly,
            epoch: 0,
            scripts: Default::default(),
            lib_version: u64::MAX,
            functions: HashMap::new(),
            calls: 0,
            memory: 0,
            generation: 0,
        })
    }

    /// The script `sha` if this VM compiled it since the last SCRIPT FLUSH.
    pub fn cached(&mut self, srv: &Server, sha: &str) -> Option<Rc<Compiled>> {
        let epoch = srv.scripts.epoch.load(Ordering::Acquire);
        if epoch != self.epoch {
            self.scripts.clear();
            self.epoch = epoch;
        }
        self.scripts.get(sha).cloned()
    }

    /// The script `s` (cached as `sha`), compiled here on first use.
    pub fn script(&mut self, srv: &Server, sha: &str, s: &super::Script) -> Result<Rc<Compiled>, String> {
        if let Some(c) = self.cached(srv, sha) {
            return Ok(c);
        }
        let func = self
            .compile(&s.body[s.shebang_len..], "@user_script")
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        let c = Rc::new(Compiled { func, flags: s.flags, undeclared: Cell::new(false) });
        self.scripts.insert(sha.to_string(), c.clone());
        Ok(c)
    }

    /// Compiles a chunk into a function running in the sandboxed environment; the error
    /// is Lua's message.
    pub fn compile(&self, code: &[u8], name: &str) -> Result<Function, String> {
        if code.first() == Some(&27) {
            return Err("binary chunks are not allowed".into());
        }
        self.lua.load(code).set_name(name).set_environment(self.env.clone()).into_function().map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => message,
            e => e.to_string(),
        })
    }

    /// A new array of `items` as Lua strings (FCALL's keys and args).
    pub fn strings(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        // SAFETY: leaves exactly the new table on the stack, as the result.
        unsafe { self.lua.exec_raw::<Table>((), |l| push_array(l, items)) }
    }

    /// Runs `f` with no script context (a library's code at FUNCTION LOAD); the error
    /// is its message.
    pub fn run_protected(&mut self, f: &Function) -> Result<(), String> {
        match self.runner.call::<MultiValue>((f.clone(), self.handler.clone())) {
            Err(e) => Err(root_message(&e)),
            Ok(v) => {
                let mut it = v.into_iter();
                if matches!(it.next(), Some(Value::Boolean(true))) {
                    return Ok(());
                }
                Err(match it.next() {
                    Some(Value::Table(t)) => t.raw_get::<Option<String>>("err").ok().flatten().unwrap_or_default(),
                    Some(v) => error_text(&v),
                    None => String::new(),
                })
            }
        }
    }

    /// Brings this VM's share of used_memory_lua up to date.
    fn recount(&mut self) {
        let now = self.lua.used_memory() as u64;
        self.account(now.wrapping_sub(self.memory));
        self.memory = now;
    }

    /// A full collection: after the function libraries were rebuilt, the old ones are
    /// garbage all at once (Redis keeps them in a VM of their own, outside
    /// used_memory_lua, so they must not linger in ours).
    pub fn collect(&mut self) {
        let _ = self.lua.gc_collect();
        self.recount();
    }

    /// Runs `f` (with `args` for a function, none for EVAL) under the error handler with
    /// `run` as the context of its callbacks. Returns the value, or the error table.
    pub fn call(&mut self, run: &mut Run<'_, '_>, f: &Function, args: Option<(Table, Table)>) -> Result<Value, Value> {
        let eval = run.eval;
        let ptr: *mut Run<'static, 'static> = (run as *mut Run<'_, '_>).cast();
        RUN.with(|r| r.set(ptr));
        let res = match args {
            Some((a, b)) => self.runner.call::<(Value, Value)>((f, &self.handler, a, b)),
            None if eval => self.runner.call::<(Value, Value)>((f, &self.handler, Value::Nil, Value::Nil, &self.set_args)),
            None => self.runner.call::<(Value, Value)>((f, &self.handler)),
        };
        RUN.with(|r| r.set(std::ptr::null_mut()));
        self.restore_hook();
        // Like Redis, a small incremental GC step every so often instead of full cycles.
        self.calls += 1;
        if self.calls.is_multiple_of(50) {
            let _ = self.lua.gc_step();
            self.recount();
        }
        let (ok, v) = match res {
            Ok(v) => v,
            Err(e) => return Err(Value::String(self.lua.create_string(format!("ERR {}", root_message(&e))).expect("string"))),
        };
        if matches!(ok, Value::Boolean(true)) {
            Ok(v)
        } else {
            Err(v)
        }
    }
}

/// `set_args()`: the running EVAL's KEYS and ARGV become globals (raw sets: the
/// globals table is read-only to scripts). Built on the raw stack, since going
/// through mlua value by value cost more than a small script itself.
unsafe extern "C-unwind" fn keys_argv_c(l: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    with_run(|run| {
        let (keys, argv) = run.keys_argv;
        for (name, items) in [(c"KEYS", keys), (c"ARGV", argv)] {
            mlua::ffi::lua_pushstring(l, name.as_ptr());
            push_array(l, items);
            mlua::ffi::lua_rawset(l, mlua::ffi::LUA_GLOBALSINDEX);
        }
    });
    0
}

/// Pushes a new array table of `items` as Lua strings.
///
/// # Safety
/// `l` must be a valid state with two free stack slots, in a protected call.
unsafe fn push_array(l: *mut mlua::ffi::lua_State, items: &[&[u8]]) {
    mlua::ffi::lua_createtable(l, items.len() as i32, 0);
    for (i, a) in items.iter().enumerate() {
        mlua::ffi::lua_pushlstring(l, a.as_ptr().cast(), a.len());
        mlua::ffi::lua_rawseti(l, -2, i as i64 + 1);
    }
}

thread_local! {
    /// The kill hook replaced the periodic one: put it back after the run.
    static HOOK_REPLACED: Cell<bool> = const { Cell::new(false) };
    /// When the library code being loaded (FUNCTION LOAD) started.
    pub static LOAD_START: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The periodic hook, installed once per VM: it costs nothing until 100,000
/// instructions ran, and then only a clock read.
fn install_hook(lua: &Lua) {
    let _ = lua.set_hook(HookTriggers::new().every_nth_instruction(100_000), hook);
}

impl Vm {
    pub fn restore_hook(&self) {
        if HOOK_REPLACED.with(|h| h.replace(false)) {
            install_hook(&self.lua);
        }
    }
}

/// From now on every line raises `msg`, so a pcall cannot swallow it.
fn raise_every_line(lua: &Lua, msg: &'static str) -> mlua::Error {
    HOOK_REPLACED.with(|h| h.set(true));
    let _ = lua.set_hook(HookTriggers::EVERY_LINE, move |_, _| Err(mlua::Error::RuntimeError(msg.into())));
    mlua::Error::RuntimeError(msg.into())
}

/// `7.2.4` as 0x070204, Redis's REDIS_VERSION_NUM.
fn version_num(v: &str) -> f64 {
    let p: Vec<u32> = v.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    ((p.first().copied().unwrap_or(0) << 16) | (p.get(1).copied().unwrap_or(0) << 8) | p.get(2).copied().unwrap_or(0)) as f64
}

/// The message of an error raised by Rust code (a callback's cause, unwrapped).
pub fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::WithContext { cause, .. } => root_message(cause),
        e => e.to_string(),
    }
}

/// What a script sees as the message of an error value (its `pcall` result).
fn error_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Error(e) => root_message(e),
        Value::Number(n) => crate::scripting::call::number_arg(*n),
        Value::Integer(n) => n.to_string(),
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        _ => "execution failure".into(),
    }
}

/// The message handler of every script call: turns what was raised into Redis's
/// error table `{err=..., source=..., line=...}`, with the position of the user code
/// that raised it (skipping C functions and our own wrappers).
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let t = match &err {
        Value::Table(t) if matches!(t.raw_get::<Value>("err"), Ok(Value::String(_))) => t.clone(),
        _ => {
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {}", error_text(&err)))?;
            t
        }
    };
    for level in 1..32 {
        let Some((source, line, what)) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (s.source.map(|x| x.to_string()), d.current_line(), s.what)
        }) else {
            break;
        };
        if what == "C" {
            continue;
        }
        if let Some(src) = source.filter(|s| s.starts_with("@user_")) {
            t.raw_set("source", src)?;
            if let Some(l) = line {
                t.raw_set("line", l)?;
            }
            break;
        }
    }
    Ok(Value::Table(t))
}

/// Every 100,000 instructions: past `busy-reply-threshold` the script is marked busy
/// (other clients get -BUSY and may SCRIPT KILL it), and a kill request stops it.
fn hook(lua: &Lua, _: &mlua::debug::Debug) -> mlua::Result<VmState> {
    if let Some(start) = LOAD_START.with(|l| l.get()) {
        if start.elapsed().as_millis() > 500 {
            return Err(raise_every_line(lua, "FUNCTION LOAD timeout"));
        }
        return Ok(VmState::Continue);
    }
    let killed = with_run(|run| {
        if run.busy.is_none() && run.threshold_ms > 0 && run.start.elapsed().as_millis() as u64 >= run.threshold_ms {
            let b = Arc::new(Busy {
                client_id: run.client.shared.id,
                eval: run.eval,
                name: run.name.to_string(),
                command: run.args.iter().map(|a| a.to_vec()).collect(),
                started: run.start,
                wrote: std::sync::atomic::AtomicBool::new(run.wrote),
                kill: std::sync::atomic::AtomicBool::new(false),
                from_master: run.from_master,
            });
            tracing::warn!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                run.start.elapsed().as_millis(),
                if run.eval { "SCRIPT KILL" } else { "FUNCTION KILL" },
                run.name
            );
            run.srv.scripts.enter_busy(b.clone());
            run.busy = Some(b);
            // Let the runtime move this worker's other connections to another thread
            // while the script keeps this one: block_in_place hands the worker's queue
            // to a new thread, which needs a moment to take it before we return.
            if tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread) {
                tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(20)));
            }
        }
        run.busy.as_ref().is_some_and(|b| b.kill.load(Ordering::Acquire))
    })
    .unwrap_or(false);
    if killed {
        tracing::info!("Lua script killed by user with SCRIPT KILL.");
        return Err(raise_every_line(lua, "Script killed by user with SCRIPT KILL..."));
    }
    Ok(VmState::Continue)
}
