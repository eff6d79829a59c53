//! FUNCTION: the Redis 7 Functions library registry. Scripting (Lua) has not landed yet,
//! so no library can be loaded; FLUSH/LIST/STATS report that empty registry exactly as
//! Redis does for a server with no functions.

use super::{CmdResult, Ctx};

pub fn flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {}
        3 if ctx.is(2, "ASYNC") || ctx.is(2, "SYNC") => {}
        _ => return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into()),
    }
    ctx.out.ok();
    Ok(())
}

pub fn list(ctx: &mut Ctx) -> CmdResult {
    let mut i = 2;
    while i < ctx.args.len() {
        if ctx.is(i, "WITHCODE") {
            i += 1;
        } else if ctx.is(i, "LIBRARYNAME") && i + 1 < ctx.args.len() {
            i += 2;
        } else {
            return Err(format!("ERR Unknown argument {}", ctx.arg_str(i)).into());
        }
    }
    ctx.out.array(0);
    Ok(())
}

pub fn stats(ctx: &mut Ctx) -> CmdResult {
    let o = &mut *ctx.out;
    o.map(2);
    o.bulk(b"running_script");
    o.null();
    o.bulk(b"engines");
    o.map(1);
    o.bulk(b"LUA");
    o.map(2);
    o.bulk(b"libraries_count");
    o.int(0);
    o.bulk(b"functions_count");
    o.int(0);
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "FUNCTION",
        &[
            "LIST [LIBRARYNAME <pattern>] [WITHCODE]",
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
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
        ],
    );
    Ok(())
}
