"""Collision proxies: distances against an analytic sphere, BVH reuse, decimation budget."""

from __future__ import annotations

import fcl
import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.twin.collision import CollisionProxy, ProxyDistance
from surgiplan.twin.mesh import SurfaceMesh
from tests.dicom_factory import rotation

CENTRE = np.array([30.0, -20.0, 50.0])
RADIUS = 10.0
FACETING_MM = 0.05  # sagitta of an icosphere of 5120 triangles and radius 10 is about 0.02 mm
EDGE_MM = 0.7  # its edge length: bounds how far the nearest facet point is from the radial one


def sphere_mesh(subdivisions: int) -> SurfaceMesh:
    ball = trimesh.creation.icosphere(subdivisions=subdivisions, radius=RADIUS)
    return SurfaceMesh(ball.vertices + CENTRE, ball.faces)


@pytest.fixture(scope="module")
def proxy() -> CollisionProxy:
    return CollisionProxy.from_mesh(sphere_mesh(4))


@pytest.mark.parametrize("direction", [(1, 0, 0), (0, -1, 0), (1, 2, -2), (-3, 1, 0.5)])
def test_distance_to_a_point_outside_the_sphere(proxy, direction):
    unit = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    point = CENTRE + 25.0 * unit
    result = proxy.distance_to_point(point)
    assert isinstance(result, ProxyDistance)
    # the polyhedron is inscribed in the sphere: never closer than 15 mm, and not much farther
    assert 15.0 - 1e-9 <= result.distance_mm <= 15.0 + FACETING_MM
    closest = result.closest_point_lps_mm
    assert RADIUS - FACETING_MM <= np.linalg.norm(closest - CENTRE) <= RADIUS + 1e-9
    assert np.linalg.norm(closest - (CENTRE + RADIUS * unit)) < EDGE_MM
    assert np.linalg.norm(point - result.closest_point_lps_mm) == pytest.approx(
        result.distance_mm)


def test_distance_is_unsigned_inside_and_zero_on_the_surface(proxy):
    inside = proxy.distance_to_point(CENTRE)
    assert RADIUS - FACETING_MM <= inside.distance_mm <= RADIUS
    vertex = proxy.vertices_lps_mm[7]
    on_surface = proxy.distance_to_point(vertex)
    assert on_surface.distance_mm == 0.0
    np.testing.assert_array_equal(on_surface.closest_point_lps_mm, vertex)


def test_the_bvh_is_built_once_and_reused(proxy):
    bvh = proxy.bvh
    bvh_id = id(bvh)
    for x in (20.0, 25.0, 40.0):
        proxy.distance_to_point(CENTRE + (x, 0.0, 0.0))
        proxy.collision_object()
    assert proxy.bvh is bvh and id(proxy.bvh) == bvh_id


def test_collision_objects_share_the_bvh_and_take_a_rigid_transform(proxy):
    transform = np.eye(4)
    transform[:3, :3] = rotation((0, 0, 1), 90.0)
    transform[:3, 3] = (5.0, 0.0, 0.0)
    moved_centre = transform[:3, :3] @ CENTRE + transform[:3, 3]
    probe = fcl.CollisionObject(fcl.Sphere(1.0), fcl.Transform(moved_centre + (0, 0, 30.0)))
    gap = fcl.distance(proxy.collision_object(transform), probe, fcl.DistanceRequest(),
                       fcl.DistanceResult())
    assert 30.0 - RADIUS - 1.0 - 1e-9 <= gap <= 19.0 + FACETING_MM
    needle = fcl.CollisionObject(fcl.Capsule(0.5, 40.0), fcl.Transform(moved_centre))
    hit = fcl.CollisionResult()
    assert fcl.collide(proxy.collision_object(transform), needle, fcl.CollisionRequest(), hit)
    missed = fcl.CollisionObject(fcl.Capsule(0.5, 40.0), fcl.Transform(moved_centre + 15.0))
    assert not fcl.collide(proxy.collision_object(transform), missed, fcl.CollisionRequest(),
                           fcl.CollisionResult())


def test_large_surfaces_are_decimated_to_the_budget():
    mesh = sphere_mesh(6)  # 81,920 triangles
    proxy = CollisionProxy.from_mesh(mesh, max_triangles=5000)
    assert proxy.source_triangles == 81920
    assert 4000 <= proxy.n_triangles <= 5000
    assert proxy.faces.dtype == np.int64 and proxy.vertices_lps_mm.dtype == np.float64
    result = proxy.distance_to_point(CENTRE + (0.0, 0.0, 25.0))
    assert result.distance_mm == pytest.approx(15.0, abs=0.2)


def test_no_budget_keeps_the_surface():
    mesh = sphere_mesh(3)
    proxy = CollisionProxy.from_mesh(mesh, max_triangles=None)
    assert proxy.n_triangles == mesh.n_triangles == proxy.source_triangles
    np.testing.assert_array_equal(proxy.vertices_lps_mm, mesh.vertices_lps_mm)


def test_update_vertices_rebuilds_a_proxy_at_the_new_positions(proxy):
    shift = np.array([0.0, 0.0, 10.0])
    moved = proxy.update_vertices(proxy.vertices_lps_mm + shift)
    np.testing.assert_array_equal(moved.faces, proxy.faces)
    assert moved.bvh is not proxy.bvh
    point = CENTRE + (0.0, 0.0, 25.0)
    assert moved.distance_to_point(point).distance_mm == pytest.approx(5.0, abs=FACETING_MM)
    assert proxy.distance_to_point(point).distance_mm == pytest.approx(15.0, abs=FACETING_MM)
    with pytest.raises(InputError, match="one LPS mm position per proxy vertex"):
        proxy.update_vertices(proxy.vertices_lps_mm[:10])


def test_bad_inputs_are_refused(proxy):
    with pytest.raises(InputError, match="no triangles"):
        CollisionProxy.from_mesh(SurfaceMesh(np.zeros((0, 3)), np.zeros((0, 3))))
    with pytest.raises(InputError, match="max_triangles"):
        CollisionProxy.from_mesh(sphere_mesh(1), max_triangles=2)
    with pytest.raises(InputError, match="rigid"):
        proxy.collision_object(np.diag([2.0, 2.0, 2.0, 1.0]))
    with pytest.raises(InputError, match="3 finite"):
        proxy.distance_to_point([1.0, np.nan, 0.0])
