//! Running one script or function for the command that invoked it (EVAL, EVALSHA,
//! FCALL and their _RO forms): Redis's checks before the run, the locks, the run in
//! this thread's VM, its reply and its effects as one unit of the write stream.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mlua::{Function, Table, Value};

use super::flags;
use super::vm::{with_vm, Run, Vm};
use crate::commands::{CmdResult, Ctx, Error};
use crate::keyspace::Locked;

/// What is being run.
pub struct Invocation<'a> {
    pub keys: &'a [&'a [u8]],
    pub argv: &'a [&'a [u8]],
    /// The script's shebang flags or the function's flags.
    pub flags: u32,
    /// Called as EVAL_RO / EVALSHA_RO / FCALL_RO.
    pub ro: bool,
    pub eval: bool,
    pub name: &'a str,
    /// The script's "touched undeclared keys" mark (EVAL only).
    pub undeclared: Option<&'a Cell<bool>>,
}

/// What the VM must call: the compiled function and, for FCALL, its (keys, args).
/// EVAL lends its cached function: a clone would make and drop a registry reference
/// on every call.
pub type Prepare<'p> = &'p dyn Fn(&mut Vm) -> Result<(Cow<'p, Function>, Option<(Table, Table)>), String>;

fn prepare_checks(ctx: &Ctx, inv: &Invocation) -> Result<(), Error> {
    let srv = ctx.srv;
    let s = &ctx.client.settings;
    let obey = ctx.client.is_master_link;
    let replica = srv.replica_mode.load(Ordering::Relaxed);
    let stale = replica && !s.replica_serve_stale_data && srv.master.lock().as_ref().is_none_or(|l| l.status() != "up");
    if inv.flags & flags::EVAL_COMPAT != 0 {
        if stale {
            return Err("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.".into());
        }
        return Ok(());
    }
    if stale && inv.flags & flags::ALLOW_STALE == 0 {
        return Err(
            "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script."
                .into(),
        );
    }
    if inv.flags & flags::NO_WRITES == 0 {
        if replica && s.replica_read_only && !obey {
            return Err("READONLY Can not run script with write flag on readonly replica".into());
        }
        match crate::persistence::disk_error(srv, s).filter(|_| !obey) {
            Some(crate::persistence::DiskError::Rdb) => {
                return Err("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into());
            }
            Some(e) => return Err(crate::commands::Error(e.message())),
            None => {}
        }
        if inv.ro {
            return Err("ERR Can not execute a script with write flag using *_ro command.".into());
        }
        if srv.replicas.too_few(s) && !obey {
            return Err("NOREPLICAS Not enough good replicas to write.".into());
        }
    }
    let oom = s.maxmemory != 0 && srv.used_memory() > s.maxmemory;
    if oom && inv.flags & (flags::ALLOW_OOM | flags::NO_WRITES) == 0 && !obey {
        return Err("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into());
    }
    Ok(())
}

/// Runs `inv` for the command in `ctx` and replies.
pub fn run(ctx: &mut Ctx, inv: Invocation, prepare: Prepare) -> CmdResult {
    prepare_checks(ctx, &inv)?;
    let srv = ctx.srv;
    let (maxmemory, threshold_ms) = (ctx.client.settings.maxmemory, ctx.client.settings.busy_reply_threshold);
    let caller_db = ctx.client.db;
    let nested = ctx.client.capture.borrow().is_some();
    if !nested {
        *ctx.client.capture.borrow_mut() = Some(Default::default());
    }
    let no_block = std::mem::replace(&mut ctx.client.no_block, true);
    let mut keys = std::mem::replace(&mut ctx.keys, Locked::empty());
    if !nested && inv.undeclared.is_some_and(|u| u.get()) {
        drop(keys);
        keys = srv.keyspace.lock_db(caller_db, true);
    }
    let compat = inv.flags & flags::EVAL_COMPAT != 0;
    let read_only = inv.ro || (!compat && inv.flags & flags::NO_WRITES != 0);
    let allow_oom = !compat && inv.flags & flags::ALLOW_OOM != 0;
    let oom_at_start = maxmemory != 0 && srv.used_memory() > maxmemory;
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        ctx.client.select(caller_db);
        let from_master = ctx.client.is_master_link;
        let mut run = Run {
            srv,
            client: &mut *ctx.client,
            args: ctx.args,
            keys_argv: (inv.keys, inv.argv),
            keys,
            now: ctx.now,
            db: caller_db,
            resp3: false,
            read_only,
            allow_oom,
            oom_at_start,
            wrote: false,
            side_effects: false,
            repl: 3,
            restart: false,
            can_restart: !nested && attempt == 1,
            eval: inv.eval,
            name: inv.name,
            start: Instant::now(),
            start_us: crate::util::now_us(),
            threshold_ms,
            busy: None,
            from_master,
        };
        let out = &mut *ctx.out;
        let mut counted = false;
        let res = with_vm(|vm| -> Result<Result<(), String>, String> {
            let (f, args) = prepare(vm)?;
            let r = vm.call(&mut run, &f, args);
            if run.restart {
                return Ok(Ok(()));
            }
            let v = match &r {
                Ok(v) | Err(v) => v,
            };
            counted = matches!(v, Value::Table(t) if t.raw_get::<bool>(super::call::IGNORE_STATS).unwrap_or(false));
            Ok(match r {
                Ok(v) => reply(&v, out, run.resp3),
                Err(e) => Err(script_error(&e, run.name)),
            })
        });
        if let Some(b) = run.busy.take() {
            srv.scripts.leave_busy(&b);
        }
        run.client.error_counted = counted;
        let restart = run.restart;
        keys = run.keys;
        if restart {
            // Nothing was written: take the whole database and run it again.
            drop(keys);
            keys = srv.keyspace.lock_db(caller_db, true);
            if let Some(u) = inv.undeclared {
                u.set(true);
            }
            if let Some(c) = ctx.client.capture.borrow_mut().as_mut() {
                c.clear();
            }
            continue;
        }
        break res;
    };
    ctx.keys = keys;
    ctx.client.select(caller_db);
    ctx.client.no_block = no_block;
    if !nested {
        let batch = ctx.client.capture.borrow_mut().take().unwrap_or_default();
        if !batch.is_empty() {
            srv.journal.append_batch(&batch);
            ctx.client.woff.set(srv.journal.offset());
        }
    }
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) | Err(e) => Err(e.into()),
    }
}

