//! `framering`: list, inspect, watch and remove the rings on this machine,
//! and bridge them through Redis (feature `redis`).

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
mod values;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use commands::{clean, info, ls, rm, watch};
use framering::Error;
use values::{OwnerArg, octal};

/// List, inspect, watch and remove the rings on this machine; pipe their
/// frames to and from other tools, serve them over HTTP, bridge them
/// through Redis.
#[derive(Parser, Debug)]
#[command(name = "framering", version, arg_required_else_help = true, after_help = AFTER_HELP)]
struct Cli {
    /// Machine-readable output: JSON (errors too: one JSON object on stderr)
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Commands that read frames (watch, cat, serve, bridge out) accept only rings owned by
you or root unless --owner says otherwise. Exit codes: 0 done, 1 the operation failed,
2 bad usage. A ring name that starts with '-' goes after --, e.g.
`framering rm -- --odd-name`. `framering help COMMAND` shows a command's options.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Every ring: name, owner, producer pid and state, format, size, fps, consumers, age
    Ls,
    /// The whole header and every slot's state
    Info {
        /// The ring
        name: String,
    },
    /// One line per interval: fps, frames, dropped, latency
    Watch {
        /// The ring
        name: String,
        /// Milliseconds between two lines
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = interval_ms())]
        interval_ms: u64,
        /// Stop after N lines (0: until Ctrl-C)
        #[arg(long, value_name = "N", default_value_t = 0)]
        count: u64,
        #[command(flatten)]
        owner: OwnerArg,
    },
    /// Remove a ring; refused while its producer is alive unless --force
    Rm {
        /// The ring
        name: String,
        /// Remove it even while its producer is alive
        #[arg(long)]
        force: bool,
    },
    /// Remove every ring (whose name starts with PREFIX) whose producer died or closed it
    Clean {
        /// Only rings whose name starts with this
        prefix: Option<String>,
    },
    /// A ring's frames to stdout (YUV4MPEG2 or raw), or into a V4L2 output device
    Cat {
        /// The ring
        ring: String,
        #[command(flatten)]
        options: pipe::CatArgs,
    },
    /// Frames from stdin (YUV4MPEG2, or raw) into a new ring, closed at the end of the input
    Play {
        /// The ring to make
        ring: String,
        #[command(flatten)]
        options: pipe::PlayArgs,
    },
    /// Rings as MJPEG over HTTP: a page at /, /NAME.mjpg, a still at /NAME.jpg (feature `jpeg`)
    Serve {
        /// The rings to serve [default: every ring of the default directory]
        rings: Vec<String>,
        #[command(flatten)]
        options: ServeArgs,
    },
    /// A ring's frames to a Redis stream, or a Redis stream's into a ring (feature `redis`)
    #[command(subcommand)]
    Bridge(Bridge),
    /// A shell completion script on stdout, e.g. `framering completions bash > /etc/bash_completion.d/framering`
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// `framering serve`'s options (parsed in every build, so that a build
/// without `jpeg` can say what it lacks).
#[derive(clap::Args, Debug)]
#[cfg_attr(not(feature = "jpeg"), allow(dead_code))]
struct ServeArgs {
    /// The address to listen on; 0.0.0.0:PORT shows your cameras to your network
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Clients served at once; more are answered 503
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_clients: u32,
    /// JPEG quality
    #[arg(long, value_name = "Q", default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    jpeg_quality: u8,
    /// Basic-auth user (with --password)
    #[arg(long, value_name = "U", requires = "password")]
    user: Option<String>,
    /// Basic-auth password (with --user); it crosses the network in clear
    #[arg(long, value_name = "P", requires = "user")]
    password: Option<String>,
    /// Seconds a request has to arrive
    #[arg(long, value_name = "S", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout: u64,
    /// Seconds a stalled write waits before its client is dropped
    #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    write_timeout: u64,
    #[command(flatten)]
    owner: OwnerArg,
}

