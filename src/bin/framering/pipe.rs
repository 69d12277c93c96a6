//! `framering cat` (a ring's frames to stdout, as YUV4MPEG2 or raw bytes)
//! and `framering play` (YUV4MPEG2 or raw frames from stdin into a ring):
//! the ring's end of a pipe to or from ffmpeg, ffplay, mpv or GStreamer.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::time::{Duration, Instant};

use framering::convert::{self, Planar};
use framering::{
    Consumer, Error, FrameInfo, FrameMeta, FrameView, MAX_DIMENSION, PixelFormat, Producer, RingConfig, admin,
    monotonic_ns,
};

use crate::values::{self, OwnerArg, f64_in, fps_or_zero, octal};
use crate::{Failure, fail};

/// The longest YUV4MPEG2 header or frame line accepted.
const MAX_LINE: usize = 4096;

/// The y4m `C` tag of a planar layout.
fn y4m_tag(layout: Planar) -> &'static str {
    match layout {
        Planar::Mono => "mono",
        Planar::Yuv420 => "420jpeg",
        Planar::Yuv422 => "422",
        _ => "444",
    }
}

/// ffmpeg's and GStreamer's names of a ring format, as raw bytes.
fn raw_names(format: PixelFormat) -> (&'static str, &'static str) {
    match format {
        PixelFormat::Bgr24 => ("bgr24", "BGR"),
        PixelFormat::Rgb24 => ("rgb24", "RGB"),
        PixelFormat::Bgra => ("bgra", "BGRA"),
        PixelFormat::Rgba => ("rgba", "RGBA"),
        PixelFormat::Gray8 => ("gray", "GRAY8"),
        PixelFormat::Yuyv => ("yuyv422", "YUY2"),
        PixelFormat::Nv12 => ("nv12", "NV12"),
        PixelFormat::I420 => ("yuv420p", "I420"),
        _ => ("mjpeg", "image/jpeg"),
    }
}

