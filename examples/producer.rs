//! Publishes camera frames (feature `v4l`) or a moving test pattern into a
//! framering ring. Run `cargo run --release --example producer -- --help`.

#[path = "../src/bin/framering/args.rs"]
mod args;
#[cfg(all(feature = "v4l", target_os = "linux"))]
#[path = "common/camera.rs"]
mod camera;
#[cfg(all(feature = "v4l", target_os = "linux"))]
#[path = "../src/bin/framering/fourcc.rs"]
mod fourcc;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use framering::{Error, Producer, RingConfig, monotonic_ns, testpattern};

const USAGE: &str = "\
usage: producer [options]

  --ring NAME        ring to publish into (default: cam0; /DIR/NAME: a ring in DIR)
  --width W          frame width (default: 1280)
  --height H         frame height (default: 720)
  --fps F            frames per second; 0 = as fast as possible (default: 30)
  --slots N          ring slots (default: 4)
  --frames N         stop after N frames (default: run until Ctrl-C)
  --mode MODE        permission bits of the ring, e.g. 0640 (default: 0600)
  --test-pattern     send the moving test pattern even if a camera exists
  --device PATH      camera device (default: first capture device)      [feature v4l]
  --format F         camera format (default: auto: MJPG, else the first  [feature v4l]
                     raw one offered): auto, mjpg, yuyv, nv12, i420,
                     bgr24, rgb24 or gray8. MJPG is decoded to BGR24;
                     the raw ones are published as they are

Without a camera, or without the `v4l` feature, the producer sends a moving
test pattern with the frame number and time drawn on it.";

struct Options {
    ring: String,
    width: u32,
    height: u32,
    fps: f64,
    slots: u32,
    frames: u64,
    mode: u32,
    #[cfg_attr(not(all(feature = "v4l", target_os = "linux")), allow(dead_code))]
    test_pattern: bool,
    #[cfg(all(feature = "v4l", target_os = "linux"))]
    device: Option<std::path::PathBuf>,
    #[cfg(all(feature = "v4l", target_os = "linux"))]
    format: camera::Want,
}

fn options() -> Options {
    args::from_env_or_exit(USAGE, |a| {
        Ok(Options {
            ring: a.text("--ring")?.unwrap_or_else(|| "cam0".to_owned()),
            width: a.number("--width", 1280, 1..=framering::MAX_DIMENSION)?,
            height: a.number("--height", 720, 1..=framering::MAX_DIMENSION)?,
            // 0: as fast as possible; otherwise at least one frame an hour.
            fps: match a.number("--fps", 30.0, 0.0..=1000.0)? {
                fps if fps == 0.0 || fps >= 1.0 / 3600.0 => fps,
                fps => return Err(format!("--fps needs 0 (as fast as possible) or 1/3600..=1000, got {fps}")),
            },
            slots: a.number("--slots", 4, 2..=1024)?,
            frames: a.number("--frames", 0, 0..=u64::MAX)?,
            mode: a.parse("--mode", "octal permission bits, e.g. 640", args::octal)?.unwrap_or(0o600),
            test_pattern: a.flag("--test-pattern"),
            #[cfg(all(feature = "v4l", target_os = "linux"))]
            device: a.text("--device")?.map(Into::into),
            #[cfg(all(feature = "v4l", target_os = "linux"))]
            format: a.parse("--format", camera::FORMATS, camera::Want::parse)?.unwrap_or(camera::Want::Auto),
        })
    })
}

fn main() {
    let o = options();
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
