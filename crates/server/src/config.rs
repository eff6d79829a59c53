//! Configuration: ONE table of options (name, type, default, flags). Loading redis.conf,
//! `--name value` flags, CONFIG GET/SET/REWRITE and the typed [`Settings`] the server
//! reads all come from it, so no option needs code of its own beyond its table line.
//!
//! Values are kept as the canonical text CONFIG GET prints (memory in bytes, `yes`/`no`,
//! lowercase enums, `save`/`client-output-buffer-limit` in Redis's merged form), and
//! every check and error message follows Redis 7.2's `config.c`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::util::{glob_match, parse_canonical_i64, parse_f64};

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    Int(i64, i64),
    /// A byte count; accepts `1k`, `5mb`, `2gb` (1k = 1000, 1kb = 1024) as redis.conf does.
    Mem(i64, i64),
    /// A byte count up to 2^64-1 (Redis's `unsigned long long` memory options: `maxmemory`).
    UMem,
    /// A byte count or `N%` (`maxmemory-clients`); the lower bound is minus the largest percent.
    MemPercent(i64, i64),
    /// A number written and shown in octal (`unixsocketperm`).
    Octal(i64, i64),
    Str,
    Enum(&'static [&'static str]),
    /// Several words of the list at once (`shutdown-on-sigint nosave now`); the first word
    /// means none of the others.
    Flags(&'static [&'static str]),
    /// Several space-separated words kept as one string (`save`, `bind`, ...).
    Multi,
}

impl Kind {
    /// Takes several arguments in a file line, and splits a CONFIG SET value on spaces.
    pub fn multi_arg(&self) -> bool {
        matches!(self, Kind::Multi | Kind::Flags(_))
    }
}

pub const IMMUTABLE: u8 = 1;
/// Accepted and shown, but not acted on yet: the loader warns once when a file sets it.
pub const NOT_YET: u8 = 2;
pub const SENSITIVE: u8 = 4;
/// Shown by CONFIG GET only when asked by its exact name, never by a pattern.
pub const HIDDEN: u8 = 8;
/// CONFIG SET refuses it unless `enable-protected-configs` allows it (`dir`, `dbfilename`).
pub const PROTECTED: u8 = 16;

pub struct Opt {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
}

const fn opt(name: &'static str, kind: Kind, default: &'static str, flags: u8) -> Opt {
    Opt { name, alias: None, kind, default, flags }
}

const fn aliased(name: &'static str, alias: &'static str, kind: Kind, default: &'static str, flags: u8) -> Opt {
    Opt { name, alias: Some(alias), kind, default, flags }
}

// Enum words in Redis's order: the order shows in the "must be one of" error.
const MAXMEMORY_POLICIES: &[&str] =
    &["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"];
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const ENABLE: &[&str] = &["no", "yes", "local"];
const FSYNC: &[&str] = &["everysec", "always", "no"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const SYSLOG_FACILITIES: &[&str] = &["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"];
const REPL_DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];
const TLS_AUTH_CLIENTS: &[&str] = &["no", "yes", "optional"];
/// `relative` is another spelling of `yes`; CONFIG GET shows `yes`.
const OOM_SCORE_ADJ: &[&str] = &["no", "yes", "relative", "absolute"];
const ACL_PUBSUB_DEFAULT: &[&str] = &["allchannels", "resetchannels"];
const SANITIZE_DUMP_PAYLOAD: &[&str] = &["no", "yes", "clients"];
const CLUSTER_ENDPOINT_TYPES: &[&str] = &["ip", "hostname", "unknown-endpoint"];
const PROPAGATION_ERROR_BEHAVIOR: &[&str] = &["ignore", "panic", "panic-on-replicas"];
const SHUTDOWN_ON_SIG: &[&str] = &["default", "save", "nosave", "now", "force"];
const MAX: i64 = i64::MAX;
const IMM_NY: u8 = IMMUTABLE | NOT_YET;

mod table;
pub use table::OPTIONS;

pub fn find(name: &str) -> Option<(usize, &'static Opt)> {
    let lower = name.to_ascii_lowercase();
    OPTIONS.iter().enumerate().find(|(_, o)| o.name == lower || o.alias == Some(lower.as_str()))
}

/// The reason [`Config::set_many`] gives for a name that is not an option.
pub const UNKNOWN_OPTION: &str = "Unknown option or number of arguments for CONFIG SET";

/// The full CONFIG SET error (without the leading `-`) for an error of
/// [`Config::set_many`], worded as Redis 7.2 words it.
pub fn set_error_reply(name: &str, why: &str) -> String {
    if why == UNKNOWN_OPTION {
        format!("ERR {UNKNOWN_OPTION} - '{name}'")
    } else {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    }
}

