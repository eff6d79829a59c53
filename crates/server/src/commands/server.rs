//! Server commands: INFO, CONFIG, COMMAND, DEBUG, SLOWLOG, LATENCY, MEMORY, MONITOR,
//! TIME, LASTSAVE, SHUTDOWN.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use sha1::{Digest, Sha1};

use super::table::{self, registry, CommandDef, Slots, FLAG_NAMES};
use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::{Slot, Value, SHARDS};

pub fn time(ctx: &mut Ctx) -> CmdResult {
    // A script sees one time for its whole run, as in Redis.
    let us = crate::scripting::vm::script_start_us().unwrap_or_else(crate::util::now_us);
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

pub fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.lastsave.load(Ordering::Relaxed) as i64);
    Ok(())
}

/// SAVE: a snapshot written on this connection's thread (other clients keep running,
/// unlike Redis where SAVE blocks the whole server).
pub fn save(ctx: &mut Ctx) -> CmdResult {
    let srv = ctx.srv;
    if srv.rdb.running().is_none() {
        srv.rdb.saves.fetch_add(1, Ordering::Relaxed);
    }
    match tokio::task::block_in_place(|| crate::persistence::snapshot::save(srv, false)) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(e) if e.starts_with("ERR ") => Err(e.into()),
        Err(_) => Err("ERR".into()),
    }
}

/// BGSAVE [SCHEDULE]
pub fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.args.len() {
        1 => false,
        2 if ctx.is(1, "schedule") => true,
        _ => return Err(err::SYNTAX.into()),
    };
    let srv = ctx.srv.me.get().and_then(|w| w.upgrade()).expect("server alive");
    // Inside MULTI/EXEC (or a script) Redis never forks: the save is left to the cron.
    let in_exec = ctx.client.capture.borrow().is_some();
    match srv.rdb.running() {
        Some(crate::persistence::snapshot::Job::Bgsave) => Err("ERR Background save already in progress".into()),
        None if in_exec => {
            srv.rdb.scheduled.store(true, Ordering::Relaxed);
            ctx.out.simple(b"Background saving scheduled");
            Ok(())
        }
        Some(_) if schedule => {
            srv.rdb.scheduled.store(true, Ordering::Relaxed);
            ctx.out.simple(b"Background saving scheduled");
            Ok(())
        }
        Some(_) => Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into()),
        None => {
            crate::persistence::snapshot::bgsave(&srv)?;
            ctx.out.simple(b"Background saving started");
            Ok(())
        }
    }
}

pub fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    let srv = ctx.srv.me.get().and_then(|w| w.upgrade()).expect("server alive");
    // Inside MULTI/EXEC the snapshot point (every shard locked) cannot be taken while
    // EXEC holds its shards: scheduled for the cron, as Redis does there too.
    let in_exec = ctx.client.capture.borrow().is_some();
    let msg = crate::persistence::aof::bgrewriteaof(&srv, in_exec)?;
    ctx.out.simple(msg.as_bytes());
    Ok(())
}

/// Every CLUSTER subcommand of a server not in cluster mode.
pub fn cluster_disabled(_: &mut Ctx) -> CmdResult {
    Err("ERR This instance has cluster support disabled".into())
}

pub fn monitor(ctx: &mut Ctx) -> CmdResult {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    ctx.srv.add_monitor(tx);
    ctx.client.shared.monitor.store(true, Ordering::Relaxed);
    ctx.client.feed = Some(rx);
    ctx.out.ok();
    Ok(())
}

pub fn shutdown(ctx: &mut Ctx) -> CmdResult {
    use crate::persistence::FinalSave;
    let (mut abort, mut mode, mut force) = (false, FinalSave::Default, false);
    for i in 1..ctx.args.len() {
        match ctx.args[i].to_ascii_uppercase().as_slice() {
            b"NOSAVE" => mode = FinalSave::NoSave,
            b"SAVE" => mode = FinalSave::Save,
            b"NOW" => {}
            b"FORCE" => force = true,
            b"ABORT" => abort = true,
            _ => return Err(err::SYNTAX.into()),
        }
    }
    if abort {
        return Err("ERR No shutdown in progress.".into());
    }
    tracing::warn!("User requested shutdown...");
    let srv = ctx.srv;
    if let Err(e) = tokio::task::block_in_place(|| crate::persistence::prepare_shutdown(srv, mode)) {
        if !force {
            return Err(e.into());
        }
    }
    ctx.srv.shutting_down.store(true, Ordering::Release);
    ctx.srv.shutdown.notify_one();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", b / 1024.0 / 1024.0 / 1024.0)
    }
}

