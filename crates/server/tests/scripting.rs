//! Lua scripting (EVAL, EVALSHA, SCRIPT) and Functions (FUNCTION, FCALL) against the
//! real server: reply conversions both ways, call/pcall errors, the sandbox, the
//! bundled libraries, the script cache, read-only scripts and shebangs, atomicity
//! (declared and undeclared keys), the write stream, commands refused in scripts,
//! busy scripts and SCRIPT KILL, function libraries with their persistence, redis-py
//! and FUNCTION DUMP/RESTORE with a real redis-server. Replies are Redis 7.2's, byte
//! for byte (checked by hand against Debian's 7.0 where the two agree).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, Raw, Server};

fn sha1(body: &str) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// EVAL `script` with `keys` and `args`; the raw reply.
fn eval(c: &mut Raw, script: &str, keys: &[&str], args: &[&str]) -> String {
    run(c, "EVAL", script, keys, args)
}

fn run(c: &mut Raw, cmd: &str, first: &str, keys: &[&str], args: &[&str]) -> String {
    let n = keys.len().to_string();
    let mut v: Vec<&[u8]> = vec![cmd.as_bytes(), first.as_bytes(), n.as_bytes()];
    v.extend(keys.iter().map(|k| k.as_bytes()));
    v.extend(args.iter().map(|a| a.as_bytes()));
    c.cmd_args(&v)
}

fn call(c: &mut Raw, args: &[&str]) -> String {
    let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.cmd_args(&v)
}

/// The error a script raised, as Redis words it: the message, then where.
fn script_err(msg: &str, script: &str, line: usize) -> String {
    format!("-{msg} script: {}, on @user_script:{line}.\r\n", sha1(script))
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// The whole write stream so far (it is far below the 1 MB asked for).
fn stream(c: &mut Raw) -> String {
    let r = c.cmd("DEBUG REPL-STREAM 1000000");
    let (_, body) = r.split_once("\r\n").unwrap();
    body[..body.len() - 2].to_string()
}

/// What `f` added to the write stream, with line ends shown as spaces.
fn appended(c: &mut Raw, f: impl FnOnce(&mut Raw)) -> String {
    let before = stream(c);
    f(c);
    let after = stream(c);
    let added = after.strip_prefix(&before).unwrap_or_else(|| panic!("the stream was rewritten: {before:?} -> {after:?}"));
    added.replace("\r\n", " ")
}

fn resp3(s: &Server) -> Raw {
    let mut c = s.raw();
    assert!(c.cmd("HELLO 3").starts_with("%7\r\n"));
    c
}

const BUSY_EVAL: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_FUNCTION: &str = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";

#[test]
fn eval_reply_conversion_resp2() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(eval(&mut c, "return 1", &[], &[]), ":1\r\n");
    // Lua numbers become integers, truncated toward zero.
    assert_eq!(eval(&mut c, "return 3.99", &[], &[]), ":3\r\n");
    assert_eq!(eval(&mut c, "return -3.99", &[], &[]), ":-3\r\n");
    assert_eq!(eval(&mut c, "return 'hello'", &[], &[]), "$5\r\nhello\r\n");
    // An array stops at its first nil.
    assert_eq!(eval(&mut c, "return {1,2,3,'x',nil,4}", &[], &[]), "*4\r\n:1\r\n:2\r\n:3\r\n$1\r\nx\r\n");
    assert_eq!(eval(&mut c, "return {1,{2,{3,'a'}},'b'}", &[], &[]), "*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(eval(&mut c, "return {[1]='x', y='z'}", &[], &[]), "*1\r\n$1\r\nx\r\n");
    assert_eq!(eval(&mut c, "return {ok='FINE'}", &[], &[]), "+FINE\r\n");
    assert_eq!(eval(&mut c, "return {err='MYERR bad thing'}", &[], &[]), "-MYERR bad thing\r\n");
    assert_eq!(eval(&mut c, "return {err='bad thing'}", &[], &[]), "-bad thing\r\n");
    assert_eq!(eval(&mut c, "return {ok='a', err='b'}", &[], &[]), "-b\r\n");
    assert_eq!(eval(&mut c, "return {1,2,{err='inner'}}", &[], &[]), "*3\r\n:1\r\n:2\r\n-inner\r\n");
    assert_eq!(eval(&mut c, "return true", &[], &[]), ":1\r\n");
    assert_eq!(eval(&mut c, "return false", &[], &[]), "$-1\r\n");
    assert_eq!(eval(&mut c, "return nil", &[], &[]), "$-1\r\n");
    assert_eq!(eval(&mut c, "return {true,false,1}", &[], &[]), "*3\r\n:1\r\n$-1\r\n:1\r\n");
    assert_eq!(
        eval(&mut c, "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2],#KEYS,#ARGV}", &["k1", "k2"], &["a1", "a2"]),
        "*6\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n$2\r\na2\r\n:2\r\n:2\r\n"
    );
    assert_eq!(eval(&mut c, "return #KEYS", &[], &["extra"]), ":0\r\n");

    // Command replies seen from Lua.
    assert_eq!(eval(&mut c, "return type(redis.call('get', 'nokey'))", &[], &[]), "$7\r\nboolean\r\n");
    assert_eq!(eval(&mut c, "return redis.call('ping')['ok']", &[], &[]), "$4\r\nPONG\r\n");
    assert_eq!(eval(&mut c, "return redis.call('ping')", &[], &[]), "+PONG\r\n");
    assert_eq!(eval(&mut c, "return redis.call('hgetall', 'nothash')", &[], &[]), "*0\r\n");

    // Numbers as command arguments: integers plainly, others in their shortest form.
    assert_eq!(eval(&mut c, "return redis.call('incrby', KEYS[1], 5)", &["cnt"], &[]), ":5\r\n");
    assert_eq!(eval(&mut c, "return redis.call('incrby', KEYS[1], 5)", &["cnt"], &[]), ":10\r\n");
    assert_eq!(eval(&mut c, "return redis.call('incrbyfloat', KEYS[1], 1.5)", &["fl"], &[]), "$3\r\n1.5\r\n");
    assert_eq!(eval(&mut c, "return redis.call('set', KEYS[1], 3.25)", &["num"], &[]), "+OK\r\n");
    assert_eq!(c.cmd("GET num"), "$4\r\n3.25\r\n");
    assert_eq!(eval(&mut c, "return redis.call('set', KEYS[1], 100000000000000)", &["big"], &[]), "+OK\r\n");
    assert_eq!(c.cmd("GET big"), "$15\r\n100000000000000\r\n");
    assert_eq!(eval(&mut c, "return redis.call('set', KEYS[1], 0.1)", &["tenth"], &[]), "+OK\r\n");
    assert_eq!(c.cmd("GET tenth"), "$3\r\n0.1\r\n", "7.2 formats with fpconv_dtoa (7.0 gave 0.10000000000000001)");
    assert_eq!(eval(&mut c, "return redis.REDIS_VERSION", &[], &[]), "$5\r\n7.2.6\r\n");
    assert_eq!(eval(&mut c, "return redis.REDIS_VERSION_NUM", &[], &[]), ":459270\r\n");
}

#[test]
fn eval_reply_conversion_resp3() {
    let s = Server::start();
    let mut c = resp3(&s);
    assert_eq!(eval(&mut c, "redis.setresp(3); return {map={a=1}}", &[], &[]), "%1\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return {set={x=true}}", &[], &[]), "~1\r\n$1\r\nx\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return {double=3.5}", &[], &[]), ",3.5\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return true", &[], &[]), "#t\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return false", &[], &[]), "#f\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return nil", &[], &[]), "_\r\n");
    assert_eq!(
        eval(&mut c, "redis.setresp(3); return {1, {map={k={set={a=true}}}}}", &[], &[]),
        "*2\r\n:1\r\n%1\r\n$1\r\nk\r\n~1\r\n$1\r\na\r\n"
    );
    // Without setresp(3) the script still speaks RESP2 to Lua; the reply follows the client.
    assert_eq!(eval(&mut c, "return {map={a=1}}", &[], &[]), "%1\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval(&mut c, "return {double=3.5}", &[], &[]), ",3.5\r\n");
    assert_eq!(eval(&mut c, "return true", &[], &[]), ":1\r\n");
    assert_eq!(eval(&mut c, "return false", &[], &[]), "_\r\n");

    // RESP3 command replies as Lua sees them.
    assert_eq!(c.cmd("HSET h f v"), ":1\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return redis.call('hgetall', 'h')", &[], &[]), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return type(redis.call('hgetall', 'h')['map'])", &[], &[]), "$5\r\ntable\r\n");
    assert_eq!(eval(&mut c, "return redis.call('hgetall', 'h')", &[], &[]), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return type(redis.call('get', 'nokey'))", &[], &[]), "$3\r\nnil\r\n");
    assert_eq!(c.cmd("ZADD z 1.5 m"), ":1\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return redis.call('zscore', 'z', 'm')", &[], &[]), ",1.5\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3); return redis.call('zscore', 'z', 'm')['double']", &[], &[]), ":1\r\n");
    let bad = "redis.setresp(4)";
    assert_eq!(eval(&mut c, bad, &[], &[]), script_err("ERR RESP version must be 2 or 3.", bad, 1));

    // A RESP2 client gets RESP3 values downgraded.
    let mut c2 = s.raw();
    assert_eq!(eval(&mut c2, "redis.setresp(3); return {map={a=1}}", &[], &[]), "*2\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval(&mut c2, "redis.setresp(3); return {set={x=true}}", &[], &[]), "*1\r\n$1\r\nx\r\n");
    assert_eq!(eval(&mut c2, "redis.setresp(3); return {double=3.5}", &[], &[]), "$3\r\n3.5\r\n");
    assert_eq!(eval(&mut c2, "redis.setresp(3); return true", &[], &[]), ":1\r\n");
    assert_eq!(eval(&mut c2, "redis.setresp(3); return false", &[], &[]), ":0\r\n");
    assert_eq!(eval(&mut c2, "redis.setresp(3); return nil", &[], &[]), "$-1\r\n");
}

