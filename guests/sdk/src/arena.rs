//! The adapter's allocator: a bump arena in front of the system allocator (wasi-libc's
//! `malloc`).
//!
//! The host gives every call a fresh instance and drops it when the call ends, so most of what a
//! call allocates never needs to be given back one block at a time: the instance's whole memory
//! goes at once. An allocation takes the next bytes of a fixed arena, and freeing gives back
//! only the most recent allocation (the usual pattern of a growing buffer or a short-lived
//! temporary). Once the arena is used up, allocations go to the system allocator, so a long
//! stream, or a host that keeps one instance for many calls, costs at most the arena's size in
//! extra memory and stays correct.
//!
//! Adapters built with the SDK use it by default (the `call-arena` feature); an adapter that
//! brings its own `#[global_allocator]` turns the feature off.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};

/// The arena's storage, aligned so that small allocations need no padding.
#[repr(C, align(16))]
struct Storage<const N: usize>([u8; N]);

/// A bump allocator over `N` bytes of static storage, falling back to [`System`].
///
/// It is not thread-safe: it is `Sync` only where Wasm has no threads (see the crate's
/// `#[global_allocator]`).
pub struct CallArena<const N: usize> {
    storage: UnsafeCell<Storage<N>>,
    /// Offset of the first free byte.
    next: Cell<usize>,
}

impl<const N: usize> Default for CallArena<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> CallArena<N> {
    /// An empty arena.
    pub const fn new() -> Self {
        CallArena {
            storage: UnsafeCell::new(Storage([0; N])),
            next: Cell::new(0),
        }
    }

    /// Bytes of the arena handed out so far (padding included).
    pub fn used(&self) -> usize {
        self.next.get()
    }

    fn base(&self) -> usize {
        self.storage.get() as usize
    }

    /// The offset of `ptr` in the arena, if the arena handed it out.
    fn offset_of(&self, ptr: *mut u8) -> Option<usize> {
        (ptr as usize)
            .checked_sub(self.base())
            .filter(|&offset| offset < N)
    }

    /// `size` bytes aligned to `align` from the arena, if they fit.
    fn bump(&self, size: usize, align: usize) -> Option<*mut u8> {
        let base = self.base();
        let start = (base + self.next.get()).checked_next_multiple_of(align)? - base;
        let end = start.checked_add(size).filter(|&end| end <= N)?;
        self.next.set(end);
        Some((base + start) as *mut u8)
    }
}

// SAFETY: `alloc` returns either arena bytes no live allocation holds (the bump offset only
// moves back over the most recent allocation, when it is freed) or the system allocator's
// memory; every pointer is given back to the allocator that made it, decided by its address.
unsafe impl<const N: usize> GlobalAlloc for CallArena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout.size(), layout.align()) {
            Some(ptr) => ptr,
            None => System.alloc(layout),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout.size(), layout.align()) {
            Some(ptr) => {
                // A block given back and handed out again may hold old bytes.
                ptr.write_bytes(0, layout.size());
                ptr
            }
            None => System.alloc_zeroed(layout),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.offset_of(ptr) {
            Some(offset) if offset + layout.size() == self.next.get() => self.next.set(offset),
            Some(_) => {}
            None => System.dealloc(ptr, layout),
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset_of(ptr) else {
            return System.realloc(ptr, layout, new_size);
        };
        let is_last = offset + layout.size() == self.next.get();
        if is_last && offset.checked_add(new_size).is_some_and(|end| end <= N) {
            self.next.set(offset + new_size);
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, fits `isize`.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size());
            self.dealloc(ptr, layout);
        }
        new
    }
}

