"""Threshold presets: the table, a synthetic chest, the phantom and the real chest CT."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.errors import InputError
from surgiplan.imaging import load_series, scan_folder
from surgiplan.imaging.volume import Volume
from surgiplan.segmentation.growing import RegionLeakError
from surgiplan.segmentation.label_import import import_label_map
from surgiplan.segmentation.presets import load_presets, segment_preset, superior_axis
from surgiplan.segmentation.region import Region
from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CASE = REPO / "data" / "sample_case"
REQUIRED = ("skin", "lung", "airway", "fat", "soft_tissue", "vessels", "bone")

# --- a synthetic chest: 2 mm voxels, k runs foot -> head ---------------------------------------
SHAPE = (60, 100, 120)
AFFINE = np.array([[2.0, 0, 0, -120.0], [0, 2.0, 0, -100.0], [0, 0, 2.0, 0.0], [0, 0, 0, 1]])
LUNG_CENTRES = ((-50.0, -5.0, 60.0), (50.0, -5.0, 60.0))
LUNG_AXES = (35.0, 45.0, 50.0)


def centres() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k, j, i = np.indices(SHAPE, dtype=float)
    return i * 2.0 - 120.0, j * 2.0 - 100.0, k * 2.0


def near_segment(x, y, z, a, b, radius) -> np.ndarray:
    """Voxels within ``radius`` of the segment a-b (LPS mm)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    t = np.clip(((x - a[0]) * d[0] + (y - a[1]) * d[1] + (z - a[2]) * d[2]) / (d @ d), 0, 1)
    return (x - a[0] - t * d[0]) ** 2 + (y - a[1] - t * d[1]) ** 2 + (
        z - a[2] - t * d[2]) ** 2 <= radius ** 2


def synthetic_chest(lung_hu: float = -850.0) -> tuple[Volume, dict[str, np.ndarray]]:
    x, y, z = centres()
    body = (x / 100.0) ** 2 + (y / 70.0) ** 2 <= 1.0
    fat = body & ((x / 90.0) ** 2 + (y / 60.0) ** 2 > 1.0)
    table = (y >= 80.0) & (y <= 90.0) & (np.abs(x) < 110)
    airway = near_segment(x, y, z, (0, -10, 130), (0, -10, 95), 8.0)
    lungs = np.zeros(SHAPE, dtype=bool)
    for cx, cy, cz in LUNG_CENTRES:
        airway |= near_segment(x, y, z, (0, -10, 95), (cx * 0.6, cy, cz + 20), 5.0)
        lungs |= sum(((c - c0) / a) ** 2 for c, c0, a in zip((x, y, z), (cx, cy, cz), LUNG_AXES,
                                                             strict=True)) <= 1.0
    lungs &= ~airway
    gas = (x ** 2 + (y + 30) ** 2 + (z - 4) ** 2) <= 12.0 ** 2  # bowel gas, not lung
    spine_out = ((x ** 2 + (y - 45) ** 2) <= 12.0 ** 2) & (z >= 6) & (z <= 112)
    marrow = ((x ** 2 + (y - 45) ** 2) <= 8.0 ** 2) & (z >= 12) & (z <= 106)
    aorta = (x ** 2 + (y - 20) ** 2) <= 8.0 ** 2
    hu = np.full(SHAPE, -1000.0)
    hu[table] = 200.0
    hu[body] = 30.0
    hu[fat] = -100.0
    hu[aorta] = 200.0
    hu[spine_out] = 700.0
    hu[marrow] = 200.0
    hu[lungs] = lung_hu
    hu[airway & body] = -1000.0
    hu[gas] = -1000.0
    truth = {"body": body, "fat": hu == -100.0, "lungs": lungs, "airway": airway & body, "gas": gas,
             "spine": spine_out, "aorta": aorta & ~spine_out}
    return Volume(hu.astype(np.int16), AFFINE.copy(), "CT"), truth


@pytest.fixture(scope="module")
def chest():
    volume, truth = synthetic_chest()
    return volume, truth, segment_preset(volume, "skin")


def full(region: Region) -> np.ndarray:
    return region.to_full_mask()


def components(region: Region) -> int:
    return ndimage.label(region.mask)[1]


# --- the table ------------------------------------------------------------------------------

