//! The consumer side: [`Consumer`], [`FrameMeta`] and [`ProducerState`].

use crate::sync::Ordering;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use crate::buf::FrameBuf;
use crate::error::{Error, LayoutError, Result};
use crate::layout::{STATE_CLOSED, STATE_LIVE};
use crate::name::RingName;
use crate::reader::{Cursor, FrameMeta, Mode, read_ring};
use crate::ring::Ring;
use crate::seqlock::FrameView;
use crate::sys::claim;
use crate::sys::segment::{self, Object};

/// Longest a waiting consumer sleeps before checking that the producer is
/// still alive (a dead process cannot wake anyone).
const LIVENESS_SLICE: Duration = Duration::from_millis(100);
/// Spin rounds of a wait before it sleeps on the futex (see `wait`).
const SPIN_ROUNDS: u32 = 7;
/// What [`Consumer::follow`] found.
enum Follow<R> {
    /// The producer is there (or may be: no probe was due).
    Here,
    /// A frame the gone producer published just before it went.
    Frame((FrameMeta, R)),
    /// A producer is back (the same ring taken over, or a new one).
    Back,
    /// Gone, and no producer is back.
    Gone(ProducerState),
}

/// How often a consumer whose producer is gone looks for a new one.
const REATTACH_POLL: Duration = Duration::from_millis(20);

/// What a consumer knows about the ring's producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProducerState {
    /// A producer process holds the ring.
    Alive,
    /// The producer closed the ring cleanly.
    Closed,
    /// The producer died without closing the ring.
    Dead,
}

impl ProducerState {
    /// The state of the producer of an open ring: closed if its `state`
    /// says so, else alive while a process holds its producer lock.
    pub(crate) fn of(obj: &Object, ring: &Ring) -> Result<Self> {
        // Acquire pairs with the producer's Release store of `state`.
        if ring.state().load(Ordering::Acquire) == STATE_CLOSED {
            return Ok(Self::Closed);
        }
        Ok(if obj.producer_alive()? { Self::Alive } else { Self::Dead })
    }

    fn error(self) -> Error {
        match self {
            Self::Alive => Error::Timeout,
            Self::Closed => Error::Closed,
            Self::Dead => Error::ProducerDead,
        }
    }
}

/// A reader of a ring. Any number may read one ring, each at its own pace.
///
/// A consumer maps the ring read-only: it cannot disturb the producer or
/// other consumers. Reads copy a frame out into a [`FrameBuf`] and never
/// return a torn frame. Two ways to read:
/// - *latest* (`try_latest`, `wait_latest`): the newest complete frame newer
///   than the last one returned — for viewers.
/// - *next* (`try_next`, `wait_next`): every frame in order while the ring
///   still holds it; frames the producer overwrote first are reported in
///   [`FrameMeta::dropped`] — for recorders.
///
/// A consumer outlives its producer: when the producer closes or dies, waits
/// return [`Error::Closed`] or [`Error::ProducerDead`] once; later waits
/// keep waiting for a new producer on the same name (timing out with
/// [`Error::Timeout`] meanwhile; [`Consumer::producer_state`] says the
/// producer is still gone) and carry on with it.
///
/// ```
/// use std::time::Duration;
/// use framering::{Consumer, Error, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig};
/// # let name = format!("doc-consumer-{}", std::process::id());
/// let mut tx = Producer::create(&name, RingConfig::new(2, 16))?;
/// let mut rx = Consumer::open(&name)?;
/// let mut buf = FrameBuf::new();
/// let info = FrameInfo::new(4, 4, PixelFormat::Gray8);
/// tx.publish(info, &[7; 16])?;
/// tx.publish(info, &[8; 16])?;
///
/// let meta = rx.wait_latest(&mut buf, Duration::from_millis(500))?;
/// assert_eq!((meta.frame, buf[0]), (2, 8));
/// assert!(matches!(rx.wait_latest(&mut buf, Duration::from_millis(10)), Err(Error::Timeout)));
/// drop(tx);
/// assert!(matches!(rx.wait_next(&mut buf, Duration::from_secs(5)), Err(Error::Closed)));
/// # Ok::<(), framering::Error>(())
/// ```
#[derive(Debug)]
pub struct Consumer {
    name: RingName,
    /// The ring while there is one at the name (see [`Consumer::new`]).
    at: Option<Attached>,
    /// When `try_*` next checks the producer's liveness, or looks for the
    /// ring (rate-limited, so a polling reader's spin path makes no system
    /// call).
    next_probe: Instant,
    cursor: Cursor,
    gone: Option<ProducerState>,
    /// Why the name held no usable ring when a wait last looked (reported
    /// once per reason).
    unusable: Option<String>,
    /// The user whose rings this consumer accepts (root's too); `None`:
    /// anyone's (see [`Consumer::with_owner`]).
    owner: Option<u32>,
    /// Made by [`Consumer::new`]: waits out what is unusable at the name.
    waits: bool,
    /// While waiting for a ring: a watch on its directory (see `nap`).
    arrivals: Option<segment::Arrivals>,
}

