//! `framering.Consumer` and `Frame`: frames out of a ring into numpy arrays.
//!
//! A read copies the frame once, straight from its slot into the numpy
//! array returned (the core's validated closure read), with the GIL
//! released. Arrays are recycled only when nothing but the consumer holds
//! them, so a frame a caller keeps is never overwritten, and a display loop
//! that lets each frame go allocates no frame-sized memory in steady state.

use std::time::{Duration, Instant};

use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use framering::{Consumer, Error, FrameMeta, FrameView, ProducerState};

use crate::errors::{IntoPy, new_err, to_py};
use crate::layout::array_shape;

/// How long one GIL-free wait lasts before signals are checked.
const SLICE: Duration = Duration::from_millis(50);
/// Arrays a consumer keeps for reuse.
const POOL: usize = 3;

/// A reader of a ring. ``Consumer(name)`` works before the ring exists:
/// waits time out until it appears, and a ring found while waiting is read
/// from its oldest frame. ``owner=UID`` accepts only rings of that user (or
/// root's); by default any ring this user may read.
///
/// Raises ``InvalidArgument`` (a ``ValueError``) for a bad name and
/// ``NoRingDirectory`` (a ``FileNotFoundError``) when the ring's directory
/// does not exist.
#[pyclass(module = "framering._framering", name = "Consumer")]
pub struct PyConsumer {
    inner: Option<Consumer>,
    name: String,
    /// Arrays handed out before, reused when only this list holds them.
    pool: Vec<Py<PyArrayDyn<u8>>>,
    /// Where a frame lands when no pooled array fits (first frames, a size
    /// change), before it is copied into a new array.
    scratch: Vec<u8>,
}

/// One frame read from a ring: ``array`` (owned by the caller) and its
/// metadata.
#[pyclass(module = "framering._framering", name = "Frame", frozen, get_all)]
pub struct PyFrame {
    /// The pixels (a numpy uint8 array shaped for the format).
    array: Py<PyAny>,
    /// The frame's number (1, 2, …).
    frame: u64,
    /// Frames skipped between the previous frame returned and this one.
    dropped: u64,
    /// ``time.monotonic_ns()`` when it was published.
    publish_ns: u64,
    /// ``time.monotonic_ns()`` when it was captured, if the producer said.
    capture_ns: Option<u64>,
    width: u32,
    height: u32,
    /// Pixel format name (``"BGR24"``, ``"NV12"``, …).
    format: &'static str,
    /// Bytes per row in the ring (the array's rows are packed).
    stride: u32,
    /// Came through a bridge from another ring.
    bridged: bool,
    /// Lossily re-encoded on the way (JPEG).
    lossy: bool,
}

#[pymethods]
impl PyFrame {
    fn __repr__(&self) -> String {
        format!(
            "<framering.Frame {} {}x{} {} dropped={}>",
            self.frame, self.width, self.height, self.format, self.dropped
        )
    }
}

/// Where a read should put the frame.
enum Dest<'a> {
    /// An array of this shape (a pooled one, or the caller's `out=`).
    Array(&'a mut [u8], Vec<usize>),
    /// Nothing ready: the scratch buffer.
    None,
}

/// Where it went.
enum Landed {
    Dest,
    Scratch(Vec<usize>),
    /// `out=` did not fit this frame (shape given).
    Mismatch(Vec<usize>),
}

#[derive(Clone, Copy)]
enum Mode {
    Latest,
    Next,
}

fn busy(py: Python<'_>) -> PyErr {
    new_err(py, "RingBusy", "this Consumer is in use by another thread (use one Consumer per thread)")
}

