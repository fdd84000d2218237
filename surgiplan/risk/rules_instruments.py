"""Rules on placed instruments: breach, safety margin, blocked or out-of-reach paths (a target
a retractor moved off the tip included), force.

Each reads :class:`~surgiplan.risk.context.InstrumentFindings`; thresholds and their sources are
in ``data/risk_thresholds.json`` under the rule's id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from surgiplan.risk.model import Complication, Severity
from surgiplan.risk.registry import Rule, register
from surgiplan.risk.wording import (
    consequence,
    deformed_note,
    duration,
    instrument_noun,
    number,
    structure_name,
)

if TYPE_CHECKING:
    from surgiplan.risk.context import InstrumentFindings, RiskContext

END_TOLERANCE_MM = 1e-6
ADJACENT_TOLERANCE_MM = 2.0
"""Gap allowed between leaving an organ and entering the target structure carved out of it."""
"""A crossing left within this of the path's end holds the target."""


def _penetrations(findings: InstrumentFindings) -> dict[str, tuple[float, np.ndarray]]:
    """Deepest passage per structure: ``name -> (mm inside, point LPS mm)``.

    Trajectory crossings count their length inside the structure, located where the path
    enters it; :attr:`InstrumentFindings.entered` adds the simulation's penetrations.
    """
    deepest: dict[str, tuple[float, np.ndarray]] = {}
    trajectory = findings.trajectory
    if trajectory is not None:
        for crossing in trajectory.crossings:
            point = trajectory.entry_lps_mm + crossing.enter_mm * trajectory.direction
            if crossing.length_mm > deepest.get(crossing.structure, (-1.0, None))[0]:
                deepest[crossing.structure] = (crossing.length_mm, np.asarray(point))
    for name, entry in findings.entered.items():
        if entry.depth_mm > deepest.get(name, (-1.0, None))[0]:
            deepest[name] = (float(entry.depth_mm), np.asarray(entry.point_lps_mm, dtype=float))
    return deepest


def _crossing_critical(findings: InstrumentFindings, name: str) -> bool:
    trajectory = findings.trajectory
    return trajectory is not None and any(c.critical for c in trajectory.crossed(name))


def _holds_target(context: RiskContext, findings: InstrumentFindings, name: str) -> bool:
    """Whether structure ``name`` contains the instrument's target point.

    A label map gives each voxel one label, so a tumour is carved out of its liver: the path
    then leaves the liver where it enters the tumour. An organ the path leaves straight into
    the target structure (within ADJACENT_TOLERANCE_MM: the two surfaces are smoothed apart)
    holds the target too, and so does an organ whose push carried the target elsewhere
    (:attr:`TipToTarget.carried_by`: the path's crossings of the moved target no longer meet
    the organ's rest crossings).
    """
    target = findings.tip_to_target_structure()
    if target is not None and name in target.carried_by:
        return True
    trajectory = findings.trajectory
    if trajectory is not None:
        end = trajectory.length_mm - END_TOLERANCE_MM
        if any(c.leave_mm >= end for c in trajectory.crossed(name)):
            return True
        target_starts = [c.enter_mm for c in trajectory.crossed(findings.target_structure or "")
                         if c.leave_mm >= end]
        return any(abs(c.leave_mm - start) <= ADJACENT_TOLERANCE_MM
                   for c in trajectory.crossed(name) for start in target_starts)
    if context.twin is None or name not in context.twin.structures:
        return False
    from surgiplan.plan.trajectory import TRIMESH

    mesh = TRIMESH.get(context.twin.structures[name].surface)
    return bool(mesh.contains(findings.target_lps_mm()[None])[0])


def _forbidden(context: RiskContext, findings: InstrumentFindings, name: str,
               organ_tissues: set[str]) -> bool:
    """Entering ``name`` is a breach: a critical structure, or an organ not holding the target."""
    if name == findings.target_structure:
        return False
    critical = context.is_critical(name)
    if critical is None:
        critical = _crossing_critical(findings, name)
    if critical:
        return True
    return (context.tissue(name) in organ_tissues
            and not _holds_target(context, findings, name))


@register
class CriticalBreach(Rule):
    """An instrument enters a vessel, a nerve or an organ other than its target's."""

    id = "critical_breach"
    title = "Instrument enters a critical structure or a non-target organ"
    severities = (Severity.CRITICAL,)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        limits = self.thresholds(context)
        organs = set(limits.setting("organ_tissues"))
        found = []
        for findings in context.instruments.values():
            for name, (depth, point) in _penetrations(findings).items():
                tissue = context.tissue(name)
                tolerance = limits.value("tolerance_mm", structure=name, tissue=tissue)
                if depth <= tolerance or not _forbidden(context, findings, name, organs):
                    continue
                noun = instrument_noun(findings.instrument)
                message = (f"{noun} enters {structure_name(name)} ({number(depth)} mm inside): "
                           f"risk of {consequence(tissue)}")
                found.append(self.complication(
                    context, Severity.CRITICAL, value=depth, threshold=tolerance, unit="mm",
                    message=message, structures=(name,), location_lps_mm=point,
                    item_id=findings.item_id))
        return found


