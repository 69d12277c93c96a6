//! How a ring's name changes hands (`docs/FORMAT.md` §5): opening and
//! validating a ring, creating one, taking over a dead producer's ring,
//! replacing whatever else holds the name, and removing it. Written once
//! here; `Producer`, `Consumer` and `admin` call it.
//!
//! The rules that make these safe against races and hostile neighbours:
//! - A ring appears under its name only complete and locked: it is built
//!   under a private temporary name and moved to the ring's name with
//!   `RENAME_NOREPLACE` (nothing there) or `RENAME_EXCHANGE` (something
//!   there, swapped out atomically, so the name is never empty).
//! - Whoever takes the liveness lock of an existing object re-checks,
//!   *after* locking, that the name still refers to it.
//! - An object is deleted only while holding its lock (after that re-check),
//!   or after it has been moved off the name and then found to be the very
//!   object judged dead and still without a live producer; otherwise it is
//!   moved back.
//! - Only a regular file owned by this process's effective uid, with the
//!   requested permission bits and exactly one name (a hard link could
//!   make it another ring's object too), is taken over in place; anything else is
//!   replaced (when the file system permits) or refused with
//!   [`Error::Occupied`] naming what is there and who owns it.

use crate::sync::Ordering;
use std::time::{Duration, Instant};

use rustix::fd::OwnedFd;
use rustix::io::Errno;

use crate::error::{Error, LayoutError, ObjectKind, Result};
use crate::layout::Geometry;
use crate::name::RingName;
use crate::ring::{Ring, RingWriter};
use crate::sys::Claimed;
use crate::sys::clock::monotonic_ns;
use crate::sys::futex::Waker;
use crate::sys::os_error;
use crate::sys::segment::{self, Dir, Holder, Mapping, Object, Stat};

/// How long a producer waits for another live producer's lock to go away
/// (it may be closing) before reporting [`Error::ProducerExists`].
const LOCK_PATIENCE: Duration = Duration::from_millis(250);

/// How long a claim or removal keeps starting over while other processes
/// keep changing the name under it, before giving up.
const CHURN_LIMIT: Duration = Duration::from_secs(2);

/// An object without a live producer whose header was never completed is
/// left alone for this long (its creator may still be writing it), then
/// counts as stale.
pub(crate) const STALE_AFTER_SECS: u64 = 5;

/// What a producer holds of its ring while it lives: the ring's directory
/// (opened once: the name is removed from the directory it was created in,
/// wherever that path leads now), the descriptor that holds the liveness
/// lock (the kernel releases it when the descriptor closes, including when
/// the process dies), and the object it was when claimed (to remove the
/// name only if it still refers to it).
#[derive(Debug)]
pub(crate) struct Hold {
    dir: Dir,
    _lock: OwnedFd,
    stat: Stat,
}

impl Hold {
    /// Removes the name of this producer's ring `name` at close, if it
    /// still refers to the ring (an operator may have removed it, and
    /// another producer created a new ring since). The name is moved off
    /// before it is checked (see [`displace`]), so a new ring that takes the
    /// name between the check and the removal is put back, never deleted.
    pub(crate) fn release(&mut self, name: &RingName) -> Result<()> {
        displace(&self.dir, name, &name.file_name(), &self.stat, Check::SameObject, None).map(drop)
    }
}

