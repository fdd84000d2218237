"""Each needle's target measured on the deformed anatomy: a retracted liver carries its tumour.

Scene (the block of test_deformed_clearance): a 64 x 40 x 40 mm liver block (x -32..32,
y -20..20, z -20..20 mm) with a tumour sphere of radius 6 mm at (0, 10, 0) carved out of it
(one label per voxel, as a real label map), neither critical. An 18G needle along z at
y = 15 mm ends at z = 0, about 1.4 mm inside the tumour's +y pole. A retractor blade pressed
3 mm onto the block's +y face pushes the liver, and the tumour in it, along -y, away from the
tip; pressed onto the -y face it pushes them toward the tip. An ablation probe placed like the
needle has the tumour inside its zone.
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
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.contact_deformation import deform_by_instrument
from surgiplan.simulation.plan_check import check_case
from surgiplan.twin.builder import build_twin
from tests.simulation.test_deformed_clearance import INDENT_MM, N, _grid, _retractor_pose

TUMOUR_CENTRE_MM = np.array([0.0, 10.0, 0.0])
TUMOUR_RADIUS_MM = 6.0
TIP_MM = (0.0, 15.0, 0.0)
NOTE = "measured on the deformed anatomy after retraction by retractor-1"


@pytest.fixture(scope="module")
def twin():
    affine, points = _grid()
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    organ = (np.abs(x) <= 32) & (np.abs(y) <= 20) & (np.abs(z) <= 20)
    tumour = np.linalg.norm(points - TUMOUR_CENTRE_MM, axis=-1) <= TUMOUR_RADIUS_MM
    labels = LabelMap.empty_like((N, N, N), affine)
    labels.add(Region.from_full_mask(organ & ~tumour), StructureInfo(0, "liver", tissue="liver"))
    labels.add(Region.from_full_mask(tumour), StructureInfo(0, "tumour", tissue="tumour"))
    return build_twin(labels)


def _case(twin, side: float | None, instrument: str = "biopsy_needle_18g") -> Case:
    plan = Plan()
    if side is not None:
        pose = tuple(map(tuple, _retractor_pose(side, INDENT_MM)))
        plan.instruments["retractor-1"] = InstrumentPlacement("retractor-1", "retractor", pose)
    entry = (TIP_MM[0], TIP_MM[1], -45.0)
    plan.instruments["needle-1"] = InstrumentPlacement(
        "needle-1", instrument, pose_from_entry_target(entry, TIP_MM), 45.0, entry, TIP_MM)
    affine, _ = _grid()
    return Case(volume=Volume(np.zeros((N, N, N), np.int16), affine, "CT"), twin=twin, plan=plan)


@pytest.fixture(scope="module")
def checks(twin):
    catalogue = load_catalogue()
    return {name: check_case(_case(twin, side), catalogue=catalogue)
            for name, side in (("rest", None), ("away", 1.0), ("toward", -1.0))}


def _rule(result, rule: str) -> list:
    return [c for c in result.complications if c.rule == rule and c.item_id == "needle-1"]


def _push_at(twin, side: float, point_lps_mm) -> np.ndarray:
    """The FEM displacement (mm) of the liver at a point, solved for the retractor alone."""
    retractor = load_catalogue().get("retractor")
    [liver] = [d for d in deform_by_instrument(twin, retractor, _retractor_pose(side, INDENT_MM))
               if d.structure == "liver"]
    tets = twin.structure("liver").physics.tet_mesh
    carried = carry_points(tets, liver.state.displacement_mm, np.asarray([point_lps_mm]))
    assert carried.carried[0]
    return carried.displacement_mm[0]


def test_at_rest_the_tip_is_inside_its_target(checks):
    findings = checks["rest"].context.instruments["needle-1"]
    target = findings.tip_to_target
    assert findings.target_structure == "tumour" and target.structure == "tumour"
    # The tip is 1 mm inside the analytic sphere; the smoothed voxel surface gives 1.43 mm.
    assert -2.0 < target.distance_mm < -0.8 and target.inside
    assert target.rest_distance_mm == target.distance_mm
    assert target.deformed_by == () and target.carried_by == () and target.surface_lps_mm is None
    assert np.linalg.norm(np.subtract(target.point_lps_mm, TUMOUR_CENTRE_MM)) == pytest.approx(
        TUMOUR_RADIUS_MM, abs=0.5)
    assert findings.trajectory.crossings[-1].structure == "tumour"
    assert _rule(checks["rest"], "trajectory_blocked") == []
    assert checks["rest"].deformed_vertices_lps_mm == {}


def test_a_push_away_moves_the_target_off_the_tip_by_the_organs_displacement(twin, checks):
    rest = checks["rest"].context.instruments["needle-1"].tip_to_target
    findings = checks["away"].context.instruments["needle-1"]
    target = findings.tip_to_target
    assert target.deformed_by == ("retractor-1",) and target.carried_by == ("liver",)
    assert target.rest_distance_mm == pytest.approx(rest.distance_mm)
    # The tumour surface nearest the tip moves with the liver there: along its outward normal
    # the gap opens by the displacement (about 2 mm of the 3 mm indent, away from the tip).
    push = _push_at(twin, 1.0, rest.point_lps_mm)
    normal = np.subtract(rest.point_lps_mm, TUMOUR_CENTRE_MM)
    normal /= np.linalg.norm(normal)
    assert push @ normal < -1.5
    assert target.distance_mm == pytest.approx(rest.distance_mm - push @ normal, abs=0.1)
    assert target.distance_mm > 0 and not target.inside
    assert np.subtract(target.point_lps_mm, rest.point_lps_mm)[1] == pytest.approx(
        push[1], abs=0.3)
    moved = checks["away"].deformed_vertices_lps_mm["tumour"]
    np.testing.assert_allclose(target.surface_lps_mm, moved)
    # The path no longer reaches the moved tumour's far side at the tip.
    end = findings.trajectory.length_mm
    assert all(c.leave_mm < end - 0.5 for c in findings.trajectory.crossed("tumour"))


def test_the_missed_target_is_flagged_on_the_deformed_anatomy(checks):
    target = checks["away"].context.instruments["needle-1"].tip_to_target
    [flag] = _rule(checks["away"], "trajectory_blocked")
    assert flag.severity.label == "critical" and flag.structures == ("tumour",)
    assert flag.value == pytest.approx(target.distance_mm) and flag.threshold == 0.0
    assert flag.unit == "mm" and flag.location_lps_mm == pytest.approx(target.point_lps_mm)
    assert flag.message.startswith("Needle tip lies ")
    assert "outside the tumour" in flag.message and flag.message.endswith(NOTE)


def test_carrying_a_non_critical_target_adds_no_margin_or_breach(checks):
    for name in ("rest", "away", "toward"):
        findings = checks[name].context.instruments["needle-1"]
        assert "tumour" not in findings.clearances and "liver" not in findings.clearances
        assert _rule(checks[name], "safety_margin") == []
        assert _rule(checks[name], "critical_breach") == []  # the liver holds the tumour


def test_a_push_toward_the_tip_keeps_it_inside(twin, checks):
    rest = checks["rest"].context.instruments["needle-1"].tip_to_target
    target = checks["toward"].context.instruments["needle-1"].tip_to_target
    assert target.deformed_by == ("retractor-1",)
    push = _push_at(twin, -1.0, rest.point_lps_mm)
    normal = np.subtract(rest.point_lps_mm, TUMOUR_CENTRE_MM)
    normal /= np.linalg.norm(normal)
    assert push @ normal > 0.5
    assert target.distance_mm < rest.distance_mm - 0.5 and target.inside
    assert _rule(checks["toward"], "trajectory_blocked") == []


def test_the_ablation_margin_is_measured_on_the_moved_tumour(twin):
    catalogue = load_catalogue()
    rest, away = (check_case(_case(twin, side, "ablation_probe"), catalogue=catalogue)
                  for side in (None, 1.0))
    [at_rest] = _rule(rest, "ablation_margin")
    [pushed] = _rule(away, "ablation_margin")
    assert NOTE not in at_rest.message and pushed.message.endswith(NOTE)
    # The zone stays with the probe; the tumour's -y side, nearest the zone's boundary, moves
    # about 1.4 mm further toward it (2.78 -> 1.42 mm).
    assert pushed.value < at_rest.value - 0.5
    assert pushed.location_lps_mm[1] < at_rest.location_lps_mm[1] - 0.5


def test_the_live_check_cache_keeps_the_rest_target(twin, checks):
    """The app's cache holds findings on the rest anatomy: a check with the retractor moves
    the target in its own copy only, and the next check without it sees the rest target."""
    cache, catalogue = SimulationCache(), load_catalogue()
    pushed = check_case(_case(twin, 1.0), catalogue=catalogue, cache=cache)
    assert pushed.context.instruments["needle-1"].tip_to_target.deformed_by == ("retractor-1",)
    [cached] = [f for p, f in cache.instruments.items() if p.id == "needle-1"]
    assert cached.tip_to_target.deformed_by == ()
    again = check_case(_case(twin, None), catalogue=catalogue, cache=cache)
    assert len(cache.instruments) == 2  # the needle's findings were reused
    assert again.context.instruments["needle-1"].tip_to_target == (
        checks["rest"].context.instruments["needle-1"].tip_to_target)
    assert _rule(again, "trajectory_blocked") == []
