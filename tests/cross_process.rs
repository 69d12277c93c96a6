//! Producer and consumers in separate processes: torn-frame stress, a
//! producer killed mid-write, a second producer refused, takeover.
//!
//! The child processes are this test binary re-run on the ignored test
//! `child`, with their role in the environment.

mod common;

use std::io::{BufReader, Write};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{Tally, field, pattern, read_line_starting, say, spawn_role, unique_name};
use framering::{Consumer, Error, FrameBuf, Producer, ProducerState, RingConfig};

const ENTRY: &str = "child";
const LONG: Duration = Duration::from_secs(10);
/// Frame reads each stress consumer makes (two consumers). Bounded by count
/// with a generous deadline, never by speed: the large run is the release
/// soak in `tests/soak.rs`.
const STRESS_READS: u64 = 10_000;
/// Only against a hang: a debug build on a busy 2-core machine reads this
/// many frames in a few seconds.
const STRESS_DEADLINE: Duration = Duration::from_secs(600);

#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn child() {
    let Some((role, name)) = common::child_role() else { return };
    match role.as_str() {
        "stress-producer" => stress_producer(&name),
        "stress-poll" => stress_consumer(&name, false),
        "stress-next" => stress_consumer(&name, true),
        "crash-producer" => crash_producer(&name),
        "hold-producer" => hold_producer(&name),
        other => panic!("unknown role {other}"),
    }
}

/// Publishes as fast as it can into a 2-slot ring until stdin closes.
fn stress_producer(name: &str) {
    let mut tx = Producer::create(name, RingConfig::new(2, pattern::MAX_BYTES)).unwrap();
    let stop = common::stop_on_stdin_eof();
    say("READY");
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        pattern::publish_next(&mut tx);
    }
    say(&format!("DONE published={}", tx.next_frame() - 1));
}

/// Reads STRESS_READS frames, checking each is whole and in order: every
/// frame, sleeping until each is published (`next`), or the newest frame,
/// polling without ever blocking.
fn stress_consumer(name: &str, next: bool) {
    let mut rx = Consumer::open(name).unwrap();
    let mut buf = FrameBuf::new();
    let mut tally = Tally::default();
    let deadline = Instant::now() + STRESS_DEADLINE;
    while tally.reads < STRESS_READS && Instant::now() < deadline {
        if next {
            tally.check(&rx.wait_next(&mut buf, LONG).unwrap(), &buf, true);
        } else if let Some(meta) = rx.try_latest(&mut buf).unwrap() {
            tally.check(&meta, &buf, false);
        } else {
            std::thread::yield_now();
        }
    }
    let Tally { reads, torn, order_errors, .. } = tally;
    say(&format!("RESULT reads={reads} torn={torn} order_errors={order_errors} dropped={}", rx.dropped()));
}