/// An open, validated ring object.
#[derive(Debug)]
struct Attached {
    obj: Object,
    ring: Ring,
}

impl Attached {
    /// Opens the ring at `name`; `Ok(Err(why))` if nothing usable is there
    /// yet (absent, half made, not a ring object, unreadable, owned by a
    /// user other than `owner` or root): a producer may still fix that.
    fn find(name: &RingName, owner: Option<u32>) -> Result<Result<Self, Error>> {
        match claim::open_ring(name) {
            Ok((obj, _)) if !accepts(owner, obj.owner()) => Ok(Err(foreign(name, &obj))),
            Ok((obj, ring)) => {
                // Read faults now, not on the first frames (a reader only;
                // `admin` opens with `claim::open_ring` alone).
                ring.prefault();
                Ok(Ok(Self { obj, ring }))
            }
            Err(
                e @ (Error::NotFound { .. }
                | Error::Layout(_)
                | Error::Occupied { .. }
                | Error::PermissionDenied { .. }),
            ) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }

    /// `last` for a consumer that starts on this ring: its first frame is
    /// the newest one (§4.3).
    fn start(&self) -> u64 {
        // Acquire pairs with the producer's Release store of `published`.
        self.ring.published().load(Ordering::Acquire).saturating_sub(1)
    }

    /// `last` for a consumer that waited for this ring: its first frame is
    /// the oldest one the ring still holds (§5, consumers across restarts).
    fn oldest(&self) -> u64 {
        // Acquire as in `start`.
        let published = self.ring.published().load(Ordering::Acquire);
        published.saturating_sub(u64::from(self.ring.geometry().slot_count))
    }
}

/// Whether a consumer that accepts `owner`'s rings takes one owned by `uid`.
fn accepts(owner: Option<u32>, uid: u32) -> bool {
    owner.is_none_or(|owner| uid == owner || uid == 0)
}

/// The error for a ring owned by a user the consumer does not accept.
fn foreign(name: &RingName, obj: &Object) -> Error {
    Error::Occupied {
        name: name.to_string(),
        occupant: obj.occupant(),
        reason: "its owner is not the user this consumer accepts rings from (Consumer::with_owner)",
    }
}

impl Consumer {
    /// Opens the ring `name` read-only and validates its header. The first
    /// frame read will be the newest one published so far (or the first to
    /// come).
    ///
    /// Fails with [`Error::NotFound`] if there is no such ring and with
    /// `Error::Layout(LayoutError::NotInitialized)` while its producer is
    /// still creating it; both are [`Error::is_transient`]. To wait for a
    /// ring that may not exist yet, use [`Consumer::new`].
    pub fn open(name: &str) -> Result<Self> {
        let name = RingName::new(name)?;
        let (obj, ring) = claim::open_ring(&name)?;
        // Read faults now, not on the first frames.
        ring.prefault();
        let at = Attached { obj, ring };
        Ok(Self {
            name,
            cursor: Cursor { last: at.start(), dropped: 0 },
            at: Some(at),
            next_probe: Instant::now() + LIVENESS_SLICE,
            gone: None,
            unusable: None,
            owner: None,
            waits: false,
            arrivals: None,
        })
    }

