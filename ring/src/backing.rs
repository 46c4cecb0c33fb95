//! Backing memory: creating, validating and mapping ring files (named or memfd).

use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::config::{AttachOptions, RingConfig};
use crate::error::RingError;
use crate::layout::*;
use crate::mem::MappedMem;
use crate::process::{self, LockProbe};
use crate::protocol::RingParams;

/// File name suffix of ring files.
pub const RING_FILE_SUFFIX: &str = ".ring";
/// File name suffix of a ring being created (`.<final name>.tmp`, hidden from [`list_rings`]).
pub const TEMP_FILE_SUFFIX: &str = ".ring.tmp";
/// File name suffix of a file set aside as not a valid ring (`.<final name>.invalid`).
pub const INVALID_FILE_SUFFIX: &str = ".ring.invalid";

/// An open ring file and its mapping. The mapping lives as long as this value.
pub(crate) struct Mapping {
    map: MmapRaw,
    /// Closed explicitly in `Drop` (before the producer lock is re-asserted).
    pub(crate) file: ManuallyDrop<File>,
    /// Final path of a named ring.
    pub(crate) path: Option<PathBuf>,
    /// Temporary name of a named ring until [`publish`] renames it to `path`.
    temp_path: Option<PathBuf>,
    /// This mapping's descriptor holds the producer liveness lock (this process created it).
    producer: bool,
    dev: u64,
    ino: u64,
    capacity: usize,
    /// Slot in the `SIGBUS` guard of an attached named ring (see `sigbus`).
    guard_slot: Option<usize>,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(slot) = self.guard_slot {
            crate::sigbus::unregister(slot);
        }
        let fd = self.file.as_raw_fd();
        if self.producer {
            process::unregister_own_ring(fd);
        }
        // SAFETY: `file` is not used after this point (the struct is being dropped).
        unsafe { ManuallyDrop::drop(&mut self.file) };
        if !self.producer {
            // Closing a descriptor drops this process's POSIX locks on the file: if this
            // process also produces into the ring, take its liveness lock again.
            process::reassert_producer_lock(self.dev, self.ino);
        }
    }
}

impl Mapping {
    /// Checks that the file still covers the whole mapping (`fstat`): a ring file truncated
    /// while mapped would fault (`SIGBUS`) on the first access past its new end.
    pub(crate) fn check_len(&self) -> Result<(), RingError> {
        let shown = || self.path.clone().unwrap_or_else(|| PathBuf::from("<fd>"));
        let meta = self
            .file
            .metadata()
            .map_err(|e| RingError::io("fstat", shown(), e))?;
        let expected = (HEADER_LEN + self.capacity) as u64;
        if meta.len() < expected {
            return Err(RingError::WrongSize {
                path: shown(),
                expected,
                actual: meta.len(),
            });
        }
        Ok(())
    }

    /// Probes the producer's liveness lock (see [`crate::process`]).
    pub(crate) fn probe_producer(&self) -> LockProbe {
        process::probe_producer_lock(&self.file)
    }

    /// Memory view of the mapping for the protocol.
    pub(crate) fn mem(&self) -> MappedMem {
        let base = NonNull::new(self.map.as_mut_ptr()).expect("mmap never returns null");
        // SAFETY: the mapping is `HEADER_LEN + capacity` bytes (checked when it was made), page
        // aligned, read-write, and `self` (which owns it) outlives every `MappedMem` made from it
        // because both live in the same `RingHandle`.
        unsafe { MappedMem::new(base, self.capacity) }
    }
}

