//! Exporter configuration: defaults, `TUSK_*` environment variables, and the TOML file the
//! sidecar reads. Precedence (lowest to highest): defaults, TOML file, environment, then
//! whatever the embedding program or the command line sets explicitly.

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
        let vars: BTreeMap<String, String> = std::env::vars()
            .filter(|(key, _)| key.starts_with("TUSK_"))
            .collect();
        let mut config = ExporterConfig::default();
        config.apply_vars(&vars)?;
        Ok(config)
    }

    /// Applies `TUSK_*` variables from a map (the environment, or a test's map).
    pub fn apply_vars(&mut self, vars: &BTreeMap<String, String>) -> Result<(), ExporterError> {
        let file = FileConfig::from_vars(vars)?;
        self.apply_file(&file)
    }

    /// Reads a TOML file (see [`FileConfig`]) and applies it.
    pub fn apply_toml_file(&mut self, path: &Path) -> Result<(), ExporterError> {
        let text = std::fs::read_to_string(path).map_err(|source| ExporterError::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        let file: FileConfig = toml::from_str(&text).map_err(|error| {
            // Never echo the file's text: the offending line may hold the API key.
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            ExporterError::Config {
                key: path.display().to_string(),
                message: match line {
                    Some(line) => format!("TOML syntax error at line {line}"),
                    None => "TOML syntax error".to_string(),
                },
            }
        })?;
        self.apply_file(&file)
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
                api.retry.max_attempts = attempts.max(1);
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
    fn parse(text: &str) -> Result<Self, ExporterError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "api" | "http" => Ok(SinkKind::Api),
            "files" | "file" => Ok(SinkKind::Files),
            "sidecar" => Ok(SinkKind::Sidecar),
            other => Err(ExporterError::Config {
                key: "sink".to_string(),
                message: format!("unknown sink {other:?} (expected api, files or sidecar)"),
            }),
        }
    }
}

/// A partial configuration: the TOML file's shape, also built from `TUSK_*` variables and
/// command-line flags. Every field is optional; set fields override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
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

/// `(environment variable, FileConfig field)` pairs, documented in `docs/design.md`.
pub const ENV_VARS: [(&str, &str); 18] = [
    ("TUSK_RING_DIR", "ring_dir"),
    ("TUSK_RING_CAPACITY_BYTES", "ring_capacity_bytes"),
    ("TUSK_MAX_SPAN_BYTES", "max_span_bytes"),
    ("TUSK_MAX_EXPORT_BATCH_SIZE", "max_export_batch_size"),
    ("TUSK_MAX_EXPORT_BATCH_BYTES", "max_export_batch_bytes"),
    ("TUSK_SCHEDULE_DELAY_MILLIS", "schedule_delay_millis"),
    ("TUSK_EXPORT_TIMEOUT_MILLIS", "export_timeout_millis"),
    ("TUSK_OBSERVABLE_SERVICE_ID", "observable_service_id"),
    ("TUSK_ENVIRONMENT", "environment"),
    ("TUSK_SDK_VERSION", "sdk_version"),
    ("TUSK_SDK_INSTANCE_ID", "sdk_instance_id"),
    ("TUSK_EXPORT_SINK", "sink"),
    ("TUSK_API_URL", "api_url"),
    ("TUSK_API_KEY", "api_key"),
    ("TUSK_GZIP_MIN_BYTES", "gzip_min_bytes"),
    ("TUSK_MAX_PENDING_REQUESTS", "max_pending_requests"),
    ("TUSK_MAX_RETRY_ATTEMPTS", "max_retry_attempts"),
    ("TUSK_TRACES_DIR", "traces_dir"),
];

impl FileConfig {
    /// Builds a partial config from `TUSK_*` variables; a malformed number names its variable.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ExporterError> {
        let text = |name: &str| {
            vars.get(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        fn number<T: std::str::FromStr>(
            name: &str,
            value: Option<String>,
        ) -> Result<Option<T>, ExporterError> {
            value
                .map(|value| {
                    value.parse::<T>().map_err(|_| ExporterError::Config {
                        key: name.to_string(),
                        message: format!("expected a non-negative integer, got {value:?}"),
                    })
                })
                .transpose()
        }
        Ok(FileConfig {
            ring_dir: text("TUSK_RING_DIR").map(PathBuf::from),
            ring_capacity_bytes: number(
                "TUSK_RING_CAPACITY_BYTES",
                text("TUSK_RING_CAPACITY_BYTES"),
            )?,
            max_span_bytes: number("TUSK_MAX_SPAN_BYTES", text("TUSK_MAX_SPAN_BYTES"))?,
            max_export_batch_size: number(
                "TUSK_MAX_EXPORT_BATCH_SIZE",
                text("TUSK_MAX_EXPORT_BATCH_SIZE"),
            )?,
            max_export_batch_bytes: number(
                "TUSK_MAX_EXPORT_BATCH_BYTES",
                text("TUSK_MAX_EXPORT_BATCH_BYTES"),
            )?,
            schedule_delay_millis: number(
                "TUSK_SCHEDULE_DELAY_MILLIS",
                text("TUSK_SCHEDULE_DELAY_MILLIS"),
            )?,
            export_timeout_millis: number(
                "TUSK_EXPORT_TIMEOUT_MILLIS",
                text("TUSK_EXPORT_TIMEOUT_MILLIS"),
            )?,
            observable_service_id: text("TUSK_OBSERVABLE_SERVICE_ID"),
            environment: text("TUSK_ENVIRONMENT"),
            sdk_version: text("TUSK_SDK_VERSION"),
            sdk_instance_id: text("TUSK_SDK_INSTANCE_ID"),
            sink: text("TUSK_EXPORT_SINK"),
            api_url: text("TUSK_API_URL"),
            api_key: text("TUSK_API_KEY"),
            gzip_min_bytes: number("TUSK_GZIP_MIN_BYTES", text("TUSK_GZIP_MIN_BYTES"))?,
            max_pending_requests: number(
                "TUSK_MAX_PENDING_REQUESTS",
                text("TUSK_MAX_PENDING_REQUESTS"),
            )?,
            max_retry_attempts: number("TUSK_MAX_RETRY_ATTEMPTS", text("TUSK_MAX_RETRY_ATTEMPTS"))?,
            traces_dir: text("TUSK_TRACES_DIR").map(PathBuf::from),
        })
    }
}
