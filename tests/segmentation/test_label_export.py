"""Label maps written as NIfTI and NRRD land where the scan is (as 3D Slicer reads them)."""

from __future__ import annotations

import nibabel as nib
import nrrd
import numpy as np
import pytest

from surgiplan.errors import OutputError
from surgiplan.imaging.export import LPS_TO_RAS
from surgiplan.segmentation.label_export import write_colour_table, write_label_map
from surgiplan.segmentation.labelmap import LabelMap, StructureInfo
from tests.dicom_factory import rotation

CENTRE_LPS = np.array([-35.0, 20.0, -120.0])


@pytest.fixture
def labelmap() -> LabelMap:
    """A 6 mm sphere (label 3, 'liver') and a box (label 7) on an oblique, anisotropic grid."""
    affine = np.eye(4)
    affine[:3, :3] = rotation((1.0, 1.0, 0.5), 25.0) * np.array([0.8, 0.9, 1.5])[None, :]
    affine[:3, 3] = CENTRE_LPS - affine[:3, :3] @ np.array([15.2, 13.7, 9.4])
    labels = LabelMap.empty_like((20, 28, 32), affine)
    k, j, i = np.indices(labels.shape)
    lps = np.stack([i, j, k], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
    labels.labels[np.linalg.norm(lps - CENTRE_LPS, axis=-1) <= 6.0] = 3
    labels.labels[2:5, 3:6, 20:25] = 7
    labels.structures += [StructureInfo(3, "liver", (0.8, 0.3, 0.2), "liver"),
                          StructureInfo(7, "portal vein", (0.2, 0.3, 0.9), "vessel", True)]
    return labels


def centroid_world(data_ijk: np.ndarray, affine: np.ndarray, label: int) -> np.ndarray:
    ijk = np.argwhere(data_ijk == label).mean(axis=0)
    return affine[:3, :3] @ ijk + affine[:3, 3]


@pytest.mark.parametrize("name", ["labels.nii.gz", "labels.nii"])
def test_nifti_places_the_sphere_at_its_world_position(tmp_path, labelmap, name):
    path = write_label_map(labelmap, tmp_path / name)
    image = nib.load(path)
    data = np.asarray(image.dataobj)
    assert image.get_data_dtype() == np.uint8 and data.shape == (32, 28, 20)
    assert int(image.header["qform_code"]) == 1 and int(image.header["sform_code"]) == 1
    assert image.header.get_intent()[0] == "label"
    centre_ras = centroid_world(data, image.affine, 3)
    np.testing.assert_allclose(centre_ras, (LPS_TO_RAS[:3, :3] @ CENTRE_LPS), atol=0.2)
    np.testing.assert_array_equal(data.transpose(2, 1, 0), labelmap.labels)


def test_nrrd_is_lps_with_slicer_segment_fields(tmp_path, labelmap):
    path = write_label_map(labelmap, tmp_path / "labels.seg.nrrd")
    data, header = nrrd.read(str(path))
    assert header["space"] == "left-posterior-superior"
    np.testing.assert_allclose(header["space directions"], labelmap.affine_lps[:3, :3].T)
    np.testing.assert_allclose(header["space origin"], labelmap.affine_lps[:3, 3])
    np.testing.assert_array_equal(data.transpose(2, 1, 0), labelmap.labels)
    affine = np.eye(4)
    affine[:3, :3] = header["space directions"].T
    affine[:3, 3] = header["space origin"]
    np.testing.assert_allclose(centroid_world(data, affine, 3), CENTRE_LPS, atol=0.2)
    assert header["Segment0_Name"] == "liver" and header["Segment0_LabelValue"] == "3"
    assert header["Segment1_Name"] == "portal vein" and header["Segment1_Layer"] == "0"
    assert header["Segment1_Color"] == "0.2 0.3 0.9"
    assert header["Segment1_Extent"] == "20 24 3 5 2 4"  # i0 i1 j0 j1 k0 k1, inclusive
    assert header["Segmentation_MasterRepresentation"] == "Binary labelmap"


def test_labels_above_255_are_kept(tmp_path, labelmap):
    labelmap.labels[labelmap.labels == 7] = 300
    labelmap.structures[1] = StructureInfo(300, "portal vein")
    image = nib.load(write_label_map(labelmap, tmp_path / "labels.nii.gz"))
    assert image.get_data_dtype() == np.uint16
    assert int(np.asarray(image.dataobj).max()) == 300
    data, _ = nrrd.read(str(write_label_map(labelmap, tmp_path / "labels.nrrd")))
    assert data.dtype == np.uint16 and int(data.max()) == 300


def test_colour_table_for_slicer(tmp_path, labelmap):
    text = write_colour_table(labelmap, tmp_path / "labels.ctbl").read_text().splitlines()
    assert text[0].startswith("# Color table file")
    assert text[2:] == ["0 Background 0 0 0 0", "3 liver 204 76 51 255",
                        "7 portal_vein 51 76 230 255"]


def test_unknown_suffix_names_the_choices(tmp_path, labelmap):
    with pytest.raises(OutputError, match=r"\.nii.*\.nrrd"):
        write_label_map(labelmap, tmp_path / "labels.mha")
