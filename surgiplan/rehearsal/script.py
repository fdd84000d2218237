"""Scripted drivers: the moves of a headless rehearsal, read from JSON.

The script (the ``surgiplan rehearse --script`` contract)::

    {"instrument": "<placement id from the plan>",
     "samples": [{"t": <s>, "tip_lps_mm": [x, y, z], "axis": [dx, dy, dz]}, ...]}

``axis`` points from the handle to the tip; positions are patient LPS mm; times in seconds,
strictly increasing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.rehearsal.metrics import check_samples


class ScriptError(InputError):
    """A rehearsal script cannot be read or does not describe a run."""


@dataclass(frozen=True)
class RehearsalScript:
    """The moves of one instrument.

    Attributes
    ----------
    instrument : str
        Placement id in the plan.
    times_s : (n,) float64 ndarray
        Sample times (s), strictly increasing.
    tips_lps_mm : (n, 3) float64 ndarray
        Tip positions, LPS mm.
    axes : (n, 3) float64 ndarray
        Unit shaft directions, handle -> tip.
    """

    instrument: str
    times_s: np.ndarray
    tips_lps_mm: np.ndarray
    axes: np.ndarray

    @classmethod
    def from_arrays(cls, instrument: str, times_s: Any, tips_lps_mm: Any,
                    axes: Any) -> RehearsalScript:
        """A script from arrays (validated; axes normalised)."""
        t, p, a = check_samples(times_s, tips_lps_mm, axes)
        return cls(str(instrument), t, p, a)

    def to_json(self) -> dict[str, Any]:
        """The script in its JSON form."""
        return {"instrument": self.instrument, "samples": [
            {"t": float(t), "tip_lps_mm": p.tolist(), "axis": a.tolist()}
            for t, p, a in zip(self.times_s, self.tips_lps_mm, self.axes, strict=True)]}


def _sample_values(n: int, sample: Any) -> tuple[float, list, list]:
    if not isinstance(sample, dict):
        raise ScriptError(f"sample {n} is not an object: give "
                          '{"t": s, "tip_lps_mm": [x, y, z], "axis": [dx, dy, dz]}')
    missing = [key for key in ("t", "tip_lps_mm", "axis") if key not in sample]
    if missing:
        raise ScriptError(f"sample {n} lacks {', '.join(missing)}: every sample needs t, "
                          "tip_lps_mm and axis")
    tip, axis = sample["tip_lps_mm"], sample["axis"]
    for name, value in (("tip_lps_mm", tip), ("axis", axis)):
        if not (isinstance(value, list) and len(value) == 3 and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            raise ScriptError(f"sample {n}: {name} must be 3 numbers")
    if not isinstance(sample["t"], int | float) or isinstance(sample["t"], bool):
        raise ScriptError(f"sample {n}: t must be a number of seconds")
    return float(sample["t"]), tip, axis


def script_from_json(data: Any) -> RehearsalScript:
    """A :class:`RehearsalScript` from its JSON object.

    Raises
    ------
    ScriptError
        When a key is missing or a value malformed (the message names the sample).
    """
    if not isinstance(data, dict):
        raise ScriptError('a rehearsal script is one JSON object: {"instrument": ..., '
                          '"samples": [...]}')
    instrument = data.get("instrument")
    if not isinstance(instrument, str) or not instrument:
        raise ScriptError('the script needs "instrument": the id of a placement in the plan '
                          "(see surgiplan case info)")
    samples = data.get("samples")
    if not isinstance(samples, list) or not samples:
        raise ScriptError('the script needs "samples": a non-empty list of '
                          '{"t", "tip_lps_mm", "axis"} objects')
    values = [_sample_values(n, sample) for n, sample in enumerate(samples)]
    try:
        return RehearsalScript.from_arrays(instrument, [v[0] for v in values],
                                           [v[1] for v in values], [v[2] for v in values])
    except InputError as exc:
        raise ScriptError(f"bad script samples: {exc}") from None


def read_script(path: str | Path) -> RehearsalScript:
    """Read a rehearsal script file (JSON).

    Raises
    ------
    ScriptError
        When the file is missing, not JSON, or not a script.
    """
    path = Path(path)
    if not path.is_file():
        raise ScriptError(f"no such script file: {path} (check the path)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScriptError(f"{path} is not valid JSON ({exc}): fix the script file") from None
    return script_from_json(data)


def planned_approach(placement, *, before_mm: float = 10.0, duration_s: float = 3.0,
                     count: int = 31) -> RehearsalScript:
    """A scripted attempt that follows a planned path: a minimum-jerk advance of the tip from
    ``before_mm`` outside the skin entry to the planned target, the shaft along the path.

    Parameters
    ----------
    placement : InstrumentPlacement
        A placement made from an entry and a target (LPS mm).
    before_mm : float
        Where the tip starts, outside the entry along the path (mm).
    duration_s : float
        Duration of the advance (s).
    count : int
        Number of samples, evenly spaced in time.

    Raises
    ------
    ScriptError
        When the placement has no planned entry and target.
    """
    if placement.entry_lps_mm is None or placement.target_lps_mm is None:
        raise ScriptError(f"{placement.id} was not planned from an entry and a target: "
                          "script its moves instead")
    entry = np.asarray(placement.entry_lps_mm, dtype=float)
    target = np.asarray(placement.target_lps_mm, dtype=float)
    axis = (target - entry) / np.linalg.norm(target - entry)
    start = entry - before_mm * axis
    t = np.linspace(0.0, duration_s, count)
    s = t / duration_s
    tips = start + np.outer(10 * s**3 - 15 * s**4 + 6 * s**5, target - start)
    return RehearsalScript.from_arrays(placement.id, t, tips, np.tile(axis, (count, 1)))
