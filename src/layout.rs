//! The binary layout of a ring segment, format version 3.
//!
//! `docs/FORMAT.md` is the normative description; the types here are that
//! description in Rust, pinned by static assertions. All integers are
//! little-endian (big-endian targets are rejected at compile time).
//!
//! ```text
//! offset 0     Header (256 bytes, 4 cache lines)
//! offset 256   slot 0: SlotHeader (64 bytes) + payload (max_frame_bytes), padded to slot_stride
//! ...          slot i at 256 + i * slot_stride
//! ```
//!
//! The types describe memory that other processes write. They are used for
//! offsets and sizes, and the plain-data parts ([`Geometry`], [`SlotMeta`])
//! are only ever *copied* out of the segment and then validated; code never
//! holds a `&` reference to plain data inside a mapping.

use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::error::LayoutError;

#[cfg(target_endian = "big")]
compile_error!("framering's segment format is little-endian; big-endian targets are not supported");

/// The first eight bytes of every segment.
pub const MAGIC: [u8; 8] = *b"FRAMERNG";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 3;
/// Size of [`Header`].
pub const HEADER_SIZE: u32 = 256;
/// Size of [`SlotHeader`]; the payload starts this far into a slot.
pub const SLOT_HEADER_SIZE: u32 = 64;
/// Slots and the header are aligned to this.
pub const CACHE_LINE: u64 = 64;
/// Fewest slots a ring may have: with one slot there would be no complete
/// frame while the producer writes.
pub const MIN_SLOTS: u32 = 2;
/// Most slots a ring may have.
pub const MAX_SLOTS: u32 = 1024;
/// Largest slot capacity (1 GiB).
pub const MAX_FRAME_BYTES: u64 = 1 << 30;
/// Largest whole segment (16 GiB).
pub const MAX_SEGMENT_BYTES: u64 = 1 << 34;

/// `Control::state` before the producer has finished writing the header.
pub const STATE_INIT: u32 = 0;
/// `Control::state` while a producer owns the ring (check its lock to tell
/// whether it is still alive).
pub const STATE_LIVE: u32 = 1;
/// `Control::state` after the producer closed the ring cleanly.
pub const STATE_CLOSED: u32 = 2;

/// The segment's fixed geometry: written once by the creating producer
/// before `state` leaves [`STATE_INIT`], never changed afterwards (a producer
/// needing another geometry creates a new segment). Header bytes 0..64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct Geometry {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// [`HEADER_SIZE`].
    pub header_size: u32,
    /// [`SLOT_HEADER_SIZE`].
    pub slot_header_size: u32,
    /// Number of slots, [`MIN_SLOTS`]..=[`MAX_SLOTS`].
    pub slot_count: u32,
    /// Payload capacity of each slot in bytes, 1..=[`MAX_FRAME_BYTES`].
    pub max_frame_bytes: u64,
    /// Distance between slots: `SLOT_HEADER_SIZE + max_frame_bytes` rounded
    /// up to a multiple of 64.
    pub slot_stride: u64,
    /// Whole segment: `HEADER_SIZE + slot_count * slot_stride`.
    pub segment_size: u64,
    /// Zero; readers ignore it.
    pub reserved: [u8; 16],
}

/// Producer control, written at (re)start and close. Header bytes 64..128.
#[derive(Debug, FromBytes, IntoBytes, KnownLayout)]
#[repr(C)]
pub struct Control {
    /// Incremented each time a producer takes the ring over (1 for the first).
    pub generation: AtomicU64,
    /// Process id of the current or last producer.
    pub producer_pid: AtomicU32,
    /// [`STATE_INIT`], [`STATE_LIVE`] or [`STATE_CLOSED`].
    pub state: AtomicU32,
    /// `CLOCK_MONOTONIC` ns at which the current producer took the ring.
    pub started_ns: AtomicU64,
    _pad: [u8; 40],
}