    /// Accepts only rings owned by user `uid` (or by root, who can read and
    /// write every ring anyway); by default a consumer accepts any ring it
    /// may read. A ring is a file any user may create under any free name,
    /// so a consumer that must not take another user's frames for its own
    /// producer's says whose they must be: `Consumer::new(name)?.with_owner(uid)`.
    ///
    /// A consumer from [`Consumer::open`] that has already found another
    /// user's ring fails with [`Error::Occupied`] naming its owner; one
    /// from [`Consumer::new`] lets go of it and waits, as for any unusable
    /// object at the name (a wait reports it once).
    ///
    /// ```
    /// use framering::{Consumer, Producer, RingConfig};
    /// # let name = format!("doc-owner-{}", std::process::id());
    /// let tx = Producer::create(&name, RingConfig::new(2, 64))?;
    /// let meta = std::fs::metadata(format!("/dev/shm/framering.{name}")).unwrap();
    /// let me = std::os::unix::fs::MetadataExt::uid(&meta);
    /// let rx = Consumer::new(&name)?.with_owner(me)?; // this user's rings (or root's)
    /// assert!(rx.has_ring());
    /// # drop(tx);
    /// # Ok::<(), framering::Error>(())
    /// ```
    pub fn with_owner(mut self, uid: u32) -> Result<Self> {
        self.owner = Some(uid);
        if let Some(at) = &self.at
            && !accepts(self.owner, at.obj.owner())
        {
            let why = foreign(&self.name, &at.obj);
            if !self.waits {
                return Err(why);
            }
            self.at = None;
        }
        Ok(self)
    }

    /// A consumer of ring `name` whether or not the ring exists yet: until
    /// it appears, waits time out ([`Error::Timeout`]) and `try_*` return
    /// `None`, and both look for it (a wait as soon as a name appears in the
    /// ring's directory, and at least every 20 ms; `try_*` at most every
    /// 100 ms). A ring that is there now is read from its newest frame; one
    /// that appears later, from the oldest frame it still holds (all of its
    /// frames are new to this consumer). Something unusable at the name (an
    /// unreadable ring, a FIFO) is reported once by a wait, then waited out
    /// like an absent ring, since a producer replaces it. Fails for an
    /// invalid name, a ring directory that does not exist
    /// ([`Error::NoDirectory`]) or has a link in its path, or an OS error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use framering::{Consumer, Error, FrameBuf, Producer, RingConfig};
    /// # let name = format!("doc-new-{}", std::process::id());
    /// let mut rx = Consumer::new(&name)?; // no producer yet
    /// let mut buf = FrameBuf::new();
    /// assert!(matches!(rx.wait_latest(&mut buf, Duration::from_millis(30)), Err(Error::Timeout)));
    /// assert!(!rx.has_ring());
    /// let tx = Producer::create(&name, RingConfig::new(2, 64))?;
    /// assert!(matches!(rx.wait_latest(&mut buf, Duration::from_millis(30)), Err(Error::Timeout)));
    /// assert!(rx.has_ring());
    /// # drop(tx);
    /// # Ok::<(), framering::Error>(())
    /// ```
    pub fn new(name: &str) -> Result<Self> {
        let name = RingName::new(name)?;
        let at = Attached::find(&name, None)?.ok();
        let last = at.as_ref().map_or(0, Attached::start);
        let cursor = Cursor { last, dropped: 0 };
        let next_probe = Instant::now() + LIVENESS_SLICE;
        Ok(Self { name, at, next_probe, cursor, gone: None, unusable: None, owner: None, waits: true, arrivals: None })
    }

    /// Waits up to `timeout` for the ring to appear, without reading a frame
    /// ([`Error::Timeout`] if it does not). Returns at once if it is there.
    pub fn wait_for_ring(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now().checked_add(timeout);
        while self.at.is_none() {
            if let Ok(found) = Attached::find(&self.name, self.owner)? {
                self.attach(found);
                break;
            }
            let remaining = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
            if remaining.is_zero() {
                return Err(Error::Timeout);
            }
            self.nap(remaining.min(REATTACH_POLL));
        }
        Ok(())
    }

    /// Waits `timeout` before looking for the ring again, or less: until a
    /// name appears in its directory (the watch is made on the first nap and
    /// dropped when a ring is found).
    fn nap(&mut self, timeout: Duration) {
        if self.arrivals.is_none() {
            self.arrivals = segment::Arrivals::watch(&self.name);
        }
        match &self.arrivals {
            Some(arrivals) => arrivals.wait(timeout),
            None => std::thread::sleep(timeout),
        }
    }

    /// Whether the ring has been found (always true for [`Consumer::open`]).
    pub fn has_ring(&self) -> bool {
        self.at.is_some()
    }

    /// The ring's name.
    pub fn name(&self) -> &RingName {
        &self.name
    }

    /// Payload capacity of each slot in bytes (0 until the ring is found).
    pub fn max_frame_bytes(&self) -> usize {
        self.at.as_ref().map_or(0, |at| at.ring.geometry().max_frame_bytes as usize)
    }

    /// Number of slots (0 until the ring is found).
    pub fn slots(&self) -> u32 {
        self.at.as_ref().map_or(0, |at| at.ring.geometry().slot_count)
    }

