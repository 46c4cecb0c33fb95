#!/usr/bin/env python3
"""Regenerates tests/fixtures/golden/*.jsonl from the published drift-core-python 0.1.9.

Run it through regenerate.sh (which installs the published package in a throw-away venv).
Every line is one call: {"fn": ..., "args": {...}, "expect": {"ok": ...} | {"error": {...}}}.
See tests/fixtures/golden/README.md for the format.
"""

import base64
import hashlib
import json
import math
import os
import random
import struct
import sys

import drift_core

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "fixtures", "golden")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "span_payloads.jsonl")
# Outputs longer than this are stored as {"sha256": ..., "len": ...} to keep the goldens small.
INLINE_LIMIT = 4096


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def text_out(s):
    if len(s) > INLINE_LIMIT:
        raw = s.encode("utf-8")
        return {"sha256": hashlib.sha256(raw).hexdigest(), "len": len(raw)}
    return s


def bytes_out(data):
    data = bytes(data)
    if len(data) > INLINE_LIMIT:
        return {"sha256": hashlib.sha256(data).hexdigest(), "len": len(data)}
    return b64(data)


def call(fn, *args):
    try:
        return {"ok": fn(*args)}
    except Exception as e:  # the published binding raises ValueError/TypeError/OverflowError
        return {"error": {"type": type(e).__name__, "message": str(e)}}


class Writer:
    def __init__(self, name):
        self.path = os.path.join(OUT, name)
        self.f = open(self.path, "w", encoding="utf-8")
        self.n = 0

    def line(self, fn, args, expect, **extra):
        rec = {"fn": fn, "args": args, "expect": expect}
        rec.update(extra)
        self.f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        self.n += 1

    def close(self):
        self.f.close()
        print(f"{self.path}: {self.n} cases")


