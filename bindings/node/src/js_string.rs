//! Result strings and bytes handed to V8 the cheap way.
//!
//! Strings skip its UTF-8 decoder ([`JsText`]); small byte results are copied rather than
//! wrapped as external memory ([`JsBytes`]).
//!
//! `napi_create_string_utf8` makes V8 decode UTF-8 one code point at a time, which for a 20 KB
//! canonical JSON text costs more than the core spent producing it. V8 stores strings as
//! Latin-1 ("one-byte") or UTF-16, so we hand it one of those directly: ASCII text as is (it is
//! already Latin-1), other Latin-1 text narrowed, anything else widened to UTF-16, the latter two
//! with `encoding_rs`'s word-at-a-time ASCII runs.

use std::ffi::c_char;
use std::ptr;

use napi::bindgen_prelude::{ToNapiValue, TypeName};
use napi::{Status, ValueType, sys};

/// A Rust string returned to JavaScript as a JS string (TypeScript type `string`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsText(pub String);

impl From<String> for JsText {
    fn from(text: String) -> Self {
        JsText(text)
    }
}

impl TypeName for JsText {
    fn type_name() -> &'static str {
        "String"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            Status::from(status),
            format!("failed to create a {what} value"),
        ))
    }
}

/// Creates a JS string from UTF-8 text, choosing V8's cheapest representation.
///
/// # Safety
/// `env` must be the live environment of the current call.
pub unsafe fn create_js_string(env: sys::napi_env, text: &str) -> napi::Result<sys::napi_value> {
    let bytes = text.as_bytes();
    let mut value = ptr::null_mut();
    // `isize` lengths: a Rust allocation never exceeds `isize::MAX` bytes.
    // The standard library's check reads several words per step, faster than `encoding_rs`'s.
    if bytes.is_ascii() {
        // SAFETY: `env` is live (contract); the pointer/length describe `bytes`, which ASCII makes
        // valid Latin-1; `value` is a valid out pointer.
        let status = unsafe {
            sys::napi_create_string_latin1(
                env,
                bytes.as_ptr().cast::<c_char>(),
                bytes.len() as isize,
                &mut value,
            )
        };
        check(status, "Latin-1")?;
    } else if encoding_rs::mem::is_str_latin1(text) {
        // Fewer Latin-1 bytes than UTF-8 bytes, so `bytes.len()` always suffices.
        let mut latin1 = vec![0u8; bytes.len()];
        let written = encoding_rs::mem::convert_utf8_to_latin1_lossy(bytes, &mut latin1);
        // SAFETY: as above, with the converted buffer's first `written` bytes.
        let status = unsafe {
            sys::napi_create_string_latin1(
                env,
                latin1.as_ptr().cast::<c_char>(),
                written as isize,
                &mut value,
            )
        };
        check(status, "Latin-1")?;
    } else {
        // A UTF-8 string never has more UTF-16 units than bytes.
        let mut utf16 = vec![0u16; bytes.len()];
        let written = encoding_rs::mem::convert_str_to_utf16(text, &mut utf16);
        // SAFETY: `env` is live; the pointer/length describe the first `written` code units.
        let status = unsafe {
            sys::napi_create_string_utf16(env, utf16.as_ptr(), written as isize, &mut value)
        };
        check(status, "UTF-16")?;
    }
    Ok(value)
}

impl ToNapiValue for JsText {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: napi-rs calls this with the live env of the current call.
        unsafe { create_js_string(env, &val.0) }
    }
}

/// Rust bytes returned to JavaScript as a `Buffer` (TypeScript type `Buffer`), always copied
/// into an ordinary, V8-managed Buffer.
///
/// napi-rs (and the published addon) hand a `Vec<u8>` over as an external Buffer. In a loop
/// that builds large results the collector then never catches up: 300 export requests of 4 MB
/// peaked at 1.2 GB RSS with the published addon (and with external Buffers reported through
/// `napi_adjust_external_memory`), against 83 MB for the same loop with copied Buffers, which
/// V8 allocates and accounts like `Buffer.alloc`. The copy costs a few percent of building a
/// large request and less than an external Buffer's box, finalizer and weak handle for the few
/// KB of a Struct or Span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsBytes(pub Vec<u8>);

impl TypeName for JsBytes {
    fn type_name() -> &'static str {
        "Buffer"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for JsBytes {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut data = ptr::null_mut();
        let mut value = ptr::null_mut();
        // SAFETY: napi-rs calls this with the live env of the current call; the pointer/length
        // describe `val.0`, which N-API copies before returning; `data` and `value` are valid
        // out pointers.
        let status = unsafe {
            sys::napi_create_buffer_copy(
                env,
                val.0.len(),
                val.0.as_ptr().cast(),
                &mut data,
                &mut value,
            )
        };
        check(status, "Buffer")?;
        Ok(value)
    }
}
