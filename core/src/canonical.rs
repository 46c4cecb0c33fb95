//! The canonical JSON text: keys in UTF-8 byte order (objects are kept sorted, so this is a plain
//! walk), compact, strings escaped as serde_json does, numbers in the published format.

use crate::CoreError;
use crate::number;
use crate::value::Value;

/// Nesting bound of the writers, only to keep their recursion off the end of the stack for values
/// built by hand; parsed values never come near it.
pub(crate) const STACK_SAFETY_DEPTH: usize = 1024;

/// The canonical text of `value`.
///
/// Errors: [`CoreError::ValueTooDeep`] only for a hand-built value nested more than 1024 levels.
pub fn to_string(value: &Value<'_>) -> Result<String, CoreError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(into_string(out))
}

/// Appends the canonical text of `value` to `out`.
pub fn write_value(value: &Value<'_>, out: &mut Vec<u8>) -> Result<(), CoreError> {
    write_nested(value, out, 0)
}

fn write_nested(value: &Value<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), CoreError> {
    match value {
        Value::Array(items) => {
            check_depth(depth, out)?;
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_nested(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(object) => {
            check_depth(depth, out)?;
            out.push(b'{');
            for (i, (key, item)) in object.members().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_nested(item, out, depth + 1)?;
            }
            out.push(b'}');
        }
        scalar => write_scalar(scalar, out),
    }
    Ok(())
}

#[inline]
fn check_depth(depth: usize, out: &[u8]) -> Result<(), CoreError> {
    if depth >= STACK_SAFETY_DEPTH {
        return Err(CoreError::ValueTooDeep {
            column: out.len() + 1,
        });
    }
    Ok(())
}

/// Appends a scalar (arrays and objects are written by the walkers).
#[inline]
pub(crate) fn write_scalar(value: &Value<'_>, out: &mut Vec<u8>) {
    match *value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes()),
        Value::Float(f) if f.is_finite() => number::write_f64(f, out),
        Value::Float(_) => out.extend_from_slice(b"null"),
        Value::String(ref s) => write_str(s, out),
        Value::Array(_) | Value::Object(_) => {
            debug_assert!(false, "containers are written by the walkers");
        }
    }
}

/// Appends `s` as a JSON string: `"` and `\` escaped, control characters as `\b \f \n \r \t` or
/// `\u00xx`; everything else (including `/`, DEL and non-ASCII) raw.
#[inline]
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let i = find_escape(bytes, start);
        out.extend_from_slice(&bytes[start..i]);
        if i == bytes.len() {
            break;
        }
        let c = bytes[i];
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.push(b'"');
}

/// Index of the first byte that needs escaping at or after `from` (or `bytes.len()`).
#[inline]
pub(crate) fn find_escape(bytes: &[u8], from: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(&bytes[i..i + 8]);
        let w = u64::from_le_bytes(lane);
        // Per byte: < 0x20, == '"', == '\\' (the classic SWAR zero-byte tests; `& !w` drops lanes
        // with the high bit set, i.e. non-ASCII bytes, which never need escaping).
        let lt_space = w.wrapping_sub(LO * 0x20) & !w;
        let q = w ^ (LO * u64::from(b'"'));
        let is_quote = q.wrapping_sub(LO) & !q;
        let b = w ^ (LO * u64::from(b'\\'));
        let is_backslash = b.wrapping_sub(LO) & !b;
        let hits = (lt_space | is_quote | is_backslash) & HI;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() {
        let c = bytes[i];
        if c < 0x20 || c == b'"' || c == b'\\' {
            return i;
        }
        i += 1;
    }
    i
}

/// The writers only ever append whole UTF-8 sequences (from `&str`s) and ASCII.
pub(crate) fn into_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        // Not reachable: every byte written comes from a `&str` or is ASCII.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
