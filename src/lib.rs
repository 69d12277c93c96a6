//! Video frames between processes on one machine, through shared memory.
//!
//! **Guarantees.** A reader never returns a torn frame (pixels of one frame
//! under another's metadata). The one producer never waits for, or is slowed
//! by, readers. Readers map the ring read-only and cannot corrupt it. A reader
//! sleeps on a shared futex until a frame arrives (no polling), and can tell
//! a dead producer from a quiet one. Corrupt or hostile segment bytes give a
//! typed [`Error`], never a panic or an out-of-bounds read.
//!
//! A ring is a POSIX shared-memory object `/framering.NAME` holding a fixed
//! `#[repr(C)]` header and `N` slots, each guarded by a seqlock. The byte
//! layout and the protocols are specified in `docs/FORMAT.md`.
//!
//! ```
//! use std::time::Duration;
//! use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig};
//! # let name = format!("doc-lib-{}", std::process::id());
//!
//! // Producer process.
//! let mut tx = Producer::create(&name, RingConfig::new(4, 640 * 480 * 3))?;
//! let mut frame = tx.loan(FrameInfo::new(640, 480, PixelFormat::Bgr24))?;
//! frame.pixels_mut().fill(0x40); // write pixels straight into shared memory
//! frame.publish()?;
//!
//! // Consumer process (any number of them).
//! let mut rx = Consumer::open(&name)?;
//! let mut buf = FrameBuf::new(); // reused: no allocation per frame
//! let meta = rx.wait_latest(&mut buf, Duration::from_millis(500))?;
//! assert_eq!((meta.width, meta.height, buf.len()), (640, 480, 640 * 480 * 3));
//! # Ok::<(), framering::Error>(())
//! ```
//!
//! Linux only: the protection against other users in the shared `/dev/shm`
//! (see `docs/FORMAT.md` §1 and §5) rests on open-file-description locks and
//! `renameat2`, and readers sleep on a shared futex.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]
#![warn(clippy::unnecessary_safety_comment)]

#[cfg(not(target_os = "linux"))]
compile_error!("framering needs Linux (open-file-description locks, renameat2, /dev/shm, futex)");

pub mod admin;
#[cfg(feature = "redis")]
pub mod bridge;
mod buf;
mod claim;
mod clock;
mod consumer;
pub mod convert;
mod error;
mod format;
mod futex;
pub mod layout;
mod name;
mod producer;
mod ring;
mod segment;
mod seqlock;
pub mod testpattern;

pub use buf::FrameBuf;
pub use clock::monotonic_ns;
pub use consumer::{Consumer, FrameMeta, ProducerState};
pub use error::{Error, LayoutError, ObjectKind, Occupant, Result};
pub use format::{FrameInfo, MAX_DIMENSION, PixelFormat, Plane, Planes};
pub use name::{MAX_NAME_LEN, RingName, SHM_PREFIX};
pub use producer::{Loan, Producer, RingConfig};