/// Redis's `memtoull`: digits (possibly none, which reads as 0) then an optional unit
/// `b`, `k`, `kb`, `m`, `mb`, `g`, `gb` in any case; no sign, no spaces.
fn memtoull(s: &str) -> Option<u64> {
    let end = s.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    // strtoull saturates on overflow and the product wraps, as in C.
    let n = if digits.is_empty() { 0 } else { digits.parse::<u64>().unwrap_or(u64::MAX) };
    Some(n.wrapping_mul(mul))
}

/// Parses a memory value: plain bytes or with a k/kb/m/mb/g/gb unit.
pub fn parse_memory(s: &str) -> Option<i64> {
    memtoull(s).and_then(|n| i64::try_from(n).ok())
}

/// C's `strtoll` where the whole string must be consumed (`*endptr == '\0'`): leading
/// blanks and a sign are allowed, the empty string reads as 0. Returns the value
/// (saturated) and whether it overflowed.
fn c_strtoll(s: &str, radix: u32) -> Option<(i64, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(radix) else { break };
        v = (v * radix as i128 + d as i128).min(i64::MAX as i128 + 2);
        i += 1;
    }
    if i == start {
        // No digits: endptr is the start of the string.
        return if s.is_empty() { Some((0, false)) } else { None };
    }
    if i != b.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    let clamped = v.clamp(i64::MIN as i128, i64::MAX as i128);
    Some((clamped as i64, clamped != v))
}

fn range_error(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

fn enum_error(vals: &[&str]) -> String {
    format!("argument(s) must be one of the following: {}", vals.join(", "))
}

/// Checks and normalises a value for an option; the error is Redis's wording.
pub fn normalize(o: &Opt, v: &str) -> Result<String, String> {
    normalize_over(o, v, None)
}

/// As [`normalize`], over the option's current value `cur` (options such as
/// `client-output-buffer-limit` change only the parts they name).
fn normalize_over(o: &Opt, v: &str, cur: Option<&str>) -> Result<String, String> {
    match o.kind {
        Kind::Bool => {
            if v.eq_ignore_ascii_case("yes") {
                Ok("yes".into())
            } else if v.eq_ignore_ascii_case("no") {
                Ok("no".into())
            } else {
                Err("argument must be 'yes' or 'no'".into())
            }
        }
        Kind::Int(min, max) => {
            let n = parse_canonical_i64(v.as_bytes()).ok_or("argument couldn't be parsed into an integer")?;
            if n < min || n > max {
                return Err(range_error(min, max));
            }
            // Redis accepts any hz but caps it to 1..=500.
            let n = if o.name == "hz" { n.clamp(1, 500) } else { n };
            Ok(n.to_string())
        }
        Kind::Mem(min, max) => {
            // As in C, a count past i64::MAX reads as negative and fails the bounds.
            let n = memtoull(v).ok_or("argument must be a memory value")? as i64;
            if n < min || n > max {
                return Err(range_error(min, max));
            }
            Ok(n.to_string())
        }
        Kind::UMem => Ok(memtoull(v).ok_or("argument must be a memory value")?.to_string()),
        Kind::MemPercent(min, max) => {
            // Percentages are kept negative while checking, as Redis stores them.
            let n = match memtoull(v) {
                Some(n) => n as i64,
                None => match v.strip_suffix('%').filter(|p| !p.is_empty()).and_then(|p| parse_canonical_i64(p.as_bytes())) {
                    Some(p) if p >= 0 => -p,
                    _ => return Err("argument must be a memory or percent value".into()),
                },
            };
            if n < 0 {
                if n < min {
                    return Err(format!("percentage argument must be less or equal to {}", -min));
                }
                return Ok(format!("{}%", -n));
            }
            if n > max {
                return Err(range_error(min, max));
            }
            Ok(n.to_string())
        }
        Kind::Octal(min, max) => {
            let n = match c_strtoll(v, 8) {
                Some((n, false)) => n,
                _ => return Err("argument couldn't be parsed as an octal number".into()),
            };
            // An unsigned option: negative numbers wrap around and fail the upper bound.
            if (n as u64) < min as u64 || (n as u64) > max as u64 {
                return Err(format!("argument must be between {min:o} and {max:o} inclusive"));
            }
            Ok(format!("{n:o}"))
        }
        Kind::Enum(vals) => {
            let l = v.to_ascii_lowercase();
            if !vals.contains(&l.as_str()) {
                return Err(enum_error(vals));
            }
            if o.name == "oom-score-adj" && l == "relative" {
                return Ok("yes".into());
            }
            Ok(l)
        }
        Kind::Flags(vals) => {
            let words = split_value(v);
            if words.is_empty() {
                return Err(enum_error(vals));
            }
            let mut bits = 0u32;
            for w in &words {
                match vals.iter().position(|x| x.eq_ignore_ascii_case(w)) {
                    Some(0) => {}
                    Some(i) => bits |= 1 << (i - 1),
                    None => return Err(enum_error(vals)),
                }
            }
            if vals == SHUTDOWN_ON_SIG && bits & 0b11 == 0b11 {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            if bits == 0 {
                return Ok(vals[0].to_string());
            }
            let names: Vec<&str> = vals[1..].iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, n)| *n).collect();
            Ok(names.join(" "))
        }
        Kind::Str => check_string(o.name, v),
        Kind::Multi => normalize_multi(o, &split_value(v), cur),
    }
}

