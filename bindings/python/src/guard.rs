//! Panics never cross into CPython as `PanicException` (a `BaseException` the SDK's
//! `except Exception` would not catch): every exported entry point runs inside [`guarded`].

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::PyResult;

use crate::errors::internal_error;

/// Runs `f`, turning a panic into `ValueError("serialization error: internal error in ...")`.
pub(crate) fn guarded<T>(context: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(_) => Err(internal_error(context)),
    }
}

/// Test-only trigger (module attribute `_test_panic`, not in `__all__`): panics inside
/// [`guarded`], to prove that a panic reaches Python as `ValueError`, never `PanicException`.
#[pyo3::pyfunction]
pub(crate) fn _test_panic() -> PyResult<()> {
    guarded("_test_panic", || panic!("test panic trigger"))
}
