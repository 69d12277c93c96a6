//! Model checks of the ring protocol under loom, which explores the thread
//! interleavings and the weak-memory behaviours the C11 model allows (x86,
//! where CI runs, hides a wrongly relaxed atomic; ARM does not).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom_models`
//! (`.ci/run` does). The ring is a heap ring (`Ring::heap`) whose metadata
//! and payload are relaxed atomic words — the semantics `docs/FORMAT.md` §6
//! claims for the copy — and the code under test is the real protocol: the
//! producer's `WriteGuard` and `Ring::publish` (what `Loan::commit` does),
//! and the consumer's `read_ring` (slot choice and seqlock read).

use loom::sync::atomic::Ordering;
use loom::thread;

use crate::buf::FrameBuf;
use crate::format::PixelFormat;
use crate::layout::SlotMeta;
use crate::reader::{Cursor, FrameMeta, Mode, read_ring};
use crate::ring::{Ring, RingWriter};

/// Payload bytes per frame: a 4x4 GRAY8 image (two payload words).
const LEN: usize = 16;

fn meta(n: u64) -> SlotMeta {
    SlotMeta {
        frame: n,
        publish_ns: n,
        len: LEN as u64,
        width: 4,
        height: 4,
        stride: 4,
        fourcc: PixelFormat::Gray8.fourcc(),
        ..SlotMeta::default()
    }
}

/// Publishes frame `n` (every byte `n`) as `Loan::commit` does.
fn publish(w: &mut RingWriter, n: u64) {
    let (mut guard, ring) = w.write_slot(n);
    guard.payload_mut(LEN).fill(n as u8);
    guard.commit(&meta(n));
    ring.publish(n);
}

/// Starts writing frame `n` and gives the slot back (an abandoned loan).
fn abandon(w: &mut RingWriter, n: u64) {
    let (mut guard, _) = w.write_slot(n);
    guard.payload_mut(LEN).fill(0xEE);
}

/// `read_ring` copying into `buf`, as `Consumer::try_*` do.
fn read_into(ring: &Ring, mode: Mode, cursor: &mut Cursor, buf: &mut FrameBuf) -> crate::Result<Option<FrameMeta>> {
    let got = read_ring(ring, mode, cursor, &mut |v| buf.load(v));
    buf.settle(matches!(got, Ok(Some(_))));
    got.map(|got| got.map(|(meta, ())| meta))
}

/// True if the frame read is exactly frame `meta.frame` as published.
fn intact(meta: &FrameMeta, buf: &FrameBuf) -> bool {
    (meta.info.width, meta.info.height, meta.len) == (4, 4, LEN) && buf.as_slice() == [meta.frame as u8; LEN]
}

/// A producer thread publishing frames `1..=last`.
fn publisher(mut w: RingWriter, last: u64) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for n in 1..=last {
            publish(&mut w, n);
        }
    })
}

/// A 2-slot ring, for a producer and a reader.
fn ring() -> (RingWriter, Ring) {
    let ring = Ring::heap(2, LEN as u64);
    let reader = ring.reader();
    (RingWriter::new(ring), reader)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    // Two preemptions let a read run inside a slot's rewrite and the
    // rewrite inside a read (what tearing needs), and keep the models to
    // about a minute each on CI; a weakened ordering is caught at this bound
    // (see the closing note of the architecture issue).
    builder.preemption_bound = Some(2);
    builder.check(f);
}

#[test]
fn no_torn_frame_is_ever_returned() {
    model(|| {
        let (w, reader) = ring();
        let producer = publisher(w, 3);
        let (mut cursor, mut buf) = (Cursor::default(), FrameBuf::new());
        for _ in 0..1 {
            match read_into(&reader, Mode::Latest, &mut cursor, &mut buf) {
                Ok(Some(meta)) => assert!(intact(&meta, &buf), "torn frame {meta:?}: {:?}", buf.as_slice()),
                // Lapped: loom lets every one of the bounded retries load a
                // stale `published` (it models no "eventually visible"), so
                // the reader may give up — with no frame, which is the point.
                Ok(None) | Err(crate::Error::Lapped { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        producer.join().unwrap();
    });
}

#[test]
fn next_returns_frames_in_order_counting_the_lost_ones() {
    model(|| {
        let (w, reader) = ring();
        let producer = publisher(w, 3);
        let (mut cursor, mut buf) = (Cursor::default(), FrameBuf::new());
        let mut last = 0;
        for _ in 0..3 {
            if let Some(meta) = read_into(&reader, Mode::Next, &mut cursor, &mut buf).unwrap() {
                assert!(intact(&meta, &buf), "torn frame {meta:?}");
                assert_eq!(meta.frame, last + 1 + meta.dropped, "out of order: {meta:?} after {last}");
                last = meta.frame;
            }
        }
        producer.join().unwrap();
    });
}

#[test]
fn an_abandoned_loan_is_never_reported_corrupt_while_the_producer_lives() {
    model(|| {
        let (mut w, reader) = ring();
        let producer = thread::spawn(move || {
            publish(&mut w, 1);
            abandon(&mut w, 2);
            publish(&mut w, 2);
        });
        for mode in [Mode::Latest, Mode::Next] {
            let (mut cursor, mut buf) = (Cursor::default(), FrameBuf::new());
            for _ in 0..2 {
                match read_into(&reader, mode, &mut cursor, &mut buf) {
                    Ok(Some(meta)) => assert!(intact(&meta, &buf), "torn frame {meta:?}"),
                    Ok(None) => {}
                    Err(e) => panic!("{mode:?}: {e}"),
                }
            }
        }
        producer.join().unwrap();
    });
}

#[test]
fn a_reader_that_loaded_notify_before_reading_never_misses_a_publish() {
    model(|| {
        let (w, reader) = ring();
        let producer = publisher(w, 1);
        let (mut cursor, mut buf) = (Cursor::default(), FrameBuf::new());
        // `Consumer::wait` (§4.6), with FUTEX_WAIT modelled as "yield until
        // the word changes": a wait that began after the read found nothing
        // must end, and the read after it must find the frame.
        let mut rounds = 0;
        loop {
            rounds += 1;
            // Acquire, as in `Consumer::wait`: pairs with `Ring::wake_all`.
            let seen = reader.notify().load(Ordering::Acquire);
            if let Some(meta) = read_into(&reader, Mode::Next, &mut cursor, &mut buf).unwrap() {
                assert_eq!(meta.frame, 1);
                assert!(intact(&meta, &buf));
                break;
            }
            assert!(rounds < 2, "woken by the publish, yet the read after it found nothing");
            // Relaxed, as the futex's own comparison: only decides whether to sleep.
            while reader.notify().load(Ordering::Relaxed) == seen {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
    });
}
