//! The canonical JSON text: keys in UTF-8 byte order (objects are kept sorted, so this is a plain
//! walk), compact, strings escaped as serde_json does, numbers in the published format.

use crate::CoreError;
use crate::number;
use crate::value::Value;

/// Nesting bound of the writers, only to keep their recursion well inside any thread's stack for
/// values built by hand; parsed values never come near it.
pub(crate) const STACK_SAFETY_DEPTH: usize = 256;

/// The canonical text of `value`.
///
/// Errors: [`CoreError::ValueTooDeep`] only for a hand-built value nested more than 256 levels
/// (parsed values are at most 128 deep, a decoded body inside its payload included).
pub fn to_string(value: &Value<'_>) -> Result<String, CoreError> {
    to_string_sized(value, 256)
}

/// [`to_string`] with a capacity guess (the source text's length fits most payloads).
pub(crate) fn to_string_sized(value: &Value<'_>, capacity: usize) -> Result<String, CoreError> {
    let mut out = Vec::with_capacity(capacity);
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
    write_str_bytes(s.as_bytes(), out);
}

/// [`write_str`] for the bytes of a `&str` (callers pass only whole UTF-8 strings: the writers'
/// buffers become `String`s unchecked).
#[inline]
pub(crate) fn write_str_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    debug_assert!(std::str::from_utf8(bytes).is_ok());
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let i = crate::scan::find_special(bytes, start);
        out.extend_from_slice(&bytes[start..i]);
        if i == bytes.len() {
            break;
        }
        write_special_byte(bytes[i], out);
        start = i + 1;
    }
    out.push(b'"');
}

/// Appends the escape of a byte `find_special` stopped at: `"`, `\` or a control character.
#[inline]
fn write_special_byte(c: u8, out: &mut Vec<u8>) {
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
}

/// Appends one character of a string's content as [`write_str`] writes it (for a character
/// read from an escape: `"`, `\\` and control characters escaped, everything else raw).
#[inline]
pub(crate) fn write_char_escaped(c: char, out: &mut Vec<u8>) {
    if c.is_ascii() {
        let b = c as u8;
        if b < 0x20 || b == b'"' || b == b'\\' {
            write_special_byte(b, out);
        } else {
            out.push(b);
        }
    } else {
        let mut utf8 = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
}

/// Turns a writer's buffer into a `String` without validating it again (outputs are as large as
/// the payloads: a second UTF-8 pass would cost as much as writing them).
///
/// Only for buffers filled by this crate's writers, which append whole `&str`s (keys, string
/// values, copied slices of other such buffers) and ASCII bytes only.
pub(crate) fn into_string(bytes: Vec<u8>) -> String {
    debug_assert!(std::str::from_utf8(&bytes).is_ok());
    // SAFETY: every caller passes a buffer that only the writers of this crate filled, and they
    // only append complete UTF-8 sequences taken from `&str`s or ASCII bytes (see above), so the
    // bytes are valid UTF-8.
    unsafe { String::from_utf8_unchecked(bytes) }
}
