//! The receiving side: Redis stream → local ring.

use std::time::Duration;

use redis::Value;

use super::decoder::EntryDecoder;
use super::entry::{DATA_FIELD, Encoding, EntryError, EntryInfo, META_FIELD};
use super::{BridgeError, BridgeStats, Ends};
use crate::sys::clock::unix_ns;
use crate::{Error, FrameInfo, Producer, RingConfig, monotonic_ns};

/// Settings of a [`BridgeIn`].
///
/// ```
/// use framering::RingConfig;
/// use framering::bridge::InConfig;
/// let config = InConfig::new("redis://127.0.0.1:6379")
///     .with_stream("framering:cam0")
///     .with_ring(RingConfig::new(6, 1920 * 1080 * 3).with_mode(0o640));
/// assert_eq!(config.ring().slots(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InConfig {
    redis_url: String,
    stream: Option<String>,
    ring: RingConfig,
}

impl InConfig {
    /// Read from the Redis server at `redis_url`, stream `framering:RING`,
    /// into a 4-slot ring readable by the owner only, accepting frames of
    /// up to 64 MiB.
    pub fn new(redis_url: &str) -> Self {
        Self { redis_url: redis_url.to_owned(), stream: None, ring: RingConfig::new(4, 64 << 20) }
    }

    /// The stream key to read.
    #[must_use]
    pub fn with_stream(mut self, stream: &str) -> Self {
        self.stream = Some(stream.to_owned());
        self
    }

    /// The local ring: its slots and permission bits, and as its
    /// `max_frame_bytes` the largest frame accepted, in bytes once decoded
    /// (entries that describe larger frames are rejected before anything
    /// is allocated). The ring itself is created with slots just large
    /// enough for the frames that arrive.
    #[must_use]
    pub fn with_ring(mut self, ring: RingConfig) -> Self {
        self.ring = ring;
        self
    }

    /// The local ring's settings.
    pub fn ring(&self) -> &RingConfig {
        &self.ring
    }
}

/// One stream entry as read: its id and the two fields, if present.
struct RawEntry {
    id: String,
    meta: Option<Vec<u8>>,
    data: Option<Vec<u8>>,
}

/// Reads a Redis stream and publishes its frames into a local ring.
///
/// The ring is created on the first frame with slots sized for it, and
/// re-created larger if a later frame does not fit (consumers follow by
/// themselves). Frame numbers in the local ring are its own; the source's
/// are in [`last_entry`](Self::last_entry).
pub struct BridgeIn {
    ends: Ends,
    config: InConfig,
    decoder: EntryDecoder,
    producer: Option<Producer>,
    /// The id to read after: `$` (only new entries) until the first one,
    /// and again after every reconnect.
    last_id: String,
    last_entry: Option<EntryInfo>,
}

impl std::fmt::Debug for BridgeIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ends
            .debug(f, "BridgeIn")
            .field("producer", &self.producer)
            .field("last_id", &self.last_id)
            .finish_non_exhaustive()
    }
}

impl BridgeIn {
    /// Checks the settings; connects to Redis on the first
    /// [`step`](Self::step) and creates the ring on the first frame.
    pub fn new(ring: &str, config: InConfig) -> Result<Self, BridgeError> {
        // Checks slots and mode now rather than at the first frame.
        config.ring.validate()?;
        Ok(Self {
            ends: Ends::new(ring, config.stream.as_deref(), &config.redis_url)?,
            decoder: EntryDecoder::new(config.ring.max_frame_bytes()),
            config,
            producer: None,
            last_id: "$".into(),
            last_entry: None,
        })
    }

    /// The name of the ring published into.
    pub fn ring(&self) -> &str {
        self.ends.ring.as_str()
    }

    /// The stream key frames come from.
    pub fn stream(&self) -> &str {
        &self.ends.stream
    }

    /// Counters and connection state.
    pub fn stats(&self) -> BridgeStats {
        self.ends.stats()
    }

    /// The description of the last entry published.
    pub fn last_entry(&self) -> Option<&EntryInfo> {
        self.last_entry.as_ref()
    }

    /// Closes the local ring (consumers see [`Error::Closed`]).
    pub fn close(self) -> Result<(), BridgeError> {
        match self.producer {
            Some(p) => Ok(p.close()?),
            None => Ok(()),
        }
    }

