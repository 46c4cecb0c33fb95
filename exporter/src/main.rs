//! `drift-exporter`: the sidecar (`run`), its `stats` table, and the `demo`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use drift_exporter::sidecar::demo::{self, DemoOptions, ProduceOptions};
use drift_exporter::sidecar::{Sidecar, stats};
use drift_exporter::{ExporterConfig, ExporterError, FileConfig};

#[derive(Parser)]
#[command(
    name = "drift-exporter",
    version,
    about = "Drains Tusk Drift span rings and exports the spans"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch a ring directory, drain every producer process's ring, export the spans.
    Run(Box<RunArgs>),
    /// Print a table of every ring and of the running sidecar.
    Stats {
        /// Ring directory (default: TUSK_RING_DIR, else the per-user default).
        #[arg(long)]
        ring_dir: Option<PathBuf>,
        /// Print the sidecar's JSON snapshot instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Run synthetic SDK processes into the file sink for a few seconds; print throughput.
    Demo {
        /// Producer processes.
        #[arg(long, default_value_t = 3)]
        processes: u32,
        /// How long the producers run.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Spans per second per producer (0: as fast as the rings accept).
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        /// Where the trace files go.
        #[arg(long, default_value = ".tusk/traces")]
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

/// `run` flags: each overrides the TOML file and the `TUSK_*` variables.
#[derive(Args)]
struct RunArgs {
    /// TOML configuration file (keys as in `FileConfig`: ring_dir, sink, api_url, ...).
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    ring_dir: Option<PathBuf>,
    /// `api` or `files`.
    #[arg(long)]
    sink: Option<String>,
    #[arg(long)]
    api_url: Option<String>,
    #[arg(long)]
    api_key: Option<String>,
    #[arg(long)]
    traces_dir: Option<PathBuf>,
    #[arg(long)]
    observable_service_id: Option<String>,
    #[arg(long)]
    environment: Option<String>,
    #[arg(long)]
    sdk_version: Option<String>,
    #[arg(long)]
    sdk_instance_id: Option<String>,
    #[arg(long)]
    max_export_batch_size: Option<usize>,
    #[arg(long)]
    max_export_batch_bytes: Option<usize>,
    #[arg(long)]
    schedule_delay_millis: Option<u64>,
    #[arg(long)]
    export_timeout_millis: Option<u64>,
    /// 0 disables gzip.
    #[arg(long)]
    gzip_min_bytes: Option<usize>,
    #[arg(long)]
    max_pending_requests: Option<usize>,
    /// Budget of the final drain on SIGINT/SIGTERM.
    #[arg(long, default_value_t = 10_000)]
    shutdown_timeout_millis: u64,
}

impl RunArgs {
    fn as_file_config(&self) -> FileConfig {
        FileConfig {
            ring_dir: self.ring_dir.clone(),
            sink: self.sink.clone(),
            api_url: self.api_url.clone(),
            api_key: self.api_key.clone(),
            traces_dir: self.traces_dir.clone(),
            observable_service_id: self.observable_service_id.clone(),
            environment: self.environment.clone(),
            sdk_version: self.sdk_version.clone(),
            sdk_instance_id: self.sdk_instance_id.clone(),
            max_export_batch_size: self.max_export_batch_size,
            max_export_batch_bytes: self.max_export_batch_bytes,
            schedule_delay_millis: self.schedule_delay_millis,
            export_timeout_millis: self.export_timeout_millis,
            gzip_min_bytes: self.gzip_min_bytes,
            max_pending_requests: self.max_pending_requests,
            ..FileConfig::default()
        }
    }
}

/// Precedence: defaults < TOML file < `TUSK_*` environment < flags.
fn run_config(args: &RunArgs) -> Result<ExporterConfig, ExporterError> {
    let mut config = ExporterConfig::default();
    if let Some(path) = &args.config {
        config.apply_toml_file(path)?;
    }
    let vars: BTreeMap<String, String> = std::env::vars()
        .filter(|(key, _)| key.starts_with("TUSK_"))
        .collect();
    config.apply_vars(&vars)?;
    config.apply_file(&args.as_file_config())?;
    Ok(config)
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    // Async-signal-safe: one atomic store.
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only stores to an atomic; `sigaction` is given a fully
        // initialised struct.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = request_stop as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

fn run(args: &RunArgs) -> Result<(), ExporterError> {
    let config = run_config(args)?;
    install_signal_handlers();
    let sidecar = Sidecar::start(&config)?;
    eprintln!(
        "drift-exporter: draining rings in {} into {:?}",
        sidecar.ring_dir().display(),
        config.sink
    );
    let mut next_snapshot = Instant::now();
    while !STOP.load(Ordering::SeqCst) {
        if Instant::now() >= next_snapshot {
            if let Err(error) = stats::write_snapshot(sidecar.ring_dir(), &sidecar.snapshot()) {
                eprintln!("drift-exporter: {error}");
            }
            next_snapshot = Instant::now() + Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let clean = sidecar.shutdown(Duration::from_millis(args.shutdown_timeout_millis));
    let _ = std::fs::remove_file(stats::snapshot_path(sidecar.ring_dir()));
    let health = sidecar.health();
    eprintln!(
        "drift-exporter: stopped ({}): read {}, exported {}, dropped {}",
        if clean {
            "all spans settled"
        } else {
            "shutdown budget ran out"
        },
        health.pushed,
        health.exported,
        health.dropped_total
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Stats { ring_dir, json } => (|| {
            let mut config = ExporterConfig::from_env()?;
            if ring_dir.is_some() {
                config.ring.dir = ring_dir;
            }
            let dir = config.ring.resolved_dir()?;
            if json {
                let text =
                    std::fs::read_to_string(stats::snapshot_path(&dir)).map_err(|source| {
                        ExporterError::Io {
                            context: format!("no sidecar snapshot in {}", dir.display()),
                            source,
                        }
                    })?;
                println!("{text}");
            } else {
                print!("{}", stats::render(&dir)?);
            }
            Ok(())
        })(),
        Command::Demo {
            processes,
            seconds,
            rate,
            out,
        } => (|| {
            let exe = std::env::current_exe().map_err(|source| ExporterError::Io {
                context: "locating this executable".into(),
                source,
            })?;
            let options = DemoOptions {
                processes: processes.max(1),
                seconds: seconds.clamp(0.1, 600.0),
                rate,
                out_dir: out,
            };
            let report = demo::run_demo(&options, &exe)?;
            print!("{}", demo::render_report(&report));
            Ok(())
        })(),
        Command::Produce {
            ring_dir,
            index,
            count,
            seconds,
            rate,
            report_every,
            max_payload_bytes,
        } => demo::produce(&ProduceOptions {
            ring_dir,
            index,
            count,
            seconds,
            rate,
            report_every,
            max_payload_bytes,
        })
        .map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("drift-exporter: {error}");
            ExitCode::FAILURE
        }
    }
}
