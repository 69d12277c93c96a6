//! The operating-system side of a ring: the POSIX shared-memory object, its
//! mapping, and the producer lock. Every call goes through rustix.
//!
//! Liveness rule (see `docs/FORMAT.md`): the producer holds an exclusive
//! `flock` on its file descriptor of the segment for as long as it lives; the
//! kernel drops the lock when the process dies, however it dies. Anyone can
//! probe the lock with a non-blocking shared `flock`.

use std::ptr::NonNull;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FlockOperation, Mode};
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};
use rustix::shm;

use crate::error::{Error, Result};
use crate::name::RingName;

/// Maps an errno from opening `name` to the crate's error.
pub(crate) fn open_error(name: &RingName, op: &'static str, errno: Errno) -> Error {
    match errno {
        Errno::NOENT => Error::NotFound { name: name.to_string() },
        Errno::ACCESS | Errno::PERM => Error::PermissionDenied { name: name.to_string() },
        errno => Error::Os { op, errno },
    }
}

/// Opens an existing segment read-only (consumers) or read-write.
pub(crate) fn open(name: &RingName, writable: bool) -> Result<OwnedFd> {
    let flags = if writable { shm::OFlags::RDWR } else { shm::OFlags::RDONLY };
    shm::open(name.shm_path(), flags, Mode::empty()).map_err(|e| open_error(name, "shm_open", e))
}

/// Creates a new segment, failing with `Ok(None)` if the name exists. The
/// mode is set with `fchmod` afterwards so the umask does not narrow it.
pub(crate) fn create_exclusive(name: &RingName, mode: u32) -> Result<Option<OwnedFd>> {
    let flags = shm::OFlags::RDWR | shm::OFlags::CREATE | shm::OFlags::EXCL;
    let mode = Mode::from_bits_truncate(mode);
    match shm::open(name.shm_path(), flags, mode) {
        Ok(fd) => {
            rustix::fs::fchmod(&fd, mode).map_err(|errno| Error::Os { op: "fchmod", errno })?;
            Ok(Some(fd))
        }
        Err(Errno::EXIST) => Ok(None),
        Err(e) => Err(open_error(name, "shm_open", e)),
    }
}

/// Removes the name. A name already gone is not an error.
pub(crate) fn unlink(name: &RingName) -> Result<()> {
    match shm::unlink(name.shm_path()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(open_error(name, "shm_unlink", e)),
    }
}

/// The identity of the object behind a descriptor: (device, inode, size).
pub(crate) fn identity(fd: impl AsFd) -> Result<(u64, u64, u64)> {
    let st = rustix::fs::fstat(fd).map_err(|errno| Error::Os { op: "fstat", errno })?;
    // st_size is never negative for a shared-memory object.
    Ok((st.st_dev, st.st_ino, u64::try_from(st.st_size).unwrap_or(0)))
}

/// True if `name` currently refers to the same object as `fd`.
pub(crate) fn still_named(name: &RingName, fd: impl AsFd) -> Result<bool> {
    let now = match open(name, false) {
        Ok(fd) => fd,
        Err(Error::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    let (d1, i1, _) = identity(fd)?;
    let (d2, i2, _) = identity(now)?;
    Ok((d1, i1) == (d2, i2))
}

/// Tries to take the producer lock without blocking.
pub(crate) fn try_lock_exclusive(fd: impl AsFd) -> Result<bool> {
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(Errno::WOULDBLOCK) => Ok(false),
        Err(errno) => Err(Error::Os { op: "flock", errno }),
    }
}

/// True if some process holds the producer lock on this object. Probes with
/// a shared lock that is released at once; a producer taking over at that
/// instant retries (see `Producer::create`).
pub(crate) fn producer_alive(fd: impl AsFd) -> Result<bool> {
    let fd = fd.as_fd();
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            rustix::fs::flock(fd, FlockOperation::Unlock).map_err(|errno| Error::Os { op: "flock", errno })?;
            Ok(false)
        }
        Err(Errno::WOULDBLOCK) => Ok(true),
        Err(errno) => Err(Error::Os { op: "flock", errno }),
    }
}

/// Sets the object's length.
pub(crate) fn set_len(fd: impl AsFd, len: u64) -> Result<()> {
    rustix::fs::ftruncate(fd, len).map_err(|errno| Error::Os { op: "ftruncate", errno })
}

/// A shared mapping of a whole segment, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mapping is an address range; all access to the memory behind it
// goes through raw pointers and atomics whose soundness is argued where they
// are used, independent of which thread holds the Mapping.
unsafe impl Send for Mapping {}
// SAFETY: as for Send; &Mapping only hands out the base address and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, read-write or read-only.
    pub(crate) fn new(fd: impl AsFd, len: u64, writable: bool) -> Result<Self> {
        let len = usize::try_from(len).map_err(|_| Error::Os { op: "mmap", errno: Errno::NOMEM })?;
        if len == 0 {
            return Err(Error::Os { op: "mmap", errno: Errno::INVAL });
        }
        let prot = if writable { ProtFlags::READ | ProtFlags::WRITE } else { ProtFlags::READ };
        // SAFETY: a fresh mapping at an address the kernel chooses (null
        // hint, no MAP_FIXED) cannot alias any existing Rust object.
        let ptr = unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }
            .map_err(|errno| Error::Os { op: "mmap", errno })?;
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(Error::Os { op: "mmap", errno: Errno::INVAL })?;
        Ok(Self { ptr, len })
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

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned, and every pointer
        // into the mapping is derived from a borrow of the owning Ring, so
        // none outlives this drop.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The producer pid recorded in the header, read with `pread` for an error
/// message; 0 if it cannot be read.
pub(crate) fn read_pid(fd: impl AsFd) -> u32 {
    let offset = (std::mem::offset_of!(crate::layout::Header, control)
        + std::mem::offset_of!(crate::layout::Control, producer_pid)) as u64;
    let mut bytes = [0u8; 4];
    match rustix::io::pread(fd, &mut bytes, offset) {
        Ok(4) => u32::from_le_bytes(bytes),
        _ => 0,
    }
}
