//! ferrokv-check-aof: redis-check-aof for ferrokv (same usage, output and exit codes),
//! plus `--list` to print every command of an AOF and `--cut-before` to drop the tail
//! of the last INCR file from a given command on (e.g. an unwanted FLUSHALL).

#[path = "common/rdb_check.rs"]
mod rdb_check;

use std::fs::OpenOptions;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::process::exit;

use ferrokv_server::persistence::aof_scan::{self, AofScanner, Entry, ErrorKind};
use ferrokv_server::persistence::manifest::{self, Manifest};
use ferrokv_server::util::strerror;

#[derive(PartialEq)]
enum Outcome {
    Ok,
    Empty,
    Truncated,
    TimestampTruncated,
}

/// redis-check-aof's process-wide state: the line count and the error carry from
/// one file of a manifest to the next.
struct Checker {
    fix: bool,
    to_timestamp: i64,
    line: u64,
    error: String,
}

/// A Redis `serverLog` warning line, as the check tools print them.
fn server_log(msg: &str) {
    println!("{}:C {} # {}", std::process::id(), ferrokv_server::log::timestamp(), msg);
}

/// `dirname(3)`.
fn dirname(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    match t.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".into()
            } else {
                d.into()
            }
        }
    }
}

fn make_path(dir: &str, name: &str) -> String {
    format!("{dir}/{name}")
}

fn read_or_exit(path: &str) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            println!("Cannot open file {path}: {}", strerror(&e));
            exit(1);
        }
    }
}

fn file_is_rdb(path: &str) -> bool {
    match aof_scan::file_has_rdb_preamble(Path::new(path)) {
        Ok(b) => b,
        Err(e) => {
            println!("Cannot open file {path}: {}", strerror(&e));
            exit(1);
        }
    }
}

/// A manifest is a file whose first non-comment lines start with `file`.
fn file_is_manifest(path: &str) -> bool {
    let data = read_or_exit(path);
    let mut rest = &data[..];
    let mut is = false;
    while !rest.is_empty() {
        let n = memchr::memchr(b'\n', &rest[..rest.len().min(1024)]).map_or(rest.len().min(1024), |i| i + 1);
        let chunk = &rest[..n];
        rest = &rest[n..];
        if chunk.starts_with(b"#") {
            continue;
        } else if chunk.starts_with(b"file") {
            is = true;
        } else {
            break;
        }
    }
    is
}

fn load_manifest(path: &str) -> Manifest {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) => {
            server_log(&format!("Fatal error: can't open the AOF manifest file {path} for reading: {}", strerror(&e)));
            exit(1);
        }
    };
    match Manifest::parse(&text) {
        Ok(m) => m,
        Err(e) => {
            for l in e.log_lines() {
                server_log(&l);
            }
            exit(1);
        }
    }
}

/// Where the RDB part of `data` ends, checked quietly.
fn rdb_end(data: &[u8], path: &str) -> Option<usize> {
    rdb_check::check(data, path, &mut io::sink())
}

