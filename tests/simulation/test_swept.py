"""Swept (tunnelling-proof) checks and analytic penetration of deforming surfaces."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import load_catalogue
from surgiplan.plan.placement import pose_along
from surgiplan.plan.primitives import capsule_sdf, instrument_sdf
from surgiplan.simulation.collision import CollisionWorld
from surgiplan.simulation.swept import surface_penetrations, swept_query
from tests.plan.twins import icosphere, mesh_structure, sphere_twin

NEEDLE_R = 0.635
VESSEL_R = 1.5  # a 3 mm vessel


@pytest.fixture(scope="module")
def needle():
    return load_catalogue().get("biopsy_needle_18g")


pose = pose_along  # tip frame -> LPS: shaft along ``direction``, tip at ``tip``


def vessel_world(kind: str) -> CollisionWorld:
    """A 3 mm vessel crossing x = 25 mm: a fine sphere, or a cylinder along y."""
    twin = sphere_twin({"organ": ((0, 0, -80), 20.0)})
    if kind == "sphere":
        mesh = icosphere((25.0, 0, 0), VESSEL_R, subdivisions=4)
    else:
        mesh = trimesh.creation.cylinder(radius=VESSEL_R, height=60.0, sections=64)
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
        mesh.apply_translation([25.0, 0, 0])
    twin.structures["vessel"] = mesh_structure("vessel", mesh, label=2, critical=True)
    return CollisionWorld(twin)


def first_touch_fraction(needle, start, end, centre, radius) -> float:
    """Exact first fraction where the moving needle touches a sphere (bisection on its SDF).

    Also exact for a cylinder along y through ``centre``: the needle is symmetric about y = 0.
    """
    def gap(f):
        placed = pose((0, 0, -1), start + f * (end - start))
        return instrument_sdf(needle, placed, np.asarray(centre, float)[None])[0] - radius
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (low, middle) if gap(middle) <= 0 else (middle, high)
    return high


@pytest.mark.parametrize("kind", ["sphere", "cylinder"])
def test_tunnelling_needle_50mm_step_through_3mm_vessel_registers(needle, kind):
    """Regression: a needle moving 50 mm sideways in one step through a 3 mm vessel."""
    world = vessel_world(kind)
    start, end = np.array([0.0, 0, 0]), np.array([50.0, 0, 0])
    pose_from, pose_to = pose((0, 0, -1), start), pose((0, 0, -1), end)
    assert world.query(needle, pose_from).contacts == []
    assert world.query(needle, pose_to).contacts == []
    swept = swept_query(world, needle, pose_from, pose_to)
    assert swept.hit and swept.first_structure == "vessel"
    assert list(swept.touched) == ["vessel"]
    assert swept.step_mm <= NEEDLE_R and swept.substeps >= 50 / NEEDLE_R
    # only the tip cone reaches the vessel (the shaft's capsule ends 2.07 mm above the tip);
    # the exact first touch is where the needle's SDF at the vessel's centre (axis) is 1.5 mm
    exact = first_touch_fraction(needle, start, end, (25.0, 0, 0), VESSEL_R)
    assert swept.first_fraction == pytest.approx(exact, abs=2e-4)  # 0.01 mm of 50
    assert swept.contacts and all(c.structure == "vessel" for c in swept.contacts)
    np.testing.assert_allclose(swept.first_pose[:3, 3], start + swept.first_fraction * 50.0 *
                               np.array([1.0, 0, 0]))


@pytest.mark.parametrize("kind", ["sphere", "cylinder"])
def test_tip_path_test_alone_catches_a_single_huge_step(needle, kind):
    world = vessel_world(kind)
    swept = swept_query(world, needle, pose((0, 0, -1), (0, 0, 0.0)),
                        pose((0, 0, -1), (50.0, 0, 0)), max_substeps=1)
    assert swept.substeps == 1 and swept.step_mm > NEEDLE_R  # substeps alone would miss
    assert swept.hit and swept.first_structure == "vessel"
    assert swept.first_fraction == pytest.approx((25.0 - VESSEL_R) / 50.0, abs=0.002)
    assert swept.contacts[0].structure == "vessel"
    assert swept.contacts[0].normal[0] == pytest.approx(-1.0, abs=0.05)  # facing the tip


def test_rotating_shaft_sweeps_through_a_vessel_the_tip_never_reaches(needle):
    """The tip stays put while the shaft swings 90 degrees through a vessel 60 mm up it."""
    twin = sphere_twin({"organ": ((0, 0, -80), 20.0)})
    at = 60.0 * np.array([np.sin(np.pi / 4), 0.0, np.cos(np.pi / 4)])
    twin.structures["vessel"] = mesh_structure(
        "vessel", icosphere(at, VESSEL_R, subdivisions=4), label=2, critical=True)
    world = CollisionWorld(twin)
    pose_from = pose((0, 0, -1), (0, 0, 0.0))  # shaft along +z from the tip
    pose_to = pose_from.copy()
    pose_to[:3, :3] = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0])[:3, :3] @ (
        pose_from[:3, :3])  # shaft along +x, swung in the x-z plane
    assert world.query(needle, pose_from).contacts == world.query(needle, pose_to).contacts == []
    swept = swept_query(world, needle, pose_from, pose_to)
    assert swept.hit and swept.first_structure == "vessel"
    offset = np.arcsin((VESSEL_R + NEEDLE_R) / 60.0)
    assert swept.first_fraction == pytest.approx((np.pi / 4 - offset) / (np.pi / 2), abs=1e-4)
    assert swept.step_mm <= NEEDLE_R


def test_miss_and_contact_at_start(needle):
    world = vessel_world("sphere")
    away = swept_query(world, needle, pose((0, 0, -1), (0, 0, 0.0)),
                       pose((0, 0, -1), (0, 50.0, 0)))
    assert not away.hit and away.first_structure is None and away.touched == {}
    start_in = swept_query(world, needle, pose((0, 0, -1), (25.0, 0, 0.5)),
                           pose((0, 0, -1), (25.0, 50.0, 0.5)))
    assert start_in.hit and start_in.first_fraction == 0.0
    only_organ = swept_query(world, needle, pose((0, 0, -1), (0, 0, 0.0)),
                             pose((0, 0, -1), (50.0, 0, 0)), structures=["organ"])
    assert not only_organ.hit
    with pytest.raises(InputError):
        swept_query(world, needle, np.eye(4), np.eye(4), max_substeps=0)


def deformed_sphere() -> trimesh.Trimesh:
    """A 30 mm sphere squashed to an ellipsoid with a 4 mm bump on top."""
    mesh = icosphere((0, 0, 0), 30.0, subdivisions=4)
    vertices = mesh.vertices * [1.0, 0.9, 0.7]
    vertices[:, 2] += 4.0 * np.exp(-(vertices[:, 0] ** 2 + vertices[:, 1] ** 2) / 200.0)
    return trimesh.Trimesh(vertices, mesh.faces, process=False)


def test_surface_penetrations_match_the_analytic_sdf_on_deformed_vertices():
    trocar = load_catalogue().get("trocar_12mm")
    mesh = deformed_sphere()
    placed = pose((0.2, 0.1, -1.0), (1.0, -2.0, 5.0))  # top at z = 25: cannula through it
    result = surface_penetrations(trocar, placed, mesh.vertices)
    sdf = instrument_sdf(trocar, placed, mesh.vertices)
    np.testing.assert_array_equal(result.vertex_indices, np.flatnonzero(sdf < 0))
    assert len(result.vertex_indices) > 20
    np.testing.assert_allclose(result.depth_mm, -sdf[result.vertex_indices], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(result.normals, axis=1), 1.0, atol=1e-6)
    # where the shaft capsule is the nearest part, the normal points radially off its axis
    shaft = trocar.primitives_in_lps(placed)[1]
    a, b = shaft.params["segment"]
    points = mesh.vertices[result.vertex_indices]
    on_shaft = np.isclose(capsule_sdf(points, a, b, 7.0), sdf[result.vertex_indices])
    axis = (b - a) / np.linalg.norm(b - a)
    foot = a + np.clip((points - a) @ axis, 0, np.linalg.norm(b - a))[:, None] * axis
    radial = (points - foot) / np.linalg.norm(points - foot, axis=1, keepdims=True)
    assert on_shaft.any()
    np.testing.assert_allclose(result.normals[on_shaft], radial[on_shaft], atol=1e-4)


def test_thin_needle_across_a_cube_edge_is_found_by_the_edge_check(needle):
    """No cube vertex is near the needle; the edge y = z = 50 passes 0.3 mm from its axis."""
    cube = trimesh.creation.box(extents=(100.0, 100.0, 100.0))
    outward = np.array([0.0, 1.0, 1.0]) / np.sqrt(2.0)
    along = np.array([0.0, 1.0, -1.0]) / np.sqrt(2.0)
    tip = np.array([0.0, 50.0, 50.0]) + 0.3 * outward + 20.0 * along
    result = surface_penetrations(needle, pose(along, tip), cube.vertices, faces=cube.faces)
    assert len(result.vertex_indices) == 0 and len(result.pierced_faces) == 0
    assert len(result.edges) == 1
    np.testing.assert_allclose(np.sort(cube.vertices[result.edges[0]][:, 1:], axis=0),
                               [[50.0, 50.0], [50.0, 50.0]])
    assert result.edge_depth_mm[0] == pytest.approx(NEEDLE_R - 0.3, abs=1e-9)
    np.testing.assert_allclose(result.edge_points_lps_mm[0], [0.0, 50.0, 50.0], atol=1e-9)
    np.testing.assert_allclose(result.edge_normals[0], -outward, atol=1e-4)


def test_needle_through_a_coarse_face_is_reported_as_piercing(needle):
    ball = trimesh.creation.icosphere(subdivisions=0, radius=50.0)
    face = 7
    centre = ball.triangles_center[face]
    inward = -ball.face_normals[face]
    result = surface_penetrations(needle, pose(inward, centre + 5.0 * inward), ball.vertices,
                                  faces=ball.faces)
    assert len(result.vertex_indices) == 0 and len(result.edges) == 0  # between vertices
    np.testing.assert_array_equal(result.pierced_faces, [face])
    np.testing.assert_allclose(result.pierce_points_lps_mm[0], centre, atol=1e-9)


def test_surface_penetrations_rejects_bad_meshes(needle):
    with pytest.raises(InputError, match="vertices"):
        surface_penetrations(needle, np.eye(4), np.zeros((4, 2)))
    with pytest.raises(InputError, match="faces"):
        surface_penetrations(needle, np.eye(4), np.zeros((4, 3)), faces=[[0, 1, 9]])
