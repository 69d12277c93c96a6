//! The per-slot seqlock: how the producer writes a slot and how a reader
//! copies one out without ever keeping a torn frame.
//!
//! Writer (one per ring; never waits for readers) — [`WriteGuard`]:
//! 1. `seq = (seq + 1) | 1` (odd), Relaxed; then `fence(Release)`.
//! 2. write payload and metadata.
//! 3. `seq = odd + 1` (even), Release.
//!
//! Reader — [`read`]:
//! 1. `s1 = seq` (Acquire); odd → the slot is being written.
//! 2. copy metadata, validate it, copy the payload.
//! 3. `fence(Acquire)`; `s2 = seq` (Relaxed); `s1 != s2` → discard the copy.
//!
//! This is the seqlock of Boehm, "Can Seqlocks Get Along With Programming
//! Language Memory Models?" (MSPC 2012), figure 6. `docs/FORMAT.md` explains
//! why the non-atomic payload copy is sound enough across processes.
//!
//! A [`Slot`] is where one slot's bytes live: in the mapping (a pointer), or
//! under `cfg(loom)` in a heap ring (`src/heap.rs`) whose metadata and
//! payload are relaxed atomic words, the semantics `docs/FORMAT.md` §6
//! claims for the copy.

use std::marker::PhantomData;

use crate::format::{FrameInfo, PixelFormat, check_meta};
use crate::layout::SlotMeta;
use crate::sync::{AtomicU64, Ordering, fence};

/// The result of one attempt to read a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotRead<R> {
    /// A whole, validated frame; `R` is what the reader's closure made of
    /// it (its copy, its conversion).
    Frame(SlotMeta, PixelFormat, R),
    /// The sequence was odd: the producer is writing this slot.
    Busy,
    /// The slot changed during the copy; the closure's result was dropped.
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

/// One slot of a ring, valid for `'a`.
#[cfg(not(loom))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot<'a> {
    ptr: *mut u8,
    _ring: PhantomData<&'a [u8]>,
}

#[cfg(not(loom))]
impl<'a> Slot<'a> {
    /// # Safety
    /// `ptr` is the start of a slot inside a mapping of a validated ring
    /// that lives for `'a` (64-byte aligned, `SLOT_HEADER_SIZE` + the ring's
    /// `max_frame_bytes` bytes in bounds). The mapping may be read-only;
    /// then only the reading methods may be used.
    pub(crate) unsafe fn new(ptr: *mut u8) -> Self {
        Self { ptr, _ring: PhantomData }
    }

    /// The slot's sequence word.
    pub(crate) fn seq(&self) -> &'a AtomicU64 {
        use crate::layout::SlotHeader;
        // SAFETY: `new`'s contract: a slot start in a live mapping; slots are
        // 64-byte aligned, so the AtomicU64 at offset 0 is aligned. Atomics
        // allow concurrent writers, and plain loads are allowed on read-only
        // mappings (std::sync::atomic, "Atomic accesses to read-only memory").
        unsafe { &*std::ptr::addr_of!((*self.ptr.cast::<SlotHeader>()).seq) }
    }

    /// Copies the metadata out (never referenced in place: another process
    /// may be writing it).
    fn load_meta(&self) -> SlotMeta {
        use crate::layout::SlotHeader;
        // SAFETY: the metadata lies inside the slot header (in bounds,
        // aligned); SlotMeta is plain data valid for any bits, copied out
        // with a volatile read and validated by the caller before use.
        unsafe { std::ptr::addr_of!((*self.ptr.cast::<SlotHeader>()).meta).read_volatile() }
    }

    /// Where payload byte `start` lies (not dereferenced here).
    fn payload_ptr(&self, start: usize) -> *const u8 {
        self.ptr.wrapping_add(crate::layout::SLOT_HEADER_SIZE as usize + start)
    }

    /// Copies payload bytes `start..start + dst.len()` into `dst`; the
    /// caller keeps the range within the slot's validated capacity.
    fn copy_payload(&self, start: usize, dst: &mut [u8]) {
        // SAFETY: the payload starts SLOT_HEADER_SIZE bytes into the slot
        // and the range lies within its capacity, inside the mapping (the
        // caller, `FrameView::copy_to`, bounds it by the frame's length,
        // which `check_meta` bounded by the capacity). `dst` is private
        // memory, so the ranges do not overlap. The source may be written
        // concurrently by another process: the bytes are copied, never
        // referenced, and the seqlock discards the copy (docs/FORMAT.md §6).
        unsafe { std::ptr::copy_nonoverlapping(self.payload_ptr(start), dst.as_mut_ptr(), dst.len()) }
    }

    /// Writes the metadata (writable mapping, the producer only).
    fn store_meta(&self, meta: &SlotMeta) {
        use crate::layout::SlotHeader;
        // SAFETY: `WriteGuard::begin`'s contract: the slot header is in
        // bounds, aligned, writable, and only this producer writes it.
        unsafe { std::ptr::addr_of!((*self.ptr.cast::<SlotHeader>()).meta).cast_mut().write_volatile(*meta) }
    }
}