def fixture_lines():
    with open(FIXTURES, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            rec = json.loads(raw)
            # The payload text is the raw `value` of the line, byte for byte (the Rust tests cut it
            # out the same way and check its sha256).
            start = raw.index('"value": ') + len('"value": ')
            end = raw.rindex(', "schema_merges": ')
            text = raw[start:end]
            assert json.loads(text) == rec["value"]
            yield rec, text


# ---------------------------------------------------------------------------------------------
# Text functions
# ---------------------------------------------------------------------------------------------

EDGE_TEXTS = [
    # numbers
    "0", "-0", "-0.0", "0.0", "1", "-1", "1.0", "0.1", "1.5", "100.0", "1e2", "1E2", "1e+2", "1e-2",
    "1e15", "1e16", "1e17", "1e21", "1e22", "1e23", "1e-4", "1e-5", "1e-6", "1e-7", "0.00001234",
    "0.000001234", "123456789012345680000", "100000000000000000000000", "12345678901234567",
    "1.2345678901234567e16", "999999999999999.9", "9999999999999999.0", "9007199254740993.0",
    "9007199254740993", "18446744073709551615", "18446744073709551616", "-9223372036854775808",
    "-9223372036854775809", "9223372036854775807", "9223372036854775808", "5e-324", "2.5e-324",
    "1e-400", "-1e-400", "1E400", "-1E400", "1.7976931348623157e308", "1.7976931348623159e308",
    "2.2250738585072014e-308", "123e-20", "1.5e300", "0e999999999999", "1e-99999999999",
    "1e99999999999", "0.1e1", "123456789.123", "3.141592653589793", "2.718281828459045",
    "1234567890123456789012345678901234567890", "0.000000000000000000000000000001",
    "1.00000000000000000000000001", "17976931348623157" + "0" * 292, "4.9406564584124654e-324",
    # the published core reads a double twice (text round trip): these drift by an ulp per call
    "-6.604630556388117e-41", "-6.604630556388115e-41", "4.464787050584254e+65", "9007199254740993.0",
    # invalid numbers
    "01", "1.", ".5", "-", "+1", "1e", "1e+", "--1", "0x10", "1.e5", "-01", "NaN", "Infinity",
    "-Infinity", "nan", "1_000",
    # strings and escapes
    '""', '"abc"', '"\\u0001\\u007f/\\u00e9\\ud83d\\ude00"', '"\\b\\f\\n\\r\\t\\u001f\\u0000"',
    '"\\/"', '"\\"\\\\"', '"\\u00C9\\u00e9"', '"é😀\u2028\u2029"', '"\x7f"', '"\\ud800"',
    '"\\udc00"', '"\\ud800\\u0041"', '"\\ud800x"', '"\\ud83d\\ude00\\ud83d"', '"\\x"', '"\\u12"',
    '"\\u12G4"', '"abc', '"a\nb"', '"a\tb"', '"\\uFFFF"', '"\\uffff"',
    # keys: sorting by UTF-8 bytes, astral plane, duplicates
    '{"b":2,"a":1}', '{"a":1,"a":2}', '{"a":{"x":1},"a":[1]}', '{"\\u00e9":1,"z":2,"\\ud83d\\ude00":3,"\\uffff":4,"\\ue000":5}',
    '{"":1," ":2,"A":3,"a":4,"aa":5,"a\\u0000":6}', '{"B":1,"a":2,"_":3,"1":4,"~":5}',
    '{"k":1,"k":2,"j":0,"k":3}',
    # structure
    "[]", "{}", "[[]]", "[{}]", '{"a":[]}', "null", "true", "false", '" x "', " [1, 2 , 3 ] ",
    "\t\n\r {\"a\" : 1 }\n", "[1,]", '{"a":1,}', "[1 2]", '{"a" 1}', '{"a":}', "{,}", "[,1]",
    '{1:2}', "", "  ", "tru", "nul", "falsey", "[1]]", "{}{}", "[1] x", "[", "{", '{"a"', '{"a":',
    '{"a":1', "[1,", "/*c*/1", "'a'", '{"a":1}\x00', "\ufeff{}",
    # nesting 127/128
    "[" * 127 + "]" * 127, "[" * 128 + "]" * 128, "[" * 127 + "1" + "]" * 127,
    '{"a":' * 127 + "1" + "}" * 127, '{"a":' * 128 + "1" + "}" * 128,
    "[" * 200 + "]" * 200, '[{"a":' * 63 + "[]" + "}]" * 63, '[{"a":' * 64 + "1" + "}]" * 64,
    # mixed
    '{"s":"x","n":1.5,"i":-3,"b":true,"z":null,"l":[1,"a",null,{"q":[]}],"o":{"y":2,"x":1}}',
    '{"list":[{"b":1,"a":2},{"d":[3,{"f":4,"e":5}]}]}',
]


def gen_text_functions():
    w = Writer("text_functions.jsonl")
    texts = list(EDGE_TEXTS)
    for rec, text in fixture_lines():
        texts.append(("fixture", rec["id"], text))
    for item in texts:
        if isinstance(item, tuple):
            _, fid, text = item
            args = {"fixture": fid, "text_sha256": hashlib.sha256(text.encode()).hexdigest()}
        else:
            text = item
            args = {"json": text}
        for name, fn, conv in [
            ("normalize_json", drift_core.normalize_json, text_out),
            ("deterministic_hash", drift_core.deterministic_hash, lambda x: x),
            ("normalize_and_hash", drift_core.normalize_and_hash, lambda x: [text_out(x[0]), x[1]]),
            ("object_to_protobuf_struct_bytes", drift_core.object_to_protobuf_struct_bytes, bytes_out),
            ("object_to_protobuf_struct_field_count", drift_core.object_to_protobuf_struct_field_count, lambda x: x),
        ]:
            r = call(fn, text)
            if "ok" in r:
                r = {"ok": conv(r["ok"])}
            w.line(name, args, r)
    w.close()


# ---------------------------------------------------------------------------------------------
# Floats: random doubles and random decimal literals, in batches
# ---------------------------------------------------------------------------------------------


def random_double(rng):
    while True:
        bits = rng.getrandbits(64)
        (f,) = struct.unpack("<d", struct.pack("<Q", bits))
        if math.isfinite(f):
            return f


def random_literal(rng):
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25))).lstrip("0") or "0"
    frac = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 20)))
    lit = ("-" if rng.random() < 0.3 else "") + digits
    if frac:
        lit += "." + frac
    if rng.random() < 0.5:
        lit += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 330))
    return lit