def test_table_has_the_required_presets_with_sane_fields():
    presets = load_presets()
    assert set(REQUIRED) <= set(presets)
    assert [p.name for p in presets.values() if p.body_outline] == ["skin"]
    for p in presets.values():
        assert len(p.colour) == 3 and all(0 <= c <= 1 for c in p.colour)
        if p.hu_min is not None and p.hu_max is not None:
            assert p.hu_min < p.hu_max
    assert presets["vessels"].critical and presets["vessels"].tissue == "vessel"
    assert (presets["vessels"].hu_min, presets["vessels"].hu_max) == (150, 600)
    assert presets["bone"].hu_min == 250 and presets["bone"].hu_max is None
    info = presets["lung"].structure_info(4)
    assert (info.label, info.name, info.tissue) == (4, "lung", "lung")


def test_bad_tables_and_names_are_input_errors(tmp_path):
    rows = json.loads((REPO / "data" / "segmentation_presets.json").read_text())
    rows["presets"][0]["shape"] = "round"
    path = tmp_path / "presets.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(InputError, match="unknown field"):
        load_presets(path)
    with pytest.raises(InputError, match="cannot read"):
        load_presets(tmp_path / "missing.json")
    with pytest.raises(InputError, match="choose one of"):
        segment_preset(synthetic_chest()[0], "kidneys")


# --- the synthetic chest: known answers -----------------------------------------------------

def test_skin_is_the_whole_body_filled_without_the_table(chest):
    volume, truth, body = chest
    assert components(body) == 1
    assert np.array_equal(full(body), truth["body"])


def test_airway_is_the_air_tree_reaching_the_top(chest):
    volume, truth, body = chest
    airway = segment_preset(volume, "airway", body=body)
    assert np.array_equal(full(airway), truth["airway"])


def test_lungs_are_two_components_without_airway_or_bowel_gas(chest):
    volume, truth, body = chest
    lungs = segment_preset(volume, "lung", body=body)
    assert components(lungs) == 2
    mask = full(lungs)
    assert not (mask & (truth["airway"] | truth["gas"])).any()
    assert mask.sum() == pytest.approx(truth["lungs"].sum(), rel=0.03)
    # Computing the body inside gives the same answer as passing it.
    assert np.array_equal(full(segment_preset(volume, "lung")), mask)


def test_bone_fills_the_marrow_and_vessels_find_the_aorta(chest):
    volume, truth, body = chest
    bone = full(segment_preset(volume, "bone", body=body))
    assert np.array_equal(bone, truth["spine"])
    vessels = full(segment_preset(volume, "vessels", body=body))
    assert np.array_equal(vessels & ~truth["spine"], truth["aorta"])
    fat = full(segment_preset(volume, "fat", body=body))
    assert np.array_equal(fat, truth["fat"])


def test_behaviour_follows_the_fields_not_the_name(chest):
    volume, truth, body = chest
    presets = load_presets()
    renamed = replace(presets["airway"], name="breathing_tube")
    assert np.array_equal(full(segment_preset(volume, renamed, body=body)), truth["airway"])
    one_lung = replace(presets["lung"], keep="largest")
    assert components(segment_preset(volume, one_lung, body=body)) == 1


def test_airway_leak_lowers_the_threshold_or_reports_the_leak():
    volume, truth = synthetic_chest(lung_hu=-960.0)  # emphysema: lungs darker than -900
    body = segment_preset(volume, "skin")
    airway = segment_preset(volume, "airway", body=body)
    assert np.array_equal(full(airway), truth["airway"])
    no_retry = replace(load_presets()["airway"], leak_step_hu=0)
    with pytest.raises(RegionLeakError, match="leaked"):
        segment_preset(volume, no_retry, body=body)


def test_superior_face_follows_the_affine_not_the_array_order(chest):
    volume, truth, _ = chest
    flipped_affine = volume.affine_lps.copy()
    flipped_affine[:3, 3] += flipped_affine[:3, 2] * (SHAPE[0] - 1)
    flipped_affine[:3, 2] *= -1
    flipped = Volume(np.ascontiguousarray(volume.voxels[::-1]), flipped_affine, "CT")
    assert superior_axis(flipped_affine) == (0, 0)
    assert superior_axis(volume.affine_lps) == (0, -1)
    airway = segment_preset(flipped, "airway")
    assert np.array_equal(full(airway), truth["airway"][::-1])


def test_body_from_another_grid_is_refused(chest):
    volume, _, _ = chest
    other = Region.from_full_mask(np.ones((4, 4, 4), dtype=bool))
    with pytest.raises(InputError, match="grid"):
        segment_preset(volume, "fat", body=other)


