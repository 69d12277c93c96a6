//! The `framering` command-line tool, run as a real process.
#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{pattern, shm_file, unique_name};
use framering::{Producer, RingConfig};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_framering")).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn live_ring(tag: &str, frames: u64) -> (String, Producer) {
    let name = unique_name(tag);
    let mut tx = Producer::create(&name, RingConfig::new(3, pattern::MAX_BYTES)).unwrap();
    for n in 1..=frames {
        tx.publish(pattern::info(n), &pattern::bytes(n)).unwrap();
    }
    (name, tx)
}

/// A ring whose producer is gone without closing it: the bytes of a live
/// ring under a new name, with nobody holding its lock.
fn dead_ring(tag: &str) -> String {
    let (live, _tx) = live_ring(tag, 2);
    let name = unique_name(tag);
    std::fs::write(shm_file(&name), std::fs::read(shm_file(&live)).unwrap()).unwrap();
    name
}

fn line_of<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} not in {text}"))
}

#[test]
fn ls_shows_each_ring_with_its_producer_format_and_consumers() {
    // Plants stale rings: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let (name, _tx) = live_ring("cli-ls", 5);
    let dead = dead_ring("cli-ls-dead");
    // A consumer in another process: `framering watch` reads the ring.
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_framering"))
        .args(["watch", &name, "--interval-ms", "100"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let table = loop {
        let table = stdout(&cli(&["ls"]));
        if line_of(&table, &name).split_whitespace().nth(7) == Some("1") || Instant::now() > deadline {
            break table;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    let row: Vec<&str> = line_of(&table, &name).split_whitespace().collect();
    let uid = rustix::process::geteuid().as_raw();
    let owner = if uid == 0 { "root".to_owned() } else { row[1].to_owned() };
    assert_eq!(row[1], owner, "{table}");
    assert_eq!(row[2], std::process::id().to_string(), "{table}");
    // Formats by name for people (issue 15: `ls` said the FourCC "GREY").
    assert_eq!(&row[3..6], ["alive", "GRAY8", "64x13"], "{table}");
    assert_eq!(row[7], "1", "one consumer: {table}");
    assert!(line_of(&table, &dead).contains(" dead "), "{table}");

    let json = stdout(&cli(&["ls", "--json"]));
    assert!(json.starts_with('[') && json.trim_end().ends_with(']'), "{json}");
    assert!(
        json.contains(&format!(
            "\"name\":\"{name}\",\"owner_uid\":{uid},\"mode\":\"0600\",\"producer_pid\":{},\"producer\":\"alive\"",
            std::process::id()
        )),
        "{json}"
    );
    assert!(json.contains(&format!("\"name\":\"{dead}\"")) && json.contains("\"producer\":\"dead\""), "{json}");
    // The FourCC is for programs: in --json, beside the name.
    assert!(json.contains("\"format\":\"GRAY8\",\"fourcc\":\"GREY\",\"size\":\"64x13\""), "{json}");
    framering::admin::remove(&dead, false).unwrap();
}

#[test]
fn info_shows_the_header_and_every_slot() {
    let (name, _tx) = live_ring("cli-info", 4);
    let text = stdout(&cli(&["info", &name]));
    assert!(text.contains("published        4 frames"), "{text}");
    assert!(text.contains("generation 1"), "{text}");
    // Three slots hold frames 4, 2 and 3 (frame n in slot n mod 3).
    for (slot, frame) in [(0, 3), (1, 4), (2, 2)] {
        assert!(text.contains(&format!("slot {slot:<11} frame {frame}: 64x")), "slot {slot}: {text}");
    }
    let json = stdout(&cli(&["info", &name, "--json"]));
    assert!(json.contains("\"published\":4") && json.contains("\"slot_count\":3"), "{json}");
    assert_eq!(json.matches("\"state\":\"frame\"").count(), 3, "{json}");
    let missing = cli(&["info", &unique_name("cli-none")]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no ring named"));
}

#[test]
fn watch_prints_one_line_per_interval() {
    let (name, mut tx) = live_ring("cli-watch", 1);
    // Frames come until `watch` has finished, however long it takes to start.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishing = stop.clone();
    let publisher = std::thread::spawn(move || {
        // Relaxed: a stop flag; no data rides on it.
        while !publishing.load(std::sync::atomic::Ordering::Relaxed) {
            pattern::publish_next(&mut tx);
            std::thread::sleep(Duration::from_millis(10));
        }
        tx
    });
    let out = cli(&["watch", &name, "--count", "2", "--interval-ms", "150", "--json"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _tx = publisher.join().unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines.iter().all(|l| l.contains(&format!("\"name\":\"{name}\",\"fps\":"))), "{text}");
    assert!(lines.iter().any(|l| !l.contains("\"frames\":0,")), "no frames seen: {text}");
}

#[test]
fn rm_refuses_a_live_ring_unless_forced() {
    let (name, _tx) = live_ring("cli-rm", 1);
    let refused = cli(&["rm", &name]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("live producer"));
    assert!(std::path::Path::new(&shm_file(&name)).exists());
    let forced = cli(&["rm", &name, "--force", "--json"]);
    assert!(forced.status.success());
    // The producer is not told: say that it goes on (issue 15).
    let pid = std::process::id();
    assert_eq!(stdout(&forced).trim(), format!("{{\"removed\":\"{name}\",\"live_producer_pid\":{pid}}}"));
    assert!(!std::path::Path::new(&shm_file(&name)).exists());
}

#[test]
fn clean_removes_rings_of_dead_producers_and_keeps_live_ones() {
    // Plants stale rings: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    // Every ring of this test starts with `prefix`, and `clean` is limited to
    // it, so rings of tests running in parallel (or a user's) are left alone.
    let prefix = unique_name("cli-clean");
    let live = format!("{prefix}-live");
    let _tx = Producer::create(&live, RingConfig::new(2, 64)).unwrap();
    let dead = format!("{prefix}-dead");
    std::fs::write(shm_file(&dead), std::fs::read(shm_file(&live)).unwrap()).unwrap();
    let garbage = format!("{prefix}-garbage");
    std::fs::write(shm_file(&garbage), b"not a ring").unwrap();
    let outsider = dead_ring("cli-clean-outsider");

    let text = stdout(&cli(&["clean", &prefix]));
    assert!(text.contains(&format!("removed {dead}")), "{text}");
    assert!(text.contains(&format!("removed {garbage}")), "{text}");
    assert!(!text.contains(&live) && !text.contains(&outsider), "{text}");
    assert!(std::path::Path::new(&shm_file(&live)).exists());
    assert!(std::path::Path::new(&shm_file(&outsider)).exists());
    assert!(!std::path::Path::new(&shm_file(&dead)).exists());
    assert_eq!(stdout(&cli(&["clean", &prefix, "--json"])).trim(), "{\"removed\":[]}");
    framering::admin::remove(&outsider, false).unwrap();
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &["frobnicate"][..],
        &["info"],
        &["rm", "a", "b"],
        &["ls", "extra"],
        &["watch", "x", "--count"],
        &["clean", "a", "b"],
        // A ring's slot count is checked where every command checks it (1
        // got as far as making the ring, which refused it: exit status 1).
        &["play", "x", "--raw", "--size", "2x2", "--format", "gray8", "--slots", "1"],
        &["play", "x", "--raw", "--size", "2x2", "--format", "gray8", "--slots", "1025"],
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(cli(&["--help"]).status.success());
    // Issue 15: `framering` alone exited 0, and `framering help` was an
    // unknown command.
    let bare = cli(&[]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("Usage: framering"), "{bare:?}");
    let help = cli(&["help"]);
    assert!(help.status.success() && stdout(&help).contains("Usage: framering"), "{help:?}");
}

#[test]
fn a_command_s_help_shows_its_own_options_only() {
    // Issue 23: `serve --help` printed the whole usage of every command.
    for (command, own, foreign) in
        [("serve", "--max-clients", "--interval-ms"), ("watch", "--interval-ms", "--max-clients")]
    {
        for args in [&[command, "--help"][..], &["help", command]] {
            let out = cli(args);
            let text = stdout(&out);
            assert!(out.status.success(), "{args:?}: {out:?}");
            assert!(text.contains(&format!("Usage: framering {command}")), "{args:?}: {text}");
            assert!(text.contains(own) && !text.contains(foreign), "{args:?}: {text}");
        }
    }
}

#[test]
fn a_mistyped_command_or_option_gets_a_suggestion() {
    let out = cli(&["lss"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a similar subcommand exists: 'ls'"), "{out:?}");
    let out = cli(&["watch", "x", "--interval", "100"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a similar argument exists: '--interval-ms'"), "{out:?}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, says) in [("bash", "complete -F"), ("zsh", "#compdef framering"), ("fish", "complete -c framering")] {
        let out = cli(&["completions", shell]);
        let text = stdout(&out);
        assert!(out.status.success(), "{shell}: {out:?}");
        assert!(text.contains(says) && text.contains("max-clients"), "{shell}: {text}");
    }
    assert_eq!(cli(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn errors_are_json_under_json() {
    let missing = unique_name("cli-json-missing");
    let out = cli(&["info", &missing, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), format!("{{\"error\":\"no ring named \\\"{missing}\\\"\",\"exit_code\":1}}"));
    let usage = cli(&["watch", "x", "--count", "many", "--json"]);
    assert_eq!(usage.status.code(), Some(2));
    let err = String::from_utf8_lossy(&usage.stderr);
    let err: serde_json::Value = serde_json::from_str(&err).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(err["exit_code"], 2);
    assert_eq!(err["error"], "invalid value 'many' for '--count <N>': invalid digit found in string");
}

#[test]
fn watch_on_a_dead_ring_reports_no_traffic_and_says_so() {
    // Issue 15: the stale last frame read as "1.0 fps … latency 1682 ms".
    // Plants a stale ring: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let dead = dead_ring("cli-watch-dead");
    let out = cli(&["watch", &dead, "--count", "2", "--interval-ms", "100", "--json"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{out:?}");
    for line in text.lines() {
        assert!(line.contains("\"fps\":0.0,\"frames\":0,"), "{text}");
        assert!(line.ends_with("\"note\":\"producer dead\"}"), "{text}");
    }
    assert_eq!(text.lines().count(), 2, "{text}");
    framering::admin::remove(&dead, false).unwrap();
}

#[test]
fn ls_and_info_say_a_ring_with_impossible_slot_metadata_is_corrupt() {
    // Plants a hostile object: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let dead = dead_ring("cli-corrupt");
    let mut bytes = std::fs::read(shm_file(&dead)).unwrap();
    let stride = framering::layout::Geometry::new(3, pattern::MAX_BYTES as u64).unwrap().slot_stride as usize;
    // Slot 1's width (offset 40 in the slot header) becomes absurd.
    bytes[256 + stride + 40..][..4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    std::fs::write(shm_file(&dead), bytes).unwrap();
    let table = stdout(&cli(&["ls"]));
    let row: Vec<&str> = line_of(&table, &dead).split_whitespace().collect();
    assert_eq!(&row[3..6], ["dead", "corrupt", "-"], "{table}");
    let info = stdout(&cli(&["info", &dead]));
    assert!(info.contains("slot 1           corrupt (claims frame"), "{info}");
    let json = stdout(&cli(&["info", &dead, "--json"]));
    assert!(json.contains("{\"state\":\"corrupt\",\"frame\":"), "{json}");
    framering::admin::remove(&dead, false).unwrap();
}

#[test]
#[cfg(not(feature = "redis"))]
fn bridge_without_the_redis_feature_says_how_to_get_it() {
    let out = cli(&["bridge", "out", "cam0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features redis"), "{out:?}");
}

#[test]
#[cfg(feature = "redis")]
fn bridge_usage_errors_exit_with_2_and_bad_settings_with_1() {
    for args in [
        &["bridge"][..],
        &["bridge", "sideways", "cam0"],
        &["bridge", "out"],
        &["bridge", "out", "cam0", "--jpeg-quality", "high"],
        &["bridge", "in", "cam0", "--mode", "rw"],
        &["bridge", "in", "cam0", "--bogus"],
        // Out of range: refused whole, never truncated (4294967298 as u32
        // would have been a 2-slot ring).
        &["bridge", "out", "cam0", "--jpeg-quality", "0"],
        &["bridge", "out", "cam0", "--maxlen", "0"],
        &["bridge", "in", "cam0", "--slots", "1"],
        &["bridge", "in", "cam0", "--slots", "4294967298"],
        &["bridge", "in", "cam0", "--max-frame-bytes", "0"],
        &["bridge", "in", "cam0", "--interval-ms", "0"],
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    for (args, says) in [
        (&["bridge", "out", "cam0", "--redis", "nonsense"][..], "redis URL"),
        (&["bridge", "in", "cam0", "--mode", "0777", "--redis", "nonsense"], "redis URL"),
    ] {
        let out = cli(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Runs `bridge out RING --redis URL` until a line containing `until` is
/// printed (bounded by a generous deadline, never by a fixed sleep), then
/// stops it with SIGINT and returns everything it printed.
#[cfg(feature = "redis")]
fn bridge_out_until(url: &str, ring: &str, until: &str) -> String {
    bridge_out_until_with(&[], url, ring, until)
}

/// [`bridge_out_until`] with `extra` arguments.
#[cfg(feature = "redis")]
fn bridge_out_until_with(extra: &[&str], url: &str, ring: &str, until: &str) -> String {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_framering"))
        .args(["bridge", "out", ring, "--redis", url, "--interval-ms", "100"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text.lines().any(|l| l.contains(until)) {
        assert!(Instant::now() < deadline, "no line with {until:?} in {text}");
        match lines.next() {
            Some(line) => text += &(line.unwrap() + "\n"),
            None => panic!("bridge out exited early: {text}"),
        }
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    lines.for_each(|line| text += &(line.unwrap() + "\n"));
    assert!(child.wait().unwrap().success(), "{text}");
    text
}

#[test]
#[cfg(feature = "redis")]
fn bridge_says_what_it_waits_for() {
    // Nothing listening on port 1: Redis is the problem, so the ring (absent
    // or not) is not blamed.
    // A status line after the outage was reported: at least one interval passed.
    let text = bridge_out_until("redis://127.0.0.1:1", "no-such-ring", "out:");
    assert!(text.contains("redis down: ") && text.contains("(retrying)"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("out:") && l.contains("redis down")), "{text}");
    assert!(!text.contains("waiting for ring"), "{text}");
    // With Redis up, a ring nobody created is what it waits for.
    let redis = common::redis_server::RedisServer::start();
    let text = bridge_out_until(&redis.url(), "no-such-ring", "waiting for ring");
    assert!(text.contains("waiting for ring \"no-such-ring\""), "{text}");
}

/// `text` as one JSON value, or the test fails saying why.
fn parsed(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The keys of a JSON object, in order.
fn keys(value: &serde_json::Value) -> Vec<&str> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().map(String::as_str).collect()
}

#[test]
fn every_json_output_parses_with_its_field_names() {
    let (name, tx) = live_ring("cli-json-all", 3);
    let ls = parsed(&stdout(&cli(&["ls", "--json"])));
    let row = ls.as_array().unwrap().iter().find(|r| r["name"] == name.as_str()).expect("the ring is listed");
    let row_keys = [
        "name",
        "owner_uid",
        "mode",
        "producer_pid",
        "producer",
        "format",
        "fourcc",
        "size",
        "fps",
        "consumers",
        "age_s",
        "published",
    ];
    assert_eq!(keys(row), row_keys);
    assert_eq!((row["producer"].as_str(), row["published"].as_u64()), (Some("alive"), Some(3)));

    let info = parsed(&stdout(&cli(&["info", &name, "--json"])));
    let info_keys = [
        "name",
        "producer",
        "producer_pid",
        "generation",
        "age_s",
        "published",
        "fps",
        "slot_count",
        "max_frame_bytes",
        "segment_size",
        "owner_uid",
        "mode",
        "consumers",
        "pages",
        "slots",
    ];
    assert_eq!(keys(&info), info_keys);
    let slots = info["slots"].as_array().unwrap();
    assert!(slots.iter().all(|s| s["state"].is_string()), "{info}");
    let frame = slots.iter().find(|s| s["state"] == "frame").expect("a frame slot");
    assert_eq!(keys(frame), ["state", "frame", "age_ms", "width", "height", "format", "fourcc", "len"]);

    let watch = cli(&["watch", &name, "--count", "1", "--interval-ms", "10", "--json"]);
    let line = parsed(&stdout(&watch));
    let watch_keys = ["name", "fps", "frames", "dropped", "latency_p50_us", "latency_max_us", "last_frame", "note"];
    assert_eq!(keys(&line), watch_keys);

    let rm = parsed(&stdout(&cli(&["rm", &name, "--force", "--json"])));
    assert_eq!(rm, serde_json::json!({ "removed": name, "live_producer_pid": std::process::id() }));
    drop(tx);
    let clean = parsed(&stdout(&cli(&["clean", &name, "--json"])));
    assert_eq!(keys(&clean), ["removed"]);

    // Errors, of the operation (1) and of usage (2), on stderr.
    for (args, code) in [(&["info", "cli-json-none-\"quoted\"\n", "--json"][..], 1), (&["ls", "--bogus", "--json"], 2)]
    {
        let out = cli(args);
        let err = parsed(&String::from_utf8_lossy(&out.stderr));
        assert_eq!((keys(&err), out.status.code()), (vec!["error", "exit_code"], Some(code)), "{args:?}");
        assert_eq!(err["exit_code"], code);
    }
}

#[test]
#[cfg(feature = "redis")]
fn the_bridge_s_json_lines_parse() {
    // Nothing listening on port 1: a redis_down event, then status lines.
    let text = bridge_out_until_with(&["--json"], "redis://127.0.0.1:1", "no-such-ring", "\"direction\"");
    let lines: Vec<serde_json::Value> = text.lines().map(parsed).collect();
    assert!(lines.iter().any(|l| l["event"] == "redis_down" && l["error"].is_string()), "{text}");
    let status = lines.iter().find(|l| l["direction"] == "out").unwrap();
    let status_keys =
        ["direction", "fps", "frames", "dropped", "rejected", "mb_per_s", "redis_up", "reconnects", "last_error"];
    assert_eq!(keys(status), status_keys);
}

#[test]
fn names_that_look_like_options_are_addressed_after_a_double_dash() {
    // Defect: `rm --json` / `info --force` took the name for a switch.
    let name = format!("--json-{}", std::process::id());
    let tx = Producer::create(&name, RingConfig::new(2, 64)).unwrap();
    let plain = cli(&["info", &name]);
    assert_eq!(plain.status.code(), Some(2), "{plain:?}");
    assert!(String::from_utf8_lossy(&plain.stderr).contains(&format!("unexpected argument '{name}'")), "{plain:?}");
    let info = cli(&["info", "--", &name]);
    assert!(info.status.success(), "{info:?}");
    assert!(stdout(&info).contains(&format!("ring             {name}")), "{}", stdout(&info));
    let json = cli(&["info", "--json", "--", &name]);
    assert!(stdout(&json).starts_with(&format!("{{\"name\":\"{name}\"")), "{}", stdout(&json));
    let rm = cli(&["rm", "--force", "--", &name]);
    assert!(rm.status.success(), "{rm:?}");
    assert!(!std::path::Path::new(&shm_file(&name)).exists());
    drop(tx);
}

#[test]
fn numeric_options_are_range_checked_never_truncated() {
    for args in [
        &["watch", "x", "--interval-ms", "0"][..],
        &["watch", "x", "--interval-ms", "99999999999999999999"],
        &["watch", "x", "--count", "-1"],
        &["watch", "x", "--count", "many"],
    ] {
        let out = cli(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        // clap takes "-1" for an option, so it is refused as one.
        let refused =
            [format!("invalid value '{}' for '{} <", args[3], args[2]), format!("unexpected argument '{}'", args[3])];
        assert!(refused.iter().any(|r| err.contains(r.as_str())), "{args:?}: {err}");
    }
}

#[test]
fn cat_into_a_v4l2_device_is_checked_before_any_frame() {
    // Refused as usage (2), whatever the build.
    for (args, says) in [
        (&["cat", "v4l2-usage", "--mjpeg"][..], "required arguments were not provided:\n  --v4l2 <DEV>"),
        (&["cat", "v4l2-usage", "--v4l2", "/dev/null", "--raw"], "'--v4l2 <DEV>' cannot be used with '--raw'"),
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}: {out:?}");
    }
    // Not a V4L2 device: a clear failure at once, not a wait for frames
    // (the ring does not exist). Without the feature: what is missing.
    let out = cli(&["cat", &unique_name("v4l2-null"), "--v4l2", "/dev/null"]);
    let err = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "v4l") {
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(err.contains("/dev/null is not a V4L2 device"), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(err.contains("needs framering built with the `v4l` feature"), "{err}");
    }
}

/// `framering play ARGS` with `stdin` as its input.
fn play(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_framering"))
        .arg("play")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may refuse before reading everything: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    common::finish(child, Duration::from_secs(30))
}

#[test]
fn play_caps_the_ring_a_header_asks_for_and_refuses_rates_no_clock_can_keep() {
    // Defects: a legal header `W32768 H16384 C420` made a 3.2 GB ring before
    // any pixel arrived (SIGBUS on a small /dev/shm, a dead ring left); a
    // rate of `F1:1e300` or `--fps 1e-300` with --realtime panicked in a
    // Duration conversion (exit 101).
    let name = unique_name("cli-play-cap");
    let huge = play(&[&name], b"YUV4MPEG2 W32768 H16384 F30:1 C420\nFRAME\n");
    let text = String::from_utf8_lossy(&huge.stderr);
    assert_eq!(huge.status.code(), Some(1), "{text}");
    assert!(text.contains("--max-ring-mib 1024") && text.contains("3072 MiB ring"), "{text}");
    assert!(!std::path::Path::new(&shm_file(&name)).exists(), "no ring is made");

    // Raised on purpose, a large header passes the cap (192 MiB here).
    let header = b"YUV4MPEG2 W8192 H8192 F30:1 C420\n";
    let capped = play(&[&name, "--slots", "2", "--max-ring-mib", "100"], header);
    assert!(String::from_utf8_lossy(&capped.stderr).contains("192 MiB ring"));
    let small = play(&[&name, "--slots", "2", "--max-ring-mib", "256"], header);
    let text = String::from_utf8_lossy(&small.stderr);
    assert_eq!(small.status.code(), Some(0), "an empty stream after a good header is a clean end: {text}");
    assert!(!std::path::Path::new(&shm_file(&name)).exists());

    let tiny_rate = play(&[&name, "--realtime"], b"YUV4MPEG2 W4 H4 F1:1e300 C420\nFRAME\n");
    let text = String::from_utf8_lossy(&tiny_rate.stderr);
    assert_eq!(tiny_rate.status.code(), Some(1), "{text}");
    assert!(text.contains("F1:1e300") && text.contains("not within"), "{text}");
    let tiny_fps = play(&[&name, "--realtime", "--fps", "1e-300"], b"YUV4MPEG2 W4 H4 F30:1 C420\nFRAME\n");
    let text = String::from_utf8_lossy(&tiny_fps.stderr);
    assert_eq!(tiny_fps.status.code(), Some(2), "a usage error: {text}");
    assert!(text.contains("--fps"), "{text}");
    assert!(!std::path::Path::new(&shm_file(&name)).exists());
}
