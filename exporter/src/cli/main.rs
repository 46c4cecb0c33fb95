//! `drift-exporter`: the sidecar (`run`), its `stats` table, and the `demo`.
//!
//! This binary is built only with the crate's `cli` feature (on by default); the language
//! bindings link the library without it, so `clap`, the log formatter and the Prometheus encoder
//! stay out of the extension modules.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod args;
mod demo;
mod logging;
mod metrics;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use drift_exporter::config::Overrides;
use drift_exporter::sidecar::{Sidecar, stats};
use drift_exporter::{ExporterConfig, ExporterError};

use args::{Cli, Command, RunArgs, StatsArgs};
use demo::{DemoOptions, ProduceOptions};

/// Precedence, per field: defaults < TOML file < `TUSK_*` environment < flags.
fn run_config(args: &RunArgs) -> Result<ExporterConfig, ExporterError> {
    let file = match &args.config {
        Some(path) => Overrides::from_toml_file(path)?,
        None => Overrides::default(),
    };
    let env = Overrides::from_env()?;
    let flags = args.overrides();
    ExporterConfig::from_layers(&[&file, &env, &flags])
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
    let sidecar = Arc::new(Sidecar::start(&config)?);
    tracing::info!(
        "drift-exporter {} draining the rings in {} into {}",
        env!("CARGO_PKG_VERSION"),
        sidecar.ring_dir().display(),
        config.sink.describe()
    );
    if let Some(addr) = &args.metrics_addr {
        let bound = metrics::serve(addr, Arc::clone(&sidecar))?;
        tracing::info!("serving Prometheus metrics on http://{bound}/metrics");
    }
    let mut next_snapshot = Instant::now();
    let mut snapshot_error_logged = false;
    while !STOP.load(Ordering::SeqCst) {
        if Instant::now() >= next_snapshot {
            match stats::write_snapshot(sidecar.ring_dir(), &sidecar.snapshot()) {
                Ok(()) => snapshot_error_logged = false,
                // Once per run of failures: the same error every second says nothing new.
                Err(error) if !snapshot_error_logged => {
                    snapshot_error_logged = true;
                    tracing::warn!("could not write the stats snapshot: {error}");
                }
                Err(_) => {}
            }
            next_snapshot = Instant::now() + Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::info!(
        "stopping: final drain (budget {} ms)",
        args.shutdown_timeout_millis
    );
    let clean = sidecar.shutdown(Duration::from_millis(args.shutdown_timeout_millis));
    let _ = std::fs::remove_file(stats::snapshot_path(sidecar.ring_dir()));
    let health = sidecar.health();
    tracing::info!(
        "stopped ({}): read {}, exported {}, dropped {}",
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

fn stats_command(args: &StatsArgs) -> Result<(), ExporterError> {
    let mut env = Overrides::from_env()?;
    if args.ring_dir.is_some() {
        env.ring_dir.clone_from(&args.ring_dir);
    }
    let dir = ExporterConfig::from_layers(&[&env])?.ring.resolved_dir()?;
    if args.json {
        let text = std::fs::read_to_string(stats::snapshot_path(&dir)).map_err(|source| {
            ExporterError::Io {
                context: format!("no sidecar snapshot in {}", dir.display()),
                source,
            }
        })?;
        println!("{text}");
        return Ok(());
    }
    if !args.watch {
        print!("{}", stats::render(&dir)?);
        return Ok(());
    }
    // Refreshes in place: home the cursor, print, clear what is left of the previous table.
    install_signal_handlers();
    let interval = Duration::from_millis(args.interval_millis.max(100));
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "\x1b[2J");
    while !STOP.load(Ordering::SeqCst) {
        let table = stats::render(&dir)?;
        let _ = write!(stdout, "\x1b[H{}\x1b[J", table.replace('\n', "\x1b[K\n"));
        let _ = stdout.flush();
        let until = Instant::now() + interval;
        while Instant::now() < until && !STOP.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = logging::init(&cli.log) {
        eprintln!("drift-exporter: {error}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Stats(args) => stats_command(&args),
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
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