/// A frame rate as y4m's `num:den` (to the millihertz).
fn rate(fps: f64) -> (u64, u64) {
    let milli = (fps * 1000.0).round().clamp(1.0, 1e9) as u64;
    let g = gcd(milli, 1000);
    (milli / g, 1000 / g)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Options of `framering cat`.
pub(crate) struct CatOptions {
    raw: bool,
    every: bool,
    frames: u64,
    timeout: Option<Duration>,
    restart: bool,
    fps: Option<f64>,
    /// `--v4l2 DEV`: frames into a V4L2 output device instead of stdout.
    #[cfg_attr(not(all(feature = "v4l", target_os = "linux")), allow(dead_code))]
    device: Option<std::path::PathBuf>,
    /// `--mjpeg`: to the device as JPEG images.
    #[cfg_attr(not(all(feature = "v4l", target_os = "linux")), allow(dead_code))]
    mjpeg: bool,
    owner: Option<u32>,
}

/// The JPEG quality of `cat --v4l2 DEV --mjpeg`.
#[cfg(all(feature = "v4l", target_os = "linux"))]
const MJPEG_QUALITY: u8 = 90;

/// `framering cat RING`'s options, as given.
#[derive(clap::Args, Debug)]
pub(crate) struct CatArgs {
    /// YUV4MPEG2 to stdout (the default)
    #[arg(long, conflicts_with = "raw")]
    y4m: bool,
    /// The ring's bytes as they are, row padding dropped (stderr says the
    /// ffmpeg and gst-launch arguments)
    #[arg(long)]
    raw: bool,
    /// Every frame while the ring holds it (drops on stderr), not the newest each time
    #[arg(long)]
    every: bool,
    /// Stop after N frames (0: until the ring closes or the reader quits)
    #[arg(long, value_name = "N", default_value_t = 0)]
    frames: u64,
    /// Give up after S seconds without a frame (0: never)
    #[arg(long, value_name = "S", default_value_t = 0.0, value_parser = f64_in(0.0..=1e6))]
    timeout: f64,
    /// The rate the y4m header states (0: the ring's measured rate)
    #[arg(long, value_name = "R", default_value_t = 0.0, value_parser = f64_in(0.0..=1000.0))]
    fps: f64,
    /// On a frame of another size or format, start a new stream instead of ending
    #[arg(long)]
    restart: bool,
    /// Frames into this V4L2 output device (e.g. a v4l2loopback virtual
    /// webcam; feature `v4l`) instead of stdout
    #[arg(long = "v4l2", value_name = "DEV", conflicts_with_all = ["y4m", "raw"])]
    device: Option<std::path::PathBuf>,
    /// To the device as JPEG images
    #[arg(long, requires = "device")]
    mjpeg: bool,
    #[command(flatten)]
    owner: OwnerArg,
}

impl CatOptions {
    pub(crate) fn new(a: CatArgs) -> Result<Self, Failure> {
        if a.device.is_some() && !cfg!(target_os = "linux") {
            return Err(crate::usage("--v4l2: V4L2 devices are Linux's"));
        }
        if a.device.is_some() && !cfg!(feature = "v4l") {
            return Err(crate::usage("--v4l2 needs framering built with the `v4l` feature"));
        }
        Ok(Self {
            raw: a.raw,
            every: a.every,
            frames: a.frames,
            timeout: (a.timeout > 0.0).then(|| Duration::from_secs_f64(a.timeout)),
            restart: a.restart,
            fps: (a.fps > 0.0).then_some(a.fps),
            device: a.device,
            mjpeg: a.mjpeg,
            owner: a.owner.uid(),
        })
    }
}

/// What one stream (one y4m header, one device format) carries.
type StreamKey = (u32, u32, PixelFormat);

/// Where `cat`'s frames go.
enum Sink {
    /// stdout, as y4m or (`raw`) the ring's bytes packed.
    Pipe { out: BufWriter<File>, raw: bool },
    /// A V4L2 output device, the ring's bytes packed or (`codec`) as JPEG.
    #[cfg(all(feature = "v4l", target_os = "linux"))]
    Device { dev: crate::v4l2::Sink, codec: Option<framering::jpeg::Codec> },
}

impl Sink {
    fn open(o: &CatOptions) -> Result<Self, Failure> {
        #[cfg(all(feature = "v4l", target_os = "linux"))]
        if let Some(path) = &o.device {
            let codec = o.mjpeg.then(framering::jpeg::Codec::new);
            return Ok(Self::Device { dev: crate::v4l2::Sink::open(path)?, codec });
        }
        let stdout = io::stdout().lock();
        // Frames are megabytes: a big buffer, flushed after every frame (a
        // live view must not lag), not the line-buffered stdout.
        let file = file_of(&stdout).map_err(|e| fail(format!("stdout: {e}")))?;
        Ok(Self::Pipe { out: BufWriter::with_capacity(1 << 20, file), raw: o.raw })
    }

    /// Whether a frame is wanted packed (padding dropped) rather than as
    /// the ring holds it (for a conversion or an encoder).
    fn packed(&self) -> bool {
        match self {
            Self::Pipe { raw, .. } => *raw,
            #[cfg(all(feature = "v4l", target_os = "linux"))]
            Self::Device { codec, .. } => codec.is_none(),
        }
    }

    /// Starts a stream of frames like `meta`'s (`packed_len` bytes each,
    /// packed); `Ok(true)` if the reader went away.
    #[cfg_attr(not(all(feature = "v4l", target_os = "linux")), allow(unused_variables))]
    fn start(&mut self, meta: &FrameMeta, fps: f64, packed_len: usize) -> Result<bool, Failure> {
        match self {
            Self::Pipe { out, raw } => match stream_header(meta, *raw, fps)? {
                Some(header) => write_all(out, header.as_bytes()),
                None => Ok(false),
            },
            #[cfg(all(feature = "v4l", target_os = "linux"))]
            Self::Device { dev, codec } => {
                let info = meta.info;
                let info =
                    if codec.is_some() { FrameInfo::new(info.width, info.height, PixelFormat::Mjpeg) } else { info };
                dev.start(&info, packed_len).map(|()| false)
            }
        }
    }

    /// Sends one frame: `packed` if [`packed`](Self::packed), else `held`
    /// (the ring's bytes) converted through `scratch`; `Ok(true)` if the
    /// reader went away.
    fn frame(&mut self, meta: &FrameMeta, packed: &[u8], held: &[u8], scratch: &mut Vec<u8>) -> Result<bool, Failure> {
        match self {
            Self::Pipe { out, raw: true } => Ok(write_all(out, packed)? || flush(out)?),
            Self::Pipe { out, raw: false } => {
                convert::to_planar(&meta.info, held, scratch)
                    .map_err(|e| fail(format!("frame {}: {e}", meta.frame)))?;
                Ok(write_all(out, b"FRAME\n")? || write_all(out, scratch)? || flush(out)?)
            }
            #[cfg(all(feature = "v4l", target_os = "linux"))]
            Self::Device { dev, codec: None } => dev.write(packed).map(|()| false),
            #[cfg(all(feature = "v4l", target_os = "linux"))]
            Self::Device { dev, codec: Some(codec) } => {
                let jpeg = if meta.info.format == PixelFormat::Mjpeg {
                    held
                } else {
                    codec
                        .encode(&meta.info, held, MJPEG_QUALITY)
                        .map_err(|e| fail(format!("frame {}: {e}", meta.frame)))?
                };
                dev.write(jpeg).map(|()| false)
            }
        }
    }

    fn end(&mut self) {
        match self {
            Self::Pipe { out, .. } => {
                let _ = out.flush();
            }
            #[cfg(all(feature = "v4l", target_os = "linux"))]
            Self::Device { .. } => {}
        }
    }
}

/// `framering cat RING`: frames to stdout (or a V4L2 device) until the
/// producer closes the ring, `--frames` are written, the reader goes away
/// (EPIPE: exit 0), or a frame of another size or format ends the stream.
pub(crate) fn cat(name: &str, o: &CatOptions) -> Result<(), Failure> {
    let mut rx = crate::commands::owned(Consumer::new(name)?, o.owner)?;
    let mut sink = Sink::open(o)?;
    let packed = sink.packed();
    // `bytes`: a frame packed; `held`: a frame as the ring holds it, for a
    // conversion or an encoder, which writes to `scratch`.
    let (mut bytes, mut held, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
    let (mut stream, mut sent, mut idle_since) = (None::<StreamKey>, 0u64, Instant::now());
    // On a terminal, a status line on stderr (stdout carries the video).
    let status = std::io::IsTerminal::is_terminal(&io::stderr());
    let (mut shown, mut shown_sent) = (Instant::now(), 0u64);
    while o.frames == 0 || sent < o.frames {
        let slice = Duration::from_millis(100);
        // Packed frames go straight from the slot into `bytes`.
        let mut copy = |view: &FrameView<'_>| {
            let (to, len) = if packed { (&mut bytes, view.packed_len()) } else { (&mut held, view.len()) };
            to.resize(len, 0);
            if packed { view.copy_packed(to) } else { view.copy_to(0, to) }
        };
        let got = if o.every { rx.wait_next_with(slice, &mut copy) } else { rx.wait_latest_with(slice, &mut copy) };
        let meta = match got {
            Ok((meta, _)) => meta,
            Err(Error::Closed) if sent > 0 => {
                eprintln!("framering cat: the producer closed ring {name:?}: end of stream after {sent} frames");
                break;
            }
            Err(Error::ProducerDead) if sent > 0 => {
                return Err(fail(format!("the producer of ring {name:?} died; the stream ends after {sent} frames")));
            }
            Err(e) if e.is_transient() => {
                if o.timeout.is_some_and(|t| idle_since.elapsed() >= t) {
                    return Err(fail(format!("no frame from ring {name:?} for {:?}", o.timeout.unwrap_or_default())));
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        idle_since = Instant::now();
        if o.every && meta.dropped > 0 {
            eprintln!(
                "framering cat: {} frames dropped before frame {} (the ring overwrote them first)",
                meta.dropped, meta.frame
            );
        }
        let key = (meta.info.width, meta.info.height, meta.info.format);
        if stream != Some(key) {
            if let Some((w, h, f)) = stream
                && !o.restart
            {
                eprintln!(
                    "framering cat: frame {} is {}x{} {}, the stream is {w}x{h} {f}: ending it (--restart starts a new one)",
                    meta.frame, key.0, key.1, key.2
                );
                break;
            }
            let fps = o.fps.unwrap_or_else(|| measured_fps(name));
            if sink.start(&meta, fps, bytes.len())? {
                return Ok(());
            }
            stream = Some(key);
        }
        if sink.frame(&meta, &bytes, &held, &mut scratch)? {
            return Ok(());
        }
        sent += 1;
        if status && shown.elapsed() >= Duration::from_secs(1) {
            let fps = (sent - shown_sent) as f64 / shown.elapsed().as_secs_f64();
            eprint!("\r\x1b[2Kframering cat: {sent} frames, {fps:.1} fps, {} dropped", rx.dropped());
            (shown, shown_sent) = (Instant::now(), sent);
        }
    }
    if status && sent > 0 {
        eprintln!();
    }
    sink.end();
    Ok(())
}

/// Writes `bytes`; `Ok(true)` if the reader went away (EPIPE: the pipe's
/// other end quit, which ends `cat` quietly and successfully).
fn write_all(out: &mut impl Write, bytes: &[u8]) -> Result<bool, Failure> {
    match out.write_all(bytes) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(true),
        Err(e) => Err(fail(format!("writing to stdout: {e}"))),
    }
}

/// Flushes a frame out; `Ok(true)` if the reader went away.
fn flush(out: &mut impl Write) -> Result<bool, Failure> {
    match out.flush() {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(true),
        Err(e) => Err(fail(format!("writing to stdout: {e}"))),
    }
}

/// The ring's publish rate from its slots' timestamps, or 30.
fn measured_fps(name: &str) -> f64 {
    admin::status(name).map(|s| s.fps(monotonic_ns())).ok().filter(|f| *f >= 0.5).map_or(30.0, |f| f.round().max(1.0))
}

/// The y4m header of a new stream (`None` for raw, whose arguments are
/// printed on stderr instead).
fn stream_header(meta: &FrameMeta, raw: bool, fps: f64) -> Result<Option<String>, Failure> {
    let FrameInfo { width: w, height: h, format, .. } = meta.info;
    let (num, den) = rate(fps);
    if raw {
        let (ff, gst) = raw_names(format);
        let rate = if den == 1 { num.to_string() } else { format!("{num}/{den}") };
        if format == PixelFormat::Mjpeg {
            eprintln!("framering cat: MJPEG {w}x{h} at {rate} fps; read with: ffmpeg -f mjpeg -framerate {rate} -i -");
            eprintln!("framering cat: or: gst-launch-1.0 fdsrc ! jpegparse ! jpegdec ! videoconvert ! autovideosink");
        } else {
            eprintln!(
                "framering cat: {} {w}x{h} at {rate} fps, rows packed; read with: \
                 ffmpeg -f rawvideo -pixel_format {ff} -video_size {w}x{h} -framerate {rate} -i -",
                format.name()
            );
            eprintln!(
                "framering cat: or: gst-launch-1.0 fdsrc ! rawvideoparse width={w} height={h} format={} \
                 framerate={num}/{den} ! videoconvert ! autovideosink",
                gst.to_lowercase()
            );
        }
        return Ok(None);
    }
    let layout = Planar::of(format).ok_or_else(|| {
        fail("MJPEG frames are JPEG images, not YUV: use `framering cat --raw` (ffmpeg -f mjpeg -i -)")
    })?;
    if format != PixelFormat::I420 && format != PixelFormat::Gray8 {
        eprintln!(
            "framering cat: {} frames go out as y4m C{} ({})",
            format.name(),
            y4m_tag(layout),
            conversion(format)
        );
    }
    Ok(Some(format!("YUV4MPEG2 W{w} H{h} F{num}:{den} Ip A1:1 C{}\n", y4m_tag(layout))))
}

/// What `cat --y4m` does to each ring format.
fn conversion(format: PixelFormat) -> &'static str {
    match format {
        PixelFormat::Nv12 => "chroma de-interleaved into planes, no arithmetic",
        PixelFormat::Yuyv => "samples split into planes, no arithmetic",
        _ => "BT.601 limited range, the inverse of the consumer's display conversion",
    }
}

/// Options of `framering play`.
pub(crate) struct PlayOptions {
    raw: Option<(u32, u32, PixelFormat)>,
    fps: f64,
    realtime: bool,
    looped: bool,
    slots: u32,
    mode: Option<u32>,
    /// The largest ring a stream's header may ask for, in bytes.
    max_ring: u64,
}

/// The slowest frame rate `play` paces at: one frame every 1000 s.
const MIN_FPS: f64 = 0.001;

/// `play --max-ring-mib`'s default: a ring is sized from the stream's
/// header, before any pixel arrives, so a header alone must not commit
/// more memory than this (4K I420 in 4 slots is 48 MiB; 8K is 190 MiB).
const DEFAULT_MAX_RING_MIB: u64 = 1024;

/// `framering play RING`'s options, as given.
#[derive(clap::Args, Debug)]
pub(crate) struct PlayArgs {
    /// YUV4MPEG2 on stdin (the default)
    #[arg(long, conflicts_with = "raw")]
    y4m: bool,
    /// Raw frames on stdin, each --size and --format (which alone say so too)
    #[arg(long, requires_all = ["size", "format"])]
    raw: bool,
    /// The size of raw frames
    #[arg(long, value_name = "WxH", value_parser = size, requires = "format")]
    size: Option<(u32, u32)>,
    /// The format of raw frames (BGR24, RGB24, BGRA, RGBA, GRAY8, YUYV, NV12, I420, MJPEG)
    #[arg(long, value_name = "F", value_parser = |s: &str| s.parse::<PixelFormat>().map_err(|e| e.to_string()), requires = "size")]
    format: Option<PixelFormat>,
    /// The rate to pace at with --realtime (0: the stream's own)
    #[arg(long, value_name = "R", default_value_t = 0.0, value_parser = fps_or_zero(MIN_FPS, "0.001"))]
    fps: f64,
    /// Publish at the stream's rate, not as fast as frames arrive
    #[arg(long)]
    realtime: bool,
    /// Start over at the end of the input (a file, not a pipe)
    #[arg(long = "loop")]
    looped: bool,
    /// Slots of the ring
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = values::slots())]
    slots: u32,
    /// Permission bits of the ring, e.g. 0640 [default: 0600]
    #[arg(long, value_name = "OCTAL", value_parser = octal)]
    mode: Option<u32>,
    /// Refuse, before making it, a ring larger than M MiB (a stream's header alone sizes it)
    #[arg(long, value_name = "M", default_value_t = DEFAULT_MAX_RING_MIB, value_parser = clap::value_parser!(u64).range(1..=16384))]
    max_ring_mib: u64,
}

