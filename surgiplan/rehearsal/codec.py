"""Rehearsal runs as JSON: one object per run, JSON Lines exports, storage in the case.

The run object (``schema`` 1)::

    {"schema": 1, "id", "instrument", "instrument_type", "trainee", "started",
     "samples": [{"t": s, "tip_lps_mm": [x, y, z], "axis": [dx, dy, dz]}],
     "planned_entry_lps_mm", "planned_target_lps_mm", "events": [...], "metrics": {...},
     "safety": [...], "passed": bool, "composite_score": float}

Sample values are written unrounded, so a run read back replays the same poses bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surgiplan.errors import InputError, OutputError
from surgiplan.io.atomic import atomic_path
from surgiplan.rehearsal.metrics import MotionMetrics
from surgiplan.rehearsal.run import RehearsalRun
from surgiplan.rehearsal.safety import RunEvent, SafetyMetric

RUN_SCHEMA = 1


class RunFormatError(InputError):
    """A stored rehearsal run cannot be read."""


def run_to_json(run: RehearsalRun) -> dict[str, Any]:
    """The run as a JSON object (see the module docstring)."""
    samples = [{"t": float(t), "tip_lps_mm": p.tolist(), "axis": a.tolist()}
               for t, p, a in zip(run.times_s, run.tips_lps_mm, run.axes, strict=True)]
    return {
        "schema": RUN_SCHEMA, "id": run.id, "instrument": run.instrument,
        "instrument_type": run.instrument_type, "trainee": run.trainee,
        "started": run.started, "samples": samples,
        "planned_entry_lps_mm": _point(run.planned_entry_lps_mm),
        "planned_target_lps_mm": _point(run.planned_target_lps_mm),
        "events": [e.to_json() for e in run.events], "metrics": run.metrics.to_json(),
        "safety": [m.to_json() for m in run.safety], "passed": run.passed,
        "composite_score": run.composite_score,
    }


def _point(value: Any) -> list[float] | None:
    return None if value is None else [float(v) for v in value]


def run_from_json(data: dict[str, Any]) -> RehearsalRun:
    """A run back from :func:`run_to_json`.

    Raises
    ------
    RunFormatError
        When the object is not a run of a known schema.
    """
    if not isinstance(data, dict) or data.get("schema") != RUN_SCHEMA:
        raise RunFormatError("not a rehearsal run of schema 1: re-record it with this "
                             "version of SurgiPlan")
    try:
        samples = data["samples"]
        entry, target = data["planned_entry_lps_mm"], data["planned_target_lps_mm"]
        return RehearsalRun(
            id=str(data["id"]), instrument=str(data["instrument"]),
            instrument_type=str(data["instrument_type"]), trainee=str(data["trainee"]),
            started=str(data["started"]),
            times_s=np.array([s["t"] for s in samples], dtype=np.float64),
            tips_lps_mm=np.array([s["tip_lps_mm"] for s in samples], dtype=np.float64),
            axes=np.array([s["axis"] for s in samples], dtype=np.float64),
            planned_entry_lps_mm=None if entry is None else tuple(entry),
            planned_target_lps_mm=None if target is None else tuple(target),
            metrics=MotionMetrics.from_json(data["metrics"]),
            events=[RunEvent.from_json(e) for e in data["events"]],
            safety=[SafetyMetric.from_json(m) for m in data["safety"]],
            composite_score=float(data["composite_score"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunFormatError(f"a rehearsal run is incomplete ({exc}): re-record it") from None


def export_runs(runs: list[RehearsalRun], path: str | Path) -> Path:
    """Write runs to ``path``: ``.jsonl`` one run per line, ``.json`` one list (atomic).

    Raises
    ------
    OutputError
        For another suffix or an unwritable folder.
    """
    path = Path(path)
    objects = [run_to_json(run) for run in runs]
    if path.suffix == ".jsonl":
        text = "".join(json.dumps(o) + "\n" for o in objects)
    elif path.suffix == ".json":
        text = json.dumps(objects, indent=1) + "\n"
    else:
        raise OutputError(f"cannot export runs to {path.name}: name it .jsonl (JSON Lines) "
                          "or .json")
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def read_runs(path: str | Path) -> list[RehearsalRun]:
    """Runs from a ``.jsonl`` or ``.json`` export."""
    path = Path(path)
    if not path.is_file():
        raise RunFormatError(f"no such runs file: {path} (check the path)")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            objects = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            objects = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFormatError(f"{path} is not valid JSON ({exc})") from None
    return [run_from_json(o) for o in objects]


def store_in_case(case: Any, run: RehearsalRun) -> None:
    """Append the run to ``case.rehearsals`` (saved with the case file)."""
    case.rehearsals.append(run_to_json(run))


def case_runs(case: Any) -> list[RehearsalRun]:
    """The runs stored in ``case.rehearsals``."""
    return [run_from_json(data) for data in case.rehearsals]


@dataclass
class StoreRun:
    """Undoable command (for a case session's undo stack): append a run to
    ``case.rehearsals``; undo removes it. Pushed on the session's stack, the stored run makes
    the session unsaved, so Save and autosave keep it."""

    case: Any
    run: RehearsalRun

    @property
    def text(self) -> str:
        return f"rehearsal {self.run.id} of {self.run.instrument}"

    def do(self, plan: Any) -> None:
        store_in_case(self.case, self.run)

    def undo(self, plan: Any) -> None:
        self.case.rehearsals[:] = [data for data in self.case.rehearsals
                                   if data.get("id") != self.run.id]
