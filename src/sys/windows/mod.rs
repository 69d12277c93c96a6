//! Windows's half of the platform seam (see `sys/mod.rs`): named kernel
//! objects in the session's `Local\` namespace instead of files in a
//! directory: pagefile-backed sections for the ring and its name record, a
//! named mutex for the producer's liveness, a named semaphore and a small
//! shared waiter count for wake-ups, `QueryPerformanceCounter` for the
//! clock; every call through windows-sys. `docs/FORMAT.md` §9 says how the
//! objects fit together.
//!
//! Everything here that owns an OS resource owns it through [`Handle`] or
//! a `Mapping`, so an early return never leaks one.

#[cfg(not(loom))]
pub(crate) mod claim;
pub(crate) mod clock;
pub(crate) mod futex;
#[cfg(not(loom))]
pub(crate) mod security;
#[cfg(not(loom))]
pub(crate) mod segment;

use windows_sys::Win32::Foundation::{CloseHandle, GetLastError, HANDLE};

/// [`Error::Os`](crate::Error::Os) for a failed call `op` that set Win32
/// error `code`.
pub(crate) fn os_error(op: &'static str, code: u32) -> crate::Error {
    crate::Error::Os { op, code: crate::OsError::from_raw(code as i32) }
}

/// The calling thread's last Win32 error (`GetLastError`).
pub(crate) fn last_error() -> u32 {
    // SAFETY: GetLastError only reads the calling thread's error slot.
    unsafe { GetLastError() }
}

/// Clears the calling thread's last Win32 error, before a `Create*` call
/// whose success is told apart from "opened an existing object" by
/// `ERROR_ALREADY_EXISTS` (a success need not reset it).
pub(crate) fn clear_last_error() {
    // SAFETY: SetLastError only writes the calling thread's error slot.
    unsafe { windows_sys::Win32::Foundation::SetLastError(0) };
}

/// `s` as a NUL-terminated UTF-16 string, for the `W` functions.
pub(crate) fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

/// An owned kernel-object handle, closed on drop.
#[derive(Debug)]
pub(crate) struct Handle(HANDLE);

// SAFETY: a kernel handle is a process-wide value, usable from any thread;
// the objects behind the handles used here (sections, mutexes, semaphores)
// are themselves safe to use concurrently.
unsafe impl Send for Handle {}
// SAFETY: as for Send; `&Handle` only hands out the raw value.
unsafe impl Sync for Handle {}

impl Handle {
    /// Takes ownership of `raw`, the result of a call that returns null on
    /// failure (the `Create*`/`Open*` object functions); `None` for null.
    pub(crate) fn new(raw: HANDLE) -> Option<Self> {
        // Not `then_some(Self(raw))`: that makes (and drops, closing a null
        // handle, which overwrites the last error) a Handle even for null.
        if raw.is_null() { None } else { Some(Self(raw)) }
    }

    /// The raw handle, for a call.
    pub(crate) fn raw(&self) -> HANDLE {
        self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: we own the handle (`new` took it from a creating call) and
        // nothing uses it after this.
        unsafe { CloseHandle(self.0) };
    }
}
