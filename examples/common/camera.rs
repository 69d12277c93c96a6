//! V4L2 capture for the producer example (feature `v4l`).
//!
//! The format is negotiated with the driver and what it actually returns is
//! used. MJPEG frames are decoded by turbojpeg straight into a loaned slot as
//! BGR24 (no extra frame copy); YUYV frames are published as YUYV (one copy
//! from the driver's buffer into the slot; consumers convert).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use framering::{FrameInfo, PixelFormat, Producer};
use v4l::buffer::Type;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

/// Which camera format to ask for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Auto,
    Mjpg,
    Yuyv,
}

impl Want {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "mjpg" | "mjpeg" => Some(Self::Mjpg),
            "yuyv" => Some(Self::Yuyv),
            _ => None,
        }
    }
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
        _ => format!("{}: {e}", path.display()),
    }
}

/// An opened camera with a negotiated format.
pub struct Camera {
    path: PathBuf,
    dev: Device,
    format: v4l::Format,
}

impl Camera {
    /// Opens `path` and negotiates `width × height` at `fps` in the wanted format.
    pub fn open(path: &Path, width: u32, height: u32, fps: u32, want: Want) -> Result<Self, String> {
        let dev = Device::with_path(path).map_err(|e| explain(path, e))?;
        let offered: Vec<FourCC> =
            dev.enum_formats().map_err(|e| explain(path, e))?.into_iter().map(|d| d.fourcc).collect();
        let candidates: &[&[u8; 4]] = match want {
            Want::Auto => &[b"MJPG", b"YUYV"],
            Want::Mjpg => &[b"MJPG"],
            Want::Yuyv => &[b"YUYV"],
        };
        for fourcc in candidates.iter().map(|c| FourCC::new(c)).filter(|c| offered.contains(c)) {
            let format = dev.set_format(&v4l::Format::new(width, height, fourcc)).map_err(|e| explain(path, e))?;
            if format.fourcc == fourcc {
                // Best effort: not every driver lets the rate be set.
                let _ = dev.set_params(&v4l::video::capture::Parameters::with_fps(fps));
                return Ok(Self { path: path.to_owned(), dev, format });
            }
        }
        let offered: Vec<String> = offered.iter().map(|f| f.to_string()).collect();
        if offered.is_empty() {
            return Err(format!(
                "{} offers no video formats: is it a camera? (try another /dev/videoN)",
                path.display()
            ));
        }
        Err(format!(
            "unsupported format: {} offers {}, this producer takes MJPG or YUYV",
            path.display(),
            offered.join(", ")
        ))
    }

    /// What will be published for each camera frame.
    pub fn frame_info(&self) -> FrameInfo {
        let (w, h) = (self.format.width, self.format.height);
        if self.format.fourcc == FourCC::new(b"MJPG") {
            FrameInfo::new(w, h, PixelFormat::Bgr24)
        } else {
            FrameInfo::new(w, h, PixelFormat::Yuyv).with_stride(self.format.stride)
        }
    }

    /// Slot capacity needed for [`frame_info`](Self::frame_info).
    pub fn max_frame_bytes(&self) -> usize {
        self.frame_info().payload_len().ok().flatten().unwrap_or(0)
    }

    /// A one-line description, e.g. `/dev/video0 MJPG 1280x720`.
    pub fn describe(&self) -> String {
        format!("{} {} {}x{}", self.path.display(), self.format.fourcc, self.format.width, self.format.height)
    }

    /// Captures and publishes until `stop` is set or `frames` frames were
    /// published (0: no limit). `status(published, dropped)` is called after
    /// every frame; dropped counts frames the driver skipped (sequence gaps)
    /// and frames that failed to decode.
    pub fn run(
        self,
        tx: &mut Producer,
        stop: &AtomicBool,
        frames: u64,
        mut status: impl FnMut(u64, u64),
    ) -> Result<(), String> {
        let info = self.frame_info();
        let mjpeg = self.format.fourcc == FourCC::new(b"MJPG");
        let mut decompressor = turbojpeg::Decompressor::new().map_err(|e| e.to_string())?;
        let mut stream = Stream::with_buffers(&self.dev, Type::VideoCapture, 4).map_err(|e| explain(&self.path, e))?;
        let (mut published, mut dropped, mut last_seq) = (0u64, 0u64, None::<u32>);
        while !stop.load(Ordering::Relaxed) && (frames == 0 || published < frames) {
            let (buf, meta) = stream.next().map_err(|e| explain(&self.path, e))?;
            if let Some(prev) = last_seq {
                dropped += u64::from(meta.sequence.wrapping_sub(prev).saturating_sub(1));
            }
            last_seq = Some(meta.sequence);
            // V4L2 timestamps are CLOCK_MONOTONIC by default.
            let capture_ns = (meta.timestamp.sec as u64) * 1_000_000_000 + (meta.timestamp.usec as u64) * 1000;
            let bytes = &buf[..(meta.bytesused as usize).min(buf.len())];
            let info = info.with_capture_ns(capture_ns);
            let ok = if mjpeg {
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
                tx.publish(info, bytes).is_ok()
            };
            if ok {
                published += 1;
            } else {
                dropped += 1;
            }
            status(published, dropped);
        }
        Ok(())
    }
}
