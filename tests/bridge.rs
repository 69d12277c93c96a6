//! The Redis bridge against a real `redis-server` (spawned per test on a
//! free loopback port): ring → out → Redis → in → ring.
#![cfg(target_os = "linux")]
#![cfg(feature = "redis")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::redis_server::RedisServer;
use common::{example, finish, interrupt, shm_file, summary, unique_name};
use framering::bridge::{
    Bridge, BridgeError, BridgeIn, BridgeOut, BridgeStats, COMPAT_FRAME_KEY, COMPAT_UPDATE_CHANNEL, Encoding,
    EntryInfo, InConfig, OutConfig, default_stream,
};
use framering::{Consumer, FrameBuf, FrameInfo, FrameMeta, PixelFormat, Producer, RingConfig, convert};

const STEP: Duration = Duration::from_millis(50);
const PATIENCE: Duration = Duration::from_secs(15);

/// A bridge side running in its own thread, its stats visible meanwhile.
struct Running<B> {
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<BridgeStats>>,
    handle: JoinHandle<B>,
}

fn spawn<B: Bridge + Send + 'static>(mut side: B) -> Running<B> {
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new(side.stats()));
    let (stop2, stats2) = (Arc::clone(&stop), Arc::clone(&stats));
    let handle = std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            side.step(STEP).expect("a bridge step failed for good");
            *stats2.lock().unwrap() = side.stats();
        }
        side
    });
    Running { stop, stats, handle }
}

impl<B> Running<B> {
    fn stats(&self) -> BridgeStats {
        self.stats.lock().unwrap().clone()
    }

