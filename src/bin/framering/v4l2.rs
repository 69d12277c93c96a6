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
}

impl Sink {
    pub(crate) fn open(path: &Path) -> Result<Self, Failure> {
        let failed = |e: std::io::Error| fail(format!("{}: {e}", path.display()));
        let dev = Device::with_path(path).map_err(failed)?;
        let caps = dev.query_caps().map_err(|e| match e.raw_os_error() {
            Some(25) => fail(format!("{} is not a V4L2 device", path.display())),
            _ => failed(e),
        })?;
        if !caps.capabilities.contains(v4l::capability::Flags::VIDEO_OUTPUT) {
            return Err(fail(format!(
                "{} is not a video output device (a v4l2loopback device is: modprobe v4l2loopback)",
                path.display()
            )));
        }
        let file = File::options().write(true).open(path).map_err(failed)?;
        Ok(Self { path: path.to_owned(), dev, file })
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
        let (path, what) = (self.path.display(), format!("{}x{} {}", info.width, info.height, info.format));
        let got = Output::set_format(&self.dev, &asked).map_err(|e| fail(format!("{path}: cannot set {what}: {e}")))?;
        if (got.width, got.height, got.fourcc) != (info.width, info.height, fourcc) {
            let name = crate::fourcc::fourcc_name(u32::from(got.fourcc));
            return Err(fail(format!(
                "{path} does not take {what}: it set {}x{} {name} (a v4l2loopback device keeps the format of its first writer until all close it)",
                got.width, got.height
            )));
        }
        // A raw frame is `sizeimage` bytes, which must be framering's packed
        // frame; MJPEG frames vary.
        let size = got.size as usize;
        if info.format != PixelFormat::Mjpeg && size != packed_len {
            return Err(fail(format!("{path} wants {size}-byte frames of {what}, framering's are {packed_len} bytes")));
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