@register
class SafetyMargin(Rule):
    """An instrument passes closer to a critical structure than its safety margin.

    Clearances are surface to surface (the instrument radius already subtracted by whoever
    computed them). Only critical structures (twin flag), structures with a ``per_structure``
    margin, and structures the twin does not know are checked; the target structure and
    structures the instrument enters (reported by ``critical_breach``) are skipped.
    """

    id = "safety_margin"
    title = "Instrument too close to a critical structure"
    severities = (Severity.WARNING, Severity.CRITICAL)

    def _checked(self, context: RiskContext, findings: InstrumentFindings, name: str) -> bool:
        if name == findings.target_structure or name in _penetrations(findings):
            return False
        overridden = name in self.thresholds(context).per.get("per_structure", {})
        return context.is_critical(name) is not False or overridden

    def evaluate(self, context: RiskContext) -> list[Complication]:
        limits = self.thresholds(context)
        found = []
        for findings in context.instruments.values():
            for name, clearance in findings.clearances.items():
                if not self._checked(context, findings, name):
                    continue
                tissue = context.tissue(name)
                warn = limits.value("warning_mm", structure=name, tissue=tissue)
                crit = limits.value("critical_mm", structure=name, tissue=tissue)
                distance = float(clearance.distance_mm)
                if distance >= warn:
                    continue
                severity = Severity.CRITICAL if distance < crit else Severity.WARNING
                limit = (f"minimum {number(warn)} mm" if severity is Severity.WARNING else
                         f"minimum {number(warn)} mm, critical below {number(crit)} mm")
                message = (f"{instrument_noun(findings.instrument)} passes {number(distance)} mm "
                           f"from {structure_name(name)} ({limit}): risk of "
                           f"{consequence(tissue)}")
                found.append(self.complication(
                    context, severity, value=distance,
                    threshold=crit if severity is Severity.CRITICAL else warn, unit="mm",
                    message=message, structures=(name,),
                    location_lps_mm=clearance.structure_point_lps_mm, item_id=findings.item_id))
        return found


def _path_length_mm(findings: InstrumentFindings) -> float | None:
    """Length the instrument must reach: trajectory, entry -> target, or insertion depth."""
    if findings.trajectory is not None:
        return float(findings.trajectory.length_mm)
    placement = findings.placement
    if placement.entry_lps_mm is not None and placement.target_lps_mm is not None:
        return float(np.linalg.norm(np.subtract(placement.target_lps_mm,
                                                placement.entry_lps_mm)))
    return float(placement.insertion_depth_mm) if placement.insertion_depth_mm > 0 else None


@register
class TrajectoryBlocked(Rule):
    """The path crosses bone, is longer than the instrument reaches, or a retractor's push
    moves the target off the tip.

    The last reads :attr:`InstrumentFindings.tip_to_target` (of the target structure):
    critical when the tip, inside its target at rest, lies outside it on the deformed anatomy
    (threshold 0 mm: the tip is outside or it is not; no tolerance is added).
    """

    id = "trajectory_blocked"
    title = "Trajectory blocked by bone or out of reach"
    severities = (Severity.WARNING, Severity.CRITICAL)

    def _blocked(self, context: RiskContext, findings: InstrumentFindings) -> list[Complication]:
        limits = self.thresholds(context)
        blocking = set(limits.setting("blocking_tissues"))
        trajectory = findings.trajectory
        if trajectory is None or findings.instrument.category in limits.setting(
                "exempt_categories"):
            return []
        found, seen = [], set()
        for crossing in trajectory.crossings:
            name, tissue = crossing.structure, context.tissue(crossing.structure)
            if tissue not in blocking or name == findings.target_structure or name in seen:
                continue
            seen.add(name)
            point = trajectory.entry_lps_mm + crossing.enter_mm * trajectory.direction
            message = (f"{instrument_noun(findings.instrument)} path passes "
                       f"{number(crossing.length_mm)} mm through {structure_name(name)} "
                       f"({tissue}), {number(crossing.enter_mm)} mm from the entry: the "
                       "trajectory is blocked")
            found.append(self.complication(
                context, Severity.CRITICAL, value=crossing.length_mm, threshold=0.0, unit="mm",
                message=message, structures=(name,), location_lps_mm=point,
                item_id=findings.item_id))
        return found

    def _reach(self, context: RiskContext, findings: InstrumentFindings) -> list[Complication]:
        length = _path_length_mm(findings)
        if length is None:
            return []
        working = float(findings.instrument.working_length_mm)
        reserve = self.thresholds(context).value("reserve_warning_mm")
        name = findings.instrument.name
        if length > working:
            severity, threshold = Severity.CRITICAL, working
            message = (f"The path is {number(length)} mm long but the {name} reaches "
                       f"{number(working)} mm: the target is out of reach")
        elif working - length < reserve:
            severity, threshold = Severity.WARNING, working - reserve
            message = (f"The path is {number(length)} mm long: only {number(working - length)} "
                       f"mm of the {name}'s {number(working)} mm working length is left "
                       f"(keep {number(reserve)} mm in hand)")
        else:
            return []
        return [self.complication(
            context, severity, value=length, threshold=threshold, unit="mm", message=message,
            structures=tuple(s for s in [findings.target_structure] if s),
            location_lps_mm=findings.target_lps_mm(), item_id=findings.item_id)]

    def _missed(self, context: RiskContext, findings: InstrumentFindings) -> list[Complication]:
        target = findings.tip_to_target_structure()
        if target is None or not target.moved_away:
            return []
        message = (f"{instrument_noun(findings.instrument)} tip lies "
                   f"{number(target.distance_mm)} mm outside {structure_name(target.structure)}"
                   f" ({number(-target.rest_distance_mm)} mm inside it at rest): the target is "
                   f"out of reach as placed{deformed_note(context, target.deformed_by)}")
        return [self.complication(
            context, Severity.CRITICAL, value=target.distance_mm, threshold=0.0, unit="mm",
            message=message, structures=(target.structure,),
            location_lps_mm=target.point_lps_mm, item_id=findings.item_id)]

    def evaluate(self, context: RiskContext) -> list[Complication]:
        found = []
        for findings in context.instruments.values():
            found += (self._blocked(context, findings) + self._reach(context, findings)
                      + self._missed(context, findings))
        return found


