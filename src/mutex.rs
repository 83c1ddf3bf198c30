//! A lock taken even after a panic.
//!
//! A Rust mutex is "poisoned" when a thread panicked while holding it, as a
//! warning that the data it guards may be half-changed. What this server
//! guards with mutexes is either replaced whole (a file, by rename) or a
//! count that a panic cannot leave half-written, so a poisoned lock is
//! taken anyway: one request's panic (a 500) must not stop the others.

use std::sync::{Mutex, MutexGuard};

/// `mutex.lock()`, also when a panic poisoned it.
pub fn lock_even_if_poisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
