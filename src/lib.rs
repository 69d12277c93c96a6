//! Video frames between processes on one machine, through shared memory.
//!
//! **Guarantees.** A reader never returns a torn frame (pixels of one frame
//! under another's metadata). The one producer never waits for, or is slowed
//! by, readers. Readers map the ring read-only and cannot corrupt it. A reader
//! sleeps on a shared futex until a frame arrives (no polling), and can tell
//! a dead producer from a quiet one. Corrupt or hostile segment bytes, and
//! hostile objects in `/dev/shm`, give a typed [`Error`], never a panic, a
//! hang or an out-of-bounds read.
//!
//! A ring is the file `/dev/shm/framering.NAME` (on Windows, the section
//! `Local\framering.NAME#I`) holding a fixed `#[repr(C)]`
//! header and `N` slots, each guarded by a seqlock. The byte layout and the
//! protocols are specified in `docs/FORMAT.md` (in the crate's source),
//! exactly enough to write a reader or producer in another language.
//!
//! # Producing and consuming
//!
//! ```
//! use std::time::Duration;
//! use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig};
//! let name = format!("doc-lib-{}", std::process::id()); // e.g. "cam0"
//!
//! // Producer process: zero-copy (loan, write, commit) …
//! let mut tx = Producer::create(&name, RingConfig::new(4, 640 * 480 * 3))?;
//! let info = FrameInfo::new(640, 480, PixelFormat::Bgr24);
//! let mut frame = tx.loan(info)?;
//! frame.pixels_mut().fill(0x40); // write pixels straight into shared memory
//! frame.commit()?;
//! // … or one copy from your own buffer.
//! tx.publish(info, &vec![0x80; 640 * 480 * 3])?;
//!
//! // Consumer process (any number of them).
//! let mut rx = Consumer::open(&name)?;
//! let mut buf = FrameBuf::new(); // reused: no allocation per frame
//! let meta = rx.wait_latest(&mut buf, Duration::from_millis(500))?; // newest frame
//! assert_eq!((meta.frame, meta.info.width, buf.len()), (2, 640, 640 * 480 * 3));
//! # Ok::<(), framering::Error>(())
//! ```
//!
//! Readers choose per call: `wait_latest`/`try_latest` return the newest frame
//! (viewers), `wait_next`/`try_next` every frame in order while the ring holds
//! it, with skipped ones counted in [`FrameMeta::dropped`] (recorders). The
//! `wait_*` calls sleep on the futex; `try_*` never block (spin on them for
//! the lowest latency).
//!
//! Each read also comes as `*_with(f)`: instead of copying the frame into a
//! [`FrameBuf`], it runs `f` on the frame where it lies in the slot, through a
//! [`FrameView`] that only copies bytes out (say, a row at a time into a
//! conversion), and returns what `f` made of it — discarded and retried if the
//! producer rewrote the slot meanwhile, so it is never built from a torn
//! frame.
//!
//! ```
//! use framering::{Consumer, FrameInfo, PixelFormat, Producer, RingConfig};
//! let name = format!("doc-lib-with-{}", std::process::id()); // e.g. "cam0"
//! let mut tx = Producer::create(&name, RingConfig::new(2, 8 * 2))?;
//! tx.publish(FrameInfo::new(8, 2, PixelFormat::Gray8), &[200; 16])?;
//!
//! let mut rx = Consumer::open(&name)?;
//! // The mean of the top row, without copying the frame.
//! let (meta, mean) = rx.wait_latest_with(std::time::Duration::from_secs(1), |view| {
//!     let mut row = [0u8; 8];
//!     view.copy_to(0, &mut row);
//!     row.iter().map(|&v| u32::from(v)).sum::<u32>() / 8
//! })?;
//! assert_eq!((meta.frame, mean), (1, 200));
//! # Ok::<(), framering::Error>(())
//! ```
//!
//! # A reader that survives producers coming and going
//!
//! [`Consumer::new`] may be made before any producer exists. Errors that go
//! away by themselves are [`Error::is_transient`]: keep reading through them.
//!
//! ```no_run
//! use std::time::Duration;
//! use framering::{Consumer, Error, FrameBuf};
//! let mut rx = Consumer::new("cam0")?;
//! let mut buf = FrameBuf::new();
//! loop {
//!     match rx.wait_latest(&mut buf, Duration::from_secs(1)) {
//!         Ok(meta) => println!("frame {} {}x{}", meta.frame, meta.info.width, meta.info.height),
//!         Err(Error::Closed | Error::ProducerDead) => eprintln!("producer gone; waiting for the next"),
//!         Err(e) if e.is_transient() => {} // no frame yet, no ring yet, lapped
//!         Err(e) => return Err(e),
//!     }
//! }
//! # Ok::<(), framering::Error>(())
//! ```
//!
//! # Modules
//!
//! - the crate root: [`Producer`], [`Loan`], [`Consumer`], [`FrameInfo`] and
//!   [`Planes`] (where each plane of a frame lies), [`PixelFormat`],
//!   [`FrameBuf`], [`Error`].
//! - [`admin`]: list, inspect, remove and clean rings (what the `framering`
//!   command is built on).
//! - `convert` (feature `convert`, on by default): any pixel format to 0RGB
//!   for display, and to planar YUV.
//! - [`layout`]: the segment's bytes as `#[repr(C)]` types, pinned to
//!   `docs/FORMAT.md`.
//! - [`testpattern`]: a moving test image whose every frame carries its
//!   number and can be verified byte for byte (the examples use it when
//!   there is no camera, and to count torn frames), plus a smooth image for
//!   checking lossy round trips.
//! - `bridge` (feature `redis`): rings to and from Redis streams across
//!   machines.
//!
//! # Cargo features
//!
//! - `cli` (on by default): the `framering` command and what only it needs
//!   (clap, serde_json); an embedding program takes `default-features = false`.
//! - `convert` (on by default): the `convert` module and its one
//!   dependency, `yuv` (SIMD). Moving frames needs none of it.
//!
//! The others are off by default; each needs system libraries (see the
//! README's Dependencies).
//! - `jpeg`: MJPEG decoding in `convert` (turbojpeg; implies `convert`).
//! - `v4l`: V4L2 camera capture in the producer example (implies `jpeg`).
//! - `redis`: the `bridge` module and `framering bridge` (implies `jpeg`).
//!
//! # Beyond the library
//!
//! - The `framering` command: `ls`, `info NAME`, `watch NAME`, `rm NAME`,
//!   `clean [PREFIX]` and `bridge out|in RING` (feature `redis`); `--json` on
//!   every one. `cargo run --bin framering -- help`.
//! - The examples: `cargo run --release --example producer` (a V4L2 camera
//!   with feature `v4l`, else a moving test pattern) and `--example consumer`
//!   (a window, or `-- --headless`).
//! - A Python package in the repository's `python/` folder (`pip install
//!   ./python`): numpy frames in and out of the same rings.
//!
//! The README describes all three; the repository's `docs/` has the details.
//!
//! Linux and Windows. On Linux the protection against other users in the
//! shared `/dev/shm` (see `docs/FORMAT.md` §1 and §5) rests on
//! open-file-description locks and `renameat2`, and readers sleep on a shared
//! futex. On Windows a ring is a set of named kernel objects in the session's
//! `Local\` namespace: a section with the same bytes, a name record, a
//! producer mutex and a semaphore (`docs/FORMAT.md` §9); ring directories
//! (`FRAMERING_DIR`) and consumer counts are Linux's only.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]
#![warn(clippy::unnecessary_safety_comment)]
// A loom build compiles only the protocol core, for its test models.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

