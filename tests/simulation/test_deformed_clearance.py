"""Clearances on the deformed anatomy: a vessel inside an organ moves with the retracted organ.

Scene: a 64 x 40 x 40 mm liver block (x -32..32, y -20..20, z -20..20 mm) with a critical vessel
of radius 4 mm along x at y = -6 mm inside it; an 18G needle along z at y = 1.9 mm, passing
3.35 mm from the vessel at rest. A retractor blade pressed 3 mm flat onto the block's -y face
pushes the organ, and the vessel, toward the needle; pressed onto the +y face it pushes them
away.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.case.model import Case
from surgiplan.imaging import Volume
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.model import InstrumentPlacement, Plan
from surgiplan.plan.plan_json import pose_from_entry_target
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.simulation.carried import carry_points
from surgiplan.simulation.deformed_clearance import DeformedAnatomy, OrganDeformation
from surgiplan.simulation.plan_check import check_case
from surgiplan.twin.builder import build_twin
from surgiplan.twin.tetmesh import TetMesh
from tests.simulation.meshes import box

SPACING_MM, N = 2.0, 48
VESSEL_Y_MM, VESSEL_RADIUS_MM = -6.0, 4.0
NEEDLE_Y_MM = 1.9
INDENT_MM = 3.0


def _grid() -> tuple[np.ndarray, np.ndarray]:
    affine = np.diag([SPACING_MM] * 3 + [1.0])
    affine[:3, 3] = -SPACING_MM * (N - 1) / 2
    k, j, i = np.indices((N, N, N))
    return affine, np.stack([i, j, k], -1) * SPACING_MM + affine[:3, 3]


def _labels(carved: bool) -> tuple[LabelMap, dict | None, np.ndarray]:
    affine, points = _grid()
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    organ = (np.abs(x) <= 32) & (np.abs(y) <= 20) & (np.abs(z) <= 20)
    vessel = (np.hypot(y - VESSEL_Y_MM, z) <= VESSEL_RADIUS_MM) & (np.abs(x) <= 36)
    labels = LabelMap.empty_like((N, N, N), affine)
    labels.add(Region.from_full_mask(organ & ~vessel), StructureInfo(0, "liver", tissue="liver"))
    labels.add(Region.from_full_mask(vessel),
               StructureInfo(0, "vessel", tissue="vessel", critical=True))
    # Overlapping regions: the organ's physics mesh fills the vessel (the vessel is embedded).
    regions = None if carved else {"liver": Region.from_full_mask(organ)}
    return labels, regions, affine


@pytest.fixture(scope="module")
def block():
    labels, regions, affine = _labels(carved=False)
    return build_twin(labels, regions=regions), affine


def _retractor_pose(side: float, depth_mm: float) -> np.ndarray:
    """Blade face pressed ``depth_mm`` into the face y = 20 * side, pushing along -side * y;
    blade width along z, its long axis across the whole block along x."""
    push = np.array([0.0, -side, 0.0])
    width = np.array([0.0, 0.0, 1.0])
    long_axis = np.cross(width, push)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = width, push, long_axis
    blade_half_thickness = 1.0
    pose[:3, 3] = (np.array([0.0, 20.0 * side, 0.0]) + (depth_mm - blade_half_thickness) * push
                   + 40.0 * long_axis)
    return pose


def _case(block, side: float | None) -> Case:
    twin, affine = block
    plan = Plan()
    if side is not None:
        pose = tuple(map(tuple, _retractor_pose(side, INDENT_MM)))
        plan.instruments["retractor-1"] = InstrumentPlacement("retractor-1", "retractor", pose)
    entry, target = (0.0, NEEDLE_Y_MM, -45.0), (0.0, NEEDLE_Y_MM, 8.0)
    plan.instruments["needle-1"] = InstrumentPlacement(
        "needle-1", "biopsy_needle_18g", pose_from_entry_target(entry, target), 53.0, entry,
        target)
    return Case(volume=Volume(np.zeros((N, N, N), np.int16), affine, "CT"), twin=twin, plan=plan)


def _needle_margin(result):
    return [c for c in result.complications
            if c.rule == "safety_margin" and c.item_id == "needle-1"]


@pytest.fixture(scope="module")
def checks(block):
    catalogue = load_catalogue()
    return {name: check_case(_case(block, side), catalogue=catalogue)
            for name, side in (("rest", None), ("toward", -1.0), ("away", 1.0))}


def test_at_rest_the_needle_keeps_its_margin(checks):
    clearance = checks["rest"].context.instruments["needle-1"].clearances["vessel"]
    # 1.9 - (-6 + 4) - 0.635 = 3.27 mm analytically; the smoothed voxel surface gives 3.35.
    assert 3.2 < clearance.distance_mm < 3.5
    assert clearance.deformed_by == ()
    assert _needle_margin(checks["rest"]) == []


def test_a_vessel_pushed_toward_the_needle_is_flagged_on_the_deformed_anatomy(checks):
    findings = checks["toward"].context.instruments["needle-1"]
    clearance = findings.clearances["vessel"]
    assert clearance.deformed_by == ("retractor-1",)
    assert 1.0 < clearance.distance_mm < 2.5  # 1.79 mm: the vessel moved about 1.6 mm
    [flag] = _needle_margin(checks["toward"])
    assert flag.severity.label == "warning" and flag.structures == ("vessel",)
    assert flag.value == pytest.approx(clearance.distance_mm)
    assert flag.threshold == 3.0
    assert flag.message.endswith("measured on the deformed anatomy after retraction by "
                                 "retractor-1")
    assert "liver" not in checks["toward"].context.instruments["retractor-1"].entered
    row = flag.to_json()
    assert set(row) >= {"rule", "severity", "structures", "location_lps_mm", "value",
                        "threshold", "unit", "message"}
    assert row["location_lps_mm"][1] > VESSEL_Y_MM + VESSEL_RADIUS_MM  # the moved surface


def test_a_vessel_pushed_away_from_the_needle_is_not_flagged(checks):
    rest = checks["rest"].context.instruments["needle-1"].clearances["vessel"].distance_mm
    clearance = checks["away"].context.instruments["needle-1"].clearances["vessel"]
    assert clearance.deformed_by == ("retractor-1",)
    assert clearance.distance_mm > rest + 0.3
    assert _needle_margin(checks["away"]) == []


def test_a_vessel_carved_out_of_the_organ_moves_with_it():
    """Label-map vessels sit in a tunnel of the organ's mesh: their surface, up to about a cell
    outside the mesh, is carried by the nearest element; a translation moves them exactly."""
    labels, regions, _ = _labels(carved=True)
    twin = build_twin(labels, regions=regions)
    liver = twin.structure("liver").physics.tet_mesh
    shift = np.array([0.0, 2.0, 0.0])
    organs = {"liver": OrganDeformation("liver", np.tile(shift, (liver.n_nodes, 1)),
                                        ("retractor-1",))}
    anatomy = DeformedAnatomy.build(twin, organs)
    moved = anatomy.moved["vessel"]
    assert moved.carried_by == ("liver",) and moved.deformed_by == ("retractor-1",)
    rest = twin.structure("vessel")
    inside = np.abs(rest.surface.vertices_lps_mm[:, 0]) < 30  # the ends stick out of the block
    np.testing.assert_allclose(moved.model.surface.vertices_lps_mm[inside],
                               rest.surface.vertices_lps_mm[inside] + shift, atol=1e-9)
    np.testing.assert_allclose(moved.model.collision.vertices_lps_mm[:, 1].max(),
                               rest.collision.vertices_lps_mm[:, 1].max() + 2.0, atol=1e-6)
    assert moved.max_displacement_mm == pytest.approx(2.0)


def test_nothing_moves_without_a_deformation(block):
    twin, _ = block
    anatomy = DeformedAnatomy.build(twin, {})
    assert anatomy.moved == {} and anatomy.world is None


def _unit_cube() -> TetMesh:
    nodes, tets = box((10.0, 10.0, 10.0), (2, 2, 2))
    return TetMesh(nodes, tets, tissue="liver", cell_size_mm=5.0)


def test_points_inside_follow_the_mesh_and_points_near_it_take_the_nearest_element():
    tets = _unit_cube()
    gradient = np.array([[0.1, 0.0, 0.0], [0.0, 0.2, 0.0], [0.05, 0.0, -0.1]])
    nodal = tets.nodes_lps_mm @ gradient.T + [1.0, -2.0, 0.5]
    points = np.array([[5.0, 5.0, 5.0],     # inside
                       [2.0, 7.0, 9.0],     # inside
                       [5.0, 5.0, 10.5],    # 0.5 mm outside: nearest face point (5, 5, 10)
                       [5.0, 5.0, 13.0]])   # 3 mm outside, beyond a 1 mm reach
    carried = carry_points(tets, nodal, points, reach_mm=1.0)
    affine = lambda p: p @ gradient.T + [1.0, -2.0, 0.5]  # noqa: E731
    np.testing.assert_allclose(carried.displacement_mm[:2], affine(points[:2]), atol=1e-9)
    np.testing.assert_allclose(carried.displacement_mm[2], affine(np.array([5.0, 5.0, 10.0])),
                               atol=1e-9)
    np.testing.assert_allclose(carried.displacement_mm[3], 0.0)
    np.testing.assert_allclose(carried.distance_mm[:3], [0.0, 0.0, 0.5], atol=1e-9)
    assert carried.carried.tolist() == [True, True, True, False]
    # With the default reach (one 5 mm cell) the far point is carried too.
    assert carry_points(tets, nodal, points).carried.all()
