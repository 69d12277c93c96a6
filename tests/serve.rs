//! `framering serve` (feature `jpeg`) with real clients: ffmpeg reading the
//! MJPEG stream, headless Chromium rendering the page (checked on the
//! screenshot's pixels), and many stalled connections beside a live one.
//!
//! ffmpeg and Chromium: without them those tests say so and pass, unless
//! FRAMERING_REQUIRE_FFMPEG / FRAMERING_REQUIRE_CHROMIUM=1 (`.ci/run`).
#![cfg(target_os = "linux")]
#![cfg(feature = "jpeg")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::unique_name;
use framering::testpattern;
use framering::{Producer, RingConfig};

const W: u32 = 320;
const H: u32 = 240;
const LONG: Duration = Duration::from_secs(30);

fn have(program: &str, version_arg: &str, require: &str) -> bool {
    let found = Command::new(program).arg(version_arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        assert!(std::env::var_os(require).is_none(), "{program} is required but not found");
        common::skip(&format!("no {program} on the PATH"));
    }
    found
}

/// A ring fed with test-pattern frames every 10 ms until dropped.
struct Feeder {
    name: String,
    /// Frames committed so far.
    published: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Feeder {
    fn start(tag: &str) -> Self {
        let name = unique_name(tag);
        let mut tx = Producer::create(&name, RingConfig::new(4, (W * H * 3) as usize)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let published = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&published);
        let thread = std::thread::spawn(move || {
            let info = testpattern::info(W, H);
            // Relaxed: a stop flag; no data rides on it.
            while !flag.load(Ordering::Relaxed) {
                let mut loan = tx.loan(info).unwrap();
                let n = loan.frame();
                testpattern::render(n, W, H, "", loan.pixels_mut());
                loan.commit().unwrap();
                // Relaxed: a count read for an upper bound; no data rides on it.
                count.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { name, published, stop, thread: Some(thread) }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running `framering serve` on a free loopback port.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(extra: &[&str]) -> Self {
        Self::start_with(extra, Stdio::null())
    }

    /// With its status lines (a line a second) on a pipe: `child.stdout`.
    fn start_with(extra: &[&str], stdout: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_framering"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.split("http://").nth(1).and_then(|a| a.split('/').next()).expect(&line).to_owned();
        Self { child, addr }
    }
}

/// The whole answer to `GET path` (at most 1 MiB of it), or the error that
/// ended the read (a reset).
fn fetch(addr: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(LONG))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut text = Vec::new();
    stream.take(1 << 20).read_to_end(&mut text)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

#[test]
fn urls_name_rings_of_the_served_directory_only() {
    // Defect: without a ring list, `GET //tmp/other/secret.jpg` served the
    // frames of a ring in another directory (root's 0700 one included).
    let dir = std::env::temp_dir().join(unique_name("serve-elsewhere"));
    std::fs::create_dir(&dir).unwrap();
    let secret = format!("{}/secret", dir.display());
    let mut tx = Producer::create(&secret, RingConfig::new(2, (W * H * 3) as usize)).unwrap();
    let mut loan = tx.loan(testpattern::info(W, H)).unwrap();
    testpattern::render(1, W, H, "", loan.pixels_mut());
    loan.commit().unwrap();
    let feeder = Feeder::start("serve-here");
    let server = Server::start(&[]);
    let here = fetch(&server.addr, &format!("/{}.jpg", feeder.name)).unwrap();
    assert!(here.starts_with("HTTP/1.1 200"), "{here:.100}");
    let shm_path = format!("/dev/shm/{}", feeder.name);
    for path in [
        format!("/{secret}.jpg"),
        format!("/{secret}.json"),
        format!("/{secret}.mjpg"),
        format!("/dev/shm/../..{secret}.jpg"),
        format!("//dev/shm/../..{secret}.jpg"),
        // Another spelling of a served ring is not a second feed of it.
        format!("/{shm_path}.jpg"),
        format!("/./{}.jpg", feeder.name),
    ] {
        let answer = fetch(&server.addr, &path).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer:.100}");
    }
    drop(tx);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_feed_nobody_watches_is_dropped() {
    // Defect: serve kept a feed per spelling of a ring's name, forever.
    let feeder = Feeder::start("serve-idle");
    let mut server = Server::start_with(&[], Stdio::piped());
    let mut status = BufReader::new(server.child.stdout.take().unwrap());
    for _ in 0..3 {
        let still = fetch(&server.addr, &format!("/{}.jpg", feeder.name)).unwrap();
        assert!(still.starts_with("HTTP/1.1 200"), "{still:.100}");
    }
    // The status line counts the feeds it keeps: one while it is watched,
    // none a little after (`IDLE_GRACE`), without a deadline on how soon.
    let mut seen = Vec::new();
    let deadline = Instant::now() + LONG;
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if status.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push(line.trim().to_owned());
        if line.contains("0 connections, 0 feeds") && seen.iter().any(|l| l.contains(", 1 feeds")) {
            return;
        }
    }
    panic!("the idle feed was kept: {seen:?}");
}

#[test]
fn past_max_clients_every_client_gets_503_and_stalled_clients_are_dropped() {
    // Defects: with 500 clients against --max-clients 32, most saw a reset
    // instead of 503 (the server closed them without reading the request);
    // non-reading MJPEG clients held every place long after they stalled.
    let feeder = Feeder::start("serve-overload");
    let server = Server::start(&["--max-clients", "2", "--write-timeout", "2"]);
    let stuck: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            write!(s, "GET /{}.mjpg HTTP/1.1\r\n\r\n", feeder.name).unwrap();
            s
        })
        .collect();
    // Both places are taken once both streams have started (the server
    // answers each with its head before anything else).
    for s in &stuck {
        let mut first = [0u8; 12];
        s.set_read_timeout(Some(LONG)).unwrap();
        (&*s).read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
    }
    let clients: Vec<_> = (0..500)
        .map(|_| {
            let addr = server.addr.clone();
            std::thread::spawn(move || fetch(&addr, "/"))
        })
        .collect();
    let mut resets = Vec::new();
    let mut refused = 0;
    for client in clients {
        match client.join().unwrap() {
            Ok(text) if text.starts_with("HTTP/1.1 503") => refused += 1,
            Ok(text) if text.starts_with("HTTP/1.1 200") => {} // a stalled client was dropped meanwhile
            Ok(text) => panic!("unexpected answer {text:.100}"),
            Err(e) => resets.push(e.to_string()),
        }
    }
    assert!(resets.is_empty(), "{} of 500 clients saw {:?} instead of 503", resets.len(), resets.first());
    assert!(refused >= 1, "nobody was refused past --max-clients 2");
    eprintln!("500 clients against --max-clients 2: {refused} answered 503, {} answered 200, no reset", 500 - refused);
    // The two stalled clients are dropped by the write timeout: a new
    // client gets in, however long the stalls take to fill the buffers.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = fetch(&server.addr, &format!("/{}.json", feeder.name)).unwrap();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the stalled clients kept their places: {answer:.100}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(stuck);
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mean absolute difference between a decoded frame and the pattern of
/// `frame`, below the label box (the label's text is not reproducible).
fn distance_to_pattern(frame: u64, pixels: &[u8]) -> f64 {
    let mut want = vec![0; (W * H * 3) as usize];
    testpattern::render(frame, W, H, "", &mut want);
    let from = 60 * W as usize * 3;
    let diff: u64 = want[from..].iter().zip(&pixels[from..]).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
    diff as f64 / (want.len() - from) as f64
}

#[test]
fn ffmpeg_decodes_the_mjpeg_stream_into_the_rings_frames() {
    if !have("ffmpeg", "-version", "FRAMERING_REQUIRE_FFMPEG") {
        return;
    }
    let feeder = Feeder::start("serve-ffmpeg");
    let server = Server::start(&[]);
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "mjpeg", "-i"])
        .arg(format!("http://{}/{}.mjpg", server.addr, feeder.name))
        .args(["-frames:v", "5", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let frames: Vec<&[u8]> = out.stdout.chunks_exact((W * H * 3) as usize).collect();
    assert_eq!(frames.len(), 5);
    let info = testpattern::info(W, H);
    let mut numbers = Vec::new();
    for pixels in frames {
        let n = testpattern::band_frame(&info, pixels).expect("the band survives JPEG");
        let d = distance_to_pattern(n, pixels);
        assert!(d < 4.0, "frame {n}: mean difference {d:.2} from the pattern");
        numbers.push(n);
    }
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "newer frames each time: {numbers:?}");
}

/// Sends a GET and returns the response head and the open stream.
fn get(addr: &str, path: &str) -> (String, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LONG)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        if reader.read_line(&mut head).unwrap() == 0 {
            break;
        }
    }
    (head, reader)
}

