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
