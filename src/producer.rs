//! The producer side: [`Producer`], [`RingConfig`] and the zero-copy [`Loan`].

use crate::sync::Ordering;

use crate::error::{Error, Result};
use crate::format::FrameInfo;
use crate::layout::{
    FLAG_BRIDGED, FLAG_LOSSY, Geometry, MAX_FRAME_BYTES, MAX_SEGMENT_BYTES, MAX_SLOTS, MIN_SLOTS, SlotMeta,
};
use crate::name::RingName;
use crate::ring::{Ring, RingWriter};
use crate::seqlock::WriteGuard;
use crate::sys::Claimed;
use crate::sys::claim::{self, Hold};
use crate::sys::clock::monotonic_ns;

/// The shape of a new ring.
///
/// ```
/// use framering::RingConfig;
/// let config = RingConfig::new(4, 1920 * 1080 * 3).with_mode(0o640);
/// assert_eq!(config.slots(), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    slots: u32,
    max_frame_bytes: u64,
    mode: u32,
}

impl RingConfig {
    /// `slots` slots (2..=1024) of `max_frame_bytes` payload each
    /// (1 byte..=1 GiB), readable by the owner only (mode 0600).
    pub const fn new(slots: u32, max_frame_bytes: usize) -> Self {
        Self { slots, max_frame_bytes: max_frame_bytes as u64, mode: 0o600 }
    }

    /// Sets the permission bits of the shared-memory object, e.g. `0o640`
    /// to let the owner's group read frames. Only the low nine bits are
    /// accepted; the umask does not narrow them.
    #[must_use]
    pub const fn with_mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Number of slots.
    pub const fn slots(&self) -> u32 {
        self.slots
    }

    /// Payload capacity of each slot in bytes.
    pub const fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes as usize
    }

    /// The permission bits.
    pub const fn mode(&self) -> u32 {
        self.mode
    }

    /// Checks every setting, as [`Producer::create`] would.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn validate(&self) -> Result<()> {
        self.geometry().map(|_| ())
    }

    fn geometry(&self) -> Result<Geometry> {
        let bad = |field, value, expected| Err(Error::InvalidConfig { field, value, expected });
        if !(MIN_SLOTS..=MAX_SLOTS).contains(&self.slots) {
            return bad("slots", self.slots.into(), "2..=1024");
        }
        if !(1..=MAX_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return bad("max_frame_bytes", self.max_frame_bytes, "1..=1073741824");
        }
        if self.mode > 0o777 {
            return bad("mode", self.mode.into(), "permission bits 0..=0o777");
        }
        match Geometry::new(self.slots, self.max_frame_bytes) {
            Some(g) => Ok(g),
            None => {
                bad("slots * max_frame_bytes", self.slots as u64 * self.max_frame_bytes, "a segment of at most 16 GiB")
            }
        }
    }
}

const _: () = assert!(MAX_SEGMENT_BYTES == 16 << 30);

/// The one writer of a ring.
///
/// Creating a producer creates (or takes over) the shared-memory object
/// `/framering.NAME` and holds its producer lock until dropped. Publishing
/// never waits for consumers. Dropping the producer closes the ring: waiting
/// consumers return [`Error::Closed`] promptly, and the name is removed.
///
/// ```
/// use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig};
/// # let name = format!("doc-producer-{}", std::process::id());
/// let mut tx = Producer::create(&name, RingConfig::new(3, 64 * 48 * 3))?;
/// let mut rx = Consumer::open(&name)?;
///
/// // Zero-copy: write the pixels straight into the slot, then publish.
/// let mut frame = tx.loan(FrameInfo::new(64, 48, PixelFormat::Bgr24))?;
/// frame.pixels_mut().fill(0x80);
/// let number = frame.commit()?;
///
/// let mut buf = FrameBuf::new();
/// let meta = rx.try_latest(&mut buf)?.expect("a frame was published");
/// assert_eq!((meta.frame, meta.info.width, buf.len()), (number, 64, 64 * 48 * 3));
/// # Ok::<(), framering::Error>(())
/// ```
#[derive(Debug)]
pub struct Producer {
    name: RingName,
    // The ring's name as this producer holds it: its liveness (released by
    // the OS however the process ends) and what removes the name at close.
    hold: Hold,
    ring: RingWriter,
    next: u64,
    closed: bool,
}

