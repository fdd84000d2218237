"""Grid conventions and shape primitives of the phantom generator."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.phantom.grid import PhantomGrid
from surgiplan.phantom.shapes import (
    distance_to_polyline,
    ellipsoid_mask,
    ellipsoid_volume_mm3,
    rotation_matrix,
    smooth_centreline,
    tube_mask,
)


def test_default_grid_is_centred_lps():
    grid = PhantomGrid.from_shape()
    assert grid.shape_kji == (64, 256, 256)
    assert grid.spacing_mm == pytest.approx((1.5, 1.5, 3.0))
    x, y, z = grid.axes()
    assert x.mean() == pytest.approx(0.0) and y.mean() == pytest.approx(0.0)
    assert z[0] == pytest.approx(-96.0) and z[-1] == pytest.approx(93.0)
    kji = np.array([[3, 10, 200], [0, 0, 0]])
    lps = grid.index_to_lps(kji)
    np.testing.assert_allclose(lps[0], [-191.25 + 300.0, -191.25 + 15.0, -96.0 + 9.0])
    np.testing.assert_allclose(grid.lps_to_index(lps), kji)
    affine = grid.affine_lps
    np.testing.assert_allclose((affine @ [200, 10, 3, 1])[:3], lps[0])


def test_rotation_is_right_handed():
    np.testing.assert_allclose(rotation_matrix("z", 90) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(rotation_matrix("x", 90) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(rotation_matrix("y", 90) @ [0, 0, 1], [1, 0, 0], atol=1e-12)


def test_rotated_ellipsoid_volume_and_extent():
    grid = PhantomGrid.from_shape((96, 256, 256))  # 1.5 x 1.5 x 2 mm
    rot = rotation_matrix("z", 30) @ rotation_matrix("y", 20)
    mask = ellipsoid_mask(grid, (10.0, -5.0, 0.0), (40.0, 25.0, 30.0), rot)
    volume = mask.sum() * grid.voxel_volume_mm3
    assert volume == pytest.approx(ellipsoid_volume_mm3((40.0, 25.0, 30.0)), rel=0.01)
    centroid = grid.index_to_lps(np.argwhere(mask).mean(axis=0))
    np.testing.assert_allclose(centroid, (10.0, -5.0, 0.0), atol=0.2)


def test_smooth_centreline_passes_through_control_points():
    control = [(0.0, 0.0, 0.0), (30.0, 10.0, 5.0), (50.0, 40.0, 20.0)]
    line = smooth_centreline(control, step_mm=2.0)
    np.testing.assert_allclose(line[0], control[0])
    np.testing.assert_allclose(line[-1], control[-1])
    assert distance_to_polyline(np.array(control[1:2]), line)[0] < 0.05
    steps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    assert steps.max() <= 2.0 + 1e-9 and steps.min() > 1.5


def test_straight_tube_has_cylinder_volume():
    grid = PhantomGrid.from_shape((64, 256, 256))
    line = smooth_centreline([(0.2, 0.3, -97.5), (0.2, 0.3, 94.5)], 2.0)
    mask = tube_mask(grid, line, 10.0)
    assert mask.sum() * grid.voxel_volume_mm3 == pytest.approx(np.pi * 100 * 192, rel=0.03)
    assert distance_to_polyline(np.array([[10.2, 0.3, 5.0]]), line)[0] == pytest.approx(10.0)