/// Reads one part of a multipart MJPEG response: its JPEG.
fn next_part(reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut len = None;
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream ended");
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.trim().parse().ok();
        }
        if line == "\r\n" && len.is_some() {
            break;
        }
    }
    let mut jpeg = vec![0; len.unwrap_or(0)];
    reader.read_exact(&mut jpeg).unwrap();
    jpeg
}

#[test]
fn every_client_shares_one_encode_per_frame() {
    let feeder = Feeder::start("serve-shared");
    let server = Server::start(&[]);
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let (addr, path) = (server.addr.clone(), format!("/{}.mjpg", feeder.name));
            std::thread::spawn(move || {
                let (head, mut reader) = get(&addr, &path);
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                (0..20).map(|_| next_part(&mut reader)).collect::<Vec<_>>()
            })
        })
        .collect();
    let parts: Vec<Vec<u8>> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let answer = fetch(&server.addr, &format!("/{}.json", feeder.name)).unwrap();
    // Read after the JSON: every frame encoded was published by then.
    // Relaxed: see Feeder.
    let published = feeder.published.load(Ordering::Relaxed);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let stats: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    let encoded = stats["encoded"].as_u64().unwrap_or_else(|| panic!("{answer}"));
    let distinct: std::collections::HashSet<&Vec<u8>> = parts.iter().collect();
    eprintln!(
        "{} parts sent to 20 clients; {} distinct JPEGs, {encoded} encoded, {published} frames published",
        parts.len(),
        distinct.len()
    );
    // Per-client encoding would make up to 20 JPEGs of each frame.
    assert!(encoded <= published, "{encoded} JPEGs made of {published} frames");
    assert!(distinct.len() as u64 <= encoded, "{} distinct JPEGs, {encoded} encoded", distinct.len());
}

