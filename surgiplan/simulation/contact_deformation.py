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
BULK_CELLS = 3.0
"""Radius (cells) of the neighbourhood whose centroid gives the approach direction."""
BACKWARD_COSINE = -0.5
"""A node whose push out of the instrument points against the approach more than this (cosine)
is carried through to the instrument's front."""
MARCH_STEP_MM = 0.1
MARCH_LIMIT_MM = 60.0
"""Sampling of the march along the approach through the instrument, mm."""
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


def _sdf_gradient(instrument: Instrument, pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Unit gradients ``(p, 3)`` of the instrument's signed distance at points (central
    differences): the direction out of the instrument by its nearest surface."""
    gradient = np.stack([
        (instrument_sdf(instrument, pose, points + GRADIENT_STEP_MM * axis)
         - instrument_sdf(instrument, pose, points - GRADIENT_STEP_MM * axis))
        / (2 * GRADIENT_STEP_MM) for axis in np.eye(3)], axis=1)
    return gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-12)


def _approach(nodes: np.ndarray, touched: np.ndarray, cell_mm: float) -> np.ndarray:
    """Unit direction ``(3,)`` into the organ at the contact: from the touched nodes' centroid
    to the centroid of the nodes within BULK_CELLS cells of it (the local bulk)."""
    centre = nodes[touched].mean(axis=0)
    near = np.linalg.norm(nodes - centre, axis=1) <= BULK_CELLS * cell_mm
    direction = nodes[near].mean(axis=0) - centre
    norm = float(np.linalg.norm(direction))
    if norm < 1e-9:  # the contact sits in the middle of the bulk: toward the organ centroid
        direction, norm = nodes.mean(axis=0) - centre, float(np.linalg.norm(nodes.mean(axis=0)
                                                                             - centre))
    return direction / max(norm, 1e-12)


def _march(instrument: Instrument, pose: np.ndarray, points: np.ndarray,
           direction: np.ndarray, offset_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Distances along ``direction`` from each point ``(p, 3)`` to where it comes within
    ``offset_mm`` of the instrument and to where, past it, it is that far again: ``(p,)``
    each, inf where the march never reaches the instrument (within MARCH_LIMIT_MM)."""
    steps = np.arange(0.0, MARCH_LIMIT_MM + MARCH_STEP_MM, MARCH_STEP_MM)
    samples = points[:, None, :] + steps[None, :, None] * direction
    sdf = instrument_sdf(instrument, pose, samples.reshape(-1, 3)).reshape(len(points), -1)
    inside = sdf < offset_mm
    reached = inside.any(axis=1)
    entered = np.maximum.accumulate(inside, axis=1)
    out = entered & ~inside
    enter = np.where(reached, steps[np.argmax(inside, axis=1)], np.inf)
    leave = np.where(out.any(axis=1), steps[np.argmax(out, axis=1)], steps[-1])
    return enter, np.where(reached, leave, np.inf)


def _push_out(instrument: Instrument, pose: np.ndarray, nodes: np.ndarray, offset_mm: float,
              cell_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes the instrument pushes and their displacements (mm).

    Nodes closer than ``offset_mm`` to the instrument (or inside it) move out to that distance
    from its surface along the signed-distance gradient. The offset is half the physics
    mesh's cell: a coarse mesh has no node inside a 2 mm retractor blade, yet the tissue around
    the blade must move. A blade pressed flat onto an organ is thinner than a cell, so the
    surface nodes it has passed are nearer its back face: their gradient points out of the
    organ (against the approach, :func:`_approach`). Those nodes, and the nodes up to one cell
    behind them the blade swept past, are carried through to its front instead, in their
    order along the approach (between a quarter and three quarters of the offset in front of
    it, behind the nodes it pushes directly), so the tissue is pressed, never cut.
    """
    sdf = instrument_sdf(instrument, pose, nodes) - offset_mm
    inside = np.flatnonzero(sdf < 0)
    if inside.size == 0:
        return inside, np.zeros((0, 3))
    gradient = _sdf_gradient(instrument, pose, nodes[inside])
    displacement = gradient * (-sdf[inside])[:, None]
    approach = _approach(nodes, inside, cell_mm)
    backward = gradient @ approach < BACKWARD_COSINE
    if not backward.any():
        return inside, displacement
    near = np.flatnonzero((sdf >= 0) & (sdf < cell_mm))
    swept = near[_march(instrument, pose, nodes[near], approach, offset_mm)[0] <= cell_mm]
    carried = np.concatenate([inside[backward], swept])
    exits = _march(instrument, pose, nodes[carried], approach, offset_mm)[1]
    along = nodes[carried] @ approach
    rank = (along - along.min()) / max(float(np.ptp(along)), 1e-9)
    shift = exits - offset_mm * (0.75 - 0.5 * rank)
    pushed = np.concatenate([inside[~backward], carried])
    moves = np.concatenate([displacement[~backward], shift[:, None] * approach])
    return pushed, moves


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
        pushed, displacement = _push_out(instrument, pose, nodes, offset_mm,
                                         2.0 * offset_mm)
        if pushed.size == 0:
            continue
        fixed = _attachments(twin, model, pushed)
        solver = CorotationalSolver(FemModel.from_tet_mesh(model.physics.tet_mesh, fixed=fixed))
        state = solver.solve_static((pushed, displacement), load_steps=4)
        worst = int(np.argmax(state.max_principal_strain))
        centroid = nodes[model.physics.tet_mesh.tets[worst]].mean(axis=0)
        out.append(ContactDeformation(model.name, state, centroid))
    return out
