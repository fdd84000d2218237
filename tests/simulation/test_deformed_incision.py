"""Incisions measured on the deformed anatomy: the cut moves with the organ it is drawn on.

Scene (the block of test_deformed_clearance, no skin): a 64 x 40 x 40 mm liver block (x -32..32,
y -20..20, z -20..20 mm) holding a critical vessel of radius 4 mm along x at y = -6 mm (top at
y = -2), and outside it a critical aorta of radius 4 mm along x at y = 32 mm (bottom at y = 28,
8 mm beyond the block, out of the liver's reach: it never moves with it). An incision drawn on
the liver's +y face along x at z = 0, 16.5 mm deep, comes 20 - 16.5 - (-2) = 5.5 mm from the
vessel and 28 - 20 = 8 mm from the aorta. A retractor blade pressed 3 mm onto the block's -y
face pushes the liver, the vessel and the cut along +y: toward the aorta, and the vessel a
little more than the cut's bottom.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.case.model import Case
from surgiplan.imaging import Volume
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.model import Incision, InstrumentPlacement, Plan
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.simulation.carried import carry_points
from surgiplan.simulation.check_cache import SimulationCache
from surgiplan.simulation.collision import CollisionWorld
from surgiplan.simulation.contact_deformation import deform_by_instrument
from surgiplan.simulation.deformed_clearance import DeformedAnatomy, OrganDeformation
from surgiplan.simulation.incision_clearance import remeasure_incision
from surgiplan.simulation.plan_check import check_case, incision_findings
from surgiplan.twin.builder import build_twin
from tests.simulation.test_deformed_clearance import (
    INDENT_MM,
    VESSEL_RADIUS_MM,
    VESSEL_Y_MM,
    N,
    _grid,
    _retractor_pose,
)

AORTA_Y_MM, AORTA_RADIUS_MM = 32.0, 4.0
DEPTH_MM = 16.5
NOTE = ", measured on the deformed anatomy after retraction by retractor-1"
WARNING_MM = 7.5
"""Incision margin of these checks: the vessel (5.5 mm) is flagged at rest, the aorta (8 mm)
only once the push brings the cut closer."""
OVERRIDES = {"incision_over_vessel": {"thresholds": {"warning_mm": WARNING_MM}}}


@pytest.fixture(scope="module")
def twin():
    affine, points = _grid()
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    organ = (np.abs(x) <= 32) & (np.abs(y) <= 20) & (np.abs(z) <= 20)
    vessel = (np.hypot(y - VESSEL_Y_MM, z) <= VESSEL_RADIUS_MM) & (np.abs(x) <= 36)
    aorta = (np.hypot(y - AORTA_Y_MM, z) <= AORTA_RADIUS_MM) & (np.abs(x) <= 36)
    labels = LabelMap.empty_like((N, N, N), affine)
    labels.add(Region.from_full_mask(organ & ~vessel), StructureInfo(0, "liver", tissue="liver"))
    labels.add(Region.from_full_mask(vessel),
               StructureInfo(0, "vessel", tissue="vessel", critical=True))
    labels.add(Region.from_full_mask(aorta),
               StructureInfo(0, "aorta", tissue="vessel", critical=True))
    return build_twin(labels, regions={"liver": Region.from_full_mask(organ)})


def _liver_cut() -> Incision:
    return Incision("cut-1", "liver", ((-16.0, 20.0, 0.0), (16.0, 20.0, 0.0)), DEPTH_MM)


def _case(twin, side: float | None, incision: Incision | None = None) -> Case:
    plan = Plan()
    if side is not None:
        pose = tuple(map(tuple, _retractor_pose(side, INDENT_MM)))
        plan.instruments["retractor-1"] = InstrumentPlacement("retractor-1", "retractor", pose)
    incision = incision or _liver_cut()
    plan.incisions[incision.id] = incision
    affine, _ = _grid()
    return Case(volume=Volume(np.zeros((N, N, N), np.int16), affine, "CT"), twin=twin, plan=plan)


@pytest.fixture(scope="module")
def checks(twin):
    catalogue = load_catalogue()
    return {name: check_case(_case(twin, side), catalogue=catalogue, overrides=OVERRIDES)
            for name, side in (("rest", None), ("toward", -1.0))}


def _distances(result) -> dict:
    return result.context.incisions["cut-1"].vessel_distances


def _flags(result) -> dict:
    return {c.structures[0]: c for c in result.complications
            if c.rule == "incision_over_vessel" and c.item_id == "cut-1"}


def _push_at(twin, points_lps_mm) -> np.ndarray:
    """The FEM displacement (mm) of the liver at points ``(p, 3)`` it carries, for the
    retractor alone."""
    retractor = load_catalogue().get("retractor")
    [liver] = [d for d in deform_by_instrument(twin, retractor, _retractor_pose(-1.0, INDENT_MM))
               if d.structure == "liver"]
    tets = twin.structure("liver").physics.tet_mesh
    carried = carry_points(tets, liver.state.displacement_mm, np.asarray(points_lps_mm))
    assert carried.carried.all()
    return carried.displacement_mm


def test_at_rest_the_cut_distances_are_the_analytic_ones(checks):
    distances = _distances(checks["rest"])
    # Analytic 5.5 and 8 mm; the smoothed voxel surfaces give 5.58 and 8.06 mm.
    assert distances["vessel"].distance_mm == pytest.approx(5.5, abs=0.3)
    assert distances["aorta"].distance_mm == pytest.approx(8.0, abs=0.3)
    assert distances["vessel"].point_lps_mm[1] == pytest.approx(20.0 - DEPTH_MM, abs=0.2)
    assert distances["aorta"].point_lps_mm[1] == pytest.approx(20.0, abs=0.2)
    assert all(d.deformed_by == () for d in distances.values())
    flags = _flags(checks["rest"])
    assert set(flags) == {"vessel"} and "deformed" not in flags["vessel"].message


def _motions(twin, cut_points_lps_mm, structure: str, carried: bool):
    """For cut points ``(p, 3)`` at rest: their distance to the structure ``(p,)``, their
    motion along the line from the structure's nearest point to them ``(p,)`` and that
    point's motion along it ``(p,)`` (zero when the liver does not carry it), mm. The distance
    on the deformed anatomy is the smallest rest distance + cut motion - structure motion."""
    points = np.asarray(cut_points_lps_mm, dtype=float)
    nearest = [twin.structure(structure).collision.distance_to_point(p) for p in points]
    distance = np.array([n.distance_mm for n in nearest])
    on_structure = np.array([n.closest_point_lps_mm for n in nearest])
    away = (points - on_structure) / distance[:, None]
    pushes = _push_at(twin, np.vstack([points, on_structure]) if carried else points)
    cut_along = np.einsum("pd,pd->p", pushes[:len(points)], away)
    structure_along = (np.einsum("pd,pd->p", pushes[len(points):], away) if carried
                       else np.zeros(len(points)))
    return distance, cut_along, structure_along


def _path(result) -> np.ndarray:
    return result.context.incisions["cut-1"].path.path_lps_mm


def test_the_cut_moved_with_the_liver_comes_closer_to_the_unmoved_aorta(twin, checks):
    rest = _distances(checks["rest"])["aorta"]
    pushed = _distances(checks["toward"])["aorta"]
    assert pushed.deformed_by == ("retractor-1",)
    # The cut's top (the traced path) is nearest the aorta; the liver's +y face moves 0.65 mm
    # (block ends) to 1.2 mm (middle) toward it.
    distance, cut_along, _ = _motions(twin, _path(checks["rest"]), "aorta", carried=False)
    assert distance.min() == pytest.approx(rest.distance_mm)
    assert cut_along.min() < -1.0
    expected = (distance + cut_along).min()
    assert pushed.distance_mm == pytest.approx(expected, abs=0.05)
    assert pushed.distance_mm < rest.distance_mm - 1.0
    assert pushed.point_lps_mm[1] == pytest.approx(20.0 - cut_along.min(), abs=0.2)
    assert "aorta" not in checks["toward"].deformed_vertices_lps_mm  # it did not move


def test_the_vessel_and_the_cut_both_move_with_the_liver(twin, checks):
    rest = _distances(checks["rest"])["vessel"]
    pushed = _distances(checks["toward"])["vessel"]
    assert pushed.deformed_by == ("retractor-1",)
    # The cut's bottom is nearest the vessel; both move along +y, the vessel about 1.3-1.55 mm,
    # the cut's bottom 1-1.35 mm: the gap closes by their difference only (0.2-0.3 mm).
    bottom = _path(checks["rest"]) - [0.0, DEPTH_MM, 0.0]
    distance, cut_along, vessel_along = _motions(twin, bottom, "vessel", carried=True)
    assert cut_along.min() > 0.9 and vessel_along.min() > 1.2
    expected = (distance + cut_along - vessel_along).min()
    assert pushed.distance_mm == pytest.approx(expected, abs=0.05)
    assert pushed.distance_mm < rest.distance_mm - 0.15
    # Either motion alone would be far off.
    assert abs(pushed.distance_mm - (distance - vessel_along).min()) > 0.8
    assert abs(pushed.distance_mm - (distance + cut_along).min()) > 0.8


def test_the_incision_rule_says_it_measured_the_deformed_anatomy(checks):
    flags = _flags(checks["toward"])
    assert set(flags) == {"vessel", "aorta"}
    for name, flag in flags.items():
        assert flag.value == pytest.approx(_distances(checks["toward"])[name].distance_mm)
        assert flag.threshold == WARNING_MM and flag.severity.label == "warning"
        assert flag.message.endswith(f"risk of haemorrhage{NOTE}")
        assert flag.message.count("deformed anatomy") == 1


def test_the_live_check_cache_keeps_the_rest_incision(twin, checks):
    cache, catalogue = SimulationCache(), load_catalogue()
    pushed = check_case(_case(twin, -1.0), catalogue=catalogue, cache=cache)
    assert pushed.context.incisions["cut-1"].vessel_distances["aorta"].deformed_by == (
        "retractor-1",)
    [cached] = cache.incisions.values()
    assert cached is not pushed.context.incisions["cut-1"]
    assert cached.vessel_distances == _distances(checks["rest"])
    again = check_case(_case(twin, None), catalogue=catalogue, cache=cache)
    assert len(cache.incisions) == 1  # the incision's findings were reused
    assert _distances(again) == _distances(checks["rest"])
    assert again.context.incisions["cut-1"] is cached  # no push: nothing measured again


# Known displacements: the liver translated 2 mm along +y, no FEM ----------------------------

SHIFT_MM = np.array([0.0, 2.0, 0.0])


@pytest.fixture(scope="module")
def translated(twin):
    liver = twin.structure("liver").physics.tet_mesh
    organs = {"liver": OrganDeformation("liver", np.tile(SHIFT_MM, (liver.n_nodes, 1)),
                                        ("retractor-1",))}
    return DeformedAnatomy.build(twin, organs), CollisionWorld(twin)


def test_a_cut_translated_with_its_organ_moves_by_the_translation(twin, translated):
    anatomy, world = translated
    rest = incision_findings(world, _case(twin, None), _liver_cut())
    moved = remeasure_incision(rest, anatomy, twin, world)
    vessel, aorta = moved.vessel_distances["vessel"], moved.vessel_distances["aorta"]
    # The vessel moves with the cut: same distance; the aorta stays: 2 mm closer.
    assert vessel.distance_mm == pytest.approx(rest.vessel_distances["vessel"].distance_mm,
                                               abs=0.02)
    assert aorta.distance_mm == pytest.approx(rest.vessel_distances["aorta"].distance_mm - 2.0,
                                              abs=0.05)
    assert vessel.deformed_by == aorta.deformed_by == ("retractor-1",)
    assert aorta.point_lps_mm[1] == pytest.approx(20.0 + 2.0, abs=0.2)
    assert all(d.deformed_by == () for d in rest.vessel_distances.values())  # not mutated


def test_a_cut_on_an_unpushed_structure_stays_while_the_vessel_comes_closer(twin, translated):
    """Cut 2 mm deep into the aorta's underside (y = 28): 30 mm above the vessel's top."""
    anatomy, world = translated
    cut = Incision("cut-2", "aorta", ((-10.0, 28.0, 0.0), (10.0, 28.0, 0.0)), 2.0)
    rest = incision_findings(world, _case(twin, None, cut), cut)
    assert rest.vessel_distances["vessel"].distance_mm == pytest.approx(30.0, abs=0.3)
    moved = remeasure_incision(rest, anatomy, twin, world)
    vessel = moved.vessel_distances["vessel"]
    assert vessel.distance_mm == pytest.approx(
        rest.vessel_distances["vessel"].distance_mm - 2.0, abs=0.05)
    assert vessel.deformed_by == ("retractor-1",)
    assert vessel.point_lps_mm == rest.vessel_distances["vessel"].point_lps_mm  # cut unmoved
    assert moved.vessel_distances["aorta"] is rest.vessel_distances["aorta"]  # nothing moved


def test_nothing_is_measured_again_without_a_deformation(twin):
    world = CollisionWorld(twin)
    rest = incision_findings(world, _case(twin, None), _liver_cut())
    assert remeasure_incision(rest, DeformedAnatomy.build(twin, {}), twin, world) is rest
