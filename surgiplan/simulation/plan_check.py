"""Simulate a plan as placed and run the complication rules on it.

For every instrument placement: the path from entry to target and the structures it crosses,
collision at the placed pose (contacts, structures entered, clearance to every critical
structure, BVHs built once), the ablation zone of probes, and for blunt instruments
(retractors, graspers) the tissue they indent, solved with the corotational FEM (strain,
contact force and pressure), after which the critical structures and the instruments' target
structures those organs carry are moved with them and every instrument's clearance to, entry
into, and tip distance to (its target) them is measured again on the deformed anatomy
(:mod:`surgiplan.simulation.deformed_clearance`); for every incision: how close the
cut, swept down to its depth, comes to each critical structure (again on the deformed
anatomy when a push moved one of them or the organ the incision is drawn on,
:mod:`surgiplan.simulation.incision_clearance`); for every pair
of instruments: their clearance. The numbers fill a :class:`~surgiplan.risk.RiskContext` and
the rule registry turns them into complications.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from surgiplan.case.model import Case
from surgiplan.plan.catalogue import Catalogue, load_catalogue
from surgiplan.plan.incision import trace_incision
from surgiplan.plan.model import Incision, InstrumentPlacement
from surgiplan.plan.overrides import merge_overrides
from surgiplan.plan.trajectory import Trajectory, analyse_trajectory
from surgiplan.progress import ProgressCallback, report
from surgiplan.risk import Complication, RiskContext, evaluate_all, exit_code, load_thresholds
from surgiplan.risk.context import (
    AblationZone,
    ClashFindings,
    Clearance,
    Entry,
    IncisionFindings,
    InstrumentFindings,
    StrainFindings,
)
from surgiplan.simulation.check_cache import SimulationCache, working_copy
from surgiplan.simulation.clash import instrument_clash
from surgiplan.simulation.collision import CollisionReport, CollisionWorld
from surgiplan.simulation.contact_deformation import (
    PUSHING_CATEGORIES,
    ContactDeformation,
    deform_by_instrument,
)
from surgiplan.simulation.deformed_clearance import (
    DeformedAnatomy,
    organ_deformations,
    remeasure,
    tip_to_target,
)
from surgiplan.simulation.incision_clearance import (
    closest_on_cut,
    cut_samples,
    remeasure_incision,
)

ABLATION_ZONE_RADII_MM = (15.0, 15.0, 20.0)
"""Default probe zone (semi-axes, long axis along the shaft): a typical microwave zone of
about 30 x 30 x 40 mm [mem: manufacturers' zone charts vary with power and time]."""
ABLATION_ZONE_OFFSET_MM = 5.0
"""The zone centre lies this far behind the tip, along the shaft (mm)."""


@dataclass
class CheckResult:
    """A simulated plan and what the rules found.

    Attributes
    ----------
    context : RiskContext
        Every number the rules read.
    complications : list of Complication
        Critical first.
    deformed_vertices_lps_mm : dict of str to (n, 3) float ndarray
        Render-surface vertices (LPS mm) of every structure the plan deforms: organs pushed
        by blunt instruments and the critical and target structures they carry; others are
        at rest.
    """

    context: RiskContext
    complications: list[Complication] = field(default_factory=list)
    deformed_vertices_lps_mm: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """1 when something is critical, else 0 (the ``surgiplan check`` contract)."""
        return exit_code(self.complications)


def _target_structure(trajectory: Trajectory | None, twin) -> str | None:
    """The innermost structure holding the path's end (smallest volume among those)."""
    if trajectory is None:
        return None
    end = trajectory.length_mm - 1e-6
    holding = [c.structure for c in trajectory.crossings if c.enter_mm <= end <= c.leave_mm + 1e-3]
    holding = [name for name in holding if name in twin.structures]
    return min(holding, key=lambda n: twin.structure(n).properties.volume_ml, default=None)


def _entered(report: CollisionReport, trajectory: Trajectory | None,
             tip_lps_mm: np.ndarray) -> dict[str, Entry]:
    entered: dict[str, Entry] = {}
    if trajectory is not None:
        for crossing in trajectory.crossings:
            point = trajectory.entry_lps_mm + crossing.enter_mm * trajectory.direction
            depth = crossing.leave_mm - crossing.enter_mm
            previous = entered.get(crossing.structure)
            if previous is None or depth > previous.depth_mm:
                entered[crossing.structure] = Entry(float(depth), tuple(map(float, point)))
    for name, inside in report.inside.items():
        depth = report.penetration_mm(name)
        if (inside or depth > 0) and name not in entered:
            contact = next((c for c in report.contacts if c.structure == name), None)
            point = contact.point_lps_mm if contact is not None else tip_lps_mm
            entered[name] = Entry(float(depth), tuple(map(float, point)))
    return entered


def _clearances(report: CollisionReport) -> dict[str, Clearance]:
    return {name: Clearance(float(p.distance_mm), tuple(map(float, p.point_on_instrument_lps_mm)),
                            tuple(map(float, p.point_on_structure_lps_mm)))
            for name, p in report.proximity.items()}


def _ablation_zone(placement: InstrumentPlacement) -> AblationZone:
    axis = placement.axis
    centre = placement.tip_lps_mm - ABLATION_ZONE_OFFSET_MM * axis
    pose = placement.pose
    axes = (tuple(pose[:3, 0]), tuple(pose[:3, 1]), tuple(axis))
    return AblationZone(tuple(map(float, centre)), ABLATION_ZONE_RADII_MM, axes)


def instrument_findings(world: CollisionWorld, case: Case, placement: InstrumentPlacement,
                        catalogue: Catalogue) -> InstrumentFindings | None:
    """What one placed instrument does to the twin (``None`` for an unknown instrument)."""
    if placement.instrument not in catalogue:
        return None
    instrument = catalogue.get(placement.instrument)
    trajectory = None
    if placement.entry_lps_mm is not None and placement.target_lps_mm is not None:
        trajectory = analyse_trajectory(case.twin, placement.entry_lps_mm,
                                        placement.target_lps_mm)
    report = world.query(instrument, placement.pose)
    target = _target_structure(trajectory, case.twin)
    reach = None
    if target is not None and instrument.category not in PUSHING_CATEGORIES:
        reach = tip_to_target(case.twin.structure(target), placement.tip_lps_mm,
                              bool(report.inside.get(target)))
    findings = InstrumentFindings(
        placement=placement, instrument=instrument, target_structure=target,
        trajectory=trajectory, clearances=_clearances(report),
        entered=_entered(report, trajectory, placement.tip_lps_mm),
        ablation_zone=_ablation_zone(placement) if instrument.category == "probe" else None,
        tip_to_target=reach,
    )
    return findings


def _solve_pushes(case: Case, findings: InstrumentFindings,
                  cache: SimulationCache) -> list[ContactDeformation]:
    """The structures a blunt instrument indents, solved with the FEM (cached per pose)."""
    if findings.instrument.category not in PUSHING_CATEGORIES:
        return []
    placement = findings.placement
    if placement not in cache.deformations:
        cache.remember(cache.deformations, placement,
                       deform_by_instrument(case.twin, findings.instrument, placement.pose))
    return cache.deformations[placement]


def _deformations(case: Case, findings: InstrumentFindings, cache: SimulationCache
                  ) -> tuple[list[StrainFindings], list[ContactDeformation]]:
    """Indent the tissue a blunt instrument pushes; record force, pressure and strain.

    A pushed structure is deformed, not breached: it leaves ``entered``. Returns the strain
    findings and the solved deformations (for the clearances on the deformed anatomy).
    """
    strains = []
    deformations = _solve_pushes(case, findings, cache)
    for deformation in deformations:
        state = deformation.state
        findings.entered.pop(deformation.structure, None)
        if findings.contact_force_n is None or state.contact_force_n > findings.contact_force_n:
            findings.contact_structure = deformation.structure
            findings.contact_force_n = float(state.contact_force_n)
            pressure = state.contact_pressure_mmhg
            findings.contact_pressure_mmhg = None if not np.isfinite(pressure) else float(pressure)
        info = case.twin.structure(deformation.structure).info
        strains.append(StrainFindings(
            deformation.structure, info.tissue, float(state.max_principal_strain.max()),
            tuple(map(float, deformation.max_strain_location_lps_mm))))
    return strains, deformations


def deformed_anatomy(case: Case, world: CollisionWorld, context: RiskContext,
                     pushes: list[tuple[str, ContactDeformation]]) -> DeformedAnatomy:
    """Carry the critical structures and the instruments' targets with the pushed organs and
    measure every instrument against them again (:mod:`surgiplan.simulation.deformed_clearance`).

    Parameters
    ----------
    case : Case
        Twin and plan.
    world : CollisionWorld
        The rest world (its critical structures are carried).
    context : RiskContext
        Findings on the rest anatomy; clearances, entries and path crossings of the moved
        structures, and tip distances to moved targets, are replaced in place; incisions whose
        cut or critical structures moved get new findings (the rest ones, which a cache may
        hold, are left as they are).
    pushes : list of (str, ContactDeformation)
        Placement id of each pushing instrument and a structure it deformed.
    """
    targets = [f.tip_to_target.structure for f in context.instruments.values()
               if f.tip_to_target is not None]
    anatomy = DeformedAnatomy.build(case.twin, organ_deformations(pushes),
                                    critical=world.critical, targets=targets)
    for item_id, findings in context.instruments.items():
        pushed = [d.structure for pusher, d in pushes if pusher == item_id]
        remeasure(findings, anatomy, pushed=pushed)
    for item_id, incision in list(context.incisions.items()):
        context.incisions[item_id] = remeasure_incision(incision, anatomy, case.twin, world)
    return anatomy


def incision_findings(world: CollisionWorld, case: Case, incision: Incision
                      ) -> IncisionFindings | None:
    """How close the cut, swept from the surface down to its depth, comes to critical
    structures (``None`` when the incision's structure is missing)."""
    if incision.structure not in case.twin.structures:
        return None
    surface = case.twin.structure(incision.structure).surface
    path = trace_incision(incision, surface)
    samples = cut_samples(surface, path)
    distances = {name: closest_on_cut(samples, case.twin.structure(name), world.structure(name))
                 for name in world.critical}
    return IncisionFindings(path=path, vessel_distances=distances)


def _clashes(findings: dict[str, InstrumentFindings]) -> list[ClashFindings]:
    out = []
    for a, b in combinations(findings.values(), 2):
        clash = instrument_clash(a.instrument, a.placement.pose, b.instrument, b.placement.pose)
        midpoint = (clash.point_a_lps_mm + clash.point_b_lps_mm) / 2.0
        out.append(ClashFindings(a.placement.id, b.placement.id, float(clash.distance_mm),
                                 tuple(map(float, midpoint))))
    return out


def _instrument(world: CollisionWorld, case: Case, placement: InstrumentPlacement,
                catalogue: Catalogue, cache: SimulationCache) -> InstrumentFindings | None:
    if placement not in cache.instruments:
        cache.remember(cache.instruments, placement,
                       instrument_findings(world, case, placement, catalogue))
    return working_copy(cache.instruments[placement])


def _incision(world: CollisionWorld, case: Case, incision: Incision,
              cache: SimulationCache) -> IncisionFindings | None:
    if incision not in cache.incisions:
        cache.remember(cache.incisions, incision, incision_findings(world, case, incision))
    return cache.incisions[incision]


def _deformed_vertices(case: Case, pushes: list[tuple[str, ContactDeformation]],
                       anatomy: DeformedAnatomy | None) -> dict[str, np.ndarray]:
    """Render-surface vertices of the pushed organs (through their embedding) and of the
    critical and target structures they carry (a pushed organ that is also a target keeps
    its embedding's vertices)."""
    out = {}
    for name, organ in organ_deformations(pushes).items():
        physics = case.twin.structure(name).physics
        if physics is not None:
            out[name] = physics.embedding.deform(organ.displacement_mm)
    if anatomy is None or anatomy.world is None:
        return out
    for name, moved in anatomy.moved.items():
        if name not in out or name in anatomy.world.critical:
            out[name] = moved.model.surface.vertices_lps_mm
    return out


def _simulate(case: Case, catalogue: Catalogue, overrides: dict | None,
              progress: ProgressCallback | None, cache: SimulationCache
              ) -> tuple[RiskContext, dict[str, np.ndarray]]:
    world = cache.world_for(case.twin)
    merged = merge_overrides(case.plan.thresholds, overrides or {})
    context = RiskContext(twin=case.twin, plan=case.plan, catalogue=catalogue,
                          thresholds=load_thresholds(overrides=merged or None))
    items = list(case.plan.instruments.values()) + list(case.plan.incisions.values())
    pushes: list[tuple[str, ContactDeformation]] = []
    for done, item in enumerate(items):
        report(progress, done, len(items), f"Simulating {item.id}")
        if isinstance(item, InstrumentPlacement):
            findings = _instrument(world, case, item, catalogue, cache)
            if findings is not None:
                context.instruments[item.id] = findings
                strains, deformations = _deformations(case, findings, cache)
                context.strains += strains
                pushes += [(item.id, deformation) for deformation in deformations]
        else:
            findings = _incision(world, case, item, cache)
            if findings is not None:
                context.incisions[item.id] = findings
    anatomy = None
    if pushes:
        report(progress, len(items), len(items) + 1, "Measuring on the deformed anatomy")
        anatomy = deformed_anatomy(case, world, context, pushes)
    context.clashes = _clashes(context.instruments)
    report(progress, len(items), len(items), "Simulation done")
    return context, _deformed_vertices(case, pushes, anatomy)


def simulate_plan(case: Case, *, catalogue: Catalogue | None = None,
                  overrides: dict | None = None,
                  progress: ProgressCallback | None = None,
                  cache: SimulationCache | None = None) -> RiskContext:
    """Fill a :class:`RiskContext` for the case's plan as placed.

    Parameters
    ----------
    case : Case
        Twin and plan.
    catalogue : Catalogue, optional
        Instrument catalogue (the shipped one by default).
    overrides : dict, optional
        Threshold overrides (same layout as ``data/risk_thresholds.json``), merged over the
        plan's own (:attr:`Plan.thresholds`), which are used by default.
    cache : SimulationCache, optional
        Work kept from earlier checks of the same twin (the app's live check); only the plan
        items not seen before are simulated.
    """
    return _simulate(case, catalogue or load_catalogue(), overrides, progress,
                     cache if cache is not None else SimulationCache())[0]


def check_case(case: Case, *, catalogue: Catalogue | None = None,
               overrides: dict | None = None,
               progress: ProgressCallback | None = None,
               cache: SimulationCache | None = None) -> CheckResult:
    """Simulate the case's plan and evaluate every complication rule (see
    :func:`simulate_plan`)."""
    context, deformed = _simulate(case, catalogue or load_catalogue(), overrides, progress,
                                  cache if cache is not None else SimulationCache())
    return CheckResult(context, evaluate_all(context), deformed)
