"""Large contours decimated in two halves (one in a helper process): closed, same mesh."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from surgiplan.segmentation.region import Region
from surgiplan.twin import decimation, surface
from surgiplan.twin.quality import check_mesh
from surgiplan.twin.surface import SurfaceOptions, extract_surface

RADII = (20.0, 16.0)  # voxels: two separate balls, like two lungs
BUDGET = 4_000


def two_balls() -> Region:
    k, j, i = np.indices((50, 50, 90))
    mask = (k - 25) ** 2 + (j - 25) ** 2 + (i - 24) ** 2 <= RADII[0] ** 2
    mask |= (k - 25) ** 2 + (j - 25) ** 2 + (i - 68) ** 2 <= RADII[1] ** 2
    return Region.from_full_mask(mask)


@pytest.fixture
def small_split(monkeypatch):
    """Cut contours from 10k triangles on (the real threshold is 500k)."""
    monkeypatch.setattr(decimation, "SPLIT_MIN_TRIANGLES", 10_000)
    if not decimation.KEEPS_RIMS:
        pytest.skip("fast-simplification older than 0.2 cannot keep the cut rims")


def centre_distance_error(mesh) -> float:
    """Largest |distance to the nearer ball's centre - its radius| over the vertices (mm)."""
    v = mesh.vertices_lps_mm
    errors = [np.abs(np.linalg.norm(v - (c, 25.0, 25.0), axis=1) - r)
              for c, r in ((24.0, RADII[0]), (68.0, RADII[1]))]
    return float(np.minimum(*errors).max())


def test_halves_are_joined_into_a_closed_mesh_with_the_voxel_volume(small_split):
    region = two_balls()
    mesh = extract_surface(region, np.eye(4), SurfaceOptions(target_triangles=BUDGET))
    report = check_mesh(mesh)
    assert report.boundary_edges == 0  # the rims kept by both halves were joined
    assert report.components == 2
    assert mesh.n_triangles <= BUDGET
    a, b, c = (mesh.vertices_lps_mm[mesh.faces[:, n]] for n in range(3))
    volume = np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0
    assert volume == pytest.approx(region.voxel_count, rel=1e-4)
    assert centre_distance_error(mesh) < 0.6


def test_the_helper_process_gives_the_same_mesh_as_this_process(small_split, monkeypatch):
    received = []
    receive = decimation.DecimationHelper.receive

    def counted(self):
        received.append(1)
        return receive(self)

    monkeypatch.setattr(decimation.DecimationHelper, "receive", counted)
    monkeypatch.setattr(surface, "use_helper", lambda enabled: enabled)
    region = two_balls()
    helped = extract_surface(region, np.eye(4), SurfaceOptions(target_triangles=BUDGET))
    assert received == [1]
    alone = extract_surface(region, np.eye(4),
                            SurfaceOptions(target_triangles=BUDGET, helper_process=False))
    assert received == [1]
    np.testing.assert_array_equal(helped.vertices_lps_mm, alone.vertices_lps_mm)
    np.testing.assert_array_equal(helped.faces, alone.faces)


def test_a_helper_that_cannot_start_falls_back_to_this_process(small_split, monkeypatch):
    region = two_balls()
    alone = extract_surface(region, np.eye(4),
                            SurfaceOptions(target_triangles=BUDGET, helper_process=False))
    monkeypatch.setattr(surface, "use_helper", lambda enabled: True)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    fallback = extract_surface(region, np.eye(4), SurfaceOptions(target_triangles=BUDGET))
    np.testing.assert_array_equal(fallback.faces, alone.faces)


def test_small_contours_are_not_cut(monkeypatch):
    calls = []
    monkeypatch.setattr(surface, "halves", lambda *args: calls.append(1))
    mesh = extract_surface(two_balls(), np.eye(4), SurfaceOptions(target_triangles=BUDGET))
    assert not calls  # 30k triangles is far below the 500k threshold
    assert check_mesh(mesh).boundary_edges == 0
