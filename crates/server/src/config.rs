//! Configuration: ONE table of options (name, type, default, flags). Loading redis.conf,
//! `--name value` flags, CONFIG GET/SET/REWRITE and the typed [`Settings`] the server
//! reads all come from it, so no option needs code of its own beyond its table line.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::util::glob_match;

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    Int(i64, i64),
    /// A byte count; accepts `1k`, `5mb`, `2gb` (1k = 1000, 1kb = 1024) as redis.conf does.
    Mem(i64, i64),
    Str,
    Enum(&'static [&'static str]),
    /// Several space-separated words kept as one string (`save`, `bind`, ...).
    Multi,
}

pub const IMMUTABLE: u8 = 1;
/// Accepted and shown, but not acted on yet: the loader warns once when a file sets it.
pub const NOT_YET: u8 = 2;
pub const SENSITIVE: u8 = 4;

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

const MAXMEMORY_POLICIES: &[&str] =
    &["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"];
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const ENABLE: &[&str] = &["no", "yes", "local"];
const FSYNC: &[&str] = &["always", "everysec", "no"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const MAX: i64 = i64::MAX;
const IMM_NY: u8 = IMMUTABLE | NOT_YET;

mod table;
pub use table::OPTIONS;

pub fn find(name: &str) -> Option<(usize, &'static Opt)> {
    let lower = name.to_ascii_lowercase();
    OPTIONS.iter().enumerate().find(|(_, o)| o.name == lower || o.alias == Some(lower.as_str()))
}

/// Parses a memory value: plain bytes or with a k/kb/m/mb/g/gb unit.
pub fn parse_memory(s: &str) -> Option<i64> {
    let l = s.to_ascii_lowercase();
    let units: [(&str, i64); 6] =
        [("kb", 1024), ("mb", 1024 * 1024), ("gb", 1024 * 1024 * 1024), ("k", 1000), ("m", 1_000_000), ("g", 1_000_000_000)];
    for (u, mul) in units {
        if let Some(num) = l.strip_suffix(u) {
            return num.parse::<i64>().ok()?.checked_mul(mul);
        }
    }
    l.parse::<i64>().ok()
}

/// Checks and normalises a value for an option; the error is Redis's wording.
pub fn normalize(o: &Opt, v: &str) -> Result<String, String> {
    match o.kind {
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let n: i64 = v.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!("argument must be between {min} and {max} inclusive"));
            }
            Ok(n.to_string())
        }
        Kind::Mem(min, max) => {
            let n = parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())?;
            if n < min || n > max {
                return Err(format!("argument must be between {min} and {max} inclusive"));
            }
            Ok(n.to_string())
        }
        Kind::Enum(vals) => {
            let l = v.to_ascii_lowercase();
            if vals.contains(&l.as_str()) {
                Ok(l)
            } else {
                Err(format!("argument(s) must be one of the following: {}", vals.join(", ")))
            }
        }
        Kind::Str | Kind::Multi => Ok(v.to_string()),
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
}

pub struct Config {
    values: RwLock<Vec<String>>,
    settings: RwLock<Arc<Settings>>,
    version: AtomicU64,
    /// The file given at start-up (CONFIG REWRITE target), if any.
    pub file: Mutex<Option<std::path::PathBuf>>,
    warned: Mutex<HashSet<&'static str>>,
}

impl Config {
    pub fn new() -> Config {
        let values: Vec<String> = OPTIONS.iter().map(|o| normalize(o, o.default).expect("valid default")).collect();
        let settings = Arc::new(build_settings(&values));
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

    pub fn get(&self, name: &str) -> Option<String> {
        let (i, _) = find(name)?;
        Some(self.values.read()[i].clone())
    }

    /// CONFIG GET: every (name, value) whose name or alias matches one of the patterns.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for p in patterns {
            for (i, o) in OPTIONS.iter().enumerate() {
                for name in std::iter::once(o.name).chain(o.alias) {
                    if glob_match(p, name.as_bytes(), true) && seen.insert(name) {
                        out.push((name, values[i].clone()));
                    }
                }
            }
        }
        out
    }

    /// Sets several options at once, all or nothing (CONFIG SET semantics). The error
    /// names the offending argument as Redis does.
    pub fn set_many(&self, pairs: &[(&str, &str)], startup: bool) -> Result<(), (String, String)> {
        let mut staged = Vec::new();
        for (name, val) in pairs {
            let Some((i, o)) = find(name) else {
                return Err((name.to_string(), "Unknown option or number of arguments for CONFIG SET".into()));
            };
            if staged.iter().any(|(j, _)| *j == i) {
                return Err((name.to_string(), "duplicate parameter".into()));
            }
            if !startup && o.flags & IMMUTABLE != 0 {
                return Err((name.to_string(), "can't set immutable config".into()));
            }
            let v = normalize(o, val).map_err(|e| (name.to_string(), e))?;
            staged.push((i, v));
        }
        let mut values = self.values.write();
        for (i, v) in staged {
            values[i] = v;
        }
        *self.settings.write() = Arc::new(build_settings(&values));
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
        OPTIONS.iter().zip(values.iter().cloned()).collect()
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
    }
}

/// A fatal error in the configuration file or the command line, printed the way
/// redis-server prints it before exiting.
pub struct FatalConfig {
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl std::fmt::Display for FatalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}",
            crate::REDIS_VERSION,
            self.line_no,
            self.line,
            self.reason
        )
    }
}

/// Loads the text of a redis.conf plus command-line overrides (already joined as
/// `name value` lines, as redis-server does) into `cfg`.
pub fn load_text(cfg: &Config, text: &str) -> Result<(), FatalConfig> {
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fatal = |reason: &str| FatalConfig { line_no: n + 1, line: line.to_string(), reason: reason.to_string() };
        let Some(words) = ferrokv_protocol::split_args(line.as_bytes()) else {
            return Err(fatal("Unbalanced quotes in configuration line"));
        };
        let words: Vec<String> = words.into_iter().map(|w| String::from_utf8_lossy(&w).into_owned()).collect();
        let name = words[0].to_ascii_lowercase();
        if name == "include" || name == "rename-command" || name == "user" || name == "loadmodule" {
            tracing::warn!("config directive '{name}' is not supported yet; ignored");
            continue;
        }
        let Some((_, o)) = find(&name) else {
            return Err(fatal("Bad directive or wrong number of arguments"));
        };
        let value = match o.kind {
            Kind::Multi => {
                // `save` lines accumulate; an empty `save ""` resets.
                if o.name == "save" && words.len() > 1 && !words[1].is_empty() {
                    let prev = cfg.get("save").unwrap_or_default();
                    let fresh = !cfg.warned.lock().contains("save#seen");
                    cfg.warned.lock().insert("save#seen");
                    let add = words[1..].join(" ");
                    if fresh || prev.is_empty() {
                        add
                    } else {
                        format!("{prev} {add}")
                    }
                } else {
                    words[1..].join(" ")
                }
            }
            _ => {
                if words.len() != 2 {
                    return Err(fatal("wrong number of arguments"));
                }
                words[1].clone()
            }
        };
        cfg.set_many(&[(o.name, &value)], true).map_err(|(_, e)| fatal(&e))?;
        cfg.warn_not_yet(o.name);
    }
    Ok(())
}
