"""Placements: along a path, free, and pivoted about a laparoscopic port."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.commands import AddItem, UndoStack
from surgiplan.plan.model import Plan
from surgiplan.plan.placement import (
    frame_along,
    pivot_about_port,
    place_along_path,
    place_free,
)
from tests.plan.twins import sphere_twin


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _assert_rotation(rotation: np.ndarray) -> None:
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


@pytest.mark.parametrize("target", [(30, -40, 20), (0, 0, -50), (90, 0, 0), (-5, 80, 1)])
def test_tip_on_target_and_axis_along_the_path(catalogue, target):
    entry, target = np.array([10.0, -20.0, 60.0]), np.asarray(target, dtype=float)
    placement = place_along_path("needle-1", catalogue["biopsy_needle_18g"], entry, target)
    np.testing.assert_allclose(placement.tip_lps_mm, target)
    np.testing.assert_allclose(placement.axis, (target - entry) / np.linalg.norm(target - entry))
    assert placement.insertion_depth_mm == pytest.approx(np.linalg.norm(target - entry))
    assert placement.entry_lps_mm == pytest.approx(tuple(entry))
    assert placement.instrument == "biopsy_needle_18g" and placement.pivot_lps_mm is None
    _assert_rotation(placement.pose[:3, :3])


def test_roll_keeps_the_instrument_x_axis_toward_patient_left():
    axis = np.array([0.0, 0.6, -0.8])
    rotation = frame_along(axis)
    np.testing.assert_allclose(rotation[:, 0], (1, 0, 0), atol=1e-12)  # L is already normal
    tilted = frame_along([1.0, 1.0, 0.0])
    np.testing.assert_allclose(tilted[:, 0], np.array([1.0, -1.0, 0.0]) / np.sqrt(2))
    along_lr = frame_along([-1.0, 0.0, 0.0])  # shaft along L-R: x falls back to posterior
    np.testing.assert_allclose(along_lr[:, 0], (0, 1, 0), atol=1e-12)
    for r in (rotation, tilted, along_lr):
        _assert_rotation(r)


def test_laparoscopic_instrument_pivots_about_its_entry(catalogue):
    placement = place_along_path("grasper-1", catalogue["grasper_5mm"], (0, -150, 0),
                                 (20, -50, 10))
    assert placement.pivot_lps_mm == pytest.approx((0, -150, 0))


def test_same_entry_and_target_is_refused(catalogue):
    with pytest.raises(InputError, match="same point"):
        place_along_path("n", catalogue["drill"], (1, 2, 3), (1, 2, 3))


def test_entry_near_the_skin_is_snapped_onto_it(catalogue):
    twin = sphere_twin({"skin": ((0, 0, 0), 100.0)})
    direction = np.array([2.0, 1.0, -2.0]) / 3.0
    near = place_along_path("n", catalogue["biopsy_needle_18g"], 101.5 * direction, (0, 0, 0),
                            twin=twin)
    assert np.linalg.norm(near.entry_lps_mm) == pytest.approx(100.0, abs=0.05)
    assert near.insertion_depth_mm == pytest.approx(100.0, abs=0.05)
    far = place_along_path("n", catalogue["biopsy_needle_18g"], 105.0 * direction, (0, 0, 0),
                           twin=twin)
    assert np.linalg.norm(far.entry_lps_mm) == pytest.approx(105.0)  # kept: validation reports


def test_free_pose(catalogue):
    pose = np.eye(4)
    pose[:3, :3] = frame_along([0.0, 0.0, 1.0])
    pose[:3, 3] = (1, 2, 3)
    needle = place_free("n", catalogue["biopsy_needle_14g"], pose, insertion_depth_mm=40.0)
    np.testing.assert_allclose(needle.pose, pose)
    assert needle.pivot_lps_mm is None and needle.entry_lps_mm is None
    grasper = place_free("g", catalogue["grasper_5mm"], pose, insertion_depth_mm=40.0)
    assert grasper.pivot_lps_mm == pytest.approx((1, 2, 3 - 40))
    with pytest.raises(InputError, match="rigid"):
        place_free("n", catalogue["drill"], np.diag([1.0, 2.0, 1.0, 1.0]), insertion_depth_mm=1)
    with pytest.raises(InputError, match="insertion depth"):
        place_free("n", catalogue["drill"], pose, insertion_depth_mm=-1.0)


@pytest.fixture()
def grasper(catalogue):
    return place_along_path("grasper-1", catalogue["grasper_5mm"], (0, -150, 0), (0, -50, 0))


@pytest.mark.parametrize("new_tip", [(40, -60, 30), (-80, -100, 0), (0, 50, -100)])
def test_pivot_keeps_the_shaft_through_the_port(catalogue, grasper, new_tip):
    moved = pivot_about_port(grasper, catalogue["grasper_5mm"], new_tip)
    port, tip = np.array([0.0, -150.0, 0.0]), np.asarray(new_tip, dtype=float)
    np.testing.assert_allclose(moved.tip_lps_mm, tip)
    assert moved.insertion_depth_mm == pytest.approx(np.linalg.norm(tip - port))
    # The port lies on the shaft line, behind the tip by the insertion depth.
    np.testing.assert_allclose(moved.tip_lps_mm - moved.insertion_depth_mm * moved.axis, port,
                               atol=1e-9)
    assert moved.pivot_lps_mm == grasper.pivot_lps_mm
    assert moved.target_lps_mm == pytest.approx(tuple(tip))
    _assert_rotation(moved.pose[:3, :3])


def test_small_pivot_barely_rolls_the_jaws(catalogue, grasper):
    moved = pivot_about_port(grasper, catalogue["grasper_5mm"], (1.0, -50.0, 0.0))
    angle = np.degrees(np.arccos(np.clip(moved.pose[:3, 0] @ grasper.pose[:3, 0], -1, 1)))
    assert angle == pytest.approx(np.degrees(np.arctan(1.0 / 100.0)), abs=1e-6)


def test_pivot_refuses_what_it_cannot_do(catalogue, grasper):
    grasper_5mm = catalogue["grasper_5mm"]
    with pytest.raises(InputError, match="reaches 330 mm; this tip is 400.0 mm from the port"):
        pivot_about_port(grasper, grasper_5mm, (0, 250, 0))
    needle = place_along_path("n", catalogue["biopsy_needle_18g"], (0, 0, 100), (0, 0, 0))
    with pytest.raises(InputError, match="does not pivot"):
        pivot_about_port(needle, catalogue["biopsy_needle_18g"], (1, 0, 0))
    with pytest.raises(InputError, match="holds 'grasper_5mm'"):
        pivot_about_port(grasper, catalogue["trocar_5mm"], (1, 0, 0))
    free = place_free("g", grasper_5mm, np.eye(4), insertion_depth_mm=0.0)
    with pytest.raises(InputError, match="no port"):
        pivot_about_port(free, grasper_5mm, (1, 0, 0))
    with pytest.raises(InputError, match="on the port"):
        pivot_about_port(grasper, grasper_5mm, (0, -150, 0))


def test_placements_go_into_a_plan_and_undo(catalogue):
    plan = Plan()
    stack = UndoStack(plan)
    placement = place_along_path(plan.new_id("instruments", "needle"),
                                 catalogue["ablation_probe"], (0, 0, 100), (0, 0, 20))
    stack.push(AddItem("instruments", placement))
    assert plan.get("instruments", "needle-1") == placement
    stack.undo()
    assert not plan.instruments
