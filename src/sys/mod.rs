//! The platform seam: everything that asks the operating system for
//! something. The ring protocol (layout, seqlock, reader, ring, format,
//! convert, test pattern) is the same on every OS and calls only what each
//! OS's half provides here, under the same names:
//!
//! - `clock`: `monotonic_ns` (the clock of every timestamp in a ring) and,
//!   for the Redis bridge, `unix_ns`.
//! - `futex`: a `Waker` that sleeps on a ring's `notify` word (`wait`) and
//!   wakes its sleepers (`wake_all`), across processes (Linux: the word is
//!   the futex; Windows: a semaphore and a shared sleeper count).
//! - `segment`: the ring's memory and the objects behind it: `Mapping` (a
//!   shared mapping, read-write or read-only, dereferencing to the
//!   [`View`] defined here), `Object` (an open ring
//!   object: its producer's liveness, its owner, whether two opens are the
//!   same object), `Arrivals` (waking a consumer when a ring appears),
//!   `Dir` (a ring directory, for listing), `euid` (the user, as a uid) and
//!   `HUGE_PAGE`; on Linux also `ring_path` (for `/proc` matching).
//! - `claim`: how a ring's name changes hands: `open_ring` (a consumer's
//!   open and validation), `claim` (a producer's create or takeover, which
//!   gives the [`Claimed`] defined here, whose `Hold` `release`s the name
//!   at close), `remove` and
//!   `sweep_temps` (an operator's `rm` and `clean`).
//!
//! Besides them, each OS's half has an `os_error(op, code)` making
//! [`Error::Os`](crate::Error::Os) from its native error code. Each OS's
//! half of these lives in `sys/<os>/` in files of the same names,
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

/// Where a shared mapping lies in this process: its first byte (page
/// aligned), its length, and whether it may be written. Each OS's
/// `segment::Mapping` holds one (and dereferences to it), and unmaps it on
/// drop.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct View {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: a View is an address range; all access to the memory behind it
// goes through raw pointers and atomics whose soundness is argued where they
// are used, independent of which thread holds the View.
#[cfg(not(loom))]
unsafe impl Send for View {}
// SAFETY: as for Send; &View only hands out the base address and length.
#[cfg(not(loom))]
unsafe impl Sync for View {}

#[cfg(not(loom))]
impl View {
    /// The range `len` bytes from `ptr`, as a mapping call returned it.
    pub(crate) fn new(ptr: std::ptr::NonNull<u8>, len: usize, writable: bool) -> Self {
        Self { ptr, len, writable }
    }

    /// Whether the mapping is read-write.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// The first byte of the mapping (page aligned).
    pub(crate) fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapping's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// A ring this process now owns as its producer (what each OS's
/// `claim::claim` gives): the hold on its name, the validated mapping, and
/// the next frame number.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) hold: claim::Hold,
    pub(crate) ring: crate::ring::RingWriter,
    pub(crate) next: u64,
}
