"""Fast access to header values without pydicom's per-element value conversion.

A header-only scan reads thousands of files; converting every element through pydicom's value
machinery costs more than reading the file. The few attributes the scan needs are numbers
(DS/IS as ASCII, US as binary) and plain codes (UI/CS), which are parsed here straight from the
raw element bytes. Already-converted elements are used as they are.
"""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset
from pydicom.tag import Tag


class RawFields:
    """Read typed values of a header-only dataset by tag, ``None`` when absent or unreadable."""

    def __init__(self, ds: Dataset, *, big_endian: bool = False) -> None:
        self._ds = ds
        self._ushort = struct.Struct(">H" if big_endian else "<H")

    def _value(self, tag: int):
        if Tag(tag) not in self._ds:
            return None
        return self._ds.get_item(tag).value

    def texts(self, tag: int) -> tuple[str, ...]:
        """Backslash-separated string values (UI, CS, IS, DS), stripped of padding."""
        value = self._value(tag)
        if value is None:
            return ()
        if isinstance(value, bytes):
            parts = value.decode("latin-1").split("\\")
        elif isinstance(value, str):
            parts = value.split("\\")
        else:
            parts = [str(v) for v in value] if hasattr(value, "__iter__") else [str(value)]
        return tuple(p.strip(" \x00") for p in parts)

    def text(self, tag: int) -> str | None:
        """The first string value, or ``None`` when absent or empty."""
        texts = self.texts(tag)
        return texts[0] if texts and texts[0] else None

    def floats(self, tag: int, count: int) -> tuple[float, ...] | None:
        """Exactly ``count`` decimal values, or ``None``."""
        try:
            out = tuple(float(v) for v in self.texts(tag) if v)
        except ValueError:
            return None
        return out if len(out) == count else None

    def number(self, tag: int, kind: type, default=None):
        """The first value as ``kind`` (int or float), or ``default``."""
        text = self.text(tag)
        if text is None:
            return default
        try:
            return kind(float(text)) if kind is int else kind(text)
        except ValueError:
            return default

    def ushort(self, tag: int, default: int | None = None) -> int | None:
        """An unsigned short (US) value, or ``default``."""
        value = self._value(tag)
        if value is None:
            return default
        if isinstance(value, bytes):
            if len(value) < 2:
                return default
            return self._ushort.unpack_from(value)[0]
        return int(value[0] if isinstance(value, list | tuple) else value)
