//! Shows the frames of a framering ring in a window (minifb), or reads them
//! headless. Run `cargo run --release --example consumer -- --help`.

#[path = "../src/bin/framering/values.rs"]
mod values;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use framering::testpattern::{self, Verdict};
use framering::{Consumer, Error, FrameMeta, convert, monotonic_ns};
use minifb::{Key, Window, WindowOptions};

/// Shows the frames of a framering ring in a window, or reads them headless.
#[derive(Parser, Debug)]
#[command(name = "consumer", after_help = AFTER_HELP)]
struct Options {
    /// The ring to read (/DIR/NAME: a ring in DIR)
    #[arg(long, value_name = "NAME", default_value = "cam0")]
    ring: String,
    /// No window: read, verify and convert frames only
    #[arg(long)]
    headless: bool,
    /// Exit after N frames (0: run until Esc, q or Ctrl-C; in the window, s
    /// shows or hides the status line)
    #[arg(long, value_name = "N", default_value_t = 0)]
    frames: u64,
    /// Pause MS milliseconds after each frame (to simulate a slow reader)
    #[arg(long = "slow-ms", value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    slow_ms: u64,
    /// Check test-pattern frames against the number in their band, not their
    /// ring's (a pattern that came through a camera or another program);
    /// frames without one count as unverified
    #[arg(long)]
    band: bool,
    #[command(flatten)]
    owner: values::OwnerArg,
}

const AFTER_HELP: &str = "\
On exit prints one line:
  summary frames=<n> torn=<n> dropped=<n> fps=<f> latency_p50_us=<f> latency_p99_us=<f> unverified=<n> verified=<n>
latency is capture (or publish) time to frame shown (headless: converted). Test-pattern
frames are checked against their number (a bridged frame's band carries its source's) and
count as verified or torn; other frames, and those that came through a lossy (JPEG)
bridge, cannot be checked and count as unverified: frames = verified + torn + unverified.";

/// Latencies kept for the percentiles: the most recent ones, bounded.
const LATENCY_SAMPLES: usize = 100_000;

/// Counters for the title and the summary line.
struct Stats {
    start: Option<Instant>,
    frames: u64,
    torn: u64,
    unverified: u64,
    verified: u64,
    latencies_us: Vec<f64>,
    window_start: Instant,
    window_frames: u64,
    window_latencies_us: Vec<f64>,
    fps_now: f64,
    latency_now_us: f64,
}

impl Stats {
    fn new() -> Self {
        Self {
            start: None,
            frames: 0,
            torn: 0,
            unverified: 0,
            verified: 0,
            latencies_us: Vec::new(),
            window_start: Instant::now(),
            window_frames: 0,
            window_latencies_us: Vec::new(),
            fps_now: 0.0,
            latency_now_us: 0.0,
        }
    }

    fn record(&mut self, meta: &FrameMeta) {
        self.start.get_or_insert_with(Instant::now);
        let born = meta.info.capture_ns.unwrap_or(meta.publish_ns);
        let us = monotonic_ns().saturating_sub(born) as f64 / 1000.0;
        if self.latencies_us.len() == LATENCY_SAMPLES {
            self.latencies_us[(self.frames as usize) % LATENCY_SAMPLES] = us;
        } else {
            self.latencies_us.push(us);
        }
        self.frames += 1;
        self.window_frames += 1;
        self.window_latencies_us.push(us);
        let since = self.window_start.elapsed();
        if since >= Duration::from_millis(500) {
            // The title shows the last half second: a few dozen samples,
            // not the whole history the summary sorts once at exit.
            self.fps_now = self.window_frames as f64 / since.as_secs_f64();
            self.window_latencies_us.sort_by(f64::total_cmp);
            self.latency_now_us = self.window_latencies_us[self.window_latencies_us.len() / 2];
            self.window_latencies_us.clear();
            (self.window_start, self.window_frames) = (Instant::now(), 0);
        }
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or(0.0)
    }

