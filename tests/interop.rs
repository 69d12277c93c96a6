//! `framering cat` and `framering play` against the real ffmpeg: what goes
//! through the pipe is checked against checksums computed here, from the
//! bytes published (or from ffmpeg's own output), not by framering.
//!
//! Needs `ffmpeg` (and GStreamer's y4menc, y4mdec, rawvideoparse) on the
//! PATH. Without them these tests say so and pass, unless
//! FRAMERING_REQUIRE_FFMPEG=1 / FRAMERING_REQUIRE_GSTREAMER=1 (as `.ci/run`
//! sets), where they fail.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{finish, shm_file, unique_name};
use framering::{Consumer, Error, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig};

const LONG: Duration = Duration::from_secs(30);

/// True if ffmpeg can be run; fails the test when it is required.
fn have_ffmpeg() -> bool {
    let found = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        assert!(std::env::var_os("FRAMERING_REQUIRE_FFMPEG").is_none(), "ffmpeg is required but not found");
        common::skip("no ffmpeg on the PATH");
    }
    found
}

fn framering(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_framering"));
    cmd.args(args);
    cmd
}

/// Adler-32 as ffmpeg's `framecrc` muxer computes it: seeded with 0
/// (`av_adler32_update(0, …)`), not zlib's 1.
fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (0u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        (a, b) = (a % 65521, b % 65521);
    }
    (b << 16) | a
}

/// (size, checksum) of each frame in ffmpeg's `framecrc` output.
fn framecrc(text: &str) -> Vec<(usize, u32)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(',').map(str::trim).collect();
            let size = fields.get(4)?.parse().ok()?;
            let crc = u32::from_str_radix(fields.get(5)?.trim_start_matches("0x"), 16).ok()?;
            Some((size, crc))
        })
        .collect()
}

/// Waits until `n` processes besides this one wait for a frame of ring
/// `name`: each has a thread asleep in a futex on an address inside its
/// mapping of the ring (the `notify` word, FORMAT.md §4.6).
///
/// Mapping the ring is not enough: a reader that has mapped it but not yet
/// read `published` starts at whatever frame is newest when it does (§4.3),
/// so frames published in between would never reach it. A reader asleep on
/// `notify` has its starting point, so every frame published after this
/// returns reaches an every-frame reader.
fn wait_for_readers(name: &str, n: usize) {
    let path = shm_file(name);
    let deadline = Instant::now() + LONG;
    while waiting_readers(&path) < n {
        assert!(Instant::now() < deadline, "no reader of {name} went to sleep waiting for a frame");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How many processes besides this one wait in a futex on the object at `path`.
fn waiting_readers(path: &str) -> usize {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && common::waits_on(pid, path))
        .count()
}

/// A frame's bytes: every byte a function of its position and `n`.
fn bytes(len: usize, n: u64) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 97) as u64 + n * 13) as u8).collect()
}

