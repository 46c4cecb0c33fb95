//! Exporter configuration: the one front door of the bindings and the command line.
//!
//! Every source of settings (the TOML file, the `TUSK_*` environment, a binding's options, the
//! command line's flags) is parsed into the same typed [`Overrides`] (every field optional).
//! [`ExporterConfig::from_layers`] merges the layers **per field**, lowest first (defaults <
//! file < environment < programmatic options / flags), and only then builds the configuration,
//! so an API URL from the environment reaches an `api` sink chosen by a flag. [`OPTIONS`] lists
//! the options once: name, variable, meaning; the bindings and the CLI's help follow it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::ExporterError;

/// Default base URL of the Tusk backend (same as the SDKs).
pub const DEFAULT_BASE_URL: &str = "https://api.usetusk.ai";
/// Default directory of the file sink, relative to the working directory (same as the SDKs).
pub const DEFAULT_TRACES_DIR: &str = ".tusk/traces";

/// Default of [`RingSettings::max_span_bytes`] (the SDKs' 1 MiB span limit).
pub const DEFAULT_MAX_SPAN_BYTES: usize = 1 << 20;
/// Smallest accepted span limit: a record's header and empty fields alone take 124 bytes.
pub const MIN_MAX_SPAN_BYTES: usize = 256;
/// Largest ring the ring crate creates (record lengths are stored as `i32`).
const MAX_RING_CAPACITY_BYTES: usize = 1 << 30;

/// The shared-memory ring of this process (in-process and sidecar modes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingSettings {
    /// Directory holding ring files; `None` picks the ring crate's default
    /// ([`drift_ring::default_ring_dir`]). The sidecar watches the same directory.
    pub dir: Option<PathBuf>,
    /// Data bytes of the ring (rounded up to a power of two by the ring crate).
    pub capacity_bytes: usize,
    /// Largest encoded span record accepted; larger spans are dropped as `too_large`.
    ///
    /// Left at [`DEFAULT_MAX_SPAN_BYTES`] and not set by a file, a `TUSK_*` variable or
    /// [`RingSettings::set_max_span_bytes`], it is clamped to the largest record the ring accepts
    /// for `capacity_bytes` (so a small ring works without also lowering this). Any other value
    /// is explicit: one the ring cannot hold is a configuration error.
    pub max_span_bytes: usize,
    /// `max_span_bytes` was set explicitly, even to the default value: set by a file, a
    /// `TUSK_*` variable or [`RingSettings::set_max_span_bytes`] (see
    /// [`RingSettings::max_span_bytes_is_explicit`]).
    pub max_span_bytes_explicit: bool,
}

impl Default for RingSettings {
    fn default() -> Self {
        RingSettings {
            dir: None,
            capacity_bytes: 4 << 20,
            max_span_bytes: DEFAULT_MAX_SPAN_BYTES,
            max_span_bytes_explicit: false,
        }
    }
}

impl RingSettings {
    /// Sets the span limit explicitly: it is then used as it is (never clamped), and a value
    /// the ring cannot hold fails validation.
    pub fn set_max_span_bytes(&mut self, bytes: usize) {
        self.max_span_bytes = bytes;
        self.max_span_bytes_explicit = true;
    }

    /// Whether `max_span_bytes` counts as set by the user: set through a file, a variable or
    /// [`RingSettings::set_max_span_bytes`], or assigned a value other than the default.
    pub fn max_span_bytes_is_explicit(&self) -> bool {
        self.max_span_bytes_explicit || self.max_span_bytes != DEFAULT_MAX_SPAN_BYTES
    }

    /// The ring's data capacity as the ring crate creates it: `capacity_bytes` rounded up to a
    /// power of two.
    pub fn ring_capacity_bytes(&self) -> Result<usize, ExporterError> {
        self.capacity_bytes
            .checked_next_power_of_two()
            .filter(|&capacity| capacity <= MAX_RING_CAPACITY_BYTES)
            .ok_or_else(|| ExporterError::Config {
                key: "ring_capacity_bytes".to_string(),
                message: format!(
                    "{} is larger than the {MAX_RING_CAPACITY_BYTES}-byte maximum",
                    self.capacity_bytes
                ),
            })
    }

