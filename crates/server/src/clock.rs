//! A cheap monotonic clock for timing commands. Every command is timed twice (for
//! commandstats, SLOWLOG and LATENCY), and on virtual machines `clock_gettime` costs a
//! visible share of a pipelined command; like Redis's "X86 TSC" monotonic clock we read
//! the CPU's invariant time-stamp counter when the CPU has one, and fall back to
//! `Instant` otherwise.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A point in time from [`now`]; only differences between two of them mean anything.
#[derive(Clone, Copy)]
pub struct Tick(u64);

struct Calibration {
    tsc: bool,
    /// Ticks per microsecond.
    per_us: f64,
    origin: Instant,
}

fn calibration() -> &'static Calibration {
    static C: OnceLock<Calibration> = OnceLock::new();
    C.get_or_init(|| {
        let origin = Instant::now();
        if !invariant_tsc() {
            return Calibration { tsc: false, per_us: 1.0, origin };
        }
        let (t0, i0) = (rdtsc(), Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (t1, i1) = (rdtsc(), Instant::now());
        let us = i1.duration_since(i0).as_secs_f64() * 1e6;
        let per_us = (t1.wrapping_sub(t0)) as f64 / us;
        Calibration { tsc: per_us > 1.0, per_us, origin }
    })
}

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").map(|s| s.contains(" constant_tsc") && s.contains(" nonstop_tsc")).unwrap_or(false)
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no preconditions; it only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn rdtsc() -> u64 {
    0
}

/// Calibrates the clock (20 ms, once); call at start-up so no command pays for it.
pub fn init() {
    calibration();
}

#[inline]
pub fn now() -> Tick {
    let c = calibration();
    if c.tsc {
        Tick(rdtsc())
    } else {
        Tick(c.origin.elapsed().as_nanos() as u64)
    }
}

/// Time elapsed since `start`.
#[inline]
pub fn since(start: Tick) -> Duration {
    let c = calibration();
    let end = now();
    let d = end.0.saturating_sub(start.0);
    if c.tsc {
        Duration::from_nanos((d as f64 * 1000.0 / c.per_us) as u64)
    } else {
        Duration::from_nanos(d)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn measures_sleeps() {
        super::init();
        let t = super::now();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let d = super::since(t);
        assert!(d >= std::time::Duration::from_millis(25) && d < std::time::Duration::from_millis(500), "{d:?}");
    }
}