    fn summary(&self, dropped: u64) -> String {
        let secs = self.start.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let fps = if secs > 0.0 { self.frames.saturating_sub(1) as f64 / secs } else { 0.0 };
        format!(
            "summary frames={} torn={} dropped={} fps={:.1} latency_p50_us={:.1} latency_p99_us={:.1} unverified={} verified={}",
            self.frames,
            self.torn,
            dropped,
            fps,
            self.percentile(0.5),
            self.percentile(0.99),
            self.unverified,
            self.verified
        )
    }
}

fn main() {
    let o = Options::parse();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).expect("install signal handler");
    }
    match run(&o, &stop) {
        Ok(summary) => println!("{summary}"),
        Err(message) => {
            eprintln!("consumer: {message}");
            std::process::exit(1);
        }
    }
}

/// The window: opened at once (showing that it waits for frames),
/// re-created when the resolution changes, with the status drawn in the
/// picture's bottom line (`s` toggles it) as well as in the title.
struct Screen {
    window: Option<Window>,
    size: (usize, usize),
    /// The last picture shown, without the status line.
    picture: Vec<u32>,
    /// What the status line says.
    status: String,
    show_status: bool,
    /// The picture with the status drawn on it.
    composed: Vec<u32>,
}

/// Size of the window before the first frame.
const WAITING_SIZE: (usize, usize) = (640, 360);

impl Screen {
    fn new(headless: bool, ring: &str) -> Result<Self, String> {
        let mut screen = Self {
            window: None,
            size: (0, 0),
            picture: Vec::new(),
            status: String::new(),
            show_status: true,
            composed: Vec::new(),
        };
        if !headless {
            let (w, h) = WAITING_SIZE;
            screen.open(ring, w, h)?;
            screen.picture = vec![0x0020_2020; w * h];
            screen.set_status(&format!("{ring}: waiting for frames"));
            screen.redraw()?;
        }
        Ok(screen)
    }

    fn open(&mut self, ring: &str, w: usize, h: usize) -> Result<(), String> {
        let title = format!("framering: {ring}");
        let window = Window::new(&title, w, h, WindowOptions { resize: true, ..WindowOptions::default() })
            .map_err(|e| format!("cannot open a window ({e}); is there a display? Run with --headless"))?;
        (self.window, self.size) = (Some(window), (w, h));
        Ok(())
    }

    fn show(&mut self, ring: &str, pixels: &[u32], w: usize, h: usize) -> Result<(), String> {
        if self.window.is_none() || self.size != (w, h) {
            self.open(ring, w, h)?;
        }
        self.picture.clear();
        self.picture.extend_from_slice(pixels);
        self.redraw()
    }

    /// Shows the last picture, with the status line if it is on.
    fn redraw(&mut self) -> Result<(), String> {
        let Some(window) = &mut self.window else { return Ok(()) };
        if window.is_key_pressed(Key::S, minifb::KeyRepeat::No) {
            self.show_status = !self.show_status;
        }
        let (w, h) = self.size;
        let frame = if self.show_status {
            self.composed.clear();
            self.composed.extend_from_slice(&self.picture);
            testpattern::draw_status(&mut self.composed, w, &self.status, if w >= 960 { 2 } else { 1 });
            &self.composed
        } else {
            &self.picture
        };
        window.update_with_buffer(frame, w, h).map_err(|e| e.to_string())
    }

    /// The status, in the title and (when shown) in the picture.
    fn set_status(&mut self, status: &str) {
        status.clone_into(&mut self.status);
        if let Some(window) = &mut self.window {
            window.set_title(&format!("framering: {status}"));
        }
    }

    /// Keeps the window responsive while no frame comes (and shows a new
    /// status, or the toggled status line).
    fn idle(&mut self) -> Result<(), String> {
        self.redraw()
    }

    fn wants_to_quit(&self) -> bool {
        self.window.as_ref().is_some_and(|w| !w.is_open() || w.is_key_down(Key::Escape) || w.is_key_down(Key::Q))
    }
}

