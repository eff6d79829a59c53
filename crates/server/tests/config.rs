//! Configuration against the real server: CONFIG GET/SET/REWRITE and loading redis.conf,
//! compared with Redis 7.2.6's exact replies, defaults and FATAL CONFIG FILE ERROR text.

mod common;
use common::{free_port, Raw, Server};

use std::collections::BTreeMap;
use std::process::Command;

/// Every option CONFIG GET * lists in Redis 7.2.6 with its default, as a redis-server 7.2.6
/// started with `--bind 127.0.0.1 --enable-debug-command yes` shows it (`port` and `dir`,
/// which depend on the run, are checked apart).
const REDIS_DEFAULTS: &[(&str, &str)] = &[
    ("acl-pubsub-default", "resetchannels"),
    ("aclfile", ""),
    ("acllog-max-len", "128"),
    ("active-defrag-cycle-max", "25"),
    ("active-defrag-cycle-min", "1"),
    ("active-defrag-ignore-bytes", "104857600"),
    ("active-defrag-max-scan-fields", "1000"),
    ("active-defrag-threshold-lower", "10"),
    ("active-defrag-threshold-upper", "100"),
    ("active-expire-effort", "1"),
    ("activedefrag", "no"),
    ("activerehashing", "yes"),
    ("always-show-logo", "no"),
    ("aof-load-truncated", "yes"),
    ("aof-rewrite-incremental-fsync", "yes"),
    ("aof-timestamp-enabled", "no"),
    ("aof-use-rdb-preamble", "yes"),
    ("aof_rewrite_cpulist", ""),
    ("appenddirname", "appendonlydir"),
    ("appendfilename", "appendonly.aof"),
    ("appendfsync", "everysec"),
    ("appendonly", "no"),
    ("auto-aof-rewrite-min-size", "67108864"),
    ("auto-aof-rewrite-percentage", "100"),
    ("bgsave_cpulist", ""),
    ("bind", "127.0.0.1"),
    ("bind-source-addr", ""),
    ("bio_cpulist", ""),
    ("busy-reply-threshold", "5000"),
    ("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    ("client-query-buffer-limit", "1073741824"),
    ("cluster-allow-pubsubshard-when-down", "yes"),
    ("cluster-allow-reads-when-down", "no"),
    ("cluster-allow-replica-migration", "yes"),
    ("cluster-announce-bus-port", "0"),
    ("cluster-announce-hostname", ""),
    ("cluster-announce-human-nodename", ""),
    ("cluster-announce-ip", ""),
    ("cluster-announce-port", "0"),
    ("cluster-announce-tls-port", "0"),
    ("cluster-config-file", "nodes.conf"),
    ("cluster-enabled", "no"),
    ("cluster-link-sendbuf-limit", "0"),
    ("cluster-migration-barrier", "1"),
    ("cluster-node-timeout", "15000"),
    ("cluster-port", "0"),
    ("cluster-preferred-endpoint-type", "ip"),
    ("cluster-replica-no-failover", "no"),
    ("cluster-replica-validity-factor", "10"),
    ("cluster-require-full-coverage", "yes"),
    ("cluster-slave-no-failover", "no"),
    ("cluster-slave-validity-factor", "10"),
    ("crash-log-enabled", "yes"),
    ("crash-memcheck-enabled", "yes"),
    ("daemonize", "no"),
    ("databases", "16"),
    ("dbfilename", "dump.rdb"),
    ("disable-thp", "yes"),
    ("dynamic-hz", "yes"),
    ("enable-debug-command", "yes"),
    ("enable-module-command", "no"),
    ("enable-protected-configs", "no"),
    ("hash-max-listpack-entries", "512"),
    ("hash-max-listpack-value", "64"),
    ("hash-max-ziplist-entries", "512"),
    ("hash-max-ziplist-value", "64"),
    ("hll-sparse-max-bytes", "3000"),
    ("hz", "10"),
    ("ignore-warnings", ""),
    ("io-threads", "1"),
    ("io-threads-do-reads", "no"),
    ("jemalloc-bg-thread", "yes"),
    ("latency-monitor-threshold", "0"),
    ("latency-tracking", "yes"),
    ("latency-tracking-info-percentiles", "50 99 99.9"),
    ("lazyfree-lazy-eviction", "no"),
    ("lazyfree-lazy-expire", "no"),
    ("lazyfree-lazy-server-del", "no"),
    ("lazyfree-lazy-user-del", "no"),
    ("lazyfree-lazy-user-flush", "no"),
    ("lfu-decay-time", "1"),
    ("lfu-log-factor", "10"),
    ("list-compress-depth", "0"),
    ("list-max-listpack-size", "-2"),
    ("list-max-ziplist-size", "-2"),
    ("locale-collate", ""),
    ("logfile", ""),
    ("loglevel", "notice"),
    ("lua-time-limit", "5000"),
    ("masterauth", ""),
    ("masteruser", ""),
    ("maxclients", "10000"),
    ("maxmemory", "0"),
    ("maxmemory-clients", "0"),
    ("maxmemory-eviction-tenacity", "10"),
    ("maxmemory-policy", "noeviction"),
    ("maxmemory-samples", "5"),
    ("min-replicas-max-lag", "10"),
    ("min-replicas-to-write", "0"),
    ("min-slaves-max-lag", "10"),
    ("min-slaves-to-write", "0"),
    ("no-appendfsync-on-rewrite", "no"),
    ("notify-keyspace-events", ""),
    ("oom-score-adj", "no"),
    ("oom-score-adj-values", "0 200 800"),
    ("pidfile", ""),
    ("proc-title-template", "{title} {listen-addr} {server-mode}"),
    ("propagation-error-behavior", "ignore"),
    ("protected-mode", "yes"),
    ("proto-max-bulk-len", "536870912"),
    ("rdb-del-sync-files", "no"),
    ("rdb-save-incremental-fsync", "yes"),
    ("rdbchecksum", "yes"),
    ("rdbcompression", "yes"),
    ("repl-backlog-size", "1048576"),
    ("repl-backlog-ttl", "3600"),
    ("repl-disable-tcp-nodelay", "no"),
    ("repl-diskless-load", "disabled"),
    ("repl-diskless-sync", "yes"),
    ("repl-diskless-sync-delay", "5"),
    ("repl-diskless-sync-max-replicas", "0"),
    ("repl-ping-replica-period", "10"),
    ("repl-ping-slave-period", "10"),
    ("repl-timeout", "60"),
    ("replica-announce-ip", ""),
    ("replica-announce-port", "0"),
    ("replica-announced", "yes"),
    ("replica-ignore-disk-write-errors", "no"),
    ("replica-ignore-maxmemory", "yes"),
    ("replica-lazy-flush", "no"),
    ("replica-priority", "100"),
    ("replica-read-only", "yes"),
    ("replica-serve-stale-data", "yes"),
    ("replicaof", ""),
    ("requirepass", ""),
    ("sanitize-dump-payload", "no"),
    ("save", "3600 1 300 100 60 10000"),
    ("server_cpulist", ""),
    ("set-max-intset-entries", "512"),
    ("set-max-listpack-entries", "128"),
    ("set-max-listpack-value", "64"),
    ("set-proc-title", "yes"),
    ("shutdown-on-sigint", "default"),
    ("shutdown-on-sigterm", "default"),
    ("shutdown-timeout", "10"),
    ("slave-announce-ip", ""),
    ("slave-announce-port", "0"),
    ("slave-ignore-maxmemory", "yes"),
    ("slave-lazy-flush", "no"),
    ("slave-priority", "100"),
    ("slave-read-only", "yes"),
    ("slave-serve-stale-data", "yes"),
    ("slaveof", ""),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("socket-mark-id", "0"),
    ("stop-writes-on-bgsave-error", "yes"),
    ("stream-node-max-bytes", "4096"),
    ("stream-node-max-entries", "100"),
    ("supervised", "no"),
    ("syslog-enabled", "no"),
    ("syslog-facility", "local0"),
    ("syslog-ident", "redis"),
    ("tcp-backlog", "511"),
    ("tcp-keepalive", "300"),
    ("timeout", "0"),
    ("tls-auth-clients", "yes"),
    ("tls-ca-cert-dir", ""),
    ("tls-ca-cert-file", ""),
    ("tls-cert-file", ""),
    ("tls-ciphers", ""),
    ("tls-ciphersuites", ""),
    ("tls-client-cert-file", ""),
    ("tls-client-key-file", ""),
    ("tls-client-key-file-pass", ""),
    ("tls-cluster", "no"),
    ("tls-dh-params-file", ""),
    ("tls-key-file", ""),
    ("tls-key-file-pass", ""),
    ("tls-port", "0"),
    ("tls-prefer-server-ciphers", "no"),
    ("tls-protocols", ""),
    ("tls-replication", "no"),
    ("tls-session-cache-size", "20480"),
    ("tls-session-cache-timeout", "300"),
    ("tls-session-caching", "yes"),
    ("tracking-table-max-keys", "1000000"),
    ("unixsocket", ""),
    ("unixsocketperm", "0"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
    ("zset-max-ziplist-entries", "128"),
    ("zset-max-ziplist-value", "64"),
];

/// The bulk strings of an array or map reply, in order.
fn bulks(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n");
    while let Some(l) = lines.next() {
        if let Some(len) = l.strip_prefix('$') {
            if len != "-1" {
                out.push(lines.next().expect("bulk body").to_string());
            }
        }
    }
    out
}

/// A CONFIG GET reply as name -> value.
fn pairs(reply: &str) -> BTreeMap<String, String> {
    let b = bulks(reply);
    assert!(b.len().is_multiple_of(2), "odd CONFIG GET reply {reply:?}");
    b.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()
}

fn config_get(c: &mut Raw, patterns: &[&str]) -> BTreeMap<String, String> {
    let mut args: Vec<&[u8]> = vec![b"CONFIG", b"GET"];
    args.extend(patterns.iter().map(|p| p.as_bytes()));
    pairs(&c.cmd_args(&args))
}

fn get(c: &mut Raw, name: &str) -> String {
    let b = bulks(&c.cmd_args(&[b"CONFIG", b"GET", name.as_bytes()]));
    assert_eq!(b.len(), 2, "CONFIG GET {name}: {b:?}");
    b[1].clone()
}

/// CONFIG SET with name/value arguments that may hold spaces.
fn set(c: &mut Raw, args: &[&str]) -> String {
    let mut all: Vec<&[u8]> = vec![b"CONFIG", b"SET"];
    all.extend(args.iter().map(|a| a.as_bytes()));
    c.cmd_args(&all)
}

/// Redis's reply to a CONFIG SET refused for `name`.
fn set_err(name: &str, why: &str) -> String {
    format!("-ERR CONFIG SET failed (possibly related to argument '{name}') - {why}\r\n")
}

const OK: &str = "+OK\r\n";

/// A fresh directory for a server started from a file (removed by the Server's drop).
fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ferrokv-config-{tag}-{}-{}", free_port(), std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary with `args` in `dir`, expecting it to refuse to start; returns stderr.
fn fatal_start(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrokv-server")).args(args).current_dir(dir).output().expect("run ferrokv-server");
    assert!(!out.status.success(), "started with {args:?}");
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fatal_text(line: Option<(usize, &str)>, reason: &str) -> String {
    let at = line.map(|(n, l)| format!("Reading the configuration file, at line {n}\n>>> '{l}'\n")).unwrap_or_default();
    format!("\n*** FATAL CONFIG FILE ERROR (Redis 7.2.6) ***\n{at}{reason}\n")
}

#[test]
fn config_get_lists_every_redis_option_with_its_default() {
    let s = Server::start();
    let mut c = s.raw();
    let all = config_get(&mut c, &["*"]);
    for (name, value) in REDIS_DEFAULTS {
        assert_eq!(all.get(*name).map(String::as_str), Some(*value), "{name}");
    }
    assert_eq!(all.len(), REDIS_DEFAULTS.len() + 2, "extra options: {:?}", all.keys().collect::<Vec<_>>());
    assert_eq!(all["port"], s.port.to_string());
    // `dir` is the working directory, absolute.
    assert_eq!(std::path::Path::new(&all["dir"]), s.dir.canonicalize().unwrap());
    // Hidden options answer only to their exact name.
    for (name, value) in [
        ("use-exit-on-panic", "no"),
        ("aof-disable-auto-gc", "no"),
        ("rdb-key-save-delay", "0"),
        ("key-load-delay", "0"),
        ("watchdog-period", "0"),
        ("cluster-ping-interval", "0"),
        ("loading-process-events-interval-bytes", "2097152"),
        // ferrokv's own, set by the test harness.
        ("server-threads", "2"),
    ] {
        assert_eq!(get(&mut c, name), value, "{name}");
    }
    assert_eq!(c.cmd("CONFIG GET use-exit*"), "*0\r\n");
    assert!(!c.cmd("CONFIG GET server*").contains("server-threads"));
}

#[test]
fn config_get_patterns_aliases_and_several_arguments() {
    let s = Server::start_with(&["--maxmemory", "10mb"]);
    let mut c = s.raw();
    assert_eq!(c.cmd("CONFIG GET maxmemory"), "*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n");
    assert_eq!(c.cmd("CONFIG GET no-such-option"), "*0\r\n");
    // A pattern matches names and aliases alike, in any case.
    let m = config_get(&mut c, &["*READ-only*"]);
    assert_eq!(m, BTreeMap::from([("replica-read-only".into(), "yes".into()), ("slave-read-only".into(), "yes".into())]));
    let m = config_get(&mut c, &["maxmemory*"]);
    assert_eq!(
        m.keys().map(String::as_str).collect::<Vec<_>>(),
        ["maxmemory", "maxmemory-clients", "maxmemory-eviction-tenacity", "maxmemory-policy", "maxmemory-samples"]
    );
    assert_eq!(config_get(&mut c, &["h?"]), BTreeMap::from([("hz".into(), "10".into())]));
    assert_eq!(config_get(&mut c, &["[pq]ort"]), BTreeMap::from([("port".into(), s.port.to_string())]));
    // An alias asked for by name answers under that name, with the option's value.
    assert_eq!(c.cmd("CONFIG GET slaveof"), "*2\r\n$7\r\nslaveof\r\n$0\r\n\r\n");
    for (alias, value) in [
        ("hash-max-ziplist-entries", "512"),
        ("hash-max-ziplist-value", "64"),
        ("list-max-ziplist-size", "-2"),
        ("zset-max-ziplist-entries", "128"),
        ("zset-max-ziplist-value", "64"),
        ("lua-time-limit", "5000"),
        ("slave-priority", "100"),
        ("min-slaves-max-lag", "10"),
        ("repl-ping-slave-period", "10"),
    ] {
        assert_eq!(get(&mut c, alias), value, "{alias}");
    }
    // Several arguments; an option matched twice is listed once.
    let m = config_get(&mut c, &["maxmemory", "MAXMEMORY", "timeout", "*-ziplist-size"]);
    assert_eq!(
        m,
        BTreeMap::from([
            ("maxmemory".into(), "10485760".into()),
            ("timeout".into(), "0".into()),
            ("list-max-ziplist-size".into(), "-2".into())
        ])
    );
    // RESP3 gets a map.
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("CONFIG GET maxmemory"), "%1\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n");
}

#[test]
fn config_set_several_options_all_or_nothing() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(set(&mut c, &["maxmemory", "20mb", "maxmemory-policy", "ALLKEYS-LRU", "slave-read-only", "no"]), OK);
    assert_eq!(get(&mut c, "maxmemory"), "20971520");
    assert_eq!(get(&mut c, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(get(&mut c, "replica-read-only"), "no");
    // One bad value and nothing changes.
    assert_eq!(
        set(&mut c, &["maxmemory", "30mb", "timeout", "5", "maxmemory-policy", "bad"]),
        set_err(
            "maxmemory-policy",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        )
    );
    assert_eq!(get(&mut c, "maxmemory"), "20971520");
    assert_eq!(get(&mut c, "timeout"), "0");
    assert_eq!(set(&mut c, &["maxmemory", "1mb", "MAXMEMORY", "2mb"]), set_err("MAXMEMORY", "duplicate parameter"));
    assert_eq!(get(&mut c, "maxmemory"), "20971520");
    // For Redis an option and its alias are different parameters: the last one wins.
    assert_eq!(set(&mut c, &["replica-read-only", "no", "slave-read-only", "yes"]), OK);
    assert_eq!(get(&mut c, "replica-read-only"), "yes");
    // The first bad name decides the error.
    assert_eq!(set(&mut c, &["daemonize", "yes", "timeout", "x"]), set_err("daemonize", "can't set immutable config"));
    assert_eq!(set(&mut c, &["timeout", "x", "daemonize", "yes"]), set_err("daemonize", "can't set immutable config"));
    // Values come back in Redis's canonical form.
    for (name, value, shown) in [
        ("maxmemory", "1k", "1000"),
        ("maxmemory", "1KB", "1024"),
        ("maxmemory", "5b", "5"),
        ("maxmemory", "18446744073709551615", "18446744073709551615"),
        ("maxmemory", "0", "0"),
        ("maxmemory-clients", "10%", "10%"),
        ("maxmemory-clients", "1mb", "1048576"),
        ("notify-keyspace-events", "KEA", "AKE"),
        ("notify-keyspace-events", "Exg", "gxE"),
        ("notify-keyspace-events", "", ""),
        ("hz", "1000", "500"),
        ("hz", "0", "1"),
        ("hz", "10", "10"),
        ("oom-score-adj", "relative", "yes"),
        ("shutdown-on-sigint", "now NOSAVE", "nosave now"),
        ("shutdown-on-sigint", "default", "default"),
        ("latency-tracking-info-percentiles", "50.5000 99 0", "50.5 99 0"),
        ("latency-tracking-info-percentiles", "", ""),
        ("oom-score-adj-values", "-1 +2 3", "-1 2 3"),
        ("appendfsync", "Always", "always"),
        ("list-max-ziplist-size", "-5", "-5"),
        ("save", "", ""),
        ("save", "100 0 20 1", "100 0 20 1"),
        ("bind", "127.0.0.1", "127.0.0.1"),
    ] {
        assert_eq!(set(&mut c, &[name, value]), OK, "{name} {value}");
        assert_eq!(get(&mut c, name), shown, "{name} {value}");
    }
    assert_eq!(get(&mut c, "list-max-listpack-size"), "-5");
    // Buffer limits change only the classes named.
    assert_eq!(set(&mut c, &["client-output-buffer-limit", "replica 1mb 2 3"]), OK);
    assert_eq!(get(&mut c, "client-output-buffer-limit"), "normal 0 0 0 slave 1048576 2 3 pubsub 33554432 8388608 60");
    assert_eq!(set(&mut c, &["client-output-buffer-limit", "pubsub 1g 1GB 0 NORMAL 1 2 3"]), OK);
    assert_eq!(get(&mut c, "client-output-buffer-limit"), "normal 1 2 3 slave 1048576 2 3 pubsub 1000000000 1073741824 0");
    // What the server acts on follows at once.
    assert_eq!(set(&mut c, &["slowlog-max-len", "1", "slowlog-log-slower-than", "0"]), OK);
    c.cmd("PING");
    c.cmd("PING");
    assert_eq!(c.cmd("SLOWLOG LEN"), ":1\r\n");
}

#[test]
fn config_set_error_messages() {
    let s = Server::start();
    let mut c = s.raw();
    let one_of = |words: &str| format!("argument(s) must be one of the following: {words}");
    let cases: Vec<(&str, &str, String)> = vec![
        ("appendonly", "maybe", "argument must be 'yes' or 'no'".into()),
        ("SLAVE-READ-ONLY", "maybe", "argument must be 'yes' or 'no'".into()),
        ("port", "abc", "argument couldn't be parsed into an integer".into()),
        ("port", "01", "argument couldn't be parsed into an integer".into()),
        ("port", "+5", "argument couldn't be parsed into an integer".into()),
        ("timeout", "", "argument couldn't be parsed into an integer".into()),
        ("port", "70000", "argument must be between 0 and 65535 inclusive".into()),
        ("maxclients", "-1", "argument must be between 1 and 4294967295 inclusive".into()),
        ("hash-max-listpack-entries", "-1", "argument must be between 0 and 9223372036854775807 inclusive".into()),
        ("list-max-listpack-size", "99999999999", "argument must be between -2147483648 and 2147483647 inclusive".into()),
        ("slowlog-log-slower-than", "-2", "argument must be between -1 and 9223372036854775807 inclusive".into()),
        ("proto-max-bulk-len", "100", "argument must be between 1048576 and 9223372036854775807 inclusive".into()),
        ("hash-max-listpack-value", "9223372036854775808", "argument must be between 0 and 9223372036854775807 inclusive".into()),
        ("maxmemory", "-1", "argument must be a memory value".into()),
        ("maxmemory", "10mbx", "argument must be a memory value".into()),
        ("maxmemory-clients", "-5", "argument must be a memory or percent value".into()),
        ("maxmemory-clients", "200%", "percentage argument must be less or equal to 100".into()),
        ("appendfsync", "foo", one_of("everysec, always, no")),
        ("oom-score-adj", "foo", one_of("no, yes, relative, absolute")),
        ("loglevel", "foo", one_of("debug, verbose, notice, warning, nothing")),
        ("repl-diskless-load", "foo", one_of("disabled, on-empty-db, swapdb")),
        ("acl-pubsub-default", "foo", one_of("allchannels, resetchannels")),
        ("sanitize-dump-payload", "foo", one_of("no, yes, clients")),
        ("cluster-preferred-endpoint-type", "foo", one_of("ip, hostname, unknown-endpoint")),
        ("propagation-error-behavior", "foo", one_of("ignore, panic, panic-on-replicas")),
        ("tls-auth-clients", "foo", one_of("no, yes, optional")),
        ("shutdown-on-sigint", "foo", one_of("default, save, nosave, now, force")),
        ("shutdown-on-sigint", "save nosave", "shutdown options SAVE and NOSAVE can't be used simultaneously".into()),
        ("save", "1 2 3", "Invalid save parameters".into()),
        ("save", "0 1", "Invalid save parameters".into()),
        ("client-output-buffer-limit", "normal 1 2", "Wrong number of arguments in buffer limit configuration.".into()),
        ("client-output-buffer-limit", "master 1 2 3", "Invalid client class specified in buffer limit configuration.".into()),
        (
            "client-output-buffer-limit",
            "normal 1x 2 3",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
        ),
        ("oom-score-adj-values", "1 2", "wrong number of arguments".into()),
        ("oom-score-adj-values", "1 2 3000", "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into()),
        ("notify-keyspace-events", "KEAq", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        ("latency-tracking-info-percentiles", "50 abc", "Invalid latency-tracking-info-percentiles parameters".into()),
        (
            "latency-tracking-info-percentiles",
            "50 101",
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into(),
        ),
        ("bind", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "Too many bind addresses specified.".into()),
        ("proc-title-template", "{foo}", "template format is invalid or contains unknown variables".into()),
        ("proc-title-template", "{server-mode}", "template format is invalid or contains unknown variables".into()),
        ("cluster-announce-hostname", "a_b", "Hostnames may only contain alphanumeric characters, hyphens or dots".into()),
        ("cluster-announce-human-nodename", "a@b", "Announced human node name contained invalid character".into()),
        ("locale-collate", "xx_YY", "Invalid locale name".into()),
    ];
    for (name, value, why) in cases {
        // A value error names the option as spelled in the table (lowercase).
        let shown = name.to_ascii_lowercase();
        assert_eq!(set(&mut c, &[name, value]), set_err(&shown, &why), "{name} {value}");
    }
    // Nothing above changed anything.
    let all = config_get(&mut c, &["*"]);
    for (name, value) in REDIS_DEFAULTS {
        assert_eq!(all.get(*name).map(String::as_str), Some(*value), "{name}");
    }
}

/// Redis answers an unknown name with its own message, and an odd argument count with a
/// syntax error. Needs `config_set` (commands/server.rs) to format `set_many` errors
/// with `config::set_error_reply` and to check the count that way.
#[test]
fn config_set_unknown_option_and_odd_arguments() {
    let s = Server::start();
    let mut c = s.raw();
    let unknown = "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n";
    assert_eq!(set(&mut c, &["foo", "bar"]), unknown);
    assert_eq!(set(&mut c, &["timeout", "5", "foo", "bar", "daemonize", "yes"]), unknown);
    assert_eq!(get(&mut c, "timeout"), "0");
    assert_eq!(c.cmd("CONFIG SET timeout 1 hz"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("CONFIG SET timeout"), "-ERR wrong number of arguments for 'config|set' command\r\n");
}

#[test]
fn immutable_and_protected_options() {
    let s = Server::start_with(&["--databases", "4", "--io-threads", "2", "--unixsocketperm", "0700", "--slaveof", "127.0.0.1", "1"]);
    let mut c = s.raw();
    assert_eq!(get(&mut c, "databases"), "4");
    assert_eq!(get(&mut c, "io-threads"), "2");
    assert_eq!(get(&mut c, "unixsocketperm"), "700");
    assert_eq!(get(&mut c, "replicaof"), "127.0.0.1 1");
    for (name, value) in [
        ("databases", "8"),
        ("daemonize", "yes"),
        ("io-threads", "1"),
        ("logfile", "x.log"),
        ("enable-debug-command", "no"),
        ("enable-protected-configs", "yes"),
        ("replicaof", "no one"),
        ("slaveof", "no one"),
        ("appendfilename", "x.aof"),
        ("unixsocketperm", "777"),
        ("cluster-enabled", "yes"),
        ("tcp-backlog", "100"),
        ("supervised", "no"),
    ] {
        assert_eq!(set(&mut c, &[name, value]), set_err(name, "can't set immutable config"), "{name}");
    }
    assert_eq!(get(&mut c, "databases"), "4");
    assert_eq!(c.cmd("SELECT 3"), OK);
    assert_eq!(c.cmd("SELECT 4"), "-ERR DB index is out of range\r\n");
    // `dir` and `dbfilename` are protected unless enable-protected-configs says otherwise.
    assert_eq!(set(&mut c, &["dir", "/tmp"]), set_err("dir", "can't set protected config"));
    assert_eq!(set(&mut c, &["dbfilename", "x.rdb"]), set_err("dbfilename", "can't set protected config"));

    let s = Server::start_with(&["--enable-protected-configs", "yes"]);
    let mut c = s.raw();
    let sub = s.dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let sub = sub.canonicalize().unwrap();
    assert_eq!(set(&mut c, &["dir", sub.to_str().unwrap()]), OK);
    assert_eq!(get(&mut c, "dir"), sub.display().to_string());
    assert_eq!(set(&mut c, &["dir", "/nonexistent/x"]), set_err("dir", "No such file or directory"));
    // A failed CONFIG SET leaves the directory where it was.
    assert_eq!(set(&mut c, &["dir", "/", "timeout", "x"]), set_err("timeout", "argument couldn't be parsed into an integer"));
    assert_eq!(get(&mut c, "dir"), sub.display().to_string());
    assert_eq!(set(&mut c, &["dbfilename", "a/b"]), set_err("dbfilename", "dbfilename can't be a path, just a filename"));
    assert_eq!(set(&mut c, &["dbfilename", "x.rdb"]), OK);
    assert_eq!(get(&mut c, "dbfilename"), "x.rdb");
}

/// Debian's stock redis.conf with only what would daemonize, write to system paths or
/// listen beyond loopback changed.
fn adapt_stock_conf(stock: &str, port: u16, dir: &std::path::Path) -> String {
    let mut out = String::new();
    let mut changed = 0;
    for line in stock.lines() {
        let word = line.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        let new = match word.as_str() {
            "daemonize" => Some("daemonize no".to_string()),
            "supervised" => Some("supervised no".to_string()),
            "logfile" => Some("logfile \"\"".to_string()),
            "pidfile" => Some("pidfile \"\"".to_string()),
            "unixsocket" => Some("unixsocket \"\"".to_string()),
            "dir" => Some(format!("dir \"{}\"", dir.display())),
            "port" => Some(format!("port {port}")),
            "bind" => Some("bind 127.0.0.1".to_string()),
            _ => None,
        };
        changed += new.is_some() as usize;
        out.push_str(new.as_deref().unwrap_or(line));
        out.push('\n');
    }
    assert!(changed >= 3, "the stock file should set port, bind and dir");
    out
}

#[test]
fn stock_redis_conf_loads_and_rewrites() {
    let stock = std::fs::read_to_string("/etc/redis/redis.conf")
        .expect("/etc/redis/redis.conf is missing: install Debian's redis-server (apt-get install -y redis-server redis-tools)");
    let port = free_port();
    let dir = temp_dir("stock");
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, adapt_stock_conf(&stock, port, &dir)).unwrap();
    let conf_arg = conf.display().to_string();
    let s = Server::spawn(port, dir.clone(), vec![conf_arg.clone()]);
    let mut c = s.raw();
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    assert_eq!(get(&mut c, "port"), port.to_string());
    assert_eq!(get(&mut c, "bind"), "127.0.0.1");
    assert_eq!(get(&mut c, "daemonize"), "no");
    assert_eq!(get(&mut c, "logfile"), "");
    assert_eq!(std::path::Path::new(&get(&mut c, "dir")), dir.canonicalize().unwrap());
    // Its three client-output-buffer-limit lines merge into one value.
    assert_eq!(get(&mut c, "client-output-buffer-limit"), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    assert_eq!(get(&mut c, "oom-score-adj-values"), "0 200 800");
    assert_eq!(get(&mut c, "proc-title-template"), "{title} {listen-addr} {server-mode}");
    assert_eq!(get(&mut c, "auto-aof-rewrite-min-size"), "67108864");
    assert_eq!(get(&mut c, "notify-keyspace-events"), "");
    // CONFIG REWRITE writes a file that loads back to the same configuration.
    assert_eq!(set(&mut c, &["maxmemory", "3mb", "hz", "20"]), OK);
    assert_eq!(c.cmd("CONFIG REWRITE"), OK);
    let mut before = config_get(&mut c, &["*"]);
    let port2 = free_port();
    let s2 = Server::spawn(port2, temp_dir("stock2"), vec![conf_arg, "--port".into(), port2.to_string()]);
    let mut after = config_get(&mut s2.raw(), &["*"]);
    assert_eq!(after.remove("port"), Some(port2.to_string()));
    before.remove("port");
    assert_eq!(before, after);
}

#[test]
fn malformed_config_is_fatal_with_the_line() {
    let dir = temp_dir("fatal");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let bad = write("bad.conf", "port 7000\n\n  maxmemory 10mbx  \n");
    assert_eq!(fatal_start(&dir, &[&bad]), fatal_text(Some((3, "maxmemory 10mbx")), "argument must be a memory value"));
    let cases = [
        ("foo bar\n", "foo bar", "Bad directive or wrong number of arguments"),
        ("port \"7000\n", "port \"7000", "Unbalanced quotes in configuration line"),
        ("maxmemory 1mb 2mb\n", "maxmemory 1mb 2mb", "wrong number of arguments"),
        ("slave-read-only maybe\n", "slave-read-only maybe", "argument must be 'yes' or 'no'"),
        ("save 0 1\n", "save 0 1", "Invalid save parameters"),
        (
            "client-output-buffer-limit normal 1 2\n",
            "client-output-buffer-limit normal 1 2",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        ("replicaof 1.2.3.4\n", "replicaof 1.2.3.4", "wrong number of arguments"),
        ("sentinel monitor x\n", "sentinel monitor x", "sentinel directive while not in sentinel mode"),
        ("dir /nonexistent/x\n", "dir /nonexistent/x", "No such file or directory"),
    ];
    for (text, line, why) in cases {
        let f = write("case.conf", text);
        assert_eq!(fatal_start(&dir, &[&f]), fatal_text(Some((1, line)), why), "{text:?}");
    }
    // Command-line options are lines after the file's (and one empty line).
    assert_eq!(fatal_start(&dir, &["--port", "1", "2"]), fatal_text(Some((2, "port \"1\" \"2\"")), "wrong number of arguments"));
    let saves = write("saves.conf", "save 900 1\nsave 300 10\n");
    assert_eq!(
        fatal_start(&dir, &[&saves, "--port", "1", "--dir", "/nonexistent"]),
        fatal_text(Some((5, "dir \"/nonexistent\"")), "No such file or directory")
    );
    // A log file that cannot be opened is found after the last line.
    assert_eq!(
        fatal_start(&dir, &["--logfile", "/nonexistent/x.log"]),
        fatal_text(None, "Can't open the log file: No such file or directory")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn command_line_overrides_the_file() {
    let dir = temp_dir("override");
    let file_port = free_port();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!("port {file_port}\nbind 127.0.0.1\nsave 900 1\nsave 300 10\nmaxmemory 1mb\nhz 20\nslave-read-only no\nlist-max-ziplist-entries 5\n"),
    )
    .unwrap();
    let conf = conf.display().to_string();
    let port = free_port();
    let s = Server::spawn(
        port,
        dir.clone(),
        vec![conf.clone(), "--port".into(), port.to_string(), "--save".into(), "".into(), "--maxmemory".into(), "2mb".into()],
    );
    let mut c = s.raw();
    assert_eq!(get(&mut c, "port"), port.to_string());
    assert_eq!(get(&mut c, "save"), "");
    assert_eq!(get(&mut c, "maxmemory"), "2097152");
    // What the command line leaves alone comes from the file.
    assert_eq!(get(&mut c, "hz"), "20");
    assert_eq!(get(&mut c, "replica-read-only"), "no");
    assert!(std::net::TcpStream::connect(("127.0.0.1", file_port)).is_err());
    drop(c);

    // `save` lines add up: the file's replace the default, the command line's add to them.
    let port = free_port();
    let dir2 = temp_dir("override2");
    let s2 = Server::spawn(port, dir2, vec![conf.clone(), "--port".into(), port.to_string(), "--save".into(), "60".into(), "1".into()]);
    assert_eq!(get(&mut s2.raw(), "save"), "900 1 300 10 60 1");
    let port = free_port();
    let s3 = Server::spawn(port, temp_dir("override3"), vec![conf, "--port".into(), port.to_string()]);
    assert_eq!(get(&mut s3.raw(), "save"), "900 1 300 10");
    drop((s, s2, s3));
}

#[test]
fn include_loads_other_files() {
    let dir = temp_dir("include");
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    std::fs::write(dir.join("conf.d/a.conf"), "maxmemory 2mb\nhz 30\n").unwrap();
    std::fs::write(dir.join("conf.d/b.conf"), "hz 40\n").unwrap();
    std::fs::write(dir.join("extra.conf"), "timeout 7\n").unwrap();
    let port = free_port();
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, format!("bind 127.0.0.1\nport {port}\ninclude {0}/extra.conf\ninclude {0}/conf.d/*.conf\n", dir.display()))
        .unwrap();
    let s = Server::spawn(port, dir.clone(), vec![conf.display().to_string()]);
    let mut c = s.raw();
    assert_eq!(get(&mut c, "maxmemory"), "2097152");
    assert_eq!(get(&mut c, "hz"), "40");
    assert_eq!(get(&mut c, "timeout"), "7");
}

#[test]
fn config_rewrite_keeps_the_file_loadable() {
    let dir = temp_dir("rewrite");
    let port = free_port();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "# a comment that stays\nport {port}\nbind 127.0.0.1\nslave-read-only no\nsave 900 1\nsave 300 10\n\
             client-output-buffer-limit normal 0 0 0\nclient-output-buffer-limit replica 256mb 64mb 60\n\
             client-output-buffer-limit pubsub 32mb 8mb 60\n"
        ),
    )
    .unwrap();
    let conf_arg = conf.display().to_string();
    let s = Server::spawn(port, dir.clone(), vec![conf_arg.clone()]);
    let mut c = s.raw();
    assert_eq!(get(&mut c, "save"), "900 1 300 10");
    assert_eq!(
        set(
            &mut c,
            &[
                "maxmemory",
                "5mb",
                "notify-keyspace-events",
                "KEA",
                "save",
                "100 1",
                "client-output-buffer-limit",
                "pubsub 1mb 2mb 3",
                "masterauth",
                "se\"cr et\\",
                "shutdown-on-sigterm",
                "nosave now",
                "maxmemory-clients",
                "5%",
                "latency-tracking-info-percentiles",
                "99.9",
            ]
        ),
        OK
    );
    assert_eq!(c.cmd("CONFIG REWRITE"), OK);
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("# a comment that stays"), "{text}");
    let mut before = config_get(&mut c, &["*"]);
    let port2 = free_port();
    let s2 = Server::spawn(port2, temp_dir("rewrite2"), vec![conf_arg, "--port".into(), port2.to_string()]);
    let mut after = config_get(&mut s2.raw(), &["*"]);
    assert_eq!(after.remove("port"), Some(port2.to_string()));
    before.remove("port");
    assert_eq!(before, after, "{text}");
    assert_eq!(after["masterauth"], "se\"cr et\\");
    // Without a file there is nothing to rewrite.
    let plain = Server::start();
    assert_eq!(plain.raw().cmd("CONFIG REWRITE"), "-ERR The server is running without a config file\r\n");
    drop((s, s2));
}

/// CONFIG SET port moves the listener; a port that cannot be bound fails the whole
/// call and leaves every option of it unchanged.
#[test]
fn config_set_port_rebinds_or_rolls_back() {
    let s = Server::start();
    let mut c = s.raw();
    let new_port = common::free_port();
    assert_eq!(c.cmd(&format!("CONFIG SET port {new_port}")), "+OK\r\n");
    let mut moved = common::Raw::connect(new_port);
    assert_eq!(moved.cmd("PING"), "+PONG\r\n");
    // No server answers on the old port (a bare connect can succeed by the kernel
    // looping a socket onto itself, so ask for a reply).
    assert!(common::eventually(std::time::Duration::from_secs(2), || !common::responds(s.port)), "old port still listening");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    assert_eq!(
        moved.cmd(&format!("CONFIG SET maxmemory 10000001 port {busy_port} client-query-buffer-limit 10m")),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(moved.cmd("CONFIG GET maxmemory"), "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    assert_eq!(moved.cmd("CONFIG GET port"), format!("*2\r\n$4\r\nport\r\n${}\r\n{new_port}\r\n", new_port.to_string().len()));
    assert_eq!(common::Raw::connect(new_port).cmd("PING"), "+PONG\r\n");
}
