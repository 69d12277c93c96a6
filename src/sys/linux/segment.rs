//! The operating-system side of a ring: the object in the shared-memory
//! directory, its mapping, the producer's liveness lock, and the namespace
//! operations the name protocol (`claim.rs`) is built from. Every call goes
//! through rustix, except the open-file-description locks (libc).
//!
//! `/dev/shm` is shared by every user and process on the machine, so every
//! open here is `O_NOFOLLOW | O_NONBLOCK`: a symbolic link at a ring's name
//! is never followed and a FIFO never blocks the caller; the type is checked
//! with `fstat` right after, and anything but a regular file is
//! [`Error::Occupied`].
//!
//! Liveness rule (see `docs/FORMAT.md` §5): the producer holds an
//! open-file-description *write* lock over the whole object for as long as
//! it lives; the kernel drops it when the last descriptor of that open file
//! description closes, which happens when the process dies, however it dies.
//! Taking a write lock needs a descriptor opened for writing, so a user who
//! may only read the ring cannot fake a live producer. Anyone can probe the
//! lock with `F_OFD_GETLK` without taking one; only a conflicting *write*
//! lock counts as a live producer.

use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::Duration;

use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::{AtFlags, FallocateFlags, FileType, FlockOperation, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use rustix::mm::{Advice, MapFlags, ProtFlags};

use crate::error::{Error, ObjectKind, Occupant, Result};
use crate::name::RingName;
use crate::sys::{View, os_error};

/// What `fstat`/`lstat` said about an object, copied out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// How many directory entries name it.
    pub(crate) nlink: u64,
    pub(crate) size: u64,
    pub(crate) kind: ObjectKind,
    pub(crate) uid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub(crate) mode: u32,
    /// Seconds since the epoch of the last change of contents.
    pub(crate) mtime: i64,
}

impl Stat {
    fn new(st: &rustix::fs::Stat) -> Self {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => ObjectKind::File,
            FileType::Symlink => ObjectKind::Symlink,
            FileType::Fifo => ObjectKind::Fifo,
            FileType::Socket => ObjectKind::Socket,
            FileType::Directory => ObjectKind::Directory,
            _ => ObjectKind::Device,
        };
        Self {
            dev: st.st_dev,
            ino: st.st_ino,
            #[allow(clippy::unnecessary_cast, clippy::useless_conversion)] // u32 on some targets
            nlink: st.st_nlink as u64,
            // st_size is never negative for the objects we look at.
            size: u64::try_from(st.st_size).unwrap_or(0),
            kind,
            uid: st.st_uid,
            mode: st.st_mode & 0o7777,
            mtime: st.st_mtime,
        }
    }

    /// (device, inode): what makes two opens the same object.
    pub(crate) fn identity(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }

    /// What to tell a user about the object.
    pub(crate) fn occupant(&self) -> Occupant {
        Occupant { kind: self.kind, uid: self.uid, mode: self.mode }
    }

    /// Seconds since the object's contents last changed (0 if in the future).
    pub(crate) fn age_secs(&self) -> u64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        now.saturating_sub(u64::try_from(self.mtime).unwrap_or(0))
    }
}

/// An open object in the shared-memory directory, known to be a regular
/// file, with what `fstat` said right after opening it.
#[derive(Debug)]
pub(crate) struct Object {
    pub(crate) fd: OwnedFd,
    pub(crate) stat: Stat,
}

impl Object {
    /// True if a live producer holds the object's liveness lock.
    pub(crate) fn producer_alive(&self) -> Result<bool> {
        producer_alive(&self.fd)
    }

    /// Whether `other` is an open of the same object.
    pub(crate) fn is(&self, other: &Object) -> bool {
        self.stat.identity() == other.stat.identity()
    }

    /// The object's owner (a user id).
    pub(crate) fn owner(&self) -> u32 {
        self.stat.uid
    }

    /// The owner's SID: Windows only.
    pub(crate) fn owner_sid(&self) -> Option<String> {
        None
    }

    /// What to tell a user about the object.
    pub(crate) fn occupant(&self) -> Occupant {
        self.stat.occupant()
    }
}

/// The path of ring `name`'s object (for messages and `/proc` matching;
/// every operation goes through the ring's [`Dir`]).
pub(crate) fn ring_path(name: &RingName) -> PathBuf {
    name.dir().join(name.file_name())
}

