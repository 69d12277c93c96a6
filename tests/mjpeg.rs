//! MJPEG through a ring: a known image compressed with turbojpeg, published
//! as MJPEG, read by a consumer and decoded by `convert` (feature `jpeg`).
#![cfg(target_os = "linux")]
#![cfg(feature = "jpeg")]

mod common;

use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig, convert};

const W: usize = 96;
const H: usize = 64;

/// A smooth RGB image: red rises left to right, green top to bottom.
fn image() -> Vec<u8> {
    (0..H).flat_map(|y| (0..W).flat_map(move |x| [(x * 255 / W) as u8, (y * 255 / H) as u8, 128])).collect()
}

#[test]
fn an_mjpeg_frame_decodes_to_the_original_pixels_within_jpeg_tolerance() {
    let rgb = image();
    let src =
        turbojpeg::Image { pixels: &rgb[..], width: W, pitch: W * 3, height: H, format: turbojpeg::PixelFormat::RGB };
    let jpeg = turbojpeg::compress(src, 90, turbojpeg::Subsamp::Sub2x2).unwrap();

    let name = common::unique_name("mjpeg");
    let mut tx = Producer::create(&name, RingConfig::new(2, 64 * 1024)).unwrap();
    let mut rx = Consumer::open(&name).unwrap();
    tx.publish(FrameInfo::new(W as u32, H as u32, PixelFormat::Mjpeg), &jpeg).unwrap();
    let mut buf = FrameBuf::new();
    let meta = rx.try_latest(&mut buf).unwrap().unwrap();
    assert_eq!((meta.info.format, meta.len), (PixelFormat::Mjpeg, jpeg.len()));
    assert_eq!(buf.as_slice(), &jpeg[..]);

    let mut out = Vec::new();
    convert::to_0rgb(&meta.info, &buf, &mut out).unwrap();
    assert_eq!(out.len(), W * H);
    let (mut worst, mut total) = (0u32, 0u64);
    for (px, want) in out.iter().zip(rgb.chunks_exact(3)) {
        assert_eq!(px >> 24, 0xff, "the top byte is opaque alpha");
        let got = [(px >> 16) as u8, (px >> 8) as u8, *px as u8];
        for (g, w) in got.iter().zip(want) {
            let d = u32::from(g.abs_diff(*w));
            worst = worst.max(d);
            total += u64::from(d);
        }
    }
    let mean = total as f64 / (W * H * 3) as f64;
    assert!(mean < 2.0 && worst < 24, "mean error {mean:.2}, worst {worst}");
}

#[test]
fn corrupt_or_mislabelled_jpeg_data_is_an_error_not_a_panic() {
    let info = FrameInfo::new(W as u32, H as u32, PixelFormat::Mjpeg);
    let mut out = Vec::new();
    assert!(matches!(
        convert::to_0rgb(&info, &[0xff, 0xd8, 0, 1, 2], &mut out),
        Err(convert::ConvertError::Jpeg { .. })
    ));
    let rgb = image();
    let src =
        turbojpeg::Image { pixels: &rgb[..], width: W, pitch: W * 3, height: H, format: turbojpeg::PixelFormat::RGB };
    let jpeg = turbojpeg::compress(src, 80, turbojpeg::Subsamp::None).unwrap();
    let wrong = FrameInfo::new(W as u32 + 1, H as u32, PixelFormat::Mjpeg);
    let e = convert::to_0rgb(&wrong, &jpeg, &mut out).unwrap_err();
    assert!(e.to_string().contains("metadata says"), "{e}");
}

/// A real JPEG whose frame header (SOF0) is patched to claim `w`×`h`.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let rgb = image();
    let src =
        turbojpeg::Image { pixels: &rgb[..], width: W, pitch: W * 3, height: H, format: turbojpeg::PixelFormat::RGB };
    let mut jpeg = turbojpeg::compress(src, 80, turbojpeg::Subsamp::Sub2x2).unwrap().to_vec();
    let sof = jpeg.windows(2).position(|m| m == [0xff, 0xc0]).expect("a baseline JPEG has SOF0");
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

#[test]
fn a_huge_size_in_the_metadata_or_the_jpeg_is_refused_before_allocating_it() {
    // Found by the bridge_entry fuzzer: the output used to be sized from the
    // metadata (here 30000x30000: 3.6 GB) before the JPEG was looked at.
    let mut out = Vec::new();
    let jpeg = jpeg_claiming(W as u16, H as u16);
    let e = convert::to_0rgb(&FrameInfo::new(30_000, 30_000, PixelFormat::Mjpeg), &jpeg, &mut out).unwrap_err();
    assert!(e.to_string().contains("metadata says"), "{e}");
    assert!(out.capacity() < 1 << 20, "{} pixels allocated", out.capacity());
    // A few kilobytes of JPEG claiming 30000x30000 pixels in its own header:
    // a decompression bomb, refused by the size ratio.
    let bomb = jpeg_claiming(30_000, 30_000);
    let e = convert::to_0rgb(&FrameInfo::new(30_000, 30_000, PixelFormat::Mjpeg), &bomb, &mut out).unwrap_err();
    assert!(e.to_string().contains("decompression bomb"), "{e}");
    assert!(out.capacity() < 1 << 20, "{} pixels allocated", out.capacity());
}

#[test]
fn every_jpeg_decoder_refuses_a_decompression_bomb() {
    // Defect: only the display conversion limited a JPEG's declared size;
    // `jpeg::Codec::decode` (bridge in, and everything decoding into a
    // frame's own format) decoded whatever a few kilobytes claimed.
    let bomb = jpeg_claiming(8000, 8000);
    assert!(bomb.len() < 8 << 10);
    let mut codec = framering::jpeg::Codec::new();
    for format in [PixelFormat::Gray8, PixelFormat::I420] {
        let info = FrameInfo::new(8000, 8000, format);
        let mut dst = vec![0; info.payload_len().unwrap().unwrap()];
        let e = codec.decode(&bomb, &info, &mut dst).unwrap_err();
        assert!(e.to_string().contains("decompression bomb"), "{format}: {e}");
    }
    // An honest JPEG of the same codec still decodes.
    let info = FrameInfo::new(W as u32, H as u32, PixelFormat::Bgr24);
    let jpeg = codec.encode(&info, &image(), 90).unwrap().to_vec();
    let mut dst = vec![0; W * H * 3];
    codec.decode(&jpeg, &info, &mut dst).unwrap();
}