/// The publish counter on a cache line of its own. Header bytes 128..192.
#[derive(Debug, FromBytes, IntoBytes, KnownLayout)]
#[repr(C)]
pub struct PublishLine {
    /// Frame number of the newest complete frame; 0 before the first.
    pub published: AtomicU64,
    _pad: [u8; 56],
}

/// The futex word on a cache line of its own. Header bytes 192..256.
#[derive(Debug, FromBytes, IntoBytes, KnownLayout)]
#[repr(C)]
pub struct NotifyLine {
    /// Incremented (wrapping) after every publish and on close; consumers
    /// sleep on it with `FUTEX_WAIT` (shared, not private).
    pub notify: AtomicU32,
    _pad: [u8; 60],
}

/// The segment header.
#[derive(Debug, FromBytes, IntoBytes, KnownLayout)]
#[repr(C)]
pub struct Header {
    /// Bytes 0..64.
    pub geometry: Geometry,
    /// Bytes 64..128.
    pub control: Control,
    /// Bytes 128..192.
    pub publish: PublishLine,
    /// Bytes 192..256.
    pub notify: NotifyLine,
}

/// Slot `flags` bit: the frame came through a bridge from another ring. Its
/// `frame` number and `capture_ns` are this ring's; the pixels are the
/// source frame's (see [`FLAG_LOSSY`]).
pub const FLAG_BRIDGED: u32 = 1;
/// Slot `flags` bit: the pixels were lossily re-encoded on the way (JPEG),
/// so they only approximate the source frame's.
pub const FLAG_LOSSY: u32 = 2;

/// Per-frame metadata, written by the producer while the slot's sequence is
/// odd. Slot bytes 8..64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct SlotMeta {
    /// Frame number (1, 2, …); 0 means the slot holds no frame.
    pub frame: u64,
    /// `CLOCK_MONOTONIC` ns when the frame was published.
    pub publish_ns: u64,
    /// `CLOCK_MONOTONIC` ns when the frame was captured; 0 if unknown.
    pub capture_ns: u64,
    /// Payload length in bytes, ≤ `max_frame_bytes`.
    pub len: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per row of the first plane (0 for compressed formats).
    pub stride: u32,
    /// Pixel format FourCC (see [`crate::PixelFormat`]).
    pub fourcc: u32,
    /// [`FLAG_BRIDGED`] and [`FLAG_LOSSY`]; other bits zero, ignored by
    /// readers.
    pub flags: u32,
    /// Zero; readers ignore it.
    pub reserved: u32,
}

/// The start of every slot: its seqlock sequence and the frame metadata.
#[derive(Debug, FromBytes, IntoBytes, KnownLayout)]
#[repr(C)]
pub struct SlotHeader {
    /// Seqlock sequence: odd while the producer writes the slot.
    pub seq: AtomicU64,
    /// The frame's metadata.
    pub meta: SlotMeta,
}

const _: () = {
    assert!(size_of::<Geometry>() == 64);
    assert!(size_of::<Control>() == 64);
    assert!(size_of::<PublishLine>() == 64);
    assert!(size_of::<NotifyLine>() == 64);
    assert!(size_of::<Header>() == HEADER_SIZE as usize);
    assert!(size_of::<SlotMeta>() == 56);
    assert!(size_of::<SlotHeader>() == SLOT_HEADER_SIZE as usize);
    assert!(offset_of!(Geometry, version) == 8);
    assert!(offset_of!(Geometry, header_size) == 12);
    assert!(offset_of!(Geometry, slot_header_size) == 16);
    assert!(offset_of!(Geometry, slot_count) == 20);
    assert!(offset_of!(Geometry, max_frame_bytes) == 24);
    assert!(offset_of!(Geometry, slot_stride) == 32);
    assert!(offset_of!(Geometry, segment_size) == 40);
    assert!(offset_of!(Header, control) == 64);
    assert!(offset_of!(Control, producer_pid) == 8);
    assert!(offset_of!(Control, state) == 12);
    assert!(offset_of!(Control, started_ns) == 16);
    assert!(offset_of!(Header, publish) == 128);
    assert!(offset_of!(Header, notify) == 192);
    assert!(offset_of!(SlotHeader, meta) == 8);
    assert!(offset_of!(SlotMeta, publish_ns) == 8);
    assert!(offset_of!(SlotMeta, capture_ns) == 16);
    assert!(offset_of!(SlotMeta, len) == 24);
    assert!(offset_of!(SlotMeta, width) == 32);
    assert!(offset_of!(SlotMeta, height) == 36);
    assert!(offset_of!(SlotMeta, stride) == 40);
    assert!(offset_of!(SlotMeta, fourcc) == 44);
    // Atomics in the mapping must be naturally aligned; the mapping is page
    // aligned, the header is 256 bytes and slot strides are multiples of 64.
    assert!(align_of::<Header>() <= CACHE_LINE as usize);
    assert!((HEADER_SIZE as u64).is_multiple_of(CACHE_LINE));
};

