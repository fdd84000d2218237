"""Importing NIfTI/NRRD label maps onto a volume grid: world alignment, exact reorders, names."""

from __future__ import annotations

import nibabel as nib
import nrrd
import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.imaging import load_series, scan_folder
from surgiplan.imaging.export import nifti_image
from surgiplan.imaging.volume_io import read_volume
from surgiplan.segmentation.label_import import import_label_map

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def grid_affine(spacing, origin, rotation=None) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = (np.eye(3) if rotation is None else rotation) @ np.diag(spacing)
    out[:3, 3] = origin
    return out


def rotation_about(axis, degrees) -> np.ndarray:
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    a = np.deg2rad(degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * cross + (1 - np.cos(a)) * cross @ cross


def centres_lps(shape, affine_lps) -> np.ndarray:
    """(3, k, j, i) LPS coordinates of voxel centres."""
    k, j, i = np.indices(shape, dtype=float)
    return np.einsum("rc,ckji->rkji", affine_lps[:3, :3], np.stack([i, j, k])) + (
        affine_lps[:3, 3, None, None, None])


def write_nifti(path, labels_kji, affine_lps):
    nib.save(nifti_image(labels_kji.astype(np.uint8), affine_lps), str(path))
    return path


def reoriented(labels_kji, affine_lps, order, flips):
    """The same labels stored with source axis n = target axis order[n], flipped where asked."""
    data_ijk = labels_kji.transpose(2, 1, 0).transpose(order)
    aff = np.eye(4)
    aff[:3, :3] = affine_lps[:3, order]
    aff[:3, 3] = affine_lps[:3, 3]
    for axis, flip in enumerate(flips):
        if flip:
            data_ijk = np.flip(data_ijk, axis)
            aff[:3, 3] += aff[:3, axis] * (data_ijk.shape[axis] - 1)
            aff[:3, axis] *= -1
    return np.ascontiguousarray(data_ijk.transpose(2, 1, 0)), aff


TARGET_SHAPE = (12, 14, 16)
TARGET_AFFINE = grid_affine((0.9, 0.9, 2.0), (-7.0, -6.0, -11.0))


@pytest.fixture
def random_labels():
    return np.random.default_rng(3).integers(0, 6, TARGET_SHAPE).astype(np.uint16)


@pytest.mark.parametrize(("order", "flips"), [
    ((0, 1, 2), (False, True, False)),   # rows bottom-up, as a RAS-ordered NIfTI of a DICOM
    ((0, 1, 2), (True, True, True)),
    ((2, 0, 1), (False, True, True)),    # axes permuted (stored sagittally) and flipped
])
def test_grid_equal_up_to_axis_permutation_is_reordered_exactly(tmp_path, random_labels, order,
                                                                flips):
    data, aff = reoriented(random_labels, TARGET_AFFINE, order, flips)
    path = write_nifti(tmp_path / "labels.nii.gz", data, aff)
    imported = import_label_map(path, shape=TARGET_SHAPE, affine_lps=TARGET_AFFINE)
    assert imported.labels.dtype == np.uint16
    assert np.array_equal(imported.labels, random_labels)
    assert [s.label for s in imported.structures] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("space", ["left-posterior-superior", "right-anterior-superior"])
def test_nrrd_in_lps_and_ras_space_lands_in_place(tmp_path, random_labels, space):
    data, aff = reoriented(random_labels, TARGET_AFFINE, (1, 0, 2), (True, False, False))
    to_space = np.eye(4) if space.startswith("left") else LPS_TO_RAS
    aff_space = to_space @ aff
    header = {"space": space, "space directions": aff_space[:3, :3].T,
              "space origin": aff_space[:3, 3], "kinds": ["domain"] * 3}
    path = tmp_path / "labels.nrrd"
    nrrd.write(str(path), data.transpose(2, 1, 0).astype(np.uint8), header, index_order="F")
    imported = import_label_map(path, shape=TARGET_SHAPE, affine_lps=TARGET_AFFINE)
    assert np.array_equal(imported.labels, random_labels)


def test_oblique_label_map_is_resampled_to_the_right_place(tmp_path):
    rotation = rotation_about((1.0, 1.0, 1.0), 30.0)
    source_shape = (40, 50, 45)
    source_affine = grid_affine((1.1, 0.9, 1.3), (-20.0, -30.0, -10.0), rotation)
    centres = centres_lps(source_shape, source_affine)
    tumour_c = source_affine[:3, :3] @ np.array([22.0, 25.0, 20.0]) + source_affine[:3, 3]
    vessel_c = tumour_c + np.array([0.0, 0.0, 18.0])
    labels = np.zeros(source_shape, dtype=np.uint8)
    labels[np.sum((centres - tumour_c[:, None, None, None]) ** 2, axis=0) <= 12.0 ** 2] = 3
    labels[np.sum((centres - vessel_c[:, None, None, None]) ** 2, axis=0) <= 5.0 ** 2] = 7
    path = write_nifti(tmp_path / "oblique.nii.gz", labels, source_affine)
    target_affine = grid_affine((1.0, 1.0, 1.0), tuple(tumour_c - 30.0))
    target_shape = (70, 60, 60)
    imported = import_label_map(path, shape=target_shape, affine_lps=target_affine,
                                names={3: "tumour", 7: "portal vein"})
    for name, centre, radius in (("tumour", tumour_c, 12.0), ("portal vein", vessel_c, 5.0)):
        mask = imported.labels == imported.structure(name).label
        ijk = np.argwhere(mask)[:, ::-1].mean(axis=0)
        found = target_affine[:3, :3] @ ijk + target_affine[:3, 3]
        assert np.linalg.norm(found - centre) < 1.0  # within a voxel
        analytic_ml = 4 / 3 * np.pi * radius ** 3 / 1000
        assert imported.volume_ml(name) == pytest.approx(analytic_ml, rel=0.06)
    assert imported.structure("portal vein").critical
    assert imported.structure("tumour").tissue == "tumour"


def test_names_win_over_the_scheme_and_unknown_ids_get_a_label_name(tmp_path, random_labels):
    path = write_nifti(tmp_path / "labels.nii", random_labels, TARGET_AFFINE)
    imported = import_label_map(path, shape=TARGET_SHAPE, affine_lps=TARGET_AFFINE,
                                names={3: "Tumour"})
    assert imported.names == ["spleen", "kidney_right", "Tumour", "gallbladder", "liver"]
    assert imported.structure("Tumour").tissue == "tumour"
    plain = import_label_map(path, shape=TARGET_SHAPE, affine_lps=TARGET_AFFINE, scheme=None)
    assert plain.names == [f"label_{i}" for i in range(1, 6)]
    with pytest.raises(InputError, match="named"):
        import_label_map(path, shape=TARGET_SHAPE, affine_lps=TARGET_AFFINE,
                         names={1: "liver", 2: "liver"})


def test_float_file_with_whole_numbers_is_a_label_map(tmp_path, random_labels):
    path = tmp_path / "float.nii.gz"
    nib.save(nifti_image(random_labels.astype(np.float32), TARGET_AFFINE), str(path))
    imported = import_label_map(path, shape=TARGET_SHAPE, affine_lps=TARGET_AFFINE)
    assert np.array_equal(imported.labels, random_labels)


def test_bad_files_are_clear_input_errors(tmp_path, random_labels):
    shape, aff = TARGET_SHAPE, TARGET_AFFINE
    with pytest.raises(InputError, match="no such file"):
        import_label_map(tmp_path / "missing.nii.gz", shape=shape, affine_lps=aff)
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not a nifti file at all")
    with pytest.raises(InputError, match="cannot read"):
        import_label_map(junk, shape=shape, affine_lps=aff)
    probability = tmp_path / "probability.nii.gz"
    nib.save(nifti_image(np.full(shape, 0.4, dtype=np.float32), aff), str(probability))
    with pytest.raises(InputError, match="not a label map"):
        import_label_map(probability, shape=shape, affine_lps=aff)
    empty = write_nifti(tmp_path / "empty.nii.gz", np.zeros(shape, dtype=np.uint8), aff)
    with pytest.raises(InputError, match="no labels"):
        import_label_map(empty, shape=shape, affine_lps=aff)
    far = aff.copy()
    far[:3, 3] += 1000.0
    elsewhere = write_nifti(tmp_path / "far.nii.gz", random_labels, far)
    with pytest.raises(InputError, match="does not overlap"):
        import_label_map(elsewhere, shape=shape, affine_lps=aff)


# --- the shared TotalSegmentator example (skipped when ../shared/data is absent) ------------

def centroid_lps(labelmap, name) -> np.ndarray:
    ijk = np.argwhere(labelmap.labels == labelmap.structure(name).label)[:, ::-1].mean(axis=0)
    return labelmap.affine_lps[:3, :3] @ ijk + labelmap.affine_lps[:3, 3]


def test_totalsegmentator_labels_align_with_the_dicom_volume(shared_data):
    folder = shared_data("abdomen_ct_totalseg")
    volume = load_series(scan_folder(folder / "dicom").volumes()[0])
    path = folder / "labels_on_dicom_grid.nii.gz"
    imported = import_label_map(path, shape=volume.shape, affine_lps=volume.affine_lps)
    raw = np.asanyarray(nib.load(str(path)).dataobj)
    # The NIfTI stores the DICOM rows bottom-up (its affine's row axis points anterior).
    assert np.array_equal(imported.labels, raw.transpose(2, 1, 0)[:, ::-1, :])
    assert len(imported.structures) == 31
    assert imported.structure("liver").label == 5 and imported.structure("spleen").label == 1
    liver, spleen = centroid_lps(imported, "liver"), centroid_lps(imported, "spleen")
    assert liver[0] < 0 < spleen[0]  # LPS x grows to the patient's left
    assert imported.volume_ml("liver") > 300
    aorta = imported.region("aorta")
    assert imported.structure("aorta").critical
    assert volume.voxels[aorta.slices][aorta.mask].mean() > 150  # contrast-enhanced
    assert imported.structure("inferior_vena_cava").tissue == "vessel"


@pytest.fixture
def ct_3mm(shared_data):
    folder = shared_data("abdomen_ct_totalseg")
    return read_volume(folder / "ct_3mm.nii.gz"), folder / "labels_3mm.nii.gz"


def test_41_label_map_follows_totalsegmentator_v2_ids(ct_3mm):
    volume, path = ct_3mm
    imported = import_label_map(path, shape=volume.shape, affine_lps=volume.affine_lps)
    assert len(imported.structures) == 41
    assert max(s.label for s in imported.structures) == 117  # beyond v1's 104 classes

    def mean_hu(name):
        region = imported.region(name)
        return float(volume.voxels[region.slices][region.mask].mean())

    assert mean_hu("lung_lower_lobe_left") < -500 and mean_hu("lung_lower_lobe_right") < -500
    assert mean_hu("vertebrae_L1") > 120
    assert centroid_lps(imported, "liver")[0] < 0 < centroid_lps(imported, "spleen")[0]
    assert centroid_lps(imported, "kidney_right")[0] < 0 < centroid_lps(imported, "kidney_left")[0]
    assert centroid_lps(imported, "rib_left_9")[0] > 0 > centroid_lps(imported, "rib_right_9")[0]


def test_resampling_onto_another_grid_keeps_organs_in_place(ct_3mm):
    volume, path = ct_3mm
    exact = import_label_map(path, shape=volume.shape, affine_lps=volume.affine_lps)
    corner = volume.ijk_to_lps([[0, 0, 0]])[0]
    far = volume.ijk_to_lps([np.array(volume.shape[::-1]) - 1])[0]
    centre, reach = (corner + far) / 2, np.linalg.norm(far - corner) / 2 + 5.0
    rotation = rotation_about((0.0, 0.0, 1.0), 10.0)
    spacing = np.array([2.0, 2.0, 2.5])  # (column, row, slice)
    counts = np.ceil(2 * reach / spacing).astype(int)  # a rotated box holding the whole scan
    target_affine = grid_affine(spacing, centre - rotation @ (spacing * (counts - 1) / 2),
                                rotation)
    target_shape = (int(counts[2]), int(counts[1]), int(counts[0]))
    moved = import_label_map(path, shape=target_shape, affine_lps=target_affine)
    for name in ("liver", "spleen", "kidney_left", "aorta"):
        assert np.linalg.norm(centroid_lps(moved, name) - centroid_lps(exact, name)) < 2.0
        assert moved.volume_ml(name) == pytest.approx(exact.volume_ml(name), rel=0.08)
