//! Corrupted, truncated and arbitrary segment bytes, written straight into
//! `/dev/shm`, then opened and read through the public API: every outcome is
//! a frame or a typed error, never a panic, hang or out-of-bounds read.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::{remove_ring, shm_file, unique_name};
use framering::layout::Geometry;
use framering::{Consumer, Error, FrameBuf, FrameInfo, LayoutError, PixelFormat, Producer, RingConfig};
use proptest::prelude::*;

const CAPACITY: usize = 64;

/// The bytes of a valid 2-slot ring holding frame 1 (an 8x8 GRAY8 frame).
fn valid_image() -> Vec<u8> {
    let name = unique_name("image");
    let mut tx = Producer::create(&name, RingConfig::new(2, CAPACITY)).unwrap();
    tx.publish(FrameInfo::new(8, 8, PixelFormat::Gray8), &[42; 64]).unwrap();
    std::fs::read(shm_file(&name)).unwrap()
}

fn stride() -> usize {
    Geometry::new(2, CAPACITY as u64).unwrap().slot_stride as usize
}

/// Offset of frame 1's slot (slot index 1).
fn slot1() -> usize {
    256 + stride()
}

fn put(image: &mut [u8], offset: usize, bytes: &[u8]) {
    image[offset..offset + bytes.len()].copy_from_slice(bytes);
}

/// Writes `bytes` as a ring object and opens it.
fn open_bytes(bytes: &[u8]) -> (String, framering::Result<Consumer>) {
    let name = unique_name("hostile");
    std::fs::write(shm_file(&name), bytes).unwrap();
    let rx = Consumer::open(&name);
    (name, rx)
}

/// Drives every read API once; returns the first error seen, if any.
fn exercise(rx: &mut Consumer) -> Option<Error> {
    let mut buf = FrameBuf::new();
    let short = Duration::from_millis(1);
    let mut first = None;
    let mut note = |r: framering::Result<()>| {
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    };
    note(rx.try_latest(&mut buf).map(drop));
    note(rx.try_next(&mut buf).map(drop));
    note(rx.wait_latest(&mut buf, short).map(drop));
    note(rx.wait_next(&mut buf, short).map(drop));
    note(rx.producer_state().map(drop));
    first
}

#[test]
fn the_valid_image_reads_back() {
    // Plants hostile objects: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let (name, rx) = open_bytes(&valid_image());
    let mut rx = rx.unwrap();
    let mut buf = FrameBuf::new();
    let meta = rx.try_latest(&mut buf).unwrap().unwrap();
    assert_eq!((meta.frame, buf.as_slice()), (1, &[42u8; 64][..]));
    remove_ring(&name);
}

#[test]
fn every_corrupted_header_field_gives_a_typed_error() {
    // Plants hostile objects: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let field = |name: &'static str| move |e: &Error| matches!(e, Error::Layout(LayoutError::BadField { field, .. }) if *field == name);
    type Check = Box<dyn Fn(&Error) -> bool>;
    let cases: Vec<(usize, Vec<u8>, Check)> = vec![
        (0, b"FRAMERNH".to_vec(), Box::new(|e| matches!(e, Error::Layout(LayoutError::BadMagic { .. })))),
        (
            8,
            1u32.to_le_bytes().to_vec(),
            Box::new(|e| matches!(e, Error::Layout(LayoutError::UnsupportedVersion { found: 1, supported: 3 }))),
        ),
        (
            // A version 2 ring (flock liveness) is not read as version 3.
            8,
            2u32.to_le_bytes().to_vec(),
            Box::new(|e| matches!(e, Error::Layout(LayoutError::UnsupportedVersion { found: 2, supported: 3 }))),
        ),
        (
            // Over the 2^34 limit, reported as such (not as a formula mismatch).
            40,
            (1u64 << 35).to_le_bytes().to_vec(),
            Box::new(|e| {
                matches!(
                    e,
                    Error::Layout(LayoutError::BadField { field: "segment_size", expected: "at most 2^34", .. })
                )
            }),
        ),
        (12, 0u32.to_le_bytes().to_vec(), Box::new(field("header_size"))),
        (16, 32u32.to_le_bytes().to_vec(), Box::new(field("slot_header_size"))),
        (20, 0u32.to_le_bytes().to_vec(), Box::new(field("slot_count"))),
        (20, 3u32.to_le_bytes().to_vec(), Box::new(field("segment_size"))),
        (20, u32::MAX.to_le_bytes().to_vec(), Box::new(field("slot_count"))),
        (24, 0u64.to_le_bytes().to_vec(), Box::new(field("max_frame_bytes"))),
        (24, u64::MAX.to_le_bytes().to_vec(), Box::new(field("max_frame_bytes"))),
        (24, 1000u64.to_le_bytes().to_vec(), Box::new(field("slot_stride"))),
        (32, 0u64.to_le_bytes().to_vec(), Box::new(field("slot_stride"))),
        (40, 1u64.to_le_bytes().to_vec(), Box::new(field("segment_size"))),
        (40, u64::MAX.to_le_bytes().to_vec(), Box::new(field("segment_size"))),
        (76, 0u32.to_le_bytes().to_vec(), Box::new(|e| matches!(e, Error::Layout(LayoutError::NotInitialized)))),
        (76, 9u32.to_le_bytes().to_vec(), Box::new(field("state"))),
    ];
    let good = valid_image();
    for (offset, bytes, check) in cases {
        let mut image = good.clone();
        put(&mut image, offset, &bytes);
        let (name, rx) = open_bytes(&image);
        let e = rx.unwrap_err();
        assert!(check(&e), "offset {offset} = {bytes:?}: {e:?}");
        remove_ring(&name);
    }
}