fn run(o: &Options, stop: &AtomicBool) -> Result<String, String> {
    let mut stats = Stats::new();
    // Waits for the ring to appear if no producer has created it yet.
    let mut rx = Consumer::new(&o.ring).map_err(|e| e.to_string())?;
    if let Some(uid) = o.owner.uid() {
        rx = rx.with_owner(uid).map_err(|e| e.to_string())?;
    }
    if !rx.has_ring() {
        eprintln!("consumer: waiting for a producer on ring '{}'…", o.ring);
    }
    let mut screen = Screen::new(o.headless, &o.ring)?;
    let mut pixels = Vec::new();
    let mut last_title = Instant::now();
    let mut last_line = Instant::now();
    // The producer left (reported once by the library): say so once, and
    // once more when frames come again.
    let mut away = false;
    while !stop.load(Ordering::Relaxed) && !screen.wants_to_quit() && (o.frames == 0 || stats.frames < o.frames) {
        // Checked and converted straight from the slot, with no copy of
        // the whole frame; kept only if the slot did not change meanwhile.
        let read = rx.wait_latest_with(Duration::from_millis(50), |frame| {
            let (band, verdict) = testpattern::identify_in(frame);
            (band, verdict, convert::frame_to_0rgb(frame, &mut pixels))
        });
        let (meta, (band, verdict, converted)) = match read {
            Ok(read) => read,
            Err(Error::Timeout) => {
                screen.idle()?;
                continue;
            }
            Err(e @ (Error::Closed | Error::ProducerDead)) => {
                away = true;
                eprintln!("consumer: producer stopped ({e}), waiting for it to come back…");
                screen.set_status(&format!("{}: producer stopped ({e}), waiting for it to come back", o.ring));
                screen.idle()?;
                continue;
            }
            // Something unusable at the name (reported once): a producer
            // replaces it.
            Err(e @ (Error::Layout(_) | Error::Occupied { .. })) if !rx.has_ring() => {
                eprintln!("consumer: ring '{}' is not usable yet ({e}), waiting…", o.ring);
                continue;
            }
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e.to_string()),
        };
        if std::mem::take(&mut away) {
            eprintln!("consumer: the producer is back (frame {})", meta.frame);
        }
        if stats.frames == 0 {
            eprintln!("consumer: reading ring '{}' ({} slots of {} bytes)", o.ring, rx.slots(), rx.max_frame_bytes());
        }
        // A bridged frame keeps its source's number in its band (its ring
        // numbers it anew); a lossy one cannot be compared pixel for pixel.
        // So does a pattern that came through a camera (`--band`). A frame
        // from this ring's own producer must carry the ring's number.
        let from_band = meta.bridged || o.band;
        match band {
            _ if meta.lossy => stats.unverified += 1,
            None => stats.unverified += 1,
            Some(n) if !from_band && n != meta.frame => stats.torn += 1,
            Some(_) if verdict == Verdict::Torn => stats.torn += 1,
            Some(_) => stats.verified += 1,
        }
        let (w, h) = (meta.info.width as usize, meta.info.height as usize);
        match converted {
            Ok(()) if !o.headless => screen.show(&o.ring, &pixels, w, h)?,
            Ok(()) => {}
            Err(e) => eprintln!("consumer: frame {}: {e}", meta.frame),
        }
        stats.record(&meta);
        if last_title.elapsed() >= Duration::from_millis(500) {
            last_title = Instant::now();
            let status = format!(
                "{} - {}x{} {} - {:.1} fps - {} dropped - latency p50 {:.2} ms",
                o.ring,
                w,
                h,
                meta.info.format,
                stats.fps_now,
                rx.dropped(),
                stats.latency_now_us / 1000.0
            );
            screen.set_status(&status);
            if o.headless {
                // The window title's news, for a consumer without a window:
                // one line updated in place on a terminal, a line a second
                // when piped.
                use std::io::{IsTerminal, Write};
                let mut err = std::io::stderr().lock();
                if err.is_terminal() {
                    let _ = write!(err, "\r\x1b[2Kconsumer: {status}");
                    let _ = err.flush();
                } else if last_line.elapsed() >= Duration::from_secs(1) {
                    last_line = Instant::now();
                    let _ = writeln!(err, "consumer: {status}");
                }
            }
        }
        if o.slow_ms > 0 {
            std::thread::sleep(Duration::from_millis(o.slow_ms));
        }
    }
    Ok(stats.summary(rx.dropped()))
}
