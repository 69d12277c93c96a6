//! Pixel conversion of any supported format to `0RGB` `u32` pixels
//! (`0x00RRGGBB`, the layout minifb and most software framebuffers use).
//!
//! YUV formats use BT.601 limited-range coefficients in integer arithmetic
//! (what webcams send). The loops walk rows with iterators, so there is no
//! per-pixel indexing or allocation; the output buffer is reused.
//!
//! ```
//! use framering::{FrameInfo, PixelFormat, convert};
//! let info = FrameInfo::new(2, 1, PixelFormat::Bgr24);
//! let mut out = Vec::new();
//! convert::to_0rgb(&info, &[0, 0, 255, 255, 0, 0], &mut out)?;
//! assert_eq!(out, [0x00ff0000, 0x000000ff]); // red, blue
//! # Ok::<(), framering::convert::ConvertError>(())
//! ```

use std::fmt;

use crate::error::Error;
use crate::format::{FrameInfo, PixelFormat};

/// Why a frame could not be converted.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConvertError {
    /// The frame description is impossible.
    Frame(Error),
    /// The payload is shorter than the description requires.
    TooShort {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The format needs a feature this build lacks (MJPEG needs `jpeg`).
    Unsupported {
        /// The format.
        format: PixelFormat,
    },
    /// The JPEG decoder rejected the data.
    Jpeg {
        /// The decoder's message.
        message: String,
    },
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "{e}"),
            Self::TooShort { len, needed } => write!(f, "payload is {len} bytes, the frame needs {needed}"),
            Self::Unsupported { format } => {
                write!(f, "{format} frames need the `jpeg` feature (cargo --features jpeg)")
            }
            Self::Jpeg { message } => write!(f, "JPEG decoding failed: {message}"),
        }
    }
}

impl std::error::Error for ConvertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Frame(e) => Some(e),
            _ => None,
        }
    }
}

/// Converts one frame to `width × height` `0RGB` pixels, rows unpadded,
/// replacing the contents of `out` (its allocation is reused).
pub fn to_0rgb(info: &FrameInfo, src: &[u8], out: &mut Vec<u32>) -> Result<(), ConvertError> {
    let planes = info.planes().map_err(ConvertError::Frame)?;
    if info.format == PixelFormat::Mjpeg {
        return mjpeg(info, src, out);
    }
    let needed = planes.payload_len();
    if src.len() < needed {
        return Err(ConvertError::TooShort { len: src.len(), needed });
    }
    let (w, h) = (info.width as usize, info.height as usize);
    out.clear();
    out.resize(w * h, 0);
    let first = planes[0];
    let rows = |out: &mut [u32], f: fn(&[u8], &mut [u32])| {
        out.chunks_exact_mut(w).enumerate().for_each(|(r, d)| f(first.row(src, r), d));
    };
    match info.format {
        PixelFormat::Bgr24 => rows(out, |s, d| packed::<3>(s, d, [2, 1, 0])),
        PixelFormat::Rgb24 => rows(out, |s, d| packed::<3>(s, d, [0, 1, 2])),
        PixelFormat::Bgra => rows(out, |s, d| packed::<4>(s, d, [2, 1, 0])),
        PixelFormat::Rgba => rows(out, |s, d| packed::<4>(s, d, [0, 1, 2])),
        PixelFormat::Gray8 => rows(out, gray),
        PixelFormat::Yuyv => rows(out, yuyv),
        PixelFormat::Nv12 => {
            let (y, uv) = (planes[0], planes[1]);
            for (row, d) in out.chunks_exact_mut(w).enumerate() {
                let uv = uv.row(src, row / 2).chunks_exact(2).map(|c| (c[0], c[1]));
                yuv_row(d, y.row(src, row), uv);
            }
        }
        PixelFormat::I420 => {
            let (y, u, v) = (planes[0], planes[1], planes[2]);
            for (row, d) in out.chunks_exact_mut(w).enumerate() {
                let uv = u.row(src, row / 2).iter().copied().zip(v.row(src, row / 2).iter().copied());
                yuv_row(d, y.row(src, row), uv);
            }
        }
        PixelFormat::Mjpeg => {} // decoded above
    }
    Ok(())
}

#[inline(always)]
fn rgb(r: u8, g: u8, b: u8) -> u32 {
    (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b)
}

/// Packed RGB-family row: `N` bytes a pixel, `order` = indices of R, G, B.
fn packed<const N: usize>(src: &[u8], dst: &mut [u32], [r, g, b]: [usize; 3]) {
    for (px, d) in src.chunks_exact(N).zip(dst) {
        *d = rgb(px[r], px[g], px[b]);
    }
}

