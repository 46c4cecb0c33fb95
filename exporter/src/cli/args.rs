//! The command line: subcommands, flags and their help. Every `run` flag is an option of the
//! exporter's one table (`drift_exporter::OPTIONS`) and names its `TUSK_*` variable; a test
//! checks both.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use drift_exporter::Overrides;

#[derive(Parser)]
#[command(
    name = "drift-exporter",
    version,
    about = "Drains Tusk Drift span rings and exports the spans",
    long_about = "Drains the shared-memory span rings of the processes of a service (the Tusk \
                  Drift SDKs with the ring exporter in sidecar mode) and exports the spans to the \
                  Tusk backend or to trace files.\n\nSettings come from, lowest first: defaults, \
                  the --config file, TUSK_* environment variables, flags."
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Log output (stderr).
#[derive(Args)]
pub struct LogArgs {
    /// Least severe log level shown: error, warn, info, debug or trace (or a filter such as
    /// `info,drift_exporter::export=debug`). Falls back to RUST_LOG, then info.
    #[arg(
        long,
        global = true,
        env = "TUSK_LOG_LEVEL",
        hide_env_values = true,
        value_name = "LEVEL"
    )]
    pub log_level: Option<String>,
    /// Log line format: text (human-readable) or json (one JSON object per line).
    #[arg(
        long,
        global = true,
        env = "TUSK_LOG_FORMAT",
        hide_env_values = true,
        value_enum,
        default_value_t = LogFormat::Text,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Watch a ring directory, drain every producer process's ring, export the spans.
    Run(Box<RunArgs>),
    /// Print a table of every ring and of the running sidecar.
    Stats(StatsArgs),
    /// Run synthetic SDK processes into the file sink for a few seconds; print throughput.
    Demo {
        /// Number of producer processes.
        #[arg(long, default_value_t = 3, value_name = "N")]
        processes: u32,
        /// How long the producers run, in seconds.
        #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
        seconds: f64,
        /// Spans per second per producer (0: as fast as the rings accept).
        #[arg(long, default_value_t = 2000, value_name = "SPANS")]
        rate: u64,
        /// Directory the trace files are written to.
        #[arg(long, default_value = ".tusk/traces", value_name = "DIR")]
        out: PathBuf,
    },
    /// A synthetic SDK producer process (used by `demo` and the tests).
    #[command(hide = true)]
    Produce {
        #[arg(long)]
        ring_dir: PathBuf,
        #[arg(long, default_value_t = 0)]
        index: u32,
        #[arg(long)]
        count: Option<u64>,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[arg(long, default_value_t = 0)]
        rate: u64,
        #[arg(long, default_value_t = 0)]
        report_every: u64,
        #[arg(long, default_value_t = 24 * 1024)]
        max_payload_bytes: usize,
    },
}

/// `stats` flags.
#[derive(Args)]
pub struct StatsArgs {
    /// Directory of the ring files. Default: the per-user default ring directory.
    #[arg(long, env = "TUSK_RING_DIR", value_name = "DIR")]
    pub ring_dir: Option<PathBuf>,
    /// Print the running sidecar's JSON snapshot instead of the table.
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
    /// Redraw the table in place until interrupted (Ctrl-C).
    #[arg(long)]
    pub watch: bool,
    /// How often --watch redraws, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MILLIS")]
    pub interval_millis: u64,
}