/// `WxH`, each within `1..=MAX_DIMENSION`.
fn size(s: &str) -> Result<(u32, u32), String> {
    s.split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .filter(|&(w, h): &(u32, u32)| (1..=MAX_DIMENSION).contains(&w) && (1..=MAX_DIMENSION).contains(&h))
        .ok_or_else(|| format!("WxH within 1..={MAX_DIMENSION}"))
}

impl PlayOptions {
    pub(crate) fn new(a: PlayArgs) -> Self {
        Self {
            raw: a.size.zip(a.format).map(|((w, h), format)| (w, h, format)),
            fps: a.fps,
            realtime: a.realtime,
            looped: a.looped,
            slots: a.slots,
            mode: a.mode,
            max_ring: a.max_ring_mib << 20,
        }
    }
}

/// A y4m stream's header: size, rate and layout.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Y4mHeader {
    width: u32,
    height: u32,
    fps: f64,
    layout: Planar,
}

/// Reads one line (without the `\n`) of at most MAX_LINE bytes; `None` at
/// end of input before any byte.
fn read_line(input: &mut impl BufRead, what: &str) -> Result<Option<Vec<u8>>, Failure> {
    let mut line = Vec::new();
    let n = input
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(|e| fail(format!("reading stdin: {e}")))?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(fail(format!("{what}: no end of line within {MAX_LINE} bytes (not a YUV4MPEG2 stream?)")));
    }
    line.pop();
    Ok(Some(line))
}

