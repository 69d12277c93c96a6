//! Arbitrary bytes as a whole ring segment: opening it and every read API
//! (through the real `shm_open`/`mmap` path) give frames or typed errors,
//! never a panic or an out-of-bounds read (AddressSanitizer watches).
#![no_main]

use std::time::Duration;

use framering::{Consumer, FrameBuf, admin, convert};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = format!("fuzz-segment-{}", std::process::id());
    std::fs::write(format!("/dev/shm/framering.{name}"), data).unwrap();
    if let Ok(mut rx) = Consumer::open(&name) {
        let mut buf = FrameBuf::new();
        let mut pixels = Vec::new();
        for _ in 0..2 {
            for meta in [
                rx.try_latest(&mut buf).ok().flatten(),
                rx.try_next(&mut buf).ok().flatten(),
                rx.wait_latest(&mut buf, Duration::ZERO).ok(),
                rx.wait_next(&mut buf, Duration::ZERO).ok(),
            ]
            .into_iter()
            .flatten()
            {
                // Whatever a reader returns is consistent and convertible.
                assert_eq!(meta.len, buf.len());
                assert!(meta.len <= rx.max_frame_bytes());
                let _ = convert::to_0rgb(&meta.info, &buf, &mut pixels);
            }
        }
        let _ = rx.producer_state();
    }
    let _ = admin::status(&name);
});
