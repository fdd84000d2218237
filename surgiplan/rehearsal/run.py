"""Record a rehearsal run by stepping a scripted driver through the case, and replay it.

For every sample the rehearsed placement is moved to the sampled pose (tip and axis, LPS mm),
the whole plan is checked as :func:`surgiplan.simulation.plan_check.check_case` does (one
:class:`SimulationCache` for the run, so the twin's BVHs and the other plan items are
simulated once; the moved instrument keeps its planned target structure), and what starts
is recorded as an event: contacts, complications about the rehearsed instrument (``time_s``
set), deformation peaks; each contact or complication event carries the worst value of its
episode (``peak``). A sample whose pose equals the previous one reuses its state (an idle
instrument is not simulated again). The metrics follow :mod:`surgiplan.rehearsal.metrics` and
:mod:`surgiplan.rehearsal.safety`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

import numpy as np

from surgiplan.case.model import Case, now_iso
from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Catalogue, load_catalogue
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.plan.placement import pose_along
from surgiplan.progress import ProgressCallback, report
from surgiplan.rehearsal.metrics import MotionMetrics, motion_metrics
from surgiplan.rehearsal.safety import (
    EpisodeTracker,
    RunEvent,
    SafetyMetric,
    SampleState,
    complication_key,
    safety_metrics,
    worse,
)
from surgiplan.rehearsal.script import RehearsalScript
from surgiplan.risk import Complication, RiskContext, evaluate_all
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.plan_check import simulate_plan
from surgiplan.twin.tissues import tissue


class UnknownInstrumentError(InputError):
    """The script names an instrument placement the plan does not hold."""


@dataclass
class RehearsalRun:
    """One recorded attempt of one instrument.

    Attributes
    ----------
    id : str
        Unique run id.
    instrument : str
        Placement id in the plan.
    instrument_type : str
        Catalogue instrument id.
    trainee : str
        Who drove it.
    started : str
        ISO 8601 UTC time of recording.
    times_s : (n,) float64 ndarray
        Sample times (s).
    tips_lps_mm : (n, 3) float64 ndarray
        Tip positions, LPS mm.
    axes : (n, 3) float64 ndarray
        Unit shaft directions, handle -> tip.
    planned_entry_lps_mm, planned_target_lps_mm : (3,) tuple or None
        The plan's path for this instrument (LPS mm).
    events : list of RunEvent
        What started during the run, by time.
    metrics : MotionMetrics
        Motion metrics.
    safety : list of SafetyMetric
        Safety metrics, each passing on its own.
    composite_score : float
        For information only (see :func:`composite_score`); never decides a pass.
    """

    id: str
    instrument: str
    instrument_type: str
    trainee: str
    started: str
    times_s: np.ndarray
    tips_lps_mm: np.ndarray
    axes: np.ndarray
    planned_entry_lps_mm: tuple[float, float, float] | None
    planned_target_lps_mm: tuple[float, float, float] | None
    metrics: MotionMetrics
    events: list[RunEvent] = field(default_factory=list)
    safety: list[SafetyMetric] = field(default_factory=list)
    composite_score: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether every safety metric passed."""
        return all(metric.passed for metric in self.safety)

    def pose_at(self, time_s: float) -> np.ndarray:
        """The instrument's (4, 4) tip pose at ``time_s`` (see :func:`pose_at`)."""
        return pose_at(self.times_s, self.tips_lps_mm, self.axes, time_s)


def placement_at(planned: InstrumentPlacement, tip_lps_mm: np.ndarray,
                 axis: np.ndarray) -> InstrumentPlacement:
    """The planned placement moved to a sampled pose.

    The pose is :func:`pose_along` (axis, tip). A placement planned along a path keeps its
    insertion depth: its path becomes the last ``insertion_depth_mm`` of the shaft, ending at
    the tip (so the structures crossed are those the shaft passes through now).
    """
    pose = pose_along(axis, tip_lps_mm)
    if planned.entry_lps_mm is None or planned.target_lps_mm is None:
        return replace(planned, pose_lps=pose)
    unit = pose[:3, 2]
    entry = pose[:3, 3] - planned.insertion_depth_mm * unit
    return replace(planned, pose_lps=pose, entry_lps_mm=tuple(map(float, entry)),
                   target_lps_mm=tuple(map(float, pose[:3, 3])))


def pose_at(times_s: np.ndarray, tips_lps_mm: np.ndarray, axes: np.ndarray,
            time_s: float) -> np.ndarray:
    """Replayed (4, 4) tip pose at ``time_s`` (s).

    At a sample time it is exactly the pose recorded there (``pose_along(axis, tip)``);
    between samples the tip is interpolated linearly and the axis along the great circle;
    before the first and after the last sample the end poses hold.
    """
    i = int(np.searchsorted(times_s, time_s, side="left"))
    if i < len(times_s) and times_s[i] == time_s:
        return pose_along(axes[i], tips_lps_mm[i])
    if i == 0 or i == len(times_s):
        j = 0 if i == 0 else len(times_s) - 1
        return pose_along(axes[j], tips_lps_mm[j])
    f = (time_s - times_s[i - 1]) / (times_s[i] - times_s[i - 1])
    tip = (1 - f) * tips_lps_mm[i - 1] + f * tips_lps_mm[i]
    return pose_along(_slerp(axes[i - 1], axes[i], f), tip)


