//! JPEG encoding of any raw frame, and decoding a JPEG back into a frame's
//! own format (straight into a loaned slot where turbojpeg can): what the
//! Redis bridge sends and `framering serve` shows (feature `jpeg`).
//!
//! Packed RGB and grey frames go through turbojpeg's pixel API with the
//! frame's stride. YUV frames skip colour conversion entirely: they are
//! re-planed into a scratch planar image (4:2:2 for YUYV, 4:2:0 for NV12 and
//! I420, edges replicated to the JPEG's padded size) that turbojpeg encodes
//! as is, and decoded to planes that are re-packed. Every size handed to
//! turbojpeg is checked here first: its own checks are assertions.

use turbojpeg::{Compressor, DecompressHeader, Decompressor, Image, Subsamp, YuvImage};

use crate::format::{FrameInfo, PixelFormat, Planes, Subsampling};

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JpegError {
    /// Width, height, stride and format describe no valid frame.
    Frame {
        /// Why.
        reason: String,
    },
    /// The buffer's length is not the frame's.
    Payload {
        /// The buffer's length.
        len: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// The format is not a raw one (MJPEG frames are JPEGs already).
    Unsupported {
        /// The format.
        format: PixelFormat,
    },
    /// turbojpeg refused, or the image does not fit the frame.
    Jpeg {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for JpegError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Frame { reason } => write!(f, "impossible frame: {reason}"),
            Self::Payload { len, expected } => write!(f, "{len} bytes, expected {expected}"),
            Self::Unsupported { format } => write!(f, "{format} frames are not raw pixels"),
            Self::Jpeg { reason } => write!(f, "JPEG: {reason}"),
        }
    }
}

impl std::error::Error for JpegError {}

/// A reusable JPEG encoder/decoder and its scratch planes: one per thread
/// that encodes, so no frame allocates.
///
/// ```
/// use framering::{FrameInfo, PixelFormat, jpeg::Codec};
/// let info = FrameInfo::new(16, 16, PixelFormat::Bgr24);
/// let mut codec = Codec::new();
/// let jpeg = codec.encode(&info, &[128; 16 * 16 * 3], 80)?;
/// assert_eq!(&jpeg[..2], [0xff, 0xd8]);
/// # Ok::<(), framering::jpeg::JpegError>(())
/// ```
pub struct Codec {
    compressor: Option<Compressor>,
    decompressor: Option<Decompressor>,
    planes: Vec<u8>,
    /// The last JPEG encoded, kept at turbojpeg's worst-case size so no
    /// frame allocates.
    jpeg: Vec<u8>,
}

/// turbojpeg's pixel format for packed formats, `None` for the YUV ones.
fn packed(format: PixelFormat) -> Option<(turbojpeg::PixelFormat, Subsamp)> {
    use turbojpeg::PixelFormat as T;
    Some(match format {
        PixelFormat::Bgr24 => (T::BGR, Subsamp::Sub2x2),
        PixelFormat::Rgb24 => (T::RGB, Subsamp::Sub2x2),
        PixelFormat::Bgra => (T::BGRA, Subsamp::Sub2x2),
        PixelFormat::Rgba => (T::RGBA, Subsamp::Sub2x2),
        PixelFormat::Gray8 => (T::GRAY, Subsamp::Gray),
        _ => return None,
    })
}

/// The chroma subsampling a YUV format is carried in: its own.
fn yuv_subsamp(format: PixelFormat) -> Option<Subsamp> {
    match format.subsampling()? {
        Subsampling::YUV422 => Some(Subsamp::Sub2x1),
        Subsampling::YUV420 => Some(Subsamp::Sub2x2),
        _ => None,
    }
}

fn jpeg_err(e: turbojpeg::Error) -> JpegError {
    JpegError::Jpeg { reason: e.to_string() }
}

/// Copies `src` into `dst` and fills the rest of `dst` with `src`'s last
/// byte (edge replication for the JPEG's padded planes).
fn copy_padded(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
    if let Some(&last) = src[..n].last() {
        dst[n..].fill(last);
    }
}

/// The compressor (created on first use) set up for one `w`×`h` image, with
/// `jpeg` grown to turbojpeg's worst-case size for it.
fn compressor_for<'a>(
    slot: &'a mut Option<Compressor>,
    quality: u8,
    subsamp: Subsamp,
    (w, h): (usize, usize),
    jpeg: &mut Vec<u8>,
) -> Result<&'a mut Compressor, JpegError> {
    let c = match slot {
        Some(c) => c,
        None => slot.insert(Compressor::new().map_err(jpeg_err)?),
    };
    c.set_quality(quality.into()).map_err(jpeg_err)?;
    c.set_subsamp(subsamp).map_err(jpeg_err)?;
    jpeg.resize(c.buf_len(w, h).map_err(jpeg_err)?, 0);
    Ok(c)
}