    /// The largest record (ring payload) a ring of this capacity accepts.
    pub fn largest_ring_record_bytes(&self) -> Result<usize, ExporterError> {
        let capacity = self.ring_capacity_bytes()?;
        // `max_payload_for_capacity` subtracts the ring's record header from half the
        // capacity; below that there is no room at all.
        Ok(if capacity / 2 > drift_ring::RECORD_HEADER_LEN {
            drift_ring::max_payload_for_capacity(capacity)
        } else {
            0
        })
    }

    /// The span limit the exporter runs with: an explicit `max_span_bytes` as it is, the
    /// default clamped to what the ring accepts. Errors name the setting to change.
    pub fn effective_max_span_bytes(&self) -> Result<usize, ExporterError> {
        let largest = self.largest_ring_record_bytes()?;
        let capacity = self.ring_capacity_bytes()?;
        if self.max_span_bytes_is_explicit() {
            if self.max_span_bytes < MIN_MAX_SPAN_BYTES {
                return Err(ExporterError::Config {
                    key: "max_span_bytes".to_string(),
                    message: format!(
                        "{} is below the minimum of {MIN_MAX_SPAN_BYTES}",
                        self.max_span_bytes
                    ),
                });
            }
            if self.max_span_bytes > largest {
                return Err(ExporterError::Config {
                    key: "max_span_bytes".to_string(),
                    message: format!(
                        "{} does not fit the ring: a ring of {capacity} bytes \
                         (ring_capacity_bytes {} rounded up to a power of two) accepts records \
                         of at most {largest} bytes; raise ring_capacity_bytes or lower \
                         max_span_bytes",
                        self.max_span_bytes, self.capacity_bytes
                    ),
                });
            }
            return Ok(self.max_span_bytes);
        }
        let clamped = self.max_span_bytes.min(largest);
        if clamped < MIN_MAX_SPAN_BYTES {
            return Err(ExporterError::Config {
                key: "ring_capacity_bytes".to_string(),
                message: format!(
                    "{} is too small: a ring of {capacity} bytes accepts records of at most \
                     {largest} bytes, below the {MIN_MAX_SPAN_BYTES}-byte minimum span limit",
                    self.capacity_bytes
                ),
            });
        }
        Ok(clamped)
    }

    /// The directory actually used: the configured one, else the ring crate's default (a
    /// private per-user directory under `/dev/shm`, `$XDG_RUNTIME_DIR` or the temp dir).
    pub fn resolved_dir(&self) -> Result<PathBuf, ExporterError> {
        match &self.dir {
            Some(dir) => Ok(dir.clone()),
            None => drift_ring::default_ring_dir().map_err(|error| ExporterError::Ring {
                context: "finding the ring directory".to_string(),
                message: error.to_string(),
            }),
        }
    }
}

/// When a request is cut (OpenTelemetry BatchSpanProcessor vocabulary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSettings {
    pub max_export_batch_size: usize,
    pub max_export_batch_bytes: usize,
    pub schedule_delay: Duration,
    /// Budget for one export attempt (the HTTP request timeout).
    pub export_timeout: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_export_batch_size: 512,
            max_export_batch_bytes: 4 << 20,
            schedule_delay: Duration::from_millis(2000),
            export_timeout: Duration::from_secs(30),
        }
    }
}

/// The header fields of every `ExportSpansRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceIdentity {
    pub observable_service_id: String,
    pub environment: String,
    pub sdk_version: String,
    pub sdk_instance_id: String,
}

/// Retry policy of the HTTP sink: exponential backoff with ±25 % jitter (the SDKs' policy).
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySettings {
    /// Attempts per request including the first.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub multiplier: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
        }
    }
}

/// Circuit breaker of the HTTP sink: opens after `failure_threshold` consecutive failed
/// attempts, lets one probe through after `open_duration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSettings {
    pub failure_threshold: u32,
    pub open_duration: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failure_threshold: 5,
            open_duration: Duration::from_secs(2),
        }
    }
}

/// The Tusk backend sink.
#[derive(Clone, PartialEq)]
pub struct ApiSinkConfig {
    pub base_url: String,
    pub api_key: String,
    /// Timeout of one HTTP attempt (connect + send + response).
    pub timeout: Duration,
    /// Gzip request bodies of at least this many bytes; `None` never compresses (the SDKs'
    /// default).
    pub gzip_min_bytes: Option<usize>,
    /// Requests waiting to be sent; beyond this the oldest is dropped (`export_failed`).
    pub max_pending_requests: usize,
    pub retry: RetrySettings,
    pub breaker: BreakerSettings,
}