/// Opens ring `name` read-only, maps it and validates its header (§4.5).
pub(crate) fn open_ring(name: &RingName) -> Result<(Object, Ring)> {
    let obj = Dir::of(name)?.open_ring(name, false)?;
    let attached = match obj.stat.size {
        0 => Err(LayoutError::NotInitialized),
        len => Ring::attach(Mapping::new(&obj.fd, len, false)?, Waker),
    };
    match attached {
        Ok(ring) => Ok((obj, ring)),
        Err(LayoutError::NotInitialized) if abandoned(&obj)? => {
            Err(LayoutError::Abandoned { age_secs: obj.stat.age_secs() }.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes this process the producer of ring `name`: creates it, takes over a
/// dead producer's ring of the same geometry in place, or replaces what is
/// there (§5).
pub(crate) fn claim(name: &RingName, geometry: &Geometry, mode: u32) -> Result<Claimed> {
    let start = Instant::now();
    let dir = Dir::of(name)?;
    loop {
        if let Some((fd, stat, ring, next)) = claim_step(&dir, name, geometry, mode, start)? {
            return Ok(Claimed { hold: Hold { dir, _lock: fd, stat }, ring, next });
        }
        if start.elapsed() > CHURN_LIMIT {
            return Err(os_error("claim the ring name (other processes kept changing it)", Errno::AGAIN));
        }
    }
}

/// What a claim ends with: the locked descriptor, the object, the ring
/// and the next frame number.
type Won = (OwnedFd, Stat, RingWriter, u64);

/// One attempt; `Ok(None)`: the name changed under us, start over.
fn claim_step(dir: &Dir, name: &RingName, geometry: &Geometry, mode: u32, start: Instant) -> Result<Option<Won>> {
    let file = name.file_name();
    let file = file.as_str();
    let obj = match dir.open_file(name, file, true) {
        Ok(obj) => obj,
        Err(Error::NotFound { .. }) => return Fresh::build(dir, name, geometry, mode)?.install(file),
        Err(Error::Occupied { .. }) => {
            // Not a file (it was a moment ago, so a file now means it was
            // swapped meanwhile: look again rather than judge it unlocked).
            let Some(stat) = dir.lstat(file)?.filter(|s| s.kind != ObjectKind::File) else { return Ok(None) };
            refuse_unremovable(name, &stat)?;
            return Fresh::build(dir, name, geometry, mode)?.replace(name, file, &stat, Check::SameObject);
        }
        Err(Error::PermissionDenied { .. }) => {
            // We may not write it: another user's object, or ours with a mode
            // that denies writing. A live producer keeps it; otherwise it is
            // replaced if the file system lets us.
            let Some(stat) = dir.lstat(file)? else { return Ok(None) };
            if let Ok(ro) = dir.open_file(name, file, false)
                && ro.stat.identity() == stat.identity()
                && segment::producer_alive(&ro.fd)?
            {
                return producer_exists(name, &ro.fd, start);
            }
            return Fresh::build(dir, name, geometry, mode)?.replace(name, file, &stat, Check::NoLiveProducer);
        }
        Err(e) => return Err(e),
    };
    if !segment::try_lock_producer(&obj.fd)? {
        return match segment::lock_holder(&obj.fd)? {
            Holder::Writer => producer_exists(name, &obj.fd, start),
            // Only locks anyone who can read the ring may take: no producer.
            Holder::Readers => {
                Fresh::build(dir, name, geometry, mode)?.replace(name, file, &obj.stat, Check::NoLiveProducer)
            }
            Holder::Nobody => Ok(None),
        };
    }
    // We hold the lock, so whoever owned this object is gone. Make sure the
    // name still refers to it before touching it.
    if !dir.names(file, &obj.stat)? {
        return Ok(None);
    }
    if obj.stat.uid == segment::euid()
        && obj.stat.mode == mode
        && obj.stat.nlink == 1
        && let Some(ring) = take_over(dir, &obj, geometry)?
    {
        // Relaxed: the previous producer is dead, and the lock that made us
        // owner ordered us after its last store.
        let next = ring.published().load(Ordering::Relaxed).wrapping_add(1);
        return Ok(Some((obj.fd, obj.stat, RingWriter::new(ring), next)));
    }
    // Another geometry, unreadable, never completed, another owner or mode,
    // another name for the same object: replace it, keeping its lock until
    // it is off the name.
    Fresh::build(dir, name, geometry, mode)?.replace(name, file, &obj.stat, Check::SameObject)
}

/// A live producer holds the lock: wait a little for it to close, then
/// give up.
fn producer_exists(name: &RingName, fd: &OwnedFd, start: Instant) -> Result<Option<Won>> {
    if start.elapsed() >= LOCK_PATIENCE {
        return Err(Error::ProducerExists { name: name.to_string(), pid: segment::read_pid(fd) });
    }
    std::thread::sleep(Duration::from_millis(1));
    Ok(None)
}

/// Directories and device nodes at a ring's name are never removed.
fn refuse_unremovable(name: &RingName, stat: &Stat) -> Result<()> {
    if matches!(stat.kind, ObjectKind::Directory | ObjectKind::Device) {
        return Err(Error::Occupied {
            name: name.to_string(),
            occupant: stat.occupant(),
            reason: "framering only replaces or removes files, links, FIFOs and sockets; remove it by hand",
        });
    }
    Ok(())
}

/// Reuses a dead producer's ring in place if it validates, has exactly the
/// wanted geometry and a sane frame count. The caller holds its lock.
fn take_over(dir: &Dir, obj: &Object, geometry: &Geometry) -> Result<Option<Ring>> {
    if obj.stat.size < geometry.segment_size {
        return Ok(None);
    }
    // Its pages may never have been reserved (a sparse object left by an
    // older producer, or truncated and regrown): reserve them before the
    // first write can fault on a full file system.
    segment::reserve(dir, &obj.fd, obj.stat.size)?;
    let ring = match Mapping::new(&obj.fd, obj.stat.size, true).map(|map| Ring::attach(map, Waker)) {
        // Relaxed: the previous producer is dead (we hold its lock). A frame
        // count no camera could reach means corrupt bytes: replace those.
        Ok(Ok(ring)) if ring.geometry() == geometry && ring.published().load(Ordering::Relaxed) < 1 << 62 => ring,
        _ => return Ok(None),
    };
    ring.claim(std::process::id(), monotonic_ns());
    ring.prefault();
    Ok(Some(ring))
}

/// What must still hold of an object after it was moved off the name for
/// it to be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// It is the same object (we hold its lock, or it is not a file).
    SameObject,
    /// It is the same object and no producer has locked it meanwhile.
    NoLiveProducer,
}

/// What was found at the temporary path after moving the name's object there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The object judged replaceable: delete it.
    Delete,
    /// Something else, or it came alive: put it back.
    Changed,
    /// It cannot be opened to check: put it back and report.
    Unknown,
}

fn verdict(dir: &Dir, name: &RingName, moved: &str, old: &Stat, check: Check) -> Result<Verdict> {
    if !dir.names(moved, old)? {
        return Ok(Verdict::Changed);
    }
    if check == Check::SameObject || old.kind != ObjectKind::File {
        return Ok(Verdict::Delete);
    }
    match dir.open_file(name, moved, false) {
        Ok(o) if o.stat.identity() != old.identity() => Ok(Verdict::Changed),
        Ok(o) if segment::producer_alive(&o.fd)? => Ok(Verdict::Changed),
        Ok(_) => Ok(Verdict::Delete),
        Err(Error::PermissionDenied { .. }) => Ok(Verdict::Unknown),
        Err(_) => Ok(Verdict::Changed),
    }
}

/// [`Error::Occupied`] for an object this user may not move or delete.
fn not_ours(name: &RingName, old: &Stat) -> Error {
    Error::Occupied {
        name: name.to_string(),
        occupant: old.occupant(),
        reason: "this user may not replace or remove it (only its owner or root may)",
    }
}

/// Moves whatever is at `file` (described by `old`) off the name — swapping
/// `fresh` in atomically if given, else to a private name — then deletes it
/// if [`verdict`] says so, or moves it back. `Ok(true)`: deleted.
fn displace(
    dir: &Dir,
    name: &RingName,
    file: &str,
    old: &Stat,
    check: Check,
    mut fresh: Option<&mut Fresh<'_>>,
) -> Result<bool> {
    let temp = match fresh.as_deref() {
        Some(f) => f.at.clone().ok_or(os_error("displace", Errno::INVAL))?,
        None => name.temp_file(),
    };
    let moved = match fresh {
        Some(_) => dir.exchange(&temp, file).map(|()| true),
        None => dir.rename_noreplace(file, &temp),
    };
    match moved {
        Ok(true) => {}
        Ok(false) | Err(Errno::NOENT) => return Ok(false),
        Err(Errno::PERM | Errno::ACCESS) => return Err(not_ours(name, old)),
        Err(errno) => return Err(os_error("renameat2", errno)),
    }
    if let Some(f) = fresh.as_deref_mut() {
        f.at = Some(file.to_owned());
    }
    let verdict = verdict(dir, name, &temp, old, check)?;
    if verdict == Verdict::Delete {
        dir.unlink(&temp).map_err(|errno| os_error("unlink", errno))?;
        return Ok(true);
    }
    // Not what we judged dead: put it back where it was.
    let back = match fresh.as_deref() {
        Some(_) => dir.exchange(&temp, file).map(|()| true),
        None => dir.rename_noreplace(&temp, file),
    };
    match (back, fresh) {
        (Ok(true), Some(f)) => f.at = Some(temp),
        (Ok(true), None) => {}
        // The name was emptied or taken meanwhile (e.g. a forced removal of
        // our fresh ring): restore what we moved if the name is free.
        (_, f) => {
            if let Some(f) = f {
                f.at = None;
            }
            let _ = dir.rename_noreplace(&temp, file);
        }
    }
    if verdict == Verdict::Unknown {
        return Err(Error::Occupied {
            name: name.to_string(),
            occupant: old.occupant(),
            reason: "this user cannot read it to tell whether its producer is alive",
        });
    }
    Ok(false)
}

/// A new ring built under a private name, locked, its memory reserved and
/// fully initialized (state live, generation 1), waiting to be moved to its
/// name.
#[derive(Debug)]
struct Fresh<'d> {
    dir: &'d Dir,
    parts: Option<(OwnedFd, Stat, Ring)>,
    /// Where the object is named now; `None` once it is no longer ours to
    /// unlink.
    at: Option<String>,
}

impl<'d> Fresh<'d> {
    fn build(dir: &'d Dir, name: &RingName, geometry: &Geometry, mode: u32) -> Result<Self> {
        let (fd, file) = dir.create_temp(name, mode)?;
        // From here on, dropping `fresh` on an error unlinks the object.
        let mut fresh = Self { dir, parts: None, at: Some(file) };
        if !segment::try_lock_producer(&fd)? {
            // Someone locked our brand-new private object: give up on it.
            return Err(os_error("lock a new ring", Errno::AGAIN));
        }
        let len = segment::object_len(geometry.segment_size);
        segment::set_len(&fd, len)?;
        segment::reserve(dir, &fd, len)?;
        let map = Mapping::new(&fd, len, true)?;
        let stat = segment::fstat(&fd)?;
        let ring = Ring::init(map, Waker, *geometry, std::process::id(), monotonic_ns());
        ring.prefault();
        fresh.parts = Some((fd, stat, ring));
        Ok(fresh)
    }

    /// Moves the ring to `file` if nothing is there.
    fn install(mut self, file: &str) -> Result<Option<Won>> {
        let at = self.at.clone().ok_or(os_error("install", Errno::INVAL))?;
        match self.dir.rename_noreplace(&at, file) {
            Ok(true) => {
                self.at = Some(file.to_owned());
                Ok(self.into_won())
            }
            Ok(false) => Ok(None),
            Err(errno) => Err(os_error("renameat2(RENAME_NOREPLACE)", errno)),
        }
    }

    /// Swaps the ring in for `old` at `file` and deletes `old` (see
    /// [`displace`]).
    fn replace(mut self, name: &RingName, file: &str, old: &Stat, check: Check) -> Result<Option<Won>> {
        let dir = self.dir;
        if displace(dir, name, file, old, check, Some(&mut self))? { Ok(self.into_won()) } else { Ok(None) }
    }

    fn into_won(mut self) -> Option<Won> {
        self.at = None;
        let (fd, stat, ring) = self.parts.take()?;
        Some((fd, stat, RingWriter::new(ring), 1))
    }
}

impl Drop for Fresh<'_> {
    fn drop(&mut self) {
        let Some((_, stat, ring)) = &self.parts else {
            if let Some(at) = &self.at {
                let _ = self.dir.unlink(at);
            }
            return;
        };
        // A consumer may have opened it while it was briefly under the
        // ring's name: tell it the ring is closed.
        ring.close();
        if let Some(at) = &self.at
            && self.dir.names(at, stat).unwrap_or(false)
        {
            let _ = self.dir.unlink(at);
        }
    }
}

