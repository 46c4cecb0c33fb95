//! SHA-256 of canonical texts, as lowercase hex.
//!
//! sha2 0.11 picks the SHA-NI (x86) / SHA2 (aarch64) instructions at run time when the CPU has
//! them, so one build is fast everywhere.

use sha2::{Digest, Sha256};

use crate::CoreError;
use crate::canonical;
use crate::value::Value;

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in digest.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// Largest text buffer kept between calls on a thread.
const RETAINED_TEXT_BYTES: usize = 1 << 20;

thread_local! {
    static TEXT_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with an empty buffer of at least `capacity` bytes, reused across calls on the
/// thread (texts that are only hashed need no allocation of their own).
pub(crate) fn with_text_buffer<R>(capacity: usize, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    TEXT_BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            buffer.reserve(capacity);
            let result = f(&mut buffer);
            if buffer.capacity() > RETAINED_TEXT_BYTES {
                *buffer = Vec::new();
            }
            result
        }
        Err(_) => f(&mut Vec::with_capacity(capacity)),
    })
}

/// `deterministic_hash` of a value: SHA-256 of its canonical text.
pub fn hash_value(value: &Value<'_>) -> Result<String, CoreError> {
    hash_value_sized(value, 256)
}

/// [`hash_value`] with a capacity guess for the canonical text.
pub(crate) fn hash_value_sized(value: &Value<'_>, capacity: usize) -> Result<String, CoreError> {
    let mut out = Vec::with_capacity(capacity);
    canonical::write_value(value, &mut out)?;
    Ok(sha256_hex(&out))
}