def _slerp(u: np.ndarray, v: np.ndarray, f: float) -> np.ndarray:
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    angle = float(np.arctan2(np.linalg.norm(np.cross(u, v)), u @ v))
    if angle < 1e-9 or angle > np.pi - 1e-6:
        mixed = (1 - f) * u + f * v
        return mixed if np.linalg.norm(mixed) > 1e-9 else u
    return (np.sin((1 - f) * angle) * u + np.sin(f * angle) * v) / np.sin(angle)


def _mine(context: RiskContext, found: list[Complication], item_id: str) -> list[Complication]:
    """The complications about instrument ``item_id`` (clashes name either instrument)."""
    pairs = {(c.instrument_a, c.instrument_b) for c in context.clashes}
    return [c for c in found if c.item_id == item_id or (
        c.rule == "instrument_clash" and any(c.item_id == a and item_id == b
                                             and f"{a} and {b}" in c.message for a, b in pairs))]


def _sample_state(case: Case, planned_target: str | None, moved: InstrumentPlacement,
                  time_s: float, catalogue: Catalogue, cache: SimulationCache) -> SampleState:
    """Check the plan with the instrument moved; its contacts, complications and strain.

    The plan is simulated as ``check_case`` does (:func:`simulate_plan`), then the moved
    instrument keeps the plan's target structure (otherwise a tip driven into a vessel would
    make the vessel its target) and the rules run at ``time_s``.
    """
    plan = Plan(incisions=dict(case.plan.incisions),
                instruments={**case.plan.instruments, moved.id: moved},
                thresholds=case.plan.thresholds)
    context = simulate_plan(replace(case, plan=plan), catalogue=catalogue, cache=cache)
    context.time_s = float(time_s)
    findings = context.instruments.get(moved.id)
    contacts: dict[str, float] = {}
    if findings is not None:
        if planned_target is not None:
            findings.target_structure = planned_target
        contacts = {name: float(entry.depth_mm) for name, entry in findings.entered.items()}
        for name, clearance in findings.clearances.items():
            if clearance.distance_mm <= 0:
                contacts.setdefault(name, 0.0)
    strains = [(float(d.state.max_principal_strain.max()), d.structure)
               for d in cache.deformations.get(moved, [])]
    strain, where = max(strains, default=(0.0, None))
    return SampleState(contacts, _mine(context, evaluate_all(context), moved.id), strain, where)


@dataclass
class EpisodeLog:
    """Events of a run as its samples come: an event when a contact or a finding starts (as
    :class:`EpisodeTracker` debounces them), and each episode's worst value over all of its
    samples (:attr:`RunEvent.peak`)."""

    contacts: EpisodeTracker = field(default_factory=EpisodeTracker)
    findings: EpisodeTracker = field(default_factory=EpisodeTracker)
    events: list[RunEvent] = field(default_factory=list)
    current: dict[tuple, int] = field(default_factory=dict)
    """Episode key -> index in :attr:`events` of the episode it belongs to now."""
    peaks: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Event index -> (worst value, time s)."""

    def add(self, time_s: float, state: SampleState) -> None:
        """Record one sample's state at ``time_s`` (s)."""
        for name in self.contacts.starts(time_s, list(state.contacts)):
            self._open(("contact", name), RunEvent(
                time_s, "contact", name, f"contact with {name} starts", state.contacts[name]))
        by_key = {complication_key(c): c for c in state.complications}
        for key in self.findings.starts(time_s, list(by_key)):
            c = by_key[key]
            self._open(("finding", key), RunEvent(
                time_s, "complication", c.structures[0] if c.structures else None, c.message,
                c.value, c))
        for name, depth in state.contacts.items():
            self._follow(("contact", name), None, depth, time_s)
        for key, c in by_key.items():
            self._follow(("finding", key), c.rule, c.value, time_s)

    def _open(self, key: tuple, event: RunEvent) -> None:
        self.current[key] = len(self.events)
        self.events.append(event)

    def _follow(self, key: tuple, rule: str | None, value: float | None, time_s: float) -> None:
        index = self.current.get(key)
        if index is None or value is None:
            return
        known = self.peaks.get(index)
        if known is None or worse(rule, float(value), known[0]):
            self.peaks[index] = (float(value), float(time_s))

    def finished(self) -> list[RunEvent]:
        """The events with their episode peaks."""
        return [replace(e, peak=self.peaks[i][0], peak_time_s=self.peaks[i][1])
                if i in self.peaks else e for i, e in enumerate(self.events)]


def _peaks(times_s: np.ndarray, states: list[SampleState]) -> list[RunEvent]:
    """Deformation peaks: samples whose strain is a local maximum above 0."""
    strain = np.array([s.strain for s in states])
    out = []
    for i, value in enumerate(strain):
        before = strain[i - 1] if i > 0 else 0.0
        after = strain[i + 1] if i + 1 < len(strain) else 0.0
        if value > 0 and value > before and value >= after:
            out.append(RunEvent(float(times_s[i]), "deformation_peak",
                                states[i].strain_structure,
                                f"strain peaks at {value:.3f} in {states[i].strain_structure}",
                                float(value)))
    return out


