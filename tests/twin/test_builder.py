"""The twin of known shapes: surfaces, volumes, physics meshes and proxies agree."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.segmentation import LabelMap, Region, StructureInfo
from surgiplan.twin.builder import build_structure, build_twin
from tests.dicom_factory import rotation

RADIUS_MM = 15.0


def _labelmap(affine: np.ndarray) -> LabelMap:
    """A 'liver' ball and a 'bone' box on an oblique grid, at known LPS positions."""
    shape = (40, 48, 48)
    labels = LabelMap.empty_like(shape, affine)
    centre_ijk = np.linalg.solve(affine[:3, :3], np.array([5.0, -3.0, 12.0]) - affine[:3, 3])
    k, j, i = np.indices(shape)
    points = np.stack([i, j, k], -1) @ affine[:3, :3].T + affine[:3, 3]
    ball = np.linalg.norm(points - [5.0, -3.0, 12.0], axis=-1) <= RADIUS_MM
    box = np.zeros(shape, dtype=bool)
    box[5:12, 5:15, 30:40] = True
    labels.add(Region.from_full_mask(ball), StructureInfo(0, "liver", tissue="liver"))
    labels.add(Region.from_full_mask(box), StructureInfo(0, "rib", tissue="bone"))
    assert np.all(centre_ijk > 0)
    return labels


@pytest.fixture(scope="module")
def oblique_twin():
    affine = np.eye(4)
    affine[:3, :3] = rotation((1, 1, 0), 30.0) @ np.diag([0.9, 0.9, 1.2])
    affine[:3, 3] = (-15.0, -25.0, -10.0)
    return build_twin(_labelmap(affine))


def test_every_structure_has_all_representations(oblique_twin):
    liver = oblique_twin.structure("liver")
    assert liver.report.watertight and liver.report.outward
    assert liver.physics is not None
    assert 2000 <= liver.physics.tet_mesh.n_nodes <= 5000
    assert liver.physics.quality.n_inverted == 0
    rib = oblique_twin.structure("rib")
    assert rib.physics is None  # bone is rigid: no physics mesh
    assert rib.collision.n_triangles > 0


def test_mesh_volume_and_position_match_the_shape(oblique_twin):
    liver = oblique_twin.structure("liver")
    analytic_ml = 4.0 / 3.0 * np.pi * RADIUS_MM**3 / 1000.0
    assert liver.properties.volume_ml == pytest.approx(liver.voxel_volume_ml, rel=0.02)
    assert liver.properties.volume_ml == pytest.approx(analytic_ml, rel=0.03)
    np.testing.assert_allclose(liver.properties.centroid_lps_mm, (5.0, -3.0, 12.0), atol=0.3)
    distance = liver.collision.distance_to_point(np.array([5.0, -3.0, 12.0 + 25.0]))
    assert distance.distance_mm == pytest.approx(25.0 - RADIUS_MM, abs=0.6)


def test_embedding_moves_the_surface_with_the_physics_mesh(oblique_twin):
    liver = oblique_twin.structure("liver")
    nodes = liver.physics.tet_mesh.nodes_lps_mm
    shift = np.array([1.0, -2.0, 3.0])
    moved = liver.physics.embedding.deform(np.tile(shift, (len(nodes), 1)))
    np.testing.assert_allclose(moved, liver.surface.vertices_lps_mm + shift, atol=1e-9)


def test_summaries_follow_the_cli_contract(oblique_twin):
    rows = {s.name: s.to_json() for s in oblique_twin.summaries()}
    assert set(rows) == {"liver", "rib"}
    assert set(rows["liver"]) == {"name", "voxels", "volume_ml", "surface_area_cm2",
                                  "triangles", "watertight", "tet_nodes", "tet_elements"}
    assert rows["rib"]["tet_nodes"] == 0 and rows["liver"]["tet_elements"] > 0
    assert oblique_twin.display["liver"].visible


def test_empty_structure_is_refused():
    labels = LabelMap.empty_like((4, 4, 4), np.eye(4))
    empty = Region.from_full_mask(np.zeros((4, 4, 4), dtype=bool))
    with pytest.raises(InputError, match="empty"):
        build_structure(empty, StructureInfo(1, "x"), labels)
