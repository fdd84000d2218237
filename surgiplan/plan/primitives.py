"""Analytic signed distances of instrument primitives, vectorised over points.

Every function takes ``points`` as an (n, 3) float array in LPS mm (a single (3,) point is
accepted) and returns an (n,) float64 array of signed distances in mm: negative inside the
solid, zero on its surface, positive outside. The distances are exact Euclidean distances to
the solid's surface (not bounds), so ``-sdf`` at a surface vertex inside a primitive is its
penetration depth; later issues collide instruments with deforming surfaces that way
(physics.md 2.3).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Instrument, Primitive


def _points(points: Any) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 3:
        raise InputError(f"points must be an (n, 3) array of LPS mm, got shape {array.shape}")
    return array


def _point(value: Any, what: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.shape != (3,) or not np.isfinite(array).all():
        raise InputError(f"{what} must be 3 finite coordinates in mm")
    return array


def capsule_sdf(points: Any, a: Any, b: Any, radius: float) -> np.ndarray:
    """Signed distance to a capsule: all points within ``radius`` of the segment ``a``-``b``.

    Parameters
    ----------
    points : (n, 3) float array
        Query points, mm.
    a, b : (3,) float array
        Segment end points, mm (equal end points give a sphere).
    radius : float
        Capsule radius, mm.

    Returns
    -------
    (n,) float64 ndarray
        Distance to the segment minus ``radius``.
    """
    p, a, b = _points(points), _point(a, "capsule end a"), _point(b, "capsule end b")
    axis = b - a
    length_sq = float(axis @ axis)
    h = np.zeros(len(p)) if length_sq == 0 else np.clip((p - a) @ axis / length_sq, 0.0, 1.0)
    return np.linalg.norm(p - a - h[:, None] * axis, axis=1) - float(radius)


def box_sdf(points: Any, centre: Any, axes: Any, half_extents: Any) -> np.ndarray:
    """Exact signed distance to an oriented box.

    Parameters
    ----------
    points : (n, 3) float array
        Query points, mm.
    centre : (3,) float array
        Box centre, mm.
    axes : (3, 3) float array
        Rows are the box's orthonormal axes; ``half_extents[i]`` runs along ``axes[i]``.
    half_extents : (3,) float array
        Half side lengths, mm.

    Returns
    -------
    (n,) float64 ndarray
        Outside: Euclidean distance to the box; inside: minus the distance to the nearest face.
    """
    p = _points(points)
    local = (p - _point(centre, "box centre")) @ np.asarray(axes, dtype=np.float64).T
    q = np.abs(local) - np.asarray(half_extents, dtype=np.float64)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
    inside = np.minimum(q.max(axis=1), 0.0)
    return outside + inside


def _segment_distance_2d(px: np.ndarray, py: np.ndarray, start: tuple[float, float],
                         end: tuple[float, float]) -> np.ndarray:
    """Distance from 2-D points (px, py) to the segment ``start``-``end``."""
    ex, ey = end[0] - start[0], end[1] - start[1]
    dx, dy = px - start[0], py - start[1]
    t = np.clip((dx * ex + dy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
    return np.hypot(dx - t * ex, dy - t * ey)


def cone_sdf(points: Any, apex: Any, base: Any, base_radius: float) -> np.ndarray:
    """Exact signed distance to a finite solid cone (apex point, flat base disc).

    The cone is a solid of revolution, so the distance in 3-D equals the distance, in the
    meridian half-plane through the point, to its cross-section: the triangle with the apex
    ``(0, 0)``, the base rim ``(R, H)`` and the base centre ``(0, H)``, where ``y`` runs along the
    axis from the apex and ``x >= 0`` is the distance from the axis. For ``x >= 0`` the mirrored
    slant side is never nearer, so the boundary distance is the smaller of the distances to the
    slant side and to the base radius; the sign is negative inside the triangle.

    Parameters
    ----------
    points : (n, 3) float array
        Query points, mm.
    apex : (3,) float array
        Cone tip, mm.
    base : (3,) float array
        Centre of the base disc, mm (the disc is perpendicular to apex->base).
    base_radius : float
        Base disc radius ``R``, mm.

    Returns
    -------
    (n,) float64 ndarray
        Signed distance, mm.
    """
    p, apex = _points(points), _point(apex, "cone apex")
    axis = _point(base, "cone base") - apex
    height = float(np.linalg.norm(axis))
    radius = float(base_radius)
    if height <= 0 or radius <= 0:
        raise InputError("a cone needs a positive height (apex != base) and base radius")
    unit = axis / height
    y = (p - apex) @ unit
    x = np.linalg.norm(p - apex - y[:, None] * unit, axis=1)
    slant = _segment_distance_2d(x, y, (0.0, 0.0), (radius, height))
    cap = np.hypot(np.maximum(x - radius, 0.0), y - height)
    distance = np.minimum(slant, cap)
    inside = (y >= 0.0) & (y <= height) & (x * height <= radius * y)
    return np.where(inside, -distance, distance)


def primitive_sdf(primitive: Primitive, points: Any) -> np.ndarray:
    """Signed distance (n,) in mm to one :class:`Primitive` (in the frame of ``points``)."""
    p = primitive.params
    if primitive.kind == "capsule":
        return capsule_sdf(points, p["segment"][0], p["segment"][1], p["radius_mm"])
    if primitive.kind == "cone":
        return cone_sdf(points, p["apex"], p["base"], p["base_radius_mm"])
    if primitive.kind == "box":
        return box_sdf(points, p["centre"], p["axes"], p["half_extents_mm"])
    raise InputError(f"unknown primitive kind {primitive.kind!r}: use capsule, cone or box")


def instrument_sdf(instrument: Instrument, pose: Any, points: Any) -> np.ndarray:
    """Signed distance (n,) in mm from LPS points to an instrument placed at ``pose``.

    Parameters
    ----------
    instrument : Instrument
        Catalogue instrument; its primitives are in its tip frame.
    pose : (4, 4) float array
        Tip frame -> LPS mm (:attr:`InstrumentPlacement.pose`).
    points : (n, 3) float array
        Query points, LPS mm.

    Returns
    -------
    (n,) float64 ndarray
        Minimum over the instrument's primitives: the signed distance of their union, exact
        outside; inside, where primitives overlap, it may understate the penetration depth.
    """
    primitives = instrument.primitives_in_lps(pose)
    distances = [primitive_sdf(primitive, points) for primitive in primitives]
    return np.min(np.stack(distances), axis=0)
