//! The operating-system side of a ring on Windows: its named objects, their
//! mappings, the producer's liveness mutex, and listing rings.
//!
//! Ring `NAME` is a handful of named objects in the session's `Local\`
//! namespace (`docs/FORMAT.md` §9):
//! - `framering.NAME`: the name record, a one-page section saying which
//!   instance of the ring is current (a section cannot be renamed or
//!   deleted while anyone maps it, so a producer that needs a new section
//!   makes a new instance and points the record at it);
//! - `framering.NAME#I`: instance `I`, the ring's segment (`docs/FORMAT.md`
//!   §2–§4, byte for byte as on Linux);
//! - `framering.NAME#I.wake` and `framering.NAME#I.sem`: the sleeper count
//!   and semaphore of its wake-ups (`futex.rs`);
//! - `framering.NAME#lock`: a mutex its producer holds while it lives.
//!
//! `#` cannot occur in a ring name, so no ring's objects collide with
//! another's. Objects live as long as some process has them open or
//! mapped: a ring nobody holds is gone, with nothing to clean up.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_COMMITMENT_LIMIT, ERROR_FILE_NOT_FOUND, ERROR_INVALID_HANDLE,
    ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS,
    MapViewOfFile, OpenFileMappingW, PAGE_READWRITE, UnmapViewOfFile, VirtualQuery,
};

use super::security::{self, Owner, READ_CONTROL, SECTION_READ, Security};
use super::{Handle, clear_last_error, last_error, os_error, wide};
use crate::error::{Error, ObjectKind, Occupant, Result};
use crate::name::RingName;
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::sys::View;

/// The namespace every ring's objects live in: the session's own.
pub(crate) const NAMESPACE: &str = "Local\\";

/// The name of object `suffix` of ring `name` (`Local\framering.NAME` plus
/// the suffix: `""` for the name record, `#I`, `#I.wake`, `#I.sem`,
/// `#lock`).
pub(crate) fn object_name(name: &RingName, suffix: &str) -> String {
    format!("{NAMESPACE}{}{suffix}", name.file_name())
}

/// Huge page size of x86-64 (the constant is shared with Linux; Windows
/// sections of this crate use normal pages).
pub const HUGE_PAGE: u64 = 2 << 20;

/// What a failed `Create*`/`Open*` call on ring `name`'s object means.
pub(crate) fn open_error(name: &RingName, op: &'static str, code: u32) -> Error {
    match code {
        ERROR_FILE_NOT_FOUND => Error::NotFound { name: name.to_string() },
        ERROR_ACCESS_DENIED => Error::PermissionDenied { name: name.to_string() },
        // A name taken by an object of another type (an event called
        // `framering.NAME`, say): nothing of ours, and not ours to remove.
        ERROR_INVALID_HANDLE => Error::Occupied {
            name: name.to_string(),
            occupant: Occupant { kind: ObjectKind::Device, uid: 0, mode: 0 },
            reason: "another kind of kernel object has the ring's object name",
        },
        code => os_error(op, code),
    }
}

/// A section's view, shared, read-write or read-only, unmapped on drop.
/// It keeps the section's handle open too: under Wine a section's name
/// goes when its last handle closes, even while views of it remain.
#[derive(Debug)]
pub(crate) struct Mapping {
    view: View,
    section: Handle,
}

impl std::ops::Deref for Mapping {
    type Target = View;
    fn deref(&self) -> &View {
        &self.view
    }
}

impl Mapping {
    /// Maps the whole of `section`, read-write or read-only. Its length is
    /// the section's size rounded up to whole pages (what the view spans).
    pub(crate) fn new(section: Handle, writable: bool) -> Result<Self> {
        let access = if writable { FILE_MAP_READ | FILE_MAP_WRITE } else { FILE_MAP_READ };
        // SAFETY: a fresh view at an address the system chooses cannot
        // alias any existing Rust object; length 0 maps the whole section.
        let view = unsafe { MapViewOfFile(section.raw(), access, 0, 0, 0) };
        let ptr = NonNull::new(view.Value.cast::<u8>()).ok_or_else(|| os_error("MapViewOfFile", last_error()))?;
        let mut info = std::mem::MaybeUninit::<MEMORY_BASIC_INFORMATION>::zeroed();
        // SAFETY: `info` is a valid, writable MEMORY_BASIC_INFORMATION of
        // the size given; the call only describes the region at `ptr`.
        let got =
            unsafe { VirtualQuery(ptr.as_ptr().cast::<c_void>().cast_const(), info.as_mut_ptr(), size_of_val(&info)) };
        let len = if got == 0 {
            0
        } else {
            // SAFETY: VirtualQuery filled it in (it returned non-zero).
            unsafe { info.assume_init() }.RegionSize
        };
        // The view is made: dropping `map` unmaps it (on the error too).
        let map = Self { view: View::new(ptr, len, writable), section };
        if got == 0 {
            return Err(os_error("VirtualQuery", last_error()));
        }
        Ok(map)
    }

