//! A counting wrapper around the system allocator, so INFO's `used_memory` (and later
//! `maxmemory`) reflect what the server allocated, not its RSS. Each thread batches
//! its count locally and publishes it in steps of 64 KiB, so counting costs no shared
//! cache-line traffic on the hot path; a large allocation is published at once, so
//! maxmemory sees it before the next command.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

pub struct Counting;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);
const PUBLISH_STEP: isize = 64 * 1024;
/// Allocations from this size on are counted globally right away.
const LARGE: isize = 8 * 1024;

thread_local! {
    static LOCAL: Cell<isize> = const { Cell::new(0) };
}

#[inline]
fn account(delta: isize) {
    if delta.abs() >= LARGE {
        ALLOCATED.fetch_add(delta, Ordering::Relaxed);
        return;
    }
    // `try_with`: a thread being torn down still frees memory; count it directly then.
    if LOCAL
        .try_with(|l| {
            let v = l.get() + delta;
            if v.abs() >= PUBLISH_STEP {
                ALLOCATED.fetch_add(v, Ordering::Relaxed);
                l.set(0);
            } else {
                l.set(v);
            }
        })
        .is_err()
    {
        ALLOCATED.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator unchanged; only counts are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Bytes currently allocated through [`Counting`] (0 when it is not the global
/// allocator, e.g. in unit tests).
pub fn allocated() -> u64 {
    ALLOCATED.load(Ordering::Relaxed).max(0) as u64
}

/// Hands the allocator's free pages back to the kernel (MEMORY PURGE). glibc keeps what
/// was freed inside its arenas, so without this the RSS of a server that deleted most
/// of its data stays at its peak; Redis's jemalloc returns such pages by itself.
pub fn purge() {
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The cron purges once the RSS exceeds what is allocated by this much (and by a
/// quarter of the RSS) more than the last purge left...
const PURGE_MIN_EXCESS: u64 = 32 << 20;
/// ...for this long (jemalloc's default decay is 10 s too), so a dataset that is
/// rewritten in place (delete, then load again) keeps its pages.
const PURGE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// The automatic purge, called once a second with `used_memory` and the RSS. What a
/// purge cannot return (fragmentation inside pages in use) is remembered, so it is not
/// tried again until that much more is free.
#[derive(Default)]
pub struct AutoPurge {
    left: u64,
    since: Option<std::time::Instant>,
}

impl AutoPurge {
    pub fn tick(&mut self, used: u64, rss: impl Fn() -> u64) {
        let r = rss();
        let excess = r.saturating_sub(used);
        if excess < self.left + PURGE_MIN_EXCESS || excess < r / 4 {
            self.since = None;
            return;
        }
        if self.since.get_or_insert_with(std::time::Instant::now).elapsed() >= PURGE_AFTER {
            purge();
            self.left = rss().saturating_sub(used);
            self.since = None;
        }
    }
}
