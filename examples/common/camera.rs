//! V4L2 capture for the producer example (feature `v4l`).
//!
//! The format is negotiated with the driver and what it actually returns
//! (size and rate) is used and said. MJPEG frames are decoded by turbojpeg
//! straight into a loaned slot as BGR24 (no extra frame copy); the raw
//! formats a ring carries as they are (YUYV, NV12, YU12, BGR3, RGB3, GREY,
//! whose V4L2 FourCCs are framering's) are copied once from the driver's
//! buffer into the slot, and consumers convert.
//!
//! Tested against the kernel's `vivid` driver booted under qemu in CI
//! (`.ci/vivid/`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use framering::{FrameInfo, PixelFormat, Producer};
use v4l::buffer::{Flags, Type};
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

/// The raw camera formats published as they are, in the order the
/// automatic choice tries them (after MJPG). Their V4L2 FourCCs are their
/// framering FourCCs.
const RAW: [PixelFormat; 6] = [
    PixelFormat::Yuyv,
    PixelFormat::Nv12,
    PixelFormat::I420,
    PixelFormat::Bgr24,
    PixelFormat::Rgb24,
    PixelFormat::Gray8,
];

const MJPG: FourCC = FourCC { repr: *b"MJPG" };

/// A camera silent this long (plus a few frame periods) is reported as stalled.
const STALL: Duration = Duration::from_secs(10);

/// Which camera format to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// MJPG if offered, else the first raw format offered, in [`RAW`]'s order.
    Auto,
    /// MJPG, decoded to BGR24.
    Mjpg,
    /// One raw format, published as it is.
    Raw(PixelFormat),
}

/// The `--format` values, for the usage text and errors.
pub const FORMATS: &str = "auto, mjpg, yuyv, nv12, i420, bgr24, rgb24 or gray8 (or their FourCCs)";

impl Want {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "mjpg" | "mjpeg" => Some(Self::Mjpg),
            _ => s.parse().ok().filter(|f| RAW.contains(f)).map(Self::Raw),
        }
    }

    /// The FourCCs to try, in order.
    fn candidates(self) -> Vec<FourCC> {
        match self {
            Self::Auto => std::iter::once(MJPG).chain(RAW.iter().map(|f| FourCC::new(&f.fourcc_bytes()))).collect(),
            Self::Mjpg => vec![MJPG],
            Self::Raw(f) => vec![FourCC::new(&f.fourcc_bytes())],
        }
    }
}

/// A FourCC as V4L2 tools print it (`AR15-BE`).
fn fourcc_name(fourcc: FourCC) -> String {
    crate::fourcc::fourcc_name(u32::from(fourcc))
}

/// The first `/dev/videoN` that can capture video, if any.
pub fn first_capture_device() -> Option<PathBuf> {
    (0..64).map(|i| PathBuf::from(format!("/dev/video{i}"))).find(|p| {
        Device::with_path(p)
            .and_then(|d| d.query_caps())
            .is_ok_and(|c| c.capabilities.contains(v4l::capability::Flags::VIDEO_CAPTURE))
    })
}

fn explain(path: &Path, e: io::Error) -> String {
    match e.raw_os_error() {
        Some(2) => format!("no such device: {}", path.display()),
        Some(16) => format!("device busy: {} is in use by another program", path.display()),
        Some(13) => format!("permission denied: {} (add yourself to the 'video' group)", path.display()),
        Some(25) => format!("{} is not a video device", path.display()),
        Some(19) => format!("camera disconnected: {} went away", path.display()),
        _ if e.kind() == io::ErrorKind::TimedOut => {
            format!("camera stalled: {} delivered no frame for {} s", path.display(), STALL.as_secs())
        }
        _ => format!("{}: {e}", path.display()),
    }
}

/// An opened camera with a negotiated format.
pub struct Camera {
    path: PathBuf,
    dev: Device,
    format: v4l::Format,
    /// What the frames are published as.
    info: FrameInfo,
    /// The rate the driver reports after negotiation, if it reports one.
    fps: Option<f64>,
    /// What was asked for and not given, said once at start.
    notes: Vec<String>,
}

