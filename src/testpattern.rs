//! A moving BGR24 test pattern that carries what is needed to verify it.
//!
//! Frame `n` has three parts:
//! - a *band* (rows 0..16) of 64 black-or-white cells spelling a 16-bit magic
//!   and the low 48 bits of `n`;
//! - a *body* whose every pixel is a function of `(x, y, n)`: diagonal
//!   gradients that move from frame to frame;
//! - a *label* box (a few rows under the band) with text such as the frame
//!   number and time, which verification skips.
//!
//! [`verify`] recomputes band and body (every 4th row, and the last) from the
//! frame number in the metadata, so pixels of one frame under another's
//! metadata are caught. Frames that do not carry the magic (camera frames)
//! are reported as [`Verdict::NotAPattern`].
//!
//! ```
//! use framering::testpattern::{self, Verdict};
//! let info = testpattern::info(320, 240);
//! let mut pixels = vec![0; 320 * 240 * 3];
//! testpattern::render(7, 320, 240, "#7", &mut pixels);
//! assert_eq!(testpattern::verify(7, &info, &pixels), Verdict::Intact);
//! assert_eq!(testpattern::verify(8, &info, &pixels), Verdict::Torn);
//! ```

use crate::FrameView;
use crate::format::{FrameInfo, Payload, PixelFormat};

/// Smallest pattern width (one 1-pixel cell per bit of the band).
pub const MIN_WIDTH: u32 = 64;
/// Smallest pattern height (band, label box and some body).
pub const MIN_HEIGHT: u32 = 64;

const BAND: usize = 16;
const MAGIC: u64 = 0xF7A3;
const FRAME_BITS: u64 = (1 << 48) - 1;
const SCALE: usize = 3;
const LABEL_TOP: usize = BAND + 4;
const LABEL_ROWS: usize = 7 * SCALE + 8;

/// What [`verify`] concluded about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Band and body match the frame number.
    Intact,
    /// The frame carries the pattern's magic but its pixels do not match the
    /// frame number: a torn or damaged frame.
    Torn,
    /// Not a test-pattern frame (another format, too small, or no magic).
    NotAPattern,
}

/// The description of a `width × height` pattern frame (BGR24, unpadded).
pub fn info(width: u32, height: u32) -> FrameInfo {
    FrameInfo::new(width, height, PixelFormat::Bgr24)
}

fn code(frame: u64) -> u64 {
    (MAGIC << 48) | (frame & FRAME_BITS)
}

fn cell_width(width: usize) -> usize {
    width / 64
}

#[inline(always)]
fn body_pixel(x: usize, y: usize, n: u64) -> [u8; 3] {
    // Only the low byte matters; wrapping keeps any frame number (even a
    // hostile one) from overflowing.
    let n = n as u8;
    [
        (x as u8).wrapping_add(n.wrapping_mul(2)),
        (y as u8).wrapping_add(n),
        ((x ^ y) as u8).wrapping_add(n.wrapping_mul(3)),
    ]
}

fn band_row(row: &mut [u8], width: usize, frame: u64) {
    let (code, cw) = (code(frame), cell_width(width));
    for (x, px) in row.chunks_exact_mut(3).enumerate() {
        let bit = if x / cw < 64 { (code >> (x / cw)) & 1 } else { 0 };
        px.fill(if bit == 1 { 255 } else { 0 });
    }
}

fn body_row(row: &mut [u8], y: usize, frame: u64) {
    for (x, px) in row.chunks_exact_mut(3).enumerate() {
        px.copy_from_slice(&body_pixel(x, y, frame));
    }
}

/// Renders frame `frame` into `out` (at least `width × height × 3` bytes,
/// rows unpadded), with `label` drawn in the label box. Does nothing if the
/// size is below [`MIN_WIDTH`] × [`MIN_HEIGHT`] or `out` is too short.
pub fn render(frame: u64, width: u32, height: u32, label: &str, out: &mut [u8]) {
    let (w, h) = (width as usize, height as usize);
    if width < MIN_WIDTH || height < MIN_HEIGHT || out.len() < w * h * 3 {
        return;
    }
    for (y, row) in out.chunks_exact_mut(w * 3).take(h).enumerate() {
        match y {
            0..BAND => band_row(row, w, frame),
            y if (LABEL_TOP..LABEL_TOP + LABEL_ROWS).contains(&y) => row.fill(24),
            y => body_row(row, y, frame),
        }
    }
    draw_text(out, w, LABEL_TOP + 4, 8, label);
}

