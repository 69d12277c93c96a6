//! The crate's error types.

use std::fmt;

/// Why a segment's header was rejected when a consumer (or a producer taking
/// over a stale ring) opened it.
///
/// Every variant means the bytes in the segment are not a ring this version
/// can read; none of them is ever a panic or an out-of-bounds read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayoutError {
    /// The segment is shorter than the header or than the size its header
    /// claims.
    TooShort {
        /// The segment's real length in bytes.
        len: u64,
        /// The length that would be needed.
        needed: u64,
    },
    /// The producer has created the segment but not finished writing its
    /// header yet. Transient: opening again shortly will succeed.
    NotInitialized,
    /// The header was never completed (the object is empty, or `state` is
    /// still 0), no producer holds the object, and it has not changed for
    /// this many seconds: its creator died while creating it. Transient: the
    /// next producer on the name replaces it, and `clean` removes it.
    Abandoned {
        /// Seconds since the object last changed.
        age_secs: u64,
    },
    /// The first eight bytes are not the framering magic.
    BadMagic {
        /// The bytes found.
        found: [u8; 8],
    },
    /// The segment was written by another format version.
    UnsupportedVersion {
        /// The version in the segment.
        found: u32,
        /// The version this crate reads.
        supported: u32,
    },
    /// A header field holds a value that is out of range or inconsistent
    /// with the others.
    BadField {
        /// The field's name as in `docs/FORMAT.md`.
        field: &'static str,
        /// The value found.
        value: u64,
        /// What was expected.
        expected: &'static str,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len, needed } => {
                write!(f, "segment is {len} bytes, at least {needed} needed")
            }
            Self::NotInitialized => f.write_str("segment is still being initialized by its producer"),
            Self::Abandoned { age_secs } => write!(
                f,
                "segment was never completed and no producer holds it (abandoned for {age_secs} s; the next producer replaces it)"
            ),
            Self::BadMagic { found } => write!(f, "not a framering segment (magic {found:02x?})"),
            Self::UnsupportedVersion { found, supported } => {
                write!(f, "segment has format version {found}, this build reads version {supported}")
            }
            Self::BadField { field, value, expected } => {
                write!(f, "header field `{field}` is {value}, expected {expected}")
            }
        }
    }
}

impl std::error::Error for LayoutError {}

/// The kind of file-system object found at a ring's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A regular file (what a ring is).
    File,
    /// A symbolic link (never followed).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A directory.
    Directory,
    /// A character or block device.
    Device,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::File => "a regular file",
            Self::Symlink => "a symbolic link",
            Self::Fifo => "a FIFO",
            Self::Socket => "a socket",
            Self::Directory => "a directory",
            Self::Device => "a device node",
        })
    }
}

/// What occupies a ring's name, and who owns it: carried by
/// [`Error::Occupied`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occupant {
    /// The object's type.
    pub kind: ObjectKind,
    /// Its owner's user id.
    pub uid: u32,
    /// Its permission bits.
    pub mode: u32,
}

impl fmt::Display for Occupant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} owned by uid {} (mode {:04o})", self.kind, self.uid, self.mode)
    }
}