impl Default for ApiSinkConfig {
    fn default() -> Self {
        ApiSinkConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key: String::new(),
            timeout: Duration::from_secs(30),
            gzip_min_bytes: None,
            max_pending_requests: 8,
            retry: RetrySettings::default(),
            breaker: BreakerSettings::default(),
        }
    }
}

impl fmt::Debug for ApiSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the API key.
        f.debug_struct("ApiSinkConfig")
            .field("base_url", &self.base_url)
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("timeout", &self.timeout)
            .field("gzip_min_bytes", &self.gzip_min_bytes)
            .field("max_pending_requests", &self.max_pending_requests)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .finish()
    }
}

/// The local JSONL sink (the embedded default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSinkConfig {
    pub dir: PathBuf,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        FileSinkConfig {
            dir: PathBuf::from(DEFAULT_TRACES_DIR),
        }
    }
}

/// Receives each `ExportSpansRequest` as bytes, on the exporter's sender thread. It must not
/// block for long: the send queue is bounded and overflows count `export_failed`.
pub type ExportCallback = Arc<dyn Fn(Vec<u8>) + Send + Sync>;

/// Where spans go.
#[derive(Clone)]
pub enum SinkConfig {
    /// POST `ExportSpansRequest` to the Tusk backend.
    Api(ApiSinkConfig),
    /// One JSON line per span under `.tusk/traces` (the embedded default).
    Files(FileSinkConfig),
    /// Hand request bytes to the embedding program.
    Callback(ExportCallback),
    /// This process only writes into its ring; a `drift-exporter run` process drains it.
    Sidecar,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkConfig::Api(api) => f.debug_tuple("Api").field(api).finish(),
            SinkConfig::Files(files) => f.debug_tuple("Files").field(files).finish(),
            SinkConfig::Callback(_) => f.write_str("Callback(..)"),
            SinkConfig::Sidecar => f.write_str("Sidecar"),
        }
    }
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig::Files(FileSinkConfig::default())
    }
}

impl SinkConfig {
    /// The sink in words for log lines (never a key, never a `Debug` dump).
    pub fn describe(&self) -> String {
        match self {
            SinkConfig::Api(api) => {
                format!("the Tusk API at {}", crate::sink::url_host(&api.base_url))
            }
            SinkConfig::Files(files) => format!("trace files in {}", files.dir.display()),
            SinkConfig::Callback(_) => "the export callback".to_string(),
            SinkConfig::Sidecar => "the ring only (a drift-exporter sidecar exports)".to_string(),
        }
    }

    /// The sink's name in the one vocabulary: `api`, `file`, `callback` or `sidecar`.
    pub fn name(&self) -> &'static str {
        match self {
            SinkConfig::Api(_) => "api",
            SinkConfig::Files(_) => "file",
            SinkConfig::Callback(_) => "callback",
            SinkConfig::Sidecar => "sidecar",
        }
    }
}

/// Everything an [`crate::Exporter`] needs.
#[derive(Debug, Clone, Default)]
pub struct ExporterConfig {
    pub ring: RingSettings,
    pub batch: BatchSettings,
    pub service: ServiceIdentity,
    pub sink: SinkConfig,
}

impl ExporterConfig {
    /// Defaults overridden by `TUSK_*` environment variables (table in `docs/design.md`,
    /// "Exporter"). Callers then override fields programmatically.
    pub fn from_env() -> Result<Self, ExporterError> {
        Self::from_layers(&[&Overrides::from_env()?])
    }

    /// The defaults overridden by each layer in turn, **per field** (a field a higher layer
    /// leaves unset keeps the lower layer's value), then validated. Layers go lowest first:
    /// `[file, environment, options]`.
    pub fn from_layers(layers: &[&Overrides]) -> Result<Self, ExporterError> {
        let mut merged = Overrides::default();
        for layer in layers {
            merged.merge_from(layer);
        }
        let mut config = ExporterConfig::default();
        config.apply_file(&merged)?;
        Ok(config)
    }

    /// Applies `TUSK_*` variables from a map (the environment, or a test's map).
    pub fn apply_vars(&mut self, vars: &BTreeMap<String, String>) -> Result<(), ExporterError> {
        let file = FileConfig::from_vars(vars)?;
        self.apply_file(&file)
    }

