//! The commands on rings: each gathers its record and prints it (see
//! `output.rs`).

use std::time::{Duration, Instant};

use framering::admin;
use framering::{Consumer, Error, FrameBuf, monotonic_ns};

use crate::Failure;
use crate::output::{Cleaned, Removed, RingInfo, RingTable, WatchLine, emit};

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

pub(crate) fn watch(name: &str, interval: Duration, count: u64, json: bool) -> Result<(), Failure> {
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
        emit(
            &WatchLine {
                name: name.to_owned(),
                fps: frames as f64 / start.elapsed().as_secs_f64(),
                frames,
                dropped: rx.dropped() - dropped_before,
                p50_us: latencies.get(latencies.len() / 2).copied().unwrap_or(0.0),
                max_us: latencies.last().copied().unwrap_or(0.0),
                last_frame: rx.last_frame(),
                note,
            },
            json,
        );
        lines += 1;
    }
    Ok(())
}

pub(crate) fn rm(name: &str, force: bool, json: bool) -> Result<(), Failure> {
    match admin::remove(name, force) {
        Ok(()) => emit(&Removed(name.to_owned()), json),
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
