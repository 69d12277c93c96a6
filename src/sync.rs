//! The one switch between std's atomics and loom's.
//!
//! Everything that touches the ring's atomics imports them from here (a
//! check in `.ci/run` enforces it: no `std::sync::atomic` outside this file,
//! the segment layout types of `layout.rs` and the command's code), so `RUSTFLAGS="--cfg loom"`
//! swaps in loom's model-checked atomics for the protocol core; see
//! `src/loom_models.rs`.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
