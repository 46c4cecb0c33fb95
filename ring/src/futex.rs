//! Futex wait / wake on the consumer-state word of a shared mapping (Linux).
//!
//! Not the `_PRIVATE` variants: the word lives in memory shared between processes.

use std::time::Duration;

/// Sleeps while `*word == expected`, at most `timeout`. Returns on wake, timeout, signal or value
/// mismatch; callers re-check their condition.
pub(crate) fn wait(word: *const u32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` points to a 4-byte aligned u32 inside a live mapping (the ring header), and
    // `ts` outlives the call. FUTEX_WAIT only reads the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word,
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0,
        );
    }
}

/// Wakes one waiter on `word`.
pub(crate) fn wake(word: *const u32) {
    // SAFETY: as for `wait`; FUTEX_WAKE does not access the word's value.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word,
            libc::FUTEX_WAKE,
            1,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        );
    }
}
