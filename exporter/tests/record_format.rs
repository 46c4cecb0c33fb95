//! The raw span record: round trip, and untrusted bytes (truncated, lengths past the end, bad
//! UTF-8 in ids) rejected with a clear error, never a panic; in the pipeline they are counted
//! drops.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{OwnedSpan, fixtures_of, temp_dir, test_config};
use drift_exporter::record::RECORD_HEADER_LEN;
use drift_exporter::sidecar::Sidecar;
use drift_exporter::{RecordError, SPAN_RECORD_TYPE, SdkFlavor, SinkConfig, decode_record};
use drift_ring::{Producer, RingConfig};

fn sample() -> (OwnedSpan, Vec<u8>) {
    let payload = fixtures_of(&["2k"]).remove(0);
    let span = OwnedSpan::from_payload(7, &payload, SdkFlavor::Python);
    let bytes = span.record().to_bytes().unwrap();
    (span, bytes)
}

#[test]
fn round_trip_keeps_every_field() {
    let (span, bytes) = sample();
    let mut record = span.record();
    record.stack_trace = Some("trace");
    record.transform_metadata_json = Some(b"{}");
    record.environment = None;
    record.is_pre_app_start = true;
    let bytes_full = record.to_bytes().unwrap();
    assert_eq!(bytes_full.len(), record.encoded_len());
    let decoded = decode_record(&bytes_full).unwrap();
    assert_eq!(decoded.sdk, SdkFlavor::Python);
    assert_eq!(decoded.trace_id, span.trace_id);
    assert_eq!(decoded.span_id, span.span_id);
    assert_eq!(decoded.name, span.name);
    assert_eq!(decoded.environment, None);
    assert_eq!(decoded.stack_trace, Some("trace"));
    assert_eq!(decoded.transform_metadata_json, Some("{}"));
    assert_eq!(decoded.input_value_json, span.input_json);
    assert_eq!(
        decoded.input_schema_merges_json,
        span.input_merges.as_deref()
    );
    assert_eq!(decoded.output_schema_merges_json, None);
    assert_eq!(
        (decoded.kind, decoded.package_type, decoded.status_code),
        (span.kind, span.package_type, 1)
    );
    assert!(decoded.is_pre_app_start);
    assert_eq!(decoded.is_root_span, span.kind == 2);
    assert_eq!(decoded.timestamp, span.timestamp);
    // Trailing ring padding is ignored.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 7]);
    assert_eq!(
        decode_record(&padded).unwrap(),
        decode_record(&bytes).unwrap()
    );
}

