//! Counting heap allocations: berth's allocator (mimalloc) underneath, with counters that run only while
//! [`count`] measures, so every other bench pays one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// berth's allocator, counting while [`count`] runs.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// Whether each counted allocation's backtrace is kept (see [`traced`]).
static TRACING: AtomicBool = AtomicBool::new(false);
static TRACES: Mutex<Vec<Backtrace>> = Mutex::new(Vec::new());

thread_local! {
    /// Set while this thread captures a backtrace, whose own allocations are not traced.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    // A backtrace being captured allocates; those allocations are not the work's.
    if ON.load(Ordering::Relaxed) && !(TRACING.load(Ordering::Relaxed) && CAPTURING.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size as u64, Ordering::Relaxed);
        if TRACING.load(Ordering::Relaxed) && !CAPTURING.replace(true) {
            let trace = Backtrace::force_capture();
            TRACES.lock().unwrap_or_else(PoisonError::into_inner).push(trace);
            CAPTURING.set(false);
        }
    }
}

// SAFETY: every call is forwarded unchanged to berth's allocator, itself a `GlobalAlloc`; counting
// touches only atomics and never allocates.
#[allow(unsafe_code, reason = "a global allocator is an unsafe trait; this one only forwards to berth's")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is passed on as is.
        unsafe { berth::allocator::Allocator.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { berth::allocator::Allocator.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A grown buffer is an allocation the code asked for, whether or not it moved.
        note(new_size);
        // SAFETY: as above.
        unsafe { berth::allocator::Allocator.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { berth::allocator::Allocator.dealloc(ptr, layout) }
    }
}

/// Allocations (and reallocations) and the bytes they asked for, in every thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub allocations: u64,
    pub bytes: u64,
}

/// What `work` allocates, counted in every thread of the process while it runs (so measure
/// on a runtime with nothing else to do).
pub fn count<T>(work: impl FnOnce() -> T) -> (T, Counted) {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    BYTES.store(0, Ordering::Relaxed);
    ON.store(true, Ordering::SeqCst);
    let done = work();
    ON.store(false, Ordering::SeqCst);
    (done, Counted { allocations: ALLOCATIONS.load(Ordering::Relaxed), bytes: BYTES.load(Ordering::Relaxed) })
}

/// What `work` allocates and a backtrace of each allocation: slow, for finding where
/// allocations happen (`berth-allocs --sites`), not for counting them fast.
pub fn traced<T>(work: impl FnOnce() -> T) -> (T, Counted, Vec<Backtrace>) {
    TRACES.lock().unwrap_or_else(PoisonError::into_inner).clear();
    TRACING.store(true, Ordering::SeqCst);
    let (done, counted) = count(work);
    TRACING.store(false, Ordering::SeqCst);
    let traces = std::mem::take(&mut *TRACES.lock().unwrap_or_else(PoisonError::into_inner));
    (done, counted, traces)
}

/// Where an allocation happened: the first `depth` frames of `trace` outside the Rust
/// standard library and this module, as `function (file:line)`, innermost first.
pub fn site(trace: &Backtrace, depth: usize) -> Vec<String> {
    // `Backtrace` exposes its frames only through its formatting: `{ fn: "…", file: "…", line: N }`.
    let text = format!("{trace:?}");
    text.split("{ fn: ")
        .skip(1)
        .filter(|frame| {
            let function = frame.split('"').nth(1).unwrap_or("").trim_start_matches('<');
            // Optimized builds name inlined frames by their last segment alone (`note`).
            let last = function.rsplit("::").next().unwrap_or(function);
            let ours = frame.contains("allocations.rs") || function.starts_with("berth_benches::allocations::");
            let counting = ours && ["note", "alloc", "alloc_zeroed", "realloc", "count", "traced"].contains(&last);
            let standard = ["alloc::", "core::", "std::", "__rust"].iter().any(|p| function.starts_with(p));
            !frame.contains("/rustc/") && !counting && !standard
        })
        .take(depth)
        .map(|frame| {
            let function = frame.split('"').nth(1).unwrap_or("?");
            let file = frame.split("file: \"").nth(1).and_then(|f| f.split('"').next()).unwrap_or("?");
            let line = frame.split("line: ").nth(1).and_then(|l| l.split(' ').next()).unwrap_or("?");
            let file: Vec<&str> = file.rsplit('/').take(2).collect();
            let file = file.into_iter().rev().collect::<Vec<_>>().join("/");
            format!("{} ({file}:{line})", short(function))
        })
        .collect()
}

/// A function's path without its generic arguments: `a::b::<T>::c` is `a::b::c`.
fn short(function: &str) -> String {
    let mut out = String::with_capacity(function.len());
    let mut depth = 0usize;
    for c in function.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.replace("::::", "::")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters are the process's: one test at a time measures.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    #[test]
    fn counts_what_the_work_allocates_and_nothing_after() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let (kept, counted) = count(|| (0..10).map(|n| vec![n; 100]).collect::<Vec<Vec<u64>>>());
        assert!(counted.allocations >= 11, "ten vectors and the outer one: {counted:?}");
        assert!(counted.bytes >= 10 * 800, "{counted:?}");
        let (_, none) = count(|| 1 + 1);
        assert_eq!(none.allocations, 0);
        drop(kept);
    }

    #[inline(never)]
    fn allocates_here() -> Vec<u8> {
        vec![7; 64]
    }

    #[test]
    fn traces_name_the_function_that_allocated() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let (kept, counted, traces) = traced(allocates_here);
        // Other threads (the test harness's) may allocate meanwhile: this one's must be among them.
        assert!(counted.allocations >= 1 && !traces.is_empty(), "{counted:?}");
        let sites: Vec<Vec<String>> = traces.iter().map(|trace| site(trace, 3)).collect();
        assert!(sites.iter().any(|site| site[0].contains("allocates_here")), "{sites:?}");
        drop(kept);
    }
}
