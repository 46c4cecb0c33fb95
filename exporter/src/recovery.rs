//! In-process mode's named ring and what earlier processes of the same service left in theirs.
//!
//! An in-process exporter writes into a named ring in the ring directory (not an anonymous
//! memfd), so the spans a killed or SIGTERMed application had not delivered outlive it. The
//! next start of the same service takes the rings its dead predecessors left (proven dead by
//! the ring's liveness lock, taken by the consumer lock, so two live processes never drain one
//! ring), reads them before its own, releases what the sink confirms and removes each file once
//! it is empty. A sidecar pointed at the directory delivers them too (it drains every ring).
//!
//! Rings are matched by name: in-process rings are named `drift-ip-<hash of the service id>`,
//! so a service never delivers another service's spans under its own identity.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use drift_ring::{AttachOptions, Consumer, HEADER_LEN, Liveness, list_rings, sweep_temp_files};

use crate::config::ServiceIdentity;
use crate::pipeline::{RecordRef, RecordSource};
use crate::sidecar::ring_set::{MAX_RING_BYTES, MAX_TOTAL_RING_BYTES};
use crate::sink::RingMark;

/// Most dead rings one start takes (the rest wait for the next start or a sidecar).
const MAX_DEAD_RINGS: usize = 64;
/// The id the source gives its own ring in acknowledgements; dead rings get 1, 2, ...
const OWN_RING: u64 = 0;
/// How often a running exporter looks for rings of processes of its service that died since
/// (a prefork server's killed worker, say), once it has no dead ring left to drain.
const RESCAN_INTERVAL: Duration = Duration::from_secs(2);

/// Name prefix of the in-process rings of `service`: `drift-ip-` and 16 hex digits of a
/// stable hash (FNV-1a 64) of its observable service id. Stable across releases and processes:
/// it is how a next start finds its predecessors' rings.
pub(crate) fn ring_name_prefix(service: &ServiceIdentity) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in service.observable_service_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("drift-ip-{hash:016x}")
}

/// What a start found in the ring directory.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TakenRings {
    /// Dead predecessors' rings taken (to be drained by this process).
    pub(crate) taken: u64,
    /// Rings of this service left alone: a live (or closed, or unknown) producer, or another
    /// consumer holds them.
    pub(crate) left: u64,
    /// Dead rings not taken because of the per-start cap: look again as soon as these are done.
    pub(crate) over_cap: bool,
}

/// Takes the rings of dead processes of this service in `dir` (never `own`): each is attached
/// (the consumer lock: a ring another process drains is refused), then kept only if its
/// producer is proven dead. Anything else, including any error, leaves the ring alone (fail
/// safe: keep, don't take). Also removes dead creators' temporary files.
pub(crate) fn take_dead_rings(
    dir: &Path,
    prefix: &str,
    own: Option<&Path>,
) -> (Vec<Consumer>, TakenRings) {
    let _ = sweep_temp_files(dir);
    let mut report = TakenRings::default();
    let mut taken = Vec::new();
    let mut mapped: u64 = 0;
    let name_start = format!("{prefix}.");
    for path in list_rings(dir).unwrap_or_default() {
        let ours = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(&name_start));
        if !ours || Some(path.as_path()) == own {
            continue;
        }
        if taken.len() >= MAX_DEAD_RINGS {
            report.left += 1;
            report.over_cap = true;
            continue;
        }
        let opts = AttachOptions {
            max_ring_bytes: Some(MAX_RING_BYTES.min(MAX_TOTAL_RING_BYTES.saturating_sub(mapped))),
            ..AttachOptions::default()
        };
        match Consumer::attach(&path, &opts) {
            Ok(consumer) if consumer.producer_liveness() == Liveness::Dead => {
                mapped += consumer.stats().capacity_bytes + HEADER_LEN as u64;
                report.taken += 1;
                taken.push(consumer);
            }
            // Alive, closed by a live process, unknown, or attached elsewhere: not ours to take.
            _ => report.left += 1,
        }
    }
    (taken, report)
}

/// A dead predecessor's ring being drained.
struct DeadRing {
    id: u64,
    capacity_bytes: u64,
    consumer: Consumer,
}

/// Where to look for more dead rings while running (named rings only).
pub(crate) struct RescanSpec {
    pub(crate) dir: PathBuf,
    pub(crate) prefix: String,
    pub(crate) own: PathBuf,
    /// The start's scan hit the cap.
    pub(crate) over_cap: bool,
}

/// The in-process record source: the dead predecessors' rings first, then this process's own.
pub(crate) struct InProcessSource {
    own: Consumer,
    own_capacity_bytes: u64,
    dead: Vec<DeadRing>,
    next_id: u64,
    rescan: Option<RescanSpec>,
    next_scan: Instant,
    /// Dead rings emptied and removed (for the health of tests and operators).
    pub(crate) removed: u64,
}

impl InProcessSource {
    pub(crate) fn new(own: Consumer, dead: Vec<Consumer>, rescan: Option<RescanSpec>) -> Self {
        let mut source = InProcessSource {
            own_capacity_bytes: own.stats().capacity_bytes,
            own,
            dead: Vec::new(),
            next_id: 1,
            rescan,
            next_scan: Instant::now() + RESCAN_INTERVAL,
            removed: 0,
        };
        source.adopt(dead);
        source
    }

