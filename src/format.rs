//! Pixel formats and the description of one frame ([`FrameInfo`]).
//!
//! The byte layout of each format, and so the payload length a frame of
//! given width, height and stride must have, is defined here once and used
//! both by the producer (to size a loan) and by the consumer (to validate
//! what it read). `docs/FORMAT.md` states the same rules.

use crate::error::{Error, Result};
use crate::layout::SlotMeta;

/// The largest accepted width or height in pixels.
pub const MAX_DIMENSION: u32 = 32_768;

/// How the pixels of a frame are laid out. Stored in a slot as a FourCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PixelFormat {
    /// 3 bytes a pixel: blue, green, red (OpenCV's default). FourCC `BGR3`.
    Bgr24,
    /// 3 bytes a pixel: red, green, blue. FourCC `RGB3`.
    Rgb24,
    /// 4 bytes a pixel: blue, green, red, alpha. FourCC `BGRA`.
    Bgra,
    /// 4 bytes a pixel: red, green, blue, alpha. FourCC `RGBA`.
    Rgba,
    /// 1 byte a pixel: luma. FourCC `GREY`.
    Gray8,
    /// Packed 4:2:2, 4 bytes per 2 pixels: Y0 U Y1 V. FourCC `YUYV`.
    Yuyv,
    /// Planar 4:2:0: a Y plane, then one plane of interleaved U,V. FourCC `NV12`.
    Nv12,
    /// Planar 4:2:0: a Y plane, then a U plane, then a V plane. FourCC `YU12`.
    I420,
    /// A complete JPEG image (one MJPEG frame). FourCC `MJPG`.
    Mjpeg,
}

impl PixelFormat {
    /// Every supported format.
    pub const ALL: [PixelFormat; 9] = [
        Self::Bgr24,
        Self::Rgb24,
        Self::Bgra,
        Self::Rgba,
        Self::Gray8,
        Self::Yuyv,
        Self::Nv12,
        Self::I420,
        Self::Mjpeg,
    ];

    /// The four ASCII characters that name this format in a slot.
    pub const fn fourcc_bytes(self) -> [u8; 4] {
        match self {
            Self::Bgr24 => *b"BGR3",
            Self::Rgb24 => *b"RGB3",
            Self::Bgra => *b"BGRA",
            Self::Rgba => *b"RGBA",
            Self::Gray8 => *b"GREY",
            Self::Yuyv => *b"YUYV",
            Self::Nv12 => *b"NV12",
            Self::I420 => *b"YU12",
            Self::Mjpeg => *b"MJPG",
        }
    }

    /// The FourCC as stored: the four bytes read as a little-endian `u32`.
    pub const fn fourcc(self) -> u32 {
        u32::from_le_bytes(self.fourcc_bytes())
    }

    /// The format's name in human output and in the CLI and Python APIs:
    /// `BGR24`, `RGB24`, `BGRA`, `RGBA`, `GRAY8`, `YUYV`, `NV12`, `I420`,
    /// `MJPEG`. (The FourCC is the on-wire code, for `docs/FORMAT.md` and
    /// JSON output.)
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bgr24 => "BGR24",
            Self::Rgb24 => "RGB24",
            Self::Bgra => "BGRA",
            Self::Rgba => "RGBA",
            Self::Gray8 => "GRAY8",
            Self::Yuyv => "YUYV",
            Self::Nv12 => "NV12",
            Self::I420 => "I420",
            Self::Mjpeg => "MJPEG",
        }
    }

    /// The format with this FourCC, if it is one this version knows.
    pub fn from_fourcc(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.fourcc() == code)
    }

    /// How the format samples chroma: 4:2:0 for NV12 and I420, 4:2:2 for
    /// YUYV; `None` for the formats without chroma planes or samples of
    /// their own (RGB, gray, MJPEG).
    pub const fn subsampling(self) -> Option<Subsampling> {
        match self {
            Self::Nv12 | Self::I420 => Some(Subsampling::YUV420),
            Self::Yuyv => Some(Subsampling::YUV422),
            _ => None,
        }
    }

    /// True for formats whose payload length is variable (compressed).
    pub const fn is_compressed(self) -> bool {
        matches!(self, Self::Mjpeg)
    }

    /// Bytes in one row of the first plane without padding, or `None` for
    /// compressed formats.
    pub(crate) fn min_stride(self, width: u32) -> Option<u64> {
        // A YUYV or NV12 row holds a chroma pair (two samples) for each
        // chroma column: an odd width is padded to the pair's last pixel.
        let pairs = u64::from(Subsampling::YUV420.chroma_size(width, 1).0);
        let width = u64::from(width);
        Some(match self {
            Self::Bgr24 | Self::Rgb24 => width * 3,
            Self::Bgra | Self::Rgba => width * 4,
            Self::Gray8 | Self::I420 => width,
            Self::Yuyv => pairs * 4,
            Self::Nv12 => pairs * 2,
            Self::Mjpeg => return None,
        })
    }
}

