//! `framering.Producer` and its zero-copy `Loan`.
//!
//! The one file of the binding with `unsafe`: a loan borrows the Rust
//! `Producer` across Python calls (the Python objects cannot carry a
//! lifetime), and its numpy array views the slot in shared memory.

use std::ptr::NonNull;

use numpy::ndarray::{ArrayViewD, ArrayViewMutD, IxDyn};
use numpy::{PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use framering::{Loan, PixelFormat, Producer, RingConfig};

use crate::errors::{IntoPy, new_err};
use crate::layout::{self, Source};
use crate::{parse_format, parse_mode};

/// The Rust producer and the loan that may borrow it.
///
/// Invariant: while `loan` is `Some`, it holds the only use of `*producer`
/// (every other access goes through [`Owned::producer`], which requires
/// `loan` to be `None`), and it is dropped before the producer.
struct Owned {
    loan: Option<OpenLoan>,
    producer: NonNull<Producer>,
}

/// A loan in progress.
struct OpenLoan {
    loan: Loan<'static>,
    /// The numpy array over the loaned bytes; `None` once taken down.
    array: Option<Py<PyUntypedArray>>,
    /// The array's `base`, which every array derived from it keeps alive:
    /// where a closed producer waits for the last of them (`retire`).
    base: Py<LoanBase>,
    /// Which `PyLoan` owns it.
    id: u64,
    /// Its `PyLoan` gave it up (exception, abandon, garbage) while arrays
    /// derived from it were alive: given back as soon as they are gone.
    abandoned: bool,
}

// SAFETY: `producer` is an owned allocation (Box::into_raw), so moving
// `Owned` to another thread moves ownership of a `Producer`, which is Send;
// the loan is a `Loan<'static>`, which is Send (asserted in the core crate);
// `Py<..>` is Send. No thread-bound state is involved.
unsafe impl Send for Owned {}

// SAFETY: nothing in `Owned` has interior mutability: through `&Owned` one
// can only read plain fields (the loan's frame number and description); the
// producer, the slot guard and the pointer are used only through
// `&mut Owned` (PyO3 hands out `&mut` to one thread at a time).
unsafe impl Sync for Owned {}

impl Owned {
    fn new(producer: Producer) -> Self {
        Self { loan: None, producer: NonNull::from(Box::leak(Box::new(producer))) }
    }

    /// The producer, when no loan borrows it.
    fn producer(&mut self) -> Option<&mut Producer> {
        if self.loan.is_some() {
            return None;
        }
        // SAFETY: the pointer came from Box::leak and is freed only in Drop;
        // no loan borrows the producer (checked above) and `&mut self` makes
        // this the only reference.
        Some(unsafe { self.producer.as_mut() })
    }

    /// Opens a loan for `info` (no loan may be open).
    fn begin(&mut self, info: framering::FrameInfo, id: u64, base: Py<LoanBase>) -> framering::Result<&mut OpenLoan> {
        debug_assert!(self.loan.is_none());
        // SAFETY: as in `producer`, and the `'static` borrow is stored in
        // `self.loan`, which the invariant keeps the only use of the producer
        // until it is dropped, always before the producer (Drop below).
        let producer: &'static mut Producer = unsafe { &mut *self.producer.as_ptr() };
        let loan = producer.loan(info)?;
        Ok(self.loan.insert(OpenLoan { loan, array: None, base, id, abandoned: false }))
    }

    /// Closes the ring whatever an open loan's arrays do: the loan is given
    /// back unpublished and the ring closed (consumers see it closed, the
    /// name is removed). The mapping goes with the producer when no array
    /// views the slot; otherwise the producer is handed to the arrays'
    /// `base` and freed with the last of them, so they never point at
    /// unmapped memory and nothing is leaked or left dead.
    fn retire(mut self, py: Python<'_>) -> framering::Result<()> {
        let heir = match self.loan.take() {
            Some(open) if open.array.as_ref().is_some_and(|a| crate::refs(py, a) > 1) => Some(open.base.clone_ref(py)),
            _ => None,
        }; // the loan is dropped here: its slot is given back
        let result = self.producer().map_or(Ok(()), Producer::shutdown);
        match heir {
            Some(base) => *base.get().keep.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(self),
            None => drop(self),
        }
        result
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // Every `Owned` ends through `retire`, which takes the loan first
        // (and hands itself to the arrays' base if they are alive); should
        // a loan still be here, its arrays may view the mapping, so the
        // producer is leaked rather than unmapped under them.
        if self.loan.is_some() {
            return;
        }
        // SAFETY: Box::leak's pointer, freed only here, once; no loan
        // borrows the producer (checked above).
        drop(unsafe { Box::from_raw(self.producer.as_ptr()) });
    }
}

/// The producer of a ring: creates it and publishes numpy frames into it.
///
/// ``Producer(name, slots=4, max_frame_bytes=1920*1080*3, mode="600")``
///
/// Raises ``InvalidArgument`` (a ``ValueError``) for a bad name or size,
/// ``ProducerExists`` while another process produces into the ring,
/// ``RingOccupied`` for something else at the name, ``NoRingDirectory`` for
/// a missing ring directory, ``NoSpace`` when its file system has no room
/// for the ring, ``RingPermissionError`` or ``RingOSError``.
#[pyclass(module = "framering._framering", name = "Producer")]
pub struct PyProducer {
    owned: Option<Owned>,
    name: String,
    slots: u32,
    max_frame_bytes: usize,
    next_id: u64,
}

fn busy(py: Python<'_>) -> PyErr {
    new_err(py, "RingBusy", "this Producer is in use by another thread (use one Producer per thread)")
}

fn closed(py: Python<'_>, name: &str) -> PyErr {
    new_err(py, "RingClosed", format!("the producer of ring {name:?} is closed"))
}

impl PyProducer {
    /// The producer, for publishing or closing: gives back an abandoned loan
    /// whose arrays are gone, and refuses while a loan is open.
    fn settle(&mut self, py: Python<'_>) -> PyResult<&mut Owned> {
        let name = self.name.clone();
        let owned = self.owned.as_mut().ok_or_else(|| closed(py, &name))?;
        if let Some(open) = &owned.loan {
            let alive = open.array.as_ref().map_or(0, |a| crate::refs(py, a) - 1);
            match (open.abandoned, alive) {
                (true, 0) => owned.loan = None,
                (true, n) => {
                    return Err(new_err(
                        py,
                        "LoanError",
                        format!(
                            "the abandoned loan of frame {} still has {n} array(s) viewing its slot \
                             (slot.array or slices of it); delete them first",
                            open.loan.frame()
                        ),
                    ));
                }
                (false, _) => {
                    return Err(new_err(
                        py,
                        "LoanError",
                        format!("a loan (frame {}) is open: commit or abandon it first", open.loan.frame()),
                    ));
                }
            }
        }
        Ok(owned)
    }
}

#[pymethods]
impl PyProducer {
    #[new]
    #[pyo3(signature = (name, slots = 4, max_frame_bytes = 1920 * 1080 * 3, mode = None))]
    fn new(py: Python<'_>, name: &str, slots: i128, max_frame_bytes: i128, mode: Option<&str>) -> PyResult<Self> {
        let slots = int_arg(py, "slots", slots, 2, framering::layout::MAX_SLOTS.into())?;
        let max_frame_bytes = int_arg(py, "max_frame_bytes", max_frame_bytes, 1, 1 << 30)?;
        let mut config = RingConfig::new(slots, max_frame_bytes);
        if let Some(mode) = mode {
            config = config.with_mode(parse_mode(py, mode)?);
        }
        let producer = py.detach(|| Producer::create(name, config)).py_err(py)?;
        Ok(Self {
            name: producer.name().to_string(),
            slots: producer.slots(),
            max_frame_bytes: producer.max_frame_bytes(),
            owned: Some(Owned::new(producer)),
            next_id: 0,
        })
    }

    /// Copies `array` into the next slot and publishes it; returns the frame
    /// number. The format is inferred from the shape ((h, w, 3) BGR24,
    /// (h, w, 4) BGRA, (h, w) GRAY8) unless named; rows may be strided (a
    /// crop). The copy runs with the GIL released.
    ///
    /// Raises ``TypeError`` for an array that is not uint8,
    /// ``InvalidArgument`` (a ``ValueError``) for a shape, format, size or
    /// ``capture_ns`` that does not fit, ``LoanError`` (a ``BufferError``)
    /// while a loan is open, ``RingClosed`` (a ``ValueError``) once closed.
    #[pyo3(signature = (array, format = None, capture_ns = None, *, width = None, height = None))]
    fn publish(
        slf: &Bound<'_, Self>,
        array: &Bound<'_, PyAny>,
        format: Option<&str>,
        capture_ns: Option<i128>,
        width: Option<i128>,
        height: Option<i128>,
    ) -> PyResult<u64> {
        let py = slf.py();
        let capture_ns = capture_ns.map(|ns| int_arg(py, "capture_ns", ns, 0, i128::from(u64::MAX))).transpose()?;
        let width = width.map(|w| int_arg(py, "width", w, 1, MAX_DIMENSION)).transpose()?;
        let height = height.map(|h| int_arg(py, "height", h, 1, MAX_DIMENSION)).transpose()?;
        let format = format.map(|f| parse_format(py, f)).transpose()?;
        let array = u8_array(py, array)?;
        let size = width.zip(height);
        let src = layout::source(array.shape(), array.strides(), format, size)
            .map_err(|why| new_err(py, "InvalidArgument", why))?;
        let ro = array.try_readonly().map_err(|e| new_err(py, "LoanError", e.to_string()))?;
        let pixels = ro.as_array();
        let mut this = slf.try_borrow_mut().map_err(|_| busy(py))?;
        let producer = this.settle(py)?.producer().ok_or_else(|| busy(py))?;
        py.detach(|| publish_rows(producer, &src, &pixels, capture_ns)).py_err(py)
    }

    /// Lends the next slot as a writable numpy array for a `width` x
    /// `height` frame in `format`: ``with tx.loan(w, h, "BGR24") as slot:
    /// fill(slot.array)``. Published on a clean exit (unless already
    /// committed), abandoned on an exception. Publishing refuses
    /// (``LoanError``, a ``BufferError``) while any array derived from
    /// ``slot.array`` is alive.
    ///
    /// Raises ``InvalidArgument`` (a ``ValueError``) for a size or format
    /// that does not fit the ring, ``LoanError`` while another loan is open,
    /// ``RingClosed`` (a ``ValueError``) once closed.
    #[pyo3(signature = (width, height, format = "BGR24"))]
    fn loan(slf: &Bound<'_, Self>, width: i128, height: i128, format: &str) -> PyResult<PyLoan> {
        let py = slf.py();
        let width = int_arg(py, "width", width, 1, MAX_DIMENSION)?;
        let height = int_arg(py, "height", height, 1, MAX_DIMENSION)?;
        let format = parse_format(py, format)?;
        let info = framering::FrameInfo::new(width, height, format);
        let mut this = slf.try_borrow_mut().map_err(|_| busy(py))?;
        this.next_id += 1;
        let id = this.next_id;
        let owned = this.settle(py)?;
        let base = Py::new(py, LoanBase { keep: std::sync::Mutex::new(None) })?;
        let open = owned.begin(info, id, base.clone_ref(py)).py_err(py)?;
        let pixels = open.loan.pixels_mut();
        let shape = layout::array_shape(&info, pixels.len());
        let view = ArrayViewMutD::from_shape(IxDyn(&shape), pixels)
            .map_err(|e| new_err(py, "InvalidArgument", format!("cannot shape the slot as {shape:?}: {e}")))?;
        let base = base.into_bound(py).into_any();
        // SAFETY: the array views the loaned bytes, which stay mapped and
        // lent to this loan until it is committed or given back, and both
        // happen only when no array derived from this one is alive (its
        // reference count is checked first; every numpy view of it keeps it
        // alive through `base`). Closing with arrays alive gives the loan
        // back unpublished but hands the producer, and so the mapping, to
        // `base` (`Owned::retire`), which numpy frees only after the last
        // array: the arrays never reach unmapped memory, and what they
        // write lands in a closed ring's unpublished slot.
        let array = unsafe { PyArrayDyn::<u8>::borrow_from_array(&view, base) };
        open.array = Some(array.into_any().cast_into::<PyUntypedArray>()?.unbind());
        Ok(PyLoan { producer: slf.clone().unbind(), id })
    }

    /// Closes the ring: consumers see ``ProducerClosed``; the name is
    /// removed. Always closes: an open loan is abandoned (its arrays stay
    /// valid, viewing an unpublished slot, until they are gone). Closing
    /// again does nothing. Raises ``RingOSError`` if removing the name
    /// failed (the ring is closed all the same).
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        match self.owned.take() {
            Some(owned) => owned.retire(py).py_err(py),
            None => Ok(()),
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Closes the ring. An exception already on its way out of the
    /// ``with`` block is never replaced by one from closing.
    fn __exit__(
        &mut self,
        py: Python<'_>,
        t: Option<&Bound<'_, PyAny>>,
        _v: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let closed = self.close(py);
        if t.is_none() {
            closed?;
        }
        Ok(false)
    }

    /// The ring's name, as given (``NAME`` or ``/DIR/NAME``).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Number of slots.
    #[getter]
    fn slots(&self) -> u32 {
        self.slots
    }

    /// Payload capacity of each slot in bytes.
    #[getter]
    fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// The number the next published frame gets.
    #[getter]
    fn next_frame(&mut self) -> Option<u64> {
        let owned = self.owned.as_mut()?;
        match &owned.loan {
            Some(open) => Some(open.loan.frame()),
            None => owned.producer().map(|p| p.next_frame()),
        }
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.owned.is_none()
    }

    fn __repr__(&mut self) -> String {
        match self.next_frame() {
            Some(next) => format!(
                "<framering.Producer {:?} slots={} max_frame_bytes={} next_frame={next}>",
                self.name, self.slots, self.max_frame_bytes
            ),
            None => format!("<framering.Producer {:?} closed>", self.name),
        }
    }
}

/// `array` as a uint8 numpy array, or a `TypeError` naming the fix.
fn u8_array<'py>(py: Python<'py>, array: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
    let Ok(untyped) = array.cast::<PyUntypedArray>() else {
        let kind = array.get_type().name()?;
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "frames are numpy arrays, not {kind}; wrap with np.asarray(frame)"
        )));
    };
    untyped.cast::<PyArrayDyn<u8>>().cloned().map_err(|_| {
        let dtype = untyped.dtype().to_string();
        let _ = py;
        pyo3::exceptions::PyTypeError::new_err(format!(
            "frames are uint8 arrays, not {dtype}; convert with frame.astype(np.uint8) \
             (or cv2.convertScaleAbs for scaled data)"
        ))
    })
}

