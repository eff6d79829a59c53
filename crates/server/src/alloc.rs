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
