"""Moving geometry: an instrument swept between two poses, and deforming surfaces.

Swept checks (:func:`swept_query`). python-fcl's continuous collision against a ``BVHModel``
segfaults (python-fcl issue 10), so the motion is checked without it, in two ways that both
must miss for a move to pass:

1. conservative substepping: the pose is interpolated (tip translated linearly, rotation
   slerped about the tip) in ``n`` equal substeps, with ``n`` chosen so that no point of the
   instrument moves more than its thinnest radius between substeps (``|dt| + angle * reach <=
   n * thinnest``, capped at ``max_substeps``); the first substep in contact is bisected;
2. the tip's path (a straight segment under this interpolation) is cast against every
   structure's proxy (Embree), so a sharp tip crossing a thin vessel registers even in one
   huge step.

Deforming surfaces (:func:`surface_penetrations`): the instrument's analytic signed distance
(:mod:`surgiplan.plan.primitives`) is evaluated at the deformed vertices, so no BVH is rebuilt;
for thin tools, mesh edges crossing a part with both ends outside it and triangles pierced by
a capsule or cone axis are reported too (physics.md 2.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Instrument, Primitive
from surgiplan.plan.primitives import primitive_sdf
from surgiplan.simulation.collision import CollisionWorld, Contact
from surgiplan.simulation.instrument_geometry import (
    InstrumentGeometry,
    instrument_geometry,
    rigid_pose,
)

GRADIENT_STEP_MM = 1e-4
"""Central-difference step of the signed-distance gradient."""


@dataclass(frozen=True)
class SweptReport:
    """An instrument moved from one pose to another against the world.

    Attributes
    ----------
    hit : bool
        Whether any tested structure is touched anywhere along the motion.
    first_structure : str or None
        The structure touched first.
    first_fraction : float or None
        Where along the motion it is first touched, 0 (start pose) .. 1 (end pose).
    touched : dict of str to float
        Every structure touched and the fraction where it is first touched, in that order
        (0 for structures already touched at the start).
    contacts : list of Contact
        Contacts with ``first_structure`` at ``first_fraction`` (for a contact found only by the
        tip-path test: one contact at the crossing, penetration 0).
    first_pose : (4, 4) float64 ndarray or None
        The instrument pose at ``first_fraction``.
    substeps : int
        Substeps checked.
    step_mm : float
        Upper bound of any instrument point's motion per substep, mm (at most the thinnest
        radius unless ``max_substeps`` capped the count).
    """

    hit: bool
    first_structure: str | None
    first_fraction: float | None
    touched: dict[str, float] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    first_pose: np.ndarray | None = None
    substeps: int = 0
    step_mm: float = 0.0


class _Motion:
    """Poses between two rigid poses: tip translated linearly, rotation slerped."""

    def __init__(self, start: np.ndarray, end: np.ndarray) -> None:
        self.start, self.end = start, end
        self.rotvec = Rotation.from_matrix(start[:3, :3].T @ end[:3, :3]).as_rotvec()
        self.angle = float(np.linalg.norm(self.rotvec))

    def at(self, fraction: float) -> np.ndarray:
        pose = np.eye(4)
        turn = Rotation.from_rotvec(fraction * self.rotvec).as_matrix()
        pose[:3, :3] = self.start[:3, :3] @ turn
        pose[:3, 3] = self.start[:3, 3] + fraction * (self.end[:3, 3] - self.start[:3, 3])
        return pose

    def travel_mm(self, reach_mm: float) -> float:
        """Upper bound of any instrument point's path length, mm."""
        return float(np.linalg.norm(self.end[:3, 3] - self.start[:3, 3])) + self.angle * reach_mm