/// Maps `file`. `own` (a ring this process just created and reserved) pre-faults the pages;
/// an attached ring is untrusted and never pre-faulted.
fn map_file(
    file: File,
    path: Option<PathBuf>,
    capacity: usize,
    own: bool,
) -> Result<Mapping, RingError> {
    let shown = path.clone().unwrap_or_else(|| PathBuf::from("<memfd>"));
    let meta = file
        .metadata()
        .map_err(|e| RingError::io("fstat", &shown, e))?;
    let mut options = MmapOptions::new();
    options.len(HEADER_LEN + capacity);
    if own {
        options.populate();
    }
    let map = options
        .map_raw(&file)
        .map_err(|e| RingError::io("mmap", &shown, e))?;
    if own {
        process::register_own_ring(meta.dev(), meta.ino(), file.as_raw_fd());
    }
    // An attached named ring can be truncated by another process while mapped: guard it.
    let guard_slot = if !own && path.is_some() {
        let slot = crate::sigbus::register(map.as_mut_ptr() as usize, HEADER_LEN + capacity);
        if slot.is_none() {
            return Err(RingError::io(
                "guard mapping",
                &shown,
                io::Error::other("too many attached rings"),
            ));
        }
        slot
    } else {
        None
    };
    Ok(Mapping {
        map,
        file: ManuallyDrop::new(file),
        path,
        temp_path: None,
        producer: own,
        dev: meta.dev(),
        ino: meta.ino(),
        capacity,
        guard_slot,
    })
}

/// Effective uid of this process.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The default directory for named rings of this user: a private (0700) directory under
/// `/dev/shm`, else under `$XDG_RUNTIME_DIR`, else under the temp directory. Created if missing.
pub fn default_ring_dir() -> Result<PathBuf, RingError> {
    let uid = euid();
    let mut candidates = vec![PathBuf::from(format!("/dev/shm/drift-ring-{uid}"))];
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        candidates.push(Path::new(&xdg).join("drift-ring"));
    }
    candidates.push(std::env::temp_dir().join(format!("drift-ring-{uid}")));
    let mut last = None;
    for dir in candidates {
        let parent_ok = dir.parent().is_some_and(|p| p.is_dir());
        if !parent_ok {
            continue;
        }
        match ensure_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| RingError::UnsafeDirectory {
        path: std::env::temp_dir(),
        reason: "no usable ring directory".into(),
    }))
}