impl Camera {
    /// Opens `path` and negotiates `width × height` at `fps` in the wanted
    /// format. The driver may give another size or rate: [`notes`](Self::notes)
    /// say so.
    pub fn open(path: &Path, width: u32, height: u32, fps: f64, want: Want) -> Result<Self, String> {
        let dev = Device::with_path(path).map_err(|e| explain(path, e))?;
        let offered: Vec<FourCC> =
            dev.enum_formats().map_err(|e| explain(path, e))?.into_iter().map(|d| d.fourcc).collect();
        for fourcc in want.candidates().into_iter().filter(|c| offered.contains(c)) {
            let format = dev.set_format(&v4l::Format::new(width, height, fourcc)).map_err(|e| explain(path, e))?;
            if format.fourcc != fourcc {
                continue;
            }
            let Some(info) = publish_info(&format) else { continue };
            let mut notes = Vec::new();
            if (format.width, format.height) != (width, height) {
                notes.push(format!(
                    "asked for {width}x{height}, {} gives {}x{} in {}",
                    path.display(),
                    format.width,
                    format.height,
                    fourcc_name(fourcc)
                ));
            }
            let got = negotiate_rate(&dev, fps);
            match got {
                Some(got) if fps > 0.0 && (got - fps).abs() > fps * 0.01 => notes.push(format!(
                    "asked for {fps} fps, {} gives {} fps at {}x{}",
                    path.display(),
                    trim(got),
                    format.width,
                    format.height
                )),
                None => notes.push(format!("{} does not report its frame rate", path.display())),
                _ => {}
            }
            return Ok(Self { path: path.to_owned(), dev, format, info, fps: got, notes });
        }
        if offered.is_empty() {
            return Err(format!(
                "{} offers no video formats: is it a camera? (try another /dev/videoN)",
                path.display()
            ));
        }
        let offered: Vec<String> = offered.into_iter().map(fourcc_name).collect();
        let wanted: Vec<String> = want.candidates().into_iter().map(fourcc_name).collect();
        Err(format!(
            "unsupported format: {} offers {}; asked for {} (--format takes {FORMATS})",
            path.display(),
            offered.join(", "),
            wanted.join(" or "),
        ))
    }

    /// Slot capacity needed for the frames published.
    pub fn max_frame_bytes(&self) -> usize {
        self.info.payload_len().ok().flatten().unwrap_or(0)
    }

    /// The frame rate the driver said it set, if it says.
    pub fn fps(&self) -> Option<f64> {
        self.fps
    }

    /// What was asked for and not given (size, rate), one line each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A one-line description, e.g. `/dev/video0 YUYV 1280x720 at 12.5 fps, published as YUYV`.
    pub fn describe(&self) -> String {
        let rate = self.fps.map(|f| format!(" at {} fps", trim(f))).unwrap_or_default();
        format!(
            "{} {} {}x{}{rate}, published as {}",
            self.path.display(),
            fourcc_name(self.format.fourcc),
            self.format.width,
            self.format.height,
            self.info.format
        )
    }