    fn adopt(&mut self, dead: Vec<Consumer>) {
        for consumer in dead {
            self.dead.push(DeadRing {
                id: self.next_id,
                capacity_bytes: consumer.stats().capacity_bytes,
                consumer,
            });
            self.next_id += 1;
        }
    }

    /// Once the dead rings taken so far are done: takes the ones found since (or left over by
    /// the cap), at most every `RESCAN_INTERVAL` unless the cap left some behind.
    fn rescan_if_due(&mut self) {
        let Some(spec) = &mut self.rescan else {
            return;
        };
        let now = Instant::now();
        if !self.dead.is_empty() || (!spec.over_cap && now < self.next_scan) {
            return;
        }
        self.next_scan = now + RESCAN_INTERVAL;
        let (dead, report) = take_dead_rings(&spec.dir, &spec.prefix, Some(&spec.own));
        spec.over_cap = report.over_cap;
        self.adopt(dead);
    }

    fn consumer(&mut self, ring: u64) -> Option<&mut Consumer> {
        if ring == OWN_RING {
            return Some(&mut self.own);
        }
        self.dead
            .iter_mut()
            .find(|dead| dead.id == ring)
            .map(|dead| &mut dead.consumer)
    }

    /// Removes the dead rings that are empty (everything released, abandoned claims skipped)
    /// or quarantined. Their headers' accounting is complete at that point.
    fn remove_finished(&mut self) {
        let mut index = 0;
        while index < self.dead.len() {
            let consumer = &mut self.dead[index].consumer;
            if !consumer.has_unreleased() {
                // Skips claims the dead producer never committed (counted in the header);
                // only possible once everything read before them is released.
                let _ = consumer.recover_abandoned();
            }
            let finished = consumer.is_quarantined()
                || (consumer.pending_bytes() == 0 && !consumer.has_unreleased());
            if finished {
                let dead = self.dead.remove(index);
                if dead.consumer.is_quarantined() && dead.consumer.pending_bytes() > 0 {
                    // Malformed contents with bytes still unread: keep the file, renamed out of
                    // the way (never read again, never deleted), and say so. Fail safe: an
                    // error while reading is no proof that nothing is left.
                    let path = dead.consumer.path().map(Path::to_path_buf);
                    tracing::warn!(
                        "set aside the ring {}: {} ({} bytes unread)",
                        path.as_deref()
                            .map_or("?".into(), |p| p.display().to_string()),
                        dead.consumer.quarantine_reason().unwrap_or("quarantined"),
                        dead.consumer.pending_bytes()
                    );
                    drop(dead);
                    if let Some(path) = path {
                        let _ = drift_ring::set_aside_invalid(&path);
                    }
                    continue;
                }
                if dead.consumer.remove_file().is_ok() {
                    self.removed += 1;
                }
            } else {
                index += 1;
            }
        }
    }
}

/// Reads up to `max_records` from one ring, tagging them with `ring`.
fn read_ring(
    ring: u64,
    recovered: bool,
    consumer: &mut Consumer,
    max_records: usize,
    max_bytes: usize,
    f: &mut dyn FnMut(RecordRef<'_>),
) -> usize {
    // An error means quarantined (malformed framing, reported once): nothing more to read.
    consumer
        .read(max_records, max_bytes, |record| {
            let mut record = RecordRef::from_ring(ring, &record);
            record.recovered = recovered;
            f(record);
        })
        .map_or(0, |summary| summary.records as usize)
}

impl RecordSource for InProcessSource {
    fn drain(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        f: &mut dyn FnMut(RecordRef<'_>),
    ) -> usize {
        // What dead predecessors left goes first: it is older than anything in our own ring.
        for dead in &mut self.dead {
            let read = read_ring(dead.id, true, &mut dead.consumer, max_records, max_bytes, f);
            if read > 0 {
                return read;
            }
        }
        read_ring(OWN_RING, false, &mut self.own, max_records, max_bytes, f)
    }

    fn wait(&mut self, timeout: Duration) {
        // Dead rings get no new records; only our own ring is worth sleeping on.
        self.own.wait_for_data(timeout);
    }

    fn smallest_ring_bytes(&self) -> Option<u64> {
        self.dead
            .iter()
            .map(|dead| dead.capacity_bytes)
            .chain([self.own_capacity_bytes])
            .min()
    }

    fn maintain(&mut self, _f: &mut dyn FnMut(RecordRef<'_>)) {
        if !self.dead.is_empty() {
            self.remove_finished();
        }
        self.rescan_if_due();
    }

    fn release(&mut self, mark: &RingMark, delivered: bool) {
        let (confirmed, failed) = if delivered {
            (mark.spans, 0)
        } else {
            (0, mark.spans)
        };
        // Marks come back in the order the records were read, so this only fails if the ring
        // was quarantined meanwhile; the records then stay where they are. A mark for a ring
        // already removed finds nothing (cannot happen: a ring goes only once all is released).
        if let Some(consumer) = self.consumer(mark.ring) {
            let _ = consumer.release(mark.end, confirmed, failed, mark.rejected);
        }
    }
}