fn os(op: &'static str) -> impl Fn(Errno) -> Error {
    move |errno| os_error(op, errno)
}

/// A ring directory, opened once: every lookup, create, rename and unlink
/// of a ring works relative to this descriptor, so a directory moved or
/// swapped for a link after it was opened changes nothing, and a producer
/// removes its name from the directory it created it in. Opening walks the
/// path one component at a time without following links (`O_NOFOLLOW` on
/// each), so a link anywhere in the directory part is refused with
/// [`Error::LinkedDirectory`] instead of being followed.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens directory `path` (absolute; [`RingName`] makes sure of that).
    pub(crate) fn open(path: &Path) -> Result<Self> {
        use std::path::Component;
        let missing = || Error::NoDirectory { dir: path.to_owned() };
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut fd = rustix::fs::open("/", flags, Mode::empty()).map_err(os("open /"))?;
        let mut walked = PathBuf::from("/");
        for component in path.components() {
            let part = match component {
                Component::RootDir | Component::CurDir => continue,
                Component::ParentDir => "..".as_ref(),
                Component::Normal(part) => part,
                Component::Prefix(_) => return Err(missing()),
            };
            walked.push(part);
            fd = match rustix::fs::openat(&fd, part, flags, Mode::empty()) {
                Ok(next) => next,
                // ENOTDIR: a file, or (with O_NOFOLLOW) a link; tell which.
                Err(Errno::NOTDIR | Errno::LOOP) => {
                    return match rustix::fs::statat(&fd, part, AtFlags::SYMLINK_NOFOLLOW).map(|st| Stat::new(&st).kind)
                    {
                        Ok(ObjectKind::Symlink) => Err(Error::LinkedDirectory { dir: path.to_owned(), link: walked }),
                        _ => Err(missing()),
                    };
                }
                Err(Errno::NOENT) => return Err(missing()),
                Err(errno) => return Err(os_error("open the ring directory", errno)),
            };
            // O_PATH with O_NOFOLLOW opens a link itself rather than failing
            // on some kernels: make sure this is a directory.
            match fstat(&fd)?.kind {
                ObjectKind::Directory => {}
                ObjectKind::Symlink => return Err(Error::LinkedDirectory { dir: path.to_owned(), link: walked }),
                _ => return Err(missing()),
            }
        }
        Ok(Self { fd, path: path.to_owned() })
    }

    /// Opens ring `name`'s directory.
    pub(crate) fn of(name: &RingName) -> Result<Self> {
        Self::open(name.dir())
    }

    /// The directory's path as given.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What is at `file`, without following a link; `None` if nothing is.
    pub(crate) fn lstat(&self, file: &str) -> Result<Option<Stat>> {
        match rustix::fs::statat(&self.fd, file, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Stat::new(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(os_error("lstat", errno)),
        }
    }

    /// Opens the object `file` read-only or read-write, refusing anything
    /// but a regular file. `name` is for error messages.
    pub(crate) fn open_file(&self, name: &RingName, file: &str, writable: bool) -> Result<Object> {
        let access = if writable { OFlags::RDWR } else { OFlags::RDONLY };
        let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let occupied = |stat: Stat| Error::Occupied {
            name: name.to_string(),
            occupant: stat.occupant(),
            reason: "not a ring object (framering never opens or follows such a thing)",
        };
        let fd = match rustix::fs::openat(&self.fd, file, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Err(Error::NotFound { name: name.to_string() }),
            Err(Errno::ACCESS | Errno::PERM) => return Err(Error::PermissionDenied { name: name.to_string() }),
            // ELOOP: a symbolic link (O_NOFOLLOW); ENXIO: a socket; EISDIR: a
            // directory opened for writing. Say what it is.
            Err(errno @ (Errno::LOOP | Errno::NXIO | Errno::ISDIR | Errno::NODEV)) => {
                return match self.lstat(file)? {
                    Some(stat) if stat.kind != ObjectKind::File => Err(occupied(stat)),
                    Some(_) => Err(os_error("open", errno)),
                    None => Err(Error::NotFound { name: name.to_string() }),
                };
            }
            Err(errno) => return Err(os_error("open", errno)),
        };
        let stat = fstat(&fd)?;
        if stat.kind != ObjectKind::File {
            return Err(occupied(stat));
        }
        Ok(Object { fd, stat })
    }

    /// Opens ring `name`'s object (see [`Dir::open_file`]).
    pub(crate) fn open_ring(&self, name: &RingName, writable: bool) -> Result<Object> {
        self.open_file(name, &name.file_name(), writable)
    }

    /// Creates a new object under a fresh private name for ring `name`,
    /// with permission bits `mode` (set with `fchmod`, so the umask does
    /// not narrow them). Returns it with its file name.
    pub(crate) fn create_temp(&self, name: &RingName, mode: u32) -> Result<(OwnedFd, String)> {
        let mode = Mode::from_bits_truncate(mode);
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        loop {
            let file = name.temp_file();
            match rustix::fs::openat(&self.fd, &file, flags, mode) {
                Ok(fd) => {
                    if let Err(errno) = rustix::fs::fchmod(&fd, mode) {
                        let _ = self.unlink(&file);
                        return Err(os_error("fchmod", errno));
                    }
                    return Ok((fd, file));
                }
                // Left by an earlier process with our pid (pids are reused).
                Err(Errno::EXIST) => continue,
                Err(Errno::ACCESS | Errno::PERM) => return Err(Error::PermissionDenied { name: name.to_string() }),
                Err(Errno::NOENT | Errno::NOTDIR) => return Err(Error::NoDirectory { dir: self.path.clone() }),
                Err(errno) => return Err(os_error("create", errno)),
            }
        }
    }

    /// Removes the directory entry `file`. An entry already gone is not an
    /// error.
    pub(crate) fn unlink(&self, file: &str) -> Result<(), Errno> {
        match rustix::fs::unlinkat(&self.fd, file, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(errno) => Err(errno),
        }
    }

    /// Moves `from` to `to` if nothing is at `to` (`RENAME_NOREPLACE`).
    /// `Ok(false)`: something is.
    pub(crate) fn rename_noreplace(&self, from: &str, to: &str) -> Result<bool, Errno> {
        match rustix::fs::renameat_with(&self.fd, from, &self.fd, to, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(errno) => Err(errno),
        }
    }

    /// Swaps the objects at `a` and `b` atomically (`RENAME_EXCHANGE`): at
    /// no instant is either name empty.
    pub(crate) fn exchange(&self, a: &str, b: &str) -> Result<(), Errno> {
        rustix::fs::renameat_with(&self.fd, a, &self.fd, b, RenameFlags::EXCHANGE)
    }

    /// True if `file` currently names the object `stat` describes.
    pub(crate) fn names(&self, file: &str, stat: &Stat) -> Result<bool> {
        Ok(self.lstat(file)?.is_some_and(|now| now.identity() == stat.identity()))
    }

    /// The file names in the directory.
    pub(crate) fn entries(&self) -> Result<Vec<String>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, ".", flags, Mode::empty()).map_err(os("read the ring directory"))?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&fd).map_err(os("read the ring directory"))? {
            let entry = entry.map_err(os("read the ring directory"))?;
            if let Ok(name) = entry.file_name().to_str()
                && name != "."
                && name != ".."
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// Bytes the file system can still give this user (`statvfs`).
    pub(crate) fn free_bytes(&self) -> Result<u64> {
        let st = rustix::fs::fstatvfs(&self.fd).map_err(os("statvfs"))?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }
}

