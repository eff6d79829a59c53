//! Log lines in redis-server's format (`pid:M 25 Nov 2026 09:13:48.123 * message`), so
//! users and tools reading Redis logs find what they expect.

use std::fmt;
use std::io::Write;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct RedisFormat;

/// The role letter after the pid: `M` for a master, `S` for a replica, as Redis writes.
static ROLE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(b'M');

pub fn set_role(letter: u8) {
    ROLE.store(letter, std::sync::atomic::Ordering::Relaxed);
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 to (year, month 1-12, day).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

pub fn timestamp() -> String {
    let ms = crate::util::now_ms() as i64;
    let secs = ms / 1000;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!("{d:02} {} {y} {:02}:{:02}:{:02}.{:03}", MONTHS[m as usize - 1], sod / 3600, sod / 60 % 60, sod % 60, ms % 1000)
}

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mark = match *event.metadata().level() {
            Level::ERROR | Level::WARN => '#',
            Level::INFO => '*',
            Level::DEBUG => '-',
            Level::TRACE => '.',
        };
        let role = ROLE.load(std::sync::atomic::Ordering::Relaxed) as char;
        write!(w, "{}:{role} {} {} ", std::process::id(), timestamp(), mark)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Redis's serverPanic: the lines it logs (so log watchers match them), then SIGABRT.
#[track_caller]
pub fn server_panic(msg: &str) -> ! {
    let at = std::panic::Location::caller();
    tracing::warn!("------------------------------------------------");
    tracing::warn!("!!! Software Failure. Press left mouse button to continue");
    tracing::warn!("Guru Meditation: {msg} #{}:{}", at.file().rsplit('/').next().unwrap_or(""), at.line());
    std::process::abort()
}

/// Installs the logger: stdout, or `logfile` when set; `loglevel` as in redis.conf.
pub fn init(loglevel: &str, logfile: &str) {
    let level = match loglevel {
        "debug" => Level::TRACE,
        "verbose" => Level::DEBUG,
        "warning" | "nothing" => Level::WARN,
        _ => Level::INFO,
    };
    let builder = tracing_subscriber::fmt().with_max_level(level).event_format(RedisFormat);
    if logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        match std::fs::OpenOptions::new().create(true).append(true).open(logfile) {
            Ok(f) => builder.with_writer(std::sync::Mutex::new(f)).init(),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(0), (1970, 1, 1));
        assert_eq!(super::civil(20_417), (2025, 11, 25));
    }
}