def gen_floats():
    rng = random.Random(20261121)
    w = Writer("floats.jsonl")
    for batch in range(40):
        nums = []
        for _ in range(100):
            kind = rng.random()
            if kind < 0.4:
                nums.append(repr(random_double(rng)).replace("inf", "1e999"))
            elif kind < 0.55:
                # small-exponent doubles around the fixed/exponent thresholds
                nums.append(repr(rng.uniform(-1, 1) * 10 ** rng.randint(-9, 19)))
            elif kind < 0.65:
                nums.append(str(rng.randint(-(2**70), 2**70)))
            else:
                nums.append(random_literal(rng))
        # Split into literals that the published core accepts, so a batch is not one error.
        ok = []
        for n in nums:
            try:
                drift_core.normalize_json(n)
                ok.append(n)
            except ValueError:
                w.line("normalize_json", {"json": n}, call(drift_core.normalize_json, n))
        text = "[" + ",".join(ok) + "]"
        w.line("normalize_json", {"json": text}, call(drift_core.normalize_json, text))
    w.close()


# ---------------------------------------------------------------------------------------------
# process_export_payload
# ---------------------------------------------------------------------------------------------


def export_out(r):
    if "ok" not in r:
        return r
    n, d, dh, s, sh, pb = r["ok"]
    return {
        "ok": {
            "normalized_json": text_out(n),
            "decoded_json": text_out(d),
            "decoded_value_hash": dh,
            "decoded_schema_json": text_out(s),
            "decoded_schema_hash": sh,
            "protobuf_struct_bytes": bytes_out(pb),
        }
    }


def b64s(s):
    return base64.b64encode(s.encode("utf-8") if isinstance(s, str) else s).decode()