    /// Reads a TOML file (see [`FileConfig`]) and applies it.
    pub fn apply_toml_file(&mut self, path: &Path) -> Result<(), ExporterError> {
        self.apply_file(&Overrides::from_toml_file(path)?)
    }

    /// Applies every field the partial config sets.
    pub fn apply_file(&mut self, file: &FileConfig) -> Result<(), ExporterError> {
        if let Some(dir) = &file.ring_dir {
            self.ring.dir = Some(dir.clone());
        }
        set(&mut self.ring.capacity_bytes, file.ring_capacity_bytes);
        if let Some(bytes) = file.max_span_bytes {
            self.ring.set_max_span_bytes(bytes);
        }
        set(
            &mut self.batch.max_export_batch_size,
            file.max_export_batch_size,
        );
        set(
            &mut self.batch.max_export_batch_bytes,
            file.max_export_batch_bytes,
        );
        if let Some(ms) = file.schedule_delay_millis {
            self.batch.schedule_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = file.export_timeout_millis {
            self.batch.export_timeout = Duration::from_millis(ms);
        }
        set_string(
            &mut self.service.observable_service_id,
            &file.observable_service_id,
        );
        set_string(&mut self.service.environment, &file.environment);
        set_string(&mut self.service.sdk_version, &file.sdk_version);
        set_string(&mut self.service.sdk_instance_id, &file.sdk_instance_id);

        let sink_kind = match file.sink.as_deref() {
            None => None,
            Some(kind) => Some(SinkKind::parse(kind)?),
        };
        // API settings without an explicit sink keep the current sink: an API key in the
        // environment must not silently switch a file-sink program to the network.
        match sink_kind {
            Some(SinkKind::Api) if !matches!(self.sink, SinkConfig::Api(_)) => {
                self.sink = SinkConfig::Api(ApiSinkConfig::default());
            }
            Some(SinkKind::Files) if !matches!(self.sink, SinkConfig::Files(_)) => {
                self.sink = SinkConfig::Files(FileSinkConfig::default());
            }
            Some(SinkKind::Sidecar) => self.sink = SinkConfig::Sidecar,
            _ => {}
        }
        if let SinkConfig::Api(api) = &mut self.sink {
            set_string(&mut api.base_url, &file.api_url);
            set_string(&mut api.api_key, &file.api_key);
            if let Some(ms) = file.export_timeout_millis {
                api.timeout = Duration::from_millis(ms);
            }
            if let Some(min) = file.gzip_min_bytes {
                api.gzip_min_bytes = if min == 0 { None } else { Some(min) };
            }
            set(&mut api.max_pending_requests, file.max_pending_requests);
            if let Some(attempts) = file.max_retry_attempts {
                if attempts == 0 {
                    return Err(ExporterError::Config {
                        key: "max_retry_attempts".to_string(),
                        message: "must be at least 1 (the first attempt counts)".to_string(),
                    });
                }
                api.retry.max_attempts = attempts;
            }
        }
        if let SinkConfig::Files(files) = &mut self.sink
            && let Some(dir) = &file.traces_dir
        {
            files.dir = dir.clone();
        }
        self.validate()
    }

    /// Rejects settings that cannot work (zero sizes, an explicit span limit the ring cannot
    /// hold, a ring too small for any span).
    pub fn validate(&self) -> Result<(), ExporterError> {
        let bad = |key: &str, message: &str| {
            Err(ExporterError::Config {
                key: key.to_string(),
                message: message.to_string(),
            })
        };
        if self.batch.max_export_batch_size == 0 {
            return bad("max_export_batch_size", "must be at least 1");
        }
        if self.batch.max_export_batch_bytes < 1024 {
            return bad("max_export_batch_bytes", "must be at least 1024");
        }
        self.ring.effective_max_span_bytes()?;
        if let SinkConfig::Api(api) = &self.sink {
            if !(api.base_url.starts_with("http://") || api.base_url.starts_with("https://")) {
                return bad("api_url", "must start with http:// or https://");
            }
            if api.max_pending_requests == 0 {
                return bad("max_pending_requests", "must be at least 1");
            }
        }
        Ok(())
    }
}

fn set<T: Copy>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}

