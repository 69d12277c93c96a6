//! Behaviour of one producer and its consumers within one process.

mod common;

use std::time::Duration;

use common::{pattern, unique_name};
use framering::{
    Consumer, Error, FrameBuf, FrameInfo, PixelFormat, Producer, ProducerState, RingConfig, layout::MAX_SLOTS,
};

const SHORT: Duration = Duration::from_millis(20);
const LONG: Duration = Duration::from_secs(10);

fn ring(tag: &str, slots: u32) -> (String, Producer) {
    let name = unique_name(tag);
    let tx = Producer::create(&name, RingConfig::new(slots, pattern::MAX_BYTES)).unwrap();
    (name, tx)
}

fn publish(tx: &mut Producer, n: u64) {
    assert_eq!(tx.next_frame(), n);
    assert_eq!(tx.publish(pattern::info(n), &pattern::bytes(n)).unwrap(), n);
}

#[test]
fn latest_returns_the_newest_frame_and_counts_the_skipped_ones() {
    let (name, mut tx) = ring("latest", 4);
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    assert!(rx.try_latest(&mut buf).unwrap().is_none());
    for n in 1..=3 {
        publish(&mut tx, n);
    }
    let meta = rx.try_latest(&mut buf).unwrap().unwrap();
    assert_eq!((meta.frame, meta.dropped), (3, 2));
    assert!(pattern::intact(&meta, &buf));
    // Nothing newer: latest does not return the same frame twice.
    assert!(rx.try_latest(&mut buf).unwrap().is_none());
    assert!(matches!(rx.wait_latest(&mut buf, SHORT), Err(Error::Timeout)));
}

#[test]
fn next_returns_every_frame_in_order_while_the_ring_holds_it() {
    let (name, mut tx) = ring("next", 4);
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    for n in 1..=4 {
        publish(&mut tx, n);
    }
    for n in 1..=4 {
        let meta = rx.wait_next(&mut buf, LONG).unwrap();
        assert_eq!((meta.frame, meta.dropped), (n, 0));
        assert!(pattern::intact(&meta, &buf));
    }
    assert!(rx.try_next(&mut buf).unwrap().is_none());
}

#[test]
fn a_closure_reads_the_frame_in_place_with_the_same_frame_choice() {
    let (name, mut tx) = ring("with", 4);
    let mut rx = Consumer::open(&name).unwrap();
    assert!(rx.try_next_with(|_| ()).unwrap().is_none());
    for n in 1..=3 {
        publish(&mut tx, n);
    }
    // A whole copy made by the closure is the frame, as FrameBuf's is.
    let copy = |view: &framering::FrameView<'_>| {
        let mut bytes = vec![0; view.len()];
        assert_eq!(view.copy_to(0, &mut bytes), view.len());
        (bytes, *view.info())
    };
    let (meta, (bytes, info)) = rx.wait_next_with(LONG, copy).unwrap();
    assert_eq!((meta.frame, meta.dropped, info), (1, 0, meta.info));
    assert_eq!(bytes, pattern::bytes(1));
    // Latest skips frame 2 and counts it, as try_latest does.
    let (meta, (bytes, _)) = rx.try_latest_with(copy).unwrap().unwrap();
    assert_eq!((meta.frame, meta.dropped, rx.dropped()), (3, 1, 1));
    assert_eq!(bytes, pattern::bytes(3));
    assert!(matches!(rx.wait_latest_with(SHORT, copy), Err(Error::Timeout)));
    // Row by row into a small buffer, from any offset.
    publish(&mut tx, 4);
    let stride = pattern::info(4).effective_stride().unwrap() as usize;
    let (_, rows) = rx
        .try_next_with(|view| {
            let mut row = vec![0; stride];
            (0..view.info().height as usize)
                .map(|y| {
                    view.copy_to(y * stride, &mut row);
                    row.clone()
                })
                .collect::<Vec<_>>()
        })
        .unwrap()
        .unwrap();
    assert_eq!(rows.concat(), pattern::bytes(4));
}

