//! Every option of Redis 7.2, with Redis's bounds and its default exactly as CONFIG GET
//! prints it (memory in bytes, `yes`/`no`, enums in lowercase). Options marked `NOT_YET`
//! are accepted, checked, stored and shown by CONFIG GET/REWRITE, but do nothing yet.
//! `HIDDEN` options answer CONFIG GET only by their exact name, never a pattern.
//!
//! Grouped as in redis.conf. An alias is the older name (`slaveof`, `*-ziplist-*`, ...).

use super::*;

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
/// `LONG_MAX` and `LLONG_MAX` are the same on the 64-bit builds Redis reports.
const LONG_MAX: i64 = MAX;
const NY: u8 = NOT_YET;
const HIDDEN_NY: u8 = HIDDEN | NOT_YET;

pub static OPTIONS: &[Opt] = &[
    // ---- network ----
    opt("port", Kind::Int(0, 65535), "6379", 0),
    opt("bind", Kind::Multi, "* -::*", 0),
    opt("bind-source-addr", Kind::Str, "", NY),
    opt("protected-mode", Kind::Bool, "yes", 0),
    opt("enable-protected-configs", Kind::Enum(ENABLE), "no", IMMUTABLE),
    opt("enable-debug-command", Kind::Enum(ENABLE), "no", IMMUTABLE),
    opt("enable-module-command", Kind::Enum(ENABLE), "no", IMM_NY),
    opt("tcp-backlog", Kind::Int(0, INT_MAX), "511", IMM_NY),
    opt("unixsocket", Kind::Str, "", IMM_NY),
    opt("unixsocketperm", Kind::Octal(0, 0o777), "0", IMM_NY),
    opt("socket-mark-id", Kind::Int(0, UINT_MAX), "0", IMM_NY),
    opt("timeout", Kind::Int(0, INT_MAX), "0", 0),
    opt("tcp-keepalive", Kind::Int(0, INT_MAX), "300", NY),
    // ---- TLS ----
    opt("tls-port", Kind::Int(0, 65535), "0", NY),
    opt("tls-cert-file", Kind::Str, "", NY),
    opt("tls-key-file", Kind::Str, "", NY),
    opt("tls-key-file-pass", Kind::Str, "", NY),
    opt("tls-client-cert-file", Kind::Str, "", NY),
    opt("tls-client-key-file", Kind::Str, "", NY),
    opt("tls-client-key-file-pass", Kind::Str, "", NY),
    opt("tls-dh-params-file", Kind::Str, "", NY),
    opt("tls-ca-cert-file", Kind::Str, "", NY),
    opt("tls-ca-cert-dir", Kind::Str, "", NY),
    opt("tls-auth-clients", Kind::Enum(TLS_AUTH_CLIENTS), "yes", NY),
    opt("tls-replication", Kind::Bool, "no", NY),
    opt("tls-cluster", Kind::Bool, "no", NY),
    opt("tls-protocols", Kind::Str, "", NY),
    opt("tls-ciphers", Kind::Str, "", NY),
    opt("tls-ciphersuites", Kind::Str, "", NY),
    opt("tls-prefer-server-ciphers", Kind::Bool, "no", NY),
    opt("tls-session-caching", Kind::Bool, "yes", NY),
    opt("tls-session-cache-size", Kind::Int(0, INT_MAX), "20480", NY),
    opt("tls-session-cache-timeout", Kind::Int(0, INT_MAX), "300", NY),
    // ---- general ----
    opt("daemonize", Kind::Bool, "no", IMM_NY),
    opt("supervised", Kind::Enum(SUPERVISED), "no", IMM_NY),
    opt("pidfile", Kind::Str, "", IMM_NY),
    opt("loglevel", Kind::Enum(LOGLEVELS), "notice", 0),
    opt("logfile", Kind::Str, "", IMMUTABLE),
    opt("syslog-enabled", Kind::Bool, "no", IMM_NY),
    opt("syslog-ident", Kind::Str, "redis", IMM_NY),
    opt("syslog-facility", Kind::Enum(SYSLOG_FACILITIES), "local0", IMM_NY),
    opt("crash-log-enabled", Kind::Bool, "yes", NY),
    opt("crash-memcheck-enabled", Kind::Bool, "yes", NY),
    opt("databases", Kind::Int(1, INT_MAX), "16", IMMUTABLE),
    opt("always-show-logo", Kind::Bool, "no", IMM_NY),
    opt("set-proc-title", Kind::Bool, "yes", IMM_NY),
    opt("proc-title-template", Kind::Str, "{title} {listen-addr} {server-mode}", NY),
    opt("locale-collate", Kind::Str, "", NY),
    opt("ignore-warnings", Kind::Str, "", NY),
    // ---- snapshotting ----
    opt("save", Kind::Multi, "3600 1 300 100 60 10000", 0),
    opt("stop-writes-on-bgsave-error", Kind::Bool, "yes", 0),
    opt("rdbcompression", Kind::Bool, "yes", NY),
    opt("rdbchecksum", Kind::Bool, "yes", IMM_NY),
    opt("sanitize-dump-payload", Kind::Enum(SANITIZE_DUMP_PAYLOAD), "no", NY),
    opt("dbfilename", Kind::Str, "dump.rdb", PROTECTED),
    opt("rdb-del-sync-files", Kind::Bool, "no", NY),
    opt("rdb-save-incremental-fsync", Kind::Bool, "yes", NY),
    opt("dir", Kind::Str, ".", PROTECTED),
    // ---- replication ----
    aliased("replicaof", "slaveof", Kind::Multi, "", IMMUTABLE),
    opt("masterauth", Kind::Str, "", SENSITIVE),
    opt("masteruser", Kind::Str, "", SENSITIVE | NY),
    aliased("replica-serve-stale-data", "slave-serve-stale-data", Kind::Bool, "yes", 0),
    aliased("replica-read-only", "slave-read-only", Kind::Bool, "yes", 0),
    opt("repl-diskless-sync", Kind::Bool, "yes", NY),
    opt("repl-diskless-sync-delay", Kind::Int(0, INT_MAX), "5", NY),
    opt("repl-diskless-sync-max-replicas", Kind::Int(0, INT_MAX), "0", NY),
    opt("repl-diskless-load", Kind::Enum(REPL_DISKLESS_LOAD), "disabled", NY),
    aliased("repl-ping-replica-period", "repl-ping-slave-period", Kind::Int(1, INT_MAX), "10", 0),
    opt("repl-timeout", Kind::Int(1, INT_MAX), "60", 0),
    opt("repl-disable-tcp-nodelay", Kind::Bool, "no", NY),
    opt("repl-backlog-size", Kind::Mem(1, MAX), "1048576", 0),
    opt("repl-backlog-ttl", Kind::Int(0, LONG_MAX), "3600", NY),
    aliased("replica-priority", "slave-priority", Kind::Int(0, INT_MAX), "100", 0),
    opt("propagation-error-behavior", Kind::Enum(PROPAGATION_ERROR_BEHAVIOR), "ignore", NY),
    opt("replica-ignore-disk-write-errors", Kind::Bool, "no", NY),
    opt("replica-announced", Kind::Bool, "yes", NY),
    aliased("min-replicas-to-write", "min-slaves-to-write", Kind::Int(0, INT_MAX), "0", 0),
    aliased("min-replicas-max-lag", "min-slaves-max-lag", Kind::Int(0, INT_MAX), "10", 0),
    aliased("replica-announce-ip", "slave-announce-ip", Kind::Str, "", 0),
    aliased("replica-announce-port", "slave-announce-port", Kind::Int(0, 65535), "0", 0),
    aliased("replica-lazy-flush", "slave-lazy-flush", Kind::Bool, "no", NY),
    // ---- keys tracking ----
    opt("tracking-table-max-keys", Kind::Int(0, LONG_MAX), "1000000", NY),
    // ---- security ----
    opt("acllog-max-len", Kind::Int(0, LONG_MAX), "128", NY),
    opt("aclfile", Kind::Str, "", IMM_NY),
    opt("requirepass", Kind::Str, "", SENSITIVE),
    opt("acl-pubsub-default", Kind::Enum(ACL_PUBSUB_DEFAULT), "resetchannels", NY),
    // ---- clients ----
    opt("maxclients", Kind::Int(1, UINT_MAX), "10000", 0),
    // ---- memory management ----
    opt("maxmemory", Kind::UMem, "0", 0),
    opt("maxmemory-policy", Kind::Enum(MAXMEMORY_POLICIES), "noeviction", 0),
    opt("maxmemory-samples", Kind::Int(1, INT_MAX), "5", 0),
    opt("maxmemory-eviction-tenacity", Kind::Int(0, 100), "10", NY),
    aliased("replica-ignore-maxmemory", "slave-ignore-maxmemory", Kind::Bool, "yes", NY),
    opt("active-expire-effort", Kind::Int(1, 10), "1", NY),
    opt("maxmemory-clients", Kind::MemPercent(-100, MAX), "0", NY),
    // ---- lazy freeing ----
    opt("lazyfree-lazy-eviction", Kind::Bool, "no", 0),
    opt("lazyfree-lazy-expire", Kind::Bool, "no", 0),
    opt("lazyfree-lazy-server-del", Kind::Bool, "no", 0),
    opt("lazyfree-lazy-user-del", Kind::Bool, "no", 0),
    opt("lazyfree-lazy-user-flush", Kind::Bool, "no", 0),
    // ---- threaded I/O ----
    opt("io-threads", Kind::Int(1, 128), "1", IMM_NY),
    opt("io-threads-do-reads", Kind::Bool, "no", IMM_NY),
    // ferrokv's own (hidden, so CONFIG GET * lists exactly Redis's options): the worker
    // threads that serve connections; 0 = one per core but one (see main.rs).
    opt("server-threads", Kind::Int(0, 1024), "0", HIDDEN | IMMUTABLE),
    // ---- kernel OOM control and transparent huge pages ----
    opt("oom-score-adj", Kind::Enum(OOM_SCORE_ADJ), "no", NY),
    opt("oom-score-adj-values", Kind::Multi, "0 200 800", NY),
    opt("disable-thp", Kind::Bool, "yes", IMM_NY),
    // ---- append only mode ----
    opt("appendonly", Kind::Bool, "no", 0),
    opt("appendfilename", Kind::Str, "appendonly.aof", IMMUTABLE),
    opt("appenddirname", Kind::Str, "appendonlydir", IMMUTABLE),
    opt("appendfsync", Kind::Enum(FSYNC), "everysec", 0),
    opt("no-appendfsync-on-rewrite", Kind::Bool, "no", NY),
    opt("auto-aof-rewrite-percentage", Kind::Int(0, INT_MAX), "100", 0),
    opt("auto-aof-rewrite-min-size", Kind::Mem(0, MAX), "67108864", 0),
    opt("aof-load-truncated", Kind::Bool, "yes", 0),
    opt("aof-use-rdb-preamble", Kind::Bool, "yes", NY),
    opt("aof-timestamp-enabled", Kind::Bool, "no", 0),
    opt("aof-rewrite-incremental-fsync", Kind::Bool, "yes", NY),
    // ---- shutdown ----
    opt("shutdown-timeout", Kind::Int(0, INT_MAX), "10", NY),
    opt("shutdown-on-sigint", Kind::Flags(SHUTDOWN_ON_SIG), "default", NY),
    opt("shutdown-on-sigterm", Kind::Flags(SHUTDOWN_ON_SIG), "default", NY),
    // ---- long blocking commands ----
    aliased("busy-reply-threshold", "lua-time-limit", Kind::Int(0, LONG_MAX), "5000", 0),
    // ---- cluster ----
    opt("cluster-enabled", Kind::Bool, "no", IMM_NY),
    opt("cluster-config-file", Kind::Str, "nodes.conf", IMM_NY),
    opt("cluster-node-timeout", Kind::Int(0, MAX), "15000", NY),
    opt("cluster-port", Kind::Int(0, 65535), "0", IMM_NY),
    aliased("cluster-replica-validity-factor", "cluster-slave-validity-factor", Kind::Int(0, INT_MAX), "10", NY),
    opt("cluster-migration-barrier", Kind::Int(0, INT_MAX), "1", NY),
    opt("cluster-allow-replica-migration", Kind::Bool, "yes", NY),
    opt("cluster-require-full-coverage", Kind::Bool, "yes", NY),
    aliased("cluster-replica-no-failover", "cluster-slave-no-failover", Kind::Bool, "no", NY),
    opt("cluster-allow-reads-when-down", Kind::Bool, "no", NY),
    opt("cluster-allow-pubsubshard-when-down", Kind::Bool, "yes", NY),
    opt("cluster-link-sendbuf-limit", Kind::UMem, "0", NY),
    opt("cluster-announce-hostname", Kind::Str, "", NY),
    opt("cluster-announce-human-nodename", Kind::Str, "", NY),
    opt("cluster-preferred-endpoint-type", Kind::Enum(CLUSTER_ENDPOINT_TYPES), "ip", NY),
    opt("cluster-announce-ip", Kind::Str, "", NY),
    opt("cluster-announce-port", Kind::Int(0, 65535), "0", NY),
    opt("cluster-announce-tls-port", Kind::Int(0, 65535), "0", NY),
    opt("cluster-announce-bus-port", Kind::Int(0, 65535), "0", NY),
    // ---- slow log ----
    opt("slowlog-log-slower-than", Kind::Int(-1, MAX), "10000", 0),
    opt("slowlog-max-len", Kind::Int(0, LONG_MAX), "128", 0),
    // ---- latency monitor and tracking ----
    opt("latency-monitor-threshold", Kind::Int(0, MAX), "0", 0),
    opt("latency-tracking", Kind::Bool, "yes", NY),
    opt("latency-tracking-info-percentiles", Kind::Multi, "50 99 99.9", NY),
    // ---- event notification ----
    opt("notify-keyspace-events", Kind::Str, "", 0),
    // ---- advanced: encodings ----
    aliased("hash-max-listpack-entries", "hash-max-ziplist-entries", Kind::Int(0, LONG_MAX), "512", 0),
    aliased("hash-max-listpack-value", "hash-max-ziplist-value", Kind::Mem(0, LONG_MAX), "64", 0),
    aliased("list-max-listpack-size", "list-max-ziplist-size", Kind::Int(INT_MIN, INT_MAX), "-2", 0),
    opt("list-compress-depth", Kind::Int(0, INT_MAX), "0", NY),
    opt("set-max-intset-entries", Kind::Int(0, LONG_MAX), "512", 0),
    opt("set-max-listpack-entries", Kind::Int(0, LONG_MAX), "128", 0),
    opt("set-max-listpack-value", Kind::Int(0, LONG_MAX), "64", 0),
    aliased("zset-max-listpack-entries", "zset-max-ziplist-entries", Kind::Int(0, LONG_MAX), "128", 0),
    aliased("zset-max-listpack-value", "zset-max-ziplist-value", Kind::Mem(0, LONG_MAX), "64", 0),
    opt("hll-sparse-max-bytes", Kind::Mem(0, LONG_MAX), "3000", 0),
    opt("stream-node-max-bytes", Kind::Mem(0, LONG_MAX), "4096", NY),
    opt("stream-node-max-entries", Kind::Int(0, MAX), "100", NY),
    // ---- advanced: everything else ----
    opt("activerehashing", Kind::Bool, "yes", NY),
    opt("client-output-buffer-limit", Kind::Multi, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", NY),
    opt("client-query-buffer-limit", Kind::Mem(1024 * 1024, LONG_MAX), "1073741824", 0),
    opt("proto-max-bulk-len", Kind::Mem(1024 * 1024, LONG_MAX), "536870912", 0),
    opt("hz", Kind::Int(0, INT_MAX), "10", 0),
    opt("dynamic-hz", Kind::Bool, "yes", NY),
    opt("lfu-log-factor", Kind::Int(0, INT_MAX), "10", 0),
    opt("lfu-decay-time", Kind::Int(0, INT_MAX), "1", 0),
    // ---- active defragmentation ----
    opt("activedefrag", Kind::Bool, "no", NY),
    opt("active-defrag-ignore-bytes", Kind::Mem(1, MAX), "104857600", NY),
    opt("active-defrag-threshold-lower", Kind::Int(0, 1000), "10", NY),
    opt("active-defrag-threshold-upper", Kind::Int(0, 1000), "100", NY),
    opt("active-defrag-cycle-min", Kind::Int(1, 99), "1", NY),
    opt("active-defrag-cycle-max", Kind::Int(1, 99), "25", NY),
    opt("active-defrag-max-scan-fields", Kind::Int(1, LONG_MAX), "1000", NY),
    opt("jemalloc-bg-thread", Kind::Bool, "yes", NY),
    // ---- CPU affinity ----
    opt("server_cpulist", Kind::Str, "", IMM_NY),
    opt("bio_cpulist", Kind::Str, "", IMM_NY),
    opt("aof_rewrite_cpulist", Kind::Str, "", IMM_NY),
    opt("bgsave_cpulist", Kind::Str, "", IMM_NY),
    // ---- hidden (tests and debugging) ----
    opt("use-exit-on-panic", Kind::Bool, "no", HIDDEN_NY),
    opt("aof-disable-auto-gc", Kind::Bool, "no", HIDDEN_NY),
    opt("rdb-key-save-delay", Kind::Int(INT_MIN, INT_MAX), "0", HIDDEN),
    opt("key-load-delay", Kind::Int(INT_MIN, INT_MAX), "0", HIDDEN_NY),
    opt("watchdog-period", Kind::Int(0, INT_MAX), "0", HIDDEN_NY),
    opt("cluster-ping-interval", Kind::Int(0, MAX), "0", HIDDEN_NY),
    opt("loading-process-events-interval-bytes", Kind::Int(1024, INT_MAX), "2097152", HIDDEN_NY),
];
