//! RDB loading: any file or DUMP payload Redis 2.x to 7.2 writes (format versions 1
//! to 11), every value type and encoding except modules and streams, which are
//! refused with a clear error.
//!
//! Values are rebuilt in the encoding Redis 7.2's `rdbLoadObject` picks for the
//! current thresholds, so OBJECT ENCODING after DEBUG RELOAD or RESTORE matches it.
//! Nothing here trusts the input: every length is checked against what is left,
//! and errors carry the offset where reading failed.

use std::borrow::Cow;
use std::collections::HashSet;

use super::rdb::{self, CRC64};
use super::{listpack, lzf, ziplist};
use crate::config::Settings;
use crate::keyspace::types::{set, zset, Hash, List, Packed, Set, ZSet};
use crate::keyspace::{Blob, Value};

/// The newest format version we read (Redis 7.2's).
pub const MAX_VERSION: u32 = 11;

/// A reading failure: what went wrong, and the byte offset where.
#[derive(Debug)]
pub struct Corrupt {
    pub offset: usize,
    pub msg: String,
}

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {})", self.msg, self.offset)
    }
}

/// The encoding thresholds in force, which decide each loaded value's encoding.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub list_fill: i64,
    pub set: set::Limits,
    pub zset: zset::Limits,
}

impl Limits {
    pub fn from_settings(s: &Settings) -> Limits {
        Limits {
            hash_entries: s.hash_max_listpack_entries,
            hash_value: s.hash_max_listpack_value,
            list_fill: s.list_max_listpack_size,
            set: set::Limits {
                intset_entries: s.set_max_intset_entries,
                listpack_entries: s.set_max_listpack_entries,
                listpack_value: s.set_max_listpack_value,
            },
            zset: zset::Limits { entries: s.zset_max_listpack_entries, value: s.zset_max_listpack_value },
        }
    }
}

/// A cursor over RDB bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

/// What a length field holds: a length, or the code of a special string encoding.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn err<T>(&self, msg: impl Into<String>) -> Result<T, Corrupt> {
        Err(Corrupt { offset: self.pos, msg: msg.into() })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        if n > self.buf.len() - self.pos {
            return self.err("Unexpected EOF reading RDB file");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn byte(&mut self) -> Result<u8, Corrupt> {
        Ok(self.take(1)?[0])
    }

    fn raw_len(&mut self) -> Result<Len, Corrupt> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3F) as u64),
            1 => Len::Plain((((b & 0x3F) as u64) << 8) | self.byte()? as u64),
            2 if b == 0x80 => Len::Plain(u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64),
            2 if b == 0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().unwrap())),
            2 => return self.err(format!("Unknown length encoding {b} in rdbLoadLen()")),
            _ => Len::Encoded(b & 0x3F),
        })
    }

    pub fn length(&mut self) -> Result<u64, Corrupt> {
        match self.raw_len()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => self.err("Unexpected encoded length"),
        }
    }

    /// A length that counts things each taking at least one byte: more than the
    /// bytes left can only be corruption (and must not size an allocation).
    fn count(&mut self) -> Result<usize, Corrupt> {
        let n = self.length()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return self.err(format!("length {n} is larger than the rest of the input"));
        }
        Ok(n as usize)
    }

    pub fn string(&mut self) -> Result<Vec<u8>, Corrupt> {
        self.string_ref().map(Cow::into_owned)
    }

    /// A string, borrowed from the image when it is stored plain (no copy while loading
    /// millions of keys).
    pub fn string_ref(&mut self) -> Result<Cow<'a, [u8]>, Corrupt> {
        let owned = match self.raw_len()? {
            Len::Plain(n) => {
                if n > (self.buf.len() - self.pos) as u64 {
                    return self.err("Unexpected EOF reading RDB file");
                }
                return Ok(Cow::Borrowed(self.take(n as usize)?));
            }
            Len::Encoded(0) => Ok(itoa::Buffer::new().format(self.byte()? as i8).as_bytes().to_vec()),
            Len::Encoded(1) => Ok(itoa::Buffer::new().format(i16::from_le_bytes(self.take(2)?.try_into().unwrap())).as_bytes().to_vec()),
            Len::Encoded(2) => Ok(itoa::Buffer::new().format(i32::from_le_bytes(self.take(4)?.try_into().unwrap())).as_bytes().to_vec()),
            Len::Encoded(3) => {
                let at = self.pos;
                let clen = self.length()?;
                let ulen = self.length()?;
                if clen > (self.buf.len() - self.pos) as u64 {
                    return self.err("Unexpected EOF reading RDB file");
                }
                // LZF expands at most ~264 times: anything more is corruption.
                if ulen > clen.saturating_mul(300) + 64 {
                    return Err(Corrupt { offset: at, msg: format!("invalid LZF lengths {clen}/{ulen}") });
                }
                let src = self.take(clen as usize)?;
                lzf::decompress(src, ulen as usize).map_err(|m| Corrupt { offset: at, msg: m })
            }
            Len::Encoded(e) => self.err(format!("Unknown RDB string encoding type {e}")),
        };
        owned.map(Cow::Owned)
    }

    fn old_double(&mut self) -> Result<f64, Corrupt> {
        let n = self.byte()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.take(n as usize)?;
                match std::str::from_utf8(s).ok().and_then(|s| s.parse::<f64>().ok()) {
                    Some(v) => Ok(v),
                    None => self.err("invalid double value"),
                }
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64, Corrupt> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    /// A string holding an embedded format (listpack, ziplist, ...), decoded by `f`;
    /// its errors point at the string's start.
    fn blob<T>(&mut self, f: impl FnOnce(&[u8]) -> Result<T, String>) -> Result<T, Corrupt> {
        let at = self.pos;
        let b = self.string()?;
        f(&b).map_err(|m| Corrupt { offset: at, msg: m })
    }
}

