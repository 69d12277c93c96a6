//! Operating on rings by name: listing, inspecting and removing them (what
//! the `framering` command-line tool is built on).
//!
//! ```
//! use framering::{Producer, RingConfig, admin};
//! # let name = format!("doc-admin-{}", std::process::id());
//! let tx = Producer::create(&name, RingConfig::new(2, 64))?;
//! assert!(admin::list()?.contains(&name));
//! let status = admin::status(&name)?;
//! assert_eq!((status.slots, status.published), (2, 0));
//! // A live producer's ring is only removed when forced.
//! assert!(admin::remove(&name, false).is_err());
//! # drop(tx);
//! # Ok::<(), framering::Error>(())
//! ```

use std::path::Path;

use crate::sync::Ordering;

use crate::consumer::ProducerState;
use crate::error::{Error, LayoutError, Result};
use crate::format::{PixelFormat, check_meta};
use crate::name::{RingName, default_ring_dir, split_dir};
use crate::sys::claim;
pub use crate::sys::segment::HUGE_PAGE;
use crate::sys::segment::{self, Dir};

/// What one slot holds at the moment it was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotState {
    /// The producer is writing it (or died while writing it).
    Writing,
    /// It holds no frame.
    Empty,
    /// It holds a complete frame.
    Frame {
        /// Frame number.
        frame: u64,
        /// `CLOCK_MONOTONIC` ns at publish.
        publish_ns: u64,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Pixel format (always known: a slot with an unknown FourCC is
        /// [`SlotState::Corrupt`]).
        format: Option<PixelFormat>,
        /// Payload bytes.
        len: u64,
    },
    /// It holds metadata no frame can have (a damaged or hostile segment):
    /// readers refuse it with [`Error::CorruptFrame`].
    Corrupt {
        /// The frame number it claims.
        frame: u64,
        /// What is impossible about it.
        reason: &'static str,
    },
}

/// A snapshot of a ring's header and slots.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RingStatus {
    /// The ring's name.
    pub name: String,
    /// Whether its producer is alive, closed the ring, or died.
    pub producer: ProducerState,
    /// Process id of the current or last producer.
    pub producer_pid: u32,
    /// How many producers have owned the ring.
    pub generation: u64,
    /// `CLOCK_MONOTONIC` ns when the current producer took the ring.
    pub started_ns: u64,
    /// Number of the newest complete frame (0: none yet).
    pub published: u64,
    /// Number of slots.
    pub slots: u32,
    /// Payload capacity of each slot in bytes.
    pub max_frame_bytes: usize,
    /// Size of the whole segment in bytes.
    pub segment_size: u64,
    /// User id owning the ring's object (on Windows, the owner SID's
    /// relative id: see [`current_uid`]).
    pub owner_uid: u32,
    /// The owner's SID (`S-1-5-21-…`) on Windows; `None` on Linux.
    pub owner_sid: Option<String>,
    /// The object's permission bits.
    pub mode: u32,
    /// Each slot's state, in slot order.
    pub slot_states: Vec<SlotState>,
    /// Bytes of the ring that looking at it mapped with huge (2 MiB)
    /// pages: the header's and each slot header's page were touched, so
    /// more than 0 means the ring's memory is huge-page backed (a tmpfs
    /// with `huge=`; see docs/PERFORMANCE.md). `None`: `/proc/self/smaps` unreadable.
    pub huge_mapped: Option<u64>,
}

impl RingStatus {
    /// The slot holding the newest frame, as
    /// `(frame, publish_ns, width, height, format, len)`.
    pub fn newest(&self) -> Option<SlotState> {
        self.slot_states.iter().copied().filter(|s| matches!(s, SlotState::Frame { .. })).max_by_key(|s| match s {
            SlotState::Frame { frame, .. } => *frame,
            _ => 0,
        })
    }

    /// Publish rate over the last second before `now_ns`, estimated from the
    /// publish times of the frames still in the slots (at most one frame
    /// interval per slot, so a slow ring reads a little low).
    pub fn fps(&self, now_ns: u64) -> f64 {
        let recent: Vec<(u64, u64)> = self
            .slot_states
            .iter()
            .filter_map(|s| match *s {
                SlotState::Frame { frame, publish_ns, .. } if now_ns.saturating_sub(publish_ns) <= 1_000_000_000 => {
                    Some((frame, publish_ns))
                }
                _ => None,
            })
            .collect();
        let (Some(old), Some(new)) = (recent.iter().min(), recent.iter().max()) else { return 0.0 };
        let span = new.1.saturating_sub(old.1);
        if new.0 <= old.0 || span == 0 { 0.0 } else { (new.0 - old.0) as f64 * 1e9 / span as f64 }
    }
}

/// How many processes read the ring: those other than its producer (and
/// this process) whose `/proc/PID/maps` maps the ring's file. Consumers
/// write nothing into a ring, so this is how they are counted; processes
/// whose `/proc` entries this user may not read are not counted. On
/// Windows, where no such list exists, always 0.
#[cfg(windows)]
pub fn consumers(_status: &RingStatus) -> usize {
    0
}

