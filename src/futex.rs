//! Sleeping on and waking the ring's notify word.
//!
//! On Linux and Android this is a shared (not `FUTEX_PRIVATE`) futex, so a
//! producer in one process wakes consumers in others through the same page
//! of the shared-memory object. Other Unix systems have no cross-process
//! futex in rustix; there a waiter naps in short steps instead.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word == expected`, at most `timeout`. Returns early on a
/// wake-up, a signal, or a value change (spurious returns are allowed; the
/// caller re-checks its condition).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    use rustix::thread::futex;
    let ts = rustix::time::Timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // EAGAIN (value already changed), EINTR and ETIMEDOUT all mean "look
    // again", which the caller does; no other error is possible for a valid,
    // aligned word.
    let _ = futex::wait(word, futex::Flags::empty(), expected, Some(&ts));
}

/// Wakes every process sleeping on `word`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn wake_all(word: &AtomicU32) {
    use rustix::thread::futex;
    // The word is valid and aligned, so FUTEX_WAKE cannot fail.
    let _ = futex::wake(word, futex::Flags::empty(), u32::MAX);
}

/// Fallback for Unix systems without a cross-process futex: a short nap.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    use std::sync::atomic::Ordering;
    // Relaxed: only a hint to skip the nap; the caller re-reads with Acquire.
    if word.load(Ordering::Relaxed) == expected {
        std::thread::sleep(timeout.min(Duration::from_millis(1)));
    }
}

/// Fallback: waiters nap and re-check by themselves.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn wake_all(_word: &AtomicU32) {}
