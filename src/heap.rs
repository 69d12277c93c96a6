//! The ring on the heap, for the model checker (`cfg(loom)` only; see
//! `src/loom_models.rs`): the header atomics a segment has, and slots whose
//! metadata and payload are relaxed atomic words, so that the protocol code
//! of `ring.rs` and `seqlock.rs` runs unchanged over it and loom sees every
//! racing access. The mapping-backed twins of these types are
//! `ring::Ring`'s mapping and `seqlock::Slot`.

use crate::layout::SlotMeta;
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// A heap ring's header atomics and slots (loom).
#[derive(Debug)]
pub(crate) struct HeapRing {
    pub(crate) generation: AtomicU64,
    pub(crate) producer_pid: AtomicU32,
    pub(crate) state: AtomicU32,
    pub(crate) started_ns: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) notify: AtomicU32,
    pub(crate) slots: Vec<HeapSlot>,
}

impl HeapRing {
    /// A ring of `slots` empty slots of `words` payload words, its header
    /// all zero (a producer's `claim` makes it live).
    pub(crate) fn new(slots: u32, words: usize) -> Self {
        let slot = || HeapSlot {
            seq: AtomicU64::new(0),
            meta: std::array::from_fn(|_| AtomicU64::new(0)),
            payload: (0..words).map(|_| AtomicU64::new(0)).collect(),
        };
        Self {
            generation: AtomicU64::new(0),
            producer_pid: AtomicU32::new(0),
            state: AtomicU32::new(0),
            started_ns: AtomicU64::new(0),
            published: AtomicU64::new(0),
            notify: AtomicU32::new(0),
            slots: (0..slots).map(|_| slot()).collect(),
        }
    }
}

/// A heap ring's slot (loom): the sequence, the 56 metadata bytes as seven
/// words, and the payload as words, all accessed atomically (the payload
/// and metadata relaxed).
#[derive(Debug)]
pub(crate) struct HeapSlot {
    pub(crate) seq: AtomicU64,
    pub(crate) meta: [AtomicU64; 7],
    pub(crate) payload: Vec<AtomicU64>,
}

/// One slot of a heap ring (loom): metadata and payload are relaxed atomic
/// words, so the model checker sees every racing access.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot<'a> {
    heap: &'a HeapSlot,
}

impl<'a> Slot<'a> {
    pub(crate) fn new(heap: &'a HeapSlot) -> Self {
        Self { heap }
    }

    pub(crate) fn seq(&self) -> &'a AtomicU64 {
        &self.heap.seq
    }

    // Every metadata and payload word is accessed Relaxed: the model's
    // stand-in for the plain racing copy (FORMAT.md §6). Their ordering comes
    // only from `seq` and the fences in `WriteGuard::begin`/`end` and `read`,
    // which is exactly what the models check.
    pub(crate) fn load_meta(&self) -> SlotMeta {
        use zerocopy::FromBytes;
        let mut bytes = [0u8; 56];
        for (word, chunk) in self.heap.meta.iter().zip(bytes.chunks_exact_mut(8)) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        SlotMeta::read_from_bytes(&bytes).unwrap_or_default()
    }

    /// Each payload word the range touches is loaded once (the model's
    /// state space grows with every load).
    pub(crate) fn copy_payload(&self, start: usize, dst: &mut [u8]) {
        let end = start + dst.len();
        for w in start / 8..end.div_ceil(8) {
            let bytes = self.heap.payload[w].load(Ordering::Relaxed).to_le_bytes();
            let (lo, hi) = ((w * 8).max(start), (w * 8 + 8).min(end));
            dst[lo - start..hi - start].copy_from_slice(&bytes[lo - w * 8..hi - w * 8]);
        }
    }

    pub(crate) fn store_meta(&self, meta: &SlotMeta) {
        use zerocopy::IntoBytes;
        for (word, chunk) in self.heap.meta.iter().zip(meta.as_bytes().chunks_exact(8)) {
            word.store(u64::from_le_bytes(chunk.try_into().unwrap_or_default()), Ordering::Relaxed);
        }
    }

    pub(crate) fn store_payload(&self, bytes: &[u8]) {
        for (word, chunk) in self.heap.payload.iter().zip(bytes.chunks(8)) {
            let mut le = [0u8; 8];
            le[..chunk.len()].copy_from_slice(chunk);
            word.store(u64::from_le_bytes(le), Ordering::Relaxed);
        }
    }
}