/// The most pixels a JPEG may claim per byte of its own size. Ordinary
/// encoders stay under 64 (baseline) and 170 (progressive), even for a
/// uniform image; a crafted "decompression bomb" can claim far more.
const MAX_PIXELS_PER_JPEG_BYTE: usize = 1024;

/// Reads `jpeg`'s header and checks that it is a `w`×`h` image and no
/// decompression bomb: every decode goes through this before turbojpeg
/// spends any time on the pixels.
fn checked_header(d: &mut Decompressor, jpeg: &[u8], w: usize, h: usize) -> Result<DecompressHeader, JpegError> {
    let header = d.read_header(jpeg).map_err(jpeg_err)?;
    if (header.width, header.height) != (w, h) {
        return Err(JpegError::Jpeg {
            reason: format!("image is {}x{}, metadata says {w}x{h}", header.width, header.height),
        });
    }
    if w.saturating_mul(h) > jpeg.len().saturating_mul(MAX_PIXELS_PER_JPEG_BYTE) {
        return Err(JpegError::Jpeg {
            reason: format!("{w}x{h} pixels from {} bytes of JPEG: refusing a decompression bomb", jpeg.len()),
        });
    }
    Ok(header)
}

/// The decompressor, created on first use.
fn decompressor(slot: &mut Option<Decompressor>) -> Result<&mut Decompressor, JpegError> {
    match slot {
        Some(d) => Ok(d),
        None => Ok(slot.insert(Decompressor::new().map_err(jpeg_err)?)),
    }
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec").field("jpeg_capacity", &self.jpeg.len()).finish_non_exhaustive()
    }
}

impl Codec {
    /// A codec; turbojpeg's handles are made on first use.
    pub fn new() -> Self {
        Self { compressor: None, decompressor: None, planes: Vec::new(), jpeg: Vec::new() }
    }

    /// Encodes a raw frame (`src` holds exactly its payload) as a JPEG of
    /// `quality` (1..=100); the JPEG lives until the next call.
    pub fn encode(&mut self, info: &FrameInfo, src: &[u8], quality: u8) -> Result<&[u8], JpegError> {
        let planes = frame_planes(info)?;
        if info.format.is_compressed() {
            return Err(JpegError::Unsupported { format: info.format });
        }
        if planes.is_empty() || planes.payload_len() != src.len() {
            return Err(JpegError::Payload { len: src.len(), expected: "a raw frame's exact length" });
        }
        let (w, h) = (info.width as usize, info.height as usize);
        let written = if let Some((format, subsamp)) = packed(info.format) {
            let c = compressor_for(&mut self.compressor, quality, subsamp, (w, h), &mut self.jpeg)?;
            let image = Image { pixels: src, width: w, pitch: planes[0].stride, height: h, format };
            c.compress_to_slice(image, &mut self.jpeg).map_err(jpeg_err)?
        } else {
            let subsamp = yuv_subsamp(info.format).ok_or(JpegError::Unsupported { format: info.format })?;
            let shape = YuvImage { pixels: (), width: w, align: 1, height: h, subsamp };
            self.planes.resize(turbojpeg::yuv_pixels_len(w, 1, h, subsamp).map_err(jpeg_err)?, 0);
            fill_planes(info, &planes, src, &mut self.planes, shape.y_size(), shape.uv_size());
            let c = compressor_for(&mut self.compressor, quality, subsamp, (w, h), &mut self.jpeg)?;
            let image = YuvImage { pixels: &self.planes[..], width: w, align: 1, height: h, subsamp };
            c.compress_yuv_to_slice(image, &mut self.jpeg).map_err(jpeg_err)?
        };
        Ok(&self.jpeg[..written])
    }

