//! Per-environment state of the addon (the main thread and every Worker have their own): the
//! reusable arena of `buildSpanProtoBytes` and the exporters to drain on `process` `exit`.
//!
//! Why an `exit` listener: `process.exit()` skips both `beforeExit` and the environment cleanup
//! hooks, so without it the spans still in a ring (or in an exporter's open batch) would vanish
//! without being counted anywhere. One listener per environment, registered when the first
//! exporter of that environment is created, runs every live exporter's bounded final drain
//! synchronously on the exiting thread (the only place left to run it).

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{Env, FunctionCallContext};
use napi::{JsValue, sys};

use crate::error::{ErrorCode, JsResult, from_napi, js_error};

/// Something with a bounded, blocking final drain (the exporter behind a `RingExporter`).
pub trait ExitDrain: Send + Sync {
    /// Stops the exporter after exporting what it holds, within `timeout`.
    fn drain_for_exit(&self, timeout: Duration);
}

/// One exporter to drain at exit, with its budget. Weak: registration never keeps an exporter
/// alive; one collected (and so already drained by its drop) is skipped.
struct ExitEntry {
    target: Weak<dyn ExitDrain>,
    timeout: Duration,
}

/// The exporters of one environment to drain when its `process` emits `exit`.
#[derive(Default)]
pub struct ExitDrains {
    entries: Mutex<Vec<ExitEntry>>,
}

impl ExitDrains {
    /// Adds an exporter, forgetting the ones already gone so the list stays short.
    pub fn register(&self, target: Weak<dyn ExitDrain>, timeout: Duration) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|entry| entry.target.strong_count() > 0);
        entries.push(ExitEntry { target, timeout });
    }

    /// Drains every live exporter, one after the other (each within its own budget).
    pub fn drain_all(&self) {
        // Take the list so the lock is not held while draining (and a second `exit` finds
        // nothing to do).
        let entries = std::mem::take(
            &mut *self
                .entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for entry in entries {
            if let Some(target) = entry.target.upgrade() {
                target.drain_for_exit(entry.timeout);
            }
        }
    }
}

/// The addon's N-API instance data.
pub struct EnvState {
    /// `buildSpanProtoBytes`'s reusable string arena. Only ever used on this environment's
    /// thread; a re-entrant call (from a getter) finds it borrowed and uses a fresh one.
    pub build_input_arena: RefCell<Vec<u8>>,
    /// The text functions' reusable argument buffers, under the same rule.
    pub text_args: RefCell<ArgBuffers>,
    pub exit_drains: Arc<ExitDrains>,
}

/// This environment's state, created on first use (`exit` listener registered).
pub fn env_state(env: &Env) -> JsResult<&'static EnvState> {
    if let Some(state) = env.get_instance_data::<EnvState>().map_err(from_napi)? {
        return Ok(state);
    }
    let exit_drains = Arc::new(ExitDrains::default());
    // Listener first: state stored without its listener would never get one.
    listen_for_exit(env, Arc::clone(&exit_drains))?;
    let state = EnvState {
        build_input_arena: RefCell::new(Vec::new()),
        text_args: RefCell::new(ArgBuffers::default()),
        exit_drains,
    };
    env.set_instance_data(state, (), |_| {})
        .map_err(from_napi)?;
    env.get_instance_data::<EnvState>()
        .map_err(from_napi)?
        .map(|state| &*state)
        .ok_or_else(|| {
            js_error(
                ErrorCode::ExporterError,
                "could not store the per-environment state",
            )
        })
}

/// `process.on('exit', () => drains.drainAll())`. An embedder without a `process` object gets
/// no listener (the environment cleanup hooks still drain at teardown).
fn listen_for_exit(env: &Env, drains: Arc<ExitDrains>) -> JsResult<()> {
    let listener = env
        .create_function_from_closure::<(), (), _>(
            "driftRingExitDrain",
            move |_: FunctionCallContext| {
                drains.drain_all();
                Ok(())
            },
        )
        .map_err(from_napi)?;
    let raw_env = env.raw();
    // SAFETY: live env of the current call; the listener is a function value of it.
    unsafe { call_process_on_exit(raw_env, listener.raw()) }
}

/// # Safety
/// `env` must be the live environment of the current call and `listener` a function of it.
unsafe fn call_process_on_exit(env: sys::napi_env, listener: sys::napi_value) -> JsResult<()> {
    let failed = || {
        js_error(
            ErrorCode::ExporterError,
            "could not register the exit drain on `process`",
        )
    };
    let ok = |status: sys::napi_status| status == sys::Status::napi_ok;
    let mut global = std::ptr::null_mut();
    // SAFETY: live env (contract); `global` is a valid out pointer.
    if !ok(unsafe { sys::napi_get_global(env, &mut global) }) {
        return Err(failed());
    }
    let mut has_process = false;
    // SAFETY: live env; `global` is its global object; the name is NUL-terminated.
    let status =
        unsafe { sys::napi_has_named_property(env, global, c"process".as_ptr(), &mut has_process) };
    if !ok(status) {
        return Err(failed());
    }
    if !has_process {
        return Ok(());
    }
    let mut process = std::ptr::null_mut();
    let mut on = std::ptr::null_mut();
    let mut event = std::ptr::null_mut();
    let mut result = std::ptr::null_mut();
    // SAFETY: live env; every value passed is a live value of it; out pointers are valid; the
    // names are NUL-terminated; `argv` holds the two arguments `napi_call_function` reads.
    let registered = unsafe {
        ok(sys::napi_get_named_property(
            env,
            global,
            c"process".as_ptr(),
            &mut process,
        )) && ok(sys::napi_get_named_property(
            env,
            process,
            c"on".as_ptr(),
            &mut on,
        )) && ok(sys::napi_create_string_latin1(
            env,
            c"exit".as_ptr(),
            4,
            &mut event,
        )) && ok(sys::napi_call_function(
            env,
            process,
            on,
            2,
            [event, listener].as_ptr(),
            &mut result,
        ))
    };
    if registered { Ok(()) } else { Err(failed()) }
}

/// An environment's reused buffers for `js_text_arg` (kept here, not in a `thread_local!`, so
/// nothing outlives the environment): the code units of the argument being read, and the UTF-8
/// of every argument of the call. Defined here so this module depends on nothing above it.
#[derive(Default)]
pub struct ArgBuffers {
    pub(crate) units: Vec<u16>,
    /// Kept initialized (zeroed once when grown) so `encoding_rs` can write into it without a
    /// per-call fill; only `..used` holds this call's text. A `str`, so that `encoding_rs`
    /// keeps it valid UTF-8 and no check is needed to read it back.
    pub(crate) utf8: String,
    pub(crate) used: usize,
}