/// A CONFIG SET value of a multi-word option split as Redis splits it: on each single
/// space; the empty string is no words at all.
fn split_value(v: &str) -> Vec<&str> {
    if v.is_empty() {
        Vec::new()
    } else {
        v.split(' ').collect()
    }
}

fn check_string(name: &str, v: &str) -> Result<String, String> {
    let is_path = v.contains('/') || v.contains('\\');
    match name {
        "notify-keyspace-events" => keyspace_events(v),
        "dbfilename" if is_path => Err("dbfilename can't be a path, just a filename".into()),
        "appendfilename" | "appenddirname" if v.is_empty() => Err(format!("{name} can't be empty")),
        "appendfilename" if is_path => Err("appendfilename can't be a path, just a filename".into()),
        "appenddirname" if is_path => Err("appenddirname can't be a path, just a dirname".into()),
        "proc-title-template" if !valid_proc_title_template(v) => Err("template format is invalid or contains unknown variables".into()),
        "cluster-announce-hostname" if v.len() >= 256 => Err("Hostnames must be less than 256 characters".into()),
        "cluster-announce-hostname" if !v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') => {
            Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
        }
        "cluster-announce-human-nodename" if v.bytes().any(|c| !c.is_ascii_alphanumeric() && b"!#$%&()*+:;<>?@[]^{|}~".contains(&c)) => {
            Err("Announced human node name contained invalid character".into())
        }
        "locale-collate" if !v.is_empty() && !valid_locale(v) => Err("Invalid locale name".into()),
        _ => Ok(v.to_string()),
    }
}

/// `notify-keyspace-events`: the class letters, shown in Redis's canonical order
/// (`KEA` shows as `AKE`).
fn keyspace_events(v: &str) -> Result<String, String> {
    // Letters in display order with their bit; `A` is every class but `m`, `n` and `K`/`E`.
    const CLASSES: &[(char, u32)] = &[
        ('g', 1 << 2),
        ('$', 1 << 3),
        ('l', 1 << 4),
        ('s', 1 << 5),
        ('h', 1 << 6),
        ('z', 1 << 7),
        ('x', 1 << 8),
        ('e', 1 << 9),
        ('t', 1 << 10),
        ('d', 1 << 13),
        ('n', 1 << 14),
    ];
    const ALL: u32 = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 13);
    const TAIL: &[(char, u32)] = &[('K', 1), ('E', 1 << 1), ('m', 1 << 11)];
    let mut flags = 0u32;
    for c in v.chars() {
        flags |= match c {
            'A' => ALL,
            c => match CLASSES.iter().chain(TAIL).find(|(l, _)| *l == c) {
                Some((_, bit)) => *bit,
                None => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            },
        };
    }
    let mut out = String::new();
    if flags & ALL == ALL {
        // Redis shows `A` alone but still acts on `n`: the stored value keeps it and
        // CONFIG GET hides it (`shown`).
        out.push('A');
        if flags & (1 << 14) != 0 {
            out.push('n');
        }
    } else {
        out.extend(CLASSES.iter().filter(|(_, b)| flags & b != 0).map(|(c, _)| *c));
    }
    out.extend(TAIL.iter().filter(|(_, b)| flags & b != 0).map(|(c, _)| *c));
    Ok(out)
}

/// `proc-title-template`: `{variable}` names must be known, `{{` is a literal brace, and
/// the title must not expand to nothing.
fn valid_proc_title_template(t: &str) -> bool {
    let mut rest = t;
    let mut nonempty = false;
    while let Some(open) = rest.find('{') {
        nonempty |= !rest[..open].trim_matches(' ').is_empty();
        let after = &rest[open + 1..];
        if after.is_empty() {
            return false;
        }
        if let Some(r) = after.strip_prefix('{') {
            nonempty = true;
            rest = r;
            continue;
        }
        let Some(close) = after.find('}') else { return false };
        match &after[..close] {
            "title" | "server-mode" | "unixsocket" => {}
            "listen-addr" | "config-file" | "port" | "tls-port" => nonempty = true,
            _ => return false,
        }
        rest = &after[close + 1..];
    }
    nonempty || !rest.trim_matches(' ').is_empty()
}

