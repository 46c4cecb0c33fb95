//! String arguments read out of V8 as UTF-16 into reused per-thread buffers, then converted
//! to UTF-8 in Rust.
//!
//! napi-rs converts a `String` argument with two `napi_get_value_string_utf8` calls: one with a
//! null buffer for the length (V8 walks the whole string to count its UTF-8 bytes), one to copy
//! (V8's UTF-8 encoder, a character at a time), into a fresh allocation. Here one
//! `napi_get_value_string_utf16` call copies the string's code units (a plain copy, or a
//! widening one for V8's one-byte strings) into spare room of a buffer kept for the thread (each
//! Worker has its own), and `encoding_rs` converts them with its word-at-a-time ASCII runs into
//! a second kept buffer: usually one N-API call, no allocation, no length walk. Lone surrogates
//! still become U+FFFD each, as V8's conversion makes them.

use std::ops::Range;
use std::ptr;

use napi::{Env, sys};

use crate::env_state::{ArgBuffers, env_state};
use crate::error::{ErrorCode, JsError, js_error};
use crate::js_read::{ReadFailure, is_nullish};

/// Largest argument buffers kept between calls; ones grown past these by a huge text are freed
/// rather than held for the life of the thread.
const RETAINED_UNITS: usize = 2 << 20;
const RETAINED_BYTES: usize = 4 << 20;

/// Spare code units kept for the one-call copy: most arguments fit, so most cost one call.
const MIN_SPARE_UNITS: usize = 32 * 1024;

/// One string argument to read: its value, its name for error messages, whether
/// `undefined`/`null` is accepted (read as `None`).
#[derive(Clone, Copy)]
pub struct TextArg {
    pub value: sys::napi_value,
    pub name: &'static str,
    pub optional: bool,
}

/// Reads the string arguments `args` and calls `body` with their text (`None` only for an
/// absent optional argument).
///
/// # Safety
/// `env` must be the live environment of the current call and every `args[i].value` a value
/// of it.
pub unsafe fn with_text_args<const N: usize, R>(
    env: sys::napi_env,
    args: [TextArg; N],
    body: impl FnOnce([Option<&str>; N]) -> Result<R, JsError>,
) -> Result<R, JsError> {
    // `env` is the live environment of the current call (contract).
    let state = env_state(&Env::from_raw(env))?;
    let cell = &state.text_args;
    // Reading a string primitive runs no JavaScript, so the buffers are never borrowed
    // here already; fresh ones keep even that impossible case correct.
    let mut fresh = ArgBuffers::default();
    let mut reused = cell.try_borrow_mut().ok();
    let buffers = match reused.as_deref_mut() {
        Some(buffers) => buffers,
        None => &mut fresh,
    };
    buffers.used = 0;
    // SAFETY: forwarded contract.
    let result = unsafe { read_args(env, &args, buffers) }.and_then(|ranges| {
        let mut texts: [Option<&str>; N] = [None; N];
        for (text, range) in texts.iter_mut().zip(ranges) {
            *text = range
                .map(|range| as_text(&buffers.utf8, range))
                .transpose()?;
        }
        body(texts)
    });
    if buffers.units.capacity() > RETAINED_UNITS || buffers.utf8.capacity() > RETAINED_BYTES {
        *buffers = ArgBuffers::default();
    }
    result
}

/// Appends every argument's UTF-8 to the buffers; their byte ranges, `None` for absent ones.
///
/// # Safety
/// As [`with_text_args`].
unsafe fn read_args<const N: usize>(
    env: sys::napi_env,
    args: &[TextArg; N],
    buffers: &mut ArgBuffers,
) -> Result<[Option<Range<usize>>; N], JsError> {
    let mut ranges: [Option<Range<usize>>; N] = std::array::from_fn(|_| None);
    for (range, arg) in ranges.iter_mut().zip(args) {
        // SAFETY: live env and value (contract).
        *range = match unsafe { append_text(env, arg.value, buffers) } {
            Ok(Some(range)) => Some(range),
            Ok(None) if arg.optional => None,
            Ok(None) | Err(ReadFailure::WrongType) => {
                return Err(js_error(
                    ErrorCode::InvalidArg,
                    format!("{} must be a string", arg.name),
                ));
            }
            Err(ReadFailure::TooLong) => {
                return Err(js_error(
                    ErrorCode::InvalidArg,
                    format!("{} is too long", arg.name),
                ));
            }
        };
    }
    Ok(ranges)
}