/// A watch on a ring's directory (inotify) for names appearing in it, so
/// that a consumer waiting for a ring opens it as soon as a producer moves
/// it to its name instead of at its next look: a producer that publishes a
/// few frames and closes at once is otherwise gone before it is seen.
#[derive(Debug)]
pub(crate) struct Arrivals {
    fd: OwnedFd,
}

impl Arrivals {
    /// Watches ring `name`'s directory; `None` where inotify is not to be
    /// had (then the caller naps instead). Which directory the path leads to
    /// only decides how soon the caller looks again, never what it finds.
    pub(crate) fn watch(name: &RingName) -> Option<Self> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).ok()?;
        let events = WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::ONLYDIR;
        inotify::add_watch(&fd, name.dir(), events).ok()?;
        Some(Self { fd })
    }

    /// Returns when a name appears in the directory (any name: the caller
    /// looks for its own) or after `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) {
        use rustix::event::{PollFd, PollFlags, Timespec};
        let timeout = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        if matches!(rustix::event::poll(&mut fds, Some(&timeout)), Ok(n) if n > 0) {
            // Drain what arrived; EAGAIN (non-blocking) once it is empty.
            let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
            let mut events = rustix::fs::inotify::Reader::new(&self.fd, &mut buf);
            while events.next().is_ok() {}
        }
    }
}

