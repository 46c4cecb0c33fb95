"""Runs inside the venv that holds the published drift-core-python 0.1.9.

Both wheels install a module named `drift_core`, so the parity tests cannot import the
published one next to ours. This worker answers calls over stdin/stdout instead: each
request is a length-prefixed pickle of `(function_name, args, kwargs)`, each reply a
length-prefixed pickle of `("ok", result)` or `("err", exception_type_name, message)`.
"""

from __future__ import annotations

import pickle
import struct
import sys


def _read_exact(stream, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    import drift_core

    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        header = _read_exact(stdin, 4)
        if header is None:
            return
        (length,) = struct.unpack("<I", header)
        body = _read_exact(stdin, length)
        if body is None:
            return
        name, args, kwargs = pickle.loads(body)
        if name == "__version__":
            from importlib.metadata import version

            reply = ("ok", version("drift-core-python"))
        elif name == "__batch__":
            # args[0]: a list of (function_name, args); one reply per call (the fuzzer's batches).
            replies = []
            for fn, fn_args in args[0]:
                try:
                    replies.append(("ok", getattr(drift_core, fn)(*fn_args)))
                except Exception as exc:
                    replies.append(("err", type(exc).__name__, str(exc)))
            reply = ("ok", replies)
        elif name == "__text_signatures__":
            reply = ("ok", {n: getattr(drift_core, n).__text_signature__ for n in drift_core.__all__})
        else:
            try:
                reply = ("ok", getattr(drift_core, name)(*args, **kwargs))
            except Exception as exc:  # every error is part of the observed behaviour
                reply = ("err", type(exc).__name__, str(exc))
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(struct.pack("<I", len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    main()
