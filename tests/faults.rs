//! Faults across real processes: producers killed at random points over and
//! over, consumers stopped and killed, a segment truncated under a consumer,
//! and permissions.
//!
//! Child processes are this test binary re-run on the ignored test `child`.
#![cfg(target_os = "linux")]

mod common;

use std::io::{BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command};
use std::time::Duration;

use common::{Tally, field, pattern, read_line_starting, say, shm_file, spawn_role, unique_name};
use framering::{Consumer, Error, FrameBuf, Producer, RingConfig};

const ENTRY: &str = "child";
/// Producers killed in `a_producer_killed_again_and_again…`.
const KILLS: usize = 50;
/// Producers that die without closing in that test: each kill in the loop
/// and the one after it.
const DEATHS: u64 = KILLS as u64 + 1;

#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn child() {
    let Some((role, name)) = common::child_role() else { return };
    match role.as_str() {
        "flood-producer" => flood_producer(&name),
        "verify-latest" => verify_consumer(&name, false),
        "verify-next" => verify_consumer(&name, true),
        "truncated-reader" => truncated_reader(&name),
        "open-only" => say(&format!(
            "OPEN {}",
            Consumer::open(&name).map(|_| "ok".to_owned()).unwrap_or_else(|e| format!("{e:?}"))
        )),
        other => panic!("unknown role {other}"),
    }
}

fn config() -> RingConfig {
    RingConfig::new(3, pattern::MAX_BYTES)
}

/// Takes the ring over (or creates it) and publishes pattern frames as fast
/// as it can; with STOP_AFTER set, stops after that many and closes cleanly.
fn flood_producer(name: &str) {
    let mut tx = Producer::create(name, config()).unwrap();
    let stop_after: u64 = std::env::var("STOP_AFTER").map_or(u64::MAX, |v| v.parse().unwrap());
    say(&format!("READY generation={} next={}", tx.generation(), tx.next_frame()));
    for _ in 0..stop_after {
        pattern::publish_next(&mut tx);
    }
    tx.close().unwrap();
    say("CLOSED");
}

