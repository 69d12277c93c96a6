"""framering: video frames between processes through shared memory.

A producer publishes numpy frames into a named ring of slots in shared
memory; any number of consumers read them, each at its own pace, never a torn
frame, with one copy in and one copy out (or none in, with ``loan``)::

    import framering
    with framering.Producer("cam0", slots=4, max_frame_bytes=1920 * 1080 * 3) as tx:
        tx.publish(frame)                     # (h, w, 3) uint8 BGR

    rx = framering.Consumer("cam0")
    for frame in rx.frames(timeout=1.0):      # the newest frame each time
        show(frame.array)

See the repository's docs/PYTHON.md for the API, docs/GUARANTEES.md for the
guarantees and docs/FORMAT.md for the ring format.
"""

from __future__ import annotations

from ._errors import (
    CorruptFrame,
    FrameringError,
    InvalidArgument,
    Lapped,
    LoanError,
    NoRingDirectory,
    NoSpace,
    ProducerClosed,
    ProducerDead,
    ProducerExists,
    ProducerGone,
    RingBusy,
    RingClosed,
    RingNotFound,
    RingOccupied,
    RingOSError,
    RingPermissionError,
    RingUnreadable,
    Timeout,
)
from ._framering import (
    FORMATS,
    PATTERN_MIN_SIZE,
    Consumer,
    Frame,
    FrameIter,
    Loan,
    Producer,
    band_frame,
    monotonic_ns,
    pattern,
    verify,
)

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "PATTERN_MIN_SIZE",
    "Consumer",
    "CorruptFrame",
    "Frame",
    "FrameIter",
    "FrameringError",
    "InvalidArgument",
    "Lapped",
    "Loan",
    "LoanError",
    "NoRingDirectory",
    "NoSpace",
    "Producer",
    "ProducerClosed",
    "ProducerDead",
    "ProducerExists",
    "ProducerGone",
    "RingBusy",
    "RingClosed",
    "RingNotFound",
    "RingOSError",
    "RingOccupied",
    "RingPermissionError",
    "RingUnreadable",
    "Timeout",
    "band_frame",
    "monotonic_ns",
    "pattern",
    "verify",
]