#[test]
fn call_and_pcall_errors() {
    let s = Server::start();
    let mut c = s.raw();
    let cases: &[(&str, &str, &str)] = &[
        ("redis.call('nosuchcmd')", "redis.pcall('nosuchcmd')", "ERR Unknown Redis command called from script"),
        ("redis.call('get')", "redis.pcall('get')", "ERR Wrong number of args calling Redis command from script"),
        ("redis.call('get', 'a', 'b')", "redis.pcall('get', 'a', 'b')", "ERR Wrong number of args calling Redis command from script"),
        ("redis.call()", "redis.pcall()", "ERR Please specify at least one argument for this redis lib call"),
        ("redis.call('get', {})", "redis.pcall('get', {})", "ERR Lua redis lib command arguments must be strings or integers"),
        ("redis.call('get', true)", "redis.pcall('get', true)", "ERR Lua redis lib command arguments must be strings or integers"),
    ];
    for (raising, catching, msg) in cases {
        let raising = format!("return {raising}");
        let catching = format!("return {catching}");
        assert_eq!(eval(&mut c, &raising, &[], &[]), script_err(msg, &raising, 1), "{raising}");
        assert_eq!(eval(&mut c, &catching, &[], &[]), format!("-{msg}\r\n"), "{catching}");
    }

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(c.cmd("LPUSH list a"), ":1\r\n");
    let raising = "return redis.call('get', KEYS[1])";
    assert_eq!(eval(&mut c, raising, &["list"], &[]), script_err(WRONGTYPE, raising, 1));
    let raising = "\nredis.call('incr', KEYS[1])";
    assert_eq!(eval(&mut c, raising, &["list"], &[]), script_err(WRONGTYPE, raising, 2));
    assert_eq!(eval(&mut c, "return redis.pcall('get', KEYS[1])", &["list"], &[]), format!("-{WRONGTYPE}\r\n"));
    assert_eq!(eval(&mut c, "return {redis.pcall('incr', KEYS[1])}", &["list"], &[]), format!("*1\r\n-{WRONGTYPE}\r\n"));
    assert_eq!(
        eval(&mut c, "local r = redis.pcall('get', KEYS[1]); return type(r) .. ':' .. r['err']", &["list"], &[]),
        bulk(&format!("table:{WRONGTYPE}"))
    );
    assert_eq!(c.cmd("SET str notanumber"), "+OK\r\n");
    assert_eq!(
        eval(&mut c, "local foo = redis.pcall('incr', KEYS[1]); return {type(foo), foo['err']}", &["str"], &[]),
        "*2\r\n$5\r\ntable\r\n$43\r\nERR value is not an integer or out of range\r\n"
    );
    // Lua's own pcall catches what redis.call raises, and the script goes on.
    let caught = "local ok, e = pcall(redis.call, 'get', KEYS[1]); if type(e) == 'table' then e = e['err'] end; return {tostring(ok), e}";
    assert_eq!(eval(&mut c, caught, &["list"], &[]), format!("*2\r\n$5\r\nfalse\r\n{}", bulk(WRONGTYPE)));
    let caught = "local ok, e = pcall(redis.call, 'nosuch'); if type(e) == 'table' then e = e['err'] end; return {tostring(ok), e}";
    assert_eq!(eval(&mut c, caught, &[], &[]), "*2\r\n$5\r\nfalse\r\n$44\r\nERR Unknown Redis command called from script\r\n");
    let after = "pcall(redis.call, 'nosuch'); return redis.call('set', KEYS[1], 'after')";
    assert_eq!(eval(&mut c, after, &["k"], &[]), "+OK\r\n");
    assert_eq!(c.cmd("GET k"), "$5\r\nafter\r\n");
    let bad_ex = "return redis.call('set', KEYS[1], 'v', 'EX', 'abc')";
    assert_eq!(eval(&mut c, bad_ex, &["x"], &[]), script_err("ERR value is not an integer or out of range", bad_ex, 1));
    let select = "return redis.call('select', 99)";
    assert_eq!(eval(&mut c, select, &[], &[]), script_err("ERR DB index is out of range", select, 1));

    // Errors raised by the script itself.
    assert_eq!(eval(&mut c, "error('x')", &[], &[]), script_err("ERR user_script:1: x", "error('x')", 1));
    assert_eq!(eval(&mut c, "\nerror('boom')", &[], &[]), script_err("ERR user_script:2: boom", "\nerror('boom')", 2));
    assert_eq!(eval(&mut c, "error('x', 0)", &[], &[]), script_err("ERR x", "error('x', 0)", 1));
    let tbl = "error({err='MY custom'})";
    assert_eq!(eval(&mut c, tbl, &[], &[]), script_err("MY custom", tbl, 1));
    let nil_index = "local t = nil; return t.x";
    assert_eq!(eval(&mut c, nil_index, &[], &[]), script_err("ERR user_script:1: attempt to index local 't' (a nil value)", nil_index, 1));
    let caught = "local ok, e = pcall(function() error('x') end); return {tostring(ok), tostring(e)}";
    assert_eq!(eval(&mut c, caught, &[], &[]), "*2\r\n$5\r\nfalse\r\n$16\r\nuser_script:1: x\r\n");
    assert_eq!(
        eval(&mut c, "return 1 +", &[], &[]),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
    );

    // The reply helpers.
    assert_eq!(eval(&mut c, "return redis.error_reply('MY err')", &[], &[]), "-MY err\r\n");
    assert_eq!(eval(&mut c, "return redis.error_reply('plain')", &[], &[]), "-ERR plain\r\n");
    assert_eq!(eval(&mut c, "return redis.error_reply('-ERR dashed')", &[], &[]), "-ERR dashed\r\n");
    assert_eq!(eval(&mut c, "return redis.status_reply('FINE')", &[], &[]), "+FINE\r\n");
    assert_eq!(eval(&mut c, "local e = redis.error_reply('X y'); return type(e) .. ' ' .. e['err']", &[], &[]), "$9\r\ntable X y\r\n");
    let set_repl = "redis.set_repl(9)";
    assert_eq!(
        eval(&mut c, set_repl, &[], &[]),
        script_err("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.", set_repl, 1)
    );
    assert_eq!(
        eval(
            &mut c,
            "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL, redis.LOG_WARNING}",
            &[],
            &[]
        ),
        "*6\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n:3\r\n"
    );
}

#[test]
fn sandbox_protects_globals_and_libraries() {
    let s = Server::start();
    let mut c = s.raw();
    let missing = |name: &str| format!("ERR user_script:1: Script attempted to access nonexistent global variable '{name}'");
    for (script, name) in [
        ("return a", "a"),
        ("print('x')", "print"),
        ("return loadfile", "loadfile"),
        ("return dofile", "dofile"),
        ("return type(os)", "os"),
        ("return type(io)", "io"),
        ("return type(require)", "require"),
    ] {
        assert_eq!(eval(&mut c, script, &[], &[]), script_err(&missing(name), script, 1), "{script}");
    }
    const RO: &str = "ERR user_script:1: Attempt to modify a readonly table";
    for script in [
        "a = 10",
        "_G.x = 1",
        "redis.call = function() return 1 end",
        "redis.newfield = 1",
        "cjson.encode = function() return 1 end",
        "cmsgpack.pack = nil",
        "bit.band = 1",
        "struct.pack = nil",
        "local t = getmetatable(_G); t.__index = nil",
    ] {
        assert_eq!(eval(&mut c, script, &[], &[]), script_err(RO, script, 1), "{script}");
    }
    // What stays available.
    assert_eq!(eval(&mut c, "return type(math.random)", &[], &[]), "$8\r\nfunction\r\n");
    assert_eq!(eval(&mut c, "return loadstring('return 1')()", &[], &[]), ":1\r\n");
    assert_eq!(eval(&mut c, "return _VERSION", &[], &[]), "$7\r\nLua 5.1\r\n");
    assert_eq!(eval(&mut c, "return string.format('%5.2f', 3.14159)", &[], &[]), "$5\r\n 3.14\r\n");
    assert_eq!(eval(&mut c, "local x = 5; return x", &[], &[]), ":5\r\n");
    // A failed global write leaves nothing behind for the next script.
    assert!(eval(&mut c, "leak = 1", &[], &[]).starts_with("-ERR"));
    assert_eq!(eval(&mut c, "return leak", &[], &[]), script_err(&missing("leak"), "return leak", 1));
}

/// `setmetatable` and `rawset` on the globals fail inside the C function, so Redis's
/// message carries no `user_script:N:` position of its own.
#[test]
fn sandbox_refuses_setmetatable_and_rawset_on_globals() {
    let s = Server::start();
    let mut c = s.raw();
    for script in ["setmetatable(_G, {})", "rawset(_G, 'x', 1)"] {
        assert_eq!(eval(&mut c, script, &[], &[]), script_err("ERR Attempt to modify a readonly table", script, 1), "{script}");
    }
    assert!(eval(&mut c, "return x", &[], &[]).contains("nonexistent global variable 'x'"));
}

