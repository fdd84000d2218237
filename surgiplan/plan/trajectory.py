"""Trajectory analysis: an entry -> target path, its length, entry angle and structures crossed.

The segment is intersected with every structure's full-resolution closed surface by ray casts
(trimesh with Embree when installed): all hits along the ray, sorted by distance, each entering
or leaving by the sign of its face normal against the direction (surfaces have outward
normals). Walking the hits gives the intervals of the path inside each structure; a structure
the path starts inside is entered at 0, one it ends inside is left at the path length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import trimesh

from surgiplan.errors import InputError
from surgiplan.plan.measure import SurfaceCache, closest_point_on_surface
from surgiplan.plan.model import as_point
from surgiplan.twin.mesh import SurfaceMesh

if TYPE_CHECKING:
    from surgiplan.twin.twin import PatientTwin

BACKOFF_MM = 1.0
"""Rays start this far before the entry so that a surface through the entry is hit reliably."""
MIN_LENGTH_MM = 1e-3


def _trimesh(surface: SurfaceMesh) -> trimesh.Trimesh:
    return trimesh.Trimesh(surface.vertices_lps_mm, surface.faces, process=False)


TRIMESH: SurfaceCache[trimesh.Trimesh] = SurfaceCache(_trimesh)
"""A trimesh (with its ray intersector and normals cached) per surface."""


@dataclass(frozen=True)
class SurfaceHits:
    """Where a ray crosses a surface.

    Attributes
    ----------
    distances_mm : (k,) float64 ndarray
        Distances from the ray origin along the unit direction, ascending (> 0).
    entering : (k,) bool ndarray
        True where the ray enters the closed surface (face normal against the direction).
    """

    distances_mm: np.ndarray
    entering: np.ndarray


def surface_hits(surface: SurfaceMesh, origin_lps_mm: np.ndarray,
                 direction: np.ndarray) -> SurfaceHits:
    """Every crossing of the ray ``origin + t * direction`` (t > 0) with ``surface``.

    Parameters
    ----------
    surface : SurfaceMesh
        Closed surface with outward normals, LPS mm.
    origin_lps_mm : (3,) float array
        Ray origin, LPS mm.
    direction : (3,) float array
        Unit ray direction.
    """
    mesh = TRIMESH.get(surface)
    origin = np.asarray(origin_lps_mm, dtype=np.float64).reshape(1, 3)
    unit = np.asarray(direction, dtype=np.float64).reshape(1, 3)
    locations, _, triangles = mesh.ray.intersects_location(origin, unit, multiple_hits=True)
    if len(locations) == 0:
        return SurfaceHits(np.zeros(0), np.zeros(0, dtype=bool))
    distances = (locations - origin) @ unit[0]
    entering = mesh.face_normals[triangles] @ unit[0] < 0.0
    order = np.argsort(distances, kind="stable")
    keep = distances[order] > 0.0
    return SurfaceHits(distances[order][keep], entering[order][keep])


@dataclass(frozen=True)
class Crossing:
    """One passage of the path through a structure.

    Attributes
    ----------
    structure : str
        Structure name.
    enter_mm, leave_mm : float
        Distances from the entry along the path where it enters and leaves, mm, within
        [0, length].
    critical : bool
        Whether the structure is critical (vessel, nerve...).
    """

    structure: str
    enter_mm: float
    leave_mm: float
    critical: bool

    @property
    def length_mm(self) -> float:
        return self.leave_mm - self.enter_mm


@dataclass(frozen=True)
class Trajectory:
    """An analysed entry -> target path.

    Attributes
    ----------
    entry_lps_mm, target_lps_mm : (3,) float64 ndarray
        End points, LPS mm.
    length_mm : float
        |target - entry|, mm.
    direction : (3,) float64 ndarray
        Unit vector entry -> target (LPS).
    angle_to_skin_normal_deg : float or None
        Angle between the path and the skin's inward normal at the skin point closest to the
        entry: 0 = perpendicular entry, 90 = tangential; ``None`` when the twin has no skin.
    skin_normal_lps : (3,) float64 ndarray or None
        Outward unit skin normal there (vertex normals interpolated across the triangle).
    crossings : list of Crossing
        Passages through structures (the skin included), in order of entering distance.
    """

    entry_lps_mm: np.ndarray
    target_lps_mm: np.ndarray
    length_mm: float
    direction: np.ndarray
    angle_to_skin_normal_deg: float | None
    skin_normal_lps: np.ndarray | None
    crossings: list[Crossing]

    def crossed(self, structure: str) -> list[Crossing]:
        """The passages through ``structure`` (empty when the path misses it)."""
        return [c for c in self.crossings if c.structure == structure]


def _intervals(hits: SurfaceHits, offset_mm: float, length_mm: float) -> list[tuple[float, float]]:
    """Inside intervals, clipped to [0, length], of hits measured from ``offset_mm`` before 0."""
    distances = hits.distances_mm - offset_mm
    inside = bool(len(distances)) and not hits.entering[0]
    start = 0.0
    intervals = []
    for distance, entering in zip(distances, hits.entering, strict=True):
        if distance > length_mm:
            break
        if entering and not inside:
            inside, start = True, max(float(distance), 0.0)
        elif not entering and inside:
            inside = False
            if distance > start:
                intervals.append((start, float(distance)))
    if inside and length_mm > start:
        intervals.append((start, length_mm))
    return intervals


def skin_normal(surface: SurfaceMesh, point_lps_mm: np.ndarray) -> np.ndarray:
    """Outward unit normal (3,) of ``surface`` at its point closest to ``point_lps_mm``.

    Vertex normals are interpolated barycentrically across the closest triangle, so a radial
    path into a faceted sphere reads 0 degrees at vertices and faces alike.
    """
    mesh = TRIMESH.get(surface)
    closest = closest_point_on_surface(surface, point_lps_mm)
    corners = mesh.faces[closest.triangle]
    weights = trimesh.triangles.points_to_barycentric(
        mesh.vertices[corners][None], closest.point_lps_mm[None])[0]
    normal = weights @ mesh.vertex_normals[corners]
    norm = np.linalg.norm(normal)
    return mesh.face_normals[closest.triangle] if norm < 1e-9 else normal / norm


def analyse_trajectory(twin: PatientTwin, entry_lps_mm: Any, target_lps_mm: Any, *,
                       skin: str = "skin") -> Trajectory:
    """Length, entry angle and the structures crossed by the path entry -> target.

    Parameters
    ----------
    twin : PatientTwin
        Structures with closed, outward-facing surfaces (LPS mm).
    entry_lps_mm, target_lps_mm : (3,) float array
        Skin entry and target, LPS mm.
    skin : str
        Name of the skin structure, for the entry angle.

    Returns
    -------
    Trajectory
        Crossings of every structure (the skin, entered at about 0, included) in order of
        entering distance; a structure crossed twice appears twice.

    Raises
    ------
    InputError
        When entry and target coincide.
    """
    entry = np.asarray(as_point(entry_lps_mm, "entry point"), dtype=np.float64)
    target = np.asarray(as_point(target_lps_mm, "target point"), dtype=np.float64)
    length = float(np.linalg.norm(target - entry))
    if length < MIN_LENGTH_MM:
        raise InputError("entry and target are the same point: pick the target away from the "
                         "entry")
    direction = (target - entry) / length
    origin = entry - BACKOFF_MM * direction
    crossings = []
    for name, model in twin.structures.items():
        hits = surface_hits(model.surface, origin, direction)
        for enter, leave in _intervals(hits, BACKOFF_MM, length):
            crossings.append(Crossing(name, enter, leave, bool(model.info.critical)))
    crossings.sort(key=lambda c: c.enter_mm)
    angle, normal = None, None
    if skin in twin.structures:
        normal = skin_normal(twin.structures[skin].surface, entry)
        cos = float(np.clip(direction @ -normal, -1.0, 1.0))
        angle = float(np.degrees(np.arccos(cos)))
    return Trajectory(entry, target, length, direction, angle, normal, crossings)
