//! Redis 7 Functions: the registry of loaded libraries (FUNCTION LOAD, DELETE, FLUSH,
//! DUMP, RESTORE, LIST) and their compilation in a VM.
//!
//! The registry is the source of truth; each thread's VM runs every library's code
//! again when the registry's version moved since it last looked, so FCALL on any
//! core finds the same functions. The registry is process-wide because the RDB
//! writer and loader reach it without a server at hand.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mlua::{Function, Lua, Table, Value, Variadic};
use parking_lot::RwLock;

use super::vm::Vm;

/// One function of a library.
#[derive(Clone, Debug)]
pub struct FunctionMeta {
    pub name: String,
    pub description: Option<String>,
    pub flags: u32,
}

pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionMeta>,
}

#[derive(Default)]
pub struct Registry {
    /// Libraries by name (names compare case-sensitively, as in Redis 7.2).
    pub libs: BTreeMap<String, Arc<Library>>,
    /// Function name (lowercase) to its library.
    pub functions: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Libraries {
    reg: RwLock<Registry>,
    /// Bumped on every change: VMs compare it with what they compiled.
    version: AtomicU64,
}

pub fn libraries() -> &'static Libraries {
    static L: OnceLock<Libraries> = OnceLock::new();
    L.get_or_init(Libraries::default)
}

static LOAD_POLICY: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);

/// How libraries found in an RDB being loaded meet the loaded ones (DEBUG RELOAD
/// NOFLUSH without MERGE: a clash is an error); REPLACE otherwise.
pub fn set_load_policy(p: Policy) {
    LOAD_POLICY.store(if p == Policy::Append { 0 } else { 1 }, Ordering::Relaxed);
}

pub fn load_policy() -> Policy {
    if LOAD_POLICY.load(Ordering::Relaxed) == 0 {
        Policy::Append
    } else {
        Policy::Replace
    }
}

/// `FUNCTION RESTORE` policies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Append,
    Replace,
    Flush,
}

