//! The producer and consumer examples, run as real processes on the test
//! pattern (default features, no display needed).
#![cfg(target_os = "linux")]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Stderr, example, field, finish, interrupt, summary, unique_name};
use common::{consumer_example as consumer, producer_example as producer};

/// How long a child may take to say what a test waits for.
const LONG: Duration = Duration::from_secs(30);

#[test]
fn fast_and_slow_consumers_see_no_torn_frame_and_the_slow_one_drops() {
    let ring = unique_name("examples");
    let tx = producer(&ring, &["--fps", "200"]);
    common::check_fast_and_slow_consumers(&ring);
    // Ctrl-C stops the producer cleanly and removes the ring.
    interrupt(&tx);
    let out = finish(tx, Duration::from_secs(10));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!std::path::Path::new(&common::shm_file(&ring)).exists());
}

#[test]
fn a_consumer_waits_for_its_producer_and_survives_a_restart() {
    let ring = unique_name("restart");
    let mut rx = consumer(&ring, &["--frames", "30"]);
    let stderr = Stderr::take(&mut rx);
    stderr.wait_for("waiting for a producer", LONG);
    let first = finish(producer(&ring, &["--fps", "100", "--frames", "10"]), LONG);
    assert!(first.status.success());
    // The first producer removed its ring on exit; the next one starts once
    // the consumer has noticed (else it would switch over silently).
    assert!(!std::path::Path::new(&common::shm_file(&ring)).exists());
    stderr.wait_for("producer stopped", LONG);
    let second = producer(&ring, &["--fps", "100"]);
    let out = finish(rx, Duration::from_secs(60));
    interrupt(&second);
    finish(second, Duration::from_secs(10));
    let line = summary(&out);
    let stderr = stderr.finish();
    assert!(stderr.contains("the producer is back"), "{stderr}");
    assert_eq!((field(&line, "frames"), field(&line, "torn")), (30, 0), "{line}");
}

#[test]
fn a_second_producer_on_a_live_ring_is_refused_with_a_clear_message() {
    let ring = unique_name("owned");
    let first = producer(&ring, &["--fps", "50"]);
    // Wait until the ring exists.
    let deadline = Instant::now() + Duration::from_secs(20);
    while framering::Consumer::open(&ring).is_err() {
        assert!(Instant::now() < deadline, "the first producer never created the ring");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = finish(producer(&ring, &["--frames", "1"]), Duration::from_secs(30));
    interrupt(&first);
    finish(first, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already has a live producer"), "{stderr}");
}

#[test]
fn the_producer_mode_flag_sets_the_rings_permission_bits() {
    use std::os::unix::fs::PermissionsExt;
    let ring = unique_name("mode");
    let tx = producer(&ring, &["--fps", "50", "--mode", "0640"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    // Once a consumer can open it, the producer has finished creating it
    // (the mode is set right after the object is created).
    while framering::Consumer::open(&ring).is_err() {
        assert!(Instant::now() < deadline, "the producer never created the ring");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode = std::fs::metadata(common::shm_file(&ring)).unwrap().permissions().mode() & 0o777;
    interrupt(&tx);
    assert!(finish(tx, Duration::from_secs(10)).status.success());
    assert_eq!(mode, 0o640);
}

#[test]
fn bad_option_values_are_usage_errors_not_panics() {
    // Defects: `--fps -1` was accepted and `--fps 1e-300` panicked with a
    // backtrace; numbers out of their type were truncated.
    for (example_name, args) in [
        ("producer", &["--fps", "-1"][..]),
        ("producer", &["--fps", "1e-300"]),
        ("producer", &["--fps", "NaN"]),
        ("producer", &["--slots", "4294967298"]),
        ("producer", &["--width", "0"]),
        ("producer", &["--mode", "999"]),
        ("consumer", &["--slow-ms", "-5"]),
        ("consumer", &["--frames", "x"]),
    ] {
        let out = Command::new(example(example_name)).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{example_name} {args:?}: {err}");
        // The value is named: refused for its option, or (a negative
        // number) taken for an unknown option.
        let refused = [
            format!("error: invalid value '{}' for '{} <", args[1], args[0]),
            format!("error: unexpected argument '{}'", args[1]),
        ];
        assert!(refused.iter().any(|r| err.starts_with(r.as_str())), "{example_name} {args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
#[cfg(feature = "v4l")]
fn a_device_that_is_not_a_camera_is_named_as_such() {
    // Defect: `--device /dev/null` said "offers , " with an empty list.
    let out =
        Command::new(example("producer")).args(["--device", "/dev/null", "--ring", "never-made"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/dev/null offers no video formats") || err.contains("/dev/null is not a video device"),
        "{err}"
    );
    assert!(!err.contains("offers ,"), "{err}");
}

#[test]
fn the_test_pattern_status_line_says_nothing_of_cameras() {
    // Defect: the test pattern's status line counted "camera frames dropped".
    let ring = unique_name("ex-status");
    let tx = producer(&ring, &["--fps", "100", "--frames", "150"]);
    let out = finish(tx, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(" fps ") && !err.contains("camera"), "{err}");
}

#[test]
fn frames_that_are_not_the_test_pattern_count_as_unverified() {
    // Defect: the summary said `torn=0 unverified=0` for frames it could
    // not check at all (anything but the test pattern), with no count of
    // the frames it did check.
    let ring = unique_name("plain");
    let mut tx = framering::Producer::create(&ring, framering::RingConfig::new(3, 64 * 48 * 3)).unwrap();
    let mut rx = consumer(&ring, &["--frames", "5"]);
    let info = framering::FrameInfo::new(64, 48, framering::PixelFormat::Bgr24);
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.try_wait().unwrap().is_none() && Instant::now() < deadline {
        tx.publish(info, &[0x80; 64 * 48 * 3]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let line = summary(&finish(rx, LONG));
    assert_eq!(
        (field(&line, "frames"), field(&line, "torn"), field(&line, "unverified"), field(&line, "verified")),
        (5, 0, 5, 0),
        "{line}"
    );
}
