//! `RingExporter`: the JavaScript face of `drift_exporter::Exporter`.
//!
//! * `pushSpan` reads the span object into a reusable arena ([`SpanReader`]) and hands the
//!   borrowed record to the exporter, which encodes it into a ring slot: the event loop pays for
//!   reading the strings out of V8 and one copy into shared memory. Refusals (full, too large,
//!   after shutdown) are a `false` return, counted in the health snapshot, never an exception.
//! * `forceFlush`/`shutdown` return Promises settled from a short-lived thread, so neither the
//!   event loop nor libuv's thread pool waits on the sink.
//! * Per environment: each instance belongs to the environment (main thread or Worker) that
//!   created it, and registers an environment cleanup hook that shuts it down, with a bounded
//!   final drain, when that environment is torn down. No thread-local state.
//! * The exporter's own threads are plain OS threads (they never hold the event loop open); the
//!   callback sink's threadsafe function is weak (unref'd) for the same reason.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use drift_exporter::{
    Exporter, ExporterConfig, HealthSnapshot, HealthValue, OPTIONS, Overrides, SinkConfig,
    camel_case,
};
use napi::bindgen_prelude::{Buffer, Env, Function, Object, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{JsValue, Status};
use napi_derive::napi;

use crate::env_state::{ExitDrain, env_state};
use crate::error::{ErrorCode, JsError, from_exporter, from_napi, js_error};
use crate::ring_span::{FIELD_COUNT, SpanReader};

/// Default budget of `forceFlush`/`shutdown` when no timeout is given (OpenTelemetry's 30 s).
const DEFAULT_TIMEOUT_MS: f64 = 30_000.0;
/// Default budget of the final drain when the owning environment is torn down.
const DEFAULT_EXIT_FLUSH_TIMEOUT_MS: u32 = 2_000;

/// `RingExporter` options: the exporter's option table (`drift_exporter::OPTIONS`, listed by
/// `exporterOptions()`) in camelCase, the same options as Python's `RingExporter`, plus
/// `callback` and `exitFlushTimeoutMs`. Each option's text below is the table's help. Unset
/// fields come from their `TUSK_*` environment variables, then the defaults.
#[napi(object, object_to_js = false)]
pub struct RingExporterOptions<'a> {
    /// Where spans go: api (the Tusk backend), file (JSON lines under traces_dir) or sidecar (only
    /// write the ring; a drift-exporter sidecar exports). Default file. In Node also callback (the
    /// default when a callback is given).
    pub sink: Option<String>,
    /// Base URL of the Tusk backend (api sink). Default https://api.usetusk.ai.
    pub api_url: Option<String>,
    /// API key sent to the Tusk backend (api sink); never logged.
    pub api_key: Option<String>,
    /// Directory of the trace files (file sink). Default .tusk/traces.
    pub traces_dir: Option<String>,
    /// Service id sent with every export request.
    pub observable_service_id: Option<String>,
    /// Environment name sent with every export request.
    pub environment: Option<String>,
    /// SDK version sent with every export request.
    pub sdk_version: Option<String>,
    /// SDK instance id sent with every export request.
    pub sdk_instance_id: Option<String>,
    /// Directory of the ring files the sidecar drains. Default: a private per-user directory under
    /// /dev/shm.
    pub ring_dir: Option<String>,
    /// In-process only: an anonymous ring instead of a named file in ring_dir (nothing survives
    /// the process). Default false.
    pub ring_anonymous: Option<bool>,
    /// Data bytes of each process's ring, rounded up to a power of two. Default 4 MiB.
    pub ring_capacity_bytes: Option<f64>,
    /// Largest encoded span accepted; larger spans are dropped as too_large. Default 1 MiB, lowered
    /// to what the ring holds.
    pub max_span_bytes: Option<f64>,
    /// Most spans in one export request. Default 512.
    pub max_export_batch_size: Option<f64>,
    /// Most bytes in one export request. Default 4 MiB.
    pub max_export_batch_bytes: Option<f64>,
    /// Longest a span waits for its batch, in milliseconds. Default 2000.
    pub schedule_delay_millis: Option<f64>,
    /// Budget of one export attempt (the HTTP request timeout), in milliseconds. Default 30000.
    pub export_timeout_millis: Option<f64>,
    /// Gzip request bodies of at least this many bytes (api sink); 0 never compresses (the
    /// default).
    pub gzip_min_bytes: Option<f64>,
    /// Export requests waiting to be sent (api sink); beyond this the oldest is dropped as
    /// export_failed. Default 8.
    pub max_pending_requests: Option<f64>,
    /// Attempts per export request including the first (api sink); failures are retried with
    /// jittered exponential backoff. Default 3.
    pub max_retry_attempts: Option<f64>,
    /// The `callback` sink: receives each `ExportSpansRequest` as a Buffer, on the event loop.
    pub callback: Option<Function<'a, Buffer, ()>>,
    /// Final drain budget when the owning environment (thread or process) is torn down.
    pub exit_flush_timeout_ms: Option<u32>,
}