fn parse_score(v: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(v).ok()?;
    let f = s.parse::<f64>().ok()?;
    (!f.is_nan()).then_some(f)
}

/// Reads one value of RDB type `t`; `Ok(None)` for an empty collection (which Redis
/// skips with a warning when loading a file, and RESTORE refuses).
pub fn read_object(r: &mut Reader, t: u8, lim: &Limits) -> Result<Option<Value>, Corrupt> {
    let start = r.pos;
    let corrupt = |msg: &str| Err(Corrupt { offset: start, msg: msg.to_string() });
    let v = match t {
        rdb::TYPE_STRING => Value::Str(match r.string_ref()? {
            Cow::Borrowed(s) => Blob::new(s),
            Cow::Owned(v) => Blob::from_vec(v),
        }),
        rdb::TYPE_LIST | rdb::TYPE_LIST_ZIPLIST => {
            let elems = if t == rdb::TYPE_LIST {
                let n = r.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(r.string()?);
                }
                v
            } else {
                r.blob(ziplist::decode_ziplist)?
            };
            if elems.is_empty() {
                return Ok(None);
            }
            let mut l = List::loading();
            for e in &elems {
                l.push(e, false, lim.list_fill);
            }
            // Redis keeps a converted ziplist list a quicklist whatever its size.
            if t == rdb::TYPE_LIST {
                l.settle_loaded(lim.list_fill);
            }
            Value::List(Box::new(l))
        }
        rdb::TYPE_LIST_QUICKLIST | rdb::TYPE_LIST_QUICKLIST_2 => {
            let n = r.count()?;
            let mut l = List::loading();
            for _ in 0..n {
                let container = if t == rdb::TYPE_LIST_QUICKLIST_2 { r.length()? } else { 2 };
                let items = match container {
                    1 => vec![r.string()?],
                    2 if t == rdb::TYPE_LIST_QUICKLIST_2 => r.blob(listpack::decode)?,
                    2 => r.blob(ziplist::decode_ziplist)?,
                    _ => return corrupt("Quicklist integrity check failed."),
                };
                l.append_node(&items);
            }
            if l.is_empty() {
                return Ok(None);
            }
            l.settle_loaded(lim.list_fill);
            Value::List(Box::new(l))
        }
        rdb::TYPE_SET => {
            let n = r.count()?;
            if n == 0 {
                return Ok(None);
            }
            let mut s = if n > lim.set.intset_entries.min(1 << 30) { Set::new_table(n) } else { Set::new() };
            for _ in 0..n {
                let at = r.pos;
                let m = r.string()?;
                if !s.add(&m, &lim.set) {
                    return Err(Corrupt { offset: at, msg: "Duplicate set members detected".into() });
                }
            }
            Value::Set(s)
        }
        rdb::TYPE_SET_INTSET => {
            let vals = r.blob(ziplist::decode_intset)?;
            if vals.is_empty() {
                return Ok(None);
            }
            let mut s = if vals.len() > lim.set.intset_entries { Set::new_table(vals.len()) } else { Set::new() };
            let unbounded = set::Limits { intset_entries: usize::MAX, ..lim.set };
            for v in vals {
                s.add_int(v, &unbounded);
            }
            Value::Set(s)
        }
        rdb::TYPE_SET_LISTPACK => {
            let elems = r.blob(listpack::decode)?;
            if elems.is_empty() {
                return Ok(None);
            }
            let mut s = if elems.len() > lim.set.listpack_entries { Set::new_table(elems.len()) } else { Set::new_listpack() };
            let unbounded = set::Limits { intset_entries: usize::MAX, listpack_entries: usize::MAX, listpack_value: usize::MAX };
            for e in &elems {
                if !s.add(e, &unbounded) {
                    return corrupt("Set listpack integrity check failed.");
                }
            }
            Value::Set(s)
        }
        rdb::TYPE_ZSET | rdb::TYPE_ZSET_2 => {
            let n = r.count()?;
            if n == 0 {
                return Ok(None);
            }
            let mut pairs = Vec::with_capacity(n);
            let mut maxlen = 0;
            for _ in 0..n {
                let m = r.string()?;
                let at = r.pos;
                let s = if t == rdb::TYPE_ZSET_2 { r.binary_double()? } else { r.old_double()? };
                if s.is_nan() {
                    return Err(Corrupt { offset: at, msg: "Zset with NAN score detected".into() });
                }
                maxlen = maxlen.max(m.len());
                pairs.push((m, s));
            }
            build_zset(pairs, maxlen, lim.zset, false).map_err(|m| Corrupt { offset: start, msg: m.into() })?
        }
        rdb::TYPE_ZSET_ZIPLIST | rdb::TYPE_ZSET_LISTPACK => {
            let elems = if t == rdb::TYPE_ZSET_LISTPACK { r.blob(listpack::decode)? } else { r.blob(ziplist::decode_ziplist)? };
            if elems.len() % 2 != 0 {
                return corrupt("Zset listpack integrity check failed.");
            }
            if elems.is_empty() {
                return Ok(None);
            }
            let mut pairs = Vec::with_capacity(elems.len() / 2);
            let mut it = elems.into_iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                let Some(s) = parse_score(&s) else { return corrupt("Zset listpack integrity check failed.") };
                pairs.push((m, s));
            }
            build_zset(pairs, 0, lim.zset, true).map_err(|m| Corrupt { offset: start, msg: m.into() })?
        }
        rdb::TYPE_HASH => {
            let n = r.count()?;
            if n == 0 {
                return Ok(None);
            }
            // Pairs go to `packed` while the hash stays small, then to the table.
            let mut packed = (n <= lim.hash_entries).then(Packed::new);
            let mut h = Hash::new();
            if packed.is_none() {
                h.convert();
            }
            let mut seen = HashSet::new();
            for _ in 0..n {
                let at = r.pos;
                let f = r.string()?;
                let v = r.string()?;
                if packed.is_some() && (f.len() > lim.hash_value || v.len() > lim.hash_value) {
                    h = Hash::from_packed(packed.take().expect("checked"));
                    h.convert();
                }
                let new = match (&mut packed, &mut h) {
                    (Some(p), _) => {
                        p.push_back(&f);
                        p.push_back(&v);
                        seen.insert(f)
                    }
                    (None, Hash::Table(t)) => t.set(&f, &v),
                    (None, Hash::Packed(_)) => unreachable!("converted above"),
                };
                if !new {
                    return Err(Corrupt { offset: at, msg: "Duplicate hash fields detected".into() });
                }
            }
            if let Some(p) = packed {
                h = Hash::from_packed(p);
            }
            Value::Hash(h)
        }
        rdb::TYPE_HASH_ZIPMAP | rdb::TYPE_HASH_ZIPLIST | rdb::TYPE_HASH_LISTPACK => {
            let elems = match t {
                rdb::TYPE_HASH_ZIPMAP => r.blob(ziplist::decode_zipmap)?,
                rdb::TYPE_HASH_ZIPLIST => r.blob(ziplist::decode_ziplist)?,
                _ => r.blob(listpack::decode)?,
            };
            if elems.len() % 2 != 0 {
                return corrupt("Hash listpack integrity check failed.");
            }
            if elems.is_empty() {
                return Ok(None);
            }
            let n = elems.len() / 2;
            let mut p = Packed::new();
            let mut seen = HashSet::with_capacity(n);
            let mut maxlen = 0;
            for (i, e) in elems.iter().enumerate() {
                if i % 2 == 0 && !seen.insert(e.as_slice()) {
                    return corrupt("Hash with dup elements");
                }
                maxlen = maxlen.max(e.len());
                p.push_back(e);
            }
            let mut h = Hash::from_packed(p);
            // Zipmaps are checked on value length too; the others only on count.
            if n > lim.hash_entries || (t == rdb::TYPE_HASH_ZIPMAP && maxlen > lim.hash_value) {
                h.convert();
            }
            Value::Hash(h)
        }
        rdb::TYPE_STREAM_LISTPACKS | rdb::TYPE_STREAM_LISTPACKS_2 | rdb::TYPE_STREAM_LISTPACKS_3 => {
            return corrupt("Stream values are not supported yet");
        }
        rdb::TYPE_MODULE_PRE_GA | rdb::TYPE_MODULE_2 => return corrupt("Module values are not supported"),
        _ => return corrupt(&format!("Unknown RDB encoding type {t}")),
    };
    Ok(Some(v))
}

