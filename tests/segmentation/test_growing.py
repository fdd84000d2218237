"""Seeded region growing on synthetic CT of known shapes, positions and HU."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.segmentation import growing
from surgiplan.segmentation.growing import RegionLeakError, grow_region

SPACING = (0.8, 0.8, 1.5)  # (column, row, slice) mm
ORIGIN = (-36.0, -32.0, -37.5)
SHAPE = (50, 80, 90)  # (slices, rows, columns)
LIVER_CENTRE = np.array([-5.0, 0.0, 0.0])
LIVER_AXES = np.array([20.0, 15.0, 12.0])
VESSEL_X, VESSEL_RADIUS = 18.0, 4.0  # tube along z, overlapping the liver's right end


def affine(spacing=SPACING, origin=ORIGIN, rotation=None) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = (np.eye(3) if rotation is None else rotation) @ np.diag(spacing)
    out[:3, 3] = origin
    return out


def lps_grid(shape, affine_lps) -> np.ndarray:
    """(3, k, j, i) LPS coordinates of the voxel centres."""
    k, j, i = np.indices(shape, dtype=float)
    return np.einsum("rc,ckji->rkji", affine_lps[:3, :3], np.stack([i, j, k])) + (
        affine_lps[:3, 3, None, None, None])


def liver_and_vessel(noise_hu: float = 8.0):
    aff = affine()
    x, y, z = lps_grid(SHAPE, aff)
    liver = (((x - LIVER_CENTRE[0]) / LIVER_AXES[0]) ** 2 + ((y - LIVER_CENTRE[1]) / LIVER_AXES[1])
             ** 2 + ((z - LIVER_CENTRE[2]) / LIVER_AXES[2]) ** 2) <= 1.0
    vessel = ((x - VESSEL_X) ** 2 + y ** 2) <= VESSEL_RADIUS ** 2
    voxels = np.full(SHAPE, -80.0)
    voxels[liver] = 100.0
    voxels[vessel] = 200.0
    voxels += np.random.default_rng(7).normal(0.0, noise_hu, SHAPE)
    volume = Volume(np.rint(voxels).astype(np.int16), aff, "CT")
    return volume, liver & ~vessel, vessel


def voxel_ml(volume: Volume) -> float:
    return abs(np.linalg.det(volume.affine_lps[:3, :3])) / 1000.0


@pytest.fixture(scope="module")
def phantom():
    return liver_and_vessel()


def test_liver_seed_with_liver_window_does_not_take_the_vessel(phantom):
    volume, liver, vessel = phantom
    region = grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=(50, 150))
    full = region.to_full_mask()
    assert np.array_equal(full, liver)
    assert not (full & vessel).any()
    analytic_ml = 4 / 3 * np.pi * np.prod(LIVER_AXES) / 1000
    assert region.voxel_count * voxel_ml(volume) == pytest.approx(analytic_ml, rel=0.03)


def test_default_window_is_the_seed_value_plus_minus_tolerance(phantom):
    volume, liver, _ = phantom
    region = grow_region(volume, seed_lps_mm=LIVER_CENTRE, tolerance_hu=50)
    assert np.array_equal(region.to_full_mask(), liver)


def test_seed_in_voxels_equals_seed_in_millimetres(phantom):
    volume, _, _ = phantom
    ijk = volume.lps_to_ijk(LIVER_CENTRE)[0]
    by_mm = grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=(50, 150))
    by_ijk = grow_region(volume, seed_ijk=ijk, window_hu=(50, 150))
    assert by_ijk.offset_kji == by_mm.offset_kji
    assert np.array_equal(by_ijk.mask, by_mm.mask)


def test_wide_window_takes_both_and_the_volume_guard_reports_the_leak(phantom):
    volume, liver, vessel = phantom
    both = grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=(50, 250))
    assert np.array_equal(both.to_full_mask(), liver | vessel)
    liver_ml = liver.sum() * voxel_ml(volume)
    with pytest.raises(RegionLeakError, match="leaked") as caught:
        grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=(50, 250),
                    max_volume_ml=liver_ml * 1.05)
    assert isinstance(caught.value, InputError)
    assert caught.value.volume_ml > liver_ml * 1.05
    message = str(caught.value)
    assert "mL" in message and "window" in message and "radius" in message


def test_radius_guard_keeps_the_region_within_the_sphere(phantom):
    volume, _, _ = phantom
    region = grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=(50, 250),
                         max_radius_mm=9.9)
    seed_voxel_lps = volume.ijk_to_lps(np.rint(volume.lps_to_ijk(LIVER_CENTRE)))[0]
    x, y, z = lps_grid(SHAPE, volume.affine_lps)
    ball = (x - seed_voxel_lps[0]) ** 2 + (y - seed_voxel_lps[1]) ** 2 + (
        z - seed_voxel_lps[2]) ** 2 <= 9.9 ** 2
    assert np.array_equal(region.to_full_mask(), ball)


def test_a_long_structure_is_found_whole_by_doubling_the_box(phantom):
    volume, _, vessel = phantom
    seed = (VESSEL_X + 2.0, 0.0, -30.0)  # near one end: the tube is 75 mm long
    region = grow_region(volume, seed_lps_mm=seed, window_hu=(150, 250))
    assert np.array_equal(region.to_full_mask(), vessel)


def test_a_small_organ_is_grown_in_a_small_box(monkeypatch):
    shape = (60, 200, 200)
    aff = affine(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    x, y, z = lps_grid(shape, aff)
    voxels = np.where((x - 100) ** 2 + (y - 100) ** 2 + (z - 30) ** 2 <= 64.0, 60, -100)
    volume = Volume(voxels.astype(np.int16), aff, "CT")
    boxes = []
    original = growing._box_values

    def recording(vol, lo, hi, sigma):
        boxes.append(int(np.prod(hi - lo)))
        return original(vol, lo, hi, sigma)

    monkeypatch.setattr(growing, "_box_values", recording)
    region = grow_region(volume, seed_ijk=(100, 100, 30), window_hu=(0, 100))
    assert region.voxel_count == int((voxels == 60).sum())
    assert max(boxes) < 0.1 * np.prod(shape)


def test_oblique_grid_keeps_patient_positions():
    angle = np.deg2rad(25.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0],
                         [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    rot_x = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(0.3), -np.sin(0.3)],
                      [0.0, np.sin(0.3), np.cos(0.3)]])
    aff = affine(spacing=(0.9, 0.9, 1.2), origin=(-20.0, -40.0, -25.0),
                 rotation=rot_x @ rotation)
    shape = (50, 60, 60)
    x, y, z = lps_grid(shape, aff)
    centre = aff[:3, :3] @ np.array([30.0, 30.0, 25.0]) + aff[:3, 3] + 0.3
    sphere = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 <= 12.0 ** 2
    volume = Volume(np.where(sphere, 120, -50).astype(np.int16), aff, "CT")
    region = grow_region(volume, seed_lps_mm=centre, tolerance_hu=40)
    ijk = np.argwhere(region.to_full_mask())[:, ::-1].mean(axis=0)
    assert np.linalg.norm(volume.ijk_to_lps(ijk)[0] - centre) < 0.5
    analytic_ml = 4 / 3 * np.pi * 12.0 ** 3 / 1000
    assert region.voxel_count * voxel_ml(volume) == pytest.approx(analytic_ml, rel=0.03)


def test_smoothing_rescues_a_noisy_organ():
    volume, liver, _ = liver_and_vessel(noise_hu=45.0)
    window = (50, 150)
    raw = grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=window,
                      smoothing_sigma_mm=0.0)
    smooth = grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=window,
                         smoothing_sigma_mm=1.0)
    truth = liver.sum()
    assert raw.voxel_count < 0.85 * truth
    assert smooth.voxel_count == pytest.approx(truth, rel=0.03)


def test_seed_problems_are_clear_input_errors(phantom):
    volume, _, _ = phantom
    with pytest.raises(InputError, match="outside the scan"):
        grow_region(volume, seed_lps_mm=(500.0, 0.0, 0.0))
    with pytest.raises(InputError, match="outside the scan"):
        grow_region(volume, seed_ijk=(-1, 0, 0))
    with pytest.raises(InputError, match="outside the intensity window"):
        grow_region(volume, seed_lps_mm=(-30.0, -28.0, -30.0), window_hu=(50, 150))
    with pytest.raises(InputError, match="not both or neither"):
        grow_region(volume)
    with pytest.raises(InputError, match="not both or neither"):
        grow_region(volume, seed_lps_mm=LIVER_CENTRE, seed_ijk=(1, 1, 1))
    with pytest.raises(InputError, match="empty"):
        grow_region(volume, seed_lps_mm=LIVER_CENTRE, window_hu=(150, 50))
