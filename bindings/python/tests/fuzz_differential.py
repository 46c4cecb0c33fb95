"""Differential fuzzer: our `drift_core` against the published drift-core-python 0.1.9.

Seeded generators make JSON texts and Python values aimed at the places where readings differ
(numbers of every shape, escapes and surrogates, duplicate keys, nesting near the 127/128 limit,
merge rules of every shape, bodies plain and base64 full of numbers), and every published
function is called with them on both sides. Results must be equal (text, hashes and `Struct`
bytes byte for byte, Python values by type and bits, spans and export requests by decoding,
since the published builder writes schema `properties` in hash-map order); errors must meet
errors of the same type and message.

The published module runs in its own venv behind `published_worker.py` (both packages install
`drift_core`); calls go over in batches.

    python bindings/python/tests/fuzz_differential.py --seed 1 --comparisons 1000000

(`scripts/fuzz-differential.sh` runs it with a random seed; `test_fuzz_differential.py` is the
short fixed-seed pass CI runs.) Every disagreement found becomes a golden
(`FUZZ_FOUND` in `tests/golden/regenerate.py`).
"""

from __future__ import annotations

import base64
import math
import random
import re
import struct
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import drift_core  # noqa: E402  (ours: the test venv's module)
from proto_decode import decode_export_request, decode_span  # noqa: E402

TEXT_FUNCTIONS = [
    "normalize_json",
    "deterministic_hash",
    "normalize_and_hash",
    "object_to_protobuf_struct_bytes",
    "object_to_protobuf_struct_field_count",
]


# Valid prebuilt `Struct` bytes (of `{"k":[1,"v",{"x":null}]}` and of `{}`), and an empty one.
STRUCT_BYTES = [
    b"\n$\n\x01k\x12\x1f2\x1d\n\t\x11\x00\x00\x00\x00\x00\x00\xf0?\n\x03\x1a\x01v\n\x0b*\t\n\x07\n\x01x\x12\x02\x08\x00",
    b"",
]

# ---------------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------------