def composite_score(metrics: MotionMetrics, safety: list[SafetyMetric]) -> float:
    """A 0-100 summary for information only (it never decides a pass).

    The mean of: economy of motion (capped at 1), 1 - idle ratio, tip accuracy
    max(0, 1 - error / 10 mm), axis accuracy max(0, 1 - deviation / 10 deg) and the fraction
    of safety metrics passed; undefined terms are left out.
    """
    terms = [1.0 - metrics.idle_ratio, sum(m.passed for m in safety) / max(len(safety), 1)]
    if metrics.economy_of_motion is not None:
        terms.append(min(1.0, metrics.economy_of_motion))
    if metrics.tip_error_mm is not None:
        terms.append(max(0.0, 1.0 - metrics.tip_error_mm / 10.0))
    if metrics.angular_deviation_deg is not None:
        terms.append(max(0.0, 1.0 - metrics.angular_deviation_deg / 10.0))
    return 100.0 * float(np.mean(terms))


def _structure_sets(case: Case) -> tuple[set[str], set[str]]:
    critical, rigid = set(), set()
    for name, model in case.twin.structures.items():
        if model.info.critical:
            critical.add(name)
        if not tissue(model.info.tissue).deformable:
            rigid.add(name)
    return critical, rigid


def record_run(case: Case, script: RehearsalScript, *, trainee: str = "anonymous",
               catalogue: Catalogue | None = None, cache: SimulationCache | None = None,
               progress: ProgressCallback | None = None) -> RehearsalRun:
    """Drive the script's instrument through the case and record the run.

    Parameters
    ----------
    case : Case
        Twin and plan; the plan is not changed (a working copy is checked).
    script : RehearsalScript
        The moves (times s, tips LPS mm, axes handle -> tip).
    trainee : str
        Who drove it.
    catalogue : Catalogue, optional
        Instrument catalogue (the shipped one by default).
    cache : SimulationCache, optional
        Reused between samples (and between runs when given).

    Returns
    -------
    RehearsalRun

    Raises
    ------
    UnknownInstrumentError
        When the plan has no placement ``script.instrument``.
    """
    planned = case.plan.instruments.get(script.instrument)
    if planned is None:
        known = ", ".join(case.plan.instruments) or "none"
        raise UnknownInstrumentError(f"the plan has no instrument {script.instrument!r}: use "
                                     f"one of its placement ids ({known})")
    catalogue = catalogue or load_catalogue()
    cache = cache if cache is not None else SimulationCache()
    planned_findings = simulate_plan(case, catalogue=catalogue, cache=cache).instruments
    planned_target = getattr(planned_findings.get(planned.id), "target_structure", None)
    log, states = EpisodeLog(), []
    tips, axes = script.tips_lps_mm, script.axes
    for i, t in enumerate(script.times_s):
        report(progress, i, len(script.times_s), f"Rehearsing {script.instrument}")
        if i > 0 and np.array_equal(tips[i], tips[i - 1]) and np.array_equal(axes[i],
                                                                            axes[i - 1]):
            states.append(states[-1])  # the instrument held still: same contacts and findings
        else:
            moved = placement_at(planned, tips[i], axes[i])
            states.append(_sample_state(case, planned_target, moved, float(t), catalogue,
                                        cache))
        log.add(float(t), states[-1])
    report(progress, len(script.times_s), len(script.times_s), "Rehearsal recorded")
    events = sorted(log.finished() + _peaks(script.times_s, states), key=lambda e: e.time_s)
    return _assemble(case, planned, script, trainee, events)


def _assemble(case: Case, planned: InstrumentPlacement, script: RehearsalScript, trainee: str,
              events: list[RunEvent]) -> RehearsalRun:
    entry, target = planned.entry_lps_mm, planned.target_lps_mm
    waypoints = [p for p in (entry, target) if p is not None] or [planned.tip_lps_mm]
    metrics = motion_metrics(script.times_s, script.tips_lps_mm, script.axes,
                             planned_waypoints_lps_mm=waypoints,
                             planned_target_lps_mm=target if target is not None
                             else planned.tip_lps_mm, planned_axis=planned.axis)
    critical, rigid = _structure_sets(case)
    safety = safety_metrics(events, critical=critical, rigid=rigid)
    return RehearsalRun(
        id=uuid.uuid4().hex[:12], instrument=planned.id, instrument_type=planned.instrument,
        trainee=trainee, started=now_iso(), times_s=script.times_s.copy(),
        tips_lps_mm=script.tips_lps_mm.copy(), axes=script.axes.copy(),
        planned_entry_lps_mm=None if entry is None else tuple(map(float, entry)),
        planned_target_lps_mm=None if target is None else tuple(map(float, target)),
        metrics=metrics, events=events, safety=safety,
        composite_score=composite_score(metrics, safety))