const DEFAULT_SECTIONS: &[&str] =
    &["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

pub fn info(ctx: &mut Ctx) -> CmdResult {
    let mut wanted: Vec<String> = Vec::new();
    for a in &ctx.args[1..] {
        let s = String::from_utf8_lossy(a).to_ascii_lowercase();
        match s.as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => wanted.extend(ALL_SECTIONS.iter().map(|s| s.to_string())),
            _ => wanted.push(s),
        }
    }
    if wanted.is_empty() {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    let text = info_text(ctx, &wanted);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Builds the INFO text for the given sections, in Redis's section order.
pub fn info_text(ctx: &Ctx, wanted: &[String]) -> String {
    let srv = ctx.srv;
    let s = &ctx.client.settings;
    let mut out = String::new();
    let want = |name: &str| wanted.iter().any(|w| w == name);
    let section = |out: &mut String, title: &str, body: String| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {title}\r\n{body}");
    };
    let uptime = srv.start.elapsed().as_secs();
    if want("server") {
        let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
        let cfg_file = srv.config.file.lock().as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let uname = uname();
        let mut b = String::new();
        let _ = write!(
            b,
            "redis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{uname}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{exe}\r\nconfig_file:{cfg_file}\r\nio_threads_active:0\r\nlistener0:name=tcp,{}port={}\r\n",
            crate::REDIS_VERSION,
            std::process::id(),
            srv.run_id,
            srv.port.load(Ordering::Relaxed),
            crate::util::now_us(),
            uptime / 86400,
            s.hz,
            s.hz,
            srv.lru_clock(),
            s.bind.iter().map(|b| format!("bind={b},")).collect::<String>(),
            srv.port.load(Ordering::Relaxed),
        );
        section(&mut out, "Server", b);
    }
    if want("clients") {
        section(
            &mut out,
            "Clients",
            format!(
                "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\ntotal_blocking_keys:{}\r\ntotal_blocking_keys_on_nokey:0\r\n",
                srv.connected.load(Ordering::Relaxed),
                s.maxclients,
                srv.blocking.blocked_clients(),
                srv.tracking.clients(),
                srv.blocking.blocked_clients(),
                srv.blocking.key_count.load(Ordering::Relaxed),
            ),
        );
    }
    if want("memory") {
        let used = srv.used_memory();
        let rss = crate::stats::process_rss();
        let peak = srv.peak_memory.load(Ordering::Relaxed).max(used);
        let startup = srv.startup_memory.load(Ordering::Relaxed).min(used);
        let backlog = srv.journal.backlog_len() as u64;
        let dataset = used.saturating_sub(startup);
        let pct = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 * 100.0 / b as f64 };
        let maxmemory: u64 = srv.config.get("maxmemory").and_then(|v| v.parse().ok()).unwrap_or(0);
        let policy = srv.config.get("maxmemory-policy").unwrap_or_default();
        let total = total_system_memory();
        let frag = if used == 0 { 0.0 } else { rss as f64 / used as f64 };
        // Before any script ran no VM exists; Redis's empty VM takes 31744 bytes.
        let lua = match crate::scripting::vm::memory() {
            0 => 31744,
            n => n,
        };
        let vm_total = lua + 32768;
        let scripts_eval = srv.scripts.cache_bytes.load(std::sync::atomic::Ordering::Relaxed);
        let scripts_total = scripts_eval + 184;
        let cached = srv.scripts.len();
        let (nlibs, nfuncs) = crate::scripting::library::libraries().counts();
        let mut b = String::new();
        let _ = write!(
            b,
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{startup}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\n",
            human(used),
            human(rss),
            human(peak),
            pct(used, peak),
            pct(dataset, used),
        );
        let _ = write!(
            b,
            "allocator_allocated:{used}\r\nallocator_active:{rss}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{total}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{scripts_eval}\r\nnumber_of_cached_scripts:{cached}\r\nnumber_of_functions:{nfuncs}\r\nnumber_of_libraries:{nlibs}\r\nused_memory_vm_functions:32768\r\nused_memory_vm_total:{vm_total}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:184\r\nused_memory_scripts:{scripts_total}\r\nused_memory_scripts_human:{}\r\nmaxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{policy}\r\n",
            human(total),
            human(lua),
            human(vm_total),
            human(scripts_total),
            human(maxmemory),
        );
        let _ = write!(
            b,
            "allocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:{backlog}\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:libc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
            rss as i64 - used as i64,
        );
        section(&mut out, "Memory", b);
    }
    if want("persistence") {
        section(&mut out, "Persistence", crate::persistence::info(srv));
    }
    if want("stats") {
        let st = &srv.stats;
        let tracking_totals = srv.tracking.totals();
        section(
            &mut out,
            "Stats",
            format!(
                "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:{}\r\ntotal_net_repl_output_bytes:{}\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\neventloop_cycles:0\r\neventloop_duration_sum:0\r\neventloop_duration_cmd_sum:0\r\ninstantaneous_eventloop_cycles_per_sec:0\r\ninstantaneous_eventloop_duration_usec:0\r\nacl_access_denied_auth:0\r\nacl_access_denied_cmd:0\r\nacl_access_denied_key:0\r\nacl_access_denied_channel:0\r\n",
                st.connections_received.load(Ordering::Relaxed),
                st.commands.get(),
                srv.ops_per_sec(),
                st.net_input.get(),
                st.net_output.get(),
                st.net_repl_input.get(),
                st.net_repl_output.get(),
                st.rejected_connections.load(Ordering::Relaxed),
                st.sync_full.load(Ordering::Relaxed),
                st.sync_partial_ok.load(Ordering::Relaxed),
                st.sync_partial_err.load(Ordering::Relaxed),
                st.expired_keys.load(Ordering::Relaxed),
                st.expire_cycle_us.load(Ordering::Relaxed) / 1000,
                st.evicted_keys.load(Ordering::Relaxed),
                st.keyspace_hits.get(),
                st.keyspace_misses.get(),
                srv.pubsub.names(crate::pubsub::Kind::Channel, None).len(),
                srv.pubsub.patterns(),
                srv.pubsub.names(crate::pubsub::Kind::Shard, None).len(),
                tracking_totals.0,
                tracking_totals.1,
                tracking_totals.2,
                st.error_replies.load(Ordering::Relaxed),
            ),
        );
    }
    if want("replication") {
        section(&mut out, "Replication", crate::replication::info(srv));
    }
    if want("cpu") {
        let (u, sy) = crate::stats::cpu_times();
        section(
            &mut out,
            "CPU",
            format!("used_cpu_sys:{sy:.6}\r\nused_cpu_user:{u:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sy:.6}\r\nused_cpu_user_main_thread:{u:.6}\r\n"),
        );
    }
    if want("modules") {
        section(&mut out, "Modules", String::new());
    }
    if want("commandstats") {
        let mut b = String::new();
        let reg = registry();
        for (id, def) in reg.all.iter().enumerate() {
            let (calls, usec, rejected, failed) = srv.stats.command(id);
            if calls + rejected + failed == 0 {
                continue;
            }
            let per = if calls > 0 { usec as f64 / calls as f64 } else { 0.0 };
            let _ = write!(
                b,
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                def.name
            );
        }
        section(&mut out, "Commandstats", b);
    }
    if want("errorstats") {
        let mut errs: Vec<(String, u64)> = srv.stats.errors.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
        errs.sort();
        let b: String = errs.iter().map(|(k, v)| format!("errorstat_{k}:count={v}\r\n")).collect();
        section(&mut out, "Errorstats", b);
    }
    if want("cluster") {
        section(&mut out, "Cluster", "cluster_enabled:0\r\n".into());
    }
    if want("keyspace") {
        let mut b = String::new();
        for db in 0..srv.keyspace.databases() {
            let (keys, expires) = srv.keyspace.db_len(db);
            if keys > 0 {
                let _ = write!(b, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
        }
        section(&mut out, "Keyspace", b);
    }
    out
}

fn uname() -> String {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we own; fields are NUL-terminated.
    unsafe { libc::uname(&mut u) };
    let f = |s: &[libc::c_char]| unsafe { std::ffi::CStr::from_ptr(s.as_ptr()) }.to_string_lossy().into_owned();
    format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()))
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

// ---- CONFIG ----

pub fn config_get(ctx: &mut Ctx) -> CmdResult {
    let pairs = ctx.srv.config.get_matching(&ctx.args[2..]);
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

pub fn config_set(ctx: &mut Ctx) -> CmdResult {
    if !ctx.args.len().is_multiple_of(2) {
        return Err("ERR syntax error".into());
    }
    let owned: Vec<(String, String)> =
        ctx.args[2..].chunks(2).map(|p| (String::from_utf8_lossy(p[0]).into_owned(), String::from_utf8_lossy(p[1]).into_owned())).collect();
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let local = ctx.client.shared.addr.starts_with("127.") || ctx.client.shared.addr.starts_with("[::1]");
    let before = ctx.srv.config.settings();
    let old: Vec<(String, String)> = pairs.iter().filter_map(|(n, _)| Some((n.to_string(), ctx.srv.config.get(n)?))).collect();
    ctx.srv.config.set_many_from(&pairs, false, local).map_err(|(name, why)| Error::from(crate::config::set_error_reply(&name, &why)))?;
    let after = ctx.srv.config.settings();
    if before.port != after.port || before.bind != after.bind {
        let srv = ctx.srv.me.get().and_then(|w| w.upgrade()).expect("server alive");
        if let Err(e) = crate::net::listen(&srv) {
            tracing::warn!("Failed to listen after CONFIG SET: {e}");
            // All or nothing: put back every option this call changed.
            let restore: Vec<(&str, &str)> = old.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let _ = ctx.srv.config.set_many_from(&restore, true, true);
            let name = if before.port != after.port { "port" } else { "bind" };
            return Err(crate::config::set_error_reply(name, "Unable to listen on this port. Check server logs.").into());
        }
    }
    let s = ctx.srv.config.settings();
    {
        let mut log = ctx.srv.slowlog.lock();
        while log.entries.len() > s.slowlog_max_len {
            log.entries.pop_back();
        }
    }
    if before.appendonly != s.appendonly {
        let srv = ctx.srv.me.get().and_then(|w| w.upgrade()).expect("server alive");
        let in_exec = ctx.client.capture.borrow().is_some();
        if in_exec && s.appendonly {
            srv.aof.turn_on_scheduled.store(true, Ordering::Relaxed);
        } else if let Err(e) = tokio::task::block_in_place(|| crate::persistence::aof::set_enabled(&srv, s.appendonly)) {
            let _ = ctx.srv.config.set_many_from(&[("appendonly", if s.appendonly { "no" } else { "yes" })], true, true);
            return Err(crate::config::set_error_reply("appendonly", &e).into());
        }
    }
    if before.appendfsync != s.appendfsync {
        crate::persistence::aof::fsync_policy_changed(ctx.srv);
    }
    if before.repl_backlog_size != s.repl_backlog_size {
        ctx.srv.journal.set_backlog_size(s.repl_backlog_size);
    }
    if before.replica_obuf_limit != s.replica_obuf_limit {
        ctx.srv.journal.set_replica_limits(crate::net::outbox::Limits::of(s.replica_obuf_limit));
    }
    if before.aof_timestamp_enabled != s.aof_timestamp_enabled {
        ctx.srv.journal.set_aof_timestamps(s.aof_timestamp_enabled);
    }
    // A lowered maxmemory evicts at once, as in Redis (not at the next command).
    crate::evict::make_room(ctx.srv, &s);
    ctx.client.settings = s;
    ctx.client.settings_version = ctx.srv.config.version();
    ctx.out.ok();
    Ok(())
}

pub fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.out.ok();
    Ok(())
}

pub fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.srv.config.file.lock().clone() else {
        return Err("ERR The server is running without a config file".into());
    };
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let snapshot = ctx.srv.config.snapshot();
    let mut written = std::collections::HashSet::new();
    let mut lines = Vec::new();
    let render = |o: &crate::config::Opt, v: &str| -> String {
        match o.kind {
            crate::config::Kind::Multi if !v.is_empty() => format!("{} {v}", o.name),
            _ => format!("{} \"{}\"", o.name, v.replace('\\', "\\\\").replace('"', "\\\"")),
        }
    };
    for line in old.lines() {
        let t = line.trim();
        let name = t.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        if t.starts_with('#') || name.is_empty() {
            lines.push(line.to_string());
            continue;
        }
        match snapshot.iter().find(|(o, _)| o.name == name || o.alias == Some(name.as_str())) {
            Some((o, v)) => {
                if written.insert(o.name) {
                    lines.push(render(o, v));
                }
            }
            None => lines.push(line.to_string()),
        }
    }
    let mut header = false;
    for (o, v) in &snapshot {
        let default = crate::config::normalize(o, o.default).unwrap_or_default();
        if !written.contains(o.name) && *v != default {
            if !header {
                lines.push("# Generated by CONFIG REWRITE".into());
                header = true;
            }
            lines.push(render(o, v));
        }
    }
    let tmp = path.with_extension("tmp-rewrite");
    let body = lines.join("\n") + "\n";
    std::fs::write(&tmp, body)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::from(format!("ERR Rewriting config file: {e}")))?;
    ctx.out.ok();
    Ok(())
}