impl Libraries {
    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, Registry> {
        self.reg.read()
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// A function's library and flags, for FCALL.
    pub fn function(&self, name: &str) -> Option<(Arc<Library>, FunctionMeta)> {
        let reg = self.reg.read();
        let lib = reg.libs.get(reg.functions.get(&name.to_ascii_lowercase())?)?;
        let meta = lib.functions.iter().find(|f| f.name.eq_ignore_ascii_case(name))?.clone();
        Some((lib.clone(), meta))
    }

    /// FUNCTION LOAD: validates and registers `code`; returns the library's name.
    pub fn load(&self, vm: &mut Vm, code: &[u8], replace: bool) -> Result<String, String> {
        let lib = compile_library(vm, code)?;
        let name = lib.name.clone();
        self.install(vec![lib], if replace { Policy::Replace } else { Policy::Append }, true)?;
        Ok(name)
    }

    /// Adds `libs` under `policy`, all or nothing. `load` picks FUNCTION LOAD's wording
    /// of a name clash over RESTORE's.
    pub fn install(&self, libs: Vec<Library>, policy: Policy, load: bool) -> Result<(), String> {
        let mut reg = self.reg.write();
        let mut next = Registry::default();
        if policy != Policy::Flush {
            next.libs = reg.libs.clone();
            next.functions = reg.functions.clone();
        }
        for lib in libs {
            if let Some(old) = next.libs.get(&lib.name).cloned() {
                if policy != Policy::Replace {
                    return Err(if load {
                        format!("ERR Library '{}' already exists", lib.name)
                    } else {
                        format!("ERR Library {} already exists", lib.name)
                    });
                }
                for f in &old.functions {
                    next.functions.remove(&f.name.to_ascii_lowercase());
                }
                next.libs.remove(&lib.name);
            }
            for f in &lib.functions {
                if next.functions.contains_key(&f.name.to_ascii_lowercase()) {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
            for f in &lib.functions {
                next.functions.insert(f.name.to_ascii_lowercase(), lib.name.clone());
            }
            next.libs.insert(lib.name.clone(), Arc::new(lib));
        }
        *reg = next;
        self.version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<(), String> {
        let mut reg = self.reg.write();
        let Some(lib) = reg.libs.remove(name) else { return Err("ERR Library not found".into()) };
        for f in &lib.functions {
            reg.functions.remove(&f.name.to_ascii_lowercase());
        }
        self.version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub fn flush(&self) {
        *self.reg.write() = Registry::default();
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Every library's code, for the RDB and FUNCTION DUMP.
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.reg.read().libs.values().map(|l| l.code.clone()).collect()
    }

    pub fn counts(&self) -> (usize, usize) {
        let reg = self.reg.read();
        (reg.libs.len(), reg.functions.len())
    }
}

/// Parses the `#!lua name=<lib>` header of a library.
fn parse_header(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&c| c == b'\n').ok_or("ERR Invalid library metadata")?;
    let parts = ferrokv_protocol::split_args(&code[..end]).filter(|p| !p.is_empty()).ok_or("ERR Invalid library metadata")?;
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    let mut name = None;
    for p in &parts[1..] {
        let p = String::from_utf8_lossy(p);
        match p.get(..5) {
            Some(k) if k.eq_ignore_ascii_case("name=") => {
                if name.is_some() {
                    return Err("ERR Invalid metadata value, name argument was given multiple times".into());
                }
                name = Some(p[5..].to_string());
            }
            _ => return Err(format!("ERR Invalid metadata value given: {p}")),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if !valid_name(&name) {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok((name, end))
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

type Registered = Vec<(FunctionMeta, Function)>;

thread_local! {
    /// The functions a library registers while its code runs (FUNCTION LOAD).
    static LOADING: RefCell<Option<Registered>> = const { RefCell::new(None) };
}

/// Runs a library's code in `vm` with the load-time API and returns what it registered.
fn run_library(vm: &mut Vm, code: &[u8]) -> Result<(String, Registered), String> {
    let (name, header) = parse_header(code)?;
    let env = vm.lua.create_table().map_err(|e| e.to_string())?;
    let mt = vm.lua.create_table().map_err(|e| e.to_string())?;
    mt.raw_set("__index", vm.load_api.clone()).map_err(|e| e.to_string())?;
    mt.raw_set("__newindex", vm.readonly.clone()).map_err(|e| e.to_string())?;
    env.set_metatable(Some(mt.clone())).map_err(|e| e.to_string())?;
    // The header line stays as an empty line so the user's line numbers hold.
    let mut body = Vec::with_capacity(code.len());
    body.extend_from_slice(b"--");
    body.extend_from_slice(&code[..header]);
    body.extend_from_slice(&code[header..]);
    let f = vm
        .lua
        .load(&body[..])
        .set_name("@user_function")
        .set_environment(env)
        .into_function()
        .map_err(|e| format!("ERR Error compiling function: {}", super::vm::root_message(&e)))?;
    LOADING.with(|l| *l.borrow_mut() = Some(Vec::new()));
    super::vm::LOAD_START.with(|l| l.set(Some(Instant::now())));
    let r = vm.run_protected(&f);
    super::vm::LOAD_START.with(|l| l.set(None));
    vm.restore_hook();
    let registered = LOADING.with(|l| l.borrow_mut().take()).unwrap_or_default();
    if let Err(e) = r {
        return Err(format!("ERR Error registering functions: {e}"));
    }
    // From now on the library's functions see the full globals.
    mt.raw_set("__index", vm.env.clone()).map_err(|e| e.to_string())?;
    if registered.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok((name, registered))
}

/// Compiles and validates a library (FUNCTION LOAD, RESTORE, RDB loading).
pub fn compile_library(vm: &mut Vm, code: &[u8]) -> Result<Library, String> {
    let (name, registered) = run_library(vm, code)?;
    let functions = registered.into_iter().map(|(m, _)| m).collect();
    Ok(Library { name, code: code.to_vec(), functions })
}

/// Rebuilds `vm`'s functions when the registry changed since it last did.
pub fn sync_vm(vm: &mut Vm) {
    let libs = libraries();
    let reg = libs.reg.read();
    let version = libs.version();
    if vm.lib_version == version {
        return;
    }
    vm.functions.clear();
    for lib in reg.libs.values() {
        match run_library(vm, &lib.code) {
            Ok((_, registered)) => {
                for (m, f) in registered {
                    vm.functions.insert(m.name.to_ascii_lowercase(), f);
                }
            }
            Err(e) => tracing::warn!("Function library '{}' failed to load in a worker VM: {e}", lib.name),
        }
    }
    vm.lib_version = version;
    vm.collect();
}

/// `redis.register_function(name, callback)` or `redis.register_function{...}`.
pub fn register_function(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let err = |m: &str| Err(mlua::Error::RuntimeError(m.to_string()));
    if !LOADING.with(|l| l.borrow().is_some()) {
        return err("redis.register_function can only be called on FUNCTION LOAD command");
    }
    let (meta, f) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            named_args(t)?
        }
        2 => {
            let name = match &args[0] {
                Value::String(s) => s.to_string_lossy(),
                Value::Number(n) => super::call::number_arg(*n),
                Value::Integer(n) => n.to_string(),
                _ => return err("first argument to redis.register_function must be a string"),
            };
            let Value::Function(f) = &args[1] else { return err("second argument to redis.register_function must be a function") };
            (FunctionMeta { name, description: None, flags: 0 }, f.clone())
        }
        _ => return err("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&meta.name) {
        return err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    }
    LOADING.with(|l| {
        let mut l = l.borrow_mut();
        let list = l.as_mut().expect("checked above");
        if list.iter().any(|(m, _)| m.name == meta.name) {
            return err("Function already exists in the library");
        }
        list.push((meta, f));
        Ok(())
    })
}

fn named_args(t: &Table) -> mlua::Result<(FunctionMeta, Function)> {
    let err = |m: &str| mlua::Error::RuntimeError(m.to_string());
    let (mut name, mut description, mut callback, mut flags) = (None, None, None, 0);
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Value::String(k) = k else { return Err(err("named argument key given to redis.register_function is not a string")) };
        let k = k.to_string_lossy().to_ascii_lowercase();
        match k.as_str() {
            "function_name" => match v {
                Value::String(s) => name = Some(s.to_string_lossy()),
                _ => return Err(err("function_name argument given to redis.register_function must be a string")),
            },
            "description" => match v {
                Value::String(s) => description = Some(s.to_string_lossy()),
                _ => return Err(err("description argument given to redis.register_function must be a string")),
            },
            "callback" => match v {
                Value::Function(f) => callback = Some(f),
                _ => return Err(err("callback argument given to redis.register_function must be a function")),
            },
            "flags" => {
                let Value::Table(ft) = v else {
                    return Err(err("flags argument to redis.register_function must be a table representing function flags"));
                };
                for fv in ft.sequence_values::<Value>() {
                    let f = match fv? {
                        Value::String(s) => super::flags::by_name(&s.to_string_lossy().to_ascii_lowercase()),
                        _ => None,
                    };
                    flags |= f.ok_or_else(|| err("unknown flag given"))?;
                }
            }
            _ => return Err(err("unknown argument given to redis.register_function")),
        }
    }
    let name = name.ok_or_else(|| err("redis.register_function must get a function name argument"))?;
    let callback = callback.ok_or_else(|| err("redis.register_function must get a callback argument"))?;
    Ok((FunctionMeta { name, description, flags }, callback))
}
