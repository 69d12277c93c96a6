"""framering from Python, measured side by side with its references in one run.

1. ``Producer.publish`` of a 1920x1080 BGR frame vs ``np.copyto`` of the same
   array (the floor: one copy).
2. Frame latency (published -> in the consumer's array), Python producer to
   Python consumer vs the Rust examples (producer -> headless consumer), at
   the same size and rate.
3. Optionally the recipes framering replaces, run as given (their scripts are
   not part of this repository): ``--json-jpeg-mmap PATH`` and
   ``--redis-set-publish PATH --redis-port PORT``.

usage: python bench.py [--frames 150] [--fps 30] [--examples target/release/examples] [...]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid

import numpy as np

import framering

W, H = 1920, 1080

PRODUCER = """
import sys, time, framering
name, fps, frames = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
images = [framering.pattern(n, 1920, 1080) for n in range(1, 9)]
with framering.Producer(name, slots=4, max_frame_bytes=1920 * 1080 * 3) as tx:
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.monotonic()
    for n in range(frames):
        tx.publish(images[n % 8], capture_ns=framering.monotonic_ns())  # publish start
        time.sleep(max(0.0, start + (n + 1) / fps - time.monotonic()))
"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def publish_vs_copyto(rounds: int) -> tuple[float, float, float]:
    """Median µs of publish, of np.copyto into one array, and of np.copyto
    into four arrays in turn (what a 4-slot ring's destination is: the slot
    written was last touched three frames ago, so it is not in cache)."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    src = framering.pattern(1, W, H)
    dst = np.empty_like(src)
    ring = [np.empty_like(src) for _ in range(4)]
    pub, cp, cp4 = [], [], []
    with framering.Producer(name, slots=4, max_frame_bytes=W * H * 3) as tx:
        for i in range(10):
            tx.publish(src)
            np.copyto(dst, src)
            np.copyto(ring[i % 4], src)
        for i in range(rounds):  # interleaved, so all see the same machine
            t = time.perf_counter_ns()
            tx.publish(src)
            pub.append(time.perf_counter_ns() - t)
            t = time.perf_counter_ns()
            np.copyto(dst, src)
            cp.append(time.perf_counter_ns() - t)
            t = time.perf_counter_ns()
            np.copyto(ring[i % 4], src)
            cp4.append(time.perf_counter_ns() - t)
    return statistics.median(pub) / 1e3, statistics.median(cp) / 1e3, statistics.median(cp4) / 1e3


def python_latency(fps: float, frames: int) -> tuple[float, float, int]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    child = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, name, str(fps), str(frames + 30)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "ready"
    rx = framering.Consumer(name)
    child.stdin.write("go\n")
    child.stdin.flush()
    lat, torn = [], 0
    for _ in range(frames):
        f = rx.wait_next(timeout=30)
        lat.append((framering.monotonic_ns() - f.capture_ns) / 1e3)  # publish start -> in the array
    child.wait(timeout=60)  # it publishes a few more frames, then closes its ring
    return pct(lat, 50), pct(lat, 99), torn


def rust_bench_latency() -> tuple[float, float, str]:
    """The Rust latency bench's 1920x1080 row with one sleeping consumer:
    publish start -> frame copied out, across processes (the same span as
    `python_latency`)."""
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    out = subprocess.run(["cargo", "bench", "-q", "--bench", "latency", "--", "--quick"], cwd=root,
                         capture_output=True, text=True, timeout=1200).stdout
    m = re.search(r"^\s*6220800\s+block\s+1\s+([\d.]+)\s+([\d.]+)", out, re.M)
    period = re.search(r"1920x1080 BGR every (\S+)", out)
    if not m:
        raise SystemExit(f"no 1080p row in the Rust latency bench output:\n{out}")
    return float(m.group(1)), float(m.group(2)), period.group(1) if period else "?"


def rust_latency(examples: str, fps: float, frames: int) -> tuple[float, float]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    rx = subprocess.Popen(
        [f"{examples}/consumer", "--headless", "--ring", name, "--frames", str(frames)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    tx = subprocess.Popen(
        [f"{examples}/producer", "--test-pattern", "--ring", name, "--width", str(W), "--height", str(H),
         "--fps", str(fps)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    out, _ = rx.communicate(timeout=300)
    tx.send_signal(signal.SIGINT)  # the example closes its ring on Ctrl-C
    tx.wait(timeout=60)
    m = re.search(r"latency_p50_us=([\d.]+) latency_p99_us=([\d.]+)", out)
    if not m:
        raise SystemExit(f"no summary from the Rust consumer:\n{out}")
    return float(m.group(1)), float(m.group(2))


def baseline(cmd: list[str]) -> tuple[float, float, float, str]:
    """A recipe's latency p50/p99 (µs, from its own timestamp, which it takes
    after the JPEG encode), its send cost (µs: encode + write), and the rest
    of its line (torn frames)."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    m = re.search(r"latency_p50=([\d.]+)ms p99=([\d.]+)ms(.*)", out)
    cost = re.search(r"send_cost=([\d.]+)ms", out)
    if not m or not cost:
        raise SystemExit(f"unexpected output of {cmd}:\n{out}")
    return float(m.group(1)) * 1e3, float(m.group(2)) * 1e3, float(cost.group(1)) * 1e3, m.group(3).strip()


