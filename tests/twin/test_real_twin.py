"""Twins of the real scans: organs from an AI label map, chest structures from presets."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.imaging import load_series, scan_folder
from surgiplan.segmentation.recipe import SegmentationRecipe, run_recipe
from surgiplan.twin.builder import build_twin


@pytest.fixture(scope="module")
def abdomen_twin(request):
    locate = request.getfixturevalue("shared_data_module")
    folder = locate("abdomen_ct_totalseg")
    volume = load_series(scan_folder(folder / "dicom").volumes()[0])
    recipe = SegmentationRecipe(labels_path=folder / "labels_on_dicom_grid.nii.gz")
    segmentation = run_recipe(volume, recipe)
    keep = ("liver", "spleen", "kidney_right", "kidney_left", "aorta", "stomach")
    for name in list(segmentation.regions):
        if name not in keep:
            segmentation.labelmap.remove(name)
            del segmentation.regions[name]
    return volume, build_twin(segmentation.labelmap, regions=segmentation.regions)


def test_abdomen_organs_from_totalsegmentator_labels(abdomen_twin):
    volume, twin = abdomen_twin
    assert {"liver", "spleen", "aorta"} <= set(twin.structures)
    for model in twin.structures.values():
        assert model.report.watertight, model.name
        assert model.properties.volume_ml == pytest.approx(model.voxel_volume_ml, rel=0.02)
    liver, spleen = twin.structure("liver"), twin.structure("spleen")
    assert liver.properties.centroid_lps_mm[0] < spleen.properties.centroid_lps_mm[0]
    assert twin.structure("aorta").info.critical
    # aligned with the DICOM volume: the liver surface encloses contrast-enhanced liver HU
    centre = liver.properties.centroid_lps_mm
    assert 60 < volume.value_at([centre])[0] < 250


def test_abdomen_liver_gets_a_physics_mesh(abdomen_twin):
    _, twin = abdomen_twin
    physics = twin.structure("liver").physics
    assert physics is not None and 2000 <= physics.tet_mesh.n_nodes <= 5000
    assert physics.quality.n_inverted == 0


@pytest.fixture(scope="module")
def chest_twin(request):
    locate = request.getfixturevalue("shared_data_module")
    volume = load_series(scan_folder(locate("chest_ct_lidc0314")).volumes()[0])
    recipe = SegmentationRecipe(presets=("skin", "lung", "airway", "bone"))
    segmentation = run_recipe(volume, recipe)
    return build_twin(segmentation.labelmap, regions=segmentation.regions)


def test_chest_presets_give_watertight_plausible_structures(chest_twin):
    twin = chest_twin
    assert set(twin.structures) == {"skin", "lung", "airway", "bone"}
    for model in twin.structures.values():
        assert model.report.watertight, model.name
        assert model.properties.volume_ml == pytest.approx(model.voxel_volume_ml, rel=0.02)
    volume_ml = {name: m.properties.volume_ml for name, m in twin.structures.items()}
    assert 10_000 < volume_ml["skin"] < 40_000
    assert 2_000 < volume_ml["lung"] < 7_000
    assert 5 < volume_ml["airway"] < 300
    assert 300 < volume_ml["bone"] < 3_000
    assert twin.structure("lung").report.components == 2
    lungs = twin.structure("lung").surface.vertices_lps_mm
    assert lungs[:, 0].min() < -50 < 50 < lungs[:, 0].max()  # both sides of the midline
    assert np.all(volume_ml["skin"] > np.array([volume_ml["lung"], volume_ml["bone"]]))