#[test]
fn cat_y4m_gives_ffmpeg_exactly_the_frames_published() {
    if !have_ffmpeg() {
        return;
    }
    for (format, w, h) in [(PixelFormat::I420, 160, 120), (PixelFormat::Gray8, 96, 64), (PixelFormat::Nv12, 64, 48)] {
        let name = unique_name("cat-y4m");
        let info = FrameInfo::new(w, h, format);
        let len = info.payload_len().unwrap().unwrap();
        let mut tx = Producer::create(&name, RingConfig::new(16, len)).unwrap();
        let mut cat =
            framering(&["cat", &name, "--y4m", "--every", "--frames", "10"]).stdout(Stdio::piped()).spawn().unwrap();
        let ffmpeg = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-f", "yuv4mpegpipe", "-i", "-", "-f", "framecrc", "-"])
            .stdin(Stdio::from(cat.stdout.take().unwrap()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_readers(&name, 1);
        let mut expected = Vec::new();
        for n in 1..=10 {
            let payload = bytes(len, n);
            tx.publish(info, &payload).unwrap();
            // What a y4m reader must see: the planes, Y then U then V.
            let planar = match format {
                PixelFormat::Nv12 => {
                    let (y, uv) = payload.split_at((w * h) as usize);
                    let u = uv.iter().step_by(2).copied();
                    let v = uv.iter().skip(1).step_by(2).copied();
                    y.iter().copied().chain(u).chain(v).collect()
                }
                _ => payload,
            };
            expected.push((planar.len(), adler32(&planar)));
        }
        assert!(finish(cat, LONG).status.success());
        let out = finish(ffmpeg, LONG);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(framecrc(&String::from_utf8_lossy(&out.stdout)), expected, "{format:?}");
    }
}

#[test]
fn cat_raw_prints_ffmpeg_arguments_that_read_it_back_with_padding_dropped() {
    if !have_ffmpeg() {
        return;
    }
    let name = unique_name("cat-raw");
    // Rows 200 bytes apart, 192 used: raw readers expect packed rows.
    let info = FrameInfo::new(64, 48, PixelFormat::Bgr24).with_stride(200);
    let len = info.payload_len().unwrap().unwrap();
    let mut tx = Producer::create(&name, RingConfig::new(8, len)).unwrap();
    let cat = framering(&["cat", &name, "--raw", "--every", "--frames", "5", "--fps", "25"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_readers(&name, 1);
    let mut expected = Vec::new();
    for n in 1..=5 {
        let payload = bytes(len, n);
        tx.publish(info, &payload).unwrap();
        let packed: Vec<u8> = payload.chunks(200).flat_map(|row| &row[..192]).copied().collect();
        expected.push((packed.len(), adler32(&packed)));
    }
    let out = finish(cat, LONG);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let args = err.lines().find_map(|l| l.split_once("read with: ffmpeg ")).map(|(_, a)| a.to_owned()).expect(&err);
    assert_eq!(args, "-f rawvideo -pixel_format bgr24 -video_size 64x48 -framerate 25 -i -");
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(args.split(' '))
        .args(["-f", "framecrc", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    ffmpeg.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let crc = finish(ffmpeg, LONG);
    assert_eq!(framecrc(&String::from_utf8_lossy(&crc.stdout)), expected);
}

#[test]
fn cat_exits_quietly_when_its_reader_quits() {
    let name = unique_name("cat-epipe");
    let info = FrameInfo::new(64, 64, PixelFormat::Gray8);
    let mut tx = Producer::create(&name, RingConfig::new(4, 4096)).unwrap();
    let mut cat = framering(&["cat", &name]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = cat.stdout.take().unwrap();
    wait_for_readers(&name, 1);
    let mut first = [0u8; 1000];
    let writer = std::thread::spawn(move || {
        for n in 1..=200u64 {
            tx.publish(info, &bytes(4096, n)).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    stdout.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"YUV4MPEG2 W64 H64 "), "{:?}", String::from_utf8_lossy(&first[..40]));
    drop(stdout); // like `| head -c 1000`
    let out = finish(cat, LONG);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// ffmpeg's own y4m output of a test source: header, then FRAME + planes.
fn testsrc_y4m(frames: u32) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30"])
        .args(["-frames:v", &frames.to_string(), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

#[test]
fn play_publishes_ffmpegs_frames_pixel_exact() {
    if !have_ffmpeg() {
        return;
    }
    let y4m = testsrc_y4m(60);
    let header_end = y4m.iter().position(|&b| b == b'\n').unwrap() + 1;
    let frame_len = 640 * 480 * 3 / 2;
    let frames: Vec<&[u8]> = y4m[header_end..].chunks(6 + frame_len).map(|c| &c[6..]).collect();
    assert_eq!(frames.len(), 60);
    let name = unique_name("play");
    let mut rx = Consumer::new(&name).unwrap();
    let mut play =
        framering(&["play", &name, "--slots", "64"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = play.stdin.take().unwrap();
    // The header and the first frame; once the consumer holds frame 1, the
    // rest (the ring keeps all 30, so none can be missed).
    stdin.write_all(&y4m[..header_end + 6 + frame_len]).unwrap();
    stdin.flush().unwrap();
    let mut buf = FrameBuf::new();
    let deadline = Instant::now() + LONG;
    let first = loop {
        match rx.wait_next(&mut buf, Duration::from_millis(100)) {
            Ok(meta) => break meta,
            Err(e) if e.is_transient() && Instant::now() < deadline => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!((first.frame, first.info.format, first.info.width), (1, PixelFormat::I420, 640));
    assert!(buf.as_slice() == frames[0], "frame 1 differs from ffmpeg's");
    stdin.write_all(&y4m[header_end + 6 + frame_len..]).unwrap();
    drop(stdin);
    for (i, want) in frames.iter().enumerate().skip(1) {
        let meta = rx.wait_next(&mut buf, LONG).unwrap();
        assert_eq!((meta.frame, meta.dropped), (i as u64 + 1, 0));
        assert!(buf.as_slice() == *want, "frame {} differs from ffmpeg's", i + 1);
    }
    assert!(matches!(rx.wait_next(&mut buf, LONG), Err(Error::Closed)), "closed at the end of the input");
    let out = finish(play, LONG);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!std::path::Path::new(&shm_file(&name)).exists());
}

#[test]
fn malformed_y4m_is_refused_and_nothing_half_published() {
    let run = |input: &[u8], name: &str| {
        let mut play = framering(&["play", name]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        play.stdin.take().unwrap().write_all(input).unwrap();
        let out = finish(play, LONG);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for (input, says) in [
        (&b"hello\n"[..], "not a YUV4MPEG2 stream"),
        (b"YUV4MPEG2 W99999 H10 F30:1\n", "width \"99999\" is not within"),
        (b"YUV4MPEG2 W640 H480 F30:1 C444\n", "C444 cannot go into a ring"),
        (b"YUV4MPEG2 W640 F30:1\n", "no W (width) or H (height)"),
        (b"YUV4MPEG2 W4 H4 F0:1\n", "bad frame rate"),
        (b"YUV4MPEG2 W4 H4\nFRAMEX\nrubbish", "frame 1"),
        (b"", "stdin is empty"),
    ] {
        let name = unique_name("play-bad");
        let (code, err) = run(input, &name);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(says), "{says:?} not in {err}");
        assert!(!std::path::Path::new(&shm_file(&name)).exists(), "no ring left for {says:?}");
    }
    // A stream cut in the middle of frame 3: frames 1 and 2 are published,
    // then the ring is closed cleanly; frame 3 never appears.
    let name = unique_name("play-short");
    let frame = [b"FRAME\n".as_slice(), &[9u8; 24]].concat();
    let input = [b"YUV4MPEG2 W4 H4 F30:1 C420jpeg\n".as_slice(), &frame, &frame, &frame[..20]].concat();
    let mut rx = Consumer::new(&name).unwrap();
    let mut play =
        framering(&["play", &name, "--slots", "8"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = play.stdin.take().unwrap();
    stdin.write_all(&input[..input.len() - frame.len() - 20]).unwrap(); // header + frame 1
    stdin.flush().unwrap();
    let mut buf = FrameBuf::new();
    let deadline = Instant::now() + LONG;
    while rx.wait_next(&mut buf, Duration::from_millis(100)).is_err() {
        assert!(Instant::now() < deadline, "frame 1 never came");
    }
    stdin.write_all(&input[input.len() - frame.len() - 20..]).unwrap();
    drop(stdin);
    assert_eq!(rx.wait_next(&mut buf, LONG).unwrap().frame, 2);
    assert!(matches!(rx.wait_next(&mut buf, LONG), Err(Error::Closed)));
    let out = finish(play, LONG);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stdin ended in the middle of frame 3: 14 of its 24 bytes"), "{err}");
}

/// True if gst-launch-1.0 and the elements are there; fails when required.
fn have_gstreamer(elements: &[&str]) -> bool {
    let found = elements.iter().all(|e| {
        Command::new("gst-inspect-1.0")
            .arg(e)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !found {
        assert!(
            std::env::var_os("FRAMERING_REQUIRE_GSTREAMER").is_none(),
            "GStreamer {elements:?} required but not found"
        );
        common::skip(&format!("no GStreamer with {elements:?}"));
    }
    found
}

#[test]
fn gstreamer_y4menc_feeds_play_and_y4mdec_reads_cat() {
    if !have_gstreamer(&["y4menc", "y4mdec", "rawvideoparse", "videotestsrc"]) {
        return;
    }
    // GStreamer → play: y4menc's stream, published pixel-exact.
    let y4m = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=10", "pattern=smpte", "!"])
        .args(["video/x-raw,format=I420,width=160,height=120,framerate=30/1", "!", "y4menc", "!", "fdsink", "fd=1"])
        .output()
        .unwrap();
    assert!(y4m.status.success(), "{}", String::from_utf8_lossy(&y4m.stderr));
    let y4m = y4m.stdout;
    let header_end = y4m.iter().position(|&b| b == b'\n').unwrap() + 1;
    let frame_len = 160 * 120 * 3 / 2;
    let frames: Vec<&[u8]> = y4m[header_end..].chunks(6 + frame_len).map(|c| &c[6..]).collect();
    assert_eq!(frames.len(), 10);
    let name = unique_name("gst-play");
    let mut rx = Consumer::new(&name).unwrap();
    let mut play = framering(&["play", &name, "--slots", "16"]).stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = play.stdin.take().unwrap();
    stdin.write_all(&y4m[..header_end + 6 + frame_len]).unwrap();
    stdin.flush().unwrap();
    let mut buf = FrameBuf::new();
    let deadline = Instant::now() + LONG;
    while rx.wait_next(&mut buf, Duration::from_millis(100)).is_err() {
        assert!(Instant::now() < deadline, "frame 1 never came");
    }
    assert!(buf.as_slice() == frames[0]);
    stdin.write_all(&y4m[header_end + 6 + frame_len..]).unwrap();
    drop(stdin);
    for want in &frames[1..] {
        rx.wait_next(&mut buf, LONG).unwrap();
        assert!(buf.as_slice() == *want, "a frame differs from GStreamer's");
    }
    assert!(finish(play, LONG).status.success());

    // cat → GStreamer: y4mdec gives back the I420 frames published, and the
    // arguments `cat --raw` prints make rawvideoparse read BGR frames.
    for (raw, info) in
        [(false, FrameInfo::new(64, 48, PixelFormat::I420)), (true, FrameInfo::new(64, 48, PixelFormat::Bgr24))]
    {
        let name = unique_name("gst-cat");
        let len = info.payload_len().unwrap().unwrap();
        let mut tx = Producer::create(&name, RingConfig::new(8, len)).unwrap();
        let mode = if raw { "--raw" } else { "--y4m" };
        let cat = framering(&["cat", &name, mode, "--every", "--frames", "4", "--fps", "25"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_readers(&name, 1);
        let published: Vec<Vec<u8>> = (1..=4).map(|n| bytes(len, n)).collect();
        for p in &published {
            tx.publish(info, p).unwrap();
        }
        let out = finish(cat, LONG);
        assert!(out.status.success());
        let element: Vec<String> = if raw {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err.lines().find_map(|l| l.split_once("or: gst-launch-1.0 fdsrc ! ")).map(|(_, p)| p.to_owned());
            let parse = line.expect(&err).split(" ! ").next().unwrap().to_owned();
            assert_eq!(parse, "rawvideoparse width=64 height=48 format=bgr framerate=25/1");
            parse.split(' ').map(str::to_owned).collect()
        } else {
            vec!["y4mdec".to_owned()]
        };
        let mut gst = Command::new("gst-launch-1.0")
            .args(["-q", "fdsrc", "fd=0", "!"])
            .args(&element)
            .args(["!", "fdsink", "fd=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = gst.stdin.take().unwrap();
        let data = out.stdout.clone();
        let writer = std::thread::spawn(move || input.write_all(&data));
        let got = finish(gst, LONG);
        writer.join().unwrap().unwrap();
        assert!(got.status.success());
        assert!(
            got.stdout == published.concat(),
            "{}: GStreamer read other bytes ({} of {})",
            mode,
            got.stdout.len(),
            len * 4
        );
    }
}

#[test]
fn a_size_change_ends_the_y4m_stream_unless_asked_to_restart() {
    for restart in [false, true] {
        let name = unique_name("cat-change");
        let mut tx = Producer::create(&name, RingConfig::new(8, 64 * 64)).unwrap();
        let mut args = vec!["cat", &name, "--every", "--frames", "3"];
        if restart {
            args.push("--restart");
        }
        let cat = framering(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        wait_for_readers(&name, 1);
        for (w, h) in [(64, 64), (64, 64), (32, 16)] {
            let info = FrameInfo::new(w, h, PixelFormat::Gray8);
            tx.publish(info, &vec![7; (w * h) as usize]).unwrap();
        }
        let out = finish(cat, LONG);
        let (text, err) = (out.stdout, String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "{err}");
        let headers = text.windows(9).filter(|w| w == b"YUV4MPEG2").count();
        if restart {
            assert_eq!(headers, 2, "{err}");
            assert!(text.ends_with(&[7; 32 * 16]));
        } else {
            let header = text.iter().position(|&b| b == b'\n').unwrap() + 1;
            assert_eq!((headers, text.len()), (1, header + 2 * (6 + 64 * 64)), "{err}");
            assert!(err.contains("frame 3 is 32x16 GRAY8, the stream is 64x64 GRAY8: ending it"), "{err}");
        }
    }
}

#[test]
fn play_loops_a_file_at_its_rate() {
    let dir = std::env::temp_dir().join(unique_name("loop"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("three.y4m");
    let frames: Vec<Vec<u8>> = (1..=3u8).map(|n| [b"FRAME\n".as_slice(), &[n; 16]].concat()).collect();
    std::fs::write(&file, [b"YUV4MPEG2 W4 H4 F100:1 Cmono\n".as_slice(), &frames.concat()].concat()).unwrap();
    let name = unique_name("play-loop");
    let mut rx = Consumer::new(&name).unwrap();
    let mut play = framering(&["play", &name, "--loop", "--realtime", "--slots", "64"])
        .stdin(std::fs::File::open(&file).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = FrameBuf::new();
    let mut seen = Vec::new();
    let deadline = Instant::now() + LONG;
    while seen.len() < 10 {
        match rx.wait_next(&mut buf, Duration::from_millis(100)) {
            Ok(meta) => seen.push((meta.info.format, buf[0])),
            Err(e) => assert!(e.is_transient() && Instant::now() < deadline, "{e}"),
        }
    }
    play.kill().unwrap();
    play.wait().unwrap();
    framering::admin::remove(&name, true).ok();
    let _ = std::fs::remove_dir_all(&dir);
    // Round and round: 1, 2, 3, 1, 2, … from wherever the consumer joined.
    assert!(seen.iter().all(|(f, _)| *f == PixelFormat::Gray8));
    assert!(seen.windows(2).all(|w| w[1].1 == w[0].1 % 3 + 1), "{seen:?}");
}