/// Creates `dir` with mode 0700 if missing, then checks that it is a real directory (not a
/// symlink) owned by us and not writable by group or others.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), RingError> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(RingError::io("create directory", dir, e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| RingError::io("stat directory", dir, e))?;
    let unsafe_dir = |reason: String| {
        Err(RingError::UnsafeDirectory {
            path: dir.to_owned(),
            reason,
        })
    };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return unsafe_dir("not a directory (or a symbolic link)".into());
    }
    if meta.uid() != euid() {
        return unsafe_dir(format!("owned by uid {}, not {}", meta.uid(), euid()));
    }
    if meta.mode() & 0o022 != 0 {
        return unsafe_dir(format!(
            "mode {:o} is group- or world-writable",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Random-enough 64-bit ring id (std's per-process random hasher keys, pid, time, a counter).
pub(crate) fn random_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(now_unix_ns() as u128);
    h.finish()
}

pub(crate) fn now_unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Reserves the file's blocks so a full tmpfs is an error now, never a SIGBUS on first touch.
fn reserve_space(file: &File, path: &Path, bytes: u64) -> Result<(), RingError> {
    // SAFETY: plain syscall on an fd we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, bytes as libc::off_t) };
    match rc {
        0 => Ok(()),
        libc::ENOSPC | libc::EFBIG => Err(RingError::NoSpace {
            path: path.to_owned(),
            bytes,
        }),
        // Filesystems without fallocate: size the file; touching pages may then still fail.
        libc::EOPNOTSUPP | libc::EINVAL => file
            .set_len(bytes)
            .map_err(|e| RingError::io("resize", path, e)),
        other => Err(RingError::io(
            "fallocate",
            path,
            io::Error::from_raw_os_error(other),
        )),
    }
}

/// Creates a named ring file under a temporary name (`.<name>.tmp`, `O_CREAT|O_EXCL|O_NOFOLLOW`,
/// mode 0600) in the configured directory, takes the producer liveness lock on it, reserves its
/// space and maps it. The header is not yet written: [`publish`] gives the file its final name
/// once it is. Returns the mapping and the ring id used in the name (a new one if a sweeper
/// removed an earlier temporary file of this call).
pub(crate) fn create_named(
    cfg: &RingConfig,
    pid: u32,
    start_ticks: u64,
    ring_id: u64,
) -> Result<(Mapping, u64), RingError> {
    let dir = match &cfg.dir {
        Some(dir) => {
            ensure_private_dir(dir)?;
            dir.clone()
        }
        None => default_ring_dir()?,
    };
    let mut ring_id = ring_id;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let name = format!("{}.{pid}.{start_ticks}.{ring_id:016x}", cfg.name_prefix);
        let path = dir.join(format!("{name}{RING_FILE_SUFFIX}"));
        let temp = dir.join(format!(".{name}{TEMP_FILE_SUFFIX}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)
            .map_err(|e| RingError::io("create", &temp, e))?;
        process::crash_point("created");
        // Until the lock is held a sweeper may take this file for a dead creator's and remove
        // it: then start again under a new name.
        let swept = match process::take_producer_lock(file.as_raw_fd()) {
            Ok(()) => file.metadata().map(|m| m.nlink() == 0).unwrap_or(false),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => true,
            Err(e) => {
                let _ = fs::remove_file(&temp);
                return Err(RingError::io("lock", &temp, e));
            }
        };
        if swept {
            if attempts >= 8 {
                return Err(RingError::io(
                    "create",
                    &temp,
                    io::Error::other("temporary file removed by a sweeper 8 times"),
                ));
            }
            ring_id = random_id();
            continue;
        }
        process::crash_point("locked");
        let total = (HEADER_LEN + cfg.capacity_bytes) as u64;
        let prepared = file
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| RingError::io("chmod", &temp, e))
            .and_then(|()| reserve_space(&file, &temp, total))
            .and_then(|()| {
                process::crash_point("sized");
                map_file(file, Some(path), cfg.capacity_bytes, true)
            });
        return match prepared {
            Ok(mut mapping) => {
                mapping.temp_path = Some(temp);
                Ok((mapping, ring_id))
            }
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(e)
            }
        };
    }
}

/// Gives a named ring whose header is complete its final name (`rename`, atomic within the
/// directory). Removes the temporary file if that fails.
pub(crate) fn publish(mapping: &Mapping) -> Result<(), RingError> {
    let (Some(temp), Some(path)) = (&mapping.temp_path, &mapping.path) else {
        return Ok(());
    };
    process::crash_point("header");
    if let Err(e) = fs::rename(temp, path) {
        let _ = fs::remove_file(temp);
        return Err(RingError::io("rename", temp, e));
    }
    process::crash_point("published");
    Ok(())
}

/// Creates an anonymous memfd ring (sealed against resizing) and maps it.
pub(crate) fn create_memfd(cfg: &RingConfig) -> Result<Mapping, RingError> {
    let shown = Path::new("<memfd>");
    // The system call, not glibc's `memfd_create` wrapper: the wrapper only exists since glibc
    // 2.27, and the released artifacts link against glibc 2.17 (manylinux2014) so that they load
    // on older distributions; the kernel call is there since Linux 3.17 either way.
    // SAFETY: the name is a valid NUL-terminated C string; flags are valid memfd flags.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_memfd_create,
            c"drift-ring".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    } as libc::c_int;
    if fd < 0 {
        return Err(RingError::io(
            "memfd_create",
            shown,
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` was just returned by memfd_create and is owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    let total = (HEADER_LEN + cfg.capacity_bytes) as u64;
    reserve_space(&file, shown, total)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on an fd we own with a valid command and argument.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } != 0 {
        return Err(RingError::io("seal", shown, io::Error::last_os_error()));
    }
    process::take_producer_lock(fd).map_err(|e| RingError::io("lock", shown, e))?;
    map_file(file, None, cfg.capacity_bytes, true)
}

/// Identity fields read from a validated header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderInfo {
    pub params: RingParams,
    pub creator_pid: u32,
    pub creator_start_ticks: u64,
}

/// Opens `path` for attach: no symlinks, a regular file of the expected owner, not group- or
/// world-writable; then validates the header and maps it.
pub(crate) fn attach_path(
    path: &Path,
    opts: &AttachOptions,
) -> Result<(Mapping, HeaderInfo), RingError> {
    // Closing a descriptor of a ring this process produces into (an attach that fails) must not
    // leave it without its liveness lock.
    let mut reassert = ReassertOnDrop::default();
    let meta = fs::symlink_metadata(path).map_err(|e| RingError::io("stat", path, e))?;
    if meta.file_type().is_symlink() {
        return Err(RingError::Symlink {
            path: path.to_owned(),
        });
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => RingError::Symlink {
                path: path.to_owned(),
            },
            _ => RingError::io("open", path, e),
        })?;
    reassert.set(&file);
    let meta = file
        .metadata()
        .map_err(|e| RingError::io("fstat", path, e))?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(RingError::InsecureMode {
            path: path.to_owned(),
            mode,
        });
    }
    attach_file(file, Some(path.to_owned()), opts)
}

/// Validates an already open ring file (a path or an fd received from a producer) and maps it.
pub(crate) fn attach_file(
    file: File,
    path: Option<PathBuf>,
    opts: &AttachOptions,
) -> Result<(Mapping, HeaderInfo), RingError> {
    let mut reassert = ReassertOnDrop::default();
    reassert.set(&file);
    let shown = path.clone().unwrap_or_else(|| PathBuf::from("<fd>"));
    let meta = file
        .metadata()
        .map_err(|e| RingError::io("fstat", &shown, e))?;
    if !meta.file_type().is_file() {
        return Err(RingError::NotRegularFile { path: shown });
    }
    let expected = opts.expected_uid.unwrap_or_else(euid);
    if meta.uid() != expected {
        return Err(RingError::WrongOwner {
            path: shown,
            expected,
            actual: meta.uid(),
        });
    }
    let mut header = [0u8; HEADER_LEN];
    if meta.len() < HEADER_LEN as u64 {
        return Err(RingError::WrongSize {
            path: shown,
            expected: HEADER_LEN as u64,
            actual: meta.len(),
        });
    }
    file.read_exact_at(&mut header, 0)
        .map_err(|e| RingError::io("read header", &shown, e))?;
    let info = parse_header(&header, &shown, expected)?;
    let expected_len = (HEADER_LEN + info.params.capacity as usize) as u64;
    if meta.len() != expected_len {
        return Err(RingError::WrongSize {
            path: shown,
            expected: expected_len,
            actual: meta.len(),
        });
    }
    if let Some(cap) = opts.max_ring_bytes
        && expected_len > cap
    {
        return Err(RingError::OverCap {
            path: shown,
            bytes: expected_len,
            cap,
        });
    }
    let mapping = map_file(file, path, info.params.capacity as usize, false)?;
    // Re-validate from the mapping itself: the file could have been rewritten between the read
    // and the mmap. The protocol only ever uses the parameters validated here.
    let mut mapped_header = [0u8; HEADER_LEN];
    mapping
        .file
        .read_exact_at(&mut mapped_header, 0)
        .map_err(|e| RingError::io("read header", &shown, e))?;
    let again = parse_header(&mapped_header, &shown, expected)?;
    if again.params.capacity != info.params.capacity {
        return Err(RingError::InvalidHeader {
            path: shown,
            reason: "capacity changed during attach".into(),
        });
    }
    Ok((mapping, again))
}

fn u32_at(h: &[u8; HEADER_LEN], off: usize) -> u32 {
    u32::from_ne_bytes(h[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(h: &[u8; HEADER_LEN], off: usize) -> u64 {
    u64::from_ne_bytes(h[off..off + 8].try_into().expect("8 bytes"))
}

/// Checks every static header field; the returned parameters are all the protocol trusts.
pub(crate) fn parse_header(
    h: &[u8; HEADER_LEN],
    path: &Path,
    expected_uid: u32,
) -> Result<HeaderInfo, RingError> {
    let path = path.to_owned();
    if h[OFF_MAGIC..OFF_MAGIC + 8] != MAGIC {
        return Err(RingError::BadMagic { path });
    }
    let version = u32_at(h, OFF_VERSION);
    if version != LAYOUT_VERSION {
        return Err(RingError::UnsupportedVersion {
            path,
            found: version,
            expected: LAYOUT_VERSION,
        });
    }
    let invalid = |reason: String| RingError::InvalidHeader {
        path: path.clone(),
        reason,
    };
    let header_len = u32_at(h, OFF_HEADER_LEN);
    if header_len as usize != HEADER_LEN {
        return Err(invalid(format!("header length {header_len}")));
    }
    let capacity = u64_at(h, OFF_CAPACITY);
    if !capacity.is_power_of_two()
        || capacity < MIN_CAPACITY as u64
        || capacity > MAX_CAPACITY as u64
    {
        return Err(invalid(format!("capacity {capacity}")));
    }
    let max_payload = u32_at(h, OFF_MAX_PAYLOAD);
    if max_payload == 0 || max_payload as usize > max_payload_for_capacity(capacity as usize) {
        return Err(invalid(format!(
            "max record size {max_payload} for capacity {capacity}"
        )));
    }
    let flags = u32_at(h, OFF_FLAGS);
    if flags & !HEADER_FLAG_CHECKSUM != 0 {
        return Err(invalid(format!("unknown flags {flags:#x}")));
    }
    let creator_uid = u32_at(h, OFF_CREATOR_UID);
    if creator_uid != expected_uid {
        return Err(invalid(format!(
            "creator uid {creator_uid}, expected {expected_uid}"
        )));
    }
    let watermark = u64_at(h, OFF_WAKE_WATERMARK).clamp(1, capacity);
    Ok(HeaderInfo {
        params: RingParams {
            capacity,
            max_payload,
            checksum: flags & HEADER_FLAG_CHECKSUM != 0,
            wake_watermark: watermark,
        },
        creator_pid: u32_at(h, OFF_CREATOR_PID),
        creator_start_ticks: u64_at(h, OFF_CREATOR_START_TICKS),
    })
}

/// Reopens an fd received from a producer through `/proc/self/fd`, giving this consumer its own
/// open file description: `flock` locks belong to open file descriptions, and an fd passed over
/// `SCM_RIGHTS` (or a `dup`) shares the producer's, so locking it would not exclude a second
/// consumer. Without `/proc` the fd is used as it is.
pub(crate) fn reopen_own_description(file: File) -> File {
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&proc_path)
    {
        Ok(reopened) => reopened,
        Err(_) => file,
    }
}

/// Takes the consumer lock (an advisory `flock`, released by the kernel if the consumer dies).
pub(crate) fn lock_consumer(file: &File, path: &Path) -> Result<(), RingError> {
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Err(RingError::ConsumerExists {
            path: path.to_owned(),
        })
    } else {
        Err(RingError::io("lock", path, e))
    }
}

pub(crate) fn unlock_consumer(file: &File) {
    // SAFETY: flock on an fd we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
}

/// Duplicates a mapping's fd (close-on-exec) for handing to another process.
pub(crate) fn dup_fd(file: &File) -> Result<OwnedFd, RingError> {
    file.try_clone()
        .map(OwnedFd::from)
        .map_err(|e| RingError::io("dup", "<memfd>", e))
}

/// Ring files (`*.ring`, regular files, not symlinks) in `dir`, sorted by name.
pub fn list_rings(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut rings = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let is_ring_name = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(RING_FILE_SUFFIX) && !n.starts_with('.'));
        if is_ring_name && entry.file_type()?.is_file() {
            rings.push(entry.path());
        }
    }
    rings.sort();
    Ok(rings)
}

/// Creates `dir` (mode 0700) if missing and refuses it unless it is a real directory (not a
/// symbolic link) owned by this user and not writable by group or others: the checks producers
/// make before creating a ring there, for consumers (the sidecar) to make the same.
pub fn check_ring_dir(dir: &Path) -> Result<(), RingError> {
    ensure_private_dir(dir)
}

/// What [`sweep_temp_files`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Temporary files of creators proven dead, removed.
    pub removed: u64,
    /// Temporary files whose creator holds the liveness lock (creation in progress).
    pub in_progress: u64,
    /// Files that could not be checked (open or lock error, not ours): left alone.
    pub unknown: u64,
}

/// Re-takes this process's producer lock on `(dev, ino)` when dropped: declared before a
/// descriptor of a ring file (so dropped after it), it undoes what closing that descriptor
/// does to the POSIX locks of the process that produces into the ring.
#[derive(Default)]
struct ReassertOnDrop(Option<(u64, u64)>);

impl ReassertOnDrop {
    fn set(&mut self, file: &File) {
        if let Ok(meta) = file.metadata() {
            self.0 = Some((meta.dev(), meta.ino()));
        }
    }
}

impl Drop for ReassertOnDrop {
    fn drop(&mut self) {
        if let Some((dev, ino)) = self.0 {
            process::reassert_producer_lock(dev, ino);
        }
    }
}

/// Opens `path` for a liveness probe: no symlinks, read-write (a write lock needs it),
/// non-blocking. Refuses files of another owner.
fn open_for_probe(path: &Path, reassert: &mut ReassertOnDrop) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    reassert.set(&file);
    let meta = file.metadata()?;
    if !meta.file_type().is_file() || meta.uid() != euid() {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    Ok(file)
}

/// Probes the producer liveness lock of the file at `path` (a ring that cannot be attached, or
/// a temporary file). An error opening it is [`LockProbe::Unknown`].
pub fn probe_file(path: &Path) -> LockProbe {
    let mut reassert = ReassertOnDrop::default();
    match open_for_probe(path, &mut reassert) {
        Ok(file) => process::probe_producer_lock(&file),
        Err(e) => LockProbe::Unknown(e.raw_os_error().unwrap_or(0)),
    }
}

/// Removes `path` only while `file` (holding the death-proof lock) is still the file at `path`.
fn remove_if_same(path: &Path, file: &File) -> io::Result<()> {
    let held = file.metadata()?;
    let now = fs::symlink_metadata(path)?;
    if now.dev() != held.dev() || now.ino() != held.ino() {
        return Err(io::Error::from_raw_os_error(libc::ESTALE));
    }
    fs::remove_file(path)
}

/// Removes the temporary files (`.<name>.ring.tmp`) of ring creators proven dead by the liveness
/// lock. A creator still working holds the lock; any error leaves the file alone.
pub fn sweep_temp_files(dir: &Path) -> io::Result<SweepReport> {
    let mut report = SweepReport::default();
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else {
            report.unknown += 1;
            continue;
        };
        let is_temp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with('.') && n.ends_with(TEMP_FILE_SUFFIX));
        if !is_temp {
            continue;
        }
        let path = entry.path();
        let mut reassert = ReassertOnDrop::default();
        let Ok(file) = open_for_probe(&path, &mut reassert) else {
            report.unknown += 1;
            continue;
        };
        match process::probe_producer_lock(&file) {
            LockProbe::Free => match remove_if_same(&path, &file) {
                Ok(()) => report.removed += 1,
                Err(_) => report.unknown += 1,
            },
            LockProbe::Held => report.in_progress += 1,
            LockProbe::Unknown(_) => report.unknown += 1,
        }
    }
    Ok(report)
}

/// Sets aside a file with a final ring name that is not a valid ring and whose creator is
/// proven dead: renames it to `.<name>.invalid` (hidden from [`list_rings`]; an earlier one of
/// the same name is replaced). Returns the new path. Refuses (`EBUSY`) while any process holds
/// its liveness lock, or when the lock cannot be checked.
pub fn set_aside_invalid(path: &Path) -> io::Result<PathBuf> {
    let mut reassert = ReassertOnDrop::default();
    let file = open_for_probe(path, &mut reassert)?;
    match process::probe_producer_lock(&file) {
        LockProbe::Free => {}
        LockProbe::Held => return Err(io::Error::from_raw_os_error(libc::EBUSY)),
        LockProbe::Unknown(errno) => return Err(io::Error::from_raw_os_error(errno)),
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(RING_FILE_SUFFIX))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let aside = path.with_file_name(format!(".{name}{INVALID_FILE_SUFFIX}"));
    let held = file.metadata()?;
    let now = fs::symlink_metadata(path)?;
    if now.dev() != held.dev() || now.ino() != held.ino() {
        return Err(io::Error::from_raw_os_error(libc::ESTALE));
    }
    fs::rename(path, &aside)?;
    Ok(aside)
}
