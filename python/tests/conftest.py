"""Shared helpers: unique ring names (cleaned up by prefix), the Rust examples."""

from __future__ import annotations

import glob
import os
import pathlib
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PREFIX = f"pytest-{os.getpid()}-"


@pytest.fixture
def ring_name(request: pytest.FixtureRequest) -> str:
    """A ring name no other test or process uses."""
    return f"{PREFIX}{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Only this run's own rings (a killed child may leave one behind).
    for path in glob.glob(f"/dev/shm/framering.{PREFIX}*"):
        try:
            os.unlink(path)
        except OSError:
            pass


def example(name: str) -> str:
    """Path of a built Rust example (`cargo build --release --examples`)."""
    for profile in ("release", "debug"):
        path = REPO / "target" / profile / "examples" / name
        if path.exists():
            return str(path)
    pytest.skip(f"build the Rust examples first: cargo build --release --examples ({name} not found)")
    raise AssertionError  # unreachable


def asleep_on_ring(pid: int, ring_name: str) -> bool:
    """True if a thread of process `pid` sleeps in a futex inside its mapping of the ring.

    Its `wchan` names the futex wait, and the first argument of the system call it is
    blocked in (`/proc/PID/task/TID/syscall`) lies in the ring's mapping: the `notify`
    word a waiting reader sleeps on (docs/FORMAT.md §4.6).
    """
    path = f"/dev/shm/framering.{ring_name}"
    try:
        with open(f"/proc/{pid}/maps") as maps:
            ranges = [
                (int(lo, 16), int(hi, 16))
                for fields in (line.split() for line in maps)
                if len(fields) > 5 and fields[5] == path
                for lo, hi in [fields[0].split("-")]
            ]
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/wchan") as f:
                wchan = f.read()
            with open(f"/proc/{pid}/task/{task}/syscall") as f:
                syscall = f.read().split()
        except OSError:
            continue
        if "futex" in wchan and len(syscall) > 1 and syscall[1].startswith("0x"):
            address = int(syscall[1], 16)
            if any(lo <= address < hi for lo, hi in ranges):
                return True
    return False
