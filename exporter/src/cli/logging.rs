//! Log output of the command line: `tracing-subscriber` on stderr, human-readable by default,
//! one JSON object per line with `--log-format json`. The level comes from `--log-level` /
//! `TUSK_LOG_LEVEL`, else `RUST_LOG`, else `info`.

use tracing_subscriber::EnvFilter;

use crate::args::{LogArgs, LogFormat};

pub fn init(args: &LogArgs) -> Result<(), String> {
    let directives = args
        .log_level
        .clone()
        .filter(|level| !level.trim().is_empty())
        .or_else(|| {
            std::env::var("RUST_LOG")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "info".to_string());
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|error| format!("invalid log level {directives:?}: {error}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let installed = match args.log_format {
        LogFormat::Text => builder.try_init(),
        // Flattened: `{"timestamp":…,"level":"INFO","message":…,"target":…}` plus any fields.
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|error| format!("could not install the logger: {error}"))
}