fn valid_locale(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else { return false };
    // SAFETY: newlocale only reads the NUL-terminated name and does not touch the
    // process locale; the object it returns is freed at once.
    unsafe {
        let l = libc::newlocale(libc::LC_COLLATE_MASK, c.as_ptr(), std::ptr::null_mut());
        if l.is_null() {
            return false;
        }
        libc::freelocale(l);
    }
    true
}

/// The options made of several words, each with Redis's own checks and display form.
fn normalize_multi(o: &Opt, args: &[&str], cur: Option<&str>) -> Result<String, String> {
    match o.name {
        "save" => {
            let bad = || "Invalid save parameters".to_string();
            if !args.len().is_multiple_of(2) {
                return Err(bad());
            }
            let mut out = Vec::new();
            for pair in args.chunks(2) {
                let (secs, _) = c_strtoll(pair[0], 10).ok_or_else(bad)?;
                let (changes, _) = c_strtoll(pair[1], 10).ok_or_else(bad)?;
                if secs < 1 || changes < 0 {
                    return Err(bad());
                }
                // The change count is a C int.
                out.push(format!("{secs} {}", changes as i32));
            }
            Ok(out.join(" "))
        }
        "client-output-buffer-limit" => {
            if !args.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            let base = cur.unwrap_or(o.default);
            let mut limits: Vec<String> = base.split(' ').map(str::to_string).collect();
            if limits.len() != 12 {
                limits = o.default.split(' ').map(str::to_string).collect();
            }
            for group in args.chunks(4) {
                let class = match group[0].to_ascii_lowercase().as_str() {
                    "normal" => 0,
                    "slave" | "replica" => 1,
                    "pubsub" => 2,
                    _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
                };
                let secs = c_strtoll(group[3], 10).map(|(n, _)| n as i32);
                match (memtoull(group[1]), memtoull(group[2]), secs) {
                    (Some(hard), Some(soft), Some(secs)) if secs >= 0 => {
                        limits[class * 4 + 1] = hard.to_string();
                        limits[class * 4 + 2] = soft.to_string();
                        limits[class * 4 + 3] = secs.to_string();
                    }
                    _ => return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into()),
                }
            }
            Ok(limits.join(" "))
        }
        "oom-score-adj-values" => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut out = Vec::new();
            for a in args {
                match c_strtoll(a, 10) {
                    Some((n, _)) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
                    _ => return Err("Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into()),
                }
            }
            Ok(out.join(" "))
        }
        "bind" => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            Ok(args.join(" "))
        }
        "replicaof" => {
            if args.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                return Ok(String::new());
            }
            match c_strtoll(args[1], 10) {
                Some((port, _)) if (0..=65535).contains(&port) => Ok(format!("{} {port}", args[0])),
                _ => Err("Invalid master port".into()),
            }
        }
        "latency-tracking-info-percentiles" => {
            let mut out = Vec::new();
            for a in args {
                let p = parse_f64(a.as_bytes()).ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&p) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                // "%f" with the trailing zeros (and a bare dot) trimmed.
                let s = format!("{p:.6}");
                out.push(s.trim_end_matches('0').trim_end_matches('.').to_string());
            }
            Ok(out.join(" "))
        }
        _ => Ok(args.join(" ")),
    }
}

/// The typed view of the options the server acts on, rebuilt on every change;
/// connections keep an `Arc` and refresh it when [`Config::version`] moves.
#[derive(Clone, Debug)]
pub struct Settings {
    pub port: u16,
    pub bind: Vec<String>,
    pub databases: usize,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: usize,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: usize,
    pub timeout: u64,
    pub enable_debug_command: String,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    pub latency_monitor_threshold: u64,
    pub hz: u64,
    pub protected_mode: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub repl_backlog_size: usize,
    pub dir: String,
    pub loglevel: String,
    pub logfile: String,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub hll_sparse_max_bytes: usize,
    /// `client-output-buffer-limit pubsub`: hard bytes, soft bytes, soft seconds.
    pub pubsub_obuf_limit: (usize, usize, u64),
    /// `client-output-buffer-limit replica`: hard bytes, soft bytes, soft seconds.
    pub replica_obuf_limit: (usize, usize, u64),
    /// `notify-keyspace-events` as flags (`crate::notify`).
    pub notify_flags: u32,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: usize,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u64,
    /// `save` as (seconds, changes) pairs; empty disables automatic snapshots.
    pub save_points: Vec<(u64, u64)>,
    pub stop_writes_on_bgsave_error: bool,
    pub rdb_key_save_delay: i64,
    pub appendonly: bool,
    pub appendfsync: String,
    pub aof_use_rdb_preamble: bool,
    pub aof_load_truncated: bool,
    pub aof_timestamp_enabled: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub no_appendfsync_on_rewrite: bool,
    pub replica_read_only: bool,
    pub replica_serve_stale_data: bool,
    pub min_replicas_to_write: usize,
    pub min_replicas_max_lag: u64,
    /// `busy-reply-threshold` (`lua-time-limit`) in ms: a script running longer is busy.
    pub busy_reply_threshold: u64,
}

