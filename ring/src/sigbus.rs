//! Survives a ring file truncated under its consumer's mapping.
//!
//! A named ring is a file other processes of the same user can `ftruncate`. Reading a mapped
//! page past the file's new end raises `SIGBUS`, which would kill the consumer (the sidecar,
//! and with it the export of every producer). The consumer checks the size before every drain
//! pass (`Mapping::check_len`), but a truncation can land in the middle of a pass. So attached
//! named rings are registered here, and a `SIGBUS` handler that finds the faulting address
//! inside a registered mapping replaces the rest of that mapping with private zero pages
//! (`mmap(MAP_FIXED | MAP_ANONYMOUS)`) and returns: the faulting read is retried and reads zero
//! (an unclaimed record, so the drain stops), and the next size check quarantines the ring.
//! A `SIGBUS` anywhere else goes to the previous handler (or the default action).

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

const SLOTS: usize = 4096;

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: AtomicUsize = AtomicUsize::new(0);
static STARTS: [AtomicUsize; SLOTS] = [EMPTY; SLOTS];
static LENS: [AtomicUsize; SLOTS] = [EMPTY; SLOTS];
/// Faults survived (pages replaced), for tests and diagnostics.
static FAULTS: AtomicUsize = AtomicUsize::new(0);

static INSTALL: Once = Once::new();
static mut PREVIOUS: Option<libc::sigaction> = None;

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    for i in 0..SLOTS {
        let start = STARTS[i].load(Ordering::Acquire);
        let len = LENS[i].load(Ordering::Acquire);
        if start != 0 && addr >= start && addr < start + len {
            // SAFETY: sysconf is a plain query.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
            let from = addr & !(page - 1);
            let end = start + len;
            // SAFETY: replaces pages of a mapping this process owns and registered (the range
            // lies inside it), with private anonymous memory of the same protection.
            let rc = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if rc != libc::MAP_FAILED {
                FAULTS.fetch_add(1, Ordering::Relaxed);
                return;
            }
            break;
        }
    }
    // Not ours (or the replacement failed): hand over to the previous disposition.
    // SAFETY: PREVIOUS is written once, before the handler is installed, and only read here.
    let previous = unsafe { *std::ptr::addr_of!(PREVIOUS) };
    match previous {
        Some(prev) if prev.sa_flags & libc::SA_SIGINFO != 0 && prev.sa_sigaction > 1 => {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                // SAFETY: an SA_SIGINFO handler has this signature.
                unsafe { std::mem::transmute(prev.sa_sigaction) };
            f(sig, info, ctx);
        }
        Some(prev) if prev.sa_sigaction > 1 => {
            let f: extern "C" fn(libc::c_int) =
                // SAFETY: a plain handler has this signature.
                unsafe { std::mem::transmute(prev.sa_sigaction) };
            f(sig);
        }
        _ => {
            // Default (or ignore): restore it and return; the access faults again and the
            // default action applies.
            // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
            }
        }
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sigaction with valid structs; PREVIOUS is written before the handler that
        // reads it is installed (under `Once`).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old);
            *std::ptr::addr_of_mut!(PREVIOUS) = Some(old);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

/// Registers an attached mapping; `None` if every slot is taken (the attach then fails).
pub(crate) fn register(start: usize, len: usize) -> Option<usize> {
    install();
    for i in 0..SLOTS {
        if LENS[i]
            .compare_exchange(0, len, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            STARTS[i].store(start, Ordering::Release);
            return Some(i);
        }
    }
    None
}

/// Unregisters a mapping before it is unmapped.
pub(crate) fn unregister(slot: usize) {
    STARTS[slot].store(0, Ordering::Release);
    LENS[slot].store(0, Ordering::Release);
}

/// Faults survived so far in this process.
pub fn survived_faults() -> usize {
    FAULTS.load(Ordering::Relaxed)
}