/// Removes ring `name` from the namespace: refused with
/// [`Error::ProducerExists`] while a producer is alive unless `force`; the
/// check and the removal are one step for every producer following §5.
/// Non-ring objects at the name (links, FIFOs, sockets) are removed too.
pub(crate) fn remove(name: &RingName, force: bool) -> Result<()> {
    let dir = Dir::of(name)?;
    let file = name.file_name();
    let start = Instant::now();
    loop {
        if remove_step(&dir, name, &file, force)? {
            return Ok(());
        }
        if start.elapsed() > CHURN_LIMIT {
            return Err(os_error("remove the ring (other processes kept changing it)", Errno::AGAIN));
        }
    }
}

fn remove_step(dir: &Dir, name: &RingName, file: &str, force: bool) -> Result<bool> {
    let obj = match dir.open_file(name, file, true) {
        Ok(obj) => obj,
        Err(Error::Occupied { .. }) => {
            let Some(stat) = dir.lstat(file)? else { return Err(Error::NotFound { name: name.to_string() }) };
            if stat.kind == ObjectKind::File {
                return Ok(false); // swapped for a file meanwhile: look again
            }
            refuse_unremovable(name, &stat)?;
            return displace(dir, name, file, &stat, Check::SameObject, None);
        }
        Err(Error::PermissionDenied { .. }) => {
            let Some(stat) = dir.lstat(file)? else { return Err(Error::NotFound { name: name.to_string() }) };
            if !force
                && let Ok(ro) = dir.open_file(name, file, false)
                && ro.stat.identity() == stat.identity()
                && segment::producer_alive(&ro.fd)?
            {
                return Err(Error::ProducerExists { name: name.to_string(), pid: segment::read_pid(&ro.fd) });
            }
            let check = if force { Check::SameObject } else { Check::NoLiveProducer };
            return displace(dir, name, file, &stat, check, None);
        }
        Err(e) => return Err(e),
    };
    if segment::try_lock_producer(&obj.fd)? {
        if !dir.names(file, &obj.stat)? {
            return Ok(false);
        }
        // Holding the lock: no producer can be taking it over, and one that
        // locks it after us finds the name gone and starts over. Another
        // user's object that we may write but not unlink (the directory is
        // sticky) is reported like any object we may not remove.
        return match dir.unlink(file) {
            Ok(()) => Ok(true),
            Err(Errno::PERM | Errno::ACCESS) => Err(not_ours(name, &obj.stat)),
            Err(errno) => Err(os_error("unlink", errno)),
        };
    }
    match segment::lock_holder(&obj.fd)? {
        Holder::Writer if !force => {
            Err(Error::ProducerExists { name: name.to_string(), pid: segment::read_pid(&obj.fd) })
        }
        Holder::Writer => displace(dir, name, file, &obj.stat, Check::SameObject, None),
        Holder::Readers => displace(dir, name, file, &obj.stat, Check::NoLiveProducer, None),
        Holder::Nobody => Ok(false),
    }
}

