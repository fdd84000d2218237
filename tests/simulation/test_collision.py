"""Instrument-anatomy collision against twins of exact spheres (analytic answers)."""

from __future__ import annotations

import fcl
import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.placement import pose_along
from surgiplan.plan.primitives import capsule_sdf, instrument_sdf, primitive_sdf
from surgiplan.simulation.clash import instrument_clash
from surgiplan.simulation.collision import CollisionWorld
from surgiplan.simulation.instrument_geometry import instrument_geometry, rigid_pose
from tests.plan.twins import icosphere, mesh_structure, sphere_twin

NEEDLE_R = 0.635


@pytest.fixture(scope="module")
def needle():
    return load_catalogue().get("biopsy_needle_18g")


pose = pose_along  # tip frame -> LPS: shaft along ``direction``, tip at ``tip``


def angle_deg(u, v) -> float:
    u, v = np.asarray(u, float), np.asarray(v, float)
    cosine = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


@pytest.mark.parametrize("depth", [1.0, 10.0])
@pytest.mark.parametrize("inward", [(0.0, 0.0, -1.0), (-0.48, 0.6, -0.64)])
def test_needle_pushed_into_organ_reports_depth_and_radial_normal(needle, depth, inward):
    world = CollisionWorld(sphere_twin({"organ": ((0, 0, 0), 40.0)}))
    unit = np.asarray(inward) / np.linalg.norm(inward)
    report = world.query(needle, pose(unit, -unit * (40.0 - depth)))
    assert report.touched == ["organ"]
    assert report.inside == {"organ": True}
    # the tip is `depth` below the surface (the faceted sphere sags < 0.01 mm)
    assert report.penetration_mm("organ") == pytest.approx(depth, abs=0.05)
    for contact in report.contacts:
        assert np.linalg.norm(contact.point_lps_mm) == pytest.approx(40.0, abs=0.05)
        assert angle_deg(contact.normal, contact.point_lps_mm) < 3.0  # outward radial
        assert contact.fcl_depth_mm >= 0.0
    parts = {c.part for c in report.contacts}
    assert parts == ({"tip"} if depth < 2.0 else {"shaft"})  # a 2.7 mm cone, then the shaft


def test_needle_clear_of_everything_reports_nothing(needle):
    world = CollisionWorld(sphere_twin({"organ": ((0, 0, 0), 40.0)}))
    report = world.query(needle, pose((0, 0, -1), (0, 0, 45.0)))
    assert report.contacts == [] and report.inside == {"organ": False}
    assert report.proximity == {}  # no critical structure
    assert report.penetration_mm("organ") == 0.0


@pytest.mark.parametrize("direction", [(0.0, 1.0, 0.0), (0.0, 0.8, 0.6)])
def test_proximity_to_critical_vessel_matches_analytic(needle, direction):
    """Shaft passing 10 mm from a 5 mm vessel's centre: gap 10 - 5 - r_needle."""
    twin = sphere_twin({"vessel": ((0, 0, 0), 5.0, True), "organ": ((0, 0, -60), 20.0)})
    world = CollisionWorld(twin)
    unit = np.asarray(direction) / np.linalg.norm(direction)
    placed = pose(unit, np.array([10.0, 0.0, 0.0]) + 40.0 * unit)
    report = world.query(needle, placed)
    assert set(report.proximity) == {"vessel"}
    near = report.proximity["vessel"]
    assert near.distance_mm == pytest.approx(10.0 - 5.0 - NEEDLE_R, abs=0.01)
    assert near.part == "shaft"
    on_vessel, on_needle = near.point_on_structure_lps_mm, near.point_on_instrument_lps_mm
    assert np.linalg.norm(on_vessel - on_needle) == pytest.approx(near.distance_mm, abs=1e-6)
    assert np.linalg.norm(on_vessel) == pytest.approx(5.0, abs=0.01)  # on the vessel surface
    np.testing.assert_allclose(on_vessel, [5.0, 0.0, 0.0], atol=0.3)
    np.testing.assert_allclose(on_needle, [10.0 - NEEDLE_R, 0.0, 0.0], atol=0.3)
    assert abs(instrument_sdf(needle, placed, on_needle[None])[0]) < 1e-4  # on the needle