#[test]
fn a_padded_frame_is_copied_out_packed() {
    let name = unique_name("packed");
    let mut tx = Producer::create(&name, RingConfig::new(2, 64)).unwrap();
    let mut rx = Consumer::open(&name).unwrap();
    // NV12 4x2 with rows 6 bytes apart: Y Y, then one U,V row.
    let info = FrameInfo::new(4, 2, PixelFormat::Nv12).with_stride(6);
    tx.publish(info, &[1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0, 0, 9, 10, 11, 12, 0, 0]).unwrap();
    let (_, (len, packed)) = rx
        .try_latest_with(|view| {
            let mut out = vec![0xEE; view.packed_len() + 2];
            let n = view.copy_packed(&mut out);
            (n, out)
        })
        .unwrap()
        .unwrap();
    assert_eq!((len, &packed[..12]), (12, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12][..]));
    assert_eq!(&packed[12..], [0xEE, 0xEE], "nothing past the frame is written");
}

#[test]
fn a_test_pattern_frame_is_identified_and_checked_in_its_slot() {
    use framering::testpattern::{self, Verdict};
    let (w, h) = (320, 240);
    let info = testpattern::info(w, h);
    let name = unique_name("identify");
    let mut tx = Producer::create(&name, RingConfig::new(2, (w * h * 3) as usize)).unwrap();
    let mut rx = Consumer::open(&name).unwrap();
    let mut identify = |pixels: &[u8]| {
        tx.publish(info, pixels).unwrap();
        rx.try_latest_with(testpattern::identify_in).unwrap().unwrap().1
    };
    let render = |n| {
        let mut px = vec![0; (w * h * 3) as usize];
        testpattern::render(n, w, h, "", &mut px);
        px
    };
    assert_eq!(identify(&render(7)), (Some(7), Verdict::Intact));
    // The top half of frame 8 (its band included) over frame 9, as in a
    // tear: the band's number, and torn.
    let mut torn = render(9);
    let half = torn.len() / 2;
    torn[..half].copy_from_slice(&render(8)[..half]);
    assert_eq!(identify(&torn), (Some(8), Verdict::Torn));
    assert_eq!(identify(&vec![0; torn.len()]), (None, Verdict::NotAPattern));
}

#[test]
fn next_reports_frames_lost_when_the_producer_laps_the_consumer() {
    let (name, mut tx) = ring("lapped", 3);
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    for n in 1..=10 {
        publish(&mut tx, n);
    }
    // Slots hold 8, 9, 10: frames 1..=7 were overwritten.
    let meta = rx.try_next(&mut buf).unwrap().unwrap();
    assert_eq!((meta.frame, meta.dropped), (8, 7));
    assert_eq!(rx.try_next(&mut buf).unwrap().unwrap().frame, 9);
    assert_eq!(rx.try_next(&mut buf).unwrap().unwrap().frame, 10);
    assert_eq!(rx.dropped(), 7);
}

#[test]
fn a_new_consumer_starts_at_the_newest_frame() {
    let (name, mut tx) = ring("fresh", 4);
    for n in 1..=3 {
        publish(&mut tx, n);
    }
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    let meta = rx.wait_next(&mut buf, LONG).unwrap();
    assert_eq!((meta.frame, meta.dropped), (3, 0));
}

#[test]
fn metadata_round_trips_including_capture_time_stride_and_format() {
    let name = unique_name("meta");
    let mut tx = Producer::create(&name, RingConfig::new(2, 1 << 16)).unwrap();
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    let before = framering::monotonic_ns();
    let info = FrameInfo::new(5, 3, PixelFormat::Nv12).with_stride(8).with_capture_ns(before - 1000);
    let payload: Vec<u8> = (0..info.payload_len().unwrap().unwrap()).map(|i| i as u8).collect();
    tx.publish(info, &payload).unwrap();
    let meta = rx.try_latest(&mut buf).unwrap().unwrap();
    assert_eq!(meta.info, info);
    assert_eq!(buf.as_slice(), &payload[..]);
    assert!(meta.publish_ns >= before && meta.publish_ns <= framering::monotonic_ns());
    // Size and format may change from frame to frame.
    let jpeg = FrameInfo::new(640, 480, PixelFormat::Mjpeg);
    tx.publish(jpeg, &[0xff, 0xd8, 1, 2, 3]).unwrap();
    let meta = rx.try_latest(&mut buf).unwrap().unwrap();
    assert_eq!((meta.info.format, meta.info.width, meta.len, meta.info.capture_ns), (PixelFormat::Mjpeg, 640, 5, None));
    assert_eq!(buf.as_slice(), &[0xff, 0xd8, 1, 2, 3]);
}

