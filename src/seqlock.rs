//! The per-slot seqlock: how the producer writes a slot and how a reader
//! copies one out without ever keeping a torn frame.
//!
//! Writer (one per ring; never waits for readers):
//! 1. `seq = (seq + 1) | 1` (odd), Relaxed; then `fence(Release)`.
//! 2. write payload and metadata.
//! 3. `seq = odd + 1` (even), Release.
//!
//! Reader:
//! 1. `s1 = seq` (Acquire); odd → the slot is being written.
//! 2. copy metadata, validate it, copy the payload.
//! 3. `fence(Acquire)`; `s2 = seq` (Relaxed); `s1 != s2` → discard the copy.
//!
//! This is the seqlock of Boehm, "Can Seqlocks Get Along With Programming
//! Language Memory Models?" (MSPC 2012), figure 6. `docs/FORMAT.md` explains
//! why the non-atomic payload copy is sound enough across processes.

use std::marker::PhantomData;
use std::ptr::addr_of;
use std::sync::atomic::{AtomicU64, Ordering, fence};

use crate::buf::FrameBuf;
use crate::format::{PixelFormat, check_meta};
use crate::layout::{SLOT_HEADER_SIZE, SlotHeader, SlotMeta};

/// The result of one attempt to read a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotRead {
    /// A whole, validated frame is in the buffer.
    Frame(SlotMeta, PixelFormat),
    /// The sequence was odd: the producer is writing this slot.
    Busy,
    /// The slot changed during the copy; the buffer was cleared.
    Torn,
    /// The slot is stable but holds frame `found`, not the one wanted.
    Other {
        /// The frame number in the slot (0: empty).
        found: u64,
    },
    /// The slot is stable, holds the wanted frame, and its metadata is
    /// impossible.
    Corrupt(&'static str),
}

/// The slot's sequence word.
///
/// # Safety
/// `slot` must point to the start of a slot inside a live mapping of a
/// validated ring, and the returned reference must not outlive the mapping.
unsafe fn seq<'a>(slot: *const u8) -> &'a AtomicU64 {
    // SAFETY: the caller guarantees a slot start in a live mapping; slots are
    // 64-byte aligned, so the AtomicU64 at offset 0 is aligned. Atomics allow
    // concurrent writers, and plain loads are allowed on read-only mappings.
    unsafe { &*addr_of!((*slot.cast::<SlotHeader>()).seq) }
}

/// The write half of a slot's seqlock: while it exists the slot's sequence
/// is odd (readers skip the slot), [`commit`](Self::commit) makes it even
/// with the new metadata, and dropping it uncommitted gives the slot back
/// empty (frame 0, even). Created only by `Ring::write_slot`, which holds
/// the ring mutably for `'a`, so there is at most one per ring.
#[derive(Debug)]
pub(crate) struct WriteGuard<'a> {
    slot: *mut u8,
    odd: u64,
    /// Payload bytes the slot holds.
    capacity: usize,
    committed: bool,
    _ring: PhantomData<&'a mut [u8]>,
}

// SAFETY: a WriteGuard is the exclusive right to write one slot of a mapping
// that outlives it ('a); nothing in it is tied to the creating thread (the
// sequence word is an atomic, the payload is plain bytes no other thread of
// this process can reach while the guard lives), so moving it to another
// thread (e.g. a decoder filling the slot) is sound.
unsafe impl Send for WriteGuard<'_> {}

impl<'a> WriteGuard<'a> {
    /// Marks the slot odd before the producer writes into it.
    ///
    /// # Safety
    /// `slot` is a slot start in a writable mapping of a validated ring whose
    /// slots hold `capacity` payload bytes, the mapping lives for `'a`, and
    /// the caller is that ring's only producer with no other guard alive.
    pub(crate) unsafe fn begin(slot: *mut u8, capacity: usize) -> Self {
        // SAFETY: forwarded from the caller.
        let seq = unsafe { seq(slot) };
        // Relaxed: only this process writes `seq`, so it reads its own last
        // store. A previous producer that died mid-write may have left it
        // odd; `| 1` after `+ 1` still yields a fresh odd value.
        let odd = seq.load(Ordering::Relaxed).wrapping_add(1) | 1;
        seq.store(odd, Ordering::Relaxed);
        // Release fence pairs with the reader's fence(Acquire) in `read`: if
        // the reader's copy saw any byte written after this point, its second
        // load of `seq` sees `odd` or later, so it discards the copy.
        fence(Ordering::Release);
        Self { slot, odd, capacity, committed: false, _ring: PhantomData }
    }

