//! Publishes camera frames (feature `v4l`) or a moving test pattern into a
//! framering ring. Run `cargo run --release --example producer -- --help`.

#[cfg(all(feature = "v4l", target_os = "linux"))]
#[path = "common/camera.rs"]
mod camera;
#[cfg(all(feature = "v4l", target_os = "linux"))]
#[path = "../src/bin/framering/fourcc.rs"]
mod fourcc;
#[path = "../src/bin/framering/values.rs"]
mod values;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use framering::{Error, Producer, RingConfig, monotonic_ns, testpattern};

/// Publishes camera frames or a moving test pattern into a framering ring.
///
/// Without a camera, or without the `v4l` feature, the producer sends a
/// moving test pattern with the frame number and time drawn on it.
#[derive(Parser, Debug)]
#[command(name = "producer")]
struct Options {
    /// The ring to publish into (/DIR/NAME: a ring in DIR)
    #[arg(long, value_name = "NAME", default_value = "cam0")]
    ring: String,
    /// Frame width
    #[arg(long, value_name = "W", default_value_t = 1280, value_parser = dimension())]
    width: u32,
    /// Frame height
    #[arg(long, value_name = "H", default_value_t = 720, value_parser = dimension())]
    height: u32,
    /// Frames per second; 0 = as fast as possible (else at least one an hour)
    #[arg(long, value_name = "F", default_value_t = 30.0, value_parser = values::fps_or_zero(1.0 / 3600.0, "1/3600"))]
    fps: f64,
    /// Ring slots
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = values::slots())]
    slots: u32,
    /// Stop after N frames (0: run until Ctrl-C)
    #[arg(long, value_name = "N", default_value_t = 0)]
    frames: u64,
    /// Permission bits of the ring, e.g. 0640
    #[arg(long, value_name = "MODE", default_value = "0600", value_parser = values::octal)]
    mode: u32,
    /// Send the moving test pattern even if a camera exists
    #[arg(long)]
    #[cfg_attr(not(all(feature = "v4l", target_os = "linux")), allow(dead_code))]
    test_pattern: bool,
    /// Camera device [default: the first capture device] (feature `v4l`)
    #[cfg(all(feature = "v4l", target_os = "linux"))]
    #[arg(long, value_name = "PATH")]
    device: Option<std::path::PathBuf>,
    /// Camera format: auto (MJPG, else the first raw one offered), mjpg, yuyv,
    /// nv12, i420, bgr24, rgb24 or gray8. MJPG is decoded to BGR24; the raw
    /// ones are published as they are (feature `v4l`)
    #[cfg(all(feature = "v4l", target_os = "linux"))]
    #[arg(long, value_name = "F", default_value = "auto", value_parser = |s: &str| camera::Want::parse(s).ok_or(camera::FORMATS))]
    format: camera::Want,
}

fn dimension() -> impl clap::builder::TypedValueParser<Value = u32> {
    clap::value_parser!(u32).range(1..=i64::from(framering::MAX_DIMENSION))
}

fn main() {
    let o = Options::parse();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).expect("install signal handler");
    }
    let result = run(&o, &stop);
    eprintln!();
    if let Err(message) = result {
        eprintln!("producer: {message}");
        std::process::exit(1);
    }
}

fn create(o: &Options, max_frame_bytes: usize) -> Result<Producer, String> {
    Producer::create(&o.ring, RingConfig::new(o.slots, max_frame_bytes).with_mode(o.mode)).map_err(|e| match e {
        Error::ProducerExists { name, pid } => {
            format!("ring '{name}' already has a live producer (pid {pid}); stop it or pick another --ring")
        }
        e => e.to_string(),
    })
}

/// Prints the one-line status in place, at most twice a second, and says
/// once when the producer cannot keep up with the rate asked for.
struct Status {
    start: Instant,
    shown: Instant,
    shown_frames: u64,
    /// The rate asked for (0: as fast as possible).
    target_fps: f64,
    /// What a dropped frame is ("camera frames dropped" from a camera).
    dropped_what: &'static str,
    slow_said: bool,
}

impl Status {
    fn new(target_fps: f64, dropped_what: &'static str) -> Self {
        let now = Instant::now();
        Self { start: now, shown: now, shown_frames: 0, target_fps, dropped_what, slow_said: false }
    }

