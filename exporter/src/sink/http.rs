//! HTTP sink: POSTs `ExportSpansRequest` bytes to the Tusk backend with the SDKs' protocol
//! (headers, gzip, response decoding), retries with jittered exponential backoff on 5xx and
//! transport errors, never retries 4xx, and stops hammering a dead backend with a breaker.

use std::io::Write;
use std::time::{Duration, Instant};

use prost::Message;

use super::breaker::Breaker;
use super::{Batch, BatchBody, Jitter, Sink, SinkError, StopControl};
use crate::config::ApiSinkConfig;
use crate::health::Counters;

/// Path of the export RPC under the base URL.
pub const EXPORT_PATH: &str = "/api/drift/tusk.drift.backend.v1.SpanExportService/ExportSpans";

/// The backend's sink. Blocking; lives on the sender thread.
pub struct HttpSink {
    config: ApiSinkConfig,
    url: String,
    agent: ureq::Agent,
    breaker: Breaker,
    jitter: Jitter,
}

enum AttemptError {
    /// Worth retrying (the OTLP exporters' list): transport error, timeout, 408, 429, 500, 502,
    /// 503, 504, or `success: false`. `retry_after` is the server's Retry-After, if any.
    Retryable {
        message: String,
        timed_out: bool,
        retry_after: Option<Duration>,
    },
    /// Any other status: retrying cannot help.
    Fatal { status: u16, message: String },
}

