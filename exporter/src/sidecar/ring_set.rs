//! Every producer ring of a directory, as one record source for the sidecar: new rings are
//! attached as they appear, dead producers' rings are recovered (committed records drained,
//! abandoned claims skipped and counted) and removed, closed rings are drained and removed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drift_ring::{
    AttachOptions, Consumer, HEADER_LEN, Liveness, RingError, RingStats, list_rings,
    set_aside_invalid, sweep_temp_files,
};
use serde::Serialize;

use crate::pipeline::{RecordRef, RecordSource};
use crate::sink::RingMark;

/// How often the directory is rescanned and liveness checked.
const SCAN_INTERVAL: Duration = Duration::from_millis(100);
/// How long a ring that could not be attached (another consumer, bad header) is left alone.
const ATTACH_RETRY: Duration = Duration::from_millis(500);
/// How long a file that is not a valid ring but whose creator may live is left alone.
const INVALID_RETRY: Duration = Duration::from_secs(30);
/// Longest sleep between polls: the sidecar cannot wait on many rings' futexes at once.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// Bound of the per-file retry state (`refused`): beyond it the oldest entries are forgotten
/// (and retried at the next scan), so junk files cannot grow the sidecar's memory.
const MAX_REFUSED: usize = 4096;
/// Largest ring file (header + data) the sidecar maps.
pub(crate) const MAX_RING_BYTES: u64 = (HEADER_LEN as u64) + (256 << 20);
/// Largest total of mapped ring files.
pub(crate) const MAX_TOTAL_RING_BYTES: u64 = 4 << 30;

/// One attached ring, as `stats` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RingReport {
    pub path: PathBuf,
    pub producer_pid: u32,
    pub liveness: &'static str,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub fill_ratio: f64,
    pub records_written: u64,
    pub records_read: u64,
    pub dropped_full: u64,
    pub dropped_too_large: u64,
    pub dropped_closed: u64,
    pub dropped_contention: u64,
    pub abandoned_records: u64,
    pub checksum_failures: u64,
    pub quarantined: bool,
    /// Acknowledgement counters from the ring header (layout version 2).
    pub confirmed: u64,
    pub export_failed: u64,
    pub rejected: u64,
    pub redelivered: u64,
    pub in_ring: u64,
    pub consumer_attaches: u64,
}

impl RingReport {
    pub(crate) fn new(
        path: PathBuf,
        producer_pid: u32,
        liveness: Liveness,
        stats: &RingStats,
    ) -> Self {
        RingReport {
            path,
            producer_pid,
            liveness: match liveness {
                Liveness::Alive => "alive",
                Liveness::Dead => "dead",
                Liveness::Closed => "closed",
                Liveness::Unknown => "unknown",
            },
            capacity_bytes: stats.capacity_bytes,
            used_bytes: stats.used_bytes,
            fill_ratio: if stats.capacity_bytes == 0 {
                0.0
            } else {
                stats.used_bytes as f64 / stats.capacity_bytes as f64
            },
            records_written: stats.records_written,
            records_read: stats.records_read,
            dropped_full: stats.dropped_full_records,
            dropped_too_large: stats.dropped_too_large,
            dropped_closed: stats.dropped_closed,
            dropped_contention: stats.dropped_contention,
            abandoned_records: stats.abandoned_records,
            checksum_failures: stats.checksum_failures,
            quarantined: stats.quarantined,
            confirmed: stats.confirmed_records,
            export_failed: stats.export_failed_records,
            rejected: stats.rejected_records,
            redelivered: stats.redelivered_records,
            in_ring: stats.in_ring_records,
            consumer_attaches: stats.consumer_attaches,
        }
    }
}

