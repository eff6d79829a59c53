//! The `redis` API a script calls: `redis.call`/`redis.pcall` (a command run as the
//! calling client, under the script's locks, its reply converted for Lua) and the
//! helpers (`log`, `setresp`, `set_repl`, `sha1hex`, `error_reply`, `status_reply`).

use std::sync::atomic::Ordering;

use ferrokv_protocol::ReplyBuf;
use std::ffi::{c_char, c_int};

use mlua::{ffi, Lua, Value, Variadic};
use smallvec::SmallVec;

use super::vm::{with_run, Run};
use crate::commands::table::{self, CommandDef};
use crate::keyspace::Locked;

/// Raised (as a Rust error) when a run must start over with its database locked.
pub const RESTART: &str = "ferrokv: script restarted with wider locks";

/// A Lua number as a command argument: integers without a fraction, others in the
/// shortest form that reads back the same (Redis avoids `%.14g`'s precision loss).
pub fn number_arg(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        itoa::Buffer::new().format(n as i64).to_string()
    } else {
        ferrokv_protocol::reply::format_double(n)
    }
}

/// An error text the way Redis's scripts hold it: `CODE message`, with `ERR` added
/// when there is no code, `-` stripped and line ends trimmed.
pub fn error_text(raw: &str) -> String {
    let (code, msg) = match raw.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((c, m)) => (c, m),
            None => ("ERR", rest),
        },
        None => ("ERR", raw),
    };
    format!("{code} {}", msg.trim_matches(|c| c == '\r' || c == '\n'))
}

fn err_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", error_text(text))?;
    Ok(Value::Table(t))
}

/// `redis.call` and `redis.pcall` are plain C functions over the Lua stack: the
/// arguments are read in place and the reply is pushed straight from RESP, with no
/// mlua value (each would take a registry slot) in between. `redis.call` raises the
/// `{err=...}` table itself, as Redis's does, so the message handler sees the user's
/// frame right below it and names its line.
///
/// # Safety
/// Only Lua calls it, as a C function of the VM `l` belongs to.
pub unsafe extern "C-unwind" fn call_c(l: *mut ffi::lua_State) -> c_int {
    // Every Rust value of the call is dropped inside `call_on_stack`, before the
    // error unwinds this frame.
    if call_on_stack(l, true) {
        ffi::lua_error(l);
    }
    1
}

/// `redis.pcall`: like [`call_c`], a command error is returned as the table.
///
/// # Safety
/// Only Lua calls it, as a C function of the VM `l` belongs to.
pub unsafe extern "C-unwind" fn pcall_c(l: *mut ffi::lua_State) -> c_int {
    call_on_stack(l, false);
    1
}

thread_local! {
    /// The reply buffer of this thread's last `redis.call`, kept for the next one.
    static REPLY: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Larger reply buffers are freed rather than kept.
const REPLY_KEEP: usize = 64 * 1024;

/// Runs the command the stack holds and leaves its reply (or the error table) as the
/// only value; true when the caller must raise it.
unsafe fn call_on_stack(l: *mut ffi::lua_State, raise: bool) -> bool {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        push_err(l, "Please specify at least one argument for this redis lib call");
        return raise;
    }
    // The arguments, copied once into one buffer.
    let mut flat: SmallVec<[u8; 256]> = SmallVec::new();
    let mut ends: SmallVec<[usize; 8]> = SmallVec::new();
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            ffi::LUA_TNUMBER => flat.extend_from_slice(number_arg(ffi::lua_tonumber(l, i)).as_bytes()),
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, i, &mut len);
                flat.extend_from_slice(std::slice::from_raw_parts(p as *const u8, len));
            }
            _ => {
                ffi::lua_settop(l, 0);
                push_err(l, "Lua redis lib command arguments must be strings or integers");
                return raise;
            }
        }
        ends.push(flat.len());
    }
    ffi::lua_settop(l, 0);
    let res = with_run(|run| {
        if run.restart {
            return Err(RESTART.to_string());
        }
        let refs: SmallVec<[&[u8]; 8]> = ends.iter().enumerate().map(|(i, &e)| &flat[if i == 0 { 0 } else { ends[i - 1] }..e]).collect();
        execute(run, &refs)
    });
    match res {
        None => {
            push_err(l, "redis.call can only be used while a script runs");
            raise
        }
        Some(Err(e)) if e == RESTART => {
            // Not a table: no pcall in the script mistakes it for a command error.
            push_bytes(l, RESTART.as_bytes());
            true
        }
        Some(Err(e)) => {
            with_run(|run| run.srv.stats.error(&error_text(&e)));
            push_err(l, &e);
            counted(l);
            raise
        }
        Some(Ok(mut buf)) => {
            let mut pos = 0;
            push_reply(l, &buf, &mut pos, 0);
            let failed = buf.first() == Some(&b'-');
            if buf.capacity() <= REPLY_KEEP {
                buf.clear();
                REPLY.set(buf);
            }
            if failed {
                counted(l);
            }
            raise && failed
        }
    }
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len());
}

