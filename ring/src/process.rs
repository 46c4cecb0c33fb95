//! Process identity (pid + start time, used in ring file names), fork detection, and the
//! liveness lock that proves a producer dead.
//!
//! # Liveness lock
//!
//! A producer process holds a traditional POSIX record lock (`F_SETLK`, `F_RDLCK`) on byte
//! [`LIVENESS_LOCK_OFFSET`] of its ring file from before the file gets its final name until the
//! process dies. The kernel releases it when the process exits or is killed, POSIX record locks
//! are owned by the *process* (a child made by `fork()` does not inherit them, so a forked child
//! never keeps its parent's ring alive), and they name no pid, so they work across PID
//! namespaces. A consumer proves the producer dead by taking a conflicting open-file-description
//! lock (`F_OFD_SETLK`, `F_WRLCK`) on its own descriptor without blocking; OFD locks conflict
//! with POSIX locks even inside one process. Any error while probing means
//! [`LockProbe::Unknown`]: look again later, never unlink.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

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

/// Byte of the ring file the liveness lock covers (the lock is advisory; the byte's contents are
/// irrelevant).
pub(crate) const LIVENESS_LOCK_OFFSET: i64 = 0;

fn lock_request(kind: libc::c_int) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value.
    let mut req: libc::flock = unsafe { std::mem::zeroed() };
    req.l_type = kind as libc::c_short;
    req.l_whence = libc::SEEK_SET as libc::c_short;
    req.l_start = LIVENESS_LOCK_OFFSET as libc::off_t;
    req.l_len = 1;
    req.l_pid = 0;
    req
}

/// Takes the producer's liveness lock (process-owned POSIX read lock) on `fd`. Fails with the
/// OS error; `EAGAIN`/`EACCES` mean a consumer already holds the death-proof lock, i.e. it is
/// reaping this file.
pub(crate) fn take_producer_lock(fd: RawFd) -> io::Result<()> {
    let req = lock_request(libc::F_RDLCK);
    loop {
        // SAFETY: fcntl with F_SETLK and a valid, initialised `flock` on an fd the caller owns.
        if unsafe { libc::fcntl(fd, libc::F_SETLK, &req) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// What probing a ring file's liveness lock showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockProbe {
    /// A process holds the producer lock: the producer lives.
    Held,
    /// No process holds it: the producer is proven dead (or never finished creating the file).
    /// The probing descriptor now holds the death-proof lock, so no producer can take it again.
    Free,
    /// The probe failed with this OS error: nothing is known; look again later.
    Unknown(i32),
}

/// Probes the liveness lock through `file`, which must be the consumer's own open file
/// description (not a descriptor shared with the producer). Takes a non-blocking OFD write lock:
/// success proves that no process holds the producer lock. Never blocks, never opens a file
/// (an fd shortage cannot turn into "dead").
pub(crate) fn probe_producer_lock(file: &File) -> LockProbe {
    let req = lock_request(libc::F_WRLCK);
    // SAFETY: fcntl with F_OFD_SETLK and a valid `flock` (l_pid 0, as OFD locks require) on an
    // fd owned by `file`.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &req) };
    if rc == 0 {
        return LockProbe::Free;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => LockProbe::Held,
        Some(errno) => LockProbe::Unknown(errno),
        None => LockProbe::Unknown(0),
    }
}

/// Rings whose producer lock this process holds: `(device, inode, fd, fork generation)`.
/// POSIX record locks have one trap: closing *any* descriptor of the file in the owning process
/// drops them. When this process closes another descriptor of one of its own rings (a consumer
/// attached by path in the producing process), [`reassert_producer_lock`] takes the lock again.
static OWN_RINGS: Mutex<Vec<(u64, u64, RawFd, u64)>> = Mutex::new(Vec::new());

fn own_rings() -> std::sync::MutexGuard<'static, Vec<(u64, u64, RawFd, u64)>> {
    OWN_RINGS.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn register_own_ring(dev: u64, ino: u64, fd: RawFd) {
    own_rings().push((dev, ino, fd, current_fork_generation()));
}

pub(crate) fn unregister_own_ring(fd: RawFd) {
    let generation = current_fork_generation();
    own_rings().retain(|&(_, _, f, g)| !(f == fd && g == generation));
}

/// Called after this process closed a descriptor of `(dev, ino)`: if it is a ring this process
/// (not a forked child of it) produces into, takes the producer lock again.
pub(crate) fn reassert_producer_lock(dev: u64, ino: u64) {
    let generation = current_fork_generation();
    for &(d, i, fd, g) in own_rings().iter() {
        if d == dev && i == ino && g == generation {
            let _ = take_producer_lock(fd);
        }
    }
}

/// Test hook for crash injection during ring creation: if the environment variable
/// `DRIFT_RING_CRASH_AT` names `stage`, the process kills itself with `SIGKILL` there.
pub(crate) fn crash_point(stage: &str) {
    if std::env::var_os("DRIFT_RING_CRASH_AT").is_some_and(|v| v == stage) {
        // SAFETY: raise has no memory-safety preconditions.
        unsafe { libc::raise(libc::SIGKILL) };
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
    fn own_start_time_is_known() {
        assert!(own_start_ticks() > 0);
    }
}