/// Publishes frames 1..=10 into a 3-slot ring when told to, then starts
/// frame 11, writes half of it, and waits to be killed with the slot odd.
fn crash_producer(name: &str) {
    let mut tx = Producer::create(name, RingConfig::new(3, pattern::MAX_BYTES)).unwrap();
    say("READY");
    std::io::stdin().read_line(&mut String::new()).unwrap();
    for _ in 1..=10 {
        pattern::publish_next(&mut tx);
    }
    let mut loan = tx.loan(pattern::info(11)).unwrap();
    let pixels = loan.pixels_mut();
    let half = pixels.len() / 2;
    pattern::fill(11, &mut pixels[..half]);
    pixels[half..].fill(0xEE);
    say("ODD 11");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Owns a 2-slot ring holding frame 1 until killed.
fn hold_producer(name: &str) {
    let mut tx = Producer::create(name, RingConfig::new(2, pattern::MAX_BYTES)).unwrap();
    pattern::publish_next(&mut tx);
    say("READY");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn spawn(role: &str, name: &str) -> (Child, BufReader<std::process::ChildStdout>) {
    spawn_role(ENTRY, role, name, &[])
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn no_torn_frame_across_processes_with_a_two_slot_ring() {
    let name = unique_name("xstress");
    let (mut producer, mut pout) = spawn("stress-producer", &name);
    read_line_starting(&mut pout, "READY");
    let readers: Vec<_> = ["stress-poll", "stress-next"].iter().map(|role| spawn(role, &name)).collect();
    let mut total = 0;
    for (mut child, mut out) in readers {
        let line = read_line_starting(&mut out, "RESULT");
        assert!(child.wait().unwrap().success(), "{line}");
        eprintln!("{line}");
        assert_eq!(field(&line, "torn"), 0, "{line}");
        assert_eq!(field(&line, "order_errors"), 0, "{line}");
        assert_eq!(field(&line, "reads"), STRESS_READS, "{line}");
        total += field(&line, "reads");
    }
    drop(producer.stdin.take()); // tells the producer to stop
    let done = read_line_starting(&mut pout, "DONE");
    assert!(producer.wait().unwrap().success());
    eprintln!("{done}; {total} frames read");
    // The producer closed cleanly: no segment left behind.
    assert!(!common::ring_listed(&name));
}

#[test]
fn a_producer_killed_mid_write_neither_hangs_consumers_nor_leaks_its_half_frame() {
    let name = unique_name("xcrash");
    let (mut child, mut out) = spawn("crash-producer", &name);
    read_line_starting(&mut out, "READY");
    let mut latest = Consumer::open(&name).unwrap();
    let mut laggard = Consumer::open(&name).unwrap();
    writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    read_line_starting(&mut out, "ODD");
    let mut buf = FrameBuf::new();
    kill(child);

    assert_eq!(latest.producer_state().unwrap(), ProducerState::Dead);
    let meta = latest.wait_latest(&mut buf, LONG).unwrap();
    assert_eq!(meta.frame, 10);
    assert!(pattern::intact(&meta, &buf));
    // Frame 11 was never published: waiting reports the death, not a frame.
    assert!(matches!(latest.wait_latest(&mut buf, LONG), Err(Error::ProducerDead)));
    // The laggard wants frame 8 next, whose slot was being overwritten by 11.
    let meta = laggard.wait_next(&mut buf, LONG).unwrap();
    assert_eq!((meta.frame, meta.dropped), (9, 8));
    assert_eq!(laggard.wait_next(&mut buf, LONG).unwrap().frame, 10);
    assert!(matches!(laggard.wait_next(&mut buf, LONG), Err(Error::ProducerDead)));
    assert!(latest.try_latest(&mut buf).unwrap().is_none());

    // A new producer takes the ring over in place and numbering continues.
    let mut tx = Producer::create(&name, RingConfig::new(3, pattern::MAX_BYTES)).unwrap();
    assert_eq!((tx.generation(), tx.next_frame()), (2, 11));
    assert_eq!(latest.producer_state().unwrap(), ProducerState::Alive);
    pattern::publish_next(&mut tx);
    for rx in [&mut latest, &mut laggard] {
        let meta = rx.wait_next(&mut buf, LONG).unwrap();
        assert_eq!((meta.frame, meta.dropped), (11, 0));
        assert!(pattern::intact(&meta, &buf));
    }
}

#[test]
fn a_second_producer_is_refused_until_the_first_dies_then_takes_over() {
    let name = unique_name("xsecond");
    let (child, mut out) = spawn("hold-producer", &name);
    read_line_starting(&mut out, "READY");
    match Producer::create(&name, RingConfig::new(2, pattern::MAX_BYTES)) {
        Err(Error::ProducerExists { pid, .. }) => assert_eq!(pid, child.id()),
        other => panic!("{other:?}"),
    }
    kill(child);
    let tx = Producer::create(&name, RingConfig::new(2, pattern::MAX_BYTES)).unwrap();
    // Linux: the dead producer's object stays in /dev/shm and is taken
    // over. Windows: nothing held the dead producer's objects, so they went
    // with it, and the ring is new (docs/FORMAT.md §9).
    let taken_over = if cfg!(windows) { (1, 1) } else { (2, 2) };
    assert_eq!((tx.generation(), tx.next_frame()), taken_over);
}

#[test]
fn a_stale_ring_of_another_geometry_is_replaced_and_consumers_reopen_it() {
    let name = unique_name("xgeometry");
    let (child, mut out) = spawn("hold-producer", &name);
    read_line_starting(&mut out, "READY");
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    assert_eq!(rx.wait_latest(&mut buf, LONG).unwrap().frame, 1);
    kill(child);
    let mut tx = Producer::create(&name, RingConfig::new(4, pattern::MAX_BYTES)).unwrap();
    assert_eq!((tx.generation(), tx.next_frame()), (1, 1));
    pattern::publish_next(&mut tx);
    let meta = rx.wait_latest(&mut buf, LONG).unwrap();
    assert!(pattern::intact(&meta, &buf));
    assert_eq!((meta.frame, rx.slots()), (1, 4));
}