/// The frame number a pattern frame's band spells (its low 48 bits), or
/// `None` if the frame is not a pattern. Frames that came through a bridge
/// carry the source ring's numbers in their band: verify those against it.
pub fn band_frame(info: &FrameInfo, data: &[u8]) -> Option<u64> {
    let (code, _) = read_band(info, data, &mut Vec::new())?;
    (code >> 48 == MAGIC).then_some(code & FRAME_BITS)
}

/// Row `y` of an unpadded BGR24 frame.
fn pattern_row<'s, P: Payload + ?Sized>(data: &'s P, w: usize, y: usize, scratch: &'s mut Vec<u8>) -> &'s [u8] {
    data.bytes(y * w * 3..(y + 1) * w * 3, scratch)
}

/// The 64 band bits of an unpadded BGR24 frame of at least the minimum
/// size, read at the middle of each cell, with the band row they were read
/// from.
fn read_band<'s, P: Payload + ?Sized>(
    info: &FrameInfo,
    data: &'s P,
    scratch: &'s mut Vec<u8>,
) -> Option<(u64, &'s [u8])> {
    let (w, h) = (info.width as usize, info.height as usize);
    let unpadded = info.stride == 0 || info.stride as usize == w * 3;
    if info.format != PixelFormat::Bgr24
        || info.width < MIN_WIDTH
        || info.height < MIN_HEIGHT
        || !unpadded
        || data.payload_len() < w * h * 3
    {
        return None;
    }
    let cw = cell_width(w);
    let mid = pattern_row(data, w, BAND / 2, scratch);
    let code = (0..64).fold(0u64, |acc, bit| {
        let px = &mid[(bit * cw + cw / 2) * 3..][..3];
        acc | (u64::from(px.iter().all(|&c| c > 127)) << bit)
    });
    Some((code, mid))
}

/// Checks a frame against the pattern for frame number `frame`.
pub fn verify(frame: u64, info: &FrameInfo, data: &[u8]) -> Verdict {
    check(Some(frame), info, data).1
}

/// [`band_frame`] and [`verify`] against that number in one pass, for a
/// frame in its slot inside a read's closure: the rows it checks are copied
/// out one at a time, never referenced. `(None, NotAPattern)` for a frame
/// that is not a pattern. (A torn copy is discarded by the read whatever
/// this says; `Torn` from a read that *returns* means the ring handed out a
/// torn frame.)
pub fn identify_in(view: &FrameView<'_>) -> (Option<u64>, Verdict) {
    check(None, view.info(), view)
}

/// The band's frame number, and the verdict for frame `want` (or, if
/// `None`, for the number the band spells).
fn check<P: Payload + ?Sized>(want: Option<u64>, info: &FrameInfo, data: &P) -> (Option<u64>, Verdict) {
    let (w, h) = (info.width as usize, info.height as usize);
    let mut scratch = Vec::new();
    let Some((found, mid)) = read_band(info, data, &mut scratch).filter(|(code, _)| code >> 48 == MAGIC) else {
        return (None, Verdict::NotAPattern);
    };
    let number = found & FRAME_BITS;
    let frame = want.unwrap_or(number);
    let mut expected = vec![0; w * 3];
    band_row(&mut expected, w, frame);
    let band_intact = found == code(frame) && mid == &expected[..];
    let mut rows =
        (BAND..h).filter(|&y| (y % 4 == 0 || y == h - 1) && !(LABEL_TOP..LABEL_TOP + LABEL_ROWS).contains(&y));
    let intact = band_intact
        && rows.all(|y| {
            body_row(&mut expected, y, frame);
            pattern_row(data, w, y, &mut scratch) == &expected[..]
        });
    (Some(number), if intact { Verdict::Intact } else { Verdict::Torn })
}

