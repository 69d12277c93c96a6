//! Ring names and the shared-memory object names they map to.

use std::fmt;

use crate::error::{Error, Result};

/// The prefix of every framering shared-memory object (`/dev/shm/framering.NAME`
/// on Linux), so that rings can be listed and never collide with other
/// programs' objects.
pub const SHM_PREFIX: &str = "framering.";

/// The longest accepted ring name in bytes.
pub const MAX_NAME_LEN: usize = 200;

/// A validated ring name.
///
/// A name is 1 to [`MAX_NAME_LEN`] bytes of ASCII letters, digits, `-`, `_`
/// and `.`, does not start with `.`, and does not contain `..`. The ring's
/// shared-memory object is named `/framering.NAME`.
///
/// ```
/// use framering::RingName;
/// assert!(RingName::new("cam0").is_ok());
/// assert!(RingName::new("../etc").is_err());
/// assert!(RingName::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RingName(String);

impl RingName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self> {
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
            None => Ok(Self(name.to_owned())),
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The POSIX shared-memory object name, `/framering.NAME`.
    pub fn shm_path(&self) -> String {
        format!("/{SHM_PREFIX}{}", self.0)
    }
}

impl fmt::Debug for RingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for RingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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

    #[test]
    fn rejects_every_bad_name_with_its_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("a/b", "'/'"),
            ("/cam", "'/'"),
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
}
