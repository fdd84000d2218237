"""Clearances on the deformed twin: critical structures and instrument targets carried by the
organs instruments push.

A retractor or grasper indents an organ (:mod:`surgiplan.simulation.contact_deformation`); the
vessels inside or against that organ move with it, maybe toward a needle, and so does a tumour
a needle aims at, maybe away from its tip. Here:

1. the nodal displacements of every pushed organ are summed over the instruments pushing it
   (:func:`organ_deformations`; superposition of the quasi-static solves, a small-strain
   approximation when two instruments push the same organ);
2. every critical structure's, and every instrument's target structure's, render surface and
   collision-proxy vertices are carried by the organ nearest to each vertex
   (:func:`surgiplan.simulation.carried.carry_points`: inside the organ's tet mesh, or
   outside within about one cell of it; farther vertices stay put). A
   structure pushed itself is carried by its own mesh first;
3. a moved structure gets a new collision proxy (its BVH rebuilt: python-fcl 0.7 cannot refit)
   and a :class:`CollisionWorld` of the moved structures only (:class:`DeformedAnatomy`), in
   which only the moved critical structures report clearances (a non-critical target gets no
   clearance, so no safety-margin finding);
4. every instrument's clearance to, entry into and path crossings of the moved structures, and
   its tip's distance to its moved target (:class:`~surgiplan.risk.context.TipToTarget`), are
   measured again on that deformed geometry (:func:`remeasure`), tagged with the instruments
   that deformed it (``deformed_by``), so the safety-margin, breach, reach and ablation-margin
   rules see the deformed anatomy and say so (incisions:
   :mod:`surgiplan.simulation.incision_clearance`).

Everything is in patient LPS millimetres.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from surgiplan.plan.catalogue import Instrument
from surgiplan.plan.trajectory import Crossing, analyse_trajectory
from surgiplan.risk.context import Clearance, Entry, InstrumentFindings, TipToTarget
from surgiplan.simulation.carried import carry_points
from surgiplan.simulation.collision import CollisionReport, CollisionWorld
from surgiplan.simulation.contact_deformation import ContactDeformation
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.twin import PatientTwin, StructureModel

MOVED_MM = 1e-3
"""A structure (or a cut) whose points all move less than this (mm) is left as it is."""


@dataclass(frozen=True)
class OrganDeformation:
    """One organ's nodal displacement, summed over the instruments pushing it.

    Attributes
    ----------
    structure : str
        The organ (a twin structure with a physics mesh).
    displacement_mm : (n, 3) float64 ndarray
        Displacement of each node of its tet mesh, LPS mm.
    instruments : tuple of str
        Placement ids of the instruments pushing it, in plan order.
    """

    structure: str
    displacement_mm: np.ndarray
    instruments: tuple[str, ...]


@dataclass(frozen=True)
class MovedStructure:
    """A critical or target structure carried by deformed organs.

    Attributes
    ----------
    name : str
        The structure.
    model : StructureModel
        Its model with the deformed render surface and collision proxy (BVH rebuilt); the
        other fields are the rest model's.
    max_displacement_mm : float
        Largest vertex displacement, mm.
    carried_by : tuple of str
        Organs that moved some of its vertices.
    deformed_by : tuple of str
        Instruments (placement ids) whose push moved it.
    """

    name: str
    model: StructureModel
    max_displacement_mm: float
    carried_by: tuple[str, ...]
    deformed_by: tuple[str, ...]


def organ_deformations(pushes: Iterable[tuple[str, ContactDeformation]]
                       ) -> dict[str, OrganDeformation]:
    """Sum the solved deformations per organ.

    Parameters
    ----------
    pushes : iterable of (str, ContactDeformation)
        Placement id of the pushing instrument and one structure it deformed.
    """
    out: dict[str, OrganDeformation] = {}
    for item_id, deformation in pushes:
        name, displacement = deformation.structure, deformation.state.displacement_mm
        previous = out.get(name)
        if previous is not None:
            displacement = previous.displacement_mm + displacement
            item_ids = previous.instruments + (item_id,)
        else:
            item_ids = (item_id,)
        out[name] = OrganDeformation(name, np.asarray(displacement, dtype=np.float64), item_ids)
    return out


def _carried(twin: PatientTwin, organs: list[OrganDeformation], points: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Displacement ``(p, 3)`` of points by their nearest deformed organ, and the index of that
    organ in ``organs`` ``(p,)`` (-1 where none carries the point)."""
    displacement = np.zeros_like(points)
    best = np.full(len(points), np.inf)
    which = np.full(len(points), -1)
    for index, organ in enumerate(organs):
        tets = twin.structure(organ.structure).physics.tet_mesh
        carried = carry_points(tets, organ.displacement_mm, points)
        closer = carried.distance_mm < best
        displacement[closer] = carried.displacement_mm[closer]
        best[closer], which[closer] = carried.distance_mm[closer], index
    return displacement, which


