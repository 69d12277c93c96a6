//! The Python extension module `framering._framering`: numpy frames in and
//! out of framering rings. The Python package `framering` re-exports it.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod consumer;
mod errors;
mod layout;
mod producer;

use numpy::{PyArray3, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use framering::{FrameInfo, PixelFormat, testpattern};

use errors::new_err;

/// How many references `obj` has. A pooled frame array with one (the
/// pool's) is the consumer's to overwrite; a loan's array with one (the
/// loan's) has no view left that could write into the slot. Exact on the
/// GIL-holding CPython builds this abi3 module targets (PyO3 deprecates it
/// for free-threaded builds, which abi3 excludes).
#[allow(deprecated)]
pub(crate) fn refs<T>(py: Python<'_>, obj: &Py<T>) -> isize {
    obj.get_refcnt(py)
}

/// A pixel format from its name (or FourCC), any case.
pub(crate) fn parse_format(py: Python<'_>, name: &str) -> PyResult<PixelFormat> {
    name.parse().map_err(|e| errors::to_py(py, e))
}

/// A permission mode such as `"0o640"`, `"640"` or `"0640"` (octal).
pub(crate) fn parse_mode(py: Python<'_>, mode: &str) -> PyResult<u32> {
    let digits = mode.trim_start_matches("0o");
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o777).ok_or_else(|| {
        new_err(py, "InvalidArgument", format!("mode must be octal permission bits like \"0o600\", got {mode:?}"))
    })
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of ``Frame.publish_ns``
/// (the same as ``time.monotonic_ns()``).
#[pyfunction]
fn monotonic_ns() -> u64 {
    framering::monotonic_ns()
}

/// The test pattern's frame `frame` as a new (height, width, 3) BGR24
/// array, with `label` drawn in its label box.
#[pyfunction]
#[pyo3(signature = (frame, width, height, label = ""))]
fn pattern<'py>(
    py: Python<'py>,
    frame: u64,
    width: u32,
    height: u32,
    label: &str,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    if width < testpattern::MIN_WIDTH || height < testpattern::MIN_HEIGHT || width > 8192 || height > 8192 {
        return Err(new_err(
            py,
            "InvalidArgument",
            format!(
                "the test pattern needs {}x{} to 8192x8192, got {width}x{height}",
                testpattern::MIN_WIDTH,
                testpattern::MIN_HEIGHT
            ),
        ));
    }
    let (w, h) = (width as usize, height as usize);
    let array = PyArray3::<u8>::zeros(py, [h, w, 3], false);
    {
        let mut rw = array.readwrite();
        let pixels = rw.as_slice_mut().map_err(|e| new_err(py, "InvalidArgument", e.to_string()))?;
        py.detach(|| testpattern::render(frame, width, height, label, pixels));
    }
    Ok(array)
}

/// The array of a frame (a ``Frame`` or an array) and its number.
fn pattern_input<'py>(frame: &Bound<'py, PyAny>, number: Option<u64>) -> PyResult<(Bound<'py, PyAny>, Option<u64>)> {
    if let Ok(f) = frame.getattr("array")
        && let Ok(n) = frame.getattr("frame")
    {
        return Ok((f, Some(number.map_or_else(|| n.extract(), Ok)?)));
    }
    Ok((frame.clone(), number))
}

/// Checks a frame against the test pattern: ``"intact"``, ``"torn"`` (the
/// pattern's magic with the wrong pixels) or ``"not a pattern"``. Takes a
/// ``Frame`` (its number from the metadata), or an array and a number.
#[pyfunction]
#[pyo3(signature = (frame, number = None))]
fn verify(py: Python<'_>, frame: &Bound<'_, PyAny>, number: Option<u64>) -> PyResult<&'static str> {
    let (array, number) = pattern_input(frame, number)?;
    let number = number
        .ok_or_else(|| new_err(py, "InvalidArgument", "verify(array) needs the frame number: verify(array, n)"))?;
    let Some((info, bytes)) = bgr_bytes(&array)? else { return Ok("not a pattern") };
    Ok(match py.detach(|| testpattern::verify(number, &info, &bytes)) {
        testpattern::Verdict::Intact => "intact",
        testpattern::Verdict::Torn => "torn",
        _ => "not a pattern",
    })
}

/// The frame number a test-pattern frame's band spells, or ``None``.
#[pyfunction]
fn band_frame(frame: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    let (array, _) = pattern_input(frame, None)?;
    Ok(bgr_bytes(&array)?.and_then(|(info, bytes)| testpattern::band_frame(&info, &bytes)))
}

/// A (h, w, 3) uint8 array's bytes, packed, as a BGR24 frame.
fn bgr_bytes(array: &Bound<'_, PyAny>) -> PyResult<Option<(FrameInfo, Vec<u8>)>> {
    let Ok(array) = array.cast::<PyArrayDyn<u8>>() else { return Ok(None) };
    let &[h, w, 3] = array.shape() else { return Ok(None) };
    let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else { return Ok(None) };
    let bytes = array.readonly().as_array().iter().copied().collect();
    Ok(Some((FrameInfo::new(w, h, PixelFormat::Bgr24), bytes)))
}

#[pymodule]
fn _framering(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<producer::PyProducer>()?;
    m.add_class::<producer::PyLoan>()?;
    m.add_class::<consumer::PyConsumer>()?;
    m.add_class::<consumer::PyFrame>()?;
    m.add_class::<consumer::FrameIter>()?;
    m.add_function(wrap_pyfunction!(monotonic_ns, m)?)?;
    m.add_function(wrap_pyfunction!(pattern, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(band_frame, m)?)?;
    m.add("FORMATS", producer::format_names())?;
    m.add("PATTERN_MIN_SIZE", (testpattern::MIN_WIDTH, testpattern::MIN_HEIGHT))?;
    Ok(())
}