fn gray(src: &[u8], dst: &mut [u32]) {
    for (&y, d) in src.iter().zip(dst) {
        *d = u32::from(y) * 0x0001_0101;
    }
}

/// The chroma terms two horizontally adjacent pixels share, BT.601 limited
/// range in 8-bit fixed point: (R, G, B) offsets.
#[inline(always)]
fn chroma(u: u8, v: u8) -> (i32, i32, i32) {
    let (d, e) = (i32::from(u) - 128, i32::from(v) - 128);
    (409 * e, -100 * d - 208 * e, 516 * d)
}

#[inline(always)]
fn luma_rgb(y: u8, (r, g, b): (i32, i32, i32)) -> u32 {
    let c = 298 * (i32::from(y) - 16) + 128;
    let clamp = |x: i32| (x >> 8).clamp(0, 255) as u32;
    (clamp(c + r) << 16) | (clamp(c + g) << 8) | clamp(c + b)
}

#[cfg(test)]
fn yuv(y: u8, u: u8, v: u8) -> u32 {
    luma_rgb(y, chroma(u, v))
}

/// Converts one row of 4:2:x pixels: `y` holds the row's luma, `uv` one
/// (u, v) pair per two pixels; an odd last pixel uses the next pair alone.
#[inline(always)]
fn yuv_row(dst: &mut [u32], y: &[u8], mut uv: impl Iterator<Item = (u8, u8)>) {
    let w = dst.len();
    let mut out = dst.chunks_exact_mut(2);
    // `out` runs out first, so `uv` is not advanced past the last full pair.
    for ((d, y), (u, v)) in out.by_ref().zip(y.chunks_exact(2)).zip(uv.by_ref()) {
        let c = chroma(u, v);
        d[0] = luma_rgb(y[0], c);
        d[1] = luma_rgb(y[1], c);
    }
    if let ([d], Some(&y), Some((u, v))) = (out.into_remainder(), y.get(w - 1), uv.next()) {
        *d = luma_rgb(y, chroma(u, v));
    }
}

/// YUYV interleaves luma and chroma: Y0 U Y1 V per two pixels.
fn yuyv(src: &[u8], dst: &mut [u32]) {
    let w = dst.len();
    let mut out = dst.chunks_exact_mut(2);
    for (d, m) in out.by_ref().zip(src.chunks_exact(4)) {
        let c = chroma(m[1], m[3]);
        d[0] = luma_rgb(m[0], c);
        d[1] = luma_rgb(m[2], c);
    }
    if let ([d], Some(m)) = (out.into_remainder(), src.chunks_exact(4).nth(w / 2)) {
        *d = luma_rgb(m[0], chroma(m[1], m[3]));
    }
}

/// A planar YUV layout, planes one after another with no padding: what
/// YUV4MPEG2 (`framering cat --y4m`) and most video tools carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Planar {
    /// Luma only.
    Mono,
    /// 4:2:0: Y, then U and V at half width and half height (rounded up).
    Yuv420,
    /// 4:2:2: Y, then U and V at half width (rounded up), full height.
    Yuv422,
    /// 4:4:4: Y, U and V at full size.
    Yuv444,
}

impl Planar {
    /// The layout a ring format becomes in [`to_planar`]: GRAY8 mono, I420
    /// and NV12 4:2:0, YUYV 4:2:2, the RGB formats 4:4:4; `None` for MJPEG.
    pub fn of(format: PixelFormat) -> Option<Self> {
        Some(match format {
            PixelFormat::Gray8 => Self::Mono,
            PixelFormat::I420 | PixelFormat::Nv12 => Self::Yuv420,
            PixelFormat::Yuyv => Self::Yuv422,
            PixelFormat::Mjpeg => return None,
            _ => Self::Yuv444,
        })
    }

    /// Width and height of each plane of a `width` × `height` frame.
    pub fn planes(self, width: usize, height: usize) -> Vec<(usize, usize)> {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        match self {
            Self::Mono => vec![(width, height)],
            Self::Yuv420 => vec![(width, height), (cw, ch), (cw, ch)],
            Self::Yuv422 => vec![(width, height), (cw, height), (cw, height)],
            Self::Yuv444 => vec![(width, height); 3],
        }
    }

    /// Bytes of a `width` × `height` frame in this layout.
    pub fn len(self, width: usize, height: usize) -> usize {
        self.planes(width, height).iter().map(|(w, h)| w * h).sum()
    }
}

