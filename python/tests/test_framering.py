"""The Python API: round trips, inference, loans, ownership, errors, threads, signals."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

import framering
from conftest import asleep_on_ring, example

# (format, shape of its array, width, height)
SHAPES = [
    ("BGR24", (6, 8, 3), 8, 6),
    ("RGB24", (6, 8, 3), 8, 6),
    ("BGRA", (6, 8, 4), 8, 6),
    ("RGBA", (6, 8, 4), 8, 6),
    ("GRAY8", (6, 8), 8, 6),
    ("YUYV", (6, 8, 2), 8, 6),
    ("NV12", (9, 8), 8, 6),
    ("I420", (9, 8), 8, 6),
]


def random_frame(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.mark.parametrize(("fmt", "shape", "width", "height"), SHAPES)
def test_every_format_round_trips_with_shape_dtype_and_metadata(ring_name, fmt, shape, width, height):
    with framering.Producer(ring_name, slots=2, max_frame_bytes=1024) as tx:
        rx = framering.Consumer(ring_name)
        src = random_frame(shape)
        before = framering.monotonic_ns()
        n = tx.publish(src, format=fmt.lower(), capture_ns=12345)
        f = rx.wait_next(timeout=5)
        assert f.array.dtype == np.uint8 and f.array.shape == shape and f.array.flags.c_contiguous
        np.testing.assert_array_equal(f.array, src)
        assert (f.frame, f.format, f.width, f.height, f.capture_ns, f.dropped) == (n, fmt, width, height, 12345, 0)
        assert before <= f.publish_ns <= time.monotonic_ns()
        assert not f.bridged and not f.lossy


def test_mjpeg_is_one_dimensional_with_its_length(ring_name):
    with framering.Producer(ring_name, slots=2, max_frame_bytes=1024) as tx:
        rx = framering.Consumer(ring_name)
        jpeg = np.frombuffer(b"\xff\xd8 not really a jpeg \xff\xd9", np.uint8)
        with pytest.raises(framering.InvalidArgument, match="width="):
            tx.publish(jpeg, format="MJPEG")
        tx.publish(jpeg, format="mjpg", width=64, height=48)
        f = rx.wait_next(timeout=5)
        assert (f.array.shape, f.format, f.width) == ((len(jpeg),), "MJPEG", 64)
        assert f.array.tobytes() == jpeg.tobytes()


def test_formats_are_inferred_from_shape_and_strided_crops_are_accepted(ring_name):
    with framering.Producer(ring_name, slots=4, max_frame_bytes=64 * 64 * 4) as tx:
        rx = framering.Consumer(ring_name)
        for shape, fmt in [((4, 5, 3), "BGR24"), ((4, 5, 4), "BGRA"), ((4, 5), "GRAY8")]:
            tx.publish(random_frame(shape))
            assert rx.wait_next(timeout=5).format == fmt
        big = random_frame((40, 50, 3))
        crop = big[5:25, 10:40]  # rows 150 bytes apart, 90 used
        assert not crop.flags.c_contiguous
        tx.publish(crop)
        np.testing.assert_array_equal(rx.wait_next(timeout=5).array, crop)
        flipped = big[::-1]
        tx.publish(flipped)
        np.testing.assert_array_equal(rx.wait_next(timeout=5).array, flipped)


@pytest.mark.parametrize(
    ("array", "kwargs", "error", "match"),
    [
        (np.zeros((4, 5, 5), np.uint8), {}, framering.InvalidArgument, "format="),
        (np.zeros((4, 5, 3), np.float32), {}, TypeError, "astype"),
        ([[1, 2], [3, 4]], {}, TypeError, "np.asarray"),
        (np.zeros((4, 10, 3), np.uint8)[:, ::2], {}, framering.InvalidArgument, "ascontiguousarray"),
        (np.zeros((5, 8), np.uint8), {"format": "NV12"}, framering.InvalidArgument, "even"),
        (np.zeros((4, 5, 3), np.uint8), {"format": "H264"}, framering.InvalidArgument, "unknown pixel format"),
        (np.zeros((100, 100, 3), np.uint8), {}, framering.InvalidArgument, "does not fit"),
    ],
)
def test_unsupported_arrays_are_refused_with_the_fix(ring_name, array, kwargs, error, match):
    with framering.Producer(ring_name, slots=2, max_frame_bytes=4096) as tx:
        with pytest.raises(error, match=match):
            tx.publish(array, **kwargs)
        assert tx.next_frame == 1, "nothing was published"


def test_a_loan_publishes_in_place_and_is_abandoned_on_exception(ring_name):
    with framering.Producer(ring_name, slots=3, max_frame_bytes=64 * 64 * 3) as tx:
        rx = framering.Consumer(ring_name)
        with tx.loan(64, 64, "BGR24") as slot:
            assert slot.array.shape == (64, 64, 3) and slot.frame == 1
            np.copyto(slot.array, framering.pattern(1, 64, 64))
        f = rx.wait_next(timeout=5)
        assert (f.frame, framering.verify(f)) == (1, "intact")
        with pytest.raises(ZeroDivisionError):
            with tx.loan(64, 64) as slot:
                slot.array[:] = 7
                1 / 0  # noqa: B018
        assert rx.try_next() is None, "an abandoned loan publishes nothing"
        assert tx.publish(framering.pattern(2, 64, 64)) == 2, "the producer goes on"
        assert framering.verify(rx.wait_next(timeout=5)) == "intact"


def test_publishing_a_loan_is_refused_while_any_view_of_it_lives(ring_name):
    with framering.Producer(ring_name, slots=3, max_frame_bytes=64 * 64 * 3) as tx:
        rx = framering.Consumer(ring_name)
        slot = tx.loan(64, 64)
        view = slot.array
        with pytest.raises(BufferError, match="1 array"):
            slot.commit()
        # A slice of a deleted view keeps the slot in use too.
        part = view[10:20, :, 1]
        del view
        with pytest.raises(framering.LoanError):
            slot.commit()
        with pytest.raises(framering.LoanError, match="loan .* is open"):
            tx.publish(np.zeros((64, 64, 3), np.uint8))
        del part
        assert slot.commit() == 1
        assert rx.wait_next(timeout=5).frame == 1
        with pytest.raises(framering.LoanError, match="over"):
            slot.array  # noqa: B018


def test_an_abandoned_loan_with_a_live_view_blocks_the_producer_until_the_view_dies(ring_name):
    with framering.Producer(ring_name, slots=3, max_frame_bytes=64 * 64 * 3) as tx:
        kept = None
        with pytest.raises(RuntimeError):
            with tx.loan(64, 64) as slot:
                kept = slot.array[0]
                raise RuntimeError("boom")
        with pytest.raises(BufferError, match="abandoned"):
            tx.publish(np.zeros((64, 64, 3), np.uint8))
        del kept, slot
        gc.collect()
        assert tx.publish(np.zeros((64, 64, 3), np.uint8)) == 1


def test_kept_frames_are_never_overwritten_and_the_loop_reuses_arrays(ring_name):
    with framering.Producer(ring_name, slots=4, max_frame_bytes=64 * 64 * 3) as tx:
        rx = framering.Consumer(ring_name)
        kept = []
        for n in range(1, 9):
            tx.publish(framering.pattern(n, 64, 64))
            kept.append(rx.wait_next(timeout=5))
        assert [framering.verify(f) for f in kept] == ["intact"] * 8
        assert len({id(f.array) for f in kept}) == 8
        # A loop that lets each frame go reuses a few arrays.
        seen = set()
        for n in range(9, 40):
            tx.publish(framering.pattern(n, 64, 64))
            frame = rx.wait_next(timeout=5)
            assert framering.verify(frame) == "intact"
            seen.add(id(frame.array))
        assert len(seen) <= 3


def test_the_display_loop_allocates_no_frame_sized_memory(ring_name):
    size = 640 * 480 * 3
    with framering.Producer(ring_name, slots=4, max_frame_bytes=size) as tx:
        rx = framering.Consumer(ring_name)
        src = framering.pattern(1, 640, 480)
        for _ in range(5):  # warm up the pool
            tx.publish(src)
            frame = rx.wait_latest(timeout=5)
        tracemalloc.start()
        for _ in range(50):
            tx.publish(src)
            frame = rx.wait_latest(timeout=5)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del frame
        assert peak < size // 2, f"peak {peak} bytes traced over 50 frames of {size}"


def test_out_receives_the_pixels_and_wrong_shapes_are_named(ring_name):
    with framering.Producer(ring_name, slots=4, max_frame_bytes=4096) as tx:
        rx = framering.Consumer(ring_name)
        src = random_frame((6, 8, 3))
        tx.publish(src)
        out = np.empty((6, 8, 3), np.uint8)
        f = rx.wait_next(timeout=5, out=out)
        assert f.array is out
        np.testing.assert_array_equal(out, src)
        tx.publish(src)
        with pytest.raises(framering.InvalidArgument, match=r"\(6, 8, 3\)"):
            rx.wait_next(timeout=5, out=np.empty((8, 6, 3), np.uint8))
        with pytest.raises(framering.InvalidArgument, match="uint8"):
            rx.try_next(out=np.empty((6, 8, 3), np.float64))
        with pytest.raises(framering.InvalidArgument, match="contiguous"):
            rx.try_next(out=np.empty((6, 16, 3), np.uint8)[:, ::2])


def test_errors_map_to_framering_and_builtin_exceptions(ring_name):
    with pytest.raises(framering.InvalidArgument) as bad:
        framering.Producer("bad/name")
    assert isinstance(bad.value, ValueError) and not bad.value.transient
    with pytest.raises(ValueError):
        framering.Producer(ring_name, slots=0)
    rx = framering.Consumer(ring_name)  # no ring yet: waits time out
    with pytest.raises(TimeoutError) as timeout:
        rx.wait_latest(timeout=0.05)
    assert isinstance(timeout.value, framering.Timeout) and timeout.value.transient
    assert rx.producer_state is None and "waiting" in repr(rx)
    with framering.Producer(ring_name, slots=2, max_frame_bytes=64):
        with pytest.raises(FileExistsError) as exists:
            framering.Producer(ring_name, slots=2, max_frame_bytes=64)
        assert isinstance(exists.value, framering.ProducerExists)
        with pytest.raises(framering.Timeout):
            rx.wait_latest(timeout=0.1)  # finds the ring; no frame yet
        assert rx.producer_state == "alive"
    with pytest.raises(ConnectionError) as gone:
        rx.wait_latest(timeout=5)
    assert isinstance(gone.value, framering.ProducerClosed) and gone.value.transient
    with pytest.raises(framering.Timeout):
        rx.wait_latest(timeout=0.05)


def test_frames_iterates_until_the_producer_closes(ring_name):
    tx = framering.Producer(ring_name, slots=8, max_frame_bytes=64 * 64 * 3)
    rx = framering.Consumer(ring_name)
    for n in range(1, 6):
        tx.publish(framering.pattern(n, 64, 64))
    tx.close()
    got = [f.frame for f in rx.frames(timeout=5, every=True)]
    assert got == [1, 2, 3, 4, 5]


def test_a_wait_releases_the_gil(ring_name):
    with framering.Producer(ring_name, slots=2, max_frame_bytes=64):
        rx = framering.Consumer(ring_name)
        counter = [0]
        stop = threading.Event()

        def spin() -> None:
            while not stop.is_set():
                counter[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.05)
        before = counter[0]
        with pytest.raises(framering.Timeout):
            rx.wait_latest(timeout=0.5)
        during = counter[0] - before
        stop.set()
        t.join()
        # With the GIL held for the whole wait the thread would barely move;
        # released, it counts freely (a count, not a speed: any progress far
        # beyond the switch interval's handful shows the release).
        assert during > 1000, during


def test_a_second_thread_on_the_same_consumer_gets_a_clear_error(ring_name):
    with framering.Producer(ring_name, slots=2, max_frame_bytes=64):
        rx = framering.Consumer(ring_name)
        errors: list[BaseException] = []

        def waiter() -> None:
            try:
                rx.wait_latest(timeout=2)
            except framering.Timeout:
                pass

        t = threading.Thread(target=waiter)
        t.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                rx.try_latest()
            except framering.RingBusy as e:
                errors.append(e)
                break
            time.sleep(0.01)
        t.join()
        assert errors and isinstance(errors[0], RuntimeError) and "another thread" in str(errors[0])


CTRL_C_CHILD = """
import sys, time, framering
rx = framering.Consumer(sys.argv[1])
print("waiting", flush=True)
try:
    rx.wait_latest(timeout=None)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_interrupts_a_wait_forever(ring_name):
    with framering.Producer(ring_name, slots=2, max_frame_bytes=64):
        child = subprocess.Popen(
            [sys.executable, "-c", CTRL_C_CHILD, ring_name], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        # The signal must find the child inside the wait, not before it.
        deadline = time.monotonic() + 30
        while not asleep_on_ring(child.pid, ring_name):
            assert time.monotonic() < deadline, "the child never went to sleep in its wait"
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=30)
        assert out.strip() == "interrupted" and child.returncode == 0


