"""Subclasses of the JSON types, importable by the published worker too (no dependencies)."""


class IntSub(int):
    pass


class StrSub(str):
    pass


class FloatSub(float):
    pass


class DictSub(dict):
    pass


class ListSub(list):
    pass
