//! Who may open a ring's objects, and who owns them: the Windows form of a
//! ring's permission bits and owner.
//!
//! Every object a producer creates gets an explicit DACL (never the
//! default one): full access for the creating user, and, if the ring's
//! `mode` lets group or others read (`mode & 0o044`, as `RingConfig::mode`
//! says on Linux), the access a reader needs for Everyone. Write bits for
//! others are ignored: a ring is written only by its producer. Windows has
//! no user ids: where the crate speaks of a uid (`Occupant::uid`,
//! `RingStatus::owner_uid`, `Consumer::with_owner`) it is the owner SID's
//! relative id (its last sub-authority; 1000 and up for local users), and
//! `ls`/`info` also show the whole SID.

use std::ffi::c_void;

use windows_sys::Win32::Foundation::{HLOCAL, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo, SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    GetSidSubAuthority, GetSidSubAuthorityCount, GetTokenInformation, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::{Handle, last_error, os_error, wide};
use crate::error::Result;

/// `READ_CONTROL`: read an object's owner (for `ls`/`info`).
pub(crate) const READ_CONTROL: u32 = 0x0002_0000;
/// `SYNCHRONIZE`: wait on an object.
pub(crate) const SYNCHRONIZE: u32 = 0x0010_0000;
/// `SECTION_QUERY | SECTION_MAP_READ`: map a section read-only.
pub(crate) const SECTION_READ: u32 = 0x0001 | 0x0004;
/// `SECTION_QUERY | SECTION_MAP_READ | SECTION_MAP_WRITE`.
pub(crate) const SECTION_READ_WRITE: u32 = 0x0001 | 0x0002 | 0x0004;
/// `WRITE_DAC`: change an object's DACL.
pub(crate) const WRITE_DAC: u32 = 0x0004_0000;
/// `MUTANT_QUERY_STATE`: ask whether a mutex is held, without taking it.
pub(crate) const MUTANT_QUERY_STATE: u32 = 0x0001;

/// The owner of an object: its SID as text (`S-1-5-21-…-1001`) and the
/// SID's relative id, which stands for a user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) sid: String,
    pub(crate) rid: u32,
}

/// The SDDL of the owner and DACL a producer gives an object of a ring
/// with permission bits `mode`: owned by `user` (a SID string; the default
/// owner may be a group, such as Administrators), full access for it, and
/// `others` (an access mask) for Everyone if `mode` lets group or others
/// read. Protected (`P`): nothing is inherited.
pub(crate) fn sddl(user: &str, mode: u32, others: u32) -> String {
    let mut s = format!("O:{user}D:P(A;;GA;;;{user})");
    if mode & 0o044 != 0 {
        s.push_str(&format!("(A;;0x{others:x};;;WD)"));
    }
    s
}

/// A security descriptor made from SDDL, for the objects a producer creates.
pub(crate) struct Security {
    descriptor: PSECURITY_DESCRIPTOR,
    attributes: SECURITY_ATTRIBUTES,
}

impl Security {
    /// The descriptor for an object of a ring with permission bits `mode`
    /// whose readers need `others` (see [`sddl`]).
    pub(crate) fn for_ring(mode: u32, others: u32) -> Result<Self> {
        let text = wide(&sddl(&current_user()?.sid, mode, others));
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `text` is NUL-terminated; the call allocates the
        // descriptor (freed with LocalFree in Drop) and writes its address
        // into `descriptor`; the size out-pointer may be null.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                text.as_ptr(),
                1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(os_error("ConvertStringSecurityDescriptorToSecurityDescriptorW", last_error()));
        }
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor,
            bInheritHandle: 0,
        };
        Ok(Self { descriptor, attributes })
    }

    /// Gives the object behind `handle` (opened with `WRITE_DAC`) this
    /// descriptor's DACL: an object that existed keeps the DACL of whoever
    /// created it otherwise.
    pub(crate) fn apply(&self, handle: &Handle) -> Result<()> {
        use windows_sys::Win32::Security::{DACL_SECURITY_INFORMATION, SetKernelObjectSecurity};
        // SAFETY: the handle is open and the descriptor valid for the call,
        // which only reads it.
        if unsafe { SetKernelObjectSecurity(handle.raw(), DACL_SECURITY_INFORMATION, self.descriptor) } == 0 {
            return Err(os_error("SetKernelObjectSecurity", last_error()));
        }
        Ok(())
    }

    /// The attributes to pass to a `Create*` call (valid while `self` is).
    pub(crate) fn attributes(&self) -> *const SECURITY_ATTRIBUTES {
        &self.attributes
    }
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security").field("descriptor", &self.descriptor).finish_non_exhaustive()
    }
}

impl Drop for Security {
    fn drop(&mut self) {
        // SAFETY: the descriptor was allocated by
        // ConvertStringSecurityDescriptorToSecurityDescriptorW, which says
        // to free it with LocalFree; nothing uses it after this.
        unsafe { LocalFree(self.descriptor as HLOCAL) };
    }
}

