"""The differential fuzzer's short fixed-seed pass (CI): our `drift_core` against the published
0.1.9 on generated inputs, every published function. Long random passes:
`scripts/fuzz-differential.sh`."""

from __future__ import annotations

import sys

from fuzz_differential import run

# Fixed seeds and a fixed number of comparisons: the same inputs on every run.
SEEDS = [13, 20261202]
COMPARISONS = 4000


def test_fixed_seed_pass_finds_no_disagreement(published) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for seed in SEEDS:
        result = run(published, seed, COMPARISONS)
        assert result["comparisons"] >= COMPARISONS
        # Every published function was called.
        assert len(result["per_function"]) == 9, result["per_function"]
        assert result["disagreements"] == [], result["disagreements"][:5]


def _span_args(**change):
    from conftest import SPAN_ARGS

    base = dict(
        trace_id="t", span_id="s", parent_span_id="", name="n", package_name="p",
        instrumentation_name="i", submodule_name="", package_type=1, environment=None, kind=1,
        input_schema={"type": 6}, output_schema={"type": 6}, input_schema_hash="", output_schema_hash="",
        input_value_hash="", output_value_hash="", status_code=0, status_message="",
        is_pre_app_start=False, is_root_span=True, timestamp_seconds=0, timestamp_nanos=0,
        duration_seconds=0, duration_nanos=0, metadata=None, input_value=None, output_value=None,
        input_value_proto_struct_bytes=None, output_value_proto_struct_bytes=None,
    )
    base.update(change)
    return tuple(base[name] for name in SPAN_ARGS)


def _deep(levels):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


# Disagreements the fuzzer found, pinned against the published package (the text-form ones are
# also goldens: FUZZ_FOUND in tests/golden/regenerate.py).
REGRESSIONS = [
    ("process_export_payload", ("{}", '{"a":[]}')),
    ("process_export_payload", ('{"body":"WzEsMV0="}', '{"body":[1,1]}')),
    ("process_export_payload", ('{"body":"94e25"}', '{"body":{"decoded_type":1}}')),
    ("process_export_payload", ('{"body":"-98682831394406063e-5"}', '{"body":{"decoded_type":1}}')),
    ("process_export_payload_pyobject", ({"body": "[1156346444425357626159, 94e25]"}, {"body": [None, 1]})),
    ("process_export_payload_pyobject", ({"a": "eyJ4IjoxfQ=="}, {"a": []})),
    # Error order: payload conversion, merges conversion, payload nesting, merges reading.
    ("process_export_payload_pyobject", ({"a": b"x"}, {"a": None})),
    ("process_export_payload_pyobject", ({"a": b"x"}, {"a": b"y"})),
    ("process_export_payload_pyobject", (_deep(130), {"a": None})),
    ("process_export_payload_pyobject", (_deep(130), {"a": b"y"})),
    # The span builder encodes Python floats as they are (no text round trip).
    ("build_span_proto_bytes_pyobject", _span_args(
        input_value={"f": 5.394009208741125e-155, "g": [1.0645941782484805e30, 2**70 + 1]},
        output_value={"h": 8.533577751401497e257}, metadata={"m": 9.387676861726073e-129},
        input_schema={"type": 6, "match_importance": 5.394009208741125e-155})),
    ("build_export_spans_request_bytes_pyobject", ("svc", "env", "1", "i", [b"", b"\n\x02\xff\xfe"])),
]


def test_regressions_found_by_the_fuzzer(published) -> None:
    from fuzz_differential import ours_outcome, same

    for fn, args in REGRESSIONS:
        theirs = published._call("__batch__", ([(fn, args)],), {})[0]
        mine = ours_outcome(fn, args)
        assert same(fn, mine, theirs), (fn, mine, theirs)
