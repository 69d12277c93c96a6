//! How a ring's name changes hands on Windows (`docs/FORMAT.md` §9):
//! opening and validating a ring, creating one, taking over a dead
//! producer's ring, and removing it. The Linux half (`sys/linux/claim.rs`)
//! does the same with files; here the rules are:
//! - The producer of ring `NAME` is whoever holds the mutex
//!   `framering.NAME#lock`; a thread of its own holds it for as long as the
//!   producer lives, and the system abandons it when the process dies,
//!   however it dies. Only the mutex's holder changes the name record.
//! - A ring appears under its name only complete: a new instance is made
//!   and initialized, then the record is pointed at it (Release).
//! - A dead producer's instance is taken over in place if it validates and
//!   has the wanted geometry and permission bits; otherwise a new instance
//!   replaces it (the old one goes away when its last reader lets go).
//! - Closing or removing a ring sets the record's instance to 0: no ring
//!   under the name.

use std::sync::mpsc;
use std::time::Duration;

use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, WAIT_ABANDONED, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Memory::{FILE_MAP_READ, FILE_MAP_WRITE};
use windows_sys::Win32::System::Threading::{
    CreateMutexW, CreateSemaphoreW, OpenMutexW, OpenSemaphoreW, ReleaseMutex, WaitForSingleObject,
};

use super::futex::{SEMAPHORE_MAX, Waker};
use super::security::{
    MUTANT_QUERY_STATE, READ_CONTROL, SECTION_READ, SECTION_READ_WRITE, SYNCHRONIZE, Security, WRITE_DAC,
};
use super::segment::{self, Dir, Mapping, Object, RECORD_MAGIC, Record, open_error};
use super::{Handle, clear_last_error, last_error, os_error, wide};
use crate::error::{Error, ObjectKind, Occupant, Result};
use crate::layout::Geometry;
use crate::name::RingName;
use crate::ring::{Ring, RingWriter};
use crate::sync::Ordering;
use crate::sys::Claimed;
use crate::sys::clock::monotonic_ns;

/// How long a producer waits for another live producer's mutex (it may be
/// closing) before reporting [`Error::ProducerExists`].
const LOCK_PATIENCE: Duration = Duration::from_millis(250);

/// How many instance numbers a producer tries past ones still in use.
const INSTANCE_TRIES: u64 = 64;

/// What a producer holds of its ring while it lives: the mutex (held by
/// its keeper thread), the name record, and the instance it made or took.
#[derive(Debug)]
pub(crate) struct Hold {
    record: Record,
    instance: u64,
    /// Dropped after the name is given back: the mutex is released then,
    /// so a new producer may start while this one's mapping lives on.
    keeper: Option<Keeper>,
}

impl Hold {
    /// Gives up the name at close: the record no longer names an instance
    /// (unless it names another one already: a forced removal, then a new
    /// producer), then the mutex is released.
    pub(crate) fn release(&mut self, _name: &RingName) -> Result<()> {
        // Release pairs with the Acquire loads of the instance in `open_ring`
        // and `Object::producer_alive`; Relaxed on failure: nothing is read.
        let _ = self.record.instance().compare_exchange(self.instance, 0, Ordering::Release, Ordering::Relaxed);
        drop(self.keeper.take());
        Ok(())
    }
}