/// How a YUV format samples chroma: one chroma sample for every
/// `columns` × `rows` luma samples (4:2:0 is 2 × 2, 4:2:2 is 2 × 1). The
/// one place the crate derives chroma plane sizes from; see
/// [`PixelFormat::subsampling`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subsampling {
    /// Luma columns per chroma sample.
    pub columns: u32,
    /// Luma rows per chroma sample.
    pub rows: u32,
}

impl Subsampling {
    /// 4:2:0: half the columns and half the rows.
    pub const YUV420: Self = Self { columns: 2, rows: 2 };
    /// 4:2:2: half the columns, every row.
    pub const YUV422: Self = Self { columns: 2, rows: 1 };
    /// 4:4:4: a chroma sample for every pixel.
    pub const YUV444: Self = Self { columns: 1, rows: 1 };

    /// Width and height of a chroma plane of a `width` × `height` frame:
    /// rounded up, so an odd last column or row has chroma of its own.
    ///
    /// ```
    /// use framering::{PixelFormat, Subsampling};
    /// assert_eq!(Subsampling::YUV420.chroma_size(5, 3), (3, 2));
    /// assert_eq!(PixelFormat::Yuyv.subsampling().map(|s| s.chroma_size(5, 3)), Some((3, 3)));
    /// ```
    pub const fn chroma_size(self, width: u32, height: u32) -> (u32, u32) {
        (width.div_ceil(self.columns), height.div_ceil(self.rows))
    }

    /// True if the frame's size is a whole number of chroma samples (no
    /// rounding up): what a layout that packs chroma rows two to a luma
    /// row (OpenCV's `(h * 3 / 2, w)` 4:2:0 arrays) needs.
    pub const fn divides(self, width: u32, height: u32) -> bool {
        width.is_multiple_of(self.columns) && height.is_multiple_of(self.rows)
    }
}

/// Parses a format's [name](PixelFormat::name) or FourCC, in any case
/// (`"bgr24"`, `"BGR3"`, `"gray"`, `"grey"`, `"mjpg"`, `"yu12"` …).
impl std::str::FromStr for PixelFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let upper = s.to_ascii_uppercase();
        let alias = match upper.as_str() {
            "GRAY" | "GREY" => Some(Self::Gray8),
            "MJPG" | "JPEG" => Some(Self::Mjpeg),
            _ => None,
        };
        alias
            .or_else(|| Self::ALL.into_iter().find(|f| f.name() == upper || f.fourcc_bytes() == upper.as_bytes()))
            .ok_or(invalid(
                "unknown pixel format; expected one of BGR24, RGB24, BGRA, RGBA, GRAY8, YUYV, NV12, I420, MJPEG",
            ))
    }
}

/// The format's [name](PixelFormat::name) (`BGR24`, `NV12`, …); the FourCC
/// is [`fourcc_bytes`](PixelFormat::fourcc_bytes).
impl std::fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The description of one frame: size, layout and optional capture time.
///
/// For raw formats the payload length follows from width, height, stride and
/// format (see [`FrameInfo::payload_len`]); for MJPEG it is whatever the
/// producer writes, up to the slot capacity.
///
/// ```
/// use framering::{FrameInfo, PixelFormat};
/// let info = FrameInfo::new(1920, 1080, PixelFormat::Bgr24);
/// assert_eq!(info.payload_len().unwrap(), Some(1920 * 1080 * 3));
/// let nv12 = FrameInfo::new(1280, 720, PixelFormat::Nv12).with_stride(1344);
/// assert_eq!(nv12.payload_len().unwrap(), Some(1344 * (720 + 360)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixel layout.
    pub format: PixelFormat,
    /// Bytes per row of the first plane; 0 means "no padding" for raw
    /// formats and is required for compressed ones.
    pub stride: u32,
    /// When the frame was captured, in `CLOCK_MONOTONIC` nanoseconds, if known.
    pub capture_ns: Option<u64>,
}