fn parse_header(line: &[u8]) -> Result<Y4mHeader, Failure> {
    let text = std::str::from_utf8(line).map_err(|_| fail("not a YUV4MPEG2 stream: the header is not text"))?;
    let mut words = text.split(' ');
    if words.next() != Some("YUV4MPEG2") {
        return Err(fail("not a YUV4MPEG2 stream: it does not start with \"YUV4MPEG2 \""));
    }
    let (mut width, mut height, mut fps, mut layout) = (None, None, 30.0, Planar::Yuv420);
    let dim = |v: &str, what: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_DIMENSION).contains(d))
            .ok_or_else(|| fail(format!("y4m header: {what} {v:?} is not within 1..={MAX_DIMENSION}")))
    };
    for word in words.filter(|w| !w.is_empty()) {
        let (tag, value) = word.split_at(1);
        match tag {
            "W" => width = Some(dim(value, "width")?),
            "H" => height = Some(dim(value, "height")?),
            "F" => {
                let rate =
                    value.split_once(':').and_then(|(n, d)| Some((n.parse::<f64>().ok()?, d.parse::<f64>().ok()?)));
                fps = match rate {
                    Some((n, d)) if n > 0.0 && d > 0.0 && (n / d).is_finite() => n / d,
                    _ => return Err(fail(format!("y4m header: bad frame rate F{value}"))),
                };
                if !(MIN_FPS..=1e6).contains(&fps) {
                    return Err(fail(format!("y4m header: frame rate F{value} is not within {MIN_FPS}..=1000000 fps")));
                }
            }
            "C" => {
                layout = match value {
                    "mono" => Planar::Mono,
                    "420" | "420jpeg" | "420mpeg2" | "420paldv" => Planar::Yuv420,
                    "422" => Planar::Yuv422,
                    other => {
                        return Err(fail(format!(
                            "y4m colour space C{other} cannot go into a ring (rings carry mono, 420 and 422): \
                             ask ffmpeg for -pix_fmt yuv420p"
                        )));
                    }
                }
            }
            _ => {} // interlacing, aspect, comments: nothing for a ring
        }
    }
    match (width, height) {
        (Some(width), Some(height)) => Ok(Y4mHeader { width, height, fps, layout }),
        _ => Err(fail("y4m header: no W (width) or H (height)")),
    }
}

