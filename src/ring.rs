//! A validated view of a mapped segment: the header's atomics and the slots.
//!
//! The geometry is copied out of the segment once, validated, and kept in
//! this struct; later changes to those bytes by a hostile process have no
//! effect on the bounds this view uses. Only atomics are ever referenced in
//! place.
//!
//! Under `cfg(loom)` the ring lives on the heap instead (`src/heap.rs`):
//! the same header atomics, and slots whose metadata and payload are relaxed
//! atomic words, so the protocol code above it runs unchanged in the model
//! checker.

#[cfg(not(loom))]
use std::ptr::addr_of;

use crate::sync::{AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
use crate::error::{LayoutError, Result};
#[cfg(loom)]
use crate::heap::HeapRing;
use crate::layout::{Geometry, STATE_CLOSED, STATE_LIVE, SlotMeta};
#[cfg(not(loom))]
use crate::layout::{HEADER_SIZE, Header, STATE_INIT};
use crate::seqlock::{self, FrameView, Slot, SlotRead, WriteGuard};
use crate::sys::futex::Waker;
#[cfg(not(loom))]
use crate::sys::segment::Mapping;

/// A ring this process produces into: a [`Ring`] over a writable mapping
/// whose producer lock this process holds. Only `claim` makes one, so the
/// slots it hands out for writing have exactly one writer.
#[derive(Debug)]
pub(crate) struct RingWriter {
    ring: Ring,
}

impl RingWriter {
    /// Wraps a ring mapped read-write whose producer lock the caller holds.
    pub(crate) fn new(ring: Ring) -> Self {
        debug_assert!(ring.writable);
        Self { ring }
    }

    /// The ring, for loads of its header.
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Starts writing frame `frame` into its slot: the slot is marked odd
    /// until the guard commits or drops. Also returns the ring, to publish
    /// after the commit; both borrow `self` mutably, so there is one guard
    /// at a time.
    pub(crate) fn write_slot(&mut self, frame: u64) -> (WriteGuard<'_>, &Ring) {
        let capacity = self.ring.geometry.max_frame_bytes as usize;
        // SAFETY: the slot is in our writable mapping (a RingWriter is only
        // made over one) of a validated ring whose slots hold `capacity`
        // bytes; the mapping lives as long as `self`, which is borrowed
        // mutably for the guard's lifetime, so no other guard exists; and
        // holding the producer lock makes us the only writer.
        let guard = unsafe { WriteGuard::begin(self.ring.slot(frame), capacity) };
        (guard, &self.ring)
    }
}

/// The most of a ring pre-faulted at once. A consumer's read faults on a
/// (possibly hostile, sparse) object allocate its pages: bounded, so that
/// opening a ring never commits more than this much memory.
#[cfg(not(loom))]
const PREFAULT_LIMIT: usize = 256 << 20;

/// A mapped segment whose geometry has been validated.
#[derive(Debug)]
pub(crate) struct Ring {
    #[cfg(not(loom))]
    map: Mapping,
    #[cfg(loom)]
    heap: std::sync::Arc<HeapRing>,
    /// How consumers sleep until `notify` changes and the producer wakes
    /// them (the OS's part of it).
    waker: Waker,
    geometry: Geometry,
    writable: bool,
}

#[cfg(not(loom))]
impl Ring {
    /// Validates the segment behind `map` and wraps it. `map` must cover the
    /// object's whole length as reported by `fstat`.
    pub(crate) fn attach(map: Mapping, waker: Waker) -> Result<Self, LayoutError> {
        let len = map.len() as u64;
        if len < u64::from(HEADER_SIZE) {
            return Err(LayoutError::TooShort { len, needed: HEADER_SIZE.into() });
        }
        let header = map.base().cast::<Header>().cast_const();
        // SAFETY: the mapping is at least HEADER_SIZE bytes (checked above)
        // and page aligned, so the projection is in bounds and aligned;
        // AtomicU32 allows concurrent writers, and a plain atomic load is
        // allowed on read-only memory (std::sync::atomic, "Atomic accesses to
        // read-only memory").
        let state = unsafe { &*addr_of!((*header).control.state) };
        // Acquire pairs with the producer's Release store of STATE_LIVE in
        // `init`: a non-INIT state means the geometry written before it is
        // visible below.
        let state = state.load(Ordering::Acquire);
        // SAFETY: in bounds and aligned as above; Geometry is plain data for
        // which every bit pattern is valid (FromBytes). The bytes are copied
        // out with a volatile read, never referenced, and validated below.
        let geometry = unsafe { addr_of!((*header).geometry).read_volatile() };
        // Magic and version before `state` (§4.5): a file that is not a
        // ring, or a ring of another version, says so whatever its bytes
        // 76..80 hold. Only an object whose first bytes are still zero (its
        // creator has not written the header yet) is "not initialized".
        if state == STATE_INIT && geometry.magic == [0; 8] {
            return Err(LayoutError::NotInitialized);
        }
        geometry.identify()?;
        match state {
            STATE_INIT => return Err(LayoutError::NotInitialized),
            STATE_LIVE | STATE_CLOSED => {}
            other => {
                return Err(LayoutError::BadField { field: "state", value: other.into(), expected: "0, 1 or 2" });
            }
        }
        geometry.validate(len)?;
        let writable = map.writable();
        Ok(Self { map, waker, geometry, writable })
    }

    /// Faults the ring's pages in now, up to PREFAULT_LIMIT (see
    /// `Mapping::prefault`): the producer at create, a consumer at open.
    /// Measured on the CI VM, the first four 1080p frames of a fresh ring
    /// otherwise took 12–21 ms against ~1 ms afterwards.
    pub(crate) fn prefault(&self) {
        self.map.prefault(usize::try_from(self.geometry.segment_size).unwrap_or(usize::MAX).min(PREFAULT_LIMIT));
    }

    /// Bytes of the ring this process maps with huge pages so far (see
    /// `Mapping::huge_mapped`).
    pub(crate) fn huge_mapped(&self) -> Option<u64> {
        self.map.huge_mapped()
    }

    /// Writes a fresh header into a new, zero-filled, writable mapping and
    /// marks it live (generation 1). The caller holds the producer lock.
    pub(crate) fn init(map: Mapping, waker: Waker, geometry: Geometry, pid: u32, now_ns: u64) -> Self {
        debug_assert!(map.len() as u64 >= geometry.segment_size);
        let header = map.base().cast::<Header>();
        // SAFETY: the mapping is writable, page aligned and at least
        // segment_size ≥ HEADER_SIZE bytes long. No consumer reads the
        // geometry before it observes STATE_LIVE (stored with Release in
        // `claim`), and a second producer cannot exist while we hold the lock.
        unsafe { addr_of!((*header).geometry).cast_mut().write_volatile(geometry) };
        let ring = Self { writable: map.writable(), map, waker, geometry };
        ring.claim(pid, now_ns);
        ring
    }

    fn header(&self) -> *const Header {
        self.map.base().cast::<Header>().cast_const()
    }

    /// `Control::state`.
    pub(crate) fn state(&self) -> &AtomicU32 {
        // SAFETY: the header is in bounds and aligned (validated at attach or
        // written at init); atomics tolerate concurrent writers; loads are
        // allowed on a read-only mapping (see `attach`). The reference cannot
        // outlive the mapping because it borrows self.
        unsafe { &*addr_of!((*self.header()).control.state) }
    }

    /// `Control::generation`.
    pub(crate) fn generation(&self) -> &AtomicU64 {
        // SAFETY: as in `state`.
        unsafe { &*addr_of!((*self.header()).control.generation) }
    }

    /// `Control::producer_pid`.
    pub(crate) fn producer_pid(&self) -> &AtomicU32 {
        // SAFETY: as in `state`.
        unsafe { &*addr_of!((*self.header()).control.producer_pid) }
    }

    /// `Control::started_ns`.
    pub(crate) fn started_ns(&self) -> &AtomicU64 {
        // SAFETY: as in `state`.
        unsafe { &*addr_of!((*self.header()).control.started_ns) }
    }

    /// `PublishLine::published`.
    pub(crate) fn published(&self) -> &AtomicU64 {
        // SAFETY: as in `state`.
        unsafe { &*addr_of!((*self.header()).publish.published) }
    }

    /// `NotifyLine::notify`, the futex word.
    pub(crate) fn notify(&self) -> &AtomicU32 {
        // SAFETY: as in `state`.
        unsafe { &*addr_of!((*self.header()).notify.notify) }
    }

    /// The slot that holds frame number `frame`.
    fn slot(&self, frame: u64) -> Slot<'_> {
        let index = frame % u64::from(self.geometry.slot_count);
        let offset = self.geometry.slot_offset(index);
        // The validated geometry guarantees offset + slot_stride ≤
        // segment_size ≤ map.len(), so the cast and add stay in bounds.
        // SAFETY: that is a slot start inside our mapping of a validated
        // ring, which lives as long as the borrow of `self`.
        unsafe { Slot::new(self.map.base().wrapping_add(offset as usize)) }
    }
}

