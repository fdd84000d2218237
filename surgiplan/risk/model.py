"""What the rules report: a :class:`Complication` with its :class:`Severity`.

The JSON form (:meth:`Complication.to_json`) is the ``surgiplan check --json`` contract::

    {"rule": str, "severity": str, "structures": [str], "location_lps_mm": [x, y, z] | null,
     "value": float, "threshold": float, "unit": str, "message": str,
     "item_id": str | null, "time_s": float | null}

``item_id`` (the plan item concerned) and ``time_s`` (rehearsal time) are extra keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from surgiplan.errors import InputError


class Severity(IntEnum):
    """How bad a finding is; ordered ``INFO < WARNING < CRITICAL``.

    ``CRITICAL`` findings make ``surgiplan check`` exit with code 1.
    """

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        """The lower-case name used in JSON and messages (``"warning"``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """The severity called ``text`` (``"info"``, ``"warning"`` or ``"critical"``)."""
        try:
            return cls[str(text).upper()]
        except KeyError:
            raise InputError(f"unknown severity {text!r}: use one of "
                             f"{', '.join(s.label for s in cls)}") from None

    def __str__(self) -> str:
        return self.label


def _rounded(value: float) -> float:
    """``value`` rounded to 4 decimals for output."""
    return round(float(value), 4)


@dataclass(frozen=True)
class Complication:
    """One likely complication of the plan found by a rule.

    Attributes
    ----------
    rule : str
        Id of the rule that found it (e.g. ``"safety_margin"``).
    severity : Severity
        How bad it is.
    structures : tuple of str
        Structures concerned (twin names), possibly empty.
    location_lps_mm : (x, y, z) or None
        Where it happens, LPS mm; ``None`` when it has no single place (e.g. port spacing of
        a whole set-up is still given at a port; a remnant volume has none).
    value : float
        The measured value, in ``unit``.
    threshold : float
        The threshold the value crossed (the level that set ``severity``), in ``unit``.
    unit : str
        Unit of ``value`` and ``threshold``: ``"mm"``, ``"deg"``, ``"N"``, ``"mmHg"``,
        ``"s"``, ``"%"``, ``"strain"`` (dimensionless).
    message : str
        One sentence a surgeon understands, naming the structure, the value and the limit.
    item_id : str or None
        Plan item concerned (instrument placement or incision id).
    time_s : float or None
        Rehearsal time (s) at which it was found; ``None`` for a static plan check.
    """

    rule: str
    severity: Severity
    structures: tuple[str, ...]
    location_lps_mm: tuple[float, float, float] | None
    value: float
    threshold: float
    unit: str
    message: str
    item_id: str | None = None
    time_s: float | None = None

    def __post_init__(self) -> None:
        severity = self.severity
        severity = Severity.parse(severity) if isinstance(severity, str) else Severity(severity)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "structures", tuple(str(s) for s in self.structures))
        if self.location_lps_mm is not None:
            point = tuple(float(v) for v in self.location_lps_mm)
            if len(point) != 3:
                raise InputError(f"{self.rule}: a location must be 3 numbers (LPS mm)")
            object.__setattr__(self, "location_lps_mm", point)
        for name in ("value", "threshold"):
            number = float(getattr(self, name))
            if not math.isfinite(number):
                raise InputError(f"{self.rule}: {name} must be a finite number, got {number}")
            object.__setattr__(self, name, number)

    def to_json(self) -> dict[str, Any]:
        """The complication as the ``surgiplan check --json`` contract row."""
        location = None if self.location_lps_mm is None else [
            _rounded(v) for v in self.location_lps_mm]
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "structures": list(self.structures),
            "location_lps_mm": location,
            "value": _rounded(self.value),
            "threshold": _rounded(self.threshold),
            "unit": self.unit,
            "message": self.message,
            "item_id": self.item_id,
            "time_s": None if self.time_s is None else _rounded(self.time_s),
        }


def complications_json(found: list[Complication]) -> dict[str, Any]:
    """``{"complications": [...]}``, the document ``surgiplan check --json`` prints."""
    return {"complications": [c.to_json() for c in found]}


def exit_code(found: list[Complication]) -> int:
    """``surgiplan check`` exit code: 1 when any complication is critical, else 0."""
    return int(any(c.severity is Severity.CRITICAL for c in found))
