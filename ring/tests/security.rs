//! Attach refuses anything that is not a ring this user created: another owner, a symlink, a
//! wrong magic / version / size / header, a group- or world-writable file, a non-regular file,
//! a second consumer; and creation refuses unsafe directories.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::TempDir;
use drift_ring::{AttachOptions, Consumer, HEADER_LEN, Producer, RingConfig, RingError};

fn ring_file(dir: &TempDir) -> (Producer, PathBuf) {
    let producer = Producer::create(&dir.config(4096)).unwrap();
    let path = producer.path().unwrap().to_owned();
    (producer, path)
}

fn attach(path: &Path) -> Result<Consumer, RingError> {
    Consumer::attach(path, &AttachOptions::default())
}

/// A copy of a fresh ring with `patch` applied, mode 0600.
fn patched_copy(dir: &TempDir, name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let (_producer, path) = ring_file(dir);
    let mut bytes = std::fs::read(&path).unwrap();
    patch(&mut bytes);
    let copy = dir.path().join(name);
    std::fs::write(&copy, bytes).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    copy
}

#[test]
fn created_file_is_private() {
    let dir = TempDir::new("sec-mode");
    let (_producer, path) = ring_file(&dir);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), (HEADER_LEN + 4096) as u64);
    attach(&path).unwrap();
}

#[test]
fn other_owner_is_refused() {
    let dir = TempDir::new("sec-owner");
    let (_producer, path) = ring_file(&dir);
    if current_euid() != 0 {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }
    std::os::unix::fs::chown(&path, Some(4242), Some(4242)).unwrap();
    match attach(&path) {
        Err(RingError::WrongOwner {
            expected: 0,
            actual: 4242,
            ..
        }) => {}
        other => panic!("expected WrongOwner, got {other:?}"),
    }
    // Asking for that owner explicitly still fails: the header says the creator was uid 0.
    let opts = AttachOptions {
        expected_uid: Some(4242),
        ..AttachOptions::default()
    };
    assert!(matches!(
        Consumer::attach(&path, &opts),
        Err(RingError::InvalidHeader { .. })
    ));
}

fn current_euid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap()
}

#[test]
fn symlink_is_refused() {
    let dir = TempDir::new("sec-link");
    let (_producer, path) = ring_file(&dir);
    let link = dir.path().join("link.ring");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(matches!(attach(&link), Err(RingError::Symlink { .. })));
}

#[test]
fn group_or_world_writable_is_refused() {
    let dir = TempDir::new("sec-perm");
    let (_producer, path) = ring_file(&dir);
    for mode in [0o620, 0o602, 0o666] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        match attach(&path) {
            Err(RingError::InsecureMode { mode: m, .. }) => assert_eq!(m, mode),
            other => panic!("mode {mode:o}: expected InsecureMode, got {other:?}"),
        }
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    attach(&path).unwrap(); // group-readable is fine (a sidecar in a shared group)
}

#[test]
fn wrong_magic_version_header_and_size_are_refused() {
    let dir = TempDir::new("sec-hdr");
    let magic = patched_copy(&dir, "magic.ring", |b| b[0] ^= 0xFF);
    assert!(matches!(attach(&magic), Err(RingError::BadMagic { .. })));
    let version = patched_copy(&dir, "version.ring", |b| {
        b[8..12].copy_from_slice(&99u32.to_ne_bytes())
    });
    assert!(matches!(
        attach(&version),
        Err(RingError::UnsupportedVersion { found: 99, .. })
    ));
    let capacity = patched_copy(&dir, "cap.ring", |b| {
        b[0x10..0x18].copy_from_slice(&1000u64.to_ne_bytes())
    });
    assert!(matches!(
        attach(&capacity),
        Err(RingError::InvalidHeader { .. })
    ));
    let max = patched_copy(&dir, "max.ring", |b| {
        b[0x18..0x1C].copy_from_slice(&4096u32.to_ne_bytes())
    });
    assert!(matches!(attach(&max), Err(RingError::InvalidHeader { .. })));
    let short = patched_copy(&dir, "short.ring", |b| b.truncate(HEADER_LEN + 100));
    assert!(
        matches!(attach(&short), Err(RingError::WrongSize { actual, .. }) if actual == (HEADER_LEN + 100) as u64)
    );
    let long = patched_copy(&dir, "long.ring", |b| b.extend_from_slice(&[0; 8]));
    assert!(matches!(attach(&long), Err(RingError::WrongSize { .. })));
    let tiny = patched_copy(&dir, "tiny.ring", |b| b.truncate(10));
    assert!(matches!(attach(&tiny), Err(RingError::WrongSize { .. })));
}