/// What mapped and heap rings share: the protocol steps on the header.
impl Ring {
    /// Makes the caller this ring's producer: the next generation, its pid
    /// and start time, then `state` live. The caller holds the producer
    /// lock and a writable mapping.
    pub(crate) fn claim(&self, pid: u32, now_ns: u64) {
        // Relaxed: the previous producer is dead (the caller holds its lock,
        // which ordered it after that producer's last store). The stores are
        // published to consumers by the Release store of `state` below.
        let generation = self.generation().load(Ordering::Relaxed).wrapping_add(1);
        self.generation().store(generation, Ordering::Relaxed);
        self.producer_pid().store(pid, Ordering::Relaxed);
        self.started_ns().store(now_ns, Ordering::Relaxed);
        // Release pairs with the Acquire load of `state` in `attach` and in
        // the consumer's liveness checks: the geometry and control fields
        // above are visible to whoever sees LIVE.
        self.state().store(STATE_LIVE, Ordering::Release);
    }

    /// Makes frame `frame` (committed to its slot) the newest published one
    /// and wakes the waiting consumers.
    pub(crate) fn publish(&self, frame: u64) {
        // Release pairs with the consumer's Acquire load of `published` in
        // `Consumer::read`: a consumer that sees this number sees the slot's
        // even sequence stored by the commit before it, hence the whole frame.
        self.published().store(frame, Ordering::Release);
        self.wake_all();
    }

