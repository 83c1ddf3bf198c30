//! What a connection is doing, for the connection cap *(skip at first)*.
//!
//! At the cap, server/pool.rs closes the connection that has waited
//! longest without a request in progress; each connection keeps its phase
//! here, in atomics, so reading it takes no lock.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a connection is doing, so that at the connection cap server.rs
/// can close one that is only waiting (`Phase::Idle`) or still receiving a
/// head (`Phase::ReadingHead`) to make room, and never one in the middle
/// of a request (`Phase::Answering`).
#[derive(Debug)]
pub struct Activity {
    phase: AtomicU8,
    /// When the phase last changed, in milliseconds since `started`.
    changed_at_ms: AtomicU64,
    started: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle = 0,
    ReadingHead = 1,
    Answering = 2,
}

impl Activity {
    pub fn new() -> Activity {
        Activity {
            phase: AtomicU8::new(Phase::Idle as u8),
            changed_at_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    pub fn set(&self, phase: Phase) {
        if self.phase.swap(phase as u8, Ordering::Relaxed) != phase as u8 {
            let elapsed_ms = self.started.elapsed().as_millis() as u64;
            self.changed_at_ms.store(elapsed_ms, Ordering::Relaxed);
        }
    }

    /// The phase, and how long the connection has been in it.
    pub fn phase(&self) -> (Phase, Duration) {
        let phase = match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Idle,
            1 => Phase::ReadingHead,
            _ => Phase::Answering,
        };
        let since = Duration::from_millis(self.changed_at_ms.load(Ordering::Relaxed));
        (phase, self.started.elapsed().saturating_sub(since))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}