    /// Pages of a view are mapped as they are touched, as on Linux: touch
    /// the first `len` bytes' pages now (one read per page, which changes
    /// nothing), so the first frames through each slot do not pay for it.
    pub(crate) fn prefault(&self, len: usize) {
        for offset in (0..len.min(self.len())).step_by(4096) {
            // SAFETY: in bounds (offset < len ≤ self.len()); a volatile byte
            // read of shared memory another process may write is a data
            // race only in the Rust model's sense of plain accesses, and a
            // u8 read cannot tear; its value is discarded.
            unsafe { self.base().add(offset).read_volatile() };
        }
    }

    /// Huge-page use is not reported on Windows.
    pub(crate) fn huge_mapped(&self) -> Option<u64> {
        None
    }

    /// The section's handle.
    pub(crate) fn section(&self) -> &Handle {
        &self.section
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr is exactly what MapViewOfFile returned, and every
        // pointer into the mapping is derived from a borrow of its owner, so
        // none outlives this drop.
        unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: self.base().cast() }) };
    }
}

/// Creates section `object` of `len` bytes (pagefile-backed, committed at
/// creation, zero-filled) with `security`, or opens it if it exists (then
/// with its own size and security): the flag says which (`true`: it
/// existed). Out of commit is [`Error::NoSpace`].
pub(crate) fn create_section(name: &RingName, object: &str, len: u64, security: &Security) -> Result<(Handle, bool)> {
    let wname = wide(object);
    clear_last_error();
    // SAFETY: INVALID_HANDLE_VALUE asks for a pagefile-backed section; the
    // attributes and the NUL-terminated name are valid for the call.
    let raw = unsafe {
        CreateFileMappingW(
            INVALID_HANDLE_VALUE,
            security.attributes(),
            PAGE_READWRITE,
            (len >> 32) as u32,
            len as u32,
            wname.as_ptr(),
        )
    };
    let code = last_error();
    match Handle::new(raw) {
        // An existing section is opened instead, and says so.
        Some(section) => Ok((section, code == ERROR_ALREADY_EXISTS)),
        None if matches!(code, ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_COMMITMENT_LIMIT) => {
            Err(Error::NoSpace { dir: PathBuf::from(NAMESPACE), needed: len, free: 0 })
        }
        None => Err(open_error(name, "CreateFileMappingW", code)),
    }
}

/// Opens section `object` with `access` (`FILE_MAP_*` and other rights).
pub(crate) fn open_section(name: &RingName, object: &str, access: u32) -> Result<Handle> {
    let wname = wide(object);
    // SAFETY: the name is NUL-terminated and valid for the call.
    let raw = unsafe { OpenFileMappingW(access, 0, wname.as_ptr()) };
    Handle::new(raw).ok_or_else(|| open_error(name, "OpenFileMappingW", last_error()))
}

/// The name record's magic, bytes 0..8 of `framering.NAME`.
pub(crate) const RECORD_MAGIC: [u8; 8] = *b"FRNGNAME";

/// Ring `name`'s name record (`docs/FORMAT.md` §9): which instance is
/// current. Written only by a producer holding the ring's mutex (and by a
/// removal); read by everyone through atomics.
#[derive(Debug)]
pub(crate) struct Record {
    map: Mapping,
}

/// The record's fields, at these byte offsets.
const RECORD_INSTANCE: usize = 8;
const RECORD_LAST: usize = 16;
const RECORD_MODE: usize = 24;

impl Record {
    /// The record behind an opened section (mapped read-write or not).
    pub(crate) fn new(section: Handle, writable: bool) -> Result<Self> {
        let map = Mapping::new(section, writable)?;
        if map.len() < 64 {
            return Err(os_error("map the ring's name record", ERROR_INVALID_HANDLE));
        }
        Ok(Self { map })
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: offset + 8 ≤ 64 ≤ the mapping's length (checked in `new`),
        // 8-aligned from a page-aligned base; atomics tolerate concurrent
        // writers and a plain load is allowed on read-only memory.
        unsafe { &*self.map.base().add(offset).cast::<AtomicU64>() }
    }

    /// The magic bytes, copied out (zero while a producer is creating it).
    pub(crate) fn magic(&self) -> [u8; 8] {
        // Acquire pairs with the Release store in `set_magic`.
        self.u64_at(0).load(Ordering::Acquire).to_le_bytes()
    }