pub struct Config {
    values: RwLock<Vec<String>>,
    settings: RwLock<Arc<Settings>>,
    version: AtomicU64,
    /// The file given at start-up (CONFIG REWRITE target), if any.
    pub file: Mutex<Option<std::path::PathBuf>>,
    warned: Mutex<HashSet<&'static str>>,
}

/// The working directory, which is what `dir` shows (Redis answers with `getcwd`).
fn cwd() -> String {
    std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default()
}

impl Config {
    pub fn new() -> Config {
        // Defaults are written in canonical form (a unit test checks it); `replicaof`'s
        // empty default is one no file or CONFIG SET can give back.
        let values: Vec<String> = OPTIONS.iter().map(|o| o.default.to_string()).collect();
        let settings = Arc::new(build_settings(&values));
        crate::evict::configure(&settings);
        Config {
            values: RwLock::new(values),
            settings: RwLock::new(settings),
            version: AtomicU64::new(0),
            file: Mutex::new(None),
            warned: Mutex::new(HashSet::new()),
        }
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().clone()
    }

    /// The value CONFIG GET shows for an option stored as `stored`.
    fn shown(o: &Opt, stored: &str) -> String {
        if o.name == "dir" {
            cwd()
        } else if o.name == "notify-keyspace-events" && stored.starts_with('A') {
            stored.replace('n', "")
        } else {
            stored.to_string()
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let (i, o) = find(name)?;
        Some(Self::shown(o, &self.values.read()[i]))
    }

    /// CONFIG GET: every (name, value) whose name or alias matches one of the patterns.
    /// A pattern without `*`, `?` or `[` is a plain name and also finds hidden options.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for p in patterns {
            if !p.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                let Ok(name) = std::str::from_utf8(p) else { continue };
                if let Some((i, o)) = find(name) {
                    let shown = if o.name.eq_ignore_ascii_case(name) { o.name } else { o.alias.unwrap_or(o.name) };
                    if seen.insert(shown) {
                        out.push((shown, Self::shown(o, &values[i])));
                    }
                }
                continue;
            }
            for (i, o) in OPTIONS.iter().enumerate() {
                if o.flags & HIDDEN != 0 {
                    continue;
                }
                for name in std::iter::once(o.name).chain(o.alias) {
                    if glob_match(p, name.as_bytes(), true) && seen.insert(name) {
                        out.push((name, Self::shown(o, &values[i])));
                    }
                }
            }
        }
        out
    }

    /// Sets several options at once, all or nothing (CONFIG SET semantics). The error
    /// names the offending argument as Redis does; format it with [`set_error_reply`].
    /// The client is taken as remote for `enable-protected-configs local`.
    pub fn set_many(&self, pairs: &[(&str, &str)], startup: bool) -> Result<(), (String, String)> {
        self.set_many_from(pairs, startup, false)
    }

    /// [`Config::set_many`] for a client that is (`local`) or is not on the loopback
    /// interface, which decides `enable-protected-configs local`.
    pub fn set_many_from(&self, pairs: &[(&str, &str)], startup: bool, local: bool) -> Result<(), (String, String)> {
        let mut values = self.values.write();
        // First the names, in order: the first unknown, immutable, protected or repeated
        // one fails the whole command, named as the client spelled it.
        let protected_ok = match values[find("enable-protected-configs").expect("known option").0].as_str() {
            "yes" => true,
            "local" => local,
            _ => false,
        };
        let mut targets: Vec<(usize, &'static Opt, String)> = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let Some((i, o)) = find(name) else {
                return Err((name.to_string(), UNKNOWN_OPTION.into()));
            };
            if !startup && o.flags & IMMUTABLE != 0 {
                return Err((name.to_string(), "can't set immutable config".into()));
            }
            if !startup && o.flags & PROTECTED != 0 && !protected_ok {
                return Err((name.to_string(), "can't set protected config".into()));
            }
            // As in Redis, an option and its alias are different names here.
            let spelled = name.to_ascii_lowercase();
            if targets.iter().any(|(j, _, s)| *j == i && *s == spelled) {
                return Err((name.to_string(), "duplicate parameter".into()));
            }
            targets.push((i, o, spelled));
        }
        // Then the values, in order, each over the result of the ones before.
        let mut fresh = values.clone();
        let mut old_dir: Option<std::path::PathBuf> = None;
        let restore = |old_dir: &Option<std::path::PathBuf>| {
            if let Some(d) = old_dir {
                let _ = std::env::set_current_dir(d);
            }
        };
        for ((i, o, spelled), (_, val)) in targets.iter().zip(pairs) {
            let mut v = match normalize_over(o, val, Some(&fresh[*i])) {
                Ok(v) => v,
                Err(e) => {
                    restore(&old_dir);
                    return Err((spelled.clone(), e));
                }
            };
            if o.name == "dir" {
                // Redis changes directory at once (also while reading the file) and
                // shows the working directory from then on.
                if old_dir.is_none() {
                    old_dir = std::env::current_dir().ok();
                }
                if let Err(e) = std::env::set_current_dir(&v) {
                    restore(&old_dir);
                    return Err((spelled.clone(), crate::util::strerror(&e)));
                }
                v = cwd();
            }
            fresh[*i] = v;
        }
        *values = fresh;
        let settings = Arc::new(build_settings(&values));
        crate::evict::configure(&settings);
        *self.settings.write() = settings;
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Warns once per option that is accepted but not acted on yet.
    pub fn warn_not_yet(&self, name: &str) {
        if let Some((_, o)) = find(name) {
            if o.flags & NOT_YET != 0 && self.warned.lock().insert(o.name) {
                tracing::warn!("config option '{}' is accepted but not implemented yet; it has no effect", o.name);
            }
        }
    }

    /// The current values of every option, in table order (CONFIG REWRITE).
    pub fn snapshot(&self) -> Vec<(&'static Opt, String)> {
        let values = self.values.read();
        OPTIONS.iter().zip(values.iter()).map(|(o, v)| (o, Self::shown(o, v))).collect()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

fn build_settings(v: &[String]) -> Settings {
    let get = |name: &str| -> &str { &v[find(name).expect("known option").0] };
    let num = |name: &str| -> i64 { get(name).parse().unwrap_or(0) };
    let pass = get("requirepass");
    Settings {
        port: num("port") as u16,
        bind: get("bind").split_whitespace().map(str::to_string).collect(),
        databases: num("databases") as usize,
        requirepass: if pass.is_empty() { None } else { Some(pass.as_bytes().to_vec()) },
        maxclients: num("maxclients") as usize,
        proto_max_bulk_len: num("proto-max-bulk-len"),
        client_query_buffer_limit: num("client-query-buffer-limit") as usize,
        timeout: num("timeout") as u64,
        enable_debug_command: get("enable-debug-command").to_string(),
        slowlog_log_slower_than: num("slowlog-log-slower-than"),
        slowlog_max_len: num("slowlog-max-len") as usize,
        latency_monitor_threshold: num("latency-monitor-threshold") as u64,
        hz: num("hz").clamp(1, 500) as u64,
        protected_mode: get("protected-mode") == "yes",
        lazyfree_lazy_user_flush: get("lazyfree-lazy-user-flush") == "yes",
        repl_backlog_size: num("repl-backlog-size") as usize,
        dir: get("dir").to_string(),
        loglevel: get("loglevel").to_string(),
        logfile: get("logfile").to_string(),
        hash_max_listpack_entries: num("hash-max-listpack-entries") as usize,
        hash_max_listpack_value: num("hash-max-listpack-value") as usize,
        list_max_listpack_size: num("list-max-listpack-size"),
        set_max_intset_entries: num("set-max-intset-entries") as usize,
        set_max_listpack_entries: num("set-max-listpack-entries") as usize,
        set_max_listpack_value: num("set-max-listpack-value") as usize,
        zset_max_listpack_entries: num("zset-max-listpack-entries") as usize,
        zset_max_listpack_value: num("zset-max-listpack-value") as usize,
        hll_sparse_max_bytes: num("hll-sparse-max-bytes") as usize,
        pubsub_obuf_limit: obuf_class(get("client-output-buffer-limit"), "pubsub"),
        replica_obuf_limit: obuf_class(get("client-output-buffer-limit"), "replica"),
        notify_flags: crate::notify::flags_from_str(get("notify-keyspace-events")),
        maxmemory: get("maxmemory").parse().unwrap_or(0),
        maxmemory_policy: get("maxmemory-policy").to_string(),
        lfu_log_factor: get("lfu-log-factor").parse().unwrap_or(10),
        lfu_decay_time: get("lfu-decay-time").parse().unwrap_or(1),
        maxmemory_samples: num("maxmemory-samples") as usize,
        save_points: get("save")
            .split_whitespace()
            .collect::<Vec<_>>()
            .chunks(2)
            .filter_map(|c| Some((c.first()?.parse().ok()?, c.get(1)?.parse().ok()?)))
            .collect(),
        stop_writes_on_bgsave_error: get("stop-writes-on-bgsave-error") == "yes",
        rdb_key_save_delay: num("rdb-key-save-delay"),
        appendonly: get("appendonly") == "yes",
        appendfsync: get("appendfsync").to_string(),
        aof_use_rdb_preamble: get("aof-use-rdb-preamble") == "yes",
        aof_load_truncated: get("aof-load-truncated") == "yes",
        aof_timestamp_enabled: get("aof-timestamp-enabled") == "yes",
        auto_aof_rewrite_percentage: num("auto-aof-rewrite-percentage") as u64,
        auto_aof_rewrite_min_size: get("auto-aof-rewrite-min-size").parse().unwrap_or(0),
        no_appendfsync_on_rewrite: get("no-appendfsync-on-rewrite") == "yes",
        replica_read_only: get("replica-read-only") == "yes",
        replica_serve_stale_data: get("replica-serve-stale-data") == "yes",
        min_replicas_to_write: num("min-replicas-to-write") as usize,
        min_replicas_max_lag: num("min-replicas-max-lag") as u64,
        busy_reply_threshold: num("busy-reply-threshold").max(0) as u64,
    }
}

/// One class (`normal`, `replica`/`slave`, `pubsub`) of the stored
/// `client-output-buffer-limit` value: hard bytes, soft bytes, soft seconds.
fn obuf_class(v: &str, class: &str) -> (usize, usize, u64) {
    let w: Vec<&str> = v.split_whitespace().collect();
    w.chunks(4)
        .find(|c| c.len() == 4 && (c[0] == class || (class == "replica" && c[0] == "slave")))
        .map(|c| (c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0), c[3].parse().unwrap_or(0)))
        .unwrap_or((0, 0, 0))
}

