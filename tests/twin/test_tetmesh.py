"""Physics tet meshes from voxel regions: known volumes, orientation, connectivity, quality."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.segmentation.region import Region
from surgiplan.twin.tet_quality import tet_quality
from surgiplan.twin.tetmesh import (
    MIN_NODES,
    TetMesh,
    build_tet_mesh,
    largest_face_connected,
    signed_volumes,
)
from tests.dicom_factory import rotation

KUHN_RADIUS_RATIO = 3 * (0.5 / (1 + np.sqrt(2))) / (np.sqrt(3) / 2)  # 3 r_in / r_circ = 0.7174


def ball_region(shape: tuple[int, int, int], affine: np.ndarray, centre_lps: np.ndarray,
                radius_mm: float) -> Region:
    """Voxels whose centres (through ``affine``) lie within ``radius_mm`` of ``centre_lps``."""
    k, j, i = np.indices(shape)
    ijk = np.stack([i, j, k], axis=-1).reshape(-1, 3).astype(float)
    lps = ijk @ affine[:3, :3].T + affine[:3, 3]
    inside = np.linalg.norm(lps - centre_lps, axis=1) <= radius_mm
    return Region.from_full_mask(inside.reshape(shape))


def mesh_centroid(mesh: TetMesh) -> np.ndarray:
    volumes = mesh.volumes_mm3()
    centres = mesh.nodes_lps_mm[mesh.tets].mean(axis=1)
    return (volumes[:, None] * centres).sum(axis=0) / volumes.sum()


@pytest.fixture(scope="module")
def ball_mesh() -> tuple[TetMesh, np.ndarray]:
    affine = np.eye(4)
    affine[:3, 3] = (-100.0, 50.0, 20.0)
    centre = affine[:3, 3] + 20.0
    return build_tet_mesh(ball_region((40, 40, 40), affine, centre, 15.0), affine,
                          tissue="liver"), centre


def test_sphere_mesh_matches_the_region(ball_mesh):
    mesh, centre = ball_mesh
    assert 2000 <= mesh.n_nodes <= 5000
    assert mesh.tets.dtype == np.int64 and mesh.nodes_lps_mm.dtype == np.float64
    assert (mesh.volumes_mm3() > 0).all()
    analytic_mm3 = 4 / 3 * np.pi * 15.0**3
    assert mesh.volumes_mm3().sum() == pytest.approx(analytic_mm3, rel=0.10)
    assert mesh.source_volume_ml == pytest.approx(analytic_mm3 / 1000, rel=0.02)
    np.testing.assert_allclose(mesh_centroid(mesh), centre, atol=0.3)
    reach = 15.0 + np.sqrt(3) * mesh.cell_size_mm
    assert np.linalg.norm(mesh.nodes_lps_mm - centre, axis=1).max() <= reach
    assert len(np.unique(mesh.tets)) == mesh.n_nodes  # no unused nodes


def test_sphere_mesh_is_one_face_connected_part(ball_mesh):
    mesh, _ = ball_mesh
    np.testing.assert_array_equal(largest_face_connected(mesh.tets), np.arange(mesh.n_tets))


def test_sphere_mesh_quality_report(ball_mesh):
    mesh, _ = ball_mesh
    quality = tet_quality(mesh)
    assert (quality.n_nodes, quality.n_tets) == (mesh.n_nodes, mesh.n_tets)
    assert quality.n_inverted == 0 and quality.n_poor == 0
    assert quality.radius_ratio_mean > 0.5
    # every Kuhn tet of a cubic cell has the same shape
    assert quality.radius_ratio_min == pytest.approx(KUHN_RADIUS_RATIO, rel=1e-9)
    assert quality.radius_ratio_max == pytest.approx(KUHN_RADIUS_RATIO, rel=1e-9)
    assert quality.min_dihedral_deg == pytest.approx(45.0, abs=1e-6)
    assert quality.max_dihedral_deg == pytest.approx(90.0, abs=1e-6)
    assert quality.volume_ml == pytest.approx(mesh.volumes_mm3().sum() / 1000)
    assert abs(quality.volume_error) < 0.05


def test_quality_of_regular_and_kuhn_tets():
    regular = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    assert signed_volumes(regular, np.array([[0, 2, 1, 3]]))[0] == pytest.approx(8 / 3)
    quality = tet_quality(TetMesh(regular, [[0, 2, 1, 3]], "x"))
    assert quality.n_inverted == 0
    assert quality.radius_ratio_min == pytest.approx(1.0)
    assert quality.max_aspect_ratio == pytest.approx(1.0)
    assert quality.min_dihedral_deg == pytest.approx(np.degrees(np.arccos(1 / 3)))
    assert np.isnan(quality.volume_error)
    kuhn = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=float)
    quality = tet_quality(TetMesh(kuhn, [[0, 1, 2, 3]], "x"))
    assert quality.radius_ratio_mean == pytest.approx(KUHN_RADIUS_RATIO)
    assert quality.max_aspect_ratio == pytest.approx(np.sqrt(3) / (2 * np.sqrt(6) * 0.5
                                                                  / (1 + np.sqrt(2))))
    assert quality.volume_ml == pytest.approx(1 / 6000)


def test_quality_counts_inverted_and_poor_tets():
    nodes = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0.01]], dtype=float)
    mesh = TetMesh(nodes, [[0, 2, 1, 3], [0, 1, 2, 3], [0, 4, 1, 2]], "x")
    quality = tet_quality(mesh, poor_radius_ratio=0.2)
    assert quality.n_inverted == 1
    assert quality.n_poor == 1  # the flat sliver [0, 4, 1, 2]


def kuhn_cube(offset) -> np.ndarray:
    """The 6 Kuhn tets of a unit cube at ``offset``, as corner positions (6, 4, 3)."""
    o = np.asarray(offset, dtype=float)
    paths = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    eye = np.eye(3)
    return np.array([[o, o + eye[a], o + eye[a] + eye[b], o + 1] for a, b, _ in paths])


def test_largest_face_connected_ignores_vertex_and_edge_contacts():
    corners = np.concatenate([kuhn_cube((0, 0, 0)), kuhn_cube((1, 0, 0)), kuhn_cube((0, 1, 0)),
                              kuhn_cube((1, 1, 1)),  # touches the first cubes along edges
                              kuhn_cube((2, 1, 1)),
                              kuhn_cube((-1, -1, -1))])  # touches at a vertex only
    _, tets = np.unique(corners.reshape(-1, 3), axis=0, return_inverse=True)
    tets = tets.reshape(-1, 4)
    np.testing.assert_array_equal(largest_face_connected(tets), np.arange(18))
    assert len(largest_face_connected(np.zeros((0, 4), dtype=int))) == 0


@pytest.mark.parametrize("contact", ["vertex", "edge"])
def test_dumbbell_keeps_only_the_larger_part(contact):
    mask = np.zeros((30, 30, 30), dtype=bool)
    mask[2:16, 2:16, 2:16] = True  # 14^3 voxels
    if contact == "vertex":
        mask[16:24, 16:24, 16:24] = True  # 8^3 voxels touching one corner
    else:
        mask[16:24, 16:24, 2:10] = True  # touching along an edge
    mesh = build_tet_mesh(Region.from_full_mask(mask), np.eye(4), tissue="liver",
                          target_nodes=(1000, 3000))
    assert mesh.volumes_mm3().sum() == pytest.approx(14.0**3, rel=0.1)
    margin = mesh.cell_size_mm
    assert mesh.nodes_lps_mm.max() <= 15.5 + margin
    assert mesh.nodes_lps_mm.min() >= 1.5 - margin
    assert len(largest_face_connected(mesh.tets)) == mesh.n_tets


@pytest.mark.parametrize("mirror", [False, True])
def test_anisotropic_oblique_affine(mirror):
    spacing = np.array([0.8, 0.8, 2.5])  # columns i, j, k
    linear = rotation((1, 2, 3), 35.0) @ np.diag(spacing)
    if mirror:
        linear[:, 0] *= -1
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = (12.0, -40.0, 7.0)
    shape = (24, 64, 64)
    centre = affine[:3, :3] @ (np.array([64, 64, 24]) / 2) + affine[:3, 3]
    assert (np.linalg.det(linear) < 0) == mirror
    mesh = build_tet_mesh(ball_region(shape, affine, centre, 20.0), affine, tissue="kidney")
    assert 2000 <= mesh.n_nodes <= 5000
    assert (mesh.volumes_mm3() > 0).all()
    assert mesh.volumes_mm3().sum() == pytest.approx(4 / 3 * np.pi * 20.0**3, rel=0.10)
    np.testing.assert_allclose(mesh_centroid(mesh), centre, atol=1.0)
    reach = 20.0 + np.sqrt(3) * mesh.cell_size_mm
    assert np.linalg.norm(mesh.nodes_lps_mm - centre, axis=1).max() <= reach
    quality = tet_quality(mesh)  # cells are cubes in mm despite the 0.8 x 0.8 x 2.5 voxels
    assert quality.n_inverted == 0
    assert quality.radius_ratio_min == pytest.approx(KUHN_RADIUS_RATIO, rel=1e-6)


def test_node_count_follows_the_target_range():
    affine = np.eye(4)
    region = ball_region((40, 40, 40), affine, np.full(3, 20.0), 15.0)
    mesh = build_tet_mesh(region, affine, tissue="liver", target_nodes=(500, 1000))
    assert 500 <= mesh.n_nodes <= 1000


def test_every_tet_is_tagged_with_its_tissue(ball_mesh):
    mesh, _ = ball_mesh
    assert mesh.tissue == "liver" and mesh.tissue_names == ("liver",)
    assert mesh.tet_tissue.shape == (mesh.n_tets,)
    assert (mesh.tet_tissue == 0).all()
    assert set(mesh.tet_tissue_names) == {"liver"}
    merged = TetMesh(mesh.nodes_lps_mm, mesh.tets, "merged",
                     tet_tissue=np.arange(mesh.n_tets) % 2, tissue_names=("liver", "tumour"))
    assert list(merged.tet_tissue_names[:3]) == ["liver", "tumour", "liver"]
    with pytest.raises(ValueError):
        TetMesh(mesh.nodes_lps_mm, mesh.tets, "x", tet_tissue=np.full(mesh.n_tets, 3))


def test_small_structure_gets_a_finer_mesh_below_the_range():
    mask = np.zeros((12, 12, 12), dtype=bool)
    mask[3:8, 3:8, 3:8] = True  # 125 voxels: cannot reach 2000 nodes
    mesh = build_tet_mesh(Region.from_full_mask(mask), np.eye(4), tissue="tumour")
    assert MIN_NODES <= mesh.n_nodes < 2000
    assert mesh.volumes_mm3().sum() == pytest.approx(125.0, rel=0.1)


def test_too_small_structure_is_refused_with_a_way_out():
    mask = np.zeros((8, 8, 8), dtype=bool)
    mask[3, 3, 3:5] = True
    with pytest.raises(InputError, match=r"2 voxels.*rigid"):
        build_tet_mesh(Region.from_full_mask(mask), np.eye(4), tissue="nerve")


def test_bad_inputs_are_refused():
    empty = Region.from_full_mask(np.zeros((4, 4, 4), dtype=bool))
    with pytest.raises(InputError, match="no voxels"):
        build_tet_mesh(empty, np.eye(4), tissue="liver")
    cube = Region.from_full_mask(np.ones((4, 4, 4), dtype=bool))
    with pytest.raises(InputError, match="target_nodes"):
        build_tet_mesh(cube, np.eye(4), tissue="liver", target_nodes=(500, 100))
    with pytest.raises(InputError, match="singular"):
        build_tet_mesh(cube, np.diag([1.0, 1.0, 0.0, 1.0]), tissue="liver")
    with pytest.raises(InputError, match="no tets"):
        tet_quality(TetMesh(np.zeros((0, 3)), np.zeros((0, 4)), "liver"))


def test_large_region_is_meshed_from_voxel_blocks_at_the_right_place():
    """A region above LARGE_MASK_VOXELS is summed into blocks first; same mesh quality."""
    from surgiplan.twin.tetmesh import LARGE_MASK_VOXELS

    n, radius = 170, 80.0
    k, j, i = np.ogrid[:n, :n, :n]
    ball = (i - 85.2) ** 2 + (j - 84.7) ** 2 + (k - 85.0) ** 2 <= radius**2
    region = Region.from_full_mask(ball)
    assert region.mask.size > LARGE_MASK_VOXELS
    affine = np.diag([0.5, 0.5, 0.6, 1.0])
    mesh = build_tet_mesh(region, affine, tissue="skin")
    quality = tet_quality(mesh)
    assert 2000 <= mesh.n_nodes <= 5000 and quality.n_inverted == 0
    assert abs(quality.volume_error) < 0.05
    centroid = (mesh.nodes_lps_mm[mesh.tets].mean(axis=1) * mesh.volumes_mm3()[:, None]).sum(0)
    centroid /= mesh.volumes_mm3().sum()
    np.testing.assert_allclose(centroid, np.array([85.2, 84.7, 85.0]) * [0.5, 0.5, 0.6], atol=1.0)