def swept_query(world: CollisionWorld, instrument: Instrument | InstrumentGeometry,
                pose_from: Any, pose_to: Any, *, structures: Sequence[str] | None = None,
                max_substeps: int = 2000, bisections: int = 10) -> SweptReport:
    """Contacts of an instrument moving from ``pose_from`` to ``pose_to`` (no tunnelling).

    Parameters
    ----------
    world : CollisionWorld
        The structures.
    instrument : Instrument or InstrumentGeometry
        The moving instrument.
    pose_from, pose_to : (4, 4) float array
        Rigid tip frame -> LPS mm at the start and at the end of the motion.
    structures : sequence of str, optional
        Structures to test (default: all in the world), e.g. ``world.critical``.
    max_substeps : int
        Cap on the substeps (a cap below the conservative count is reported by ``step_mm``;
        the tip-path test still applies).
    bisections : int
        Bisections of the first substep in contact (fraction resolution 2**-bisections / n).

    Returns
    -------
    SweptReport
        What is touched along the motion, and the first contact.
    """
    if max_substeps < 1 or bisections < 0:
        raise InputError("max_substeps must be at least 1 and bisections at least 0")
    geometry = instrument_geometry(instrument)
    motion = _Motion(rigid_pose(pose_from, "pose_from"), rigid_pose(pose_to, "pose_to"))
    entries = world.selected(structures)
    travel = motion.travel_mm(geometry.reach_mm)
    n = int(min(max(np.ceil(travel / geometry.thinnest_mm), 1), max_substeps))
    touched: dict[str, float] = {}
    crossings: dict[str, tuple[float, int]] = {}
    for entry in entries:
        crossing = entry.first_crossing(motion.start[:3, 3], motion.end[:3, 3])
        if crossing is not None:
            crossings[entry.name] = crossing
    remaining = list(entries)
    for k in range(n + 1):
        for name in world.touching(geometry, motion.at(k / n), remaining):
            low = (k - 1) / n if k else 0.0
            touched[name] = _bisect(world, geometry, motion, name, low, k / n, bisections)
        remaining = [e for e in remaining  # done once touched or once past the tip's crossing
                     if e.name not in touched and crossings.get(e.name, (2.0,))[0] > k / n]
        if not remaining:
            break
    for name, (fraction, _) in crossings.items():
        touched[name] = min(fraction, touched.get(name, np.inf))
    touched = dict(sorted(touched.items(), key=lambda item: item[1]))
    return _report(world, geometry, motion, touched, crossings, n, travel / n)


def _bisect(world: CollisionWorld, geometry: InstrumentGeometry, motion: _Motion, name: str,
            low: float, high: float, bisections: int) -> float:
    """Smallest fraction in (low, high] found in contact with ``name`` (high is in contact)."""
    entry = [world.structure(name)]
    if high <= 0.0:
        return 0.0
    for _ in range(bisections):
        middle = 0.5 * (low + high)
        if world.touching(geometry, motion.at(middle), entry):
            high = middle
        else:
            low = middle
    return high


def _report(world: CollisionWorld, geometry: InstrumentGeometry, motion: _Motion,
            touched: dict[str, float], crossings: dict, substeps: int,
            step_mm: float) -> SweptReport:
    if not touched:
        return SweptReport(False, None, None, {}, [], None, substeps, step_mm)
    name, fraction = next(iter(touched.items()))
    pose = motion.at(fraction)
    contacts = [c for c in world.query(geometry, pose, structures=[name]).contacts
                if c.structure == name]
    if not contacts and name in crossings:
        entry = world.structure(name)
        triangle = crossings[name][1]
        contacts = [Contact(name, geometry.tip_part, 0.0, pose[:3, 3].copy(),
                            entry.face_normals[triangle].copy(), triangle, 0.0)]
    return SweptReport(True, name, fraction, touched, contacts, pose, substeps, step_mm)


@dataclass(frozen=True)
class PenetrationResult:
    """Where an instrument penetrates a (deforming) triangle surface.

    Attributes
    ----------
    vertex_indices : (k,) int64 ndarray
        Vertices inside the instrument.
    depth_mm : (k,) float64 ndarray
        Their depth inside it (minus the signed distance), mm.
    normals : (k, 3) float64 ndarray
        Unit gradient of the instrument's signed distance at each: the direction that moves
        the vertex out of the instrument (zero on a part's medial axis, where it is undefined).
    edges : (j, 2) int64 ndarray
        Mesh edges that cross the instrument with both end vertices outside it (the tool
        slipped between vertices); empty without ``faces``.
    edge_depth_mm : (j,) float64 ndarray
        Depth of the deepest point found on each edge, mm.
    edge_points_lps_mm : (j, 3) float64 ndarray
        That point, LPS mm.
    edge_normals : (j, 3) float64 ndarray
        Unit direction moving that point out of the instrument.
    pierced_faces : (f,) int64 ndarray
        Triangles crossed by the axis of a capsule or cone part (a needle through a face).
    pierce_points_lps_mm : (f, 3) float64 ndarray
        Where the axis crosses each, LPS mm.
    """

    vertex_indices: np.ndarray
    depth_mm: np.ndarray
    normals: np.ndarray
    edges: np.ndarray
    edge_depth_mm: np.ndarray
    edge_points_lps_mm: np.ndarray
    edge_normals: np.ndarray
    pierced_faces: np.ndarray
    pierce_points_lps_mm: np.ndarray


