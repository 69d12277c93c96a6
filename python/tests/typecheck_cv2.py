"""A README-style OpenCV script that `mypy --strict` checks against the stubs
(.ci/run): OpenCV's `MatLike` results go straight into framering. Not a test
pytest collects; it is only type-checked."""

from __future__ import annotations

import cv2
import numpy as np

import framering


def blur_and_publish(tx: framering.Producer, frame: np.ndarray[tuple[int, int, int], np.dtype[np.uint8]]) -> int:
    blurred = cv2.GaussianBlur(frame, (5, 5), 0)
    return tx.publish(blurred)


def show_one(rx: framering.Consumer) -> None:
    f = rx.wait_latest(timeout=1.0)
    gray = cv2.cvtColor(f.array, cv2.COLOR_BGR2GRAY)
    out = np.empty((f.height, f.width, 3), np.uint8)
    rx.try_latest(out=cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    print(framering.verify(out), framering.band_frame(gray))
