//! `drift_core`: the Python binding of drift-core.
//!
//! A drop-in replacement for the published `drift-core-python` 0.1.9 module (same function names,
//! argument names, return shapes, exception types and hashes) plus [`ring::RingExporter`], which
//! hands finished spans to the shared-memory ring of `drift-exporter` with one copy.
//!
//! This crate only converts between Python objects and the core's types and maps errors: the
//! JSON, hashing, schema and protobuf work lives in `drift-core-rs`, the ring and the export
//! pipeline in `drift-exporter`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod api;
mod args;
mod errors;
mod from_py;
mod guard;
mod logs;
mod options;
mod pystr;
mod ring;
mod schema_from_py;
mod sdk_span;
mod to_py;

use pyo3::prelude::*;

/// Native core of the Tusk Drift Python SDK: canonical JSON, hashes, schemas, protobuf spans
/// and a shared-memory ring exporter.
#[pymodule]
fn drift_core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    // `setattr`, not `add`: `add` would list it in `__all__`, which the published module does not.
    module.setattr("__version__", env!("CARGO_PKG_VERSION"))?;
    api::register(module)?;
    ring::register(module)?;
    logs::install(module)?;
    module.setattr(
        "_exporter_options",
        pyo3::wrap_pyfunction!(options::_exporter_options, module)?,
    )?;
    // Test-only panic trigger; `setattr` keeps it out of `__all__`.
    module.setattr(
        "_test_panic",
        pyo3::wrap_pyfunction!(guard::_test_panic, module)?,
    )?;
    Ok(())
}