impl Producer {
    /// Creates the ring `name`, or takes it over from a producer that died.
    ///
    /// A stale ring with the same geometry, owned by this process's
    /// effective user and with the configured permission bits, is reused in
    /// place (consumers keep their mapping and frame numbers continue).
    /// Anything else at the name — another geometry, an unreadable or never
    /// completed ring, another user's object, a symbolic link, a FIFO — is
    /// replaced by a new object, atomically (consumers re-open it by
    /// themselves), where the file system permits; otherwise
    /// [`Error::Occupied`] says what is there and who owns it. A live
    /// producer on the name gives [`Error::ProducerExists`].
    pub fn create(name: &str, config: RingConfig) -> Result<Self> {
        let name = RingName::new(name)?;
        let geometry = config.geometry()?;
        let Claimed { hold, ring, next } = claim::claim(&name, &geometry, config.mode)?;
        Ok(Self { name, hold, ring, next, closed: false })
    }

    /// The ring's name.
    pub fn name(&self) -> &RingName {
        &self.name
    }

    /// Payload capacity of each slot in bytes.
    pub fn max_frame_bytes(&self) -> usize {
        self.ring.ring().geometry().max_frame_bytes as usize
    }

    /// Number of slots.
    pub fn slots(&self) -> u32 {
        self.ring.ring().geometry().slot_count
    }

    /// How many producers have owned this ring, this one included.
    pub fn generation(&self) -> u64 {
        // Relaxed: only this process writes it now.
        self.ring.ring().generation().load(Ordering::Relaxed)
    }

    /// The number the next published frame will get.
    pub fn next_frame(&self) -> u64 {
        self.next
    }

    /// Borrows the slot for the next frame so the caller can write pixels
    /// straight into shared memory. Publish with [`Loan::commit`]; dropping
    /// the loan instead leaves the slot empty and publishes nothing.
    ///
    /// For raw formats the loaned slice is exactly the frame's length; for
    /// compressed formats it is the whole slot and [`Loan::set_len`] says how
    /// much was written.
    pub fn loan(&mut self, info: FrameInfo) -> Result<Loan<'_>> {
        if self.closed {
            return Err(Error::Closed);
        }
        let (stride, exact) = info.layout()?;
        let capacity = self.ring.ring().geometry().max_frame_bytes;
        if let Some(len) = exact
            && len > capacity
        {
            return Err(Error::FrameTooLarge { len, capacity });
        }
        // Within capacity, which fits in memory.
        let exact = exact.map(|l| l as usize);
        Ok(self.begin_loan(info, stride, exact.unwrap_or(capacity as usize), exact))
    }

    /// Copies `payload` into the next slot and publishes it. Returns the
    /// frame number. For raw formats `payload.len()` must equal
    /// `info.payload_len()`.
    pub fn publish(&mut self, info: FrameInfo, payload: &[u8]) -> Result<u64> {
        if self.closed {
            return Err(Error::Closed);
        }
        let (stride, exact) = info.layout()?;
        let (len, capacity) = (payload.len() as u64, self.ring.ring().geometry().max_frame_bytes);
        if exact.is_some_and(|want| want != len) {
            return Err(Error::InvalidFrame { reason: "payload length does not match the frame description" });
        }
        if len > capacity {
            return Err(Error::FrameTooLarge { len, capacity });
        }
        if len == 0 {
            return Err(Error::InvalidFrame { reason: "empty compressed frame" });
        }
        let mut loan = self.begin_loan(info, stride, payload.len(), Some(payload.len()));
        loan.guard.write_payload(payload);
        loan.commit()
    }

    /// Marks the next frame's slot as being written and lends `loaned` bytes
    /// of it. The caller has validated the description and that `loaned`
    /// fits the slot; `len` is the payload length if already known.
    fn begin_loan(&mut self, info: FrameInfo, stride: u32, loaned: usize, len: Option<usize>) -> Loan<'_> {
        debug_assert!(loaned as u64 <= self.ring.ring().geometry().max_frame_bytes);
        let Self { ring, next, .. } = self;
        let (guard, ring) = ring.write_slot(*next);
        Loan { guard, ring, next, info, stride, loaned, len, flags: 0 }
    }

    /// Closes the ring: marks it closed, wakes every waiting consumer and
    /// removes the name. Dropping the producer does the same, ignoring
    /// errors; `close` reports them.
    pub fn close(mut self) -> Result<()> {
        self.close_inner()
    }

    /// Closes the ring as [`close`](Self::close) does (marked closed,
    /// consumers woken, the name removed) but keeps this `Producer`, and
    /// with it the mapping of the ring, until it is dropped: for a binding
    /// whose buffers (a numpy array over a loaned slot, say) may still
    /// point into the ring after its owner asked to close it. Loans and
    /// publishes afterwards fail with [`Error::Closed`]; calling it again
    /// does nothing.
    pub fn shutdown(&mut self) -> Result<()> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.closed, true) {
            return Ok(());
        }
        self.ring.ring().close();
        // Remove the name only if it is still ours (an operator may have
        // removed it and another producer created a new ring since). We hold
        // the lock, so no producer following §5 replaces it meanwhile.
        self.hold.release(&self.name)
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let _ = self.close_inner();
    }
}

