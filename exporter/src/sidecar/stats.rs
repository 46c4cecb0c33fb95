//! `drift-exporter stats`: a human-readable table of every ring and the exporter. A running
//! sidecar writes its snapshot next to the rings every second; without one, each ring's header
//! is read through a short attach (nothing is drained).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use drift_ring::{AttachOptions, Consumer, list_rings};

use super::{RingReport, SidecarSnapshot};
use crate::ExporterError;

/// File name of the snapshot a running sidecar keeps in the ring directory (a dot file: the
/// ring scanner ignores it).
pub const SNAPSHOT_FILE: &str = ".drift-exporter-stats.json";

/// A snapshot older than this is from a sidecar that is gone.
const SNAPSHOT_FRESH: Duration = Duration::from_secs(5);

pub fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join(SNAPSHOT_FILE)
}

/// Writes the snapshot atomically (temp file + rename), so `stats` never reads half of one.
pub fn write_snapshot(dir: &Path, snapshot: &SidecarSnapshot) -> Result<(), ExporterError> {
    let text = serde_json::to_string_pretty(snapshot)
        .map_err(|error| ExporterError::Export(format!("serializing stats: {error}")))?;
    let temp = dir.join(format!("{SNAPSHOT_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, snapshot_path(dir)))
        .map_err(|source| ExporterError::Io {
            context: format!("writing stats in {}", dir.display()),
            source,
        })
}

/// The table for `stats`.
pub fn render(dir: &Path) -> Result<String, ExporterError> {
    let path = snapshot_path(dir);
    let fresh = std::fs::metadata(&path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age < SNAPSHOT_FRESH);
    let mut out = String::new();
    if fresh && let Ok(text) = std::fs::read_to_string(&path) {
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
            ExporterError::Export(format!("reading {}: {error}", path.display()))
        })?;
        render_snapshot(&value, &mut out);
        return Ok(out);
    }
    let _ = writeln!(out, "ring directory: {}", dir.display());
    let _ = writeln!(
        out,
        "no running sidecar (no fresh {SNAPSHOT_FILE}); ring headers:"
    );
    let mut rings = Vec::new();
    for ring in list_rings(dir).unwrap_or_default() {
        match Consumer::attach(&ring, &AttachOptions::default()) {
            Ok(consumer) => rings.push(RingReport::new(
                ring,
                consumer.producer_pid(),
                consumer.producer_liveness(),
                &consumer.stats(),
            )),
            Err(error) => {
                let _ = writeln!(out, "  {}: {error}", ring.display());
            }
        }
    }
    ring_table(&rings, &mut out);
    Ok(out)
}

fn ring_table(rings: &[RingReport], out: &mut String) {
    let _ = writeln!(
        out,
        "{:<8} {:<7} {:>10} {:>10} {:>6} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11} {:>8}  file",
        "pid",
        "state",
        "capacity",
        "used",
        "fill",
        "pushed",
        "confirmed",
        "in_ring",
        "drop_full",
        "too_large",
        "abandoned",
        "exp_failed",
        "redelivered",
        "attaches"
    );
    for ring in rings {
        let _ = writeln!(
            out,
            "{:<8} {:<7} {:>10} {:>10} {:>5.1}% {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11} {:>8}  {}",
            ring.producer_pid,
            ring.liveness,
            ring.capacity_bytes,
            ring.used_bytes,
            ring.fill_ratio * 100.0,
            // pushed = confirmed + dropped by reason + in ring (all from the ring header)
            ring.records_written
                + ring.dropped_full
                + ring.dropped_too_large
                + ring.dropped_closed
                + ring.dropped_contention
                + ring.abandoned_records,
            ring.confirmed,
            ring.in_ring,
            ring.dropped_full,
            ring.dropped_too_large,
            ring.abandoned_records,
            ring.export_failed + ring.rejected + ring.checksum_failures,
            ring.redelivered,
            ring.consumer_attaches,
            ring.path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
    }
    if rings.is_empty() {
        let _ = writeln!(out, "(no rings)");
    }
}

fn render_snapshot(value: &serde_json::Value, out: &mut String) {
    let exporter = &value["exporter"];
    let number = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "sidecar pid {} · ring directory {} · up {:.1}s",
        number(&value["pid"]),
        value["ring_dir"].as_str().unwrap_or("?"),
        value["uptime_secs"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(out, "\nexporter");
    for key in [
        "pushed",
        "exported",
        "dropped_total",
        "in_flight",
        "batches",
        "bytes_sent",
        "export_failures",
        "export_timeouts",
        "retries",
        "redelivered",
        "undelivered_at_shutdown",
    ] {
        let _ = writeln!(out, "  {key:<22} {}", number(&exporter[key]));
    }
    let _ = writeln!(
        out,
        "  {:<22} {:.2}",
        "last_export_latency_ms",
        exporter["last_export_latency_ms"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        out,
        "  {:<22} {}",
        "circuit_state",
        exporter["circuit_state"].as_str().unwrap_or("?")
    );
    let _ = writeln!(out, "  dropped by reason");
    if let Some(reasons) = exporter["dropped"].as_object() {
        for (reason, count) in reasons {
            let _ = writeln!(out, "    {reason:<20} {}", number(count));
        }
    }
    let counters = &value["rings"]["counters"];
    let _ = writeln!(out, "\nrings");
    if let Some(fields) = counters.as_object() {
        for (key, count) in fields {
            let _ = writeln!(out, "  {key:<22} {}", number(count));
        }
    }
    let rings: Vec<RingReport> = value["rings"]["rings"]
        .as_array()
        .map(|rings| {
            rings
                .iter()
                .map(|ring| RingReport {
                    path: PathBuf::from(ring["path"].as_str().unwrap_or("")),
                    producer_pid: number(&ring["producer_pid"]) as u32,
                    liveness: match ring["liveness"].as_str() {
                        Some("alive") => "alive",
                        Some("dead") => "dead",
                        _ => "closed",
                    },
                    capacity_bytes: number(&ring["capacity_bytes"]),
                    used_bytes: number(&ring["used_bytes"]),
                    fill_ratio: ring["fill_ratio"].as_f64().unwrap_or(0.0),
                    records_written: number(&ring["records_written"]),
                    records_read: number(&ring["records_read"]),
                    dropped_full: number(&ring["dropped_full"]),
                    dropped_too_large: number(&ring["dropped_too_large"]),
                    dropped_closed: number(&ring["dropped_closed"]),
                    dropped_contention: number(&ring["dropped_contention"]),
                    abandoned_records: number(&ring["abandoned_records"]),
                    checksum_failures: number(&ring["checksum_failures"]),
                    quarantined: ring["quarantined"].as_bool().unwrap_or(false),
                    confirmed: number(&ring["confirmed"]),
                    export_failed: number(&ring["export_failed"]),
                    rejected: number(&ring["rejected"]),
                    redelivered: number(&ring["redelivered"]),
                    in_ring: number(&ring["in_ring"]),
                    consumer_attaches: number(&ring["consumer_attaches"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(out);
    ring_table(&rings, out);
}
