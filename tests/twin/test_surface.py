"""Surfaces of known shapes: volume, distance to the analytic surface, world position, closure."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.imaging.export import LPS_TO_RAS
from surgiplan.segmentation.region import Region
from surgiplan.twin.properties import mass_properties
from surgiplan.twin.quality import check_mesh
from surgiplan.twin.surface import SurfaceOptions, extract_surface
from tests.dicom_factory import rotation


def grid_affine(spacing, direction=None, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    direction = np.eye(3) if direction is None else np.asarray(direction)
    affine = np.eye(4)
    affine[:3, :3] = direction * np.asarray(spacing, dtype=float)[None, :]
    affine[:3, 3] = origin
    return affine


def voxel_centres_lps(shape_kji, affine) -> np.ndarray:
    """(k, j, i, 3) LPS positions of every voxel centre."""
    k, j, i = np.indices(shape_kji)
    ijk = np.stack([i, j, k], axis=-1).astype(float)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def ellipsoid_region(axes_mm, affine, shape_kji, centre_lps) -> Region:
    """Voxels whose centres lie inside the axis-aligned (LPS) ellipsoid."""
    q = (voxel_centres_lps(shape_kji, affine) - centre_lps) / np.asarray(axes_mm, dtype=float)
    return Region.from_full_mask(np.einsum("...i,...i->...", q, q) <= 1.0)


def ellipsoid_distance(points, centre, axes) -> np.ndarray:
    """Exact distance (n,) from points to an axis-aligned ellipsoid surface.

    The nearest surface point is ``x_i = a_i^2 p_i / (t + a_i^2)`` with ``t`` the root of
    ``sum (a_i p_i / (t + a_i^2))^2 = 1`` on ``t > -min a_i^2`` (monotonic): bisection.
    """
    p = np.asarray(points, float) - centre
    a2 = np.asarray(axes, float) ** 2
    low = np.full(len(p), -a2.min() + 1e-12)
    high = np.full(len(p), np.sqrt(a2.max()) * np.linalg.norm(p, axis=1) + 1.0)
    for _ in range(200):
        t = 0.5 * (low + high)
        f = np.sum(a2 * p**2 / (t[:, None] + a2) ** 2, axis=1) - 1.0
        low, high = np.where(f > 0, t, low), np.where(f > 0, high, t)
    t = 0.5 * (low + high)
    nearest = a2 * p / (t[:, None] + a2)
    return np.linalg.norm(p - nearest, axis=1)


def box_for(axes_mm, spacing) -> tuple[tuple[int, int, int], np.ndarray]:
    """Grid shape (k, j, i) holding the ellipsoid with a margin, and an off-grid centre."""
    n_ijk = (np.ceil((np.asarray(axes_mm) + 4) / np.asarray(spacing)) * 2 + 1).astype(int)
    centre = (n_ijk - 1) / 2 * np.asarray(spacing) + np.array([0.3, 0.1, 0.2])
    return tuple(int(v) for v in n_ijk[::-1]), centre


@pytest.mark.parametrize(("axes", "spacing", "max_distance_mm"), [
    ((12.0, 12.0, 12.0), (1.0, 1.0, 1.0), 0.5),   # half a voxel
    ((20.0, 14.0, 10.0), (1.0, 1.0, 1.0), 0.5),
    ((12.0, 12.0, 12.0), (0.8, 0.8, 2.0), 1.0),   # half the slice spacing
    # The 2 mm slices digitise the 10 mm pole of this ellipsoid 0.8 mm beyond it (the mask's
    # own error); the bound is 0.6 of the slice spacing.
    ((20.0, 14.0, 10.0), (0.8, 0.8, 2.0), 1.2),
])
def test_known_shapes_give_analytic_volume_and_surface(axes, spacing, max_distance_mm):
    shape, centre = box_for(axes, spacing)
    affine = grid_affine(spacing)
    region = ellipsoid_region(axes, affine, shape, centre)
    mesh = extract_surface(region, affine)
    analytic_ml = 4.0 / 3.0 * np.pi * np.prod(axes) / 1000.0
    assert mass_properties(mesh).volume_ml == pytest.approx(analytic_ml, rel=0.01)
    distance = ellipsoid_distance(mesh.vertices_lps_mm, centre, axes)
    assert distance.max() <= max_distance_mm
    report = check_mesh(mesh)
    assert report.ok and report.components == 1


def test_oblique_grid_mesh_lands_at_the_world_position():
    direction = rotation((1.0, 2.0, 3.0), 30.0)
    affine = grid_affine((0.9, 0.9, 1.5), direction, origin=(-120.0, 40.0, -300.0))
    centre = affine[:3, :3] @ np.array([22.3, 21.6, 14.2]) + affine[:3, 3]
    region = ellipsoid_region((10.0, 10.0, 10.0), affine, (30, 44, 44), centre)
    mesh = extract_surface(region, affine)
    properties = mass_properties(mesh)
    np.testing.assert_allclose(properties.centroid_lps_mm, centre, atol=0.1)
    assert properties.volume_ml == pytest.approx(4 / 3 * np.pi, rel=0.01)
    assert check_mesh(mesh).outward
    assert ellipsoid_distance(mesh.vertices_lps_mm, centre, (10, 10, 10)).max() <= 0.75


def test_flipped_axis_keeps_normals_outward():
    affine = grid_affine((-0.8, 0.8, 2.0), origin=(50.0, -20.0, 10.0))  # det < 0
    shape = (16, 36, 36)
    centre = affine[:3, :3] @ np.array([17.5, 17.2, 7.6]) + affine[:3, 3]
    region = ellipsoid_region((10.0, 10.0, 10.0), affine, shape, centre)
    mesh = extract_surface(region, affine)
    report = check_mesh(mesh)
    assert report.outward and report.watertight and report.winding_consistent
    np.testing.assert_allclose(mass_properties(mesh).centroid_lps_mm, centre, atol=0.1)


def three_spheres() -> np.ndarray:
    k, j, i = np.indices((50, 60, 70))
    return (((i - 25) ** 2 + (j - 30) ** 2 + (k - 25) ** 2 <= 144)
            | ((i - 40) ** 2 + (j - 30) ** 2 + (k - 25) ** 2 <= 100)
            | ((i - 33) ** 2 + (j - 42) ** 2 + (k - 22) ** 2 <= 64))


@pytest.mark.parametrize("options", [
    SurfaceOptions(),
    SurfaceOptions(keep_volume=False),  # the smoothing alone keeps it too
    SurfaceOptions(method="surface_nets"),
])
def test_solid_structure_volume_matches_voxel_count(options):
    mask = three_spheres()
    affine = grid_affine((0.7, 0.7, 1.5))
    mesh = extract_surface(Region.from_full_mask(mask), affine, options)
    voxel_ml = np.count_nonzero(mask) * 0.7 * 0.7 * 1.5 / 1000
    assert mass_properties(mesh).volume_ml == pytest.approx(voxel_ml, rel=0.02)


def test_structure_cut_by_the_grid_edge_is_closed_at_the_cut():
    k, j, i = np.indices((12, 30, 30))
    mask = (i - 15) ** 2 + (j - 15) ** 2 + (k + 2) ** 2 <= 100  # cut by slice 0
    mesh = extract_surface(Region.from_full_mask(mask), np.eye(4))
    report = check_mesh(mesh)
    assert report.watertight and report.outward
    assert mass_properties(mesh).volume_ml * 1000 == pytest.approx(mask.sum(), rel=0.02)
    points = mesh.vertices_lps_mm
    middle = np.abs(points[:, 0] - 15) + np.abs(points[:, 1] - 15) < 3
    assert points[middle, 2].min() == pytest.approx(-0.5, abs=0.05)  # the cap: voxel boundary
    assert points[:, 2].min() >= -0.8  # windowed-sinc ringing at the rim stays under 0.3 voxel


def test_thin_tube_does_not_collapse():
    k, j = np.indices((9, 9))
    mask = np.zeros((9, 9, 40), dtype=bool)
    mask[(k - 4) ** 2 + (j - 4) ** 2 <= 1.5**2, 5:35] = True  # 3 voxels across
    mesh = extract_surface(Region.from_full_mask(mask), np.eye(4))
    assert mass_properties(mesh).volume_ml * 1000 == pytest.approx(mask.sum(), rel=0.02)
    across = np.ptp(mesh.vertices_lps_mm[:, 1])
    assert 3.0 <= across <= 4.0


def test_single_voxel_keeps_its_unsmoothed_surface():
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[1, 1, 1] = True
    mesh = extract_surface(Region.from_full_mask(mask), np.eye(4))
    assert check_mesh(mesh).watertight
    np.testing.assert_allclose(np.ptp(mesh.vertices_lps_mm, axis=0), 1.0, atol=1e-6)


def test_decimation_meets_the_budget_and_keeps_shape():
    shape, centre = box_for((20.0, 20.0, 20.0), (1.0, 1.0, 1.0))
    region = ellipsoid_region((20.0, 20.0, 20.0), np.eye(4), shape, centre)
    full = extract_surface(region, np.eye(4), SurfaceOptions(target_triangles=None))
    mesh = extract_surface(region, np.eye(4), SurfaceOptions(target_triangles=3000))
    assert full.n_triangles > 10_000 and mesh.n_triangles <= 3000
    assert check_mesh(mesh).ok
    assert mass_properties(mesh).volume_ml == pytest.approx(4 / 3 * np.pi * 8, rel=0.01)
    assert ellipsoid_distance(mesh.vertices_lps_mm, centre, (20, 20, 20)).max() <= 0.5


def test_empty_region_and_bad_options_are_refused():
    empty = Region.from_full_mask(np.zeros((4, 4, 4), dtype=bool))
    with pytest.raises(InputError, match="empty"):
        extract_surface(empty, np.eye(4))
    with pytest.raises(InputError, match="surface method"):
        SurfaceOptions(method="marching")
    with pytest.raises(InputError, match="pass_band"):
        SurfaceOptions(pass_band=0.0)
    full = Region.from_full_mask(np.ones((2, 2, 2), dtype=bool))
    with pytest.raises(InputError, match="singular"):
        extract_surface(full, np.zeros((4, 4)))


@pytest.mark.parametrize(("label", "name"), [(5, "liver"), (1, "spleen")])
def test_real_organ_volume_matches_voxel_count(shared_data, label, name):
    image = nib.load(shared_data("abdomen_ct_totalseg") / "labels_on_dicom_grid.nii.gz")
    labels_kji = np.asarray(image.dataobj).transpose(2, 1, 0)
    affine_lps = LPS_TO_RAS @ image.affine
    region = Region.from_full_mask(labels_kji == label)
    voxel_ml = region.voxel_count * abs(np.linalg.det(affine_lps[:3, :3])) / 1000
    for options in (SurfaceOptions(), SurfaceOptions(keep_volume=False)):
        mesh = extract_surface(region, affine_lps, options)
        assert mass_properties(mesh).volume_ml == pytest.approx(voxel_ml, rel=0.02), name
        report = check_mesh(mesh)
        assert report.watertight and report.outward, (name, report.problems())


def test_far_over_budget_contours_voxel_blocks_and_keeps_geometry(monkeypatch):
    """A large structure is contoured on 2x2x2 blocks, then decimated: same volume and place."""
    from surgiplan.twin import surface
    from surgiplan.twin.surface import COARSEN_ABOVE_BUDGET

    monkeypatch.setattr(surface, "COARSEN_MIN_TRIANGLES", 0)  # a small ball stands for a body

    n, radius = 120, 50.0
    k, j, i = np.ogrid[:n, :n, :n]
    ball = (i - 60.3) ** 2 + (j - 59.6) ** 2 + (k - 60.1) ** 2 <= radius**2
    region = Region.from_full_mask(ball)
    affine = np.diag([0.7, 0.7, 0.7, 1.0])
    budget = 4_000
    full = extract_surface(region, affine, SurfaceOptions(target_triangles=None))
    assert full.n_triangles > COARSEN_ABOVE_BUDGET * budget  # the coarse path is taken
    mesh = extract_surface(region, affine, SurfaceOptions(target_triangles=budget))
    assert mesh.n_triangles <= budget
    volume_mm3 = region.voxel_count * 0.7**3
    assert mass_properties(mesh).volume_ml * 1000 == pytest.approx(volume_mm3, rel=0.01)
    centre = np.array([60.3, 59.6, 60.1]) * 0.7
    distance = np.linalg.norm(mesh.vertices_lps_mm - centre, axis=1)
    assert np.abs(distance - radius * 0.7).max() < 2 * 0.7  # within two voxels after coarsening


def test_flying_edges_contours_are_manifold_so_smoothing_skips_that_check():
    """Random masks (every ambiguous voxel configuration): the contour has no fin or pinched
    vertex, and smoothing without the non-manifold pass moves every point the same."""
    from vtk.util import numpy_support

    from surgiplan.twin import surface
    from surgiplan.twin.mesh import SurfaceMesh

    rng = np.random.default_rng(0)
    for threshold in (0.5, 0.75):
        region = Region.from_full_mask(rng.random((20, 22, 24)) > threshold)
        raw = surface._contour(surface._padded_image(region, np.ones(3, dtype=np.int64)),
                               "flying_edges")
        report = check_mesh(SurfaceMesh(*surface._arrays(raw)))
        assert report.nonmanifold_edges == 0 and report.nonmanifold_vertices == 0
        points = [numpy_support.vtk_to_numpy(
            surface._smooth(raw, 30, 0.02, non_manifold=flag).GetPoints().GetData())
            for flag in (True, False)]
        np.testing.assert_allclose(points[0], points[1], atol=1e-4)


def test_decimated_mesh_keeps_the_voxel_volume_exactly():
    """The volume is restored after the decimation: the final mesh holds the voxel volume."""
    shape, centre = box_for((18.0, 12.0, 9.0), (0.8, 0.8, 1.2))
    affine = grid_affine((0.8, 0.8, 1.2))
    region = ellipsoid_region((18.0, 12.0, 9.0), affine, shape, centre)
    mesh = extract_surface(region, affine, SurfaceOptions(target_triangles=2000))
    assert mesh.n_triangles <= 2000
    voxel_ml = region.voxel_count * 0.8 * 0.8 * 1.2 / 1000
    assert mass_properties(mesh).volume_ml == pytest.approx(voxel_ml, rel=1e-4)
    assert check_mesh(mesh).outward
