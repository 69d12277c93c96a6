//! The clock every timestamp in a ring uses.

use windows_sys::Win32::System::Performance::{QueryPerformanceCounter, QueryPerformanceFrequency};

/// Now, in nanoseconds of the performance counter
/// (`QueryPerformanceCounter`): comparable across processes on one machine
/// (not across machines).
///
/// ```
/// let a = framering::monotonic_ns();
/// assert!(framering::monotonic_ns() >= a);
/// ```
pub fn monotonic_ns() -> u64 {
    let (mut ticks, mut freq) = (0i64, 0i64);
    // SAFETY: both calls only write one i64 through a valid pointer; they
    // cannot fail on Windows XP and later.
    unsafe {
        QueryPerformanceCounter(&mut ticks);
        QueryPerformanceFrequency(&mut freq);
    }
    let (ticks, freq) = (u128::try_from(ticks).unwrap_or(0), u128::try_from(freq).unwrap_or(1).max(1));
    u64::try_from(ticks * 1_000_000_000 / freq).unwrap_or(u64::MAX)
}

/// Now, in nanoseconds since the Unix epoch: the one clock two machines
/// share (through NTP), for the Redis bridge's timestamps.
#[cfg(feature = "redis")]
pub(crate) fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