    /// Waits up to `timeout` for new stream entries and publishes the
    /// newest valid one. Returns its number in the local ring, or `None`
    /// if nothing new arrived or Redis is unreachable. Errors only for
    /// what retrying cannot fix (another live producer owns the ring).
    pub fn step(&mut self, timeout: Duration) -> Result<Option<u64>, BridgeError> {
        let result = self.step_inner(timeout);
        if let Some(e) = self.ends.link.take_error() {
            self.ends.stats.last_error = Some(e);
        }
        result
    }

    fn step_inner(&mut self, timeout: Duration) -> Result<Option<u64>, BridgeError> {
        let was_up = self.ends.link.is_up();
        if self.ends.link.get().is_none() {
            std::thread::sleep(timeout.min(self.ends.link.retry_in()));
            return Ok(None);
        }
        if !was_up {
            // A new connection: the server may have restarted with other
            // ids, so read only what comes from now on.
            self.last_id = "$".into();
        }
        // The newest entry that arrived while the last frame was being
        // published, skipping older ones (a raw 1080p entry is 6 MB: reading
        // a backlog to throw it away would make the backlog grow). Only
        // when there is none, block for the next one.
        let Some(entry) = self.newest_entry(timeout)? else { return Ok(None) };
        self.last_id.clone_from(&entry.id);
        match self.publish(entry)? {
            Ok(frame) => Ok(Some(frame)),
            Err(e) => {
                self.ends.stats.rejected += 1;
                self.ends.stats.last_error = Some(e.to_string());
                Ok(None)
            }
        }
    }