/// A smooth image in any raw format, for checking lossy (JPEG) round
/// trips: every sample is a slow sine of its pixel column and row, with a
/// phase of its own per channel (so U and V, or B, G and R, differ).
/// `None` for compressed formats and impossible descriptions.
pub fn smooth(info: &FrameInfo) -> Option<Vec<u8>> {
    let planes = info.planes().ok()?;
    if planes.is_empty() {
        return None;
    }
    let mut out = vec![0; planes.payload_len()];
    for (index, plane) in planes.iter().enumerate() {
        // Samples per pixel in this plane (chroma planes count chroma pixels).
        let per_pixel = match (info.format, index) {
            (PixelFormat::Bgr24 | PixelFormat::Rgb24, _) => 3,
            (PixelFormat::Bgra | PixelFormat::Rgba, _) => 4,
            (PixelFormat::Yuyv, _) | (PixelFormat::Nv12, 1) => 2,
            _ => 1,
        };
        for row in 0..plane.rows {
            for (col, sample) in plane.row_mut(&mut out, row).iter_mut().enumerate() {
                let (px, channel) = ((col / per_pixel) as f64, (col % per_pixel + index) as f64);
                *sample = (128.0 + 50.0 * (px / 6.0 + 1.7 * channel).sin() * (row as f64 / 5.0 + channel).cos()) as u8;
            }
        }
    }
    Some(out)
}

