//! A Redis connection that comes back by itself: connects lazily, drops the
//! connection on any I/O failure, and retries with exponential backoff
//! (50 ms doubling to 2 s) without ever sleeping itself, so the caller's
//! loop keeps running (and counting frames) while Redis is away.

use std::time::{Duration, Instant};

use super::BridgeError;

/// First retry delay after a failure.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest delay between connection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Connect timeout, and the write/read timeout added to blocking reads.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) struct Link {
    client: redis::Client,
    conn: Option<redis::Connection>,
    backoff: Duration,
    next_try: Instant,
    /// Successful connections after the first one.
    pub(crate) reconnects: u64,
    connected_before: bool,
    /// The last failure not yet taken by [`Link::take_error`].
    last_error: Option<String>,
}

impl Link {
    /// Parses the URL (`redis://host:port/db`, `unix:///path`); connects on
    /// first use.
    pub(crate) fn new(url: &str) -> Result<Self, BridgeError> {
        let client = redis::Client::open(url).map_err(|e| BridgeError::Config {
            field: "redis URL",
            value: url.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            client,
            conn: None,
            backoff: BACKOFF_MIN,
            next_try: Instant::now(),
            reconnects: 0,
            connected_before: false,
            last_error: None,
        })
    }

    pub(crate) fn is_up(&self) -> bool {
        self.conn.is_some()
    }

    /// How long until the next connection attempt (zero when connected or
    /// when an attempt is due).
    pub(crate) fn retry_in(&self) -> Duration {
        match self.conn {
            Some(_) => Duration::ZERO,
            None => self.next_try.saturating_duration_since(Instant::now()),
        }
    }

    /// The connection, connecting first if it is down and a retry is due.
    /// `None` while Redis is unreachable.
    pub(crate) fn get(&mut self) -> Option<&mut redis::Connection> {
        if self.conn.is_none() && Instant::now() >= self.next_try {
            let connected = self.client.get_connection_with_timeout(IO_TIMEOUT).and_then(|c| {
                c.set_write_timeout(Some(IO_TIMEOUT))?;
                c.set_read_timeout(Some(IO_TIMEOUT))?;
                Ok(c)
            });
            match connected {
                Ok(c) => {
                    self.reconnects += u64::from(self.connected_before);
                    self.connected_before = true;
                    self.backoff = BACKOFF_MIN;
                    self.conn = Some(c);
                }
                Err(e) => self.retry_later(&e),
            }
        }
        self.conn.as_mut()
    }

    /// Sets the read timeout for a command that blocks server-side for
    /// `block` (XREAD BLOCK): the block plus the usual I/O allowance.
    pub(crate) fn set_block(&mut self, block: Duration) {
        if let Some(c) = &self.conn
            && let Err(e) = c.set_read_timeout(Some(block + IO_TIMEOUT))
        {
            self.failed(&e);
        }
    }

    /// Records a failed command. Connection-level failures drop the
    /// connection (a timed-out read may leave half a reply on it) and
    /// schedule a reconnect; a server's error reply keeps it.
    pub(crate) fn failed(&mut self, e: &redis::RedisError) {
        if e.is_io_error() || e.is_unrecoverable_error() {
            self.conn = None;
            self.retry_later(e);
        } else {
            self.last_error = Some(e.to_string());
        }
    }

    /// The failure recorded since the last call, if any.
    pub(crate) fn take_error(&mut self) -> Option<String> {
        self.last_error.take()
    }

    fn retry_later(&mut self, e: &redis::RedisError) {
        self.last_error = Some(e.to_string());
        self.next_try = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }
}
