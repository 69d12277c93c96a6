//! Frames across machines through Redis Streams (feature `redis`).
//!
//! **Guarantees.** [`BridgeOut`] reads a local ring in latest-frame mode and
//! appends each frame it gets to a Redis stream trimmed to about `maxlen`
//! entries; [`BridgeIn`] reads that stream on another machine and publishes
//! the frames into a local ring there, so an ordinary [`crate::Consumer`]
//! works remotely, unchanged. Neither ever blocks the local producer (the
//! sender is just another consumer). Redis down or restarted is reported in
//! [`BridgeStats`] and retried with backoff, never a panic or an error
//! return; frames missed meanwhile are counted as dropped. Every buffer is
//! reused and bounded: there are no queues.
//!
//! A stream entry has two fields: `meta`, 64 fixed little-endian bytes
//! ([`EntryInfo`]), and `data`, the payload: the frame's bytes, or a JPEG of
//! them ([`OutConfig::with_jpeg_quality`]); MJPEG frames pass through untouched.
//! `docs/BRIDGE.md` specifies the bytes and the protocol. With
//! [`OutConfig::with_compat_keys`] the sender also writes the legacy layout
//! (`SET facefusion:frame <jpeg>`, `PUBLISH facefusion:frame_update <unix
//! time>`) that existing Python scripts read.
//!
//! ```no_run
//! use std::time::Duration;
//! use framering::bridge::{BridgeIn, BridgeOut, InConfig, OutConfig};
//!
//! // Machine A: ring "cam0" → stream "framering:cam0" as JPEG q80.
//! let mut out = BridgeOut::new("cam0", OutConfig::new("redis://10.0.0.5:6379").with_jpeg_quality(80))?;
//! // Machine B: stream → ring "cam0" there.
//! let mut inn = BridgeIn::new("cam0", InConfig::new("redis://10.0.0.5:6379"))?;
//! loop {
//!     out.step(Duration::from_millis(100))?;
//!     inn.step(Duration::from_millis(100))?;
//! }
//! # Ok::<(), framering::bridge::BridgeError>(())
//! ```

mod decoder;
mod entry;
mod inbound;
mod link;
mod out;

use std::fmt;
use std::time::Duration;

use crate::RingName;
use link::Link;

pub use decoder::EntryDecoder;
pub use entry::{DATA_FIELD, ENTRY_MAGIC, ENTRY_VERSION, Encoding, EntryError, EntryInfo, META_FIELD, META_LEN};
pub use inbound::{BridgeIn, InConfig};
pub use out::{BridgeOut, COMPAT_FRAME_KEY, COMPAT_UPDATE_CHANNEL, OutConfig};

/// The stream a ring is bridged through unless configured otherwise.
pub fn default_stream(ring: &str) -> String {
    format!("framering:{ring}")
}

/// What a bridge has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Frames sent to Redis (out) or published into the local ring (in).
    pub frames: u64,
    /// Source frames that never made it: skipped because the bridge was
    /// slower than the producer, missed while Redis was unreachable, or
    /// (in) superseded by a newer entry before being published.
    pub dropped: u64,
    /// Frames or entries refused as invalid (corrupt stream entries, frames
    /// that cannot be encoded); each also sets `last_error`.
    pub rejected: u64,
    /// Payload bytes sent or received.
    pub bytes: u64,
    /// Whether the bridge holds a working Redis connection.
    pub redis_up: bool,
    /// Successful reconnections after the first connection.
    pub reconnects: u64,
    /// The most recent Redis failure or rejected entry, for reports.
    pub last_error: Option<String>,
}

/// Why a bridge could not start or go on. Redis outages are not errors
/// (see [`BridgeStats`]); these are problems retrying cannot fix.
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeError {
    /// A setting is unusable.
    Config {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The local ring failed, with its typed cause: a bad name, permission,
    /// a live producer or something else at the `in` ring's name, no space
    /// to create it. Entries are never blamed for these.
    Ring(crate::Error),
}

/// What both directions of the bridge do, so one loop can drive either:
/// [`BridgeOut`] and [`BridgeIn`].
pub trait Bridge {
    /// One step: waits up to `timeout` for a frame (or entry) and moves it;
    /// its frame number if one was moved. Errors only for what retrying
    /// cannot fix.
    fn step(&mut self, timeout: Duration) -> Result<Option<u64>, BridgeError>;

    /// Counters and connection state.
    fn stats(&self) -> BridgeStats;

    /// What the bridge waits for before it can do anything, if anything
    /// besides Redis (whose state is in [`BridgeStats::redis_up`]).
    fn waiting_for(&self) -> Option<String> {
        None
    }
}

impl Bridge for BridgeOut {
    fn step(&mut self, timeout: Duration) -> Result<Option<u64>, BridgeError> {
        BridgeOut::step(self, timeout)
    }

    fn stats(&self) -> BridgeStats {
        BridgeOut::stats(self)
    }

    fn waiting_for(&self) -> Option<String> {
        // While Redis is down the ring is not even looked at: say nothing
        // about it then.
        (self.stats().redis_up && !self.ring_open())
            .then(|| format!("ring {:?}: no producer has created it yet", self.ring()))
    }
}

impl Bridge for BridgeIn {
    fn step(&mut self, timeout: Duration) -> Result<Option<u64>, BridgeError> {
        BridgeIn::step(self, timeout)
    }

    fn stats(&self) -> BridgeStats {
        BridgeIn::stats(self)
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { field, value, reason } => write!(f, "invalid {field} {value:?}: {reason}"),
            Self::Ring(e) => write!(f, "local ring: {e}"),
        }
    }
}

impl std::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Ring(e) => Some(e),
            Self::Config { .. } => None,
        }
    }
}

impl From<crate::Error> for BridgeError {
    fn from(e: crate::Error) -> Self {
        Self::Ring(e)
    }
}

/// What both directions hold, made and shown the same way: the local
/// ring's name, the stream, the Redis link and the counters.
struct Ends {
    ring: RingName,
    stream: String,
    link: Link,
    stats: BridgeStats,
}

impl Ends {
    /// Checks the ring name and the stream key (default `framering:RING`),
    /// and parses the Redis URL (connecting comes later).
    fn new(ring: &str, stream: Option<&str>, redis_url: &str) -> Result<Self, BridgeError> {
        let ring = RingName::new(ring)?;
        let stream = stream.map_or_else(|| default_stream(ring.base()), str::to_owned);
        check_stream(&stream)?;
        Ok(Self { link: Link::new(redis_url)?, ring, stream, stats: BridgeStats::default() })
    }

    /// The counters with the link's state.
    fn stats(&self) -> BridgeStats {
        BridgeStats { redis_up: self.link.is_up(), reconnects: self.link.reconnects, ..self.stats.clone() }
    }

    /// The start of a side's `Debug`: its name, ring, stream and counters.
    fn debug<'a, 'b>(&self, f: &'a mut fmt::Formatter<'b>, name: &str) -> fmt::DebugStruct<'a, 'b> {
        let mut d = f.debug_struct(name);
        d.field("ring", &self.ring).field("stream", &self.stream).field("stats", &self.stats);
        d
    }
}

/// Checks a stream key: Redis accepts any bytes, but an empty key or one
/// with spaces or control characters is surely a mistake on a command line.
fn check_stream(stream: &str) -> Result<(), BridgeError> {
    if stream.is_empty() || stream.len() > 512 || stream.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BridgeError::Config {
            field: "stream",
            value: stream.to_owned(),
            reason: "1 to 512 characters, no spaces or control characters".into(),
        });
    }
    Ok(())
}
