"""Interactive rehearsal, headless: where a rehearsal starts and how driven poses are sampled.

The app (or any driver) moves the instrument at irregular moments (key presses, mouse drags);
:class:`PoseSampler` turns those moves into samples on a fixed clock grid (the physics rate),
which :func:`surgiplan.rehearsal.run.record_run` then scores like a scripted run. The clock is
passed in, so tests drive it deterministically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from surgiplan.case.model import Case
from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.rehearsal.run import placement_at
from surgiplan.rehearsal.script import RehearsalScript
from surgiplan.risk import evaluate_all
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.plan_check import CheckResult, check_case

PHYSICS_RATE_HZ = 30.0
"""Sampling rate of interactive rehearsals (physics.md section 4: at least 30 Hz)."""
START_BACK_MM = 10.0
"""How far outside the planned skin entry a rehearsal starts (mm, along the planned path)."""


@dataclass(frozen=True)
class ToolPose:
    """Where the instrument is.

    Attributes
    ----------
    tip_lps_mm : (3,) float64 ndarray
        Tip position, patient LPS mm.
    axis : (3,) float64 ndarray
        Unit shaft direction, handle -> tip.
    """

    tip_lps_mm: np.ndarray
    axis: np.ndarray

    @classmethod
    def of(cls, tip_lps_mm, axis) -> ToolPose:
        """A pose from any 3-vectors (the axis is normalised)."""
        tip = np.asarray(tip_lps_mm, dtype=np.float64).reshape(3).copy()
        direction = np.asarray(axis, dtype=np.float64).reshape(3)
        norm = float(np.linalg.norm(direction))
        if not (np.isfinite(tip).all() and np.isfinite(direction).all()) or norm < 1e-12:
            raise InputError("a tool pose needs a finite tip and a non-zero axis")
        return cls(tip, direction / norm)

    def same_as(self, other: ToolPose) -> bool:
        """Whether both poses are exactly equal."""
        return (np.array_equal(self.tip_lps_mm, other.tip_lps_mm)
                and np.array_equal(self.axis, other.axis))


def start_pose(placement: InstrumentPlacement, *, back_mm: float = START_BACK_MM) -> ToolPose:
    """The pose a rehearsal of ``placement`` starts from: the tip ``back_mm`` outside the
    planned skin entry, on the planned path, the shaft along the path (entry -> target).

    The trainee then has to enter at the planned entry and advance to the target. A placement
    planned without an entry and a target starts with its tip ``back_mm`` behind where its
    shaft enters (the tip pulled back along its own axis by its insertion depth plus
    ``back_mm``), so it too starts outside the body whenever its depth is right.

    Parameters
    ----------
    placement : InstrumentPlacement
        The planned placement.
    back_mm : float
        Distance outside the entry (mm, > 0).

    Returns
    -------
    ToolPose
        Tip (LPS mm) and unit axis (handle -> tip).
    """
    if back_mm <= 0:
        raise InputError(f"a rehearsal starts outside the body: back_mm must be > 0, "
                         f"got {back_mm}")
    if placement.entry_lps_mm is not None and placement.target_lps_mm is not None:
        entry = np.asarray(placement.entry_lps_mm, dtype=np.float64)
        path = np.asarray(placement.target_lps_mm, dtype=np.float64) - entry
        if np.linalg.norm(path) > 1e-9:
            axis = path / np.linalg.norm(path)
            return ToolPose.of(entry - back_mm * axis, axis)
    axis = placement.axis
    return ToolPose.of(placement.tip_lps_mm - (placement.insertion_depth_mm + back_mm) * axis,
                       axis)


def check_at(case: Case, planned: InstrumentPlacement, pose: ToolPose, *,
             target_structure: str | None, catalogue: Catalogue,
             cache: SimulationCache) -> CheckResult:
    """The plan checked with the rehearsed instrument at ``pose``, as
    :func:`~surgiplan.rehearsal.run.record_run` checks each sample (live feedback while
    driving).

    The instrument is :func:`~surgiplan.rehearsal.run.placement_at` the pose (its path is the
    last insertion depth of the shaft, ending at the tip) and keeps ``target_structure``, the
    planned one, so a tip driven into a vessel is a breach, not a new target.

    Parameters
    ----------
    case : Case
        Twin and plan (not changed; a copy of the plan is checked).
    planned : InstrumentPlacement
        The planned placement being rehearsed.
    pose : ToolPose
        Where the instrument is (LPS mm).
    target_structure : str or None
        The planned target structure (from a check of the plan as planned).
    catalogue, cache
        As for :func:`~surgiplan.simulation.plan_check.check_case`.
    """
    moved = placement_at(planned, pose.tip_lps_mm, pose.axis)
    plan = case.plan
    copy = Plan(incisions=dict(plan.incisions), instruments={**plan.instruments, moved.id: moved},
                landmarks=dict(plan.landmarks), measurements=dict(plan.measurements),
                thresholds=dict(plan.thresholds))
    result = check_case(replace(case, plan=copy), catalogue=catalogue, cache=cache)
    findings = result.context.instruments.get(moved.id)
    if (findings is not None and target_structure is not None
            and findings.target_structure != target_structure):
        findings.target_structure = target_structure
        result = replace(result, complications=evaluate_all(result.context))
    return result


class PoseSampler:
    """Samples a driven instrument's pose at a fixed rate.

    Sample ``k`` is taken at ``k / rate_hz`` seconds after :meth:`start`, with the pose in
    effect at that moment: the driver reports each move with :meth:`move` (the clock is read
    then) and calls :meth:`tick` now and then (e.g. from a timer) to record the samples that
    are due. A late tick records every missed grid time with the pose that held then, so the
    samples do not depend on when the ticks came.

    Parameters
    ----------
    rate_hz : float
        Sampling rate (Hz).
    clock : callable
        Returns the current time in seconds (monotonic); :func:`time.monotonic` by default.
    """

    def __init__(self, rate_hz: float = PHYSICS_RATE_HZ,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not rate_hz > 0:
            raise InputError(f"the sampling rate must be > 0 Hz, got {rate_hz}")
        self.rate_hz = float(rate_hz)
        self._clock = clock
        self._t0: float | None = None
        self._pose: ToolPose | None = None
        self._moves: list[tuple[float, ToolPose]] = []
        self._times: list[float] = []
        self._tips: list[np.ndarray] = []
        self._axes: list[np.ndarray] = []
        self._path_mm = 0.0

    # ---- driving ------------------------------------------------------------------------
    def start(self, pose: ToolPose) -> None:
        """Start the clock at ``pose``; sample 0 is taken now."""
        self._t0 = self._clock()
        self._pose = pose
        self._moves.clear()
        self._times, self._tips, self._axes = [], [], []
        self._path_mm = 0.0
        self._record(0.0, pose)

    def move(self, pose: ToolPose) -> None:
        """The instrument is at ``pose`` from now on."""
        self._require_started()
        self._moves.append((self.elapsed_s, pose))

    def tick(self) -> int:
        """Record the samples due by now; return how many were added."""
        self._require_started()
        due = math.floor(self.elapsed_s * self.rate_hz + 1e-9)
        return self._record_until(due)

    def finish(self) -> int:
        """Record the samples due, then the last pose at the next grid time if it was not
        sampled yet; return how many samples were added."""
        added = self.tick()
        if self._moves:
            added += self._record_until(len(self._times), flush=True)
        return added

    # ---- reading ------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._t0 is not None

    @property
    def elapsed_s(self) -> float:
        """Seconds since :meth:`start`."""
        self._require_started()
        return self._clock() - self._t0

    @property
    def pose(self) -> ToolPose:
        """The latest pose reported (sampled or not yet)."""
        self._require_started()
        return self._moves[-1][1] if self._moves else self._pose

    @property
    def count(self) -> int:
        return len(self._times)

    @property
    def times_s(self) -> np.ndarray:
        """(n,) sample times (s), ``k / rate_hz``."""
        return np.asarray(self._times, dtype=np.float64)

    @property
    def tips_lps_mm(self) -> np.ndarray:
        """(n, 3) sampled tip positions, LPS mm."""
        return np.asarray(self._tips, dtype=np.float64).reshape(-1, 3)

    @property
    def axes(self) -> np.ndarray:
        """(n, 3) sampled unit axes, handle -> tip."""
        return np.asarray(self._axes, dtype=np.float64).reshape(-1, 3)

    @property
    def path_length_mm(self) -> float:
        """Tip path length over the samples so far (mm)."""
        return self._path_mm

    def to_script(self, instrument: str) -> RehearsalScript:
        """The samples as a :class:`RehearsalScript` of placement ``instrument``."""
        self._require_started()
        return RehearsalScript.from_arrays(instrument, self.times_s, self.tips_lps_mm,
                                           self.axes)

    # ---- internals ----------------------------------------------------------------------
    def _require_started(self) -> None:
        if self._t0 is None:
            raise InputError("the pose sampler has not been started: call start(pose) first")

    def _record_until(self, last_k: int, *, flush: bool = False) -> int:
        """Record grid samples ``len(times) .. last_k``; ``flush`` applies every pending
        move to the last of them."""
        added = 0
        for k in range(len(self._times), last_k + 1):
            t = k / self.rate_hz
            while self._moves and ((flush and k == last_k) or self._moves[0][0] <= t + 1e-12):
                self._pose = self._moves.pop(0)[1]
            self._record(t, self._pose)
            added += 1
        return added

    def _record(self, time_s: float, pose: ToolPose) -> None:
        if self._tips:
            self._path_mm += float(np.linalg.norm(pose.tip_lps_mm - self._tips[-1]))
        self._times.append(float(time_s))
        self._tips.append(pose.tip_lps_mm.copy())
        self._axes.append(pose.axis.copy())
