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
    /// Worth retrying: 5xx, transport error, timeout, or `success: false`.
    Retryable { message: String, timed_out: bool },
    /// 4xx: the request itself is wrong; retrying cannot help.
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
                });
            }
        };
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec();
        if status >= 500 {
            let text = bytes
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            return Err(AttemptError::Retryable {
                message: format!("server error {status}: {text}"),
                timed_out: false,
            });
        }
        if status != 200 {
            let text = bytes
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            return Err(AttemptError::Fatal {
                status,
                message: text,
            });
        }
        let bytes = bytes.map_err(|error| AttemptError::Retryable {
            message: format!("reading response: {error}"),
            timed_out: matches!(error, ureq::Error::Timeout(_)),
        })?;
        let response = drift_core_rs::tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansResponse::decode(
            bytes.as_slice(),
        )
        .map_err(|error| AttemptError::Retryable { message: format!("undecodable response: {error}"), timed_out: false })?;
        if !response.success {
            return Err(AttemptError::Retryable {
                message: format!("backend reported failure: {}", response.message),
                timed_out: false,
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

/// Gzips `body` (fast level: the exporter thread's CPU is the budget, not the wire).
pub(crate) fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

impl Sink for HttpSink {
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
                    counters.last_export_latency_us.store(
                        started.elapsed().as_micros() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    Counters::add(&counters.bytes_sent, body.len() as u64);
                    return Ok(());
                }
                Err(AttemptError::Fatal { status, message }) => {
                    Counters::add(&counters.export_failures, 1);
                    return Err(SinkError::Rejected { status, message });
                }
                Err(AttemptError::Retryable { message, timed_out }) => {
                    Counters::add(&counters.export_failures, 1);
                    if timed_out {
                        Counters::add(&counters.export_timeouts, 1);
                    }
                    self.breaker.record_failure(counters);
                    last_error = message;
                    if attempt < max_attempts {
                        let pause = self.backoff(attempt);
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