/// The ring frame a y4m layout becomes.
fn ring_format(layout: Planar) -> PixelFormat {
    match layout {
        Planar::Mono => PixelFormat::Gray8,
        Planar::Yuv422 => PixelFormat::Yuyv,
        _ => PixelFormat::I420,
    }
}

/// A `File` on a duplicate of a standard stream's descriptor (handle), so
/// that it can be read or written with our own buffer, and `metadata`
/// tells a regular file from a pipe.
#[cfg(unix)]
fn file_of(stream: &impl std::os::fd::AsFd) -> io::Result<File> {
    Ok(File::from(stream.as_fd().try_clone_to_owned()?))
}

/// A `File` on a duplicate of a standard stream's handle (see the Unix twin).
#[cfg(windows)]
fn file_of(stream: &impl std::os::windows::io::AsHandle) -> io::Result<File> {
    Ok(File::from(stream.as_handle().try_clone_to_owned()?))
}

/// `framering play RING`: frames from stdin into a new ring, until the
/// input ends (then the ring is closed). Truncated or malformed input is an
/// error; the frame being read is never published.
pub(crate) fn play(name: &str, o: &PlayOptions) -> Result<(), Failure> {
    let stdin = io::stdin().lock();
    let file = file_of(&stdin).map_err(|e| fail(format!("stdin: {e}")))?;
    let seekable = file.metadata().is_ok_and(|m| m.is_file());
    if o.looped && !seekable {
        return Err(crate::usage("--loop needs stdin to be a file (framering play RING --loop < movie.y4m)"));
    }
    let mut input = BufReader::with_capacity(1 << 20, file);
    let header = match o.raw {
        Some(_) => None,
        None => {
            let line = read_line(&mut input, "y4m header")?.ok_or_else(|| fail("stdin is empty: no y4m header"))?;
            Some(parse_header(&line)?)
        }
    };
    let (info, fps) = match (header, o.raw) {
        (Some(hd), _) => {
            let fps = if o.fps > 0.0 { o.fps } else { hd.fps };
            (FrameInfo::new(hd.width, hd.height, ring_format(hd.layout)), fps)
        }
        (None, Some((w, h, format))) => (FrameInfo::new(w, h, format), o.fps),
        (None, None) => return Err(fail("no y4m header and no --raw description")),
    };
    let payload = info.payload_len()?.ok_or_else(|| fail("compressed input needs --raw framing"))?;
    // The bytes of one frame on stdin: y4m planes, or the packed raw frame.
    let frame_len = match header {
        Some(hd) => hd.layout.len(hd.width, hd.height),
        None => payload,
    };
    if o.realtime && fps <= 0.0 {
        return Err(crate::usage("--realtime needs a rate: --fps R (raw input has none)"));
    }
    let ring_bytes = u64::from(o.slots).saturating_mul(payload as u64);
    if ring_bytes > o.max_ring {
        return Err(fail(format!(
            "{}x{} {} frames in {} slots need a {} MiB ring, more than --max-ring-mib {} allows \
             (a stream's header alone must not commit that much memory; raise the limit if you mean it)",
            info.width,
            info.height,
            info.format.name(),
            o.slots,
            ring_bytes.div_ceil(1 << 20),
            o.max_ring >> 20
        )));
    }
    let mut config = RingConfig::new(o.slots, payload);
    if let Some(mode) = o.mode {
        config = config.with_mode(mode);
    }
    let mut tx = Producer::create(name, config)?;
    eprintln!(
        "framering play: {}x{} {} frames into ring {name:?}{}",
        info.width,
        info.height,
        info.format.name(),
        if o.realtime { format!(" at {fps:.3} fps") } else { String::new() }
    );
    let result = publish_all(&mut tx, &mut input, header, info, frame_len, fps, o);
    // Closed cleanly either way: consumers see the end, not a dead producer.
    let closed = tx.close();
    let sent = result?;
    closed?;
    eprintln!("framering play: published {sent} frames; ring {name:?} closed");
    Ok(())
}