#[test]
fn stalled_connections_neither_slow_a_live_client_nor_pin_threads() {
    let feeder = Feeder::start("serve-stall");
    // Requests may take a minute here, so nothing below depends on timing.
    let server = Server::start(&["--max-clients", "80", "--request-timeout", "60"]);
    // 50 clients that connect and say nothing (slow loris) and 20 that ask
    // for the stream and never read it.
    let silent: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(&server.addr).unwrap()).collect();
    let stuck: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            write!(s, "GET /{}.mjpg HTTP/1.1\r\n\r\n", feeder.name).unwrap();
            s
        })
        .collect();
    let (head, mut live) = get(&server.addr, &format!("/{}.mjpg", feeder.name));
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("multipart/x-mixed-replace"), "{head}");
    for _ in 0..30 {
        let jpeg = next_part(&mut live);
        assert_eq!(&jpeg[..2], [0xff, 0xd8]);
    }
    // Past the limit (71 of 80 taken), a clear refusal, not a hang.
    let extra: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&server.addr).unwrap()).collect();
    let mut refused = 0;
    for mut s in extra {
        s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut text = String::new();
        if s.read_to_string(&mut text).is_ok() && text.starts_with("HTTP/1.1 503") {
            refused += 1;
        }
    }
    assert!(refused >= 1, "none of 20 refused past --max-clients 80");
    // The live client went on throughout.
    assert_eq!(&next_part(&mut live)[..2], [0xff, 0xd8]);
    drop((silent, stuck));
}

