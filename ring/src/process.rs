//! Process identity: pid + start time (pid-reuse safe liveness) and fork detection.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped in the child after every `fork()` (a `pthread_atfork` child handler).
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER_ATFORK: Once = Once::new();

extern "C" fn bump_fork_generation() {
    // Async-signal-safe: a single atomic add.
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the fork handler once and returns the current generation.
pub(crate) fn fork_generation() -> u64 {
    REGISTER_ATFORK.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function that only performs an atomic add; it is
        // never unregistered and the function lives for the whole program.
        unsafe {
            libc::pthread_atfork(None, None, Some(bump_fork_generation));
        }
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Cheap check on the push path: a Relaxed load.
#[inline]
pub(crate) fn current_fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Liveness of a process as `/proc/<pid>/stat` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcState {
    /// Running (or sleeping, stopped, ...) with the expected start time.
    Alive,
    /// Gone, a zombie, or the pid was reused by a process with another start time.
    Gone,
}

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`) and whether
/// it is a zombie. `None` if the process does not exist.
pub(crate) fn stat_of(pid: u32) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses `/proc/<pid>/stat`: the command name (field 2) may contain spaces and parentheses,
/// so fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<(u64, bool)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?; // field 3
    let start = fields.nth(18)?.parse().ok()?; // field 22
    Some((start, matches!(state, "Z" | "X")))
}

/// Start time of the calling process.
pub(crate) fn own_start_ticks() -> u64 {
    stat_of(std::process::id()).map_or(0, |(start, _)| start)
}

/// Whether `pid` with start time `start_ticks` still runs. Without a readable `/proc` the start
/// time cannot be checked: then a process that exists counts as alive (never declare a live
/// producer dead: recovery would skip claims it is still writing).
pub(crate) fn state_of(pid: u32, start_ticks: u64) -> ProcState {
    if pid == 0 || pid > i32::MAX as u32 {
        return ProcState::Gone;
    }
    match stat_of(pid) {
        Some((start, zombie)) if start == start_ticks && !zombie => ProcState::Alive,
        Some(_) => ProcState::Gone,
        None if std::path::Path::new("/proc/self/stat").exists() => ProcState::Gone,
        None => {
            // SAFETY: signal 0 only checks that the process exists; no signal is sent.
            let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
            if rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
                ProcState::Alive
            } else {
                ProcState::Gone
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(line), Some((98765, false)));
        let zombie = "7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0";
        assert_eq!(parse_stat(zombie), Some((555, true)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_alive_and_pid_reuse_is_detected() {
        let start = own_start_ticks();
        assert!(start > 0);
        assert_eq!(state_of(std::process::id(), start), ProcState::Alive);
        assert_eq!(state_of(std::process::id(), start + 1), ProcState::Gone);
        assert_eq!(state_of(0, 0), ProcState::Gone);
    }
}