fn publish_all(
    tx: &mut Producer,
    input: &mut BufReader<File>,
    header: Option<Y4mHeader>,
    info: FrameInfo,
    frame_len: usize,
    fps: f64,
    o: &PlayOptions,
) -> Result<u64, Failure> {
    let start = Instant::now();
    let (mut sent, mut planes) = (0u64, Vec::new());
    loop {
        if header.is_some() {
            match read_line(input, "y4m frame header")? {
                Some(line) if line.starts_with(b"FRAME") => {}
                Some(_) => {
                    return Err(fail(format!("frame {}: expected a FRAME line (a malformed y4m stream)", sent + 1)));
                }
                None if o.looped => {
                    rewind(input, header)?;
                    continue;
                }
                None => return Ok(sent),
            }
        }
        if o.realtime {
            // fps ≥ MIN_FPS, so this overflows only after ~10^16 frames.
            let due = Duration::try_from_secs_f64(sent as f64 / fps)
                .ok()
                .and_then(|at| start.checked_add(at))
                .ok_or_else(|| fail(format!("--realtime: frame {} is due beyond any clock", sent + 1)))?;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut loan = tx.loan(info)?;
        // Straight into the slot when the stream's bytes are the ring's;
        // a dropped loan (short read, error) publishes nothing.
        let got = if info.format == PixelFormat::Yuyv {
            planes.resize(frame_len, 0);
            let got = read_full(input, &mut planes)?;
            pack_yuyv(&planes, info.width, info.height, loan.pixels_mut());
            got
        } else {
            read_full(input, loan.pixels_mut())?
        };
        if got == 0 && header.is_none() {
            if o.looped {
                rewind(input, header)?;
                continue;
            }
            return Ok(sent);
        }
        if got < frame_len {
            return Err(fail(format!(
                "stdin ended in the middle of frame {}: {got} of its {frame_len} bytes (nothing of it was published)",
                sent + 1
            )));
        }
        loan.set_capture_ns(monotonic_ns());
        loan.commit()?;
        sent += 1;
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, Failure> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(format!("reading stdin: {e}"))),
        }
    }
    Ok(got)
}

