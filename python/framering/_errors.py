"""The exceptions framering raises.

Every one subclasses :class:`FrameringError` *and* the builtin exception a
Python programmer would catch for the same situation, so ``except
TimeoutError`` and ``except FileNotFoundError`` work as expected. An
exception's ``transient`` attribute says whether retrying can succeed without
anyone changing anything (the ring will appear, a producer will come back, a
frame will arrive).
"""

from __future__ import annotations


class FrameringError(Exception):
    """Base class of every framering error."""

    transient: bool = False


class InvalidArgument(FrameringError, ValueError):
    """A bad ring name, ring configuration, frame description or array."""


class RingNotFound(FrameringError, FileNotFoundError):
    """No ring has this name (yet)."""

    transient = True


class NoRingDirectory(FrameringError, FileNotFoundError):
    """The ring's directory does not exist, is not a directory, or has a
    symbolic link in its path (framering does not follow links there)."""


class NoSpace(FrameringError, OSError):
    """The ring's file system has no room for the ring (``errno`` is
    ``ENOSPC``; ``needed`` and ``free`` are in bytes). In a Docker container,
    raise ``--shm-size``."""

    needed: int = 0
    free: int = 0


class RingClosed(FrameringError, ValueError):
    """This Producer or Consumer was closed: like a closed file, it does
    nothing more."""


class RingPermissionError(FrameringError, PermissionError):
    """The ring exists but this user may not open it."""


class ProducerExists(FrameringError, FileExistsError):
    """Another live process already produces into this ring."""


class RingOccupied(FrameringError, FileExistsError):
    """Something that is not a ring (a FIFO, a link, another user's file) holds the name."""


class RingUnreadable(FrameringError, OSError):
    """The object at the name is not a valid ring (wrong magic, version or geometry)."""


class CorruptFrame(FrameringError, OSError):
    """A slot's metadata is impossible (a damaged or hostile segment)."""


class Lapped(FrameringError):
    """The producer overwrote the frame being read too many times in a row."""

    transient = True


class Timeout(FrameringError, TimeoutError):
    """No frame arrived in time."""

    transient = True


class ProducerGone(FrameringError, ConnectionError):
    """The ring's producer is gone; waiting again waits for a new one."""

    transient = True


class ProducerClosed(ProducerGone):
    """The producer closed the ring cleanly."""


class ProducerDead(ProducerGone, ConnectionAbortedError):
    """The producer died without closing the ring."""


class RingOSError(FrameringError, OSError):
    """An operating-system call failed (``errno`` is set)."""


class RingBusy(FrameringError, RuntimeError):
    """Another thread is using this Producer or Consumer right now.

    A Producer or Consumer is for one thread at a time; open one per thread.
    """


class LoanError(FrameringError, BufferError):
    """A loaned slot's array is still in use, or the loan is over."""


__all__ = [
    "CorruptFrame",
    "FrameringError",
    "InvalidArgument",
    "Lapped",
    "LoanError",
    "NoRingDirectory",
    "NoSpace",
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
]
