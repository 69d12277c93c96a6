//! [`FrameBuf`], the consumer's reusable destination buffer.

/// A reusable buffer that receives one frame's payload.
///
/// Reading into the same `FrameBuf` again reuses its allocation, so a
/// consumer allocates only when a frame is larger than any before it.
/// After a failed read the buffer is empty.
///
/// ```
/// let mut buf = framering::FrameBuf::new();
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Default, Clone)]
pub struct FrameBuf {
    data: Vec<u8>,
}

impl FrameBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self { data: Vec::new() }
    }

    /// An empty buffer that can hold `bytes` without reallocating.
    pub fn with_capacity(bytes: usize) -> Self {
        Self { data: Vec::with_capacity(bytes) }
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

    pub(crate) fn clear(&mut self) {
        self.data.clear();
    }

    /// Replaces the contents with `len` bytes copied from `src`.
    ///
    /// # Safety
    /// `src` must be valid for reads of `len` bytes and must not point into
    /// this buffer. The bytes may be concurrently written by another process
    /// (the seqlock reader discards such a copy); see `docs/FORMAT.md`,
    /// "Why the copy is sound enough".
    /// Clears the buffer and makes it `len` bytes long, for the caller to
    /// fill (the loom backend copies word by word).
    #[cfg(loom)]
    pub(crate) fn filled(&mut self, len: usize) -> &mut [u8] {
        self.data.clear();
        self.data.resize(len, 0);
        &mut self.data
    }

    #[cfg(not(loom))]
    pub(crate) unsafe fn fill_from(&mut self, src: *const u8, len: usize) {
        self.data.clear();
        self.data.reserve(len);
        // SAFETY: after reserve the Vec owns at least `len` writable bytes,
        // disjoint from `src` (caller's contract); `src` is readable for
        // `len` bytes (caller's contract). u8 has no invalid bit patterns,
        // so whatever bytes arrive, set_len exposes only initialized u8s.
        unsafe {
            std::ptr::copy_nonoverlapping(src, self.data.as_mut_ptr(), len);
            self.data.set_len(len);
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