impl FrameInfo {
    /// A frame of `width` × `height` pixels in `format`, rows unpadded.
    pub const fn new(width: u32, height: u32, format: PixelFormat) -> Self {
        Self { width, height, format, stride: 0, capture_ns: None }
    }

    /// The same frame with rows `stride` bytes apart.
    #[must_use]
    pub const fn with_stride(mut self, stride: u32) -> Self {
        self.stride = stride;
        self
    }

    /// The same frame with a capture timestamp (`CLOCK_MONOTONIC` ns).
    #[must_use]
    pub const fn with_capture_ns(mut self, capture_ns: u64) -> Self {
        self.capture_ns = Some(capture_ns);
        self
    }

    /// The description a slot's metadata gives (`format` decoded from its
    /// FourCC by `check_meta`).
    pub(crate) fn from_slot(meta: &SlotMeta, format: PixelFormat) -> Self {
        Self {
            width: meta.width,
            height: meta.height,
            format,
            stride: meta.stride,
            capture_ns: (meta.capture_ns != 0).then_some(meta.capture_ns),
        }
    }

    /// The stride actually used: the given one, or the unpadded row length.
    /// 0 for compressed formats.
    pub fn effective_stride(&self) -> Result<u32> {
        self.layout().map(|(stride, _)| stride)
    }

    /// The exact payload length in bytes for raw formats, `None` for
    /// compressed ones; an error if the description is impossible.
    pub fn payload_len(&self) -> Result<Option<usize>> {
        let (_, len) = self.layout()?;
        len.map(|l| usize::try_from(l).map_err(|_| invalid("the frame is larger than memory"))).transpose()
    }

    /// Where every plane of a raw frame lies in its payload: one plane for
    /// packed formats and GRAY8, two for NV12 (Y, then interleaved U,V),
    /// three for I420 (Y, U, V); none for compressed formats. An error if
    /// the description is impossible. The one place the crate computes a
    /// plane's geometry (`docs/FORMAT.md` §3).
    ///
    /// ```
    /// use framering::{FrameInfo, PixelFormat};
    /// let i420 = FrameInfo::new(5, 3, PixelFormat::I420).with_stride(8);
    /// let planes = i420.planes()?;
    /// let (y, u, v) = (planes[0], planes[1], planes[2]);
    /// assert_eq!((y.offset, y.stride, y.rows, y.row_bytes), (0, 8, 3, 5));
    /// assert_eq!((u.offset, u.stride, u.rows, u.row_bytes), (24, 4, 2, 3));
    /// assert_eq!(v.offset, 32);
    /// assert_eq!(planes.payload_len(), 40);
    /// # Ok::<(), framering::Error>(())
    /// ```
    pub fn planes(&self) -> Result<Planes> {
        let (stride, _) = self.layout()?;
        let mut planes = Planes { planes: [Plane::EMPTY; 3], count: 0, len: 0 };
        for (i, [offset, stride, rows, row_bytes]) in
            plane_geometry(self.format, self.width, self.height, stride.into()).iter().enumerate()
        {
            let size = |v: u64| usize::try_from(v).map_err(|_| invalid("the frame is larger than memory"));
            planes.planes[i] = Plane {
                offset: size(*offset)?,
                stride: size(*stride)?,
                rows: size(*rows)?,
                row_bytes: size(*row_bytes)?,
            };
            planes.count = i + 1;
            planes.len = size(offset + stride * rows)?;
        }
        Ok(planes)
    }

    /// Validates the description and returns (stride, exact length).
    /// All arithmetic is on `u64` from `u32` inputs, so it cannot overflow.
    pub(crate) fn layout(&self) -> Result<(u32, Option<u64>)> {
        if self.width == 0 || self.height == 0 {
            return Err(invalid("width and height must be at least 1"));
        }
        if self.width > MAX_DIMENSION || self.height > MAX_DIMENSION {
            return Err(invalid("width or height is larger than 32768"));
        }
        let Some(min) = self.format.min_stride(self.width) else {
            return if self.stride == 0 {
                Ok((0, None))
            } else {
                Err(invalid("compressed frames have no stride; leave it 0"))
            };
        };
        let stride = if self.stride == 0 { min } else { u64::from(self.stride) };
        if stride < min {
            return Err(invalid("stride is shorter than one row of pixels"));
        }
        let len = plane_geometry(self.format, self.width, self.height, stride)
            .last()
            .map_or(0, |[offset, s, rows, _]| offset + s * rows);
        // stride ≤ 4 × MAX_DIMENSION or a caller's u32, so it fits in u32.
        let stride = u32::try_from(stride).map_err(|_| invalid("stride does not fit in 32 bits"))?;
        Ok((stride, Some(len)))
    }
}

