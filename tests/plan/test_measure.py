"""Measurements against analytic geometry: points, spheres and angles."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from surgiplan.errors import InputError
from surgiplan.plan.measure import (
    FULL_BVH,
    angle_deg,
    distance_point_point,
    distance_point_structure,
    distance_structure_structure,
    measure,
)
from surgiplan.plan.model import Measurement
from surgiplan.twin.mesh import SurfaceMesh
from tests.plan.twins import icosphere, sphere_twin

FACET_MM = 0.05
"""Largest gap between a subdivision-5 icosphere (r <= 30 mm) and its sphere."""


@pytest.fixture(scope="module")
def organs():
    return sphere_twin({
        "tumour": ((0, 0, 0), 10.0),
        "portal_vein": ((40, 0, 0), 5.0, True),
        "liver": ((0, 0, 0), 30.0),
        "cyst": ((0, 14, 0), 6.0),
    })


def test_point_to_point_is_euclidean():
    result = distance_point_point((1, 2, 3), (4, 6, 3))
    assert (result.value, result.unit) == (pytest.approx(5.0), "mm")
    np.testing.assert_allclose(result.points_lps_mm, [(1, 2, 3), (4, 6, 3)])


def test_point_to_structure_gives_distance_and_closest_point(organs):
    direction = np.array([2.0, -1.0, 2.0]) / 3.0
    point = 25.0 * direction + [40, 0, 0]  # 25 mm from the portal vein's centre
    result = distance_point_structure(organs, point, "portal_vein")
    assert result.value == pytest.approx(20.0, abs=FACET_MM)
    np.testing.assert_allclose(result.points_lps_mm[1], 5.0 * direction + [40, 0, 0],
                               atol=FACET_MM)
    assert result.note == ""


def test_point_inside_a_structure_gets_its_distance_to_the_surface(organs):
    result = distance_point_structure(organs, (0, 0, 4.0), "tumour")
    assert result.value == pytest.approx(6.0, abs=FACET_MM)
    assert "inside tumour" in result.note


def test_point_on_the_surface_is_at_zero(organs):
    vertex = organs.structure("tumour").surface.vertices_lps_mm[17]
    result = distance_point_structure(organs, vertex, "tumour")
    assert result.value == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(result.points_lps_mm[1], vertex)


def test_separate_spheres_are_centre_distance_minus_radii(organs):
    result = distance_structure_structure(organs, "tumour", "portal_vein")
    assert result.value == pytest.approx(40.0 - 10.0 - 5.0, abs=2 * FACET_MM)
    np.testing.assert_allclose(result.points_lps_mm, [(10, 0, 0), (35, 0, 0)], atol=0.3)
    assert np.linalg.norm(result.points_lps_mm[1] - result.points_lps_mm[0]) == pytest.approx(
        result.value)


def test_overlapping_spheres_are_at_zero(organs):
    result = distance_structure_structure(organs, "tumour", "cyst")  # 14 < 10 + 6
    assert result.value == 0.0
    assert "intersect" in result.note
    contact = result.points_lps_mm[0]
    assert np.linalg.norm(contact) == pytest.approx(10.0, abs=0.1)
    assert np.linalg.norm(contact - (0, 14, 0)) == pytest.approx(6.0, abs=0.1)


def test_nested_structures_measure_the_gap_between_surfaces(organs):
    result = distance_structure_structure(organs, "tumour", "liver")
    assert result.value == pytest.approx(20.0, abs=2 * FACET_MM)
    assert result.note == "tumour lies inside liver: the distance is between their surfaces"
    reverse = distance_structure_structure(organs, "liver", "tumour")
    assert reverse.note == "tumour lies inside liver: the distance is between their surfaces"


def test_same_structure_twice_is_refused(organs):
    with pytest.raises(InputError, match="two different structures"):
        distance_structure_structure(organs, "liver", "liver")
    with pytest.raises(InputError, match="no structure 'spleen'"):
        distance_structure_structure(organs, "liver", "spleen")


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((1, 0, 0), (0, 1, 0), 90.0), ((1, 0, 0), (1, 1, 0), 45.0), ((1, 0, 0), (-3, 0, 0), 180.0),
    ((2, 0, 0), (5, 0, 0), 0.0), ((1, 0, 0), (-1, np.sqrt(3), 0), 120.0)])
def test_angle_at_the_vertex(a, b, expected):
    vertex = np.array([10.0, -5.0, 3.0])
    result = angle_deg(vertex + a, vertex, vertex + b)
    assert (result.value, result.unit) == (pytest.approx(expected, abs=1e-6), "deg")
    np.testing.assert_allclose(result.points_lps_mm[1], vertex)


def test_angle_needs_points_away_from_the_vertex():
    with pytest.raises(InputError, match="away from the vertex"):
        angle_deg((0, 0, 0), (0, 0, 0), (1, 0, 0))


def test_measure_dispatches_on_the_kind(organs):
    cases = [
        (Measurement("m1", "point_point", points_lps_mm=((0, 0, 0), (0, 3, 4))), 5.0),
        (Measurement("m2", "point_structure", points_lps_mm=((0, 0, 25),),
                     structures=("tumour",)), 15.0),
        (Measurement("m3", "structure_structure", structures=("tumour", "portal_vein")), 25.0),
        (Measurement("m4", "angle", points_lps_mm=((1, 0, 0), (0, 0, 0), (0, 0, 1))), 90.0),
    ]
    for measurement, expected in cases:
        assert measure(organs, measurement).value == pytest.approx(expected, abs=2 * FACET_MM)


def test_full_resolution_bvh_is_built_once_and_dropped_with_its_surface():
    ball = icosphere((0, 0, 0), 10.0, subdivisions=2)
    surface = SurfaceMesh(ball.vertices, ball.faces)
    first = FULL_BVH.get(surface)
    assert FULL_BVH.get(surface) is first
    entries = len(FULL_BVH)
    del surface
    gc.collect()
    assert len(FULL_BVH) == entries - 1
