//! Hostile Redis stream entries through the receiving bridge's decoder
//! (`EntryDecoder`, the code `BridgeIn` runs before publishing): any `meta`
//! and `data` give a frame that is exactly as long as its description says
//! and converts, or a typed error. Payloads are often real JPEGs of some
//! size, format and quality, then damaged, so the decoding path is reached.
#![no_main]

use arbitrary::Arbitrary;
use framering::bridge::{EntryDecoder, EntryInfo};
use framering::{FrameInfo, PixelFormat, convert};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Meta {
    magic_ok: bool,
    version: u16,
    encoding: u8,
    flags: u8,
    width: u16,
    height: u16,
    stride: u16,
    format: u8,
    other_bytes: [u8; 4],
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Bytes(Vec<u8>),
    Jpeg { width: u8, height: u8, gray: bool, quality: u8, damage: Vec<(u16, u8)>, cut: Option<u16> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    meta: Meta,
    /// Some inputs use the bytes as the whole `meta` field instead.
    raw_meta: Option<Vec<u8>>,
    payload: Payload,
}

/// The 64 `meta` bytes as docs/BRIDGE.md lays them out.
fn meta_bytes(m: &Meta) -> Vec<u8> {
    let fourcc = PixelFormat::ALL.get(usize::from(m.format)).map_or(u32::from_le_bytes(m.other_bytes), |f| f.fourcc());
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(if m.magic_ok { b"FRBR" } else { &m.other_bytes });
    b.extend_from_slice(&(m.version % 3).to_le_bytes());
    b.extend_from_slice(&[m.encoding % 3, m.flags % 4]);
    b.extend_from_slice(&[0; 40]); // frame, dropped, capture, age, sent: any value is valid
    for v in [u32::from(m.width), u32::from(m.height), u32::from(m.stride)] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&fourcc.to_le_bytes());
    b
}

fn jpeg(width: u8, height: u8, gray: bool, quality: u8) -> Vec<u8> {
    let (w, h) = (usize::from(width % 64) + 1, usize::from(height % 64) + 1);
    let (format, subsamp, bpp) = match gray {
        true => (turbojpeg::PixelFormat::GRAY, turbojpeg::Subsamp::Gray, 1),
        false => (turbojpeg::PixelFormat::BGR, turbojpeg::Subsamp::Sub2x2, 3),
    };
    let pixels: Vec<u8> = (0..w * h * bpp).map(|i| (i * 7) as u8).collect();
    let image = turbojpeg::Image { pixels: &pixels[..], width: w, pitch: w * bpp, height: h, format };
    turbojpeg::compress(image, i32::from(quality % 100) + 1, subsamp).map(|b| b.to_vec()).unwrap_or_default()
}

fuzz_target!(|input: Input| {
    let meta = input.raw_meta.clone().unwrap_or_else(|| meta_bytes(&input.meta));
    let data = match &input.payload {
        Payload::Bytes(b) => b.clone(),
        Payload::Jpeg { width, height, gray, quality, damage, cut } => {
            let mut j = jpeg(*width, *height, *gray, *quality);
            for &(at, value) in damage.iter().take(8) {
                let len = j.len().max(1);
                if let Some(byte) = j.get_mut(usize::from(at) % len) {
                    *byte = value;
                }
            }
            if let Some(cut) = cut {
                j.truncate(usize::from(*cut));
            }
            j
        }
    };
    let mut decoder = EntryDecoder::new(1 << 20);
    let mut frame = Vec::new();
    let Ok(e) = decoder.decode(&meta, &data, &mut frame) else { return };
    // Whatever was accepted is a frame exactly as long as it says.
    let info: FrameInfo = e.info;
    assert_eq!(EntryInfo::parse(&meta, data.len()).map(|p| p.info), Ok(info));
    match info.payload_len().expect("an accepted description is valid") {
        Some(len) => {
            assert_eq!(frame.len(), len);
            convert::to_0rgb(&info, &frame, &mut Vec::new()).expect("a decoded raw frame converts");
        }
        None => {
            assert_eq!(frame, data, "MJPEG passes through untouched");
            let _ = convert::to_0rgb(&info, &frame, &mut Vec::new());
        }
    }
});