impl PyConsumer {
    /// One read: `timeout` `None` for a `try_*` read, `Some(None)` to wait
    /// forever. Returns `None` only for a `try_*` read with nothing new.
    fn read(
        slf: &Bound<'_, Self>,
        mode: Mode,
        timeout: Option<Option<f64>>,
        out: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<PyFrame>> {
        let py = slf.py();
        let mut this = slf.try_borrow_mut().map_err(|_| busy(py))?;
        let this = &mut *this;
        let deadline = match timeout {
            Some(Some(t)) if !(t >= 0.0 && t.is_finite()) => {
                return Err(new_err(py, "InvalidArgument", format!("timeout must be >= 0 seconds or None, got {t}")));
            }
            Some(Some(t)) => Some(Instant::now() + Duration::from_secs_f64(t.min(1e9))),
            _ => None,
        };
        // The destination array, borrowed writable for the read.
        let out_array = out.map(|o| out_array(py, o)).transpose()?;
        let pooled = match &out_array {
            Some(_) => None,
            None => this
                .pool
                .iter()
                .position(|a| crate::refs(py, a) == 1)
                .map(|i| this.pool[i].clone_ref(py).into_bound(py)),
        };
        let target = out_array.as_ref().or(pooled.as_ref());
        let mut rw =
            target.map(|a| a.try_readwrite()).transpose().map_err(|e| new_err(py, "LoanError", e.to_string()))?;
        let shape = target.map(|a| a.shape().to_vec());
        let name = this.name.clone();
        let consumer = this
            .inner
            .as_mut()
            .ok_or_else(|| new_err(py, "RingClosed", format!("the consumer of ring {name:?} is closed")))?;
        let scratch = &mut this.scratch;
        let mut dest = match (rw.as_mut(), shape) {
            (Some(rw), Some(shape)) => match rw.as_slice_mut() {
                Ok(bytes) => Dest::Array(bytes, shape),
                Err(_) => return Err(new_err(py, "InvalidArgument", "out= must be a C-contiguous array")),
            },
            _ => Dest::None,
        };
        let has_out = out.is_some();
        let mut land = |view: &FrameView<'_>| -> Landed {
            let packed = view.packed_len();
            let shape = array_shape(view.info(), packed);
            match &mut dest {
                Dest::Array(bytes, want) if *want == shape && bytes.len() == packed => {
                    view.copy_packed(bytes);
                    Landed::Dest
                }
                Dest::Array(..) if has_out => Landed::Mismatch(shape),
                _ => {
                    scratch.resize(packed, 0);
                    view.copy_packed(scratch);
                    Landed::Scratch(shape)
                }
            }
        };
        let got = loop {
            let waited = match timeout {
                None => py.detach(|| consumer.try_latest_or_next(mode, &mut land)),
                Some(_) => {
                    let slice = deadline.map_or(SLICE, |d| d.saturating_duration_since(Instant::now()).min(SLICE));
                    match py.detach(|| consumer.wait_mode(mode, slice, &mut land)) {
                        Ok(got) => Ok(Some(got)),
                        // Keep waiting in slices until the deadline, checking
                        // for Ctrl-C between them.
                        Err(Error::Timeout | Error::Lapped { .. }) if deadline.is_none_or(|d| Instant::now() < d) => {
                            py.check_signals()?;
                            continue;
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            break waited.py_err(py)?;
        };
        drop(rw);
        let Some((meta, landed)) = got else { return Ok(None) };
        let array = match landed {
            Landed::Dest => target.map(|a| a.clone().into_any().unbind()),
            Landed::Mismatch(shape) => {
                let have = out_array.as_ref().map(|a| a.shape().to_vec()).unwrap_or_default();
                return Err(new_err(
                    py,
                    "InvalidArgument",
                    format!(
                        "out= has shape {} but frame {} ({}x{} {}) needs a C-contiguous uint8 array of shape {}",
                        crate::layout::tuple(&have),
                        meta.frame,
                        meta.info.width,
                        meta.info.height,
                        meta.info.format.name(),
                        crate::layout::tuple(&shape)
                    ),
                ));
            }
            Landed::Scratch(shape) => {
                let fresh = PyArrayDyn::<u8>::zeros(py, shape, false);
                fresh
                    .try_readwrite()
                    .map_err(|e| new_err(py, "LoanError", e.to_string()))?
                    .as_slice_mut()
                    .map_err(|e| new_err(py, "LoanError", e.to_string()))?
                    .copy_from_slice(&this.scratch);
                this.keep(py, &fresh);
                Some(fresh.into_any().unbind())
            }
        };
        let array = array.ok_or_else(|| new_err(py, "FrameringError", "no array for the frame"))?;
        Ok(Some(frame(array, &meta)))
    }

    /// Remembers `array` for reuse, in place of one nobody else holds (or
    /// the oldest).
    fn keep(&mut self, py: Python<'_>, array: &Bound<'_, PyArrayDyn<u8>>) {
        let entry = array.clone().unbind();
        if self.pool.len() < POOL {
            self.pool.push(entry);
        } else {
            let i = self.pool.iter().position(|a| crate::refs(py, a) == 1).unwrap_or(0);
            self.pool[i] = entry;
        }
    }
}

/// The caller's `out=` array: uint8, C-contiguous, writable.
fn out_array<'py>(py: Python<'py>, out: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
    let untyped =
        out.cast::<PyUntypedArray>().map_err(|_| new_err(py, "InvalidArgument", "out= must be a numpy array"))?;
    let array = untyped
        .cast::<PyArrayDyn<u8>>()
        .map_err(|_| new_err(py, "InvalidArgument", format!("out= must have dtype uint8, not {}", untyped.dtype())))?;
    if !array.is_c_contiguous() {
        return Err(new_err(py, "InvalidArgument", "out= must be C-contiguous (np.empty(shape, np.uint8))"));
    }
    Ok(array.clone())
}

fn frame(array: Py<PyAny>, meta: &FrameMeta) -> PyFrame {
    PyFrame {
        array,
        frame: meta.frame,
        dropped: meta.dropped,
        publish_ns: meta.publish_ns,
        capture_ns: meta.info.capture_ns,
        width: meta.info.width,
        height: meta.info.height,
        format: meta.info.format.name(),
        stride: meta.info.stride,
        bridged: meta.bridged,
        lossy: meta.lossy,
    }
}

/// The mode-generic reads of the core consumer.
trait Reads {
    fn try_latest_or_next<R>(
        &mut self,
        mode: Mode,
        f: &mut impl FnMut(&FrameView<'_>) -> R,
    ) -> framering::Result<Option<(FrameMeta, R)>>;
    fn wait_mode<R>(
        &mut self,
        mode: Mode,
        timeout: Duration,
        f: &mut impl FnMut(&FrameView<'_>) -> R,
    ) -> framering::Result<(FrameMeta, R)>;
}

impl Reads for Consumer {
    fn try_latest_or_next<R>(
        &mut self,
        mode: Mode,
        f: &mut impl FnMut(&FrameView<'_>) -> R,
    ) -> framering::Result<Option<(FrameMeta, R)>> {
        match mode {
            Mode::Latest => self.try_latest_with(f),
            Mode::Next => self.try_next_with(f),
        }
    }

    fn wait_mode<R>(
        &mut self,
        mode: Mode,
        timeout: Duration,
        f: &mut impl FnMut(&FrameView<'_>) -> R,
    ) -> framering::Result<(FrameMeta, R)> {
        match mode {
            Mode::Latest => self.wait_latest_with(timeout, f),
            Mode::Next => self.wait_next_with(timeout, f),
        }
    }
}

#[pymethods]
impl PyConsumer {
    #[new]
    #[pyo3(signature = (name, *, owner = None))]
    fn new(py: Python<'_>, name: &str, owner: Option<u32>) -> PyResult<Self> {
        let inner = py
            .detach(|| match owner {
                Some(uid) => Consumer::new(name)?.with_owner(uid),
                None => Consumer::new(name),
            })
            .py_err(py)?;
        Ok(Self { name: inner.name().to_string(), inner: Some(inner), pool: Vec::new(), scratch: Vec::new() })
    }

    /// Waits for the newest frame newer than the last one returned.
    /// ``timeout`` in seconds (``None``: forever); ``out`` receives the
    /// pixels instead of a new array.    ///
    /// Raises ``Timeout`` (a ``TimeoutError``) when nothing came in time,
    /// ``ProducerClosed`` / ``ProducerDead`` (``ConnectionError``s, once per
    /// loss; waiting again waits for a new producer), ``RingOccupied`` for
    /// something unusable at the name (once), ``CorruptFrame`` for hostile
    /// slot bytes, ``InvalidArgument`` for a bad ``timeout`` or ``out=``,
    /// ``LoanError`` when ``out=`` is not writable, ``RingClosed`` once
    /// closed, ``KeyboardInterrupt`` on Ctrl-C.
    #[pyo3(signature = (timeout = None, out = None))]
    fn wait_latest(
        slf: &Bound<'_, Self>,
        timeout: Option<f64>,
        out: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<PyFrame>> {
        Self::read(slf, Mode::Latest, Some(timeout), out)
    }

    /// Waits for the frame after the last one returned (every frame, in
    /// order, while the ring holds it; ``Frame.dropped`` counts the rest).
    ///
    /// Raises as ``wait_latest`` does.
    #[pyo3(signature = (timeout = None, out = None))]
    fn wait_next(
        slf: &Bound<'_, Self>,
        timeout: Option<f64>,
        out: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<PyFrame>> {
        Self::read(slf, Mode::Next, Some(timeout), out)
    }

    /// The newest frame newer than the last one returned, or ``None``.    ///
    /// Raises as ``wait_latest`` does, but never ``Timeout``.
    #[pyo3(signature = (out = None))]
    fn try_latest(slf: &Bound<'_, Self>, out: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PyFrame>> {
        Self::read(slf, Mode::Latest, None, out)
    }

    /// The frame after the last one returned, or ``None``.    ///
    /// Raises as ``wait_latest`` does, but never ``Timeout``.
    #[pyo3(signature = (out = None))]
    fn try_next(slf: &Bound<'_, Self>, out: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PyFrame>> {
        Self::read(slf, Mode::Next, None, out)
    }

    /// Iterates over frames (newest each time; every frame if ``every``)
    /// until the producer closes the ring. ``timeout`` bounds each wait.
    ///
    /// Iterating raises as ``wait_latest`` does, except that the producer
    /// closing the ring ends the iteration.
    #[pyo3(signature = (timeout = None, every = false))]
    fn frames(slf: &Bound<'_, Self>, timeout: Option<f64>, every: bool) -> FrameIter {
        FrameIter { consumer: slf.clone().unbind(), timeout, mode: if every { Mode::Next } else { Mode::Latest } }
    }

    /// The producer's state: ``"alive"``, ``"closed"``, ``"dead"``, or
    /// ``None`` while the ring does not exist.
    #[getter]
    fn producer_state(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        let Some(inner) = &self.inner else { return Ok(None) };
        match inner.producer_state() {
            Ok(ProducerState::Alive) => Ok(Some("alive")),
            Ok(ProducerState::Closed) => Ok(Some("closed")),
            Ok(_) => Ok(Some("dead")),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(to_py(py, e)),
        }
    }

    /// The ring's name, as given (``NAME`` or ``/DIR/NAME``).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Number of slots (0 until the ring is found).
    #[getter]
    fn slots(&self) -> u32 {
        self.inner.as_ref().map_or(0, Consumer::slots)
    }

    /// Slot capacity in bytes (0 until the ring is found).
    #[getter]
    fn max_frame_bytes(&self) -> usize {
        self.inner.as_ref().map_or(0, Consumer::max_frame_bytes)
    }

    /// The number of the last frame returned (0 if none yet).
    #[getter]
    fn last_frame(&self) -> u64 {
        self.inner.as_ref().map_or(0, Consumer::last_frame)
    }

    /// Frames skipped since the consumer was made.
    #[getter]
    fn dropped(&self) -> u64 {
        self.inner.as_ref().map_or(0, Consumer::dropped)
    }

    /// Unmaps the ring; later reads raise ``RingClosed`` (a
    /// ``ValueError``). Closing again does nothing.
    fn close(&mut self) {
        self.inner = None;
        self.pool.clear();
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &mut self,
        _t: Option<&Bound<'_, PyAny>>,
        _v: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            None => format!("<framering.Consumer {:?} closed>", self.name),
            Some(c) if !c.has_ring() => format!("<framering.Consumer {:?} waiting for the ring>", self.name),
            Some(c) => format!(
                "<framering.Consumer {:?} slots={} max_frame_bytes={} last_frame={}>",
                self.name,
                c.slots(),
                c.max_frame_bytes(),
                c.last_frame()
            ),
        }
    }
}

/// ``Consumer.frames()``: waits for each frame; ends when the producer
/// closes the ring.
#[pyclass(module = "framering._framering", name = "FrameIter")]
pub struct FrameIter {
    consumer: Py<PyConsumer>,
    timeout: Option<f64>,
    mode: Mode,
}

#[pymethods]
impl FrameIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyFrame>> {
        match PyConsumer::read(self.consumer.bind(py), self.mode, Some(self.timeout), None) {
            Err(e) if e.get_type(py).is_subclass(&crate::errors::class(py, "ProducerClosed")).unwrap_or(false) => {
                Ok(None)
            }
            other => other,
        }
    }
}