/// One option of the exporter's table (`exporterOptions()`).
#[napi(object)]
pub struct ExporterOption {
    /// The option's name in `RingExporterOptions` (camelCase).
    pub name: String,
    /// Its environment variable.
    pub env: String,
    pub help: String,
}

/// The exporter's option table: every `RingExporterOptions` field except `callback` and
/// `exitFlushTimeoutMs` (the same options as Python's `RingExporter` and `drift-exporter run`).
#[napi]
pub fn exporter_options() -> Vec<ExporterOption> {
    OPTIONS
        .iter()
        .map(|spec| ExporterOption {
            name: camel_case(spec.name),
            env: spec.env.to_string(),
            help: spec.help.to_string(),
        })
        .collect()
}

/// Spans dropped, by reason. Declares the `index.d.ts` type only: the object is built from the
/// snapshot's named entries (`health_object`), and a test checks the two agree.
#[napi(object)]
pub struct DroppedSpans {
    pub queue_full: f64,
    pub too_large: f64,
    pub already_shutdown: f64,
    pub serialization_error: f64,
    pub export_failed: f64,
    pub fork_discarded: f64,
}

/// `getHealthSnapshot()`: counters, ring occupancy and circuit state. Declares the `index.d.ts`
/// type only: the object is built from the snapshot's named entries (`health_object`), and a
/// test checks the two agree.
#[napi(object)]
pub struct RingExporterHealth {
    pub queue_size_bytes: f64,
    pub queue_capacity_bytes: f64,
    pub fill_ratio: f64,
    pub pushed: f64,
    /// Spans read from rings dead earlier processes of this service left.
    pub recovered: f64,
    pub exported: f64,
    pub dropped_total: f64,
    pub dropped: DroppedSpans,
    pub in_flight: f64,
    pub batches: f64,
    pub bytes_sent: f64,
    pub export_failures: f64,
    pub export_timeouts: f64,
    pub retries: f64,
    pub last_export_latency_ms: f64,
    /// `closed`, `open` or `half_open`.
    pub circuit_state: String,
    pub running: bool,
}

/// The snapshot's named entries (`HealthSnapshot::entries`) as a JavaScript object, names in
/// camelCase.
fn health_object<'env>(env: &'env Env, health: &HealthSnapshot) -> napi::Result<Object<'env>> {
    let mut object = Object::new(env)?;
    for (name, value) in health.entries() {
        let name = camel_case(name);
        // Counters are far below 2^53: exact as JavaScript numbers.
        match value {
            HealthValue::Count(count) => object.set(name, count as f64)?,
            HealthValue::Number(number) => object.set(name, number)?,
            HealthValue::Text(text) => object.set(name, text)?,
            HealthValue::Flag(flag) => object.set(name, flag)?,
            HealthValue::Dropped(dropped) => {
                let mut by_reason = Object::new(env)?;
                for (reason, count) in dropped.entries() {
                    by_reason.set(camel_case(reason), count as f64)?;
                }
                object.set(name, by_reason)?;
            }
        }
    }
    Ok(object)
}