    /// Writes the magic. The caller holds the ring's mutex.
    pub(crate) fn set_magic(&self) {
        // Release pairs with the Acquire load in `magic`.
        self.u64_at(0).store(u64::from_le_bytes(RECORD_MAGIC), Ordering::Release);
    }

    /// The current instance (0: none: no ring under the name).
    pub(crate) fn instance(&self) -> &AtomicU64 {
        self.u64_at(RECORD_INSTANCE)
    }

    /// The highest instance number ever given out under this record.
    pub(crate) fn last(&self) -> &AtomicU64 {
        self.u64_at(RECORD_LAST)
    }

    /// The permission bits the current instance was created with.
    pub(crate) fn mode(&self) -> &AtomicU32 {
        // SAFETY: as in `u64_at` (offset 24 + 4 ≤ 64, 4-aligned).
        unsafe { &*self.map.base().add(RECORD_MODE).cast::<AtomicU32>() }
    }

    /// The record section's owner (it was opened with `READ_CONTROL`).
    pub(crate) fn owner(&self) -> Result<Owner> {
        security::owner(self.map.section())
    }
}

/// An open ring: its name record, the instance it was when opened, and the
/// ring's liveness mutex.
#[derive(Debug)]
pub(crate) struct Object {
    pub(crate) record: Record,
    pub(crate) instance: u64,
    pub(crate) lock: Handle,
    pub(crate) owner: Owner,
    pub(crate) mode: u32,
}

/// `NtQueryMutant`'s `MutantBasicInformation`.
#[repr(C)]
#[derive(Debug, Default)]
struct MutantBasicInformation {
    current_count: i32,
    owned_by_caller: u8,
    abandoned_state: u8,
}

#[link(name = "ntdll")]
unsafe extern "system" {
    /// Documented in the Windows Driver Kit (`ZwQueryMutant`'s user-mode
    /// twin); not in windows-sys.
    fn NtQueryMutant(
        handle: HANDLE,
        class: u32,
        info: *mut MutantBasicInformation,
        len: u32,
        returned: *mut u32,
    ) -> i32;
}

/// True if some thread holds `mutex` (opened with `MUTANT_QUERY_STATE`),
/// found without taking it: a held mutex counts 0 or less, a free or
/// abandoned one 1.
pub(crate) fn mutex_held(mutex: &Handle) -> Result<bool> {
    let mut info = MutantBasicInformation::default();
    // SAFETY: the handle is open; `info` is a valid, writable
    // MutantBasicInformation of the size given; class 0 is
    // MutantBasicInformation.
    let status = unsafe {
        NtQueryMutant(mutex.raw(), 0, &mut info, size_of::<MutantBasicInformation>() as u32, std::ptr::null_mut())
    };
    if status < 0 {
        return Err(os_error("NtQueryMutant", status as u32));
    }
    Ok(info.current_count <= 0)
}

impl Object {
    /// True if a live producer holds the ring: its mutex is held and the
    /// record still names this instance (a new producer that made a new
    /// instance holds the same mutex).
    pub(crate) fn producer_alive(&self) -> Result<bool> {
        // Acquire pairs with the producer's Release store of the instance.
        Ok(mutex_held(&self.lock)? && self.record.instance().load(Ordering::Acquire) == self.instance)
    }

    /// Whether `other` is an open of the same instance.
    pub(crate) fn is(&self, other: &Object) -> bool {
        self.instance == other.instance
    }

    /// The ring's owner, as a "uid" (see `security.rs`).
    pub(crate) fn owner(&self) -> u32 {
        self.owner.rid
    }

    /// The owner's SID, as text.
    pub(crate) fn owner_sid(&self) -> Option<String> {
        Some(self.owner.sid.clone())
    }

    /// What to tell a user about the ring.
    pub(crate) fn occupant(&self) -> Occupant {
        Occupant { kind: ObjectKind::File, uid: self.owner.rid, mode: self.mode }
    }
}

/// The "uid" of this process's user: its SID's relative id.
pub(crate) fn euid() -> u32 {
    security::current_user().map_or(u32::MAX, |me| me.rid)
}

/// The namespace rings live in, for listing them: the object directory
/// behind `Local\` (the session's `BaseNamedObjects`).
#[derive(Debug)]
pub(crate) struct Dir;

impl Dir {
    /// The namespace: `path` must be `Local` (see [`crate::DEFAULT_DIR`]).
    pub(crate) fn open(path: &Path) -> Result<Self> {
        if path != Path::new(crate::name::DEFAULT_DIR) {
            return Err(Error::NoDirectory { dir: path.to_owned() });
        }
        Ok(Self)
    }