/// Appends the UTF-8 of string `value` after `buffers.used` and returns its range; `Ok(None)`
/// for `undefined`/`null`.
///
/// # Safety
/// `env` must be live and `value` a value of it.
unsafe fn append_text(
    env: sys::napi_env,
    value: sys::napi_value,
    buffers: &mut ArgBuffers,
) -> Result<Option<Range<usize>>, ReadFailure> {
    let units = &mut buffers.units;
    units.clear();
    units.reserve(MIN_SPARE_UNITS);
    // First try: N-API writes at most `room - 1` units plus a NUL, so fewer than that is the
    // whole string.
    let room = units.capacity();
    // SAFETY: live env/value (contract); the buffer is `room` units of `units`' capacity.
    let Ok(mut count) = (unsafe { copy_utf16(env, value, units, room) }) else {
        // SAFETY: per this function's contract.
        if unsafe { is_nullish(env, value) } {
            return Ok(None);
        }
        return Err(ReadFailure::WrongType);
    };
    if count + 1 >= room {
        // Possibly truncated: V8 knows the exact unit count without a scan.
        let mut length = 0usize;
        // SAFETY: live env and value; a null buffer asks for the length in code units.
        let status = unsafe {
            sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut length)
        };
        if status != sys::Status::napi_ok {
            return Err(ReadFailure::WrongType);
        }
        let room = length.checked_add(1).ok_or(ReadFailure::TooLong)?;
        units.reserve(room);
        // SAFETY: as above, with `room` reserved units.
        count =
            unsafe { copy_utf16(env, value, units, room) }.map_err(|()| ReadFailure::WrongType)?;
    }
    // SAFETY: N-API initialized the first `count` units, within the capacity.
    unsafe { units.set_len(count) };
    // `encoding_rs` needs room for 3 bytes per unit (a lone surrogate's U+FFFD).
    let start = buffers.used;
    let mut needed = count
        .checked_mul(3)
        .and_then(|n| n.checked_add(start))
        .ok_or(ReadFailure::TooLong)?;
    if buffers.utf8.len() < needed {
        let grow = needed - buffers.utf8.len();
        buffers.utf8.extend(std::iter::repeat_n('\0', grow));
    }
    // `start` is a char boundary (the end of the previous argument's text, or 0); `needed` may
    // fall inside a character left from an earlier call, so move it to the next boundary (at
    // most 3 bytes on; the string's end is one).
    while !buffers.utf8.is_char_boundary(needed) {
        needed += 1;
    }
    let target = buffers
        .utf8
        .get_mut(start..needed)
        .ok_or(ReadFailure::TooLong)?;
    let written = encoding_rs::mem::convert_utf16_to_str(units, target);
    buffers.used = start + written;
    Ok(Some(start..buffers.used))
}

/// Copies the code units of string `value` into `units`' capacity (at most `room - 1`) and
/// returns their count; `Err` if `value` is not a string.
///
/// # Safety
/// `env` must be live and `value` one of its values; `units` must have a capacity of at least
/// `room`.
unsafe fn copy_utf16(
    env: sys::napi_env,
    value: sys::napi_value,
    units: &mut Vec<u16>,
    room: usize,
) -> Result<usize, ()> {
    let mut written = 0usize;
    // SAFETY: per this function's contract: `room` writable units of `units`' allocation;
    // N-API writes at most that many (NUL included).
    let status = unsafe {
        sys::napi_get_value_string_utf16(env, value, units.as_mut_ptr(), room, &mut written)
    };
    if status != sys::Status::napi_ok {
        return Err(());
    }
    Ok(written.min(room.saturating_sub(1)))
}

/// The text at `range`; `None` only for a mixed-up range (not on a char boundary).
fn as_text(buffer: &str, range: Range<usize>) -> Result<&str, JsError> {
    buffer
        .get(range)
        .ok_or_else(|| js_error(ErrorCode::InvalidArg, "argument is not valid text"))
}