/// A fatal error in the configuration file or the command line, printed the way
/// redis-server prints it before exiting. `line_no` 0 means an error found after
/// reading every line (no line is quoted).
pub struct FatalConfig {
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl std::fmt::Display for FatalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n", crate::REDIS_VERSION)?;
        if self.line_no > 0 {
            write!(f, "Reading the configuration file, at line {}\n>>> '{}'\n", self.line_no, self.line)?;
        }
        write!(f, "{}", self.reason)
    }
}

/// Directives of old versions that Redis 7.2 still accepts and ignores (with one argument).
const DEPRECATED: &[&str] = &["list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"];

struct LoadState {
    /// A `save` line replaces the default, later ones add to it (as redis.conf does).
    save_loaded: bool,
    depth: usize,
}

/// Loads the text of a redis.conf plus command-line overrides (already joined as
/// `name value` lines, as redis-server does) into `cfg`.
pub fn load_text(cfg: &Config, text: &str) -> Result<(), FatalConfig> {
    let mut state = LoadState { save_loaded: false, depth: 0 };
    load_lines(cfg, text, &mut state)?;
    // As Redis, make sure the log file can be opened before going on.
    let logfile = cfg.get("logfile").unwrap_or_default();
    if !logfile.is_empty() {
        if let Err(e) = std::fs::OpenOptions::new().create(true).append(true).open(&logfile) {
            return Err(FatalConfig {
                line_no: 0,
                line: String::new(),
                reason: format!("Can't open the log file: {}", crate::util::strerror(&e)),
            });
        }
    }
    Ok(())
}

