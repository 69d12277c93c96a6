//! The commands on rings: each gathers its record and prints it (see
//! `output.rs`).

use std::time::{Duration, Instant};

use framering::admin;
use framering::{Consumer, Error, FrameBuf, ProducerState, monotonic_ns};

use crate::Failure;
use crate::output::{Cleaned, LiveLine, Record, Removed, RingInfo, RingTable, WatchLine, emit, state_word};

pub(crate) fn ls(json: bool) -> Result<(), Failure> {
    let rows = admin::list()?.into_iter().map(|name| {
        let status = admin::status(&name).map_err(|e| e.to_string());
        (name, status)
    });
    emit(&RingTable { rows: rows.collect(), now: monotonic_ns() }, json);
    Ok(())
}

pub(crate) fn info(name: &str, json: bool) -> Result<(), Failure> {
    emit(&RingInfo { status: admin::status(name)?, now: monotonic_ns() }, json);
    Ok(())
}

pub(crate) fn watch(name: &str, interval: Duration, count: u64, owner: Option<u32>, json: bool) -> Result<(), Failure> {
    let mut rx = owned(Consumer::open(name)?, owner)?;
    let mut buf = FrameBuf::new();
    let mut live = LiveLine::new(json);
    // Frames published before the watch began are history, not traffic (a
    // dead ring's last frame would read as "1 fps, latency 1682 ms").
    let began = monotonic_ns();
    let mut lines = 0;
    while count == 0 || lines < count {
        let start = Instant::now();
        let (dropped_before, mut frames, mut latencies) = (rx.dropped(), 0u64, Vec::new());
        while let Some(left) = interval.checked_sub(start.elapsed()) {
            match rx.wait_latest(&mut buf, left) {
                Ok(meta) if meta.publish_ns < began => {}
                Ok(meta) => {
                    frames += 1;
                    let born = meta.info.capture_ns.unwrap_or(meta.publish_ns);
                    latencies.push(monotonic_ns().saturating_sub(born) as f64 / 1e3);
                }
                Err(Error::Timeout) => break,
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Said on every line while it lasts, not only when it happens.
        let note = match rx.producer_state() {
            Ok(ProducerState::Alive) | Err(_) => String::new(),
            Ok(state) => format!("producer {}", state_word(state)),
        };
        latencies.sort_by(f64::total_cmp);
        let line = WatchLine {
            name: name.to_owned(),
            fps: frames as f64 / start.elapsed().as_secs_f64(),
            frames,
            dropped: rx.dropped() - dropped_before,
            p50_us: latencies.get(latencies.len() / 2).copied().unwrap_or(0.0),
            max_us: latencies.last().copied().unwrap_or(0.0),
            last_frame: rx.last_frame(),
            note,
        };
        live.status(&if json { line.json() } else { line.text() });
        lines += 1;
    }
    live.finish();
    Ok(())
}

pub(crate) fn rm(name: &str, force: bool, json: bool) -> Result<(), Failure> {
    // A live producer (only --force removes its ring) is not told: it keeps
    // publishing into the unlinked object, which its consumers keep reading.
    let live = admin::status(name).ok().filter(|s| s.producer == ProducerState::Alive).map(|s| s.producer_pid);
    match admin::remove(name, force) {
        Ok(()) => emit(&Removed { name: name.to_owned(), live_producer: live }, json),
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

pub(crate) fn clean(prefix: &str, json: bool) -> Result<(), Failure> {
    emit(&Cleaned(admin::clean(prefix)?), json);
    Ok(())
}

/// `rx`, accepting only `owner`'s rings (and root's) if given: what
/// `--owner` says for every command that reads frames.
pub(crate) fn owned(rx: Consumer, owner: Option<u32>) -> framering::Result<Consumer> {
    match owner {
        Some(uid) => rx.with_owner(uid),
        None => Ok(rx),
    }
}
