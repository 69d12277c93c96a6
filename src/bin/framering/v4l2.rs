//! `framering cat RING --v4l2 /dev/videoN`: frames into a V4L2 output
//! device, such as a `v4l2loopback` virtual webcam (feature `v4l`).
//!
//! The device's output format is set from the first frame (and again when
//! a frame of another size or format restarts the stream); each frame is
//! then one `write()`, as `v4l2loopback` takes them: raw formats packed
//! (padding dropped), MJPEG as the JPEG image.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use framering::{FrameInfo, PixelFormat};
use v4l::video::Output;
use v4l::{Device, FourCC};

use crate::{Failure, fail};

/// An opened V4L2 output device.
pub(crate) struct Sink {
    path: PathBuf,
    /// Sets the format (the v4l handle is non-blocking).
    dev: Device,
    /// Takes the frames: a blocking descriptor, one `write()` a frame.
    file: File,
    /// The bytes of one raw frame the device expects (its `sizeimage`); 0
    /// for MJPEG, whose frames vary.
    frame_len: usize,
}

impl Sink {
    pub(crate) fn open(path: &Path) -> Result<Self, Failure> {
        let dev = Device::with_path(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let caps = dev.query_caps().map_err(|e| match e.raw_os_error() {
            Some(25) => fail(format!("{} is not a V4L2 device", path.display())),
            _ => fail(format!("{}: {e}", path.display())),
        })?;
        if !caps.capabilities.contains(v4l::capability::Flags::VIDEO_OUTPUT) {
            return Err(fail(format!(
                "{} is not a video output device (a v4l2loopback device is: modprobe v4l2loopback)",
                path.display()
            )));
        }
        let file = File::options().write(true).open(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
        Ok(Self { path: path.to_owned(), dev, file, frame_len: 0 })
    }

    /// Sets the output format for frames described by `info` (`packed_len`:
    /// one frame's bytes without padding).
    pub(crate) fn start(&mut self, info: &FrameInfo, packed_len: usize) -> Result<(), Failure> {
        if matches!(info.format, PixelFormat::Bgra | PixelFormat::Rgba) {
            // Their V4L2 codes are not framering's FourCCs, and cameras
            // rarely offer them.
            return Err(fail(format!(
                "{} frames cannot go to a V4L2 device here: publish BGR24, RGB24, GRAY8, YUYV, NV12, I420 or MJPEG",
                info.format
            )));
        }
        let fourcc = FourCC::new(&info.format.fourcc_bytes());
        let asked = v4l::Format::new(info.width, info.height, fourcc);
        let got = Output::set_format(&self.dev, &asked).map_err(|e| {
            fail(format!("{}: cannot set {}x{} {}: {e}", self.path.display(), info.width, info.height, info.format))
        })?;
        if (got.width, got.height, got.fourcc) != (info.width, info.height, fourcc) {
            return Err(fail(format!(
                "{} does not take {}x{} {}: it set {}x{} {} (a v4l2loopback device keeps the format of its first writer until all close it)",
                self.path.display(),
                info.width,
                info.height,
                info.format,
                got.width,
                got.height,
                got.fourcc
            )));
        }
        self.frame_len = if info.format == PixelFormat::Mjpeg { 0 } else { got.size as usize };
        if self.frame_len != 0 && self.frame_len != packed_len {
            return Err(fail(format!(
                "{} wants {}-byte {} frames of {}x{}, framering's are {packed_len} bytes",
                self.path.display(),
                self.frame_len,
                info.format,
                info.width,
                info.height
            )));
        }
        Ok(())
    }

    /// Writes one frame.
    pub(crate) fn write(&mut self, frame: &[u8]) -> Result<(), Failure> {
        let written = loop {
            match self.file.write(frame) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match written {
            Ok(n) if n == frame.len() => Ok(()),
            Ok(n) => Err(fail(format!("{}: took {n} of a frame's {} bytes", self.path.display(), frame.len()))),
            Err(e) if e.raw_os_error() == Some(19) => Err(fail(format!("{} went away", self.path.display()))),
            Err(e) => Err(fail(format!("writing to {}: {e}", self.path.display()))),
        }
    }
}
