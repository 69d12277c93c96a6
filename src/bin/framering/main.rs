//! `framering`: list, inspect, watch and remove the rings on this machine,
//! and bridge them through Redis (feature `redis`).

mod args;
#[cfg(feature = "redis")]
mod bridge;

use std::time::{Duration, Instant};

use args::Args;
use framering::admin::{self, RingStatus, SlotState};
use framering::{Consumer, Error, FrameBuf, ProducerState, monotonic_ns};

const USAGE: &str = "\
usage: framering <command> [options]

  ls                   every ring: name, producer pid and state, format, size, fps,
                       consumers, age
  info NAME            the whole header and every slot's state
  watch NAME           one line per interval: fps, frames, dropped, latency
                       (--interval-ms MS, default 1000; --count N lines, default: until Ctrl-C)
  rm NAME [--force]    remove a ring; refused while its producer is alive unless --force
  clean [PREFIX]       remove every ring (whose name starts with PREFIX) whose
                       producer died or closed it
  bridge out RING      send the ring's frames to a Redis stream (feature `redis`)
         [--redis URL] [--stream KEY] [--maxlen N] [--jpeg-quality Q] [--compat-keys]
  bridge in RING       publish a Redis stream's frames into a local ring
         [--redis URL] [--stream KEY] [--slots N] [--mode OCTAL] [--max-frame-bytes N]
                       Both print a status line every --interval-ms (1000) and run
                       until Ctrl-C, or for --frames N frames. Defaults: --redis
                       redis://127.0.0.1:6379, --stream framering:RING, --maxlen 4.

Every command takes --json for machine-readable output. A ring name that starts
with '-' goes after --, e.g. `framering rm -- --odd-name`.";

/// A failure: message and exit code (1: operation failed, 2: usage).
pub(crate) struct Failure(String, i32);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self(e.to_string(), 1)
    }
}

pub(crate) fn usage(msg: &str) -> Failure {
    Failure(format!("{msg}\n\n{USAGE}"), 2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    if let Err(Failure(msg, code)) = run(args) {
        eprintln!("framering: {msg}");
        std::process::exit(code);
    }
}

impl From<String> for Failure {
    /// A usage error from the argument parser.
    fn from(msg: String) -> Self {
        usage(&msg)
    }
}

/// How long between two `watch` lines (or bridge status lines).
pub(crate) const INTERVAL_MS: std::ops::RangeInclusive<u64> = 10..=3_600_000;

fn run(args: Vec<String>) -> Result<(), Failure> {
    let (command, rest) = args.split_first().expect("checked non-empty");
    let mut words = Args::new(rest.iter().cloned());
    let json = words.flag("--json");
    match command.as_str() {
        "ls" => {
            words.finish()?;
            ls(json)
        }
        "info" => info(&words.name("info")?, json),
        "watch" => {
            let interval = Duration::from_millis(words.number("--interval-ms", 1000, INTERVAL_MS)?);
            let count = words.number("--count", 0, 0..=u64::MAX)?;
            watch(&words.name("watch")?, interval, count, json)
        }
        "rm" => {
            let force = words.flag("--force");
            rm(&words.name("rm")?, force, json)
        }
        "clean" => clean(&words.optional_name("clean")?.unwrap_or_default(), json),
        #[cfg(feature = "redis")]
        "bridge" => bridge::run(words, json),
        #[cfg(not(feature = "redis"))]
        "bridge" => Err(Failure(
            "this build has no Redis bridge; build with `--features redis` (cargo run --features redis --bin framering -- bridge …)".into(),
            2,
        )),
        other => Err(usage(&format!("unknown command {other:?}"))),
    }
}

// ------------------------------------------------------------ formatting

fn state_word(s: ProducerState) -> &'static str {
    match s {
        ProducerState::Alive => "alive",
        ProducerState::Closed => "closed",
        ProducerState::Dead => "dead",
        _ => "unknown",
    }
}