/// Loans a slot for `src.info`, copies the array's rows into it and
/// commits: one copy (the GIL is released by the caller).
fn publish_rows(
    producer: &mut Producer,
    src: &Source,
    pixels: &ArrayViewD<'_, u8>,
    capture_ns: Option<u64>,
) -> framering::Result<u64> {
    let mut info = src.info;
    if let Some(ns) = capture_ns {
        info = info.with_capture_ns(ns);
    }
    let compressed = info.format.is_compressed();
    let mut loan = producer.loan(info)?;
    let room = loan.pixels_mut().len();
    let total = src.rows * src.row_bytes;
    if total > room || (compressed && total == 0) {
        return Err(framering::Error::FrameTooLarge { len: total as u64, capacity: room as u64 });
    }
    if let Some(all) = pixels.as_slice() {
        // One copy, with streaming stores for a large frame (and the
        // length set for a compressed one).
        loan.write_from_slice(all)?;
    } else {
        let dst = loan.pixels_mut();
        let rows = if pixels.ndim() == 1 { vec![pixels.view()] } else { pixels.outer_iter().collect() };
        for (row, out) in rows.iter().zip(dst.chunks_exact_mut(src.row_bytes)) {
            match row.as_slice() {
                Some(bytes) => out.copy_from_slice(bytes),
                None => out.iter_mut().zip(row.iter()).for_each(|(o, i)| *o = *i),
            }
        }
        if compressed {
            loan.set_len(total)?;
        }
    }
    loan.commit()
}

