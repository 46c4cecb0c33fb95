//! Callback sink: hands each request's bytes to the embedding program.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Batch, BatchBody, Sink, SinkError, StopControl};
use crate::config::ExportCallback;
use crate::health::Counters;

pub(crate) struct CallbackSink {
    callback: ExportCallback,
}

impl CallbackSink {
    pub(crate) fn new(callback: ExportCallback) -> Self {
        CallbackSink { callback }
    }
}

impl Sink for CallbackSink {
    fn deliver(
        &mut self,
        batch: &Batch,
        _control: &StopControl,
        counters: &Counters,
    ) -> Result<(), SinkError> {
        let BatchBody::Request(bytes) = &batch.body else {
            return Err(SinkError::Io(
                "callback sink received JSON lines".to_string(),
            ));
        };
        let len = bytes.len() as u64;
        let started = std::time::Instant::now();
        // A panicking callback must not take the sender thread down with it.
        catch_unwind(AssertUnwindSafe(|| (self.callback)(bytes.clone()))).map_err(|_| {
            SinkError::Rejected {
                status: 0,
                message: "export callback panicked".to_string(),
            }
        })?;
        counters.record_export_latency(started.elapsed());
        Counters::add(&counters.bytes_sent, len);
        Ok(())
    }
}
