//! Ring → Redis → ring over loopback, at 1080p BGR24: latency from the
//! moment the source producer publishes to the moment a consumer of the
//! bridged ring has the frame copied out, and the frame rate sustained.
//! Raw and JPEG q80, against a `redis-server` this benchmark starts.
//!
//! Beside it, in the same run: JPEG encode and decode of one frame, a bare
//! `XADD` and an `XRANGE` of one raw frame through the same server, and a
//! memcpy.
//!
//! `cargo bench --features redis --bench bridge` (about a minute);
//! `… -- --quick` (a few seconds, as CI runs it). Source, both bridge sides
//! and the consumer run as threads of this process: on one host they share
//! the CPUs just as processes would.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use framering::bridge::{BridgeIn, BridgeOut, InConfig, OutConfig, default_stream};
use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig, monotonic_ns};
use hdrhistogram::Histogram;
use redis_server::RedisServer;

const W: u32 = 1920;
const H: u32 = 1080;
const STEP: Duration = Duration::from_millis(50);

struct Run {
    label: &'static str,
    quality: Option<u8>,
    /// Source frames per second (120: more than the bridge carries, so
    /// the output rate is its capacity).
    fps: u32,
}

struct Outcome {
    latency: Histogram<u64>,
    received: u64,
    published: u64,
    secs: f64,
    out_dropped: u64,
    /// Mean entry payload, MB.
    mb_per_frame: f64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick") || std::env::var_os("FRAMERING_BENCH_QUICK").is_some();
    let secs = if quick { 2.0 } else { 10.0 };
    let redis = RedisServer::start();
    let frames = camera_frames(8);
    println!("bridge benchmark: {W}x{H} BGR24, redis-server on loopback, {secs} s a run\n");
    let (encode, decode, jpeg_len) = jpeg_costs(&frames[0], if quick { 5 } else { 30 });
    let (xadd, xrange, memcpy) = raw_redis_cost(&redis, &frames[0], if quick { 5 } else { 30 });
    println!("    encoding   fps_target    p50_ms    p99_ms    max_ms   fps_out  published  dropped_out  MB/frame");
    let runs = [
        Run { label: "raw", quality: None, fps: 30 },
        Run { label: "jpeg-q80", quality: Some(80), fps: 30 },
        Run { label: "raw", quality: None, fps: 120 },
        Run { label: "jpeg-q80", quality: Some(80), fps: 120 },
    ];
    let mut lines = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let o = bridge_run(&redis, run, &frames, secs, i);
        let ms = |q: f64| o.latency.value_at_quantile(q) as f64 / 1e3;
        let fps_out = o.received as f64 / o.secs;
        let per_frame = o.mb_per_frame;
        let target = run.fps.to_string();
        println!(
            "{:>12} {:>12} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>10} {:>12} {:>9.2}",
            run.label,
            target,
            ms(0.5),
            ms(0.99),
            o.latency.max() as f64 / 1e3,
            fps_out,
            o.published,
            o.out_dropped,
            per_frame
        );
        lines.push(format!(
            "bridge encoding={} fps_target={target} p50_ms={:.2} p99_ms={:.2} fps={fps_out:.1} published={} received={} mb_per_frame={per_frame:.2}",
            run.label,
            ms(0.5),
            ms(0.99),
            o.published,
            o.received
        ));
    }
    println!();
    println!(
        "one frame: jpeg encode q80 {encode:.2} ms ({:.2} MB), decode {decode:.2} ms; raw XADD {xadd:.2} ms, XRANGE {xrange:.2} ms; memcpy {memcpy:.2} ms",
        jpeg_len as f64 / 1e6
    );
    for line in lines {
        println!("{line}");
    }
}

