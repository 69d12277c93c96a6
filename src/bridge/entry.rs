//! One frame as a Redis stream entry: the fixed binary `meta` field and the
//! rules that validate it. `docs/BRIDGE.md` specifies the same bytes.

use std::fmt;

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::format::{FrameInfo, PixelFormat};

/// The first four bytes of every `meta` field.
pub const ENTRY_MAGIC: [u8; 4] = *b"FRBR";
/// The entry format this build writes and reads.
pub const ENTRY_VERSION: u16 = 1;
/// The stream field holding the 64 `meta` bytes (see [`EntryInfo`]).
pub const META_FIELD: &str = "meta";
/// The stream field holding the payload.
pub const DATA_FIELD: &str = "data";

/// How an entry's payload is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The frame's bytes exactly as in the source ring (MJPEG frames are
    /// always sent this way: they are compressed already).
    Raw,
    /// A baseline JPEG of the frame, to be decoded back into its format.
    Jpeg,
}

impl Encoding {
    fn code(self) -> u8 {
        match self {
            Self::Raw => 0,
            Self::Jpeg => 1,
        }
    }
}

/// Bit 0 of `flags`: the source frame carried a capture time.
const FLAG_CAPTURED: u8 = 1;

/// The `meta` field, 64 bytes, all integers little-endian.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub(crate) struct EntryMeta {
    magic: [u8; 4],
    version: U16,
    encoding: u8,
    flags: u8,
    frame: U64,
    dropped: U64,
    capture_ns: U64,
    age_ns: U64,
    sent_unix_ns: U64,
    width: U32,
    height: U32,
    stride: U32,
    fourcc: U32,
}

/// Size of the `meta` field in bytes.
pub const META_LEN: usize = 64;
const _: () = assert!(size_of::<EntryMeta>() == META_LEN);

/// A frame's description as carried by one stream entry, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryInfo {
    /// The frame's number in the source ring.
    pub frame: u64,
    /// Source frames the sending bridge skipped just before this one
    /// (slower than the producer, or Redis unreachable).
    pub dropped: u64,
    /// The source's capture time (its publish time if it had none), in the
    /// source machine's `CLOCK_MONOTONIC` ns.
    pub capture_ns: u64,
    /// Whether the source frame carried its own capture time.
    pub captured: bool,
    /// How long before sending the frame was captured, ns (source clock).
    pub age_ns: u64,
    /// `CLOCK_REALTIME` ns when the sending bridge sent it.
    pub sent_unix_ns: u64,
    /// How the payload is stored.
    pub encoding: Encoding,
    /// Width, height, stride and format of the frame in the source ring
    /// (its `capture_ns` is left `None`; see the fields above).
    pub info: FrameInfo,
}

impl EntryInfo {
    /// The 64 `meta` bytes for this description.
    pub fn to_bytes(self) -> [u8; META_LEN] {
        let meta = EntryMeta {
            magic: ENTRY_MAGIC,
            version: ENTRY_VERSION.into(),
            encoding: self.encoding.code(),
            flags: if self.captured { FLAG_CAPTURED } else { 0 },
            frame: self.frame.into(),
            dropped: self.dropped.into(),
            capture_ns: self.capture_ns.into(),
            age_ns: self.age_ns.into(),
            sent_unix_ns: self.sent_unix_ns.into(),
            width: self.info.width.into(),
            height: self.info.height.into(),
            stride: self.info.stride.into(),
            fourcc: self.info.format.fourcc().into(),
        };
        let mut out = [0; META_LEN];
        out.copy_from_slice(meta.as_bytes());
        out
    }

    /// Parses and validates a `meta` field and the payload length that came
    /// with it. Any byte string gives a description or an [`EntryError`].
    pub fn parse(meta: &[u8], data_len: usize) -> Result<Self, EntryError> {
        let m = EntryMeta::read_from_bytes(meta).map_err(|_| EntryError::MetaLength { len: meta.len() })?;
        if m.magic != ENTRY_MAGIC {
            return Err(EntryError::BadMagic { found: m.magic });
        }
        if m.version.get() != ENTRY_VERSION {
            return Err(EntryError::UnsupportedVersion { found: m.version.get() });
        }
        let encoding = match m.encoding {
            0 => Encoding::Raw,
            1 => Encoding::Jpeg,
            code => return Err(EntryError::BadField { field: "encoding", value: code.into() }),
        };
        if m.flags & !FLAG_CAPTURED != 0 {
            return Err(EntryError::BadField { field: "flags", value: m.flags.into() });
        }
        let format = PixelFormat::from_fourcc(m.fourcc.get())
            .ok_or(EntryError::BadField { field: "fourcc", value: m.fourcc.get().into() })?;
        let info = FrameInfo::new(m.width.get(), m.height.get(), format).with_stride(m.stride.get());
        let exact = info.payload_len().map_err(|e| EntryError::BadFrame { reason: e.to_string() })?;
        if data_len == 0 {
            return Err(EntryError::BadPayload { len: 0, expected: "at least one byte" });
        }
        match (encoding, exact) {
            (Encoding::Raw, Some(exact)) if data_len != exact => {
                return Err(EntryError::BadPayload { len: data_len, expected: "width, height and stride's length" });
            }
            (Encoding::Jpeg, None) => return Err(EntryError::BadField { field: "encoding", value: 1 }),
            _ => {}
        }
        Ok(Self {
            frame: m.frame.get(),
            dropped: m.dropped.get(),
            capture_ns: m.capture_ns.get(),
            captured: m.flags & FLAG_CAPTURED != 0,
            age_ns: m.age_ns.get(),
            sent_unix_ns: m.sent_unix_ns.get(),
            encoding,
            info,
        })
    }
}

