"""What a case holds: the scan, its twin, the plan, rehearsal runs and where they came from."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from surgiplan import __version__
from surgiplan.imaging.volume import Volume
from surgiplan.plan.model import Plan
from surgiplan.twin.twin import PatientTwin


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Step:
    """One processing step and its parameters (for reproducibility)."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timestamp: str = field(default_factory=now_iso)
    software_version: str = __version__


@dataclass
class Provenance:
    """Where a case came from and what was done to it.

    Attributes
    ----------
    source : dict
        Non-identifying description of the source: series and study UIDs, modality, file
        count, SHA-256 of the voxel content.
    steps : list of Step
        Import, segmentation, twin building... with their parameters.
    author : str
        Who created the case (login name; no patient data).
    created, modified : str
        ISO 8601 UTC timestamps.
    """

    source: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    author: str = field(default_factory=lambda: _login())
    created: str = field(default_factory=now_iso)
    modified: str = field(default_factory=now_iso)
    software_version: str = __version__

    def add_step(self, name: str, **parameters: Any) -> Step:
        step = Step(name, parameters)
        self.steps.append(step)
        self.modified = step.timestamp
        return step


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


@dataclass
class Case:
    """Everything needed to reopen a case.

    Attributes
    ----------
    volume : Volume
        The scan in patient LPS mm (identity fields are never saved unless asked).
    twin : PatientTwin
        Label map, structures (regions, surfaces, physics meshes), display settings.
    plan : Plan
        Incisions, instruments, landmarks, measurements.
    provenance : Provenance
        Source, steps and authorship.
    rehearsals : list of dict
        Recorded rehearsal runs (JSON-serialisable), added by later features.
    """

    volume: Volume
    twin: PatientTwin
    plan: Plan = field(default_factory=Plan)
    provenance: Provenance = field(default_factory=Provenance)
    rehearsals: list[dict[str, Any]] = field(default_factory=list)