/// `framering bridge out|in`.
#[derive(Subcommand, Debug)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
enum Bridge {
    /// Send the ring's newest frames to a Redis stream
    Out {
        /// The ring
        ring: String,
        #[command(flatten)]
        common: BridgeCommon,
        /// Entries the stream keeps (MAXLEN ~)
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        maxlen: u64,
        /// Send JPEG of this quality instead of raw frames
        #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u8).range(1..=100))]
        jpeg_quality: Option<u8>,
        /// Also SET facefusion:frame and PUBLISH facefusion:frame_update, as older scripts read them
        #[arg(long)]
        compat_keys: bool,
        #[command(flatten)]
        owner: OwnerArg,
    },
    /// Publish a Redis stream's frames into a local ring
    In {
        /// The ring to make
        ring: String,
        #[command(flatten)]
        common: BridgeCommon,
        /// Slots of the ring
        #[arg(long, value_name = "N", default_value_t = 4, value_parser = values::slots())]
        slots: u32,
        /// Permission bits of the ring, e.g. 0640 [default: 0600]
        #[arg(long, value_name = "OCTAL", value_parser = octal)]
        mode: Option<u32>,
        /// The largest frame accepted
        #[arg(long, value_name = "N", default_value_t = 64 << 20, value_parser = clap::value_parser!(u32).range(1..=1 << 30))]
        max_frame_bytes: u32,
    },
}

/// What both directions of `bridge` take.
#[derive(clap::Args, Debug)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
struct BridgeCommon {
    /// The Redis server
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// The stream [default: framering:RING]
    #[arg(long, value_name = "KEY")]
    stream: Option<String>,
    /// Milliseconds between two status lines
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = interval_ms())]
    interval_ms: u64,
    /// Stop after N frames (0: until Ctrl-C)
    #[arg(long, value_name = "N", default_value_t = 0)]
    frames: u64,
}

/// How long between two `watch` lines (or bridge status lines).
fn interval_ms() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(10..=3_600_000)
}

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

/// A usage error found after parsing (exit code 2).
pub(crate) fn usage(msg: &str) -> Failure {
    Failure(format!("{msg}\n\nFor more information, try '--help'."), 2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Before parsing, so that even a usage error can be JSON.
    let json = args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json");
    let result = match Cli::try_parse_from(&args) {
        Ok(cli) => run(cli),
        // --help, --version, and what clap prints on its own terms.
        Err(e) if !json || !e.use_stderr() => e.exit(),
        Err(e) => Err(Failure(clap_message(&e), 2)),
    };
    if let Err(Failure(msg, code)) = result {
        if json {
            // The message only: the hints are for people.
            let msg = msg.split("\n\n").next().unwrap_or_default();
            eprintln!("{}", serde_json::json!({ "error": msg, "exit_code": code }));
        } else {
            eprintln!("framering: {msg}");
        }
        std::process::exit(code);
    }
}

/// A clap error as one line: what clap says, without its styling and tips.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    text.trim_start_matches("error: ").split("\n\n").next().unwrap_or_default().to_owned()
}

fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    match cli.command {
        Command::Ls => ls(json),
        Command::Info { name } => info(&name, json),
        Command::Watch { name, interval_ms, count, owner } => {
            watch(&name, Duration::from_millis(interval_ms), count, owner.uid(), json)
        }
        Command::Rm { name, force } => rm(&name, force, json),
        Command::Clean { prefix } => clean(&prefix.unwrap_or_default(), json),
        Command::Cat { ring, options } => pipe::cat(&ring, &pipe::CatOptions::new(options)?),
        Command::Play { ring, options } => pipe::play(&ring, &pipe::PlayOptions::new(options)),
        #[cfg(feature = "jpeg")]
        Command::Serve { rings, options } => serve::serve(serve::ServeOptions::new(options)?, rings),
        #[cfg(not(feature = "jpeg"))]
        Command::Serve { .. } => Err(Failure(
            "this build has no JPEG encoder; build with `--features jpeg` (cargo run --features jpeg --bin framering -- serve)".into(),
            2,
        )),
        #[cfg(feature = "redis")]
        Command::Bridge(direction) => bridge::run(direction, json),
        #[cfg(not(feature = "redis"))]
        Command::Bridge(_) => Err(Failure(
            "this build has no Redis bridge; build with `--features redis` (cargo run --features redis --bin framering -- bridge …)".into(),
            2,
        )),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "framering", &mut std::io::stdout());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