/// `run` flags: each overrides the configuration file and its `TUSK_*` variable. Environment
/// values are shown as names only (never the API key's value).
#[derive(Args)]
#[command(next_help_heading = "Exporter options")]
pub struct RunArgs {
    /// TOML configuration file; its keys are these options' names with underscores
    /// (ring_dir, sink, api_url, ...).
    #[arg(
        long,
        env = "TUSK_EXPORTER_CONFIG",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Where spans go: api (the Tusk backend) or file (JSON lines under --traces-dir).
    /// Default file.
    #[arg(
        long,
        env = "TUSK_EXPORT_SINK",
        hide_env_values = true,
        value_name = "SINK"
    )]
    pub sink: Option<String>,
    /// Base URL of the Tusk backend (api sink). Default https://api.usetusk.ai.
    #[arg(long, env = "TUSK_API_URL", hide_env_values = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// API key sent to the Tusk backend (api sink); never logged.
    #[arg(long, env = "TUSK_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Directory of the trace files (file sink). Default .tusk/traces.
    #[arg(
        long,
        env = "TUSK_TRACES_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub traces_dir: Option<PathBuf>,
    /// Service id sent with every export request.
    #[arg(
        long,
        env = "TUSK_OBSERVABLE_SERVICE_ID",
        hide_env_values = true,
        value_name = "ID"
    )]
    pub observable_service_id: Option<String>,
    /// Environment name sent with every export request.
    #[arg(
        long,
        env = "TUSK_ENVIRONMENT",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub environment: Option<String>,
    /// SDK version sent with every export request.
    #[arg(
        long,
        env = "TUSK_SDK_VERSION",
        hide_env_values = true,
        value_name = "VERSION"
    )]
    pub sdk_version: Option<String>,
    /// SDK instance id sent with every export request.
    #[arg(
        long,
        env = "TUSK_SDK_INSTANCE_ID",
        hide_env_values = true,
        value_name = "ID"
    )]
    pub sdk_instance_id: Option<String>,
    /// Directory of the ring files to drain. Default: a private per-user directory under
    /// /dev/shm (else $XDG_RUNTIME_DIR or the temp directory).
    #[arg(
        long,
        env = "TUSK_RING_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub ring_dir: Option<PathBuf>,
    /// Data bytes of each producer's ring, rounded up to a power of two (the producers' own
    /// setting decides their rings; here it bounds the span limit). Default 4 MiB.
    #[arg(
        long,
        env = "TUSK_RING_CAPACITY_BYTES",
        hide_env_values = true,
        value_name = "BYTES"
    )]
    pub ring_capacity_bytes: Option<usize>,
    /// Largest encoded span accepted; larger spans are dropped as too_large. Default 1 MiB,
    /// lowered to what the ring holds.
    #[arg(
        long,
        env = "TUSK_MAX_SPAN_BYTES",
        hide_env_values = true,
        value_name = "BYTES"
    )]
    pub max_span_bytes: Option<usize>,
    /// Most spans in one export request. Default 512.
    #[arg(
        long,
        env = "TUSK_MAX_EXPORT_BATCH_SIZE",
        hide_env_values = true,
        value_name = "SPANS"
    )]
    pub max_export_batch_size: Option<usize>,
    /// Most bytes in one export request. Default 4 MiB.
    #[arg(
        long,
        env = "TUSK_MAX_EXPORT_BATCH_BYTES",
        hide_env_values = true,
        value_name = "BYTES"
    )]
    pub max_export_batch_bytes: Option<usize>,
    /// Longest a span waits for its batch, in milliseconds. Default 2000.
    #[arg(
        long,
        env = "TUSK_SCHEDULE_DELAY_MILLIS",
        hide_env_values = true,
        value_name = "MILLIS"
    )]
    pub schedule_delay_millis: Option<u64>,
    /// Budget of one export attempt (the HTTP request timeout), in milliseconds. Default 30000.
    #[arg(
        long,
        env = "TUSK_EXPORT_TIMEOUT_MILLIS",
        hide_env_values = true,
        value_name = "MILLIS"
    )]
    pub export_timeout_millis: Option<u64>,
    /// Gzip request bodies of at least this many bytes (api sink); 0 never compresses (the
    /// default).
    #[arg(
        long,
        env = "TUSK_GZIP_MIN_BYTES",
        hide_env_values = true,
        value_name = "BYTES"
    )]
    pub gzip_min_bytes: Option<usize>,
    /// Export requests waiting to be sent (api sink); beyond this the oldest is dropped as
    /// export_failed. Default 8.
    #[arg(
        long,
        env = "TUSK_MAX_PENDING_REQUESTS",
        hide_env_values = true,
        value_name = "N"
    )]
    pub max_pending_requests: Option<usize>,
    /// Attempts per export request including the first (api sink); failures are retried with
    /// jittered exponential backoff. Default 3.
    #[arg(
        long,
        env = "TUSK_MAX_RETRY_ATTEMPTS",
        hide_env_values = true,
        value_name = "N"
    )]
    pub max_retry_attempts: Option<u32>,
    /// Serve Prometheus metrics on this address (host:port, e.g. 127.0.0.1:9464) at /metrics.
    /// Off by default.
    #[arg(
        long,
        env = "TUSK_METRICS_ADDR",
        hide_env_values = true,
        value_name = "ADDR"
    )]
    pub metrics_addr: Option<String>,
    /// Budget of the final drain on SIGINT/SIGTERM, in milliseconds.
    #[arg(
        long,
        env = "TUSK_SHUTDOWN_TIMEOUT_MILLIS",
        hide_env_values = true,
        default_value_t = 10_000,
        value_name = "MILLIS"
    )]
    pub shutdown_timeout_millis: u64,
}

impl RunArgs {
    /// The flags as the exporter's typed overrides (the highest layer). The sink name is
    /// checked by the exporter's one vocabulary when the configuration is built.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            ring_dir: self.ring_dir.clone(),
            ring_capacity_bytes: self.ring_capacity_bytes,
            max_span_bytes: self.max_span_bytes,
            max_export_batch_size: self.max_export_batch_size,
            max_export_batch_bytes: self.max_export_batch_bytes,
            schedule_delay_millis: self.schedule_delay_millis,
            export_timeout_millis: self.export_timeout_millis,
            observable_service_id: self.observable_service_id.clone(),
            environment: self.environment.clone(),
            sdk_version: self.sdk_version.clone(),
            sdk_instance_id: self.sdk_instance_id.clone(),
            sink: self.sink.clone(),
            api_url: self.api_url.clone(),
            api_key: self.api_key.clone(),
            gzip_min_bytes: self.gzip_min_bytes,
            max_pending_requests: self.max_pending_requests,
            max_retry_attempts: self.max_retry_attempts,
            traces_dir: self.traces_dir.clone(),
        }
    }
}