def _union_sdf(primitives: list[Primitive], boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n,) signed distance of the primitives' union; +inf outside every part's box."""
    sdf = np.full(len(points), np.inf)
    for primitive, box in zip(primitives, boxes, strict=True):
        near = np.flatnonzero(((points >= box[0]) & (points <= box[1])).all(axis=1))
        if len(near):
            sdf[near] = np.minimum(sdf[near], primitive_sdf(primitive, points[near]))
    return sdf


def _sdf_gradient(primitives: list[Primitive], points: np.ndarray) -> np.ndarray:
    """(n, 3) unit central-difference gradient of the union's signed distance (0 if flat)."""
    offsets = np.concatenate([np.eye(3), -np.eye(3)]) * GRADIENT_STEP_MM
    probes = (points[None] + offsets[:, None]).reshape(-1, 3)
    values = np.min([primitive_sdf(p, probes) for p in primitives], axis=0).reshape(6, -1)
    gradient = ((values[:3] - values[3:]) / (2 * GRADIENT_STEP_MM)).T
    norm = np.linalg.norm(gradient, axis=1, keepdims=True)
    return np.where(norm > 0.5, gradient / np.where(norm > 0, norm, 1.0), 0.0)


def _closest_on_edges(p0: np.ndarray, p1: np.ndarray, a: np.ndarray,
                      b: np.ndarray) -> np.ndarray:
    """(m,) parameter s in [0, 1] of each edge p0 + s (p1 - p0) closest to the segment a-b."""
    d1, d2, r = p1 - p0, b - a, p0 - a
    aa, e, b12 = np.einsum("ij,ij->i", d1, d1), float(d2 @ d2), d1 @ d2
    c, f = np.einsum("ij,ij->i", d1, r), r @ d2
    aa = np.where(aa > 0, aa, 1.0)
    if e <= 1e-18:
        return np.clip(-c / aa, 0.0, 1.0)
    denom = aa * e - b12**2
    safe = np.where(denom > 1e-12 * aa * e, denom, 1.0)
    s = np.where(denom > 1e-12 * aa * e, np.clip((b12 * f - c * e) / safe, 0.0, 1.0), 0.0)
    t = (b12 * s + f) / e
    s = np.where(t < 0, np.clip(-c / aa, 0.0, 1.0), s)
    return np.where(t > 1, np.clip((b12 - c) / aa, 0.0, 1.0), s)


def _box_clip(p0: np.ndarray, p1: np.ndarray, primitive: Primitive) -> np.ndarray:
    """(m,) mid parameter of each edge's part inside the box, NaN where it misses the box."""
    p = primitive.params
    start = (p0 - p["centre"]) @ p["axes"].T
    step = (p1 - p0) @ p["axes"].T
    half = p["half_extents_mm"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t0, t1 = (-half - start) / step, (half - start) / step
    flat = step == 0
    inside = np.abs(start) <= half
    low = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(t0, t1)).max(axis=1)
    high = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(t0, t1)).min(axis=1)
    low, high = np.maximum(low, 0.0), np.minimum(high, 1.0)
    return np.where(low <= high, 0.5 * (low + high), np.nan)


def _axis(primitive: Primitive) -> tuple[np.ndarray, np.ndarray] | None:
    p = primitive.params
    if primitive.kind == "capsule":
        return p["segment"][0], p["segment"][1]
    return (p["apex"], p["base"]) if primitive.kind == "cone" else None


def _edge_hits(primitives: list[Primitive], boxes: np.ndarray, vertices: np.ndarray,
               edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edge index, depth, point) of edges crossing a part, the deepest part per edge."""
    best_depth = np.zeros(len(edges))
    best_point = np.zeros((len(edges), 3))
    ends = vertices[edges]
    for primitive, box in zip(primitives, boxes, strict=True):
        low, high = ends.min(axis=1), ends.max(axis=1)
        near = np.flatnonzero(((low <= box[1]) & (high >= box[0])).all(axis=1))
        if not len(near):
            continue
        p0, p1 = ends[near, 0], ends[near, 1]
        axis = _axis(primitive)
        s = _box_clip(p0, p1, primitive) if axis is None else _closest_on_edges(p0, p1, *axis)
        hit = np.isfinite(s)
        near, points = near[hit], p0[hit] + s[hit, None] * (p1[hit] - p0[hit])
        depth = -primitive_sdf(primitive, points) if len(points) else np.zeros(0)
        deeper = depth > best_depth[near]
        best_depth[near[deeper]], best_point[near[deeper]] = depth[deeper], points[deeper]
    index = np.flatnonzero(best_depth > 0)
    return index, best_depth[index], best_point[index]


def _pierced(primitives: list[Primitive], boxes: np.ndarray, vertices: np.ndarray,
             faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangles crossed by a capsule or cone axis (Moller-Trumbore) and the crossings."""
    corners = vertices[faces]
    found: dict[int, np.ndarray] = {}
    for primitive, box in zip(primitives, boxes, strict=True):
        axis = _axis(primitive)
        if axis is None:
            continue
        near = np.flatnonzero(((corners.min(axis=1) <= box[1])
                               & (corners.max(axis=1) >= box[0])).all(axis=1))
        a, direction = axis[0], axis[1] - axis[0]
        v0, e1, e2 = corners[near, 0], corners[near, 1] - corners[near, 0], \
            corners[near, 2] - corners[near, 0]
        h = np.cross(direction, e2)
        det = np.einsum("ij,ij->i", e1, h)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = a - v0
        u = inv * np.einsum("ij,ij->i", s, h)
        q = np.cross(s, e1)
        v = inv * (q @ direction)
        t = inv * np.einsum("ij,ij->i", e2, q)
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0) & (t <= 1)
        for face, fraction in zip(near[hit], t[hit], strict=True):
            found.setdefault(int(face), a + fraction * direction)
    index = np.array(sorted(found), dtype=np.int64)
    points = np.array([found[i] for i in index]).reshape(-1, 3)
    return index, points