/// A sorted set from its pairs: a listpack when Redis would keep one. `packed_src`
/// says the source was already a listpack/ziplist, for which Redis checks only the
/// count (a skiplist is converted when both count and member lengths fit).
fn build_zset(pairs: Vec<(Vec<u8>, f64)>, maxlen: usize, lim: zset::Limits, packed_src: bool) -> Result<Value, &'static str> {
    let n = pairs.len();
    let fits = n <= lim.entries && (packed_src || maxlen <= lim.value);
    let build_lim = if fits { zset::Limits { entries: usize::MAX, value: usize::MAX } } else { lim };
    let mut z = ZSet::new();
    if !fits {
        z.convert_to_tree();
    }
    for (m, s) in &pairs {
        if z.set(m, *s, build_lim).is_some() {
            return Err("Duplicate zset fields detected");
        }
    }
    Ok(Value::ZSet(z))
}

/// Checks a DUMP payload's footer: RDB version (little-endian u16, at most ours) and
/// CRC-64 of everything before the checksum.
pub fn verify_dump(p: &[u8]) -> bool {
    if p.len() < 10 {
        return false;
    }
    let footer = &p[p.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]) as u32;
    if ver > MAX_VERSION {
        return false;
    }
    CRC64.checksum(&p[..p.len() - 8]).to_le_bytes() == footer[2..]
}