/// Sidecar-level counters (the exporter's own counters cover spans).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RingSetCounters {
    pub rings_attached_total: u64,
    pub rings_removed: u64,
    pub dead_producers: u64,
    pub abandoned_records: u64,
    pub abandoned_bytes: u64,
    pub checksum_failures: u64,
    pub quarantined_rings: u64,
    pub attach_failures: u64,
    /// Producer-side drops read from ring headers when their ring is removed.
    pub producer_dropped: u64,
    /// Liveness checks that failed with an OS error (looked at again later, never a removal).
    pub liveness_unknown: u64,
    /// Temporary files of ring creators proven dead, removed.
    pub temp_files_removed: u64,
    /// Files with a ring name that are not valid rings (each reported once).
    pub invalid_files: u64,
    /// Invalid files of dead creators renamed to `.<name>.ring.invalid`.
    pub invalid_set_aside: u64,
    /// Rings refused because they exceed the per-ring or total mapping cap.
    pub rings_over_cap: u64,
    /// Rings that shrank under the sidecar (truncated while mapped) and were quarantined.
    pub rings_shrunk: u64,
    /// Records written to a shrunken ring and never read (counted, not exported).
    pub records_lost_shrunk: u64,
}

/// What `stats` and the periodic snapshot show of the ring set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RingSetReport {
    pub rings: Vec<RingReport>,
    pub counters: RingSetCounters,
}

pub(crate) struct RingSet {
    dir: PathBuf,
    rings: BTreeMap<PathBuf, Consumer>,
    /// Ids given to attached rings (acknowledgements name rings by id).
    ids: BTreeMap<PathBuf, u64>,
    paths: BTreeMap<u64, PathBuf>,
    next_id: u64,
    refused: BTreeMap<PathBuf, Instant>,
    /// Invalid files already reported (bounded like `refused`).
    reported: BTreeMap<PathBuf, Instant>,
    /// Bytes mapped by each attached ring, and their total.
    sizes: BTreeMap<PathBuf, u64>,
    mapped_bytes: u64,
    next_scan: Instant,
    counters: RingSetCounters,
    /// Latest report, shared with the stats writer.
    report: Arc<Mutex<RingSetReport>>,
    round_robin: usize,
}

impl RingSet {
    pub(crate) fn new(dir: PathBuf, report: Arc<Mutex<RingSetReport>>) -> Self {
        RingSet {
            dir,
            rings: BTreeMap::new(),
            ids: BTreeMap::new(),
            paths: BTreeMap::new(),
            next_id: 0,
            refused: BTreeMap::new(),
            reported: BTreeMap::new(),
            sizes: BTreeMap::new(),
            mapped_bytes: 0,
            next_scan: Instant::now(),
            counters: RingSetCounters::default(),
            report,
            round_robin: 0,
        }
    }