/// Pushes `{field = <value on top>}`, consuming the value.
unsafe fn wrap_single(l: *mut ffi::lua_State, field: &str) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, field.as_bytes());
    ffi::lua_pushvalue(l, -3);
    ffi::lua_rawset(l, -3);
    ffi::lua_replace(l, -2);
}

/// The error of a command the script called is counted in errorstats when it happens
/// (as Redis does, even when `pcall` catches it: a refusal here, a command's own error
/// where it ran); this marks the table on top, so that the script's own error reply,
/// if it ends with this error, is not counted again.
unsafe fn counted(l: *mut ffi::lua_State) {
    push_bytes(l, IGNORE_STATS.as_bytes());
    ffi::lua_pushboolean(l, 1);
    ffi::lua_rawset(l, -3);
}

/// Redis's name for the mark.
pub const IGNORE_STATS: &str = "ignore_error_stats_update";

unsafe fn push_err(l: *mut ffi::lua_State, text: &str) {
    push_bytes(l, error_text(text).as_bytes());
    wrap_single(l, "err");
}

fn line<'b>(buf: &'b [u8], pos: &mut usize) -> &'b [u8] {
    let start = (*pos).min(buf.len());
    let end = memchr::memmem::find(&buf[start..], b"\r\n").map_or(buf.len(), |i| start + i);
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

fn num(b: &[u8]) -> i64 {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Pushes one RESP reply as the Lua value Redis gives scripts (see `convert`).
unsafe fn push_reply(l: *mut ffi::lua_State, buf: &[u8], pos: &mut usize, depth: usize) {
    if ffi::lua_checkstack(l, 4) == 0 || depth > 7000 {
        ffi::lua_pushnil(l);
        return;
    }
    let Some(&kind) = buf.get(*pos) else {
        ffi::lua_pushnil(l);
        return;
    };
    *pos += 1;
    let ln = line(buf, pos);
    match kind {
        b'+' => {
            push_bytes(l, ln);
            wrap_single(l, "ok");
        }
        b'-' => {
            let mut raw = Vec::with_capacity(ln.len() + 1);
            raw.push(b'-');
            raw.extend_from_slice(ln);
            push_err(l, &String::from_utf8_lossy(&raw));
        }
        b':' => ffi::lua_pushnumber(l, num(ln) as f64),
        b'$' | b'=' => {
            let n = num(ln);
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
                return;
            }
            let body = &buf[(*pos).min(buf.len())..(*pos + n as usize).min(buf.len())];
            *pos = (*pos + n as usize + 2).min(buf.len());
            if kind == b'=' && body.len() >= 4 {
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, b"string");
                push_bytes(l, &body[4..]);
                ffi::lua_rawset(l, -3);
                push_bytes(l, b"format");
                push_bytes(l, &body[..3]);
                ffi::lua_rawset(l, -3);
                wrap_single(l, "verbatim_string");
            } else {
                push_bytes(l, body);
            }
        }
        b'*' | b'~' | b'>' => {
            let n = num(ln);
            if n < 0 {
                ffi::lua_pushboolean(l, 0);
                return;
            }
            let set = kind == b'~';
            ffi::lua_createtable(l, if set { 0 } else { n.min(1 << 16) as c_int }, if set { n.min(1 << 16) as c_int } else { 0 });
            for i in 0..n {
                push_reply(l, buf, pos, depth + 1);
                if set {
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_rawset(l, -3);
                } else {
                    ffi::lua_rawseti(l, -2, i + 1);
                }
            }
            if set {
                wrap_single(l, "set");
            }
        }
        b'%' => {
            let n = num(ln);
            ffi::lua_createtable(l, 0, n.clamp(0, 1 << 16) as c_int);
            for _ in 0..n {
                push_reply(l, buf, pos, depth + 1);
                push_reply(l, buf, pos, depth + 1);
                if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
                    ffi::lua_pop(l, 2);
                } else {
                    ffi::lua_rawset(l, -3);
                }
            }
            wrap_single(l, "map");
        }
        b'|' => {
            // Attributes are not shown to scripts: skip them, push what follows.
            for _ in 0..num(ln) * 2 {
                push_reply(l, buf, pos, depth + 1);
                ffi::lua_pop(l, 1);
            }
            push_reply(l, buf, pos, depth + 1);
        }
        b'_' => ffi::lua_pushnil(l),
        b'#' => ffi::lua_pushboolean(l, (ln == b"t") as c_int),
        b',' => {
            let d = match ln {
                b"inf" => f64::INFINITY,
                b"-inf" => f64::NEG_INFINITY,
                b"nan" | b"-nan" => f64::NAN,
                s => std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).unwrap_or(0.0),
            };
            ffi::lua_pushnumber(l, d);
            wrap_single(l, "double");
        }
        b'(' => {
            push_bytes(l, ln);
            wrap_single(l, "big_number");
        }
        _ => ffi::lua_pushnil(l),
    }
}