    /// The names (`framering.NAME`) of the rings in the namespace: name
    /// records whose current instance is not 0.
    pub(crate) fn entries(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (object, kind) in list_objects()? {
            if kind != "Section" {
                continue;
            }
            // A `#` is not in ring names: `framering.NAME#I` and the like
            // are a ring's other objects.
            let Some(name) = crate::name::ring_of_file(&object) else { continue };
            let Ok(section) = open_section(&name, &object_name(&name, ""), SECTION_READ | READ_CONTROL) else {
                continue;
            };
            let Ok(record) = Record::new(section, false) else { continue };
            // Acquire pairs with the producer's Release store.
            if record.magic() == RECORD_MAGIC && record.instance().load(Ordering::Acquire) != 0 {
                names.push(object);
            }
        }
        Ok(names)
    }
}

/// The objects in the session's `BaseNamedObjects` directory, as (name,
/// type name), through `NtQueryDirectoryObject` one entry at a time (Wine
/// implements only that mode).
fn list_objects() -> Result<Vec<(String, String)>> {
    use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
    use windows_sys::Wdk::Storage::FileSystem::{NtOpenDirectoryObject, NtQueryDirectoryObject};
    use windows_sys::Win32::Foundation::UNICODE_STRING;
    use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
    use windows_sys::Win32::System::Threading::GetCurrentProcessId;

    let mut session = 0u32;
    // SAFETY: the call writes one u32 through a valid pointer.
    unsafe { ProcessIdToSessionId(GetCurrentProcessId(), &mut session) };
    // Session 0 (services) keeps its named objects in the root directory.
    let path =
        if session == 0 { "\\BaseNamedObjects".to_owned() } else { format!("\\Sessions\\{session}\\BaseNamedObjects") };
    let wpath: Vec<u16> = path.encode_utf16().collect();
    let bytes = u16::try_from(wpath.len() * 2).unwrap_or(u16::MAX);
    let ustr = UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: wpath.as_ptr().cast_mut() };
    let attributes = OBJECT_ATTRIBUTES {
        Length: size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: std::ptr::null_mut(),
        ObjectName: &ustr,
        Attributes: 0x40, // OBJ_CASE_INSENSITIVE
        SecurityDescriptor: std::ptr::null(),
        SecurityQualityOfService: std::ptr::null(),
    };
    let mut raw = std::ptr::null_mut();
    // SAFETY: the attributes and the string they point to are valid for the
    // call; it writes a new handle (owned below). 1 = DIRECTORY_QUERY.
    let status = unsafe { NtOpenDirectoryObject(&mut raw, 0x0001, &attributes) };
    if status < 0 {
        return Err(os_error("NtOpenDirectoryObject", status as u32));
    }
    let dir = Handle::new(raw).ok_or_else(|| os_error("NtOpenDirectoryObject", 0))?;
    // An OBJECT_DIRECTORY_INFORMATION (two UNICODE_STRINGs) followed by the
    // strings; u64 elements keep it aligned.
    let mut buf = vec![0u64; 1024];
    let (mut context, mut restart) = (0u32, true);
    let mut objects = Vec::new();
    loop {
        let mut returned = 0u32;
        // SAFETY: the buffer is valid and writable for the length given.
        let status = unsafe {
            NtQueryDirectoryObject(
                dir.raw(),
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                true,
                restart,
                &mut context,
                &mut returned,
            )
        };
        restart = false;
        if status < 0 {
            // STATUS_NO_MORE_ENTRIES (a warning, so negative too) or an
            // error: done.
            break;
        }
        // SAFETY: on success the buffer starts with an entry whose two
        // strings point into the buffer, `Length` bytes each.
        let (name, kind) = unsafe {
            let entry = &*buf.as_ptr().cast::<[UNICODE_STRING; 2]>();
            let text = |s: &UNICODE_STRING| {
                if s.Buffer.is_null() {
                    String::new()
                } else {
                    String::from_utf16_lossy(std::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2))
                }
            };
            (text(&entry[0]), text(&entry[1]))
        };
        objects.push((name, kind));
    }
    Ok(objects)
}

/// Waking a consumer when a ring appears: Windows has no change
/// notification for named objects, so the caller naps instead.
#[derive(Debug)]
pub(crate) struct Arrivals;

impl Arrivals {
    /// `None`: there is nothing to watch on Windows.
    pub(crate) fn watch(_name: &RingName) -> Option<Self> {
        None
    }

    /// Never called (`watch` gives none).
    pub(crate) fn wait(&self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}