/// Reads until the ring is closed cleanly, verifying every frame; counts how
/// often the producer was reported gone and whether a wait ever timed out.
fn verify_consumer(name: &str, next: bool) {
    let mut rx = Consumer::open(name).unwrap();
    let mut buf = FrameBuf::new();
    let (mut tally, mut gone, mut timeouts) = (Tally::default(), 0u64, 0u64);
    say("READY");
    loop {
        let got = if next {
            rx.wait_next(&mut buf, Duration::from_secs(5))
        } else {
            rx.wait_latest(&mut buf, Duration::from_secs(5))
        };
        match got {
            Ok(meta) => tally.check(&meta, &buf, next),
            Err(Error::ProducerDead) => gone += 1,
            Err(Error::Closed) => break,
            Err(Error::Timeout) => {
                timeouts += 1;
                // Nothing for 15 s: the parent is gone; report and exit.
                if timeouts == 3 {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    let Tally { reads, torn, order_errors, last } = tally;
    say(&format!(
        "RESULT reads={reads} torn={torn} order_errors={order_errors} gone={gone} timeouts={timeouts} last={last}"
    ));
}

/// Maps the ring, reports, then keeps reading after the parent truncated it.
fn truncated_reader(name: &str) {
    let mut rx = Consumer::open(name).unwrap();
    let mut buf = FrameBuf::new();
    rx.try_latest(&mut buf).unwrap();
    say("MAPPED");
    std::io::stdin().read_line(&mut String::new()).unwrap();
    // The object is now 0 bytes long: touching the mapping raises SIGBUS.
    let r = rx.try_latest(&mut buf);
    say(&format!("SURVIVED {r:?}"));
}

fn spawn(role: &str, name: &str, extra: &[(&str, String)]) -> (Child, BufReader<ChildStdout>) {
    spawn_role(ENTRY, role, name, extra)
}

/// A small xorshift generator: the kill points differ from run to run but
/// the seed is printed, so a failure can be replayed.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_producer_killed_again_and_again_never_costs_a_consumer_a_hang_or_a_whole_frame() {
    let name = unique_name("faults-kill");
    let seed =
        std::env::var("FRAMERING_FAULT_SEED").map_or_else(|_| framering::monotonic_ns() | 1, |s| s.parse().unwrap());
    eprintln!("kill points from seed {seed} (set FRAMERING_FAULT_SEED to replay)");
    let mut rng = seed;

    let (mut first, mut out) = spawn("flood-producer", &name, &[]);
    read_line_starting(&mut out, "READY");
    let readers: Vec<_> = ["verify-latest", "verify-next"].iter().map(|r| spawn(r, &name, &[])).collect();
    let mut readers: Vec<_> = readers
        .into_iter()
        .map(|(c, mut o)| {
            read_line_starting(&mut o, "READY");
            (c, o)
        })
        .collect();

    let mut generations = Vec::new();
    for i in 0..KILLS {
        // Let it publish for 0–15 ms, then kill it wherever it is.
        std::thread::sleep(Duration::from_micros(next_random(&mut rng) % 15_000));
        first.kill().unwrap();
        first.wait().unwrap();
        if i % 10 == 9 {
            // Now and then leave the ring without a producer for longer than
            // a consumer's liveness check, so that it reports the death.
            std::thread::sleep(Duration::from_millis(500));
        }
        let (next, mut out) = spawn("flood-producer", &name, &[]);
        let ready = read_line_starting(&mut out, "READY");
        generations.push(field(&ready, "generation"));
        assert_eq!(field(&ready, "generation"), i as u64 + 2, "takeover {i}: {ready}");
        first = next;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // The last producer publishes a little and closes cleanly.
    let (mut last, mut out) = spawn("flood-producer", &name, &[("STOP_AFTER", "1000".to_owned())]);
    read_line_starting(&mut out, "CLOSED");
    assert!(last.wait().unwrap().success());

    for (child, out) in &mut readers {
        let line = read_line_starting(out, "RESULT");
        assert!(child.wait().unwrap().success(), "{line}");
        eprintln!("{line}");
        assert_eq!(field(&line, "torn"), 0, "{line}");
        assert_eq!(field(&line, "order_errors"), 0, "{line}");
        assert_eq!(field(&line, "timeouts"), 0, "{line}");
        assert!(field(&line, "reads") > 0, "{line}");
        // Five gaps are longer than a consumer's liveness check, so at least
        // one death is seen. A short gap is seen too when the replacement is
        // slow to start (a loaded machine), so the upper bound is not the
        // five long gaps but the number of deaths: each is reported at most
        // once (a consumer that kept reporting one would count thousands).
        let gone = field(&line, "gone");
        assert!((1..=DEATHS).contains(&gone), "the producer's deaths were not reported once each: {line}");
    }
    assert_eq!(generations.len(), KILLS);
    // The last producer exited cleanly: nothing left in /dev/shm.
    assert!(!std::path::Path::new(&shm_file(&name)).exists());
}

#[test]
fn stopped_and_killed_consumers_do_not_slow_the_producer_and_a_resumed_one_reports_drops() {
    let name = unique_name("faults-stop");
    let mut tx = Producer::create(&name, config()).unwrap();
    tx.publish(pattern::info(1), &pattern::bytes(1)).unwrap();
    let (stopped, mut stopped_out) = spawn("verify-next", &name, &[]);
    let (mut killed, mut killed_out) = spawn("verify-latest", &name, &[]);
    read_line_starting(&mut stopped_out, "READY");
    read_line_starting(&mut killed_out, "READY");
    let pid = rustix::process::Pid::from_raw(stopped.id() as i32).unwrap();

    let publish_some = |tx: &mut Producer, count: u64| {
        for _ in 0..count {
            let n = tx.next_frame();
            tx.publish(pattern::info(n), &pattern::bytes(n)).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    publish_some(&mut tx, 100);
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    // With one reader stopped and one dead, publishing goes on regardless:
    // every call returns (none waits for a reader) and numbers advance.
    let before = tx.next_frame();
    publish_some(&mut tx, 300);
    assert_eq!(tx.next_frame(), before + 300);
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    publish_some(&mut tx, 100);
    tx.close().unwrap();

    let line = read_line_starting(&mut stopped_out, "RESULT");
    let mut stopped = stopped;
    assert!(stopped.wait().unwrap().success(), "{line}");
    eprintln!("{line}");
    assert_eq!((field(&line, "torn"), field(&line, "order_errors")), (0, 0), "{line}");
    // It was lapped while stopped (300 frames, 3 slots), so some were dropped,
    // and it read frames after it was continued.
    let (reads, last) = (field(&line, "reads"), field(&line, "last"));
    assert!(reads < last, "a stopped consumer cannot have read every frame: {line}");
    assert_eq!(last, before + 399, "{line}");
}

#[test]
fn truncating_a_mapped_ring_kills_its_reader_with_sigbus() {
    use std::os::unix::process::ExitStatusExt;
    // What the README states as a limit: a process with write permission
    // that shrinks the object takes down consumers that touch the lost pages.
    let name = unique_name("faults-truncate");
    let mut tx = Producer::create(&name, config()).unwrap();
    tx.publish(pattern::info(1), &pattern::bytes(1)).unwrap();
    let (mut reader, mut out) = spawn("truncated-reader", &name, &[]);
    read_line_starting(&mut out, "MAPPED");
    std::fs::OpenOptions::new().write(true).open(shm_file(&name)).unwrap().set_len(0).unwrap();
    writeln!(reader.stdin.as_mut().unwrap(), "go").unwrap();
    let status = reader.wait().unwrap();
    assert_eq!(status.signal(), Some(rustix::process::Signal::BUS.as_raw()), "{status:?}");
    // Closing would touch the truncated mapping and raise SIGBUS here too:
    // leak the producer (its lock goes when this process exits) and remove
    // the name by hand.
    std::mem::forget(tx);
    common::remove_ring(&name);
}

#[test]
fn consumers_need_only_read_permission() {
    if !rustix::process::geteuid().is_root() {
        common::skip("needs root to run a consumer as another user");
        return;
    }
    let open_as_nobody = |name: &str| {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args([ENTRY, "--exact", "--ignored", "--nocapture", "-q"])
            .env("FRAMERING_TEST_ROLE", "open-only")
            .env("RING", name)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().find(|l| l.starts_with("OPEN ")).map(str::to_owned).unwrap_or(text)
    };
    let readable = unique_name("faults-perm-0644");
    let _a = Producer::create(&readable, config().with_mode(0o644)).unwrap();
    assert_eq!(open_as_nobody(&readable), "OPEN ok");
    let private = unique_name("faults-perm-0600");
    let _b = Producer::create(&private, config()).unwrap();
    let denied = open_as_nobody(&private);
    assert!(denied.starts_with("OPEN PermissionDenied"), "{denied}");
}