fn set_string(target: &mut String, value: &Option<String>) {
    if let Some(value) = value {
        target.clone_from(value);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SinkKind {
    Api,
    Files,
    Sidecar,
}

impl SinkKind {
    /// The one sink vocabulary: `api`, `file`, `sidecar` (`files`, the command line's former
    /// spelling, is accepted as an alias).
    fn parse(text: &str) -> Result<Self, ExporterError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "api" => Ok(SinkKind::Api),
            "file" | "files" => Ok(SinkKind::Files),
            "sidecar" => Ok(SinkKind::Sidecar),
            other => Err(ExporterError::Config {
                key: "sink".to_string(),
                message: format!("unknown sink {other:?} (expected api, file or sidecar)"),
            }),
        }
    }
}

/// The typed set of overrides every configuration source is parsed into (the TOML file's
/// shape; also built from `TUSK_*` variables, a binding's options and command-line flags).
/// Every field is optional; [`ExporterConfig::from_layers`] merges them per field.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub ring_dir: Option<PathBuf>,
    pub ring_capacity_bytes: Option<usize>,
    pub max_span_bytes: Option<usize>,
    pub max_export_batch_size: Option<usize>,
    pub max_export_batch_bytes: Option<usize>,
    pub schedule_delay_millis: Option<u64>,
    pub export_timeout_millis: Option<u64>,
    pub observable_service_id: Option<String>,
    pub environment: Option<String>,
    pub sdk_version: Option<String>,
    pub sdk_instance_id: Option<String>,
    /// `api`, `files` or `sidecar`.
    pub sink: Option<String>,
    pub api_url: Option<String>,
    pub api_key: Option<String>,
    /// 0 disables compression.
    pub gzip_min_bytes: Option<usize>,
    pub max_pending_requests: Option<usize>,
    pub max_retry_attempts: Option<u32>,
    pub traces_dir: Option<PathBuf>,
}

/// The former name of [`Overrides`].
pub type FileConfig = Overrides;

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names the fields that are set; never prints the API key.
        let mut list = f.debug_struct("Overrides");
        for spec in OPTIONS {
            if let Some(value) = self.get_text(spec.name) {
                let value = if spec.name == "api_key" {
                    "<redacted>".to_string()
                } else {
                    value
                };
                list.field(spec.name, &value);
            }
        }
        list.finish()
    }
}

/// What an option holds (how a binding reads it, how the CLI's help calls it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// Free text.
    Text,
    /// A filesystem path.
    Path,
    /// A non-negative integer.
    Integer,
    /// One of `api`, `file`, `sidecar` (the bindings add `callback`).
    Sink,
}

/// One configuration option: its name (snake_case: TOML key, Python keyword, CLI flag with
/// dashes; camelCase in JavaScript), its environment variable and its meaning.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub name: &'static str,
    pub env: &'static str,
    pub kind: OptionKind,
    pub help: &'static str,
}