    /// Waits until the stats satisfy `cond`.
    fn wait_for(&self, what: &str, cond: impl Fn(&BridgeStats) -> bool) -> BridgeStats {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.stats();
            if cond(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {s:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(self) -> B {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// Opens ring `name` once the in-bridge has created it.
fn open_when_ready(name: &str) -> Consumer {
    let mut rx = Consumer::new(name).unwrap();
    rx.wait_for_ring(PATIENCE).unwrap_or_else(|e| panic!("ring {name} never appeared: {e}"));
    rx
}

/// The next frame the consumer gets (following a re-created ring).
fn receive(rx: &mut Consumer, buf: &mut FrameBuf) -> FrameMeta {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match rx.wait_latest(buf, Duration::from_millis(100)) {
            Ok(meta) => return meta,
            Err(e) if e.is_transient() => {}
            Err(e) => panic!("reading the bridged ring: {e}"),
        }
        assert!(Instant::now() < deadline, "no frame arrived through the bridge");
    }
}

/// Publishes small warm-up frames until one comes through: the in-bridge
/// reads only entries added after its first `XREAD`. Returns the consumer.
fn warm_up(tx: &mut Producer, ring_b: &str) -> Consumer {
    let info = FrameInfo::new(8, 8, PixelFormat::Gray8);
    let deadline = Instant::now() + PATIENCE;
    loop {
        tx.publish(info, &[7; 64]).unwrap();
        if let Ok(mut rx) = Consumer::open(ring_b)
            && rx.wait_latest(&mut FrameBuf::new(), Duration::from_millis(200)).is_ok()
        {
            return rx;
        }
        assert!(Instant::now() < deadline, "no warm-up frame came through");
    }
}

/// Reads until a frame of `info`'s shape arrives (skipping warm-up frames).
fn receive_shaped(rx: &mut Consumer, buf: &mut FrameBuf, info: &FrameInfo) -> FrameMeta {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let meta = receive(rx, buf);
        if (meta.info.width, meta.info.height, meta.info.format) == (info.width, info.height, info.format) {
            return meta;
        }
        assert!(Instant::now() < deadline, "no {info:?} frame arrived");
    }
}

/// Deterministic bytes that look like nothing in particular.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn smooth(info: &FrameInfo) -> Vec<u8> {
    framering::testpattern::smooth(info).expect("a raw format")
}

/// Mean and worst channel difference of two frames after conversion.
fn difference(info: &FrameInfo, a: &[u8], b: &[u8]) -> (f64, u32) {
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    convert::to_0rgb(info, a, &mut pa).unwrap();
    convert::to_0rgb(info, b, &mut pb).unwrap();
    let d: Vec<u32> = pa
        .iter()
        .zip(&pb)
        .flat_map(|(x, y)| (0..3).map(move |c| ((x >> (8 * c)) & 255).abs_diff((y >> (8 * c)) & 255)))
        .collect();
    (d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64, d.iter().copied().max().unwrap_or(0))
}

/// A real JPEG image, as a camera's MJPEG frame.
fn mjpeg(w: usize, h: usize) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
    let image = turbojpeg::Image {
        pixels: &pixels[..],
        width: w,
        pitch: w * 3,
        height: h,
        format: turbojpeg::PixelFormat::BGR,
    };
    turbojpeg::compress(image, 85, turbojpeg::Subsamp::Sub2x2).unwrap().to_vec()
}

/// Every raw format, at an odd size unpadded and with padded rows.
fn raw_shapes() -> Vec<FrameInfo> {
    let mut shapes = Vec::new();
    for format in PixelFormat::ALL.into_iter().filter(|f| !f.is_compressed()) {
        let plain = FrameInfo::new(33, 17, format);
        shapes.push(plain);
        shapes.push(
            FrameInfo::new(34, 18, format).with_stride(FrameInfo::new(34, 18, format).effective_stride().unwrap() + 6),
        );
    }
    shapes
}

struct Setup {
    redis: RedisServer,
    ring_a: String,
    ring_b: String,
    tx: Producer,
}

fn setup(tag: &str) -> Setup {
    let redis = RedisServer::start();
    let (ring_a, ring_b) = (unique_name(&format!("{tag}-a")), unique_name(&format!("{tag}-b")));
    let tx = Producer::create(&ring_a, RingConfig::new(4, 1 << 20)).unwrap();
    Setup { redis, ring_a, ring_b, tx }
}

impl Setup {
    fn start_in(&self) -> Running<BridgeIn> {
        let config = InConfig::new(&self.redis.url()).with_stream(&default_stream(&self.ring_a));
        spawn(BridgeIn::new(&self.ring_b, config).unwrap())
    }
}

#[test]
fn raw_frames_cross_redis_byte_for_byte_with_their_metadata() {
    let mut s = setup("raw");
    let out = spawn(BridgeOut::new(&s.ring_a, OutConfig::new(&s.redis.url())).unwrap());
    let inn = s.start_in();
    let mut rx = warm_up(&mut s.tx, &s.ring_b);
    let mut buf = FrameBuf::new();
    let mut cases: Vec<(FrameInfo, Vec<u8>)> = raw_shapes()
        .into_iter()
        .enumerate()
        .map(|(i, info)| (info, noise(info.payload_len().unwrap().unwrap(), i as u64)))
        .collect();
    cases.push((FrameInfo::new(48, 32, PixelFormat::Mjpeg), mjpeg(48, 32)));
    let mut last_source = 0;
    for (info, payload) in &cases {
        let captured = framering::monotonic_ns() - 3_000_000;
        last_source = s.tx.publish(info.with_capture_ns(captured), payload).unwrap();
        let meta = receive_shaped(&mut rx, &mut buf, info);
        assert_eq!(buf.as_slice(), &payload[..], "{info:?}: bytes differ");
        assert_eq!(meta.info.stride, info.effective_stride().unwrap(), "{info:?}");
        assert!(meta.bridged && !meta.lossy, "{info:?}: flags {meta:?}");
        // Capture time is carried as an age and re-based on this host's
        // clock: on one host it comes back as the same instant (the bound
        // only absorbs scheduling between the clock reads).
        let back = meta.info.capture_ns.expect("capture time carried");
        assert!(back.abs_diff(captured) < 1_000_000_000, "capture {captured} came back as {back}");
    }
    let (out, inn) = (out.finish(), inn.finish());
    assert_eq!(inn.last_entry().map(|e| (e.frame, e.encoding)), Some((last_source, Encoding::Raw)));
    assert_eq!((out.stats().rejected, inn.stats().rejected), (0, 0), "{:?} {:?}", out.stats(), inn.stats());
    assert!(out.stats().frames >= cases.len() as u64);
}

#[test]
fn jpeg_frames_arrive_in_their_own_format_within_tolerance() {
    let mut s = setup("jpeg");
    let out = spawn(BridgeOut::new(&s.ring_a, OutConfig::new(&s.redis.url()).with_jpeg_quality(90)).unwrap());
    let inn = s.start_in();
    let mut rx = warm_up(&mut s.tx, &s.ring_b);
    let mut buf = FrameBuf::new();
    for info in raw_shapes() {
        let payload = smooth(&info);
        s.tx.publish(info, &payload).unwrap();
        let meta = receive_shaped(&mut rx, &mut buf, &info);
        assert_eq!(meta.info.stride, info.effective_stride().unwrap());
        assert!(meta.bridged && meta.lossy, "{info:?}: flags {meta:?}");
        let (mean, worst) = difference(&info, &payload, buf.as_slice());
        assert!(mean < 4.0 && worst < 48, "{info:?}: mean {mean:.2}, worst {worst}");
    }
    // MJPEG is never re-encoded: the very bytes arrive, not marked lossy.
    let jpeg = mjpeg(40, 24);
    let info = FrameInfo::new(40, 24, PixelFormat::Mjpeg);
    s.tx.publish(info, &jpeg).unwrap();
    let meta = receive_shaped(&mut rx, &mut buf, &info);
    assert_eq!(buf.as_slice(), &jpeg[..]);
    assert!(meta.bridged && !meta.lossy);
    let (out, inn) = (out.finish(), inn.finish());
    assert_eq!((out.stats().rejected, inn.stats().rejected), (0, 0));
}

#[test]
fn the_stream_never_holds_more_than_maxlen_frames() {
    let mut s = setup("maxlen");
    let mut out = BridgeOut::new(&s.ring_a, OutConfig::new(&s.redis.url()).with_maxlen(5)).unwrap();
    let info = FrameInfo::new(128, 64, PixelFormat::Gray8); // 8 KiB, over a stream node's 4 KiB
    let mut con = s.redis.client();
    let mut last = 0;
    for n in 0..40u64 {
        last = s.tx.publish(info, &noise(128 * 64, n)).unwrap();
        let deadline = Instant::now() + PATIENCE;
        while out.step(STEP).unwrap() != Some(last) {
            assert!(Instant::now() < deadline, "frame {last} was not sent");
        }
        let len: u64 = redis::cmd("XLEN").arg(out.stream()).query(&mut con).unwrap();
        assert!((1..=5).contains(&len), "after frame {last} the stream holds {len} entries");
    }
    // The newest entry is the last frame, readable from its meta bytes.
    let newest: redis::Value =
        redis::cmd("XREVRANGE").arg(out.stream()).arg("+").arg("-").arg("COUNT").arg(1).query(&mut con).unwrap();
    let fields = field_map(newest);
    let entry = EntryInfo::parse(&fields["meta"], fields["data"].len()).unwrap();
    assert_eq!((entry.frame, entry.info.width, entry.encoding), (last, 128, Encoding::Raw));
}

/// The fields of the single entry in an XRANGE reply.
fn field_map(reply: redis::Value) -> std::collections::HashMap<String, Vec<u8>> {
    let redis::Value::Array(entries) = reply else { panic!("not an array: {reply:?}") };
    let redis::Value::Array(entry) = entries.into_iter().next().expect("one entry") else { panic!("bad entry") };
    let redis::Value::Array(kv) = entry.into_iter().nth(1).expect("fields") else { panic!("bad fields") };
    kv.chunks(2)
        .map(|p| match p {
            [redis::Value::BulkString(k), redis::Value::BulkString(v)] => {
                (String::from_utf8(k.clone()).unwrap(), v.clone())
            }
            other => panic!("bad field pair {other:?}"),
        })
        .collect()
}

#[test]
fn compat_keys_serve_a_plain_subscriber_a_jpeg_and_a_unix_time() {
    let mut s = setup("compat");
    let mut out = BridgeOut::new(&s.ring_a, OutConfig::new(&s.redis.url()).with_compat_keys(true)).unwrap();
    let mut subscriber = s.redis.client();
    let mut ps = subscriber.as_pubsub();
    ps.subscribe(COMPAT_UPDATE_CHANNEL).unwrap();
    ps.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut getter = s.redis.client();
    let send = |s: &mut Setup, out: &mut BridgeOut, info: FrameInfo, payload: &[u8]| {
        let n = s.tx.publish(info, payload).unwrap();
        let deadline = Instant::now() + PATIENCE;
        while out.step(STEP).unwrap() != Some(n) {
            assert!(Instant::now() < deadline);
        }
    };

    // A raw frame: the stream stays raw, the key gets a JPEG of it.
    let info = FrameInfo::new(64, 48, PixelFormat::Bgr24);
    let payload = smooth(&info);
    send(&mut s, &mut out, info, &payload);
    let notice: String = ps.get_message().unwrap().get_payload().unwrap();
    let sent: f64 = notice.parse().unwrap_or_else(|_| panic!("{notice:?} is not a Unix time"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - sent).abs() < 60.0, "notice {sent} is not now ({now})");
    let jpeg: Vec<u8> = redis::cmd("GET").arg(COMPAT_FRAME_KEY).query(&mut getter).unwrap();
    let image = turbojpeg::decompress(&jpeg, turbojpeg::PixelFormat::BGR).unwrap();
    assert_eq!((image.width, image.height), (64, 48));
    let (mean, _) = difference(&info, &payload, &image.pixels);
    assert!(mean < 4.0, "the key's JPEG is not the frame (mean difference {mean:.2})");

    // An MJPEG frame is stored exactly as captured.
    let camera = mjpeg(32, 16);
    send(&mut s, &mut out, FrameInfo::new(32, 16, PixelFormat::Mjpeg), &camera);
    let _: String = ps.get_message().unwrap().get_payload().unwrap();
    let stored: Vec<u8> = redis::cmd("GET").arg(COMPAT_FRAME_KEY).query(&mut getter).unwrap();
    assert_eq!(stored, camera);
}

/// Publishes a numbered GRAY8 frame every 2 ms until stopped: bytes 0..8
/// hold the number, every other byte its low byte.
fn publish_numbered(mut tx: Producer, stop: Arc<AtomicBool>, last: Arc<AtomicU64>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let info = FrameInfo::new(64, 32, PixelFormat::Gray8);
        while !stop.load(Ordering::Relaxed) {
            let mut loan = tx.loan(info).unwrap();
            let n = loan.frame();
            let px = loan.pixels_mut();
            px.fill(n as u8);
            px[..8].copy_from_slice(&n.to_le_bytes());
            loan.commit().unwrap();
            last.store(n, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

/// The number a [`publish_numbered`] frame carries, checking every byte.
fn numbered(buf: &FrameBuf) -> u64 {
    let b = buf.as_slice();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap());
    assert!(b[8..].iter().all(|&x| x == n as u8), "frame {n} arrived damaged");
    n
}

#[test]
fn the_bridge_recovers_when_redis_is_killed_and_restarted() {
    let Setup { mut redis, ring_a, ring_b, tx } = setup("restart");
    let out = spawn(BridgeOut::new(&ring_a, OutConfig::new(&redis.url())).unwrap());
    let inn = spawn(BridgeIn::new(&ring_b, InConfig::new(&redis.url()).with_stream(&default_stream(&ring_a))).unwrap());
    let (stop, last) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let publisher = publish_numbered(tx, Arc::clone(&stop), Arc::clone(&last));
    let mut rx = open_when_ready(&ring_b);
    let mut buf = FrameBuf::new();
    let mut seen = 0;
    for _ in 0..20 {
        receive(&mut rx, &mut buf);
        let n = numbered(&buf);
        assert!(n > seen, "frame {n} after {seen}");
        seen = n;
    }

    redis.kill();
    let killed_at = last.load(Ordering::Relaxed);
    out.wait_for("the sender to see Redis gone", |s| !s.redis_up);
    inn.wait_for("the receiver to see Redis gone", |s| !s.redis_up);
    let down = out.stats();
    assert!(down.last_error.is_some(), "the outage is reported: {down:?}");
    // The local producer does not notice: it keeps publishing.
    let deadline = Instant::now() + PATIENCE;
    while last.load(Ordering::Relaxed) < killed_at + 100 {
        assert!(Instant::now() < deadline, "the producer stalled while Redis was down");
        std::thread::sleep(Duration::from_millis(5));
    }

    redis.restart();
    let restarted_at = last.load(Ordering::Relaxed);
    let deadline = Instant::now() + PATIENCE;
    while seen <= restarted_at {
        receive(&mut rx, &mut buf);
        let n = numbered(&buf);
        assert!(n > seen, "frame {n} after {seen}");
        seen = n;
        assert!(Instant::now() < deadline, "no frame after the restart");
    }

    stop.store(true, Ordering::Relaxed);
    publisher.join().unwrap();
    let (out, inn) = (out.finish().stats(), inn.finish().stats());
    assert!(out.reconnects >= 1 && inn.reconnects >= 1, "{out:?} {inn:?}");
    // Everything published while Redis was away was dropped and counted.
    assert!(out.dropped >= restarted_at - killed_at - 1, "{out:?}, {} frames while down", restarted_at - killed_at);
    assert!(inn.dropped >= restarted_at - killed_at - 1, "{inn:?}");
}

#[test]
fn corrupt_stream_entries_are_counted_and_skipped() {
    let redis = RedisServer::start();
    let ring_b = unique_name("corrupt-b");
    let stream = format!("framering:{}", unique_name("corrupt-stream"));
    let inn = spawn(BridgeIn::new(&ring_b, InConfig::new(&redis.url()).with_stream(&stream)).unwrap());
    let mut con = redis.client();
    let info = FrameInfo::new(16, 8, PixelFormat::Gray8);
    let entry = |frame: u64, encoding: Encoding, info: FrameInfo| EntryInfo {
        frame,
        dropped: 0,
        capture_ns: 1,
        captured: false,
        age_ns: 0,
        sent_unix_ns: 0,
        encoding,
        info,
    };
    let good = entry(1, Encoding::Raw, info).to_bytes();
    let mut xadd = |fields: &[(&str, &[u8])]| {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&stream).arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        cmd.query::<String>(&mut con).unwrap();
    };
    // Warm up with valid entries until one is published.
    let deadline = Instant::now() + PATIENCE;
    while inn.stats().frames == 0 {
        xadd(&[("meta", &good), ("data", &[5; 128])]);
        assert!(Instant::now() < deadline, "no valid entry was published");
        std::thread::sleep(Duration::from_millis(50));
    }
    let edited = |at: usize, value: u8| {
        let mut b = good;
        b[at] = value;
        b
    };
    let (bad_magic, bad_version, bad_fourcc) = (edited(0, b'X'), edited(4, 9), edited(60, b'?'));
    let jpeg_of_other_size = mjpeg(8, 8);
    let huge = entry(9, Encoding::Jpeg, FrameInfo::new(20_000, 20_000, PixelFormat::Bgr24)).to_bytes();
    let jpeg_entry = entry(9, Encoding::Jpeg, info).to_bytes();
    type Fields<'a> = Vec<(&'a str, &'a [u8])>;
    let cases: Vec<(Fields, &str)> = vec![
        (vec![("data", &[1; 128])], "no `meta` field"),
        (vec![("meta", &good)], "no `data` field"),
        (vec![("meta", &good[..10]), ("data", &[1; 128])], "`meta` is 10 bytes"),
        (vec![("meta", &bad_magic), ("data", &[1; 128])], "FRBR"),
        (vec![("meta", &bad_version), ("data", &[1; 128])], "version 9"),
        (vec![("meta", &bad_fourcc), ("data", &[1; 128])], "fourcc"),
        (vec![("meta", &good), ("data", &[1; 127])], "payload is 127 bytes"),
        (vec![("meta", &jpeg_entry), ("data", b"not a jpeg at all")], "JPEG"),
        (vec![("meta", &jpeg_entry), ("data", &jpeg_of_other_size)], "image is 8x8"),
        (vec![("meta", &huge), ("data", &jpeg_of_other_size)], "limit"),
    ];
    for (i, (fields, message)) in cases.iter().enumerate() {
        xadd(fields);
        let s = inn.wait_for(&format!("entry {i} to be rejected"), |s| s.rejected == i as u64 + 1);
        let error = s.last_error.unwrap_or_default();
        assert!(error.contains(message), "entry {i}: {error:?} does not mention {message:?}");
    }
    // Still working: the next valid entry is published.
    let before = inn.stats().frames;
    xadd(&[("meta", &entry(2, Encoding::Raw, info).to_bytes()), ("data", &[6; 128])]);
    inn.wait_for("a valid entry after the corrupt ones", |s| s.frames == before + 1);
    let mut rx = open_when_ready(&ring_b);
    let mut buf = FrameBuf::new();
    receive(&mut rx, &mut buf);
    assert_eq!(buf.as_slice(), &[6; 128]);
    inn.finish().close().unwrap();
}

#[test]
fn the_command_line_bridge_feeds_the_consumer_example_unchanged() {
    use std::process::{Command, Stdio};
    let redis = RedisServer::start();
    for (tag, extra) in [("cli-raw", &[][..]), ("cli-jpeg", &["--jpeg-quality", "80", "--compat-keys"][..])] {
        let (ring_a, ring_b) = (unique_name(&format!("{tag}-a")), unique_name(&format!("{tag}-b")));
        let producer = Command::new(example("producer"))
            .args(["--test-pattern", "--ring", &ring_a, "--width", "320", "--height", "240", "--fps", "60"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let bridge = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_framering"))
                .arg("bridge")
                .args(args)
                .args(["--redis", &redis.url()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let out = bridge(&[&["out", &ring_a][..], extra].concat());
        let inn = bridge(&["in", &ring_b, "--stream", &default_stream(&ring_a)]);
        let consumer = Command::new(example("consumer"))
            .args(["--headless", "--ring", &ring_b, "--frames", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let line = summary(&finish(consumer, Duration::from_secs(60)));
        let lossy = !extra.is_empty();
        assert!(line.starts_with("summary frames=60 torn=0 "), "{tag}: {line}");
        let counts = if lossy { " unverified=60 verified=0" } else { " unverified=0 verified=60" };
        assert!(line.ends_with(counts), "{tag}: {line}");
        for child in [&out, &inn] {
            interrupt(child);
        }
        for (child, side) in [(out, "out:"), (inn, "in:")] {
            let done = finish(child, Duration::from_secs(10));
            let text = String::from_utf8_lossy(&done.stdout);
            let err = String::from_utf8_lossy(&done.stderr);
            assert!(done.status.success(), "{tag}: bridge exited with {:?}: {err}", done.status);
            assert!(text.contains("redis up"), "{tag}: no connection report in {text}");
            // The last status line, printed on the way out, counts every frame.
            let last = text.lines().rfind(|l| l.starts_with(side));
            let last = last.unwrap_or_else(|| panic!("{tag}: no status line in {text}"));
            let frames = last.split("  ").find_map(|f| f.strip_suffix(" frames")).map(|n| n.trim().parse::<u64>());
            assert!(matches!(frames, Some(Ok(n)) if n >= 60), "{tag}: {last}");
        }
        // `in` closed its ring on Ctrl-C: the name is gone.
        assert!(!std::path::Path::new(&shm_file(&ring_b)).exists(), "{tag}: ring {ring_b} left behind");
        if lossy {
            let jpeg: Vec<u8> = redis::cmd("GET").arg(COMPAT_FRAME_KEY).query(&mut redis.client()).unwrap();
            assert_eq!(turbojpeg::read_header(&jpeg).map(|h| (h.width, h.height)).ok(), Some((320, 240)));
        }
        interrupt(&producer);
        finish(producer, Duration::from_secs(10));
    }
}

#[test]
fn bad_settings_are_refused_before_anything_connects() {
    let bad = |r: Result<BridgeOut, BridgeError>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(bad(BridgeOut::new("cam0", OutConfig::new("not a url"))).contains("redis URL"));
    assert!(bad(BridgeOut::new("cam0", OutConfig::new("redis://127.0.0.1:1").with_maxlen(0))).contains("maxlen"));
    assert!(
        bad(BridgeOut::new("cam0", OutConfig::new("redis://127.0.0.1:1").with_jpeg_quality(0))).contains("quality")
    );
    assert!(bad(BridgeOut::new("cam0", OutConfig::new("redis://127.0.0.1:1").with_stream("a b"))).contains("stream"));
    assert!(bad(BridgeOut::new("bad/name", OutConfig::new("redis://127.0.0.1:1"))).contains("name"));
    let e = BridgeIn::new("cam0", InConfig::new("redis://127.0.0.1:1").with_ring(framering::RingConfig::new(1, 64)))
        .err()
        .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("slots"));
}

#[test]
fn the_sender_reports_its_source_producer_closing() {
    let s = setup("source-gone");
    let mut out = BridgeOut::new(&s.ring_a, OutConfig::new(&s.redis.url())).unwrap();
    let mut tx = s.tx;
    tx.publish(FrameInfo::new(8, 8, PixelFormat::Gray8), &[1; 64]).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while out.step(STEP).unwrap().is_none() {
        assert!(Instant::now() < deadline, "the first frame was not sent");
    }
    tx.close().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while out.stats().last_error.is_none() {
        assert_eq!(out.step(STEP).unwrap(), None);
        assert!(Instant::now() < deadline, "the close was not reported");
    }
    assert_eq!(out.stats().last_error.as_deref(), Some("source ring: the producer closed the ring"));
}

#[test]
fn the_sender_reports_a_corrupt_source_ring_and_keeps_looking() {
    // Plants a corrupt object: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let redis = RedisServer::start();
    let ring = unique_name("corrupt-source");
    std::fs::write(shm_file(&ring), [0xAB; 4096]).unwrap();
    let mut out = BridgeOut::new(&ring, OutConfig::new(&redis.url())).unwrap();
    assert_eq!(out.step(STEP).unwrap(), None);
    let error = out.stats().last_error.unwrap_or_default();
    assert!(error.starts_with("source ring: unreadable ring segment"), "{error}");
    assert!(!out.ring_open());
    // A producer replaces the object; the sender picks the ring up.
    let mut tx = Producer::create(&ring, RingConfig::new(2, 64)).unwrap();
    tx.publish(FrameInfo::new(8, 8, PixelFormat::Gray8), &[1; 64]).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while out.step(STEP).unwrap().is_none() {
        assert!(Instant::now() < deadline, "the replaced ring was not picked up");
    }
    assert!(out.ring_open());
}

#[test]
fn an_unreachable_redis_is_reported_not_fatal() {
    // A port nobody listens on: connecting fails at once, every time.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ring = unique_name("unreachable");
    let mut tx = Producer::create(&ring, RingConfig::new(2, 64)).unwrap();
    let mut out = BridgeOut::new(&ring, OutConfig::new(&format!("redis://127.0.0.1:{port}"))).unwrap();
    for _ in 0..5 {
        tx.publish(FrameInfo::new(8, 8, PixelFormat::Gray8), &[1; 64]).unwrap();
        assert_eq!(out.step(Duration::from_millis(20)).unwrap(), None);
    }
    let s = out.stats();
    assert!(!s.redis_up && s.frames == 0 && s.last_error.is_some(), "{s:?}");
}

#[test]
fn a_stream_key_of_another_type_is_reported_and_keeps_the_connection() {
    let mut s = setup("wrongtype");
    let stream = default_stream(&s.ring_a);
    redis::cmd("SET").arg(&stream).arg("not a stream").query::<()>(&mut s.redis.client()).unwrap();
    let mut out = BridgeOut::new(&s.ring_a, OutConfig::new(&s.redis.url())).unwrap();
    s.tx.publish(FrameInfo::new(8, 8, PixelFormat::Gray8), &[1; 64]).unwrap();
    assert_eq!(out.step(STEP).unwrap(), None);
    let o = out.stats();
    assert!(o.last_error.as_deref().is_some_and(|e| e.contains("WRONGTYPE")), "{o:?}");
    assert!(o.redis_up && o.reconnects == 0 && o.frames == 0 && o.dropped == 1, "{o:?}");

    let mut inn = BridgeIn::new(&s.ring_b, InConfig::new(&s.redis.url()).with_stream(&stream)).unwrap();
    // Every read of a string key fails at once; each step still waits its
    // timeout instead of letting the caller's loop spin.
    for _ in 0..3 {
        let start = Instant::now();
        assert_eq!(inn.step(STEP).unwrap(), None);
        assert!(start.elapsed() >= STEP, "a failing step returned after {:?}", start.elapsed());
    }
    let i = inn.stats();
    assert!(i.last_error.as_deref().is_some_and(|e| e.contains("WRONGTYPE")), "{i:?}");
    assert!(i.redis_up && i.reconnects == 0 && i.frames == 0, "{i:?}");
}

#[test]
fn a_failure_of_the_local_ring_is_a_typed_error_not_a_rejected_entry() {
    // Plants a directory at the in-ring's name: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let redis = RedisServer::start();
    let (ring_a, ring_b) = (unique_name("local-a"), unique_name("local-b"));
    std::fs::create_dir(shm_file(&ring_b)).unwrap();
    let mut tx = Producer::create(&ring_a, RingConfig::new(2, 64)).unwrap();
    let mut out = BridgeOut::new(&ring_a, OutConfig::new(&redis.url())).unwrap();
    let config = InConfig::new(&redis.url()).with_stream(&default_stream(&ring_a));
    let mut inn = BridgeIn::new(&ring_b, config).unwrap();
    let deadline = Instant::now() + PATIENCE;
    // The receiver reads entries added while it waits: run it beside the sender.
    let receiver = std::thread::spawn(move || {
        loop {
            if let Err(e) = inn.step(STEP) {
                return (e, inn.stats());
            }
            assert!(Instant::now() < deadline, "the local failure never surfaced: {:?}", inn.stats());
        }
    });
    while !receiver.is_finished() {
        tx.publish(FrameInfo::new(8, 8, PixelFormat::Gray8), &[1; 64]).unwrap();
        out.step(STEP).unwrap();
    }
    let (err, stats) = receiver.join().unwrap();
    assert!(matches!(err, BridgeError::Ring(framering::Error::Occupied { .. })), "{err}");
    assert!(err.to_string().contains("a directory"), "{err}");
    assert_eq!(stats.rejected, 0, "the entry was blamed");
}