#[cfg(not(any(target_os = "linux", windows)))]
compile_error!("framering runs on Linux and Windows; the README says what a port to another OS needs");

// Under `--cfg loom` only the protocol core is built (on a heap ring), for
// the model checker: see src/loom_models.rs.
#[cfg(not(loom))]
pub mod admin;
#[cfg(all(feature = "redis", not(loom)))]
pub mod bridge;
mod buf;
#[cfg(not(loom))]
mod consumer;
#[cfg(feature = "convert")]
pub mod convert;
mod error;
mod format;
#[cfg(loom)]
mod heap;
#[cfg(all(feature = "jpeg", not(loom)))]
pub mod jpeg;
#[cfg(feature = "convert")]
mod kernels;
pub mod layout;
#[cfg(all(test, loom))]
mod loom_models;
mod name;
#[cfg(not(loom))]
mod producer;
mod reader;
mod ring;
mod seqlock;
mod sync;
mod sys;
pub mod testpattern;

pub use buf::FrameBuf;
#[cfg(not(loom))]
pub use consumer::{Consumer, ProducerState};
pub use error::{Error, LayoutError, ObjectKind, Occupant, OsError, Result};
pub use format::{FrameInfo, MAX_DIMENSION, PixelFormat, Plane, Planes, Subsampling};
pub use name::{DEFAULT_DIR, DIR_ENV, MAX_NAME_LEN, RingName, SHM_PREFIX, default_ring_dir};
#[cfg(not(loom))]
pub use producer::{Loan, Producer, RingConfig};
pub use reader::FrameMeta;
pub use seqlock::FrameView;
pub use sys::clock::monotonic_ns;