/// Every option, once. The bindings' option lists, their `.pyi`/`.d.ts` and the CLI's `run`
/// flags are checked against this table by tests.
pub const OPTIONS: [OptionSpec; 18] = [
    OptionSpec {
        name: "sink",
        env: "TUSK_EXPORT_SINK",
        kind: OptionKind::Sink,
        help: "Where spans go: api (the Tusk backend), file (JSON lines under traces_dir) or sidecar (only write the ring; a drift-exporter sidecar exports). Default file.",
    },
    OptionSpec {
        name: "api_url",
        env: "TUSK_API_URL",
        kind: OptionKind::Text,
        help: "Base URL of the Tusk backend (api sink). Default https://api.usetusk.ai.",
    },
    OptionSpec {
        name: "api_key",
        env: "TUSK_API_KEY",
        kind: OptionKind::Text,
        help: "API key sent to the Tusk backend (api sink); never logged.",
    },
    OptionSpec {
        name: "traces_dir",
        env: "TUSK_TRACES_DIR",
        kind: OptionKind::Path,
        help: "Directory of the trace files (file sink). Default .tusk/traces.",
    },
    OptionSpec {
        name: "observable_service_id",
        env: "TUSK_OBSERVABLE_SERVICE_ID",
        kind: OptionKind::Text,
        help: "Service id sent with every export request.",
    },
    OptionSpec {
        name: "environment",
        env: "TUSK_ENVIRONMENT",
        kind: OptionKind::Text,
        help: "Environment name sent with every export request.",
    },
    OptionSpec {
        name: "sdk_version",
        env: "TUSK_SDK_VERSION",
        kind: OptionKind::Text,
        help: "SDK version sent with every export request.",
    },
    OptionSpec {
        name: "sdk_instance_id",
        env: "TUSK_SDK_INSTANCE_ID",
        kind: OptionKind::Text,
        help: "SDK instance id sent with every export request.",
    },
    OptionSpec {
        name: "ring_dir",
        env: "TUSK_RING_DIR",
        kind: OptionKind::Path,
        help: "Directory of the ring files the sidecar drains. Default: a private per-user directory under /dev/shm.",
    },
    OptionSpec {
        name: "ring_capacity_bytes",
        env: "TUSK_RING_CAPACITY_BYTES",
        kind: OptionKind::Integer,
        help: "Data bytes of each process's ring, rounded up to a power of two. Default 4 MiB.",
    },
    OptionSpec {
        name: "max_span_bytes",
        env: "TUSK_MAX_SPAN_BYTES",
        kind: OptionKind::Integer,
        help: "Largest encoded span accepted; larger spans are dropped as too_large. Default 1 MiB, lowered to what the ring holds.",
    },
    OptionSpec {
        name: "max_export_batch_size",
        env: "TUSK_MAX_EXPORT_BATCH_SIZE",
        kind: OptionKind::Integer,
        help: "Most spans in one export request. Default 512.",
    },
    OptionSpec {
        name: "max_export_batch_bytes",
        env: "TUSK_MAX_EXPORT_BATCH_BYTES",
        kind: OptionKind::Integer,
        help: "Most bytes in one export request. Default 4 MiB.",
    },
    OptionSpec {
        name: "schedule_delay_millis",
        env: "TUSK_SCHEDULE_DELAY_MILLIS",
        kind: OptionKind::Integer,
        help: "Longest a span waits for its batch, in milliseconds. Default 2000.",
    },
    OptionSpec {
        name: "export_timeout_millis",
        env: "TUSK_EXPORT_TIMEOUT_MILLIS",
        kind: OptionKind::Integer,
        help: "Budget of one export attempt (the HTTP request timeout), in milliseconds. Default 30000.",
    },
    OptionSpec {
        name: "gzip_min_bytes",
        env: "TUSK_GZIP_MIN_BYTES",
        kind: OptionKind::Integer,
        help: "Gzip request bodies of at least this many bytes (api sink); 0 never compresses (the default).",
    },
    OptionSpec {
        name: "max_pending_requests",
        env: "TUSK_MAX_PENDING_REQUESTS",
        kind: OptionKind::Integer,
        help: "Export requests waiting to be sent (api sink); beyond this the oldest is dropped as export_failed. Default 8.",
    },
    OptionSpec {
        name: "max_retry_attempts",
        env: "TUSK_MAX_RETRY_ATTEMPTS",
        kind: OptionKind::Integer,
        help: "Attempts per export request including the first (api sink); failures are retried with jittered exponential backoff. Default 3.",
    },
];

impl Overrides {
    /// The `TUSK_*` variables of this process's environment.
    pub fn from_env() -> Result<Self, ExporterError> {
        let vars: BTreeMap<String, String> = std::env::vars()
            .filter(|(key, _)| key.starts_with("TUSK_"))
            .collect();
        Self::from_vars(&vars)
    }

