//! Cross-process latency: a producer process publishes timestamped frames at a
//! fixed rate; consumer processes record publish start → frame copied out
//! (`CLOCK_MONOTONIC`) in an HDR histogram. Beside it, in the same run: a
//! plain memcpy of the same size, a bare cross-process futex wake-up, and the
//! producer's publish cost with 0, 1 and 4 consumers attached.
//!
//! `cargo bench --bench latency` (about a minute and a half);
//! `cargo bench --bench latency -- --quick` (a few seconds, as CI runs it);
//! `cargo bench --features peer --bench latency -- --peer` (the iceoryx2
//! comparison alone, five rounds);
//! `cargo bench --bench latency -- --display` (the display path from the
//! commit alone, with its in-process baselines).
//! The processes are this binary re-run with `FRAMERING_BENCH_ROLE` set.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use framering::{Consumer, Error, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig, convert, monotonic_ns};
use hdrhistogram::Histogram;

// The private mount namespace with a huge-page tmpfs, shared with the tests.
#[path = "../tests/common/namespace.rs"]
mod namespace;
#[path = "../tests/common/skip.rs"]
mod skip;

/// Frames at the start of each run left out of the statistics (page faults,
/// first allocation of the consumer's buffer).
const WARMUP: usize = 3;
/// The first frames of a fresh ring to a fresh consumer, reported apart.
const FIRST: usize = 8;

#[derive(Clone, Copy)]
struct Plan {
    size: usize,
    frames: usize,
    period: Duration,
    /// The producer fills the slot with an ordinary copy into
    /// `pixels_mut()` instead of `Loan::write_from_slice` (streaming
    /// stores for large frames): the comparison row.
    plain_copy: bool,
}

/// 1280x720 BGR, which `--peer` runs too: a 4-slot ring of it fits in a
/// 32 MiB last-level cache, 1080p's does not.
const BGR_720P: usize = 1280 * 720 * 3;
/// 1920x1080 NV12, the display path's YUV case.
const NV12_1080P: usize = 1920 * 1080 * 3 / 2;

fn frame_info(size: usize) -> FrameInfo {
    match size {
        64 => FrameInfo::new(8, 8, PixelFormat::Gray8),
        NV12_1080P => FrameInfo::new(1920, 1080, PixelFormat::Nv12),
        BGR_720P => FrameInfo::new(1280, 720, PixelFormat::Bgr24),
        _ => FrameInfo::new(1920, 1080, PixelFormat::Bgr24),
    }
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} not set"))
}

fn env_num(key: &str) -> u64 {
    env(key).parse().unwrap()
}