/// Everything that can go wrong in framering.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The ring name is not usable; see [`crate::RingName`] for the rules.
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A [`crate::RingConfig`] value is out of range.
    InvalidConfig {
        /// The setting's name.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The accepted range.
        expected: &'static str,
    },
    /// A [`crate::FrameInfo`] describes an impossible frame (zero or huge
    /// dimensions, a stride shorter than a row, a size that overflows).
    InvalidFrame {
        /// What is wrong.
        reason: &'static str,
    },
    /// The frame does not fit in a slot of this ring.
    FrameTooLarge {
        /// The frame's payload length in bytes.
        len: u64,
        /// The ring's slot capacity in bytes.
        capacity: u64,
    },
    /// No ring of this name exists.
    NotFound {
        /// The ring name.
        name: String,
    },
    /// The directory a producer would create the ring in does not exist
    /// (or is not a directory): see [`crate::RingName`] for where rings
    /// live.
    NoDirectory {
        /// The directory.
        dir: std::path::PathBuf,
    },
    /// The ring directory's path has a symbolic link in it: framering does
    /// not follow links in a ring's directory part (another user could
    /// swap them between two steps); name the real directory.
    LinkedDirectory {
        /// The directory as given.
        dir: std::path::PathBuf,
        /// The part of it that is a link.
        link: std::path::PathBuf,
    },
    /// The file system holding the ring has no room for it: a producer
    /// reserves a ring's memory before the ring gets its name, so this is
    /// reported instead of a crash (SIGBUS) at the first frame, and nothing
    /// is left behind.
    NoSpace {
        /// The ring directory.
        dir: std::path::PathBuf,
        /// The bytes the ring needs.
        needed: u64,
        /// The bytes the file system said were free.
        free: u64,
    },
    /// The ring exists but this process may not open it.
    PermissionDenied {
        /// The ring name.
        name: String,
    },
    /// Another live producer owns this ring.
    ProducerExists {
        /// The ring name.
        name: String,
        /// The owner's process id as recorded in the header (0 if unknown).
        pid: u32,
    },
    /// The ring's name holds something this process must not use as its
    /// ring: a FIFO, a symbolic link or another non-file (never opened in a
    /// way that could block or follow it), or — for a producer — another
    /// user's object it may not take over or replace.
    Occupied {
        /// The ring name.
        name: String,
        /// What is there and who owns it.
        occupant: Occupant,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The segment's header is not a ring this version can read.
    Layout(LayoutError),
    /// A slot holds frame metadata that cannot be valid even though the
    /// slot was not being written: the segment is corrupt or hostile.
    CorruptFrame {
        /// The frame number the reader expected.
        frame: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The producer overwrote the slot being read this many times in a row;
    /// the ring needs more slots for this reader's speed.
    Lapped {
        /// How many reads were attempted.
        attempts: u32,
    },
    /// No new frame arrived before the timeout.
    Timeout,
    /// The producer closed the ring (it exited cleanly) and no new producer
    /// has appeared yet. Calling a wait again keeps waiting for one. For a
    /// [`crate::Producer`]: it was shut down, and publishes no more.
    Closed,
    /// The producer died without closing the ring and no new producer has
    /// taken over yet. Calling a wait again keeps waiting for one.
    ProducerDead,
    /// An operating-system call failed.
    Os {
        /// The operation that failed.
        op: &'static str,
        /// The OS error.
        code: OsError,
    },
}

impl Error {
    /// True for errors that go away by themselves: the ring does not exist
    /// yet, is being initialized, or has no live producer at the moment.
    /// Consumers that should wait for a producer retry on these.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. }
                | Self::Layout(LayoutError::NotInitialized | LayoutError::Abandoned { .. })
                | Self::Timeout
                | Self::Closed
                | Self::ProducerDead
                | Self::Lapped { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName { name, reason } => write!(f, "invalid ring name {name:?}: {reason}"),
            Self::InvalidConfig { field, value, expected } => {
                write!(f, "invalid ring config: {field} = {value}, expected {expected}")
            }
            Self::InvalidFrame { reason } => write!(f, "invalid frame description: {reason}"),
            Self::FrameTooLarge { len, capacity } => {
                write!(f, "frame of {len} bytes does not fit in a {capacity}-byte slot")
            }
            Self::NotFound { name } => write!(f, "no ring named {name:?}"),
            Self::NoDirectory { dir } => write!(
                f,
                "the ring directory {} does not exist or is not a directory (rings live in /dev/shm, in FRAMERING_DIR if set, or in DIR of a DIR/NAME name)",
                dir.display()
            ),
            Self::LinkedDirectory { dir, link } => write!(
                f,
                "the ring directory {} has a symbolic link in its path ({}): framering does not follow links there; name the real directory",
                dir.display(),
                link.display()
            ),
            Self::NoSpace { needed, .. } if cfg!(windows) => write!(
                f,
                "no room for the ring: it needs {needed} bytes ({:.1} MiB) of the system's commit limit (memory plus page file), which is used up; use fewer or smaller slots, or a larger page file",
                *needed as f64 / 1048576.0
            ),
            Self::NoSpace { dir, needed, free } => write!(
                f,
                "no room for the ring in {}: it needs {needed} bytes ({:.1} MiB), {free} are free ({:.1} MiB); use fewer or smaller slots, or a larger shared-memory file system (its size= mount option; for a Docker container, --shm-size)",
                dir.display(),
                *needed as f64 / 1048576.0,
                *free as f64 / 1048576.0
            ),
            Self::PermissionDenied { name } => write!(f, "permission denied opening ring {name:?}"),
            Self::ProducerExists { name, pid } => {
                write!(f, "ring {name:?} already has a live producer (pid {pid})")
            }
            Self::Occupied { name, occupant, reason } => {
                write!(f, "ring name {name:?} is taken by {occupant}: {reason}")
            }
            Self::Layout(e) => write!(f, "unreadable ring segment: {e}"),
            Self::CorruptFrame { frame, reason } => {
                write!(f, "corrupt slot while reading frame {frame}: {reason}")
            }
            Self::Lapped { attempts } => {
                write!(f, "the producer overwrote the frame being read {attempts} times in a row; use more slots")
            }
            Self::Timeout => f.write_str("timed out waiting for a frame"),
            Self::Closed => f.write_str("the producer closed the ring"),
            Self::ProducerDead => f.write_str("the producer died"),
            Self::Os { op, code } => write!(f, "{op} failed: {code}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Layout(e) => Some(e),
            Self::Os { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<LayoutError> for Error {
    fn from(e: LayoutError) -> Self {
        Self::Layout(e)
    }
}

/// An operating system's error code: an `errno` value on Linux, a Win32
/// error code (`GetLastError`) on Windows. It prints as the OS describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OsError(i32);

impl OsError {
    /// The error with this raw code (an `errno`, or a Win32 error code).
    pub const fn from_raw(code: i32) -> Self {
        Self(code)
    }

    /// The raw code, as [`std::io::Error::raw_os_error`] gives it.
    pub const fn raw_os_error(self) -> i32 {
        self.0
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&std::io::Error::from_raw_os_error(self.0), f)
    }
}

impl std::error::Error for OsError {}

impl From<OsError> for std::io::Error {
    fn from(e: OsError) -> Self {
        Self::from_raw_os_error(e.0)
    }
}

/// Shorthand for `Result<T, framering::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