/// The owner numpy sees behind a loan's array (its `base`); after a close
/// with arrays alive, it keeps the producer (and its mapping) until numpy
/// frees it with the last of them.
#[pyclass(module = "framering._framering", frozen)]
struct LoanBase {
    keep: std::sync::Mutex<Option<Owned>>,
}

impl Drop for PyProducer {
    fn drop(&mut self) {
        // Not closed by the program: closed now, as `close` would.
        if let Some(owned) = self.owned.take() {
            Python::attach(|py| drop(owned.retire(py)));
        }
    }
}

/// The largest width or height of a frame.
const MAX_DIMENSION: i128 = 32768;

/// Integer argument `name` within `lo..=hi`, as `T`; anything else is
/// ``InvalidArgument`` (a ``ValueError``) naming it (PyO3 names it in the
/// ``TypeError`` for a value that is no int at all).
fn int_arg<T: TryFrom<i128>>(py: Python<'_>, name: &str, n: i128, lo: i128, hi: i128) -> PyResult<T> {
    (lo..=hi)
        .contains(&n)
        .then(|| T::try_from(n).ok())
        .flatten()
        .ok_or_else(|| new_err(py, "InvalidArgument", format!("{name} must be within {lo}..={hi}, got {n}")))
}

/// A slot lent for writing one frame in place; see ``Producer.loan``.
#[pyclass(module = "framering._framering", name = "Loan")]
pub struct PyLoan {
    producer: Py<PyProducer>,
    id: u64,
}

