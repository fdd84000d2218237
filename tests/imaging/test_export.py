"""Exports place the volume where 3D Slicer expects it; writes are atomic."""

from __future__ import annotations

import nibabel as nib
import nrrd
import numpy as np
import pytest

from surgiplan.errors import OutputError
from surgiplan.imaging import load_series, scan_folder, write_volume
from tests.dicom_factory import SeriesSpec, Sphere, rotation, write_series

CENTRE = (4.0, -6.0, 12.0)


@pytest.fixture(scope="module")
def oblique_volume(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oblique")
    turn = rotation((1, 2, 0.5), 25.0)
    spec = SeriesSpec(rows=40, columns=40, offsets_mm=tuple(np.arange(30) * 1.5),
                      pixel_spacing_mm=(1.2, 1.0), row_dir=tuple(turn[:, 0]),
                      col_dir=tuple(turn[:, 1]),
                      origin_lps_mm=tuple(np.asarray(CENTRE) - turn @ [19.5, 23.4, 21.75]),
                      spheres=[Sphere(CENTRE, 7.0)])
    write_series(folder, spec)
    return load_series(scan_folder(folder).volumes()[0])


def _centroid(data_ijk: np.ndarray, affine: np.ndarray) -> np.ndarray:
    i, j, k = np.nonzero(data_ijk > 0)
    ijk1 = np.stack([i, j, k, np.ones_like(i)], axis=1).astype(float)
    return (ijk1 @ affine.T)[:, :3].mean(axis=0)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_has_standard_ras_affine(tmp_path, oblique_volume, suffix):
    path = write_volume(oblique_volume, tmp_path / f"vol{suffix}")
    image = nib.load(path)
    assert image.header.get_qform(coded=True)[1] == 1
    assert image.header.get_sform(coded=True)[1] == 1
    data = np.asarray(image.dataobj)
    assert data.shape == oblique_volume.shape[::-1]
    np.testing.assert_array_equal(data.transpose(2, 1, 0), oblique_volume.voxels)
    centre_ras = _centroid(data, image.affine)
    np.testing.assert_allclose(centre_ras, (-CENTRE[0], -CENTRE[1], CENTRE[2]), atol=0.3)


def test_nrrd_is_in_lps_space(tmp_path, oblique_volume):
    path = write_volume(oblique_volume, tmp_path / "vol.nrrd")
    data, header = nrrd.read(str(path))
    assert header["space"] == "left-posterior-superior"
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(header["space directions"]).T
    affine[:3, 3] = header["space origin"]
    np.testing.assert_allclose(_centroid(data, affine), CENTRE, atol=0.3)


def test_failed_write_leaves_the_existing_file_untouched(tmp_path, oblique_volume, monkeypatch):
    target = tmp_path / "vol.nii.gz"
    target.write_bytes(b"previous version")

    def broken_save(image, filename):
        with open(filename, "wb") as handle:
            handle.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nib, "save", broken_save)
    with pytest.raises(OutputError, match="No space left"):
        write_volume(oblique_volume, target)
    assert target.read_bytes() == b"previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vol.nii.gz"]


def test_unknown_suffix_and_missing_folder_are_refused(tmp_path, oblique_volume):
    with pytest.raises(OutputError, match=r"\.nii, \.nii\.gz or \.nrrd"):
        write_volume(oblique_volume, tmp_path / "vol.mha")
    with pytest.raises(OutputError, match="does not exist"):
        write_volume(oblique_volume, tmp_path / "missing" / "vol.nii")