/// The value in a verified DUMP payload.
pub fn read_dump(p: &[u8], lim: &Limits) -> Result<Value, Corrupt> {
    let mut r = Reader::new(&p[..p.len() - 10]);
    let t = r.byte()?;
    match read_object(&mut r, t, lim)? {
        Some(v) => Ok(v),
        None => r.err("empty key"),
    }
}

/// One key read from an RDB file.
pub struct Loaded<'a> {
    pub db: usize,
    pub key: Cow<'a, [u8]>,
    pub value: Value,
    /// Absolute unix ms, 0 for none.
    pub expire_at: u64,
    /// Seconds idle, from an LRU opcode.
    pub idle: Option<u64>,
    /// The LFU counter, from a FREQ opcode.
    pub freq: Option<u8>,
}

/// Totals of a load, for the log lines Redis prints.
#[derive(Default, Debug)]
pub struct Summary {
    pub version: u32,
    pub keys: u64,
    pub expired: u64,
    pub empty_skipped: u64,
    pub aux: Vec<(String, String)>,
    /// Where the RDB ends (after its checksum): an AOF's commands may follow.
    pub end: usize,
}

/// Reads a whole RDB file, handing each live key to `sink` (which may refuse it,
/// e.g. for a database number out of range). Keys already expired at `now` are
/// skipped, as a master does.
pub fn load<'d>(data: &'d [u8], lim: &Limits, databases: usize, now: u64, sink: impl FnMut(Loaded<'d>)) -> Result<Summary, Corrupt> {
    load_with(data, lim, databases, now, None, |_, _| {}, sink)
}

