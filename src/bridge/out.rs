//! The sending side: local ring → Redis stream (and, optionally, the legacy
//! `facefusion:*` keys).

use std::time::Duration;

use super::entry::{DATA_FIELD, Encoding, EntryInfo, META_FIELD};
use crate::jpeg::Codec;
use redis::ConnectionLike;

use super::{BridgeError, BridgeStats, Ends};
use crate::sys::clock::unix_ns;
use crate::{Consumer, Error, FrameBuf, FrameMeta, monotonic_ns};

/// The key the legacy recipe `SET`s to the latest JPEG.
pub const COMPAT_FRAME_KEY: &str = "facefusion:frame";
/// The channel the legacy recipe `PUBLISH`es the Unix time on after each frame.
pub const COMPAT_UPDATE_CHANNEL: &str = "facefusion:frame_update";

/// Settings of a [`BridgeOut`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutConfig {
    redis_url: String,
    stream: Option<String>,
    maxlen: u64,
    jpeg_quality: Option<u8>,
    compat_keys: bool,
    owner: Option<u32>,
}

impl OutConfig {
    /// Send to the Redis server at `redis_url`, stream `framering:RING`,
    /// trimmed to about 4 entries, raw payloads, no legacy keys.
    pub fn new(redis_url: &str) -> Self {
        Self {
            redis_url: redis_url.to_owned(),
            stream: None,
            maxlen: 4,
            jpeg_quality: None,
            compat_keys: false,
            owner: None,
        }
    }

    /// Read only a ring owned by user `uid` (or root), as
    /// [`Consumer::with_owner`](crate::Consumer::with_owner); by default any
    /// ring this process may read.
    #[must_use]
    pub fn with_owner(mut self, uid: u32) -> Self {
        self.owner = Some(uid);
        self
    }

    /// The stream key to append to.
    #[must_use]
    pub fn with_stream(mut self, stream: &str) -> Self {
        self.stream = Some(stream.to_owned());
        self
    }

    /// Trim the stream to about `maxlen` entries (`XADD … MAXLEN ~ maxlen`;
    /// 1..=100000). Entries larger than Redis's 4 KiB stream node are
    /// trimmed exactly; smaller ones up to one node (100 entries) late.
    #[must_use]
    pub fn with_maxlen(mut self, maxlen: u64) -> Self {
        self.maxlen = maxlen;
        self
    }

    /// Send raw frames as JPEG of this quality (1..=100). MJPEG frames are
    /// always sent as they are.
    #[must_use]
    pub fn with_jpeg_quality(mut self, quality: u8) -> Self {
        self.jpeg_quality = Some(quality);
        self
    }

    /// Also write the legacy keys after each frame: `SET facefusion:frame
    /// <jpeg>` then `PUBLISH facefusion:frame_update <unix time>`. The JPEG
    /// uses the configured quality, or 80.
    #[must_use]
    pub fn with_compat_keys(mut self, on: bool) -> Self {
        self.compat_keys = on;
        self
    }
}

/// Reads a local ring and appends each frame to a Redis stream.
///
/// Call [`step`](Self::step) in a loop. The ring may appear, close, die and
/// come back; Redis may go away and return. None of that is an error.
pub struct BridgeOut {
    ends: Ends,
    consumer: Consumer,
    buf: FrameBuf,
    codec: Codec,
    maxlen: u64,
    quality: Option<u8>,
    compat: bool,
    cmd: redis::Cmd,
    packed: Vec<u8>,
    /// Source frames skipped since the last entry sent.
    pending_dropped: u64,
}

impl std::fmt::Debug for BridgeOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ends
            .debug(f, "BridgeOut")
            .field("consumer", &self.consumer)
            .field("maxlen", &self.maxlen)
            .field("quality", &self.quality)
            .finish_non_exhaustive()
    }
}

impl BridgeOut {
    /// Checks the settings; connects to Redis and opens the ring on the
    /// first [`step`](Self::step).
    pub fn new(ring: &str, config: OutConfig) -> Result<Self, BridgeError> {
        let ends = Ends::new(ring, config.stream.as_deref(), &config.redis_url)?;
        if !(1..=100_000).contains(&config.maxlen) {
            let value = config.maxlen.to_string();
            return Err(BridgeError::Config { field: "maxlen", value, reason: "expected 1..=100000".into() });
        }
        if let Some(q) = config.jpeg_quality
            && !(1..=100).contains(&q)
        {
            return Err(BridgeError::Config {
                field: "JPEG quality",
                value: q.to_string(),
                reason: "expected 1..=100".into(),
            });
        }
        Ok(Self {
            consumer: match config.owner {
                Some(uid) => Consumer::new(ends.ring.as_str())?.with_owner(uid)?,
                None => Consumer::new(ends.ring.as_str())?,
            },
            ends,
            buf: FrameBuf::new(),
            codec: Codec::new(),
            maxlen: config.maxlen,
            quality: config.jpeg_quality,
            compat: config.compat_keys,
            cmd: redis::Cmd::new(),
            packed: Vec::new(),
            pending_dropped: 0,
        })
    }

    /// The name of the ring read.
    pub fn ring(&self) -> &str {
        self.ends.ring.as_str()
    }

    /// The stream key frames go to.
    pub fn stream(&self) -> &str {
        &self.ends.stream
    }

    /// Whether the source ring has been found (it is looked for on every
    /// step until then).
    pub fn ring_open(&self) -> bool {
        self.consumer.has_ring()
    }

    /// Counters and connection state.
    pub fn stats(&self) -> BridgeStats {
        self.ends.stats()
    }