    fn update(&mut self, ring: &str, frames: u64, dropped: u64) {
        let since = self.shown.elapsed();
        if since < Duration::from_millis(500) {
            return;
        }
        let fps = (frames - self.shown_frames) as f64 / since.as_secs_f64();
        let mut err = std::io::stderr().lock();
        // Behind by a tenth after the first two seconds: say why, once.
        if self.target_fps > 0.0 && !self.slow_said && self.start.elapsed() > Duration::from_secs(2) {
            let expected = self.target_fps * self.start.elapsed().as_secs_f64();
            if (frames as f64) < expected * 0.9 {
                self.slow_said = true;
                let build = if cfg!(debug_assertions) { " (a debug build: try --release)" } else { "" };
                let _ = writeln!(
                    err,
                    "\rproducer: cannot keep up: {:.1} fps of the {} asked for{build}",
                    frames as f64 / self.start.elapsed().as_secs_f64(),
                    self.target_fps
                );
            }
        }
        let dropped =
            if self.dropped_what.is_empty() { String::new() } else { format!("  {dropped} {}", self.dropped_what) };
        let _ = write!(err, "\r[{ring}] {fps:6.1} fps  {frames} frames{dropped}   ");
        let _ = err.flush();
        (self.shown, self.shown_frames) = (Instant::now(), frames);
    }
}

fn run(o: &Options, stop: &AtomicBool) -> Result<(), String> {
    #[cfg(all(feature = "v4l", target_os = "linux"))]
    if !o.test_pattern {
        let device = o.device.clone().or_else(camera::first_capture_device);
        match device {
            Some(path) => {
                let cam = camera::Camera::open(&path, o.width, o.height, o.fps, o.format)?;
                for note in cam.notes() {
                    eprintln!("producer: {note}");
                }
                let mut tx = create(o, cam.max_frame_bytes())?;
                eprintln!("producer: {} -> ring '{}' ({} slots)", cam.describe(), o.ring, o.slots);
                // Keeping up is judged against the rate the camera gives.
                let mut status = Status::new(cam.fps().unwrap_or(0.0), "camera frames dropped");
                let start = Instant::now();
                // On an error (the camera gone or stalled) `tx` is dropped
                // on the way out, which closes the ring.
                let counts = cam.run(&mut tx, stop, o.frames, |n, dropped| status.update(&o.ring, n, dropped))?;
                eprintln!(
                    "\nproducer: {} frames published at {:.1} fps; camera frames dropped: {} skipped by the driver (sequence gaps), {} failed",
                    counts.published,
                    counts.published as f64 / start.elapsed().as_secs_f64().max(1e-9),
                    counts.gaps,
                    counts.failed
                );
                return tx.close().map_err(|e| e.to_string());
            }
            None if o.device.is_none() => eprintln!("producer: no camera found, sending the test pattern"),
            None => unreachable!("an explicit --device is always tried"),
        }
    }
    test_pattern(o, stop)
}

fn test_pattern(o: &Options, stop: &AtomicBool) -> Result<(), String> {
    let (w, h) = (o.width, o.height);
    if w < testpattern::MIN_WIDTH || h < testpattern::MIN_HEIGHT {
        return Err(format!("the test pattern needs at least {}x{}", testpattern::MIN_WIDTH, testpattern::MIN_HEIGHT));
    }
    let info = testpattern::info(w, h);
    let len = info.payload_len().map_err(|e| e.to_string())?.unwrap_or(0);
    let mut tx = create(o, len)?;
    eprintln!("producer: test pattern {w}x{h} BGR24 at {} fps -> ring '{}' ({} slots)", o.fps, o.ring, o.slots);
    let start = Instant::now();
    let mut status = Status::new(o.fps, "");
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) && (o.frames == 0 || sent < o.frames) {
        if o.fps > 0.0 {
            let due = start + Duration::from_secs_f64(sent as f64 / o.fps);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut loan = tx.loan(info).map_err(|e| e.to_string())?;
        let n = loan.frame();
        let label = format!("#{n} t={:.3}s", status.start.elapsed().as_secs_f64());
        testpattern::render(n, w, h, &label, loan.pixels_mut());
        // The pattern is "captured" when it is complete, as a camera frame is
        // when the sensor read-out ends.
        loan.set_capture_ns(monotonic_ns());
        loan.commit().map_err(|e| e.to_string())?;
        sent += 1;
        status.update(&o.ring, sent, 0);
    }
    tx.close().map_err(|e| e.to_string())
}
