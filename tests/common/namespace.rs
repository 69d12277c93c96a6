//! Private mount namespaces for tests and benchmarks that need a
//! `/dev/shm` of their own, or a tmpfs with huge pages (root only).

use std::path::PathBuf;

/// Gives the calling thread (and the processes it spawns) a private mount
/// namespace with an empty tmpfs of its own on /dev/shm (mode 1777, like the
/// real one), so a test can plant FIFOs, links, foreign-owned and stale
/// objects without touching anyone else's rings. Needs root; returns false
/// (after printing why) where it cannot.
pub fn private_shm() -> bool {
    use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_change};
    use rustix::thread::{UnshareFlags, unshare_unsafe};
    if !rustix::process::geteuid().is_root() {
        super::skip::skip("needs root for a private mount namespace with its own /dev/shm");
        return false;
    }
    // SAFETY: NEWNS only gives this thread its own mount namespace (and,
    // implied, its own cwd/root record); it unshares no descriptor table.
    if let Err(e) = unsafe { unshare_unsafe(UnshareFlags::NEWNS) } {
        super::skip::skip(&format!("unshare(CLONE_NEWNS) failed: {e}"));
        return false;
    }
    mount_change("/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC).expect("make / private");
    mount("tmpfs", "/dev/shm", "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, c"mode=1777,size=256m")
        .expect("mount a tmpfs on /dev/shm");
    true
}

/// [`private_shm`], plus a tmpfs mounted `huge=always` at `/dev/shm/huge`
/// (inside the private one, so it goes with the namespace): a ring
/// directory whose memory comes in 2 MiB pages. `None` (after printing
/// why) without root or without transparent huge pages in the kernel.
pub fn private_huge_dir() -> Option<PathBuf> {
    use rustix::mount::{MountFlags, mount};
    if !private_shm() {
        return None;
    }
    let dir = PathBuf::from("/dev/shm/huge");
    std::fs::create_dir(&dir).expect("mkdir /dev/shm/huge");
    let options = c"mode=1777,size=256m,huge=always";
    if let Err(e) = mount("tmpfs", &dir, "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, options) {
        super::skip::skip(&format!("no tmpfs with huge=always here ({e}; transparent huge pages off?)"));
        return None;
    }
    Some(dir)
}
