"""Analytic shape primitives rasterised onto a :class:`~surgiplan.phantom.grid.PhantomGrid`.

Every ``*_mask`` function returns a boolean array of shape ``grid.shape_kji`` (indexed
``[k, j, i]``) that is True where the voxel centre lies inside the shape. All positions,
sizes and centrelines are in patient LPS millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from surgiplan.phantom.grid import PhantomGrid

Vec3 = Sequence[float]


def rotation_matrix(axis: str, angle_deg: float) -> np.ndarray:
    """Right-handed rotation about an LPS coordinate axis.

    Parameters
    ----------
    axis : {"x", "y", "z"}
        Rotation axis.
    angle_deg : float
        Rotation angle in degrees.

    Returns
    -------
    numpy.ndarray
        (3, 3) rotation matrix.
    """
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    a, b = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    rot = np.eye(3)
    rot[a, a], rot[a, b], rot[b, a], rot[b, b] = c, -s, s, c
    return rot


def ellipsoid_volume_mm3(semi_axes_mm: Vec3) -> float:
    """Exact volume (mm^3) of an ellipsoid with the given semi-axes (mm)."""
    a, b, c = semi_axes_mm
    return 4.0 / 3.0 * np.pi * a * b * c


def ellipsoid_mask(
    grid: PhantomGrid,
    centre_mm: Vec3,
    semi_axes_mm: Vec3,
    rotation: np.ndarray | None = None,
) -> np.ndarray:
    """Voxels inside a (possibly rotated) ellipsoid.

    Parameters
    ----------
    grid : PhantomGrid
        Target grid.
    centre_mm : sequence of float, shape (3,)
        Centre (x, y, z) in LPS mm.
    semi_axes_mm : sequence of float, shape (3,)
        Semi-axis lengths in mm along the ellipsoid's own axes.
    rotation : numpy.ndarray, shape (3, 3), optional
        Columns are the ellipsoid's axes expressed in LPS; identity by default.

    Returns
    -------
    numpy.ndarray
        bool, shape ``grid.shape_kji``.
    """
    rot = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    semi = np.asarray(semi_axes_mm, dtype=float)
    centre = np.asarray(centre_mm, dtype=float)
    half = np.sqrt(((rot * semi[None, :]) ** 2).sum(axis=1))
    sl = grid.box_slices(centre - half, centre + half)
    x, y, z = grid.coords(sl)
    d = (x - centre[0], y - centre[1], z - centre[2])
    acc = np.zeros(np.broadcast_shapes(x.shape, y.shape, z.shape))
    for axis in range(3):
        local = d[0] * rot[0, axis] + d[1] * rot[1, axis] + d[2] * rot[2, axis]
        acc += (local / semi[axis]) ** 2
    mask = np.zeros(grid.shape_kji, dtype=bool)
    mask[sl] = acc <= 1.0
    return mask


def elliptic_cylinder_mask(
    grid: PhantomGrid,
    centre_xy_mm: Sequence[float],
    semi_xy_mm: Sequence[float],
    z_range_mm: tuple[float, float] | None = None,
) -> np.ndarray:
    """Voxels inside an elliptic cylinder whose axis is parallel to z.

    Parameters
    ----------
    grid : PhantomGrid
        Target grid.
    centre_xy_mm : sequence of float, shape (2,)
        Axis position (x, y) in LPS mm.
    semi_xy_mm : sequence of float, shape (2,)
        Semi-axes along x and y in mm.
    z_range_mm : tuple of float, optional
        Inclusive (z_min, z_max) in mm; unbounded by default.

    Returns
    -------
    numpy.ndarray
        bool, shape ``grid.shape_kji``.
    """
    x, y, z = grid.coords()
    inside = ((x - centre_xy_mm[0]) / semi_xy_mm[0]) ** 2
    inside = inside + ((y - centre_xy_mm[1]) / semi_xy_mm[1]) ** 2 <= 1.0
    if z_range_mm is None:
        in_z = np.ones(z.shape, dtype=bool)
    else:
        in_z = (z >= z_range_mm[0]) & (z <= z_range_mm[1])
    return np.broadcast_to(inside & in_z, grid.shape_kji).copy()


def box_mask(grid: PhantomGrid, lo_mm: Vec3, hi_mm: Vec3) -> np.ndarray:
    """Voxels inside the axis-aligned box ``lo <= (x, y, z) <= hi`` (LPS mm).

    Returns
    -------
    numpy.ndarray
        bool, shape ``grid.shape_kji``.
    """
    x, y, z = grid.coords()
    inside = (x >= lo_mm[0]) & (x <= hi_mm[0]) & (y >= lo_mm[1]) & (y <= hi_mm[1])
    return np.broadcast_to(inside & (z >= lo_mm[2]) & (z <= hi_mm[2]), grid.shape_kji).copy()


def smooth_centreline(control_points_mm: Sequence[Vec3], step_mm: float = 2.0) -> np.ndarray:
    """Catmull-Rom curve through control points, resampled at equal arc length.

    Parameters
    ----------
    control_points_mm : sequence of (x, y, z)
        At least two control points in LPS mm; the curve passes through all of them.
    step_mm : float
        Target spacing between consecutive output points in mm.

    Returns
    -------
    numpy.ndarray
        (N, 3) float array of points in LPS mm, first and last control points included.
    """
    p = np.asarray(control_points_mm, dtype=float)
    padded = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0.0, 1.0, 64, endpoint=False)[:, None]
    pieces = []
    for s in range(len(p) - 1):
        p0, p1, p2, p3 = padded[s : s + 4]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    dense = np.vstack([*pieces, p[-1:]])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
    n = max(int(np.ceil(arc[-1] / step_mm)), 1) + 1
    s_new = np.linspace(0.0, arc[-1], n)
    return np.column_stack([np.interp(s_new, arc, dense[:, a]) for a in range(3)])


def distance_to_polyline(points_mm: np.ndarray, centreline_mm: np.ndarray) -> np.ndarray:
    """Euclidean distance from points to a polyline.

    Parameters
    ----------
    points_mm : numpy.ndarray, shape (M, 3)
        Query points in LPS mm.
    centreline_mm : numpy.ndarray, shape (N, 3)
        Polyline vertices in LPS mm (N >= 2).

    Returns
    -------
    numpy.ndarray
        (M,) distances in mm.
    """
    q = np.asarray(points_mm, dtype=float)[:, None, :]
    a, b = centreline_mm[None, :-1, :], centreline_mm[None, 1:, :]
    ab = b - a
    t = np.clip(((q - a) * ab).sum(-1) / np.maximum((ab**2).sum(-1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(q - (a + t[..., None] * ab), axis=-1).min(axis=1)


def tube_mask(grid: PhantomGrid, centreline_mm: np.ndarray, radius_mm: float) -> np.ndarray:
    """Voxels within ``radius_mm`` of a polyline (a chain of capsules).

    Parameters
    ----------
    grid : PhantomGrid
        Target grid.
    centreline_mm : numpy.ndarray, shape (N, 3)
        Polyline vertices in LPS mm.
    radius_mm : float
        Tube radius in mm.

    Returns
    -------
    numpy.ndarray
        bool, shape ``grid.shape_kji``.
    """
    mask = np.zeros(grid.shape_kji, dtype=bool)
    r2 = radius_mm**2
    for a, b in zip(centreline_mm[:-1], centreline_mm[1:], strict=True):
        sl = grid.box_slices(np.minimum(a, b) - radius_mm, np.maximum(a, b) + radius_mm)
        if any(s.start >= s.stop for s in sl):
            continue
        x, y, z = grid.coords(sl)
        ab = b - a
        w = (x - a[0], y - a[1], z - a[2])
        t = (w[0] * ab[0] + w[1] * ab[1] + w[2] * ab[2]) / max(float(ab @ ab), 1e-12)
        t = np.clip(t, 0.0, 1.0)
        d2 = (w[0] - t * ab[0]) ** 2 + (w[1] - t * ab[1]) ** 2 + (w[2] - t * ab[2]) ** 2
        mask[sl] |= d2 <= r2
    return mask
