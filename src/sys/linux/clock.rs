//! The clock every timestamp in a ring uses.

/// Now, in `CLOCK_MONOTONIC` nanoseconds: comparable across processes on one
/// machine (not across machines, and it does not count suspend time).
///
/// ```
/// let a = framering::monotonic_ns();
/// assert!(framering::monotonic_ns() >= a);
/// ```
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    // CLOCK_MONOTONIC is never negative.
    (t.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(t.tv_nsec as u64)
}

/// Now, in `CLOCK_REALTIME` nanoseconds since the Unix epoch: the one clock
/// two machines share (through NTP), for the Redis bridge's timestamps.
#[cfg(feature = "redis")]
pub(crate) fn unix_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    u64::try_from(t.tv_sec).unwrap_or(0).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64)
}