def _level(value: float, warn: float, crit: float) -> tuple[Severity, float] | None:
    """Severity and crossed threshold when ``value`` exceeds ``warn`` or ``crit``."""
    if value > crit:
        return Severity.CRITICAL, crit
    if value > warn:
        return Severity.WARNING, warn
    return None


@register
class ContactForce(Rule):
    """Excessive contact force, or retraction pressure too high or held too long."""

    id = "contact_force"
    title = "Excessive contact force or retraction pressure"
    severities = (Severity.WARNING, Severity.CRITICAL)

    def evaluate(self, context: RiskContext) -> list[Complication]:
        found = []
        for findings in context.instruments.values():
            found += self._findings(context, findings)
        return found

    def _findings(self, context: RiskContext, findings: InstrumentFindings) -> list[Complication]:
        limits = self.thresholds(context)
        name = findings.contact_structure
        keys = {"structure": name, "tissue": context.tissue(name) if name else None}
        where = structure_name(name) if name else "the tissue"
        noun = instrument_noun(findings.instrument)
        checks = [
            (findings.contact_force_n, "force_warning_n", "force_critical_n", "N",
             f"{noun} pushes {{value}} N on {where}", consequence(keys["tissue"])),
            (findings.contact_pressure_mmhg, "pressure_warning_mmhg", "pressure_critical_mmhg",
             "mmHg", f"{noun} presses {{value}} mmHg on {where}", "ischaemia"),
        ]
        found = []
        for value, warn_key, crit_key, unit, text, risk in checks:
            if value is None:
                continue
            level = _level(float(value), limits.value(warn_key, **keys),
                           limits.value(crit_key, **keys))
            if level is None:
                continue
            message = (f"{text.format(value=number(value))} (maximum "
                       f"{number(limits.value(warn_key, **keys))} {unit}): risk of {risk}")
            found.append(self.complication(
                context, level[0], value=float(value), threshold=level[1], unit=unit,
                message=message, structures=tuple(s for s in [name] if s),
                location_lps_mm=findings.placement.tip_lps_mm, item_id=findings.item_id))
        return found + self._duration(context, findings, keys, where)

    def _duration(self, context: RiskContext, findings: InstrumentFindings, keys: dict,
                  where: str) -> list[Complication]:
        limits = self.thresholds(context)
        held = findings.contact_duration_s
        limit = limits.value("duration_critical_s", **keys)
        if held is None or float(held) <= limit:
            return []
        pressure = limits.value("pressure_warning_mmhg", **keys)
        message = (f"{instrument_noun(findings.instrument)} held above {number(pressure)} mmHg "
                   f"on {where} for {duration(held)} (maximum {duration(limit)}): risk of "
                   "ischaemia; release the retractor intermittently")
        name = findings.contact_structure
        return [self.complication(
            context, Severity.CRITICAL, value=float(held), threshold=limit, unit="s",
            message=message, structures=tuple(s for s in [name] if s),
            location_lps_mm=findings.placement.tip_lps_mm, item_id=findings.item_id)]
