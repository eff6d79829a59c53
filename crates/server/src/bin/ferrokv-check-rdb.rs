//! ferrokv-check-rdb: redis-check-rdb for ferrokv, with its usage, output and exit codes.

#[path = "common/rdb_check.rs"]
mod rdb_check;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 2 {
        eprintln!("Usage: {} <rdb-file-name>", args.first().map_or("ferrokv-check-rdb", |s| s.as_str()));
        std::process::exit(1);
    }
    if args[1] == "-v" || args[1] == "--version" {
        println!("redis-check-rdb {}", ferrokv_server::REDIS_VERSION);
        std::process::exit(0);
    }
    let out = &mut std::io::stdout().lock();
    let Ok(data) = std::fs::read(&args[1]) else {
        // Redis says no more than this when the file cannot be opened.
        let _ = writeln!(out, "[offset 0] Checking RDB file {}", args[1]);
        std::process::exit(1);
    };
    let ok = rdb_check::check(&data, &args[1], out).is_some();
    let _ = out.flush();
    std::process::exit(if ok { 0 } else { 1 });
}