#[test]
fn non_regular_files_are_refused() {
    let dir = TempDir::new("sec-nonreg");
    let sub = dir.path().join("sub.ring");
    std::fs::create_dir(&sub).unwrap();
    assert!(matches!(
        attach(&sub),
        Err(RingError::NotRegularFile { .. }) | Err(RingError::Io { .. })
    ));
    let fifo = dir.path().join("fifo.ring");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert!(matches!(
        attach(&fifo),
        Err(RingError::NotRegularFile { .. })
    ));
    assert!(matches!(
        attach(&dir.path().join("missing.ring")),
        Err(RingError::Io { .. })
    ));
}

#[test]
fn only_one_consumer_per_ring() {
    let dir = TempDir::new("sec-lock");
    let (producer, path) = ring_file(&dir);
    let first = attach(&path).unwrap();
    assert!(matches!(
        attach(&path),
        Err(RingError::ConsumerExists { .. })
    ));
    assert!(matches!(
        Consumer::from_producer(&producer),
        Err(RingError::ConsumerExists { .. })
    ));
    drop(first);
    attach(&path).unwrap();
}

#[test]
fn unsafe_directories_are_refused() {
    let dir = TempDir::new("sec-dir");
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let cfg = RingConfig {
        dir: Some(open),
        ..RingConfig::with_capacity(4096)
    };
    assert!(matches!(
        Producer::create(&cfg),
        Err(RingError::UnsafeDirectory { .. })
    ));
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    let cfg = RingConfig {
        dir: Some(link),
        ..RingConfig::with_capacity(4096)
    };
    assert!(matches!(
        Producer::create(&cfg),
        Err(RingError::UnsafeDirectory { .. })
    ));
}

#[test]
fn invalid_configs_are_refused() {
    for cfg in [
        RingConfig {
            capacity_bytes: 1000,
            ..RingConfig::default()
        },
        RingConfig {
            capacity_bytes: 32,
            ..RingConfig::default()
        },
        RingConfig {
            max_record_bytes: 4 << 20,
            ..RingConfig::default()
        },
        RingConfig {
            max_record_bytes: 0,
            ..RingConfig::default()
        },
        RingConfig {
            wake_watermark_bytes: Some(0),
            ..RingConfig::default()
        },
        RingConfig {
            name_prefix: "../x".into(),
            ..RingConfig::default()
        },
    ] {
        assert!(
            matches!(Producer::create(&cfg), Err(RingError::InvalidConfig { .. })),
            "{cfg:?}"
        );
    }
}

#[test]
fn default_directory_is_private_and_listed() {
    let dir = drift_ring::default_ring_dir().unwrap();
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o077, 0);
    let cfg = RingConfig {
        name_prefix: format!("test{}", std::process::id()),
        ..RingConfig::with_capacity(4096)
    };
    let producer = Producer::create(&cfg).unwrap();
    let path = producer.path().unwrap().to_owned();
    assert!(path.starts_with(&dir));
    assert!(drift_ring::list_rings(&dir).unwrap().contains(&path));
    producer.unlink().unwrap();
    assert!(!path.exists());
}