impl Geometry {
    /// The geometry of a new ring, or `None` if the numbers are out of range.
    pub fn new(slot_count: u32, max_frame_bytes: u64) -> Option<Self> {
        if !(MIN_SLOTS..=MAX_SLOTS).contains(&slot_count) || !(1..=MAX_FRAME_BYTES).contains(&max_frame_bytes) {
            return None;
        }
        let slot_stride = slot_stride_for(max_frame_bytes)?;
        let segment_size = segment_size_for(slot_count, slot_stride)?;
        Some(Self {
            magic: MAGIC,
            version: FORMAT_VERSION,
            header_size: HEADER_SIZE,
            slot_header_size: SLOT_HEADER_SIZE,
            slot_count,
            max_frame_bytes,
            slot_stride,
            segment_size,
            reserved: [0; 16],
        })
    }

    /// Checks the magic and the version: whether these are the bytes of a
    /// ring this version reads at all (`docs/FORMAT.md` §4.5 step 3, before
    /// `state` means anything).
    pub fn identify(&self) -> Result<(), LayoutError> {
        if self.magic != MAGIC {
            return Err(LayoutError::BadMagic { found: self.magic });
        }
        if self.version != FORMAT_VERSION {
            return Err(LayoutError::UnsupportedVersion { found: self.version, supported: FORMAT_VERSION });
        }
        Ok(())
    }

    /// Checks every field against the rules in `docs/FORMAT.md` and against
    /// the segment's real length `len`. Checked arithmetic throughout: any
    /// byte pattern gives `Ok` or a typed error.
    pub fn validate(&self, len: u64) -> Result<(), LayoutError> {
        self.identify()?;
        let bad = |field, value: u64, expected| Err(LayoutError::BadField { field, value, expected });
        if self.header_size != HEADER_SIZE {
            return bad("header_size", self.header_size.into(), "256");
        }
        if self.slot_header_size != SLOT_HEADER_SIZE {
            return bad("slot_header_size", self.slot_header_size.into(), "64");
        }
        if !(MIN_SLOTS..=MAX_SLOTS).contains(&self.slot_count) {
            return bad("slot_count", self.slot_count.into(), "2..=1024");
        }
        if !(1..=MAX_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return bad("max_frame_bytes", self.max_frame_bytes, "1..=2^30");
        }
        if Some(self.slot_stride) != slot_stride_for(self.max_frame_bytes) {
            return bad("slot_stride", self.slot_stride, "64 + max_frame_bytes rounded up to 64");
        }
        if self.segment_size > MAX_SEGMENT_BYTES {
            return bad("segment_size", self.segment_size, "at most 2^34");
        }
        if Some(self.segment_size) != segment_size_for(self.slot_count, self.slot_stride) {
            return bad("segment_size", self.segment_size, "256 + slot_count * slot_stride");
        }
        if self.segment_size > len {
            return Err(LayoutError::TooShort { len, needed: self.segment_size });
        }
        Ok(())
    }