/// Back to the start of a file for `--loop` (the header must be the same).
fn rewind(input: &mut BufReader<File>, header: Option<Y4mHeader>) -> Result<(), Failure> {
    input.seek(io::SeekFrom::Start(0)).map_err(|e| fail(format!("--loop: rewinding stdin: {e}")))?;
    if let Some(first) = header {
        let line = read_line(input, "y4m header")?.ok_or_else(|| fail("--loop: the file is empty now"))?;
        if parse_header(&line)? != first {
            return Err(fail("--loop: the file's header changed"));
        }
    }
    Ok(())
}

/// Planar 4:2:2 (Y, U, V planes) to YUYV (Y0 U Y1 V); an odd last pixel
/// repeats its luma.
fn pack_yuyv(planes: &[u8], width: u32, height: u32, out: &mut [u8]) {
    let sizes = Planar::Yuv422.planes(width, height);
    let ((w, h), (cw, _)) = (sizes[0], sizes[1]);
    let (y, chroma) = planes.split_at((w * h).min(planes.len()));
    let (u, v) = chroma.split_at((cw * h).min(chroma.len()));
    let row_bytes = cw * 4;
    for (r, row) in out.chunks_exact_mut(row_bytes).take(h).enumerate() {
        for (c, px) in row.chunks_exact_mut(4).enumerate() {
            let luma = |x: usize| y.get(r * w + x.min(w - 1)).copied().unwrap_or(0);
            px.copy_from_slice(&[
                luma(2 * c),
                u.get(r * cw + c).copied().unwrap_or(128),
                luma(2 * c + 1),
                v.get(r * cw + c).copied().unwrap_or(128),
            ]);
        }
    }
}