def compare(what: str, recipe: tuple[float, float, float, str], py50: float) -> None:
    b50, b99, cost, rest = recipe
    print(f"{what}: p50 {b50:.0f} us p99 {b99:.0f} us from its timestamp (after its encode), send cost {cost:.0f} us "
          f"{rest} | framering python p50 {py50:.0f} us from publish start: {b50 / py50:.1f}x lower as the recipe "
          f"measures, {(b50 + cost) / py50:.1f}x lower from frame ready (p50 + send cost)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--fps", type=float, default=50.0, help="Python producer rate (the Rust bench's is 50 fps)")
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--examples", default=os.path.join(os.path.dirname(__file__), "../../target/release/examples"))
    p.add_argument("--json-jpeg-mmap", metavar="PATH")
    p.add_argument("--redis-set-publish", metavar="PATH")
    p.add_argument("--redis-port", default="6379")
    p.add_argument("--seconds", default="5")
    o = p.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}, "
          f"Python {sys.version.split()[0]}, numpy {np.__version__}")
    pub, cp, cp4 = publish_vs_copyto(o.rounds)
    print(f"publish 1920x1080 BGR: {pub:.0f} us | np.copyto into one array: {cp:.0f} us, ratio {pub / cp:.2f}x "
          f"(target <= 1.2x) | np.copyto into 4 arrays in turn: {cp4:.0f} us, ratio {pub / cp4:.2f}x")
    py50, py99, _ = python_latency(o.fps, o.frames)
    rb50, rb99, period = rust_bench_latency()
    print(f"latency 1920x1080, publish start -> copied out: python->python @ {o.fps:g} fps p50 {py50:.0f} us "
          f"p99 {py99:.0f} us | rust->rust (cargo bench latency, every {period}) p50 {rb50:.0f} us p99 {rb99:.0f} us "
          f"| ratio p50 {py50 / rb50:.2f}x (target <= 1.5x)")
    rs50, rs99 = rust_latency(o.examples, o.fps, o.frames)
    print(f"  (the Rust examples, capture -> converted to 0RGB and verified: p50 {rs50:.0f} us p99 {rs99:.0f} us)")
    if o.json_jpeg_mmap:
        cmd = [sys.executable, o.json_jpeg_mmap, o.seconds, str(int(o.fps)), str(W), str(H)]
        compare("json+jpeg mmap recipe", baseline(cmd), py50)
    if o.redis_set_publish:
        cmd = [sys.executable, o.redis_set_publish, o.redis_port, o.seconds, str(int(o.fps))]
        compare("redis SET+PUBLISH recipe", baseline(cmd), py50)


if __name__ == "__main__":
    main()
