//! The global allocator: mimalloc, asked for each block through the entry point
//! whose fast path serves it.
//!
//! The `mimalloc` crate asks for every block through mimalloc's aligned entry
//! points, whose fast path covers blocks of at most 1 KiB; every larger block (a
//! request's boxed futures, its buffers) took the generic aligned path, several
//! times the instructions (BENCHMARKS.md, "Fewer copies and layers on the way to a
//! call"). A block that needs no more than word alignment, which every mimalloc
//! block has, is asked for through the plain entry points instead.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment of every block mimalloc hands out: its blocks are whole words.
const WORD: usize = std::mem::size_of::<usize>();

/// mimalloc, as berth's binaries use it (`#[global_allocator]`).
pub struct Allocator;

// SAFETY: every call goes to mimalloc with the caller's size; a layout aligned to more than
// a word goes through mimalloc's aligned entry points with its alignment, any other through
// the plain ones, whose blocks are word-aligned. Blocks from either are freed by `mi_free`
// and resized by `mi_realloc`/`mi_realloc_aligned` alike.
#[allow(unsafe_code, reason = "a global allocator is an unsafe trait; this one only forwards to mimalloc")]
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see the impl; `ptr` came from mimalloc.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::Allocator;

    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes_when_resized() {
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in [1usize, 7, 8, 24, 48, 1000, 1025, 5712, 70_000, 1 << 20] {
                let size = size.next_multiple_of(align);
                let layout = Layout::from_size_align(size, align).expect("a layout");
                #[allow(unsafe_code, reason = "the allocator is called as the standard library calls it")]
                // SAFETY: the layouts have a non-zero size; every block is freed once, with its layout.
                unsafe {
                    let block = Allocator.alloc(layout);
                    assert!(!block.is_null() && block.addr().is_multiple_of(align), "{size} bytes at {align}");
                    block.write_bytes(0xab, size);
                    let grown = Allocator.realloc(block, layout, size * 2);
                    assert!(!grown.is_null() && grown.addr().is_multiple_of(align), "{size} bytes at {align}, grown");
                    assert!((0..size).all(|i| *grown.add(i) == 0xab), "{size} bytes at {align} kept");
                    Allocator.dealloc(grown, Layout::from_size_align(size * 2, align).expect("a layout"));
                    let zeroed = Allocator.alloc_zeroed(layout);
                    assert!(!zeroed.is_null() && zeroed.addr().is_multiple_of(align));
                    assert!((0..size).all(|i| *zeroed.add(i) == 0), "{size} bytes at {align} zeroed");
                    Allocator.dealloc(zeroed, layout);
                }
            }
        }
    }
}
