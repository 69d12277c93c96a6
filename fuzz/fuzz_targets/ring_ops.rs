//! Arbitrary sequences of producer and consumer operations on a small ring,
//! checked against a model: every frame returned is exactly what was
//! published under that number, frame numbers only grow, `dropped` adds up,
//! latest returns the newest frame, next returns the oldest one still held.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig};
use libfuzzer_sys::fuzz_target;

const SLOTS: u32 = 3;

#[derive(Arbitrary, Debug)]
enum Op {
    Publish { width: u8, height: u8, gray: bool, fill: u8 },
    AbandonLoan { width: u8 },
    Latest { consumer: u8 },
    Next { consumer: u8 },
    Open,
}

fn info(width: u8, height: u8, gray: bool) -> FrameInfo {
    let format = if gray { PixelFormat::Gray8 } else { PixelFormat::Bgr24 };
    FrameInfo::new(u32::from(width % 16) + 1, u32::from(height % 16) + 1, format)
}

fuzz_target!(|ops: Vec<Op>| {
    let name = format!("fuzz-ops-{}", std::process::id());
    let mut tx = Producer::create(&name, RingConfig::new(SLOTS, 16 * 16 * 3)).unwrap();
    // frame number -> (description, fill byte), for every frame published
    let mut published: BTreeMap<u64, (FrameInfo, u8)> = BTreeMap::new();
    // what each slot holds: a frame number, or 0 for empty
    let mut slots = [0u64; SLOTS as usize];
    let mut readers: Vec<(Consumer, u64, u64)> = Vec::new(); // (consumer, last returned, dropped sum)
    let mut buf = FrameBuf::new();
    for op in ops.into_iter().take(256) {
        match op {
            Op::Publish { width, height, gray, fill } => {
                let i = info(width, height, gray);
                let bytes = vec![fill; i.payload_len().unwrap().unwrap()];
                let n = tx.publish(i, &bytes).unwrap();
                published.insert(n, (i, fill));
                slots[(n % u64::from(SLOTS)) as usize] = n;
            }
            Op::AbandonLoan { width } => {
                let mut loan = tx.loan(info(width, 1, true)).unwrap();
                slots[(loan.frame() % u64::from(SLOTS)) as usize] = 0;
                loan.pixels_mut().fill(0xAB);
            }
            Op::Open => {
                let rx = Consumer::open(&name).unwrap();
                let last = rx.last_frame();
                readers.push((rx, last, 0));
            }
            Op::Latest { consumer } | Op::Next { consumer } if !readers.is_empty() => {
                let next = matches!(op, Op::Next { .. });
                let idx = usize::from(consumer) % readers.len();
                let (rx, last, dropped) = &mut readers[idx];
                let got = if next { rx.try_next(&mut buf) } else { rx.try_latest(&mut buf) }.unwrap();
                let newest = published.keys().next_back().copied().unwrap_or(0);
                // next: the oldest frame still held that is newer than the last one.
                let oldest_new = slots.iter().copied().filter(|&f| f > *last).min();
                let Some(meta) = got else {
                    if next {
                        assert_eq!(oldest_new, None, "frame {oldest_new:?} was there to read");
                    } else {
                        assert!(newest <= *last, "frame {newest} was there to read");
                    }
                    continue;
                };
                let (want_info, fill) = published[&meta.frame];
                assert_eq!(
                    (meta.info.width, meta.info.height, meta.info.format),
                    (want_info.width, want_info.height, want_info.format)
                );
                assert!(buf.iter().all(|&b| b == fill), "frame {} has foreign bytes", meta.frame);
                let want = if next { oldest_new.expect("a frame was returned") } else { newest };
                assert_eq!(meta.frame, want);
                assert_eq!(meta.frame, *last + 1 + meta.dropped);
                *dropped += meta.dropped;
                *last = meta.frame;
                assert_eq!(rx.dropped(), *dropped);
            }
            Op::Latest { .. } | Op::Next { .. } => {}
        }
    }
});
