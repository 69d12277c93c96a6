"""Show the frames of a ring: in an OpenCV window when there is a display and
OpenCV, else a stats line each second. Paste the framering lines into an app.

usage: python receiver.py [--ring cam0] [--frames N] [--headless]
"""

from __future__ import annotations

import argparse
import os
import time

import framering


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ring", default="cam0")
    p.add_argument("--frames", type=int, default=0, help="stop after N frames (0: until Ctrl-C)")
    p.add_argument("--headless", action="store_true", help="no window, stats only")
    o = p.parse_args()

    cv2 = None
    if not o.headless and os.environ.get("DISPLAY"):
        try:
            import cv2  # type: ignore[no-redef]
        except ImportError:
            pass

    rx = framering.Consumer(o.ring)  # works before the sender starts
    print(f"receiver: waiting for ring {o.ring!r}", flush=True)
    got, torn, latencies, last = 0, 0, [], time.monotonic()
    try:
        while o.frames == 0 or got < o.frames:
            try:
                frame = rx.wait_latest(timeout=1.0)  # the newest frame; GIL released
            except framering.Timeout:
                continue
            except framering.ProducerGone as e:
                print(f"receiver: {e}; waiting for it to come back", flush=True)
                continue
            got += 1
            latencies.append((framering.monotonic_ns() - frame.publish_ns) / 1e3)
            torn += framering.verify(frame) == "torn"
            if cv2 is not None:
                cv2.imshow(o.ring, frame.array)
                if cv2.waitKey(1) in (27, ord("q")):
                    break
            if time.monotonic() - last >= 1.0:
                last = time.monotonic()
                lat = sorted(latencies[-100:])
                print(
                    f"receiver: frame {frame.frame} {frame.width}x{frame.height} {frame.format} "
                    f"latency p50 {lat[len(lat) // 2]:.0f} us, dropped {rx.dropped}",
                    flush=True,
                )
    except KeyboardInterrupt:
        pass
    lat = sorted(latencies) or [0.0]
    print(f"summary frames={got} torn={torn} dropped={rx.dropped} latency_p50_us={lat[len(lat) // 2]:.1f}", flush=True)


if __name__ == "__main__":
    main()