pub fn config_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---- COMMAND ----

fn write_command_info(ctx: &mut Ctx, def: &CommandDef) {
    let o = &mut *ctx.out;
    o.array(10);
    o.bulk(def.name.as_bytes());
    o.int(def.arity as i64);
    let flags: Vec<&str> = FLAG_NAMES.iter().filter(|(f, _)| def.flags & f != 0).map(|(_, n)| *n).collect();
    o.set(flags.len());
    for f in flags {
        o.simple(f.as_bytes());
    }
    o.int(def.keys.0 as i64);
    o.int(def.keys.1 as i64);
    o.int(def.keys.2 as i64);
    let cats = def.categories();
    o.set(cats.len());
    for c in cats {
        o.simple(c.as_bytes());
    }
    o.set(def.tips.len());
    for t in def.tips {
        o.simple(t.as_bytes());
    }
    o.array(def.key_specs.len());
    for spec in def.key_specs {
        o.map(3);
        o.bulk(b"flags");
        let flags: Vec<&str> = spec.flags.split(' ').collect();
        o.set(flags.len());
        for f in flags {
            o.simple(f.as_bytes());
        }
        o.bulk(b"begin_search");
        o.map(2);
        o.bulk(b"type");
        o.bulk(b"index");
        o.bulk(b"spec");
        o.map(1);
        o.bulk(b"index");
        o.int(spec.begin as i64);
        o.bulk(b"find_keys");
        o.map(2);
        o.bulk(b"type");
        o.bulk(b"range");
        o.bulk(b"spec");
        o.map(3);
        o.bulk(b"lastkey");
        o.int(spec.lastkey as i64);
        o.bulk(b"keystep");
        o.int(spec.step as i64);
        o.bulk(b"limit");
        o.int(0);
    }
    o.array(def.subcommands.len());
    for s in def.subcommands {
        write_command_info(ctx, s);
    }
}