/// 5×7 glyphs, one byte a row, bit 4 leftmost. Letters are lower case
/// (upper case is drawn with them); unknown characters are blank.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_lowercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        'a' => [0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F],
        'b' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E],
        'c' => [0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E],
        'd' => [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        'e' => [0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E],
        'f' => [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08],
        'g' => [0, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        'h' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        'i' => [0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E],
        'j' => [0x02, 0, 0x06, 0x02, 0x02, 0x12, 0x0C],
        'k' => [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12],
        'l' => [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'm' => [0, 0, 0x1A, 0x15, 0x15, 0x11, 0x11],
        'n' => [0, 0, 0x16, 0x19, 0x11, 0x11, 0x11],
        'o' => [0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E],
        'p' => [0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10],
        'q' => [0, 0, 0x0D, 0x13, 0x0F, 0x01, 0x01],
        'r' => [0, 0, 0x16, 0x19, 0x10, 0x10, 0x10],
        's' => [0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        't' => [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        'u' => [0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D],
        'v' => [0, 0, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'w' => [0, 0, 0x11, 0x11, 0x15, 0x15, 0x0A],
        'x' => [0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11],
        'y' => [0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        'z' => [0, 0, 0x1F, 0x02, 0x04, 0x08, 0x1F],
        _ => [0; 7],
    }
}

/// Calls `lit(x, y)` for every lit pixel of `text` drawn with the 5×7 font
/// scaled by `scale`, its top-left corner at (`left`, `top`); characters
/// that would cross `width` are dropped.
fn text_pixels(text: &str, scale: usize, left: usize, top: usize, width: usize, mut lit: impl FnMut(usize, usize)) {
    for (i, c) in text.chars().enumerate() {
        let x0 = left + i * 6 * scale;
        if x0 + 5 * scale > width {
            break;
        }
        for (gy, bits) in glyph(c).into_iter().enumerate() {
            for gx in (0..5).filter(|gx| bits & (0x10 >> gx) != 0) {
                for dy in 0..scale {
                    for dx in 0..scale {
                        lit(x0 + gx * scale + dx, top + gy * scale + dy);
                    }
                }
            }
        }
    }
}

/// Draws `text` in white, scaled ×3, with its top-left corner at (`left`, `top`);
/// characters past the right edge are dropped.
fn draw_text(out: &mut [u8], width: usize, top: usize, left: usize, text: &str) {
    text_pixels(text, SCALE, left, top, width, |x, y| {
        let start = (y * width + x) * 3;
        if let Some(px) = out.get_mut(start..start + 3) {
            px.fill(255);
        }
    });
}

/// Draws a status line into a 0RGB image (`width` pixels a row, as
/// `convert::to_0rgb` makes): `text` in
/// white on a dark band across the bottom, 7 × `scale` pixels high plus a
/// margin; characters past the right edge are dropped. For viewers that
/// show their state inside the picture.
pub fn draw_status(pixels: &mut [u32], width: usize, text: &str, scale: usize) {
    let scale = scale.max(1);
    let height = pixels.len().checked_div(width).unwrap_or(0);
    let band = 7 * scale + 2 * scale;
    if height < band || width < 6 * scale {
        return;
    }
    let top = height - band;
    for px in &mut pixels[top * width..height * width] {
        // Darken to a quarter, so the picture still shows through; the top
        // byte (opacity) is kept.
        *px = (*px & 0xFF00_0000) | ((*px >> 2) & 0x003F_3F3F);
    }
    text_pixels(text, scale, scale, top + scale, width, |x, y| {
        if let Some(px) = pixels.get_mut(y * width + x) {
            *px |= 0x00FF_FFFF;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_darkens_only_the_bottom_band_and_writes_white_text() {
        let (w, h) = (200, 50);
        let mut px = vec![0x0080_8080u32; w * h];
        draw_status(&mut px, w, "30.0 fps", 2);
        let band_top = h - 9 * 2;
        assert!(px[..band_top * w].iter().all(|&p| p == 0x0080_8080), "above the band: untouched");
        let band = &px[band_top * w..];
        assert!(band.iter().all(|&p| p == 0x0020_2020 || p == 0x00FF_FFFF));
        let white = band.iter().filter(|&&p| p == 0x00FF_FFFF).count();
        assert!(white > 50, "text drawn: {white}");
        // Too small a picture, or a line longer than it: no panic.
        draw_status(&mut px[..w * 5], w, "x", 2);
        draw_status(&mut px, w, &"long ".repeat(100), 2);
        draw_status(&mut [], 0, "x", 2);
    }

    fn frame(n: u64, w: u32, h: u32) -> Vec<u8> {
        let mut v = vec![0; (w * h * 3) as usize];
        render(n, w, h, "#12 t=3.5s", &mut v);
        v
    }

    #[test]
    fn a_rendered_frame_verifies_for_its_own_number_only() {
        for (w, h) in [(64, 64), (321, 241), (1280, 720)] {
            let px = frame(1234, w, h);
            assert_eq!(verify(1234, &info(w, h), &px), Verdict::Intact, "{w}x{h}");
            assert_eq!(verify(1235, &info(w, h), &px), Verdict::Torn, "{w}x{h}");
        }
    }

    #[test]
    fn the_band_spells_the_frame_number_it_was_rendered_for() {
        let (w, h) = (320, 240);
        assert_eq!(band_frame(&info(w, h), &frame(0xABCD_1234, w, h)), Some(0xABCD_1234));
        assert_eq!(band_frame(&info(w, h), &frame(1 << 50 | 7, w, h)), Some(7), "low 48 bits");
        assert_eq!(band_frame(&info(w, h), &vec![0; (w * h * 3) as usize]), None);
        assert_eq!(band_frame(&FrameInfo::new(w, h, PixelFormat::Gray8), &frame(3, w, h)), None);
    }

    #[test]
    fn pixels_of_another_frame_in_the_body_are_caught() {
        let (w, h) = (320, 240);
        let mut px = frame(10, w, h);
        let other = frame(11, w, h);
        // The second half of the frame comes from frame 11, as in a tear.
        let half = px.len() / 2;
        px[half..].copy_from_slice(&other[half..]);
        assert_eq!(verify(10, &info(w, h), &px), Verdict::Torn);
    }

    #[test]
    fn frames_without_the_magic_or_of_another_shape_are_not_patterns() {
        let (w, h) = (320, 240);
        assert_eq!(verify(1, &info(w, h), &vec![0; (w * h * 3) as usize]), Verdict::NotAPattern);
        let px = frame(1, w, h);
        let gray = FrameInfo::new(w, h, PixelFormat::Gray8);
        assert_eq!(verify(1, &gray, &px), Verdict::NotAPattern);
        assert_eq!(verify(1, &info(w, h), &px[..10]), Verdict::NotAPattern);
    }

    #[test]
    fn the_label_is_drawn_in_the_label_box() {
        let (w, h) = (320, 240);
        let px = frame(5, w, h);
        let box_rows = &px[LABEL_TOP * w as usize * 3..(LABEL_TOP + LABEL_ROWS) * w as usize * 3];
        assert!(box_rows.contains(&255), "no text pixels");
        assert!(box_rows.iter().all(|&b| b == 24 || b == 255));
    }
}
