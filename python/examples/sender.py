"""Send frames to a ring: the webcam through OpenCV when there is one, a
moving test pattern otherwise. Paste the three framering lines into an app.

usage: python sender.py [--ring cam0] [--width 1280] [--height 720] [--fps 30] [--frames N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import framering


def camera(width: int, height: int):  # type: ignore[no-untyped-def]
    """An OpenCV capture if OpenCV is installed and a camera opens, else None."""
    try:
        import cv2
    except ImportError:
        return None
    cap = cv2.VideoCapture(0)
    if not cap.isOpened():
        return None
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    return cap


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ring", default="cam0")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--frames", type=int, default=0, help="stop after N frames (0: run until Ctrl-C)")
    o = p.parse_args()

    cap = camera(o.width, o.height)
    print(f"sender: {'camera 0' if cap else 'test pattern'} -> ring {o.ring!r}", flush=True)
    # framering: one line to create the ring (sized for the largest frame)...
    with framering.Producer(o.ring, slots=4, max_frame_bytes=o.width * o.height * 3) as tx:
        n, start, last = 0, time.monotonic(), time.monotonic()
        try:
            while o.frames == 0 or n < o.frames:
                if cap is not None:
                    ok, frame = cap.read()  # (h, w, 3) uint8 BGR
                    if not ok:
                        raise SystemExit("sender: the camera stopped")
                    tx.publish(frame)  # ...one to publish (one copy, GIL released)
                else:
                    # ...or write straight into the slot: zero copies.
                    with tx.loan(o.width, o.height, "BGR24") as slot:
                        np.copyto(slot.array, framering.pattern(n + 1, o.width, o.height, f"#{n + 1}"))
                n += 1
                if time.monotonic() - last >= 1.0:
                    last = time.monotonic()
                    print(f"sender: {n} frames, {n / (last - start):.1f} fps", flush=True)
                if o.fps > 0:
                    time.sleep(max(0.0, start + n / o.fps - time.monotonic()))
        except KeyboardInterrupt:
            pass
    print(f"sender: sent {n} frames", flush=True)


if __name__ == "__main__":
    main()