/// Converts a raw frame to [`Planar`] planes, replacing the contents of
/// `out`: GRAY8 and I420 are copied (row padding dropped), NV12's
/// interleaved chroma and YUYV's packed samples are split into planes (no
/// arithmetic), and the RGB formats are converted to BT.601 limited-range
/// 4:4:4, the inverse of [`to_0rgb`]'s coefficients. Returns the layout.
pub fn to_planar(info: &FrameInfo, src: &[u8], out: &mut Vec<u8>) -> Result<Planar, ConvertError> {
    let planes = info.planes().map_err(ConvertError::Frame)?;
    let layout = Planar::of(info.format).ok_or(ConvertError::Unsupported { format: info.format })?;
    let needed = planes.payload_len();
    if src.len() < needed {
        return Err(ConvertError::TooShort { len: src.len(), needed });
    }
    let (w, h) = (info.width as usize, info.height as usize);
    out.clear();
    out.reserve(layout.len(w, h));
    let first = planes[0];
    match info.format {
        PixelFormat::Gray8 | PixelFormat::I420 => {
            for plane in planes.iter() {
                (0..plane.rows).for_each(|r| out.extend_from_slice(plane.row(src, r)));
            }
        }
        PixelFormat::Nv12 => {
            (0..h).for_each(|r| out.extend_from_slice(planes[0].row(src, r)));
            for pick in [0, 1] {
                for r in 0..planes[1].rows {
                    out.extend(planes[1].row(src, r).iter().skip(pick).step_by(2));
                }
            }
        }
        PixelFormat::Yuyv => {
            // Y0 U Y1 V: luma at even offsets (the row's first w), U at 1, V at 3.
            (0..h).for_each(|r| out.extend(first.row(src, r).iter().step_by(2).take(w)));
            for pick in [1, 3] {
                (0..h).for_each(|r| out.extend(first.row(src, r).iter().skip(pick).step_by(4)));
            }
        }
        rgb_format => {
            let (n, [ri, gi, bi]) = match rgb_format {
                PixelFormat::Bgr24 => (3, [2, 1, 0]),
                PixelFormat::Rgb24 => (3, [0, 1, 2]),
                PixelFormat::Bgra => (4, [2, 1, 0]),
                _ => (4, [0, 1, 2]),
            };
            out.resize(3 * w * h, 0);
            let (y, uv) = out.split_at_mut(w * h);
            let (u, v) = uv.split_at_mut(w * h);
            let rows = y.chunks_exact_mut(w).zip(u.chunks_exact_mut(w)).zip(v.chunks_exact_mut(w));
            for (r, ((y, u), v)) in rows.enumerate() {
                for (i, px) in first.row(src, r).chunks_exact(n).enumerate() {
                    let (r, g, b) = (i32::from(px[ri]), i32::from(px[gi]), i32::from(px[bi]));
                    // BT.601 limited range, 8-bit fixed point; always in 16..=240.
                    y[i] = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
                    u[i] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8;
                    v[i] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8;
                }
            }
        }
    }
    Ok(layout)
}

/// The most pixels a JPEG may claim per byte of its own size. Ordinary
/// encoders stay under 64 (baseline) and 170 (progressive), even for a
/// uniform image; a crafted "decompression bomb" can claim far more.
#[cfg(feature = "jpeg")]
const MAX_PIXELS_PER_JPEG_BYTE: usize = 1024;

#[cfg(feature = "jpeg")]
fn mjpeg(info: &FrameInfo, src: &[u8], out: &mut Vec<u32>) -> Result<(), ConvertError> {
    use std::cell::RefCell;
    use zerocopy::IntoBytes;
    thread_local! {
        // One decompressor per thread, reused for every frame.
        static DECOMPRESSOR: RefCell<Option<turbojpeg::Decompressor>> = const { RefCell::new(None) };
    }
    let (w, h) = (info.width as usize, info.height as usize);
    let jpeg_error = |e: turbojpeg::Error| ConvertError::Jpeg { message: e.to_string() };
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(d) => d,
            None => slot.insert(turbojpeg::Decompressor::new().map_err(jpeg_error)?),
        };
        let header = decompressor.read_header(src).map_err(jpeg_error)?;
        if (header.width, header.height) != (w, h) {
            return Err(ConvertError::Jpeg {
                message: format!("image is {}x{}, metadata says {w}x{h}", header.width, header.height),
            });
        }
        if w * h > src.len().saturating_mul(MAX_PIXELS_PER_JPEG_BYTE) {
            return Err(ConvertError::Jpeg {
                message: format!("{w}x{h} pixels from {} bytes of JPEG: refusing a decompression bomb", src.len()),
            });
        }
        out.clear();
        out.resize(w * h, 0);
        // BGRX bytes in memory read as a little-endian u32 are 0xXXRRGGBB.
        let pixels = out.as_mut_bytes();
        let image =
            turbojpeg::Image { pixels, width: w, pitch: w * 4, height: h, format: turbojpeg::PixelFormat::BGRX };
        decompressor.decompress(src, image).map_err(jpeg_error)
    })?;
    out.iter_mut().for_each(|p| *p &= 0x00ff_ffff);
    Ok(())
}