# --- the committed phantom (data/sample_case) -----------------------------------------------

@pytest.fixture(scope="module")
def sample_case():
    volume = load_series(scan_folder(SAMPLE_CASE / "dicom").volumes()[0])
    facts = json.loads((SAMPLE_CASE / "facts.json").read_text())
    names = {int(k): v for k, v in facts["labels"].items()}
    labels = import_label_map(SAMPLE_CASE / "labels.nii.gz", shape=volume.shape,
                              affine_lps=volume.affine_lps, names=names)
    return volume, facts, labels


def test_phantom_skin_is_the_whole_labelled_body(sample_case):
    volume, facts, labels = sample_case
    body = segment_preset(volume, "skin")
    total_ml = sum(s["volume_ml"] for s in facts["structures"].values())
    assert body.voxel_count * labels.voxel_volume_ml == pytest.approx(total_ml, rel=0.01)
    inside = full(body)
    labelled = labels.labels > 0
    dice = 2 * (inside & labelled).sum() / (inside.sum() + labelled.sum())
    assert dice > 0.99


def test_phantom_vessels_and_bone_presets_find_their_structures(sample_case):
    volume, _, labels = sample_case
    body = segment_preset(volume, "skin")
    vessels = full(segment_preset(volume, "vessels", body=body))
    bone = full(segment_preset(volume, "bone", body=body))

    def covered(mask, name):
        structure = labels.labels == labels.structure(name).label
        return (mask & structure).sum() / structure.sum()

    assert covered(vessels, "aorta") > 0.75
    assert covered(vessels, "portal_vein") > 0.7
    assert covered(bone, "spine") > 0.95 and covered(bone, "ribs") > 0.95
    assert segment_preset(volume, "lung", body=body).is_empty  # an abdomen has no lungs here


# --- the real chest CT (LIDC-IDRI-0314, skipped when ../shared/data is absent) ---------------

@pytest.fixture(scope="module")
def chest_ct():
    folder = SHARED_DATA / "chest_ct_lidc0314"
    if not folder.exists():
        pytest.skip(f"shared dataset chest_ct_lidc0314 not present at {SHARED_DATA}")
    volume = load_series(scan_folder(folder).volumes()[0])
    return volume, segment_preset(volume, "skin")


def centroid_lps(volume: Volume, region: Region) -> np.ndarray:
    kji = np.argwhere(region.mask).mean(axis=0) + np.asarray(region.offset_kji)
    return volume.ijk_to_lps(kji[::-1])[0]


def ml(volume: Volume, region: Region) -> float:
    return region.voxel_count * abs(np.linalg.det(volume.affine_lps[:3, :3])) / 1000.0


def test_chest_ct_skin_is_one_body(chest_ct):
    volume, body = chest_ct
    assert components(body) == 1
    assert 8_000 < ml(volume, body) < 40_000


def test_chest_ct_lungs_are_two_plausible_lungs_inside_the_body(chest_ct):
    volume, body = chest_ct
    lungs = segment_preset(volume, "lung", body=body)
    labels, n = ndimage.label(lungs.mask)
    assert n == 2
    # This patient's lungs hold about 2.75 L (an adult at full inspiration: ~3-7 L).
    assert 2_000 < ml(volume, lungs) < 7_000
    sides = []
    for index in (1, 2):
        one = Region(labels == index, lungs.offset_kji, lungs.grid_shape)
        assert ml(volume, one) > 500
        sides.append(centroid_lps(volume, one)[0] - centroid_lps(volume, body)[0])
    assert min(sides) < -40 and max(sides) > 40  # one on each side of the midline
    assert not (full(lungs) & ~full(body)).any()


def test_chest_ct_airway_is_the_trachea_and_bone_is_present(chest_ct):
    volume, body = chest_ct
    airway = segment_preset(volume, "airway", body=body)
    assert 10 < ml(volume, airway) < 300
    top = volume.shape[0] - 1  # slices run foot -> head in this scan
    assert airway.offset_kji[0] + airway.mask.shape[0] - 1 == top
    assert abs(centroid_lps(volume, airway)[0] - centroid_lps(volume, body)[0]) < 30
    bone = segment_preset(volume, "bone", body=body)
    assert 300 < ml(volume, bone) < 3_000
    assert volume.voxels[bone.slices][bone.mask].mean() > 300
