//! `RingExporter.prototype.pushSpan` as a small JavaScript function that reads the span's
//! properties and calls `pushSpanFields` with them.
//!
//! Reading 25 properties from native code costs one `napi_get_named_property` each (~60 ns:
//! V8 internalizes the C-string name every time, then does a generic lookup), 1.5 µs of the
//! 3.7 µs a 2 KB span took. The same reads in JavaScript are inline-cached property loads
//! that the JIT compiles for the SDK's span shape. The shim is compiled once per environment
//! when the module loads (`napi_run_script`); anything that is not an object still goes to the
//! native `pushSpan`, so its error is unchanged, and field errors are `pushSpanFields`'s, which
//! are worded the same (`span field `x` must be ...`). If the shim cannot be installed (a
//! runtime without `napi_run_script`), the native method stays.

use std::ptr;

use napi::bindgen_prelude::{Env, Object};
use napi::{JsValue, sys};
use napi_derive::napi;

use crate::ring_span::js_field_names;

/// The shim's source: a function that installs it on a class's prototype.
fn shim_source() -> String {
    let args: Vec<String> = js_field_names()
        .map(|name| format!("span.{name}"))
        .collect();
    format!(
        "(function (RingExporter) {{\n\
         'use strict'\n\
         const proto = RingExporter.prototype\n\
         const nativePushSpan = proto.pushSpan\n\
         const pushSpanFields = proto.pushSpanFields\n\
         if (typeof nativePushSpan !== 'function' || typeof pushSpanFields !== 'function') return\n\
         Object.defineProperty(proto, 'pushSpan', {{\n\
         value: function pushSpan(span) {{\n\
         if (span === null || typeof span !== 'object') return nativePushSpan.call(this, span)\n\
         return pushSpanFields.call(this, {})\n\
         }},\n\
         writable: true, configurable: true, enumerable: false,\n\
         }})\n\
         }})",
        args.join(", ")
    )
}

/// Installs the shim on `exports.RingExporter`; leaves the native method on any failure.
// napi-derive registers module_exports hooks only outside `cfg(test)`: in the crate's unit-test
// build nothing calls this (the Node suite exercises it through the loaded addon).
#[cfg_attr(test, allow(dead_code))]
#[napi(module_exports)]
pub fn install(exports: Object<'_>, env: Env) -> napi::Result<()> {
    let raw_env = env.raw();
    let source = shim_source();
    // SAFETY: `raw_env` is the live environment of module registration and `exports` one of
    // its values; every out pointer is valid; failures leave the native method in place.
    unsafe {
        let mut constructor = ptr::null_mut();
        if sys::napi_get_named_property(
            raw_env,
            exports.raw(),
            c"RingExporter".as_ptr(),
            &mut constructor,
        ) != sys::Status::napi_ok
        {
            return Ok(());
        }
        let mut script = ptr::null_mut();
        if sys::napi_create_string_utf8(
            raw_env,
            source.as_ptr().cast(),
            source.len() as isize,
            &mut script,
        ) != sys::Status::napi_ok
        {
            return Ok(());
        }
        let mut installer = ptr::null_mut();
        if sys::napi_run_script(raw_env, script, &mut installer) != sys::Status::napi_ok {
            clear_exception(raw_env);
            return Ok(());
        }
        let mut undefined = ptr::null_mut();
        sys::napi_get_undefined(raw_env, &mut undefined);
        let mut result = ptr::null_mut();
        if sys::napi_call_function(raw_env, undefined, installer, 1, &constructor, &mut result)
            != sys::Status::napi_ok
        {
            clear_exception(raw_env);
        }
    }
    Ok(())
}

/// Drops a pending exception left by a failed install step.
///
/// # Safety
/// `env` must be live.
#[cfg_attr(test, allow(dead_code))]
unsafe fn clear_exception(env: sys::napi_env) {
    let mut pending = false;
    // SAFETY: live env (contract); valid out pointers.
    unsafe {
        if sys::napi_is_exception_pending(env, &mut pending) == sys::Status::napi_ok && pending {
            let mut error = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut error);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shim_passes_every_field_in_order() {
        let source = super::shim_source();
        let names: Vec<&str> = super::js_field_names().collect();
        let call = names
            .iter()
            .map(|name| format!("span.{name}"))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(source.contains(&format!("pushSpanFields.call(this, {call})")));
        assert_eq!(names.len(), crate::ring_span::FIELD_COUNT);
    }
}
