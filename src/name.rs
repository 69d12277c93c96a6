//! Ring names and the shared-memory object names they map to.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The prefix of every framering shared-memory object (`/dev/shm/framering.NAME`
/// on Linux), so that rings can be listed and never collide with other
/// programs' objects.
pub const SHM_PREFIX: &str = "framering.";

/// The longest accepted ring name in bytes (the part after any directory).
pub const MAX_NAME_LEN: usize = 200;

/// The environment variable naming the directory rings live in when a name
/// has no directory part: a tmpfs mounted with `huge=` for huge pages, or a
/// volume shared between containers. Unset or empty: [`DEFAULT_DIR`].
pub const DIR_ENV: &str = "FRAMERING_DIR";

/// Where rings live by default: the directory that holds POSIX
/// shared-memory objects on Linux.
#[cfg(not(windows))]
pub const DEFAULT_DIR: &str = "/dev/shm";

/// Where rings live: the session's own namespace of named kernel objects,
/// `Local\` (Windows has no ring directories; see `docs/FORMAT.md` §9).
#[cfg(windows)]
pub const DEFAULT_DIR: &str = "Local";

/// The directory `FRAMERING_DIR` names, or [`DEFAULT_DIR`] (always, on
/// Windows).
pub fn default_ring_dir() -> PathBuf {
    match std::env::var_os(DIR_ENV) {
        Some(dir) if !dir.is_empty() && cfg!(not(windows)) => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_DIR),
    }
}

/// `/DIR/NAME` as (`/DIR`, `NAME`) (`/NAME`: the root); a name without a
/// directory part as (the default directory, name). A relative directory
/// is refused (`Err` says why): it would depend on each process's working
/// directory, so producer and consumers could disagree. Windows has no
/// ring directories: a name with one is refused there.
pub(crate) fn split_dir(name: &str) -> Result<(PathBuf, &str)> {
    if cfg!(windows) && (name.contains('/') || name.contains('\\')) {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            reason: "ring directories are a Linux feature: on Windows a name has no '/' or '\\'",
        });
    }
    match name.rsplit_once('/') {
        Some(("", base)) => Ok((PathBuf::from("/"), base)),
        Some((dir, base)) if dir.starts_with('/') => Ok((PathBuf::from(dir), base)),
        Some(_) => Err(Error::InvalidName {
            name: name.to_owned(),
            reason: "a name with a directory must be an absolute path, /DIR/NAME",
        }),
        None => Ok((default_ring_dir(), name)),
    }
}

/// A validated ring name, with the directory its ring lives in.
///
/// A name is 1 to [`MAX_NAME_LEN`] bytes of ASCII letters, digits, `-`, `_`
/// and `.`, does not start with `.`, and does not contain `..`. The ring's
/// object is the file `framering.NAME` in its directory: `/dev/shm` (the
/// POSIX shared-memory object `/framering.NAME`) unless the environment
/// variable [`FRAMERING_DIR`](DIR_ENV) names another, or the name is an
/// absolute path, `/DIR/NAME`, which puts the ring in `/DIR` whatever the
/// environment says. The directory is taken as given (links in it are
/// followed): choose one that others cannot replace, as with any path.
/// Producer and consumers must agree on the directory. It should be a tmpfs
/// (`/dev/shm`, or one mounted with `huge=` for huge pages; see the
/// repository's docs/PERFORMANCE.md): in a disk-backed directory every frame becomes a disk write.
///
/// ```
/// use framering::RingName;
/// assert!(RingName::new("cam0").is_ok());
/// assert!(RingName::new("../etc").is_err());
/// assert!(RingName::new("").is_err());
/// let huge = RingName::new("/mnt/huge/cam0")?;
/// assert_eq!((huge.base(), huge.dir()), ("cam0", std::path::Path::new("/mnt/huge")));
/// # Ok::<(), framering::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RingName {
    /// The name as given (a path if it had a directory part).
    given: String,
    /// Where the name proper starts in `given`.
    base: usize,
    dir: PathBuf,
}

impl RingName {
    /// Validates `name`, a ring name or `DIR/NAME`.
    pub fn new(name: &str) -> Result<Self> {
        let invalid = |reason| Err(Error::InvalidName { name: name.to_owned(), reason });
        if name.contains('\0') {
            return invalid("the name contains a NUL byte");
        }
        if name.len() > 4000 {
            return invalid("the path is longer than 4000 bytes");
        }
        let (dir, base) = split_dir(name)?;
        match Self::in_dir(dir, base) {
            Ok(parsed) => Ok(Self { given: name.to_owned(), base: name.len() - base.len(), ..parsed }),
            Err(Error::InvalidName { reason, .. }) => invalid(reason),
            Err(e) => Err(e),
        }
    }

    /// Validates ring name `name` (no directory part) in `dir`.
    pub(crate) fn in_dir(dir: PathBuf, name: &str) -> Result<Self> {
        let reason = if name.is_empty() {
            Some("the name is empty")
        } else if name.len() > MAX_NAME_LEN {
            Some("the name is longer than 200 bytes")
        } else if name.contains('/') {
            Some("the name contains '/'")
        } else if name.contains('\0') {
            Some("the name contains a NUL byte")
        } else if name.contains("..") {
            Some("the name contains '..'")
        } else if name.starts_with('.') {
            Some("the name starts with '.'")
        } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            Some("only ASCII letters, digits, '-', '_' and '.' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidName { name: name.to_owned(), reason }),
            None => Ok(Self { given: name.to_owned(), base: 0, dir }),
        }
    }

