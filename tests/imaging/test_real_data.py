"""The real, public scans in ../shared/data give what their README says (skipped when absent)."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest

from surgiplan.imaging import load_series, scan_folder
from surgiplan.imaging.decode import decode_stored, modality_image
from surgiplan.imaging.export import LPS_TO_RAS
from surgiplan.imaging.headers import read_image_refs


def _codes(series) -> set[str]:
    return {w.code for w in series.warnings}


def test_chest_ct_grid_origin_and_order(shared_data):
    result = scan_folder(shared_data("chest_ct_lidc0314"))
    assert len(result.volumes()) == 1
    volume = load_series(result.volumes()[0])
    assert volume.shape == (275, 512, 512)
    assert volume.spacing_mm == pytest.approx((0.78125, 0.78125, 1.0), abs=1e-4)
    np.testing.assert_allclose(volume.origin_lps_mm, (-201.0, -59.0, -679.8), atol=0.01)
    assert volume.affine_lps[2, 2] > 0  # inferior to superior
    assert volume.voxels.min() == -1000 and volume.voxels.max() == 1979
    lung_fraction = np.mean((volume.voxels > -950) & (volume.voxels < -700))
    assert lung_fraction > 0.03  # aerated lung parenchyma, not only outside air


def test_abdomen_without_uids_compressed_matches_its_label_grid(shared_data):
    folder = shared_data("abdomen_ct_totalseg")
    result = scan_folder(folder / "dicom")
    assert len(result.volumes()) == 1 and result.volumes()[0].uid is None
    volume = load_series(result.volumes()[0])
    assert volume.shape == (20, 512, 512)
    labels = nib.load(folder / "labels_on_dicom_grid.nii.gz")
    assert labels.shape == volume.shape[::-1]
    # same grid in the world, possibly stored with flipped axes: a signed permutation
    mapping = np.linalg.inv(labels.affine) @ LPS_TO_RAS @ volume.affine_lps
    np.testing.assert_allclose(np.abs(mapping[:3, :3]).sum(axis=0), 1.0, atol=1e-4)
    np.testing.assert_allclose(mapping[:3, 3], np.round(mapping[:3, 3]), atol=1e-3)
    k, j, i = np.indices(volume.shape).reshape(3, -1)
    ijk_label = np.rint(np.stack([i, j, k], 1) @ mapping[:3, :3].T + mapping[:3, 3]).astype(int)
    data = np.asarray(labels.dataobj)
    label_data = data[ijk_label[:, 0], ijk_label[:, 1], ijk_label[:, 2]].reshape(volume.shape)
    liver_hu = np.median(volume.voxels[label_data == 5])
    assert 60 < liver_hu < 200  # contrast-enhanced liver


def test_head_ct_gantry_tilt_is_detected_and_corrected(shared_data):
    result = scan_folder(shared_data("head_ct_gantry_tilt_ge"))
    series = result.volumes()[0]
    assert {"gantry_tilt", "nonuniform_spacing"} <= _codes(series)
    message = next(w.message for w in series.warnings if w.code == "gantry_tilt")
    assert "18.5 degrees" in message
    volume = load_series(series)
    direction = volume.direction
    np.testing.assert_allclose(direction.T @ direction, np.eye(3), atol=1e-9)  # orthogonal grid
    np.testing.assert_allclose(direction[:, 2], np.cross(direction[:, 0], direction[:, 1]))
    # the skull is bone everywhere around the brain; bone must exist in the middle slices
    assert (volume.voxels[volume.shape[0] // 2] > 700).sum() > 1000


def _tiles(mosaic: np.ndarray, slices: int) -> np.ndarray:
    n = int(np.ceil(np.sqrt(slices)))
    size = mosaic.shape[0] // n
    return mosaic.reshape(n, size, n, size).transpose(0, 2, 1, 3).reshape(n * n, size, size)[
        :slices
    ]


def test_every_transfer_syntax_decodes_to_identical_pixels(shared_data):
    folder = shared_data("transfer_syntaxes")
    reference = np.asarray(nib.load(folder / "ref" / "1.nii").dataobj).transpose(2, 1, 0)
    reference = reference[:, ::-1, :].astype(np.int32)  # dcm2niix flips rows
    syntaxes = set()
    for n in range(1, 10):
        image = read_image_refs(str(folder / "in" / f"{n}.dcm"))[0]
        syntaxes.add(image.transfer_syntax)
        tiles = _tiles(decode_stored(image).astype(np.int32), reference.shape[0])
        np.testing.assert_array_equal(tiles, reference, err_msg=f"{n}.dcm")
    assert len(syntaxes) >= 7


CODECS = ["CT1", "CT2", "MR1", "MR2", "MR3", "MR4", "NM1"]


@pytest.mark.parametrize("codec", ["RLE", "JPLL", "JLSL", "J2KR"])
def test_lossless_codecs_equal_reference(shared_data, codec):
    folder = shared_data("codecs_nema_wg04")
    for name in CODECS:
        reference = modality_image(read_image_refs(str(folder / "REF" / f"{name}_UNC"))[0])
        decoded = modality_image(read_image_refs(str(folder / codec / f"{name}_{codec}"))[0])
        np.testing.assert_array_equal(decoded, reference, err_msg=f"{name} {codec}")


@pytest.mark.parametrize("codec", ["JLSN", "J2KI", "JPLY"])
def test_lossy_codecs_stay_close(shared_data, codec):
    folder = shared_data("codecs_nema_wg04")
    if codec == "JPLY" and shutil.which("dcmdjpeg") is None:
        pytest.skip("dcmtk's dcmdjpeg is not installed (install.sh installs it)")
    for name in CODECS:
        path = folder / codec / f"{name}_{codec}"
        if not path.exists():
            continue
        reference = modality_image(read_image_refs(str(folder / "REF" / f"{name}_UNC"))[0])
        decoded = modality_image(read_image_refs(str(path))[0])
        spread = float(reference.max() - reference.min())
        assert np.abs(decoded - reference).mean() < 0.02 * spread, f"{name} {codec}"


def test_geometry_edge_cases_give_specific_messages(shared_data):
    folder = shared_data("geometry_edge_cases")
    by_folder = {}
    for sub in ("gantrytilting/001", "sliceincrement/001", "sliceincrement/002",
                "slicecount/001", "notavolume/001", "sliceorientation/001"):
        by_folder[sub] = scan_folder(folder / sub).series
    assert "gantry_tilt" in _codes(by_folder["gantrytilting/001"][0])
    assert "missing_slices" in _codes(by_folder["sliceincrement/001"][0])
    assert {"missing_slices", "gantry_tilt"} <= _codes(by_folder["sliceincrement/002"][0])
    assert {"too_few_slices", "not_a_volume"} <= _codes(by_folder["slicecount/001"][0])
    assert {"duplicate_positions", "not_a_volume"} <= _codes(by_folder["notavolume/001"][0])
    orientation = by_folder["sliceorientation/001"]
    assert not any(s.is_volume for s in orientation)
    assert any("mixed_geometry" in _codes(s) for s in orientation)


def test_sliceincrement_gap_is_regridded_like_the_reference(shared_data):
    folder = shared_data("geometry_edge_cases") / "sliceincrement"
    volume = load_series(scan_folder(folder / "001").volumes()[0])
    assert volume.shape[0] == 5 and volume.spacing_mm[2] == pytest.approx(5.0, abs=0.01)


def test_enhanced_frames_equal_classic_images(shared_data):
    folder = shared_data("enhanced_vs_classic")
    classic = scan_folder(folder / "classic").volumes()
    enhanced = scan_folder(folder / "enhanced").volumes()
    assert len(classic) == 6 and len(enhanced) == 6
    classic_volumes = [load_series(s) for s in classic]
    for series in enhanced:
        volume = load_series(series)
        matches = [c for c in classic_volumes if np.allclose(c.voxels, volume.voxels, atol=1e-3)
                   and np.allclose(c.affine_lps, volume.affine_lps, atol=1e-3)]
        assert matches, f"enhanced series {series.index} matches no classic volume"


def test_mixed_mr_folder_groups_four_series(shared_data):
    result = scan_folder(shared_data("mr_brain_mixed_series"))
    assert len(result.series) == 4
    volumes = result.volumes()
    assert len(volumes) == 2
    assert all("missing_slices" in _codes(s) for s in volumes)
    t2 = next(s for s in volumes if "T2" in s.description)
    assert t2.files == 55 and t2.shape == (56, 512, 384)
    volume = load_series(t2)
    assert not np.allclose(np.abs(volume.direction), np.eye(3), atol=1e-3)  # oblique
    assert [s.files for s in result.series if not s.is_volume] == [1, 1]
