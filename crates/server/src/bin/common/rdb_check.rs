//! The RDB walk of redis-check-rdb, shared by ferrokv-check-rdb and the RDB preamble
//! check of ferrokv-check-aof: the same progress lines, offsets and error report.

use std::io::Write;

use ferrokv_server::config::Config;
use ferrokv_server::persistence::load::{self, Corrupt, Limits, Reader, MAX_VERSION};
use ferrokv_server::persistence::rdb;

const DOING: [&str; 10] = [
    "start",
    "read-type",
    "read-expire",
    "read-key",
    "read-object-value",
    "check-sum",
    "read-len",
    "read-aux",
    "read-module-aux",
    "read-functions",
];

const TYPE_NAMES: [&str; 22] = [
    "string",
    "list-linked",
    "set-hashtable",
    "zset-v1",
    "hash-hashtable",
    "zset-v2",
    "module-pre-release",
    "module-value",
    "",
    "hash-zipmap",
    "list-ziplist",
    "set-intset",
    "zset-ziplist",
    "hash-ziplist",
    "quicklist",
    "stream",
    "hash-listpack",
    "zset-listpack",
    "quicklist-v2",
    "stream-v2",
    "set-listpack",
    "stream-v3",
];

const START: usize = 0;
const READ_TYPE: usize = 1;
const READ_EXPIRE: usize = 2;
const READ_KEY: usize = 3;
const READ_VALUE: usize = 4;
const CHECK_SUM: usize = 5;
const READ_LEN: usize = 6;
const READ_AUX: usize = 7;
const READ_MODULE_AUX: usize = 8;
const READ_FUNCTIONS: usize = 9;

/// What C's `%s` shows of a byte string: up to its first NUL.
fn c_str(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]).into_owned()
}

struct State<'o> {
    out: &'o mut dyn Write,
    doing: usize,
    key: Option<Vec<u8>>,
    /// Redis starts this at 0 (so an early error names type 0) and resets it to -1
    /// after each key.
    key_type: i32,
    keys: u64,
    expires: u64,
    already_expired: u64,
}

impl State<'_> {
    fn info(&mut self, at: usize, msg: &str) {
        let _ = writeln!(self.out, "[offset {at}] {msg}");
    }

    fn generic_info(&mut self) {
        let _ = writeln!(self.out, "[info] {} keys read", self.keys);
        let _ = writeln!(self.out, "[info] {} expires", self.expires);
        let _ = writeln!(self.out, "[info] {} already expired", self.already_expired);
    }

    fn error(&mut self, at: usize, msg: &str) {
        let _ = writeln!(self.out, "--- RDB ERROR DETECTED ---");
        let _ = writeln!(self.out, "[offset {at}] {msg}");
        let _ = writeln!(self.out, "[additional info] While doing: {}", DOING[self.doing]);
        if let Some(k) = &self.key {
            let _ = writeln!(self.out, "[additional info] Reading key '{}'", c_str(k));
        }
        if self.key_type != -1 {
            let name = TYPE_NAMES.get(self.key_type as usize).copied().unwrap_or("unknown");
            let _ = writeln!(self.out, "[additional info] Reading type {} ({name})", self.key_type);
        }
        self.generic_info();
    }
}

fn is_object_type(t: u8) -> bool {
    t <= 7 || (9..=21).contains(&t)
}

/// A little-endian integer of `n` bytes; like Redis, a short read consumes nothing.
fn u64_le(r: &mut Reader, len: usize, n: usize) -> Result<u64, Corrupt> {
    if len - r.pos < n {
        return r.err("Unexpected EOF reading RDB file");
    }
    let mut v = 0u64;
    for i in 0..n {
        v |= (r.byte()? as u64) << (8 * i);
    }
    Ok(v)
}