const STALE: &str = "Can not execute the command on a stale replica";
const READ_ONLY_SCRIPT: &str = "Write commands are not allowed from read-only scripts.";

/// Redis's checks before a script's command runs (scriptCall): arity, commands denied
/// to scripts, stale or read-only replicas, persistence errors, min-replicas, OOM.
fn admit(run: &Run<'_, '_>, def: &CommandDef, args: &[&[u8]]) -> Result<(), String> {
    let srv = run.srv;
    if !crate::commands::arity_ok(def.arity, args.len()) {
        return Err("Wrong number of args calling Redis command from script".into());
    }
    if def.flags & table::NOSCRIPT != 0 && !srv.scripts.allow_noscript.load(Ordering::Relaxed) {
        return Err("This Redis command is not allowed from script".into());
    }
    let settings = &*run.client.settings;
    let replica = srv.replica_mode.load(Ordering::Relaxed);
    if replica && !settings.replica_serve_stale_data && def.flags & table::STALE == 0 && !run.from_master {
        let up = srv.master.lock().as_ref().is_some_and(|l| l.status() == "up");
        if !up {
            return Err(STALE.into());
        }
    }
    let write = def.flags & table::WRITE != 0;
    if run.read_only && def.flags & (table::WRITE | table::MAY_REPLICATE) != 0 {
        return Err(READ_ONLY_SCRIPT.into());
    }
    if write && !run.wrote && !run.from_master {
        if replica && settings.replica_read_only {
            return Err("-READONLY You can't write against a read only replica.".into());
        }
        if let Some(e) = crate::persistence::disk_error(srv, settings) {
            return Err(format!("-{}", e.message()));
        }
        if srv.replicas.too_few(settings) {
            return Err("-NOREPLICAS Not enough good replicas to write.".into());
        }
    }
    if !run.allow_oom && settings.maxmemory != 0 && !run.wrote && run.oom_at_start && def.flags & table::DENYOOM != 0 && !run.from_master {
        return Err(format!("-{}", crate::evict::OOM));
    }
    Ok(())
}

/// Runs one command for a script: Redis's checks (scriptCall), the locks of its
/// keys, then the command itself. Returns its raw reply.
fn execute(run: &mut Run<'_, '_>, args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let srv = run.srv;
    let unknown = || "Unknown Redis command called from script".to_string();
    let (def, id) = table::lookup_id(args[0]).ok_or_else(unknown)?;
    let (def, id): (&'static CommandDef, usize) = match crate::commands::resolve_subcommand(def, args) {
        Ok(Some(i)) => (&def.subcommands[i], id + 1 + i),
        Ok(None) => (def, id),
        Err(_) => return Err(unknown()),
    };
    // Refused before it runs: counted as a rejected call of that command, as in Redis.
    if let Err(e) = admit(run, def, args) {
        srv.stats.rejected(id);
        return Err(e);
    }
    let write = def.flags & table::WRITE != 0;
    let effects_before = run.wrote || run.side_effects;
    if write {
        run.wrote = true;
        if let Some(b) = &run.busy {
            b.wrote.store(true, Ordering::Release);
        }
    }
    if def.flags & (table::WRITE | table::MAY_REPLICATE | table::PUBSUB) != 0 {
        run.side_effects = true;
    }
    let slots = crate::commands::plan_slots(srv, def, run.client.db, args).map_err(|e| e.0.to_string())?;
    if !run.keys.extend(&srv.keyspace, &slots, true) {
        if run.can_restart && !effects_before {
            run.restart = true;
            return Err(RESTART.into());
        }
        // Writes already happened: wait for the busy shard (its holder is a
        // single-key command in all but the rarest interleavings).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            std::thread::sleep(std::time::Duration::from_micros(50));
            if run.keys.extend(&srv.keyspace, &slots, true) {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err("ERR a key the script did not declare in KEYS stayed locked by another client".into());
            }
        }
    }
    if srv.monitors_active() && def.flags & table::SKIP_MONITOR == 0 {
        srv.feed_monitors_from(run.client.db, "lua", args);
    }
    let mut out = ReplyBuf { buf: REPLY.take(), resp3: run.resp3 };
    let effects = run.client.capture.borrow().as_ref().map_or(0, |c| c.len());
    let keys = std::mem::replace(&mut run.keys, Locked::empty());
    run.keys = crate::commands::run_locked(srv, run.client, &mut out, args, run.now, (def, id), keys, SmallVec::new());
    if run.repl & 3 == 0 {
        if let Some(c) = run.client.capture.borrow_mut().as_mut() {
            c.truncate(effects);
        }
    }
    Ok(out.buf)
}