fn lossy(words: Vec<Vec<u8>>) -> Vec<String> {
    words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect()
}

fn load_lines(cfg: &Config, text: &str, state: &mut LoadState) -> Result<(), FatalConfig> {
    for (n, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fatal = |reason: &str| FatalConfig { line_no: n + 1, line: line.to_string(), reason: reason.to_string() };
        let Some(words) = ferrokv_protocol::split_args(line.as_bytes()) else {
            return Err(fatal("Unbalanced quotes in configuration line"));
        };
        if words.is_empty() {
            continue;
        }
        let words = lossy(words);
        let name = words[0].to_ascii_lowercase();
        if let Some((_, o)) = find(&name) {
            let value = if o.kind.multi_arg() {
                // One non-empty argument is split again: `--save "900 1"` works.
                if words.len() == 2 && !words[1].is_empty() {
                    match ferrokv_protocol::split_args(words[1].as_bytes()) {
                        Some(w) => lossy(w).join(" "),
                        None => return Err(fatal("Unbalanced quotes in configuration line")),
                    }
                } else {
                    words[1..].join(" ")
                }
            } else {
                if words.len() != 2 {
                    return Err(fatal("wrong number of arguments"));
                }
                words[1].clone()
            };
            let value = if o.name == "save" {
                let add = normalize(o, &value).map_err(|e| fatal(&e))?;
                let prev = cfg.get("save").unwrap_or_default();
                let loaded = std::mem::replace(&mut state.save_loaded, true);
                if add.is_empty() || !loaded || prev.is_empty() {
                    add
                } else {
                    format!("{prev} {add}")
                }
            } else {
                value
            };
            cfg.set_many(&[(o.name, &value)], true).map_err(|(_, e)| fatal(&e))?;
            cfg.warn_not_yet(o.name);
            continue;
        }
        let argc = words.len();
        if DEPRECATED.contains(&name.as_str()) && argc == 2 {
            continue;
        }
        match name.as_str() {
            "include" if argc == 2 => {
                if state.depth >= 16 {
                    return Err(fatal("include nesting is too deep"));
                }
                for path in include_paths(&words[1]) {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| fatal(&format!("Fatal error, can't open config file '{path}': {}", crate::util::strerror(&e))))?;
                    state.depth += 1;
                    load_lines(cfg, &text, state)?;
                    state.depth -= 1;
                }
            }
            "rename-command" if argc == 3 => tracing::warn!("config directive 'rename-command' is not supported yet; ignored"),
            "user" | "loadmodule" if argc >= 2 => tracing::warn!("config directive '{name}' is not supported yet; ignored"),
            "sentinel" if argc == 1 => {}
            "sentinel" => return Err(fatal("sentinel directive while not in sentinel mode")),
            _ if name.contains('.') => {
                if argc < 2 {
                    return Err(fatal("Module config specified without value"));
                }
                tracing::warn!("module config '{name}' ignored: modules are not supported yet");
            }
            _ => return Err(fatal("Bad directive or wrong number of arguments")),
        }
    }
    Ok(())
}

