//! The pair of threads behind an exporter or a sidecar: drain (source → process → batch) and
//! sender (sink I/O), with flush and stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Batcher, DrainControl, DrainLoop, RecordSource, SendQueue, spawn_sender};
use crate::ExporterError;
use crate::config::{ExporterConfig, SinkConfig};
use crate::health::{Counters, DropReason};
use crate::process::Processor;
use crate::sink::{Sink, StopControl};

pub(crate) struct Worker {
    drain: DrainHandle,
    sender_control: Arc<StopControl>,
    queue: Arc<SendQueue>,
    threads: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

struct DrainHandle {
    control: Arc<DrainControl>,
}

impl Worker {
    pub(crate) fn start(
        config: &ExporterConfig,
        sink: Box<dyn Sink>,
        source: Box<dyn RecordSource>,
        counters: &Arc<Counters>,
        count_pushed_on_drain: bool,
    ) -> Result<Worker, ExporterError> {
        let lines = sink.wants_lines();
        let max_pending = match &config.sink {
            SinkConfig::Api(api) => api.max_pending_requests,
            _ => 8,
        };
        let queue = Arc::new(SendQueue::new(max_pending));
        let sender_control = Arc::new(StopControl::default());
        let control = Arc::new(DrainControl::default());
        let progress = control.clone();
        let sender = spawn_sender(
            queue.clone(),
            sink,
            sender_control.clone(),
            counters.clone(),
            Arc::new(move || progress.notify_progress()),
        )?;
        let drain = DrainLoop {
            source,
            processor: Processor::new(lines),
            batcher: Batcher::new(config.batch.clone(), &config.service),
            queue: queue.clone(),
            counters: counters.clone(),
            control: control.clone(),
            count_pushed_on_drain,
        }
        .spawn();
        let drain = match drain {
            Ok(handle) => handle,
            Err(error) => {
                queue.close();
                let _ = sender.join();
                return Err(error);
            }
        };
        Ok(Worker {
            drain: DrainHandle { control },
            sender_control,
            queue,
            threads: std::sync::Mutex::new(vec![drain, sender]),
        })
    }

    /// Drains the source, cuts the open batch and waits until every batch enqueued by then
    /// is settled. `wake` wakes the drain thread if it sleeps. True only if all of them were
    /// confirmed by the sink: a batch rejected meanwhile makes it false, as does the deadline.
    pub(crate) fn flush(&self, deadline: Instant, wake: &dyn Fn(), counters: &Counters) -> bool {
        // Records the core could not process are counted with their reason at once; they are
        // the application's bad data, not a delivery failure, and do not fail the flush.
        let failed = || counters.dropped(DropReason::ExportFailed);
        let failed_before = failed();
        let control = &self.drain.control;
        let request = control.flush_requested.fetch_add(1, Ordering::AcqRel) + 1;
        wake();
        if !control.wait_until(deadline, || {
            control.flush_completed.load(Ordering::Acquire) >= request
        }) {
            return false;
        }
        let enqueued = self.queue.enqueued();
        control.wait_until(deadline, || self.queue.settled() >= enqueued)
            && failed() == failed_before
    }

    /// Final drain and stop, within `deadline`. What the sink has not confirmed by then stays
    /// unreleased in the ring (the caller decides whether that is lost).
    pub(crate) fn stop(&self, deadline: Instant, wake: &dyn Fn()) {
        let control = &self.drain.control;
        control.stop.store(true, Ordering::Release);
        wake();
        // Whatever the sender still has after the deadline is dropped as export_failed.
        self.sender_control.set_deadline(deadline);
        let threads: Vec<JoinHandle<()>> = self
            .threads
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .drain(..)
            .collect();
        let mut threads = threads.into_iter();
        if let Some(drain) = threads.next() {
            join_until(drain, deadline);
        }
        self.queue.close();
        if let Some(sender) = threads.next()
            && !join_until(sender, deadline)
        {
            self.sender_control.abandon();
            self.queue.abandon();
        }
    }
}

/// Joins a thread if it finishes by `deadline`; otherwise leaves it detached.
fn join_until(handle: JoinHandle<()>, deadline: Instant) -> bool {
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    handle.join().is_ok()
}
