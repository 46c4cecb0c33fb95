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

use crate::ExporterError;
use crate::options::SinkKind;
pub use crate::options::{FileConfig, OPTIONS, OptionKind, OptionSpec, Overrides, option_spec};

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
    /// ([`drift_ring::default_ring_dir`]). The sidecar watches the same directory. In-process
    /// exporters put their named ring there too, and drain what dead earlier processes of the
    /// same service left there.
    pub dir: Option<PathBuf>,
    /// In-process mode only: an anonymous memfd ring instead of a named one. Nothing then
    /// survives the process (spans not delivered when it dies are lost with it); no file is
    /// created and no earlier process's ring is drained.
    pub anonymous: bool,
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
            anonymous: false,
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

impl Overrides {
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
}
