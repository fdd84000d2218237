"""Mass properties against closed-form answers."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.properties import mass_properties


def test_cube_far_from_the_origin():
    box = trimesh.creation.box(extents=(10.0, 20.0, 30.0))
    box.apply_translation((120.0, -45.0, -800.0))
    properties = mass_properties(SurfaceMesh(box.vertices, box.faces))
    assert properties.volume_ml == pytest.approx(6.0, rel=1e-12)  # 6000 mm3
    assert properties.surface_area_cm2 == pytest.approx(22.0, rel=1e-12)  # 2200 mm2
    np.testing.assert_allclose(properties.centroid_lps_mm, (120.0, -45.0, -800.0), atol=1e-9)


def test_unit_cube():
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    box.apply_translation((0.5, 0.5, 0.5))
    properties = mass_properties(SurfaceMesh(box.vertices, box.faces))
    assert properties.volume_ml == pytest.approx(0.001)
    assert properties.surface_area_cm2 == pytest.approx(0.06)
    np.testing.assert_allclose(properties.centroid_lps_mm, (0.5, 0.5, 0.5), atol=1e-12)


def test_icosahedron_closed_form():
    radius = 10.0
    ico = trimesh.creation.icosphere(subdivisions=0, radius=radius)
    edge = 4.0 * radius / np.sqrt(10.0 + 2.0 * np.sqrt(5.0))
    properties = mass_properties(SurfaceMesh(ico.vertices, ico.faces))
    assert properties.volume_ml * 1000 == pytest.approx(5 / 12 * (3 + np.sqrt(5)) * edge**3,
                                                        rel=1e-12)
    assert properties.surface_area_cm2 * 100 == pytest.approx(5 * np.sqrt(3) * edge**2,
                                                              rel=1e-12)
    np.testing.assert_allclose(properties.centroid_lps_mm, 0.0, atol=1e-12)


def test_fine_icosphere_approaches_the_sphere():
    ico = trimesh.creation.icosphere(subdivisions=5, radius=12.0)
    properties = mass_properties(SurfaceMesh(ico.vertices, ico.faces))
    assert properties.volume_ml == pytest.approx(4 / 3 * np.pi * 12**3 / 1000, rel=1e-3)
    assert properties.surface_area_cm2 == pytest.approx(4 * np.pi * 144 / 100, rel=1e-3)
    assert properties.volume_ml == pytest.approx(ico.volume / 1000, rel=1e-12)


def test_inverted_mesh_has_negative_volume():
    ico = trimesh.creation.icosphere(subdivisions=2, radius=5.0)
    properties = mass_properties(SurfaceMesh(ico.vertices, ico.faces[:, ::-1]))
    assert properties.volume_ml == pytest.approx(-ico.volume / 1000)


def test_empty_mesh_is_refused():
    with pytest.raises(InputError, match="no triangles"):
        mass_properties(SurfaceMesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int)))