def _moved(twin: PatientTwin, name: str, organs: Mapping[str, OrganDeformation]
           ) -> MovedStructure | None:
    model = twin.structure(name)
    ordered = sorted(organs.values(), key=lambda o: o.structure != name)  # its own mesh first
    surface_shift, on_surface = _carried(twin, ordered, model.surface.vertices_lps_mm)
    proxy_shift, on_proxy = _carried(twin, ordered, model.collision.vertices_lps_mm)
    largest = float(max(np.linalg.norm(surface_shift, axis=1).max(initial=0.0),
                        np.linalg.norm(proxy_shift, axis=1).max(initial=0.0)))
    if largest < MOVED_MM:
        return None
    used = sorted(set(on_surface[on_surface >= 0]) | set(on_proxy[on_proxy >= 0]))
    carriers = [ordered[i] for i in used]
    instruments = tuple(dict.fromkeys(i for organ in carriers for i in organ.instruments))
    surface = SurfaceMesh(model.surface.vertices_lps_mm + surface_shift, model.surface.faces)
    proxy = model.collision.update_vertices(model.collision.vertices_lps_mm + proxy_shift)
    return MovedStructure(name, replace(model, surface=surface, collision=proxy), largest,
                          tuple(o.structure for o in carriers), instruments)


@dataclass(eq=False)
class DeformedAnatomy:
    """The critical and target structures moved by the pushed organs, ready for instrument
    queries.

    Attributes
    ----------
    moved : dict of str to MovedStructure
        Moved critical and target structures by name (empty when nothing moved).
    world : CollisionWorld or None
        Collision world of the moved structures only (their rebuilt BVHs; clearances reported
        for the moved critical ones only); ``None`` when nothing moved.
    twin : PatientTwin or None
        A twin holding only the moved structures (for path crossings).
    organs : dict of str to OrganDeformation
        The deformed organs it was built from (they carry incisions drawn on them).
    """

    moved: dict[str, MovedStructure]
    world: CollisionWorld | None = None
    twin: PatientTwin | None = None
    organs: dict[str, OrganDeformation] = field(default_factory=dict)

    @classmethod
    def build(cls, twin: PatientTwin, organs: Mapping[str, OrganDeformation], *,
              critical: Iterable[str] | None = None,
              targets: Iterable[str] = ()) -> DeformedAnatomy:
        """Carry the critical and target structures of ``twin`` with the deformed ``organs``.

        Parameters
        ----------
        twin : PatientTwin
            The rest twin.
        organs : mapping of str to OrganDeformation
            Deformed organs by name (:func:`organ_deformations`).
        critical : iterable of str, optional
            Structures to carry whose clearance instruments report (default: those flagged
            critical).
        targets : iterable of str
            Instruments' target structures to carry too (no clearance reported unless also
            critical).
        """
        critical = ([n for n, m in twin.structures.items() if m.info.critical]
                    if critical is None else list(critical))
        names = list(dict.fromkeys([*critical, *(t for t in targets if t in twin.structures)]))
        moved = {}
        if organs:
            for name in names:
                structure = _moved(twin, name, organs)
                if structure is not None:
                    moved[name] = structure
        if not moved:
            return cls({}, organs=dict(organs))
        deformed = PatientTwin(twin.labelmap, {n: m.model for n, m in moved.items()})
        world = CollisionWorld(deformed, critical=[n for n in moved if n in critical])
        return cls(moved, world, deformed, dict(organs))

    def query(self, instrument: Instrument, pose: np.ndarray) -> CollisionReport:
        """Contacts, tip inside and clearances of an instrument against the moved structures."""
        if self.world is None:
            return CollisionReport()
        return self.world.query(instrument, pose)

    def crossings(self, entry_lps_mm: np.ndarray, target_lps_mm: np.ndarray) -> list[Crossing]:
        """Passages of the path entry -> target through the moved structures."""
        if self.twin is None:
            return []
        return analyse_trajectory(self.twin, entry_lps_mm, target_lps_mm).crossings