    /// Builds the overrides from `TUSK_*` variables (the environment, or a test's map). Empty
    /// values count as unset; a malformed value is an error naming its variable.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ExporterError> {
        let mut overrides = Overrides::default();
        for spec in &OPTIONS {
            if let Some(value) = vars
                .get(spec.env)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
            {
                overrides
                    .set_text(spec.name, value)
                    .map_err(|error| match error {
                        ExporterError::Config { message, .. } => ExporterError::Config {
                            key: spec.env.to_string(),
                            message,
                        },
                        other => other,
                    })?;
            }
        }
        Ok(overrides)
    }

    /// Reads a TOML file of options (same names as [`OPTIONS`]).
    pub fn from_toml_file(path: &Path) -> Result<Self, ExporterError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExporterError::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        let overrides: Overrides = toml::from_str(&text).map_err(|error| {
            // Never echo the file's text: the offending line may hold the API key.
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            ExporterError::Config {
                key: path.display().to_string(),
                message: match line {
                    Some(line) => format!("TOML error at line {line}"),
                    None => "TOML error".to_string(),
                },
            }
        })?;
        overrides.check_sink()?;
        Ok(overrides)
    }

    /// Every field `higher` sets replaces this one's.
    pub fn merge_from(&mut self, higher: &Overrides) {
        fn take<T: Clone>(target: &mut Option<T>, value: &Option<T>) {
            if value.is_some() {
                target.clone_from(value);
            }
        }
        take(&mut self.ring_dir, &higher.ring_dir);
        take(&mut self.ring_capacity_bytes, &higher.ring_capacity_bytes);
        take(&mut self.max_span_bytes, &higher.max_span_bytes);
        take(
            &mut self.max_export_batch_size,
            &higher.max_export_batch_size,
        );
        take(
            &mut self.max_export_batch_bytes,
            &higher.max_export_batch_bytes,
        );
        take(
            &mut self.schedule_delay_millis,
            &higher.schedule_delay_millis,
        );
        take(
            &mut self.export_timeout_millis,
            &higher.export_timeout_millis,
        );
        take(
            &mut self.observable_service_id,
            &higher.observable_service_id,
        );
        take(&mut self.environment, &higher.environment);
        take(&mut self.sdk_version, &higher.sdk_version);
        take(&mut self.sdk_instance_id, &higher.sdk_instance_id);
        take(&mut self.sink, &higher.sink);
        take(&mut self.api_url, &higher.api_url);
        take(&mut self.api_key, &higher.api_key);
        take(&mut self.gzip_min_bytes, &higher.gzip_min_bytes);
        take(&mut self.max_pending_requests, &higher.max_pending_requests);
        take(&mut self.max_retry_attempts, &higher.max_retry_attempts);
        take(&mut self.traces_dir, &higher.traces_dir);
    }

    /// Sets option `name` (see [`OPTIONS`]) from text: a number for integer options, a sink
    /// name for `sink`. Errors name the option.
    pub fn set_text(&mut self, name: &str, value: &str) -> Result<(), ExporterError> {
        let spec = option_spec(name)?;
        match spec.kind {
            OptionKind::Integer => {
                let number = value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ExporterError::Config {
                        key: name.to_string(),
                        message: format!("expected a non-negative integer, got {value:?}"),
                    })?;
                self.set_integer(name, number)
            }
            OptionKind::Sink => {
                let kind = SinkKind::parse(value)?;
                self.sink = Some(
                    match kind {
                        SinkKind::Api => "api",
                        SinkKind::Files => "file",
                        SinkKind::Sidecar => "sidecar",
                    }
                    .to_string(),
                );
                Ok(())
            }
            OptionKind::Text | OptionKind::Path => {
                let value = Some(value.to_string());
                match name {
                    "ring_dir" => self.ring_dir = value.map(PathBuf::from),
                    "traces_dir" => self.traces_dir = value.map(PathBuf::from),
                    "observable_service_id" => self.observable_service_id = value,
                    "environment" => self.environment = value,
                    "sdk_version" => self.sdk_version = value,
                    "sdk_instance_id" => self.sdk_instance_id = value,
                    "api_url" => self.api_url = value,
                    "api_key" => self.api_key = value,
                    _ => unreachable!("every text option of OPTIONS is handled"),
                }
                Ok(())
            }
        }
    }

    /// Sets integer option `name` (see [`OPTIONS`]). Errors name the option.
    pub fn set_integer(&mut self, name: &str, value: u64) -> Result<(), ExporterError> {
        let spec = option_spec(name)?;
        let too_large = || ExporterError::Config {
            key: name.to_string(),
            message: format!("{value} is too large"),
        };
        if spec.kind != OptionKind::Integer {
            return Err(ExporterError::Config {
                key: name.to_string(),
                message: "expected text, got a number".to_string(),
            });
        }
        let size = usize::try_from(value).map_err(|_| too_large());
        match name {
            "ring_capacity_bytes" => self.ring_capacity_bytes = Some(size?),
            "max_span_bytes" => self.max_span_bytes = Some(size?),
            "max_export_batch_size" => self.max_export_batch_size = Some(size?),
            "max_export_batch_bytes" => self.max_export_batch_bytes = Some(size?),
            "schedule_delay_millis" => self.schedule_delay_millis = Some(value),
            "export_timeout_millis" => self.export_timeout_millis = Some(value),
            "gzip_min_bytes" => self.gzip_min_bytes = Some(size?),
            "max_pending_requests" => self.max_pending_requests = Some(size?),
            "max_retry_attempts" => {
                self.max_retry_attempts = Some(u32::try_from(value).map_err(|_| too_large())?)
            }
            _ => unreachable!("every integer option of OPTIONS is handled"),
        }
        Ok(())
    }

    /// Option `name`'s value as text, if set (for `Debug`, the tests and the help).
    pub fn get_text(&self, name: &str) -> Option<String> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let num = |n: Option<u64>| n.map(|n| n.to_string());
        let size = |n: Option<usize>| n.map(|n| n.to_string());
        match name {
            "sink" => self.sink.clone(),
            "api_url" => self.api_url.clone(),
            "api_key" => self.api_key.clone(),
            "traces_dir" => path(&self.traces_dir),
            "observable_service_id" => self.observable_service_id.clone(),
            "environment" => self.environment.clone(),
            "sdk_version" => self.sdk_version.clone(),
            "sdk_instance_id" => self.sdk_instance_id.clone(),
            "ring_dir" => path(&self.ring_dir),
            "ring_capacity_bytes" => size(self.ring_capacity_bytes),
            "max_span_bytes" => size(self.max_span_bytes),
            "max_export_batch_size" => size(self.max_export_batch_size),
            "max_export_batch_bytes" => size(self.max_export_batch_bytes),
            "schedule_delay_millis" => num(self.schedule_delay_millis),
            "export_timeout_millis" => num(self.export_timeout_millis),
            "gzip_min_bytes" => size(self.gzip_min_bytes),
            "max_pending_requests" => size(self.max_pending_requests),
            "max_retry_attempts" => self.max_retry_attempts.map(|n| n.to_string()),
            _ => None,
        }
    }

    /// Options a program set explicitly must apply to the sink it ends up with: an API URL
    /// passed in code together with the file sink is a mistake worth an error (from the
    /// environment it is not: one environment serves programs with different sinks).
    pub fn check_applies_to(&self, sink: &SinkConfig) -> Result<(), ExporterError> {
        let api_only = [
            ("api_url", self.api_url.is_some()),
            ("api_key", self.api_key.is_some()),
            ("gzip_min_bytes", self.gzip_min_bytes.is_some()),
            ("max_pending_requests", self.max_pending_requests.is_some()),
            ("max_retry_attempts", self.max_retry_attempts.is_some()),
        ];
        let wrong = |key: &str, needs: &str| {
            Err(ExporterError::Config {
                key: key.to_string(),
                message: format!("only applies to sink {needs} (the sink is {})", sink.name()),
            })
        };
        if !matches!(sink, SinkConfig::Api(_))
            && let Some((key, _)) = api_only.iter().find(|(_, set)| *set)
        {
            return wrong(key, "api");
        }
        if self.traces_dir.is_some() && !matches!(sink, SinkConfig::Files(_)) {
            return wrong("traces_dir", "file");
        }
        Ok(())
    }

    /// A file's `sink` must be a known name too.
    fn check_sink(&self) -> Result<(), ExporterError> {
        if let Some(sink) = &self.sink {
            SinkKind::parse(sink)?;
        }
        Ok(())
    }
}

/// The table entry of option `name`; an unknown name is a configuration error.
pub fn option_spec(name: &str) -> Result<&'static OptionSpec, ExporterError> {
    OPTIONS
        .iter()
        .find(|spec| spec.name == name)
        .ok_or_else(|| ExporterError::Config {
            key: name.to_string(),
            message: "unknown option".to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_round_trips_through_text() {
        for spec in &OPTIONS {
            let mut overrides = Overrides::default();
            let value = match spec.kind {
                OptionKind::Integer => "4096",
                OptionKind::Sink => "api",
                OptionKind::Text | OptionKind::Path => "/some/text",
            };
            overrides.set_text(spec.name, value).unwrap();
            assert_eq!(
                overrides.get_text(spec.name).as_deref(),
                Some(value),
                "{}",
                spec.name
            );
            let mut merged = Overrides::default();
            merged.merge_from(&overrides);
            assert_eq!(merged, overrides, "{} is merged", spec.name);
        }
    }
}