    /// The first `len` bytes of the slot's payload area, to write the frame
    /// into. `len` is capped at the slot's capacity.
    pub(crate) fn payload_mut(&mut self, len: usize) -> &mut [u8] {
        let len = len.min(self.capacity);
        // SAFETY: the payload area starts SLOT_HEADER_SIZE bytes into the
        // slot and `capacity` bytes of it lie inside the writable mapping,
        // which outlives 'a (`begin`'s contract). Only this producer writes
        // the slot, and the `&mut self` borrow makes this slice unique within
        // the process; other processes only read it through the seqlock
        // (docs/FORMAT.md §6).
        unsafe { std::slice::from_raw_parts_mut(self.slot.add(SLOT_HEADER_SIZE as usize), len) }
    }

    /// Writes the metadata and marks the slot even: the frame is complete.
    pub(crate) fn commit(mut self, meta: &SlotMeta) {
        self.committed = true;
        self.end(meta);
    }

    fn end(&self, meta: &SlotMeta) {
        // SAFETY: `begin`'s contract: the slot header is in bounds, aligned,
        // writable, and only this producer writes it.
        unsafe {
            addr_of!((*self.slot.cast::<SlotHeader>()).meta).cast_mut().write_volatile(*meta);
            // Release pairs with the reader's Acquire load of `s1` in `read`:
            // a reader that sees this even value also sees the payload and
            // metadata.
            seq(self.slot).store(self.odd.wrapping_add(1), Ordering::Release);
        }
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // An abandoned write: the slot is given back empty (frame 0).
            self.end(&SlotMeta::default());
        }
    }
}

/// Copies frame `want` out of the slot into `out` if it is there, whole and
/// valid. Never blocks; one attempt. (Safe callers: `Ring::read_frame`.)
///
/// # Safety
/// `slot` is a slot start in a live mapping of a validated ring whose slots
/// hold `capacity` payload bytes.
pub(crate) unsafe fn read(slot: *const u8, capacity: u64, want: u64, out: &mut FrameBuf) -> SlotRead {
    // SAFETY: forwarded from the caller.
    let seq = unsafe { seq(slot) };
    // Acquire pairs with the Release store of the even value in `end_write`.
    let s1 = seq.load(Ordering::Acquire);
    if s1 & 1 == 1 {
        return SlotRead::Busy;
    }
    // SAFETY: the metadata lies inside the slot header (in bounds, aligned);
    // SlotMeta is plain data valid for any bits, copied out (never
    // referenced) and validated before use.
    let meta = unsafe { addr_of!((*slot.cast::<SlotHeader>()).meta).read_volatile() };
    let verdict = if meta.frame != want {
        Err(SlotRead::Other { found: meta.frame })
    } else {
        check_meta(&meta, capacity).map_err(SlotRead::Corrupt)
    };
    let format = match verdict {
        Ok(format) => format,
        Err(outcome) => {
            // Acquire pairs with begin_write's Release fence, as below: only a
            // stable slot's metadata is reported as found or corrupt.
            fence(Ordering::Acquire);
            return if seq.load(Ordering::Relaxed) == s1 { outcome } else { SlotRead::Torn };
        }
    };
    // check_meta bounded len by capacity, which fits the mapping.
    let len = meta.len as usize;
    // SAFETY: the payload starts SLOT_HEADER_SIZE bytes into the slot and
    // `len ≤ capacity` bytes of it lie inside the mapping; `out` is private
    // memory, so the ranges do not overlap.
    unsafe { out.fill_from(slot.wrapping_add(SLOT_HEADER_SIZE as usize), len) };
    // Acquire fence pairs with begin_write's Release fence: if the copy above
    // read any byte of a newer write, the load below sees that write's odd
    // sequence (or later) and the copy is discarded.
    fence(Ordering::Acquire);
    if seq.load(Ordering::Relaxed) != s1 {
        out.clear();
        return SlotRead::Torn;
    }
    SlotRead::Frame(meta, format)
}

/// Copies out a slot's sequence and metadata if the slot is not being
/// written and did not change during the copy; `None` otherwise. For
/// inspection tools: no payload is copied and nothing is validated.
///
/// # Safety
/// As for [`read`].
pub(crate) unsafe fn read_meta(slot: *const u8) -> Option<(u64, SlotMeta)> {
    // SAFETY: forwarded from the caller.
    let seq = unsafe { seq(slot) };
    // Acquire pairs with the Release store of the even value in `end_write`.
    let s1 = seq.load(Ordering::Acquire);
    // SAFETY: as in `read`: in bounds, aligned, copied out, any bits valid.
    let meta = unsafe { addr_of!((*slot.cast::<SlotHeader>()).meta).read_volatile() };
    // Acquire fence pairs with begin_write's Release fence, as in `read`.
    fence(Ordering::Acquire);
    (s1 & 1 == 0 && seq.load(Ordering::Relaxed) == s1).then_some((s1, meta))
}