#[test]
fn clients_that_never_send_a_request_are_dropped_and_free_their_threads() {
    let feeder = Feeder::start("serve-loris");
    let server = Server::start(&["--max-clients", "20", "--request-timeout", "1"]);
    let silent: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&server.addr).unwrap()).collect();
    for mut s in silent {
        s.set_read_timeout(Some(LONG)).unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        assert!(text.starts_with("HTTP/1.1 400") || text.starts_with("HTTP/1.1 503"), "{text:?}");
    }
    // All 20 places are free again.
    let deadline = Instant::now() + LONG;
    loop {
        let (head, _) = get(&server.addr, &format!("/{}.json", feeder.name));
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no thread came free: {head}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bad_requests_and_unknown_rings_get_clear_answers() {
    let feeder = Feeder::start("serve-bad");
    let server = Server::start(&["--user", "ann", "--password", "secret"]);
    let (head, _) = get(&server.addr, "/");
    assert!(head.starts_with("HTTP/1.1 401") && head.contains("WWW-Authenticate: Basic"), "{head}");
    let authed = |path: &str| {
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        stream.set_read_timeout(Some(LONG)).unwrap();
        // "ann:secret" in base64.
        write!(stream, "GET {path} HTTP/1.1\r\nAuthorization: Basic YW5uOnNlY3JldA==\r\n\r\n").unwrap();
        let mut text = Vec::new();
        let _ = stream.take(1 << 20).read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    };
    assert!(authed("/").starts_with("HTTP/1.1 200"));
    assert!(authed("/").contains(&format!("data-ring=\"{}\"", feeder.name)));
    assert!(authed("/no-such-ring.mjpg").starts_with("HTTP/1.1 404"));
    assert!(authed("/../../etc/passwd").starts_with("HTTP/1.1 404"));
    // A server of named rings serves no other.
    let named = Server::start(&["--", &feeder.name]);
    let other = Feeder::start("serve-other");
    let (head, _) = get(&named.addr, &format!("/{}.jpg", other.name));
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let answer = authed(&format!("/{}.json", feeder.name));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let stats: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    let keys: Vec<&str> = stats.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["name", "size", "fps", "latency_ms", "encoded", "problem"], "{answer}");
    assert_eq!(stats["name"], feeder.name.as_str());
    let still = authed(&format!("/{}.jpg", feeder.name));
    assert!(still.starts_with("HTTP/1.1 200") && still.contains("Content-Type: image/jpeg"), "{still:.200}");
    let mut raw = TcpStream::connect(&server.addr).unwrap();
    raw.write_all(&[b'x'; 10_000]).unwrap();
    let mut text = String::new();
    let _ = raw.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 400"), "an oversized head: {text:?}");
    // Requests are parsed as HTTP/1 (httparse): a request line without a
    // target or version is malformed, not a request for an unknown ring;
    // more than 64 header lines are refused; header names are
    // case-insensitive.
    let raw_answer = |request: &str| {
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        stream.set_read_timeout(Some(LONG)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut text = Vec::new();
        let _ = stream.take(1 << 20).read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    };
    let answer = raw_answer("GET\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "a request line without a target: {answer:.100}");
    let many: String = (0..100).map(|i| format!("X-Filler-{i}: {i}\r\n")).collect();
    let answer = raw_answer(&format!("GET / HTTP/1.1\r\nAuthorization: Basic YW5uOnNlY3JldA==\r\n{many}\r\n"));
    assert!(answer.starts_with("HTTP/1.1 431"), "100 header lines: {answer:.100}");
    let answer = raw_answer("GET / HTTP/1.1\r\nauthorization: Basic YW5uOnNlY3JldA==\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "a lower-case header name: {answer:.100}");
}

#[test]
fn a_browser_shows_the_live_picture() {
    if !have("chromium", "--version", "FRAMERING_REQUIRE_CHROMIUM")
        || !have("ffmpeg", "-version", "FRAMERING_REQUIRE_FFMPEG")
    {
        return;
    }
    let feeder = Feeder::start("serve-browser");
    // Only this ring on the page (the machine may hold others).
    let server = Server::start(&["--", &feeder.name]);
    let dir = std::env::temp_dir().join(unique_name("chromium"));
    let shot = dir.join("page.png");
    let status = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", dir.display()))
        .args(["--window-size=800,400", "--timeout=8000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("http://{}/", server.addr))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success() && shot.exists(), "no screenshot");
    // The PNG's pixels, through ffmpeg (no PNG decoder here).
    let raw = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(&shot)
        .args(["-f", "rawvideo", "-pix_fmt", "bgr24", "-"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let (sw, sh) = (800usize, 400usize);
    assert_eq!(raw.stdout.len(), sw * sh * 3, "an 800x400 screenshot");
    let px = |x: usize, y: usize| &raw.stdout[(y * sw + x) * 3..][..3];
    // The picture: the first row with 300 pixels in a row off the page's
    // background (#222); the text never has such a run.
    let background = |p: &[u8]| p.iter().all(|&c| c.abs_diff(0x22) <= 2);
    let (x0, y0) = (0..sh)
        .find_map(|y| {
            let mut run = 0;
            (0..sw).find_map(|x| {
                run = if background(px(x, y)) { 0 } else { run + 1 };
                (run == 300).then(|| (x + 1 - 300, y))
            })
        })
        .expect("no picture on the page");
    assert!(y0 + H as usize <= sh && x0 + W as usize <= sw, "picture at {x0},{y0}");
    let crop: Vec<u8> =
        (0..H as usize).flat_map(|y| (0..W as usize).flat_map(move |x| px(x0 + x, y0 + y).to_vec())).collect();
    let info = testpattern::info(W, H);
    let n = testpattern::band_frame(&info, &crop).expect("the page shows a test-pattern frame");
    let d = distance_to_pattern(n, &crop);
    assert!(d < 6.0, "frame {n} on the page: mean difference {d:.2} from the pattern");
    assert!(n > 1, "a live frame, not the first");
}