    /// The number of the last frame returned (0 if none yet).
    pub fn last_frame(&self) -> u64 {
        self.cursor.last
    }

    /// Total frames this consumer skipped since it was opened (the sum of
    /// [`FrameMeta::dropped`]).
    pub fn dropped(&self) -> u64 {
        self.cursor.dropped
    }

    fn attached(&self) -> Result<&Attached> {
        self.at.as_ref().ok_or_else(|| Error::NotFound { name: self.name.to_string() })
    }

    /// Whether the producer is alive, closed the ring, or died;
    /// [`Error::NotFound`] while the ring has not been found.
    pub fn producer_state(&self) -> Result<ProducerState> {
        let at = self.attached()?;
        ProducerState::of(&at.obj, &at.ring)
    }

    /// The newest complete frame newer than the last one returned, or
    /// `None` if there is none. Never blocks.
    pub fn try_latest(&mut self, buf: &mut FrameBuf) -> Result<Option<FrameMeta>> {
        let got = self.try_read(Mode::Latest, &mut |v| buf.load(v));
        buf.settle(matches!(got, Ok(Some(_))));
        got.map(|got| got.map(|(meta, ())| meta))
    }

    /// The frame after the last one returned (or the oldest the ring still
    /// holds, if the producer lapped this consumer), or `None`. Never blocks.
    pub fn try_next(&mut self, buf: &mut FrameBuf) -> Result<Option<FrameMeta>> {
        let got = self.try_read(Mode::Next, &mut |v| buf.load(v));
        buf.settle(matches!(got, Ok(Some(_))));
        got.map(|got| got.map(|(meta, ())| meta))
    }

    /// Like [`try_latest`](Self::try_latest), but sleeps until a frame
    /// arrives or `timeout` passes ([`Error::Timeout`]).
    pub fn wait_latest(&mut self, buf: &mut FrameBuf, timeout: Duration) -> Result<FrameMeta> {
        let got = self.wait(Mode::Latest, &mut |v| buf.load(v), timeout);
        buf.settle(got.is_ok());
        got.map(|(meta, ())| meta)
    }

    /// Like [`try_next`](Self::try_next), but sleeps until a frame arrives
    /// or `timeout` passes ([`Error::Timeout`]).
    pub fn wait_next(&mut self, buf: &mut FrameBuf, timeout: Duration) -> Result<FrameMeta> {
        let got = self.wait(Mode::Next, &mut |v| buf.load(v), timeout);
        buf.settle(got.is_ok());
        got.map(|(meta, ())| meta)
    }