/// The thread that holds a ring's mutex for its producer: a Windows mutex
/// belongs to a thread, not a process, and the producer may move between
/// threads (or its first thread end) while it lives.
#[derive(Debug)]
struct Keeper {
    /// Dropping it tells the thread to release the mutex and end.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Keeper {
    /// Takes `mutex` (waiting at most `patience` for a holder to let go) on
    /// a new thread that keeps it until the keeper is dropped. `Ok(None)`:
    /// another holder kept it.
    fn acquire(mutex: Handle, patience: Duration) -> Result<Option<Self>> {
        let (got_tx, got_rx) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel::<()>();
        let ms = u32::try_from(patience.as_millis()).unwrap_or(u32::MAX - 1);
        let thread = std::thread::Builder::new()
            .name("framering-producer-lock".into())
            .spawn(move || {
                // SAFETY: the handle is open (owned by this closure).
                let got = unsafe { WaitForSingleObject(mutex.raw(), ms) };
                let held = got == WAIT_OBJECT_0 || got == WAIT_ABANDONED;
                let _ = got_tx.send(if held || got == WAIT_TIMEOUT { Ok(held) } else { Err(last_error()) });
                if held {
                    // Until the keeper is dropped (the sender goes away).
                    let _ = stop_rx.recv();
                    // SAFETY: this thread owns the mutex (it acquired it).
                    unsafe { ReleaseMutex(mutex.raw()) };
                }
            })
            .map_err(|e| os_error("start the producer's lock thread", e.raw_os_error().unwrap_or(0) as u32))?;
        let keeper = Self { stop: Some(stop), thread: Some(thread) };
        match got_rx.recv() {
            Ok(Ok(true)) => Ok(Some(keeper)),
            Ok(Ok(false)) => Ok(None),
            Ok(Err(code)) => Err(os_error("WaitForSingleObject(producer mutex)", code)),
            Err(_) => Err(os_error("the producer's lock thread ended", 0)),
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens the wake-up objects of instance `instance`: the sleeper count's
/// section (read-write) and the semaphore (`SYNCHRONIZE`, plus
/// `SEMAPHORE_MODIFY_STATE` for a producer).
fn open_waker(name: &RingName, instance: u64, producer: bool) -> Result<Waker> {
    let count = segment::open_section(
        name,
        &segment::object_name(name, &format!("#{instance}.wake")),
        FILE_MAP_READ | FILE_MAP_WRITE,
    )?;
    let count = Mapping::new(count, true)?;
    let access = if producer { SYNCHRONIZE | 0x0002 } else { SYNCHRONIZE };
    let sem_name = wide(&segment::object_name(name, &format!("#{instance}.sem")));
    // SAFETY: the name is NUL-terminated and valid for the call.
    let semaphore = Handle::new(unsafe { OpenSemaphoreW(access, 0, sem_name.as_ptr()) })
        .ok_or_else(|| open_error(name, "OpenSemaphoreW", last_error()))?;
    Ok(Waker::new(semaphore, count))
}

/// Opens ring `name`'s mutex for probing (`MUTANT_QUERY_STATE`, and
/// `SYNCHRONIZE` to take it for a removal).
fn open_lock(name: &RingName, take: bool) -> Result<Handle> {
    let access = if take { MUTANT_QUERY_STATE | SYNCHRONIZE } else { MUTANT_QUERY_STATE };
    let lock_name = wide(&segment::object_name(name, "#lock"));
    // SAFETY: the name is NUL-terminated and valid for the call.
    Handle::new(unsafe { OpenMutexW(access, 0, lock_name.as_ptr()) })
        .ok_or_else(|| open_error(name, "OpenMutexW", last_error()))
}

/// The record's magic, checked: a zero magic is a record being created
/// (no ring yet), anything else but ours is not a ring's.
fn check_magic(name: &RingName, record: &Record) -> Result<()> {
    match record.magic() {
        RECORD_MAGIC => Ok(()),
        [0, 0, 0, 0, 0, 0, 0, 0] => Err(Error::NotFound { name: name.to_string() }),
        _ => Err(Error::Occupied {
            name: name.to_string(),
            occupant: Occupant { kind: ObjectKind::File, uid: record.owner().map_or(0, |o| o.rid), mode: 0 },
            reason: "a section that is not a framering name record has the ring's name",
        }),
    }
}

/// Opens ring `name` read-only, maps it and validates its header (§4.5).
pub(crate) fn open_ring(name: &RingName) -> Result<(Object, Ring)> {
    let section = segment::open_section(name, &segment::object_name(name, ""), SECTION_READ | READ_CONTROL)?;
    let record = Record::new(section, false)?;
    check_magic(name, &record)?;
    // Acquire pairs with the producer's Release store of the instance,
    // made after the instance was complete.
    let instance = record.instance().load(Ordering::Acquire);
    if instance == 0 {
        return Err(Error::NotFound { name: name.to_string() });
    }
    let section = segment::open_section(name, &segment::object_name(name, &format!("#{instance}")), FILE_MAP_READ)?;
    let map = Mapping::new(section, false)?;
    let waker = open_waker(name, instance, false)?;
    let lock = open_lock(name, false)?;
    let owner = record.owner()?;
    // Relaxed: written before the instance (Acquire above).
    let mode = record.mode().load(Ordering::Relaxed);
    let ring = Ring::attach(map, waker)?;
    Ok((Object { record, instance, lock, owner, mode }, ring))
}

/// Makes this process the producer of ring `name`: creates it, takes over a
/// dead producer's ring of the same geometry in place, or makes a new
/// instance in place of what is there (§9).
pub(crate) fn claim(name: &RingName, geometry: &Geometry, mode: u32) -> Result<Claimed> {
    let lock_security = Security::for_ring(mode, MUTANT_QUERY_STATE | READ_CONTROL)?;
    let lock_name = wide(&segment::object_name(name, "#lock"));
    // SAFETY: valid attributes and a NUL-terminated name; not initially
    // owned (the keeper thread takes it). An existing mutex is opened.
    let lock = Handle::new(unsafe { CreateMutexW(lock_security.attributes(), 0, lock_name.as_ptr()) })
        .ok_or_else(|| open_error(name, "CreateMutexW", last_error()))?;
    let Some(keeper) = Keeper::acquire(lock, LOCK_PATIENCE)? else {
        return Err(Error::ProducerExists { name: name.to_string(), pid: producer_pid(name) });
    };
    // We hold the mutex: no other producer changes the record until we are
    // done. Give the mutex and the record this ring's permissions (they
    // may be left from a producer with other ones).
    let lock = open_lock_for_dacl(name)?;
    lock_security.apply(&lock)?;
    let record_security = Security::for_ring(mode, SECTION_READ | READ_CONTROL)?;
    let (section, _) = segment::create_section(name, &segment::object_name(name, ""), 4096, &record_security)?;
    let record = Record::new(section, true)?;
    match record.magic() {
        RECORD_MAGIC | [0, 0, 0, 0, 0, 0, 0, 0] => {}
        _ => return Err(check_magic(name, &record).err().unwrap_or(Error::NotFound { name: name.to_string() })),
    }
    if record.owner()? != super::security::current_user()? {
        return Err(Error::Occupied {
            name: name.to_string(),
            occupant: Occupant { kind: ObjectKind::File, uid: record.owner()?.rid, mode: 0 },
            reason: "another user's ring has the name (only its owner may produce into it)",
        });
    }
    let section_handle = segment::open_section(name, &segment::object_name(name, ""), WRITE_DAC)?;
    record_security.apply(&section_handle)?;
    let (ring, instance, next) = match take_over(name, &record, geometry, mode)? {
        Some((ring, instance)) => {
            // Relaxed: the previous producer is dead, and taking its mutex
            // ordered us after its last store.
            let next = ring.published().load(Ordering::Relaxed).wrapping_add(1);
            (ring, instance, next)
        }
        None => {
            let (ring, instance) = create_instance(name, &record, geometry, mode)?;
            (ring, instance, 1)
        }
    };
    Ok(Claimed { hold: Hold { record, instance, keeper: Some(keeper) }, ring: RingWriter::new(ring), next })
}

/// The mutex opened again with `WRITE_DAC`, to set its DACL.
fn open_lock_for_dacl(name: &RingName) -> Result<Handle> {
    let lock_name = wide(&segment::object_name(name, "#lock"));
    // SAFETY: the name is NUL-terminated and valid for the call.
    Handle::new(unsafe { OpenMutexW(WRITE_DAC, 0, lock_name.as_ptr()) })
        .ok_or_else(|| open_error(name, "OpenMutexW", last_error()))
}

/// The current instance's producer pid, for [`Error::ProducerExists`]; 0 if
/// it cannot be read.
fn producer_pid(name: &RingName) -> u32 {
    // Acquire pairs with the producer's Release store of `state`, after
    // which it wrote the pid.
    open_ring(name).map_or(0, |(_, ring)| ring.producer_pid().load(Ordering::Acquire))
}

/// Reuses a dead producer's current instance in place if it validates,
/// has exactly the wanted geometry and permission bits and a sane frame
/// count. The caller holds the mutex.
fn take_over(name: &RingName, record: &Record, geometry: &Geometry, mode: u32) -> Result<Option<(Ring, u64)>> {
    // Relaxed: the record is written only under the mutex, which we hold.
    let instance = record.instance().load(Ordering::Relaxed);
    if instance == 0 || record.mode().load(Ordering::Relaxed) != mode {
        return Ok(None);
    }
    let object = segment::object_name(name, &format!("#{instance}"));
    let Ok(section) = segment::open_section(name, &object, FILE_MAP_READ | FILE_MAP_WRITE) else { return Ok(None) };
    let Ok(waker) = open_waker(name, instance, true) else { return Ok(None) };
    let ring = match Mapping::new(section, true).map(|map| Ring::attach(map, waker)) {
        // Relaxed: the previous producer is dead (we hold its mutex). A frame
        // count no camera could reach means corrupt bytes: replace those.
        Ok(Ok(ring)) if ring.geometry() == geometry && ring.published().load(Ordering::Relaxed) < 1 << 62 => ring,
        _ => return Ok(None),
    };
    ring.claim(std::process::id(), monotonic_ns());
    ring.prefault();
    Ok(Some((ring, instance)))
}

/// Makes, initializes and publishes a new instance of ring `name` (the
/// next number not in use). The caller holds the mutex.
fn create_instance(name: &RingName, record: &Record, geometry: &Geometry, mode: u32) -> Result<(Ring, u64)> {
    let ring_security = Security::for_ring(mode, SECTION_READ)?;
    let wake_security = Security::for_ring(mode, SECTION_READ_WRITE)?;
    let sem_security = Security::for_ring(mode, SYNCHRONIZE)?;
    // Relaxed: the record is written only under the mutex, which we hold.
    let last = record.last().load(Ordering::Relaxed).max(record.instance().load(Ordering::Relaxed));
    for instance in (last + 1..).take(INSTANCE_TRIES as usize) {
        // A number whose objects still exist (held by a reader of an
        // instance made before the record was last recreated) is skipped.
        let ring_name = segment::object_name(name, &format!("#{instance}"));
        let (section, existed) = segment::create_section(name, &ring_name, geometry.segment_size, &ring_security)?;
        if existed {
            continue;
        }
        let wake_name = segment::object_name(name, &format!("#{instance}.wake"));
        let (count, existed) = segment::create_section(name, &wake_name, 4096, &wake_security)?;
        if existed {
            continue;
        }
        let sem_name = wide(&segment::object_name(name, &format!("#{instance}.sem")));
        clear_last_error();
        // SAFETY: valid attributes and a NUL-terminated name.
        let semaphore =
            Handle::new(unsafe { CreateSemaphoreW(sem_security.attributes(), 0, SEMAPHORE_MAX, sem_name.as_ptr()) })
                .ok_or_else(|| open_error(name, "CreateSemaphoreW", last_error()))?;
        if last_error() == windows_sys::Win32::Foundation::ERROR_ALREADY_EXISTS {
            continue;
        }
        let waker = Waker::new(semaphore, Mapping::new(count, true)?);
        let ring = Ring::init(Mapping::new(section, true)?, waker, *geometry, std::process::id(), monotonic_ns());
        ring.prefault();
        // Relaxed for `last` and `mode`: published by the Release store of
        // the instance below, which readers load with Acquire.
        record.last().store(instance, Ordering::Relaxed);
        record.mode().store(mode, Ordering::Relaxed);
        record.set_magic();
        // Release pairs with the Acquire load in `open_ring`: a consumer
        // that finds this instance finds it initialized.
        record.instance().store(instance, Ordering::Release);
        return Ok((ring, instance));
    }
    Err(os_error("find a free instance number for the ring", ERROR_ACCESS_DENIED))
}

/// Removes ring `name` from the namespace: the record no longer names an
/// instance, so no new consumer finds it. Refused with
/// [`Error::ProducerExists`] while a producer is alive unless `force`.
/// Removing takes the ring's mutex, so it is one step with respect to a
/// producer starting.
pub(crate) fn remove(name: &RingName, force: bool) -> Result<()> {
    let record_name = segment::object_name(name, "");
    let section = match segment::open_section(name, &record_name, FILE_MAP_READ | FILE_MAP_WRITE | READ_CONTROL) {
        Err(Error::PermissionDenied { .. }) => {
            let (obj, _) = open_ring(name)?;
            return Err(Error::Occupied {
                name: name.to_string(),
                occupant: obj.occupant(),
                reason: "this user may not remove it (only its owner may)",
            });
        }
        other => other?,
    };
    let record = Record::new(section, true)?;
    check_magic(name, &record)?;
    // Acquire pairs with the producer's Release store of the instance.
    if record.instance().load(Ordering::Acquire) == 0 {
        return Err(Error::NotFound { name: name.to_string() });
    }
    let lock = open_lock(name, true)?;
    // SAFETY: the handle is open; a 0 ms wait never blocks.
    let got = unsafe { WaitForSingleObject(lock.raw(), 0) };
    let held_by_us = got == WAIT_OBJECT_0 || got == WAIT_ABANDONED;
    if !held_by_us && !force {
        return Err(Error::ProducerExists { name: name.to_string(), pid: producer_pid(name) });
    }
    // Release pairs with the Acquire loads of the instance.
    record.instance().store(0, Ordering::Release);
    if held_by_us {
        // SAFETY: this thread took the mutex just above.
        unsafe { ReleaseMutex(lock.raw()) };
    }
    Ok(())
}

/// Nothing to sweep on Windows: a producer that dies while creating a
/// ring leaves objects nobody holds, and the system deletes those.
pub(crate) fn sweep_temps(_dir: &Dir, _prefix: &str) -> Result<Vec<String>> {
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Producer, RingConfig};

    const WRITE_RING: &str = "FRAMERING_TEST_WRITE_RING";

    /// The child of `a_reader_cannot_write_its_ring`: maps the ring as a
    /// consumer does and writes to it, which must fault.
    #[test]
    #[ignore = "entry point of the child process a_reader_cannot_write_its_ring spawns"]
    fn write_through_a_readers_mapping() {
        let Ok(name) = std::env::var(WRITE_RING) else { return };
        let name = RingName::new(&name).unwrap();
        let (obj, _ring) = open_ring(&name).unwrap();
        let object = segment::object_name(&name, &format!("#{}", obj.instance));
        let map = Mapping::new(segment::open_section(&name, &object, FILE_MAP_READ).unwrap(), false).unwrap();
        println!("MAPPED");
        // SAFETY: deliberately a write into a read-only view: the process
        // exists to show that it faults; nothing runs after it.
        unsafe { map.base().write_volatile(0xEE) };
        println!("WROTE");
    }

    #[test]
    fn a_reader_cannot_write_its_ring() {
        let name = format!("t-readonly-{}", std::process::id());
        let _tx = Producer::create(&name, RingConfig::new(2, 64)).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["sys::windows::claim::tests::write_through_a_readers_mapping", "--exact", "--ignored"])
            .args(["--nocapture", "--test-threads=1"])
            .env(WRITE_RING, &name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("MAPPED"), "the child never mapped the ring: {stdout}");
        assert!(!stdout.contains("WROTE") && !out.status.success(), "the write did not fault: {stdout}");
        // The ring is intact for everyone else.
        let (_, ring) = open_ring(&RingName::new(&name).unwrap()).unwrap();
        assert_eq!(ring.geometry().slot_count, 2);
    }
}
