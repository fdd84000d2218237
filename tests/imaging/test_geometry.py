"""Import puts anatomy at the right place in patient space, whatever the stack looks like."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.imaging import load_series, scan_folder
from tests.dicom_factory import SeriesSpec, Sphere, rotation, sphere_centroid_lps, write_series


def _import_single(folder):
    result = scan_folder(folder, workers=1)
    volumes = result.volumes()
    assert len(volumes) == 1, [s.warnings for s in result.series]
    return volumes[0], load_series(volumes[0], workers=1)


def _codes(candidate) -> set[str]:
    return {w.code for w in candidate.warnings}


def test_axial_shuffled_files_land_at_known_positions(tmp_path):
    spec = SeriesSpec(spheres=[Sphere((3.0, -4.0, 20.0), 9.0), Sphere((-14.0, 20.0, 25.0), 5.0)])
    write_series(tmp_path, spec)
    candidate, volume = _import_single(tmp_path)
    assert candidate.files == 30 and volume.shape == (30, 48, 40)
    assert volume.spacing_mm == pytest.approx((1.25, 1.5, 2.0))
    np.testing.assert_allclose(volume.origin_lps_mm, spec.origin_lps_mm, atol=1e-4)
    assert not candidate.warnings
    # the two spheres separately: split the mask by position along L
    k, j, i = np.nonzero(volume.voxels > 0)
    points = volume.ijk_to_lps(np.stack([i, j, k], axis=1))
    near_first = np.linalg.norm(points - [3.0, -4.0, 20.0], axis=1) < 12
    np.testing.assert_allclose(points[near_first].mean(axis=0), (3.0, -4.0, 20.0), atol=0.3)
    np.testing.assert_allclose(points[~near_first].mean(axis=0), (-14.0, 20.0, 25.0), atol=0.5)


def test_values_are_hounsfield_units(tmp_path):
    spec = SeriesSpec(spheres=[Sphere((0.0, 0.0, 20.0), 10.0, value=55.0)], intercept=-1024.0)
    write_series(tmp_path, spec)
    _, volume = _import_single(tmp_path)
    assert volume.voxels.dtype == np.int16
    assert set(np.unique(volume.voxels)) == {-1000, 55}
    assert volume.value_at([[0.0, 0.0, 20.0]])[0] == 55


def test_reversed_stack_sorted_by_position_not_instance_number(tmp_path):
    spec = SeriesSpec(offsets_mm=tuple(float(v) for v in np.arange(30)[::-1] * 2.0),
                      spheres=[Sphere((5.0, 0.0, 12.0), 8.0)])
    write_series(tmp_path, spec, names="ordered")
    _, volume = _import_single(tmp_path)
    assert volume.affine_lps[2, 2] > 0  # increasing k goes superior
    np.testing.assert_allclose(sphere_centroid_lps(volume, 0), (5.0, 0.0, 12.0), atol=0.3)


@pytest.mark.parametrize("axis,angle", [((1, 0, 0), 90.0), ((0, 1, 0), -90.0),
                                        ((1, 1, 0.3), 35.0), ((0.2, -0.5, 1), 120.0)])
def test_oblique_orientations(tmp_path, axis, angle):
    turn = rotation(axis, angle)
    centre = (6.0, -3.0, 8.0)
    spec = SeriesSpec(rows=56, columns=56, offsets_mm=tuple(np.arange(40) * 1.5),
                      pixel_spacing_mm=(1.0, 1.0), row_dir=tuple(turn[:, 0]),
                      col_dir=tuple(turn[:, 1]),
                      origin_lps_mm=tuple(np.asarray(centre) - turn @ [27.5, 27.5, 29.0]),
                      spheres=[Sphere(centre, 10.0)])
    write_series(tmp_path, spec)
    candidate, volume = _import_single(tmp_path)
    assert not _codes(candidate)
    np.testing.assert_allclose(volume.direction, turn, atol=1e-6)
    np.testing.assert_allclose(sphere_centroid_lps(volume, 0), centre, atol=0.3)


def test_gantry_tilt_is_resampled_not_pretended_regular(tmp_path):
    tilt = np.radians(20.0)
    # stack moves along z but each slice origin also shifts posteriorly: a 20 degree tilt
    stack_dir = (0.0, np.sin(tilt), np.cos(tilt))
    spec = SeriesSpec(rows=64, columns=48, offsets_mm=tuple(np.arange(30) * 2.0 / np.cos(tilt)),
                      stack_dir=stack_dir, origin_lps_mm=(-30.0, -40.0, -20.0),
                      spheres=[Sphere((0.0, 5.0, 12.0), 9.0)], pixel_spacing_mm=(1.25, 1.25))
    write_series(tmp_path, spec)
    candidate, volume = _import_single(tmp_path)
    assert "gantry_tilt" in _codes(candidate)
    message = next(w.message for w in candidate.warnings if w.code == "gantry_tilt")
    assert "20.0 degrees" in message
    np.testing.assert_allclose(sphere_centroid_lps(volume, 0), (0.0, 5.0, 12.0), atol=0.4)
    # the sphere stays a sphere: extent along P equals extent along L
    k, j, i = np.nonzero(volume.voxels > 0)
    points = volume.ijk_to_lps(np.stack([i, j, k], axis=1))
    extent = points.max(axis=0) - points.min(axis=0)
    assert abs(extent[1] - extent[0]) < 2.6
    # an axis-aligned grid: the k axis is the slice normal, not the tilted stack direction
    np.testing.assert_allclose(volume.direction[:, 2], (0, 0, 1), atol=1e-9)


def test_missing_slice_detected_and_filled_on_regular_grid(tmp_path):
    offsets = [v for v in np.arange(30) * 2.0 if v != 24.0]
    spec = SeriesSpec(offsets_mm=tuple(offsets), spheres=[Sphere((0.0, 0.0, 30.0), 8.0)])
    write_series(tmp_path, spec)
    candidate, volume = _import_single(tmp_path)
    assert "missing_slices" in _codes(candidate)
    assert candidate.files == 29 and volume.shape[0] == 30
    assert volume.spacing_mm[2] == pytest.approx(2.0)
    np.testing.assert_allclose(sphere_centroid_lps(volume, 0), (0.0, 0.0, 30.0), atol=0.3)


def test_nonuniform_spacing_reported_and_regridded(tmp_path):
    offsets = np.concatenate([np.arange(20) * 1.0, 19.0 + np.arange(1, 11) * 2.7])
    spec = SeriesSpec(offsets_mm=tuple(offsets), spheres=[Sphere((0.0, 0.0, -10.0), 5.0)])
    write_series(tmp_path, spec)
    candidate, volume = _import_single(tmp_path)
    assert "nonuniform_spacing" in _codes(candidate)
    assert volume.spacing_mm[2] == pytest.approx(1.0, abs=0.01)  # the finest spacing is kept
    span = volume.spacing_mm[2] * (volume.shape[0] - 1)
    assert span == pytest.approx(offsets[-1], abs=1e-6)
    z_first = volume.ijk_to_lps([[0, 0, 0]])[0, 2]
    assert z_first == pytest.approx(spec.origin_lps_mm[2])
    np.testing.assert_allclose(sphere_centroid_lps(volume, 0), (0.0, 0.0, -10.0), atol=0.3)


def test_regular_series_is_not_resampled(tmp_path):
    spec = SeriesSpec()
    write_series(tmp_path, spec)
    candidate, _ = _import_single(tmp_path)
    assert candidate.analysis.geometry.resample is None
