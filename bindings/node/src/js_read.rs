//! Reading JavaScript argument objects field by field, straight through N-API: the shared
//! pieces of the hand-written readers of `pushSpan` ([`crate::ring_span`]) and
//! `buildSpanProtoBytes` ([`crate::span_input`]).
//!
//! * Properties are looked up by name (`napi_get_named_property`), one N-API call per field.
//!   Internalized key strings kept per environment in a JS array were slower: fetching a key
//!   back with `napi_get_element` cost as much as V8's per-call internalization of a short
//!   name (`buildSpanProtoBytes` with minimal JSON 5.2 → 4.6 µs, `pushSpan` 2 KB 4.5 → 3.8 µs).
//! * Strings are copied out of V8 with one call into a reusable arena's spare room (64 KiB kept
//!   free); only a string that may not have fitted is copied again, sized from its UTF-16
//!   length (O(1) in V8, at most 3 UTF-8 bytes per unit), so there is never a length scan.

use std::ffi::CStr;
use std::ops::Range;
use std::ptr;

use napi::sys;

/// Spare arena bytes kept for the one-call string copy; an argument's strings usually fit, so
/// most strings cost one N-API call.
const MIN_SPARE_BYTES: usize = 64 * 1024;

/// Why a value could not be read as the expected type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFailure {
    /// Not a value of the expected type.
    WrongType,
    /// A string too long to size a buffer for (beyond `usize`).
    TooLong,
}

/// `object[name]`; `None` when the lookup fails (a getter threw: the exception is pending).
///
/// # Safety
/// `env` must be live and `object` a value of the current call.
pub unsafe fn named_property(
    env: sys::napi_env,
    object: sys::napi_value,
    name: &CStr,
) -> Option<sys::napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: live env and object (contract); the name is NUL-terminated; `value` is a valid
    // out pointer. A getter may run JS and throw: that surfaces as a non-ok status.
    let status = unsafe { sys::napi_get_named_property(env, object, name.as_ptr(), &mut value) };
    (status == sys::Status::napi_ok).then_some(value)
}

/// `napi_typeof`, `None` when the call fails.
///
/// # Safety
/// `env` must be live and `value` a value of it.
pub unsafe fn type_of(env: sys::napi_env, value: sys::napi_value) -> Option<sys::napi_valuetype> {
    let mut value_type = 0;
    // SAFETY: per this function's contract; `value_type` is a valid out pointer.
    let status = unsafe { sys::napi_typeof(env, value, &mut value_type) };
    (status == sys::Status::napi_ok).then_some(value_type)
}

/// `undefined` or `null`.
///
/// # Safety
/// `env` must be live and `value` a value of it.
pub unsafe fn is_nullish(env: sys::napi_env, value: sys::napi_value) -> bool {
    matches!(
        // SAFETY: per this function's contract.
        unsafe { type_of(env, value) },
        Some(sys::ValueType::napi_undefined | sys::ValueType::napi_null)
    )
}

/// Appends the UTF-8 of string `value` to `arena` and returns its byte range; `Ok(None)` when
/// `value` is `undefined`/`null`. Lone surrogates become U+FFFD (N-API's conversion), so the
/// range always holds valid UTF-8.
///
/// # Safety
/// `env` must be live and `value` a value of it.
pub unsafe fn append_utf8(
    env: sys::napi_env,
    value: sys::napi_value,
    arena: &mut Vec<u8>,
) -> Result<Option<Range<usize>>, ReadFailure> {
    let start = arena.len();
    // First try: copy into the arena's spare room in one call. N-API writes at most
    // `room - 1` bytes plus a NUL, so a result shorter than that is the whole string.
    if arena.capacity() - start < MIN_SPARE_BYTES {
        arena.reserve(MIN_SPARE_BYTES);
    }
    let room = arena.capacity() - start;
    // SAFETY: live env/value (contract); the buffer is the arena's spare capacity.
    let Ok(written) = (unsafe { copy_utf8(env, value, arena, start, room) }) else {
        // SAFETY: per this function's contract.
        if unsafe { is_nullish(env, value) } {
            return Ok(None);
        }
        return Err(ReadFailure::WrongType);
    };
    if written + 1 < room {
        // SAFETY: N-API initialized `written` bytes after `start`, within the capacity.
        unsafe { arena.set_len(start + written) };
        return Ok(Some(start..start + written));
    }
    // Possibly truncated: size the room exactly. Every UTF-16 unit becomes at most 3 UTF-8
    // bytes (a surrogate pair: 2 units, 4 bytes); V8 knows the unit count without a scan.
    let mut units = 0usize;
    // SAFETY: live env and value; a null buffer asks for the length in UTF-16 units.
    let status =
        unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut units) };
    if status != sys::Status::napi_ok {
        return Err(ReadFailure::WrongType);
    }
    let room = units
        .checked_mul(3)
        .and_then(|n| n.checked_add(1))
        .ok_or(ReadFailure::TooLong)?;
    arena.reserve(room);
    // SAFETY: as above, with `room` reserved bytes after `start`.
    let written = unsafe { copy_utf8(env, value, arena, start, room) }
        .map_err(|()| ReadFailure::WrongType)?;
    // SAFETY: N-API initialized `written` bytes after `start`, within the capacity.
    unsafe { arena.set_len(start + written) };
    Ok(Some(start..arena.len()))
}

