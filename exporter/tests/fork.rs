//! Fork safety: a child process that inherited an exporter gets its own ring and threads on its
//! first push; the parent's exporter keeps working, untouched by the child.

#![warn(clippy::undocumented_unsafe_blocks)]

mod common;

use std::time::Duration;

use common::{OwnedSpan, fixtures_of, temp_dir, test_config};
use drift_exporter::{Exporter, FileSinkConfig, SdkFlavor, SinkConfig};

fn spans_of_trace(trace: u32, n: usize) -> Vec<OwnedSpan> {
    let payloads = fixtures_of(&["200b"]);
    (0..n)
        .map(|i| {
            let mut span = OwnedSpan::from_payload(
                trace as usize * 100 + i,
                &payloads[i % payloads.len()],
                SdkFlavor::Python,
            );
            span.trace_id = format!("{trace:032x}");
            span
        })
        .collect()
}

fn lines_of_trace(dir: &std::path::Path, trace: u32) -> usize {
    let suffix = format!("_trace_{trace:032x}.jsonl");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(&suffix))
        .map(|entry| {
            std::fs::read_to_string(entry.path())
                .unwrap()
                .lines()
                .count()
        })
        .sum()
}

#[test]
fn a_forked_child_exports_through_its_own_ring() {
    let ring_dir = temp_dir("fork-ring");
    let traces = temp_dir("fork-traces");
    let exporter = Exporter::start(test_config(
        ring_dir.clone(),
        SinkConfig::Files(FileSinkConfig {
            dir: traces.clone(),
        }),
    ))
    .unwrap();
    for span in spans_of_trace(0xa, 10) {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.force_flush(Duration::from_secs(60)));
    let child_spans = spans_of_trace(0xb, 5);

    // SAFETY: fork(2); the child only runs Rust code of this test, never returns into the test
    // harness, and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for span in &child_spans {
                exporter.push_span(&span.record()).expect("child push");
            }
            assert!(exporter.force_flush(Duration::from_secs(10)), "child flush");
            let health = exporter.health();
            assert_eq!(health.in_flight, 0, "{health:?}");
            assert!(exporter.shutdown(Duration::from_secs(60)));
        }));
        // SAFETY: ends the child without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(if outcome.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status}"
    );
    assert_eq!(
        lines_of_trace(&traces, 0xb),
        5,
        "the child's spans were exported by the child"
    );

    // The parent goes on with its own ring and threads.
    for span in spans_of_trace(0xc, 5) {
        exporter.push_span(&span.record()).unwrap();
    }
    assert!(exporter.force_flush(Duration::from_secs(60)));
    assert_eq!(lines_of_trace(&traces, 0xa), 10);
    assert_eq!(lines_of_trace(&traces, 0xc), 5);
    let health = exporter.health();
    assert_eq!(
        (health.pushed, health.exported, health.dropped_total),
        (15, 15, 0)
    );
    assert!(exporter.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
    std::fs::remove_dir_all(traces).ok();
}