impl Checker {
    fn check_single(&mut self, name: &str, path: &str, last_file: bool, preamble: bool) -> Outcome {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                println!("Cannot open file {path}: {}, aborting...", strerror(&e));
                exit(1);
            }
        };
        let size = data.len() as u64;
        if size == 0 {
            return Outcome::Empty;
        }
        let mut start = 0u64;
        if preamble {
            let out = &mut io::stdout();
            match rdb_check::check(&data, path, out) {
                Some(end) => {
                    println!("RDB preamble is OK, proceeding with AOF tail...");
                    start = end as u64;
                }
                None => {
                    println!("RDB preamble of AOF file is not sane, aborting.");
                    exit(1);
                }
            }
        }
        let mut scanner = AofScanner::at(&data[start as usize..], start);
        let mut multi = 0i64;
        let mut pos = start;
        let mut at_eof = false;
        loop {
            if multi == 0 {
                pos = scanner.position();
            }
            match scanner.next_entry() {
                Ok(None) => {
                    at_eof = true;
                    break;
                }
                Ok(Some(Entry::Annotation { offset, line, .. })) => {
                    if self.to_timestamp != 0 && line.starts_with(b"#TS:") {
                        let full = &data[offset as usize..scanner.position() as usize];
                        let Some(ts) = aof_scan::timestamp_of(full) else {
                            println!("Invalid timestamp annotation");
                            exit(1);
                        };
                        if ts <= self.to_timestamp {
                            continue;
                        }
                        if offset == 0 {
                            println!("AOF {path} has nothing before timestamp {}, aborting...", self.to_timestamp);
                            exit(1);
                        }
                        if !last_file {
                            println!(
                                "Failed to truncate AOF {path} to timestamp {} to offset {offset} because it is not the last file.",
                                self.to_timestamp
                            );
                            println!("If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.");
                            exit(1);
                        }
                        if truncate(path, offset).is_err() {
                            println!("Failed to truncate AOF {path} to timestamp {}", self.to_timestamp);
                            exit(1);
                        }
                        self.line += scanner.crlfs();
                        return Outcome::TimestampTruncated;
                    }
                }
                Ok(Some(Entry::Command { args, name_at, .. })) => {
                    let Some(cmd) = args.first() else { continue };
                    if cmd.eq_ignore_ascii_case(b"multi") {
                        multi += 1;
                        if multi != 1 {
                            self.error = format!("0x{name_at:16x}: Unexpected MULTI in AOF {path}");
                            break;
                        }
                    } else if cmd.eq_ignore_ascii_case(b"exec") {
                        multi -= 1;
                        if multi != 0 {
                            self.error = format!("0x{name_at:16x}: Unexpected EXEC in AOF {path}");
                            break;
                        }
                    }
                }
                Err(e) => {
                    match e.kind {
                        ErrorKind::BadStart => println!("AOF {name} format error"),
                        ErrorKind::Io => {
                            println!("Failed to read from AOF {name}, aborting...");
                            exit(1);
                        }
                        ErrorKind::Truncated => {
                            at_eof = true;
                            if let Some(l) = e.redis_line() {
                                self.error = l;
                            }
                        }
                        ErrorKind::Corrupt => {
                            if let Some(l) = e.redis_line() {
                                self.error = l;
                            }
                        }
                    }
                    break;
                }
            }
        }
        self.line += scanner.crlfs();
        if at_eof && multi != 0 && self.error.is_empty() {
            self.error = format!("0x{:16x}: Reached EOF before reading EXEC for MULTI", scanner.last_read_offset());
        }
        if !self.error.is_empty() {
            println!("{}", self.error);
        }
        let diff = size - pos;
        if diff == 0 && self.to_timestamp != 0 {
            println!("Truncate nothing in AOF {name} to timestamp {}", self.to_timestamp);
            return Outcome::Ok;
        }
        println!("AOF analyzed: filename={name}, size={size}, ok_up_to={pos}, ok_up_to_line={}, diff={diff}", self.line);
        if diff > 0 {
            if !self.fix {
                println!("AOF {name} is not valid. Use the --fix option to try fixing it.");
                exit(1);
            }
            if !last_file {
                println!("Failed to truncate AOF {name} because it is not the last file");
                exit(1);
            }
            println!("This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to {pos} bytes");
            print!("Continue? [y/N]: ");
            let _ = io::stdout().flush();
            let mut answer = String::new();
            let got = io::stdin().lock().read_line(&mut answer).unwrap_or(0);
            if got == 0 || !answer.starts_with(['y', 'Y']) {
                println!("Aborting...");
                exit(1);
            }
            if truncate(path, pos).is_err() {
                println!("Failed to truncate AOF {name}");
                exit(1);
            }
            return Outcome::Truncated;
        }
        Outcome::Ok
    }

    fn print_style(&self, ret: Outcome, name: &str, what: &str) {
        match ret {
            Outcome::Ok => println!("{what} {name} is valid"),
            Outcome::Empty => println!("{what} {name} is empty"),
            Outcome::TimestampTruncated => println!("Successfully truncated AOF {name} to timestamp {}", self.to_timestamp),
            Outcome::Truncated => println!("Successfully truncated AOF {name}"),
        }
    }

    fn check_multi_part(&mut self, dir: &str, manifest_path: &str) {
        println!("Start checking Multi Part AOF");
        let m = load_manifest(manifest_path);
        let total = m.base.is_some() as usize + m.incrs.len();
        let mut n = 0;
        if let Some(b) = &m.base {
            let path = make_path(dir, &b.name);
            n += 1;
            let rdb = file_is_rdb(&path);
            println!("Start to check BASE AOF ({} format).", if rdb { "RDB" } else { "RESP" });
            let ret = self.check_single(&b.name, &path, n == total, rdb);
            self.print_style(ret, &b.name, "BASE AOF");
        }
        if !m.incrs.is_empty() {
            println!("Start to check INCR files.");
            for f in &m.incrs {
                let path = make_path(dir, &f.name);
                n += 1;
                let ret = self.check_single(&f.name, &path, n == total, false);
                self.print_style(ret, &f.name, "INCR AOF");
            }
        }
        println!("All AOF files and manifest are valid");
    }

    fn check_old_style(&mut self, path: &str, preamble: bool) {
        println!("Start checking Old-Style AOF");
        let ret = self.check_single(path, path, true, preamble);
        self.print_style(ret, path, "AOF");
    }
}