/// Copies the UTF-8 of string `value` into `arena`'s spare capacity at `start` (at most
/// `room - 1` bytes) and returns the byte count; `Err` if `value` is not a string.
///
/// # Safety
/// `env` must be live and `value` one of its values; `arena` must have at least `room` bytes
/// of capacity after `start`.
unsafe fn copy_utf8(
    env: sys::napi_env,
    value: sys::napi_value,
    arena: &mut Vec<u8>,
    start: usize,
    room: usize,
) -> Result<usize, ()> {
    let mut written = 0usize;
    // SAFETY: per this function's contract: the buffer is `room` writable bytes of the arena's
    // allocation; N-API writes at most that many (NUL included).
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value,
            arena.as_mut_ptr().add(start).cast(),
            room,
            &mut written,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(());
    }
    Ok(written.min(room.saturating_sub(1)))
}

/// Appends the bytes of Buffer (or other `Uint8Array` N-API accepts) `value` to `arena` and
/// returns their range; `Ok(None)` when `value` is `undefined`/`null`. Copied rather than
/// borrowed so no later getter can detach the memory under a slice.
///
/// # Safety
/// `env` must be live and `value` a value of it.
pub unsafe fn append_buffer(
    env: sys::napi_env,
    value: sys::napi_value,
    arena: &mut Vec<u8>,
) -> Result<Option<Range<usize>>, ReadFailure> {
    let mut data = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY: live env and value (contract); `data` and `len` are valid out pointers.
    let status = unsafe { sys::napi_get_buffer_info(env, value, &mut data, &mut len) };
    if status != sys::Status::napi_ok {
        // SAFETY: per this function's contract.
        if unsafe { is_nullish(env, value) } {
            return Ok(None);
        }
        return Err(ReadFailure::WrongType);
    }
    let start = arena.len();
    if len > 0 && !data.is_null() {
        // SAFETY: N-API reports `len` readable bytes at `data`, alive for the current call
        // and not touched by JS while this copy runs.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        arena.extend_from_slice(bytes);
    }
    Ok(Some(start..arena.len()))
}

/// A number converted as napi-rs converts to `i32` (`napi_get_value_int32`: truncated, wrapped
/// modulo 2^32, non-finite as 0), the published addon's semantics; `Ok(None)` when absent.
///
/// # Safety
/// `env` must be live and `value` a value of it.
pub unsafe fn int32(
    env: sys::napi_env,
    value: sys::napi_value,
) -> Result<Option<i32>, ReadFailure> {
    let mut number = 0i32;
    // SAFETY: live env and value; `number` is a valid out pointer.
    if unsafe { sys::napi_get_value_int32(env, value, &mut number) } == sys::Status::napi_ok {
        return Ok(Some(number));
    }
    // SAFETY: per this function's contract.
    if unsafe { is_nullish(env, value) } {
        return Ok(None);
    }
    Err(ReadFailure::WrongType)
}

/// A number converted as napi-rs converts to `i64` (`napi_get_value_int64`: truncated,
/// saturated, non-finite as 0); `Ok(None)` when absent.
///
/// # Safety
/// `env` must be live and `value` a value of it.
pub unsafe fn int64(
    env: sys::napi_env,
    value: sys::napi_value,
) -> Result<Option<i64>, ReadFailure> {
    let mut number = 0i64;
    // SAFETY: live env and value; `number` is a valid out pointer.
    if unsafe { sys::napi_get_value_int64(env, value, &mut number) } == sys::Status::napi_ok {
        return Ok(Some(number));
    }
    // SAFETY: per this function's contract.
    if unsafe { is_nullish(env, value) } {
        return Ok(None);
    }
    Err(ReadFailure::WrongType)
}

/// A boolean (no coercion); `Ok(None)` when absent.
///
/// # Safety
/// `env` must be live and `value` a value of it.
pub unsafe fn boolean(
    env: sys::napi_env,
    value: sys::napi_value,
) -> Result<Option<bool>, ReadFailure> {
    let mut flag = false;
    // SAFETY: live env and value; `flag` is a valid out pointer.
    if unsafe { sys::napi_get_value_bool(env, value, &mut flag) } == sys::Status::napi_ok {
        return Ok(Some(flag));
    }
    // SAFETY: per this function's contract.
    if unsafe { is_nullish(env, value) } {
        return Ok(None);
    }
    Err(ReadFailure::WrongType)
}