/// Requests handed to the callback threadsafe function and not yet delivered to JavaScript.
/// A flush resolves only once this is back to zero, so `await forceFlush()` sees every callback.
#[derive(Default)]
struct CallbackDeliveries {
    pending: AtomicU64,
}

/// The exporter and what its promises need, shared with the settle threads and the cleanup hook.
struct Shared {
    exporter: Exporter,
    deliveries: Option<Arc<CallbackDeliveries>>,
}

impl Shared {
    /// Flush, then wait (within the same deadline) until the callback sink's requests reached JS.
    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let flushed = self.exporter.force_flush(timeout);
        flushed && self.wait_for_deliveries(deadline)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let done = self.exporter.shutdown(timeout);
        done && self.wait_for_deliveries(deadline)
    }

    /// The final drain on the calling thread. Callback-sink requests are handed to the event
    /// loop but not awaited: the loop cannot run while this blocks it (or at all, during `exit`).
    fn shutdown_on_this_thread(&self, timeout: Duration) -> bool {
        self.exporter.shutdown(timeout)
    }

    fn wait_for_deliveries(&self, deadline: Instant) -> bool {
        let Some(deliveries) = &self.deliveries else {
            return true;
        };
        loop {
            if deliveries.pending.load(Ordering::Acquire) == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl ExitDrain for Shared {
    fn drain_for_exit(&self, timeout: Duration) {
        self.shutdown_on_this_thread(timeout);
    }
}

/// The native ring exporter: `pushSpan` on the event loop, everything else on its own threads.
#[napi]
pub struct RingExporter {
    shared: Option<Arc<Shared>>,
    reader: SpanReader,
    sdk_version: String,
    /// `exitFlushTimeoutMs`: the budget of the drains at exit and of `shutdownSync()`.
    exit_timeout: Duration,
}

fn non_negative(name: &str, value: Option<f64>) -> Result<Option<u64>, JsError> {
    match value {
        None => Ok(None),
        Some(v)
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 =>
        {
            Ok(Some(v as u64))
        }
        Some(v) => Err(js_error(
            ErrorCode::InvalidConfig,
            format!("invalid configuration {name}: expected a non-negative integer, got {v}"),
        )),
    }
}

fn size(name: &str, value: Option<f64>) -> Result<Option<usize>, JsError> {
    non_negative(name, value)?
        .map(|v| {
            usize::try_from(v).map_err(|_| {
                js_error(
                    ErrorCode::InvalidConfig,
                    format!("invalid configuration {name}: too large"),
                )
            })
        })
        .transpose()
}

/// The options as the exporter's partial configuration (same names, snake_case).
fn file_config(options: &RingExporterOptions<'_>) -> Result<Overrides, JsError> {
    let sink = match options
        .sink
        .as_deref()
        .map(str::trim)
        .map(str::to_ascii_lowercase)
    {
        // The callback sink is not a file/environment setting; it is installed afterwards.
        Some(kind) if kind == "callback" => None,
        other => other,
    };
    Ok(Overrides {
        ring_dir: options.ring_dir.clone().map(Into::into),
        ring_capacity_bytes: size("ring_capacity_bytes", options.ring_capacity_bytes)?,
        max_span_bytes: size("max_span_bytes", options.max_span_bytes)?,
        max_export_batch_size: size("max_export_batch_size", options.max_export_batch_size)?,
        max_export_batch_bytes: size("max_export_batch_bytes", options.max_export_batch_bytes)?,
        schedule_delay_millis: non_negative(
            "schedule_delay_millis",
            options.schedule_delay_millis,
        )?,
        export_timeout_millis: non_negative(
            "export_timeout_millis",
            options.export_timeout_millis,
        )?,
        observable_service_id: options.observable_service_id.clone(),
        environment: options.environment.clone(),
        sdk_version: options.sdk_version.clone(),
        sdk_instance_id: options.sdk_instance_id.clone(),
        sink,
        api_url: options.api_url.clone(),
        api_key: options.api_key.clone(),
        gzip_min_bytes: size("gzip_min_bytes", options.gzip_min_bytes)?,
        max_pending_requests: size("max_pending_requests", options.max_pending_requests)?,
        max_retry_attempts: non_negative("max_retry_attempts", options.max_retry_attempts)?
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
        traces_dir: options.traces_dir.clone().map(Into::into),
    })
}

fn wants_callback_sink(options: &RingExporterOptions<'_>) -> Result<bool, JsError> {
    let named = options
        .sink
        .as_deref()
        .map(|s| s.trim().eq_ignore_ascii_case("callback"));
    match (named, options.callback.is_some()) {
        (Some(true), true) | (None, true) => Ok(true),
        (Some(true), false) => Err(js_error(
            ErrorCode::InvalidConfig,
            "invalid configuration sink: the callback sink needs a `callback` function",
        )),
        (Some(false), true) => Err(js_error(
            ErrorCode::InvalidConfig,
            "invalid configuration callback: a callback is only used with sink `callback`",
        )),
        (_, false) => Ok(false),
    }
}

/// Wraps the JS callback in a weak threadsafe function the sender thread can call.
fn callback_sink(
    callback: &Function<'_, Buffer, ()>,
    deliveries: &Arc<CallbackDeliveries>,
) -> Result<SinkConfig, JsError> {
    let delivered = Arc::clone(deliveries);
    let tsfn: ThreadsafeFunction<Vec<u8>, (), Buffer, Status, false, true> = callback
        .build_threadsafe_function::<Vec<u8>>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(move |ctx| {
            // Runs on the event loop just before the JS callback is called with the Buffer.
            delivered.pending.fetch_sub(1, Ordering::AcqRel);
            Ok(Buffer::from(ctx.value))
        })
        .map_err(from_napi)?;
    let tsfn = Arc::new(tsfn);
    let queued = Arc::clone(deliveries);
    Ok(SinkConfig::Callback(Arc::new(move |request: Vec<u8>| {
        queued.pending.fetch_add(1, Ordering::AcqRel);
        let status = tsfn.call(request, ThreadsafeFunctionCallMode::NonBlocking);
        if status != Status::Ok {
            // The environment is closing (or the queue refused): nothing will be delivered.
            queued.pending.fetch_sub(1, Ordering::AcqRel);
        }
    })))
}

fn millis(timeout_ms: Option<f64>) -> Duration {
    let ms = timeout_ms
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0)
}

/// Runs `work` on a new thread and settles a Promise with its boolean.
fn settle_off_thread<'env>(
    env: &'env Env,
    name: &str,
    shared: Option<Arc<Shared>>,
    work: impl FnOnce(&Shared) -> bool + Send + 'static,
) -> Result<Object<'env>, JsError> {
    let (deferred, promise) = env.create_deferred::<bool, _>().map_err(from_napi)?;
    let spawned = thread::Builder::new()
        .name(format!("drift-node-{name}"))
        .spawn(move || {
            let outcome = shared.is_some_and(|shared| work(&shared));
            deferred.resolve(move |_| Ok(outcome));
        });
    match spawned {
        Ok(_) => Ok(promise),
        Err(error) => Err(js_error(
            ErrorCode::ExporterError,
            format!("could not start the {name} thread: {error}"),
        )),
    }
}