class Gen:
    """Seeded generators of texts and host values."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    # numbers -------------------------------------------------------------------------------
    def digits(self, n: int) -> str:
        r = self.r
        return str(r.randint(1, 9)) + "".join(r.choice("0123456789") for _ in range(n - 1))

    def number(self) -> str:
        r = self.r
        k = r.random()
        sign = "-" if r.random() < 0.3 else ""
        if k < 0.15:
            return sign + str(r.choice([0, 1, 7, 42, 1000, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64]))
        if k < 0.35:  # 16-17 significant digits with an exponent
            return sign + self.digits(r.randint(15, 18)) + r.choice("eE") + r.choice(["", "+", "-"]) + str(r.randint(0, 330))
        if k < 0.5:  # integers beyond 64 bits
            return sign + self.digits(r.randint(19, 40))
        if k < 0.65:  # shortest text of a random double
            while True:
                (f,) = struct.unpack("<d", struct.pack("<Q", r.getrandbits(64)))
                if math.isfinite(f):
                    return repr(f)
        if k < 0.75:  # decimals with many digits
            return sign + self.digits(r.randint(1, 20)) + "." + "".join(r.choice("0123456789") for _ in range(r.randint(1, 20)))
        if k < 0.85:  # small integer with a big exponent
            return sign + str(r.randint(1, 999)) + "e" + str(r.randint(-340, 310))
        if k < 0.93:  # ordinary payload numbers
            return sign + str(r.randint(0, 10**6)) + (("." + str(r.randint(0, 999))) if r.random() < 0.5 else "")
        return r.choice(["1E400", "-1e400", "01", "1.", ".5", "+1", "1e", "-", "0.0e0", "-0", "-0.0", "5e-324", "2.4e-324"])

    # strings -------------------------------------------------------------------------------
    def string_body(self) -> str:
        r = self.r
        parts = []
        for _ in range(r.randint(0, 6)):
            k = r.random()
            if k < 0.35:
                parts.append(r.choice(["a", "body", "key", "x y", "é", "😀", "\u2028", "/", "ﬀ", "Z", "0"]))
            elif k < 0.6:
                parts.append(r.choice(['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"]))
            elif k < 0.8:
                parts.append("\\u%04x" % r.choice([0, 1, 0x1F, 0x7F, 0xE9, 0x2028, 0xFFFF, 0xD83D, 0xDE00, r.randint(0, 0xFFFF)]))
            elif k < 0.9:
                parts.append("\\ud83d\\ude00" if r.random() < 0.7 else "\\ud800\\u0041")
            else:
                parts.append(r.choice(["\x01", "\t", "\\x", "\\u12", "\x7f"]))  # mostly invalid
        return "".join(parts)

    def key(self) -> str:
        r = self.r
        if r.random() < 0.6:
            return r.choice(["a", "b", "body", "A", "", "é", "z", "aa", "😀", "ﬀ"])
        return self.string_body()

    # texts ---------------------------------------------------------------------------------
    def value_text(self, depth: int) -> str:
        r = self.r
        k = r.random()
        if depth > 4 or k < 0.45:
            s = r.random()
            if s < 0.55:
                return self.number()
            if s < 0.8:
                return '"' + self.string_body() + '"'
            return r.choice(["null", "true", "false"])
        ws = r.choice(["", "", " ", "\n\t"])
        if k < 0.7:
            return "[" + ws + ("," + ws).join(self.value_text(depth + 1) for _ in range(r.randint(0, 5))) + "]"
        keys = [self.key() for _ in range(r.randint(0, 5))]
        if keys and r.random() < 0.3:
            keys.append(r.choice(keys))  # duplicate key: the last one wins
        return "{" + ",".join('"%s"%s:%s' % (k_, ws, self.value_text(depth + 1)) for k_ in keys) + "}"

    def nested_text(self) -> str:
        r = self.r
        n = r.choice([126, 127, 127, 128, 128, 129])
        opener = r.choice(["[", '{"a":', '[{"k":'])
        if opener == '[{"k":':
            half = n // 2
            return '[{"k":' * half + r.choice(["1", "[]", "{}"]) + "}]" * half
        closer = "]" if opener == "[" else "}"
        return opener * n + (self.number() if opener != "[" else "") + closer * n

    def mutate(self, text: str) -> str:
        r = self.r
        if not text:
            return text
        i = r.randrange(len(text))
        k = r.random()
        if k < 0.33:
            return text[:i]
        if k < 0.66:
            return text[:i] + r.choice([",", "]", "}", '"', "\\", "1", " ", "e", "-", "\x00"]) + text[i:]
        return text[:i] + text[i + 1:]

    def text(self) -> str:
        r = self.r
        k = r.random()
        if k < 0.08:
            return self.nested_text()
        t = self.value_text(0)
        if k < 0.2:
            t = self.mutate(t)
        return t

    # merges and bodies -----------------------------------------------------------------------
    def rule_text(self) -> str:
        r = self.r
        elems = ["1", "1", "0", "2", "null", "-1", "0.5", "1.0", "1e400", '"x"', "true", "[]", "{}", "4294967297", "0.75"]
        k = r.random()
        if k < 0.45:
            return "[" + ",".join(r.choice(elems) for _ in range(r.choice([0, 1, 2, 2, 3, 3, 4]))) + "]"
        if k < 0.85:
            fields = []
            for name, vals in (("encoding", elems), ("decoded_type", elems), ("match_importance", elems + ["-0.0", "1e308"])):
                if r.random() < 0.6:
                    fields.append('"%s":%s' % (name, r.choice(vals[:6] if r.random() < 0.7 else vals)))
            if r.random() < 0.1:
                fields.append('"other":[1,{"x":2}]')
            if fields and r.random() < 0.05:
                fields.append(fields[0])  # duplicate field
            r.shuffle(fields)
            return "{" + ",".join(fields) + "}"
        return r.choice(["null", "1", '"x"', "true", "[1,1", "[1,]", "{"])

    def body(self) -> str:
        r = self.r
        if r.random() < 0.5:
            return "[" + ",".join(self.number() for _ in range(r.randint(1, 12))) + "]"
        if r.random() < 0.5:
            return self.number()
        return self.value_text(1)

    def payload_and_merges(self) -> tuple[str, str | None]:
        r = self.r
        members = []
        rules = []
        for key in r.sample(["body", "a", "b", "q", "é"], r.randint(1, 4)):
            kind = r.random()
            body = self.body()
            if kind < 0.45:
                members.append('"%s":"%s"' % (key, base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()))
                rules.append('"%s":%s' % (key, r.choice(['{"encoding":1,"decoded_type":1}', "[1,1]", "[1,1,0.5]", "[1]", self.rule_text()])))
            elif kind < 0.8:
                members.append('"%s":%s' % (key, _json_str(body)))
                rules.append('"%s":%s' % (key, r.choice(['{"decoded_type":1}', "[null,1]", "[0,1]", self.rule_text()])))
            else:
                members.append('"%s":%s' % (key, self.value_text(1)))
                if r.random() < 0.5:
                    rules.append('"%s":%s' % (key, self.rule_text()))
        if r.random() < 0.2:
            rules.append('"%s":%s' % (self.key(), self.rule_text()))
        payload = "{" + ",".join(members) + "}"
        merges = "{" + ",".join(rules) + "}"
        k = r.random()
        if k < 0.05:
            merges = self.mutate(merges)
        elif k < 0.1:
            return payload, None
        elif k < 0.13:
            merges = r.choice(["null", "[]", "1", "[[1,1]]", ""])
        return payload, merges

    # host values ---------------------------------------------------------------------------
    def host_number(self) -> Any:
        r = self.r
        k = r.random()
        if k < 0.3:
            return r.choice([0, -1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**400 // 3), 10**400])
        if k < 0.5:
            return r.randint(-(2**100), 2**100)
        if k < 0.6:
            return r.choice([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308])
        return _float_of(self.number())

    def host_value(self, depth: int) -> Any:
        r = self.r
        k = r.random()
        if depth > 4 or k < 0.5:
            s = r.random()
            if s < 0.5:
                return self.host_number()
            if s < 0.8:
                return r.choice(["", "a", "é😀", "\u2028", "x\x00y", "eyJ4IjoxfQ==", "[1e400]", "94e25"])
            if s < 0.98:
                return r.choice([None, True, False])
            return r.choice([b"bytes", object, {1, 2}, "\ud800"])  # TypeError / not UTF-8
        if k < 0.7:
            items = [self.host_value(depth + 1) for _ in range(r.randint(0, 4))]
            return tuple(items) if r.random() < 0.2 else items
        d: dict = {}
        for _ in range(r.randint(0, 4)):
            d[self.key() if r.random() < 0.97 else r.choice([1, None, 2.5])] = self.host_value(depth + 1)
        return d

    def host_payload_and_merges(self) -> tuple[Any, Any]:
        r = self.r
        k = r.random()
        if k < 0.1:
            depth = r.choice([126, 127, 128, 129])
            value: Any = 1
            for _ in range(depth):
                value = [value] if r.random() < 0.5 else {"a": value}
            return value, None
        if k < 0.6:
            text, merges = self.payload_and_merges()
            import json

            try:
                value = json.loads(text)
                merges_obj = None if merges is None else json.loads(merges)
            except ValueError:
                return self.host_value(0), None
            return value, merges_obj
        value = self.host_value(0)
        if isinstance(value, dict) and r.random() < 0.5:
            return value, {key: r.choice([[1, 1], [], {"encoding": 1}, None, [1, 1, math.nan], {"decoded_type": 1}]) for key in list(value)[:2] if isinstance(key, str)}
        return value, None

    # spans ---------------------------------------------------------------------------------
    def schema(self, depth: int = 0) -> Any:
        r = self.r
        if r.random() < 0.1:
            return self.host_value(2)
        s: dict = {"type": r.choice([1, 2, 3, 4, 6, 7, 0, 99])}
        if depth < 2 and r.random() < 0.5:
            s["properties"] = {self.key(): self.schema(depth + 1) for _ in range(r.randint(0, 3))}
        if depth < 2 and r.random() < 0.2:
            s["items"] = self.schema(depth + 1)
        for f in ("encoding", "decoded_type"):
            if r.random() < 0.2:
                s[f] = r.choice([0, 1, 2, 7])
        if r.random() < 0.2:
            s["match_importance"] = r.choice([0.5, 0.0, 1, 1e300])
        return s

    def span_args(self) -> tuple:
        r = self.r

        def s() -> str:
            return r.choice(["", "abc", "4bf92f3577b34da6a3ce929d0e0e4736", "é😀", "x\x00"])

        def struct_bytes() -> Any:
            k = r.random()
            if k < 0.6:
                return None
            if k < 0.85:
                return r.choice(STRUCT_BYTES)
            return bytes(r.getrandbits(8) for _ in range(r.randint(0, 6)))

        return (
            s(), s(), s(), s(), s(), s(), s(),
            r.choice([0, 1, 5, 11, 12, -1]) if r.random() < 0.3 else r.randint(0, 11),
            r.choice([None, "", "production"]),
            r.randint(-1, 6) if r.random() < 0.2 else r.randint(0, 5),
            self.schema(), self.schema(),
            s(), s(), s(), s(),
            r.randint(-1, 3) if r.random() < 0.2 else r.randint(0, 2),
            s(), r.random() < 0.5, r.random() < 0.5,
            r.choice([0, 1763700000, -5, 2**63 - 1]), r.choice([0, 123456789, -1, 2**31 - 1]),
            r.choice([0, 1, -(2**63)]), r.choice([0, 5000000, -999]),
            r.choice([None, {"sdk": "python"}, self.host_value(1)]),
            r.choice([None, self.host_value(0)]), r.choice([None, self.host_value(0)]),
            struct_bytes(), struct_bytes(),
        )

    # one round of calls ----------------------------------------------------------------------
    def calls(self) -> list[tuple[str, tuple]]:
        r = self.r
        out: list[tuple[str, tuple]] = []
        text = self.text()
        for fn in TEXT_FUNCTIONS:
            out.append((fn, (text,)))
        if r.random() < 0.3:
            out.append(("process_export_payload", (text, None)))
        payload, merges = self.payload_and_merges()
        out.append(("process_export_payload", (payload, merges)))
        for fn in TEXT_FUNCTIONS[:2]:
            out.append((fn, (payload,)))
        value, merges_obj = self.host_payload_and_merges()
        out.append(("process_export_payload_pyobject", (value, merges_obj)))
        if r.random() < 0.15:
            out.append(("build_span_proto_bytes_pyobject", self.span_args()))
        if r.random() < 0.05:
            spans = [r.choice([b"", b"\x0a\x01a", b"\xff", b"\x0a\x02\xff\xfe", b"\x42\x01"]) for _ in range(r.randint(0, 3))]
            out.append(("build_export_spans_request_bytes_pyobject", (s_id(r), "env", "1.0", "inst", spans)))
        return out


def s_id(r: random.Random) -> str:
    return r.choice(["svc", "", "é"])


def _json_str(text: str) -> str:
    import json

    return json.dumps(text)


def _float_of(literal: str) -> Any:
    try:
        return float(literal)
    except ValueError:
        return 0.5


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------


def typed(value: Any) -> Any:
    """A comparable form that tells `1` from `1.0` and `0.0` from `-0.0`."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return ("f", struct.pack("<d", value))
    if isinstance(value, int):
        return ("i", value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("b", bytes(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, dict):
        return ("d", sorted((k, typed(v)) for k, v in value.items()))
    return ("s", value)


def ours_outcome(fn: str, args: tuple) -> tuple:
    try:
        return ("ok", getattr(drift_core, fn)(*args))
    except Exception as exc:
        return ("err", type(exc).__name__, str(exc))


SPAN_INDEX = re.compile(r" \(span index \d+\)$")


def same_message(mine: str, theirs: str) -> bool:
    """Equal messages; ours may add ` (span index N)` to an export request's span error (the
    published prefix is kept, docs/testing.md)."""
    return mine == theirs or (SPAN_INDEX.search(mine) is not None and SPAN_INDEX.sub("", mine) == theirs)


def same(fn: str, mine: tuple, theirs: tuple) -> bool:
    if mine[0] != theirs[0]:
        return False
    if mine[0] == "err":
        return mine[1] == theirs[1] and same_message(mine[2], theirs[2])
    a, b = mine[1], theirs[1]
    if fn == "build_span_proto_bytes_pyobject":
        return decode_span(bytes(a)) == decode_span(bytes(b))
    if fn == "build_export_spans_request_bytes_pyobject":
        return decode_export_request(bytes(a)) == decode_export_request(bytes(b))
    return typed(a) == typed(b)


def run(published: Any, seed: int, comparisons: int, batch: int = 400, report=None) -> dict:
    """Runs at least `comparisons` calls pairs; returns the figures and the disagreements."""
    gen = Gen(seed)
    done = 0
    disagreements: list[dict] = []
    per_fn: dict[str, int] = {}
    while done < comparisons:
        calls: list[tuple[str, tuple]] = []
        while len(calls) < batch:
            calls.extend(gen.calls())
        theirs = published._call("__batch__", (calls,), {})
        for (fn, args), their in zip(calls, theirs):
            mine = ours_outcome(fn, args)
            per_fn[fn] = per_fn.get(fn, 0) + 1
            if not same(fn, mine, their):
                disagreements.append({"fn": fn, "args": repr(args)[:2000], "ours": repr(mine)[:500], "published": repr(their)[:500]})
        done += len(calls)
        if report is not None:
            report(done)
    return {"seed": seed, "comparisons": done, "per_function": per_fn, "disagreements": disagreements}


def main() -> int:
    import argparse
    import os
    import time

    from conftest import PublishedModule

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--comparisons", type=int, default=100_000)
    parser.add_argument("--published-python", default=os.environ.get("DRIFT_PUBLISHED_PYTHON"))
    args = parser.parse_args()
    published = PublishedModule(args.published_python)
    assert published.version == "0.1.9", published.version
    sys.setrecursionlimit(10000)
    start = time.monotonic()
    step = max(args.comparisons // 10, 1)
    marks = {"next": step}

    def report(done: int) -> None:
        if done >= marks["next"]:
            print(f"[fuzz-python] seed {args.seed}: {done} comparisons", file=sys.stderr, flush=True)
            marks["next"] += step

    result = run(published, args.seed, args.comparisons, report=report)
    published.close()
    elapsed = time.monotonic() - start
    for d in result["disagreements"][:20]:
        print("DISAGREEMENT", d)
    print(
        f"python differential fuzz: seed {result['seed']}, {result['comparisons']} comparisons, "
        f"{len(result['disagreements'])} disagreements, {elapsed:.0f} s; per function {result['per_function']}"
    )
    return 1 if result["disagreements"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
