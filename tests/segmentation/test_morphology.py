"""Morphology on regions: margins against analytic spheres, islands, holes, boolean operations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from surgiplan.errors import InputError
from surgiplan.segmentation import morphology as morph
from surgiplan.segmentation.region import Region


def ball(shape_kji, centre_mm_ijk, radius_mm, spacing_ijk=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Voxels (k, j, i) whose centres lie within ``radius_mm`` of ``centre_mm_ijk``."""
    k, j, i = np.indices(shape_kji, dtype=float)
    s_i, s_j, s_k = spacing_ijk
    c_i, c_j, c_k = centre_mm_ijk
    return ((i * s_i - c_i) ** 2 + (j * s_j - c_j) ** 2 + (k * s_k - c_k) ** 2) <= radius_mm ** 2


def sphere_ml(radius_mm: float) -> float:
    return 4.0 / 3.0 * np.pi * radius_mm ** 3 / 1000.0


def volume_ml(region: Region, spacing_ijk) -> float:
    return region.voxel_count * float(np.prod(spacing_ijk)) / 1000.0


def assert_tight(region: Region) -> None:
    if region.is_empty:
        return
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        profile = region.mask.any(axis=other)
        assert profile[0] and profile[-1]


@pytest.fixture
def sphere10():
    spacing = (1.0, 1.0, 1.0)
    mask = ball((60, 60, 60), (30, 30, 30), 10.0, spacing)
    return Region.from_full_mask(mask), spacing


def test_grow_sphere_by_3mm_gives_radius_13(sphere10):
    region, spacing = sphere10
    grown = morph.grow(region, 3.0, spacing)
    assert volume_ml(grown, spacing) == pytest.approx(sphere_ml(13.0), rel=0.03)
    assert np.all(grown.to_full_mask() >= region.to_full_mask())
    assert_tight(grown)


def test_shrink_sphere_by_3mm_gives_radius_7(sphere10):
    region, spacing = sphere10
    shrunk = morph.shrink(region, 3.0, spacing)
    assert volume_ml(shrunk, spacing) == pytest.approx(sphere_ml(7.0), rel=0.05)
    assert np.all(shrunk.to_full_mask() <= region.to_full_mask())


def test_grow_a_voxel_gives_the_ball_of_voxel_centres_on_anisotropic_voxels():
    spacing = (0.7, 0.7, 2.5)  # (column, row, slice)
    shape = (15, 40, 40)
    point = np.zeros(shape, dtype=bool)
    point[7, 20, 20] = True
    grown = morph.grow(Region.from_full_mask(point), 6.0, spacing)
    expected = ball(shape, (20 * 0.7, 20 * 0.7, 7 * 2.5), 6.0, spacing)
    assert np.array_equal(grown.to_full_mask(), expected)


def test_margins_are_in_millimetres_on_anisotropic_voxels():
    spacing = (0.7, 0.7, 2.5)
    shape = (40, 80, 80)
    centre = (28.0, 28.0, 50.0)
    region = Region.from_full_mask(ball(shape, centre, 12.0, spacing))
    # Every point of the true sphere lies within half a voxel diagonal of a voxel centre.
    half_diagonal = 0.5 * float(np.linalg.norm(spacing))
    grown = morph.grow(region, 4.0, spacing).to_full_mask()
    assert np.all(grown <= ball(shape, centre, 16.0, spacing))
    assert np.all(grown >= ball(shape, centre, 16.0 - half_diagonal, spacing))
    shrunk = morph.shrink(region, 4.0, spacing).to_full_mask()
    assert np.all(shrunk >= ball(shape, centre, 7.99, spacing))
    assert np.all(shrunk <= ball(shape, centre, 8.0 + half_diagonal, spacing))
    # Volumes: the centre-to-centre margin is resolved to about half a 2.5 mm slice.
    assert grown.sum() * np.prod(spacing) / 1000 == pytest.approx(sphere_ml(16.0), rel=0.08)