/// Deletes the private objects (`.framering-tmp.NAME.PID.K`) of producers
/// that died while creating a ring whose name starts with `prefix`: those
/// without a live producer's lock, unchanged for [`STALE_AFTER_SECS`].
/// Returns their file names.
pub(crate) fn sweep_temps(dir: &Dir, prefix: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for file in dir.entries()? {
        let Some(ring) = crate::name::temp_owner(&file) else { continue };
        let Ok(ring_name) = RingName::in_dir(dir.path().to_owned(), ring) else { continue };
        if !ring.starts_with(prefix) {
            continue;
        }
        let Some(stat) = dir.lstat(&file)? else { continue };
        let live = match dir.open_file(&ring_name, &file, false) {
            Ok(obj) => obj.stat.identity() != stat.identity() || segment::producer_alive(&obj.fd)?,
            Err(Error::Occupied { .. }) => false,
            Err(_) => true,
        };
        if !live && stat.age_secs() >= STALE_AFTER_SECS && dir.names(&file, &stat)? {
            dir.unlink(&file).map_err(|errno| os_error("unlink", errno))?;
            removed.push(file);
        }
    }
    Ok(removed)
}

/// For an object whose header was never completed (0 bytes, or `state`
/// still 0): true if no producer holds it and it has not changed for
/// [`STALE_AFTER_SECS`], so its creator died inside `create` (or it was
/// planted). Such an object is stale: `clean` removes it and a producer
/// replaces it.
fn abandoned(obj: &Object) -> Result<bool> {
    Ok(obj.stat.age_secs() >= STALE_AFTER_SECS && !segment::producer_alive(&obj.fd)?)
}
