//! The examples and the `framering` command on Windows, as real processes
//! (under Wine in CI: `.ci/windows/run`, which builds the examples and the
//! command first). The library's own tests (ring_api, cross_process,
//! threads, the unit tests) run there as well; these cover what on Linux
//! tests/examples.rs and tests/cli.rs do, where those use Linux only
//! (signals, /proc, /dev/shm).
#![cfg(windows)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{consumer_example as consumer, producer_example as producer};
use common::{field, finish, summary, unique_name};
use framering::{FrameInfo, PixelFormat, Producer, RingConfig};

const LONG: Duration = Duration::from_secs(60);

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_framering")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_consumer_example_verifies_every_frame_of_the_producer_example() {
    let ring = unique_name("win-examples");
    let mut tx = producer(&ring, &["--fps", "200"]);
    common::check_fast_and_slow_consumers(&ring);
    tx.kill().unwrap();
    tx.wait().unwrap();
}

#[test]
fn a_consumer_example_waits_for_its_producer_and_follows_a_new_one() {
    let ring = unique_name("win-follow");
    let rx = consumer(&ring, &["--frames", "40"]);
    let mut first = producer(&ring, &["--fps", "100", "--frames", "20"]);
    assert!(first.wait().unwrap().success());
    let mut second = producer(&ring, &["--fps", "100"]);
    let line = summary(&finish(rx, LONG));
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!((field(&line, "frames"), field(&line, "torn")), (40, 0), "{line}");
}

#[test]
fn ls_info_and_cat_raw_see_a_live_ring() {
    let name = unique_name("win-cli");
    let mut tx = Producer::create(&name, RingConfig::new(3, 64 * 4)).unwrap();
    let info = FrameInfo::new(16, 4, PixelFormat::Gray8);
    for value in 1..=2u8 {
        tx.publish(info, &[value; 64]).unwrap();
    }
    let table = stdout(&cli(&["ls"]));
    let row = table.lines().find(|l| l.split_whitespace().next() == Some(name.as_str()));
    let row = row.unwrap_or_else(|| panic!("{name} not in:\n{table}"));
    assert!(row.contains("alive"), "{row}");

    let text = stdout(&cli(&["info", &name]));
    assert!(text.contains("alive") && text.contains("2 frames"), "{text}");
    let me = framering::admin::current_uid().to_string();
    assert!(
        text.contains(&format!("-{me} (uid {me})")) && text.contains("owner            S-1-"),
        "info names the owner's SID ({me}):\n{text}"
    );
    let watch = stdout(&cli(&["watch", &name, "--count", "1", "--interval-ms", "100"]));
    assert!(watch.starts_with(&format!("{name}:")) && watch.contains("(frame 2)"), "{watch}");
    let json = stdout(&cli(&["info", &name, "--json"]));
    assert!(json.contains("\"published\":2"), "{json}");

    // The newest frame, raw, then the command ends (--frames 1).
    let out = cli(&["cat", &name, "--raw", "--frames", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, vec![2u8; 64]);
    drop(tx);
    let table = stdout(&cli(&["ls"]));
    assert!(!table.lines().any(|l| l.split_whitespace().next() == Some(name.as_str())), "{table}");
}

#[test]
fn play_makes_a_ring_that_cat_reads_back() {
    use std::io::Write;
    let name = unique_name("win-play");
    // A 16x4 GRAY8 frame per 64 bytes; three frames, then the input ends.
    let input: Vec<u8> = (1..=3u8).flat_map(|v| [v; 64]).collect();
    let cat = Command::new(env!("CARGO_BIN_EXE_framering"))
        .args(["cat", &name, "--raw", "--every", "--frames", "3", "--timeout", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut play = Command::new(env!("CARGO_BIN_EXE_framering"))
        .args(["play", &name, "--raw", "--size", "16x4", "--format", "GRAY8", "--fps", "20", "--realtime"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    play.stdin.take().unwrap().write_all(&input).unwrap();
    let played = finish(play, LONG);
    assert!(played.status.success(), "{}", String::from_utf8_lossy(&played.stderr));
    let out = finish(cat, LONG);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, input, "cat --every gives back every frame played");
}

#[test]
fn rm_refuses_a_live_ring_and_clean_removes_a_dead_one() {
    let name = unique_name("win-rm");
    let tx = Producer::create(&name, RingConfig::new(2, 64)).unwrap();
    let refused = cli(&["rm", &name]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("live producer"), "{refused:?}");
    drop(tx);
    // A producer process killed while a reader holds its ring leaves a dead
    // ring (nothing held, it would be gone with the producer).
    let dead = unique_name("win-dead");
    let mut child = producer(&dead, &["--fps", "50"]);
    let rx = {
        let start = std::time::Instant::now();
        loop {
            match framering::Consumer::open(&dead) {
                Ok(rx) => break rx,
                Err(e) if e.is_transient() && start.elapsed() < LONG => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("{e}"),
            }
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(rx.producer_state().unwrap(), framering::ProducerState::Dead);
    let table = stdout(&cli(&["ls"]));
    assert!(table.lines().any(|l| l.starts_with(&dead) && l.contains("dead")), "{table}");
    let cleaned = stdout(&cli(&["clean", &dead]));
    assert!(cleaned.contains(&dead), "{cleaned}");
    let table = stdout(&cli(&["ls"]));
    assert!(!table.lines().any(|l| l.starts_with(&dead)), "{table}");
    assert!(matches!(framering::Consumer::open(&dead), Err(framering::Error::NotFound { .. })));
}

#[cfg(feature = "jpeg")]
#[test]
fn serve_answers_a_still_of_a_live_ring_over_http() {
    use std::io::{BufRead, BufReader, Read, Write};
    let name = unique_name("win-serve");
    let mut tx = Producer::create(&name, RingConfig::new(2, 64 * 48 * 3)).unwrap();
    tx.publish(FrameInfo::new(64, 48, PixelFormat::Bgr24), &[0x80; 64 * 48 * 3]).unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_framering"))
        .args(["serve", &name, "--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "framering serve: http://127.0.0.1:PORT/ (…)"
    let mut line = String::new();
    BufReader::new(serve.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default().to_owned();
    let mut http = std::net::TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{addr:?} from {line:?}: {e}"));
    http.set_read_timeout(Some(LONG)).unwrap();
    write!(http, "GET /{name}.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    http.read_to_end(&mut answer).unwrap();
    serve.kill().unwrap();
    serve.wait().unwrap();
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer") + 4;
    let head = String::from_utf8_lossy(&answer[..head_end]);
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("image/jpeg"), "{head}");
    assert_eq!(&answer[head_end..head_end + 2], &[0xFF, 0xD8], "a JPEG follows");
}
