//! Connection commands: PING ECHO QUIT RESET HELLO AUTH SELECT and CLIENT.

use std::sync::atomic::Ordering;

use super::{err, CmdResult, Ctx, Error};
use crate::net::client::ReplyFlags;

pub fn ping(ctx: &mut Ctx) -> CmdResult {
    if !ctx.out.resp3 && super::pubsub::subscribed(ctx.client) {
        // Subscribed RESP2 clients get PING's answer in the shape of a message.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(ctx.args.get(1).copied().unwrap_or(b""));
        return Ok(());
    }
    match ctx.args.len() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(ctx.args[1]),
        _ => return Err("ERR wrong number of arguments for 'ping' command".into()),
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(ctx.args[1]);
    Ok(())
}

pub fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

pub fn reset(ctx: &mut Ctx) -> CmdResult {
    super::transactions::forget(ctx.srv, ctx.client);
    super::pubsub::forget(ctx.srv, ctx.client);
    crate::tracking::disable(ctx.srv, &ctx.client.shared);
    ctx.client.select(0);
    ctx.out.resp3 = false;
    ctx.client.shared.resp.store(2, Ordering::Relaxed);
    ctx.client.reply = ReplyFlags::default();
    ctx.client.no_evict = false;
    ctx.client.no_touch = false;
    ctx.client.authenticated = ctx.client.settings.requirepass.is_none();
    if ctx.client.shared.monitor.swap(false, Ordering::Relaxed) {
        ctx.client.stop_feed = true;
    }
    ctx.out.simple(b"RESET");
    Ok(())
}

fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> Result<(), Error> {
    let ok = user == b"default"
        && match &ctx.client.settings.requirepass {
            Some(p) => p.as_slice() == pass,
            None => true,
        };
    if ok {
        Ok(())
    } else {
        Err("WRONGPASS invalid username-password pair or user is disabled.".into())
    }
}

pub fn auth(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(err::SYNTAX.into());
    }
    let (user, pass): (&[u8], &[u8]) = if ctx.args.len() == 3 { (ctx.args[1], ctx.args[2]) } else { (b"default", ctx.args[1]) };
    if ctx.args.len() == 2 && ctx.client.settings.requirepass.is_none() {
        return Err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
                .into(),
        );
    }
    check_password(ctx, user, pass)?;
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