pub fn log(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(mlua::Error::RuntimeError("redis.log() requires two arguments or more.".into()));
    }
    let level = match &args[0] {
        Value::Number(n) => *n as i64,
        Value::Integer(n) => *n,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map(|n| n as i64)
            .ok_or_else(|| mlua::Error::RuntimeError("First argument must be a number (log level).".into()))?,
        _ => return Err(mlua::Error::RuntimeError("First argument must be a number (log level).".into())),
    };
    if !(0..=3).contains(&level) {
        return Err(mlua::Error::RuntimeError("Invalid debug level.".into()));
    }
    let mut msg = String::new();
    for (i, a) in args.iter().skip(1).enumerate() {
        let s = match a {
            Value::String(s) => s.to_string_lossy(),
            Value::Number(n) => number_arg(*n),
            Value::Integer(n) => n.to_string(),
            _ => continue,
        };
        if i > 0 {
            msg.push(' ');
        }
        msg.push_str(&s);
    }
    match level {
        0 => tracing::trace!("{msg}"),
        1 => tracing::debug!("{msg}"),
        2 => tracing::info!("{msg}"),
        _ => tracing::warn!("{msg}"),
    }
    Ok(())
}

fn one_number(args: &Variadic<Value>, name: &str) -> mlua::Result<f64> {
    if args.len() != 1 {
        return Err(mlua::Error::RuntimeError(format!("redis.{name}() requires one argument.")));
    }
    Ok(match &args[0] {
        Value::Number(n) => *n,
        Value::Integer(n) => *n as f64,
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0.0),
        _ => 0.0,
    })
}

pub fn setresp(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let n = one_number(&args, "setresp")? as i64;
    if n != 2 && n != 3 {
        return Err(mlua::Error::RuntimeError("RESP version must be 2 or 3.".into()));
    }
    with_run(|run| run.resp3 = n == 3);
    Ok(())
}

pub fn set_repl(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let n = one_number(&args, "set_repl")? as i64;
    if n & !3 != 0 {
        return Err(mlua::Error::RuntimeError("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.".into()));
    }
    with_run(|run| run.repl = n as u8);
    Ok(())
}

pub fn sha1hex(_: &Lua, args: Variadic<Value>) -> mlua::Result<String> {
    if args.len() != 1 {
        return Err(mlua::Error::RuntimeError("wrong number of arguments".into()));
    }
    let bytes = match &args[0] {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Number(n) => number_arg(*n).into_bytes(),
        Value::Integer(n) => n.to_string().into_bytes(),
        _ => Vec::new(),
    };
    Ok(super::sha1_hex(&bytes))
}

fn single_string(args: &Variadic<Value>) -> Option<mlua::LuaString> {
    match (args.len(), args.first()) {
        (1, Some(Value::String(s))) => Some(s.clone()),
        _ => None,
    }
}

pub fn error_reply(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Value> {
    let Some(s) = single_string(&args) else { return err_table(lua, "wrong number or type of arguments") };
    let s = s.to_string_lossy();
    let raw = if s.starts_with('-') { s } else { format!("-{s}") };
    err_table(lua, &raw)
}

pub fn status_reply(lua: &Lua, args: Variadic<Value>) -> mlua::Result<Value> {
    let Some(s) = single_string(&args) else { return err_table(lua, "wrong number or type of arguments") };
    let t = lua.create_table()?;
    t.raw_set("ok", s)?;
    Ok(Value::Table(t))
}

/// Without ACL users every command is permitted; an unknown one is an error.
pub fn acl_check_cmd(_: &Lua, args: Variadic<Value>) -> mlua::Result<bool> {
    let name = match args.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        None => return Err(mlua::Error::RuntimeError("Please specify at least one argument for this redis lib call".into())),
        _ => return Err(mlua::Error::RuntimeError("Lua redis lib command arguments must be strings or integers".into())),
    };
    match table::lookup(&name) {
        Some(_) => Ok(true),
        None => Err(mlua::Error::RuntimeError("Invalid command passed to redis.acl_check_cmd()".into())),
    }
}
