"""The editing session: nudges with known geometry, one undo history, save/autosave/recover."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.case.case_file import has_recovery, load_case, recovery_path, save_case
from surgiplan.case.model import Case
from surgiplan.case.session import CaseSession, nudged
from surgiplan.errors import InputError
from surgiplan.imaging.volume import Volume
from surgiplan.plan.model import InstrumentPlacement
from surgiplan.plan.placement import pose_along
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.builder import TwinOptions, build_structure, build_twin
from surgiplan.twin.twin import DisplaySettings

SHAPE = (40, 48, 48)


@pytest.fixture(scope="module")
def base_case() -> Case:
    affine = np.diag([1.5, 1.5, 2.0, 1.0])
    labels = LabelMap.empty_like(SHAPE, affine)
    k, j, i = np.indices(SHAPE)
    body = (1.9 * (k - 20)) ** 2 + (1.5 * (j - 24)) ** 2 + (1.5 * (i - 24)) ** 2 <= 30.0 ** 2
    liver = (2.0 * (k - 20)) ** 2 + (1.5 * (j - 24)) ** 2 + (1.5 * (i - 20)) ** 2 <= 12.0 ** 2
    labels.add(Region.from_full_mask(body), StructureInfo(0, "skin", (0.9, 0.7, 0.6), "skin"))
    labels.add(Region.from_full_mask(liver), StructureInfo(0, "liver", (0.6, 0.2, 0.2), "liver"))
    twin = build_twin(labels, options=TwinOptions(tet_nodes=(200, 600)))
    voxels = np.where(body, 40, -1000).astype(np.int16)
    return Case(Volume(voxels, affine, "CT"), twin)


@pytest.fixture(scope="module")
def case_file(base_case, tmp_path_factory):
    return save_case(base_case, tmp_path_factory.mktemp("session") / "base")


@pytest.fixture
def session(case_file) -> CaseSession:
    """A fresh, unsaved session on a copy of the case (tests edit it)."""
    return CaseSession(load_case(case_file))


def _needle(tip=(10.0, 20.0, 30.0), axis=(0.0, 1.0, 0.0), entry=(10.0, 0.0, 30.0)):
    return InstrumentPlacement("needle-1", "biopsy_needle_18g", pose_along(axis, tip), 20.0,
                               entry_lps_mm=entry, target_lps_mm=tip)


def test_advance_moves_the_tip_along_the_shaft_by_the_amount():
    moved = nudged(_needle(), "advance", 2.5)
    np.testing.assert_allclose(moved.tip_lps_mm, (10.0, 22.5, 30.0), atol=1e-9)
    np.testing.assert_allclose(moved.axis, (0.0, 1.0, 0.0), atol=1e-12)
    assert moved.insertion_depth_mm == pytest.approx(22.5)
    assert moved.entry_lps_mm == (10.0, 0.0, 30.0)
    assert nudged(_needle(), "advance", -30.0).insertion_depth_mm == 0.0


def test_tilt_pivots_about_the_entry_point():
    moved = nudged(_needle(), "tilt_x", 90.0)
    # the tip stays 20 mm from the entry and the shaft still points from the entry to the tip
    assert np.linalg.norm(moved.tip_lps_mm - (10.0, 0.0, 30.0)) == pytest.approx(20.0)
    np.testing.assert_allclose(moved.tip_lps_mm, (10.0, 0.0, 30.0) + 20.0 * moved.axis,
                               atol=1e-9)
    assert abs(moved.axis @ (0.0, 1.0, 0.0)) < 1e-9  # 90 degrees away from the old axis
    small = nudged(_needle(), "tilt_y", 2.0)
    assert np.degrees(np.arccos(small.axis @ (0.0, 1.0, 0.0))) == pytest.approx(2.0)


def test_shift_translates_tip_and_entry_and_keeps_the_planned_target():
    moved = nudged(_needle(), "shift_s", -4.0)
    np.testing.assert_allclose(moved.tip_lps_mm, (10.0, 20.0, 26.0))
    assert moved.entry_lps_mm == (10.0, 0.0, 26.0)
    assert moved.target_lps_mm == (10.0, 20.0, 30.0)
    assert nudged(_needle(), "advance", 3.0).target_lps_mm == (10.0, 20.0, 30.0)
    with pytest.raises(InputError, match="unknown nudge"):
        nudged(_needle(), "spin", 1.0)


def test_place_nudge_undo_redo_share_one_history(session):
    assert not session.dirty and session.title == "Untitled case"
    placed = session.place_instrument("biopsy_needle_18g", (-30.0, 36.0, 40.0),
                                      (28.0, 36.0, 40.0))
    assert session.dirty and session.title.endswith("*")
    session.nudge(placed.id, "advance", 3.0)
    np.testing.assert_allclose(session.placement(placed.id).tip_lps_mm,
                               placed.tip_lps_mm + 3.0 * placed.axis, atol=1e-9)
    session.undo()
    np.testing.assert_allclose(session.placement(placed.id).tip_lps_mm, placed.tip_lps_mm)
    session.undo()
    assert placed.id not in session.case.plan.instruments and not session.dirty
    session.redo()
    assert placed.id in session.case.plan.instruments


def test_structure_edits_are_undoable(session):
    twin = session.case.twin
    session.set_display("liver", DisplaySettings((0.0, 1.0, 0.0), 0.4, False))
    session.edit_structure("liver", critical=True, tissue="kidney")
    assert twin.display["liver"].opacity == 0.4 and not twin.display["liver"].visible
    assert twin.structure("liver").info.critical and twin.labelmap.structure("liver").critical
    assert twin.structure("liver").info.tissue == "kidney"
    session.undo()
    session.undo()
    assert twin.display["liver"].visible and twin.display["liver"].opacity == 1.0
    assert not twin.structure("liver").info.critical
    assert twin.labelmap.structure("liver").tissue == "liver"
    with pytest.raises(InputError):
        session.edit_structure("liver", tissue="no such tissue")
    with pytest.raises(InputError, match="cannot edit"):
        session.edit_structure("liver", label=7)


def test_added_structure_paints_labels_and_undo_gives_them_back(session):
    twin = session.case.twin
    before = twin.labelmap.labels.copy()
    k, j, i = np.indices(SHAPE)
    ball = (k - 20) ** 2 + (j - 24) ** 2 + (i - 30) ** 2 <= 16  # overlaps the liver's edge
    info = StructureInfo(0, "tumour", (1.0, 1.0, 0.0), "tumour")
    model = build_structure(Region.from_full_mask(ball), info, twin.labelmap)
    session.add_structure(model)
    label = twin.labelmap.structure("tumour").label
    assert np.count_nonzero(twin.labelmap.labels == label) == np.count_nonzero(ball)
    assert "tumour" in twin.structures and "tumour" in twin.display
    session.undo()
    assert "tumour" not in twin.structures and "tumour" not in twin.labelmap.names
    assert np.array_equal(twin.labelmap.labels, before)


def test_save_autosave_and_recover(session, tmp_path):
    with pytest.raises(InputError, match="Save As"):
        session.save()
    session.place_instrument("biopsy_needle_18g", (-30.0, 36.0, 40.0), (28.0, 36.0, 40.0))
    path = session.save(tmp_path / "case")
    assert path.name == "case.surgiplan" and not session.dirty
    assert session.autosave() is None  # nothing unsaved
    session.add_landmark((1.0, 2.0, 3.0), "mark")
    written = session.autosave()
    assert written == recovery_path(path) and has_recovery(path)
    recovered = CaseSession.open(path, recover=True)
    assert recovered.dirty and "landmark-1" in recovered.case.plan.landmarks
    reopened = CaseSession.open(path)
    assert not reopened.dirty and "landmark-1" not in reopened.case.plan.landmarks
    assert list(reopened.case.plan.instruments) == list(session.case.plan.instruments)
    recovered.save()
    assert not has_recovery(path) and not recovered.dirty


def test_dragging_the_tip_reaims_the_shaft_through_the_entry():
    from surgiplan.case.session import aimed

    moved = aimed(_needle(), (10.0, 16.0, 42.0))
    np.testing.assert_allclose(moved.tip_lps_mm, (10.0, 16.0, 42.0))
    np.testing.assert_allclose(moved.axis, np.array([0.0, 16.0, 12.0]) / 20.0, atol=1e-12)
    assert moved.insertion_depth_mm == pytest.approx(20.0)
    assert moved.entry_lps_mm == (10.0, 0.0, 30.0) and moved.target_lps_mm == (10.0, 20.0, 30.0)
    pose = moved.pose[:3, :3]
    np.testing.assert_allclose(pose.T @ pose, np.eye(3), atol=1e-12)
    with pytest.raises(InputError, match="entry"):
        aimed(_needle(), (10.0, 0.0, 30.0))