@pytest.mark.parametrize("spacing", [(0.78125, 0.78125, 1.0), (0.7, 0.7, 2.5), (1.0, 1.0, 1.0)])
@pytest.mark.parametrize("margin", [0.5, 1.0, 1.3, 2.0, 3.0])
def test_small_margin_dilation_equals_the_distance_transform(spacing, margin):
    # Small margins dilate by the ball of voxel offsets: the same voxels as the exact EDT margin,
    # including at the box edge (outside counts as background), on a ragged random mask.
    rng = np.random.default_rng(3)
    mask = ndi.binary_opening(rng.random((30, 34, 38)) > 0.55)
    mask[0, :5, :5] = True  # touches the grid edge
    region = Region.from_full_mask(mask)
    sampling = np.asarray(spacing)[::-1]  # (k, j, i)
    expected = ndi.distance_transform_edt(~np.pad(mask, 6), sampling=sampling) <= margin + 1e-6
    expected = expected[6:-6, 6:-6, 6:-6]
    assert np.array_equal(morph.grow(region, margin, spacing).to_full_mask(), expected)


def test_one_millimetre_on_chest_voxels_is_the_six_neighbour_cross():
    element = morph.ball_element(1.0, np.array([1.0, 0.78125, 0.78125]))
    assert np.array_equal(element, ndi.generate_binary_structure(3, 1))


def test_grow_stays_on_the_grid_at_its_edge():
    mask = np.zeros((20, 20, 20), dtype=bool)
    mask[0:3, 0:3, 0:3] = True
    grown = morph.grow(Region.from_full_mask(mask), 2.0, (1.0, 1.0, 1.0))
    assert grown.offset_kji == (0, 0, 0)
    assert grown.mask.shape == (5, 5, 5)


def test_opening_removes_a_thin_spur_and_keeps_the_body(sphere10):
    region, spacing = sphere10
    full = region.to_full_mask()
    full[30, 30, 40:58] = True  # a one-voxel wire sticking out of the sphere
    opened = morph.opening(Region.from_full_mask(full), 2.0, spacing)
    assert not opened.to_full_mask()[30, 30, 45:58].any()
    assert volume_ml(opened, spacing) == pytest.approx(volume_ml(region, spacing), rel=0.03)


def test_closing_bridges_a_narrow_gap_and_contains_the_original():
    mask = np.zeros((30, 30, 40), dtype=bool)
    mask[5:25, 5:25, 5:18] = True
    mask[5:25, 5:25, 20:35] = True  # a 2-voxel gap at i = 18, 19
    region = Region.from_full_mask(mask)
    closed = morph.closing(region, 2.0, (1.0, 1.0, 1.0))
    full = closed.to_full_mask()
    assert full[10:20, 10:20, 18:20].all()
    assert np.all(full >= mask)
    assert morph.keep_largest(closed).voxel_count == closed.voxel_count


def test_closing_does_not_erode_from_the_scan_edge():
    mask = np.zeros((10, 10, 10), dtype=bool)
    mask[:, :, :4] = True  # a slab cut by three faces of the grid
    closed = morph.closing(Region.from_full_mask(mask), 3.0, (1.0, 1.0, 1.0))
    assert np.array_equal(closed.to_full_mask(), mask)


def test_keep_largest_and_keep_island():
    spacing = (1.0, 1.0, 1.0)
    shape = (40, 40, 90)
    mask = (ball(shape, (15, 20, 20), 9.0) | ball(shape, (45, 20, 20), 6.0)
            | ball(shape, (72, 20, 20), 4.0))
    region = Region.from_full_mask(mask)
    largest = morph.keep_largest(region)
    assert np.array_equal(largest.to_full_mask(), ball(shape, (15, 20, 20), 9.0))
    two = morph.keep_largest(region, count=2)
    assert volume_ml(two, spacing) == pytest.approx(sphere_ml(9) + sphere_ml(6), rel=0.05)
    island = morph.keep_island(region, (72, 20, 20))
    assert np.array_equal(island.to_full_mask(), ball(shape, (72, 20, 20), 4.0))
    with pytest.raises(InputError, match="not part of the region"):
        morph.keep_island(region, (30, 20, 20))


