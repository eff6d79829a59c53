//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH,
//! KILL, DEBUG, HELP). The engine lives in `crate::scripting`.

use super::table::{self, CommandDef, Slots};
use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::Keyspace;
use crate::scripting::run::{run, Invocation};

/// The number of keys of EVAL/FCALL-style arguments (`cmd body numkeys key... arg...`),
/// with Redis's errors.
pub fn numkeys(args: &[&[u8]]) -> Result<usize, Error> {
    let n = crate::util::parse_canonical_i64(args[2]).ok_or(Error::from(err::NOT_INT))?;
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    if n as usize > args.len() - 3 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    Ok(n as usize)
}

/// Lock plan of EVAL-style commands: the shards of the declared keys. A bad
/// numkeys locks nothing; the handler then replies the error.
pub fn declared_slots(args: &[&[u8]], db: usize, _: usize) -> Result<Slots, Error> {
    let Ok(n) = numkeys(args) else { return Ok(Default::default()) };
    Ok(args[3..3 + n].iter().map(|k| Keyspace::slot(db, k)).collect())
}

pub fn eval(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, false)
}

pub fn evalsha(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, false)
}

pub fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, true)
}

/// MONITOR shows EVAL/FCALL-style commands (flagged skip_monitor, like Redis) before
/// they run, so that the commands of the script follow them (as `[db lua]`).
pub fn feed_monitors(ctx: &Ctx) {
    if ctx.srv.monitors_active() {
        ctx.srv.feed_monitors(ctx.client, ctx.args);
    }
}

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The flags the checks before a command see: for EVAL/FCALL and their variants, the
/// script's or function's declared flags decide write, denyoom and stale, as Redis's
/// getCommandFlags does (so a write script on a read-only replica gets the plain
/// READONLY error). A script without a shebang, or one not found, keeps the command's.
pub fn command_flags(srv: &crate::server::Server, def: &CommandDef, args: &[&[u8]]) -> u32 {
    use crate::scripting::flags as sf;
    if def.flags & table::SCRIPT_RUN == 0 || args.len() < 2 {
        return def.flags;
    }
    let declared = if def.name.starts_with("fcall") {
        crate::scripting::library::libraries().function(&String::from_utf8_lossy(args[1])).map(|(_, m)| m.flags)
    } else if def.name.starts_with("evalsha") {
        std::str::from_utf8(args[1]).ok().and_then(|sha| srv.scripts.get(&sha.to_ascii_lowercase())).map(|s| s.flags)
    } else {
        crate::scripting::parse_shebang(args[1]).ok().map(|(f, _)| f)
    };
    let Some(f) = declared.filter(|f| f & sf::EVAL_COMPAT == 0) else { return def.flags };
    let mut flags = def.flags & !(table::STALE | table::DENYOOM | table::WRITE | table::MAY_REPLICATE);
    if f & (sf::ALLOW_OOM | sf::NO_WRITES) == 0 {
        flags |= table::DENYOOM;
    }
    if f & sf::NO_WRITES == 0 {
        flags |= table::WRITE;
    }
    if f & sf::ALLOW_STALE != 0 {
        flags |= table::STALE;
    }
    flags
}

fn eval_generic(ctx: &mut Ctx, by_sha: bool, ro: bool) -> CmdResult {
    use crate::scripting::vm::with_vm;
    feed_monitors(ctx);
    let n = numkeys(ctx.args)?;
    let srv = ctx.srv;
    let mut hex = [0u8; 40];
    let (sha, compiled) = if by_sha {
        if ctx.args[1].len() != 40 {
            return Err(NOSCRIPT.into());
        }
        hex.copy_from_slice(ctx.args[1]);
        hex.make_ascii_lowercase();
        let sha = std::str::from_utf8(&hex).map_err(|_| Error::from(NOSCRIPT))?;
        // This thread's VM first: the shared cache only on its first run here.
        let compiled = match with_vm(|vm| vm.cached(srv, sha)) {
            Some(c) => c,
            None => {
                let script = srv.scripts.get(sha).ok_or(Error::from(NOSCRIPT))?;
                with_vm(|vm| vm.script(srv, sha, &script))?
            }
        };
        (std::borrow::Cow::Borrowed(sha), compiled)
    } else {
        let (sha, s) = srv.scripts.add(ctx.args[1]).map_err(|e| Error::from(format!("ERR {e}")))?;
        // A script that does not compile is reported and not kept, as in Redis.
        match with_vm(|vm| vm.script(srv, &sha, &s)) {
            Ok(c) => (std::borrow::Cow::Owned(sha), c),
            Err(e) => {
                srv.scripts.remove(&sha);
                return Err(e.into());
            }
        }
    };
    let args = ctx.args;
    let inv = Invocation {
        keys: &args[3..3 + n],
        argv: &args[3 + n..],
        flags: compiled.flags,
        ro,
        eval: true,
        name: &sha,
        undeclared: Some(&compiled.undeclared),
    };
    run(ctx, inv, &|_| Ok((std::borrow::Cow::Borrowed(&compiled.func), None)))
}

pub fn script_load(ctx: &mut Ctx) -> CmdResult {
    let (sha, script) = ctx.srv.scripts.add(ctx.args[2]).map_err(|e| Error::from(format!("ERR {e}")))?;
    // Compiled here so a syntax error is reported now, as Redis does.
    if let Err(e) = crate::scripting::vm::with_vm(|vm| vm.script(ctx.srv, &sha, &script).map(|_| ())) {
        ctx.srv.scripts.remove(&sha);
        return Err(e.into());
    }
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

pub fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.args.len() - 2;
    ctx.out.array(n);
    for a in &ctx.args[2..] {
        let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
        ctx.out.int(ctx.srv.scripts.get(&sha).is_some() as i64);
    }
    Ok(())
}

pub fn script_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {}
        3 if ctx.is(2, "ASYNC") || ctx.is(2, "SYNC") => {}
        _ => return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into()),
    }
    ctx.srv.scripts.flush();
    ctx.out.ok();
    Ok(())
}

pub fn script_kill(ctx: &mut Ctx) -> CmdResult {
    crate::scripting::kill(ctx.srv, true)?;
    ctx.out.ok();
    Ok(())
}

/// The Lua debugger (LDB) is not available: SCRIPT DEBUG NO is accepted, YES/SYNC
/// are refused with a clear error.
pub fn script_debug(ctx: &mut Ctx) -> CmdResult {
    if ctx.is(2, "NO") {
        ctx.out.ok();
        return Ok(());
    }
    if ctx.is(2, "YES") || ctx.is(2, "SYNC") {
        return Err("ERR SCRIPT DEBUG is not supported by this server".into());
    }
    Err("ERR Use SCRIPT DEBUG YES/SYNC/NO".into())
}

pub fn script_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}