    /// Captures and publishes until `stop` is set or `frames` frames were
    /// published (0: no limit); returns the counts. `status(published,
    /// dropped)` is called after every frame; dropped counts frames the
    /// driver skipped (sequence gaps), marked as failed, or that failed to
    /// decode. A device that goes away or stalls is an error; the caller's
    /// producer then closes the ring as it is dropped.
    pub fn run(
        self,
        tx: &mut Producer,
        stop: &AtomicBool,
        frames: u64,
        mut status: impl FnMut(u64, u64),
    ) -> Result<Counts, String> {
        let info = self.info;
        let payload = self.max_frame_bytes();
        let mjpeg = self.format.fourcc == MJPG;
        let mut decompressor = turbojpeg::Decompressor::new().map_err(|e| e.to_string())?;
        let mut stream = Stream::with_buffers(&self.dev, Type::VideoCapture, 4).map_err(|e| explain(&self.path, e))?;
        let period = self.fps.map_or(Duration::ZERO, |f| Duration::from_secs_f64(1.0 / f.max(0.01)));
        stream.set_timeout(STALL + period * 4);
        let mut counts = Counts::default();
        let mut last_seq = None::<u32>;
        while !stop.load(Ordering::Relaxed) && (frames == 0 || counts.published < frames) {
            let (buf, meta) = match stream.next() {
                Ok(got) => got,
                // Ctrl-C interrupted the wait: a clean stop.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The `v4l` stream's drop stops streaming and panics on
                    // any error but ENODEV; the device is failing, so leave
                    // its buffers to the process's exit.
                    std::mem::forget(stream);
                    return Err(explain(&self.path, e));
                }
            };
            if let Some(prev) = last_seq {
                counts.gaps += u64::from(meta.sequence.wrapping_sub(prev).saturating_sub(1));
            }
            last_seq = Some(meta.sequence);
            // V4L2 timestamps are CLOCK_MONOTONIC by default.
            let capture_ns = (meta.timestamp.sec as u64) * 1_000_000_000 + (meta.timestamp.usec as u64) * 1000;
            let bytes = &buf[..(meta.bytesused as usize).min(buf.len())];
            let info = info.with_capture_ns(capture_ns);
            let ok = if meta.flags.contains(Flags::ERROR) {
                false
            } else if mjpeg {
                let mut loan = tx.loan(info).map_err(|e| e.to_string())?;
                let (w, h) = (info.width as usize, info.height as usize);
                let image = turbojpeg::Image {
                    pixels: loan.pixels_mut(),
                    width: w,
                    pitch: w * 3,
                    height: h,
                    format: turbojpeg::PixelFormat::BGR,
                };
                // A corrupt JPEG drops the loan: the slot is given back empty.
                match decompressor.decompress(bytes, image) {
                    Ok(()) => loan.commit().is_ok(),
                    Err(_) => false,
                }
            } else {
                // Drivers may report a larger `bytesused` than the image
                // (padding at the end); a shorter one is a broken frame.
                bytes.get(..payload).is_some_and(|frame| tx.publish(info, frame).is_ok())
            };
            if ok {
                counts.published += 1;
            } else {
                counts.failed += 1;
            }
            status(counts.published, counts.dropped());
        }
        Ok(counts)
    }
}

/// What [`Camera::run`] did.
#[derive(Default, Clone, Copy)]
pub struct Counts {
    pub published: u64,
    /// Frames the driver skipped: gaps in its sequence numbers.
    pub gaps: u64,
    /// Frames delivered but not published: marked failed, short, or not decodable.
    pub failed: u64,
}

impl Counts {
    pub fn dropped(&self) -> u64 {
        self.gaps + self.failed
    }
}

/// What a frame in `format` is published as, if the ring can carry it.
fn publish_info(format: &v4l::Format) -> Option<FrameInfo> {
    let (w, h) = (format.width, format.height);
    if format.fourcc == MJPG {
        return Some(FrameInfo::new(w, h, PixelFormat::Bgr24));
    }
    let raw = RAW.into_iter().find(|f| f.fourcc_bytes() == format.fourcc.repr)?;
    let info = FrameInfo::new(w, h, raw).with_stride(format.stride);
    // A stride the ring cannot describe (or a size too large) is skipped.
    info.payload_len().ok().flatten().map(|_| info)
}

/// Asks for `fps` (best effort: not every driver lets the rate be set, and
/// it may give another) and returns the rate the driver reports.
fn negotiate_rate(dev: &Device, fps: f64) -> Option<f64> {
    let asked = if fps > 0.0 {
        // The interval as a fraction in milliframes: 12.5 fps is 1000/12500.
        let params = v4l::video::capture::Parameters::new(v4l::Fraction::new(1000, (fps * 1000.0).round() as u32));
        dev.set_params(&params).ok()
    } else {
        None
    };
    let params = asked.or_else(|| dev.params().ok())?;
    let v4l::Fraction { numerator, denominator } = params.interval;
    (numerator > 0 && denominator > 0).then(|| f64::from(denominator) / f64::from(numerator))
}

/// A rate without needless decimals: 30, 12.5, 29.97.
fn trim(fps: f64) -> String {
    let s = format!("{fps:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
