"""Overlays on slices: label colours, mesh outlines and the crosshair, on oblique grids too."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
from scipy.spatial.transform import Rotation

from surgiplan.imaging import Volume
from surgiplan.render.overlays import (
    MeshCutter,
    crosshair_pixel,
    label_overlay,
    mesh_outline,
    pixel_to_lps,
)
from surgiplan.render.slices import Plane, extract_plane, slice_through

SHAPE = (12, 40, 44)  # slices, rows, columns


def _oblique_affine(spacing=(0.8, 0.8, 1.5), origin=(-20.0, 35.0, 110.0)) -> np.ndarray:
    rotation = Rotation.from_euler("xyz", [17.0, -11.0, 29.0], degrees=True).as_matrix()
    affine = np.eye(4)
    affine[:3, :3] = rotation * np.asarray(spacing)[None, :]
    affine[:3, 3] = origin
    return affine


def _volume(affine=None) -> Volume:
    affine = _oblique_affine() if affine is None else affine
    return Volume(np.zeros(SHAPE, dtype=np.int16), affine, "CT")


def _sphere(centre_lps, radius):
    sphere = pv.Sphere(radius=radius, center=centre_lps, theta_resolution=120,
                       phi_resolution=120)
    return np.asarray(sphere.points, dtype=float), sphere.faces.reshape(-1, 4)[:, 1:]


# ---- label overlay ----------------------------------------------------------------------------
def test_label_overlay_colours_the_voxels_where_extract_plane_shows_them():
    labels = np.zeros(SHAPE, dtype=np.uint16)
    labels[3, 5, 7] = 2
    labels[3, 6, 7] = 9  # no colour given: stays transparent
    colours = {2: (255, 0, 0), 4: (0, 0, 255)}
    last_k = SHAPE[0] - 1
    expected = {Plane.AXIAL: (3, 5, 7), Plane.CORONAL: (5, last_k - 3, 7),
                Plane.SAGITTAL: (7, last_k - 3, 5)}  # index, y, x
    volume = _volume()
    for plane, (index, y, x) in expected.items():
        rgba = label_overlay(labels, plane, index, colours, opacity=0.5)
        assert rgba.shape == extract_plane(volume, plane, index).values.shape + (4,)
        assert rgba.dtype == np.uint8 and rgba.flags.c_contiguous
        assert rgba[y, x].tolist() == [255, 0, 0, 128]
        assert np.count_nonzero(rgba[..., 3]) == 1  # background and label 9 transparent


def test_label_overlay_full_opacity_and_empty_colours():
    labels = np.zeros(SHAPE, dtype=np.uint16)
    labels[0, 0, 0] = 1
    assert label_overlay(labels, Plane.AXIAL, 0, {1: (1, 2, 3)}, 1.0)[0, 0].tolist() == [
        1, 2, 3, 255]
    assert not label_overlay(labels, Plane.AXIAL, 0, {}, 1.0).any()


# ---- mesh outlines ----------------------------------------------------------------------------
@pytest.mark.parametrize("affine", [np.diag([0.8, 0.8, 1.5, 1.0]), _oblique_affine()],
                         ids=["axis-aligned", "oblique"])
def test_sphere_outline_on_the_mid_axial_slice_is_a_circle_of_the_right_radius(affine):
    volume = _volume(affine)
    centre_ijk = np.array([21.0, 19.0, 6.0])  # on slice k = 6
    radius_mm = 10.0
    vertices, faces = _sphere(volume.ijk_to_lps([centre_ijk])[0], radius_mm)
    loops = mesh_outline(vertices, faces, volume, Plane.AXIAL, 6)
    assert len(loops) == 1
    loop = loops[0]
    assert len(loop) > 100
    np.testing.assert_allclose(loop[0], loop[-1])  # closed
    radius_px = np.linalg.norm(loop - centre_ijk[:2], axis=1)
    assert np.all(np.abs(radius_px - radius_mm / 0.8) < 0.5)  # within half a voxel
    assert np.all(np.abs(radius_px - radius_mm / 0.8) < 0.05)  # in fact much closer


def test_outline_off_centre_and_on_sagittal_slices_has_the_chord_radius_in_mm():
    volume = _volume()
    centre_ijk = np.array([21.0, 19.0, 6.0])
    radius_mm = 7.0
    vertices, faces = _sphere(volume.ijk_to_lps([centre_ijk])[0], radius_mm)
    # axial slice 2 slices (3 mm) away from the centre: radius sqrt(49 - 9) mm
    loop = mesh_outline(vertices, faces, volume, Plane.AXIAL, 8)[0]
    radius_px = np.linalg.norm(loop - centre_ijk[:2], axis=1)
    np.testing.assert_allclose(radius_px * 0.8, np.sqrt(49.0 - 9.0), atol=0.05)
    # sagittal slice i = 21: an ellipse in pixels (0.8 mm wide, 1.5 mm tall), a circle in mm
    loop = mesh_outline(vertices, faces, volume, Plane.SAGITTAL, 21)[0]
    centre_px = np.array([19.0, SHAPE[0] - 1 - 6.0])
    offsets_mm = (loop - centre_px) * np.array([0.8, 1.5])
    np.testing.assert_allclose(np.linalg.norm(offsets_mm, axis=1), radius_mm, atol=0.05)


def test_outline_is_empty_away_from_the_mesh_and_the_cutter_reuses_its_geometry():
    volume = _volume()
    vertices, faces = _sphere(volume.ijk_to_lps([[21.0, 19.0, 6.0]])[0], 4.0)
    assert mesh_outline(vertices, faces, volume, Plane.AXIAL, 0) == []
    cutter = MeshCutter(vertices, faces, volume, Plane.CORONAL)
    first = cutter.cut(19)
    assert len(first) == 1
    assert cutter.cut(0) == []
    np.testing.assert_allclose(cutter.cut(19)[0], first[0])


# ---- crosshair --------------------------------------------------------------------------------
def test_crosshair_pixel_is_the_voxel_position_on_each_plane_of_an_oblique_grid():
    volume = _volume()
    ijk = np.array([3.2, 4.7, 5.1])
    point = volume.ijk_to_lps([ijk])[0]
    last_k = SHAPE[0] - 1
    assert crosshair_pixel(volume, Plane.AXIAL, point) == pytest.approx((3.2, 4.7))
    assert crosshair_pixel(volume, Plane.CORONAL, point) == pytest.approx((3.2, last_k - 5.1))
    assert crosshair_pixel(volume, Plane.SAGITTAL, point) == pytest.approx((4.7, last_k - 5.1))
    assert slice_through(volume, Plane.AXIAL, point) == 5
    assert slice_through(volume, Plane.CORONAL, point) == 5
    assert slice_through(volume, Plane.SAGITTAL, point) == 3


def test_crosshair_round_trip_on_an_oblique_affine():
    volume = _volume()
    rng = np.random.default_rng(3)
    for ijk in rng.uniform([0, 0, 0], [43, 39, 11], size=(20, 3)):
        point = volume.ijk_to_lps([ijk])[0]
        for plane in Plane:
            x, y = crosshair_pixel(volume, plane, point)
            depth = ijk[2 - plane.value]
            np.testing.assert_allclose(pixel_to_lps(volume, plane, depth, x, y), point,
                                       atol=1e-9)
            # on the displayed (integer) slice the point moves only along the slice axis
            index = slice_through(volume, plane, point)
            on_slice = pixel_to_lps(volume, plane, index, x, y)
            axis = volume.affine_lps[:3, 2 - plane.value]
            np.testing.assert_allclose(on_slice - point, (index - depth) * axis, atol=1e-9)
