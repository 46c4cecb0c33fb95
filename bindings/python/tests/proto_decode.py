"""Decoding Span / ExportSpansRequest / Struct bytes into plain dicts for comparisons.

A small wire-format decoder driven by the field metadata of the `tusk-drift-schemas` classes
(installed with the Tusk Drift SDK). Unlike `Message.to_dict()` it keeps enum values that are
out of range as integers (the published builder writes any schema `type` through), so two
encodings compare equal exactly when they carry the same message, whatever the field or map
entry order. proto3 semantics: a scalar equal to its default is the same as absent, except for
`optional` fields; message fields keep their presence; unknown fields are skipped (the
published builder re-encodes prebuilt bytes and so drops them, ours embeds them as given).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Any

_SCALAR_DEFAULTS = (0, 0.0, "", b"", False)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes):
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
        yield number, wire, value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar(proto_type: str, wire: int, value: Any) -> Any:
    if proto_type == "string":
        return value.decode("utf-8")
    if proto_type == "bytes":
        return bytes(value)
    if proto_type == "bool":
        return bool(value)
    if proto_type == "double":
        return struct.unpack("<d", value)[0]
    if proto_type == "float":
        return struct.unpack("<f", value)[0]
    if proto_type in ("int64", "sint64_raw"):
        return _signed(value, 64)
    if proto_type in ("int32", "enum"):
        return _signed(value, 64) if value >> 63 else _signed(value, 32) if value < 1 << 32 else value
    if proto_type in ("uint32", "uint64"):
        return value
    raise ValueError(f"unsupported proto type {proto_type}")


def _message_class(cls: type) -> type:
    """betterproto maps Timestamp/Duration to datetime/timedelta; decode them as messages."""
    import datetime

    from betterproto.lib.google.protobuf import Duration, Timestamp

    return {datetime.datetime: Timestamp, datetime.timedelta: Duration}.get(cls, cls)


@lru_cache(maxsize=None)
def _layout(cls: type) -> dict[int, tuple[str, Any, type | None, type | None, bool]]:
    import dataclasses

    meta = cls()._betterproto
    annotations = {field.name: str(field.type) for field in dataclasses.fields(cls)}
    layout = {}
    for name, field_meta in meta.meta_by_field_name.items():
        annotation = annotations.get(name, "")
        repeated = annotation.startswith(("List[", "list[", "typing.List[")) or "List[" in annotation
        sub = meta.cls_by_field.get(name)
        sub = _message_class(sub) if sub is not None else None
        value_cls = meta.cls_by_field.get(name + ".value") if field_meta.proto_type == "map" else None
        layout[field_meta.number] = (name, field_meta, sub, value_cls, repeated)
    return layout


def decode_message(cls: type, data: bytes) -> dict[str, Any]:
    layout = _layout(cls)
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        if number not in layout:
            continue  # unknown fields are skipped, as every protobuf decoder does
        name, meta, sub, value_cls, repeated = layout[number]
        if meta.proto_type == "map":
            key_type, value_type = meta.map_types
            entry = {1: None, 2: None}
            for entry_number, entry_wire, entry_value in _fields(value):
                proto_type = key_type if entry_number == 1 else value_type
                if proto_type == "message":
                    entry[entry_number] = decode_message(value_cls, entry_value)
                else:
                    entry[entry_number] = _scalar(proto_type, entry_wire, entry_value)
            key = entry[1] if entry[1] is not None else _default_of(key_type)
            item = entry[2] if entry[2] is not None else ({} if value_type == "message" else _default_of(value_type))
            out.setdefault(name, {})[key] = item
            continue
        if meta.proto_type == "message":
            decoded = decode_message(sub, value)
        elif wire == 2 and meta.proto_type not in ("string", "bytes"):
            # Packed repeated scalars.
            decoded_items = []
            pos = 0
            while pos < len(value):
                item, pos = _varint(value, pos)
                decoded_items.append(_scalar(meta.proto_type, 0, item))
            out.setdefault(name, []).extend(decoded_items)
            continue
        else:
            decoded = _scalar(meta.proto_type, wire, value)
        if repeated:
            out.setdefault(name, []).append(decoded)
        elif meta.proto_type == "message" and name in out:
            out[name] = {**out[name], **decoded}  # a repeated message field merges
        else:
            out[name] = decoded
    for name, meta, _, _, _ in layout.values():
        if meta.proto_type not in ("message", "map") and not meta.optional and out.get(name, None) in _SCALAR_DEFAULTS:
            if name in out and not isinstance(out[name], list):
                del out[name]
    return out


def _default_of(proto_type: str) -> Any:
    return {"string": "", "bytes": b"", "bool": False, "double": 0.0, "float": 0.0}.get(proto_type, 0)


def decode_span(data: bytes) -> dict[str, Any]:
    from tusk.drift.core.v1 import Span

    return decode_message(Span, data)


def decode_struct(data: bytes) -> dict[str, Any]:
    from betterproto.lib.google.protobuf import Struct

    return decode_message(Struct, data)


def decode_export_request(data: bytes) -> dict[str, Any]:
    from tusk.drift.backend.v1 import ExportSpansRequest

    return decode_message(ExportSpansRequest, data)