/// The byte layout of `docs/record-format.md`, written out by hand here (independently of the
/// span schema the encoder is expanded from): a schema change that moves a byte fails this.
#[test]
fn encoding_is_the_documented_version_1_layout() {
    use drift_exporter::{SpanRecord, Timestamp};
    let record = SpanRecord {
        sdk: SdkFlavor::Node,
        sdk_version: "0.1.27",
        trace_id: "t",
        span_id: "s",
        parent_span_id: "",
        name: "n",
        package_name: "p",
        instrumentation_name: "i",
        submodule_name: "sub",
        package_type: 3,
        kind: 2,
        environment: None,
        status_code: 1,
        status_message: "ok",
        is_pre_app_start: true,
        is_root_span: true,
        timestamp: Timestamp {
            seconds: 0x0102_0304_0506_0708,
            nanos: 9,
        },
        duration: Timestamp {
            seconds: 10,
            nanos: 11,
        },
        input_value_json: b"{}",
        output_value_json: Some(b"[1]"),
        input_schema_merges_json: None,
        output_schema_merges_json: Some(b""),
        metadata_json: None,
        transform_metadata_json: Some(b"{\"a\":1}"),
        stack_trace: Some("at x"),
    };
    let fields: [Option<&[u8]>; 17] = [
        Some(b"0.1.27"),
        Some(b"t"),
        Some(b"s"),
        Some(b""),
        Some(b"n"),
        Some(b"p"),
        Some(b"i"),
        Some(b"sub"),
        None,
        Some(b"ok"),
        Some(b"{}"),
        Some(b"[1]"),
        None,
        Some(b""),
        None,
        Some(b"{\"a\":1}"),
        Some(b"at x"),
    ];
    let mut expected = Vec::new();
    expected.extend_from_slice(b"DSPN");
    expected.extend_from_slice(&1u16.to_le_bytes()); // version
    expected.extend_from_slice(&56u16.to_le_bytes()); // header_len
    expected.extend_from_slice(&0u32.to_le_bytes()); // total_len, patched below
    expected.extend_from_slice(&17u16.to_le_bytes()); // field_count
    expected.push(2); // sdk: node
    expected.push(0b11); // flags: pre-app-start, root span
    expected.extend_from_slice(&2i32.to_le_bytes()); // kind
    expected.extend_from_slice(&1i32.to_le_bytes()); // status_code
    expected.extend_from_slice(&3i32.to_le_bytes()); // package_type
    expected.extend_from_slice(&0u32.to_le_bytes()); // reserved
    expected.extend_from_slice(&0x0102_0304_0506_0708i64.to_le_bytes());
    expected.extend_from_slice(&9i32.to_le_bytes());
    expected.extend_from_slice(&11i32.to_le_bytes()); // duration.nanos
    expected.extend_from_slice(&10i64.to_le_bytes()); // duration.seconds
    assert_eq!(expected.len(), RECORD_HEADER_LEN);
    for field in fields {
        match field {
            None => expected.extend_from_slice(&u32::MAX.to_le_bytes()),
            Some(bytes) => {
                expected.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                expected.extend_from_slice(bytes);
            }
        }
    }
    let total = expected.len() as u32;
    expected[8..12].copy_from_slice(&total.to_le_bytes());
    assert_eq!(record.to_bytes().unwrap(), expected);
    let decoded = decode_record(&expected).unwrap();
    assert_eq!(decoded.transform_metadata_json, Some("{\"a\":1}"));
    assert_eq!(decoded.output_schema_merges_json, Some(""));
    assert_eq!(decoded.environment, None);
    assert_eq!(decoded.timestamp, record.timestamp);
    assert_eq!(decoded.duration, record.duration);
    assert!(decoded.is_pre_app_start && decoded.is_root_span);
}

#[test]
fn encode_into_a_short_buffer_is_an_error() {
    let (span, bytes) = sample();
    let mut short = vec![0u8; bytes.len() - 1];
    assert!(matches!(
        span.record().encode_into(&mut short),
        Err(RecordError::BufferTooSmall { .. })
    ));
}

