//! The torn-frame soak: one producer process publishing as fast as it can
//! into a 2-slot ring, frames whose size *and* pixel format change with
//! every frame, and several reader processes (latest and next mode) each
//! checking every byte of every frame they get. Ignored by default; `.ci/run`
//! runs it in release mode:
//!
//! `cargo test --release --test soak -- --ignored --nocapture`
//!
//! It is bounded by a count of reads (SOAK_READS, default 10^7 in all), not
//! by time; the deadline only stops a hang. It prints reads and torn counts.
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::{Tally, field, read_line_starting, say, spawn_role, unique_name};
use framering::{Consumer, FrameBuf, FrameInfo, FrameMeta, PixelFormat, Producer, RingConfig};

const ENTRY: &str = "child";
/// Reader processes: two in latest mode, two in next mode.
const READERS: [&str; 4] = ["latest", "next", "latest", "next"];
const DEADLINE: Duration = Duration::from_secs(1800);

const FORMATS: [PixelFormat; 6] = [
    PixelFormat::Gray8,
    PixelFormat::Bgr24,
    PixelFormat::Bgra,
    PixelFormat::Yuyv,
    PixelFormat::Nv12,
    PixelFormat::I420,
];

/// Frame `n`: format, width and height all change from frame to frame.
fn info(n: u64) -> FrameInfo {
    let width = 16 + 2 * (n % 7) as u32;
    let height = 8 + (n % 11) as u32;
    FrameInfo::new(width, height, FORMATS[(n % FORMATS.len() as u64) as usize])
}

const MAX_BYTES: usize = 28 * 18 * 4;

fn byte(n: u64, k: usize) -> u8 {
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24) as u8 ^ (k as u8).wrapping_mul(31) ^ (k >> 8) as u8
}

fn intact(meta: &FrameMeta, buf: &FrameBuf) -> bool {
    let want = info(meta.frame);
    (meta.info.width, meta.info.height, meta.info.format) == (want.width, want.height, want.format)
        && Some(buf.len()) == want.payload_len().unwrap()
        && buf.iter().enumerate().all(|(k, &b)| b == byte(meta.frame, k))
}

#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn child() {
    let Some((role, name)) = common::child_role() else { return };
    match role.as_str() {
        "producer" => {
            let mut tx = Producer::create(&name, RingConfig::new(2, MAX_BYTES)).unwrap();
            let stop = common::stop_on_stdin_eof();
            say("READY");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = tx.next_frame();
                let mut loan = tx.loan(info(n)).unwrap();
                loan.pixels_mut().iter_mut().enumerate().for_each(|(k, b)| *b = byte(n, k));
                loan.commit().unwrap();
            }
            say(&format!("DONE published={}", tx.next_frame() - 1));
        }
        mode @ ("latest" | "next") => {
            let reads: u64 = std::env::var("READS").unwrap().parse().unwrap();
            let next = mode == "next";
            let mut rx = Consumer::open(&name).unwrap();
            let mut buf = FrameBuf::new();
            let mut tally = Tally::default();
            let deadline = Instant::now() + DEADLINE;
            while tally.reads < reads && Instant::now() < deadline {
                let wait = Duration::from_secs(10);
                let meta = if next { rx.wait_next(&mut buf, wait) } else { rx.wait_latest(&mut buf, wait) }.unwrap();
                let ok = intact(&meta, &buf);
                tally.record(&meta, ok, next);
            }
            let Tally { reads, torn, order_errors, .. } = tally;
            say(&format!("RESULT reads={reads} torn={torn} order_errors={order_errors} dropped={}", rx.dropped()));
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
#[ignore = "release-mode soak, run by .ci/run: cargo test --release --test soak -- --ignored"]
fn soak_no_torn_frame_with_sizes_and_formats_changing_every_frame() {
    let total: u64 = std::env::var("SOAK_READS").map_or(10_000_000, |v| v.parse().unwrap());
    let per_reader = total.div_ceil(READERS.len() as u64);
    let name = unique_name("soak");
    let (mut producer, mut pout) = spawn_role(ENTRY, "producer", &name, &[]);
    read_line_starting(&mut pout, "READY");
    let started = Instant::now();
    let readers: Vec<_> =
        READERS.iter().map(|role| spawn_role(ENTRY, role, &name, &[("READS", per_reader.to_string())])).collect();
    let (mut reads, mut torn, mut order_errors) = (0, 0, 0);
    for (role, (mut child, mut out)) in READERS.iter().zip(readers) {
        let line = read_line_starting(&mut out, "RESULT");
        assert!(child.wait().unwrap().success(), "{line}");
        println!("{role:>6} reader: {line}");
        reads += field(&line, "reads");
        torn += field(&line, "torn");
        order_errors += field(&line, "order_errors");
    }
    drop(producer.stdin.take());
    let done = read_line_starting(&mut pout, "DONE");
    assert!(producer.wait().unwrap().success());
    println!(
        "soak: {reads} reads by {} readers, torn={torn} order_errors={order_errors}; producer {done}; {:.1} s",
        READERS.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!((torn, order_errors), (0, 0));
    assert_eq!(reads, per_reader * READERS.len() as u64, "a reader stopped at its deadline");
}
