//! The options, once: [`OPTIONS`] (name, `TUSK_*` variable, kind, help) and [`Overrides`], the
//! typed set every configuration source is parsed into (the TOML file, the environment, a
//! binding's options, the command line's flags). Building an [`crate::ExporterConfig`] from
//! layers of overrides is `config`'s job; this module knows names, parsing and merging.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ExporterError;

/// A sink name in the one vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SinkKind {
    Api,
    Files,
    Sidecar,
}

impl SinkKind {
    /// The one sink vocabulary: `api`, `file`, `sidecar` (`files`, the command line's former
    /// spelling, is accepted as an alias).
    pub(crate) fn parse(text: &str) -> Result<Self, ExporterError> {
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
/// Every field is optional; [`crate::ExporterConfig::from_layers`] merges them per field.
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
