"""Volumes written by SurgiPlan (or Slicer) read back at the same place in patient space."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.imaging import Volume, write_volume
from surgiplan.imaging.volume_io import read_volume
from tests.dicom_factory import rotation


def _volume() -> Volume:
    affine = np.eye(4)
    affine[:3, :3] = rotation((1, 2, 3), 40.0) @ np.diag([0.8, 0.9, 2.5])
    affine[:3, 3] = (-12.0, 30.0, 55.0)
    voxels = np.random.default_rng(0).integers(-1024, 2000, (7, 9, 11)).astype(np.int16)
    return Volume(voxels, affine, "CT")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd"])
def test_round_trip_keeps_voxels_and_geometry(tmp_path, suffix):
    volume = _volume()
    read = read_volume(write_volume(volume, tmp_path / f"v{suffix}"))
    np.testing.assert_array_equal(read.voxels, volume.voxels)
    np.testing.assert_allclose(read.affine_lps, volume.affine_lps, atol=1e-5)
    assert read.modality == "CT"


def test_scaled_nifti_gives_float_values(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    image = nib.Nifti1Image(data, np.eye(4))
    image.header.set_slope_inter(0.5, -3.0)
    nib.save(image, tmp_path / "scaled.nii")
    volume = read_volume(tmp_path / "scaled.nii")
    assert volume.voxels.dtype == np.float32
    assert volume.voxels[0, 0, 1] == pytest.approx(0.5 * data[1, 0, 0] - 3.0)  # [k, j, i]


def test_bad_files_raise_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_volume(tmp_path / "missing.nii")
    (tmp_path / "broken.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(InputError, match="cannot read"):
        read_volume(tmp_path / "broken.nii.gz")
    (tmp_path / "x.mha").write_bytes(b"")
    with pytest.raises(InputError, match="unsupported volume format"):
        read_volume(tmp_path / "x.mha")
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2, 3), np.int16), np.eye(4)), tmp_path / "4d.nii")
    with pytest.raises(InputError, match="3-D volume is needed"):
        read_volume(tmp_path / "4d.nii")