fn truncate(path: &str, len: u64) -> io::Result<()> {
    OpenOptions::new().write(true).open(path)?.set_len(len)
}

/// A file of the AOF: the name shown, its path, and whether it is the last one.
struct Part {
    name: String,
    path: String,
    last: bool,
    base: bool,
}

/// The files of the AOF `path` names (a manifest's base and incr files, or itself).
fn parts(path: &str) -> Vec<Part> {
    if !file_is_manifest(path) {
        return vec![Part { name: path.to_string(), path: path.to_string(), last: true, base: false }];
    }
    let dir = dirname(path);
    let m = load_manifest(path);
    let files: Vec<_> = m.load_order().collect();
    files
        .iter()
        .enumerate()
        .map(|(i, f)| Part {
            name: f.name.clone(),
            path: make_path(&dir, &f.name),
            last: i + 1 == files.len(),
            base: f.kind == manifest::Kind::Base,
        })
        .collect()
}

/// A command as `redis-cli` shows one in MONITOR: every word quoted.
fn quoted(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| manifest::repr(a)).collect::<Vec<_>>().join(" ")
}

/// One line of `--list`.
fn list_line(file: &str, offset: u64, ts: Option<i64>, args: &[Vec<u8>]) -> String {
    match ts {
        Some(t) => format!("{file}:{offset} [{t}] {}", quoted(args)),
        None => format!("{file}:{offset} {}", quoted(args)),
    }
}

/// Calls `f` with every entry of one AOF file, with the latest timestamp seen;
/// returns the scan error that ended it early, if any.
fn walk_file(part: &Part, data: &[u8], mut f: impl FnMut(&Entry, Option<i64>)) -> Option<aof_scan::ScanError> {
    let mut start = 0;
    if aof_scan::has_rdb_preamble(data) {
        match rdb_end(data, &part.path) {
            Some(end) => start = end,
            None => {
                eprintln!("{}: the RDB part is not sane: run ferrokv-check-aof on it", part.name);
                exit(1);
            }
        }
    }
    let mut ts = None;
    for e in AofScanner::at(&data[start..], start as u64) {
        match e {
            Ok(e) => {
                if let Entry::Annotation { timestamp: Some(t), .. } = &e {
                    ts = Some(*t);
                }
                f(&e, ts);
            }
            Err(err) => return Some(err),
        }
    }
    None
}

fn list(path: &str) {
    let mut out = io::stdout().lock();
    let mut failed = false;
    for p in parts(path) {
        let data = read_or_exit(&p.path);
        if aof_scan::has_rdb_preamble(&data) {
            if let Some(end) = rdb_end(&data, &p.path) {
                let _ = writeln!(out, "{}:0 (RDB snapshot, up to offset {end})", p.name);
            }
        }
        let err = walk_file(&p, &data, |e, ts| {
            if let Entry::Command { offset, args, .. } = e {
                let _ = writeln!(out, "{}", list_line(&p.name, *offset, ts, args));
            }
        });
        if let Some(e) = err {
            let _ = out.flush();
            eprintln!("{}:{}: {e}", p.name, e.entry_start);
            failed = true;
        }
    }
    let _ = out.flush();
    exit(failed as i32);
}

/// A command found by `--cut-before`: which file, and where its cut goes.
struct Found {
    part: usize,
    offset: u64,
    cut_at: u64,
}