#[test]
fn every_truncation_is_rejected_without_panicking() {
    let (_, bytes) = sample();
    for len in 0..bytes.len() {
        assert!(decode_record(&bytes[..len]).is_err(), "truncated to {len}");
    }
    // Truncated but with total_len patched to match: a field then runs past the end.
    for len in (RECORD_HEADER_LEN..bytes.len()).step_by(97) {
        let mut cut = bytes[..len].to_vec();
        cut[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        let error = decode_record(&cut).unwrap_err();
        assert!(
            matches!(error, RecordError::FieldPastEnd { .. }),
            "{len}: {error}"
        );
    }
}

#[test]
fn lengths_past_the_end_and_bad_headers_are_named() {
    let (_, bytes) = sample();
    // The first field's length (sdk_version) claims more than the record holds.
    let mut long = bytes.clone();
    long[RECORD_HEADER_LEN..RECORD_HEADER_LEN + 4]
        .copy_from_slice(&u32::MAX.wrapping_sub(1).to_le_bytes());
    let error = decode_record(&long).unwrap_err();
    assert!(
        matches!(
            error,
            RecordError::FieldPastEnd {
                field: "sdk_version",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("sdk_version"));

    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert!(matches!(
        decode_record(&magic),
        Err(RecordError::BadMagic { .. })
    ));
    let mut version = bytes.clone();
    version[4] = 9;
    assert!(matches!(
        decode_record(&version),
        Err(RecordError::UnsupportedVersion { version: 9 })
    ));
    let mut sdk = bytes.clone();
    sdk[14] = 0;
    assert!(matches!(
        decode_record(&sdk),
        Err(RecordError::UnknownSdk { value: 0 })
    ));
    let mut total = bytes.clone();
    total[8..12].copy_from_slice(&(bytes.len() as u32 + 1).to_le_bytes());
    assert!(matches!(
        decode_record(&total),
        Err(RecordError::BadTotalLen { .. })
    ));
    let mut fields = bytes.clone();
    fields[12] = 3;
    assert!(matches!(
        decode_record(&fields),
        Err(RecordError::TooFewFields { .. })
    ));
}

/// Offset of the trace id's bytes in a record (after the sdk_version field).
fn trace_id_offset(bytes: &[u8]) -> usize {
    let version_len = u32::from_le_bytes(
        bytes[RECORD_HEADER_LEN..RECORD_HEADER_LEN + 4]
            .try_into()
            .unwrap(),
    ) as usize;
    RECORD_HEADER_LEN + 4 + version_len + 4
}

#[test]
fn bad_utf8_in_ids_is_rejected() {
    let (_, bytes) = sample();
    let mut bad = bytes.clone();
    let at = trace_id_offset(&bad);
    bad[at] = 0xff;
    assert_eq!(
        decode_record(&bad).unwrap_err(),
        RecordError::InvalidUtf8 {
            field: "trace_id",
            valid_up_to: 0
        }
    );
}

#[test]
fn random_mutations_never_panic() {
    let (_, bytes) = sample();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut mutated = bytes.clone();
        for k in 0..(state % 4 + 1) {
            let at = ((state >> (k * 16)) as usize) % mutated.len();
            mutated[at] = (state >> 40) as u8;
        }
        let _ = decode_record(&mutated);
        let _ = drift_exporter::span_bytes_from_record(&mutated);
    }
}

#[test]
fn malformed_records_in_a_ring_are_counted_drops_and_do_not_poison_their_batch() {
    let ring_dir = temp_dir("malformed");
    let producer = Producer::create(&RingConfig {
        dir: Some(ring_dir.clone()),
        ..RingConfig::with_capacity(1 << 20)
    })
    .unwrap();
    let (_, good) = sample();
    let mut bad_utf8 = good.clone();
    let at = trace_id_offset(&bad_utf8);
    bad_utf8[at] = 0xc3;
    let mut past_end = good.clone();
    past_end[RECORD_HEADER_LEN..RECORD_HEADER_LEN + 4].copy_from_slice(&1_000_000u32.to_le_bytes());
    let mut bad_json = OwnedSpan::from_payload(9, &fixtures_of(&["200b"])[0], SdkFlavor::Node);
    bad_json.input_json = "{\"unterminated\": ".into();
    let bad_json = bad_json.record().to_bytes().unwrap();
    let malformed: [&[u8]; 5] = [
        &good[..40],
        &good[..good.len() / 2],
        &bad_utf8,
        &past_end,
        &bad_json,
    ];
    for (n, bad) in malformed.iter().enumerate() {
        producer.try_push(SPAN_RECORD_TYPE, &good).unwrap();
        producer
            .try_push(SPAN_RECORD_TYPE, bad)
            .unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    let delivered = Arc::new(Mutex::new(0usize));
    let seen = delivered.clone();
    let callback = Arc::new(move |bytes: Vec<u8>| {
        use prost::Message;
        let request =
            drift_core_rs::tusk_drift_schemas::tusk::drift::backend::v1::ExportSpansRequest::decode(bytes.as_slice())
                .unwrap();
        *seen.lock().unwrap() += request.spans.len();
    });
    let mut config = test_config(ring_dir.clone(), SinkConfig::Callback(callback));
    config.batch.max_export_batch_size = 1000;
    let sidecar = Sidecar::start(&config).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sidecar.health().pushed < 10 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sidecar.force_flush(Duration::from_secs(60)));
    let health = sidecar.health();
    assert_eq!(health.pushed, 10, "{health:?}");
    assert_eq!(health.dropped.serialization_error, 5);
    assert_eq!(health.exported, 5);
    assert_eq!(*delivered.lock().unwrap(), 5);
    assert_eq!(health.batches, 1, "the good spans travelled together");
    drop(producer);
    assert!(sidecar.shutdown(Duration::from_secs(60)));
    std::fs::remove_dir_all(ring_dir).ok();
}
