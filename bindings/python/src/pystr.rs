//! Borrowing the UTF-8 text of a Python `str` without a copy under the abi3 (3.9) limited API.
//!
//! `PyUnicode_AsUTF8AndSize` returns a pointer to the UTF-8 form CPython caches inside the string
//! object; it is in the stable ABI only from 3.10, so the 3.9 limited API (and pyo3's
//! `PyString::to_str` with `abi3-py39`) leave it out and would force a copy through a temporary
//! `bytes` object. The function has been exported by every CPython 3.x, so it is looked up once
//! with `dlsym` and used when present; otherwise the copy path is used.

use std::borrow::Cow;
use std::ffi::{c_char, c_void};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

type AsUtf8AndSize =
    unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::Py_ssize_t) -> *const c_char;

fn as_utf8_and_size() -> Option<AsUtf8AndSize> {
    static FUNCTION: OnceLock<Option<AsUtf8AndSize>> = OnceLock::new();
    *FUNCTION.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the loaded
        // symbol tables; a null result means "not found" and is handled.
        let symbol: *mut c_void =
            unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"PyUnicode_AsUTF8AndSize".as_ptr()) };
        if symbol.is_null() {
            None
        } else {
            // SAFETY: the symbol is CPython's `const char *PyUnicode_AsUTF8AndSize(PyObject *,
            // Py_ssize_t *)`, whose C signature is exactly `AsUtf8AndSize`.
            Some(unsafe { std::mem::transmute::<*mut c_void, AsUtf8AndSize>(symbol) })
        }
    })
}

/// The text of `string`, borrowed from the string object when possible.
///
/// Errors with CPython's `UnicodeEncodeError` when the string holds lone surrogates (they have
/// no UTF-8 form); callers raise it or the exception the published API raises instead.
pub(crate) fn str_view<'a>(string: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    if let Some(function) = as_utf8_and_size() {
        let mut size: ffi::Py_ssize_t = 0;
        // SAFETY: `string` is a live `str` (the Bound holds a reference and the GIL is held);
        // `size` is a valid out-pointer.
        let data = unsafe { function(string.as_ptr(), &mut size) };
        if data.is_null() {
            return Err(PyErr::fetch(string.py()));
        }
        let len = usize::try_from(size).unwrap_or(0);
        // SAFETY: CPython guarantees `data` points to `size` bytes of valid UTF-8 that live as
        // long as the string object, which outlives `'a` through the borrowed Bound.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        // SAFETY: the bytes are CPython's UTF-8 encoding of the string, valid by construction.
        return Ok(Cow::Borrowed(unsafe {
            std::str::from_utf8_unchecked(bytes)
        }));
    }
    string.to_cow()
}
