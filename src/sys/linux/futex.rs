//! Sleeping on and waking the ring's notify word.
//!
//! A shared (not `FUTEX_PRIVATE`) futex, so a producer in one process wakes
//! consumers in others through the same page of the shared-memory object.

use crate::sync::AtomicU32;
use std::time::Duration;

/// How a ring's consumers sleep on its `notify` word and its producer wakes
/// them. On Linux the word itself is the futex, so there is nothing more to
/// hold; the Windows half keeps its named objects here.
#[derive(Debug)]
pub(crate) struct Waker;

impl Waker {
    /// See [`wait`].
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration) {
        wait(word, expected, timeout);
    }

    /// See [`wake_all`].
    pub(crate) fn wake_all(&self, word: &AtomicU32) -> usize {
        wake_all(word)
    }
}

/// Sleeps while `word == expected`, at most `timeout`. Returns early on a
/// wake-up, a signal, or a value change (spurious returns are allowed; the
/// caller re-checks its condition).
#[cfg(not(loom))]
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

/// Wakes every process sleeping on `word`; returns how many were woken.
#[cfg(not(loom))]
pub(crate) fn wake_all(word: &AtomicU32) -> usize {
    use rustix::thread::futex;
    // The kernel reads the count as a signed int: u32::MAX would be -1 and
    // wake only one waiter. i32::MAX is "all" (as in glibc's pthread code).
    // The word is valid and aligned, so FUTEX_WAKE cannot fail.
    futex::wake(word, futex::Flags::empty(), i32::MAX as u32).unwrap_or(0)
}

/// Loom: a wait is a yield (the caller loops until the word changes).
#[cfg(loom)]
pub(crate) fn wait(_word: &AtomicU32, _expected: u32, _timeout: Duration) {
    loom::thread::yield_now();
}

/// Loom: waiters poll the word, so there is no one to wake.
#[cfg(loom)]
pub(crate) fn wake_all(_word: &AtomicU32) -> usize {
    0
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// True once thread `tid` of this process sleeps in the kernel's futex wait.
    fn sleeping_in_futex(tid: i32) -> bool {
        let task = format!("/proc/self/task/{tid}");
        let state = std::fs::read_to_string(format!("{task}/stat")).unwrap_or_default();
        let wchan = std::fs::read_to_string(format!("{task}/wchan")).unwrap_or_default();
        state.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('S')) && wchan.contains("futex")
    }

    #[test]
    fn wake_all_wakes_every_waiter_with_one_call() {
        let word = Arc::new(AtomicU32::new(0));
        let (tids_tx, tids_rx) = std::sync::mpsc::channel();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (word, tids_tx) = (word.clone(), tids_tx.clone());
                std::thread::spawn(move || {
                    tids_tx.send(rustix::thread::gettid().as_raw_nonzero().get()).unwrap();
                    wait(&word, 0, Duration::from_secs(30));
                })
            })
            .collect();
        let tids: Vec<i32> = (0..4).map(|_| tids_rx.recv().unwrap()).collect();
        // Wait (boundedly) until all four sleep in FUTEX_WAIT.
        for _ in 0..10_000 {
            if tids.iter().all(|&t| sleeping_in_futex(t)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(tids.iter().all(|&t| sleeping_in_futex(t)), "waiters never went to sleep");
        assert_eq!(wake_all(&word), 4);
        waiters.into_iter().for_each(|w| w.join().unwrap());
    }
}