/// The files an `include` names: the path itself, or with `*`, `?` or `[` in its last
/// part the matching files of that directory in name order (none is not an error).
fn include_paths(path: &str) -> Vec<String> {
    if !path.contains(['*', '?', '[']) {
        return vec![path.to_string()];
    }
    let p = std::path::Path::new(path);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let Some(pattern) = p.file_name().map(|f| f.to_string_lossy().into_owned()) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| (pattern.starts_with('.') || !n.starts_with('.')) && glob_match(pattern.as_bytes(), n.as_bytes(), false))
        .collect();
    names.sort();
    names.into_iter().map(|n| dir.join(n).display().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_canonical() {
        for o in OPTIONS.iter().filter(|o| o.name != "replicaof") {
            assert_eq!(normalize(o, o.default).as_deref(), Ok(o.default), "{}", o.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for o in OPTIONS {
            for n in std::iter::once(o.name).chain(o.alias) {
                assert!(seen.insert(n), "{n} twice");
                assert_eq!(n, n.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn values_normalise_as_redis() {
        let o = |n: &str| find(n).unwrap().1;
        assert_eq!(normalize(o("maxmemory"), "1kb").unwrap(), "1024");
        assert_eq!(normalize(o("maxmemory"), "").unwrap(), "0");
        assert_eq!(normalize(o("maxmemory"), "18446744073709551615").unwrap(), "18446744073709551615");
        assert_eq!(normalize(o("maxmemory-clients"), "10%").unwrap(), "10%");
        assert_eq!(normalize(o("unixsocketperm"), "0700").unwrap(), "700");
        assert_eq!(normalize(o("notify-keyspace-events"), "KEA").unwrap(), "AKE");
        assert_eq!(normalize(o("notify-keyspace-events"), "nKEAm").unwrap(), "AnKEm");
        assert_eq!(normalize(o("notify-keyspace-events"), "xgE").unwrap(), "gxE");
        assert_eq!(normalize(o("shutdown-on-sigint"), "now nosave").unwrap(), "nosave now");
        assert_eq!(normalize(o("latency-tracking-info-percentiles"), "50.5000 99").unwrap(), "50.5 99");
        assert_eq!(normalize(o("oom-score-adj"), "RELATIVE").unwrap(), "yes");
        assert_eq!(normalize(o("hz"), "1000").unwrap(), "500");
        assert_eq!(normalize(o("replicaof"), "NO ONE").unwrap(), "");
        assert_eq!(
            normalize_over(o("client-output-buffer-limit"), "replica 1mb 2 3", None).unwrap(),
            "normal 0 0 0 slave 1048576 2 3 pubsub 33554432 8388608 60"
        );
        assert!(valid_proc_title_template("{title} {listen-addr} {server-mode}"));
        assert!(!valid_proc_title_template("{server-mode}"));
        assert!(!valid_proc_title_template("{title"));
        assert!(!valid_proc_title_template(""));
        assert!(valid_proc_title_template("x{{"));
    }
}