    /// Byte offset of slot `index` (which must be `< slot_count`) from the
    /// start of the segment. Cannot overflow for a validated geometry.
    pub fn slot_offset(&self, index: u64) -> u64 {
        u64::from(HEADER_SIZE) + index * self.slot_stride
    }
}

fn slot_stride_for(max_frame_bytes: u64) -> Option<u64> {
    let raw = u64::from(SLOT_HEADER_SIZE).checked_add(max_frame_bytes)?;
    raw.checked_next_multiple_of(CACHE_LINE)
}

fn segment_size_for(slot_count: u32, slot_stride: u64) -> Option<u64> {
    let total = u64::from(slot_count).checked_mul(slot_stride)?.checked_add(u64::from(HEADER_SIZE))?;
    (total <= MAX_SEGMENT_BYTES).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_geometry_is_valid_and_round_trips_through_bytes() {
        let g = Geometry::new(4, 1920 * 1080 * 3).unwrap();
        assert_eq!(g.slot_stride, 6_220_864);
        assert_eq!(g.segment_size, 256 + 4 * 6_220_864);
        g.validate(g.segment_size).unwrap();
        let back = Geometry::read_from_bytes(g.as_bytes()).unwrap();
        assert_eq!(back, g);
        assert_eq!(&g.as_bytes()[..8], b"FRAMERNG");
    }

    #[test]
    fn geometry_out_of_range_is_refused() {
        assert!(Geometry::new(0, 10).is_none());
        assert!(Geometry::new(1, 10).is_none());
        assert!(Geometry::new(MAX_SLOTS + 1, 10).is_none());
        assert!(Geometry::new(4, 0).is_none());
        assert!(Geometry::new(4, MAX_FRAME_BYTES + 1).is_none());
        // Each slot within limits, but the whole ring too big.
        assert!(Geometry::new(MAX_SLOTS, MAX_FRAME_BYTES).is_none());
    }

    #[test]
    fn every_corrupted_field_gives_its_own_error() {
        let good = Geometry::new(3, 1000).unwrap();
        let len = good.segment_size;
        let check = |mutate: &dyn Fn(&mut Geometry), want: &dyn Fn(&LayoutError) -> bool| {
            let mut g = good;
            mutate(&mut g);
            let e = g.validate(len).unwrap_err();
            assert!(want(&e), "unexpected {e:?}");
        };
        let field = |name: &'static str| move |e: &LayoutError| matches!(e, LayoutError::BadField { field, .. } if *field == name);
        check(&|g| g.magic[3] ^= 1, &|e| matches!(e, LayoutError::BadMagic { .. }));
        check(&|g| g.version = 1, &|e| matches!(e, LayoutError::UnsupportedVersion { found: 1, .. }));
        check(&|g| g.header_size = 128, &field("header_size"));
        check(&|g| g.slot_header_size = 0, &field("slot_header_size"));
        check(&|g| g.slot_count = 0, &field("slot_count"));
        check(&|g| g.slot_count = u32::MAX, &field("slot_count"));
        check(&|g| g.slot_count = 4, &field("segment_size"));
        check(&|g| g.max_frame_bytes = 0, &field("max_frame_bytes"));
        check(&|g| g.max_frame_bytes = u64::MAX, &field("max_frame_bytes"));
        check(&|g| g.max_frame_bytes = 2000, &field("slot_stride"));
        check(&|g| g.slot_stride = u64::MAX, &field("slot_stride"));
        check(&|g| g.segment_size += 64, &|e| matches!(e, LayoutError::BadField { field: "segment_size", .. }));
        // A segment shorter than the header claims.
        let e = good.validate(len - 1).unwrap_err();
        assert_eq!(e, LayoutError::TooShort { len: len - 1, needed: len });
        // Reserved bytes are ignored.
        let mut g = good;
        g.reserved = [0xff; 16];
        g.validate(len).unwrap();
    }
}