pub fn command(ctx: &mut Ctx) -> CmdResult {
    let cmds = table::COMMANDS;
    ctx.out.array(cmds.len());
    for c in cmds {
        write_command_info(ctx, c);
    }
    Ok(())
}

pub fn command_count(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(table::COMMANDS.len() as i64);
    Ok(())
}

pub fn command_list(ctx: &mut Ctx) -> CmdResult {
    let mut names: Vec<&str> = Vec::new();
    let filter = if ctx.args.len() == 2 {
        None
    } else if ctx.args.len() == 5 && ctx.is(2, "FILTERBY") {
        Some((ctx.arg_str(3).to_ascii_lowercase(), ctx.args[4]))
    } else {
        return Err(err::SYNTAX.into());
    };
    for c in table::COMMANDS {
        for d in std::iter::once(c).chain(c.subcommands.iter()) {
            let keep = match &filter {
                None => true,
                Some((k, v)) if k == "pattern" => crate::util::glob_match(v, d.name.as_bytes(), true),
                Some((k, v)) if k == "aclcat" => {
                    let cat = format!("@{}", String::from_utf8_lossy(v).to_ascii_lowercase());
                    d.categories().contains(&cat.as_str())
                }
                Some((k, _)) if k == "module" => false,
                Some(_) => return Err(err::SYNTAX.into()),
            };
            if keep {
                names.push(d.name);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn find_def(name: &[u8]) -> Option<&'static CommandDef> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    if let Some((parent, _)) = lower.split_once('|') {
        return table::lookup(parent.as_bytes())?.subcommands.iter().find(|s| s.name == lower);
    }
    table::lookup(name)
}

pub fn command_info(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() == 2 {
        return command(ctx);
    }
    let names = &ctx.args[2..];
    ctx.out.array(names.len());
    for n in names {
        match find_def(n) {
            Some(d) => write_command_info(ctx, d),
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

fn write_docs(ctx: &mut Ctx, d: &CommandDef) {
    let o = &mut *ctx.out;
    let has_subs = !d.subcommands.is_empty();
    o.map(4 + has_subs as usize);
    o.bulk(b"summary");
    o.bulk(d.summary.as_bytes());
    o.bulk(b"since");
    o.bulk(d.since.as_bytes());
    o.bulk(b"group");
    o.bulk(d.group.as_bytes());
    o.bulk(b"complexity");
    o.bulk(d.complexity.as_bytes());
    if has_subs {
        o.bulk(b"subcommands");
        o.map(d.subcommands.len());
        for s in d.subcommands {
            ctx.out.bulk(s.name.as_bytes());
            write_docs(ctx, s);
        }
    }
}

pub fn command_docs(ctx: &mut Ctx) -> CmdResult {
    let defs: Vec<&CommandDef> =
        if ctx.args.len() == 2 { table::COMMANDS.iter().collect() } else { ctx.args[2..].iter().filter_map(|n| find_def(n)).collect() };
    ctx.out.map(defs.len());
    for d in defs {
        ctx.out.bulk(d.name.as_bytes());
        write_docs(ctx, d);
    }
    Ok(())
}

/// The keys of a full command line with their flags, per the table's key specs.
fn keys_of(args: &[&[u8]]) -> Result<Vec<(usize, Vec<&'static str>)>, Error> {
    let def = table::lookup(args[0]).ok_or(Error::from("ERR Invalid command specified"))?;
    let def = if def.subcommands.is_empty() {
        def
    } else {
        args.get(1)
            .and_then(|s| def.subcommands.iter().find(|d| d.sub_name().as_bytes().eq_ignore_ascii_case(s)))
            .ok_or(Error::from("ERR Invalid command specified"))?
    };
    let n = args.len() as i32;
    if (def.arity > 0 && def.arity != n) || (def.arity < 0 && n < -def.arity) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    if matches!(def.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro") {
        let n = super::scripting::numkeys(args).map_err(|_| Error::from("ERR Invalid arguments specified for command"))?;
        // Keys are optional for these (no_mandatory_keys): none is an empty answer.
        if n == 0 {
            return Ok(Vec::new());
        }
        let flags = if def.flags & super::table::READONLY != 0 { vec!["RO", "access"] } else { vec!["RW", "access", "update"] };
        return Ok((3..3 + n).map(|i| (i, flags.clone())).collect());
    }
    if let Some(keys) = numkeys_keys(def.name, args) {
        return keys.ok_or(Error::from("ERR Invalid arguments specified for command"));
    }
    if def.key_specs.is_empty() {
        return Err("ERR The command has no key arguments".into());
    }
    if let Some(keys) = super::sort::getkeys(def.name, args) {
        return Ok(keys);
    }
    let mut out = Vec::new();
    for spec in def.key_specs {
        let last = if spec.lastkey < 0 { n + spec.lastkey } else { spec.begin + spec.lastkey };
        let flags = variable_key_flags(def, args).unwrap_or_else(|| spec.flags.split(' ').filter(|f| *f != "variable_flags").collect());
        let mut i = spec.begin;
        while i <= last.min(n - 1) {
            out.push((i as usize, flags.clone()));
            i += spec.step.max(1);
        }
    }
    Ok(out)
}

/// Key argument positions with their flags.
type KeyArgs = Vec<(usize, Vec<&'static str>)>;

/// Keys of the commands that count them (`numkeys key...`), with their key-spec
/// flags; `Some(None)` for a bad count.
fn numkeys_keys(name: &str, args: &[&[u8]]) -> Option<Option<KeyArgs>> {
    const RO: &[&str] = &["RO", "access"];
    const POP: &[&str] = &["RW", "access", "delete"];
    // (position of numkeys, its keys' flags, destination key position)
    let (at, flags, dest) = match name {
        "zunionstore" | "zinterstore" | "zdiffstore" => (2, RO, Some(1)),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" => (1, RO, None),
        "lmpop" | "zmpop" => (1, POP, None),
        "blmpop" | "bzmpop" => (2, POP, None),
        _ => return None,
    };
    let n = args.get(at).and_then(|a| crate::util::parse_canonical_i64(a)).filter(|&n| n > 0 && (n as usize) < args.len() - at);
    let Some(n) = n else { return Some(None) };
    let mut keys: KeyArgs = dest.map(|d| (d, vec!["OW", "update"])).into_iter().collect();
    keys.extend((at + 1..=at + n as usize).map(|i| (i, flags.to_vec())));
    Some(Some(keys))
}

/// Flags that depend on the arguments, as Redis's per-command key procs decide them.
fn variable_key_flags(def: &CommandDef, args: &[&[u8]]) -> Option<Vec<&'static str>> {
    match def.name {
        "set" if args[3..].iter().any(|a| a.eq_ignore_ascii_case(b"GET")) => Some(vec!["RW", "access", "update"]),
        "set" => Some(vec!["OW", "update"]),
        "bitfield" => {
            let mut read_only = true;
            let mut i = 2;
            while i < args.len() {
                let op = args[i].to_ascii_uppercase();
                match op.as_slice() {
                    b"GET" => i += 3,
                    b"OVERFLOW" => i += 2,
                    _ => {
                        read_only = false;
                        break;
                    }
                }
            }
            Some(if read_only { vec!["RO", "access"] } else { vec!["RW", "access", "update"] })
        }
        _ => None,
    }
}

pub fn command_getkeys(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    let keys = keys_of(args)?;
    ctx.out.array(keys.len());
    for (i, _) in keys {
        ctx.out.bulk(args[i]);
    }
    Ok(())
}

pub fn command_getkeysandflags(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.args[2..];
    let keys = keys_of(args)?;
    ctx.out.array(keys.len());
    for (i, flags) in keys {
        ctx.out.array(2);
        ctx.out.bulk(args[i]);
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f.as_bytes());
        }
    }
    Ok(())
}

pub fn command_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

// ---- SLOWLOG / LATENCY ----

pub fn slowlog_get(ctx: &mut Ctx) -> CmdResult {
    let count = if ctx.args.len() == 3 {
        let n = crate::util::parse_canonical_i64(ctx.args[2]).ok_or(Error::from("ERR count should be greater than or equal to -1"))?;
        if n < -1 {
            return Err("ERR count should be greater than or equal to -1".into());
        }
        if n == -1 {
            usize::MAX
        } else {
            n as usize
        }
    } else if ctx.args.len() == 2 {
        10
    } else {
        return Err("ERR wrong number of arguments for 'slowlog|get' command".into());
    };
    let log = ctx.srv.slowlog.lock();
    let n = count.min(log.entries.len());
    ctx.out.array(n);
    for e in log.entries.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time as i64);
        ctx.out.int(e.micros as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

pub fn slowlog_len(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.slowlog.lock().entries.len();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn slowlog_reset(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.slowlog.lock().entries.clear();
    ctx.out.ok();
    Ok(())
}

pub fn slowlog_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

pub fn latency_latest(ctx: &mut Ctx) -> CmdResult {
    let l = ctx.srv.latency.lock();
    let mut events: Vec<_> = l.iter().collect();
    events.sort_by(|a, b| a.0.cmp(b.0));
    ctx.out.array(events.len());
    for (name, e) in events {
        let (t, ms) = e.samples.back().copied().unwrap_or((0, 0));
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(t as i64);
        ctx.out.int(ms as i64);
        ctx.out.int(e.max as i64);
    }
    Ok(())
}

pub fn latency_history(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.arg_str(2).into_owned();
    let l = ctx.srv.latency.lock();
    match l.get(&name) {
        None => ctx.out.array(0),
        Some(e) => {
            ctx.out.array(e.samples.len());
            for (t, ms) in &e.samples {
                ctx.out.array(2);
                ctx.out.int(*t as i64);
                ctx.out.int(*ms as i64);
            }
        }
    }
    Ok(())
}

pub fn latency_reset(ctx: &mut Ctx) -> CmdResult {
    let mut l = ctx.srv.latency.lock();
    let n = if ctx.args.len() == 2 {
        let n = l.len();
        l.clear();
        n
    } else {
        ctx.args[2..].iter().filter(|a| l.remove(String::from_utf8_lossy(a).as_ref()).is_some()).count()
    };
    ctx.out.int(n as i64);
    Ok(())
}

pub fn latency_doctor(ctx: &mut Ctx) -> CmdResult {
    let empty = ctx.srv.latency.lock().is_empty();
    let text = if empty {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a bit more.\n".to_string()
    } else {
        let l = ctx.srv.latency.lock();
        let mut t =
            String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        for (i, (name, e)) in l.iter().enumerate() {
            let _ = writeln!(
                t,
                "{}. {name}: {} latency spikes (average {}ms, mean deviation 0ms, period 0 sec). Worst all time event {}ms.",
                i + 1,
                e.samples.len(),
                e.samples.iter().map(|s| s.1).sum::<u64>() / e.samples.len().max(1) as u64,
                e.max
            );
        }
        t
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

pub fn latency_histogram(ctx: &mut Ctx) -> CmdResult {
    let reg = registry();
    let wanted: Vec<(usize, &CommandDef)> = if ctx.args.len() == 2 {
        reg.all.iter().enumerate().map(|(i, d)| (i, *d)).collect()
    } else {
        // A container command stands for its subcommands, as in Redis.
        ctx.args[2..]
            .iter()
            .filter_map(|n| find_def(n))
            .flat_map(|d| if d.subcommands.is_empty() { std::slice::from_ref(d) } else { d.subcommands })
            .map(|d| (reg.id(d), d))
            .collect()
    };
    let rows: Vec<(&str, u64)> =
        wanted.into_iter().map(|(id, d)| (d.name, ctx.srv.stats.command(id).0)).filter(|(_, calls)| *calls > 0).collect();
    ctx.out.map(rows.len());
    for (name, calls) in rows {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(calls as i64);
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(0);
    }
    Ok(())
}

pub fn latency_graph(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.arg_str(2).into_owned();
    let l = ctx.srv.latency.lock();
    let Some(e) = l.get(&name) else {
        return Err(format!("ERR No samples available for event '{name}'").into());
    };
    let mut t = format!(
        "{name} - high {} ms, low {} ms (all time high {} ms)\n",
        e.samples.iter().map(|s| s.1).max().unwrap_or(0),
        e.samples.iter().map(|s| s.1).min().unwrap_or(0),
        e.max
    );
    t.push_str(&"-".repeat(80));
    t.push('\n');
    for (ts, ms) in &e.samples {
        let _ = writeln!(t, "{ts} {ms}ms");
    }
    ctx.out.verbatim(t.as_bytes());
    Ok(())
}

pub fn latency_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

// ---- MEMORY ----

/// Bytes a key costs: its node, bucket slot and heap parts.
pub fn key_memory(key: &crate::keyspace::Blob, v: &Value) -> usize {
    72 + 8 + key.heap_size() + v.heap_size()
}

pub fn memory_usage(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.args[2];
    if ctx.args.len() == 5 && ctx.is(3, "SAMPLES") {
        ctx.int_arg(4)?;
    } else if ctx.args.len() != 3 {
        return Err(err::SYNTAX.into());
    }
    match ctx.lookup(key) {
        Some(e) => {
            let n = key_memory(&e.key, &e.value);
            ctx.out.int(n as i64)
        }
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn memory_stats(ctx: &mut Ctx) -> CmdResult {
    let used = ctx.srv.used_memory() as i64;
    let keys: usize = (0..ctx.srv.keyspace.databases()).map(|db| super::keys::db_size(&ctx.srv.keyspace, db)).sum();
    let fields: Vec<(&str, i64)> = vec![
        ("peak.allocated", used),
        ("total.allocated", used),
        ("startup.allocated", 0),
        ("replication.backlog", ctx.srv.journal.backlog_len() as i64),
        ("clients.slaves", 0),
        ("clients.normal", 0),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", 0),
        ("functions.caches", 0),
        ("overhead.total", 0),
        ("keys.count", keys as i64),
        ("keys.bytes-per-key", if keys > 0 { used / keys as i64 } else { 0 }),
        ("dataset.bytes", used),
    ];
    ctx.out.map(fields.len());
    for (k, v) in fields {
        ctx.out.bulk(k.as_bytes());
        ctx.out.int(v);
    }
    Ok(())
}

pub fn memory_doctor(ctx: &mut Ctx) -> CmdResult {
    ctx.out.verbatim(b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.");
    Ok(())
}

pub fn memory_malloc_stats(ctx: &mut Ctx) -> CmdResult {
    ctx.out.verbatim(b"Stats not supported for the current allocator");
    Ok(())
}

pub fn memory_purge(ctx: &mut Ctx) -> CmdResult {
    crate::alloc::purge();
    ctx.out.ok();
    Ok(())
}

pub fn memory_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

// ---- MODULE ----
// ferrokv loads no modules: LIST is empty, LOAD fails as Redis does for a bad library.

pub fn module_help(ctx: &mut Ctx) -> CmdResult {
    super::help(
        ctx,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
    Ok(())
}

pub fn module_list(ctx: &mut Ctx) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

fn module_allowed(ctx: &Ctx) -> Result<(), Error> {
    let setting = ctx.srv.config.get("enable-module-command").unwrap_or_default();
    let local = ctx.client.shared.addr.starts_with("127.") || ctx.client.shared.addr.starts_with("[::1]");
    if setting == "yes" || (setting == "local" && local) {
        return Ok(());
    }
    Err("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into())
}

pub fn module_load(ctx: &mut Ctx) -> CmdResult {
    module_allowed(ctx)?;
    tracing::warn!("Module {} failed to load: ferrokv does not load modules", ctx.arg_str(2));
    Err("ERR Error loading the extension. Please check the server logs.".into())
}

pub fn module_unload(ctx: &mut Ctx) -> CmdResult {
    module_allowed(ctx)?;
    Err("ERR Error unloading module: no such module with that name".into())
}

// ---- DEBUG ----

pub fn debug_slots(args: &[&[u8]], db: usize, ndbs: usize) -> Result<Slots, Error> {
    let sub = args[1].to_ascii_lowercase();
    let all_of = |dbs: std::ops::Range<usize>| {
        dbs.flat_map(|d| (0..SHARDS as u32).map(move |shard| Slot { db: d as u32, shard })).collect::<Slots>()
    };
    Ok(match sub.as_slice() {
        b"digest" | b"reload" => all_of(0..ndbs),
        b"populate" | b"object" | b"digest-value" | b"htstats-key" => all_of(db..db + 1),
        _ => Default::default(),
    })
}

fn debug_allowed(ctx: &Ctx) -> bool {
    match ctx.client.settings.enable_debug_command.as_str() {
        "yes" => true,
        "local" => ctx.client.shared.addr.starts_with("127.") || ctx.client.shared.addr.starts_with("[::1]"),
        _ => false,
    }
}

/// A digest of one value that is independent of encoding, as DEBUG DIGEST-VALUE gives.
fn value_digest(v: &Value) -> [u8; 20] {
    v.digest()
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[allow(clippy::approx_constant)]
pub fn debug(ctx: &mut Ctx) -> CmdResult {
    if !debug_allowed(ctx) {
        return Err("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into());
    }
    let sub = ctx.args[1].to_ascii_lowercase();
    let n = ctx.args.len();
    match sub.as_slice() {
        b"help" => {
            super::help(
                ctx,
                "DEBUG",
                &[
                    "CHANGE-REPL-ID",
                    "    Change the replication IDs of the instance.",
                    "DIGEST",
                    "    Output a hex signature representing the current DB content.",
                    "DIGEST-VALUE <key> [<key> ...]",
                    "    Output a hex signature of the values of all the specified keys.",
                    "LOG <message>",
                    "    Write <message> to the server log.",
                    "OBJECT <key>",
                    "    Show low level info about the <key> and associated value.",
                    "POPULATE <count> [<prefix>] [<size>]",
                    "    Create <count> string keys named key:<num>.",
                    "PROTOCOL <type>",
                    "    Reply with a test value of the specified type.",
                    "RELOAD [option ...]",
                    "    Save the RDB in memory, flush the dataset and reload it. Options:",
                    "    * MERGE: Merge the content of the RDB instead of flushing the dataset first.",
                    "    * NOFLUSH: Do not empty the dataset before loading the RDB.",
                    "    * NOSAVE: Load the RDB file on disk (dir/dbfilename) instead of saving first.",
                    "REPL-STREAM [<bytes>]",
                    "    Return the last <bytes> (default 4096) of the write stream.",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background.",
                    "SLEEP <seconds>",
                    "    Stop the server for <seconds>. Decimals allowed.",
                    "STRINGMATCH-LEN",
                    "    Run a fuzz tester against the stringmatchlen() function.",
                ],
            );
        }
        b"sleep" if n == 3 => {
            let secs = crate::util::parse_f64(ctx.args[2]).ok_or(Error::from(err::NOT_FLOAT))?;
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)));
            ctx.out.ok();
        }
        b"set-active-expire" if n == 3 => {
            ctx.srv.active_expire.store(ctx.args[2] != b"0", Ordering::Relaxed);
            ctx.out.ok();
        }
        b"log" if n == 3 => {
            tracing::warn!("DEBUG LOG: {}", ctx.arg_str(2));
            ctx.out.ok();
        }
        b"repl-stream" if n <= 3 => {
            // The tail of the write stream (ferrokv-specific): lets tests and operators
            // see the exact effects that AOF and replicas receive.
            let bytes = if n == 3 { ctx.int_arg(2)?.max(0) as usize } else { 4096 };
            ctx.srv.journal.activate();
            let tail = ctx.srv.journal.tail(bytes);
            ctx.out.bulk(&tail);
        }
        b"change-repl-id" => {
            *ctx.srv.replid.lock() = crate::server::random_hex(40);
            ctx.out.ok();
        }
        b"object" if n == 3 => {
            let key = ctx.args[2];
            let clock = ctx.srv.lru_clock();
            // Like Redis, a key past its TTL that nothing has expired yet is still shown.
            let slot = crate::keyspace::Keyspace::slot(ctx.db(), key);
            let Some(e) = ctx.keys.shard_mut(slot).get(crate::keyspace::hash_key(key), key) else { return Err(err::NO_KEY.into()) };
            let enc = e.value.encoding(e.enc);
            // What the value takes in an RDB, less its type byte (as Redis counts).
            let mut buf = Vec::new();
            crate::persistence::rdb::write_value(&mut buf, &e.value, true);
            let len = buf.len() - 1;
            let line = format!(
                "Value at:{:p} refcount:1 encoding:{enc} serializedlength:{} lru:{} lru_seconds_idle:{}",
                e as *const _,
                len,
                e.lru,
                clock.saturating_sub(e.lru)
            );
            ctx.out.simple(line.as_bytes());
        }
        b"digest" => {
            let mut acc = [0u8; 20];
            let mut any = false;
            let now = ctx.now;
            for db in 0..ctx.srv.keyspace.databases() {
                for shard in ctx.keys.db_shards(db) {
                    for e in shard.dict.iter() {
                        if e.expire_at != 0 && e.expire_at <= now {
                            continue;
                        }
                        any = true;
                        let mut h = Sha1::new();
                        h.update((db as u64).to_le_bytes());
                        h.update(e.key.as_slice());
                        h.update(value_digest(&e.value));
                        h.update(e.expire_at.to_le_bytes());
                        let d: [u8; 20] = h.finalize().into();
                        for i in 0..20 {
                            acc[i] ^= d[i];
                        }
                    }
                }
            }
            let s = if any { hex(&acc) } else { "0".repeat(40) };
            ctx.out.simple(s.as_bytes());
        }
        b"digest-value" => {
            let keys = &ctx.args[2..];
            ctx.out.array(keys.len());
            for &k in keys {
                let d = match ctx.lookup(k) {
                    Some(e) => hex(&value_digest(&e.value)),
                    None => "0".repeat(40),
                };
                ctx.out.simple(d.as_bytes());
            }
        }
        b"populate" if (3..=5).contains(&n) => {
            let count = ctx.int_arg(2)?;
            if count < 0 {
                return Err("ERR count must be positive".into());
            }
            let prefix = if n >= 4 { ctx.args[3].to_vec() } else { b"key".to_vec() };
            let size = if n == 5 { Some(ctx.int_arg(4)?.max(0) as usize) } else { None };
            for i in 0..count {
                let mut key = prefix.clone();
                key.extend_from_slice(format!(":{i}").as_bytes());
                if ctx.lookup(&key).is_some() {
                    continue;
                }
                let mut val = format!("value:{i}").into_bytes();
                if let Some(sz) = size {
                    val.resize(sz, 0);
                }
                ctx.store(&key, Value::Str(crate::keyspace::Blob::from_vec(val)), 0);
            }
            ctx.out.ok();
        }
        b"reload" => debug_reload(ctx)?,
        b"loadaof" => {
            let srv = ctx.srv;
            if let Err(e) = tokio::task::block_in_place(|| crate::persistence::aof::debug_loadaof(srv)) {
                tracing::warn!("{}", e.0);
                return Err("ERR Error loading the AOF, check server logs.".into());
            }
            ctx.out.ok();
        }
        b"protocol" if n == 3 => debug_protocol(ctx)?,
        b"stringmatch-len" => {
            // Matching a pathological pattern must finish quickly and not crash.
            let pat = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
            let s = vec![b'a'; 50];
            let _ = crate::util::glob_match(pat, &s, false);
            ctx.out.ok();
        }
        b"set-disable-deny-scripts" if n == 3 => {
            let on = ctx.int_arg(2)? != 0;
            ctx.srv.scripts.allow_noscript.store(on, std::sync::atomic::Ordering::Relaxed);
            ctx.out.ok();
        }
        b"quicklist-packed-threshold" | b"listpack" | b"set-disable-deny-scripts" | b"pause-cron" | b"replybuffer" | b"dict-resizing" => {
            ctx.out.ok();
        }
        b"htstats-key" if n == 3 => {
            ctx.out.verbatim(b"No stats available for this key type");
        }
        b"htstats" if n >= 3 => {
            let db = ctx.int_arg(2)?;
            if db < 0 || db as usize >= ctx.srv.keyspace.databases() {
                return Err("ERR Out of range database".into());
            }
            let (mut keys, mut buckets) = (0, 0);
            for i in 0..SHARDS {
                let s = ctx.srv.keyspace.shard_ro(db as usize, i);
                keys += s.dict.len();
                buckets += s.dict.buckets();
            }
            let t = format!("[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: {buckets}\n number of elements: {keys}\n[Expires HT]\nNo stats available for empty dictionaries\n");
            ctx.out.verbatim(t.as_bytes());
        }
        _ => {
            return Err(format!("ERR unknown subcommand '{}'. Try DEBUG HELP.", ctx.arg_str(1)).into());
        }
    }
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: a round trip of the whole dataset through
/// the RDB format (kept in memory unless NOSAVE asks for the file on disk), which is
/// what tests use to check that every encoding survives a restart.
fn debug_reload(ctx: &mut Ctx) -> CmdResult {
    let (mut flush, mut save, mut merge) = (true, true, false);
    for a in &ctx.args[2..] {
        match a.to_ascii_lowercase().as_slice() {
            b"merge" => merge = true,
            b"noflush" => flush = false,
            b"nosave" => save = false,
            _ => return Err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into()),
        }
    }
    let databases = ctx.srv.keyspace.databases();
    let data = if save {
        let data =
            crate::persistence::rdb::snapshot_with(&mut ctx.keys, databases, crate::persistence::rdb::At::of(ctx.srv, ctx.now), true);
        // Like Redis, the reload goes through dump.rdb, which a later NOSAVE reload reads.
        let path = std::path::Path::new(&ctx.client.settings.dir).join(ctx.srv.config.get("dbfilename").unwrap_or_default());
        if let Err(e) = crate::persistence::snapshot::write_file(&path.to_string_lossy(), &data) {
            tracing::warn!("DEBUG RELOAD could not write {}: {e}", path.display());
        }
        data
    } else {
        let path = std::path::Path::new(&ctx.client.settings.dir).join(ctx.srv.config.get("dbfilename").unwrap_or_default());
        match std::fs::read(&path).or_else(|_| std::fs::read(ctx.srv.config.get("dbfilename").unwrap_or_default())) {
            Ok(d) => d,
            Err(_) => return Err("ERR Error trying to load the RDB dump, check server logs.".into()),
        }
    };
    use crate::scripting::library::{self, Policy};
    if flush {
        for db in 0..databases {
            for shard in ctx.keys.db_shards(db) {
                shard.clear();
            }
        }
        library::libraries().flush();
    }
    let lim = crate::persistence::load::Limits::from_settings(&ctx.client.settings);
    let lru = ctx.srv.lru_clock();
    // Without a flush the file's libraries meet the loaded ones: MERGE replaces them,
    // otherwise a clash fails the reload, as in Redis.
    library::set_load_policy(if merge { Policy::Replace } else { Policy::Append });
    let loaded = crate::persistence::load::load_into(&mut ctx.keys, &data, &lim, databases, ctx.now, lru);
    library::set_load_policy(Policy::Replace);
    match loaded {
        Ok(_) => {
            tracing::info!("DB reloaded by DEBUG RELOAD");
            ctx.out.ok();
            Ok(())
        }
        Err(c) => {
            tracing::warn!("Internal error in RDB reading offset {} function at rdbLoad -> {}", c.offset, c.msg);
            Err("ERR Error trying to load the RDB dump, check server logs.".into())
        }
    }
}

#[allow(clippy::approx_constant)]
fn debug_protocol(ctx: &mut Ctx) -> CmdResult {
    let t = ctx.args[2].to_ascii_lowercase();
    let o = &mut *ctx.out;
    match t.as_slice() {
        b"string" => o.bulk(b"Hello World"),
        b"integer" => o.int(12345),
        b"double" => o.double(3.141), // Redis's literal test value, not PI.
        b"bignum" => {
            if o.resp3 {
                o.buf.extend_from_slice(b"(1234567999999999999999999999999999999\r\n");
            } else {
                o.bulk(b"1234567999999999999999999999999999999");
            }
        }
        b"null" => o.null(),
        b"array" => {
            o.array(3);
            for i in 0..3 {
                o.int(i);
            }
        }
        b"set" => {
            o.set(3);
            for i in 0..3 {
                o.int(i);
            }
        }
        b"map" => {
            o.map(3);
            for i in 0..3 {
                o.int(i);
                o.bool(i == 1);
            }
        }
        b"attrib" => {
            if o.resp3 {
                o.buf.extend_from_slice(b"|1\r\n");
                o.bulk(b"key-popularity");
                o.array(2);
                o.bulk(b"key:123");
                o.int(90);
            }
            o.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !o.resp3 {
                return Err("ERR RESP2 is not supported by this command".into());
            }
            o.push(2);
            o.bulk(b"server-cpu-usage");
            o.int(42);
            o.bulk(b"Some real reply following the push reply");
        }
        b"true" => o.bool(true),
        b"false" => o.bool(false),
        b"verbatim" => o.verbatim(b"This is a verbatim\nstring"),
        _ => {
            return Err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into())
        }
    }
    Ok(())
}