/// A JSON string literal.
pub(crate) fn js(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn format_word(slot: Option<SlotState>) -> (String, String) {
    match slot {
        Some(SlotState::Frame { width, height, format, .. }) => {
            (format.map_or("?".to_owned(), |f| f.to_string()), format!("{width}x{height}"))
        }
        _ => ("-".to_owned(), "-".to_owned()),
    }
}

/// A user's name from /etc/passwd, or the number.
fn owner(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn age_secs(status: &RingStatus, now: u64) -> f64 {
    now.saturating_sub(status.started_ns) as f64 / 1e9
}

// ------------------------------------------------------------ commands

fn ls(json: bool) -> Result<(), Failure> {
    let now = monotonic_ns();
    let mut rows = Vec::new();
    for name in admin::list()? {
        rows.push((name.clone(), admin::status(&name)));
    }
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(name, st)| match st {
                Ok(s) => {
                    let (format, size) = format_word(s.newest());
                    format!(
                        "{{\"name\":{},\"owner_uid\":{},\"mode\":{},\"producer_pid\":{},\"producer\":{},\"format\":{},\"size\":{},\"fps\":{:.1},\"consumers\":{},\"age_s\":{:.1},\"published\":{}}}",
                        js(name),
                        s.owner_uid,
                        js(&format!("{:04o}", s.mode)),
                        s.producer_pid,
                        js(state_word(s.producer)),
                        js(&format),
                        js(&size),
                        s.fps(now),
                        admin::consumers(s),
                        age_secs(s, now),
                        s.published
                    )
                }
                Err(e) => format!("{{\"name\":{},\"error\":{}}}", js(name), js(&e.to_string())),
            })
            .collect();
        println!("[{}]", items.join(","));
        return Ok(());
    }
    println!(
        "{:<24} {:>8} {:>8} {:<7} {:<6} {:>11} {:>7} {:>9} {:>9}",
        "NAME", "OWNER", "PID", "STATE", "FORMAT", "SIZE", "FPS", "CONSUMERS", "AGE"
    );
    for (name, st) in &rows {
        match st {
            Ok(s) => {
                let (format, size) = format_word(s.newest());
                println!(
                    "{:<24} {:>8} {:>8} {:<7} {:<6} {:>11} {:>7.1} {:>9} {:>8.1}s",
                    name,
                    owner(s.owner_uid),
                    s.producer_pid,
                    state_word(s.producer),
                    format,
                    size,
                    s.fps(now),
                    admin::consumers(s),
                    age_secs(s, now)
                );
            }
            Err(e) => println!("{name:<24} unreadable: {e}"),
        }
    }
    Ok(())
}

fn info(name: &str, json: bool) -> Result<(), Failure> {
    let s = admin::status(name)?;
    let now = monotonic_ns();
    let slot_json = |slot: &SlotState| match *slot {
        SlotState::Writing => "{\"state\":\"writing\"}".to_owned(),
        SlotState::Empty => "{\"state\":\"empty\"}".to_owned(),
        SlotState::Frame { frame, publish_ns, width, height, format, len } => format!(
            "{{\"state\":\"frame\",\"frame\":{frame},\"age_ms\":{:.3},\"width\":{width},\"height\":{height},\"format\":{},\"len\":{len}}}",
            now.saturating_sub(publish_ns) as f64 / 1e6,
            js(&format.map_or("?".to_owned(), |f| f.to_string()))
        ),
        _ => "{\"state\":\"unknown\"}".to_owned(),
    };
    if json {
        let slots: Vec<String> = s.slot_states.iter().map(slot_json).collect();
        println!(
            "{{\"name\":{},\"producer\":{},\"producer_pid\":{},\"generation\":{},\"age_s\":{:.1},\"published\":{},\"fps\":{:.1},\"slot_count\":{},\"max_frame_bytes\":{},\"segment_size\":{},\"owner_uid\":{},\"mode\":{},\"consumers\":{},\"slots\":[{}]}}",
            js(&s.name),
            js(state_word(s.producer)),
            s.producer_pid,
            s.generation,
            age_secs(&s, now),
            s.published,
            s.fps(now),
            s.slots,
            s.max_frame_bytes,
            s.segment_size,
            s.owner_uid,
            js(&format!("{:04o}", s.mode)),
            admin::consumers(&s),
            slots.join(",")
        );
        return Ok(());
    }
    println!("ring             {}", s.name);
    println!(
        "producer         pid {} ({}), generation {}, for {:.1}s",
        s.producer_pid,
        state_word(s.producer),
        s.generation,
        age_secs(&s, now)
    );
    println!("published        {} frames, {:.1} fps", s.published, s.fps(now));
    println!("slots            {} of {} bytes (segment {} bytes)", s.slots, s.max_frame_bytes, s.segment_size);
    println!("owner            {} (uid {}), mode {:04o}", owner(s.owner_uid), s.owner_uid, s.mode);
    println!("consumers        {}", admin::consumers(&s));
    for (i, slot) in s.slot_states.iter().enumerate() {
        let text = match *slot {
            SlotState::Writing => "writing".to_owned(),
            SlotState::Empty => "empty".to_owned(),
            SlotState::Frame { frame, publish_ns, width, height, format, len } => format!(
                "frame {frame}: {width}x{height} {} {len} bytes, published {:.1} ms ago",
                format.map_or("?".to_owned(), |f| f.to_string()),
                now.saturating_sub(publish_ns) as f64 / 1e6
            ),
            _ => "unknown".to_owned(),
        };
        println!("slot {i:<11} {text}");
    }
    Ok(())
}