fn cut_before(pattern: &str, path: &str) {
    let parts = parts(path);
    let exact = pattern.strip_prefix('@').map(|p| match p.rsplit_once(':').and_then(|(f, o)| Some((f, o.parse::<u64>().ok()?))) {
        Some(x) => x,
        None => {
            eprintln!("Bad position '{pattern}': expected @<file>:<offset>");
            exit(1);
        }
    });
    let mut found: Option<Found> = None;
    let mut datas = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let data = read_or_exit(&p.path);
        // Transactions are cut whole: a cut inside one moves to its MULTI.
        let mut multi_at: Option<u64> = None;
        let err = walk_file(p, &data, |e, _| {
            let Entry::Command { offset, args, .. } = e else {
                if let Some((f, o)) = exact {
                    if (f == p.name || f == p.path) && o == e.offset() {
                        found = Some(Found { part: i, offset: o, cut_at: o });
                    }
                }
                return;
            };
            let name = args.first().map(|a| &a[..]).unwrap_or(b"");
            let is_multi = name.eq_ignore_ascii_case(b"multi");
            if is_multi {
                multi_at = Some(*offset);
            }
            let hit = match exact {
                Some((f, o)) => (f == p.name || f == p.path) && o == *offset,
                None => name.eq_ignore_ascii_case(pattern.as_bytes()),
            };
            if hit {
                let cut_at = if is_multi { *offset } else { multi_at.unwrap_or(*offset) };
                found = Some(Found { part: i, offset: *offset, cut_at });
            }
            if name.eq_ignore_ascii_case(b"exec") {
                multi_at = None;
            }
        });
        if let Some(e) = err {
            if !p.last {
                eprintln!("{}: {e}. Run ferrokv-check-aof on the AOF first.", p.name);
                exit(1);
            }
        }
        datas.push(data);
    }
    let Some(f) = found else {
        match exact {
            Some(_) => eprintln!("No command starts at {}", &pattern[1..]),
            None => eprintln!("No {pattern} command found in the AOF"),
        }
        exit(1);
    };
    let p = &parts[f.part];
    if !p.last {
        let which = if p.base { "the BASE file" } else { "an INCR file that is not the last one" };
        eprintln!(
            "The command at {}:{} is in {which}: only the last INCR file ({}) can be cut. Refusing.",
            p.name,
            f.offset,
            parts.last().map_or("", |l| l.name.as_str())
        );
        exit(1);
    }
    let data = &datas[f.part];
    if f.cut_at != f.offset {
        println!("{}:{} is inside a MULTI/EXEC transaction: cutting before its MULTI at offset {}", p.name, f.offset, f.cut_at);
    }
    println!("Removing from {}, offset {} on:", p.name, f.cut_at);
    let mut ts = None;
    let mut end = f.cut_at;
    for e in AofScanner::at(&data[f.cut_at as usize..], f.cut_at) {
        match e {
            Ok(Entry::Annotation { timestamp, end: e_end, .. }) => {
                ts = timestamp.or(ts);
                end = e_end;
            }
            Ok(Entry::Command { offset, args, end: e_end, .. }) => {
                println!("  {}", list_line(&p.name, offset, ts, &args));
                end = e_end;
            }
            Err(_) => break,
        }
    }
    if (end as usize) < data.len() {
        println!("  ({} bytes of incomplete or corrupt data at offset {end})", data.len() as u64 - end);
    }
    if let Err(e) = truncate(&p.path, f.cut_at) {
        eprintln!("Failed to truncate {}: {}", p.path, strerror(&e));
        exit(1);
    }
    println!("Truncated {} from {} to {} bytes", p.name, data.len(), f.cut_at);
}

fn usage(argv0: &str) -> ! {
    println!("Usage: {argv0} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>");
    println!("       {argv0} --list <file.manifest|file.aof>");
    println!("       {argv0} --cut-before <COMMAND|@file:offset> <file.manifest|file.aof>");
    exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().map_or("ferrokv-check-aof", |s| s.as_str());
    let mut c = Checker { fix: false, to_timestamp: 0, line: 1, error: String::new() };
    let path = match args.len() {
        2 => &args[1],
        3 if args[1] == "--fix" => {
            c.fix = true;
            &args[2]
        }
        3 if args[1] == "--list" => {
            list(&args[2]);
            return;
        }
        4 if args[1] == "--truncate-to-timestamp" => {
            match args[2].parse::<i64>() {
                Ok(t) => c.to_timestamp = t,
                Err(_) => {
                    println!("Invalid timestamp, aborting...");
                    exit(1);
                }
            }
            &args[3]
        }
        4 if args[1] == "--cut-before" => {
            cut_before(&args[2], &args[3]);
            return;
        }
        _ => usage(argv0),
    };
    if file_is_manifest(path) {
        c.check_multi_part(&dirname(path), path);
    } else {
        let rdb = file_is_rdb(path);
        c.check_old_style(path, rdb);
    }
}