#[test]
fn truncated_segments_are_refused() {
    // Plants hostile objects: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let good = valid_image();
    for len in [0, 1, 100, 255, 256, 300, good.len() - 1] {
        let (name, rx) = open_bytes(&good[..len]);
        match rx {
            Err(Error::Layout(LayoutError::NotInitialized)) => assert_eq!(len, 0),
            Err(Error::Layout(LayoutError::TooShort { len: l, .. })) => assert_eq!(l, len as u64),
            other => panic!("{len} bytes gave {other:?}"),
        }
        remove_ring(&name);
    }
}

#[test]
fn corrupt_slot_metadata_gives_a_typed_error_from_every_read() {
    // Plants hostile objects: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let s = slot1();
    let cases: Vec<(usize, Vec<u8>)> = vec![
        (s + 32, (CAPACITY as u64 + 1).to_le_bytes().to_vec()), // len > capacity
        (s + 32, 63u64.to_le_bytes().to_vec()),                 // len ≠ 8 × 8
        (s + 40, 0u32.to_le_bytes().to_vec()),                  // width 0
        (s + 48, 0u32.to_le_bytes().to_vec()),                  // stride 0
        (s + 52, b"H264".to_vec()),                             // unknown FourCC
        (s + 8, 0u64.to_le_bytes().to_vec()),                   // published frame's slot empty
        (128, u64::MAX.to_le_bytes().to_vec()),                 // published beyond any slot
    ];
    let good = valid_image();
    for (offset, bytes) in cases {
        let mut image = good.clone();
        put(&mut image, offset, &bytes);
        let (name, rx) = open_bytes(&image);
        let mut rx = rx.unwrap();
        let mut buf = FrameBuf::new();
        for r in [rx.try_latest(&mut buf).map(drop), rx.wait_latest(&mut buf, Duration::from_secs(5)).map(drop)] {
            assert!(matches!(r, Err(Error::CorruptFrame { .. })), "offset {offset}: {r:?}");
            assert!(buf.is_empty());
        }
        remove_ring(&name);
    }
}

#[test]
fn frame_numbers_at_the_top_of_the_range_do_not_overflow() {
    // Plants hostile objects: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    // Found by fuzzing: `published` = u64::MAX over an empty slot made the
    // next-mode reader compute u64::MAX + 1 (a panic in debug builds).
    let mut image = valid_image();
    put(&mut image, 128, &u64::MAX.to_le_bytes());
    put(&mut image, slot1() + 8, &0u64.to_le_bytes());
    let (name, rx) = open_bytes(&image);
    let mut rx = rx.unwrap();
    let mut buf = FrameBuf::new();
    for r in [rx.try_next(&mut buf), rx.try_latest(&mut buf)] {
        assert!(matches!(r, Err(Error::Lapped { .. } | Error::CorruptFrame { .. })), "{r:?}");
    }
    remove_ring(&name);
}

#[test]
fn a_slot_stuck_mid_write_or_ahead_of_published_gives_lapped_not_a_hang() {
    // Plants hostile objects: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let good = valid_image();
    for (offset, bytes) in [(slot1(), 3u64.to_le_bytes()), (slot1() + 8, 3u64.to_le_bytes())] {
        let mut image = good.clone();
        put(&mut image, offset, &bytes);
        let (name, rx) = open_bytes(&image);
        let mut rx = rx.unwrap();
        let mut buf = FrameBuf::new();
        assert!(matches!(rx.try_latest(&mut buf), Err(Error::Lapped { .. })));
        remove_ring(&name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let (name, rx) = open_bytes(&bytes);
        if let Ok(mut rx) = rx {
            exercise(&mut rx);
        }
        remove_ring(&name);
    }

    #[test]
    fn a_valid_ring_with_random_bytes_overwritten_never_panics(
        edits in proptest::collection::vec((0usize..512, any::<u8>()), 1..24),
    ) {
        let mut image = valid_image();
        for (offset, byte) in edits {
            let at = offset % image.len();
            image[at] = byte;
        }
        let (name, rx) = open_bytes(&image);
        if let Ok(mut rx) = rx {
            exercise(&mut rx);
        }
        remove_ring(&name);
    }
}

#[test]
fn magic_and_version_are_checked_before_state() {
    // Defect (found by an independent reader of FORMAT.md v3): `state` was
    // read before magic and version, so a file that is not a ring but has
    // zeros at bytes 76..80 was "not initialized" (then "abandoned", and
    // removed by `clean`), and a ring of a later version with state 0 was
    // taken for one being created instead of refused.
    if !common::private_shm() {
        return;
    }
    // Not a ring: text, then zeros over the whole header.
    let mut text = b"just some file, not a ring at all".to_vec();
    text.resize(4096, 0);
    let (name, rx) = open_bytes(&text);
    assert!(matches!(rx, Err(Error::Layout(LayoutError::BadMagic { .. }))), "{rx:?}");
    remove_ring(&name);
    // A later version's ring, its state 0.
    let mut later = valid_image();
    put(&mut later, 8, &4u32.to_le_bytes());
    put(&mut later, 76, &0u32.to_le_bytes());
    let (name, rx) = open_bytes(&later);
    assert!(matches!(rx, Err(Error::Layout(LayoutError::UnsupportedVersion { found: 4, .. }))), "{rx:?}");
    remove_ring(&name);
    // Only a zero-filled object (its creator has written nothing yet) is
    // "not initialized".
    let (name, rx) = open_bytes(&[0; 4096]);
    assert!(matches!(rx, Err(Error::Layout(LayoutError::NotInitialized))), "{rx:?}");
    remove_ring(&name);
}
