//! Circuit breaker of the HTTP sink: after `failure_threshold` consecutive failed attempts the
//! circuit opens and no request is attempted for `open_duration`; then one probe is let through
//! (half-open), whose outcome closes or re-opens the circuit.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::config::BreakerSettings;
use crate::health::{CircuitState, Counters};

#[derive(Debug)]
pub(crate) struct Breaker {
    settings: BreakerSettings,
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub(crate) fn new(settings: BreakerSettings) -> Self {
        Breaker {
            settings,
            consecutive_failures: 0,
            open_until: None,
        }
    }

    /// How long to wait before the next attempt is allowed (zero when closed or half-open).
    pub(crate) fn wait_time(&self, now: Instant) -> Duration {
        self.open_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }

    pub(crate) fn state(&self, now: Instant) -> CircuitState {
        match self.open_until {
            None => CircuitState::Closed,
            Some(until) if now < until => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        }
    }

    pub(crate) fn record_success(&mut self, counters: &Counters) {
        self.consecutive_failures = 0;
        self.open_until = None;
        self.publish(counters);
    }

    pub(crate) fn record_failure(&mut self, counters: &Counters) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let half_open_probe_failed = self.open_until.is_some();
        if half_open_probe_failed
            || self.consecutive_failures >= self.settings.failure_threshold.max(1)
        {
            self.open_until = Some(Instant::now() + self.settings.open_duration);
        }
        self.publish(counters);
    }

    pub(crate) fn publish(&self, counters: &Counters) {
        let code = match self.state(Instant::now()) {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        };
        counters.circuit_state.store(code, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_half_opens_after_the_open_duration() {
        let counters = Counters::default();
        let mut breaker = Breaker::new(BreakerSettings {
            failure_threshold: 2,
            open_duration: Duration::from_millis(30),
        });
        breaker.record_failure(&counters);
        assert_eq!(breaker.state(Instant::now()), CircuitState::Closed);
        breaker.record_failure(&counters);
        assert_eq!(breaker.state(Instant::now()), CircuitState::Open);
        assert!(breaker.wait_time(Instant::now()) > Duration::ZERO);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.state(Instant::now()), CircuitState::HalfOpen);
        // A failed probe re-opens at once; a success closes.
        breaker.record_failure(&counters);
        assert_eq!(breaker.state(Instant::now()), CircuitState::Open);
        breaker.record_success(&counters);
        assert_eq!(breaker.state(Instant::now()), CircuitState::Closed);
        assert_eq!(counters.circuit_state.load(Ordering::Relaxed), 0);
    }
}
