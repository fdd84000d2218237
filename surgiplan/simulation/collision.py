"""Instrument-anatomy collision: contacts, penetration, tip inside, proximity, instrument clashes.

Everything is in patient LPS millimetres. Geometry is built once and moved, never rebuilt:

- each structure's python-fcl ``BVHModel`` (OBBRSS) is the one its :class:`CollisionProxy`
  built with the twin; :class:`CollisionWorld` wraps it in one ``fcl.CollisionObject`` with an
  identity transform, created once;
- each instrument's primitives (capsule, cone, box in its tip frame) become ``fcl.Capsule``,
  ``fcl.Cone`` and ``fcl.Box`` once (:class:`InstrumentGeometry`); a query moves their collision
  objects with ``setTransform``. (python-fcl 0.7 gives every new ``CollisionObject`` its own
  ``shared_ptr`` control block and frees it without running the destructor, so objects created
  per query leak a little: they are cached instead.)

Broad phase: every structure's triangles are covered by about 64 balls once
(:func:`bounding_balls`); a query bounds each part's distance to each structure from below
with those balls and the part's bounding capsule in one numpy expression
(:meth:`CollisionWorld.lower_bounds`), skips ``fcl.collide`` where the bound is positive and
calls ``fcl.distance`` on parts in increasing bound order until the bound exceeds the best
distance. (python-fcl's ``DynamicAABBTreeCollisionManager`` calls a Python callback per
candidate pair and prunes far less for a handful of large structures; BVH-shape distance is
slowest for far objects, which the bounds skip.) One needle against the ~200k-triangle chest
twin: about 0.4 ms per full query (``benchmarks/bench_collision.py``).

Accuracy (see ``tests/simulation/test_collision.py``):

- contact or not and the contact points are exact for the proxy triangles against the analytic
  primitives (python-fcl, libccd GJK/EPA per triangle);
- :attr:`Contact.penetration_mm` is computed here, analytically: the depth of the deepest point
  of the contacting part (and of the tip, when the tip is inside the structure) below the plane
  of the contacted triangle. It is exact for a part entering a locally flat surface (a needle
  pushed 1 or 10 mm into a 40 mm sphere: within 0.02 mm). python-fcl's own per-triangle
  ``penetration_depth`` is kept as :attr:`Contact.fcl_depth_mm`; it is the separation of one
  triangle from the part (for a cone tip 1 mm deep it says 0.23 mm), not the insertion depth;
- :attr:`Contact.normal` is the outward normal of the contacted triangle (python-fcl's contact
  normal keeps the same sign whichever object is passed first, and for a thin part crossing a
  triangle it tilts toward the part's axis);
- proximity distances and nearest points are exact for the proxy triangles (GJK, about 1e-6
  mm); against the true anatomy they carry the proxy's decimation error;
- ``inside`` casts one ray from the tip (Embree through trimesh) and reads the orientation of the
  first triangle hit: exact for closed, outward-oriented surfaces, undefined on open ones.

python-fcl 0.7 nearest points: for a BVH passed first and a capsule, cone or box second they
are in world coordinates and in argument order; against a sphere they are in the objects'
local frames and, with the shape first, swapped. The convention is probed once at first use
(:func:`_points_convention`) and the points converted accordingly.

Not thread-safe: a world and an instrument geometry move cached objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fcl
import numpy as np

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Instrument
from surgiplan.simulation.fcl_compat import nearest_points
from surgiplan.simulation.instrument_geometry import (
    InstrumentGeometry,
    instrument_geometry,
    rigid_pose,
    support_depth,
)
from surgiplan.simulation.world_structure import WorldStructure

if TYPE_CHECKING:
    from surgiplan.twin.twin import PatientTwin

BOUND_SLACK_MM = 1e-6
"""Taken off every lower bound, so that round-off never skips a grazing contact."""
_DISTANCE = fcl.DistanceRequest(enable_nearest_points=True)


@dataclass(frozen=True)
class Contact:
    """One contact between an instrument part and a structure's surface.

    Attributes
    ----------
    structure : str
        Structure touched.
    part : str
        Instrument part (``"tip"``, ``"shaft"``...).
    penetration_mm : float
        Depth of the part's deepest point (or of the tip, when the tip is inside the structure)
        below the contacted triangle's plane, mm (see the module docstring).
    point_lps_mm : (3,) float64 ndarray
        Contact point on the structure's surface, LPS mm.
    normal : (3,) float64 ndarray
        Outward unit normal of the contacted triangle (pushes the instrument out).
    triangle : int
        Index of the contacted proxy triangle.
    fcl_depth_mm : float
        python-fcl's per-triangle penetration depth, mm.
    """

    structure: str
    part: str
    penetration_mm: float
    point_lps_mm: np.ndarray
    normal: np.ndarray
    triangle: int
    fcl_depth_mm: float


@dataclass(frozen=True)
class Proximity:
    """Clearance between the instrument and one structure.

    Attributes
    ----------
    distance_mm : float
        Minimum distance between the instrument and the structure's surface, mm; 0 when they
        touch or the tip is inside the structure.
    point_on_instrument_lps_mm, point_on_structure_lps_mm : (3,) float64 ndarray
        The closest points, LPS mm (both the deepest contact point in contact; both the tip
        when the tip is inside without touching the surface).
    part : str
        Instrument part the distance is measured from.
    """

    distance_mm: float
    point_on_instrument_lps_mm: np.ndarray
    point_on_structure_lps_mm: np.ndarray
    part: str


@dataclass(frozen=True)
class CollisionReport:
    """Instrument against the world at one pose.

    Attributes
    ----------
    contacts : list of Contact
        Every contact found (at most ``max_contacts`` per part and structure).
    inside : dict of str to bool
        Whether the instrument's tip lies inside each queried structure.
    proximity : dict of str to Proximity
        Clearance to every queried critical structure.
    """

    contacts: list[Contact] = field(default_factory=list)
    inside: dict[str, bool] = field(default_factory=dict)
    proximity: dict[str, Proximity] = field(default_factory=dict)

    @property
    def touched(self) -> list[str]:
        """Structures in contact, in order of first contact."""
        return list(dict.fromkeys(c.structure for c in self.contacts))

    def penetration_mm(self, structure: str) -> float:
        """Deepest penetration into ``structure`` (0 without contact), mm."""
        return max((c.penetration_mm for c in self.contacts if c.structure == structure),
                   default=0.0)


class CollisionWorld:
    """The structures of a twin, ready for instrument queries.

    One ``fcl.CollisionObject`` per structure wraps the BVH its collision proxy built with the
    twin (shared, never rebuilt); queries only move the instrument.

    Parameters
    ----------
    twin : PatientTwin
        The twin; every structure's :attr:`StructureModel.collision` proxy is used.
    structures : iterable of str, optional
        Structures to include (default: all).
    critical : iterable of str, optional
        Structures whose clearance every query reports (default: those flagged critical).
    max_contacts : int
        Contacts kept per instrument part and structure.

    Examples
    --------
    >>> from surgiplan.plan.catalogue import load_catalogue
    >>> needle = load_catalogue().get("biopsy_needle_18g")
    >>> world = CollisionWorld(twin)  # doctest: +SKIP
    >>> report = world.query(needle, placement.pose)  # doctest: +SKIP
    >>> report.touched, report.inside["liver"], report.proximity["aorta"]  # doctest: +SKIP
    """

    def __init__(self, twin: PatientTwin, *, structures: Iterable[str] | None = None,
                 critical: Iterable[str] | None = None, max_contacts: int = 8) -> None:
        names = list(twin.structures) if structures is None else list(structures)
        models = [twin.structure(name) for name in names]
        flagged = {m.name for m in models if m.info.critical} if critical is None else set(critical)
        unknown = flagged - set(names)
        if unknown:
            raise InputError(f"critical structures {sorted(unknown)} are not in the world "
                             f"(structures: {', '.join(names) or 'none'})")
        if max_contacts < 1:
            raise InputError(f"max_contacts must be at least 1, got {max_contacts}")
        self._structures = {
            m.name: WorldStructure(m.name, m.name in flagged, m.collision.bvh,
                                   m.collision.vertices_lps_mm, m.collision.faces)
            for m in models}
        self._collide = fcl.CollisionRequest(num_max_contacts=max_contacts, enable_contact=True)
        self._any = fcl.CollisionRequest(num_max_contacts=1, enable_contact=False)
        entries = list(self._structures.values())
        self._centres = np.concatenate([e.balls[0] for e in entries] + [np.zeros((0, 3))])
        self._radii = np.concatenate([e.balls[1] for e in entries] + [np.zeros(0)])
        self._starts = np.cumsum([0] + [len(e.balls[1]) for e in entries[:-1]])
        self._column = {e.name: i for i, e in enumerate(entries)}

    @property
    def names(self) -> list[str]:
        return list(self._structures)

    @property
    def critical(self) -> list[str]:
        return [s.name for s in self._structures.values() if s.critical]

    @property
    def n_triangles(self) -> int:
        """Triangles over all structures' proxies."""
        return int(sum(len(s.faces) for s in self._structures.values()))

    def structure(self, name: str) -> WorldStructure:
        """The world's entry for ``name`` (its fcl object, proxy arrays and ray scene)."""
        if name not in self._structures:
            raise InputError(f"the collision world has no structure {name!r} (structures: "
                             f"{', '.join(self._structures) or 'none'})")
        return self._structures[name]

    def collision_object(self, name: str) -> fcl.CollisionObject:
        """The structure's ``fcl.CollisionObject`` (identity transform), the same on every call."""
        return self.structure(name).obj

    def selected(self, structures: Iterable[str] | None) -> list[WorldStructure]:
        """The entries of ``structures`` (all when None)."""
        if structures is None:
            return list(self._structures.values())
        return [self.structure(name) for name in structures]

    def query(self, instrument: Instrument | InstrumentGeometry, pose: Any, *,
              structures: Sequence[str] | None = None) -> CollisionReport:
        """Contacts, tip inside and clearances of an instrument at one pose.

        Parameters
        ----------
        instrument : Instrument or InstrumentGeometry
            The instrument (its geometry is built on first use and kept).
        pose : (4, 4) float array
            Rigid tip frame -> LPS mm (:attr:`InstrumentPlacement.pose`).
        structures : sequence of str, optional
            Structures to test (default: all in the world).

        Returns
        -------
        CollisionReport
            Contacts against every tested structure, ``inside`` for each, ``proximity`` for
            each tested critical structure.
        """
        geometry = instrument_geometry(instrument)
        pose = rigid_pose(pose, f"the pose of {geometry.instrument.id!r}")
        entries = self.selected(structures)
        objects = geometry.collision_objects(pose)
        lower = self.lower_bounds(geometry, pose)
        tip = pose[:3, 3]
        inside = {entry.name: entry.contains(tip) for entry in entries}
        contacts: list[Contact] = []
        for entry in entries:
            contacts += self._contacts(entry, geometry, objects, lower[:, self._column[entry.name]],
                                       pose, inside[entry.name])
        proximity = {entry.name: self._proximity(entry, geometry, objects,
                                                 lower[:, self._column[entry.name]], contacts,
                                                 inside[entry.name], tip)
                     for entry in entries if entry.critical}
        return CollisionReport(contacts, inside, proximity)

    def lower_bounds(self, geometry: InstrumentGeometry, pose: np.ndarray) -> np.ndarray:
        """(parts, structures) lower bounds of each part's distance to each structure, mm.

        Over the structure's bounding balls (:func:`bounding_balls`), the smallest distance
        from a ball's centre to the part's bounding capsule minus both radii; 0 where they may
        touch. Structures in :attr:`names` order.
        """
        if not self._structures:
            return np.zeros((len(geometry.hulls), 0))
        local = (self._centres - pose[:3, 3]) @ pose[:3, :3]
        start, axis = geometry.hulls[:, 0], geometry.hulls[:, 1] - geometry.hulls[:, 0]
        offset = local[None] - start[:, None]
        length_sq = np.maximum(np.einsum("ij,ij->i", axis, axis), 1e-18)
        t = np.clip((offset @ axis[:, :, None])[..., 0] / length_sq[:, None], 0.0, 1.0)
        away = offset - t[..., None] * axis[:, None]
        gaps = np.sqrt((away * away).sum(axis=2))
        gaps -= geometry.hull_radii[:, None] + self._radii
        balls = np.minimum.reduceat(gaps, self._starts, axis=1)
        return np.maximum(balls - BOUND_SLACK_MM, 0.0)

    def touching(self, geometry: InstrumentGeometry, pose: np.ndarray,
                 entries: Sequence[WorldStructure]) -> list[str]:
        """Names of ``entries`` the instrument touches at a rigid ``pose`` (no contact data)."""
        objects = geometry.collision_objects(pose)
        lower = self.lower_bounds(geometry, pose)
        return [entry.name for entry in entries
                if any(gap <= 0.0 and fcl.collide(entry.obj, obj, self._any, fcl.CollisionResult())
                       for obj, gap in zip(objects, lower[:, self._column[entry.name]],
                                           strict=True))]

    def _contacts(self, entry: WorldStructure, geometry: InstrumentGeometry,
                  objects: list[fcl.CollisionObject], lower: np.ndarray, pose: np.ndarray,
                  tip_inside: bool) -> list[Contact]:
        out: list[Contact] = []
        rotation, tip = pose[:3, :3], pose[:3, 3]
        for part, obj, gap in zip(geometry.parts, objects, lower, strict=True):
            if gap > 0.0:
                continue
            result = fcl.CollisionResult()
            if not fcl.collide(entry.obj, obj, self._collide, result):
                continue
            points = np.array([c.pos for c in result.contacts], dtype=np.float64)
            triangles = np.array([c.b1 for c in result.contacts], dtype=np.int64)
            normals = entry.face_normals[triangles]
            depths = support_depth(part.primitive, (points - tip) @ rotation, normals @ rotation)
            if (part.primitive.kind == "capsule" and not tip_inside
                    and depths.max(initial=0.0) > part.primitive.params["radius_mm"]):
                # a tip inside: the tip's depth rules; depths within the radius: nothing to bound
                depths = np.minimum(depths, self._capsule_depth_bound(entry, part, pose))
            if tip_inside:
                depths = np.maximum(depths, np.einsum("ij,ij->i", points - tip, normals))
            out += [Contact(entry.name, part.name, float(depth), point, normal, int(triangle),
                            float(c.penetration_depth))
                    for c, depth, point, normal, triangle
                    in zip(result.contacts, depths, points, normals, triangles, strict=True)]
        return out

    @staticmethod
    def _capsule_depth_bound(entry: WorldStructure, part, pose: np.ndarray) -> float:
        """An upper bound (mm) of how deep a capsule reaches into the structure.

        The plane of a contacted triangle tilted toward a long shaft would put the shaft's far
        end tens of millimetres "below" a small vessel it grazes or crosses. When both ends of
        the axis are outside: an axis that never meets the surface stays outside, so no point
        of the capsule is deeper than its radius; an axis crossing it is inside only between
        its first and last crossing, so no axis point is deeper than half that span (plus the
        radius off the axis). Infinite when an end of the axis is inside (no bound).
        """
        radius = float(part.primitive.params["radius_mm"])
        start, end = (pose[:3, :3] @ part.primitive.params["segment"].T).T + pose[:3, 3]
        if entry.contains(end) or entry.contains(start):  # the tip end is inside most often
            return np.inf
        forward = entry.first_crossing(start, end)
        if forward is None:
            return radius
        backward = entry.first_crossing(end, start)
        last = 1.0 - backward[0] if backward is not None else forward[0]
        span_mm = max(last - forward[0], 0.0) * float(np.linalg.norm(end - start))
        return span_mm / 2.0 + radius

    def _proximity(self, entry: WorldStructure, geometry: InstrumentGeometry,
                   objects: list[fcl.CollisionObject], lower: np.ndarray,
                   contacts: list[Contact], tip_inside: bool, tip: np.ndarray) -> Proximity:
        touching = [c for c in contacts if c.structure == entry.name]
        if touching:
            deepest = max(touching, key=lambda c: c.penetration_mm)
            point = deepest.point_lps_mm
            return Proximity(0.0, point.copy(), point.copy(), deepest.part)
        if tip_inside:
            return Proximity(0.0, tip.copy(), tip.copy(), geometry.tip_part)
        best: tuple[float, fcl.DistanceResult, int] | None = None
        for index in np.argsort(lower):
            if best is not None and lower[index] >= best[0]:
                break
            result = fcl.DistanceResult()
            gap = fcl.distance(entry.obj, objects[index], _DISTANCE, result)
            if best is None or gap < best[0]:
                best = (gap, result, int(index))
        gap, result, index = best
        part = geometry.parts[index].name
        if gap <= 0.0:  # touching without a reported contact (grazing)
            return Proximity(0.0, tip.copy(), tip.copy(), part)
        on_structure, on_instrument = nearest_points(result, objects[index], first_is_mesh=True)
        return Proximity(float(gap), on_instrument, on_structure, part)