#[cfg(loom)]
pub(crate) use crate::heap::Slot;

/// Payloads from this size on are written with streaming stores (see
/// [`copy_streaming`]). The boundary is a choice, not a measurement: the
/// latency bench measured 1280x720 and 1920x1080 BGR gaining
/// (docs/PERFORMANCE.md) and 64 B is below it; sizes in between were not
/// measured. Small slots stay in cache between their turns, where an
/// ordinary copy into cached lines is the cheaper one.
pub(crate) const STREAMING_MIN: usize = 1 << 20;

/// How far ahead of its loads [`copy_streaming`] prefetches the source.
/// Measured on the AMD EPYC VM (docs/PERFORMANCE.md): 1, 1.5, 2 and 4 KiB
/// all took a 6 MB copy from a cold source 6–10% faster than none.
const PREFETCH_AHEAD: usize = 2048;

/// Copies `src` into `dst` (equal lengths) with non-temporal stores where
/// the CPU has them (x86-64: SSE2's `movntdq`, part of the baseline, so no
/// runtime detection is needed), else an ordinary copy.
///
/// A frame larger than a core's cache share goes into a slot last written
/// `slots` frames ago and long since evicted: an ordinary store first reads
/// each destination line from memory (read for ownership) only to overwrite
/// it whole, doubling the memory traffic of the copy. Streaming stores write
/// whole lines without reading them. They are weakly ordered, so the copy
/// ends with `sfence`: it makes every one of them globally visible before
/// any later store, in particular the commit's Release store of the even
/// sequence (W2 in [`WriteGuard::commit`]), which is what a reader's Acquire
/// load (R1 in [`read`]) pairs with. Without it a reader could see the even
/// sequence and then stale payload bytes, and the seqlock would not notice.
pub(crate) fn copy_streaming(dst: &mut [u8], src: &[u8]) {
    debug_assert_eq!(dst.len(), src.len());
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _MM_HINT_NTA, _mm_loadu_si128, _mm_prefetch, _mm_sfence, _mm_stream_si128};
        // The 16-byte-aligned middle of `dst`, stored in 64-byte steps (a
        // cache line); the unaligned ends are copied ordinarily.
        let head = dst.as_ptr().align_offset(16).min(dst.len());
        let body = (dst.len() - head) / 64 * 64;
        let (d_head, rest) = dst.split_at_mut(head);
        let (d_body, d_tail) = rest.split_at_mut(body);
        let (s_head, rest) = src.split_at(head);
        let (s_body, s_tail) = rest.split_at(body);
        d_head.copy_from_slice(s_head);
        for (d, s) in d_body.chunks_exact_mut(64).zip(s_body.chunks_exact(64)) {
            // The source line PREFETCH_AHEAD bytes on, fetched now (past
            // the cache levels it would evict: NTA), so the loads below
            // find their lines on the way rather than one miss at a time.
            // A prefetch reads nothing a program can see and never faults,
            // so an address past the end is harmless; wrapping_add forms
            // it without claiming it is in bounds.
            let ahead = s.as_ptr().wrapping_add(PREFETCH_AHEAD).cast::<i8>();
            // SAFETY: see the comment above: no memory is accessed.
            unsafe { _mm_prefetch::<_MM_HINT_NTA>(ahead) };
            let (d, s) = (d.as_mut_ptr().cast::<__m128i>(), s.as_ptr().cast::<__m128i>());
            // SAFETY: `d` and `s` are 64 bytes of `d_body`/`s_body` (whole
            // chunks), read and written as four 16-byte vectors in bounds;
            // `d` is 16-byte aligned (`d_body` starts at `head`, the
            // alignment offset, and advances by 64), as `movntdq` requires;
            // loads are unaligned loads. SSE2 is part of x86-64.
            unsafe {
                let v = [
                    _mm_loadu_si128(s),
                    _mm_loadu_si128(s.add(1)),
                    _mm_loadu_si128(s.add(2)),
                    _mm_loadu_si128(s.add(3)),
                ];
                for (i, v) in v.into_iter().enumerate() {
                    _mm_stream_si128(d.add(i), v);
                }
            }
        }
        d_tail.copy_from_slice(s_tail);
        // sfence orders the streaming stores above before the commit's
        // Release store of `seq` (W2), which the reader's Acquire load (R1)
        // pairs with; see the function's comment.
        // SAFETY: `sfence` has no preconditions; SSE is part of x86-64.
        unsafe { _mm_sfence() };
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// The write half of a slot's seqlock: while it exists the slot's sequence
/// is odd (readers skip the slot), [`commit`](Self::commit) makes it even
/// with the new metadata, and dropping it uncommitted gives the slot back
/// empty (frame 0, even). Created only by `RingWriter::write_slot`, which
/// holds the ring mutably for `'a`, so there is at most one per ring.
#[derive(Debug)]
pub(crate) struct WriteGuard<'a> {
    slot: Slot<'a>,
    odd: u64,
    /// Payload bytes the slot holds.
    capacity: usize,
    committed: bool,
    /// Under loom the payload is written here and stored into the slot's
    /// atomic words at commit (still between the odd and even stores).
    #[cfg(loom)]
    staged: Vec<u8>,
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
    /// `slot` is in a writable mapping of a validated ring whose slots hold
    /// `capacity` payload bytes, and the caller is that ring's only producer
    /// with no other guard alive.
    pub(crate) unsafe fn begin(slot: Slot<'a>, capacity: usize) -> Self {
        let seq = slot.seq();
        // Relaxed: only this process writes `seq`, so it reads its own last
        // store. A previous producer that died mid-write may have left it
        // odd; `| 1` after `+ 1` still yields a fresh odd value.
        let odd = seq.load(Ordering::Relaxed).wrapping_add(1) | 1;
        seq.store(odd, Ordering::Relaxed);
        // Release fence (W1) pairs with the reader's fence(Acquire) (R2) in
        // `read`: if the reader's copy saw any byte written after this point,
        // its second load of `seq` sees `odd` or later, so it discards it.
        fence(Ordering::Release);
        Self {
            slot,
            odd,
            capacity,
            committed: false,
            #[cfg(loom)]
            staged: vec![0; capacity],
            _ring: PhantomData,
        }
    }

    /// The first `len` bytes of the slot's payload area, to write the frame
    /// into. `len` is capped at the slot's capacity.
    #[cfg(not(loom))]
    pub(crate) fn payload_mut(&mut self, len: usize) -> &mut [u8] {
        use crate::layout::SLOT_HEADER_SIZE;
        let len = len.min(self.capacity);
        // SAFETY: the payload area starts SLOT_HEADER_SIZE bytes into the
        // slot and `capacity` bytes of it lie inside the writable mapping,
        // which outlives 'a (`begin`'s contract). Only this producer writes
        // the slot, and the `&mut self` borrow makes this slice unique within
        // the process; other processes only read it through the seqlock
        // (docs/FORMAT.md §6).
        unsafe { std::slice::from_raw_parts_mut(self.slot.ptr.add(SLOT_HEADER_SIZE as usize), len) }
    }

    /// The first `len` bytes of the staged payload (loom).
    #[cfg(loom)]
    pub(crate) fn payload_mut(&mut self, len: usize) -> &mut [u8] {
        let len = len.min(self.capacity);
        &mut self.staged[..len]
    }

    /// Copies `src` to the start of the payload (capped at the slot's
    /// capacity), with streaming stores when it is large: see
    /// [`copy_streaming`].
    pub(crate) fn write_payload(&mut self, src: &[u8]) {
        let dst = self.payload_mut(src.len());
        let src = &src[..dst.len()];
        if dst.len() >= STREAMING_MIN {
            copy_streaming(dst, src);
        } else {
            dst.copy_from_slice(src);
        }
    }

    /// Writes the metadata and marks the slot even: the frame is complete.
    pub(crate) fn commit(mut self, meta: &SlotMeta) {
        #[cfg(loom)]
        self.slot.store_payload(&self.staged);
        self.committed = true;
        self.end(meta);
    }

    fn end(&self, meta: &SlotMeta) {
        self.slot.store_meta(meta);
        // Release (W2) pairs with the reader's Acquire load of `s1` (R1) in
        // `read`: a reader that sees this even value also sees the payload
        // and metadata.
        self.slot.seq().store(self.odd.wrapping_add(1), Ordering::Release);
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

/// A frame while it sits in its slot, as a read's closure sees it
/// ([`Consumer::wait_latest_with`](crate::Consumer::wait_latest_with) and
/// the like): its validated description and a way to copy its bytes out.
///
/// There is deliberately no `&[u8]` over the payload: the producer may be
/// rewriting the slot while the closure runs, so bytes are only ever
/// copied out ([`copy_to`](Self::copy_to)), and whatever the closure made
/// of them is dropped, and the read retried, if the slot changed meanwhile.
/// A closure may therefore run more than once for one read, and must not
/// act on what it sees before the read returns (it may see a torn frame;
/// it never *returns* one).
#[derive(Debug)]
pub struct FrameView<'a> {
    slot: Slot<'a>,
    info: FrameInfo,
    len: usize,
}

