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
//!   `Dir` (a ring directory, for listing), `ring_path` and `HUGE_PAGE`.
//! - `claim`: how a ring's name changes hands: `open_ring` (a consumer's
//!   open and validation), `claim` (a producer's create or takeover, which
//!   gives a `Hold` that `release`s the name at close), `remove` and
//!   `sweep_temps` (an operator's `rm` and `clean`).
//!
//! Each OS's half of these lives in `sys/<os>/` in files of the same names,
//! so a maintainer finds both halves of a concept side by side. Only Linux
//! is implemented today (`docs/FORMAT.md` §1 and §5 say how it works); the
//! README says what a port needs.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
