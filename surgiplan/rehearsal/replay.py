"""Replay a recorded run: the instrument, the tissue it deforms and what happened, at any time.

A :class:`Replayer` gives the :class:`ReplayFrame` at a run time: the pose (exactly the
recorded one at a sample time, interpolated between samples as :func:`~surgiplan.rehearsal.run.
pose_at` does), the planned placement moved there (as the recording moved it, see
:func:`~surgiplan.rehearsal.run.placement_at`), the render-surface vertices of every structure
the plan deforms with the instrument there (the plan checked as
:func:`~surgiplan.simulation.plan_check.check_case` does, one :class:`SimulationCache` for the
replay, so each pose is solved once), the events so far and the tip path so far.

:func:`compare_paths` sets the performed tip path beside the planned one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from surgiplan.case.model import Case
from surgiplan.plan.catalogue import Catalogue, load_catalogue
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.plan.placement import pose_along
from surgiplan.rehearsal.run import RehearsalRun, placement_at
from surgiplan.rehearsal.safety import RunEvent
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.plan_check import check_case


@dataclass(frozen=True)
class ReplayFrame:
    """The run at one time.

    Attributes
    ----------
    time_s : float
        Run time (s), clamped to the recorded span.
    pose : (4, 4) float64 ndarray
        Instrument tip pose (tip frame -> LPS mm); column 2 the shaft axis (handle -> tip),
        column 3 the tip.
    placement : InstrumentPlacement
        The planned placement moved to ``pose``.
    deformed_vertices_lps_mm : dict of str to (n, 3) float64 ndarray
        Render-surface vertices (LPS mm) of every structure deformed with the instrument at
        ``pose`` (pushed organs and the critical structures they carry); others are at rest.
    events : list of RunEvent
        The events recorded at or before ``time_s``, by time.
    performed_lps_mm : (k, 3) float64 ndarray
        The tip path so far: the recorded tips up to ``time_s``, then the tip at ``time_s``
        when it lies between samples.
    """

    time_s: float
    pose: np.ndarray
    placement: InstrumentPlacement
    deformed_vertices_lps_mm: dict[str, np.ndarray]
    events: list[RunEvent]
    performed_lps_mm: np.ndarray

    @property
    def tip_lps_mm(self) -> np.ndarray:
        """(3,) tip position, LPS mm."""
        return self.pose[:3, 3]


def planned_placement(case: Case, run: RehearsalRun) -> InstrumentPlacement:
    """The run's placement in the case's plan; for a run of a placement since removed, one
    rebuilt from the run (its instrument at the first pose, its planned path)."""
    planned = case.plan.instruments.get(run.instrument)
    if planned is not None:
        return planned
    entry, target = run.planned_entry_lps_mm, run.planned_target_lps_mm
    depth = 0.0 if entry is None or target is None else float(
        np.linalg.norm(np.subtract(target, entry)))
    return InstrumentPlacement(run.instrument, run.instrument_type,
                               pose_along(run.axes[0], run.tips_lps_mm[0]), depth, entry,
                               target)


def sample_index(times_s: np.ndarray, time_s: float) -> int | None:
    """The index of the sample recorded at exactly ``time_s``, else ``None``."""
    i = int(np.searchsorted(times_s, time_s, side="left"))
    return i if i < len(times_s) and times_s[i] == time_s else None


class Replayer:
    """Frames of one run on one case (see the module docstring).

    Parameters
    ----------
    case : Case
        Twin and plan the run was recorded on (the plan is not changed).
    run : RehearsalRun
        The recorded run (at least one sample).
    catalogue : Catalogue, optional
        Instrument catalogue (the shipped one by default).
    cache : SimulationCache, optional
        Reused between frames (a fresh one by default); use it from one thread at a time.
    """

    def __init__(self, case: Case, run: RehearsalRun, catalogue: Catalogue | None = None,
                 cache: SimulationCache | None = None) -> None:
        self.case = case
        self.run = run
        self.catalogue = catalogue or load_catalogue()
        self.cache = cache if cache is not None else SimulationCache()
        self.planned = planned_placement(case, run)

    @property
    def start_s(self) -> float:
        return float(self.run.times_s[0])

    @property
    def end_s(self) -> float:
        return float(self.run.times_s[-1])

    def clamp(self, time_s: float) -> float:
        """``time_s`` within the recorded span (s)."""
        return float(min(max(float(time_s), self.start_s), self.end_s))

    def placement_at(self, time_s: float) -> InstrumentPlacement:
        """The planned placement moved to the pose at ``time_s`` (the recorded sample's
        placement, bit for bit, at a sample time)."""
        run, time_s = self.run, self.clamp(time_s)
        i = sample_index(run.times_s, time_s)
        if i is not None:
            return placement_at(self.planned, run.tips_lps_mm[i], run.axes[i])
        pose = run.pose_at(time_s)
        return placement_at(self.planned, pose[:3, 3], pose[:3, 2])

    def deformed_at(self, placement: InstrumentPlacement) -> dict[str, np.ndarray]:
        """Render-surface vertices (LPS mm) of the structures deformed with ``placement`` in
        the plan (tens of ms to seconds for a new pose of a pushing instrument)."""
        plan = self.case.plan
        moved = Plan(incisions=dict(plan.incisions),
                     instruments={**plan.instruments, placement.id: placement},
                     thresholds=plan.thresholds)
        result = check_case(replace(self.case, plan=moved), catalogue=self.catalogue,
                            cache=self.cache)
        return result.deformed_vertices_lps_mm

    def frame(self, time_s: float) -> ReplayFrame:
        """The run at ``time_s`` (s; clamped to the recorded span)."""
        run, time_s = self.run, self.clamp(time_s)
        placement = self.placement_at(time_s)
        return ReplayFrame(time_s, run.pose_at(time_s), placement, self.deformed_at(placement),
                           [e for e in run.events if e.time_s <= time_s],
                           performed_until(run, time_s))


def performed_until(run: RehearsalRun, time_s: float) -> np.ndarray:
    """The tip path (k, 3) LPS mm up to ``time_s``: recorded tips, then the replayed tip when
    ``time_s`` lies between samples."""
    done = run.tips_lps_mm[run.times_s <= time_s]
    if len(done) and sample_index(run.times_s, time_s) is None and time_s < run.times_s[-1]:
        done = np.vstack([done, run.pose_at(time_s)[:3, 3]])
    return np.array(done, dtype=np.float64).reshape(-1, 3)


@dataclass(frozen=True)
class PathComparison:
    """The planned trajectory beside the performed tip path.

    Attributes
    ----------
    planned_lps_mm : (m, 3) float64 ndarray
        The planned line: entry -> target (m = 2); for a placement planned by its pose only,
        from the first tip's projection onto the planned shaft line to the planned tip
        (m = 1 when they coincide).
    performed_lps_mm : (n, 3) float64 ndarray
        The recorded tips.
    distance_to_plan_mm : (n,) float64 ndarray
        Distance of each recorded tip to the planned approach: the planned line extended
        back beyond its start (the approach from outside the skin is on plan) and ending at
        the target (driving past it is off plan), mm.
    """

    planned_lps_mm: np.ndarray
    performed_lps_mm: np.ndarray
    distance_to_plan_mm: np.ndarray

    @property
    def max_distance_mm(self) -> float:
        """The largest distance to the planned approach (mm)."""
        return float(self.distance_to_plan_mm.max()) if len(self.distance_to_plan_mm) else 0.0


def approach_distance(points_lps_mm: np.ndarray, target_lps_mm: np.ndarray,
                      axis: np.ndarray) -> np.ndarray:
    """Distances (n,) mm of points (n, 3) to the half-line ending at ``target_lps_mm`` and
    coming along the unit ``axis`` (from behind: points ``target - s * axis``, s >= 0)."""
    offsets = np.asarray(points_lps_mm, dtype=np.float64) - target_lps_mm
    along = np.minimum(offsets @ axis, 0.0)
    return np.linalg.norm(offsets - along[:, None] * axis[None, :], axis=1)


def compare_paths(run: RehearsalRun, planned: InstrumentPlacement | None = None
                  ) -> PathComparison:
    """The planned approach of ``run`` beside its performed tip path.

    Parameters
    ----------
    run : RehearsalRun
        Its planned entry and target when recorded with them.
    planned : InstrumentPlacement, optional
        The planned placement, used when the run has no planned entry and target (its tip
        and shaft axis); without both, the first recorded pose stands for the plan.
    """
    tips = np.asarray(run.tips_lps_mm, dtype=np.float64).reshape(-1, 3)
    entry, target = run.planned_entry_lps_mm, run.planned_target_lps_mm
    if entry is not None and target is not None:
        start, end = np.asarray(entry, dtype=float), np.asarray(target, dtype=float)
        axis = end - start
        if np.linalg.norm(axis) > 0:
            axis = axis / np.linalg.norm(axis)
            return PathComparison(np.array([start, end]), tips,
                                  approach_distance(tips, end, axis))
    pose = planned.pose if planned is not None else pose_along(run.axes[0], run.tips_lps_mm[0])
    end, axis = pose[:3, 3], pose[:3, 2]
    back = min(float((tips[0] - end) @ axis), 0.0) if len(tips) else 0.0
    line = np.array([end + back * axis, end]) if back < 0 else end[None, :]
    return PathComparison(line, tips, approach_distance(tips, end, axis))