#[napi]
impl RingExporter {
    /// Starts an exporter: its ring and, unless the sink is `sidecar`, its drain and sender
    /// threads.
    #[napi(constructor)]
    pub fn new(env: Env, options: Option<RingExporterOptions<'_>>) -> Result<Self, JsError> {
        let options = options.unwrap_or_else(empty_options);
        let state = env_state(&env)?;
        crate::logs::install();
        // Per field: defaults < `TUSK_*` environment < these options.
        let programmatic = file_config(&options)?;
        let environment = Overrides::from_env().map_err(from_exporter)?;
        let mut config =
            ExporterConfig::from_layers(&[&environment, &programmatic]).map_err(from_exporter)?;
        // In-process only, outside the shared option table (the sidecar has no ring of its own).
        if let Some(anonymous) = options.ring_anonymous {
            config.ring.anonymous = anonymous;
        }
        let mut deliveries = None;
        if wants_callback_sink(&options)? {
            let counter = Arc::new(CallbackDeliveries::default());
            if let Some(callback) = &options.callback {
                config.sink = callback_sink(callback, &counter)?;
            }
            deliveries = Some(counter);
        }
        programmatic
            .check_applies_to(&config.sink)
            .map_err(from_exporter)?;
        config.validate().map_err(from_exporter)?;
        let sdk_version = config.service.sdk_version.clone();
        let exporter = Exporter::start(config).map_err(from_exporter)?;
        let shared = Arc::new(Shared {
            exporter,
            deliveries,
        });

        let exit_timeout = Duration::from_millis(u64::from(
            options
                .exit_flush_timeout_ms
                .unwrap_or(DEFAULT_EXIT_FLUSH_TIMEOUT_MS),
        ));
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        // `process.exit()` (which skips the cleanup hooks) and a normal exit: the environment's
        // `exit` listener drains every live exporter on the exiting thread.
        let drain: Weak<dyn ExitDrain> = weak.clone();
        state.exit_drains.register(drain, exit_timeout);
        env.add_env_cleanup_hook(weak, move |weak| {
            // The environment (a terminated Worker, or the main thread at teardown) is going
            // away: drain what is in the ring within the budget and stop the threads. A no-op
            // after the `exit` drain (shutdown is idempotent).
            if let Some(shared) = weak.upgrade() {
                shared.shutdown_on_this_thread(exit_timeout);
            }
        })
        .map_err(from_napi)?;

        Ok(RingExporter {
            shared: Some(shared),
            reader: SpanReader::default(),
            sdk_version,
            exit_timeout,
        })
    }

