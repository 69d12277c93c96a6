//! framering errors as the Python exceptions of `framering._errors`.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use framering::Error;

/// The exception class `name` of `framering._errors`.
pub fn class<'py>(py: Python<'py>, name: &'static str) -> Bound<'py, PyType> {
    static CLASSES: PyOnceLock<Py<pyo3::types::PyModule>> = PyOnceLock::new();
    let module = CLASSES.get_or_try_init(py, || Ok::<_, PyErr>(py.import("framering._errors")?.unbind()));
    module
        .and_then(|m| Ok(m.bind(py).getattr(name)?.cast_into::<PyType>()?))
        .unwrap_or_else(|_| py.get_type::<PyException>())
}

/// A new exception of class `name` with `message`.
pub fn new_err(py: Python<'_>, name: &'static str, message: impl Into<String>) -> PyErr {
    PyErr::from_type(class(py, name), message.into())
}

/// The exception for `e`, with `transient` set from [`Error::is_transient`]
/// (and `errno` for OS errors).
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let name = match &e {
        Error::InvalidName { .. } | Error::InvalidConfig { .. } | Error::InvalidFrame { .. } => "InvalidArgument",
        Error::FrameTooLarge { .. } => "InvalidArgument",
        Error::NotFound { .. } => "RingNotFound",
        Error::NoDirectory { .. } | Error::LinkedDirectory { .. } => "NoRingDirectory",
        Error::NoSpace { .. } => "NoSpace",
        Error::PermissionDenied { .. } => "RingPermissionError",
        Error::ProducerExists { .. } => "ProducerExists",
        Error::Occupied { .. } => "RingOccupied",
        Error::Layout(_) => "RingUnreadable",
        Error::CorruptFrame { .. } => "CorruptFrame",
        Error::Lapped { .. } => "Lapped",
        Error::Timeout => "Timeout",
        Error::Closed => "ProducerClosed",
        Error::ProducerDead => "ProducerDead",
        _ => "RingOSError",
    };
    let err = new_err(py, name, e.to_string());
    let value = err.value(py);
    let _ = value.setattr("transient", e.is_transient());
    if let Error::Os { code, .. } = &e {
        // Python's names: an errno on Linux, a Win32 error code on Windows.
        let _ = value.setattr(if cfg!(windows) { "winerror" } else { "errno" }, code.raw_os_error());
    }
    if let Error::NoSpace { needed, free, .. } = &e {
        if let Ok(enospc) = py.import("errno").and_then(|m| m.getattr("ENOSPC")) {
            let _ = value.setattr("errno", enospc);
        }
        let _ = value.setattr("needed", needed);
        let _ = value.setattr("free", free);
    }
    err
}

/// `Result<T, framering::Error>` → `PyResult<T>`.
pub trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for framering::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