/// `[offset, stride, rows, row_bytes]` of each plane of a raw `w`×`h` frame
/// whose first plane has stride `s` (at least the minimum). Values stay far
/// below 2^64: `s < 2^32`, `h ≤ 2^15`.
/// (No allocation: this runs on every publish.)
fn plane_geometry(format: PixelFormat, width: u32, height: u32, s: u64) -> PlaneGeometry {
    let sub = format.subsampling().unwrap_or(Subsampling::YUV444);
    let (cw, ch) = sub.chroma_size(width, height);
    let (w, h, cw, ch) = (u64::from(width), u64::from(height), u64::from(cw), u64::from(ch));
    let mut g = PlaneGeometry { planes: [[0; 4]; 3], count: 0 };
    let mut push = |plane: [u64; 4]| {
        g.planes[g.count] = plane;
        g.count += 1;
    };
    match format {
        PixelFormat::Nv12 => {
            push([0, s, h, w]);
            push([s * h, s, ch, 2 * cw]);
        }
        PixelFormat::I420 => {
            // The chroma planes' stride is the luma stride subsampled.
            let cs = s.div_ceil(u64::from(sub.columns));
            push([0, s, h, w]);
            push([s * h, cs, ch, cw]);
            push([s * h + cs * ch, cs, ch, cw]);
        }
        PixelFormat::Mjpeg => {}
        packed => push([0, s, h, packed.min_stride(width).unwrap_or(0)]),
    }
    g
}

/// Up to three `[offset, stride, rows, row_bytes]`.
struct PlaneGeometry {
    planes: [[u64; 4]; 3],
    count: usize,
}

impl PlaneGeometry {
    fn iter(&self) -> std::slice::Iter<'_, [u64; 4]> {
        self.planes[..self.count].iter()
    }

    fn last(&self) -> Option<&[u64; 4]> {
        self.planes[..self.count].last()
    }
}

/// Where one plane of a raw frame lies in its payload, in bytes. See
/// [`FrameInfo::planes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plane {
    /// Offset of the plane's first row from the start of the payload.
    pub offset: usize,
    /// Distance between the starts of two rows.
    pub stride: usize,
    /// Number of rows.
    pub rows: usize,
    /// Bytes of samples in each row; the rest of the stride is padding.
    pub row_bytes: usize,
}

impl Plane {
    const EMPTY: Self = Self { offset: 0, stride: 0, rows: 0, row_bytes: 0 };

    /// Row `r`'s samples in `payload` (`row_bytes` long). Panics if the
    /// payload is shorter than the frame's.
    pub fn row<'a>(&self, payload: &'a [u8], r: usize) -> &'a [u8] {
        &payload[self.offset + r * self.stride..][..self.row_bytes]
    }

    /// Row `r`'s samples in `payload`, writable.
    pub fn row_mut<'a>(&self, payload: &'a mut [u8], r: usize) -> &'a mut [u8] {
        &mut payload[self.offset + r * self.stride..][..self.row_bytes]
    }
}

/// A frame's bytes as a conversion reads them, a range at a time
/// (crate-private): a slice lends the range in place; a frame in its slot
/// ([`FrameView`](crate::FrameView)) copies it into `scratch` first, so no
/// reference is ever formed over memory the producer may be writing.
pub(crate) trait Payload {
    /// Payload length in bytes.
    fn payload_len(&self) -> usize;

    /// Bytes `range` of the payload, cut at its end.
    fn bytes<'s>(&'s self, range: std::ops::Range<usize>, scratch: &'s mut Vec<u8>) -> &'s [u8];

    /// Converts the first pixels of each row in `dst` with `kernel`,
    /// reading the payload in place, and says how many a row; `None`, with
    /// nothing written, where there is no such kernel (the arguments and
    /// the answer are those of `kernels::rows`). A frame in its slot has
    /// them, where copying a band out first would read the slot and then
    /// convert, one after the other; a slice has nothing to copy, and the
    /// `yuv` crate's code converts it faster.
    #[cfg(feature = "convert")]
    fn rows_0rgb(&self, _: RowKernel, _: [usize; 2], _: usize, _: &mut [u32], _: usize) -> Option<usize> {
        None
    }
}