/// The script's return value as the reply; an error table at the top is the
/// command's error (counted in the error stats).
fn reply(v: &Value, out: &mut ferrokv_protocol::ReplyBuf, resp3: bool) -> Result<(), String> {
    if let Value::Table(t) = v {
        if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
            return Err(e.to_string_lossy());
        }
    }
    super::convert::lua_to_reply(v, out, resp3);
    Ok(())
}

/// An uncaught error: its message plus where in the user's code it was raised.
fn script_error(e: &Value, name: &str) -> String {
    let Value::Table(t) = e else {
        let msg = match e {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".into(),
        };
        return format!("ERR Error running script {name}, {msg:.100}");
    };
    let msg = t.raw_get::<Value>("err").ok().and_then(|v| if let Value::String(s) = v { Some(s.to_string_lossy()) } else { None });
    let mut out = msg.unwrap_or_else(|| "ERR unknown error".into());
    let source = t.raw_get::<Value>("source").ok().and_then(|v| if let Value::String(s) = v { Some(s.to_string_lossy()) } else { None });
    let line = match t.raw_get::<Value>("line") {
        Ok(Value::Number(n)) => Some((n as i64).to_string()),
        Ok(Value::Integer(n)) => Some(n.to_string()),
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        _ => None,
    };
    if let (Some(src), Some(line)) = (source, line) {
        out.push_str(&format!(" script: {name}, on {src}:{line}."));
    }
    out
}