/// What `fstat` says about `fd`.
pub(crate) fn fstat(fd: impl AsFd) -> Result<Stat> {
    Ok(Stat::new(&rustix::fs::fstat(fd).map_err(os("fstat"))?))
}

/// Reserves the object's first `len` bytes in the file system
/// (`fallocate`), so that writing them later cannot fail: on a tmpfs
/// without room for them a write through the mapping is a SIGBUS, not an
/// error. A file system that cannot reserve (`EOPNOTSUPP`) is checked for
/// free space instead. Out of space is [`Error::NoSpace`].
pub(crate) fn reserve(dir: &Dir, fd: impl AsFd, len: u64) -> Result<()> {
    let no_space = || -> Result<()> {
        Err(Error::NoSpace { dir: dir.path().to_owned(), needed: len, free: dir.free_bytes().unwrap_or(0) })
    };
    match rustix::fs::fallocate(fd, FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(Errno::NOSPC | Errno::DQUOT | Errno::FBIG) => no_space(),
        Err(Errno::OPNOTSUPP | Errno::NOSYS) if dir.free_bytes()? < len => no_space(),
        Err(Errno::OPNOTSUPP | Errno::NOSYS) => Ok(()),
        Err(errno) => Err(os_error("fallocate", errno)),
    }
}

/// Who holds a lock that would keep a producer from locking the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Nobody.
    Nobody,
    /// Only read locks, which anyone who may read the ring can take: they
    /// never mean a live producer.
    Readers,
    /// A write lock: a live producer.
    Writer,
}

/// A `struct flock` over the whole object (`l_len = 0`: to the end, however
/// far it grows).
fn whole(l_type: libc::c_int) -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers, for which all-zero
    // bytes are a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = l_type as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 0;
    lock.l_pid = 0; // must be 0 for F_OFD_* commands
    lock
}

/// Takes the producer's liveness lock without blocking: an open-file-
/// description write lock over the whole object (needs `fd` opened for
/// writing). `Ok(false)` if another lock is in the way.
///
/// It also takes an exclusive `flock`, best effort, so that a format
/// version 2 producer (whose liveness lock that was) sees this ring as
/// alive instead of replacing it; a reader's `flock` in the way is ignored.
pub(crate) fn try_lock_producer(fd: impl AsFd) -> Result<bool> {
    let fd = fd.as_fd();
    let mut lock = whole(libc::F_WRLCK);
    // SAFETY: `fd` is a valid descriptor for the duration of the call and
    // `lock` a valid, initialized `struct flock` that the kernel only reads.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
    if rc != 0 {
        let errno = Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO);
        return match errno {
            Errno::AGAIN | Errno::ACCESS => Ok(false),
            errno => Err(os_error("fcntl(F_OFD_SETLK)", errno)),
        };
    }
    let _ = rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive);
    Ok(true)
}

/// Who holds a lock on the object that conflicts with the producer's, found
/// with `F_OFD_GETLK` (no lock is taken, so probing never gets in the way of
/// a producer starting). Locks held through `fd`'s own open file
/// description do not count (they never conflict with it).
pub(crate) fn lock_holder(fd: impl AsFd) -> Result<Holder> {
    let mut lock = whole(libc::F_WRLCK);
    // SAFETY: as in `try_lock_producer`; F_OFD_GETLK writes the first
    // conflicting lock (or F_UNLCK) into `lock`, a valid local.
    let rc = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
    if rc != 0 {
        let errno = Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO);
        return Err(os_error("fcntl(F_OFD_GETLK)", errno));
    }
    Ok(match libc::c_int::from(lock.l_type) {
        libc::F_WRLCK => Holder::Writer,
        libc::F_RDLCK => Holder::Readers,
        _ => Holder::Nobody,
    })
}

/// True if a live producer holds the object's liveness lock.
pub(crate) fn producer_alive(fd: impl AsFd) -> Result<bool> {
    Ok(lock_holder(fd)? == Holder::Writer)
}