impl HttpSink {
    pub fn new(config: ApiSinkConfig) -> Self {
        let url = format!("{}{}", config.base_url.trim_end_matches('/'), EXPORT_PATH);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("drift-exporter/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let breaker = Breaker::new(config.breaker.clone());
        HttpSink {
            config,
            url,
            agent,
            breaker,
            jitter: Jitter::new(),
        }
    }

    fn attempt(&self, body: &[u8], gzipped: bool, timeout: Duration) -> Result<(), AttemptError> {
        let mut request = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Content-Type", "application/protobuf")
            .header("Accept", "application/protobuf")
            .header("x-api-key", &self.config.api_key)
            .header("x-td-skip-instrumentation", "true");
        if gzipped {
            request = request.header("Content-Encoding", "gzip");
        }
        let mut response = match request.send(body) {
            Ok(response) => response,
            Err(error) => {
                let timed_out = matches!(error, ureq::Error::Timeout(_));
                return Err(AttemptError::Retryable {
                    message: error.to_string(),
                    timed_out,
                    retry_after: None,
                });
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec();
        if status != 200 {
            // Only a bounded, redacted excerpt of a body ever reaches a log.
            let text = bytes
                .map(|bytes| body_excerpt(&bytes, &self.config.api_key))
                .unwrap_or_default();
            if is_retryable_status(status) {
                return Err(AttemptError::Retryable {
                    message: format!("status {status}: {text}"),
                    timed_out: false,
                    retry_after,
                });
            }
            return Err(AttemptError::Fatal {
                status,
                message: text,
            });
        }
        let bytes = bytes.map_err(|error| AttemptError::Retryable {
            message: format!("reading response: {error}"),
            timed_out: matches!(error, ureq::Error::Timeout(_)),
            retry_after: None,
        })?;
        let response = drift_core_rs::tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansResponse::decode(
            bytes.as_slice(),
        )
        .map_err(|error| AttemptError::Retryable { message: format!("undecodable response: {error}"), timed_out: false, retry_after: None })?;
        if !response.success {
            return Err(AttemptError::Retryable {
                message: format!(
                    "backend reported failure: {}",
                    body_excerpt(response.message.as_bytes(), &self.config.api_key)
                ),
                timed_out: false,
                retry_after: None,
            });
        }
        Ok(())
    }

    fn backoff(&mut self, retry: u32) -> Duration {
        let retry_settings = &self.config.retry;
        let exponent = retry.saturating_sub(1).min(30) as i32;
        let base = retry_settings.initial_backoff.as_secs_f64()
            * retry_settings.multiplier.max(1.0).powi(exponent);
        let capped = base.min(retry_settings.max_backoff.as_secs_f64());
        Duration::from_secs_f64(capped * self.jitter.factor())
    }
}

/// Longest Retry-After honoured (a larger value is capped; the ring holds the spans meanwhile).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Characters of a response body that may reach a log.
const BODY_EXCERPT_CHARS: usize = 256;

/// The statuses OTLP exporters retry.
fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (the HTTP-date form is not used by backends we talk to; ignored).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A response body as it may be logged: at most [`BODY_EXCERPT_CHARS`] characters, the API key
/// replaced, and withheld entirely if it looks like it echoes credentials (a backend or proxy
/// that reflects request headers).
pub(crate) fn body_excerpt(bytes: &[u8], api_key: &str) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lower = text.to_ascii_lowercase();
    if ["api-key", "api_key", "apikey", "authorization", "x-td-"]
        .iter()
        .any(|marker| lower.contains(marker))
        || (!api_key.is_empty() && text.contains(api_key))
    {
        return format!(
            "[{} bytes withheld: the body echoes request headers]",
            bytes.len()
        );
    }
    let mut excerpt: String = text
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > BODY_EXCERPT_CHARS {
        excerpt.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    excerpt
}

/// Gzips `body` (fast level: the exporter thread's CPU is the budget, not the wire).
pub(crate) fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

/// The host (and port) of a URL, for log lines: no scheme, user info, path or query.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

impl Sink for HttpSink {
    fn destination(&self) -> String {
        format!("the Tusk API at {}", url_host(&self.config.base_url))
    }

    fn deliver(
        &mut self,
        batch: &Batch,
        control: &StopControl,
        counters: &Counters,
    ) -> Result<(), SinkError> {
        let BatchBody::Request(raw) = &batch.body else {
            return Err(SinkError::Io("HTTP sink received JSON lines".to_string()));
        };
        let compressed;
        let (body, gzipped) = match self.config.gzip_min_bytes {
            Some(min) if raw.len() >= min => {
                compressed = gzip(raw).map_err(|error| SinkError::Io(format!("gzip: {error}")))?;
                (compressed.as_slice(), true)
            }
            _ => (raw.as_slice(), false),
        };
        let max_attempts = self.config.retry.max_attempts.max(1);
        let mut last_error = String::new();
        for attempt in 1..=max_attempts {
            // An open circuit: wait for the half-open probe instead of failing every batch, so
            // a short outage loses nothing while the bounded send queue caps memory.
            let wait = self.breaker.wait_time(Instant::now());
            if !wait.is_zero() {
                control.sleep(wait);
            }
            if control.past_deadline() {
                return Err(SinkError::DeadlinePassed);
            }
            self.breaker.publish(counters);
            if attempt > 1 {
                Counters::add(&counters.retries, 1);
            }
            let started = Instant::now();
            let timeout = control
                .budget(self.config.timeout)
                .max(Duration::from_millis(1));
            match self.attempt(body, gzipped, timeout) {
                Ok(()) => {
                    self.breaker.record_success(counters);
                    counters.record_export_latency(started.elapsed());
                    Counters::add(&counters.bytes_sent, body.len() as u64);
                    return Ok(());
                }
                Err(AttemptError::Fatal { status, message }) => {
                    Counters::add(&counters.export_failures, 1);
                    return Err(SinkError::Rejected { status, message });
                }
                Err(AttemptError::Retryable {
                    message,
                    timed_out,
                    retry_after,
                }) => {
                    Counters::add(&counters.export_failures, 1);
                    if timed_out {
                        Counters::add(&counters.export_timeouts, 1);
                    }
                    self.breaker.record_failure(counters);
                    last_error = message;
                    if attempt < max_attempts {
                        // Honour the server's Retry-After (bounded), never retry sooner.
                        let pause = self
                            .backoff(attempt)
                            .max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
                        control.sleep(pause);
                    }
                }
            }
        }
        Err(SinkError::RetriesExhausted {
            attempts: max_attempts,
            last_error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_excerpts_are_bounded_and_never_carry_the_key() {
        let long = "x".repeat(900_077);
        let excerpt = body_excerpt(long.as_bytes(), "secret-key");
        assert!(excerpt.chars().count() < 300, "{}", excerpt.len());
        let echo = "POST /api\r\nx-api-key: secret-key\r\n";
        assert!(!body_excerpt(echo.as_bytes(), "secret-key").contains("secret"));
        assert!(!body_excerpt(b"your key secret-key is bad", "secret-key").contains("secret"));
        assert_eq!(body_excerpt(b"overloaded", "k3y"), "overloaded");
        assert!(is_retryable_status(429) && is_retryable_status(408));
        assert!(!is_retryable_status(400) && !is_retryable_status(501));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
    }

    #[test]
    fn a_toml_syntax_error_does_not_echo_the_key() {
        let dir = std::env::temp_dir().join(format!("drift-toml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "sink = \"api\"\napi_key = \"sk-live-SECRET\n").unwrap();
        let mut config = crate::ExporterConfig::default();
        let error = config.apply_toml_file(&path).unwrap_err().to_string();
        assert!(!error.contains("SECRET"), "{error}");
        assert!(error.contains("line"), "{error}");
        std::fs::remove_dir_all(dir).ok();
    }
}
