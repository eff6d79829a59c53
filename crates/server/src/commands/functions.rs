//! Redis 7 Functions: FUNCTION (LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE, STATS,
//! KILL, HELP) and FCALL / FCALL_RO. The registry and the engine live in
//! `crate::scripting::library`.

use super::{CmdResult, Ctx, Error};
use crate::scripting::library::{self, libraries, Policy};
use crate::scripting::run::{run, Invocation};
use crate::scripting::vm::with_vm;

pub fn fcall(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, false)
}

pub fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, true)
}

fn fcall_generic(ctx: &mut Ctx, ro: bool) -> CmdResult {
    super::scripting::feed_monitors(ctx);
    let name = String::from_utf8_lossy(ctx.args[1]).into_owned();
    let Some((_, meta)) = libraries().function(&name) else { return Err("ERR Function not found".into()) };
    let n = crate::util::parse_canonical_i64(ctx.args[2]).ok_or(Error::from("ERR Bad number of keys provided"))?;
    if n > ctx.args.len() as i64 - 3 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    let n = n as usize;
    let args = ctx.args;
    let (keys, argv) = (&args[3..3 + n], &args[3 + n..]);
    let inv = Invocation { keys, argv, flags: meta.flags, ro, eval: false, name: &meta.name, undeclared: None };
    let key = meta.name.to_ascii_lowercase();
    run(ctx, inv, &|vm| {
        library::sync_vm(vm);
        let f = vm.functions.get(&key).cloned().ok_or("ERR Function not found")?;
        let k = vm.strings(keys).map_err(|e| e.to_string())?;
        let a = vm.strings(argv).map_err(|e| e.to_string())?;
        Ok((std::borrow::Cow::Owned(f), Some((k, a))))
    })
}

pub fn load(ctx: &mut Ctx) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < ctx.args.len() - 1 {
        if ctx.is(i, "REPLACE") {
            replace = true;
        } else {
            return Err(format!("ERR Unknown option given: {}", ctx.arg_str(i)).into());
        }
        i += 1;
    }
    if i >= ctx.args.len() {
        return Err("ERR Function code is missing".into());
    }
    let code = ctx.args[i];
    let name = with_vm(|vm| libraries().load(vm, code, replace))?;
    ctx.propagate_as_is();
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

pub fn delete(ctx: &mut Ctx) -> CmdResult {
    libraries().delete(&ctx.arg_str(2))?;
    ctx.propagate_as_is();
    ctx.out.ok();
    Ok(())
}

pub fn flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err("ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.".into());
    }
    match ctx.args.len() {
        2 => {}
        3 if ctx.is(2, "ASYNC") || ctx.is(2, "SYNC") => {}
        _ => return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into()),
    }
    libraries().flush();
    ctx.propagate_as_is();
    ctx.out.ok();
    Ok(())
}

pub fn kill(ctx: &mut Ctx) -> CmdResult {
    crate::scripting::kill(ctx.srv, false)?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION DUMP: every library as RDB function records, with the DUMP footer.
pub fn dump(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(&crate::persistence::rdb::functions_payload(&libraries().codes()));
    Ok(())
}

pub fn restore(ctx: &mut Ctx) -> CmdResult {
    let policy = match ctx.args.len() {
        3 => Policy::Append,
        4 if ctx.is(3, "APPEND") => Policy::Append,
        4 if ctx.is(3, "REPLACE") => Policy::Replace,
        4 if ctx.is(3, "FLUSH") => Policy::Flush,
        4 => return Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into()),
        _ => return Err("ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.".into()),
    };
    let codes = crate::persistence::rdb::parse_functions_payload(ctx.args[2]).map_err(|e| Error::from(format!("ERR {e}")))?;
    let libs = with_vm(|vm| codes.iter().map(|c| library::compile_library(vm, c)).collect::<Result<Vec<_>, String>>())?;
    libraries().install(libs, policy, false)?;
    ctx.propagate_as_is();
    ctx.out.ok();
    Ok(())
}

pub fn list(ctx: &mut Ctx) -> CmdResult {
    let (mut with_code, mut pattern): (bool, Option<&[u8]>) = (false, None);
    let mut i = 2;
    while i < ctx.args.len() {
        if !with_code && ctx.is(i, "WITHCODE") {
            with_code = true;
        } else if pattern.is_none() && ctx.is(i, "LIBRARYNAME") {
            if i + 1 >= ctx.args.len() {
                return Err("ERR library name argument was not given".into());
            }
            i += 1;
            pattern = Some(ctx.args[i]);
        } else {
            return Err(format!("ERR Unknown argument {}", ctx.arg_str(i)).into());
        }
        i += 1;
    }
    let reg = libraries().read();
    let libs: Vec<_> = reg.libs.values().filter(|l| pattern.is_none_or(|p| crate::util::glob_match(p, l.name.as_bytes(), true))).collect();
    let o = &mut *ctx.out;
    o.array(libs.len());
    for l in libs {
        o.map(if with_code { 4 } else { 3 });
        o.bulk(b"library_name");
        o.bulk(l.name.as_bytes());
        o.bulk(b"engine");
        o.bulk(b"LUA");
        o.bulk(b"functions");
        o.array(l.functions.len());
        for f in &l.functions {
            o.map(3);
            o.bulk(b"name");
            o.bulk(f.name.as_bytes());
            o.bulk(b"description");
            match &f.description {
                Some(d) => o.bulk(d.as_bytes()),
                None => o.null(),
            }
            o.bulk(b"flags");
            let names: Vec<&str> = crate::scripting::flags::NAMES.iter().filter(|(b, _)| f.flags & b != 0).map(|(_, n)| *n).collect();
            o.set(names.len());
            for n in names {
                o.simple(n.as_bytes());
            }
        }
        if with_code {
            o.bulk(b"library_code");
            o.bulk(&l.code);
        }
    }
    Ok(())
}

pub fn stats(ctx: &mut Ctx) -> CmdResult {
    let (libs, funcs) = libraries().counts();
    let busy = ctx.srv.scripts.busy_script();
    if busy.as_ref().is_some_and(|b| b.eval) {
        return Err(crate::scripting::BUSY_EVAL.into());
    }
    let o = &mut *ctx.out;
    o.map(2);
    o.bulk(b"running_script");
    match busy {
        Some(b) => {
            o.map(3);
            o.bulk(b"name");
            o.bulk(b.name.as_bytes());
            o.bulk(b"command");
            o.bulks(b.command.iter().map(|a| &a[..]));
            o.bulk(b"duration_ms");
            o.int(b.started.elapsed().as_millis() as i64);
        }
        None => o.null(),
    }
    o.bulk(b"engines");
    o.map(1);
    o.bulk(b"LUA");
    o.map(2);
    o.bulk(b"libraries_count");
    o.int(libs as i64);
    o.bulk(b"functions_count");
    o.int(funcs as i64);
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
