"""Analytic signed distances against closed forms and dense surface samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.placement import frame_along
from surgiplan.plan.primitives import box_sdf, capsule_sdf, cone_sdf, instrument_sdf


def _rotation(axis, angle_deg: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    angle = np.radians(angle_deg)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_capsule_on_axis_beside_beyond_and_inside():
    a, b, r = (0, 0, 0), (0, 0, 10), 1.0
    points = [(0, 0, 5), (3, 0, 5), (0, 0, 13), (0, 0, -4), (3, 0, 14), (0, 0.5, 0)]
    expected = [-1.0, 2.0, 2.0, 3.0, 4.0, -0.5]
    np.testing.assert_allclose(capsule_sdf(points, a, b, r), expected, atol=1e-12)


def test_capsule_with_equal_ends_is_a_sphere():
    np.testing.assert_allclose(capsule_sdf([(3, 4, 0), (0, 0, 0)], (0, 0, 0), (0, 0, 0), 2.0),
                               [3.0, -2.0])


def test_capsule_is_invariant_under_a_rigid_motion():
    rng = np.random.default_rng(1)
    points = rng.uniform(-20, 20, (500, 3))
    rotation, shift = _rotation((1, 2, 3), 40.0), np.array([5.0, -7.0, 2.0])
    a, b = np.array([1.0, 2.0, -3.0]), np.array([4.0, -6.0, 9.0])
    moved = capsule_sdf(points @ rotation.T + shift, rotation @ a + shift, rotation @ b + shift,
                        1.5)
    np.testing.assert_allclose(moved, capsule_sdf(points, a, b, 1.5), atol=1e-9)


def test_box_inside_outside_and_corner():
    centre, half = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])
    points = centre + np.array([(0, 0, 0), (3, 0, 0), (0, 0, -5), (2, 3, 4), (0.5, 0, 0)])
    expected = [-1.0, 2.0, 2.0, np.sqrt(3.0), -0.5]
    np.testing.assert_allclose(box_sdf(points, centre, np.eye(3), half), expected, atol=1e-12)


def test_rotated_box_follows_its_axes():
    axes = _rotation((0, 0, 1), 90.0).T  # rows: box x along +y, box y along -x
    half = (5.0, 1.0, 1.0)
    values = box_sdf([(0, 7, 0), (7, 0, 0), (0, 0, 0)], (0, 0, 0), axes, half)
    np.testing.assert_allclose(values, [2.0, 6.0, -1.0], atol=1e-12)


CONE = {"apex": np.array([0.0, 0.0, 0.0]), "base": np.array([0.0, 0.0, -4.0]), "radius": 3.0}
"""Height 4, base radius 3: slant length 5, unit outward slant normal (4, 3)/5 in (x, -z)."""


@pytest.mark.parametrize(("point", "expected"), [
    ((0, 0, 2), 2.0),          # beyond the apex, on the axis
    ((0, 0, -6), 2.0),         # behind the base, on the axis
    ((5, 0, -4), 2.0),         # beside the base rim, in its plane
    ((3, 0, -7), 3.0),         # behind the rim
    ((0, 0, -3.5), -0.5),      # inside, nearest the base
    ((0, 0, -1), -0.6),        # inside near the apex: 1 * 3 / 5 to the slant
    ((1.5 + 0.8 * 2, 0, -(2 - 0.6 * 2)), 2.0),   # 2 mm out from the slant's middle
    ((-1.5 - 0.8 * 0.3, 0, -(2 - 0.6 * 0.3)), 0.3),  # other side, 0.3 mm out
])
def test_cone_closed_forms(point, expected):
    value = cone_sdf([point], CONE["apex"], CONE["base"], CONE["radius"])
    assert value[0] == pytest.approx(expected, abs=1e-12)


def _cone_surface_samples(n: int = 400) -> np.ndarray:
    """Dense samples of the cone of :data:`CONE` (slant and base disc)."""
    t, phi = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 2 * np.pi, n, endpoint=False))
    slant = np.stack([3 * t * np.cos(phi), 3 * t * np.sin(phi), -4 * t], -1).reshape(-1, 3)
    disc = np.stack([3 * t * np.cos(phi), 3 * t * np.sin(phi), np.full_like(t, -4.0)],
                    -1).reshape(-1, 3)
    return np.vstack([slant, disc])


def test_cone_magnitude_is_the_distance_to_its_surface():
    rng = np.random.default_rng(7)
    points = rng.uniform(-7, 7, (3000, 3)) + [0, 0, -2]
    values = cone_sdf(points, CONE["apex"], CONE["base"], CONE["radius"])
    sampled, _ = cKDTree(_cone_surface_samples()).query(points)
    np.testing.assert_allclose(np.abs(values), sampled, atol=0.03)  # sample spacing ~0.05 mm
    radial, depth = np.hypot(points[:, 0], points[:, 1]), -points[:, 2]
    inside = (depth >= 0) & (depth <= 4) & (radial <= 0.75 * depth)
    np.testing.assert_array_equal(values < 0, inside)


def test_cone_needs_a_height():
    with pytest.raises(InputError, match="positive height"):
        cone_sdf([(0, 0, 0)], (1, 1, 1), (1, 1, 1), 2.0)


def test_points_must_be_n_by_3():
    with pytest.raises(InputError, match=r"\(n, 3\)"):
        capsule_sdf(np.zeros((4, 2)), (0, 0, 0), (0, 0, 1), 1.0)


def test_needle_distance_follows_its_pose():
    needle = load_catalogue().get("biopsy_needle_18g")
    tip, axis = np.array([10.0, 20.0, 30.0]), np.array([1.0, 0.0, 0.0])  # shaft toward +L
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = frame_along(axis), tip
    points = np.array([
        tip - 50 * axis + [0, 5, 0],   # 5 mm beside the shaft, 50 mm behind the tip
        tip + 3 * axis,                # 3 mm ahead of the tip
        tip - 100 * axis,              # on the shaft axis: inside by the radius
        tip - 160 * axis,              # hub centre: 4 mm from its side faces
    ])
    expected = [5.0 - 0.635, 3.0, -0.635, -4.0]
    np.testing.assert_allclose(instrument_sdf(needle, pose, points), expected, atol=1e-9)
    assert instrument_sdf(needle, pose, points[:1]).shape == (1,)


def test_instrument_pose_must_be_rigid():
    needle = load_catalogue().get("biopsy_needle_18g")
    with pytest.raises(InputError, match="rigid"):
        instrument_sdf(needle, np.diag([2.0, 1.0, 1.0, 1.0]), [(0, 0, 0)])
