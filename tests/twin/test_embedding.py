"""Barycentric embedding of a render surface: exact under rigid and affine node motions."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.segmentation.region import Region
from surgiplan.twin.embedding import SurfaceEmbedding, embed_surface
from surgiplan.twin.tetmesh import TetMesh, build_tet_mesh
from tests.dicom_factory import rotation

CENTRE = np.array([-80.0, 35.0, 110.0])


@pytest.fixture(scope="module")
def mesh() -> TetMesh:
    affine = np.eye(4)
    affine[:3, 3] = CENTRE - 20.0
    k, j, i = np.indices((40, 40, 40))
    ball = (i - 20) ** 2 + (j - 20) ** 2 + (k - 20) ** 2 <= 15**2
    return build_tet_mesh(Region.from_full_mask(ball), affine, tissue="liver",
                          target_nodes=(400, 1200))


@pytest.fixture(scope="module")
def surface_points() -> np.ndarray:
    """A smooth sphere (partly outside the voxel tet mesh) plus inner points."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=15.0).vertices
    inner = np.random.default_rng(3).uniform(-6, 6, size=(200, 3))
    return np.concatenate([sphere, inner]) + CENTRE


@pytest.fixture(scope="module")
def embedding(mesh, surface_points) -> SurfaceEmbedding:
    return embed_surface(mesh, surface_points)


def test_coordinates_reproduce_the_vertices(mesh, surface_points, embedding):
    assert embedding.tet_index.shape == (len(surface_points),)
    assert embedding.tet_index.dtype == np.int64
    assert embedding.barycentric.shape == (len(surface_points), 4)
    np.testing.assert_allclose(embedding.barycentric.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(embedding.node_index, mesh.tets[embedding.tet_index])
    rebuilt = embedding.interpolate(mesh.nodes_lps_mm)
    np.testing.assert_allclose(rebuilt, surface_points, atol=1e-9)


def test_inside_vertices_lie_in_their_tet(embedding):
    assert embedding.outside.any(), "the smooth sphere pokes out of the voxel mesh"
    inside = ~embedding.outside
    assert inside[-200:].all()  # the inner points are inside
    assert (embedding.barycentric[inside] >= -1e-9).all()
    assert (embedding.barycentric[inside] <= 1 + 1e-9).all()
    assert (embedding.barycentric[embedding.outside].min(axis=1) < 0).all()


def test_outside_vertices_use_a_nearby_tet(mesh, surface_points, embedding):
    centres = mesh.nodes_lps_mm[mesh.tets[embedding.tet_index]].mean(axis=1)
    gap = np.linalg.norm(centres - surface_points, axis=1)
    assert gap[embedding.outside].max() < 2.5 * mesh.cell_size_mm


def test_zero_displacement_gives_the_vertices_exactly(mesh, surface_points, embedding):
    moved = embedding.deform(np.zeros_like(mesh.nodes_lps_mm))
    np.testing.assert_array_equal(moved, surface_points)


@pytest.mark.parametrize("angle", [30.0, 90.0, 180.0])
def test_rigid_motion_moves_vertices_exactly(mesh, surface_points, embedding, angle):
    rot = rotation((0.3, -1.0, 0.5), angle)
    shift = np.array([12.0, -7.5, 30.0])
    nodes = mesh.nodes_lps_mm
    moved = embedding.deform(nodes @ rot.T + shift - nodes)
    np.testing.assert_allclose(moved, surface_points @ rot.T + shift, atol=1e-9)


def test_affine_field_is_reproduced_exactly(mesh, surface_points, embedding):
    linear = np.array([[0.10, 0.02, -0.05], [0.03, -0.08, 0.01], [0.00, 0.04, 0.12]])
    offset = np.array([1.5, -2.0, 0.7])
    displacement = mesh.nodes_lps_mm @ linear.T + offset
    expected = surface_points + surface_points @ linear.T + offset
    np.testing.assert_allclose(embedding.deform(displacement), expected, atol=1e-9)
    np.testing.assert_allclose(embedding.deform(displacement)[embedding.outside],
                               expected[embedding.outside], atol=1e-9)


def test_scalar_fields_interpolate_linearly(mesh, surface_points, embedding):
    field = mesh.nodes_lps_mm @ np.array([0.5, -1.0, 2.0]) + 3.0
    np.testing.assert_allclose(embedding.interpolate(field),
                               surface_points @ np.array([0.5, -1.0, 2.0]) + 3.0, atol=1e-9)


def test_far_points_still_follow_affine_motion(mesh):
    far = CENTRE + np.array([[60.0, 0.0, 0.0], [0.0, -45.0, 30.0]])
    embedding = embed_surface(mesh, far)
    assert embedding.outside.all()
    shift = np.array([3.0, 4.0, 5.0])
    moved = embedding.deform(np.broadcast_to(shift, mesh.nodes_lps_mm.shape))
    np.testing.assert_allclose(moved, far + shift, atol=1e-9)


def test_bad_inputs_are_refused(mesh, embedding):
    with pytest.raises(InputError, match=r"\(nv, 3\)"):
        embed_surface(mesh, np.zeros((5, 2)))
    with pytest.raises(InputError, match="no tets"):
        embed_surface(TetMesh(np.zeros((0, 3)), np.zeros((0, 4)), "liver"), np.zeros((1, 3)))
    with pytest.raises(InputError, match="one row per node"):
        embedding.deform(np.zeros((3, 3)))
    with pytest.raises(InputError, match=r"\(n, 3\)"):
        embedding.deform(np.zeros(mesh.n_nodes))
