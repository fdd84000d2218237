"""Incisions traced on surfaces of known geodesics: spheres and cylinders."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.plan.incision import (
    GeodesicSurface,
    geodesic_surface,
    incision_length_mm,
    polyline_length_mm,
    trace_incision,
)
from surgiplan.plan.model import Incision
from surgiplan.segmentation import Region
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.surface import SurfaceOptions, extract_surface

R_SPHERE = 50.0
R_CYL, H_CYL = 30.0, 120.0


def _surface(mesh: trimesh.Trimesh) -> SurfaceMesh:
    return SurfaceMesh(mesh.vertices, mesh.faces)


@pytest.fixture(scope="module")
def sphere() -> SurfaceMesh:
    """Radius 50 mm about the origin, edges about 1.9 mm (20 480 triangles)."""
    return _surface(trimesh.creation.icosphere(subdivisions=5, radius=R_SPHERE))


def _capped_cylinder(sections: int = 256, rings: int = 80) -> trimesh.Trimesh:
    """Cylinder r = 30 mm, 120 mm long about z, side cut in rings (0.74 x 1.5 mm quads)."""
    theta = 2 * np.pi * np.arange(sections) / sections
    z = np.linspace(-H_CYL / 2, H_CYL / 2, rings + 1)
    ring = np.stack([R_CYL * np.cos(theta), R_CYL * np.sin(theta)], axis=1)
    side = np.concatenate([np.column_stack([ring, np.full(sections, h)]) for h in z])
    vertices = np.vstack([side, [[0, 0, -H_CYL / 2], [0, 0, H_CYL / 2]]])
    k, j = np.meshgrid(np.arange(rings), np.arange(sections), indexing="ij")
    a, b = (k * sections + j).ravel(), (k * sections + (j + 1) % sections).ravel()
    c, d = a + sections, b + sections
    bottom, top = len(side), len(side) + 1
    around = np.arange(sections)
    following = (around + 1) % sections
    top_ring = rings * sections
    faces = np.vstack([np.column_stack([a, b, d]), np.column_stack([a, d, c]),
                       np.column_stack([np.full(sections, bottom), following, around]),
                       np.column_stack([np.full(sections, top), top_ring + around,
                                        top_ring + following])])
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    return mesh


@pytest.fixture(scope="module")
def cylinder() -> GeodesicSurface:
    """Capped cylinder r = 30 mm, 120 mm long about z, 256 sections x 80 rings (41 k faces)."""
    return GeodesicSurface(_surface(_capped_cylinder()), name="skin")


def _on_sphere(lat_deg: float, lon_deg: float) -> list[float]:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return [R_SPHERE * np.cos(lat) * np.cos(lon), R_SPHERE * np.cos(lat) * np.sin(lon),
            R_SPHERE * np.sin(lat)]


def _on_cylinder(theta_deg: float, z: float) -> list[float]:
    theta = np.radians(theta_deg)
    return [R_CYL * np.cos(theta), R_CYL * np.sin(theta), z]


def _close(measured: float, exact: float, rel: float = 0.01) -> None:
    assert measured == pytest.approx(exact, rel=rel), (measured, exact)


def test_quarter_great_circle_on_a_sphere(sphere):
    cut = Incision("cut", "skin", (_on_sphere(0, 0), _on_sphere(0, 90)))
    path = trace_incision(cut, sphere)
    _close(path.length_mm, R_SPHERE * np.pi / 2)
    assert path.length_mm == pytest.approx(R_SPHERE * np.pi / 2, rel=1e-3)  # measured: 0.01 %
    assert path.incision_id == "cut" and path.structure == "skin" and path.depth_mm == 5.0
    radii = np.linalg.norm(path.path_lps_mm, axis=1)
    assert radii.max() <= R_SPHERE + 1e-9 and radii.min() > R_SPHERE - 0.05  # on the surface
    assert np.allclose(path.path_lps_mm[[0, -1]], path.points_on_surface_lps_mm, atol=1e-3)
    assert path.snap_distances_mm.shape == (2,) and path.snap_distances_mm.max() < 0.05


def test_three_points_give_the_sum_of_the_arcs(sphere):
    points = (_on_sphere(0, 0), _on_sphere(0, 60), _on_sphere(45, 60))
    path = trace_incision(Incision("cut", "skin", points), sphere)
    exact = R_SPHERE * (np.radians(60) + np.radians(45))
    _close(path.length_mm, exact)
    assert list(path.point_indices)[0] == 0 and path.point_indices[-1] == len(path.path_lps_mm) - 1
    middle = path.path_lps_mm[path.point_indices[1]]
    assert np.linalg.norm(middle - path.points_on_surface_lps_mm[1]) < 1e-3


def test_random_arcs_on_a_sphere_are_within_one_percent(sphere):
    prepared = geodesic_surface(sphere)
    rng = np.random.default_rng(7)
    for _ in range(10):
        a, b = rng.normal(size=(2, 3))
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        exact = R_SPHERE * np.arccos(np.clip(a @ b, -1, 1))
        _close(prepared.path(a * R_SPHERE, b * R_SPHERE).length_mm, exact)


@pytest.mark.parametrize(("a", "b", "exact"), [
    ((10, 5), (70, 5), R_CYL * np.pi / 3),                              # around: 60 degrees
    ((30, -40), (30, 40), 80.0),                                        # along the axis
    ((0, -30), (90, 30), np.hypot(R_CYL * np.pi / 2, 60.0)),            # helix
    ((-20, -50), (100, 35), np.hypot(R_CYL * np.radians(120), 85.0)),   # helix
])
def test_geodesics_on_a_cylinder(cylinder, a, b, exact):
    cut = Incision("cut", "skin", (_on_cylinder(*a), _on_cylinder(*b)))
    _close(trace_incision(cut, cylinder).length_mm, exact)


def test_axial_cut_on_a_cylinder_is_exact(cylinder):
    cut = Incision("cut", "skin", (_on_cylinder(30, -40), _on_cylinder(30, 40)))
    assert incision_length_mm(cut, cylinder) == pytest.approx(80.0, abs=1e-3)


def test_long_thin_triangles_of_an_unsubdivided_cylinder_are_fine():
    raw = trimesh.creation.cylinder(radius=R_CYL, height=H_CYL, sections=256)
    cut = Incision("cut", "skin", (_on_cylinder(10, 5), _on_cylinder(70, 5)))
    _close(trace_incision(cut, _surface(raw)).length_mm, R_CYL * np.pi / 3, rel=1e-3)


def test_points_on_a_vertex_an_edge_and_inside_one_triangle(sphere):
    prepared = geodesic_surface(sphere)
    corners = prepared.vertices[prepared.faces[100]]
    vertex, edge_middle = corners[0], corners[1:].mean(axis=0)
    inside_a, inside_b = np.array([0.2, 0.3, 0.5]) @ corners, np.array([0.6, 0.3, 0.1]) @ corners
    for a, b in ((vertex, edge_middle), (inside_a, inside_b), (edge_middle, inside_a)):
        path = prepared.path(a, b)
        assert path.length_mm == pytest.approx(np.linalg.norm(a - b), rel=1e-9)  # same plane
    assert prepared.path(inside_a, inside_a).length_mm == 0.0


def test_a_point_off_the_surface_is_refused_with_its_distance(sphere):
    far = np.array(_on_sphere(0, 90)) * (R_SPHERE + 14.2) / R_SPHERE
    cut = Incision("x", "skin", (_on_sphere(0, 0), far))
    with pytest.raises(InputError, match=r"point 2 of incision 'x' is 14\.2 mm from the skin "
                                         r"surface: pick points on the surface"):
        trace_incision(cut, sphere)
    inside = Incision("x", "skin", (_on_sphere(0, 0), [0.0, 0.0, 0.0]))
    with pytest.raises(InputError, match=r"point 2 .* is 50\.0 mm"):
        trace_incision(inside, sphere)
    loose = trace_incision(cut, sphere, snap_tolerance_mm=20.0)  # a looser tolerance accepts it
    assert loose.snap_distances_mm[1] == pytest.approx(14.2, abs=0.05)


@pytest.fixture(scope="module")
def two_spheres() -> SurfaceMesh:
    """Two spheres of radius 50 mm, 4 mm apart (a skin with a separate piece)."""
    a = trimesh.creation.icosphere(subdivisions=4, radius=R_SPHERE)
    b = a.copy()
    b.apply_translation([2 * R_SPHERE + 4.0, 0, 0])
    return _surface(trimesh.util.concatenate([a, b]))


def test_the_path_stays_on_the_piece_holding_the_points(two_spheres):
    top = np.array([np.sqrt(R_SPHERE**2 - 30.0**2), 0.0, 30.0])  # near the gap, on sphere 1
    bottom = np.array([top[0], 0.0, -30.0])
    path = trace_incision(Incision("cut", "skin", (top, bottom)), two_spheres)
    _close(path.length_mm, R_SPHERE * 2 * np.arcsin(30.0 / R_SPHERE))
    assert np.linalg.norm(path.path_lps_mm, axis=1).max() < R_SPHERE + 1e-6  # never on sphere 2


def test_points_on_separate_pieces_are_refused(two_spheres):
    cut = Incision("x", "skin", ([0, 0, R_SPHERE], [2 * R_SPHERE + 4, 0, R_SPHERE]))
    with pytest.raises(InputError, match="separate pieces of the skin surface"):
        trace_incision(cut, two_spheres)


def test_the_prepared_surface_is_reused_while_the_mesh_lives(sphere):
    assert geodesic_surface(sphere) is geodesic_surface(sphere)
    copy = SurfaceMesh(sphere.vertices_lps_mm.copy(), sphere.faces.copy())
    assert geodesic_surface(copy) is not geodesic_surface(sphere)


def test_unmerged_vertices_are_welded():
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=R_SPHERE)
    soup = mesh.vertices[mesh.faces].reshape(-1, 3)  # every triangle with its own vertices
    surface = SurfaceMesh(soup, np.arange(len(soup)).reshape(-1, 3))
    cut = Incision("cut", "skin", (_on_sphere(0, 0), _on_sphere(0, 90)))
    _close(trace_incision(cut, surface).length_mm, R_SPHERE * np.pi / 2)


def test_polyline_length():
    assert polyline_length_mm(np.array([[0, 0, 0], [3, 4, 0], [3, 4, 12]])) == 17.0
    assert polyline_length_mm(np.zeros((1, 3))) == 0.0


def test_a_twin_surface_shell_has_two_pieces_and_paths_keep_to_theirs():
    """A hollow ball (r 40-50 mm) meshed by the twin pipeline: outer and inner surfaces."""
    n = 110
    k, j, i = np.mgrid[:n, :n, :n] - (n - 1) / 2
    radius = np.sqrt(i**2 + j**2 + k**2)
    affine = np.eye(4)
    affine[:3, 3] = -(n - 1) / 2
    surface = extract_surface(Region.from_full_mask((radius <= 50) & (radius >= 40)), affine,
                              SurfaceOptions(target_triangles=20_000))
    outer = trace_incision(Incision("c", "skin", ((50, 0, 0), (0, 50, 0))), surface)
    _close(outer.length_mm, 50 * np.pi / 2)  # measured +0.3 % (voxel staircase)
    assert np.linalg.norm(outer.path_lps_mm, axis=1).min() > 48
    inner = trace_incision(Incision("c", "skin", ((40, 0, 0), (0, 0, -40))), surface)
    _close(inner.length_mm, 40 * np.pi / 2)
    with pytest.raises(InputError, match="points 1 and 2 of incision 'c' lie on separate pieces"):
        trace_incision(Incision("c", "skin", ((50, 0, 0), (40, 0, 0))), surface)
