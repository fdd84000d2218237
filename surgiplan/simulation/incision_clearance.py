"""How close an incision's cut comes to critical structures, at rest and on the deformed
anatomy.

The cut is the incision's traced path on its structure's surface swept along the inward
normal down to its depth (:func:`cut_samples`); its distance to a structure is that of the
nearest sample, 0 once a sample lies inside (:func:`closest_on_cut`). When retractors or
graspers push organs (:mod:`surgiplan.simulation.deformed_clearance`), the cut moves with the
organ it is drawn on (an incision on the liver moves with the liver: its samples are carried by
the organ's tet mesh, :func:`~surgiplan.simulation.carried.carry_points`) and the critical
structures move with the organs holding them; :func:`remeasure_incision` measures the distances
again on that deformed anatomy and tags them with the instruments that moved them.

Everything is in patient LPS millimetres.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from surgiplan.plan.incision import IncisionPath
from surgiplan.plan.trajectory import skin_normal
from surgiplan.risk.context import IncisionFindings, VesselDistance
from surgiplan.simulation.carried import carry_points
from surgiplan.simulation.collision import CollisionWorld
from surgiplan.simulation.deformed_clearance import MOVED_MM, DeformedAnatomy, OrganDeformation
from surgiplan.simulation.world_structure import WorldStructure
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.twin import PatientTwin, StructureModel

INCISION_DEPTH_SAMPLES = 5
"""Depths at which a cut is sampled, from the surface (0) down to the planned depth."""


def cut_samples(surface: SurfaceMesh, path: IncisionPath, *,
                depth_samples: int = INCISION_DEPTH_SAMPLES) -> np.ndarray:
    """Points of a cut: its traced path swept along the inward normal down to its depth.

    Parameters
    ----------
    surface : SurfaceMesh
        The surface the incision is drawn on, at rest, LPS mm.
    path : IncisionPath
        The traced cut (``n`` path points) and its depth (mm).
    depth_samples : int
        Depths sampled from the surface (0) to ``path.depth_mm``.

    Returns
    -------
    (depth_samples * n, 3) float64 ndarray
        The samples, LPS mm, depth by depth (the path itself first).
    """
    normals = np.array([skin_normal(surface, p) for p in path.path_lps_mm])
    fractions = np.linspace(0.0, 1.0, depth_samples)
    return (path.path_lps_mm[None, :, :]
            - fractions[:, None, None] * path.depth_mm * normals[None, :, :]).reshape(-1, 3)


def closest_on_cut(samples_lps_mm: np.ndarray, model: StructureModel, proxy: WorldStructure
                   ) -> VesselDistance:
    """How close a cut comes to one structure: 0 at the first sample inside it, else the
    smallest sample-to-proxy distance, with that sample (LPS mm).

    Parameters
    ----------
    samples_lps_mm : (p, 3) float ndarray
        The cut's samples (:func:`cut_samples`), LPS mm.
    model : StructureModel
        The structure (its collision proxy measures the distance).
    proxy : WorldStructure
        Its entry in a collision world (the inside test), same geometry as ``model``.
    """
    best = (np.inf, samples_lps_mm[0])
    for point in samples_lps_mm:
        if proxy.contains(point):
            best = (0.0, point)
            break
        distance = model.collision.distance_to_point(point).distance_mm
        if distance < best[0]:
            best = (distance, point)
    return VesselDistance(float(best[0]), tuple(map(float, best[1])))


def _carried_cut(twin: PatientTwin, organ: OrganDeformation | None, samples: np.ndarray
                 ) -> np.ndarray | None:
    """The cut's samples moved with the organ it is drawn on, or None when it did not move."""
    if organ is None:
        return None
    tets = twin.structure(organ.structure).physics.tet_mesh
    shift = carry_points(tets, organ.displacement_mm, samples).displacement_mm
    if np.linalg.norm(shift, axis=1).max(initial=0.0) < MOVED_MM:
        return None
    return samples + shift


def remeasure_incision(findings: IncisionFindings, anatomy: DeformedAnatomy,
                       twin: PatientTwin, world: CollisionWorld) -> IncisionFindings:
    """An incision's distances to critical structures measured on the deformed anatomy.

    The cut (:func:`cut_samples`) moves with the organ it is drawn on when a push deformed
    that organ (:func:`~surgiplan.simulation.carried.carry_points` on its tet mesh). Each
    distance in ``findings.vessel_distances`` whose structure moved, or all of them when the
    cut moved, is measured again (to the moved or the rest structure) and tagged with the
    instruments whose push moved the structure or the cut. Others keep their rest values.

    Parameters
    ----------
    findings : IncisionFindings
        The incision on the rest anatomy; not changed (a cache may hold it).
    anatomy : DeformedAnatomy
        The moved structures and the deformed organs.
    twin : PatientTwin
        The rest twin (the incision's surface, the organs' tet meshes, unmoved structures).
    world : CollisionWorld
        The rest collision world (inside tests of unmoved structures).

    Returns
    -------
    IncisionFindings
        ``findings`` itself when nothing it measures moved, else a copy with the distances
        measured on the deformed anatomy.
    """
    organ = anatomy.organs.get(findings.path.structure)
    moved = [name for name in findings.vessel_distances if name in anatomy.moved]
    if organ is None and not moved:
        return findings
    samples = cut_samples(twin.structure(findings.path.structure).surface, findings.path)
    carried = _carried_cut(twin, organ, samples)
    cut_by = () if carried is None else organ.instruments
    samples = samples if carried is None else carried
    distances = dict(findings.vessel_distances)
    for name in (findings.vessel_distances if cut_by else moved):
        structure = anatomy.moved.get(name)
        if structure is None:
            model, proxy, by = twin.structure(name), world.structure(name), cut_by
        else:
            model, proxy = structure.model, anatomy.world.structure(name)
            by = tuple(dict.fromkeys([*structure.deformed_by, *cut_by]))
        distances[name] = replace(closest_on_cut(samples, model, proxy), deformed_by=by)
    if not cut_by and not moved:
        return findings
    return replace(findings, vessel_distances=distances)