/// The row kernels of `kernels.rs`, which convert a frame's rows straight
/// from its payload.
#[cfg(feature = "convert")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKernel {
    /// Packed 3-byte pixels, bytes R, G, B with `rgb`, else B, G, R.
    Widen24 {
        /// Byte order R, G, B.
        rgb: bool,
    },
    /// NV12: a luma row and its 4:2:0 chroma row of (u, v) pairs.
    Nv12,
}

impl Payload for [u8] {
    fn payload_len(&self) -> usize {
        self.len()
    }

    fn bytes<'s>(&'s self, range: std::ops::Range<usize>, _: &'s mut Vec<u8>) -> &'s [u8] {
        let end = range.end.min(self.len());
        &self[range.start.min(end)..end]
    }
}

#[cfg(feature = "convert")]
impl Plane {
    /// Rows `rows` of this plane read from `src`, each a whole stride (the
    /// payload holds every plane's rows at full stride): row `i` of the
    /// band starts at `i * stride`. `rows` must lie within the plane.
    pub(crate) fn band<'s, P: Payload + ?Sized>(
        &self,
        src: &'s P,
        rows: std::ops::Range<usize>,
        scratch: &'s mut Vec<u8>,
    ) -> &'s [u8] {
        src.bytes(self.offset + rows.start * self.stride..self.offset + rows.end * self.stride, scratch)
    }

    /// Row `r` of a band [`band`](Self::band) returned, `row_bytes` long.
    pub(crate) fn band_row<'a>(&self, band: &'a [u8], r: usize) -> &'a [u8] {
        &band[r * self.stride..][..self.row_bytes]
    }
}

/// The planes of a raw frame, in payload order (see [`FrameInfo::planes`]);
/// dereferences to `[Plane]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planes {
    planes: [Plane; 3],
    count: usize,
    len: usize,
}

impl Planes {
    /// The payload length: the end of the last plane's last row stride.
    pub fn payload_len(&self) -> usize {
        self.len
    }

    /// Bytes of the planes' samples without row padding; `None` for a
    /// compressed frame (no planes).
    pub fn packed_len(&self) -> Option<usize> {
        (self.count > 0).then(|| self.iter().map(|p| p.rows * p.row_bytes).sum())
    }
}

impl std::ops::Deref for Planes {
    type Target = [Plane];
    fn deref(&self) -> &[Plane] {
        &self.planes[..self.count]
    }
}