impl PyLoan {
    /// Runs `f` on this loan if it is still open.
    fn with_open<T>(&self, py: Python<'_>, f: impl FnOnce(&mut Owned, Python<'_>) -> PyResult<T>) -> PyResult<T> {
        let mut producer = self.producer.bind(py).try_borrow_mut().map_err(|_| busy(py))?;
        let owned =
            producer.owned.as_mut().filter(|o| o.loan.as_ref().is_some_and(|l| l.id == self.id && !l.abandoned));
        let owned = owned.ok_or_else(|| new_err(py, "LoanError", "this loan is over (committed or abandoned)"))?;
        f(owned, py)
    }

    /// Whether this loan is still open (neither committed nor given up); a
    /// producer busy in another thread counts as open (committing then says
    /// it is busy).
    fn is_open(&self, py: Python<'_>) -> bool {
        match self.producer.bind(py).try_borrow() {
            Ok(p) => p.owned.as_ref().and_then(|o| o.loan.as_ref()).is_some_and(|l| l.id == self.id && !l.abandoned),
            Err(_) => true,
        }
    }

    /// Gives the loan up: now if no array views it, else once none does.
    fn give_up(&self, py: Python<'_>) {
        let Ok(mut producer) = self.producer.bind(py).try_borrow_mut() else { return };
        if let Some(owned) = producer.owned.as_mut()
            && let Some(open) = owned.loan.as_mut().filter(|l| l.id == self.id)
        {
            open.abandoned = true;
            if open.array.as_ref().is_none_or(|a| crate::refs(py, a) == 1) {
                owned.loan = None;
            }
        }
    }
}