/// `sid` as an [`Owner`]. The caller keeps `sid` valid for the call.
fn owner_of_sid(sid: PSID) -> Result<Owner> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID (the caller's contract); the call
    // allocates the string (freed below with LocalFree).
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(os_error("ConvertSidToStringSidW", last_error()));
    }
    // SAFETY: `text` is the NUL-terminated string just allocated; we read
    // up to its NUL, then free it and never use it again.
    let sid_text = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let s = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text as HLOCAL);
        s
    };
    // SAFETY: `sid` is valid (as above); the count pointer it returns
    // points into the SID, and the index is below the count.
    let rid = unsafe {
        let count = *GetSidSubAuthorityCount(sid);
        if count == 0 { 0 } else { *GetSidSubAuthority(sid, u32::from(count) - 1) }
    };
    Ok(Owner { sid: sid_text, rid })
}

/// The user this process runs as (its token's user).
pub(crate) fn current_user() -> Result<Owner> {
    let mut token = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no
    // closing; the call writes a new token handle (owned below).
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(os_error("OpenProcessToken", last_error()));
    }
    let token = Handle::new(token).ok_or_else(|| os_error("OpenProcessToken", last_error()))?;
    // TOKEN_USER followed by its SID: 256 bytes is more than any SID
    // (at most 68 bytes) needs; u64 elements keep it aligned.
    let mut buf = [0u64; 32];
    let mut len = 0u32;
    // SAFETY: the buffer is valid and writable for its full size, which
    // the call is told; it writes a TOKEN_USER whose SID points into it.
    let ok = unsafe { GetTokenInformation(token.raw(), TokenUser, buf.as_mut_ptr().cast::<c_void>(), 256, &mut len) };
    if ok == 0 {
        return Err(os_error("GetTokenInformation", last_error()));
    }
    // SAFETY: the call succeeded, so the buffer starts with a TOKEN_USER
    // (aligned: u64 elements); its SID pointer points into `buf`, alive
    // for the call below.
    let sid = unsafe { (*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    owner_of_sid(sid)
}

/// The owner of the object behind `handle`, which must have been opened
/// with [`READ_CONTROL`].
pub(crate) fn owner(handle: &Handle) -> Result<Owner> {
    let mut sid: PSID = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `handle` is open; the call allocates a descriptor (freed
    // below) and points `sid` into it; the other out-pointers may be null.
    let rc = unsafe {
        GetSecurityInfo(
            handle.raw(),
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut sid,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    if rc != 0 {
        return Err(os_error("GetSecurityInfo", rc));
    }
    let owner = owner_of_sid(sid);
    // SAFETY: allocated by GetSecurityInfo, which says to free it with
    // LocalFree; `sid` pointed into it and is not used after this.
    unsafe { LocalFree(descriptor as HLOCAL) };
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_ring_grants_only_its_creator() {
        assert_eq!(
            sddl("S-1-5-21-1-2-3-1001", 0o600, SECTION_READ),
            "O:S-1-5-21-1-2-3-1001D:P(A;;GA;;;S-1-5-21-1-2-3-1001)"
        );
    }

    #[test]
    fn a_readable_ring_grants_everyone_what_a_reader_needs_and_no_more() {
        for mode in [0o640, 0o604, 0o644, 0o664] {
            assert_eq!(
                sddl("S-1-5-21-1-2-3-1001", mode, SECTION_READ | READ_CONTROL),
                "O:S-1-5-21-1-2-3-1001D:P(A;;GA;;;S-1-5-21-1-2-3-1001)(A;;0x20005;;;WD)",
                "mode {mode:o}"
            );
        }
        assert_eq!(
            sddl("S-1-5-18", 0o620, SYNCHRONIZE),
            "O:S-1-5-18D:P(A;;GA;;;S-1-5-18)",
            "write bits alone grant nothing"
        );
    }

    #[test]
    fn the_current_user_is_a_sid_with_its_relative_id() {
        let me = current_user().unwrap();
        assert!(me.sid.starts_with("S-1-"), "{me:?}");
        assert!(me.sid.ends_with(&format!("-{}", me.rid)), "{me:?}");
    }

    #[test]
    fn an_object_made_with_a_ring_descriptor_is_owned_by_its_creator() {
        use windows_sys::Win32::System::Threading::CreateMutexW;
        let security = Security::for_ring(0o600, MUTANT_QUERY_STATE).unwrap();
        let name = wide(&format!("Local\\framering-test-owner-{}", std::process::id()));
        // SAFETY: valid attributes and a NUL-terminated name.
        let mutex = Handle::new(unsafe { CreateMutexW(security.attributes(), 0, name.as_ptr()) }).unwrap();
        assert_eq!(owner(&mutex).unwrap(), current_user().unwrap());
    }
}