def _outcodes(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(n,) uint8 Cohen-Sutherland codes of points against ``box`` (2, 3): 0 inside.

    Bits 0-2 are set below the box's x, y, z minimum, bits 3-5 above its maximum; a triangle
    whose three codes share a bit lies wholly outside the box.
    """
    bits = (points < box[0]) * np.array([1, 2, 4]) + (points > box[1]) * np.array([8, 16, 32])
    return bits.sum(axis=1).astype(np.uint8)


def _mesh_arrays(vertices_lps_mm: Any, faces: Any) -> tuple[np.ndarray, np.ndarray | None]:
    vertices = np.asarray(vertices_lps_mm, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.isfinite(vertices).all():
        raise InputError("vertices_lps_mm must be finite (n, 3) LPS mm coordinates")
    if faces is None:
        return vertices, None
    triangles = np.asarray(faces)
    if (triangles.ndim != 2 or triangles.shape[1] != 3 or triangles.dtype.kind not in "iu"
            or (len(triangles) and (triangles.min() < 0 or triangles.max() >= len(vertices)))):
        raise InputError("faces must be (m, 3) integer indices into the vertices")
    return vertices, triangles.astype(np.int64)


def surface_penetrations(instrument: Instrument | InstrumentGeometry, pose: Any,
                         vertices_lps_mm: Any, *, faces: Any = None) -> PenetrationResult:
    """Vertices (and, with ``faces``, edges and triangles) of a deforming surface in a tool.

    Parameters
    ----------
    instrument : Instrument or InstrumentGeometry
        The tool; its analytic primitives are evaluated, nothing is rebuilt.
    pose : (4, 4) float array
        Rigid tip frame -> LPS mm.
    vertices_lps_mm : (n, 3) float array
        The surface's current (deformed) vertices, LPS mm.
    faces : (m, 3) int array, optional
        Its triangles: enables the edge and piercing checks for thin tools.

    Returns
    -------
    PenetrationResult
        Penetrating vertices with depths and push-out normals; crossing edges; pierced faces.
    """
    geometry = instrument_geometry(instrument)
    pose = rigid_pose(pose, f"the pose of {geometry.instrument.id!r}")
    vertices, triangles = _mesh_arrays(vertices_lps_mm, faces)
    primitives = [part.primitive.transformed(pose) for part in geometry.parts]
    boxes = geometry.part_boxes(pose)
    codes = _outcodes(vertices, np.stack([boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)]))
    near = np.flatnonzero(codes == 0)
    sdf = np.full(len(vertices), np.inf)
    sdf[near] = _union_sdf(primitives, boxes, vertices[near])
    inside = near[sdf[near] < 0.0]
    normals = _sdf_gradient(primitives, vertices[inside])
    edges = np.zeros((0, 2), dtype=np.int64)
    edge_hits = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros((0, 3)))
    pierced = (np.zeros(0, dtype=np.int64), np.zeros((0, 3)))
    if triangles is not None and len(triangles):
        near_faces = np.flatnonzero(np.bitwise_and.reduce(codes[triangles], axis=1) == 0)
        local = triangles[near_faces]
        edges = np.unique(np.sort(local[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), axis=0)
        edges = edges[(sdf[edges] >= 0.0).all(axis=1)]
        edge_hits = _edge_hits(primitives, boxes, vertices, edges)
        edges = edges[edge_hits[0]]
        index, points = _pierced(primitives, boxes, vertices, local)
        pierced = (near_faces[index], points)
    return PenetrationResult(inside, -sdf[inside], normals, edges, edge_hits[1], edge_hits[2],
                             _sdf_gradient(primitives, edge_hits[2]), *pierced)
