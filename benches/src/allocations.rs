//! Counting heap allocations: mimalloc underneath, with counters that run only while
//! [`count`] measures, so every other bench pays one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// mimalloc, counting while [`count`] runs.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

fn note(size: usize) {
    if ON.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size as u64, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to mimalloc, itself a `GlobalAlloc`; counting
// touches only atomics and never allocates.
#[allow(unsafe_code, reason = "a global allocator is an unsafe trait; this one only forwards to mimalloc")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is passed on as is.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A grown buffer is an allocation the code asked for, whether or not it moved.
        note(new_size);
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_the_work_allocates_and_nothing_after() {
        let (kept, counted) = count(|| (0..10).map(|n| vec![n; 100]).collect::<Vec<Vec<u64>>>());
        assert!(counted.allocations >= 11, "ten vectors and the outer one: {counted:?}");
        assert!(counted.bytes >= 10 * 800, "{counted:?}");
        let (_, none) = count(|| 1 + 1);
        assert_eq!(none.allocations, 0);
        drop(kept);
    }
}
