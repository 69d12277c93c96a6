//! Arbitrary bytes as one slot's metadata and payload in an otherwise valid
//! ring with a live producer: validation and reading give either a frame that
//! passes every check (and converts without panicking) or a typed error.
#![no_main]

use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use framering::layout::{HEADER_SIZE, SLOT_HEADER_SIZE};
use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig, convert};
use libfuzzer_sys::fuzz_target;

const CAPACITY: usize = 256;

struct Fixture {
    name: String,
    file: std::fs::File,
    slot1: u64,
    _tx: Producer,
}

/// One ring for the whole run; its producer stays alive (holding the lock)
/// and is never used again after the first publish.
fn fixture() -> &'static std::sync::Mutex<Fixture> {
    static FIXTURE: OnceLock<std::sync::Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let name = format!("fuzz-slot-{}", std::process::id());
        let mut tx = Producer::create(&name, RingConfig::new(2, CAPACITY)).unwrap();
        tx.publish(FrameInfo::new(16, 16, PixelFormat::Gray8), &[7; 256]).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(format!("/dev/shm/framering.{name}")).unwrap();
        let stride = (u64::from(SLOT_HEADER_SIZE) + CAPACITY as u64).next_multiple_of(64);
        std::sync::Mutex::new(Fixture { name, file, slot1: u64::from(HEADER_SIZE) + stride, _tx: tx })
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture().lock().unwrap();
    // Bytes 8.. of slot 1: metadata (56 bytes) then payload; the sequence
    // word stays even, so the slot looks complete.
    let len = data.len().min(56 + CAPACITY);
    f.file.write_all_at(&data[..len], f.slot1 + 8).unwrap();
    let mut rx = Consumer::open(&f.name).unwrap();
    let mut buf = FrameBuf::new();
    let mut pixels = Vec::new();
    for got in [rx.try_latest(&mut buf), Consumer::open(&f.name).unwrap().try_next(&mut buf)] {
        if let Ok(Some(meta)) = got {
            assert_eq!(meta.len, buf.len());
            assert!(meta.len <= CAPACITY);
            let info = meta.info;
            if let Some(exact) = info.payload_len().expect("a returned frame has a valid description") {
                assert_eq!(exact, meta.len);
            }
            let _ = convert::to_0rgb(&info, &buf, &mut pixels);
        }
    }
});