pub fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut proto = if ctx.out.resp3 { 3 } else { 2 };
    let mut i = 1;
    if ctx.args.len() > 1 {
        let v =
            crate::util::parse_canonical_i64(ctx.args[1]).ok_or(Error::from("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        proto = v;
        i = 2;
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    while i < ctx.args.len() {
        let left = ctx.args.len() - i - 1;
        if ctx.is(i, "AUTH") && left >= 2 {
            auth = Some((ctx.args[i + 1], ctx.args[i + 2]));
            i += 3;
        } else if ctx.is(i, "SETNAME") && left >= 1 {
            name = Some(ctx.args[i + 1]);
            i += 2;
        } else {
            return Err(format!("ERR Syntax error in HELLO option '{}'", ctx.arg_str(i)).into());
        }
    }
    if let Some((u, p)) = auth {
        check_password(ctx, u, p)?;
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(n) = name {
        validate_name(n, "Client names")?;
        *ctx.client.shared.name.lock() = String::from_utf8_lossy(n).into_owned();
    }
    ctx.out.resp3 = proto == 3;
    ctx.client.shared.resp.store(proto as usize, Ordering::Relaxed);
    let o = &mut *ctx.out;
    o.map(7);
    o.bulk(b"server");
    o.bulk(b"redis");
    o.bulk(b"version");
    o.bulk(crate::REDIS_VERSION.as_bytes());
    o.bulk(b"proto");
    o.int(proto);
    o.bulk(b"id");
    o.int(ctx.client.shared.id as i64);
    o.bulk(b"mode");
    o.bulk(b"standalone");
    o.bulk(b"role");
    o.bulk(b"master");
    o.bulk(b"modules");
    o.array(0);
    Ok(())
}

pub fn select(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.int_arg(1)?;
    if db < 0 || db as usize >= ctx.srv.keyspace.databases() {
        return Err(err::DB_RANGE.into());
    }
    ctx.client.select(db as usize);
    ctx.out.ok();
    Ok(())
}

pub fn client_id(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.client.shared.id as i64);
    Ok(())
}

fn validate_name(n: &[u8], what: &str) -> CmdResult {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(format!("ERR {what} cannot contain spaces, newlines or special characters.").into());
    }
    Ok(())
}

pub fn client_setname(ctx: &mut Ctx) -> CmdResult {
    validate_name(ctx.args[2], "Client names")?;
    *ctx.client.shared.name.lock() = String::from_utf8_lossy(ctx.args[2]).into_owned();
    ctx.out.ok();
    Ok(())
}

pub fn client_getname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.client.shared.name.lock().clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

pub fn client_list(ctx: &mut Ctx) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut typ: Option<String> = None;
    let mut i = 2;
    while i < ctx.args.len() {
        if ctx.is(i, "TYPE") && i + 1 < ctx.args.len() {
            let t = ctx.arg_str(i + 1).to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                return Err(format!("ERR Unknown client type '{}'", ctx.arg_str(i + 1)).into());
            }
            typ = Some(t);
            i += 2;
        } else if ctx.is(i, "ID") && i + 1 < ctx.args.len() {
            let mut v = Vec::new();
            for j in i + 1..ctx.args.len() {
                match crate::util::parse_canonical_i64(ctx.args[j]) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return Err("ERR Invalid client ID".into()),
                }
            }
            ids = Some(v);
            i = ctx.args.len();
        } else {
            return Err(err::SYNTAX.into());
        }
    }
    let mut clients: Vec<_> = ctx.srv.clients.lock().values().cloned().collect();
    clients.sort_by_key(|c| c.id);
    let mut text = String::new();
    for c in clients {
        if ids.as_ref().is_some_and(|v| !v.contains(&c.id)) {
            continue;
        }
        if typ.as_deref().is_some_and(|t| !type_matches(t, &c)) {
            continue;
        }
        text.push_str(&c.info_line());
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

pub fn client_info(ctx: &mut Ctx) -> CmdResult {
    let line = ctx.client.shared.info_line() + "\n";
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

pub fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let clients: Vec<_> = ctx.srv.clients.lock().values().cloned().collect();
    if ctx.args.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = ctx.arg_str(2);
        let Some(c) = clients.iter().find(|c| c.addr == addr) else {
            return Err("ERR No such client".into());
        };
        kill(ctx, c);
        ctx.out.ok();
        return Ok(());
    }
    let (mut id, mut addr, mut laddr, mut typ, mut user, mut skipme) = (None, None, None, None, None, true);
    let mut i = 2;
    while i < ctx.args.len() {
        if i + 1 >= ctx.args.len() {
            return Err(err::SYNTAX.into());
        }
        let val = ctx.arg_str(i + 1).into_owned();
        if ctx.is(i, "ID") {
            id = Some(
                crate::util::parse_canonical_i64(ctx.args[i + 1])
                    .filter(|&n| n > 0)
                    .ok_or(Error::from("ERR client-id should be greater than 0"))? as u64,
            );
        } else if ctx.is(i, "ADDR") {
            addr = Some(val);
        } else if ctx.is(i, "LADDR") {
            laddr = Some(val);
        } else if ctx.is(i, "TYPE") {
            let t = val.to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                return Err(format!("ERR Unknown client type '{val}'").into());
            }
            typ = Some(t);
        } else if ctx.is(i, "USER") {
            if val != "default" {
                return Err(format!("ERR No such user '{val}'").into());
            }
            user = Some(val);
        } else if ctx.is(i, "SKIPME") {
            skipme = match val.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(err::SYNTAX.into()),
            };
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 2;
    }
    let me = ctx.client.shared.id;
    let mut n = 0;
    for c in &clients {
        let matches = id.is_none_or(|v| v == c.id)
            && addr.as_deref().is_none_or(|a| a == c.addr)
            && laddr.as_deref().is_none_or(|a| a == c.laddr)
            && typ.as_deref().is_none_or(|t| type_matches(t, c))
            && user.as_deref().is_none_or(|u| u == "default")
            && !(skipme && c.id == me);
        if matches {
            kill(ctx, c);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// CLIENT LIST / KILL TYPE: replicas' links are `replica` (alias `slave`); every other
/// client counts as `normal` (Pub/Sub and master links are not told apart yet).
fn type_matches(t: &str, c: &crate::net::client::ClientShared) -> bool {
    let replica = c.replica.load(Ordering::Relaxed);
    match t {
        "replica" | "slave" => replica,
        "normal" => !replica,
        _ => false,
    }
}

fn kill(ctx: &mut Ctx, c: &crate::net::client::ClientShared) {
    if c.id == ctx.client.shared.id {
        ctx.client.close_after_reply = true;
    } else {
        c.request_kill();
    }
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's blocking command.
pub fn client_unblock(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.int_arg(2)?;
    let error = match ctx.args.len() {
        3 => false,
        4 if ctx.is(3, "timeout") => false,
        4 if ctx.is(3, "error") => true,
        _ => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    let done = id >= 0 && ctx.srv.blocking.unblock(ctx.srv, id as u64, error);
    ctx.out.int(done as i64);
    Ok(())
}

pub fn client_pause(ctx: &mut Ctx) -> CmdResult {
    let ms = crate::util::parse_canonical_i64(ctx.args[2]).ok_or(Error::from("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    let write_only = match ctx.args.len() {
        3 => false,
        4 if ctx.is(3, "WRITE") => true,
        4 if ctx.is(3, "ALL") => false,
        _ => return Err(err::SYNTAX.into()),
    };
    let until = ctx.now + ms as u64;
    // A new pause may only extend the current one, as in Redis.
    let cur = ctx.srv.pause_until.load(Ordering::Acquire);
    ctx.srv.pause_write_only.store(write_only && (cur == 0 || ctx.srv.pause_write_only.load(Ordering::Acquire)), Ordering::Release);
    ctx.srv.pause_until.store(until.max(cur), Ordering::Release);
    ctx.out.ok();
    Ok(())
}

pub fn client_unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.pause_until.store(0, Ordering::Release);
    ctx.srv.unpaused.notify_waiters();
    ctx.out.ok();
    Ok(())
}

pub fn client_reply(ctx: &mut Ctx) -> CmdResult {
    let mode = ctx.args[2].to_ascii_uppercase();
    let r = &mut ctx.client.reply;
    match mode.as_slice() {
        b"ON" => {
            r.off = false;
            r.skip = false;
            ctx.out.ok();
        }
        b"OFF" => r.off = true,
        b"SKIP" if !r.off => r.skip_next = true,
        b"SKIP" => {}
        _ => return Err(err::SYNTAX.into()),
    }
    Ok(())
}

fn on_off(ctx: &Ctx, i: usize) -> Result<bool, Error> {
    if ctx.is(i, "ON") {
        Ok(true)
    } else if ctx.is(i, "OFF") {
        Ok(false)
    } else {
        Err(err::SYNTAX.into())
    }
}

pub fn client_no_evict(ctx: &mut Ctx) -> CmdResult {
    ctx.client.no_evict = on_off(ctx, 2)?;
    ctx.out.ok();
    Ok(())
}

pub fn client_no_touch(ctx: &mut Ctx) -> CmdResult {
    ctx.client.no_touch = on_off(ctx, 2)?;
    ctx.out.ok();
    Ok(())
}

pub fn client_setinfo(ctx: &mut Ctx) -> CmdResult {
    let val = ctx.args[3];
    if ctx.is(2, "LIB-NAME") {
        validate_name(val, "lib-name")?;
        *ctx.client.shared.lib_name.lock() = String::from_utf8_lossy(val).into_owned();
    } else if ctx.is(2, "LIB-VER") {
        validate_name(val, "lib-ver")?;
        *ctx.client.shared.lib_ver.lock() = String::from_utf8_lossy(val).into_owned();
    } else {
        return Err(format!("ERR Unrecognized option '{}'", ctx.arg_str(2)).into());
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]
pub fn client_tracking(ctx: &mut Ctx) -> CmdResult {
    use crate::tracking::{BCAST, NOLOOP, ON, OPTIN, OPTOUT};
    let mut redirect = 0u64;
    let mut options = 0u32;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < ctx.args.len() {
        let more = j + 1 < ctx.args.len();
        if ctx.is(j, "REDIRECT") && more {
            j += 1;
            if redirect != 0 {
                return Err("ERR A client can only redirect to a single other client".into());
            }
            let id = ctx.int_arg(j)?;
            // The redirect client must exist now, though it may go away later.
            if id <= 0 || !ctx.srv.clients.lock().contains_key(&(id as u64)) {
                return Err("ERR The client ID you want redirect to does not exist".into());
            }
            redirect = id as u64;
        } else if ctx.is(j, "BCAST") {
            options |= BCAST;
        } else if ctx.is(j, "OPTIN") {
            options |= OPTIN;
        } else if ctx.is(j, "OPTOUT") {
            options |= OPTOUT;
        } else if ctx.is(j, "NOLOOP") {
            options |= NOLOOP;
        } else if ctx.is(j, "PREFIX") && more {
            j += 1;
            prefixes.push(ctx.args[j]);
        } else {
            return Err(err::SYNTAX.into());
        }
        j += 1;
    }
    let shared = ctx.client.shared.clone();
    if ctx.is(2, "ON") {
        let cur = shared.tracking.load(Ordering::Relaxed);
        if options & BCAST == 0 && !prefixes.is_empty() {
            return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        if cur & ON != 0 && (cur & BCAST != 0) != (options & BCAST != 0) {
            return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if options & BCAST != 0 && options & (OPTIN | OPTOUT) != 0 {
            return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if options & OPTIN != 0 && options & OPTOUT != 0 {
            return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if (options & OPTIN != 0 && cur & OPTOUT != 0) || (options & OPTOUT != 0 && cur & OPTIN != 0) {
            return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if options & BCAST != 0 {
            if let Err((e, go_on)) = crate::tracking::check_prefixes(&shared, &prefixes) {
                if !go_on {
                    return Err(e.into());
                }
                // Redis 7.2 replies with this error and still goes on (then OK too).
                ctx.srv.stats.error(&e);
                ctx.out.error(&e);
            }
        }
        crate::tracking::enable(ctx.srv, &shared, redirect, options, &prefixes);
    } else if ctx.is(2, "OFF") {
        crate::tracking::disable(ctx.srv, &shared);
    } else {
        return Err(err::SYNTAX.into());
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: overrides OPTIN/OPTOUT for the next command.
pub fn client_caching(ctx: &mut Ctx) -> CmdResult {
    use crate::tracking::{CACHING, ON, OPTIN, OPTOUT};
    let f = &ctx.client.shared.tracking;
    let cur = f.load(Ordering::Relaxed);
    if cur & ON == 0 {
        return Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into());
    }
    if ctx.is(2, "YES") {
        if cur & OPTIN == 0 {
            return Err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.".into());
        }
    } else if ctx.is(2, "NO") {
        if cur & OPTOUT == 0 {
            return Err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into());
        }
    } else {
        return Err(err::SYNTAX.into());
    }
    f.fetch_or(CACHING, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

pub fn client_getredir(ctx: &mut Ctx) -> CmdResult {
    let s = &ctx.client.shared;
    let on = s.tracking.load(Ordering::Relaxed) & crate::tracking::ON != 0;
    ctx.out.int(if on { s.redirect.load(Ordering::Relaxed) as i64 } else { -1 });
    Ok(())
}

pub fn client_trackinginfo(ctx: &mut Ctx) -> CmdResult {
    use crate::tracking::{BCAST, BROKEN_REDIR, CACHING, NOLOOP, ON, OPTIN, OPTOUT};
    let s = ctx.client.shared.clone();
    let f = s.tracking.load(Ordering::Relaxed);
    let mut flags: Vec<&[u8]> = vec![if f & ON != 0 { b"on" } else { b"off" }];
    if f & BCAST != 0 {
        flags.push(b"bcast");
    }
    if f & OPTIN != 0 {
        flags.push(b"optin");
        if f & CACHING != 0 {
            flags.push(b"caching-yes");
        }
    }
    if f & OPTOUT != 0 {
        flags.push(b"optout");
        if f & CACHING != 0 {
            flags.push(b"caching-no");
        }
    }
    if f & NOLOOP != 0 {
        flags.push(b"noloop");
    }
    if f & BROKEN_REDIR != 0 {
        flags.push(b"broken_redirect");
    }
    let o = &mut *ctx.out;
    o.map(3);
    o.bulk(b"flags");
    o.set(flags.len());
    for fl in flags {
        o.bulk(fl);
    }
    o.bulk(b"redirect");
    o.int(if f & ON != 0 { s.redirect.load(Ordering::Relaxed) as i64 } else { -1 });
    o.bulk(b"prefixes");
    let prefixes = s.prefixes.lock();
    o.array(prefixes.len());
    for p in prefixes.iter() {
        o.bulk(p);
    }
    Ok(())
}

pub fn client_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    );
    Ok(())
}