#[cfg(not(feature = "jpeg"))]
fn mjpeg(info: &FrameInfo, _src: &[u8], _out: &mut Vec<u32>) -> Result<(), ConvertError> {
    Err(ConvertError::Unsupported { format: info.format })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planar_round_trips_through_to_0rgb_within_rounding() {
        // RGB → 4:4:4 → back through the display conversion: within 2.
        let info = FrameInfo::new(4, 2, PixelFormat::Bgr24);
        let src: Vec<u8> = (0..24).map(|i| (i * 37 % 256) as u8).collect();
        let mut planar = Vec::new();
        assert_eq!(to_planar(&info, &src, &mut planar).unwrap(), Planar::Yuv444);
        assert_eq!(planar.len(), 24);
        for (i, px) in src.chunks_exact(3).enumerate() {
            let back = yuv(planar[i], planar[8 + i], planar[16 + i]);
            let want = rgb(px[2], px[1], px[0]);
            for shift in [0, 8, 16] {
                let (a, b) = ((back >> shift) & 255, (want >> shift) & 255);
                assert!(a.abs_diff(b) <= 2, "pixel {i}: {back:06x} vs {want:06x}");
            }
        }
    }

    #[test]
    fn planar_splits_nv12_and_yuyv_and_drops_padding() {
        // NV12 4x2 with stride 6: Y rows, then one U,V row.
        let nv12 = FrameInfo::new(4, 2, PixelFormat::Nv12).with_stride(6);
        let src = [1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0, 0, 10, 20, 11, 21, 0, 0];
        let mut out = Vec::new();
        assert_eq!(to_planar(&nv12, &src, &mut out).unwrap(), Planar::Yuv420);
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 20, 21]);
        // YUYV 4x1: Y0 U0 Y1 V0 Y2 U1 Y3 V1.
        let yuyv = FrameInfo::new(4, 1, PixelFormat::Yuyv);
        assert_eq!(to_planar(&yuyv, &[1, 10, 2, 20, 3, 11, 4, 21], &mut out).unwrap(), Planar::Yuv422);
        assert_eq!(out, [1, 2, 3, 4, 10, 11, 20, 21]);
        // I420 with padding: planes packed.
        let i420 = FrameInfo::new(2, 2, PixelFormat::I420).with_stride(4);
        let src = [1, 2, 0, 0, 3, 4, 0, 0, 9, 0, 7, 0];
        assert_eq!(to_planar(&i420, &src, &mut out).unwrap(), Planar::Yuv420);
        assert_eq!(out, [1, 2, 3, 4, 9, 7]);
        assert!(matches!(
            to_planar(&FrameInfo::new(2, 2, PixelFormat::Mjpeg), &[0; 4], &mut out),
            Err(ConvertError::Unsupported { .. })
        ));
        assert!(matches!(to_planar(&i420, &src[..5], &mut out), Err(ConvertError::TooShort { .. })));
    }

    const RED: u32 = 0xff0000;
    const GREEN: u32 = 0x00ff00;
    const BLUE: u32 = 0x0000ff;
    const WHITE: u32 = 0xffffff;

    fn conv(info: FrameInfo, src: &[u8]) -> Vec<u32> {
        let mut out = vec![7; 3]; // stale contents must be replaced
        to_0rgb(&info, src, &mut out).unwrap();
        out
    }

    #[test]
    fn packed_rgb_formats_map_channels_in_their_byte_order() {
        let bgr = [0, 0, 255, 0, 255, 0, 255, 0, 0];
        assert_eq!(conv(FrameInfo::new(3, 1, PixelFormat::Bgr24), &bgr), [RED, GREEN, BLUE]);
        let rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255];
        assert_eq!(conv(FrameInfo::new(3, 1, PixelFormat::Rgb24), &rgb), [RED, GREEN, BLUE]);
        let bgra = [0, 0, 255, 9, 255, 0, 0, 9];
        assert_eq!(conv(FrameInfo::new(2, 1, PixelFormat::Bgra), &bgra), [RED, BLUE]);
        let rgba = [0, 0, 255, 9, 1, 2, 3, 9];
        assert_eq!(conv(FrameInfo::new(2, 1, PixelFormat::Rgba), &rgba), [BLUE, 0x010203]);
        assert_eq!(conv(FrameInfo::new(3, 1, PixelFormat::Gray8), &[0, 128, 255]), [0, 0x808080, WHITE]);
    }

    #[test]
    fn padded_strides_and_odd_widths_skip_the_padding() {
        // 3x2 BGR24 with stride 12 (3 bytes of padding per row).
        let src = [0, 0, 255, 0, 255, 0, 255, 0, 0, 99, 99, 99, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99, 99, 99];
        let info = FrameInfo::new(3, 2, PixelFormat::Bgr24).with_stride(12);
        assert_eq!(conv(info, &src), [RED, GREEN, BLUE, 0x030201, 0x060504, 0x090807]);
        // 3x2 GRAY8 with stride 4.
        let info = FrameInfo::new(3, 2, PixelFormat::Gray8).with_stride(4);
        assert_eq!(
            conv(info, &[1, 2, 3, 99, 4, 5, 6, 99]),
            [0x010101, 0x020202, 0x030303, 0x040404, 0x050505, 0x060606]
        );
    }

    #[test]
    fn yuv_uses_bt601_limited_range() {
        // (Y, U, V) of white, black, red, green and blue in BT.601 limited range.
        assert_eq!(yuv(235, 128, 128), WHITE);
        assert_eq!(yuv(16, 128, 128), 0);
        assert_eq!(yuv(81, 90, 240), RED);
        // Green comes back with blue 1 from fixed-point rounding.
        assert_eq!(yuv(145, 54, 34), 0x00ff01);
        assert_eq!(yuv(41, 240, 110), BLUE);
        // Values outside the nominal range clamp instead of wrapping.
        assert_eq!(yuv(255, 255, 255) >> 16, 255);
        assert_eq!(yuv(0, 0, 0) >> 16, 0);
    }

    #[test]
    fn yuyv_shares_chroma_across_pixel_pairs_including_an_odd_last_pixel() {
        // 3x1: macropixels (white, black) and (red, -). Stride is 8 (2 macropixels).
        let src = [235, 128, 16, 128, 81, 90, 0, 240];
        assert_eq!(conv(FrameInfo::new(3, 1, PixelFormat::Yuyv), &src), [WHITE, 0, RED]);
    }

    #[test]
    fn nv12_reads_the_interleaved_chroma_plane_with_the_luma_stride() {
        // 3x3 with stride 4: Y rows of 4, then 2 UV rows of 4 (U,V,U,V).
        #[rustfmt::skip]
        let src = [
            235, 16, 235, 0,
            16, 235, 16, 0,
            81, 81, 81, 0,
            128, 128, 90, 240, // chroma for rows 0-1
            90, 240, 128, 128, // chroma for row 2
        ];
        let out = conv(FrameInfo::new(3, 3, PixelFormat::Nv12).with_stride(4), &src);
        let red_y_neutral = yuv(81, 128, 128);
        assert_eq!(out, [WHITE, 0, yuv(235, 90, 240), 0, WHITE, yuv(16, 90, 240), RED, RED, red_y_neutral]);
    }

    #[test]
    fn i420_reads_separate_chroma_planes_at_half_stride() {
        // 3x3 with stride 4: chroma stride 2, 2 chroma rows per plane.
        #[rustfmt::skip]
        let src = [
            235, 16, 81, 0,
            16, 235, 81, 0,
            81, 81, 81, 0,
            128, 90, 90, 128, // U plane
            128, 240, 240, 128, // V plane
        ];
        let out = conv(FrameInfo::new(3, 3, PixelFormat::I420).with_stride(4), &src);
        assert_eq!(out, [WHITE, 0, RED, 0, WHITE, RED, RED, RED, yuv(81, 128, 128)]);
    }

    #[test]
    fn short_payloads_and_bad_descriptions_are_errors() {
        let mut out = Vec::new();
        let r = to_0rgb(&FrameInfo::new(2, 2, PixelFormat::Bgr24), &[0; 11], &mut out);
        assert!(matches!(r, Err(ConvertError::TooShort { len: 11, needed: 12 })));
        let r = to_0rgb(&FrameInfo::new(0, 2, PixelFormat::Bgr24), &[], &mut out);
        assert!(matches!(r, Err(ConvertError::Frame(_))));
    }

    #[cfg(not(feature = "jpeg"))]
    #[test]
    fn mjpeg_without_the_jpeg_feature_says_which_feature_to_enable() {
        let r = to_0rgb(&FrameInfo::new(2, 2, PixelFormat::Mjpeg), &[0xff, 0xd8], &mut Vec::new());
        assert!(r.unwrap_err().to_string().contains("jpeg"));
    }
}
