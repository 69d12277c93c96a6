//! `framering bridge out|in`: a ring through Redis, with a status line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use framering::RingConfig;
use framering::bridge::{Bridge, BridgeError, BridgeIn, BridgeOut, BridgeStats, InConfig, OutConfig};

use serde_json::json;

use crate::output::{LiveLine, round, to_json};
use crate::{BridgeCommon, Failure};

/// How long one step may wait, so Ctrl-C and status lines stay prompt.
const STEP: Duration = Duration::from_millis(100);

impl From<BridgeError> for Failure {
    fn from(e: BridgeError) -> Self {
        Self(e.to_string(), 1)
    }
}

pub(crate) fn run(direction: crate::Bridge, json: bool) -> Result<(), Failure> {
    match direction {
        crate::Bridge::Out { ring, common, maxlen, jpeg_quality, compat_keys, owner } => {
            let mut config = OutConfig::new(&common.redis).with_maxlen(maxlen).with_compat_keys(compat_keys);
            if let Some(q) = jpeg_quality {
                config = config.with_jpeg_quality(q);
            }
            if let Some(uid) = owner.uid() {
                config = config.with_owner(uid);
            }
            if let Some(s) = &common.stream {
                config = config.with_stream(s);
            }
            let mut side = BridgeOut::new(&ring, config)?;
            let title = format!("{ring} -> {} {}", redact(&common.redis), side.stream());
            drive(&mut side, "out", &title, &common, json)
        }
        crate::Bridge::In { ring, common, slots, mode, max_frame_bytes } => {
            let mut ring_config = RingConfig::new(slots, max_frame_bytes as usize);
            if let Some(mode) = mode {
                ring_config = ring_config.with_mode(mode);
            }
            let mut config = InConfig::new(&common.redis).with_ring(ring_config);
            if let Some(s) = &common.stream {
                config = config.with_stream(s);
            }
            let mut side = BridgeIn::new(&ring, config)?;
            let title = format!("{} {} -> {ring}", redact(&common.redis), side.stream());
            let result = drive(&mut side, "in", &title, &common, json);
            // Consumers then see the ring closed, not a dead producer.
            side.close()?;
            result
        }
    }
}

/// The URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Steps `side` until Ctrl-C/SIGTERM (or `--frames` frames), printing a
/// status line every `--interval-ms` and a line whenever Redis goes or comes.
fn drive(
    side: &mut impl Bridge,
    direction: &str,
    title: &str,
    common: &BridgeCommon,
    json: bool,
) -> Result<(), Failure> {
    let (interval, frames) = (Duration::from_millis(common.interval_ms), common.frames);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Failure(format!("cannot handle signal {signal}: {e}"), 1))?;
    }
    if !json {
        eprintln!("bridge {direction}: {title} (Ctrl-C to stop)");
    }
    let (mut was_up, mut last_error, mut was_waiting) = (None, None, false);
    let mut live = LiveLine::new(json);
    let (mut last, mut at) = (side.stats(), Instant::now());
    loop {
        side.step(STEP)?;
        let now = side.stats();
        if was_up != Some(now.redis_up) && (now.redis_up || now.last_error.is_some()) {
            let error = now.last_error.as_deref().unwrap_or("");
            live.event(&match (json, now.redis_up) {
                (true, true) => to_json(&json!({ "event": "redis_up" })),
                (true, false) => to_json(&json!({ "event": "redis_down", "error": error })),
                (false, true) => "redis up".to_owned(),
                (false, false) => format!("redis down: {error} (retrying)"),
            });
            was_up = Some(now.redis_up);
        }
        if now.redis_up && now.last_error.is_some() && now.last_error != last_error {
            // A server's error reply or a rejected entry: say what, once.
            let error = now.last_error.as_deref().unwrap_or("");
            live.event(&if json {
                to_json(&json!({ "event": "error", "error": error }))
            } else {
                format!("error: {error}")
            });
        }
        last_error.clone_from(&now.last_error);
        let waiting = side.waiting_for();
        if let Some(what) = &waiting
            && !was_waiting
        {
            live.event(&match json {
                true => to_json(&json!({ "event": "waiting", "for": what })),
                false => format!("waiting for {what}"),
            });
        }
        was_waiting = waiting.is_some();
        // Relaxed: the flag carries no data; the signal handler only sets it.
        let done = stop.load(Ordering::Relaxed) || (frames > 0 && now.frames >= frames);
        // A status line every interval, and a last one on the way out.
        if at.elapsed() >= interval || done {
            live.status(&report(direction, &now, &last, at.elapsed(), json));
            (last, at) = (now, Instant::now());
        }
        if done {
            break;
        }
    }
    live.finish();
    Ok(())
}

/// One status line: totals, and the rates since the previous line.
fn report(direction: &str, now: &BridgeStats, last: &BridgeStats, elapsed: Duration, json: bool) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let fps = (now.frames - last.frames) as f64 / secs;
    let mbps = (now.bytes - last.bytes) as f64 / secs / 1e6;
    if json {
        to_json(&json!({
            "direction": direction,
            "fps": round(fps, 1),
            "frames": now.frames,
            "dropped": now.dropped,
            "rejected": now.rejected,
            "mb_per_s": round(mbps, 1),
            "redis_up": now.redis_up,
            "reconnects": now.reconnects,
            "last_error": now.last_error,
        }))
    } else {
        format!(
            "{direction}: {fps:6.1} fps  {} frames  {} dropped  {} rejected  {mbps:.1} MB/s  redis {}  {} reconnects",
            now.frames,
            now.dropped,
            now.rejected,
            if now.redis_up { "up" } else { "down" },
            now.reconnects
        )
    }
}
