//! Fork detection for the push path: a process-global generation bumped by a
//! `pthread_atfork` child handler. Comparing it is one Relaxed load (a `getpid()` per span
//! would be a syscall).

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn child_after_fork() {
    // Async-signal-safe: one atomic add, no allocation, no lock.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the handler (once per process; it survives into children).
pub(crate) fn register() {
    REGISTER.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function that only performs an atomic add; it
        // is never unregistered and lives for the whole program. A failure (ENOMEM) leaves fork
        // detection off, which the ring's own fork check still backs up.
        unsafe {
            libc::pthread_atfork(None, None, Some(child_after_fork));
        }
    });
}

/// The current fork generation: 0 in the original process, bumped in each child.
#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}