impl FrameView<'_> {
    /// The frame's description (size, format, effective stride, capture
    /// time), validated against the slot.
    pub fn info(&self) -> &FrameInfo {
        &self.info
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies payload bytes from `offset` on into `dst`, as many as fit in
    /// both, and returns how many that was (0 past the end). A row at a
    /// time into a small buffer is how to convert without a whole-frame
    /// copy; one call with `offset` 0 and a `len()`-byte buffer copies all.
    pub fn copy_to(&self, offset: usize, dst: &mut [u8]) -> usize {
        let n = self.len.saturating_sub(offset).min(dst.len());
        if n > 0 {
            self.slot.copy_payload(offset, &mut dst[..n]);
        }
        n
    }

    /// Bytes of the frame with row padding dropped, its planes one after
    /// another (the payload's length for compressed frames): what
    /// [`copy_packed`](Self::copy_packed) writes.
    pub fn packed_len(&self) -> usize {
        self.info.planes().map_or(self.len, |planes| planes.packed_len().unwrap_or(self.len))
    }

    /// Copies the frame into `dst` with row padding dropped — what numpy,
    /// raw-video tools and most APIs expect — and returns the bytes copied:
    /// one copy when the rows are packed already, else row by row. `dst`
    /// should be [`packed_len`](Self::packed_len) bytes; a shorter one
    /// receives what fits.
    pub fn copy_packed(&self, dst: &mut [u8]) -> usize {
        let planes = match self.info.planes() {
            Ok(planes) if !planes.is_empty() && planes.payload_len() != self.packed_len() => planes,
            _ => return self.copy_to(0, dst),
        };
        let mut at = 0;
        for plane in planes.iter() {
            for r in 0..plane.rows {
                let Some(row) = dst.get_mut(at..at + plane.row_bytes) else { return at };
                at += self.copy_to(plane.offset + r * plane.stride, row);
            }
        }
        at
    }
}