    fn scan(&mut self) {
        self.check_sizes();
        let now = Instant::now();
        self.refused.retain(|_, until| *until > now);
        if let Ok(swept) = sweep_temp_files(&self.dir) {
            self.counters.temp_files_removed += swept.removed;
            self.counters.liveness_unknown += swept.unknown;
        }
        let paths = list_rings(&self.dir).unwrap_or_default();
        for path in paths {
            if self.rings.contains_key(&path) || self.refused.contains_key(&path) {
                continue;
            }
            let opts = AttachOptions {
                max_ring_bytes: Some(
                    MAX_RING_BYTES.min(MAX_TOTAL_RING_BYTES.saturating_sub(self.mapped_bytes)),
                ),
                ..AttachOptions::default()
            };
            match Consumer::attach(&path, &opts) {
                Ok(consumer) => {
                    self.counters.rings_attached_total += 1;
                    let len = consumer.stats().capacity_bytes + HEADER_LEN as u64;
                    self.mapped_bytes += len;
                    self.sizes.insert(path.clone(), len);
                    self.reported.remove(&path);
                    self.next_id += 1;
                    self.ids.insert(path.clone(), self.next_id);
                    self.paths.insert(self.next_id, path.clone());
                    let stats = consumer.stats();
                    tracing::info!(
                        "attached ring {} (producer pid {}, {} bytes, {} records waiting)",
                        path.display(),
                        consumer.producer_pid(),
                        stats.capacity_bytes,
                        stats.in_ring_records
                    );
                    self.rings.insert(path, consumer);
                }
                Err(e) => {
                    self.counters.attach_failures += 1;
                    if !e.is_invalid_file() {
                        tracing::debug!("could not attach ring {}: {e}", path.display());
                    }
                    let retry = if e.is_invalid_file() {
                        self.invalid_file(&path, &e)
                    } else {
                        if matches!(e, RingError::OverCap { .. }) {
                            self.counters.rings_over_cap += 1;
                        }
                        ATTACH_RETRY
                    };
                    self.refuse(path, now + retry);
                }
            }
        }
        // Liveness: recover the dead, finish the closed.
        let mut finished = Vec::new();
        for (path, consumer) in &mut self.rings {
            match consumer.producer_liveness() {
                Liveness::Alive => {}
                Liveness::Unknown => self.counters.liveness_unknown += 1,
                Liveness::Dead => {
                    // Committed records are read by the regular drain and released when the
                    // sink confirms them; abandoned claims are skipped once everything before
                    // them is released. The ring goes when nothing is left in it.
                    if let Ok(report) = consumer.recover_abandoned() {
                        self.counters.abandoned_records += report.abandoned_records;
                        self.counters.abandoned_bytes += report.abandoned_bytes;
                        if report.abandoned_records > 0 {
                            tracing::info!(
                                "ring {}: producer is dead; skipped {} abandoned records \
                                 ({} bytes), draining the committed ones",
                                path.display(),
                                report.abandoned_records,
                                report.abandoned_bytes
                            );
                        }
                    }
                    if consumer.pending_bytes() == 0 || consumer.is_quarantined() {
                        self.counters.dead_producers += 1;
                        tracing::info!(
                            "recovered the ring of dead producer pid {}: {} ({})",
                            consumer.producer_pid(),
                            path.display(),
                            if consumer.is_quarantined() {
                                "quarantined"
                            } else {
                                "every committed record delivered"
                            }
                        );
                        finished.push(path.clone());
                    }
                }
                Liveness::Closed => {
                    if consumer.pending_bytes() == 0 || consumer.is_quarantined() {
                        finished.push(path.clone());
                    }
                }
            }
        }
        for path in finished {
            if let Some(consumer) = self.rings.remove(&path) {
                self.forget(&path);
                let stats = consumer.stats();
                self.counters.producer_dropped += stats.dropped_total();
                if stats.quarantined {
                    self.counters.quarantined_rings += 1;
                    tracing::warn!(
                        "quarantined ring {} ({}); {} records were not delivered",
                        path.display(),
                        consumer.quarantine_reason().unwrap_or("malformed contents"),
                        stats.in_ring_records
                    );
                }
                if consumer.remove_file().is_ok() {
                    self.counters.rings_removed += 1;
                }
            }
        }
        self.publish();
    }

    /// A file with a ring name that is not a valid ring: reported once; set aside if its
    /// creator is proven dead (it can never become valid), else left alone for a long while
    /// (a live producer of another layout version, say). Returns how long to leave it.
    fn invalid_file(&mut self, path: &std::path::Path, error: &RingError) -> Duration {
        if !self.reported.contains_key(path) {
            self.counters.invalid_files += 1;
            tracing::warn!("ignoring {}: not a valid ring: {error}", path.display());
            if self.reported.len() >= MAX_REFUSED {
                self.reported.pop_first();
            }
            self.reported.insert(path.to_owned(), Instant::now());
        }
        match set_aside_invalid(path) {
            Ok(_) => {
                self.counters.invalid_set_aside += 1;
                self.reported.remove(path);
                ATTACH_RETRY
            }
            Err(_) => INVALID_RETRY,
        }
    }

    /// Drops the bookkeeping of a ring no longer attached: its mapped size and its id (a late
    /// acknowledgement for it then finds nothing to release).
    fn forget(&mut self, path: &std::path::Path) {
        let len = self.sizes.remove(path).unwrap_or(0);
        self.mapped_bytes = self.mapped_bytes.saturating_sub(len);
        if let Some(id) = self.ids.remove(path) {
            self.paths.remove(&id);
        }
    }

    fn refuse(&mut self, path: PathBuf, until: Instant) {
        if self.refused.len() >= MAX_REFUSED {
            self.refused.pop_first();
        }
        self.refused.insert(path, until);
    }