    /// Like [`try_latest`](Self::try_latest), but instead of copying the
    /// frame into a buffer, runs `f` on it where it lies in the slot and
    /// returns what `f` made of it: a zero-copy validated read. `f` sees
    /// the frame through a [`FrameView`], which only copies bytes out (a
    /// whole frame into the caller's memory, or a row at a time into a
    /// small buffer to convert from); if the slot changed while `f` ran,
    /// its result is dropped and the read retried, so `f` may run more than
    /// once per frame and must not act on what it sees before the read
    /// returns.
    ///
    /// ```
    /// use framering::{Consumer, FrameInfo, PixelFormat, Producer, RingConfig};
    /// # let name = format!("doc-with-{}", std::process::id());
    /// let mut tx = Producer::create(&name, RingConfig::new(2, 16))?;
    /// let mut rx = Consumer::open(&name)?;
    /// tx.publish(FrameInfo::new(4, 4, PixelFormat::Gray8), &[9; 16])?;
    /// // The sum of the first row, straight from the slot.
    /// let (meta, sum) = rx
    ///     .try_latest_with(|view| {
    ///         let mut row = [0u8; 4];
    ///         view.copy_to(0, &mut row);
    ///         row.iter().map(|&b| u32::from(b)).sum::<u32>()
    ///     })?
    ///     .expect("a frame");
    /// assert_eq!((meta.frame, sum), (1, 36));
    /// # Ok::<(), framering::Error>(())
    /// ```
    pub fn try_latest_with<R>(&mut self, mut f: impl FnMut(&FrameView<'_>) -> R) -> Result<Option<(FrameMeta, R)>> {
        self.try_read(Mode::Latest, &mut f)
    }

    /// [`try_next`](Self::try_next) with a closure, as
    /// [`try_latest_with`](Self::try_latest_with).
    pub fn try_next_with<R>(&mut self, mut f: impl FnMut(&FrameView<'_>) -> R) -> Result<Option<(FrameMeta, R)>> {
        self.try_read(Mode::Next, &mut f)
    }

    /// [`wait_latest`](Self::wait_latest) with a closure, as
    /// [`try_latest_with`](Self::try_latest_with).
    pub fn wait_latest_with<R>(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(&FrameView<'_>) -> R,
    ) -> Result<(FrameMeta, R)> {
        self.wait(Mode::Latest, &mut f, timeout)
    }

    /// [`wait_next`](Self::wait_next) with a closure, as
    /// [`try_latest_with`](Self::try_latest_with).
    pub fn wait_next_with<R>(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(&FrameView<'_>) -> R,
    ) -> Result<(FrameMeta, R)> {
        self.wait(Mode::Next, &mut f, timeout)
    }

    fn try_read<R>(&mut self, mode: Mode, f: &mut impl FnMut(&FrameView<'_>) -> R) -> Result<Option<(FrameMeta, R)>> {
        let got = self.read(mode, f)?;
        if got.is_some() {
            return Ok(got);
        }
        // Nothing new: has the producer gone, and another come? Closed is a
        // load; death needs a lock probe, made at most once per slice so a
        // polling reader's spin path stays free of system calls (reading
        // the clock is not one on Linux).
        let now = Instant::now();
        let probe = now >= self.next_probe;
        if probe {
            self.next_probe = now + LIVENESS_SLICE;
        }
        if self.at.is_none() {
            if probe && self.reattach()? {
                return self.read(mode, f);
            }
            return Ok(None);
        }
        match self.follow(mode, f, probe, None)? {
            Follow::Frame(got) => Ok(Some(got)),
            Follow::Back => self.read(mode, f),
            Follow::Here | Follow::Gone(_) => Ok(None),
        }
    }

    /// After a read found nothing new: is the producer gone (the ring
    /// closed; dead, if `probe` allows a lock probe; or `assumed`, a loss
    /// already reported), and if so, what follows it: first a frame it
    /// published just before (§4.6), then a producer that came back. The
    /// one place both the polling and the waiting reads follow producers.
    fn follow<R>(
        &mut self,
        mode: Mode,
        f: &mut impl FnMut(&FrameView<'_>) -> R,
        probe: bool,
        assumed: Option<ProducerState>,
    ) -> Result<Follow<R>> {
        let Some(at) = &self.at else { return Ok(Follow::Here) };
        // Acquire pairs with the producer's Release store of `state`.
        let gone = if at.ring.state().load(Ordering::Acquire) == STATE_CLOSED {
            Some(ProducerState::Closed)
        } else if probe && !at.obj.producer_alive()? {
            Some(ProducerState::Dead)
        } else {
            assumed
        };
        let Some(state) = gone else { return Ok(Follow::Here) };
        if let Some(got) = self.read_once_more(mode, f)? {
            self.gone = None;
            return Ok(Follow::Frame(got));
        }
        if self.reattach()? {
            self.gone = None;
            return Ok(Follow::Back);
        }
        Ok(Follow::Gone(state))
    }

    /// The last read before reporting the producer gone: after the Acquire
    /// load of `state` (or the lock probe) that said so, `published` holds
    /// the producer's final count. Being lapped here is not an error.
    fn read_once_more<R>(
        &mut self,
        mode: Mode,
        f: &mut impl FnMut(&FrameView<'_>) -> R,
    ) -> Result<Option<(FrameMeta, R)>> {
        match self.read(mode, f) {
            Err(Error::Lapped { .. }) => Ok(None),
            other => other,
        }
    }

    /// Up to READ_ATTEMPTS tries to copy out the wanted frame.
    fn read<R>(&mut self, mode: Mode, f: &mut impl FnMut(&FrameView<'_>) -> R) -> Result<Option<(FrameMeta, R)>> {
        let Some(at) = &self.at else { return Ok(None) };
        read_ring(&at.ring, mode, &mut self.cursor, f)
    }

    fn wait<R>(
        &mut self,
        mode: Mode,
        f: &mut impl FnMut(&FrameView<'_>) -> R,
        timeout: Duration,
    ) -> Result<(FrameMeta, R)> {
        let deadline = Instant::now().checked_add(timeout);
        // Spin briefly before sleeping, and never yield: a yield hands the
        // core to whatever else is runnable (a face model's busy thread) for
        // a whole time slice, and a frame published meanwhile waits for it.
        // `cargo bench --bench latency`, 64 B every 1 ms with a busy loop
        // on every core: p99 707 µs with crossbeam's spin-then-yield (13×
        // a bare futex waiter), 24–32 µs without (1.05–1.12×). SPIN_ROUNDS
        // of `Backoff::spin` are 127 pause instructions, about a microsecond.
        let backoff = Backoff::new();
        let mut spins = 0;
        let mut probe = false;
        let mut lapped;
        loop {
            let Some(at) = &self.at else {
                // No ring at the name yet: look for it in short naps.
                match Attached::find(&self.name, self.owner)? {
                    Ok(found) => {
                        self.attach(found);
                        continue;
                    }
                    Err(e) if !matches!(e, Error::NotFound { .. } | Error::Layout(LayoutError::NotInitialized)) => {
                        let why = e.to_string();
                        if self.unusable.as_deref() != Some(&why) {
                            self.unusable = Some(why);
                            return Err(e);
                        }
                    }
                    Err(_) => {}
                }
                let remaining = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
                if remaining.is_zero() {
                    return Err(Error::Timeout);
                }
                self.nap(remaining.min(REATTACH_POLL));
                continue;
            };
            // Acquire pairs with the Release increment in `Ring::wake_all`;
            // loaded before reading, so a publish after the read changes the
            // word and FUTEX_WAIT below returns at once.
            let seen = at.ring.notify().load(Ordering::Acquire);
            lapped = match self.read(mode, f) {
                Ok(Some(got)) => {
                    self.gone = None;
                    return Ok(got);
                }
                Ok(None) => None,
                Err(e @ Error::Lapped { .. }) => Some(e),
                Err(e) => return Err(e),
            };
            let remaining = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
            let assumed = self.gone;
            match self.follow(mode, f, std::mem::take(&mut probe), assumed)? {
                Follow::Here => {}
                // A frame published between the read above and the state
                // check is returned before the loss is reported (§4.6).
                Follow::Frame(got) => return Ok(got),
                Follow::Back => {
                    // A producer is back: wait for its frames on the futex.
                    backoff.reset();
                    spins = 0;
                    continue;
                }
                Follow::Gone(state) => {
                    if self.gone != Some(state) {
                        // Report each loss of the producer once, promptly.
                        self.gone = Some(state);
                        return Err(state.error());
                    }
                    // Reported already: wait for a new producer like for a
                    // frame (`producer_state` tells a caller it is still gone).
                    if remaining.is_zero() {
                        return Err(Error::Timeout);
                    }
                    self.nap(remaining.min(REATTACH_POLL));
                    continue;
                }
            }
            let Some(at) = &self.at else { continue };
            if remaining.is_zero() {
                return Err(lapped.unwrap_or(Error::Timeout));
            }
            if spins < SPIN_ROUNDS {
                backoff.spin();
                spins += 1;
                continue;
            }
            at.ring.sleep(seen, remaining.min(LIVENESS_SLICE));
            // Relaxed: only decides whether to probe; the loop re-reads with Acquire.
            probe = at.ring.notify().load(Ordering::Relaxed) == seen;
        }
    }

    /// Looks for a live producer after the current one closed or died: the
    /// same object taken over in place, or a new object under the name.
    /// Returns true if there is one (and switches to it if it is new). A
    /// consumer without a ring takes whatever ring is found.
    fn reattach(&mut self) -> Result<bool> {
        if let Some(at) = &self.at
            // Acquire pairs with the Release store of STATE_LIVE by a
            // producer that took this object over in place.
            && at.ring.state().load(Ordering::Acquire) == STATE_LIVE
            && at.obj.producer_alive()?
        {
            return Ok(true);
        }
        let Ok(found) = Attached::find(&self.name, self.owner)? else { return Ok(false) };
        if let Some(at) = &self.at
            // Acquire as above, for the new object.
            && (found.obj.is(&at.obj)
                || found.ring.state().load(Ordering::Acquire) != STATE_LIVE
                || !found.obj.producer_alive()?)
        {
            return Ok(false);
        }
        self.attach(found);
        Ok(true)
    }

    /// Switches to `found`, a ring that appeared while this consumer
    /// waited for one (none at the name when it started, or its producer
    /// gone): every frame in it is new to this consumer, so reading starts
    /// at the oldest one it still holds (a producer that published a few
    /// frames and closed before the consumer looked loses none of them).
    fn attach(&mut self, found: Attached) {
        self.cursor.last = found.oldest();
        self.at = Some(found);
        (self.gone, self.unusable, self.arrivals) = (None, None, None);
    }
}