/// How many processes read the ring: those other than its producer (and
/// this process) whose `/proc/PID/maps` maps the ring's file. Consumers
/// write nothing into a ring, so this is how they are counted; processes
/// whose `/proc` entries this user may not read are not counted. On
/// Windows, where no such list exists, always 0.
#[cfg(not(windows))]
pub fn consumers(status: &RingStatus) -> usize {
    let Ok(name) = RingName::new(&status.name) else { return 0 };
    let path = segment::ring_path(&name);
    let Some(path) = path.to_str() else { return 0 };
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != status.producer_pid && pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/maps"))
                .is_ok_and(|maps| maps.lines().any(|l| l.split_whitespace().nth(5).is_some_and(|p| p == path)))
        })
        .count()
}

/// The user id this process runs as, which owns the rings it creates and
/// is what [`Consumer::with_owner`](crate::Consumer::with_owner) and `--owner` compare with: the
/// effective uid on Linux; on Windows the relative id (last part) of the
/// user's SID (see `docs/FORMAT.md` §9).
pub fn current_uid() -> u32 {
    segment::euid()
}

/// Names of every ring in the default directory (`/dev/shm`, or what
/// `FRAMERING_DIR` names), sorted: the entries `framering.NAME` with a
/// valid `NAME` (whatever they are; see [`status`]).
pub fn list() -> Result<Vec<String>> {
    list_in(&default_ring_dir())
}

/// Names of every ring in directory `dir`, sorted, as [`list`]; open one
/// as `DIR/NAME`.
pub fn list_in(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = Dir::open(dir)?
        .entries()?
        .into_iter()
        .filter_map(|file| crate::name::ring_of_file(&file).map(|name| name.base().to_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// A snapshot of ring `name`: validated like [`Consumer::open`](crate::Consumer::open), without
/// copying any frame or faulting the ring's pages in.
pub fn status(name: &str) -> Result<RingStatus> {
    let (obj, ring) = claim::open_ring(&RingName::new(name)?)?;
    let g = *ring.geometry();
    let slot_states = (0..u64::from(g.slot_count))
        .map(|i| match ring.slot_meta(i) {
            None => SlotState::Writing,
            Some((_, meta)) if meta.frame == 0 => SlotState::Empty,
            Some((_, meta)) => match check_meta(&meta, g.max_frame_bytes) {
                Err(reason) => SlotState::Corrupt { frame: meta.frame, reason },
                Ok(format) => SlotState::Frame {
                    frame: meta.frame,
                    publish_ns: meta.publish_ns,
                    width: meta.width,
                    height: meta.height,
                    format: Some(format),
                    len: meta.len,
                },
            },
        })
        .collect();
    Ok(RingStatus {
        name: name.to_owned(),
        producer: ProducerState::of(&obj, &ring)?,
        // Acquire pairs with the producer's Release store of `state`, after
        // which it wrote none of these.
        producer_pid: ring.producer_pid().load(Ordering::Acquire),
        generation: ring.generation().load(Ordering::Acquire),
        started_ns: ring.started_ns().load(Ordering::Acquire),
        // Acquire pairs with the producer's Release store of `published`.
        published: ring.published().load(Ordering::Acquire),
        slots: g.slot_count,
        max_frame_bytes: g.max_frame_bytes as usize,
        segment_size: g.segment_size,
        owner_uid: obj.owner(),
        owner_sid: obj.owner_sid(),
        mode: obj.occupant().mode,
        slot_states,
        huge_mapped: ring.huge_mapped(),
    })
}

/// Removes ring `name` from the namespace. Refused with
/// [`Error::ProducerExists`] while its producer is alive, unless `force`;
/// the check and the removal are one atomic step with respect to producers
/// starting or taking over (`docs/FORMAT.md` §5). Processes that have it
/// mapped keep their mapping; new consumers will not find it. A ring whose
/// header is unreadable can always be removed, and so can a symbolic link,
/// FIFO or socket left at a ring's name. With `force`, a live producer keeps
/// publishing into the removed object unaware, and its consumers see it
/// closed only when it stops.
pub fn remove(name: &str, force: bool) -> Result<()> {
    claim::remove(&RingName::new(name)?, force)
}

/// Removes every ring whose name starts with `prefix` and that has no live
/// producer: closed, dead, unreadable, or never completed and older than a
/// few seconds; also links, FIFOs and sockets at ring names, and the
/// private objects of producers that died while creating a ring. Returns
/// what it removed (ring names; private objects by their file name).
///
/// `prefix` may start with a directory (`/DIR/PREFIX`): then the rings in
/// `/DIR` are cleaned, and reported as `/DIR/NAME`; otherwise those in the
/// default directory.
pub fn clean(prefix: &str) -> Result<Vec<String>> {
    let (dir, base) = split_dir(prefix)?;
    let (given, prefix) = prefix.split_at(prefix.len() - base.len());
    let mut removed = Vec::new();
    for name in list_in(&dir)?.into_iter().filter(|n| n.starts_with(prefix)) {
        let name = format!("{given}{name}");
        let stale = match status(&name) {
            Ok(s) => s.producer != ProducerState::Alive,
            // Its creator may still be writing it.
            Err(Error::Layout(LayoutError::NotInitialized)) => false,
            // Unreadable or abandoned, or not a ring object at all.
            Err(Error::Layout(_) | Error::Occupied { .. }) => true,
            Err(_) => false,
        };
        // `remove` re-checks under the lock, so a producer that just took
        // the ring over is not removed.
        if stale && remove(&name, false).is_ok() {
            removed.push(name);
        }
    }
    removed.extend(claim::sweep_temps(&Dir::open(&dir)?, prefix)?);
    Ok(removed)
}