    /// Decodes `jpeg` into `dst`, which holds exactly the payload of the
    /// raw frame `info`. The image must have the frame's size, and for YUV
    /// formats the chroma subsampling they are sent in.
    pub fn decode(&mut self, jpeg: &[u8], info: &FrameInfo, dst: &mut [u8]) -> Result<(), JpegError> {
        let planes = frame_planes(info)?;
        if planes.is_empty() || planes.payload_len() != dst.len() {
            return Err(JpegError::Payload { len: dst.len(), expected: "a raw frame's exact length" });
        }
        let (w, h) = (info.width as usize, info.height as usize);
        let header = checked_header(decompressor(&mut self.decompressor)?, jpeg, w, h)?;
        if let Some((format, _)) = packed(info.format) {
            let image = Image { pixels: dst, width: w, pitch: planes[0].stride, height: h, format };
            return decompressor(&mut self.decompressor)?.decompress(jpeg, image).map_err(jpeg_err);
        }
        let subsamp = yuv_subsamp(info.format).ok_or(JpegError::Unsupported { format: info.format })?;
        if header.subsamp != subsamp {
            return Err(JpegError::Jpeg {
                reason: format!(
                    "chroma subsampling is {:?}, {} frames are sent as {subsamp:?}",
                    header.subsamp, info.format
                ),
            });
        }
        let shape = YuvImage { pixels: (), width: w, align: 1, height: h, subsamp };
        self.planes.resize(turbojpeg::yuv_pixels_len(w, 1, h, subsamp).map_err(jpeg_err)?, 0);
        let d = decompressor(&mut self.decompressor)?;
        let image = YuvImage { pixels: &mut self.planes[..], width: w, align: 1, height: h, subsamp };
        d.decompress_to_yuv(jpeg, image).map_err(jpeg_err)?;
        pack_planes(info, &planes, &self.planes, dst, shape.y_size(), shape.uv_size());
        Ok(())
    }

    /// Decodes a `w`×`h` JPEG into `out` as `0xFFRRGGBB` pixels (BGRA
    /// bytes, alpha 255), resized to `w × h`; the display path's MJPEG
    /// conversion. Checked as [`Codec::decode`] is, before `out` grows.
    pub(crate) fn decode_0rgb(&mut self, jpeg: &[u8], w: usize, h: usize, out: &mut Vec<u32>) -> Result<(), JpegError> {
        use zerocopy::IntoBytes;
        let d = decompressor(&mut self.decompressor)?;
        checked_header(d, jpeg, w, h)?;
        out.clear();
        out.resize(w * h, 0);
        // BGRA bytes in memory read as a little-endian u32 are 0xAARRGGBB,
        // and decoding sets alpha to 255 (BGRX would leave it undefined).
        let image = Image {
            pixels: out.as_mut_bytes(),
            width: w,
            pitch: w * 4,
            height: h,
            format: turbojpeg::PixelFormat::BGRA,
        };
        d.decompress(jpeg, image).map_err(jpeg_err)
    }
}

/// The frame's planes, or why the description is impossible.
fn frame_planes(info: &FrameInfo) -> Result<Planes, JpegError> {
    info.planes().map_err(|e| JpegError::Frame { reason: e.to_string() })
}

/// Splits a YUV frame into turbojpeg's contiguous Y, U, V planes of the
/// given sizes, replicating the last column and row into the padding.
fn fill_planes(
    info: &FrameInfo,
    frame: &Planes,
    src: &[u8],
    planes: &mut [u8],
    (yw, yh): (usize, usize),
    (uw, uh): (usize, usize),
) {
    let (y, uv) = planes.split_at_mut(yw * yh);
    let (u, v) = uv.split_at_mut(uw * uh);
    let rows = |plane: &mut [u8], pw: usize, n: usize, fill: &mut dyn FnMut(usize, &mut [u8])| {
        for (r, row) in plane.chunks_exact_mut(pw).enumerate() {
            fill(r.min(n - 1), row);
        }
    };
    let luma = frame[0];
    match info.format {
        // One plane: Y0 U Y1 V per two pixels.
        PixelFormat::Yuyv => {
            rows(y, yw, luma.rows, &mut |r, d| {
                d.iter_mut().zip(luma.row(src, r).iter().step_by(2)).for_each(|(d, s)| *d = *s);
            });
            for (plane, first) in [(&mut *u, 1), (&mut *v, 3)] {
                rows(plane, uw, luma.rows, &mut |r, d| {
                    d.iter_mut().zip(luma.row(src, r)[first..].iter().step_by(4)).for_each(|(d, s)| *d = *s);
                });
            }
        }
        // Y, then interleaved U,V.
        PixelFormat::Nv12 => {
            rows(y, yw, luma.rows, &mut |r, d| copy_padded(d, luma.row(src, r)));
            let chroma = frame[1];
            for (plane, first) in [(&mut *u, 0), (&mut *v, 1)] {
                rows(plane, uw, chroma.rows, &mut |r, d| {
                    d.iter_mut().zip(chroma.row(src, r)[first..].iter().step_by(2)).for_each(|(d, s)| *d = *s);
                });
            }
        }
        // Y, U, V.
        _ => {
            for (plane, p, pw) in [(&mut *y, frame[0], yw), (&mut *u, frame[1], uw), (&mut *v, frame[2], uw)] {
                rows(plane, pw, p.rows, &mut |r, d| copy_padded(d, p.row(src, r)));
            }
        }
    }
}