def test_proximity_is_zero_in_contact_and_critical_can_be_overridden(needle):
    twin = sphere_twin({"vessel": ((0, 0, 0), 5.0, True), "organ": ((0, 0, -60), 20.0)})
    touching = CollisionWorld(twin).query(needle, pose((0, 0, -1), (0, 0, 4.0)))
    assert touching.proximity["vessel"].distance_mm == 0.0
    assert np.linalg.norm(touching.proximity["vessel"].point_on_structure_lps_mm) == (
        pytest.approx(5.0, abs=0.05))
    world = CollisionWorld(twin, critical=["organ"])
    assert world.critical == ["organ"]
    report = world.query(needle, pose((-1, 0, 0), (30.0, 0, -60.0)))  # aimed at its centre
    assert report.proximity["organ"].distance_mm == pytest.approx(10.0, abs=0.01)  # the tip
    assert report.proximity["organ"].part == "tip"


def test_tip_inside_organ_is_reported_without_any_surface_contact(needle):
    huge = icosphere((0, 0, 0), 400.0)
    twin = sphere_twin({"organ": ((0, 0, 0), 40.0)})
    twin.structures["body"] = mesh_structure("body", huge, label=2, critical=True)
    world = CollisionWorld(twin)
    report = world.query(needle, pose((1, 0, 0), (0, 0, 100.0)))  # wholly inside the body
    assert report.inside == {"organ": False, "body": True}
    assert report.contacts == []
    assert report.proximity["body"].distance_mm == 0.0
    centre = world.query(needle, pose((0, 0, -1), (0, 0, 0.0)))  # tip at the organ's centre
    assert centre.inside["organ"] and "organ" in centre.touched
    assert centre.penetration_mm("organ") == pytest.approx(40.0, abs=0.05)


def test_bvhs_and_instrument_objects_are_built_once_and_reused(needle, monkeypatch):
    twin = sphere_twin({"organ": ((0, 0, 0), 40.0), "vessel": ((60, 0, 0), 5.0, True)})
    world = CollisionWorld(twin)
    for name in world.names:
        assert world.structure(name).bvh is twin.structures[name].collision.bvh
    objects = {name: world.collision_object(name) for name in world.names}
    world.query(needle, pose((0, 0, -1), (0, 0, 35.0)))  # first use builds the instrument
    geometry = instrument_geometry(needle)
    instrument_ids = [id(o) for o in geometry.collision_objects(np.eye(4))]
    built = []
    for name in ("BVHModel", "CollisionObject", "Capsule", "Cone", "Box"):
        original = getattr(fcl, name)
        monkeypatch.setattr(fcl, name, lambda *a, _o=original, _n=name, **k: (
            built.append(_n), _o(*a, **k))[1])
    for z in np.linspace(20.0, 60.0, 5):
        world.query(needle, pose((0, 0, -1), (0, 0, z)))
    assert built == []
    assert all(world.collision_object(n) is objects[n] for n in world.names)
    assert instrument_geometry(needle) is geometry
    assert [id(o) for o in geometry.collision_objects(np.eye(4))] == instrument_ids


def test_instrument_geometry_places_fcl_primitives_like_the_catalogue(needle):
    """Points on each fcl part's surface lie on the analytic primitive (frame conventions)."""
    geometry = instrument_geometry(needle)
    assert geometry.tip_part == "tip"
    assert geometry.thinnest_mm == pytest.approx(NEEDLE_R)
    placed = pose((0.3, -0.5, 0.8), (12.0, -4.0, 30.0))
    objects = geometry.collision_objects(placed)
    probe = fcl.CollisionObject(fcl.Box(0.01, 0.01, 0.01), fcl.Transform())
    for part, obj in zip(geometry.parts, objects, strict=True):
        far = part.primitive.transformed(placed)
        centre = obj.getTranslation()
        for offset in np.eye(3) * 50.0:
            probe.setTranslation(centre + offset)
            result = fcl.DistanceResult()
            fcl.distance(obj, probe, fcl.DistanceRequest(enable_nearest_points=True), result)
            on_part = np.asarray(result.nearest_points[0])
            assert abs(primitive_sdf(far, on_part[None])[0]) < 1e-3, part.name