def _entry(report: CollisionReport, crossings: list[Crossing], name: str, findings
           ) -> Entry | None:
    """The deepest passage of the instrument through moved structure ``name``, or None."""
    best: Entry | None = None
    trajectory = findings.trajectory
    for crossing in (c for c in crossings if c.structure == name):
        point = trajectory.entry_lps_mm + crossing.enter_mm * trajectory.direction
        if best is None or crossing.length_mm > best.depth_mm:
            best = Entry(float(crossing.length_mm), tuple(map(float, point)))
    depth = report.penetration_mm(name)
    if (report.inside.get(name) or depth > 0) and best is None:
        contact = next((c for c in report.contacts if c.structure == name), None)
        point = contact.point_lps_mm if contact is not None else findings.placement.tip_lps_mm
        best = Entry(float(depth), tuple(map(float, point)))
    return best


def tip_to_target(model: StructureModel, tip_lps_mm: np.ndarray, inside: bool, *,
                  rest_distance_mm: float | None = None, moved: MovedStructure | None = None
                  ) -> TipToTarget:
    """The tip against target structure ``model``: signed distance to its collision proxy.

    Parameters
    ----------
    model : StructureModel
        The target at rest with its collision proxy, LPS mm (``moved`` replaces it).
    tip_lps_mm : (3,) float ndarray
        Instrument tip, LPS mm.
    inside : bool
        Whether the tip lies inside the proxy (the collision query's inside test).
    rest_distance_mm : float, optional
        The signed distance on the rest anatomy (default: this one).
    moved : MovedStructure, optional
        The target carried by deformed organs: measured on its moved proxy, tagged with the
        instruments and organs that moved it.
    """
    if moved is not None:
        model = moved.model
    nearest = model.collision.distance_to_point(tip_lps_mm)
    distance = -float(nearest.distance_mm) if inside else float(nearest.distance_mm)
    rest = distance if rest_distance_mm is None else float(rest_distance_mm)
    point = tuple(map(float, nearest.closest_point_lps_mm))
    if moved is None:
        return TipToTarget(model.name, distance, point, rest)
    return TipToTarget(model.name, distance, point, rest, moved.deformed_by, moved.carried_by,
                       model.surface.vertices_lps_mm)


def _retarget(findings: InstrumentFindings, anatomy: DeformedAnatomy,
              report: CollisionReport) -> None:
    """Measure the tip against its target again when the target moved."""
    rest = findings.tip_to_target
    moved = anatomy.moved.get(rest.structure) if rest is not None else None
    if moved is None:
        return
    findings.tip_to_target = tip_to_target(
        moved.model, findings.placement.tip_lps_mm, bool(report.inside.get(moved.name)),
        rest_distance_mm=rest.rest_distance_mm, moved=moved)


def remeasure(findings: InstrumentFindings, anatomy: DeformedAnatomy, *,
              pushed: Iterable[str] = ()) -> None:
    """Measure one instrument against the deformed structures again, in place.

    Its clearances to and entries into the moved structures, its path's crossings of them and
    its tip's distance to its target (when the target moved) are replaced by their values on
    the deformed anatomy, tagged with the instruments that deformed it. Other structures keep
    their rest values.

    Parameters
    ----------
    findings : InstrumentFindings
        The instrument's findings on the rest anatomy (changed in place).
    anatomy : DeformedAnatomy
        The moved structures.
    pushed : iterable of str
        Structures this instrument pushes itself: deformed, never entered.
    """
    if not anatomy.moved:
        return
    pushed = set(pushed)
    report = anatomy.query(findings.instrument, findings.placement.pose)
    crossings: list[Crossing] = []
    trajectory = findings.trajectory
    if trajectory is not None:
        crossings = anatomy.crossings(trajectory.entry_lps_mm, trajectory.target_lps_mm)
        kept = [c for c in trajectory.crossings if c.structure not in anatomy.moved]
        findings.trajectory = replace(trajectory, crossings=sorted(
            kept + crossings, key=lambda c: c.enter_mm))
    for name, moved in anatomy.moved.items():
        by = moved.deformed_by
        proximity = report.proximity.get(name)
        if proximity is not None:
            findings.clearances[name] = Clearance(
                float(proximity.distance_mm),
                tuple(map(float, proximity.point_on_instrument_lps_mm)),
                tuple(map(float, proximity.point_on_structure_lps_mm)), deformed_by=by)
        findings.entered.pop(name, None)
        entry = None if name in pushed else _entry(report, crossings, name, findings)
        if entry is not None:
            findings.entered[name] = replace(entry, deformed_by=by)
    _retarget(findings, anatomy, report)