    /// Copies one finished span into the ring. `true` if it was queued; `false` if it was
    /// dropped (ring full, too large, after shutdown), which the health snapshot counts.
    /// Throws only for a malformed argument (not an object, a field of the wrong type).
    #[napi(ts_args_type = "span: RingSpan")]
    pub fn push_span(&mut self, span: Unknown<'_>) -> Result<bool, JsError> {
        crate::error::guarded("push_span", || {
            let Some(shared) = &self.shared else {
                return Ok(false);
            };
            let raw_env = span.value().env;
            // SAFETY: `raw_env` and the value come from this very call, so both are live.
            unsafe { self.reader.read_object(raw_env, span.raw())? };
            Ok(shared
                .exporter
                .push_span(&self.reader.record(&self.sdk_version))
                .is_ok())
        })
    }

    /// Exports everything pushed so far; resolves `true` if it was all delivered or dropped
    /// within `timeoutMs` (default 30000).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn force_flush<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
    ) -> Result<Object<'env>, JsError> {
        crate::error::guarded("force_flush", || {
            let timeout = millis(timeout_ms);
            settle_off_thread(env, "flush", self.shared.clone(), move |shared| {
                shared.flush(timeout)
            })
        })
    }

    /// Stops accepting spans, exports what is queued within `timeoutMs` (default 30000) and
    /// stops the threads. Idempotent.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn shutdown<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
    ) -> Result<Object<'env>, JsError> {
        crate::error::guarded("shutdown", || {
            let timeout = millis(timeout_ms);
            settle_off_thread(env, "shutdown", self.shared.clone(), move |shared| {
                shared.shutdown(timeout)
            })
        })
    }

    /// `shutdown()` on the calling thread, for a `process.on('exit')` handler (where Promises
    /// never settle): stops accepting spans, exports what is queued and stops the threads,
    /// **blocking the thread up to `timeoutMs`** (default: `exitFlushTimeoutMs`, 2000). Returns
    /// `true` if every span pushed was delivered or counted as dropped in time. Idempotent.
    /// Every exporter already runs this on `exit` by itself; call it for a tighter budget or an
    /// earlier point. The callback sink cannot receive what this exports while the event loop
    /// is blocked (or gone, at exit): use it with the `file`/`api`/`sidecar` sinks.
    #[napi]
    pub fn shutdown_sync(&self, timeout_ms: Option<f64>) -> Result<bool, JsError> {
        crate::error::guarded("shutdown_sync", || {
            Ok({
                let timeout = timeout_ms
                    .filter(|ms| ms.is_finite() && *ms >= 0.0)
                    .map_or(self.exit_timeout, |ms| millis(Some(ms)));
                self.shared
                    .as_ref()
                    .is_some_and(|shared| shared.shutdown_on_this_thread(timeout))
            })
        })
    }

    /// Counters, ring occupancy, circuit state.
    #[napi(ts_return_type = "RingExporterHealth")]
    pub fn get_health_snapshot<'env>(&self, env: &'env Env) -> Result<Object<'env>, JsError> {
        crate::error::guarded("get_health_snapshot", || {
            let health = match &self.shared {
                Some(shared) => shared.exporter.health(),
                // Only reachable while the object is being finalized.
                None => HealthSnapshot::stopped(),
            };
            health_object(env, &health).map_err(from_napi)
        })
    }
}

