//! Backing memory: creating, validating and mapping ring files (named or memfd).

use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io;
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
use crate::protocol::RingParams;

/// File name suffix of ring files.
pub const RING_FILE_SUFFIX: &str = ".ring";

/// An open ring file and its mapping. The mapping lives as long as this value.
pub(crate) struct Mapping {
    map: MmapRaw,
    pub(crate) file: File,
    pub(crate) path: Option<PathBuf>,
    capacity: usize,
}

impl Mapping {
    /// Memory view of the mapping for the protocol.
    pub(crate) fn mem(&self) -> MappedMem {
        let base = NonNull::new(self.map.as_mut_ptr()).expect("mmap never returns null");
        // SAFETY: the mapping is `HEADER_LEN + capacity` bytes (checked when it was made), page
        // aligned, read-write, and `self` (which owns it) outlives every `MappedMem` made from it
        // because both live in the same `RingHandle`.
        unsafe { MappedMem::new(base, self.capacity) }
    }
}

fn map_file(file: File, path: Option<PathBuf>, capacity: usize) -> Result<Mapping, RingError> {
    let shown = path.clone().unwrap_or_else(|| PathBuf::from("<memfd>"));
    let map = MmapOptions::new()
        .len(HEADER_LEN + capacity)
        .populate()
        .map_raw(&file)
        .map_err(|e| RingError::io("mmap", &shown, e))?;
    Ok(Mapping {
        map,
        file,
        path,
        capacity,
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

/// Creates a named ring file (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600) in the configured
/// directory, reserves its space and maps it. The header is not yet written.
pub(crate) fn create_named(
    cfg: &RingConfig,
    pid: u32,
    start_ticks: u64,
    ring_id: u64,
) -> Result<Mapping, RingError> {
    let dir = match &cfg.dir {
        Some(dir) => {
            ensure_private_dir(dir)?;
            dir.clone()
        }
        None => default_ring_dir()?,
    };
    let path = dir.join(format!(
        "{}.{pid}.{start_ticks}.{ring_id:016x}{RING_FILE_SUFFIX}",
        cfg.name_prefix
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| RingError::io("create", &path, e))?;
    let total = (HEADER_LEN + cfg.capacity_bytes) as u64;
    let prepared = file
        .set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| RingError::io("chmod", &path, e))
        .and_then(|()| reserve_space(&file, &path, total))
        .and_then(|()| map_file(file, Some(path.clone()), cfg.capacity_bytes));
    if prepared.is_err() {
        let _ = fs::remove_file(&path);
    }
    prepared
}

/// Creates an anonymous memfd ring (sealed against resizing) and maps it.
pub(crate) fn create_memfd(cfg: &RingConfig) -> Result<Mapping, RingError> {
    let shown = Path::new("<memfd>");
    // SAFETY: the name is a valid NUL-terminated C string; flags are valid memfd flags.
    let fd = unsafe {
        libc::memfd_create(
            c"drift-ring".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
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
    map_file(file, None, cfg.capacity_bytes)
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
    let mapping = map_file(file, path, info.params.capacity as usize)?;
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
