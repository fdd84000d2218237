"""Structures added one at a time to an open case: preset, seed click, imported label map."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.case.session import CaseSession
from surgiplan.case.structures import (
    empty_case,
    structure_from_preset,
    structure_from_seed,
    structures_from_labels,
    unique_name,
)
from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.segmentation.label_export import write_label_map
from surgiplan.twin.builder import TwinOptions

SHAPE = (40, 64, 64)
SPACING_MM = (1.0, 1.0, 1.5)  # i, j, k
CENTRE_KJI = (20, 32, 32)
BODY_RADIUS_MM = 36.0
BALL_RADIUS_MM = 9.0
OPTIONS = TwinOptions(tet_nodes=(150, 500))


def _distance_mm(k, j, i, centre):
    return np.sqrt(((k - centre[0]) * SPACING_MM[2]) ** 2 + ((j - centre[1]) * SPACING_MM[1]) ** 2
                   + ((i - centre[2]) * SPACING_MM[0]) ** 2)


@pytest.fixture(scope="module")
def volume() -> Volume:
    """Air around a water body (40 HU) holding a 150 HU ball, on a 1 x 1 x 1.5 mm grid."""
    k, j, i = np.indices(SHAPE)
    body = _distance_mm(k, j, i, CENTRE_KJI) <= BODY_RADIUS_MM
    ball = _distance_mm(k, j, i, (20, 32, 40)) <= BALL_RADIUS_MM
    voxels = np.where(body, 40, -1000).astype(np.int16)
    voxels[ball] = 150
    affine = np.diag([*SPACING_MM, 1.0])
    affine[:3, 3] = (-20.0, 10.0, 5.0)
    return Volume(voxels, affine, "CT")


def _ball_mask():
    k, j, i = np.indices(SHAPE)
    return _distance_mm(k, j, i, (20, 32, 40)) <= BALL_RADIUS_MM


def test_seed_click_grows_the_ball_and_takes_its_tissue_from_the_name(volume):
    session = CaseSession(empty_case(volume, "/scans/series-1"))
    seed_lps_mm = volume.ijk_to_lps([[40, 32, 20]])[0]
    model = structure_from_seed(volume, session.case.twin, "portal vein", seed_lps_mm,
                                window_hu=(100, 200), options=OPTIONS)
    assert model.region.voxel_count == np.count_nonzero(_ball_mask())
    assert model.info.critical and model.info.tissue == "vessel"
    session.add_structure(model)
    assert session.case.twin.labelmap.volume_ml("portal vein") == pytest.approx(
        np.count_nonzero(_ball_mask()) * 1.5e-3)
    again = structure_from_seed(volume, session.case.twin, "portal vein", seed_lps_mm,
                                window_hu=(100, 200), options=OPTIONS)
    assert again.name == "portal vein-2"


def test_skin_preset_then_a_seed_outside_the_scan(volume):
    case = empty_case(volume, "/scans/series-1")
    model = structure_from_preset(volume, case.twin, "skin", options=OPTIONS)
    k, j, i = np.indices(SHAPE)
    body = np.count_nonzero(_distance_mm(k, j, i, CENTRE_KJI) <= BODY_RADIUS_MM)
    assert model.region.voxel_count == pytest.approx(body, rel=0.02)
    assert model.report.watertight
    with pytest.raises(InputError, match="unknown preset"):
        structure_from_preset(volume, case.twin, "no_such_preset")
    with pytest.raises(InputError):
        structure_from_seed(volume, case.twin, "x", (500.0, 500.0, 500.0))


def test_imported_labels_become_structures_with_distinct_labels(volume, tmp_path):
    labels = LabelMap.empty_like(SHAPE, volume.affine_lps)
    labels.add(Region.from_full_mask(_ball_mask()), StructureInfo(0, "tumour", tissue="tumour"))
    k, j, i = np.indices(SHAPE)
    other = _distance_mm(k, j, i, (20, 32, 20)) <= 8.0
    labels.add(Region.from_full_mask(other), StructureInfo(0, "spleen", tissue="spleen"))
    path = write_label_map(labels, tmp_path / "labels.nii.gz")
    session = CaseSession(empty_case(volume, "/scans/series-1"))
    session.add_structure(structure_from_preset(volume, session.case.twin, "skin",
                                                options=OPTIONS))
    models = structures_from_labels(volume, session.case.twin, path, options=OPTIONS)
    assert len(models) == 2 and len({m.info.label for m in models} | {1}) == 3
    for model in models:
        session.add_structure(model)
    assert session.case.twin.labelmap.voxel_count(models[0].name) + \
        session.case.twin.labelmap.voxel_count(models[1].name) == \
        np.count_nonzero(_ball_mask()) + np.count_nonzero(other)
    assert unique_name(session.case.twin, "skin") == "skin-2"
