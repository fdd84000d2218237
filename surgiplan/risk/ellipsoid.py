"""Exact signed distance from points to an ellipsoid's surface (for ablation margins).

Eberly's method ("Distance from a point to an ellipse, an ellipsoid, or a hyperellipsoid",
Geometric Tools, 2013): in the ellipsoid's frame, with semi-axes sorted ``e0 >= e1 >= e2`` and
the point reflected into the first octant ``y >= 0``, the closest surface point is
``x_i = r_i y_i / (s + r_i)`` with ``r_i = (e_i / e2)**2`` and ``s`` the single root of

    G(s) = sum_i (r_i z_i / (s + r_i))**2 - 1,    z_i = y_i / e_i,

in ``[z2 - 1, 0]`` for points inside and ``[0, |r * z| - 1]`` for points outside; ``G`` is
decreasing there, so bisection (on ``u = s + 1``) converges. Coordinates equal to zero are
nudged to 1e-9 mm, which moves the answer by at most that much and avoids Eberly's special
cases.
"""

from __future__ import annotations

import numpy as np

from surgiplan.errors import InputError

BISECTION_STEPS = 100
_NUDGE_MM = 1e-9


def _root(r: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Root ``u = s + 1`` of ``G`` per row of ``z`` ((n, 3)), by bisection; ``r`` is (3,).

    Bisecting on ``u`` rather than ``s`` keeps its relative precision when the root lies near
    ``s = -1`` (a point near the centre of a flattened ellipsoid).
    """
    inside = (z ** 2).sum(axis=1) < 1.0
    low = np.where(inside, z[:, 2], 1.0)
    high = np.where(inside, 1.0, np.linalg.norm(r * z, axis=1))
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (low + high)
        g = ((r * z / (mid[:, None] + (r - 1.0))) ** 2).sum(axis=1) - 1.0
        positive = g > 0.0
        low = np.where(positive, mid, low)
        high = np.where(positive, high, mid)
    return 0.5 * (low + high)


def signed_distance_inside(points_lps_mm: np.ndarray, centre_lps_mm, radii_mm,
                           axes=None) -> np.ndarray:
    """Distance (mm) from each point to the ellipsoid's surface: positive inside, negative out.

    Parameters
    ----------
    points_lps_mm : (n, 3) float array
        Points, LPS mm.
    centre_lps_mm : (3,) float array
        Ellipsoid centre, LPS mm.
    radii_mm : (3,) float array
        Semi-axes (mm, > 0) along the rows of ``axes``.
    axes : (3, 3) float array, optional
        Rows are orthonormal semi-axis directions; identity when omitted.

    Returns
    -------
    (n,) float64 ndarray
        Signed distance (mm), exact to about 1e-9 mm.
    """
    points = np.asarray(points_lps_mm, dtype=np.float64).reshape(-1, 3)
    radii = np.asarray(radii_mm, dtype=np.float64).reshape(3)
    rotation = np.eye(3) if axes is None else np.asarray(axes, dtype=np.float64).reshape(3, 3)
    if not (np.isfinite(radii).all() and (radii > 0).all()):
        raise InputError(f"ablation zone radii must be positive millimetres, got {radii_mm!r}")
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6):
        raise InputError("ablation zone axes must be 3 orthonormal rows")
    local = (points - np.asarray(centre_lps_mm, dtype=np.float64).reshape(3)) @ rotation.T
    order = np.argsort(-radii, kind="stable")
    e = radii[order]
    y = np.maximum(np.abs(local[:, order]), _NUDGE_MM)
    z = y / e
    r = (e / e[2]) ** 2
    u = _root(r, z)
    closest = r * y / (u[:, None] + (r - 1.0))
    distance = np.linalg.norm(closest - y, axis=1)
    inside = (z ** 2).sum(axis=1) < 1.0
    return np.where(inside, distance, -distance)