/// Camera-like frames, as the baseline recipe uses: noise blurred to a
/// grain of ~15 pixels (three box blurs of radius 3, rows then columns),
/// shifted 4 pixels right per frame. Pre-computed: the source only copies.
fn camera_frames(count: usize) -> Vec<Vec<u8>> {
    let (w, h) = (W as usize * 3, H as usize);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut base: Vec<u8> = (0..w * h)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    // Box blur of radius 3 along one line of samples.
    let blur = |line: &mut [u8]| {
        const R: usize = 3;
        let (src, n) = (line.to_vec(), line.len());
        for (i, out) in line.iter_mut().enumerate() {
            let (lo, hi) = (i.saturating_sub(R), (i + R).min(n - 1));
            let sum: u32 = src[lo..=hi].iter().map(|&v| u32::from(v)).sum();
            *out = (sum / (hi - lo + 1) as u32) as u8;
        }
    };
    for _ in 0..3 {
        for row in base.chunks_exact_mut(w) {
            for c in 0..3 {
                let mut line: Vec<u8> = row[c..].iter().step_by(3).copied().collect();
                blur(&mut line);
                row[c..].iter_mut().step_by(3).zip(line).for_each(|(d, s)| *d = s);
            }
        }
        for col in 0..w {
            let mut line: Vec<u8> = base[col..].iter().step_by(w).copied().collect();
            blur(&mut line);
            base[col..].iter_mut().step_by(w).zip(line).for_each(|(d, s)| *d = s);
        }
    }
    (0..count)
        .map(|n| {
            let shift = (n * 4 * 3) % w;
            base.chunks_exact(w).flat_map(|row| row[w - shift..].iter().chain(&row[..w - shift]).copied()).collect()
        })
        .collect()
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

/// Median encode and decode time of one frame with turbojpeg at q80.
fn jpeg_costs(frame: &[u8], n: usize) -> (f64, f64, usize) {
    let image = turbojpeg::Image {
        pixels: frame,
        width: W as usize,
        pitch: W as usize * 3,
        height: H as usize,
        format: turbojpeg::PixelFormat::BGR,
    };
    let mut c = turbojpeg::Compressor::new().unwrap();
    c.set_quality(80).unwrap();
    c.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap(); // as the bridge sends colour frames
    let mut d = turbojpeg::Decompressor::new().unwrap();
    let mut out = vec![0; frame.len()];
    let (mut enc, mut dec, mut len) = (Vec::new(), Vec::new(), 0);
    // Into a buffer kept across frames, as the bridge does.
    let mut jpeg = vec![0; c.buf_len(W as usize, H as usize).unwrap()];
    for _ in 0..n {
        let t = Instant::now();
        len = c.compress_to_slice(image, &mut jpeg).unwrap();
        enc.push(t.elapsed());
        let jpeg = &jpeg[..len];
        let t = Instant::now();
        let target = turbojpeg::Image {
            pixels: &mut out[..],
            width: W as usize,
            pitch: W as usize * 3,
            height: H as usize,
            format: turbojpeg::PixelFormat::BGR,
        };
        d.decompress(jpeg, target).unwrap();
        dec.push(t.elapsed());
    }
    (median_ms(enc), median_ms(dec), len)
}

/// Median times, for one raw frame and no bridge, of an `XADD` and of an
/// `XRANGE` reading it back (one connection, redis-rs as the bridge uses
/// it); and of a memcpy of it.
fn raw_redis_cost(redis: &RedisServer, frame: &[u8], n: usize) -> (f64, f64, f64) {
    let mut con = redis.client();
    let (mut adds, mut reads, mut copies) = (Vec::new(), Vec::new(), Vec::new());
    let mut copy = vec![0u8; frame.len()];
    for _ in 0..n {
        let t = Instant::now();
        let id: String = redis::cmd("XADD")
            .arg("bench:raw")
            .arg("MAXLEN")
            .arg(2)
            .arg("*")
            .arg("data")
            .arg(frame)
            .query(&mut con)
            .unwrap();
        adds.push(t.elapsed());
        let t = Instant::now();
        let _: redis::Value = redis::cmd("XRANGE").arg("bench:raw").arg(&id).arg(&id).query(&mut con).unwrap();
        reads.push(t.elapsed());
        let t = Instant::now();
        copy.copy_from_slice(std::hint::black_box(frame));
        std::hint::black_box(&copy);
        copies.push(t.elapsed());
    }
    (median_ms(adds), median_ms(reads), median_ms(copies))
}

/// One run: source ring → out → Redis → in → ring → consumer.
fn bridge_run(redis: &RedisServer, run: &Run, frames: &[Vec<u8>], secs: f64, i: usize) -> Outcome {
    let (ring_a, ring_b) =
        (format!("bench-bridge-a-{}-{i}", std::process::id()), format!("bench-bridge-b-{}-{i}", std::process::id()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tx = Producer::create(&ring_a, RingConfig::new(4, frames[0].len())).unwrap();
    let mut out_config = OutConfig::new(&redis.url());
    if let Some(q) = run.quality {
        out_config = out_config.with_jpeg_quality(q);
    }
    let mut out = BridgeOut::new(&ring_a, out_config).unwrap();
    let mut inn = BridgeIn::new(&ring_b, InConfig::new(&redis.url()).with_stream(&default_stream(&ring_a))).unwrap();
    let stop_out = Arc::clone(&stop);
    let out_thread = std::thread::spawn(move || {
        while !stop_out.load(Ordering::Relaxed) {
            out.step(STEP).unwrap();
        }
        out.stats()
    });
    let stop_in = Arc::clone(&stop);
    let in_thread = std::thread::spawn(move || {
        while !stop_in.load(Ordering::Relaxed) {
            inn.step(STEP).unwrap();
        }
        let stats = inn.stats();
        inn.close().unwrap();
        stats
    });
    let stop_src = Arc::clone(&stop);
    let frames = frames.to_vec();
    let period = Duration::from_secs(1) / run.fps;
    let source = std::thread::spawn(move || {
        let info = FrameInfo::new(W, H, PixelFormat::Bgr24);
        let (start, mut n) = (Instant::now(), 0u32);
        while !stop_src.load(Ordering::Relaxed) {
            // The time the frame is complete: what the consumer measures from.
            let mut loan = tx.loan(info).unwrap();
            loan.pixels_mut().copy_from_slice(&frames[n as usize % frames.len()]);
            loan.set_capture_ns(monotonic_ns());
            loan.commit().unwrap();
            n += 1;
            if let Some(wait) = (start + period * n).checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        u64::from(n)
    });

    // The consumer: this thread. Skips the first second (connections,
    // ring creation, first page faults).
    let mut rx = loop {
        match Consumer::open(&ring_b) {
            Ok(rx) => break rx,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let mut buf = FrameBuf::new();
    let mut latency = Histogram::<u64>::new(3).unwrap();
    let warm = Instant::now() + Duration::from_secs(1);
    let mut start = None;
    let mut received = 0;
    while start.is_none_or(|s: Instant| s.elapsed().as_secs_f64() < secs) {
        let Ok(meta) = rx.wait_latest(&mut buf, Duration::from_millis(100)) else { continue };
        let now = monotonic_ns();
        if Instant::now() < warm {
            continue;
        }
        start.get_or_insert_with(Instant::now);
        received += 1;
        latency.record(now.saturating_sub(meta.info.capture_ns.unwrap_or(meta.publish_ns)) / 1000).unwrap();
    }
    let secs = start.map_or(secs, |s| s.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    let published = source.join().unwrap();
    let out_stats = out_thread.join().unwrap();
    in_thread.join().unwrap();
    Outcome {
        latency,
        received,
        published,
        secs,
        out_dropped: out_stats.dropped,
        mb_per_frame: out_stats.bytes as f64 / out_stats.frames.max(1) as f64 / 1e6,
    }
}