impl RingExporter {
    /// `pushSpanFields` (expanded from the span schema in [`crate::ring_span`]): reads the
    /// positional arguments and pushes the record.
    pub(crate) fn push_args(&mut self, args: [Unknown<'_>; FIELD_COUNT]) -> Result<bool, JsError> {
        crate::error::guarded("push_span_fields", || {
            let Some(shared) = &self.shared else {
                return Ok(false);
            };
            let raw_env = args[0].value().env;
            let raw = args.map(|arg| arg.raw());
            // SAFETY: the env and the argument values come from this very call, so all are live
            // (missing trailing arguments are `undefined` values of it).
            unsafe { self.reader.read_args(raw_env, &raw)? };
            Ok(shared
                .exporter
                .push_span(&self.reader.record(&self.sdk_version))
                .is_ok())
        })
    }
}

impl Drop for RingExporter {
    fn drop(&mut self) {
        // Garbage-collected without `shutdown()`: the last owner's drop drains and joins the
        // exporter's threads, which must not happen on the event loop; hand it to a thread.
        if let Some(shared) = self.shared.take() {
            let _ = thread::Builder::new()
                .name("drift-node-drop".to_string())
                .spawn(move || drop(shared));
        }
    }
}

fn empty_options<'a>() -> RingExporterOptions<'a> {
    RingExporterOptions {
        ring_dir: None,
        ring_anonymous: None,
        ring_capacity_bytes: None,
        max_span_bytes: None,
        max_export_batch_size: None,
        max_export_batch_bytes: None,
        schedule_delay_millis: None,
        export_timeout_millis: None,
        observable_service_id: None,
        environment: None,
        sdk_version: None,
        sdk_instance_id: None,
        sink: None,
        api_url: None,
        api_key: None,
        gzip_min_bytes: None,
        max_pending_requests: None,
        max_retry_attempts: None,
        traces_dir: None,
        callback: None,
        exit_flush_timeout_ms: None,
    }
}