impl From<crate::jpeg::JpegError> for EntryError {
    fn from(e: crate::jpeg::JpegError) -> Self {
        use crate::jpeg::JpegError;
        match e {
            JpegError::Frame { reason } => Self::BadFrame { reason },
            JpegError::Payload { len, expected } => Self::BadPayload { len, expected },
            JpegError::Unsupported { .. } => Self::BadField { field: "encoding", value: 1 },
            JpegError::Jpeg { reason } => Self::BadJpeg { reason },
        }
    }
}

/// Why a stream entry was not a frame. The receiving bridge counts and
/// skips such entries; none is ever a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryError {
    /// The entry lacks the `meta` or the `data` field.
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// The `meta` field is not 64 bytes.
    MetaLength {
        /// Its length.
        len: usize,
    },
    /// The `meta` field does not start with `FRBR`.
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// The entry was written by another entry-format version.
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// A `meta` field holds an unknown value.
    BadField {
        /// The field's name as in `docs/BRIDGE.md`.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// Width, height, stride and format describe no valid frame.
    BadFrame {
        /// Why.
        reason: String,
    },
    /// The payload's length does not fit the description.
    BadPayload {
        /// The payload's length.
        len: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// The frame is larger than the receiving bridge accepts.
    TooLarge {
        /// The frame's size in bytes once decoded.
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The JPEG payload could not be decoded into the described frame.
    BadJpeg {
        /// The decoder's message, or the mismatch found.
        reason: String,
    },
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingField { field } => write!(f, "entry has no `{field}` field"),
            Self::MetaLength { len } => write!(f, "`meta` is {len} bytes, expected {META_LEN}"),
            Self::BadMagic { found } => write!(f, "`meta` does not start with FRBR (found {found:02x?})"),
            Self::UnsupportedVersion { found } => {
                write!(f, "entry format version {found}, this build reads {ENTRY_VERSION}")
            }
            Self::BadField { field, value } => write!(f, "`meta` field `{field}` has invalid value {value}"),
            Self::BadFrame { reason } => write!(f, "entry describes an invalid frame: {reason}"),
            Self::BadPayload { len, expected } => write!(f, "payload is {len} bytes, expected {expected}"),
            Self::TooLarge { len, limit } => write!(f, "frame of {len} bytes is over the {limit}-byte limit"),
            Self::BadJpeg { reason } => write!(f, "JPEG payload: {reason}"),
        }
    }
}

impl std::error::Error for EntryError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EntryInfo {
        EntryInfo {
            frame: 42,
            dropped: 3,
            capture_ns: 123_456_789,
            captured: true,
            age_ns: 1_000,
            sent_unix_ns: 1_700_000_000_000_000_000,
            encoding: Encoding::Raw,
            info: FrameInfo::new(4, 2, PixelFormat::Bgr24).with_stride(16),
        }
    }

    #[test]
    fn meta_round_trips_through_its_bytes() {
        let e = sample();
        assert_eq!(EntryInfo::parse(&e.to_bytes(), 32), Ok(e));
        let j = EntryInfo { encoding: Encoding::Jpeg, captured: false, ..e };
        assert_eq!(EntryInfo::parse(&j.to_bytes(), 7), Ok(j));
    }

    #[test]
    fn meta_bytes_are_little_endian_at_documented_offsets() {
        let b = sample().to_bytes();
        assert_eq!(&b[0..4], b"FRBR");
        assert_eq!(b[4..6], [1, 0]);
        assert_eq!((b[6], b[7]), (0, 1));
        assert_eq!(b[8..16], 42u64.to_le_bytes());
        assert_eq!(b[48..52], 4u32.to_le_bytes());
        assert_eq!(b[56..60], 16u32.to_le_bytes());
        assert_eq!(&b[60..64], b"BGR3");
    }

    #[test]
    fn every_malformed_meta_gives_its_own_error() {
        let good = sample().to_bytes();
        let edit = |at: usize, v: u8| {
            let mut b = good;
            b[at] = v;
            EntryInfo::parse(&b, 32)
        };
        assert_eq!(EntryInfo::parse(&good[..63], 32), Err(EntryError::MetaLength { len: 63 }));
        assert!(matches!(edit(0, b'X'), Err(EntryError::BadMagic { .. })));
        assert_eq!(edit(4, 2), Err(EntryError::UnsupportedVersion { found: 2 }));
        assert_eq!(edit(6, 9), Err(EntryError::BadField { field: "encoding", value: 9 }));
        assert_eq!(edit(7, 2), Err(EntryError::BadField { field: "flags", value: 2 }));
        assert!(matches!(edit(60, b'Z'), Err(EntryError::BadField { field: "fourcc", .. })));
        assert!(matches!(edit(56, 1), Err(EntryError::BadFrame { .. })), "stride shorter than a row");
        assert!(matches!(edit(51, 0xff), Err(EntryError::BadFrame { .. })), "huge width");
        assert!(matches!(EntryInfo::parse(&good, 31), Err(EntryError::BadPayload { len: 31, .. })));
        assert!(matches!(EntryInfo::parse(&good, 0), Err(EntryError::BadPayload { len: 0, .. })));
    }

    #[test]
    fn a_jpeg_encoded_mjpeg_entry_is_refused() {
        let e = EntryInfo { encoding: Encoding::Jpeg, info: FrameInfo::new(4, 2, PixelFormat::Mjpeg), ..sample() };
        assert_eq!(EntryInfo::parse(&e.to_bytes(), 10), Err(EntryError::BadField { field: "encoding", value: 1 }));
    }
}
