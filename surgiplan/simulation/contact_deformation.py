"""Soft tissue pushed by a blunt instrument (retractor, grasper), solved quasi-statically.

The instrument's analytic primitives are evaluated at the structure's physics-mesh nodes;
nodes inside the instrument are prescribed to move out to its surface along the signed
distance gradient (an indentation constraint). The structure is held where it attaches to
bone (nodes within ATTACHMENT_MM of a rigid structure's surface) or, without bone nearby, on
its far side. The corotational FEM gives strain, contact force and pressure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.plan.catalogue import Instrument
from surgiplan.plan.primitives import instrument_sdf
from surgiplan.simulation.fem import CorotationalSolver, FemModel, fixed_nodes_near
from surgiplan.simulation.fem_model import FemState
from surgiplan.twin.tissues import tissue
from surgiplan.twin.twin import PatientTwin, StructureModel

ATTACHMENT_MM = 5.0
FAR_SIDE_FRACTION = 0.1
GRADIENT_STEP_MM = 1e-3
DEFAULT_OFFSET_MM = 1.0
PUSHING_CATEGORIES = ("retractor", "grasper")
CONTAINER_TISSUES = ("skin",)
"""The body outline holds the operative field: an instrument inside it works in the wound, it
does not indent the skin."""


@dataclass(frozen=True)
class ContactDeformation:
    """One structure deformed by an instrument.

    Attributes
    ----------
    structure : str
        The deformed structure.
    state : FemState
        Displacements (mm), strain per tet, contact force (N) and pressure (mmHg).
    max_strain_location_lps_mm : (3,) float ndarray
        Centroid of the most strained tet, LPS mm.
    """

    structure: str
    state: FemState
    max_strain_location_lps_mm: np.ndarray


def _push_out(instrument: Instrument, pose: np.ndarray, nodes: np.ndarray, offset_mm: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Nodes closer than ``offset_mm`` to the instrument (or inside it) and their displacements
    (mm) out to that distance from its surface.

    The offset is half the physics mesh's cell: a coarse mesh has no node inside a 2 mm
    retractor blade, yet the tissue around the blade must move.
    """
    sdf = instrument_sdf(instrument, pose, nodes) - offset_mm
    inside = np.flatnonzero(sdf < 0)
    if inside.size == 0:
        return inside, np.zeros((0, 3))
    points = nodes[inside]
    gradient = np.stack([
        (instrument_sdf(instrument, pose, points + GRADIENT_STEP_MM * axis)
         - instrument_sdf(instrument, pose, points - GRADIENT_STEP_MM * axis))
        / (2 * GRADIENT_STEP_MM) for axis in np.eye(3)], axis=1)
    gradient /= np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-12)
    return inside, gradient * (-sdf[inside])[:, None]


def _attachments(twin: PatientTwin, model: StructureModel, pushed: np.ndarray) -> np.ndarray:
    nodes = model.physics.tet_mesh.nodes_lps_mm
    rigid = [m.surface.vertices_lps_mm for m in twin.structures.values()
             if not tissue(m.info.tissue).deformable]
    fixed = np.zeros(len(nodes), dtype=bool)
    if rigid:
        fixed = fixed_nodes_near(model.physics.tet_mesh, np.vstack(rigid), ATTACHMENT_MM)
    fixed[pushed] = False
    if fixed.sum() < 3:  # no bone nearby: hold the side away from the instrument
        contact = nodes[pushed].mean(axis=0)
        distance = np.linalg.norm(nodes - contact, axis=1)
        fixed = distance >= np.quantile(distance, 1.0 - FAR_SIDE_FRACTION)
    return fixed


def deform_by_instrument(twin: PatientTwin, instrument: Instrument,
                         pose: np.ndarray) -> list[ContactDeformation]:
    """Every deformable structure the instrument indents, solved quasi-statically.

    Parameters
    ----------
    twin : PatientTwin
        Structures with physics meshes (rigid ones hold the attachments).
    instrument : Instrument
        A blunt instrument (retractor, grasper): its primitives push the tissue.
    pose : (4, 4) float ndarray
        The instrument's tip frame in LPS mm.
    """
    out = []
    for model in twin.structures.values():
        if model.physics is None or model.info.tissue in CONTAINER_TISSUES:
            continue
        nodes = model.physics.tet_mesh.nodes_lps_mm
        cell_mm = model.physics.tet_mesh.cell_size_mm
        offset_mm = 0.5 * cell_mm if np.isfinite(cell_mm) else DEFAULT_OFFSET_MM
        pushed, displacement = _push_out(instrument, pose, nodes, offset_mm)
        if pushed.size == 0:
            continue
        fixed = _attachments(twin, model, pushed)
        solver = CorotationalSolver(FemModel.from_tet_mesh(model.physics.tet_mesh, fixed=fixed))
        state = solver.solve_static((pushed, displacement), load_steps=4)
        worst = int(np.argmax(state.max_principal_strain))
        centroid = nodes[model.physics.tet_mesh.tets[worst]].mean(axis=0)
        out.append(ContactDeformation(model.name, state, centroid))
    return out
