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

/// Marks the slot odd before the producer writes into it. Returns the odd
/// sequence value to pass to [`end_write`] or [`abort_write`].
///
/// # Safety
/// `slot` is a slot start in a live writable mapping of a validated ring,
/// and the caller is that ring's only producer.
pub(crate) unsafe fn begin_write(slot: *mut u8) -> u64 {
    // SAFETY: forwarded from the caller.
    let seq = unsafe { seq(slot) };
    // Relaxed: only this process writes `seq`, so it reads its own last store.
    // A previous producer that died mid-write may have left it odd; `| 1`
    // after `+ 1` still yields a fresh odd value.
    let odd = seq.load(Ordering::Relaxed).wrapping_add(1) | 1;
    seq.store(odd, Ordering::Relaxed);
    // Release fence pairs with the reader's fence(Acquire) in `read`: if the
    // reader's copy saw any byte written after this point, its second load of
    // `seq` sees `odd` or later, so it discards the copy.
    fence(Ordering::Release);
    odd
}

/// Writes the metadata and marks the slot even: the frame is complete.
///
/// # Safety
/// As for [`begin_write`]; `odd` is the value it returned for this slot.
pub(crate) unsafe fn end_write(slot: *mut u8, odd: u64, meta: &SlotMeta) {
    // SAFETY: forwarded from the caller: the slot header is in bounds,
    // aligned, writable, and only this process writes it.
    unsafe {
        addr_of!((*slot.cast::<SlotHeader>()).meta).cast_mut().write_volatile(*meta);
        // Release pairs with the reader's Acquire load of `s1` in `read`: a
        // reader that sees this even value also sees the payload and metadata.
        seq(slot).store(odd.wrapping_add(1), Ordering::Release);
    }
}

/// Gives a slot back without a frame: marks it empty (frame 0) and even.
///
/// # Safety
/// As for [`end_write`].
pub(crate) unsafe fn abort_write(slot: *mut u8, odd: u64) {
    // SAFETY: forwarded from the caller.
    unsafe { end_write(slot, odd, &SlotMeta::default()) }
}

/// Copies frame `want` out of the slot into `out` if it is there, whole and
/// valid. Never blocks; one attempt.
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