PRODUCER_CHILD = """
import sys, framering
tx = framering.Producer(sys.argv[1], slots=2, max_frame_bytes=64 * 64 * 3)
tx.publish(framering.pattern(1, 64, 64))
print("published", flush=True)
sys.stdin.readline()
"""


def test_producer_death_is_seen_from_python(ring_name):
    child = subprocess.Popen(
        [sys.executable, "-c", PRODUCER_CHILD, ring_name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "published"
    rx = framering.Consumer(ring_name)
    assert rx.producer_state == "alive"
    child.kill()
    child.wait(timeout=30)
    with pytest.raises(framering.ProducerDead) as dead:
        while True:
            rx.wait_latest(timeout=10)
    assert isinstance(dead.value, ConnectionAbortedError) and rx.producer_state == "dead"
    os.unlink(f"/dev/shm/framering.{ring_name}")


def test_rust_producer_to_python_consumer_verifies_the_pattern(ring_name):
    tx = subprocess.Popen(
        [example("producer"), "--test-pattern", "--ring", ring_name, "--width", "320", "--height", "240",
         "--fps", "100", "--frames", "300"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        rx = framering.Consumer(ring_name)
        verdicts = [framering.verify(rx.wait_next(timeout=30)) for _ in range(30)]
        assert verdicts == ["intact"] * 30
    finally:
        tx.kill()
        tx.wait()


def test_python_producer_to_rust_consumer_sees_no_torn_frame(ring_name):
    rx = subprocess.Popen(
        [example("consumer"), "--headless", "--ring", ring_name, "--frames", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    with framering.Producer(ring_name, slots=4, max_frame_bytes=320 * 240 * 3) as tx:
        n = 0
        deadline = time.monotonic() + 60
        while rx.poll() is None and time.monotonic() < deadline:
            n += 1
            tx.publish(framering.pattern(n, 320, 240, f"#{n}"))
            time.sleep(0.005)
    out, err = rx.communicate(timeout=30)
    summary = [line for line in (out + err).splitlines() if line.startswith("summary")]
    assert summary, out + err
    fields = dict(kv.split("=") for kv in summary[-1].split()[1:])
    assert int(fields["frames"]) == 40 and fields["torn"] == "0" and fields["unverified"] == "0", summary
    assert fields["verified"] == "40", summary


def test_the_test_pattern_is_checked_both_ways():
    img = framering.pattern(77, 128, 96, "label")
    assert img.shape == (96, 128, 3) and framering.band_frame(img) == 77
    assert framering.verify(img, 77) == "intact" and framering.verify(img, 78) == "torn"
    assert framering.verify(np.zeros((96, 128), np.uint8), 1) == "not a pattern"
    with pytest.raises(framering.InvalidArgument):
        framering.pattern(1, 8, 8)


def test_the_examples_send_and_receive_headless(ring_name):
    here = os.path.join(os.path.dirname(__file__), "..", "examples")
    rx = subprocess.Popen(
        [sys.executable, os.path.join(here, "receiver.py"), "--ring", ring_name, "--frames", "20", "--headless"],
        stdout=subprocess.PIPE, text=True,
    )
    tx = subprocess.run(
        [sys.executable, os.path.join(here, "sender.py"), "--ring", ring_name, "--frames", "400",
         "--width", "320", "--height", "240", "--fps", "100"],
        capture_output=True, text=True, timeout=120,
    )
    out, _ = rx.communicate(timeout=60)
    assert tx.returncode == 0, tx.stderr
    assert "summary frames=20 torn=0" in out, out


def test_closing_always_closes_the_ring_even_with_a_loan_whose_array_lives(ring_name):
    # Defect: a loan whose array outlived its use made close() and __exit__
    # refuse, so the ring was left dead (not closed) in /dev/shm, and the
    # LoanError from __exit__ replaced the program's own exception.
    path = f"/dev/shm/framering.{ring_name}"
    with pytest.raises(KeyError, match="mine"):
        with framering.Producer(ring_name, slots=2, max_frame_bytes=64 * 64 * 3) as tx:
            rx = framering.Consumer(ring_name)
            slot = tx.loan(64, 64)
            kept = slot.array
            raise KeyError("mine")
    assert not os.path.exists(path), "the ring was left behind"
    with pytest.raises(framering.ProducerClosed):
        rx.wait_latest(timeout=5)
    # The array still views mapped memory (an unpublished slot of the
    # closed ring) until it is gone.
    kept[:] = 1
    assert int(kept.sum()) == 64 * 64 * 3
    with pytest.raises(framering.RingClosed):
        tx.publish(np.zeros((64, 64, 3), np.uint8))
    del kept, slot
    gc.collect()
    # close() itself, and a producer dropped without closing, alike.
    for how in ("close", "drop"):
        tx = framering.Producer(ring_name, slots=2, max_frame_bytes=64 * 64 * 3)
        rx = framering.Consumer(ring_name)
        slot = tx.loan(64, 64)
        view = slot.array
        if how == "close":
            tx.close()
        else:
            # The loan holds its producer: both go, the array stays.
            del tx, slot
            gc.collect()
        assert not os.path.exists(path), how
        with pytest.raises(framering.ProducerClosed):
            rx.wait_latest(timeout=5)
        view[:] = 3
        del view
        gc.collect()


def test_a_loan_committed_inside_its_with_block_ends_there(ring_name):
    # Defect: slot.commit(capture_ns=...) inside `with tx.loan(...)`
    # published, then the block's exit raised "LoanError: this loan is over".
    with framering.Producer(ring_name, slots=3, max_frame_bytes=64 * 64 * 3) as tx:
        rx = framering.Consumer(ring_name)
        with tx.loan(64, 64) as slot:
            np.copyto(slot.array, framering.pattern(1, 64, 64))
            assert slot.commit(capture_ns=123) == 1
        f = rx.wait_next(timeout=5)
        assert (f.frame, f.capture_ns, framering.verify(f)) == (1, 123, "intact")
        with tx.loan(64, 64) as slot:
            slot.abandon()
        assert rx.try_next() is None
        assert tx.publish(framering.pattern(2, 64, 64)) == 2


def test_frames_of_a_consumer_started_before_its_producer_are_all_of_them(ring_name):
    # Defect: a consumer that was waiting when the ring appeared started at
    # its newest frame, so frames() on a ring whose producer published three
    # frames and closed yielded the last only, then waited (Timeout).
    rx = framering.Consumer(ring_name)
    with pytest.raises(framering.Timeout):
        rx.wait_next(timeout=0.01)
    tx = framering.Producer(ring_name, slots=4, max_frame_bytes=64 * 64 * 3)
    for n in range(1, 4):
        tx.publish(framering.pattern(n, 64, 64))
    frames = rx.frames(timeout=10, every=True)
    first = next(frames)  # finds the ring
    tx.close()
    assert [first.frame] + [f.frame for f in frames] == [1, 2, 3]


def test_bad_arguments_are_named_and_closed_objects_say_so(ring_name):
    # Defect: capture_ns=-1 and loan(-1, 10) raised OverflowErrors that did
    # not name the argument; publishing on a closed producer raised a bare
    # FrameringError; Consumer("/nonexistent-dir/x") waited forever.
    with framering.Producer(ring_name, slots=2, max_frame_bytes=64 * 64 * 3) as tx:
        frame = np.zeros((8, 8, 3), np.uint8)
        with pytest.raises(framering.InvalidArgument, match="capture_ns"):
            tx.publish(frame, capture_ns=-1)
        with pytest.raises(framering.InvalidArgument, match="width"):
            tx.loan(-1, 10)
        with pytest.raises(framering.InvalidArgument, match="height"):
            tx.loan(10, 0)
        with pytest.raises(framering.InvalidArgument, match="width"):
            tx.publish(frame, format="NV12", width=-2, height=8)
        slot = tx.loan(8, 8)
        with pytest.raises(framering.InvalidArgument, match="capture_ns"):
            slot.commit(capture_ns=-5)
        slot.abandon()
    with pytest.raises(framering.RingClosed) as closed:
        tx.publish(frame)
    assert isinstance(closed.value, ValueError) and "closed" in str(closed.value)
    with pytest.raises(framering.InvalidArgument, match="slots"):
        framering.Producer(ring_name, slots=-1)
    rx = framering.Consumer(ring_name)
    rx.close()
    with pytest.raises(framering.RingClosed):
        rx.try_latest()
    with pytest.raises(framering.NoRingDirectory) as missing:
        framering.Consumer("/nonexistent-dir-of-framering/x")
    assert isinstance(missing.value, FileNotFoundError)


def test_docstrings_say_what_each_call_raises():
    calls = {
        framering.Producer: ["publish", "loan", "close"],
        framering.Loan: ["commit"],
        framering.Consumer: ["wait_latest", "wait_next", "try_latest", "try_next", "frames", "close"],
    }
    for cls, names in calls.items():
        for name in names:
            doc = getattr(cls, name).__doc__ or ""
            assert "raise" in doc.lower(), f"{cls.__name__}.{name}: {doc!r}"
    for cls in (framering.Producer, framering.Consumer):
        assert "Raises" in (cls.__doc__ or ""), cls.__name__
        assert cls.name.__doc__, f"{cls.__name__}.name"