    /// Waits up to `timeout` for the ring's newest frame and sends it.
    /// Returns the frame's number if one was sent, `None` if there was no
    /// new frame, no ring, or no Redis. While Redis is unreachable it only
    /// waits for the next retry: frames published meanwhile are skipped by
    /// the ring reader and counted as dropped with the next frame read.
    /// Errors only for what retrying cannot fix.
    pub fn step(&mut self, timeout: Duration) -> Result<Option<u64>, BridgeError> {
        let result = self.step_inner(timeout);
        if let Some(e) = self.ends.link.take_error() {
            self.ends.stats.last_error = Some(e);
        }
        result
    }

    fn step_inner(&mut self, timeout: Duration) -> Result<Option<u64>, BridgeError> {
        if self.ends.link.get().is_none() {
            std::thread::sleep(timeout.min(self.ends.link.retry_in()));
            return Ok(None);
        }
        let meta = match self.consumer.wait_latest(&mut self.buf, timeout) {
            Ok(meta) => meta,
            // Reported once each: the producer's loss, or something unusable
            // at the name (corrupt, of another version, not a ring); the
            // reader waits for a producer either way.
            Err(e @ (Error::Closed | Error::ProducerDead | Error::Layout(_) | Error::Occupied { .. })) => {
                self.ends.stats.last_error = Some(format!("source ring: {e}"));
                return Ok(None);
            }
            Err(e) if e.is_transient() => return Ok(None),
            Err(e @ Error::CorruptFrame { .. }) => return Ok(self.reject(e.to_string())),
            Err(e) => return Err(e.into()),
        };
        self.pending_dropped = self.pending_dropped.saturating_add(meta.dropped);
        self.ends.stats.dropped = self.ends.stats.dropped.saturating_add(meta.dropped);
        Ok(self.send(&meta))
    }

    /// Encodes and sends one frame (in `self.buf`); its number if sent.
    fn send(&mut self, meta: &FrameMeta) -> Option<u64> {
        let info = meta.info;
        let raw = !info.format.is_compressed();
        // One JPEG serves both the stream (with a quality set) and the
        // legacy key (at that quality, or 80); MJPEG frames are one already.
        let jpeg = if raw && (self.quality.is_some() || self.compat) {
            match self.codec.encode(&info, self.buf.as_slice(), self.quality.unwrap_or(80)) {
                Ok(jpeg) => Some(jpeg),
                Err(e) => return self.reject(e.to_string()),
            }
        } else {
            None
        };
        let (encoding, data) = match jpeg {
            Some(jpeg) if self.quality.is_some() => (Encoding::Jpeg, jpeg),
            _ => (Encoding::Raw, self.buf.as_slice()),
        };
        let compat = match jpeg {
            _ if !self.compat => None,
            Some(jpeg) => Some(jpeg),
            None => Some(data),
        };
        let capture_ns = meta.info.capture_ns.unwrap_or(meta.publish_ns);
        let entry = EntryInfo {
            frame: meta.frame,
            dropped: self.pending_dropped,
            capture_ns,
            captured: meta.info.capture_ns.is_some(),
            age_ns: monotonic_ns().saturating_sub(capture_ns),
            sent_unix_ns: unix_ns(),
            encoding,
            info: info.with_stride(meta.info.stride),
        };
        // Commands are packed into buffers kept across frames: fresh
        // multi-megabyte allocations per frame (what `redis::pipe()` makes)
        // cost more in page faults than the copy itself.
        self.packed.clear();
        let cmd = &mut self.cmd;
        cmd.clear();
        cmd.arg("XADD").arg(&self.ends.stream).arg("MAXLEN").arg("~").arg(self.maxlen).arg("*");
        cmd.arg(META_FIELD).arg(&entry.to_bytes()[..]).arg(DATA_FIELD).arg(data);
        cmd.write_packed_command(&mut self.packed);
        let mut count = 1;
        if let Some(jpeg) = compat {
            // The legacy recipe publishes Python's `repr(time.time())`.
            let unix = entry.sent_unix_ns as f64 / 1e9;
            cmd.clear();
            cmd.arg("SET").arg(COMPAT_FRAME_KEY).arg(jpeg).write_packed_command(&mut self.packed);
            cmd.clear();
            cmd.arg("PUBLISH")
                .arg(COMPAT_UPDATE_CHANNEL)
                .arg(format!("{unix:.6}"))
                .write_packed_command(&mut self.packed);
            count = 3;
        }
        let sent = data.len() as u64;
        let result = match self.ends.link.get() {
            Some(conn) => conn.req_packed_commands(&self.packed, 0, count),
            None => Err(redis::RedisError::from((redis::ErrorKind::Io, "not connected"))),
        };
        // A server's error reply (out of memory, a key of another type)
        // fails the frame like a lost connection does, minus the reconnect.
        match result.and_then(|replies| replies.into_iter().try_for_each(|r| r.extract_error().map(drop))) {
            Ok(()) => {
                self.pending_dropped = 0;
                self.ends.stats.frames += 1;
                self.ends.stats.bytes += sent;
                Some(meta.frame)
            }
            Err(e) => {
                self.ends.link.failed(&e);
                self.pending_dropped += 1;
                self.ends.stats.dropped += 1;
                None
            }
        }
    }

    /// Counts a frame that cannot be sent at all.
    fn reject(&mut self, reason: String) -> Option<u64> {
        self.ends.stats.rejected += 1;
        self.ends.stats.last_error = Some(reason);
        self.pending_dropped += 1;
        None
    }
}