impl crate::format::Payload for FrameView<'_> {
    /// Straight from the slot, through raw pointers: what copying the
    /// bytes out and converting them does, in one pass over the slot, so
    /// reading the memory overlaps the work. (Under loom the slot is
    /// atomic words, and the trait's answer, no kernel, stands.)
    #[cfg(all(feature = "convert", not(loom)))]
    fn rows_0rgb(
        &self,
        kernel: crate::format::RowKernel,
        at: [usize; 2],
        stride: usize,
        dst: &mut [u32],
        w: usize,
    ) -> Option<usize> {
        // SAFETY: the frame's `len` bytes lie within the slot's capacity
        // (`check_meta` bounded them) inside the mapping; `rows` reads them
        // only through raw pointers and this read validates the seqlock
        // afterwards, so bytes the producer changed meanwhile are discarded.
        unsafe { crate::kernels::rows(kernel, self.slot.payload_ptr(0), self.len, at, stride, dst, w) }
    }

    fn payload_len(&self) -> usize {
        self.len
    }

    fn bytes<'s>(&'s self, range: std::ops::Range<usize>, scratch: &'s mut Vec<u8>) -> &'s [u8] {
        // Grown, never shrunk: the same scratch serves every band of every
        // frame without allocating again.
        let n = range.end.min(self.len).saturating_sub(range.start);
        if scratch.len() < n {
            scratch.resize(n, 0);
        }
        let n = self.copy_to(range.start, &mut scratch[..n]);
        &scratch[..n]
    }
}

