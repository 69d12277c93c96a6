//! Turning one stream entry back into the frame it carries, with every
//! length checked before anything is allocated or written.

use super::entry::{Encoding, EntryError, EntryInfo};
use crate::jpeg::Codec;

/// Decodes stream entries into frames: what [`super::BridgeIn`] does before
/// publishing, for programs that read the stream themselves.
///
/// ```
/// use framering::bridge::{EntryDecoder, EntryError};
/// let mut decoder = EntryDecoder::new(64 << 20);
/// let mut frame = Vec::new();
/// let e = decoder.decode(b"not an entry", &[1, 2, 3], &mut frame).unwrap_err();
/// assert_eq!(e, EntryError::MetaLength { len: 12 });
/// ```
pub struct EntryDecoder {
    codec: Codec,
    max_frame_bytes: usize,
}

impl std::fmt::Debug for EntryDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryDecoder").field("max_frame_bytes", &self.max_frame_bytes).finish_non_exhaustive()
    }
}

impl EntryDecoder {
    /// A decoder that refuses frames larger than `max_frame_bytes` once
    /// decoded.
    pub fn new(max_frame_bytes: usize) -> Self {
        Self { codec: Codec::new(), max_frame_bytes }
    }

    /// Validates an entry's `meta` and `data` fields; returns the
    /// description and the frame's length once decoded.
    pub fn check(&self, meta: &[u8], data: &[u8]) -> Result<(EntryInfo, usize), EntryError> {
        let e = EntryInfo::parse(meta, data.len())?;
        // Raw formats have an exact length; MJPEG is as long as it is.
        let len = match e.info.payload_len() {
            Ok(Some(n)) => n,
            _ => data.len(),
        };
        if len > self.max_frame_bytes {
            return Err(EntryError::TooLarge { len: len as u64, limit: self.max_frame_bytes as u64 });
        }
        Ok((e, len))
    }

    /// Writes the frame of a checked entry into `dst`, which is exactly the
    /// length [`check`](Self::check) returned.
    pub(crate) fn fill(&mut self, e: &EntryInfo, data: &[u8], dst: &mut [u8]) -> Result<(), EntryError> {
        match e.encoding {
            Encoding::Jpeg => self.codec.decode(data, &e.info, dst).map_err(EntryError::from),
            // `check` made the lengths equal (raw) or took the data's (MJPEG).
            Encoding::Raw => {
                dst.copy_from_slice(data);
                Ok(())
            }
        }
    }

    /// Checks an entry and decodes its frame into `frame` (replacing its
    /// contents), in the format, size and stride the entry describes.
    pub fn decode(&mut self, meta: &[u8], data: &[u8], frame: &mut Vec<u8>) -> Result<EntryInfo, EntryError> {
        let (e, len) = self.check(meta, data)?;
        frame.clear();
        frame.resize(len, 0);
        self.fill(&e, data, frame)?;
        Ok(e)
    }
}
