//! `ferrokv-server [/path/to/redis.conf] [--option value ...]`, like redis-server.

use std::sync::atomic::Ordering;

use ferrokv_server::{config, cron, log, net, server::Server, REDIS_VERSION};

#[global_allocator]
static ALLOC: ferrokv_server::alloc::Counting = ferrokv_server::alloc::Counting;

fn usage() -> ! {
    eprintln!(
        "Usage: ./ferrokv-server [/path/to/redis.conf] [options] [-]\n       ./ferrokv-server - (read config from stdin)\n       ./ferrokv-server -v or --version\n       ./ferrokv-server -h or --help\n\nExamples:\n       ./ferrokv-server (run the server with default conf)\n       ./ferrokv-server /etc/redis/6379.conf\n       ./ferrokv-server --port 7777\n       ./ferrokv-server /etc/myredis.conf --loglevel verbose"
    );
    std::process::exit(1);
}

/// Quotes a command-line value so the config parser reads it back as one word.
fn quote(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Builds the config text: the file's contents, then one line per `--name value...`.
fn config_text(args: &[String]) -> Result<(String, Option<std::path::PathBuf>), String> {
    let mut text = String::new();
    let mut file = None;
    let mut i = 0;
    if let Some(first) = args.first() {
        if first == "-v" || first == "--version" {
            println!("Redis server v={REDIS_VERSION} sha=00000000:0 malloc=libc bits=64 build=ferrokv-{}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0);
        }
        if first == "-h" || first == "--help" {
            usage();
        }
        if first == "-" {
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| e.to_string())?;
            i = 1;
        } else if !first.starts_with("--") {
            let p = std::path::PathBuf::from(first);
            text = std::fs::read_to_string(&p).map_err(|e| format!("Fatal error, can't open config file '{first}': {e}"))?;
            file = Some(std::fs::canonicalize(&p).unwrap_or(p));
            i = 1;
        }
    }
    text.push('\n');
    let mut line: Vec<String> = Vec::new();
    for a in &args[i..] {
        if let Some(name) = a.strip_prefix("--") {
            if !line.is_empty() {
                text.push_str(&line.join(" "));
                text.push('\n');
            }
            line = vec![name.to_string()];
        } else if line.is_empty() {
            return Err(format!("Invalid argument '{a}'"));
        } else {
            line.push(quote(a));
        }
    }
    if !line.is_empty() {
        // A bare `--save` (no value) means `save ""` as in redis-server.
        if line.len() == 1 {
            line.push("\"\"".into());
        }
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    Ok((text, file))
}

/// `server-threads`, or by default one worker per core but one: the clients, the kernel's
/// network stack and our own background threads (AOF, snapshots) need a core too, and a
/// worker that has to share one costs every connection more than it adds (BENCHMARKS.md,
/// "Worker threads").
fn worker_threads(srv: &Server) -> usize {
    match srv.config.get("server-threads").and_then(|v| v.parse().ok()) {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()).saturating_sub(1).max(1),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (text, file) = match config_text(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let cfg = config::Config::new();
    if let Err(e) = config::load_text(&cfg, &text) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    *cfg.file.lock() = file;
    let s = cfg.settings();
    log::init(&s.loglevel, &s.logfile);
    ferrokv_server::clock::init();
    let srv = Server::new(cfg);
    if s.dir != "." {
        if let Err(e) = std::env::set_current_dir(&s.dir) {
            tracing::warn!("Can't chdir to '{}': {e}", s.dir);
            std::process::exit(1);
        }
    }
    let workers = worker_threads(&srv);
    tracing::debug!("serving connections on {workers} worker thread(s)");
    let parked = srv.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        // Tasks woken off the workers go first: the connections an AOF group commit
        // (`before_park`) released send their replies before new commands run.
        .global_queue_interval(1)
        .on_thread_park(move || {
            ferrokv_server::scripting::vm::release_stale();
            ferrokv_server::persistence::aof::before_park(&parked);
        })
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        tracing::info!("oO0OoO0OoO0Oo ferrokv is starting oO0OoO0OoO0Oo");
        tracing::info!(
            "ferrokv version={} (Redis {REDIS_VERSION} compatible), bits=64, pid={}, just started",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        );
        // Loaded before listening, so no client ever sees a partial dataset.
        // With the AOF on, it alone is the dataset (as in Redis); otherwise the RDB.
        if s.appendonly {
            if let Err(e) = ferrokv_server::persistence::aof::load_and_open(&srv) {
                tracing::warn!("{}", e.0);
                std::process::exit(1);
            }
        } else {
            let dbfile = srv.config.get("dbfilename").unwrap_or_default();
            if let Err(e) = ferrokv_server::persistence::load::load_at_startup(&srv, std::path::Path::new(&dbfile)) {
                tracing::warn!("{e}");
                std::process::exit(1);
            }
        }
        if let Err(e) = net::listen(&srv) {
            tracing::warn!("Warning: {e}");
            tracing::warn!("Failed listening on port {} (tcp), aborting.", s.port);
            std::process::exit(1);
        }
        tracing::info!("Running mode=standalone, port={}, worker threads={workers}.", s.port);
        cron::spawn(srv.clone());
        let replicaof = srv.config.get("replicaof").unwrap_or_default();
        if let [host, port] = replicaof.split_whitespace().collect::<Vec<_>>()[..] {
            if let Ok(port) = port.parse::<u16>() {
                ferrokv_server::replication::replica::start(&srv, host.to_string(), port);
            }
        }
        srv.startup_memory.store(srv.used_memory(), Ordering::Relaxed);
        tracing::info!("Server initialized");
        tracing::info!("Ready to accept connections tcp");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        loop {
            let by_signal = tokio::select! {
                _ = srv.shutdown.notified() => false,
                _ = tokio::signal::ctrl_c() => {
                    tracing::warn!("Received SIGINT scheduling shutdown...");
                    true
                }
                _ = term.recv() => {
                    tracing::warn!("Received SIGTERM scheduling shutdown...");
                    true
                }
            };
            if !by_signal {
                break;
            }
            tracing::warn!("User requested shutdown...");
            let s2 = srv.clone();
            let done = tokio::task::spawn_blocking(move || {
                ferrokv_server::persistence::prepare_shutdown(&s2, ferrokv_server::persistence::FinalSave::Default)
            });
            if let Ok(Ok(())) = done.await {
                break;
            }
            tracing::warn!("SIGTERM received but errors trying to shut down the server, check the logs for more information");
        }
        tracing::warn!("ferrokv is now ready to exit, bye bye...");
        std::process::exit(0);
    });
}