/// Reads frame `want` out of the slot if it is there, whole and valid:
/// `f` copies (or converts) what it needs through a [`FrameView`], and its
/// result is returned only if the slot did not change meanwhile.
/// `capacity` is the ring's validated slot capacity. Never blocks; one
/// attempt.
pub(crate) fn read<R>(
    slot: Slot<'_>,
    capacity: u64,
    want: u64,
    f: &mut impl FnMut(&FrameView<'_>) -> R,
) -> SlotRead<R> {
    let seq = slot.seq();
    // Acquire (R1) pairs with the Release store of the even value (W2) in
    // `WriteGuard::end`.
    let s1 = seq.load(Ordering::Acquire);
    if s1 & 1 == 1 {
        return SlotRead::Busy;
    }
    let meta = slot.load_meta();
    let verdict = if meta.frame != want {
        Err(SlotRead::Other { found: meta.frame })
    } else {
        check_meta(&meta, capacity).map_err(SlotRead::Corrupt)
    };
    let format = match verdict {
        Ok(format) => format,
        Err(outcome) => {
            // Acquire pairs with begin's Release fence (W1), as below: only a
            // stable slot's metadata is reported as found or corrupt.
            fence(Ordering::Acquire);
            return if seq.load(Ordering::Relaxed) == s1 { outcome } else { SlotRead::Torn };
        }
    };
    // check_meta bounded len by capacity, which fits the mapping.
    let view = FrameView { slot, info: FrameInfo::from_slot(&meta, format), len: meta.len as usize };
    let made = f(&view);
    #[cfg(test)]
    tests::after_copy(&slot);
    // Acquire fence (R2) pairs with begin's Release fence (W1): if the copy
    // above read any byte of a newer write, the load below sees that
    // write's odd sequence (or later) and the copy is discarded.
    fence(Ordering::Acquire);
    if seq.load(Ordering::Relaxed) != s1 {
        return SlotRead::Torn;
    }
    SlotRead::Frame(meta, format, made)
}

/// Copies out a slot's sequence and metadata if the slot is not being
/// written and did not change during the copy; `None` otherwise. For
/// inspection tools: no payload is copied and nothing is validated.
pub(crate) fn read_meta(slot: Slot<'_>) -> Option<(u64, SlotMeta)> {
    let seq = slot.seq();
    // Acquire pairs with the Release store of the even value in `end`.
    let s1 = seq.load(Ordering::Acquire);
    let meta = slot.load_meta();
    // Acquire fence pairs with begin's Release fence, as in `read`.
    fence(Ordering::Acquire);
    (s1 & 1 == 0 && seq.load(Ordering::Relaxed) == s1).then_some((s1, meta))
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! Every outcome of one read attempt, deterministically, on a slot in a
    //! heap buffer; the torn case through a hook that runs between the
    //! payload copy and the second sequence load.

    use std::cell::Cell;

    use super::*;
    use crate::layout::SLOT_HEADER_SIZE;

    /// Maps the sequence found to the one a concurrent writer stores.
    type Hook = fn(u64) -> u64;

    thread_local! {
        static AFTER_COPY: Cell<Option<Hook>> = const { Cell::new(None) };
    }

    /// Called by `read` between the copy and the second load of `seq`: the
    /// installed hook may store a new sequence, as a producer starting a new
    /// write at that instant would.
    pub(super) fn after_copy(slot: &Slot<'_>) {
        if let Some(hook) = AFTER_COPY.with(Cell::get) {
            let seq = slot.seq();
            // Relaxed: one thread; `read`'s Acquire fence and load follow.
            seq.store(hook(seq.load(Ordering::Relaxed)), Ordering::Relaxed);
        }
    }

    const CAPACITY: usize = 64;

    /// A slot-sized, 64-byte aligned heap buffer.
    #[repr(C, align(64))]
    struct Buffer([u8; SLOT_HEADER_SIZE as usize + CAPACITY]);

    fn frame_meta(frame: u64) -> SlotMeta {
        SlotMeta {
            frame,
            publish_ns: 1,
            len: 16,
            width: 4,
            height: 4,
            stride: 4,
            fourcc: PixelFormat::Gray8.fourcc(),
            ..SlotMeta::default()
        }
    }

    /// Writes frame `frame` into the slot as the producer would.
    fn write(buf: &mut Buffer, frame: u64, fill: u8) {
        // SAFETY: `buf` is a 64-byte aligned slot-sized buffer that outlives
        // the guard; this test is its only writer.
        let mut guard = unsafe { WriteGuard::begin(Slot::new(buf.0.as_mut_ptr()), CAPACITY) };
        guard.payload_mut(16).fill(fill);
        guard.commit(&frame_meta(frame));
    }

    /// Reads frame `want`, copying its payload out whole.
    fn read_frame(buf: &mut Buffer, want: u64) -> SlotRead<Vec<u8>> {
        // SAFETY: as in `write`; reads only.
        read(unsafe { Slot::new(buf.0.as_mut_ptr()) }, CAPACITY as u64, want, &mut copy_out)
    }

    fn copy_out(view: &FrameView<'_>) -> Vec<u8> {
        let mut out = vec![0; view.len()];
        view.copy_to(0, &mut out);
        out
    }

    #[test]
    fn a_whole_frame_is_read() {
        let mut buf = Buffer([0; SLOT_HEADER_SIZE as usize + CAPACITY]);
        write(&mut buf, 7, 0xAB);
        assert_eq!(read_frame(&mut buf, 7), SlotRead::Frame(frame_meta(7), PixelFormat::Gray8, vec![0xAB; 16]));
    }

    #[test]
    fn a_slot_being_written_is_busy() {
        let mut buf = Buffer([0; SLOT_HEADER_SIZE as usize + CAPACITY]);
        write(&mut buf, 7, 1);
        // SAFETY: as in `write`.
        let guard = unsafe { WriteGuard::begin(Slot::new(buf.0.as_mut_ptr()), CAPACITY) };
        let ptr = buf.0.as_mut_ptr();
        // SAFETY: as in `read_frame`.
        assert_eq!(read(unsafe { Slot::new(ptr) }, CAPACITY as u64, 7, &mut copy_out), SlotRead::Busy);
        drop(guard); // abandoned: the slot is left empty
        assert_eq!(read_frame(&mut buf, 7), SlotRead::Other { found: 0 });
    }

    #[test]
    fn a_write_starting_during_the_copy_makes_the_read_torn() {
        let mut buf = Buffer([0; SLOT_HEADER_SIZE as usize + CAPACITY]);
        write(&mut buf, 7, 1);
        AFTER_COPY.with(|h| h.set(Some(|s| (s + 1) | 1)));
        let outcome = read_frame(&mut buf, 7);
        AFTER_COPY.with(|h| h.set(None));
        assert_eq!(outcome, SlotRead::Torn, "a torn copy is discarded");
    }

    #[test]
    fn another_frame_and_corrupt_metadata_are_told_apart() {
        let mut buf = Buffer([0; SLOT_HEADER_SIZE as usize + CAPACITY]);
        write(&mut buf, 9, 1);
        assert_eq!(read_frame(&mut buf, 7), SlotRead::Other { found: 9 });
        // Frame 7 with a length its 4x4 GRAY8 description cannot have.
        // SAFETY: as in `write`.
        let guard = unsafe { WriteGuard::begin(Slot::new(buf.0.as_mut_ptr()), CAPACITY) };
        guard.commit(&SlotMeta { len: 15, ..frame_meta(7) });
        assert!(matches!(read_frame(&mut buf, 7), SlotRead::Corrupt(_)));
        // A length beyond the slot is corrupt too, and never copied.
        // SAFETY: as in `write`.
        let guard = unsafe { WriteGuard::begin(Slot::new(buf.0.as_mut_ptr()), CAPACITY) };
        guard.commit(&SlotMeta { len: 1 << 40, ..frame_meta(7) });
        assert!(matches!(read_frame(&mut buf, 7), SlotRead::Corrupt(_)));
    }

    #[test]
    fn inspection_sees_only_stable_slots() {
        let mut buf = Buffer([0; SLOT_HEADER_SIZE as usize + CAPACITY]);
        write(&mut buf, 3, 1);
        // SAFETY: as in `read_frame`.
        let slot = unsafe { Slot::new(buf.0.as_mut_ptr()) };
        assert_eq!(read_meta(slot).map(|(_, m)| m.frame), Some(3));
        slot.seq().store(5, Ordering::Relaxed);
        assert_eq!(read_meta(slot), None);
    }

    #[test]
    fn a_view_copies_any_range_and_stops_at_the_end() {
        let mut buf = Buffer([0; SLOT_HEADER_SIZE as usize + CAPACITY]);
        // SAFETY: as in `write`.
        let mut guard = unsafe { WriteGuard::begin(Slot::new(buf.0.as_mut_ptr()), CAPACITY) };
        for (i, b) in guard.payload_mut(16).iter_mut().enumerate() {
            *b = i as u8;
        }
        guard.commit(&frame_meta(7));
        // SAFETY: as in `read_frame`.
        let outcome =
            read(unsafe { Slot::new(buf.0.as_mut_ptr()) }, CAPACITY as u64, 7, &mut |view: &FrameView<'_>| {
                let (mut row, mut big) = ([0u8; 4], [0xFFu8; 20]);
                let copied = (view.copy_to(12, &mut row), view.copy_to(14, &mut row[..1]), view.copy_to(16, &mut row));
                (copied, row, view.copy_to(0, &mut big), big, view.info().format)
            });
        let SlotRead::Frame(_, _, (copied, row, whole, big, format)) = outcome else { panic!("{outcome:?}") };
        assert_eq!((copied, row, whole, format), ((4, 1, 0), [14, 13, 14, 15], 16, PixelFormat::Gray8));
        assert_eq!(&big[..16], (0..16).collect::<Vec<u8>>().as_slice());
        assert_eq!(&big[16..], &[0xFF; 4], "bytes past the frame are untouched");
    }

    #[test]
    fn a_streaming_copy_is_exact_at_any_alignment_and_length() {
        let src: Vec<u8> = (0..STREAMING_MIN + 300).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut dst = vec![0u8; src.len() + 32];
        for shift in [0, 1, 7, 15, 16, 17] {
            for len in [0, 1, 15, 16, 63, 64, 65, 127, 1000, 4096 + 3, STREAMING_MIN + 77] {
                dst.fill(0xAA);
                copy_streaming(&mut dst[shift..shift + len], &src[3..3 + len]);
                assert_eq!(&dst[shift..shift + len], &src[3..3 + len], "shift {shift}, len {len}");
                assert!(dst[..shift].iter().chain(&dst[shift + len..]).all(|&b| b == 0xAA), "shift {shift}, len {len}");
            }
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    pub(super) fn after_copy(_: &super::Slot<'_>) {}
}
