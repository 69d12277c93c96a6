//! Linux's half of the platform seam (see `sys/mod.rs`): objects in a
//! shared-memory directory (`/dev/shm`), open-file-description locks for
//! liveness, `renameat2` for the name protocol, a shared futex for
//! wake-ups, `CLOCK_MONOTONIC`; every call through rustix (the OFD locks
//! through libc).

#[cfg(not(loom))]
pub(crate) mod claim;
pub(crate) mod clock;
pub(crate) mod futex;
#[cfg(not(loom))]
pub(crate) mod segment;

/// [`Error::Os`](crate::Error::Os) for a failed call `op` that returned `errno`.
pub(crate) fn os_error(op: &'static str, errno: rustix::io::Errno) -> crate::Error {
    crate::Error::Os { op, code: crate::OsError::from_raw(errno.raw_os_error()) }
}