fn watch(name: &str, interval: Duration, count: u64, json: bool) -> Result<(), Failure> {
    let mut rx = Consumer::open(name)?;
    let mut buf = FrameBuf::new();
    let mut lines = 0;
    while count == 0 || lines < count {
        let start = Instant::now();
        let (dropped_before, mut frames, mut latencies) = (rx.dropped(), 0u64, Vec::new());
        let mut note = String::new();
        while let Some(left) = interval.checked_sub(start.elapsed()) {
            match rx.wait_latest(&mut buf, left) {
                Ok(meta) => {
                    frames += 1;
                    let born = meta.info.capture_ns.unwrap_or(meta.publish_ns);
                    latencies.push(monotonic_ns().saturating_sub(born) as f64 / 1e3);
                }
                Err(Error::Timeout) => break,
                Err(e @ (Error::Closed | Error::ProducerDead)) => note = e.to_string(),
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e.into()),
            }
        }
        latencies.sort_by(f64::total_cmp);
        let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(0.0);
        let max = latencies.last().copied().unwrap_or(0.0);
        let fps = frames as f64 / start.elapsed().as_secs_f64();
        let dropped = rx.dropped() - dropped_before;
        if json {
            println!(
                "{{\"name\":{},\"fps\":{fps:.1},\"frames\":{frames},\"dropped\":{dropped},\"latency_p50_us\":{p50:.1},\"latency_max_us\":{max:.1},\"last_frame\":{},\"note\":{}}}",
                js(name),
                rx.last_frame(),
                js(&note)
            );
        } else {
            println!(
                "{name}: {fps:6.1} fps  {frames} frames  {dropped} dropped  latency p50 {:.2} ms  max {:.2} ms  (frame {}){}",
                p50 / 1e3,
                max / 1e3,
                rx.last_frame(),
                if note.is_empty() { String::new() } else { format!("  [{note}]") }
            );
        }
        lines += 1;
    }
    Ok(())
}

fn rm(name: &str, force: bool, json: bool) -> Result<(), Failure> {
    match admin::remove(name, force) {
        Ok(()) if json => println!("{{\"removed\":{}}}", js(name)),
        Ok(()) => println!("removed {name}"),
        Err(Error::ProducerExists { pid, .. }) => {
            return Err(Failure(
                format!("ring '{name}' has a live producer (pid {pid}); use --force to remove it anyway"),
                1,
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

fn clean(prefix: &str, json: bool) -> Result<(), Failure> {
    let removed = admin::clean(prefix)?;
    if json {
        let items: Vec<String> = removed.iter().map(|n| js(n)).collect();
        println!("{{\"removed\":[{}]}}", items.join(","));
    } else if removed.is_empty() {
        println!("nothing to clean");
    } else {
        removed.iter().for_each(|n| println!("removed {n}"));
    }
    Ok(())
}