fn main() {
    if let Ok(role) = std::env::var("FRAMERING_BENCH_ROLE") {
        match role.as_str() {
            "producer" => producer(),
            "consumer" => consumer(),
            "futex-waker" => futex_waker(),
            "futex-waiter" => futex_waiter(),
            "hog" => hog(),
            #[cfg(feature = "peer")]
            "ice-publisher" => peer::publisher(),
            #[cfg(feature = "peer")]
            "ice-subscriber" => peer::subscriber(),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick") || std::env::var_os("FRAMERING_BENCH_QUICK").is_some();
    if std::env::args().any(|a| a == "--peer") {
        // Only the peer comparison, 5 rounds, 720p too (`-- --peer`).
        let (small, large) = plans(quick);
        return print_peer(&peer_rounds(5, &[small, Plan { size: BGR_720P, ..large }, large]));
    }
    if std::env::args().any(|a| a == "--display") {
        // Only the display path from the commit (`-- --display`).
        let (_, large) = plans(quick);
        return print_from_commit(&from_commit_rows(large, if quick { 60 } else { 400 }));
    }
    run_matrix(quick);
}

// ---------------------------------------------------------------- children

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn wait_for_go() {
    std::io::stdin().read_line(&mut String::new()).unwrap();
}

fn sleep_until(due: Instant) {
    if let Some(d) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(d);
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// The publishing side of every run: says READY, waits for GO, then calls
/// `publish(i, t0)` for frames 0..FRAMES every PERIOD_NS (`t0`: the time
/// the publish started, to be stamped into the frame), reports the median
/// publish cost, and stays (keeping its ring open) until the parent has all
/// results.
fn publish_paced(mut publish: impl FnMut(u64, u64)) {
    let (frames, period) = (env_num("FRAMES"), env_num("PERIOD_NS"));
    say("READY");
    wait_for_go();
    let start = Instant::now();
    let mut costs = Vec::with_capacity(frames as usize);
    for i in 0..frames {
        sleep_until(start + Duration::from_nanos(i * period));
        let t0 = monotonic_ns();
        publish(i, t0);
        costs.push(monotonic_ns() - t0);
    }
    say(&format!("PUBLISH median_ns={}", median(costs.split_off(WARMUP.min(costs.len())))));
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

/// A spinning reader's wait between polls: a spin hint, and now and then a
/// yield to let a producer sharing this core run.
fn idle(polls: &mut u32) {
    *polls = polls.wrapping_add(1);
    if polls.is_multiple_of(128) {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// The reading side's report: the first FIRST latencies, then all but the
/// WARMUP first, in nanoseconds.
fn report(lat: &[u64]) {
    let first: Vec<String> = lat.iter().take(FIRST).map(u64::to_string).collect();
    say(&format!("FIRST {}", first.join(" ")));
    let values: Vec<String> = lat.iter().skip(WARMUP).map(u64::to_string).collect();
    say(&format!("LAT {}", values.join(" ")));
}

/// Publishes FRAMES frames of SIZE bytes every PERIOD_NS, each stamped with
/// the time its publish started; reports the median publish cost.
fn producer() {
    let size = env_num("SIZE") as usize;
    let info = frame_info(size);
    let slots = std::env::var("SLOTS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let mut tx = Producer::create(&env("RING"), RingConfig::new(slots, size)).unwrap();
    let src: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let plain = env("COPY") == "plain";
    publish_paced(|_, t0| {
        let mut loan = tx.loan(info).unwrap();
        if plain {
            loan.pixels_mut().copy_from_slice(&src);
        } else {
            loan.write_from_slice(&src).unwrap();
        }
        loan.pixels_mut()[..8].copy_from_slice(&t0.to_le_bytes());
        loan.commit().unwrap();
    });
}

/// Reads until frame LAST, spinning on `try_latest` or blocking in
/// `wait_latest`; reports every latency in nanoseconds. The display modes
/// block too and stop the clock when the frame is 0RGB pixels: converted
/// straight from the slot (`display`) or copied out first (`display-copy`).
/// `display-commit` is `display` timed from the frame's commit (its
/// `publish_ns`) instead of from the start of its publish: what a producer
/// that loans and fills the slot in place (a decoder, a resize) sees;
/// `display-convert` times the conversion alone, from the moment the woken
/// reader has the frame.
fn consumer() {
    let mode = env("MODE");
    if mode.starts_with("display") {
        return display(mode.as_str());
    }
    let (spin, last) = (mode == "spin", env_num("LAST"));
    let mut rx = Consumer::open(&env("RING")).unwrap();
    let mut buf = FrameBuf::new();
    let (mut lat, mut polls) = (Vec::new(), 0u32);
    say("READY");
    loop {
        let meta = if spin {
            match rx.try_latest(&mut buf).unwrap() {
                Some(meta) => meta,
                None => {
                    idle(&mut polls);
                    continue;
                }
            }
        } else {
            match rx.wait_latest(&mut buf, Duration::from_secs(10)) {
                Ok(meta) => meta,
                Err(Error::Timeout | Error::Closed | Error::ProducerDead) => break,
                Err(e) => panic!("{e}"),
            }
        };
        let now = monotonic_ns();
        let t0 = u64::from_le_bytes(buf[..8].try_into().unwrap());
        lat.push(now - t0);
        if meta.frame >= last {
            break;
        }
    }
    report(&lat);
}

fn display(mode: &str) {
    let from_slot = mode != "display-copy";
    let last = env_num("LAST");
    let mut rx = Consumer::open(&env("RING")).unwrap();
    let (mut buf, mut pixels, mut lat) = (FrameBuf::new(), Vec::new(), Vec::new());
    say("READY");
    let timeout = Duration::from_secs(10);
    loop {
        let read = if from_slot {
            rx.wait_latest_with(timeout, |frame| {
                let woken = monotonic_ns();
                let mut stamp = [0u8; 8];
                frame.copy_to(0, &mut stamp);
                convert::frame_to_0rgb(frame, &mut pixels).unwrap();
                (u64::from_le_bytes(stamp), woken)
            })
        } else {
            rx.wait_latest(&mut buf, timeout).map(|meta| {
                convert::to_0rgb(&meta.info, &buf, &mut pixels).unwrap();
                (meta, (u64::from_le_bytes(buf[..8].try_into().unwrap()), 0))
            })
        };
        let (meta, (t0, woken)) = match read {
            Ok(read) => read,
            Err(Error::Timeout | Error::Closed | Error::ProducerDead) => break,
            Err(e) => panic!("{e}"),
        };
        let start = match mode {
            "display-commit" => meta.publish_ns,
            "display-convert" => woken,
            _ => t0,
        };
        lat.push(monotonic_ns() - start);
        if meta.frame >= last {
            break;
        }
    }
    std::hint::black_box(&pixels);
    report(&lat);
}

/// A page of shared memory holding a futex word and a timestamp.
struct FutexPage {
    ptr: NonNull<u8>,
}

impl FutexPage {
    fn open(name: &str, create: bool) -> Self {
        use rustix::shm;
        let flags = if create { shm::OFlags::RDWR | shm::OFlags::CREATE } else { shm::OFlags::RDWR };
        let fd = shm::open(name, flags, rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR).unwrap();
        rustix::fs::ftruncate(&fd, 4096).unwrap();
        // SAFETY: a fresh shared mapping of a 4096-byte object at an address
        // the kernel picks; it is never unmapped (the process exits).
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                4096,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .unwrap();
        Self { ptr: NonNull::new(ptr.cast()).unwrap() }
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: page aligned, inside the mapping, only accessed atomically.
        unsafe { &*self.ptr.as_ptr().cast::<AtomicU32>() }
    }

    fn stamp(&self) -> &AtomicU64 {
        // SAFETY: offset 64 is 8-byte aligned and inside the mapping; only
        // accessed atomically.
        unsafe { &*self.ptr.as_ptr().add(64).cast::<AtomicU64>() }
    }
}

/// The bare reference for blocking mode: stamp, bump the word, FUTEX_WAKE.
fn futex_waker() {
    let page = FutexPage::open(&env("FUTEX"), false);
    let (frames, period) = (env_num("FRAMES"), env_num("PERIOD_NS"));
    say("READY");
    wait_for_go();
    let start = Instant::now();
    for i in 0..frames {
        sleep_until(start + Duration::from_nanos(i * period));
        // Release pairs with the waiter's Acquire load of the word.
        page.stamp().store(monotonic_ns(), Ordering::Relaxed);
        page.word().fetch_add(1, Ordering::Release);
        rustix::thread::futex::wake(page.word(), rustix::thread::futex::Flags::empty(), u32::MAX).unwrap();
    }
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

/// FUTEX_WAIT until the word changes, then take the stamp.
fn futex_waiter() {
    let page = FutexPage::open(&env("FUTEX"), false);
    let last = env_num("LAST") as u32;
    let mut lat = Vec::new();
    say("READY");
    let mut seen = page.word().load(Ordering::Acquire);
    while seen < last {
        let _ = rustix::thread::futex::wait(page.word(), rustix::thread::futex::Flags::empty(), seen, None);
        // Acquire pairs with the waker's Release increment.
        let now_word = page.word().load(Ordering::Acquire);
        if now_word != seen {
            let now = monotonic_ns();
            lat.push(now - page.stamp().load(Ordering::Relaxed));
            seen = now_word;
        }
    }
    let values: Vec<String> = lat.iter().skip(WARMUP).map(u64::to_string).collect();
    say(&format!("LAT {}", values.join(" ")));
}

/// A busy loop (the other work of a machine running a model) until stdin
/// closes.
fn hog() {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&done);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        // Relaxed: a stop flag.
        flag.store(true, Ordering::Relaxed);
    });
    say("READY");
    let mut x = 0u64;
    // Relaxed: a stop flag, polled.
    while !done.load(Ordering::Relaxed) {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

// ---------------------------------------------------------------- parent

struct Proc {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Proc {
    fn spawn(role: &str, vars: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env("FRAMERING_BENCH_ROLE", role).stdin(Stdio::piped()).stdout(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut p = Self { child, out };
        p.expect("READY");
        p
    }

    fn expect(&mut self, prefix: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.out.read_line(&mut line).unwrap() > 0, "child exited before {prefix}");
            if let Some(rest) = line.trim_end().strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    fn go(&mut self) {
        writeln!(self.child.stdin.as_mut().unwrap(), "GO").unwrap();
    }

    fn finish(mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

fn record(hist: &mut Histogram<u64>, line: &str) {
    for v in line.split_whitespace() {
        hist.record(v.parse::<u64>().unwrap().max(1)).unwrap();
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

/// Median time of one memcpy of `size` bytes between buffers rotated like
/// the ring's slots (cold-ish caches for large frames), in microseconds.
fn memcpy_us(size: usize, reps: usize) -> f64 {
    let slots = 8;
    let src: Vec<Vec<u8>> = (0..slots).map(|i| vec![i as u8; size]).collect();
    let mut dst: Vec<Vec<u8>> = (0..slots).map(|_| vec![0u8; size]).collect();
    let mut times = Vec::with_capacity(reps);
    for i in 0..reps {
        let t = Instant::now();
        dst[i % slots].copy_from_slice(std::hint::black_box(&src[(i + 3) % slots]));
        times.push(t.elapsed().as_nanos() as u64);
    }
    std::hint::black_box(&dst);
    median(times) as f64 / 1000.0
}

/// Median time of one conversion to 0RGB of a frame of `size` bytes (the
/// display plans' formats) in this process, from frames rotated through
/// more memory than the last-level cache holds (as a frame another process
/// just wrote is cold here), in microseconds. With a `gap`, each conversion
/// follows a sleep that long, as a reader woken once a frame converts after
/// idling: the output (and the rest of the cache) is then no longer as warm
/// as when conversions run back to back.
fn convert_cold_us(size: usize, reps: usize, gap: Duration) -> f64 {
    let info = frame_info(size);
    let frames: Vec<Vec<u8>> = (0..8).map(|i| (0..size).map(|b| (b * 7 + i) as u8).collect()).collect();
    let mut pixels = Vec::new();
    convert::to_0rgb(&info, &frames[0], &mut pixels).unwrap();
    let mut times = Vec::with_capacity(reps);
    for i in 0..reps {
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
        let t = Instant::now();
        convert::to_0rgb(&info, std::hint::black_box(&frames[(i + 1) % frames.len()]), &mut pixels).unwrap();
        times.push(t.elapsed().as_nanos() as u64);
    }
    std::hint::black_box(&pixels);
    median(times) as f64 / 1000.0
}

struct Row {
    size: usize,
    mode: &'static str,
    consumers: usize,
    hist: Histogram<u64>,
    publish_ns: u64,
    /// The slowest of the first FIRST frames (each reader's), in ns.
    first_max: u64,
}

impl Row {
    /// p50, p99, p99.9 and max latency in microseconds.
    fn quantiles_us(&self) -> [f64; 4] {
        let q = |p| us(self.hist.value_at_quantile(p));
        [q(0.5), q(0.99), q(0.999), us(self.hist.max())]
    }
}

fn run_ring(plan: Plan, mode: &'static str, consumers: usize) -> Row {
    run_ring_with(plan, mode, consumers, None, 4)
}

/// [`run_ring`] with the ring in directory `dir` (`FRAMERING_DIR`; `None`:
/// the default) and of `slots` slots.
fn run_ring_with(plan: Plan, mode: &'static str, consumers: usize, dir: Option<&std::path::Path>, slots: u32) -> Row {
    let ring = format!("bench-lat-{}-{}-{mode}-{consumers}-{slots}", std::process::id(), plan.size);
    let dir = dir.map_or(String::new(), |d| d.display().to_string());
    let vars = [
        ("SLOTS", slots.to_string()),
        ("FRAMERING_DIR", dir),
        ("RING", ring.clone()),
        ("SIZE", plan.size.to_string()),
        ("FRAMES", plan.frames.to_string()),
        ("PERIOD_NS", plan.period.as_nanos().to_string()),
        ("MODE", mode.to_owned()),
        ("LAST", plan.frames.to_string()),
        ("COPY", if plan.plain_copy { "plain" } else { "stream" }.to_owned()),
    ];
    let producer = Proc::spawn("producer", &vars);
    let readers: Vec<Proc> = (0..consumers).map(|_| Proc::spawn("consumer", &vars)).collect();
    gather(plan.size, mode, producer, readers)
}

/// Starts a run whose processes all said READY and collects its row: every
/// reader's FIRST and LAT, the producer's PUBLISH.
fn gather(size: usize, mode: &'static str, mut producer: Proc, mut readers: Vec<Proc>) -> Row {
    producer.go();
    let (mut hist, mut first_max) = (histogram(), 0);
    for r in &mut readers {
        let first = r.expect("FIRST");
        first_max = first.split_whitespace().filter_map(|v| v.parse().ok()).fold(first_max, u64::max);
        record(&mut hist, &r.expect("LAT"));
    }
    let publish_ns = producer.expect("PUBLISH median_ns=").parse().unwrap();
    let consumers = readers.len();
    readers.into_iter().for_each(Proc::finish);
    producer.finish();
    Row { size, mode, consumers, hist, publish_ns, first_max }
}

fn run_futex(plan: Plan) -> Histogram<u64> {
    let name = format!("/framering-bench-futex-{}", std::process::id());
    let _page = FutexPage::open(&name, true);
    let vars = [
        ("FUTEX", name.clone()),
        ("FRAMES", plan.frames.to_string()),
        ("PERIOD_NS", plan.period.as_nanos().to_string()),
        ("LAST", plan.frames.to_string()),
    ];
    let mut waker = Proc::spawn("futex-waker", &vars);
    let mut waiter = Proc::spawn("futex-waiter", &vars);
    waker.go();
    let mut hist = histogram();
    record(&mut hist, &waiter.expect("LAT"));
    waiter.finish();
    waker.finish();
    let _ = rustix::shm::unlink(&name);
    hist
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The 64-byte and the 1080p BGR run of the matrix.
fn plans(quick: bool) -> (Plan, Plan) {
    let small = Plan {
        size: 64,
        frames: if quick { 300 } else { 5000 },
        period: Duration::from_micros(if quick { 500 } else { 1000 }),
        plain_copy: false,
    };
    let large = Plan {
        size: 1920 * 1080 * 3,
        frames: if quick { 40 } else { 600 },
        period: Duration::from_millis(if quick { 20 } else { 16 }),
        plain_copy: false,
    };
    (small, large)
}

/// The display path timed from the commit, for one format.
struct FromCommit {
    label: &'static str,
    /// Commit -> 0RGB pixels in another process.
    commit: Row,
    /// The same reader's conversion alone (from its wake-up).
    convert: Row,
    /// The same conversion in this process from a cold frame, back to
    /// back, in us.
    local: f64,
    /// The same, one every frame period, in us.
    local_paced: f64,
}

/// Commit -> 0RGB in another process (and the conversion part of it),
/// against the same conversion in this process from a cold frame, for
/// 1920x1080 BGR24 and NV12.
fn from_commit_rows(large: Plan, reps: usize) -> Vec<FromCommit> {
    [("BGR24", large.size), ("NV12", NV12_1080P)]
        .into_iter()
        .map(|(label, size)| {
            let plan = Plan { size, ..large };
            let commit = run_ring(plan, "display-commit", 1);
            let convert = run_ring(plan, "display-convert", 1);
            let local = convert_cold_us(size, reps, Duration::ZERO);
            FromCommit { label, commit, convert, local, local_paced: convert_cold_us(size, reps, plan.period) }
        })
        .collect()
}

fn print_from_commit(rows: &[FromCommit]) {
    println!(
        "display path from the commit, 1920x1080: commit -> 0RGB pixels in another process (converted from the slot, one blocking reader; of which the conversion alone, from the reader's wake-up) vs the same conversion in this process from a cold frame, back to back and one a frame period:"
    );
    for f in rows {
        let ([p50, p99, ..], [c50, c99, ..]) = (f.commit.quantiles_us(), f.convert.quantiles_us());
        println!(
            "  {:>5}: from the commit p50 {p50:.1} us p99 {p99:.1} us (converting p50 {c50:.1} us p99 {c99:.1} us) | in process {:.1} us back to back, {:.1} us paced | ratio p50 {:.2} / {:.2} (converting {:.2} / {:.2})",
            f.label,
            f.local,
            f.local_paced,
            p50 / f.local,
            p50 / f.local_paced,
            c50 / f.local,
            c50 / f.local_paced
        );
    }
}

fn run_matrix(quick: bool) {
    let (small, large) = plans(quick);
    let reps = if quick { 60 } else { 400 };
    println!(
        "framering latency: publish start -> frame copied out, across processes ({} mode)",
        if quick { "quick" } else { "full" }
    );
    println!(
        "machine: {} cores; 64 B every {:?}, 1920x1080 BGR every {:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        small.period,
        large.period
    );
    println!();

    let futex = run_futex(small);
    // The same blocking reader and futex reference with a busy loop on every
    // core, as on a machine running a face-processing model.
    let loaded = {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hogs: Vec<Proc> = (0..cores).map(|_| Proc::spawn("hog", &[])).collect();
        let futex = run_futex(small);
        let ring = run_ring(small, "block", 1);
        hogs.into_iter().for_each(Proc::finish);
        (futex, ring)
    };
    let idle_block = run_ring(small, "block", 1);
    let mut rows = Vec::new();
    let mut publish_alone = Vec::new();
    for plan in [small, large] {
        let memcpy = memcpy_us(plan.size, reps);
        publish_alone.push((plan.size, run_ring(plan, "block", 0).publish_ns, memcpy));
        for mode in ["spin", "block"] {
            for consumers in [1, 4] {
                rows.push((run_ring(plan, mode, consumers), memcpy));
            }
        }
    }

    let peer = peer_rounds(if quick { 1 } else { 3 }, &[small, large]);

    // The display path: publish start -> 0RGB pixels in another process.
    let display_plan = |size| Plan { size, ..large };
    let display: Vec<(&str, Row, Row, f64)> = [("BGR24", large.size), ("NV12", NV12_1080P)]
        .into_iter()
        .map(|(label, size)| {
            let plan = display_plan(size);
            let memcpy = memcpy_us(size, reps);
            (label, run_ring(plan, "display", 1), run_ring(plan, "display-copy", 1), memcpy)
        })
        .collect();
    let from_commit = from_commit_rows(large, reps);

    println!(
        "{:>9} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8}",
        "size", "mode", "consumers", "p50_us", "p99_us", "p999_us", "max_us", "memcpy_us", "p50/cpy"
    );
    for (r, memcpy) in &rows {
        let [p50, p99, p999, max] = r.quantiles_us();
        println!(
            "{:>9} {:>5} {:>9} {p50:>9.2} {p99:>9.2} {p999:>9.2} {max:>9.2} {memcpy:>10.2} {:>8.2}",
            r.size,
            r.mode,
            r.consumers,
            p50 / memcpy
        );
    }
    let fq = |p| us(futex.value_at_quantile(p));
    println!();
    println!(
        "bare futex wake-up across processes (the floor for block mode): p50 {:.2} us, p99 {:.2} us",
        fq(0.5),
        fq(0.99)
    );
    println!();
    println!("blocking reader vs bare futex waiter, 64 B at the same cadence, one reader (ratios p50 / p99):");
    for (label, reader, reference) in
        [("idle", &idle_block.hist, &futex), ("a busy loop on every core", &loaded.1.hist, &loaded.0)]
    {
        let q = |h: &Histogram<u64>, p| us(h.value_at_quantile(p));
        println!(
            "  {label}: framering p50 {:.2} us p99 {:.2} us | futex p50 {:.2} us p99 {:.2} us | ratio {:.2} / {:.2}",
            q(reader, 0.5),
            q(reader, 0.99),
            q(reference, 0.5),
            q(reference, 0.99),
            q(reader, 0.5) / q(reference, 0.5),
            q(reader, 0.99) / q(reference, 0.99)
        );
    }
    println!();
    println!("first {FIRST} frames of a fresh ring to a fresh consumer (pages faulted in at create and open):");
    for r in rows.iter().map(|(r, _)| r).filter(|r| r.consumers == 1) {
        let p99 = us(r.hist.value_at_quantile(0.99));
        println!(
            "  {:>9} B {:>5}: max {:.2} us | steady p99 {p99:.2} us | ratio {:.2}",
            r.size,
            r.mode,
            us(r.first_max),
            us(r.first_max) / p99
        );
    }
    println!();
    println!("display path, 1920x1080: publish start -> 0RGB pixels ready in another process (one blocking reader):");
    for (label, slot, copy, memcpy) in &display {
        let [s50, s99, ..] = slot.quantiles_us();
        let [c50, c99, ..] = copy.quantiles_us();
        println!(
            "  {label:>5}: converted from the slot p50 {s50:.1} us p99 {s99:.1} us | copied out, then converted p50 {c50:.1} us p99 {c99:.1} us | one memcpy of the frame {memcpy:.1} us | p50/memcpy {:.2} (copied out first {:.2})",
            s50 / memcpy,
            c50 / memcpy
        );
    }
    println!();
    print_from_commit(&from_commit);
    println!();
    print_peer(&peer);
    println!();
    println!("producer publish cost (loan + copy in + publish), median:");
    for (size, alone, memcpy) in &publish_alone {
        let with = |mode: &str, n| {
            rows.iter()
                .find(|(r, _)| r.size == *size && r.mode == mode && r.consumers == n)
                .map_or(0, |(r, _)| r.publish_ns)
        };
        println!(
            "  {size:>9} B: 0 consumers {:.2} us | spinning readers: 1 {:.2} us, 4 {:.2} us | sleeping readers: 1 {:.2} us, 4 {:.2} us | memcpy {memcpy:.2} us",
            us(*alone),
            us(with("spin", 1)),
            us(with("spin", 4)),
            us(with("block", 1)),
            us(with("block", 4))
        );
    }
    println!();
    for (r, memcpy) in &rows {
        let [p50, p99, p999, max] = r.quantiles_us();
        println!(
            "latency size={} mode={} consumers={} p50_us={p50:.2} p99_us={p99:.2} p999_us={p999:.2} max_us={max:.2} memcpy_us={memcpy:.2}",
            r.size, r.mode, r.consumers
        );
    }
    println!("futex p50_us={:.2} p99_us={:.2}", fq(0.5), fq(0.99));
    for (label, slot, copy, memcpy) in &display {
        for (how, r) in [("slot", slot), ("copy", copy)] {
            let [p50, p99, ..] = r.quantiles_us();
            println!("display format={label} from={how} p50_us={p50:.2} p99_us={p99:.2} memcpy_us={memcpy:.2}");
        }
    }
    for (size, alone, memcpy) in &publish_alone {
        println!("publish size={size} consumers=0 median_us={:.2} memcpy_us={memcpy:.2}", us(*alone));
    }
    for f in &from_commit {
        let ([p50, p99, ..], [c50, ..]) = (f.commit.quantiles_us(), f.convert.quantiles_us());
        println!(
            "display_from_commit format={} p50_us={p50:.2} p99_us={p99:.2} convert_p50_us={c50:.2} in_process_us={:.2} in_process_paced_us={:.2}",
            f.label, f.local, f.local_paced
        );
    }
    for p in &peer {
        let (r, i) = (p.ring.quantiles_us(), p.ice.quantiles_us());
        println!(
            "peer size={} framering_p50_us={:.2} iceoryx2_p50_us={:.2} framering_p99_us={:.2} iceoryx2_p99_us={:.2}",
            p.size, r[0], i[0], r[1], i[1]
        );
    }
    // Last: it moves this process into a private mount namespace.
    let ice_1080p: Vec<f64> = peer.iter().filter(|p| p.size == large.size).map(|p| p.ice.quantiles_us()[0]).collect();
    huge_pages(large, reps, &ice_1080p);
}

/// One round of the peer comparison at one size: framering filling its
/// slots with `Loan::write_from_slice` and with an ordinary copy, and
/// iceoryx2, each with one spinning reader.
struct PeerRound {
    size: usize,
    ring: Row,
    plain: Row,
    ice: Row,
    /// One memcpy of the frame into a cold buffer, µs (the publish target).
    memcpy: f64,
}

/// `rounds` rounds of the peer comparison at each plan's size, the three
/// contenders alternating; empty without the `peer` feature.
#[cfg(feature = "peer")]
fn peer_rounds(rounds: usize, plans: &[Plan]) -> Vec<PeerRound> {
    let mut out = Vec::new();
    for _ in 0..rounds {
        for &plan in plans {
            let ring = run_ring(plan, "spin", 1);
            let plain = run_ring(Plan { plain_copy: true, ..plan }, "spin", 1);
            let memcpy = memcpy_us(plan.size, 100);
            out.push(PeerRound { size: plan.size, ring, plain, ice: peer::run(plan), memcpy });
        }
    }
    out
}

#[cfg(not(feature = "peer"))]
fn peer_rounds(_rounds: usize, _plans: &[Plan]) -> Vec<PeerRound> {
    Vec::new()
}

fn print_peer(peer: &[PeerRound]) {
    if peer.is_empty() {
        println!("peer comparison: build with --features peer to run iceoryx2 beside it");
        return;
    }
    println!(
        "framering vs iceoryx2 0.10 publish-subscribe, one spinning reader, loan + copy in (framering: write_from_slice; \
         plain: an ordinary copy into pixels_mut), copy out; rounds alternate:"
    );
    for p in peer {
        let (r, c, i) = (p.ring.quantiles_us(), p.plain.quantiles_us(), p.ice.quantiles_us());
        println!(
            "  {:>9} B: framering p50 {:.2} us p99 {:.2} us | plain copy p50 {:.2} us | iceoryx2 p50 {:.2} us p99 {:.2} us | ratio p50 {:.2} (plain {:.2}) p99 {:.2} | publish {:.2} us (plain {:.2}) vs {:.2} us | memcpy into a cold buffer {:.2} us",
            p.size,
            r[0],
            r[1],
            c[0],
            i[0],
            i[1],
            r[0] / i[0],
            c[0] / i[0],
            r[1] / i[1],
            us(p.ring.publish_ns),
            us(p.plain.publish_ns),
            us(p.ice.publish_ns),
            p.memcpy
        );
    }
}

/// 1080p through a ring on 4 KiB pages and on 2 MiB pages, side by side in
/// one run: in a private mount namespace (root), its own /dev/shm and a
/// tmpfs mounted `huge=always` (left out, saying why, where that cannot be).
/// `ice_p50` are iceoryx2's 1080p p50s from this run, for the ratio.
fn huge_pages(plan: Plan, reps: usize, ice_p50: &[f64]) {
    println!();
    let Some(huge) = namespace::private_huge_dir() else {
        println!("huge pages: not measured (needs root and transparent huge pages)");
        return;
    };
    let memcpy = memcpy_us(plan.size, reps);
    println!("1920x1080 BGR, 4 KiB pages (a private /dev/shm) vs 2 MiB pages (tmpfs huge=always), one reader:");
    for mode in ["spin", "block"] {
        let small = run_ring(plan, mode, 1);
        let large = run_ring_with(plan, mode, 1, Some(&huge), 4);
        let (s, l) = (small.quantiles_us(), large.quantiles_us());
        println!(
            "  {mode:>5}: 4 KiB p50 {:.1} us p99 {:.1} us | huge p50 {:.1} us p99 {:.1} us | huge/4 KiB p50 {:.2} | memcpy {memcpy:.1} us | publish 4 KiB {:.1} us, huge {:.1} us | slowest of the first {FIRST} frames 4 KiB {:.1} us, huge {:.1} us",
            s[0],
            s[1],
            l[0],
            l[1],
            l[0] / s[0],
            us(small.publish_ns),
            us(large.publish_ns),
            us(small.first_max),
            us(large.first_max)
        );
        if mode == "spin" && !ice_p50.is_empty() {
            let ice = ice_p50.iter().sum::<f64>() / ice_p50.len() as f64;
            println!(
                "         vs iceoryx2 (4 KiB pages, earlier in this run, mean p50 {ice:.1} us): 4 KiB {:.2}, huge {:.2}",
                s[0] / ice,
                l[0] / ice
            );
        }
        for (pages, r) in [("4k", &small), ("huge", &large)] {
            let [p50, p99, ..] = r.quantiles_us();
            println!(
                "pages={pages} size={} mode={mode} p50_us={p50:.2} p99_us={p99:.2} memcpy_us={memcpy:.2}",
                plan.size
            );
        }
    }
}

/// The peer: iceoryx2 publish-subscribe doing the same work as the ring's
/// spinning reader (loan, memcpy in and send; receive the newest sample and
/// copy it out), at the same sizes and rates (`--features peer`).
#[cfg(feature = "peer")]
mod peer {
    use iceoryx2::prelude::*;

    use super::*;

    fn service(
        node: &Node<ipc::Service>,
    ) -> iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, [u8], ()> {
        let name = ServiceName::new(&env("SERVICE")).unwrap();
        node.service_builder(&name)
            .publish_subscribe::<[u8]>()
            .max_subscribers(4)
            .subscriber_max_buffer_size(2)
            .history_size(0)
            .enable_safe_overflow(true)
            .open_or_create()
            .unwrap()
    }

    pub(super) fn publisher() {
        let size = env_num("SIZE") as usize;
        let node = NodeBuilder::new().create::<ipc::Service>().unwrap();
        let service = service(&node);
        let publisher = service.publisher_builder().initial_max_slice_len(size).create().unwrap();
        let src: Vec<u8> = (0..size).map(|i| i as u8).collect();
        publish_paced(|i, t0| {
            let mut sample = publisher.loan_slice_uninit(size).unwrap().write_from_slice(&src);
            let payload = sample.payload_mut();
            payload[..8].copy_from_slice(&t0.to_le_bytes());
            payload[8..16].copy_from_slice(&(i + 1).to_le_bytes());
            sample.send().unwrap();
        });
    }

    pub(super) fn subscriber() {
        let (size, last) = (env_num("SIZE") as usize, env_num("LAST"));
        let node = NodeBuilder::new().create::<ipc::Service>().unwrap();
        let service = service(&node);
        let subscriber = service.subscriber_builder().create().unwrap();
        let (mut buf, mut lat, mut polls) = (vec![0u8; size], Vec::new(), 0u32);
        say("READY");
        loop {
            // The newest of what arrived, as the ring's `try_latest`.
            let mut newest = None;
            while let Some(sample) = subscriber.receive().unwrap() {
                newest = Some(sample);
            }
            let Some(sample) = newest else {
                idle(&mut polls);
                continue;
            };
            buf.copy_from_slice(sample.payload());
            drop(sample);
            let now = monotonic_ns();
            lat.push(now - u64::from_le_bytes(buf[..8].try_into().unwrap()));
            if u64::from_le_bytes(buf[8..16].try_into().unwrap()) >= last {
                break;
            }
        }
        report(&lat);
    }

    /// One publisher and one spinning subscriber process.
    pub(super) fn run(plan: Plan) -> Row {
        let vars = [
            ("SERVICE", format!("framering-bench/{}/{}", std::process::id(), plan.size)),
            ("SIZE", plan.size.to_string()),
            ("FRAMES", plan.frames.to_string()),
            ("PERIOD_NS", plan.period.as_nanos().to_string()),
            ("LAST", plan.frames.to_string()),
        ];
        let publisher = Proc::spawn("ice-publisher", &vars);
        let subscriber = Proc::spawn("ice-subscriber", &vars);
        gather(plan.size, "spin", publisher, vec![subscriber])
    }
}