    /// Wakes every consumer waiting on the futex word.
    pub(crate) fn wake_all(&self) {
        // Release pairs with the waiter's Acquire load of `notify` in
        // `Consumer::wait`: a waiter that sees the new value also sees the
        // `published` / `state` store made before it. A waiter that loaded
        // the old value is either not yet asleep (FUTEX_WAIT then sees the
        // changed word and returns) or asleep and woken below.
        self.notify().fetch_add(1, Ordering::Release);
        self.waker.wake_all(self.notify());
    }

    /// Sleeps while `notify` still holds `seen`, at most `timeout` (see
    /// `Waker::wait`: it may return early; the caller re-checks).
    pub(crate) fn sleep(&self, seen: u32, timeout: std::time::Duration) {
        self.waker.wait(self.notify(), seen, timeout);
    }

    /// Marks the ring closed and wakes every waiting consumer. The caller is
    /// its producer.
    pub(crate) fn close(&self) {
        // Release pairs with the consumer's Acquire load of `state` in
        // `Consumer::wait` / `producer_state`.
        self.state().store(STATE_CLOSED, Ordering::Release);
        self.wake_all();
    }

    /// Reads frame `frame` out of its slot with `f` if it is there, whole
    /// and valid: one seqlock read attempt (see `seqlock::read`).
    pub(crate) fn read_frame<R>(&self, frame: u64, f: &mut impl FnMut(&FrameView<'_>) -> R) -> SlotRead<R> {
        seqlock::read(self.slot(frame), self.geometry.max_frame_bytes, frame, f)
    }

    /// Slot `index`'s sequence and metadata if it was stable while copied
    /// (see `seqlock::read_meta`); for inspection.
    pub(crate) fn slot_meta(&self, index: u64) -> Option<(u64, SlotMeta)> {
        seqlock::read_meta(self.slot(index))
    }

    /// The validated geometry (a private copy).
    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }
}

#[cfg(loom)]
impl Ring {
    /// A fresh heap ring of `slots` slots of `max_frame_bytes`, live, for a
    /// producer (writable) — see [`Ring::reader`].
    pub(crate) fn heap(slots: u32, max_frame_bytes: u64) -> Self {
        let geometry = Geometry::new(slots, max_frame_bytes).expect("a valid model geometry");
        let heap = HeapRing::new(slots, max_frame_bytes.div_ceil(8) as usize);
        let ring = Self { heap: std::sync::Arc::new(heap), waker: Waker, geometry, writable: true };
        ring.claim(1, 1);
        ring
    }

    /// A read-only view of the same heap ring, for a consumer.
    pub(crate) fn reader(&self) -> Self {
        Self { heap: self.heap.clone(), waker: Waker, geometry: self.geometry, writable: false }
    }

    pub(crate) fn state(&self) -> &AtomicU32 {
        &self.heap.state
    }

    pub(crate) fn generation(&self) -> &AtomicU64 {
        &self.heap.generation
    }

    pub(crate) fn producer_pid(&self) -> &AtomicU32 {
        &self.heap.producer_pid
    }

    pub(crate) fn started_ns(&self) -> &AtomicU64 {
        &self.heap.started_ns
    }

    pub(crate) fn published(&self) -> &AtomicU64 {
        &self.heap.published
    }

    pub(crate) fn notify(&self) -> &AtomicU32 {
        &self.heap.notify
    }

    fn slot(&self, frame: u64) -> Slot<'_> {
        Slot::new(&self.heap.slots[(frame % u64::from(self.geometry.slot_count)) as usize])
    }
}