/// Checks the RDB image at the start of `data`, printing redis-check-rdb's report to
/// `out`. Returns the offset just past the image (after its checksum), or `None`
/// when it is not sane.
pub fn check(data: &[u8], name: &str, out: &mut dyn Write) -> Option<usize> {
    let mut st = State { out, doing: START, key: None, key_type: 0, keys: 0, expires: 0, already_expired: 0 };
    st.info(0, &format!("Checking RDB file {name}"));
    match walk(data, &mut st) {
        Ok(end) => {
            st.info(end, "\\o/ RDB looks OK! \\o/");
            st.generic_info();
            Some(end)
        }
        Err(c) => {
            st.error(c.offset, &c.msg);
            None
        }
    }
}

fn walk(data: &[u8], st: &mut State) -> Result<usize, Corrupt> {
    if data.len() < 9 {
        return Err(Corrupt { offset: 0, msg: "Unexpected EOF reading RDB file".into() });
    }
    if &data[..5] != b"REDIS" {
        return Err(Corrupt { offset: 9, msg: "Wrong signature trying to load DB from file".into() });
    }
    let ver = std::str::from_utf8(&data[5..9])
        .ok()
        .and_then(|s| s.trim_end_matches(|c: char| !c.is_ascii_digit()).parse::<i64>().ok())
        .unwrap_or(0);
    if !(1..=MAX_VERSION as i64).contains(&ver) {
        return Err(Corrupt { offset: 9, msg: format!("Can't handle RDB format version {ver}") });
    }
    let lim = Limits::from_settings(&Config::new().settings());
    let now = ferrokv_server::util::now_ms() as i64;
    let mut r = Reader::new(data);
    r.pos = 9;
    let mut expire: i64 = -1;
    loop {
        st.doing = READ_TYPE;
        let t = r.byte()?;
        match t {
            rdb::OP_EXPIRETIME => {
                st.doing = READ_EXPIRE;
                expire = (u64_le(&mut r, data.len(), 4)? as i64) * 1000;
            }
            rdb::OP_EXPIRETIME_MS => {
                st.doing = READ_EXPIRE;
                expire = u64_le(&mut r, data.len(), 8)? as i64;
            }
            rdb::OP_FREQ => {
                r.byte()?;
            }
            rdb::OP_IDLE => {
                r.length()?;
            }
            rdb::OP_EOF => break,
            rdb::OP_SELECTDB => {
                st.doing = READ_LEN;
                let db = r.length()?;
                st.info(r.pos, &format!("Selecting DB ID {db}"));
            }
            rdb::OP_RESIZEDB => {
                st.doing = READ_LEN;
                r.length()?;
                r.length()?;
            }
            rdb::OP_AUX => {
                st.doing = READ_AUX;
                let k = r.string()?;
                let v = r.string()?;
                st.info(r.pos, &format!("AUX FIELD {} = '{}'", c_str(&k), c_str(&v)));
            }
            rdb::OP_MODULE_AUX => {
                st.doing = READ_MODULE_AUX;
                return r.err("Module auxiliary data is not supported");
            }
            rdb::OP_FUNCTION_PRE_GA => return r.err(format!("Pre-release function format not supported {ver}")),
            rdb::OP_FUNCTION2 => {
                st.doing = READ_FUNCTIONS;
                r.string()?;
            }
            t if !is_object_type(t) => return r.err(format!("Invalid object type: {t}")),
            t => {
                st.key_type = t as i32;
                st.doing = READ_KEY;
                let key = r.string()?;
                st.key = Some(key);
                st.keys += 1;
                st.doing = READ_VALUE;
                load::read_object(&mut r, t, &lim)?;
                if expire != -1 {
                    st.expires += 1;
                    if expire < now {
                        st.already_expired += 1;
                    }
                }
                st.key = None;
                st.key_type = -1;
                expire = -1;
            }
        }
    }
    if ver >= 5 {
        st.doing = CHECK_SUM;
        let body_end = r.pos;
        let sum = u64_le(&mut r, data.len(), 8)?;
        if sum == 0 {
            st.info(r.pos, "RDB file was saved with checksum disabled: no check performed.");
        } else if sum != rdb::CRC64.checksum(&data[..body_end]) {
            return r.err("RDB CRC error");
        } else {
            st.info(r.pos, "Checksum OK");
        }
    }
    Ok(r.pos)
}