/// [`load`], told each RESIZEDB hint (database, keys) so tables can be sized up front,
/// and optionally given the checksum of `data` minus its last 8 bytes, computed
/// elsewhere meanwhile (used when the RDB is the whole of `data`).
fn load_with<'d>(
    data: &'d [u8],
    lim: &Limits,
    databases: usize,
    now: u64,
    crc_hint: Option<std::thread::ScopedJoinHandle<'_, u64>>,
    mut on_resize: impl FnMut(usize, u64),
    mut sink: impl FnMut(Loaded<'d>),
) -> Result<Summary, Corrupt> {
    let mut r = Reader::new(data);
    let magic = r.take(9.min(data.len()))?;
    if magic.len() < 9 || &magic[..5] != b"REDIS" {
        return Err(Corrupt { offset: 0, msg: "Wrong signature trying to load DB from file".into() });
    }
    let ver = std::str::from_utf8(&magic[5..]).ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    if !(1..=MAX_VERSION).contains(&ver) {
        return Err(Corrupt { offset: 5, msg: format!("Can't handle RDB format version {ver}") });
    }
    let mut sum = Summary { version: ver, ..Summary::default() };
    let (mut db, mut expire_at, mut idle, mut freq) = (0usize, 0u64, None, None);
    loop {
        let op_at = r.pos;
        let op = r.byte()?;
        match op {
            rdb::OP_EOF => break,
            rdb::OP_SELECTDB => {
                let n = r.length()?;
                if n >= databases as u64 {
                    return Err(Corrupt {
                        offset: op_at,
                        msg: format!(
                            "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases"
                        ),
                    });
                }
                db = n as usize;
            }
            rdb::OP_EXPIRETIME => {
                expire_at = u32::from_le_bytes(r.take(4)?.try_into().unwrap()) as u64 * 1000;
            }
            rdb::OP_EXPIRETIME_MS => {
                expire_at = u64::from_le_bytes(r.take(8)?.try_into().unwrap());
            }
            rdb::OP_RESIZEDB => {
                let n = r.length()?;
                r.length()?;
                on_resize(db, n);
            }
            rdb::OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                sum.aux.push((String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()));
            }
            rdb::OP_FREQ => freq = Some(r.byte()?),
            rdb::OP_IDLE => idle = Some(r.length()?),
            rdb::OP_FUNCTION2 => {
                let code = r.string()?;
                let loaded = crate::scripting::vm::with_vm(|vm| {
                    let lib = crate::scripting::library::compile_library(vm, &code)?;
                    crate::scripting::library::libraries().install(vec![lib], crate::scripting::library::load_policy(), true)
                });
                if let Err(e) = loaded {
                    return Err(Corrupt { offset: op_at, msg: format!("Failed loading library: {e}") });
                }
            }
            rdb::OP_FUNCTION_PRE_GA => return Err(Corrupt { offset: op_at, msg: "Pre-release function format not supported".into() }),
            rdb::OP_MODULE_AUX => return Err(Corrupt { offset: op_at, msg: "Module auxiliary data is not supported".into() }),
            t => {
                let key = r.string_ref()?;
                let Some(value) = read_object(&mut r, t, lim)? else {
                    tracing::warn!("rdbLoadObject skipping empty key: {}", String::from_utf8_lossy(&key));
                    sum.empty_skipped += 1;
                    (expire_at, idle, freq) = (0, None, None);
                    continue;
                };
                if expire_at != 0 && expire_at < now {
                    sum.expired += 1;
                } else {
                    sum.keys += 1;
                    sink(Loaded { db, key, value, expire_at, idle, freq });
                }
                (expire_at, idle, freq) = (0, None, None);
            }
        }
    }
    if ver >= 5 {
        let body_end = r.pos;
        let at = r.pos;
        let sum_bytes = r.take(8)?;
        let expected = u64::from_le_bytes(sum_bytes.try_into().unwrap());
        if expected != 0 {
            let got = match crc_hint {
                Some(h) if body_end + 8 == data.len() => h.join().unwrap_or_default(),
                _ => CRC64.checksum(&data[..body_end]),
            };
            if got != expected {
                return Err(Corrupt { offset: at, msg: format!("Wrong RDB checksum expected: ({expected:x}) got ({got:x})") });
            }
        }
    }
    sum.end = r.pos;
    Ok(sum)
}

/// Loads `data` into `keys`, which must hold every shard (a key already present is
/// replaced). Loaded keys get the access clock `lru`, less any idle time recorded.
pub fn load_into(
    keys: &mut crate::keyspace::Locked,
    data: &[u8],
    lim: &Limits,
    databases: usize,
    now: u64,
    lru: u32,
) -> Result<Summary, Corrupt> {
    use crate::keyspace::{hash_key, shard_of, value::enc, Slot};
    load(data, lim, databases, now, |k| {
        let hash = hash_key(&k.key);
        let slot = Slot { db: k.db as u32, shard: shard_of(hash) as u32 };
        let lru = access_field(&k, lru);
        keys.shard_mut(slot).put(hash, &k.key, k.value, k.expire_at, lru, enc::AUTO);
    })
}

