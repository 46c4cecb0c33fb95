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

use std::cell::RefCell;
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

/// Largest conversion and text buffers kept between calls on a thread.
const RETAINED_BYTES: usize = 1 << 20;

/// Buffers reused across calls on a thread (each Worker has its own): converting a result
/// string, and writing a canonical text before it becomes a JS string. Allocating and freeing a
/// few KB per call cost more than the conversion itself (glibc's free of chunks past its
/// thread cache: 10 % of a 2 KB `normalizeJson`).
#[derive(Default)]
struct Buffers {
    latin1: Vec<u8>,
    utf16: Vec<u16>,
    text: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::default();
}

/// Runs `f` with the thread's buffers (fresh ones if they are in use: never, as no JavaScript
/// runs while they are borrowed, but harmless), dropping ones grown past the retained size.
fn with_buffers<R>(f: impl FnOnce(&mut Buffers) -> R) -> R {
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => {
            let result = f(&mut buffers);
            if buffers.latin1.capacity() > RETAINED_BYTES
                || buffers.utf16.capacity() * 2 > RETAINED_BYTES
                || buffers.text.capacity() > RETAINED_BYTES
            {
                *buffers = Buffers::default();
            }
            result
        }
        Err(_) => f(&mut Buffers::default()),
    })
}

/// A value already created in the current call's environment, handed back as is.
pub struct JsCreated(pub sys::napi_value);

impl TypeName for JsCreated {
    fn type_name() -> &'static str {
        "String"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ToNapiValue for JsCreated {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

/// Writes a text with `write` into the thread's reused buffer and creates the JS string of it:
/// no allocation of its own per call.
///
/// # Safety
/// `env` must be the live environment of the current call; `write` must append only valid
/// UTF-8 to the (empty) buffer it is given.
pub unsafe fn create_js_string_with<E>(
    env: sys::napi_env,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<napi::Result<JsCreated>, E> {
    let mut text = with_buffers(|buffers| std::mem::take(&mut buffers.text));
    text.clear();
    let written = write(&mut text).map(|()| {
        // SAFETY: `write` appended only valid UTF-8 to the empty buffer (contract).
        let str = unsafe { std::str::from_utf8_unchecked(&text) };
        // SAFETY: live env (contract).
        unsafe { create_js_string(env, str) }.map(JsCreated)
    });
    if text.capacity() <= RETAINED_BYTES {
        with_buffers(|buffers| buffers.text = text);
    }
    written
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
        with_buffers(|buffers| {
            // Fewer Latin-1 bytes than UTF-8 bytes, so `bytes.len()` always suffices.
            let latin1 = &mut buffers.latin1;
            if latin1.len() < bytes.len() {
                latin1.resize(bytes.len(), 0);
            }
            let written = encoding_rs::mem::convert_utf8_to_latin1_lossy(bytes, latin1);
            // SAFETY: as above, with the converted buffer's first `written` bytes.
            let status = unsafe {
                sys::napi_create_string_latin1(
                    env,
                    latin1.as_ptr().cast::<c_char>(),
                    written as isize,
                    &mut value,
                )
            };
            check(status, "Latin-1")
        })?;
    } else {
        with_buffers(|buffers| {
            // A UTF-8 string never has more UTF-16 units than bytes.
            let utf16 = &mut buffers.utf16;
            if utf16.len() < bytes.len() {
                utf16.resize(bytes.len(), 0);
            }
            let written = encoding_rs::mem::convert_str_to_utf16(text, utf16);
            // SAFETY: `env` is live; the pointer/length describe the first `written` code units.
            let status = unsafe {
                sys::napi_create_string_utf16(env, utf16.as_ptr(), written as isize, &mut value)
            };
            check(status, "UTF-16")
        })?;
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
