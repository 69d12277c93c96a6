//! [`FrameBuf`], the consumer's reusable destination buffer.

use crate::seqlock::FrameView;

/// A reusable buffer that receives one frame's payload.
///
/// Reading into the same `FrameBuf` again reuses its allocation, so a
/// consumer allocates only when a frame is larger than any before it.
/// A read that returns no frame leaves the buffer holding the frame read
/// before it or nothing, never part of a frame.
///
/// ```
/// let mut buf = framering::FrameBuf::new();
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Default, Clone)]
pub struct FrameBuf {
    data: Vec<u8>,
    /// A read has loaded bytes it has not yet delivered.
    pending: bool,
}

impl FrameBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self { data: Vec::new(), pending: false }
    }

    /// An empty buffer that can hold `bytes` without reallocating.
    pub fn with_capacity(bytes: usize) -> Self {
        Self { data: Vec::with_capacity(bytes), pending: false }
    }

    /// The payload of the last frame read.
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when no frame is held.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Bytes the buffer can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Takes the payload out as a `Vec`.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    /// Copies the frame `view` shows into the buffer (a read's closure).
    /// The buffer's bytes are reused: no allocation or zeroing when the
    /// frame is no longer than the last.
    pub(crate) fn load(&mut self, view: &FrameView<'_>) {
        self.data.resize(view.len(), 0);
        view.copy_to(0, &mut self.data);
        self.pending = true;
    }

    /// Ends a read that used [`load`](Self::load): a copy the read did not
    /// deliver (torn, or the read gave up) is not left behind.
    pub(crate) fn settle(&mut self, delivered: bool) {
        if std::mem::take(&mut self.pending) && !delivered {
            self.data.clear();
        }
    }
}

impl AsRef<[u8]> for FrameBuf {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl std::ops::Deref for FrameBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data
    }
}