/// A slot lent to the caller for writing one frame in place.
///
/// Obtained from [`Producer::loan`]. While it exists the slot is marked as
/// being written, so no consumer will return its contents; dropping it
/// without [`commit`](Self::commit) gives the slot back empty. A loan is
/// [`Send`]: another thread (a decoder, say) may fill and publish it.
#[derive(Debug)]
#[must_use = "a loan publishes nothing until `publish` is called; dropping it abandons the frame"]
pub struct Loan<'a> {
    guard: WriteGuard<'a>,
    ring: &'a Ring,
    next: &'a mut u64,
    info: FrameInfo,
    stride: u32,
    loaned: usize,
    len: Option<usize>,
    flags: u32,
}

// A loan can be filled and published from another thread (its slot guard
// argues why in its own SAFETY comment; the rest are plain borrows).
const _: () = {
    const fn send<T: Send>() {}
    send::<Loan<'static>>();
};

impl Loan<'_> {
    /// The writable payload area inside the slot.
    pub fn pixels_mut(&mut self) -> &mut [u8] {
        self.guard.payload_mut(self.loaned)
    }

    /// Copies `src` to the start of the frame's bytes: what
    /// `pixels_mut()[..src.len()].copy_from_slice(src)` does, but a large
    /// frame is written with streaming stores, which do not read the
    /// slot's old contents into the cache first (on x86-64; elsewhere an
    /// ordinary copy). The way to fill a slot from a buffer the frame
    /// already is in; [`Producer::publish`] does the same. A compressed
    /// frame's length becomes `src.len()`.
    ///
    /// Fails with [`Error::FrameTooLarge`] if `src` is longer than the loan,
    /// and for a raw frame with [`Error::InvalidFrame`] unless `src` is the
    /// frame's exact length; nothing is written then.
    pub fn write_from_slice(&mut self, src: &[u8]) -> Result<()> {
        if src.len() > self.loaned {
            return Err(Error::FrameTooLarge { len: src.len() as u64, capacity: self.loaned as u64 });
        }
        self.set_len(src.len())?;
        self.guard.write_payload(src);
        Ok(())
    }

    /// The number this frame will have once published.
    pub fn frame(&self) -> u64 {
        *self.next
    }

    /// The description the loan was made for.
    pub fn info(&self) -> &FrameInfo {
        &self.info
    }

    /// Sets how many bytes of a compressed frame were written. For raw
    /// formats the length is fixed and only that value is accepted.
    pub fn set_len(&mut self, len: usize) -> Result<()> {
        match self.info.format.is_compressed() {
            true if len >= 1 && len <= self.loaned => {
                self.len = Some(len);
                Ok(())
            }
            true => Err(Error::FrameTooLarge { len: len as u64, capacity: self.loaned as u64 }),
            false if Some(len) == self.len => Ok(()),
            false => Err(Error::InvalidFrame { reason: "raw frames have a fixed length" }),
        }
    }

    /// Sets the capture time (`CLOCK_MONOTONIC` ns) in the loan's
    /// description, for a frame stamped when it is complete rather than when
    /// the slot was loaned; the same field as
    /// [`FrameInfo::with_capture_ns`].
    pub fn set_capture_ns(&mut self, capture_ns: u64) {
        self.info.capture_ns = Some(capture_ns);
    }

    /// Marks the frame as bridged from another ring ([`FLAG_BRIDGED`]), and
    /// as lossily re-encoded on the way if `lossy` ([`FLAG_LOSSY`]). Readers
    /// see it in [`FrameMeta::bridged`](crate::FrameMeta::bridged) and
    /// [`FrameMeta::lossy`](crate::FrameMeta::lossy).
    pub fn set_bridged(&mut self, lossy: bool) {
        self.flags = FLAG_BRIDGED | if lossy { FLAG_LOSSY } else { 0 };
    }

    /// Publishes the frame and returns its number. Fails only for a
    /// compressed frame whose length was never set; the slot is then left
    /// empty and nothing is published.
    pub fn commit(self) -> Result<u64> {
        let len = self.len.ok_or(Error::InvalidFrame { reason: "set_len was not called for a compressed frame" })?;
        let meta = SlotMeta {
            frame: *self.next,
            publish_ns: monotonic_ns(),
            capture_ns: self.info.capture_ns.unwrap_or(0),
            len: len as u64,
            width: self.info.width,
            height: self.info.height,
            stride: self.stride,
            fourcc: self.info.format.fourcc(),
            flags: self.flags,
            reserved: 0,
        };
        self.guard.commit(&meta);
        self.ring.publish(meta.frame);
        *self.next = meta.frame.wrapping_add(1);
        Ok(meta.frame)
    }
}