def test_islands_are_six_connected():
    mask = np.zeros((5, 5, 5), dtype=bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True  # touching only at a corner
    assert morph.keep_largest(Region.from_full_mask(mask)).voxel_count == 1


def test_fill_holes_fills_a_cavity_in_3d(sphere10):
    region, spacing = sphere10
    inner = morph.shrink(region, 3.0, spacing)
    shell = morph.difference(region, inner)
    filled = morph.fill_holes(shell)
    assert np.array_equal(filled.to_full_mask(), region.to_full_mask())


def test_fill_holes_slice_by_slice_closes_an_open_tube():
    mask = np.zeros((20, 30, 30), dtype=bool)
    outer = ball((1, 30, 30), (15, 15, 0), 10.0)[0]
    lumen = ball((1, 30, 30), (15, 15, 0), 6.0)[0]
    mask[:] = outer & ~lumen  # a pipe open at both ends: no 3-D hole
    tube = Region.from_full_mask(mask)
    assert morph.fill_holes(tube).voxel_count == tube.voxel_count
    filled = morph.fill_holes(tube, slice_axis=0)
    assert filled.voxel_count == 20 * int(outer.sum())


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_slice_holes_found_in_one_pass_equal_filling_each_slice(axis):
    rng = np.random.default_rng(axis)
    mask = ndi.binary_closing(rng.random((14, 22, 26)) > 0.6)
    expected = mask.copy()
    for index in range(mask.shape[axis]):
        plane = np.take(mask, index, axis=axis)
        filled = ndi.binary_fill_holes(plane, structure=ndi.generate_binary_structure(2, 1))
        np.moveaxis(expected, axis, 0)[index] = filled
    got = morph.fill_holes_mask(mask, slice_axis=axis, volumetric=False)
    assert np.array_equal(got, expected)
    assert got.sum() > mask.sum()  # the random mask has slice holes to fill


def test_boolean_operations_on_different_boxes_match_full_grid_logic():
    shape = (40, 50, 60)
    a_full = ball(shape, (25, 25, 20), 10.0)
    b_full = ball(shape, (35, 22, 22), 8.0)
    a, b = Region.from_full_mask(a_full), Region.from_full_mask(b_full)
    assert np.array_equal(morph.union(a, b).to_full_mask(), a_full | b_full)
    assert np.array_equal(morph.intersection(a, b).to_full_mask(), a_full & b_full)
    assert np.array_equal(morph.difference(a, b).to_full_mask(), a_full & ~b_full)
    far = Region.from_full_mask(ball(shape, (50, 40, 30), 3.0))
    assert morph.intersection(a, far).is_empty
    assert np.array_equal(morph.difference(a, far).to_full_mask(), a_full)
    for result in (morph.union(a, b), morph.intersection(a, b), morph.difference(a, b)):
        assert_tight(result)


def test_operations_refuse_regions_of_different_grids():
    a = Region.from_full_mask(np.ones((3, 3, 3), dtype=bool))
    b = Region.from_full_mask(np.ones((4, 3, 3), dtype=bool))
    with pytest.raises(InputError, match="different grids"):
        morph.union(a, b)


def test_bad_margins_and_spacing_are_refused(sphere10):
    region, spacing = sphere10
    with pytest.raises(InputError, match="0 mm or more"):
        morph.grow(region, -1.0, spacing)
    with pytest.raises(InputError, match="spacing"):
        morph.grow(region, 1.0, (1.0, 0.0, 1.0))
    assert morph.grow(region, 0.0, spacing).voxel_count == region.voxel_count


@pytest.mark.parametrize("seed", [0, 1])
def test_component_labels_equal_scipy_labels(seed):
    mask = np.random.default_rng(seed).random((17, 23, 29)) > 0.6
    labels, n = morph.label_components(mask)
    expected, expected_n = ndi.label(mask, structure=ndi.generate_binary_structure(3, 1))
    assert n == expected_n
    np.testing.assert_array_equal(labels, expected)  # same numbering: raster order
    flipped = np.asfortranarray(mask)  # any memory order gives the same numbering
    np.testing.assert_array_equal(morph.label_components(flipped)[0], expected)
