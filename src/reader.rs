//! Choosing the frame a read wants and copying it out of a ring
//! (`docs/FORMAT.md` §4.3): the protocol core of every consumer read, and
//! what the loom models run.

use crate::error::{Error, Result};
use crate::format::{FrameInfo, PixelFormat};
use crate::layout::{FLAG_BRIDGED, FLAG_LOSSY, SlotMeta};
use crate::ring::Ring;
use crate::seqlock::{FrameView, SlotRead};
use crate::sync::Ordering;

/// Read attempts before a non-blocking read gives up with [`Error::Lapped`].
pub(crate) const READ_ATTEMPTS: u32 = 64;

/// The metadata of a frame a consumer read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameMeta {
    /// The frame's number (1, 2, … in publish order; continues across a
    /// producer restart on the same ring).
    pub frame: u64,
    /// Frames published between the previous frame this consumer returned
    /// and this one, which it never returned (lapped or skipped).
    pub dropped: u64,
    /// `CLOCK_MONOTONIC` ns when the producer published it.
    pub publish_ns: u64,
    /// The frame's description as the producer gave it: size, format,
    /// stride (the effective one; 0 for compressed formats) and capture
    /// time.
    pub info: FrameInfo,
    /// Payload length in bytes (equal to the buffer's length).
    pub len: usize,
    /// The frame came through a bridge from another ring: `frame` and
    /// `info.capture_ns` are this ring's, the pixels the source frame's.
    pub bridged: bool,
    /// The pixels were lossily re-encoded on the way (JPEG).
    pub lossy: bool,
}

impl FrameMeta {
    pub(crate) fn new(meta: &SlotMeta, format: PixelFormat, dropped: u64) -> Self {
        Self {
            frame: meta.frame,
            dropped,
            publish_ns: meta.publish_ns,
            info: FrameInfo::from_slot(meta, format),
            // Validated against the slot capacity, which fits in memory.
            len: meta.len as usize,
            bridged: meta.flags & FLAG_BRIDGED != 0,
            lossy: meta.flags & FLAG_LOSSY != 0,
        }
    }
}

/// Which frame a read wants (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Latest,
    Next,
}

/// Where a reader is in a ring: the last frame it returned and the frames
/// it skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) last: u64,
    pub(crate) dropped: u64,
}

/// Up to READ_ATTEMPTS tries to choose the wanted frame (§4.3) and copy it
/// out of `ring` (§4.2) with `f`, whose result comes back with the frame's
/// metadata. The protocol core of every read, also run by the loom models.
pub(crate) fn read_ring<R>(
    ring: &Ring,
    mode: Mode,
    cursor: &mut Cursor,
    f: &mut impl FnMut(&FrameView<'_>) -> R,
) -> Result<Option<(FrameMeta, R)>> {
    let slots = u64::from(ring.geometry().slot_count);
    // Frames below `floor` are known to be overwritten (next mode).
    let mut floor = 0;
    for _ in 0..READ_ATTEMPTS {
        // Acquire pairs with the Release store in `Producer::commit`:
        // frame `published` is complete in its slot and visible.
        let published = ring.published().load(Ordering::Acquire);
        if published <= cursor.last {
            return Ok(None);
        }
        let want = match mode {
            Mode::Latest => published,
            Mode::Next => (cursor.last + 1).max(published.saturating_sub(slots - 1)).max(floor),
        };
        if want > published {
            // Every frame up to `published` is known lost or skipped:
            // nothing new yet (FORMAT.md §4.3). `floor` lives for this
            // call only.
            return Ok(None);
        }
        let outcome = ring.read_frame(want, f);
        match outcome {
            SlotRead::Frame(meta, format, made) => {
                let dropped = want - cursor.last - 1;
                cursor.last = want;
                // Saturating: a hostile segment may claim any numbers.
                cursor.dropped = cursor.dropped.saturating_add(dropped);
                return Ok(Some((FrameMeta::new(&meta, format, dropped), made)));
            }
            // The slot is being rewritten or changed under the copy: in
            // next mode `want` is lost; in latest mode a newer frame is
            // already published or about to be.
            SlotRead::Busy | SlotRead::Torn => floor = want.saturating_add(1),
            SlotRead::Other { found } if found > want => {
                floor = want.saturating_add(1).max(found.saturating_sub(slots - 1));
            }
            // An aborted loan leaves a slot empty; only the oldest frame's
            // slot can be the one reused, and only if the producer moved on.
            SlotRead::Other { found: 0 }
                // Acquire as above.
                if mode == Mode::Next || ring.published().load(Ordering::Acquire) != published =>
            {
                floor = want.saturating_add(1);
            }
            SlotRead::Other { .. } => {
                return Err(Error::CorruptFrame { frame: want, reason: "the slot holds an older frame than published" });
            }
            SlotRead::Corrupt(reason) => return Err(Error::CorruptFrame { frame: want, reason }),
        }
    }
    Err(Error::Lapped { attempts: READ_ATTEMPTS })
}