    /// The name as given: `NAME`, or `DIR/NAME`.
    pub fn as_str(&self) -> &str {
        &self.given
    }

    /// The name without its directory part.
    pub fn base(&self) -> &str {
        &self.given[self.base..]
    }

    /// The directory the ring lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The POSIX shared-memory object name, `/framering.NAME` (meaningful
    /// for rings in `/dev/shm`).
    pub fn shm_path(&self) -> String {
        format!("/{}", self.file_name())
    }

    /// The name of the ring's object in its directory (on Windows, in the
    /// session's namespace): `framering.NAME`.
    pub(crate) fn file_name(&self) -> String {
        format!("{SHM_PREFIX}{}", self.base())
    }

    /// A new private name for an object being made for this ring (Linux):
    /// `.framering-tmp.NAME.PID.K`, unique in this process by `K` and among
    /// processes by `PID` (the caller creates it with `O_EXCL` and tries
    /// another on `EEXIST`). [`temp_owner`] reads it back.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(crate) fn temp_file(&self) -> String {
        use crate::sync::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        // Relaxed: only uniqueness matters, which fetch_add gives in any order.
        let k = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{TEMP_PREFIX}{}.{}.{k}", self.base(), std::process::id())
    }
}

/// Prefix of the private names under which producers build a ring before
/// moving it to its name, and under which displaced objects wait to be
/// deleted (see [`RingName::temp_file`]). A leading `.` keeps them out of
/// every ring name, hence out of `ls`.
#[cfg(all(target_os = "linux", not(loom)))]
const TEMP_PREFIX: &str = ".framering-tmp.";

/// The ring a directory entry is the object of: `NAME` for
/// `framering.NAME` with a valid name.
pub(crate) fn ring_of_file(file: &str) -> Option<RingName> {
    RingName::new(file.strip_prefix(SHM_PREFIX)?).ok()
}

/// The ring name a private object's file name was made for
/// (`.framering-tmp.NAME.PID.K`, see [`RingName::temp_file`]), if it is one.
#[cfg(all(target_os = "linux", not(loom)))]
pub(crate) fn temp_owner(file: &str) -> Option<&str> {
    file.strip_prefix(TEMP_PREFIX)?.rsplitn(3, '.').nth(2)
}

impl fmt::Debug for RingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.given, f)
    }
}

impl fmt::Display for RingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["cam0", "a", "front-door_2.raw", &"x".repeat(MAX_NAME_LEN)] {
            let n = RingName::new(ok).unwrap();
            assert_eq!(n.shm_path(), format!("/framering.{ok}"));
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn rejects_every_bad_name_with_its_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("a/b", "absolute"),
            ("../etc", "absolute"),
            ("/dev/shm/", "empty"),
            ("/", "empty"),
            ("/dev/shm/.hidden", "starts with '.'"),
            ("/dev/shm/a b", "only ASCII"),
            ("a\0b", "NUL"),
            ("..", "'..'"),
            ("a..b", "'..'"),
            (".hidden", "starts with '.'"),
            ("café", "only ASCII"),
            ("a b", "only ASCII"),
        ];
        for (name, want) in cases {
            match RingName::new(name) {
                Err(Error::InvalidName { reason, .. }) => {
                    assert!(reason.contains(want), "{name:?}: {reason}")
                }
                other => panic!("{name:?} gave {other:?}"),
            }
        }
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(RingName::new(&long), Err(Error::InvalidName { .. })));
    }

    #[cfg(all(target_os = "linux", not(loom)))]
    #[test]
    fn private_names_say_their_ring_and_ring_files_their_name() {
        let name = RingName::new("cam.0").unwrap();
        let (a, b) = (name.temp_file(), name.temp_file());
        assert_ne!(a, b);
        assert_eq!((temp_owner(&a), temp_owner(&b)), (Some("cam.0"), Some("cam.0")));
        assert!(a.starts_with(".framering-tmp.cam.0."), "{a}");
        assert_eq!(temp_owner("framering.cam0"), None);
        assert_eq!(ring_of_file(&name.file_name()).as_ref().map(RingName::base), Some("cam.0"));
        assert!(ring_of_file(&a).is_none());
        assert!(ring_of_file("framering.a b").is_none());
    }

    #[cfg(windows)]
    #[test]
    fn windows_names_have_no_directory() {
        assert_eq!(RingName::new("cam0").unwrap().dir(), Path::new("Local"));
        for name in ["/mnt/cam0", "a/b", "Global\\cam0"] {
            assert!(matches!(RingName::new(name), Err(Error::InvalidName { .. })), "{name}");
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn a_path_puts_the_ring_in_its_directory() {
        let n = RingName::new("/mnt/huge/cam0").unwrap();
        assert_eq!((n.as_str(), n.base(), n.dir()), ("/mnt/huge/cam0", "cam0", Path::new("/mnt/huge")));
        assert_eq!(n.shm_path(), "/framering.cam0");
        assert_eq!(RingName::new("/cam0").unwrap().dir(), Path::new("/"));
        // A bare name lives in the default directory (FRAMERING_DIR is not
        // set by the test runner; the tests that set it run in children).
        if std::env::var_os(DIR_ENV).is_none() {
            assert_eq!(RingName::new("cam0").unwrap().dir(), Path::new("/dev/shm"));
        }
    }
}