/// Huge page size of x86-64 and arm64 (4 KiB base pages): a producer
/// creates rings of this size or more a whole number of huge pages long.
pub const HUGE_PAGE: u64 = 2 << 20;

/// The length a producer gives a new object for a segment of
/// `segment_size` bytes: segments of a huge page or more are rounded up to
/// whole huge pages, so a tmpfs mounted `huge=within_size` backs the tail
/// with a huge page too (readers accept any length ≥ `segment_size`).
pub(crate) fn object_len(segment_size: u64) -> u64 {
    if segment_size >= HUGE_PAGE { segment_size.next_multiple_of(HUGE_PAGE) } else { segment_size }
}

/// Sets the object's length.
pub(crate) fn set_len(fd: impl AsFd, len: u64) -> Result<()> {
    rustix::fs::ftruncate(fd, len).map_err(os("ftruncate"))
}

/// The effective user id of this process.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A shared mapping of a whole segment, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    view: View,
}

impl std::ops::Deref for Mapping {
    type Target = View;
    fn deref(&self) -> &View {
        &self.view
    }
}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, read-write or read-only.
    pub(crate) fn new(fd: impl AsFd, len: u64, writable: bool) -> Result<Self> {
        let len = usize::try_from(len).map_err(|_| os_error("mmap", Errno::NOMEM))?;
        if len == 0 {
            return Err(os_error("mmap", Errno::INVAL));
        }
        let prot = if writable { ProtFlags::READ | ProtFlags::WRITE } else { ProtFlags::READ };
        // SAFETY: a fresh mapping at an address the kernel chooses (null
        // hint, no MAP_FIXED) cannot alias any existing Rust object.
        let ptr = unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }
            .map_err(|errno| os_error("mmap", errno))?;
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(os_error("mmap", Errno::INVAL))?;
        // Huge pages where the file system allows them: a tmpfs mounted with
        // `huge=advise` needs this; `huge=always` and `within_size` do it
        // anyway; on `/dev/shm` (`huge=never`) and where transparent huge
        // pages are off it fails with EINVAL, which changes nothing.
        // SAFETY: the range is exactly the mapping just made; the advice
        // changes no byte, only which page size may back it.
        let _ = unsafe { rustix::mm::madvise(ptr.as_ptr().cast(), len, Advice::LinuxHugepage) };
        Ok(Self { view: View::new(ptr, len, writable) })
    }

    /// Bytes of the mapping the kernel currently maps with huge (2 MiB)
    /// page-table entries, from `/proc/self/smaps` (`ShmemPmdMapped`);
    /// `None` if that cannot be read. Only pages already touched count.
    pub(crate) fn huge_mapped(&self) -> Option<u64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let start = format!("{:x}-", self.base() as usize);
        // The entry's fields ("Name: value") run until the next mapping's
        // header line.
        let mut fields = smaps
            .lines()
            .skip_while(|l| !l.starts_with(&start))
            .skip(1)
            .take_while(|l| l.split_whitespace().next().is_some_and(|key| key.ends_with(':')));
        let kb = fields.find_map(|l| l.strip_prefix("ShmemPmdMapped:").or_else(|| l.strip_prefix("FilePmdMapped:")))?;
        kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|kb| kb * 1024)
    }

    /// Faults the first `len` bytes in now (`MADV_POPULATE_WRITE`, or
    /// `_READ` for a read-only mapping), so the first frames through each
    /// slot do not pay a page fault per 4 KiB on either side. Best effort:
    /// kernels before 5.14 refuse the advice, and then the pages fault in
    /// on first use as before.
    pub(crate) fn prefault(&self, len: usize) {
        let advice = if self.writable() { Advice::LinuxPopulateWrite } else { Advice::LinuxPopulateRead };
        // SAFETY: the range starts at the mapping's base and `min` keeps it
        // within the mapping; populating only faults pages in (for a
        // read-only mapping, without writing), it changes no byte.
        let _ = unsafe { rustix::mm::madvise(self.base().cast(), len.min(self.len()), advice) };
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned, and every pointer
        // into the mapping is derived from a borrow of the owning Ring, so
        // none outlives this drop.
        let _ = unsafe { rustix::mm::munmap(self.base().cast(), self.len()) };
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
