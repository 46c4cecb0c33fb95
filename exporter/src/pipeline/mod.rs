//! The exporter's threads: the drain loop (ring → process → batch) and the sender (sink I/O).

mod batcher;
mod drain;
mod sender;
mod worker;

pub(crate) use batcher::{Batcher, SpanOutput};
pub(crate) use drain::{DrainControl, DrainLoop, RecordRef, RecordSource};
pub(crate) use sender::{SendQueue, spawn_sender};
pub(crate) use worker::Worker;