#[test]
fn bundled_libraries() {
    let s = Server::start();
    let mut c = s.raw();
    let hex = |expr: &str| {
        format!("local s = {expr}; local h = ''; for i = 1, #s do h = h .. string.format('%02x', string.byte(s, i)) end; return h")
    };
    // cjson
    assert_eq!(eval(&mut c, "return cjson.encode({1,2,'a',{b=true}})", &[], &[]), bulk(r#"[1,2,"a",{"b":true}]"#));
    assert_eq!(eval(&mut c, "return cjson.encode({a={1,2},b='x'})", &[], &[]), bulk(r#"{"a":[1,2],"b":"x"}"#));
    assert_eq!(
        eval(&mut c, r#"return cjson.encode(cjson.decode('{"k":[1,2.5,"s",false]}'))"#, &[], &[]),
        bulk(r#"{"k":[1,2.5,"s",false]}"#)
    );
    assert_eq!(eval(&mut c, r#"return cjson.encode(cjson.decode('[1,"x",null,true]'))"#, &[], &[]), bulk(r#"[1,"x",null,true]"#));
    assert_eq!(eval(&mut c, "return cjson.encode({})", &[], &[]), bulk("{}"));
    assert_eq!(eval(&mut c, "return cjson.encode('a\"b')", &[], &[]), bulk(r#""a\"b""#));
    assert_eq!(
        eval(&mut c, r#"local t = cjson.decode('{"a":[1,2,{"b":"c"}],"n":3.5}'); return {t.a[1], t.a[3].b, tostring(t.n)}"#, &[], &[]),
        "*3\r\n:1\r\n$1\r\nc\r\n$3\r\n3.5\r\n"
    );
    assert_eq!(
        eval(&mut c, "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')", &[], &[]),
        bulk("0 -5000 -1 0.0003 1023.2 0")
    );
    assert_eq!(eval(&mut c, "return tostring(cjson.decode('null') == cjson.null)", &[], &[]), bulk("true"));
    // cmsgpack
    assert_eq!(eval(&mut c, &hex("cmsgpack.pack({1,2,3})"), &[], &[]), bulk("93010203"));
    assert_eq!(eval(&mut c, &hex("cmsgpack.pack(0.1)"), &[], &[]), bulk("cb3fb999999999999a"));
    assert_eq!(eval(&mut c, &hex("cmsgpack.pack(-1099511627776)"), &[], &[]), bulk("d3ffffff0000000000"));
    assert_eq!(
        eval(&mut c, "local s = cmsgpack.pack({1,2,3,'abc'}); local t = cmsgpack.unpack(s); return {#s, t[1], t[4]}", &[], &[]),
        "*3\r\n:8\r\n:1\r\n$3\r\nabc\r\n"
    );
    assert_eq!(
        eval(&mut c, "local t = cmsgpack.unpack(cmsgpack.pack({a=1,b={1,2,'x'},c=true})); return {t.a, t.b[3], tostring(t.c)}", &[], &[]),
        "*3\r\n:1\r\n$1\r\nx\r\n$4\r\ntrue\r\n"
    );
    assert_eq!(
        eval(&mut c, "local a, b, t = cmsgpack.unpack(cmsgpack.pack(1, 'a', {x=1})); return {a, b, t.x}", &[], &[]),
        "*3\r\n:1\r\n$1\r\na\r\n:1\r\n"
    );
    // bit
    assert_eq!(eval(&mut c, "return bit.tohex(bit.band(0xff, 0x0f))", &[], &[]), bulk("0000000f"));
    assert_eq!(eval(&mut c, "return bit.tohex(-1, 4)", &[], &[]), bulk("ffff"));
    assert_eq!(
        eval(
            &mut c,
            "return {bit.bor(1,2,4), bit.bxor(5,3), bit.lshift(1,10), bit.rshift(-1, 28), bit.bnot(0), bit.arshift(-256, 4)}",
            &[],
            &[]
        ),
        "*6\r\n:7\r\n:6\r\n:1024\r\n:15\r\n:-1\r\n:-16\r\n"
    );
    // struct
    assert_eq!(eval(&mut c, "return struct.pack('>HI', 258, 16909060)", &[], &[]), "$6\r\n\x01\x02\x01\x02\x03\x04\r\n");
    assert_eq!(
        eval(&mut c, "local a, b, n = struct.unpack('>HI', struct.pack('>HI', 258, 16909060)); return {a, b, n}", &[], &[]),
        "*3\r\n:258\r\n:16909060\r\n:7\r\n"
    );
    assert_eq!(eval(&mut c, "return struct.unpack('<i', struct.pack('<i', -2))", &[], &[]), ":-2\r\n");
    assert_eq!(eval(&mut c, "return struct.size('>iH')", &[], &[]), ":6\r\n");
    // sha1hex
    assert_eq!(eval(&mut c, "return redis.sha1hex('')", &[], &[]), bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    assert_eq!(eval(&mut c, "return redis.sha1hex('Pizza & Mandolino')", &[], &[]), bulk("74822d82031af7493c20eefa13bd07ec4fada82f"));
}

/// cjson raises with `luaL_error`, which names the calling line of the script.
#[test]
fn cjson_decode_error_names_the_script_line() {
    let s = Server::start();
    let mut c = s.raw();
    let script = "return cjson.decode('{bad')";
    assert_eq!(
        eval(&mut c, script, &[], &[]),
        script_err("ERR user_script:1: Expected object key string but found invalid token at character 2", script, 1)
    );
}

#[test]
fn script_cache_and_evalsha() {
    let s = Server::start();
    let mut c = s.raw();
    let body = "return 'loaded'";
    let sha = sha1(body);
    assert_eq!(sha, "b534286061d4b9e4026607613b95c06c06015ae8");
    assert_eq!(call(&mut c, &["SCRIPT", "LOAD", body]), bulk(&sha));
    assert_eq!(call(&mut c, &["EVALSHA", &sha, "0"]), bulk("loaded"));
    assert_eq!(call(&mut c, &["EVALSHA", &sha.to_uppercase(), "0"]), bulk("loaded"));
    assert_eq!(call(&mut c, &["EVALSHA_RO", &sha, "0"]), bulk("loaded"));
    assert_eq!(
        call(&mut c, &["SCRIPT", "EXISTS", &sha, &sha.to_uppercase(), "ffd632c7d33e571e9f24556ebed26c3479a87130"]),
        "*3\r\n:1\r\n:1\r\n:0\r\n"
    );
    const NOSCRIPT: &str = "-NOSCRIPT No matching script. Please use EVAL.\r\n";
    assert_eq!(call(&mut c, &["EVALSHA", "ffd632c7d33e571e9f24556ebed26c3479a87130", "0"]), NOSCRIPT);
    assert_eq!(call(&mut c, &["EVALSHA", "notasha", "0"]), NOSCRIPT);
    assert_eq!(call(&mut c, &["EVALSHA_RO", "ffd632c7d33e571e9f24556ebed26c3479a87130", "0"]), NOSCRIPT);

    // EVAL caches what it ran.
    let other = "return 1+1";
    assert_eq!(eval(&mut c, other, &[], &[]), ":2\r\n");
    assert_eq!(call(&mut c, &["SCRIPT", "EXISTS", &sha1(other)]), "*1\r\n:1\r\n");
    assert_eq!(call(&mut c, &["EVALSHA", &sha1(other), "0"]), ":2\r\n");

    assert_eq!(c.cmd("SCRIPT FLUSH"), "+OK\r\n");
    assert_eq!(call(&mut c, &["EVALSHA", &sha, "0"]), NOSCRIPT);
    assert_eq!(call(&mut c, &["SCRIPT", "EXISTS", &sha, &sha1(other)]), "*2\r\n:0\r\n:0\r\n");
    assert_eq!(call(&mut c, &["SCRIPT", "LOAD", body]), bulk(&sha));
    assert_eq!(c.cmd("SCRIPT FLUSH ASYNC"), "+OK\r\n");
    assert_eq!(call(&mut c, &["SCRIPT", "EXISTS", &sha]), "*1\r\n:0\r\n");
    assert_eq!(c.cmd("SCRIPT FLUSH SYNC"), "+OK\r\n");
    assert_eq!(c.cmd("SCRIPT FLUSH BAD"), "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");

    // A script that does not compile is not cached.
    let broken = "return 1 +";
    assert_eq!(
        call(&mut c, &["SCRIPT", "LOAD", broken]),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
    );
    assert_eq!(call(&mut c, &["SCRIPT", "EXISTS", &sha1(broken)]), "*1\r\n:0\r\n");
    assert!(eval(&mut c, broken, &[], &[]).starts_with("-ERR Error compiling script"));
    assert_eq!(call(&mut c, &["SCRIPT", "EXISTS", &sha1(broken)]), "*1\r\n:0\r\n");

    assert_eq!(c.cmd("SCRIPT EXISTS"), "-ERR wrong number of arguments for 'script|exists' command\r\n");
    assert_eq!(c.cmd("SCRIPT LOAD"), "-ERR wrong number of arguments for 'script|load' command\r\n");
    assert_eq!(call(&mut c, &["EVAL", "return 1"]), "-ERR wrong number of arguments for 'eval' command\r\n");
    assert_eq!(call(&mut c, &["EVALSHA", &sha]), "-ERR wrong number of arguments for 'evalsha' command\r\n");
    assert_eq!(c.cmd("SCRIPT BADSUB"), "-ERR unknown subcommand 'BADSUB'. Try SCRIPT HELP.\r\n");
}

#[test]
fn numkeys_read_only_scripts_and_shebangs() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(call(&mut c, &["EVAL", "return 1", "1"]), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(call(&mut c, &["EVAL", "return 1", "2", "a"]), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(call(&mut c, &["EVAL", "return 1", "-1"]), "-ERR Number of keys can't be negative\r\n");
    assert_eq!(call(&mut c, &["EVAL", "return 1", "abc"]), "-ERR value is not an integer or out of range\r\n");

    assert_eq!(c.cmd("SET foo bar"), "+OK\r\n");
    const RO_WRITE: &str = "ERR Write commands are not allowed from read-only scripts.";
    assert_eq!(run(&mut c, "EVAL_RO", "return redis.call('get', KEYS[1])", &["foo"], &[]), bulk("bar"));
    let del = "return redis.call('del', KEYS[1])";
    assert_eq!(run(&mut c, "EVAL_RO", del, &["foo"], &[]), script_err(RO_WRITE, del, 1));
    assert_eq!(run(&mut c, "EVAL_RO", "return redis.pcall('del', KEYS[1])", &["foo"], &[]), format!("-{RO_WRITE}\r\n"));
    let set = "return redis.call('set', KEYS[1], 'x')";
    let set_sha = sha1(set);
    assert_eq!(call(&mut c, &["SCRIPT", "LOAD", set]), bulk(&set_sha));
    assert_eq!(run(&mut c, "EVALSHA_RO", &set_sha, &["foo"], &[]), script_err(RO_WRITE, set, 1));
    assert_eq!(c.cmd("GET foo"), "$3\r\nbar\r\n", "read-only scripts wrote nothing");
    assert_eq!(run(&mut c, "EVALSHA", &set_sha, &["foo"], &[]), "+OK\r\n");
    assert_eq!(c.cmd("GET foo"), "$1\r\nx\r\n");

    // Shebang flags.
    let nw_set = "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'y')";
    assert_eq!(eval(&mut c, nw_set, &["foo"], &[]), script_err(RO_WRITE, nw_set, 2));
    let nw_get = "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])";
    assert_eq!(eval(&mut c, nw_get, &["foo"], &[]), bulk("x"));
    assert_eq!(run(&mut c, "EVAL_RO", nw_get, &["foo"], &[]), bulk("x"));
    let plain = "#!lua\nreturn redis.call('get', KEYS[1])";
    assert_eq!(eval(&mut c, plain, &["foo"], &[]), bulk("x"));
    assert_eq!(run(&mut c, "EVAL_RO", plain, &["foo"], &[]), "-ERR Can not execute a script with write flag using *_ro command.\r\n");
    assert_eq!(eval(&mut c, "#!lua flags=no-writes,allow-oom\nreturn 1", &[], &[]), ":1\r\n");
    let line2 = "#!lua flags=no-writes\nerror('x')";
    assert_eq!(eval(&mut c, line2, &[], &[]), script_err("ERR user_script:2: x", line2, 2));
    for (body, err) in [
        ("#!lua flags=bogus\nreturn 1", "-ERR Unexpected flag in script shebang: bogus\r\n"),
        ("#!python\nreturn 1", "-ERR Unexpected engine in script shebang: #!python\r\n"),
        ("#!lua bogus=1\nreturn 1", "-ERR Unknown lua shebang option: bogus=1\r\n"),
        ("#!lua name=x\nreturn 1", "-ERR Unknown lua shebang option: name=x\r\n"),
        ("#!lua", "-ERR Invalid script shebang\r\n"),
        ("#!\nreturn 1", "-ERR Unexpected engine in script shebang: #!\r\n"),
    ] {
        assert_eq!(eval(&mut c, body, &[], &[]), err, "{body:?}");
        assert_eq!(call(&mut c, &["SCRIPT", "LOAD", body]), err, "SCRIPT LOAD {body:?}");
    }
}

/// MGET's values as integers (nil as 0).
fn mget_ints(reply: &str) -> Vec<i64> {
    let lines: Vec<&str> = reply.split("\r\n").collect();
    let n: usize = lines[0][1..].parse().unwrap();
    let mut out = Vec::with_capacity(n);
    let mut i = 1;
    while out.len() < n {
        if lines[i] == "$-1" {
            out.push(0);
            i += 1;
        } else {
            out.push(lines[i + 1].parse().unwrap());
            i += 2;
        }
    }
    out
}

#[test]
fn scripts_are_atomic_for_declared_keys() {
    let s = Server::start();
    let port = s.port;
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, checks) = (stop.clone(), checks.clone());
            std::thread::spawn(move || {
                let mut r = Raw::connect(port);
                while !stop.load(Ordering::Relaxed) {
                    let v = mget_ints(&r.cmd("MGET acct:1 acct:2 acct:3 acct:4"));
                    assert!(v.iter().all(|x| *x == v[0]), "a reader saw a script half done: {v:?}");
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut c = s.raw();
    let script = "for i = 1, #KEYS do redis.call('incr', KEYS[i]) end; return redis.call('get', KEYS[1])";
    let keys = ["acct:1", "acct:2", "acct:3", "acct:4"];
    let n = 1500;
    for i in 1..=n {
        assert_eq!(eval(&mut c, script, &keys, &[]), bulk(&i.to_string()));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(checks.load(Ordering::Relaxed) > 50, "the readers hardly ran: {}", checks.load(Ordering::Relaxed));
    assert_eq!(c.cmd("MGET acct:1 acct:2 acct:3 acct:4"), format!("*4\r\n{0}{0}{0}{0}", bulk(&n.to_string())));
}

#[test]
fn undeclared_keys_work_and_stay_atomic() {
    let s = Server::start();
    let mut c = s.raw();
    let side = "redis.call('set', 'other', ARGV[1]); return redis.call('get', 'other')";
    assert_eq!(eval(&mut c, side, &[], &["v1"]), bulk("v1"));
    assert_eq!(c.cmd("GET other"), bulk("v1"));
    let mixed = "redis.call('set', KEYS[1], ARGV[1]); redis.call('set', 'side', ARGV[1]); return redis.call('mget', KEYS[1], 'side')";
    assert_eq!(eval(&mut c, mixed, &["declared"], &["v2"]), format!("*2\r\n{0}{0}", bulk("v2")));
    assert_eq!(c.cmd("GET side"), bulk("v2"));
    // A second run of the same script (now known to reach outside KEYS) still works.
    assert_eq!(eval(&mut c, side, &[], &["v3"]), bulk("v3"));

    // Another client hammers the undeclared key: it never lands inside a script run.
    let port = s.port;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut w = Raw::connect(port);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(w.cmd("SET other intruder"), "+OK\r\n");
                assert_eq!(w.cmd("INCR counter"), format!(":{}\r\n", n + 1));
                n += 1;
            }
            n
        })
    };
    let looped = "for i = 1, 50 do redis.call('set', 'other', i); redis.call('incr', 'counter'); redis.call('decr', 'counter'); \
                  if redis.call('get', 'other') ~= tostring(i) then return 'interleaved at ' .. i end end; return 'fine'";
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..300 {
        assert_eq!(eval(&mut c, looped, &[], &[]), bulk("fine"));
        if Instant::now() > deadline {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 0);
    assert_eq!(c.cmd("GET counter"), bulk(&writes.to_string()));
}

#[test]
fn script_effects_in_the_write_stream() {
    let s = Server::start();
    let mut c = s.raw();
    assert!(c.cmd("DEBUG REPL-STREAM 1000000").starts_with('$'));
    let before_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let two = "redis.call('set', KEYS[1], 'v', 'EX', 100); redis.call('incr', KEYS[2]); return 1";
    let added = appended(&mut c, |c| assert_eq!(eval(c, two, &["k", "n"], &[]), ":1\r\n"));
    let parts: Vec<&str> = added.split(' ').collect();
    assert!(parts.contains(&"MULTI"), "no MULTI: {added}");
    let set = added.find("*5 $3 SET $1 k $1 v $4 PXAT $13 ").unwrap_or_else(|| panic!("SET ... EX is not a SET ... PXAT: {added}"));
    let pxat: u64 = added[set + "*5 $3 SET $1 k $1 v $4 PXAT $13 ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!((before_ms + 99_000..before_ms + 102_000).contains(&pxat), "PXAT {pxat} is not about 100 s from {before_ms}");
    let incr = added.find("*2 $4 incr $1 n ").unwrap_or_else(|| panic!("no INCR: {added}"));
    let exec = added.rfind("*1 $4 EXEC ").unwrap_or_else(|| panic!("no EXEC: {added}"));
    assert!(added.find("MULTI").unwrap() < set && set < incr && incr < exec, "{added}");
    assert!(added.trim_end().ends_with("*1 $4 EXEC"), "{added}");
    assert!(!added.contains("EVAL") && !added.contains("EX $3 100"), "effects, not the script: {added}");
    assert_eq!(added.matches("MULTI").count(), 1, "{added}");

    // A read-only script, or a script whose writes change nothing, adds nothing.
    let added = appended(&mut c, |c| assert_eq!(eval(c, "return redis.call('get', KEYS[1])", &["k"], &[]), bulk("v")));
    assert_eq!(added, "");
    let added = appended(&mut c, |c| assert_eq!(eval(c, "return redis.call('del', KEYS[1])", &["missing"], &[]), ":0\r\n"));
    assert_eq!(added, "");

    // A single effect needs no MULTI.
    let added = appended(&mut c, |c| assert_eq!(eval(c, "return redis.call('set', KEYS[1], 'one')", &["k"], &[]), "+OK\r\n"));
    assert_eq!(added, "*3 $3 set $1 k $3 one ");

    // REPL_NONE keeps writes out of the stream, and only those.
    let hidden = "redis.set_repl(redis.REPL_NONE); redis.call('set', KEYS[1], 'hidden'); return 1";
    let added = appended(&mut c, |c| assert_eq!(eval(c, hidden, &["k"], &[]), ":1\r\n"));
    assert_eq!(added, "");
    assert_eq!(c.cmd("GET k"), bulk("hidden"));
    let partial = "redis.call('set', KEYS[1], 'a'); redis.set_repl(redis.REPL_NONE); redis.call('set', KEYS[1], 'b'); \
                   redis.set_repl(redis.REPL_ALL); redis.call('set', KEYS[1], 'c')";
    let added = appended(&mut c, |c| assert_eq!(eval(c, partial, &["k"], &[]), "$-1\r\n"));
    assert_eq!(added, "*1 $5 MULTI *3 $3 set $1 k $1 a *3 $3 set $1 k $1 c *1 $4 EXEC ");

    // SELECT inside the script is in the stream; the caller's database is not changed.
    assert_eq!(c.cmd("SELECT 2"), "+OK\r\n");
    let sel = "redis.call('set', 'x', '1'); redis.call('select', '3'); redis.call('set', 'y', '2')";
    let added = appended(&mut c, |c| assert_eq!(eval(c, sel, &[], &[]), "$-1\r\n"));
    let x = added.find("*3 $3 set $1 x $1 1").unwrap_or_else(|| panic!("{added}"));
    let sel2 = added.find("*2 $6 SELECT $1 2").unwrap_or_else(|| panic!("{added}"));
    let sel3 = added.find("*2 $6 SELECT $1 3").unwrap_or_else(|| panic!("{added}"));
    let y = added.find("*3 $3 set $1 y $1 2").unwrap_or_else(|| panic!("{added}"));
    assert!(sel2 < x && x < sel3 && sel3 < y, "{added}");
    assert!(added.contains("MULTI") && added.trim_end().ends_with("EXEC"), "{added}");
    let added = appended(&mut c, |c| assert_eq!(c.cmd("SET z 3"), "+OK\r\n"));
    assert_eq!(added, "*2 $6 SELECT $1 2 *3 $3 SET $1 z $1 3 ", "the next write must select the caller's database again");
}

#[test]
fn commands_refused_in_scripts_and_select_isolation() {
    let s = Server::start();
    let mut c = s.raw();
    const NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";
    for cmd in [
        "redis.call('multi')",
        "redis.call('exec')",
        "redis.call('subscribe', 'ch')",
        "redis.call('psubscribe', 'ch*')",
        "redis.call('watch', 'x')",
        "redis.call('eval', 'return 1', '0')",
        "redis.call('script', 'load', 'return 1')",
    ] {
        let script = format!("return {cmd}");
        assert_eq!(eval(&mut c, &script, &[], &[]), script_err(NOT_ALLOWED, &script, 1), "{cmd}");
    }
    assert_eq!(eval(&mut c, "return redis.pcall('multi')", &[], &[]), format!("-{NOT_ALLOWED}\r\n"));
    assert_eq!(eval(&mut c, "return redis.call('publish', 'ch', 'm')", &[], &[]), ":0\r\n");
    // The connection is still usable normally afterwards.
    assert_eq!(c.cmd("MULTI"), "+OK\r\n");
    assert_eq!(c.cmd("PING"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*1\r\n+PONG\r\n");

    // The script runs in the caller's database, and SELECT inside stays inside.
    assert_eq!(c.cmd("SET k db0"), "+OK\r\n");
    assert_eq!(c.cmd("SELECT 9"), "+OK\r\n");
    assert_eq!(c.cmd("SET k db9"), "+OK\r\n");
    assert_eq!(eval(&mut c, "return redis.call('get', KEYS[1])", &["k"], &[]), bulk("db9"));
    let sel = "redis.call('select', '5'); redis.call('set', 'k', 'db5'); return redis.call('get', 'k')";
    assert_eq!(eval(&mut c, sel, &[], &[]), bulk("db5"));
    assert_eq!(c.cmd("GET k"), bulk("db9"));
    assert_eq!(eval(&mut c, "return redis.call('get', 'k')", &[], &[]), bulk("db9"), "the next script starts in the caller's db");
    assert_eq!(c.cmd("SELECT 5"), "+OK\r\n");
    assert_eq!(c.cmd("GET k"), bulk("db5"));
    assert_eq!(c.cmd("SELECT 0"), "+OK\r\n");
    assert_eq!(c.cmd("GET k"), bulk("db0"));
}

/// Redis 7 flags the blocking list and sorted-set commands `noscript`: a script gets an
/// error at once instead of a (non-)blocking pop.
#[test]
fn blocking_commands_do_not_block_in_scripts() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("RPUSH l a"), ":1\r\n");
    let t = Instant::now();
    // Redis 7.2 runs blocking commands in scripts as their non-blocking forms (7.0
    // refused them): an empty source answers nil at once.
    for cmd in [
        "redis.call('blpop', 'emptylist', 0)",
        "redis.call('brpop', 'emptylist', 1)",
        "redis.call('brpoplpush', 'empty1', 'empty2', 0)",
        "redis.call('blmove', 'empty1', 'empty2', 'LEFT', 'LEFT', 0)",
        "redis.call('bzpopmin', 'emptyz', 0)",
    ] {
        let script = format!("return {cmd}");
        assert_eq!(eval(&mut c, &script, &[], &[]), "$-1\r\n", "{cmd}");
    }
    assert!(t.elapsed() < Duration::from_secs(3), "nothing may block");
    // A list with an element is popped as by LPOP.
    assert_eq!(eval(&mut c, "return redis.call('blpop', 'l', 0)", &[], &[]), "*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    assert_eq!(c.cmd("EXISTS l"), ":0\r\n");
}

/// Waits until the other client's script is past busy-reply-threshold.
fn wait_busy(b: &mut Raw, expect: &str) {
    let mut last = String::new();
    let ok = eventually(Duration::from_secs(10), || {
        last = b.cmd("PING");
        last == expect
    });
    assert!(ok, "never busy, last PING reply {last:?}");
}

#[test]
fn busy_script_and_script_kill() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(b.cmd("CONFIG SET busy-reply-threshold 100"), "+OK\r\n");
    let spin = "local i = 0 while true do i = i + 1 end";
    a.send(&[b"EVAL", spin.as_bytes(), b"0"]);
    wait_busy(&mut b, BUSY_EVAL);
    assert_eq!(b.cmd("GET x"), BUSY_EVAL);
    // FUNCTION KILL is for functions; during an EVAL it is refused as busy.
    assert_eq!(b.cmd("FUNCTION KILL"), BUSY_EVAL);
    assert_eq!(b.cmd("SCRIPT KILL"), "+OK\r\n");
    let killed = a.read();
    assert_eq!(killed, script_err("ERR Script killed by user with SCRIPT KILL...", spin, 1));
    assert_eq!(b.cmd("PING"), "+PONG\r\n");
    assert_eq!(a.cmd("PING"), "+PONG\r\n");
    assert_eq!(b.cmd("SCRIPT KILL"), "-NOTBUSY No scripts in execution right now.\r\n");
    assert_eq!(b.cmd("FUNCTION KILL"), "-NOTBUSY No scripts in execution right now.\r\n");

    // The same for a function, with FUNCTION KILL.
    let lib = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)";
    assert_eq!(call(&mut b, &["FUNCTION", "LOAD", lib]), bulk("spin"));
    a.send(&[b"FCALL", b"spin", b"0"]);
    wait_busy(&mut b, BUSY_FUNCTION);
    let stats = b.cmd("FUNCTION STATS");
    assert!(
        stats.starts_with(
            "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"
        ),
        "{stats:?}"
    );
    assert!(
        stats.ends_with("$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"),
        "{stats:?}"
    );
    assert_eq!(b.cmd("SCRIPT KILL"), BUSY_FUNCTION);
    assert_eq!(b.cmd("FUNCTION KILL"), "+OK\r\n");
    assert_eq!(a.read(), "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n");
    assert_eq!(b.cmd("PING"), "+PONG\r\n");
    assert_eq!(
        b.cmd("FUNCTION STATS"),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"
    );
}

/// With one connection worker (the default on a 2-core machine) the busy script holds
/// the only worker: the others' connections must still be served, with -BUSY.
#[test]
fn busy_script_with_one_worker() {
    let s = Server::start_with(&["--server-threads", "1", "--busy-reply-threshold", "100"]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(b.cmd("CONFIG GET server-threads"), "*2\r\n$14\r\nserver-threads\r\n$1\r\n1\r\n");
    a.send(&[b"EVAL", b"while true do end", b"0"]);
    wait_busy(&mut b, BUSY_EVAL);
    let mut c = s.raw();
    assert_eq!(c.cmd("GET x"), BUSY_EVAL);
    assert_eq!(b.cmd("SCRIPT KILL"), "+OK\r\n");
    assert!(a.read().starts_with("-ERR Script killed by user with SCRIPT KILL..."));
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
}

/// Redis's FUNCTION STATS refuses to report while an EVAL (not a function) is busy.
#[test]
fn function_stats_is_busy_during_an_eval() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(b.cmd("CONFIG SET busy-reply-threshold 100"), "+OK\r\n");
    a.send(&[b"EVAL", b"while true do end", b"0"]);
    wait_busy(&mut b, BUSY_EVAL);
    let stats = b.cmd("FUNCTION STATS");
    assert_eq!(b.cmd("SCRIPT KILL"), "+OK\r\n");
    assert!(a.read().contains("Script killed by user with SCRIPT KILL"));
    assert_eq!(stats, BUSY_EVAL);
}

#[test]
fn script_that_wrote_is_unkillable_until_shutdown_nosave() {
    let mut s = Server::start_with(&["--save", ""]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(b.cmd("CONFIG SET busy-reply-threshold 100"), "+OK\r\n");
    a.send(&[b"EVAL", b"redis.call('set', 'x', 'y') while true do end", b"0"]);
    wait_busy(&mut b, BUSY_EVAL);
    assert_eq!(
        b.cmd("SCRIPT KILL"),
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    assert_eq!(b.cmd("GET x"), BUSY_EVAL);
    b.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(b.closed(), "SHUTDOWN NOSAVE replies nothing and closes");
    assert!(s.wait_exit(Duration::from_secs(10)).is_some(), "the server must exit despite the running script");
}

fn fcall(c: &mut Raw, cmd: &str, name: &str, keys: &[&str], args: &[&str]) -> String {
    run(c, cmd, name, keys, args)
}

const MYLIB: &str = "#!lua name=mylib\n\
    redis.register_function('myset', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
    redis.register_function{function_name='myget', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads a key'}\n\
    redis.register_function('echo', function(keys, args) return {keys[1], keys[2], args[1], #keys, #args} end)";

#[test]
fn functions_load_call_list_delete() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", MYLIB]), bulk("mylib"));
    assert_eq!(fcall(&mut c, "FCALL", "myset", &["k"], &["v1"]), "+OK\r\n");
    assert_eq!(fcall(&mut c, "FCALL", "myget", &["k"], &[]), bulk("v1"));
    assert_eq!(fcall(&mut c, "FCALL", "MYGET", &["k"], &[]), bulk("v1"), "function names are case-insensitive");
    assert_eq!(fcall(&mut c, "FCALL_RO", "myget", &["k"], &[]), bulk("v1"));
    assert_eq!(
        fcall(&mut c, "FCALL_RO", "myset", &["k"], &["v2"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    assert_eq!(c.cmd("GET k"), bulk("v1"));
    assert_eq!(fcall(&mut c, "FCALL", "echo", &["k1", "k2"], &["a1"]), "*5\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n:2\r\n:1\r\n");
    assert_eq!(c.cmd("FCALL nosuch 0"), "-ERR Function not found\r\n");
    assert_eq!(c.cmd("FCALL myget 2 k"), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(c.cmd("FCALL myget -1"), "-ERR Number of keys can't be negative\r\n");
    assert_eq!(c.cmd("FCALL myget x"), "-ERR Bad number of keys provided\r\n");

    // A function's errors name the function.
    let lib = "#!lua name=errs\nredis.register_function('boom', function() error('x') end)\nredis.register_function('wrong', function(keys) return redis.call('lpush', keys[1], 'a') end)";
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", lib]), bulk("errs"));
    assert_eq!(c.cmd("FCALL boom 0"), "-ERR user_function:2: x script: boom, on @user_function:2.\r\n");
    assert_eq!(
        c.cmd("FCALL wrong 1 k"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value script: wrong, on @user_function:3.\r\n"
    );
    assert_eq!(c.cmd("FUNCTION DELETE errs"), "+OK\r\n");

    let lib3 = "#!lua name=lib3\nlocal function f() return math.floor(2.5) end\nredis.register_function('mfloor', f)";
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", lib3]), bulk("lib3"));
    assert_eq!(c.cmd("FCALL mfloor 0"), ":2\r\n");
    const LIB3_ENTRY: &str = "*6\r\n$12\r\nlibrary_name\r\n$4\r\nlib3\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$6\r\nmfloor\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n";
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME lib3"), format!("*1\r\n{LIB3_ENTRY}"));
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME lib*"), format!("*1\r\n{LIB3_ENTRY}"));
    assert_eq!(
        c.cmd("FUNCTION LIST LIBRARYNAME lib3 WITHCODE"),
        format!(
            "*1\r\n*8\r\n$12\r\nlibrary_name\r\n$4\r\nlib3\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$6\r\nmfloor\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n$12\r\nlibrary_code\r\n{}",
            bulk(lib3)
        )
    );
    let all = c.cmd("FUNCTION LIST");
    assert!(all.starts_with("*2\r\n"), "{all:?}");
    assert!(all.contains(LIB3_ENTRY), "{all:?}");
    assert!(all.contains("$5\r\nmyget\r\n$11\r\ndescription\r\n$11\r\nreads a key\r\n$5\r\nflags\r\n*1\r\n+no-writes\r\n"), "{all:?}");
    assert!(all.contains("$5\r\nmyset\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n"), "{all:?}");
    let my = c.cmd("FUNCTION LIST LIBRARYNAME my*");
    assert!(
        my.starts_with("*1\r\n*6\r\n$12\r\nlibrary_name\r\n$5\r\nmylib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*3\r\n"),
        "{my:?}"
    );
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME nomatch*"), "*0\r\n");
    assert_eq!(c.cmd("FUNCTION LIST BOGUS"), "-ERR Unknown argument BOGUS\r\n");
    assert_eq!(
        c.cmd("FUNCTION STATS"),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:4\r\n"
    );
    let mut c3 = resp3(&s);
    assert_eq!(
        c3.cmd("FUNCTION LIST LIBRARYNAME lib3"),
        "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$4\r\nlib3\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n%3\r\n$4\r\nname\r\n$6\r\nmfloor\r\n$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~0\r\n"
    );

    assert_eq!(c.cmd("FUNCTION DELETE lib3"), "+OK\r\n");
    assert_eq!(c.cmd("FUNCTION DELETE lib3"), "-ERR Library not found\r\n");
    assert_eq!(c.cmd("FCALL mfloor 0"), "-ERR Function not found\r\n");
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME lib3"), "*0\r\n");

    // REPLACE swaps the whole library: functions it no longer registers are gone.
    let replaced = "#!lua name=mylib\nredis.register_function('myset', function(keys, args) return 'replaced' end)";
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", replaced]), "-ERR Library 'mylib' already exists\r\n");
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", "REPLACE", replaced]), bulk("mylib"));
    assert_eq!(c.cmd("FCALL myset 0"), bulk("replaced"));
    assert_eq!(c.cmd("FCALL myget 1 k"), "-ERR Function not found\r\n");

    assert_eq!(c.cmd("FUNCTION FLUSH"), "+OK\r\n");
    assert_eq!(c.cmd("FCALL myset 0"), "-ERR Function not found\r\n");
    assert_eq!(c.cmd("FUNCTION LIST"), "*0\r\n");
    assert_eq!(c.cmd("FUNCTION FLUSH bad"), "-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n");
    assert_eq!(c.cmd("FUNCTION FLUSH ASYNC"), "+OK\r\n");
}

#[test]
fn function_load_errors() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", MYLIB]), bulk("mylib"));
    for (code, err) in [
        ("#!lua name=mylib\nredis.register_function('other', function() return 1 end)", "-ERR Library 'mylib' already exists\r\n"),
        ("#!lua name=lib2\nredis.register_function('myset', function() return 1 end)", "-ERR Function myset already exists\r\n"),
        ("#!lua name=lib3\nreturn 1", "-ERR No functions registered\r\n"),
        (
            "#!lua name=lib3\nlocal x = math.random()",
            "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'\r\n",
        ),
        (
            "#!lua name=lib3\nredis.call('ping')",
            "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'\r\n",
        ),
        (
            "#!lua name=lib3\nerror('boom')",
            "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'error'\r\n",
        ),
        (
            "#!lua name=lib3\nredis.register_function('a', function() return 1 end)\nredis.register_function('a', function() return 1 end)",
            "-ERR Error registering functions: ERR Function already exists in the library\r\n",
        ),
        ("#!lua name=lib3\nsyntax error here", "-ERR Error compiling function: user_function:2: '=' expected near 'error'\r\n"),
        ("#!lua\nredis.register_function('a', function() return 1 end)", "-ERR Library name was not given\r\n"),
        ("no shebang", "-ERR Missing library metadata\r\n"),
        (
            "#!lua name=lib3\nredis.register_function('bad name', function() return 1 end)",
            "-ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n",
        ),
        (
            "#!lua name=lib3\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'bogus'}}",
            "-ERR Error registering functions: ERR unknown flag given\r\n",
        ),
        (
            "#!lua name=lib3\nredis.register_function('f', 'notafunction')",
            "-ERR Error registering functions: ERR second argument to redis.register_function must be a function\r\n",
        ),
    ] {
        assert_eq!(call(&mut c, &["FUNCTION", "LOAD", code]), err, "{code:?}");
    }
    // Nothing of the failed loads was kept.
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME lib*"), "*0\r\n");
    assert_eq!(c.cmd("FCALL a 0"), "-ERR Function not found\r\n");
    assert_eq!(fcall(&mut c, "FCALL", "myset", &["k"], &["still"]), "+OK\r\n");
    assert_eq!(c.cmd("FUNCTION RESTORE garbage"), "-ERR DUMP payload version or checksum are wrong\r\n");
    assert_eq!(
        c.cmd("FUNCTION RESTORE garbage BOGUS"),
        "-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n"
    );
}

/// FUNCTION DUMP's payload as raw bytes.
fn dump(c: &mut Raw) -> Vec<u8> {
    c.send(&[b"FUNCTION", b"DUMP"]);
    let mut out = Vec::new();
    let mut head = String::new();
    std::io::BufRead::read_line(&mut c.r, &mut head).unwrap();
    assert!(head.starts_with('$'), "{head:?}");
    let n: usize = head[1..].trim_end().parse().unwrap();
    out.resize(n + 2, 0);
    std::io::Read::read_exact(&mut c.r, &mut out).unwrap();
    out.truncate(n);
    out
}

fn restore(c: &mut Raw, payload: &[u8], policy: Option<&str>) -> String {
    let mut v: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", payload];
    if let Some(p) = policy {
        v.push(p.as_bytes());
    }
    c.cmd_args(&v)
}

const ILIB: &str = "#!lua name=ilib\nredis.register_function('iget', function(keys, args) return 'ok:' .. keys[1] end)";

#[test]
fn function_dump_and_restore() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", ILIB]), bulk("ilib"));
    let payload = dump(&mut c);
    // An RDB function record (opcode 245, the code as a string), then RDB version 10 and a CRC64.
    assert_eq!(payload[0], 0xf5, "{payload:?}");
    assert!(payload.windows(ILIB.len()).any(|w| w == ILIB.as_bytes()));
    assert_eq!(&payload[payload.len() - 10..payload.len() - 8], &[10, 0]);

    assert_eq!(restore(&mut c, &payload, None), "-ERR Library ilib already exists\r\n");
    assert_eq!(restore(&mut c, &payload, Some("APPEND")), "-ERR Library ilib already exists\r\n");
    assert_eq!(restore(&mut c, &payload, Some("REPLACE")), "+OK\r\n");
    assert_eq!(restore(&mut c, &payload, Some("FLUSH")), "+OK\r\n");
    assert_eq!(c.cmd("FCALL iget 1 x"), bulk("ok:x"));
    let mut broken = payload.clone();
    let at = broken.len() - 12;
    broken[at] ^= 0xff;
    assert_eq!(restore(&mut c, &broken, None), "-ERR DUMP payload version or checksum are wrong\r\n");

    // A library with a function of the same name blocks APPEND and REPLACE, not FLUSH.
    assert_eq!(c.cmd("FUNCTION FLUSH"), "+OK\r\n");
    let other = "#!lua name=other\nredis.register_function('iget', function() return 1 end)";
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", other]), bulk("other"));
    assert_eq!(restore(&mut c, &payload, Some("APPEND")), "-ERR Function iget already exists\r\n");
    assert_eq!(restore(&mut c, &payload, Some("REPLACE")), "-ERR Function iget already exists\r\n");
    assert_eq!(c.cmd("FCALL iget 0"), ":1\r\n");
    assert_eq!(restore(&mut c, &payload, Some("FLUSH")), "+OK\r\n");
    assert_eq!(c.cmd("FCALL iget 1 y"), bulk("ok:y"));
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME other"), "*0\r\n");

    // APPEND next to an unrelated library keeps both.
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", MYLIB]), bulk("mylib"));
    let both = dump(&mut c);
    let s2 = Server::start();
    let mut c2 = s2.raw();
    let lone = "#!lua name=lone\nredis.register_function('lone', function() return 'lone' end)";
    assert_eq!(call(&mut c2, &["FUNCTION", "LOAD", lone]), bulk("lone"));
    assert_eq!(restore(&mut c2, &both, None), "+OK\r\n");
    assert_eq!(c2.cmd("FCALL iget 1 z"), bulk("ok:z"));
    assert_eq!(fcall(&mut c2, "FCALL", "myset", &["k"], &["v"]), "+OK\r\n");
    assert_eq!(c2.cmd("FCALL_RO myget 1 k"), bulk("v"));
    assert_eq!(c2.cmd("FCALL lone 0"), bulk("lone"));
    assert_eq!(c2.cmd("FUNCTION LIST LIBRARYNAME mylib WITHCODE").matches(&bulk(MYLIB)).count(), 1);
    // The second server's dump restores into a fresh third one.
    let all = dump(&mut c2);
    let s3 = Server::start();
    let mut c3 = s3.raw();
    assert_eq!(restore(&mut c3, &all, Some("FLUSH")), "+OK\r\n");
    let stats = c3.cmd("FUNCTION STATS");
    assert!(stats.ends_with("$15\r\nlibraries_count\r\n:3\r\n$15\r\nfunctions_count\r\n:5\r\n"), "{stats:?}");
}

#[test]
fn functions_survive_save_restart_and_debug_reload() {
    let mut first = Server::start_with(&["--save", ""]);
    let dir = first.dir.clone();
    let mut c = first.raw();
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", MYLIB]), bulk("mylib"));
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", ILIB]), bulk("ilib"));
    assert_eq!(c.cmd("SET k persisted"), "+OK\r\n");
    assert_eq!(c.cmd("DEBUG RELOAD"), "+OK\r\n");
    assert_eq!(c.cmd("FCALL myget 1 k"), bulk("persisted"));
    assert_eq!(c.cmd("FCALL iget 1 a"), bulk("ok:a"));
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME ilib WITHCODE").matches(&bulk(ILIB)).count(), 1);
    assert_eq!(c.cmd("SAVE"), "+OK\r\n");
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.closed());
    assert!(first.wait_exit(Duration::from_secs(10)).is_some());

    let port = common::free_port();
    let args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""].map(String::from).to_vec();
    let second = Server::spawn(port, dir, args);
    let mut c = second.raw();
    assert_eq!(c.cmd("FCALL myget 1 k"), bulk("persisted"));
    assert_eq!(c.cmd("FCALL_RO myget 1 k"), bulk("persisted"));
    assert_eq!(fcall(&mut c, "FCALL", "myset", &["k"], &["again"]), "+OK\r\n");
    assert_eq!(c.cmd("FCALL iget 1 b"), bulk("ok:b"));
    assert_eq!(c.cmd("FUNCTION LIST LIBRARYNAME mylib WITHCODE").matches(&bulk(MYLIB)).count(), 1);
    let stats = c.cmd("FUNCTION STATS");
    assert!(stats.ends_with("$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:4\r\n"), "{stats:?}");
    drop(c);
    drop(second);
    drop(first);
}

fn have_redis_py() -> bool {
    std::process::Command::new("python3").args(["-c", "import redis"]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn redis_py_scripts_and_functions() {
    if !have_redis_py() {
        eprintln!("SKIPPED redis_py_scripts_and_functions: python3 with redis-py is not installed (pip install redis)");
        return;
    }
    let s = Server::start();
    let script = r##"
import sys, redis
r = redis.Redis(port=int(sys.argv[1]), socket_timeout=10)
s = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
assert s(keys=['c'], args=[2]) == 2
assert s(keys=['c'], args=[3]) == 5
assert r.script_exists(s.sha) == [True], r.script_exists(s.sha)
r.script_flush()
assert r.script_exists(s.sha) == [False]
assert s(keys=['c'], args=[4]) == 9
assert r.script_exists(s.sha) == [True]
r.script_flush()
p = r.pipeline()
s(keys=['c'], args=[1], client=p)
p.get('c')
assert p.execute() == [10, b'10']
lib = "#!lua name=pylib\nredis.register_function('pyset', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n" \
      "redis.register_function{function_name='pyget', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}"
assert r.function_load(lib) == b'pylib'
assert r.fcall('pyset', 1, 'fk', 'val') == b'OK'
assert r.fcall_ro('pyget', 1, 'fk') == b'val'
assert r.get('fk') == b'val'
libs = r.function_list(library='pylib')
assert b'pylib' in libs[0] or libs[0].get(b'library_name') == b'pylib', libs
try:
    r.fcall_ro('pyset', 1, 'fk', 'x')
    raise SystemExit('FCALL_RO of a writing function succeeded')
except redis.ResponseError as e:
    assert 'Can not execute a script with write flag using *_ro command.' in str(e), e
print('ok')
"##;
    let out = std::process::Command::new("python3").args(["-c", script, &s.port.to_string()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.trim() == "ok", "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn function_dump_interop_with_real_redis() {
    let (_guard, port) = common::peer::start_redis();
    assert!(eventually(Duration::from_secs(10), || common::responds(port)), "redis-server did not answer");
    let mut real = Raw::connect(port);
    let s = Server::start();
    let mut ours = s.raw();

    // The same library dumps to the same bytes on both.
    assert_eq!(call(&mut real, &["FUNCTION", "LOAD", ILIB]), bulk("ilib"));
    assert_eq!(call(&mut ours, &["FUNCTION", "LOAD", ILIB]), bulk("ilib"));
    let from_real = dump(&mut real);
    assert_eq!(dump(&mut ours), from_real);

    // Redis's dump restores here ...
    assert_eq!(call(&mut ours, &["FUNCTION", "LOAD", MYLIB]), bulk("mylib"));
    assert_eq!(restore(&mut ours, &from_real, Some("FLUSH")), "+OK\r\n");
    assert_eq!(ours.cmd("FCALL iget 1 x"), bulk("ok:x"));
    assert_eq!(ours.cmd("FCALL myget 1 x"), "-ERR Function not found\r\n");

    // ... and ours there.
    assert_eq!(call(&mut ours, &["FUNCTION", "LOAD", MYLIB]), bulk("mylib"));
    let from_ours = dump(&mut ours);
    assert_eq!(real.cmd("FUNCTION FLUSH"), "+OK\r\n");
    assert_eq!(restore(&mut real, &from_ours, None), "+OK\r\n");
    assert_eq!(real.cmd("FCALL iget 1 y"), bulk("ok:y"));
    assert_eq!(fcall(&mut real, "FCALL", "myset", &["k"], &["v"]), "+OK\r\n");
    assert_eq!(real.cmd("FCALL_RO myget 1 k"), bulk("v"));
    assert_eq!(real.cmd("FCALL echo 2 a b c"), "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n:2\r\n:1\r\n");
    assert_eq!(ours.cmd("FCALL echo 2 a b c"), "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n:2\r\n:1\r\n");
    // A round trip through Redis gives back the same libraries.
    let back = dump(&mut real);
    let s2 = Server::start();
    let mut c2 = s2.raw();
    assert_eq!(restore(&mut c2, &back, None), "+OK\r\n");
    assert_eq!(c2.cmd("FCALL iget 1 z"), bulk("ok:z"));
    assert_eq!(c2.cmd("FUNCTION LIST LIBRARYNAME mylib WITHCODE").matches(&bulk(MYLIB)).count(), 1);
}

/// MONITOR shows EVAL and FCALL themselves, then each command their script ran, as
/// `[db lua]` (Redis 7.2's lines).
#[test]
fn monitor_shows_scripts_and_their_commands() {
    let s = Server::start();
    let mut m = s.raw();
    assert_eq!(m.cmd("MONITOR"), "+OK\r\n");
    let mut c = s.raw();
    c.cmd("SELECT 2");
    let body: &[u8] = b"redis.call('set', KEYS[1], 'v'); return redis.call('get', KEYS[1])";
    assert_eq!(c.cmd_args(&[b"EVAL", body, b"1", b"k"]), "$1\r\nv\r\n");
    let lines: Vec<String> = (0..4).map(|_| m.read()).collect();
    let tail = |l: &str| l.split_once(' ').map(|(_, t)| t.to_string()).unwrap_or_default();
    assert!(tail(&lines[0]).starts_with("[0 127.0.0.1:"), "{lines:?}");
    assert!(lines[0].ends_with("\"SELECT\" \"2\"\r\n"), "{lines:?}");
    assert!(
        lines[1].ends_with("\"EVAL\" \"redis.call('set', KEYS[1], 'v'); return redis.call('get', KEYS[1])\" \"1\" \"k\"\r\n"),
        "{lines:?}"
    );
    assert_eq!(tail(&lines[2]), "[2 lua] \"set\" \"k\" \"v\"\r\n", "{lines:?}");
    assert_eq!(tail(&lines[3]), "[2 lua] \"get\" \"k\"\r\n", "{lines:?}");
}

/// What INFO reports about one command's errors: its commandstats and errorstats lines
/// and the total, with the timings cut out.
fn error_accounting(c: &mut Raw, cmds: &[&str], errors: &[&str]) -> Vec<String> {
    let text = call(c, &["INFO", "ALL"]);
    let mut out = Vec::new();
    for line in text.lines() {
        let keep = cmds.iter().any(|n| line.starts_with(&format!("cmdstat_{n}:")))
            || errors.iter().any(|e| line.starts_with(&format!("errorstat_{e}:")))
            || line.starts_with("total_error_replies:");
        if keep {
            // cmdstat_x:calls=1,usec=3,usec_per_call=3.00,rejected_calls=0,failed_calls=1
            out.push(line.split(',').filter(|f| !f.starts_with("usec")).collect::<Vec<_>>().join(","));
        }
    }
    // Redis lists commandstats in its dict's order.
    out.sort();
    out
}

/// A script's failing commands are counted once, where they fail (a refusal such as
/// OOM as the command's rejected call, a command's own error as its failed call), even
/// when `pcall` catches them, and the script's error reply that repeats one is not
/// counted again; CLUSTER answers as a Redis without cluster mode, and its RESET is
/// refused to scripts. Run side by side with redis-server, whose INFO lines must match.
#[test]
fn script_errors_are_counted_once_as_in_redis() {
    let (_guard, port) = common::peer::start_redis();
    assert!(eventually(Duration::from_secs(10), || common::responds(port)), "redis-server did not answer");
    let mut real = Raw::connect(port);
    let s = Server::start();
    let mut ours = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["CONFIG", "SET", "maxmemory", "1"], "return redis.call('set','x','y')"),
        (&["CONFIG", "SET", "maxmemory", "1"], "local t = redis.pcall('set','x','y') return t['err']"),
        (&["CONFIG", "SET", "maxmemory", "1"], "return redis.pcall('set','x','y')"),
        (&["CONFIG", "SET", "maxmemory", "0"], "return redis.call('select',99)"),
        (&["CONFIG", "SET", "maxmemory", "0"], "local t = redis.pcall('select',99) return t['err']"),
        (&["CONFIG", "SET", "maxmemory", "0"], "return redis.call('cluster','reset','hard')"),
        (&["CONFIG", "SET", "maxmemory", "0"], "return redis.pcall('cluster','info')"),
        (&["CONFIG", "SET", "maxmemory", "0"], "return redis.call('nosuchcommand')"),
        (&["CONFIG", "SET", "maxmemory", "0"], "return redis.call('get')"),
    ];
    for (setup, script) in cases {
        let mut seen = Vec::new();
        for c in [&mut real, &mut ours] {
            assert_eq!(call(c, &["CONFIG", "RESETSTAT"]), "+OK\r\n");
            assert_eq!(call(c, setup), "+OK\r\n");
            let reply = eval(c, script, &["x"], &[]);
            call(c, &["CONFIG", "SET", "maxmemory", "0"]);
            seen.push((reply, error_accounting(c, &["set", "select", "eval", "cluster|reset", "cluster|info", "get"], &["OOM", "ERR"])));
        }
        assert_eq!(seen[1], seen[0], "{script}: ferrokv (right) differs from redis-server (left)");
        assert!(!seen[0].1.is_empty(), "{script}: nothing counted");
    }
    assert_eq!(call(&mut ours, &["CLUSTER", "INFO"]), call(&mut real, &["CLUSTER", "INFO"]));
    assert_eq!(call(&mut ours, &["CLUSTER", "NOSUCH"]), call(&mut real, &["CLUSTER", "NOSUCH"]));
}

fn lua_memory(c: &mut Raw) -> u64 {
    let info = c.cmd("INFO memory");
    info.lines().find_map(|l| l.strip_prefix("used_memory_lua:")).unwrap().trim().parse().unwrap()
}

/// Redis's "EVAL does not leak in the Lua stack" in its function form: every FCALL
/// after a FUNCTION LOAD REPLACE rebuilds the VM's libraries, and the old ones must not
/// pile up in used_memory_lua (Redis keeps functions in a VM outside it). SCRIPT FLUSH
/// starts the VMs anew, as Redis does.
#[test]
fn replaced_libraries_and_script_flush_free_the_vm() {
    let s = Server::start_with(&["--server-threads", "1"]);
    let mut c = s.raw();
    let lib = "#!lua name=test\nredis.register_function('test', function(KEYS, ARGV) return redis.call('incr', KEYS[1]) end)";
    for i in 1..=3000 {
        assert_eq!(call(&mut c, &["FUNCTION", "LOAD", "REPLACE", lib]), bulk("test"));
        assert_eq!(fcall(&mut c, "FCALL", "test", &["x"], &[]), format!(":{i}\r\n"));
    }
    let used = lua_memory(&mut c);
    assert!(used < 100 * 1024, "used_memory_lua {used} after 3000 library loads");
    // A library that keeps 20000 strings alive in its VM.
    let keep = "#!lua name=keep\nlocal t = {}\nredis.register_function('keep', function() for i = 1, 20000 do t[#t + 1] = tostring(i) end return #t end)";
    assert_eq!(call(&mut c, &["FUNCTION", "LOAD", keep]), bulk("keep"));
    assert_eq!(fcall(&mut c, "FCALL", "keep", &[], &[]), ":20000\r\n");
    for _ in 0..50 {
        assert_eq!(call(&mut c, &["EVAL", "return 1", "0"]), ":1\r\n");
    }
    let grown = lua_memory(&mut c);
    assert!(grown > 500 * 1024, "used_memory_lua {grown} with 20000 strings kept");
    assert_eq!(c.cmd("SCRIPT FLUSH"), "+OK\r\n");
    assert_eq!(call(&mut c, &["EVAL", "return 1", "0"]), ":1\r\n");
    let fresh = lua_memory(&mut c);
    assert!(fresh < 100 * 1024, "used_memory_lua {fresh} after SCRIPT FLUSH");
}