/// A loaded key's access field: its LFU counter under an LFU policy, else the LRU
/// clock less its recorded idle time.
fn access_field(k: &Loaded, lru: u32) -> u32 {
    if crate::evict::lfu::on() {
        return k.freq.map_or_else(crate::evict::lfu::new_key, crate::evict::lfu::with);
    }
    k.idle.map_or(lru, |i| lru.saturating_sub(i.min(u32::MAX as u64) as u32))
}

/// Loads a whole RDB image into the keyspace with several threads: this one parses,
/// the others insert (each owning a share of the shards) and one checksums. Only for
/// start-up, when no client can be running: shards are locked one key at a time.
pub fn load_parallel<'d>(srv: &crate::server::Server, data: &'d [u8], lim: &Limits, now: u64) -> Result<Summary, Corrupt> {
    use crate::keyspace::{hash_key, shard_of, value::enc, SHARDS};
    let ks = &srv.keyspace;
    let lru = srv.lru_clock();
    let databases = ks.databases();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    type Batch<'d> = Vec<(u64, Loaded<'d>)>;
    std::thread::scope(|sc| {
        let crc = (data.len() > 8).then(|| sc.spawn(|| CRC64.checksum(&data[..data.len() - 8])));
        let mut txs = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch<'d>>(16);
            txs.push(tx);
            sc.spawn(move || {
                for batch in rx {
                    for (hash, k) in batch {
                        let lru = access_field(&k, lru);
                        ks.shard(k.db, shard_of(hash)).put(hash, &k.key, k.value, k.expire_at, lru, enc::AUTO);
                    }
                }
            });
        }
        let mut bufs: Vec<Batch<'d>> = (0..workers).map(|_| Vec::with_capacity(256)).collect();
        let res = load_with(
            data,
            lim,
            databases,
            now,
            crc,
            |db, n| {
                let per = n as usize / SHARDS;
                for i in 0..SHARDS {
                    ks.shard(db, i).dict.reserve(per, hash_key);
                }
            },
            |k| {
                let hash = hash_key(&k.key);
                let w = shard_of(hash) % workers;
                bufs[w].push((hash, k));
                if bufs[w].len() >= 256 {
                    let _ = txs[w].send(std::mem::replace(&mut bufs[w], Vec::with_capacity(256)));
                }
            },
        );
        for (w, b) in bufs.into_iter().enumerate() {
            let _ = txs[w].send(b);
        }
        drop(txs);
        res
    })
}

/// Start-up loading of `path` if it exists, with Redis's log lines. A file that
/// cannot be read back stops the server, naming the file and the offset.
pub fn load_at_startup(srv: &crate::server::Server, path: &std::path::Path) -> Result<(), String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("Fatal error loading the DB ({}): {e}. Exiting.", path.display())),
    };
    let started = std::time::Instant::now();
    let settings = srv.config.settings();
    let lim = Limits::from_settings(&settings);
    let now = crate::util::now_ms();
    match load_parallel(srv, &data, &lim, now) {
        Ok(sum) => {
            log_summary(&sum, now);
            tracing::info!("DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
            crate::replication::restore_from_rdb(srv, &sum.aux);
            Ok(())
        }
        Err(c) => {
            tracing::warn!("Internal error in RDB reading offset {} function at rdbLoad -> {}", c.offset, c.msg);
            Err(format!(
                "Fatal error loading the DB ({}): {} at offset {}. Run 'redis-check-rdb {}' to inspect it. Exiting.",
                path.display(),
                c.msg,
                c.offset,
                path.display()
            ))
        }
    }
}

/// The lines Redis logs about a loaded RDB.
pub fn log_summary(sum: &Summary, now: u64) {
    for (k, v) in &sum.aux {
        match k.as_str() {
            "redis-ver" => tracing::info!("Loading RDB produced by version {v}"),
            "aof-base" if v == "1" => tracing::info!("RDB is base AOF"),
            "ctime" => {
                if let Ok(t) = v.parse::<u64>() {
                    tracing::info!("RDB age {} seconds", (now / 1000).saturating_sub(t));
                }
            }
            "used-mem" => {
                if let Ok(m) = v.parse::<u64>() {
                    tracing::info!("RDB memory usage when created {:.2} Mb", m as f64 / (1024.0 * 1024.0));
                }
            }
            _ => {}
        }
    }
    tracing::info!("Done loading RDB, keys loaded: {}, keys expired: {}.", sum.keys, sum.expired);
    if sum.empty_skipped > 0 {
        tracing::info!("Done loading RDB, empty keys skipped: {}.", sum.empty_skipped);
    }
}