def test_clash_of_two_parallel_needles_at_known_gap(needle):
    gap = 3.0
    pose_a = pose((0, 0, -1), (0, 0, 0.0))  # shaft along +z from the tip
    pose_b = pose((0, 0, 1), (2 * NEEDLE_R + gap, 0, 100.0))  # antiparallel, hubs far apart
    clash = instrument_clash(needle, pose_a, needle, pose_b)
    assert not clash.colliding
    assert clash.distance_mm == pytest.approx(gap, abs=1e-4)
    assert clash.part_a in ("tip", "shaft") and clash.part_b == "shaft"  # cone base ties
    assert clash.point_a_lps_mm[0] == pytest.approx(NEEDLE_R, abs=1e-4)
    assert clash.point_b_lps_mm[0] == pytest.approx(NEEDLE_R + gap, abs=1e-4)
    assert 0.0 <= clash.point_a_lps_mm[2] <= 100.0
    assert capsule_sdf(clash.point_b_lps_mm[None], (2 * NEEDLE_R + gap, 0, 97.3),
                       (2 * NEEDLE_R + gap, 0, -50.0), NEEDLE_R)[0] == pytest.approx(0, abs=1e-4)
    crossing = instrument_clash(needle, pose_a, needle, pose((1, 0, 0), (20.0, 0, 50.0)))
    assert crossing.colliding and crossing.distance_mm == 0.0
    assert crossing.penetration_mm > 0.0
    np.testing.assert_allclose(crossing.point_a_lps_mm, [0, 0, 50.0], atol=1.0)


def test_bad_input_raises_input_error(needle):
    world = CollisionWorld(sphere_twin({"organ": ((0, 0, 0), 40.0)}))
    with pytest.raises(InputError, match="rigid"):
        world.query(needle, np.diag([2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(InputError, match="4x4"):
        world.query(needle, np.eye(3))
    with pytest.raises(InputError, match="no structure"):
        world.query(needle, np.eye(4), structures=["liver"])
    with pytest.raises(InputError, match="not in the world"):
        CollisionWorld(sphere_twin({"organ": ((0, 0, 0), 40.0)}), critical=["aorta"])
    with pytest.raises(InputError, match="Instrument"):
        world.query("biopsy_needle_18g", np.eye(4))
    with pytest.raises(InputError, match="rigid"):
        rigid_pose(np.diag([1.0, 1.0, -1.0, 1.0]))  # a mirror


def test_every_catalogue_instrument_can_be_queried():
    world = CollisionWorld(sphere_twin({"organ": ((0, 0, 0), 40.0, True)}))
    for instrument_id in load_catalogue():
        instrument = load_catalogue().get(instrument_id)
        report = world.query(instrument, pose((0, 0, -1), (0, 0, 30.0)))
        assert report.touched == ["organ"], instrument_id
        assert report.penetration_mm("organ") >= 9.9, instrument_id


def test_distance_lower_bounds_never_exceed_the_true_distance():
    """The ball bounds that skip fcl calls are conservative for every part, at random poses."""
    grasper = load_catalogue().get("grasper_5mm")
    twin = sphere_twin({"organ": ((0, 0, 0), 40.0), "vessel": ((60, 10, 0), 5.0, True)})
    world = CollisionWorld(twin)
    geometry = instrument_geometry(grasper)
    rng = np.random.default_rng(3)
    for _ in range(40):
        placed = pose(rng.normal(size=3), rng.uniform(-80, 80, size=3))
        lower = world.lower_bounds(geometry, placed)
        objects = geometry.collision_objects(placed)
        for column, name in enumerate(world.names):
            for part, obj in enumerate(objects):
                gap = fcl.distance(world.collision_object(name), obj, fcl.DistanceRequest())
                assert lower[part, column] <= max(gap, 0.0) + 1e-9


@pytest.mark.parametrize("direction", [(0.0, 1.0, 0.0), (0.0, 0.8, 0.6)])
@pytest.mark.parametrize("offset_mm, deepest_mm, bound_mm", [
    (5.3, 5.0 - 5.3 + NEEDLE_R, NEEDLE_R),            # grazes: axis outside, bound r
    (5.0, NEEDLE_R, NEEDLE_R),                        # axis tangent
    (4.0, 5.0 - 4.0 + NEEDLE_R, 3.0 + NEEDLE_R),      # crosses: half the 6 mm chord + r
])
def test_a_long_shaft_through_a_small_vessel_is_not_reported_tens_of_mm_deep(
        needle, direction, offset_mm, deepest_mm, bound_mm):
    """A shaft passing a 5 mm vessel 40 mm before its tip: the tilted triangle planes of the
    contact patch used to put the shaft's far end 14-31 mm "inside" the vessel."""
    world = CollisionWorld(sphere_twin({"vessel": ((0, 0, 0), 5.0, True)}))
    unit = np.asarray(direction) / np.linalg.norm(direction)
    report = world.query(needle, pose(unit, np.array([offset_mm, 0.0, 0.0]) + 40.0 * unit))
    assert report.touched == ["vessel"] and report.inside == {"vessel": False}
    depth = report.penetration_mm("vessel")
    assert deepest_mm - 0.05 <= depth <= bound_mm + 0.01