/// The inverse of [`fill_planes`]: packs decoded planes into the frame's
/// own layout, dropping the padding. Stride padding in `dst` is left as is.
fn pack_planes(
    info: &FrameInfo,
    frame: &Planes,
    planes: &[u8],
    dst: &mut [u8],
    (yw, yh): (usize, usize),
    (uw, uh): (usize, usize),
) {
    let (y, uv) = planes.split_at(yw * yh);
    let (u, v) = uv.split_at(uw * uh);
    let luma = frame[0];
    match info.format {
        PixelFormat::Yuyv => {
            for r in 0..luma.rows {
                let cw = luma.row_bytes / 4;
                let (y, u, v) = (&y[r * yw..][..cw * 2], &u[r * uw..][..cw], &v[r * uw..][..cw]);
                for (i, px) in luma.row_mut(dst, r).chunks_exact_mut(4).enumerate() {
                    px.copy_from_slice(&[y[2 * i], u[i], y[2 * i + 1], v[i]]);
                }
            }
        }
        PixelFormat::Nv12 => {
            for r in 0..luma.rows {
                luma.row_mut(dst, r).copy_from_slice(&y[r * yw..][..luma.row_bytes]);
            }
            let chroma = frame[1];
            for r in 0..chroma.rows {
                for (i, px) in chroma.row_mut(dst, r).chunks_exact_mut(2).enumerate() {
                    px.copy_from_slice(&[u[r * uw + i], v[r * uw + i]]);
                }
            }
        }
        _ => {
            for (plane, p, pw) in [(y, frame[0], yw), (u, frame[1], uw), (v, frame[2], uw)] {
                for r in 0..p.rows {
                    p.row_mut(dst, r).copy_from_slice(&plane[r * pw..][..p.row_bytes]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smooth(info: &FrameInfo) -> Vec<u8> {
        crate::testpattern::smooth(info).expect("a raw format")
    }

    /// Mean and worst per-pixel difference after conversion to 0RGB.
    fn difference(info: &FrameInfo, a: &[u8], b: &[u8]) -> (f64, u32) {
        let (mut pa, mut pb) = (Vec::new(), Vec::new());
        crate::convert::to_0rgb(info, a, &mut pa).unwrap();
        crate::convert::to_0rgb(info, b, &mut pb).unwrap();
        let diffs: Vec<u32> = pa
            .iter()
            .zip(&pb)
            .flat_map(|(x, y)| (0..3).map(move |c| ((x >> (8 * c)) & 255).abs_diff((y >> (8 * c)) & 255)))
            .collect();
        (diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64, *diffs.iter().max().unwrap())
    }

    #[test]
    fn every_raw_format_survives_a_jpeg_round_trip_within_tolerance() {
        let mut codec = Codec::new();
        for format in PixelFormat::ALL.into_iter().filter(|f| !f.is_compressed()) {
            // Odd sizes exercise the edge replication; the padded stride the
            // row skipping.
            for (w, h, pad) in [(64, 48, 0), (33, 17, 0), (33, 17, 6)] {
                let info0 = FrameInfo::new(w, h, format);
                let info = info0.with_stride(info0.effective_stride().unwrap() + pad);
                let src = smooth(&info);
                let jpeg = codec.encode(&info, &src, 95).unwrap().to_vec();
                assert_eq!(&jpeg[..2], [0xff, 0xd8], "{format}: a JPEG starts with SOI");
                let mut back = vec![0; src.len()];
                codec.decode(&jpeg, &info, &mut back).unwrap();
                let (mean, worst) = difference(&info, &src, &back);
                assert!(mean < 3.0 && worst < 48, "{format} {w}x{h}+{pad}: mean {mean:.2}, worst {worst}");
            }
        }
    }

    #[test]
    fn decoding_refuses_an_image_of_another_size_or_subsampling() {
        let mut codec = Codec::new();
        let info = FrameInfo::new(32, 16, PixelFormat::Bgr24);
        let jpeg = codec.encode(&info, &smooth(&info), 80).unwrap().to_vec();
        let other = FrameInfo::new(16, 16, PixelFormat::Bgr24);
        let e = codec.decode(&jpeg, &other, &mut [0; 16 * 16 * 3]).unwrap_err();
        assert!(matches!(e, JpegError::Jpeg { .. }), "{e}");
        // A 4:2:0 JPEG offered as YUYV (sent as 4:2:2).
        let yuyv = FrameInfo::new(32, 16, PixelFormat::Yuyv);
        let e = codec.decode(&jpeg, &yuyv, &mut [0; 64 * 16]).unwrap_err();
        assert!(e.to_string().contains("subsampling"), "{e}");
        let e = codec.decode(b"not a jpeg", &info, &mut [0; 96 * 16]).unwrap_err();
        assert!(matches!(e, JpegError::Jpeg { .. }), "{e}");
    }
}
