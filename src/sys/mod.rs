//! The platform seam: everything that asks the operating system for
//! something. The ring protocol (layout, seqlock, reader, ring, format,
//! convert, test pattern) is the same on every OS and calls only what each
//! OS's half provides here, under the same names:
//!
//! - `clock`: `monotonic_ns` (the clock of every timestamp in a ring) and,
//!   for the Redis bridge, `unix_ns`.
//! - `futex`: `wait` on a ring's `notify` word and `wake_all` its waiters,
//!   across processes.
//! - `segment`: the ring's memory and the objects behind it: `Mapping` (a
//!   shared mapping, read-write or read-only), `Object` (an open ring
//!   object: its producer's liveness, its owner, whether two opens are the
//!   same object), `Arrivals` (waking a consumer when a ring appears),
//!   `Dir` (a ring directory, for listing), `euid` (the user, as a uid) and
//!   `HUGE_PAGE`; on Linux also `ring_path` (for `/proc` matching).
//! - `claim`: how a ring's name changes hands: `open_ring` (a consumer's
//!   open and validation), `claim` (a producer's create or takeover, which
//!   gives a `Hold` that `release`s the name at close), `remove` and
//!   `sweep_temps` (an operator's `rm` and `clean`).
//!
//! Each OS's half of these lives in `sys/<os>/` in files of the same names,
//! so a maintainer finds both halves of a concept side by side: Linux
//! (`docs/FORMAT.md` §1 and §5) and Windows (§9). The README says what a
//! macOS port needs.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