#[test]
fn write_from_slice_fills_a_loan_whole_or_refuses_and_writes_nothing() {
    // 1280x720 BGR: above the size copied with streaming stores.
    let info = FrameInfo::new(1280, 720, PixelFormat::Bgr24);
    let len = info.payload_len().unwrap().unwrap();
    let name = unique_name("write-slice");
    let mut tx = Producer::create(&name, RingConfig::new(2, len)).unwrap();
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    for n in 1..=4u64 {
        let frame: Vec<u8> = (0..len).map(|i| (i as u64 * 31 + n) as u8).collect();
        let other: Vec<u8> = frame.iter().map(|b| !b).collect();
        let mut loan = tx.loan(info).unwrap();
        loan.write_from_slice(&frame).unwrap();
        // Refused writes leave what was written: the frame read back below.
        assert!(matches!(loan.write_from_slice(&other[1..]), Err(Error::InvalidFrame { .. })));
        assert!(matches!(loan.write_from_slice(&[other.as_slice(), &[0]].concat()), Err(Error::FrameTooLarge { .. })));
        assert_eq!(loan.commit().unwrap(), n);
        let meta = rx.try_next(&mut buf).unwrap().unwrap();
        assert_eq!((meta.frame, buf.as_slice() == frame.as_slice()), (n, true), "frame {n}");
    }
    // A compressed frame's length is what was written.
    let jpeg = FrameInfo::new(8, 8, PixelFormat::Mjpeg);
    let mut loan = tx.loan(jpeg).unwrap();
    loan.write_from_slice(&[0xFF, 0xD8, 1, 2, 3]).unwrap();
    loan.commit().unwrap();
    let meta = rx.try_next(&mut buf).unwrap().unwrap();
    assert_eq!((meta.info.format, buf.as_slice()), (PixelFormat::Mjpeg, &[0xFF, 0xD8, 1, 2, 3][..]));
}

#[test]
fn loan_writes_in_place_and_a_dropped_loan_publishes_nothing() {
    let (name, mut tx) = ring("loan", 2);
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    {
        let mut loan = tx.loan(pattern::info(1)).unwrap();
        assert_eq!(loan.frame(), 1);
        pattern::fill(1, loan.pixels_mut());
        // dropped without publish
    }
    assert!(rx.try_next(&mut buf).unwrap().is_none());
    assert_eq!(tx.next_frame(), 1);
    let mut loan = tx.loan(pattern::info(1)).unwrap();
    pattern::fill(1, loan.pixels_mut());
    assert_eq!(loan.commit().unwrap(), 1);
    let meta = rx.try_next(&mut buf).unwrap().unwrap();
    assert!(pattern::intact(&meta, &buf));
}

#[test]
fn compressed_loans_need_a_length() {
    let name = unique_name("mjpeg");
    let mut tx = Producer::create(&name, RingConfig::new(2, 100)).unwrap();
    let info = FrameInfo::new(8, 8, PixelFormat::Mjpeg);
    let mut loan = tx.loan(info).unwrap();
    assert_eq!(loan.pixels_mut().len(), 100);
    assert!(matches!(loan.set_len(101), Err(Error::FrameTooLarge { len: 101, capacity: 100 })));
    assert!(matches!(loan.commit(), Err(Error::InvalidFrame { .. })));
    let mut loan = tx.loan(info).unwrap();
    loan.set_len(10).unwrap();
    assert_eq!(loan.commit().unwrap(), 1);
    // Raw loans have a fixed length.
    let mut raw = tx.loan(FrameInfo::new(2, 2, PixelFormat::Gray8)).unwrap();
    assert!(raw.set_len(4).is_ok());
    assert!(matches!(raw.set_len(3), Err(Error::InvalidFrame { .. })));
}

