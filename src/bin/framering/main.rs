//! `framering`: list, inspect, watch and remove the rings on this machine,
//! and bridge them through Redis (feature `redis`).

mod args;
#[cfg(feature = "redis")]
mod bridge;
mod commands;
#[cfg(all(feature = "v4l", target_os = "linux"))]
mod fourcc;
mod output;
mod pipe;
#[cfg(feature = "jpeg")]
mod serve;
#[cfg(all(feature = "v4l", target_os = "linux"))]
mod v4l2;

use std::time::Duration;

use args::Args;
use commands::{clean, info, ls, rm, watch};
use framering::Error;

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
  cat RING             frames to stdout: --y4m (YUV4MPEG2, the default) or --raw
         [--every] [--frames N] [--timeout S] [--fps R] [--restart]
                       newest frame each time (--every: all, drops on stderr); ends
                       when the producer closes the ring or the reader quits
         [--v4l2 DEV [--mjpeg]]
                       or into a V4L2 output device, e.g. a v4l2loopback virtual
                       webcam (feature `v4l`), as they are or (--mjpeg) as JPEG
  play RING            frames from stdin (y4m, or --raw --size WxH --format F) into
         [--realtime] [--fps R] [--loop] [--slots N] [--mode OCTAL]
         [--max-ring-mib M]
                       a new ring, closed at the end of the input; a ring larger
                       than M MiB (default 1024) is refused before it is made
  serve [RING...]      rings (all, or those named) as MJPEG over HTTP (feature `jpeg`): a page at /, live
         [--bind ADDR:PORT] [--max-clients N] [--jpeg-quality Q] [--user U --password P]
         [--request-timeout S] [--write-timeout S]
                       /NAME.mjpg, a still at /NAME.jpg (NAME: a ring of the default
                       directory, or one named here); binds 127.0.0.1:8080; a client
                       that stops reading is dropped after --write-timeout (10 s)
  bridge out RING      send the ring's frames to a Redis stream (feature `redis`)
         [--redis URL] [--stream KEY] [--maxlen N] [--jpeg-quality Q] [--compat-keys]
  bridge in RING       publish a Redis stream's frames into a local ring
         [--redis URL] [--stream KEY] [--slots N] [--mode OCTAL] [--max-frame-bytes N]
                       Both print a status line every --interval-ms (1000) and run
                       until Ctrl-C, or for --frames N frames. Defaults: --redis
                       redis://127.0.0.1:6379, --stream framering:RING, --maxlen 4.

Every command takes --json for machine-readable output (errors too: one JSON
object on stderr). Commands that read frames (watch, cat, serve, bridge out) take
--owner UID|any: they accept only rings owned by that user or root; default: yours. Exit codes: 0 done, 1 the operation failed, 2 bad usage.
A ring name that starts with '-' goes after --, e.g. `framering rm -- --odd-name`.
`framering help` prints this.";

/// A failure: message and exit code (1: operation failed, 2: usage).
pub(crate) struct Failure(String, i32);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self(e.to_string(), 1)
    }
}

/// An operation that failed (exit code 1).
pub(crate) fn fail(msg: impl Into<String>) -> Failure {
    Failure(msg.into(), 1)
}

pub(crate) fn usage(msg: &str) -> Failure {
    Failure(format!("{msg}\n\n{USAGE}"), 2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let asked = |a: &String| matches!(a.as_str(), "--help" | "-h");
    if args.first().is_some_and(|a| a == "help") || args.iter().take_while(|a| *a != "--").any(asked) {
        println!("{USAGE}");
        return;
    }
    if args.is_empty() {
        eprintln!("framering: which command?\n\n{USAGE}");
        std::process::exit(2);
    }
    let json = args.iter().take_while(|a| *a != "--").any(|a| a == "--json");
    if let Err(Failure(msg, code)) = run(args) {
        if json {
            // The message only: the usage text is for people.
            let msg = msg.split("\n\n").next().unwrap_or_default();
            eprintln!("{{\"error\":{},\"exit_code\":{code}}}", output::js(msg));
        } else {
            eprintln!("framering: {msg}");
        }
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
            let owner = words.owner()?;
            watch(&words.name("watch")?, interval, count, owner, json)
        }
        "rm" => {
            let force = words.flag("--force");
            rm(&words.name("rm")?, force, json)
        }
        "clean" => clean(&words.optional_name("clean")?.unwrap_or_default(), json),
        "cat" => {
            let options = pipe::CatOptions::parse(&mut words)?;
            pipe::cat(&words.name("cat")?, &options)
        }
        "play" => {
            let options = pipe::PlayOptions::parse(&mut words)?;
            pipe::play(&words.name("play")?, &options)
        }
        #[cfg(feature = "jpeg")]
        "serve" => {
            let options = serve::ServeOptions::parse(&mut words)?;
            serve::serve(options, words.names()?)
        }
        #[cfg(not(feature = "jpeg"))]
        "serve" => Err(Failure(
            "this build has no JPEG encoder; build with `--features jpeg` (cargo run --features jpeg --bin framering -- serve)".into(),
            2,
        )),
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