#[pymethods]
impl PyLoan {
    /// The writable numpy array over the slot (rows packed, the shape of a
    /// consumer's frame array).
    #[getter]
    fn array(&self, py: Python<'_>) -> PyResult<Py<PyUntypedArray>> {
        self.with_open(py, |owned, py| {
            let array = owned.loan.as_ref().and_then(|l| l.array.as_ref());
            array.map(|a| a.clone_ref(py)).ok_or_else(|| new_err(py, "LoanError", "this loan has no array"))
        })
    }

    /// The number the frame gets when published.
    #[getter]
    fn frame(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_open(py, |owned, _| Ok(owned.loan.as_ref().map_or(0, |l| l.loan.frame())))
    }

    /// Publishes the frame; returns its number. `length` is required for
    /// MJPEG (bytes written).
    ///
    /// Raises ``LoanError`` (a ``BufferError``) while arrays derived from
    /// ``array`` are alive (the loan stays open) or once the loan is over,
    /// ``InvalidArgument`` (a ``ValueError``) for a ``length`` or
    /// ``capture_ns`` out of range.
    #[pyo3(signature = (length = None, capture_ns = None))]
    fn commit(&self, py: Python<'_>, length: Option<i128>, capture_ns: Option<i128>) -> PyResult<u64> {
        let length: Option<usize> = length.map(|l| int_arg(py, "length", l, 1, 1 << 30)).transpose()?;
        let capture_ns: Option<u64> =
            capture_ns.map(|ns| int_arg(py, "capture_ns", ns, 0, i128::from(u64::MAX))).transpose()?;
        self.with_open(py, |owned, py| {
            let Some(mut open) = owned.loan.take() else { return unreachable_loan(py) };
            let views = open.array.as_ref().map_or(0, |a| crate::refs(py, a) - 1);
            if views > 0 {
                let frame = open.loan.frame();
                owned.loan = Some(open);
                return Err(new_err(
                    py,
                    "LoanError",
                    format!(
                        "{views} array(s) still view the slot of frame {frame} (slot.array or slices of it); \
                         delete them before publishing, or they would write into a published frame"
                    ),
                ));
            }
            open.array = None;
            if let Some(len) = length {
                open.loan.set_len(len).py_err(py)?;
            }
            if let Some(ns) = capture_ns {
                open.loan.set_capture_ns(ns);
            }
            open.loan.commit().py_err(py)
        })
    }

    /// Gives the slot back without publishing (once no array views it).
    fn abandon(&self, py: Python<'_>) {
        self.give_up(py);
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Publishes the frame on a clean exit unless it was committed (or
    /// abandoned) inside the block; abandons it on an exception.
    fn __exit__(
        &self,
        py: Python<'_>,
        t: Option<&Bound<'_, PyAny>>,
        _v: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if t.is_some() {
            self.give_up(py);
        } else if self.is_open(py) {
            self.commit(py, None, None)?;
        }
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match self.frame(py) {
            Ok(frame) => format!("<framering.Loan frame={frame}>"),
            Err(_) => "<framering.Loan over>".into(),
        }
    }
}

impl Drop for PyLoan {
    fn drop(&mut self) {
        Python::attach(|py| self.give_up(py));
    }
}

fn unreachable_loan<T>(py: Python<'_>) -> PyResult<T> {
    Err(new_err(py, "LoanError", "this loan is over (committed or abandoned)"))
}

/// Formats in the Python API, by name.
pub fn format_names() -> Vec<&'static str> {
    PixelFormat::ALL.iter().map(|f| f.name()).collect()
}