    /// Before a drain pass: every ring must still cover its mapping. A shrunken ring is
    /// quarantined and dropped (its file is left: its producer may live), counted with the
    /// records it held if its header page is still there.
    fn check_sizes(&mut self) {
        let mut shrunk = Vec::new();
        for (path, consumer) in &mut self.rings {
            if let Err(RingError::WrongSize { actual, .. }) = consumer.verify_backing() {
                shrunk.push((path.clone(), actual));
            }
        }
        for (path, actual) in shrunk {
            if let Some(consumer) = self.rings.remove(&path) {
                self.forget(&path);
                self.counters.rings_shrunk += 1;
                self.counters.quarantined_rings += 1;
                if actual >= HEADER_LEN as u64 {
                    let stats = consumer.stats();
                    self.counters.records_lost_shrunk +=
                        stats.records_written.saturating_sub(stats.records_read);
                }
                tracing::warn!(
                    "quarantined ring {}: truncated to {actual} bytes while mapped",
                    path.display()
                );
                // Looked at again soon: attaching it fails (wrong size), and once its producer is
                // proven dead it is set aside like any invalid file.
                self.refuse(path, Instant::now() + ATTACH_RETRY);
            }
        }
    }

    fn publish(&self) {
        let rings = self
            .rings
            .iter()
            .map(|(path, consumer)| {
                RingReport::new(
                    path.clone(),
                    consumer.producer_pid(),
                    consumer.producer_liveness(),
                    &consumer.stats(),
                )
            })
            .collect();
        let mut report = self
            .report
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *report = RingSetReport {
            rings,
            counters: self.counters.clone(),
        };
    }
}

fn drain_ring(
    ring: u64,
    consumer: &mut Consumer,
    max_records: usize,
    max_bytes: usize,
    f: &mut dyn FnMut(RecordRef<'_>),
) -> usize {
    consumer
        .read(max_records, max_bytes, |record| {
            f(RecordRef::from_ring(ring, &record));
        })
        .map_or(0, |summary| summary.records as usize)
}

impl RecordSource for RingSet {
    fn drain(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        f: &mut dyn FnMut(RecordRef<'_>),
    ) -> usize {
        // Every pass first checks that no ring shrank under its mapping (see `check_sizes`).
        self.check_sizes();
        if self.rings.is_empty() {
            return 0;
        }
        // Round-robin start so one busy producer cannot starve the others.
        let count = self.rings.len();
        let share = (max_records / count).max(16);
        let start = self.round_robin % count;
        self.round_robin = self.round_robin.wrapping_add(1);
        let mut total = 0;
        let ids = &self.ids;
        let mut consumers: Vec<(u64, &mut Consumer)> = self
            .rings
            .iter_mut()
            .map(|(path, consumer)| (ids.get(path).copied().unwrap_or(0), consumer))
            .collect();
        consumers.rotate_left(start);
        for (id, consumer) in consumers {
            total += drain_ring(id, consumer, share, max_bytes, f);
        }
        total
    }

    fn wait(&mut self, timeout: Duration) {
        std::thread::sleep(timeout.min(POLL_INTERVAL));
    }

    fn smallest_ring_bytes(&self) -> Option<u64> {
        // A few header reads per attached ring, once per drain pass.
        self.rings
            .values()
            .map(|consumer| consumer.stats().capacity_bytes)
            .min()
    }

    fn release(&mut self, mark: &RingMark, delivered: bool) {
        let Some(consumer) = self
            .paths
            .get(&mark.ring)
            .and_then(|path| self.rings.get_mut(path))
        else {
            return; // removed meanwhile (quarantined): nothing to release
        };
        let (confirmed, failed) = if delivered {
            (mark.spans, 0)
        } else {
            (0, mark.spans)
        };
        let _ = consumer.release(mark.end, confirmed, failed, mark.rejected);
    }

    fn maintain(&mut self, _f: &mut dyn FnMut(RecordRef<'_>)) {
        if Instant::now() >= self.next_scan {
            self.scan();
            self.next_scan = Instant::now() + SCAN_INTERVAL;
        }
    }
}
