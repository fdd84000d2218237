"""Trajectories through spheres of known size: crossings and entry angles against geometry."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.plan.trajectory import analyse_trajectory
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.builder import TwinOptions, build_twin
from tests.plan.twins import icosphere, mesh_structure, sphere_twin


@pytest.fixture(scope="module")
def body():
    """Skin r=100 at the origin, liver r=50 offset to y=20, tumour r=10 at y=40 in the liver."""
    return sphere_twin({"skin": ((0, 0, 0), 100.0), "liver": ((0, 20, 0), 50.0),
                        "tumour": ((0, 40, 0), 10.0), "vessel": ((60, -60, 0), 8.0, True)})


def _spans(trajectory) -> dict[str, list[tuple[float, float]]]:
    spans: dict[str, list[tuple[float, float]]] = {}
    for crossing in trajectory.crossings:
        spans.setdefault(crossing.structure, []).append((crossing.enter_mm, crossing.leave_mm))
    return spans


def test_path_through_the_centres_crosses_each_sphere_at_its_radius(body):
    trajectory = analyse_trajectory(body, (0, 100, 0), (0, -100, 0))
    assert trajectory.length_mm == pytest.approx(200.0)
    np.testing.assert_allclose(trajectory.direction, (0, -1, 0))
    assert [c.structure for c in trajectory.crossings] == ["skin", "liver", "tumour"]
    spans = _spans(trajectory)
    np.testing.assert_allclose(spans["skin"], [(0.0, 200.0)], atol=0.2)
    np.testing.assert_allclose(spans["liver"], [(30.0, 130.0)], atol=0.2)  # y 70 .. -30
    np.testing.assert_allclose(spans["tumour"], [(50.0, 70.0)], atol=0.2)  # y 50 .. 30
    assert not any(c.critical for c in trajectory.crossings)


def test_path_ending_in_the_tumour_is_clipped_at_the_target(body):
    trajectory = analyse_trajectory(body, (0, 100, 0), (0, 40, 0))
    spans = _spans(trajectory)
    np.testing.assert_allclose(spans["skin"], [(0.0, 60.0)], atol=0.2)
    np.testing.assert_allclose(spans["liver"], [(30.0, 60.0)], atol=0.2)
    np.testing.assert_allclose(spans["tumour"], [(50.0, 60.0)], atol=0.2)
    assert trajectory.crossed("vessel") == []


def test_off_centre_path_crosses_chords_and_misses_the_tumour(body):
    x = 30.0
    skin_half = np.sqrt(100.0**2 - x**2)
    liver_half = np.sqrt(50.0**2 - x**2)  # liver centre at y = 20
    trajectory = analyse_trajectory(body, (x, skin_half, 0), (x, -skin_half, 0))
    spans = _spans(trajectory)
    assert set(spans) == {"skin", "liver"}
    np.testing.assert_allclose(spans["skin"], [(0.0, 2 * skin_half)], atol=0.2)
    np.testing.assert_allclose(spans["liver"], [(skin_half - 20 - liver_half,
                                                 skin_half - 20 + liver_half)], atol=0.2)


def test_a_structure_the_path_starts_in_is_entered_at_zero(body):
    trajectory = analyse_trajectory(body, (0, 0, 0), (0, 100, 0))  # from inside the liver
    spans = _spans(trajectory)
    np.testing.assert_allclose(spans["liver"], [(0.0, 70.0)], atol=0.2)
    np.testing.assert_allclose(spans["tumour"], [(30.0, 50.0)], atol=0.2)
    np.testing.assert_allclose(spans["skin"], [(0.0, 100.0)], atol=0.2)


def test_critical_structure_is_flagged(body):
    centre = np.array([60.0, -60.0, 0.0])
    entry = centre + [0.0, 0.0, np.sqrt(100.0**2 - 2 * 60.0**2)]  # on the skin above the vessel
    trajectory = analyse_trajectory(body, entry, centre)
    vessel = trajectory.crossed("vessel")
    assert len(vessel) == 1 and vessel[0].critical
    length = trajectory.length_mm
    assert vessel[0].enter_mm == pytest.approx(length - 8.0, abs=0.2)
    assert vessel[0].leave_mm == pytest.approx(length)


def test_radial_entry_is_perpendicular_to_the_skin(body):
    entry = np.array([1.0, 2.0, 2.0]) / 3.0 * 100.0
    trajectory = analyse_trajectory(body, entry, entry * 0.2)
    assert trajectory.angle_to_skin_normal_deg == pytest.approx(0.0, abs=0.3)
    np.testing.assert_allclose(trajectory.skin_normal_lps, entry / 100.0, atol=0.01)


@pytest.mark.parametrize("tilt_deg", [30.0, 60.0])
def test_tilted_entry_reads_its_tilt(body, tilt_deg):
    entry = np.array([0.0, 100.0, 0.0])
    tilt = np.radians(tilt_deg)
    direction = np.array([np.sin(tilt), -np.cos(tilt), 0.0])
    trajectory = analyse_trajectory(body, entry, entry + 50.0 * direction)
    assert trajectory.angle_to_skin_normal_deg == pytest.approx(tilt_deg, abs=0.3)


def test_twin_without_skin_has_no_angle():
    twin = sphere_twin({"liver": ((0, 0, 0), 50.0)})
    trajectory = analyse_trajectory(twin, (0, 0, 80), (0, 0, 0))
    assert trajectory.angle_to_skin_normal_deg is None
    np.testing.assert_allclose(_spans(trajectory)["liver"], [(30.0, 80.0)], atol=0.2)


def test_a_structure_crossed_twice_appears_twice():
    twin = sphere_twin({"skin": ((0, 0, 0), 100.0), "liver": ((0, 0, 0), 20.0)})
    loops = trimesh.util.concatenate([icosphere((0, 30, 0), 10.0), icosphere((0, -30, 0), 10.0)])
    twin.structures["bowel"] = mesh_structure("bowel", loops, label=3)
    trajectory = analyse_trajectory(twin, (0, 100, 0), (0, -100, 0))
    assert [c.structure for c in trajectory.crossings] == ["skin", "bowel", "liver", "bowel"]
    np.testing.assert_allclose(_spans(trajectory)["bowel"], [(60.0, 80.0), (120.0, 140.0)],
                               atol=0.2)


def test_same_entry_and_target_is_refused(body):
    with pytest.raises(InputError, match="same point"):
        analyse_trajectory(body, (0, 100, 0), (0, 100, 0))


def test_trajectory_on_a_twin_built_from_voxels():
    """Balls in a label map through build_twin: crossings within a voxel of the geometry."""
    shape, spacing = (48, 48, 48), 2.0
    affine = np.diag([spacing] * 3 + [1.0])
    affine[:3, 3] = -47.0
    labels = LabelMap.empty_like(shape, affine)
    k, j, i = np.indices(shape)
    points = np.stack([i, j, k], -1) * spacing - 47.0
    for label, (name, centre, radius) in enumerate(
            [("kidney", (0, -20, 0), 15.0), ("rib", (0, 25, 0), 8.0)], start=1):
        mask = np.linalg.norm(points - centre, axis=-1) <= radius
        labels.add(Region.from_full_mask(mask), StructureInfo(label, name, tissue="bone"))
    twin = build_twin(labels, options=TwinOptions(collision_triangles=2000))
    trajectory = analyse_trajectory(twin, (0, 45, 0), (0, -45, 0))
    spans = _spans(trajectory)
    assert [c.structure for c in trajectory.crossings] == ["rib", "kidney"]
    np.testing.assert_allclose(spans["rib"], [(12.0, 28.0)], atol=1.0)
    np.testing.assert_allclose(spans["kidney"], [(50.0, 80.0)], atol=1.0)