#[test]
fn frames_that_do_not_fit_or_do_not_match_are_refused() {
    let name = unique_name("fit");
    let mut tx = Producer::create(&name, RingConfig::new(2, 100)).unwrap();
    let big = FrameInfo::new(10, 11, PixelFormat::Gray8);
    assert!(matches!(tx.loan(big), Err(Error::FrameTooLarge { len: 110, capacity: 100 })));
    assert!(matches!(tx.publish(big, &[0; 110]), Err(Error::FrameTooLarge { .. })));
    let small = FrameInfo::new(10, 10, PixelFormat::Gray8);
    assert!(matches!(tx.publish(small, &[0; 99]), Err(Error::InvalidFrame { .. })));
    assert!(matches!(tx.publish(FrameInfo::new(0, 10, PixelFormat::Gray8), &[]), Err(Error::InvalidFrame { .. })));
    assert!(matches!(
        tx.publish(FrameInfo::new(10, 10, PixelFormat::Mjpeg), &[0; 101]),
        Err(Error::FrameTooLarge { .. })
    ));
    // Nothing was published by any of the refused calls.
    assert_eq!(tx.next_frame(), 1);
}

#[test]
fn invalid_configs_are_refused_with_the_field_named() {
    let name = unique_name("config");
    let cases = [
        (RingConfig::new(0, 10), "slots"),
        (RingConfig::new(1, 10), "slots"),
        (RingConfig::new(MAX_SLOTS + 1, 10), "slots"),
        (RingConfig::new(2, 0), "max_frame_bytes"),
        (RingConfig::new(2, (1 << 30) + 1), "max_frame_bytes"),
        (RingConfig::new(1024, 1 << 30), "slots * max_frame_bytes"),
        (RingConfig::new(2, 10).with_mode(0o1777), "mode"),
    ];
    for (config, want) in cases {
        match Producer::create(&name, config) {
            Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, want),
            other => panic!("{config:?} gave {other:?}"),
        }
    }
    // Nothing was created.
    assert!(matches!(Consumer::open(&name), Err(Error::NotFound { .. })));
}

#[test]
fn invalid_names_are_refused_by_producer_and_consumer() {
    for bad in ["", "a/b", "..", "x\0y", &"n".repeat(201)] {
        assert!(matches!(Producer::create(bad, RingConfig::new(2, 8)), Err(Error::InvalidName { .. })), "{bad:?}");
        assert!(matches!(Consumer::open(bad), Err(Error::InvalidName { .. })), "{bad:?}");
    }
}

#[test]
fn opening_a_missing_ring_is_not_found() {
    let e = Consumer::open(&unique_name("missing")).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }) && e.is_transient());
}