// SAFETY: Wasm without the threads proposal runs one thread per instance; nothing else can
// reach the arena.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<const N: usize> Sync for CallArena<N> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn allocations_come_from_the_arena_in_order_and_aligned() {
        let arena = CallArena::<256>::new();
        unsafe {
            let a = arena.alloc(layout(3, 1));
            let b = arena.alloc(layout(8, 8));
            assert!(arena.offset_of(a).is_some() && arena.offset_of(b).is_some());
            assert_eq!(b as usize % 8, 0);
            assert!(b as usize >= a as usize + 3);
            assert_eq!(arena.used(), b as usize + 8 - arena.base());
        }
    }

    #[test]
    fn freeing_the_last_allocation_gives_its_bytes_back_and_others_stay() {
        let arena = CallArena::<256>::new();
        unsafe {
            let a = arena.alloc(layout(16, 8));
            let b = arena.alloc(layout(16, 8));
            let used = arena.used();
            arena.dealloc(a, layout(16, 8));
            assert_eq!(
                arena.used(),
                used,
                "a block that is not the last stays taken"
            );
            arena.dealloc(b, layout(16, 8));
            assert_eq!(arena.used(), used - 16);
            let c = arena.alloc(layout(16, 8));
            assert_eq!(c, b);
        }
    }

    #[test]
    fn the_last_block_grows_and_shrinks_in_place() {
        let arena = CallArena::<256>::new();
        unsafe {
            let a = arena.alloc(layout(8, 1));
            a.copy_from_nonoverlapping(b"abcdefgh".as_ptr(), 8);
            let grown = arena.realloc(a, layout(8, 1), 100);
            assert_eq!(grown, a);
            assert_eq!(arena.used(), a as usize + 100 - arena.base());
            let shrunk = arena.realloc(grown, layout(100, 1), 4);
            assert_eq!(shrunk, a);
            assert_eq!(std::slice::from_raw_parts(shrunk, 4), b"abcd");
        }
    }

    #[test]
    fn a_block_that_is_not_the_last_moves_with_its_bytes() {
        let arena = CallArena::<256>::new();
        unsafe {
            let a = arena.alloc(layout(4, 1));
            a.copy_from_nonoverlapping(b"wxyz".as_ptr(), 4);
            let _b = arena.alloc(layout(4, 1));
            let moved = arena.realloc(a, layout(4, 1), 32);
            assert_ne!(moved, a);
            assert!(arena.offset_of(moved).is_some());
            assert_eq!(std::slice::from_raw_parts(moved, 4), b"wxyz");
        }
    }

    #[test]
    fn what_does_not_fit_goes_to_the_system_allocator_and_back() {
        let arena = CallArena::<64>::new();
        unsafe {
            let small = arena.alloc(layout(40, 8));
            assert!(arena.offset_of(small).is_some());
            let big = arena.alloc(layout(1000, 8));
            assert!(!big.is_null());
            assert!(arena.offset_of(big).is_none());
            big.write_bytes(7, 1000);
            let big = arena.realloc(big, layout(1000, 8), 5000);
            assert_eq!(*big.add(999), 7);
            arena.dealloc(big, layout(5000, 8));
            // The arena's last block outgrows it: it moves to the system allocator.
            small.write_bytes(9, 40);
            let moved = arena.realloc(small, layout(40, 8), 100);
            assert!(arena.offset_of(moved).is_none());
            assert_eq!(*moved.add(39), 9);
            assert_eq!(
                arena.used(),
                small as usize - arena.base(),
                "its arena bytes came back"
            );
            arena.dealloc(moved, layout(100, 8));
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_where_bytes_were_given_back() {
        let arena = CallArena::<128>::new();
        unsafe {
            let a = arena.alloc(layout(32, 8));
            a.write_bytes(0xAA, 32);
            arena.dealloc(a, layout(32, 8));
            let z = arena.alloc_zeroed(layout(32, 8));
            assert_eq!(z, a);
            assert!(std::slice::from_raw_parts(z, 32).iter().all(|&b| b == 0));
            let big = arena.alloc_zeroed(layout(4096, 8));
            assert!(std::slice::from_raw_parts(big, 4096)
                .iter()
                .all(|&b| b == 0));
            arena.dealloc(big, layout(4096, 8));
        }
    }

    #[test]
    fn sizes_that_overflow_the_address_space_are_refused_not_wrapped() {
        let arena = CallArena::<64>::new();
        assert!(arena.bump(usize::MAX - 8, 1).is_none());
        assert!(arena.bump(8, 1 << (usize::BITS - 1)).is_none());
        assert_eq!(arena.used(), 0);
    }
}