MERGE_CASES = [
    # (payload, merges)
    ('{"body":"%s"}' % b64s('{"z":1,"y":[2.5]}'), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s('{"z":1,"y":[2.5]}'), '{"body":{"encoding":1}}'),
    ('{"body":"%s"}' % b64s("not json"), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s(b"\xff\xfe bad utf8 \xc3"), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s(b"\xff\xfe bad utf8 \xc3"), '{"body":{"encoding":1}}'),
    ('{"body":"aGVsbG8"}', '{"body":{"encoding":1,"decoded_type":1}}'),  # missing padding
    ('{"body":"aGVsbG8=="}', '{"body":{"encoding":1}}'),
    ('{"body":"aGVs bG8="}', '{"body":{"encoding":1}}'),
    ('{"body":"aGVsbG9="}', '{"body":{"encoding":1}}'),  # non-zero trailing bits
    ('{"body":"!!!!"}', '{"body":{"encoding":1}}'),
    ('{"body":""}', '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s("[1,2,{\"b\":1,\"a\":2}]"), '{"body":{"encoding":1,"decoded_type":1,"match_importance":0.5}}'),
    ('{"body":"%s"}' % b64s('"just a string"'), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s("123"), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s("1E400"), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s("[" * 127 + "]" * 127), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"%s"}' % b64s("[" * 128 + "]" * 128), '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":"{\\"b\\":1,\\"a\\":[true]}"}', '{"body":{"decoded_type":1}}'),
    ('{"body":"{\\"b\\":1"}', '{"body":{"decoded_type":1}}'),
    ('{"body":{"x":"eyJ4IjoxfQ=="}}', '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":12}', '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":null}', '{"body":{"encoding":1,"decoded_type":1}}'),
    ('{"body":["eyJ4IjoxfQ=="]}', '{"body":{"encoding":1}}'),
    ('{"a":"eyJ4IjoxfQ==","b":"eyJ4IjoxfQ==","c":1}', '{"a":{"encoding":1,"decoded_type":1},"c":{"match_importance":1}}'),
    ('{"a":1,"b":"eyJ4IjoxfQ==","c":{"d":1}}', '{"b":{"encoding":1,"decoded_type":1}}'),
    ('{"a":1}', '{"a":{"match_importance":null}}'),
    ('{"a":1}', '{"a":{}}'),
    ('{"a":1}', '{"a":{"match_importance":-1}}'),
    ('{"a":1}', '{"a":{"match_importance":5}}'),
    ('{"a":1}', '{"a":{"match_importance":0.30000000000000004}}'),
    ('{"a":"x"}', '{"a":{"encoding":2}}'),
    ('{"a":"x"}', '{"a":{"encoding":-1,"decoded_type":99}}'),
    ('{"a":"x"}', '{"a":{"encoding":null}}'),
    ('{"a":"x"}', '{"a":{"foo":1}}'),
    ('{"a":"x"}', '{"zz":{"encoding":1}}'),
    ('{"a":"x"}', '{}'),
    ('{"a":"eyJ4IjoxfQ=="}', '{"a":{"encoding":1},"a":{"decoded_type":1}}'),
    ('{"a":"x"}', '{"a":{"encoding":1,"encoding":1}}'),
    ('[1,{"b":1}]', '{"a":{"encoding":1}}'),
    ('"eyJ4IjoxfQ=="', '{"a":{"encoding":1}}'),
    ('{"a":"x"}', '{"a":{"match_importance":"x"}}'),
    ('{"a":"x"}', '{"a":{"encoding":1.0}}'),
    ('{"a":"x"}', '{"a":{"encoding":4294967297}}'),
    ('{"a":"x"}', '[1]'),
    ('{"a":"x"}', '{"a":null}'),
    ('{"a":"x"}', 'null'),
    ('{"a":"x"}', '{"a":{"encoding":1}'),
    ('{"a":"x"}', ''),
    ('{"a":', '{"a":{"encoding":1}}'),
    ('{"a":"x"}', None),
]

# Merge rules in every shape serde's derive reads (issue 13): the published `MergeRule` has three
# `#[serde(default)]` fields, so a rule may be an array of 0..=3 elements (positional: encoding,
# decoded_type, match_importance), with nulls; a longer one is `trailing characters`.
MERGE_SHAPE_RULES = [
    "[]", "[1]", "[1,1]", "[1,1,0.5]", "[1,1,0.5,9]", "[1,1,0.5,]", "[1,]", "[null]", "[null,null]",
    "[null,null,null]", "[null,1]", "[1,null,2]", "[0,1]", "[2,1]", "[1,0]", "[1,1,null]", "[1,1,-1]",
    "[1,1,1e400]", "[1,1,1e308]", "[\"x\"]", "[1.5]", "[1,1.0]", "[1,1,\"x\"]", "[1,1,true]", "[[]]",
    "[{}]", "[4294967297]", "[-2147483648,2147483647]", "[1,1,0.30000000000000004]", " [ 1 , 1 ] ",
    "[1,1", "[1,1,0.5,9", "[", "[1 1]", "{}", '{"encoding":1}', '{"decoded_type":1}',
    '{"match_importance":0.25}', '{"encoding":null,"decoded_type":null,"match_importance":null}',
    '{"encoding":1,"bogus":[1,2]}', '{"encoding":1,"encoding":null}', '{"decoded_type":1,"x":{"y":[]}}',
    '{"encoding":1', "null", "true", "1", '"x"', "-0",
]
MERGE_SHAPE_CASES = [('{}', '{"a":[]}'), ('{"body":"WzEsMV0="}', '{"body":[1,1]}')]
for rule in MERGE_SHAPE_RULES:
    MERGE_SHAPE_CASES.append(('{"a":"eyJ4IjoxfQ==","b":"[1]"}', '{"a":%s}' % rule))
    MERGE_SHAPE_CASES.append(('{"a":"[2.5,{\\"k\\":null}]","b":1}', '{"a":%s,"b":[null,null,0.75]}' % rule))
MERGE_SHAPE_CASES += [
    ('{"a":"eyJ4IjoxfQ=="}', '{"a":[1,1],"a":[]}'),
    ('{"a":"eyJ4IjoxfQ=="}', '{"a":[],"a":{"encoding":1,"decoded_type":1}}'),
    ('{"a":"eyJ4IjoxfQ=="}', '[[1,1]]'),
    ('{"a":"eyJ4IjoxfQ=="}', '{"a":[1,1]'),
    ('[1]', '{"a":[1,1]}'),
]


# Numbers inside decoded bodies (issue 13): the published core reads a body with one
# serde_json::from_str, where the payload's own numbers are read twice (its text round trip).
DECODED_NUMBER_BODIES = [
    "94e25", "-98682831394406063e-5",
    "[83441658336277746e-19,0.30000000000000004,1156346444425357626159,0.30000000000000004]",
    "9007199254740993.0", "9007199254740993", "-6.604630556388117e-41", "4.464787050584254e+65",
    "1156346444425357626159", "18446744073709551616", "-9223372036854775809", "1e23", "8.41e21",
    "1.7976931348623157e308", "1E400", "5e-324", "2.2250738585072011e-308", "0.1", "-0", "-0.0",
    '{"n":94e25,"m":[1.2345678901234567e-300,{"k":-98682831394406063e-5}]}',
]


def random_body_number(rng):
    """A number literal of the shapes where readings differ: 16-17 significant digits, big
    exponents, integers beyond 64 bits."""
    kind = rng.random()
    if kind < 0.3:
        digits = str(rng.randint(10**15, 10**17 - 1))
        return ("-" if rng.random() < 0.3 else "") + digits + "e" + str(rng.randint(-330, 290))
    if kind < 0.5:
        return str(rng.randint(-(2**90), 2**90))
    if kind < 0.7:
        return repr(random_double(rng))
    if kind < 0.85:
        return str(rng.randint(1, 999)) + "e" + str(rng.randint(15, 300))
    return random_literal(rng)


def decoded_number_cases():
    rng = random.Random(20261202)
    bodies = list(DECODED_NUMBER_BODIES)
    for _ in range(60):
        bodies.append("[" + ",".join(random_body_number(rng) for _ in range(rng.randint(1, 40))) + "]")
    for body in bodies:
        yield '{"body":%s}' % json.dumps(body), '{"body":{"decoded_type":1}}'
        yield '{"body":"%s"}' % b64s(body), '{"body":{"encoding":1,"decoded_type":1,"match_importance":0.5}}'
        yield '{"body":"%s","n":%s}' % (b64s(body), body if not body.startswith("1E4") else "0"), '{"body":[1,1]}'


# Disagreements the differential fuzzers (bindings/*/tests, scripts/fuzz-differential.sh) found:
# every one becomes a golden here. (payload_json, schema_merges_json)
FUZZ_FOUND = [
    ('{}', '{"a":[]}'),
    ('{"body":"WzEsMV0="}', '{"body":[1,1]}'),
    ('{"body":"94e25"}', '{"body":{"decoded_type":1}}'),
    ('{"body":"-98682831394406063e-5"}', '{"body":{"decoded_type":1}}'),
    ('{"body":"[83441658336277746e-19,0.30000000000000004,1156346444425357626159,0.30000000000000004]"}',
     '{"body":{"decoded_type":1}}'),
]


def gen_process_export_payload():
    w = Writer("process_export_payload.jsonl")
    for text in EDGE_TEXTS:
        w.line("process_export_payload", {"payload_json": text, "schema_merges_json": None},
               export_out(call(drift_core.process_export_payload, text, None)))
    for text, merges in MERGE_CASES + MERGE_SHAPE_CASES + list(decoded_number_cases()) + FUZZ_FOUND:
        w.line("process_export_payload", {"payload_json": text, "schema_merges_json": merges},
               export_out(call(drift_core.process_export_payload, text, merges)))
    for rec, text in fixture_lines():
        sha = hashlib.sha256(text.encode()).hexdigest()
        merges = None if rec["schema_merges"] is None else json.dumps(rec["schema_merges"])
        variants = [None] + ([merges] if merges else [])
        for m in variants:
            w.line("process_export_payload", {"fixture": rec["id"], "text_sha256": sha, "schema_merges_json": m},
                   export_out(call(drift_core.process_export_payload, text, m)))
    w.close()


# ---------------------------------------------------------------------------------------------
# The Python flavour: process_export_payload_pyobject(json.loads(text), merges)
# ---------------------------------------------------------------------------------------------

PYTHON_TEXTS = [
    '{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400, "e": -1e400}',
    '{"a": 9223372036854775807, "b": 9223372036854775808, "c": 18446744073709551615, "d": 18446744073709551616}',
    '{"a": -9223372036854775808, "b": -9223372036854775809, "c": -0, "d": -0.0, "e": 0}',
    '{"a": 9007199254740993, "b": 9007199254740993.0, "c": 0.1, "d": 1e16, "e": 1e-7}',
    '{"a": 1' + "0" * 400 + "}",
    "[" * 127 + "]" * 127, "[" * 128 + "]" * 128, "[" * 300 + "]" * 300,
    '{"a":' * 127 + "1" + "}" * 127, '{"a":' * 128 + "1" + "}" * 128,
    '{"ab":' * 128 + "1" + "}" * 128,
    '[{"a":' * 63 + "[1, 2]" + "}]" * 63, '[{"a":' * 64 + "1" + "}]" * 64,
    '{"b": 2, "a": 1, "a": 3}',
    '"\\ud83d\\ude00 \\u00e9"',
    '[1, 2.5, "x", null, true, {"k": [NaN]}]',
    "NaN", "-Infinity", "12", "[]", "{}",
]


def gen_python_flavour():
    rng = random.Random(7)
    w = Writer("python_flavour.jsonl")
    texts = list(PYTHON_TEXTS)
    for _ in range(30):
        nums = [repr(random_double(rng)) for _ in range(50)]
        nums += [repr(rng.uniform(-1, 1) * 10 ** rng.randint(-9, 19)) for _ in range(30)]
        nums += [str(rng.randint(-(2**80), 2**80)) for _ in range(20)]
        texts.append("[" + ", ".join(nums) + "]")
    items = [(t, None, {"payload_json": t}) for t in texts]
    for text, merges in MERGE_CASES[:30] + MERGE_SHAPE_CASES + list(decoded_number_cases())[::3] + FUZZ_FOUND:
        items.append((text, merges, {"payload_json": text}))
    for rec, text in fixture_lines():
        if rec["size_class"] in ("200b", "2k"):
            merges = None if rec["schema_merges"] is None else json.dumps(rec["schema_merges"])
            items.append((text, merges, {"fixture": rec["id"], "text_sha256": hashlib.sha256(text.encode()).hexdigest()}))
    for text, merges, args in items:
        args = dict(args)
        args["schema_merges_json"] = merges
        try:
            value = json.loads(text)
        except (RecursionError, ValueError):
            continue  # json.loads refuses it: the SDK never hands such text over
        try:
            merges_obj = None if merges is None else json.loads(merges)
        except ValueError:
            continue  # not JSON: a Python caller has no such merges object
        r = call(drift_core.process_export_payload_pyobject, value, merges_obj)
        if "ok" in r:
            _, dh, schema, sh, pb = r["ok"]
            r = {"ok": {"decoded_value_hash": dh, "decoded_schema_hash": sh,
                        # json.dumps with sorted keys: the canonical text, as long as the schema's
                        # floats print the same in Python and in the core (0.5, 0.0, 1.0, ...).
                        "decoded_schema_json": text_out(json.dumps(schema, sort_keys=True, separators=(",", ":"))),
                        "protobuf_struct_bytes": bytes_out(pb)}}
        w.line("process_export_payload_pyobject_from_text", args, r)
    w.close()


# ---------------------------------------------------------------------------------------------
# Spans and export requests
# ---------------------------------------------------------------------------------------------

SPAN_ARG_NAMES = [
    "trace_id", "span_id", "parent_span_id", "name", "package_name", "instrumentation_name",
    "submodule_name", "package_type", "environment", "kind", "input_schema", "output_schema",
    "input_schema_hash", "output_schema_hash", "input_value_hash", "output_value_hash", "status_code",
    "status_message", "is_pre_app_start", "is_root_span", "timestamp_seconds", "timestamp_nanos",
    "duration_seconds", "duration_nanos", "metadata", "input_value", "output_value",
    "input_value_proto_struct_bytes", "output_value_proto_struct_bytes",
]

BASE_SPAN = dict(
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7", parent_span_id="",
    name="GET /users", package_name="http", instrumentation_name="HttpInstrumentation",
    submodule_name="GET", package_type=1, environment="production", kind=2,
    input_schema={"type": 6, "properties": {"method": {"type": 2}, "body": {"type": 6, "encoding": 1, "decoded_type": 1,
                  "match_importance": 0.5, "properties": {"z": {"type": 1}, "a": {"type": 7, "items": {"type": 2}}}}}},
    output_schema={"type": 6, "properties": {"status": {"type": 1}}},
    input_schema_hash="ish", output_schema_hash="osh", input_value_hash="ivh", output_value_hash="ovh",
    status_code=1, status_message="", is_pre_app_start=False, is_root_span=True,
    timestamp_seconds=1763700000, timestamp_nanos=123456789, duration_seconds=0, duration_nanos=5000000,
    metadata={"sdk": "python", "n": 1}, input_value={"method": "GET", "body": {"a": ["x"], "z": 1.5}},
    output_value={"status": 200}, input_value_proto_struct_bytes=None, output_value_proto_struct_bytes=None,
)


def span_variants():
    yield "base", {}
    for pt in range(-1, 13):
        yield f"package_type={pt}", {"package_type": pt}
    for k in range(-1, 7):
        yield f"kind={k}", {"kind": k}
    for s in range(-1, 4):
        yield f"status_code={s}", {"status_code": s}
    yield "empty", {k: (v if isinstance(v, (bool,)) else (0 if isinstance(v, int) else None if v is None or isinstance(v, dict) else "")) for k, v in BASE_SPAN.items()}
    yield "environment None", {"environment": None}
    yield "environment empty", {"environment": ""}
    yield "metadata None", {"metadata": None}
    yield "metadata list", {"metadata": [1, 2]}
    yield "schemas None", {"input_schema": None, "output_schema": None}
    yield "schemas empty", {"input_schema": {}, "output_schema": {}}
    yield "schema odd", {"input_schema": {"type": 99, "encoding": 5, "decoded_type": 42, "properties": {"b": {}, "a": {"type": 4}}}}
    yield "schema items null", {"input_schema": {"type": 7, "items": None}}
    yield "schema importance", {"input_schema": {"type": 1, "match_importance": 0.0}}
    yield "values None", {"input_value": None, "output_value": None}
    yield "values non-object", {"input_value": [1, 2], "output_value": "x"}
    yield "values nested", {"input_value": {"a": {"b": [1, {"c": None, "d": True, "e": "s"}], "f": -0.0}, "g": 2**63 - 1}}
    yield "prebuilt struct", {"input_value_proto_struct_bytes": b64(drift_core.object_to_protobuf_struct_bytes('{"k":[1,"v",{"x":null}]}')).encode()}
    yield "prebuilt empty", {"input_value_proto_struct_bytes": b"", "output_value_proto_struct_bytes": b""}
    yield "prebuilt invalid varint", {"input_value_proto_struct_bytes": base64.b64encode(b"\xff\xff")}
    yield "prebuilt truncated", {"output_value_proto_struct_bytes": base64.b64encode(b"\x0a\x05\x0a\x01")}
    yield "prebuilt wrong wire type", {"input_value_proto_struct_bytes": base64.b64encode(b"\x08\x01")}
    yield "prebuilt bad utf8 key", {"input_value_proto_struct_bytes": base64.b64encode(b"\x0a\x04\x0a\x02\xff\xfe")}
    yield "prebuilt unknown field", {"input_value_proto_struct_bytes": base64.b64encode(b"\x10\x01")}
    yield "negative timing", {"timestamp_seconds": -5, "timestamp_nanos": -1, "duration_seconds": -1, "duration_nanos": -999}
    yield "large timing", {"timestamp_seconds": 2**63 - 1, "timestamp_nanos": 2**31 - 1, "duration_seconds": -(2**63), "duration_nanos": -(2**31)}
    yield "flags", {"is_pre_app_start": True, "is_root_span": False}
    yield "unicode", {"name": "é😀\u0000", "status_message": "boom \"x\"", "parent_span_id": "abc"}


def build_span(args):
    call_args = []
    for name in SPAN_ARG_NAMES:
        v = args[name]
        if name.endswith("_proto_struct_bytes") and v is not None:
            v = base64.b64decode(v)
        call_args.append(v)
    return drift_core.build_span_proto_bytes_pyobject(*call_args)


def gen_spans():
    w = Writer("spans.jsonl")
    built = []
    for label, change in span_variants():
        args = dict(BASE_SPAN)
        args.update(change)
        for k in ("input_value_proto_struct_bytes", "output_value_proto_struct_bytes"):
            if isinstance(args[k], bytes):
                args[k] = args[k].decode("ascii")
        r = call(build_span, args)
        if "ok" in r:
            built.append(bytes(r["ok"]))
            r = {"ok": b64(r["ok"])}
        w.line("build_span_proto_bytes", args, r, label=label)
    w.close()

    w = Writer("export_requests.jsonl")
    good = built[:5]
    cases = [
        ("svc", "env", "1.0.0", "inst", good),
        ("", "", "", "", []),
        ("svc-é", "production", "0.1.9", "i-123", [built[0]] * 3),
        ("svc", "env", "1", "i", good + [b"\xff"]),
        ("svc", "env", "1", "i", [b"\x0a"]),
        ("svc", "env", "1", "i", [b""]),
        ("svc", "env", "1", "i", [b"\x0a\x02\xff\xfe"]),
        ("svc", "env", "1", "i", [b"\x40\x01\x40\x02"]),
        ("svc", "env", "1", "i", [b"\x42\x01"]),
        ("svc", "env", "1", "i", [b"\xf8\xff\xff\xff\x0f\x01"]),
        ("svc", "env", "1", "i", [b"\x0b\x0c"]),
        ("svc", "env", "1", "i", [b"\x0b\x10\x01\x0c"]),
        ("svc", "env", "1", "i", [b"\x0c"]),
        ("svc", "env", "1", "i", [b"\x4a\x02\x0a\x00"]),
        ("svc", "env", "1", "i", [b"\x4a\x04\x0a\x02\x12\x00"]),
        ("svc", "env", "1", "i", [b"\x4a\x06\x0a\x04\x12\x02\x11\x00"]),
        ("svc", "env", "1", "i", [b"\x00\x01"]),
        ("svc", "env", "1", "i", [b"\x5a\x03\x12\x01\x0a"]),
    ]
    for sid, env, ver, inst, spans in cases:
        args = {"observable_service_id": sid, "environment": env, "sdk_version": ver, "sdk_instance_id": inst,
                "spans": [b64(s) for s in spans]}
        r = call(drift_core.build_export_spans_request_bytes_pyobject, sid, env, ver, inst, list(spans))
        if "ok" in r:
            r = {"ok": bytes_out(r["ok"])}
        w.line("build_export_spans_request_bytes", args, r)
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    sys.setrecursionlimit(10000)
    gen_text_functions()
    gen_floats()
    gen_process_export_payload()
    gen_python_flavour()
    gen_spans()


if __name__ == "__main__":
    main()