#[test]
fn a_second_producer_is_refused_while_the_first_lives() {
    let (name, _tx) = ring("second", 2);
    match Producer::create(&name, RingConfig::new(2, pattern::MAX_BYTES)) {
        Err(Error::ProducerExists { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dropping_the_producer_closes_the_ring_and_removes_the_name() {
    let (name, mut tx) = ring("close", 2);
    let mut rx = Consumer::open(&name).unwrap();
    publish(&mut tx, 1);
    let waiter = std::thread::spawn(move || {
        let mut buf = FrameBuf::new();
        let first = rx.wait_next(&mut buf, LONG).map(|m| m.frame);
        // Blocks until the producer closes, then returns promptly.
        let second = rx.wait_next(&mut buf, LONG);
        (first, second, rx.producer_state())
    });
    common::wait_until_asleep_on(&name);
    tx.close().unwrap();
    let (first, second, state) = waiter.join().unwrap();
    assert_eq!(first.unwrap(), 1);
    assert!(matches!(second, Err(Error::Closed)), "{second:?}");
    assert_eq!(state.unwrap(), ProducerState::Closed);
    assert!(!common::ring_listed(&name));
    // A consumer opened after the close finds nothing.
    assert!(matches!(Consumer::open(&name), Err(Error::NotFound { .. })));
}

#[test]
fn a_consumer_follows_a_restarted_producer_to_its_new_ring() {
    let (name, mut tx) = ring("restart", 2);
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    publish(&mut tx, 1);
    assert_eq!(rx.wait_latest(&mut buf, LONG).unwrap().frame, 1);
    drop(tx);
    assert!(matches!(rx.wait_latest(&mut buf, LONG), Err(Error::Closed)));
    // Reported once (issue 15: it was repeated at every timeout, and the
    // example printed it 20 times a second); while nobody produces, waits
    // time out and producer_state says why.
    for _ in 0..3 {
        assert!(matches!(rx.wait_latest(&mut buf, SHORT), Err(Error::Timeout)));
        assert!(rx.try_latest(&mut buf).unwrap().is_none());
    }
    assert_eq!(rx.producer_state().unwrap(), ProducerState::Closed);
    // A new producer with another geometry: the consumer re-opens by itself.
    let mut tx = Producer::create(&name, RingConfig::new(3, pattern::MAX_BYTES * 2)).unwrap();
    publish(&mut tx, 1);
    let meta = rx.wait_latest(&mut buf, LONG).unwrap();
    assert!(pattern::intact(&meta, &buf));
    assert_eq!((rx.slots(), rx.producer_state().unwrap()), (3, ProducerState::Alive));
}

#[test]
fn a_blocked_consumer_wakes_for_a_frame_published_later() {
    let (name, mut tx) = ring("wake", 2);
    let mut rx = Consumer::open(&name).unwrap();
    let waiter = std::thread::spawn(move || {
        let mut buf = FrameBuf::new();
        rx.wait_latest(&mut buf, LONG).map(|m| (m.frame, pattern::intact(&m, &buf)))
    });
    common::wait_until_asleep_on(&name);
    publish(&mut tx, 1);
    assert_eq!(waiter.join().unwrap().unwrap(), (1, true));
}

#[cfg(target_os = "linux")]
#[test]
fn consumers_map_the_ring_read_only() {
    let (name, _tx) = ring("readonly", 2);
    let path = common::shm_file(&name);
    let mappings = || -> Vec<String> {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .filter(|l| l.ends_with(path.as_str()))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
            .collect()
    };
    assert_eq!(mappings(), ["rw-s"]); // the producer's
    let rx = Consumer::open(&name).unwrap();
    let mut perms = mappings();
    perms.sort();
    assert_eq!(perms, ["r--s", "rw-s"]);
    drop(rx);
}

#[cfg(target_os = "linux")]
#[test]
fn the_object_gets_the_configured_mode_regardless_of_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode_of = |name: &str| std::fs::metadata(common::shm_file(name)).unwrap().permissions().mode() & 0o777;
    let a = unique_name("mode");
    let _default = Producer::create(&a, RingConfig::new(2, 8)).unwrap();
    assert_eq!(mode_of(&a), 0o600);
    let b = unique_name("mode");
    let _group = Producer::create(&b, RingConfig::new(2, 8).with_mode(0o660)).unwrap();
    assert_eq!(mode_of(&b), 0o660);
}

#[test]
fn a_consumer_that_waited_for_its_ring_reads_it_from_the_oldest_frame() {
    // Defect: a consumer started before its producer read the ring, once
    // found, from its newest frame: a producer that published three frames
    // and closed before the consumer looked left it frame 3 only (`frames()`
    // in Python then waited for more).
    let name = unique_name("waited");
    let mut rx = Consumer::new(&name).unwrap();
    let mut buf = FrameBuf::new();
    assert!(matches!(rx.wait_next(&mut buf, SHORT), Err(Error::Timeout)));
    let mut tx = Producer::create(&name, RingConfig::new(4, pattern::MAX_BYTES)).unwrap();
    for n in 1..=3 {
        publish(&mut tx, n);
    }
    // It looks now (the wait finds the ring), before the producer closes.
    let first = rx.wait_next(&mut buf, LONG).unwrap();
    tx.close().unwrap();
    let mut got = vec![first.frame];
    loop {
        match rx.wait_next(&mut buf, LONG) {
            Ok(meta) => got.push(meta.frame),
            Err(Error::Closed) => break,
            Err(e) => panic!("after {got:?}: {e:?}"),
        }
    }
    assert_eq!(got, [1, 2, 3], "every frame of a ring found while waiting");

    // A consumer that finds the ring already there starts at its newest
    // frame, as before (§4.3).
    let (name, mut tx) = ring("present", 4);
    for n in 1..=3 {
        publish(&mut tx, n);
    }
    let mut rx = Consumer::new(&name).unwrap();
    assert_eq!(rx.wait_next(&mut buf, LONG).unwrap().frame, 3);
}

#[test]
fn a_shut_down_producer_keeps_its_mapping_but_publishes_nothing_more() {
    let (name, mut tx) = ring("shutdown", 2);
    let mut rx = Consumer::open(&name).unwrap();
    publish(&mut tx, 1);
    tx.shutdown().unwrap();
    tx.shutdown().unwrap(); // again: nothing to do
    assert!(!common::ring_listed(&name), "the name is removed");
    let mut buf = FrameBuf::new();
    assert_eq!(rx.wait_next(&mut buf, LONG).unwrap().frame, 1, "what was published is still read");
    assert!(matches!(rx.wait_next(&mut buf, LONG), Err(Error::Closed)));
    assert!(matches!(tx.publish(pattern::info(2), &pattern::bytes(2)), Err(Error::Closed)));
    assert!(matches!(tx.loan(pattern::info(2)), Err(Error::Closed)));
    // A new producer on the name meanwhile is not disturbed when the old
    // one is finally dropped.
    let mut fresh = Producer::create(&name, RingConfig::new(2, pattern::MAX_BYTES)).unwrap();
    publish(&mut fresh, 1);
    drop(tx);
    assert!(common::ring_listed(&name));
}

#[cfg(feature = "convert")]
#[test]
fn frames_convert_straight_from_the_slot_as_the_scalar_code_converts_them() {
    // frame_to_0rgb converts BGR24/RGB24 (SSSE3) and NV12 (AVX2, two rows
    // a chroma row) straight from the slot where the CPU has the kernel:
    // every width around their 16- and 32-pixel blocks, odd heights (a
    // last NV12 row alone), with and without row padding, must give what
    // the scalar reference gives from the same bytes: the same pixels for
    // packed RGB, within 1 per channel for NV12 (samples in the nominal
    // range, as in the convert module's tests).
    use framering::convert;
    let name = unique_name("direct");
    let mut tx = Producer::create(&name, RingConfig::new(2, 100 * 5 * 3 + 5 * 5)).unwrap();
    let mut rx = Consumer::open(&name).unwrap();
    let (mut pixels, mut oracle) = (Vec::new(), Vec::new());
    let widths = (1u32..=40).chain([63, 64, 65, 95, 96, 97]);
    for format in [PixelFormat::Bgr24, PixelFormat::Rgb24, PixelFormat::Nv12] {
        for (width, height, pad) in widths.clone().flat_map(|w| [(w, 3, 0), (w, 4, 5), (w, 5, 1)]) {
            let tight = FrameInfo::new(width, height, format);
            let min = tight.planes().unwrap()[0].stride as u32;
            let info = tight.with_stride(min + pad);
            let len = info.payload_len().unwrap().unwrap();
            let bytes: Vec<u8> =
                (0..len).map(|i| (16 + (i * 131 + width as usize * 7 + pad as usize) % 220) as u8).collect();
            tx.publish(info, &bytes).unwrap();
            let (_, converted) =
                rx.try_latest_with(|frame| convert::frame_to_0rgb(frame, &mut pixels)).unwrap().unwrap();
            converted.unwrap();
            convert::to_0rgb_scalar(&info, &bytes, &mut oracle).unwrap();
            let what = format!("{format} {width}x{height}, stride padded by {pad}");
            assert_eq!(pixels.len(), oracle.len(), "{what}");
            let tolerance = if format == PixelFormat::Nv12 { 1 } else { 0 };
            for (i, (&a, &b)) in pixels.iter().zip(&oracle).enumerate() {
                let diff = (0..4).map(|c| ((a >> (8 * c)) & 255).abs_diff((b >> (8 * c)) & 255)).max().unwrap();
                assert!(diff <= tolerance, "{what}: pixel {i} {a:08x}, scalar {b:08x}");
            }
        }
    }
}
