"""The synthetic abdominal phantom: DICOM series, label map and facts agree with each other."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage, JPEG2000Lossless
from scipy import ndimage

from surgiplan.phantom import LABEL_IDS, LABELS, PhantomCase, generate_phantom, read_label_map
from surgiplan.phantom.__main__ import main
from surgiplan.phantom.grid import PhantomGrid

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CASE = REPO / "data" / "sample_case"
SMALL_SHAPE = (16, 64, 64)

REQUIRED_TAGS = (
    "SOPClassUID SOPInstanceUID SpecificCharacterSet PatientName PatientID PatientBirthDate "
    "PatientSex StudyInstanceUID StudyDate StudyTime ReferringPhysicianName StudyID "
    "AccessionNumber Modality SeriesInstanceUID SeriesNumber SeriesDescription PatientPosition "
    "FrameOfReferenceUID PositionReferenceIndicator Manufacturer ManufacturerModelName "
    "InstanceNumber ImageType PixelSpacing ImageOrientationPatient ImagePositionPatient "
    "SliceThickness SliceLocation SamplesPerPixel PhotometricInterpretation Rows Columns "
    "BitsAllocated BitsStored HighBit PixelRepresentation KVP RescaleIntercept RescaleSlope "
    "RescaleType BurnedInAnnotation WindowCenter WindowWidth PixelData"
).split()


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> PhantomCase:
    """Full-size phantom with the default seed (about 2 s)."""
    return generate_phantom(tmp_path_factory.mktemp("phantom"))


@pytest.fixture(scope="module")
def facts(case) -> dict:
    return json.loads(case.facts_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def series(case) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(case.dicom_dir.glob("IM*.dcm"))]


@pytest.fixture(scope="module")
def hu(series) -> np.ndarray:
    """HU volume ``[k, j, i]`` from the DICOM files, sorted along z."""
    ordered = sorted(series, key=lambda ds: float(ds.ImagePositionPatient[2]))
    return np.stack(
        [ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in ordered]
    )


@pytest.fixture(scope="module")
def grid(facts) -> PhantomGrid:
    g = facts["grid"]
    return PhantomGrid(tuple(g["shape_kji"]), tuple(g["spacing_mm"]), tuple(g["origin_lps_mm"]))


def _ball_mean(volume: np.ndarray, grid: PhantomGrid, centre_lps, radius_mm: float) -> float:
    x, y, z = grid.coords()
    ball = (x - centre_lps[0]) ** 2 + (y - centre_lps[1]) ** 2 + (z - centre_lps[2]) ** 2
    return float(volume[np.broadcast_to(ball <= radius_mm**2, volume.shape)].mean())


def test_case_layout(case):
    assert case.n_slices == 64
    names = sorted(p.name for p in case.dicom_dir.iterdir())
    assert names == [f"IM{k:04d}.dcm" for k in range(1, 65)]
    assert case.labels_path.name == "labels.nii.gz" and case.facts_path.name == "facts.json"
    with pytest.raises(AttributeError):
        case.n_slices = 3  # frozen dataclass


def test_dicom_series_is_complete_and_consistent(series, grid):
    for k, ds in enumerate(series):
        missing = [t for t in REQUIRED_TAGS if t not in ds]
        assert not missing, missing
        assert ds.file_meta.MediaStorageSOPClassUID == CTImageStorage == ds.SOPClassUID
        assert ds.file_meta.TransferSyntaxUID == JPEG2000Lossless
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert "ImplementationClassUID" in ds.file_meta
        assert ds.PatientName == "Phantom^Abdomen" and ds.PatientID == "SP-PHANTOM-001"
        assert ds.Modality == "CT" and ds.PatientPosition == "HFS"
        assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "AXIAL"]
        assert ds.InstanceNumber == k + 1
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        expected = np.array(grid.origin_lps_mm) + [0.0, 0.0, k * grid.spacing_mm[2]]
        np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], expected)
        assert float(ds.SliceLocation) == pytest.approx(expected[2])
        assert [float(v) for v in ds.PixelSpacing] == [1.5, 1.5]
    for tag in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert len({ds.get(tag) for ds in series}) == 1
    assert len({ds.SOPInstanceUID for ds in series}) == len(series)
    pixels = series[0].pixel_array
    assert pixels.dtype == np.int16 and pixels.shape == (256, 256)


def test_hu_values_match_structures(hu, grid, facts):
    assert hu.shape == tuple(facts["grid"]["shape_kji"])
    tumour = facts["tumour"]
    assert _ball_mean(hu, grid, tumour["centre_lps_mm"], 8.0) == pytest.approx(60, abs=6)
    aorta = np.array(facts["vessels"]["aorta"]["segments"][0]["centreline_lps_mm"])
    assert _ball_mean(hu, grid, aorta[len(aorta) // 2], 6.0) == pytest.approx(180, abs=6)
    assert _ball_mean(hu, grid, (-105.0, -10.0, 30.0), 8.0) == pytest.approx(110, abs=6)
    assert hu.min() >= -1024 and hu[0, 0, 0] == -1000  # noise-free air in the corner


def test_noise_is_realistic(hu, case):
    labels, _ = read_label_map(case.labels_path)
    deep_liver = ndimage.binary_erosion(labels == LABEL_IDS["liver"], iterations=3)
    assert 9.0 < hu[deep_liver].std() < 15.0
    assert hu[deep_liver].mean() == pytest.approx(110, abs=2)


def test_label_map_nifti_matches_facts(case, facts, grid):
    image = nib.load(str(case.labels_path))
    assert image.shape == (256, 256, 64) and image.get_data_dtype() == np.uint8
    assert int(image.header["qform_code"]) == 1 and int(image.header["sform_code"]) == 1
    affine_lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine
    np.testing.assert_allclose(affine_lps, facts["grid"]["affine_lps"], atol=1e-6)
    centre = np.array(facts["tumour"]["centre_lps_mm"])
    ijk = np.rint(np.linalg.solve(affine_lps, [*centre, 1.0])[:3]).astype(int)
    data = np.asarray(image.dataobj)
    assert data[tuple(ijk)] == LABEL_IDS["tumour"]
    mapped = (affine_lps @ [*ijk, 1.0])[:3]
    assert np.all(np.abs(mapped - centre) <= np.array(grid.spacing_mm) / 2 + 1e-6)
    labels, affine = read_label_map(case.labels_path)
    np.testing.assert_array_equal(labels, data.transpose(2, 1, 0))
    np.testing.assert_allclose(affine, grid.affine_lps)


def test_facts_agree_with_label_map(case, facts, grid):
    labels, _ = read_label_map(case.labels_path)
    assert facts["schema_version"] == 1 and facts["generator"] == "surgiplan.phantom"
    assert facts["labels"] == {str(k): v for k, v in LABELS.items()}
    assert set(np.unique(labels)) == {0, *LABELS}
    counts = np.bincount(labels.ravel(), minlength=256)
    for name, info in facts["structures"].items():
        assert info["voxel_count"] == counts[info["label"]]
        expected_ml = counts[info["label"]] * grid.voxel_volume_mm3 / 1000
        assert info["volume_ml"] == pytest.approx(expected_ml, abs=1e-3)
        if info["analytic_volume_ml"] is not None:
            assert info["volume_ml"] == pytest.approx(info["analytic_volume_ml"], rel=0.05), name
    tumour = facts["tumour"]
    sphere_ml = 4 / 3 * np.pi * tumour["radius_mm"] ** 3 / 1000
    assert facts["structures"]["tumour"]["volume_ml"] == pytest.approx(sphere_ml, rel=0.05)
    assert 20 <= 2 * tumour["radius_mm"] <= 30
    assert 1000 < facts["structures"]["liver"]["volume_ml"] < 2000
    for kidney in ("kidney_left", "kidney_right"):
        assert 100 < facts["structures"][kidney]["volume_ml"] < 200


def test_anatomy_sits_on_the_right_sides(facts):
    centroid = {n: np.array(s["centroid_lps_mm"]) for n, s in facts["structures"].items()}
    assert centroid["liver"][0] < -20 and centroid["spleen"][0] > 20  # LPS: +x is Left
    assert centroid["kidney_right"][0] < -40 and centroid["kidney_left"][0] > 40
    assert centroid["aorta"][0] > 0 > centroid["vena_cava"][0]
    assert centroid["spine"][1] > centroid["aorta"][1] > 0  # spine posterior to aorta
    assert centroid["tumour"][0] < -40
    for name in ("aorta", "vena_cava", "portal_vein", "hepatic_veins"):
        segments = facts["vessels"][name]["segments"]
        assert segments and all(len(s["centreline_lps_mm"]) >= 2 for s in segments)
        for seg in segments:
            steps = np.linalg.norm(np.diff(seg["centreline_lps_mm"], axis=0), axis=1)
            assert steps.max() <= 2.01


def test_tumour_is_inside_liver_and_clear_of_vessels(case, facts, grid):
    labels, _ = read_label_map(case.labels_path)
    tumour = labels == LABEL_IDS["tumour"]
    shell = ndimage.binary_dilation(tumour, iterations=2) & ~tumour
    assert np.all(labels[shell] == LABEL_IDS["liver"])
    info = facts["tumour"]
    assert info["min_distance_to_portal_vein_mm"] >= 10
    assert info["min_distance_to_hepatic_veins_mm"] >= 10
    voxel_diag = float(np.linalg.norm(grid.spacing_mm))
    for name in ("portal_vein", "hepatic_veins"):
        dist = ndimage.distance_transform_edt(
            labels != LABEL_IDS[name], sampling=grid.spacing_mm[::-1]
        )
        measured = dist[tumour].min()
        analytic = info[f"min_distance_to_{name}_mm"]
        assert analytic - voxel_diag <= measured <= analytic + 2 * voxel_diag


def test_same_seed_is_byte_identical_and_seed_changes_noise(tmp_path):
    a = generate_phantom(tmp_path / "a", seed=7, shape_kji=SMALL_SHAPE)
    b = generate_phantom(tmp_path / "b", seed=7, shape_kji=SMALL_SHAPE)
    c = generate_phantom(tmp_path / "c", seed=8, shape_kji=SMALL_SHAPE)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == SMALL_SHAPE[0] + 2
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert a.labels_path.read_bytes() == c.labels_path.read_bytes()
    pa = pydicom.dcmread(a.dicom_dir / "IM0008.dcm").pixel_array
    pc = pydicom.dcmread(c.dicom_dir / "IM0008.dcm").pixel_array
    assert pa.shape == (64, 64) and not np.array_equal(pa, pc)
    assert b.n_slices == SMALL_SHAPE[0]


def test_regeneration_removes_stale_slices(tmp_path):
    generate_phantom(tmp_path, shape_kji=(20, 32, 32))
    case = generate_phantom(tmp_path, shape_kji=SMALL_SHAPE)
    assert len(list(case.dicom_dir.glob("IM*.dcm"))) == SMALL_SHAPE[0]


def test_cli_writes_a_case(tmp_path, capsys):
    assert main([str(tmp_path / "out")]) == 0
    assert "64 slices" in capsys.readouterr().out
    assert (tmp_path / "out" / "facts.json").is_file()


def test_committed_sample_case_matches_generator(case, facts):
    if not (SAMPLE_CASE / "facts.json").is_file():
        pytest.skip("data/sample_case not present")
    committed = json.loads((SAMPLE_CASE / "facts.json").read_text(encoding="utf-8"))
    assert committed == facts
    fresh_labels, _ = read_label_map(case.labels_path)
    committed_labels, _ = read_label_map(SAMPLE_CASE / "labels.nii.gz")
    np.testing.assert_array_equal(committed_labels, fresh_labels)
    committed_files = sorted((SAMPLE_CASE / "dicom").glob("IM*.dcm"))
    assert len(committed_files) == case.n_slices
    for name in ("IM0001.dcm", "IM0030.dcm", "IM0064.dcm"):
        old = pydicom.dcmread(SAMPLE_CASE / "dicom" / name)
        new = pydicom.dcmread(case.dicom_dir / name)
        np.testing.assert_array_equal(old.pixel_array, new.pixel_array)
        assert old.SOPInstanceUID == new.SOPInstanceUID


def test_committed_sample_case_is_small():
    if not SAMPLE_CASE.is_dir():
        pytest.skip("data/sample_case not present")
    total = sum(p.stat().st_size for p in SAMPLE_CASE.rglob("*") if p.is_file())
    assert total <= 4 * 1024 * 1024
