//! A script's return value as the client's reply, exactly as Redis converts it (the
//! other direction, a command's reply as a Lua value, is `call::push_reply`).

use ferrokv_protocol::ReplyBuf;
use mlua::{Table, Value};

/// How deep a returned table may nest before Redis gives up ("reached lua stack limit").
const MAX_DEPTH: usize = 1000;

/// Writes a script's return value as the reply. `resp3` is the protocol the script
/// chose with `redis.setresp` (it decides how booleans are sent); `out` speaks the
/// caller's protocol. Returns the error text when the value is an error reply.
pub fn lua_to_reply(v: &Value, out: &mut ReplyBuf, resp3: bool) -> Option<String> {
    let mut err = None;
    write(v, out, resp3, 0, &mut err);
    err
}

fn sanitize(s: &[u8]) -> Vec<u8> {
    s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect()
}

fn write(v: &Value, out: &mut ReplyBuf, resp3: bool, depth: usize, err: &mut Option<String>) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.bool(*b)
            } else if *b {
                out.int(1)
            } else {
                out.null()
            }
        }
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(lua_number_to_i64(*n)),
        Value::Table(t) if depth >= MAX_DEPTH => {
            let _ = t;
            out.error("ERR reached lua stack limit");
        }
        Value::Table(t) => write_table(t, out, resp3, depth, err),
        _ => out.null(),
    }
}

/// C's `(long long)` cast of a Lua number as Redis does it (saturating here, where
/// C would be undefined).
pub fn lua_number_to_i64(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn write_table(t: &Table, out: &mut ReplyBuf, resp3: bool, depth: usize, err: &mut Option<String>) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        let msg = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        out.error(&msg);
        if depth == 0 {
            *err = Some(msg);
        }
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        out.simple(&sanitize(&s.as_bytes()));
        return;
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        out.double(d);
        return;
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        out.double(d as f64);
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        let s = sanitize(&s.as_bytes());
        if out.resp3 {
            out.buf.push(b'(');
            out.buf.extend_from_slice(&s);
            out.buf.extend_from_slice(b"\r\n");
        } else {
            out.bulk(&s);
        }
        return;
    }
    if let Ok(Value::Table(vt)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) = (vt.raw_get::<Value>("format"), vt.raw_get::<Value>("string")) {
            let (f, s) = (f.as_bytes(), s.as_bytes());
            if out.resp3 {
                let mut hdr = Vec::with_capacity(f.len() + 1);
                hdr.extend_from_slice(&f[..f.len().min(3)]);
                hdr.push(b':');
                out.buf.push(b'=');
                out.buf.extend_from_slice((hdr.len() + s.len()).to_string().as_bytes());
                out.buf.extend_from_slice(b"\r\n");
                out.buf.extend_from_slice(&hdr);
                out.buf.extend_from_slice(&s);
                out.buf.extend_from_slice(b"\r\n");
            } else {
                out.bulk(&s);
            }
            return;
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write(k, out, resp3, depth + 1, err);
            write(v, out, resp3, depth + 1, err);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = s.pairs::<Value, Value>().filter_map(|r| r.ok().map(|(k, _)| k)).collect();
        out.set(keys.len());
        for k in &keys {
            write(k, out, resp3, depth + 1, err);
        }
        return;
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
        i += 1;
    }
    out.array(items.len());
    for v in &items {
        write(v, out, resp3, depth + 1, err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::Lua;

    fn reply_of(code: &str, resp3: bool) -> Vec<u8> {
        let lua = Lua::new();
        let v: Value = lua.load(code).eval().unwrap();
        let mut out = ReplyBuf { buf: Vec::new(), resp3 };
        lua_to_reply(&v, &mut out, resp3);
        out.buf
    }

    #[test]
    fn an_array_ends_at_the_first_nil_and_numbers_truncate() {
        assert_eq!(reply_of("return {1, 2.9, -3.7, nil, 5}", false), b"*3\r\n:1\r\n:2\r\n:-3\r\n");
    }

    #[test]
    fn tables_with_special_fields() {
        assert_eq!(reply_of("return {ok='fine'}", false), b"+fine\r\n");
        assert_eq!(reply_of("return {err='ERR bad'}", false), b"-ERR bad\r\n");
        assert_eq!(reply_of("return {double=3.5}", true), b",3.5\r\n");
        assert_eq!(reply_of("return {map={a=1}}", true), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(reply_of("return {map={a=1}}", false), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(reply_of("return {big_number='123456789012345678901234'}", true), b"(123456789012345678901234\r\n");
    }

    #[test]
    fn booleans_follow_the_scripts_protocol() {
        assert_eq!(reply_of("return true", false), b":1\r\n");
        assert_eq!(reply_of("return false", false), b"$-1\r\n");
        assert_eq!(reply_of("return false", true), b"#f\r\n");
        assert_eq!(reply_of("return nil", true), b"_\r\n");
    }
}