    /// `XREVRANGE stream + (last_id COUNT 1`, then if that is empty
    /// `XREAD COUNT 1 BLOCK timeout STREAMS stream last_id`.
    fn newest_entry(&mut self, timeout: Duration) -> Result<Option<RawEntry>, BridgeError> {
        if self.last_id != "$" {
            let mut cmd = redis::cmd("XREVRANGE");
            cmd.arg(&self.ends.stream).arg("+").arg(format!("({}", self.last_id)).arg("COUNT").arg(1);
            let found = self.query(&cmd, "XREVRANGE", parse_entries, timeout)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        let block_ms = timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u64;
        self.ends.link.set_block(timeout);
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(1).arg("BLOCK").arg(block_ms).arg("STREAMS").arg(&self.ends.stream).arg(&self.last_id);
        self.query(&cmd, "XREAD", parse_read, timeout)
    }

    /// Runs a read command and parses its reply into at most one entry.
    /// Connection failures and malformed replies are recorded, not errors.
    /// A server's error reply (the key holds another type, say) or a reply
    /// of the wrong shape comes back at once: waiting `timeout` before the
    /// next try keeps the caller's loop from hammering Redis.
    fn query(
        &mut self,
        cmd: &redis::Cmd,
        what: &str,
        parse: fn(Value) -> Option<Vec<RawEntry>>,
        timeout: Duration,
    ) -> Result<Option<RawEntry>, BridgeError> {
        let Some(conn) = self.ends.link.get() else { return Ok(None) };
        let failure = match cmd.query(conn) {
            Ok(reply) => match parse(reply) {
                Some(mut entries) => return Ok(entries.pop()),
                None => format!("unexpected {what} reply"),
            },
            Err(e) => {
                self.ends.link.failed(&e);
                if !self.ends.link.is_up() {
                    // Dropped: the next step reconnects after its backoff.
                    return Ok(None);
                }
                e.to_string()
            }
        };
        self.ends.stats.last_error = Some(failure);
        std::thread::sleep(timeout);
        Ok(None)
    }

    /// Validates one entry and publishes it. The outer error is fatal, the
    /// inner one rejects the entry.
    fn publish(&mut self, entry: RawEntry) -> Result<Result<u64, EntryError>, BridgeError> {
        let meta = entry.meta.ok_or(EntryError::MissingField { field: META_FIELD });
        let data = entry.data.ok_or(EntryError::MissingField { field: DATA_FIELD });
        let (meta, data) = match (meta, data) {
            (Ok(m), Ok(d)) => (m, d),
            (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
        };
        let (e, needed) = match self.decoder.check(&meta, &data) {
            Ok(checked) => checked,
            Err(err) => return Ok(Err(err)),
        };
        let info = e.info;
        // A failure of the local ring (no space, a live producer on its
        // name, permission) is ours, not the entry's: report it typed.
        self.ensure_ring(&info, needed).map_err(BridgeError::Ring)?;
        // Same host: exact; across hosts: as good as the clocks' agreement.
        let transit = unix_ns().saturating_sub(e.sent_unix_ns);
        let capture_ns = monotonic_ns().saturating_sub(transit).saturating_sub(e.age_ns);
        let Some(producer) = self.producer.as_mut() else {
            return Ok(Err(EntryError::BadFrame { reason: "no ring".into() }));
        };
        let mut loan = match producer.loan(info) {
            Ok(l) => l,
            Err(err) => return Ok(Err(EntryError::BadFrame { reason: err.to_string() })),
        };
        loan.set_capture_ns(capture_ns);
        loan.set_bridged(e.encoding == Encoding::Jpeg);
        if let Err(err) = self.decoder.fill(&e, &data, &mut loan.pixels_mut()[..needed]) {
            // Dropping the loan leaves the slot empty; nothing is published.
            return Ok(Err(err));
        }
        if info.format.is_compressed()
            && let Err(err) = loan.set_len(data.len())
        {
            return Ok(Err(EntryError::BadFrame { reason: err.to_string() }));
        }
        let frame = match loan.commit() {
            Ok(f) => f,
            Err(err) => return Ok(Err(EntryError::BadFrame { reason: err.to_string() })),
        };
        // Source frames between the last published one and this one never
        // arrived here (a restarted source starts again: no gap then).
        if let Some(prev) = self.last_entry.map(|p| p.frame)
            && e.frame > prev
        {
            self.ends.stats.dropped = self.ends.stats.dropped.saturating_add(e.frame - prev - 1);
        }
        self.ends.stats.frames += 1;
        self.ends.stats.bytes += data.len() as u64;
        self.last_entry = Some(e);
        Ok(Ok(frame))
    }

    /// The ring's producer, (re-)created if there is none yet or its slots
    /// are too small for `needed` bytes.
    fn ensure_ring(&mut self, info: &FrameInfo, needed: usize) -> Result<(), Error> {
        if self.producer.as_ref().is_some_and(|p| p.max_frame_bytes() < needed) {
            // Closing first lets the new ring take the name; consumers
            // follow a closed ring to its successor.
            if let Some(p) = self.producer.take() {
                p.close()?;
            }
        }
        if self.producer.is_none() {
            // MJPEG sizes vary from frame to frame: leave room to grow.
            let capacity = match info.format.is_compressed() {
                true => needed.saturating_mul(2).min(self.config.ring.max_frame_bytes()).max(needed),
                false => needed,
            };
            let config = RingConfig::new(self.config.ring.slots(), capacity).with_mode(self.config.ring.mode());
            self.producer = Some(Producer::create(self.ends.ring.as_str(), config)?);
        }
        Ok(())
    }
}

fn bulk(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

/// `XREAD`'s reply for one stream: nil on timeout, else
/// `[[key, [[id, [field, value, …]], …]]]` (RESP2, what the connection
/// speaks).
fn parse_read(reply: Value) -> Option<Vec<RawEntry>> {
    let streams = match reply {
        Value::Nil => return Some(Vec::new()),
        Value::Array(streams) => streams,
        _ => return None,
    };
    let mut out = Vec::new();
    for stream in streams {
        let Value::Array(key_entries) = stream else { return None };
        out.extend(parse_entries(key_entries.into_iter().nth(1)?)?);
    }
    Some(out)
}

/// `XRANGE`'s reply: `[[id, [field, value, …]], …]`.
fn parse_entries(reply: Value) -> Option<Vec<RawEntry>> {
    let Value::Array(entries) = reply else { return None };
    let mut out = Vec::new();
    for entry in entries {
        let Value::Array(parts) = entry else { return None };
        let mut parts = parts.into_iter();
        let id = String::from_utf8(bulk(parts.next()?)?).ok()?;
        let Value::Array(fields) = parts.next()? else { return None };
        let (mut meta, mut data) = (None, None);
        let mut fields = fields.into_iter();
        while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
            let k = bulk(k)?;
            if k == META_FIELD.as_bytes() {
                meta = bulk(v);
            } else if k == DATA_FIELD.as_bytes() {
                data = bulk(v);
            }
        }
        out.push(RawEntry { id, meta, data });
    }
    Some(out)
}
