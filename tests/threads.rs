//! Torn-frame stress with producer and consumers as threads of one process.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Tally, pattern, unique_name};
use framering::{Consumer, FrameBuf, Producer, RingConfig};

const READS: u64 = 50_000;

fn consume(name: &str, next: bool) -> (u64, u64, u64) {
    let mut rx = Consumer::open(name).unwrap();
    let mut buf = FrameBuf::new();
    let mut tally = Tally::default();
    for _ in 0..READS {
        let timeout = Duration::from_secs(10);
        let meta = if next { rx.wait_next(&mut buf, timeout) } else { rx.wait_latest(&mut buf, timeout) }.unwrap();
        tally.check(&meta, &buf, next);
    }
    (tally.torn, tally.order_errors, rx.dropped())
}

#[test]
fn no_torn_frame_across_threads_with_a_two_slot_ring() {
    let name = unique_name("tstress");
    let mut tx = Producer::create(&name, RingConfig::new(2, pattern::MAX_BYTES)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = [false, false, true, true]
        .into_iter()
        .map(|next| {
            let name = name.clone();
            std::thread::spawn(move || consume(&name, next))
        })
        .collect();
    let flag = stop.clone();
    let producer = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            pattern::publish_next(&mut tx);
        }
        tx.next_frame() - 1
    });
    for r in readers {
        let (torn, order_errors, dropped) = r.join().unwrap();
        eprintln!("reads={READS} torn={torn} order_errors={order_errors} dropped={dropped}");
        assert_eq!((torn, order_errors), (0, 0));
    }
    stop.store(true, Ordering::Relaxed);
    eprintln!("published={}", producer.join().unwrap());
}