/// Checks one slot's metadata as a reader copied it out: the payload fits the
/// slot, the FourCC is known, and for raw formats the length is exactly what
/// width, height and stride require. Returns the pixel format.
pub(crate) fn check_meta(meta: &SlotMeta, capacity: u64) -> Result<PixelFormat, &'static str> {
    if meta.len > capacity {
        return Err("payload length exceeds the slot capacity");
    }
    let format = PixelFormat::from_fourcc(meta.fourcc).ok_or("unknown pixel format")?;
    let info = FrameInfo { width: meta.width, height: meta.height, format, stride: meta.stride, capture_ns: None };
    match info.layout() {
        Err(Error::InvalidFrame { reason }) => Err(reason),
        Err(_) => Err("impossible frame description"),
        Ok((stride, Some(len))) if stride != meta.stride || len != meta.len => {
            Err("payload length does not match width, height, stride and format")
        }
        Ok((_, None)) if meta.len == 0 => Err("empty compressed frame"),
        Ok(_) => Ok(format),
    }
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidFrame { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_round_trips_for_every_format() {
        for f in PixelFormat::ALL {
            assert_eq!(PixelFormat::from_fourcc(f.fourcc()), Some(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!(PixelFormat::from_fourcc(0), None);
        assert_eq!(PixelFormat::from_fourcc(u32::from_le_bytes(*b"H264")), None);
    }

    #[test]
    fn names_and_fourccs_parse_in_any_case() {
        for f in PixelFormat::ALL {
            assert_eq!(f.name().parse::<PixelFormat>().unwrap(), f);
            assert_eq!(f.name().to_lowercase().parse::<PixelFormat>().unwrap(), f);
            assert_eq!(std::str::from_utf8(&f.fourcc_bytes()).unwrap().parse::<PixelFormat>().unwrap(), f);
        }
        assert_eq!("grey".parse::<PixelFormat>().unwrap(), PixelFormat::Gray8);
        assert_eq!("mjpg".parse::<PixelFormat>().unwrap(), PixelFormat::Mjpeg);
        assert!(matches!("h264".parse::<PixelFormat>(), Err(Error::InvalidFrame { .. })));
        assert!("".parse::<PixelFormat>().is_err());
    }

    #[test]
    fn payload_len_matches_each_formats_layout() {
        let len = |w, h, f| FrameInfo::new(w, h, f).payload_len().unwrap();
        assert_eq!(len(4, 2, PixelFormat::Bgr24), Some(24));
        assert_eq!(len(4, 2, PixelFormat::Rgba), Some(32));
        assert_eq!(len(5, 3, PixelFormat::Gray8), Some(15));
        // YUYV and NV12 round odd widths up to whole macropixels.
        assert_eq!(len(5, 2, PixelFormat::Yuyv), Some(24));
        assert_eq!(len(5, 3, PixelFormat::Nv12), Some(6 * 3 + 6 * 2));
        // I420: chroma planes are half the stride (rounded up) by half the rows.
        assert_eq!(len(5, 3, PixelFormat::I420), Some(5 * 3 + 2 * 3 * 2));
        assert_eq!(len(640, 480, PixelFormat::I420), Some(640 * 480 * 3 / 2));
        assert_eq!(len(7, 7, PixelFormat::Mjpeg), None);
    }

    #[test]
    fn explicit_stride_is_honoured_and_checked() {
        let f = FrameInfo::new(10, 4, PixelFormat::Bgr24).with_stride(32);
        assert_eq!(f.payload_len().unwrap(), Some(128));
        assert_eq!(f.effective_stride().unwrap(), 32);
        let short = FrameInfo::new(10, 4, PixelFormat::Bgr24).with_stride(29);
        assert!(matches!(short.payload_len(), Err(Error::InvalidFrame { .. })));
        let jpeg = FrameInfo::new(10, 4, PixelFormat::Mjpeg).with_stride(30);
        assert!(matches!(jpeg.payload_len(), Err(Error::InvalidFrame { .. })));
    }

    #[test]
    fn slot_meta_is_checked_against_capacity_and_layout() {
        let good = SlotMeta {
            frame: 1,
            len: 24,
            width: 4,
            height: 2,
            stride: 12,
            fourcc: PixelFormat::Bgr24.fourcc(),
            ..SlotMeta::default()
        };
        assert_eq!(check_meta(&good, 24), Ok(PixelFormat::Bgr24));
        assert!(check_meta(&good, 23).unwrap_err().contains("capacity"));
        let with = |f: &dyn Fn(&mut SlotMeta)| {
            let mut m = good;
            f(&mut m);
            check_meta(&m, 1 << 20)
        };
        assert!(with(&|m| m.len = 25).is_err());
        assert!(with(&|m| m.stride = 0).is_err());
        assert!(with(&|m| m.stride = 11).is_err());
        assert!(with(&|m| m.width = 0).is_err());
        assert!(with(&|m| m.fourcc = 0).unwrap_err().contains("unknown"));
        // A padded stride is fine when the length agrees with it.
        assert!(
            with(&|m| {
                m.stride = 16;
                m.len = 32
            })
            .is_ok()
        );
        let jpeg = |len, stride| {
            let m = SlotMeta { len, stride, fourcc: PixelFormat::Mjpeg.fourcc(), ..good };
            check_meta(&m, 100)
        };
        assert_eq!(jpeg(57, 0), Ok(PixelFormat::Mjpeg));
        assert!(jpeg(0, 0).is_err());
        assert!(jpeg(57, 3).is_err());
        assert!(jpeg(101, 0).is_err());
    }

    #[test]
    fn impossible_dimensions_are_errors() {
        for (w, h) in [(0, 1), (1, 0), (MAX_DIMENSION + 1, 1), (1, u32::MAX)] {
            let r = FrameInfo::new(w, h, PixelFormat::Rgba).payload_len();
            assert!(matches!(r, Err(Error::InvalidFrame { .. })), "{w}x{h}");
        }
        // The largest legal frame with the largest stride does not overflow.
        let big = FrameInfo::new(MAX_DIMENSION, MAX_DIMENSION, PixelFormat::I420).with_stride(u32::MAX);
        assert!(big.payload_len().is_ok());
    }
}
