//! Sleeping on and waking the ring's notify word, across processes.
//!
//! Windows has no cross-process futex (`WaitOnAddress` works within one
//! process only), so each ring has a named semaphore and a shared count of
//! the consumers about to sleep on it, in a small section of its own that
//! consumers may write (the ring itself they map read-only). A consumer
//! counts itself in, re-checks the word, and sleeps on the semaphore; the
//! producer, after changing the word, releases the semaphore once per
//! counted sleeper, and does nothing at all while nobody sleeps, so an idle
//! ring costs it one load per publish.
//!
//! A consumer's count can be wrong (one that timed out after being
//! counted, or a hostile one writing the count): that only makes a later
//! sleep return early (the caller re-checks the word and sleeps again) or
//! a wake-up missed (the caller's sleeps are bounded slices), never a hang.

use std::time::Duration;

use crate::sync::{AtomicU32, Ordering, fence};

#[cfg(not(loom))]
use super::Handle;
#[cfg(not(loom))]
use super::segment::Mapping;

/// The most the semaphore counts up to; releases beyond it fail and are
/// ignored (every sleeper is woken long before).
#[cfg(not(loom))]
pub(crate) const SEMAPHORE_MAX: i32 = 1 << 16;

/// How a ring's consumers sleep on its `notify` word and its producer wakes
/// them: the ring's semaphore and its shared sleeper count.
#[derive(Debug)]
pub(crate) struct Waker {
    #[cfg(not(loom))]
    semaphore: Handle,
    /// The section holding the sleeper count (an `AtomicU32` at offset 0),
    /// mapped read-write.
    #[cfg(not(loom))]
    count: Mapping,
}

#[cfg(not(loom))]
impl Waker {
    /// A waker over ring objects already opened: the semaphore (with
    /// `SYNCHRONIZE`, and `SEMAPHORE_MODIFY_STATE` for a producer) and the
    /// count's section, mapped read-write and at least 4 bytes long.
    pub(crate) fn new(semaphore: Handle, count: Mapping) -> Self {
        debug_assert!(count.len() >= 4 && count.writable());
        Self { semaphore, count }
    }

    fn sleepers(&self) -> &AtomicU32 {
        // SAFETY: the mapping is at least 4 bytes, page aligned and
        // read-write (checked in `new`), and lives as long as `self`, which
        // the reference borrows; atomics tolerate the other processes
        // writing the same word.
        unsafe { &*self.count.base().cast::<AtomicU32>() }
    }

    /// Sleeps while `word == expected`, at most `timeout` (rounded up to
    /// whole milliseconds). May return early; the caller re-checks.
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration) {
        use windows_sys::Win32::System::Threading::WaitForSingleObject;
        let sleepers = self.sleepers();
        // SeqCst, with the load below, pairs with the SeqCst fence in
        // `wake_all` (a store-load pair on each side): either the producer's
        // count load sees this increment, or this load sees its new word.
        sleepers.fetch_add(1, Ordering::SeqCst);
        if word.load(Ordering::SeqCst) == expected {
            let ms = timeout.as_nanos().div_ceil(1_000_000);
            // Below INFINITE (u32::MAX): a bounded sleep.
            let ms = u32::try_from(ms).unwrap_or(u32::MAX - 1).min(u32::MAX - 1);
            // SAFETY: the semaphore handle is open for as long as `self`.
            // Any result (signalled, timed out, failed) means "look again".
            unsafe { WaitForSingleObject(self.semaphore.raw(), ms) };
        }
        // Relaxed: the count is only a hint to the producer (see the module
        // comment); a stale value costs a spurious release, nothing more.
        let _ = sleepers.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Wakes every consumer sleeping on `word` (whose value the caller has
    /// just changed); returns how many it released.
    pub(crate) fn wake_all(&self, _word: &AtomicU32) -> usize {
        use windows_sys::Win32::System::Threading::ReleaseSemaphore;
        // SeqCst fence between the caller's change of the word and the
        // count load below: pairs with the SeqCst increment and word load in
        // `wait` (see there).
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        let n = self.sleepers().load(Ordering::Relaxed);
        if n == 0 {
            return 0;
        }
        let n = i32::try_from(n).unwrap_or(SEMAPHORE_MAX).min(SEMAPHORE_MAX);
        // SAFETY: the semaphore handle is open for as long as `self`; a
        // release past the maximum fails, leaving the semaphore as it was.
        let ok = unsafe { ReleaseSemaphore(self.semaphore.raw(), n, std::ptr::null_mut()) };
        if ok == 0 { 0 } else { n as usize }
    }
}

/// Loom: a wait is a yield (the caller loops until the word changes).
#[cfg(loom)]
impl Waker {
    pub(crate) fn wait(&self, _word: &AtomicU32, _expected: u32, _timeout: Duration) {
        loom::thread::yield_now();
    }

    pub(crate) fn wake_all(&self, _word: &AtomicU32) -> usize {
        0
    }
}
