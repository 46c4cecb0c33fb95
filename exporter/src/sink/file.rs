//! File sink: one JSON object per span per line in `{dir}/{timestamp}_trace_{traceId}.jsonl`,
//! the layout the SDKs' filesystem exporters write and the Tusk CLI reads, with each SDK's own
//! timestamp (Node: `2026-11-21T23-10-05-123Z`, Python: `2026-11-21T23-10-05-123456+00-00`). A
//! trace keeps its file for as long as it is in the (bounded, LRU) trace → file map, as in the
//! SDKs.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{Batch, BatchBody, Sink, SinkError, StopControl};
use crate::health::Counters;
use crate::record::SdkFlavor;

/// Traces remembered (the SDKs use the same bound).
const MAX_CACHED_TRACES: usize = 1000;

pub struct FileSink {
    dir: PathBuf,
    files: HashMap<String, PathBuf>,
    order: VecDeque<String>,
    /// Torn tails (a crash or a full disk mid-write) are cut once, before the first write.
    repaired: bool,
}

impl FileSink {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSink {
            dir: dir.into(),
            files: HashMap::new(),
            order: VecDeque::new(),
            repaired: false,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&mut self, trace_id: &str, sdk: SdkFlavor) -> PathBuf {
        if let Some(path) = self.files.get(trace_id) {
            return path.clone();
        }
        // Trace ids come from untrusted records: keep only characters that are safe in a name.
        let safe: String = trace_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let now = SystemTime::now();
        let stamp = match sdk {
            SdkFlavor::Node => span_file_name_timestamp(now),
            SdkFlavor::Python => python_file_name_timestamp(now),
        };
        let path = self.dir.join(format!("{stamp}_trace_{safe}.jsonl"));
        self.files.insert(trace_id.to_string(), path.clone());
        self.order.push_back(trace_id.to_string());
        while self.order.len() > MAX_CACHED_TRACES {
            if let Some(evicted) = self.order.pop_front() {
                self.files.remove(&evicted);
            }
        }
        path
    }
}

impl Sink for FileSink {
    fn wants_lines(&self) -> bool {
        true
    }

    fn destination(&self) -> String {
        format!("trace files in {}", self.dir.display())
    }

    fn deliver(
        &mut self,
        batch: &Batch,
        _control: &StopControl,
        counters: &Counters,
    ) -> Result<(), SinkError> {
        let BatchBody::Lines(lines) = &batch.body else {
            return Err(SinkError::Io(
                "file sink received request bytes".to_string(),
            ));
        };
        let started = Instant::now();
        std::fs::create_dir_all(&self.dir)
            .map_err(|error| SinkError::Io(format!("creating {}: {error}", self.dir.display())))?;
        if !self.repaired {
            repair_torn_tails(&self.dir);
            self.repaired = true;
        }
        // Group by file so each file is opened once per batch, keeping span order per trace.
        let mut groups: Vec<(PathBuf, String)> = Vec::new();
        let mut index: HashMap<PathBuf, usize> = HashMap::new();
        for line in lines {
            let path = self.path_for(&line.trace_id, line.sdk);
            let slot = *index.entry(path.clone()).or_insert_with(|| {
                groups.push((path, String::new()));
                groups.len() - 1
            });
            let text = &mut groups[slot].1;
            text.push_str(&line.json);
            text.push('\n');
        }
        let mut written = 0u64;
        for (path, text) in &groups {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| SinkError::Io(format!("opening {}: {error}", path.display())))?;
            // One append of whole lines per file and batch. If it fails part way (a full disk),
            // cut the file back so no torn line stays; the batch is retried from the ring.
            let before = file.metadata().map(|meta| meta.len()).ok();
            if let Err(error) = file.write_all(text.as_bytes()) {
                if let Some(len) = before {
                    let _ = file.set_len(len);
                }
                return Err(SinkError::Io(format!(
                    "writing {}: {error}",
                    path.display()
                )));
            }
            written += text.len() as u64;
        }
        counters.record_export_latency(started.elapsed());
        Counters::add(&counters.bytes_sent, written);
        Ok(())
    }
}

/// Cuts every `.jsonl` file of `dir` back to its last complete line (a tail without a newline is
/// what a crash or a full disk mid-write leaves). Returns the number of files cut.
pub fn repair_torn_tails(dir: &Path) -> usize {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut repaired = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|ext| ext.to_str()) != Some("jsonl") {
            continue;
        }
        let Ok(mut file) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        let Ok(len) = file.metadata().map(|meta| meta.len()) else {
            continue;
        };
        let mut end = len;
        let mut cut = None;
        let mut chunk = vec![0u8; 64 << 10];
        while end > 0 {
            let start = end.saturating_sub(chunk.len() as u64);
            let piece = &mut chunk[..(end - start) as usize];
            if file.seek(SeekFrom::Start(start)).is_err() || file.read_exact(piece).is_err() {
                break;
            }
            if end == len && piece.last() == Some(&b'\n') {
                break; // whole lines
            }
            if let Some(at) = piece.iter().rposition(|&b| b == b'\n') {
                cut = Some(start + at as u64 + 1);
                break;
            }
            end = start;
            if end == 0 {
                cut = Some(0);
            }
        }
        if let Some(keep) = cut
            && keep < len
            && file.set_len(keep).is_ok()
        {
            repaired += 1;
        }
    }
    repaired
}

/// `2026-11-21T23-10-05-123Z`: the Node SDK's `new Date().toISOString()` with `:` and `.`
/// replaced by `-` (safe in file names on every OS).
pub fn span_file_name_timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs() as i64;
    let millis = since_epoch.subsec_millis();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}-{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `2026-11-21T23-10-05-123456+00-00`: the Python SDK's
/// `datetime.now(timezone.utc).isoformat()` with `:` and `.` replaced by `-` (`isoformat` leaves
/// the microseconds out when they are 0).
pub fn python_file_name_timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs() as i64;
    let micros = since_epoch.subsec_micros();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!("-{micros:06}")
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}{fraction}+00-00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn file_name_timestamp_matches_node_iso_format() {
        let time = UNIX_EPOCH + Duration::from_millis(1_763_766_605_123);
        assert_eq!(span_file_name_timestamp(time), "2025-11-21T23-10-05-123Z");
        assert_eq!(
            span_file_name_timestamp(UNIX_EPOCH),
            "1970-01-01T00-00-00-000Z"
        );
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(span_file_name_timestamp(leap), "2000-02-29T00-00-00-000Z");
    }

    #[test]
    fn file_name_timestamp_matches_python_isoformat() {
        let time = UNIX_EPOCH + Duration::from_micros(1_763_766_605_123_456);
        assert_eq!(
            python_file_name_timestamp(time),
            "2025-11-21T23-10-05-123456+00-00"
        );
        // isoformat() has no fraction when the microseconds are 0.
        assert_eq!(
            python_file_name_timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00-00-00+00-00"
        );
    }
}
