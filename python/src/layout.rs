//! How a frame of each pixel format looks as a numpy array, one place for
//! both directions: the shape a consumer's array gets, and the frame
//! description a producer's array stands for.
//!
//! Arrays always hold a frame's rows packed (no padding between rows):
//! reads copy with `FrameView::copy_packed`, which drops any padding.

use framering::{FrameInfo, PixelFormat};

/// The numpy shape of a frame described by `info` whose rows packed take
/// `len` bytes (`FrameView::packed_len`): what OpenCV expects for each format — `(h, w, 3)` BGR/RGB,
/// `(h, w, 4)` BGRA/RGBA, `(h, w)` gray, `(h, w, 2)` YUYV, `(h*3//2, w)`
/// NV12/I420 (even sizes; 1-D otherwise), 1-D MJPEG.
pub fn array_shape(info: &FrameInfo, len: usize) -> Vec<usize> {
    let (w, h) = (info.width as usize, info.height as usize);
    let Ok(planes) = info.planes() else { return vec![len] };
    let chroma_fits = info.format.subsampling().is_some_and(|s| s.divides(info.width, info.height));
    match info.format {
        PixelFormat::Bgr24 | PixelFormat::Rgb24 => vec![h, w, 3],
        PixelFormat::Bgra | PixelFormat::Rgba => vec![h, w, 4],
        PixelFormat::Gray8 => vec![h, w],
        // Two bytes a pixel; an odd width has its last chroma pair whole.
        PixelFormat::Yuyv => vec![h, planes[0].row_bytes / 2, 2],
        // OpenCV's 4:2:0 array: every plane's rows packed, `w` bytes to an
        // array row, which only a whole number of chroma samples allows.
        PixelFormat::Nv12 | PixelFormat::I420 if chroma_fits => {
            vec![planes.packed_len().unwrap_or(len) / w, w]
        }
        _ => vec![len],
    }
}

/// What a producer's array stands for: the frame and its rows (the array's
/// own strides say where they are: a crop's rows are apart).
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// The frame to publish (rows packed).
    pub info: FrameInfo,
    /// Rows in the array (all planes of a 4:2:0 frame together).
    pub rows: usize,
    /// Bytes of each row (packed within the row; rows may be apart).
    pub row_bytes: usize,
}

/// The frame an array of `shape` and byte `strides` (uint8) stands for, in
/// `format` (inferred when `None`: `(h, w, 3)` BGR24, `(h, w, 4)` BGRA,
/// `(h, w)` GRAY8). `size` gives width and height for MJPEG. `Err` says what
/// is wrong and how to fix it.
pub fn source(
    shape: &[usize],
    strides: &[isize],
    format: Option<PixelFormat>,
    size: Option<(u32, u32)>,
) -> Result<Source, String> {
    let dim = |v: usize, what: &str| u32::try_from(v).map_err(|_| format!("{what} {v} is too large"));
    let format = match (format, shape) {
        (Some(f), _) => f,
        (None, [_, _, 3]) => PixelFormat::Bgr24,
        (None, [_, _, 4]) => PixelFormat::Bgra,
        (None, [_, _]) => PixelFormat::Gray8,
        (None, _) => {
            return Err(format!(
                "cannot infer the pixel format of an array of shape {}: (h, w, 3) is BGR24, (h, w, 4) BGRA, \
                 (h, w) GRAY8; name any other with format=\"NV12\" (or YUYV, I420, RGB24, RGBA, MJPEG)",
                tuple(shape)
            ));
        }
    };
    let (width, height) = match (format, shape) {
        (PixelFormat::Mjpeg, [_]) => size.ok_or("MJPEG frames need width= and height=")?,
        (PixelFormat::Nv12 | PixelFormat::I420, &[rows, w]) if rows % 3 == 0 => {
            (dim(w, "width")?, dim(rows / 3 * 2, "height")?)
        }
        (_, &[h, w, ..]) => (dim(w, "width")?, dim(h, "height")?),
        _ => (0, 0),
    };
    let info = FrameInfo::new(width, height, format);
    let expected = array_shape(&info, shape.iter().product());
    if info.payload_len().is_err() || expected != shape {
        return Err(format!(
            "an array of shape {} is not a {} frame: {} arrays have shape {}",
            tuple(shape),
            format.name(),
            format.name(),
            shape_rule(format)
        ));
    }
    // Rows: the first axis; everything after it must be packed bytes.
    let (rows, row_bytes) = match shape {
        [len] => (1, *len),
        [rows, rest @ ..] => (*rows, rest.iter().product()),
        [] => (0, 0),
    };
    let mut inner = 1isize;
    for (&n, &s) in shape.iter().zip(strides).skip(1).rev() {
        if n > 1 && s != inner {
            return Err(format!(
                "the array's rows are not contiguous (strides {strides:?}); pass np.ascontiguousarray(frame)"
            ));
        }
        inner *= n as isize;
    }
    if shape.len() == 1 && strides.first().is_some_and(|&s| s != 1 && row_bytes > 1) {
        return Err("the array is not contiguous; pass np.ascontiguousarray(frame)".into());
    }
    Ok(Source { info, rows, row_bytes })
}

/// A shape as Python writes it: `(6, 8, 3)`, `(5,)`.
pub fn tuple(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!("({})", shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// The shape rule of `format`, for messages.
fn shape_rule(format: PixelFormat) -> &'static str {
    match format {
        PixelFormat::Bgr24 | PixelFormat::Rgb24 => "(height, width, 3)",
        PixelFormat::Bgra | PixelFormat::Rgba => "(height, width, 4)",
        PixelFormat::Gray8 => "(height, width)",
        PixelFormat::Yuyv => "(height, even width, 2)",
        PixelFormat::Nv12 | PixelFormat::I420 => "(height * 3 // 2, width) with even width and height",
        _ => "(length,) and need width= and height=",
    }
}
